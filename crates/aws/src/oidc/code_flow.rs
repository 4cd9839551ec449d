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
    /// How the token endpoint authenticates clients; absent means `client_secret_basic`
    /// (OIDC Discovery §3).
    #[serde(default)]
    pub token_endpoint_auth_methods_supported: Vec<String>,
}

impl ProviderEndpoints {
    /// Whether a client secret goes in the form (`client_secret_post`) rather than in HTTP
    /// Basic authentication, the default every provider must support unless it names others.
    fn secret_in_form(&self) -> bool {
        let m = &self.token_endpoint_auth_methods_supported;
        !m.is_empty()
            && !m.iter().any(|x| x == "client_secret_basic")
            && m.iter().any(|x| x == "client_secret_post")
    }
}

/// The client's credentials at the token endpoint: its id, and its secret when the provider
/// requires one. The secret is never logged or shown.
pub struct Client<'a> {
    pub id: &'a str,
    pub secret: Option<&'a str>,
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
        client: &Client<'_>,
        code: &str,
        redirect_uri: &str,
        code_verifier: &str,
    ) -> Result<String, ApiError> {
        // Built in a block: the serializer is not Send, and must not live across an await.
        let (body, basic) = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "authorization_code")
                .append_pair("code", code)
                .append_pair("redirect_uri", redirect_uri)
                .append_pair("client_id", client.id)
                .append_pair("code_verifier", code_verifier);
            let mut basic = None;
            if let Some(secret) = client.secret {
                if endpoints.secret_in_form() {
                    form.append_pair("client_secret", secret);
                } else {
                    basic = Some(basic_credentials(client.id, secret));
                }
            }
            (form.finish(), basic)
        };
        let mut request = self
            .http
            .post(&endpoints.token_endpoint)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json");
        if let Some(b) = basic {
            request = request.header("authorization", b);
        }
        let resp = request
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

/// `Basic base64(id:secret)`, each form-urlencoded first (RFC 6749 §2.3.1), so a `:` in
/// either cannot move the split.
fn basic_credentials(id: &str, secret: &str) -> String {
    use base64::Engine;
    let enc = |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", enc(id), enc(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoints(methods: &[&str]) -> ProviderEndpoints {
        ProviderEndpoints {
            issuer: "https://i".into(),
            authorization_endpoint: "https://i/a".into(),
            token_endpoint: "https://i/t".into(),
            token_endpoint_auth_methods_supported: methods.iter().map(|m| m.to_string()).collect(),
        }
    }

    #[test]
    fn the_secret_goes_in_basic_unless_the_provider_takes_only_the_form() {
        assert!(!endpoints(&[]).secret_in_form());
        assert!(!endpoints(&["client_secret_basic", "client_secret_post"]).secret_in_form());
        assert!(endpoints(&["client_secret_post", "private_key_jwt"]).secret_in_form());
        assert!(!endpoints(&["private_key_jwt"]).secret_in_form());
    }

    #[test]
    fn basic_credentials_encode_before_joining() {
        use base64::Engine;
        let b = basic_credentials("my:client", "s3cr+t/");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b.strip_prefix("Basic ").unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(decoded).unwrap(),
            "my%3Aclient:s3cr%2Bt%2F"
        );
    }
}
