//! Break-glass, whichever way it arrives (the approver API, the approval page, the inbox):
//! the approver's role, one conditional write under the rules in `tollgate_core::breakglass`,
//! then everything loud at once: the notice to every approver, the alarm topic, a metric and
//! a warning in the log. Acknowledgements by a second approver likewise.

use serde_json::{Value, json};
use tollgate_aws::metrics::Unit;
use tollgate_aws::now_ms;
use tollgate_core::breakglass::{Loud, notice};
use tollgate_core::record::VoteOutcome;
use tollgate_core::{ApiError, ErrorCode, Identity, RequestRecord};

use crate::{Api, Request, Response};

impl Api {
    /// Approves `id` alone on `approver`'s break-glass word.
    pub(crate) async fn cast_break_glass(
        &self,
        id: &str,
        approver: &Identity,
        justification: Option<&str>,
        seen_hash: &str,
        channel: &'static str,
    ) -> Result<RequestRecord, ApiError> {
        self.approver_role(approver)?;
        // Never quietly: without the alarm topic there is nobody to tell.
        let Some(alarms) = &self.alarms else {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "break-glass is off in this deployment: TOLLGATE_ALARM_TOPIC_ARN is not set",
            ));
        };
        let window_ms = self.settings.breakglass_ack_seconds.saturating_mul(1000);
        let ((), rec) = self
            .store
            .update(id, |rec| {
                rec.check_binding(Some(seen_hash))?;
                let events = rec.break_glass(approver, justification, now_ms(), window_ms)?;
                Ok(((), events))
            })
            .await?;
        let used = rec.breakglass.as_ref();
        tracing::warn!(
            request_id = %id,
            approver = %approver.subject,
            channel,
            groups = ?rec.decision.breakglass.as_ref().map(|g| &g.groups),
            acknowledge_by = used.map(|u| u.acknowledge_by),
            event = "breakglass_used",
            "break-glass approval"
        );
        self.settings
            .metrics
            .put("BreakGlassUsed", Unit::Count, 1.0, &[]);
        self.announce_break_glass(&rec, alarms.as_ref()).await;
        self.announce_vote(&rec).await;
        self.resume_workflow(&rec, VoteOutcome::Approved, None)
            .await?;
        Ok(rec)
    }

    /// The break-glass notice to every approver (the approval topic) and to the alarm topic.
    /// The approval stands whatever happens here; a notice not published is logged as an
    /// error and counted (`BreakGlassNoticeFailed`), and the `BreakGlassUsed` metric's own
    /// alarm still fires.
    async fn announce_break_glass(
        &self,
        rec: &RequestRecord,
        alarms: &dyn tollgate_aws::ports::Publisher,
    ) {
        let Some((subject, message)) = notice(rec, &self.inbox_link(rec), Loud::Used) else {
            return;
        };
        let (to_approvers, to_alarms) = tokio::join!(
            self.notices.publish(&subject, &message),
            alarms.publish(&subject, &message)
        );
        for (topic, sent) in [("approval", to_approvers), ("alarm", to_alarms)] {
            match sent {
                Ok(message_id) => {
                    tracing::info!(request_id = %rec.id, topic, message_id, "break-glass notice published")
                }
                Err(e) => {
                    tracing::error!(request_id = %rec.id, topic, error = %e.message, "break-glass notice not published");
                    self.settings
                        .metrics
                        .put("BreakGlassNoticeFailed", Unit::Count, 1.0, &[]);
                }
            }
        }
    }

    /// Where approvers review and acknowledge a break-glass use: the request's inbox page
    /// (an approval link lapses with the request's approval window, the acknowledgement
    /// window does not).
    pub(crate) fn inbox_link(&self, rec: &RequestRecord) -> String {
        format!("{}/v1/inbox/{}", self.settings.public_url, rec.id)
    }

    /// Records `who`'s acknowledgement of the break-glass use on `id`.
    pub(crate) async fn acknowledge(
        &self,
        id: &str,
        who: &Identity,
        channel: &'static str,
    ) -> Result<RequestRecord, ApiError> {
        self.approver_role(who)?;
        let ((), rec) = self
            .store
            .update(id, |rec| {
                Ok(((), rec.acknowledge_breakglass(who, now_ms())?))
            })
            .await?;
        tracing::info!(request_id = %id, approver = %who.subject, channel, event = "breakglass_acknowledged", "break-glass use acknowledged");
        Ok(rec)
    }

    /// `POST /v1/requests/{id}/breakglass`: `{"breakglass": true, "justification": "...",
    /// "request_hash": "..."}` with an approver's bearer token.
    pub(crate) async fn break_glass_api(
        &self,
        req: &Request,
        id: &str,
    ) -> Result<Response, ApiError> {
        let approver = self.verify_approver(req).await?;
        let obj =
            crate::body::object(req.body(), &["breakglass", "justification", "request_hash"])?;
        if obj.get("breakglass") != Some(&Value::Bool(true)) {
            return Err(ApiError::field(
                "breakglass",
                "must be true: breaking glass approves the request alone, and is asked for explicitly",
            ));
        }
        let justification = match obj.get("justification") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(ApiError::field("justification", "must be a string")),
        };
        let seen = crate::votes::request_hash(&obj)?.ok_or_else(|| {
            ApiError::field(
                "request_hash",
                "is required to break glass: the hash of the request you reviewed",
            )
        })?;
        let rec = self
            .cast_break_glass(id, &approver.identity, justification, &seen, "api")
            .await?;
        Ok(Response::json(200, &rec.view()))
    }

    /// `POST /v1/requests/{id}/acknowledge`: a second approver acknowledges a break-glass use.
    pub(crate) async fn acknowledge_api(
        &self,
        req: &Request,
        id: &str,
    ) -> Result<Response, ApiError> {
        let approver = self.verify_approver(req).await?;
        crate::body::object(req.body(), &[])?;
        let rec = self.acknowledge(id, &approver.identity, "api").await?;
        Ok(Response::json(200, &json!(rec.view())))
    }
}
