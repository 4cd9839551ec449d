//! One call of any AWS operation from the operation models: built by the service's own
//! protocol, signed with the credentials given, and read back into JSON shaped like the
//! output shape. The executor runs approved calls with it, the notifier its preview reads.

use aws_credential_types::Credentials;
use serde_json::{Map, Value};
use tollgate_core::{Action, ApiError};
use tollgate_models::AwsError;

use crate::ports::{SendError, SignedCaller};

/// Why a call has no answer.
#[derive(Debug)]
pub enum CallError {
    /// The operation is not in the models.
    Unknown(String),
    /// The request could not be built from the parameters.
    Build(String),
    /// It could not be sent: nothing reached the service.
    Unavailable(ApiError),
    /// It was sent and its answer was lost: the service may have run it.
    Unanswered(ApiError),
    /// AWS answered with an error.
    Aws(AwsError),
    /// The answer was longer than the caller reads (`SignedCaller`'s bound): reading stopped.
    TooLarge {
        status: u16,
        /// What the answer's `Content-Length` said, when it said.
        length: Option<u64>,
    },
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Unknown(m) | CallError::Build(m) => f.write_str(m),
            CallError::Unavailable(e) | CallError::Unanswered(e) => f.write_str(&e.message),
            CallError::Aws(e) => write!(f, "{}: {}", e.code, e.message),
            CallError::TooLarge { status, .. } => {
                write!(f, "the answer (HTTP {status}) was too large to read")
            }
        }
    }
}

/// The region a call is signed for: the request's, or a global service's fixed one.
pub fn signing_region(action: &Action, params: &Map<String, Value>, region: &str) -> String {
    tollgate_models::find(action.service(), action.operation())
        .and_then(|(model, op)| {
            tollgate_models::build_request(&model, &op, params, region, None).ok()
        })
        .map(|r| r.signing_region)
        .unwrap_or_else(|| region.to_string())
}

/// A call built for the wire, not yet signed or sent: what goes out can be checked first.
pub struct Built {
    model: std::sync::Arc<tollgate_models::ServiceModel>,
    operation: String,
    request: tollgate_models::HttpRequest,
}

impl Built {
    /// The body as it will be sent.
    pub fn body(&self) -> &[u8] {
        &self.request.body
    }
}

/// Builds `action` with `params` in `region` (for `endpoint_override` when set).
pub fn build(
    action: &Action,
    params: &Map<String, Value>,
    region: &str,
    endpoint_override: Option<&str>,
) -> Result<Built, CallError> {
    let (model, operation) = tollgate_models::find(action.service(), action.operation())
        .ok_or_else(|| CallError::Unknown(format!("{action} is not in the AWS API models")))?;
    let request =
        tollgate_models::build_request(&model, &operation, params, region, endpoint_override)
            .map_err(|e| CallError::Build(e.to_string()))?;
    Ok(Built {
        model,
        operation,
        request,
    })
}

/// Sends `action` with `params` in `region` (to `endpoint_override` when set) and returns
/// the answer as JSON, unmasked: the caller masks it.
pub async fn call(
    http: &dyn SignedCaller,
    creds: &Credentials,
    action: &Action,
    params: &Map<String, Value>,
    region: &str,
    endpoint_override: Option<&str>,
) -> Result<Value, CallError> {
    send(
        http,
        creds,
        build(action, params, region, endpoint_override)?,
    )
    .await
}

/// Signs and sends a built call and reads its answer back as JSON, unmasked.
pub async fn send(
    http: &dyn SignedCaller,
    creds: &Credentials,
    built: Built,
) -> Result<Value, CallError> {
    let Built {
        model,
        operation,
        request: built,
    } = built;
    let mut builder = http::Request::builder()
        .method(built.method.as_str())
        .uri(&built.url);
    for (k, v) in &built.headers {
        builder = builder.header(k, v);
    }
    let request = builder
        .body(built.body)
        .map_err(|e| CallError::Build(e.to_string()))?;
    let resp = http
        .send(request, creds, &built.signing_region, &built.signing_name)
        .await
        .map_err(|e| match e {
            SendError::NotSent(e) => CallError::Unavailable(e),
            SendError::Unanswered(e) => CallError::Unanswered(e),
        })?;
    if resp.too_large {
        let length = resp
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse().ok());
        return Err(CallError::TooLarge {
            status: resp.status,
            length,
        });
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
    tollgate_models::parse_response(&model, &operation, resp.status, &headers, &resp.body)
        .map_err(CallError::Aws)
}
