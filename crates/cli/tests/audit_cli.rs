//! `tollgate audit` and `tollgate audit verify` against a real local stack: a whole trail
//! verifies; an edited, deleted, truncated or reordered one is caught.

mod common;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{Value, json};
use tollgate_local::Stack;

fn tollgate(stack: &Stack, token: Option<&str>, args: &[&str]) -> (i32, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.env("TOLLGATE_URL", &stack.api_url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("TOLLGATE_TOKEN")
        .env_remove("AWS_ENDPOINT_URL");
    if let Some(t) = token {
        cmd.env("TOLLGATE_TOKEN", t);
    }
    let out = cmd.args(args).output().expect("run tollgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn key(id: &str, sk: &str) -> std::collections::HashMap<String, AttributeValue> {
    [
        ("pk".to_string(), AttributeValue::S(format!("REQ#{id}"))),
        ("sk".to_string(), AttributeValue::S(sk.to_string())),
    ]
    .into()
}

async fn event_doc(ddb: &aws_sdk_dynamodb::Client, id: &str, seq: u64) -> String {
    let out = ddb
        .get_item()
        .table_name("tollgate-requests")
        .set_key(Some(key(id, &format!("EVT#{seq:010}"))))
        .send()
        .await
        .unwrap();
    // Empty when there is no such event.
    out.item()
        .map(|i| i["doc"].as_s().unwrap().clone())
        .unwrap_or_default()
}

/// The sequence number of `id`'s event of `kind` (the trail's length changes as features add
/// events; the tampering below aims at events by what they are).
async fn seq_of(ddb: &aws_sdk_dynamodb::Client, id: &str, kind: &str) -> u64 {
    for seq in 1..=20 {
        let raw = event_doc(ddb, id, seq).await;
        if raw.is_empty() {
            break;
        }
        let doc: Value = serde_json::from_str(&raw).unwrap();
        if doc["kind"] == kind {
            return seq;
        }
    }
    panic!("{id} has no {kind} event")
}

async fn put_doc(ddb: &aws_sdk_dynamodb::Client, id: &str, seq: u64, doc: String) {
    ddb.update_item()
        .table_name("tollgate-requests")
        .set_key(Some(key(id, &format!("EVT#{seq:010}"))))
        .update_expression("SET doc = :d")
        .expression_attribute_values(":d", AttributeValue::S(doc))
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_shows_and_verify_catches_tampering() {
    let (stack, agent, approver) = common::stack_with_people().await;
    let intact = common::approved_delete(&stack, &agent, &approver, "a1").await;
    let edited = common::approved_delete(&stack, &agent, &approver, "a2").await;
    let deleted = common::approved_delete(&stack, &agent, &approver, "a3").await;
    let truncated = common::approved_delete(&stack, &agent, &approver, "a4").await;
    let reordered = common::approved_delete(&stack, &agent, &approver, "a5").await;

    let token = stack.token("ci-bot", false).unwrap();
    let (code, out) = tollgate(&stack, Some(&token), &["audit", &intact]);
    assert_eq!(code, 0, "{out}");
    for kind in [
        "submitted",
        "decided",
        "previewed",
        "notified",
        "voted",
        "approved",
        "execution_started",
        "executed",
    ] {
        assert!(out.contains(kind), "{kind} missing from:\n{out}");
    }

    let verify = |ids: &[&str]| {
        let mut args = vec![
            "audit",
            "verify",
            "--endpoint-url",
            &stack.moto_url,
            "--table",
            "tollgate-requests",
        ];
        args.extend_from_slice(ids);
        tollgate(&stack, None, &args)
    };
    let (code, out) = verify(&["--since", "2020-01-01"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("5 intact, 0 broken"), "{out}");

    let ddb = aws_sdk_dynamodb::Client::new(&stack.sdk);
    // An approver's comment rewritten after the fact.
    let voted = seq_of(&ddb, &edited, "voted").await;
    let mut doc: Value = serde_json::from_str(&event_doc(&ddb, &edited, voted).await).unwrap();
    doc["detail"]["comment"] = json!("approved by the CFO");
    put_doc(&ddb, &edited, voted, doc.to_string()).await;
    // An event removed from the middle, and the latest one removed.
    ddb.delete_item()
        .table_name("tollgate-requests")
        .set_key(Some(key(&deleted, "EVT#0000000003")))
        .send()
        .await
        .unwrap();
    let last = seq_of(&ddb, &truncated, "executed").await;
    assert!(
        event_doc(&ddb, &truncated, last + 1).await.is_empty(),
        "executed is the last event"
    );
    ddb.delete_item()
        .table_name("tollgate-requests")
        .set_key(Some(key(&truncated, &format!("EVT#{last:010}"))))
        .send()
        .await
        .unwrap();
    // Two events swapped.
    let (d4, d5) = (
        event_doc(&ddb, &reordered, 4).await,
        event_doc(&ddb, &reordered, 5).await,
    );
    put_doc(&ddb, &reordered, 4, d5).await;
    put_doc(&ddb, &reordered, 5, d4).await;

    for (id, at) in [
        (&edited, voted),
        (&deleted, 3),
        (&truncated, last),
        (&reordered, 4),
    ] {
        let (code, out) = verify(&[id]);
        assert_eq!(code, 10, "{out}");
        assert!(
            out.contains(&format!("BROKEN  {id} at event {at}")),
            "{out}"
        );
    }
    let (code, out) = verify(&["--since", "2020-01-01"]);
    assert_eq!(code, 10);
    assert!(out.contains("1 intact, 4 broken"), "{out}");
    stack.stop().await;
}

/// `tollgate audit breakglass` reads the uses from the table (moto, the real SDK): one
/// acknowledged, one not yet; `--json` names who, why and the acknowledgement; `--since`
/// after both lists none; a request approved by vote is never listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_breakglass_lists_the_uses_with_their_acknowledgement() {
    use std::net::SocketAddr;
    use tollgate_cli::client::Client;
    use tollgate_local::issuer::MintRequest;
    let text = r#"
        @id("reads") permit (principal, action in Action::"Read", resource);
        @id("drops") @approval("1") @approvers("dba") @breakglass("oncall")
        permit (principal, action == Action::"dynamodb:DeleteTable", resource);
    "#;
    let stack = Stack::start(tollgate_local::StackOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        policy_source: "ssm:/p".into(),
        seed_ssm: vec![("/p".into(), text.into())],
        ..Default::default()
    })
    .await
    .unwrap();
    let person = |sub: &str, group: &str| {
        let token = stack
            .mint(&MintRequest {
                sub: sub.into(),
                approver: true,
                groups: Some(vec!["approvers".into(), group.into()]),
                ..Default::default()
            })
            .unwrap();
        Client::new(&stack.api_url, Some(token))
    };
    let (olga, dan) = (person("olga", "oncall"), person("dan", "dba"));
    let agent = Client::new(&stack.api_url, Some(stack.token("ci-bot", false).unwrap()));
    let why = "the table holds corrupt rows; dropping it to restore from backup";
    let mut ids = vec![];
    for table in ["g1", "g2", "g3"] {
        tollgate_local::demo::create_table(&stack.sdk, table)
            .await
            .unwrap();
        let a = agent
            .submit(&json!({"action": "dynamodb:DeleteTable", "params": {"TableName": table}, "reason": "r"}), None)
            .await
            .unwrap();
        let id = a.body["id"].as_str().unwrap().to_string();
        tollgate_local::demo::wait_for_notice(&agent, &id, std::time::Duration::from_secs(60))
            .await
            .unwrap();
        let hash = dan.status(&id, 0).await.unwrap().body["request_hash"]
            .as_str()
            .unwrap()
            .to_string();
        let r = if table == "g3" {
            dan.vote(&id, tollgate_core::record::Verdict::Approve, None)
                .await
                .unwrap()
        } else {
            olga.break_glass(&id, why, &hash).await.unwrap()
        };
        assert_eq!(r.status, 200, "{}", r.body);
        agent
            .wait_final(&id, std::time::Duration::from_secs(60), |_| {})
            .await
            .unwrap();
        ids.push(id);
    }
    assert_eq!(dan.acknowledge(&ids[0]).await.unwrap().status, 200);
    let list = |extra: &[&str]| {
        let mut args = vec![
            "audit",
            "breakglass",
            "--endpoint-url",
            &stack.moto_url,
            "--table",
            "tollgate-requests",
        ];
        args.extend_from_slice(extra);
        tollgate(&stack, None, &args)
    };
    let (code, out) = list(&["--json"]);
    assert_eq!(code, 0, "{out}");
    let uses: Value = serde_json::from_str(&out).unwrap();
    let uses = uses.as_array().unwrap();
    assert_eq!(uses.len(), 2, "{out}");
    // Newest first.
    assert_eq!(uses[0]["request_id"], ids[1].as_str());
    assert_eq!(uses[1]["request_id"], ids[0].as_str());
    assert_eq!(uses[1]["acknowledged_by"], "dan");
    assert_eq!(uses[0]["acknowledged_by"], Value::Null);
    assert_eq!(uses[0]["overdue"], false);
    for u in uses {
        assert_eq!(u["approver_subject"], "olga");
        assert_eq!(u["justification"], why);
        assert_eq!(u["action"], "dynamodb:DeleteTable");
        assert_eq!(u["status"], "SUCCEEDED");
    }
    let (code, out) = list(&["--since", "1h"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 break-glass uses since"), "{out}");
    assert!(out.contains("acknowledged by dan at"), "{out}");
    assert!(out.contains("not acknowledged yet, due"), "{out}");
    assert!(
        !out.contains(&ids[2]),
        "a vote is not a break-glass use: {out}"
    );
    let (_, out) = list(&["--since", "2099-01-01"]);
    assert!(out.contains("0 break-glass uses since"), "{out}");
    let (code, out) = list(&["--since", "yesterday"]);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("--since `yesterday`"), "{out}");
    stack.stop().await;
}
