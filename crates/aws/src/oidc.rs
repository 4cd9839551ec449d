//! OIDC bearer-token verification against trusted issuers' published keys.
//!
//! Every check is made: signature with a key the issuer publishes (looked up by `kid`), an
//! algorithm the operator allows (never `none`, never HMAC), `iss`, `aud`, `exp`, `nbf`.
//! Keys are discovered through `/.well-known/openid-configuration`, cached, and refetched on
//! an unknown `kid` at most once per `min_refresh`. `jku`/`x5u` headers are never followed.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64_url::decode_segment;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio::sync::{Mutex, RwLock};
use tollgate_core::{ApiError, ErrorCode, Identity};

pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// One trusted issuer, as the operator configures it.
#[derive(Debug, Clone, Deserialize)]
pub struct IssuerConfig {
    pub issuer: String,
    pub audiences: Vec<String>,
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<Algorithm>,
    /// Where the keys are, when not discoverable from the issuer URL.
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Claim holding group names (a string array or a space/comma separated string).
    #[serde(default = "default_groups_claim")]
    pub groups_claim: String,
    /// Clock skew tolerated on `exp`/`nbf`, in seconds.
    #[serde(default = "default_leeway")]
    pub leeway_seconds: u64,
}

fn default_algorithms() -> Vec<Algorithm> {
    vec![Algorithm::RS256, Algorithm::ES256]
}

fn default_groups_claim() -> String {
    "groups".into()
}

fn default_leeway() -> u64 {
    30
}

impl IssuerConfig {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            algorithms: default_algorithms(),
            jwks_uri: None,
            groups_claim: default_groups_claim(),
            leeway_seconds: default_leeway(),
        }
    }
}

struct KeyCache {
    keys: HashMap<String, (DecodingKey, Option<Algorithm>)>,
    fetched_at: Option<Instant>,
}

struct TrustedIssuer {
    cfg: IssuerConfig,
    cache: RwLock<KeyCache>,
    /// Serialises refetches so a burst of unknown `kid`s makes one request, not many.
    refresh: Mutex<()>,
}

/// Verifies tokens of one audience class (agents, or approvers).
pub struct Verifier {
    issuers: Vec<TrustedIssuer>,
    http: reqwest::Client,
    min_refresh: Duration,
}

/// A token that passed every check.
#[derive(Debug, Clone)]
pub struct Verified {
    pub identity: Identity,
    pub claims: Map<String, Value>,
}

mod base64_url {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    pub fn decode_segment(seg: &str) -> Option<Vec<u8>> {
        URL_SAFE_NO_PAD.decode(seg.trim_end_matches('=')).ok()
    }
}

fn unauthorized(reason: &str, message: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthorized, message.to_string())
        .with_detail(serde_json::json!({ "reason": reason }))
}

impl Verifier {
    pub fn new(issuers: Vec<IssuerConfig>, min_refresh: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            issuers: issuers
                .into_iter()
                .map(|cfg| TrustedIssuer {
                    cfg,
                    cache: RwLock::new(KeyCache {
                        keys: HashMap::new(),
                        fetched_at: None,
                    }),
                    refresh: Mutex::new(()),
                })
                .collect(),
            http,
            min_refresh,
        }
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
        let header = decode_header(token).map_err(|_| {
            unauthorized(
                "unsupported_algorithm",
                "token header is malformed or names an algorithm that is not accepted",
            )
        })?;
        // Peek at `iss` only to pick the issuer's keys; nothing is trusted until verified.
        let iss = decode_segment(segments[1])
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v.get("iss").and_then(Value::as_str).map(str::to_string))
            .ok_or_else(|| unauthorized("malformed_token", "token payload has no `iss`"))?;
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
        let (key, key_alg) = self.key(trusted, kid).await?;
        if key_alg.is_some_and(|a| a != header.alg) {
            return Err(unauthorized(
                "algorithm_mismatch",
                "token algorithm does not match its key",
            ));
        }
        let mut v = Validation::new(header.alg);
        v.algorithms = vec![header.alg];
        v.set_issuer(&[&trusted.cfg.issuer]);
        v.set_audience(&trusted.cfg.audiences);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.validate_nbf = true;
        v.leeway = trusted.cfg.leeway_seconds;
        let data = decode::<Map<String, Value>>(token, &key, &v).map_err(|e| match e.kind() {
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
            ErrorKind::MissingRequiredClaim(c) => {
                unauthorized("missing_claim", &format!("token has no `{c}` claim"))
            }
            _ => unauthorized("malformed_token", "token could not be decoded"),
        })?;
        let claims = data.claims;
        let subject = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| unauthorized("missing_claim", "token has no `sub` claim"))?
            .to_string();
        let name = ["name", "email", "preferred_username"]
            .iter()
            .find_map(|c| claims.get(*c).and_then(Value::as_str))
            .unwrap_or(&subject)
            .to_string();
        let groups = match claims.get(&trusted.cfg.groups_claim) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(Value::String(s)) => s
                .split([' ', ','])
                .filter(|g| !g.is_empty())
                .map(str::to_string)
                .collect(),
            _ => vec![],
        };
        Ok(Verified {
            identity: Identity {
                issuer: trusted.cfg.issuer.clone(),
                subject,
                name,
                groups,
            },
            claims,
        })
    }

    async fn key(
        &self,
        issuer: &TrustedIssuer,
        kid: &str,
    ) -> Result<(DecodingKey, Option<Algorithm>), ApiError> {
        if let Some(k) = issuer.cache.read().await.keys.get(kid) {
            return Ok(k.clone());
        }
        let _guard = issuer.refresh.lock().await;
        // Another caller may have refreshed while this one waited.
        {
            let cache = issuer.cache.read().await;
            if let Some(k) = cache.keys.get(kid) {
                return Ok(k.clone());
            }
            if cache
                .fetched_at
                .is_some_and(|t| t.elapsed() < self.min_refresh)
            {
                return Err(unauthorized(
                    "unknown_kid",
                    "token key id is not published by its issuer",
                ));
            }
        }
        let keys = self.fetch_keys(&issuer.cfg).await;
        let mut cache = issuer.cache.write().await;
        cache.fetched_at = Some(Instant::now());
        match keys {
            Ok(keys) => cache.keys = keys,
            Err(e) => {
                tracing::warn!(issuer = %issuer.cfg.issuer, error = %e, "could not fetch signing keys");
                if cache.keys.is_empty() {
                    return Err(ApiError::new(
                        ErrorCode::Unavailable,
                        "identity provider keys are unavailable; try again",
                    ));
                }
            }
        }
        cache.keys.get(kid).cloned().ok_or_else(|| {
            unauthorized("unknown_kid", "token key id is not published by its issuer")
        })
    }

    async fn fetch_keys(
        &self,
        cfg: &IssuerConfig,
    ) -> Result<HashMap<String, (DecodingKey, Option<Algorithm>)>, String> {
        let jwks_uri = match &cfg.jwks_uri {
            Some(u) => u.clone(),
            None => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    cfg.issuer.trim_end_matches('/')
                );
                let doc: Value = self.get_json(&url).await?;
                if doc.get("issuer").and_then(Value::as_str) != Some(cfg.issuer.as_str()) {
                    return Err("discovery document names another issuer".into());
                }
                doc.get("jwks_uri")
                    .and_then(Value::as_str)
                    .ok_or("discovery document has no jwks_uri")?
                    .to_string()
            }
        };
        let set: JwkSet = serde_json::from_value(self.get_json(&jwks_uri).await?)
            .map_err(|e| format!("bad JWKS: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let Some(kid) = jwk.common.key_id.clone() else {
                continue;
            };
            let alg = jwk
                .common
                .key_algorithm
                .and_then(|a| a.to_string().parse::<Algorithm>().ok());
            match DecodingKey::from_jwk(jwk) {
                Ok(k) => {
                    keys.insert(kid, (k, alg));
                }
                Err(e) => tracing::warn!(kid, error = %e, "skipping unusable JWK"),
            }
        }
        Ok(keys)
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !resp.status().is_success() {
            return Err(format!("{url} answered {}", resp.status()));
        }
        resp.json().await.map_err(|e| e.without_url().to_string())
    }
}
