//! The `query` and `ec2` protocols: `Action`, `Version` and the input as dotted form pairs, in
//! a form body or the query string (the inverse of `request::query`'s `QueryWriter`). The pairs
//! become a tree of key segments (`Filter.1.Value.2` is Filter → 1 → Value → 2) that the
//! reader takes apart member by member; whatever is left is an unknown parameter.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{
    Headers, Params, invalid, is_presign_param, malformed, member_path, operation, percent_decode,
    scalar, shorten, unknown_operation, wrong_type,
};
use crate::model::{Protocol, Ref, ServiceModel, Shape, ShapeType};
use crate::request::query::{flattened_item_name, query_name};
use crate::server::{DecodeError, WireRequest};

/// Longer keys are refused (no model nests this deep).
const MAX_SEGMENTS: usize = 64;

pub(super) fn decode<'m>(
    model: &'m ServiceModel,
    req: &WireRequest<'_>,
    headers: &Headers<'_>,
) -> Result<(&'m str, Params), DecodeError> {
    let mut pairs = form_pairs(req.query)?;
    if !req.body.is_empty() {
        let form = headers.get("Content-Type").is_none_or(|t| {
            t.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
        if !form {
            return Err(malformed(
                "",
                "the body is not a form (`application/x-www-form-urlencoded`)",
            ));
        }
        let body = std::str::from_utf8(req.body)
            .map_err(|_| malformed("", "the form body is not UTF-8"))?;
        pairs.extend(form_pairs(body)?);
    }
    let mut action = None;
    let mut version = None;
    let mut root = Node::default();
    for (k, v) in pairs {
        let slot = match k.as_str() {
            "Action" => &mut action,
            "Version" => &mut version,
            _ if is_presign_param(&k) => continue,
            _ => {
                root.insert(&k, v)?;
                continue;
            }
        };
        if slot.replace(v).is_some() {
            return Err(invalid("", format!("`{k}` is given more than once")));
        }
    }
    let action = action.ok_or_else(|| unknown_operation("missing `Action`".to_string()))?;
    let op = operation(model, &action)?;
    match version {
        Some(v) if v == model.api_version() => {}
        Some(v) => {
            return Err(unknown_operation(format!(
                "{} has no API version `{}` (it is `{}`)",
                model.service_name(),
                shorten(&v),
                model.api_version()
            )));
        }
        None => return Err(unknown_operation("missing `Version`".to_string())),
    }
    let reader = QueryReader {
        model,
        ec2: model.protocol() == Protocol::Ec2,
    };
    let params = match op.def.input.as_deref() {
        Some(input) => {
            let shape = model.shape(input).map_err(|e| invalid("params", e.0))?;
            reader.structure(shape, &mut root, "", "params")?
        }
        None => Map::new(),
    };
    if let Some(key) = root.first_key("") {
        return Err(invalid(
            "params",
            format!("unknown parameter `{}`", shorten(&key)),
        ));
    }
    Ok((op.name(), params))
}

fn form_pairs(raw: &str) -> Result<Vec<(String, String)>, DecodeError> {
    let mut out = Vec::new();
    for piece in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let k = percent_decode(k, true).ok_or_else(|| {
            malformed(
                "",
                format!("parameter `{}` is not percent-encoded UTF-8", shorten(k)),
            )
        })?;
        let v = percent_decode(v, true).ok_or_else(|| {
            malformed(
                "",
                format!(
                    "the value of `{}` is not percent-encoded UTF-8",
                    shorten(&k)
                ),
            )
        })?;
        out.push((k, v));
    }
    Ok(out)
}

/// One key segment: the value of the key that ends here, and the longer keys.
#[derive(Debug, Default)]
struct Node {
    value: Option<String>,
    children: BTreeMap<String, Node>,
}

impl Node {
    fn insert(&mut self, key: &str, value: String) -> Result<(), DecodeError> {
        let mut node = self;
        for (i, seg) in key.split('.').enumerate() {
            if i >= MAX_SEGMENTS {
                return Err(invalid(
                    "params",
                    format!("parameter `{}` is nested too deeply", shorten(key)),
                ));
            }
            node = node.children.entry(seg.to_string()).or_default();
        }
        if node.value.replace(value).is_some() {
            return Err(invalid(
                "params",
                format!("`{}` is given more than once", shorten(key)),
            ));
        }
        Ok(())
    }

    /// A key still in the tree (`prefix.` + its segments), if any.
    fn first_key(&self, prefix: &str) -> Option<String> {
        let join = |seg: &str| {
            if prefix.is_empty() {
                seg.to_string()
            } else {
                format!("{prefix}.{seg}")
            }
        };
        for (seg, child) in &self.children {
            if child.value.is_some() {
                return Some(join(seg));
            }
            if let Some(k) = child.first_key(&join(seg)) {
                return Some(k);
            }
        }
        None
    }

    fn is_empty(&self) -> bool {
        self.value.is_none() && self.children.is_empty()
    }

    /// The children keyed `1`, `2`, ... in numeric order (list items and map entries);
    /// anything else is refused.
    fn indexed(&mut self, key: &str, path: &str) -> Result<Vec<(String, Node)>, DecodeError> {
        if let Some(v) = self.value.take() {
            return Err(invalid(
                path,
                format!(
                    "`{}={}`: expected `{}.1`, ...",
                    shorten(key),
                    shorten(&v),
                    shorten(key)
                ),
            ));
        }
        let mut items = Vec::with_capacity(self.children.len());
        for (seg, child) in std::mem::take(&mut self.children) {
            let canonical = !seg.is_empty()
                && seg.bytes().all(|b| b.is_ascii_digit())
                && !seg.starts_with('0')
                && seg.len() <= 9;
            if !canonical {
                return Err(invalid(
                    path,
                    format!(
                        "`{}`: expected an index (1, 2, ...) after `{}`",
                        shorten(&join(key, &seg)),
                        shorten(key)
                    ),
                ));
            }
            items.push((seg, child));
        }
        items.sort_by_key(|(seg, _)| seg.parse::<u32>().unwrap_or(u32::MAX));
        Ok(items)
    }
}

/// Refuses whatever is left under `node` once its members are read.
fn no_leftovers(node: &Node, key: &str, path: &str) -> Result<(), DecodeError> {
    match node.first_key(key) {
        Some(k) => Err(invalid(
            path,
            format!("unknown parameter `{}`", shorten(&k)),
        )),
        None => Ok(()),
    }
}

fn join(prefix: &str, seg: &str) -> String {
    if prefix.is_empty() {
        seg.to_string()
    } else {
        format!("{prefix}.{seg}")
    }
}

/// Reads members out of a [`Node`] tree; `key` is the wire key so far (for messages), `path`
/// the params path.
struct QueryReader<'m> {
    model: &'m ServiceModel,
    ec2: bool,
}

impl QueryReader<'_> {
    fn structure(
        &self,
        shape: &Shape,
        node: &mut Node,
        key: &str,
        path: &str,
    ) -> Result<Params, DecodeError> {
        if let Some(v) = node.value.take() {
            return Err(wrong_type_text(shape_ref(shape), &v, path));
        }
        let mut out = Map::new();
        for (name, mref) in &shape.members {
            let r = self.model.resolve(mref).map_err(|e| invalid(path, e.0))?;
            let seg = query_name(r, name, self.ec2);
            let value = if r.ty() == ShapeType::List && !self.ec2 && r.flattened() {
                self.flattened_list(r, node, &seg, key, &member_path(path, name))?
            } else {
                match node.children.remove(seg.as_ref()) {
                    Some(mut child) => {
                        let p = member_path(path, name);
                        Some(self.value(r, &mut child, &join(key, &seg), &p)?)
                    }
                    None => None,
                }
            };
            if let Some(v) = value {
                out.insert(name.clone(), v);
            }
        }
        no_leftovers(node, key, path)?;
        Ok(out)
    }

    fn value(
        &self,
        r: Ref<'_>,
        node: &mut Node,
        key: &str,
        path: &str,
    ) -> Result<Value, DecodeError> {
        match r.ty() {
            ShapeType::Structure => self.structure(r.shape, node, key, path).map(Value::Object),
            ShapeType::List => self.list(r, node, key, path),
            ShapeType::Map => self.map(r, node, key, path),
            _ => {
                no_leftovers(node, key, path)?;
                let text = node
                    .value
                    .take()
                    .ok_or_else(|| invalid(path, format!("`{}` has no value", shorten(key))))?;
                scalar(r, &text, path)
            }
        }
    }

    /// `key=` with nothing under it: the query protocol's empty list.
    fn take_empty_list(node: &mut Node) -> bool {
        if node.children.is_empty() && node.value.as_deref() == Some("") {
            node.value = None;
            true
        } else {
            false
        }
    }

    fn list(
        &self,
        r: Ref<'_>,
        node: &mut Node,
        key: &str,
        path: &str,
    ) -> Result<Value, DecodeError> {
        let mr = self.member(r, path)?;
        if !self.ec2 && Self::take_empty_list(node) {
            return Ok(Value::Array(Vec::new()));
        }
        if let Some(v) = node.value.take() {
            return Err(wrong_type_text(r, &v, path));
        }
        if self.ec2 || r.flattened() {
            return self.items(mr, node, key, path);
        }
        let element = mr.location_name().unwrap_or("member");
        let mut items = node.children.remove(element).ok_or_else(|| {
            let k = node.first_key(key).unwrap_or_else(|| key.to_string());
            invalid(
                path,
                format!("`{}`: expected `{}.{element}.1`", shorten(&k), shorten(key)),
            )
        })?;
        no_leftovers(node, key, path)?;
        self.items(mr, &mut items, &join(key, element), path)
    }

    /// A flattened query list (`Prefix.Name.N`, where `Name` replaces the member's own
    /// segment when the list's member has a locationName).
    fn flattened_list(
        &self,
        r: Ref<'_>,
        parent: &mut Node,
        seg: &str,
        key: &str,
        path: &str,
    ) -> Result<Option<Value>, DecodeError> {
        let mr = self.member(r, path)?;
        if let Some(mut own) = parent.children.remove(seg) {
            if Self::take_empty_list(&mut own) {
                return Ok(Some(Value::Array(Vec::new())));
            }
            if flattened_item_name(mr).is_none_or(|n| n == seg) {
                return self.list(r, &mut own, &join(key, seg), path).map(Some);
            }
            // Not this member's: put it back for its own member (or the unknown check).
            parent.children.insert(seg.to_string(), own);
        }
        let Some(item) = flattened_item_name(mr) else {
            return Ok(None);
        };
        match parent.children.remove(item) {
            Some(mut items) => {
                if let Some(v) = items.value.take() {
                    return Err(wrong_type_text(r, &v, path));
                }
                self.items(mr, &mut items, &join(key, item), path).map(Some)
            }
            None => Ok(None),
        }
    }

    fn items(
        &self,
        mr: Ref<'_>,
        node: &mut Node,
        key: &str,
        path: &str,
    ) -> Result<Value, DecodeError> {
        let mut out = Vec::new();
        for (i, (seg, mut child)) in node.indexed(key, path)?.into_iter().enumerate() {
            out.push(self.value(mr, &mut child, &join(key, &seg), &format!("{path}[{i}]"))?);
        }
        Ok(Value::Array(out))
    }

    fn map(
        &self,
        r: Ref<'_>,
        node: &mut Node,
        key: &str,
        path: &str,
    ) -> Result<Value, DecodeError> {
        let (Some(kref), Some(vref)) = (r.shape.key.as_ref(), r.shape.value.as_ref()) else {
            return Err(invalid(path, "model error: map without key/value"));
        };
        let kr = self.model.resolve(kref).map_err(|e| invalid(path, e.0))?;
        let vr = self.model.resolve(vref).map_err(|e| invalid(path, e.0))?;
        if let Some(v) = node.value.take() {
            return Err(wrong_type_text(r, &v, path));
        }
        let (mut entries, key) = if r.flattened() {
            (std::mem::take(node), key.to_string())
        } else {
            let entries = node.children.remove("entry").unwrap_or_default();
            no_leftovers(node, key, path)?;
            (entries, join(key, "entry"))
        };
        let ks = query_name(kr, "key", self.ec2);
        let vs = query_name(vr, "value", self.ec2);
        let mut out = Map::new();
        for (seg, mut entry) in entries.indexed(&key, path)? {
            let entry_key = join(&key, &seg);
            let k = entry
                .children
                .remove(ks.as_ref())
                .and_then(|mut n| n.children.is_empty().then(|| n.value.take()).flatten())
                .ok_or_else(|| invalid(path, format!("`{}` has no `{ks}`", shorten(&entry_key))))?;
            let p = member_path(path, &k);
            let v = match entry.children.remove(vs.as_ref()) {
                Some(mut vn) => self.value(vr, &mut vn, &join(&entry_key, &vs), &p)?,
                // An empty structure writes nothing.
                None if vr.ty() == ShapeType::Structure => Value::Object(Map::new()),
                None => {
                    return Err(invalid(
                        &p,
                        format!("`{}` has no `{vs}`", shorten(&entry_key)),
                    ));
                }
            };
            if !entry.is_empty() {
                let k = entry.first_key(&entry_key).unwrap_or(entry_key);
                return Err(invalid(
                    path,
                    format!("unknown parameter `{}`", shorten(&k)),
                ));
            }
            if out.insert(k.clone(), v).is_some() {
                return Err(invalid(
                    &p,
                    format!("map key `{}` is given twice", shorten(&k)),
                ));
            }
        }
        Ok(Value::Object(out))
    }

    fn member<'a>(&'a self, r: Ref<'a>, path: &str) -> Result<Ref<'a>, DecodeError> {
        super::json::member(self.model, r, path)
    }
}

fn shape_ref(shape: &Shape) -> Ref<'_> {
    Ref { r: None, shape }
}

fn wrong_type_text(r: Ref<'_>, text: &str, path: &str) -> DecodeError {
    wrong_type(r, &format!("`{}`", shorten(text)), path)
}
