//! Typed calls to the HTTP API. Answers come back with their HTTP status and JSON body; only
//! transport failures are errors here, so callers decide what a 403 or a 404 means to them.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
pub use tollgate_core::Status;
pub use tollgate_core::record::Verdict;

pub use tollgate_mcp::{Answer, is_final};

/// Why a call did not get an answer from Tollgate.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach Tollgate: {0}")]
    Unreachable(reqwest::Error),
    #[error("cannot read Tollgate's answer: {0}")]
    Unreadable(reqwest::Error),
    #[error("invalid Tollgate URL: {0}")]
    BadUrl(#[from] url::ParseError),
    #[error("the dev identity provider answered {status}: {body}")]
    NoDevToken { status: u16, body: Value },
}

// Callers that report errors as text (the MCP backend, the demo) keep using `?`.
impl From<ClientError> for String {
    fn from(e: ClientError) -> String {
        e.to_string()
    }
}

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap_or_default(),
            base: base.trim_end_matches('/').to_string(),
            token,
        }
    }

    pub fn with_token(&self, token: String) -> Self {
        Self {
            token: Some(token),
            ..self.clone()
        }
    }

    fn authed(&self, rb: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => rb.bearer_auth(t),
            None => rb,
        }
    }

    async fn send(&self, rb: reqwest::RequestBuilder) -> Result<Answer, ClientError> {
        let resp = self
            .authed(rb)
            .send()
            .await
            .map_err(ClientError::Unreachable)?;
        let status = resp.status().as_u16();
        let text = resp.text().await.map_err(ClientError::Unreadable)?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer { status, body })
    }

    /// Mints a token from the local stack's dev identity provider.
    pub async fn dev_token(&self, sub: &str, approver: bool) -> Result<String, ClientError> {
        self.dev_token_with(&json!({"sub": sub, "approver": approver}))
            .await
    }

    /// Mints a token with any of the dev issuer's options (`shape`, `alg`, `ttl_seconds`,
    /// `groups`, `ref`, ...).
    pub async fn dev_token_with(&self, request: &Value) -> Result<String, ClientError> {
        let a = self
            .send(
                self.http
                    .post(format!("{}/dev-idp/token", self.base))
                    .json(request),
            )
            .await?;
        a.body
            .get("token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or(ClientError::NoDevToken {
                status: a.status,
                body: a.body,
            })
    }

    /// `POST /v1/requests`.
    pub async fn submit(
        &self,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, ClientError> {
        self.submit_to("/v1/requests", body, idempotency_key).await
    }

    /// `POST /v1/plans`: `{"reason", "steps": [...]}`.
    pub async fn submit_plan(
        &self,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, ClientError> {
        self.submit_to("/v1/plans", body, idempotency_key).await
    }

    /// A submission to `path` (`/v1/requests` or `/v1/plans`).
    pub async fn submit_to(
        &self,
        path: &str,
        body: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<Answer, ClientError> {
        let mut rb = self.http.post(format!("{}{path}", self.base)).json(body);
        if let Some(k) = idempotency_key {
            rb = rb.header("idempotency-key", k);
        }
        self.send(rb).await
    }

    /// `POST /v1/credentials`: gateway credentials for the front door, with which a held
    /// call waits up to `wait_seconds` for its decision and every call acts in `target`
    /// (`None`: the `default` target).
    pub async fn credentials(
        &self,
        wait_seconds: u64,
        target: Option<&str>,
    ) -> Result<Answer, ClientError> {
        let mut terms = serde_json::Map::new();
        if wait_seconds > 0 {
            terms.insert("wait_seconds".into(), wait_seconds.into());
        }
        if let Some(t) = target {
            terms.insert("target".into(), t.into());
        }
        let rb = self.http.post(format!("{}/v1/credentials", self.base));
        let rb = if terms.is_empty() {
            rb
        } else {
            rb.json(&terms)
        };
        self.send(rb).await
    }

    /// `GET /v1/requests/{id}`, holding up to `wait` seconds for a change.
    pub async fn status(&self, id: &str, wait: u64) -> Result<Answer, ClientError> {
        let mut url = self.request_url(id);
        if wait > 0 {
            url.push_str(&format!("?wait={wait}"));
        }
        self.send(self.http.get(url)).await
    }

    /// Long-polls until the request is final or `limit` passes; `on_change` sees each new
    /// status.
    pub async fn wait_final(
        &self,
        id: &str,
        limit: Duration,
        mut on_change: impl FnMut(&str),
    ) -> Result<Answer, ClientError> {
        let start = Instant::now();
        let mut last = String::new();
        loop {
            let remaining = limit.saturating_sub(start.elapsed()).as_secs().min(20);
            let a = self.status(id, remaining).await?;
            let st = a.request_status().unwrap_or("").to_string();
            if st != last {
                on_change(&st);
                last = st.clone();
            }
            if a.status != 200 || is_final(&st) || start.elapsed() >= limit {
                return Ok(a);
            }
        }
    }

    /// `GET /v1/requests`: an agent's own requests, or an approver's queue.
    pub async fn list(
        &self,
        status: Option<&str>,
        limit: Option<u32>,
        cursor: Option<&str>,
    ) -> Result<Answer, ClientError> {
        let mut url = url::Url::parse(&format!("{}/v1/requests", self.base))?;
        {
            let mut q = url.query_pairs_mut();
            if let Some(s) = status {
                q.append_pair("status", s);
            }
            if let Some(l) = limit {
                q.append_pair("limit", &l.to_string());
            }
            if let Some(c) = cursor {
                q.append_pair("cursor", c);
            }
        }
        let url = url.as_str().trim_end_matches('?').to_string();
        self.send(self.http.get(url)).await
    }

    /// `POST /v1/requests/{id}/cancel`.
    pub async fn cancel(&self, id: &str) -> Result<Answer, ClientError> {
        self.send(self.http.post(format!(
            "{}/v1/requests/{}/cancel",
            self.base,
            path_segment(id)
        )))
        .await
    }

    /// `POST /v1/explain`: what Tollgate would do with a call, recording nothing.
    pub async fn explain(&self, body: &Value) -> Result<Answer, ClientError> {
        self.send(
            self.http
                .post(format!("{}/v1/explain", self.base))
                .json(body),
        )
        .await
    }

    /// The URL of a request's status, as the API serves it.
    pub fn request_url(&self, id: &str) -> String {
        format!("{}/v1/requests/{}", self.base, path_segment(id))
    }

    /// `POST /v1/requests/{id}/approve` or `/reject`.
    pub async fn vote(
        &self,
        id: &str,
        verdict: Verdict,
        comment: Option<&str>,
    ) -> Result<Answer, ClientError> {
        let verb = match verdict {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
        };
        let body = match comment {
            Some(c) => json!({"comment": c}),
            None => json!({}),
        };
        self.send(
            self.http
                .post(format!("{}/{verb}", self.request_url(id)))
                .json(&body),
        )
        .await
    }

    /// `POST /v1/requests/{id}/breakglass`: approve alone, as a member of the request's
    /// break-glass group, with a justification, for exactly the request with `request_hash`.
    pub async fn break_glass(
        &self,
        id: &str,
        justification: &str,
        request_hash: &str,
    ) -> Result<Answer, ClientError> {
        let body = json!({"breakglass": true, "justification": justification, "request_hash": request_hash});
        self.send(
            self.http
                .post(format!("{}/breakglass", self.request_url(id)))
                .json(&body),
        )
        .await
    }

    /// `POST /v1/requests/{id}/approve` offering a grant: the same call may run again up to
    /// `uses` times within `minutes`.
    pub async fn approve_with_grant(
        &self,
        id: &str,
        uses: u64,
        minutes: u64,
        comment: Option<&str>,
    ) -> Result<Answer, ClientError> {
        let mut body = json!({"grant_uses": uses, "grant_minutes": minutes});
        if let Some(c) = comment {
            body["comment"] = json!(c);
        }
        self.send(
            self.http
                .post(format!("{}/approve", self.request_url(id)))
                .json(&body),
        )
        .await
    }

    /// `POST /v1/requests/{id}/acknowledge`: a second approver acknowledges a break-glass use.
    pub async fn acknowledge(&self, id: &str) -> Result<Answer, ClientError> {
        self.send(
            self.http
                .post(format!("{}/acknowledge", self.request_url(id)))
                .json(&json!({})),
        )
        .await
    }

    /// `GET /v1/grants`: an agent's own grants, or those an approver may see.
    pub async fn grants(&self) -> Result<Answer, ClientError> {
        self.send(self.http.get(format!("{}/v1/grants", self.base)))
            .await
    }

    /// `POST /v1/grants/{id}/revoke`.
    pub async fn revoke_grant(&self, id: &str) -> Result<Answer, ClientError> {
        self.send(self.http.post(format!(
            "{}/v1/grants/{}/revoke",
            self.base,
            path_segment(id)
        )))
        .await
    }

    /// Notices the local stack received through SNS.
    pub async fn local_outbox(&self) -> Result<Vec<Value>, ClientError> {
        let a = self
            .send(self.http.get(format!("{}/local/outbox", self.base)))
            .await?;
        Ok(a.body.as_array().cloned().unwrap_or_default())
    }
}

/// An id as one path segment: whatever an agent or a model passes cannot reach another route.
fn path_segment(id: &str) -> String {
    percent_encoding::utf8_percent_encode(id, percent_encoding::NON_ALPHANUMERIC).to_string()
}
