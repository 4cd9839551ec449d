//! An answer of Tollgate's HTTP API: its status and JSON body, whichever way it was reached.

use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Answer {
    /// `error.code` of an error answer.
    pub fn error_code(&self) -> Option<&str> {
        self.body.pointer("/error/code").and_then(Value::as_str)
    }

    pub fn request_status(&self) -> Option<&str> {
        self.body.get("status").and_then(Value::as_str)
    }
}

const FINAL: [&str; 6] = [
    "DENIED",
    "SUCCEEDED",
    "FAILED",
    "REJECTED",
    "EXPIRED",
    "CANCELLED",
];

/// Whether a request status (as the API spells it) is final.
pub fn is_final(status: &str) -> bool {
    FINAL.contains(&status)
}
