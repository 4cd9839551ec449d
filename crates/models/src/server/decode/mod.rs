//! Decoding a call as a client sent it: finding the operation, then reading its input from the
//! places each protocol puts it. The readers mirror the writers in `crate::request`, one
//! module per protocol.

use std::borrow::Cow;

use serde_json::{Map, Number, Value};

use super::{DecodeError, DecodeErrorKind, DecodedRequest, WireRequest};
use crate::encode::{b64_decode, b64_encode};
use crate::model::{Protocol, Ref, ServiceModel, ShapeType};
use crate::timestamp::Timestamp;

mod customize;
mod json;
mod query;
mod rest;
mod route;
mod xml;

pub(crate) use route::Routes;

/// Inputs nested deeper than this are refused (validation allows 64 levels).
const MAX_DEPTH: usize = 64;

pub(super) fn decode(
    model: &ServiceModel,
    req: &WireRequest<'_>,
) -> Result<DecodedRequest, DecodeError> {
    let headers = Headers(req.headers);
    let (operation, mut params) = match model.protocol() {
        Protocol::Json => json::decode(model, req, &headers)?,
        Protocol::Query | Protocol::Ec2 => query::decode(model, req, &headers)?,
        Protocol::RestJson | Protocol::RestXml => rest::decode(model, req, &headers)?,
    };
    customize::reverse(model, operation, &mut params)?;
    Ok(DecodedRequest {
        operation: operation.to_string(),
        params,
    })
}

/// The operation named by a target or an `Action`, refusing event streams.
fn operation<'m>(model: &'m ServiceModel, name: &str) -> Result<crate::Operation<'m>, DecodeError> {
    let op = model.operation(name).ok_or_else(|| {
        unknown_operation(format!(
            "{} has no operation `{}`",
            model.service_name(),
            shorten(name)
        ))
    })?;
    if op.has_event_stream() {
        return Err(DecodeError::new(
            DecodeErrorKind::Unsupported,
            "",
            format!(
                "{} uses an event stream, which the front door cannot carry",
                op.name()
            ),
        ));
    }
    Ok(op)
}

pub(super) fn unknown_operation(message: String) -> DecodeError {
    DecodeError::new(DecodeErrorKind::UnknownOperation, "", message)
}

pub(super) fn malformed(path: &str, message: impl Into<String>) -> DecodeError {
    DecodeError::new(DecodeErrorKind::Malformed, path, message)
}

pub(super) fn invalid(path: &str, message: impl Into<String>) -> DecodeError {
    DecodeError::new(DecodeErrorKind::Invalid, path, message)
}

/// A client's text in an error message: at most 64 characters.
pub(super) fn shorten(s: &str) -> Cow<'_, str> {
    match s.char_indices().nth(64) {
        Some((i, _)) => Cow::Owned(format!("{}...", &s[..i])),
        None => Cow::Borrowed(s),
    }
}

pub(super) fn wrong_type(r: Ref<'_>, got: &str, path: &str) -> DecodeError {
    invalid(path, format!("expected {}, got {got}", r.ty().describe()))
}

/// The request headers, looked up without regard to case; repeated headers are joined with
/// `,` as HTTP joins them.
#[derive(Clone, Copy)]
pub(super) struct Headers<'a>(&'a [(String, String)]);

impl<'a> Headers<'a> {
    pub fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        let mut found = self
            .0
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim_matches([' ', '\t']));
        let first = found.next()?;
        match found.next() {
            None => Some(Cow::Borrowed(first)),
            Some(second) => {
                let mut all = format!("{first},{second}");
                for v in found {
                    all.push(',');
                    all.push_str(v);
                }
                Some(Cow::Owned(all))
            }
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
    }

    /// Headers whose name starts with `prefix` (any case): (the rest of the name, value).
    pub fn with_prefix(&self, prefix: &str) -> Vec<(&'a str, &'a str)> {
        self.0
            .iter()
            .filter(|(k, _)| {
                k.len() > prefix.len()
                    && k.is_char_boundary(prefix.len())
                    && k[..prefix.len()].eq_ignore_ascii_case(prefix)
            })
            .map(|(k, v)| (&k[prefix.len()..], v.trim_matches([' ', '\t'])))
            .collect()
    }
}

/// Strict percent-decoding (`%` must start two hex digits) into UTF-8; `+` is a space in form
/// encoding and in query strings.
pub(super) fn percent_decode(s: &str, plus_is_space: bool) -> Option<String> {
    if !s.bytes().any(|b| b == b'%' || (plus_is_space && b == b'+')) {
        return Some(s.to_string());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                let hi = char::from(hex[0]).to_digit(16)?;
                let lo = char::from(hex[1]).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Query parameters SigV4 presigning adds; never members.
pub(super) fn is_presign_param(key: &str) -> bool {
    const PRESIGN: [&str; 7] = [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-SignedHeaders",
        "X-Amz-Signature",
        "X-Amz-Security-Token",
    ];
    PRESIGN.iter().any(|p| p.eq_ignore_ascii_case(key))
}

/// `a=1&b=x+y` into decoded pairs (`+` a space), in order.
pub(super) fn query_pairs(raw: &str) -> Result<Vec<(String, String)>, DecodeError> {
    let mut out = Vec::new();
    for piece in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let bad = || {
            malformed(
                "",
                format!(
                    "query parameter `{}` is not valid percent-encoded UTF-8",
                    shorten(k)
                ),
            )
        };
        let k = percent_decode(k, true).ok_or_else(bad)?;
        let v = percent_decode(v, true).ok_or_else(bad)?;
        out.push((k, v));
    }
    Ok(out)
}

/// A scalar member from text (query values, URI labels, query strings, headers, XML text), the
/// inverse of `request::scalar_text`: numbers and booleans parsed, timestamps and blobs made
/// canonical (ISO 8601 UTC, padded base64).
pub(super) fn scalar(r: Ref<'_>, text: &str, path: &str) -> Result<Value, DecodeError> {
    let got = || format!("`{}`", shorten(text));
    match r.ty() {
        ShapeType::String | ShapeType::Other => Ok(Value::String(text.to_string())),
        ShapeType::Integer | ShapeType::Long => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| wrong_type(r, &got(), path)),
        ShapeType::Float | ShapeType::Double => {
            number_text(text.trim()).ok_or_else(|| wrong_type(r, &got(), path))
        }
        ShapeType::Boolean => match text.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(wrong_type(r, &got(), path)),
        },
        ShapeType::Timestamp => Timestamp::parse(text)
            .map(|t| Value::String(t.iso8601()))
            .ok_or_else(|| invalid(path, format!("invalid timestamp {}", got()))),
        ShapeType::Blob => b64_decode(text.trim())
            .map(|b| Value::String(b64_encode(&b)))
            .ok_or_else(|| invalid(path, format!("invalid base64 {}", got()))),
        ShapeType::Structure | ShapeType::List | ShapeType::Map => Err(wrong_type(r, &got(), path)),
    }
}

/// A float's text as botocore writes it: an integer literal stays an integer (`3`), anything
/// else is a finite float (`3.0`, `1e+16`).
fn number_text(text: &str) -> Option<Value> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(Value::from(i));
    }
    // Rust also reads `inf` and `NaN`, which JSON cannot carry.
    let f = text.parse::<f64>().ok().filter(|f| f.is_finite())?;
    Number::from_f64(f).map(Value::Number)
}

/// The params path of a member.
pub(super) fn member_path(path: &str, name: &str) -> String {
    format!("{path}.{name}")
}

pub(super) type Params = Map<String, Value>;
