//! Slack's Web API, for the one thing the API needs from it: the e-mail address of the user
//! who pressed a button (`users.info`, scope `users:read.email`), so approvers can be mapped
//! by address instead of by Slack user id.
//!
//! An address vouches for a person only when the workspace does: the user must be a full
//! member of the configured workspace (not a guest, not a Slack Connect user from another
//! organisation, not a bot, not deactivated) and Slack must have confirmed the address.
//! Anyone can put any address on an account elsewhere.

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

    /// The user's confirmed e-mail address, when they are a full member of `team_id`.
    pub async fn email(&self, user_id: &str, team_id: &str) -> Result<EmailLookup, ApiError> {
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
            Some(true) => Ok(vouched_email(&v["user"], team_id)),
            _ if v["error"] == "user_not_found" => Ok(EmailLookup::Unknown),
            _ => Err(unavailable(v["error"].as_str().unwrap_or("not ok"))),
        }
    }
}

/// What `users.info` says about a user's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmailLookup {
    /// A full member of the workspace with a confirmed address (lower case).
    Confirmed(String),
    /// Slack knows no such user, or no address for them.
    Unknown,
    /// Slack knows them, but their address does not vouch for them here; the reason is for
    /// the log and the clicker.
    Refused(&'static str),
}

fn vouched_email(user: &Value, team_id: &str) -> EmailLookup {
    let flag = |name: &str| user[name].as_bool() == Some(true);
    if user["team_id"].as_str() != Some(team_id) {
        return EmailLookup::Refused("not a member of this workspace");
    }
    if flag("is_restricted") || flag("is_ultra_restricted") {
        return EmailLookup::Refused("a guest account");
    }
    if flag("is_stranger") {
        return EmailLookup::Refused("an external (Slack Connect) user");
    }
    if flag("is_bot") || flag("is_app_user") || flag("deleted") || flag("is_invited_user") {
        return EmailLookup::Refused("not an active person");
    }
    let Some(email) = user["profile"]["email"]
        .as_str()
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| e.contains('@'))
    else {
        return EmailLookup::Unknown;
    };
    // Absent means unconfirmed: fail closed.
    if !flag("is_email_confirmed") {
        return EmailLookup::Refused("an unconfirmed e-mail address");
    }
    EmailLookup::Confirmed(email)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn member() -> Value {
        json!({"id": "U1", "team_id": "T1", "is_email_confirmed": true,
               "profile": {"email": " Bob@Example.com "}})
    }

    #[test]
    fn only_confirmed_full_members_of_the_workspace_vouch() {
        assert_eq!(
            vouched_email(&member(), "T1"),
            EmailLookup::Confirmed("bob@example.com".into())
        );
        assert!(matches!(
            vouched_email(&member(), "T2"),
            EmailLookup::Refused(_)
        ));
        for (k, v) in [
            ("is_restricted", json!(true)),
            ("is_ultra_restricted", json!(true)),
            ("is_stranger", json!(true)),
            ("is_bot", json!(true)),
            ("deleted", json!(true)),
            ("is_email_confirmed", json!(false)),
            ("is_email_confirmed", Value::Null),
        ] {
            let mut u = member();
            u[k] = v;
            assert!(
                matches!(vouched_email(&u, "T1"), EmailLookup::Refused(_)),
                "{k}"
            );
        }
        let mut u = member();
        u["team_id"] = Value::Null;
        assert!(matches!(vouched_email(&u, "T1"), EmailLookup::Refused(_)));
        let mut u = member();
        u["profile"] = json!({});
        assert_eq!(vouched_email(&u, "T1"), EmailLookup::Unknown);
    }
}
