//! The payload bucket (`PayloadBucket` in the template): front-door bodies too large for the
//! request record, put by the API and read back by the executor. The bucket encrypts with
//! the stack's key and expires objects on its own; nothing here sets either.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use tollgate_core::{ApiError, ErrorCode};

use crate::config::{NoCredentials, signing_identity};
use crate::ports::{PayloadStore, Stored};
use crate::s3::S3;

/// Enough of an answer to read S3's error document.
const ERROR_BODY_BYTES: usize = 8 * 1024;

pub struct S3Payloads {
    s3: S3,
    credentials: SharedCredentialsProvider,
    bucket: String,
}

impl S3Payloads {
    /// `endpoint` overrides S3's (the emulator).
    pub fn new(
        sdk: &SdkConfig,
        bucket: &str,
        endpoint: Option<&str>,
    ) -> Result<Self, NoCredentials> {
        let (credentials, region) = signing_identity(sdk, "us-east-1")?;
        Ok(Self {
            s3: S3::new(&region, endpoint),
            credentials,
            bucket: bucket.to_string(),
        })
    }

    async fn creds(&self) -> Result<aws_credential_types::Credentials, ApiError> {
        self.credentials
            .provide_credentials()
            .await
            .map_err(|e| ApiError::new(ErrorCode::Unavailable, format!("credentials: {e}")))
    }
}

fn unavailable(e: String) -> ApiError {
    ApiError::new(ErrorCode::Unavailable, format!("payload bucket: {e}"))
}

#[async_trait]
impl PayloadStore for S3Payloads {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), ApiError> {
        self.s3
            .put(
                &self.creds().await?,
                &self.bucket,
                key,
                bytes,
                "application/octet-stream",
            )
            .await
            .map_err(unavailable)
    }

    async fn get(&self, bucket: &str, key: &str, limit: usize) -> Result<Stored, ApiError> {
        // Read at least enough to see S3's error (`NoSuchKey` or another); bodies are cut at
        // `limit` here.
        let stored = self
            .s3
            .clone()
            .with_body_limit(limit.max(ERROR_BODY_BYTES))
            .get_stored(&self.creds().await?, bucket, key)
            .await
            .map_err(unavailable)?;
        Ok(match stored {
            Stored::Bytes(b) if b.len() > limit => Stored::Longer,
            other => other,
        })
    }
}
