//! `POST /v1/slack/actions`: Approve / Reject buttons pressed in Slack. Slack signs every
//! request with the app's signing secret; an unsigned, wrongly signed or stale request is
//! refused before its body is read. The Slack user maps to an approver identity by
//! configuration, and the vote goes through exactly the checks the page's vote does.

use serde_json::{Value, json};
use tollgate_aws::slack_users::{EmailLookup, SlackUsers};
use tollgate_core::record::{Verdict, VoteOutcome};
use tollgate_core::{ApiError, ErrorCode, Identity, slack};

use crate::{Api, Request, Response, header};

impl Api {
    pub(crate) async fn slack_action(&self, req: &Request) -> Result<Response, ApiError> {
        let Some(app) = &self.keys.slack else {
            return Err(ApiError::new(
                ErrorCode::NotFound,
                "Slack actions are not configured (TOLLGATE_SLACK_ACTIONS_SECRET)",
            ));
        };
        let now_s = tollgate_aws::now_ms() / 1000;
        slack::verify(
            app.signing_secret.as_bytes(),
            header(req, "x-slack-request-timestamp"),
            header(req, "x-slack-signature"),
            req.body(),
            now_s,
        )
        .map_err(|e| {
            ApiError::new(ErrorCode::Unauthorized, e.message())
                .with_detail(json!({"reason": "slack_signature"}))
        })?;
        let payload = url::form_urlencoded::parse(req.body())
            .find(|(k, _)| k == "payload")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| ApiError::field("payload", "is required"))?;
        let payload: Value = serde_json::from_str(&payload)
            .map_err(|_| ApiError::field("payload", "must be JSON"))?;
        let user = payload["user"]["id"]
            .as_str()
            .ok_or_else(|| ApiError::field("payload.user.id", "is required"))?;
        let action = &payload["actions"][0];
        let verdict = match action["action_id"].as_str() {
            Some("approve") => Verdict::Approve,
            Some("reject") => Verdict::Reject,
            // The Review button only opens the link; Slack still reports the click.
            Some("open") => return Ok(Response::json(200, &json!({}))),
            _ => {
                return Err(ApiError::field(
                    "payload.actions[0].action_id",
                    "must be `approve` or `reject`",
                ));
            }
        };
        let (id, hash) = action["value"]
            .as_str()
            .and_then(|v| v.split_once('|'))
            .ok_or_else(|| {
                ApiError::field("payload.actions[0].value", "must be `<request id>|<hash>`")
            })?;
        let approver = match self.slack_approver(user).await? {
            Mapped::Approver(a) => a,
            Mapped::Unlinked => {
                tracing::info!(slack_user = user, "slack user is not a configured approver");
                return Ok(ephemeral(
                    "Your Slack account is not linked to an approver identity; nothing was recorded. Use the Review link.",
                ));
            }
            Mapped::Refused(why) => {
                tracing::warn!(
                    slack_user = user,
                    why,
                    "slack user refused for e-mail mapping"
                );
                return Ok(ephemeral(&format!(
                    "Your Slack account cannot act as an approver here: it is {why}. Nothing was recorded; use the Review link."
                )));
            }
        };
        let approver = &approver;
        let comment = (verdict == Verdict::Reject).then(|| {
            format!(
                "rejected in Slack by {}",
                payload["user"]["username"].as_str().unwrap_or(user)
            )
        });
        match self
            .cast_vote(id, approver, verdict, comment, Some(hash), "slack")
            .await
        {
            // Final: replace the message so nobody else acts on it.
            Ok((VoteOutcome::Approved | VoteOutcome::Rejected, rec)) => Ok(Response::json(
                200,
                &json!({"replace_original": true, "text": format!("{} is {}", rec.request.action, rec.status), "blocks": slack::closed_blocks(&rec)}),
            )),
            Ok((VoteOutcome::Recorded, rec)) => Ok(ephemeral(&format!(
                "Your approval is recorded: {} of {} needed.",
                rec.approvers().len(),
                rec.decision.required_approvals()
            ))),
            // Slack shows only answers with status 200; refusals go back as a message.
            Err(e) if e.status() < 500 => Ok(ephemeral(&format!(
                "{} Nothing was recorded.",
                tollgate_core::display::sentence(&e.message)
            ))),
            Err(e) => Err(e),
        }
    }
}

/// Whom a Slack user acts as.
enum Mapped {
    Approver(Identity),
    Unlinked,
    /// Slack knows the user, but their address does not vouch for them (why).
    Refused(&'static str),
}

impl Api {
    /// The approver a Slack user acts as: by Slack user id, else by the e-mail address Slack
    /// has for them (when a bot token allows looking it up), and only for a full member of
    /// the configured workspace whose address Slack has confirmed. The address found is the
    /// identity's human key unless the mapping names one, so a vote in Slack and one on the
    /// page by the same person count once.
    async fn slack_approver(&self, user: &str) -> Result<Mapped, ApiError> {
        let map = &self.settings.slack_approvers;
        let with_human = |mut id: Identity, email: Option<String>| {
            id.human = id.human.or(email).map(|h| h.trim().to_lowercase());
            id
        };
        if let Some(id) = map.get(user) {
            return Ok(Mapped::Approver(with_human(id.clone(), None)));
        }
        let Some((token, team)) = self
            .keys
            .slack
            .as_ref()
            .and_then(|a| Some((a.bot_token.clone()?, a.team_id.as_deref()?)))
        else {
            return Ok(Mapped::Unlinked);
        };
        let users = SlackUsers::new(&self.settings.slack_api_url, token);
        Ok(match users.email(user, team).await? {
            EmailLookup::Confirmed(email) => map.get(&email).map_or(Mapped::Unlinked, |id| {
                Mapped::Approver(with_human(id.clone(), Some(email.clone())))
            }),
            EmailLookup::Unknown => Mapped::Unlinked,
            EmailLookup::Refused(why) => Mapped::Refused(why),
        })
    }
}

fn ephemeral(text: &str) -> Response {
    Response::json(
        200,
        &json!({"response_type": "ephemeral", "replace_original": false, "text": text}),
    )
}
