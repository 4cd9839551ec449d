use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tollgate_aws::config::{env, require_env};
use tollgate_slack::Forwarder;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tollgate_aws::logging::init();
    let sdk = tollgate_aws::config::load(None, None).await;
    let forwarder = Forwarder::new(
        &sdk,
        require_env("TOLLGATE_SLACK_SECRET_ID")?,
        require_env("TOLLGATE_TABLE")?,
        env("TOLLGATE_SLACK_API_URL").unwrap_or_else(|| "https://slack.com/api".into()),
    );
    let forwarder = &forwarder;
    // An `ApiError` becomes the runtime's diagnostic with its code as the error type, which
    // the state machine matches on.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        forwarder.handle(event.payload).await
    }))
    .await
}
