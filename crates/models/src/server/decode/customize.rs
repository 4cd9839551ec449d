//! botocore's parameter customizations undone, so that the decoded parameters build the same
//! request again (`request::customize` applies them): S3's quoted `CopySource`, the base64
//! `UserData` of EC2 RunInstances and Auto Scaling CreateLaunchConfiguration.

use serde_json::Value;

use super::{Params, percent_decode};
use crate::encode::b64_decode;
use crate::model::ServiceModel;
use crate::server::{DecodeError, DecodeErrorKind};

pub(super) fn reverse(
    model: &ServiceModel,
    operation: &str,
    params: &mut Params,
) -> Result<(), DecodeError> {
    if model.is_s3()
        && let Some(Value::String(src)) = params.get("CopySource")
    {
        let unquoted = unquote_copy_source(src);
        params.insert("CopySource".into(), Value::String(unquoted));
    }
    if matches!(
        (model.service_name(), operation),
        ("ec2", "RunInstances") | ("autoscaling", "CreateLaunchConfiguration")
    ) && let Some(Value::String(u)) = params.get("UserData")
    {
        let text = b64_decode(u)
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| {
                DecodeError::new(
                    DecodeErrorKind::Unsupported,
                    "params.UserData",
                    "UserData must be base64-encoded UTF-8 text (a script or cloud-init \
                     file): Tollgate passes it on as text, so binary (gzip) UserData cannot \
                     go through the front door",
                )
            })?;
        params.insert("UserData".into(), Value::String(text));
    }
    Ok(())
}

/// The inverse of `request::customize::quote_copy_source`: `bucket/key` percent-decoded, a
/// trailing `?versionId=...` kept as it is. Text that is not valid percent-encoding is kept.
fn unquote_copy_source(src: &str) -> String {
    let (head, version) = match src.rfind("?versionId=") {
        Some(i) => src.split_at(i),
        None => (src, ""),
    };
    match percent_decode(head, false) {
        Some(h) => format!("{h}{version}"),
        None => src.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::unquote_copy_source;
    use crate::request::customize::quote_copy_source;

    #[test]
    fn copy_source_round_trips() {
        for s in ["b/a b/c+d", "b/k y?versionId=abc+1", "b/100%", "b/é/%41"] {
            assert_eq!(unquote_copy_source(&quote_copy_source(s)), s, "{s}");
        }
        assert_eq!(unquote_copy_source("b/%zz"), "b/%zz");
    }
}
