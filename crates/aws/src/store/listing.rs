//! Listing requests through two global secondary indexes on the META items: `by-agent`
//! (`agent`, `created_at`) for an agent's own requests and `by-status-shard`
//! (`status_shard`, `created_at`) for approvers' queues and the sweeper. Both project the
//! request document (and `by-agent` the status, to filter on), never the task token.
//!
//! A status is spread over [`keys::STATUS_SHARDS`] partitions (`PENDING#0` ..), so a status
//! listing reads the head of every shard below the cursor and merges them newest first.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::AttributeValue;
use tollgate_core::{ApiError, RequestRecord, Status};

use super::item::{ItemExt, n, s};
use super::{META, Store, keys};
use crate::ports::RequestLister;
use crate::unavailable;

pub const AGENT_INDEX: &str = "by-agent";
pub const STATUS_INDEX: &str = "by-status-shard";

/// Which requests to list.
#[derive(Debug, Clone)]
pub enum Listing<'a> {
    /// One agent's requests (identity key), optionally only those with one status.
    Agent {
        agent_key: &'a str,
        status: Option<Status>,
    },
    /// Every request with this status.
    Status(Status),
    /// Every request approved by break-glass, newest use first (the cursor's `created_at` is
    /// the time of the use).
    BreakGlass,
}

/// Where a page starts: the last request of the page before. Opaque to callers as
/// `<created_at>.<id>`; the index key is rebuilt from the caller's own listing, so a cursor
/// can never reach into another agent's partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_at: u64,
    pub id: String,
}

impl Cursor {
    pub fn parse(s: &str) -> Option<Cursor> {
        let (at, id) = s.split_once('.')?;
        let created_at = at.parse().ok()?;
        let valid_id =
            !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric());
        valid_id.then(|| Cursor {
            created_at,
            id: id.to_string(),
        })
    }

    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_at, self.id)
    }
}

impl Cursor {
    fn of(created_at: u64, id: &str) -> Cursor {
        Cursor {
            created_at,
            id: id.to_string(),
        }
    }

    /// Whether a request sorts after this cursor in a newest-first listing.
    fn precedes(&self, created_at: u64, id: &str) -> bool {
        (created_at, id) < (self.created_at, self.id.as_str())
    }
}

/// One page, newest first, and where the next one starts.
#[derive(Debug)]
pub struct Page {
    pub requests: Vec<RequestRecord>,
    pub next: Option<Cursor>,
}

/// A listed request with the index keys it is ordered by.
struct Listed {
    created_at: u64,
    id: String,
    rec: RequestRecord,
}

fn listed(item: &HashMap<String, AttributeValue>) -> Result<Listed, ApiError> {
    let id = item
        .string("pk")
        .and_then(keys::request_id)
        .ok_or_else(|| ApiError::internal("listed item has no request key"))?;
    Ok(Listed {
        created_at: item.number("created_at").unwrap_or(0),
        id: id.to_string(),
        rec: item.doc::<RequestRecord>("listed request")?,
    })
}

/// Newest first; requests created in the same millisecond by id, descending, as the cursor
/// compares them.
fn newest_first(a: &Listed, b: &Listed) -> std::cmp::Ordering {
    (b.created_at, &b.id).cmp(&(a.created_at, &a.id))
}

impl Store {
    /// One agent's page: a single index partition, so DynamoDB's own paging.
    async fn list_agent(
        &self,
        agent_key: &str,
        status: Option<Status>,
        limit: i32,
        after: Option<&Cursor>,
    ) -> Result<Page, ApiError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(AGENT_INDEX)
            .key_condition_expression("#h = :h")
            .expression_attribute_names("#h", "agent")
            .expression_attribute_values(":h", s(agent_key))
            .scan_index_forward(false)
            .limit(limit);
        if let Some(st) = status {
            q = q
                .filter_expression("#st = :st")
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":st", s(st.as_str()));
        }
        if let Some(c) = after {
            q = q
                .exclusive_start_key("pk", s(keys::request(&c.id)))
                .exclusive_start_key("sk", s(META))
                .exclusive_start_key("agent", s(agent_key))
                .exclusive_start_key("created_at", n(c.created_at));
        }
        let out = q
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
        let requests = out
            .items()
            .iter()
            .map(|item| listed(item).map(|l| l.rec))
            .collect::<Result<_, _>>()?;
        let next = out.last_evaluated_key().and_then(|k| {
            let id = keys::request_id(k.string("pk")?)?;
            Some(Cursor::of(k.number("created_at")?, id))
        });
        Ok(Page { requests, next })
    }

    /// Every request with `status`: the first `limit` below the cursor of each shard, merged.
    /// A page is full unless it is the last, and `next` is `None` exactly on the last page.
    async fn list_shards(
        &self,
        prefix: &str,
        limit: i32,
        after: Option<&Cursor>,
    ) -> Result<Page, ApiError> {
        let want = usize::try_from(limit.max(1)).unwrap_or(1);
        let heads = futures::future::try_join_all(
            keys::status_shards(prefix).map(|shard| self.shard_head(shard, want, after)),
        )
        .await?;
        let mut more = false;
        let mut merged = Vec::new();
        for (head, shard_more) in heads {
            more |= shard_more;
            merged.extend(head);
        }
        merged.sort_by(newest_first);
        more |= merged.len() > want;
        merged.truncate(want);
        let next = more
            .then(|| merged.last().map(|l| Cursor::of(l.created_at, &l.id)))
            .flatten();
        Ok(Page {
            requests: merged.into_iter().map(|l| l.rec).collect(),
            next,
        })
    }

    /// The first `want` requests of one shard after `after`, in order, and whether the shard
    /// holds more. The index orders a shard by `created_at` only, so the query starts at the
    /// cursor's millisecond, leaves out what the cursor already passed, and reads on until
    /// the millisecond of the last kept request is whole: a tie is never split by id wrongly.
    async fn shard_head(
        &self,
        shard: String,
        want: usize,
        after: Option<&Cursor>,
    ) -> Result<(Vec<Listed>, bool), ApiError> {
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(STATUS_INDEX)
            .expression_attribute_names("#h", "status_shard")
            .expression_attribute_values(":h", s(shard))
            .scan_index_forward(false)
            .limit(i32::try_from(want + 1).unwrap_or(i32::MAX));
        q = match after {
            None => q.key_condition_expression("#h = :h"),
            Some(c) => q
                .key_condition_expression("#h = :h AND created_at <= :at")
                .expression_attribute_values(":at", n(c.created_at)),
        };
        let mut pages = q.into_paginator().send();
        let mut kept: Vec<Listed> = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
            let mut last_read = None;
            for item in page.items() {
                let l = listed(item)?;
                last_read = Some(l.created_at);
                if after.is_none_or(|c| c.precedes(l.created_at, &l.id)) {
                    kept.push(l);
                }
            }
            // Reading newest first, so once a request older than the `want`-th kept one
            // has been read, nothing unread can sort before it.
            if kept.len() > want && last_read.is_some_and(|at| at < kept[want - 1].created_at) {
                break;
            }
        }
        kept.sort_by(newest_first);
        let more = kept.len() > want;
        kept.truncate(want);
        Ok((kept, more))
    }
}

/// Items per page of a period's read: a page of records is what the reader holds per shard.
const PERIOD_PAGE: i32 = 500;

#[async_trait]
impl RequestLister for Store {
    async fn list(
        &self,
        listing: &Listing<'_>,
        limit: i32,
        after: Option<&Cursor>,
    ) -> Result<Page, ApiError> {
        match listing {
            Listing::Agent { agent_key, status } => {
                self.list_agent(agent_key, *status, limit, after).await
            }
            Listing::Status(st) => self.list_shards(st.as_str(), limit, after).await,
            Listing::BreakGlass => self.list_shards(keys::BREAKGLASS, limit, after).await,
        }
    }

    async fn request_ids_since(&self, since_ms: u64) -> Result<Vec<String>, ApiError> {
        self.scan_request_ids(since_ms).await
    }

    /// One consistent Query of the agent's `PARKED#` partition (`keys::parked`), every page.
    async fn parked_plans(&self, agent_key: &str) -> Result<Vec<RequestRecord>, ApiError> {
        let mut found = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", "pk")
                .expression_attribute_values(":pk", s(keys::parked(agent_key)))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
            for item in out.items() {
                found.push(item.doc::<RequestRecord>("parked plan")?);
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => break,
            }
        }
        Ok(found)
    }

    /// A period's requests from the `by-status-shard` index: one query per status and shard,
    /// each on the index's sort key (`created_at BETWEEN`), all paged at once and merged as
    /// their pages arrive. It reads only the request items of the period, where a Scan
    /// (with a filter) would read, and be billed for, every item of the table: each
    /// request's audit events, counters, sessions, and every request outside the period.
    async fn created_between(
        &self,
        from_ms: u64,
        until_ms: u64,
        each: &mut (dyn FnMut(Result<RequestRecord, String>) + Send),
    ) -> Result<(), ApiError> {
        use futures::StreamExt;
        if until_ms <= from_ms {
            return Ok(());
        }
        let partitions = Status::ALL
            .into_iter()
            .flat_map(|st| keys::status_shards(st.as_str()).collect::<Vec<_>>());
        let streams = partitions.map(|shard| {
            let pages = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(STATUS_INDEX)
                .key_condition_expression("#h = :h AND created_at BETWEEN :from AND :until")
                .expression_attribute_names("#h", "status_shard")
                .expression_attribute_values(":h", s(shard))
                .expression_attribute_values(":from", n(from_ms))
                .expression_attribute_values(":until", n(until_ms - 1))
                .limit(PERIOD_PAGE)
                .into_paginator()
                .send();
            futures::stream::unfold(pages, |mut pages| async move {
                pages.next().await.map(|page| (page, pages))
            })
            .boxed()
        });
        let mut pages = futures::stream::select_all(streams);
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
            for item in page.items() {
                each(listed(item).map(|l| l.rec).map_err(|_| {
                    item.string("pk")
                        .map(|pk| keys::request_id(pk).unwrap_or(pk).to_string())
                        .unwrap_or_default()
                }));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_refuses_junk() {
        let c = Cursor {
            created_at: 1_700_000_000_000,
            id: "01JD0000000000000000000000".into(),
        };
        assert_eq!(Cursor::parse(&c.encode()), Some(c));
        for bad in ["", "x", "1.", ".ID", "a.ID", "1.ID#x", "1.ID.x", "-1.ID"] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }
}
