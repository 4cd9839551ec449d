//! AWS error responses: the code and message of each protocol's error shape.

use serde_json::{Map, Value};

use super::{AwsError, Headers};
use crate::model::{Protocol, ServiceModel};
use crate::xml;

fn reason(status: u16) -> &'static str {
    match status {
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        416 => "Requested Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

pub(super) fn parse_error(
    model: &ServiceModel,
    status: u16,
    headers: &Headers,
    body: &[u8],
) -> AwsError {
    let trimmed = body.trim_ascii();
    let generic = AwsError {
        code: status.to_string(),
        message: reason(status).to_string(),
        status,
    };
    if status >= 500 && (trimmed.is_empty() || trimmed.starts_with(b"<html>")) {
        return generic;
    }
    let (code, message) = match model.protocol() {
        Protocol::Json | Protocol::RestJson => json_error(model, status, headers, trimmed),
        Protocol::Query | Protocol::Ec2 | Protocol::RestXml => {
            if trimmed.is_empty() {
                return generic;
            }
            match xml::parse(trimmed) {
                Ok(root) => match root.find("Error") {
                    Some(e) => (
                        e.child("Code")
                            .map(|c| c.text.trim().to_string())
                            .unwrap_or_default(),
                        e.child("Message")
                            .map(|c| c.text.clone())
                            .unwrap_or_default(),
                    ),
                    None => (String::new(), String::new()),
                },
                Err(_) => return generic,
            }
        }
    };
    AwsError {
        code: if code.is_empty() {
            status.to_string()
        } else {
            code
        },
        message,
        status,
    }
}

fn clean_code(code: &str) -> String {
    let code = code.split(':').next().unwrap_or(code);
    code.rsplit('#').next().unwrap_or(code).trim().to_string()
}

fn json_error(
    model: &ServiceModel,
    status: u16,
    headers: &Headers,
    body: &[u8],
) -> (String, String) {
    let parsed: Value = if body.is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).unwrap_or_else(|_| {
            let mut m = Map::new();
            m.insert(
                "message".into(),
                Value::String(String::from_utf8_lossy(body).into_owned()),
            );
            Value::Object(m)
        })
    };
    let field = |k: &str| parsed.get(k).and_then(Value::as_str);
    let message = field("message")
        .or_else(|| field("Message"))
        .or_else(|| field("errorMessage"))
        .unwrap_or("")
        .to_string();
    let header_type = headers.get("x-amzn-errortype");
    let mut code = if model.protocol() == Protocol::RestJson {
        header_type
            .or_else(|| field("code"))
            .or_else(|| field("Code"))
            .or_else(|| field("__type"))
    } else {
        field("__type").or(header_type)
    }
    .map(clean_code)
    .unwrap_or_else(|| status.to_string());
    // awsQueryCompatible services send the query-era code as `Code;Sender`.
    if let Some(q) = headers.get("x-amzn-query-error")
        && let Some((qcode, _)) = q.split_once(';')
        && !qcode.is_empty()
    {
        code = qcode.to_string();
    }
    (code, message)
}
