//! Approver sessions: one item per sign-in, `pk = SESSION#<sha256(session id)>`, holding the
//! identity exactly as the ID token verified at the sign-in's callback, and its expiry
//! (also a DynamoDB TTL, so ended sessions do not pile up). The browser's cookie carries only
//! the session id; a cookie whose session has no item here (forged, replayed after logout,
//! expired) is no session. Only the id's hash is stored, so reading the table yields no
//! usable cookie. Session items carry none of the listing indexes' keys.

use aws_sdk_dynamodb::error::DisplayErrorContext;
use serde::{Deserialize, Serialize};
use tollgate_core::audit::sha256_hex;
use tollgate_core::{ApiError, Identity};

use super::{Store, n, s};
use crate::unavailable;

const SESSION_SK: &str = "SESSION";
/// Random bytes in a session id.
pub const SESSION_ID_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// As verified at sign-in: issuer, subject, name, groups.
    pub identity: Identity,
    pub created_ms: u64,
    /// Never later than the ID token's expiry.
    pub expires_ms: u64,
}

fn session_pk(session_id: &str) -> String {
    format!("SESSION#{}", sha256_hex(session_id.as_bytes()))
}

impl Store {
    /// Records a new session; a session id is random, so an existing item is a collision
    /// and refused rather than overwritten.
    pub async fn put_session(
        &self,
        session_id: &str,
        session: &SessionRecord,
    ) -> Result<(), ApiError> {
        let doc = serde_json::to_string(session).map_err(|e| ApiError::internal(e.to_string()))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(session_pk(session_id)))
            .item("sk", s(SESSION_SK))
            .item("doc", s(doc))
            .item("ttl", n(session.expires_ms.div_ceil(1000)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
        Ok(())
    }

    /// The session, when it exists and has not expired (DynamoDB's TTL deletes late).
    pub async fn session(
        &self,
        session_id: &str,
        now_ms: u64,
    ) -> Result<Option<SessionRecord>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(session_pk(session_id)))
            .key("sk", s(SESSION_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
        let Some(doc) = out
            .item()
            .and_then(|i| i.get("doc"))
            .and_then(|v| v.as_s().ok())
        else {
            return Ok(None);
        };
        let session: SessionRecord = serde_json::from_str(doc)
            .map_err(|e| ApiError::internal(format!("stored session unreadable: {e}")))?;
        Ok((session.expires_ms > now_ms).then_some(session))
    }

    /// Ends a session (logout). Ending one that does not exist is not an error.
    pub async fn delete_session(&self, session_id: &str) -> Result<(), ApiError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(session_pk(session_id)))
            .key("sk", s(SESSION_SK))
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
        Ok(())
    }
}
