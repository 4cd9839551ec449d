//! Which role a bearer token speaks for, and who counts as an approver. The role follows from
//! the token's issuer and audience alone (no issuer and audience serve both roles, checked at
//! start), so a token that fails as an agent's is never tried as an approver's.

use serde_json::json;
use tollgate_aws::oidc::Verified;
use tollgate_core::{ApiError, ErrorCode, Identity};

use crate::{Api, Request, header};

impl Api {
    /// The caller's verified identity, and whether it is an approver rather than an agent.
    pub(crate) async fn caller(&self, req: &Request) -> Result<(Verified, bool), ApiError> {
        let auth = header(req, "authorization");
        match (self.agents.addressed(auth), self.approvers.addressed(auth)) {
            // Only a token naming several audiences can get here.
            (true, true) => Err(ApiError::new(
                ErrorCode::Unauthorized,
                "token audiences name both an agent and an approver audience; use a token for one role",
            )
            .with_detail(json!({"reason": "ambiguous_role"}))),
            (false, true) => Ok((self.verify_approver(req).await?, true)),
            // Anything else is verified as an agent's, and fails as one.
            _ => Ok((self.agents.verify_bearer(auth).await?, false)),
        }
    }

    /// A verified approver token whose holder is in one of its issuer's approver groups.
    pub(crate) async fn verify_approver(&self, req: &Request) -> Result<Verified, ApiError> {
        let v = self
            .approvers
            .verify_bearer(header(req, "authorization"))
            .await?;
        self.approver_role(&v.identity)?;
        Ok(v)
    }

    /// Refuses an identity that is not an approver: its issuer must be an approver issuer and
    /// its groups must include one of that issuer's `approver_groups`. Checked on every vote,
    /// whichever channel it comes from.
    pub(crate) fn approver_role(&self, who: &Identity) -> Result<(), ApiError> {
        let Some(cfg) = self.approvers.issuer_config(&who.issuer) else {
            return Err(not_an_approver(format!(
                "approver: `{}` is not from an approver issuer",
                who.issuer
            )));
        };
        if who.in_any_group(&cfg.approver_groups) {
            return Ok(());
        }
        let groups: Vec<String> = cfg
            .approver_groups
            .iter()
            .map(|g| format!("`{g}`"))
            .collect();
        Err(not_an_approver(format!(
            "approver: `{}` is not in an approver group ({}); ask to be added to one",
            who.subject,
            groups.join(", ")
        )))
    }
}

fn not_an_approver(message: String) -> ApiError {
    ApiError::new(ErrorCode::Forbidden, message).with_detail(json!({"reason": "not_an_approver"}))
}
