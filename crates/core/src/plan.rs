//! A plan: calls an agent asks for together, decided once and run in order. The plan is one
//! request record (one decision, one set of votes, one workflow, one hash chain); each step
//! keeps its own classification, status and answer, and runs under its own scoped session.
//!
//! What an approver approves is the plan's hash, over every step's hash in order. A step may
//! take a string from an earlier step's answer ([`reference`]); such a value may not decide
//! what the step acts on or what policy says about it, which the API checks at submission by
//! classifying the step with two different stand-ins, and the executor checks again with the
//! real value before the step runs.

pub mod join;
pub mod reference;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::audit::{Event, EventKind};
use crate::decision::{Decision, Effect, GroupRequirement, Requirement};
use crate::digest::{canonical_json, sha256_hex};
use crate::error::{ApiError, ErrorCode};
use crate::failure::{Failure, FailureCode};
use crate::identity::Identity;
use crate::record::{RequestRecord, masked_params};
use crate::request::{NewRequest, parse_body_object, parse_reason, request_from_object};
use crate::status::Status;

pub use reference::{REF_KEY, Reference};

/// Most steps a plan may have unless the operator sets another bound
/// (`TOLLGATE_MAX_PLAN_STEPS`).
pub const DEFAULT_MAX_STEPS: usize = 20;
const PLAN_FIELDS: [&str; 4] = ["reason", "steps", "run", "window_seconds"];

/// How long a plan run by calls waits for them after its approval, unless the agent says.
pub const DEFAULT_WINDOW_SECONDS: u64 = 3600;
/// The window's bounds: long enough for an agent's next call, and no approval outlives a day.
pub const MIN_WINDOW_SECONDS: u64 = 5;
pub const MAX_WINDOW_SECONDS: u64 = 86_400;

/// How an approved plan runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMode {
    /// The executor runs every step in order as soon as the plan is approved.
    #[default]
    AtOnce,
    /// Each step runs when the agent makes its call through the front door, in order, until
    /// the plan's window ends ([`join`]).
    ByCalls,
}

impl RunMode {
    pub fn is_at_once(&self) -> bool {
        *self == RunMode::AtOnce
    }
}

/// A plan as submitted: its steps (each with the plan's reason) in order.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPlan {
    pub reason: Option<String>,
    pub steps: Vec<NewRequest>,
    pub run: RunMode,
    /// For a plan run by calls, how long after its approval its steps may be called.
    pub window_seconds: Option<u64>,
}

impl NewPlan {
    /// What approvals bind: every step's hash, in order, and how the plan runs.
    pub fn hash(&self) -> String {
        hash_of(self.steps.iter(), self.run, self.window_seconds)
    }
}

/// How a plan runs is part of what is approved: a plan approved to run at once is not one
/// its agent may spread over an hour, nor the other way round. A plan run at once hashes as
/// plans always have, so records written before `run` existed still verify.
fn hash_of<'a>(
    steps: impl Iterator<Item = &'a NewRequest>,
    run: RunMode,
    window_seconds: Option<u64>,
) -> String {
    let hashes: Vec<String> = steps.map(NewRequest::hash).collect();
    let doc = match run {
        RunMode::AtOnce => json!({"plan": hashes}),
        RunMode::ByCalls => {
            json!({"plan": hashes, "run": "by_calls", "window_seconds": window_seconds})
        }
    };
    sha256_hex(canonical_json(&doc).as_bytes())
}

/// `run` and `window_seconds` as submitted: a window only for a plan run by calls.
fn parse_run(
    run: Option<Value>,
    window: Option<Value>,
) -> Result<(RunMode, Option<u64>), ApiError> {
    let run = match run {
        None | Some(Value::Null) => RunMode::AtOnce,
        Some(Value::String(s)) if s == "at_once" => RunMode::AtOnce,
        Some(Value::String(s)) if s == "by_calls" => RunMode::ByCalls,
        Some(other) => {
            let shown: String = crate::display::one_line(&other.to_string())
                .chars()
                .filter(|c| *c != '`')
                .take(40)
                .collect();
            return Err(ApiError::field(
                "run",
                format!(
                    "`{shown}` is not a way to run a plan; expected `at_once` (the default) or `by_calls`"
                ),
            ));
        }
    };
    let window = match window {
        None | Some(Value::Null) => None,
        Some(v) => {
            let bound = format!(
                "must be a whole number of seconds from {MIN_WINDOW_SECONDS} to {MAX_WINDOW_SECONDS}"
            );
            let n = v
                .as_u64()
                .or_else(|| {
                    v.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0)
                        .map(|f| f as u64)
                })
                .filter(|n| (MIN_WINDOW_SECONDS..=MAX_WINDOW_SECONDS).contains(n))
                .ok_or_else(|| ApiError::field("window_seconds", bound))?;
            Some(n)
        }
    };
    match (run, window) {
        (RunMode::AtOnce, Some(_)) => Err(ApiError::field(
            "window_seconds",
            "applies only to a plan with `run: by_calls`; a plan run at once has no window",
        )),
        (RunMode::AtOnce, None) => Ok((RunMode::AtOnce, None)),
        (RunMode::ByCalls, w) => Ok((RunMode::ByCalls, Some(w.unwrap_or(DEFAULT_WINDOW_SECONDS)))),
    }
}

/// The error of step `i`, its field and message prefixed with `steps[i]`.
pub fn in_step(i: usize, e: ApiError) -> ApiError {
    let prefix = format!("steps[{i}]");
    let field = Some(match &e.field {
        Some(f) => format!("{prefix}.{f}"),
        None => prefix.clone(),
    });
    ApiError {
        message: format!("{prefix}.{}", e.message),
        field,
        ..e
    }
}

/// Parses `POST /v1/plans`: `{"reason": "...", "steps": [call, ...]}`, each call as
/// `POST /v1/requests` takes it without its own reason. Every reference must parse and point
/// at an earlier step.
pub fn parse_plan(
    body: &[u8],
    default_region: &str,
    max_steps: usize,
) -> Result<NewPlan, ApiError> {
    let mut obj = parse_body_object(body)?;
    if let Some(unknown) = obj.keys().find(|k| !PLAN_FIELDS.contains(&k.as_str())) {
        return Err(ApiError::field(
            unknown.clone(),
            format!("unknown field; expected one of {}", PLAN_FIELDS.join(", ")),
        ));
    }
    let reason = parse_reason(obj.remove("reason"))?;
    let (run, window_seconds) = parse_run(obj.remove("run"), obj.remove("window_seconds"))?;
    let steps = match obj.remove("steps") {
        None | Some(Value::Null) => return Err(ApiError::field("steps", "is required")),
        Some(Value::Array(steps)) => steps,
        Some(_) => return Err(ApiError::field("steps", "must be a list of calls")),
    };
    if steps.is_empty() || steps.len() > max_steps {
        return Err(ApiError::field(
            "steps",
            format!("a plan has 1 to {max_steps} steps, not {}", steps.len()),
        ));
    }
    let mut parsed = Vec::with_capacity(steps.len());
    for (i, step) in steps.into_iter().enumerate() {
        let Value::Object(mut step) = step else {
            return Err(ApiError::field(
                format!("steps[{i}]"),
                "must be a JSON object",
            ));
        };
        if step.contains_key("reason") {
            return Err(ApiError::field(
                format!("steps[{i}].reason"),
                "a plan has one reason, given beside `steps`, for all its steps",
            ));
        }
        if let Some(r) = &reason {
            step.insert("reason".into(), Value::String(r.clone()));
        }
        let new = request_from_object(step, default_region).map_err(|e| in_step(i, e))?;
        for (path, r) in reference::references(&new.params)
            .map_err(|e| ApiError::field(format!("steps[{i}].{}", e.path), e.message))?
        {
            if r.step >= i {
                return Err(ApiError::field(
                    format!("steps[{i}].{path}"),
                    format!(
                        "`{r}` refers to steps[{}], which does not run before this step; a step may refer only to earlier steps",
                        r.step
                    ),
                ));
            }
        }
        parsed.push(new);
    }
    Ok(NewPlan {
        reason,
        steps: parsed,
        run,
        window_seconds,
    })
}

/// The two stand-ins a step is classified with at submission, in place of its references.
/// They differ, so a reference whose value would change the step's resources or its decision
/// shows up as two classifications that differ.
pub fn with_stand_ins(params: &Map<String, Value>) -> [Map<String, Value>; 2] {
    let fill = |tag: &str| {
        reference::substitute(params, &mut |r| {
            Ok(format!("tollgate-ref-{tag}-{}-{}", r.step, r.path.len()))
        })
        // The references parsed when the plan was read; a stand-in cannot fail.
        .unwrap_or_else(|_| params.clone())
    };
    [fill("a"), fill("b")]
}

/// Whether a step has references at all.
pub fn has_references(params: &Map<String, Value>) -> bool {
    reference::references(params).is_ok_and(|r| !r.is_empty())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Not started (the plan waits for approval, or an earlier step runs).
    Waiting,
    /// Claimed by the executor; its call may be in flight.
    Running,
    Succeeded,
    Failed,
    /// Never ran: an earlier step failed, or the plan ended before it.
    NotRun,
}

/// What a call acts on, as classified: the IAM actions, the resources, and each action's own.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    pub iam_actions: Vec<String>,
    pub resources: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub action_resources: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanStep {
    /// The call as submitted (references in place), without the plan's reason.
    pub request: NewRequest,
    pub decision: Decision,
    #[serde(flatten)]
    pub scope: Scope,
    pub status: StepStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
    /// What the step touches as it was when the plan was held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<crate::preview::Preview>,
    /// What policy was shown besides the step itself, for `tollgate policy replay`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<crate::replay::DecisionContext>,
}

impl PlanStep {
    pub fn new(mut request: NewRequest, decision: Decision, scope: Scope) -> Self {
        request.reason = None;
        PlanStep {
            request,
            decision,
            scope,
            status: StepStatus::Waiting,
            result: None,
            error: None,
            preview: None,
            context: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub steps: Vec<PlanStep>,
    #[serde(default, skip_serializing_if = "RunMode::is_at_once")]
    pub run: RunMode,
    /// How long after its approval a plan run by calls takes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<u64>,
    /// When a plan run by calls stops taking them (ms): set as it is parked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calls_until: Option<u64>,
}

impl Plan {
    /// A plan run at once, of these steps.
    pub fn of(steps: Vec<PlanStep>) -> Self {
        Plan {
            steps,
            run: RunMode::AtOnce,
            window_seconds: None,
            calls_until: None,
        }
    }

    pub fn hash(&self) -> String {
        hash_of(
            self.steps.iter().map(|s| &s.request),
            self.run,
            self.window_seconds,
        )
    }

    /// Whether this plan is parked: approved, run by calls, and waiting for them.
    pub fn parked(&self) -> bool {
        self.run == RunMode::ByCalls && self.calls_until.is_some()
    }

    /// The plan's decision: denied if a step is denied, allowed if every step is, otherwise
    /// approval by every group requirement of every step (combined as policies' are), the
    /// largest count, the shortest timeout, and what each approval must carry, merged.
    pub fn decision(&self) -> Decision {
        let ids = |steps: &mut dyn Iterator<Item = &PlanStep>| {
            let mut ids: Vec<String> = steps
                .flat_map(|s| s.decision.policy_ids.iter().cloned())
                .collect();
            ids.sort();
            ids.dedup();
            ids
        };
        if let Some((i, s)) = self
            .steps
            .iter()
            .enumerate()
            .find(|(_, s)| s.decision.effect == Effect::Deny)
        {
            return Decision {
                effect: Effect::Deny,
                policy_ids: s.decision.policy_ids.clone(),
                reason: format!("steps[{i}] ({}): {}", s.request.action, s.decision.reason),
                mask: Default::default(),
                requires: Default::default(),
                breakglass: None,
            };
        }
        let held: Vec<(usize, &PlanStep)> = self
            .steps
            .iter()
            .enumerate()
            .filter(|(_, s)| matches!(s.decision.effect, Effect::Approval { .. }))
            .collect();
        if held.is_empty() {
            return Decision {
                effect: Effect::Allow,
                policy_ids: ids(&mut self.steps.iter()),
                reason: format!("every one of the {} steps is allowed", self.steps.len()),
                mask: Default::default(),
                requires: Default::default(),
                breakglass: None,
            };
        }
        let mut approvals = 0;
        let mut timeout = u64::MAX;
        let mut requirements = Vec::new();
        let mut requires = Requirement::default();
        for (_, s) in &held {
            if let Effect::Approval {
                approvals: n,
                requirements: r,
                timeout_seconds,
            } = &s.decision.effect
            {
                approvals = approvals.max(*n);
                timeout = timeout.min(*timeout_seconds);
                requirements.extend(r.iter().cloned());
            }
            requires = requires.merge(&s.decision.requires);
        }
        let reasons: Vec<String> = held
            .iter()
            .map(|(i, s)| format!("steps[{i}]: {}", s.decision.reason))
            .collect();
        Decision {
            effect: Effect::Approval {
                approvals,
                requirements: GroupRequirement::combine(requirements),
                timeout_seconds: timeout,
            },
            policy_ids: ids(&mut held.iter().map(|(_, s)| *s)),
            reason: format!(
                "a plan of {} steps, {} of them held: {}",
                self.steps.len(),
                held.len(),
                reasons.join("; ")
            ),
            mask: Default::default(),
            requires,
            // Every held step must offer the glass, to a member of every group they name.
            breakglass: crate::breakglass::BreakGlass::combine(
                held.iter().map(|(_, s)| s.decision.breakglass.as_ref()),
            ),
        }
    }

    /// Every step's IAM actions and resources, for the record's own (listing, visibility).
    fn union(&self) -> (Vec<String>, Vec<String>) {
        let mut actions: Vec<String> = Vec::new();
        let mut resources: Vec<String> = Vec::new();
        for s in &self.steps {
            for a in &s.scope.iam_actions {
                if !actions.contains(a) {
                    actions.push(a.clone());
                }
            }
            for r in &s.scope.resources {
                if !resources.contains(r) {
                    resources.push(r.clone());
                }
            }
        }
        (actions, resources)
    }

    /// What the trail and the approver see of each step: secrets in parameters masked.
    pub fn shown(&self) -> Vec<Value> {
        self.steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                json!({
                    "step": i,
                    "action": s.request.action.to_string(),
                    "region": s.request.region,
                    "target": s.request.target,
                    "params": masked_params(&s.request.params),
                })
            })
            .collect()
    }

    /// The plan has ended: steps that never started never will, and no step keeps a secret.
    pub(crate) fn finish(&mut self) {
        for s in &mut self.steps {
            if s.status == StepStatus::Waiting {
                s.status = StepStatus::NotRun;
            }
            if let Value::Object(masked) = masked_params(&s.request.params) {
                s.request.params = masked;
            }
        }
    }

    /// The view of the plan: every step with its parameters masked.
    pub(crate) fn view(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(steps) = v.get_mut("steps").and_then(Value::as_array_mut) {
            for (step, s) in steps.iter_mut().zip(&self.steps) {
                step["request"]["params"] = masked_params(&s.request.params);
            }
        }
        v
    }
}

/// The step as the executor classified it again with its references resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedStep {
    pub request: NewRequest,
    pub scope: Scope,
}

/// What claiming a step found.
#[derive(Debug, Clone, PartialEq)]
pub enum StepClaim {
    /// Run `request` (references resolved) as `role_arn` under `session_policy`.
    Run {
        request: NewRequest,
        role_arn: String,
        session_policy: String,
    },
    /// The step may not run; it and the plan are now FAILED, nothing was called.
    Refused(Failure),
    /// Nothing to do: the plan is not running this step (settled by someone else).
    Skip,
}

impl RequestRecord {
    /// A new plan record, decided as [`Plan::decision`] says, with its first events. The
    /// record's `request` is the first step with the plan's reason, so that views and
    /// listings written for single calls still say something true about it.
    pub fn new_plan(
        id: String,
        plan: NewPlan,
        steps: Vec<PlanStep>,
        agent: Identity,
        now: u64,
    ) -> (Self, Vec<Event>) {
        let plan_steps = Plan {
            run: plan.run,
            window_seconds: plan.window_seconds,
            ..Plan::of(steps)
        };
        let decision = plan_steps.decision();
        let (iam_actions, resources) = plan_steps.union();
        let mut first = plan.steps[0].clone();
        first.reason = plan.reason;
        RequestRecord::create(
            id,
            first,
            Some(plan_steps),
            None,
            agent,
            decision,
            iam_actions,
            resources,
            now,
        )
    }

    /// Claims step `i` of a running plan. Only the next step, only while the plan is
    /// EXECUTING and every earlier step succeeded: the conditional write on the record makes
    /// this the one claim of the step. `resolved` is the step with its references read from
    /// the earlier answers and classified again; it must act on exactly what was approved.
    pub fn claim_step(
        &mut self,
        i: usize,
        now: u64,
        role_arn: Option<&str>,
        resolved: Result<ResolvedStep, Failure>,
        signing_region: impl FnOnce(&NewRequest) -> String,
    ) -> Result<(StepClaim, Vec<Event>), ApiError> {
        let runnable = self.status == Status::Executing
            && self.plan.as_ref().is_some_and(|p| {
                p.steps
                    .get(i)
                    .is_some_and(|s| s.status == StepStatus::Waiting)
                    && p.steps[..i]
                        .iter()
                        .all(|s| s.status == StepStatus::Succeeded)
            });
        if !runnable {
            return Ok((StepClaim::Skip, vec![]));
        }
        let step = &self.plan.as_ref().expect("checked above").steps[i];
        let checked = resolved.and_then(|r| {
            if r.scope != step.scope {
                return Err(Failure::new(
                    FailureCode::ReferenceRefused,
                    format!(
                        "with its references resolved, steps[{i}] would act on {:?}, not on what was approved ({:?}); it is not run",
                        r.scope.resources, step.scope.resources
                    ),
                ));
            }
            let role = role_arn.ok_or_else(|| {
                Failure::new(
                    FailureCode::UnknownTarget,
                    format!("target `{}` is not configured", r.request.target),
                )
            })?;
            let policy = r.scope.session_policy(&signing_region(&r.request))?;
            Ok((r.request, role.to_string(), policy))
        });
        let (request, role_arn, session_policy) = match checked {
            Ok(c) => c,
            Err(failure) => {
                let events = self.fail_step(i, failure.clone(), now)?;
                return Ok((StepClaim::Refused(failure), events));
            }
        };
        let plan = self.plan.as_mut().expect("checked above");
        plan.steps[i].status = StepStatus::Running;
        let ev = self.push_event(
            EventKind::StepStarted,
            None,
            json!({
                "step": i,
                "action": request.action.to_string(),
                "params": masked_params(&request.params),
                "role_arn": role_arn,
                "session_policy": serde_json::from_str::<Value>(&session_policy).unwrap_or(Value::Null),
                "source_identity": self.agent.source_identity(),
                "step_hash": request_hash_of(&self.plan, i),
            }),
            now,
        );
        Ok((
            StepClaim::Run {
                request,
                role_arn,
                session_policy,
            },
            vec![ev],
        ))
    }

    /// Records how step `i` ended. A success of the last step ends the plan SUCCEEDED; a
    /// failure ends it FAILED and the steps after it are not run. Only a step still running
    /// in a plan still EXECUTING takes an outcome.
    pub fn record_step_outcome(
        &mut self,
        i: usize,
        outcome: crate::execution::Outcome,
        now: u64,
    ) -> Result<Vec<Event>, ApiError> {
        let running = self.status == Status::Executing
            && self
                .plan
                .as_ref()
                .and_then(|p| p.steps.get(i))
                .is_some_and(|s| s.status == StepStatus::Running);
        if !running {
            return Ok(vec![]);
        }
        match outcome {
            crate::execution::Outcome::Succeeded { result, .. } => {
                let plan = self.plan.as_mut().expect("checked above");
                plan.steps[i].status = StepStatus::Succeeded;
                plan.steps[i].result = Some(result);
                let last = i + 1 == plan.steps.len();
                let mut events =
                    vec![self.push_event(EventKind::StepExecuted, None, json!({"step": i}), now)];
                if last {
                    events.push(self.transition(
                        Status::Succeeded,
                        EventKind::Executed,
                        None,
                        json!({"steps": i + 1}),
                        now,
                    )?);
                }
                Ok(events)
            }
            crate::execution::Outcome::Failed(failure) => self.fail_step(i, failure, now),
        }
    }

    /// Step `i` failed: kept with the step and its `step_failed` event, then the plan FAILED
    /// naming the step; the steps after it are not run.
    fn fail_step(&mut self, i: usize, failure: Failure, now: u64) -> Result<Vec<Event>, ApiError> {
        let plan = self.plan.as_mut().ok_or_else(|| {
            ApiError::new(ErrorCode::Internal, "not a plan: it has no steps to fail")
        })?;
        let n = plan.steps.len();
        let action = plan.steps[i].request.action.to_string();
        plan.steps[i].status = StepStatus::Failed;
        plan.steps[i].error = Some(failure.clone());
        let ev = self.push_event(
            EventKind::StepFailed,
            None,
            json!({"step": i, "error": failure}),
            now,
        );
        let mut whole = failure.clone();
        whole.message = format!(
            "steps[{i}] ({action}) failed, so the {} step(s) after it did not run: {}",
            n - i - 1,
            failure.message
        );
        Ok(vec![ev, self.fail(whole, now)?])
    }
}

impl RequestRecord {
    /// Step `i` as it will run: each reference replaced by the string it names in an
    /// earlier step's answer as stored (masked and bounded, so nothing secret is passed on).
    pub fn resolve_step(&self, i: usize) -> Result<NewRequest, Failure> {
        let refused = |m: String| Failure::new(FailureCode::ReferenceRefused, m);
        let plan = self
            .plan
            .as_ref()
            .ok_or_else(|| refused("not a plan".into()))?;
        let step = plan
            .steps
            .get(i)
            .ok_or_else(|| refused(format!("the plan has no steps[{i}]")))?;
        let params = reference::substitute(&step.request.params, &mut |r| {
            let earlier = plan
                .steps
                .get(r.step)
                .filter(|_| r.step < i)
                .ok_or_else(|| format!("`{r}` does not name an earlier step"))?;
            let answer = earlier
                .result
                .as_ref()
                .ok_or_else(|| format!("steps[{}] has no answer", r.step))?;
            r.resolve(answer).map(str::to_string)
        })
        .map_err(|e| refused(format!("steps[{i}].{}: {}", e.path, e.message)))?;
        Ok(NewRequest {
            params,
            ..step.request.clone()
        })
    }
}

impl RequestRecord {
    /// Step `i` as a record of its own (its call, decision, scope, status, answer and
    /// preview; the plan's id, agent, votes and deadline), for what shows or previews one
    /// call at a time: the page, notices, the impact preview.
    pub fn step_record(&self, i: usize) -> Option<RequestRecord> {
        let step = self.plan.as_ref()?.steps.get(i)?;
        let mut rec = self.clone();
        rec.plan = None;
        rec.request = NewRequest {
            reason: self.request.reason.clone(),
            ..step.request.clone()
        };
        rec.request_hash = step.request.hash();
        rec.decision = step.decision.clone();
        rec.iam_actions = step.scope.iam_actions.clone();
        rec.resources = step.scope.resources.clone();
        rec.action_resources = step.scope.action_resources.clone();
        rec.result = step.result.clone();
        rec.error = step.error.clone();
        rec.preview = step.preview.clone();
        rec.context = step.context.clone();
        rec.sealed_result = None;
        rec.task_token = None;
        Some(rec)
    }

    /// What is asked, in a few words: the action, or for a plan how many steps and theirs.
    pub fn what(&self) -> String {
        let Some(plan) = &self.plan else {
            return self.request.action.to_string();
        };
        let mut actions: Vec<String> = Vec::new();
        for s in &plan.steps {
            let a = s.request.action.to_string();
            if !actions.contains(&a) {
                actions.push(a);
            }
        }
        format!(
            "a plan of {} steps ({})",
            plan.steps.len(),
            actions.join(", ")
        )
    }

    /// Whether the impact preview was read: the request's, or for a plan its steps'.
    pub fn previewed(&self) -> bool {
        match &self.plan {
            Some(p) => p.steps.iter().any(|s| s.preview.is_some()),
            None => self.preview.is_some(),
        }
    }

    /// Keeps each step's impact preview, once, while the plan waits for approval, with one
    /// `previewed` event. `None` when there is nothing to record (decided meanwhile, read
    /// already, or not one preview per step).
    pub fn record_step_previews(
        &mut self,
        previews: Vec<crate::preview::Preview>,
        now: u64,
    ) -> Option<Event> {
        if self.status != Status::Pending || self.previewed() {
            return None;
        }
        let plan = self.plan.as_mut()?;
        if previews.len() != plan.steps.len() {
            return None;
        }
        for (s, p) in plan.steps.iter_mut().zip(&previews) {
            s.preview = Some(p.clone());
        }
        let detail = json!({"previews": serde_json::to_value(&previews).unwrap_or(Value::Null)});
        Some(self.push_event(EventKind::Previewed, None, detail, now))
    }
}

fn request_hash_of(plan: &Option<Plan>, i: usize) -> Option<String> {
    plan.as_ref()
        .and_then(|p| p.steps.get(i))
        .map(|s| s.request.hash())
}

impl Scope {
    /// The session policy for this scope: each IAM action on its own resources. Fails
    /// closed: no IAM action, no resource, or a per-action scope that does not match its
    /// actions and resources is not run (nothing falls back to a wider policy).
    pub fn session_policy(&self, region: &str) -> Result<String, Failure> {
        let refuse = |message: &str| Failure::new(FailureCode::UnscopedRequest, message);
        if self.iam_actions.is_empty() {
            return Err(refuse(
                "the request names no IAM action to allow, so no session policy can scope it; it is not run",
            ));
        }
        if self.resources.is_empty() {
            return Err(refuse(
                "the request names no resource to allow; it is not run",
            ));
        }
        if self.action_resources.is_empty() {
            return Ok(crate::scope::session_policy(
                &self.iam_actions,
                &self.resources,
                region,
            ));
        }
        let same_actions = self.action_resources.len() == self.iam_actions.len()
            && self
                .iam_actions
                .iter()
                .all(|a| self.action_resources.contains_key(a));
        let within = self
            .action_resources
            .values()
            .all(|r| !r.is_empty() && r.iter().all(|a| self.resources.contains(a)));
        if !same_actions || !within {
            return Err(refuse(
                "the request's per-action resources do not match its actions and resources; it is not run",
            ));
        }
        Ok(crate::scope::scoped_session_policy(
            &self.action_resources,
            region,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::execution::{Claim, Outcome};
    use crate::fixtures::who;
    use crate::record::Verdict;

    const ROLE: Option<&str> = Some("arn:aws:iam::111122223333:role/t");

    fn region(_: &NewRequest) -> String {
        "us-east-1".into()
    }

    fn body(steps: Value) -> Vec<u8> {
        json!({"reason": "migrate orders", "steps": steps})
            .to_string()
            .into_bytes()
    }

    fn parse(steps: Value) -> Result<NewPlan, ApiError> {
        parse_plan(&body(steps), "us-east-1", 5)
    }

    fn decision(effect: Effect, id: &str) -> Decision {
        Decision {
            effect,
            policy_ids: vec![id.into()],
            reason: format!("by {id}"),
            mask: Default::default(),
            requires: Default::default(),
            breakglass: None,
        }
    }

    fn approval(group: &str, n: u32, timeout: u64) -> Effect {
        Effect::Approval {
            approvals: n,
            requirements: vec![GroupRequirement::of(group, n)],
            timeout_seconds: timeout,
        }
    }

    fn scope(resource: &str) -> Scope {
        Scope {
            iam_actions: vec!["dynamodb:PutItem".into()],
            resources: vec![resource.into()],
            action_resources: Default::default(),
        }
    }

    /// A plan record of `effects`, one PutItem step each on table `t{i}`.
    fn plan_record(effects: Vec<Effect>) -> RequestRecord {
        let calls: Vec<Value> = (0..effects.len())
            .map(|i| json!({"action": "dynamodb:PutItem", "params": {"TableName": format!("t{i}"), "Item": {}}}))
            .collect();
        let plan = parse(json!(calls)).unwrap();
        let steps = plan
            .steps
            .iter()
            .zip(effects)
            .enumerate()
            .map(|(i, (r, e))| {
                PlanStep::new(
                    r.clone(),
                    decision(e, &format!("p{i}")),
                    scope(&format!("arn:t{i}")),
                )
            })
            .collect();
        RequestRecord::new_plan("P1".into(), plan, steps, who("agent", &[]), 1).0
    }

    fn resolved(rec: &RequestRecord, i: usize) -> Result<ResolvedStep, Failure> {
        let s = &rec.plan.as_ref().unwrap().steps[i];
        Ok(ResolvedStep {
            request: s.request.clone(),
            scope: s.scope.clone(),
        })
    }

    fn claim(rec: &mut RequestRecord, i: usize) -> StepClaim {
        let r = resolved(rec, i);
        rec.claim_step(i, 10, ROLE, r, region).unwrap().0
    }

    fn statuses(rec: &RequestRecord) -> Vec<StepStatus> {
        rec.plan
            .as_ref()
            .unwrap()
            .steps
            .iter()
            .map(|s| s.status)
            .collect()
    }

    fn ok(v: Value) -> Outcome {
        Outcome::Succeeded {
            result: v,
            sealed_result: None,
        }
    }

    #[test]
    fn a_plan_parses_with_one_reason_and_numbered_errors() {
        let p = parse(json!([{"action": "s3:ListBuckets"}, {"action": "sqs:ListQueues", "region": "eu-west-1"}])).unwrap();
        assert_eq!(p.steps.len(), 2);
        assert_eq!(p.steps[1].region, "eu-west-1");
        assert!(
            p.steps
                .iter()
                .all(|s| s.reason.as_deref() == Some("migrate orders"))
        );

        let e = parse(
            json!([{"action": "s3:ListBuckets"}, {"action": "s3:ListBuckets", "region": "moon"}]),
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("steps[1].region"));
        assert!(e.message.starts_with("steps[1].region: "), "{}", e.message);
        let e = parse(json!([{"action": "s3:ListBuckets", "reason": "mine"}])).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("steps[0].reason"));
        let e = parse(json!([1])).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("steps[0]"));
        let e = parse(json!([])).unwrap_err();
        assert!(e.message.contains("1 to 5 steps, not 0"), "{}", e.message);
        let six: Vec<Value> = (0..6)
            .map(|_| json!({"action": "s3:ListBuckets"}))
            .collect();
        let e = parse(json!(six)).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("steps"));
        let e = parse_plan(br#"{"steps": [], "extra": 1}"#, "us-east-1", 5).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("extra"));
        let e = parse_plan(br#"{"steps": {}}"#, "us-east-1", 5).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("steps"));
    }

    #[test]
    fn how_a_plan_runs_is_checked_and_approved_with_it() {
        let with = |extra: Value| {
            let mut b = json!({"steps": [{"action": "s3:ListBuckets"}]});
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            parse_plan(b.to_string().as_bytes(), "us-east-1", 5)
        };
        let at_once = with(json!({})).unwrap();
        assert_eq!(
            (at_once.run, at_once.window_seconds),
            (RunMode::AtOnce, None)
        );
        assert_eq!(with(json!({"run": "at_once"})).unwrap(), at_once);
        let by_calls = with(json!({"run": "by_calls"})).unwrap();
        assert_eq!(
            (by_calls.run, by_calls.window_seconds),
            (RunMode::ByCalls, Some(DEFAULT_WINDOW_SECONDS))
        );
        let w600 = with(json!({"run": "by_calls", "window_seconds": 600})).unwrap();
        assert_eq!(w600.window_seconds, Some(600));
        assert_eq!(
            with(json!({"run": "by_calls", "window_seconds": 600.0})).unwrap(),
            w600
        );
        // Each way of running, and each window, is a different approval; a plan run at
        // once hashes as plans always have.
        let hashes = [&at_once, &by_calls, &w600].map(NewPlan::hash);
        assert_ne!(hashes[0], hashes[1]);
        assert_ne!(hashes[1], hashes[2]);
        assert_eq!(
            hashes[0],
            sha256_hex(canonical_json(&json!({"plan": [at_once.steps[0].hash()]})).as_bytes())
        );

        for (extra, field, why) in [
            (json!({"run": "later"}), "run", "`\"later\"` is not a way"),
            (json!({"run": 1}), "run", "`by_calls`"),
            (
                json!({"run": "by_calls", "window_seconds": 4}),
                "window_seconds",
                "from 5 to 86400",
            ),
            (
                json!({"run": "by_calls", "window_seconds": 86401}),
                "window_seconds",
                "from 5 to 86400",
            ),
            (
                json!({"run": "by_calls", "window_seconds": "600"}),
                "window_seconds",
                "whole number",
            ),
            (
                json!({"run": "by_calls", "window_seconds": 1.5}),
                "window_seconds",
                "whole number",
            ),
            (
                json!({"window_seconds": 600}),
                "window_seconds",
                "only to a plan with `run: by_calls`",
            ),
        ] {
            let e = with(extra.clone()).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{extra}");
            assert!(e.message.contains(why), "{extra}: {}", e.message);
        }
    }

    #[test]
    fn references_point_only_at_earlier_steps() {
        let step = |r: &str| json!({"action": "dynamodb:PutItem", "params": {"TableName": "t", "Item": {"a": {"S": {"$ref": r}}}}});
        assert!(
            parse(json!([{"action": "s3:ListBuckets"}, step("steps[0].answer.Buckets[0].Name")]))
                .is_ok()
        );
        for (r, field, why) in [
            (
                "steps[1].answer.X",
                "steps[1].params.Item.a.S",
                "does not run before",
            ),
            (
                "steps[7].answer.X",
                "steps[1].params.Item.a.S",
                "does not run before",
            ),
            ("steps[0].anwser.X", "steps[1].params.Item.a.S", "`.answer`"),
        ] {
            let e = parse(json!([{"action": "s3:ListBuckets"}, step(r)])).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{r}");
            assert!(e.message.contains(why), "{r}: {}", e.message);
        }
        let e = parse(json!([step("steps[0].answer.X")])).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("steps[0].params.Item.a.S"));
    }

    #[test]
    fn stand_ins_differ_and_leave_the_rest_alone() {
        let p = json!({"A": {"$ref": "steps[0].answer.X"}, "B": "b"});
        let [a, b] = with_stand_ins(p.as_object().unwrap());
        assert_ne!(a["A"], b["A"]);
        assert!(a["A"].is_string());
        assert_eq!(a["B"], "b");
        assert!(has_references(p.as_object().unwrap()));
        assert!(!has_references(&a));
    }

    #[test]
    fn the_plan_is_decided_by_its_strictest_steps() {
        let rec = plan_record(vec![Effect::Allow, Effect::Allow]);
        assert_eq!(rec.decision.effect, Effect::Allow);
        assert_eq!(rec.status, Status::Approved);

        let rec = plan_record(vec![
            Effect::Allow,
            approval("dba", 1, 600),
            approval("security", 2, 300),
        ]);
        let Effect::Approval {
            approvals,
            requirements,
            timeout_seconds,
        } = &rec.decision.effect
        else {
            panic!("{:?}", rec.decision)
        };
        assert_eq!((*approvals, *timeout_seconds), (2, 300));
        assert_eq!(
            requirements,
            &vec![
                GroupRequirement::of("dba", 1),
                GroupRequirement::of("security", 2)
            ]
        );
        assert_eq!(rec.decision.policy_ids, ["p1", "p2"]);
        assert!(
            rec.decision.reason.contains("steps[1]: by p1"),
            "{}",
            rec.decision.reason
        );
        assert_eq!(rec.status, Status::Pending);

        let rec = plan_record(vec![Effect::Allow, approval("dba", 1, 600), Effect::Deny]);
        assert_eq!(rec.status, Status::Denied);
        assert_eq!(statuses(&rec), [StepStatus::NotRun; 3]);
        assert!(
            rec.decision
                .reason
                .starts_with("steps[2] (dynamodb:PutItem): by p2"),
            "{}",
            rec.decision.reason
        );
        assert_eq!(rec.decision.policy_ids, ["p2"]);
    }

    #[test]
    fn one_vote_decides_the_whole_plan_bound_to_every_step() {
        let mut rec = plan_record(vec![approval("dba", 1, 600), approval("security", 1, 600)]);
        let hash = rec.request_hash.clone();
        assert_eq!(hash, rec.plan.as_ref().unwrap().hash());
        assert_ne!(hash, rec.request.hash());
        // A dba alone does not approve what security must also see.
        let (o, _) = rec
            .vote(&who("d", &["dba"]), Verdict::Approve, None, 2)
            .unwrap();
        assert_eq!(o, crate::record::VoteOutcome::Recorded);
        let (o, _) = rec
            .vote(&who("s", &["security"]), Verdict::Approve, None, 3)
            .unwrap();
        assert_eq!(o, crate::record::VoteOutcome::Approved);

        // Any change to any step is a different plan.
        let mut altered = rec.clone();
        altered.plan.as_mut().unwrap().steps[1]
            .request
            .params
            .insert("TableName".into(), json!("prod"));
        assert!(
            altered
                .check_binding(Some(&altered.content_hash()))
                .is_err()
        );
        let (c, _) = altered.claim_for_execution(4, ROLE, region).unwrap();
        assert!(matches!(c, Claim::Refused(f) if f.code == FailureCode::RequestAltered));
        assert_eq!(statuses(&altered), [StepStatus::NotRun, StepStatus::NotRun]);
    }

    #[test]
    fn steps_run_in_order_once_each_and_the_first_failure_stops_the_rest() {
        let mut rec = plan_record(vec![Effect::Allow, Effect::Allow, Effect::Allow]);
        // Nothing runs before the plan is claimed.
        assert_eq!(claim(&mut rec, 0), StepClaim::Skip);
        let (c, ev) = rec.claim_for_execution(2, None, region).unwrap();
        assert_eq!(c, Claim::RunPlan);
        assert_eq!(ev[0].detail["steps"], 3);
        assert_eq!(rec.status, Status::Executing);
        // Not out of order.
        assert_eq!(claim(&mut rec, 1), StepClaim::Skip);
        let StepClaim::Run { session_policy, .. } = claim(&mut rec, 0) else {
            panic!()
        };
        assert!(session_policy.contains("arn:t0"), "{session_policy}");
        assert!(!session_policy.contains("arn:t1"), "{session_policy}");
        // Claimed once: a second claim of the same step does nothing.
        assert_eq!(claim(&mut rec, 0), StepClaim::Skip);
        let ev = rec.record_step_outcome(0, ok(json!({"x": 1})), 3).unwrap();
        assert_eq!(ev[0].kind, EventKind::StepExecuted);
        assert!(
            rec.record_step_outcome(0, ok(json!({})), 3)
                .unwrap()
                .is_empty()
        );
        assert!(matches!(claim(&mut rec, 1), StepClaim::Run { .. }));
        let aws = Failure::new(
            FailureCode::Aws("ResourceNotFoundException".into()),
            "no table",
        );
        let ev = rec.record_step_outcome(1, Outcome::Failed(aws), 4).unwrap();
        assert_eq!(
            ev.iter().map(|e| e.kind).collect::<Vec<_>>(),
            [EventKind::StepFailed, EventKind::Failed]
        );
        assert_eq!(rec.status, Status::Failed);
        assert_eq!(
            statuses(&rec),
            [
                StepStatus::Succeeded,
                StepStatus::Failed,
                StepStatus::NotRun
            ]
        );
        let e = rec.error.as_ref().unwrap();
        assert!(
            e.message.starts_with(
                "steps[1] (dynamodb:PutItem) failed, so the 1 step(s) after it did not run"
            ),
            "{}",
            e.message
        );
        assert_eq!(claim(&mut rec, 2), StepClaim::Skip);
        assert_eq!(
            rec.plan.as_ref().unwrap().steps[0].result,
            Some(json!({"x": 1}))
        );
    }

    #[test]
    fn the_last_step_succeeding_ends_the_plan() {
        let mut rec = plan_record(vec![Effect::Allow, Effect::Allow]);
        rec.claim_for_execution(2, None, region).unwrap();
        for i in 0..2 {
            assert!(matches!(claim(&mut rec, i), StepClaim::Run { .. }));
            rec.record_step_outcome(i, ok(json!({})), 3).unwrap();
        }
        assert_eq!(rec.status, Status::Succeeded);
        assert_eq!(statuses(&rec), [StepStatus::Succeeded; 2]);
    }

    #[test]
    fn an_interrupted_plan_is_never_resumed() {
        let mut rec = plan_record(vec![Effect::Allow, Effect::Allow]);
        rec.claim_for_execution(2, None, region).unwrap();
        claim(&mut rec, 0);
        // The executor died mid-step; its retry finds the plan EXECUTING.
        let (c, _) = rec.claim_for_execution(5, None, region).unwrap();
        assert!(
            matches!(&c, Claim::Refused(f) if f.code == FailureCode::ExecutionInterrupted),
            "{c:?}"
        );
        assert_eq!(statuses(&rec), [StepStatus::Failed, StepStatus::NotRun]);
        assert_eq!(
            rec.plan.as_ref().unwrap().steps[0]
                .error
                .as_ref()
                .unwrap()
                .may_have_run,
            Some(true)
        );
    }

    #[test]
    fn a_resolved_reference_cannot_widen_what_was_approved() {
        let mut rec = plan_record(vec![Effect::Allow, Effect::Allow]);
        rec.claim_for_execution(2, None, region).unwrap();
        let mut wider = resolved(&rec, 0).unwrap();
        wider.scope.resources.push("arn:prod".into());
        let (c, ev) = rec.claim_step(0, 3, ROLE, Ok(wider), region).unwrap();
        assert!(
            matches!(&c, StepClaim::Refused(f) if f.code == FailureCode::ReferenceRefused),
            "{c:?}"
        );
        assert_eq!(ev[0].kind, EventKind::StepFailed);
        assert_eq!(rec.status, Status::Failed);
        assert_eq!(statuses(&rec), [StepStatus::Failed, StepStatus::NotRun]);

        // An unresolvable reference fails the step the same way, nothing called.
        let mut rec = plan_record(vec![Effect::Allow]);
        rec.claim_for_execution(2, None, region).unwrap();
        let f = Failure::new(FailureCode::ReferenceRefused, "not in the answer");
        let (c, _) = rec.claim_step(0, 3, ROLE, Err(f), region).unwrap();
        assert!(matches!(c, StepClaim::Refused(_)));
        // A step whose target has no role is not run.
        let mut rec = plan_record(vec![Effect::Allow]);
        rec.claim_for_execution(2, None, region).unwrap();
        let r = resolved(&rec, 0);
        let (c, _) = rec.claim_step(0, 3, None, r, region).unwrap();
        assert!(matches!(&c, StepClaim::Refused(f) if f.code == FailureCode::UnknownTarget));
    }

    #[test]
    fn references_resolve_from_earlier_answers_as_stored() {
        let calls = json!([
            {"action": "dynamodb:CreateTable", "params": {"TableName": "t"}},
            {"action": "dynamodb:PutItem", "params": {"TableName": "t", "Item": {"arn": {"S": {"$ref": "steps[0].answer.TableDescription.TableArn"}}}}},
            {"action": "dynamodb:PutItem", "params": {"TableName": "t", "Item": {"k": {"S": {"$ref": "steps[0].answer.TableDescription.Secret"}}}}},
        ]);
        let plan = parse(calls).unwrap();
        let steps = plan
            .steps
            .iter()
            .map(|r| PlanStep::new(r.clone(), decision(Effect::Allow, "p"), scope("arn:t")))
            .collect();
        let (mut rec, _) = RequestRecord::new_plan("P".into(), plan, steps, who("agent", &[]), 1);
        // Before step 0 has answered there is nothing to read.
        let e = rec.resolve_step(1).unwrap_err();
        assert_eq!(e.code, FailureCode::ReferenceRefused);
        assert!(
            e.message
                .starts_with("steps[1].params.Item.arn.S: steps[0] has no answer"),
            "{}",
            e.message
        );
        rec.plan.as_mut().unwrap().steps[0].result = Some(
            json!({"TableDescription": {"TableArn": "arn:aws:dynamodb:us-east-1:1:table/t", "Secret": "****MASKED****"}}),
        );
        let r = rec.resolve_step(1).unwrap();
        assert_eq!(
            r.params["Item"]["arn"]["S"],
            "arn:aws:dynamodb:us-east-1:1:table/t"
        );
        assert_eq!(r.params["TableName"], "t");
        // A masked value stays masked: it is not passed on.
        assert!(rec.resolve_step(2).unwrap_err().message.contains("masked"));
    }

    #[test]
    fn each_step_is_shown_and_previewed_as_a_call_of_its_own() {
        use crate::preview::{Preview, PreviewStatus};
        let mut rec = plan_record(vec![approval("dba", 1, 60), Effect::Allow]);
        let one = rec.step_record(1).unwrap();
        assert_eq!(one.request.params["TableName"], "t1");
        assert_eq!(one.request.reason.as_deref(), Some("migrate orders"));
        assert_eq!(one.resources, ["arn:t1"]);
        assert_eq!(one.decision.effect, Effect::Allow);
        assert!(one.plan.is_none());
        assert!(rec.step_record(2).is_none());

        let p = |n: &str| Preview::without_facts(PreviewStatus::Unavailable, n, 2, 1);
        assert!(rec.record_step_previews(vec![p("only one")], 2).is_none());
        let ev = rec.record_step_previews(vec![p("a"), p("b")], 2).unwrap();
        assert_eq!(ev.kind, EventKind::Previewed);
        assert!(rec.previewed());
        assert!(rec.record_step_previews(vec![p("c"), p("d")], 3).is_none());
        assert_eq!(rec.step_record(1).unwrap().preview.unwrap().notes, ["b"]);
    }

    #[test]
    fn a_plan_that_ends_unrun_marks_every_step_and_keeps_no_secret() {
        let calls = json!([{"action": "secretsmanager:PutSecretValue", "params": {"SecretId": "db", "SecretString": "hunter2"}}]);
        let plan = parse(calls).unwrap();
        let steps = vec![PlanStep::new(
            plan.steps[0].clone(),
            decision(approval("dba", 1, 60), "p"),
            scope("arn:s"),
        )];
        let (mut rec, events) =
            RequestRecord::new_plan("P".into(), plan, steps, who("agent", &[]), 1);
        assert!(!serde_json::to_string(&events).unwrap().contains("hunter2"));
        assert!(!rec.view().to_string().contains("hunter2"));
        assert_eq!(
            events[0].detail["steps"][0]["action"],
            "secretsmanager:PutSecretValue"
        );
        assert_eq!(
            rec.plan.as_ref().unwrap().steps[0].request.params["SecretString"],
            "hunter2"
        );
        rec.cancel(&who("agent", &[]), 2).unwrap();
        assert_eq!(statuses(&rec), [StepStatus::NotRun]);
        assert!(!serde_json::to_string(&rec).unwrap().contains("hunter2"));
    }
}
