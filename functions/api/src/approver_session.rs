//! Approver sign-in for the approval page: OIDC authorization code + PKCE against the first
//! configured approver issuer, then a short-lived server-side session. The session record
//! (`tollgate_aws::store::SessionRecord`) holds the identity as the ID token verified it; the
//! cookie holds only a random session id, sealed with the session key. Every use loads the
//! record and checks it against the approver configuration of the moment, so a forged or
//! replayed cookie, or one whose session ended, is no session.
//!
//! Cookies are `HttpOnly; Secure; SameSite=Lax`: scripts cannot read them, they never travel
//! in clear, and a cross-site POST (the CSRF attempt) arrives without them. `Lax` still sends
//! them on the top-level GET that comes back from the identity provider.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tollgate_aws::now_ms;
use tollgate_aws::oidc::{Client, CodeFlow, IssuerConfig, ProviderEndpoints};
use tollgate_aws::store::{SESSION_ID_BYTES, SessionRecord};
use tollgate_core::seal::{self, SealError};
use tollgate_core::{ApiError, ErrorCode, Identity};

use crate::html::{esc, page};
use crate::{Api, Request, Response, header, query_param};

pub(crate) const SESSION_COOKIE: &str = "tollgate_session";
const LOGIN_COOKIE: &str = "tollgate_login";
const LOGIN_PATH: &str = "/v1/approver";
/// How long a page session lasts. Short: it only has to cover reading a request and deciding.
pub(crate) const SESSION_SECONDS: u64 = 15 * 60;
/// How long a sign-in may take at the provider.
const LOGIN_SECONDS: u64 = 10 * 60;

/// How long a provider's discovery document is reused before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);

/// A signed-in approver: the session id from the cookie and the identity from its record.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// Random per sign-in; CSRF tokens are bound to it.
    pub sid: String,
    pub identity: Identity,
}

/// What the session cookie carries: nothing but the session id.
#[derive(Serialize, Deserialize)]
struct SessionCookie {
    sid: String,
}

/// The sign-in issuer's endpoints, fetched once and reused for an hour, so an anonymous
/// `GET /v1/approver/login` does not cost a fetch from the provider each time.
#[derive(Default)]
pub(crate) struct DiscoveryCache {
    flow: CodeFlow,
    entry: tokio::sync::Mutex<Option<(Instant, ProviderEndpoints)>>,
}

impl DiscoveryCache {
    async fn endpoints(&self, issuer: &str) -> Result<ProviderEndpoints, ApiError> {
        // Held across the fetch: concurrent cold sign-ins wait for one fetch.
        let mut entry = self.entry.lock().await;
        if let Some((at, e)) = entry.as_ref()
            && e.issuer == issuer
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(e.clone());
        }
        let fresh = self.flow.discover(issuer).await?;
        *entry = Some((Instant::now(), fresh.clone()));
        Ok(fresh)
    }
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

/// Only the approval page and the inbox may be a sign-in's destination: anything else
/// would make the sign-in an open redirect.
pub(crate) fn safe_next(next: &str) -> bool {
    let page = next.starts_with("/v1/approvals/")
        || next == "/v1/inbox"
        || next.starts_with("/v1/inbox?")
        || next.starts_with("/v1/inbox/");
    page && !next.contains("//")
        && !next.contains('\\')
        && next.bytes().all(|b| b.is_ascii_graphic())
}

impl Api {
    fn redirect_uri(&self) -> String {
        format!("{}{LOGIN_PATH}/callback", self.settings.public_url)
    }

    /// The issuer approvers sign in with. Tollgate's client id there is the issuer's first
    /// accepted audience, which is what the provider puts in `aud`.
    fn sign_in_issuer(&self) -> Result<&IssuerConfig, ApiError> {
        self.settings.approver_issuers.first().ok_or_else(|| {
            ApiError::new(
                ErrorCode::NotFound,
                "no approver identity provider is configured",
            )
        })
    }

    /// The session id in the request's session cookie, when the cookie is one this API
    /// sealed and has not expired.
    fn session_id(&self, req: &Request) -> Option<String> {
        let sealed = cookie(req, SESSION_COOKIE)?;
        match seal::open_any::<SessionCookie>(&self.keys.session, "session", &sealed, now_ms()) {
            Ok(c) => Some(c.sid),
            Err(e) => {
                if e != SealError::Expired {
                    tracing::warn!(reason = ?e, "session cookie refused");
                }
                None
            }
        }
    }

    /// The signed-in approver: a valid cookie, a live session record for it, and an
    /// identity whose issuer is still a configured approver issuer.
    pub(crate) async fn session(&self, req: &Request) -> Result<Option<Session>, ApiError> {
        let Some(sid) = self.session_id(req) else {
            return Ok(None);
        };
        let Some(record) = self.store.session(&sid, now_ms()).await? else {
            tracing::warn!("session cookie without a live session record refused");
            return Ok(None);
        };
        // Removing an issuer from the configuration ends its sessions at once.
        if !self
            .settings
            .approver_issuers
            .iter()
            .any(|c| c.issuer == record.identity.issuer)
        {
            tracing::warn!(issuer = %record.identity.issuer, "session of an issuer no longer configured refused");
            return Ok(None);
        }
        Ok(Some(Session {
            sid,
            identity: record.identity,
        }))
    }

    /// `GET /v1/approver/login?next=/v1/approvals/...`: off to the identity provider.
    pub(crate) async fn login(&self, req: &Request) -> Result<Response, ApiError> {
        let next =
            query_param(req, "next").ok_or_else(|| ApiError::field("next", "is required"))?;
        if !safe_next(&next) {
            return Err(ApiError::field(
                "next",
                "must be the path of an approval page (/v1/approvals/...) or the inbox (/v1/inbox...)",
            ));
        }
        let cfg = self.sign_in_issuer()?;
        let client_id = cfg
            .audiences
            .first()
            .map(String::as_str)
            .unwrap_or_default();
        let scope = cfg.scopes.join(" ");
        let endpoints = self.discovery.endpoints(&cfg.issuer).await?;
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
                ("client_id", client_id),
                ("redirect_uri", self.redirect_uri().as_str()),
                ("scope", scope.as_str()),
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
            self.keys.session.current(),
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
        let Some(login) = cookie(req, LOGIN_COOKIE).and_then(|c| {
            seal::open_any::<LoginState>(&self.keys.session, "login", &c, now_ms()).ok()
        }) else {
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
        let cfg = self.sign_in_issuer()?;
        let client = Client {
            id: cfg
                .audiences
                .first()
                .map(String::as_str)
                .unwrap_or_default(),
            secret: self.keys.sign_in_secret.as_deref(),
        };
        let endpoints = self.discovery.endpoints(&cfg.issuer).await?;
        let id_token = self
            .discovery
            .flow
            .exchange(
                &endpoints,
                &client,
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
        let sid = random_token(SESSION_ID_BYTES)?;
        let subject = verified.identity.subject.clone();
        self.store
            .put_session(
                &sid,
                &SessionRecord {
                    identity: verified.identity,
                    created_ms: now,
                    expires_ms: exp,
                },
            )
            .await?;
        tracing::info!(approver = %subject, "approver signed in");
        let sealed = self.session_cookie(sid, exp);
        Ok(Response::redirect(login.next)
            .with_header(
                "set-cookie",
                set_cookie(SESSION_COOKIE, &sealed, "/", exp.saturating_sub(now) / 1000),
            )
            .with_header("set-cookie", clear_login))
    }

    /// The session cookie's value for session `sid`, lapsing at `exp` (ms).
    pub(crate) fn session_cookie(&self, sid: String, exp: u64) -> String {
        seal::seal(
            self.keys.session.current(),
            "session",
            &SessionCookie { sid },
            exp,
        )
    }

    /// `POST /v1/approver/logout`: ends the session (its record is deleted, so the cookie
    /// is worthless even if kept) and clears the cookie.
    pub(crate) async fn logout(&self, req: &Request) -> Result<Response, ApiError> {
        // A cross-site form could log an approver out; harmless, but refuse it anyway.
        if let Some(origin) = header(req, "origin")
            && origin != self.public_origin()
        {
            return Err(ApiError::new(ErrorCode::Forbidden, "origin: not this site"));
        }
        if let Some(sid) = self.session_id(req) {
            self.store.delete_session(&sid).await?;
            tracing::info!("approver signed out");
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
        assert!(safe_next("/v1/inbox"));
        assert!(safe_next("/v1/inbox?status=rejected&agent=ci-bot"));
        assert!(safe_next("/v1/inbox/01ABC"));
        assert!(!safe_next("/v1/inboxes"));
        assert!(!safe_next("/v1/inbox//evil.example"));
    }
}
