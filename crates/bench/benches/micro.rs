//! The per-call costs the other benches do not cover: SigV4 signing of the executor's call,
//! masking of its answer, and the front door's own work on an incoming call (opening the
//! gateway session token, verifying SigV4, decoding the operation). Prints p50/p90/p99. Run
//! with `make bench`.

use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use serde_json::json;
use tollgate_aws::signed_http::sign_request;

const ITERATIONS: usize = 20_000;
const WARMUP: usize = 1_000;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "| {name} | {:.1} µs | {:.1} µs | {:.1} µs | {:.0} |",
        us(pct(&samples, 0.5)),
        us(pct(&samples, 0.9)),
        us(pct(&samples, 0.99)),
        1.0 / pct(&samples, 0.5).as_secs_f64()
    );
}

fn measure(mut f: impl FnMut()) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(ITERATIONS);
    for i in 0..ITERATIONS + WARMUP {
        let t = Instant::now();
        f();
        if i >= WARMUP {
            samples.push(t.elapsed());
        }
    }
    samples
}

fn main() {
    println!("## SigV4 signing, masking and the front door ({ITERATIONS} runs each, one core)\n");
    println!("| operation | p50 | p90 | p99 | per second (p50) |");
    println!("| --- | --- | --- | --- | --- |");
    let creds = Credentials::new(
        "ASIABENCHBENCHBENCH0",
        "bench/secret/key/bench/secret/key/bench0",
        Some("session-token-".repeat(20)),
        None,
        "bench",
    );
    let body = json!({"TableName": "orders", "Key": {"id": {"S": "42"}}}).to_string();
    report(
        "SigV4: sign a DynamoDB GetItem (headers, SHA-256 payload hash)",
        measure(|| {
            let mut req = http::Request::post("https://dynamodb.us-east-1.amazonaws.com/")
                .header("content-type", "application/x-amz-json-1.0")
                .header("x-amz-target", "DynamoDB_20120810.GetItem")
                .body(body.clone().into_bytes())
                .expect("request");
            sign_request(&mut req, &creds, "us-east-1", "dynamodb").expect("signed");
            std::hint::black_box(req);
        }),
    );
    let answer = json!({
        "User": {"UserName": "deploy", "Arn": "arn:aws:iam::123456789012:user/deploy",
            "Tags": [{"Key": "team", "Value": "core"}]},
        "AccessKey": {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE",
            "SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "Status": "Active"},
        "Parameters": [{"Name": "/db/url", "Type": "SecureString",
            "Value": "postgres://app:hunter2@db.internal/orders"}],
        "Items": (0..20).map(|i| json!({"id": {"S": format!("item-{i}")}, "note": {"S": "plain text"}})).collect::<Vec<_>>(),
    });
    report(
        "masking: an answer with keys, a SecureString, a URL password and 20 items (clone included)",
        measure(|| {
            let mut v = answer.clone();
            std::hint::black_box(tollgate_core::mask::mask(&mut v));
        }),
    );
    front_door(&creds_body_for_front_door());
    println!();
}

/// A DynamoDB GetItem signed with gateway credentials, as an SDK sends it to the front door.
fn creds_body_for_front_door() -> (http::Request<Vec<u8>>, tollgate_core::keyring::KeyRing) {
    let ring = tollgate_core::keyring::KeyRing::new(vec![7; 32], None).expect("ring");
    let agent = tollgate_core::Identity {
        issuer: "https://idp.example".into(),
        subject: "ci-bot".into(),
        name: "ci-bot".into(),
        ..Default::default()
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let issued = tollgate_core::gateway_credentials::issue(
        &ring,
        &agent,
        now + 3600,
        now,
        &Default::default(),
    )
    .expect("credentials");
    let creds = Credentials::new(
        issued.access_key_id.clone(),
        issued.secret_access_key.clone(),
        Some(issued.session_token.clone()),
        None,
        "bench",
    );
    let body = json!({"TableName": "orders", "Key": {"id": {"S": "42"}}}).to_string();
    let mut req = http::Request::post("http://127.0.0.1:3000/")
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", "DynamoDB_20120810.GetItem")
        .body(body.into_bytes())
        .expect("request");
    sign_request(&mut req, &creds, "us-east-1", "dynamodb").expect("signed");
    (req, ring)
}

fn front_door((req, ring): &(http::Request<Vec<u8>>, tollgate_core::keyring::KeyRing)) {
    let model = tollgate_models::load("dynamodb").expect("model");
    // The signer signs `host` from the URI; the client's HTTP layer sends it.
    let headers: Vec<(String, Vec<u8>)> = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
        .chain([("host".to_string(), b"127.0.0.1:3000".to_vec())])
        .collect();
    report(
        "front door, per call: open the session token, verify SigV4 and decode a DynamoDB GetItem (issue 15: ≤ 30 µs p50)",
        measure(|| {
            let now = std::time::SystemTime::now();
            let secs = now
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_secs();
            let pairs: Vec<(&str, &[u8])> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_slice()))
                .collect();
            let raw = tollgate_sigv4::Request {
                method: "POST",
                path: "/",
                query: "",
                headers: &pairs,
                body: req.body(),
            };
            let lookup = |akid: &str, token: Option<&str>| {
                tollgate_core::gateway_credentials::open(ring, akid, token, secs)
                    .map(|(secret, holder)| tollgate_sigv4::Found {
                        secret: tollgate_sigv4::Secret::new(secret),
                        principal: holder,
                    })
                    .map_err(|_| tollgate_sigv4::LookupError::InvalidToken)
            };
            let verified =
                tollgate_sigv4::verify(&raw, now, &lookup, &tollgate_sigv4::Options::default())
                    .expect("verifies");
            let wire_headers: Vec<(String, String)> = headers
                .iter()
                .map(|(k, v)| (k.clone(), String::from_utf8_lossy(v).into_owned()))
                .collect();
            let decoded = tollgate_models::decode_request(
                &model,
                &tollgate_models::WireRequest {
                    method: "POST",
                    path: "/",
                    query: "",
                    headers: &wire_headers,
                    body: &verified.body,
                },
            )
            .expect("decodes");
            std::hint::black_box(decoded);
        }),
    );
}
