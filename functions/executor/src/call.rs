//! The approved call, sent with the scoped credentials (`tollgate_aws::model_call`), its
//! answer masked and what `@unmask` reveals split off.

use aws_credential_types::Credentials;
use serde_json::{Value, json};
use tollgate_aws::model_call::{self, CallError};
use tollgate_aws::ports::SignedCaller;
use tollgate_core::answer_size::{self, MAX_WIRE_ANSWER_BYTES};
use tollgate_core::mask::{MaskRules, mask_answer};
use tollgate_core::reveal::{self, Revealed};
use tollgate_core::{Failure, FailureCode, NewRequest};

/// The region the call is signed for: the request's, or a global service's fixed one.
pub fn signing_region(req: &NewRequest) -> String {
    model_call::signing_region(&req.action, &req.params, &req.region)
}

/// An answer the executor stopped reading. A success is kept as a summary that says so (the
/// call ran); an error that large is not AWS's usual few hundred bytes, and is refused as it.
fn too_large(status: u16, length: Option<u64>) -> Result<(Value, Vec<Revealed>), Failure> {
    let summary = answer_size::too_large(status, MAX_WIRE_ANSWER_BYTES, length);
    if (200..300).contains(&status) {
        return Ok((summary, vec![]));
    }
    Err(Failure::aws(
        "AnswerTooLarge",
        summary["message"].as_str().unwrap_or("answer too large"),
        status,
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
    match model_call::call(
        http,
        creds,
        &req.action,
        &req.params,
        &req.region,
        endpoint_override,
    )
    .await
    {
        Ok(v) => Ok(reveal::split(req.action.service(), v, rules)),
        Err(CallError::Unknown(m)) => Err(Failure::new(FailureCode::UnknownOperation, m)),
        Err(CallError::Build(m)) => Err(Failure::new(FailureCode::RequestBuildFailed, m)),
        Err(CallError::Unavailable(e)) => Err(Failure::not_sent(e.message)),
        Err(CallError::Unanswered(e)) => Err(Failure::answer_lost(e.message)),
        Err(CallError::TooLarge { status, length }) => too_large(status, length),
        Err(CallError::Aws(e)) => {
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
