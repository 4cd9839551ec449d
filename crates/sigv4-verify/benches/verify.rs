//! What verifying SigV4 costs per call, for the front door's goal (verification plus
//! operation decoding ≤ 30 µs p50): a DynamoDB GetItem, S3 PutObject of 64 KiB in each
//! payload mode the SDKs use, and a presigned GET. Requests are signed by aws-sigv4 (the
//! test helpers, included by path). Prints p50/p90/p99. Run with `make bench`.

#[path = "../tests/common/raw.rs"]
#[allow(dead_code)]
mod raw;
#[path = "../tests/common/rust_signer.rs"]
#[allow(dead_code)]
mod rust_signer;

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use aws_sigv4::http_request::SignableBody;
use raw::Raw;
use rust_signer::{AKID, SECRET, Streaming, TOKEN, s3_put_chunked, settings, sign_request};
use tollgate_sigv4::{ChecksumAlgorithm, Found, LookupError, Options, Secret, verify};

const ITERATIONS: usize = 20_000;
const WARMUP: usize = 1_000;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn lookup(akid: &str, token: Option<&str>) -> Result<Found<()>, LookupError> {
    if akid != AKID || token != Some(TOKEN) {
        return Err(LookupError::UnknownAccessKey);
    }
    Ok(Found {
        secret: Secret::new(SECRET),
        principal: (),
    })
}

fn bench(name: &str, raw: &Raw, now: SystemTime) {
    let opts = Options::default();
    raw.with(|req| verify(req, now, &lookup, &opts).map(|_| ()))
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut samples = Vec::with_capacity(ITERATIONS);
    raw.with(|req| {
        for i in 0..ITERATIONS + WARMUP {
            let t = Instant::now();
            black_box(verify(black_box(req), now, &lookup, &opts).is_ok());
            if i >= WARMUP {
                samples.push(t.elapsed());
            }
        }
    });
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "| {name} | {:.1} µs | {:.1} µs | {:.1} µs |",
        us(pct(&samples, 0.5)),
        us(pct(&samples, 0.9)),
        us(pct(&samples, 0.99))
    );
}

fn main() {
    let t = tollgate_sigv4::time::parse("20261201T120000Z").expect("date");
    let now = t + Duration::from_secs(1);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    println!(
        "## SigV4 verification ({ITERATIONS} runs each, one core; load average {})\n",
        load.join(" ")
    );
    println!("| request | p50 | p90 | p99 |");
    println!("| --- | --- | --- | --- |");

    let body = br#"{"TableName":"orders","Key":{"id":{"S":"42"},"sk":{"S":"2024-01-01#a"}},"ConsistentRead":true}"#;
    let (getitem, _) = sign_request(
        "dynamodb",
        "POST",
        "/",
        &[
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "DynamoDB_20120810.GetItem"),
            ("content-length", &body.len().to_string()),
            ("x-amz-user-agent", "aws-sdk-rust/1.3 os/linux lang/rust"),
            (
                "amz-sdk-invocation-id",
                "5e1a0d5c-4c1b-4a8e-9d3e-1f2a3b4c5d6e",
            ),
            ("amz-sdk-request", "attempt=1; max=3"),
        ],
        body,
        SignableBody::Bytes(body),
        settings(false, false),
        t,
    );
    bench(
        "DynamoDB GetItem, header-signed, SHA-256 of the body",
        &getitem,
        now,
    );

    let object: Vec<u8> = (0..64 * 1024u32).map(|i| (i % 251) as u8).collect();
    let (unsigned, _) = sign_request(
        "s3",
        "PUT",
        "/bkt/dir/object.bin",
        &[
            ("content-length", "65536"),
            ("content-type", "application/octet-stream"),
        ],
        &object,
        SignableBody::UnsignedPayload,
        settings(true, false),
        t,
    );
    bench("S3 PutObject 64 KiB, UNSIGNED-PAYLOAD", &unsigned, now);

    let (signed, _) = sign_request(
        "s3",
        "PUT",
        "/bkt/dir/object.bin",
        &[("content-length", "65536")],
        &object,
        SignableBody::Bytes(&object),
        settings(true, false),
        t,
    );
    bench("S3 PutObject 64 KiB, signed SHA-256 payload", &signed, now);

    let chunked = s3_put_chunked(
        "/bkt/dir/object.bin",
        &object,
        64 * 1024,
        Streaming::Signed,
        None,
        t,
    );
    bench(
        "S3 PutObject 64 KiB, signed chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD)",
        &chunked,
        now,
    );

    let crc = ChecksumAlgorithm::Crc32.compute(&object);
    let trailer = s3_put_chunked(
        "/bkt/dir/object.bin",
        &object,
        64 * 1024,
        Streaming::UnsignedTrailer,
        Some(("x-amz-checksum-crc32", &crc)),
        t,
    );
    bench(
        "S3 PutObject 64 KiB, unsigned CRC32 trailer (SDK default)",
        &trailer,
        now,
    );

    let (presigned, _) = sign_request(
        "s3",
        "GET",
        "/bkt/dir/object.bin",
        &[],
        b"",
        SignableBody::UnsignedPayload,
        settings(true, true),
        t,
    );
    bench("S3 presigned GET", &presigned, now);
}
