//! The functions as Lambda shows them. The handlers run in-process, but the emulator's Lambda
//! holds each function's configuration with the environment a deployed function carries
//! (what `infra/template.yaml` sets), so `lambda:ListFunctions` or `GetFunctionConfiguration`
//! through Tollgate on the local stack's own account answers what it would on AWS. The bench
//! starts the function binaries with the same environment.

use std::collections::BTreeMap;

use aws_credential_types::Credentials;
use serde_json::json;
use tollgate_aws::oidc::IssuerConfig;
use tollgate_aws::policy_source::Source;
use tollgate_aws::settings::Settings;
use tollgate_aws::signed_http::SignedHttp;

use crate::names::Names;

fn issuers(list: &[IssuerConfig]) -> String {
    let entries: Vec<serde_json::Value> = list
        .iter()
        .map(|c| {
            let mut e = json!({"issuer": c.issuer, "audiences": c.audiences});
            if let Some(u) = &c.jwks_uri {
                e["jwks_uri"] = json!(u);
            }
            // An approver issuer must name its approver groups, or the function refuses to
            // start (the bench starts the real binaries with this environment).
            if !c.approver_groups.is_empty() {
                e["approver_groups"] = json!(c.approver_groups);
            }
            e
        })
        .collect();
    serde_json::Value::Array(entries).to_string()
}

/// The environment variables a function configured by `settings` carries.
pub fn environment(settings: &Settings) -> BTreeMap<String, String> {
    let s = settings;
    let mut env = BTreeMap::from([
        ("TOLLGATE_TABLE", s.table.clone()),
        ("TOLLGATE_STATE_MACHINE_ARN", s.state_machine_arn.clone()),
        ("TOLLGATE_TOPIC_ARN", s.topic_arn.clone()),
        (
            "TOLLGATE_ALARM_TOPIC_ARN",
            s.alarm_topic_arn.clone().unwrap_or_default(),
        ),
        (
            "TOLLGATE_PAYLOAD_BUCKET",
            s.payload_bucket.clone().unwrap_or_default(),
        ),
        (
            "TOLLGATE_BREAKGLASS_ACK_SECONDS",
            s.breakglass_ack_seconds.to_string(),
        ),
        ("TOLLGATE_EXECUTOR_FUNCTION", s.executor_function.clone()),
        (
            "TOLLGATE_TARGETS",
            serde_json::to_string(&s.targets).unwrap_or_default(),
        ),
        ("TOLLGATE_PUBLIC_URL", s.public_url.clone()),
        ("TOLLGATE_FRONT_DOOR_URL", s.front_door_url.to_string()),
        ("TOLLGATE_ACCOUNT_ID", s.account_id.clone()),
        (
            "TOLLGATE_ALLOW_SELF_TARGET",
            s.allow_self_target.to_string(),
        ),
        ("TOLLGATE_AGENT_ISSUERS", issuers(&s.agent_issuers)),
        ("TOLLGATE_APPROVER_ISSUERS", issuers(&s.approver_issuers)),
        (
            "TOLLGATE_APPROVAL_TIMEOUT_SECONDS",
            s.approval_timeout_seconds.to_string(),
        ),
        (
            "TOLLGATE_JWKS_MIN_REFRESH_SECONDS",
            s.jwks_min_refresh.as_secs().to_string(),
        ),
        ("TOLLGATE_POLICY_SOURCE", s.policy_source.setting()),
        (
            "TOLLGATE_SHADOW_POLICY_SOURCE",
            s.shadow_policy_source
                .as_ref()
                .map(Source::setting)
                .unwrap_or_default(),
        ),
        (
            "TOLLGATE_SLACK_APPROVERS",
            serde_json::to_string(&s.slack_approvers).unwrap_or_default(),
        ),
        ("TOLLGATE_SLACK_API_URL", s.slack_api_url.clone()),
    ])
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect::<BTreeMap<_, _>>();
    for (p, arn) in &s.secrets.keys {
        env.insert(p.setting().to_string(), arn.clone());
    }
    if let Some(arn) = &s.secrets.slack_actions {
        env.insert("TOLLGATE_SLACK_ACTIONS_SECRET".into(), arn.clone());
    }
    if let Some(prefix) = s.own_resources.prefix() {
        env.insert("TOLLGATE_OWN_PREFIX".into(), prefix.to_string());
    }
    if !s.own_resources.arns().is_empty() {
        env.insert(
            "TOLLGATE_OWN_RESOURCES".into(),
            s.own_resources.arns().join(","),
        );
    }
    for (k, v) in [
        ("TOLLGATE_LAMBDA_ENDPOINT", &s.lambda_endpoint),
        ("TOLLGATE_AWS_ENDPOINT", &s.aws_endpoint),
    ] {
        if let Some(v) = v {
            env.insert(k.to_string(), v.clone());
        }
    }
    env
}

/// An empty zip archive: Lambda needs code, and the code runs in-process here.
const EMPTY_ZIP: [u8; 22] = [
    0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// Registers the API, notifier and executor in the emulator's Lambda with `settings`'
/// environment, under `role` (an existing role's ARN).
pub async fn register(
    moto_url: &str,
    names: &Names,
    settings: &Settings,
    role: &str,
) -> Result<(), String> {
    use base64::Engine;
    let env = environment(settings);
    let creds = Credentials::new("testing", "testing", None, None, "local");
    let http = SignedHttp::new();
    for function in [
        &names.api_function,
        &names.notifier_function,
        &names.executor_function,
    ] {
        let body = json!({
            "FunctionName": function,
            "Runtime": "provided.al2023",
            "Architectures": ["arm64"],
            "Handler": "bootstrap",
            "Role": role,
            "Code": {"ZipFile": base64::engine::general_purpose::STANDARD.encode(EMPTY_ZIP)},
            "Environment": {"Variables": env},
        });
        let req = http::Request::post(format!("{moto_url}/2015-03-31/functions"))
            .header("content-type", "application/json")
            .body(body.to_string().into_bytes())
            .map_err(|e| e.to_string())?;
        let resp = http
            .send(req, &creds, &names.region, "lambda")
            .await
            .map_err(|e| e.message)?;
        if resp.status >= 300 {
            return Err(format!(
                "CreateFunction {function} answered {}: {}",
                resp.status,
                String::from_utf8_lossy(&resp.body)
            ));
        }
    }
    Ok(())
}
