//! `tollgate policy replay` on a real local stack: requests made through the API (a read
//! allowed at once, a write held, a denied delete) are read back from the table and decided
//! again by the command, against a bundle with one rule changed and against the bundle the
//! API enforces.

use std::net::SocketAddr;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use tollgate_cli::client::Client;
use tollgate_local::{Stack, StackOptions};

const ENFORCED: &str = r#"
@id("reads")
permit (principal, action in Action::"Read", resource);

@id("writes") @approval("1")
permit (principal, action in Action::"Write", resource);

@id("no-deletes") @reason("tables are never deleted by agents")
forbid (principal, action == Action::"dynamodb:DeleteTable", resource);
"#;

fn bundle(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("replay-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("policies.cedar"), text).unwrap();
    dir
}

fn replay(stack: &Stack, dir: &std::path::Path, since: u64, until: u64) -> (i32, Value, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("TOLLGATE_TABLE")
        .args([
            "policy",
            "replay",
            "--since",
            &since.to_string(),
            "--until",
            &until.to_string(),
            "--policies",
            dir.to_str().unwrap(),
            "--table",
            &stack.names.table,
            "--endpoint-url",
            &stack.moto_url,
            "--json",
        ])
        .output()
        .expect("run tollgate");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let body = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (out.status.code().unwrap_or(-1), body, stdout + &stderr)
}

fn iso(secs: u64) -> String {
    tollgate_core::time::iso8601(secs * 1000)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_reports_what_a_changed_rule_would_decide() {
    let enforced = bundle("enforced", ENFORCED);
    let stack = Stack::start(StackOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        policy_source: format!("dir:{}", enforced.display()),
        ..Default::default()
    })
    .await
    .unwrap();
    tollgate_local::demo::create_table(&stack.sdk, "orders")
        .await
        .unwrap();
    let agent = Client::new(&stack.api_url, Some(stack.token("ci-bot", false).unwrap()));
    let since = tollgate_aws::now_ms() / 1000;
    let read = agent
        .submit(
            &json!({"action": "dynamodb:DescribeTable", "params": {"TableName": "orders"}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(read.status, 200, "{}", read.body);
    let write = agent
        .submit(&json!({"action": "dynamodb:UpdateTable", "params": {"TableName": "orders", "BillingMode": "PAY_PER_REQUEST"}, "reason": "switch billing"}), None)
        .await
        .unwrap();
    assert_eq!(write.status, 202, "{}", write.body);
    let delete = agent
        .submit(&json!({"action": "dynamodb:DeleteTable", "params": {"TableName": "orders"}, "reason": "cleanup"}), None)
        .await
        .unwrap();
    assert_eq!(delete.status, 403, "{}", delete.body);
    let until = tollgate_aws::now_ms() / 1000 + 1;
    let held_id = write.body["id"].as_str().unwrap().to_string();
    let ddb = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let stored = |id: String| {
        let ddb = ddb.clone();
        let table = stack.names.table.clone();
        async move {
            let item = ddb
                .get_item()
                .table_name(table)
                .key("pk", AttributeValue::S(format!("REQ#{id}")))
                .key("sk", AttributeValue::S("META".into()))
                .send()
                .await
                .unwrap()
                .item
                .unwrap();
            let doc: Value = serde_json::from_str(item["doc"].as_s().unwrap()).unwrap();
            doc
        }
    };
    let held = stored(held_id.clone()).await;
    // What policy saw is recorded with the request.
    assert_eq!(held["context"]["account"], json!(stack.names.account));
    assert_eq!(held["context"]["resources_known"], json!(true));
    assert!(held["context"]["time"].as_u64().unwrap() >= since);

    // One rule changed: writes need two approvals.
    let candidate = bundle(
        "candidate",
        &ENFORCED.replace(
            "@id(\"writes\") @approval(\"1\")",
            "@id(\"writes\") @approval(\"2\")",
        ),
    );
    let (code, body, out) = replay(&stack, &candidate, since, until);
    assert_eq!(code, 10, "{out}");
    assert_eq!(
        body,
        json!({
            "since": iso(since),
            "until": iso(until),
            "policies": candidate.display().to_string(),
            "totals": {"read": 3, "replayed": 3, "unchanged": 2, "changed": 1,
                "without_context": 0, "skipped": 0},
            "changes": [{
                "transition": "approvals 1 → 2",
                "from": "approval:1",
                "to": "approval:2",
                "old_policy_ids": ["writes"],
                "new_policy_ids": ["writes"],
                "old_requirements": ["1 from any approver"],
                "new_requirements": ["2 from any approver"],
                "count": 1,
                "examples": [{
                    "request_id": held_id,
                    "agent": held["agent"]["issuer"].as_str().unwrap().to_string() + "#ci-bot",
                    "action": "dynamodb:UpdateTable",
                    "resources": [format!("arn:aws:dynamodb:{}:{}:table/orders", stack.names.region, stack.names.account)],
                    "created_at": held["created_at"],
                    "old_reason": held["decision"]["reason"],
                    "new_reason": "dynamodb:UpdateTable (Write) needs 2 approvals (2 from any approver): policy writes",
                }],
            }],
            "skipped": [],
        }),
        "{out}"
    );

    // The human report says the same.
    let text = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args([
            "policy",
            "replay",
            "--since",
            &since.to_string(),
            "--policies",
            candidate.to_str().unwrap(),
            "--table",
            &stack.names.table,
            "--endpoint-url",
            &stack.moto_url,
        ])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&text.stdout);
    assert_eq!(text.status.code(), Some(10), "{shown}");
    assert!(
        shown.contains("1 would change")
            && shown.contains("1  approvals 1 → 2  (approval:1 → approval:2)")
            && shown.contains("policies: writes → writes")
            && shown.contains(&held_id),
        "{shown}"
    );

    // The enforced bundle decides every request as recorded. A record from before contexts
    // were kept replays too, counted as such.
    let read_id = read.body["id"].as_str().unwrap().to_string();
    let mut old = stored(read_id.clone()).await;
    old.as_object_mut().unwrap().remove("context");
    ddb.update_item()
        .table_name(&stack.names.table)
        .key("pk", AttributeValue::S(format!("REQ#{read_id}")))
        .key("sk", AttributeValue::S("META".into()))
        .update_expression("SET doc = :d")
        .expression_attribute_values(":d", AttributeValue::S(old.to_string()))
        .send()
        .await
        .unwrap();
    let (code, body, out) = replay(&stack, &enforced, since, until);
    assert_eq!(code, 0, "{out}");
    assert_eq!(
        body["totals"],
        json!({"read": 3, "replayed": 3, "unchanged": 3, "changed": 0,
            "without_context": 1, "skipped": 0}),
        "{out}"
    );
    assert_eq!(body["changes"], json!([]));

    // A bundle the API would refuse to start with is refused here too.
    let broken = bundle(
        "broken",
        "@id(\"w\") @approval(\"99\") permit (principal, action, resource);",
    );
    let (code, _, out) = replay(&stack, &broken, since, until);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("invalid policies") && out.contains("@approval"),
        "{out}"
    );
    for d in [enforced, candidate, broken] {
        let _ = std::fs::remove_dir_all(d);
    }
    stack.stop().await;
}
