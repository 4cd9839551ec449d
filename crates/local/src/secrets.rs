//! The secrets the template creates, created in the emulator the same way: one key ring per
//! purpose, `{"current": <64 characters from Secrets Manager's GetRandomPassword, no
//! punctuation>}` (what CloudFormation's `GenerateSecretString` does), and the Slack app's
//! secret when the stack is given one. The functions read them through their own Secrets
//! Manager client at cold start, as on AWS.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use serde_json::json;
use tollgate_aws::keys::{Purpose, SecretIds};

/// Secret values as created, so a restarted emulator gets the very same keys back.
#[derive(Clone, Default)]
pub struct Created {
    values: Vec<(String, String)>,
}

// Never printed: these are the keys.
impl std::fmt::Debug for Created {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Created({} secrets)", self.values.len())
    }
}

/// The secret's name in the emulator.
pub fn key_secret_name(p: Purpose) -> String {
    format!("tollgate-{}-key", p.label().replace('_', "-"))
}

pub const SLACK_ACTIONS_SECRET: &str = "tollgate-slack-actions";

async fn random_key(sm: &Client) -> Result<String, String> {
    sm.get_random_password()
        .password_length(64)
        .exclude_punctuation(true)
        .send()
        .await
        .map_err(|e| format!("GetRandomPassword: {}", DisplayErrorContext(&e)))?
        .random_password()
        .map(str::to_string)
        .ok_or_else(|| "GetRandomPassword returned no password".to_string())
}

async fn create(sm: &Client, name: &str, value: &str) -> Result<String, String> {
    sm.create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .map_err(|e| format!("CreateSecret {name}: {}", DisplayErrorContext(&e)))?
        .arn()
        .map(str::to_string)
        .ok_or_else(|| format!("CreateSecret {name}: no ARN"))
}

pub const APPROVER_CLIENT_SECRET: &str = "tollgate-approver-client-secret";

/// The approvers' sign-in client secret, as an operator stores it (JSON `{"client_secret"}`,
/// the console's key/value shape). Returns its ARN, for the issuer's `client_secret_arn`.
pub async fn create_client_secret(
    sdk: &SdkConfig,
    created: &mut Created,
    secret: &str,
) -> Result<String, String> {
    let value = json!({ "client_secret": secret }).to_string();
    let arn = create(&Client::new(sdk), APPROVER_CLIENT_SECRET, &value).await?;
    created.values.push((APPROVER_CLIENT_SECRET.into(), value));
    Ok(arn)
}

/// Creates a key ring for every purpose, and the Slack app's secret (`slack`, JSON) when
/// given. Returns where each is, and what was created (for [`recreate`]).
pub async fn create_all(
    sdk: &SdkConfig,
    slack: Option<&serde_json::Value>,
) -> Result<(SecretIds, BTreeMap<Purpose, String>, Created), String> {
    let sm = Client::new(sdk);
    let mut created = Created::default();
    let mut arns = BTreeMap::new();
    for p in Purpose::ALL {
        let value = json!({"current": random_key(&sm).await?}).to_string();
        let name = key_secret_name(p);
        arns.insert(p, create(&sm, &name, &value).await?);
        created.values.push((name, value));
    }
    let slack_actions = match slack {
        Some(v) => {
            let value = v.to_string();
            let arn = create(&sm, SLACK_ACTIONS_SECRET, &value).await?;
            created.values.push((SLACK_ACTIONS_SECRET.into(), value));
            Some(arn)
        }
        None => None,
    };
    let keys = arns.clone();
    Ok((
        SecretIds {
            keys,
            slack_actions,
        },
        arns,
        created,
    ))
}

/// Creates the same secrets again in a fresh emulator; returns their new ARNs by name.
pub async fn recreate(
    sdk: &SdkConfig,
    created: &Created,
) -> Result<BTreeMap<String, String>, String> {
    let sm = Client::new(sdk);
    let mut arns = BTreeMap::new();
    for (name, value) in &created.values {
        arns.insert(name.clone(), create(&sm, name, value).await?);
    }
    Ok(arns)
}
