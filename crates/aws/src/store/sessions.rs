//! Approver sessions: one item per sign-in, `pk = SESSION#<sha256(session id)>`, holding the
//! identity exactly as the ID token verified at the sign-in's callback, and its expiry
//! (also a DynamoDB TTL, so ended sessions do not pile up). The browser's cookie carries only
//! the session id; a cookie whose session has no item here (forged, replayed after logout,
//! expired) is no session. Only the id's hash is stored, so reading the table yields no
//! usable cookie. Session items carry none of the listing indexes' keys.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use serde::{Deserialize, Serialize};
use tollgate_core::{ApiError, ErrorCode, Identity};

use super::item::{ItemExt, n, s};
use super::keys::{self, SESSION as SESSION_SK};
use super::{Store, is_condition_failure};
use crate::ports::SessionStore;
use crate::unavailable;
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

/// A session id is random, so an existing item is a collision, refused rather than
/// overwritten.
pub(crate) fn session_collision() -> ApiError {
    ApiError::new(ErrorCode::Conflict, "session id collision; sign in again")
}

#[async_trait]
impl SessionStore for Store {
    async fn put_session(&self, session_id: &str, session: &SessionRecord) -> Result<(), ApiError> {
        let doc = serde_json::to_string(session).map_err(|e| ApiError::internal(e.to_string()))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::session(session_id)))
            .item("sk", s(SESSION_SK))
            .item("doc", s(doc))
            .item("ttl", n(session.expires_ms.div_ceil(1000)))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| {
                if is_condition_failure(&e) {
                    session_collision()
                } else {
                    unavailable("DynamoDB", DisplayErrorContext(&e))
                }
            })?;
        Ok(())
    }

    /// DynamoDB's TTL deletes late: the expiry is checked here.
    async fn session(
        &self,
        session_id: &str,
        now_ms: u64,
    ) -> Result<Option<SessionRecord>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::session(session_id)))
            .key("sk", s(SESSION_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let session: SessionRecord = item.doc("stored session")?;
        Ok((session.expires_ms > now_ms).then_some(session))
    }

    async fn delete_session(&self, session_id: &str) -> Result<(), ApiError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(keys::session(session_id)))
            .key("sk", s(SESSION_SK))
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
        Ok(())
    }
}
