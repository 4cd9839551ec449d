//! `POST /v1/explain` (formerly `/v1/decisions`, still served): what Tollgate would do with a
//! request, without recording anything, so an agent can plan before asking. Same identity,
//! validation and policy as a submission. "Explain" throughout: endpoint, handler, client,
//! the MCP tool `explain_call`; "decision" is the policy's.

use serde_json::{Value, json};
use tollgate_aws::now_ms;
use tollgate_catalog::catalog;
use tollgate_core::{ApiError, Effect, parse_new_request};
use tollgate_policy::{Classified, classify_with_shadow};

use crate::requests::{check_against_model, exact_spelling, model_operation, reason_given};
use crate::{Api, Request, Response, header};

impl Api {
    pub(crate) async fn explain(
        &self,
        req: &Request,
        source_ip: &str,
    ) -> Result<Response, ApiError> {
        let agent = self
            .agents
            .verify_bearer(header(req, "authorization"))
            .await?;
        let new = parse_new_request(req.body(), &self.settings.default_region)?;
        exact_spelling(&new)?;
        let account = self.target_account(&new)?;
        let (model, operation) = model_operation(&new)?;
        let op = model.operation(&operation);
        let parameters = json!({
            "required": op.as_ref().map(|o| o.required_members()).unwrap_or_default(),
            "accepted": op.as_ref().map(|o| o.input_members()).unwrap_or_default(),
        });
        let access: Vec<Value> = catalog()
            .iam_actions(&new.action)
            .unwrap_or_default()
            .into_iter()
            .map(|a| json!({"iam_action": a.name, "access_level": a.level.as_str(), "risks": a.risks}))
            .collect();
        // Problems with the parameters do not stop the explanation: the agent is planning.
        let mut problems = Vec::new();
        let now_secs = now_ms() / 1000;
        // The counts this request would see, read and not written: explaining counts nothing.
        let recent = match tollgate_policy::usage(&new.action) {
            Some(usage) if self.policy.reads_recent_counts() => self
                .store
                .recent_counts(&agent.identity.key(), now_secs)
                .await?
                .counting(&usage),
            _ => Default::default(),
        };
        let classified = match classify_with_shadow(
            self.policy.as_ref(),
            None,
            &new,
            &agent.identity,
            account,
            now_secs,
            source_ip,
            &recent,
        ) {
            Ok(c) => Some(c),
            Err(e) if e.status() < 500 => {
                problems.push(problem(&e));
                None
            }
            Err(e) => return Err(e),
        };
        if let Err(e) = check_against_model(&new) {
            problems.push(problem(&e));
        }
        if let Some(Err(e)) = classified.as_ref().map(|c| reason_given(&c.decision, &new)) {
            problems.push(problem(&e));
        }
        let mut body = json!({
            "action": new.action.to_string(),
            "region": new.region,
            "target": new.target,
            "access": access,
            "parameters": parameters,
            "problems": problems,
            "outcome": Value::Null,
        });
        if let Some(Classified {
            resources,
            resources_known,
            decision,
            ..
        }) = classified
        {
            body["outcome"] = json!(match &decision.effect {
                Effect::Allow => "allow",
                Effect::Deny => "deny",
                Effect::Approval { .. } => "approval",
            });
            body["approvals_required"] = json!(decision.required_approvals());
            if let Effect::Approval {
                requirements,
                timeout_seconds,
                ..
            } = &decision.effect
            {
                body["requirements"] = json!(requirements);
                body["timeout_seconds"] = json!(timeout_seconds);
            }
            body["policy_ids"] = json!(decision.policy_ids);
            body["reason"] = json!(decision.reason);
            body["resources"] = json!(resources);
            body["resources_known"] = json!(resources_known);
        }
        Ok(Response::json(200, &body))
    }
}

fn problem(e: &ApiError) -> Value {
    json!({"code": e.code, "field": e.field, "message": e.message})
}
