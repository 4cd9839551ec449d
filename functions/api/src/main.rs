use lambda_http::request::RequestContext;
use lambda_http::{Body, Error, Request, RequestExt, service_fn};
use tollgate_api::{Api, FrontDoorRequest};
use tollgate_aws::settings::Settings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tollgate_aws::logging::init();
    let sdk = tollgate_aws::config::load(None, None).await;
    // Settings given as `ssm:<name>` are read with the function's own credentials.
    let settings = Settings::load(&sdk).await?;
    let policy = tollgate_api::load_policy(&settings, &sdk).await?;
    let shadow = tollgate_api::load_shadow_policy(&settings, &sdk).await?;
    let api = Api::new(settings, &sdk, policy).await?.with_shadow(shadow);
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| async move {
        let (source_ip, via_url) = caller(&req);
        let (parts, body) = req.into_parts();
        let call = front_door_call(&parts, &body);
        if via_url && call.is_none() {
            let (parts, body) = api.not_on_the_front_door().into_http().into_parts();
            return Ok(http::Response::from_parts(parts, Body::Text(body)));
        }
        if let Some(call) = call {
            let out = api.front_door(call, &source_ip).await;
            let mut resp = http::Response::builder().status(out.status);
            for (k, v) in &out.headers {
                resp = resp.header(k, v);
            }
            return Ok(resp
                .body(Body::Binary(out.body))
                .unwrap_or_else(|_| http::Response::new(Body::Empty)));
        }
        let resp = api
            .handle(http::Request::from_parts(parts, body.to_vec()), &source_ip)
            .await
            .into_http();
        let (parts, body) = resp.into_parts();
        Ok::<_, Error>(http::Response::from_parts(parts, Body::Text(body)))
    }))
    .await
}

/// The caller's address and whether the event came through the Function URL, as API Gateway
/// or the Function URL saw them; a client-sent header could be forged.
fn caller(req: &Request) -> (String, bool) {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(c)) => (
            c.http.source_ip.clone().unwrap_or_default(),
            c.domain_name.as_deref().is_some_and(is_function_url_host),
        ),
        _ => (String::new(), false),
    }
}

/// A Function URL's host (`<id>.lambda-url.<region>.on.aws`): the event came through the
/// front door's own URL, not the HTTP API.
fn is_function_url_host(host: &str) -> bool {
    host.contains(".lambda-url.") && host.ends_with(".on.aws")
}

/// A SigV4-signed call to a path that is none of Tollgate's own: the front door's. The path
/// is the event's raw path, never the URI `lambda_http` rebuilt (it prepends the stage and
/// normalises); the query is API Gateway's raw query string.
fn front_door_call(parts: &http::request::Parts, body: &[u8]) -> Option<FrontDoorRequest> {
    let raw_path = parts.raw_http_path();
    let own = raw_path.starts_with("/v1/")
        || raw_path == "/v1"
        || raw_path == "/mcp"
        || raw_path.starts_with("/.well-known/");
    let raw_query = parts.uri.query().unwrap_or("").to_string();
    let headers: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.as_bytes().to_vec()))
        .collect();
    if own || tollgate_api::signing_key_id(&headers, &raw_query).is_none() {
        return None;
    }
    Some(FrontDoorRequest {
        method: parts.method.as_str().to_string(),
        raw_path: raw_path.to_string(),
        raw_query,
        headers,
        body: body.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Function URL event (payload 2.0) for `raw_path`, signed-looking.
    fn url_event(raw_path: &str) -> String {
        serde_json::json!({
            "version": "2.0",
            "routeKey": "$default",
            "rawPath": raw_path,
            "rawQueryString": "x-id=PutObject",
            "headers": {
                "host": "abc123.lambda-url.eu-west-1.on.aws",
                "authorization": "AWS4-HMAC-SHA256 Credential=TGATEABCDEFGHIJKLMNO/20261203/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=00",
                "x-amz-date": "20261203T081500Z"
            },
            "requestContext": {
                "accountId": "anonymous", "apiId": "abc123",
                "domainName": "abc123.lambda-url.eu-west-1.on.aws", "domainPrefix": "abc123",
                "http": {"method": "PUT", "path": raw_path, "protocol": "HTTP/1.1",
                         "sourceIp": "203.0.113.9", "userAgent": "aws-cli/1.36"},
                "requestId": "r1", "routeKey": "$default", "stage": "$default",
                "time": "03/Dec/2026:08:15:00 +0000", "timeEpoch": 1796285700000u64
            },
            "body": "aGVsbG8=",
            "isBase64Encoded": true
        })
        .to_string()
    }

    /// What reaches the verifier is the path as the client signed it: `%2F`, `%3F`, `%25`
    /// and a double-encoded `%252F` survive lambda_http, which rebuilds (and normalises) the
    /// request's URI but keeps the event's rawPath.
    #[test]
    fn a_function_url_call_reaches_the_front_door_with_its_exact_path() {
        let path = "/bucket/a%2Fb%3Fc%25d%252F/../e%20f";
        let req = lambda_http::request::from_str(&url_event(path)).unwrap();
        assert_eq!(
            caller(&req),
            ("203.0.113.9".to_string(), true),
            "a Function URL event is recognised as one"
        );
        let (parts, body) = req.into_parts();
        let call = front_door_call(&parts, &body).expect("a signed call is the front door's");
        assert_eq!(call.raw_path, path);
        assert_eq!(call.raw_query, "x-id=PutObject");
        assert_eq!(call.body, b"hello");
    }

    /// The front door's body bound fits one Lambda invocation (6,291,456 bytes of request):
    /// a Function URL event for an aws-chunked `PutObject` with a body as large as the front
    /// door reads, base64 as the URL sends it, with the headers boto3 sends and a long session
    /// token, is under the limit, and reaches the front door whole. Run with `--nocapture` to
    /// see the envelope's size.
    #[test]
    fn the_largest_body_the_front_door_reads_fits_one_lambda_invocation() {
        use base64::Engine as _;
        const INVOCATION_LIMIT: usize = 6_291_456;
        let body = vec![0xA5u8; tollgate_api::MAX_WIRE_BODY_BYTES];
        let encoded = base64::engine::general_purpose::STANDARD.encode(&body);
        let mut event: serde_json::Value =
            serde_json::from_str(&url_event("/media/big.bin")).unwrap();
        let long = |n: usize| "x".repeat(n);
        for (k, v) in [
            ("x-amz-security-token", long(1024)),
            ("user-agent", long(256)),
            ("x-amz-user-agent", long(256)),
            (
                "authorization",
                format!(
                    "AWS4-HMAC-SHA256 Credential=TGATEABCDEFGHIJKLMNO/20261203/eu-west-1/s3/aws4_request, SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-encoding;content-type;host;transfer-encoding;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-sdk-checksum-algorithm;x-amz-security-token;x-amz-trailer, Signature={}",
                    long(64)
                ),
            ),
            (
                "x-amz-content-sha256",
                "STREAMING-UNSIGNED-PAYLOAD-TRAILER".into(),
            ),
            ("content-encoding", "aws-chunked".into()),
            ("content-type", "application/octet-stream".into()),
            (
                "x-amz-decoded-content-length",
                tollgate_core::payload::MAX_FRONT_DOOR_BODY_BYTES.to_string(),
            ),
            ("x-amz-trailer", "x-amz-checksum-crc32".into()),
            ("x-amz-sdk-checksum-algorithm", "CRC32".into()),
            (
                "amz-sdk-invocation-id",
                "0b7a3f2e-1c4d-4e5f-8a9b-0c1d2e3f4a5b".into(),
            ),
            ("amz-sdk-request", "attempt=1; max=3".into()),
            ("x-amzn-trace-id", format!("Root=1-{}", long(32))),
            ("x-forwarded-for", "203.0.113.9".into()),
            ("x-forwarded-proto", "https".into()),
            ("x-forwarded-port", "443".into()),
            ("x-amzn-tls-version", "TLSv1.3".into()),
            ("x-amzn-tls-cipher-suite", "TLS_AES_128_GCM_SHA256".into()),
            ("expect", "100-continue".into()),
        ] {
            event["headers"][k] = serde_json::Value::String(v);
        }
        event["body"] = serde_json::Value::String(encoded.clone());
        let text = event.to_string();
        let envelope = text.len() - encoded.len();
        println!(
            "event {} bytes: body {} bytes in {} of base64, envelope {envelope} bytes; {} bytes to spare",
            text.len(),
            body.len(),
            encoded.len(),
            INVOCATION_LIMIT as i64 - text.len() as i64
        );
        assert!(text.len() <= INVOCATION_LIMIT, "{} bytes", text.len());
        let req = lambda_http::request::from_str(&text).unwrap();
        let (parts, got) = req.into_parts();
        let call = front_door_call(&parts, &got).expect("the front door's");
        assert_eq!(call.body.len(), body.len());
    }

    #[test]
    fn only_function_url_hosts_are_taken_for_one() {
        assert!(is_function_url_host("abc.lambda-url.us-east-1.on.aws"));
        for h in [
            "abc.execute-api.us-east-1.amazonaws.com",
            "tollgate.example.com",
            "lambda-url.on.aws.example.com",
        ] {
            assert!(!is_function_url_host(h), "{h}");
        }
    }
}
