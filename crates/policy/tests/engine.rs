//! Annotations, strictest-wins, claims as tags, and failing closed.

use serde_json::json;
use tollgate_core::{Effect, GroupRequirement, Identity, parse_new_request};
use tollgate_policy::{CedarPolicy, PolicySource, classify};

fn policy(text: &str) -> CedarPolicy {
    CedarPolicy::new(&[PolicySource::new("test.cedar", text)], 900).unwrap()
}

fn decide(
    p: &CedarPolicy,
    action: &str,
    params: serde_json::Value,
    agent: &Identity,
) -> tollgate_core::Decision {
    let body = json!({"action": action, "params": params, "reason": "r"});
    let req = parse_new_request(body.to_string().as_bytes(), "us-east-1").unwrap();
    classify(p, &req, agent, "123456789012", 1_790_000_000, "192.0.2.10")
        .unwrap()
        .decision
}

fn bot() -> Identity {
    Identity {
        issuer: "https://i".into(),
        subject: "acme/app:refs/heads/main".into(),
        name: "deploy".into(),
        groups: vec!["ci".into()],
        claims: [("repository_owner".to_string(), json!("acme"))].into(),
        ..Default::default()
    }
}

fn needs(group: Option<&str>, approvals: u32) -> GroupRequirement {
    GroupRequirement::any_of(group.map(str::to_string), approvals)
}

#[test]
fn every_matching_approval_permit_holds_with_the_shortest_timeout() {
    let p = policy(
        r#"
        @id("one") @approval("1") @timeout("7200")
        permit (principal, action in Action::"Write", resource);
        @id("two-dba") @approval("2") @approvers("dba") @timeout("600")
        permit (principal, action == Action::"dynamodb:DeleteTable", resource)
        when { resource.arn like "*:table/prod-*" };
        "#,
    );
    let d = decide(
        &p,
        "dynamodb:DeleteTable",
        json!({"TableName": "prod-orders"}),
        &bot(),
    );
    // "one" asks for one approval from anyone, which two DBAs give.
    assert_eq!(
        d.effect,
        Effect::Approval {
            approvals: 2,
            requirements: vec![needs(Some("dba"), 2)],
            timeout_seconds: 600
        }
    );
    assert_eq!(d.policy_ids, vec!["one", "two-dba"]);
    let d = decide(
        &p,
        "dynamodb:DeleteTable",
        json!({"TableName": "staging"}),
        &bot(),
    );
    assert_eq!(
        d.effect,
        Effect::Approval {
            approvals: 1,
            requirements: vec![needs(None, 1)],
            timeout_seconds: 7200
        }
    );
    // No @timeout: the configured default.
    let p = policy(
        r#"@id("w") @approval("1") permit (principal, action in Action::"Write", resource);"#,
    );
    let d = decide(
        &p,
        "dynamodb:DeleteTable",
        json!({"TableName": "t"}),
        &bot(),
    );
    assert_eq!(
        d.effect,
        Effect::Approval {
            approvals: 1,
            requirements: vec![needs(None, 1)],
            timeout_seconds: 900
        }
    );
}

#[test]
fn a_tie_keeps_every_group_requirement() {
    // Before, the alphabetically first of two two-approval permits decided alone, and its
    // missing group dropped the other's.
    let p = policy(
        r#"
        @id("a-two-approvals") @approval("2")
        permit (principal, action in Action::"Write", resource);
        @id("b-security") @approval("2") @approvers("security") @timeout("1800")
        permit (principal, action == Action::"dynamodb:DeleteTable", resource);
        @id("c-one-dba") @approval("1") @approvers("dba") @ticket
        permit (principal, action == Action::"dynamodb:DeleteTable", resource);
        "#,
    );
    let d = decide(
        &p,
        "dynamodb:DeleteTable",
        json!({"TableName": "t"}),
        &bot(),
    );
    assert_eq!(
        d.effect,
        Effect::Approval {
            approvals: 2,
            requirements: vec![needs(Some("dba"), 1), needs(Some("security"), 2)],
            timeout_seconds: 1800
        }
    );
    assert_eq!(
        d.policy_ids,
        vec!["a-two-approvals", "b-security", "c-one-dba"]
    );
    assert!(d.requires.ticket, "a lesser permit's @ticket holds too");
    assert!(
        d.reason
            .contains("2 approvals (1 from `dba` and 2 from `security`)"),
        "{}",
        d.reason
    );
}

#[test]
fn approvers_name_any_of_and_all_of_groups() {
    let p = policy(
        r#"
        @id("two-from-either") @approval("2") @approvers("dba or security")
        permit (principal, action in Action::"Write", resource);
        @id("one-from-each") @approval("1") @approvers("dba and security")
        permit (principal, action == Action::"dynamodb:DeleteTable", resource);
        @id("one-dba") @approval("1") @approvers("dba")
        permit (principal, action == Action::"dynamodb:UpdateTable", resource);
        "#,
    );
    let either = GroupRequirement::any_of(["dba".into(), "security".into()], 2);
    let d = decide(
        &p,
        "dynamodb:CreateTable",
        json!({"TableName": "t"}),
        &bot(),
    );
    assert_eq!(d.requirements(), std::slice::from_ref(&either), "{d:?}");
    assert!(
        d.reason
            .contains("needs 2 approvals (2 from `dba` or `security`)"),
        "{}",
        d.reason
    );
    // All of: one from each group, and the any-of beside them (a third approver, or one of
    // them in both groups, completes it).
    let d = decide(
        &p,
        "dynamodb:DeleteTable",
        json!({"TableName": "t"}),
        &bot(),
    );
    assert_eq!(
        d.requirements(),
        &[
            needs(Some("dba"), 1),
            either.clone(),
            needs(Some("security"), 1)
        ],
        "{d:?}"
    );
    // One DBA beside two from either: the DBA is one of the two.
    let d = decide(
        &p,
        "dynamodb:UpdateTable",
        json!({"TableName": "t"}),
        &bot(),
    );
    assert_eq!(d.requirements(), &[needs(Some("dba"), 1), either], "{d:?}");
    for (text, needle) in [
        ("dba or", "must name a group"),
        ("or dba", "must name a group"),
        ("dba security", "must name a group"),
        ("dba, security", "must name a group"),
        ("dba or security and audit", "either `or` or `and`"),
        ("   ", "must name a group"),
    ] {
        let src = format!(
            "@id(\"a\") @approval(\"1\") @approvers(\"{text}\") permit (principal, action, resource);"
        );
        let errs = CedarPolicy::new(&[PolicySource::new("p.cedar", src)], 900)
            .err()
            .unwrap_or_else(|| panic!("{text}"));
        assert!(errs[0].message.contains(needle), "{text}: {errs:?}");
        assert!(errs[0].message.contains("@approvers"), "{text}: {errs:?}");
    }
}

#[test]
fn claims_groups_and_context_are_visible_to_policies() {
    let p = policy(
        r#"
        @id("acme-reads")
        permit (principal, action in Action::"Read", resource)
        when { principal.hasTag("repository_owner") && principal.getTag("repository_owner") == "acme"
               && principal.groups.contains("ci") && context.region == "us-east-1" && context.hasReason
               && context.operation == "dynamodb:DescribeTable" && context.accessLevel == "Read" };
        "#,
    );
    assert_eq!(
        decide(
            &p,
            "dynamodb:DescribeTable",
            json!({"TableName": "t"}),
            &bot()
        )
        .effect,
        Effect::Allow
    );
    let mut other = bot();
    other
        .claims
        .insert("repository_owner".into(), json!("evil"));
    let d = decide(
        &p,
        "dynamodb:DescribeTable",
        json!({"TableName": "t"}),
        &other,
    );
    assert_eq!(d.effect, Effect::Deny);
    assert!(d.reason.contains("no policy permits"), "{}", d.reason);
}

#[test]
fn forbid_beats_permit_and_reports_its_id() {
    let p = policy(
        r#"
        @id("all") permit (principal, action, resource);
        @id("no-prod") @reason("production tables are off limits")
        forbid (principal, action, resource) when { resource.arn like "*:table/prod-*" };
        "#,
    );
    let d = decide(
        &p,
        "dynamodb:DescribeTable",
        json!({"TableName": "prod-x"}),
        &bot(),
    );
    assert_eq!(d.effect, Effect::Deny);
    assert_eq!(d.policy_ids, vec!["no-prod"]);
    assert!(
        d.reason.contains("production tables are off limits"),
        "{}",
        d.reason
    );
}

#[test]
fn a_policy_that_errors_denies() {
    // getTag on a claim the token does not carry is an evaluation error: fail closed, even
    // though a plain permit also matches.
    let p = policy(
        r#"
        @id("all") permit (principal, action, resource);
        @id("env-check") forbid (principal, action, resource) when { principal.getTag("environment") == "prod" };
        "#,
    );
    let d = decide(
        &p,
        "dynamodb:DescribeTable",
        json!({"TableName": "t"}),
        &bot(),
    );
    assert_eq!(d.effect, Effect::Deny, "{d:?}");
    assert_eq!(d.policy_ids, vec!["env-check"]);
}

#[test]
fn every_mapped_action_must_pass() {
    // s3:CopyObject needs GetObject and PutObject; allowing reads only is not enough.
    let p = policy(r#"@id("reads") permit (principal, action in Action::"Read", resource);"#);
    let d = decide(
        &p,
        "s3:CopyObject",
        json!({"Bucket": "b", "Key": "k", "CopySource": "a/b"}),
        &bot(),
    );
    assert_eq!(d.effect, Effect::Deny, "{d:?}");
}

#[test]
fn bad_annotations_are_refused_with_their_line() {
    for (text, needle) in [
        (
            "\n@id(\"a\") @approval(\"two\")\npermit (principal, action, resource);",
            "@approval",
        ),
        (
            "@id(\"a\") @approval(\"99\") permit (principal, action, resource);",
            "@approval",
        ),
        (
            "@id(\"a\") @approval(\"1\") forbid (principal, action, resource);",
            "permit",
        ),
        (
            "@id(\"a\") @timeout(\"60\") permit (principal, action, resource);",
            "@approval",
        ),
        (
            "@id(\"a\") @approval(\"1\") @approvers(\"\") permit (principal, action, resource);",
            "@approvers",
        ),
        (
            "@id(\"a\") @ticket permit (principal, action, resource);",
            "@ticket",
        ),
        (
            "@id(\"a\") @approval(\"1\") @justification(\"0\") permit (principal, action, resource);",
            "@justification",
        ),
        (
            "@id(\"a\") @approval(\"1\") @justification(\"lots\") permit (principal, action, resource);",
            "@justification",
        ),
        (
            "@id(\"a\") @approval(\"1\") @grant_max(\"59\") permit (principal, action, resource);",
            "@grant_max(\"59\"): must be seconds from 60 to 86400",
        ),
        (
            "@id(\"a\") @approval(\"1\") @grant_max(\"half an hour\") permit (principal, action, resource);",
            "@grant_max",
        ),
        (
            "@id(\"a\") @grant_max(\"600\") permit (principal, action, resource);",
            "@grant_max needs a permit with @approval",
        ),
        (
            "@id(\"a\") @approval(\"1\") @grant_uses_max(\"3\") permit (principal, action, resource);",
            "@grant_uses_max needs @grant_max",
        ),
        (
            "@id(\"a\") @approval(\"1\") @grant_max(\"600\") @grant_uses_max(\"101\") permit (principal, action, resource);",
            "@grant_uses_max(\"101\"): must be a whole number from 1 to 100",
        ),
    ] {
        let errs = CedarPolicy::new(&[PolicySource::new("p.cedar", text)], 900)
            .err()
            .unwrap_or_else(|| panic!("{text}"));
        assert!(errs[0].message.contains(needle), "{text}: {errs:?}");
        assert_eq!(errs[0].file, "p.cedar");
    }
    let errs = CedarPolicy::new(
        &[PolicySource::new(
            "p.cedar",
            "\n@id(\"a\") @approval(\"two\")\npermit (principal, action, resource);",
        )],
        900,
    )
    .err()
    .unwrap();
    assert_eq!(errs[0].line, 2);
}

#[test]
fn mask_and_unmask_annotations() {
    let p = policy(
        r#"
        @id("reads") @mask("ConnectionString")
        permit (principal, action in Action::"Read", resource);
        @id("rotation-bot-sees-secrets") @unmask("SecretString")
        permit (principal == Agent::"https://i#acme/app:refs/heads/main", action == Action::"secretsmanager:GetSecretValue", resource);
        "#,
    );
    let d = decide(
        &p,
        "secretsmanager:GetSecretValue",
        json!({"SecretId": "db"}),
        &bot(),
    );
    assert_eq!(d.mask.unmask, vec!["SecretString"]);
    assert_eq!(d.mask.mask, vec!["ConnectionString"]);
    let mut other = bot();
    other.subject = "someone-else".into();
    let d = decide(
        &p,
        "secretsmanager:GetSecretValue",
        json!({"SecretId": "db"}),
        &other,
    );
    assert!(d.mask.unmask.is_empty(), "{d:?}");
    // Unmasking must name one agent.
    let err = CedarPolicy::new(
        &[PolicySource::new(
            "u.cedar",
            r#"@id("u") @unmask("SecretString") permit (principal, action, resource);"#,
        )],
        900,
    )
    .err()
    .unwrap();
    assert!(err[0].message.contains("named agent"), "{err:?}");
}

#[test]
fn deciding_policies_combine_their_requirements() {
    let p = policy(
        r#"
        @id("ticket") @approval("1") @ticket
        permit (principal, action in Action::"Write", resource);
        @id("words") @approval("1") @justification("30")
        permit (principal, action == Action::"dynamodb:DeleteTable", resource);
        @id("reads") permit (principal, action in Action::"Read", resource);
        "#,
    );
    let d = decide(
        &p,
        "dynamodb:DeleteTable",
        json!({"TableName": "t"}),
        &bot(),
    );
    assert!(d.requires.ticket, "{d:?}");
    assert_eq!(d.requires.min_justification, 30);
    let d = decide(
        &p,
        "dynamodb:UpdateTable",
        json!({"TableName": "t"}),
        &bot(),
    );
    assert!(d.requires.ticket);
    assert_eq!(d.requires.min_justification, 0);
    let d = decide(
        &p,
        "dynamodb:DescribeTable",
        json!({"TableName": "t"}),
        &bot(),
    );
    assert!(d.requires.is_empty());
}

#[test]
fn resource_scoped_rules_see_nested_and_statement_tables() {
    // The README's production-table rule: batch, transaction and PartiQL calls name their
    // tables inside the parameters, and the rule must still see them.
    let p = policy(
        r#"
        @id("writes") @approval("1")
        permit (principal, action in Action::"Write", resource);
        @id("reads") permit (principal, action in Action::"Read", resource);
        @id("prod-tables-need-dba") @approval("2") @approvers("dba")
        permit (principal, action in Action::"service:dynamodb", resource)
        when { resource.arn like "*:table/prod-*" && context.accessLevel != "Read" };
        @id("no-pii") forbid (principal, action, resource)
        when { resource.arn like "*:table/pii-*" };
        "#,
    );
    let two_dba = Effect::Approval {
        approvals: 2,
        requirements: vec![needs(Some("dba"), 2)],
        timeout_seconds: 900,
    };
    for (op, params) in [
        (
            "dynamodb:BatchWriteItem",
            json!({"RequestItems": {"prod-orders": [{"DeleteRequest": {"Key": {"pk": {"S": "a"}}}}]}}),
        ),
        (
            "dynamodb:TransactWriteItems",
            json!({"TransactItems": [{"Delete": {"TableName": "prod-orders", "Key": {"pk": {"S": "a"}}}}]}),
        ),
        (
            "dynamodb:ExecuteStatement",
            json!({"Statement": "DELETE FROM \"prod-orders\" WHERE pk = 'a'"}),
        ),
    ] {
        let d = decide(&p, op, params, &bot());
        assert_eq!(d.effect, two_dba, "{op}: {d:?}");
    }
    for (op, params) in [
        (
            "dynamodb:BatchGetItem",
            json!({"RequestItems": {"pii-users": {"Keys": [{"pk": {"S": "a"}}]}}}),
        ),
        (
            "dynamodb:TransactGetItems",
            json!({"TransactItems": [{"Get": {"TableName": "pii-users", "Key": {"pk": {"S": "a"}}}}]}),
        ),
        (
            "dynamodb:ExecuteStatement",
            json!({"Statement": "SELECT * FROM \"pii-users\""}),
        ),
    ] {
        let d = decide(&p, op, params, &bot());
        assert_eq!(d.effect, Effect::Deny, "{op}: {d:?}");
        assert_eq!(d.policy_ids, vec!["no-pii"], "{op}");
    }
}

#[test]
fn unknown_resources_are_visible_to_policies() {
    let p = policy(
        r#"
        @id("all") permit (principal, action, resource);
        @id("named-only") forbid (principal, action, resource) when { !context.resourcesKnown };
        "#,
    );
    let d = decide(
        &p,
        "dynamodb:ExecuteStatement",
        json!({"Statement": "SELECT * FROM /* pii */ \"orders\""}),
        &bot(),
    );
    assert_eq!(d.effect, Effect::Deny, "{d:?}");
    let d = decide(
        &p,
        "dynamodb:ExecuteStatement",
        json!({"Statement": "SELECT * FROM \"orders\""}),
        &bot(),
    );
    assert_eq!(d.effect, Effect::Allow, "{d:?}");
    let d = decide(&p, "dynamodb:ListTables", json!({}), &bot());
    assert_eq!(
        d.effect,
        Effect::Allow,
        "nothing to name is not unknown: {d:?}"
    );
}

#[test]
fn breakglass_annotations_are_checked_and_refused_with_their_reason() {
    let permit = "permit (principal, action, resource);";
    for (annotations, needle) in [
        (r#"@breakglass("oncall")"#, "only an approval permit"),
        (r#"@approval("1") @breakglass("")"#, "must name one group"),
        (
            r#"@approval("1") @breakglass("on call")"#,
            "must name one group",
        ),
        (
            r#"@approval("1") @breakglass("oncall") @breakglass_justification("19")"#,
            "from 20 to 2000",
        ),
        (
            r#"@approval("1") @breakglass("oncall") @breakglass_justification("2001")"#,
            "from 20 to 2000",
        ),
        (
            r#"@approval("1") @breakglass("oncall") @breakglass_justification("lots")"#,
            "from 20 to 2000",
        ),
        (
            r#"@approval("1") @breakglass_justification("40")"#,
            "needs @breakglass",
        ),
    ] {
        let text = format!("@id(\"a\") {annotations} {permit}");
        let errs = CedarPolicy::new(&[PolicySource::new("p.cedar", &text)], 900)
            .err()
            .unwrap_or_else(|| panic!("{text}"));
        assert!(errs[0].message.contains(needle), "{text}: {errs:?}");
    }
    let text = r#"@id("a") @breakglass("oncall") forbid (principal, action, resource);"#;
    assert!(CedarPolicy::new(&[PolicySource::new("p.cedar", text)], 900).is_err());
}

#[test]
fn breakglass_is_offered_only_when_every_matching_approval_policy_names_a_group() {
    let p = policy(
        r#"
        @id("drops") @approval("2") @approvers("dba") @breakglass("oncall")
        permit (principal, action == Action::"dynamodb:DeleteTable", resource);
        @id("prod-drops") @approval("1") @approvers("security") @breakglass("sre")
        @breakglass_justification("60")
        permit (principal, action == Action::"dynamodb:DeleteTable", resource)
        when { resource.arn like "*:table/prod-*" };
        @id("writes") @approval("1")
        permit (principal, action == Action::"dynamodb:UpdateTable", resource);
        @id("update-glass") @approval("1") @breakglass("oncall")
        permit (principal, action == Action::"dynamodb:UpdateTable", resource)
        when { resource.arn like "*:table/prod-*" };
        @id("reads") permit (principal, action in Action::"Read", resource);
        "#,
    );
    let glass = |table: &str, action: &str| {
        decide(&p, action, json!({"TableName": table}), &bot()).breakglass
    };
    // One policy: its group, the default length.
    let one = glass("dev-orders", "dynamodb:DeleteTable").unwrap();
    assert_eq!(
        (one.groups.clone(), one.min_justification),
        (vec!["oncall".to_string()], 40)
    );
    // Two, each with a group: a member of both, the longer justification.
    let both = glass("prod-orders", "dynamodb:DeleteTable").unwrap();
    assert_eq!(both.groups, ["oncall", "sre"]);
    assert_eq!(both.min_justification, 60);
    // Two, one without a group: none.
    assert_eq!(glass("prod-orders", "dynamodb:UpdateTable"), None);
    assert_eq!(glass("dev-orders", "dynamodb:UpdateTable"), None);
    // Allowed at once: nothing to break.
    assert_eq!(glass("dev-orders", "dynamodb:DescribeTable"), None);
}

#[test]
fn grant_bounds_narrow_and_never_cover_permission_changes() {
    use tollgate_core::grant::GrantBound;
    let p = policy(
        r#"
        @id("writes") @approval("1") @grant_max("1800") @grant_uses_max("10")
        permit (principal, action in Action::"Write", resource);
        @id("prod") @approval("1") @grant_max("600")
        permit (principal, action == Action::"dynamodb:PutItem", resource)
        when { resource.arn like "*:table/prod-*" };
        @id("audit") @approval("1")
        permit (principal, action == Action::"dynamodb:DeleteItem", resource);
        @id("iam") @approval("1") @grant_max("1800")
        permit (principal, action in Action::"Permissions management", resource);
        @id("lambda") @approval("1") @grant_max("1800")
        permit (principal, action == Action::"lambda:UpdateFunctionCode", resource);
        "#,
    );
    let put = |table: &str| {
        decide(
            &p,
            "dynamodb:PutItem",
            json!({"TableName": table, "Item": {"k": {"S": "1"}}}),
            &bot(),
        )
    };
    assert_eq!(
        put("dev-orders").requires.grant,
        Some(GrantBound {
            max_seconds: 1800,
            max_uses: 10
        })
    );
    // Both permits decide: the narrower time, and the uses of the one that names them
    // against the default of the other.
    assert_eq!(
        put("prod-orders").requires.grant,
        Some(GrantBound {
            max_seconds: 600,
            max_uses: tollgate_core::grant::DEFAULT_GRANT_USES
        })
    );
    // A deciding permit without a bound allows no grant.
    let d = decide(
        &p,
        "dynamodb:DeleteItem",
        json!({"TableName": "t", "Key": {"k": {"S": "1"}}}),
        &bot(),
    );
    assert!(matches!(d.effect, Effect::Approval { .. }));
    assert_eq!(d.requires.grant, None);
    // Permissions management and privilege escalation: never, whatever the policy says.
    let d = decide(
        &p,
        "iam:AttachRolePolicy",
        json!({"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
        &bot(),
    );
    assert!(matches!(d.effect, Effect::Approval { .. }), "{d:?}");
    assert_eq!(d.requires.grant, None);
    let escalates = tollgate_catalog::catalog()
        .action("lambda:UpdateFunctionCode")
        .unwrap();
    assert!(escalates.risks.iter().any(|r| r == "privilege-escalation"));
    let d = decide(
        &p,
        "lambda:UpdateFunctionCode",
        json!({"FunctionName": "f", "ZipFile": "UEsDBA=="}),
        &bot(),
    );
    assert!(matches!(d.effect, Effect::Approval { .. }), "{d:?}");
    assert_eq!(d.requires.grant, None);
}
