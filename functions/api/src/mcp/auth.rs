//! Authorization as the MCP specification asks of a resource server: protected-resource
//! metadata (RFC 9728) naming the agent issuers as authorization servers, and a 401 that
//! points there, so a client with no token can find where to get one. Tokens themselves are
//! the API's agent tokens, checked by the same verifier as `/v1`.

use serde_json::json;
use tollgate_core::ApiError;

use crate::{Api, Response};

/// Where the metadata lives for the resource `{public_url}/mcp` (RFC 9728 §3.1 inserts the
/// resource's path after the well-known prefix).
pub(crate) const METADATA_PATH: &str = "/.well-known/oauth-protected-resource/mcp";

impl Api {
    /// The MCP endpoint's canonical URL: the resource its tokens are for.
    pub(crate) fn mcp_resource(&self) -> String {
        format!("{}/mcp", self.settings.public_url.trim_end_matches('/'))
    }

    /// `GET /.well-known/oauth-protected-resource[/mcp]`.
    pub(crate) fn resource_metadata(&self) -> Response {
        let servers: Vec<&str> = self
            .settings
            .agent_issuers
            .iter()
            .map(|i| i.issuer.as_str())
            .collect();
        Response::json(
            200,
            &json!({
                "resource": self.mcp_resource(),
                "authorization_servers": servers,
                "bearer_methods_supported": ["header"],
                "resource_name": "Tollgate",
            }),
        )
    }

    /// The 401 that starts a client's sign-in. RFC 6750 §3: no error code when the request
    /// carried no credentials, `invalid_token` when the token it carried was refused (the
    /// reason in the body, never the token).
    pub(crate) fn challenge(&self, e: &ApiError, had_token: bool) -> Response {
        let metadata = format!(
            "{}{METADATA_PATH}",
            self.settings.public_url.trim_end_matches('/')
        );
        let mut value = format!("Bearer resource_metadata=\"{metadata}\"");
        if had_token {
            value.push_str(", error=\"invalid_token\"");
        }
        Response::error(e).with_header("www-authenticate", value)
    }
}
