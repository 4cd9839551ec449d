//! Performs an approved call exactly once: claims the request, assumes the target role with
//! a session policy naming only this call, sends the signed call, masks the answer and
//! records the outcome.

mod call;

use std::sync::Arc;

use aws_config::SdkConfig;
use serde::Deserialize;
use serde_json::{Value, json};
use tollgate_aws::credentials::{CredentialBroker, ScopedSession};
use tollgate_aws::keys::{KeySource, Purpose};
use tollgate_aws::metrics::Unit;
use tollgate_aws::now_ms;
use tollgate_aws::ports::{RecordStore, SignedCaller};
use tollgate_aws::settings::Settings;
use tollgate_aws::signed_http::SignedHttp;
use tollgate_aws::store::Store;
use tollgate_core::answer_size::{MAX_ANSWER_BYTES, bound_answer};
use tollgate_core::keyring::KeyRing;
use tollgate_core::reveal::{self, Revealed};
use tollgate_core::scope::{scoped_session_policy, session_policy};
use tollgate_core::{ApiError, ErrorCode, EventKind, RequestRecord, Status};

#[derive(Debug, Deserialize)]
pub struct ExecuteEvent {
    pub request_id: String,
}

pub struct Executor {
    settings: Settings,
    store: Arc<dyn RecordStore>,
    broker: CredentialBroker,
    http: Arc<dyn SignedCaller>,
    /// Seals what `@unmask` reveals to the requesting agent; the only key the executor reads.
    results_key: KeyRing,
}

/// Largest sealed `@unmask` part kept beside an answer; the answer's own budget shrinks by
/// as much, so the record still fits one DynamoDB item.
const MAX_SEALED_RESULT_BYTES: usize = 64 * 1024;

/// What claiming a request found.
enum Claim {
    /// This invocation owns the call.
    Run {
        session_policy: String,
        role_arn: String,
    },
    /// Someone already ran it, or it may not run: report the record as it is.
    Skip,
}

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
            http: Arc::new(SignedHttp::new()),
            results_key,
            settings,
        })
    }

    pub async fn handle(&self, event: Value) -> Result<Value, ApiError> {
        let event: ExecuteEvent = serde_json::from_value(event).map_err(|e| {
            ApiError::new(ErrorCode::InvalidRequest, format!("executor event: {e}"))
        })?;
        let id = event.request_id.as_str();
        let (claim, rec) = self.store.update(id, |rec| self.claim(rec)).await?;
        let Claim::Run {
            session_policy,
            role_arn,
        } = claim
        else {
            return Ok(rec.view());
        };
        let started = std::time::Instant::now();
        let outcome = self.run(&rec, &role_arn, &session_policy).await;
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
        let outcome = outcome.map(|(answer, revealed)| self.keep(&rec, answer, &revealed));
        let (_, rec) = self
            .store
            .update(id, |r| {
                if r.status != Status::Executing {
                    return Ok(((), vec![]));
                }
                let ev = match &outcome {
                    Ok((result, sealed)) => {
                        r.result = Some(result.clone());
                        r.sealed_result = sealed.clone();
                        r.transition(
                            Status::Succeeded,
                            EventKind::Executed,
                            None,
                            json!({}),
                            now_ms(),
                        )?
                    }
                    Err(error) => {
                        r.error = Some(error.clone());
                        r.transition(
                            Status::Failed,
                            EventKind::Failed,
                            None,
                            json!({"error": error}),
                            now_ms(),
                        )?
                    }
                };
                Ok(((), vec![ev]))
            })
            .await?;
        tracing::info!(request_id = %id, status = %rec.status, "execution recorded");
        Ok(rec.view())
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

    /// Moves an approved request to EXECUTING, once. A request found already EXECUTING means
    /// an earlier attempt died mid-call: it is failed, never called a second time.
    fn claim(
        &self,
        rec: &mut RequestRecord,
    ) -> Result<(Claim, Vec<tollgate_core::Event>), ApiError> {
        let now = now_ms();
        match rec.status {
            Status::Approved => {}
            Status::Executing => {
                let error = json!({"code": "ExecutionInterrupted", "message": "an earlier execution attempt did not finish; the call is not repeated"});
                return not_run(rec, error, now);
            }
            _ => return Ok((Claim::Skip, vec![])),
        }
        if rec.request.hash() != rec.request_hash {
            let error = json!({"code": "RequestAltered", "message": "the request no longer matches what was approved"});
            return not_run(rec, error, now);
        }
        let Some(role_arn) = self.settings.targets.get(&rec.request.target).cloned() else {
            let error = json!({"code": "UnknownTarget", "message": format!("target `{}` is not configured", rec.request.target)});
            return not_run(rec, error, now);
        };
        let session_policy = match scoped_policy(rec, &call::signing_region(&rec.request)) {
            Ok(p) => p,
            Err(error) => return not_run(rec, error, now),
        };
        let ev = rec.transition(
            Status::Executing,
            EventKind::ExecutionStarted,
            None,
            json!({
                "role_arn": role_arn,
                "session_policy": serde_json::from_str::<Value>(&session_policy).unwrap_or(Value::Null),
                "source_identity": rec.agent.source_identity(),
                "request_hash": rec.request_hash,
            }),
            now,
        )?;
        Ok((
            Claim::Run {
                session_policy,
                role_arn,
            },
            vec![ev],
        ))
    }

    async fn run(
        &self,
        rec: &RequestRecord,
        role_arn: &str,
        policy: &str,
    ) -> Result<(Value, Vec<Revealed>), Value> {
        let approvers: Vec<String> = rec.approvers().iter().map(|a| a.subject.clone()).collect();
        let tags = session_tags(&rec.id, &approvers);
        let creds = self
            .broker
            .assume(&ScopedSession {
                role_arn,
                session_name: &format!("tollgate-{}", rec.id),
                session_policy: policy,
                source_identity: &rec.agent.source_identity(),
                tags: &tags,
            })
            .await
            .map_err(|e| json!({"code": "AssumeRoleFailed", "message": e.message}))?;
        call::perform(
            self.http.as_ref(),
            &creds,
            &rec.request,
            self.settings.aws_endpoint.as_deref(),
            &rec.decision.mask,
        )
        .await
    }
}

/// Fails `rec` with `error` without calling AWS.
fn not_run(
    rec: &mut RequestRecord,
    error: Value,
    now: u64,
) -> Result<(Claim, Vec<tollgate_core::Event>), ApiError> {
    rec.error = Some(error.clone());
    let ev = rec.transition(
        Status::Failed,
        EventKind::Failed,
        None,
        json!({"error": error}),
        now,
    )?;
    Ok((Claim::Skip, vec![ev]))
}

/// The session policy for `rec`: each IAM action on its own resources. Fails closed: a
/// record that names no IAM action, no resource, or a per-action scope that does not match
/// its actions and resources is not run (the operation's name is never taken for its IAM
/// action, and nothing falls back to a wider policy).
fn scoped_policy(rec: &RequestRecord, region: &str) -> Result<String, Value> {
    let refuse = |message: &str| json!({"code": "UnscopedRequest", "message": message});
    if rec.iam_actions.is_empty() {
        return Err(refuse(
            "the request names no IAM action to allow, so no session policy can scope it; it is not run",
        ));
    }
    if rec.resources.is_empty() {
        return Err(refuse(
            "the request names no resource to allow; it is not run",
        ));
    }
    if rec.action_resources.is_empty() {
        return Ok(session_policy(&rec.iam_actions, &rec.resources, region));
    }
    let same_actions = rec.action_resources.len() == rec.iam_actions.len()
        && rec
            .iam_actions
            .iter()
            .all(|a| rec.action_resources.contains_key(a));
    let within = rec
        .action_resources
        .values()
        .all(|r| !r.is_empty() && r.iter().all(|a| rec.resources.contains(a)));
    if !same_actions || !within {
        return Err(refuse(
            "the request's per-action resources do not match its actions and resources; it is not run",
        ));
    }
    Ok(scoped_session_policy(&rec.action_resources, region))
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

    fn record(iam_actions: &[&str], resources: &[&str]) -> RequestRecord {
        let req = tollgate_core::parse_new_request(
            br#"{"action":"s3:CopyObject","params":{"Bucket":"dst","Key":"k2","CopySource":"src/k1"},"reason":"r"}"#,
            "us-east-1",
        )
        .unwrap();
        let decision = tollgate_core::Decision {
            effect: tollgate_core::Effect::Allow,
            policy_ids: vec![],
            reason: String::new(),
            mask: Default::default(),
            requires: Default::default(),
        };
        RequestRecord::new(
            "R".into(),
            req,
            Default::default(),
            decision,
            iam_actions.iter().map(|s| s.to_string()).collect(),
            resources.iter().map(|s| s.to_string()).collect(),
            1,
        )
        .0
    }

    #[test]
    fn no_iam_action_means_no_call() {
        let e = scoped_policy(&record(&[], &["*"]), "us-east-1").unwrap_err();
        assert_eq!(e["code"], "UnscopedRequest");
        assert!(scoped_policy(&record(&["s3:GetObject"], &[]), "us-east-1").is_err());
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
        let p: Value = serde_json::from_str(&scoped_policy(&rec, "us-east-1").unwrap()).unwrap();
        assert_eq!(p["Statement"].as_array().unwrap().len(), 2, "{p}");
        // A scope reaching past the request's resources, or missing an action, is refused.
        let mut wider = rec.clone();
        wider
            .action_resources
            .insert("s3:GetObject".into(), vec!["*".into()]);
        assert!(scoped_policy(&wider, "us-east-1").is_err());
        let mut fewer = rec.clone();
        fewer.action_resources.remove("s3:PutObject");
        assert!(scoped_policy(&fewer, "us-east-1").is_err());
        // Records from before per-action scopes: one statement.
        rec.action_resources.clear();
        let p: Value = serde_json::from_str(&scoped_policy(&rec, "us-east-1").unwrap()).unwrap();
        assert_eq!(p["Statement"].as_array().unwrap().len(), 1);
    }

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
}
