//! SigV4-signed HTTP calls, built by hand rather than through a typed SDK client, so one code
//! path can call any operation of any service.

use std::time::SystemTime;

use async_trait::async_trait;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use tollgate_core::{ApiError, ErrorCode};

use crate::ports::{SendError, SignedCaller};
use crate::unavailable;

/// An HTTP response, whatever its status.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    /// The whole body; empty when it was [`RawResponse::too_large`].
    pub body: Vec<u8>,
    /// The body was longer than the caller's limit: reading stopped there and nothing of it
    /// is kept.
    pub too_large: bool,
}

#[derive(Clone, Debug)]
pub struct SignedHttp {
    http: reqwest::Client,
    /// Most body bytes read; `None` reads whole answers (the functions' own small calls).
    body_limit: Option<usize>,
}

impl Default for SignedHttp {
    fn default() -> Self {
        Self::new()
    }
}

impl SignedHttp {
    pub fn new() -> Self {
        // A redirect would carry the signed headers (the session token among them) to
        // wherever the answer points, for a request nobody approved.
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            http,
            body_limit: None,
        }
    }

    /// The same client, reading at most `limit` bytes of a body: the answer is streamed and
    /// dropped once past the limit, so a huge answer never sits in memory.
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.body_limit = Some(limit);
        self
    }

    /// Signs `req` for `service` in `region` with `creds` and sends it.
    pub async fn send(
        &self,
        req: http::Request<Vec<u8>>,
        creds: &Credentials,
        region: &str,
        service: &str,
    ) -> Result<RawResponse, ApiError> {
        self.send_call(req, creds, region, service)
            .await
            .map_err(SendError::into_error)
    }

    /// [`SignedHttp::send`], saying whether a call without an answer may have reached the
    /// service: only a connection that was never made proves it did not.
    pub async fn send_call(
        &self,
        mut req: http::Request<Vec<u8>>,
        creds: &Credentials,
        region: &str,
        service: &str,
    ) -> Result<RawResponse, SendError> {
        let url = exact_url(req.uri()).map_err(SendError::NotSent)?;
        sign_request(&mut req, creds, region, service).map_err(SendError::NotSent)?;
        let (parts, body) = req.into_parts();
        let mut builder = self.http.request(parts.method, url).body(body);
        for (k, v) in parts.headers.iter() {
            builder = builder.header(k, v);
        }
        let resp = builder.send().await.map_err(|e| {
            let sent = !(e.is_connect() || e.is_builder());
            let e = unavailable(service, e.without_url());
            if sent {
                SendError::Unanswered(e)
            } else {
                SendError::NotSent(e)
            }
        })?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let (body, too_large) = read_body(resp, self.body_limit)
            .await
            .map_err(|e| SendError::Unanswered(unavailable(service, e.without_url())))?;
        Ok(RawResponse {
            status,
            headers,
            body,
            too_large,
        })
    }
}

/// The body, read chunk by chunk until `limit`; `(empty, true)` once past it (a declared
/// length over the limit is not read at all). Dropping the response closes the connection.
async fn read_body(
    mut resp: reqwest::Response,
    limit: Option<usize>,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let Some(limit) = limit else {
        return Ok((resp.bytes().await?.to_vec(), false));
    };
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Ok((Vec::new(), true));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Ok((Vec::new(), true));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, false))
}

#[async_trait]
impl SignedCaller for SignedHttp {
    async fn send(
        &self,
        req: http::Request<Vec<u8>>,
        creds: &Credentials,
        region: &str,
        service: &str,
    ) -> Result<RawResponse, SendError> {
        self.send_call(req, creds, region, service).await
    }
}

/// The URL to send, parsed once and refused if parsing changed its path or query: the URL
/// parser removes `.` and `..` segments (also percent-encoded ones), which would send a
/// request for another path than the one built and approved. Submissions refuse such labels;
/// this is the last check before anything leaves. Both refusals are about the request, not
/// an internal fault, so they keep their words (the URL holds no secret: it was approved).
pub(crate) fn exact_url(uri: &http::Uri) -> Result<reqwest::Url, ApiError> {
    let url = reqwest::Url::parse(&uri.to_string()).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidRequest,
            format!("cannot send request: its URL does not parse ({e}); nothing was sent"),
        )
    })?;
    if url.path() != uri.path() || url.query() != uri.query() {
        return Err(ApiError::new(
            ErrorCode::InvalidRequest,
            "cannot send request: its URL's path would change when sent (dot segments); nothing was sent",
        ));
    }
    Ok(url)
}

/// S3 signs the path as sent (encoded once, never normalised) and wants the payload hash in
/// `x-amz-content-sha256`; every other service encodes twice and normalises.
fn signing_settings(service: &str) -> SigningSettings {
    let mut s = SigningSettings::default();
    if service == "s3" {
        s.percent_encoding_mode = PercentEncodingMode::Single;
        s.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        s.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    }
    s
}

/// Adds the SigV4 `Authorization`, `X-Amz-Date` and (for sessions) `X-Amz-Security-Token`
/// headers. The payload is hashed, so the signature covers the exact body sent.
pub fn sign_request(
    req: &mut http::Request<Vec<u8>>,
    creds: &Credentials,
    region: &str,
    service: &str,
) -> Result<(), ApiError> {
    let identity: Identity = creds.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(service)
        .time(SystemTime::now())
        .settings(signing_settings(service))
        .build()
        .map_err(|e| ApiError::internal(format!("cannot sign request: {e}")))?
        .into();
    let uri = req.uri().to_string();
    let headers: Vec<(&str, &str)> = req
        .headers()
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str(), v)))
        .collect();
    let signable = SignableRequest::new(
        req.method().as_str(),
        &uri,
        headers.into_iter(),
        SignableBody::Bytes(req.body()),
    )
    .map_err(|e| ApiError::internal(format!("cannot sign request: {e}")))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| ApiError::internal(format!("cannot sign request: {e}")))?
        .into_parts();
    instructions.apply_to_request_http1x(req);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_with_session_token() {
        let creds = Credentials::new("AKID", "SECRET", Some("TOKEN".into()), None, "t");
        let mut req = http::Request::post("https://dynamodb.us-east-1.amazonaws.com/")
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", "DynamoDB_20120810.ListTables")
            .body(b"{}".to_vec())
            .unwrap();
        sign_request(&mut req, &creds, "us-east-1", "dynamodb").unwrap();
        let auth = req.headers()["authorization"].to_str().unwrap();
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKID/"));
        assert!(auth.contains("/us-east-1/dynamodb/aws4_request"));
        assert!(auth.contains("x-amz-target"));
        assert_eq!(req.headers()["x-amz-security-token"], "TOKEN");
        assert!(!auth.contains("SECRET"));
    }

    /// A loopback server handing each connection to `serve` with a counter it may bump.
    async fn loopback<F, Fut>(serve: F) -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>)
    where
        F: Fn(tokio::net::TcpStream, std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Fut
            + Send
            + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = count.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, counter.clone()));
            }
        });
        (base, count)
    }

    /// Answers every request with `307` to `/elsewhere` and counts the requests for it.
    async fn redirecting_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loopback(|mut stream, seen| async move {
            let mut buf = vec![0u8; 8192];
            let n = stream.read(&mut buf).await.unwrap_or(0);
            if String::from_utf8_lossy(&buf[..n]).starts_with("GET /elsewhere") {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let _ = stream
                .write_all(b"HTTP/1.1 307 Temporary Redirect\r\nlocation: /elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
        })
        .await
    }

    /// Answers every request with `200` and a chunked body that never ends, counting the
    /// bytes it managed to send.
    async fn endless_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sent = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = sent.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 8192];
                    let _ = stream.read(&mut buf).await;
                    let head = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
                    if stream.write_all(head).await.is_err() {
                        return;
                    }
                    let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
                    while stream.write_all(chunk.as_bytes()).await.is_ok() {
                        counter.fetch_add(64 * 1024, std::sync::atomic::Ordering::SeqCst);
                    }
                });
            }
        });
        (base, sent)
    }

    #[tokio::test]
    async fn an_endless_answer_is_read_up_to_the_limit_and_dropped() {
        let (base, sent) = endless_server().await;
        let creds = Credentials::new("AKID", "SECRET", None, None, "t");
        let req = http::Request::get(format!("{base}/b/k"))
            .body(vec![])
            .unwrap();
        // Reading it whole would never end: the bound is what makes this answer at all.
        let answer = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            SignedHttp::new()
                .with_body_limit(1024 * 1024)
                .send(req, &creds, "us-east-1", "s3"),
        )
        .await
        .expect("stopped reading at the limit")
        .unwrap();
        assert_eq!(answer.status, 200);
        assert!(answer.too_large);
        assert!(answer.body.is_empty());
        // The connection was dropped: the server stops well short of what it could send.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let after = sent.load(std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert_eq!(sent.load(std::sync::atomic::Ordering::SeqCst), after);
    }

    /// Reads each request whole and closes the connection without answering, as a network
    /// that drops after the request went out; counts the requests it read.
    async fn silent_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        use tokio::io::AsyncReadExt;
        loopback(|mut stream, read| async move {
            let mut buf = vec![0u8; 8192];
            if stream.read(&mut buf).await.unwrap_or(0) > 0 {
                read.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        })
        .await
    }

    #[tokio::test]
    async fn a_call_sent_without_an_answer_may_have_run_and_one_never_connected_did_not() {
        let creds = Credentials::new("AKID", "SECRET", None, None, "t");
        let call = |base: &str| {
            http::Request::post(format!("{base}/"))
                .header("x-amz-target", "DynamoDB_20120810.UpdateItem")
                .body(b"{}".to_vec())
                .unwrap()
        };
        let (base, read) = silent_server().await;
        let e = SignedHttp::new()
            .send_call(call(&base), &creds, "us-east-1", "dynamodb")
            .await
            .unwrap_err();
        assert_eq!(read.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(matches!(e, SendError::Unanswered(_)), "{e:?}");
        // Nothing listens on a port just released: the connection is refused.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = SignedHttp::new()
            .send_call(
                call(&format!("http://127.0.0.1:{port}")),
                &creds,
                "us-east-1",
                "dynamodb",
            )
            .await
            .unwrap_err();
        assert!(matches!(e, SendError::NotSent(_)), "{e:?}");
    }

    #[tokio::test]
    async fn redirects_are_answered_not_followed() {
        let (base, followed) = redirecting_server().await;
        let creds = Credentials::new("AKID", "SECRET", Some("TOKEN".into()), None, "t");
        let req = http::Request::get(format!("{base}/restapis/abc"))
            .body(vec![])
            .unwrap();
        let answer = SignedHttp::new()
            .send(req, &creds, "us-east-1", "apigateway")
            .await
            .unwrap();
        assert_eq!(answer.status, 307);
        assert_eq!(answer.headers["location"], "/elsewhere");
        assert_eq!(followed.load(std::sync::atomic::Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_path_the_url_parser_would_change_is_not_sent() {
        let (base, _) = redirecting_server().await;
        let creds = Credentials::new("AKID", "SECRET", None, None, "t");
        for path in [
            "/restapis/abc/stages/..",
            "/restapis/abc/stages/.",
            "/b/a/%2e%2e/k",
            "/b/./k",
        ] {
            let req = http::Request::delete(format!("{base}{path}"))
                .body(vec![])
                .unwrap();
            let e = SignedHttp::new()
                .send(req, &creds, "us-east-1", "apigateway")
                .await
                .unwrap_err();
            assert!(e.message.contains("would change"), "{path}: {}", e.message);
        }
        let ok = http::Request::delete(format!("{base}/b/a.b/..c/k%20x?x=1"))
            .body(vec![])
            .unwrap();
        assert_eq!(
            SignedHttp::new()
                .send(ok, &creds, "us-east-1", "s3")
                .await
                .unwrap()
                .status,
            307
        );
    }

    #[test]
    fn s3_signs_the_payload_hash() {
        let creds = Credentials::new("AKID", "SECRET", None, None, "t");
        let mut req = http::Request::put("https://b.s3.us-east-1.amazonaws.com/a%20b/c.txt")
            .body(b"hello".to_vec())
            .unwrap();
        sign_request(&mut req, &creds, "us-east-1", "s3").unwrap();
        assert_eq!(
            req.headers()["x-amz-content-sha256"],
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
    }
}
