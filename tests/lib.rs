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

/// Invokes the executor for `id` as a retried Step Functions task would (the local stack's
/// Lambda Invoke API); the executor must find it done and call nothing again.
pub async fn invoke_executor_again(stack: &Stack, id: &str) {
    let r = reqwest::Client::new()
        .post(format!(
            "{}/2015-03-31/functions/tollgate-executor/invocations",
            stack.api_url
        ))
        .json(&json!({"request_id": id}))
        .send()
        .await
        .expect("invoke the executor");
    assert_eq!(r.status(), 200);
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

/// Every log line the whole stack writes in this test process, as Lambda would ship them.
#[derive(Clone, Default)]
pub struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// Captures JSON log lines up to `level`. One subscriber per process: call it once, in a
/// test binary whose other tests do not log-capture (nextest runs each test in its own
/// process).
pub fn capture_logs(level: tracing::Level) -> Captured {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_max_level(level)
        .with_writer(move || writer.clone())
        .try_init()
        .expect("the only subscriber in this test process");
    captured
}

/// Submits `action` and checks that the forbid on Tollgate's own resources refused it.
pub async fn assert_protected(client: &Client, action: &str, params: Value) {
    let a = client
        .submit(
            &json!({"action": action, "params": params, "reason": "Tollgate's own resources"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(a.status, 403, "{action}: {}", a.body);
    assert_eq!(
        a.body["error"]["policy_ids"],
        json!(["tollgate-protects-itself"]),
        "{action}: {}",
        a.body
    );
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

/// Calls a fake Slack Web API received: (method, authorization header, JSON body or query).
pub type SlackCalls = std::sync::Arc<std::sync::Mutex<Vec<(String, String, Value)>>>;

/// The workspace the fake Slack's members belong to.
pub const SLACK_TEAM: &str = "T-TOLLGATE";

/// A stand-in for `https://slack.com/api` on a free port: `users.info` answers from
/// `emails` (Slack user id → address; each a full member of [`SLACK_TEAM`] with a confirmed
/// address), `chat.*` answers ok with a fixed channel and ts.
pub async fn fake_slack(
    emails: std::collections::BTreeMap<String, String>,
) -> (String, SlackCalls) {
    fake_slack_users(
        emails
            .into_iter()
            .map(|(id, email)| {
                let user = json!({"id": id, "team_id": SLACK_TEAM, "is_email_confirmed": true,
                                  "profile": {"email": email}});
                (id, user)
            })
            .collect(),
    )
    .await
}

/// [`fake_slack`] with whole `users.info` user objects (Slack user id → user).
pub async fn fake_slack_users(
    users: std::collections::BTreeMap<String, Value>,
) -> (String, SlackCalls) {
    use http_body_util::BodyExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/api", listener.local_addr().unwrap());
    let calls: SlackCalls = Default::default();
    let seen = calls.clone();
    let emails = std::sync::Arc::new(users);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (seen, emails) = (seen.clone(), emails.clone());
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let (seen, emails) = (seen.clone(), emails.clone());
                        async move {
                            let method = req.uri().path().trim_start_matches("/api/").to_string();
                            let query: std::collections::BTreeMap<String, String> =
                                url::form_urlencoded::parse(
                                    req.uri().query().unwrap_or("").as_bytes(),
                                )
                                .into_owned()
                                .collect();
                            let auth = req
                                .headers()
                                .get("authorization")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_string();
                            let body = req
                                .into_body()
                                .collect()
                                .await
                                .map(|b| b.to_bytes())
                                .unwrap_or_default();
                            let body: Value =
                                serde_json::from_slice(&body).unwrap_or_else(|_| json!(query));
                            let answer = if method == "users.info" {
                                match query.get("user").and_then(|u| emails.get(u)) {
                                    Some(user) => json!({"ok": true, "user": user}),
                                    None => json!({"ok": false, "error": "user_not_found"}),
                                }
                            } else {
                                json!({"ok": true, "channel": "C-TOLLGATE", "ts": "1700000000.000100"})
                            };
                            seen.lock().unwrap().push((method, auth, body));
                            Ok::<_, std::convert::Infallible>(hyper::Response::new(
                                http_body_util::Full::new(bytes::Bytes::from(answer.to_string())),
                            ))
                        }
                    },
                );
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                .await;
            });
        }
    });
    (url, calls)
}
