//! JSON output bodies (the `json` protocol and rest-json), the inverse of `response::json`:
//! member names to wire names, ISO 8601 timestamps to the member's format (epoch seconds by
//! default).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{MAX_DEPTH, header, request_id_header};
use crate::model::{Ref, ServiceModel, Shape, ShapeType};
use crate::server::{EncodeError, WireResponse};
use crate::timestamp::{Timestamp, TsFormat};

pub(super) fn encode(
    model: &ServiceModel,
    shape: Option<&Shape>,
    obj: &Map<String, Value>,
    request_id: &str,
) -> Result<WireResponse, EncodeError> {
    let body = match shape {
        Some(shape) => Value::Object(write_struct(model, shape, obj, false, "output", 0)?),
        None => Value::Object(Map::new()),
    };
    let version = model.metadata.json_version.as_deref().unwrap_or("1.0");
    Ok(WireResponse {
        status: 200,
        headers: vec![
            header("Content-Type", format!("application/x-amz-json-{version}")),
            request_id_header(model, request_id),
        ],
        body: serde_json::to_vec(&body).unwrap_or_default(),
    })
}

/// `skip_located`: rest-json bodies, whose header and status members are not in the body.
pub(super) fn write_struct(
    model: &ServiceModel,
    shape: &Shape,
    obj: &Map<String, Value>,
    skip_located: bool,
    path: &str,
    depth: usize,
) -> Result<Map<String, Value>, EncodeError> {
    if depth > MAX_DEPTH {
        return Err(too_deep(path));
    }
    let mut out = Map::new();
    for (name, mref) in &shape.members {
        if skip_located && mref.location.is_some() {
            continue;
        }
        let Some(v) = obj.get(name).filter(|v| !v.is_null()) else {
            continue;
        };
        let r = model.resolve(mref).map_err(|e| model_error(path, e.0))?;
        let wire = r.location_name().unwrap_or(name).to_string();
        out.insert(
            wire,
            write_value(model, r, v, &member_path(path, name, depth), depth + 1)?,
        );
    }
    Ok(out)
}

pub(super) fn write_value(
    model: &ServiceModel,
    r: Ref<'_>,
    v: &Value,
    path: &str,
    depth: usize,
) -> Result<Value, EncodeError> {
    if depth > MAX_DEPTH {
        return Err(too_deep(path));
    }
    Ok(match (r.ty(), v) {
        (ShapeType::Structure, _) if r.shape.document => v.clone(),
        (ShapeType::Structure, Value::Object(obj)) => {
            Value::Object(write_struct(model, r.shape, obj, false, path, depth)?)
        }
        (ShapeType::List, Value::Array(items)) => {
            let Some(mr) = r.shape.member.as_ref() else {
                return Err(model_error(path, "list without member".into()));
            };
            let mr = model.resolve(mr).map_err(|e| model_error(path, e.0))?;
            let mut out = Vec::with_capacity(items.len());
            for item in items {
                out.push(match item {
                    Value::Null => Value::Null,
                    _ => write_value(model, mr, item, path, depth + 1)?,
                });
            }
            Value::Array(out)
        }
        (ShapeType::Map, Value::Object(obj)) => {
            let Some(vr) = r.shape.value.as_ref() else {
                return Err(model_error(path, "map without value".into()));
            };
            let vr = model.resolve(vr).map_err(|e| model_error(path, e.0))?;
            let mut out = Map::new();
            for (k, item) in obj {
                out.insert(
                    k.clone(),
                    match item {
                        Value::Null => Value::Null,
                        _ => write_value(model, vr, item, path, depth + 1)?,
                    },
                );
            }
            Value::Object(out)
        }
        (ShapeType::Timestamp, _) => match Timestamp::from_value(v) {
            Some(t) => match TsFormat::from_trait(r.timestamp_format(), TsFormat::UnixTimestamp) {
                TsFormat::UnixTimestamp => t.unix_value(),
                f => Value::String(t.format(f)),
            },
            None => v.clone(),
        },
        _ => v.clone(),
    })
}

/// Errors name the top-level member (`output.Contents`): a full path would cost an allocation
/// per value for an error that only a broken model or a hundred levels of nesting can cause.
pub(super) fn member_path<'a>(path: &'a str, name: &str, depth: usize) -> Cow<'a, str> {
    if depth == 0 {
        Cow::Owned(format!("{path}.{name}"))
    } else {
        Cow::Borrowed(path)
    }
}

pub(super) fn too_deep(path: &str) -> EncodeError {
    EncodeError::Invalid {
        path: path.to_string(),
        message: "output nested too deeply".to_string(),
    }
}

pub(super) fn model_error(path: &str, message: String) -> EncodeError {
    EncodeError::Invalid {
        path: path.to_string(),
        message: format!("model error: {message}"),
    }
}
