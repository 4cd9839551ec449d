//! The `rest-json` and `rest-xml` protocols' answers, the inverse of `response::rest`: the
//! status code member, header members (prefix headers such as `x-amz-meta-*` too), and the
//! body: a payload member (S3's raw object bytes, a structure), or the remaining members as
//! JSON or XML.

use serde_json::{Map, Value};

use super::json::{model_error, write_struct as json_struct, write_value as json_value};
use super::xml::{add_ns, document, text_with_default, write_member, write_struct};
use super::{header, request_id_header};
use crate::Operation;
use crate::encode::{b64_decode, b64_encode, json_ascii};
use crate::model::{Location, Protocol, Ref, ServiceModel, Shape, ShapeType};
use crate::server::{EncodeError, WireResponse};
use crate::timestamp::{Timestamp, TsFormat};
use crate::xml::El;

const S3_NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";

/// The root elements of S3's answers where they differ from the output shape's botocore name
/// (smithy's `xmlName` traits on the output structures, which botocore's data drops and the
/// AWS SDK for Rust checks).
const S3_ROOTS: [(&str, &str); 30] = [
    ("CompleteMultipartUpload", "CompleteMultipartUploadResult"),
    ("CreateMultipartUpload", "InitiateMultipartUploadResult"),
    ("CreateSession", "CreateSessionResult"),
    ("DeleteObjects", "DeleteResult"),
    (
        "GetBucketAccelerateConfiguration",
        "AccelerateConfiguration",
    ),
    ("GetBucketAcl", "AccessControlPolicy"),
    ("GetBucketCors", "CORSConfiguration"),
    ("GetBucketLifecycle", "LifecycleConfiguration"),
    ("GetBucketLifecycleConfiguration", "LifecycleConfiguration"),
    ("GetBucketLocation", "LocationConstraint"),
    ("GetBucketLogging", "BucketLoggingStatus"),
    ("GetBucketNotification", "NotificationConfiguration"),
    (
        "GetBucketNotificationConfiguration",
        "NotificationConfiguration",
    ),
    ("GetBucketRequestPayment", "RequestPaymentConfiguration"),
    ("GetBucketTagging", "Tagging"),
    ("GetBucketVersioning", "VersioningConfiguration"),
    ("GetBucketWebsite", "WebsiteConfiguration"),
    ("GetObjectAcl", "AccessControlPolicy"),
    ("GetObjectAttributes", "GetObjectAttributesResponse"),
    ("GetObjectTagging", "Tagging"),
    (
        "ListBucketAnalyticsConfigurations",
        "ListBucketAnalyticsConfigurationResult",
    ),
    (
        "ListBucketInventoryConfigurations",
        "ListInventoryConfigurationsResult",
    ),
    (
        "ListBucketMetricsConfigurations",
        "ListMetricsConfigurationsResult",
    ),
    ("ListBuckets", "ListAllMyBucketsResult"),
    ("ListDirectoryBuckets", "ListAllMyDirectoryBucketsResult"),
    ("ListMultipartUploads", "ListMultipartUploadsResult"),
    ("ListObjectVersions", "ListVersionsResult"),
    ("ListObjects", "ListBucketResult"),
    ("ListObjectsV2", "ListBucketResult"),
    ("ListParts", "ListPartsResult"),
];

pub(super) fn encode(
    model: &ServiceModel,
    op: Operation<'_>,
    shape: Option<&Shape>,
    obj: &Map<String, Value>,
    request_id: &str,
) -> Result<WireResponse, EncodeError> {
    let mut resp = WireResponse {
        status: op.response_code().unwrap_or(200),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let Some(shape) = shape else {
        resp.headers.push(request_id_header(model, request_id));
        return Ok(resp);
    };
    let xml = model.protocol() == Protocol::RestXml;
    if model.is_s3() && op.name() == "GetBucketLocation" {
        // The constraint is the root element's text (empty for us-east-1).
        let mut root = El::new("LocationConstraint");
        root.set_attr("xmlns".into(), S3_NAMESPACE.into());
        if let Some(Value::String(loc)) = obj.get("LocationConstraint") {
            root.text = loc.clone();
        }
        resp.body = document(&root);
        resp.headers.push(header("Content-Type", "application/xml"));
        resp.headers
            .push(header("Content-Length", resp.body.len().to_string()));
        resp.headers.push(request_id_header(model, request_id));
        return Ok(resp);
    }
    let mut content_length = None;
    for (name, mref) in &shape.members {
        let r = model
            .resolve(mref)
            .map_err(|e| model_error("output", e.0))?;
        let wire = r.location_name().unwrap_or(name);
        let v = match obj.get(name) {
            Some(v) if !v.is_null() => v,
            _ => continue,
        };
        match r.location() {
            Some(Location::StatusCode) => {
                if let Some(code) = v.as_u64().and_then(|c| u16::try_from(c).ok())
                    && (100..=599).contains(&code)
                {
                    resp.status = code;
                }
            }
            Some(Location::Header) if wire.eq_ignore_ascii_case("Content-Length") => {
                content_length = Some(header_text(model, r, v));
            }
            Some(Location::Header) => {
                let text = if model.is_s3() && name == "Expires" {
                    s3_expires(obj, v)
                } else {
                    header_text(model, r, v)
                };
                resp.headers.push(header(wire, clean(&text)));
            }
            Some(Location::Headers) => {
                if let Value::Object(m) = v {
                    let vr = r
                        .shape
                        .value
                        .as_ref()
                        .map(|m| model.resolve(m))
                        .transpose()
                        .map_err(|e| model_error("output", e.0))?;
                    for (k, item) in m {
                        if !is_token(k) {
                            continue;
                        }
                        let text = match vr {
                            Some(vr) => header_text(model, vr, item),
                            None => text_with_default(r, item, TsFormat::Rfc822),
                        };
                        resp.headers
                            .push(header(&format!("{wire}{k}"), clean(&text)));
                    }
                }
            }
            _ => {}
        }
    }
    let content_type = if let Some(payload) = shape.payload.as_deref() {
        let mref = shape
            .members
            .get(payload)
            .ok_or_else(|| model_error("output", format!("payload member {payload} is missing")))?;
        let r = model
            .resolve(mref)
            .map_err(|e| model_error("output", e.0))?;
        match obj.get(payload).filter(|v| !v.is_null()) {
            None => None,
            Some(v) => {
                let (body, ty) = payload_body(model, r, payload, v, xml)?;
                resp.body = body;
                ty
            }
        }
    } else if shape
        .members
        .values()
        .any(|m| m.location.is_none() && !m.eventheader)
    {
        if xml {
            let name = root_name(model, op, shape);
            let mut root = El::new(&name);
            add_ns(&mut root, shape.xml_namespace.as_ref());
            if model.is_s3() && root.attrs.is_empty() {
                root.set_attr("xmlns".into(), S3_NAMESPACE.into());
            }
            write_struct(model, shape, obj, &mut root, "output", 0)?;
            resp.body = document(&root);
            Some("application/xml")
        } else {
            let body = json_struct(model, shape, obj, true, "output", 0)?;
            resp.body = serde_json::to_vec(&Value::Object(body)).unwrap_or_default();
            Some("application/json")
        }
    } else {
        None
    };
    if let Some(ty) = content_type
        && !resp
            .headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("Content-Type"))
    {
        resp.headers.push(header("Content-Type", ty));
    }
    if !resp.body.is_empty() {
        // The body's own length, whatever the output says (masking may have changed it).
        resp.headers
            .push(header("Content-Length", resp.body.len().to_string()));
    } else if let Some(len) = content_length {
        // A HEAD answer: the length of the object it describes.
        resp.headers.push(header("Content-Length", len));
    }
    resp.headers.push(request_id_header(model, request_id));
    Ok(resp)
}

fn root_name(model: &ServiceModel, op: Operation<'_>, shape: &Shape) -> String {
    if model.is_s3()
        && let Some((_, root)) = S3_ROOTS.iter().find(|(o, _)| *o == op.name())
    {
        return root.to_string();
    }
    shape
        .location_name
        .clone()
        .or_else(|| op.output_shape().map(str::to_string))
        .unwrap_or_else(|| format!("{}Response", op.name()))
}

fn payload_body(
    model: &ServiceModel,
    r: Ref<'_>,
    payload: &str,
    v: &Value,
    xml: bool,
) -> Result<(Vec<u8>, Option<&'static str>), EncodeError> {
    let raw_text = |v: &Value| match v {
        Value::String(s) => s.clone().into_bytes(),
        other => other.to_string().into_bytes(),
    };
    Ok(match r.ty() {
        // A blob that is not base64 (a masked body) goes out as its text.
        ShapeType::Blob => match v {
            Value::String(s) => (
                b64_decode(s).unwrap_or_else(|| s.clone().into_bytes()),
                None,
            ),
            other => (raw_text(other), None),
        },
        ShapeType::String => (raw_text(v), None),
        _ if xml => {
            let name = r.location_name().unwrap_or(payload);
            let mut pseudo = El::new("");
            write_member(model, r, name, v, &mut pseudo, "output", 0)?;
            let mut root = pseudo.children.pop().unwrap_or_else(|| El::new(name));
            if model.is_s3() && !root.attrs.iter().any(|(k, _)| k == "xmlns") {
                root.set_attr("xmlns".into(), S3_NAMESPACE.into());
            }
            (document(&root), Some("application/xml"))
        }
        _ => {
            let body = json_value(model, r, v, "output", 0)?;
            (
                serde_json::to_vec(&body).unwrap_or_default(),
                Some("application/json"),
            )
        }
    })
}

/// A header member's text: timestamps as HTTP dates unless the member says otherwise, JSON
/// values base64-encoded, lists joined with `,` (items with `,` or `"` quoted).
fn header_text(model: &ServiceModel, r: Ref<'_>, v: &Value) -> String {
    if r.jsonvalue() && r.ty() == ShapeType::String {
        return b64_encode(json_ascii(v).as_bytes());
    }
    match (r.ty(), v) {
        (ShapeType::List, Value::Array(items)) => {
            let mr = r.shape.member.as_ref().and_then(|m| model.resolve(m).ok());
            items
                .iter()
                .filter(|i| !i.is_null())
                .map(|item| match (mr, item) {
                    (Some(mr), Value::String(s)) if mr.ty() == ShapeType::String => {
                        if s.contains('"') || s.contains(',') {
                            format!("\"{}\"", s.replace('"', "\\\""))
                        } else {
                            s.clone()
                        }
                    }
                    (Some(mr), item) => header_text(model, mr, item),
                    (None, item) => text_with_default(r, item, TsFormat::Rfc822),
                })
                .collect::<Vec<_>>()
                .join(",")
        }
        _ => text_with_default(r, v, TsFormat::Rfc822),
    }
}

/// S3's `Expires`: the raw header boto3 kept in `ExpiresString`, else the parsed timestamp
/// as an HTTP date.
fn s3_expires(obj: &Map<String, Value>, v: &Value) -> String {
    if let Some(Value::String(raw)) = obj.get("ExpiresString") {
        return raw.clone();
    }
    match v {
        Value::String(s) => Timestamp::parse(s).map_or_else(|| s.clone(), |t| t.rfc822()),
        other => other.to_string(),
    }
}

/// A header value never carries a line break or other control character (no response
/// splitting, and HTTP libraries refuse them).
fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .collect()
}

/// Prefix-header keys must keep the header name a valid token.
fn is_token(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
