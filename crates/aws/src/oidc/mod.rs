//! OIDC bearer-token verification against the issuers the operator trusts.
//!
//! Checks, in order, each failing with its own reason code: size, shape, strict JSON (no
//! duplicate keys, no `crit` extensions), issuer, algorithm (only those configured; never
//! `none` or HMAC), key (by `kid`, from the issuer's published JWKS; `jku`/`x5u` are never
//! followed), signature, `exp`/`nbf`/`iat`, audience, lifetime, and the claims that name the
//! principal.

mod code_flow;
mod config;
mod keys;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Validation, decode, decode_header};
use serde_json::{Map, Value};
use tollgate_core::claims::{identity_from_claims, reject_duplicate_keys};
use tollgate_core::{ApiError, ErrorCode, Identity};

pub use code_flow::{CodeFlow, ProviderEndpoints};
pub use config::{IssuerConfig, parse_issuers};
pub use keys::KeyStats;

use keys::TrustedIssuer;

/// Tokens larger than this are refused unread.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Verifies tokens for one role (agents, or approvers).
pub struct Verifier {
    issuers: Vec<TrustedIssuer>,
    http: reqwest::Client,
    min_refresh: std::time::Duration,
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
    pub fn new(issuers: Vec<IssuerConfig>, min_refresh: std::time::Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            issuers: issuers.into_iter().map(TrustedIssuer::new).collect(),
            http,
            min_refresh,
        }
    }

    /// Key fetch counters per issuer, for operators and tests.
    pub fn key_stats(&self) -> Vec<(String, KeyStats)> {
        self.issuers
            .iter()
            .map(|i| (i.cfg.issuer.clone(), i.stats()))
            .collect()
    }

    /// Verifies `Authorization: Bearer <token>` header contents.
    pub async fn verify_bearer(&self, header: Option<&str>) -> Result<Verified, ApiError> {
        let header = header.ok_or_else(|| {
            unauthorized(
                "missing_token",
                "Authorization header with a Bearer token is required",
            )
        })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                unauthorized(
                    "malformed_token",
                    "Authorization header must be `Bearer <token>`",
                )
            })?;
        self.verify(token.trim()).await
    }

    pub async fn verify(&self, token: &str) -> Result<Verified, ApiError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(unauthorized(
                "token_too_large",
                "token is larger than 16 KiB",
            ));
        }
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
        let trusted = self
            .issuers
            .iter()
            .find(|i| i.cfg.issuer == iss)
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
        let identity = identity_from_claims(&cfg.issuer, &claims, &cfg.mapping())
            .map_err(|e| unauthorized(e.reason, &e.message))?;
        Ok(Verified { identity, claims })
    }
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
