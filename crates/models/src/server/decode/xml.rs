//! XML request bodies (rest-xml), the inverse of `request::xml`: elements named for members
//! (flattened lists and maps as repeated elements), attributes for `xmlAttribute` members.
//! The root element's name is not checked: the SDKs agree on it, and only its content is
//! forwarded.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::json::member;
use super::{MAX_DEPTH, Params, invalid, malformed, member_path, scalar, shorten};
use crate::model::{Location, Ref, ServiceModel, Shape, ShapeType};
use crate::server::{DecodeError, DecodeErrorKind};
use crate::xml::{self, Node};

pub(super) fn parse_root(body: &[u8]) -> Result<Node, DecodeError> {
    xml::parse(body.trim_ascii()).map_err(|e| malformed("", format!("the body is not XML: {e}")))
}

/// The members of `shape` from the children and attributes of `node`; `skip_located`: the
/// input's top level, where members bound to the URI, query string or headers are not in the
/// body.
pub(super) fn structure(
    model: &ServiceModel,
    shape: &Shape,
    node: &Node,
    skip_located: bool,
    path: &str,
    depth: usize,
) -> Result<Params, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(invalid(path, "input nested too deeply"));
    }
    let mut children: HashMap<&str, Vec<&Node>> = HashMap::new();
    for c in &node.children {
        children.entry(c.name.as_str()).or_default().push(c);
    }
    let mut out = Map::new();
    for (name, mref) in &shape.members {
        if skip_located
            && matches!(
                mref.location,
                Some(Location::Uri | Location::QueryString | Location::Header | Location::Headers)
            )
        {
            continue;
        }
        let r = model.resolve(mref).map_err(|e| invalid(path, e.0))?;
        let element = r.location_name().unwrap_or(name);
        let p = member_path(path, name);
        if r.xml_attribute() {
            let local = element.rsplit(':').next().unwrap_or(element);
            let found = node.attrs.iter().find(|(k, _)| k == element).or_else(|| {
                node.attrs
                    .iter()
                    .find(|(k, _)| k.rsplit(':').next() == Some(local) && !k.starts_with("xmlns"))
            });
            if let Some((_, v)) = found {
                out.insert(name.clone(), scalar(r, v, &p)?);
            }
            continue;
        }
        let Some(nodes) = children.remove(element) else {
            continue;
        };
        let repeated = matches!(r.ty(), ShapeType::List | ShapeType::Map) && r.flattened();
        if nodes.len() > 1 && !repeated {
            return Err(invalid(
                &p,
                format!("element `<{}>` is given more than once", shorten(element)),
            ));
        }
        out.insert(name.clone(), value(model, r, &nodes, &p, depth + 1)?);
    }
    if let Some(extra) = node
        .children
        .iter()
        .find(|c| children.contains_key(c.name.as_str()))
    {
        return Err(invalid(
            path,
            format!("unknown element `<{}>`", shorten(&extra.name)),
        ));
    }
    Ok(out)
}

/// `nodes`: the elements named for the member (several only for flattened lists and maps).
pub(super) fn value(
    model: &ServiceModel,
    r: Ref<'_>,
    nodes: &[&Node],
    path: &str,
    depth: usize,
) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(invalid(path, "input nested too deeply"));
    }
    let Some(first) = nodes.first() else {
        return Ok(Value::Null);
    };
    match r.ty() {
        ShapeType::Structure if r.shape.document => Err(DecodeError::new(
            DecodeErrorKind::Unsupported,
            path,
            "document values in XML bodies",
        )),
        ShapeType::Structure => {
            structure(model, r.shape, first, false, path, depth).map(Value::Object)
        }
        ShapeType::List => {
            let mr = member(model, r, path)?;
            let items: Vec<&Node> = if r.flattened() {
                nodes.to_vec()
            } else {
                let element = mr.location_name().unwrap_or("member");
                if let Some(other) = first.children.iter().find(|c| c.name != element) {
                    return Err(invalid(
                        path,
                        format!(
                            "unknown element `<{}>` in a list of `<{element}>`",
                            shorten(&other.name)
                        ),
                    ));
                }
                first.children.iter().collect()
            };
            items
                .into_iter()
                .enumerate()
                .map(|(i, n)| value(model, mr, &[n], &format!("{path}[{i}]"), depth + 1))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        ShapeType::Map => {
            let (Some(kref), Some(vref)) = (r.shape.key.as_ref(), r.shape.value.as_ref()) else {
                return Err(invalid(path, "model error: map without key/value"));
            };
            let kr = model.resolve(kref).map_err(|e| invalid(path, e.0))?;
            let vr = model.resolve(vref).map_err(|e| invalid(path, e.0))?;
            let key_name = kr.location_name().unwrap_or("key");
            let val_name = vr.location_name().unwrap_or("value");
            let entries: Vec<&Node> = if r.flattened() {
                nodes.to_vec()
            } else {
                if let Some(other) = first.children.iter().find(|c| c.name != "entry") {
                    return Err(invalid(
                        path,
                        format!("unknown element `<{}>` in a map", shorten(&other.name)),
                    ));
                }
                first.children.iter().collect()
            };
            let mut out = Map::new();
            for e in entries {
                let k = e
                    .child(key_name)
                    .filter(|k| k.children.is_empty())
                    .ok_or_else(|| invalid(path, format!("a map entry has no `<{key_name}>`")))?;
                let p = member_path(path, &k.text);
                if let Some(other) = e
                    .children
                    .iter()
                    .find(|c| c.name != key_name && c.name != val_name)
                {
                    return Err(invalid(
                        &p,
                        format!(
                            "unknown element `<{}>` in a map entry",
                            shorten(&other.name)
                        ),
                    ));
                }
                let v = match e.child(val_name) {
                    Some(vn) => value(model, vr, &[vn], &p, depth + 1)?,
                    None => return Err(invalid(&p, format!("no `<{val_name}>`"))),
                };
                if out.insert(k.text.clone(), v).is_some() {
                    return Err(invalid(
                        &p,
                        format!("map key `{}` is given twice", shorten(&k.text)),
                    ));
                }
            }
            Ok(Value::Object(out))
        }
        _ => {
            if let Some(c) = first.children.first() {
                return Err(invalid(
                    path,
                    format!(
                        "expected {}, got element `<{}>`",
                        r.ty().describe(),
                        shorten(&c.name)
                    ),
                ));
            }
            scalar(r, &first.text, path)
        }
    }
}
