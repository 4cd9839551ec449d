//! Slack's Web API, for the one thing the API needs from it: the e-mail address of the user
//! who pressed a button (`users.info`, scope `users:read.email`), so approvers can be mapped
//! by address instead of by Slack user id.

use serde_json::Value;
use tollgate_core::{ApiError, ErrorCode};

pub struct SlackUsers {
    http: reqwest::Client,
    api_base: String,
    bot_token: String,
}

impl std::fmt::Debug for SlackUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlackUsers(..)") // never the token
    }
}

impl SlackUsers {
    pub fn new(api_base: &str, bot_token: String) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(3))
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
            api_base: api_base.trim_end_matches('/').to_string(),
            bot_token,
        }
    }

    /// The user's e-mail address, or `None` when Slack has none for them.
    pub async fn email(&self, user_id: &str) -> Result<Option<String>, ApiError> {
        let unavailable = |detail: &str| {
            tracing::warn!(detail, "slack users.info failed");
            ApiError::new(ErrorCode::Unavailable, "Slack is unavailable; try again")
        };
        let v: Value = self
            .http
            .get(format!(
                "{}/users.info?{}",
                self.api_base,
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("user", user_id)
                    .finish()
            ))
            .bearer_auth(&self.bot_token)
            .send()
            .await
            .map_err(|_| unavailable("transport"))?
            .json()
            .await
            .map_err(|_| unavailable("not JSON"))?;
        match v["ok"].as_bool() {
            Some(true) => Ok(v["user"]["profile"]["email"]
                .as_str()
                .map(|e| e.trim().to_ascii_lowercase())),
            _ if v["error"] == "user_not_found" => Ok(None),
            _ => Err(unavailable(v["error"].as_str().unwrap_or("not ok"))),
        }
    }
}
