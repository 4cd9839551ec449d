//! Any AWS API through the whole gate: 33 operations across 12 services and all five
//! protocols, each answer compared with what boto3 gets for the same call against the same
//! emulator, and each session policy checked to name only that call's actions and resources.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use tollgate_e2e::*;

/// Allow everything at once: this test is about the calls, not the policy.
const ALLOW_ALL: &str = r#"@id("all") permit (principal, action, resource);"#;

struct Boto3 {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Boto3 {
    fn start(endpoint: &str) -> Boto3 {
        let python = concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/compare_boto3.py");
        let mut child = Command::new(python)
            .args([script, endpoint])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the boto3 comparison (make venv installs boto3)");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        Boto3 { child, out }
    }

    fn compare(&mut self, call: &Value) -> (bool, String) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        writeln!(stdin, "{call}").expect("write");
        stdin.flush().expect("flush");
        let mut line = String::new();
        self.out.read_line(&mut line).expect("read");
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|_| panic!("bad answer from boto3 side: {line:?}"));
        (
            v["ok"] == true,
            v["detail"].as_str().unwrap_or_default().to_string(),
        )
    }
}

impl Drop for Boto3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// One call through the gate and how to compare it.
struct Call {
    action: &'static str,
    /// botocore's name for the service, for boto3.
    service: &'static str,
    params: Value,
    /// `equal`: boto3 makes the same call; `shape`: it makes `boto3_params` instead (the call
    /// changes state, so the same one would collide) and the answers must have the same structure.
    mode: &'static str,
    boto3_params: Value,
    /// Keys boto3 adds through its own customisations, not found in the service's answer to
    /// the call as made (e.g. S3 `EncodingType`, which botocore always requests).
    ignore: Vec<&'static str>,
}

impl Call {
    fn ignoring(mut self, keys: &[&'static str]) -> Self {
        self.ignore.extend_from_slice(keys);
        self
    }
}

fn c(
    action: &'static str,
    service: &'static str,
    params: Value,
    mode: &'static str,
    boto3_params: Value,
) -> Call {
    Call {
        action,
        service,
        params,
        mode,
        boto3_params,
        ignore: vec![],
    }
}

#[rustfmt::skip]
fn calls() -> Vec<Call> {
    let table = |name: &str| json!({"TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]});
    let policy = |bucket: &str| json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject",
        "Resource": format!("arn:aws:s3:::{bucket}/*")}]}).to_string();
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}).to_string();
    let same = Value::Null;
    vec![
        // json 1.0
        c("dynamodb:CreateTable", "dynamodb", table("t1"), "shape", table("t1b")),
        c("dynamodb:DescribeTable", "dynamodb", json!({"TableName": "t1"}), "equal", same.clone()),
        c("dynamodb:PutItem", "dynamodb", json!({"TableName": "t1", "Item": {"id": {"S": "a"}, "n": {"N": "42"}}}), "shape", json!({"TableName": "t1b", "Item": {"id": {"S": "a"}}})),
        c("dynamodb:GetItem", "dynamodb", json!({"TableName": "t1", "Key": {"id": {"S": "a"}}}), "equal", same.clone()),
        c("dynamodb:ListTables", "dynamodb", json!({}), "equal", same.clone()),
        c("sqs:CreateQueue", "sqs", json!({"QueueName": "q1"}), "shape", json!({"QueueName": "q1b"})),
        c("sqs:GetQueueUrl", "sqs", json!({"QueueName": "q1"}), "equal", same.clone()),
        c("states:ListStateMachines", "stepfunctions", json!({}), "equal", same.clone()),
        // json 1.1
        c("kms:CreateKey", "kms", json!({"Description": "tollgate test"}), "shape", json!({"Description": "boto3"})),
        c("kms:ListKeys", "kms", json!({}), "equal", same.clone()),
        c("secretsmanager:CreateSecret", "secretsmanager", json!({"Name": "s1", "SecretString": "hunter2-very-secret"}), "shape", json!({"Name": "s1b", "SecretString": "x"})),
        c("secretsmanager:GetSecretValue", "secretsmanager", json!({"SecretId": "s1"}), "equal", same.clone()),
        c("ssm:PutParameter", "ssm", json!({"Name": "/app/p1", "Value": "v1", "Type": "String"}), "shape", json!({"Name": "/app/p1b", "Value": "v", "Type": "String"})),
        c("ssm:GetParameter", "ssm", json!({"Name": "/app/p1"}), "equal", same.clone()),
        // query
        c("iam:CreateRole", "iam", json!({"RoleName": "r1", "AssumeRolePolicyDocument": trust}), "shape", json!({"RoleName": "r1b", "AssumeRolePolicyDocument": trust})),
        c("iam:GetRole", "iam", json!({"RoleName": "r1"}), "equal", same.clone()),
        c("iam:ListRoles", "iam", json!({}), "equal", same.clone()),
        c("sts:GetCallerIdentity", "sts", json!({}), "shape", json!({})),
        c("sns:CreateTopic", "sns", json!({"Name": "topic1"}), "shape", json!({"Name": "topic1b"})),
        c("sns:ListTopics", "sns", json!({}), "equal", same.clone()),
        // ec2
        c("ec2:DescribeVpcs", "ec2", json!({}), "equal", same.clone()),
        c("ec2:CreateSecurityGroup", "ec2", json!({"GroupName": "sg1", "Description": "tollgate"}), "shape", json!({"GroupName": "sg1b", "Description": "b"})),
        c("ec2:DescribeSecurityGroups", "ec2", json!({"GroupNames": ["sg1"]}), "equal", same.clone()),
        // rest-json
        c("lambda:ListFunctions", "lambda", json!({}), "equal", same.clone()),
        c("lambda:ListLayers", "lambda", json!({}), "equal", same.clone()),
        // rest-xml
        c("s3:CreateBucket", "s3", json!({"Bucket": "bkt-a"}), "shape", json!({"Bucket": "bkt-b"})),
        c("s3:PutObject", "s3", json!({"Bucket": "bkt-a", "Key": "dir/a file.txt", "Body": "aGVsbG8gdG9sbGdhdGU="}), "shape", json!({"Bucket": "bkt-b", "Key": "k", "Body": "x"}))
            // Tollgate sends a CRC32 with uploads (botocore's default); boto3 here sends none.
            .ignoring(&["ChecksumCRC32"]),
        c("s3:GetObject", "s3", json!({"Bucket": "bkt-a", "Key": "dir/a file.txt"}), "equal", same.clone()),
        c("s3:ListObjectsV2", "s3", json!({"Bucket": "bkt-a"}), "equal", same.clone()).ignoring(&["EncodingType"]),
        c("s3:PutBucketPolicy", "s3", json!({"Bucket": "bkt-a", "Policy": policy("bkt-a")}), "shape", json!({"Bucket": "bkt-b", "Policy": policy("bkt-b")})),
        c("s3:GetBucketPolicy", "s3", json!({"Bucket": "bkt-a"}), "equal", same.clone()),
        c("s3:DeleteObject", "s3", json!({"Bucket": "bkt-a", "Key": "dir/a file.txt"}), "shape", json!({"Bucket": "bkt-b", "Key": "k"})),
        c("s3:ListBuckets", "s3", json!({}), "equal", same),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_operation_through_the_gate_matches_boto3() {
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/tollgate/policies".into();
        o.seed_ssm = vec![("/tollgate/policies".into(), ALLOW_ALL.into())];
    })
    .await;
    let bot = agent(&stack, "ci-bot");
    let mut boto3 = Boto3::start(&stack.moto_url);
    let calls = calls();
    let services: std::collections::BTreeSet<&str> = calls.iter().map(|c| c.service).collect();
    assert!(
        calls.len() >= 20 && services.len() >= 10,
        "{} calls, {} services",
        calls.len(),
        services.len()
    );
    let mut failures = Vec::new();
    for Call {
        action,
        service,
        params,
        mode,
        boto3_params,
        ignore,
    } in calls
    {
        let a = bot
            .submit(
                &json!({"action": action, "params": params, "reason": "any-api test"}),
                None,
            )
            .await
            .unwrap();
        assert_eq!(a.status, 200, "{action}: {}", a.body);
        let answer = match a.request_status() {
            Some("SUCCEEDED") => a.body["result"].clone(),
            Some("FAILED") => json!({"error": a.body["error"]}),
            other => panic!("{action}: unexpected status {other:?}: {}", a.body),
        };
        // The session policy named exactly this call's IAM actions and resources.
        let id = a.body["id"].as_str().unwrap();
        let full = bot.status(id, 0).await.unwrap();
        let started = full.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "execution_started")
            .cloned()
            .unwrap();
        let statement = &started["detail"]["session_policy"]["Statement"];
        assert_eq!(
            statement.as_array().map(Vec::len),
            Some(1),
            "{action}: {statement}"
        );
        let one_or_many = |v: &Value| match v.as_array().map(Vec::as_slice) {
            Some([one]) => one.clone(),
            _ => v.clone(),
        };
        assert_eq!(
            statement[0]["Action"],
            one_or_many(&full.body["iam_actions"]),
            "{action}"
        );
        assert_eq!(
            statement[0]["Resource"],
            one_or_many(&full.body["resources"]),
            "{action}"
        );
        // ...and only in the region it is signed for (IAM and S3's global calls: us-east-1).
        assert_eq!(
            statement[0]["Condition"],
            json!({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}),
            "{action}"
        );

        let spec = json!({"service": service, "operation": action.split(':').nth(1).unwrap(), "params": params,
            "tollgate": answer, "mode": mode, "boto3_params": boto3_params, "ignore": ignore});
        let (ok, detail) = boto3.compare(&spec);
        if !ok {
            failures.push(format!("{action} ({mode}): {detail}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} differ from boto3:\n{}",
        failures.len(),
        failures.join("\n")
    );
    stack.stop().await;
}

/// An answer larger than the request record can hold is summarised, not lost: the request
/// still succeeds, the summary says how big it was and which list to page, and asking for
/// less returns the items whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_too_large_to_keep_are_summarised_and_paging_gets_them_whole() {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
        ScalarAttributeType,
    };
    let stack = stack().await;
    let ddb = aws_sdk_dynamodb::Client::new(&stack.sdk);
    ddb.create_table()
        .table_name("bulky")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    for id in ["a", "b"] {
        ddb.put_item()
            .table_name("bulky")
            .item("id", AttributeValue::S(id.into()))
            .item("blob", AttributeValue::S("x".repeat(200 * 1024)))
            .send()
            .await
            .unwrap();
    }
    let bot = agent(&stack, "ci-bot");
    let scan = |params: Value| {
        let bot = &bot;
        async move {
            let a = bot
                .submit(&json!({"action": "dynamodb:Scan", "params": params}), None)
                .await
                .unwrap();
            assert_eq!(a.status, 200, "{}", a.body);
            assert_eq!(a.request_status(), Some("SUCCEEDED"), "{}", a.body);
            a.body["result"].clone()
        }
    };
    let all = scan(json!({"TableName": "bulky"})).await;
    assert_eq!(all["truncated"], true, "{all}");
    assert!(all["bytes"].as_u64().unwrap() > 400 * 1024, "{all}");
    assert_eq!(all["members"]["Items"]["items"], 2, "{all}");
    assert_eq!(all["members"]["Count"]["value"], 2, "{all}");
    let one = scan(json!({"TableName": "bulky", "Limit": 1})).await;
    assert!(one.get("truncated").is_none(), "a page that fits is whole");
    assert_eq!(one["Items"].as_array().unwrap().len(), 1);
    assert_eq!(
        one["Items"][0]["blob"]["S"].as_str().unwrap().len(),
        200 * 1024
    );
    assert!(
        one["LastEvaluatedKey"]["id"]["S"].is_string(),
        "{}",
        one["LastEvaluatedKey"]
    );
}

/// An answer longer than the executor reads (an object of 6 MiB, past the 4 MiB bound) is not
/// read whole: the request succeeds, since the call ran, with a result that says the answer
/// was too large and how to ask for less. A small object still comes back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_object_is_answered_too_large_not_read_whole() {
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/tollgate/policies".into();
        o.seed_ssm = vec![("/tollgate/policies".into(), ALLOW_ALL.into())];
    })
    .await;
    let s3 = tollgate_aws::s3::S3::new(&stack.names.region, Some(&stack.moto_url));
    let creds = aws_credential_types::Credentials::new("testing", "testing", None, None, "t");
    s3.create_bucket(&creds, "big").await.unwrap();
    let size = 6 * 1024 * 1024;
    s3.put(
        &creds,
        "big",
        "blob",
        vec![b'x'; size],
        "application/octet-stream",
    )
    .await
    .unwrap();
    s3.put(&creds, "big", "small", b"hello".to_vec(), "text/plain")
        .await
        .unwrap();
    let bot = agent(&stack, "ci-bot");
    let get =
        |key: &str| json!({"action": "s3:GetObject", "params": {"Bucket": "big", "Key": key}});

    let a = bot.submit(&get("blob"), None).await.unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.request_status(), Some("SUCCEEDED"), "{}", a.body);
    let r = &a.body["result"];
    assert_eq!(r["answer_too_large"], true, "{r}");
    assert_eq!(r["limit_bytes"], 4 * 1024 * 1024, "{r}");
    assert_eq!(r["content_length"], size, "{r}");
    let message = r["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("answer too large"), "{r}");
    assert!(
        !r.to_string().contains("xxxx"),
        "none of the object is kept"
    );

    let a = bot.submit(&get("small"), None).await.unwrap();
    assert_eq!(a.request_status(), Some("SUCCEEDED"), "{}", a.body);
    assert!(a.body["result"]["answer_too_large"].is_null(), "{}", a.body);
    assert_eq!(a.body["result"]["ContentLength"], 5, "{}", a.body);
    stack.stop().await;
}
