//! The ports handlers hold their adapters through: one capability trait per thing a handler
//! asks of the outside (read requests, write them conditionally, list them, keep sessions,
//! drive the workflow, publish a notice, invoke a function, send a signed call). The AWS
//! adapters implement them; `store::memory` implements the record store for handler tests.
//!
//! Traits are `async_trait` so they can be held as `Arc<dyn …>`: a native `async fn` in a
//! trait is not dyn-compatible, and boxing the futures by hand is what the macro writes.

use async_trait::async_trait;
use aws_credential_types::Credentials;
use serde_json::Value;
use tollgate_core::audit::{ChainBreak, verify_trail};
use tollgate_core::grant::{Grant, Revocation};
use tollgate_core::rate::{RecentCounts, Usage};
use tollgate_core::{ApiError, ErrorCode, Event, RequestRecord};

use crate::signed_http::RawResponse;
use crate::store::{Created, Cursor, IdempotencyClaim, Listing, Page, SessionRecord, not_found};

/// Reads requests and their audit events, consistently.
#[async_trait]
pub trait RequestReader: Send + Sync {
    /// The request; `None` if there is no such request.
    async fn get(&self, id: &str) -> Result<Option<RequestRecord>, ApiError>;
    /// The request's audit events in order.
    async fn events(&self, id: &str) -> Result<Vec<Event>, ApiError>;
}

/// Why a conditional write did not happen.
#[derive(Debug)]
pub enum CommitError {
    /// Someone wrote the request since it was read (its `seq` moved), or one of the events
    /// already exists: read again and retry.
    Lost,
    Failed(ApiError),
}

/// Writes requests; every write is conditional, so two racing writers never both win.
#[async_trait]
pub trait RequestWriter: Send + Sync {
    /// Writes a new request with its first events, and its idempotency claim if any, all or
    /// nothing. A claim already held (and not expired) answers [`Created::Existing`].
    async fn create(
        &self,
        rec: &RequestRecord,
        events: &[Event],
        claim: Option<&IdempotencyClaim>,
    ) -> Result<Created, ApiError>;

    /// Writes `rec` with `events` if its stored version is still `prev_seq` and none of the
    /// events exist yet, all or nothing. With `prev_doc`, also only if the stored document is
    /// still exactly that: for a writer that was handed the record instead of reading it
    /// ([`tollgate_core::Handover`]), so a handed record that is not what the table holds is
    /// never written over it.
    async fn commit(
        &self,
        rec: &RequestRecord,
        prev_seq: u64,
        prev_doc: Option<&str>,
        events: &[Event],
    ) -> Result<(), CommitError>;

    /// Deletes the idempotency claim `key_hash` if it still points at `request_id`. `false`
    /// when it did not (released by a concurrent caller, or taken by another request): only
    /// the caller that released it delivers the answer (the front door's once-only answer).
    async fn release_claim(&self, key_hash: &str, request_id: &str) -> Result<bool, ApiError>;
}

/// Lists requests for agents, approvers and operators.
#[async_trait]
pub trait RequestLister: Send + Sync {
    /// A page of requests, newest first. `limit` bounds the items read, so a page filtered by
    /// status may hold fewer than `limit` requests and still have a next page.
    async fn list(
        &self,
        listing: &Listing<'_>,
        limit: i32,
        after: Option<&Cursor>,
    ) -> Result<Page, ApiError>;

    /// The plans of the agent `agent_key` (identity key) that are parked, taking its
    /// front-door calls (`tollgate_core::plan::join`), as of their last change; one read.
    async fn parked_plans(&self, agent_key: &str) -> Result<Vec<RequestRecord>, ApiError>;

    /// Ids of the requests created at or after `since_ms`, oldest first: an operator's tool,
    /// not a request path.
    async fn request_ids_since(&self, since_ms: u64) -> Result<Vec<String>, ApiError>;
    /// Every request created in `[from_ms, until_ms)`, whatever its status, handed to `each`
    /// as it is read and in no set order, so the caller holds a page at a time however many
    /// there are; an item whose document cannot be read is handed as its request id. An
    /// operator's tool (`tollgate policy replay`), not a request path.
    async fn created_between(
        &self,
        from_ms: u64,
        until_ms: u64,
        each: &mut (dyn FnMut(Result<RequestRecord, String>) + Send),
    ) -> Result<(), ApiError>;
}

/// Approver sessions, keyed by the session id's hash.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Records a new session; an existing one with that id is a collision, refused.
    async fn put_session(&self, session_id: &str, session: &SessionRecord) -> Result<(), ApiError>;
    /// The session, when it exists and has not expired.
    async fn session(
        &self,
        session_id: &str,
        now_ms: u64,
    ) -> Result<Option<SessionRecord>, ApiError>;
    /// Ends a session; ending one that does not exist is not an error.
    async fn delete_session(&self, session_id: &str) -> Result<(), ApiError>;
}

/// Leases on open long-polls (`tollgate_core::waits`), kept where every API instance sees
/// them.
#[async_trait]
pub trait WaitLeases: Send + Sync {
    /// Takes a place for `lease` in `scope` until `expires_ms`; `Ok(false)` when `cap`
    /// unexpired leases already hold it.
    async fn take_wait(
        &self,
        scope: &str,
        lease: &str,
        expires_ms: u64,
        now_ms: u64,
        cap: usize,
    ) -> Result<bool, ApiError>;
    /// Frees the place; freeing one not held is not an error.
    async fn release_wait(&self, scope: &str, lease: &str) -> Result<(), ApiError>;
}

/// Each agent's rate counters (`tollgate_core::rate`), read by policies as `context.recent`.
#[async_trait]
pub trait RateCounters: Send + Sync {
    /// Counts a request of `agent` (its identity key) made at `now_secs`, in one atomic
    /// write, and answers the agent's counts with it included.
    async fn count_request(
        &self,
        agent: &str,
        usage: &Usage,
        now_secs: u64,
    ) -> Result<RecentCounts, ApiError>;
    /// Counts a denial of a request already counted.
    async fn count_denial(&self, agent: &str, now_secs: u64) -> Result<(), ApiError>;
    /// The counts as they stand, counting nothing.
    async fn recent_counts(&self, agent: &str, now_secs: u64) -> Result<RecentCounts, ApiError>;
}

/// Grants (`tollgate_core::grant`): recorded once, used and revoked by conditional writes.
#[async_trait]
pub trait GrantStore: Send + Sync {
    /// Records a new grant; `false` when one with its id exists (an approval recorded twice
    /// makes one grant).
    async fn put_grant(&self, grant: &Grant) -> Result<bool, ApiError>;
    async fn grant(&self, id: &str) -> Result<Option<Grant>, ApiError>;
    /// Every grant still kept (live ones, and ended ones until their TTL removes them).
    async fn grants(&self) -> Result<Vec<Grant>, ApiError>;
    /// Counts one use, in one conditional write, if the grant is still live at `now_ms`
    /// (uses left, not expired, not revoked): the grant as it then stands, with this use
    /// counted; `None` when it was not live (or does not exist). Concurrent callers never
    /// count past its `max_uses`.
    async fn use_grant(&self, id: &str, now_ms: u64) -> Result<Option<Grant>, ApiError>;
    /// Revokes it; `false` when it was revoked already (or does not exist).
    async fn revoke_grant(&self, id: &str, by: &Revocation) -> Result<bool, ApiError>;
    /// Marks that its approvers were told it expired; `true` only for the one caller that
    /// marked it.
    async fn mark_grant_expiry_noticed(&self, id: &str) -> Result<bool, ApiError>;
}

/// Everything the table holds, as the API needs it.
pub trait RecordStore:
    RequestReader
    + RequestWriter
    + RequestLister
    + SessionStore
    + WaitLeases
    + RateCounters
    + GrantStore
{
}

impl<
    T: RequestReader
        + RequestWriter
        + RequestLister
        + SessionStore
        + WaitLeases
        + RateCounters
        + GrantStore
        + ?Sized,
> RecordStore for T
{
}

/// Optimistic writes retried this often under contention before giving up with a 409.
const MAX_ATTEMPTS: u32 = 60;

impl dyn RecordStore + '_ {
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
            match self.commit(&rec, prev_seq, None, &events).await {
                Ok(()) => return Ok((out, rec)),
                Err(CommitError::Lost) => {
                    // Spread contending writers apart a little more on every loss.
                    use std::hash::{BuildHasher, RandomState};
                    let jitter = RandomState::new().hash_one(attempt) % 20;
                    tokio::time::sleep(std::time::Duration::from_millis(
                        5 + jitter + u64::from(attempt) * 2,
                    ))
                    .await;
                }
                Err(CommitError::Failed(e)) => return Err(e),
            }
        }
        Err(ApiError::new(
            ErrorCode::Conflict,
            format!("request {id} is being changed by many callers at once; retry"),
        ))
    }

    /// [`update`](Self::update) starting from `rec`, a record this caller wrote itself and so
    /// knows at its version: the first attempt writes without reading it again, and a lost
    /// race falls back to reading, as `update` does.
    pub async fn update_from<T>(
        &self,
        mut rec: RequestRecord,
        mut change: impl FnMut(&mut RequestRecord) -> Result<(T, Vec<Event>), ApiError>,
    ) -> Result<(T, RequestRecord), ApiError> {
        let prev_seq = rec.seq;
        let (out, events) = change(&mut rec)?;
        if events.is_empty() {
            return Ok((out, rec));
        }
        match self.commit(&rec, prev_seq, None, &events).await {
            Ok(()) => Ok((out, rec)),
            Err(CommitError::Lost) => self.update(&rec.id, change).await,
            Err(CommitError::Failed(e)) => Err(e),
        }
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
}

/// The approval wait (Step Functions): started once per request, resumed by the decision.
/// Resuming a wait that already ended answers `Ok(false)`: the record is the truth.
#[async_trait]
pub trait Workflow: Send + Sync {
    /// Starts the wait; starting it again for the same request is not an error.
    async fn start(&self, request_id: &str, timeout_seconds: u64) -> Result<(), ApiError>;
    async fn approve(&self, task_token: &str, request_id: &str) -> Result<bool, ApiError>;
    async fn reject(&self, task_token: &str, cause: &str) -> Result<bool, ApiError>;
    /// Ends the wait because the agent withdrew the request.
    async fn cancel(&self, task_token: &str) -> Result<bool, ApiError>;
    /// Whether the request's workflow is still running (`false` once it ended, or if it
    /// never started or is no longer known).
    async fn running(&self, request_id: &str) -> Result<bool, ApiError>;
}

/// Publishes approval notices (SNS).
#[async_trait]
pub trait Publisher: Send + Sync {
    /// Publishes one message; `message` is a JSON object of per-protocol bodies, which must
    /// include `default`. Answers the message id.
    async fn publish(&self, subject: &str, message: &Value) -> Result<String, ApiError>;
}

/// Invokes a function synchronously (the executor, from the API).
#[async_trait]
pub trait Invoker: Send + Sync {
    /// Invokes `function` (name or ARN) and returns its JSON answer; a function error is an
    /// error.
    async fn invoke(&self, function: &str, payload: &Value) -> Result<Value, ApiError>;
}

/// Why a signed call brought back no answer, and so whether it may have run.
#[derive(Debug, Clone)]
pub enum SendError {
    /// Nothing reached the service (the URL was refused, no connection was made).
    NotSent(ApiError),
    /// The request went out and no whole answer came back (a timeout, a dropped connection,
    /// an unreadable body): the service may have acted on it.
    Unanswered(ApiError),
}

impl SendError {
    pub fn into_error(self) -> ApiError {
        match self {
            SendError::NotSent(e) | SendError::Unanswered(e) => e,
        }
    }
}

/// Keeps the bodies too large for a request record (`tollgate_core::payload`): the API
/// puts them, the executor reads them back.
#[async_trait]
pub trait PayloadStore: Send + Sync {
    /// The bucket new payloads go to.
    fn bucket(&self) -> &str;
    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), ApiError>;
    /// The object, read to at most `limit` bytes.
    async fn get(&self, bucket: &str, key: &str, limit: usize) -> Result<Stored, ApiError>;
}

/// What the payload bucket holds at a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Bytes(Vec<u8>),
    Missing,
    /// Longer than the limit; not read past it.
    Longer,
}

/// Sends one SigV4-signed HTTP call to AWS, whatever the answer's status.
#[async_trait]
pub trait SignedCaller: Send + Sync {
    async fn send(
        &self,
        req: http::Request<Vec<u8>>,
        creds: &Credentials,
        region: &str,
        service: &str,
    ) -> Result<RawResponse, SendError>;
}

/// One read of an impact preview: the operation, its parameters and the region.
#[derive(Debug, Clone)]
pub struct StateRead {
    pub action: tollgate_core::Action,
    pub params: serde_json::Map<String, Value>,
    pub region: String,
}

/// Reads the current state of what a held call will touch (its impact preview).
#[async_trait]
pub trait StateReader: Send + Sync {
    /// Assumes the session (its policy allows only the reads, on the request's resources)
    /// and sends every read; per read, in order, its unmasked answer or why there is none.
    /// An error when no session could be had.
    async fn read(
        &self,
        session: &crate::credentials::ScopedSession<'_>,
        reads: &[StateRead],
    ) -> Result<Vec<Result<Value, String>>, ApiError>;

    /// Assumes the session (its policy is the one the executor would run this call with)
    /// and sends `call` as a dry run: `DryRun` forced true whatever its parameters say, and
    /// sent only when the request as encoded carries it.
    async fn dry_run(
        &self,
        session: &crate::credentials::ScopedSession<'_>,
        call: &StateRead,
    ) -> tollgate_core::preview::dry_run::Reply;
}
