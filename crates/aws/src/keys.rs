//! Signing keys and Slack secrets, read from Secrets Manager once at cold start. Nothing
//! secret is in a function's environment: it carries only the secrets' ARNs, and each
//! function's role may read exactly the secrets it needs.
//!
//! A key secret is a key ring, `{"current": "...", "previous": "..."}` (previous optional):
//! the template generates `{"current": <64 random characters>}`; rotating puts a new current
//! and moves the old one to previous, so nothing signed before the rotation breaks.

use std::collections::BTreeMap;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use serde::Deserialize;
use tollgate_core::keyring::KeyRing;

/// What a key is for. Each purpose has its own secret, so a function that may read one (the
/// notifier signs links) cannot read another (sessions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Purpose {
    /// Approval links (the notifier signs, the API verifies).
    Link,
    /// Approver session cookies and sign-in state cookies (API).
    Session,
    /// CSRF tokens of the approval page's forms (API).
    Csrf,
    /// Sealing agents' gateway credentials at rest (API).
    GatewayCredentials,
    /// Sealing what `@unmask` shows the requesting agent (the executor seals, the API opens).
    Results,
}

impl Purpose {
    pub const ALL: [Purpose; 5] = [
        Purpose::Link,
        Purpose::Session,
        Purpose::Csrf,
        Purpose::GatewayCredentials,
        Purpose::Results,
    ];

    /// The setting that holds the secret's ARN.
    pub fn setting(self) -> &'static str {
        match self {
            Purpose::Link => "TOLLGATE_LINK_KEY_SECRET",
            Purpose::Session => "TOLLGATE_SESSION_KEY_SECRET",
            Purpose::Csrf => "TOLLGATE_CSRF_KEY_SECRET",
            Purpose::GatewayCredentials => "TOLLGATE_GATEWAY_CREDENTIALS_KEY_SECRET",
            Purpose::Results => "TOLLGATE_RESULTS_KEY_SECRET",
        }
    }

    /// The label a sealed value is bound to.
    pub fn label(self) -> &'static str {
        match self {
            Purpose::Link => "link",
            Purpose::Session => "session",
            Purpose::Csrf => "csrf",
            Purpose::GatewayCredentials => "gateway_credentials",
            Purpose::Results => "results",
        }
    }
}

/// Where each secret is: secret ids (ARNs) by purpose, and the Slack app's secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretIds {
    pub keys: BTreeMap<Purpose, String>,
    /// `TOLLGATE_SLACK_ACTIONS_SECRET`: the Slack app's signing secret and bot token, for
    /// `POST /v1/slack/actions`. None: Slack buttons are refused.
    pub slack_actions: Option<String>,
}

/// The Slack app as the API needs it: the signing secret that proves a button press came
/// from Slack, and optionally a bot token (scope `users:read.email`) with the workspace it
/// belongs to, for mapping users by e-mail address.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackApp {
    pub signing_secret: String,
    #[serde(default)]
    pub bot_token: Option<String>,
    /// The workspace (`T...`) whose members may be mapped by e-mail; required with a bot
    /// token, since an address alone says nothing about whose workspace vouches for it.
    #[serde(default)]
    pub team_id: Option<String>,
}

// Never printed: the derived Debug would show the secret and the token.
impl std::fmt::Debug for SlackApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlackApp(team_id: {:?})", self.team_id)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RingSecret {
    current: String,
    #[serde(default)]
    previous: Option<String>,
}

/// Reads secrets through the function's own Secrets Manager client.
#[derive(Clone, Debug)]
pub struct KeySource {
    client: Client,
}

impl KeySource {
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            client: Client::new(sdk),
        }
    }

    async fn secret_string(&self, setting: &str, id: &str) -> Result<String, String> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .map_err(|e| format!("{setting}: cannot read `{id}`: {}", DisplayErrorContext(&e)))?;
        out.secret_string()
            .map(str::to_string)
            .ok_or_else(|| format!("{setting}: `{id}` holds no secret string"))
    }

    /// The key ring for `purpose`. Errors name the setting and never carry secret material
    /// (serde's messages may quote the value, so they are not passed on).
    pub async fn ring(&self, ids: &SecretIds, purpose: Purpose) -> Result<KeyRing, String> {
        let setting = purpose.setting();
        let id = ids
            .keys
            .get(&purpose)
            .ok_or_else(|| format!("{setting}: must be set (the ARN of the key's secret)"))?;
        let text = self.secret_string(setting, id).await?;
        let ring: RingSecret = serde_json::from_str(&text).map_err(|_| {
            format!(
                "{setting}: `{id}` must be JSON {{\"current\": \"...\", \"previous\": \"...\"}} (previous optional)"
            )
        })?;
        let previous = ring
            .previous
            .filter(|p| !p.is_empty())
            .map(String::into_bytes);
        KeyRing::new(ring.current.into_bytes(), previous)
            .map_err(|e| format!("{setting}: `{id}`: {e}"))
    }

    /// The rings for `purposes`, read concurrently (each read is one round trip at cold start).
    pub async fn rings(
        &self,
        ids: &SecretIds,
        purposes: &[Purpose],
    ) -> Result<BTreeMap<Purpose, KeyRing>, String> {
        let mut reads = tokio::task::JoinSet::new();
        for &p in purposes {
            let (source, ids) = (self.clone(), ids.clone());
            reads.spawn(async move { (p, source.ring(&ids, p).await) });
        }
        let mut rings = BTreeMap::new();
        while let Some(done) = reads.join_next().await {
            let (p, ring) = done.map_err(|e| format!("reading keys: {e}"))?;
            rings.insert(p, ring?);
        }
        Ok(rings)
    }

    /// The Slack app's secret, when configured.
    pub async fn slack_app(&self, ids: &SecretIds) -> Result<Option<SlackApp>, String> {
        const SETTING: &str = "TOLLGATE_SLACK_ACTIONS_SECRET";
        let Some(id) = &ids.slack_actions else {
            return Ok(None);
        };
        let text = self.secret_string(SETTING, id).await?;
        let app: SlackApp = serde_json::from_str(&text).map_err(|_| {
            format!(
                "{SETTING}: `{id}` must be JSON {{\"signing_secret\": \"...\", \"bot_token\": \"xoxb-...\", \"team_id\": \"T...\"}} (bot_token and team_id optional)"
            )
        })?;
        if app.signing_secret.trim().is_empty() {
            return Err(format!("{SETTING}: `{id}`: signing_secret is empty"));
        }
        if app.bot_token.is_some() && app.team_id.as_deref().is_none_or(str::is_empty) {
            return Err(format!(
                "{SETTING}: `{id}`: team_id is required with bot_token (e-mail mapping accepts only members of that workspace)"
            ));
        }
        Ok(Some(app))
    }
}

impl KeySource {
    /// The approvers' sign-in client secret from the secret `id` (an issuer's
    /// `client_secret_arn`): the secret string, or JSON `{"client_secret": "..."}` (the shape
    /// a console-made key/value secret has). Errors name the setting, never the value.
    pub async fn client_secret(&self, id: &str) -> Result<String, String> {
        const SETTING: &str = "TOLLGATE_APPROVER_ISSUERS client_secret_arn";
        let text = self.secret_string(SETTING, id).await?;
        let secret = if text.trim_start().starts_with('{') {
            #[derive(Deserialize)]
            struct Shape {
                client_secret: String,
            }
            serde_json::from_str::<Shape>(&text)
                .map_err(|_| {
                    format!("{SETTING}: `{id}` must be the secret itself or JSON {{\"client_secret\": \"...\"}}")
                })?
                .client_secret
        } else {
            text
        };
        if secret.trim().is_empty() {
            return Err(format!("{SETTING}: `{id}` is empty"));
        }
        Ok(secret)
    }
}

/// Takes a loaded ring out of the map [`KeySource::rings`] returned.
pub fn take(rings: &mut BTreeMap<Purpose, KeyRing>, p: Purpose) -> Result<KeyRing, String> {
    rings
        .remove(&p)
        .ok_or_else(|| format!("{}: not loaded", p.setting()))
}
