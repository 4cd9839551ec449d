//! The `json` protocol (JSON 1.0/1.1 bodies, the operation in `X-Amz-Target`); its value
//! writer is shared with rest-json bodies.

use serde_json::{Map, Value};

use super::{BuildError, Parts, invalid, scalar_text, wrong_type};
use crate::model::{OperationDef, Ref, ServiceModel, Shape, ShapeType};
use crate::timestamp::{Timestamp, TsFormat};

pub(super) fn serialize(
    model: &ServiceModel,
    operation: &str,
    op: &OperationDef,
    input: Option<&Shape>,
    params: &Map<String, Value>,
) -> Result<Parts, BuildError> {
    let meta = &model.metadata;
    let target = meta
        .target_prefix
        .as_deref()
        .ok_or_else(|| BuildError::Model("json service without targetPrefix".into()))?;
    let mut headers = vec![
        ("X-Amz-Target".to_string(), format!("{target}.{operation}")),
        (
            "Content-Type".to_string(),
            format!(
                "application/x-amz-json-{}",
                meta.json_version.as_deref().unwrap_or("1.0")
            ),
        ),
    ];
    if meta.aws_query_compatible {
        headers.push(("x-amzn-query-mode".to_string(), "true".to_string()));
    }
    let body = match input {
        Some(shape) => Value::Object(json_struct(model, shape, params, "params")?),
        None => Value::Object(Map::new()),
    };
    Ok(Parts {
        method: op.http.method.clone(),
        path: op.http.request_uri.clone(),
        headers,
        body: serde_json::to_vec(&body).map_err(|e| BuildError::Model(e.to_string()))?,
        ..Parts::default()
    })
}

pub(super) fn json_struct(
    model: &ServiceModel,
    shape: &Shape,
    obj: &Map<String, Value>,
    path: &str,
) -> Result<Map<String, Value>, BuildError> {
    let mut out = Map::new();
    for (key, value) in obj {
        if value.is_null() {
            continue;
        }
        let mref = shape
            .members
            .get(key)
            .ok_or_else(|| invalid(&format!("{path}.{key}"), "unknown parameter"))?;
        let r = model.resolve(mref)?;
        let name = r.location_name().unwrap_or(key).to_string();
        out.insert(name, json_value(model, r, value, &format!("{path}.{key}"))?);
    }
    Ok(out)
}

pub(super) fn json_value(
    model: &ServiceModel,
    r: Ref<'_>,
    v: &Value,
    path: &str,
) -> Result<Value, BuildError> {
    match r.ty() {
        ShapeType::Structure if r.shape.document => Ok(v.clone()),
        ShapeType::Structure => match v {
            Value::Object(obj) => Ok(Value::Object(json_struct(model, r.shape, obj, path)?)),
            _ => Err(wrong_type(r, v, path)),
        },
        ShapeType::List => {
            let Value::Array(items) = v else {
                return Err(wrong_type(r, v, path));
            };
            let mref = r
                .shape
                .member
                .as_ref()
                .ok_or_else(|| BuildError::Model("list without member".into()))?;
            let mr = model.resolve(mref)?;
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    if item.is_null() {
                        Ok(Value::Null)
                    } else {
                        json_value(model, mr, item, &format!("{path}[{i}]"))
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        ShapeType::Map => {
            let Value::Object(obj) = v else {
                return Err(wrong_type(r, v, path));
            };
            let vref = r
                .shape
                .value
                .as_ref()
                .ok_or_else(|| BuildError::Model("map without value".into()))?;
            let vr = model.resolve(vref)?;
            let mut out = Map::new();
            for (k, item) in obj {
                let val = if item.is_null() {
                    Value::Null
                } else {
                    json_value(model, vr, item, &format!("{path}.{k}"))?
                };
                out.insert(k.clone(), val);
            }
            Ok(Value::Object(out))
        }
        ShapeType::Timestamp => {
            let ts = Timestamp::from_value(v).ok_or_else(|| invalid(path, "invalid timestamp"))?;
            Ok(
                match TsFormat::from_trait(r.timestamp_format(), TsFormat::UnixTimestamp) {
                    TsFormat::UnixTimestamp => ts.unix_value(),
                    f => Value::String(ts.format(f)),
                },
            )
        }
        ShapeType::Blob => Ok(Value::String(scalar_text(
            r,
            v,
            path,
            TsFormat::UnixTimestamp,
        )?)),
        _ => Ok(v.clone()),
    }
}
