//! A request as stored: what was asked, by whom, what policy said, the votes, the outcome and
//! the head of its audit chain. All state changes go through methods here, so the rules
//! (who may vote, which moves are legal, what is recorded) live in one place.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{Event, EventKind, GENESIS_HASH};
use crate::decision::{Decision, Effect, GroupRequirement};
use crate::error::{ApiError, ErrorCode};
use crate::failure::Failure;
use crate::identity::Identity;
use crate::request::NewRequest;
use crate::status::Status;

pub const MAX_COMMENT_CHARS: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vote {
    pub approver: Identity,
    pub verdict: Verdict,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    pub at: u64,
    /// What the approver offered to allow again with this approval (`crate::grant`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<crate::grant::GrantTerms>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub id: String,
    pub status: Status,
    pub request: NewRequest,
    pub request_hash: String,
    pub agent: Identity,
    pub decision: Decision,
    /// What the shadow policies would have decided (`TOLLGATE_SHADOW_POLICY_SOURCE`): kept
    /// for comparison and metrics, never enforced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<Decision>,
    /// The IAM actions the operation needs; the session policy allows exactly these.
    #[serde(default)]
    pub iam_actions: Vec<String>,
    /// ARNs the call acts on, as derived from its parameters.
    pub resources: Vec<String>,
    /// Per IAM action, the ARNs it acts on: the session policy gives each action only its
    /// own (`s3:CopyObject` reads its source and writes its destination). Empty in records
    /// written before it was kept; those get one statement for all.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub action_resources: std::collections::BTreeMap<String, Vec<String>>,
    /// What policy was shown besides the call (account, time, caller address, rate counts),
    /// so `tollgate policy replay` can decide it again on the same input. `None` in records
    /// written before it was kept, and for a plan (each step keeps its own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<crate::replay::DecisionContext>,
    pub created_at: u64,
    pub updated_at: u64,
    /// When an approval request lapses (ms), for requests that need one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    #[serde(default)]
    pub votes: Vec<Vote>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
    /// What the call touches as it was when the request was held (masked and bounded), read
    /// once before the first notice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<crate::preview::Preview>,
    /// Why it failed, once FAILED.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Failure>,
    /// Number of audit events so far; also the optimistic-concurrency version of the record.
    pub seq: u64,
    pub last_hash: String,
    /// The Step Functions task token. Never shown to anyone, never logged.
    #[serde(default, skip_serializing)]
    pub task_token: Option<String>,
    /// What `@unmask` lets the requesting agent see besides the stored (masked) result,
    /// sealed for that agent and request (`tollgate_core::reveal`, `aead`). Kept beside the
    /// record like the task token: never in its document, a view or a listing index.
    #[serde(default, skip_serializing)]
    pub sealed_result: Option<String>,
    /// The steps, when this record is a plan (`POST /v1/plans`); `request` is then its first
    /// step with the plan's reason, and `request_hash` covers every step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<crate::plan::Plan>,
    /// How it was approved when a break-glass group member approved it alone, and whether
    /// a second approver has acknowledged that since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakglass: Option<crate::breakglass::BreakGlassUse>,
    /// The grant that ran this request without a new approval, and its original approvers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<crate::grant::GrantUse>,
    /// The grant that matched this request but could not run it (used up, expired,
    /// revoked): why it waits for approval anyway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_not_used: Option<crate::grant::GrantMiss>,
    /// What was declared about the bytes when this is an upload by presigned URL
    /// (`POST /v1/uploads`); `request_hash` covers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload: Option<crate::upload::Upload>,
}

/// How far one group requirement has come: how many counted approvals are from its group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Progress {
    #[serde(flatten)]
    pub requirement: GroupRequirement,
    pub have: u32,
}

impl Progress {
    pub fn missing(&self) -> u32 {
        self.requirement.approvals.saturating_sub(self.have)
    }
}

/// What a vote led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoteOutcome {
    /// Counted; more approvals are needed.
    Recorded,
    /// Quorum reached: the request may run.
    Approved,
    Rejected,
}

impl RequestRecord {
    /// A new record with its first events: `submitted` and `decided`.
    pub fn new(
        id: String,
        request: NewRequest,
        agent: Identity,
        decision: Decision,
        iam_actions: Vec<String>,
        resources: Vec<String>,
        now: u64,
    ) -> (Self, Vec<Event>) {
        Self::create(
            id,
            request,
            None,
            None,
            agent,
            decision,
            iam_actions,
            resources,
            now,
        )
    }

    /// A new upload by presigned URL: the `s3:PutObject` it is, with what was declared about
    /// its bytes, which approvals bind as they bind the call.
    #[allow(clippy::too_many_arguments)]
    pub fn new_upload(
        id: String,
        request: NewRequest,
        upload: crate::upload::Upload,
        agent: Identity,
        decision: Decision,
        iam_actions: Vec<String>,
        resources: Vec<String>,
        now: u64,
    ) -> (Self, Vec<Event>) {
        Self::create(
            id,
            request,
            None,
            Some(upload),
            agent,
            decision,
            iam_actions,
            resources,
            now,
        )
    }

    /// What approvals bind: the call's hash, for a plan every step's, for an upload the
    /// call's with the declared bytes.
    pub fn content_hash(&self) -> String {
        match (&self.plan, &self.upload) {
            (Some(plan), _) => plan.hash(),
            (None, None) => self.request.hash(),
            (None, Some(upload)) => upload.hash(&self.request),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn create(
        id: String,
        request: NewRequest,
        plan: Option<crate::plan::Plan>,
        upload: Option<crate::upload::Upload>,
        agent: Identity,
        decision: Decision,
        iam_actions: Vec<String>,
        resources: Vec<String>,
        now: u64,
    ) -> (Self, Vec<Event>) {
        let status = match decision.effect {
            Effect::Allow => Status::Approved,
            Effect::Deny => Status::Denied,
            Effect::Approval { .. } => Status::Pending,
        };
        let expires_at = match decision.effect {
            Effect::Approval {
                timeout_seconds, ..
            } => Some(now + timeout_seconds * 1000),
            _ => None,
        };
        let mut rec = RequestRecord {
            id,
            status,
            request_hash: match (&plan, &upload) {
                (Some(p), _) => p.hash(),
                (None, None) => request.hash(),
                (None, Some(u)) => u.hash(&request),
            },
            request,
            agent,
            decision,
            shadow: None,
            iam_actions,
            resources,
            action_resources: Default::default(),
            context: None,
            created_at: now,
            updated_at: now,
            expires_at,
            votes: vec![],
            result: None,
            preview: None,
            error: None,
            seq: 0,
            last_hash: GENESIS_HASH.to_string(),
            task_token: None,
            sealed_result: None,
            plan,
            breakglass: None,
            grant: None,
            grant_not_used: None,
            upload,
        };
        if status.is_final()
            && let Some(plan) = &mut rec.plan
        {
            // Denied at once: no step will ever run.
            plan.finish();
        }
        let mut submitted_detail = json!({
            "action": rec.request.action.to_string(),
            "region": rec.request.region,
            "target": rec.request.target,
            // Everything in clear but name-masked secrets, which keep their length and
            // digest: the trail shows what ran, and the hash binds the exact values.
            "params": masked_params(&rec.request.params),
            "reason": rec.request.reason,
            "request_hash": rec.request_hash,
        });
        if let Some(p) = &rec.request.payload {
            submitted_detail["payload"] = p.hashed();
        }
        let mut decided_detail = json!({"decision": rec.decision, "status": rec.status, "iam_actions": rec.iam_actions, "resources": rec.resources});
        if let Some(upload) = &rec.upload {
            submitted_detail["upload"] = json!(upload);
        }
        if let Some(plan) = &rec.plan {
            submitted_detail["steps"] = json!(plan.shown());
            decided_detail["steps"] = plan
                .steps
                .iter()
                .map(|s| json!({"decision": s.decision, "iam_actions": s.scope.iam_actions, "resources": s.scope.resources}))
                .collect();
        }
        let submitted = rec.push_event(
            EventKind::Submitted,
            Some(rec.agent.clone()),
            submitted_detail,
            now,
        );
        let decided = rec.push_event(EventKind::Decided, None, decided_detail, now);
        (rec, vec![submitted, decided])
    }

    /// Appends an audit event, advancing the chain head.
    pub fn push_event(
        &mut self,
        kind: EventKind,
        actor: Option<Identity>,
        detail: Value,
        now: u64,
    ) -> Event {
        let e = Event::new(self.seq + 1, kind, now, actor, detail, &self.last_hash);
        self.seq = e.seq;
        self.last_hash = e.hash.clone();
        self.updated_at = now;
        e
    }

    /// Adds `extra` members to the detail of `ev`, the event this record last pushed, and
    /// hashes it again, so the chain stays whole.
    pub(crate) fn amend_last(&mut self, ev: &mut Event, extra: &[(&str, Value)]) {
        if let Value::Object(m) = &mut ev.detail {
            for (k, v) in extra {
                m.insert((*k).to_string(), v.clone());
            }
        }
        ev.hash = ev.compute_hash();
        self.last_hash = ev.hash.clone();
    }

    /// Moves to `to` if that move is legal, recording `kind`.
    pub fn transition(
        &mut self,
        to: Status,
        kind: EventKind,
        actor: Option<Identity>,
        detail: Value,
        now: u64,
    ) -> Result<Event, ApiError> {
        if !self.status.can_move_to(to) {
            return Err(self.not_movable(to));
        }
        let from = self.status;
        self.status = to;
        if to.is_final() {
            // The call will never run again: secrets in its parameters need not be kept (their
            // length and digest are). The request hash still binds what was asked.
            if let Value::Object(masked) = masked_params(&self.request.params) {
                self.request.params = masked;
            }
            if let Some(plan) = &mut self.plan {
                plan.finish();
            }
        }
        let mut detail = detail;
        if let Value::Object(m) = &mut detail {
            m.insert("from".into(), json!(from));
            m.insert("to".into(), json!(to));
        }
        Ok(self.push_event(kind, actor, detail, now))
    }

    fn not_movable(&self, to: Status) -> ApiError {
        let code = if self.status.is_final() {
            ErrorCode::AlreadyFinal
        } else {
            ErrorCode::Conflict
        };
        ApiError::new(
            code,
            format!(
                "request {} is {}; it cannot become {to}",
                self.id, self.status
            ),
        )
        .with_detail(json!({"status": self.status}))
    }

    /// Records an approver's vote, enforcing who may vote and how often.
    pub fn vote(
        &mut self,
        approver: &Identity,
        verdict: Verdict,
        comment: Option<String>,
        now: u64,
    ) -> Result<(VoteOutcome, Vec<Event>), ApiError> {
        self.vote_with_grant(approver, verdict, comment, None, now)
    }

    /// [`vote`](Self::vote), with the grant the approver offers (an approval only, within the
    /// bound the deciding policies set; never on a plan).
    pub fn vote_with_grant(
        &mut self,
        approver: &Identity,
        verdict: Verdict,
        comment: Option<String>,
        grant: Option<crate::grant::GrantTerms>,
        now: u64,
    ) -> Result<(VoteOutcome, Vec<Event>), ApiError> {
        if self.status != Status::Pending {
            return Err(self.not_movable(match verdict {
                Verdict::Approve => Status::Approved,
                Verdict::Reject => Status::Rejected,
            }));
        }
        if let Some(c) = &comment
            && c.chars().count() > MAX_COMMENT_CHARS
        {
            return Err(ApiError::field(
                "comment",
                format!("longer than {MAX_COMMENT_CHARS} characters"),
            ));
        }
        self.check_voter(approver, verdict)?;
        if verdict == Verdict::Approve {
            self.decision.requires.check(comment.as_deref())?;
        }
        if let Some(terms) = &grant {
            match (verdict, self.decision.requires.grant, &self.plan) {
                (Verdict::Reject, _, _) => {
                    return Err(ApiError::field(
                        "grant_uses",
                        "only an approval offers a grant",
                    ));
                }
                (_, _, Some(_)) => {
                    return Err(ApiError::beyond_policy(
                        "grant_uses",
                        "a plan allows no grant",
                    ));
                }
                (_, None, _) => {
                    return Err(ApiError::beyond_policy(
                        "grant_uses",
                        "this request's policy allows no grant",
                    ));
                }
                (_, Some(bound), None) => bound.check(terms)?,
            }
        }
        self.votes.push(Vote {
            approver: approver.clone(),
            verdict,
            comment: comment.clone(),
            at: now,
            grant,
        });
        let mut detail =
            json!({"verdict": verdict, "comment": comment, "request_hash": self.request_hash});
        if let Some(terms) = &grant {
            detail["grant"] = json!(terms);
        }
        let mut events =
            vec![self.push_event(EventKind::Voted, Some(approver.clone()), detail, now)];
        let approvals = self.approvers().len() as u32;
        let outcome = match verdict {
            Verdict::Reject => {
                events.push(self.transition(
                    Status::Rejected,
                    EventKind::Rejected,
                    Some(approver.clone()),
                    json!({"comment": comment}),
                    now,
                )?);
                VoteOutcome::Rejected
            }
            Verdict::Approve if self.quorum() => {
                events.push(self.transition(
                    Status::Approved,
                    EventKind::Approved,
                    None,
                    json!({"approvals": approvals}),
                    now,
                )?);
                VoteOutcome::Approved
            }
            Verdict::Approve => VoteOutcome::Recorded,
        };
        Ok((outcome, events))
    }

    /// Refuses a vote cast on what the approver saw when it is not what is stored: the page
    /// and Slack send the hash they showed, and a mismatch means the approver decided on
    /// something else.
    pub fn check_binding(&self, seen_hash: Option<&str>) -> Result<(), ApiError> {
        match seen_hash {
            None => Ok(()),
            Some(h) if crate::seal::same_secret(h, &self.request_hash) => Ok(()),
            Some(_) => Err(ApiError::new(
                ErrorCode::Conflict,
                "request_hash: does not match the request as stored; reload it and decide again",
            )
            .with_field("request_hash")),
        }
    }

    /// Each requirement with the approvals so far that count toward it (an approver counts
    /// toward every requirement whose group they were in when they voted).
    pub fn progress(&self) -> Vec<Progress> {
        let approvers = self.approvers();
        self.decision
            .requirements()
            .iter()
            .map(|r| Progress {
                requirement: r.clone(),
                have: approvers.iter().filter(|a| r.admits(a)).count() as u32,
            })
            .collect()
    }

    /// What each group still has to give, in words ("1 from `security`"); empty once none.
    pub fn still_needed(&self) -> Vec<String> {
        self.progress()
            .iter()
            .filter(|p| p.missing() > 0)
            .map(|p| p.requirement.describe(p.missing()))
            .collect()
    }

    /// "1 of 2 (still needed: 1 from `security`)", for pages and notices.
    pub fn approvals_summary(&self) -> String {
        let have = self.approvers().len();
        let need = self.decision.required_approvals();
        match self.still_needed() {
            missing if missing.is_empty() => format!("{have} of {need}"),
            missing => format!("{have} of {need} (still needed: {})", missing.join(" and ")),
        }
    }

    /// Every requirement holds, and at least the decision's number of approvers agreed.
    fn quorum(&self) -> bool {
        self.approvers().len() as u32 >= self.decision.required_approvals()
            && self.progress().iter().all(|p| p.missing() == 0)
    }

    /// Whether `approver` could decide this request now (an approver's queue).
    pub fn awaits_vote_from(&self, approver: &Identity) -> bool {
        self.status == Status::Pending && self.check_voter(approver, Verdict::Approve).is_ok()
    }

    /// Whether an approver may see this request, its result and its events: someone a
    /// requirement admits, someone who voted on it, the requester's own person, or a member
    /// of its break-glass groups. Requests that needed no approval have no approvers.
    pub fn visible_to_approver(&self, who: &Identity) -> bool {
        who.same_human(&self.agent)
            || self.votes.iter().any(|v| v.approver.same_human(who))
            || self.decision.requirements().iter().any(|r| r.admits(who))
            || self
                .decision
                .breakglass
                .as_ref()
                .is_some_and(|g| g.admits(who))
    }

    /// Keeps the impact preview, once, while the request waits for approval, with its audit
    /// event. `None` when there is nothing to record: decided meanwhile, or previewed already
    /// (a retried notifier).
    pub fn record_preview(&mut self, preview: crate::preview::Preview, now: u64) -> Option<Event> {
        if self.status != Status::Pending || self.preview.is_some() {
            return None;
        }
        // Nested, not flat: a trail's `status` fields are request statuses (the chain check
        // reads the last one), and a preview has a status of its own.
        let detail = json!({"preview": serde_json::to_value(&preview).unwrap_or(Value::Null)});
        self.preview = Some(preview);
        Some(self.push_event(EventKind::Previewed, None, detail, now))
    }

    /// The requesting agent withdraws its request while it waits for approval.
    pub fn cancel(&mut self, agent: &Identity, now: u64) -> Result<Vec<Event>, ApiError> {
        if !agent.same_principal(&self.agent) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "only the requesting agent may cancel a request",
            ));
        }
        if self.status != Status::Pending {
            return Err(self.not_movable(Status::Cancelled));
        }
        let ev = self.transition(
            Status::Cancelled,
            EventKind::Cancelled,
            Some(agent.clone()),
            json!({}),
            now,
        )?;
        Ok(vec![ev])
    }

    /// The approvers whose approval counted, for notices and session tags.
    pub fn approvers(&self) -> Vec<&Identity> {
        self.votes
            .iter()
            .filter(|v| v.verdict == Verdict::Approve)
            .map(|v| &v.approver)
            .collect()
    }

    /// What the API shows: everything but the chain internals and the task token, with
    /// secrets in the parameters masked.
    pub fn view(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.remove("seq");
            m.remove("last_hash");
            if let Some(req) = m.get_mut("request") {
                req["params"] = masked_params(&self.request.params);
            }
            if let Some(plan) = &self.plan {
                m.insert("plan".into(), plan.view());
            }
            m.insert(
                "approvals_required".into(),
                json!(self.decision.required_approvals()),
            );
            if !self.decision.requirements().is_empty() {
                m.insert("approvals_progress".into(), json!(self.progress()));
            }
        }
        v
    }
}

/// The parameters as a human or a log may see them: members named as secrets masked (with
/// their length and digest), everything else exactly as it will run.
pub fn masked_params(params: &serde_json::Map<String, Value>) -> Value {
    crate::mask::mask_params(params)
}

/// The parameters as an approver reads them: [`masked_params`], with a body kept beside
/// the record shown in its member by length and SHA-256, never its bytes.
pub fn shown_params(req: &crate::NewRequest) -> Value {
    let mut v = masked_params(&req.params);
    if let (Some(p), Value::Object(m)) = (&req.payload, &mut v) {
        m.insert(p.member.clone(), Value::String(p.describe()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures::who;
    use crate::request::parse_new_request;

    fn pending(approvals: u32, group: Option<&str>) -> RequestRecord {
        pending_with(
            approvals,
            vec![GroupRequirement::any_of(
                group.map(str::to_string),
                approvals,
            )],
        )
    }

    fn pending_with(approvals: u32, requirements: Vec<GroupRequirement>) -> RequestRecord {
        pending_trail(approvals, requirements).0
    }

    /// A pending record and the events its creation wrote.
    fn pending_trail(
        approvals: u32,
        requirements: Vec<GroupRequirement>,
    ) -> (RequestRecord, Vec<Event>) {
        let req = parse_new_request(
            br#"{"action":"dynamodb:DeleteTable","params":{"TableName":"t"},"reason":"r"}"#,
            "us-east-1",
        )
        .unwrap();
        let decision = Decision {
            effect: Effect::Approval {
                approvals,
                requirements,
                timeout_seconds: 60,
            },
            policy_ids: vec!["p".into()],
            reason: "r".into(),
            mask: Default::default(),
            requires: Default::default(),
            breakglass: None,
        };
        RequestRecord::new(
            "R1".into(),
            req,
            who("agent", &[]),
            decision,
            vec![],
            vec![],
            1,
        )
    }

    #[test]
    fn new_records_start_a_valid_chain() {
        let req = parse_new_request(br#"{"action":"s3:ListBuckets"}"#, "us-east-1").unwrap();
        let d = Decision {
            effect: Effect::Allow,
            policy_ids: vec![],
            reason: String::new(),
            mask: Default::default(),
            requires: Default::default(),
            breakglass: None,
        };
        let (rec, events) =
            RequestRecord::new("R".into(), req, who("a", &[]), d, vec![], vec![], 5);
        assert_eq!(rec.status, Status::Approved);
        assert_eq!(rec.seq, 2);
        crate::audit::verify_chain(&events).unwrap();
        assert_eq!(rec.last_hash, events[1].hash);
    }

    #[test]
    fn only_the_requester_cancels_and_only_while_pending() {
        let mut r = pending(1, None);
        let e = r.cancel(&who("mallory", &[]), 2).unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert_eq!(r.status, Status::Pending);
        let events = r.cancel(&who("agent", &[]), 3).unwrap();
        assert_eq!(r.status, Status::Cancelled);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, EventKind::Cancelled);
        let e = r.cancel(&who("agent", &[]), 4).unwrap_err();
        assert_eq!(e.code, ErrorCode::AlreadyFinal);
        let e = r
            .vote(&who("alice", &[]), Verdict::Approve, None, 5)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::AlreadyFinal);
    }

    #[test]
    fn a_preview_is_kept_once_and_only_while_pending() {
        use crate::preview::{Preview, PreviewStatus};
        let p = |note: &str| Preview::without_facts(PreviewStatus::Failed, note, 2, 1);
        let (mut r, mut trail) = pending_trail(1, vec![GroupRequirement::anyone(1)]);
        let ev = r.record_preview(p("first"), 2).expect("recorded");
        assert_eq!(ev.kind, EventKind::Previewed);
        assert_eq!(ev.detail["preview"]["notes"][0], "first");
        // The trail still verifies with the preview last: its status is not the request's.
        trail.push(ev.clone());
        assert_eq!(
            crate::audit::verify_trail(r.seq, &r.last_hash, r.status.as_str(), &trail),
            Ok(())
        );
        assert!(r.record_preview(p("second"), 3).is_none());
        assert_eq!(r.preview.as_ref().unwrap().notes, ["first"]);
        assert!(r.view()["preview"]["status"] == "failed");
        let mut done = pending(1, None);
        done.cancel(&who("agent", &[]), 2).unwrap();
        assert!(done.record_preview(p("late"), 3).is_none());
        assert!(done.preview.is_none());
    }

    #[test]
    fn an_approvers_queue_holds_what_it_may_decide() {
        let mut r = pending(2, Some("dba"));
        assert!(r.awaits_vote_from(&who("alice", &["dba"])));
        assert!(!r.awaits_vote_from(&who("bob", &["dev"])));
        assert!(!r.awaits_vote_from(&who("agent", &["dba"])));
        r.vote(&who("alice", &["dba"]), Verdict::Approve, None, 2)
            .unwrap();
        assert!(!r.awaits_vote_from(&who("alice", &["dba"])));
        assert!(r.awaits_vote_from(&who("carol", &["dba"])));
        r.vote(&who("carol", &["dba"]), Verdict::Approve, None, 3)
            .unwrap();
        assert!(!r.awaits_vote_from(&who("dave", &["dba"])));
    }

    #[test]
    fn quorum_needs_distinct_approvers() {
        let mut r = pending(2, None);
        let (o, _) = r
            .vote(&who("alice", &[]), Verdict::Approve, None, 2)
            .unwrap();
        assert_eq!(o, VoteOutcome::Recorded);
        let e = r
            .vote(&who("alice", &[]), Verdict::Approve, None, 3)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::AlreadyVoted);
        let (o, events) = r.vote(&who("bob", &[]), Verdict::Approve, None, 4).unwrap();
        assert_eq!(o, VoteOutcome::Approved);
        assert_eq!(r.status, Status::Approved);
        assert_eq!(events.len(), 2);
        let e = r
            .vote(&who("carol", &[]), Verdict::Approve, None, 5)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
    }

    #[test]
    fn one_rejection_rejects() {
        let mut r = pending(2, None);
        r.vote(&who("alice", &[]), Verdict::Approve, None, 2)
            .unwrap();
        let (o, _) = r
            .vote(&who("bob", &[]), Verdict::Reject, Some("no".into()), 3)
            .unwrap();
        assert_eq!(o, VoteOutcome::Rejected);
        assert_eq!(r.status, Status::Rejected);
        let e = r
            .vote(&who("carol", &[]), Verdict::Approve, None, 4)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::AlreadyFinal);
    }

    #[test]
    fn requester_and_outsiders_cannot_vote() {
        let mut r = pending(1, Some("dba"));
        let e = r
            .vote(&who("agent", &["dba"]), Verdict::Approve, None, 2)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::SelfApproval);
        let e = r
            .vote(&who("eve", &["dev"]), Verdict::Approve, None, 2)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert!(r.votes.is_empty());
        let (o, _) = r
            .vote(&who("dan", &["dba"]), Verdict::Approve, None, 2)
            .unwrap();
        assert_eq!(o, VoteOutcome::Approved);
    }

    #[test]
    fn secrets_in_params_are_masked_in_views_and_events_but_kept_for_execution() {
        let req = parse_new_request(
            br#"{"action":"secretsmanager:PutSecretValue","params":{"SecretId":"db","SecretString":"hunter2"},"reason":"rotate"}"#,
            "us-east-1",
        )
        .unwrap();
        let d = Decision {
            effect: Effect::Allow,
            policy_ids: vec![],
            reason: String::new(),
            mask: Default::default(),
            requires: Default::default(),
            breakglass: None,
        };
        let (rec, events) =
            RequestRecord::new("R".into(), req, who("a", &[]), d, vec![], vec![], 5);
        assert!(!rec.view().to_string().contains("hunter2"));
        assert!(!serde_json::to_string(&events).unwrap().contains("hunter2"));
        assert_eq!(rec.request.params["SecretString"], "hunter2");
        assert_eq!(events[0].detail["request_hash"], rec.request_hash);
        // Once final, the record keeps no secret either.
        let mut rec = rec;
        rec.transition(
            Status::Executing,
            EventKind::ExecutionStarted,
            None,
            json!({}),
            6,
        )
        .unwrap();
        rec.transition(Status::Succeeded, EventKind::Executed, None, json!({}), 7)
            .unwrap();
        assert!(!serde_json::to_string(&rec).unwrap().contains("hunter2"));
    }

    #[test]
    fn approvers_and_the_trail_see_what_will_run() {
        // A PEM marker in a buildspec would once mask the whole script on every channel.
        let body = json!({
            "action": "codebuild:StartBuild",
            "params": {
                "projectName": "deploy-prod",
                "buildspecOverride": "version: 0.2\nphases:\n  build:\n    commands:\n      - aws iam attach-role-policy --role-name ci\n# -----BEGIN PRIVATE KEY-----",
                "environmentVariablesOverride": [{"name": "STAGE", "value": "prod"}],
                "Password": "hunter2"
            },
            "reason": "re-run"
        });
        let req = parse_new_request(body.to_string().as_bytes(), "us-east-1").unwrap();
        let script = req.params["buildspecOverride"].clone();
        let d = Decision {
            effect: Effect::Approval {
                approvals: 1,
                requirements: vec![GroupRequirement::anyone(1)],
                timeout_seconds: 60,
            },
            policy_ids: vec![],
            reason: String::new(),
            mask: Default::default(),
            requires: Default::default(),
            breakglass: None,
        };
        let (mut rec, events) =
            RequestRecord::new("R".into(), req, who("a", &[]), d, vec![], vec![], 5);
        let digest = crate::audit::sha256_hex(b"hunter2");
        let want = format!("****MASKED**** (7 chars, sha256 {digest})");
        for seen in [
            rec.view()["request"]["params"].clone(),
            events[0].detail["params"].clone(),
        ] {
            assert_eq!(seen["buildspecOverride"], script, "{seen}");
            assert_eq!(seen["environmentVariablesOverride"][0]["value"], "prod");
            assert_eq!(seen["Password"], want);
        }
        rec.transition(Status::Rejected, EventKind::Rejected, None, json!({}), 6)
            .unwrap();
        // Once final the stored params keep the script and the secret's length and digest.
        assert_eq!(rec.request.params["buildspecOverride"], script);
        assert_eq!(rec.request.params["Password"], want);
        assert_eq!(rec.view()["request"]["params"]["Password"], want);
    }

    #[test]
    fn approvals_carry_what_the_policy_requires() {
        let mut r = pending(1, None);
        r.decision.requires = crate::decision::Requirement {
            ticket: true,
            min_justification: 0,
            ..Default::default()
        };
        let e = r
            .vote(&who("alice", &[]), Verdict::Approve, Some("fine".into()), 2)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
        assert!(e.message.contains("ticket"), "{}", e.message);
        assert!(r.votes.is_empty());
        // A rejection needs no ticket.
        let mut r2 = r.clone();
        r2.vote(&who("bob", &[]), Verdict::Reject, Some("no".into()), 2)
            .unwrap();
        let (o, _) = r
            .vote(
                &who("alice", &[]),
                Verdict::Approve,
                Some("per OPS-77".into()),
                3,
            )
            .unwrap();
        assert_eq!(o, VoteOutcome::Approved);
    }

    #[test]
    fn a_vote_must_name_the_hash_that_is_stored() {
        let r = pending(1, None);
        assert!(r.check_binding(None).is_ok());
        assert!(r.check_binding(Some(&r.request_hash)).is_ok());
        let e = r.check_binding(Some(&"0".repeat(64))).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        assert!(e.message.starts_with("request_hash"));
    }

    fn req(group: Option<&str>, approvals: u32) -> GroupRequirement {
        GroupRequirement::any_of(group.map(str::to_string), approvals)
    }

    #[test]
    fn every_group_requirement_must_hold() {
        // Two approvals in all, one of them from security.
        let mut r = pending_with(2, vec![req(None, 2), req(Some("security"), 1)]);
        r.vote(&who("alice", &["dev"]), Verdict::Approve, None, 2)
            .unwrap();
        assert_eq!(
            r.still_needed(),
            vec!["1 from any approver", "1 from `security`"]
        );
        // A second approver outside security completes "any" but not "security".
        let (o, _) = r
            .vote(&who("bob", &["dev"]), Verdict::Approve, None, 3)
            .unwrap();
        assert_eq!(o, VoteOutcome::Recorded);
        assert_eq!(r.still_needed(), vec!["1 from `security`"]);
        // Now only security can add anything: others are refused and told what is missing.
        assert!(!r.awaits_vote_from(&who("carol", &["dev"])));
        let e = r
            .vote(&who("carol", &["dev"]), Verdict::Approve, None, 4)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert!(
            e.message.ends_with("still needs 1 from `security`"),
            "{}",
            e.message
        );
        let (o, _) = r
            .vote(&who("sam", &["security"]), Verdict::Approve, None, 5)
            .unwrap();
        assert_eq!(o, VoteOutcome::Approved);
        assert!(r.still_needed().is_empty());

        // Two from security, two from dba: one person in both counts for both.
        let mut r = pending_with(2, vec![req(Some("dba"), 2), req(Some("security"), 2)]);
        let (o, _) = r
            .vote(&who("a", &["dba", "security"]), Verdict::Approve, None, 2)
            .unwrap();
        assert_eq!(o, VoteOutcome::Recorded);
        let (o, _) = r
            .vote(&who("b", &["dba"]), Verdict::Approve, None, 3)
            .unwrap();
        assert_eq!(o, VoteOutcome::Recorded);
        assert_eq!(r.still_needed(), vec!["1 from `security`"]);
        let e = r
            .vote(&who("c", &["dba"]), Verdict::Approve, None, 4)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert!(e.message.contains("1 from `security`"), "{}", e.message);
        let e = r
            .vote(&who("d", &["dev"]), Verdict::Reject, None, 4)
            .unwrap_err();
        assert!(e.message.contains("`dba` or `security`"), "{}", e.message);
        // A dba member may still reject.
        let mut r2 = r.clone();
        let (o, _) = r2
            .vote(&who("c", &["dba"]), Verdict::Reject, Some("no".into()), 4)
            .unwrap();
        assert_eq!(o, VoteOutcome::Rejected);
        let (o, _) = r
            .vote(&who("s", &["security"]), Verdict::Approve, None, 5)
            .unwrap();
        assert_eq!(o, VoteOutcome::Approved);
        assert_eq!(r.approvers().len(), 3);
    }

    #[test]
    fn any_of_requirements_count_members_of_either_group() {
        // Two from dba or security, one of them a DBA.
        let either = GroupRequirement::any_of(["dba".into(), "security".into()], 2);
        let mut r = pending_with(2, vec![req(Some("dba"), 1), either]);
        let e = r
            .vote(&who("eve", &["dev"]), Verdict::Approve, None, 2)
            .unwrap_err();
        assert!(e.message.contains("`dba` or `security`"), "{}", e.message);
        r.vote(&who("sam", &["security"]), Verdict::Approve, None, 2)
            .unwrap();
        assert_eq!(
            r.still_needed(),
            vec!["1 from `dba`", "1 from `dba` or `security`"]
        );
        assert_eq!(
            r.approvals_summary(),
            "1 of 2 (still needed: 1 from `dba` and 1 from `dba` or `security`)"
        );
        r.vote(&who("sue", &["security"]), Verdict::Approve, None, 3)
            .unwrap();
        assert_eq!(r.still_needed(), vec!["1 from `dba`"]);
        // Security has given all it can; only a DBA completes the request.
        assert!(!r.awaits_vote_from(&who("sid", &["security"])));
        let (o, _) = r
            .vote(&who("dan", &["dba"]), Verdict::Approve, None, 4)
            .unwrap();
        assert_eq!(o, VoteOutcome::Approved);
        assert_eq!(
            serde_json::to_value(r.progress()).unwrap(),
            json!([{"group": "dba", "approvals": 1, "have": 1},
                   {"groups": ["dba", "security"], "approvals": 2, "have": 3}])
        );
    }

    #[test]
    fn one_person_counts_once_and_never_approves_their_own_request() {
        let person = |sub: &str, issuer: &str, human: &str| Identity {
            issuer: issuer.into(),
            subject: sub.into(),
            name: sub.into(),
            human: Some(human.into()),
            ..Default::default()
        };
        let mut r = pending(2, None);
        r.vote(
            &person("alice", "https://okta", "alice@example.com"),
            Verdict::Approve,
            None,
            2,
        )
        .unwrap();
        let e = r
            .vote(
                &person("112233", "https://google", "alice@example.com"),
                Verdict::Approve,
                None,
                3,
            )
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::AlreadyVoted);
        assert_eq!(r.status, Status::Pending);
        // The agent runs under its person's identity: that person cannot approve it.
        r.agent.human = Some("bob@example.com".into());
        let e = r
            .vote(
                &person("bob", "https://okta", "bob@example.com"),
                Verdict::Approve,
                None,
                4,
            )
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::SelfApproval);
    }

    #[test]
    fn approvers_see_only_what_they_may_decide_or_decided() {
        let r = pending(1, Some("dba"));
        assert!(r.visible_to_approver(&who("alice", &["dba"])));
        assert!(!r.visible_to_approver(&who("bob", &["dev"])));
        let mut voted = pending(2, None);
        voted.decision.effect = Effect::Approval {
            approvals: 1,
            requirements: vec![req(Some("dba"), 1)],
            timeout_seconds: 60,
        };
        voted.votes.push(Vote {
            approver: who("bob", &["dev"]),
            verdict: Verdict::Reject,
            comment: None,
            at: 1,
            grant: None,
        });
        assert!(voted.visible_to_approver(&who("bob", &[])));
        // A call that ran at once had no approvers.
        let mut allowed = pending(1, None);
        allowed.decision.effect = Effect::Allow;
        assert!(!allowed.visible_to_approver(&who("alice", &["dba"])));
        assert!(allowed.visible_to_approver(&who("agent", &[])));
    }

    #[test]
    fn view_hides_the_task_token() {
        let mut r = pending(1, None);
        r.task_token = Some("secret-token".into());
        let v = r.view().to_string();
        assert!(!v.contains("secret-token"));
        assert!(!v.contains("last_hash"));
    }
}
