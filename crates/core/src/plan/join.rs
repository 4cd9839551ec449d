//! A plan run by calls (`run: by_calls`): approved once, then each step runs when its agent
//! makes exactly that call through the front door, in order, until the plan's window ends.
//!
//! A call joins the plan only as its next step: the first step not yet succeeded, with its
//! references resolved from the earlier answers, equal in action, region, target and every
//! parameter. Anything else (an earlier step again, a later one, one parameter different)
//! does not join, and goes the way any call goes (policy, maybe held). The claim of the step
//! is the record's conditional write ([`RequestRecord::claim_step`]), so a step runs at most
//! once however many copies of the call arrive.

use serde_json::json;

use crate::audit::Event;
use crate::error::ApiError;
use crate::failure::{Failure, FailureCode};
use crate::record::RequestRecord;
use crate::request::NewRequest;
use crate::status::Status;

use super::StepStatus;

/// A call that is a plan's next step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Join {
    /// Step `i` waits for this call: claim it and run it.
    Run(usize),
    /// Step `i` is this call and is running now (another copy of the call claimed it).
    Running(usize),
}

/// Why a call does not join a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// Not a parked plan: not a plan, not run by calls, not approved, or ended.
    NotParked,
    /// The plan is another agent's.
    OtherAgent,
    /// The plan's window has ended (the sweeper fails it).
    WindowEnded,
    /// Every step has run.
    NoStepLeft,
    /// The next step's references cannot be read (it never can join).
    Unresolved(usize),
    /// The next step is `step`, and the call differs from it in `field`.
    Differs { step: usize, field: &'static str },
}

/// Whether `call` from the agent `agent_key` is `rec`'s next step at `now` (ms).
pub fn join(
    rec: &RequestRecord,
    agent_key: &str,
    call: &NewRequest,
    now: u64,
) -> Result<Join, Miss> {
    let plan = match &rec.plan {
        Some(p) if p.parked() && rec.status == Status::Executing => p,
        _ => return Err(Miss::NotParked),
    };
    if rec.agent.key() != agent_key {
        return Err(Miss::OtherAgent);
    }
    if plan.calls_until.is_some_and(|until| now >= until) {
        return Err(Miss::WindowEnded);
    }
    let Some(i) = plan
        .steps
        .iter()
        .position(|s| s.status != StepStatus::Succeeded)
    else {
        return Err(Miss::NoStepLeft);
    };
    let status = plan.steps[i].status;
    if !matches!(status, StepStatus::Waiting | StepStatus::Running) {
        return Err(Miss::NoStepLeft);
    }
    let step = rec.resolve_step(i).map_err(|_| Miss::Unresolved(i))?;
    let differs = |field| Err(Miss::Differs { step: i, field });
    if step.action != call.action {
        return differs("action");
    }
    if step.region != call.region {
        return differs("region");
    }
    if step.target != call.target {
        return differs("target");
    }
    if step.params != call.params {
        return differs("params");
    }
    // A plan step never carries a body kept beside the record; a call that does is not one.
    if step.payload != call.payload {
        return differs("payload");
    }
    Ok(match status {
        StepStatus::Running => Join::Running(i),
        _ => Join::Run(i),
    })
}

impl RequestRecord {
    /// Whether this is a parked plan whose window is over at `now` with no step running: the
    /// steps not called by then are not run.
    pub fn window_ended(&self, now: u64) -> bool {
        self.status == Status::Executing
            && self.plan.as_ref().is_some_and(|p| {
                p.parked()
                    && p.calls_until.is_some_and(|until| now >= until)
                    && p.steps.iter().all(|s| s.status != StepStatus::Running)
            })
    }

    /// Ends a parked plan whose window is over as FAILED (`plan_window_ended`), naming the
    /// step that was not called; no events when it is not (any more) such a plan. A step
    /// still running is left to finish: its outcome is recorded first, and the plan ends on
    /// the next look.
    pub fn end_window(&mut self, now: u64) -> Result<Vec<Event>, ApiError> {
        if !self.window_ended(now) {
            return Ok(vec![]);
        }
        let plan = self.plan.as_ref().expect("checked by window_ended");
        let n = plan.steps.len();
        let next = plan
            .steps
            .iter()
            .position(|s| s.status != StepStatus::Succeeded)
            .unwrap_or(n);
        let action = plan
            .steps
            .get(next)
            .map(|s| s.request.action.to_string())
            .unwrap_or_default();
        let failure = Failure::new(
            FailureCode::PlanWindowEnded,
            format!(
                "the plan's window ended before steps[{next}] ({action}) was called, so it and the {} step(s) after it did not run; {next} of {n} step(s) ran",
                n - next - 1
            ),
        );
        let mut ev = self.fail(failure, now)?;
        self.amend_last(&mut ev, &[("steps_run", json!(next))]);
        Ok(vec![ev])
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::decision::{Decision, Effect};
    use crate::execution::{Claim, Outcome};
    use crate::fixtures::who;
    use crate::plan::{PlanStep, RunMode, Scope, parse_plan};

    const ROLE: Option<&str> = Some("arn:aws:iam::111122223333:role/t");
    const T0: u64 = 1_000;

    fn region(_: &NewRequest) -> String {
        "us-east-1".into()
    }

    fn allow() -> Decision {
        Decision {
            effect: Effect::Allow,
            policy_ids: vec!["p".into()],
            reason: "by p".into(),
            mask: Default::default(),
            requires: Default::default(),
            breakglass: None,
        }
    }

    /// A by_calls plan with a 60 s window: create a table, put an item naming its ARN (a
    /// reference), delete an item; parked at `T0`.
    fn parked() -> RequestRecord {
        let body = json!({
            "reason": "migrate", "run": "by_calls", "window_seconds": 60,
            "steps": [
                {"action": "dynamodb:CreateTable", "params": {"TableName": "t"}},
                {"action": "dynamodb:PutItem", "params": {"TableName": "t", "Item": {"arn": {"S": {"$ref": "steps[0].answer.TableDescription.TableArn"}}}}},
                {"action": "dynamodb:DeleteItem", "params": {"TableName": "t", "Key": {"id": {"S": "1"}}}},
            ]
        });
        let plan = parse_plan(body.to_string().as_bytes(), "us-east-1", 5).unwrap();
        assert_eq!(plan.run, RunMode::ByCalls);
        let steps = plan
            .steps
            .iter()
            .map(|r| {
                PlanStep::new(
                    r.clone(),
                    allow(),
                    Scope {
                        iam_actions: vec![format!("dynamodb:{}", r.action.operation())],
                        resources: vec!["arn:aws:dynamodb:us-east-1:111122223333:table/t".into()],
                        action_resources: Default::default(),
                    },
                )
            })
            .collect();
        let (mut rec, _) = RequestRecord::new_plan("P".into(), plan, steps, who("agent", &[]), 1);
        let (c, ev) = rec.claim_for_execution(T0, ROLE, region).unwrap();
        assert_eq!(c, Claim::Parked);
        assert_eq!(ev[0].kind, crate::audit::EventKind::PlanParked);
        rec
    }

    fn call(action: &str, params: Value) -> NewRequest {
        NewRequest {
            action: crate::Action::parse(action).unwrap(),
            region: "us-east-1".into(),
            params: params.as_object().unwrap().clone(),
            reason: Some("called through the front door".into()),
            target: "default".into(),
            payload: None,
        }
    }

    fn first() -> NewRequest {
        call("dynamodb:CreateTable", json!({"TableName": "t"}))
    }

    fn agent() -> String {
        who("agent", &[]).key()
    }

    /// Claims step `i` at `at` as the executor would, with its references resolved.
    fn claim(rec: &mut RequestRecord, i: usize, at: u64) {
        let s = &rec.plan.as_ref().unwrap().steps[i];
        let resolved = Ok(crate::plan::ResolvedStep {
            request: rec.resolve_step(i).unwrap(),
            scope: s.scope.clone(),
        });
        let (c, _) = rec.claim_step(i, at, ROLE, resolved, region).unwrap();
        assert!(matches!(c, crate::plan::StepClaim::Run { .. }), "{c:?}");
    }

    /// Runs step `i` to success with `answer`, as the executor would.
    fn run(rec: &mut RequestRecord, i: usize, answer: Value) {
        claim(rec, i, T0 + 1);
        rec.record_step_outcome(
            i,
            Outcome::Succeeded {
                result: answer,
                sealed_result: None,
            },
            T0 + 2,
        )
        .unwrap();
    }

    #[test]
    fn the_next_step_joins_exactly_and_nothing_else_does() {
        let rec = parked();
        assert_eq!(rec.status, Status::Executing);
        let plan = rec.plan.as_ref().unwrap();
        assert_eq!(plan.calls_until, Some(T0 + 60_000));
        assert_eq!(join(&rec, &agent(), &first(), T0 + 5), Ok(Join::Run(0)));
        // The reason is the front door's own, and never compared.
        let mut c = first();
        c.reason = None;
        assert_eq!(join(&rec, &agent(), &c, T0 + 5), Ok(Join::Run(0)));

        for (changed, field) in [
            (
                call("dynamodb:DeleteTable", json!({"TableName": "t"})),
                "action",
            ),
            (
                NewRequest {
                    region: "eu-west-1".into(),
                    ..first()
                },
                "region",
            ),
            (
                NewRequest {
                    target: "prod".into(),
                    ..first()
                },
                "target",
            ),
            (
                call("dynamodb:CreateTable", json!({"TableName": "u"})),
                "params",
            ),
            (
                call(
                    "dynamodb:CreateTable",
                    json!({"TableName": "t", "BillingMode": "PAY_PER_REQUEST"}),
                ),
                "params",
            ),
        ] {
            assert_eq!(
                join(&rec, &agent(), &changed, T0 + 5),
                Err(Miss::Differs { step: 0, field }),
                "{field}"
            );
        }
        assert_eq!(
            join(&rec, &who("other", &[]).key(), &first(), T0 + 5),
            Err(Miss::OtherAgent)
        );
    }

    #[test]
    fn steps_join_in_order_with_references_resolved() {
        let mut rec = parked();
        let third = call(
            "dynamodb:DeleteItem",
            json!({"TableName": "t", "Key": {"id": {"S": "1"}}}),
        );
        // A later step is not the next one.
        assert_eq!(
            join(&rec, &agent(), &third, T0 + 5),
            Err(Miss::Differs {
                step: 0,
                field: "action"
            })
        );
        // Before step 0 answered, step 1's reference cannot be read; once it has, the call
        // must carry the value read.
        run(
            &mut rec,
            0,
            json!({"TableDescription": {"TableArn": "arn:aws:dynamodb:us-east-1:1:table/t"}}),
        );
        let put = |arn: &str| {
            call(
                "dynamodb:PutItem",
                json!({"TableName": "t", "Item": {"arn": {"S": arn}}}),
            )
        };
        let second = put("arn:aws:dynamodb:us-east-1:1:table/t");
        assert_eq!(join(&rec, &agent(), &second, T0 + 5), Ok(Join::Run(1)));
        assert_eq!(
            join(&rec, &agent(), &put("arn:other"), T0 + 5),
            Err(Miss::Differs {
                step: 1,
                field: "params"
            })
        );
        // The step that ran does not join again.
        assert!(matches!(
            join(&rec, &agent(), &first(), T0 + 5),
            Err(Miss::Differs { step: 1, .. })
        ));
        // While step 1 runs, its call is told so.
        claim(&mut rec, 1, T0 + 3);
        assert_eq!(join(&rec, &agent(), &second, T0 + 5), Ok(Join::Running(1)));
    }

    #[test]
    fn a_finished_or_unparked_plan_takes_no_call() {
        let mut rec = parked();
        run(&mut rec, 0, json!({"TableDescription": {"TableArn": "a"}}));
        run(&mut rec, 1, json!({}));
        run(&mut rec, 2, json!({}));
        assert_eq!(rec.status, Status::Succeeded);
        assert_eq!(join(&rec, &agent(), &first(), T0 + 5), Err(Miss::NotParked));

        // A plan run at once never takes calls, even while it runs.
        let body =
            json!({"steps": [{"action": "dynamodb:CreateTable", "params": {"TableName": "t"}}]});
        let plan = parse_plan(body.to_string().as_bytes(), "us-east-1", 5).unwrap();
        let steps = vec![PlanStep::new(
            plan.steps[0].clone(),
            allow(),
            Scope {
                iam_actions: vec!["dynamodb:CreateTable".into()],
                resources: vec!["arn:t".into()],
                action_resources: Default::default(),
            },
        )];
        let (mut at_once, _) =
            RequestRecord::new_plan("Q".into(), plan, steps, who("agent", &[]), 1);
        let (c, _) = at_once.claim_for_execution(T0, ROLE, region).unwrap();
        assert_eq!(c, Claim::RunPlan);
        assert_eq!(
            join(&at_once, &agent(), &first(), T0 + 5),
            Err(Miss::NotParked)
        );
    }

    #[test]
    fn the_window_ends_the_plan_once_and_a_running_step_finishes_first() {
        let mut rec = parked();
        let end = T0 + 60_000;
        assert_eq!(join(&rec, &agent(), &first(), end - 1), Ok(Join::Run(0)));
        assert_eq!(join(&rec, &agent(), &first(), end), Err(Miss::WindowEnded));
        assert!(rec.end_window(end - 1).unwrap().is_empty());

        run(&mut rec, 0, json!({"TableDescription": {"TableArn": "a"}}));
        // Step 1 claimed just before the end: the window does not cut it off.
        claim(&mut rec, 1, end - 1);
        assert!(!rec.window_ended(end + 1));
        assert!(rec.end_window(end + 1).unwrap().is_empty());
        rec.record_step_outcome(
            1,
            Outcome::Succeeded {
                result: json!({}),
                sealed_result: None,
            },
            end + 2,
        )
        .unwrap();
        assert_eq!(rec.status, Status::Executing);

        let ev = rec.end_window(end + 3).unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].detail["steps_run"], 2);
        assert_eq!(ev[0].hash, ev[0].compute_hash());
        assert_eq!(rec.last_hash, ev[0].hash);
        assert_eq!(rec.status, Status::Failed);
        let e = rec.error.as_ref().unwrap();
        assert_eq!(e.code, FailureCode::PlanWindowEnded);
        assert!(
            e.message
                .starts_with("the plan's window ended before steps[2] (dynamodb:DeleteItem)"),
            "{}",
            e.message
        );
        let statuses: Vec<StepStatus> = rec
            .plan
            .as_ref()
            .unwrap()
            .steps
            .iter()
            .map(|s| s.status)
            .collect();
        assert_eq!(
            statuses,
            [
                StepStatus::Succeeded,
                StepStatus::Succeeded,
                StepStatus::NotRun
            ]
        );
        // Once: a second look finds a plan that has ended.
        assert!(rec.end_window(end + 4).unwrap().is_empty());
    }

    #[test]
    fn a_parked_plan_invoked_again_runs_nothing_and_is_not_interrupted() {
        let mut rec = parked();
        let (c, ev) = rec.claim_for_execution(T0 + 10, ROLE, region).unwrap();
        assert_eq!(c, Claim::Skip);
        assert!(ev.is_empty());
        assert_eq!(rec.status, Status::Executing);
    }
}
