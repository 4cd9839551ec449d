//! SigV4's timestamp, `YYYYMMDDTHHMMSSZ` (ISO 8601 basic, UTC), to and from Unix seconds,
//! on tollgate-core's calendar arithmetic: one fixed format needs no date crate.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tollgate_core::time::{civil_date, days_from_civil};

/// The time an `x-amz-date` stands for, or `None` unless it is exactly `YYYYMMDDTHHMMSSZ`
/// with a real calendar date and time.
pub fn parse(amz_date: &str) -> Option<SystemTime> {
    parse_amz_date(amz_date).map(system_time)
}

/// A time as an `x-amz-date` (whole seconds, UTC).
pub fn format(t: SystemTime) -> String {
    format_amz_date(unix_seconds(t))
}

/// Seconds since the Unix epoch of an `x-amz-date`, or `None` unless it is exactly
/// `YYYYMMDDTHHMMSSZ` with a real calendar date and time.
pub(crate) fn parse_amz_date(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + i64::from(c - b'0'))
        })
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Unix seconds of a `SystemTime` (negative before 1970).
pub(crate) fn unix_seconds(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

/// The `SystemTime` of Unix seconds (only called with parsed dates, so never before 1970
/// by more than the format allows).
pub(crate) fn system_time(secs: i64) -> SystemTime {
    if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_secs(secs.unsigned_abs())
    }
}

/// `x-amz-date` of Unix seconds (from 1970 on), for messages that show the server's clock.
pub(crate) fn format_amz_date(secs: i64) -> String {
    let secs = secs.max(0);
    let rem = secs % 86_400;
    let (y, m, d) = civil_date(secs.unsigned_abs());
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60
    )
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats_known_dates() {
        assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_amz_date("20150830T123600Z"), Some(1_440_938_160));
        assert_eq!(parse_amz_date("20240229T235959Z"), Some(1_709_251_199));
        assert_eq!(format_amz_date(1_440_938_160), "20150830T123600Z");
        assert_eq!(format_amz_date(1_709_251_199), "20240229T235959Z");
        for secs in [0, 951_782_400, 4_102_444_800, 1_234_567_890] {
            assert_eq!(parse_amz_date(&format_amz_date(secs)), Some(secs));
        }
    }

    #[test]
    fn refuses_anything_but_the_basic_format() {
        for bad in [
            "",
            "20150830T123600",
            "20150830 123600Z",
            "2015-08-30T12:36:00Z",
            "20150230T123600Z",
            "20230229T000000Z",
            "20151330T123600Z",
            "20150830T243600Z",
            "20150830T126000Z",
            "20150830T123660Z",
            "+0150830T123600Z",
            "20150830T12360٠Z",
        ] {
            assert_eq!(parse_amz_date(bad), None, "{bad}");
        }
    }
}
