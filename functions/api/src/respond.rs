//! Answers: JSON (or HTML for the approval page) with the headers every answer carries.

use tollgate_core::ApiError;

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    pub fn json(status: u16, v: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: v.to_string(),
        }
    }

    pub fn html(status: u16, body: String) -> Self {
        Self {
            status,
            content_type: "text/html; charset=utf-8",
            body,
        }
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
        http::Response::builder()
            .status(self.status)
            .header("content-type", self.content_type)
            .header("cache-control", "no-store")
            .header("x-content-type-options", "nosniff")
            .header("referrer-policy", "no-referrer")
            .header("x-frame-options", "DENY")
            .body(self.body)
            .unwrap_or_else(|_| http::Response::new(String::new()))
    }
}
