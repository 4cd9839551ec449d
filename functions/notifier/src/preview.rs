//! The impact preview, read once when a request is held and before its first notice: the
//! catalog plans the reads, a session allowed only those reads on the request's resources
//! sends them, core masks and bounds what they answer. It never blocks the notice: a failure
//! or a timeout is itself the preview, saying so.

use std::time::{Duration, Instant};

use tollgate_aws::credentials::ScopedSession;
use tollgate_aws::model_call::signing_region;
use tollgate_aws::ports::{StateRead, StateReader};
use tollgate_core::RequestRecord;
use tollgate_core::preview::{PREVIEW_TIMEOUT_MS, Preview, PreviewStatus, ReadAnswer, summarise};
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
    let tags = vec![
        ("tollgate:request".to_string(), rec.id.clone()),
        ("tollgate:purpose".to_string(), "preview".to_string()),
    ];
    let session = ScopedSession {
        role_arn,
        session_name: &tollgate_core::reconcile::Session::Preview(&rec.id).name(),
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

    /// Answers every read alike, after `delay`, and keeps the session policy it was given.
    struct FakeReader {
        delay: Duration,
        answer: Result<Value, String>,
        no_session: bool,
        policy: Mutex<Option<String>>,
    }

    fn reader(answer: Result<Value, String>) -> FakeReader {
        FakeReader {
            delay: Duration::ZERO,
            answer,
            no_session: false,
            policy: Mutex::new(None),
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
    }

    fn held(action: &str, params: Value, resources: &[&str]) -> RequestRecord {
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
            vec![],
            resources.iter().map(|r| r.to_string()).collect(),
            1,
        )
        .0
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
