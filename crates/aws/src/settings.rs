//! Configuration shared by the three functions, read once at cold start. On AWS it comes
//! from the environment the SAM template sets; the local stack builds it directly.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::config::env;
use crate::keys::{Purpose, SecretIds};
use crate::metrics::Metrics;
use crate::oidc::{IssuerConfig, parse_issuers};
use crate::policy_source::Source;
use tollgate_core::Identity;
use tollgate_core::own::OwnResources;

#[derive(Debug, Clone)]
pub struct Settings {
    pub table: String,
    pub state_machine_arn: String,
    pub topic_arn: String,
    /// The alarm topic (`TOLLGATE_ALARM_TOPIC_ARN`), which break-glass approvals and their
    /// overdue acknowledgements are published to. Without one, break-glass is refused: it
    /// is never used quietly.
    pub alarm_topic_arn: Option<String>,
    /// Where front-door bodies too large for the record are kept
    /// (`TOLLGATE_PAYLOAD_BUCKET`; `tollgate_core::payload`). Without it, bodies above the
    /// inline bound are refused.
    pub payload_bucket: Option<String>,
    /// How long a second approver has to acknowledge a break-glass approval
    /// (`TOLLGATE_BREAKGLASS_ACK_SECONDS`, default a day, from 5 minutes to 7 days).
    pub breakglass_ack_seconds: u64,
    pub executor_function: String,
    /// Target name → IAM role ARN the executor assumes.
    pub targets: BTreeMap<String, String>,
    /// Base URL approvers reach the API at (links in notices).
    pub public_url: String,
    /// Where agents' AWS tools reach the front door (`TOLLGATE_FRONT_DOOR_URL`: unset for
    /// `public_url`, a URL, or `ssm:<name>` read on first use; see `front_door_url`).
    pub front_door_url: crate::front_door_url::FrontDoorUrl,
    /// Where the keys and the Slack app's secret are (ARNs of Secrets Manager secrets, read
    /// at cold start; never the secrets themselves).
    pub secrets: SecretIds,
    /// The account Tollgate runs in (`TOLLGATE_ACCOUNT_ID`, the template's `AWS::AccountId`).
    pub account_id: String,
    /// Whether a target's role may be in Tollgate's own account (`TOLLGATE_ALLOW_SELF_TARGET`,
    /// default false).
    pub allow_self_target: bool,
    /// Tollgate's own resources, which policy sees as `resource.tollgate`
    /// (`TOLLGATE_OWN_PREFIX`, `TOLLGATE_OWN_RESOURCES`).
    pub own_resources: OwnResources,
    pub agent_issuers: Vec<IssuerConfig>,
    pub approver_issuers: Vec<IssuerConfig>,
    pub default_region: String,
    pub approval_timeout_seconds: u64,
    /// Most steps a plan may have (`TOLLGATE_MAX_PLAN_STEPS`).
    pub max_plan_steps: usize,
    /// Shortest time between two JWKS refetches for unknown key ids.
    pub jwks_min_refresh: Duration,
    /// Overrides the Lambda endpoint (the local stack's invoke API).
    pub lambda_endpoint: Option<String>,
    /// Overrides every AWS endpoint the executor calls (the emulator).
    pub aws_endpoint: Option<String>,
    /// Where the policies come from (`TOLLGATE_POLICY_SOURCE`).
    pub policy_source: Source,
    /// Where the shadow policies come from (`TOLLGATE_SHADOW_POLICY_SOURCE`; none when unset
    /// or empty): evaluated beside the enforced set for every request, recorded, never
    /// enforced.
    pub shadow_policy_source: Option<Source>,
    /// Where EMF metric lines go (`TOLLGATE_METRICS`: `stdout`, the default, or `off`).
    pub metrics: Metrics,
    /// Slack user id, or e-mail address, → the approver identity it acts as
    /// (`TOLLGATE_SLACK_APPROVERS`, JSON). The identity should be the one the approver's OIDC
    /// sign-in yields, so a vote in Slack and one on the page count as the same approver.
    pub slack_approvers: BTreeMap<String, Identity>,
    /// Slack's Web API base (`TOLLGATE_SLACK_API_URL`, default `https://slack.com/api`).
    pub slack_api_url: String,
}

/// A setting that is missing or malformed; the message names it.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("environment variable {0} must be set")]
    Missing(String),
    #[error("{setting}: {reason}")]
    Invalid { setting: String, reason: String },
}

fn invalid(setting: &str, reason: impl std::fmt::Display) -> SettingsError {
    SettingsError::Invalid {
        setting: setting.to_string(),
        reason: reason.to_string(),
    }
}

/// Where a setting's value comes from: the environment, or what `load` read from SSM.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

fn required(get: Lookup, name: &str) -> Result<String, SettingsError> {
    get(name).ok_or_else(|| SettingsError::Missing(name.to_string()))
}

fn issuers(get: Lookup, var: &str) -> Result<Vec<IssuerConfig>, SettingsError> {
    parse_issuers(&required(get, var)?).map_err(|e| invalid(var, e))
}

/// The settings that may be given as `ssm:<parameter name>`: the lists that grow with an
/// organisation (Lambda's whole environment is limited to 4 KB) and change without a deploy
/// (a function reads them at cold start).
pub const FROM_SSM: [&str; 4] = [
    "TOLLGATE_TARGETS",
    "TOLLGATE_AGENT_ISSUERS",
    "TOLLGATE_APPROVER_ISSUERS",
    "TOLLGATE_SLACK_APPROVERS",
];

impl Settings {
    /// Reads every setting from the environment, failing with the name of the first one
    /// missing or malformed; an `ssm:` reference is malformed here (use `load`).
    pub fn from_env() -> Result<Self, SettingsError> {
        Self::from_lookup(&env)
    }

    /// `from_env`, with each of `FROM_SSM` given as `ssm:<name>` read from SSM Parameter
    /// Store first, with the function's own credentials. A parameter that cannot be read
    /// fails the cold start with its setting's name: a function never runs on a partial
    /// configuration.
    pub async fn load(sdk: &aws_config::SdkConfig) -> Result<Self, SettingsError> {
        Self::load_with(sdk, &env).await
    }

    /// `load` with the settings looked up by `get` instead of in the environment.
    pub async fn load_with(
        sdk: &aws_config::SdkConfig,
        get: Lookup<'_>,
    ) -> Result<Self, SettingsError> {
        let refs: Vec<(&str, String)> = FROM_SSM
            .into_iter()
            .filter_map(|name| {
                let param = get(name)?.strip_prefix("ssm:")?.to_string();
                Some((name, param))
            })
            .collect();
        let mut resolved = BTreeMap::new();
        if let Some((first, first_param)) = refs.first() {
            // One set of credentials for every reference, asked for only when there is one.
            let region = get("AWS_REGION").unwrap_or_else(|| "us-east-1".into());
            let (provider, region) =
                crate::config::signing_identity(sdk, &region).map_err(|e| invalid(first, e))?;
            let creds =
                aws_credential_types::provider::ProvideCredentials::provide_credentials(&provider)
                    .await
                    .map_err(|e| {
                        invalid(
                            first,
                            format!("no credentials to read ssm:{first_param}: {e}"),
                        )
                    })?;
            let endpoint = get("TOLLGATE_AWS_ENDPOINT");
            for (name, param) in &refs {
                let value = crate::ssm::get_parameter(&creds, &region, endpoint.as_deref(), param)
                    .await
                    .map_err(|e| invalid(name, e))?;
                resolved.insert(*name, value);
            }
        }
        Self::from_lookup(&|name| resolved.get(name).cloned().or_else(|| get(name)))
    }

    /// Every setting as `get` gives it (the environment, or what `load` resolved).
    pub fn from_lookup(get: Lookup) -> Result<Self, SettingsError> {
        for name in FROM_SSM {
            if let Some(v) = get(name).filter(|v| v.starts_with("ssm:")) {
                return Err(invalid(
                    name,
                    format!("`{v}` was not read from SSM (an unresolved reference)"),
                ));
            }
        }
        let targets: BTreeMap<String, String> =
            serde_json::from_str(&required(get, "TOLLGATE_TARGETS")?).map_err(|e| {
                invalid(
                    "TOLLGATE_TARGETS",
                    format!("must be a JSON object of name to role ARN: {e}"),
                )
            })?;
        let secrets = SecretIds {
            keys: Purpose::ALL
                .iter()
                .filter_map(|p| get(p.setting()).map(|id| (*p, id)))
                .collect(),
            slack_actions: get("TOLLGATE_SLACK_ACTIONS_SECRET"),
        };
        let account_id = required(get, "TOLLGATE_ACCOUNT_ID")?;
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(
                "TOLLGATE_ACCOUNT_ID",
                format!("`{account_id}` is not a 12-digit account id"),
            ));
        }
        let allow_self_target = match get("TOLLGATE_ALLOW_SELF_TARGET").as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(invalid(
                    "TOLLGATE_ALLOW_SELF_TARGET",
                    format!("`{other}` is not `true` or `false`"),
                ));
            }
        };
        let own_arns: Vec<String> = get("TOLLGATE_OWN_RESOURCES")
            .map(|v| v.split(',').map(str::to_string).collect())
            .unwrap_or_default();
        let own_resources = OwnResources::new(
            &account_id,
            get("TOLLGATE_OWN_PREFIX").as_deref(),
            &own_arns,
        )
        .map_err(|e| invalid("TOLLGATE_OWN_RESOURCES / TOLLGATE_OWN_PREFIX", e))?;
        let num = |name: &str, default: u64| -> Result<u64, SettingsError> {
            get(name).map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| invalid(name, "must be a whole number"))
            })
        };
        Ok(Self {
            table: required(get, "TOLLGATE_TABLE")?,
            state_machine_arn: required(get, "TOLLGATE_STATE_MACHINE_ARN")?,
            topic_arn: required(get, "TOLLGATE_TOPIC_ARN")?,
            alarm_topic_arn: get("TOLLGATE_ALARM_TOPIC_ARN").filter(|v| !v.is_empty()),
            payload_bucket: get("TOLLGATE_PAYLOAD_BUCKET").filter(|v| !v.is_empty()),
            breakglass_ack_seconds: match num(
                "TOLLGATE_BREAKGLASS_ACK_SECONDS",
                tollgate_core::breakglass::DEFAULT_ACK_SECONDS,
            )? {
                s @ 300..=604_800 => s,
                _ => {
                    return Err(invalid(
                        "TOLLGATE_BREAKGLASS_ACK_SECONDS",
                        "must be seconds from 300 (5 minutes) to 604800 (7 days)",
                    ));
                }
            },
            executor_function: required(get, "TOLLGATE_EXECUTOR_FUNCTION")?,
            targets,
            public_url: required(get, "TOLLGATE_PUBLIC_URL")?
                .trim_end_matches('/')
                .to_string(),
            front_door_url: crate::front_door_url::FrontDoorUrl::parse(
                get("TOLLGATE_FRONT_DOOR_URL").as_deref(),
            )
            .map_err(|e| invalid("TOLLGATE_FRONT_DOOR_URL", e))?,
            secrets,
            account_id,
            allow_self_target,
            own_resources,
            agent_issuers: issuers(get, "TOLLGATE_AGENT_ISSUERS")?,
            approver_issuers: issuers(get, "TOLLGATE_APPROVER_ISSUERS")?,
            default_region: get("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
            approval_timeout_seconds: num("TOLLGATE_APPROVAL_TIMEOUT_SECONDS", 3600)?,
            max_plan_steps: num(
                "TOLLGATE_MAX_PLAN_STEPS",
                tollgate_core::plan::DEFAULT_MAX_STEPS as u64,
            )? as usize,
            jwks_min_refresh: Duration::from_secs(num("TOLLGATE_JWKS_MIN_REFRESH_SECONDS", 10)?),
            lambda_endpoint: get("TOLLGATE_LAMBDA_ENDPOINT"),
            aws_endpoint: get("TOLLGATE_AWS_ENDPOINT"),
            policy_source: Source::parse(&get("TOLLGATE_POLICY_SOURCE").unwrap_or_default())
                .map_err(|e| invalid("TOLLGATE_POLICY_SOURCE", e))?,
            shadow_policy_source: match get("TOLLGATE_SHADOW_POLICY_SOURCE") {
                None => None,
                Some(v) => Some(
                    Source::parse(&v).map_err(|e| invalid("TOLLGATE_SHADOW_POLICY_SOURCE", e))?,
                ),
            },
            metrics: match get("TOLLGATE_METRICS").as_deref() {
                None | Some("stdout") => Metrics::Stdout,
                Some("off") => Metrics::Off,
                Some(other) => {
                    return Err(invalid(
                        "TOLLGATE_METRICS",
                        format!("`{other}` is not `stdout` or `off`"),
                    ));
                }
            },
            slack_approvers: match get("TOLLGATE_SLACK_APPROVERS") {
                None => BTreeMap::new(),
                Some(v) => serde_json::from_str::<BTreeMap<String, Identity>>(&v)
                    .map(|m| {
                        // E-mail keys compare case-insensitively; Slack ids are upper case.
                        m.into_iter()
                            .map(|(k, id)| if k.contains('@') { (k.to_ascii_lowercase(), id) } else { (k, id) })
                            .collect()
                    })
                    .map_err(|e| {
                    invalid("TOLLGATE_SLACK_APPROVERS", format!("must map Slack user ids to identities ({{\"issuer\", \"subject\", \"name\", \"groups\"}}): {e}"))
                })?,
            },
            slack_api_url: get("TOLLGATE_SLACK_API_URL")
                .unwrap_or_else(|| "https://slack.com/api".into()),
        })
    }
}
