//! Where the Slack forwarder posted each request's message (channel and timestamp), kept
//! next to the request (`sk = SLACK`, see `store::keys`) so reminders thread under it and the
//! closing notice edits it in place. Expires with a DynamoDB TTL.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use tollgate_core::ApiError;

use crate::store::item::{ItemExt, n, s};
use crate::store::keys;
use crate::unavailable;

/// How long a posted message is remembered: long past any approval window.
pub const REMEMBER_SECONDS: u64 = 90 * 24 * 3600;

/// A message posted to Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

#[derive(Clone, Debug)]
pub struct SlackThreads {
    client: Client,
    table: String,
}

impl SlackThreads {
    pub fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// The message posted for `request_id`, if any.
    pub async fn posted(&self, request_id: &str) -> Result<Option<Posted>, ApiError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::request(request_id)))
            .key("sk", s(keys::SLACK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
        Ok(out.item().and_then(|item| {
            Some(Posted {
                channel: item.string("channel")?.to_string(),
                ts: item.string("ts")?.to_string(),
            })
        }))
    }

    /// Remembers the message posted for `request_id`; `now_ms` starts its TTL.
    pub async fn remember(
        &self,
        request_id: &str,
        posted: &Posted,
        now_ms: u64,
    ) -> Result<(), ApiError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::request(request_id)))
            .item("sk", s(keys::SLACK))
            .item("channel", s(posted.channel.clone()))
            .item("ts", s(posted.ts.clone()))
            .item("ttl", n(now_ms / 1000 + REMEMBER_SECONDS))
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
        Ok(())
    }
}
