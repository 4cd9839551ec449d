//! Request serialization for the five protocols (botocore's `serialize.py`), endpoint
//! resolution and request checksums.

use std::fmt;

use serde_json::{Map, Value};

use crate::encode::{
    b64_decode, b64_encode, crc32, crc32c, form_urlencode, json_ascii, percent_encode,
    percent_encode_greedy, py_number, scalar_string, uuid4,
};
use crate::model::{
    Location, ModelError, OperationDef, Protocol, Ref, ServiceModel, Shape, ShapeType, XmlNamespace,
};
use crate::timestamp::{Timestamp, TsFormat};
use crate::validate::{ValidationError, apply_aliases, json_type, validate};
use crate::xml::El;

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

fn invalid(path: &str, message: impl Into<String>) -> BuildError {
    BuildError::Invalid(ValidationError {
        path: path.to_string(),
        message: message.into(),
    })
}

fn wrong_type(r: Ref<'_>, v: &Value, path: &str) -> BuildError {
    invalid(
        path,
        format!("expected {}, got {}", r.ty().describe(), json_type(v)),
    )
}

/// The serialized parts of a request before the endpoint is known.
#[derive(Debug, Default)]
struct Parts {
    method: String,
    /// The path, possibly with a literal query from the request URI (`/{Bucket}?list-type=2`
    /// renders to `/b?list-type=2`).
    path: String,
    query: Vec<(String, Vec<String>)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    host_prefix: Option<String>,
}

/// Sets a header, replacing an earlier one with the same name (a Python dict).
fn set_header(headers: &mut Vec<(String, String)>, k: String, v: String) {
    match headers.iter_mut().find(|(ek, _)| *ek == k) {
        Some(slot) => slot.1 = v,
        None => headers.push((k, v)),
    }
}

fn set_query(query: &mut Vec<(String, Vec<String>)>, k: String, v: Vec<String>) {
    match query.iter_mut().find(|(ek, _)| *ek == k) {
        Some(slot) => slot.1 = v,
        None => query.push((k, v)),
    }
}

fn has_header(headers: &[(String, String)], name: &str) -> bool {
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
    check_region(region)?;
    let input = match op.input.as_deref() {
        Some(n) => Some(model.shape(n)?),
        None => None,
    };
    let params = apply_aliases(model, operation, params);
    let params = prepare_params(model, operation, input, &params)?;

    let mut s3_bucket_host = None;
    if model.is_s3()
        && endpoint.is_none()
        && operation != "GetBucketLocation"
        && op.http.request_uri.starts_with("/{Bucket}")
        && let Some(Value::String(b)) = params.get("Bucket")
        && virtual_hostable(b)
    {
        s3_bucket_host = Some(b.clone());
    }

    let mut parts = match model.protocol() {
        Protocol::Query | Protocol::Ec2 => serialize_query(model, operation, op, input, &params)?,
        Protocol::Json => serialize_json(model, operation, op, input, &params)?,
        Protocol::RestJson | Protocol::RestXml => {
            serialize_rest(model, op, input, &params, s3_bucket_host.is_some())?
        }
    };
    if input.is_some() {
        parts.host_prefix = expand_host_prefix(op, input, &params)?;
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
    apply_checksum(op, input, &params, &mut parts)?;
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

    let (host_base, signing_region) = resolve_host(model, op, region)?;
    let (scheme, authority, base_path) = match endpoint {
        Some(url) => split_url(url)?,
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
    let mut path = join_path(&base_path, &parts.path);
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

fn check_region(region: &str) -> Result<(), BuildError> {
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
fn virtual_hostable(b: &str) -> bool {
    let bytes = b.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && bytes.first().is_some_and(|c| c.is_ascii_alphanumeric())
        && bytes.last().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// The host of the real endpoint and the signing region.
fn resolve_host(
    model: &ServiceModel,
    op: &OperationDef,
    region: &str,
) -> Result<(String, String), BuildError> {
    let meta = &model.metadata;
    if let Some(template) = &op.hostname {
        let host = op
            .hostname_exceptions
            .get(region)
            .cloned()
            .unwrap_or_else(|| template.replace("{region}", region));
        let signing = op
            .signing_region
            .clone()
            .unwrap_or_else(|| region.to_string());
        return Ok((host, signing));
    }
    if let Some(g) = &meta.global_endpoint {
        return Ok((g.hostname.clone(), g.region.clone()));
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
        .unwrap_or_else(|| template.replace("{region}", region));
    Ok((host, region.to_string()))
}

/// Splits `scheme://authority/path` (query and fragment dropped).
fn split_url(url: &str) -> Result<(String, String, String), BuildError> {
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
fn join_path(base: &str, path: &str) -> String {
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

/// Parameter customizations botocore applies before serializing: idempotency tokens, S3's
/// `CopySource` quoting, Route 53 id prefixes, `UserData` base64 (EC2 RunInstances,
/// Auto Scaling CreateLaunchConfiguration); refuses
/// SSE-C keys without their MD5.
fn prepare_params(
    model: &ServiceModel,
    operation: &str,
    input: Option<&Shape>,
    params: &Map<String, Value>,
) -> Result<Map<String, Value>, BuildError> {
    let mut params: Map<String, Value> = params
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let Some(input) = input else {
        return Ok(params);
    };
    for (name, m) in &input.members {
        if m.idempotency_token && !params.contains_key(name) {
            params.insert(name.clone(), Value::String(uuid4()));
        }
    }
    if model.is_s3() {
        for prefix in ["SSECustomer", "CopySourceSSECustomer"] {
            if params.contains_key(&format!("{prefix}Key"))
                && !params.contains_key(&format!("{prefix}KeyMD5"))
            {
                return Err(BuildError::Unsupported(format!(
                    "{prefix}Key without {prefix}KeyMD5 (give the key base64-encoded and its \
                     base64 MD5 digest)"
                )));
            }
        }
        // botocore's sdk-extras make S3's `Expires` a timestamp (an HTTP date header); the
        // generated model keeps it a string, so convert what parses.
        if input
            .members
            .get("Expires")
            .is_some_and(|m| m.location == Some(Location::Header))
            && let Some(Value::String(e)) = params.get("Expires")
            && let Some(t) = Timestamp::parse(e)
        {
            params.insert("Expires".into(), Value::String(t.truncated().rfc822()));
        }
        if let Some(Value::String(src)) = params.get("CopySource") {
            let quoted = quote_copy_source(src);
            params.insert("CopySource".into(), Value::String(quoted));
        }
    }
    if matches!(
        (model.service_name(), operation),
        ("ec2", "RunInstances") | ("autoscaling", "CreateLaunchConfiguration")
    ) && let Some(Value::String(u)) = params.get("UserData")
    {
        // botocore base64-encodes this UserData (given as the script itself).
        let encoded = b64_encode(u.as_bytes());
        params.insert("UserData".into(), Value::String(encoded));
    }
    if model.service_name() == "route53" {
        for (name, m) in &input.members {
            if matches!(
                m.shape.as_str(),
                "ResourceId" | "DelegationSetId" | "ChangeId"
            ) && let Some(Value::String(s)) = params.get(name)
            {
                let last = s.rsplit('/').next().unwrap_or(s).to_string();
                params.insert(name.clone(), Value::String(last));
            }
        }
    }
    Ok(params)
}

/// botocore's `_quote_source_header`: percent-encode `bucket/key`, keeping `/` and a trailing
/// `?versionId=...` as is.
fn quote_copy_source(src: &str) -> String {
    if let Some(i) = src.rfind("?versionId=") {
        let version = &src[i..];
        if version.len() > "?versionId=".len() && !version.chars().any(char::is_whitespace) {
            return format!("{}{}", percent_encode_greedy(&src[..i]), version);
        }
    }
    percent_encode_greedy(src)
}

fn expand_host_prefix(
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

fn apply_checksum(
    op: &OperationDef,
    input: Option<&Shape>,
    params: &Map<String, Value>,
    parts: &mut Parts,
) -> Result<(), BuildError> {
    if parts
        .headers
        .iter()
        .any(|(k, _)| k.to_ascii_lowercase().starts_with("x-amz-checksum-"))
    {
        return Ok(());
    }
    let hc = op.http_checksum.clone().unwrap_or_default();
    let required = op.http_checksum_required || hc.request_checksum_required;
    let member = hc.request_algorithm_member.as_deref();
    let algorithm = match member.and_then(|m| params.get(m)) {
        Some(Value::String(a)) => a.to_ascii_lowercase(),
        _ if required || member.is_some() => {
            if let Some(header) = member
                .and_then(|m| input.and_then(|s| s.members.get(m)))
                .and_then(|r| r.location_name.clone())
                && !has_header(&parts.headers, &header)
            {
                parts.headers.push((header, "CRC32".to_string()));
            }
            "crc32".to_string()
        }
        _ => return Ok(()),
    };
    let digest = match algorithm.as_str() {
        "crc32" => crc32(&parts.body),
        "crc32c" => crc32c(&parts.body),
        other => {
            return Err(BuildError::Unsupported(format!(
                "checksum algorithm {} (use CRC32 or CRC32C, or compute the checksum yourself \
                 and pass it in its Checksum... member)",
                other.to_ascii_uppercase()
            )));
        }
    };
    parts.headers.push((
        format!("x-amz-checksum-{algorithm}"),
        b64_encode(&digest.to_be_bytes()),
    ));
    Ok(())
}

// ---------------------------------------------------------------------------------------
// query and ec2

fn serialize_query(
    model: &ServiceModel,
    operation: &str,
    op: &OperationDef,
    input: Option<&Shape>,
    params: &Map<String, Value>,
) -> Result<Parts, BuildError> {
    let ec2 = model.protocol() == Protocol::Ec2;
    let mut pairs = vec![
        ("Action".to_string(), operation.to_string()),
        ("Version".to_string(), model.api_version().to_string()),
    ];
    if let Some(shape) = input {
        query_struct(model, shape, params, "", ec2, &mut pairs, "params")?;
    }
    Ok(Parts {
        method: op.http.method.clone(),
        path: "/".to_string(),
        headers: vec![(
            "Content-Type".to_string(),
            "application/x-www-form-urlencoded; charset=utf-8".to_string(),
        )],
        body: form_urlencode(&pairs).into_bytes(),
        ..Parts::default()
    })
}

/// botocore's `_get_serialized_name` (ec2 capitalizes locationNames and prefers queryName).
fn query_name(r: Ref<'_>, default: &str, ec2: bool) -> String {
    if ec2 {
        if let Some(q) = r.query_name() {
            return q.to_string();
        }
        if let Some(n) = r.location_name() {
            let mut c = n.chars();
            return match c.next() {
                Some(f) => f.to_uppercase().chain(c).collect(),
                None => String::new(),
            };
        }
        default.to_string()
    } else {
        r.location_name().unwrap_or(default).to_string()
    }
}

fn query_struct(
    model: &ServiceModel,
    shape: &Shape,
    obj: &Map<String, Value>,
    prefix: &str,
    ec2: bool,
    out: &mut Vec<(String, String)>,
    path: &str,
) -> Result<(), BuildError> {
    for (key, value) in obj {
        if value.is_null() {
            continue;
        }
        let mref = shape
            .members
            .get(key)
            .ok_or_else(|| invalid(&format!("{path}.{key}"), "unknown parameter"))?;
        let r = model.resolve(mref)?;
        let name = query_name(r, key, ec2);
        let p = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}.{name}")
        };
        query_value(model, r, value, &p, ec2, out, &format!("{path}.{key}"))?;
    }
    Ok(())
}

fn query_value(
    model: &ServiceModel,
    r: Ref<'_>,
    v: &Value,
    prefix: &str,
    ec2: bool,
    out: &mut Vec<(String, String)>,
    path: &str,
) -> Result<(), BuildError> {
    match r.ty() {
        ShapeType::Structure => {
            let Value::Object(obj) = v else {
                return Err(wrong_type(r, v, path));
            };
            query_struct(model, r.shape, obj, prefix, ec2, out, path)
        }
        ShapeType::List => {
            let Value::Array(items) = v else {
                return Err(wrong_type(r, v, path));
            };
            let mref = r
                .shape
                .member
                .as_ref()
                .ok_or_else(|| BuildError::Model("list without member".into()))?;
            let mr = model.resolve(mref)?;
            let list_prefix = if ec2 {
                prefix.to_string()
            } else {
                if items.is_empty() {
                    out.push((prefix.to_string(), String::new()));
                    return Ok(());
                }
                if r.flattened() {
                    match mr.location_name().filter(|n| !n.is_empty()) {
                        Some(name) => match prefix.rsplit_once('.') {
                            Some((head, _)) => format!("{head}.{name}"),
                            None => name.to_string(),
                        },
                        None => prefix.to_string(),
                    }
                } else {
                    format!("{prefix}.{}", mr.location_name().unwrap_or("member"))
                }
            };
            for (i, item) in items.iter().enumerate() {
                query_value(
                    model,
                    mr,
                    item,
                    &format!("{list_prefix}.{}", i + 1),
                    ec2,
                    out,
                    &format!("{path}[{i}]"),
                )?;
            }
            Ok(())
        }
        ShapeType::Map => {
            let Value::Object(obj) = v else {
                return Err(wrong_type(r, v, path));
            };
            let (Some(kref), Some(vref)) = (r.shape.key.as_ref(), r.shape.value.as_ref()) else {
                return Err(BuildError::Model("map without key/value".into()));
            };
            let kr = model.resolve(kref)?;
            let vr = model.resolve(vref)?;
            let full = if r.flattened() {
                prefix.to_string()
            } else {
                format!("{prefix}.entry")
            };
            let ks = query_name(kr, "key", ec2);
            let vs = query_name(vr, "value", ec2);
            for (i, (k, item)) in obj.iter().enumerate() {
                let n = i + 1;
                out.push((format!("{full}.{n}.{ks}"), k.clone()));
                query_value(
                    model,
                    vr,
                    item,
                    &format!("{full}.{n}.{vs}"),
                    ec2,
                    out,
                    &format!("{path}.{k}"),
                )?;
            }
            Ok(())
        }
        _ => {
            let s = scalar_text(r, v, path, TsFormat::Iso8601)?;
            out.push((prefix.to_string(), s));
            Ok(())
        }
    }
}

/// A scalar as text (query values, XML text): booleans lowercase, blobs base64, timestamps in
/// `format` unless the shape says otherwise, floats as Python prints them.
fn scalar_text(r: Ref<'_>, v: &Value, path: &str, default: TsFormat) -> Result<String, BuildError> {
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

// ---------------------------------------------------------------------------------------
// json

fn serialize_json(
    model: &ServiceModel,
    operation: &str,
    op: &OperationDef,
    input: Option<&Shape>,
    params: &Map<String, Value>,
) -> Result<Parts, BuildError> {
    let meta = &model.metadata;
    let target = meta
        .target_prefix
        .as_deref()
        .ok_or_else(|| BuildError::Model("json service without targetPrefix".into()))?;
    let mut headers = vec![
        ("X-Amz-Target".to_string(), format!("{target}.{operation}")),
        (
            "Content-Type".to_string(),
            format!(
                "application/x-amz-json-{}",
                meta.json_version.as_deref().unwrap_or("1.0")
            ),
        ),
    ];
    if meta.aws_query_compatible {
        headers.push(("x-amzn-query-mode".to_string(), "true".to_string()));
    }
    let body = match input {
        Some(shape) => Value::Object(json_struct(model, shape, params, "params")?),
        None => Value::Object(Map::new()),
    };
    Ok(Parts {
        method: op.http.method.clone(),
        path: op.http.request_uri.clone(),
        headers,
        body: serde_json::to_vec(&body).map_err(|e| BuildError::Model(e.to_string()))?,
        ..Parts::default()
    })
}

fn json_struct(
    model: &ServiceModel,
    shape: &Shape,
    obj: &Map<String, Value>,
    path: &str,
) -> Result<Map<String, Value>, BuildError> {
    let mut out = Map::new();
    for (key, value) in obj {
        if value.is_null() {
            continue;
        }
        let mref = shape
            .members
            .get(key)
            .ok_or_else(|| invalid(&format!("{path}.{key}"), "unknown parameter"))?;
        let r = model.resolve(mref)?;
        let name = r.location_name().unwrap_or(key).to_string();
        out.insert(name, json_value(model, r, value, &format!("{path}.{key}"))?);
    }
    Ok(out)
}

fn json_value(
    model: &ServiceModel,
    r: Ref<'_>,
    v: &Value,
    path: &str,
) -> Result<Value, BuildError> {
    match r.ty() {
        ShapeType::Structure if r.shape.document => Ok(v.clone()),
        ShapeType::Structure => match v {
            Value::Object(obj) => Ok(Value::Object(json_struct(model, r.shape, obj, path)?)),
            _ => Err(wrong_type(r, v, path)),
        },
        ShapeType::List => {
            let Value::Array(items) = v else {
                return Err(wrong_type(r, v, path));
            };
            let mref = r
                .shape
                .member
                .as_ref()
                .ok_or_else(|| BuildError::Model("list without member".into()))?;
            let mr = model.resolve(mref)?;
            items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    if item.is_null() {
                        Ok(Value::Null)
                    } else {
                        json_value(model, mr, item, &format!("{path}[{i}]"))
                    }
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        ShapeType::Map => {
            let Value::Object(obj) = v else {
                return Err(wrong_type(r, v, path));
            };
            let vref = r
                .shape
                .value
                .as_ref()
                .ok_or_else(|| BuildError::Model("map without value".into()))?;
            let vr = model.resolve(vref)?;
            let mut out = Map::new();
            for (k, item) in obj {
                let val = if item.is_null() {
                    Value::Null
                } else {
                    json_value(model, vr, item, &format!("{path}.{k}"))?
                };
                out.insert(k.clone(), val);
            }
            Ok(Value::Object(out))
        }
        ShapeType::Timestamp => {
            let ts = Timestamp::from_value(v).ok_or_else(|| invalid(path, "invalid timestamp"))?;
            Ok(
                match TsFormat::from_trait(r.timestamp_format(), TsFormat::UnixTimestamp) {
                    TsFormat::UnixTimestamp => ts.unix_value(),
                    f => Value::String(ts.format(f)),
                },
            )
        }
        ShapeType::Blob => Ok(Value::String(scalar_text(
            r,
            v,
            path,
            TsFormat::UnixTimestamp,
        )?)),
        _ => Ok(v.clone()),
    }
}

// ---------------------------------------------------------------------------------------
// rest-json and rest-xml

fn serialize_rest(
    model: &ServiceModel,
    op: &OperationDef,
    input: Option<&Shape>,
    params: &Map<String, Value>,
    strip_bucket: bool,
) -> Result<Parts, BuildError> {
    let xml = model.protocol() == Protocol::RestXml;
    let mut template = op.http.request_uri.as_str();
    if strip_bucket {
        template = template.strip_prefix("/{Bucket}").unwrap_or(template);
    }
    let mut parts = Parts {
        method: op.http.method.clone(),
        ..Parts::default()
    };
    let Some(shape) = input else {
        parts.path = template.to_string();
        return Ok(parts);
    };
    let mut labels: Vec<(String, String)> = Vec::new();
    let mut body_params = Map::new();
    for (name, value) in params {
        if value.is_null() {
            continue;
        }
        let path = format!("params.{name}");
        let mref = shape
            .members
            .get(name)
            .ok_or_else(|| invalid(&path, "unknown parameter"))?;
        let r = model.resolve(mref)?;
        let key = r.location_name().unwrap_or(name).to_string();
        match r.location() {
            Some(Location::Uri) => labels.push((key, uri_value(r, value, &path)?)),
            Some(Location::QueryString) => match (r.ty(), value) {
                (ShapeType::Map, Value::Object(m)) => {
                    for (k, v) in m {
                        let vals = match v {
                            Value::Array(a) => a.iter().filter_map(scalar_string).collect(),
                            other => scalar_string(other).into_iter().collect(),
                        };
                        set_query(&mut parts.query, k.clone(), vals);
                    }
                }
                (ShapeType::List, Value::Array(items)) => {
                    let mref = r
                        .shape
                        .member
                        .as_ref()
                        .ok_or_else(|| BuildError::Model("list without member".into()))?;
                    let mr = model.resolve(mref)?;
                    let vals = items
                        .iter()
                        .enumerate()
                        .map(|(i, item)| uri_value(mr, item, &format!("{path}[{i}]")))
                        .collect::<Result<Vec<_>, _>>()?;
                    set_query(&mut parts.query, key, vals);
                }
                _ => {
                    let v = uri_value(r, value, &path)?;
                    set_query(&mut parts.query, key, vec![v]);
                }
            },
            Some(Location::Header) => {
                if r.ty() == ShapeType::List && value.as_array().is_some_and(Vec::is_empty) {
                    continue;
                }
                if key.eq_ignore_ascii_case("Content-Length") {
                    // The HTTP client sets it from the body.
                    continue;
                }
                let v = header_value(model, r, value, &path)?;
                set_header(&mut parts.headers, key, v);
            }
            Some(Location::Headers) => {
                let Value::Object(m) = value else {
                    return Err(wrong_type(r, value, &path));
                };
                for (k, v) in m {
                    if let Some(s) = scalar_string(v) {
                        set_header(&mut parts.headers, format!("{key}{k}"), s);
                    }
                }
            }
            _ => {
                body_params.insert(name.clone(), value.clone());
            }
        }
    }
    parts.path = render_uri(template, &labels)?;

    let mut streaming_payload = false;
    if let Some(payload) = shape.payload.as_deref() {
        let mref = shape
            .members
            .get(payload)
            .ok_or_else(|| BuildError::Model(format!("payload member {payload} is missing")))?;
        let r = model.resolve(mref)?;
        let path = format!("params.{payload}");
        match r.ty() {
            ShapeType::Blob | ShapeType::String => {
                streaming_payload = true;
                parts.body = match params.get(payload) {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::String(s)) if r.ty() == ShapeType::String => s.clone().into_bytes(),
                    Some(Value::String(s)) => {
                        b64_decode(s).ok_or_else(|| invalid(&path, "invalid base64"))?
                    }
                    Some(other) => return Err(wrong_type(r, other, &path)),
                };
            }
            _ => match params.get(payload) {
                Some(v) if !v.is_null() => {
                    parts.body = if xml {
                        let name = r.location_name().unwrap_or(payload);
                        xml_document(model, r, r.xml_namespace(), v, name, &path)?
                    } else {
                        serde_json::to_vec(&json_value(model, r, v, &path)?)
                            .map_err(|e| BuildError::Model(e.to_string()))?
                    };
                }
                _ => {
                    if !xml {
                        parts.body = b"{}".to_vec();
                    }
                }
            },
        }
    } else if !body_params.is_empty() {
        parts.body = if xml {
            let name = op
                .input_location_name
                .as_deref()
                .or(op.input.as_deref())
                .unwrap_or("Request");
            let root = Ref { r: None, shape };
            let ns = op
                .input_xml_namespace
                .as_ref()
                .or(shape.xml_namespace.as_ref());
            xml_document(model, root, ns, &Value::Object(body_params), name, "params")?
        } else {
            serde_json::to_vec(&Value::Object(json_struct(
                model,
                shape,
                &body_params,
                "params",
            )?))
            .map_err(|e| BuildError::Model(e.to_string()))?
        };
    } else if !xml && shape.members.values().any(|m| m.location.is_none()) {
        parts.body = b"{}".to_vec();
    }
    if !xml
        && !streaming_payload
        && !parts.body.is_empty()
        && !has_header(&parts.headers, "Content-Type")
    {
        parts
            .headers
            .push(("Content-Type".to_string(), "application/json".to_string()));
    }
    Ok(parts)
}

/// A URI label or query string value (botocore's `_get_uri_and_query_string_value`).
fn uri_value(r: Ref<'_>, v: &Value, path: &str) -> Result<String, BuildError> {
    match r.ty() {
        ShapeType::Timestamp => scalar_text(r, v, path, TsFormat::Iso8601),
        ShapeType::Structure | ShapeType::List | ShapeType::Map => Err(wrong_type(r, v, path)),
        _ => scalar_text(r, v, path, TsFormat::Iso8601),
    }
}

/// botocore's `_convert_header_value`.
fn header_value(
    model: &ServiceModel,
    r: Ref<'_>,
    v: &Value,
    path: &str,
) -> Result<String, BuildError> {
    if r.is_json_value_header() {
        return Ok(b64_encode(json_ascii(v).as_bytes()));
    }
    match r.ty() {
        ShapeType::Timestamp => {
            let ts = Timestamp::from_value(v).ok_or_else(|| invalid(path, "invalid timestamp"))?;
            Ok(ts
                .truncated()
                .format(TsFormat::from_trait(r.timestamp_format(), TsFormat::Rfc822)))
        }
        ShapeType::List => {
            let Value::Array(items) = v else {
                return Err(wrong_type(r, v, path));
            };
            let mref = r
                .shape
                .member
                .as_ref()
                .ok_or_else(|| BuildError::Model("list without member".into()))?;
            let mr = model.resolve(mref)?;
            let mut out = Vec::new();
            for (i, item) in items.iter().enumerate() {
                if item.is_null() {
                    continue;
                }
                let p = format!("{path}[{i}]");
                if mr.ty() == ShapeType::String {
                    let Value::String(s) = item else {
                        return Err(wrong_type(mr, item, &p));
                    };
                    if s.contains('"') || s.contains(',') {
                        out.push(format!("\"{}\"", s.replace('"', "\\\"")));
                    } else {
                        out.push(s.clone());
                    }
                } else {
                    out.push(header_value(model, mr, item, &p)?);
                }
            }
            Ok(out.join(","))
        }
        ShapeType::Structure | ShapeType::Map => Err(wrong_type(r, v, path)),
        _ => scalar_text(r, v, path, TsFormat::Rfc822),
    }
}

/// Renders `/{Bucket}/{Key+}`: labels percent-encoded, greedy labels keeping `/`.
fn render_uri(template: &str, labels: &[(String, String)]) -> Result<String, BuildError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let label = &after[..end];
        let (name, greedy) = match label.strip_suffix('+') {
            Some(n) => (n, true),
            None => (label, false),
        };
        let value = labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| invalid(&format!("params.{name}"), "missing required parameter"))?;
        if greedy {
            out.push_str(&percent_encode_greedy(value));
        } else {
            out.push_str(&percent_encode(value));
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// XML bodies

fn xml_document(
    model: &ServiceModel,
    r: Ref<'_>,
    ns: Option<&XmlNamespace>,
    v: &Value,
    name: &str,
    path: &str,
) -> Result<Vec<u8>, BuildError> {
    let mut pseudo = El::new("");
    if r.ty() == ShapeType::Structure && !r.shape.document {
        let Value::Object(obj) = v else {
            return Err(wrong_type(r, v, path));
        };
        xml_struct(model, r.shape, ns, obj, name, &mut pseudo, path)?;
    } else {
        xml_value(model, r, v, name, &mut pseudo, path)?;
    }
    let mut out = String::new();
    for c in &pseudo.children {
        c.write(&mut out);
    }
    Ok(out.into_bytes())
}

fn add_ns(el: &mut El, ns: Option<&XmlNamespace>) {
    if let Some(ns) = ns {
        let (k, v) = ns.attribute();
        el.set_attr(k, v);
    }
}

fn xml_struct(
    model: &ServiceModel,
    shape: &Shape,
    ns: Option<&XmlNamespace>,
    obj: &Map<String, Value>,
    name: &str,
    parent: &mut El,
    path: &str,
) -> Result<(), BuildError> {
    let mut node = El::new(name);
    add_ns(&mut node, ns);
    for (key, value) in obj {
        if value.is_null() {
            continue;
        }
        let p = format!("{path}.{key}");
        let mref = shape
            .members
            .get(key)
            .ok_or_else(|| invalid(&p, "unknown parameter"))?;
        let r = model.resolve(mref)?;
        let member_name = r.location_name().unwrap_or(key);
        if r.xml_attribute() {
            let text = scalar_string(value).ok_or_else(|| wrong_type(r, value, &p))?;
            node.set_attr(member_name.to_string(), text);
            continue;
        }
        xml_value(model, r, value, member_name, &mut node, &p)?;
    }
    parent.children.push(node);
    Ok(())
}

fn xml_value(
    model: &ServiceModel,
    r: Ref<'_>,
    v: &Value,
    name: &str,
    parent: &mut El,
    path: &str,
) -> Result<(), BuildError> {
    match r.ty() {
        ShapeType::Structure if r.shape.document => Err(BuildError::Unsupported(format!(
            "{path}: document values in XML bodies"
        ))),
        ShapeType::Structure => {
            let Value::Object(obj) = v else {
                return Err(wrong_type(r, v, path));
            };
            xml_struct(model, r.shape, r.xml_namespace(), obj, name, parent, path)
        }
        ShapeType::List => {
            let Value::Array(items) = v else {
                return Err(wrong_type(r, v, path));
            };
            let mref = r
                .shape
                .member
                .as_ref()
                .ok_or_else(|| BuildError::Model("list without member".into()))?;
            let mr = model.resolve(mref)?;
            if r.flattened() {
                add_ns(parent, r.xml_namespace());
                for (i, item) in items.iter().enumerate() {
                    xml_value(model, mr, item, name, parent, &format!("{path}[{i}]"))?;
                }
            } else {
                let mut list = El::new(name);
                add_ns(&mut list, r.xml_namespace());
                let element = mr.location_name().unwrap_or("member");
                for (i, item) in items.iter().enumerate() {
                    xml_value(model, mr, item, element, &mut list, &format!("{path}[{i}]"))?;
                }
                parent.children.push(list);
            }
            Ok(())
        }
        ShapeType::Map => {
            let Value::Object(obj) = v else {
                return Err(wrong_type(r, v, path));
            };
            let (Some(kref), Some(vref)) = (r.shape.key.as_ref(), r.shape.value.as_ref()) else {
                return Err(BuildError::Model("map without key/value".into()));
            };
            let kr = model.resolve(kref)?;
            let vr = model.resolve(vref)?;
            let key_name = kr.location_name().unwrap_or("key");
            let val_name = vr.location_name().unwrap_or("value");
            let flattened = r.flattened();
            let mut node = El::new(name);
            add_ns(&mut node, r.xml_namespace());
            for (k, item) in obj {
                let p = format!("{path}.{k}");
                let mut entry = El::new(if flattened { name } else { "entry" });
                xml_value(
                    model,
                    kr,
                    &Value::String(k.clone()),
                    key_name,
                    &mut entry,
                    &p,
                )?;
                xml_value(model, vr, item, val_name, &mut entry, &p)?;
                if flattened {
                    parent.children.push(entry);
                } else {
                    node.children.push(entry);
                }
            }
            if !flattened {
                parent.children.push(node);
            }
            Ok(())
        }
        _ => {
            let mut node = El::new(name);
            node.text = scalar_text(r, v, path, TsFormat::Iso8601)?;
            add_ns(&mut node, r.xml_namespace());
            parent.children.push(node);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::py_float;

    #[test]
    fn joins_paths_like_botocore() {
        assert_eq!(join_path("", "/"), "/");
        assert_eq!(join_path("", ""), "/");
        assert_eq!(join_path("/base/", "/x"), "/base/x");
        assert_eq!(join_path("/base", "/x"), "/base/x");
        assert_eq!(join_path("", "?list-type=2"), "/?list-type=2");
    }

    #[test]
    fn quotes_copy_source() {
        assert_eq!(quote_copy_source("b/a b/c+d"), "b/a%20b/c%2Bd");
        assert_eq!(
            quote_copy_source("b/k y?versionId=abc+1"),
            "b/k%20y?versionId=abc+1"
        );
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

    #[test]
    fn float_text() {
        assert_eq!(py_float(2.0), "2.0");
    }
}
