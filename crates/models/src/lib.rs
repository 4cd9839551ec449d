//! AWS API operation models (generated from botocore 1.44.8, embedded gzipped, parsed per
//! service on first use), parameter validation, and the five wire protocols (`json`,
//! `query`, `ec2`, `rest-json`, `rest-xml`) following botocore's serializers and parsers.
//!
//! ```no_run
//! let (model, op) = tollgate_models::find("dynamodb", "DeleteTable").unwrap();
//! let params = serde_json::json!({"TableName": "t"});
//! let params = params.as_object().unwrap();
//! tollgate_models::validate(&model, &op, params).unwrap();
//! let req = tollgate_models::build_request(&model, &op, params, "us-east-1", None).unwrap();
//! assert_eq!(req.url, "https://dynamodb.us-east-1.amazonaws.com/");
//! ```
//!
//! Parameters are JSON as agents write them: blobs base64-encoded, timestamps as ISO 8601
//! strings or epoch seconds; `null` members count as absent. Results follow boto3 (without
//! `ResponseMetadata`): timestamps as `2024-01-31T12:00:00+00:00`, blobs (including raw
//! payloads such as S3 object bodies) base64.
//!
//! botocore customizations applied: idempotency tokens filled with random UUIDs, request
//! checksums (CRC32 by default, CRC32C on request, as headers), S3 virtual-hosted addressing
//! and `CopySource` quoting, `UserData` base64 (EC2 RunInstances, Auto Scaling
//! CreateLaunchConfiguration), Route 53 id prefixes, Glacier's default account and version
//! header, API Gateway's `Accept`, boto3 parameter aliases (EC2 `Filters`), IAM policy
//! documents decoded, S3 `GetBucketLocation` and 200-with-error responses.
//!
//! Refused with a [`BuildError`]: event streams, endpoint discovery without an endpoint URL,
//! SSE-C keys without their MD5, SHA/CRC64 checksum algorithms, services without a static
//! endpoint unless an endpoint URL is given.
//!
//! ## The server side: standing where AWS stands
//!
//! For a front door that unmodified AWS SDKs call, the same models read a call as a client
//! sent it and write answers as the service does:
//!
//! ```no_run
//! use tollgate_models::{WireRequest, decode_request, encode_error, encode_response, load};
//! let model = load("dynamodb").unwrap();
//! let headers = vec![("X-Amz-Target".to_string(), "DynamoDB_20120810.GetItem".to_string())];
//! let call = decode_request(&model, &WireRequest {
//!     method: "POST",
//!     path: "/",   // raw, still percent-encoded, as signed
//!     query: "",
//!     headers: &headers,
//!     body: br#"{"TableName":"t","Key":{"id":{"S":"a"}}}"#,
//! }).unwrap();
//! assert_eq!(call.operation, "GetItem"); // call.params: what `POST /v1/requests` takes
//! let answer = serde_json::json!({"Item": {"id": {"S": "a"}}});
//! let ok = encode_response(&model, "GetItem", &answer, "request-id").unwrap();
//! let held = encode_error(&model, 400, "RequestHeldForApproval", "approve at ...", "request-id");
//! ```
//!
//! [`decode_request`] finds the operation (json by `X-Amz-Target`, query and ec2 by `Action`
//! and `Version`, rest by method and URI template, the most specific winning) and reads its
//! parameters in [`build_request`]'s conventions, with typed [`DecodeError`]s naming the
//! member. [`encode_response`] writes an output shaped as [`parse_response`] returns it;
//! [`encode_error`] writes each protocol's error shape. A round trip over every operation of
//! every model proves each against the client side (`src/server/roundtrip_tests.rs`).
//! Out of scope: host-prefixed operations (the prefix is part of the host name), S3
//! virtual-hosted addressing, event streams, and the SigV4 check, `aws-chunked` framing and the
//! base path, which are the caller's before it decodes.

mod encode;
mod model;
pub mod partition;
mod request;
mod response;
mod server;
mod shapes;
mod timestamp;
mod validate;
mod xml;

pub use model::{
    LoadError, Operation, Protocol, ServiceModel, find, load, prefix_services, prefixes, services,
};
pub use request::{BuildError, HttpRequest, build_request};
pub use response::{AwsError, parse_response};
pub use server::{
    DecodeError, DecodeErrorKind, DecodedRequest, EncodeError, WireRequest, WireResponse,
    decode_request, encode_error, encode_response,
};
pub use shapes::{ShapeKind, ShapeView};
pub use validate::{ValidationError, validate};

#[cfg(test)]
mod coverage_tests;
