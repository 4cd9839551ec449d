//! Building, sending and reading one JSON-protocol AWS call.

use aws_credential_types::Credentials;
use serde_json::{Value, json};
use tollgate_aws::signed_http::SignedHttp;
use tollgate_core::NewRequest;
use tollgate_core::mask::{MaskRules, mask_with};
use tollgate_core::services::json_service;

/// Sends the call and returns the masked JSON answer, or an AWS error as `{code, message,
/// status}`.
pub async fn perform(
    http: &SignedHttp,
    creds: &Credentials,
    req: &NewRequest,
    endpoint_override: Option<&str>,
    rules: &MaskRules,
) -> Result<Value, Value> {
    let svc = json_service(req.action.service()).ok_or_else(|| {
        json!({"code": "UnsupportedService", "message": format!("service `{}` is not supported", req.action.service())})
    })?;
    let endpoint = match endpoint_override {
        Some(e) => e.trim_end_matches('/').to_string(),
        None => format!(
            "https://{}.{}.amazonaws.com",
            svc.endpoint_prefix, req.region
        ),
    };
    let body = Value::Object(req.params.clone()).to_string().into_bytes();
    let http_req = http::Request::post(format!("{endpoint}/"))
        .header("content-type", svc.content_type())
        .header("x-amz-target", svc.target(req.action.operation()))
        .body(body)
        .map_err(|e| json!({"code": "RequestBuildFailed", "message": e.to_string()}))?;
    let resp = http
        .send(http_req, creds, &req.region, svc.signing_name)
        .await
        .map_err(|e| json!({"code": "ServiceUnavailable", "message": e.message}))?;
    let mut parsed: Value = if resp.body.is_empty() {
        json!({})
    } else {
        serde_json::from_slice(&resp.body)
            .unwrap_or_else(|_| json!({"raw": String::from_utf8_lossy(&resp.body)}))
    };
    mask_with(&mut parsed, rules);
    if (200..300).contains(&resp.status) {
        Ok(parsed)
    } else {
        Err(aws_error(resp.status, &parsed, &resp.headers))
    }
}

/// AWS JSON errors name their type in `__type` (`prefix#Code` or bare) or the
/// `x-amzn-ErrorType` header, and the message in `message` or `Message`.
fn aws_error(status: u16, body: &Value, headers: &http::HeaderMap) -> Value {
    let raw_type = body
        .get("__type")
        .and_then(Value::as_str)
        .or_else(|| {
            headers
                .get("x-amzn-errortype")
                .and_then(|v| v.to_str().ok())
        })
        .unwrap_or("UnknownError");
    let code = raw_type
        .rsplit('#')
        .next()
        .unwrap_or(raw_type)
        .split(':')
        .next()
        .unwrap_or(raw_type);
    let message = body
        .get("message")
        .or_else(|| body.get("Message"))
        .and_then(Value::as_str)
        .unwrap_or("");
    json!({"code": code, "message": message, "status": status})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_aws_json_errors() {
        let body = json!({"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "message": "Requested resource not found"});
        let e = aws_error(400, &body, &http::HeaderMap::new());
        assert_eq!(
            e,
            json!({"code": "ResourceNotFoundException", "message": "Requested resource not found", "status": 400})
        );
        let mut h = http::HeaderMap::new();
        h.insert(
            "x-amzn-errortype",
            "AccessDenied:http://internal".parse().unwrap(),
        );
        let e = aws_error(403, &json!({"Message": "no"}), &h);
        assert_eq!(e["code"], "AccessDenied");
        assert_eq!(e["message"], "no");
    }
}
