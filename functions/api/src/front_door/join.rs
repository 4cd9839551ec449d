//! Front-door calls that join a parked plan (`run: by_calls`): before a call goes the usual
//! way, the agent's parked plans are read (one Query of its `PARKED#` partition) and the
//! call is matched against each one's next step (`tollgate_core::plan::join`, exactly). A
//! match is run by the executor as that step (it matches again inside the conditional write
//! that claims the step), and answered in the service's wire format; a call that matches no
//! plan's next step goes the usual way (policy, maybe held).

use serde_json::{Value, json};
use tollgate_core::execution::record_in_answer;
use tollgate_core::plan::StepStatus;
use tollgate_core::plan::join::{Join, join};
use tollgate_core::{ApiError, Identity, NewRequest, RequestRecord, Status};
use tollgate_models::{ServiceModel, WireResponse};

use super::answer::{self, Refusal};
use crate::Api;

impl Api {
    /// The answer to `call` when it is the next step of one of `agent`'s parked plans;
    /// `None` when it is no plan's next step.
    pub(super) async fn join_plan(
        &self,
        agent: &Identity,
        call: &NewRequest,
        model: &ServiceModel,
        operation: &str,
    ) -> Result<Option<WireResponse>, Refusal> {
        let key = agent.key();
        let mut plans = self.store.parked_plans(&key).await.map_err(Refusal::Api)?;
        // The oldest plan first: of two plans with the same next step, the one approved first.
        plans.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let now = tollgate_aws::now_ms();
        for plan in plans {
            let step = match join(&plan, &key, call, now) {
                Ok(Join::Run(i)) => i,
                Ok(Join::Running(i)) => return Err(running(&plan, i)),
                Err(_) => continue,
            };
            let payload = json!({
                "request_id": plan.id,
                "join": {"step": step, "agent_key": key, "call": call},
            });
            let answered = self
                .executor
                .invoke(&self.settings.executor_function, &payload)
                .await;
            let (outcome, rec) = match answered {
                Ok(a) => {
                    let outcome = a.get("join").and_then(Value::as_str).map(str::to_string);
                    (outcome, record_in_answer(&a).filter(|r| r.id == plan.id))
                }
                Err(e) => {
                    tracing::error!(request_id = %plan.id, step, error = %e.message, "executor invocation for a joined call failed");
                    (None, None)
                }
            };
            // The invocation's answer was lost: the stored plan says how far the step got.
            let rec = match rec {
                Some(r) => r,
                None => self
                    .store
                    .get(&plan.id)
                    .await
                    .map_err(Refusal::Api)?
                    .ok_or_else(|| Refusal::Api(tollgate_aws::store::not_found(&plan.id)))?,
            };
            if outcome.as_deref() == Some("missed") {
                continue;
            }
            return step_answer(&rec, step, model, operation).map(Some);
        }
        Ok(None)
    }
}

/// Step `i` of `rec` answered as its service would: its kept answer, its error, or that it
/// is still running.
fn step_answer(
    rec: &RequestRecord,
    i: usize,
    model: &ServiceModel,
    operation: &str,
) -> Result<WireResponse, Refusal> {
    let status = rec
        .plan
        .as_ref()
        .and_then(|p| p.steps.get(i))
        .map(|s| s.status);
    let settled = match status {
        Some(StepStatus::Succeeded) => Status::Succeeded,
        Some(StepStatus::Failed) => Status::Failed,
        Some(StepStatus::Running) => return Err(running(rec, i)),
        _ => {
            return Err(Refusal::Api(ApiError::internal(
                "a joined plan step was neither run nor running",
            )));
        }
    };
    let mut one = rec
        .step_record(i)
        .ok_or_else(|| Refusal::Api(ApiError::internal("a joined plan step is not in its plan")))?;
    one.status = settled;
    let view = one.view();
    answer::settled(model, operation, &one, &view)
}

/// The call is a plan's step that another copy of the call is running: a 409 no SDK retries.
fn running(rec: &RequestRecord, i: usize) -> Refusal {
    let action = rec
        .plan
        .as_ref()
        .and_then(|p| p.steps.get(i))
        .map(|s| s.request.action.to_string())
        .unwrap_or_default();
    Refusal::Aws {
        status: 409,
        code: "TollgatePlanStepRunning".into(),
        message: format!(
            "{action} is steps[{i}] of plan {}, which is running now for the same call; see `tollgate status {}` for its answer",
            rec.id, rec.id
        ),
    }
}
