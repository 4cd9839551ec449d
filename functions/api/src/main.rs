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
        // API Gateway's own view of the caller; a client-sent header could be forged.
        let source_ip = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let (parts, body) = req.into_parts();
        if let Some(call) = front_door_call(&parts, &body) {
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
