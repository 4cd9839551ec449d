//! `/mcp`: the Model Context Protocol over Streamable HTTP, for agents that cannot run
//! `tollgate mcp` (hosted assistants). Same tools, same answers (both from `tollgate-mcp`),
//! each tool call served by the API's own handlers with the caller's agent token.
//!
//! Stateless by design: API Gateway and Lambda hold no connection open and buffer every answer
//! (29 s at most), and every fact a session would keep is already in the request records. So
//! no session id is minted, GET (a server-initiated stream) and DELETE (ending a session)
//! answer 405, a held call returns within a bounded wait, and a task is the request itself.

mod auth;
mod backend;
mod rpc;

use serde_json::Value;
use tollgate_core::{ApiError, ErrorCode};

use crate::{Api, Request, Response, header};
use backend::InProcess;
use rpc::Reply;

impl Api {
    /// `POST /mcp`.
    pub(crate) async fn mcp(&self, req: &Request, source_ip: &str) -> Response {
        // DNS rebinding: a browser page on another origin must not reach this endpoint.
        if let Some(origin) = header(req, "origin")
            && origin != self.public_origin()
        {
            return Response::error(&ApiError::new(
                ErrorCode::Forbidden,
                "Origin: requests from other sites are not accepted",
            ));
        }
        let authorization = header(req, "authorization");
        if let Err(e) = self.agents.verify_bearer(authorization).await {
            return self.challenge(&e, authorization.is_some());
        }
        if !header(req, "content-type")
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("application/json"))
        {
            return Response::error(&ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "content-type: must be application/json",
            ));
        }
        let accept = header(req, "accept").unwrap_or("*/*").to_ascii_lowercase();
        let json_ok = accept.contains("application/json") || accept.contains("*/*");
        let sse_ok = accept.contains("text/event-stream");
        if !json_ok && !sse_ok {
            return Response::error(&ApiError::new(
                ErrorCode::InvalidRequest,
                "accept: must list application/json and text/event-stream",
            ))
            .with_status(406);
        }
        let reply = match serde_json::from_slice::<Value>(req.body()) {
            Err(e) => Reply::parse_error(format!("body: not JSON: {e}")),
            Ok(message) => {
                let backend = InProcess {
                    api: self,
                    authorization: authorization.unwrap_or_default(),
                    source_ip,
                };
                rpc::handle(req, message, &backend).await
            }
        };
        encode(reply, json_ok, sse_ok)
    }

    /// `GET` and `DELETE /mcp`: no server-initiated stream, no session to end.
    pub(crate) fn mcp_other(&self, method: &str) -> Response {
        Response::error(&ApiError::new(
            ErrorCode::MethodNotAllowed,
            format!("{method} is not allowed on /mcp: this server is stateless; POST each message"),
        ))
        .with_header("allow", "POST")
    }
}

/// One JSON object, or an SSE stream when there are notifications to send before the
/// response and the client takes a stream (or when it takes nothing else).
fn encode(reply: Reply, json_ok: bool, sse_ok: bool) -> Response {
    let Some(response) = reply.response else {
        return Response::empty(reply.status);
    };
    let stream = sse_ok && (!json_ok || !reply.notifications.is_empty());
    if !stream {
        return Response::json(reply.status, &response);
    }
    let mut body = String::new();
    for m in reply.notifications.iter().chain([&response]) {
        body.push_str("event: message\ndata: ");
        body.push_str(&m.to_string());
        body.push_str("\n\n");
    }
    Response::event_stream(reply.status, body)
}
