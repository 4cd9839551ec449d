//! Scoped credentials: one short STS session per executed request.

use aws_credential_types::Credentials;
use aws_sdk_sts::Client;
use aws_sdk_sts::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sts::types::Tag;
use tollgate_core::{ApiError, ErrorCode};

use crate::unavailable;

/// What to assume and how narrowly.
#[derive(Debug, Clone)]
pub struct ScopedSession<'a> {
    pub role_arn: &'a str,
    pub session_name: &'a str,
    pub session_policy: &'a str,
    pub source_identity: &'a str,
    pub tags: &'a [(String, String)],
}

#[derive(Clone, Debug)]
pub struct CredentialBroker {
    client: Client,
}

/// STS's minimum session length; the call runs well within it.
pub const SESSION_SECONDS: i32 = 900;

impl CredentialBroker {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    pub async fn assume(&self, s: &ScopedSession<'_>) -> Result<Credentials, ApiError> {
        let tags: Vec<Tag> = s
            .tags
            .iter()
            .filter_map(|(k, v)| Tag::builder().key(k).value(v).build().ok())
            .collect();
        let out = self
            .client
            .assume_role()
            .role_arn(s.role_arn)
            .role_session_name(s.session_name)
            .policy(s.session_policy)
            .source_identity(s.source_identity)
            .set_tags(Some(tags))
            .duration_seconds(SESSION_SECONDS)
            .send()
            .await
            .map_err(|e| match e.code() {
                // Never widen the policy to make it fit: refuse clearly instead.
                Some("PackedPolicyTooLarge") => ApiError::new(
                    ErrorCode::InvalidRequest,
                    "session policy and tags exceed STS's packed size limit; the call cannot be scoped",
                ),
                _ => unavailable("STS", DisplayErrorContext(&e)),
            })?;
        let c = out
            .credentials()
            .ok_or_else(|| ApiError::internal("STS returned no credentials"))?;
        Ok(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "tollgate-scoped",
        ))
    }
}
