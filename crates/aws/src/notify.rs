//! Approval notices through an SNS topic.

use async_trait::async_trait;
use aws_sdk_sns::Client;
use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sns::types::MessageAttributeValue;
use tollgate_core::ApiError;

use crate::ports::Publisher;
use crate::unavailable;

#[derive(Clone, Debug)]
pub struct Topic {
    client: Client,
    topic_arn: String,
}

impl Topic {
    pub fn new(client: Client, topic_arn: String) -> Self {
        Self { client, topic_arn }
    }
}

#[async_trait]
impl Publisher for Topic {
    /// Publishes with `MessageStructure: json`.
    async fn publish(
        &self,
        subject: &str,
        message: &serde_json::Value,
    ) -> Result<String, ApiError> {
        // SNS caps subjects at 100 printable characters.
        let subject: String = subject
            .chars()
            .filter(|c| !c.is_control())
            .take(100)
            .collect();
        // Every notice carries its kind, so a subscription's filter policy can select
        // (the e-mail subscription skips vote notices).
        let kind = MessageAttributeValue::builder()
            .data_type("String")
            .string_value(tollgate_core::notice::kind(message))
            .build()
            .map_err(|e| unavailable("SNS", e))?;
        let out = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message_structure("json")
            .message(message.to_string())
            .message_attributes("type", kind)
            .send()
            .await
            .map_err(|e| unavailable("SNS", DisplayErrorContext(&e)))?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }
}
