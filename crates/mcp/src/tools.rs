//! The tools as `tools/list` describes them. The descriptions are written for a model: what
//! the tool does, what comes back, and what to do while a human decides.

use serde_json::{Value, json};

/// Longest one status read holds: the API's long-poll limit.
pub const POLL_SECONDS: u64 = 20;

pub const INSTRUCTIONS: &str = "Tollgate performs AWS API calls for you, under policy. \
You hold no AWS credentials: call `aws_call` instead. Reads usually run at once. Writes, \
deletions and permission changes often need a human to approve them first, so `aws_call` \
may return a PENDING request instead of a result: tell the user what you asked for and why, \
then follow it with `request_status` (it waits up to 20 s per call) or move on and check \
later; never submit the same call again while it is pending. Use `explain_call` first to \
see whether a call would run now, need approval or be denied, and which parameters it needs. \
A denial is final: do not retry it with small changes.";

const AWS_CALL: &str = "Perform one AWS API call through Tollgate. Reads (List/Describe/Get) usually run at once and return the AWS result. Writes, deletions and permission changes may need a human to approve them: then the call comes back with status PENDING, the request id, what it waits for (how many approvals, from which group, until when), a link approvers can open, and `ask_again` — the exact request_status call to make next. Nothing has run yet: tell the user, and keep calling request_status until the status is final (SUCCEEDED with the result, or REJECTED/EXPIRED/FAILED/CANCELLED); do not submit the same call again. Clients that support MCP tasks get a task instead, which completes when the approvers decide. Give a clear `reason` for any write: approvers decide on it. A denial comes back as an error and is final.";

const AWS_PLAN: &str = "Submit several AWS API calls as one plan, approved once and run in order, stopping at the first step that fails (the rest are not run). Use it for a sequence a human should see whole: create, copy, switch, delete. Each step is what `aws_call` takes (action, params, region, target); the plan has one `reason`. A step may use a string from an earlier step's answer: put `{\"$ref\": \"steps[0].answer.TableDescription.TableArn\"}` where the value goes (only earlier steps; only for values that do not say what the step acts on, such as an attribute or a tag value). If any step would be denied, the plan is denied and the error names the step. If every step is allowed it runs at once; otherwise it comes back PENDING like a held `aws_call`: follow it with `request_status` (the answer lists each step's status and answer).";

const REQUEST_STATUS: &str = "The status of a request made with `aws_call`: PENDING (waiting for human approval), APPROVED/EXECUTING (running), or final — SUCCEEDED (with the AWS result), FAILED (with the AWS error), DENIED, REJECTED (with the approver's comment), EXPIRED, CANCELLED. With `wait_seconds` (up to 20) it returns as soon as the status changes or a vote arrives. While it is PENDING, call again with the same id (the answer's `ask_again`); approvals take minutes or hours, so between calls you may tell the user and do other work.";

const LIST_MY_REQUESTS: &str = "Your requests, newest first, optionally only those with one status (e.g. `pending` to see what still waits for a human). Pass `next_cursor` back as `cursor` for more.";

const CANCEL_REQUEST: &str = "Withdraw one of your requests that is still waiting for approval (status PENDING). Approvers are no longer asked; the request ends CANCELLED and never runs.";

const EXPLAIN_CALL: &str = "Plan before asking: for an AWS operation, its IAM access level (List, Read, Write, Tagging, Permissions management), what Tollgate's policy would decide for you right now (allow, approval with how many approvers, or deny, and why), and the operation's required and accepted parameters. Records nothing and runs nothing.";

/// The tools' names, as `tools/list` gives them.
pub const TOOL_NAMES: [&str; 6] = [
    "aws_call",
    "aws_plan",
    "request_status",
    "list_my_requests",
    "cancel_request",
    "explain_call",
];

/// Tools renamed, by old name: clients configured with the old name keep working, though
/// `tools/list` offers only the new one. `explain_call` was `describe_action` (one name for the
/// dry run: the API's `POST /v1/explain`).
const OLD_TOOL_NAMES: [(&str, &str); 1] = [("describe_action", "explain_call")];

/// The tool a name calls: its own name, or the new name of a renamed tool.
pub fn tool_name(name: &str) -> Option<&'static str> {
    TOOL_NAMES.into_iter().find(|t| *t == name).or_else(|| {
        OLD_TOOL_NAMES
            .into_iter()
            .find(|(old, _)| *old == name)
            .map(|(_, new)| new)
    })
}

/// The refusal for a name that calls no tool.
pub fn no_such_tool(name: &str) -> String {
    let shown: String = name.chars().take(64).collect();
    format!(
        "name: no tool `{shown}`; the tools are {}",
        TOOL_NAMES.join(", ")
    )
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

fn params(description: &str) -> Value {
    json!({"type": "object", "additionalProperties": true, "description": description})
}

fn object(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

fn tool(name: &str, title: &str, description: &str, input: Value, read_only: bool) -> Value {
    json!({
        "name": name,
        "title": title,
        "description": description,
        "inputSchema": input,
        "annotations": {
            "title": title,
            "readOnlyHint": read_only,
            "destructiveHint": !read_only,
            "idempotentHint": read_only,
            "openWorldHint": matches!(name, "aws_call" | "aws_plan"),
        },
    })
}

/// Every tool, in a fixed order (clients cache the list).
pub fn tools() -> Vec<Value> {
    let action = string(
        "The AWS API operation as `service:Operation`, e.g. `dynamodb:ListTables`, `s3:PutObject`, `ec2:DescribeInstances`.",
    );
    let region = string("AWS region; Tollgate's default region when omitted.");
    let target = string("The configured target account, when there is more than one.");
    let id = string("The request id `aws_call` returned.");
    vec![
        tool(
            "aws_call",
            "Call AWS through Tollgate",
            AWS_CALL,
            object(
                json!({
                    "action": action,
                    "params": params("The operation's parameters, named as in the AWS API reference (e.g. `{\"TableName\": \"orders\"}`)."),
                    "region": region,
                    "reason": string("Why you need this call. Required for calls that need approval: the approvers read it."),
                    "target": target,
                    "wait_seconds": {"type": "integer", "minimum": 0, "description": "Seconds to wait for a final answer, approval included, before returning the pending request (capped by the server; default: the server's setting)."},
                    "idempotency_key": string("Makes a retry of the same call return the first call's request instead of a second one."),
                }),
                &["action"],
            ),
            false,
        ),
        tool(
            "aws_plan",
            "Run a plan of AWS calls through Tollgate",
            AWS_PLAN,
            object(
                json!({
                    "steps": {"type": "array", "minItems": 1, "description": "The calls, in the order they run; each an object with `action` and optionally `params`, `region`, `target`.", "items": {"type": "object", "additionalProperties": true}},
                    "reason": string("Why you need these calls. Required when any step needs approval: the approvers read it."),
                    "run": {"type": "string", "enum": ["at_once", "by_calls"], "description": "`at_once` (default): once approved, every step runs in order at once. `by_calls`: once approved, each step runs when you make exactly its call yourself through the front door (an AWS CLI or SDK with `tollgate env` credentials), in order, within `window_seconds`; any other call goes the usual way."},
                    "window_seconds": {"type": "integer", "minimum": 5, "maximum": 86400, "description": "With `run: by_calls`: how long after the approval the calls may come (default 3600)."},
                    "wait_seconds": {"type": "integer", "minimum": 0, "description": "Seconds to wait for a final answer, approval included, before returning the pending plan (capped by the server)."},
                    "idempotency_key": string("Makes a retry of the same plan return the first plan's request instead of a second one."),
                }),
                &["steps"],
            ),
            false,
        ),
        tool(
            "request_status",
            "Follow a request",
            REQUEST_STATUS,
            object(
                json!({
                    "id": id,
                    "wait_seconds": {"type": "integer", "minimum": 0, "maximum": POLL_SECONDS, "description": "Seconds to wait for the status to change or a vote to arrive (0-20, default 0)."},
                }),
                &["id"],
            ),
            true,
        ),
        tool(
            "list_my_requests",
            "List your requests",
            LIST_MY_REQUESTS,
            object(
                json!({
                    "status": string("Only requests with this status: pending, approved, executing, succeeded, failed, denied, rejected, expired, cancelled."),
                    "cursor": string("The `next_cursor` of a previous answer, for the next page."),
                }),
                &[],
            ),
            true,
        ),
        tool(
            "cancel_request",
            "Withdraw a pending request",
            CANCEL_REQUEST,
            object(
                json!({"id": string("The id of your pending request.")}),
                &["id"],
            ),
            false,
        ),
        tool(
            "explain_call",
            "Plan an AWS call",
            EXPLAIN_CALL,
            object(
                json!({
                    "action": string("The AWS API operation as `service:Operation`."),
                    "params": params("Parameters you plan to pass; with them the policy decision covers the exact resources."),
                    "region": region,
                    "target": target,
                }),
                &["action"],
            ),
            true,
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args;
    use serde::de::DeserializeOwned;

    /// The fields serde accepts, read from its own "expected one of" message.
    fn accepted<T: DeserializeOwned + std::fmt::Debug>() -> Vec<String> {
        let e = args::parse::<T>(Some(json!({"zz_not_a_field": 1}))).unwrap_err();
        let list = e.split("expected one of ").nth(1).unwrap_or_else(|| {
            e.split("expected ")
                .nth(1)
                .expect("serde names the expected fields")
        });
        list.replace(" or ", ", ")
            .split(", ")
            .map(|f| f.trim_matches(|c| c == '`' || c == ' ').to_string())
            .collect()
    }

    #[test]
    fn schemas_name_exactly_the_fields_the_tools_accept() {
        let by_name: std::collections::BTreeMap<String, Value> = tools()
            .into_iter()
            .map(|t| (t["name"].as_str().unwrap().to_string(), t))
            .collect();
        let fields = |tool: &str| -> Vec<String> {
            let mut f: Vec<String> = by_name[tool]["inputSchema"]["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            f.sort();
            f
        };
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        assert_eq!(fields("aws_call"), sorted(accepted::<args::AwsCall>()));
        assert_eq!(fields("aws_plan"), sorted(accepted::<args::AwsPlan>()));
        assert_eq!(
            fields("request_status"),
            sorted(accepted::<args::RequestStatus>())
        );
        assert_eq!(
            fields("cancel_request"),
            sorted(accepted::<args::CancelRequest>())
        );
        assert_eq!(
            fields("list_my_requests"),
            sorted(accepted::<args::ListMine>())
        );
        assert_eq!(
            fields("explain_call"),
            sorted(accepted::<args::ExplainCall>())
        );
        assert_eq!(by_name.len(), 6);
        let listed: Vec<&str> = by_name.keys().map(String::as_str).collect();
        assert_eq!(listed, sorted(TOOL_NAMES.map(String::from).to_vec()));
    }

    #[test]
    fn old_tool_names_call_the_renamed_tool() {
        assert_eq!(tool_name("explain_call"), Some("explain_call"));
        assert_eq!(tool_name("describe_action"), Some("explain_call"));
        assert_eq!(tool_name("aws_call"), Some("aws_call"));
        assert_eq!(tool_name("Aws_call"), None);
        assert!(no_such_tool("x").ends_with("cancel_request, explain_call"));
    }
}
