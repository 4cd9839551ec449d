//! The Slack forwarder: subscribed to the approval topic, it posts each approval notice to a
//! Slack channel with Approve / Reject buttons, threads reminders under it, updates the
//! message in place after every vote (the votes so far) and when the request closes (who
//! decided, when, no more buttons) so nobody acts on it twice.
//!
//! Its secret (Secrets Manager, JSON) is either `{"bot_token": "xoxb-...", "channel": "C..."}`
//! (post, thread and update through the Web API) or `{"webhook_url": "https://hooks..."}`
//! (post only: incoming webhooks cannot edit what they posted). The posted message's channel
//! and timestamp are kept next to the request ([`SlackThreads`]) to find it again.

use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;
use tollgate_aws::slack_threads::{Posted, SlackThreads};
use tollgate_core::{ApiError, ErrorCode};

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlackSecret {
    #[serde(default)]
    bot_token: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    webhook_url: Option<String>,
}

// Never printed: the derived Debug would show the token.
impl std::fmt::Debug for SlackSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlackSecret(..)")
    }
}

pub struct Forwarder {
    secrets: aws_sdk_secretsmanager::Client,
    secret_id: String,
    threads: SlackThreads,
    /// Slack's Web API base (`https://slack.com/api`); tests point it at a local receiver.
    api_base: String,
    http: reqwest::Client,
    secret: OnceCell<SlackSecret>,
}

fn failed(what: &str, detail: impl std::fmt::Display) -> ApiError {
    tracing::error!(what, detail = %detail, "slack forwarding failed");
    ApiError::new(ErrorCode::Unavailable, format!("{what} failed"))
}

impl Forwarder {
    pub fn new(
        sdk: &aws_config::SdkConfig,
        secret_id: String,
        table: String,
        api_base: String,
    ) -> Self {
        Self {
            secrets: aws_sdk_secretsmanager::Client::new(sdk),
            secret_id,
            threads: SlackThreads::new(aws_sdk_dynamodb::Client::new(sdk), table),
            api_base: api_base.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            secret: OnceCell::new(),
        }
    }

    async fn secret(&self) -> Result<&SlackSecret, ApiError> {
        self.secret
            .get_or_try_init(|| async {
                let out = self
                    .secrets
                    .get_secret_value()
                    .secret_id(&self.secret_id)
                    .send()
                    .await
                    .map_err(|e| {
                        failed(
                            "Secrets Manager",
                            aws_sdk_secretsmanager::error::DisplayErrorContext(&e),
                        )
                    })?;
                let s: SlackSecret = serde_json::from_str(out.secret_string().unwrap_or(""))
                    .map_err(|e| {
                        failed("the Slack secret", format!("not the expected JSON: {e}"))
                    })?;
                let usable =
                    s.webhook_url.is_some() || (s.bot_token.is_some() && s.channel.is_some());
                if !usable {
                    return Err(failed(
                        "the Slack secret",
                        "needs bot_token and channel, or webhook_url",
                    ));
                }
                Ok(s)
            })
            .await
    }

    /// An SNS event (one or more records); each message is a notice's JSON body.
    pub async fn handle(&self, event: Value) -> Result<Value, ApiError> {
        let records = event["Records"].as_array().cloned().unwrap_or_default();
        let mut done = vec![];
        for r in records {
            let message = r["Sns"]["Message"].as_str().unwrap_or("");
            let notice: Value = serde_json::from_str(message).map_err(|_| {
                ApiError::new(ErrorCode::InvalidRequest, "Sns.Message: not a notice")
            })?;
            done.push(self.forward(&notice).await?);
        }
        Ok(json!({"forwarded": done}))
    }

    pub async fn forward(&self, notice: &Value) -> Result<Value, ApiError> {
        let id = notice["request_id"].as_str().unwrap_or_default();
        let kind = notice["type"].as_str().unwrap_or_default();
        let secret = self.secret().await?;
        let body = json!({"text": notice["text"], "blocks": notice["blocks"]});
        let (Some(token), Some(channel)) = (&secret.bot_token, &secret.channel) else {
            // Webhook mode: post only.
            if let Some(url) = &secret.webhook_url {
                self.http
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| failed("Slack webhook", e.without_url()))?;
            }
            return Ok(json!({"request_id": id, "type": kind, "via": "webhook"}));
        };
        let posted = self.threads.posted(id).await?.map(|p| (p.channel, p.ts));
        match (kind, posted) {
            ("approval_requested", None) => {
                let mut msg = body.clone();
                msg["channel"] = json!(channel);
                let answer = self.call(token, "chat.postMessage", &msg).await?;
                let ts = answer["ts"].as_str().unwrap_or_default().to_string();
                let ch = answer["channel"].as_str().unwrap_or(channel).to_string();
                let posted = Posted {
                    channel: ch,
                    ts: ts.clone(),
                };
                self.threads
                    .remember(id, &posted, tollgate_aws::now_ms())
                    .await?;
                Ok(json!({"request_id": id, "type": kind, "ts": ts}))
            }
            // An SNS redelivery of the first notice: already posted.
            ("approval_requested", Some((_, ts))) => {
                Ok(json!({"request_id": id, "type": kind, "ts": ts, "duplicate": true}))
            }
            // Reminders and break-glass notices: a reply in the request's thread, shown in the
            // channel too.
            ("approval_reminder" | "breakglass_used" | "breakglass_overdue", Some((ch, ts))) => {
                let mut msg = body.clone();
                msg["channel"] = json!(ch);
                msg["thread_ts"] = json!(ts);
                msg["reply_broadcast"] = json!(true);
                self.call(token, "chat.postMessage", &msg).await?;
                Ok(json!({"request_id": id, "type": kind, "thread_ts": ts}))
            }
            // A vote or the close: the message shows the request as it is now, unless a
            // later notice was shown already (SNS does not keep order).
            ("vote_recorded" | "request_closed", Some((ch, ts))) => {
                let seq = notice["seq"].as_u64();
                let newer = match seq {
                    Some(seq) => self.threads.advance(id, seq).await?,
                    // Closing notices from before `seq` was sent always update.
                    None => kind == "request_closed",
                };
                if !newer {
                    return Ok(json!({"request_id": id, "type": kind, "stale": true}));
                }
                let mut msg = body.clone();
                msg["channel"] = json!(ch);
                msg["ts"] = json!(ts);
                self.call(token, "chat.update", &msg).await?;
                Ok(json!({"request_id": id, "type": kind, "updated": ts}))
            }
            // A vote on a message this forwarder never posted: nothing to edit.
            ("vote_recorded", None) => Ok(json!({"request_id": id, "type": kind, "ignored": true})),
            // A reminder or closing notice for a message this forwarder never posted
            // (subscribed later): post it as new.
            (_, None) => {
                let mut msg = body.clone();
                msg["channel"] = json!(channel);
                self.call(token, "chat.postMessage", &msg).await?;
                Ok(json!({"request_id": id, "type": kind}))
            }
            (other, Some(_)) => Ok(json!({"request_id": id, "type": other, "ignored": true})),
        }
    }

    /// One Web API call. Slack answers 200 with `ok: false` for its own errors.
    async fn call(&self, token: &str, method: &str, body: &Value) -> Result<Value, ApiError> {
        let v: Value = self
            .http
            .post(format!("{}/{method}", self.api_base))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .map_err(|e| failed(method, e.without_url()))?
            .json()
            .await
            .map_err(|e| failed(method, e.without_url()))?;
        if v["ok"] != json!(true) {
            return Err(failed(method, v["error"].as_str().unwrap_or("not ok")));
        }
        Ok(v)
    }
}
