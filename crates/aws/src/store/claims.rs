//! Releasing an idempotency claim: the front door holds a call's claim while its request
//! waits, so that the same call joins it, and lets go once the answer is delivered, so that
//! the next identical call is a new request.

use aws_sdk_dynamodb::error::DisplayErrorContext;
use tollgate_core::ApiError;

use super::{META, Store, is_condition_failure, keys, s};
use crate::unavailable;

impl Store {
    /// Deletes the claim `key_hash` if it still points at `request_id`. `false` when it did
    /// not (already released by a concurrent caller, or taken by another request): only the
    /// caller that released it delivers the answer.
    pub(super) async fn delete_claim(
        &self,
        key_hash: &str,
        request_id: &str,
    ) -> Result<bool, ApiError> {
        match self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(keys::idempotency(key_hash)))
            .key("sk", s(META))
            .condition_expression("request_id = :id")
            .expression_attribute_values(":id", s(request_id))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failure(&e) => Ok(false),
            Err(e) => Err(unavailable("DynamoDB", DisplayErrorContext(&e))),
        }
    }
}
