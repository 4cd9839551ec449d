//! What a model reads back: a request without the audit internals, and, while a human has
//! not decided, what it waits for and exactly how to ask again.

use serde_json::{Value, json};

use crate::tools::POLL_SECONDS;
use crate::{Answer, Backend, ToolResult, is_final};

/// A request as a model needs it.
pub fn summary(r: &Value) -> Value {
    let mut v = json!({
        "id": r["id"],
        "status": r["status"],
        "action": r.pointer("/request/action").cloned().unwrap_or(Value::Null),
        "region": r.pointer("/request/region").cloned().unwrap_or(Value::Null),
        "reason": r.pointer("/request/reason").cloned().unwrap_or(Value::Null),
        "approvals_required": r["approvals_required"],
    });
    v["votes"] = json!(
        r["votes"]
            .as_array()
            .map(|votes| votes
                .iter()
                .map(|x| json!({"approver": x.pointer("/approver/subject"), "verdict": x["verdict"], "comment": x["comment"]}))
                .collect::<Vec<_>>())
            .unwrap_or_default()
    );
    for key in ["result", "error", "expires_at"] {
        if let Some(x) = r.get(key).filter(|x| !x.is_null()) {
            v[key] = x.clone();
        }
    }
    if let Some(steps) = plan_steps(r) {
        v["steps"] = steps;
    }
    v
}

/// A plan's steps as a model or a person follows them: each step's action and status, with
/// its answer or error once it has one. `None` for a single call.
pub fn plan_steps(r: &Value) -> Option<Value> {
    let steps = r.pointer("/plan/steps")?.as_array()?;
    Some(Value::Array(
        steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut step = json!({
                    "step": i,
                    "action": s.pointer("/request/action"),
                    "status": s["status"],
                });
                for key in ["result", "error"] {
                    if let Some(x) = s.get(key).filter(|x| !x.is_null()) {
                        step[key] = x.clone();
                    }
                }
                step
            })
            .collect(),
    ))
}

/// Approvals so far, of those required.
pub fn approvals(r: &Value) -> (u64, u64) {
    let have = r["votes"]
        .as_array()
        .map(|v| v.iter().filter(|v| v["verdict"] == "approve").count() as u64)
        .unwrap_or(0);
    (have, r["approvals_required"].as_u64().unwrap_or(0))
}

/// One line for a person: `PENDING: 1 of 2 approvals (from group dba)`.
pub fn progress_line(r: &Value) -> String {
    let status = r["status"].as_str().unwrap_or("?");
    match status {
        "PENDING" => {
            let (have, need) = approvals(r);
            let group = r
                .pointer("/decision/approvers")
                .and_then(Value::as_str)
                .map(|g| format!(" from group {g}"))
                .unwrap_or_default();
            format!("waiting for approval: {have} of {need}{group}")
        }
        "APPROVED" => "approved; about to run".into(),
        "EXECUTING" => "approved; running".into(),
        other => other.to_ascii_lowercase(),
    }
}

/// A request answer as a tool result: final outcomes and pending requests are results; a
/// refusal (denied, not found, invalid) is a tool error with the API's message.
pub fn answer(backend: &impl Backend, a: &Answer) -> ToolResult {
    if !(200..300).contains(&a.status) {
        return api_error(a);
    }
    let mut v = summary(&a.body);
    if parked(&a.body) {
        v["calls_until"] = a.body["plan"]["calls_until"].clone();
    }
    match a.request_status() {
        Some(s @ ("PENDING" | "APPROVED" | "EXECUTING")) => {
            let id = a.body["id"].as_str().unwrap_or_default();
            v["status_url"] = json!(backend.status_url(id));
            if let Some(link) = a.body.pointer("/links/approval").and_then(Value::as_str) {
                v["approval_page"] = json!(link);
            }
            if s == "PENDING" {
                let (have, need) = approvals(&a.body);
                v["waiting_for"] = json!({
                    "approvals_required": need,
                    "approvals_so_far": have,
                    "approver_group": a.body.pointer("/decision/approvers"),
                    "until": a.body.get("expires_at"),
                });
            }
            v["ask_again"] = json!({
                "tool": "request_status",
                "arguments": {"id": id, "wait_seconds": POLL_SECONDS},
            });
            v["retry_after_seconds"] = json!(0);
            v["next_step"] = json!(if parked(&a.body) {
                "Approved. Nothing has run yet: make each step's call yourself, in order, exactly as the plan has it (a `$ref` replaced by the value from the earlier answer), through the front door (your AWS CLI or SDK with the credentials of `tollgate env`), before `plan.calls_until`. Each such call runs as its step without a new approval; any other call is handled as usual."
            } else if s == "PENDING" {
                "Nothing has run yet: a human must approve this call first. Tell the user what you asked for and why (approvers can open approval_page). Then call request_status with ask_again's arguments; each call waits up to 20 s and returns as soon as something changes, so call it again while the status is PENDING, or do other work and check later. Use cancel_request if the call is no longer needed. Do not submit the same call again."
            } else {
                "Approved and running: call request_status with ask_again's arguments for the result."
            });
        }
        Some("SUCCEEDED") | None => {}
        Some(other) => {
            // FAILED, REJECTED, EXPIRED, CANCELLED: an outcome the agent must not take as success.
            return ToolResult::error(&json!({"outcome": other, "request": v}));
        }
    }
    ToolResult::ok(&v)
}

pub fn api_error(a: &Answer) -> ToolResult {
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
    ToolResult::error(&v)
}

/// Whether there is nothing more to wait for: a refusal, or a request that is final. (A
/// submission's 202 is a request that waits.)
pub fn settled(a: &Answer) -> bool {
    !(200..300).contains(&a.status) || a.request_status().is_some_and(is_final) || parked(&a.body)
}

/// Whether `r` is a plan run by calls that is approved (parked): it waits for the agent's own
/// calls through the front door, not for anything Tollgate does.
pub fn parked(r: &Value) -> bool {
    r["status"] == "EXECUTING" && r.pointer("/plan/calls_until").is_some_and(|v| !v.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_lines_count_approvals_and_name_the_group() {
        let r = json!({"status": "PENDING", "approvals_required": 2,
            "decision": {"approvers": "dba"}, "votes": [{"verdict": "approve"}]});
        assert_eq!(
            progress_line(&r),
            "waiting for approval: 1 of 2 from group dba"
        );
        assert_eq!(progress_line(&json!({"status": "SUCCEEDED"})), "succeeded");
    }
}
