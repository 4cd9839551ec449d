//! Why a request ended FAILED: a stable code and a message for people, stored with the record
//! and shown in its view. Codes are snake_case like API error codes; records written before
//! that carry PascalCase codes (`ExecutionInterrupted`), which are still read. A call AWS
//! refused keeps AWS's own code (`ResourceNotFoundException`) and HTTP status, so an agent
//! sees what the SDK would have told it.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Longest message kept from another system (a workflow's cause, an AWS error), in characters.
pub const MAX_FAILURE_MESSAGE_CHARS: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailureCode {
    /// An earlier execution attempt claimed the request and never recorded how it ended.
    ExecutionInterrupted,
    /// The stored request no longer hashes to what was approved.
    RequestAltered,
    /// The request's target has no role configured.
    UnknownTarget,
    /// No session policy could scope the call to its actions and resources.
    UnscopedRequest,
    /// STS refused the scoped role.
    AssumeRoleFailed,
    /// The operation is not in the AWS API models.
    UnknownOperation,
    /// The call could not be built from its parameters.
    RequestBuildFailed,
    /// The call could not be sent: nothing reached the service.
    ServiceUnavailable,
    /// The call was sent and no whole answer came back (a timeout, a dropped connection):
    /// the service may have run it.
    AnswerLost,
    /// The approval workflow could not be started.
    WorkflowUnavailable,
    /// The approval workflow failed on its own account.
    WorkflowError,
    /// The request's workflow is no longer running and nothing else will move it on (found by
    /// the sweeper).
    WorkflowGone,
    /// A plan step's reference could not be resolved, or resolved to something that would
    /// change what the step acts on.
    ReferenceRefused,
    /// A plan run by the agent's calls was not finished within its window: the steps not
    /// called by then never run.
    PlanWindowEnded,
    /// The body kept beside the record (a front-door upload) is missing or is no longer the
    /// approved bytes: nothing was sent.
    PayloadMismatch,
    /// AWS answered the call with this error code.
    Aws(String),
    /// A code this version does not know, read from an older record: kept as written.
    Other(String),
}

/// Each named code with its stored name and the PascalCase name older records carry.
const NAMED: [(FailureCode, &str, &str); 15] = [
    (
        FailureCode::ExecutionInterrupted,
        "execution_interrupted",
        "ExecutionInterrupted",
    ),
    (
        FailureCode::RequestAltered,
        "request_altered",
        "RequestAltered",
    ),
    (
        FailureCode::UnknownTarget,
        "unknown_target",
        "UnknownTarget",
    ),
    (
        FailureCode::UnscopedRequest,
        "unscoped_request",
        "UnscopedRequest",
    ),
    (
        FailureCode::AssumeRoleFailed,
        "assume_role_failed",
        "AssumeRoleFailed",
    ),
    (
        FailureCode::UnknownOperation,
        "unknown_operation",
        "UnknownOperation",
    ),
    (
        FailureCode::RequestBuildFailed,
        "request_build_failed",
        "RequestBuildFailed",
    ),
    (
        FailureCode::ServiceUnavailable,
        "service_unavailable",
        "ServiceUnavailable",
    ),
    (FailureCode::AnswerLost, "answer_lost", "AnswerLost"),
    (
        FailureCode::WorkflowUnavailable,
        "workflow_unavailable",
        "WorkflowUnavailable",
    ),
    (
        FailureCode::WorkflowError,
        "workflow_error",
        "WorkflowError",
    ),
    (FailureCode::WorkflowGone, "workflow_gone", "WorkflowGone"),
    (
        FailureCode::ReferenceRefused,
        "reference_refused",
        "ReferenceRefused",
    ),
    (
        FailureCode::PlanWindowEnded,
        "plan_window_ended",
        "PlanWindowEnded",
    ),
    (
        FailureCode::PayloadMismatch,
        "payload_mismatch",
        "PayloadMismatch",
    ),
];

impl FailureCode {
    /// The code as stored and shown.
    pub fn as_str(&self) -> &str {
        match self {
            FailureCode::Aws(c) | FailureCode::Other(c) => c,
            named => NAMED
                .iter()
                .find(|(c, _, _)| c == named)
                .map_or("", |(_, name, _)| name),
        }
    }

    /// A stored code without an HTTP status: a named one (either spelling), else kept as is.
    fn read(s: &str) -> Self {
        NAMED
            .iter()
            .find(|(_, name, legacy)| s == *name || s == *legacy)
            .map_or_else(|| FailureCode::Other(s.to_string()), |(c, _, _)| c.clone())
    }
}

impl std::fmt::Display for FailureCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub code: FailureCode,
    pub message: String,
    /// The HTTP status AWS answered with, for [`FailureCode::Aws`].
    pub status: Option<u16>,
    /// Whether the AWS call may have run, when Tollgate cannot know (`Some(true)` for an
    /// execution interrupted after its claim) or has checked that it did not (`Some(false)`).
    pub may_have_run: Option<bool>,
}

impl Failure {
    pub fn new(code: FailureCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            status: None,
            may_have_run: None,
        }
    }

    /// The same failure, saying whether the call may have run.
    pub fn with_may_have_run(mut self, may_have_run: bool) -> Self {
        self.may_have_run = Some(may_have_run);
        self
    }

    /// A call that never reached the service (no connection was made): it did not run.
    pub fn not_sent(message: impl Into<String>) -> Self {
        Self::new(FailureCode::ServiceUnavailable, message).with_may_have_run(false)
    }

    /// A call that went out and whose answer was lost: the service may have run it, and only
    /// the target's own records (CloudTrail) can say. Saying `may_have_run: true` is what
    /// keeps someone from asking for the same call again on the belief it never ran.
    pub fn answer_lost(message: impl Into<String>) -> Self {
        Self::new(
            FailureCode::AnswerLost,
            format!(
                "the call was sent and its answer was lost ({}); it may have run: look for it in the target account's CloudTrail",
                message.into()
            ),
        )
        .with_may_have_run(true)
    }

    /// A call AWS refused, with its error code and status.
    pub fn aws(code: impl Into<String>, message: impl Into<String>, status: u16) -> Self {
        Self {
            code: FailureCode::Aws(code.into()),
            message: message.into(),
            status: Some(status),
            may_have_run: None,
        }
    }

    /// The approval workflow's caught error (`{"Error", "Cause"}`, the cause being the
    /// function's `{"errorType", "errorMessage"}` when a function failed), bounded.
    pub fn from_workflow(caught: &serde_json::Value) -> Self {
        let name = caught.get("Error").and_then(|v| v.as_str());
        let cause = caught.get("Cause").and_then(|v| v.as_str());
        // A function's error arrives as its JSON diagnostic; its message is what matters.
        let said = cause
            .and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok())
            .and_then(|v| v.get("errorMessage")?.as_str().map(str::to_string));
        let cause = said
            .as_deref()
            .or(cause)
            .unwrap_or("the approval workflow failed");
        let message = match name {
            Some(n) => format!("{n}: {cause}"),
            None => cause.to_string(),
        };
        Self::new(
            FailureCode::WorkflowError,
            message
                .chars()
                .take(MAX_FAILURE_MESSAGE_CHARS)
                .collect::<String>(),
        )
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// The stored shape: `{"code", "message"}`, plus `"status"` for an AWS error.
#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    may_have_run: Option<bool>,
}

impl Serialize for Failure {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Stored {
            code: self.code.as_str().to_string(),
            message: self.message.clone(),
            status: self.status,
            may_have_run: self.may_have_run,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Failure {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Stored {
            code,
            message,
            status,
            may_have_run,
        } = Stored::deserialize(d)?;
        // Only AWS errors carry a status; their codes are AWS's, whatever they look like
        // (AWS has a `ServiceUnavailable` of its own).
        let code = match status {
            Some(_) => FailureCode::Aws(code),
            None => FailureCode::read(&code),
        };
        Ok(Self {
            code,
            message,
            status,
            may_have_run,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn codes_are_stored_snake_case_and_old_pascal_case_ones_still_read() {
        let f = Failure::new(FailureCode::ExecutionInterrupted, "gone");
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(
            v,
            json!({"code": "execution_interrupted", "message": "gone"})
        );
        assert_eq!(serde_json::from_value::<Failure>(v).unwrap(), f);
        for (code, name, legacy) in NAMED {
            assert_eq!(code.as_str(), name);
            assert_eq!(FailureCode::read(legacy), code, "{legacy}");
            assert_eq!(FailureCode::read(name), code, "{name}");
        }
        let old: Failure =
            serde_json::from_value(json!({"code": "AssumeRoleFailed", "message": "no"})).unwrap();
        assert_eq!(old.code, FailureCode::AssumeRoleFailed);
        assert_eq!(
            serde_json::to_value(&old).unwrap()["code"],
            "assume_role_failed"
        );
    }

    #[test]
    fn a_lost_answer_may_have_run_and_an_unsent_call_did_not() {
        let lost = Failure::answer_lost("dynamodb is unavailable; try again");
        assert_eq!(lost.code, FailureCode::AnswerLost);
        assert_eq!(lost.may_have_run, Some(true));
        assert!(lost.message.contains("may have run"), "{}", lost.message);
        let v = serde_json::to_value(&lost).unwrap();
        assert_eq!(v["code"], "answer_lost");
        assert_eq!(v["may_have_run"], true);
        assert_eq!(serde_json::from_value::<Failure>(v).unwrap(), lost);
        let unsent = Failure::not_sent("dynamodb is unavailable; try again");
        assert_eq!(unsent.code, FailureCode::ServiceUnavailable);
        assert_eq!(unsent.may_have_run, Some(false));
    }

    #[test]
    fn aws_codes_and_unknown_ones_are_kept_as_written() {
        let f = Failure::aws("ServiceUnavailable", "try later", 503);
        let v = serde_json::to_value(&f).unwrap();
        assert_eq!(
            v,
            json!({"code": "ServiceUnavailable", "message": "try later", "status": 503})
        );
        // Read back, AWS's own `ServiceUnavailable` stays AWS's, not Tollgate's.
        assert_eq!(serde_json::from_value::<Failure>(v).unwrap(), f);
        let old: Failure =
            serde_json::from_value(json!({"code": "States.TaskFailed", "message": "x"})).unwrap();
        assert_eq!(old.code, FailureCode::Other("States.TaskFailed".into()));
        assert_eq!(
            serde_json::to_value(&old).unwrap()["code"],
            "States.TaskFailed"
        );
    }

    #[test]
    fn a_workflow_error_keeps_the_functions_message_and_is_bounded() {
        let caught = json!({
            "Error": "unavailable",
            "Cause": json!({"errorType": "unavailable", "errorMessage": "SNS is unavailable; try again"}).to_string(),
        });
        let f = Failure::from_workflow(&caught);
        assert_eq!(f.code, FailureCode::WorkflowError);
        assert_eq!(f.message, "unavailable: SNS is unavailable; try again");
        let f =
            Failure::from_workflow(&json!({"Error": "States.Timeout", "Cause": "x".repeat(900)}));
        assert_eq!(f.message.chars().count(), MAX_FAILURE_MESSAGE_CHARS);
        assert!(f.message.starts_with("States.Timeout: xx"));
        let f = Failure::from_workflow(&json!(null));
        assert_eq!(f.message, "the approval workflow failed");
    }
}
