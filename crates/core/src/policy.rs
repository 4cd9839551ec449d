//! Classification of a request: deny, allow now, or hold for approval. The `Policy` trait is
//! the seam a richer engine plugs into; `BuiltinRules` is the small rule set that ships until
//! one is configured.

use crate::action::Action;
use crate::decision::{Decision, Effect};
use crate::identity::Identity;

/// Everything a policy may look at. Borrowed, so deciding costs no copies.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    pub principal: &'a Identity,
    pub action: &'a Action,
    pub region: &'a str,
    pub target: &'a str,
    pub resources: &'a [String],
    pub reason: Option<&'a str>,
}

pub trait Policy: Send + Sync {
    fn decide(&self, input: &PolicyInput<'_>) -> Decision;
}

/// Operation-name prefixes of calls that only read.
const READ_PREFIXES: [&str; 9] = [
    "List", "Describe", "Get", "Head", "Scan", "Query", "BatchGet", "Search", "Lookup",
];

/// Reads that hand out credentials or secrets: they need a human even though they only read.
const SENSITIVE_READS: [&str; 10] = [
    "secretsmanager:GetSecretValue",
    "secretsmanager:BatchGetSecretValue",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ecr:GetAuthorizationToken",
    "ec2:GetPasswordData",
    "sts:GetSessionToken",
    "sts:GetFederationToken",
    "lambda:GetFunction",
];

/// List/Read-style operations run at once, IAM writes are denied, every other write needs one
/// approval. Deliberately conservative: anything it does not recognise as a read is a write.
#[derive(Debug, Clone)]
pub struct BuiltinRules {
    pub approval_timeout_seconds: u64,
}

impl Default for BuiltinRules {
    fn default() -> Self {
        Self {
            approval_timeout_seconds: 3600,
        }
    }
}

impl BuiltinRules {
    fn is_read(action: &Action) -> bool {
        let op = action.operation();
        READ_PREFIXES.iter().any(|p| {
            op.strip_prefix(p).is_some_and(|rest| {
                rest.is_empty() || rest.starts_with(|c: char| c.is_ascii_uppercase())
            })
        })
    }
}

impl Policy for BuiltinRules {
    fn decide(&self, input: &PolicyInput<'_>) -> Decision {
        let action = input.action;
        let name = action.to_string();
        let read = Self::is_read(action);
        if SENSITIVE_READS.contains(&name.as_str()) {
            return Decision {
                effect: Effect::Approval {
                    approvals: 1,
                    approvers: None,
                    timeout_seconds: self.approval_timeout_seconds,
                },
                policy_ids: vec!["builtin.sensitive-read".into()],
                reason: format!("{name} exposes secrets or credentials: one approval required"),
            };
        }
        if read {
            return Decision {
                effect: Effect::Allow,
                policy_ids: vec!["builtin.read".into()],
                reason: format!("{name} only reads: allowed"),
            };
        }
        if action.service() == "iam" {
            return Decision {
                effect: Effect::Deny,
                policy_ids: vec!["builtin.iam-write".into()],
                reason: format!("{name} changes IAM: denied"),
            };
        }
        Decision {
            effect: Effect::Approval {
                approvals: 1,
                approvers: None,
                timeout_seconds: self.approval_timeout_seconds,
            },
            policy_ids: vec!["builtin.write".into()],
            reason: format!("{name} changes resources: one approval required"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decide(action: &str) -> Decision {
        let principal = Identity {
            issuer: "i".into(),
            subject: "s".into(),
            name: "s".into(),
            groups: vec![],
            ..Default::default()
        };
        let action = Action::parse(action).unwrap();
        BuiltinRules::default().decide(&PolicyInput {
            principal: &principal,
            action: &action,
            region: "us-east-1",
            target: "default",
            resources: &[],
            reason: None,
        })
    }

    #[test]
    fn reads_are_allowed() {
        for a in [
            "dynamodb:DescribeTable",
            "s3:ListBuckets",
            "dynamodb:Query",
            "iam:GetRole",
            "sqs:GetQueueUrl",
        ] {
            assert_eq!(decide(a).effect, Effect::Allow, "{a}");
        }
    }

    #[test]
    fn prefix_must_end_at_a_word_boundary() {
        // "Getaway" or "Listen" style names are not reads.
        assert_ne!(decide("foo:Listen").effect, Effect::Allow);
        assert_ne!(decide("foo:Getaway").effect, Effect::Allow);
    }

    #[test]
    fn iam_writes_are_denied() {
        for a in ["iam:CreateUser", "iam:AttachRolePolicy", "iam:PassRole"] {
            let d = decide(a);
            assert_eq!(d.effect, Effect::Deny, "{a}");
            assert_eq!(d.policy_ids, vec!["builtin.iam-write"]);
        }
    }

    #[test]
    fn writes_and_secret_reads_need_approval() {
        for a in [
            "dynamodb:DeleteTable",
            "ec2:RunInstances",
            "secretsmanager:GetSecretValue",
            "ecr:GetAuthorizationToken",
        ] {
            assert_eq!(decide(a).required_approvals(), 1, "{a}");
        }
    }
}
