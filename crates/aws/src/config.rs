//! Shared SDK configuration. Locally every client points at the emulator through one
//! endpoint override; on AWS the default chain resolves everything.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::SharedCredentialsProvider;

/// Loads the SDK configuration from the environment. `endpoint` overrides every service
/// endpoint (the local stack's emulator); `region` overrides the environment's region.
pub async fn load(endpoint: Option<&str>, region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_string()));
    }
    loader.load().await
}

/// Reads an environment variable, treating an empty value as absent.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// Reads a required environment variable with an error that names it.
pub fn require_env(name: &str) -> Result<String, String> {
    env(name).ok_or_else(|| format!("environment variable {name} must be set"))
}

/// The SDK configuration has no credentials provider to sign calls with.
#[derive(Debug, thiserror::Error)]
#[error("no AWS credentials provider configured")]
pub struct NoCredentials;

/// The credentials and region the SDK resolved, for calls signed by hand (the SigV4 caller);
/// the region falls back to `default_region`.
pub fn signing_identity(
    sdk: &SdkConfig,
    default_region: &str,
) -> Result<(SharedCredentialsProvider, String), NoCredentials> {
    let credentials = sdk.credentials_provider().ok_or(NoCredentials)?;
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| default_region.to_string());
    Ok((credentials, region))
}
