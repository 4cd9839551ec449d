//! The DynamoDB single table (key layout in [`keys`]): the request item, its audit events,
//! idempotency claims, approver sessions (`sessions.rs`).
//!
//! Every write is a transaction conditioned on the version (`seq`) read before it, and every
//! event is put only if absent: two racing writers can never both win, and no event is ever
//! overwritten.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};
use tollgate_core::{ApiError, ErrorCode, Event, RequestRecord};

use crate::ports::{CommitError, RequestReader, RequestWriter};
use crate::unavailable;
use item::{ItemExt, n, s};
use keys::META;

mod claims;
#[cfg(feature = "memory")]
pub mod contract;
mod counters;
mod grants;
pub(crate) mod item;
pub mod keys;
mod listing;
#[cfg(feature = "memory")]
pub mod memory;
mod sessions;
mod waits;
pub use listing::{AGENT_INDEX, Cursor, Listing, Page, STATUS_INDEX};
pub use sessions::{SESSION_ID_BYTES, SessionRecord};

/// The record store on DynamoDB.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

/// How long an idempotency key returns the first request. The claim carries a DynamoDB TTL
/// (`ttl`, epoch seconds), so keys do not pile up in the table.
pub const IDEMPOTENCY_WINDOW_SECONDS: u64 = 24 * 3600;

/// An idempotency claim written atomically with a new request.
#[derive(Debug, Clone)]
pub struct IdempotencyClaim {
    /// Hash of the agent's identity and the key it sent.
    pub key_hash: String,
    pub request_hash: String,
}

/// Outcome of creating a request.
#[derive(Debug, PartialEq, Eq)]
pub enum Created {
    New,
    /// The idempotency key was used before: here is the request it created.
    Existing {
        request_id: String,
        request_hash: String,
    },
}

/// The refusal of a create whose condition failed: with a claim, the claim's own request
/// (looked up by the caller), without one an id collision.
pub(crate) fn create_conflict(claimed: bool) -> ApiError {
    if claimed {
        ApiError::new(ErrorCode::Conflict, "concurrent write; retry")
    } else {
        ApiError::new(ErrorCode::Conflict, "request id collision; retry")
    }
}

/// The request's stored document (the item's `doc`), as a [`tollgate_core::Handover`]
/// carries it.
pub fn document(rec: &RequestRecord) -> Result<String, ApiError> {
    serde_json::to_string(rec).map_err(|e| ApiError::internal(e.to_string()))
}

/// The request as stored: its document, and beside it what never goes into a document.
pub(crate) fn record_from(item: &item::Item) -> Result<RequestRecord, ApiError> {
    let mut rec: RequestRecord = item.doc("stored request")?;
    rec.task_token = item.string("task_token").map(str::to_string);
    rec.sealed_result = item.string("sealed_result").map(str::to_string);
    Ok(rec)
}

impl Store {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// The request's own item as every write puts it (the store's writes add their
    /// conditions); public for bulk loads of recorded requests, such as the bench's.
    pub fn meta_item(rec: &RequestRecord) -> Result<HashMap<String, AttributeValue>, ApiError> {
        let doc = document(rec)?;
        let mut item = HashMap::from([
            ("pk".to_string(), s(keys::request(&rec.id))),
            ("sk".to_string(), s(META)),
            ("status".to_string(), s(rec.status.as_str())),
            // Written with the status in every (conditional) put, so the index never holds a
            // request under a status it has left.
            (
                "status_shard".to_string(),
                s(keys::status_shard(rec.status.as_str(), &rec.id)),
            ),
            ("seq".to_string(), n(rec.seq)),
            ("agent".to_string(), s(rec.agent.key())),
            ("created_at".to_string(), n(rec.created_at)),
            ("doc".to_string(), s(doc)),
        ]);
        if let Some(t) = &rec.task_token {
            item.insert("task_token".to_string(), s(t.clone()));
        }
        if let Some(r) = &rec.sealed_result {
            item.insert("sealed_result".to_string(), s(r.clone()));
        }
        Ok(item)
    }

    /// The item that lists a break-glass approval in the status index (`BREAKGLASS#<n>`, at
    /// the time of the use), rewritten with the request's document in every change after, in
    /// the same transaction as the request item: so it never says more or less than it.
    fn breakglass_put(&self, rec: &RequestRecord) -> Result<Option<TransactWriteItem>, ApiError> {
        let Some(used) = &rec.breakglass else {
            return Ok(None);
        };
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(keys::request(&rec.id)))
            .item("sk", s(keys::BREAKGLASS))
            .item(
                "status_shard",
                s(keys::status_shard(keys::BREAKGLASS, &rec.id)),
            )
            .item("created_at", n(used.at))
            .item("doc", s(document(rec)?))
            .build()
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(Some(TransactWriteItem::builder().put(put).build()))
    }

    /// The pointer item of a parked plan (`PARKED#<agent>`): put with the plan's document in
    /// every change while it takes calls, deleted in the change that ends it, so it never
    /// says more or less than the plan. TTL a day after the window, in case.
    fn parked_write(&self, rec: &RequestRecord) -> Result<Option<TransactWriteItem>, ApiError> {
        let Some(until) = rec
            .plan
            .as_ref()
            .filter(|p| p.parked())
            .and_then(|p| p.calls_until)
        else {
            return Ok(None);
        };
        let pk = s(keys::parked(&rec.agent.key()));
        let item = if rec.status.is_final() {
            let delete = Delete::builder()
                .table_name(&self.table)
                .key("pk", pk)
                .key("sk", s(rec.id.clone()))
                .build()
                .map_err(|e| ApiError::internal(e.to_string()))?;
            TransactWriteItem::builder().delete(delete).build()
        } else {
            let put = Put::builder()
                .table_name(&self.table)
                .item("pk", pk)
                .item("sk", s(rec.id.clone()))
                .item("doc", s(document(rec)?))
                .item("ttl", n(until / 1000 + 24 * 3600))
                .build()
                .map_err(|e| ApiError::internal(e.to_string()))?;
            TransactWriteItem::builder().put(put).build()
        };
        Ok(Some(item))
    }

    fn event_put(&self, id: &str, e: &Event) -> Result<TransactWriteItem, ApiError> {
        let doc = serde_json::to_string(e).map_err(|e| ApiError::internal(e.to_string()))?;
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(keys::request(id)))
            .item("sk", s(keys::event(e.seq)))
            .item("at", n(e.at))
            .item("doc", s(doc))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    async fn idempotency(&self, key_hash: &str) -> Result<Option<(String, String)>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::idempotency(key_hash)))
            .key("sk", s(META))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
        Ok(out.item().and_then(|item| {
            let id = item.string("request_id")?.to_string();
            let hash = item.string("request_hash")?.to_string();
            Some((id, hash))
        }))
    }
}

#[async_trait]
impl RequestWriter for Store {
    async fn create(
        &self,
        rec: &RequestRecord,
        events: &[Event],
        claim: Option<&IdempotencyClaim>,
    ) -> Result<Created, ApiError> {
        let mut items = vec![
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&self.table)
                        .set_item(Some(Self::meta_item(rec)?))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .map_err(|e| ApiError::internal(e.to_string()))?,
                )
                .build(),
        ];
        for e in events {
            items.push(self.event_put(&rec.id, e)?);
        }
        if let Some(c) = claim {
            items.push(
                TransactWriteItem::builder()
                    .put(
                        Put::builder()
                            .table_name(&self.table)
                            .item("pk", s(keys::idempotency(&c.key_hash)))
                            .item("sk", s(META))
                            .item("request_id", s(rec.id.clone()))
                            .item("request_hash", s(c.request_hash.clone()))
                            .item("created_at", n(rec.created_at))
                            .item("ttl", n(rec.created_at / 1000 + IDEMPOTENCY_WINDOW_SECONDS))
                            // DynamoDB deletes expired items up to days late: an expired
                            // claim is free even while it is still there.
                            .condition_expression("attribute_not_exists(pk) OR #ttl < :now")
                            .expression_attribute_names("#ttl", "ttl")
                            .expression_attribute_values(":now", n(rec.created_at / 1000))
                            .build()
                            .map_err(|e| ApiError::internal(e.to_string()))?,
                    )
                    .build(),
            );
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(Created::New),
            Err(e) if is_condition_failure(&e) => {
                // The new id is fresh, so only the idempotency claim can have collided.
                let Some(c) = claim else {
                    return Err(create_conflict(false));
                };
                match self.idempotency(&c.key_hash).await? {
                    Some((request_id, request_hash)) => Ok(Created::Existing {
                        request_id,
                        request_hash,
                    }),
                    None => Err(create_conflict(true)),
                }
            }
            Err(e) => Err(unavailable("DynamoDB", DisplayErrorContext(&e))),
        }
    }

    async fn commit(
        &self,
        rec: &RequestRecord,
        prev_seq: u64,
        prev_doc: Option<&str>,
        events: &[Event],
    ) -> Result<(), CommitError> {
        let meta = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::meta_item(rec).map_err(CommitError::Failed)?))
            .expression_attribute_names("#seq", "seq")
            .expression_attribute_values(":prev", n(prev_seq));
        let meta = match prev_doc {
            None => meta.condition_expression("#seq = :prev"),
            Some(doc) => meta
                .condition_expression("#seq = :prev AND #doc = :doc")
                .expression_attribute_names("#doc", "doc")
                .expression_attribute_values(":doc", s(doc)),
        }
        .build()
        .map_err(|e| CommitError::Failed(ApiError::internal(e.to_string())))?;
        let mut items = vec![TransactWriteItem::builder().put(meta).build()];
        if let Some(marker) = self.breakglass_put(rec).map_err(CommitError::Failed)? {
            items.push(marker);
        }
        if let Some(pointer) = self.parked_write(rec).map_err(CommitError::Failed)? {
            items.push(pointer);
        }
        for e in events {
            items.push(self.event_put(&rec.id, e).map_err(CommitError::Failed)?);
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(CommitError::Lost),
            Err(e) => Err(CommitError::Failed(unavailable(
                "DynamoDB",
                DisplayErrorContext(&e),
            ))),
        }
    }

    async fn release_claim(&self, key_hash: &str, request_id: &str) -> Result<bool, ApiError> {
        self.delete_claim(key_hash, request_id).await
    }
}

#[async_trait]
impl RequestReader for Store {
    async fn get(&self, id: &str) -> Result<Option<RequestRecord>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::request(id)))
            .key("sk", s(META))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
        out.item().map(record_from).transpose()
    }

    async fn events(&self, id: &str) -> Result<Vec<Event>, ApiError> {
        let mut events = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :evt)")
            .expression_attribute_values(":pk", s(keys::request(id)))
            .expression_attribute_values(":evt", s(keys::EVENT_PREFIX))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
            events.push(item.doc("stored event")?);
        }
        Ok(events)
    }
}

impl Store {
    /// See [`crate::ports::RequestLister::request_ids_since`]. Scans the table.
    pub(crate) async fn scan_request_ids(&self, since_ms: u64) -> Result<Vec<String>, ApiError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :meta AND begins_with(pk, :req) AND created_at >= :since")
            .expression_attribute_values(":meta", s(META))
            .expression_attribute_values(":req", s(keys::request("")))
            .expression_attribute_values(":since", n(since_ms))
            .projection_expression("pk, created_at")
            .into_paginator()
            .items()
            .send();
        let mut found: Vec<(u64, String)> = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
            if let Some(id) = item.string("pk").and_then(keys::request_id) {
                found.push((item.number("created_at").unwrap_or(0), id.to_string()));
            }
        }
        found.sort();
        Ok(found.into_iter().map(|(_, id)| id).collect())
    }
}

pub fn not_found(id: &str) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("no request with id `{id}`"))
}

pub(crate) fn is_condition_failure<E, R>(e: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    matches!(
        e.as_service_error().and_then(|s| s.code()),
        Some(
            "TransactionCanceledException"
                | "ConditionalCheckFailedException"
                | "TransactionConflictException"
        )
    )
}
