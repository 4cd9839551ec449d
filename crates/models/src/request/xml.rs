//! XML request bodies (rest-xml), as botocore's `RestXMLSerializer` writes them.

use serde_json::{Map, Value};

use super::{BuildError, invalid, scalar_text, wrong_type};
use crate::encode::scalar_string;
use crate::model::{Ref, ServiceModel, Shape, ShapeType, XmlNamespace};
use crate::timestamp::TsFormat;
use crate::xml::El;

pub(super) fn xml_document(
    model: &ServiceModel,
    r: Ref<'_>,
    ns: Option<&XmlNamespace>,
    v: &Value,
    name: &str,
    path: &str,
) -> Result<Vec<u8>, BuildError> {
    let mut pseudo = El::new("");
    if r.ty() == ShapeType::Structure && !r.shape.document {
        let Value::Object(obj) = v else {
            return Err(wrong_type(r, v, path));
        };
        xml_struct(model, r.shape, ns, obj, name, &mut pseudo, path)?;
    } else {
        xml_value(model, r, v, name, &mut pseudo, path)?;
    }
    let mut out = String::new();
    for c in &pseudo.children {
        c.write(&mut out);
    }
    Ok(out.into_bytes())
}

fn add_ns(el: &mut El, ns: Option<&XmlNamespace>) {
    if let Some(ns) = ns {
        let (k, v) = ns.attribute();
        el.set_attr(k, v);
    }
}

fn xml_struct(
    model: &ServiceModel,
    shape: &Shape,
    ns: Option<&XmlNamespace>,
    obj: &Map<String, Value>,
    name: &str,
    parent: &mut El,
    path: &str,
) -> Result<(), BuildError> {
    let mut node = El::new(name);
    add_ns(&mut node, ns);
    for (key, value) in obj {
        if value.is_null() {
            continue;
        }
        let p = format!("{path}.{key}");
        let mref = shape
            .members
            .get(key)
            .ok_or_else(|| invalid(&p, "unknown parameter"))?;
        let r = model.resolve(mref)?;
        let member_name = r.location_name().unwrap_or(key);
        if r.xml_attribute() {
            let text = scalar_string(value).ok_or_else(|| wrong_type(r, value, &p))?;
            node.set_attr(member_name.to_string(), text);
            continue;
        }
        xml_value(model, r, value, member_name, &mut node, &p)?;
    }
    parent.children.push(node);
    Ok(())
}

fn xml_value(
    model: &ServiceModel,
    r: Ref<'_>,
    v: &Value,
    name: &str,
    parent: &mut El,
    path: &str,
) -> Result<(), BuildError> {
    match r.ty() {
        ShapeType::Structure if r.shape.document => Err(BuildError::Unsupported(format!(
            "{path}: document values in XML bodies"
        ))),
        ShapeType::Structure => {
            let Value::Object(obj) = v else {
                return Err(wrong_type(r, v, path));
            };
            xml_struct(model, r.shape, r.xml_namespace(), obj, name, parent, path)
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
            if r.flattened() {
                add_ns(parent, r.xml_namespace());
                for (i, item) in items.iter().enumerate() {
                    xml_value(model, mr, item, name, parent, &format!("{path}[{i}]"))?;
                }
            } else {
                let mut list = El::new(name);
                add_ns(&mut list, r.xml_namespace());
                let element = mr.location_name().unwrap_or("member");
                for (i, item) in items.iter().enumerate() {
                    xml_value(model, mr, item, element, &mut list, &format!("{path}[{i}]"))?;
                }
                parent.children.push(list);
            }
            Ok(())
        }
        ShapeType::Map => {
            let Value::Object(obj) = v else {
                return Err(wrong_type(r, v, path));
            };
            let (Some(kref), Some(vref)) = (r.shape.key.as_ref(), r.shape.value.as_ref()) else {
                return Err(BuildError::Model("map without key/value".into()));
            };
            let kr = model.resolve(kref)?;
            let vr = model.resolve(vref)?;
            let key_name = kr.location_name().unwrap_or("key");
            let val_name = vr.location_name().unwrap_or("value");
            let flattened = r.flattened();
            let mut node = El::new(name);
            add_ns(&mut node, r.xml_namespace());
            for (k, item) in obj {
                let p = format!("{path}.{k}");
                let mut entry = El::new(if flattened { name } else { "entry" });
                xml_value(
                    model,
                    kr,
                    &Value::String(k.clone()),
                    key_name,
                    &mut entry,
                    &p,
                )?;
                xml_value(model, vr, item, val_name, &mut entry, &p)?;
                if flattened {
                    parent.children.push(entry);
                } else {
                    node.children.push(entry);
                }
            }
            if !flattened {
                parent.children.push(node);
            }
            Ok(())
        }
        _ => {
            let mut node = El::new(name);
            node.text = scalar_text(r, v, path, TsFormat::Iso8601)?;
            add_ns(&mut node, r.xml_namespace());
            parent.children.push(node);
            Ok(())
        }
    }
}
