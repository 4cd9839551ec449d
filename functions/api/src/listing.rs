//! `GET /v1/requests`: an agent's own requests; an approver's queue.

use serde_json::{Value, json};
use tollgate_aws::store::{Cursor, Listing};
use tollgate_core::{ApiError, Status};

use crate::{Api, Request, Response, query_param};

const DEFAULT_LIMIT: i32 = 50;
const MAX_LIMIT: i32 = 100;

impl Api {
    pub(crate) async fn list(&self, req: &Request) -> Result<Response, ApiError> {
        let (who, is_approver) = self.caller(req).await?;
        let status = match query_param(req, "status") {
            None => None,
            Some(s) => Some(Status::parse(&s.to_ascii_uppercase()).ok_or_else(|| {
                ApiError::field(
                    "status",
                    "must be one of pending, approved, executing, succeeded, failed, denied, rejected, expired, cancelled",
                )
            })?),
        };
        let limit = match query_param(req, "limit") {
            None => DEFAULT_LIMIT,
            Some(l) => l
                .parse::<i32>()
                .ok()
                .filter(|l| (1..=MAX_LIMIT).contains(l))
                .ok_or_else(|| {
                    ApiError::field(
                        "limit",
                        format!("must be a whole number from 1 to {MAX_LIMIT}"),
                    )
                })?,
        };
        let cursor =
            match query_param(req, "cursor") {
                None => None,
                Some(c) => Some(Cursor::parse(&c).ok_or_else(|| {
                    ApiError::field("cursor", "is not a cursor this API returned")
                })?),
            };
        let agent_key = who.identity.key();
        // An agent lists its own requests; an approver lists by status, pending by default:
        // its pending queue holds only what it may still decide, the others only requests it
        // could vote on or voted on.
        let listing = if is_approver {
            Listing::Status(status.unwrap_or(Status::Pending))
        } else {
            Listing::Agent {
                agent_key: &agent_key,
                status,
            }
        };
        let page = self.store.list(&listing, limit, cursor.as_ref()).await?;
        let requests: Vec<Value> = page
            .requests
            .iter()
            .filter(|r| {
                !is_approver
                    || if r.status == Status::Pending {
                        r.awaits_vote_from(&who.identity)
                    } else {
                        r.visible_to_approver(&who.identity)
                    }
            })
            .map(|r| r.view())
            .collect();
        Ok(Response::json(
            200,
            &json!({
                "requests": requests,
                "next_cursor": page.next.map(|c| c.encode()),
            }),
        ))
    }
}
