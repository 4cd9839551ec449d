//! The dev issuer's browser sign-in: an OIDC authorization endpoint with a user picker
//! instead of a password, and the token endpoint's `authorization_code` grant with PKCE
//! (`S256` only). Codes are single-use, live one minute, and are bound to the client, the
//! redirect URI and the code challenge, as a real provider binds them. Besides the approval
//! page's own client, clients registered through `agent_clients` (MCP clients) sign in here
//! as an agent and get an agent token.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use serde_json::json;
use tollgate_core::display::html_escape as esc;
use tollgate_core::seal;

use crate::agent_clients::DEV_AGENTS;
pub use crate::answer::Answer;
use crate::issuer::{APPROVER_AUDIENCE, APPROVER_GROUP, DevIssuer, MintRequest};

const CODE_LIFETIME_MS: u64 = 60_000;

/// People to sign in as, with their groups: enough to try every rule on the page.
pub const DEV_USERS: [(&str, &str, &[&str]); 6] = [
    ("alice", "Alice Approver", &[APPROVER_GROUP]),
    ("bob", "Bob Approver", &[APPROVER_GROUP]),
    ("carol", "Carol DBA", &[APPROVER_GROUP, "dba"]),
    ("dave", "Dave Developer", &["developers"]),
    // On call: for break-glass (`@breakglass("oncall")`).
    ("olga", "Olga On-call", &[APPROVER_GROUP, "oncall"]),
    ("ci-bot", "ci-bot (the agent)", &[APPROVER_GROUP]),
];

struct PendingCode {
    user: String,
    /// Signed in through a registered (MCP) client: an agent, not an approver.
    agent: bool,
    /// The RFC 8707 resource the client asked a token for.
    resource: Option<String>,
    client_id: String,
    redirect_uri: String,
    challenge: String,
    nonce: Option<String>,
    expires_ms: u64,
}

/// Authorization codes handed out by one issuer's browser sign-in, until redeemed. Kept by
/// the host beside its issuer, not inside it: the issuer signs, this module runs the flow.
#[derive(Default)]
pub struct Codes(Mutex<HashMap<String, PendingCode>>);

fn now_ms() -> u64 {
    tollgate_aws::now_ms()
}

fn oauth_error(code: &str, description: &str) -> Answer {
    Answer::Json(
        400,
        json!({"error": code, "error_description": description}),
    )
}

fn html_error(message: &str) -> Answer {
    Answer::Html(
        400,
        format!(
            "<!doctype html><title>Sign-in error</title><p>{}</p>",
            esc(message)
        ),
    )
}

/// The parameters of an authorization request, checked.
fn authorization_params(
    dev: &DevIssuer,
    q: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    if get("response_type") != "code" {
        return Err("response_type: only `code` is supported".into());
    }
    let origin = |u: &str| {
        url::Url::parse(u)
            .map(|u| u.origin().ascii_serialization())
            .ok()
    };
    let redirect = get("redirect_uri");
    match dev.clients.allows(&get("client_id"), &redirect) {
        Some(true) => {}
        Some(false) => return Err("redirect_uri: not registered for this client".into()),
        None if get("client_id") != APPROVER_AUDIENCE => {
            return Err(format!(
                "client_id: unknown client (expected `{APPROVER_AUDIENCE}` or a registered client)"
            ));
        }
        // Only the host this issuer lives on may receive the approval page's codes: the dev
        // stand-in for a provider's registered redirect URIs.
        None if origin(&redirect).is_none() || origin(&redirect) != origin(dev.issuer()) => {
            return Err("redirect_uri: not registered for this client".into());
        }
        None => {}
    }
    // RFC 8707: a token only for a resource on this stack.
    if let Some(r) = q.get("resource")
        && (origin(r).is_none() || origin(r) != origin(dev.issuer()))
    {
        return Err("resource: not a resource this issuer makes tokens for".into());
    }
    if get("code_challenge_method") != "S256" || get("code_challenge").len() != 43 {
        return Err("code_challenge: PKCE with S256 is required".into());
    }
    if get("state").is_empty() {
        return Err("state: is required".into());
    }
    let keep = [
        "response_type",
        "client_id",
        "redirect_uri",
        "scope",
        "state",
        "nonce",
        "code_challenge",
        "code_challenge_method",
        "resource",
    ];
    Ok(q.iter()
        .filter(|(k, _)| keep.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

/// `GET /authorize`: the user picker.
pub fn authorize_page(dev: &DevIssuer, q: &BTreeMap<String, String>) -> Answer {
    let params = match authorization_params(dev, q) {
        Ok(p) => p,
        Err(e) => return html_error(&e),
    };
    let hidden: String = params
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                esc(k),
                esc(v)
            )
        })
        .collect();
    let agent = is_agent_client(&params);
    let people: Vec<(&str, &str, String)> = if agent {
        DEV_AGENTS
            .iter()
            .map(|(sub, name)| (*sub, *name, "agent".to_string()))
            .collect()
    } else {
        DEV_USERS
            .iter()
            .map(|(sub, name, groups)| (*sub, *name, groups.join(", ")))
            .collect()
    };
    let users: String = people
        .iter()
        .map(|(sub, name, groups)| {
            format!(
                "<li><button name=\"user\" value=\"{sub}\" type=\"submit\">{}</button> <small>{}</small></li>",
                esc(name),
                esc(groups)
            )
        })
        .collect();
    Answer::Html(
        200,
        format!(
            r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Dev sign-in</title>
<style>body{{font-family:system-ui,sans-serif;max-width:30rem;margin:1rem auto;padding:0 1rem}}li{{list-style:none;margin:.5rem 0}}button{{font-size:1.05rem;padding:.5rem 1rem;min-width:12rem}}</style></head>
<body><h1>Tollgate dev sign-in</h1><p>Development identity provider: pick who you are.</p>
<form method="post" action="{action}">{hidden}<ul>{users}</ul></form></body></html>"#,
            action = esc(&format!("{}/authorize", dev.issuer())),
        ),
    )
}

/// `POST /authorize` (the picker's form): issue a code and send the browser back.
pub fn authorize_submit(dev: &DevIssuer, codes: &Codes, form: &BTreeMap<String, String>) -> Answer {
    let params = match authorization_params(dev, form) {
        Ok(p) => p,
        Err(e) => return html_error(&e),
    };
    let user = form.get("user").cloned().unwrap_or_default();
    let agent = is_agent_client(&params);
    let known = if agent {
        DEV_AGENTS.iter().any(|(sub, _)| *sub == user)
    } else {
        DEV_USERS.iter().any(|(sub, _, _)| *sub == user)
    };
    if !known {
        return html_error("user: pick one of the listed users");
    }
    let Ok(code) = random_code() else {
        return html_error("no randomness available");
    };
    let redirect_uri = params["redirect_uri"].clone();
    if let Ok(mut c) = codes.0.lock() {
        c.retain(|_, p| p.expires_ms > now_ms());
        c.insert(
            code.clone(),
            PendingCode {
                user,
                agent,
                resource: params.get("resource").cloned(),
                client_id: params["client_id"].clone(),
                redirect_uri: redirect_uri.clone(),
                challenge: params["code_challenge"].clone(),
                nonce: params.get("nonce").cloned(),
                expires_ms: now_ms() + CODE_LIFETIME_MS,
            },
        );
    }
    let Ok(mut back) = url::Url::parse(&redirect_uri) else {
        return html_error("redirect_uri: not a URL");
    };
    // RFC 9207: the response names its issuer, so a client can tell mix-ups apart.
    back.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &params["state"])
        .append_pair("iss", dev.issuer());
    Answer::Redirect(back.to_string())
}

/// The client secret a token request carries: HTTP Basic (`authorization`, id and secret
/// form-urlencoded) or the form's `client_secret`; both at once is refused (RFC 6749 §2.3).
fn presented_secret(
    authorization: Option<&str>,
    form: &BTreeMap<String, String>,
) -> Result<Option<(Option<String>, String)>, Answer> {
    let basic = authorization.and_then(|h| h.strip_prefix("Basic "));
    match (basic, form.get("client_secret")) {
        (Some(_), Some(_)) => Err(Answer::Json(
            400,
            json!({"error": "invalid_request", "error_description": "more than one client authentication method"}),
        )),
        (Some(b), None) => {
            use base64::Engine;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok());
            let Some((id, secret)) = decoded.as_deref().and_then(|d| d.split_once(':')) else {
                return Err(invalid_client());
            };
            let dec = |v: &str| {
                url::form_urlencoded::parse(format!("x={v}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Ok(Some((Some(dec(id)), dec(secret))))
        }
        (None, Some(s)) => Ok(Some((None, s.clone()))),
        (None, None) => Ok(None),
    }
}

fn invalid_client() -> Answer {
    Answer::Json(
        401,
        json!({"error": "invalid_client", "error_description": "client authentication failed"}),
    )
}

/// `POST /token` with `grant_type=authorization_code`. `authorization` is the request's
/// `Authorization` header, where a confidential client may put its credentials.
pub fn token(
    dev: &DevIssuer,
    codes: &Codes,
    form: &BTreeMap<String, String>,
    authorization: Option<&str>,
) -> Answer {
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    if get("grant_type") != "authorization_code" {
        return oauth_error("unsupported_grant_type", "only authorization_code");
    }
    let presented = match presented_secret(authorization, form) {
        Ok(p) => p,
        Err(answer) => return answer,
    };
    // The approval page's client, when this issuer requires its secret, proves it before any
    // code is looked at (a code alone, stolen from a redirect, gets nothing).
    if let Some(expected) = dev.approver_client_secret()
        && get("client_id") == APPROVER_AUDIENCE
    {
        let ok = presented.as_ref().is_some_and(|(id, secret)| {
            id.as_deref().is_none_or(|i| i == APPROVER_AUDIENCE)
                && seal::same_secret(secret, &expected)
        });
        if !ok {
            return invalid_client();
        }
    }
    // Single use: taken out whether or not the rest checks out.
    let pending = codes.0.lock().ok().and_then(|mut c| c.remove(&get("code")));
    let Some(p) = pending.filter(|p| p.expires_ms > now_ms()) else {
        return oauth_error("invalid_grant", "code is unknown, used or expired");
    };
    if get("client_id") != p.client_id || get("redirect_uri") != p.redirect_uri {
        return oauth_error(
            "invalid_grant",
            "client_id or redirect_uri differ from the authorization request",
        );
    }
    let verifier = get("code_verifier");
    if !seal::pkce_verifier_ok(&verifier)
        || !seal::same_secret(&seal::pkce_challenge(&verifier), &p.challenge)
    {
        return oauth_error(
            "invalid_grant",
            "code_verifier does not match the code challenge",
        );
    }
    if let Some(r) = form.get("resource")
        && p.resource.as_ref().is_some_and(|asked| asked != r)
    {
        return oauth_error(
            "invalid_target",
            "resource differs from the authorization request",
        );
    }
    if p.agent {
        return agent_token(dev, &p.user);
    }
    let Some((sub, name, groups)) = DEV_USERS.iter().find(|(s, _, _)| *s == p.user) else {
        return oauth_error("invalid_grant", "unknown user");
    };
    let req = MintRequest {
        sub: sub.to_string(),
        approver: true,
        name: Some(name.to_string()),
        groups: Some(groups.iter().map(|g| g.to_string()).collect()),
        ttl_seconds: Some(600),
        nonce: p.nonce,
        ..Default::default()
    };
    token_answer(dev, &req, "id_token")
}

/// The token endpoint's answer: the minted token under `field`, with its lifetime.
fn token_answer(dev: &DevIssuer, req: &MintRequest, field: &str) -> Answer {
    match dev.mint(req) {
        Ok(m) => Answer::Json(
            200,
            json!({field: m.token, "token_type": "Bearer", "expires_in": req.ttl_seconds}),
        ),
        Err(e) => Answer::Json(
            500,
            json!({"error": "server_error", "error_description": e}),
        ),
    }
}

fn is_agent_client(params: &BTreeMap<String, String>) -> bool {
    params.get("client_id").map(String::as_str) != Some(APPROVER_AUDIENCE)
}

/// An agent token as an OAuth access token (what an MCP client sends to `/mcp`).
fn agent_token(dev: &DevIssuer, user: &str) -> Answer {
    let Some((sub, name)) = DEV_AGENTS.iter().find(|(s, _)| *s == user) else {
        return oauth_error("invalid_grant", "unknown agent");
    };
    let req = MintRequest {
        sub: sub.to_string(),
        name: Some(name.to_string()),
        ttl_seconds: Some(3600),
        ..Default::default()
    };
    token_answer(dev, &req, "access_token")
}

fn random_code() -> Result<String, ()> {
    use base64::Engine;
    let mut b = [0u8; 24];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| ())?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b))
}
