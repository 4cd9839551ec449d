//! The Cedar schema: the hand-written base (`infra/policies/tollgate.cedarschema`) plus one
//! action declaration per IAM action of the catalog, in its level, service and risk groups.

use std::collections::BTreeSet;
use std::fmt::Write;

use cedar_policy::{Schema, ValidationMode, Validator};
use tollgate_catalog::catalog;

use crate::sources::{PolicyError, PolicySource, locate, parse};

pub const BASE_SCHEMA: &str = include_str!("../../../infra/policies/tollgate.cedarschema");

/// Schema text for validating policies that mention `referenced` actions. Every IAM action
/// has the same principal, resource and context types, so besides the actions a policy names
/// the schema needs only one member of each level and risk group for the validator to type
/// every policy; declaring all 20,000 actions would make validation take minutes.
pub fn schema_text(referenced: impl IntoIterator<Item = String>) -> String {
    let c = catalog();
    let mut names: BTreeSet<String> = REPRESENTATIVES.iter().map(|s| s.to_string()).collect();
    names.extend(
        referenced
            .into_iter()
            .filter(|n| n.contains(':') && !n.starts_with("service:") && !n.starts_with("risk:")),
    );
    let mut out = String::from(BASE_SCHEMA);
    out.push_str("\n// From the catalog.\n");
    for name in names {
        // Names not in the catalog stay undeclared: the validator reports them.
        let Some(info) = c.action(&name) else {
            continue;
        };
        let mut groups = vec![
            format!("\"{}\"", info.level.as_str()),
            format!("\"service:{}\"", info.service),
        ];
        groups.extend(info.risks.iter().map(|r| format!("\"risk:{r}\"")));
        let _ = writeln!(
            out,
            "action \"{}\" in [{}] appliesTo {{ principal: Agent, resource: Resource, context: CallContext }};",
            info.name,
            groups.join(", ")
        );
    }
    for prefix in c.prefixes() {
        let _ = writeln!(out, "action \"service:{prefix}\";");
    }
    out
}

/// One action of each access level and risk flag.
const REPRESENTATIVES: [&str; 9] = [
    "s3:ListAllMyBuckets",
    "dynamodb:DescribeTable",
    "dynamodb:DeleteTable",
    "ec2:CreateTags",
    "iam:PutRolePolicy",
    "ecr:GetAuthorizationToken",
    "s3:PutBucketPolicy",
    "sqs:ReceiveMessage",
    "bedrock:InvokeModel",
];

/// Parses and validates policies against the schema. Every problem is returned, each with
/// its file and line.
pub fn validate(sources: &[PolicySource]) -> Result<usize, Vec<PolicyError>> {
    let (set, origin) = parse(sources)?;
    let referenced = set
        .policies()
        .flat_map(|p| p.entity_literals())
        .filter(|e| e.type_name().to_string() == "Action")
        .map(|e| e.id().unescaped().to_string());
    let schema = Schema::from_cedarschema_str(&schema_text(referenced))
        .map(|(s, _warnings)| s)
        .map_err(|e| {
            vec![PolicyError {
                file: "tollgate.cedarschema".into(),
                line: 0,
                column: 0,
                message: e.to_string(),
            }]
        })?;
    let result = Validator::new(schema).validate(&set, ValidationMode::Strict);
    let errors: Vec<PolicyError> = result
        .validation_errors()
        .map(|e| {
            let src = origin.get(e.policy_id()).map(|i| &sources[*i]);
            match src {
                Some(s) => locate(&s.name, &s.text, e),
                None => PolicyError {
                    file: String::new(),
                    line: 0,
                    column: 0,
                    message: e.to_string(),
                },
            }
        })
        .collect();
    if errors.is_empty() {
        Ok(set.policies().count())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::bundled_sources;

    #[test]
    fn bundled_policies_validate() {
        assert_eq!(validate(&bundled_sources()), Ok(15));
    }

    #[test]
    fn invalid_policies_fail_with_file_and_line() {
        let typo = PolicySource::new(
            "typo.cedar",
            "@id(\"t\")\npermit (principal, action == Action::\"dynamodb:DeleteTabel\", resource);\n",
        );
        let errs = validate(&[typo]).unwrap_err();
        assert_eq!(
            (errs[0].file.as_str(), errs[0].line),
            ("typo.cedar", 2),
            "{errs:?}"
        );
        assert!(errs[0].message.contains("DeleteTabel"), "{errs:?}");

        let wrong_attr = PolicySource::new(
            "attr.cedar",
            "@id(\"a\")\n\npermit (principal, action, resource)\nwhen { context.colour == \"red\" };\n",
        );
        let errs = validate(&[wrong_attr]).unwrap_err();
        assert_eq!(
            (errs[0].file.as_str(), errs[0].line),
            ("attr.cedar", 4),
            "{errs:?}"
        );
    }
}
