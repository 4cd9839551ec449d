//! Requests signed by `aws-sigv4`, the AWS SDK for Rust's signer, with the SDK's per-service
//! settings: header and presigned signatures for S3 and other services, and every aws-chunked
//! mode with chunk and trailer signatures from `sign_chunk`/`sign_trailer`.

mod common;

use aws_sigv4::http_request::SignableBody;
use common::rust_signer::{AKID, SECRET, Streaming, TOKEN, s3_put_chunked, settings, sign_request};
use common::{Raw, at, check, one_key, plus};
use tollgate_sigv4::{AuthLocation, ChecksumAlgorithm, Options, PayloadMode};

fn now() -> std::time::SystemTime {
    at("20261201T120000Z")
}

fn verify_ok(raw: &Raw) -> (Vec<u8>, tollgate_sigv4::Verified<'static, &'static str>) {
    let lookup = one_key(AKID, SECRET, Some(TOKEN.to_string()));
    check(raw, plus(now(), 2), &lookup, &Options::default()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn dynamodb_getitem_signed_by_the_rust_signer() {
    let body = br#"{"TableName":"orders","Key":{"id":{"S":"42"}}}"#;
    let (raw, _) = sign_request(
        "dynamodb",
        "POST",
        "/aws/",
        &[
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "DynamoDB_20120810.GetItem"),
            ("content-length", &body.len().to_string()),
            ("x-amz-user-agent", "aws-sdk-rust/1.0"),
        ],
        body,
        SignableBody::Bytes(body),
        settings(false, false),
        now(),
    );
    let (decoded, v) = verify_ok(&raw);
    assert_eq!(decoded, body);
    assert_eq!(v.payload, PayloadMode::Signed);
    assert!(v.is_signed("content-length") && v.is_signed("X-Amz-Target"));
    assert_eq!(v.credential.service, "dynamodb");
}

#[test]
fn rest_json_label_with_reserved_characters_is_double_encoded() {
    // Lambda GetFunction with FunctionName `a/b?c%d e+f` and a Qualifier in the query.
    let (raw, _) = sign_request(
        "lambda",
        "GET",
        "/aws/2015-03-31/functions/a%2Fb%3Fc%25d%20e%2Bf?Qualifier=x%2By%20z",
        &[],
        b"",
        SignableBody::Bytes(b""),
        settings(false, false),
        now(),
    );
    assert_eq!(raw.path, "/aws/2015-03-31/functions/a%2Fb%3Fc%25d%20e%2Bf");
    verify_ok(&raw);
}

#[test]
fn s3_unsigned_payload_with_dots_double_slashes_and_encoded_characters() {
    let body = vec![7u8; 64 * 1024];
    let (raw, _) = sign_request(
        "s3",
        "PUT",
        "/aws/bkt/a//b/../c%2F%20%2B%C3%BC.bin",
        &[
            ("content-length", "65536"),
            ("content-type", "application/octet-stream"),
        ],
        &body,
        SignableBody::UnsignedPayload,
        settings(true, false),
        now(),
    );
    assert_eq!(
        raw.header("x-amz-content-sha256"),
        Some(&b"UNSIGNED-PAYLOAD"[..])
    );
    let (decoded, v) = verify_ok(&raw);
    assert_eq!(decoded, body);
    assert_eq!(v.payload, PayloadMode::Unsigned);
    assert!(!v.payload.body_signed());
}

#[test]
fn s3_signed_payload() {
    let body = b"signed body bytes";
    let (raw, _) = sign_request(
        "s3",
        "PUT",
        "/aws/bkt/key",
        &[],
        body,
        SignableBody::Bytes(body),
        settings(true, false),
        now(),
    );
    let (_, v) = verify_ok(&raw);
    assert_eq!(v.payload, PayloadMode::Signed);
}

#[test]
fn presigned_s3_get_and_sts_call() {
    for (service, target) in [
        ("s3", "/aws/bkt/dir//k%20ü?versionId=3%2B1"),
        ("sts", "/aws/?Action=GetCallerIdentity&Version=2011-06-15"),
    ] {
        let target = target.replace('ü', "%C3%BC");
        let (raw, _) = sign_request(
            service,
            "GET",
            &target,
            &[],
            b"",
            if service == "s3" {
                SignableBody::UnsignedPayload
            } else {
                SignableBody::Bytes(b"")
            },
            settings(service == "s3", true),
            now(),
        );
        assert!(
            raw.query.contains("X-Amz-Signature="),
            "{service}: {}",
            raw.query
        );
        let (_, v) = verify_ok(&raw);
        assert_eq!(
            v.location,
            AuthLocation::Query { expires: 900 },
            "{service}"
        );
        assert_eq!(v.credential.session_token.as_deref(), Some(TOKEN));
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 256) as u8).collect()
}

#[test]
fn every_chunk_signature_of_a_signed_stream_is_checked() {
    let body = data(2 * 64 * 1024 + 1000);
    let raw = s3_put_chunked(
        "/aws/bkt/stream",
        &body,
        64 * 1024,
        Streaming::Signed,
        None,
        now(),
    );
    assert!(
        raw.body.starts_with(b"10000;chunk-signature="),
        "uppercase hex as the Rust SDK writes"
    );
    let (decoded, v) = verify_ok(&raw);
    assert_eq!(decoded, body);
    assert_eq!(v.payload, PayloadMode::StreamingSigned);
    assert!(v.is_signed("content-length"));
    assert_eq!(v.content_encoding, None);
}

#[test]
fn signed_stream_with_a_signed_trailer() {
    let body = data(100_000);
    let crc = ChecksumAlgorithm::Crc32c.compute(&body);
    let raw = s3_put_chunked(
        "/aws/bkt/stream",
        &body,
        64 * 1024,
        Streaming::SignedTrailer,
        Some(("x-amz-checksum-crc32c", &crc)),
        now(),
    );
    let (decoded, v) = verify_ok(&raw);
    assert_eq!(decoded, body);
    assert_eq!(v.payload, PayloadMode::StreamingSignedTrailer);
    assert_eq!(
        v.checksum.as_ref().map(|c| c.algorithm),
        Some(ChecksumAlgorithm::Crc32c)
    );
}

#[test]
fn unsigned_stream_with_each_checksum_trailer() {
    let body = data(70_000);
    for alg in ChecksumAlgorithm::ALL {
        let sum = alg.compute(&body);
        let raw = s3_put_chunked(
            "/aws/bkt/stream",
            &body,
            64 * 1024,
            Streaming::UnsignedTrailer,
            Some((alg.header_name(), &sum)),
            now(),
        );
        let (decoded, v) = verify_ok(&raw);
        assert_eq!(decoded, body, "{alg:?}");
        assert_eq!(v.checksum.map(|c| (c.algorithm, c.value)), Some((alg, sum)));
    }
}

#[test]
fn empty_signed_stream() {
    let raw = s3_put_chunked(
        "/aws/bkt/empty",
        b"",
        64 * 1024,
        Streaming::Signed,
        None,
        now(),
    );
    let (decoded, _) = verify_ok(&raw);
    assert!(decoded.is_empty());
}
