//! Requests signed by the `aws-sigv4` crate (the AWS SDK for Rust's signer), with the
//! settings the Rust SDK uses per service, and aws-chunked bodies framed as the SDK's
//! `aws_chunked` body does (uppercase hex sizes, `;chunk-signature=`, trailers last) with
//! chunk and trailer signatures from `aws_sigv4::sign::v4::{sign_chunk, sign_trailer}`.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation,
    SigningSettings, UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;

use super::raw::Raw;

pub const AKID: &str = "ASIARUSTSIGNERTEST01";
pub const SECRET: &str = "rust/signer+secret/key/not/an/aws/key00";
pub const TOKEN: &str = "rust-session-token/with+plus==";
pub const HOST: &str = "tollgate.example.com";

pub fn identity() -> Identity {
    Credentials::new(AKID, SECRET, Some(TOKEN.to_string()), None, "test").into()
}

/// The Rust SDK's settings for S3 (no normalisation, single encoding, the payload hash in
/// `x-amz-content-sha256`), or its defaults for every other service.
pub fn settings(s3: bool, presigned: bool) -> SigningSettings {
    let mut s = SigningSettings::default();
    if s3 {
        s.percent_encoding_mode = PercentEncodingMode::Single;
        s.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        s.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    if presigned {
        s.signature_location = SignatureLocation::QueryParams;
        s.expires_in = Some(Duration::from_secs(900));
        s.payload_checksum_kind = PayloadChecksumKind::NoHeader;
    }
    s
}

/// Signs `method https://HOST<target>` with `headers` and returns the request as sent plus
/// its signature (the seed of a chunk chain).
#[allow(clippy::too_many_arguments)] // one per part of a request, as the signer takes them
pub fn sign_request(
    service: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    signable: SignableBody<'_>,
    settings: SigningSettings,
    time: SystemTime,
) -> (Raw, String) {
    let identity = identity();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .expect("params")
        .into();
    let mut all: Vec<(&str, &str)> = vec![("host", HOST)];
    all.extend_from_slice(headers);
    let uri = format!("https://{HOST}{target}");
    let signable =
        SignableRequest::new(method, uri.clone(), all.iter().copied(), signable).expect("signable");
    let (instructions, signature) = sign(signable, &params).expect("signed").into_parts();
    let mut req = http::Request::builder().method(method).uri(&uri);
    for (n, v) in &all {
        req = req.header(*n, *v);
    }
    let mut req = req.body(body.to_vec()).expect("request");
    instructions.apply_to_request_http1x(&mut req);
    let raw = Raw {
        method: method.to_string(),
        path: req.uri().path().to_string(),
        query: req.uri().query().unwrap_or_default().to_string(),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.as_bytes().to_vec()))
            .collect(),
        body: req.body().clone(),
    };
    (raw, signature)
}

fn chunk_params<'a>(identity: &'a Identity, time: SystemTime) -> v4::SigningParams<'a, ()> {
    v4::SigningParams::builder()
        .identity(identity)
        .region("us-east-1")
        .name("s3")
        .time(time)
        .settings(())
        .build()
        .expect("chunk params")
}

/// How an aws-chunked body is framed and signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Streaming {
    Signed,
    SignedTrailer,
    UnsignedTrailer,
}

impl Streaming {
    pub fn header(self) -> &'static str {
        match self {
            Streaming::Signed => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            Streaming::SignedTrailer => "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
            Streaming::UnsignedTrailer => "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        }
    }
}

/// The aws-chunked encoding of `data` in `chunk`-byte chunks; signed chains start at `seed`.
/// `trailer` is `(name, value)` of the checksum trailer, if any.
pub fn aws_chunked(
    data: &[u8],
    chunk: usize,
    mode: Streaming,
    seed: &str,
    time: SystemTime,
    trailer: Option<(&str, &str)>,
) -> Vec<u8> {
    let identity = identity();
    let params = chunk_params(&identity, time);
    let mut prev = seed.to_string();
    let mut out = Vec::new();
    let signed = mode != Streaming::UnsignedTrailer;
    let frame = |out: &mut Vec<u8>, piece: &[u8], prev: &mut String| {
        out.extend_from_slice(format!("{:X}", piece.len()).as_bytes());
        if signed {
            let sig = v4::sign_chunk(&Bytes::copy_from_slice(piece), prev, &params)
                .expect("chunk signature")
                .signature()
                .to_string();
            out.extend_from_slice(b";chunk-signature=");
            out.extend_from_slice(sig.as_bytes());
            *prev = sig;
        }
        out.extend_from_slice(b"\r\n");
        if !piece.is_empty() {
            out.extend_from_slice(piece);
            out.extend_from_slice(b"\r\n");
        }
    };
    for piece in data.chunks(chunk) {
        frame(&mut out, piece, &mut prev);
    }
    frame(&mut out, &[], &mut prev);
    if let Some((name, value)) = trailer {
        out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
        if signed {
            let mut headers = aws_smithy_runtime_api::http::Headers::new();
            headers.insert(name.to_string(), value.to_string());
            let sig = v4::sign_trailer(&headers, &prev, &params).expect("trailer signature");
            out.extend_from_slice(
                format!("x-amz-trailer-signature:{}\r\n", sig.signature()).as_bytes(),
            );
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A whole S3 PutObject with an aws-chunked body, headers as the Rust SDK sends them.
pub fn s3_put_chunked(
    key_path: &str,
    data: &[u8],
    chunk: usize,
    mode: Streaming,
    trailer: Option<(&str, &str)>,
    time: SystemTime,
) -> Raw {
    s3_put_chunked_declaring(key_path, data, data.len(), true, chunk, mode, trailer, time)
}

/// As [`s3_put_chunked`], signing `declared` as `x-amz-decoded-content-length`, and the
/// encoded `content-length` only when `content_length` (botocore sends none).
#[allow(clippy::too_many_arguments)]
pub fn s3_put_chunked_declaring(
    key_path: &str,
    data: &[u8],
    declared: usize,
    content_length: bool,
    chunk: usize,
    mode: Streaming,
    trailer: Option<(&str, &str)>,
    time: SystemTime,
) -> Raw {
    let decoded_len = declared.to_string();
    let mut headers: Vec<(&str, &str)> = vec![
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", &decoded_len),
    ];
    if let Some((name, _)) = trailer {
        headers.push(("x-amz-trailer", name));
    }
    let signable = match mode {
        Streaming::Signed => SignableBody::Precomputed(mode.header().to_string()),
        Streaming::SignedTrailer => SignableBody::StreamingSignedPayloadTrailer,
        Streaming::UnsignedTrailer => SignableBody::StreamingUnsignedPayloadTrailer,
    };
    // The SDK signs the encoded length, which it knows ahead: signatures have a fixed size.
    let encoded_len = aws_chunked(data, chunk, mode, &"0".repeat(64), time, trailer)
        .len()
        .to_string();
    if content_length {
        headers.push(("content-length", &encoded_len));
    }
    let (mut raw, seed) = sign_request(
        "s3",
        "PUT",
        key_path,
        &headers,
        &[],
        signable,
        settings(true, false),
        time,
    );
    raw.body = aws_chunked(data, chunk, mode, &seed, time, trailer);
    raw
}
