//! Casting a vote, whichever way it arrives (CLI bearer token, the approval page, Slack):
//! one conditional write that checks the hash the approver saw, then the workflow is told.

use tollgate_aws::metrics::Unit;
use tollgate_aws::now_ms;
use tollgate_core::record::{Verdict, VoteOutcome};
use tollgate_core::{ApiError, Identity, RequestRecord};

use crate::Api;

impl Api {
    pub(crate) async fn cast_vote(
        &self,
        id: &str,
        approver: &Identity,
        verdict: Verdict,
        comment: Option<String>,
        seen_hash: Option<&str>,
        channel: &'static str,
    ) -> Result<(VoteOutcome, RequestRecord), ApiError> {
        self.cast_vote_with_grant(id, approver, verdict, comment, None, seen_hash, channel)
            .await
    }

    /// [`cast_vote`](Self::cast_vote) with the grant the approver offers; the vote that
    /// reaches quorum records the grant, when every approval offered one.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn cast_vote_with_grant(
        &self,
        id: &str,
        approver: &Identity,
        verdict: Verdict,
        comment: Option<String>,
        grant: Option<tollgate_core::grant::GrantTerms>,
        seen_hash: Option<&str>,
        channel: &'static str,
    ) -> Result<(VoteOutcome, RequestRecord), ApiError> {
        // Sessions and Slack mappings carry identities too: each vote is checked here.
        self.approver_role(approver)?;
        let (outcome, rec) = self
            .store
            .update(id, |rec| {
                rec.check_binding(seen_hash)?;
                rec.vote_with_grant(approver, verdict, comment.clone(), grant, now_ms())
            })
            .await?;
        tracing::info!(request_id = %id, approver = %approver.subject, channel, ?outcome, "vote recorded");
        if outcome == VoteOutcome::Approved {
            let waited = now_ms().saturating_sub(rec.created_at) as f64;
            self.settings
                .metrics
                .put("ApprovalWaitTime", Unit::Milliseconds, waited, &[]);
        }
        if outcome == VoteOutcome::Approved {
            // Before the workflow hears of it: the grant exists once the call may run.
            self.record_grant(&rec).await;
        }
        self.announce_vote(&rec).await;
        self.resume_workflow(&rec, outcome, comment.as_deref())
            .await?;
        Ok((outcome, rec))
    }

    /// Tells the workflow what the vote decided. Only the writer that moved the request does;
    /// if the notifier has not stored the task token yet, it will find the decision and
    /// resume the workflow itself.
    pub(crate) async fn resume_workflow(
        &self,
        rec: &RequestRecord,
        outcome: VoteOutcome,
        comment: Option<&str>,
    ) -> Result<(), ApiError> {
        let Some(token) = &rec.task_token else {
            return Ok(());
        };
        match outcome {
            VoteOutcome::Approved => {
                self.workflow.approve(token, &rec.id).await?;
            }
            VoteOutcome::Rejected => {
                self.workflow
                    .reject(token, comment.unwrap_or("rejected"))
                    .await?;
            }
            VoteOutcome::Recorded => {}
        }
        Ok(())
    }
}

impl Api {
    /// Publishes the vote notice (the Slack message is replaced with the request as it is
    /// now). The vote stands whatever happens here: a notice that is not published is
    /// logged, and the closing notice still ends the story.
    pub(crate) async fn announce_vote(&self, rec: &RequestRecord) {
        let risks = tollgate_catalog::catalog().risks_of(&rec.iam_actions);
        let Some((subject, message)) =
            tollgate_core::notice::vote_notice(rec, &self.approval_link(rec), &risks)
        else {
            return;
        };
        match self.notices.publish(&subject, &message).await {
            Ok(message_id) => {
                tracing::info!(request_id = %rec.id, message_id, "vote notice published")
            }
            Err(e) => {
                tracing::warn!(request_id = %rec.id, error = %e.message, "vote notice not published")
            }
        }
    }
}
