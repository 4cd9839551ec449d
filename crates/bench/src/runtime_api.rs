//! A Lambda Runtime API emulator (the `2018-06-01` interface a function's runtime client
//! polls), enough to hand a process events and time its answers.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::sync::{Mutex, mpsc};

/// One answered invocation: when it was answered and whether the function reported an error.
#[derive(Debug, Clone)]
pub struct Answered {
    pub at: Instant,
    pub error: bool,
    pub body: String,
}

pub struct RuntimeApi {
    pub addr: String,
    events: mpsc::UnboundedSender<String>,
    answers: Mutex<mpsc::UnboundedReceiver<Answered>>,
}

struct Shared {
    events: Mutex<mpsc::UnboundedReceiver<String>>,
    answers: mpsc::UnboundedSender<Answered>,
    next_id: std::sync::atomic::AtomicU64,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<RuntimeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?.to_string();
        let (etx, erx) = mpsc::unbounded_channel();
        let (atx, arx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(erx),
            answers: atx,
            next_id: 0.into(),
        });
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(handle(&shared, req).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Ok(RuntimeApi {
            addr,
            events: etx,
            answers: Mutex::new(arx),
        })
    }

    /// Queues an event for the next `invocation/next`.
    pub fn push(&self, event: String) {
        let _ = self.events.send(event);
    }

    /// Waits for the next answer.
    pub async fn answer(&self) -> Option<Answered> {
        self.answers.lock().await.recv().await
    }
}

fn reply(status: u16, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    r
}

async fn handle(shared: &Shared, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    if path == "/2018-06-01/runtime/invocation/next" {
        let Some(event) = shared.events.lock().await.recv().await else {
            return reply(500, "no more events");
        };
        let id = shared
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() + 30_000)
            .unwrap_or_default();
        let mut r = reply(200, event);
        let h = r.headers_mut();
        let mut set = |k: &'static str, v: String| {
            if let Ok(v) = http::HeaderValue::from_str(&v) {
                h.insert(k, v);
            }
        };
        set("lambda-runtime-aws-request-id", format!("bench-{id}"));
        set("lambda-runtime-deadline-ms", deadline.to_string());
        set(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:123456789012:function:bench".into(),
        );
        set("lambda-runtime-trace-id", format!("Root=1-bench-{id}"));
        set("content-type", "application/json".into());
        return r;
    }
    let error = path.ends_with("/error");
    if path.starts_with("/2018-06-01/runtime/invocation/") && (error || path.ends_with("/response"))
        || path == "/2018-06-01/runtime/init/error"
    {
        let _ = shared.answers.send(Answered {
            at: Instant::now(),
            error,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        return reply(202, "{\"status\":\"OK\"}");
    }
    reply(404, "not found")
}
