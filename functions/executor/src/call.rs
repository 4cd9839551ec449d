//! One AWS call from the operation models: built by the service's own protocol, signed with
//! the scoped credentials, and read back into JSON shaped like the output shape.

use aws_credential_types::Credentials;
use serde_json::{Value, json};
use tollgate_aws::ports::SignedCaller;
use tollgate_core::answer_size::{self, MAX_WIRE_ANSWER_BYTES};
use tollgate_core::mask::{MaskRules, mask_answer};
use tollgate_core::reveal::{self, Revealed};
use tollgate_core::{Failure, FailureCode, NewRequest};

/// The region the call is signed for: the request's, or a global service's fixed one.
pub fn signing_region(req: &NewRequest) -> String {
    tollgate_models::find(req.action.service(), req.action.operation())
        .and_then(|(model, op)| {
            tollgate_models::build_request(&model, &op, &req.params, &req.region, None).ok()
        })
        .map(|r| r.signing_region)
        .unwrap_or_else(|| req.region.clone())
}

/// An answer the executor stopped reading. A success is kept as a summary that says so (the
/// call ran); an error that large is not AWS's usual few hundred bytes, and is refused as it.
fn too_large(
    resp: &tollgate_aws::signed_http::RawResponse,
) -> Result<(Value, Vec<Revealed>), Failure> {
    let length = resp
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let summary = answer_size::too_large(resp.status, MAX_WIRE_ANSWER_BYTES, length);
    if (200..300).contains(&resp.status) {
        return Ok((summary, vec![]));
    }
    Err(Failure::aws(
        "AnswerTooLarge",
        summary["message"].as_str().unwrap_or("answer too large"),
        resp.status,
    ))
}

/// Sends the call and returns the JSON answer masked for everyone, with what `@unmask`
/// reveals to the requesting agent beside it; or why it failed: AWS's error (its message
/// masked for everyone: errors echo what was sent, and reveal nothing), or why it could not
/// be sent.
pub async fn perform(
    http: &dyn SignedCaller,
    creds: &Credentials,
    req: &NewRequest,
    endpoint_override: Option<&str>,
    rules: &MaskRules,
) -> Result<(Value, Vec<Revealed>), Failure> {
    let (model, operation) = tollgate_models::find(req.action.service(), req.action.operation())
        .ok_or_else(|| {
            Failure::new(
                FailureCode::UnknownOperation,
                format!("{} is not in the AWS API models", req.action),
            )
        })?;
    let build_failed = |e: String| Failure::new(FailureCode::RequestBuildFailed, e);
    let built = tollgate_models::build_request(
        &model,
        &operation,
        &req.params,
        &req.region,
        endpoint_override,
    )
    .map_err(|e| build_failed(e.to_string()))?;
    let mut builder = http::Request::builder()
        .method(built.method.as_str())
        .uri(&built.url);
    for (k, v) in &built.headers {
        builder = builder.header(k, v);
    }
    let request = builder
        .body(built.body)
        .map_err(|e| build_failed(e.to_string()))?;
    let resp = http
        .send(request, creds, &built.signing_region, &built.signing_name)
        .await
        .map_err(|e| Failure::new(FailureCode::ServiceUnavailable, e.message))?;
    if resp.too_large {
        return too_large(&resp);
    }
    let headers: Vec<(String, String)> = resp
        .headers
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_string(), v.to_string()))
        })
        .collect();
    match tollgate_models::parse_response(&model, &operation, resp.status, &headers, &resp.body) {
        Ok(v) => Ok(reveal::split(req.action.service(), v, rules)),
        Err(e) => {
            let mut v = json!({"code": e.code, "message": e.message});
            // Error messages can echo what was sent; they get the same treatment, and reveal
            // nothing even to the agent.
            let for_everyone = MaskRules {
                mask: rules.mask.clone(),
                unmask: vec![],
            };
            mask_answer(req.action.service(), &mut v, &for_everyone);
            let text = |v: &Value| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Err(Failure::aws(
                text(&v["code"]),
                text(&v["message"]),
                e.status,
            ))
        }
    }
}
