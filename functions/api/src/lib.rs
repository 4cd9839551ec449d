//! The HTTP API for agents and approvers. `main.rs` adapts it to API Gateway; the local
//! stack calls [`Api::handle`] directly with the same requests.

mod agent_view;
mod approval_page;
mod approver_session;
mod body;
mod breakglass;
mod cancel;
mod decide;
mod explain;
mod front_door;
mod grants;
mod html;
mod inbox;
mod listing;
mod mcp;
mod openapi;
mod plans;
mod requests;
mod respond;
mod roles;
mod slack_actions;
mod uploads;
mod votes;

#[cfg(test)]
mod handler_tests;

pub use front_door::{
    FrontDoorRequest, MAX_WIRE_BODY_BYTES, front_door_too_large, is_front_door_call, signing_key_id,
};
pub use openapi::OPENAPI_JSON;

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use tollgate_aws::config::{NoCredentials, signing_identity};
use tollgate_aws::invoke::LambdaInvoker;
use tollgate_aws::keys::{KeySource, Purpose, SlackApp, take};
use tollgate_aws::notify::Topic;
use tollgate_aws::oidc::Verifier;
use tollgate_aws::payloads::S3Payloads;
use tollgate_aws::policy_source;
use tollgate_aws::ports::{Invoker, PayloadStore, Publisher, RecordStore, Workflow};
use tollgate_aws::settings::Settings;
use tollgate_aws::store::Store;
use tollgate_aws::workflow::StepFunctions;
use tollgate_core::keyring::KeyRing;
use tollgate_core::{ApiError, ErrorCode, Policy};
use tollgate_policy::{CedarPolicy, PolicySource, bundled_sources, sources_in_dir};

pub use respond::Response;

/// An incoming request with its body read.
pub type Request = http::Request<Vec<u8>>;

/// Longest a `GET /v1/requests/{id}?wait=` may hold the connection (API Gateway's own limit
/// is 30 s).
pub const MAX_WAIT_SECONDS: u64 = 20;

pub struct Api {
    pub(crate) settings: Settings,
    pub(crate) store: Arc<dyn RecordStore>,
    pub(crate) workflow: Arc<dyn Workflow>,
    pub(crate) executor: Arc<dyn Invoker>,
    /// Publishes the notice after each vote (the Slack message is updated from it).
    pub(crate) notices: Arc<dyn Publisher>,
    /// The alarm topic: every break-glass approval is published here at once.
    pub(crate) alarms: Option<Arc<dyn Publisher>>,
    /// Where front-door bodies too large for the record are kept.
    pub(crate) payloads: Option<Arc<dyn PayloadStore>>,
    pub(crate) agents: Verifier,
    pub(crate) approvers: Verifier,
    pub(crate) policy: Arc<dyn Policy>,
    /// Decides beside `policy` for the record and the metrics; never enforced.
    pub(crate) shadow: Option<Arc<dyn Policy>>,
    pub(crate) poll_interval: Duration,
    pub(crate) keys: ApiKeys,
    pub(crate) discovery: approver_session::DiscoveryCache,
    /// Where `POST /v1/credentials` tells agents' tools to send their calls.
    pub(crate) front_door_url: tollgate_aws::front_door_url::FrontDoorEndpoint,
}

/// What the API talks to outside itself. On Lambda: DynamoDB, Step Functions and the
/// executor function and the notice topic (SNS); in handler tests, the in-memory store and
/// recorders.
pub struct Ports {
    pub store: Arc<dyn RecordStore>,
    pub workflow: Arc<dyn Workflow>,
    pub executor: Arc<dyn Invoker>,
    pub notices: Arc<dyn Publisher>,
    /// The alarm topic (`TOLLGATE_ALARM_TOPIC_ARN`); without it break-glass is refused.
    pub alarms: Option<Arc<dyn Publisher>>,
    /// The payload bucket (`TOLLGATE_PAYLOAD_BUCKET`); without it the front door keeps no
    /// body larger than a record holds.
    pub payloads: Option<Arc<dyn PayloadStore>>,
}

/// The keys the API uses, each from its own secret.
pub struct ApiKeys {
    /// Verifies approval links (the notifier signs them).
    pub link: KeyRing,
    /// Seals session and sign-in cookies.
    pub session: KeyRing,
    pub csrf: KeyRing,
    /// Opens what `@unmask` reveals to a requesting agent (the executor seals it).
    pub results: KeyRing,
    /// Seals gateway credentials' session tokens (`POST /v1/credentials`, the front door).
    pub gateway: KeyRing,
    /// The Slack app's signing secret and bot token, when Slack actions are configured.
    pub slack: Option<SlackApp>,
    /// The sign-in issuer's client secret, when its provider requires one.
    pub sign_in_secret: Option<String>,
}

impl ApiKeys {
    async fn load(settings: &Settings, sdk: &SdkConfig) -> Result<Self, String> {
        let source = KeySource::new(sdk);
        let needed = [
            Purpose::Link,
            Purpose::Session,
            Purpose::Csrf,
            Purpose::Results,
            Purpose::GatewayCredentials,
        ];
        // Only the first approver issuer signs approvers in on the page (approver_session.rs).
        let sign_in_secret = async {
            match settings
                .approver_issuers
                .first()
                .and_then(|c| c.client_secret_arn.as_deref())
            {
                Some(id) => source.client_secret(id).await.map(Some),
                None => Ok(None),
            }
        };
        let (mut rings, slack, sign_in_secret) = tokio::try_join!(
            source.rings(&settings.secrets, &needed),
            source.slack_app(&settings.secrets),
            sign_in_secret
        )?;
        Ok(Self {
            link: take(&mut rings, Purpose::Link)?,
            session: take(&mut rings, Purpose::Session)?,
            csrf: take(&mut rings, Purpose::Csrf)?,
            results: take(&mut rings, Purpose::Results)?,
            gateway: take(&mut rings, Purpose::GatewayCredentials)?,
            slack,
            sign_in_secret,
        })
    }
}

/// Targets whose role is in Tollgate's own account get a warning at every cold start: an
/// agent acting there could reach Tollgate itself, and only the forbid on Tollgate's own
/// resources stands in the way.
fn warn_about_self_targets(settings: &Settings) {
    let own = tollgate_core::own::self_targets(&settings.targets, &settings.account_id);
    if own.is_empty() {
        return;
    }
    if settings.allow_self_target {
        tracing::warn!(targets = ?own, account = %settings.account_id, "targets in Tollgate's own account are allowed (TOLLGATE_ALLOW_SELF_TARGET); the forbid on Tollgate's own resources still applies");
    } else {
        tracing::warn!(targets = ?own, account = %settings.account_id, "targets in Tollgate's own account are refused; use roles in other accounts, or set TOLLGATE_ALLOW_SELF_TARGET");
    }
}

/// Why the API cannot start; the message says what to fix.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A key secret is missing or unreadable.
    #[error("{0}")]
    Keys(String),
    #[error(transparent)]
    Credentials(#[from] NoCredentials),
    /// The issuers would let strangers in or blur the two roles.
    #[error("{0}")]
    Issuers(String),
}

impl Api {
    /// Builds the API at cold start: reads its keys from Secrets Manager (the secrets named
    /// in `settings`), with the SDK configuration every other client uses.
    pub async fn new(
        settings: Settings,
        sdk: &SdkConfig,
        policy: Arc<dyn Policy>,
    ) -> Result<Self, StartError> {
        let keys = ApiKeys::load(&settings, sdk)
            .await
            .map_err(StartError::Keys)?;
        warn_about_self_targets(&settings);
        let (credentials, region) = signing_identity(sdk, &settings.default_region)?;
        // Refuse to start with issuers that would let strangers in or blur the two roles.
        tollgate_aws::oidc::check_roles(&settings.agent_issuers, &settings.approver_issuers)
            .map_err(StartError::Issuers)?;
        let reader = tollgate_aws::front_door_url::ParameterReader {
            credentials: credentials.clone(),
            region: region.clone(),
            endpoint: settings.aws_endpoint.clone(),
        };
        let ports = Ports {
            store: Arc::new(Store::new(
                aws_sdk_dynamodb::Client::new(sdk),
                settings.table.clone(),
            )),
            workflow: Arc::new(StepFunctions::new(
                aws_sdk_sfn::Client::new(sdk),
                settings.state_machine_arn.clone(),
            )),
            executor: Arc::new(LambdaInvoker::new(
                credentials,
                region,
                settings.lambda_endpoint.clone(),
            )),
            notices: Arc::new(Topic::new(
                aws_sdk_sns::Client::new(sdk),
                settings.topic_arn.clone(),
            )),
            alarms: settings.alarm_topic_arn.as_ref().map(|arn| {
                Arc::new(Topic::new(aws_sdk_sns::Client::new(sdk), arn.clone()))
                    as Arc<dyn Publisher>
            }),
            payloads: match &settings.payload_bucket {
                Some(bucket) => Some(Arc::new(S3Payloads::new(
                    sdk,
                    bucket,
                    settings.aws_endpoint.as_deref(),
                )?) as Arc<dyn PayloadStore>),
                None => None,
            },
        };
        let mut api = Self::assemble(settings, ports, keys, policy);
        api.front_door_url = tollgate_aws::front_door_url::FrontDoorEndpoint::new(
            api.settings.front_door_url.clone(),
            Some(reader),
        );
        Ok(api)
    }

    /// What the front door's own URL (the Function URL) answers to anything but a signed AWS
    /// call: Tollgate's JSON API, pages and MCP are served only through the HTTP API, with
    /// its throttling and access log.
    pub fn not_on_the_front_door(&self) -> Response {
        Response::error(&ApiError::new(
            tollgate_core::ErrorCode::NotFound,
            format!(
                "this URL serves only SigV4-signed AWS calls (Tollgate's front door); Tollgate's API is at {}",
                self.settings.public_url
            ),
        ))
    }

    /// Decides every request with `shadow` too, recording what it would have decided.
    pub fn with_shadow(mut self, shadow: Option<Arc<dyn Policy>>) -> Self {
        self.shadow = shadow;
        self
    }

    /// The API on the ports and keys given, read from nowhere: [`Api::new`]'s last step, and
    /// how the handler tests and the in-process bench (`make bench`) build one on the
    /// in-memory store.
    pub fn assemble(
        settings: Settings,
        ports: Ports,
        keys: ApiKeys,
        policy: Arc<dyn Policy>,
    ) -> Self {
        Self {
            store: ports.store,
            workflow: ports.workflow,
            executor: ports.executor,
            notices: ports.notices,
            alarms: ports.alarms,
            payloads: ports.payloads,
            agents: Verifier::new(settings.agent_issuers.clone(), settings.jwks_min_refresh),
            approvers: Verifier::new(settings.approver_issuers.clone(), settings.jwks_min_refresh),
            policy,
            shadow: None,
            poll_interval: Duration::from_millis(250),
            keys,
            discovery: approver_session::DiscoveryCache::default(),
            front_door_url: tollgate_aws::front_door_url::FrontDoorEndpoint::new(
                settings.front_door_url.clone(),
                None,
            ),
            settings,
        }
    }

    /// Routes one request. Never panics and never answers 500 for the caller's mistakes:
    /// every refusal is a JSON error naming what was wrong.
    /// `source_ip` is the caller's address as the front end saw it (API Gateway's
    /// `sourceIp`, the local host's peer address); policies see it as `context.sourceIp`.
    pub async fn handle(&self, req: Request, source_ip: &str) -> Response {
        let method = req.method().clone();
        let path = req.uri().path().trim_end_matches('/').to_string();
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let result = match (method.as_str(), segments.as_slice()) {
            ("GET", ["v1", "health"]) => Ok(Response::json(200, &serde_json::json!({"ok": true}))),
            ("POST", ["v1", "requests"]) => self.submit(&req, source_ip).await,
            ("POST", ["v1", "plans"]) => self.submit_plan(&req, source_ip).await,
            ("POST", ["v1", "uploads"]) => self.submit_upload(&req, source_ip).await,
            ("POST", ["v1", "credentials"]) => self.credentials(&req).await,
            ("GET", ["v1", "requests"]) => self.list(&req).await,
            ("POST", ["v1", "requests", id, "cancel"]) => self.cancel(&req, id).await,
            // `/v1/decisions` is the dry run's old path, still served.
            ("POST", ["v1", "explain" | "decisions"]) => self.explain(&req, source_ip).await,
            ("GET", ["v1", "openapi.json"]) => Ok(openapi::document(self.settings.targets.keys())),
            ("GET", ["v1", "requests", id]) => self.status(&req, id).await,
            ("POST", ["v1", "requests", id, verb @ ("approve" | "reject")]) => {
                self.vote(&req, id, verb).await
            }
            ("POST", ["v1", "requests", id, "breakglass"]) => self.break_glass_api(&req, id).await,
            ("POST", ["v1", "requests", id, "acknowledge"]) => self.acknowledge_api(&req, id).await,
            ("GET", ["v1", "approvals", id]) => self.approval_page(&req, id).await,
            ("POST", ["v1", "approvals", id]) => self.approval_form(&req, id).await,
            ("GET", ["v1", "inbox"]) => self.inbox(&req).await,
            ("GET", ["v1", "inbox", id]) => self.inbox_request(&req, id).await,
            ("POST", ["v1", "inbox", id]) => self.inbox_form(&req, id).await,
            ("GET", ["v1", "approver", "login"]) => self.login(&req).await,
            ("GET", ["v1", "approver", "callback"]) => self.callback(&req).await,
            ("POST", ["v1", "approver", "logout"]) => self.logout(&req).await,
            ("POST", ["v1", "slack", "actions"]) => self.slack_action(&req).await,
            ("GET", ["v1", "grants"]) => self.list_grants(&req).await,
            ("POST", ["v1", "grants", id, "revoke"]) => self.revoke_grant(&req, id).await,
            ("POST", ["v1", "inbox", "grants", id, "revoke"]) => {
                self.inbox_revoke_form(&req, id).await
            }
            ("POST", ["mcp"]) => Ok(self.mcp(&req, source_ip).await),
            ("GET" | "DELETE", ["mcp"]) => Ok(self.mcp_other(method.as_str())),
            ("GET", [".well-known", "oauth-protected-resource"])
            | ("GET", [".well-known", "oauth-protected-resource", "mcp"]) => {
                Ok(self.resource_metadata())
            }
            _ => match allowed_methods(&segments) {
                Some(allow) => {
                    return Response::error(&ApiError::new(
                        ErrorCode::MethodNotAllowed,
                        format!("{method} is not allowed on {path}"),
                    ))
                    .with_header("allow", allow);
                }
                None => Err(ApiError::new(
                    ErrorCode::NotFound,
                    format!("no route for {path}"),
                )),
            },
        };
        result.unwrap_or_else(|e| Response::error(&e))
    }
}

/// Loads the configured policies (bundled, a directory, SSM or S3) and checks them. Any
/// problem stops the cold start: running with no policy, or half of one, would not fail closed.
pub async fn load_policy(settings: &Settings, sdk: &SdkConfig) -> Result<Arc<dyn Policy>, String> {
    load_policy_from(&settings.policy_source, settings, sdk).await
}

/// The shadow policies, when configured, loaded and checked as strictly as the enforced ones:
/// a shadow set that does not load stops the start too, rather than record nothing unseen.
pub async fn load_shadow_policy(
    settings: &Settings,
    sdk: &SdkConfig,
) -> Result<Option<Arc<dyn Policy>>, String> {
    match &settings.shadow_policy_source {
        None => Ok(None),
        Some(source) => load_policy_from(source, settings, sdk)
            .await
            .map(Some)
            .map_err(|e| format!("shadow policies: {e}")),
    }
}

async fn load_policy_from(
    source: &policy_source::Source,
    settings: &Settings,
    sdk: &SdkConfig,
) -> Result<Arc<dyn Policy>, String> {
    let (credentials, region) =
        signing_identity(sdk, &settings.default_region).map_err(|e| e.to_string())?;
    let loaded = match source {
        policy_source::Source::Bundled => bundled_sources(),
        policy_source::Source::Dir(dir) => sources_in_dir(std::path::Path::new(dir))?,
        remote => {
            match policy_source::load(
                remote,
                &credentials,
                &region,
                settings.aws_endpoint.as_deref(),
            )
            .await?
            {
                Some((name, text)) => vec![PolicySource::new(name, text)],
                None => bundled_sources(),
            }
        }
    };
    // Whatever the source, the forbid on Tollgate's own resources is part of the set.
    let policy = CedarPolicy::deployed(
        loaded,
        settings.approval_timeout_seconds,
        settings.own_resources.clone(),
    )?;
    tracing::info!(policies = policy.policy_count(), source = %source.setting(), "policies loaded");
    Ok(Arc::new(policy))
}

/// The methods a known path answers, for the `Allow` header of a 405.
fn allowed_methods(segments: &[&str]) -> Option<&'static str> {
    match segments {
        ["v1", "health" | "openapi.json"]
        | ["v1", "requests", _]
        | ["v1", "approver", "login" | "callback"]
        | ["v1", "inbox"]
        | ["v1", "grants"] => Some("GET"),
        ["v1", "requests"] | ["v1", "approvals", _] | ["v1", "inbox", _] => Some("GET, POST"),
        [
            "v1",
            "explain" | "decisions" | "credentials" | "plans" | "uploads",
        ]
        | [
            "v1",
            "requests",
            _,
            "approve" | "reject" | "cancel" | "breakglass" | "acknowledge",
        ]
        | ["v1", "approver", "logout"]
        | ["v1", "slack", "actions"]
        | ["v1", "grants", _, "revoke"]
        | ["v1", "inbox", "grants", _, "revoke"]
        | ["mcp"] => Some("POST"),
        [".well-known", "oauth-protected-resource"]
        | [".well-known", "oauth-protected-resource", "mcp"] => Some("GET"),
        _ => None,
    }
}

pub(crate) fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub(crate) fn query_param(req: &Request, name: &str) -> Option<String> {
    let q = req.uri().query()?;
    url::form_urlencoded::parse(q.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::allowed_methods;

    #[test]
    fn known_paths_name_their_methods_for_a_405() {
        let allow = |p: &str| {
            let segments: Vec<&str> = p.split('/').skip(1).collect();
            allowed_methods(&segments)
        };
        assert_eq!(allow("/v1/requests"), Some("GET, POST"));
        assert_eq!(allow("/v1/requests/X"), Some("GET"));
        assert_eq!(allow("/v1/requests/X/cancel"), Some("POST"));
        assert_eq!(allow("/v1/explain"), Some("POST"));
        assert_eq!(allow("/v1/plans"), Some("POST"));
        assert_eq!(allow("/v1/uploads"), Some("POST"));
        assert_eq!(allow("/v1/decisions"), Some("POST"));
        assert_eq!(allow("/v1/openapi.json"), Some("GET"));
        assert_eq!(allow("/v1/approvals/X"), Some("GET, POST"));
        assert_eq!(allow("/v1/approver/callback"), Some("GET"));
        assert_eq!(allow("/v1/inbox"), Some("GET"));
        assert_eq!(allow("/v1/inbox/X"), Some("GET, POST"));
        assert_eq!(allow("/v1/slack/actions"), Some("POST"));
        assert_eq!(allow("/v1/grants"), Some("GET"));
        assert_eq!(allow("/v1/grants/G1/revoke"), Some("POST"));
        assert_eq!(allow("/v1/inbox/grants/G1/revoke"), Some("POST"));
        assert_eq!(allow("/mcp"), Some("POST"));
        assert_eq!(
            allow("/.well-known/oauth-protected-resource/mcp"),
            Some("GET")
        );
        assert_eq!(allow("/v1/requests/X/delete"), None);
        assert_eq!(allow("/v2/requests"), None);
    }
}
