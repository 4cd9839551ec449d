//! An answer of Tollgate's HTTP API: its status and JSON body, whichever way it was reached.

use serde_json::Value;
use tollgate_core::Status;

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

    /// The request's status, when the answer carries one Tollgate knows.
    pub fn request_state(&self) -> Option<Status> {
        self.request_status().and_then(Status::parse)
    }
}

/// Whether a request status (as the API spells it) is final. An unknown spelling is not.
pub fn is_final(status: &str) -> bool {
    Status::parse(status).is_some_and(Status::is_final)
}
