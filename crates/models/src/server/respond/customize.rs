//! boto3's output conveniences undone before encoding (`response::customize` applies them):
//! IAM policy documents (decoded to JSON) URL-encoded again, EC2 console output base64-encoded again,
//! CloudFormation templates parsed from JSON written back as text. S3's `Expires` and
//! `ExpiresString` are the rest encoder's.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::encode::{b64_encode, percent_encode};
use crate::model::{ServiceModel, Shape};
use crate::response::customize::each_policy_document;

pub(super) fn prepare<'a>(
    model: &ServiceModel,
    operation: &str,
    shape: Option<&Shape>,
    obj: &'a Map<String, Value>,
) -> Cow<'a, Map<String, Value>> {
    let Some(shape) = shape else {
        return Cow::Borrowed(obj);
    };
    match (model.service_name(), operation) {
        ("iam", _) => {
            let mut out = obj.clone();
            encode_policies(model, shape, &mut out);
            Cow::Owned(out)
        }
        ("ec2", "GetConsoleOutput") => match obj.get("Output") {
            Some(Value::String(s)) => {
                let mut out = obj.clone();
                out.insert("Output".into(), Value::String(b64_encode(s.as_bytes())));
                Cow::Owned(out)
            }
            _ => Cow::Borrowed(obj),
        },
        ("cloudformation", "GetTemplate") => match obj.get("TemplateBody") {
            Some(v) if !v.is_string() && !v.is_null() => {
                let mut out = obj.clone();
                out.insert("TemplateBody".into(), Value::String(v.to_string()));
                Cow::Owned(out)
            }
            _ => Cow::Borrowed(obj),
        },
        _ => Cow::Borrowed(obj),
    }
}

/// IAM sends policy documents URL-encoded; boto3 decoded only those that were JSON, so a
/// string is left as IAM sent it.
fn encode_policies(model: &ServiceModel, shape: &Shape, v: &mut Map<String, Value>) {
    each_policy_document(model, shape, v, 0, &mut |value| {
        if !matches!(value, Value::String(_) | Value::Null) {
            *value = Value::String(percent_encode(&value.to_string()));
        }
    });
}
