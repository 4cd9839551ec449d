//! Answers: JSON (or HTML for the approval page) with the headers every answer carries.

use tollgate_core::ApiError;

#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// Extra headers (`set-cookie`, `location`, `content-security-policy`, `allow`).
    pub headers: Vec<(&'static str, String)>,
}

impl Response {
    pub fn json(status: u16, v: &serde_json::Value) -> Self {
        Self {
            status,
            content_type: "application/json",
            body: v.to_string(),
            headers: vec![],
        }
    }

    pub fn html(status: u16, body: String) -> Self {
        Self {
            status,
            content_type: "text/html; charset=utf-8",
            body,
            // No scripts at all, styles only inline, forms only to this origin.
            headers: vec![
                (
                    "content-security-policy",
                    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'".into(),
                ),
                // With `no-referrer`, browsers send `Origin: null` on form posts, and the
                // page's origin check needs the real one. Same-origin keeps the link key in
                // the URL from leaking to other sites all the same.
                ("referrer-policy", "same-origin".into()),
            ],
        }
    }

    /// `303 See Other` to `location` (a form POST or a sign-in step followed by a GET).
    pub fn redirect(location: String) -> Self {
        Self {
            status: 303,
            content_type: "text/plain; charset=utf-8",
            body: String::new(),
            headers: vec![("location", location)],
        }
    }

    /// A JSON document already serialised.
    pub fn json_text(status: u16, body: String) -> Self {
        Self {
            status,
            content_type: "application/json",
            body,
            headers: vec![],
        }
    }

    /// No body (`202 Accepted` for a notification).
    pub fn empty(status: u16) -> Self {
        Self {
            status,
            content_type: "text/plain; charset=utf-8",
            body: String::new(),
            headers: vec![],
        }
    }

    /// A complete Server-Sent Events stream (answers are buffered end to end on Lambda).
    pub fn event_stream(status: u16, body: String) -> Self {
        Self {
            status,
            content_type: "text/event-stream",
            body,
            headers: vec![("x-accel-buffering", "no".into())],
        }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
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
        if !self.headers.iter().any(|(k, _)| *k == "referrer-policy") {
            b = b.header("referrer-policy", "no-referrer");
        }
        b.status(self.status)
            .header("content-type", self.content_type)
            .header("cache-control", "no-store")
            .header("x-content-type-options", "nosniff")
            .header("x-frame-options", "DENY")
            .body(self.body)
            .unwrap_or_else(|_| http::Response::new(String::new()))
    }
}
