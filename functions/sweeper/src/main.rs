use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use tollgate_aws::config::require_env;
use tollgate_sweeper::Sweeper;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tollgate_aws::logging::init();
    let sdk = tollgate_aws::config::load(None, None).await;
    let bound_ms = tollgate_sweeper::bound_from(
        tollgate_aws::config::env("TOLLGATE_SWEEP_AFTER_SECONDS").as_deref(),
    )?;
    let sweeper = Sweeper::new(
        &sdk,
        require_env("TOLLGATE_TABLE")?,
        require_env("TOLLGATE_STATE_MACHINE_ARN")?,
        require_env("TOLLGATE_TOPIC_ARN")?,
        bound_ms,
    )
    .with_alarms(
        Sweeper::alarm_topic(&sdk, tollgate_aws::config::env("TOLLGATE_ALARM_TOPIC_ARN")),
        tollgate_aws::config::env("TOLLGATE_PUBLIC_URL").unwrap_or_default(),
    )
    .with_public_url(
        tollgate_aws::config::env("TOLLGATE_PUBLIC_URL")
            .as_deref()
            .unwrap_or(""),
    );
    let sweeper = &sweeper;
    // The schedule's event carries nothing the sweep needs: every run looks at the table.
    lambda_runtime::run(service_fn(move |_: LambdaEvent<Value>| async move {
        sweeper
            .sweep(tollgate_aws::now_ms())
            .await
            .map(|report| report.to_json())
    }))
    .await
}
