//! Inputs for the SigV4 verifier's fuzz targets: hostile requests shaped like signed ones
//! (Authorization headers, presigned queries, aws-chunked bodies with random parts), and
//! requests really signed by aws-sigv4 for mutation. The owned request type and the signer
//! are the verifier's own test helpers, included by path so both use the same inputs.

use std::sync::OnceLock;
use std::time::SystemTime;

use proptest::prelude::*;

#[path = "../sigv4-verify/tests/common/raw.rs"]
pub mod raw;
#[path = "../sigv4-verify/tests/common/rust_signer.rs"]
pub mod rust_signer;

pub use raw::Raw;
use rust_signer::{Streaming, s3_put_chunked, settings, sign_request};

use crate::nasty_string;

/// When every signed request here was signed.
pub fn signed_at() -> SystemTime {
    tollgate_sigv4::time::parse("20261201T120000Z").expect("date")
}

fn hex_sig() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9a-f]{64}", "[0-9a-fA-F]{0,70}", nasty_string(),]
}

fn scope_part() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "ASIARUSTSIGNERTEST01",
            "20261201",
            "us-east-1",
            "s3",
            "dynamodb",
            "aws4_request",
            ""
        ])
        .prop_map(str::to_string),
        "[a-zA-Z0-9_/-]{0,24}",
        nasty_string(),
    ]
}

fn authorization() -> impl Strategy<Value = Vec<u8>> {
    let credential = prop::collection::vec(scope_part(), 0..7).prop_map(|p| p.join("/"));
    let signed = prop_oneof![
        Just("host;x-amz-content-sha256;x-amz-date".to_string()),
        Just("host".to_string()),
        "[a-z;-]{0,40}",
        nasty_string(),
    ];
    prop_oneof![
        4 => (
            prop::sample::select(vec!["AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256 ", "AWS ", ""]),
            credential,
            signed,
            hex_sig(),
            prop::sample::select(vec![", ", ",", " , ", ", Signature=00, "]),
        )
            .prop_map(|(alg, c, s, sig, sep)| format!("{alg}Credential={c}{sep}SignedHeaders={s}{sep}Signature={sig}").into_bytes()),
        1 => prop::collection::vec(any::<u8>(), 0..120),
    ]
}

fn header() -> impl Strategy<Value = (String, Vec<u8>)> {
    let name = prop_oneof![
        prop::sample::select(vec![
            "host",
            "Host",
            "x-amz-date",
            "x-amz-content-sha256",
            "x-amz-security-token",
            "content-length",
            "content-encoding",
            "x-amz-trailer",
            "x-amz-decoded-content-length",
            "x-amz-target",
            "x-amz-acl",
            "user-agent",
            "date",
        ])
        .prop_map(str::to_string),
        nasty_string(),
    ];
    let value = prop_oneof![
        prop::sample::select(vec![
            "20261201T120000Z",
            "UNSIGNED-PAYLOAD",
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
            "aws-chunked",
            "gzip,aws-chunked",
            "x-amz-checksum-crc32",
            "x-amz-checksum-xxhash64",
            "0",
            "18446744073709551616",
            "tollgate.example.com",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        "[0-9a-f]{64}".prop_map(String::into_bytes),
        nasty_string().prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..40),
    ];
    (name, value)
}

fn query() -> impl Strategy<Value = String> {
    let param = (
        prop_oneof![
            prop::sample::select(
                [
                    &tollgate_sigv4::PRESIGNED_PARAMETERS[..],
                    &["X%2DAmz-Date", "AWSAccessKeyId", "prefix"]
                ]
                .concat()
            )
            .prop_map(str::to_string),
            "[a-zA-Z0-9%+=-]{0,12}",
        ],
        prop_oneof![
            prop::sample::select(vec![
                "AWS4-HMAC-SHA256",
                "20261201T120000Z",
                "604800",
                "604801",
                "0",
                "host",
                "%",
                "%zz",
                "+"
            ])
            .prop_map(str::to_string),
            "[a-zA-Z0-9%+/=-]{0,30}",
            nasty_string(),
        ],
    )
        .prop_map(|(k, v)| format!("{k}={v}"));
    prop_oneof![
        4 => prop::collection::vec(param, 0..9).prop_map(|p| p.join("&")),
        1 => nasty_string(),
    ]
}

/// aws-chunked-shaped bodies: chunks with random sizes, extensions and data, cut or padded,
/// then random trailers.
pub fn chunked_body() -> impl Strategy<Value = Vec<u8>> {
    let chunk = (
        prop_oneof![
            (0usize..70_000).prop_map(|n| format!("{n:x}")),
            (0usize..70_000).prop_map(|n| format!("{n:X}")),
            "[0-9a-fA-F]{0,18}",
            nasty_string(),
        ],
        prop_oneof![
            Just(String::new()),
            hex_sig().prop_map(|s| format!(";chunk-signature={s}")),
            nasty_string()
        ],
        prop::collection::vec(any::<u8>(), 0..64),
        prop::sample::select(vec!["\r\n", "\n", "", "\r\n\r\n"]),
    )
        .prop_map(|(size, ext, data, end)| {
            let mut c = format!("{size}{ext}\r\n").into_bytes();
            c.extend_from_slice(&data);
            c.extend_from_slice(end.as_bytes());
            c
        });
    let trailer = (
        prop::sample::select(vec![
            "x-amz-checksum-crc32",
            "x-amz-checksum-sha256",
            "x-amz-trailer-signature",
            "x",
        ]),
        prop_oneof!["[A-Za-z0-9+/=]{0,12}", hex_sig(), nasty_string()],
    )
        .prop_map(|(n, v)| format!("{n}:{v}\r\n").into_bytes());
    (
        prop::collection::vec(chunk, 0..4),
        prop::collection::vec(trailer, 0..3),
        any::<bool>(),
    )
        .prop_map(|(chunks, trailers, end)| {
            let mut body = chunks.concat();
            body.extend_from_slice(b"0\r\n");
            body.extend_from_slice(&trailers.concat());
            if end {
                body.extend_from_slice(b"\r\n");
            }
            body
        })
}

/// Requests that look signed but are not: every part hostile.
pub fn garbage_request() -> impl Strategy<Value = Raw> {
    (
        prop::sample::select(vec!["GET", "PUT", "POST", "get", "", "DELETE\n"]),
        prop_oneof![
            "(/[a-zA-Z0-9._~%+-]{0,8}){0,5}/?",
            Just("/aws//bkt/../k%2F".to_string()),
            nasty_string(),
        ],
        query(),
        prop::option::of(authorization()),
        prop::collection::vec(header(), 0..10),
        prop_oneof![prop::collection::vec(any::<u8>(), 0..128), chunked_body()],
    )
        .prop_map(|(method, path, query, auth, mut headers, body)| {
            if let Some(a) = auth {
                headers.push(("authorization".to_string(), a));
            }
            Raw {
                method: method.to_string(),
                path,
                query,
                headers,
                body,
            }
        })
}

/// Really signed requests of every kind, for mutation: a DynamoDB call, an S3 upload with a
/// signed payload, a presigned GET, signed chunks with a signed trailer, an unsigned stream
/// with a CRC64/NVME trailer, and signed chunks without a trailer.
pub fn signed_requests() -> &'static [Raw] {
    static SIGNED: OnceLock<Vec<Raw>> = OnceLock::new();
    SIGNED.get_or_init(|| {
        use aws_sigv4::http_request::SignableBody;
        let t = signed_at();
        let body = br#"{"TableName":"orders","Key":{"id":{"S":"42"}}}"#;
        let dynamodb = sign_request(
            "dynamodb",
            "POST",
            "/aws/?x=a%2Bb",
            &[
                ("content-type", "application/x-amz-json-1.0"),
                ("x-amz-target", "DynamoDB_20120810.GetItem"),
            ],
            body,
            SignableBody::Bytes(body),
            settings(false, false),
            t,
        )
        .0;
        let s3 = sign_request(
            "s3",
            "PUT",
            "/aws/bkt/a//b/../c%20d",
            &[("content-type", "text/plain")],
            b"object",
            SignableBody::Bytes(b"object"),
            settings(true, false),
            t,
        )
        .0;
        let presigned = sign_request(
            "s3",
            "GET",
            "/aws/bkt/k%2Bx",
            &[],
            b"",
            SignableBody::UnsignedPayload,
            settings(true, true),
            t,
        )
        .0;
        let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let crc32c = tollgate_sigv4::ChecksumAlgorithm::Crc32c.compute(&data);
        let crc64 = tollgate_sigv4::ChecksumAlgorithm::Crc64Nvme.compute(&data);
        let signed_stream = s3_put_chunked(
            "/aws/bkt/s",
            &data,
            8192,
            Streaming::SignedTrailer,
            Some(("x-amz-checksum-crc32c", &crc32c)),
            t,
        );
        let unsigned_stream = rust_signer::s3_put_chunked_declaring(
            "/aws/bkt/u",
            &data,
            data.len(),
            false,
            5000,
            Streaming::UnsignedTrailer,
            Some(("x-amz-checksum-crc64nvme", &crc64)),
            t,
        );
        let plain_stream = s3_put_chunked("/aws/bkt/p", &data, 8192, Streaming::Signed, None, t);
        vec![
            dynamodb,
            s3,
            presigned,
            signed_stream,
            unsigned_stream,
            plain_stream,
        ]
    })
}

/// A signed S3 upload's headers (an unsigned-trailer or a signed-chunk stream, without a
/// signed content-length) with `body` in place of the one signed: the framing parser then
/// sees hostile bytes behind a valid header signature.
pub fn with_hostile_body(signed: bool, body: Vec<u8>) -> Raw {
    let t = signed_at();
    let mode = if signed {
        Streaming::Signed
    } else {
        Streaming::UnsignedTrailer
    };
    let trailer = (!signed).then_some(("x-amz-checksum-crc32", "AAAAAA=="));
    let mut raw =
        rust_signer::s3_put_chunked_declaring("/aws/bkt/h", b"", 0, false, 8192, mode, trailer, t);
    raw.body = body;
    raw
}

/// One edit to a request: which part, where, and what.
#[derive(Debug, Clone)]
pub enum Edit {
    Replace(u8),
    Insert(u8),
    Delete,
    Truncate,
}

#[derive(Debug, Clone)]
pub struct Mutation {
    pub part: usize,
    pub at: prop::sample::Index,
    /// Where inside the chosen header.
    pub within: prop::sample::Index,
    pub edit: Edit,
}

pub fn mutation() -> impl Strategy<Value = Mutation> {
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(b"0aAfF%+/.;=:\r\n ,".to_vec()),
    ];
    (
        0usize..6,
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        prop_oneof![
            4 => byte.clone().prop_map(Edit::Replace),
            1 => byte.prop_map(Edit::Insert),
            1 => Just(Edit::Delete),
            1 => Just(Edit::Truncate),
        ],
    )
        .prop_map(|(part, at, within, edit)| Mutation {
            part,
            at,
            within,
            edit,
        })
}

fn edit_bytes(bytes: &mut Vec<u8>, at: &prop::sample::Index, edit: &Edit) {
    let i = at.index(bytes.len() + 1);
    match edit {
        Edit::Replace(b) if i < bytes.len() => bytes[i] = *b,
        Edit::Insert(b) | Edit::Replace(b) => bytes.insert(i.min(bytes.len()), *b),
        Edit::Delete if i < bytes.len() => {
            bytes.remove(i);
        }
        Edit::Delete | Edit::Truncate => bytes.truncate(i),
    }
}

fn edit_string(s: &mut String, at: &prop::sample::Index, edit: &Edit) {
    let mut bytes = std::mem::take(s).into_bytes();
    edit_bytes(&mut bytes, at, edit);
    *s = String::from_utf8_lossy(&bytes).into_owned();
}

/// Applies a mutation: part 0 the method, 1 the path, 2 the query, 3 a header name, 4 a
/// header value, 5 the body.
pub fn apply(raw: &mut Raw, m: &Mutation) {
    match m.part {
        0 => edit_string(&mut raw.method, &m.at, &m.edit),
        1 => edit_string(&mut raw.path, &m.at, &m.edit),
        2 => edit_string(&mut raw.query, &m.at, &m.edit),
        3 | 4 if !raw.headers.is_empty() => {
            let h = m.at.index(raw.headers.len());
            if m.part == 3 {
                edit_string(&mut raw.headers[h].0, &m.within, &m.edit);
            } else {
                edit_bytes(&mut raw.headers[h].1, &m.within, &m.edit);
            }
        }
        _ => edit_bytes(&mut raw.body, &m.at, &m.edit),
    }
}
