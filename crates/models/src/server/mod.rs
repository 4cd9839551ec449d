//! The server side of the five protocols, so that Tollgate can stand where AWS stands for an
//! unmodified SDK: [`decode_request`] reads a call as the SDK sent it into the operation and
//! the parameters `POST /v1/requests` takes (the same JSON conventions [`build_request`]
//! takes), [`encode_response`] writes an output (as [`parse_response`] reads it) in the
//! service's own wire format, and [`encode_error`] writes an error in the shape each protocol's
//! SDKs parse.
//!
//! [`build_request`]: crate::build_request
//! [`parse_response`]: crate::parse_response

use std::fmt;

use serde_json::{Map, Value};

mod decode;
mod respond;

pub(crate) use decode::Routes;

#[cfg(test)]
mod roundtrip_tests;

/// An HTTP request as a client sent it, before any normalisation.
#[derive(Debug, Clone, Copy)]
pub struct WireRequest<'a> {
    /// `GET`, `PUT`, ... (compared without regard to case).
    pub method: &'a str,
    /// The path exactly as the client sent (and signed) it, still percent-encoded, without the
    /// query string and without the front door's own base path (`/aws`). Never a path that a
    /// framework has decoded or normalised: `%2F` in an S3 key must still be `%2F` here.
    /// Only the rest protocols read it.
    pub path: &'a str,
    /// The raw query string, without the `?`.
    pub query: &'a str,
    /// The headers (names in any case; repeated headers may be given separately or joined
    /// with `,`).
    pub headers: &'a [(String, String)],
    /// The body, after any `aws-chunked` framing has been removed and verified.
    pub body: &'a [u8],
}

/// A decoded call: the operation's exact model name and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedRequest {
    pub operation: String,
    pub params: Map<String, Value>,
}

/// What kind of request could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// No operation of the model matches (target, `Action`, `Version`, method and path).
    UnknownOperation,
    /// The body, query string or path cannot be read at all (not JSON, not XML, bad
    /// percent-encoding, not UTF-8).
    Malformed,
    /// A parameter does not fit its shape, is unknown, or is given twice.
    Invalid,
    /// The operation cannot be decoded here (event streams, binary `UserData`).
    Unsupported,
}

/// Why a request could not be decoded: the kind, where (`params.Item.id`, or empty when the
/// whole request is concerned) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    pub kind: DecodeErrorKind,
    pub path: String,
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for DecodeError {}

impl DecodeError {
    pub(crate) fn new(kind: DecodeErrorKind, path: &str, message: impl Into<String>) -> Self {
        DecodeError {
            kind,
            path: path.to_string(),
            message: message.into(),
        }
    }
}

/// An HTTP response to send. `Content-Length` is the HTTP layer's to set from the body, except
/// for a HEAD answer's (an output member bound to it), which is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why an output could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// The model has no such operation.
    UnknownOperation(String),
    /// The output does not have the structure of the output shape (an array where an object
    /// belongs, ...). Scalars that do not fit (a masked secret in a number's place) are written
    /// as text instead, since a masked answer must still reach the client.
    Invalid { path: String, message: String },
    /// The operation's output cannot be encoded (event streams).
    Unsupported(String),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::UnknownOperation(op) => write!(f, "unknown operation `{op}`"),
            EncodeError::Invalid { path, message } => write!(f, "{path}: {message}"),
            EncodeError::Unsupported(m) => write!(f, "not supported: {m}"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Decodes a call made to `model`'s service into its operation and parameters.
///
/// The operation is found as AWS finds it: json by `X-Amz-Target` (`DynamoDB_20120810.GetItem`,
/// the model's target prefix only), query and ec2 by `Action` (and `Version`, which must be the
/// model's) in the form body or the query string, rest-json and rest-xml by method and URI
/// template, the most specific match winning (more literal segments, then more literal query
/// keys; S3's operations that share a template, such as PutObject, CopyObject and UploadPart,
/// by the required query parameters and headers present).
///
/// Parameters come out as [`build_request`](crate::build_request) takes them: member names,
/// blobs base64 (raw payloads too), timestamps as ISO 8601 UTC strings
/// (`2024-01-31T12:00:00Z`), and botocore's customizations reversed (S3's quoted `CopySource`
/// unquoted, base64 `UserData` decoded), so that building the decoded call again sends what
/// the client sent. Members bound to `Content-Length` are left out (the HTTP layer sets it),
/// and `aws-chunked` is removed from `Content-Encoding`. Unknown members are refused
/// (except unknown query parameters of rest operations, which SDKs add, such as `x-id`, and
/// which are never forwarded). The parameters still have to be validated (`validate`).
pub fn decode_request(
    model: &crate::ServiceModel,
    req: &WireRequest<'_>,
) -> Result<DecodedRequest, DecodeError> {
    decode::decode(model, req)
}

/// Encodes `output` (shaped as [`parse_response`](crate::parse_response) returns it:
/// timestamps as ISO 8601 strings, blobs base64) as `model`'s service answers `operation`:
/// json bodies, rest-json and rest-xml headers, status code and payload (S3's raw object
/// bodies), query's `<OpResponse><OpResult>` with `ResponseMetadata`, ec2's `<OpResponse>`.
/// `request_id` goes where each protocol carries it. The `Date` header is the caller's (this
/// crate has no clock).
pub fn encode_response(
    model: &crate::ServiceModel,
    operation: &str,
    output: &Value,
    request_id: &str,
) -> Result<WireResponse, EncodeError> {
    respond::encode(model, operation, output, request_id)
}

/// Encodes an error as `model`'s service sends one, so that every SDK reads `code` and
/// `message`: json `{"__type", "message"}` with `x-amzn-ErrorType`, rest-json likewise, query
/// `<ErrorResponse>`, ec2 `<Response><Errors>`, S3 `<Error>` (other rest-xml services
/// `<ErrorResponse>`). A HEAD answer has no body: the caller drops it.
pub fn encode_error(
    model: &crate::ServiceModel,
    status: u16,
    code: &str,
    message: &str,
    request_id: &str,
) -> WireResponse {
    respond::error::encode(model, status, code, message, request_id)
}
