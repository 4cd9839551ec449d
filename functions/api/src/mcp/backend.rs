//! The tools' backend inside the API: each operation is the API's own handler, called in
//! process with the MCP request's `Authorization` header, so a tool call is verified,
//! validated, decided and recorded exactly as the same call over `/v1` would be.

use serde_json::Value;
use tollgate_core::ApiError;
use tollgate_mcp::{Answer, Backend, Submission};

use crate::{Api, Request, Response};

pub(crate) struct InProcess<'a> {
    pub api: &'a Api,
    pub authorization: &'a str,
    pub source_ip: &'a str,
}

fn answer(r: Result<Response, ApiError>) -> Answer {
    let r = r.unwrap_or_else(|e| Response::error(&e));
    let body = serde_json::from_str(&r.body).unwrap_or(Value::String(r.body));
    Answer {
        status: r.status,
        body,
    }
}

impl InProcess<'_> {
    fn request(&self, method: &str, uri: &str, body: Vec<u8>) -> Request {
        let mut req = http::Request::new(body);
        *req.method_mut() = method.parse().unwrap_or(http::Method::GET);
        *req.uri_mut() = uri.parse().unwrap_or_default();
        if let Ok(v) = http::HeaderValue::from_str(self.authorization) {
            req.headers_mut().insert(http::header::AUTHORIZATION, v);
        }
        req.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        req
    }
}

impl Backend for InProcess<'_> {
    async fn submit(
        &self,
        kind: Submission,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, String> {
        let mut req = self.request("POST", kind.path(), body.to_string().into_bytes());
        if let Some(k) = idempotency_key {
            let v = http::HeaderValue::from_str(k).map_err(|_| {
                "idempotency_key: must be 1 to 255 printable ASCII characters".to_string()
            })?;
            req.headers_mut().insert("idempotency-key", v);
        }
        Ok(answer(match kind {
            Submission::Request => self.api.submit(&req, self.source_ip).await,
            Submission::Plan => self.api.submit_plan(&req, self.source_ip).await,
        }))
    }

    async fn status(&self, id: &str, wait: u64) -> Result<Answer, String> {
        let req = self.request("GET", &format!("/v1/requests/{id}?wait={wait}"), vec![]);
        Ok(answer(self.api.status(&req, id).await))
    }

    async fn list(
        &self,
        status: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Answer, String> {
        let query = {
            let mut q = url::form_urlencoded::Serializer::new(String::new());
            if let Some(s) = status {
                q.append_pair("status", s);
            }
            if let Some(l) = limit {
                q.append_pair("limit", &l.to_string());
            }
            if let Some(c) = cursor {
                q.append_pair("cursor", c);
            }
            q.finish()
        };
        let req = self.request("GET", &format!("/v1/requests?{query}"), vec![]);
        Ok(answer(self.api.list(&req).await))
    }

    async fn cancel(&self, id: &str) -> Result<Answer, String> {
        let req = self.request("POST", &format!("/v1/requests/{id}/cancel"), vec![]);
        Ok(answer(self.api.cancel(&req, id).await))
    }

    async fn explain(&self, body: &Value) -> Result<Answer, String> {
        let req = self.request("POST", "/v1/explain", body.to_string().into_bytes());
        Ok(answer(self.api.explain(&req, self.source_ip).await))
    }

    fn status_url(&self, id: &str) -> String {
        format!("{}/v1/requests/{id}", self.api.settings.public_url)
    }
}
