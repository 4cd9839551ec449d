//! Synchronous Lambda invocation through the Lambda Invoke HTTP API, signed with the caller's
//! own credentials. Reuses the SigV4 caller instead of pulling in another SDK client.

use async_trait::async_trait;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use tollgate_core::{ApiError, ErrorCode};

use crate::ports::Invoker;
use crate::signed_http::SignedHttp;
use crate::unavailable;

#[derive(Clone, Debug)]
pub struct LambdaInvoker {
    http: SignedHttp,
    credentials: SharedCredentialsProvider,
    region: String,
    endpoint: String,
}

impl LambdaInvoker {
    pub fn new(
        credentials: SharedCredentialsProvider,
        region: String,
        endpoint: Option<String>,
    ) -> Self {
        let endpoint =
            endpoint.unwrap_or_else(|| tollgate_models::partition::regional_url("lambda", &region));
        Self {
            http: SignedHttp::new(),
            credentials,
            region,
            endpoint: endpoint.trim_end_matches('/').to_string(),
        }
    }
}

#[async_trait]
impl Invoker for LambdaInvoker {
    /// A function error is an error here, with the function's own error type in the log, not
    /// in the message.
    async fn invoke(&self, function: &str, payload: &Value) -> Result<Value, ApiError> {
        let creds = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| unavailable("credentials", e))?;
        let url = format!(
            "{}/2015-03-31/functions/{}/invocations",
            self.endpoint,
            utf8_percent_encode(function, NON_ALPHANUMERIC)
        );
        let req = http::Request::post(url)
            .header("content-type", "application/json")
            .header("x-amz-invocation-type", "RequestResponse")
            .body(payload.to_string().into_bytes())
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let resp = self.http.send(req, &creds, &self.region, "lambda").await?;
        if !(200..300).contains(&resp.status) {
            return Err(unavailable(
                "Lambda",
                format!("invoke answered HTTP {}", resp.status),
            ));
        }
        if let Some(kind) = resp.headers.get("x-amz-function-error") {
            tracing::error!(function, error_kind = ?kind, body = %String::from_utf8_lossy(&resp.body), "function failed");
            return Err(ApiError::new(
                ErrorCode::Internal,
                "the executor failed; see the request's status",
            ));
        }
        serde_json::from_slice(&resp.body)
            .map_err(|e| ApiError::internal(format!("function answered non-JSON: {e}")))
    }
}
