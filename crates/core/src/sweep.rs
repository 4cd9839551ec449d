//! What the sweeper does with a request nothing will move on. A request waits for its
//! workflow: PENDING for votes (the workflow holds the task token), APPROVED and EXECUTING for
//! the executor the workflow invokes (or the API, for a call that runs at once). When that
//! workflow is gone and the request has not changed for longer than any step may take, no one
//! will ever finish it: the sweeper closes it, saying whether the call may have run. It never
//! runs the call.

use serde_json::json;

use crate::audit::Event;
use crate::error::ApiError;
use crate::failure::{Failure, FailureCode};
use crate::record::RequestRecord;
use crate::status::Status;

/// Statuses the sweeper looks at: the ones a lost workflow leaves behind.
pub const SWEPT: [Status; 3] = [Status::Pending, Status::Approved, Status::Executing];

/// The shortest bound the sweeper accepts in a deployment: longer than the executor may run
/// (its Lambda timeout) plus the state machine's retries, so a live execution is never taken
/// for a dead one.
pub const DEFAULT_BOUND_MS: u64 = 15 * 60 * 1000;

/// Why the request is stuck, as the failure it is closed with; `None` when it is not stuck
/// (its workflow runs, it changed within `bound_ms`, or it is in no status a lost workflow
/// leaves behind).
pub fn stuck(
    rec: &RequestRecord,
    workflow_running: bool,
    now: u64,
    bound_ms: u64,
) -> Option<Failure> {
    if workflow_running || now.saturating_sub(rec.updated_at) < bound_ms {
        return None;
    }
    // A parked plan waits for its agent's calls, not for a workflow, until its window ends
    // ([`RequestRecord::end_window`]); only a step caught running is an interrupted execution.
    if rec.status == Status::Executing
        && rec.plan.as_ref().is_some_and(|p| {
            p.parked()
                && p.steps
                    .iter()
                    .all(|s| s.status != crate::plan::StepStatus::Running)
        })
    {
        return None;
    }
    match rec.status {
        Status::Pending => Some(
            Failure::new(
                FailureCode::WorkflowGone,
                "its approval workflow is gone, so no vote can resume it; the call did not run",
            )
            .with_may_have_run(false),
        ),
        // The executor claims a request (EXECUTING) before it calls AWS: one still APPROVED
        // was never called.
        Status::Approved => Some(
            Failure::new(
                FailureCode::WorkflowGone,
                "it was approved but its workflow ended before the call was claimed; the call did not run",
            )
            .with_may_have_run(false),
        ),
        Status::Executing => Some(
            Failure::new(
                FailureCode::ExecutionInterrupted,
                "its execution was interrupted and its workflow ended; the call may have run: \
                 look for it in the target account's CloudTrail",
            )
            .with_may_have_run(true),
        ),
        _ => None,
    }
}

impl RequestRecord {
    /// Closes a stuck request as FAILED with the sweeper's reason; no events when it is not
    /// stuck (any more: the status is read again inside the conditional write).
    pub fn sweep(
        &mut self,
        workflow_running: bool,
        now: u64,
        bound_ms: u64,
    ) -> Result<Vec<Event>, ApiError> {
        let Some(failure) = stuck(self, workflow_running, now, bound_ms) else {
            return Ok(vec![]);
        };
        let from = self.status;
        let mut ev = self.fail(failure, now)?;
        // The event says who closed it and from where, beside the failure itself.
        self.amend_last(
            &mut ev,
            &[("by", json!("sweeper")), ("swept_from", json!(from))],
        );
        Ok(vec![ev])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Effect;
    use crate::fixtures::{record, who};

    const BOUND: u64 = 60_000;

    fn with_status(status: Status) -> RequestRecord {
        let mut rec = record(
            r#"{"action": "dynamodb:DeleteTable", "params": {"TableName": "t"}}"#,
            who("ci-bot", &[]),
            Effect::Allow,
            &["dynamodb:DeleteTable"],
            &["arn:aws:dynamodb:us-east-1:111122223333:table/t"],
        );
        // Set directly: the rules read the status, whatever led to it.
        rec.status = status;
        rec.updated_at = 1_000;
        rec
    }

    #[test]
    fn a_request_whose_workflow_runs_or_that_moved_recently_is_left_alone() {
        for status in SWEPT {
            let rec = with_status(status);
            assert!(stuck(&rec, true, 1_000 + BOUND * 10, BOUND).is_none());
            assert!(stuck(&rec, false, 1_000 + BOUND - 1, BOUND).is_none());
        }
        for status in Status::ALL.into_iter().filter(|s| !SWEPT.contains(s)) {
            assert!(stuck(&with_status(status), false, u64::MAX, BOUND).is_none());
        }
    }

    #[test]
    fn only_an_interrupted_execution_may_have_run() {
        let now = 1_000 + BOUND;
        for (status, code, may) in [
            (Status::Pending, FailureCode::WorkflowGone, false),
            (Status::Approved, FailureCode::WorkflowGone, false),
            (Status::Executing, FailureCode::ExecutionInterrupted, true),
        ] {
            let f = stuck(&with_status(status), false, now, BOUND).unwrap();
            assert_eq!(f.code, code, "{status}");
            assert_eq!(f.may_have_run, Some(may), "{status}");
        }
    }

    #[test]
    fn a_parked_plan_is_stuck_only_with_a_step_caught_running() {
        use crate::plan::{Plan, PlanStep, RunMode, Scope, StepStatus};
        let mut rec = with_status(Status::Executing);
        let step = PlanStep::new(rec.request.clone(), rec.decision.clone(), Scope::default());
        rec.plan = Some(Plan {
            run: RunMode::ByCalls,
            window_seconds: Some(60),
            calls_until: Some(u64::MAX),
            ..Plan::of(vec![step])
        });
        assert!(stuck(&rec, false, u64::MAX, BOUND).is_none());
        rec.plan.as_mut().unwrap().steps[0].status = StepStatus::Running;
        let f = stuck(&rec, false, 1_000 + BOUND, BOUND).unwrap();
        assert_eq!(f.code, FailureCode::ExecutionInterrupted);
    }

    #[test]
    fn sweeping_fails_the_request_once_with_a_chained_event() {
        let mut rec = with_status(Status::Executing);
        let prev = rec.last_hash.clone();
        let events = rec.sweep(false, 1_000 + BOUND, BOUND).unwrap();
        assert_eq!(events.len(), 1);
        let ev = &events[0];
        assert_eq!(rec.status, Status::Failed);
        assert_eq!(ev.prev_hash, prev);
        assert_eq!(ev.hash, ev.compute_hash());
        assert_eq!(rec.last_hash, ev.hash);
        assert_eq!(ev.detail["by"], "sweeper");
        assert_eq!(ev.detail["swept_from"], "EXECUTING");
        assert_eq!(ev.detail["error"]["may_have_run"], true);
        assert_eq!(rec.error.as_ref().unwrap().may_have_run, Some(true));
        // Final now: a second sweep finds nothing to do.
        assert!(rec.sweep(false, u64::MAX, BOUND).unwrap().is_empty());
    }
}
