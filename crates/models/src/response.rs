//! Response parsing for the five protocols (botocore's `parsers.py`): output as JSON shaped
//! like the output shape (timestamps as ISO 8601 strings, blobs base64), errors as codes.

use std::collections::HashMap;
use std::fmt;

use percent_encoding::percent_decode_str;
use serde_json::{Map, Number, Value};

use crate::encode::{b64_decode, b64_encode};
use crate::model::{Location, Protocol, Ref, ServiceModel, Shape, ShapeType};
use crate::timestamp::Timestamp;
use crate::xml::{self, Node};

/// An error answered by AWS (or a response that could not be read: code `InvalidResponse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsError {
    pub code: String,
    pub message: String,
    pub status: u16,
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (HTTP {}): {}", self.code, self.status, self.message)
    }
}

impl std::error::Error for AwsError {}

/// Responses nested deeper than this are refused.
const MAX_DEPTH: usize = 100;

/// Case-insensitive response headers (the first spelling of each name is kept); repeated
/// headers are joined with `, `.
struct Headers(Vec<(String, String)>);

impl Headers {
    fn new(headers: &[(String, String)]) -> Headers {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in headers {
            match out.iter_mut().find(|(ek, _)| ek.eq_ignore_ascii_case(k)) {
                Some(slot) => {
                    slot.1.push_str(", ");
                    slot.1.push_str(v);
                }
                None => out.push((k.clone(), v.clone())),
            }
        }
        Headers(out)
    }
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        416 => "Requested Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

fn invalid_response(status: u16, message: impl Into<String>) -> AwsError {
    AwsError {
        code: "InvalidResponse".to_string(),
        message: message.into(),
        status,
    }
}

/// Reads the HTTP response of `operation` into JSON shaped like its output shape (as boto3
/// returns it, without `ResponseMetadata`), or the AWS error it carries (status >= 301, or an
/// S3 error document in a 200).
pub fn parse_response(
    model: &ServiceModel,
    operation: &str,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Value, AwsError> {
    let op = model.op_def(operation).ok_or_else(|| AwsError {
        code: "UnknownOperation".to_string(),
        message: format!("unknown operation {operation}"),
        status,
    })?;
    let headers = Headers::new(headers);
    if status >= 301 {
        return Err(parse_error(model, status, &headers, body));
    }
    let output = match op.output.as_deref() {
        Some(name) => Some(
            model
                .shape(name)
                .map_err(|e| invalid_response(status, format!("model error: {}", e.0)))?,
        ),
        None => None,
    };
    if model.is_s3() && status == 200 && output.is_some_and(|s| !has_raw_payload(model, s)) {
        let trimmed = body.trim_ascii();
        if !trimmed.is_empty() {
            match xml::parse(trimmed) {
                Ok(root) if root.name == "Error" => {
                    let mut e = parse_error(model, 500, &headers, body);
                    e.status = 500;
                    return Err(e);
                }
                Err(e) => return Err(invalid_response(status, format!("invalid XML: {e}"))),
                Ok(_) => {}
            }
        }
    }
    let Some(shape) = output else {
        return Ok(Value::Object(Map::new()));
    };
    if model.is_s3() && operation == "GetBucketLocation" {
        let root = xml::parse(body.trim_ascii())
            .map_err(|e| invalid_response(status, format!("invalid XML: {e}")))?;
        let mut out = Map::new();
        let loc = if root.text.is_empty() {
            Value::Null
        } else {
            Value::String(root.text)
        };
        out.insert("LocationConstraint".into(), loc);
        return Ok(Value::Object(out));
    }
    let out = match model.protocol() {
        Protocol::Json => {
            let v = parse_json_body(body).map_err(|e| invalid_response(status, e))?;
            json_struct(model, shape, &v, false, 0)
        }
        Protocol::Query | Protocol::Ec2 => {
            let trimmed = body.trim_ascii();
            if trimmed.is_empty() {
                Ok(Map::new())
            } else {
                let root = xml::parse(trimmed)
                    .map_err(|e| invalid_response(status, format!("invalid XML: {e}")))?;
                match op.result_wrapper.as_deref() {
                    Some(w) => match root.child(w) {
                        Some(start) => xml_struct(model, shape, start, 0),
                        None => Ok(Map::new()),
                    },
                    None => xml_struct(model, shape, &root, 0),
                }
            }
        }
        Protocol::RestJson | Protocol::RestXml => parse_rest(model, shape, status, &headers, body),
    };
    let mut out = out.map_err(|e| invalid_response(status, e))?;
    customize_output(model, operation, shape, &headers, &mut out);
    Ok(Value::Object(out))
}

/// The output conveniences boto3 applies (botocore's `after-call` handlers): IAM policy
/// documents decoded to JSON, EC2 console output decoded, CloudFormation JSON templates
/// parsed, S3's raw `Expires` header kept as `ExpiresString`.
fn customize_output(
    model: &ServiceModel,
    operation: &str,
    shape: &Shape,
    headers: &Headers,
    out: &mut Map<String, Value>,
) {
    match model.service_name() {
        "iam" => decode_policies(model, shape, out, 0),
        "ec2" if operation == "GetConsoleOutput" => {
            if let Some(Value::String(s)) = out.get("Output")
                && let Some(bytes) = b64_decode(s)
            {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                out.insert("Output".into(), Value::String(text));
            }
        }
        "cloudformation" if operation == "GetTemplate" => {
            if let Some(Value::String(s)) = out.get("TemplateBody")
                && let Ok(v) = serde_json::from_str::<Value>(s)
            {
                out.insert("TemplateBody".into(), v);
            }
        }
        "s3" => {
            let has_expires = shape.members.get("Expires").is_some_and(|m| {
                m.location == Some(Location::Header)
                    && m.location_name.as_deref() == Some("Expires")
            });
            if has_expires && let Some(raw) = headers.get("Expires") {
                // botocore's sdk-extras make `Expires` a timestamp (the generated data keeps
                // the model's string); the raw header goes to `ExpiresString`.
                out.insert("ExpiresString".into(), Value::String(raw.to_string()));
                match Timestamp::parse(raw) {
                    Some(t) => {
                        out.insert("Expires".into(), Value::String(t.python_iso()));
                    }
                    None => {
                        out.remove("Expires");
                    }
                }
            }
        }
        _ => {}
    }
}

/// IAM returns policy documents URL-encoded; boto3 decodes them into JSON.
fn decode_policies(model: &ServiceModel, shape: &Shape, v: &mut Map<String, Value>, depth: usize) {
    if depth > MAX_DEPTH {
        return;
    }
    for (name, mref) in &shape.members {
        let Some(value) = v.get_mut(name) else {
            continue;
        };
        let Ok(r) = model.resolve(mref) else {
            continue;
        };
        match (r.ty(), value) {
            (ShapeType::String, value) if mref.shape == "policyDocumentType" => {
                if let Value::String(s) = value {
                    let decoded = percent_decode_str(s).decode_utf8_lossy().into_owned();
                    if let Ok(doc) = serde_json::from_str::<Value>(&decoded) {
                        *value = doc;
                    }
                }
            }
            (ShapeType::Structure, Value::Object(m)) => {
                decode_policies(model, r.shape, m, depth + 1)
            }
            (ShapeType::List, Value::Array(items)) => {
                let Some(mr) = r.shape.member.as_ref().and_then(|m| model.resolve(m).ok()) else {
                    continue;
                };
                if mr.ty() == ShapeType::Structure {
                    for item in items {
                        if let Value::Object(m) = item {
                            decode_policies(model, mr.shape, m, depth + 1);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn has_raw_payload(model: &ServiceModel, shape: &Shape) -> bool {
    shape
        .payload
        .as_ref()
        .and_then(|p| shape.members.get(p))
        .and_then(|m| model.shapes.get(&m.shape))
        .is_some_and(|s| matches!(s.ty, ShapeType::Blob | ShapeType::String))
}

fn parse_json_body(body: &[u8]) -> Result<Value, String> {
    if body.trim_ascii().is_empty() {
        return Ok(Value::Object(Map::new()));
    }
    serde_json::from_slice(body).map_err(|e| format!("invalid JSON: {e}"))
}

// ---------------------------------------------------------------------------------------
// rest

fn parse_rest(
    model: &ServiceModel,
    shape: &Shape,
    status: u16,
    headers: &Headers,
    body: &[u8],
) -> Result<Map<String, Value>, String> {
    let xml = model.protocol() == Protocol::RestXml;
    let mut out = Map::new();
    for (name, mref) in &shape.members {
        let r = model.resolve(mref).map_err(|e| e.0)?;
        match r.location() {
            Some(Location::StatusCode) => {
                out.insert(name.clone(), Value::from(status));
            }
            Some(Location::Headers) => {
                let prefix = r.location_name().unwrap_or("");
                let mut m = Map::new();
                for (k, v) in &headers.0 {
                    if k.len() >= prefix.len()
                        && k.is_char_boundary(prefix.len())
                        && k[..prefix.len()].eq_ignore_ascii_case(prefix)
                    {
                        m.insert(k[prefix.len()..].to_string(), Value::String(v.clone()));
                    }
                }
                out.insert(name.clone(), Value::Object(m));
            }
            Some(Location::Header) => {
                let header = r.location_name().unwrap_or(name);
                if let Some(v) = headers.get(header) {
                    out.insert(name.clone(), header_value(model, r, v)?);
                }
            }
            _ => {}
        }
    }
    if let Some(payload) = shape.payload.as_deref() {
        let Some(mref) = shape.members.get(payload) else {
            return Err(format!("payload member {payload} is missing"));
        };
        let r = model.resolve(mref).map_err(|e| e.0)?;
        if r.shape.eventstream {
            return Ok(out);
        }
        let v = match r.ty() {
            ShapeType::Blob => Value::String(b64_encode(body)),
            ShapeType::String => Value::String(String::from_utf8_lossy(body).into_owned()),
            _ if xml => {
                let root = xml_root(body)?;
                xml_value(model, r, &[&root], 0)?
            }
            _ => json_value(model, r, &parse_json_body(body)?, 0),
        };
        out.insert(payload.to_string(), v);
    } else if xml {
        let root = xml_root(body)?;
        out.extend(xml_struct(model, shape, &root, 0)?);
    } else {
        let v = parse_json_body(body)?;
        out.extend(json_struct(model, shape, &v, true, 0)?);
    }
    Ok(out)
}

fn xml_root(body: &[u8]) -> Result<Node, String> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        Ok(Node::default())
    } else {
        xml::parse(trimmed).map_err(|e| format!("invalid XML: {e}"))
    }
}

fn header_value(model: &ServiceModel, r: Ref<'_>, v: &str) -> Result<Value, String> {
    Ok(match r.ty() {
        ShapeType::String if r.jsonvalue() => b64_decode(v)
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_else(|| Value::String(v.to_string())),
        ShapeType::Boolean => Value::Bool(v.trim().eq_ignore_ascii_case("true")),
        ShapeType::List => {
            let Some(mref) = r.shape.member.as_ref() else {
                return Err("list without member".into());
            };
            let mr = model.resolve(mref).map_err(|e| e.0)?;
            let items = v
                .split(',')
                .map(|s| header_value(model, mr, s.trim()))
                .collect::<Result<Vec<_>, _>>()?;
            Value::Array(items)
        }
        _ => text_value(r, v),
    })
}

/// A scalar from text (XML text, headers).
fn text_value(r: Ref<'_>, text: &str) -> Value {
    let fallback = || Value::String(text.to_string());
    match r.ty() {
        ShapeType::Integer | ShapeType::Long => text
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| fallback()),
        ShapeType::Float | ShapeType::Double => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(fallback),
        ShapeType::Boolean => Value::Bool(text.trim() == "true"),
        ShapeType::Timestamp => Timestamp::parse(text)
            .map(|t| Value::String(t.python_iso()))
            .unwrap_or_else(fallback),
        ShapeType::Blob => Value::String(text.trim().to_string()),
        _ => fallback(),
    }
}

// ---------------------------------------------------------------------------------------
// JSON bodies

fn json_struct(
    model: &ServiceModel,
    shape: &Shape,
    v: &Value,
    skip_located: bool,
    depth: usize,
) -> Result<Map<String, Value>, String> {
    let mut out = Map::new();
    let Value::Object(obj) = v else {
        return Ok(out);
    };
    for (name, mref) in &shape.members {
        if skip_located && mref.location.is_some() {
            continue;
        }
        let r = model.resolve(mref).map_err(|e| e.0)?;
        let key = r.location_name().unwrap_or(name);
        if let Some(raw) = obj.get(key)
            && !raw.is_null()
        {
            out.insert(name.clone(), json_value(model, r, raw, depth + 1));
        }
    }
    Ok(out)
}

/// Converts a JSON value by shape; values not matching the shape are kept as they are.
fn json_value(model: &ServiceModel, r: Ref<'_>, v: &Value, depth: usize) -> Value {
    if depth > MAX_DEPTH {
        return v.clone();
    }
    match (r.ty(), v) {
        (ShapeType::Structure, _) if r.shape.document => v.clone(),
        (ShapeType::Structure, Value::Object(_)) => json_struct(model, r.shape, v, false, depth)
            .map(Value::Object)
            .unwrap_or_else(|_| v.clone()),
        (ShapeType::List, Value::Array(items)) => {
            match r.shape.member.as_ref().and_then(|m| model.resolve(m).ok()) {
                Some(mr) => Value::Array(
                    items
                        .iter()
                        .map(|i| {
                            if i.is_null() {
                                Value::Null
                            } else {
                                json_value(model, mr, i, depth + 1)
                            }
                        })
                        .collect(),
                ),
                None => v.clone(),
            }
        }
        (ShapeType::Map, Value::Object(obj)) => {
            match r.shape.value.as_ref().and_then(|m| model.resolve(m).ok()) {
                Some(vr) => Value::Object(
                    obj.iter()
                        .map(|(k, i)| {
                            let val = if i.is_null() {
                                Value::Null
                            } else {
                                json_value(model, vr, i, depth + 1)
                            };
                            (k.clone(), val)
                        })
                        .collect(),
                ),
                None => v.clone(),
            }
        }
        (ShapeType::Timestamp, Value::Number(_) | Value::String(_)) => Timestamp::from_value(v)
            .map(|t| Value::String(t.python_iso()))
            .unwrap_or_else(|| v.clone()),
        _ => v.clone(),
    }
}

// ---------------------------------------------------------------------------------------
// XML bodies

/// The element name a member is read from (botocore's `_member_key_name`).
fn member_key<'a>(r: Ref<'a>, name: &'a str) -> &'a str {
    if r.ty() == ShapeType::List
        && r.flattened()
        && let Some(n) = r
            .shape
            .member
            .as_ref()
            .and_then(|m| m.location_name.as_deref())
    {
        return n;
    }
    r.location_name().unwrap_or(name)
}

fn xml_struct(
    model: &ServiceModel,
    shape: &Shape,
    node: &Node,
    depth: usize,
) -> Result<Map<String, Value>, String> {
    if depth > MAX_DEPTH {
        return Err("response nested too deeply".into());
    }
    let mut children: HashMap<&str, Vec<&Node>> = HashMap::new();
    for c in &node.children {
        children.entry(c.name.as_str()).or_default().push(c);
    }
    let mut out = Map::new();
    for (name, mref) in &shape.members {
        if mref.eventheader
            || matches!(
                mref.location,
                Some(Location::Header | Location::Headers | Location::StatusCode)
            )
        {
            continue;
        }
        let r = model.resolve(mref).map_err(|e| e.0)?;
        if let Some(nodes) = children.get(member_key(r, name)) {
            out.insert(name.clone(), xml_value(model, r, nodes, depth + 1)?);
        } else if r.xml_attribute() {
            let Some(attr) = r.location_name() else {
                continue;
            };
            let local = attr.rsplit(':').next().unwrap_or(attr);
            let found = node.attrs.iter().find(|(k, _)| k == attr).or_else(|| {
                node.attrs
                    .iter()
                    .find(|(k, _)| k.rsplit(':').next() == Some(local) && k != "xmlns")
            });
            if let Some((_, v)) = found {
                out.insert(name.clone(), Value::String(v.clone()));
            }
        }
    }
    Ok(out)
}

/// `nodes`: the elements named for the member (several only for flattened lists and maps).
fn xml_value(
    model: &ServiceModel,
    r: Ref<'_>,
    nodes: &[&Node],
    depth: usize,
) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err("response nested too deeply".into());
    }
    let Some(first) = nodes.first() else {
        return Ok(Value::Null);
    };
    Ok(match r.ty() {
        ShapeType::Structure => Value::Object(xml_struct(model, r.shape, first, depth)?),
        ShapeType::List => {
            let Some(mref) = r.shape.member.as_ref() else {
                return Err("list without member".into());
            };
            let mr = model.resolve(mref).map_err(|e| e.0)?;
            let items: Vec<&Node> = if r.flattened() {
                nodes.to_vec()
            } else {
                first.children.iter().collect()
            };
            Value::Array(
                items
                    .into_iter()
                    .map(|n| xml_value(model, mr, &[n], depth + 1))
                    .collect::<Result<_, _>>()?,
            )
        }
        ShapeType::Map => {
            let (Some(kref), Some(vref)) = (r.shape.key.as_ref(), r.shape.value.as_ref()) else {
                return Err("map without key/value".into());
            };
            let kr = model.resolve(kref).map_err(|e| e.0)?;
            let vr = model.resolve(vref).map_err(|e| e.0)?;
            let key_name = kr.location_name().unwrap_or("key");
            let val_name = vr.location_name().unwrap_or("value");
            let entries: Vec<&Node> = if r.flattened() {
                nodes.to_vec()
            } else {
                first.children.iter().collect()
            };
            let mut out = Map::new();
            for e in entries {
                let Some(k) = e.child(key_name) else {
                    continue;
                };
                let v = match e.child(val_name) {
                    Some(vn) => xml_value(model, vr, &[vn], depth + 1)?,
                    None => Value::Null,
                };
                out.insert(k.text.clone(), v);
            }
            Value::Object(out)
        }
        _ => text_value(r, &first.text),
    })
}

// ---------------------------------------------------------------------------------------
// errors

fn parse_error(model: &ServiceModel, status: u16, headers: &Headers, body: &[u8]) -> AwsError {
    let trimmed = body.trim_ascii();
    let generic = AwsError {
        code: status.to_string(),
        message: reason(status).to_string(),
        status,
    };
    if status >= 500 && (trimmed.is_empty() || trimmed.starts_with(b"<html>")) {
        return generic;
    }
    let (code, message) = match model.protocol() {
        Protocol::Json | Protocol::RestJson => json_error(model, status, headers, trimmed),
        Protocol::Query | Protocol::Ec2 | Protocol::RestXml => {
            if trimmed.is_empty() {
                return generic;
            }
            match xml::parse(trimmed) {
                Ok(root) => match root.find("Error") {
                    Some(e) => (
                        e.child("Code")
                            .map(|c| c.text.trim().to_string())
                            .unwrap_or_default(),
                        e.child("Message")
                            .map(|c| c.text.clone())
                            .unwrap_or_default(),
                    ),
                    None => (String::new(), String::new()),
                },
                Err(_) => return generic,
            }
        }
    };
    AwsError {
        code: if code.is_empty() {
            status.to_string()
        } else {
            code
        },
        message,
        status,
    }
}

fn clean_code(code: &str) -> String {
    let code = code.split(':').next().unwrap_or(code);
    code.rsplit('#').next().unwrap_or(code).trim().to_string()
}

fn json_error(
    model: &ServiceModel,
    status: u16,
    headers: &Headers,
    body: &[u8],
) -> (String, String) {
    let parsed: Value = if body.is_empty() {
        Value::Object(Map::new())
    } else {
        serde_json::from_slice(body).unwrap_or_else(|_| {
            let mut m = Map::new();
            m.insert(
                "message".into(),
                Value::String(String::from_utf8_lossy(body).into_owned()),
            );
            Value::Object(m)
        })
    };
    let field = |k: &str| parsed.get(k).and_then(Value::as_str);
    let message = field("message")
        .or_else(|| field("Message"))
        .or_else(|| field("errorMessage"))
        .unwrap_or("")
        .to_string();
    let header_type = headers.get("x-amzn-errortype");
    let mut code = if model.protocol() == Protocol::RestJson {
        header_type
            .or_else(|| field("code"))
            .or_else(|| field("Code"))
            .or_else(|| field("__type"))
    } else {
        field("__type").or(header_type)
    }
    .map(clean_code)
    .unwrap_or_else(|| status.to_string());
    // awsQueryCompatible services send the query-era code as `Code;Sender`.
    if let Some(q) = headers.get("x-amzn-query-error")
        && let Some((qcode, _)) = q.split_once(';')
        && !qcode.is_empty()
    {
        code = qcode.to_string();
    }
    (code, message)
}
