//! XML output bodies (query, ec2, rest-xml), the inverse of `response::xml`: members as
//! elements named as botocore's parsers look them up (`member_key`), lists in `<member>` (or
//! the member's locationName) unless flattened, maps in `<entry><key/><value/></entry>`.

use serde_json::{Map, Value};

use super::MAX_DEPTH;
use super::json::{member_path, model_error, too_deep};
use crate::encode::py_number;
use crate::model::{Location, Ref, ServiceModel, Shape, ShapeType, XmlNamespace};
use crate::response::xml::member_key;
use crate::server::EncodeError;
use crate::timestamp::{Timestamp, TsFormat};
use crate::xml::El;

/// A document: the declaration AWS writes, then `root`.
pub(super) fn document(root: &El) -> Vec<u8> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
    root.write(&mut out);
    out.into_bytes()
}

pub(super) fn text_el(name: &str, text: &str) -> El {
    let mut el = El::new(name);
    el.text = text.to_string();
    el
}

pub(super) fn add_ns(el: &mut El, ns: Option<&XmlNamespace>) {
    if let Some(ns) = ns {
        let (k, v) = ns.attribute();
        el.set_attr(k, v);
    }
}

/// Writes the members of `shape` into `el` (body members only: header, status code and event
/// header members live elsewhere).
pub(super) fn write_struct(
    model: &ServiceModel,
    shape: &Shape,
    obj: &Map<String, Value>,
    el: &mut El,
    path: &str,
    depth: usize,
) -> Result<(), EncodeError> {
    if depth > MAX_DEPTH {
        return Err(too_deep(path));
    }
    for (name, mref) in &shape.members {
        if mref.eventheader
            || matches!(
                mref.location,
                Some(Location::Header | Location::Headers | Location::StatusCode)
            )
        {
            continue;
        }
        let Some(v) = obj.get(name).filter(|v| !v.is_null()) else {
            continue;
        };
        let r = model.resolve(mref).map_err(|e| model_error(path, e.0))?;
        let p = member_path(path, name, depth);
        if r.xml_attribute() {
            let attr = r.location_name().unwrap_or(name);
            el.set_attr(attr.to_string(), scalar_text(r, v));
            continue;
        }
        write_member(model, r, member_key(r, name), v, el, &p, depth + 1)?;
    }
    Ok(())
}

/// Writes one value as `<name>` children of `parent` (several for a flattened list or map).
pub(super) fn write_member(
    model: &ServiceModel,
    r: Ref<'_>,
    name: &str,
    v: &Value,
    parent: &mut El,
    path: &str,
    depth: usize,
) -> Result<(), EncodeError> {
    if depth > MAX_DEPTH {
        return Err(too_deep(path));
    }
    match (r.ty(), v) {
        (ShapeType::Structure, Value::Object(obj)) if !r.shape.document => {
            let mut el = El::new(name);
            add_ns(&mut el, r.xml_namespace());
            write_struct(model, r.shape, obj, &mut el, path, depth)?;
            parent.children.push(el);
        }
        (ShapeType::List, Value::Array(items)) => {
            let mref = r
                .shape
                .member
                .as_ref()
                .ok_or_else(|| model_error(path, "list without member".into()))?;
            let mr = model.resolve(mref).map_err(|e| model_error(path, e.0))?;
            if r.flattened() {
                for item in items {
                    write_member(model, mr, name, item, parent, path, depth + 1)?;
                }
            } else {
                let mut list = El::new(name);
                let element = mr.location_name().unwrap_or("member");
                for item in items {
                    write_member(model, mr, element, item, &mut list, path, depth + 1)?;
                }
                parent.children.push(list);
            }
        }
        (ShapeType::Map, Value::Object(obj)) => {
            let (Some(kref), Some(vref)) = (r.shape.key.as_ref(), r.shape.value.as_ref()) else {
                return Err(model_error(path, "map without key/value".into()));
            };
            let kr = model.resolve(kref).map_err(|e| model_error(path, e.0))?;
            let vr = model.resolve(vref).map_err(|e| model_error(path, e.0))?;
            let key_name = kr.location_name().unwrap_or("key");
            let val_name = vr.location_name().unwrap_or("value");
            let mut map = El::new(name);
            for (k, item) in obj {
                let mut entry = El::new(if r.flattened() { name } else { "entry" });
                entry.children.push(text_el(key_name, k));
                write_member(model, vr, val_name, item, &mut entry, path, depth + 1)?;
                if r.flattened() {
                    parent.children.push(entry);
                } else {
                    map.children.push(entry);
                }
            }
            if !r.flattened() {
                parent.children.push(map);
            }
        }
        _ => parent.children.push(text_el(name, &scalar_text(r, v))),
    }
    Ok(())
}

/// A scalar's text: timestamps in the member's format (ISO 8601 by default), booleans and
/// numbers as JSON writes them; anything else as it is (JSON text for a misplaced object).
pub(super) fn scalar_text(r: Ref<'_>, v: &Value) -> String {
    text_with_default(r, v, TsFormat::Iso8601)
}

pub(super) fn text_with_default(r: Ref<'_>, v: &Value, default: TsFormat) -> String {
    if r.ty() == ShapeType::Timestamp
        && let Some(t) = Timestamp::from_value(v)
    {
        return t.format(TsFormat::from_trait(r.timestamp_format(), default));
    }
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) if n.is_f64() => py_number(n),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}
