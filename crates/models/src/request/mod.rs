//! Request serialization for the five protocols (botocore's `serialize.py`), one module per
//! protocol as smithy-rs splits them, plus endpoint resolution, request checksums and the
//! parameter customizations botocore applies before serializing.

use std::fmt;

use serde_json::{Map, Value};

use crate::encode::{b64_decode, b64_encode, percent_encode, py_number, scalar_string};
use crate::model::{ModelError, Protocol, Ref, ServiceModel, ShapeType};
use crate::timestamp::{Timestamp, TsFormat};
use crate::validate::{ValidationError, apply_aliases, json_type, validate};

mod checksum;
pub(crate) mod customize;
mod endpoint;
mod json;
pub(crate) mod query;
mod rest;
mod xml;

/// An unsigned HTTP request, ready for SigV4 signing with `signing_name`/`signing_region`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub signing_name: String,
    pub signing_region: String,
}

/// Why a request could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildError {
    /// The service has no such operation.
    UnknownOperation(String),
    /// The parameters do not fit the input shape.
    Invalid(ValidationError),
    /// A feature this crate does not implement (event streams, endpoint discovery, ...).
    Unsupported(String),
    /// The region or endpoint URL is unusable, or the service has no static endpoint.
    Endpoint(String),
    /// The embedded model is inconsistent.
    Model(String),
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::UnknownOperation(op) => write!(f, "unknown operation {op}"),
            BuildError::Invalid(e) => write!(f, "invalid parameters: {e}"),
            BuildError::Unsupported(m) => write!(f, "not supported: {m}"),
            BuildError::Endpoint(m) => write!(f, "endpoint: {m}"),
            BuildError::Model(m) => write!(f, "model error: {m}"),
        }
    }
}

impl std::error::Error for BuildError {}

impl From<ModelError> for BuildError {
    fn from(e: ModelError) -> Self {
        BuildError::Model(e.0)
    }
}

impl From<ValidationError> for BuildError {
    fn from(e: ValidationError) -> Self {
        BuildError::Invalid(e)
    }
}

pub(crate) fn invalid(path: &str, message: impl Into<String>) -> BuildError {
    BuildError::Invalid(ValidationError {
        path: path.to_string(),
        message: message.into(),
    })
}

pub(crate) fn wrong_type(r: Ref<'_>, v: &Value, path: &str) -> BuildError {
    invalid(
        path,
        format!("expected {}, got {}", r.ty().describe(), json_type(v)),
    )
}

/// The serialized parts of a request before the endpoint is known.
#[derive(Debug, Default)]
pub(crate) struct Parts {
    pub method: String,
    /// The path, possibly with a literal query from the request URI (`/{Bucket}?list-type=2`
    /// renders to `/b?list-type=2`).
    pub path: String,
    pub query: Vec<(String, Vec<String>)>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub host_prefix: Option<String>,
}

/// Sets a header, replacing an earlier one with the same name (a Python dict).
pub(crate) fn set_header(headers: &mut Vec<(String, String)>, k: String, v: String) {
    match headers.iter_mut().find(|(ek, _)| *ek == k) {
        Some(slot) => slot.1 = v,
        None => headers.push((k, v)),
    }
}

pub(crate) fn set_query(query: &mut Vec<(String, Vec<String>)>, k: String, v: Vec<String>) {
    match query.iter_mut().find(|(ek, _)| *ek == k) {
        Some(slot) => slot.1 = v,
        None => query.push((k, v)),
    }
}

pub(crate) fn has_header(headers: &[(String, String)], name: &str) -> bool {
    headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name))
}

/// Builds the unsigned HTTP request for `operation` with `params` (validated first).
///
/// `endpoint`: `None` sends to the real AWS endpoint of `region` (the model's hostname
/// template or global endpoint; S3 virtual-hosted style when the bucket name allows it);
/// `Some(base_url)` sends to that base URL (an emulator), S3 in path style and without the
/// model's host prefixes.
pub fn build_request(
    model: &ServiceModel,
    operation: &str,
    params: &Map<String, Value>,
    region: &str,
    endpoint: Option<&str>,
) -> Result<HttpRequest, BuildError> {
    let op_view = model
        .operation(operation)
        .ok_or_else(|| BuildError::UnknownOperation(operation.to_string()))?;
    let op = op_view.def;
    if op_view.has_event_stream() {
        return Err(BuildError::Unsupported(format!(
            "{operation} uses an event stream"
        )));
    }
    validate(model, operation, params)?;
    if endpoint.is_none() && op.endpointdiscovery.as_ref().is_some_and(|d| d.required) {
        return Err(BuildError::Unsupported(format!(
            "{operation} requires endpoint discovery (call DescribeEndpoints and pass the \
             discovered endpoint)"
        )));
    }
    endpoint::check_region(region)?;
    let input = match op.input.as_deref() {
        Some(n) => Some(model.shape(n)?),
        None => None,
    };
    let params = apply_aliases(model, operation, params);
    let params = customize::prepare_params(model, operation, input, &params)?;

    let mut s3_bucket_host = None;
    if model.is_s3()
        && endpoint.is_none()
        && operation != "GetBucketLocation"
        && op.http.request_uri.starts_with("/{Bucket}")
        && let Some(Value::String(b)) = params.get("Bucket")
        && endpoint::virtual_hostable(b)
    {
        s3_bucket_host = Some(b.clone());
    }

    let mut parts = match model.protocol() {
        Protocol::Query | Protocol::Ec2 => query::serialize(model, operation, op, input, &params)?,
        Protocol::Json => json::serialize(model, operation, op, input, &params)?,
        Protocol::RestJson | Protocol::RestXml => {
            rest::serialize(model, op, input, &params, s3_bucket_host.is_some())?
        }
    };
    if input.is_some() {
        parts.host_prefix = endpoint::expand_host_prefix(op, input, &params)?;
    }
    if op.endpointoperation {
        // botocore's `inject_api_version_header_if_needed`.
        parts.headers.push((
            "x-amz-api-version".to_string(),
            model.api_version().to_string(),
        ));
    }
    if model.service_name() == "glacier" {
        parts.headers.push((
            "x-amz-glacier-version".to_string(),
            model.api_version().to_string(),
        ));
    }
    if model.service_name() == "apigateway" && !has_header(&parts.headers, "Accept") {
        parts
            .headers
            .push(("Accept".to_string(), "application/json".to_string()));
    }
    checksum::apply(op, input, &params, &mut parts)?;
    for (k, v) in &parts.headers {
        if v.chars()
            .any(|c| (c.is_control() && c != '\t') || c == '\u{7f}')
        {
            return Err(invalid(
                "params",
                format!("header {k}: value contains control characters"),
            ));
        }
    }

    let (host_base, signing_region) = match endpoint::resolve_host(model, op, region) {
        Ok(found) => found,
        // Given an endpoint URL, no static endpoint is needed (the region signs).
        Err(_) if endpoint.is_some() => (String::new(), region.to_string()),
        Err(e) => return Err(e),
    };
    let (scheme, authority, base_path) = match endpoint {
        Some(url) => endpoint::split_url(url)?,
        None => {
            let mut host = host_base.clone();
            if let Some(p) = &parts.host_prefix {
                host = format!("{p}{host}");
            }
            if let Some(b) = &s3_bucket_host {
                host = format!("{b}.{host}");
            }
            ("https".to_string(), host, String::new())
        }
    };
    let mut path = endpoint::join_path(&base_path, &parts.path);
    if !parts.query.is_empty() {
        let mut pairs = Vec::new();
        for (k, vs) in &parts.query {
            for v in vs {
                pairs.push(format!("{}={}", percent_encode(k), percent_encode(v)));
            }
        }
        if !pairs.is_empty() {
            path.push(if path.contains('?') { '&' } else { '?' });
            path.push_str(&pairs.join("&"));
        }
    }
    Ok(HttpRequest {
        method: parts.method,
        url: format!("{scheme}://{authority}{path}"),
        headers: parts.headers,
        body: parts.body,
        signing_name: model.signing_name().to_string(),
        signing_region,
    })
}

/// A scalar as text (query values, XML text): booleans lowercase, blobs base64, timestamps in
/// `format` unless the shape says otherwise, floats as Python prints them.
pub(crate) fn scalar_text(
    r: Ref<'_>,
    v: &Value,
    path: &str,
    default: TsFormat,
) -> Result<String, BuildError> {
    match r.ty() {
        ShapeType::Blob => match v {
            Value::String(s) => b64_decode(s)
                .map(|b| b64_encode(&b))
                .ok_or_else(|| invalid(path, "invalid base64")),
            _ => Err(wrong_type(r, v, path)),
        },
        ShapeType::Timestamp => {
            let ts = Timestamp::from_value(v).ok_or_else(|| invalid(path, "invalid timestamp"))?;
            Ok(ts.format(TsFormat::from_trait(r.timestamp_format(), default)))
        }
        ShapeType::Boolean => match v {
            Value::Bool(b) => Ok(if *b { "true" } else { "false" }.into()),
            _ => Err(wrong_type(r, v, path)),
        },
        ShapeType::Float | ShapeType::Double => match v {
            Value::Number(n) => Ok(py_number(n)),
            _ => Err(wrong_type(r, v, path)),
        },
        ShapeType::Structure | ShapeType::List | ShapeType::Map => Err(wrong_type(r, v, path)),
        _ => scalar_string(v).ok_or_else(|| wrong_type(r, v, path)),
    }
}

#[cfg(test)]
mod tests {
    use crate::encode::py_float;

    #[test]
    fn float_text() {
        assert_eq!(py_float(2.0), "2.0");
    }
}
