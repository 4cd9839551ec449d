//! Performs an approved call exactly once: claims the request, assumes the target role with
//! a session policy naming only this call, sends the signed call, masks the answer and
//! records the outcome.

mod call;

use std::collections::BTreeMap;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tollgate_aws::credentials::{CredentialBroker, ScopedSession};
use tollgate_aws::keys::{KeySource, Purpose};
use tollgate_aws::metrics::Unit;
use tollgate_aws::now_ms;
use tollgate_aws::payloads::S3Payloads;
use tollgate_aws::ports::{CommitError, PayloadStore, RecordStore, SignedCaller, Stored};
use tollgate_aws::presign;
use tollgate_aws::settings::Settings;
use tollgate_aws::signed_http::SignedHttp;
use tollgate_aws::store::Store;
use tollgate_core::answer_size::{MAX_ANSWER_BYTES, MAX_WIRE_ANSWER_BYTES, bound_answer};
use tollgate_core::execution::handover_answer;
use tollgate_core::keyring::KeyRing;
use tollgate_core::mask::MaskRules;
use tollgate_core::plan::join::{self, Join};
use tollgate_core::plan::{ResolvedStep, StepClaim};
use tollgate_core::reconcile::Session;
use tollgate_core::reveal::{self, Revealed};
use tollgate_core::scope::arn_account;
use tollgate_core::upload::{self, Upload};
use tollgate_core::{
    ApiError, Claim, ErrorCode, Failure, FailureCode, Handover, NewRequest, Outcome, RequestRecord,
};

#[derive(Debug, Deserialize)]
pub struct ExecuteEvent {
    pub request_id: String,
    /// The record as the API just wrote it, when the API invokes for an allowed call (Step
    /// Functions sends the id alone).
    #[serde(default)]
    pub handover: Option<Handover>,
    /// A front-door call the API found to be a parked plan's next step.
    #[serde(default)]
    pub join: Option<JoinCall>,
}

/// A front-door call to run as step `step` of the plan, if it still is that step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinCall {
    pub step: usize,
    /// The identity key of the agent that made the call (its verified gateway credentials).
    pub agent_key: String,
    pub call: NewRequest,
}

pub struct Executor {
    settings: Settings,
    store: Arc<dyn RecordStore>,
    broker: CredentialBroker,
    http: Arc<dyn SignedCaller>,
    /// Where front-door bodies too large for the record were put.
    payloads: Arc<dyn PayloadStore>,
    /// Seals what `@unmask` reveals to the requesting agent; the only key the executor reads.
    results_key: KeyRing,
}

/// Largest sealed `@unmask` part kept beside an answer; the answer's own budget shrinks by
/// as much, so the record still fits one DynamoDB item.
const MAX_SEALED_RESULT_BYTES: usize = 64 * 1024;

impl Executor {
    /// Builds the executor at cold start, reading the results key from Secrets Manager.
    pub async fn new(settings: Settings, sdk: &SdkConfig) -> Result<Self, String> {
        let results_key = KeySource::new(sdk)
            .ring(&settings.secrets, Purpose::Results)
            .await?;
        Ok(Self {
            store: Arc::new(Store::new(
                aws_sdk_dynamodb::Client::new(sdk),
                settings.table.clone(),
            )),
            broker: CredentialBroker::new(aws_sdk_sts::Client::new(sdk)),
            http: Arc::new(SignedHttp::new().with_body_limit(MAX_WIRE_ANSWER_BYTES)),
            payloads: Arc::new(
                S3Payloads::new(
                    sdk,
                    settings.payload_bucket.as_deref().unwrap_or_default(),
                    settings.aws_endpoint.as_deref(),
                )
                .map_err(|e| e.to_string())?,
            ),
            results_key,
            settings,
        })
    }

    pub async fn handle(&self, event: Value) -> Result<Value, ApiError> {
        let event: ExecuteEvent = serde_json::from_value(event).map_err(|e| {
            ApiError::new(ErrorCode::InvalidRequest, format!("executor event: {e}"))
        })?;
        let id = event.request_id.as_str();
        if let Some(call) = &event.join {
            return self.join(id, call).await;
        }
        // The API's invocation answers with the whole record, so it need not read it back.
        let answer = |rec: &RequestRecord| match event.handover {
            Some(_) => handover_answer(rec),
            None => rec.view(),
        };
        let started = std::time::Instant::now();
        if let Some(handed) = &event.handover
            && let Some((rec, creds)) = self.claim_handed(id, handed).await?
        {
            return Ok(answer(&self.finish(rec, creds, started).await?));
        }
        let (claim, rec) = self
            .store
            .update(id, |rec| {
                let role_arn = self.settings.targets.get(&rec.request.target).cloned();
                rec.claim_for_execution(now_ms(), role_arn.as_deref(), call::signing_region)
            })
            .await?;
        let (session_policy, role_arn) = match claim {
            Claim::Run {
                session_policy,
                role_arn,
            } => (session_policy, role_arn),
            Claim::RunPlan => return Ok(answer(&self.run_plan(rec).await?)),
            Claim::Parked | Claim::Refused(_) | Claim::Skip => return Ok(answer(&rec)),
        };
        let started = std::time::Instant::now();
        let session = Session::Executor(&rec.id).name();
        let creds = self
            .assume(&rec, &session, &role_arn, &session_policy)
            .await;
        Ok(answer(&self.finish(rec, creds, started).await?))
    }

    /// Runs a claimed plan's steps in order, each claimed on its own (so each runs at most
    /// once), under its own scoped session, its answer kept with the step; the first step
    /// that fails or may not run ends the plan, and the rest are not run.
    async fn run_plan(&self, mut rec: RequestRecord) -> Result<RequestRecord, ApiError> {
        let n = rec.plan.as_ref().map_or(0, |p| p.steps.len());
        for i in 0..n {
            let (claim, claimed) = self
                .store
                .update(&rec.id, |r| claim_step(&self.settings.targets, r, i))
                .await?;
            rec = claimed;
            let StepClaim::Run {
                request,
                role_arn,
                session_policy,
            } = claim
            else {
                break;
            };
            rec = self
                .run_step(rec, i, &request, &role_arn, &session_policy)
                .await?;
            if rec.status != tollgate_core::Status::Executing {
                break;
            }
        }
        Ok(rec)
    }

    /// Joins a front-door call to the parked plan `id` ([`claim_joined`]) and runs the step
    /// it claimed as a plan's step runs. The answer says what happened (`ran`; `running`:
    /// another copy of the call holds the step; `missed`: the call is not the next step now)
    /// with the record as written.
    async fn join(&self, id: &str, call: &JoinCall) -> Result<Value, ApiError> {
        let (joined, rec) =
            claim_joined(self.store.as_ref(), &self.settings.targets, id, call).await?;
        let (outcome, rec) = match joined {
            Joined::Running => ("running", rec),
            Joined::Missed => ("missed", rec),
            Joined::Claimed(claim) => match *claim {
                StepClaim::Run {
                    request,
                    role_arn,
                    session_policy,
                } => {
                    let rec = self
                        .run_step(rec, call.step, &request, &role_arn, &session_policy)
                        .await?;
                    ("ran", rec)
                }
                // The step and the plan are FAILED, nothing was called.
                StepClaim::Refused(_) => ("ran", rec),
                StepClaim::Skip => ("missed", rec),
            },
        };
        tracing::info!(request_id = %id, step = call.step, outcome, "front-door call joined to a plan");
        Ok(json!({"join": outcome, "step": call.step, "record": rec}))
    }

    /// Runs claimed step `i` under its own scoped session and records its outcome.
    async fn run_step(
        &self,
        rec: RequestRecord,
        i: usize,
        request: &NewRequest,
        role_arn: &str,
        session_policy: &str,
    ) -> Result<RequestRecord, ApiError> {
        let n = rec.plan.as_ref().map_or(0, |p| p.steps.len());
        // The record is one DynamoDB item that also holds every step's parameters and
        // preview: the steps' answers share half of one answer's budget.
        let budget = MAX_ANSWER_BYTES / 2 / n.max(1);
        let mask = rec
            .plan
            .as_ref()
            .map(|p| p.steps[i].decision.mask.clone())
            .unwrap_or_default();
        let started = std::time::Instant::now();
        let session = Session::Step(&rec.id, i).name();
        let creds = self.assume(&rec, &session, role_arn, session_policy).await;
        let outcome = match self.perform(creds, request, &mask, started).await {
            // `@unmask` is not carried through plans: each step keeps its masked answer.
            Ok((answer, _)) => Outcome::Succeeded {
                result: bound_answer(answer, budget).0,
                sealed_result: None,
            },
            Err(failure) => Outcome::Failed(failure),
        };
        let (_, recorded) = self
            .store
            .update(&rec.id, |r| {
                Ok(((), r.record_step_outcome(i, outcome.clone(), now_ms())?))
            })
            .await?;
        tracing::info!(request_id = %recorded.id, step = i, status = %recorded.status, "plan step recorded");
        Ok(recorded)
    }

    /// Claims a request the API handed over as it wrote it, with no read first, and asks STS
    /// for the session at the same time: the session is used only if the claim's conditional
    /// write wins. `None` when there is nothing to run from the handover (it is not the record
    /// as stored, was claimed already, or is refused): the usual path then reads the record
    /// and decides, so a refusal or a repeated invocation is recorded as it always is.
    async fn claim_handed(
        &self,
        id: &str,
        handed: &Handover,
    ) -> Result<Option<(RequestRecord, Result<Credentials, Failure>)>, ApiError> {
        let Some(mut rec) = handed.record(id) else {
            return Ok(None);
        };
        let role_arn = self.settings.targets.get(&rec.request.target).cloned();
        let (claim, events) =
            rec.claim_for_execution(now_ms(), role_arn.as_deref(), call::signing_region)?;
        let Claim::Run {
            session_policy,
            role_arn,
        } = claim
        else {
            return Ok(None);
        };
        let session = Session::Executor(&rec.id).name();
        let (claimed, creds) = tokio::join!(
            self.store
                .commit(&rec, handed.seq, Some(&handed.doc), &events),
            self.assume(&rec, &session, &role_arn, &session_policy),
        );
        match claimed {
            Ok(()) => Ok(Some((rec, creds))),
            Err(CommitError::Lost) => {
                tracing::info!(request_id = %id, "handed-over record is not the stored one; reading it");
                Ok(None)
            }
            Err(CommitError::Failed(e)) => Err(e),
        }
    }

    /// Runs the claimed call and records its outcome over the claim this invocation wrote,
    /// without reading the record again unless someone wrote it since.
    async fn finish(
        &self,
        rec: RequestRecord,
        creds: Result<Credentials, Failure>,
        started: std::time::Instant,
    ) -> Result<RequestRecord, ApiError> {
        if let Some(upload) = &rec.upload {
            let outcome = self.authorise_upload(&rec, upload, creds);
            return self.record(rec, outcome).await;
        }
        let outcome = self
            .perform(creds, &rec.request, &rec.decision.mask, started)
            .await;
        let outcome = match outcome {
            Ok((answer, revealed)) => {
                let (result, sealed_result) = self.keep(&rec, answer, &revealed);
                Outcome::Succeeded {
                    result,
                    sealed_result,
                }
            }
            Err(failure) => Outcome::Failed(failure),
        };
        self.record(rec, outcome).await
    }

    /// Records the outcome over the claim this invocation wrote.
    async fn record(
        &self,
        rec: RequestRecord,
        outcome: Outcome,
    ) -> Result<RequestRecord, ApiError> {
        let (_, rec) = self
            .store
            .update_from(rec, |r| {
                Ok(((), r.record_outcome(outcome.clone(), now_ms())?))
            })
            .await?;
        tracing::info!(request_id = %rec.id, status = %rec.status, "execution recorded");
        Ok(rec)
    }

    /// An upload's "call": the presigned `PUT` of exactly the declared bytes, made with the
    /// scoped session, its URL sealed for the requesting agent (the stored answer shows it
    /// masked). Nothing reaches S3 from here; the agent sends the bytes.
    fn authorise_upload(
        &self,
        rec: &RequestRecord,
        upload: &Upload,
        creds: Result<Credentials, Failure>,
    ) -> Outcome {
        let presigned = creds.and_then(|creds| {
            presign::presign_put(
                &creds,
                &rec.request,
                upload,
                self.settings.aws_endpoint.as_deref(),
                std::time::SystemTime::now(),
                std::time::Duration::from_secs(upload::URL_SECONDS),
            )
        });
        let put = match presigned {
            Ok(put) => put,
            Err(failure) => return Outcome::Failed(failure),
        };
        let (result, revealed) = upload.authorised(&put, now_ms() + upload::URL_SECONDS * 1000);
        match reveal::seal_for(&self.results_key, &rec.id, &rec.agent, &revealed) {
            Ok(sealed) => Outcome::Succeeded {
                result,
                sealed_result: Some(sealed),
            },
            // Without its URL the answer is of no use to the agent: failed, and said why.
            Err(e) => {
                tracing::error!(request_id = %rec.id, error = ?e, "upload URL could not be sealed");
                Outcome::Failed(Failure::new(
                    FailureCode::RequestBuildFailed,
                    "the upload URL could not be sealed for the agent; nothing was uploaded",
                ))
            }
        }
    }

    /// Sends the call with the session (when there is one), recording its latency since
    /// `started` and its outcome in the metrics.
    async fn perform(
        &self,
        creds: Result<Credentials, Failure>,
        request: &NewRequest,
        mask: &MaskRules,
        started: std::time::Instant,
    ) -> Result<(Value, Vec<Revealed>), Failure> {
        let outcome = match (creds, self.with_payload(request).await) {
            (Ok(creds), Ok(request)) => {
                call::perform(
                    self.http.as_ref(),
                    &creds,
                    &request,
                    self.settings.aws_endpoint.as_deref(),
                    mask,
                )
                .await
            }
            (Err(failure), _) | (_, Err(failure)) => Err(failure),
        };
        let m = &self.settings.metrics;
        m.put(
            "ExecutorLatency",
            Unit::Milliseconds,
            started.elapsed().as_secs_f64() * 1000.0,
            &[],
        );
        let result = if outcome.is_ok() {
            "succeeded"
        } else {
            "failed"
        };
        m.put("Executions", Unit::Count, 1.0, &[("Outcome", result)]);
        outcome
    }

    /// The call with its body put back from the payload bucket, when it was kept there; the
    /// body must still be the one approved (its length and SHA-256 are in the request hash),
    /// or nothing is sent.
    async fn with_payload<'r>(
        &self,
        request: &'r NewRequest,
    ) -> Result<std::borrow::Cow<'r, NewRequest>, Failure> {
        let Some(payload) = &request.payload else {
            return Ok(std::borrow::Cow::Borrowed(request));
        };
        let missing = |why: &str| {
            Failure::new(
                FailureCode::PayloadMismatch,
                format!("payload: {why}; nothing was sent"),
            )
            .with_may_have_run(false)
        };
        let Some(at) = &payload.location else {
            return Err(missing("the body was never stored"));
        };
        // One byte past the approved length is enough to know it is not the approved body.
        let limit = usize::try_from(payload.length)
            .unwrap_or(usize::MAX)
            .saturating_add(1);
        let bytes = match self.payloads.get(&at.bucket, &at.key, limit).await {
            Ok(Stored::Bytes(bytes)) => bytes,
            Ok(Stored::Missing) => {
                return Err(missing("the stored body is gone (expired or removed)"));
            }
            Ok(Stored::Longer) => {
                return Err(missing("the stored body is longer than the approved one"));
            }
            Err(e) => return Err(Failure::not_sent(e.message)),
        };
        payload.check(&bytes)?;
        Ok(std::borrow::Cow::Owned(NewRequest {
            params: payload.restore(&request.params, &bytes),
            payload: None,
            ..request.clone()
        }))
    }

    /// What is stored of an answer: masked for everyone and bounded in size, and what
    /// `@unmask` reveals sealed for the requesting agent alone. Never the unmasked values in
    /// clear.
    fn keep(
        &self,
        rec: &RequestRecord,
        answer: Value,
        revealed: &[Revealed],
    ) -> (Value, Option<String>) {
        let id = &rec.id;
        let sealed = if revealed.is_empty() {
            None
        } else {
            match reveal::seal_for(&self.results_key, id, &rec.agent, revealed) {
                Ok(s) if s.len() <= MAX_SEALED_RESULT_BYTES => Some(s),
                Ok(s) => {
                    tracing::warn!(request_id = %id, bytes = s.len(), "unmasked values too large to keep; the agent gets the masked answer");
                    None
                }
                Err(e) => {
                    tracing::error!(request_id = %id, error = ?e, "unmasked values could not be sealed; the agent gets the masked answer");
                    None
                }
            }
        };
        let budget = MAX_ANSWER_BYTES - sealed.as_ref().map_or(0, String::len);
        let (answer, summarised) = bound_answer(answer, budget);
        if summarised {
            tracing::warn!(request_id = %id, bytes = %answer["bytes"], "answer too large to keep; summarised");
            // The summary has nothing to put unmasked values back into.
            return (answer, None);
        }
        (answer, sealed)
    }

    /// The session scoped to this call, tagged with the request and its approvers.
    async fn assume(
        &self,
        rec: &RequestRecord,
        session_name: &str,
        role_arn: &str,
        policy: &str,
    ) -> Result<Credentials, Failure> {
        let approvers: Vec<String> = rec.approvers().iter().map(|a| a.subject.clone()).collect();
        let tags = session_tags(&rec.id, &approvers);
        self.broker
            .assume(&ScopedSession {
                role_arn,
                session_name,
                session_policy: policy,
                source_identity: &rec.agent.source_identity(),
                tags: &tags,
            })
            .await
            .map_err(|e| Failure::new(FailureCode::AssumeRoleFailed, e.message))
    }
}

/// What joining a call to a plan found.
#[derive(Debug, Clone, PartialEq)]
pub enum Joined {
    /// The call was the next step; the step's claim as written.
    Claimed(Box<StepClaim>),
    /// The call is the next step, which another copy of it is running.
    Running,
    /// The call is not the plan's next step (any more): it goes the usual way.
    Missed,
}

/// Claims step `call.step` of the parked plan `id` for a front-door call, if the call is
/// still exactly that step: checked on the record as read inside the conditional write
/// that claims it, so of any number of copies of the call one claims the step.
pub async fn claim_joined(
    store: &dyn RecordStore,
    targets: &BTreeMap<String, String>,
    id: &str,
    call: &JoinCall,
) -> Result<(Joined, RequestRecord), ApiError> {
    store.update(id, join_change(targets, call)).await
}

/// The change [`claim_joined`] makes to the plan as read: the claim of the step when the call
/// is still exactly it.
fn join_change<'a>(
    targets: &'a BTreeMap<String, String>,
    call: &'a JoinCall,
) -> impl FnMut(&mut RequestRecord) -> Result<(Joined, Vec<tollgate_core::Event>), ApiError> + 'a {
    move |r| match join::join(r, &call.agent_key, &call.call, now_ms()) {
        Ok(Join::Run(i)) if i == call.step => {
            let (claim, events) = claim_step(targets, r, i)?;
            Ok((Joined::Claimed(Box::new(claim)), events))
        }
        Ok(Join::Running(i)) if i == call.step => Ok((Joined::Running, vec![])),
        _ => Ok((Joined::Missed, vec![])),
    }
}

/// Claims step `i` of `r` (as read inside a conditional update): its references resolved,
/// its scope derived again, its target's role.
fn claim_step(
    targets: &BTreeMap<String, String>,
    r: &mut RequestRecord,
    i: usize,
) -> Result<(StepClaim, Vec<tollgate_core::Event>), ApiError> {
    let role_arn = r
        .plan
        .as_ref()
        .and_then(|p| p.steps.get(i))
        .and_then(|s| targets.get(&s.request.target).cloned());
    let resolved = resolved_step(r, i, role_arn.as_deref());
    r.claim_step(
        i,
        now_ms(),
        role_arn.as_deref(),
        resolved,
        call::signing_region,
    )
}

/// Step `i` with its references resolved and what it then acts on derived again, for
/// [`RequestRecord::claim_step`] to hold against what was approved.
fn resolved_step(
    rec: &RequestRecord,
    i: usize,
    role_arn: Option<&str>,
) -> Result<ResolvedStep, Failure> {
    let request = rec.resolve_step(i)?;
    let account = role_arn.and_then(arn_account).unwrap_or("*");
    let (scope, _) = tollgate_policy::scope_of(&request, account)
        .map_err(|e| Failure::new(FailureCode::ReferenceRefused, e.message))?;
    Ok(ResolvedStep { request, scope })
}

/// Session tags so CloudTrail shows which request and whose approval a call carried. Tag
/// values allow letters, digits, spaces and `_.:/=+-@`, at most 256 characters.
fn session_tags(request_id: &str, approvers: &[String]) -> Vec<(String, String)> {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_alphanumeric() || " _.:/=+-@".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .take(256)
            .collect()
    };
    let mut tags = vec![("tollgate:request".to_string(), clean(request_id))];
    if !approvers.is_empty() {
        tags.push((
            "tollgate:approvers".to_string(),
            clean(&approvers.join(" ")),
        ));
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_tags_are_clean_and_bounded() {
        let tags = session_tags(
            "01J",
            &[
                "alice@example.com".into(),
                "bob<script>".into(),
                "x".repeat(300),
            ],
        );
        assert_eq!(tags[0], ("tollgate:request".into(), "01J".into()));
        assert!(tags[1].1.starts_with("alice@example.com bob_script_"));
        assert_eq!(tags[1].1.chars().count(), 256);
        assert_eq!(session_tags("01J", &[]).len(), 1);
    }

    /// A parked plan of two allowed DynamoDB steps of agent `ci-bot`, in `store`.
    async fn parked(store: &dyn RecordStore) -> RequestRecord {
        use tollgate_core::plan::{PlanStep, parse_plan};
        let body = serde_json::json!({"run": "by_calls", "window_seconds": 60, "reason": "r",
        "steps": [
            {"action": "dynamodb:DeleteItem", "params": {"TableName": "t", "Key": {"id": {"S": "1"}}}},
            {"action": "dynamodb:DeleteTable", "params": {"TableName": "t"}},
        ]});
        let plan = parse_plan(body.to_string().as_bytes(), "us-east-1", 5).unwrap();
        let steps = plan
            .steps
            .iter()
            .map(|r| {
                let (scope, _) = tollgate_policy::scope_of(r, "222222222222").unwrap();
                PlanStep::new(
                    r.clone(),
                    tollgate_core::Decision {
                        effect: tollgate_core::Effect::Allow,
                        policy_ids: vec!["p".into()],
                        reason: "p".into(),
                        mask: Default::default(),
                        requires: Default::default(),
                        breakglass: None,
                    },
                    scope,
                )
            })
            .collect();
        let agent = who("ci-bot");
        let (rec, events) = RequestRecord::new_plan("P1".into(), plan, steps, agent, now_ms());
        store.create(&rec, &events, None).await.unwrap();
        let (claim, rec) = store
            .update("P1", |r| {
                r.claim_for_execution(now_ms(), Some(ROLE), call::signing_region)
            })
            .await
            .unwrap();
        assert_eq!(claim, Claim::Parked);
        rec
    }

    const ROLE: &str = "arn:aws:iam::222222222222:role/target";

    fn who(sub: &str) -> tollgate_core::Identity {
        tollgate_core::Identity {
            issuer: "https://idp".into(),
            subject: sub.into(),
            name: sub.into(),
            ..Default::default()
        }
    }

    fn joining(rec: &RequestRecord, step: usize, agent: &str) -> JoinCall {
        let mut call = rec.plan.as_ref().unwrap().steps[step].request.clone();
        call.reason = Some("front door".into());
        JoinCall {
            step,
            agent_key: who(agent).key(),
            call,
        }
    }

    #[tokio::test]
    async fn copies_of_a_joined_call_racing_claim_its_step_once() {
        let store: Arc<dyn RecordStore> = Arc::new(tollgate_aws::store::memory::MemoryStore::new());
        let rec = parked(store.as_ref()).await;
        let targets = BTreeMap::from([("default".to_string(), ROLE.to_string())]);
        let call = joining(&rec, 0, "ci-bot");
        // The worst interleaving: eight copies of the call read the plan at the same version,
        // each finds its step waiting and claims it, and each writes its claim.
        let mut copies = Vec::new();
        for _ in 0..8 {
            copies.push(store.get("P1").await.unwrap().unwrap());
        }
        let mut wins = 0;
        for mut copy in copies {
            assert_eq!(copy.seq, rec.seq);
            let (joined, events) = join_change(&targets, &call)(&mut copy).unwrap();
            let Joined::Claimed(claim) = joined else {
                panic!("{joined:?}")
            };
            let StepClaim::Run { session_policy, .. } = *claim else {
                panic!("{claim:?}")
            };
            assert!(
                session_policy.contains("dynamodb:DeleteItem"),
                "{session_policy}"
            );
            if store.commit(&copy, rec.seq, None, &events).await.is_ok() {
                wins += 1;
            }
        }
        assert_eq!(wins, 1, "one copy of the call claims the step");
        let events = store.events("P1").await.unwrap();
        let started = events
            .iter()
            .filter(|e| e.kind == tollgate_core::EventKind::StepStarted)
            .count();
        assert_eq!(started, 1);
        // A loser that reads again finds the step running.
        let (j, _) = claim_joined(store.as_ref(), &targets, "P1", &call)
            .await
            .unwrap();
        assert_eq!(j, Joined::Running);

        // Another agent's identical call, and a later step out of turn, join nothing.
        let other = joining(&rec, 0, "someone-else");
        let (j, _) = claim_joined(store.as_ref(), &targets, "P1", &other)
            .await
            .unwrap();
        assert_eq!(j, Joined::Missed);
        let later = joining(&rec, 1, "ci-bot");
        let (j, _) = claim_joined(store.as_ref(), &targets, "P1", &later)
            .await
            .unwrap();
        assert_eq!(j, Joined::Missed);
    }
}
