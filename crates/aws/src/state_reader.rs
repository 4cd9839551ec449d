//! The impact preview's reads: one STS session whose policy allows only the planned read
//! actions on the request's own resources, and the reads sent with it side by side.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;
use tollgate_core::ApiError;

use crate::credentials::{CredentialBroker, ScopedSession};
use crate::model_call;
use crate::ports::{SignedCaller, StateRead, StateReader};

pub struct AwsStateReader {
    broker: CredentialBroker,
    http: Arc<dyn SignedCaller>,
    /// Where the reads go instead of AWS's endpoints (the emulator locally).
    endpoint: Option<String>,
}

impl AwsStateReader {
    pub fn new(
        broker: CredentialBroker,
        http: Arc<dyn SignedCaller>,
        endpoint: Option<String>,
    ) -> Self {
        Self {
            broker,
            http,
            endpoint,
        }
    }
}

#[async_trait]
impl StateReader for AwsStateReader {
    async fn read(
        &self,
        session: &ScopedSession<'_>,
        reads: &[StateRead],
    ) -> Result<Vec<Result<Value, String>>, ApiError> {
        let creds = self.broker.assume(session).await?;
        let mut tasks = tokio::task::JoinSet::new();
        for (i, read) in reads.iter().cloned().enumerate() {
            let (http, creds, endpoint) = (self.http.clone(), creds.clone(), self.endpoint.clone());
            tasks.spawn(async move {
                let answer = model_call::call(
                    http.as_ref(),
                    &creds,
                    &read.action,
                    &read.params,
                    &read.region,
                    endpoint.as_deref(),
                )
                .await
                .map_err(|e| e.to_string());
                (i, answer)
            });
        }
        let mut answers: Vec<Result<Value, String>> =
            vec![Err("not answered".to_string()); reads.len()];
        while let Some(done) = tasks.join_next().await {
            if let Ok((i, answer)) = done {
                answers[i] = answer;
            }
        }
        Ok(answers)
    }
}
