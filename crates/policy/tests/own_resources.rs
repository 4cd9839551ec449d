//! Tollgate's own resources: marked for policy (`resource.tollgate`) and forbidden by the
//! shipped `tollgate-protects-itself`, which every loaded policy set carries.

use serde_json::json;
use tollgate_core::own::OwnResources;
use tollgate_core::{Effect, Identity, parse_new_request};
use tollgate_policy::{
    CedarPolicy, PROTECTION_ID, PolicySource, bundled_sources, classify, with_protection,
};

const ACCOUNT: &str = "123456789012";

fn own() -> OwnResources {
    OwnResources::new(
        ACCOUNT,
        Some("tollgate-"),
        &["arn:aws:s3:::tollgate-auditbucket-1a2b".into()],
    )
    .unwrap()
}

fn decide(
    policy: &CedarPolicy,
    action: &str,
    params: serde_json::Value,
    account: &str,
) -> (Effect, Vec<String>) {
    let body = json!({"action": action, "params": params, "reason": "own resources test"});
    let req = parse_new_request(body.to_string().as_bytes(), "us-east-1").unwrap();
    let agent = Identity {
        issuer: "https://idp".into(),
        subject: "bot".into(),
        ..Default::default()
    };
    let c = classify(policy, &req, &agent, account, 1_790_000_000, "").unwrap();
    (c.decision.effect, c.decision.policy_ids)
}

#[test]
fn a_permit_everything_set_still_cannot_reach_tollgate() {
    let allow_all = vec![PolicySource::new(
        "all.cedar",
        "@id(\"all\") permit (principal, action, resource);",
    )];
    let policy = CedarPolicy::new(&with_protection(allow_all), 3600)
        .unwrap()
        .with_own_resources(own());
    let denied = |action: &str, params: serde_json::Value| {
        let (effect, ids) = decide(&policy, action, params.clone(), ACCOUNT);
        assert_eq!(effect, Effect::Deny, "{action} {params}");
        assert_eq!(ids, vec![PROTECTION_ID.to_string()], "{action}");
    };
    denied(
        "dynamodb:GetItem",
        json!({"TableName": "tollgate-RequestsTable-X1", "Key": {"pk": {"S": "REQ#1"}}}),
    );
    denied(
        "dynamodb:Scan",
        json!({"TableName": "tollgate-RequestsTable-X1"}),
    );
    denied(
        "lambda:GetFunctionConfiguration",
        json!({"FunctionName": "tollgate-api"}),
    );
    denied(
        "secretsmanager:GetSecretValue",
        json!({"SecretId": "tollgate-link-key-0f3c"}),
    );
    denied(
        "states:DescribeExecution",
        json!({"executionArn": "arn:aws:states:us-east-1:123456789012:execution:tollgate-approval:01J"}),
    );
    denied(
        "s3:GetObject",
        json!({"Bucket": "tollgate-auditbucket-1a2b", "Key": "audit/x.jsonl"}),
    );
    // Resources that cannot be derived: the statement names the table.
    denied(
        "dynamodb:ExecuteStatement",
        json!({"Statement": "SELECT * FROM \"tollgate-RequestsTable-X1\""}),
    );
    // The same calls on other resources are allowed.
    for (action, params) in [
        ("dynamodb:Scan", json!({"TableName": "orders"})),
        (
            "dynamodb:ExecuteStatement",
            json!({"Statement": "SELECT * FROM \"orders\""}),
        ),
        ("lambda:ListFunctions", json!({})),
    ] {
        assert_eq!(
            decide(&policy, action, params, ACCOUNT).0,
            Effect::Allow,
            "{action}"
        );
    }
    // Another account's table of the same name is not Tollgate's.
    assert_eq!(
        decide(
            &policy,
            "dynamodb:Scan",
            json!({"TableName": "tollgate-RequestsTable-X1"}),
            "444455556666"
        )
        .0,
        Effect::Allow
    );
}

#[test]
fn the_bundled_set_carries_the_protection_once() {
    let bundled = bundled_sources();
    assert_eq!(with_protection(bundled.clone()).len(), bundled.len());
    let policy = CedarPolicy::new(&with_protection(bundled), 3600)
        .unwrap()
        .with_own_resources(own());
    let (effect, ids) = decide(
        &policy,
        "dynamodb:DescribeTable",
        json!({"TableName": "tollgate-RequestsTable-X1"}),
        ACCOUNT,
    );
    assert_eq!(
        (effect, ids),
        (Effect::Deny, vec![PROTECTION_ID.to_string()])
    );
    // Without own resources configured nothing is marked.
    let plain = CedarPolicy::new(&bundled_sources(), 3600).unwrap();
    assert_eq!(
        decide(
            &plain,
            "dynamodb:DescribeTable",
            json!({"TableName": "tollgate-RequestsTable-X1"}),
            ACCOUNT
        )
        .0,
        Effect::Allow
    );
}
