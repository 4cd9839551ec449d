//! The approval state machine on Step Functions: start it, and tell it how the humans
//! decided.

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata};
use serde_json::json;
use tollgate_core::ApiError;

use crate::ports::Workflow;
use crate::unavailable;

#[derive(Clone, Debug)]
pub struct StepFunctions {
    client: Client,
    state_machine_arn: String,
}

/// Error name the state machine catches to end as rejected.
pub const REJECTED_ERROR: &str = "Rejected";
/// Error name the state machine catches to end as cancelled by the requesting agent.
pub const CANCELLED_ERROR: &str = "Cancelled";

impl StepFunctions {
    pub fn new(client: Client, state_machine_arn: String) -> Self {
        Self {
            client,
            state_machine_arn,
        }
    }

    fn settle<E>(r: Result<(), aws_sdk_sfn::error::SdkError<E>>) -> Result<bool, ApiError>
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match r {
            Ok(()) => Ok(true),
            Err(e)
                if matches!(
                    e.code(),
                    Some("TaskTimedOut" | "TaskDoesNotExist" | "InvalidToken")
                ) =>
            {
                tracing::warn!(code = e.code(), "task already closed");
                Ok(false)
            }
            Err(e) => Err(unavailable("Step Functions", DisplayErrorContext(&e))),
        }
    }
}

#[async_trait]
impl Workflow for StepFunctions {
    /// Starts the approval workflow. The execution is named after the request, so a retried
    /// start cannot create a second workflow for it.
    async fn start(&self, request_id: &str, timeout_seconds: u64) -> Result<(), ApiError> {
        let (remind_after, lead) = tollgate_core::reminder::schedule(timeout_seconds);
        let input = json!({
            "request_id": request_id,
            "timeout_seconds": timeout_seconds,
            "remind_after_seconds": remind_after,
            "remind_lead_seconds": lead,
        });
        match self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(request_id)
            .input(input.to_string())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.code() == Some("ExecutionAlreadyExists") => Ok(()),
            Err(e) => Err(unavailable("Step Functions", DisplayErrorContext(&e))),
        }
    }

    /// Resumes the waiting workflow. A token that already finished (timed out, or resumed by a
    /// racing caller) is not an error: the request's status in the table is the truth.
    async fn approve(&self, task_token: &str, request_id: &str) -> Result<bool, ApiError> {
        let out = json!({"request_id": request_id, "approved": true});
        let r = self
            .client
            .send_task_success()
            .task_token(task_token)
            .output(out.to_string())
            .send()
            .await;
        Self::settle(r.map(|_| ()))
    }

    async fn reject(&self, task_token: &str, cause: &str) -> Result<bool, ApiError> {
        let r = self
            .client
            .send_task_failure()
            .task_token(task_token)
            .error(REJECTED_ERROR)
            .cause(cause)
            .send()
            .await;
        Self::settle(r.map(|_| ()))
    }

    /// Ends the waiting workflow because the agent withdrew the request.
    async fn cancel(&self, task_token: &str) -> Result<bool, ApiError> {
        let r = self
            .client
            .send_task_failure()
            .task_token(task_token)
            .error(CANCELLED_ERROR)
            .cause("cancelled by the requesting agent")
            .send()
            .await;
        Self::settle(r.map(|_| ()))
    }

    /// Asks Step Functions for the execution named after the request. One that does not
    /// exist (never started, or past Step Functions' retention) is not running.
    async fn running(&self, request_id: &str) -> Result<bool, ApiError> {
        let arn = execution_arn(&self.state_machine_arn, request_id);
        match self
            .client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
        {
            Ok(out) => Ok(out.status() == &aws_sdk_sfn::types::ExecutionStatus::Running),
            Err(e) if e.code() == Some("ExecutionDoesNotExist") => Ok(false),
            Err(e) => Err(unavailable("Step Functions", DisplayErrorContext(&e))),
        }
    }
}

/// The ARN of a state machine's execution: `…:stateMachine:<machine>` becomes
/// `…:execution:<machine>:<name>`.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}
