//! Helpers for the end-to-end tests: each test gets its own local stack (its own moto, on
//! free ports), so tests run in parallel and never see each other's data.

use std::net::SocketAddr;
use std::time::Duration;

use tollgate_cli::client::{Answer, Client};
use tollgate_local::{Stack, StackOptions};

pub use serde_json::{Value, json};

pub const WAIT: Duration = Duration::from_secs(60);

pub async fn stack() -> Stack {
    stack_with(|_| {}).await
}

pub async fn stack_with(tune: impl FnOnce(&mut StackOptions)) -> Stack {
    let mut opts = StackOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Default::default()
    };
    tune(&mut opts);
    Stack::start(opts).await.expect("local stack starts")
}

pub fn agent(stack: &Stack, sub: &str) -> Client {
    Client::new(
        &stack.api_url,
        Some(stack.token(sub, false).expect("mint agent token")),
    )
}

pub fn approver(stack: &Stack, sub: &str) -> Client {
    Client::new(
        &stack.api_url,
        Some(stack.token(sub, true).expect("mint approver token")),
    )
}

/// Submits a write that needs one approval and returns its id.
pub async fn pending_delete(client: &Client, table: &str) -> String {
    let a = client
        .submit(&json!({"action": "dynamodb:DeleteTable", "params": {"TableName": table}, "reason": "test"}), None)
        .await
        .expect("submit");
    assert_eq!(a.status, 202, "{}", a.body);
    a.body["id"].as_str().expect("id").to_string()
}

/// Raw HTTP, for requests the typed client would never send.
pub async fn raw(
    stack: &Stack,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Answer {
    let http = reqwest::Client::new();
    let mut rb = http
        .request(
            method.parse().expect("method"),
            format!("{}{path}", stack.api_url),
        )
        .body(body);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    for (k, v) in headers {
        rb = rb.header(*k, *v);
    }
    let resp = rb.send().await.expect("send");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
    }
}

/// The kinds of a request's audit events, in order.
pub fn event_kinds(a: &Answer) -> Vec<String> {
    a.body["events"]
        .as_array()
        .map(|e| {
            e.iter()
                .filter_map(|e| e["kind"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}
