//! Where agents' AWS tools reach the front door (`TOLLGATE_FRONT_DOOR_URL`), as
//! `POST /v1/credentials` tells them and `tollgate env` exports it.
//!
//! Deployed, the front door is the api function's own Function URL: API Gateway's HTTP API
//! hands the function a decoded `rawPath` (`%2F`, `%3F` and `%25` are lost), so an S3 key or a
//! URI label with those characters could never verify through it, while a Function URL keeps
//! the path as the client signed it. The template cannot give the function its own URL in
//! its environment (the URL depends on the function), so it writes the URL to an SSM
//! parameter and names the parameter here; it is read on the first credentials request, not
//! at cold start, because no other request needs it.

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use tokio::sync::OnceCell;

/// The setting as given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum FrontDoorUrl {
    /// Unset: the front door is served on Tollgate's own URL (`TOLLGATE_PUBLIC_URL`), as the
    /// local stack and an HTTP-API-only deployment do.
    #[default]
    PublicUrl,
    Url(String),
    /// `ssm:<name>`: the URL is that parameter's value.
    Parameter(String),
}

impl FrontDoorUrl {
    pub fn parse(v: Option<&str>) -> Result<Self, String> {
        match v.map(str::trim) {
            None | Some("") => Ok(Self::PublicUrl),
            Some(v) => match v.strip_prefix("ssm:") {
                Some(name) if name.starts_with('/') && name.len() > 1 => {
                    Ok(Self::Parameter(name.to_string()))
                }
                Some(_) => {
                    Err("an `ssm:` reference must name a parameter path (`ssm:/...`)".into())
                }
                None => checked_url(v).map(Self::Url),
            },
        }
    }
}

/// The setting's own spelling (what `parse` reads back; empty when unset).
impl std::fmt::Display for FrontDoorUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PublicUrl => Ok(()),
            Self::Url(u) => f.write_str(u),
            Self::Parameter(name) => write!(f, "ssm:{name}"),
        }
    }
}

/// An `https` URL with a host and nothing after its path (`http` only for this machine:
/// the local stack). What an agent's tools will send signed calls to must not be a surprise.
pub fn checked_url(v: &str) -> Result<String, String> {
    let u = url::Url::parse(v).map_err(|e| format!("`{v}` is not a URL: {e}"))?;
    let local = matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    if !(u.scheme() == "https" || (u.scheme() == "http" && local)) {
        return Err(format!("`{v}` must be an https URL"));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(format!("`{v}` has no host"));
    }
    if u.query().is_some() || u.fragment().is_some() || !u.username().is_empty() {
        return Err(format!("`{v}` must have no query, fragment or user"));
    }
    Ok(v.trim_end_matches('/').to_string())
}

/// Reads an SSM parameter with the function's own credentials.
#[derive(Clone)]
pub struct ParameterReader {
    pub credentials: SharedCredentialsProvider,
    pub region: String,
    /// Overrides the SSM endpoint (the emulator).
    pub endpoint: Option<String>,
}

/// The front door's URL, resolved once.
pub struct FrontDoorEndpoint {
    setting: FrontDoorUrl,
    reader: Option<ParameterReader>,
    resolved: OnceCell<String>,
}

impl FrontDoorEndpoint {
    /// `reader` is needed only for an `ssm:` setting; without one such a setting fails each
    /// use with a clear reason.
    pub fn new(setting: FrontDoorUrl, reader: Option<ParameterReader>) -> Self {
        Self {
            setting,
            reader,
            resolved: OnceCell::new(),
        }
    }

    /// The URL; `public_url` when the setting is unset. A failed read is not remembered, so
    /// the next request tries again.
    pub async fn get(&self, public_url: &str) -> Result<String, String> {
        match &self.setting {
            FrontDoorUrl::PublicUrl => Ok(public_url.to_string()),
            FrontDoorUrl::Url(u) => Ok(u.clone()),
            FrontDoorUrl::Parameter(name) => self
                .resolved
                .get_or_try_init(|| async {
                    let r = self.reader.as_ref().ok_or_else(|| {
                        format!("TOLLGATE_FRONT_DOOR_URL: ssm:{name} cannot be read here")
                    })?;
                    let creds = r
                        .credentials
                        .provide_credentials()
                        .await
                        .map_err(|e| format!("TOLLGATE_FRONT_DOOR_URL: no credentials: {e}"))?;
                    let v =
                        crate::ssm::get_parameter(&creds, &r.region, r.endpoint.as_deref(), name)
                            .await
                            .map_err(|e| format!("TOLLGATE_FRONT_DOOR_URL: {e}"))?;
                    checked_url(v.trim())
                        .map_err(|e| format!("TOLLGATE_FRONT_DOOR_URL: ssm:{name}: {e}"))
                })
                .await
                .cloned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_setting_is_unset_a_url_or_a_parameter_path() {
        assert_eq!(FrontDoorUrl::parse(None), Ok(FrontDoorUrl::PublicUrl));
        assert_eq!(FrontDoorUrl::parse(Some("")), Ok(FrontDoorUrl::PublicUrl));
        assert_eq!(
            FrontDoorUrl::parse(Some("https://abc.lambda-url.eu-west-1.on.aws/")),
            Ok(FrontDoorUrl::Url(
                "https://abc.lambda-url.eu-west-1.on.aws".into()
            ))
        );
        assert_eq!(
            FrontDoorUrl::parse(Some("ssm:/tollgate/front-door-url")),
            Ok(FrontDoorUrl::Parameter("/tollgate/front-door-url".into()))
        );
        assert_eq!(
            FrontDoorUrl::parse(Some("http://127.0.0.1:3000")),
            Ok(FrontDoorUrl::Url("http://127.0.0.1:3000".into()))
        );
        for bad in [
            "ssm:relative",
            "ssm:/",
            "http://example.com",
            "ftp://example.com",
            "https://example.com/?x=1",
            "https://user@example.com",
            "not a url",
        ] {
            assert!(FrontDoorUrl::parse(Some(bad)).is_err(), "{bad}");
        }
        for s in ["", "https://x.example", "ssm:/a/b"] {
            let v = FrontDoorUrl::parse(Some(s)).unwrap();
            assert_eq!(FrontDoorUrl::parse(Some(&v.to_string())), Ok(v));
        }
    }

    #[tokio::test]
    async fn an_unset_setting_is_the_public_url_and_a_parameter_needs_a_reader() {
        let e = FrontDoorEndpoint::new(FrontDoorUrl::PublicUrl, None);
        assert_eq!(
            e.get("https://api.example").await.unwrap(),
            "https://api.example"
        );
        let e = FrontDoorEndpoint::new(FrontDoorUrl::Parameter("/x".into()), None);
        let err = e.get("https://api.example").await.unwrap_err();
        assert!(err.contains("TOLLGATE_FRONT_DOOR_URL"), "{err}");
    }
}
