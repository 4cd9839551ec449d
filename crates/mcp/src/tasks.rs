//! Held calls as MCP tasks (the `io.modelcontextprotocol/tasks` extension): a task is the
//! Tollgate request itself, its id the request id. Nothing is kept beside the request, so any
//! server instance answers `tasks/get` and a restart loses nothing; the caller's token decides
//! which tasks it may see, exactly as it decides which requests.

use serde_json::{Value, json};
use tollgate_core::time::iso8601;

use crate::shape::{answer, progress_line};
use crate::{Answer, Backend, args};

/// The extension's identifier, in client and server capabilities.
pub const EXTENSION: &str = "io.modelcontextprotocol/tasks";

/// Approvals take human time: polling more often than this only costs reads.
pub const POLL_INTERVAL_MS: u64 = 5_000;

/// A JSON-RPC error for a task request.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskError {
    pub code: i64,
    pub message: String,
}

const INVALID_PARAMS: i64 = -32602;
const INTERNAL_ERROR: i64 = -32603;

fn mcp_status(request_status: &str) -> &'static str {
    match request_status {
        "PENDING" | "APPROVED" | "EXECUTING" => "working",
        "CANCELLED" => "cancelled",
        // Every other outcome is a tool result (with `isError` for the unsuccessful ones).
        _ => "completed",
    }
}

/// The task for a request (its view, or the 202 answer to its submission).
pub fn task(r: &Value) -> Value {
    let status = r["status"].as_str().unwrap_or("PENDING");
    let created = r["created_at"].as_u64().unwrap_or(0);
    let updated = r["updated_at"].as_u64().unwrap_or(created);
    json!({
        "taskId": r["id"],
        "status": mcp_status(status),
        "statusMessage": progress_line(r),
        "createdAt": iso8601(created),
        "lastUpdatedAt": iso8601(updated),
        // Requests are kept with their audit trail: the task does not lapse.
        "ttlMs": Value::Null,
        "pollIntervalMs": POLL_INTERVAL_MS,
    })
}

fn task_id(params: &Value) -> Result<&str, TaskError> {
    let id = params["taskId"].as_str().ok_or_else(|| TaskError {
        code: INVALID_PARAMS,
        message: "taskId: is required (a string)".into(),
    })?;
    args::request_id(id).map_err(|message| TaskError {
        code: INVALID_PARAMS,
        message,
    })
}

fn not_found(a: &Answer) -> TaskError {
    let why = a
        .body
        .pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("no such task");
    TaskError {
        code: INVALID_PARAMS,
        message: format!("Failed to retrieve task: {why}"),
    }
}

fn unreachable(e: String) -> TaskError {
    TaskError {
        code: INTERNAL_ERROR,
        message: e,
    }
}

/// `tasks/get`: the task now, with the tool result inlined once it is final.
pub async fn get(backend: &impl Backend, params: &Value) -> Result<Value, TaskError> {
    let id = task_id(params)?;
    let a = backend.status(id, 0).await.map_err(unreachable)?;
    if a.status != 200 {
        return Err(not_found(&a));
    }
    let mut t = task(&a.body);
    if t["status"] == "completed" {
        t["result"] = answer(backend, &a).to_json();
    }
    Ok(t)
}

/// `tasks/cancel`: withdraws the request while it waits for approval. Cooperative, as the
/// extension allows: a request already approved or final runs its course, and the
/// acknowledgement is the same.
pub async fn cancel(backend: &impl Backend, params: &Value) -> Result<Value, TaskError> {
    let id = task_id(params)?;
    let a = backend.cancel(id).await.map_err(unreachable)?;
    match (a.status, a.error_code()) {
        (200, _) | (409, _) => Ok(json!({})),
        _ => Err(not_found(&a)),
    }
}

/// `tasks/update`: Tollgate's tasks never ask the client for input, so there is nothing to
/// take; the task must still exist and be the caller's.
pub async fn update(backend: &impl Backend, params: &Value) -> Result<Value, TaskError> {
    let id = task_id(params)?;
    let a = backend.status(id, 0).await.map_err(unreachable)?;
    if a.status != 200 {
        return Err(not_found(&a));
    }
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_map_to_task_states() {
        let r = json!({"id": "01J", "status": "PENDING", "created_at": 0, "updated_at": 61_000,
            "approvals_required": 1, "votes": []});
        let t = task(&r);
        assert_eq!(t["status"], "working");
        assert_eq!(t["createdAt"], "1970-01-01T00:00:00Z");
        assert_eq!(t["lastUpdatedAt"], "1970-01-01T00:01:01Z");
        assert_eq!(t["statusMessage"], "waiting for approval: 0 of 1");
        for (s, want) in [
            ("EXECUTING", "working"),
            ("SUCCEEDED", "completed"),
            ("REJECTED", "completed"),
            ("CANCELLED", "cancelled"),
        ] {
            assert_eq!(
                task(&json!({"id": "x", "status": s}))["status"],
                want,
                "{s}"
            );
        }
    }
}
