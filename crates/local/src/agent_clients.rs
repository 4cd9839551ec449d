//! The dev issuer as an MCP client's authorization server: dynamic client registration
//! (RFC 7591) for public clients, and the agents a person signs in as. A hosted MCP client
//! registers itself, sends its user here to pick an agent identity, and redeems the code for
//! an agent token (the agent audience), which `/mcp` verifies like any agent token.
//! Registration is open, as it is on the providers MCP clients meet; it grants nothing by
//! itself: every token still comes from a person's sign-in with PKCE.

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::answer::Answer;

/// Agent identities to sign in as.
pub const DEV_AGENTS: [(&str, &str); 3] = [
    ("claude", "Claude (an AI agent)"),
    ("ci-bot", "ci-bot (a CI agent)"),
    ("dave-agent", "Dave's agent"),
];

/// Registrations kept at most; the oldest make way (the local stack is not long-lived, but
/// an endless loop of registrations must not grow it without bound).
const MAX_CLIENTS: usize = 1_000;
const MAX_REDIRECT_URIS: usize = 10;
const MAX_URI_LEN: usize = 2_000;

#[derive(Default)]
pub struct Clients(Mutex<HashMap<String, Registered>>);

struct Registered {
    redirect_uris: Vec<String>,
    at_ms: u64,
}

#[derive(Deserialize)]
struct Registration {
    redirect_uris: Option<Vec<String>>,
    client_name: Option<String>,
    grant_types: Option<Vec<String>>,
    response_types: Option<Vec<String>>,
    application_type: Option<String>,
}

fn invalid(code: &str, description: &str) -> Answer {
    Answer::Json(
        400,
        json!({"error": code, "error_description": description}),
    )
}

/// A redirect URI a public client may register: https, or http on the loopback (native apps,
/// RFC 8252 §7.3); no fragment (RFC 6749 §3.1.2).
fn redirect_ok(uri: &str) -> bool {
    let Ok(u) = url::Url::parse(uri) else {
        return false;
    };
    let loopback = matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    uri.len() <= MAX_URI_LEN
        && u.fragment().is_none()
        && (u.scheme() == "https" || (u.scheme() == "http" && loopback))
}

impl Clients {
    /// `POST /register`.
    pub fn register(&self, body: &[u8]) -> Answer {
        let Ok(r) = serde_json::from_slice::<Registration>(body) else {
            return invalid(
                "invalid_client_metadata",
                "body: must be a JSON object of client metadata",
            );
        };
        let uris = r.redirect_uris.unwrap_or_default();
        if uris.is_empty() || uris.len() > MAX_REDIRECT_URIS {
            return invalid(
                "invalid_redirect_uri",
                "redirect_uris: give 1 to 10 redirect URIs",
            );
        }
        if let Some(bad) = uris.iter().find(|u| !redirect_ok(u)) {
            let shown: String = bad.chars().take(80).collect();
            return invalid(
                "invalid_redirect_uri",
                &format!(
                    "redirect_uris: `{shown}` must be https, or http on 127.0.0.1 / localhost, without a fragment"
                ),
            );
        }
        if r.grant_types
            .as_ref()
            .is_some_and(|g| !g.iter().any(|g| g == "authorization_code"))
            || r.response_types
                .as_ref()
                .is_some_and(|t| !t.iter().any(|t| t == "code"))
        {
            return invalid(
                "invalid_client_metadata",
                "grant_types: only authorization_code (response type code) is offered",
            );
        }
        let Ok(client_id) = random_id() else {
            return Answer::Json(500, json!({"error": "server_error"}));
        };
        let now = tollgate_aws::now_ms();
        if let Ok(mut c) = self.0.lock() {
            if c.len() >= MAX_CLIENTS
                && let Some(oldest) = c
                    .iter()
                    .min_by_key(|(_, r)| r.at_ms)
                    .map(|(k, _)| k.clone())
            {
                c.remove(&oldest);
            }
            c.insert(
                client_id.clone(),
                Registered {
                    redirect_uris: uris.clone(),
                    at_ms: now,
                },
            );
        }
        // Public clients: PKCE proves the code's redeemer, no secret is issued.
        let mut answer = json!({
            "client_id": client_id,
            "client_id_issued_at": now / 1000,
            "redirect_uris": uris,
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        if let Some(name) = r.client_name {
            answer["client_name"] = Value::String(name.chars().take(200).collect());
        }
        if let Some(t) = r.application_type {
            answer["application_type"] = Value::String(t.chars().take(20).collect());
        }
        Answer::Json(201, answer)
    }

    /// Whether `client_id` is registered with exactly this redirect URI.
    pub fn allows(&self, client_id: &str, redirect_uri: &str) -> Option<bool> {
        let c = self.0.lock().ok()?;
        let r = c.get(client_id)?;
        Some(r.redirect_uris.iter().any(|u| u == redirect_uri))
    }
}

fn random_id() -> Result<String, ()> {
    use base64::Engine;
    let mut b = [0u8; 18];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| ())?;
    Ok(format!(
        "dyn-{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(a: &Answer) -> u16 {
        match a {
            Answer::Json(s, _) | Answer::Html(s, _) => *s,
            Answer::Redirect(_) => 303,
        }
    }

    #[test]
    fn registration_takes_only_safe_redirects() {
        let c = Clients::default();
        let ok = c.register(br#"{"redirect_uris": ["http://127.0.0.1:9/cb"], "client_name": "t"}"#);
        assert_eq!(status(&ok), 201);
        let Answer::Json(_, v) = ok else { panic!() };
        let id = v["client_id"].as_str().unwrap();
        assert_eq!(v["token_endpoint_auth_method"], "none");
        assert_eq!(c.allows(id, "http://127.0.0.1:9/cb"), Some(true));
        assert_eq!(c.allows(id, "http://127.0.0.1:9/other"), Some(false));
        assert_eq!(c.allows("dyn-unknown", "http://127.0.0.1:9/cb"), None);
        for bad in [
            r#"{"redirect_uris": ["http://evil.example/cb"]}"#,
            r#"{"redirect_uris": ["https://ok.example/cb#frag"]}"#,
            r#"{"redirect_uris": ["javascript:alert(1)"]}"#,
            r#"{"redirect_uris": []}"#,
            r#"{"redirect_uris": ["https://ok.example/cb"], "grant_types": ["client_credentials"]}"#,
            r#"[]"#,
        ] {
            assert_eq!(status(&c.register(bad.as_bytes())), 400, "{bad}");
        }
    }
}
