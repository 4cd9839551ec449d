//! Grants (`tollgate_core::grant`): recorded when an approval whose approvers all offered one
//! reaches quorum; used by a new request of the same agent for exactly the same call, which
//! then runs at once as a request of its own; listed (`GET /v1/grants`: an agent its own, an
//! approver those it may see) and revoked (`POST /v1/grants/{id}/revoke`, and the inbox's
//! form, `POST /v1/inbox/grants/{id}/revoke`, with the approval form's checks).

use serde_json::json;
use tollgate_aws::now_ms;
use tollgate_core::grant::{self, Grant, GrantState, Revocation};
use tollgate_core::{ApiError, ErrorCode, Event, Identity, RequestRecord, Status, seal};

use crate::approval_page::{Form, FormPlace, refusal};
use crate::html::{page, request as view};
use crate::{Api, Request, Response};

/// What a CSRF token of a grant's revoke form is bound to, besides the session: never a
/// request id, so a request's token cannot revoke and the other way round.
pub(crate) fn csrf_subject(grant_id: &str) -> String {
    format!("grant:{grant_id}")
}

fn grant_not_found(id: &str) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("no grant with id `{id}`"))
}

impl Api {
    /// After the vote that approved `rec`: records the grant its approvals offered, if any.
    /// The approval stands whatever happens here; a grant that is not recorded only means
    /// the next call needs an approval again.
    pub(crate) async fn record_grant(&self, rec: &RequestRecord) -> Option<Grant> {
        let g = Grant::from_approval(rec, now_ms())?;
        match self.store.put_grant(&g).await {
            Ok(_) => {
                tracing::info!(request_id = %rec.id, grant_id = %g.id, max_uses = g.max_uses, expires_at = g.expires_at, "grant recorded");
                Some(g)
            }
            Err(e) => {
                tracing::error!(request_id = %rec.id, grant_id = %g.id, error = %e.message, "grant not recorded");
                None
            }
        }
    }

    /// A new request that policy holds for approval: when a live grant matches it, one use
    /// is counted (a conditional write) and the request is approved by it; when only ended
    /// grants match, the request notes why none ran it. A policy that allows no grant for
    /// this call now is never overruled by an older grant.
    pub(crate) async fn try_grant(
        &self,
        rec: &mut RequestRecord,
        events: &mut Vec<Event>,
    ) -> Result<(), ApiError> {
        if rec.status != Status::Pending
            || rec.plan.is_some()
            || rec.decision.requires.grant.is_none()
        {
            return Ok(());
        }
        let now = now_ms();
        let grants = self.store.grants().await?;
        let Some((found, state)) = grant::pick(&grants, rec, now) else {
            return Ok(());
        };
        if state != GrantState::Live {
            rec.note_grant_miss(&found.id, state);
            return Ok(());
        }
        match self.store.use_grant(&found.id, now).await? {
            Some(used) => {
                events.push(rec.approve_by_grant(&used, now)?);
                tracing::info!(request_id = %rec.id, grant_id = %used.id, use_number = used.uses, max_uses = used.max_uses, "grant used");
                if used.state(now) == GrantState::UsedUp {
                    self.announce_grant_end(&used, GrantState::UsedUp).await;
                }
            }
            None => {
                // Ended between the read and the use (another use took the last one, or it
                // was revoked): say how it stands now.
                let why =
                    self.store
                        .grant(&found.id)
                        .await?
                        .map_or(GrantState::Revoked, |g| match g.state(now) {
                            GrantState::Live => GrantState::UsedUp,
                            s => s,
                        });
                rec.note_grant_miss(&found.id, why);
            }
        }
        Ok(())
    }

    /// Tells the approvers a grant ended (used up, or expired with uses left).
    pub(crate) async fn announce_grant_end(&self, g: &Grant, why: GrantState) {
        let link = format!(
            "{}/v1/inbox",
            self.settings.public_url.trim_end_matches('/')
        );
        let (subject, message) = grant::ended_notice(g, why, &link);
        match self.notices.publish(&subject, &message).await {
            Ok(message_id) => {
                tracing::info!(grant_id = %g.id, message_id, state = why.describe(), "grant notice published")
            }
            Err(e) => {
                tracing::warn!(grant_id = %g.id, error = %e.message, "grant notice not published")
            }
        }
    }

    /// The grants `who` may see: an agent its own, an approver those of its groups and
    /// those it approved. Newest first.
    pub(crate) async fn visible_grants(
        &self,
        who: &Identity,
        is_approver: bool,
    ) -> Result<Vec<Grant>, ApiError> {
        let mut grants: Vec<Grant> = self
            .store
            .grants()
            .await?
            .into_iter()
            .filter(|g| {
                if is_approver {
                    g.visible_to_approver(who)
                } else {
                    g.agent.same_principal(who)
                }
            })
            .collect();
        grants.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        Ok(grants)
    }

    /// `GET /v1/grants`.
    pub(crate) async fn list_grants(&self, req: &Request) -> Result<Response, ApiError> {
        let (who, is_approver) = self.caller(req).await?;
        let now = now_ms();
        let grants: Vec<serde_json::Value> = self
            .visible_grants(&who.identity, is_approver)
            .await?
            .iter()
            .map(|g| g.view(now))
            .collect();
        Ok(Response::json(200, &json!({"grants": grants})))
    }

    /// `POST /v1/grants/{id}/revoke`: the grant's agent, or an approver who may see it.
    pub(crate) async fn revoke_grant(&self, req: &Request, id: &str) -> Result<Response, ApiError> {
        let (who, is_approver) = self.caller(req).await?;
        let g = self.revoke(&who.identity, is_approver, id).await?;
        Ok(Response::json(200, &g.view(now_ms())))
    }

    /// Revokes the grant in one conditional write; a grant `who` may not revoke answers like a
    /// missing one.
    async fn revoke(&self, who: &Identity, is_approver: bool, id: &str) -> Result<Grant, ApiError> {
        if is_approver {
            self.approver_role(who)?;
        }
        let g = self
            .store
            .grant(id)
            .await?
            .filter(|g| g.revocable_by(who, is_approver))
            .ok_or_else(|| grant_not_found(id))?;
        let by = Revocation {
            by: who.clone(),
            at: now_ms(),
        };
        if !self.store.revoke_grant(id, &by).await? {
            return Err(ApiError::new(
                ErrorCode::AlreadyFinal,
                format!("grant `{id}` is already revoked"),
            ));
        }
        tracing::info!(grant_id = %id, by = %who.subject, "grant revoked");
        Ok(Grant {
            revoked: Some(by),
            ..g
        })
    }

    /// `POST /v1/inbox/grants/{id}/revoke`: the inbox's Revoke button.
    pub(crate) async fn inbox_revoke_form(
        &self,
        req: &Request,
        id: &str,
    ) -> Result<Response, ApiError> {
        let form = Form::read(req)?;
        let place = FormPlace {
            post_to: format!("/v1/inbox/grants/{id}/revoke"),
            back: "/v1/inbox".into(),
            k: None,
            inbox: true,
        };
        let session = match self.form_session(req, id, &place).await? {
            Ok(s) => s,
            Err(refused) => return Ok(refused),
        };
        let csrf = form.field("csrf").unwrap_or("");
        if !seal::csrf_ok_any(&self.keys.csrf, &session.sid, &csrf_subject(id), csrf) {
            tracing::warn!(grant_id = %id, approver = %session.identity.subject, "revoke form without a valid CSRF token refused");
            return Ok(refusal(
                403,
                "csrf: the form's token is missing or not valid for this session. Nothing was recorded.",
                &place.back,
            ));
        }
        match self.revoke(&session.identity, true, id).await {
            Ok(g) => Ok(Response::html(
                200,
                page(
                    "Grant revoked",
                    &view::recorded(
                        &format!(
                            "Grant {} is revoked: the next call needs a new approval.",
                            g.id
                        ),
                        &place.back,
                        false,
                    ),
                ),
            )),
            Err(e) if e.status() < 500 => Ok(refusal(
                e.status(),
                &format!(
                    "{} Nothing was recorded.",
                    crate::html::esc(&tollgate_core::display::sentence(&e.message))
                ),
                &place.back,
            )),
            Err(e) => Err(e),
        }
    }
}
