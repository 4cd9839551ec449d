//! Shared SDK configuration. Locally every client points at the emulator through one
//! endpoint override; on AWS the default chain resolves everything.

use aws_config::{BehaviorVersion, Region, SdkConfig};

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
