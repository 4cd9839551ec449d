//! What the audit tests share: a stack with an agent and an approver, and a request that ran
//! through the whole approval flow.

use std::net::SocketAddr;

use serde_json::json;
use tollgate_cli::client::Client;
use tollgate_core::record::Verdict;
use tollgate_local::{Stack, StackOptions};

/// A fresh local stack, with clients for the agent `ci-bot` and the approver `alice`.
pub async fn stack_with_people() -> (Stack, Client, Client) {
    let stack = Stack::start(StackOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Default::default()
    })
    .await
    .unwrap();
    let agent = Client::new(&stack.api_url, Some(stack.token("ci-bot", false).unwrap()));
    let approver = Client::new(&stack.api_url, Some(stack.token("alice", true).unwrap()));
    (stack, agent, approver)
}

/// Creates `table`, has the agent ask to delete it, waits for the notice, approves, and
/// waits for the deletion to succeed; the request's id.
pub async fn approved_delete(
    stack: &Stack,
    agent: &Client,
    approver: &Client,
    table: &str,
) -> String {
    tollgate_local::demo::create_table(&stack.sdk, table)
        .await
        .unwrap();
    let a = agent
        .submit(&json!({"action": "dynamodb:DeleteTable", "params": {"TableName": table}, "reason": "audit test"}), None)
        .await
        .unwrap();
    let id = a.body["id"].as_str().unwrap().to_string();
    tollgate_local::demo::wait_for_notice(
        &Client::new(&stack.api_url, None),
        &id,
        std::time::Duration::from_secs(30),
    )
    .await
    .unwrap();
    approver.vote(&id, Verdict::Approve, None).await.unwrap();
    let d = agent
        .wait_final(&id, std::time::Duration::from_secs(30), |_| {})
        .await
        .unwrap();
    assert_eq!(d.request_status(), Some("SUCCEEDED"), "{}", d.body);
    id
}
