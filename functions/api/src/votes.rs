//! Approvers: approve or reject a pending request.

use serde_json::Value;
use tollgate_aws::metrics::Unit;
use tollgate_aws::now_ms;
use tollgate_core::record::{Verdict, VoteOutcome};
use tollgate_core::{ApiError, ErrorCode};

use crate::{Api, Request, Response, header};

impl Api {
    pub(crate) async fn vote(
        &self,
        req: &Request,
        id: &str,
        verb: &str,
    ) -> Result<Response, ApiError> {
        let approver = self
            .approvers
            .verify_bearer(header(req, "authorization"))
            .await?;
        let comment = parse_comment(req.body())?;
        let verdict = if verb == "approve" {
            Verdict::Approve
        } else {
            Verdict::Reject
        };
        let (outcome, rec) = self
            .store
            .update(id, |rec| {
                rec.vote(&approver.identity, verdict, comment.clone(), now_ms())
            })
            .await?;
        tracing::info!(request_id = %id, approver = %approver.identity.subject, ?outcome, "vote recorded");
        if outcome == VoteOutcome::Approved {
            let waited = now_ms().saturating_sub(rec.created_at) as f64;
            self.settings
                .metrics
                .put("ApprovalWaitTime", Unit::Milliseconds, waited, &[]);
        }
        // Only the writer that moved the request tells the workflow; if the notifier has not
        // stored the task token yet, it will find the decision and resume the workflow itself.
        if let Some(token) = &rec.task_token {
            match outcome {
                VoteOutcome::Approved => {
                    self.workflow.approve(token, id).await?;
                }
                VoteOutcome::Rejected => {
                    self.workflow
                        .reject(token, comment.as_deref().unwrap_or("rejected"))
                        .await?;
                }
                VoteOutcome::Recorded => {}
            }
        }
        Ok(Response::json(200, &rec.view()))
    }
}

fn parse_comment(body: &[u8]) -> Result<Option<String>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidJson,
            format!("body: not valid JSON ({e})"),
        )
    })?;
    let Value::Object(obj) = v else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    if let Some(k) = obj.keys().find(|k| k.as_str() != "comment") {
        return Err(ApiError::field(
            k.clone(),
            "unknown field; expected `comment`",
        ));
    }
    match obj.get("comment") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(ApiError::field("comment", "must be a string")),
    }
}
