//! OIDC bearer-token verification against the issuers the operator trusts.
//!
//! Checks, in order, each failing with its own reason code: size, shape, strict JSON (no
//! duplicate keys, no `crit` extensions), issuer, algorithm (only those configured; never
//! `none` or HMAC), key (by `kid`, from the issuer's published JWKS; `jku`/`x5u` are never
//! followed), signature, `exp`/`nbf`/`iat`, audience, lifetime, token type (`typ`,
//! `token_use`), the claims the issuer pins, and the claims that name the principal.

mod code_flow;
mod config;
mod keys;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};
use serde_json::{Map, Value};
use tollgate_core::claims::{check_required_claims, identity_from_claims, reject_duplicate_keys};
use tollgate_core::{ApiError, ErrorCode, Identity};

pub use code_flow::{Client, CodeFlow, ProviderEndpoints};
pub use config::{GITHUB_ACTIONS_ISSUER, IssuerConfig, check_roles, parse_issuers};
pub use keys::KeyStats;

use keys::TrustedIssuer;

/// Tokens larger than this are refused unread.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// How long a token that passed every check is taken again on its exact bytes, its expiry
/// still checked each time: an agent sends one token with every call, and its signature check
/// was most of a decision's CPU. Short, so a key withdrawn without a refetch here stops
/// counting soon.
const SEEN_FOR: Duration = Duration::from_secs(300);
/// Most tokens remembered; past it the memory is emptied (each is verified again once).
const MAX_SEEN: usize = 1024;

/// Verifies tokens for one role (agents, or approvers).
pub struct Verifier {
    issuers: Vec<TrustedIssuer>,
    http: reqwest::Client,
    min_refresh: Duration,
    /// Tokens that passed every check, by their exact text. Only successes: a refused token
    /// is checked again in full each time.
    seen: Mutex<HashMap<String, Seen>>,
    memory: bool,
}

struct Seen {
    verified: Verified,
    /// Its issuer, and that issuer's key fetch count when it was verified: a refetch may
    /// have withdrawn the key, so it ends what was remembered.
    issuer: usize,
    fetches: u64,
    exp: u64,
    leeway: u64,
    until: Instant,
}

/// A token that passed every check.
#[derive(Debug, Clone)]
pub struct Verified {
    pub identity: Identity,
    pub claims: Map<String, Value>,
}

fn unauthorized(reason: &str, message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message.to_string())
        .with_detail(serde_json::json!({ "reason": reason }))
}

fn segment_json(seg: &str, which: &str) -> Result<Value, ApiError> {
    let bytes = URL_SAFE_NO_PAD.decode(seg).map_err(|_| {
        unauthorized(
            "malformed_token",
            &format!("token {which} is not base64url"),
        )
    })?;
    let value: Value = serde_json::from_slice(&bytes)
        .ok()
        .filter(Value::is_object)
        .ok_or_else(|| {
            unauthorized(
                "malformed_token",
                &format!("token {which} is not a JSON object"),
            )
        })?;
    reject_duplicate_keys(&bytes)
        .map_err(|_| unauthorized("duplicate_key", &format!("token {which} repeats a key")))?;
    Ok(value)
}

impl Verifier {
    pub fn new(issuers: Vec<IssuerConfig>, min_refresh: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            issuers: issuers.into_iter().map(TrustedIssuer::new).collect(),
            http,
            min_refresh,
            seen: Mutex::new(HashMap::new()),
            memory: true,
        }
    }

    /// The same verifier checking every token in full every time: for measuring the checks
    /// themselves.
    pub fn without_memory(mut self) -> Self {
        self.memory = false;
        self
    }

    /// A token verified before, on its exact text, if its issuer's keys were not refetched
    /// since, it was verified less than [`SEEN_FOR`] ago, and it has not expired since (the
    /// one check whose answer changes with time: `nbf` and `iat` were in the past already).
    fn recall(&self, token: &str) -> Option<Result<Verified, ApiError>> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let s = seen.get(token)?;
        let keys_unchanged = self.issuers[s.issuer].stats().fetches == s.fetches;
        if !keys_unchanged || Instant::now() >= s.until {
            seen.remove(token);
            return None;
        }
        if jsonwebtoken::get_current_timestamp() > s.exp.saturating_add(s.leeway) {
            seen.remove(token);
            return Some(Err(unauthorized("token_expired", "token has expired")));
        }
        Some(Ok(s.verified.clone()))
    }

    fn remember(&self, token: &str, issuer: usize, fetches: u64, verified: &Verified) {
        let Some(exp) = verified.claims.get("exp").and_then(Value::as_u64) else {
            return;
        };
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if seen.len() >= MAX_SEEN {
            seen.clear();
        }
        seen.insert(
            token.to_string(),
            Seen {
                verified: verified.clone(),
                issuer,
                fetches,
                exp,
                leeway: self.issuers[issuer].cfg.leeway_seconds,
                until: Instant::now() + SEEN_FOR,
            },
        );
    }

    /// Key fetch counters per issuer, for operators and tests.
    pub fn key_stats(&self) -> Vec<(String, KeyStats)> {
        self.issuers
            .iter()
            .map(|i| (i.cfg.issuer.clone(), i.stats()))
            .collect()
    }

    /// The configuration of `issuer`, if this verifier trusts it.
    pub fn issuer_config(&self, issuer: &str) -> Option<&IssuerConfig> {
        self.issuers
            .iter()
            .map(|i| &i.cfg)
            .find(|c| c.issuer == issuer)
    }

    /// Whether the bearer token claims (unverified) an issuer and audience this verifier is
    /// configured for: which role a token is for is decided by that, before any verification,
    /// so a token refused in one role is never tried in another.
    pub fn addressed(&self, header: Option<&str>) -> bool {
        let Some(token) = header.and_then(bearer) else {
            return false;
        };
        let Some(payload) = token
            .split('.')
            .nth(1)
            .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        else {
            return false;
        };
        let audiences: Vec<&str> = match &payload["aud"] {
            Value::String(a) => vec![a.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let iss = payload["iss"].as_str().unwrap_or_default();
        self.issuers.iter().any(|i| {
            i.cfg.issuer == iss
                && audiences
                    .iter()
                    .any(|a| i.cfg.audiences.iter().any(|c| c == a))
        })
    }

    /// Verifies `Authorization: Bearer <token>` header contents.
    pub async fn verify_bearer(&self, header: Option<&str>) -> Result<Verified, ApiError> {
        let header = header.ok_or_else(|| {
            unauthorized(
                "missing_token",
                "Authorization header with a Bearer token is required",
            )
        })?;
        let token = bearer(header).ok_or_else(|| {
            unauthorized(
                "malformed_token",
                "Authorization header must be `Bearer <token>`",
            )
        })?;
        self.verify(token).await
    }

    pub async fn verify(&self, token: &str) -> Result<Verified, ApiError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(unauthorized(
                "token_too_large",
                "token is larger than 16 KiB",
            ));
        }
        if self.memory
            && let Some(known) = self.recall(token)
        {
            return known;
        }
        self.verify_in_full(token).await
    }

    async fn verify_in_full(&self, token: &str) -> Result<Verified, ApiError> {
        let segments: Vec<&str> = token.split('.').collect();
        if segments.len() != 3 || segments.iter().any(|s| s.is_empty()) {
            return Err(unauthorized(
                "malformed_token",
                "token is not a signed JWT (three segments)",
            ));
        }
        let raw_header = segment_json(segments[0], "header")?;
        let payload = segment_json(segments[1], "payload")?;
        if raw_header.get("crit").is_some() {
            return Err(unauthorized(
                "unsupported_header",
                "token header has critical extensions this verifier does not understand",
            ));
        }
        let header = decode_header(token).map_err(|_| {
            unauthorized(
                "unsupported_algorithm",
                "token header names an algorithm that is not accepted",
            )
        })?;
        // `iss` picks whose keys to use; nothing in the payload is trusted before the signature.
        let iss = payload
            .get("iss")
            .and_then(Value::as_str)
            .ok_or_else(|| unauthorized("missing_claim", "token has no `iss` claim"))?;
        let (issuer_index, trusted) = self
            .issuers
            .iter()
            .enumerate()
            .find(|(_, i)| i.cfg.issuer == iss)
            .ok_or_else(|| {
                unauthorized(
                    "untrusted_issuer",
                    "token issuer is not trusted for this use",
                )
            })?;
        if !trusted.cfg.algorithms.contains(&header.alg) {
            return Err(unauthorized(
                "unsupported_algorithm",
                "token algorithm is not accepted for this issuer",
            ));
        }
        let kid = header
            .kid
            .as_deref()
            .ok_or_else(|| unauthorized("missing_kid", "token header has no `kid`"))?;
        // Read before the key: a refetch racing this verification then ends what is remembered.
        let fetches = trusted.stats().fetches;
        let (key, key_alg) = trusted
            .key(kid, &self.http, self.min_refresh)
            .await?
            .ok_or_else(|| {
                unauthorized("unknown_kid", "token key id is not published by its issuer")
            })?;
        if key_alg.is_some_and(|a| a != header.alg) {
            return Err(unauthorized(
                "algorithm_mismatch",
                "token algorithm does not match its key",
            ));
        }
        let cfg = &trusted.cfg;
        let mut v = Validation::new(header.alg);
        v.algorithms = vec![header.alg];
        v.set_issuer(&[&cfg.issuer]);
        v.set_audience(&cfg.audiences);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v.validate_nbf = true;
        v.leeway = cfg.leeway_seconds;
        let claims = decode::<Map<String, Value>>(token, &key, &v)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => unauthorized("token_expired", "token has expired"),
                ErrorKind::ImmatureSignature => {
                    unauthorized("token_not_yet_valid", "token is not valid yet (nbf)")
                }
                ErrorKind::InvalidAudience => {
                    unauthorized("invalid_audience", "token audience is not accepted")
                }
                ErrorKind::InvalidIssuer => {
                    unauthorized("untrusted_issuer", "token issuer is not trusted")
                }
                ErrorKind::InvalidSignature => {
                    unauthorized("invalid_signature", "token signature does not verify")
                }
                ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => unauthorized(
                    "algorithm_mismatch",
                    "token algorithm does not match its key",
                ),
                ErrorKind::MissingRequiredClaim(c) => {
                    unauthorized("missing_claim", &format!("token has no `{c}` claim"))
                }
                _ => unauthorized("malformed_token", "token could not be decoded"),
            })?
            .claims;
        check_times(&claims, cfg)?;
        check_token_type(&raw_header, &claims, cfg)?;
        check_required_claims(&claims, &cfg.required_claims)
            .map_err(|e| unauthorized(e.reason, &e.message))?;
        let identity = identity_from_claims(&cfg.issuer, &claims, &cfg.mapping())
            .map_err(|e| unauthorized(e.reason, &e.message))?;
        let verified = Verified { identity, claims };
        if self.memory {
            self.remember(token, issuer_index, fetches, &verified);
        }
        Ok(verified)
    }
}

fn bearer(header: &str) -> Option<&str> {
    header
        .strip_prefix("Bearer ")
        .or_else(|| header.strip_prefix("bearer "))
        .map(str::trim)
}

/// The kind of token must be the one the issuer is configured for: an access token where ID
/// tokens are expected (or the reverse) is refused, even with the right audience.
fn check_token_type(
    header: &Value,
    claims: &Map<String, Value>,
    cfg: &IssuerConfig,
) -> Result<(), ApiError> {
    if !cfg.typ.is_empty() {
        let norm = |t: &str| {
            let t = t.to_ascii_lowercase();
            t.strip_prefix("application/")
                .map(str::to_string)
                .unwrap_or(t)
        };
        let given = header.get("typ").and_then(Value::as_str).map(norm);
        if !given.is_some_and(|g| cfg.typ.iter().any(|t| norm(t) == g)) {
            return Err(unauthorized(
                "unexpected_token_type",
                &format!(
                    "token header `typ` is not one this issuer accepts ({})",
                    cfg.typ.join(", ")
                ),
            ));
        }
    }
    let given = claims.get("token_use");
    let wanted = cfg.token_use.as_deref();
    let ok = match (given, wanted) {
        (None, None) => true,
        (None, Some(_)) => false,
        (Some(g), w) => g.as_str() == Some(w.unwrap_or("id")),
    };
    if !ok {
        return Err(unauthorized(
            "unexpected_token_type",
            &format!(
                "token `token_use` must be `{}` for this issuer",
                wanted.unwrap_or("id")
            ),
        ));
    }
    Ok(())
}

/// `iat` must not be in the future, and the token may not live longer than the issuer's
/// configured maximum (a stolen long-lived token is worth more to an attacker).
fn check_times(claims: &Map<String, Value>, cfg: &IssuerConfig) -> Result<(), ApiError> {
    let now = jsonwebtoken::get_current_timestamp();
    let exp = claims.get("exp").and_then(Value::as_u64).unwrap_or(0);
    let iat = claims.get("iat").and_then(Value::as_u64);
    if iat.is_some_and(|iat| iat > now + cfg.leeway_seconds) {
        return Err(unauthorized(
            "token_not_yet_valid",
            "token was issued in the future (iat)",
        ));
    }
    let lifetime = exp.saturating_sub(iat.unwrap_or(now));
    if lifetime > cfg.max_lifetime_seconds {
        return Err(unauthorized(
            "lifetime_too_long",
            &format!(
                "token lifetime exceeds {} seconds",
                cfg.max_lifetime_seconds
            ),
        ));
    }
    Ok(())
}
