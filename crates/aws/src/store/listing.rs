//! Listing requests through two sparse-free global secondary indexes on the META items:
//! `by-agent` (`agent`, `created_at`) for an agent's own requests and `by-status`
//! (`status`, `created_at`) for approvers' queues. Both project the request document (and
//! `by-agent` the status, to filter on), never the task token.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use tollgate_core::{ApiError, RequestRecord, Status};

use super::item::{ItemExt, n, s};
use super::{META, Store, keys};
use crate::ports::RequestLister;
use crate::unavailable;

pub const AGENT_INDEX: &str = "by-agent";
pub const STATUS_INDEX: &str = "by-status";

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

/// One page, newest first, and where the next one starts.
#[derive(Debug)]
pub struct Page {
    pub requests: Vec<RequestRecord>,
    pub next: Option<Cursor>,
}

#[async_trait]
impl RequestLister for Store {
    async fn list(
        &self,
        listing: &Listing<'_>,
        limit: i32,
        after: Option<&Cursor>,
    ) -> Result<Page, ApiError> {
        let (index, hash_attr, hash_value) = match listing {
            Listing::Agent { agent_key, .. } => (AGENT_INDEX, "agent", agent_key.to_string()),
            Listing::Status(st) => (STATUS_INDEX, "status", st.as_str().to_string()),
        };
        let mut q = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#h = :h")
            .expression_attribute_names("#h", hash_attr)
            .expression_attribute_values(":h", s(hash_value.clone()))
            .scan_index_forward(false)
            .limit(limit);
        if let Listing::Agent {
            status: Some(st), ..
        } = listing
        {
            q = q
                .filter_expression("#st = :st")
                .expression_attribute_names("#st", "status")
                .expression_attribute_values(":st", s(st.as_str()));
        }
        if let Some(c) = after {
            q = q
                .exclusive_start_key("pk", s(keys::request(&c.id)))
                .exclusive_start_key("sk", s(META))
                .exclusive_start_key(hash_attr, s(hash_value))
                .exclusive_start_key("created_at", n(c.created_at));
        }
        let out = q
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
        let requests = out
            .items()
            .iter()
            .map(|item| item.doc::<RequestRecord>("listed request"))
            .collect::<Result<_, _>>()?;
        let next = out.last_evaluated_key().and_then(|k| {
            let id = keys::request_id(k.string("pk")?)?.to_string();
            let created_at = k.number("created_at")?;
            Some(Cursor { created_at, id })
        });
        Ok(Page { requests, next })
    }

    async fn request_ids_since(&self, since_ms: u64) -> Result<Vec<String>, ApiError> {
        self.scan_request_ids(since_ms).await
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
