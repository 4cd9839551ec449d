//! Parameter customizations botocore applies before serializing (its `before-parameter-build`
//! handlers).

use serde_json::{Map, Value};

use super::BuildError;
use crate::encode::{b64_encode, percent_encode_greedy, uuid4};
use crate::model::{Location, ServiceModel, Shape};
use crate::timestamp::Timestamp;

/// Parameter customizations botocore applies before serializing: idempotency tokens, S3's
/// `CopySource` quoting, Route 53 id prefixes, `UserData` base64 (EC2 RunInstances,
/// Auto Scaling CreateLaunchConfiguration); refuses
/// SSE-C keys without their MD5.
pub(super) fn prepare_params(
    model: &ServiceModel,
    operation: &str,
    input: Option<&Shape>,
    params: &Map<String, Value>,
) -> Result<Map<String, Value>, BuildError> {
    let mut params: Map<String, Value> = params
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let Some(input) = input else {
        return Ok(params);
    };
    for (name, m) in &input.members {
        if m.idempotency_token && !params.contains_key(name) {
            params.insert(name.clone(), Value::String(uuid4()));
        }
    }
    if model.is_s3() {
        for prefix in ["SSECustomer", "CopySourceSSECustomer"] {
            if params.contains_key(&format!("{prefix}Key"))
                && !params.contains_key(&format!("{prefix}KeyMD5"))
            {
                return Err(BuildError::Unsupported(format!(
                    "{prefix}Key without {prefix}KeyMD5 (give the key base64-encoded and its \
                     base64 MD5 digest)"
                )));
            }
        }
        // botocore's sdk-extras make S3's `Expires` a timestamp (an HTTP date header); the
        // generated model keeps it a string, so convert what parses as a date. A bare number
        // (`-1`, HTTP's "already expired") is sent as it is, as an SDK client sent it.
        if input
            .members
            .get("Expires")
            .is_some_and(|m| m.location == Some(Location::Header))
            && let Some(Value::String(e)) = params.get("Expires")
            && e.trim().parse::<f64>().is_err()
            && let Some(t) = Timestamp::parse(e)
        {
            params.insert("Expires".into(), Value::String(t.truncated().rfc822()));
        }
        if let Some(Value::String(src)) = params.get("CopySource") {
            let quoted = quote_copy_source(src);
            params.insert("CopySource".into(), Value::String(quoted));
        }
    }
    if matches!(
        (model.service_name(), operation),
        ("ec2", "RunInstances") | ("autoscaling", "CreateLaunchConfiguration")
    ) && let Some(Value::String(u)) = params.get("UserData")
    {
        // botocore base64-encodes this UserData (given as the script itself).
        let encoded = b64_encode(u.as_bytes());
        params.insert("UserData".into(), Value::String(encoded));
    }
    if model.service_name() == "route53" {
        for (name, m) in &input.members {
            if matches!(
                m.shape.as_str(),
                "ResourceId" | "DelegationSetId" | "ChangeId"
            ) && let Some(Value::String(s)) = params.get(name)
            {
                let last = s.rsplit('/').next().unwrap_or(s).to_string();
                params.insert(name.clone(), Value::String(last));
            }
        }
    }
    Ok(params)
}

/// botocore's `_quote_source_header`: percent-encode `bucket/key`, keeping `/` and a trailing
/// `?versionId=...` as is.
pub(crate) fn quote_copy_source(src: &str) -> String {
    if let Some(i) = src.rfind("?versionId=") {
        let version = &src[i..];
        if version.len() > "?versionId=".len() && !version.chars().any(char::is_whitespace) {
            return format!("{}{}", percent_encode_greedy(&src[..i]), version);
        }
    }
    percent_encode_greedy(src)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_copy_source() {
        assert_eq!(quote_copy_source("b/a b/c+d"), "b/a%20b/c%2Bd");
        assert_eq!(
            quote_copy_source("b/k y?versionId=abc+1"),
            "b/k%20y?versionId=abc+1"
        );
    }
}
