//! XML bodies (query, ec2, rest-xml): elements to members as botocore's XML parsers read
//! them.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{MAX_DEPTH, text_value};
use crate::model::{Location, Ref, ServiceModel, Shape, ShapeType};
use crate::xml::Node;

/// The element name a member is read from (botocore's `_member_key_name`).
pub(crate) fn member_key<'a>(r: Ref<'a>, name: &'a str) -> &'a str {
    if r.ty() == ShapeType::List
        && r.flattened()
        && let Some(n) = r
            .shape
            .member
            .as_ref()
            .and_then(|m| m.location_name.as_deref())
    {
        return n;
    }
    r.location_name().unwrap_or(name)
}

pub(super) fn xml_struct(
    model: &ServiceModel,
    shape: &Shape,
    node: &Node,
    depth: usize,
) -> Result<Map<String, Value>, String> {
    if depth > MAX_DEPTH {
        return Err("response nested too deeply".into());
    }
    let mut children: HashMap<&str, Vec<&Node>> = HashMap::new();
    for c in &node.children {
        children.entry(c.name.as_str()).or_default().push(c);
    }
    let mut out = Map::new();
    for (name, mref) in &shape.members {
        if mref.eventheader
            || matches!(
                mref.location,
                Some(Location::Header | Location::Headers | Location::StatusCode)
            )
        {
            continue;
        }
        let r = model.resolve(mref).map_err(|e| e.0)?;
        if let Some(nodes) = children.get(member_key(r, name)) {
            out.insert(name.clone(), xml_value(model, r, nodes, depth + 1)?);
        } else if r.xml_attribute() {
            let Some(attr) = r.location_name() else {
                continue;
            };
            let local = attr.rsplit(':').next().unwrap_or(attr);
            let found = node.attrs.iter().find(|(k, _)| k == attr).or_else(|| {
                node.attrs
                    .iter()
                    .find(|(k, _)| k.rsplit(':').next() == Some(local) && k != "xmlns")
            });
            if let Some((_, v)) = found {
                out.insert(name.clone(), Value::String(v.clone()));
            }
        }
    }
    Ok(out)
}

/// `nodes`: the elements named for the member (several only for flattened lists and maps).
pub(super) fn xml_value(
    model: &ServiceModel,
    r: Ref<'_>,
    nodes: &[&Node],
    depth: usize,
) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("response nested too deeply".into());
    }
    let Some(first) = nodes.first() else {
        return Ok(Value::Null);
    };
    Ok(match r.ty() {
        ShapeType::Structure => Value::Object(xml_struct(model, r.shape, first, depth)?),
        ShapeType::List => {
            let Some(mref) = r.shape.member.as_ref() else {
                return Err("list without member".into());
            };
            let mr = model.resolve(mref).map_err(|e| e.0)?;
            let items: Vec<&Node> = if r.flattened() {
                nodes.to_vec()
            } else {
                first.children.iter().collect()
            };
            Value::Array(
                items
                    .into_iter()
                    .map(|n| xml_value(model, mr, &[n], depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        ShapeType::Map => {
            let (Some(kref), Some(vref)) = (r.shape.key.as_ref(), r.shape.value.as_ref()) else {
                return Err("map without key/value".into());
            };
            let kr = model.resolve(kref).map_err(|e| e.0)?;
            let vr = model.resolve(vref).map_err(|e| e.0)?;
            let key_name = kr.location_name().unwrap_or("key");
            let val_name = vr.location_name().unwrap_or("value");
            let entries: Vec<&Node> = if r.flattened() {
                nodes.to_vec()
            } else {
                first.children.iter().collect()
            };
            let mut out = Map::new();
            for e in entries {
                let Some(k) = e.child(key_name) else {
                    continue;
                };
                let v = match e.child(val_name) {
                    Some(vn) => xml_value(model, vr, &[vn], depth + 1)?,
                    None => Value::Null,
                };
                out.insert(k.text.clone(), v);
            }
            Value::Object(out)
        }
        _ => text_value(r, &first.text),
    })
}
