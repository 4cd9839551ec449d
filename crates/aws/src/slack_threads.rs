//! Where the Slack forwarder posted each request's message (channel and timestamp), kept
//! next to the request (`sk = SLACK`, see `store::keys`) so reminders thread under it and the
//! vote and closing notices edit it in place. Expires with a DynamoDB TTL. The item also
//! keeps the `seq` of the request the message last showed, so a notice SNS delivers late
//! never puts back an older state (buttons on a closed request).

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

    /// Marks the posted message as showing the request at version `seq`: `true` when it
    /// showed an older one (the caller then edits the message), `false` when it already
    /// shows this or a newer one, or there is no posted message. One conditional write, so
    /// two racing deliveries never both win.
    pub async fn advance(&self, request_id: &str, seq: u64) -> Result<bool, ApiError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::request(request_id)))
            .key("sk", s(keys::SLACK))
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(shown_seq) OR shown_seq < :seq)",
            )
            .update_expression("SET shown_seq = :seq")
            .expression_attribute_values(":seq", n(seq))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) if crate::store::is_condition_failure(&e) => Ok(false),
            Err(e) => Err(unavailable("DynamoDB", DisplayErrorContext(&e))),
        }
    }
}
