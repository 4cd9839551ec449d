//! The embedded service models: loading, caching, lookup by IAM prefix, and the shape types.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::Read;
use std::sync::{Arc, Mutex, OnceLock};

use flate2::read::GzDecoder;
use serde::Deserialize;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/blobs.rs"));
}

/// The wire protocol of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    Json,
    Query,
    Ec2,
    RestJson,
    RestXml,
}

impl Protocol {
    /// The botocore name (`json`, `query`, `ec2`, `rest-json`, `rest-xml`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Json => "json",
            Protocol::Query => "query",
            Protocol::Ec2 => "ec2",
            Protocol::RestJson => "rest-json",
            Protocol::RestXml => "rest-xml",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub(crate) struct GlobalEndpoint {
    pub hostname: String,
    pub region: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Metadata {
    pub protocol: Protocol,
    pub api_version: String,
    pub endpoint_prefix: String,
    pub signing_name: String,
    #[serde(default)]
    pub signature_version: Option<String>,
    #[serde(default)]
    pub json_version: Option<String>,
    #[serde(default)]
    pub target_prefix: Option<String>,
    #[serde(default)]
    pub global_endpoint: Option<GlobalEndpoint>,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub service_id: String,
    #[serde(default)]
    pub hostname_exceptions: HashMap<String, String>,
    #[serde(default)]
    pub aws_query_compatible: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Http {
    pub method: String,
    pub request_uri: String,
    #[serde(default)]
    pub response_code: Option<u16>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EndpointTrait {
    pub host_prefix: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HttpChecksum {
    #[serde(default)]
    pub request_checksum_required: bool,
    #[serde(default)]
    pub request_algorithm_member: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct EndpointDiscovery {
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OperationDef {
    pub http: Http,
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub output: Option<String>,
    #[serde(default)]
    pub input_location_name: Option<String>,
    #[serde(default)]
    pub input_xml_namespace: Option<XmlNamespace>,
    #[serde(default)]
    pub result_wrapper: Option<String>,
    #[serde(default)]
    pub endpoint: Option<EndpointTrait>,
    #[serde(default)]
    pub http_checksum_required: bool,
    #[serde(default)]
    pub http_checksum: Option<HttpChecksum>,
    #[serde(default)]
    pub deprecated: bool,
    #[serde(default)]
    pub endpointdiscovery: Option<EndpointDiscovery>,
    #[serde(default)]
    pub endpointoperation: bool,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub signing_region: Option<String>,
    #[serde(default)]
    pub hostname_exceptions: HashMap<String, String>,
}

/// An `xmlNamespace` trait: a bare URI or `{prefix, uri}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub(crate) enum XmlNamespace {
    Uri(String),
    Prefixed {
        #[serde(default)]
        prefix: Option<String>,
        uri: String,
    },
}

impl XmlNamespace {
    /// The attribute that declares it: (`xmlns` or `xmlns:prefix`, uri).
    pub fn attribute(&self) -> (String, String) {
        match self {
            XmlNamespace::Uri(uri) => ("xmlns".to_string(), uri.clone()),
            XmlNamespace::Prefixed { prefix, uri } => match prefix.as_deref() {
                Some(p) if !p.is_empty() => (format!("xmlns:{p}"), uri.clone()),
                _ => ("xmlns".to_string(), uri.clone()),
            },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum ShapeType {
    Structure,
    String,
    List,
    Map,
    Integer,
    Long,
    Float,
    Double,
    Boolean,
    Timestamp,
    Blob,
    #[serde(other)]
    Other,
}

impl ShapeType {
    pub fn describe(self) -> &'static str {
        match self {
            ShapeType::Structure => "an object",
            ShapeType::Map => "an object (map)",
            ShapeType::List => "an array",
            ShapeType::String => "a string",
            ShapeType::Integer | ShapeType::Long => "an integer",
            ShapeType::Float | ShapeType::Double => "a number",
            ShapeType::Boolean => "a boolean",
            ShapeType::Timestamp => "a timestamp (ISO 8601 string or epoch seconds number)",
            ShapeType::Blob => "a base64 string",
            ShapeType::Other => "a value",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(crate) enum Location {
    #[serde(rename = "uri")]
    Uri,
    #[serde(rename = "querystring")]
    QueryString,
    #[serde(rename = "header")]
    Header,
    #[serde(rename = "headers")]
    Headers,
    #[serde(rename = "statusCode")]
    StatusCode,
    #[serde(other)]
    Other,
}

/// A reference to a shape (a structure member, a list member, a map key or value) with the
/// serialization traits it adds.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MemberRef {
    pub shape: String,
    #[serde(default)]
    pub location: Option<Location>,
    #[serde(default)]
    pub location_name: Option<String>,
    #[serde(default)]
    pub query_name: Option<String>,
    #[serde(default)]
    pub xml_namespace: Option<XmlNamespace>,
    #[serde(default)]
    pub xml_attribute: bool,
    #[serde(default)]
    pub flattened: bool,
    #[serde(default)]
    pub jsonvalue: bool,
    #[serde(default)]
    pub timestamp_format: Option<String>,
    #[serde(default)]
    pub host_label: bool,
    #[serde(default)]
    pub idempotency_token: bool,
    #[serde(default)]
    pub eventheader: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Shape {
    #[serde(rename = "type")]
    pub ty: ShapeType,
    #[serde(default)]
    pub members: BTreeMap<String, MemberRef>,
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(default)]
    pub member: Option<MemberRef>,
    #[serde(default)]
    pub key: Option<MemberRef>,
    #[serde(default)]
    pub value: Option<MemberRef>,
    #[serde(default, rename = "enum")]
    pub enum_values: Option<Vec<String>>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub flattened: bool,
    #[serde(default)]
    pub location_name: Option<String>,
    #[serde(default)]
    pub xml_namespace: Option<XmlNamespace>,
    #[serde(default)]
    pub timestamp_format: Option<String>,
    #[serde(default)]
    pub eventstream: bool,
    #[serde(default)]
    pub document: bool,
    #[serde(default)]
    pub union: bool,
}

/// A shape as seen through a reference: the shape's own traits merged with the reference's
/// (the reference wins), as botocore's `Shape.serialization`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ref<'a> {
    pub r: Option<&'a MemberRef>,
    pub shape: &'a Shape,
}

impl<'a> Ref<'a> {
    pub fn ty(&self) -> ShapeType {
        self.shape.ty
    }
    pub fn location(&self) -> Option<Location> {
        self.r.and_then(|r| r.location)
    }
    pub fn location_name(&self) -> Option<&'a str> {
        self.r
            .and_then(|r| r.location_name.as_deref())
            .or(self.shape.location_name.as_deref())
    }
    pub fn query_name(&self) -> Option<&'a str> {
        self.r.and_then(|r| r.query_name.as_deref())
    }
    pub fn flattened(&self) -> bool {
        self.r.is_some_and(|r| r.flattened) || self.shape.flattened
    }
    pub fn xml_namespace(&self) -> Option<&'a XmlNamespace> {
        self.r
            .and_then(|r| r.xml_namespace.as_ref())
            .or(self.shape.xml_namespace.as_ref())
    }
    pub fn xml_attribute(&self) -> bool {
        self.r.is_some_and(|r| r.xml_attribute)
    }
    pub fn jsonvalue(&self) -> bool {
        self.r.is_some_and(|r| r.jsonvalue)
    }
    pub fn timestamp_format(&self) -> Option<&'a str> {
        self.r
            .and_then(|r| r.timestamp_format.as_deref())
            .or(self.shape.timestamp_format.as_deref())
    }
    /// A JSON value carried in a header, base64-encoded.
    pub fn is_json_value_header(&self) -> bool {
        self.jsonvalue()
            && self.location() == Some(Location::Header)
            && self.ty() == ShapeType::String
    }
}

/// A model problem (a shape reference that does not resolve). The embedded data is checked
/// by the tests, so this only surfaces if the data is regenerated badly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ModelError(pub String);

/// A service's model, parsed from its embedded blob on first use and cached.
#[derive(Debug)]
pub struct ServiceModel {
    pub(crate) name: String,
    pub(crate) metadata: Metadata,
    pub(crate) operations: HashMap<String, OperationDef>,
    pub(crate) shapes: HashMap<String, Shape>,
    /// The operations whose input or output is an event stream.
    pub(crate) event_streams: OnceLock<HashSet<String>>,
    /// The rest protocols' URI templates, compiled on the first request decoded.
    pub(crate) routes: OnceLock<crate::server::Routes>,
}

#[derive(Deserialize)]
struct RawModel {
    metadata: Metadata,
    operations: HashMap<String, OperationDef>,
    shapes: HashMap<String, Shape>,
}

/// A borrowed view of one operation of a [`ServiceModel`].
#[derive(Debug, Clone, Copy)]
pub struct Operation<'a> {
    name: &'a str,
    pub(crate) model: &'a ServiceModel,
    pub(crate) def: &'a OperationDef,
}

impl<'a> Operation<'a> {
    /// The API operation name (`CreateTable`).
    pub fn name(&self) -> &'a str {
        self.name
    }
    /// The HTTP method (`POST`, `GET`, ...).
    pub fn http_method(&self) -> &'a str {
        &self.def.http.method
    }
    /// The request URI template (`/2015-03-31/functions/{FunctionName}`).
    pub fn request_uri(&self) -> &'a str {
        &self.def.http.request_uri
    }
    /// The input shape's name, if the operation takes input.
    pub fn input_shape(&self) -> Option<&'a str> {
        self.def.input.as_deref()
    }
    /// The output shape's name, if the operation returns output.
    pub fn output_shape(&self) -> Option<&'a str> {
        self.def.output.as_deref()
    }
    /// The HTTP status code of a success, when the model gives one.
    pub fn response_code(&self) -> Option<u16> {
        self.def.http.response_code
    }
    /// Whether the model marks the operation deprecated.
    pub fn deprecated(&self) -> bool {
        self.def.deprecated
    }
    /// The input's top-level member names (sorted).
    pub fn input_members(&self) -> Vec<&'a str> {
        self.input_struct()
            .map(|s| s.members.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }
    /// The input's payload member when it is a blob (S3's `PutObject` `Body`): the raw body
    /// of a rest call, the one member that can be megabytes.
    pub fn payload_blob_member(&self) -> Option<&'a str> {
        let input = self.input_struct()?;
        let name = input.payload.as_deref()?;
        let member = input.members.get(name)?;
        let shape = self.model.shapes.get(&member.shape)?;
        (shape.ty == ShapeType::Blob).then_some(name)
    }
    /// The input's required top-level members.
    pub fn required_members(&self) -> Vec<&'a str> {
        self.input_struct()
            .map(|s| s.required.iter().map(String::as_str).collect())
            .unwrap_or_default()
    }
    /// Whether the request or the response is an event stream (not supported).
    pub fn has_event_stream(&self) -> bool {
        // Worked out for every operation on first use: it is asked on every call.
        self.model
            .event_streams
            .get_or_init(|| self.model.event_stream_operations())
            .contains(self.name)
    }
    fn input_struct(&self) -> Option<&'a Shape> {
        self.def
            .input
            .as_ref()
            .and_then(|n| self.model.shapes.get(n))
    }
}

impl ServiceModel {
    pub(crate) fn from_gzip(name: &str, blob: &[u8]) -> Result<ServiceModel, String> {
        let mut raw = Vec::new();
        GzDecoder::new(blob)
            .read_to_end(&mut raw)
            .map_err(|e| format!("{name}: cannot decompress the model: {e}"))?;
        let m: RawModel = serde_json::from_slice(&raw)
            .map_err(|e| format!("{name}: cannot parse the model: {e}"))?;
        Ok(ServiceModel {
            name: name.to_string(),
            metadata: m.metadata,
            operations: m.operations,
            shapes: m.shapes,
            event_streams: OnceLock::new(),
            routes: OnceLock::new(),
        })
    }

    fn event_stream_operations(&self) -> HashSet<String> {
        let is_stream = |shape: Option<&String>| {
            shape.and_then(|n| self.shapes.get(n)).is_some_and(|s| {
                s.members
                    .values()
                    .any(|m| self.shapes.get(&m.shape).is_some_and(|ms| ms.eventstream))
            })
        };
        self.operations
            .iter()
            .filter(|(_, op)| is_stream(op.input.as_ref()) || is_stream(op.output.as_ref()))
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// The botocore service name (`dynamodb`, `stepfunctions`, `elbv2`).
    pub fn service_name(&self) -> &str {
        &self.name
    }
    pub fn protocol(&self) -> Protocol {
        self.metadata.protocol
    }
    pub fn api_version(&self) -> &str {
        &self.metadata.api_version
    }
    /// The SigV4 signing name (`dynamodb`, `states`, `monitoring`).
    pub fn signing_name(&self) -> &str {
        &self.metadata.signing_name
    }
    pub fn endpoint_prefix(&self) -> &str {
        &self.metadata.endpoint_prefix
    }
    /// The SDK service id (`DynamoDB`, `SFN`).
    pub fn service_id(&self) -> &str {
        &self.metadata.service_id
    }
    /// The model's signature version (`v4`, `s3v4`, `s3`, `bearer`, `v2`).
    pub fn signature_version(&self) -> Option<&str> {
        self.metadata.signature_version.as_deref()
    }
    /// One operation, by exact name.
    pub fn operation(&self, name: &str) -> Option<Operation<'_>> {
        self.operations
            .get_key_value(name)
            .map(|(k, def)| Operation {
                name: k,
                model: self,
                def,
            })
    }
    /// Every operation name, sorted.
    pub fn operation_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.operations.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Checks that every shape reachable from every operation's input and output resolves.
    pub fn check(&self) -> Result<(), String> {
        let mut seen: HashSet<&str> = HashSet::new();
        let mut stack: Vec<(&str, &str)> = Vec::new();
        for (op_name, op) in &self.operations {
            for s in [&op.input, &op.output].into_iter().flatten() {
                stack.push((op_name, s));
            }
        }
        while let Some((op_name, name)) = stack.pop() {
            if !seen.insert(name) {
                continue;
            }
            let shape = self.shapes.get(name).ok_or_else(|| {
                format!(
                    "{}: operation {op_name}: shape {name} is missing",
                    self.name
                )
            })?;
            if shape.ty == ShapeType::Other {
                return Err(format!("{}: shape {name} has an unknown type", self.name));
            }
            for m in shape.members.values() {
                stack.push((op_name, &m.shape));
            }
            for m in [&shape.member, &shape.key, &shape.value]
                .into_iter()
                .flatten()
            {
                stack.push((op_name, &m.shape));
            }
            match shape.ty {
                ShapeType::List if shape.member.is_none() => {
                    return Err(format!("{}: list {name} has no member", self.name));
                }
                ShapeType::Map if shape.key.is_none() || shape.value.is_none() => {
                    return Err(format!("{}: map {name} has no key/value", self.name));
                }
                _ => {}
            }
            if let Some(p) = &shape.payload
                && !shape.members.contains_key(p)
            {
                return Err(format!(
                    "{}: {name}: payload member {p} is missing",
                    self.name
                ));
            }
        }
        Ok(())
    }

    pub(crate) fn shape(&self, name: &str) -> Result<&Shape, ModelError> {
        self.shapes
            .get(name)
            .ok_or_else(|| ModelError(format!("{}: shape {name} is missing", self.name)))
    }

    pub(crate) fn resolve<'a>(&'a self, r: &'a MemberRef) -> Result<Ref<'a>, ModelError> {
        Ok(Ref {
            r: Some(r),
            shape: self.shape(&r.shape)?,
        })
    }

    pub(crate) fn op_def(&self, name: &str) -> Option<&OperationDef> {
        self.operations.get(name)
    }

    pub(crate) fn is_s3(&self) -> bool {
        self.name == "s3"
    }
}

/// A failure to load an embedded model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub service: String,
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "model {}: {}", self.service, self.message)
    }
}

impl std::error::Error for LoadError {}

/// The botocore names of every embedded service model, sorted.
pub fn services() -> Vec<&'static str> {
    embedded::BLOBS.iter().map(|(n, _)| *n).collect()
}

fn cache() -> &'static Mutex<HashMap<String, Arc<ServiceModel>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Arc<ServiceModel>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Loads (once, then from the cache) the model of botocore service `service`.
pub fn load(service: &str) -> Result<Arc<ServiceModel>, LoadError> {
    {
        let guard = cache().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = guard.get(service) {
            return Ok(Arc::clone(m));
        }
    }
    let err = |message: String| LoadError {
        service: service.to_string(),
        message,
    };
    let idx = embedded::BLOBS
        .binary_search_by(|(n, _)| (*n).cmp(service))
        .map_err(|_| err("no such service".to_string()))?;
    let (name, blob) = embedded::BLOBS[idx];
    // Parse outside the lock: the big models take a while.
    let model = Arc::new(ServiceModel::from_gzip(name, blob).map_err(err)?);
    let mut guard = cache().lock().unwrap_or_else(|e| e.into_inner());
    Ok(Arc::clone(
        guard.entry(service.to_string()).or_insert(model),
    ))
}

#[derive(Deserialize)]
struct Index {
    prefixes: HashMap<String, Vec<String>>,
}

fn index() -> &'static HashMap<String, Vec<String>> {
    static INDEX: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut raw = Vec::new();
        if GzDecoder::new(embedded::INDEX)
            .read_to_end(&mut raw)
            .is_err()
        {
            return HashMap::new();
        }
        serde_json::from_slice::<Index>(&raw)
            .map(|i| i.prefixes)
            .unwrap_or_default()
    })
}

/// The botocore services listed under IAM prefix `prefix` (matched exactly, else ignoring
/// ASCII case), in lookup order.
pub fn prefix_services(prefix: &str) -> &'static [String] {
    let index = index();
    index
        .get(prefix)
        .or_else(|| {
            index
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(prefix))
                .map(|(_, v)| v)
        })
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// Every IAM prefix in the index, sorted.
pub fn prefixes() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = index().keys().map(String::as_str).collect();
    v.sort_unstable();
    v
}

/// Finds the operation `operation` of IAM prefix `prefix` (as agents write
/// `prefix:Operation`): loads the models listed under the prefix (lazily, cached per service)
/// and returns the first one having that operation, with the operation's exact name. An exact
/// match in any of the prefix's services wins over a case-insensitive one. None if unknown.
pub fn find(prefix: &str, operation: &str) -> Option<(Arc<ServiceModel>, String)> {
    let services = prefix_services(prefix);
    let mut loaded = Vec::with_capacity(services.len());
    for s in services {
        let Ok(model) = load(s) else { continue };
        if model.operations.contains_key(operation) {
            return Some((model, operation.to_string()));
        }
        loaded.push(model);
    }
    for model in loaded {
        let name = model
            .operations
            .keys()
            .find(|k| k.eq_ignore_ascii_case(operation))
            .cloned();
        if let Some(name) = name {
            return Some((model, name));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_blob_member_is_the_raw_body_of_a_rest_call() {
        let member = |service: &str, op: &str| {
            load(service)
                .unwrap()
                .operation(op)
                .unwrap()
                .payload_blob_member()
                .map(str::to_string)
        };
        assert_eq!(member("s3", "PutObject").as_deref(), Some("Body"));
        assert_eq!(member("s3", "UploadPart").as_deref(), Some("Body"));
        assert_eq!(member("lambda", "Invoke").as_deref(), Some("Payload"));
        // A structure payload (XML) and bodies built from members are not blobs.
        assert_eq!(member("s3", "PutBucketTagging"), None);
        assert_eq!(member("s3", "GetObject"), None);
        assert_eq!(member("dynamodb", "PutItem"), None);
    }
}
