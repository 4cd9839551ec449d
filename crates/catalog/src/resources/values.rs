//! Every string a call's parameters carry that could name a resource, found by walking the
//! parameters alongside the operation's input shape: structure members at any depth, the
//! strings of lists and the keys of maps (each under the names of its member and its shape:
//! `RequestItems` keys are `TableArn` shapes).

use serde_json::{Map, Value};
use tollgate_models::{ShapeKind, ShapeView};

/// Deeper than any AWS input nests resource names; bounds the walk on hostile input.
const MAX_DEPTH: usize = 24;

/// One string that may name a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The member (or map member) it came from, as the model spells it.
    pub member: String,
    /// The model's name for its shape (`TableArn`, `InstanceId`), when known.
    pub shape: Option<String>,
    /// The text, or `None` when a value is there but cannot be read (a PartiQL statement
    /// Tollgate cannot parse): whatever it names stays unknown.
    pub value: Option<String>,
    /// Where it is, for errors: `params.TransactItems[0].Put.TableName`.
    pub field: String,
    /// 0 for top-level members.
    pub depth: usize,
    /// The member of the structure it is in (`DatabaseInput` for `DatabaseInput.Name`).
    pub parent: Option<String>,
}

/// The strings of `params`, walked alongside `input` when the model is known (else only the
/// top-level strings).
pub fn collect(params: &Map<String, Value>, input: Option<ShapeView<'_>>) -> Vec<Found> {
    let mut out = Vec::new();
    match input {
        Some(shape) => walk_struct(params, shape, "params", 0, None, &mut out),
        None => {
            for (k, v) in params {
                if let Some(s) = v.as_str() {
                    out.push(Found {
                        member: k.clone(),
                        shape: None,
                        value: Some(s.to_string()),
                        field: format!("params.{k}"),
                        depth: 0,
                        parent: None,
                    });
                }
            }
        }
    }
    out
}

fn walk_struct(
    obj: &Map<String, Value>,
    shape: ShapeView<'_>,
    path: &str,
    depth: usize,
    parent: Option<&str>,
    out: &mut Vec<Found>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for (k, v) in obj {
        let Some(member) = shape.member(k) else {
            continue;
        };
        walk(v, member, k, &format!("{path}.{k}"), depth, parent, out);
    }
}

fn walk(
    v: &Value,
    shape: ShapeView<'_>,
    member: &str,
    path: &str,
    depth: usize,
    parent: Option<&str>,
    out: &mut Vec<Found>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    match (shape.kind(), v) {
        (ShapeKind::String, Value::String(s)) => out.push(Found {
            member: member.to_string(),
            shape: Some(shape.name().to_string()),
            value: Some(s.clone()),
            field: path.to_string(),
            depth,
            parent: parent.map(str::to_string),
        }),
        (ShapeKind::Structure, Value::Object(obj)) => {
            walk_struct(obj, shape, path, depth + 1, Some(member), out)
        }
        (ShapeKind::List, Value::Array(items)) => {
            if let Some(m) = shape.list_member() {
                for (i, item) in items.iter().enumerate() {
                    walk(item, m, member, &format!("{path}[{i}]"), depth, parent, out);
                }
            }
        }
        (ShapeKind::Map, Value::Object(obj)) => {
            let key = shape.map_key();
            let value = shape.map_value();
            for (k, item) in obj {
                let item_path = format!("{path}.{k}");
                out.push(Found {
                    member: member.to_string(),
                    shape: key.map(|s| s.name().to_string()),
                    value: Some(k.clone()),
                    field: item_path.clone(),
                    depth,
                    parent: parent.map(str::to_string),
                });
                // Values of maps of strings are not names (tags, attributes); structures
                // and lists in them may hold some.
                if let Some(vs) = value
                    && vs.kind() != ShapeKind::String
                {
                    walk(item, vs, member, &item_path, depth + 1, parent, out);
                }
            }
        }
        _ => {}
    }
}
