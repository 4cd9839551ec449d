//! Tollgate's own account: a target there is refused unless the operator opts in, and even
//! then Tollgate's own table, functions, workflow, topic, secrets, bucket and policies stay
//! out of every agent's reach.

use tollgate_e2e::*;

fn warnings(logs: &Captured) -> Vec<Value> {
    logs.text()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["level"] == "WARN")
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_target_in_tollgates_own_account_needs_the_operators_opt_in() {
    let logs = capture_logs(tracing::Level::WARN);
    let mut stack = stack_with(|o| o.allow_self_target = false).await;
    let bot = agent(&stack, "ci-bot");
    let body = json!({"action": "dynamodb:ListTables", "params": {}});
    for path in ["/v1/requests", "/v1/explain", "/v1/decisions"] {
        let a = raw(
            &stack,
            "POST",
            path,
            Some(&stack.token("ci-bot", false).unwrap()),
            &[("content-type", "application/json")],
            body.to_string().into_bytes(),
        )
        .await;
        assert_eq!(a.status, 400, "{path}: {}", a.body);
        assert_eq!(a.body["error"]["field"], "target", "{}", a.body);
        let message = a.body["error"]["message"].as_str().unwrap();
        assert!(
            message.starts_with("target: `default`")
                && message.contains("Tollgate's own account (123456789012)"),
            "{message}"
        );
    }
    let startup = warnings(&logs);
    assert!(
        startup.iter().any(|w| w["fields"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("refused")
            && w["fields"]["targets"]
                .as_str()
                .unwrap_or("")
                .contains("default")),
        "{startup:?}"
    );

    // The operator opts in (a stack update, then a cold start): the same call runs.
    stack.settings_mut().allow_self_target = true;
    stack.cold_start().await.unwrap();
    let a = bot.submit(&body, None).await.unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.request_status(), Some("SUCCEEDED"), "{}", a.body);
    assert!(
        warnings(&logs).iter().any(|w| w["fields"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("allowed")),
        "{:?}",
        warnings(&logs)
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tollgates_own_resources_stay_forbidden_with_the_opt_in_and_a_permit_all_policy() {
    let stack = stack_with(|o| {
        o.allow_self_target = true;
        o.policy_source = "ssm:/tollgate/policies".into();
        o.seed_ssm = vec![(
            "/tollgate/policies".into(),
            r#"@id("all") permit (principal, action, resource);"#.into(),
        )];
    })
    .await;
    let bot = agent(&stack, "ci-bot");
    tollgate_local::demo::create_table(&stack.sdk, "orders")
        .await
        .unwrap();
    let link_key = &stack.key_secret_arns[&tollgate_aws::keys::Purpose::Link];
    let topic = stack.names.topic_arn();
    let execution = format!(
        "arn:aws:states:us-east-1:123456789012:execution:{}:01J",
        stack.names.state_machine
    );
    for (action, params) in [
        (
            "dynamodb:GetItem",
            json!({"TableName": "tollgate-requests", "Key": {"pk": {"S": "REQ#1"}, "sk": {"S": "META"}}}),
        ),
        ("dynamodb:Scan", json!({"TableName": "tollgate-requests"})),
        (
            "dynamodb:DescribeTable",
            json!({"TableName": "tollgate-requests"}),
        ),
        (
            "dynamodb:DeleteTable",
            json!({"TableName": "tollgate-requests"}),
        ),
        (
            "dynamodb:ExecuteStatement",
            json!({"Statement": "SELECT * FROM \"tollgate-requests\""}),
        ),
        (
            "dynamodb:BatchWriteItem",
            json!({"RequestItems": {"tollgate-requests": [{"DeleteRequest": {"Key": {"pk": {"S": "REQ#1"}, "sk": {"S": "META"}}}}]}}),
        ),
        (
            "lambda:GetFunctionConfiguration",
            json!({"FunctionName": "tollgate-api"}),
        ),
        (
            "lambda:UpdateFunctionConfiguration",
            json!({"FunctionName": "tollgate-executor", "Environment": {"Variables": {}}}),
        ),
        (
            "states:DescribeStateMachine",
            json!({"stateMachineArn": stack.state_machine_arn}),
        ),
        (
            "states:DescribeExecution",
            json!({"executionArn": execution}),
        ),
        (
            "sns:Publish",
            json!({"TopicArn": topic, "Message": "Approve? https://evil.example"}),
        ),
        (
            "secretsmanager:GetSecretValue",
            json!({"SecretId": link_key}),
        ),
        (
            "secretsmanager:PutSecretValue",
            json!({"SecretId": "tollgate-link-key", "SecretString": "{\"current\": \"mine\"}"}),
        ),
        (
            "s3:GetObject",
            json!({"Bucket": "tollgate-audit", "Key": "audit/x.jsonl"}),
        ),
        // An agent rewriting a held upload's kept body (the executor would refuse it, but
        // never through Tollgate).
        (
            "s3:PutObject",
            json!({"Bucket": "tollgate-payloads", "Key": "payloads/01J/ab", "Body": "eA=="}),
        ),
        (
            "ssm:PutParameter",
            json!({"Name": "/tollgate/policies", "Value": "permit(principal, action, resource);", "Overwrite": true}),
        ),
    ] {
        assert_protected(&bot, action, params).await;
    }
    // The same calls on the agent's own things run.
    for (action, params) in [
        ("dynamodb:DescribeTable", json!({"TableName": "orders"})),
        (
            "dynamodb:ExecuteStatement",
            json!({"Statement": "SELECT * FROM \"orders\""}),
        ),
    ] {
        let a = bot
            .submit(
                &json!({"action": action, "params": params, "reason": "own resources"}),
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            a.request_status(),
            Some("SUCCEEDED"),
            "{action}: {}",
            a.body
        );
    }
    // Nothing changed: the policies are as seeded, the table as it was.
    let still = tollgate_aws::policy_source::load(
        &tollgate_aws::policy_source::Source::Ssm("/tollgate/policies".into()),
        &aws_credential_types::provider::SharedCredentialsProvider::new(
            aws_credential_types::Credentials::new("testing", "testing", None, None, "t"),
        ),
        "us-east-1",
        Some(&stack.moto_url),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(still.1.contains("@id(\"all\")"), "{still:?}");
    stack.stop().await;
}
