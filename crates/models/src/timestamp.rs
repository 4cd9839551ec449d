//! Timestamps: parsing what agents and services send (ISO 8601, epoch seconds, HTTP dates)
//! and the formats botocore writes.

use serde_json::{Number, Value};

use tollgate_core::time::{civil_from_days, days_from_civil};

use crate::encode::py_float;

/// A UTC instant with microsecond precision (as Python's `datetime`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timestamp {
    pub secs: i64,
    pub micros: u32,
}

/// The timestamp wire formats of the models (`timestampFormat`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TsFormat {
    Iso8601,
    UnixTimestamp,
    Rfc822,
}

impl TsFormat {
    pub fn from_trait(s: Option<&str>, default: TsFormat) -> TsFormat {
        match s.map(str::to_ascii_lowercase).as_deref() {
            Some("iso8601") => TsFormat::Iso8601,
            Some("unixtimestamp") => TsFormat::UnixTimestamp,
            Some("rfc822") => TsFormat::Rfc822,
            _ => default,
        }
    }
}

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, Python's datetime range.
const MIN_SECS: i64 = -62_135_596_800;
const MAX_SECS: i64 = 253_402_300_799;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

impl Timestamp {
    fn checked(secs: i64, micros: u32) -> Option<Timestamp> {
        (MIN_SECS..=MAX_SECS)
            .contains(&secs)
            .then_some(Timestamp { secs, micros })
    }

    /// Epoch seconds (fractions kept to the microsecond).
    pub fn from_epoch(f: f64) -> Option<Timestamp> {
        if !f.is_finite() {
            return None;
        }
        let total = (f * 1e6).round();
        if total.abs() > 1e18 {
            return None;
        }
        let total = total as i64;
        Timestamp::checked(
            total.div_euclid(1_000_000),
            total.rem_euclid(1_000_000) as u32,
        )
    }

    pub fn from_number(n: &Number) -> Option<Timestamp> {
        if let Some(i) = n.as_i64() {
            return Timestamp::checked(i, 0);
        }
        n.as_f64().and_then(Timestamp::from_epoch)
    }

    /// A JSON input value: epoch seconds as a number or a numeric string, an ISO 8601 string or
    /// an HTTP date.
    pub fn from_value(v: &Value) -> Option<Timestamp> {
        match v {
            Value::Number(n) => Timestamp::from_number(n),
            Value::String(s) => Timestamp::parse(s),
            _ => None,
        }
    }

    /// Parses a timestamp string the way botocore's `parse_timestamp` does for the forms AWS
    /// uses: epoch seconds, ISO 8601 / RFC 3339 (date, or date and time with optional fraction
    /// and offset; no offset means UTC) and RFC 7231 HTTP dates.
    pub fn parse(s: &str) -> Option<Timestamp> {
        let s = s.trim();
        if s.is_empty() {
            return None;
        }
        if s.bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
            && s.bytes().any(|b| b.is_ascii_digit())
            && let Ok(f) = s.parse::<f64>()
        {
            return Timestamp::from_epoch(f);
        }
        parse_iso(s).or_else(|| parse_http_date(s))
    }

    fn parts(&self) -> (i64, i64, i64, i64, i64, i64) {
        let days = self.secs.div_euclid(86_400);
        let sod = self.secs.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        (y, m, d, sod / 3600, (sod % 3600) / 60, sod % 60)
    }

    fn base(&self) -> String {
        let (y, mo, d, h, mi, s) = self.parts();
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")
    }

    /// botocore's ISO 8601 wire form: `2024-01-02T03:04:05Z`, or `.ffffffZ` with microseconds.
    pub fn iso8601(&self) -> String {
        if self.micros > 0 {
            format!("{}.{:06}Z", self.base(), self.micros)
        } else {
            format!("{}Z", self.base())
        }
    }

    /// Python's `datetime.isoformat()` of an aware UTC datetime, the form boto3 results are
    /// rendered in: `2024-01-02T03:04:05+00:00` or `2024-01-02T03:04:05.123000+00:00`.
    pub fn python_iso(&self) -> String {
        if self.micros > 0 {
            format!("{}.{:06}+00:00", self.base(), self.micros)
        } else {
            format!("{}+00:00", self.base())
        }
    }

    /// RFC 822 / HTTP date (whole seconds): `Tue, 02 Jan 2024 03:04:05 GMT`.
    pub fn rfc822(&self) -> String {
        let (y, mo, d, h, mi, s) = self.parts();
        let wd = (self.secs.div_euclid(86_400) + 4).rem_euclid(7) as usize;
        format!(
            "{}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} GMT",
            DAYS[wd],
            MONTHS[(mo - 1).clamp(0, 11) as usize]
        )
    }

    /// Epoch seconds as a JSON number: an integer, or a float with the microseconds.
    pub fn unix_value(&self) -> Value {
        if self.micros == 0 {
            Value::from(self.secs)
        } else {
            Number::from_f64((self.secs as f64 * 1e6 + self.micros as f64) / 1e6)
                .map(Value::Number)
                .unwrap_or_else(|| Value::from(self.secs))
        }
    }

    /// Epoch seconds as Python's `str()` prints them.
    pub fn unix_string(&self) -> String {
        if self.micros == 0 {
            self.secs.to_string()
        } else {
            py_float((self.secs as f64 * 1e6 + self.micros as f64) / 1e6)
        }
    }

    /// The whole-second instant.
    pub fn truncated(&self) -> Timestamp {
        Timestamp {
            secs: self.secs,
            micros: 0,
        }
    }

    pub fn format(&self, f: TsFormat) -> String {
        match f {
            TsFormat::Iso8601 => self.iso8601(),
            TsFormat::UnixTimestamp => self.unix_string(),
            TsFormat::Rfc822 => self.rfc822(),
        }
    }
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<i64> {
        let end = self.i.checked_add(n)?;
        let slice = self.b.get(self.i..end)?;
        if !slice.iter().all(u8::is_ascii_digit) {
            return None;
        }
        self.i = end;
        Some(slice.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
}

fn build(
    (y, mo, d): (i64, i64, i64),
    (h, mi, s): (i64, i64, i64),
    micros: u32,
    off: i64,
) -> Option<Timestamp> {
    if !(1..=9999).contains(&y)
        || !(1..=12).contains(&mo)
        || d < 1
        || d > days_in_month(y, mo)
        || !(0..=23).contains(&h)
        || !(0..=59).contains(&mi)
        || !(0..=59).contains(&s)
    {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - off;
    Timestamp::checked(secs, micros)
}

fn parse_iso(s: &str) -> Option<Timestamp> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let y = c.digits(4)?;
    let dashed = c.eat(b'-');
    let mo = c.digits(2)?;
    if dashed && !c.eat(b'-') {
        return None;
    }
    let d = c.digits(2)?;
    if c.done() {
        return build((y, mo, d), (0, 0, 0), 0, 0);
    }
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let h = c.digits(2)?;
    let colon = c.eat(b':');
    let mi = c.digits(2)?;
    let mut sec = 0;
    let mut micros = 0u32;
    if (colon && c.eat(b':')) || (!colon && c.peek().is_some_and(|b| b.is_ascii_digit())) {
        sec = c.digits(2)?;
        if c.eat(b'.') || c.eat(b',') {
            let start = c.i;
            while c.peek().is_some_and(|b| b.is_ascii_digit()) {
                c.i += 1;
            }
            let frac = &s[start..c.i];
            if frac.is_empty() {
                return None;
            }
            let mut digits: String = frac.chars().take(6).collect();
            while digits.len() < 6 {
                digits.push('0');
            }
            micros = digits.parse().ok()?;
        }
    }
    let mut off = 0;
    if c.eat(b'Z') || c.eat(b'z') {
    } else if let Some(sign @ (b'+' | b'-')) = c.peek() {
        c.i += 1;
        let oh = c.digits(2)?;
        c.eat(b':');
        let om = if c.done() { 0 } else { c.digits(2)? };
        off = (oh * 3600 + om * 60) * if sign == b'-' { -1 } else { 1 };
    }
    if !c.done() {
        return None;
    }
    build((y, mo, d), (h, mi, sec), micros, off)
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (also without the weekday, and with `UTC`/`+0000`).
fn parse_http_date(s: &str) -> Option<Timestamp> {
    let rest = match s.split_once(',') {
        Some((_, r)) => r,
        None => s,
    };
    let parts: Vec<&str> = rest.split_whitespace().collect();
    if parts.len() < 4 {
        return None;
    }
    let d: i64 = parts[0].parse().ok()?;
    let mo = MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(parts[1]))? as i64
        + 1;
    let y: i64 = parts[2].parse().ok()?;
    let hms: Vec<&str> = parts[3].split(':').collect();
    if hms.len() != 3 {
        return None;
    }
    let h: i64 = hms[0].parse().ok()?;
    let mi: i64 = hms[1].parse().ok()?;
    let sec: i64 = hms[2].parse().ok()?;
    match parts.get(4) {
        None => {}
        Some(z) if ["GMT", "UTC", "Z", "+0000", "-0000"].contains(z) => {}
        Some(_) => return None,
    }
    if parts.len() > 5 {
        return None;
    }
    build((y, mo, d), (h, mi, sec), 0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        let t = Timestamp::parse("2024-02-29T13:14:15Z").unwrap();
        assert_eq!(t.iso8601(), "2024-02-29T13:14:15Z");
        assert_eq!(t.python_iso(), "2024-02-29T13:14:15+00:00");
        assert_eq!(t.rfc822(), "Thu, 29 Feb 2024 13:14:15 GMT");
        assert_eq!(t.unix_string(), "1709212455");
        let t = Timestamp::parse("2024-02-29T13:14:15.5+01:00").unwrap();
        assert_eq!(t.iso8601(), "2024-02-29T12:14:15.500000Z");
        assert_eq!(t.unix_string(), "1709208855.5");
        assert_eq!(
            Timestamp::parse("Thu, 29 Feb 2024 13:14:15 GMT"),
            Timestamp::parse("2024-02-29T13:14:15Z")
        );
        assert_eq!(
            Timestamp::parse("1709212455"),
            Timestamp::parse("2024-02-29 13:14:15")
        );
        assert_eq!(Timestamp::parse("2024-01-01").unwrap().secs, 1_704_067_200);
        assert_eq!(
            Timestamp::parse("2009-10-12T17:50:30.000Z").unwrap().micros,
            0
        );
        assert_eq!(
            Timestamp::from_epoch(1.5).unwrap().python_iso(),
            "1970-01-01T00:00:01.500000+00:00"
        );
        assert_eq!(Timestamp::parse("1969-12-31T23:59:59Z").unwrap().secs, -1);
        for bad in [
            "",
            "2024-02-30",
            "2024-13-01T00:00:00Z",
            "yesterday",
            "2024-01-01T25:00:00Z",
            "nan",
            "inf",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }
}
