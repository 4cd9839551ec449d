//! The DynamoDB single table: `pk = REQ#<id>`, `sk = META` for the request, `sk = EVT#<seq>`
//! for its audit events, `pk = IDEM#<hash>` for idempotency keys, `pk = SESSION#<hash>` for
//! approver sessions (`sessions.rs`).
//!
//! Every write is a transaction conditioned on the version (`seq`) read before it, and every
//! event is put only if absent: two racing writers can never both win, and no event is ever
//! overwritten.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use tollgate_core::audit::{ChainBreak, verify_trail};
use tollgate_core::{ApiError, ErrorCode, Event, RequestRecord};

use crate::unavailable;

mod claims;
mod listing;
mod sessions;
pub use listing::{AGENT_INDEX, Cursor, Listing, Page, STATUS_INDEX};
pub use sessions::{SESSION_ID_BYTES, SessionRecord};

const META: &str = "META";
/// Optimistic writes retried this often under contention before giving up with a 409.
const MAX_ATTEMPTS: u32 = 60;

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
#[derive(Debug)]
pub enum Created {
    New,
    /// The idempotency key was used before: here is the request it created.
    Existing {
        request_id: String,
        request_hash: String,
    },
}

fn req_pk(id: &str) -> String {
    format!("REQ#{id}")
}

fn evt_sk(seq: u64) -> String {
    format!("EVT#{seq:010}")
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

impl Store {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn meta_item(rec: &RequestRecord) -> Result<HashMap<String, AttributeValue>, ApiError> {
        let doc = serde_json::to_string(rec).map_err(|e| ApiError::internal(e.to_string()))?;
        let mut item = HashMap::from([
            ("pk".to_string(), s(req_pk(&rec.id))),
            ("sk".to_string(), s(META)),
            ("status".to_string(), s(rec.status.as_str())),
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

    fn event_put(&self, id: &str, e: &Event) -> Result<TransactWriteItem, ApiError> {
        let doc = serde_json::to_string(e).map_err(|e| ApiError::internal(e.to_string()))?;
        let put = Put::builder()
            .table_name(&self.table)
            .item("pk", s(req_pk(id)))
            .item("sk", s(evt_sk(e.seq)))
            .item("at", n(e.at))
            .item("doc", s(doc))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| ApiError::internal(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Writes a new request with its first events, and its idempotency claim if any, in one
    /// transaction.
    pub async fn create(
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
                            .item("pk", s(format!("IDEM#{}", c.key_hash)))
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
                    return Err(ApiError::new(
                        ErrorCode::Conflict,
                        "request id collision; retry",
                    ));
                };
                match self.idempotency(&c.key_hash).await? {
                    Some((request_id, request_hash)) => Ok(Created::Existing {
                        request_id,
                        request_hash,
                    }),
                    None => Err(ApiError::new(
                        ErrorCode::Conflict,
                        "concurrent write; retry",
                    )),
                }
            }
            Err(e) => Err(unavailable("DynamoDB", DisplayErrorContext(&e))),
        }
    }

    async fn idempotency(&self, key_hash: &str) -> Result<Option<(String, String)>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(format!("IDEM#{key_hash}")))
            .key("sk", s(META))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
        Ok(out.item().and_then(|item| {
            let id = item.get("request_id")?.as_s().ok()?.clone();
            let hash = item.get("request_hash")?.as_s().ok()?.clone();
            Some((id, hash))
        }))
    }

    /// The request, read consistently; `None` if there is no such request.
    pub async fn get(&self, id: &str) -> Result<Option<RequestRecord>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(req_pk(id)))
            .key("sk", s(META))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let doc = item
            .get("doc")
            .and_then(|v| v.as_s().ok())
            .ok_or_else(|| ApiError::internal("stored request has no document"))?;
        let mut rec: RequestRecord = serde_json::from_str(doc)
            .map_err(|e| ApiError::internal(format!("stored request unreadable: {e}")))?;
        rec.task_token = item.get("task_token").and_then(|v| v.as_s().ok()).cloned();
        rec.sealed_result = item
            .get("sealed_result")
            .and_then(|v| v.as_s().ok())
            .cloned();
        Ok(Some(rec))
    }

    /// The request's audit events in order.
    pub async fn events(&self, id: &str) -> Result<Vec<Event>, ApiError> {
        let mut events = Vec::new();
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :evt)")
            .expression_attribute_values(":pk", s(req_pk(id)))
            .expression_attribute_values(":evt", s("EVT#"))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
            let doc = item
                .get("doc")
                .and_then(|v| v.as_s().ok())
                .ok_or_else(|| ApiError::internal("stored event has no document"))?;
            events.push(
                serde_json::from_str(doc)
                    .map_err(|e| ApiError::internal(format!("stored event unreadable: {e}")))?,
            );
        }
        Ok(events)
    }

    /// Recomputes the request's audit trail: `Ok(Ok(n))` with the number of events when it is
    /// whole, `Ok(Err(break))` when it is not.
    pub async fn verify(&self, id: &str) -> Result<Result<usize, ChainBreak>, ApiError> {
        let rec = self.get(id).await?.ok_or_else(|| not_found(id))?;
        let events = self.events(id).await?;
        Ok(
            verify_trail(rec.seq, &rec.last_hash, rec.status.as_str(), &events)
                .map(|()| events.len()),
        )
    }

    /// Ids of the requests created at or after `since_ms`, oldest first. Scans the table: an
    /// operator's tool, not a request path.
    pub async fn request_ids_since(&self, since_ms: u64) -> Result<Vec<String>, ApiError> {
        let mut pages = self
            .client
            .scan()
            .table_name(&self.table)
            .filter_expression("sk = :meta AND begins_with(pk, :req) AND created_at >= :since")
            .expression_attribute_values(":meta", s(META))
            .expression_attribute_values(":req", s("REQ#"))
            .expression_attribute_values(":since", n(since_ms))
            .projection_expression("pk, created_at")
            .into_paginator()
            .items()
            .send();
        let mut found: Vec<(u64, String)> = Vec::new();
        while let Some(item) = pages.next().await {
            let item = item.map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
            let id = item
                .get("pk")
                .and_then(|v| v.as_s().ok())
                .and_then(|p| p.strip_prefix("REQ#"))
                .map(str::to_string);
            let at = item
                .get("created_at")
                .and_then(|v| v.as_n().ok())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
            if let Some(id) = id {
                found.push((at, id));
            }
        }
        found.sort();
        Ok(found.into_iter().map(|(_, id)| id).collect())
    }

    /// Reads the request, lets `change` modify it, and writes it back with the events
    /// `change` produced, conditioned on nobody having written in between; retries on a lost
    /// race. `change` returning no events means nothing to write.
    pub async fn update<T>(
        &self,
        id: &str,
        mut change: impl FnMut(&mut RequestRecord) -> Result<(T, Vec<Event>), ApiError>,
    ) -> Result<(T, RequestRecord), ApiError> {
        for attempt in 0..MAX_ATTEMPTS {
            let mut rec = self.get(id).await?.ok_or_else(|| not_found(id))?;
            let prev_seq = rec.seq;
            let (out, events) = change(&mut rec)?;
            if events.is_empty() {
                return Ok((out, rec));
            }
            match self.commit(&rec, prev_seq, &events).await {
                Ok(()) => return Ok((out, rec)),
                Err(Conflict::Lost) => {
                    // Spread contending writers apart a little more on every loss.
                    let jitter = RandomState::new().hash_one(attempt) % 20;
                    tokio::time::sleep(Duration::from_millis(5 + jitter + u64::from(attempt) * 2))
                        .await;
                }
                Err(Conflict::Failed(e)) => return Err(e),
            }
        }
        Err(ApiError::new(
            ErrorCode::Conflict,
            format!("request {id} is being changed by many callers at once; retry"),
        ))
    }

    async fn commit(
        &self,
        rec: &RequestRecord,
        prev_seq: u64,
        events: &[Event],
    ) -> Result<(), Conflict> {
        let meta = Put::builder()
            .table_name(&self.table)
            .set_item(Some(Self::meta_item(rec).map_err(Conflict::Failed)?))
            .condition_expression("#seq = :prev")
            .expression_attribute_names("#seq", "seq")
            .expression_attribute_values(":prev", n(prev_seq))
            .build()
            .map_err(|e| Conflict::Failed(ApiError::internal(e.to_string())))?;
        let mut items = vec![TransactWriteItem::builder().put(meta).build()];
        for e in events {
            items.push(self.event_put(&rec.id, e).map_err(Conflict::Failed)?);
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failure(&e) => Err(Conflict::Lost),
            Err(e) => Err(Conflict::Failed(unavailable(
                "DynamoDB",
                DisplayErrorContext(&e),
            ))),
        }
    }
}

enum Conflict {
    Lost,
    Failed(ApiError),
}

pub fn not_found(id: &str) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("no request with id `{id}`"))
}

fn is_condition_failure<E, R>(e: &SdkError<E, R>) -> bool
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
