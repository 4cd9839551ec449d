//! Verifies AWS Signature Version 4 the way AWS does, from the request exactly as the client
//! sent it, so that Tollgate's front door can take calls from unmodified AWS CLIs, SDKs and
//! Terraform. Pure: no I/O, no clock (the caller passes the time), no AWS SDK client.
//!
//! # What it verifies
//! - **Header signatures**: `Authorization: AWS4-HMAC-SHA256 Credential=..., SignedHeaders=...,
//!   Signature=...` with `x-amz-date` and an optional `x-amz-security-token`.
//! - **Presigned URLs**: `X-Amz-Algorithm`, `-Credential`, `-Date`, `-Expires` (1 s to 7 days),
//!   `-SignedHeaders`, `-Signature` and an optional `-Security-Token` in the query.
//! - **Payloads**: a signed SHA-256 (`x-amz-content-sha256`, or computed from the body for
//!   services other than S3, as they do); for S3 also `UNSIGNED-PAYLOAD`,
//!   `STREAMING-AWS4-HMAC-SHA256-PAYLOAD` (every chunk signature, chained from the request's),
//!   `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER` (chunks plus the trailer signature) and
//!   `STREAMING-UNSIGNED-PAYLOAD-TRAILER` (framing, `x-amz-decoded-content-length` and the
//!   trailer checksum: CRC32, CRC32C, CRC64/NVME, SHA-1, SHA-256 or SHA-512). The body handed back is
//!   decoded (aws-chunked framing removed).
//! - **Canonicalisation** as AWS does it: services other than S3 normalise the path (dot
//!   segments, `//`) and encode it again; S3 takes the path as sent. The query is re-encoded
//!   from the raw bytes (`+` is a literal plus) and sorted. Only the signed headers are
//!   canonicalised (spaces trimmed and collapsed, repeated headers joined with `,`); a signed
//!   `content-length` that an intermediary dropped is rebuilt from the body length.
//! - **Time**: the request's date within [`Options::max_skew`] (5 minutes) of the caller's
//!   clock; a presigned URL from its date (minus the skew) to its expiry.
//! - The signature is compared in constant time.
//!
//! # What it refuses beyond AWS (fail closed)
//! - an `x-amz-*` header that is not signed (S3's own rule, applied to every service), and a
//!   request whose signed headers omit `host`;
//! - a repeated `Authorization`, `x-amz-date` or `x-amz-security-token`; a header signature
//!   together with presigned parameters; a `Date` header instead of `x-amz-date`;
//! - query strings with a `%` that is not followed by two hex digits;
//! - a `Content-Length` that differs from the body received;
//! - `aws-chunked` content encoding without a `STREAMING-*` payload mode, `UNSIGNED-PAYLOAD`
//!   or streaming outside S3, and undeclared or unknown trailers.
//!
//! # What it does not do
//! - SigV4a (`AWS4-ECDSA-P256-SHA256`), SigV2, S3 POST-policy uploads and S3 Express session
//!   auth: all refused as unsupported.
//! - Operations whose model signs with an unsigned body outside S3 (`unsigned-body`
//!   authtype): their canonical request says `UNSIGNED-PAYLOAD` with nothing in the request to
//!   tell, so they fail as a signature mismatch.
//! - Virtual-hosted-style S3 addressing and host-prefixed operations: the verifier checks
//!   whatever `host` was signed, but finding a bucket or an account id in the host name is
//!   routing, left to the caller (the front door expects path-style addressing).
//! - `x-amz-checksum-*` *headers* are not checked against the body: on some operations
//!   (CompleteMultipartUpload) they are the object's checksum, not the request body's; S3
//!   checks them when the call is made. Trailer checksums are always checked.
//! - Which signed headers the operation decoder may read is the caller's business:
//!   [`Verified::is_signed`] answers it.
//!
//! # For the code that decodes the verified request
//! Read the query as it was verified: `+` is a literal plus, the same as `%2B` (never a
//! space), so that what was signed and what is decoded cannot differ. Outside S3 `/a//b` and
//! `/a/./b` verify the same as `/a/b`: route on the normalised path there, on the raw path for
//! S3. Strip a base path with [`operation_path`] only after verifying.

mod auth;
mod canonical;
mod checksum;
mod chunked;
mod error;
mod lookup;
mod path;
mod request;
mod signing;
pub mod time;

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

pub use auth::{AuthLocation, MAX_PRESIGNED_EXPIRES, PRESIGNED_PARAMETERS};
pub use canonical::{UriRule, canonical_query, canonical_uri, uri_rule_for, uses_s3_rules};
pub use checksum::{Checksum, ChecksumAlgorithm};
pub use chunked::MIN_SIGNED_CHUNK;
pub use error::{ALL_KINDS, AwsCode, CodeRow, ErrorKind, Family, VerifyError, code_row};
pub use lookup::{Found, LookupError, Secret, SecretLookup};
pub use path::operation_path;
pub use request::Request;

use error::shown;
use signing::{sha256_hex, signature_matches, signing_key, string_to_sign};

/// How strict the verifier is. `Default` is what AWS does.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// How far the request's date may be from the caller's clock, either way: 5 minutes.
    pub max_skew: Duration,
    /// The canonical-URI rule; `None` picks it from the credential scope's service (S3's
    /// rule for S3, the normalising rule for everything else).
    pub uri_rule: Option<UriRule>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_skew: Duration::from_secs(300),
            uri_rule: None,
        }
    }
}

/// How the body was covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadMode {
    /// The SHA-256 of the body is signed.
    Signed,
    /// `UNSIGNED-PAYLOAD` (S3): the body is not covered by the signature.
    Unsigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`: every chunk signed.
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`: every chunk and the trailer signed.
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`: not signed, but framing, length and the
    /// trailer checksum verified.
    StreamingUnsignedTrailer,
}

impl PayloadMode {
    /// Whether the signature covers every byte of the body.
    pub fn body_signed(self) -> bool {
        matches!(
            self,
            PayloadMode::Signed
                | PayloadMode::StreamingSigned
                | PayloadMode::StreamingSignedTrailer
        )
    }

    fn streaming(self) -> bool {
        matches!(
            self,
            PayloadMode::StreamingSigned
                | PayloadMode::StreamingSignedTrailer
                | PayloadMode::StreamingUnsignedTrailer
        )
    }
}

/// The credential the request was signed with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub session_token: Option<String>,
    /// The credential scope's region and service (the signing name: `s3`, `dynamodb`, ...).
    pub region: String,
    pub service: String,
    /// The scope's date, `yyyymmdd`.
    pub scope_date: String,
    /// `x-amz-date` (or `X-Amz-Date`).
    pub signed_at: SystemTime,
}

/// A verified request.
#[derive(Debug)]
pub struct Verified<'a, P> {
    /// What the lookup returned for the key.
    pub principal: P,
    pub credential: Credential,
    pub location: AuthLocation,
    pub payload: PayloadMode,
    /// The body with any aws-chunked framing removed (borrowed when there was none).
    pub body: Cow<'a, [u8]>,
    /// The signed header names, lowercase and sorted.
    pub signed_headers: Vec<String>,
    /// The trailer checksum, verified against `body`.
    pub checksum: Option<Checksum>,
    /// `Content-Encoding` without `aws-chunked` (`None` when nothing else was listed).
    pub content_encoding: Option<String>,
}

impl<P> Verified<'_, P> {
    /// Whether a header (any case) was signed.
    pub fn is_signed(&self, header: &str) -> bool {
        self.signed_headers
            .binary_search_by(|h| h.as_str().cmp(&header.to_ascii_lowercase()))
            .is_ok()
    }
}

const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";

/// Which payload mode `x-amz-content-sha256` (or its absence) names, and the string the
/// canonical request carries for it.
fn payload_mode<'r>(
    req: &Request<'r>,
    location: AuthLocation,
    s3: bool,
) -> Result<(PayloadMode, Cow<'r, str>), VerifyError> {
    let header = req.single_header("x-amz-content-sha256").map_err(|()| {
        VerifyError::new(
            ErrorKind::UnsupportedPayload,
            "x-amz-content-sha256: sent more than once",
        )
    })?;
    let header = header
        .map(|h| {
            std::str::from_utf8(h).map_err(|_| {
                VerifyError::new(
                    ErrorKind::UnsupportedPayload,
                    format!("x-amz-content-sha256: `{}` is not UTF-8", shown(h)),
                )
            })
        })
        .transpose()?;
    let presigned = matches!(location, AuthLocation::Query { .. });
    let Some(value) = header else {
        return Ok(match (s3, presigned) {
            (true, true) => (PayloadMode::Unsigned, Cow::Borrowed(UNSIGNED_PAYLOAD)),
            (true, false) => {
                return Err(VerifyError::new(
                    ErrorKind::MissingContentSha256,
                    "x-amz-content-sha256: missing; S3 requests sign it (the body's SHA-256 or UNSIGNED-PAYLOAD)",
                ));
            }
            (false, _) => (PayloadMode::Signed, Cow::Owned(sha256_hex(req.body))),
        });
    };
    let mode = match value {
        UNSIGNED_PAYLOAD if s3 => PayloadMode::Unsigned,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" if s3 && !presigned => PayloadMode::StreamingSigned,
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" if s3 && !presigned => {
            PayloadMode::StreamingSignedTrailer
        }
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" if s3 && !presigned => {
            PayloadMode::StreamingUnsignedTrailer
        }
        v if v.len() == 64 && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => {
            PayloadMode::Signed
        }
        v => {
            let what = if s3 && presigned && v.starts_with("STREAMING-") {
                "is a streaming mode, which a presigned URL cannot use"
            } else if !s3 && (v == UNSIGNED_PAYLOAD || v.starts_with("STREAMING-")) {
                "is only accepted by S3; sign the body's SHA-256"
            } else {
                "must be the body's SHA-256 (64 lowercase hex), UNSIGNED-PAYLOAD or a STREAMING-* mode AWS4-HMAC-SHA256 supports"
            };
            return Err(VerifyError::new(
                ErrorKind::UnsupportedPayload,
                format!("x-amz-content-sha256: `{}` {what}", shown(v)),
            ));
        }
    };
    Ok((mode, Cow::Borrowed(value)))
}

fn check_time(auth: &auth::Auth, now: SystemTime, options: &Options) -> Result<i64, VerifyError> {
    let signed = time::parse_amz_date(&auth.amz_date).unwrap_or_default();
    let now_s = time::unix_seconds(now);
    let skew = i64::try_from(options.max_skew.as_secs()).unwrap_or(i64::MAX);
    let minutes = |s: i64| s.unsigned_abs().div_ceil(60);
    match auth.location {
        AuthLocation::Header => {
            let diff = now_s - signed;
            if diff.abs() > skew {
                return Err(VerifyError::new(
                    ErrorKind::RequestTimeTooSkewed,
                    format!(
                        "x-amz-date: `{}` is {} min {} the server's time `{}` (at most {} min allowed); correct the client's clock",
                        auth.amz_date,
                        minutes(diff),
                        if diff > 0 { "behind" } else { "ahead of" },
                        time::format_amz_date(now_s),
                        minutes(skew)
                    ),
                ));
            }
        }
        AuthLocation::Query { expires } => {
            if signed - now_s > skew {
                return Err(VerifyError::new(
                    ErrorKind::RequestTimeTooSkewed,
                    format!(
                        "X-Amz-Date: `{}` is in the future (server time `{}`); the URL is not valid yet",
                        auth.amz_date,
                        time::format_amz_date(now_s)
                    ),
                ));
            }
            let expires_at = signed.saturating_add(i64::try_from(expires).unwrap_or(i64::MAX));
            if now_s > expires_at {
                return Err(VerifyError::new(
                    ErrorKind::PresignedUrlExpired,
                    format!(
                        "X-Amz-Expires: the presigned URL expired at `{}` (server time `{}`); presign a new one",
                        time::format_amz_date(expires_at),
                        time::format_amz_date(now_s)
                    ),
                ));
            }
        }
    }
    Ok(signed)
}

/// Every `x-amz-*` header the request carries must be signed.
fn check_amz_headers_signed(req: &Request<'_>, signed: &[&str]) -> Result<(), VerifyError> {
    for (name, _) in req.headers {
        let amz = name.len() > 6 && name.as_bytes()[..6].eq_ignore_ascii_case(b"x-amz-");
        if amz && !signed.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            return Err(VerifyError::new(
                ErrorKind::HeadersNotSigned,
                format!(
                    "signedheaders: `{}` is sent but not signed; sign every x-amz-* header you send",
                    shown(name.to_ascii_lowercase())
                ),
            ));
        }
    }
    Ok(())
}

/// A decimal length header's value, or `None` unless it is plain digits that fit a `u64`.
fn parse_length(value: &[u8]) -> Option<u64> {
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

fn check_content_length(req: &Request<'_>) -> Result<(), VerifyError> {
    for value in req.header_values("content-length") {
        if parse_length(value) != Some(req.body.len() as u64) {
            return Err(VerifyError::new(
                ErrorKind::IncompleteBody,
                format!(
                    "content-length: `{}` is not the {} bytes received; send the whole body",
                    shown(value),
                    req.body.len()
                ),
            ));
        }
    }
    Ok(())
}

/// `Content-Encoding` split into its codings, `aws-chunked` removed; whether it was there.
fn content_encoding(req: &Request<'_>) -> (bool, Option<String>) {
    let mut chunked = false;
    let mut rest: Vec<String> = Vec::new();
    for value in req.header_values("content-encoding") {
        for coding in String::from_utf8_lossy(value).split(',') {
            let coding = coding.trim_matches(' ');
            if coding.eq_ignore_ascii_case("aws-chunked") {
                chunked = true;
            } else if !coding.is_empty() {
                rest.push(coding.to_string());
            }
        }
    }
    (chunked, (!rest.is_empty()).then(|| rest.join(",")))
}

fn lookup_error(e: LookupError, akid: &str) -> VerifyError {
    match e {
        LookupError::UnknownAccessKey => VerifyError::new(
            ErrorKind::InvalidAccessKeyId,
            format!(
                "credential: access key id `{}` is unknown; get credentials with `tollgate credentials`",
                shown(akid)
            ),
        ),
        LookupError::InvalidToken => VerifyError::new(
            ErrorKind::InvalidToken,
            "x-amz-security-token: the session token is invalid for this access key id; get credentials with `tollgate credentials`",
        ),
        LookupError::ExpiredToken => VerifyError::new(
            ErrorKind::ExpiredToken,
            "x-amz-security-token: the session token has expired; refresh the credentials (`tollgate credentials`)",
        ),
    }
}

/// A request read and canonicalised, before the time, the key and the signature are checked.
struct Prepared<'r> {
    auth: auth::Auth,
    mode: PayloadMode,
    payload_hash: Cow<'r, str>,
    canonical: Vec<u8>,
    declared: Vec<ChecksumAlgorithm>,
    content_encoding: Option<String>,
}

fn prepare<'r>(req: &Request<'r>, options: &Options) -> Result<Prepared<'r>, VerifyError> {
    let auth = auth::parse(req)?;
    let signed_headers = auth.signed_header_list();
    check_amz_headers_signed(req, &signed_headers)?;
    check_content_length(req)?;
    let s3 = uses_s3_rules(&auth.service);
    let (mode, payload_hash) = payload_mode(req, auth.location, s3)?;
    let (aws_chunked, content_encoding) = content_encoding(req);
    if aws_chunked && !mode.streaming() {
        return Err(VerifyError::new(
            ErrorKind::UnsupportedPayload,
            "content-encoding: aws-chunked needs a STREAMING-* x-amz-content-sha256",
        ));
    }
    let declared = if mode.streaming() {
        let header = req.single_header("x-amz-trailer").map_err(|()| {
            VerifyError::new(
                ErrorKind::UnsupportedPayload,
                "x-amz-trailer: sent more than once",
            )
        })?;
        chunked::declared_trailers(header)?
    } else {
        Vec::new()
    };
    let rule = options
        .uri_rule
        .unwrap_or_else(|| uri_rule_for(&auth.service));
    let uri = canonical_uri(req.path, rule);
    let query = canonical_query(
        req.query,
        matches!(auth.location, AuthLocation::Query { .. }),
    )?;
    let canonical = canonical::canonical_request(
        req,
        &canonical::CanonicalParts {
            method: req.method,
            uri: &uri,
            query: &query,
            signed_headers: &signed_headers,
            signed_headers_raw: &auth.signed_headers,
            payload_hash: &payload_hash,
        },
    )?;
    Ok(Prepared {
        auth,
        mode,
        payload_hash,
        canonical,
        declared,
        content_encoding,
    })
}

/// The canonical request the client must have signed, for diagnosing a mismatch. It holds
/// the signed headers' values, the session token among them: never log it.
pub fn canonical_request(req: &Request<'_>, options: &Options) -> Result<Vec<u8>, VerifyError> {
    Ok(prepare(req, options)?.canonical)
}

/// Verifies a request's SigV4 signature at `now`, finding the secret through `lookup`.
/// Checked in this order: the signature's form, the headers and payload mode, the time,
/// the key (the lookup), the signature, then the body (hash, chunks, trailer).
pub fn verify<'a, L: SecretLookup>(
    req: &Request<'a>,
    now: SystemTime,
    lookup: &L,
    options: &Options,
) -> Result<Verified<'a, L::Principal>, VerifyError> {
    let Prepared {
        auth,
        mode,
        payload_hash,
        canonical,
        declared,
        content_encoding,
    } = prepare(req, options)?;
    let signed_at = check_time(&auth, now, options)?;
    let found = lookup
        .lookup(&auth.access_key_id, auth.session_token.as_deref())
        .map_err(|e| lookup_error(e, &auth.access_key_id))?;
    let scope = auth.scope();
    let key = signing_key(
        found.secret.expose(),
        &auth.scope_date,
        &auth.region,
        &auth.service,
    );
    let sts = string_to_sign(
        auth::ALGORITHM,
        &auth.amz_date,
        &scope,
        &[&sha256_hex(&canonical)],
    );
    if !signature_matches(&key, &sts, &auth.signature) {
        return Err(VerifyError::new(
            ErrorKind::SignatureDoesNotMatch,
            "signature: does not match the request; check the secret access key and that nothing changed the request after signing",
        ));
    }

    let (body, checksum) = match mode {
        PayloadMode::Signed => {
            // Without the header the hash was computed from this very body.
            let sent = req
                .single_header("x-amz-content-sha256")
                .ok()
                .flatten()
                .is_some();
            if sent && sha256_hex(req.body) != *payload_hash {
                return Err(VerifyError::new(
                    ErrorKind::ContentSha256Mismatch,
                    "x-amz-content-sha256: does not match the SHA-256 of the body received; send the body unchanged",
                ));
            }
            (Cow::Borrowed(req.body), None)
        }
        PayloadMode::Unsigned => (Cow::Borrowed(req.body), None),
        PayloadMode::StreamingSigned
        | PayloadMode::StreamingSignedTrailer
        | PayloadMode::StreamingUnsignedTrailer => {
            let signer =
                (mode != PayloadMode::StreamingUnsignedTrailer).then_some(chunked::ChunkSigner {
                    key: &key,
                    amz_date: &auth.amz_date,
                    scope: &scope,
                    seed: auth.signature,
                });
            let trailer = mode != PayloadMode::StreamingSigned;
            let decoded = chunked::decode(req.body, signer, trailer, &declared)?;
            check_decoded_length(req, decoded.body.len())?;
            (Cow::Owned(decoded.body), decoded.checksum)
        }
    };
    let signed_headers = auth
        .signed_header_list()
        .into_iter()
        .map(str::to_string)
        .collect();
    Ok(Verified {
        principal: found.principal,
        credential: Credential {
            access_key_id: auth.access_key_id,
            session_token: auth.session_token,
            region: auth.region,
            service: auth.service,
            scope_date: auth.scope_date,
            signed_at: time::system_time(signed_at),
        },
        location: auth.location,
        payload: mode,
        body,
        signed_headers,
        checksum,
        content_encoding,
    })
}

fn check_decoded_length(req: &Request<'_>, decoded: usize) -> Result<(), VerifyError> {
    let header = req
        .single_header("x-amz-decoded-content-length")
        .map_err(|()| {
            VerifyError::new(
                ErrorKind::IncompleteBody,
                "x-amz-decoded-content-length: sent more than once",
            )
        })?;
    if let Some(value) = header
        && parse_length(value) != Some(decoded as u64)
    {
        return Err(VerifyError::new(
            ErrorKind::IncompleteBody,
            format!(
                "x-amz-decoded-content-length: `{}` is not the {decoded} bytes the aws-chunked body decodes to; send the whole body",
                shown(value)
            ),
        ));
    }
    Ok(())
}
