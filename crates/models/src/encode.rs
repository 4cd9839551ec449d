//! Small encoders matching what botocore (Python) writes: number formatting, percent
//! encodings, base64, checksums and idempotency tokens.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Number, Value};

/// Python's `urllib.parse.quote(s, safe='-_.~')` (botocore's `percent_encode`).
const SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');
/// Greedy URI labels: `quote(s, safe='/~')`.
const GREEDY: &AsciiSet = &SAFE.remove(b'/');

pub(crate) fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, SAFE).to_string()
}

pub(crate) fn percent_encode_greedy(s: &str) -> String {
    utf8_percent_encode(s, GREEDY).to_string()
}

/// `application/x-www-form-urlencoded` as Python's `urlencode` writes it (`quote_plus`).
pub(crate) fn form_urlencode(pairs: &[(String, String)]) -> String {
    fn enc(s: &str, out: &mut String) {
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    out.push(b as char)
                }
                b' ' => out.push('+'),
                _ => {
                    out.push('%');
                    out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
                    out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
                }
            }
        }
    }
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        enc(k, &mut out);
        out.push('=');
        enc(v, &mut out);
    }
    out
}

/// Python's `repr(float)`: the shortest round-trip digits, `1.0` for integral values,
/// exponent form below 1e-4 and from 1e16.
pub(crate) fn py_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0" } else { "0.0" }.into();
    }
    let sci = format!("{f:e}");
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let sign = if neg { "-" } else { "" };
    if (-4..16).contains(&exp) {
        let n = digits.len() as i32;
        let body = if exp >= 0 {
            let int_len = (exp + 1) as usize;
            if n <= exp + 1 {
                format!("{digits}{}.0", "0".repeat(int_len - digits.len()))
            } else {
                format!("{}.{}", &digits[..int_len], &digits[int_len..])
            }
        } else {
            format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
        };
        format!("{sign}{body}")
    } else {
        let m = mant.trim_start_matches('-');
        let esign = if exp < 0 { '-' } else { '+' };
        format!("{sign}{m}e{esign}{:02}", exp.abs())
    }
}

/// Python's `str()` of a JSON number: integers as integers, floats as `repr`.
pub(crate) fn py_number(n: &Number) -> String {
    if n.is_i64() || n.is_u64() {
        n.to_string()
    } else {
        n.as_f64().map(py_float).unwrap_or_else(|| n.to_string())
    }
}

/// Python's `str()` of a scalar JSON value (booleans lowercase as botocore writes them).
pub(crate) fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(py_number(n)),
        Value::Bool(b) => Some(if *b { "true" } else { "false" }.into()),
        _ => None,
    }
}

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes standard base64 (padding optional, ASCII whitespace ignored).
pub(crate) fn b64_decode(s: &str) -> Option<Vec<u8>> {
    if s.bytes().any(|b| b.is_ascii_whitespace()) {
        let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
        return LENIENT.decode(compact).ok();
    }
    LENIENT.decode(s).ok()
}

pub(crate) fn b64_encode(b: &[u8]) -> String {
    STANDARD.encode(b)
}

/// JSON as Python's `json.dumps(v, separators=(',', ':'))` writes it (non-ASCII escaped).
pub(crate) fn json_ascii(v: &Value) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

pub(crate) fn crc32(data: &[u8]) -> u32 {
    let mut c = flate2::Crc::new();
    c.update(data);
    c.sum()
}

const fn crc32c_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                0x82F6_3B78 ^ (c >> 1)
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC32C: [u32; 256] = crc32c_table();

pub(crate) fn crc32c(data: &[u8]) -> u32 {
    let mut c = !0u32;
    for &b in data {
        c = CRC32C[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

fn random_u64() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    h.finish()
}

/// A random (version 4) UUID, as botocore fills idempotency tokens.
pub(crate) fn uuid4() -> String {
    let a = random_u64();
    let b = random_u64();
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_be_bytes());
    bytes[8..].copy_from_slice(&b.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_float_repr() {
        for (f, s) in [
            (1.0, "1.0"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (100.0, "100.0"),
            (123456.789, "123456.789"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (1e15, "1000000000000000.0"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (-2.5e-7, "-2.5e-07"),
            (-3.25, "-3.25"),
            (0.0, "0.0"),
        ] {
            assert_eq!(py_float(f), s);
        }
    }

    #[test]
    fn encodings() {
        assert_eq!(percent_encode("a b/c~d"), "a%20b%2Fc~d");
        assert_eq!(percent_encode_greedy("a b/c~d+é"), "a%20b/c~d%2B%C3%A9");
        assert_eq!(
            form_urlencode(&[("A.1".into(), "x y/z*".into())]),
            "A.1=x+y%2Fz%2A"
        );
        assert_eq!(crc32(b"hello"), 0x3610_a686);
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(
            json_ascii(&serde_json::json!({"a": "é😀"})),
            r#"{"a":"\u00e9\ud83d\ude00"}"#
        );
        let u = uuid4();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert_ne!(uuid4(), u);
        assert_eq!(b64_decode("aGk").unwrap(), b"hi");
        assert_eq!(b64_decode("aGk=").unwrap(), b"hi");
        assert!(b64_decode("a*b").is_none());
    }
}
