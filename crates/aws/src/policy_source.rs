//! Where the policies come from: the bundled set, a directory in the function's bundle, an
//! SSM parameter, or an S3 object. Read once at cold start with the function's own
//! credentials, through the SigV4 caller.

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};

use crate::s3::S3;

/// A configured policy source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Bundled,
    /// `dir:<path>`: the `.cedar` files of a directory shipped with the function.
    Dir(String),
    /// `ssm:<parameter name>`: one parameter holding the policy text.
    Ssm(String),
    /// `s3://bucket/key`: one object holding the policy text.
    S3 {
        bucket: String,
        key: String,
    },
}

impl Source {
    pub fn parse(s: &str) -> Result<Source, String> {
        let s = s.trim();
        if s.is_empty() || s == "bundled" {
            return Ok(Source::Bundled);
        }
        if let Some(name) = s.strip_prefix("ssm:") {
            if name.is_empty() {
                return Err("`ssm:` needs a parameter name".into());
            }
            return Ok(Source::Ssm(name.to_string()));
        }
        if let Some(path) = s.strip_prefix("dir:") {
            if path.is_empty() {
                return Err("`dir:` needs a directory".into());
            }
            return Ok(Source::Dir(path.to_string()));
        }
        if let Some(rest) = s.strip_prefix("s3://")
            && let Some((bucket, key)) = rest.split_once('/')
            && !bucket.is_empty()
            && !key.is_empty()
        {
            return Ok(Source::S3 {
                bucket: bucket.to_string(),
                key: key.to_string(),
            });
        }
        Err(format!(
            "`{s}` is not `bundled`, `dir:<path>`, `ssm:<name>` or `s3://<bucket>/<key>`"
        ))
    }

    /// The setting's value that parses back to this source.
    pub fn setting(&self) -> String {
        match self {
            Source::Bundled => "bundled".to_string(),
            Source::Dir(path) => format!("dir:{path}"),
            Source::Ssm(name) => format!("ssm:{name}"),
            Source::S3 { bucket, key } => format!("s3://{bucket}/{key}"),
        }
    }
}

/// Loads the policy text of a remote source (SSM, S3) as `(name, text)`; `None` for the
/// others, which the caller reads from its own files. `endpoint` overrides the AWS endpoint
/// (the emulator).
pub async fn load(
    source: &Source,
    credentials: &SharedCredentialsProvider,
    region: &str,
    endpoint: Option<&str>,
) -> Result<Option<(String, String)>, String> {
    let creds = credentials
        .provide_credentials()
        .await
        .map_err(|e| format!("policy source: no credentials: {e}"))?;
    match source {
        Source::Bundled | Source::Dir(_) => Ok(None),
        Source::Ssm(name) => {
            let text = crate::ssm::get_parameter(&creds, region, endpoint, name)
                .await
                .map_err(|e| format!("policy source {e}"))?;
            Ok(Some((format!("ssm:{name}"), text)))
        }
        Source::S3 { bucket, key } => {
            let body = S3::new(region, endpoint)
                .get(&creds, bucket, key)
                .await
                .map_err(|e| format!("policy source {e}"))?;
            let text = String::from_utf8(body)
                .map_err(|_| format!("policy source s3://{bucket}/{key}: not UTF-8"))?;
            Ok(Some((format!("s3://{bucket}/{key}"), text)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sources() {
        assert_eq!(Source::parse("").unwrap(), Source::Bundled);
        assert_eq!(Source::parse("bundled").unwrap(), Source::Bundled);
        assert_eq!(
            Source::parse("ssm:/tollgate/policies").unwrap(),
            Source::Ssm("/tollgate/policies".into())
        );
        assert_eq!(
            Source::parse("s3://b/p/all.cedar").unwrap(),
            Source::S3 {
                bucket: "b".into(),
                key: "p/all.cedar".into()
            }
        );
        assert_eq!(
            Source::parse("dir:/var/task/shadow").unwrap(),
            Source::Dir("/var/task/shadow".into())
        );
        for s in ["bundled", "dir:/p", "ssm:/a/b", "s3://b/k/x.cedar"] {
            assert_eq!(Source::parse(s).unwrap().setting(), s);
        }
        for bad in ["ssm:", "dir:", "s3://b", "s3:///k", "file:/x", "http://x"] {
            assert!(Source::parse(bad).is_err(), "{bad}");
        }
    }
}
