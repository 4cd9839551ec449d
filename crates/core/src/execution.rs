//! A request's run, as the record keeps it: claimed once, then succeeded or failed. The claim is
//! the "executed at most once" promise: it moves an approved request to EXECUTING under the
//! store's conditional write, and a request found already EXECUTING is failed, never run again.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{Event, EventKind};
use crate::error::ApiError;
use crate::failure::{Failure, FailureCode};
use crate::record::RequestRecord;
use crate::request::NewRequest;
use crate::status::Status;

/// What claiming a request found.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// This invocation owns the call: run it as `role_arn` under `session_policy`.
    Run {
        role_arn: String,
        session_policy: String,
    },
    /// This invocation owns the plan: run its steps in order, claiming each
    /// ([`RequestRecord::claim_step`]).
    RunPlan,
    /// The plan runs by its agent's calls: it is now parked, EXECUTING until its window
    /// ends, and nothing runs now ([`crate::plan::join`]).
    Parked,
    /// The request may not run; it is now FAILED for this reason, and nothing was called.
    Refused(Failure),
    /// Nothing to do: it ran already, or is not approved. Report the record as it is.
    Skip,
}

/// How a call ended, as the executor hands it over to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The answer as stored (masked, bounded) and what `@unmask` reveals, sealed.
    Succeeded {
        result: Value,
        sealed_result: Option<String>,
    },
    Failed(Failure),
}

/// A request the API has just written as allowed, handed to the executor with the invocation
/// so that the executor's claim needs no read first: the record exactly as stored (`doc`, the
/// stored document) at version `seq`. The executor claims it with a write conditioned on both
/// (the store's `commit` with `prev_doc`), so a handover that is stale, duplicated or not what the
/// table holds never runs anything: it loses the write and the executor reads the record as
/// usual.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Handover {
    pub seq: u64,
    pub doc: String,
}

impl Handover {
    /// The record handed over, when it is the request `id` at version `seq`; `None` for
    /// anything else (the executor then reads the record instead).
    pub fn record(&self, id: &str) -> Option<RequestRecord> {
        let rec: RequestRecord = serde_json::from_str(&self.doc).ok()?;
        (rec.id == id && rec.seq == self.seq).then_some(rec)
    }
}

/// The executor's answer to an invocation that came with a [`Handover`]: the whole record as
/// it wrote it, so the API answers the agent without reading it back.
pub fn handover_answer(rec: &RequestRecord) -> Value {
    json!({"record": rec, "sealed_result": rec.sealed_result})
}

/// The record in an answer made by [`handover_answer`]; `None` for any other answer.
pub fn record_in_answer(answer: &Value) -> Option<RequestRecord> {
    let mut rec: RequestRecord = serde_json::from_value(answer.get("record")?.clone()).ok()?;
    rec.sealed_result = answer
        .get("sealed_result")
        .and_then(Value::as_str)
        .map(str::to_string);
    Some(rec)
}

impl RequestRecord {
    /// Claims an approved request for execution. `role_arn` is the role configured for the
    /// request's target (if any); `signing_region` says which region the call is signed for
    /// (global services sign for a fixed one), which the session policy is bound to.
    ///
    /// Once only: a request found EXECUTING means an earlier attempt died after its claim,
    /// maybe mid-call, and is failed rather than called a second time. A request whose
    /// parameters no longer hash to what was approved, whose target has no role, or that no
    /// session policy can scope is failed without calling AWS.
    pub fn claim_for_execution(
        &mut self,
        now: u64,
        role_arn: Option<&str>,
        signing_region: impl FnOnce(&NewRequest) -> String,
    ) -> Result<(Claim, Vec<Event>), ApiError> {
        match self.runnable(role_arn, signing_region) {
            Ok(None) => Ok((Claim::Skip, vec![])),
            Err(failure) => {
                let ev = self.fail(failure.clone(), now)?;
                Ok((Claim::Refused(failure), vec![ev]))
            }
            Ok(Some(_)) if self.plan.as_ref().is_some_and(|p| !p.run.is_at_once()) => {
                Ok((Claim::Parked, vec![self.park(now)?]))
            }
            Ok(Some(_)) if self.plan.is_some() => {
                let ev = self.transition(
                    Status::Executing,
                    EventKind::ExecutionStarted,
                    None,
                    json!({
                        "steps": self.plan.as_ref().map_or(0, |p| p.steps.len()),
                        "source_identity": self.agent.source_identity(),
                        "request_hash": self.request_hash,
                    }),
                    now,
                )?;
                Ok((Claim::RunPlan, vec![ev]))
            }
            Ok(Some((role_arn, session_policy))) => {
                let ev = self.transition(
                    Status::Executing,
                    EventKind::ExecutionStarted,
                    None,
                    json!({
                        "role_arn": role_arn,
                        "session_policy": serde_json::from_str::<Value>(&session_policy).unwrap_or(Value::Null),
                        "source_identity": self.agent.source_identity(),
                        "request_hash": self.request_hash,
                    }),
                    now,
                )?;
                Ok((
                    Claim::Run {
                        role_arn,
                        session_policy,
                    },
                    vec![ev],
                ))
            }
        }
    }

    /// Parks an approved plan run by calls: EXECUTING, taking its agent's calls until its
    /// window (counted from now, the approval's execution) ends.
    fn park(&mut self, now: u64) -> Result<Event, ApiError> {
        let plan = self
            .plan
            .as_mut()
            .ok_or_else(|| ApiError::internal("not a plan: nothing to park"))?;
        let window = plan
            .window_seconds
            .unwrap_or(crate::plan::DEFAULT_WINDOW_SECONDS);
        let until = now + window * 1000;
        plan.calls_until = Some(until);
        let steps = plan.steps.len();
        self.transition(
            Status::Executing,
            EventKind::PlanParked,
            None,
            json!({
                "steps": steps,
                "window_seconds": window,
                "calls_until": until,
                "source_identity": self.agent.source_identity(),
                "request_hash": self.request_hash,
            }),
            now,
        )
    }

    /// The role and session policy to run with; `None` when there is nothing to run.
    fn runnable(
        &self,
        role_arn: Option<&str>,
        signing_region: impl FnOnce(&NewRequest) -> String,
    ) -> Result<Option<(String, String)>, Failure> {
        match self.status {
            Status::Approved => {}
            // A parked plan's steps are claimed one by one as its agent calls them; an
            // invocation of the whole plan again (a retried workflow task) has nothing to do.
            Status::Executing if self.plan.as_ref().is_some_and(|p| p.parked()) => {
                return Ok(None);
            }
            Status::Executing => {
                return Err(Failure::new(
                    FailureCode::ExecutionInterrupted,
                    "an earlier execution attempt did not finish; the call is not repeated",
                )
                .with_may_have_run(true));
            }
            _ => return Ok(None),
        }
        if self.content_hash() != self.request_hash {
            return Err(Failure::new(
                FailureCode::RequestAltered,
                "the request no longer matches what was approved",
            ));
        }
        if self.plan.is_some() {
            // Each step has its own target and scope, checked as it is claimed.
            return Ok(Some((String::new(), String::new())));
        }
        let Some(role_arn) = role_arn else {
            return Err(Failure::new(
                FailureCode::UnknownTarget,
                format!("target `{}` is not configured", self.request.target),
            ));
        };
        let policy = self.scoped_policy(&signing_region(&self.request))?;
        Ok(Some((role_arn.to_string(), policy)))
    }

    /// The session policy for this request: each IAM action on its own resources. Fails
    /// closed: a record that names no IAM action, no resource, or a per-action scope that
    /// does not match its actions and resources is not run (the operation's name is never
    /// taken for its IAM action, and nothing falls back to a wider policy).
    pub fn scoped_policy(&self, region: &str) -> Result<String, Failure> {
        crate::plan::Scope {
            iam_actions: self.iam_actions.clone(),
            resources: self.resources.clone(),
            action_resources: self.action_resources.clone(),
        }
        .session_policy(region)
    }

    /// Ends the request FAILED for `failure`, kept in the record and in the `failed` event.
    pub fn fail(&mut self, failure: Failure, now: u64) -> Result<Event, ApiError> {
        let detail = json!({ "error": failure });
        let ev = self.transition(Status::Failed, EventKind::Failed, None, detail, now)?;
        if let Some(plan) = &mut self.plan {
            // A step caught running when the plan failed (an interrupted executor) may have run.
            for s in plan
                .steps
                .iter_mut()
                .filter(|s| s.status == crate::plan::StepStatus::Running)
            {
                s.status = crate::plan::StepStatus::Failed;
                s.error = Some(failure.clone());
            }
        }
        self.error = Some(failure);
        Ok(ev)
    }

    /// Records how the claimed call ended. Only a request still EXECUTING takes an outcome:
    /// one found otherwise was settled by someone else (a retry that failed it as
    /// interrupted), and gets no events.
    pub fn record_outcome(&mut self, outcome: Outcome, now: u64) -> Result<Vec<Event>, ApiError> {
        if self.status != Status::Executing {
            return Ok(vec![]);
        }
        let ev = match outcome {
            Outcome::Succeeded {
                result,
                sealed_result,
            } => {
                // An upload's trail says what was authorised; S3 takes the bytes later.
                let detail = self
                    .upload
                    .as_ref()
                    .map_or_else(|| json!({}), |u| u.audit_detail());
                let ev =
                    self.transition(Status::Succeeded, EventKind::Executed, None, detail, now)?;
                self.result = Some(result);
                self.sealed_result = sealed_result;
                ev
            }
            Outcome::Failed(failure) => self.fail(failure, now)?,
        };
        Ok(vec![ev])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::Effect;
    use crate::fixtures;
    use crate::identity::Identity;

    const ROLE: Option<&str> = Some("arn:aws:iam::111122223333:role/t");

    fn record(iam_actions: &[&str], resources: &[&str]) -> RequestRecord {
        fixtures::record(
            r#"{"action":"s3:CopyObject","params":{"Bucket":"dst","Key":"k2","CopySource":"src/k1"},"reason":"r"}"#,
            Identity::default(),
            Effect::Allow,
            iam_actions,
            resources,
        )
    }

    fn approved() -> RequestRecord {
        let rec = record(&["s3:GetObject"], &["arn:aws:s3:::src/k1"]);
        assert_eq!(rec.status, Status::Approved);
        rec
    }

    fn region(_: &NewRequest) -> String {
        "us-east-1".into()
    }

    fn failed_with(rec: &RequestRecord) -> FailureCode {
        assert_eq!(rec.status, Status::Failed);
        rec.error.as_ref().unwrap().code.clone()
    }

    #[test]
    fn an_approved_request_is_claimed_once() {
        let mut rec = approved();
        let (claim, events) = rec.claim_for_execution(2, ROLE, region).unwrap();
        let Claim::Run {
            role_arn,
            session_policy,
        } = claim
        else {
            panic!("{claim:?}")
        };
        assert_eq!(role_arn, ROLE.unwrap());
        assert!(session_policy.contains("s3:GetObject"), "{session_policy}");
        assert_eq!(rec.status, Status::Executing);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, EventKind::ExecutionStarted);
        assert_eq!(events[0].detail["request_hash"], rec.request_hash);
        assert_eq!(events[0].detail["role_arn"], role_arn);
    }

    #[test]
    fn a_request_found_executing_is_failed_and_never_run_again() {
        let mut rec = approved();
        rec.claim_for_execution(2, ROLE, region).unwrap();
        let seq = rec.seq;
        let (claim, events) = rec
            .claim_for_execution(3, ROLE, |_| panic!("no policy is built for a second run"))
            .unwrap();
        assert!(
            matches!(&claim, Claim::Refused(f) if f.code == FailureCode::ExecutionInterrupted),
            "{claim:?}"
        );
        assert_eq!(failed_with(&rec), FailureCode::ExecutionInterrupted);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, EventKind::Failed);
        assert_eq!(events[0].detail["error"]["code"], "execution_interrupted");
        assert_eq!(rec.seq, seq + 1);
        // Final now: later attempts find nothing to do.
        let (claim, events) = rec.claim_for_execution(4, ROLE, region).unwrap();
        assert_eq!(claim, Claim::Skip);
        assert!(events.is_empty());
    }

    #[test]
    fn only_approved_requests_are_claimed() {
        for status in [Status::Pending, Status::Rejected, Status::Succeeded] {
            let mut rec = approved();
            rec.status = status;
            let (claim, events) = rec.claim_for_execution(2, ROLE, region).unwrap();
            assert_eq!(claim, Claim::Skip, "{status}");
            assert!(events.is_empty());
            assert_eq!(rec.status, status);
        }
    }

    #[test]
    fn an_altered_request_is_failed_without_a_call() {
        let mut rec = approved();
        rec.request
            .params
            .insert("Bucket".into(), json!("someone-elses"));
        let (claim, _) = rec.claim_for_execution(2, ROLE, region).unwrap();
        assert!(matches!(claim, Claim::Refused(_)));
        assert_eq!(failed_with(&rec), FailureCode::RequestAltered);
    }

    #[test]
    fn an_unconfigured_target_or_an_unscoped_request_is_failed_without_a_call() {
        let mut rec = approved();
        rec.claim_for_execution(2, None, region).unwrap();
        assert_eq!(failed_with(&rec), FailureCode::UnknownTarget);
        assert!(
            rec.error.as_ref().unwrap().message.contains("`default`"),
            "{:?}",
            rec.error
        );
        let mut rec = record(&[], &["*"]);
        rec.claim_for_execution(2, ROLE, region).unwrap();
        assert_eq!(failed_with(&rec), FailureCode::UnscopedRequest);
    }

    #[test]
    fn no_iam_action_or_resource_means_no_policy() {
        let e = record(&[], &["*"]).scoped_policy("us-east-1").unwrap_err();
        assert_eq!(e.code, FailureCode::UnscopedRequest);
        assert!(
            record(&["s3:GetObject"], &[])
                .scoped_policy("us-east-1")
                .is_err()
        );
    }

    #[test]
    fn each_action_is_allowed_its_own_resources() {
        let mut rec = record(
            &["s3:GetObject", "s3:PutObject"],
            &["arn:aws:s3:::src/k1", "arn:aws:s3:::dst/k2"],
        );
        rec.action_resources = [
            (
                "s3:GetObject".to_string(),
                vec!["arn:aws:s3:::src/k1".to_string()],
            ),
            (
                "s3:PutObject".to_string(),
                vec!["arn:aws:s3:::dst/k2".to_string()],
            ),
        ]
        .into();
        let p: Value = serde_json::from_str(&rec.scoped_policy("us-east-1").unwrap()).unwrap();
        assert_eq!(p["Statement"].as_array().unwrap().len(), 2, "{p}");
        // A scope reaching past the request's resources, or missing an action, is refused.
        let mut wider = rec.clone();
        wider
            .action_resources
            .insert("s3:GetObject".into(), vec!["*".into()]);
        assert!(wider.scoped_policy("us-east-1").is_err());
        let mut fewer = rec.clone();
        fewer.action_resources.remove("s3:PutObject");
        assert!(fewer.scoped_policy("us-east-1").is_err());
        // Records from before per-action scopes: one statement.
        rec.action_resources.clear();
        let p: Value = serde_json::from_str(&rec.scoped_policy("us-east-1").unwrap()).unwrap();
        assert_eq!(p["Statement"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn the_outcome_is_recorded_once_and_only_for_the_running_claim() {
        let mut rec = approved();
        rec.claim_for_execution(2, ROLE, region).unwrap();
        let events = rec
            .record_outcome(
                Outcome::Succeeded {
                    result: json!({"ok": 1}),
                    sealed_result: Some("sealed".into()),
                },
                3,
            )
            .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, EventKind::Executed);
        assert_eq!(rec.status, Status::Succeeded);
        assert_eq!(rec.result, Some(json!({"ok": 1})));
        assert_eq!(rec.sealed_result.as_deref(), Some("sealed"));
        // A late second outcome changes nothing.
        let failure = Failure::aws("AccessDenied", "no", 403);
        assert!(
            rec.record_outcome(Outcome::Failed(failure.clone()), 4)
                .unwrap()
                .is_empty()
        );
        assert_eq!(rec.status, Status::Succeeded);
        assert_eq!(rec.error, None);

        let mut rec = approved();
        rec.claim_for_execution(2, ROLE, region).unwrap();
        let events = rec
            .record_outcome(Outcome::Failed(failure.clone()), 3)
            .unwrap();
        assert_eq!(events[0].kind, EventKind::Failed);
        assert_eq!(
            events[0].detail["error"],
            json!({"code": "AccessDenied", "message": "no", "status": 403})
        );
        assert_eq!(rec.error, Some(failure));
        assert_eq!(rec.result, None);
    }

    #[test]
    fn a_final_request_cannot_be_failed() {
        let mut rec = approved();
        rec.status = Status::Succeeded;
        let e = rec
            .fail(Failure::new(FailureCode::WorkflowError, "late"), 2)
            .unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::AlreadyFinal);
        assert_eq!(rec.error, None);
    }

    #[test]
    fn a_handover_is_taken_only_for_its_request_at_its_version() {
        let rec = approved();
        let doc = serde_json::to_string(&rec).unwrap();
        let handed = Handover {
            seq: rec.seq,
            doc: doc.clone(),
        };
        assert_eq!(handed.record(&rec.id), Some(rec.clone()));
        assert_eq!(handed.record("01OTHER"), None, "another request's id");
        let stale = Handover {
            seq: rec.seq + 1,
            doc,
        };
        assert_eq!(
            stale.record(&rec.id),
            None,
            "a version the document does not have"
        );
        let garbled = Handover {
            seq: rec.seq,
            doc: "{".into(),
        };
        assert_eq!(garbled.record(&rec.id), None);
    }

    #[test]
    fn the_handover_answer_carries_the_whole_record() {
        let mut rec = approved();
        rec.claim_for_execution(2, ROLE, region).unwrap();
        rec.sealed_result = Some("sealed".into());
        assert_eq!(record_in_answer(&handover_answer(&rec)), Some(rec.clone()));
        assert_eq!(
            record_in_answer(&rec.view()),
            None,
            "a plain view is not a record"
        );
    }
}
