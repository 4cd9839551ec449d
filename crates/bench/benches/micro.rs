//! The two per-call costs the other benches do not cover: SigV4 signing of the executor's
//! call and masking of its answer. Prints p50/p90/p99. Run with `make bench`.

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
    println!("## SigV4 signing and masking ({ITERATIONS} runs each, one core)\n");
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
    println!();
}
