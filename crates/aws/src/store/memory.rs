//! The record store in memory, for handler tests: the same conditional writes as the
//! DynamoDB store (version checks, events never overwritten, idempotency claims with their
//! window, all-or-nothing transactions) and the same errors when a condition fails.
//! `tests/store_contract.rs` runs one suite against both. Behind the `memory` feature, which
//! no deployed function enables.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use tollgate_core::{ApiError, Event, RequestRecord, Status};

use super::keys;
use super::sessions::session_collision;
use super::{
    Created, Cursor, IDEMPOTENCY_WINDOW_SECONDS, IdempotencyClaim, Listing, Page, SessionRecord,
    create_conflict,
};
use crate::ports::{
    CommitError, GrantStore, RateCounters, RequestLister, RequestReader, RequestWriter,
    SessionStore, WaitLeases,
};
use tollgate_core::rate::{self, Bucket, RecentCounts, Usage};

/// One stored request, kept as DynamoDB keeps it: the serialized document, with the task
/// token and sealed result beside it, and the attributes the indexes read.
#[derive(Clone)]
struct Meta {
    doc: String,
    task_token: Option<String>,
    sealed_result: Option<String>,
    seq: u64,
    status: Status,
    agent: String,
    created_at: u64,
    /// When the glass was broken, for a request approved so: its place in that listing.
    breakglass_at: Option<u64>,
    /// Whether its `PARKED#` pointer item is there: a parked plan not yet ended.
    parked: bool,
}

struct Claim {
    request_id: String,
    request_hash: String,
    ttl: u64,
}

#[derive(Default)]
struct Table {
    /// By partition key.
    requests: HashMap<String, Meta>,
    /// By (partition key, sort key): the serialized event.
    events: BTreeMap<(String, String), String>,
    claims: HashMap<String, Claim>,
    sessions: HashMap<String, String>,
    waits: HashMap<String, tollgate_core::waits::Leases>,
    /// By (partition key, sort key): the counter item's fields.
    counters: HashMap<(String, String), BTreeMap<String, u64>>,
    /// By id, as read back (uses, revocation and flag included).
    grants: BTreeMap<String, tollgate_core::grant::Grant>,
}

/// The record store in memory.
#[derive(Default)]
pub struct MemoryStore {
    table: Mutex<Table>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        // A test that panicked mid-write poisons the lock; the data is still whole, since
        // every write checks before it changes anything.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn meta(rec: &RequestRecord) -> Result<Meta, ApiError> {
    Ok(Meta {
        doc: serde_json::to_string(rec).map_err(|e| ApiError::internal(e.to_string()))?,
        task_token: rec.task_token.clone(),
        sealed_result: rec.sealed_result.clone(),
        seq: rec.seq,
        status: rec.status,
        agent: rec.agent.key(),
        created_at: rec.created_at,
        breakglass_at: rec.breakglass.as_ref().map(|u| u.at),
        parked: rec.plan.as_ref().is_some_and(|p| p.parked()) && !rec.status.is_final(),
    })
}

fn record(m: &Meta, with_hidden: bool) -> Result<RequestRecord, ApiError> {
    let mut rec: RequestRecord = serde_json::from_str(&m.doc)
        .map_err(|e| ApiError::internal(format!("stored request unreadable: {e}")))?;
    if with_hidden {
        rec.task_token = m.task_token.clone();
        rec.sealed_result = m.sealed_result.clone();
    }
    Ok(rec)
}

/// An event row: (partition key, sort key) and the serialized event.
type EventRow = ((String, String), String);

fn event_rows(id: &str, events: &[Event]) -> Result<Vec<EventRow>, ApiError> {
    events
        .iter()
        .map(|e| {
            let doc = serde_json::to_string(e).map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(((keys::request(id), keys::event(e.seq)), doc))
        })
        .collect()
}

#[async_trait]
impl RequestWriter for MemoryStore {
    async fn create(
        &self,
        rec: &RequestRecord,
        events: &[Event],
        claim: Option<&IdempotencyClaim>,
    ) -> Result<Created, ApiError> {
        let pk = keys::request(&rec.id);
        let item = meta(rec)?;
        let rows = event_rows(&rec.id, events)?;
        let mut t = self.table();
        let now_s = rec.created_at / 1000;
        let claim_taken = claim.is_some_and(|c| {
            t.claims
                .get(&keys::idempotency(&c.key_hash))
                .is_some_and(|held| held.ttl >= now_s)
        });
        let collides = t.requests.contains_key(&pk)
            || rows.iter().any(|(k, _)| t.events.contains_key(k))
            || claim_taken;
        if collides {
            let Some(c) = claim else {
                return Err(create_conflict(false));
            };
            return match t.claims.get(&keys::idempotency(&c.key_hash)) {
                Some(held) => Ok(Created::Existing {
                    request_id: held.request_id.clone(),
                    request_hash: held.request_hash.clone(),
                }),
                None => Err(create_conflict(true)),
            };
        }
        t.requests.insert(pk, item);
        t.events.extend(rows);
        if let Some(c) = claim {
            t.claims.insert(
                keys::idempotency(&c.key_hash),
                Claim {
                    request_id: rec.id.clone(),
                    request_hash: c.request_hash.clone(),
                    ttl: now_s + IDEMPOTENCY_WINDOW_SECONDS,
                },
            );
        }
        Ok(Created::New)
    }

    /// With `prev_doc`, compares the stored document as DynamoDB's condition on `doc` does.
    async fn commit(
        &self,
        rec: &RequestRecord,
        prev_seq: u64,
        prev_doc: Option<&str>,
        events: &[Event],
    ) -> Result<(), CommitError> {
        let pk = keys::request(&rec.id);
        let item = meta(rec).map_err(CommitError::Failed)?;
        let rows = event_rows(&rec.id, events).map_err(CommitError::Failed)?;
        let mut t = self.table();
        let current = t.requests.get(&pk);
        let same =
            current.is_some_and(|m| m.seq == prev_seq && prev_doc.is_none_or(|doc| m.doc == doc));
        if !same || rows.iter().any(|(k, _)| t.events.contains_key(k)) {
            return Err(CommitError::Lost);
        }
        t.requests.insert(pk, item);
        t.events.extend(rows);
        Ok(())
    }

    async fn release_claim(&self, key_hash: &str, request_id: &str) -> Result<bool, ApiError> {
        let mut t = self.table();
        let key = keys::idempotency(key_hash);
        if t.claims
            .get(&key)
            .is_some_and(|c| c.request_id == request_id)
        {
            t.claims.remove(&key);
            return Ok(true);
        }
        Ok(false)
    }
}

#[async_trait]
impl RequestReader for MemoryStore {
    async fn get(&self, id: &str) -> Result<Option<RequestRecord>, ApiError> {
        let t = self.table();
        t.requests
            .get(&keys::request(id))
            .map(|m| record(m, true))
            .transpose()
    }

    async fn events(&self, id: &str) -> Result<Vec<Event>, ApiError> {
        let pk = keys::request(id);
        let t = self.table();
        t.events
            .range((pk.clone(), String::new())..)
            .take_while(|((p, _), _)| *p == pk)
            .filter(|((_, sk), _)| keys::is_event(sk))
            .map(|(_, doc)| {
                serde_json::from_str(doc)
                    .map_err(|e| ApiError::internal(format!("stored event unreadable: {e}")))
            })
            .collect()
    }
}

#[async_trait]
impl RequestLister for MemoryStore {
    async fn list(
        &self,
        listing: &Listing<'_>,
        limit: i32,
        after: Option<&Cursor>,
    ) -> Result<Page, ApiError> {
        let t = self.table();
        // The index: its partition, newest first.
        let mut index: Vec<(u64, String, &Meta)> = t
            .requests
            .iter()
            .filter(|(_, m)| match listing {
                Listing::Agent { agent_key, .. } => m.agent == *agent_key,
                Listing::Status(st) => m.status == *st,
                Listing::BreakGlass => m.breakglass_at.is_some(),
            })
            .filter_map(|(pk, m)| {
                let at = match listing {
                    Listing::BreakGlass => m.breakglass_at?,
                    _ => m.created_at,
                };
                Some((at, keys::request_id(pk)?.to_string(), m))
            })
            .collect();
        index.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
        let start = match after {
            None => 0,
            Some(c) => index
                .iter()
                .position(|(at, id, _)| (*at, id.as_str()) < (c.created_at, c.id.as_str()))
                .unwrap_or(index.len()),
        };
        let limit = usize::try_from(limit.max(1)).unwrap_or(1);
        let read = &index[start..(start + limit).min(index.len())];
        let wanted = match listing {
            Listing::Agent {
                status: Some(st), ..
            } => Some(*st),
            _ => None,
        };
        let requests = read
            .iter()
            .filter(|(_, _, m)| wanted.is_none_or(|st| m.status == st))
            // The indexes project the document, never the task token.
            .map(|(_, _, m)| record(m, false))
            .collect::<Result<_, _>>()?;
        // Like a DynamoDB query, an agent's page that read its limit says where the next one
        // starts; a status listing (merged from its shards) knows whether one is left.
        let more = match listing {
            Listing::Agent { .. } => read.len() == limit,
            Listing::Status(_) | Listing::BreakGlass => start + limit < index.len(),
        };
        let next = more.then(|| {
            let (created_at, id, _) = &read[read.len() - 1];
            Cursor {
                created_at: *created_at,
                id: id.clone(),
            }
        });
        Ok(Page { requests, next })
    }

    async fn parked_plans(&self, agent_key: &str) -> Result<Vec<RequestRecord>, ApiError> {
        let t = self.table();
        t.requests
            .values()
            .filter(|m| m.parked && m.agent == agent_key)
            .map(|m| record(m, false))
            .collect()
    }

    async fn request_ids_since(&self, since_ms: u64) -> Result<Vec<String>, ApiError> {
        let t = self.table();
        let mut found: Vec<(u64, String)> = t
            .requests
            .iter()
            .filter(|(_, m)| m.created_at >= since_ms)
            .filter_map(|(pk, m)| Some((m.created_at, keys::request_id(pk)?.to_string())))
            .collect();
        found.sort();
        Ok(found.into_iter().map(|(_, id)| id).collect())
    }

    async fn created_between(
        &self,
        from_ms: u64,
        until_ms: u64,
        each: &mut (dyn FnMut(Result<RequestRecord, String>) + Send),
    ) -> Result<(), ApiError> {
        let found: Vec<Result<RequestRecord, String>> = {
            let t = self.table();
            t.requests
                .iter()
                .filter(|(_, m)| (from_ms..until_ms).contains(&m.created_at))
                .map(|(pk, m)| {
                    let id = keys::request_id(pk).unwrap_or(pk).to_string();
                    // The index projects the document, never the task token.
                    record(m, false).map_err(|_| id)
                })
                .collect()
        };
        found.into_iter().for_each(each);
        Ok(())
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn put_session(&self, session_id: &str, session: &SessionRecord) -> Result<(), ApiError> {
        let doc = serde_json::to_string(session).map_err(|e| ApiError::internal(e.to_string()))?;
        let mut t = self.table();
        let pk = keys::session(session_id);
        if t.sessions.contains_key(&pk) {
            return Err(session_collision());
        }
        t.sessions.insert(pk, doc);
        Ok(())
    }

    async fn session(
        &self,
        session_id: &str,
        now_ms: u64,
    ) -> Result<Option<SessionRecord>, ApiError> {
        let t = self.table();
        let Some(doc) = t.sessions.get(&keys::session(session_id)) else {
            return Ok(None);
        };
        let session: SessionRecord = serde_json::from_str(doc)
            .map_err(|e| ApiError::internal(format!("stored session unreadable: {e}")))?;
        Ok((session.expires_ms > now_ms).then_some(session))
    }

    async fn delete_session(&self, session_id: &str) -> Result<(), ApiError> {
        self.table().sessions.remove(&keys::session(session_id));
        Ok(())
    }
}

#[async_trait]
impl WaitLeases for MemoryStore {
    async fn take_wait(
        &self,
        scope: &str,
        lease: &str,
        expires_ms: u64,
        now_ms: u64,
        cap: usize,
    ) -> Result<bool, ApiError> {
        let mut t = self.table();
        let leases = t.waits.entry(keys::waits(scope)).or_default();
        Ok(tollgate_core::waits::take(
            leases, lease, expires_ms, now_ms, cap,
        ))
    }

    async fn release_wait(&self, scope: &str, lease: &str) -> Result<(), ApiError> {
        if let Some(leases) = self.table().waits.get_mut(&keys::waits(scope)) {
            leases.remove(lease);
        }
        Ok(())
    }
}

impl MemoryStore {
    /// Adds to the counter item as DynamoDB's `ADD` does, answering the item as it now stands.
    fn add(&self, agent: &str, b: Bucket, fields: &[(String, u64)]) -> RecentCounts {
        let mut t = self.table();
        let item = t
            .counters
            .entry((keys::counters(agent), keys::counter_day(b.day)))
            .or_default();
        for (f, by) in fields {
            *item.entry(f.clone()).or_default() += by;
        }
        rate::counts_from(item.iter().map(|(f, v)| (f.as_str(), *v)), b)
    }
}

#[async_trait]
impl RateCounters for MemoryStore {
    async fn count_request(
        &self,
        agent: &str,
        usage: &Usage,
        now_secs: u64,
    ) -> Result<RecentCounts, ApiError> {
        let b = rate::bucket(now_secs);
        Ok(self.add(agent, b, &rate::increments(usage, b)))
    }

    async fn count_denial(&self, agent: &str, now_secs: u64) -> Result<(), ApiError> {
        let b = rate::bucket(now_secs);
        self.add(agent, b, &rate::denial_increments(b));
        Ok(())
    }

    async fn recent_counts(&self, agent: &str, now_secs: u64) -> Result<RecentCounts, ApiError> {
        let b = rate::bucket(now_secs);
        let t = self.table();
        Ok(t.counters
            .get(&(keys::counters(agent), keys::counter_day(b.day)))
            .map(|item| rate::counts_from(item.iter().map(|(f, v)| (f.as_str(), *v)), b))
            .unwrap_or_default())
    }
}

#[async_trait]
impl GrantStore for MemoryStore {
    async fn put_grant(&self, grant: &tollgate_core::grant::Grant) -> Result<bool, ApiError> {
        let mut t = self.table();
        if t.grants.contains_key(&grant.id) {
            return Ok(false);
        }
        t.grants.insert(grant.id.clone(), grant.clone());
        Ok(true)
    }

    async fn grant(&self, id: &str) -> Result<Option<tollgate_core::grant::Grant>, ApiError> {
        Ok(self.table().grants.get(id).cloned())
    }

    async fn grants(&self) -> Result<Vec<tollgate_core::grant::Grant>, ApiError> {
        Ok(self.table().grants.values().cloned().collect())
    }

    async fn use_grant(
        &self,
        id: &str,
        now_ms: u64,
    ) -> Result<Option<tollgate_core::grant::Grant>, ApiError> {
        let mut t = self.table();
        let Some(g) = t.grants.get_mut(id) else {
            return Ok(None);
        };
        if g.uses >= g.max_uses || g.expires_at <= now_ms || g.revoked.is_some() {
            return Ok(None);
        }
        g.uses += 1;
        Ok(Some(g.clone()))
    }

    async fn revoke_grant(
        &self,
        id: &str,
        by: &tollgate_core::grant::Revocation,
    ) -> Result<bool, ApiError> {
        let mut t = self.table();
        match t.grants.get_mut(id) {
            Some(g) if g.revoked.is_none() => {
                g.revoked = Some(by.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn mark_grant_expiry_noticed(&self, id: &str) -> Result<bool, ApiError> {
        let mut t = self.table();
        match t.grants.get_mut(id) {
            Some(g) if !g.expiry_noticed => {
                g.expiry_noticed = true;
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}
