//! The approver's browser sign-in: OpenID Connect authorization code flow with PKCE
//! (RFC 7636, `S256`). This side finds the provider's endpoints by discovery and exchanges a
//! code for an ID token; the token is then checked like any other by [`super::Verifier`].

use serde::Deserialize;
use tollgate_core::{ApiError, ErrorCode};

/// The endpoints of a provider, from `{issuer}/.well-known/openid-configuration`.
#[derive(Debug, Clone, Deserialize)]
pub struct ProviderEndpoints {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
}

fn unavailable(what: &str) -> ApiError {
    tracing::warn!(what, "identity provider call failed");
    ApiError::new(
        ErrorCode::Unavailable,
        "the approvers' identity provider is unavailable; try again",
    )
}

fn refused(message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message.to_string())
        .with_detail(serde_json::json!({"reason": "sign_in_failed"}))
}

pub struct CodeFlow {
    http: reqwest::Client,
}

impl Default for CodeFlow {
    fn default() -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
        }
    }
}

impl CodeFlow {
    /// Discovers `issuer`'s endpoints. The document must name the same issuer (OIDC
    /// Discovery §4.3), or a misdirected fetch could send approvers elsewhere.
    pub async fn discover(&self, issuer: &str) -> Result<ProviderEndpoints, ApiError> {
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let resp = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|_| unavailable("discovery"))?;
        if !resp.status().is_success() {
            return Err(unavailable("discovery"));
        }
        let doc: ProviderEndpoints = resp.json().await.map_err(|_| unavailable("discovery"))?;
        if doc.issuer != issuer {
            return Err(unavailable("discovery names another issuer"));
        }
        Ok(doc)
    }

    /// Exchanges an authorization code for the provider's ID token.
    pub async fn exchange(
        &self,
        endpoints: &ProviderEndpoints,
        client_id: &str,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<String, ApiError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("client_id", client_id)
            .append_pair("code_verifier", code_verifier)
            .finish();
        let resp = self
            .http
            .post(&endpoints.token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|_| unavailable("token"))?;
        let status = resp.status();
        let v: serde_json::Value = resp.json().await.unwrap_or_default();
        if !status.is_success() {
            // The provider's error code is safe to show (`invalid_grant`); codes and verifiers
            // never appear in the message.
            let code = v.get("error").and_then(|e| e.as_str()).unwrap_or("error");
            return Err(refused(&format!(
                "the identity provider refused the sign-in ({code}); sign in again"
            )));
        }
        v.get("id_token")
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .ok_or_else(|| refused("the identity provider returned no ID token"))
    }
}
