//! Grants (`tollgate_core::grant`): one item each, `pk = GRANT`, `sk = <grant id>`. The
//! fixed terms are the JSON `doc`; what changes is in attributes the conditions read:
//! `uses`, `max_uses`, `expires_at` (ms), `revoked` (a boolean, with `revocation`, the JSON
//! of who and when), `expiry_noticed`. Using a grant is one `UpdateItem` adding 1 to `uses`
//! on `uses < max_uses AND expires_at > now AND revoked = false`: DynamoDB applies it
//! atomically on the item, so concurrent uses never count past `max_uses`. `ttl` removes the
//! item a day after it expires (DynamoDB's TTL deletes late; every reader checks the time).

use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use tollgate_core::ApiError;
use tollgate_core::grant::{Grant, Revocation};

use super::item::{Item, ItemExt, n, s};
use super::{Store, is_condition_failure, keys};
use crate::ports::GrantStore;
use crate::unavailable;

/// How long a grant's item stays after it expires, so listings still show how it ended.
pub(crate) const KEPT_AFTER_EXPIRY_MS: u64 = 86_400_000;

fn flag(item: &Item, name: &str) -> bool {
    item.get(name)
        .and_then(|v| v.as_bool().ok())
        .copied()
        .unwrap_or(false)
}

fn grant_of(item: &Item) -> Result<Grant, ApiError> {
    let mut g: Grant = item.doc("stored grant")?;
    g.uses = item
        .number("uses")
        .and_then(|u| u32::try_from(u).ok())
        .unwrap_or(g.max_uses);
    g.revoked = match item.string("revocation") {
        Some(r) => Some(
            serde_json::from_str(r)
                .map_err(|e| ApiError::internal(format!("stored revocation unreadable: {e}")))?,
        ),
        // A revoked item whose revocation does not read is still revoked.
        None if flag(item, "revoked") => Some(Revocation {
            by: Default::default(),
            at: 0,
        }),
        None => None,
    };
    g.expiry_noticed = flag(item, "expiry_noticed");
    // The attributes are what the conditions read, so they are what the grant is.
    if let Some(exp) = item.number("expires_at") {
        g.expires_at = exp;
    }
    if let Some(max) = item.number("max_uses").and_then(|m| u32::try_from(m).ok()) {
        g.max_uses = max;
    }
    Ok(g)
}

fn dynamo(e: impl std::fmt::Display) -> ApiError {
    unavailable("DynamoDB", e)
}

/// Whether a conditional write happened: `false` when its condition did not hold.
fn written<T, E, R>(
    out: Result<T, aws_sdk_dynamodb::error::SdkError<E, R>>,
) -> Result<bool, ApiError>
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match out {
        Ok(_) => Ok(true),
        Err(e) if is_condition_failure(&e) => Ok(false),
        Err(e) => Err(dynamo(DisplayErrorContext(&e))),
    }
}

impl Store {
    fn grant_key(
        &self,
        b: aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder,
        id: &str,
    ) -> aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder {
        b.table_name(&self.table)
            .key("pk", s(keys::GRANTS))
            .key("sk", s(id))
    }
}

#[async_trait]
impl GrantStore for Store {
    async fn put_grant(&self, grant: &Grant) -> Result<bool, ApiError> {
        let fixed = Grant {
            uses: 0,
            revoked: None,
            expiry_noticed: false,
            ..grant.clone()
        };
        let doc = serde_json::to_string(&fixed).map_err(|e| ApiError::internal(e.to_string()))?;
        let out = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::GRANTS))
            .item("sk", s(&grant.id))
            .item("doc", s(doc))
            .item("uses", n(u64::from(grant.uses)))
            .item("max_uses", n(u64::from(grant.max_uses)))
            .item("expires_at", n(grant.expires_at))
            .item("revoked", AttributeValue::Bool(false))
            .item(
                "ttl",
                n((grant.expires_at + KEPT_AFTER_EXPIRY_MS).div_ceil(1000)),
            )
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        written(out)
    }

    async fn grant(&self, id: &str) -> Result<Option<Grant>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::GRANTS))
            .key("sk", s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| dynamo(DisplayErrorContext(&e)))?;
        out.item.as_ref().map(grant_of).transpose()
    }

    async fn grants(&self) -> Result<Vec<Grant>, ApiError> {
        let mut found = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(keys::GRANTS))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| dynamo(DisplayErrorContext(&e)))?;
            for item in out.items() {
                found.push(grant_of(item)?);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(found)
    }

    async fn use_grant(&self, id: &str, now_ms: u64) -> Result<Option<Grant>, ApiError> {
        let out = self
            .grant_key(self.client.update_item(), id)
            .update_expression("SET #uses = #uses + :one")
            .condition_expression(
                "attribute_exists(pk) AND #uses < #max AND #exp > :now AND #revoked = :false",
            )
            .expression_attribute_names("#uses", "uses")
            .expression_attribute_names("#max", "max_uses")
            .expression_attribute_names("#exp", "expires_at")
            .expression_attribute_names("#revoked", "revoked")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", n(now_ms))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(o) => o.attributes.as_ref().map(grant_of).transpose(),
            Err(e) if is_condition_failure(&e) => Ok(None),
            Err(e) => Err(dynamo(DisplayErrorContext(&e))),
        }
    }

    async fn revoke_grant(&self, id: &str, by: &Revocation) -> Result<bool, ApiError> {
        let revocation =
            serde_json::to_string(by).map_err(|e| ApiError::internal(e.to_string()))?;
        let out = self
            .grant_key(self.client.update_item(), id)
            .update_expression("SET #revoked = :true, revocation = :by")
            .condition_expression("attribute_exists(pk) AND #revoked = :false")
            .expression_attribute_names("#revoked", "revoked")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .expression_attribute_values(":false", AttributeValue::Bool(false))
            .expression_attribute_values(":by", s(revocation))
            .send()
            .await;
        written(out)
    }

    async fn mark_grant_expiry_noticed(&self, id: &str) -> Result<bool, ApiError> {
        let out = self
            .grant_key(self.client.update_item(), id)
            .update_expression("SET expiry_noticed = :true")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(expiry_noticed)")
            .expression_attribute_values(":true", AttributeValue::Bool(true))
            .send()
            .await;
        written(out)
    }
}
