//! The `rest-json` and `rest-xml` protocols: members from the status code and headers, and
//! the body (a payload member, or the remaining members as JSON or XML).

use serde_json::{Map, Value};

use super::json::{json_struct, json_value};
use super::xml::{xml_struct, xml_value};
use super::{Headers, parse_json_body, text_value};
use crate::encode::{b64_decode, b64_encode};
use crate::model::{Location, Protocol, Ref, ServiceModel, Shape, ShapeType};
use crate::xml::{self, Node};

pub(super) fn parse(
    model: &ServiceModel,
    shape: &Shape,
    status: u16,
    headers: &Headers,
    body: &[u8],
) -> Result<Map<String, Value>, String> {
    let xml = model.protocol() == Protocol::RestXml;
    let mut out = Map::new();
    for (name, mref) in &shape.members {
        let r = model.resolve(mref).map_err(|e| e.0)?;
        match r.location() {
            Some(Location::StatusCode) => {
                out.insert(name.clone(), Value::from(status));
            }
            Some(Location::Headers) => {
                let prefix = r.location_name().unwrap_or("");
                let mut m = Map::new();
                for (k, v) in &headers.0 {
                    if k.len() >= prefix.len()
                        && k.is_char_boundary(prefix.len())
                        && k[..prefix.len()].eq_ignore_ascii_case(prefix)
                    {
                        m.insert(k[prefix.len()..].to_string(), Value::String(v.clone()));
                    }
                }
                out.insert(name.clone(), Value::Object(m));
            }
            Some(Location::Header) => {
                let header = r.location_name().unwrap_or(name);
                if let Some(v) = headers.get(header) {
                    out.insert(name.clone(), header_value(model, r, v)?);
                }
            }
            _ => {}
        }
    }
    if let Some(payload) = shape.payload.as_deref() {
        let Some(mref) = shape.members.get(payload) else {
            return Err(format!("payload member {payload} is missing"));
        };
        let r = model.resolve(mref).map_err(|e| e.0)?;
        if r.shape.eventstream {
            return Ok(out);
        }
        let v = match r.ty() {
            ShapeType::Blob => Value::String(b64_encode(body)),
            ShapeType::String => Value::String(String::from_utf8_lossy(body).into_owned()),
            _ if xml => {
                let root = xml_root(body)?;
                xml_value(model, r, &[&root], 0)?
            }
            _ => json_value(model, r, &parse_json_body(body)?, 0),
        };
        out.insert(payload.to_string(), v);
    } else if xml {
        let root = xml_root(body)?;
        out.extend(xml_struct(model, shape, &root, 0)?);
    } else {
        let v = parse_json_body(body)?;
        out.extend(json_struct(model, shape, &v, true, 0)?);
    }
    Ok(out)
}

fn xml_root(body: &[u8]) -> Result<Node, String> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        Ok(Node::default())
    } else {
        xml::parse(trimmed).map_err(|e| format!("invalid XML: {e}"))
    }
}

fn header_value(model: &ServiceModel, r: Ref<'_>, v: &str) -> Result<Value, String> {
    Ok(match r.ty() {
        ShapeType::String if r.jsonvalue() => b64_decode(v)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| Value::String(v.to_string())),
        ShapeType::Boolean => Value::Bool(v.trim().eq_ignore_ascii_case("true")),
        ShapeType::List => {
            let Some(mref) = r.shape.member.as_ref() else {
                return Err("list without member".into());
            };
            let mr = model.resolve(mref).map_err(|e| e.0)?;
            let items = v
                .split(',')
                .map(|s| header_value(model, mr, s.trim()))
                .collect::<Result<Vec<_>, _>>()?;
            Value::Array(items)
        }
        _ => text_value(r, v),
    })
}
