//! Adapters from Tollgate's domain to AWS: DynamoDB, Step Functions, SNS, STS, SigV4-signed
//! HTTP, and OIDC token verification. Handlers hold them through the traits in [`ports`], built
//! once at cold start.

pub mod config;
pub mod credentials;
pub mod front_door_url;
pub mod invoke;
pub mod keys;
pub mod logging;
pub mod metrics;
pub mod model_call;
pub mod notify;
pub mod oidc;
pub mod payloads;
pub mod policy_source;
pub mod ports;
pub mod presign;
pub mod s3;
pub mod settings;
pub mod signed_http;
pub mod slack_threads;
pub mod slack_users;
pub mod ssm;
pub mod state_reader;
pub mod store;
pub mod trail;
pub mod workflow;

use std::time::{SystemTime, UNIX_EPOCH};

use tollgate_core::{ApiError, ErrorCode};

/// Wall-clock time in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Logs an AWS failure in full and returns an error for the caller that says which
/// dependency failed but nothing of its internals.
pub(crate) fn unavailable(what: &str, err: impl std::fmt::Display) -> ApiError {
    tracing::error!(dependency = what, error = %err, "dependency call failed");
    ApiError::new(
        ErrorCode::Unavailable,
        format!("{what} is unavailable; try again"),
    )
}
