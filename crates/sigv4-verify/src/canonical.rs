//! SigV4's canonical request, built from the request as the client sent it: the raw path and
//! query bytes, never a parsed or normalised URI.

use crate::error::{ErrorKind, VerifyError, shown};
use crate::request::Request;

/// How the canonical URI is made from the path on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriRule {
    /// Every service but S3: remove dot segments and empty segments (`//`), then
    /// percent-encode the result again, so a `%2F` on the wire is `%252F` in the canonical
    /// URI (botocore `SigV4Auth`, the JS signer's `uriEscapePath`, the Rust signer's
    /// `PercentEncodingMode::Double` with normalisation).
    NormalizeAndEncode,
    /// Encode again without normalising (the AWS test suite's unnormalised cases; no SDK
    /// does this for a real service).
    EncodeOnly,
    /// S3: the path exactly as sent (`S3SigV4Auth`, `uriEscapePath: false`,
    /// `PercentEncodingMode::Single` without normalisation).
    AsSent,
}

/// Whether a signing name gets S3's rules: the path as sent, `x-amz-content-sha256`
/// required, and the unsigned and streaming payload modes. `s3` covers S3 and S3 Control
/// (whose signing name is also `s3`); the other two are S3's own endpoints.
pub fn uses_s3_rules(signing_name: &str) -> bool {
    matches!(signing_name, "s3" | "s3-object-lambda" | "s3-outposts")
}

/// The URI rule for a signing name.
pub fn uri_rule_for(signing_name: &str) -> UriRule {
    if uses_s3_rules(signing_name) {
        UriRule::AsSent
    } else {
        UriRule::NormalizeAndEncode
    }
}

/// SigV4's unreserved characters, the only bytes `UriEncode` leaves alone.
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

fn push_encoded(out: &mut Vec<u8>, b: u8) {
    if is_unreserved(b) {
        out.push(b);
    } else {
        out.extend_from_slice(&[
            b'%',
            HEX_UPPER[usize::from(b >> 4)],
            HEX_UPPER[usize::from(b & 15)],
        ]);
    }
}

/// `UriEncode` of every byte, keeping `/` when `keep_slash` (the path's rule).
fn encode_into(out: &mut Vec<u8>, input: &[u8], keep_slash: bool) {
    for &b in input {
        if keep_slash && b == b'/' {
            out.push(b);
        } else {
            push_encoded(out, b);
        }
    }
}

/// RFC 3986 §5.2.4 dot-segment removal plus AWS's removal of empty segments, exactly as
/// botocore's `remove_dot_segments` (and the JS and Rust signers) do it.
fn normalize_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len());
    if path.starts_with('/') {
        out.push('/');
    }
    out.push_str(&segments.join("/"));
    if path.ends_with('/') && !segments.is_empty() {
        out.push('/');
    }
    out
}

/// The canonical URI of a raw request path under a rule.
pub fn canonical_uri(raw_path: &str, rule: UriRule) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw_path.len() + 8);
    match rule {
        UriRule::AsSent => out.extend_from_slice(raw_path.as_bytes()),
        UriRule::EncodeOnly => encode_into(&mut out, raw_path.as_bytes(), true),
        UriRule::NormalizeAndEncode => {
            encode_into(&mut out, normalize_path(raw_path).as_bytes(), true)
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Walks a raw query component, handing each byte it stands for to `byte`: `%XX` decoded,
/// anything else as is (`+` stays `+`). A `%` not followed by two hex digits is refused: no
/// client sends one, and guessing its meaning would let two different query strings share a
/// signature.
fn decode_each(raw: &[u8], mut byte: impl FnMut(u8)) -> Result<(), VerifyError> {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] != b'%' {
            byte(raw[i]);
            i += 1;
            continue;
        }
        let hi = raw.get(i + 1).copied().and_then(hex_value);
        let lo = raw.get(i + 2).copied().and_then(hex_value);
        let (Some(hi), Some(lo)) = (hi, lo) else {
            return Err(VerifyError::new(
                ErrorKind::MalformedQuery,
                format!(
                    "query: `{}` has a `%` without two hex digits; percent-encode the query string",
                    shown(raw)
                ),
            ));
        };
        byte(hi << 4 | lo);
        i += 3;
    }
    Ok(())
}

/// Re-encodes one raw query key or value by SigV4's rule: each `%XX` is decoded and every
/// byte encoded again (so `%7e` becomes `~` and `%2b` becomes `%2B`), and a literal byte that
/// is not unreserved is encoded (so `+` is `%2B`, never a space).
pub(crate) fn canonical_query_component(raw: &[u8], out: &mut Vec<u8>) -> Result<(), VerifyError> {
    decode_each(raw, |b| push_encoded(out, b))
}

/// Percent-decodes a raw query component (for reading `X-Amz-*` parameters). `+` stays `+`.
pub(crate) fn decode_query_component(raw: &str) -> Result<String, VerifyError> {
    let mut out = Vec::with_capacity(raw.len());
    decode_each(raw.as_bytes(), |b| out.push(b))?;
    String::from_utf8(out).map_err(|_| {
        VerifyError::new(
            ErrorKind::MalformedQuery,
            format!("query: `{}` is not UTF-8 once decoded", shown(raw)),
        )
    })
}

/// The raw `key=value` pieces of a query string, empty pieces (`a&&b`) skipped, with the key
/// and value still encoded.
pub(crate) fn query_pairs(raw_query: &str) -> impl Iterator<Item = (&str, &str)> {
    raw_query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
}

/// The canonical query string: every pair re-encoded, sorted by encoded key then encoded
/// value, joined with `&`; `X-Amz-Signature` left out when `presigned`.
pub fn canonical_query(raw_query: &str, presigned: bool) -> Result<Vec<u8>, VerifyError> {
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for (k, v) in query_pairs(raw_query) {
        let mut key = Vec::with_capacity(k.len());
        canonical_query_component(k.as_bytes(), &mut key)?;
        if presigned && key == b"X-Amz-Signature" {
            continue;
        }
        let mut value = Vec::with_capacity(v.len());
        canonical_query_component(v.as_bytes(), &mut value)?;
        pairs.push((key, value));
    }
    pairs.sort_unstable();
    let mut out = Vec::with_capacity(raw_query.len() + 16);
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(k);
        out.push(b'=');
        out.extend_from_slice(v);
    }
    Ok(out)
}

/// SigV4's `Trimall` as AWS applies it: leading and trailing spaces removed and runs of
/// spaces made one. Only the space character: AWS (S3 in particular) leaves tabs alone.
fn push_trimmed(out: &mut Vec<u8>, value: &[u8]) {
    let start = value.iter().position(|&b| b != b' ');
    let Some(start) = start else { return };
    let end = value
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |e| e + 1);
    let mut prev_space = false;
    for &b in &value[start..end] {
        if b == b' ' {
            if !prev_space {
                out.push(b);
            }
            prev_space = true;
        } else {
            out.push(b);
            prev_space = false;
        }
    }
}

/// The canonical header block (each `name:value\n`) of the signed headers, in the order the
/// client listed them (already checked sorted and unique). Values of a repeated header are
/// joined with `,`. A signed `content-length` the request no longer carries is rebuilt from
/// the body length (intermediaries drop it); any other signed header that is absent is
/// refused by name.
pub(crate) fn canonical_headers(
    req: &Request<'_>,
    signed: &[&str],
    out: &mut Vec<u8>,
) -> Result<(), VerifyError> {
    for name in signed {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut found = false;
        for value in req.header_values(name) {
            if found {
                out.push(b',');
            }
            push_trimmed(out, value);
            found = true;
        }
        if !found {
            if *name == "content-length" {
                out.extend_from_slice(req.body.len().to_string().as_bytes());
            } else {
                return Err(VerifyError::new(
                    ErrorKind::SignatureDoesNotMatch,
                    format!(
                        "signedheaders: `{}` is signed but the request does not carry it; send every header you sign",
                        shown(name)
                    ),
                ));
            }
        }
        out.push(b'\n');
    }
    Ok(())
}

/// The whole canonical request.
pub(crate) struct CanonicalParts<'a> {
    pub method: &'a str,
    pub uri: &'a [u8],
    pub query: &'a [u8],
    pub signed_headers: &'a [&'a str],
    pub signed_headers_raw: &'a str,
    pub payload_hash: &'a str,
}

pub(crate) fn canonical_request(
    req: &Request<'_>,
    parts: &CanonicalParts<'_>,
) -> Result<Vec<u8>, VerifyError> {
    let mut out = Vec::with_capacity(
        parts.method.len()
            + parts.uri.len()
            + parts.query.len()
            + 64 * parts.signed_headers.len()
            + 160,
    );
    out.extend_from_slice(parts.method.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(parts.uri);
    out.push(b'\n');
    out.extend_from_slice(parts.query);
    out.push(b'\n');
    canonical_headers(req, parts.signed_headers, &mut out)?;
    out.push(b'\n');
    out.extend_from_slice(parts.signed_headers_raw.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(parts.payload_hash.as_bytes());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(p: &str, rule: UriRule) -> String {
        String::from_utf8(canonical_uri(p, rule)).unwrap()
    }

    #[test]
    fn non_s3_paths_are_normalised_and_encoded_again() {
        let n = UriRule::NormalizeAndEncode;
        assert_eq!(uri("", n), "/");
        assert_eq!(uri("/", n), "/");
        assert_eq!(uri("//example//", n), "/example/");
        assert_eq!(uri("/example/..", n), "/");
        assert_eq!(uri("/a/./b/../c", n), "/a/c");
        assert_eq!(uri("/a%2Fb", n), "/a%252Fb");
        assert_eq!(uri("/example space/", n), "/example%20space/");
        assert_eq!(uri("/-._~", n), "/-._~");
        assert_eq!(uri("/ሴ", n), "/%E1%88%B4");
        assert_eq!(uri("/aws//x", n), "/aws/x");
    }

    #[test]
    fn s3_paths_are_taken_as_sent() {
        let s = UriRule::AsSent;
        assert_eq!(uri("/b//a/../k%2F%20+", s), "/b//a/../k%2F%20+");
        assert_eq!(uri("", s), "/");
        assert_eq!(uri("//x", UriRule::EncodeOnly), "//x");
    }

    #[test]
    fn query_is_reencoded_and_sorted_from_the_raw_bytes() {
        let q = |raw: &str| String::from_utf8(canonical_query(raw, false).unwrap()).unwrap();
        assert_eq!(q(""), "");
        assert_eq!(q("b=2&a=1"), "a=1&b=2");
        assert_eq!(q("a=2&a=1"), "a=1&a=2");
        assert_eq!(q("a+b=c+d"), "a%2Bb=c%2Bd");
        assert_eq!(q("a%2bb=%7e%20"), "a%2Bb=~%20");
        assert_eq!(q("key"), "key=");
        assert_eq!(q("a=1&&b=2&"), "a=1&b=2");
        assert_eq!(q("x=a=b"), "x=a%3Db");
        assert_eq!(q("%E1%88%B4=1&A=2"), "%E1%88%B4=1&A=2");
        let p =
            String::from_utf8(canonical_query("X-Amz-Signature=ab&a=1", true).unwrap()).unwrap();
        assert_eq!(p, "a=1");
        for bad in ["a=%", "a=%4", "%zz=1", "a=%g0"] {
            let e = canonical_query(bad, false).unwrap_err();
            assert_eq!(e.kind, ErrorKind::MalformedQuery, "{bad}");
        }
    }

    #[test]
    fn trimall_collapses_spaces_only() {
        let t = |v: &[u8]| {
            let mut o = Vec::new();
            push_trimmed(&mut o, v);
            String::from_utf8(o).unwrap()
        };
        assert_eq!(t(b"  a   b  c "), "a b c");
        assert_eq!(t(b"   "), "");
        assert_eq!(t(b"a\tb"), "a\tb");
        assert_eq!(t(b"x"), "x");
    }
}
