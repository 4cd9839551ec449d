//! JSON bodies (the `json` protocol and rest-json): wire names to member names, timestamps
//! to ISO 8601; values that do not fit the shape are kept as they are.

use serde_json::{Map, Value};

use super::MAX_DEPTH;
use crate::model::{Ref, ServiceModel, Shape, ShapeType};
use crate::timestamp::Timestamp;

pub(super) fn json_struct(
    model: &ServiceModel,
    shape: &Shape,
    v: &Value,
    skip_located: bool,
    depth: usize,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let Value::Object(obj) = v else {
        return Ok(out);
    };
    for (name, mref) in &shape.members {
        if skip_located && mref.location.is_some() {
            continue;
        }
        let r = model.resolve(mref).map_err(|e| e.0)?;
        let key = r.location_name().unwrap_or(name);
        if let Some(raw) = obj.get(key)
            && !raw.is_null()
        {
            out.insert(name.clone(), json_value(model, r, raw, depth + 1));
        }
    }
    Ok(out)
}

/// Converts a JSON value by shape; values not matching the shape are kept as they are.
pub(super) fn json_value(model: &ServiceModel, r: Ref<'_>, v: &Value, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return v.clone();
    }
    match (r.ty(), v) {
        (ShapeType::Structure, _) if r.shape.document => v.clone(),
        (ShapeType::Structure, Value::Object(_)) => json_struct(model, r.shape, v, false, depth)
            .map(Value::Object)
            .unwrap_or_else(|_| v.clone()),
        (ShapeType::List, Value::Array(items)) => {
            match r.shape.member.as_ref().and_then(|m| model.resolve(m).ok()) {
                Some(mr) => Value::Array(
                    items
                        .iter()
                        .map(|i| {
                            if i.is_null() {
                                Value::Null
                            } else {
                                json_value(model, mr, i, depth + 1)
                            }
                        })
                        .collect(),
                ),
                None => v.clone(),
            }
        }
        (ShapeType::Map, Value::Object(obj)) => {
            match r.shape.value.as_ref().and_then(|m| model.resolve(m).ok()) {
                Some(vr) => Value::Object(
                    obj.iter()
                        .map(|(k, i)| {
                            let val = if i.is_null() {
                                Value::Null
                            } else {
                                json_value(model, vr, i, depth + 1)
                            };
                            (k.clone(), val)
                        })
                        .collect(),
                ),
                None => v.clone(),
            }
        }
        (ShapeType::Timestamp, Value::Number(_) | Value::String(_)) => Timestamp::from_value(v)
            .map(|t| Value::String(t.python_iso()))
            .unwrap_or_else(|| v.clone()),
        _ => v.clone(),
    }
}
