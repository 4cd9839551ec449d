//! The local host: one HTTP listener that is the API, the Lambda Invoke API for the notifier
//! and executor, the dev identity provider, the SNS subscriber, and a pass-through to moto
//! for everything else (moto's state machine sends all its AWS calls here).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tollgate_api::Api;
use tollgate_executor::Executor;
use tollgate_notifier::Notifier;

use crate::authorize;
use crate::issuer::{DevIssuer, MintRequest};

pub const ISSUER_PATH: &str = "/dev-idp";
/// A second, independent dev issuer, for tests of cross-issuer confusion.
pub const SECOND_ISSUER_PATH: &str = "/dev-idp-b";
pub const SNS_PATH: &str = "/local/sns";
const MAX_BODY: usize = 1024 * 1024;

/// The three functions, as one cold start built them.
pub struct Functions {
    pub api: Api,
    pub notifier: Notifier,
    pub executor: Executor,
}

pub struct Host {
    /// Installed once the functions' cold start (which reads their keys through this host)
    /// is done; replaced by a later cold start. Until then they answer 503.
    functions: std::sync::RwLock<Option<Arc<Functions>>>,
    pub issuer: DevIssuer,
    pub second_issuer: DevIssuer,
    /// Each issuer's pending authorization codes (`issuer`'s, then `second_issuer`'s).
    codes: (authorize::Codes, authorize::Codes),
    pub moto_url: String,
    pub notifier_function: String,
    pub executor_function: String,
    pub print_notices: bool,
    pub outbox: Mutex<Vec<Value>>,
    http: reqwest::Client,
    /// One DynamoDB write at a time (see `forward`).
    dynamodb_writes: tokio::sync::Mutex<()>,
    /// Faults the reliability tests inject into the local host. They live here, in the local
    /// emulation, and not in the functions: nothing in a deployed function can trigger them.
    pub faults: Faults,
    /// How often each AWS operation passed through the host (`AWSStepFunctions.StartExecution`,
    /// `SNS.Publish`, ...), so tests can count what the functions asked of AWS.
    pub calls: Mutex<BTreeMap<String, usize>>,
    /// Every role session STS opened through the host, as the caller asked for it: what a
    /// trail's `AssumeRole` records would say (moto keeps neither source identity nor tags).
    pub sessions: Mutex<Vec<OpenedSession>>,
    /// Every AWS call and Lambda invocation with its timing (and DynamoDB's bodies, for
    /// item sizes), while `make bench` has tracing on; `None` otherwise, so nothing piles up.
    pub trace: Mutex<Option<Vec<Traced>>>,
}

/// One `AssumeRole` that STS granted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpenedSession {
    pub role_arn: String,
    pub session_name: String,
    pub source_identity: String,
    pub tags: BTreeMap<String, String>,
    /// The key of the credentials it issued.
    pub access_key_id: String,
}

impl OpenedSession {
    /// From the query-protocol request and STS's XML answer.
    fn parse(request: &[u8], answer: &[u8]) -> Option<OpenedSession> {
        let form: BTreeMap<String, String> =
            url::form_urlencoded::parse(request).into_owned().collect();
        let field = |k: &str| form.get(k).cloned().unwrap_or_default();
        let tags = (1..)
            .map_while(|n| {
                let key = form.get(&format!("Tags.member.{n}.Key"))?;
                let value = form.get(&format!("Tags.member.{n}.Value"))?;
                Some((key.clone(), value.clone()))
            })
            .collect();
        let answer = std::str::from_utf8(answer).ok()?;
        let access_key_id = answer
            .split("<AccessKeyId>")
            .nth(1)?
            .split("</AccessKeyId>")
            .next()?
            .trim()
            .to_string();
        Some(OpenedSession {
            role_arn: field("RoleArn"),
            session_name: field("RoleSessionName"),
            source_identity: field("SourceIdentity"),
            tags,
            access_key_id,
        })
    }
}

/// One call through the host, as the bench's cost figures count it.
#[derive(Debug, Clone)]
pub struct Traced {
    /// `DynamoDB_20120810.GetItem`, `AssumeRole`, `Lambda.Invoke tollgate-executor`, ...
    pub operation: String,
    pub started: std::time::Instant,
    pub ended: std::time::Instant,
    /// DynamoDB calls: the request and answer bodies (the item sizes are in them); Lambda
    /// invocations: the payload.
    pub request: Option<Bytes>,
    pub answer: Option<Bytes>,
}

impl Host {
    fn traced(&self, operation: &str, started: std::time::Instant, bodies: Option<(Bytes, Bytes)>) {
        if let Some(trace) = lock(&self.trace).as_mut() {
            let (request, answer) = bodies.unzip();
            trace.push(Traced {
                operation: operation.to_string(),
                started,
                ended: std::time::Instant::now(),
                request,
                answer,
            });
        }
    }

    fn tracing(&self) -> bool {
        lock(&self.trace).is_some()
    }
}

/// Faults to inject, all off by default.
#[derive(Debug, Default)]
pub struct Faults {
    /// Answer every SNS `Publish` with a 500, as an SNS outage would.
    pub fail_sns_publish: AtomicBool,
    /// Crash the executor after its AWS call and before its status write: the write that
    /// would record `SUCCEEDED` never reaches DynamoDB, and the invocation dies as a Lambda
    /// service error (so Step Functions retries it). One-shot: cleared by the crash.
    pub crash_executor_after_call: AtomicBool,
    /// Executor invocations that crashed so.
    pub executor_crashes: AtomicUsize,
    /// Kill the next executor invocation at this point (one-shot): it never takes its next
    /// step, so its record stays as that point left it. The killed invocation is held until
    /// [`Faults::release_killed`] is notified and then answers as a crashed sandbox, so a test
    /// can end its workflow first (the state machine would otherwise retry the executor).
    pub kill_executor_at: Mutex<Option<KillPoint>>,
    /// When set, only the executor invocation for this request takes the kill: with many
    /// requests in flight (the chaos campaign), the kill lands on the one chosen.
    pub kill_request: Mutex<Option<String>>,
    /// Executor invocations killed so.
    pub executor_kills: AtomicUsize,
    /// The request and point of each kill, in order, so a test knows whose call may have run.
    pub killed: Mutex<Vec<(String, KillPoint)>>,
    pub release_killed: tokio::sync::Notify,
    /// The armed kill of the invocation in flight: the point, its request, and how to tell it
    /// it died. The point is matched on that request's own calls only: the notifier's preview
    /// assumes a role and other requests write outcomes meanwhile.
    armed_kill: Mutex<Option<(KillPoint, String, tokio::sync::oneshot::Sender<()>)>>,
}

/// Where the executor dies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillPoint {
    /// Before it claims the request: the request stays APPROVED, the call never runs.
    BeforeClaim,
    /// After its claim, before the call (at AssumeRole): EXECUTING, and the call never ran.
    AfterClaim,
    /// After the call, before its outcome is written: EXECUTING, and the call ran.
    AfterCall,
}

impl Host {
    pub fn new(
        issuers: (DevIssuer, DevIssuer),
        moto_url: String,
        notifier_function: String,
        executor_function: String,
        print_notices: bool,
    ) -> Self {
        Self {
            functions: std::sync::RwLock::new(None),
            issuer: issuers.0,
            second_issuer: issuers.1,
            codes: Default::default(),
            moto_url,
            notifier_function,
            executor_function,
            print_notices,
            outbox: Mutex::new(Vec::new()),
            dynamodb_writes: tokio::sync::Mutex::new(()),
            faults: Faults::default(),
            calls: Mutex::new(BTreeMap::new()),
            sessions: Mutex::new(Vec::new()),
            trace: Mutex::new(None),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
        }
    }
}

impl Host {
    /// The functions of the latest cold start.
    pub fn functions(&self) -> Option<Arc<Functions>> {
        self.functions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Puts freshly started functions in place (calls in flight finish on the old ones).
    pub fn install(&self, f: Functions) {
        *self.functions.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(f));
    }
}

type Answer = Response<Full<Bytes>>;

fn starting() -> Answer {
    json_answer(
        503,
        &json!({"error": {"code": "unavailable", "message": "the functions are starting; try again"}}),
    )
}

fn answer(status: u16, content_type: &str, body: impl Into<Bytes>) -> Answer {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(body.into()))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn wire_answer(w: tollgate_models::WireResponse) -> Answer {
    let mut b = Response::builder().status(w.status);
    for (k, v) in &w.headers {
        b = b.header(k, v);
    }
    b.body(Full::new(Bytes::from(w.body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}

fn json_answer(status: u16, v: &Value) -> Answer {
    answer(status, "application/json", v.to_string())
}

/// Serves until `shutdown` changes.
pub async fn serve(listener: TcpListener, host: Arc<Host>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let host = host.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| {
                let host = host.clone();
                async move { Ok::<_, Infallible>(dispatch(&host, req, peer).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// A body longer than the limit.
struct TooLarge;

/// Most of an oversized body read (and dropped) before answering anyway.
const MAX_DRAINED: usize = 64 * 1024 * 1024;

/// The body, if it is at most `limit` bytes. A longer one is read on and dropped (up to
/// [`MAX_DRAINED`]) before the refusal, as a load balancer in front of Lambda does: a client
/// still sending its body when the answer comes sees a broken pipe instead of the answer, and
/// an SDK retries that.
async fn read_bounded(mut body: Incoming, limit: usize) -> Result<Bytes, TooLarge> {
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        // A body cut short is answered as one too long was (the client is gone anyway).
        let Ok(frame) = frame else {
            return Err(TooLarge);
        };
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen <= limit {
                kept.extend_from_slice(&data);
            } else if seen > MAX_DRAINED {
                break;
            }
        }
    }
    if seen > limit {
        return Err(TooLarge);
    }
    Ok(Bytes::from(kept))
}

async fn dispatch(host: &Host, req: Request<Incoming>, peer: std::net::SocketAddr) -> Answer {
    let (parts, body) = req.into_parts();
    let headers: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
        .collect();
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    // Calls signed with gateway credentials are the front door's; every other signed call
    // is the functions' own, for the emulator.
    let front_door = tollgate_api::is_front_door_call(&headers, &raw_query);
    let limit = if front_door {
        tollgate_api::MAX_WIRE_BODY_BYTES
    } else {
        MAX_BODY
    };
    let body = match read_bounded(body, limit).await {
        Ok(b) => b,
        Err(TooLarge) if front_door => {
            return wire_answer(tollgate_api::front_door_too_large(&headers, &raw_query));
        }
        Err(TooLarge) => {
            return json_answer(
                413,
                &json!({"error": {"code": "payload_too_large", "message": "body: larger than 1 MiB"}}),
            );
        }
    };
    let path = parts.uri.path().to_string();
    let method = parts.method.as_str().to_string();
    if front_door && !path.starts_with("/v1/") && path != "/v1" && !is_api_path(&path) {
        let Some(f) = host.functions() else {
            return starting();
        };
        // hyper leaves the request target as the client sent it: the raw path the client
        // signed, never decoded or normalised.
        let call = tollgate_api::FrontDoorRequest {
            method: method.clone(),
            raw_path: path,
            raw_query,
            headers,
            body: body.to_vec(),
        };
        return wire_answer(f.api.front_door(call, &peer.ip().to_string()).await);
    }
    if path.starts_with("/v1/") || path == "/v1" || is_api_path(&path) {
        let Some(f) = host.functions() else {
            return starting();
        };
        let resp = f
            .api
            .handle(
                http::Request::from_parts(parts, body.to_vec()),
                &peer.ip().to_string(),
            )
            .await
            .into_http();
        let (p, b) = resp.into_parts();
        return Response::from_parts(p, Full::new(Bytes::from(b)));
    }
    if let Some(rest) = path.strip_prefix("/2015-03-31/functions/")
        && let Some(name) = rest.strip_suffix("/invocations")
        && method == "POST"
    {
        return invoke(host, name, &body).await;
    }
    for (prefix, dev, codes) in [
        (ISSUER_PATH, &host.issuer, &host.codes.0),
        (SECOND_ISSUER_PATH, &host.second_issuer, &host.codes.1),
    ] {
        // RFC 8414 §3.1: metadata of an issuer with a path, at the path-inserted well-known URL.
        if method == "GET"
            && [
                "/.well-known/oauth-authorization-server",
                "/.well-known/openid-configuration",
            ]
            .iter()
            .any(|w| path.strip_prefix(w) == Some(prefix))
        {
            return json_answer(200, &dev.discovery());
        }
        if let Some(rest) = path.strip_prefix(prefix)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            // Counted like AWS calls, so tests can see how often the functions ask the
            // provider (`/dev-idp GET /.well-known/openid-configuration`).
            if let Ok(mut calls) = host.calls.lock() {
                *calls
                    .entry(format!("{prefix} {method} {rest}"))
                    .or_default() += 1;
            }
            return issuer(dev, codes, &method, rest, &parts, &body);
        }
    }
    if path == SNS_PATH && method == "POST" {
        return sns(host, &body);
    }
    if path == "/local/outbox" && method == "GET" {
        let outbox = host.outbox.lock().map(|o| o.clone()).unwrap_or_default();
        return json_answer(200, &Value::Array(outbox));
    }
    forward(host, parts, body).await
}

/// Paths the API serves besides `/v1`: the MCP endpoint and its resource metadata (API
/// Gateway routes the same ones to the function).
fn is_api_path(path: &str) -> bool {
    path == "/mcp" || path.starts_with("/.well-known/oauth-protected-resource")
}

/// The Lambda Invoke API, answered by calling the handler in-process.
async fn invoke(host: &Host, name: &str, body: &[u8]) -> Answer {
    let started = std::time::Instant::now();
    let answer = invoke_function(host, name, body).await;
    host.traced(
        &format!("Lambda.Invoke {}", percent_decode(name)),
        started,
        Some((Bytes::copy_from_slice(body), Bytes::new())),
    );
    answer
}

async fn invoke_function(host: &Host, name: &str, body: &[u8]) -> Answer {
    let name = percent_decode(name);
    // Accept a name, a partial ARN or a full ARN, as Lambda does.
    let short = name.rsplit(':').next().unwrap_or(&name).to_string();
    let payload: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let Some(f) = host.functions() else {
        return starting();
    };
    let result = if short == host.notifier_function {
        f.notifier.handle(payload).await
    } else if short == host.executor_function
        && let Some((point, request_id)) = take_kill(host, &payload)
    {
        if point != KillPoint::BeforeClaim {
            let (died, dead) = tokio::sync::oneshot::channel();
            *lock(&host.faults.armed_kill) = Some((point, request_id.clone(), died));
            // The executor runs until the host sees it reach `point`, and is dropped there.
            tokio::select! {
                r = f.executor.handle(payload) => {
                    *lock(&host.faults.armed_kill) = None;
                    return invoke_answer(r);
                }
                _ = dead => {}
            }
        }
        lock(&host.faults.killed).push((request_id, point));
        host.faults.executor_kills.fetch_add(1, Ordering::SeqCst);
        host.faults.release_killed.notified().await;
        return crashed();
    } else if short == host.executor_function {
        let crash = host.faults.crash_executor_after_call.load(Ordering::SeqCst);
        let result = f.executor.handle(payload).await;
        if crash {
            host.faults
                .crash_executor_after_call
                .store(false, Ordering::SeqCst);
            host.faults.executor_crashes.fetch_add(1, Ordering::SeqCst);
            return crashed();
        }
        result
    } else {
        return json_answer(
            404,
            &json!({"Type": "User", "Message": format!("Function not found: {name}")}),
        )
        .tap_header("x-amzn-errortype", "ResourceNotFoundException");
    };
    invoke_answer(result)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The armed kill, if this invocation (for the request in `payload`) is the one to take it.
fn take_kill(host: &Host, payload: &Value) -> Option<(KillPoint, String)> {
    let request_id = payload["request_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if lock(&host.faults.kill_request)
        .as_ref()
        .is_some_and(|only| *only != request_id)
    {
        return None;
    }
    lock(&host.faults.kill_executor_at)
        .take()
        .map(|p| (p, request_id))
}

/// What Lambda answers for an invocation whose sandbox died.
fn crashed() -> Answer {
    json_answer(
        500,
        &json!({"Type": "Service", "message": "the function's sandbox crashed"}),
    )
    .tap_header("x-amzn-errortype", "ServiceException")
    // Lambda always sends one; moto's interpreter fails the execution without it.
    .tap_header("x-amzn-requestid", "local-executor-crash")
}

fn invoke_answer(result: Result<Value, tollgate_core::ApiError>) -> Answer {
    match result {
        Ok(v) => json_answer(200, &v),
        // What the runtime sends for a function's error: its code as the error type.
        Err(e) => json_answer(
            200,
            &serde_json::to_value(lambda_runtime::Diagnostic::from(e)).unwrap_or_default(),
        )
        .tap_header("x-amz-function-error", "Unhandled"),
    }
}

trait TapHeader {
    fn tap_header(self, k: &'static str, v: &'static str) -> Self;
}

impl TapHeader for Answer {
    fn tap_header(mut self, k: &'static str, v: &'static str) -> Self {
        self.headers_mut()
            .insert(k, http::HeaderValue::from_static(v));
        self
    }
}

fn form(bytes: &[u8]) -> std::collections::BTreeMap<String, String> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

fn from_authorize(a: authorize::Answer) -> Answer {
    match a {
        authorize::Answer::Html(status, body) => answer(status, "text/html; charset=utf-8", body),
        authorize::Answer::Json(status, v) => json_answer(status, &v),
        authorize::Answer::Redirect(location) => Response::builder()
            .status(303)
            .header("location", location)
            .body(Full::new(Bytes::new()))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))),
    }
}

fn issuer(
    dev: &DevIssuer,
    codes: &authorize::Codes,
    method: &str,
    rest: &str,
    parts: &http::request::Parts,
    body: &[u8],
) -> Answer {
    let is_form = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    match (method, rest) {
        ("GET", "/authorize") => from_authorize(authorize::authorize_page(
            dev,
            &form(parts.uri.query().unwrap_or("").as_bytes()),
        )),
        ("POST", "/authorize") => {
            from_authorize(authorize::authorize_submit(dev, codes, &form(body)))
        }
        ("POST", "/token") if is_form => from_authorize(authorize::token(
            dev,
            codes,
            &form(body),
            parts
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok()),
        )),
        ("GET", "/.well-known/openid-configuration") => json_answer(200, &dev.discovery()),
        ("POST", "/register") => from_authorize(dev.clients.register(body)),
        ("GET", "/jwks.json") => json_answer(200, &dev.jwks()),
        ("POST", "/rotate") => match dev.rotate() {
            Ok(()) => json_answer(200, &json!({"rotated": true})),
            Err(e) => json_answer(500, &json!({"error": {"code": "internal", "message": e}})),
        },
        ("POST", "/token") => {
            let req: MintRequest = match serde_json::from_slice(body) {
                Ok(r) => r,
                Err(e) => {
                    return json_answer(
                        400,
                        &json!({"error": {"code": "invalid_request", "message": format!("body: {e}")}}),
                    );
                }
            };
            match dev.mint(&req) {
                // `expires_at` is in seconds, as it always was here; `expires_at_ms` says its
                // unit and matches the records' times.
                Ok(m) => json_answer(
                    200,
                    &json!({"token": m.token, "expires_at": m.exp_s, "expires_at_ms": m.exp_s * 1000}),
                ),
                Err(e) => json_answer(
                    400,
                    &json!({"error": {"code": "invalid_request", "message": e}}),
                ),
            }
        }
        _ => json_answer(
            404,
            &json!({"error": {"code": "not_found", "message": "no such dev issuer endpoint"}}),
        ),
    }
}

/// SNS HTTP delivery: keep the notice and show its link, as an approver's inbox would.
fn sns(host: &Host, body: &[u8]) -> Answer {
    let envelope: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let message = envelope
        .get("Message")
        .and_then(Value::as_str)
        .unwrap_or("");
    let notice: Value = serde_json::from_str(message).unwrap_or_else(|_| json!({"text": message}));
    if host.print_notices
        && let Some(link) = notice.get("link").and_then(Value::as_str)
    {
        println!(
            "approval needed: {} by {} ({})\n  review: {link}\n  decide: tollgate approve {id}  |  tollgate reject {id} --comment \"...\"",
            notice["action"].as_str().unwrap_or("?"),
            notice["agent"].as_str().unwrap_or("?"),
            notice["reason"].as_str().unwrap_or(""),
            id = notice["request_id"].as_str().unwrap_or("?"),
        );
    }
    if let Ok(mut outbox) = host.outbox.lock() {
        outbox.push(json!({"subject": envelope.get("Subject"), "topic": envelope.get("TopicArn"), "notice": notice}));
    }
    answer(200, "text/plain", "ok")
}

/// DynamoDB operations that write.
const DYNAMODB_WRITES: [&str; 6] = [
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "TransactWriteItems",
    "BatchWriteItem",
    "ExecuteStatement",
];

/// Everything else goes to moto unchanged. DynamoDB writes go one at a time: moto undoes a
/// failed transaction by restoring a copy of the whole table taken before it, which would
/// erase a write another caller made meanwhile. DynamoDB's own transactions are isolated,
/// so on AWS the same code needs no such help.
async fn forward(host: &Host, parts: http::request::Parts, body: Bytes) -> Answer {
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .map(str::to_string);
    let operation = target.clone().or_else(|| query_action(&body));
    if let Some(op) = &operation
        && let Ok(mut calls) = host.calls.lock()
    {
        *calls.entry(op.clone()).or_default() += 1;
    }
    if let Some(answer) = injected_fault(host, operation.as_deref(), &body) {
        return answer;
    }
    if kill_point_reached(host, operation.as_deref(), &body) {
        // The executor is dropped; this answer only has to outlast it.
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        return json_answer(
            500,
            &json!({"__type": "InternalFailure", "message": "the caller died"}),
        );
    }
    let is_dynamodb_write = target
        .as_deref()
        .and_then(|t| t.strip_prefix("DynamoDB_20120810."))
        .is_some_and(|op| DYNAMODB_WRITES.contains(&op));
    let _serialised = if is_dynamodb_write {
        Some(host.dynamodb_writes.lock().await)
    } else {
        None
    };
    let url = format!(
        "{}{}",
        host.moto_url,
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let assume_role = operation.as_deref() == Some("AssumeRole");
    let request_body = if assume_role {
        body.clone()
    } else {
        Bytes::new()
    };
    let started = std::time::Instant::now();
    let traced_body = (host.tracing()
        && target
            .as_deref()
            .is_some_and(|t| t.starts_with("DynamoDB_")))
    .then(|| body.clone());
    let mut req = host.http.request(parts.method.clone(), &url).body(body);
    for (k, v) in parts.headers.iter() {
        if k != http::header::HOST && k != http::header::CONTENT_LENGTH {
            req = req.header(k, v);
        }
    }
    match req.send().await {
        Ok(resp) => {
            let status = resp.status();
            let headers = resp.headers().clone();
            let bytes = resp.bytes().await.unwrap_or_default();
            if assume_role
                && status.is_success()
                && let Some(s) = OpenedSession::parse(&request_body, &bytes)
                && let Ok(mut sessions) = host.sessions.lock()
            {
                sessions.push(s);
            }
            if let Some(op) = &operation {
                host.traced(op, started, traced_body.map(|b| (b, bytes.clone())));
            }
            let mut out = Response::new(Full::new(bytes));
            *out.status_mut() = status;
            for (k, v) in headers.iter() {
                if k != http::header::CONTENT_LENGTH && k != http::header::TRANSFER_ENCODING {
                    out.headers_mut().insert(k, v.clone());
                }
            }
            out
        }
        Err(e) => json_answer(
            502,
            &json!({"error": {"code": "emulator_unavailable", "message": e.without_url().to_string()}}),
        ),
    }
}

/// The operation of a query-protocol call (SNS, STS): `SNS.Publish` for `Action=Publish`.
fn query_action(body: &[u8]) -> Option<String> {
    let body = std::str::from_utf8(body).ok()?;
    let action = body.split('&').find_map(|kv| kv.strip_prefix("Action="))?;
    let is_sns = body.split('&').any(|kv| kv.starts_with("TopicArn="));
    Some(if is_sns {
        format!("SNS.{action}")
    } else {
        action.to_string()
    })
}

fn injected_fault(host: &Host, operation: Option<&str>, body: &[u8]) -> Option<Answer> {
    let f = &host.faults;
    match operation? {
        "SNS.Publish" if f.fail_sns_publish.load(Ordering::SeqCst) => Some(answer(
            500,
            "text/xml",
            "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalError</Code>\
             <Message>injected SNS outage</Message></Error></ErrorResponse>",
        )),
        "DynamoDB_20120810.TransactWriteItems"
            if f.crash_executor_after_call.load(Ordering::SeqCst)
                && contains(body, br#"{"S":"SUCCEEDED"}"#) =>
        {
            Some(json_answer(
                500,
                &json!({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError", "message": "injected crash"}),
            ))
        }
        _ => None,
    }
}

/// Whether this call is the armed kill point's, which then fires: AssumeRole comes right
/// after the claim, the outcome write right after the call.
fn kill_point_reached(host: &Host, operation: Option<&str>, body: &[u8]) -> bool {
    let mut armed = lock(&host.faults.armed_kill);
    let Some((point, id, _)) = armed.as_ref() else {
        return false;
    };
    let reached = match (point, operation) {
        (KillPoint::AfterClaim, Some("AssumeRole")) => {
            // The executor's session, not the preview's (`tollgate-preview-<id>`).
            let session = format!("RoleSessionName=tollgate-{id}");
            std::str::from_utf8(body).is_ok_and(|b| b.split('&').any(|kv| kv == session))
        }
        (KillPoint::AfterCall, Some("DynamoDB_20120810.TransactWriteItems")) => {
            contains(body, id.as_bytes())
                && (contains(body, br#"{"S":"SUCCEEDED"}"#) || contains(body, br#"{"S":"FAILED"}"#))
        }
        _ => false,
    };
    if reached && let Some((_, _, died)) = armed.take() {
        let _ = died.send(());
    }
    reached
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}
