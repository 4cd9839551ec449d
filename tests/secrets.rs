//! Secrets in real AWS answers are masked in the agent's answer, in the stored record and in
//! every log line; tokens, task tokens and link keys never reach the logs.

use aws_sdk_dynamodb::types::AttributeValue;
use tollgate_core::record::Verdict;
use tollgate_e2e::*;

const POLICY: &str = r#"
@id("all") permit (principal, action, resource);
@id("deletes-need-a-human") @approval("1") permit (principal, action == Action::"dynamodb:DeleteTable", resource);
"#;
const SECRET: &str = "hunter2-correct-horse-battery";

async fn call(client: &tollgate_cli::client::Client, action: &str, params: Value) -> Value {
    let a = client
        .submit(
            &json!({"action": action, "params": params, "reason": "secrets test"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(a.status, 200, "{action}: {}", a.body);
    assert_eq!(
        a.request_status(),
        Some("SUCCEEDED"),
        "{action}: {}",
        a.body
    );
    a.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_leave_masked_and_never_reach_the_logs() {
    let logs = capture_logs(tracing::Level::DEBUG);
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/tollgate/policies".into();
        o.seed_ssm = vec![("/tollgate/policies".into(), POLICY.into())];
    })
    .await;
    let agent_token = stack.token("ci-bot", false).unwrap();
    let approver_token = stack.token("alice", true).unwrap();
    let bot = tollgate_cli::client::Client::new(&stack.api_url, Some(agent_token.clone()));

    call(
        &bot,
        "secretsmanager:CreateSecret",
        json!({"Name": "db", "SecretString": SECRET}),
    )
    .await;
    let got = call(
        &bot,
        "secretsmanager:GetSecretValue",
        json!({"SecretId": "db"}),
    )
    .await;
    assert_eq!(got["result"]["SecretString"], "****MASKED****", "{got}");
    assert_eq!(got["result"]["Name"], "db");

    call(
        &bot,
        "ssm:PutParameter",
        json!({"Name": "/db/password", "Value": SECRET, "Type": "SecureString"}),
    )
    .await;
    let got = call(
        &bot,
        "ssm:GetParameter",
        json!({"Name": "/db/password", "WithDecryption": true}),
    )
    .await;
    assert_eq!(
        got["result"]["Parameter"]["Value"], "****MASKED****",
        "{got}"
    );

    let key = call(
        &bot,
        "kms:CreateKey",
        json!({"Description": "secrets test"}),
    )
    .await;
    let key_id = key["result"]["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let plaintext = base64_of(SECRET);
    let enc = call(
        &bot,
        "kms:Encrypt",
        json!({"KeyId": key_id, "Plaintext": plaintext}),
    )
    .await;
    let blob = enc["result"]["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_string();
    let dec = call(
        &bot,
        "kms:Decrypt",
        json!({"KeyId": key_id, "CiphertextBlob": blob}),
    )
    .await;
    assert_eq!(dec["result"]["Plaintext"], "****MASKED****", "{dec}");

    // Query-protocol answers carrying credentials.
    call(&bot, "iam:CreateUser", json!({"UserName": "deployer"})).await;
    let key = call(&bot, "iam:CreateAccessKey", json!({"UserName": "deployer"})).await;
    assert_eq!(
        key["result"]["AccessKey"]["SecretAccessKey"], "****MASKED****",
        "{key}"
    );
    assert_eq!(
        key["result"]["AccessKey"]["AccessKeyId"], "****MASKED****",
        "{key}"
    );
    assert_eq!(key["result"]["AccessKey"]["UserName"], "deployer");
    let assumed = call(
        &bot,
        "sts:AssumeRole",
        json!({"RoleArn": "arn:aws:iam::123456789012:role/tollgate-target", "RoleSessionName": "sess"}),
    )
    .await;
    let c = &assumed["result"]["Credentials"];
    assert_eq!(c["SecretAccessKey"], "****MASKED****", "{assumed}");
    assert_eq!(c["SessionToken"], "****MASKED****", "{assumed}");
    assert!(c["Expiration"].is_string(), "{assumed}");

    // Nothing secret in the table either.
    let ddb = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let items = ddb
        .scan()
        .table_name("tollgate-requests")
        .send()
        .await
        .unwrap();
    let mut task_tokens = Vec::new();
    for item in items.items() {
        let text = format!("{item:?}");
        assert!(
            !text.contains(SECRET) && !text.contains(&plaintext),
            "a secret is stored: {text}"
        );
        if let Some(AttributeValue::S(t)) = item.get("task_token") {
            task_tokens.push(t.clone());
        }
    }

    // A full approval too, so task tokens and link keys exist and flow through the logs' paths.
    tollgate_local::demo::create_table(&stack.sdk, "secrets-t")
        .await
        .unwrap();
    let id = pending_delete(&bot, "secrets-t").await;
    let notice = tollgate_local::demo::wait_for_notice(
        &tollgate_cli::client::Client::new(&stack.api_url, None),
        &id,
        WAIT,
    )
    .await
    .unwrap();
    let link_key = notice["notice"]["link"]
        .as_str()
        .unwrap()
        .split("k=")
        .nth(1)
        .unwrap()
        .to_string();
    tollgate_cli::client::Client::new(&stack.api_url, Some(approver_token.clone()))
        .vote(&id, Verdict::Approve, None)
        .await
        .unwrap();
    bot.wait_final(&id, WAIT, |_| {}).await.unwrap();
    for item in ddb
        .scan()
        .table_name("tollgate-requests")
        .send()
        .await
        .unwrap()
        .items()
    {
        if let Some(AttributeValue::S(t)) = item.get("task_token") {
            task_tokens.push(t.clone());
        }
    }
    assert!(!task_tokens.is_empty(), "the approval stored a task token");
    stack.stop().await;

    let text = logs.text();
    let lines = text.lines().count();
    assert!(lines > 20, "the stack logged ({lines} lines)");
    for (what, needle) in [
        ("a secret value", SECRET.to_string()),
        ("a base64 plaintext", plaintext.clone()),
        ("the agent's token", agent_token),
        ("the approver's token", approver_token),
        ("a link key", link_key),
    ] {
        assert!(!text.contains(&needle), "{what} is in the logs");
    }
    for t in task_tokens {
        assert!(!text.contains(&t), "a task token is in the logs");
    }
    // Neither the keys handed to the agent nor the executor's own scoped session.
    assert_eq!(
        access_key_ids(&text),
        Vec::<String>::new(),
        "access key ids in the logs"
    );
    for line in text.lines() {
        serde_json::from_str::<Value>(line)
            .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
    }
}

/// Reads whose answers carry environments, user data, connection passwords and API key
/// values: the masking by name, container and pair applies to what moto really returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environments_user_data_and_connection_secrets_are_masked() {
    const MASK: &str = "****MASKED****";
    // Shaped like `openssl rand -hex 32`: no value-shape check sees it.
    const KEY: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/tollgate/policies".into();
        o.seed_ssm = vec![("/tollgate/policies".into(), POLICY.into())];
    })
    .await;
    let bot = agent(&stack, "ci-bot");
    let role = "arn:aws:iam::123456789012:role/tollgate-target";
    let no_secret = |v: &Value| {
        let text = v.to_string();
        assert!(
            !text.contains(KEY) && !text.contains(SECRET),
            "a secret is returned: {text}"
        );
    };

    // Lambda: ListFunctions returned every environment (TOLLGATE_LINK_KEY among them).
    call(
        &bot,
        "lambda:CreateFunction",
        json!({"FunctionName": "app", "Runtime": "python3.12", "Role": role, "Handler": "app.handler",
               // An empty zip archive: moto stores the code, nothing runs it.
               "Code": {"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="},
               "Environment": {"Variables": {"TOLLGATE_LINK_KEY": KEY, "MODE": "prod"}}}),
    )
    .await;
    let got = call(&bot, "lambda:ListFunctions", json!({})).await;
    // The local stack registers Tollgate's own functions too: find the one made here.
    let f = got["result"]["Functions"]
        .as_array()
        .and_then(|all| all.iter().find(|f| f["FunctionName"] == "app"))
        .unwrap_or_else(|| panic!("no function app listed: {got}"));
    assert_eq!(
        f["Environment"]["Variables"]["TOLLGATE_LINK_KEY"], MASK,
        "{got}"
    );
    assert_eq!(f["Environment"]["Variables"]["MODE"], MASK, "{got}");
    no_secret(&got);
    let got = call(
        &bot,
        "lambda:GetFunctionConfiguration",
        json!({"FunctionName": "app"}),
    )
    .await;
    assert_eq!(
        got["result"]["Environment"]["Variables"]["TOLLGATE_LINK_KEY"], MASK,
        "{got}"
    );

    // ECS task definitions: container environments.
    call(
        &bot,
        "ecs:RegisterTaskDefinition",
        json!({"family": "web", "containerDefinitions": [{"name": "web", "image": "nginx:1", "memory": 128,
               "environment": [{"name": "DB_URL", "value": SECRET}]}]}),
    )
    .await;
    let got = call(
        &bot,
        "ecs:DescribeTaskDefinition",
        json!({"taskDefinition": "web"}),
    )
    .await;
    let c = &got["result"]["taskDefinition"]["containerDefinitions"][0];
    assert_eq!(c["environment"][0]["value"], MASK, "{got}");
    assert_eq!(c["environment"][0]["name"], "DB_URL");
    assert_eq!(c["image"], "nginx:1");
    no_secret(&got);

    // CodeBuild: plaintext environment variables.
    call(
        &bot,
        "codebuild:CreateProject",
        json!({"name": "deploy", "source": {"type": "S3", "location": "builds/src.zip"},
               "artifacts": {"type": "NO_ARTIFACTS"}, "serviceRole": role,
               "environment": {"type": "LINUX_CONTAINER", "image": "aws/codebuild/standard:7.0",
                               "computeType": "BUILD_GENERAL1_SMALL",
                               "environmentVariables": [{"name": "GH_TOKEN", "value": SECRET, "type": "PLAINTEXT"},
                                                        {"name": "DB", "value": "/prod/db", "type": "PARAMETER_STORE"}]}}),
    )
    .await;
    let got = call(
        &bot,
        "codebuild:BatchGetProjects",
        json!({"names": ["deploy"]}),
    )
    .await;
    let e = &got["result"]["projects"][0]["environment"];
    assert_eq!(e["environmentVariables"][0]["value"], MASK, "{got}");
    assert_eq!(e["environmentVariables"][1]["value"], "/prod/db", "{got}");
    assert_eq!(e["image"], "aws/codebuild/standard:7.0", "{got}");
    no_secret(&got);

    // EC2 user data: base64, so only the container tells.
    // moto runs any AMI id.
    let image = "ami-12345678";
    let run = call(
        &bot,
        "ec2:RunInstances",
        json!({"ImageId": image, "MinCount": 1, "MaxCount": 1,
               "UserData": format!("#!/bin/bash\nexport DEPLOY_KEY={KEY}\n")}),
    )
    .await;
    let instance = run["result"]["Instances"][0]["InstanceId"]
        .as_str()
        .unwrap()
        .to_string();
    let got = call(
        &bot,
        "ec2:DescribeInstanceAttribute",
        json!({"InstanceId": instance, "Attribute": "userData"}),
    )
    .await;
    assert_eq!(got["result"]["UserData"]["Value"], MASK, "{got}");
    assert_eq!(got["result"]["InstanceId"], instance.as_str());

    // Glue connection properties.
    call(
        &bot,
        "glue:CreateConnection",
        json!({"ConnectionInput": {"Name": "pg", "ConnectionType": "JDBC", "ConnectionProperties": {
            "JDBC_CONNECTION_URL": "jdbc:postgresql://db.internal/app", "USERNAME": "app", "PASSWORD": SECRET}}}),
    )
    .await;
    let got = call(&bot, "glue:GetConnection", json!({"Name": "pg"})).await;
    let p = &got["result"]["Connection"]["ConnectionProperties"];
    assert_eq!(p["PASSWORD"], MASK, "{got}");
    assert_eq!(p["USERNAME"], "app", "{got}");
    no_secret(&got);

    // API Gateway key values and Secrets Manager's random passwords.
    call(
        &bot,
        "apigateway:CreateApiKey",
        json!({"name": "partner", "enabled": true, "value": format!("k{KEY}")}),
    )
    .await;
    let got = call(
        &bot,
        "apigateway:GetApiKeys",
        json!({"includeValues": true}),
    )
    .await;
    assert_eq!(got["result"]["items"][0]["value"], MASK, "{got}");
    assert_eq!(got["result"]["items"][0]["name"], "partner", "{got}");
    no_secret(&got);
    let got = call(
        &bot,
        "secretsmanager:GetRandomPassword",
        json!({"PasswordLength": 24}),
    )
    .await;
    assert_eq!(got["result"]["RandomPassword"], MASK, "{got}");

    // The stored answers keep none of it either. (Parameters are kept as sent but for those
    // named as secrets: approvers must see what runs.)
    let ddb = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let items = ddb
        .scan()
        .table_name("tollgate-requests")
        .send()
        .await
        .unwrap();
    let mut answers = 0;
    for item in items.items() {
        let Some(doc) = item.get("doc").and_then(|v| v.as_s().ok()) else {
            continue;
        };
        let doc: Value = serde_json::from_str(doc).unwrap();
        if let Some(result) = doc.get("result") {
            answers += 1;
            no_secret(result);
        }
    }
    assert!(answers >= 10, "{answers} stored answers");
    stack.stop().await;
}

/// Every `AKIA…`/`ASIA…` access key id in `text`.
fn access_key_ids(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    (0..b.len().saturating_sub(19))
        .filter(|&i| {
            (b[i..].starts_with(b"AKIA") || b[i..].starts_with(b"ASIA"))
                && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
        })
        .filter(|&i| {
            b[i + 4..i + 20]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        })
        .filter(|&i| b.get(i + 20).is_none_or(|c| !c.is_ascii_alphanumeric()))
        .map(|i| text[i..i + 20].to_string())
        .collect()
}

fn base64_of(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// `@unmask` grants one agent a member: that agent sees it, nobody else does, and the table
/// holds it only sealed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmasked_values_reach_only_the_requesting_agent() {
    let stack = stack().await;
    // The principal names the stack's own issuer, whose URL is known only now: write the
    // policies and start the functions afresh, as publishing a policy version would.
    let policy = format!(
        r#"@id("all") permit (principal, action, resource);
@id("bot-reads-db") @unmask("SecretString")
permit (principal == Agent::"{}/dev-idp#ci-bot", action == Action::"secretsmanager:GetSecretValue", resource);"#,
        stack.api_url
    );
    tollgate_local::bootstrap::seed(&stack.moto_url, &[("/tollgate/unmask".into(), policy)], &[])
        .await
        .unwrap();
    let mut stack = stack;
    stack.settings_mut().policy_source =
        tollgate_aws::policy_source::Source::parse("ssm:/tollgate/unmask").unwrap();
    stack.cold_start().await.unwrap();

    let bot = agent(&stack, "ci-bot");
    call(
        &bot,
        "secretsmanager:CreateSecret",
        json!({"Name": "db", "SecretString": SECRET}),
    )
    .await;
    let got = call(
        &bot,
        "secretsmanager:GetSecretValue",
        json!({"SecretId": "db"}),
    )
    .await;
    assert_eq!(got["result"]["SecretString"], SECRET, "{got}");
    let id = got["id"].as_str().unwrap().to_string();
    // The agent's own later reads see it too.
    let again = bot.status(&id, 0).await.unwrap();
    assert_eq!(
        again.body["result"]["SecretString"], SECRET,
        "{}",
        again.body
    );
    // An approver sees the mask (or, where approvers see only what they decide, nothing);
    // another agent making the same call sees the mask.
    let seen = approver(&stack, "alice").status(&id, 0).await.unwrap();
    assert!(!seen.body.to_string().contains(SECRET), "{}", seen.body);
    match seen.status {
        200 => assert_eq!(
            seen.body["result"]["SecretString"], "****MASKED****",
            "{}",
            seen.body
        ),
        404 => {}
        s => panic!("approver got {s}: {}", seen.body),
    }
    let other = agent(&stack, "other-bot");
    assert_eq!(other.status(&id, 0).await.unwrap().status, 404);
    let theirs = call(
        &other,
        "secretsmanager:GetSecretValue",
        json!({"SecretId": "db"}),
    )
    .await;
    assert_eq!(
        theirs["result"]["SecretString"], "****MASKED****",
        "{theirs}"
    );
    // The stored record: masked, with the agent's part sealed beside it.
    let item = aws_sdk_dynamodb::Client::new(&stack.sdk)
        .get_item()
        .table_name("tollgate-requests")
        .key("pk", AttributeValue::S(format!("REQ#{id}")))
        .key("sk", AttributeValue::S("META".into()))
        .send()
        .await
        .unwrap()
        .item()
        .cloned()
        .unwrap();
    let text = format!("{item:?}");
    assert!(!text.contains(SECRET), "stored in clear: {text}");
    let doc: Value = serde_json::from_str(item["doc"].as_s().unwrap()).unwrap();
    assert_eq!(doc["result"]["SecretString"], "****MASKED****");
    assert!(item["sealed_result"].as_s().unwrap().starts_with("v1."));
    // The sealed part moved onto another agent's record opens for nobody.
    let theirs_id = theirs["id"].as_str().unwrap();
    aws_sdk_dynamodb::Client::new(&stack.sdk)
        .update_item()
        .table_name("tollgate-requests")
        .key("pk", AttributeValue::S(format!("REQ#{theirs_id}")))
        .key("sk", AttributeValue::S("META".into()))
        .update_expression("SET sealed_result = :s")
        .expression_attribute_values(":s", item["sealed_result"].clone())
        .send()
        .await
        .unwrap();
    let moved = other.status(theirs_id, 0).await.unwrap();
    assert_eq!(
        moved.body["result"]["SecretString"], "****MASKED****",
        "{}",
        moved.body
    );
    stack.stop().await;
}
