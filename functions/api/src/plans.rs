//! `POST /v1/plans`: several calls submitted together, classified step by step with the very
//! checks a single request goes through, decided once (`tollgate_core::plan`).

use tollgate_aws::now_ms;
use tollgate_core::plan::{self, NewPlan, PlanStep, Scope, in_step};
use tollgate_core::{ApiError, Identity, NewRequest, RequestRecord};
use tollgate_policy::Classified;

use crate::requests::{idempotency_claim, reason_given};
use crate::{Api, Request, Response};

impl Api {
    pub(crate) async fn submit_plan(
        &self,
        req: &Request,
        source_ip: &str,
    ) -> Result<Response, ApiError> {
        let agent = self.json_from_agent(req).await?;
        let new = plan::parse_plan(
            req.body(),
            &self.settings.default_region,
            self.settings.max_plan_steps,
        )?;
        let claim = idempotency_claim(req, &agent, new.hash())?;
        let steps = self.classify_plan(&agent.identity, &new, source_ip).await?;
        let (rec, events) = RequestRecord::new_plan(
            ulid::Ulid::new().to_string(),
            new,
            steps,
            agent.identity.clone(),
            now_ms(),
        );
        reason_given(&rec.decision, &rec.request)?;
        let admitted = self.open(rec, events, claim, None).await?;
        Ok(self.submission_answer(admitted))
    }

    /// Each step classified as a request is. A step with references is classified twice,
    /// with two different stand-ins for them: if that changes its IAM actions, resources or
    /// decision, a reference would decide what the step does, which the approver could not
    /// see, and the plan is refused naming the step.
    /// Each step counts in the agent's rate counters as a request of its own (when policies
    /// read them), so a plan is no way around a rate rule.
    async fn classify_plan(
        &self,
        agent: &Identity,
        new: &NewPlan,
        source_ip: &str,
    ) -> Result<Vec<PlanStep>, ApiError> {
        let mut steps = Vec::with_capacity(new.steps.len());
        let now_secs = now_ms() / 1000;
        let uncounted = tollgate_core::rate::RecentCounts::default();
        for (i, step) in new.steps.iter().enumerate() {
            let recent = self
                .count_request(agent, step, now_secs)
                .await
                .map_err(|e| in_step(i, e))?;
            let counts = recent.as_ref().unwrap_or(&uncounted);
            let classify = |params| {
                let call = NewRequest {
                    params,
                    ..step.clone()
                };
                self.classify_call(agent, &call, source_ip, counts)
                    .map_err(|e| in_step(i, e))
            };
            let c = if plan::has_references(&step.params) {
                let [a, b] = plan::with_stand_ins(&step.params);
                let (a, b) = (classify(a)?, classify(b)?);
                if !same_classification(&a, &b) {
                    return Err(ApiError::field(
                        format!("steps[{i}].params"),
                        "a reference here would decide what the step acts on or what policy says about it; write that value out (a reference may fill only values such as an attribute, a tag value or a description)",
                    ));
                }
                a
            } else {
                classify(step.params.clone())?
            };
            let mut recorded = PlanStep::new(
                step.clone(),
                c.decision,
                Scope {
                    iam_actions: c.iam_actions,
                    resources: c.resources,
                    action_resources: c.action_resources,
                },
            );
            recorded.context = Some(c.context);
            steps.push(recorded);
        }
        Ok(steps)
    }
}

fn same_classification(a: &Classified, b: &Classified) -> bool {
    a.iam_actions == b.iam_actions
        && a.resources == b.resources
        && a.action_resources == b.action_resources
        && a.resources_known == b.resources_known
        && a.decision == b.decision
}
