//! Approver sign-in for the approval page: OIDC authorization code + PKCE against the first
//! configured approver issuer, then a signed, short-lived session cookie.
//!
//! Cookies are `HttpOnly; Secure; SameSite=Lax`: scripts cannot read them, they never travel
//! in clear, and a cross-site POST (the CSRF attempt) arrives without them. `Lax` still sends
//! them on the top-level GET that comes back from the identity provider.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tollgate_aws::now_ms;
use tollgate_aws::oidc::CodeFlow;
use tollgate_core::seal::{self, SealError};
use tollgate_core::{ApiError, ErrorCode, Identity};

use crate::approval_page::{esc, page};
use crate::{Api, Request, Response, header, query_param};

pub(crate) const SESSION_COOKIE: &str = "tollgate_session";
const LOGIN_COOKIE: &str = "tollgate_login";
const LOGIN_PATH: &str = "/v1/approver";
/// How long a page session lasts. Short: it only has to cover reading a request and deciding.
pub(crate) const SESSION_SECONDS: u64 = 15 * 60;
/// How long a sign-in may take at the provider.
const LOGIN_SECONDS: u64 = 10 * 60;

/// A signed-in approver, as sealed in the session cookie.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Session {
    /// Random per sign-in; CSRF tokens are bound to it.
    pub sid: String,
    pub identity: Identity,
}

/// What the browser carries through the provider round trip.
#[derive(Serialize, Deserialize)]
struct LoginState {
    state: String,
    verifier: String,
    nonce: String,
    next: String,
}

/// Random URL-safe text with `bytes` bytes of entropy.
pub(crate) fn random_token(bytes: usize) -> Result<String, ApiError> {
    use base64::Engine;
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf)
        .map_err(|_| ApiError::new(ErrorCode::Internal, "no randomness available"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

/// The value of cookie `name`, from every `Cookie` header.
pub(crate) fn cookie(req: &Request, name: &str) -> Option<String> {
    req.headers()
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

fn set_cookie(name: &str, value: &str, path: &str, max_age: u64) -> String {
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; Secure; SameSite=Lax")
}

/// Only the approval page may be a sign-in's destination: anything else would make the
/// sign-in an open redirect.
fn safe_next(next: &str) -> bool {
    next.starts_with("/v1/approvals/")
        && !next.contains("//")
        && !next.contains('\\')
        && next.bytes().all(|b| b.is_ascii_graphic())
}

impl Api {
    fn key(&self, label: &str) -> Vec<u8> {
        seal::derive_key(&self.settings.link_key, label)
    }

    pub(crate) fn csrf_key(&self) -> Vec<u8> {
        self.key("csrf")
    }

    fn redirect_uri(&self) -> String {
        format!("{}{LOGIN_PATH}/callback", self.settings.public_url)
    }

    /// The issuer approvers sign in with, and the client id Tollgate uses there: the
    /// issuer's first accepted audience, which is what the provider puts in `aud`.
    fn sign_in_issuer(&self) -> Result<(String, String), ApiError> {
        let cfg = self.settings.approver_issuers.first().ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                "no approver identity provider is configured",
            )
        })?;
        let client_id = cfg.audiences.first().cloned().unwrap_or_default();
        Ok((cfg.issuer.clone(), client_id))
    }

    /// The signed-in approver, when the request carries a valid session cookie.
    pub(crate) fn session(&self, req: &Request) -> Option<Session> {
        let sealed = cookie(req, SESSION_COOKIE)?;
        match seal::open::<Session>(&self.key("session"), "session", &sealed, now_ms()) {
            Ok(s) => Some(s),
            Err(e) => {
                if e != SealError::Expired {
                    tracing::warn!(reason = ?e, "session cookie refused");
                }
                None
            }
        }
    }

    /// `GET /v1/approver/login?next=/v1/approvals/...`: off to the identity provider.
    pub(crate) async fn login(&self, req: &Request) -> Result<Response, ApiError> {
        let next =
            query_param(req, "next").ok_or_else(|| ApiError::field("next", "is required"))?;
        if !safe_next(&next) {
            return Err(ApiError::field(
                "next",
                "must be the path of an approval page (/v1/approvals/...)",
            ));
        }
        let (issuer, client_id) = self.sign_in_issuer()?;
        let endpoints = CodeFlow::default().discover(&issuer).await?;
        let login = LoginState {
            state: random_token(24)?,
            verifier: random_token(48)?,
            nonce: random_token(24)?,
            next,
        };
        let location = url::Url::parse_with_params(
            &endpoints.authorization_endpoint,
            &[
                ("response_type", "code"),
                ("client_id", client_id.as_str()),
                ("redirect_uri", self.redirect_uri().as_str()),
                ("scope", "openid profile email"),
                ("state", login.state.as_str()),
                ("nonce", login.nonce.as_str()),
                (
                    "code_challenge",
                    seal::pkce_challenge(&login.verifier).as_str(),
                ),
                ("code_challenge_method", "S256"),
            ],
        )
        .map_err(|_| {
            ApiError::new(
                ErrorCode::Unavailable,
                "the identity provider's authorization endpoint is not a URL",
            )
        })?;
        let sealed = seal::seal(
            &self.key("login"),
            "login",
            &login,
            now_ms() + LOGIN_SECONDS * 1000,
        );
        Ok(Response::redirect(location.to_string()).with_header(
            "set-cookie",
            set_cookie(LOGIN_COOKIE, &sealed, LOGIN_PATH, LOGIN_SECONDS),
        ))
    }

    /// `GET /v1/approver/callback?code=...&state=...`: the provider sends the browser back.
    pub(crate) async fn callback(&self, req: &Request) -> Result<Response, ApiError> {
        let clear_login = set_cookie(LOGIN_COOKIE, "", LOGIN_PATH, 0);
        if let Some(err) = query_param(req, "error") {
            let err: String = err
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(40)
                .collect();
            return Ok(sign_in_failed(&format!(
                "The identity provider refused the sign-in ({err})."
            )));
        }
        let Some(login) = cookie(req, LOGIN_COOKIE)
            .and_then(|c| seal::open::<LoginState>(&self.key("login"), "login", &c, now_ms()).ok())
        else {
            return Ok(sign_in_failed(
                "This sign-in expired or was started in another browser. Open the approval link again.",
            ));
        };
        let state = query_param(req, "state").unwrap_or_default();
        if !seal::same_secret(&state, &login.state) {
            return Ok(sign_in_failed(
                "state: does not match this browser's sign-in.",
            ));
        }
        let code =
            query_param(req, "code").ok_or_else(|| ApiError::field("code", "is required"))?;
        let (issuer, client_id) = self.sign_in_issuer()?;
        let flow = CodeFlow::default();
        let endpoints = flow.discover(&issuer).await?;
        let id_token = flow
            .exchange(
                &endpoints,
                &client_id,
                &code,
                &self.redirect_uri(),
                &login.verifier,
            )
            .await?;
        let verified = self.approvers.verify(&id_token).await?;
        let nonce = verified
            .claims
            .get("nonce")
            .and_then(Value::as_str)
            .unwrap_or("");
        if !seal::same_secret(nonce, &login.nonce) {
            return Ok(sign_in_failed(
                "nonce: the ID token was not issued for this sign-in.",
            ));
        }
        let token_exp_ms = verified
            .claims
            .get("exp")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .saturating_mul(1000);
        let now = now_ms();
        let exp = token_exp_ms.min(now + SESSION_SECONDS * 1000);
        let session = Session {
            sid: random_token(18)?,
            identity: verified.identity,
        };
        tracing::info!(approver = %session.identity.subject, "approver signed in");
        let sealed = seal::seal(&self.key("session"), "session", &session, exp);
        Ok(Response::redirect(login.next)
            .with_header(
                "set-cookie",
                set_cookie(SESSION_COOKIE, &sealed, "/", exp.saturating_sub(now) / 1000),
            )
            .with_header("set-cookie", clear_login))
    }

    /// `POST /v1/approver/logout`: forgets the session in this browser.
    pub(crate) fn logout(&self, req: &Request) -> Result<Response, ApiError> {
        // A cross-site form could log an approver out; harmless, but refuse it anyway.
        if let Some(origin) = header(req, "origin")
            && origin != self.public_origin()
        {
            return Err(ApiError::new(ErrorCode::Forbidden, "origin: not this site"));
        }
        Ok(
            Response::html(200, page("Signed out", "<p>You are signed out.</p>"))
                .with_header("set-cookie", set_cookie(SESSION_COOKIE, "", "/", 0)),
        )
    }

    /// `scheme://host[:port]` of the public URL, as browsers send it in `Origin`.
    pub(crate) fn public_origin(&self) -> String {
        url::Url::parse(&self.settings.public_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default()
    }

    pub(crate) fn login_link(&self, next: &str) -> String {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("next", next)
            .finish();
        format!("{LOGIN_PATH}/login?{q}")
    }
}

fn sign_in_failed(message: &str) -> Response {
    Response::html(
        401,
        page("Sign-in failed", &format!("<p>{}</p>", esc(message))),
    )
    .with_header("set-cookie", set_cookie(LOGIN_COOKIE, "", LOGIN_PATH, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_approval_pages_are_destinations() {
        assert!(safe_next("/v1/approvals/01ABC?k=1.x"));
        assert!(!safe_next("https://evil.example/v1/approvals/"));
        assert!(!safe_next("//evil.example/v1/approvals/"));
        assert!(!safe_next("/v1/approvals//evil.example"));
        assert!(!safe_next("/v1/approvals/\\evil"));
        assert!(!safe_next("/v1/requests"));
        assert!(!safe_next("/v1/approvals/x y"));
    }
}
