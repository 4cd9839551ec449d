//! The `rest-json` and `rest-xml` protocols: members bound to the URI, the query string and
//! headers, and the body (a payload member, or the remaining members as JSON or XML).

use serde_json::{Map, Value};

use super::json::{json_struct, json_value};
use super::xml::xml_document;
use super::{
    BuildError, Parts, has_header, invalid, scalar_text, set_header, set_query, wrong_type,
};
use crate::encode::{
    b64_decode, b64_encode, json_ascii, percent_encode, percent_encode_greedy, scalar_string,
};
use crate::model::{Location, OperationDef, Protocol, Ref, ServiceModel, Shape, ShapeType};
use crate::timestamp::{Timestamp, TsFormat};

pub(super) fn serialize(
    model: &ServiceModel,
    op: &OperationDef,
    input: Option<&Shape>,
    params: &Map<String, Value>,
    strip_bucket: bool,
) -> Result<Parts, BuildError> {
    let xml = model.protocol() == Protocol::RestXml;
    let mut template = op.http.request_uri.as_str();
    if strip_bucket {
        template = template.strip_prefix("/{Bucket}").unwrap_or(template);
    }
    let mut parts = Parts {
        method: op.http.method.clone(),
        ..Parts::default()
    };
    let Some(shape) = input else {
        parts.path = template.to_string();
        return Ok(parts);
    };
    let mut labels: Vec<(String, String)> = Vec::new();
    let mut body_params = Map::new();
    for (name, value) in params {
        if value.is_null() {
            continue;
        }
        let path = format!("params.{name}");
        let mref = shape
            .members
            .get(name)
            .ok_or_else(|| invalid(&path, "unknown parameter"))?;
        let r = model.resolve(mref)?;
        let key = r.location_name().unwrap_or(name).to_string();
        match r.location() {
            Some(Location::Uri) => labels.push((key, uri_value(r, value, &path)?)),
            Some(Location::QueryString) => match (r.ty(), value) {
                (ShapeType::Map, Value::Object(m)) => {
                    for (k, v) in m {
                        let vals = match v {
                            Value::Array(a) => a.iter().filter_map(scalar_string).collect(),
                            other => scalar_string(other).into_iter().collect(),
                        };
                        set_query(&mut parts.query, k.clone(), vals);
                    }
                }
                (ShapeType::List, Value::Array(items)) => {
                    let mref = r
                        .shape
                        .member
                        .as_ref()
                        .ok_or_else(|| BuildError::Model("list without member".into()))?;
                    let mr = model.resolve(mref)?;
                    let vals = items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| uri_value(mr, item, &format!("{path}[{i}]")))
                        .collect::<Result<Vec<_>, _>>()?;
                    set_query(&mut parts.query, key, vals);
                }
                _ => {
                    let v = uri_value(r, value, &path)?;
                    set_query(&mut parts.query, key, vec![v]);
                }
            },
            Some(Location::Header) => {
                if r.ty() == ShapeType::List && value.as_array().is_some_and(Vec::is_empty) {
                    continue;
                }
                if key.eq_ignore_ascii_case("Content-Length") {
                    // The HTTP client sets it from the body.
                    continue;
                }
                let v = header_value(model, r, value, &path)?;
                set_header(&mut parts.headers, key, v);
            }
            Some(Location::Headers) => {
                let Value::Object(m) = value else {
                    return Err(wrong_type(r, value, &path));
                };
                for (k, v) in m {
                    if let Some(s) = scalar_string(v) {
                        set_header(&mut parts.headers, format!("{key}{k}"), s);
                    }
                }
            }
            _ => {
                body_params.insert(name.clone(), value.clone());
            }
        }
    }
    parts.path = render_uri(template, &labels)?;

    let mut streaming_payload = false;
    if let Some(payload) = shape.payload.as_deref() {
        let mref = shape
            .members
            .get(payload)
            .ok_or_else(|| BuildError::Model(format!("payload member {payload} is missing")))?;
        let r = model.resolve(mref)?;
        let path = format!("params.{payload}");
        match r.ty() {
            ShapeType::Blob | ShapeType::String => {
                streaming_payload = true;
                parts.body = match params.get(payload) {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::String(s)) if r.ty() == ShapeType::String => s.clone().into_bytes(),
                    Some(Value::String(s)) => {
                        b64_decode(s).ok_or_else(|| invalid(&path, "invalid base64"))?
                    }
                    Some(other) => return Err(wrong_type(r, other, &path)),
                };
            }
            _ => match params.get(payload) {
                Some(v) if !v.is_null() => {
                    parts.body = if xml {
                        let name = r.location_name().unwrap_or(payload);
                        xml_document(model, r, r.xml_namespace(), v, name, &path)?
                    } else {
                        serde_json::to_vec(&json_value(model, r, v, &path)?)
                            .map_err(|e| BuildError::Model(e.to_string()))?
                    };
                }
                _ => {
                    if !xml {
                        parts.body = b"{}".to_vec();
                    }
                }
            },
        }
    } else if !body_params.is_empty() {
        parts.body = if xml {
            let name = op
                .input_location_name
                .as_deref()
                .or(op.input.as_deref())
                .unwrap_or("Request");
            let root = Ref { r: None, shape };
            let ns = op
                .input_xml_namespace
                .as_ref()
                .or(shape.xml_namespace.as_ref());
            xml_document(model, root, ns, &Value::Object(body_params), name, "params")?
        } else {
            serde_json::to_vec(&Value::Object(json_struct(
                model,
                shape,
                &body_params,
                "params",
            )?))
            .map_err(|e| BuildError::Model(e.to_string()))?
        };
    } else if !xml && shape.members.values().any(|m| m.location.is_none()) {
        parts.body = b"{}".to_vec();
    }
    if !xml
        && !streaming_payload
        && !parts.body.is_empty()
        && !has_header(&parts.headers, "Content-Type")
    {
        parts
            .headers
            .push(("Content-Type".to_string(), "application/json".to_string()));
    }
    Ok(parts)
}

/// A URI label or query string value (botocore's `_get_uri_and_query_string_value`).
fn uri_value(r: Ref<'_>, v: &Value, path: &str) -> Result<String, BuildError> {
    match r.ty() {
        ShapeType::Timestamp => scalar_text(r, v, path, TsFormat::Iso8601),
        ShapeType::Structure | ShapeType::List | ShapeType::Map => Err(wrong_type(r, v, path)),
        _ => scalar_text(r, v, path, TsFormat::Iso8601),
    }
}

/// botocore's `_convert_header_value`.
fn header_value(
    model: &ServiceModel,
    r: Ref<'_>,
    v: &Value,
    path: &str,
) -> Result<String, BuildError> {
    if r.is_json_value_header() {
        return Ok(b64_encode(json_ascii(v).as_bytes()));
    }
    match r.ty() {
        ShapeType::Timestamp => {
            let ts = Timestamp::from_value(v).ok_or_else(|| invalid(path, "invalid timestamp"))?;
            Ok(ts
                .truncated()
                .format(TsFormat::from_trait(r.timestamp_format(), TsFormat::Rfc822)))
        }
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
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if item.is_null() {
                    continue;
                }
                let p = format!("{path}[{i}]");
                if mr.ty() == ShapeType::String {
                    let Value::String(s) = item else {
                        return Err(wrong_type(mr, item, &p));
                    };
                    if s.contains('"') || s.contains(',') {
                        out.push(format!("\"{}\"", s.replace('"', "\\\"")));
                    } else {
                        out.push(s.clone());
                    }
                } else {
                    out.push(header_value(model, mr, item, &p)?);
                }
            }
            Ok(out.join(","))
        }
        ShapeType::Structure | ShapeType::Map => Err(wrong_type(r, v, path)),
        _ => scalar_text(r, v, path, TsFormat::Rfc822),
    }
}

/// Renders `/{Bucket}/{Key+}`: labels percent-encoded, greedy labels keeping `/`.
fn render_uri(template: &str, labels: &[(String, String)]) -> Result<String, BuildError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let label = &after[..end];
        let (name, greedy) = match label.strip_suffix('+') {
            Some(n) => (n, true),
            None => (label, false),
        };
        let value = labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| invalid(&format!("params.{name}"), "missing required parameter"))?;
        if greedy {
            out.push_str(&percent_encode_greedy(value));
        } else {
            out.push_str(&percent_encode(value));
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}
