//! The impact preview's reads: one STS session whose policy allows only the planned read
//! actions on the request's own resources, and the reads sent with it side by side. And its
//! dry run: the held EC2 call itself, with `DryRun` forced and checked on the wire.

use std::sync::Arc;

use async_trait::async_trait;
use aws_credential_types::Credentials;
use serde_json::Value;
use tollgate_core::ApiError;
use tollgate_core::preview::dry_run::{self, Reply};

use crate::credentials::{CredentialBroker, ScopedSession};
use crate::model_call::{self, CallError};
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

    async fn dry_run(&self, session: &ScopedSession<'_>, call: &StateRead) -> Reply {
        let creds = match self.broker.assume(session).await {
            Ok(c) => c,
            Err(e) => return Reply::NotSent(format!("no session: {}", e.message)),
        };
        let forced = StateRead {
            params: dry_run::forced(&call.params),
            ..call.clone()
        };
        guarded_send(
            self.http.as_ref(),
            &creds,
            &forced,
            self.endpoint.as_deref(),
        )
        .await
    }
}

/// Sends `call` as built from its parameters, and only if the request as encoded for the
/// wire asks for a dry run ([`dry_run::check_encoded`]); otherwise nothing is sent.
async fn guarded_send(
    http: &dyn SignedCaller,
    creds: &Credentials,
    call: &StateRead,
    endpoint: Option<&str>,
) -> Reply {
    let built = match model_call::build(&call.action, &call.params, &call.region, endpoint) {
        Ok(b) => b,
        Err(e) => return Reply::NotSent(e.to_string()),
    };
    if let Err(why) = dry_run::check_encoded(built.body()) {
        tracing::error!(action = %call.action, reason = %why, "dry run refused before sending: it would not have been a dry run");
        return Reply::NotSent(format!("refused before sending: {why}"));
    }
    match model_call::send(http, creds, built).await {
        Ok(_) => {
            tracing::error!(action = %call.action, "a dry run answered with a success: the service may have run the call");
            Reply::Ran
        }
        Err(CallError::Aws(e)) => Reply::Error {
            code: e.code,
            message: e.message,
        },
        Err(CallError::Unanswered(e)) => Reply::Unanswered(e.message),
        Err(e @ CallError::TooLarge { .. }) => Reply::Unanswered(e.to_string()),
        Err(e) => Reply::NotSent(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::SendError;
    use crate::signed_http::RawResponse;
    use serde_json::json;
    use std::sync::Mutex;

    /// Keeps every request it is given and answers as EC2 answers a dry run that would succeed.
    #[derive(Default)]
    struct Recorder(Mutex<Vec<Vec<u8>>>);

    #[async_trait]
    impl SignedCaller for Recorder {
        async fn send(
            &self,
            req: http::Request<Vec<u8>>,
            _creds: &Credentials,
            _region: &str,
            _service: &str,
        ) -> Result<RawResponse, SendError> {
            self.0.lock().unwrap().push(req.body().clone());
            Ok(RawResponse {
                status: 412,
                headers: http::HeaderMap::new(),
                body: b"<Response><Errors><Error><Code>DryRunOperation</Code><Message>Request would have succeeded, but DryRun flag is set.</Message></Error></Errors><RequestID>r</RequestID></Response>".to_vec(),
                too_large: false,
            })
        }
    }

    fn terminate(params: serde_json::Value) -> StateRead {
        StateRead {
            action: tollgate_core::Action::parse("ec2:TerminateInstances").unwrap(),
            params: params.as_object().unwrap().clone(),
            region: "us-east-1".into(),
        }
    }

    #[tokio::test]
    async fn a_call_that_would_not_be_a_dry_run_is_never_sent() {
        let http = Recorder::default();
        let creds = Credentials::new("AKID", "secret", None, None, "test");
        let endpoint = Some("http://127.0.0.1:1");
        for params in [
            json!({"InstanceIds": ["i-1"]}),
            json!({"InstanceIds": ["i-1"], "DryRun": false}),
        ] {
            let reply = guarded_send(&http, &creds, &terminate(params), endpoint).await;
            assert!(
                matches!(&reply, Reply::NotSent(m) if m.starts_with("refused before sending")),
                "{reply:?}"
            );
        }
        assert!(http.0.lock().unwrap().is_empty());
        let forced = terminate(json!({"InstanceIds": ["i-1"], "DryRun": false}));
        let forced = StateRead {
            params: dry_run::forced(&forced.params),
            ..forced
        };
        let reply = guarded_send(&http, &creds, &forced, endpoint).await;
        assert_eq!(
            reply,
            Reply::Error {
                code: "DryRunOperation".into(),
                message: "Request would have succeeded, but DryRun flag is set.".into()
            }
        );
        let sent = http.0.lock().unwrap();
        assert_eq!(sent.len(), 1);
        assert!(String::from_utf8_lossy(&sent[0]).contains("DryRun=true"));
    }
}
