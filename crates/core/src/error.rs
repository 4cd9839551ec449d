//! Errors the caller sees: a stable code, an HTTP status and a message that names the field
//! and the reason. Messages never carry tokens or secrets.

use serde::Serialize;
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
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
    Internal,
    Unavailable,
}

impl ErrorCode {
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
            Internal => 500,
            Unavailable => 503,
        }
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

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
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
    fn detail_is_merged_without_overwriting() {
        let e = ApiError::new(ErrorCode::Denied, "no")
            .with_detail(json!({"policy_ids": ["p1"], "code": "spoofed"}));
        let b = e.body();
        assert_eq!(b["error"]["code"], "denied");
        assert_eq!(b["error"]["policy_ids"][0], "p1");
    }
}
