//! `POST /v1/requests/{id}/cancel`: the requesting agent withdraws a pending request.

use tollgate_aws::now_ms;
use tollgate_aws::store::not_found;
use tollgate_core::ApiError;

use crate::{Api, Request, Response, header};

impl Api {
    pub(crate) async fn cancel(&self, req: &Request, id: &str) -> Result<Response, ApiError> {
        let agent = self
            .agents
            .verify_bearer(header(req, "authorization"))
            .await?;
        let ((), rec) = self
            .store
            .update(id, |rec| {
                // Someone else's request answers exactly like a missing one.
                if !rec.agent.same_principal(&agent.identity) {
                    return Err(not_found(id));
                }
                Ok(((), rec.cancel(&agent.identity, now_ms())?))
            })
            .await?;
        tracing::info!(request_id = %id, agent = %agent.identity.subject, "request cancelled");
        // The cancellation is recorded whatever happens next: if the token is not stored yet,
        // the notifier finds the request cancelled and ends the workflow itself; if Step
        // Functions is unreachable now, the wait ends at its timeout and changes nothing.
        if let Some(token) = &rec.task_token
            && let Err(e) = self.workflow.cancel(token).await
        {
            tracing::warn!(request_id = %id, error = %e.message, "could not end the approval workflow");
        }
        Ok(Response::json(200, &rec.view()))
    }
}
