//! Every way a signed request can be wrong, refused with the right kind; and the changes a
//! request may go through without breaking its signature (unsigned headers, a dropped
//! content-length), accepted.

mod common;

use std::path::Path;
use std::time::SystemTime;

use aws_sigv4::http_request::SignableBody;
use common::rust_signer::{
    AKID, SECRET, Streaming, TOKEN, s3_put_chunked, s3_put_chunked_declaring, settings,
    sign_request,
};
use common::{Raw, at, check, load_vectors, one_key, plus};
use tollgate_sigv4::{
    ChecksumAlgorithm, ErrorKind, Found, LookupError, Options, Secret, VerifyError, verify,
};

fn t0() -> SystemTime {
    at("20261201T120000Z")
}

fn lookup() -> impl Fn(&str, Option<&str>) -> Result<Found<&'static str>, LookupError> {
    one_key(AKID, SECRET, Some(TOKEN.to_string()))
}

fn run(raw: &Raw, now: SystemTime) -> Result<Vec<u8>, VerifyError> {
    check(raw, now, &lookup(), &Options::default()).map(|(b, _)| b)
}

fn kind(raw: &Raw, now: SystemTime) -> ErrorKind {
    match run(raw, now) {
        Ok(_) => panic!("accepted: {} {}?{}", raw.method, raw.path, raw.query),
        Err(e) => {
            assert!(!e.message.is_empty());
            assert!(
                !e.message.contains(SECRET) && !e.message.contains(TOKEN),
                "{e}"
            );
            e.kind
        }
    }
}

fn dynamodb() -> Raw {
    let body = br#"{"TableName":"orders","Key":{"id":{"S":"42"}}}"#;
    sign_request(
        "dynamodb",
        "POST",
        "/aws/?x=1",
        &[
            ("content-type", "application/x-amz-json-1.0"),
            ("x-amz-target", "DynamoDB_20120810.GetItem"),
            ("content-length", &body.len().to_string()),
            ("user-agent", "aws-sdk-rust/1.0"),
        ],
        body,
        SignableBody::Bytes(body),
        settings(false, false),
        t0(),
    )
    .0
}

fn s3_signed() -> Raw {
    let body = b"object body";
    sign_request(
        "s3",
        "PUT",
        "/aws/bkt/dir/key%20name?tagging=a%2Bb",
        &[
            ("content-type", "text/plain"),
            ("x-amz-meta-owner", "agent"),
        ],
        body,
        SignableBody::Bytes(body),
        settings(true, false),
        t0(),
    )
    .0
}

fn presigned() -> Raw {
    sign_request(
        "s3",
        "GET",
        "/aws/bkt/k",
        &[],
        b"",
        SignableBody::UnsignedPayload,
        settings(true, true),
        t0(),
    )
    .0
}

fn now() -> SystemTime {
    plus(t0(), 1)
}

fn authorization(raw: &Raw) -> String {
    String::from_utf8(raw.header("authorization").unwrap().to_vec()).unwrap()
}

fn with_authorization(raw: &Raw, f: impl Fn(&str) -> String) -> Raw {
    let mut r = raw.clone();
    r.set_header("authorization", f(&authorization(raw)).as_bytes());
    r
}

#[test]
fn the_unchanged_requests_verify() {
    for raw in [dynamodb(), s3_signed(), presigned()] {
        run(&raw, now()).unwrap();
    }
}

#[test]
fn every_signed_part_altered_fails() {
    for base in [dynamodb(), s3_signed()] {
        let mut r = base.clone();
        r.method = "PATCH".into();
        assert_eq!(kind(&r, now()), ErrorKind::SignatureDoesNotMatch, "method");
        for path in [format!("{}x", base.path), base.path.to_uppercase()] {
            let mut r = base.clone();
            r.path = path.clone();
            assert_eq!(
                kind(&r, now()),
                ErrorKind::SignatureDoesNotMatch,
                "path {path}"
            );
        }
        for query in ["", "x=2", "x=1&y=2", "tagging=a%20b", "tagging=a%2bc"] {
            let mut r = base.clone();
            r.query = query.into();
            if r.query == base.query {
                continue;
            }
            assert_eq!(
                kind(&r, now()),
                ErrorKind::SignatureDoesNotMatch,
                "query {query}"
            );
        }
        // Every signed header's value, one at a time.
        let signed = authorization(&base)
            .split("SignedHeaders=")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_string();
        for name in signed.split(';') {
            let mut r = base.clone();
            let mut value = r.header(name).unwrap().to_vec();
            match name {
                // Another valid date, one second later: still in the window, so only the
                // signature can catch it.
                "x-amz-date" => value = b"20261201T120001Z".to_vec(),
                "x-amz-content-sha256" => value = b"0".repeat(64),
                "content-length" => continue, // checked against the body, below
                _ => value.push(b'x'),
            }
            r.set_header(name, &value);
            let k = kind(&r, now());
            let expected = if name == "x-amz-security-token" {
                ErrorKind::InvalidToken
            } else {
                ErrorKind::SignatureDoesNotMatch
            };
            assert_eq!(k, expected, "signed header {name}");
        }
    }
    // `+` in a query is a literal plus, the same as `%2B` (and the decoder must read it so).
    let mut r = s3_signed();
    r.query = "tagging=a+b".into();
    run(&r, now()).expect("a+b is a%2Bb");
    // Outside S3 the canonical path is normalised, so `//` and `/./` are the same path; S3
    // signs the path as sent.
    let mut r = dynamodb();
    r.path = "/aws//./".into();
    run(&r, now()).expect("normalised the same as /aws/");
    let mut r = s3_signed();
    r.path = r.path.replacen("/aws/", "/aws//", 1);
    assert_eq!(
        kind(&r, now()),
        ErrorKind::SignatureDoesNotMatch,
        "S3 path with an extra /"
    );
    // The body: outside S3 its hash is part of the signature; S3 signs x-amz-content-sha256.
    let mut r = dynamodb();
    r.body[3] ^= 1;
    assert_eq!(kind(&r, now()), ErrorKind::SignatureDoesNotMatch);
    let mut r = s3_signed();
    r.body[0] ^= 1;
    assert_eq!(kind(&r, now()), ErrorKind::ContentSha256Mismatch);
}

#[test]
fn every_authorization_field_altered_fails() {
    let base = dynamodb();
    type Alter = Box<dyn Fn(&str) -> String>;
    let cases: Vec<(&str, Alter, ErrorKind)> = vec![
        (
            "algorithm",
            Box::new(|a| a.replacen("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1)),
            ErrorKind::UnsupportedAuthentication,
        ),
        (
            "sigv2",
            Box::new(|_| "AWS AKID:c2lnbmF0dXJl".into()),
            ErrorKind::UnsupportedAuthentication,
        ),
        (
            "access key",
            Box::new(|a| a.replacen(AKID, "ASIARUSTSIGNERTEST02", 1)),
            ErrorKind::InvalidAccessKeyId,
        ),
        (
            "scope date",
            Box::new(|a| a.replacen("/20261201/", "/20261202/", 1)),
            ErrorKind::MalformedAuthorization,
        ),
        (
            "region",
            Box::new(|a| a.replacen("/us-east-1/", "/us-west-2/", 1)),
            ErrorKind::SignatureDoesNotMatch,
        ),
        (
            "service",
            Box::new(|a| a.replacen("/dynamodb/", "/dynamodbx/", 1)),
            ErrorKind::SignatureDoesNotMatch,
        ),
        (
            "terminator",
            Box::new(|a| a.replacen("aws4_request", "aws5_request", 1)),
            ErrorKind::MalformedAuthorization,
        ),
        (
            "signature digit",
            Box::new(|a| {
                let i = a.len() - 1;
                let last = if a.ends_with('0') { '1' } else { '0' };
                format!("{}{last}", &a[..i])
            }),
            ErrorKind::SignatureDoesNotMatch,
        ),
        (
            "signature case",
            Box::new(|a| {
                let (head, sig) = a.split_once("Signature=").unwrap();
                format!("{head}Signature={}", sig.to_uppercase())
            }),
            ErrorKind::MalformedAuthorization,
        ),
        (
            "signature short",
            Box::new(|a| a[..a.len() - 1].to_string()),
            ErrorKind::MalformedAuthorization,
        ),
        (
            "unsigned content-type",
            Box::new(|a| a.replacen("content-type;", "", 1)),
            ErrorKind::SignatureDoesNotMatch,
        ),
        (
            "unsigned x-amz-target",
            Box::new(|a| a.replacen(";x-amz-target", "", 1)),
            ErrorKind::HeadersNotSigned,
        ),
        (
            "no host",
            Box::new(|a| a.replacen(";host;", ";", 1)),
            ErrorKind::HeadersNotSigned,
        ),
        (
            "unsorted",
            Box::new(|a| {
                a.replacen(
                    "content-length;content-type",
                    "content-type;content-length",
                    1,
                )
            }),
            ErrorKind::MalformedAuthorization,
        ),
        (
            "duplicate part",
            Box::new(|a| format!("{a}, Signature={}", "0".repeat(64))),
            ErrorKind::MalformedAuthorization,
        ),
        (
            "unknown part",
            Box::new(|a| format!("{a}, Extra=1")),
            ErrorKind::MalformedAuthorization,
        ),
        (
            "missing part",
            Box::new(|a| a.split(", Signature=").next().unwrap().to_string()),
            ErrorKind::MalformedAuthorization,
        ),
        (
            "credential parts",
            Box::new(|a| a.replacen("/aws4_request", "", 1)),
            ErrorKind::MalformedAuthorization,
        ),
        (
            "empty",
            Box::new(|_| String::new()),
            ErrorKind::UnsupportedAuthentication,
        ),
    ];
    for (what, f, expected) in cases {
        let r = with_authorization(&base, f);
        assert_eq!(kind(&r, now()), expected, "{what}: {}", authorization(&r));
    }
}

#[test]
fn missing_or_conflicting_authentication() {
    let mut r = dynamodb();
    r.remove_header("authorization");
    assert_eq!(kind(&r, now()), ErrorKind::MissingAuthentication);
    let mut r = dynamodb();
    r.query.push_str("&X-Amz-Signature=00");
    assert_eq!(
        kind(&r, now()),
        ErrorKind::MalformedAuthorization,
        "header and presigned"
    );
    let mut r = dynamodb();
    r.headers.push((
        "Authorization".into(),
        authorization(&dynamodb()).into_bytes(),
    ));
    assert_eq!(
        kind(&r, now()),
        ErrorKind::MalformedAuthorization,
        "two authorization headers"
    );
    let mut r = dynamodb();
    r.remove_header("x-amz-date");
    assert_eq!(
        kind(&r, now()),
        ErrorKind::MalformedAuthorization,
        "no x-amz-date"
    );
    let mut r = dynamodb();
    r.set_header("x-amz-date", b"2026-12-01T12:00:00Z");
    assert_eq!(
        kind(&r, now()),
        ErrorKind::MalformedAuthorization,
        "bad x-amz-date"
    );
}

#[test]
fn the_lookup_decides_keys_and_tokens() {
    let r = dynamodb();
    let expired = |_: &str, _: Option<&str>| -> Result<Found<()>, LookupError> {
        Err(LookupError::ExpiredToken)
    };
    let unknown = |_: &str, _: Option<&str>| -> Result<Found<()>, LookupError> {
        Err(LookupError::UnknownAccessKey)
    };
    let invalid = |_: &str, _: Option<&str>| -> Result<Found<()>, LookupError> {
        Err(LookupError::InvalidToken)
    };
    let wrong = |_: &str, _: Option<&str>| -> Result<Found<()>, LookupError> {
        Ok(Found {
            secret: Secret::new("not/the/secret"),
            principal: (),
        })
    };
    let seen = std::cell::RefCell::new(None);
    let recording = |k: &str, t: Option<&str>| -> Result<Found<()>, LookupError> {
        *seen.borrow_mut() = Some((k.to_string(), t.map(str::to_string)));
        Ok(Found {
            secret: Secret::new(SECRET),
            principal: (),
        })
    };
    let o = Options::default();
    r.with(|req| {
        assert_eq!(
            verify(req, now(), &expired, &o).unwrap_err().kind,
            ErrorKind::ExpiredToken
        );
        assert_eq!(
            verify(req, now(), &unknown, &o).unwrap_err().kind,
            ErrorKind::InvalidAccessKeyId
        );
        assert_eq!(
            verify(req, now(), &invalid, &o).unwrap_err().kind,
            ErrorKind::InvalidToken
        );
        assert_eq!(
            verify(req, now(), &wrong, &o).unwrap_err().kind,
            ErrorKind::SignatureDoesNotMatch
        );
        verify(req, now(), &recording, &o).unwrap();
    });
    assert_eq!(
        seen.into_inner(),
        Some((AKID.to_string(), Some(TOKEN.to_string())))
    );
    let mut r = dynamodb();
    r.set_header("x-amz-security-token", b"another-token");
    assert_eq!(kind(&r, now()), ErrorKind::InvalidToken);
}

#[test]
fn the_clock_window_is_five_minutes_each_way() {
    let r = dynamodb();
    for ok in [-300, 0, 300] {
        run(&r, plus(t0(), ok)).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    for skewed in [-301, 301, 86_400] {
        assert_eq!(
            kind(&r, plus(t0(), skewed)),
            ErrorKind::RequestTimeTooSkewed,
            "{skewed}"
        );
    }
}

#[test]
fn presigned_urls_expire() {
    let r = presigned();
    assert!(r.query.contains("X-Amz-Expires=900"));
    for ok in [-300, 0, 900] {
        run(&r, plus(t0(), ok)).unwrap_or_else(|e| panic!("{ok}: {e}"));
    }
    assert_eq!(kind(&r, plus(t0(), 901)), ErrorKind::PresignedUrlExpired);
    assert_eq!(kind(&r, plus(t0(), -301)), ErrorKind::RequestTimeTooSkewed);
    for (expires, k) in [
        ("601", ErrorKind::SignatureDoesNotMatch),
        ("604801", ErrorKind::MalformedPresignedUrl),
        ("0", ErrorKind::MalformedPresignedUrl),
        ("-1", ErrorKind::MalformedPresignedUrl),
        ("9e2", ErrorKind::MalformedPresignedUrl),
    ] {
        let mut x = r.clone();
        x.query = r
            .query
            .replacen("X-Amz-Expires=900", &format!("X-Amz-Expires={expires}"), 1);
        assert_eq!(kind(&x, now()), k, "X-Amz-Expires={expires}");
    }
    for (from, to, k) in [
        (
            "X-Amz-SignedHeaders=host",
            "X-Amz-SignedHeaders=x-amz-date",
            ErrorKind::HeadersNotSigned,
        ),
        (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256",
            "X-Amz-Algorithm=AWS4-ECDSA-P256-SHA256",
            ErrorKind::UnsupportedAuthentication,
        ),
        (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&",
            "",
            ErrorKind::MalformedPresignedUrl,
        ),
        (
            "X-Amz-Security-Token=",
            "X-Amz-Security-Token=x",
            ErrorKind::InvalidToken,
        ),
        (
            "X-Amz-Date=20261201T120000Z",
            "X-Amz-Date=20261201T120001Z",
            ErrorKind::SignatureDoesNotMatch,
        ),
    ] {
        let mut x = r.clone();
        x.query = r.query.replacen(from, to, 1);
        assert_ne!(x.query, r.query, "{from}");
        assert_eq!(kind(&x, now()), k, "{from} -> {to}");
    }
    let mut x = r.clone();
    x.query.push_str("&X-Amz-Date=20261201T120000Z");
    assert_eq!(
        kind(&x, now()),
        ErrorKind::MalformedPresignedUrl,
        "repeated parameter"
    );
    let mut x = r.clone();
    x.query.push_str("&extra=1");
    assert_eq!(
        kind(&x, now()),
        ErrorKind::SignatureDoesNotMatch,
        "added parameter"
    );
}

#[test]
fn unsigned_headers_may_change_and_signed_content_length_may_be_dropped() {
    let base = dynamodb();
    let mut r = base.clone();
    r.set_header("user-agent", b"something else");
    r.headers
        .push(("X-Forwarded-For".into(), b"203.0.113.9".to_vec()));
    r.headers
        .push(("x-amzn-trace-id".into(), b"Root=1-abc".to_vec()));
    r.headers
        .push(("amz-sdk-invocation-id".into(), b"1234".to_vec()));
    run(&r, now()).unwrap();
    let mut r = base.clone();
    r.remove_header("content-length");
    run(&r, now()).expect("content-length rebuilt from the body");
    let mut r = base.clone();
    r.set_header("content-length", b"3");
    assert_eq!(kind(&r, now()), ErrorKind::IncompleteBody);
    let mut r = base.clone();
    r.headers
        .push(("x-amz-acl".into(), b"public-read".to_vec()));
    assert_eq!(
        kind(&r, now()),
        ErrorKind::HeadersNotSigned,
        "an unsigned x-amz-* header"
    );
    let mut r = base.clone();
    r.remove_header("x-amz-target");
    assert_eq!(
        kind(&r, now()),
        ErrorKind::SignatureDoesNotMatch,
        "a signed header dropped"
    );
    // Signed header values compare after trimming: extra spaces are not a change.
    let mut r = base.clone();
    r.set_header("x-amz-target", b"  DynamoDB_20120810.GetItem  ");
    run(&r, now()).unwrap();
}

#[test]
fn payload_modes_outside_their_service_are_refused() {
    for value in [
        "UNSIGNED-PAYLOAD",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "abc",
    ] {
        let body = b"{}";
        let (raw, _) = sign_request(
            "dynamodb",
            "POST",
            "/",
            &[("x-amz-content-sha256", value)],
            body,
            SignableBody::Precomputed(value.to_string()),
            settings(false, false),
            t0(),
        );
        assert_eq!(kind(&raw, now()), ErrorKind::UnsupportedPayload, "{value}");
    }
    let mut r = s3_signed();
    r.remove_header("x-amz-content-sha256");
    assert_eq!(kind(&r, now()), ErrorKind::MissingContentSha256);
    let mut r = s3_signed();
    r.set_header("content-encoding", b"aws-chunked");
    assert_eq!(
        kind(&r, now()),
        ErrorKind::UnsupportedPayload,
        "aws-chunked without streaming"
    );
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 131 % 251) as u8).collect()
}

fn signed_stream() -> (Vec<u8>, Raw) {
    let body = data(2 * 64 * 1024 + 500);
    let raw = s3_put_chunked(
        "/aws/bkt/k",
        &body,
        64 * 1024,
        Streaming::Signed,
        None,
        t0(),
    );
    (body, raw)
}

/// Byte offsets of each `chunk-signature=` value in a body.
fn signature_offsets(body: &[u8]) -> Vec<usize> {
    let marker = b"chunk-signature=";
    body.windows(marker.len())
        .enumerate()
        .filter(|(_, w)| *w == marker)
        .map(|(i, _)| i + marker.len())
        .collect()
}

#[test]
fn chunked_bodies_are_checked_chunk_by_chunk() {
    let (data_in, raw) = signed_stream();
    assert_eq!(run(&raw, now()).unwrap(), data_in);
    let sigs = signature_offsets(&raw.body);
    assert_eq!(sigs.len(), 4, "three data chunks and the final one");
    for (i, at) in sigs.iter().enumerate() {
        let mut r = raw.clone();
        r.body[*at] = if r.body[*at] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            kind(&r, now()),
            ErrorKind::SignatureDoesNotMatch,
            "chunk {i} signature"
        );
    }
    // A data byte in each chunk.
    for at in [sigs[0] + 70, sigs[1] + 70, sigs[2] + 70] {
        let mut r = raw.clone();
        r.body[at] ^= 0x40;
        assert_eq!(
            kind(&r, now()),
            ErrorKind::SignatureDoesNotMatch,
            "data at {at}"
        );
    }
    // Truncated anywhere: the signed content-length no longer matches.
    for cut in [1, 10, 100, sigs[1], raw.body.len() - 90] {
        let mut r = raw.clone();
        r.body.truncate(raw.body.len() - cut);
        assert_eq!(kind(&r, now()), ErrorKind::IncompleteBody, "cut {cut}");
    }
    // Without a content-length (as botocore sends), the framing itself shows the cut.
    let unframed = s3_put_chunked_declaring(
        "/aws/bkt/k",
        &data_in,
        data_in.len(),
        false,
        64 * 1024,
        Streaming::Signed,
        None,
        t0(),
    );
    assert_eq!(run(&unframed, now()).unwrap(), data_in);
    let sigs = signature_offsets(&unframed.body);
    for cut_at in [
        sigs[2] - 30,
        sigs[1] + 10,
        sigs[3] + 64,
        unframed.body.len() - 1,
        3,
    ] {
        let mut r = unframed.clone();
        r.body.truncate(cut_at);
        assert_eq!(
            kind(&r, now()),
            ErrorKind::IncompleteBody,
            "cut at {cut_at}"
        );
    }
    let mut r = unframed.clone();
    r.body.extend_from_slice(b"junk");
    assert_eq!(
        kind(&r, now()),
        ErrorKind::IncompleteBody,
        "bytes after the end"
    );
    let mut r = raw.clone();
    r.body.push(b'x');
    assert_eq!(
        kind(&r, now()),
        ErrorKind::IncompleteBody,
        "content-length no longer matches"
    );
}

#[test]
fn chunk_size_and_decoded_length_rules() {
    let body = data(3000);
    let small = s3_put_chunked("/aws/bkt/k", &body, 1000, Streaming::Signed, None, t0());
    assert_eq!(kind(&small, now()), ErrorKind::InvalidChunkSize);
    let one = s3_put_chunked("/aws/bkt/k", &body, 8192, Streaming::Signed, None, t0());
    assert_eq!(
        run(&one, now()).unwrap(),
        body,
        "a single small chunk is the last one"
    );
    let unsigned_small = s3_put_chunked(
        "/aws/bkt/k",
        &body,
        1000,
        Streaming::UnsignedTrailer,
        Some((
            "x-amz-checksum-crc32",
            &ChecksumAlgorithm::Crc32.compute(&body),
        )),
        t0(),
    );
    run(&unsigned_small, now()).expect("unsigned streams take any chunk size");
    let lying = s3_put_chunked_declaring(
        "/aws/bkt/k",
        &body,
        2999,
        true,
        8192,
        Streaming::Signed,
        None,
        t0(),
    );
    assert_eq!(
        kind(&lying, now()),
        ErrorKind::IncompleteBody,
        "decoded length mismatch"
    );
}

#[test]
fn trailers_are_signed_and_checksummed() {
    let body = data(70_000);
    let crc = ChecksumAlgorithm::Crc32c.compute(&body);
    // No signed content-length, so that only the trailer's own checks can catch a change.
    let signed = s3_put_chunked_declaring(
        "/aws/bkt/k",
        &body,
        body.len(),
        false,
        64 * 1024,
        Streaming::SignedTrailer,
        Some(("x-amz-checksum-crc32c", &crc)),
        t0(),
    );
    run(&signed, now()).unwrap();
    let text_at = |raw: &Raw, needle: &str| {
        raw.body
            .windows(needle.len())
            .position(|w| w == needle.as_bytes())
            .unwrap()
            + needle.len()
    };
    let mut r = signed.clone();
    let at = text_at(&r, "x-amz-trailer-signature:");
    r.body[at] = if r.body[at] == b'a' { b'b' } else { b'a' };
    assert_eq!(
        kind(&r, now()),
        ErrorKind::SignatureDoesNotMatch,
        "trailer signature"
    );
    let mut r = signed.clone();
    let at = text_at(&r, "x-amz-checksum-crc32c:");
    r.body[at] = if r.body[at] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        kind(&r, now()),
        ErrorKind::SignatureDoesNotMatch,
        "a signed trailer's value"
    );
    let mut r = signed.clone();
    let at = text_at(&r, "x-amz-trailer-signature:") - "x-amz-trailer-signature:".len();
    r.body
        .drain(at..at + "x-amz-trailer-signature:".len() + 64 + 2);
    assert_eq!(
        kind(&r, now()),
        ErrorKind::SignatureDoesNotMatch,
        "trailer signature removed"
    );

    // An unsigned stream's trailer checksum is what protects its body.
    let unsigned = s3_put_chunked(
        "/aws/bkt/k",
        &body,
        64 * 1024,
        Streaming::UnsignedTrailer,
        Some(("x-amz-checksum-crc32c", &crc)),
        t0(),
    );
    run(&unsigned, now()).unwrap();
    let mut r = unsigned.clone();
    r.body[100] ^= 1;
    assert_eq!(kind(&r, now()), ErrorKind::BadDigest, "a data byte");
    let wrong = ChecksumAlgorithm::Crc32c.compute(b"other");
    let bad = s3_put_chunked(
        "/aws/bkt/k",
        &body,
        64 * 1024,
        Streaming::UnsignedTrailer,
        Some(("x-amz-checksum-crc32c", &wrong)),
        t0(),
    );
    assert_eq!(kind(&bad, now()), ErrorKind::BadDigest, "wrong checksum");
    // A trailer the headers did not declare.
    let mut r = unsigned.clone();
    r.set_header("x-amz-trailer", b"x-amz-checksum-sha256");
    assert_eq!(
        kind(&r, now()),
        ErrorKind::SignatureDoesNotMatch,
        "x-amz-trailer is signed"
    );
}

#[test]
fn botocore_trailer_uploads_are_checked() {
    let v = load_vectors(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/botocore-vectors.json.gz"),
    );
    let lookup = one_key(v.akid, v.secret, Some(v.token.clone()));
    let o = Options::default();
    let big = v
        .vectors
        .iter()
        .find(|x| x.name == "s3-putobject-trailer-big")
        .unwrap();
    let now = plus(big.signed_at(), 1);
    check(&big.raw, now, &lookup, &o).unwrap();
    let k = |raw: &Raw| check(raw, now, &lookup, &o).unwrap_err().kind;
    let mut r = big.raw.clone();
    r.body[500_000] ^= 1;
    assert_eq!(k(&r), ErrorKind::BadDigest, "a data byte");
    let mut r = big.raw.clone();
    r.body.truncate(r.body.len() - 40);
    assert_eq!(k(&r), ErrorKind::IncompleteBody, "truncated trailer");
    let mut r = big.raw.clone();
    r.body.truncate(1000);
    assert_eq!(k(&r), ErrorKind::IncompleteBody, "truncated chunk");
    let mut r = big.raw.clone();
    let n = r.body.len();
    r.body[n - 8] = if r.body[n - 8] == b'A' { b'B' } else { b'A' };
    assert_eq!(k(&r), ErrorKind::BadDigest, "trailer checksum");
    // The first chunk's size rewritten: the framing no longer adds up.
    let mut r = big.raw.clone();
    r.body[0] = b'2';
    assert_eq!(k(&r), ErrorKind::IncompleteBody, "chunk size");
    // Presigned URL past its expiry, and the week-long one at its last second.
    let get = v
        .vectors
        .iter()
        .find(|x| x.name == "s3-presigned-get-space")
        .unwrap();
    assert_eq!(
        check(&get.raw, plus(get.signed_at(), 901), &lookup, &o)
            .unwrap_err()
            .kind,
        ErrorKind::PresignedUrlExpired
    );
    let week = v
        .vectors
        .iter()
        .find(|x| x.name == "s3-presigned-get-week")
        .unwrap();
    check(
        &week.raw,
        plus(week.signed_at(), 7 * 24 * 3600),
        &lookup,
        &o,
    )
    .unwrap();
}
