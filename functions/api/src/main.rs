use lambda_http::request::RequestContext;
use lambda_http::{Body, Error, Request, RequestExt, service_fn};
use tollgate_api::Api;
use tollgate_aws::settings::Settings;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tollgate_aws::logging::init();
    let settings = Settings::from_env()?;
    let sdk = tollgate_aws::config::load(None, None).await;
    let policy = tollgate_api::load_policy(&settings, &sdk).await?;
    let api = Api::new(settings, &sdk, policy).await?;
    let api = &api;
    lambda_http::run(service_fn(move |req: Request| async move {
        // API Gateway's own view of the caller; a client-sent header could be forged.
        let source_ip = match req.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let (parts, body) = req.into_parts();
        let resp = api
            .handle(http::Request::from_parts(parts, body.to_vec()), &source_ip)
            .await
            .into_http();
        let (parts, body) = resp.into_parts();
        Ok::<_, Error>(http::Response::from_parts(parts, Body::Text(body)))
    }))
    .await
}
