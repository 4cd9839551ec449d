//! Agents: submit a call, read its status.

use serde_json::{Value, json};
use tollgate_aws::metrics::Unit;
use tollgate_aws::now_ms;
use tollgate_aws::oidc::Verified;
use tollgate_aws::store::{Created, IdempotencyClaim, document, not_found};
use tollgate_core::audit::sha256_hex;
use tollgate_core::execution::record_in_answer;
use tollgate_core::scope::arn_account;
use tollgate_core::{
    ApiError, Decision, Effect, ErrorCode, Failure, FailureCode, Handover, Identity, NewRequest,
    RequestRecord, Status, parse_new_request,
};
use tollgate_policy::{Classified, classify_with_shadow};

use tollgate_core::waits;

use crate::{Api, MAX_WAIT_SECONDS, Request, Response, header, query_param};

const MAX_IDEMPOTENCY_KEY: usize = 255;
/// Longest pause between reads while a long-poll waits.
const MAX_POLL_PAUSE: std::time::Duration = std::time::Duration::from_secs(2);

impl Api {
    pub(crate) async fn submit(
        &self,
        req: &Request,
        source_ip: &str,
    ) -> Result<Response, ApiError> {
        let agent = self.json_from_agent(req).await?;
        let new = parse_new_request(req.body(), &self.settings.default_region)?;
        let claim = idempotency_claim(req, &agent, new.hash())?;
        let admitted = self
            .admit(&agent.identity, new, claim, source_ip, None)
            .await?;
        Ok(self.submission_answer(admitted))
    }

    /// The agent behind a submission's bearer token, once the body is known to be JSON.
    pub(crate) async fn json_from_agent(&self, req: &Request) -> Result<Verified, ApiError> {
        let agent = self
            .agents
            .verify_bearer(header(req, "authorization"))
            .await?;
        if let Some(ct) = header(req, "content-type")
            && !ct.to_ascii_lowercase().contains("json")
        {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "content-type: must be application/json",
            ));
        }
        Ok(agent)
    }

    /// What the agent is told of a submission (a request or a plan).
    pub(crate) fn submission_answer(&self, admitted: Admitted) -> Response {
        match admitted {
            Admitted::New(rec) if rec.status == Status::Pending => {
                first_answer(&rec).with_approval_link(self, &rec)
            }
            Admitted::New(rec) | Admitted::Existing(rec) => self.agent_answer(&rec),
        }
    }

    /// Everything a submission goes through once it is read, whichever door it came in by
    /// (`POST /v1/requests`, `/mcp`, the front door): spelling, target, classification and
    /// policy, the model, the reason, the record with its audit chain and idempotency claim,
    /// then the first step (refused, run now, or the approval wait started). `body`: the
    /// bytes of `new.payload`, when the front door took the body out of the parameters.
    pub(crate) async fn admit(
        &self,
        agent: &Identity,
        new: NewRequest,
        claim: Option<IdempotencyClaim>,
        source_ip: &str,
        body: Option<&[u8]>,
    ) -> Result<Admitted, ApiError> {
        self.admit_with(agent, new, None, claim, source_ip, body)
            .await
    }

    /// [`Api::admit`], for an upload by presigned URL too (`upload`: what was declared about
    /// its bytes, kept on the record and bound by its hash).
    pub(crate) async fn admit_with(
        &self,
        agent: &Identity,
        mut new: NewRequest,
        upload: Option<tollgate_core::upload::Upload>,
        claim: Option<IdempotencyClaim>,
        source_ip: &str,
        body: Option<&[u8]>,
    ) -> Result<Admitted, ApiError> {
        // Refused spelling or target first: neither is a request to count.
        exact_spelling(&new)?;
        self.target_account(&new)?;
        let now_secs = now_ms() / 1000;
        let recent = self.count_request(agent, &new, now_secs).await?;
        let uncounted = tollgate_core::rate::RecentCounts::default();
        let Classified {
            iam_actions,
            resources,
            decision,
            action_resources,
            shadow,
            context,
            ..
        } = self.classify_call(
            agent,
            &new,
            source_ip,
            recent.as_ref().unwrap_or(&uncounted),
        )?;
        reason_given(&decision, &new)?;
        let id = ulid::Ulid::new().to_string();
        if decision.effect != Effect::Deny {
            self.keep_payload(&id, &mut new, body).await?;
        }
        let (mut rec, events) = match upload {
            None => RequestRecord::new(
                id,
                new,
                agent.clone(),
                decision,
                iam_actions,
                resources,
                now_ms(),
            ),
            Some(upload) => RequestRecord::new_upload(
                id,
                new,
                upload,
                agent.clone(),
                decision,
                iam_actions,
                resources,
                now_ms(),
            ),
        };
        rec.action_resources = action_resources;
        rec.shadow = shadow;
        rec.context = Some(context);
        let mut events = events;
        self.try_grant(&mut rec, &mut events).await?;
        let counted = recent.is_some().then(|| (agent.key(), now_secs));
        self.open(rec, events, claim, counted).await
    }

    /// Puts the body of `new.payload` in the payload bucket under request `id`, before the
    /// record exists, so no record ever points at a body that is not there. A call that then
    /// joins an earlier request (its idempotency claim) leaves an object nobody reads; the
    /// bucket's lifecycle removes it.
    async fn keep_payload(
        &self,
        id: &str,
        new: &mut NewRequest,
        body: Option<&[u8]>,
    ) -> Result<(), ApiError> {
        let Some(payload) = new.payload.as_mut() else {
            return Ok(());
        };
        let (Some(store), Some(bytes)) = (&self.payloads, body) else {
            return Err(ApiError::internal("a payload without its body or bucket"));
        };
        payload
            .check(bytes)
            .map_err(|f| ApiError::internal(f.message))?;
        let key = tollgate_core::payload::key(id, &payload.sha256);
        store.put(&key, bytes.to_vec()).await?;
        payload.location = Some(tollgate_core::payload::PayloadLocation {
            bucket: store.bucket().to_string(),
            key,
        });
        Ok(())
    }

    /// What a call is before anything is recorded: spelled as AWS names it, in a target
    /// agents may act in, classified and decided by policy, and (unless denied) fitting the
    /// AWS model. A single request and every step of a plan go through it; `recent` is what
    /// policies see of the agent's rate counters (`context.recent`).
    pub(crate) fn classify_call(
        &self,
        agent: &Identity,
        new: &NewRequest,
        source_ip: &str,
        recent: &tollgate_core::rate::RecentCounts,
    ) -> Result<Classified, ApiError> {
        exact_spelling(new)?;
        let account = self.target_account(new)?;
        let classified = classify_with_shadow(
            self.policy.as_ref(),
            self.shadow.as_deref(),
            new,
            agent,
            account,
            now_ms() / 1000,
            source_ip,
            recent,
        )?;
        // Denials are decided (and recorded) before anything else is asked of the call, so a
        // forbidden call is refused the same way whether or not it could have run.
        if classified.decision.effect != Effect::Deny {
            check_against_model(new)?;
        }
        Ok(classified)
    }

    /// Records a new request (or plan) with its first events and idempotency claim, then
    /// takes its first step; a claim already used answers with the request it made.
    /// `counted`: the agent's counter key and time, when the request was counted (a denial is
    /// counted too).
    pub(crate) async fn open(
        &self,
        rec: RequestRecord,
        events: Vec<tollgate_core::Event>,
        claim: Option<IdempotencyClaim>,
        counted: Option<(String, u64)>,
    ) -> Result<Admitted, ApiError> {
        tracing::info!(request_id = %rec.id, action = %rec.request.action, status = %rec.status, agent = %rec.agent.subject, steps = rec.plan.as_ref().map_or(0, |p| p.steps.len()), "request submitted");
        self.record_decision_metrics(&rec);
        match self.store.create(&rec, &events, claim.as_ref()).await? {
            Created::New => {
                if let Some((key, now_secs)) = &counted
                    && rec.status == Status::Denied
                {
                    // A lost denial count would let a later request past a rule on denials:
                    // the agent hears it as unavailable (its request stays denied).
                    self.store.count_denial(key, *now_secs).await?;
                }
                self.proceed(rec).await.map(Admitted::New)
            }
            Created::Existing {
                request_id,
                request_hash,
            } => {
                if Some(request_hash) != claim.map(|c| c.request_hash) {
                    return Err(ApiError::new(
                        ErrorCode::IdempotencyMismatch,
                        "Idempotency-Key: already used for a different request",
                    ));
                }
                let existing = self.first_request(&request_id).await?;
                Ok(Admitted::Existing(self.settle(existing).await?))
            }
        }
    }

    /// Counts the request in its agent's rate counters and answers the counts with it, when
    /// the enforced or shadow policies read them (`None` otherwise: nothing is written).
    pub(crate) async fn count_request(
        &self,
        agent: &Identity,
        new: &NewRequest,
        now_secs: u64,
    ) -> Result<Option<tollgate_core::rate::RecentCounts>, ApiError> {
        let reads = self.policy.reads_recent_counts()
            || self
                .shadow
                .as_ref()
                .is_some_and(|s| s.reads_recent_counts());
        // An operation the catalog does not know is refused by classification, uncounted.
        let Some(usage) = reads.then(|| tollgate_policy::usage(&new.action)).flatten() else {
            return Ok(None);
        };
        self.store
            .count_request(&agent.key(), &usage, now_secs)
            .await
            .map(Some)
    }

    /// The account of the request's target, for resource ARNs and policy. A target in
    /// Tollgate's own account is refused unless the operator allows it: from there an agent
    /// could reach Tollgate's table, functions and secrets.
    pub(crate) fn target_account(&self, new: &NewRequest) -> Result<&str, ApiError> {
        let role_arn = self.settings.targets.get(&new.target).ok_or_else(|| {
            ApiError::field(
                "target",
                format!("no target named `{}` is configured", new.target),
            )
        })?;
        let account = arn_account(role_arn).unwrap_or("*");
        if account == self.settings.account_id && !self.settings.allow_self_target {
            return Err(ApiError::field(
                "target",
                format!(
                    "`{}` acts in Tollgate's own account ({account}), which agents may not do; use a target in another account (an operator may allow this with AllowSelfTarget)",
                    new.target
                ),
            ));
        }
        Ok(account)
    }

    /// Carries a new request to its first step: refuse, run now, or start the approval
    /// wait. Returns the record as it then stands.
    async fn proceed(&self, rec: RequestRecord) -> Result<RequestRecord, ApiError> {
        match rec.status {
            Status::Pending => {
                let timeout = match rec.decision.effect {
                    Effect::Approval {
                        timeout_seconds, ..
                    } => timeout_seconds,
                    _ => self.settings.approval_timeout_seconds,
                };
                if let Err(e) = self.workflow.start(&rec.id, timeout).await {
                    // Nothing will ever decide this request: close it rather than leave it hanging.
                    let failure = Failure::new(FailureCode::WorkflowUnavailable, e.message.clone());
                    if let Err(not_failed) = self
                        .store
                        .update(&rec.id, |r| {
                            Ok(((), vec![r.fail(failure.clone(), now_ms())?]))
                        })
                        .await
                    {
                        // The caller still gets the workflow's error; the record stays PENDING
                        // with no workflow, which an operator has to close by hand.
                        tracing::error!(request_id = %rec.id, code = ?not_failed.code, error = %not_failed.message, "request could not be marked FAILED after the workflow did not start");
                    }
                    return Err(e);
                }
                Ok(rec)
            }
            Status::Approved => {
                // The record goes with the invocation as written, so the executor claims it
                // without reading it first; its answer is the record it wrote.
                let handover = Handover {
                    seq: rec.seq,
                    doc: document(&rec)?,
                };
                match self
                    .executor
                    .invoke(
                        &self.settings.executor_function,
                        &json!({"request_id": rec.id, "handover": handover}),
                    )
                    .await
                {
                    Ok(answer) => {
                        if let Some(done) = record_in_answer(&answer)
                            && done.id == rec.id
                        {
                            return Ok(done);
                        }
                    }
                    Err(e) => {
                        tracing::error!(request_id = %rec.id, error = %e.message, "executor invocation failed");
                    }
                }
                self.store
                    .get(&rec.id)
                    .await?
                    .ok_or_else(|| not_found(&rec.id))
            }
            _ => Ok(rec),
        }
    }

    /// The request an idempotency key points at. The key and the request are written in one
    /// transaction, but a reader racing that write (or an emulator that applies transactions
    /// item by item) may see the key first: look again briefly before calling it a conflict.
    async fn first_request(&self, id: &str) -> Result<RequestRecord, ApiError> {
        for _ in 0..20 {
            if let Some(rec) = self.store.get(id).await? {
                return Ok(rec);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        Err(ApiError::new(
            ErrorCode::Conflict,
            "Idempotency-Key: the first request with this key is still being created; retry",
        ))
    }

    /// For an idempotent retry: waits briefly while the first attempt is still executing.
    async fn settle(&self, rec: RequestRecord) -> Result<RequestRecord, ApiError> {
        self.watch(rec, MAX_WAIT_SECONDS, |r| {
            !matches!(r.status, Status::Approved | Status::Executing)
        })
        .await
    }

    pub(crate) async fn status(&self, req: &Request, id: &str) -> Result<Response, ApiError> {
        let (who, is_approver) = self.caller(req).await?;
        let wait = match query_param(req, "wait") {
            None => 0,
            // Any whole number is accepted and held to the limit, however large.
            Some(w) if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) => {
                w.parse::<u64>().unwrap_or(u64::MAX).min(MAX_WAIT_SECONDS)
            }
            Some(_) => {
                return Err(ApiError::field("wait", "must be a whole number of seconds"));
            }
        };
        // An approver sees what it may vote on or voted on; an agent its own requests.
        let visible = |rec: &RequestRecord| {
            if is_approver {
                rec.visible_to_approver(&who.identity)
            } else {
                rec.agent.same_principal(&who.identity)
            }
        };
        let rec = self
            .store
            .get(id)
            .await?
            .filter(visible)
            // Someone else's request answers exactly like a missing one.
            .ok_or_else(|| not_found(id))?;
        let first = (rec.status, rec.votes.len());
        // A vote counts as a change: a follower shows approvals as they arrive.
        let rec = self
            .watch_leased(&who.identity, rec, wait, |r| {
                (r.status, r.votes.len()) != first || r.status.is_final()
            })
            .await?;
        let events = self.store.events(id).await?;
        // Only the requesting agent sees what `@unmask` granted it.
        let mut body = if !is_approver && rec.agent.same_principal(&who.identity) {
            self.agent_view(&rec)
        } else {
            rec.view()
        };
        body["events"] = serde_json::to_value(&events).unwrap_or(Value::Null);
        if rec.status == Status::Pending && !is_approver {
            body["links"] = json!({"approval": self.approval_link(&rec)});
        }
        Ok(Response::json(200, &body))
    }
}

impl Api {
    /// Reads `rec` again until `settled` holds or `wait` seconds have passed, and returns the
    /// last read. Approvals take human time: read quickly at first (a vote may just have
    /// landed), then back off, so a 20 s wait costs 14 reads, not eighty.
    pub(crate) async fn watch(
        &self,
        mut rec: RequestRecord,
        wait: u64,
        settled: impl Fn(&RequestRecord) -> bool,
    ) -> Result<RequestRecord, ApiError> {
        // Tokio's clock: handler tests run the wait on a paused clock.
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(wait);
        let mut pause = self.poll_interval;
        while !settled(&rec) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                break;
            }
            tokio::time::sleep(pause.min(left)).await;
            pause = (pause * 3 / 2).min(MAX_POLL_PAUSE);
            rec = self
                .store
                .get(&rec.id)
                .await?
                .ok_or_else(|| not_found(&rec.id))?;
        }
        Ok(rec)
    }

    /// [`Api::watch`] holding a lease on an open long-poll for the caller and one overall
    /// (`tollgate_core::waits`), so that no caller can hold more than its share of the
    /// function's concurrency. A wait that cannot get its places is refused with
    /// `429 too_many_requests` before it starts; a wait of 0 or on a settled request takes
    /// none.
    pub(crate) async fn watch_leased(
        &self,
        caller: &tollgate_core::Identity,
        rec: RequestRecord,
        wait: u64,
        settled: impl Fn(&RequestRecord) -> bool,
    ) -> Result<RequestRecord, ApiError> {
        if wait == 0 || settled(&rec) {
            return Ok(rec);
        }
        let lease = ulid::Ulid::new().to_string();
        let now = tollgate_aws::now_ms();
        let expires = now + wait * 1000 + waits::LEASE_MARGIN_MS;
        let scopes = waits::scopes(&caller.key(), &lease);
        let mut taken = Vec::new();
        for (i, (scope, cap)) in scopes.iter().enumerate() {
            let got = self
                .store
                .take_wait(scope, &lease, expires, now, *cap)
                .await;
            if !matches!(got, Ok(true)) {
                self.release_waits(&taken, &lease).await;
                let refusal = match (got, i) {
                    (Err(e), _) => e,
                    (_, 0) => ApiError::field(
                        "wait",
                        format!(
                            "{} long-polls of yours are already open, the most one caller may hold; ask without `wait` or when one has answered",
                            waits::PER_CALLER
                        ),
                    ),
                    _ => ApiError::field(
                        "wait",
                        "Tollgate holds as many long-polls as it allows at once; retry in a few seconds",
                    ),
                };
                return Err(ApiError {
                    code: ErrorCode::TooManyRequests,
                    ..refusal
                });
            }
            taken.push(scope.as_str());
        }
        let watched = self.watch(rec, wait, settled).await;
        self.release_waits(&taken, &lease).await;
        watched
    }

    /// Frees what a wait took. A failure only leaves the lease to expire on its own.
    async fn release_waits(&self, scopes: &[&str], lease: &str) {
        for scope in scopes {
            if let Err(e) = self.store.release_wait(scope, lease).await {
                tracing::warn!(error = %e, "wait lease not released; it expires on its own");
            }
        }
    }

    fn record_decision_metrics(&self, rec: &RequestRecord) {
        let m = &self.settings.metrics;
        let decision = rec.decision.effect.name();
        m.put("Requests", Unit::Count, 1.0, &[("Decision", decision)]);
        if let Some(shadow) = &rec.shadow {
            // Per pair of outcomes, so a dashboard shows how often, and which way, the shadow
            // set would have decided otherwise.
            m.put(
                "ShadowDecisions",
                Unit::Count,
                1.0,
                &[("Decision", decision), ("Shadow", &shadow.outcome())],
            );
            if shadow.outcome() != rec.decision.outcome() {
                tracing::info!(request_id = %rec.id, enforced = %rec.decision.outcome(), shadow = %shadow.outcome(), shadow_policies = ?shadow.policy_ids, "shadow policies decide otherwise");
            }
        }
        if rec.decision.effect == Effect::Deny {
            let policy = rec
                .decision
                .policy_ids
                .first()
                .map(String::as_str)
                .unwrap_or("no-permit");
            m.put("Denials", Unit::Count, 1.0, &[("PolicyId", policy)]);
        }
    }
}

/// The operation must exist in the AWS API models and the parameters must fit its input
/// shape, so nobody is asked to approve a call that cannot run.
/// The AWS API model and operation name the request's action names, or the refusal both a
/// submission and a dry run give for an action no model has.
pub(crate) fn model_operation(
    new: &NewRequest,
) -> Result<(std::sync::Arc<tollgate_models::ServiceModel>, String), ApiError> {
    tollgate_models::find(new.action.service(), new.action.operation()).ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnknownAction,
            format!(
                "action: `{}` is not an operation in the AWS API models",
                new.action
            ),
        )
        .with_field("action")
    })
}

pub(crate) fn check_against_model(new: &NewRequest) -> Result<(), ApiError> {
    let (model, operation) = model_operation(new)?;
    let unsupported = |why: String| {
        ApiError::new(
            ErrorCode::UnknownAction,
            format!("action: `{}` {why}", new.action),
        )
        .with_detail(json!({"field": "action"}))
    };
    // The executor signs with SigV4 and reads whole answers; anything else cannot run.
    if let Some(v) = model.signature_version()
        && !matches!(v, "v4" | "s3" | "s3v4")
    {
        return Err(unsupported(format!(
            "is not supported: its service signs with `{v}`, not SigV4"
        )));
    }
    if model
        .operation(&operation)
        .is_some_and(|op| op.has_event_stream())
    {
        return Err(unsupported("is not supported: it streams events".into()));
    }
    tollgate_models::validate(&model, &operation, &new.params)
        .map_err(|e| ApiError::field(e.path, e.message))
}

/// The action must be spelled exactly as the AWS API models name the operation. The catalog
/// and the models find operations whatever their case (IAM action names are case-insensitive),
/// so `iam:CreateAccessKEY` would run `CreateAccessKey` while policy, the record and the page
/// saw another name. Refused rather than rewritten: the request hash and the idempotency key
/// bind exactly what the agent sent, and the agent learns the one spelling there is.
pub(crate) fn exact_spelling(new: &NewRequest) -> Result<(), ApiError> {
    let (service, operation) = (new.action.service(), new.action.operation());
    match tollgate_models::find(service, operation) {
        Some((_, name)) if name != operation => Err(ApiError::field(
            "action",
            format!(
                "`{}` is not spelled as the AWS API names it; use `{service}:{name}`",
                new.action
            ),
        )),
        _ => Ok(()),
    }
}

/// A call that needs approval must say why: approvers decide on it.
pub(crate) fn reason_given(decision: &Decision, new: &NewRequest) -> Result<(), ApiError> {
    if matches!(decision.effect, Effect::Approval { .. }) && new.reason.is_none() {
        return Err(ApiError::field(
            "reason",
            "is required: this call needs human approval, and approvers need to know why",
        ));
    }
    Ok(())
}

/// What [`Api::admit`] made of a submission.
pub(crate) enum Admitted {
    /// A new request, as it stands after its first step.
    New(RequestRecord),
    /// The request an earlier submission with the same idempotency claim made, settled.
    Existing(RequestRecord),
}

/// The `Idempotency-Key` claim of a submission whose content hashes to `request_hash`.
pub(crate) fn idempotency_claim(
    req: &Request,
    agent: &Verified,
    request_hash: String,
) -> Result<Option<IdempotencyClaim>, ApiError> {
    let Some(key) = header(req, "idempotency-key") else {
        return Ok(None);
    };
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ApiError::field(
            "Idempotency-Key",
            format!("must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters"),
        ));
    }
    Ok(Some(IdempotencyClaim {
        key_hash: sha256_hex(format!("{}\0{key}", agent.identity.key()).as_bytes()),
        request_hash,
    }))
}

impl Api {
    /// The approval page of a pending request, for the agent to pass on to the people who
    /// decide (it shows the request; deciding still takes an approver's sign-in).
    pub(crate) fn approval_link(&self, rec: &RequestRecord) -> String {
        tollgate_core::link::approval_url(
            self.keys.link.current(),
            &self.settings.public_url,
            &rec.id,
            rec.expires_at.unwrap_or(0),
        )
    }
}

impl Response {
    fn with_approval_link(mut self, api: &Api, rec: &RequestRecord) -> Self {
        if let Ok(mut v) = serde_json::from_str::<Value>(&self.body) {
            v["links"]["approval"] = json!(api.approval_link(rec));
            self.body = v.to_string();
        }
        self
    }
}

/// The answer to a submission, given the request's state.
pub(crate) fn first_answer(rec: &RequestRecord) -> Response {
    match rec.status {
        Status::Denied => Response::error(
            &ApiError::new(
                ErrorCode::Denied,
                format!("denied by policy: {}", rec.decision.reason),
            )
            .with_detail({
                let mut detail = json!({
                    "request_id": rec.id,
                    "policy_ids": rec.decision.policy_ids,
                    "reason": rec.decision.reason,
                });
                // A plan names the step policy refused.
                if let Some(i) = rec.plan.as_ref().and_then(|p| {
                    p.steps
                        .iter()
                        .position(|s| s.decision.effect == Effect::Deny)
                }) {
                    detail["step"] = json!(i);
                }
                detail
            }),
        ),
        Status::Pending => Response::json(
            202,
            &json!({
                "id": rec.id,
                "status": rec.status,
                "decision": rec.decision,
                "approvals_required": rec.decision.required_approvals(),
                "expires_at": rec.expires_at,
                "created_at": rec.created_at,
                "grant_not_used": rec.grant_not_used,
                "links": {"status": format!("/v1/requests/{}", rec.id)},
            }),
        ),
        _ => Response::json(200, &rec.view()),
    }
}
