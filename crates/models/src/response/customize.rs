//! The output conveniences boto3 applies after parsing (botocore's `after-call` handlers).

use percent_encoding::percent_decode_str;
use serde_json::{Map, Value};

use super::{Headers, MAX_DEPTH};
use crate::encode::b64_decode;
use crate::model::{Location, ServiceModel, Shape, ShapeType};
use crate::timestamp::Timestamp;

/// The output conveniences boto3 applies (botocore's `after-call` handlers): IAM policy
/// documents decoded to JSON, EC2 console output decoded, CloudFormation JSON templates
/// parsed, S3's raw `Expires` header kept as `ExpiresString`.
pub(super) fn customize_output(
    model: &ServiceModel,
    operation: &str,
    shape: &Shape,
    headers: &Headers,
    out: &mut Map<String, Value>,
) {
    match model.service_name() {
        "iam" => decode_policies(model, shape, out),
        "ec2" if operation == "GetConsoleOutput" => {
            if let Some(Value::String(s)) = out.get("Output")
                && let Some(bytes) = b64_decode(s)
            {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                out.insert("Output".into(), Value::String(text));
            }
        }
        "cloudformation" if operation == "GetTemplate" => {
            if let Some(Value::String(s)) = out.get("TemplateBody")
                && let Ok(v) = serde_json::from_str::<Value>(s)
            {
                out.insert("TemplateBody".into(), v);
            }
        }
        "s3" => {
            let has_expires = shape.members.get("Expires").is_some_and(|m| {
                m.location == Some(Location::Header)
                    && m.location_name.as_deref() == Some("Expires")
            });
            if has_expires && let Some(raw) = headers.get("Expires") {
                // botocore's sdk-extras make `Expires` a timestamp (the generated data keeps
                // the model's string); the raw header goes to `ExpiresString`.
                out.insert("ExpiresString".into(), Value::String(raw.to_string()));
                match Timestamp::parse(raw) {
                    Some(t) => {
                        out.insert("Expires".into(), Value::String(t.python_iso()));
                    }
                    None => {
                        out.remove("Expires");
                    }
                }
            }
        }
        _ => {}
    }
}

/// IAM returns policy documents URL-encoded; boto3 decodes them into JSON.
fn decode_policies(model: &ServiceModel, shape: &Shape, v: &mut Map<String, Value>) {
    each_policy_document(model, shape, v, 0, &mut |value| {
        if let Value::String(s) = value {
            let decoded = percent_decode_str(s).decode_utf8_lossy().into_owned();
            if let Ok(doc) = serde_json::from_str::<Value>(&decoded) {
                *value = doc;
            }
        }
    });
}

/// Calls `f` on every IAM policy document (a `policyDocumentType` member) in `v`, in
/// structures and lists of structures.
pub(crate) fn each_policy_document(
    model: &ServiceModel,
    shape: &Shape,
    v: &mut Map<String, Value>,
    depth: usize,
    f: &mut dyn FnMut(&mut Value),
) {
    if depth > MAX_DEPTH {
        return;
    }
    for (name, mref) in &shape.members {
        let Some(value) = v.get_mut(name) else {
            continue;
        };
        let Ok(r) = model.resolve(mref) else {
            continue;
        };
        match (r.ty(), value) {
            (ShapeType::String, value) if mref.shape == "policyDocumentType" => f(value),
            (ShapeType::Structure, Value::Object(m)) => {
                each_policy_document(model, r.shape, m, depth + 1, f)
            }
            (ShapeType::List, Value::Array(items)) => {
                let Some(mr) = r.shape.member.as_ref().and_then(|m| model.resolve(m).ok()) else {
                    continue;
                };
                if mr.ty() == ShapeType::Structure {
                    for item in items {
                        if let Value::Object(m) = item {
                            each_policy_document(model, mr.shape, m, depth + 1, f);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}
