//! What the command prints: JSON (the API's answer, for scripts) or a table for people, and
//! for `tollgate request` by default just the answer (the AWS result, or where to follow a
//! held request). Everything goes through [`line`], so a closed pipe (`tollgate ... | head`)
//! ends the output quietly, as Unix tools do, and the command still finishes and exits with
//! its own code: a vote is recorded whether or not anyone reads the answer.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::{Value, json};
use tollgate_core::Status;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The default: `request` prints the answer; every other verb the API's JSON.
    Answer,
    Json,
    Table,
}

impl Output {
    pub fn parse(s: &str) -> Result<Output, String> {
        match s {
            "json" => Ok(Output::Json),
            "table" => Ok(Output::Table),
            _ => Err(format!("output `{s}`: expected json or table")),
        }
    }
}

static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// One line on standard output. A closed pipe ends the output, not the command; any other
/// write failure is reported once on standard error.
pub fn line(text: std::fmt::Arguments) {
    if STDOUT_CLOSED.load(Ordering::Relaxed) {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            let _ = writeln!(std::io::stderr(), "tollgate: cannot write the output: {e}");
        }
    }
}

/// Prints one answer: a request, a list of requests, or an error.
pub fn print(out: Output, body: &Value) {
    match out {
        Output::Json | Output::Answer => {
            outln!("{}", serde_json::to_string_pretty(body).unwrap_or_default())
        }
        Output::Table => outln!("{}", table(body)),
    }
}

pub use tollgate_mcp::parked;

/// What `tollgate request` prints by default: the AWS result when the call succeeded; for a
/// held request its id, what it waits for and how to follow it; otherwise the whole answer
/// (an error, a rejection with its comment, a failure with the AWS error).
pub fn request_answer(body: &Value) -> Value {
    let status = body["status"].as_str().and_then(Status::parse);
    // A plan run by calls, approved: it waits for the agent's own calls.
    if parked(body)
        && let Some(steps) = tollgate_mcp::plan_steps(body)
    {
        return json!({
            "id": body["id"],
            "status": body["status"],
            "calls_until": body["plan"]["calls_until"],
            "steps": steps,
            "next": "make each step's call, in order, through the front door (eval \"$(tollgate env)\"; then aws ...)",
        });
    }
    // A plan that ran (or stopped) answers with each step.
    if let Some(steps) = tollgate_mcp::plan_steps(body)
        && matches!(status, Some(Status::Succeeded | Status::Failed))
    {
        let mut v = json!({"id": body["id"], "status": body["status"], "steps": steps});
        if let Some(e) = body.get("error").filter(|e| !e.is_null()) {
            v["error"] = e.clone();
        }
        return v;
    }
    match status {
        Some(Status::Succeeded) => body.get("result").cloned().unwrap_or(Value::Null),
        Some(s @ (Status::Pending | Status::Approved | Status::Executing)) => {
            let id = body["id"].as_str().unwrap_or_default();
            let mut v = json!({
                "id": id,
                "status": s,
                "waiting_for": tollgate_mcp::progress_line(body),
                "follow": format!("tollgate status {id} --wait 600"),
                "cancel": format!("tollgate cancel {id}"),
            });
            if let Some(link) = body.pointer("/links/approval") {
                v["approval_page"] = link.clone();
            }
            if let Some(e) = body.get("expires_at").filter(|e| !e.is_null()) {
                v["expires_at"] = e.clone();
            }
            v
        }
        _ => body.clone(),
    }
}

fn table(body: &Value) -> String {
    if let Some(err) = body.get("error") {
        return format!(
            "error: {} ({})",
            err["message"].as_str().unwrap_or(""),
            err["code"].as_str().unwrap_or("")
        );
    }
    if let Some(list) = body.get("requests").and_then(Value::as_array) {
        let mut rows = vec![row_cells(None)];
        rows.extend(list.iter().map(|r| row_cells(Some(r))));
        let mut text = align(&rows);
        if let Some(c) = body.get("next_cursor").and_then(Value::as_str) {
            text.push_str(&format!("\nmore: --cursor {c}"));
        }
        return text;
    }
    if body.get("id").is_some() {
        let mut lines = vec![align(&[row_cells(None), row_cells(Some(body))])];
        for key in ["result", "error"] {
            if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
                lines.push(format!("{key}: {v}"));
            }
        }
        return lines.join("\n");
    }
    serde_json::to_string_pretty(body).unwrap_or_default()
}

fn row_cells(r: Option<&Value>) -> Vec<String> {
    let Some(r) = r else {
        return ["ID", "STATUS", "ACTION", "APPROVALS", "AGENT", "REASON"]
            .map(String::from)
            .to_vec();
    };
    let s = |p: &str| {
        r.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let approvals = r["votes"]
        .as_array()
        .map(|v| v.iter().filter(|v| v["verdict"] == "approve").count())
        .unwrap_or(0);
    let required = r["approvals_required"].as_u64().unwrap_or(0);
    let mut reason = s("/request/reason");
    if reason.chars().count() > 40 {
        reason = reason.chars().take(39).collect::<String>() + "…";
    }
    vec![
        s("/id"),
        s("/status"),
        s("/request/action"),
        format!("{approvals}/{required}"),
        s("/agent/subject"),
        reason,
    ]
}

fn align(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map(Vec::len).unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `tollgate grants`: one line per grant, newest first: id, state, uses, agent, action,
/// resources.
pub fn grant_lines(body: &Value) -> Vec<String> {
    let grants = body["grants"].as_array().cloned().unwrap_or_default();
    if grants.is_empty() {
        return vec!["no grants".to_string()];
    }
    grants
        .iter()
        .map(|g| {
            let resources: Vec<&str> = g["resources"]
                .as_array()
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            format!(
                "{}  {}  {}/{} used  {}  {}  {}",
                g["id"].as_str().unwrap_or("?"),
                g["state"].as_str().unwrap_or("?"),
                g["uses"],
                g["max_uses"],
                g["agent"]["name"].as_str().unwrap_or("?"),
                g["action"].as_str().unwrap_or("?"),
                resources.join(",")
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_answers_with_its_result_or_how_to_follow_it() {
        let done = json!({"id": "01A", "status": "SUCCEEDED", "result": {"TableNames": ["t"]}});
        assert_eq!(request_answer(&done), json!({"TableNames": ["t"]}));
        let held = json!({"id": "01A", "status": "PENDING", "approvals_required": 1, "votes": [],
            "links": {"approval": "http://x/v1/approvals/01A?k=1.s"}});
        let a = request_answer(&held);
        assert_eq!(a["follow"], "tollgate status 01A --wait 600");
        assert_eq!(a["approval_page"], "http://x/v1/approvals/01A?k=1.s");
        assert_eq!(a["waiting_for"], "waiting for approval: 0 of 1");
        let rejected = json!({"id": "01A", "status": "REJECTED", "votes": [{"comment": "no"}]});
        assert_eq!(request_answer(&rejected), rejected);
    }

    #[test]
    fn lists_print_as_aligned_rows() {
        let t = table(&json!({"requests": [
            {"id": "01A", "status": "PENDING", "request": {"action": "dynamodb:DeleteTable", "reason": "drop"},
             "approvals_required": 2, "votes": [{"verdict": "approve"}], "agent": {"subject": "ci"}}
        ], "next_cursor": "1.01A"}));
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("ID   STATUS   ACTION"), "{t}");
        assert!(
            lines[1].starts_with("01A  PENDING  dynamodb:DeleteTable  1/2"),
            "{t}"
        );
        assert_eq!(lines[2], "more: --cursor 1.01A");
        assert_eq!(
            table(&json!({"error": {"code": "not_found", "message": "no request"}})),
            "error: no request (not_found)"
        );
    }

    #[test]
    fn grants_print_one_line_each() {
        let body = json!({"grants": [{"id": "G1", "state": "live", "uses": 1, "max_uses": 3,
            "agent": {"name": "ci-bot"}, "action": "dynamodb:PutItem",
            "resources": ["arn:aws:dynamodb:us-east-1:1:table/t"]}]});
        assert_eq!(
            grant_lines(&body),
            vec![
                "G1  live  1/3 used  ci-bot  dynamodb:PutItem  arn:aws:dynamodb:us-east-1:1:table/t"
            ]
        );
        assert_eq!(grant_lines(&json!({"grants": []})), vec!["no grants"]);
    }
}
