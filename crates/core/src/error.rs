//! Errors the caller sees: a stable code, an HTTP status and a message that names the field
//! and the reason. Messages never carry tokens or secrets.

use serde::Serialize;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidJson,
    PayloadTooLarge,
    UnsupportedMediaType,
    Unauthorized,
    Forbidden,
    Denied,
    NotFound,
    UnknownAction,
    MethodNotAllowed,
    Conflict,
    AlreadyFinal,
    AlreadyVoted,
    SelfApproval,
    IdempotencyMismatch,
    TooManyRequests,
    Internal,
    Unavailable,
}

impl ErrorCode {
    /// The code as the API writes it (`already_final`), and as a function's error type.
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidJson => "invalid_json",
            PayloadTooLarge => "payload_too_large",
            UnsupportedMediaType => "unsupported_media_type",
            Unauthorized => "unauthorized",
            Forbidden => "forbidden",
            Denied => "denied",
            NotFound => "not_found",
            UnknownAction => "unknown_action",
            MethodNotAllowed => "method_not_allowed",
            Conflict => "conflict",
            AlreadyFinal => "already_final",
            AlreadyVoted => "already_voted",
            SelfApproval => "self_approval",
            IdempotencyMismatch => "idempotency_mismatch",
            TooManyRequests => "too_many_requests",
            Internal => "internal",
            Unavailable => "unavailable",
        }
    }

    pub fn http_status(self) -> u16 {
        use ErrorCode::*;
        match self {
            InvalidRequest | InvalidJson => 400,
            Unauthorized => 401,
            Forbidden | Denied | SelfApproval => 403,
            NotFound | UnknownAction => 404,
            MethodNotAllowed => 405,
            Conflict | AlreadyFinal | AlreadyVoted => 409,
            PayloadTooLarge => 413,
            UnsupportedMediaType => 415,
            IdempotencyMismatch => 422,
            TooManyRequests => 429,
            Internal => 500,
            Unavailable => 503,
        }
    }
}

/// Written as [`ErrorCode::as_str`] says, so the API and the Lambda error type agree.
impl Serialize for ErrorCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// The request field at fault, e.g. `params.TableName`.
    pub field: Option<String>,
    /// Extra machine-readable detail (policy ids of a denial, the current status, ...).
    pub detail: Option<Box<serde_json::Value>>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
            detail: None,
        }
    }

    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = format!("{field}: {}", message.into());
        Self {
            code: ErrorCode::InvalidRequest,
            message,
            field: Some(field),
            detail: None,
        }
    }

    /// A well-formed field asking for more than the caller may have (a grant beyond what the
    /// request's policy bounds): `403 forbidden`, not a malformed request, naming the field.
    pub fn beyond_policy(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: ErrorCode::Forbidden,
            ..Self::field(field, message)
        }
    }

    /// Names the request field at fault, for an error whose code is not `invalid_request`
    /// (an unknown action, a stale hash); the message is left as it is.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_detail(mut self, detail: serde_json::Value) -> Self {
        self.detail = Some(Box::new(detail));
        self
    }

    pub fn status(&self) -> u16 {
        self.code.http_status()
    }

    /// The JSON body of the error: `{"error": {"code", "message", ...}}`.
    pub fn body(&self) -> serde_json::Value {
        let mut err = json!({"code": self.code, "message": self.message});
        if let Some(f) = &self.field {
            err["field"] = json!(f);
        }
        if let Some(d) = &self.detail
            && let (Some(obj), Some(extra)) = (err.as_object_mut(), d.as_object())
        {
            for (k, v) in extra {
                obj.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        json!({ "error": err })
    }

    /// Something went wrong on Tollgate's side. `detail` (a serde or signer error, say) is
    /// logged here and never answered: the caller learns only that it happened.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(ErrorCode::Internal, INTERNAL_MESSAGE)
    }
}

/// What a caller is told of an internal error.
pub const INTERNAL_MESSAGE: &str = "internal error; nothing more is said here, and it is logged";

/// A function invoked by Step Functions fails with the code as its error type, so the state
/// machine can retry `unavailable` and `conflict` by name (`ErrorEquals`).
#[cfg(feature = "lambda")]
impl From<ApiError> for lambda_runtime::Diagnostic {
    fn from(e: ApiError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: e.code.as_str().to_string(),
            error_message: e.message,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_name_the_field() {
        let e = ApiError::field("params.TableName", "must be a string");
        assert_eq!(e.status(), 400);
        let b = e.body();
        assert_eq!(b["error"]["code"], "invalid_request");
        assert_eq!(b["error"]["field"], "params.TableName");
        assert_eq!(b["error"]["message"], "params.TableName: must be a string");
    }

    #[test]
    fn a_field_can_be_named_for_any_code() {
        let e = ApiError::new(ErrorCode::UnknownAction, "action: `s3:Nope` is not known")
            .with_field("action");
        assert_eq!(e.status(), 404);
        let b = e.body();
        assert_eq!(b["error"]["field"], "action");
        assert_eq!(b["error"]["message"], "action: `s3:Nope` is not known");
        assert_eq!(b["error"]["code"], "unknown_action");
    }

    #[test]
    fn internal_errors_say_nothing_of_their_cause() {
        let e = ApiError::internal("expected value at line 1 column 1 in `secret-doc`");
        assert_eq!(e.status(), 500);
        assert_eq!(e.message, INTERNAL_MESSAGE);
        assert!(!e.body().to_string().contains("secret-doc"), "{}", e.body());
    }

    #[cfg(feature = "lambda")]
    #[test]
    fn functions_fail_with_the_code_as_error_type() {
        let d = lambda_runtime::Diagnostic::from(ApiError::new(
            ErrorCode::Unavailable,
            "SNS is unavailable; try again",
        ));
        assert_eq!(d.error_type, "unavailable");
        assert_eq!(d.error_message, "SNS is unavailable; try again");
    }

    #[test]
    fn detail_is_merged_without_overwriting() {
        let e = ApiError::new(ErrorCode::Denied, "no")
            .with_detail(json!({"policy_ids": ["p1"], "code": "spoofed"}));
        let b = e.body();
        assert_eq!(b["error"]["code"], "denied");
        assert_eq!(b["error"]["policy_ids"][0], "p1");
    }
}
