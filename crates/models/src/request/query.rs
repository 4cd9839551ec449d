//! The `query` and `ec2` protocols: the input flattened into `Action`/`Version` form pairs
//! (botocore's `QuerySerializer` and `EC2Serializer`), written by a [`QueryWriter`] as
//! smithy-rs's `aws-smithy-query` does.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{BuildError, Parts, invalid, scalar_text, wrong_type};
use crate::encode::form_urlencode;
use crate::model::{OperationDef, Protocol, Ref, ServiceModel, Shape, ShapeType};
use crate::timestamp::TsFormat;

pub(super) fn serialize(
    model: &ServiceModel,
    operation: &str,
    op: &OperationDef,
    input: Option<&Shape>,
    params: &Map<String, Value>,
) -> Result<Parts, BuildError> {
    let mut writer = QueryWriter {
        model,
        ec2: model.protocol() == Protocol::Ec2,
        pairs: vec![
            ("Action".to_string(), operation.to_string()),
            ("Version".to_string(), model.api_version().to_string()),
        ],
    };
    if let Some(shape) = input {
        writer.structure(shape, params, "", "params")?;
    }
    Ok(Parts {
        method: op.http.method.clone(),
        path: "/".to_string(),
        headers: vec![(
            "Content-Type".to_string(),
            "application/x-www-form-urlencoded; charset=utf-8".to_string(),
        )],
        body: form_urlencode(&writer.pairs).into_bytes(),
        ..Parts::default()
    })
}

/// botocore's `_get_serialized_name` (ec2 capitalizes locationNames and prefers queryName).
pub(crate) fn query_name<'a>(r: Ref<'a>, default: &'a str, ec2: bool) -> Cow<'a, str> {
    if ec2 {
        if let Some(q) = r.query_name() {
            return Cow::Borrowed(q);
        }
        if let Some(n) = r.location_name() {
            let mut c = n.chars();
            return match c.next() {
                Some(f) if f.is_ascii_uppercase() => Cow::Borrowed(n),
                Some(f) => Cow::Owned(f.to_uppercase().chain(c).collect()),
                None => Cow::Borrowed(""),
            };
        }
        Cow::Borrowed(default)
    } else {
        Cow::Borrowed(r.location_name().unwrap_or(default))
    }
}

/// The name that replaces a flattened list's own last key segment (query, not ec2): its
/// member's locationName, when it has one.
pub(crate) fn flattened_item_name<'a>(member: Ref<'a>) -> Option<&'a str> {
    member.location_name().filter(|n| !n.is_empty())
}

/// Writes `prefix.Member.N.Key=value` pairs; `path` names the parameter for errors.
struct QueryWriter<'m> {
    model: &'m ServiceModel,
    ec2: bool,
    pairs: Vec<(String, String)>,
}

impl QueryWriter<'_> {
    fn structure(
        &mut self,
        shape: &Shape,
        obj: &Map<String, Value>,
        prefix: &str,
        path: &str,
    ) -> Result<(), BuildError> {
        for (key, value) in obj {
            if value.is_null() {
                continue;
            }
            let mref = shape
                .members
                .get(key)
                .ok_or_else(|| invalid(&format!("{path}.{key}"), "unknown parameter"))?;
            let r = self.model.resolve(mref)?;
            let name = query_name(r, key, self.ec2);
            let p = if prefix.is_empty() {
                name.into_owned()
            } else {
                format!("{prefix}.{name}")
            };
            self.value(r, value, &p, &format!("{path}.{key}"))?;
        }
        Ok(())
    }

    fn value(&mut self, r: Ref<'_>, v: &Value, prefix: &str, path: &str) -> Result<(), BuildError> {
        match r.ty() {
            ShapeType::Structure => {
                let Value::Object(obj) = v else {
                    return Err(wrong_type(r, v, path));
                };
                self.structure(r.shape, obj, prefix, path)
            }
            ShapeType::List => {
                let Value::Array(items) = v else {
                    return Err(wrong_type(r, v, path));
                };
                self.list(r, items, prefix, path)
            }
            ShapeType::Map => {
                let Value::Object(obj) = v else {
                    return Err(wrong_type(r, v, path));
                };
                self.map(r, obj, prefix, path)
            }
            _ => {
                let s = scalar_text(r, v, path, TsFormat::Iso8601)?;
                self.pairs.push((prefix.to_string(), s));
                Ok(())
            }
        }
    }

    fn list(
        &mut self,
        r: Ref<'_>,
        items: &[Value],
        prefix: &str,
        path: &str,
    ) -> Result<(), BuildError> {
        let mref = r
            .shape
            .member
            .as_ref()
            .ok_or_else(|| BuildError::Model("list without member".into()))?;
        let mr = self.model.resolve(mref)?;
        let list_prefix = if self.ec2 {
            prefix.to_string()
        } else {
            if items.is_empty() {
                self.pairs.push((prefix.to_string(), String::new()));
                return Ok(());
            }
            if r.flattened() {
                match flattened_item_name(mr) {
                    Some(name) => match prefix.rsplit_once('.') {
                        Some((head, _)) => format!("{head}.{name}"),
                        None => name.to_string(),
                    },
                    None => prefix.to_string(),
                }
            } else {
                format!("{prefix}.{}", mr.location_name().unwrap_or("member"))
            }
        };
        for (i, item) in items.iter().enumerate() {
            self.value(
                mr,
                item,
                &format!("{list_prefix}.{}", i + 1),
                &format!("{path}[{i}]"),
            )?;
        }
        Ok(())
    }

    fn map(
        &mut self,
        r: Ref<'_>,
        obj: &Map<String, Value>,
        prefix: &str,
        path: &str,
    ) -> Result<(), BuildError> {
        let (Some(kref), Some(vref)) = (r.shape.key.as_ref(), r.shape.value.as_ref()) else {
            return Err(BuildError::Model("map without key/value".into()));
        };
        let kr = self.model.resolve(kref)?;
        let vr = self.model.resolve(vref)?;
        let full = if r.flattened() {
            prefix.to_string()
        } else {
            format!("{prefix}.entry")
        };
        let ks = query_name(kr, "key", self.ec2);
        let vs = query_name(vr, "value", self.ec2);
        for (i, (k, item)) in obj.iter().enumerate() {
            let n = i + 1;
            self.pairs.push((format!("{full}.{n}.{ks}"), k.clone()));
            self.value(
                vr,
                item,
                &format!("{full}.{n}.{vs}"),
                &format!("{path}.{k}"),
            )?;
        }
        Ok(())
    }
}
