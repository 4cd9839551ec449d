//! JSON-RPC for the Streamable HTTP transport: one message per POST, answered with one JSON
//! object (or an SSE stream when a tool call reports progress). Stateless in both protocol
//! eras the clients speak: the `initialize` handshake of 2025-03-26 to 2025-11-25 (no session
//! id is minted) and the per-request envelope of 2026-07-28, whose headers must match the body.
//!
//! Written by hand against the specification's types rather than with rmcp's model: the
//! handful of messages served here are a few hundred lines, while rmcp's typed message enums
//! bring every method's (de)serialiser into the API binary.

use base64::Engine;
use serde_json::{Map, Value, json};
use tollgate_mcp::tasks::{self, EXTENSION, TaskError};
use tollgate_mcp::{CallOptions, Outcome, Progress};

use super::backend::InProcess;
use crate::{Request, header};

/// The per-request-envelope versions.
pub(crate) const MODERN: [&str; 1] = ["2026-07-28"];
/// The `initialize` versions, newest first (the counter-offer is the first).
pub(crate) const HANDSHAKE: [&str; 3] = ["2025-11-25", "2025-06-18", "2025-03-26"];

const PARSE_ERROR: i64 = -32700;
const INVALID_REQUEST: i64 = -32600;
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;
const HEADER_MISMATCH: i64 = -32020;
const MISSING_CAPABILITY: i64 = -32021;
const UNSUPPORTED_VERSION: i64 = -32022;

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// How long `aws_call` waits for a decision here: a buffered answer through API Gateway
/// must be complete within 29 s, and the submission itself may have run the call.
pub(crate) const MAX_WAIT_SECONDS: u64 = 15;

/// What to send back: an HTTP status and the messages, the JSON-RPC response last.
pub(crate) struct Reply {
    pub status: u16,
    /// Notifications sent before the response (progress).
    pub notifications: Vec<Value>,
    /// `None` for an accepted notification (202, no body).
    pub response: Option<Value>,
}

impl Reply {
    fn error(status: u16, id: Value, code: i64, message: impl Into<String>) -> Self {
        Self::error_data(status, id, code, message, None)
    }

    fn error_data(
        status: u16,
        id: Value,
        code: i64,
        message: impl Into<String>,
        data: Option<Value>,
    ) -> Self {
        let mut error = json!({"code": code, "message": message.into()});
        if let Some(d) = data {
            error["data"] = d;
        }
        let mut response = json!({"jsonrpc": "2.0", "error": error});
        if !id.is_null() {
            response["id"] = id;
        }
        Self {
            status,
            notifications: vec![],
            response: Some(response),
        }
    }

    fn result(id: Value, result: Value) -> Self {
        Self {
            status: 200,
            notifications: vec![],
            response: Some(json!({"jsonrpc": "2.0", "id": id, "result": result})),
        }
    }

    pub(crate) fn parse_error(message: impl Into<String>) -> Self {
        Self::error(400, Value::Null, PARSE_ERROR, message)
    }
}

/// The protocol era of one request.
enum Era {
    Handshake,
    Modern { tasks: bool },
}

/// A header value under the base64 sentinel encoding (`=?base64?...?=`), decoded.
fn header_value(raw: &str) -> Option<String> {
    match raw
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .and_then(|b| String::from_utf8(b).ok()),
        None => Some(raw.to_string()),
    }
}

fn all_versions() -> Vec<&'static str> {
    MODERN.iter().chain(HANDSHAKE.iter()).copied().collect()
}

/// Handles one parsed JSON-RPC message.
pub(crate) async fn handle(req: &Request, message: Value, backend: &InProcess<'_>) -> Reply {
    let Value::Object(msg) = message else {
        return Reply::error(
            400,
            Value::Null,
            INVALID_REQUEST,
            "body: must be one JSON-RPC message (an object); batches are not accepted",
        );
    };
    if msg.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Reply::error(
            400,
            Value::Null,
            INVALID_REQUEST,
            "jsonrpc: must be \"2.0\"",
        );
    }
    let Some(method) = msg.get("method").and_then(Value::as_str) else {
        // A response from the client: this server never asks the client anything.
        if msg.contains_key("result") || msg.contains_key("error") {
            return Reply::accepted();
        }
        return Reply::error(400, Value::Null, INVALID_REQUEST, "method: is required");
    };
    let Some(id) = msg.get("id").cloned() else {
        // A notification (`notifications/initialized`, `notifications/cancelled`, ...).
        return Reply::accepted();
    };
    if !(id.is_string() || id.is_i64() || id.is_u64()) {
        return Reply::error(
            400,
            Value::Null,
            INVALID_REQUEST,
            "id: must be a string or an integer",
        );
    }
    let params = match msg.get("params") {
        None => Value::Object(Map::new()),
        Some(p @ Value::Object(_)) => p.clone(),
        // JSON-RPC 2.0: params, when present, are structured; MCP's are objects.
        Some(_) => return Reply::error(400, id, INVALID_PARAMS, "params: must be an object"),
    };
    let era = match era(req, method, &params) {
        Ok(e) => e,
        Err(reply) => return reply.with_id(id),
    };
    let modern = matches!(era, Era::Modern { .. });
    // Never the arguments: they may carry secrets (the API masks them where it records them).
    tracing::info!(
        mcp_method = %shown(method),
        tool = %params["name"].as_str().map(shown).unwrap_or_default(),
        modern,
        "mcp request"
    );
    let mut reply = dispatch(method, &params, id.clone(), &era, backend).await;
    if modern {
        decorate(&mut reply);
    }
    reply
}

impl Reply {
    fn accepted() -> Self {
        Self {
            status: 202,
            notifications: vec![],
            response: None,
        }
    }

    fn with_id(mut self, id: Value) -> Self {
        if let Some(r) = self.response.as_mut() {
            r["id"] = id;
        }
        self
    }
}

/// Which era the request speaks, with the checks that era requires of its headers.
fn era(req: &Request, method: &str, params: &Value) -> Result<Era, Reply> {
    let header_version = header(req, "mcp-protocol-version");
    let meta = params.get("_meta");
    let meta_version = meta
        .and_then(|m| m.get(META_VERSION))
        .and_then(Value::as_str);
    let mismatch = |m: String| Reply::error(400, Value::Null, HEADER_MISMATCH, m);
    let is_modern = meta_version.is_some() || header_version.is_some_and(|v| MODERN.contains(&v));
    if !is_modern {
        // Handshake era: the header (absent on `initialize` and from 2025-03-26 clients)
        // names a version this server negotiates.
        return match header_version {
            Some(v) if method != "initialize" && !HANDSHAKE.contains(&v) => Err(Reply::error_data(
                400,
                Value::Null,
                UNSUPPORTED_VERSION,
                format!("MCP-Protocol-Version: `{}` is not supported", shown(v)),
                Some(json!({"supported": all_versions(), "requested": v})),
            )),
            _ => Ok(Era::Handshake),
        };
    }
    let Some(version) = meta_version else {
        return Err(mismatch(format!(
            "params._meta: `{META_VERSION}` is required with MCP-Protocol-Version `{}`",
            shown(header_version.unwrap_or(""))
        )));
    };
    match header_version {
        None => return Err(mismatch("MCP-Protocol-Version: header is required".into())),
        Some(h) if h != version => {
            return Err(mismatch(format!(
                "MCP-Protocol-Version: header `{}` does not match the body's `{}`",
                shown(h),
                shown(version)
            )));
        }
        Some(_) => {}
    }
    if !MODERN.contains(&version) {
        return Err(Reply::error_data(
            400,
            Value::Null,
            UNSUPPORTED_VERSION,
            format!("protocol version `{}` is not supported", shown(version)),
            Some(json!({"supported": all_versions(), "requested": version})),
        ));
    }
    match header(req, "mcp-method") {
        Some(m) if m == method => {}
        Some(m) => {
            return Err(mismatch(format!(
                "Mcp-Method: header `{}` does not match the body's `{}`",
                shown(m),
                shown(method)
            )));
        }
        None => return Err(mismatch("Mcp-Method: header is required".into())),
    }
    // The name an intermediary may route on must be the one executed.
    let body_name = match method {
        "tools/call" => params.get("name").and_then(Value::as_str),
        m if m.starts_with("tasks/") => params.get("taskId").and_then(Value::as_str),
        _ => None,
    };
    let header_name = header(req, "mcp-name").map(header_value);
    match (body_name, header_name) {
        (_, Some(None)) => {
            return Err(mismatch(
                "Mcp-Name: header is not valid base64-encoded UTF-8".into(),
            ));
        }
        (Some(b), Some(Some(h))) if b != h => {
            return Err(mismatch(format!(
                "Mcp-Name: header `{}` does not match the body's `{}`",
                shown(&h),
                shown(b)
            )));
        }
        (Some(_), None) if method == "tools/call" => {
            return Err(mismatch(
                "Mcp-Name: header is required for tools/call".into(),
            ));
        }
        _ => {}
    }
    // Capabilities are declared per request and never inferred from an earlier one.
    let tasks = meta
        .and_then(|m| m.get(META_CAPABILITIES))
        .and_then(|c| c.get("extensions"))
        .and_then(|e| e.get(EXTENSION))
        .is_some();
    Ok(Era::Modern { tasks })
}

/// At most 64 characters of something the caller sent, for an error message.
fn shown(s: &str) -> String {
    s.chars().take(64).collect()
}

fn server_info() -> Value {
    json!({"name": "tollgate", "title": "Tollgate", "version": env!("CARGO_PKG_VERSION")})
}

async fn dispatch(
    method: &str,
    params: &Value,
    id: Value,
    era: &Era,
    backend: &InProcess<'_>,
) -> Reply {
    let modern = matches!(era, Era::Modern { .. });
    match method {
        "initialize" if !modern => {
            let asked = params["protocolVersion"].as_str().unwrap_or("");
            let version = HANDSHAKE
                .iter()
                .find(|v| **v == asked)
                .unwrap_or(&HANDSHAKE[0]);
            Reply::result(
                id,
                json!({
                    "protocolVersion": version,
                    "capabilities": {"tools": {"listChanged": false}},
                    "serverInfo": server_info(),
                    "instructions": tollgate_mcp::INSTRUCTIONS,
                }),
            )
        }
        "server/discover" if modern => Reply::result(
            id,
            json!({
                "supportedVersions": MODERN,
                "capabilities": {"tools": {"listChanged": false}, "extensions": {EXTENSION: {}}},
                "instructions": tollgate_mcp::INSTRUCTIONS,
                "ttlMs": 3_600_000,
                "cacheScope": "public",
            }),
        ),
        "ping" => Reply::result(id, json!({})),
        "tools/list" => {
            let mut result = json!({"tools": tollgate_mcp::tools()});
            if modern {
                // The same for every caller, and fixed for a deployed version.
                result["ttlMs"] = json!(3_600_000);
                result["cacheScope"] = json!("public");
            }
            Reply::result(id, result)
        }
        "tools/call" => call_tool(params, id, era, backend).await,
        "tasks/get" | "tasks/cancel" | "tasks/update" => match era {
            Era::Handshake => {
                Reply::error(200, id, METHOD_NOT_FOUND, format!("no method `{method}`"))
            }
            Era::Modern { tasks: false } => Reply::error_data(
                400,
                id,
                MISSING_CAPABILITY,
                format!("{method}: the client must declare the `{EXTENSION}` extension"),
                Some(json!({"requiredCapabilities": {"extensions": {EXTENSION: {}}}})),
            ),
            Era::Modern { tasks: true } => {
                let r = match method {
                    "tasks/get" => tasks::get(backend, params).await,
                    "tasks/cancel" => tasks::cancel(backend, params).await,
                    _ => tasks::update(backend, params).await,
                };
                match r {
                    Ok(result) => Reply::result(id, result),
                    Err(TaskError { code, message }) => Reply::error(200, id, code, message),
                }
            }
        },
        other => Reply::error(
            if modern { 404 } else { 200 },
            id,
            METHOD_NOT_FOUND,
            format!("no method `{}`", shown(other)),
        ),
    }
}

async fn call_tool(params: &Value, id: Value, era: &Era, backend: &InProcess<'_>) -> Reply {
    let Some(name) = params["name"].as_str() else {
        return Reply::error(
            200,
            id,
            INVALID_PARAMS,
            "name: is required (the tool's name)",
        );
    };
    if tollgate_mcp::tool_name(name).is_none() {
        return Reply::error(200, id, INVALID_PARAMS, tollgate_mcp::no_such_tool(name));
    }
    let token = params
        .pointer("/_meta/progressToken")
        .filter(|t| t.is_string() || t.is_i64() || t.is_u64())
        .cloned();
    let mut notifications = Vec::new();
    let mut report = |p: Progress| {
        if let Some(t) = &token {
            let mut n = json!({"progressToken": t, "progress": p.progress, "message": p.message});
            if let Some(total) = p.total {
                n["total"] = json!(total);
            }
            notifications
                .push(json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": n}));
        }
    };
    let opts = CallOptions {
        max_wait: MAX_WAIT_SECONDS,
        tasks: matches!(era, Era::Modern { tasks: true }),
        progress: Some(&mut report as &mut (dyn FnMut(Progress) + Send)),
    };
    let outcome = tollgate_mcp::call(backend, name, params.get("arguments").cloned(), opts).await;
    let result = match outcome {
        Outcome::Done(r) => r.to_json(),
        Outcome::Task(mut t) => {
            t["resultType"] = json!("task");
            t
        }
    };
    let mut reply = Reply::result(id, result);
    reply.notifications = notifications;
    reply
}

/// Every result of the per-request era says its type and who answered.
fn decorate(reply: &mut Reply) {
    let Some(result) = reply.response.as_mut().and_then(|r| r.get_mut("result")) else {
        return;
    };
    if result.get("resultType").is_none() {
        result["resultType"] = json!("complete");
    }
    let mut meta = result
        .get("_meta")
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    meta[META_SERVER_INFO] = server_info();
    result["_meta"] = meta;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut r = http::Request::new(vec![]);
        for (k, v) in headers {
            r.headers_mut().insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        r
    }

    fn code(r: Result<Era, Reply>) -> i64 {
        match r {
            Ok(_) => 0,
            Err(reply) => reply.response.unwrap()["error"]["code"].as_i64().unwrap(),
        }
    }

    #[test]
    fn modern_requests_must_say_the_same_in_headers_and_body() {
        let params = |v: &str| json!({"name": "aws_call", "_meta": {META_VERSION: v, META_CAPABILITIES: {}}});
        let good = [
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "aws_call"),
        ];
        assert_eq!(
            code(era(&request(&good), "tools/call", &params("2026-07-28"))),
            0
        );
        // Each header missing, then each wrong.
        for i in 0..good.len() {
            let mut h = good.to_vec();
            h.remove(i);
            assert_eq!(
                code(era(&request(&h), "tools/call", &params("2026-07-28"))),
                HEADER_MISMATCH,
                "without {}",
                good[i].0
            );
            let mut h = good.to_vec();
            h[i].1 = "other";
            assert_eq!(
                code(era(&request(&h), "tools/call", &params("2026-07-28"))),
                HEADER_MISMATCH,
                "a different {}",
                good[i].0
            );
        }
        let future = [
            ("mcp-protocol-version", "2099-01-01"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "aws_call"),
        ];
        assert_eq!(
            code(era(&request(&future), "tools/call", &params("2099-01-01"))),
            UNSUPPORTED_VERSION
        );
        // The header says modern, the body carries no version.
        assert_eq!(
            code(era(
                &request(&good),
                "tools/call",
                &json!({"name": "aws_call"})
            )),
            HEADER_MISMATCH
        );
    }

    #[test]
    fn handshake_requests_name_a_version_this_server_speaks() {
        let p = json!({});
        assert_eq!(code(era(&request(&[]), "tools/list", &p)), 0);
        let ok = [("mcp-protocol-version", "2025-06-18")];
        assert_eq!(code(era(&request(&ok), "tools/list", &p)), 0);
        let old = [("mcp-protocol-version", "2024-11-05")];
        assert_eq!(
            code(era(&request(&old), "tools/list", &p)),
            UNSUPPORTED_VERSION
        );
        // `initialize` negotiates whatever the header said.
        assert_eq!(code(era(&request(&old), "initialize", &p)), 0);
    }

    #[test]
    fn tasks_need_the_extension_declared_in_this_request() {
        let h = [
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tasks/get"),
            ("mcp-name", "01J"),
        ];
        let with = json!({"taskId": "01J", "_meta": {META_VERSION: "2026-07-28",
            META_CAPABILITIES: {"extensions": {EXTENSION: {}}}}});
        assert!(matches!(
            era(&request(&h), "tasks/get", &with),
            Ok(Era::Modern { tasks: true })
        ));
        let without = json!({"taskId": "01J", "_meta": {META_VERSION: "2026-07-28"}});
        assert!(matches!(
            era(&request(&h), "tasks/get", &without),
            Ok(Era::Modern { tasks: false })
        ));
        let other = json!({"taskId": "01K", "_meta": {META_VERSION: "2026-07-28"}});
        assert_eq!(
            code(era(&request(&h), "tasks/get", &other)),
            HEADER_MISMATCH
        );
    }

    #[test]
    fn sentinel_header_values_decode() {
        assert_eq!(header_value("aws_call").as_deref(), Some("aws_call"));
        assert_eq!(
            header_value("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(),
            Some("Hello, 世界")
        );
        assert_eq!(header_value("=?base64?!!!?="), None);
    }
}
