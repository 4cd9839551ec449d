//! The `json` protocol: the operation from `X-Amz-Target`, the input from a JSON body (the
//! inverse of `request::json`). The value reader is shared with rest-json bodies.

use serde_json::{Map, Value};

use super::{
    Headers, MAX_DEPTH, Params, invalid, malformed, member_path, operation, shorten,
    unknown_operation, wrong_type,
};
use crate::encode::{b64_decode, b64_encode};
use crate::model::{Ref, ServiceModel, Shape, ShapeType};
use crate::server::{DecodeError, WireRequest};
use crate::timestamp::Timestamp;
use crate::validate::json_type;

pub(super) fn decode<'m>(
    model: &'m ServiceModel,
    req: &WireRequest<'_>,
    headers: &Headers<'_>,
) -> Result<(&'m str, Params), DecodeError> {
    let target = headers
        .get("X-Amz-Target")
        .ok_or_else(|| unknown_operation("missing the `X-Amz-Target` header".to_string()))?;
    let prefix = model.metadata.target_prefix.as_deref().unwrap_or("");
    let name = target
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('.'))
        .filter(|_| !prefix.is_empty())
        .ok_or_else(|| {
            unknown_operation(format!(
                "`X-Amz-Target` `{}` is not a {} target (`{prefix}.Operation`)",
                shorten(&target),
                model.service_name()
            ))
        })?;
    let op = operation(model, name)?;
    if !req.method.eq_ignore_ascii_case("POST") {
        return Err(unknown_operation(format!(
            "{} is called with POST, not {}",
            op.name(),
            shorten(req.method)
        )));
    }
    let body = parse_body(req.body)?;
    let params = match op.def.input.as_deref() {
        Some(input) => {
            let shape = model.shape(input).map_err(|e| invalid("params", e.0))?;
            body_struct(model, shape, &body, false, "params")?
        }
        None => no_input(&body, "params")?,
    };
    Ok((op.name(), params))
}

/// The body of an operation without input: `{}` (or nothing).
pub(super) fn no_input(body: &Value, path: &str) -> Result<Params, DecodeError> {
    match body {
        Value::Object(obj) => match obj.keys().next() {
            Some(k) => Err(invalid(
                &member_path(path, k),
                format!(
                    "unknown member `{}`: the operation takes no input",
                    shorten(k)
                ),
            )),
            None => Ok(Map::new()),
        },
        other => Err(invalid(
            path,
            format!("expected an object, got {}", json_type(other)),
        )),
    }
}

/// A JSON body; empty means `{}`.
pub(super) fn parse_body(body: &[u8]) -> Result<Value, DecodeError> {
    if body.trim_ascii().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(|e| malformed("", format!("the body is not JSON: {e}")))
}

/// The members of `shape` from a body object; `skip_located`: rest-json, where members bound
/// to the URI, query string or headers are not in the body.
pub(super) fn body_struct(
    model: &ServiceModel,
    shape: &Shape,
    body: &Value,
    skip_located: bool,
    path: &str,
) -> Result<Params, DecodeError> {
    let Value::Object(obj) = body else {
        return Err(invalid(
            path,
            format!("expected an object, got {}", json_type(body)),
        ));
    };
    json_struct(model, shape, obj, skip_located, path, 0)
}

fn json_struct(
    model: &ServiceModel,
    shape: &Shape,
    obj: &Map<String, Value>,
    skip_located: bool,
    path: &str,
    depth: usize,
) -> Result<Params, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(invalid(path, "input nested too deeply"));
    }
    let mut out = Map::new();
    let mut seen = 0;
    for (name, mref) in &shape.members {
        if skip_located && mref.location.is_some() {
            continue;
        }
        let r = model.resolve(mref).map_err(|e| invalid(path, e.0))?;
        let Some(v) = obj.get(r.location_name().unwrap_or(name)) else {
            continue;
        };
        seen += 1;
        if v.is_null() {
            continue;
        }
        let p = member_path(path, name);
        out.insert(name.clone(), json_value(model, r, v, &p, depth + 1)?);
    }
    if seen < obj.len() {
        let known = |k: &str| {
            shape.members.iter().any(|(name, m)| {
                !(skip_located && m.location.is_some())
                    && m.location_name.as_deref().unwrap_or(name) == k
            })
        };
        if let Some(k) = obj.keys().find(|k| !known(k)) {
            return Err(invalid(
                &member_path(path, k),
                format!("unknown member `{}`", shorten(k)),
            ));
        }
    }
    Ok(out)
}

/// A member's value from its wire JSON, the inverse of `request::json::json_value`.
pub(super) fn json_value(
    model: &ServiceModel,
    r: Ref<'_>,
    v: &Value,
    path: &str,
    depth: usize,
) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(invalid(path, "input nested too deeply"));
    }
    let mismatch = || wrong_type(r, json_type(v), path);
    match r.ty() {
        ShapeType::Structure if r.shape.document => Ok(v.clone()),
        ShapeType::Structure => match v {
            Value::Object(obj) => Ok(Value::Object(json_struct(
                model, r.shape, obj, false, path, depth,
            )?)),
            _ => Err(mismatch()),
        },
        ShapeType::List => {
            let Value::Array(items) = v else {
                return Err(mismatch());
            };
            let mr = member(model, r, path)?;
            items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Null => Ok(Value::Null),
                    _ => json_value(model, mr, item, &format!("{path}[{i}]"), depth + 1),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        ShapeType::Map => {
            let Value::Object(obj) = v else {
                return Err(mismatch());
            };
            let vr = map_value(model, r, path)?;
            let mut out = Map::new();
            for (k, item) in obj {
                let val = match item {
                    Value::Null => Value::Null,
                    _ => json_value(model, vr, item, &member_path(path, k), depth + 1)?,
                };
                out.insert(k.clone(), val);
            }
            Ok(Value::Object(out))
        }
        ShapeType::Timestamp => {
            let ts = match v {
                Value::Number(n) => Timestamp::from_number(n),
                Value::String(s) => Timestamp::parse(s),
                _ => return Err(mismatch()),
            };
            ts.map(|t| Value::String(t.iso8601()))
                .ok_or_else(|| invalid(path, format!("invalid timestamp {v}")))
        }
        ShapeType::Blob => match v {
            Value::String(s) => b64_decode(s)
                .map(|b| Value::String(b64_encode(&b)))
                .ok_or_else(|| invalid(path, "invalid base64")),
            _ => Err(mismatch()),
        },
        ShapeType::String => match v {
            Value::String(_) => Ok(v.clone()),
            _ => Err(mismatch()),
        },
        ShapeType::Boolean => match v {
            Value::Bool(_) => Ok(v.clone()),
            _ => Err(mismatch()),
        },
        ShapeType::Integer | ShapeType::Long => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(v.clone()),
            _ => Err(mismatch()),
        },
        ShapeType::Float | ShapeType::Double => match v {
            Value::Number(_) => Ok(v.clone()),
            _ => Err(mismatch()),
        },
        ShapeType::Other => Ok(v.clone()),
    }
}

/// A map's value shape.
pub(super) fn map_value<'m>(
    model: &'m ServiceModel,
    r: Ref<'m>,
    path: &str,
) -> Result<Ref<'m>, DecodeError> {
    let vref = r
        .shape
        .value
        .as_ref()
        .ok_or_else(|| invalid(path, "model error: map without value"))?;
    model.resolve(vref).map_err(|e| invalid(path, e.0))
}

/// A list's member shape.
pub(super) fn member<'m>(
    model: &'m ServiceModel,
    r: Ref<'m>,
    path: &str,
) -> Result<Ref<'m>, DecodeError> {
    let mref = r
        .shape
        .member
        .as_ref()
        .ok_or_else(|| invalid(path, "model error: list without member"))?;
    model.resolve(mref).map_err(|e| invalid(path, e.0))
}
