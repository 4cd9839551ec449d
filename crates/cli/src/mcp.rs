//! `tollgate mcp`: the Model Context Protocol over stdio, so an AI agent calls AWS through
//! Tollgate with tools it can read about. Every tool is one or two API calls; the API's
//! refusals come back as tool errors carrying the API's message.

use std::time::{Duration, Instant};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ServerHandler, ServiceExt, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tollgate_cli::client::{Answer, Client, is_final};
use tollgate_cli::config::TokenSource;

const INSTRUCTIONS: &str = "Tollgate performs AWS API calls for you, under policy. \
You hold no AWS credentials: call `aws_call` instead. Reads usually run at once. Writes, \
deletions and permission changes often need a human to approve them first, so `aws_call` \
may return a PENDING request instead of a result: tell the user what you asked for and why, \
then follow it with `request_status` (it waits up to 20 s per call) or move on and check \
later. Use `describe_action` first to see whether a call would run now, need approval or be \
denied, and which parameters it needs. A denial is final: do not retry it with small changes.";

/// Longest one long-poll the API holds.
const POLL_SECONDS: u64 = 20;

#[derive(Clone)]
pub struct Tollgate {
    url: String,
    token: TokenSource,
    max_wait: u64,
    #[allow(dead_code, reason = "the tool_handler macro routes through it")]
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct AwsCall {
    /// The AWS API operation as `service:Operation`, e.g. `dynamodb:ListTables`,
    /// `s3:PutObject`, `ec2:DescribeInstances`.
    pub action: String,
    /// The operation's parameters, named as in the AWS API reference (e.g.
    /// `{"TableName": "orders"}`).
    #[serde(default)]
    pub params: Option<Map<String, Value>>,
    /// AWS region; Tollgate's default region when omitted.
    #[serde(default)]
    pub region: Option<String>,
    /// Why you need this call. Required for calls that need approval: the approvers read it.
    #[serde(default)]
    pub reason: Option<String>,
    /// The configured target account, when there is more than one.
    #[serde(default)]
    pub target: Option<String>,
    /// Seconds to wait for a final answer, approval included (default: the server's setting).
    #[serde(default)]
    pub wait_seconds: Option<u64>,
    /// Makes a retry of the same call return the first call's request instead of a second one.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RequestId {
    /// The request id `aws_call` returned.
    pub id: String,
    /// Seconds to wait for the status to change (0-20, default 0).
    #[serde(default)]
    pub wait_seconds: Option<u64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CancelId {
    /// The id of your pending request.
    pub id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListMine {
    /// Only requests with this status: pending, approved, executing, succeeded, failed,
    /// denied, rejected, expired, cancelled.
    #[serde(default)]
    pub status: Option<String>,
    /// The `next_cursor` of a previous answer, for the next page.
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct Describe {
    /// The AWS API operation as `service:Operation`.
    pub action: String,
    /// Parameters you plan to pass; with them the policy decision covers the exact resources.
    #[serde(default)]
    pub params: Option<Map<String, Value>>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
}

#[tool_router]
impl Tollgate {
    pub fn new(url: String, token: TokenSource, max_wait: u64) -> Self {
        Self {
            url,
            token,
            max_wait,
            tool_router: Self::tool_router(),
        }
    }

    #[tool(
        description = "Perform one AWS API call through Tollgate. Reads (List/Describe/Get) usually run at once and return the result. Writes, deletions and permission changes may need a human to approve them: then this waits up to `wait_seconds` and, if nobody has decided yet, returns status PENDING with the request id and its page — tell the user, and follow up with `request_status`. Give a clear `reason` for any write: approvers decide on it. A denial comes back as an error and is final."
    )]
    async fn aws_call(&self, Parameters(p): Parameters<AwsCall>) -> CallToolResult {
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => return failure(&e),
        };
        let mut body = json!({"action": p.action, "params": p.params.unwrap_or_default()});
        for (k, v) in [
            ("region", p.region),
            ("reason", p.reason),
            ("target", p.target),
        ] {
            if let Some(v) = v {
                body[k] = json!(v);
            }
        }
        let a = match client.submit(&body, p.idempotency_key.as_deref()).await {
            Ok(a) => a,
            Err(e) => return failure(&e),
        };
        if a.status != 202 {
            return answer(&client, a);
        }
        let id = a.body["id"].as_str().unwrap_or_default().to_string();
        let wait = p.wait_seconds.unwrap_or(self.max_wait).min(self.max_wait);
        match follow(&client, &id, Duration::from_secs(wait)).await {
            Ok(latest) => answer(&client, latest),
            Err(e) => failure(&e),
        }
    }

    #[tool(
        description = "The status of a request made with `aws_call`: PENDING (waiting for human approval), APPROVED/EXECUTING, or final — SUCCEEDED (with the AWS result), FAILED (with the AWS error), DENIED, REJECTED (with the approver's comment), EXPIRED, CANCELLED. With `wait_seconds` (up to 20) it returns as soon as the status changes."
    )]
    async fn request_status(&self, Parameters(p): Parameters<RequestId>) -> CallToolResult {
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => return failure(&e),
        };
        let wait = p.wait_seconds.unwrap_or(0).min(POLL_SECONDS);
        match client.status(&p.id, wait).await {
            Ok(a) => answer(&client, a),
            Err(e) => failure(&e),
        }
    }

    #[tool(
        description = "Your requests, newest first, optionally only those with one status (e.g. `pending` to see what still waits for a human). Pass `next_cursor` back as `cursor` for more."
    )]
    async fn list_my_requests(&self, Parameters(p): Parameters<ListMine>) -> CallToolResult {
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => return failure(&e),
        };
        match client
            .list(p.status.as_deref(), Some(20), p.cursor.as_deref())
            .await
        {
            Ok(a) if a.status == 200 => {
                let requests: Vec<Value> = a.body["requests"]
                    .as_array()
                    .map(|l| l.iter().map(summary).collect())
                    .unwrap_or_default();
                success(&json!({"requests": requests, "next_cursor": a.body["next_cursor"]}))
            }
            Ok(a) => api_error(&a),
            Err(e) => failure(&e),
        }
    }

    #[tool(
        description = "Withdraw one of your requests that is still waiting for approval (status PENDING). Approvers are no longer asked; the request ends CANCELLED and never runs."
    )]
    async fn cancel_request(&self, Parameters(p): Parameters<CancelId>) -> CallToolResult {
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => return failure(&e),
        };
        match client.cancel(&p.id).await {
            Ok(a) if a.status == 200 => success(&summary(&a.body)),
            Ok(a) => api_error(&a),
            Err(e) => failure(&e),
        }
    }

    #[tool(
        description = "Plan before asking: for an AWS operation, its IAM access level (List, Read, Write, Tagging, Permissions management), what Tollgate's policy would decide for you right now (allow, approval with how many approvers, or deny, and why), and the operation's required and accepted parameters. Records nothing and runs nothing."
    )]
    async fn describe_action(&self, Parameters(p): Parameters<Describe>) -> CallToolResult {
        let client = match self.client() {
            Ok(c) => c,
            Err(e) => return failure(&e),
        };
        let mut body = json!({"action": p.action, "params": p.params.unwrap_or_default()});
        for (k, v) in [("region", p.region), ("target", p.target)] {
            if let Some(v) = v {
                body[k] = json!(v);
            }
        }
        match client.explain(&body).await {
            Ok(a) if a.status == 200 => success(&a.body),
            Ok(a) => api_error(&a),
            Err(e) => failure(&e),
        }
    }
}

impl Tollgate {
    /// A client with a fresh token: token commands run per call, as CI tokens are short-lived.
    fn client(&self) -> Result<Client, String> {
        let token = self
            .token
            .get()?
            .ok_or("no token configured: set TOLLGATE_TOKEN or TOLLGATE_TOKEN_COMMAND")?;
        Ok(Client::new(&self.url, Some(token)))
    }
}

#[tool_handler]
impl ServerHandler for Tollgate {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("tollgate", env!("CARGO_PKG_VERSION")))
            .with_instructions(INSTRUCTIONS)
    }
}

/// Serves until the client closes stdin. Logs go to stderr; stdout carries only protocol.
pub async fn serve(url: String, token: TokenSource, max_wait: u64) -> Result<(), String> {
    let service = Tollgate::new(url, token, max_wait)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| format!("mcp: cannot start: {e}"))?;
    service
        .waiting()
        .await
        .map_err(|e| format!("mcp: stopped: {e}"))?;
    Ok(())
}

/// Long-polls until final or `limit` passes; the last answer either way.
async fn follow(client: &Client, id: &str, limit: Duration) -> Result<Answer, String> {
    let start = Instant::now();
    loop {
        let left = limit
            .saturating_sub(start.elapsed())
            .as_secs()
            .min(POLL_SECONDS);
        let a = client.status(id, left).await?;
        let done = a.request_status().is_some_and(is_final);
        if a.status != 200 || done || left == 0 {
            return Ok(a);
        }
    }
}

/// A request answer as a tool result: final outcomes and pending requests are results; a
/// refusal (denied, not found, invalid) is a tool error with the API's message.
fn answer(client: &Client, a: Answer) -> CallToolResult {
    if !(200..300).contains(&a.status) {
        return api_error(&a);
    }
    let mut v = summary(&a.body);
    match a.request_status() {
        Some("PENDING" | "APPROVED" | "EXECUTING") => {
            let id = a.body["id"].as_str().unwrap_or_default();
            v["request_page"] = json!(client.request_url(id));
            v["next_step"] = json!(
                "A human must approve this call before it runs. Tell the user what you asked for and why; check again with request_status (wait_seconds up to 20), or cancel_request if it is no longer needed."
            );
        }
        Some("SUCCEEDED") => {}
        Some(other) => {
            // FAILED, REJECTED, EXPIRED, CANCELLED: a result the agent must not take as success.
            return CallToolResult::error(vec![ContentBlock::text(
                serde_json::to_string_pretty(&json!({"outcome": other, "request": v}))
                    .unwrap_or_default(),
            )]);
        }
        None => {}
    }
    success(&v)
}

/// What a model needs from a request, without the audit internals.
fn summary(r: &Value) -> Value {
    let mut v = json!({
        "id": r["id"],
        "status": r["status"],
        "action": r.pointer("/request/action").cloned().unwrap_or(Value::Null),
        "region": r.pointer("/request/region").cloned().unwrap_or(Value::Null),
        "reason": r.pointer("/request/reason").cloned().unwrap_or(Value::Null),
        "approvals_required": r["approvals_required"],
    });
    let approvals = r["votes"]
        .as_array()
        .map(|votes| {
            votes
                .iter()
                .map(|x| json!({"approver": x.pointer("/approver/subject"), "verdict": x["verdict"], "comment": x["comment"]}))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    v["votes"] = json!(approvals);
    for key in ["result", "error", "expires_at"] {
        if let Some(x) = r.get(key).filter(|x| !x.is_null()) {
            v[key] = x.clone();
        }
    }
    v
}

fn api_error(a: &Answer) -> CallToolResult {
    let message = a
        .body
        .pointer("/error/message")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| format!("Tollgate answered HTTP {}", a.status));
    let mut v = json!({"error": message, "http_status": a.status});
    if let Some(code) = a.error_code() {
        v["code"] = json!(code);
    }
    if let Some(detail) = a.body.pointer("/error/detail") {
        v["detail"] = detail.clone();
    }
    CallToolResult::error(vec![ContentBlock::text(
        serde_json::to_string_pretty(&v).unwrap_or_default(),
    )])
}

fn success(v: &Value) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(
        serde_json::to_string_pretty(v).unwrap_or_default(),
    )])
}

fn failure(message: &str) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.to_string())])
}
