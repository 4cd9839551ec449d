//! `POST /v1/credentials`: an agent trades its token for gateway credentials, which its
//! unmodified AWS CLI or SDK signs front-door calls with.

use serde_json::{Value, json};
use tollgate_aws::now_ms;
use tollgate_core::gateway_credentials::{self, IssueError, Terms};
use tollgate_core::{ApiError, ErrorCode};

use crate::{Api, Request, Response, header};

impl Api {
    pub(crate) async fn credentials(&self, req: &Request) -> Result<Response, ApiError> {
        let agent = self
            .agents
            .verify_bearer(header(req, "authorization"))
            .await?;
        // The verifier refuses tokens without an expiry; this only reads it.
        let token_exp = agent
            .claims
            .get("exp")
            .and_then(Value::as_u64)
            .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "token: has no `exp` claim"))?;
        let terms = terms(req.body())?;
        if let Some(t) = &terms.target {
            tollgate_core::request::validate_target(t).map_err(|m| ApiError::field("target", m))?;
        }
        // Checked now so that a misspelt target fails here, not on every call; a target
        // removed later fails each call as `POST /v1/requests` fails it.
        let target = terms
            .target
            .as_deref()
            .unwrap_or(gateway_credentials::DEFAULT_TARGET);
        if !self.settings.targets.contains_key(target) {
            let known: Vec<&str> = self.settings.targets.keys().map(String::as_str).collect();
            return Err(ApiError::field(
                "target",
                format!(
                    "no target named `{target}` is configured (configured: {})",
                    known.join(", ")
                ),
            ));
        }
        let now = now_ms() / 1000;
        let c =
            gateway_credentials::issue(&self.keys.gateway, &agent.identity, token_exp, now, &terms)
                .map_err(|e| match e {
                    IssueError::TokenExpiresTooSoon => ApiError::new(
                        ErrorCode::Unauthorized,
                        format!(
                            "token: expires in under {} s; get a fresh token first",
                            gateway_credentials::MIN_LIFETIME_SECONDS
                        ),
                    ),
                    IssueError::TooLarge => ApiError::new(
                        ErrorCode::InvalidRequest,
                        "token: the identity it carries is too large for a session token",
                    ),
                    IssueError::WaitTooLong => wait_error(),
                    IssueError::InvalidTarget => {
                        ApiError::field("target", "must be 1 to 64 letters, digits, `-` or `_`")
                    }
                    IssueError::NoRandomness => ApiError::internal("no randomness for credentials"),
                })?;
        // Credentials with nowhere to send them are no use: nothing is answered without the URL.
        let endpoint_url = self
            .front_door_url
            .get(&self.settings.public_url)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "the front door's URL cannot be read");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "the front door's URL cannot be read; try again shortly",
                )
            })?;
        // The key id is no secret and ties later front-door log lines to this issue.
        tracing::info!(agent = %agent.identity.subject, access_key_id = %c.access_key_id, expires_at = c.expires_at, "gateway credentials issued");
        Ok(Response::json(
            200,
            &json!({
                "access_key_id": c.access_key_id,
                "secret_access_key": c.secret_access_key,
                "session_token": c.session_token,
                "expiration": tollgate_core::time::iso8601(c.expires_at * 1000),
                "expires_at": c.expires_at,
                "endpoint_url": endpoint_url,
                "region": self.settings.default_region,
                "wait_seconds": terms.wait_seconds,
                "target": target,
            }),
        ))
    }
}

/// The optional body: `{"wait_seconds": n, "target": "name"}` — how long a held call signed
/// with these credentials waits for its decision before answering "approval required", and
/// the target its calls act in.
fn terms(body: &[u8]) -> Result<Terms, ApiError> {
    let obj = crate::body::object(body, &["wait_seconds", "target"])?;
    let wait_seconds = match obj.get("wait_seconds") {
        None | Some(Value::Null) => 0,
        // The bound is core's (`IssueError::WaitTooLong`).
        // JSON has one kind of number: `7.0` is the whole number 7.
        Some(v) => v
            .as_u64()
            .or_else(|| {
                v.as_f64()
                    .filter(|f| f.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(f))
                    .map(|f| f as u64)
            })
            .ok_or_else(wait_error)?,
    };
    let target = match obj.get("target") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(_) => return Err(ApiError::field("target", "must be a string")),
    };
    Ok(Terms {
        wait_seconds,
        target,
    })
}

fn wait_error() -> ApiError {
    ApiError::field(
        "wait_seconds",
        format!(
            "must be a whole number of seconds from 0 to {} (API Gateway closes a connection after 30 s)",
            gateway_credentials::MAX_WAIT_SECONDS
        ),
    )
}
