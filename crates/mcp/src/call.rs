//! `tools/call`: one tool, its arguments checked, one or two calls to the backend.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::args::{self, AwsCall, AwsPlan, CancelRequest, ExplainCall, ListMine, RequestStatus};
use crate::backend::Submission;
use crate::shape::{self, answer, api_error, settled, summary};
use crate::tasks;
use crate::tools::POLL_SECONDS;
use crate::{Answer, Backend};

/// What a tool call gives back.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolResult {
    /// Pretty JSON (or a plain message) for the model.
    pub text: String,
    pub is_error: bool,
}

impl ToolResult {
    pub fn ok(v: &Value) -> Self {
        Self {
            text: serde_json::to_string_pretty(v).unwrap_or_default(),
            is_error: false,
        }
    }

    pub fn error(v: &Value) -> Self {
        Self {
            text: serde_json::to_string_pretty(v).unwrap_or_default(),
            is_error: true,
        }
    }

    pub fn message(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            is_error: true,
        }
    }

    /// As an MCP `CallToolResult`.
    pub fn to_json(&self) -> Value {
        json!({"content": [{"type": "text", "text": self.text}], "isError": self.is_error})
    }
}

/// A tool's outcome: a result, or (for a held call, when the client takes tasks) a task.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done(ToolResult),
    /// A `Task` of the tasks extension; the client polls `tasks/get` for the result.
    Task(Value),
}

/// A step while a call waits: approvals so far of those required, and a line saying so.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub progress: u64,
    pub total: Option<u64>,
    pub message: String,
}

pub struct CallOptions<'a> {
    /// Longest `aws_call` waits for a decision before returning the pending request.
    pub max_wait: u64,
    /// The client takes tasks: a held `aws_call` returns one at once instead of waiting.
    pub tasks: bool,
    /// Told of every change seen while waiting (the client asked for progress).
    pub progress: Option<&'a mut (dyn FnMut(Progress) + Send)>,
}

pub async fn call(
    backend: &impl Backend,
    name: &str,
    arguments: Option<Value>,
    opts: CallOptions<'_>,
) -> Outcome {
    let Some(name) = crate::tools::tool_name(name) else {
        return Outcome::Done(ToolResult::message(crate::tools::no_such_tool(name)));
    };
    let done = match name {
        "aws_call" => match args::parse::<AwsCall>(arguments) {
            Ok(p) => {
                let body = p.body().to_json();
                let (wait, key) = (p.wait_seconds, p.idempotency_key.as_deref());
                return submit(backend, Submission::Request, &body, wait, key, opts).await;
            }
            Err(e) => ToolResult::message(e),
        },
        "aws_plan" => match args::parse::<AwsPlan>(arguments) {
            Ok(p) => {
                let (wait, key) = (p.wait_seconds, p.idempotency_key.as_deref());
                return submit(backend, Submission::Plan, &p.body(), wait, key, opts).await;
            }
            Err(e) => ToolResult::message(e),
        },
        "request_status" => match args::parse::<RequestStatus>(arguments) {
            Ok(p) => request_status(backend, p, opts).await,
            Err(e) => ToolResult::message(e),
        },
        "list_my_requests" => match args::parse::<ListMine>(arguments) {
            Ok(p) => list_mine(backend, p).await,
            Err(e) => ToolResult::message(e),
        },
        "cancel_request" => match args::parse::<CancelRequest>(arguments) {
            Ok(p) => cancel(backend, p).await,
            Err(e) => ToolResult::message(e),
        },
        "explain_call" => match args::parse::<ExplainCall>(arguments) {
            Ok(p) => explain(backend, p).await,
            Err(e) => ToolResult::message(e),
        },
        other => ToolResult::message(crate::tools::no_such_tool(other)),
    };
    Outcome::Done(done)
}

/// `aws_call` and `aws_plan`: submit, then (unless the client takes tasks) follow a held
/// request for up to the wait allowed.
async fn submit(
    backend: &impl Backend,
    kind: Submission,
    body: &Value,
    wait_seconds: Option<u64>,
    idempotency_key: Option<&str>,
    mut opts: CallOptions<'_>,
) -> Outcome {
    let a = match backend.submit(kind, body, idempotency_key).await {
        Ok(a) => a,
        Err(e) => return Outcome::Done(ToolResult::message(e)),
    };
    if a.status != 202 {
        return Outcome::Done(answer(backend, &a));
    }
    // The request is stored before the API answers 202, so `tasks/get` finds it at once.
    if opts.tasks {
        return Outcome::Task(tasks::task(&a.body));
    }
    let Some(id) = a.body["id"].as_str().map(str::to_string) else {
        return Outcome::Done(answer(backend, &a));
    };
    let wait = wait_seconds.unwrap_or(opts.max_wait).min(opts.max_wait);
    let latest = follow(
        backend,
        &id,
        &a,
        Duration::from_secs(wait),
        &mut opts.progress,
    )
    .await;
    Outcome::Done(match latest {
        Ok(latest) => answer(backend, &latest),
        Err(e) => ToolResult::message(e),
    })
}

async fn request_status(
    backend: &impl Backend,
    p: RequestStatus,
    mut opts: CallOptions<'_>,
) -> ToolResult {
    let id = match args::request_id(&p.id) {
        Ok(id) => id,
        Err(e) => return ToolResult::message(e),
    };
    let wait = p.wait_seconds.unwrap_or(0).min(POLL_SECONDS);
    let first = match backend.status(id, 0).await {
        Ok(a) => a,
        Err(e) => return ToolResult::message(e),
    };
    if wait == 0 || settled(&first) {
        return answer(backend, &first);
    }
    match follow(
        backend,
        id,
        &first,
        Duration::from_secs(wait),
        &mut opts.progress,
    )
    .await
    {
        Ok(a) => answer(backend, &a),
        Err(e) => ToolResult::message(e),
    }
}

/// Long-polls until the request is final or `limit` passes, reporting each change; the
/// last answer either way. The API's long-poll returns on a status change or a new vote, so
/// a change is seen as it happens, not at the end of the wait.
async fn follow(
    backend: &impl Backend,
    id: &str,
    first: &Answer,
    limit: Duration,
    progress: &mut Option<&mut (dyn FnMut(Progress) + Send)>,
) -> Result<Answer, String> {
    let start = Instant::now();
    let mut last = first.clone();
    let mut seen = shape::progress_line(&last.body);
    if let Some(p) = progress.as_mut() {
        p(progress_of(&last.body, &seen));
    }
    loop {
        if settled(&last) {
            return Ok(last);
        }
        let remaining = limit.saturating_sub(start.elapsed());
        // A submission's 202 is not the request's view: read that once even with no time left.
        if remaining.is_zero() && last.status == 200 {
            return Ok(last);
        }
        let left = (remaining.as_millis().div_ceil(1000) as u64).min(POLL_SECONDS);
        let answer = backend.status(id, left).await?;
        // Too many long-polls open for this caller: answer with the last view, which tells
        // the model to ask again, rather than poll in a tight loop.
        if answer.status == 429 {
            return Ok(last);
        }
        last = answer;
        let line = shape::progress_line(&last.body);
        if line != seen {
            if let Some(p) = progress.as_mut() {
                p(progress_of(&last.body, &line));
            }
            seen = line;
        }
    }
}

fn progress_of(r: &Value, line: &str) -> Progress {
    let (have, need) = shape::approvals(r);
    let done = r["status"].as_str().is_some_and(crate::is_final);
    Progress {
        // Strictly increasing while it matters: approvals, then one more step when final.
        progress: have + u64::from(done),
        total: (need > 0).then_some(need + 1),
        message: line.to_string(),
    }
}

async fn list_mine(backend: &impl Backend, p: ListMine) -> ToolResult {
    match backend
        .list(p.status.as_deref(), Some(20), p.cursor.as_deref())
        .await
    {
        Ok(a) if a.status == 200 => {
            let requests: Vec<Value> = a.body["requests"]
                .as_array()
                .map(|l| l.iter().map(summary).collect())
                .unwrap_or_default();
            ToolResult::ok(&json!({"requests": requests, "next_cursor": a.body["next_cursor"]}))
        }
        Ok(a) => api_error(&a),
        Err(e) => ToolResult::message(e),
    }
}

async fn cancel(backend: &impl Backend, p: CancelRequest) -> ToolResult {
    let id = match args::request_id(&p.id) {
        Ok(id) => id,
        Err(e) => return ToolResult::message(e),
    };
    match backend.cancel(id).await {
        Ok(a) if a.status == 200 => ToolResult::ok(&summary(&a.body)),
        Ok(a) => api_error(&a),
        Err(e) => ToolResult::message(e),
    }
}

async fn explain(backend: &impl Backend, p: ExplainCall) -> ToolResult {
    let body = p.body().to_json();
    match backend.explain(&body).await {
        Ok(a) if a.status == 200 => ToolResult::ok(&a.body),
        Ok(a) => api_error(&a),
        Err(e) => ToolResult::message(e),
    }
}
