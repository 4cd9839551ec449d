//! `tollgate mcp`: the Model Context Protocol over stdio, so an AI agent calls AWS through
//! Tollgate with tools it can read about. The tools themselves (names, schemas, what they
//! answer) live in `tollgate-mcp`, shared with the API's `/mcp` endpoint; this file is the
//! stdio transport (rmcp) and the HTTP API as their backend.

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ProgressNotificationParam, ServerCapabilities,
    ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::Value;
use tollgate_cli::client::Client;
use tollgate_cli::config::TokenSource;
use tollgate_mcp::{Answer, Backend, CallOptions, Outcome, Progress, Submission, ToolResult};

#[derive(Clone)]
pub struct Tollgate {
    backend: Arc<HttpBackend>,
    max_wait: u64,
    tools: Arc<Vec<Tool>>,
}

/// Tollgate's HTTP API with the agent's token, fetched afresh for every call: a token
/// command runs each time, as CI tokens are short-lived.
struct HttpBackend {
    url: String,
    token: TokenSource,
}

impl HttpBackend {
    fn client(&self) -> Result<Client, String> {
        let token = self
            .token
            .get()?
            .ok_or("no token configured: set TOLLGATE_TOKEN or TOLLGATE_TOKEN_COMMAND")?;
        Ok(Client::new(&self.url, Some(token)))
    }
}

impl Backend for HttpBackend {
    async fn submit(
        &self,
        kind: Submission,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, String> {
        Ok(self
            .client()?
            .submit_to(kind.path(), body, idempotency_key)
            .await?)
    }

    async fn status(&self, id: &str, wait: u64) -> Result<Answer, String> {
        Ok(self.client()?.status(id, wait).await?)
    }

    async fn list(
        &self,
        status: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Answer, String> {
        Ok(self.client()?.list(status, limit, cursor).await?)
    }

    async fn cancel(&self, id: &str) -> Result<Answer, String> {
        Ok(self.client()?.cancel(id).await?)
    }

    async fn explain(&self, body: &Value) -> Result<Answer, String> {
        Ok(self.client()?.explain(body).await?)
    }

    fn status_url(&self, id: &str) -> String {
        Client::new(&self.url, None).request_url(id)
    }
}

impl Tollgate {
    pub fn new(url: String, token: TokenSource, max_wait: u64) -> Self {
        let tools = tollgate_mcp::tools()
            .into_iter()
            .filter_map(|t| serde_json::from_value::<Tool>(t).ok())
            .collect();
        Self {
            backend: Arc::new(HttpBackend { url, token }),
            max_wait,
            tools: Arc::new(tools),
        }
    }
}

impl ServerHandler for Tollgate {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("tollgate", env!("CARGO_PKG_VERSION")))
            .with_instructions(tollgate_mcp::INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.as_ref().clone()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        let name = tollgate_mcp::tool_name(name)?;
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        // Progress goes out as it happens: a forwarder keeps the notifications in order.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Progress>();
        let forwarder = context.meta.get_progress_token().map(|token| {
            let peer = context.peer.clone();
            tokio::spawn(async move {
                while let Some(p) = rx.recv().await {
                    let mut n = ProgressNotificationParam::new(token.clone(), p.progress as f64)
                        .with_message(p.message);
                    if let Some(t) = p.total {
                        n = n.with_total(t as f64);
                    }
                    let _ = peer.notify_progress(n).await;
                }
            })
        });
        let mut report = |p: Progress| {
            let _ = tx.send(p);
        };
        let opts = CallOptions {
            max_wait: self.max_wait,
            tasks: false,
            progress: forwarder
                .is_some()
                .then_some(&mut report as &mut (dyn FnMut(Progress) + Send)),
        };
        let arguments = request.arguments.map(Value::Object);
        let outcome =
            tollgate_mcp::call(self.backend.as_ref(), &request.name, arguments, opts).await;
        drop(tx);
        if let Some(f) = forwarder {
            let _ = f.await;
        }
        let result = match outcome {
            Outcome::Done(r) => r,
            // Not offered on stdio (`tasks: false`); answered as a plain result all the same.
            Outcome::Task(t) => ToolResult::ok(&t),
        };
        Ok(CallToolResponse::Complete(if result.is_error {
            CallToolResult::error(vec![ContentBlock::text(result.text)])
        } else {
            CallToolResult::success(vec![ContentBlock::text(result.text)])
        }))
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
