//! What the tools need from Tollgate: the agent-facing operations of its HTTP API, each
//! answering as the API does. The stdio server reaches them over HTTP with the agent's token;
//! the API's `/mcp` endpoint calls its own handlers with the token the MCP request carried.

use std::future::Future;

use serde_json::Value;

use crate::Answer;

/// What is submitted: one call, or a plan of several.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submission {
    Request,
    Plan,
}

impl Submission {
    /// The API path it is posted to.
    pub fn path(self) -> &'static str {
        match self {
            Submission::Request => "/v1/requests",
            Submission::Plan => "/v1/plans",
        }
    }
}

/// Transport failures are `Err`; every answer the API gives (a 403, a 404) is `Ok`.
pub trait Backend: Sync {
    /// `POST /v1/requests` (one call) or `POST /v1/plans` (a plan).
    fn submit(
        &self,
        kind: Submission,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> impl Future<Output = Result<Answer, String>> + Send;

    /// `GET /v1/requests/{id}?wait=`: returns early when the status or the votes change.
    fn status(&self, id: &str, wait: u64) -> impl Future<Output = Result<Answer, String>> + Send;

    /// `GET /v1/requests?status=&limit=&cursor=`.
    fn list(
        &self,
        status: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<Answer, String>> + Send;

    /// `POST /v1/requests/{id}/cancel`.
    fn cancel(&self, id: &str) -> impl Future<Output = Result<Answer, String>> + Send;

    /// `POST /v1/decisions`.
    fn explain(&self, body: &Value) -> impl Future<Output = Result<Answer, String>> + Send;

    /// Where the request's status is served, for the answer a model reads.
    fn status_url(&self, id: &str) -> String;
}
