//! Each trusted issuer's signing keys: discovered, cached, and refetched when a token names
//! a key not yet seen — at most once per `min_refresh`, so a flood of made-up `kid`s costs
//! the provider one request, not thousands.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};
use tollgate_core::{ApiError, ErrorCode};

use super::config::IssuerConfig;

/// Keys older than this are refetched on the next verification, so a rotation is normally
/// picked up before the provider starts signing with the new key.
const MAX_KEY_AGE: Duration = Duration::from_secs(3600);

type Keys = HashMap<String, (DecodingKey, Option<Algorithm>)>;

struct Cache {
    keys: Keys,
    fetched_at: Option<Instant>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyStats {
    pub fetches: u64,
    pub failures: u64,
}

pub(super) struct TrustedIssuer {
    pub cfg: IssuerConfig,
    cache: RwLock<Cache>,
    /// Serialises refetches: one request however many callers missed at once.
    refresh: Mutex<()>,
    fetches: AtomicU64,
    failures: AtomicU64,
}

impl TrustedIssuer {
    pub fn new(cfg: IssuerConfig) -> Self {
        let keys = cfg.jwks.as_ref().map(keys_from_set).unwrap_or_default();
        Self {
            cache: RwLock::new(Cache {
                keys,
                fetched_at: None,
            }),
            cfg,
            refresh: Mutex::new(()),
            fetches: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    pub fn stats(&self) -> KeyStats {
        KeyStats {
            fetches: self.fetches.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }

    fn is_pinned(&self) -> bool {
        self.cfg.jwks.is_some()
    }

    /// The key for `kid`, refetching the issuer's keys when it is unknown or the cache is old.
    pub async fn key(
        &self,
        kid: &str,
        http: &reqwest::Client,
        min_refresh: Duration,
    ) -> Result<Option<(DecodingKey, Option<Algorithm>)>, ApiError> {
        {
            let cache = self.cache.read().await;
            let fresh = cache.fetched_at.is_some_and(|t| t.elapsed() < MAX_KEY_AGE);
            if let Some(k) = cache.keys.get(kid)
                && (fresh || self.is_pinned())
            {
                return Ok(Some(k.clone()));
            }
            if self.is_pinned() {
                return Ok(None);
            }
        }
        let _guard = self.refresh.lock().await;
        {
            // Another caller may have refreshed while this one waited, or one did recently.
            let cache = self.cache.read().await;
            let recent = cache.fetched_at.is_some_and(|t| t.elapsed() < min_refresh);
            if recent
                || cache.keys.contains_key(kid)
                    && cache.fetched_at.is_some_and(|t| t.elapsed() < MAX_KEY_AGE)
            {
                return Ok(cache.keys.get(kid).cloned());
            }
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = fetch_keys(&self.cfg, http).await;
        let mut cache = self.cache.write().await;
        cache.fetched_at = Some(Instant::now());
        match fetched {
            Ok(keys) => cache.keys = keys,
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(issuer = %self.cfg.issuer, error = %e, "could not fetch signing keys");
                // Keep the old keys: an outage at the provider should not log everyone out.
                if cache.keys.is_empty() {
                    return Err(ApiError::new(
                        ErrorCode::Unavailable,
                        "the identity provider's keys are unavailable; try again",
                    ));
                }
            }
        }
        Ok(cache.keys.get(kid).cloned())
    }
}

fn keys_from_set(set: &JwkSet) -> Keys {
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        if jwk
            .common
            .public_key_use
            .as_ref()
            .is_some_and(|u| *u != jsonwebtoken::jwk::PublicKeyUse::Signature)
        {
            continue;
        }
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
    keys
}

async fn fetch_keys(cfg: &IssuerConfig, http: &reqwest::Client) -> Result<Keys, String> {
    let jwks_uri = match &cfg.jwks_uri {
        Some(u) => u.clone(),
        None => {
            let url = format!(
                "{}/.well-known/openid-configuration",
                cfg.issuer.trim_end_matches('/')
            );
            let doc = get_json(http, &url).await?;
            if doc.get("issuer").and_then(Value::as_str) != Some(cfg.issuer.as_str()) {
                return Err("the discovery document names another issuer".into());
            }
            doc.get("jwks_uri")
                .and_then(Value::as_str)
                .ok_or("the discovery document has no jwks_uri")?
                .to_string()
        }
    };
    let set: JwkSet = serde_json::from_value(get_json(http, &jwks_uri).await?)
        .map_err(|e| format!("bad JWKS: {e}"))?;
    Ok(keys_from_set(&set))
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| e.without_url().to_string())?;
    if !resp.status().is_success() {
        return Err(format!("{url} answered {}", resp.status()));
    }
    resp.json().await.map_err(|e| e.without_url().to_string())
}
