//! The API's rules through its real routes, on in-memory ports: the record store keeps the
//! DynamoDB store's contract (`tollgate_aws::store::contract`), the workflow and executor
//! record what they are asked. Tokens are really signed (ES256) and verified against pinned
//! keys, so no HTTP is involved. The end-to-end tests against moto prove the adapters and
//! the wiring; these prove the rules, in milliseconds.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tollgate_aws::keys::SecretIds;
use tollgate_aws::metrics::Metrics;
use tollgate_aws::oidc::IssuerConfig;
use tollgate_aws::policy_source::Source;
use tollgate_aws::ports::{Invoker, Publisher, RecordStore, Workflow};
use tollgate_aws::settings::Settings;
use tollgate_aws::store::memory::MemoryStore;
use tollgate_core::ApiError;
use tollgate_core::keyring::KeyRing;
use tollgate_core::own::OwnResources;
use tollgate_policy::{CedarPolicy, PolicySource, with_protection};

use crate::{Api, ApiKeys, Ports, Response};

const AGENTS: &str = "https://agents.test";
const APPROVERS: &str = "https://approvers.test";

/// Deletes need one approver; dropping a bucket needs one from `dba` and one from
/// `security` (two requirements, so two approvals from two groups).
const POLICY: &str = r#"
@id("reads") permit (principal, action in Action::"Read", resource);
@id("deletes") @approval("1") @approvers("approvers")
permit (principal, action == Action::"dynamodb:DeleteTable", resource);
@id("buckets-dba") @approval("1") @approvers("dba")
permit (principal, action == Action::"s3:DeleteBucket", resource);
@id("buckets-security") @approval("1") @approvers("security")
permit (principal, action == Action::"s3:DeleteBucket", resource);
"#;

/// What the workflow was told, in order.
#[derive(Default)]
struct RecordedWorkflow(Mutex<Vec<String>>);

impl RecordedWorkflow {
    fn calls(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn note(&self, call: String) {
        self.0.lock().unwrap().push(call);
    }
}

#[async_trait]
impl Workflow for RecordedWorkflow {
    async fn start(&self, request_id: &str, _timeout: u64) -> Result<(), ApiError> {
        self.note(format!("start {request_id}"));
        Ok(())
    }
    async fn approve(&self, task_token: &str, request_id: &str) -> Result<bool, ApiError> {
        self.note(format!("approve {task_token} {request_id}"));
        Ok(true)
    }
    async fn reject(&self, task_token: &str, _cause: &str) -> Result<bool, ApiError> {
        self.note(format!("reject {task_token}"));
        Ok(true)
    }
    async fn cancel(&self, task_token: &str) -> Result<bool, ApiError> {
        self.note(format!("cancel {task_token}"));
        Ok(true)
    }
    async fn running(&self, request_id: &str) -> Result<bool, ApiError> {
        self.note(format!("running {request_id}"));
        Ok(true)
    }
}

/// The executor, never reached in these tests: its invocations are counted.
#[derive(Default)]
struct CountedInvoker(Mutex<u32>);

#[async_trait]
impl Invoker for CountedInvoker {
    async fn invoke(&self, _function: &str, _payload: &Value) -> Result<Value, ApiError> {
        *self.0.lock().unwrap() += 1;
        Ok(json!({}))
    }
}

/// The notices published, as (subject, message).
#[derive(Default)]
struct RecordedNotices(Mutex<Vec<(String, Value)>>);

#[async_trait]
impl Publisher for RecordedNotices {
    async fn publish(&self, subject: &str, message: &Value) -> Result<String, ApiError> {
        let mut sent = self.0.lock().unwrap();
        sent.push((subject.to_string(), message.clone()));
        Ok(format!("m-{}", sent.len()))
    }
}

struct Harness {
    api: Api,
    store: Arc<dyn RecordStore>,
    workflow: Arc<RecordedWorkflow>,
    notices: Arc<RecordedNotices>,
    alarms: Arc<RecordedNotices>,
    signer: EncodingKey,
    kid: String,
}

fn issuer(iss: &str, aud: &str, jwk: &Value, approver_groups: &[&str]) -> IssuerConfig {
    let mut cfg = IssuerConfig::new(iss, aud);
    cfg.algorithms = vec![Algorithm::ES256];
    cfg.jwks = Some(serde_json::from_value(json!({"keys": [jwk]})).expect("jwks"));
    cfg.human_key_claim = Some("email".into());
    cfg.approver_groups = approver_groups.iter().map(|g| g.to_string()).collect();
    cfg
}

fn ring(byte: u8) -> KeyRing {
    KeyRing::new(vec![byte; 32], None).expect("key ring")
}

fn harness() -> Harness {
    harness_with(POLICY)
}

fn harness_with(policy_text: &str) -> Harness {
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    let point = pair.public_key().as_ref();
    let kid = "test-es256".to_string();
    let jwk = json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
        "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])});
    let settings = Settings {
        table: "t".into(),
        state_machine_arn: "arn:aws:states:us-east-1:111111111111:stateMachine:sm".into(),
        topic_arn: "arn:aws:sns:us-east-1:111111111111:topic".into(),
        alarm_topic_arn: Some("arn:aws:sns:us-east-1:111111111111:alarms".into()),
        payload_bucket: None,
        executor_function: "executor".into(),
        targets: BTreeMap::from([(
            "default".to_string(),
            "arn:aws:iam::222222222222:role/target".to_string(),
        )]),
        public_url: "https://tollgate.test".into(),
        front_door_url: Default::default(),
        secrets: SecretIds {
            keys: BTreeMap::new(),
            slack_actions: None,
        },
        account_id: "111111111111".into(),
        allow_self_target: false,
        own_resources: OwnResources::new("111111111111", None, &[]).unwrap(),
        agent_issuers: vec![issuer(AGENTS, "agents", &jwk, &[])],
        approver_issuers: vec![issuer(
            APPROVERS,
            "approvers",
            &jwk,
            &["approvers", "dba", "security"],
        )],
        default_region: "us-east-1".into(),
        approval_timeout_seconds: 3600,
        breakglass_ack_seconds: 3600,
        max_plan_steps: 5,
        jwks_min_refresh: Duration::from_secs(10),
        lambda_endpoint: None,
        aws_endpoint: None,
        policy_source: Source::Bundled,
        shadow_policy_source: None,
        metrics: Metrics::Off,
        slack_approvers: BTreeMap::new(),
        slack_api_url: "https://slack.test/api".into(),
    };
    let sources = with_protection(vec![PolicySource::new("test", policy_text)]);
    let policy = CedarPolicy::new(&sources, 3600)
        .unwrap_or_else(|e| panic!("policy: {e:?}"))
        .with_own_resources(settings.own_resources.clone());
    let store: Arc<dyn RecordStore> = Arc::new(MemoryStore::new());
    let workflow = Arc::new(RecordedWorkflow::default());
    let notices = Arc::new(RecordedNotices::default());
    let alarms = Arc::new(RecordedNotices::default());
    let ports = Ports {
        store: store.clone(),
        workflow: workflow.clone(),
        executor: Arc::new(CountedInvoker::default()),
        notices: notices.clone(),
        alarms: Some(alarms.clone()),
        payloads: None,
    };
    let keys = ApiKeys {
        link: ring(1),
        session: ring(2),
        csrf: ring(3),
        results: ring(4),
        gateway: ring(5),
        slack: None,
        sign_in_secret: None,
    };
    let mut api = Api::assemble(settings, ports, keys, Arc::new(policy));
    api.poll_interval = Duration::from_millis(100);
    Harness {
        api,
        store,
        workflow,
        notices,
        alarms,
        signer: EncodingKey::from_ec_der(pkcs8.as_ref()),
        kid,
    }
}

/// A wall-clock second count for token lifetimes (tokens are checked against the system
/// clock, whatever tokio's clock says).
fn now_s() -> u64 {
    tollgate_aws::now_ms() / 1000
}

impl Harness {
    fn token(&self, iss: &str, aud: &str, sub: &str, email: &str, groups: &[&str]) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(self.kid.clone());
        let claims = json!({"iss": iss, "aud": aud, "sub": sub, "email": email,
            "groups": groups, "iat": now_s(), "exp": now_s() + 600});
        jsonwebtoken::encode(&header, &claims, &self.signer).expect("sign")
    }

    fn agent(&self, sub: &str) -> String {
        self.token(AGENTS, "agents", sub, &format!("{sub}@example.com"), &[])
    }

    fn approver(&self, sub: &str, groups: &[&str]) -> String {
        self.token(
            APPROVERS,
            "approvers",
            sub,
            &format!("{sub}@example.com"),
            groups,
        )
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        headers: &[(&str, &str)],
        body: Value,
    ) -> (u16, Value) {
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = if body.is_null() {
            vec![]
        } else {
            body.to_string().into_bytes()
        };
        let Response { status, body, .. } =
            self.api.handle(req.body(body).unwrap(), "192.0.2.1").await;
        (
            status,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    }

    async fn submit(&self, agent: &str, call: Value, key: Option<&str>) -> (u16, Value) {
        let token = self.agent(agent);
        let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
        self.call("POST", "/v1/requests", &token, &headers, call)
            .await
    }

    /// A pending delete by `agent`, with its task token stored as the notifier would.
    async fn pending(&self, agent: &str, call: Value) -> String {
        let (status, body) = self.submit(agent, call, None).await;
        assert_eq!(status, 202, "{body}");
        let id = body["id"].as_str().expect("id").to_string();
        self.store
            .update(&id, |r| {
                r.task_token = Some(format!("token-{}", r.id));
                let ev = r.push_event(
                    tollgate_core::EventKind::Notified,
                    None,
                    json!({"channel": "test"}),
                    tollgate_aws::now_ms(),
                );
                Ok(((), vec![ev]))
            })
            .await
            .unwrap();
        id
    }

    async fn vote(&self, token: &str, id: &str, verb: &str) -> (u16, Value) {
        self.call(
            "POST",
            &format!("/v1/requests/{id}/{verb}"),
            token,
            &[],
            Value::Null,
        )
        .await
    }

    async fn cancel(&self, agent: &str, id: &str) -> (u16, Value) {
        let path = format!("/v1/requests/{id}/cancel");
        self.call("POST", &path, &self.agent(agent), &[], Value::Null)
            .await
    }

    async fn status(&self, token: &str, id: &str, wait: u64) -> (u16, Value) {
        self.call(
            "GET",
            &format!("/v1/requests/{id}?wait={wait}"),
            token,
            &[],
            Value::Null,
        )
        .await
    }
}

fn delete_table(name: &str) -> Value {
    json!({"action": "dynamodb:DeleteTable", "params": {"TableName": name}, "reason": "cleanup"})
}

fn delete_bucket(name: &str) -> Value {
    json!({"action": "s3:DeleteBucket", "params": {"Bucket": name}, "reason": "cleanup"})
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn approvers_see_what_they_may_decide_and_agents_only_their_own() {
    let h = harness();
    let id = h.pending("bot", delete_bucket("b")).await;
    let (status, body) = h.status(&h.approver("dana", &["dba"]), &id, 0).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "PENDING");
    assert!(
        body["task_token"].is_null(),
        "the task token is never shown"
    );
    let (status, body) = h.status(&h.approver("olga", &["approvers"]), &id, 0).await;
    assert_eq!(
        (status, code(&body)),
        (404, "not_found"),
        "an approver outside the request's groups sees nothing: {body}"
    );
    let (status, _) = h.status(&h.agent("bot"), &id, 0).await;
    assert_eq!(status, 200);
    let (status, body) = h.status(&h.agent("other-bot"), &id, 0).await;
    assert_eq!(
        (status, code(&body)),
        (404, "not_found"),
        "another agent's request answers like a missing one"
    );
}

#[tokio::test]
async fn an_idempotency_key_returns_the_first_request_for_the_same_body_only() {
    let h = harness();
    let (s1, first) = h.submit("bot", delete_table("t"), Some("key-1")).await;
    let (s2, again) = h.submit("bot", delete_table("t"), Some("key-1")).await;
    assert_eq!((s1, s2), (202, 202), "{first} {again}");
    assert_eq!(first["id"], again["id"], "one request for one key");
    assert_eq!(h.workflow.calls().len(), 1, "one approval workflow");
    let (status, body) = h.submit("bot", delete_table("other"), Some("key-1")).await;
    assert_eq!(
        (status, code(&body)),
        (422, "idempotency_mismatch"),
        "{body}"
    );
    // The key is the agent's own: another agent's same key is another request.
    let (status, theirs) = h.submit("bot-2", delete_table("t"), Some("key-1")).await;
    assert_eq!(status, 202);
    assert_ne!(theirs["id"], first["id"]);
}

#[tokio::test]
async fn cancel_and_approve_race_and_exactly_one_wins() {
    let h = harness();
    // Approve first: the cancel is refused.
    let id = h.pending("bot", delete_table("a")).await;
    let (status, body) = h
        .vote(&h.approver("ann", &["approvers"]), &id, "approve")
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("APPROVED")),
        "{body}"
    );
    let (status, body) = h.cancel("bot", &id).await;
    assert_eq!((status, code(&body)), (409, "conflict"), "{body}");
    // Cancel first: the approval is refused, and the workflow hears only the cancel.
    let id = h.pending("bot", delete_table("b")).await;
    let (status, body) = h.cancel("bot", &id).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("CANCELLED")),
        "{body}"
    );
    let (status, body) = h
        .vote(&h.approver("ann", &["approvers"]), &id, "approve")
        .await;
    assert_eq!((status, code(&body)), (409, "already_final"), "{body}");
    let calls = h.workflow.calls();
    assert!(calls.contains(&format!("cancel token-{id}")), "{calls:?}");
    assert!(
        !calls.contains(&format!("approve token-{id} {id}")),
        "{calls:?}"
    );
    // At once: one of the two lands, the other is refused.
    let id = h.pending("bot", delete_table("c")).await;
    let ann = h.approver("ann", &["approvers"]);
    let ((approved, _), (cancelled, _)) =
        tokio::join!(h.vote(&ann, &id, "approve"), h.cancel("bot", &id));
    assert_eq!(
        [approved, cancelled].iter().filter(|s| **s == 200).count(),
        1,
        "approve {approved}, cancel {cancelled}"
    );
    let rec = h.store.get(&id).await.unwrap().unwrap();
    let expected = if approved == 200 {
        "APPROVED"
    } else {
        "CANCELLED"
    };
    assert_eq!(rec.status.as_str(), expected);
}

#[tokio::test(start_paused = true)]
async fn a_long_poll_answers_when_the_request_changes() {
    let h = harness();
    let id = h.pending("bot", delete_table("t")).await;
    let bot = h.agent("bot");
    let ann = h.approver("ann", &["approvers"]);
    let started = tokio::time::Instant::now();
    let poll = h.status(&bot, &id, 20);
    let approve = async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        h.vote(&ann, &id, "approve").await
    };
    let ((status, body), (voted, _)) = tokio::join!(poll, approve);
    assert_eq!((status, voted), (200, 200));
    assert_eq!(body["status"], "APPROVED", "{body}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_secs(20),
        "the poll answered at the change, not at its deadline: {waited:?}"
    );
    // Nothing changes: the poll holds until its deadline and answers as it is.
    let id = h.pending("bot", delete_table("u")).await;
    let started = tokio::time::Instant::now();
    let (status, body) = h.status(&bot, &id, 5).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("PENDING")));
    assert!(started.elapsed() >= Duration::from_secs(5));
}

#[tokio::test]
async fn quorum_needs_an_approval_from_each_group() {
    let h = harness();
    let id = h.pending("bot", delete_bucket("b")).await;
    let (status, body) = h.vote(&h.approver("dana", &["dba"]), &id, "approve").await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("PENDING")),
        "{body}"
    );
    // A second dba counts for nothing: the dba requirement is met, security's is not.
    let (status, body) = h.vote(&h.approver("dave", &["dba"]), &id, "approve").await;
    assert_eq!(status, 403, "{body}");
    assert!(!h.workflow.calls().iter().any(|c| c.starts_with("approve")));
    let (status, body) = h
        .vote(&h.approver("sam", &["security"]), &id, "approve")
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("APPROVED")),
        "{body}"
    );
    assert!(
        h.workflow
            .calls()
            .contains(&format!("approve token-{id} {id}")),
        "the workflow is resumed once quorum is reached"
    );
    let rec = h.store.get(&id).await.unwrap().unwrap();
    assert_eq!(rec.approvers().len(), 2);
    assert_eq!(
        h.store.verify(&id).await.unwrap().unwrap(),
        rec.seq as usize
    );
}

#[tokio::test]
async fn votes_are_refused_for_the_requester_outsiders_agents_and_late_comers() {
    let h = harness();
    let id = h.pending("bot", delete_table("t")).await;
    // The same person as the requesting agent (one e-mail), under an approver identity.
    let (status, body) = h
        .vote(&h.approver("bot", &["approvers"]), &id, "approve")
        .await;
    assert_eq!((status, code(&body)), (403, "self_approval"), "{body}");
    // An approver issuer's token without an approver group.
    let (status, body) = h.vote(&h.approver("eve", &["staff"]), &id, "approve").await;
    assert_eq!((status, code(&body)), (403, "forbidden"), "{body}");
    assert_eq!(body["error"]["reason"], "not_an_approver");
    // An agent's token is not an approver's.
    let (status, body) = h.vote(&h.agent("bot-2"), &id, "approve").await;
    assert_eq!((status, code(&body)), (401, "unauthorized"), "{body}");
    // Nothing above counted.
    assert!(h.store.get(&id).await.unwrap().unwrap().votes.is_empty());
    // Once decided, a later vote is refused and changes nothing.
    let (status, _) = h
        .vote(&h.approver("ann", &["approvers"]), &id, "reject")
        .await;
    assert_eq!(status, 200);
    let (status, body) = h
        .vote(&h.approver("ben", &["approvers"]), &id, "approve")
        .await;
    assert_eq!((status, code(&body)), (409, "already_final"), "{body}");
    let rec = h.store.get(&id).await.unwrap().unwrap();
    assert_eq!(rec.status.as_str(), "REJECTED");
    assert_eq!(rec.votes.len(), 1);
}

#[tokio::test]
async fn gateway_credentials_take_an_optional_wait_and_target_that_are_checked() {
    let h = harness();
    let bot = h.agent("bot");
    let issue = |body: Value| h.call("POST", "/v1/credentials", &bot, &[], body);
    let (status, body) = issue(Value::Null).await;
    assert_eq!(
        (status, body["wait_seconds"].as_u64()),
        (200, Some(0)),
        "{body}"
    );
    // Without a front door of its own, the deployment serves it on Tollgate's URL.
    assert_eq!(body["endpoint_url"], "https://tollgate.test", "{body}");
    let (status, body) = issue(json!({"wait_seconds": 20})).await;
    assert_eq!(
        (status, body["wait_seconds"].as_u64()),
        (200, Some(20)),
        "{body}"
    );
    for (bad, field) in [
        (json!({"wait_seconds": 21}), "wait_seconds"),
        (json!({"wait_seconds": -1}), "wait_seconds"),
        (json!({"wait_seconds": "5"}), "wait_seconds"),
        (json!({"wait_seconds": 1.5}), "wait_seconds"),
        (json!({"wait": 5}), "wait"),
        (json!([5]), "body"),
        (json!({"target": "nowhere"}), "target"),
        (json!({"target": "a/b"}), "target"),
        (json!({"target": 1}), "target"),
    ] {
        let (status, body) = issue(bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["field"], field, "{bad}: {body}");
    }
}

/// Deployed, the front door is the function's URL: the credentials name it, and without it
/// nothing is issued (credentials with nowhere to send them are no use).
#[tokio::test]
async fn gateway_credentials_name_the_front_door_and_are_not_issued_without_it() {
    use tollgate_aws::front_door_url::{FrontDoorEndpoint, FrontDoorUrl};
    let mut h = harness();
    let bot = h.agent("bot");
    h.api.front_door_url = FrontDoorEndpoint::new(
        FrontDoorUrl::Url("https://abc.lambda-url.us-east-1.on.aws".into()),
        None,
    );
    let (status, body) = h
        .call("POST", "/v1/credentials", &bot, &[], Value::Null)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["endpoint_url"],
        "https://abc.lambda-url.us-east-1.on.aws"
    );
    // A parameter that cannot be read: 503, and no credentials in the answer.
    h.api.front_door_url = FrontDoorEndpoint::new(
        FrontDoorUrl::Parameter("/tollgate/front-door-url".into()),
        None,
    );
    let (status, body) = h
        .call("POST", "/v1/credentials", &bot, &[], Value::Null)
        .await;
    assert_eq!((status, code(&body)), (503, "unavailable"), "{body}");
    assert!(body.get("secret_access_key").is_none(), "{body}");
    // Anything but a signed call on the front door's own URL is sent to Tollgate's.
    let r = h.api.not_on_the_front_door();
    let (parts, text) = r.into_http().into_parts();
    assert_eq!(parts.status, 404);
    assert!(text.contains("https://tollgate.test"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn a_caller_holds_at_most_its_share_of_open_long_polls() {
    let h = harness();
    let bot = h.agent("bot");
    let mut ids = Vec::new();
    for i in 0..=tollgate_core::waits::PER_CALLER {
        ids.push(h.pending("bot", delete_table(&format!("t{i}"))).await);
    }
    let (last, open) = ids.split_last().unwrap();
    assert_eq!(open.len(), 4, "this test opens four waits");
    let polls = async {
        let (a, b, c, d) = tokio::join!(
            h.status(&bot, &open[0], 10),
            h.status(&bot, &open[1], 10),
            h.status(&bot, &open[2], 10),
            h.status(&bot, &open[3], 10)
        );
        [a, b, c, d]
    };
    let refused = async {
        // Once the others have started waiting.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let over = h.status(&bot, last, 10).await;
        // Without a wait, the same request answers at once; another caller still may wait.
        let plain = h.status(&bot, last, 0).await;
        let other = h.pending("other-bot", delete_table("o")).await;
        let started = tokio::time::Instant::now();
        let theirs = h.status(&h.agent("other-bot"), &other, 2).await;
        (over, plain, theirs, started.elapsed())
    };
    let (done, (over, plain, theirs, waited)) = tokio::join!(polls, refused);
    assert!(done.iter().all(|(status, _)| *status == 200), "{done:?}");
    assert_eq!(
        (over.0, code(&over.1)),
        (429, "too_many_requests"),
        "{}",
        over.1
    );
    assert_eq!(over.1["error"]["field"], "wait", "{}", over.1);
    assert_eq!(plain.0, 200);
    assert_eq!(theirs.0, 200, "{}", theirs.1);
    assert!(waited >= Duration::from_secs(2), "the other caller waited");
    // The waits have answered: their places are free again.
    let started = tokio::time::Instant::now();
    let (status, _) = h.status(&bot, last, 1).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_secs(1));
}

impl Harness {
    /// A page session for an approver, as the sign-in callback records it, and its cookie.
    async fn sign_in(&self, sub: &str, groups: &[&str]) -> String {
        let identity = tollgate_core::Identity {
            issuer: APPROVERS.into(),
            subject: sub.into(),
            name: sub.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            human: Some(format!("{sub}@example.com")),
            ..Default::default()
        };
        let sid = format!("sid-{sub}-0123456789abcdef0123456789");
        let now = tollgate_aws::now_ms();
        self.store
            .put_session(
                &sid,
                &tollgate_aws::store::SessionRecord {
                    identity,
                    created_ms: now,
                    expires_ms: now + 600_000,
                },
            )
            .await
            .unwrap();
        format!(
            "{}={}",
            crate::approver_session::SESSION_COOKIE,
            self.api.session_cookie(sid, now + 600_000)
        )
    }

    /// A page or form as a browser sends it: the cookie, and a form body for a POST.
    async fn browse(
        &self,
        method: &str,
        path: &str,
        cookie: &str,
        form: &[(&str, &str)],
    ) -> (u16, String) {
        let mut req = http::Request::builder()
            .method(method)
            .uri(path)
            .header("cookie", cookie);
        let body = if method == "POST" {
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .header("origin", "https://tollgate.test");
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish()
                .into_bytes()
        } else {
            vec![]
        };
        let r = self.api.handle(req.body(body).unwrap(), "192.0.2.1").await;
        (r.status, r.body)
    }
}

/// The value of the page's hidden input `name`.
fn hidden(html: &str, name: &str) -> String {
    let at = html
        .find(&format!("name=\"{name}\" value=\""))
        .unwrap_or_else(|| panic!("no {name} in {html}"));
    let rest = &html[at + name.len() + 15..];
    rest[..rest.find('"').unwrap()].to_string()
}

#[tokio::test]
async fn the_inbox_lists_what_waits_for_the_approver_soonest_first_and_filters() {
    let h = harness();
    let first = h.pending("bot", delete_table("orders")).await;
    let bucket = h.pending("other-bot", delete_bucket("logs")).await;
    let second = h.pending("bot", delete_table("users")).await;
    // `users` lapses first: it comes first.
    h.store
        .update(&second, |r| {
            r.expires_at = r.expires_at.map(|e| e - 60_000);
            let ev = r.push_event(tollgate_core::EventKind::Notified, None, json!({}), 1);
            Ok(((), vec![ev]))
        })
        .await
        .unwrap();

    let (status, page) = h.browse("GET", "/v1/inbox", "", &[]).await;
    assert_eq!(status, 200);
    assert!(page.contains("Sign in to see your inbox"), "{page}");
    assert!(
        !page.contains(&first),
        "signed out, nothing is listed: {page}"
    );

    let alice = h.sign_in("alice", &["approvers"]).await;
    let (status, page) = h.browse("GET", "/v1/inbox", &alice, &[]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Waiting for you (2)"), "{page}");
    let (a, b) = (page.find(&second).unwrap(), page.find(&first).unwrap());
    assert!(a < b, "soonest deadline first: {page}");
    assert!(
        !page.contains(&bucket),
        "a request needing groups alice is not in is not hers: {page}"
    );

    let dana = h.sign_in("dana", &["dba"]).await;
    let (_, page) = h.browse("GET", "/v1/inbox", &dana, &[]).await;
    assert!(page.contains(&bucket) && !page.contains(&first), "{page}");

    // Filters: by action (a whole service), by agent name, by agent key (the by-agent index).
    let (_, page) = h.browse("GET", "/v1/inbox?action=s3", &alice, &[]).await;
    assert!(page.contains("Waiting for you (0)"), "{page}");
    let (_, page) = h
        .browse(
            "GET",
            "/v1/inbox?action=dynamodb:DeleteTable&agent=bot",
            &alice,
            &[],
        )
        .await;
    assert!(page.contains("Waiting for you (2)"), "{page}");
    let key = url::form_urlencoded::byte_serialize(format!("{AGENTS}#bot").as_bytes())
        .collect::<String>();
    let (_, page) = h
        .browse("GET", &format!("/v1/inbox?agent={key}"), &alice, &[])
        .await;
    assert!(page.contains("Waiting for you (2)"), "{page}");
    let (_, page) = h.browse("GET", "/v1/inbox?agent=nobody", &alice, &[]).await;
    assert!(page.contains("Waiting for you (0)"), "{page}");
    let (status, body) = h.browse("GET", "/v1/inbox?status=done", &alice, &[]).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("\"field\":\"status\""), "{body}");

    // Alice rejects one on the API; it moves to her decisions, and to bob's "by others".
    let (status, body) = h
        .call(
            "POST",
            &format!("/v1/requests/{first}/reject"),
            &h.approver("alice", &["approvers"]),
            &[],
            json!({"comment": "not today"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, page) = h.browse("GET", "/v1/inbox", &alice, &[]).await;
    assert!(page.contains("Waiting for you (1)"), "{page}");
    assert!(page.contains("Recently decided by you (1)"), "{page}");
    assert!(
        page.contains("alice@example.com rejected: “not today”"),
        "{page}"
    );
    let bob = h.sign_in("bob", &["approvers"]).await;
    let (_, page) = h.browse("GET", "/v1/inbox", &bob, &[]).await;
    assert!(page.contains("Recently decided by others (1)"), "{page}");
    let (_, page) = h
        .browse("GET", "/v1/inbox?status=rejected", &bob, &[])
        .await;
    assert!(
        page.contains("rejected requests (1)") && page.contains(&first),
        "{page}"
    );
    // Listing changed nothing.
    let (_, body) = h.status(&h.agent("bot"), &second, 0).await;
    assert_eq!(body["status"], "PENDING");
    assert_eq!(body["votes"], json!([]));
}

#[tokio::test]
async fn the_inbox_request_page_shows_everything_and_decides_with_the_forms_checks() {
    let h = harness();
    let id = h.pending("bot", delete_table("orders")).await;
    let alice = h.sign_in("alice", &["approvers"]).await;
    let path = format!("/v1/inbox/{id}");

    let (status, page) = h.browse("GET", &path, "", &[]).await;
    assert_eq!(status, 200);
    assert!(page.contains("Sign in to see your inbox"), "{page}");
    assert!(!page.contains("orders"), "{page}");
    // Someone outside the request's groups: like a missing request.
    let dana = h.sign_in("dana", &["dba"]).await;
    let (status, _) = h.browse("GET", &path, &dana, &[]).await;
    assert_eq!(status, 404);

    let (status, page) = h.browse("GET", &path, &alice, &[]).await;
    assert_eq!(status, 200, "{page}");
    for shown in [
        "orders",
        "Timeline",
        "submitted",
        "notified",
        "Outcome",
        "deletes",
    ] {
        assert!(page.contains(shown), "{shown} missing: {page}");
    }
    let csrf = hidden(&page, "csrf");
    let hash = hidden(&page, "request_hash");
    assert!(
        !page.contains("name=\"k\""),
        "no link key in the inbox: {page}"
    );

    // The approval form's protections hold here too.
    let evil = {
        let req = http::Request::builder()
            .method("POST")
            .uri(&path)
            .header("cookie", &alice)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", "https://evil.example");
        let body = format!("csrf={csrf}&request_hash={hash}&verdict=approve").into_bytes();
        h.api
            .handle(req.body(body).unwrap(), "192.0.2.1")
            .await
            .status
    };
    assert_eq!(evil, 403, "another site's form");
    let bob = h.sign_in("bob", &["approvers"]).await;
    let (status, page) = h
        .browse(
            "POST",
            &path,
            &bob,
            &[
                ("csrf", &csrf),
                ("request_hash", &hash),
                ("verdict", "approve"),
            ],
        )
        .await;
    assert_eq!(status, 403, "a CSRF token of another session: {page}");
    let (status, page) = h
        .browse(
            "POST",
            &path,
            &alice,
            &[
                ("csrf", &csrf),
                ("request_hash", &"0".repeat(64)),
                ("verdict", "approve"),
            ],
        )
        .await;
    assert_eq!(status, 409, "another hash than the stored one: {page}");
    let (status, _) = h
        .browse(
            "POST",
            &path,
            "",
            &[
                ("csrf", &csrf),
                ("request_hash", &hash),
                ("verdict", "approve"),
            ],
        )
        .await;
    assert_eq!(status, 401, "no session");
    let (_, body) = h.status(&h.agent("bot"), &id, 0).await;
    assert_eq!(body["votes"], json!([]), "nothing was recorded: {body}");

    let (status, page) = h
        .browse(
            "POST",
            &path,
            &alice,
            &[
                ("csrf", &csrf),
                ("request_hash", &hash),
                ("verdict", "approve"),
                ("comment", "ok"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Approved. The request runs now."), "{page}");
    assert!(page.contains("Back to the inbox"), "{page}");
    assert!(
        h.workflow
            .calls()
            .contains(&format!("approve token-{id} {id}")),
        "{:?}",
        h.workflow.calls()
    );
    let (_, body) = h.status(&h.agent("bot"), &id, 0).await;
    assert_eq!(body["status"], "APPROVED", "{body}");
    assert_eq!(body["votes"][0]["approver"]["subject"], "alice");

    // Afterwards the page shows the vote in the timeline, and nothing left to decide.
    let (_, page) = h.browse("GET", &path, &alice, &[]).await;
    assert!(page.contains("by alice: approve, “ok”"), "{page}");
    assert!(page.contains("nothing left to decide"), "{page}");
}

#[tokio::test]
async fn every_vote_publishes_a_notice_with_the_request_as_it_is_now() {
    let h = harness();
    let id = h.pending("bot", delete_bucket("logs")).await;
    let (status, body) = h.vote(&h.approver("dana", &["dba"]), &id, "approve").await;
    assert_eq!(status, 200, "{body}");
    let machine = |n: usize| -> Value {
        let sent = h.notices.0.lock().unwrap();
        serde_json::from_str(sent[n].1["lambda"].as_str().unwrap()).unwrap()
    };
    assert_eq!(h.notices.0.lock().unwrap().len(), 1);
    let first = machine(0);
    assert_eq!(first["type"], "vote_recorded");
    assert_eq!(first["request_id"], id.as_str());
    assert_eq!(first["status"], "PENDING");
    let blocks = first["blocks"].to_string();
    assert!(
        blocks.contains("dana@example.com approved at")
            && blocks.contains("\"action_id\":\"approve\""),
        "{blocks}"
    );
    assert!(
        blocks.contains("`Bucket`: `logs`"),
        "the parameters in short: {blocks}"
    );
    // A refused vote publishes nothing.
    let (status, _) = h.vote(&h.approver("dana", &["dba"]), &id, "approve").await;
    assert_eq!(status, 409);
    assert_eq!(h.notices.0.lock().unwrap().len(), 1);
    let (status, body) = h
        .vote(&h.approver("sam", &["security"]), &id, "approve")
        .await;
    assert_eq!(status, 200, "{body}");
    let second = machine(1);
    assert_eq!(second["status"], "APPROVED");
    assert!(second["seq"].as_u64() > first["seq"].as_u64(), "{second}");
    assert!(
        !second["blocks"].to_string().contains("button"),
        "no buttons once decided"
    );
}

/// A plan is no way around a rate rule: each of its steps counts as a request of its own, so
/// the third read of a plan meets the same "two an hour" rule as a third single request.
#[tokio::test]
async fn each_step_of_a_plan_counts_in_the_rate_counters() {
    let h = harness_with(
        r#"
        @id("reads") permit (principal, action in Action::"Read", resource);
        @id("two-an-hour") forbid (principal, action == Action::"dynamodb:DescribeTable", resource)
        when { context.recent.hour.action > 2 };
        "#,
    );
    let describe = json!({"action": "dynamodb:DescribeTable", "params": {"TableName": "t"}});
    let plan = json!({"reason": "three reads", "steps": [describe, describe, describe]});
    let (status, body) = h
        .call("POST", "/v1/plans", &h.agent("planner"), &[], plan)
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["step"], 2, "{body}");
    let counts = h
        .store
        .recent_counts(&format!("{AGENTS}#planner"), now_s())
        .await
        .unwrap();
    assert_eq!(counts.hour.action("dynamodb:DescribeTable"), 3);
}

/// Rate rules: each request is counted before it is decided, a denial after; policies that
/// read no counter cost no counter write.
#[tokio::test]
async fn requests_are_counted_only_for_policies_that_read_the_counters() {
    let h = harness_with(
        r#"
        @id("reads") permit (principal, action in Action::"Read", resource);
        @id("two-an-hour") forbid (principal, action == Action::"dynamodb:DescribeTable", resource)
        when { context.recent.hour.action > 2 };
        "#,
    );
    let describe = json!({"action": "dynamodb:DescribeTable", "params": {"TableName": "t"}});
    let mut statuses = vec![];
    for _ in 0..3 {
        statuses.push(h.submit("counted", describe.clone(), None).await.0);
    }
    assert_eq!(statuses, [200, 200, 403]);
    let key = format!("{AGENTS}#counted");
    let counts = h.store.recent_counts(&key, now_s()).await.unwrap();
    assert_eq!(
        (
            counts.hour.requests,
            counts.hour.action("dynamodb:DescribeTable"),
            counts.hour.denials
        ),
        (3, 3, 1)
    );
    // A dry run shows the count the request would see, and counts nothing.
    let token = h.agent("counted");
    let (status, body) = h
        .call("POST", "/v1/explain", &token, &[], describe.clone())
        .await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("deny")),
        "{body}"
    );
    assert_eq!(h.store.recent_counts(&key, now_s()).await.unwrap(), counts);

    let plain = harness();
    plain.submit("uncounted", describe, None).await;
    let none = plain
        .store
        .recent_counts(&format!("{AGENTS}#uncounted"), now_s())
        .await
        .unwrap();
    assert_eq!(none, Default::default());
}

/// Deleting a table needs two DBAs, or one member of `oncall` breaking glass.
const BREAKGLASS_POLICY: &str = r#"
@id("drops-need-two-dbas") @approval("2") @approvers("dba")
@breakglass("oncall") @breakglass_justification("30")
permit (principal, action == Action::"dynamodb:DeleteTable", resource);
@id("buckets-need-a-dba") @approval("1") @approvers("dba")
permit (principal, action == Action::"s3:DeleteBucket", resource);
"#;

const EMERGENCY: &str = "orders table is corrupt; dropping it to restore from backup";

fn kinds(sent: &RecordedNotices) -> Vec<String> {
    sent.0
        .lock()
        .unwrap()
        .iter()
        .map(|(_, m)| tollgate_core::notice::kind(m))
        .collect()
}

#[tokio::test]
async fn break_glass_lets_a_member_approve_alone_and_a_second_approver_acknowledge() {
    let h = harness_with(BREAKGLASS_POLICY);
    // Olga's own agent asks; Olga is on call.
    let id = h.pending("olga", delete_table("orders")).await;
    let olga = h.approver("olga", &["approvers", "oncall"]);
    let eve = h.approver("eve", &["approvers", "dba"]);
    let (_, shown) = h.status(&olga, &id, 0).await;
    let hash = shown["request_hash"].as_str().unwrap().to_string();
    assert_eq!(shown["decision"]["breakglass"]["groups"], json!(["oncall"]));
    let hr = &h;
    let glass = |token: String, body: Value| {
        let path = format!("/v1/requests/{id}/breakglass");
        async move { self_call(hr, &path, &token, body).await }
    };

    // Her own request: an ordinary approval is refused.
    let (status, body) = h.vote(&olga, &id, "approve").await;
    assert_eq!((status, code(&body)), (403, "self_approval"), "{body}");
    // Not a member of `oncall`.
    let (status, body) = glass(
        eve.clone(),
        json!({"breakglass": true, "justification": EMERGENCY, "request_hash": hash}),
    )
    .await;
    assert_eq!((status, code(&body)), (403, "forbidden"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`oncall`")
    );
    // Every field is checked and named.
    for (body, field, status) in [
        (
            json!({"justification": EMERGENCY, "request_hash": hash}),
            "breakglass",
            400,
        ),
        (
            json!({"breakglass": "yes", "justification": EMERGENCY, "request_hash": hash}),
            "breakglass",
            400,
        ),
        (
            json!({"breakglass": true, "justification": "it is urgent", "request_hash": hash}),
            "justification",
            400,
        ),
        (
            json!({"breakglass": true, "justification": format!("   {}   ", &EMERGENCY[..20]), "request_hash": hash}),
            "justification",
            400,
        ),
        (
            json!({"breakglass": true, "justification": 42, "request_hash": hash}),
            "justification",
            400,
        ),
        (
            json!({"breakglass": true, "justification": "x".repeat(2001), "request_hash": hash}),
            "justification",
            400,
        ),
        (
            json!({"breakglass": true, "justification": EMERGENCY}),
            "request_hash",
            400,
        ),
        (
            json!({"breakglass": true, "justification": EMERGENCY, "request_hash": "0".repeat(64)}),
            "request_hash",
            409,
        ),
        (
            json!({"breakglass": true, "justification": EMERGENCY, "request_hash": hash, "approve": true}),
            "approve",
            400,
        ),
    ] {
        let (got, answer) = glass(olga.clone(), body.clone()).await;
        assert_eq!(got, status, "{body}: {answer}");
        assert_eq!(answer["error"]["field"], field, "{body}: {answer}");
    }
    assert!(
        h.alarms.0.lock().unwrap().is_empty(),
        "nothing happened yet"
    );
    assert_eq!(
        h.store.get(&id).await.unwrap().unwrap().status,
        tollgate_core::Status::Pending
    );

    // Explicitly, with a justification: approved alone, at once, loudly.
    let (status, body) = glass(
        olga.clone(),
        json!({"breakglass": true, "justification": format!("  {EMERGENCY}  "), "request_hash": hash}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "APPROVED");
    assert_eq!(body["breakglass"]["approver"]["subject"], "olga");
    assert_eq!(body["breakglass"]["justification"], EMERGENCY, "trimmed");
    assert!(
        h.workflow
            .calls()
            .contains(&format!("approve token-{id} {id}"))
    );
    assert_eq!(kinds(&h.alarms), ["breakglass_used"]);
    assert!(kinds(&h.notices).contains(&"breakglass_used".to_string()));
    let (_, trail) = h.status(&olga, &id, 0).await;
    let events: Vec<&str> = trail["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(
        events.ends_with(&["voted", "break_glass", "approved"])
            || events.ends_with(&["break_glass", "approved"]),
        "{events:?}"
    );
    // Once only (APPROVED is not final yet: the call is about to run).
    let (status, body) = glass(
        olga.clone(),
        json!({"breakglass": true, "justification": EMERGENCY, "request_hash": hash}),
    )
    .await;
    assert_eq!((status, code(&body)), (409, "conflict"), "{body}");

    // The acknowledgement: not by Olga, not by an outsider, once by another approver.
    let ack = |token: String| {
        let path = format!("/v1/requests/{id}/acknowledge");
        async move { self_call(hr, &path, &token, Value::Null).await }
    };
    let (status, body) = ack(olga.clone()).await;
    assert_eq!((status, code(&body)), (403, "self_approval"), "{body}");
    let (status, body) = ack(h.approver("sec", &["approvers", "security"])).await;
    assert_eq!((status, code(&body)), (403, "forbidden"), "{body}");
    let (status, body) = ack(eve.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["breakglass"]["acknowledged"]["by"]["subject"], "eve");
    let (status, body) = ack(h.approver("sam", &["approvers", "oncall"])).await;
    assert_eq!((status, code(&body)), (409, "conflict"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already acknowledged by eve")
    );
}

async fn self_call(h: &Harness, path: &str, token: &str, body: Value) -> (u16, Value) {
    h.call("POST", path, token, &[], body).await
}

#[tokio::test]
async fn break_glass_is_not_offered_where_a_policy_names_no_group_nor_without_an_alarm_topic() {
    let mut h = harness_with(BREAKGLASS_POLICY);
    let id = h.pending("bot", delete_bucket("logs")).await;
    let olga = h.approver("olga", &["approvers", "oncall", "dba"]);
    let (_, shown) = h.status(&olga, &id, 0).await;
    assert!(shown["decision"].get("breakglass").is_none(), "{shown}");
    let hash = shown["request_hash"].as_str().unwrap().to_string();
    let path = format!("/v1/requests/{id}/breakglass");
    let body = json!({"breakglass": true, "justification": EMERGENCY, "request_hash": hash});
    let (status, answer) = self_call(&h, &path, &olga, body.clone()).await;
    assert_eq!((status, code(&answer)), (403, "forbidden"), "{answer}");
    // A request that offers it, in a deployment without an alarm topic: refused, not quiet.
    let id = h.pending("bot", delete_table("orders")).await;
    let (_, shown) = h.status(&olga, &id, 0).await;
    let hash = shown["request_hash"].as_str().unwrap().to_string();
    h.api.alarms = None;
    let path = format!("/v1/requests/{id}/breakglass");
    let body = json!({"breakglass": true, "justification": EMERGENCY, "request_hash": hash});
    let (status, answer) = self_call(&h, &path, &olga, body).await;
    assert_eq!((status, code(&answer)), (503, "unavailable"), "{answer}");
    assert_eq!(
        h.store.get(&id).await.unwrap().unwrap().status,
        tollgate_core::Status::Pending
    );
}

#[tokio::test]
async fn the_page_offers_break_glass_only_to_members_and_acknowledgement_to_a_second_approver() {
    let h = harness_with(BREAKGLASS_POLICY);
    let id = h.pending("olga", delete_table("orders")).await;
    let path = format!("/v1/inbox/{id}");
    let olga = h.sign_in("olga", &["approvers", "oncall"]).await;
    let dan = h.sign_in("dan", &["approvers", "dba"]).await;

    let (status, page) = h.browse("GET", &path, &dan, &[]).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("name=\"verdict\" value=\"approve\""),
        "{page}"
    );
    assert!(!page.contains("breakglass"), "not a member: {page}");
    let (status, page) = h.browse("GET", &path, &olga, &[]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Break glass and approve"), "{page}");
    assert!(
        page.contains("own request"),
        "normal approval refused: {page}"
    );
    assert!(page.contains("minlength=\"30\""), "{page}");
    let csrf = hidden(&page, "csrf");
    let hash = hidden(&page, "request_hash");
    let post = |cookie: String, fields: Vec<(&'static str, String)>| {
        let path = path.clone();
        let h = &h;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            h.browse("POST", &path, &cookie, &fields).await
        }
    };
    let glass = |csrf: &str, confirm: &str, why: &str| {
        vec![
            ("csrf", csrf.to_string()),
            ("request_hash", hash.clone()),
            ("verdict", "breakglass".to_string()),
            ("confirm", confirm.to_string()),
            ("justification", why.to_string()),
        ]
    };
    // Without the ticked box, with a short justification, with dan's session: nothing.
    let (status, page) = post(olga.clone(), glass(&csrf, "", EMERGENCY)).await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("confirm"), "{page}");
    let (status, page) = post(olga.clone(), glass(&csrf, "breakglass", "too short")).await;
    assert_eq!(status, 400, "{page}");
    assert!(
        page.contains(
            "justification: is 9 characters; breaking glass on this request needs at least 30"
        ),
        "{page}"
    );
    let (status, _) = post(dan.clone(), glass(&csrf, "breakglass", EMERGENCY)).await;
    assert_eq!(status, 403, "another session's CSRF token");
    assert_eq!(
        h.store.get(&id).await.unwrap().unwrap().status,
        tollgate_core::Status::Pending
    );

    let (status, page) = post(olga.clone(), glass(&csrf, "breakglass", EMERGENCY)).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Approved by break-glass"), "{page}");
    assert_eq!(kinds(&h.alarms), ["breakglass_used"]);

    // Olga sees the use but no acknowledgement form; Dan gets one.
    let (_, page) = h.browse("GET", &path, &olga, &[]).await;
    assert!(page.contains("Approved by break-glass"), "{page}");
    assert!(!page.contains("value=\"acknowledge\""), "{page}");
    let (_, page) = h.browse("GET", &path, &dan, &[]).await;
    assert!(page.contains("value=\"acknowledge\""), "{page}");
    let dan_csrf = hidden(&page, "csrf");
    let ack = |cookie: String, csrf: String| {
        post(
            cookie,
            vec![
                ("csrf", csrf),
                ("request_hash", hash.clone()),
                ("verdict", "acknowledge".to_string()),
            ],
        )
    };
    let (status, page) = ack(olga.clone(), csrf.clone()).await;
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains("another approver has to acknowledge"),
        "{page}"
    );
    let (status, page) = ack(dan.clone(), dan_csrf.clone()).await;
    assert_eq!(status, 200, "{page}");
    let (status, page) = ack(dan.clone(), dan_csrf).await;
    assert_eq!(status, 409, "{page}");
    let (_, page) = h.browse("GET", &path, &dan, &[]).await;
    assert!(
        page.contains("Acknowledged by <strong>dan</strong>"),
        "{page}"
    );
}

/// Writes need two approvers, who may grant them again for up to 30 minutes and 5 uses.
const GRANT_POLICY: &str = r#"
@id("reads") permit (principal, action in Action::"Read", resource);
@id("writes") @approval("2") @approvers("approvers") @grant_max("1800") @grant_uses_max("5")
permit (principal, action == Action::"dynamodb:PutItem", resource);
"#;

fn put_item(reason: &str) -> Value {
    json!({"action": "dynamodb:PutItem", "reason": reason,
           "params": {"TableName": "orders", "Item": {"id": {"S": "1"}}}})
}

/// The value of the hidden input `name` after `marker` on the page.
fn hidden_after(html: &str, marker: &str, name: &str) -> String {
    let at = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"));
    hidden(&html[at..], name)
}

#[tokio::test]
async fn a_grant_is_what_every_approver_offered_and_is_revoked_from_the_inbox() {
    let h = harness_with(GRANT_POLICY);
    let id = h.pending("bot", put_item("first")).await;
    let alice = h.sign_in("alice", &["approvers"]).await;
    let path = format!("/v1/inbox/{id}");
    let (_, page) = h.browse("GET", &path, &alice, &[]).await;
    for shown in [
        "Allow this again",
        "exactly the same parameters",
        "name=\"grant_uses\"",
        "name=\"grant_minutes\"",
        "at most 5 times within 30 minutes",
        "arn:aws:dynamodb:us-east-1:222222222222:table/orders",
        "every one of them offered",
    ] {
        assert!(page.contains(shown), "{shown} missing: {page}");
    }
    let csrf = hidden(&page, "csrf");
    let hash = hidden(&page, "request_hash");
    let approve = |uses: &'static str, minutes: &'static str| {
        let (csrf, hash) = (csrf.clone(), hash.clone());
        let (path, alice) = (path.clone(), alice.clone());
        let h = &h;
        async move {
            let mut form = vec![
                ("csrf", csrf.as_str()),
                ("request_hash", hash.as_str()),
                ("verdict", "approve"),
                ("grant_uses", uses),
            ];
            if !minutes.is_empty() {
                form.push(("grant_minutes", minutes));
            }
            h.browse("POST", &path, &alice, &form).await
        }
    };
    let (status, page) = approve("9", "10").await;
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains("grant_uses: 9 is more than this request"),
        "{page}"
    );
    let (status, page) = approve("3", "").await;
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("grant_minutes: is required"), "{page}");
    let (_, body) = h.status(&h.agent("bot"), &id, 0).await;
    assert_eq!(body["votes"], json!([]), "nothing was recorded: {body}");
    let (status, page) = approve("4", "20").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Your approval is recorded"), "{page}");

    // The second approver offers fewer uses and more time: the grant is the narrowest.
    let bob = h.approver("bob", &["approvers"]);
    let (status, body) = h
        .call(
            "POST",
            &format!("/v1/requests/{id}/approve"),
            &bob,
            &[],
            json!({"grant_uses": 2, "grant_minutes": 30}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "APPROVED");
    let grant_id = format!("G{id}");
    let g = h.store.grant(&grant_id).await.unwrap().expect("recorded");
    assert_eq!(g.max_uses, 2);
    assert!(
        g.expires_at - g.created_at == 20 * 60_000,
        "the shorter time: {g:?}"
    );
    assert_eq!(g.approvers.len(), 2);

    // A use approves a new request at once, recorded with the grant and its approvers.
    let (status, body) = h.submit("bot", put_item("again"), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "APPROVED", "{body}");
    assert_eq!(body["grant"]["grant_id"], grant_id.as_str());
    assert_eq!(body["grant"]["approvers"][1]["subject"], "bob");

    // The inbox shows the live grant to its approvers' group, with a Revoke form whose
    // token is the grant's own; a member of another group does not see it.
    let (_, inbox) = h.browse("GET", "/v1/inbox", &alice, &[]).await;
    assert!(inbox.contains("Live grants"), "{inbox}");
    assert!(
        inbox.contains(&format!("id=\"grant-{grant_id}\"")),
        "{inbox}"
    );
    assert!(
        inbox.contains("<strong>1 of 2</strong> uses left"),
        "{inbox}"
    );
    let dana = h.sign_in("dana", &["dba"]).await;
    let (_, other) = h.browse("GET", "/v1/inbox", &dana, &[]).await;
    assert!(!other.contains(&grant_id), "{other}");
    let revoke = format!("/v1/inbox/grants/{grant_id}/revoke");
    let (status, page) = h.browse("POST", &revoke, &alice, &[("csrf", &csrf)]).await;
    assert_eq!(status, 403, "a request's token does not revoke: {page}");
    let token = hidden_after(&inbox, &format!("id=\"grant-{grant_id}\""), "csrf");
    let (status, _) = h.browse("POST", &revoke, &dana, &[("csrf", &token)]).await;
    assert_eq!(status, 403, "another session's token");
    let (status, page) = h.browse("POST", &revoke, &alice, &[("csrf", &token)]).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("is revoked"), "{page}");
    let (status, page) = h.browse("POST", &revoke, &alice, &[("csrf", &token)]).await;
    assert_eq!(status, 409, "{page}");

    // Revoked: the next identical call waits for approval and says why.
    let (status, body) = h.submit("bot", put_item("after"), None).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["grant_not_used"]["why"], "revoked", "{body}");
    let (_, listed) = h
        .call("GET", "/v1/grants", &h.agent("bot"), &[], Value::Null)
        .await;
    assert_eq!(listed["grants"][0]["state"], "revoked", "{listed}");
    assert_eq!(listed["grants"][0]["revoked"]["by"]["subject"], "alice");
}

/// A plan run by calls is submitted through the route with how it runs, which the approver
/// reads on the page and the hash covers; a window on a plan run at once is refused by name.
#[tokio::test]
async fn a_plan_run_by_calls_is_held_with_its_window_shown_and_bound() {
    let h = harness();
    let step = json!({"action": "dynamodb:DeleteTable", "params": {"TableName": "orders"}});
    let plan = |extra: Value| {
        let mut p = json!({"reason": "cleanup", "steps": [step]});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        p
    };
    let (status, body) = h
        .call(
            "POST",
            "/v1/plans",
            &h.agent("planner"),
            &[],
            plan(json!({"window_seconds": 600})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "window_seconds", "{body}");

    let (status, body) = h
        .call(
            "POST",
            "/v1/plans",
            &h.agent("planner"),
            &[],
            plan(json!({"run": "by_calls", "window_seconds": 600})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let rec = h.store.get(&id).await.unwrap().unwrap();
    let p = rec.plan.as_ref().unwrap();
    assert_eq!(p.run, tollgate_core::plan::RunMode::ByCalls);
    assert_eq!((p.window_seconds, p.calls_until), (Some(600), None));
    assert_eq!(rec.request_hash, p.hash());
    let (_, at_once) = h
        .call(
            "POST",
            "/v1/plans",
            &h.agent("planner"),
            &[],
            plan(json!({})),
        )
        .await;
    let other = h
        .store
        .get(at_once["id"].as_str().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_ne!(other.request_hash, rec.request_hash);

    let alice = h.sign_in("alice", &["approvers"]).await;
    let (status, page) = h
        .browse("GET", &format!("/v1/inbox/{id}"), &alice, &[])
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Run by the agent's calls") && page.contains("within 600 seconds"),
        "{page}"
    );
}

#[tokio::test]
async fn an_upload_is_admitted_as_its_put_object_with_every_declared_byte_bound() {
    let h = harness_with(
        r#"@id("uploads") @approval("1") @approvers("approvers")
        permit (principal, action == Action::"s3:PutObject", resource)
        when { resource.arn like "arn:aws:s3:::drop/*" };"#,
    );
    const SUM: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    let token = h.agent("bot");
    let upload = |key: &str, sum: &str| {
        json!({"bucket": "drop", "key": key, "content_length": 6 * 1024 * 1024,
            "checksum_sha256": sum, "reason": "nightly dump"})
    };
    let post = |body: Value, key: Option<&'static str>| {
        let token = token.clone();
        let h = &h;
        async move {
            let headers: Vec<(&str, &str)> =
                key.map(|k| ("idempotency-key", k)).into_iter().collect();
            h.call("POST", "/v1/uploads", &token, &headers, body).await
        }
    };
    let (status, body) = post(upload("dumps/a.sql", SUM), Some("k1")).await;
    assert_eq!(status, 202, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let rec = h.store.get(&id).await.unwrap().unwrap();
    assert_eq!(rec.request.action.to_string(), "s3:PutObject");
    assert_eq!(
        rec.resources,
        vec!["arn:aws:s3:::drop/dumps/a.sql".to_string()]
    );
    assert_eq!(rec.request.params["ChecksumSHA256"], SUM);
    let declared = rec.upload.clone().expect("the declaration is kept");
    assert_eq!(rec.request_hash, declared.hash(&rec.request));
    // The same declaration again is the same request; other bytes under that key are not.
    let (status, again) = post(upload("dumps/a.sql", SUM), Some("k1")).await;
    assert_eq!(
        (status, again["id"].as_str()),
        (202, Some(id.as_str())),
        "{again}"
    );
    let other = "LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564=";
    let (status, body) = post(upload("dumps/a.sql", other), Some("k1")).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("idempotency_mismatch")),
        "{body}"
    );
    // Outside what policy permits: denied, as the PutObject would be.
    let (status, body) = post(
        json!({"bucket": "other", "key": "k", "content_length": 1, "checksum_sha256": SUM}),
        None,
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("denied")),
        "{body}"
    );
    // Refusals name the field.
    let mut parts = upload("dumps/b.sql", SUM);
    parts["parts"] = json!([{"content_length": 6 * 1024 * 1024, "checksum_sha256": SUM}]);
    for (body, field) in [
        (upload("dumps/b.sql", "c2hhMjU2"), "checksum_sha256"),
        (parts, "parts"),
        (
            json!({"bucket": "drop", "key": "k", "content_length": -5, "checksum_sha256": SUM}),
            "content_length",
        ),
    ] {
        let (status, answer) = post(body.clone(), None).await;
        assert_eq!(
            (status, answer["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}: {answer}"
        );
    }
}
