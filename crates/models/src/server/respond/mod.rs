//! Encoding outputs and errors as each protocol's service sends them: the inverse of
//! `crate::response`, one module per protocol. Values that do not fit their shape (a masked
//! secret where a number or a blob belongs) are written as text rather than refused, as the
//! parser keeps them.

use serde_json::{Map, Value};

use super::{EncodeError, WireResponse};
use crate::model::{Protocol, ServiceModel};

mod customize;
pub(super) mod error;
mod json;
mod query;
mod rest;
mod xml;

/// Outputs nested deeper than this are refused (the parser stops at 100).
const MAX_DEPTH: usize = 100;

pub(super) fn encode(
    model: &ServiceModel,
    operation: &str,
    output: &Value,
    request_id: &str,
) -> Result<WireResponse, EncodeError> {
    let op = model
        .operation(operation)
        .ok_or_else(|| EncodeError::UnknownOperation(operation.to_string()))?;
    if op.has_event_stream() {
        return Err(EncodeError::Unsupported(format!(
            "{operation} answers with an event stream"
        )));
    }
    let empty = Map::new();
    let obj = match output {
        Value::Object(obj) => obj,
        Value::Null => &empty,
        _ => {
            return Err(EncodeError::Invalid {
                path: "output".to_string(),
                message: "expected an object".to_string(),
            });
        }
    };
    let shape = match op.def.output.as_deref() {
        Some(name) => Some(model.shape(name).map_err(|e| EncodeError::Invalid {
            path: "output".to_string(),
            message: format!("model error: {}", e.0),
        })?),
        None => None,
    };
    let obj = customize::prepare(model, operation, shape, obj);
    match model.protocol() {
        Protocol::Json => json::encode(model, shape, &obj, request_id),
        Protocol::Query => query::encode(model, op, shape, &obj, request_id),
        Protocol::Ec2 => query::encode_ec2(model, op, shape, &obj, request_id),
        Protocol::RestJson | Protocol::RestXml => rest::encode(model, op, shape, &obj, request_id),
    }
}

fn header(name: &str, value: impl Into<String>) -> (String, String) {
    (name.to_string(), value.into())
}

/// Where a request id goes in headers: S3's own header, `x-amzn-RequestId` elsewhere.
fn request_id_header(model: &ServiceModel, request_id: &str) -> (String, String) {
    if model.is_s3() {
        header("x-amz-request-id", request_id)
    } else {
        header("x-amzn-RequestId", request_id)
    }
}
