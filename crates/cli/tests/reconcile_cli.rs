//! `tollgate audit reconcile` against a real local stack: real calls go through Tollgate;
//! CloudTrail records in the documented format are written into moto's S3 for the sessions
//! the executor and the preview really opened (each `AssumeRole` as the local host passed it
//! to moto's STS: session name, source identity, tags, the key issued), plus calls Tollgate
//! never made; the command reports exactly those.

mod common;

use std::io::Write;

use aws_credential_types::Credentials;
use serde_json::{Value, json};
use tollgate_cli::client::Client;
use tollgate_core::time::{civil_date, iso8601};
use tollgate_local::Stack;

fn tollgate(stack: &Stack, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_ENDPOINT_URL", &stack.moto_url)
        .env_remove("TOLLGATE_TARGET_ROLE_ARNS")
        .env_remove("TOLLGATE_TRAIL_BUCKET")
        .env("TOLLGATE_TABLE", &stack.names.table)
        .args(args)
        .output()
        .expect("run tollgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// A request that runs at once (a read), and its final answer.
async fn read_now(agent: &Client, action: &str, params: Value) -> Value {
    let a = agent
        .submit(
            &json!({"action": action, "params": params, "reason": "reconcile test"}),
            None,
        )
        .await
        .unwrap();
    assert!(a.body["id"].is_string(), "{}", a.body);
    a.body
}

/// A session as the trail names it.
#[derive(Debug, Clone)]
struct Opened {
    session: String,
    role_arn: String,
    key: String,
}

/// A record as CloudTrail writes one for a call made with a role session.
fn call_record(
    account: &str,
    s: &Opened,
    who: &str,
    action: &str,
    at: u64,
    event_id: &str,
) -> Value {
    let role_name = s.role_arn.rsplit('/').next().unwrap();
    let (service, name) = action.split_once(':').unwrap();
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": format!("AROA{role_name}:{}", s.session),
            "arn": format!("arn:aws:sts::{account}:assumed-role/{role_name}/{}", s.session),
            "accountId": account,
            "accessKeyId": s.key,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": format!("AROA{role_name}"),
                                  "arn": s.role_arn, "accountId": account, "userName": role_name},
                "attributes": {"creationDate": iso8601(at), "mfaAuthenticated": "false"},
                "sourceIdentity": who
            }
        },
        "eventTime": iso8601(at),
        "eventSource": format!("{service}.amazonaws.com"),
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "192.0.2.10",
        "userAgent": "tollgate",
        "requestParameters": {},
        "responseElements": null,
        "requestID": event_id,
        "eventID": event_id,
        "readOnly": name.starts_with("List") || name.starts_with("Describe"),
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": account,
        "eventCategory": "Management"
    })
}

/// The `AssumeRole` record of a session, with the tags the executor and preview set.
fn assume_record(account: &str, s: &Opened, who: &str, request: &str, at: u64) -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": format!("arn:aws:sts::{account}:assumed-role/tollgate-functions/executor"),
            "accountId": account,
            "sessionContext": {"sessionIssuer": {"type": "Role",
                "arn": format!("arn:aws:iam::{account}:role/tollgate-functions")}}
        },
        "eventTime": iso8601(at),
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "awsRegion": "us-east-1",
        "requestParameters": {
            "roleArn": s.role_arn, "roleSessionName": s.session, "sourceIdentity": who,
            "durationSeconds": 900,
            "tags": [{"key": "tollgate:request", "value": request}]
        },
        "responseElements": {"credentials": {"accessKeyId": s.key, "expiration": "later"},
                             "sourceIdentity": who},
        "eventID": format!("assume-{}", s.session),
        "eventType": "AwsApiCall",
        "recipientAccountId": account
    })
}

async fn put_log(stack: &Stack, bucket: &str, records: &[Value], n: usize) {
    let s3 = tollgate_aws::s3::S3::new(&stack.names.region, Some(&stack.moto_url));
    let creds = Credentials::new("testing", "testing", None, None, "test");
    let _ = s3.create_bucket(&creds, bucket).await;
    let now = tollgate_aws::now_ms();
    let (y, m, d) = civil_date(now / 1000);
    let account = &stack.names.account;
    let key = format!(
        "AWSLogs/{account}/CloudTrail/us-east-1/{y:04}/{m:02}/{d:02}/{account}_CloudTrail_us-east-1_{y:04}{m:02}{d:02}T0000Z_{n:04}.json.gz"
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(json!({"Records": records}).to_string().as_bytes())
        .unwrap();
    s3.put(
        &creds,
        bucket,
        &key,
        gz.finish().unwrap(),
        "application/x-gzip",
    )
    .await
    .unwrap();
}

async fn trail_of(stack: &Stack, id: &str) -> Vec<Value> {
    let body: Value = Client::new(&stack.api_url, Some(stack.token("ci-bot", false).unwrap()))
        .status(id, 0)
        .await
        .unwrap()
        .body;
    body["events"].as_array().cloned().unwrap()
}

fn at_of(events: &[Value], kind: &str) -> u64 {
    events
        .iter()
        .find(|e| e["kind"] == kind)
        .and_then(|e| e["at"].as_u64())
        .unwrap_or_else(|| panic!("no {kind} event"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_reports_exactly_the_calls_tollgate_did_not_make() {
    let (stack, agent, approver) = common::stack_with_people().await;
    let listed = read_now(&agent, "dynamodb:ListTables", json!({})).await;
    assert_eq!(listed["status"], "SUCCEEDED", "{listed}");
    let refused = read_now(
        &agent,
        "dynamodb:DescribeTable",
        json!({"TableName": "absent"}),
    )
    .await;
    assert_eq!(refused["status"], "FAILED", "AWS refuses it: {refused}");
    let deleted = common::approved_delete(&stack, &agent, &approver, "reconciled").await;
    let (listed, refused) = (
        listed["id"].as_str().unwrap().to_string(),
        refused["id"].as_str().unwrap().to_string(),
    );

    // The sessions really opened, as STS was asked for them, checked against what the audit
    // trail says the executor used.
    let account = stack.names.account.clone();
    let role_arn = stack.names.role_arn(&stack.names.target_role);
    let sessions = stack.sessions();
    let session = |name: String| {
        let s = sessions
            .iter()
            .find(|s| s.session_name == name)
            .unwrap_or_else(|| panic!("STS opened no session {name}: {sessions:?}"));
        (
            Opened {
                session: s.session_name.clone(),
                role_arn: s.role_arn.clone(),
                key: s.access_key_id.clone(),
            },
            s.source_identity.clone(),
            s.tags["tollgate:request"].clone(),
        )
    };
    let mut real = vec![];
    for (id, action) in [
        (&listed, "dynamodb:ListTables"),
        (&refused, "dynamodb:DescribeTable"),
        (&deleted, "dynamodb:DeleteTable"),
    ] {
        let events = trail_of(&stack, id).await;
        let started = events
            .iter()
            .find(|e| e["kind"] == "execution_started")
            .unwrap();
        let (s, who, tag) = session(format!("tollgate-{id}"));
        assert_eq!(s.role_arn, started["detail"]["role_arn"].as_str().unwrap());
        assert_eq!(who, started["detail"]["source_identity"].as_str().unwrap());
        assert_eq!(&tag, id);
        let at = at_of(&events, "execution_started");
        real.push((tag, s, who, action, at));
    }
    let (preview, preview_who, preview_tag) = session(format!("tollgate-preview-{deleted}"));
    assert_eq!(preview_tag, deleted);
    let deleted_events = trail_of(&stack, &deleted).await;
    let previewed = deleted_events
        .iter()
        .find(|e| e["kind"] == "previewed")
        .unwrap();
    let reads: Vec<String> = previewed["detail"]["preview"]["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["source"].as_str().unwrap().to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(!reads.is_empty(), "{previewed}");
    let previewed_at = at_of(&deleted_events, "previewed");

    let mut records = vec![];
    for (id, s, who, action, at) in &real {
        records.push(assume_record(&account, s, who, id, at + 10));
        records.push(call_record(
            &account,
            s,
            who,
            action,
            at + 20,
            &format!("call-{id}"),
        ));
    }
    records.push(assume_record(
        &account,
        &preview,
        &preview_who,
        &preview_tag,
        previewed_at - 300,
    ));
    for (i, read) in reads.iter().enumerate() {
        records.push(call_record(
            &account,
            &preview,
            &preview_who,
            read,
            previewed_at - 200,
            &format!("preview-{i}"),
        ));
    }
    // Everything really made, and a record of another role's session.
    let mut other = call_record(
        &account,
        &preview,
        "bob",
        "s3:ListBuckets",
        previewed_at,
        "other-role",
    );
    other["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] =
        json!(format!("arn:aws:iam::{account}:role/unrelated"));
    records.push(other);
    put_log(&stack, "trail-clean", &records, 1).await;
    // The same file delivered twice changes nothing.
    put_log(&stack, "trail-clean", &records, 2).await;

    let args = |bucket: &'static str| {
        vec![
            "audit",
            "reconcile",
            "--since",
            "1h",
            "--settle",
            "0s",
            "--trail-bucket",
            bucket,
            "--role-arn",
        ]
    };
    let mut clean_args = args("trail-clean");
    clean_args.push(&role_arn);
    let (code, out) = tollgate(&stack, &clean_args);
    assert_eq!(code, 0, "every call is accounted for: {out}");
    assert!(out.contains(" 0 findings"), "{out}");

    // Now: the refused call's event is lost, someone used the role from a console, and the
    // ListTables session's key made a call it was not approved for.
    let console = Opened {
        session: "alice-console".into(),
        role_arn: role_arn.clone(),
        key: "ASIACONSOLE".into(),
    };
    let tampered: Vec<Value> = records
        .iter()
        .filter(|r| r["eventID"] != format!("call-{refused}"))
        .cloned()
        .chain([
            call_record(
                &account,
                &console,
                "alice",
                "dynamodb:DeleteTable",
                real[0].4 + 50,
                "console-call",
            ),
            call_record(
                &account,
                &real[0].1,
                &real[0].2,
                "dynamodb:DeleteTable",
                real[0].4 + 60,
                "smuggled",
            ),
        ])
        .collect();
    put_log(&stack, "trail-tampered", &tampered, 1).await;
    let mut json_args = args("trail-tampered");
    json_args.extend([role_arn.as_str(), "--json"]);
    let (code, out) = tollgate(&stack, &json_args);
    assert_eq!(code, 11, "{out}");
    let report: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let mut findings: Vec<(String, String, String)> = report["report"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_string(),
                f["request_id"].as_str().unwrap_or("").to_string(),
                f["reason"]
                    .as_str()
                    .or(f["call"]["event_id"].as_str())
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    findings.sort();
    let mut expected = vec![
        ("missing".to_string(), refused.clone(), String::new()),
        (
            "unexplained".to_string(),
            String::new(),
            "session `alice-console` is not a Tollgate session".to_string(),
        ),
        (
            "unexplained".to_string(),
            listed.clone(),
            "action `dynamodb:DeleteTable` is not the request's `dynamodb:ListTables`".to_string(),
        ),
    ];
    expected.sort();
    assert_eq!(findings, expected, "{out}");
    assert_eq!(report["report"]["executions_checked"], 3, "{out}");

    let mut human = args("trail-tampered");
    human.push(&role_arn);
    let (code, out) = tollgate(&stack, &human);
    assert_eq!(code, 11);
    assert_eq!(out.matches("UNEXPLAINED").count(), 2, "{out}");
    assert!(
        out.contains("MISSING      ") && out.contains(&refused),
        "{out}"
    );

    let (code, out) = tollgate(
        &stack,
        &[
            "audit",
            "reconcile",
            "--trail-bucket",
            "b",
            "--role-arn",
            "not-an-arn",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("--role-arn `not-an-arn`"), "{out}");
    stack.stop().await;
}
