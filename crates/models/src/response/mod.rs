//! Response parsing for the five protocols (botocore's `parsers.py`), one module per protocol:
//! output as JSON shaped like the output shape (timestamps as ISO 8601 strings, blobs base64),
//! errors as codes.

use std::fmt;

use serde_json::{Map, Number, Value};

use crate::model::{Protocol, Ref, ServiceModel, Shape, ShapeType};
use crate::timestamp::Timestamp;

pub(crate) mod customize;
mod error;
mod json;
mod query;
mod rest;
pub(crate) mod xml;

/// An error answered by AWS (or a response that could not be read: code `InvalidResponse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub code: String,
    pub message: String,
    pub status: u16,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for AwsError {}

/// Responses nested deeper than this are refused.
const MAX_DEPTH: usize = 100;

/// Case-insensitive response headers (the first spelling of each name is kept); repeated
/// headers are joined with `, `.
pub(crate) struct Headers(Vec<(String, String)>);

impl Headers {
    pub(crate) fn new(headers: &[(String, String)]) -> Headers {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in headers {
            match out.iter_mut().find(|(ek, _)| ek.eq_ignore_ascii_case(k)) {
                Some(slot) => {
                    slot.1.push_str(", ");
                    slot.1.push_str(v);
                }
                None => out.push((k.clone(), v.clone())),
            }
        }
        Headers(out)
    }
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn invalid_response(status: u16, message: impl Into<String>) -> AwsError {
    AwsError {
        code: "InvalidResponse".to_string(),
        message: message.into(),
        status,
    }
}

/// Reads the HTTP response of `operation` into JSON shaped like its output shape (as boto3
/// returns it, without `ResponseMetadata`), or the AWS error it carries (status >= 301, or an
/// S3 error document in a 200).
pub fn parse_response(
    model: &ServiceModel,
    operation: &str,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Value, AwsError> {
    let op = model.op_def(operation).ok_or_else(|| AwsError {
        code: "UnknownOperation".to_string(),
        message: format!("unknown operation {operation}"),
        status,
    })?;
    let headers = Headers::new(headers);
    if status >= 301 {
        return Err(error::parse_error(model, status, &headers, body));
    }
    let output = match op.output.as_deref() {
        Some(name) => Some(
            model
                .shape(name)
                .map_err(|e| invalid_response(status, format!("model error: {}", e.0)))?,
        ),
        None => None,
    };
    if model.is_s3() && status == 200 && output.is_some_and(|s| !has_raw_payload(model, s)) {
        let trimmed = body.trim_ascii();
        if !trimmed.is_empty() {
            match crate::xml::parse(trimmed) {
                Ok(root) if root.name == "Error" => {
                    let mut e = error::parse_error(model, 500, &headers, body);
                    e.status = 500;
                    return Err(e);
                }
                Err(e) => return Err(invalid_response(status, format!("invalid XML: {e}"))),
                Ok(_) => {}
            }
        }
    }
    let Some(shape) = output else {
        return Ok(Value::Object(Map::new()));
    };
    if model.is_s3() && operation == "GetBucketLocation" {
        let root = crate::xml::parse(body.trim_ascii())
            .map_err(|e| invalid_response(status, format!("invalid XML: {e}")))?;
        let mut out = Map::new();
        let loc = if root.text.is_empty() {
            Value::Null
        } else {
            Value::String(root.text)
        };
        out.insert("LocationConstraint".into(), loc);
        return Ok(Value::Object(out));
    }
    let out = match model.protocol() {
        Protocol::Json => {
            parse_json_body(body).and_then(|v| json::json_struct(model, shape, &v, false, 0))
        }
        Protocol::Query | Protocol::Ec2 => {
            query::parse(model, op.result_wrapper.as_deref(), shape, body)
        }
        Protocol::RestJson | Protocol::RestXml => rest::parse(model, shape, status, &headers, body),
    };
    let mut out = out.map_err(|e| invalid_response(status, e))?;
    customize::customize_output(model, operation, shape, &headers, &mut out);
    Ok(Value::Object(out))
}

fn has_raw_payload(model: &ServiceModel, shape: &Shape) -> bool {
    shape
        .payload
        .as_ref()
        .and_then(|p| shape.members.get(p))
        .and_then(|m| model.shapes.get(&m.shape))
        .is_some_and(|s| matches!(s.ty, ShapeType::Blob | ShapeType::String))
}

pub(crate) fn parse_json_body(body: &[u8]) -> Result<Value, String> {
    if body.trim_ascii().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))
}

/// A scalar from text (XML text, headers).
pub(crate) fn text_value(r: Ref<'_>, text: &str) -> Value {
    let fallback = || Value::String(text.to_string());
    match r.ty() {
        ShapeType::Integer | ShapeType::Long => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| fallback()),
        ShapeType::Float | ShapeType::Double => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(fallback),
        ShapeType::Boolean => Value::Bool(text.trim() == "true"),
        ShapeType::Timestamp => Timestamp::parse(text)
            .map(|t| Value::String(t.python_iso()))
            .unwrap_or_else(fallback),
        ShapeType::Blob => Value::String(text.trim().to_string()),
        _ => fallback(),
    }
}
