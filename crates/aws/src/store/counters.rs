//! Rate counters (`tollgate_core::rate`): one item per agent and UTC day
//! (`pk = RATE#<sha256(agent)>`, `sk = DAY#<day>`), a number attribute per counted field, a
//! TTL a day after the day ends. Counting a request is one `UpdateItem` that `ADD`s its fields
//! and answers the item as it now stands (`ALL_NEW`): DynamoDB applies the update atomically
//! on the item, so concurrent requests each see a distinct count and none is lost, with no
//! read before the write and no retry. `ALL_NEW` rather than `UPDATED_NEW`: whether an `ADD`
//! of 0 (how the write reads the denials back) counts as updated is not something to rely on
//! (moto says it does not).

use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::ReturnValue;
use tollgate_core::ApiError;
use tollgate_core::rate::{self, Bucket, RecentCounts, Usage};

use super::item::{Item, n, s};
use super::{Store, keys};
use crate::ports::RateCounters;
use crate::unavailable;

fn numbers(item: &Item) -> impl Iterator<Item = (&str, u64)> {
    item.iter()
        .filter_map(|(k, v)| Some((k.as_str(), v.as_n().ok()?.parse().ok()?)))
}

impl Store {
    async fn add(
        &self,
        agent: &str,
        b: Bucket,
        fields: &[(String, u64)],
    ) -> Result<Option<Item>, ApiError> {
        // Field names carry action names: placeholders keep any spelling out of the grammar.
        let adds: Vec<String> = (0..fields.len()).map(|i| format!("#f{i} :v{i}")).collect();
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::counters(agent)))
            .key("sk", s(keys::counter_day(b.day)))
            .update_expression(format!("ADD {} SET #ttl = :ttl", adds.join(", ")))
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":ttl", n(b.expires))
            .return_values(ReturnValue::AllNew);
        for (i, (field, by)) in fields.iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#f{i}"), field)
                .expression_attribute_values(format!(":v{i}"), n(*by));
        }
        let out = update
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
        Ok(out.attributes)
    }
}

#[async_trait]
impl RateCounters for Store {
    async fn count_request(
        &self,
        agent: &str,
        usage: &Usage,
        now_secs: u64,
    ) -> Result<RecentCounts, ApiError> {
        let b = rate::bucket(now_secs);
        let item = self
            .add(agent, b, &rate::increments(usage, b))
            .await?
            .unwrap_or_default();
        Ok(rate::counts_from(numbers(&item), b))
    }

    async fn count_denial(&self, agent: &str, now_secs: u64) -> Result<(), ApiError> {
        let b = rate::bucket(now_secs);
        self.add(agent, b, &rate::denial_increments(b))
            .await
            .map(|_| ())
    }

    async fn recent_counts(&self, agent: &str, now_secs: u64) -> Result<RecentCounts, ApiError> {
        let b = rate::bucket(now_secs);
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::counters(agent)))
            .key("sk", s(keys::counter_day(b.day)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("DynamoDB", DisplayErrorContext(&e)))?;
        Ok(out
            .item
            .map(|item| rate::counts_from(numbers(&item), b))
            .unwrap_or_default())
    }
}
