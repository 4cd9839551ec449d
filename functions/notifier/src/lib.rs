//! Invoked by the approval state machine. `approval_requested` stores the task token with the
//! request and sends the notice; `expire` and `abort` close a request the workflow gave up on.

mod notice;
pub mod preview;

use std::sync::Arc;

use aws_config::SdkConfig;
use serde::Deserialize;
use serde_json::{Value, json};
use tollgate_aws::credentials::CredentialBroker;
use tollgate_aws::keys::{KeySource, Purpose};
use tollgate_aws::notify::Topic;
use tollgate_aws::now_ms;
use tollgate_aws::ports::{Publisher, RecordStore, StateReader, Workflow};
use tollgate_aws::settings::Settings;
use tollgate_aws::signed_http::SignedHttp;
use tollgate_aws::state_reader::AwsStateReader;
use tollgate_aws::store::Store;
use tollgate_aws::workflow::StepFunctions;
use tollgate_core::keyring::KeyRing;
use tollgate_core::{ApiError, ErrorCode, EventKind, Failure, Status};

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotifierEvent {
    ApprovalRequested {
        request_id: String,
        task_token: String,
    },
    /// The approval window is nearly over: a fresh task token for the rest of the wait.
    Reminder {
        request_id: String,
        task_token: String,
    },
    /// The request is final: tell the approvers how it ended.
    Closed {
        request_id: String,
    },
    Expire {
        request_id: String,
    },
    Abort {
        request_id: String,
        #[serde(default)]
        error: Value,
    },
}

/// How the workflow closes a request it gave up on.
enum Closing {
    /// No decision came before the deadline.
    Expire,
    /// The workflow failed (its caught error, as a failure).
    Fail(Failure),
}

pub struct Notifier {
    settings: Settings,
    store: Arc<dyn RecordStore>,
    workflow: Arc<dyn Workflow>,
    topic: Arc<dyn Publisher>,
    /// Reads the impact preview under a read-only session on the request's resources.
    reader: Arc<dyn StateReader>,
    /// Signs approval links; the only key the notifier may read.
    link_key: KeyRing,
}

impl Notifier {
    /// Builds the notifier at cold start, reading the link key from Secrets Manager.
    pub async fn new(settings: Settings, sdk: &SdkConfig) -> Result<Self, String> {
        let link_key = KeySource::new(sdk)
            .ring(&settings.secrets, Purpose::Link)
            .await?;
        Ok(Self {
            store: Arc::new(Store::new(
                aws_sdk_dynamodb::Client::new(sdk),
                settings.table.clone(),
            )),
            workflow: Arc::new(StepFunctions::new(
                aws_sdk_sfn::Client::new(sdk),
                settings.state_machine_arn.clone(),
            )),
            topic: Arc::new(Topic::new(
                aws_sdk_sns::Client::new(sdk),
                settings.topic_arn.clone(),
            )),
            reader: Arc::new(AwsStateReader::new(
                CredentialBroker::new(aws_sdk_sts::Client::new(sdk)),
                Arc::new(SignedHttp::new()),
                settings.aws_endpoint.clone(),
            )),
            link_key,
            settings,
        })
    }

    pub async fn handle(&self, event: Value) -> Result<Value, ApiError> {
        let event: NotifierEvent = serde_json::from_value(event).map_err(|e| {
            ApiError::new(ErrorCode::InvalidRequest, format!("notifier event: {e}"))
        })?;
        match event {
            NotifierEvent::ApprovalRequested {
                request_id,
                task_token,
            } => {
                self.approval_requested(&request_id, task_token, notice::Kind::Requested)
                    .await
            }
            NotifierEvent::Reminder {
                request_id,
                task_token,
            } => {
                self.approval_requested(&request_id, task_token, notice::Kind::Reminder)
                    .await
            }
            NotifierEvent::Closed { request_id } => self.announce(&request_id).await,
            NotifierEvent::Expire { request_id } => self.close(&request_id, Closing::Expire).await,
            NotifierEvent::Abort { request_id, error } => {
                self.close(&request_id, Closing::Fail(Failure::from_workflow(&error)))
                    .await
            }
        }
    }

    /// Sends the notice, then stores the token with the `notified` event: the event records a
    /// notice that was published, so a failed publish leaves no trace of one.
    async fn approval_requested(
        &self,
        id: &str,
        token: String,
        kind: notice::Kind,
    ) -> Result<Value, ApiError> {
        let before = self
            .store
            .get(id)
            .await?
            .ok_or_else(|| tollgate_aws::store::not_found(id))?;
        if before.task_token.as_deref() == Some(token.as_str()) {
            // A retried invocation: the notice went out and its event is stored.
            return Ok(json!({"request_id": id, "status": before.status}));
        }
        let mut message_id = None;
        if before.status == Status::Pending {
            // The first notice carries what the call will touch as it is now.
            let shown = match kind {
                notice::Kind::Requested => self.with_preview(before.clone()).await,
                notice::Kind::Reminder => before.clone(),
            };
            let link = notice::approval_link(&shown, &self.settings, &self.link_key);
            let (subject, message) = notice::approval_notice(&shown, &link, kind, now_ms());
            let sent = self.topic.publish(&subject, &message).await?;
            tracing::info!(request_id = %id, message_id = %sent, ?kind, "approval notice published");
            message_id = Some(sent);
        }
        let (_, rec) = self
            .store
            .update(id, |rec| {
                let Some(sent) = &message_id else {
                    return Ok(((), vec![])); // Decided before the token came: no notice.
                };
                if rec.task_token.as_deref() == Some(token.as_str()) {
                    return Ok(((), vec![]));
                }
                rec.task_token = Some(token.clone());
                let ev = rec.push_event(
                    EventKind::Notified,
                    None,
                    json!({"channel": "sns", "message_id": sent, "status": rec.status, "reminder": kind == notice::Kind::Reminder}),
                    now_ms(),
                );
                Ok(((), vec![ev]))
            })
            .await?;
        // Votes may have closed the request before the token was stored; then resume the
        // workflow here, since the voter had no token to do it with.
        match rec.status {
            Status::Approved => {
                self.workflow.approve(&token, id).await?;
            }
            Status::Rejected => {
                self.workflow
                    .reject(&token, &format!("request is {}", rec.status))
                    .await?;
            }
            Status::Cancelled => {
                self.workflow.cancel(&token).await?;
            }
            _ => {}
        }
        Ok(json!({"request_id": id, "status": rec.status}))
    }

    /// Reads and keeps the impact preview, once per request. Whatever happens, the notice
    /// goes out: a preview that could not be read or kept is logged and shown as such.
    async fn with_preview(
        &self,
        rec: tollgate_core::RequestRecord,
    ) -> tollgate_core::RequestRecord {
        if rec.previewed() {
            return rec;
        }
        if let Some(plan) = &rec.plan {
            // Step by step, in order; a step that takes a value from an earlier answer
            // cannot be read before that answer exists.
            let mut previews = Vec::with_capacity(plan.steps.len());
            for (i, step) in plan.steps.iter().enumerate() {
                let p = match rec.step_record(i) {
                    Some(one) if !tollgate_core::plan::has_references(&step.request.params) => {
                        self.preview_of(&one).await
                    }
                    _ => tollgate_core::preview::Preview::without_facts(
                        tollgate_core::preview::PreviewStatus::Unavailable,
                        "this step takes a value from an earlier step's answer, so what it touches is known only when it runs",
                        now_ms(),
                        0,
                    ),
                };
                previews.push(p);
            }
            let kept = self
                .store
                .update(&rec.id, |r| {
                    Ok((
                        (),
                        r.record_step_previews(previews.clone(), now_ms())
                            .into_iter()
                            .collect(),
                    ))
                })
                .await;
            return match kept {
                Ok((_, kept)) => kept,
                Err(e) => {
                    tracing::warn!(request_id = %rec.id, error = %e.message, "plan previews not kept; the notice goes out with them");
                    let mut shown = rec;
                    if let Some(plan) = &mut shown.plan {
                        for (s, p) in plan.steps.iter_mut().zip(previews) {
                            s.preview = Some(p);
                        }
                    }
                    shown
                }
            };
        }
        let p = self.preview_of(&rec).await;
        let kept = self
            .store
            .update(&rec.id, |r| {
                Ok((
                    (),
                    r.record_preview(p.clone(), now_ms()).into_iter().collect(),
                ))
            })
            .await;
        match kept {
            Ok((_, kept)) => kept,
            Err(e) => {
                tracing::warn!(request_id = %rec.id, error = %e.message, "impact preview not kept; the notice goes out with it");
                let mut shown = rec;
                shown.preview = Some(p);
                shown
            }
        }
    }

    /// Reads the impact preview of one call, logged and measured.
    async fn preview_of(
        &self,
        rec: &tollgate_core::RequestRecord,
    ) -> tollgate_core::preview::Preview {
        let role_arn = self.settings.targets.get(&rec.request.target);
        let p = preview::read(
            self.reader.as_ref(),
            rec,
            role_arn.map(String::as_str),
            &self.settings.account_id,
            now_ms(),
        )
        .await;
        tracing::info!(request_id = %rec.id, status = ?p.status, facts = p.facts.len(), took_ms = p.took_ms, "impact preview read");
        self.settings.metrics.put(
            "PreviewLatency",
            tollgate_aws::metrics::Unit::Milliseconds,
            p.took_ms as f64,
            &[],
        );
        p
    }

    /// Closes a request the workflow gave up on, once: a retried invocation finds it final.
    async fn close(&self, id: &str, closing: Closing) -> Result<Value, ApiError> {
        let (moved, rec) = self
            .store
            .update(id, |rec| {
                let to = match closing {
                    Closing::Expire => Status::Expired,
                    Closing::Fail(_) => Status::Failed,
                };
                if !rec.status.can_move_to(to) {
                    return Ok((false, vec![])); // Already decided: nothing to close.
                }
                let ev = match &closing {
                    Closing::Expire => rec.transition(
                        to,
                        EventKind::Expired,
                        None,
                        json!({"reason": "no decision before the deadline"}),
                        now_ms(),
                    )?,
                    Closing::Fail(failure) => rec.fail(failure.clone(), now_ms())?,
                };
                Ok((true, vec![ev]))
            })
            .await?;
        tracing::info!(request_id = %id, status = %rec.status, "request closed by workflow");
        // Only the invocation that closed it announces it; a retry stays quiet.
        if moved {
            self.publish_closing(&rec).await;
        }
        Ok(json!({"request_id": id, "status": rec.status}))
    }

    async fn announce(&self, id: &str) -> Result<Value, ApiError> {
        let rec = self
            .store
            .get(id)
            .await?
            .ok_or_else(|| tollgate_aws::store::not_found(id))?;
        self.publish_closing(&rec).await;
        Ok(json!({"request_id": id, "status": rec.status}))
    }

    async fn publish_closing(&self, rec: &tollgate_core::RequestRecord) {
        publish_closing(self.topic.as_ref(), rec).await;
    }
}

/// Tells the approvers how a request ended (the sweeper's notices too). A failed closing
/// notice is logged, never fatal: the request's outcome stands. Answers whether it went out.
pub async fn publish_closing(topic: &dyn Publisher, rec: &tollgate_core::RequestRecord) -> bool {
    let (subject, message) = notice::closing_notice(rec);
    match topic.publish(&subject, &message).await {
        Ok(message_id) => {
            tracing::info!(request_id = %rec.id, message_id, status = %rec.status, "closing notice published");
            true
        }
        Err(e) => {
            tracing::warn!(request_id = %rec.id, error = %e.message, "closing notice not published");
            false
        }
    }
}
