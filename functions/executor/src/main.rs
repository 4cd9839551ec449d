use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tollgate_aws::settings::Settings;
use tollgate_executor::Executor;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tollgate_aws::logging::init();
    let sdk = tollgate_aws::config::load(None, None).await;
    // Settings given as `ssm:<name>` are read with the function's own credentials.
    let settings = Settings::load(&sdk).await?;
    let executor = Executor::new(settings, &sdk).await?;
    let executor = &executor;
    // An `ApiError` becomes the runtime's diagnostic with its code as the error type, which
    // the state machine matches on.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        executor.handle(event.payload).await
    }))
    .await
}
