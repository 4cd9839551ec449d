//! Parameter validation against an operation's input shape.

use std::borrow::Cow;
use std::fmt;

use serde_json::{Map, Value};

use crate::encode::b64_decode;
use crate::model::{Location, Ref, ServiceModel, Shape, ShapeType};
use crate::timestamp::Timestamp;

/// A parameter that does not fit the operation's input shape: where (`params.KeySchema[0]
/// .KeyType`, `params.Tags.Name` for a map value) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for ValidationError {}

fn err(path: &str, message: impl Into<String>) -> ValidationError {
    ValidationError {
        path: path.to_string(),
        message: message.into(),
    }
}

pub(crate) fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn fmt_bound(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e18 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

/// Parameter conveniences botocore applies before validating: boto3's aliases (`ec2:*`
/// `Filters` for `Filter`, `logs:CreateExportTask` `fromTime` for `from`,
/// `cloudsearchdomain:Search` `returnFields` for `return`) renamed to the model's member name,
/// and Glacier's `accountId` defaulting to `-`.
pub(crate) fn apply_aliases<'a>(
    model: &ServiceModel,
    operation: &str,
    params: &'a Map<String, Value>,
) -> Cow<'a, Map<String, Value>> {
    if model.service_name() == "glacier" {
        let takes_account = model
            .op_def(operation)
            .and_then(|op| op.input.as_deref())
            .and_then(|n| model.shapes.get(n))
            .is_some_and(|s| s.members.contains_key("accountId"));
        if takes_account && params.get("accountId").is_none_or(Value::is_null) {
            let mut p = params.clone();
            p.insert("accountId".into(), Value::String("-".into()));
            return Cow::Owned(p);
        }
        return Cow::Borrowed(params);
    }
    let (original, alias) = match (model.service_name(), operation) {
        ("ec2", _) => ("Filter", "Filters"),
        ("logs", "CreateExportTask") => ("from", "fromTime"),
        ("cloudsearchdomain", "Search") => ("return", "returnFields"),
        _ => return Cow::Borrowed(params),
    };
    let has_member = model
        .op_def(operation)
        .and_then(|op| op.input.as_deref())
        .and_then(|n| model.shapes.get(n))
        .is_some_and(|s| s.members.contains_key(original));
    if !has_member || !params.contains_key(alias) || params.contains_key(original) {
        return Cow::Borrowed(params);
    }
    let renamed = params
        .iter()
        .map(|(k, v)| {
            let k = if k == alias {
                original.to_string()
            } else {
                k.clone()
            };
            (k, v.clone())
        })
        .collect();
    Cow::Owned(renamed)
}

/// Validates `params` against the input shape of `operation`. Members set to `null` count as
/// absent. Required idempotency tokens may be left out (they are filled when the request is
/// built). boto3's parameter aliases are accepted (`Filters` for EC2's `Filter`, ...).
pub fn validate(
    model: &ServiceModel,
    operation: &str,
    params: &Map<String, Value>,
) -> Result<(), ValidationError> {
    let params = apply_aliases(model, operation, params);
    let params = params.as_ref();
    let op = model
        .op_def(operation)
        .ok_or_else(|| err("params", format!("unknown operation {operation}")))?;
    let Some(input) = op.input.as_deref() else {
        if let Some((k, _)) = params.iter().find(|(_, v)| !v.is_null()) {
            return Err(err(
                &format!("params.{k}"),
                format!("unknown parameter: {operation} takes no parameters"),
            ));
        }
        return Ok(());
    };
    let shape = model
        .shape(input)
        .map_err(|e| err("params", format!("model error: {}", e.0)))?;
    validate_struct(model, shape, params, "params", 0)?;
    check_uri_labels(shape, &op.http.request_uri, params)
}

/// Refuses URI label values that are dot segments: `.` or `..` as a label, or as a segment of a
/// greedy label (`{Key+}`: `a/../b`, `../b`, `a/..`). URL parsers and the SigV4 signer remove
/// dot segments, so such a value sends (and validly signs) a request for another path, often
/// another operation under the same IAM action (`apigateway:DeleteStage` with `stageName:
/// ".."` becomes `DELETE /restapis/abc/`).
fn check_uri_labels(
    shape: &Shape,
    request_uri: &str,
    params: &Map<String, Value>,
) -> Result<(), ValidationError> {
    let dot = |s: &str| s == "." || s == "..";
    for (key, mref) in &shape.members {
        if mref.location != Some(Location::Uri) {
            continue;
        }
        let Some(Value::String(value)) = params.get(key) else {
            continue;
        };
        let label = mref.location_name.as_deref().unwrap_or(key);
        let greedy = request_uri.contains(&format!("{{{label}+}}"));
        let refused = if greedy {
            value.split('/').any(dot)
        } else {
            dot(value)
        };
        if refused {
            return Err(err(
                &format!("params.{key}"),
                if greedy {
                    format!(
                        "`{value}` has a `.` or `..` path segment, which would change the URL's path: use a value without dot segments"
                    )
                } else {
                    format!(
                        "`{value}` is a dot segment, which would change the URL's path: use another value"
                    )
                },
            ));
        }
    }
    Ok(())
}

/// Deeper parameters are refused (no AWS input needs more).
const MAX_DEPTH: usize = 64;

fn validate_struct(
    model: &ServiceModel,
    shape: &Shape,
    obj: &Map<String, Value>,
    path: &str,
    depth: usize,
) -> Result<(), ValidationError> {
    if depth > MAX_DEPTH {
        return Err(err(path, "parameters nested too deeply"));
    }
    for key in obj.keys() {
        if !shape.members.contains_key(key) {
            let valid: Vec<&str> = shape.members.keys().map(String::as_str).collect();
            let valid = if valid.is_empty() {
                "none".to_string()
            } else {
                valid.join(", ")
            };
            return Err(err(
                &format!("{path}.{key}"),
                format!("unknown parameter (valid parameters: {valid})"),
            ));
        }
    }
    for req in &shape.required {
        if obj.get(req).is_none_or(Value::is_null) {
            let token = shape.members.get(req).is_some_and(|m| m.idempotency_token);
            if !token {
                return Err(err(&format!("{path}.{req}"), "missing required parameter"));
            }
        }
    }
    if shape.union {
        let set: Vec<&str> = obj
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k.as_str())
            .collect();
        if set.len() != 1 {
            let members: Vec<&str> = shape.members.keys().map(String::as_str).collect();
            return Err(err(
                path,
                format!(
                    "exactly one of these members must be set, found {}: {}",
                    set.len(),
                    members.join(", ")
                ),
            ));
        }
    }
    for (key, value) in obj {
        if value.is_null() {
            continue;
        }
        let Some(mref) = shape.members.get(key) else {
            continue;
        };
        let r = model
            .resolve(mref)
            .map_err(|e| err(path, format!("model error: {}", e.0)))?;
        validate_value(model, r, value, &format!("{path}.{key}"), depth + 1)?;
    }
    Ok(())
}

fn type_error(r: Ref<'_>, v: &Value, path: &str) -> ValidationError {
    err(
        path,
        format!("expected {}, got {}", r.ty().describe(), json_type(v)),
    )
}

fn check_range(shape: &Shape, n: f64, what: &str, path: &str) -> Result<(), ValidationError> {
    if let Some(min) = shape.min
        && n < min
    {
        return Err(err(
            path,
            format!(
                "{what} {} is below the minimum {}",
                fmt_bound(n),
                fmt_bound(min)
            ),
        ));
    }
    if let Some(max) = shape.max
        && n > max
    {
        return Err(err(
            path,
            format!(
                "{what} {} is above the maximum {}",
                fmt_bound(n),
                fmt_bound(max)
            ),
        ));
    }
    Ok(())
}

fn validate_value(
    model: &ServiceModel,
    r: Ref<'_>,
    v: &Value,
    path: &str,
    depth: usize,
) -> Result<(), ValidationError> {
    if depth > MAX_DEPTH {
        return Err(err(path, "parameters nested too deeply"));
    }
    if r.is_json_value_header() || (r.ty() == ShapeType::Structure && r.shape.document) {
        return Ok(());
    }
    let shape = r.shape;
    match r.ty() {
        ShapeType::Structure => {
            let Value::Object(obj) = v else {
                return Err(type_error(r, v, path));
            };
            validate_struct(model, shape, obj, path, depth + 1)
        }
        ShapeType::List => {
            let Value::Array(items) = v else {
                return Err(type_error(r, v, path));
            };
            check_range(shape, items.len() as f64, "list length", path)?;
            let Some(mref) = shape.member.as_ref() else {
                return Err(err(path, "model error: list without member"));
            };
            let mr = model
                .resolve(mref)
                .map_err(|e| err(path, format!("model error: {}", e.0)))?;
            for (i, item) in items.iter().enumerate() {
                validate_value(model, mr, item, &format!("{path}[{i}]"), depth + 1)?;
            }
            Ok(())
        }
        ShapeType::Map => {
            let Value::Object(obj) = v else {
                return Err(type_error(r, v, path));
            };
            let (Some(kref), Some(vref)) = (shape.key.as_ref(), shape.value.as_ref()) else {
                return Err(err(path, "model error: map without key/value"));
            };
            let kr = model
                .resolve(kref)
                .map_err(|e| err(path, format!("model error: {}", e.0)))?;
            let vr = model
                .resolve(vref)
                .map_err(|e| err(path, format!("model error: {}", e.0)))?;
            for (k, item) in obj {
                let item_path = format!("{path}.{k}");
                validate_value(model, kr, &Value::String(k.clone()), &item_path, depth + 1)
                    .map_err(|e| err(&item_path, format!("invalid map key: {}", e.message)))?;
                validate_value(model, vr, item, &item_path, depth + 1)?;
            }
            Ok(())
        }
        ShapeType::String => {
            let Value::String(s) = v else {
                return Err(type_error(r, v, path));
            };
            if let Some(values) = &shape.enum_values
                && !values.iter().any(|e| e == s)
            {
                return Err(err(
                    path,
                    format!("value {s:?} is not one of: {}", values.join(", ")),
                ));
            }
            check_range(shape, s.chars().count() as f64, "length", path)
        }
        ShapeType::Integer | ShapeType::Long => {
            let n = match v {
                Value::Number(n) if n.is_i64() || n.is_u64() => n,
                _ => return Err(type_error(r, v, path)),
            };
            if r.ty() == ShapeType::Integer && n.as_i64().is_none_or(|i| i32::try_from(i).is_err())
            {
                return Err(err(
                    path,
                    format!("value {n} is out of the 32-bit integer range"),
                ));
            }
            if r.ty() == ShapeType::Long && n.as_i64().is_none() {
                return Err(err(
                    path,
                    format!("value {n} is out of the 64-bit integer range"),
                ));
            }
            check_range(shape, n.as_f64().unwrap_or(0.0), "value", path)
        }
        ShapeType::Float | ShapeType::Double => {
            let Value::Number(n) = v else {
                return Err(type_error(r, v, path));
            };
            check_range(shape, n.as_f64().unwrap_or(0.0), "value", path)
        }
        ShapeType::Boolean => match v {
            Value::Bool(_) => Ok(()),
            _ => Err(type_error(r, v, path)),
        },
        ShapeType::Timestamp => match v {
            Value::Number(_) | Value::String(_) => {
                if Timestamp::from_value(v).is_some() {
                    Ok(())
                } else {
                    Err(err(
                        path,
                        format!(
                            "invalid timestamp {v}: use ISO 8601 (2024-01-31T12:00:00Z) or epoch seconds"
                        ),
                    ))
                }
            }
            _ => Err(type_error(r, v, path)),
        },
        ShapeType::Blob => {
            let Value::String(s) = v else {
                return Err(type_error(r, v, path));
            };
            if b64_decode(s).is_none() {
                return Err(err(path, "invalid base64 (blobs are given base64-encoded)"));
            }
            Ok(())
        }
        ShapeType::Other => Ok(()),
    }
}
