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

mod encode;
mod model;
mod request;
mod response;
mod shapes;
mod timestamp;
mod validate;
mod xml;

pub use model::{
    LoadError, Operation, Protocol, ServiceModel, find, load, prefix_services, prefixes, services,
};
pub use request::{BuildError, HttpRequest, build_request};
pub use response::{AwsError, parse_response};
pub use shapes::{ShapeKind, ShapeView};
pub use validate::{ValidationError, validate};

#[cfg(test)]
mod coverage_tests;
