//! Invoked on a schedule. Finds requests left PENDING, APPROVED or EXECUTING whose workflow is
//! gone (see `tollgate_core::sweep` for the rules) and closes each as FAILED with a reason
//! that says whether the call may have run, with its audit event and a closing notice. It
//! reads and writes records and asks Step Functions about executions; it never runs a call.
//!
//! It also ends plans run by calls whose window is over (`plan_window_ended`), the steps
//! not called by then unrun.
//!
//! It also raises the alarm for break-glass approvals nobody acknowledged in time: once per
//! use (a conditional write marks it), on the alarm topic and the approval topic, with a
//! warning in the log. It reads only break-glass uses for that, through their own shards of
//! the status index, and only those of the last [`BREAKGLASS_HORIZON_MS`].

use std::sync::Arc;

use aws_config::SdkConfig;
use serde_json::{Value, json};
use tollgate_aws::notify::Topic;
use tollgate_aws::ports::{Publisher, RecordStore, Workflow};
use tollgate_aws::store::{Cursor, Listing, Store};
use tollgate_aws::workflow::StepFunctions;
use tollgate_core::sweep::{DEFAULT_BOUND_MS, SWEPT, stuck};
use tollgate_core::{ApiError, ErrorCode, RequestRecord, Status};

/// Requests read per page of the status index.
const PAGE: i32 = 100;

/// How far back the sweep looks for unacknowledged break-glass uses: longer than the longest
/// acknowledgement window (7 days), so every use is looked at after its deadline for days,
/// and the sweep's reads stay bounded by the uses of a fortnight.
pub const BREAKGLASS_HORIZON_MS: u64 = 14 * 24 * 3600 * 1000;

/// The bound from `TOLLGATE_SWEEP_AFTER_SECONDS` (default 15 minutes). A deployment's bound
/// below the executor's Lambda timeout would take a running call for a dead one, so anything
/// under a minute is refused; the local stack's tests pass their bound directly.
pub fn bound_from(setting: Option<&str>) -> Result<u64, String> {
    let Some(v) = setting else {
        return Ok(DEFAULT_BOUND_MS);
    };
    match v.trim().parse::<u64>() {
        Ok(s) if s >= 60 => Ok(s * 1000),
        _ => Err(format!(
            "TOLLGATE_SWEEP_AFTER_SECONDS: `{v}` is not a whole number of seconds of at least 60"
        )),
    }
}

/// One request the sweep closed.
#[derive(Debug, Clone)]
pub struct Closed {
    pub id: String,
    pub from: Status,
    pub code: String,
    pub may_have_run: bool,
    /// Whether the closing notice went out (a failed notice does not undo the close).
    pub notified: bool,
}

/// What one sweep saw and did.
#[derive(Debug, Default)]
pub struct Report {
    /// Requests in a swept status that were looked at.
    pub checked: usize,
    pub closed: Vec<Closed>,
    /// Requests that could not be checked or closed this time (they are tried again next run).
    pub errors: usize,
    /// Break-glass uses found unacknowledged past their deadline and alarmed this run.
    pub breakglass_overdue: Vec<String>,
    /// Grants found expired with uses left whose approvers were told (once per grant).
    pub grants_expired: Vec<String>,
}

impl Report {
    pub fn to_json(&self) -> Value {
        json!({
            "checked": self.checked,
            "errors": self.errors,
            "breakglass_overdue": self.breakglass_overdue,
            "grants_expired": self.grants_expired,
            "closed": self.closed.iter().map(|c| json!({
                "request_id": c.id,
                "from": c.from,
                "code": c.code,
                "may_have_run": c.may_have_run,
                "notified": c.notified,
            })).collect::<Vec<_>>(),
        })
    }
}

pub struct Sweeper {
    store: Arc<dyn RecordStore>,
    workflow: Arc<dyn Workflow>,
    topic: Arc<dyn Publisher>,
    bound_ms: u64,
    /// The alarm topic (`TOLLGATE_ALARM_TOPIC_ARN`), and the base URL for the notice's link.
    alarms: Option<Arc<dyn Publisher>>,
    public_url: String,
    /// Where notices send approvers (the inbox), from `TOLLGATE_PUBLIC_URL`.
    inbox_link: String,
}

impl Sweeper {
    pub fn new(
        sdk: &SdkConfig,
        table: String,
        state_machine_arn: String,
        topic_arn: String,
        bound_ms: u64,
    ) -> Self {
        Self::with_ports(
            Arc::new(Store::new(aws_sdk_dynamodb::Client::new(sdk), table)),
            Arc::new(StepFunctions::new(
                aws_sdk_sfn::Client::new(sdk),
                state_machine_arn,
            )),
            Arc::new(Topic::new(aws_sdk_sns::Client::new(sdk), topic_arn)),
            bound_ms,
        )
    }

    pub fn with_ports(
        store: Arc<dyn RecordStore>,
        workflow: Arc<dyn Workflow>,
        topic: Arc<dyn Publisher>,
        bound_ms: u64,
    ) -> Self {
        Self {
            store,
            workflow,
            topic,
            bound_ms,
            alarms: None,
            public_url: String::new(),
            inbox_link: String::new(),
        }
    }

    /// Raises overdue break-glass alarms on `alarms` too, linking to `public_url`'s inbox.
    pub fn with_alarms(mut self, alarms: Option<Arc<dyn Publisher>>, public_url: String) -> Self {
        self.alarms = alarms;
        self.public_url = public_url.trim_end_matches('/').to_string();
        self
    }

    /// Builds the alarm topic's client for [`Sweeper::with_alarms`].
    pub fn alarm_topic(sdk: &SdkConfig, arn: Option<String>) -> Option<Arc<dyn Publisher>> {
        arn.filter(|a| !a.is_empty())
            .map(|a| Arc::new(Topic::new(aws_sdk_sns::Client::new(sdk), a)) as Arc<dyn Publisher>)
    }

    /// Notices name the inbox at `public_url`.
    pub fn with_public_url(mut self, public_url: &str) -> Self {
        self.inbox_link = match public_url.trim_end_matches('/') {
            "" => String::new(),
            base => format!("{base}/v1/inbox"),
        };
        self
    }

    /// Tells the approvers of every grant that expired with uses left, once per grant: the
    /// store's conditional flag lets exactly one sweep send it.
    async fn sweep_grants(&self, now: u64, report: &mut Report) -> Result<(), ApiError> {
        for g in self.store.grants().await? {
            if !g.expired_unused_up(now) {
                continue;
            }
            match self.store.mark_grant_expiry_noticed(&g.id).await {
                Ok(true) => {
                    let (subject, message) = tollgate_core::grant::ended_notice(
                        &g,
                        tollgate_core::grant::GrantState::Expired,
                        &self.inbox_link,
                    );
                    if let Err(e) = self.topic.publish(&subject, &message).await {
                        tracing::warn!(grant_id = %g.id, error = %e.message, "grant expiry notice not published");
                    }
                    tracing::info!(grant_id = %g.id, uses = g.uses, max_uses = g.max_uses, "grant expired with uses left");
                    report.grants_expired.push(g.id);
                }
                Ok(false) => {}
                Err(e) => {
                    report.errors += 1;
                    tracing::error!(grant_id = %g.id, error = %e.message, "grant expiry not marked");
                }
            }
        }
        Ok(())
    }

    /// Looks at every request in a swept status and closes the stuck ones. A request that
    /// cannot be checked is left as it is (and counted); the sweep then fails after the rest,
    /// so the function's errors alarm fires.
    pub async fn sweep(&self, now: u64) -> Result<Report, ApiError> {
        let mut report = Report::default();
        for status in SWEPT {
            let mut after: Option<Cursor> = None;
            loop {
                let page = self
                    .store
                    .list(&Listing::Status(status), PAGE, after.as_ref())
                    .await?;
                for rec in page.requests {
                    report.checked += 1;
                    match self.sweep_one(&rec, now).await {
                        Ok(Some(c)) => report.closed.push(c),
                        Ok(None) => {}
                        Err(e) => {
                            report.errors += 1;
                            tracing::error!(request_id = %rec.id, error = %e.message, "request not swept");
                        }
                    }
                }
                match page.next {
                    Some(c) => after = Some(c),
                    None => break,
                }
            }
        }
        self.sweep_breakglass(now, &mut report).await?;
        if let Err(e) = self.sweep_grants(now, &mut report).await {
            report.errors += 1;
            tracing::error!(error = %e.message, "grants not swept");
        }
        tracing::info!(
            checked = report.checked,
            closed = report.closed.len(),
            grants_expired = report.grants_expired.len(),
            errors = report.errors,
            breakglass_overdue = report.breakglass_overdue.len(),
            "sweep done"
        );
        if report.errors > 0 {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                format!(
                    "{} of {} requests could not be swept; they are tried again on the next run",
                    report.errors, report.checked
                ),
            ));
        }
        Ok(report)
    }

    /// Every break-glass use of the horizon, newest first, stopping at the horizon: those past
    /// their deadline without an acknowledgement are marked (a conditional write, so one run
    /// alarms once) and then published. A publish that fails is an error of the run (the
    /// sweeper's errors alarm fires) as well as a log line.
    async fn sweep_breakglass(&self, now: u64, report: &mut Report) -> Result<(), ApiError> {
        let since = now.saturating_sub(BREAKGLASS_HORIZON_MS);
        let mut after: Option<Cursor> = None;
        'pages: loop {
            let page = self
                .store
                .list(&Listing::BreakGlass, PAGE, after.as_ref())
                .await?;
            for rec in &page.requests {
                let Some(used) = &rec.breakglass else {
                    continue;
                };
                if used.at < since {
                    break 'pages;
                }
                if !used.overdue(now) || used.overdue_alarmed_at.is_some() {
                    continue;
                }
                report.checked += 1;
                match self.alarm_overdue(&rec.id, now).await {
                    Ok(true) => report.breakglass_overdue.push(rec.id.clone()),
                    Ok(false) => {}
                    Err(e) => {
                        report.errors += 1;
                        tracing::error!(request_id = %rec.id, error = %e.message, "overdue break-glass alarm not raised");
                    }
                }
            }
            match page.next {
                Some(c) => after = Some(c),
                None => break,
            }
        }
        Ok(())
    }

    /// Marks one overdue use and publishes its alarm; `false` when another run (or an
    /// acknowledgement) got there first.
    async fn alarm_overdue(&self, id: &str, now: u64) -> Result<bool, ApiError> {
        let (marked, rec) = self
            .store
            .update(id, |r| {
                let ev = r.mark_breakglass_overdue(now);
                Ok((ev.is_some(), ev.into_iter().collect()))
            })
            .await?;
        if !marked {
            return Ok(false);
        }
        let used = rec.breakglass.as_ref();
        tracing::warn!(
            request_id = %id,
            approver = used.map(|u| u.approver.subject.as_str()).unwrap_or_default(),
            acknowledge_by = used.map(|u| u.acknowledge_by),
            event = "breakglass_overdue",
            "break-glass use not acknowledged in time"
        );
        let link = format!("{}/v1/inbox/{id}", self.public_url);
        let Some((subject, message)) = tollgate_core::breakglass::notice(
            &rec,
            &link,
            tollgate_core::breakglass::Loud::Overdue,
        ) else {
            return Ok(true);
        };
        let Some(alarms) = &self.alarms else {
            return Err(ApiError::new(
                ErrorCode::Unavailable,
                "TOLLGATE_ALARM_TOPIC_ARN is not set: the overdue break-glass alarm has nowhere to go",
            ));
        };
        let (to_alarms, to_approvers) = tokio::join!(
            alarms.publish(&subject, &message),
            self.topic.publish(&subject, &message)
        );
        if let Err(e) = to_approvers {
            tracing::warn!(request_id = %id, error = %e.message, "overdue break-glass notice to approvers not published");
        }
        to_alarms?;
        Ok(true)
    }

    async fn sweep_one(
        &self,
        listed: &RequestRecord,
        now: u64,
    ) -> Result<Option<Closed>, ApiError> {
        if listed.window_ended(now) {
            return self.end_window(&listed.id, now).await;
        }
        // Only a request quiet for longer than the bound is worth asking Step Functions about.
        if stuck(listed, false, now, self.bound_ms).is_none() {
            return Ok(None);
        }
        if self.workflow.running(&listed.id).await? {
            return Ok(None);
        }
        let bound = self.bound_ms;
        let (from, rec) = self
            .store
            .update(&listed.id, |r| {
                let from = r.status;
                let events = r.sweep(false, now, bound)?;
                Ok(((!events.is_empty()).then_some(from), events))
            })
            .await?;
        // Moved on meanwhile (voted, executed): the conditional write found it not stuck.
        let Some(from) = from else {
            return Ok(None);
        };
        let error = rec.error.as_ref();
        let may_have_run = error.and_then(|e| e.may_have_run).unwrap_or(true);
        tracing::warn!(request_id = %rec.id, from = %from, may_have_run, "stuck request closed by the sweeper");
        let notified = tollgate_notifier::publish_closing(self.topic.as_ref(), &rec).await;
        Ok(Some(Closed {
            id: rec.id.clone(),
            from,
            code: error.map(|e| e.code.to_string()).unwrap_or_default(),
            may_have_run,
            notified,
        }))
    }
}

impl Sweeper {
    /// Ends a parked plan whose window is over (`plan_window_ended`), in one conditional
    /// write that finds it still so, and tells its approvers.
    async fn end_window(&self, id: &str, now: u64) -> Result<Option<Closed>, ApiError> {
        let (ended, rec) = self
            .store
            .update(id, |r| {
                let events = r.end_window(now)?;
                Ok((!events.is_empty(), events))
            })
            .await?;
        if !ended {
            return Ok(None);
        }
        tracing::info!(request_id = %id, "plan's window ended");
        let notified = tollgate_notifier::publish_closing(self.topic.as_ref(), &rec).await;
        Ok(Some(Closed {
            id: rec.id.clone(),
            from: Status::Executing,
            code: rec
                .error
                .as_ref()
                .map(|e| e.code.to_string())
                .unwrap_or_default(),
            may_have_run: false,
            notified,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bound_is_at_least_a_minute_and_named_when_wrong() {
        assert_eq!(bound_from(None), Ok(DEFAULT_BOUND_MS));
        assert_eq!(bound_from(Some("120")), Ok(120_000));
        for bad in ["59", "-1", "ten", ""] {
            let e = bound_from(Some(bad)).unwrap_err();
            assert!(e.contains("TOLLGATE_SWEEP_AFTER_SECONDS"), "{e}");
        }
    }

    mod window {
        use std::sync::Mutex;

        use async_trait::async_trait;
        use tollgate_aws::store::memory::MemoryStore;
        use tollgate_core::{Claim, FailureCode};

        use super::*;

        struct Gone;

        #[async_trait]
        impl Workflow for Gone {
            async fn start(&self, _: &str, _: u64) -> Result<(), ApiError> {
                unreachable!("the sweeper starts no workflow")
            }
            async fn approve(&self, _: &str, _: &str) -> Result<bool, ApiError> {
                unreachable!()
            }
            async fn reject(&self, _: &str, _: &str) -> Result<bool, ApiError> {
                unreachable!()
            }
            async fn cancel(&self, _: &str) -> Result<bool, ApiError> {
                unreachable!()
            }
            async fn running(&self, _: &str) -> Result<bool, ApiError> {
                Ok(false)
            }
        }

        #[derive(Default)]
        struct Notices(Mutex<Vec<String>>);

        #[async_trait]
        impl Publisher for Notices {
            async fn publish(&self, subject: &str, _: &Value) -> Result<String, ApiError> {
                self.0.lock().unwrap().push(subject.to_string());
                Ok("m".into())
            }
        }

        /// A parked one-step plan with a 60 s window, parked at `at`.
        async fn parked(store: &dyn RecordStore, id: &str, at: u64) {
            let (rec, events) = tollgate_aws::store::contract::by_calls_plan(id, "ci-bot", at);
            store.create(&rec, &events, None).await.unwrap();
            let (claim, _) = store
                .update(id, |r| {
                    r.claim_for_execution(at, Some("arn:aws:iam::1:role/t"), |_| "us-east-1".into())
                })
                .await
                .unwrap();
            assert_eq!(claim, Claim::Parked);
        }

        #[tokio::test]
        async fn a_plan_whose_window_ended_is_failed_once_and_one_within_it_is_left() {
            let store: Arc<dyn RecordStore> = Arc::new(MemoryStore::new());
            let notices = Arc::new(Notices::default());
            let t0 = 1_700_000_000_000;
            parked(store.as_ref(), "OLD", t0).await;
            parked(store.as_ref(), "NEW", t0 + 50_000).await;
            // A bound shorter than both plans' quiet time: a parked plan is not stuck for it.
            let sweeper =
                Sweeper::with_ports(store.clone(), Arc::new(Gone), notices.clone(), 1_000);
            let report = sweeper.sweep(t0 + 60_000).await.unwrap();
            assert_eq!(report.closed.len(), 1, "{:?}", report.to_json());
            assert_eq!(report.closed[0].id, "OLD");
            assert_eq!(report.closed[0].code, "plan_window_ended");
            assert!(!report.closed[0].may_have_run);
            let old = store.get("OLD").await.unwrap().unwrap();
            assert_eq!(old.status, Status::Failed);
            assert_eq!(old.error.unwrap().code, FailureCode::PlanWindowEnded);
            assert_eq!(
                store.get("NEW").await.unwrap().unwrap().status,
                Status::Executing
            );
            assert_eq!(notices.0.lock().unwrap().len(), 1);
            assert!(
                store
                    .parked_plans(&old.agent.key())
                    .await
                    .unwrap()
                    .iter()
                    .all(|p| p.id == "NEW")
            );

            // Once: the next sweep ends only the plan whose window has ended since.
            let report = sweeper.sweep(t0 + 110_000).await.unwrap();
            let closed: Vec<&str> = report.closed.iter().map(|c| c.id.as_str()).collect();
            assert_eq!(closed, ["NEW"]);
            assert_eq!(notices.0.lock().unwrap().len(), 2);
        }
    }
}
