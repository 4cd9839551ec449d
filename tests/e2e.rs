//! End-to-end: real HTTP, real signed tokens, the real state machine in moto, and moto's
//! state checked after each scenario.

use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use futures::future::join_all;
use tollgate_core::record::Verdict;
use tollgate_e2e::*;
use tollgate_local::demo::{create_table, table_exists, wait_for_notice};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_walkthrough() {
    let stack = stack().await;
    let mut steps = Vec::new();
    tollgate_local::demo::run(&stack.api_url, &stack.sdk, &mut |s: &str| {
        steps.push(s.to_string())
    })
    .await
    .unwrap_or_else(|e| panic!("demo failed after {steps:#?}: {e}"));
    assert!(steps.len() >= 7, "{steps:#?}");

    // Every function emitted valid EMF, covering decisions, denials, waits and executions.
    let lines = stack.metrics();
    for l in &lines {
        tollgate_aws::metrics::validate_emf(l).unwrap_or_else(|e| panic!("{e}: {l}"));
    }
    let has = |needle: &str| lines.iter().any(|l| l.contains(needle));
    for needle in [
        r#""Decision":"allow""#,
        r#""Decision":"approval""#,
        r#""Decision":"deny""#,
        r#""PolicyId":"forbid-audit-tampering""#,
        r#""ApprovalWaitTime":"#,
        r#""Outcome":"succeeded""#,
        r#""ExecutorLatency":"#,
    ] {
        assert!(has(needle), "no metric line with {needle}: {lines:#?}");
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_a_clear_client_error() {
    let stack = stack().await;
    let token = stack.token("ci-bot", false).unwrap();
    let t = Some(token.as_str());
    let json_ct = [("content-type", "application/json")];
    let ct: &[(&str, &str)] = &json_ct;
    #[rustfmt::skip]
    let cases = [
        case("POST", "/v1/requests", b"{not json", ct, 400, "invalid_json", None),
        case("POST", "/v1/requests", b"[]", ct, 400, "invalid_request", Some("body")),
        case("POST", "/v1/requests", br#"{"params":{}}"#, ct, 400, "invalid_request", Some("action")),
        case("POST", "/v1/requests", br#"{"action":"dynamodb:ListTables","color":"red"}"#, ct, 400, "invalid_request", Some("color")),
        case("POST", "/v1/requests", br#"{"action":"dynamodb:ListTables","region":"moon-1"}"#, ct, 400, "invalid_request", Some("region")),
        case("POST", "/v1/requests", br#"{"action":"dynamodb:ListTables","params":"x"}"#, ct, 400, "invalid_request", Some("params")),
        case("POST", "/v1/requests", br#"{"action":"dynamodb:ListTables","target":"nope"}"#, ct, 400, "invalid_request", Some("target")),
        case("POST", "/v1/requests", br#"{"action":"dynamodb:DeleteTable","params":{"TableName":"t"}}"#, ct, 400, "invalid_request", Some("reason")),
        case("POST", "/v1/requests", br#"{"action":"dynamodb:DropEverything"}"#, ct, 404, "unknown_action", Some("action")),
        case("POST", "/v1/requests", br#"{"action":"dynamodb:DescribeTable","params":{}}"#, ct, 400, "invalid_request", Some("params.TableName")),
        case("POST", "/v1/requests", br#"{"action":"sdb:ListDomains","reason":"r"}"#, ct, 404, "unknown_action", Some("action")),
        case("POST", "/v1/requests", br#"{"action":"bedrock:InvokeModelWithResponseStream","reason":"r","params":{"modelId":"m","body":"e30="}}"#, ct, 404, "unknown_action", Some("action")),
        case("POST", "/v1/requests", br#"{"action":"dynamodb:DescribeTable","params":{"TableName":"t","Colour":"red"}}"#, ct, 400, "invalid_request", Some("params.Colour")),
        case("POST", "/v1/requests", br#"{"action":"dynamodb:DescribeTable","params":{"TableName":7}}"#, ct, 400, "invalid_request", Some("params.TableName")),
        case("POST", "/v1/requests", br#"{"action":"dynamodb:CreateTable","reason":"r","params":{"TableName":"t","BillingMode":"PAY_PER_REQUEST","AttributeDefinitions":[{"AttributeName":"id","AttributeType":"S"}],"KeySchema":[{"AttributeName":"id","KeyType":"SIDEWAYS"}]}}"#, ct, 400, "invalid_request", Some("params.KeySchema[0].KeyType")),
        case("POST", "/v1/requests", &[b' '; 70 * 1024], ct, 413, "payload_too_large", None),
        case("POST", "/v1/requests", br#"{"action":"dynamodb:ListTables"}"#, &[("content-type", "text/plain")], 415, "unsupported_media_type", None),
        case("POST", "/v1/requests", br#"{"action":"dynamodb:ListTables"}"#, &[("idempotency-key", "")], 400, "invalid_request", Some("Idempotency-Key")),
        case("GET", "/v1/requests/01NOSUCHREQUEST", b"", &[], 404, "not_found", None),
        case("GET", "/v1/requests/01NOSUCHREQUEST?wait=soon", b"", &[], 400, "invalid_request", Some("wait")),
        case("DELETE", "/v1/requests", b"", &[], 405, "method_not_allowed", None),
        case("GET", "/v1/nothing-here", b"", &[], 404, "not_found", None),
        case("GET", "/v1/approvals/01NOSUCHREQUEST", b"", &[], 400, "invalid_request", Some("k")),
        case("GET", "/v1/approvals/01NOSUCHREQUEST?k=1.abc", b"", &[], 403, "forbidden", None),
    ];
    for Case {
        method,
        path,
        body,
        headers,
        status,
        code,
        field,
    } in cases
    {
        let a = raw(&stack, method, path, t, headers, body).await;
        assert_eq!(a.status, status, "{method} {path}: {}", a.body);
        assert_eq!(a.error_code(), Some(code), "{method} {path}: {}", a.body);
        if let Some(f) = field {
            assert_eq!(a.body["error"]["field"], f, "{method} {path}: {}", a.body);
        }
        let msg = a.body["error"]["message"].as_str().unwrap_or_default();
        assert!(!msg.is_empty(), "{method} {path}: error without a message");
        assert!(
            !msg.contains(&token),
            "{method} {path}: the token leaked into the error"
        );
    }

    // Votes: bad bodies, unknown ids, and a request that is already final.
    let alice = approver(&stack, "alice");
    let a = alice
        .vote("01NOSUCHREQUEST", Verdict::Approve, None)
        .await
        .unwrap();
    assert_eq!(
        (a.status, a.error_code()),
        (404, Some("not_found")),
        "{}",
        a.body
    );
    create_table(&stack.sdk, "t1").await.unwrap();
    let id = pending_delete(&agent(&stack, "ci-bot"), "t1").await;
    let path = format!("/v1/requests/{id}/approve");
    let at = stack.token("alice", true).unwrap();
    let a = raw(
        &stack,
        "POST",
        &path,
        Some(&at),
        &json_ct,
        br#"{"comment": 5}"#.to_vec(),
    )
    .await;
    assert_eq!(
        (a.status, a.body["error"]["field"].as_str()),
        (400, Some("comment")),
        "{}",
        a.body
    );
    let a = raw(
        &stack,
        "POST",
        &path,
        Some(&at),
        &json_ct,
        br#"{"why": "x"}"#.to_vec(),
    )
    .await;
    assert_eq!(
        (a.status, a.body["error"]["field"].as_str()),
        (400, Some("why")),
        "{}",
        a.body
    );
    let a = alice.vote(&id, Verdict::Reject, Some("no")).await.unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    let a = approver(&stack, "bob")
        .vote(&id, Verdict::Approve, None)
        .await
        .unwrap();
    assert_eq!(
        (a.status, a.error_code()),
        (409, Some("already_final")),
        "{}",
        a.body
    );
    assert!(table_exists(&stack.sdk, "t1").await.unwrap());
    stack.stop().await;
}

/// One malformed call and the error it must get.
struct Case<'a> {
    method: &'a str,
    path: &'a str,
    body: Vec<u8>,
    headers: &'a [(&'a str, &'a str)],
    status: u16,
    code: &'a str,
    field: Option<&'a str>,
}

fn case<'a>(
    method: &'a str,
    path: &'a str,
    body: &[u8],
    headers: &'a [(&'a str, &'a str)],
    status: u16,
    code: &'a str,
    field: Option<&'a str>,
) -> Case<'a> {
    Case {
        method,
        path,
        body: body.to_vec(),
        headers,
        status,
        code,
        field,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_private_to_their_agent_and_self_approval_fails() {
    let stack = stack().await;
    create_table(&stack.sdk, "t2").await.unwrap();
    let owner = agent(&stack, "ci-bot");
    let id = pending_delete(&owner, "t2").await;
    let a = agent(&stack, "other-bot").status(&id, 0).await.unwrap();
    assert_eq!(a.status, 404, "{}", a.body);
    let a = approver(&stack, "alice").status(&id, 0).await.unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.request_status(), Some("PENDING"));
    // The requester holding an approver token is still the requester.
    let a = approver(&stack, "ci-bot")
        .vote(&id, Verdict::Approve, None)
        .await
        .unwrap();
    assert_eq!(
        (a.status, a.error_code()),
        (403, Some("self_approval")),
        "{}",
        a.body
    );
    let a = owner.status(&id, 0).await.unwrap();
    assert_eq!(a.request_status(), Some("PENDING"));
    assert!(a.body["votes"].as_array().unwrap().is_empty());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_link_is_signed_and_get_changes_nothing() {
    let stack = stack().await;
    create_table(&stack.sdk, "t3").await.unwrap();
    let owner = agent(&stack, "ci-bot");
    let id = pending_delete(&owner, "t3").await;
    let anon = tollgate_cli::client::Client::new(&stack.api_url, None);
    let notice = wait_for_notice(&anon, &id, WAIT).await.unwrap();
    let link = notice["notice"]["link"].as_str().unwrap().to_string();
    let path = link.trim_start_matches(&stack.api_url).to_string();
    assert!(
        !link.contains("token"),
        "link must not carry the task token: {link}"
    );
    for _ in 0..3 {
        let a = raw(&stack, "GET", &path, None, &[], vec![]).await;
        assert_eq!(a.status, 200);
        let html = a.body.as_str().unwrap();
        assert!(
            html.contains("dynamodb:DeleteTable") && html.contains("t3"),
            "{html}"
        );
    }
    let forged = path.replace("k=", "k=9").to_string();
    assert_eq!(
        raw(&stack, "GET", &forged, None, &[], vec![]).await.status,
        403
    );
    let other = create_other(&owner, &stack).await;
    let moved = path.replace(&id, &other);
    assert_eq!(
        raw(&stack, "GET", &moved, None, &[], vec![]).await.status,
        403
    );
    let a = owner.status(&id, 0).await.unwrap();
    assert_eq!(a.request_status(), Some("PENDING"));
    assert!(table_exists(&stack.sdk, "t3").await.unwrap());
    stack.stop().await;
}

async fn create_other(
    owner: &tollgate_cli::client::Client,
    stack: &tollgate_local::Stack,
) -> String {
    create_table(&stack.sdk, "t3b").await.unwrap();
    pending_delete(owner, "t3b").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_returns_the_first_answer() {
    let stack = stack().await;
    let owner = agent(&stack, "ci-bot");
    let body = json!({"action": "dynamodb:ListTables"});
    let answers = join_all((0..10).map(|_| owner.submit(&body, Some("list-1")))).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|a| {
            let a = a.as_ref().unwrap();
            assert_eq!(a.status, 200, "{}", a.body);
            a.body["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one key, one request: {ids:?}");
    let a = owner
        .submit(
            &json!({"action": "dynamodb:ListTables", "params": {"Limit": 1}}),
            Some("list-1"),
        )
        .await
        .unwrap();
    assert_eq!(
        (a.status, a.error_code()),
        (422, Some("idempotency_mismatch")),
        "{}",
        a.body
    );
    // The key is the agent's own: another agent may use the same one.
    let a = agent(&stack, "other-bot")
        .submit(&body, Some("list-1"))
        .await
        .unwrap();
    assert_eq!(a.status, 200);
    assert!(!ids.contains(a.body["id"].as_str().unwrap()));

    // Keys are remembered for a day: each claim carries a DynamoDB TTL, and an expired claim
    // that DynamoDB has not deleted yet no longer binds the key.
    let ddb = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let claims = || async {
        ddb.scan()
            .table_name(&stack.names.table)
            .filter_expression("begins_with(pk, :p)")
            .expression_attribute_values(":p", AttributeValue::S("IDEM#".into()))
            .send()
            .await
            .unwrap()
            .items
            .unwrap_or_default()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let items = claims().await;
    assert_eq!(items.len(), 2, "one claim per agent and key");
    let mine = items
        .iter()
        .find(|i| ids.contains(i["request_id"].as_s().unwrap()))
        .unwrap();
    let ttl: u64 = mine["ttl"].as_n().unwrap().parse().unwrap();
    assert!(ttl.abs_diff(now + 86_400) < 120, "ttl {ttl}, now {now}");
    ddb.update_item()
        .table_name(&stack.names.table)
        .key("pk", mine["pk"].clone())
        .key("sk", mine["sk"].clone())
        .update_expression("SET #t = :t")
        .expression_attribute_names("#t", "ttl")
        .expression_attribute_values(":t", AttributeValue::N((now - 1).to_string()))
        .send()
        .await
        .unwrap();
    let a = owner.submit(&body, Some("list-1")).await.unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        !ids.contains(a.body["id"].as_str().unwrap()),
        "an expired key starts a new request"
    );
    let again = owner.submit(&body, Some("list-1")).await.unwrap();
    assert_eq!(again.body["id"], a.body["id"], "and binds the key again");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_approvals_execute_once() {
    let stack = stack().await;
    create_table(&stack.sdk, "t4").await.unwrap();
    let owner = agent(&stack, "ci-bot");
    let id = pending_delete(&owner, "t4").await;
    let voters: Vec<_> = (0..8)
        .map(|i| approver(&stack, &format!("approver-{i}")))
        .collect();
    let answers = join_all(voters.iter().map(|v| v.vote(&id, Verdict::Approve, None))).await;
    let ok = answers
        .iter()
        .filter(|a| a.as_ref().unwrap().status == 200)
        .count();
    assert_eq!(ok, 1, "{answers:#?}");
    for a in answers
        .iter()
        .map(|a| a.as_ref().unwrap())
        .filter(|a| a.status != 200)
    {
        assert_eq!(a.status, 409, "{}", a.body);
    }
    let done = owner.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);
    let kinds = event_kinds(&done);
    assert_eq!(
        kinds.iter().filter(|k| *k == "execution_started").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| *k == "voted").count(),
        1,
        "{kinds:?}"
    );
    assert!(!table_exists(&stack.sdk, "t4").await.unwrap());

    // A retried executor invocation finds the request done and does not call AWS again.
    invoke_executor_again(&stack, &id).await;
    let again = owner.status(&id, 0).await.unwrap();
    assert_eq!(event_kinds(&again), kinds);
    let start = again.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "execution_started")
        .unwrap()
        .clone();
    let policy = &start["detail"]["session_policy"]["Statement"];
    assert_eq!(policy.as_array().unwrap().len(), 1);
    assert_eq!(policy[0]["Action"], "dynamodb:DeleteTable");
    assert_eq!(
        policy[0]["Resource"],
        "arn:aws:dynamodb:us-east-1:123456789012:table/t4"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_requests_expire() {
    let stack = stack_with(|o| o.approval_timeout_seconds = 2).await;
    create_table(&stack.sdk, "t5").await.unwrap();
    let owner = agent(&stack, "ci-bot");
    let id = pending_delete(&owner, "t5").await;
    let done = owner
        .wait_final(&id, Duration::from_secs(30), |_| {})
        .await
        .unwrap();
    assert_eq!(done.request_status(), Some("EXPIRED"), "{}", done.body);
    assert!(event_kinds(&done).contains(&"expired".to_string()));
    let a = approver(&stack, "alice")
        .vote(&id, Verdict::Approve, None)
        .await
        .unwrap();
    assert_eq!(
        (a.status, a.error_code()),
        (409, Some("already_final")),
        "{}",
        a.body
    );
    assert!(table_exists(&stack.sdk, "t5").await.unwrap());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_events_are_exported_to_s3_as_json_lines() {
    let stack = stack().await;
    create_table(&stack.sdk, "t6").await.unwrap();
    let owner = agent(&stack, "ci-bot");
    let id = pending_delete(&owner, "t6").await;
    let anon = tollgate_cli::client::Client::new(&stack.api_url, None);
    wait_for_notice(&anon, &id, WAIT).await.unwrap();
    approver(&stack, "alice")
        .vote(&id, Verdict::Approve, Some("ok"))
        .await
        .unwrap();
    let done = owner.wait_final(&id, WAIT, |_| {}).await.unwrap();
    let want: Vec<(u64, String)> = done.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["hash"].as_str().unwrap().to_string(),
            )
        })
        .collect();

    let s3 = tollgate_aws::s3::S3::new("us-east-1", Some(&stack.moto_url));
    let creds = aws_credential_types::Credentials::new("testing", "testing", None, None, "test");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut got: Vec<(u64, String)> = Vec::new();
    while std::time::Instant::now() < deadline {
        got.clear();
        for key in s3
            .list_keys(&creds, "tollgate-audit", "audit/")
            .await
            .unwrap()
        {
            assert!(key.ends_with(".jsonl"), "{key}");
            let body =
                String::from_utf8(s3.get(&creds, "tollgate-audit", &key).await.unwrap()).unwrap();
            for line in body.lines() {
                let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
                assert_eq!(v["type"], "tollgate.audit.v1");
                if v["request_id"] == id.as_str() {
                    got.push((
                        v["seq"].as_u64().unwrap(),
                        v["hash"].as_str().unwrap().to_string(),
                    ));
                }
            }
        }
        got.sort();
        // No dedup: an event exported twice must fail the comparison below.
        if got.len() >= want.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        got, want,
        "every event of the request is exported once, with its hash"
    );
    stack.stop().await;
}
