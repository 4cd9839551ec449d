//! Wait leases: one item per scope (`pk = WAITS#<sha256(scope)>`), its open leases as a map
//! of lease id → expiry (ms), a version for optimistic writes, and a TTL at the latest
//! expiry so idle scopes leave the table. Taking a lease reads the item and writes it back
//! on the version read; releasing removes the lease and bumps the version, so a take that
//! read before the release retries rather than writing the lease back.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use tollgate_core::waits::{self, Leases};
use tollgate_core::{ApiError, ErrorCode};

use super::item::{ItemExt, n, s};
use super::{META, Store, is_condition_failure, keys};
use crate::ports::WaitLeases;
use crate::unavailable;

/// Lost races retried this often before the caller is told to retry.
const ATTEMPTS: usize = 8;

#[async_trait]
impl WaitLeases for Store {
    async fn take_wait(
        &self,
        scope: &str,
        lease: &str,
        expires_ms: u64,
        now_ms: u64,
        cap: usize,
    ) -> Result<bool, ApiError> {
        let pk = keys::waits(scope);
        for _ in 0..ATTEMPTS {
            let out = self
                .client
                .get_item()
                .table_name(&self.table)
                .key("pk", s(pk.clone()))
                .key("sk", s(META))
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
            let (mut leases, version) = match out.item() {
                Some(item) => (leases_of(item), item.number("version")),
                None => (Leases::new(), None),
            };
            if !waits::take(&mut leases, lease, expires_ms, now_ms, cap) {
                return Ok(false);
            }
            let latest = leases.values().copied().max().unwrap_or(expires_ms);
            let map: HashMap<String, AttributeValue> =
                leases.iter().map(|(k, v)| (k.clone(), n(*v))).collect();
            let put = self
                .client
                .put_item()
                .table_name(&self.table)
                .item("pk", s(pk.clone()))
                .item("sk", s(META))
                .item("leases", AttributeValue::M(map))
                .item("version", n(version.unwrap_or(0) + 1))
                .item("ttl", n(latest.div_ceil(1000)));
            let put = match version {
                Some(v) => put
                    .condition_expression("version = :v")
                    .expression_attribute_values(":v", n(v)),
                None => put.condition_expression("attribute_not_exists(pk)"),
            };
            match put.send().await {
                Ok(_) => return Ok(true),
                Err(e) if is_condition_failure(&e) => continue,
                Err(e) => return Err(unavailable("DynamoDB", DisplayErrorContext(&e))),
            }
        }
        Err(contended())
    }

    async fn release_wait(&self, scope: &str, lease: &str) -> Result<(), ApiError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::waits(scope)))
            .key("sk", s(META))
            .update_expression("REMOVE leases.#l ADD version :one")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#l", lease)
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map(|_| ())
            .or_else(|e| {
                if is_condition_failure(&e) {
                    Ok(())
                } else {
                    Err(unavailable("DynamoDB", DisplayErrorContext(&e)))
                }
            })
    }
}

fn leases_of(item: &HashMap<String, AttributeValue>) -> Leases {
    item.get("leases")
        .and_then(|v| v.as_m().ok())
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_n().ok()?.parse().ok()?)))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn contended() -> ApiError {
    ApiError::new(
        ErrorCode::TooManyRequests,
        "wait: too many long-polls are starting at once; retry in a second",
    )
}
