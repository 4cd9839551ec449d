//! Answers: JSON (or HTML for the approval page) with the headers every answer carries.

use tollgate_core::ApiError;

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// Extra headers, e.g. `Allow` on a 405.
    pub headers: Vec<(&'static str, String)>,
}

impl Response {
    pub fn json(status: u16, v: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: v.to_string(),
            headers: Vec::new(),
        }
    }

    pub fn html(status: u16, body: String) -> Self {
        Self {
            status,
            content_type: "text/html; charset=utf-8",
            body,
            headers: Vec::new(),
        }
    }

    /// A JSON document already serialised.
    pub fn json_text(status: u16, body: String) -> Self {
        Self {
            status,
            content_type: "application/json",
            body,
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn error(e: &ApiError) -> Self {
        if e.status() >= 500 {
            tracing::error!(code = ?e.code, detail = %e.message, "request failed");
        } else {
            tracing::info!(code = ?e.code, status = e.status(), detail = %e.message, "request refused");
        }
        Self::json(e.status(), &e.body())
    }

    /// As an `http::Response`, with headers that keep answers out of caches and frames.
    pub fn into_http(self) -> http::Response<String> {
        let mut b = http::Response::builder();
        for (k, v) in &self.headers {
            b = b.header(*k, v);
        }
        b.status(self.status)
            .header("content-type", self.content_type)
            .header("cache-control", "no-store")
            .header("x-content-type-options", "nosniff")
            .header("referrer-policy", "no-referrer")
            .header("x-frame-options", "DENY")
            .body(self.body)
            .unwrap_or_else(|_| http::Response::new(String::new()))
    }
}
