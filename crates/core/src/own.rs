//! Tollgate's own resources: its table, functions, workflow, topics, keys and secrets. An agent
//! that could read or change them could read other agents' requests, forge approvals or turn
//! the gate off, so policy sees every resource a call touches marked as Tollgate's or not
//! (`resource.tollgate`), and the shipped policies forbid those calls whoever approves.
//!
//! What is Tollgate's comes from the deployment: a name prefix (the stack name and `-`, which
//! every name the template gives starts with) for resources in Tollgate's own account, and
//! explicit ARNs for what the template cannot name (its KMS key, its bucket, the stack, the
//! operator's Slack secrets and policy source).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::scope::arn_account;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnResources {
    account: String,
    prefix: Option<String>,
    arns: Vec<String>,
}

/// Shortest name worth looking for in parameters: shorter ones would match by accident.
const MIN_NAME_CHARS: usize = 4;

impl OwnResources {
    /// `prefix` applies to resources in `account`; `arns` anywhere. Names the entry that is
    /// not an ARN.
    pub fn new(account: &str, prefix: Option<&str>, arns: &[String]) -> Result<Self, String> {
        let prefix = prefix.map(str::trim).filter(|p| !p.is_empty());
        if let Some(p) = prefix
            && p.chars().count() < MIN_NAME_CHARS
        {
            return Err(format!(
                "prefix `{p}`: must be at least {MIN_NAME_CHARS} characters"
            ));
        }
        let mut list = Vec::new();
        for a in arns.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
            if !a.starts_with("arn:") || a.split(':').count() < 6 {
                return Err(format!("`{a}` is not an ARN"));
            }
            list.push(a.to_string());
        }
        Ok(Self {
            account: account.to_string(),
            prefix: prefix.map(str::to_string),
            arns: list,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.prefix.is_none() && self.arns.is_empty()
    }

    pub fn account(&self) -> &str {
        &self.account
    }

    pub fn prefix(&self) -> Option<&str> {
        self.prefix.as_deref()
    }

    pub fn arns(&self) -> &[String] {
        &self.arns
    }

    /// Whether `arn` (a resource derived from a call's parameters) is Tollgate's, or lies
    /// inside something that is (an index of its table, an object in its bucket, an execution
    /// of its state machine). An ARN embedded in a derived one counts too.
    pub fn contains(&self, arn: &str) -> bool {
        if self.arns.iter().any(|own| {
            embeds(arn, own) || secret_base(own).is_some_and(|base| embeds_prefix(arn, base))
        }) {
            return true;
        }
        let Some(prefix) = &self.prefix else {
            return false;
        };
        if arn_account(arn) != Some(self.account.as_str()) {
            return false;
        }
        resource_part(arn)
            .split([':', '/'])
            .any(|segment| segment.starts_with(prefix.as_str()))
    }

    /// Whether any string or member name in `params` names one of Tollgate's resources. For
    /// calls whose resources cannot be derived (a PartiQL statement, a batch keyed by table
    /// name): they count as Tollgate's when they mention it.
    pub fn mentioned_in(&self, params: &Map<String, Value>) -> bool {
        let names = self.names();
        if names.is_empty() {
            return false;
        }
        let hit = |s: &str| names.iter().any(|n| s.contains(n.as_str()));
        fn walk(v: &Value, hit: &dyn Fn(&str) -> bool) -> bool {
            match v {
                Value::String(s) => hit(s),
                Value::Array(items) => items.iter().any(|i| walk(i, hit)),
                Value::Object(m) => m.iter().any(|(k, v)| hit(k) || walk(v, hit)),
                _ => false,
            }
        }
        params.iter().any(|(k, v)| hit(k) || walk(v, &hit))
    }

    /// The names to look for: the prefix, the last segment of each ARN, and each secret's
    /// name (without the random suffix Secrets Manager adds to its ARN).
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.prefix.iter().cloned().collect();
        for a in &self.arns {
            if let Some(base) = secret_base(a) {
                // Secret names may contain `/`: the whole name is what a call mentions.
                names.push(
                    resource_part(base)
                        .trim_start_matches("secret:")
                        .to_string(),
                );
                continue;
            }
            if let Some(last) = resource_part(a)
                .split([':', '/'])
                .rev()
                .map(|s| s.trim_end_matches('*'))
                .find(|s| !s.is_empty())
                .filter(|s| s.chars().count() >= MIN_NAME_CHARS)
            {
                names.push(last.to_string());
            }
        }
        names
    }
}

/// Everything after `arn:partition:service:region:account:`.
fn resource_part(arn: &str) -> &str {
    arn.splitn(6, ':').nth(5).unwrap_or("")
}

/// `own` occurs in `arn` as a whole resource: followed by nothing, `/` or `:`.
fn embeds(arn: &str, own: &str) -> bool {
    arn.match_indices(own).any(|(i, _)| {
        matches!(
            arn.as_bytes().get(i + own.len()),
            None | Some(b'/') | Some(b':')
        )
    })
}

/// A secret named by its name rather than its ARN: `...:secret:name` for `...:secret:name-AbCdEf`.
fn embeds_prefix(arn: &str, base: &str) -> bool {
    embeds(arn, base)
        || arn
            .match_indices(base)
            .any(|(i, _)| arn.as_bytes().get(i + base.len()) == Some(&b'-'))
}

/// A Secrets Manager ARN without the `-XXXXXX` suffix Secrets Manager appends to names.
fn secret_base(arn: &str) -> Option<&str> {
    if arn.split(':').nth(2) != Some("secretsmanager") {
        return None;
    }
    let (base, suffix) = arn.rsplit_once('-')?;
    (suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_alphanumeric())).then_some(base)
}

/// The targets whose role is in `account` (Tollgate's own), by name.
pub fn self_targets<'a>(targets: &'a BTreeMap<String, String>, account: &str) -> Vec<&'a str> {
    targets
        .iter()
        .filter(|(_, role)| arn_account(role) == Some(account))
        .map(|(name, _)| name.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const A: &str = "111122223333";

    fn own() -> OwnResources {
        OwnResources::new(
            A,
            Some("tgx-"),
            &[
                "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                    .into(),
                "arn:aws:s3:::tgx-auditbucket-x1y2".into(),
                "arn:aws:secretsmanager:us-east-1:111122223333:secret:slack/app-AbC123".into(),
                String::new(),
            ],
        )
        .unwrap()
    }

    #[test]
    fn prefixed_names_in_the_own_account_are_tollgates() {
        let o = own();
        for arn in [
            "arn:aws:dynamodb:us-east-1:111122223333:table/tgx-RequestsTable-ABC",
            "arn:aws:dynamodb:us-east-1:111122223333:table/tgx-RequestsTable-ABC/index/by-agent",
            "arn:aws:lambda:us-east-1:111122223333:function:tgx-api",
            "arn:aws:lambda:us-east-1:111122223333:function:tgx-api:$LATEST",
            "arn:aws:states:us-east-1:111122223333:execution:tgx-approval:01J",
            "arn:aws:iam::111122223333:role/tgx-ApiFunctionRole-XYZ",
            "arn:aws:logs:us-east-1:111122223333:log-group:/aws/lambda/tgx-api",
            "arn:aws:secretsmanager:us-east-1:111122223333:secret:tgx-link-key-0f3c",
        ] {
            assert!(o.contains(arn), "{arn}");
        }
        // The same names in another account, and other names here, are not.
        for arn in [
            "arn:aws:dynamodb:us-east-1:444455556666:table/tgx-RequestsTable-ABC",
            "arn:aws:dynamodb:us-east-1:111122223333:table/orders",
            "arn:aws:lambda:us-east-1:111122223333:function:my-tgx-api",
            "*",
        ] {
            assert!(!o.contains(arn), "{arn}");
        }
    }

    #[test]
    fn listed_arns_and_what_lies_inside_them() {
        let o = own();
        assert!(o.contains("arn:aws:s3:::tgx-auditbucket-x1y2"));
        assert!(o.contains("arn:aws:s3:::tgx-auditbucket-x1y2/audit/2026/01/01/x.jsonl"));
        assert!(!o.contains("arn:aws:s3:::tgx-auditbucket-x1y2-copy"));
        assert!(o.contains(
            "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        ));
        // A secret named without its random suffix, or with it.
        assert!(o.contains("arn:aws:secretsmanager:us-east-1:111122223333:secret:slack/app"));
        assert!(
            o.contains("arn:aws:secretsmanager:us-east-1:111122223333:secret:slack/app-AbC123")
        );
        assert!(!o.contains("arn:aws:secretsmanager:us-east-1:111122223333:secret:slack/apps"));
        // An ARN given where a name was expected ends up embedded in the derived one.
        assert!(o.contains(
            "arn:aws:lambda:us-east-1:111122223333:function:arn:aws:lambda:us-east-1:111122223333:function:tgx-api"
        ));
    }

    #[test]
    fn mentions_in_parameters() {
        let o = own();
        let p = |v: Value| v.as_object().unwrap().clone();
        assert!(o.mentioned_in(&p(
            json!({"Statement": "SELECT * FROM \"tgx-RequestsTable-ABC\""})
        )));
        assert!(o.mentioned_in(&p(
            json!({"RequestItems": {"tgx-RequestsTable-ABC": [{"DeleteRequest": {}}]}})
        )));
        assert!(o.mentioned_in(&p(json!({"SecretIdList": ["slack/app"]}))));
        assert!(!o.mentioned_in(&p(
            json!({"Statement": "SELECT * FROM \"orders\"", "Limit": 3})
        )));
        assert!(!OwnResources::default().mentioned_in(&p(json!({"x": "tgx-"}))));
    }

    #[test]
    fn bad_entries_and_self_targets() {
        assert!(
            OwnResources::new(A, Some("t"), &[])
                .unwrap_err()
                .contains("prefix")
        );
        assert!(
            OwnResources::new(A, None, &["table/x".into()])
                .unwrap_err()
                .contains("`table/x`")
        );
        assert!(OwnResources::new(A, Some(" "), &[]).unwrap().is_empty());
        let targets = BTreeMap::from([
            (
                "default".to_string(),
                "arn:aws:iam::111122223333:role/t".to_string(),
            ),
            (
                "prod".to_string(),
                "arn:aws:iam::444455556666:role/t".to_string(),
            ),
        ]);
        assert_eq!(self_targets(&targets, A), vec!["default"]);
    }
}
