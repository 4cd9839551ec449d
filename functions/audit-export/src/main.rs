use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tollgate_audit_export::Exporter;
use tollgate_aws::config::{env, require_env};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tollgate_aws::logging::init();
    let sdk = tollgate_aws::config::load(None, None).await;
    let bucket = require_env("TOLLGATE_AUDIT_BUCKET")?;
    let prefix = env("TOLLGATE_AUDIT_PREFIX").unwrap_or_else(|| "audit/".into());
    let exporter = Exporter::new(&sdk, bucket, prefix, None)?;
    let exporter = &exporter;
    // An `ApiError` becomes the runtime's diagnostic with its code as the error type, which
    // the state machine matches on.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        exporter.handle(event.payload).await
    }))
    .await
}
