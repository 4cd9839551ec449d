//! The impact preview, read once when a request is held and before its first notice: the
//! catalog plans the reads, a session allowed only those reads on the request's resources
//! sends them, core masks and bounds what they answer. It never blocks the notice: a failure
//! or a timeout is itself the preview, saying so.
//!
//! An EC2 call that takes `DryRun` is also sent once as a dry run, beside the reads, under a
//! session of its own whose policy is the executor's for this call, so the answer says
//! whether the approved call would be allowed. `DryRun` is forced here and again by the
//! adapter, which sends nothing whose encoding lacks it.

use std::time::{Duration, Instant};

use tollgate_aws::credentials::ScopedSession;
use tollgate_aws::model_call::signing_region;
use tollgate_aws::ports::{StateRead, StateReader};
use tollgate_core::RequestRecord;
use tollgate_core::preview::dry_run::{self, DryRun, Reply};
use tollgate_core::preview::{PREVIEW_TIMEOUT_MS, Preview, PreviewStatus, ReadAnswer, summarise};
use tollgate_core::reconcile::Session;
use tollgate_core::scope::{arn_account, scoped_session_policy};

/// Reads the preview of `rec` with the target's `role_arn`, within [`PREVIEW_TIMEOUT_MS`].
/// Resources without an account are read in `home_account` (Tollgate's).
pub async fn read(
    reader: &dyn StateReader,
    rec: &RequestRecord,
    role_arn: Option<&str>,
    home_account: &str,
    now_ms: u64,
) -> Preview {
    read_within(
        reader,
        rec,
        role_arn,
        home_account,
        now_ms,
        Duration::from_millis(PREVIEW_TIMEOUT_MS),
    )
    .await
}

async fn read_within(
    reader: &dyn StateReader,
    rec: &RequestRecord,
    role_arn: Option<&str>,
    home_account: &str,
    now_ms: u64,
    limit: Duration,
) -> Preview {
    let started = Instant::now();
    let (p, dry) = tokio::join!(
        reads_within(reader, rec, role_arn, home_account, now_ms, limit),
        dry_run_within(reader, rec, role_arn, limit)
    );
    match dry {
        Some(d) => Preview {
            took_ms: started.elapsed().as_millis() as u64,
            ..p.with_dry_run(d)
        },
        None => p,
    }
}

/// The tags of a preview session: the request (which `tollgate audit reconcile` checks) and
/// what the session is for.
fn session_tags(rec: &RequestRecord, purpose: &str) -> Vec<(String, String)> {
    vec![
        ("tollgate:request".to_string(), rec.id.clone()),
        ("tollgate:purpose".to_string(), purpose.to_string()),
    ]
}

/// The dry run of an EC2 call that takes `DryRun`; `None` for every other call.
async fn dry_run_within(
    reader: &dyn StateReader,
    rec: &RequestRecord,
    role_arn: Option<&str>,
    limit: Duration,
) -> Option<DryRun> {
    let action = &rec.request.action;
    if !tollgate_catalog::preview::takes_dry_run(action.service(), action.operation()) {
        return None;
    }
    let shown = |reply| {
        Some(dry_run::shown(
            &action.to_string(),
            reply,
            &rec.decision.mask,
        ))
    };
    let Some(role_arn) = role_arn else {
        return shown(Reply::NotSent(format!(
            "target `{}` has no role",
            rec.request.target
        )));
    };
    // The executor's policy for this very call, so the answer is the approved call's.
    let region = signing_region(action, &rec.request.params, &rec.request.region);
    let policy = match rec.scoped_policy(&region) {
        Ok(p) => p,
        Err(f) => return shown(Reply::NotSent(f.message)),
    };
    let tags = session_tags(rec, "dry-run");
    let session = ScopedSession {
        role_arn,
        session_name: &Session::DryRun(&rec.id).name(),
        session_policy: &policy,
        source_identity: &rec.agent.source_identity(),
        tags: &tags,
    };
    let call = StateRead {
        action: action.clone(),
        params: dry_run::forced(&rec.request.params),
        region: rec.request.region.clone(),
    };
    let reply = tokio::time::timeout(limit, reader.dry_run(&session, &call))
        .await
        .unwrap_or(Reply::TimedOut(limit.as_millis() as u64));
    shown(reply)
}

/// The reads of what the call touches.
async fn reads_within(
    reader: &dyn StateReader,
    rec: &RequestRecord,
    role_arn: Option<&str>,
    home_account: &str,
    now_ms: u64,
    limit: Duration,
) -> Preview {
    let started = Instant::now();
    let took = || started.elapsed().as_millis() as u64;
    let account = rec
        .resources
        .iter()
        .find_map(|r| arn_account(r))
        .unwrap_or(home_account);
    let plan = tollgate_catalog::preview::plan(&rec.request, &rec.resources, account);
    if plan.is_empty() {
        return Preview::without_facts(
            PreviewStatus::Unavailable,
            "no read shows what this call touches",
            now_ms,
            took(),
        );
    }
    let Some(role_arn) = role_arn else {
        return Preview::without_facts(
            PreviewStatus::Failed,
            format!("target `{}` has no role to read with", rec.request.target),
            now_ms,
            took(),
        );
    };
    let mut scope = std::collections::BTreeMap::new();
    for read in &plan {
        for (action, resources) in &read.scope {
            scope.insert(action.clone(), resources.clone());
        }
    }
    let region = signing_region(&plan[0].action, &plan[0].params, &rec.request.region);
    let policy = scoped_session_policy(&scope, &region);
    let tags = session_tags(rec, "preview");
    let session = ScopedSession {
        role_arn,
        session_name: &Session::Preview(&rec.id).name(),
        session_policy: &policy,
        source_identity: &rec.agent.source_identity(),
        tags: &tags,
    };
    let reads: Vec<StateRead> = plan
        .iter()
        .map(|r| StateRead {
            action: r.action.clone(),
            params: r.params.clone(),
            region: rec.request.region.clone(),
        })
        .collect();
    let answers = tokio::time::timeout(limit, reader.read(&session, &reads)).await;
    match answers {
        Err(_) => Preview::without_facts(
            PreviewStatus::TimedOut,
            format!(
                "the current state could not be read within {} ms",
                limit.as_millis()
            ),
            now_ms,
            took(),
        ),
        Ok(Err(e)) => Preview::without_facts(
            PreviewStatus::Failed,
            format!("no read session: {}", e.message),
            now_ms,
            took(),
        ),
        Ok(Ok(answers)) => summarise(
            plan.into_iter()
                .zip(answers)
                .map(|(read, answer)| ReadAnswer {
                    source: read.action.to_string(),
                    service: read.action.service().to_string(),
                    picks: read.picks,
                    policy: read.policy,
                    home_account: account.to_string(),
                    answer,
                })
                .collect(),
            &rec.decision.mask,
            now_ms,
            took(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use serde_json::{Value, json};
    use std::sync::Mutex;
    use tollgate_core::{ApiError, Decision, Effect, ErrorCode, GroupRequirement};

    const ROLE: &str = "arn:aws:iam::123456789012:role/target";
    const TABLE: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/orders";

    /// Answers every read alike, after `delay`, and keeps the session policy it was given;
    /// answers a dry run with `dry`, keeping its session and call.
    struct FakeReader {
        delay: Duration,
        answer: Result<Value, String>,
        no_session: bool,
        policy: Mutex<Option<String>>,
        dry: Reply,
        dry_sent: Mutex<Vec<DrySent>>,
    }

    /// A dry run as the reader was given it: session name, session policy, tags, the call.
    type DrySent = (String, String, Vec<(String, String)>, StateRead);

    fn reader(answer: Result<Value, String>) -> FakeReader {
        FakeReader {
            delay: Duration::ZERO,
            answer,
            no_session: false,
            policy: Mutex::new(None),
            dry: Reply::Error {
                code: "DryRunOperation".into(),
                message: "Request would have succeeded, but DryRun flag is set.".into(),
            },
            dry_sent: Mutex::new(vec![]),
        }
    }

    #[async_trait]
    impl StateReader for FakeReader {
        async fn read(
            &self,
            session: &ScopedSession<'_>,
            reads: &[StateRead],
        ) -> Result<Vec<Result<Value, String>>, ApiError> {
            *self.policy.lock().unwrap() = Some(session.session_policy.to_string());
            if self.no_session {
                return Err(ApiError::new(
                    ErrorCode::Unavailable,
                    "STS is unavailable; try again",
                ));
            }
            tokio::time::sleep(self.delay).await;
            Ok(reads.iter().map(|_| self.answer.clone()).collect())
        }

        async fn dry_run(&self, session: &ScopedSession<'_>, call: &StateRead) -> Reply {
            self.dry_sent.lock().unwrap().push((
                session.session_name.to_string(),
                session.session_policy.to_string(),
                session.tags.to_vec(),
                call.clone(),
            ));
            tokio::time::sleep(self.delay).await;
            self.dry.clone()
        }
    }

    fn held(action: &str, params: Value, resources: &[&str]) -> RequestRecord {
        held_for(action, params, &[], resources)
    }

    fn held_for(
        action: &str,
        params: Value,
        iam_actions: &[&str],
        resources: &[&str],
    ) -> RequestRecord {
        let body = json!({"action": action, "params": params});
        let req =
            tollgate_core::parse_new_request(body.to_string().as_bytes(), "us-east-1").unwrap();
        let decision = Decision {
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
        RequestRecord::new(
            "R1".into(),
            req,
            Default::default(),
            decision,
            iam_actions.iter().map(|a| a.to_string()).collect(),
            resources.iter().map(|r| r.to_string()).collect(),
            1,
        )
        .0
    }

    const INSTANCE: &str = "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef0";

    /// A held `TerminateInstances` whose agent asked for no dry run.
    fn terminate() -> RequestRecord {
        held_for(
            "ec2:TerminateInstances",
            json!({"InstanceIds": ["i-0123456789abcdef0"], "DryRun": false}),
            &["ec2:TerminateInstances"],
            &[INSTANCE],
        )
    }

    #[tokio::test]
    async fn an_ec2_call_is_dry_run_with_the_executors_policy_in_a_session_of_its_own() {
        let r = reader(Ok(json!({"Reservations": []})));
        let rec = terminate();
        let p = run(&r, &rec, Duration::from_secs(5)).await;
        let d = p.dry_run.as_ref().expect("a dry run");
        assert_eq!(d.verdict, dry_run::Verdict::WouldSucceed, "{p:?}");
        assert!(
            p.headline(2).starts_with("Dry run: would succeed"),
            "{}",
            p.headline(2)
        );
        let sent = r.dry_sent.lock().unwrap().clone();
        let [(name, policy, tags, call)] = sent.as_slice() else {
            panic!("one dry run: {sent:?}")
        };
        assert_eq!(name, "tollgate-preview-dryrun-R1");
        assert_eq!(
            Session::parse(name),
            Some(Session::DryRun("R1")),
            "reconcile reads it back"
        );
        assert_eq!(*policy, rec.scoped_policy("us-east-1").unwrap());
        assert!(policy.contains("ec2:TerminateInstances") && policy.contains(INSTANCE));
        assert!(tags.contains(&("tollgate:request".to_string(), "R1".to_string())));
        assert!(tags.contains(&("tollgate:purpose".to_string(), "dry-run".to_string())));
        assert_eq!(
            call.params["DryRun"],
            json!(true),
            "the agent's `false` is overridden"
        );
        assert_eq!(call.params["InstanceIds"], json!(["i-0123456789abcdef0"]));
        // The reads still go under their read-only session, not the dry run's.
        let reads = r.policy.lock().unwrap().clone().unwrap();
        assert!(!reads.contains("ec2:TerminateInstances"), "{reads}");
        // Other services' calls get no dry run.
        let p = run(&r, &delete_table(), Duration::from_secs(5)).await;
        assert!(p.dry_run.is_none());
    }

    #[tokio::test]
    async fn a_dry_run_that_cannot_be_sent_or_is_slow_says_so() {
        let mut r = reader(Ok(json!({})));
        r.delay = Duration::from_secs(30);
        let p = run(&r, &terminate(), Duration::from_millis(50)).await;
        assert_eq!(
            p.dry_run.as_ref().map(DryRun::words).as_deref(),
            Some("no answer: none within 50 ms")
        );
        let no_scope = held_for(
            "ec2:TerminateInstances",
            json!({"InstanceIds": ["i-1"]}),
            &[],
            &[INSTANCE],
        );
        let r = reader(Ok(json!({})));
        let p = run(&r, &no_scope, Duration::from_secs(5)).await;
        let d = p.dry_run.expect("a dry run");
        assert_eq!(d.verdict, dry_run::Verdict::NotSent, "{d:?}");
        assert!(r.dry_sent.lock().unwrap().is_empty());
        let p = read_within(
            &r,
            &terminate(),
            None,
            "123456789012",
            5,
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(
            p.dry_run.map(|d| d.words()).as_deref(),
            Some("not sent: target `default` has no role")
        );
    }

    fn delete_table() -> RequestRecord {
        held(
            "dynamodb:DeleteTable",
            json!({"TableName": "orders"}),
            &[TABLE],
        )
    }

    async fn run(r: &FakeReader, rec: &RequestRecord, limit: Duration) -> Preview {
        read_within(r, rec, Some(ROLE), "123456789012", 5, limit).await
    }

    #[tokio::test]
    async fn the_session_allows_only_the_reads_on_the_requests_resources() {
        let r = reader(Ok(json!({"Table": {"ItemCount": 7}})));
        let p = run(&r, &delete_table(), Duration::from_secs(5)).await;
        assert_eq!(p.status, PreviewStatus::Read);
        assert!(
            p.facts.iter().any(|f| f.label == "Items" && f.value == "7"),
            "{p:?}"
        );
        let policy: Value =
            serde_json::from_str(r.policy.lock().unwrap().as_deref().unwrap()).unwrap();
        let mut actions = vec![];
        for st in policy["Statement"].as_array().unwrap() {
            let resources = st["Resource"].to_string();
            for a in st["Action"]
                .as_array()
                .cloned()
                .unwrap_or_else(|| vec![st["Action"].clone()])
            {
                let a = a.as_str().unwrap().to_string();
                let level = tollgate_catalog::catalog().action(&a).unwrap().level;
                assert!(
                    matches!(
                        level,
                        tollgate_catalog::AccessLevel::Read | tollgate_catalog::AccessLevel::List
                    ),
                    "{a} is not a read"
                );
                if a != "dynamodb:ListBackups" {
                    assert_eq!(resources, format!("\"{TABLE}\""), "{a}");
                }
                actions.push(a);
            }
        }
        assert!(
            actions.contains(&"dynamodb:DescribeTable".to_string()),
            "{actions:?}"
        );
        assert!(!actions.contains(&"dynamodb:DeleteTable".to_string()));
    }

    #[tokio::test]
    async fn a_slow_read_times_out_and_says_so() {
        let mut r = reader(Ok(json!({})));
        r.delay = Duration::from_secs(30);
        let p = run(&r, &delete_table(), Duration::from_millis(50)).await;
        assert_eq!(p.status, PreviewStatus::TimedOut);
        assert_eq!(
            p.notes,
            ["the current state could not be read within 50 ms"]
        );
    }

    #[tokio::test]
    async fn failures_and_calls_without_a_read_say_so() {
        let mut r = reader(Ok(json!({})));
        r.no_session = true;
        let p = run(&r, &delete_table(), Duration::from_secs(5)).await;
        assert_eq!(p.status, PreviewStatus::Failed);
        assert_eq!(p.notes, ["no read session: STS is unavailable; try again"]);
        let p = read_within(
            &r,
            &delete_table(),
            None,
            "123456789012",
            5,
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(p.notes, ["target `default` has no role to read with"]);
        let p = run(
            &reader(Err("AccessDeniedException: no".into())),
            &delete_table(),
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(p.status, PreviewStatus::Failed);
        let create = held("dynamodb:CreateTable", json!({"TableName": "t"}), &[TABLE]);
        let p = run(&r, &create, Duration::from_secs(5)).await;
        assert_eq!(p.status, PreviewStatus::Unavailable);
    }
}
