//! Where a request goes: the region check, the real endpoint's host (the model's hostname
//! template, global endpoints, host prefixes, S3 virtual-hosted buckets) and joining an
//! endpoint URL's base path with the request path.

use serde_json::{Map, Value};

use super::{BuildError, invalid};
use crate::model::{OperationDef, ServiceModel, Shape};
use crate::partition::{self, GlobalElsewhere};

pub(super) fn check_region(region: &str) -> Result<(), BuildError> {
    let ok = !region.is_empty()
        && region.len() <= 63
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(BuildError::Endpoint(format!("invalid region {region:?}")))
    }
}

/// S3 bucket names usable as a host label (botocore's `isVirtualHostableS3Bucket` without
/// dots, since dotted names break TLS wildcard certificates).
pub(super) fn virtual_hostable(b: &str) -> bool {
    let bytes = b.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && bytes.first().is_some_and(|c| c.is_ascii_alphanumeric())
        && bytes.last().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// The host of the real endpoint and the signing region, in the region's partition (the
/// models' hostnames are the `aws` partition's).
pub(super) fn resolve_host(
    model: &ServiceModel,
    op: &OperationDef,
    region: &str,
) -> Result<(String, String), BuildError> {
    let meta = &model.metadata;
    let partition = partition::of_region(region);
    if let Some(template) = &op.hostname {
        let host = op
            .hostname_exceptions
            .get(region)
            .cloned()
            .unwrap_or_else(|| partition::host_in(region, &template.replace("{region}", region)));
        let signing = op
            .signing_region
            .clone()
            .unwrap_or_else(|| region.to_string());
        return Ok((host, signing));
    }
    if let Some(g) = &meta.global_endpoint {
        if partition.name == "aws" {
            return Ok((g.hostname.clone(), g.region.clone()));
        }
        return match partition::global_endpoint(partition.name, model.endpoint_prefix()) {
            Some(GlobalElsewhere::At(host, signing)) => Ok((host.to_string(), signing.to_string())),
            Some(GlobalElsewhere::Regional) => Ok((
                format!(
                    "{}.{region}.{}",
                    model.endpoint_prefix(),
                    partition.dns_suffix
                ),
                region.to_string(),
            )),
            None => Err(BuildError::Endpoint(format!(
                "{} has no endpoint in the {} partition (region {region})",
                model.service_name(),
                partition.name
            ))),
        };
    }
    let Some(template) = &meta.hostname else {
        return Err(BuildError::Endpoint(format!(
            "{} has no static endpoint; pass an endpoint URL",
            model.service_name()
        )));
    };
    let host = meta
        .hostname_exceptions
        .get(region)
        .cloned()
        .unwrap_or_else(|| partition::host_in(region, &template.replace("{region}", region)));
    Ok((host, region.to_string()))
}

/// Splits `scheme://authority/path` (query and fragment dropped).
pub(super) fn split_url(url: &str) -> Result<(String, String, String), BuildError> {
    let bad = || BuildError::Endpoint(format!("invalid endpoint URL {url:?}"));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    if !matches!(scheme, "http" | "https") {
        return Err(bad());
    }
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty()
        || authority
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '@')
    {
        return Err(bad());
    }
    Ok((scheme.to_string(), authority.to_string(), path.to_string()))
}

/// botocore's `_urljoin` for the path part.
pub(super) fn join_path(base: &str, path: &str) -> String {
    let joined = if path.is_empty() || path == "/" {
        if base.is_empty() {
            "/".to_string()
        } else {
            base.to_string()
        }
    } else if base.ends_with('/') && path.starts_with('/') {
        format!("{}{}", &base[..base.len() - 1], path)
    } else {
        format!("{base}{path}")
    };
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

/// The operation's host prefix (`{AccountId}.`) with its labels filled from the parameters.
pub(super) fn expand_host_prefix(
    op: &OperationDef,
    input: Option<&Shape>,
    params: &Map<String, Value>,
) -> Result<Option<String>, BuildError> {
    let Some(ep) = &op.endpoint else {
        return Ok(None);
    };
    let mut out = ep.host_prefix.clone();
    if let Some(input) = input {
        for (name, m) in &input.members {
            if !m.host_label {
                continue;
            }
            let placeholder = format!("{{{name}}}");
            if !out.contains(&placeholder) {
                continue;
            }
            let value = match params.get(name) {
                Some(Value::String(s)) => s.clone(),
                _ => {
                    return Err(invalid(
                        &format!("params.{name}"),
                        "missing required parameter",
                    ));
                }
            };
            if value.is_empty()
                || !value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            {
                return Err(invalid(
                    &format!("params.{name}"),
                    "must contain only alphanumeric characters, hyphen, or period (it is part \
                     of the host name)",
                ));
            }
            out = out.replace(&placeholder, &value);
        }
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_paths_like_botocore() {
        assert_eq!(join_path("", "/"), "/");
        assert_eq!(join_path("", ""), "/");
        assert_eq!(join_path("/base/", "/x"), "/base/x");
        assert_eq!(join_path("/base", "/x"), "/base/x");
        assert_eq!(join_path("", "?list-type=2"), "/?list-type=2");
    }

    #[test]
    fn checks_regions_and_urls() {
        assert!(check_region("us-east-1").is_ok());
        for bad in ["", "us east", "evil.com/", "US-EAST-1", "-a"] {
            assert!(check_region(bad).is_err(), "{bad}");
        }
        assert_eq!(
            split_url("http://127.0.0.1:5000/").unwrap(),
            ("http".into(), "127.0.0.1:5000".into(), "/".into())
        );
        assert!(split_url("ftp://x").is_err());
        assert!(split_url("http://").is_err());
        assert!(virtual_hostable("my-bucket"));
        assert!(!virtual_hostable("my.bucket"));
        assert!(!virtual_hostable("My_Bucket"));
        assert!(!virtual_hostable("ab"));
    }
}
