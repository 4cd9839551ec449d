//! Audit events to S3 as JSON Lines, for a SIEM. Triggered by the table's DynamoDB stream:
//! every new `EVT#` item becomes one line. Each batch is one object whose key is derived from
//! the batch itself, so a retried batch rewrites the same object instead of duplicating lines.
//!
//! Object key: `{prefix}{yyyy}/{mm}/{dd}/{first stream sequence number}-{content hash}.jsonl`.
//! Line: the audit event (`seq`, `kind`, `at`, `actor`, `detail`, `prev_hash`, `hash`) plus
//! `request_id` and `type: "tollgate.audit.v1"`.

use aws_config::SdkConfig;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use serde_json::{Value, json};
use tollgate_aws::config::signing_identity;
use tollgate_aws::s3::S3;
use tollgate_aws::store::keys;
use tollgate_core::digest::sha256_hex;
use tollgate_core::time::civil_date;
use tollgate_core::{ApiError, ErrorCode, Event};

pub struct Exporter {
    s3: S3,
    credentials: SharedCredentialsProvider,
    bucket: String,
    prefix: String,
}

/// One audit event from a stream record, or `None` for anything that is not a new event.
pub fn event_of(record: &Value) -> Option<(String, Event)> {
    if record.get("eventName").and_then(Value::as_str) != Some("INSERT") {
        return None;
    }
    let image = record.pointer("/dynamodb/NewImage")?;
    let pk = image.pointer("/pk/S")?.as_str()?;
    let sk = image.pointer("/sk/S")?.as_str()?;
    if !keys::is_event(sk) {
        return None;
    }
    let event: Event = serde_json::from_str(image.pointer("/doc/S")?.as_str()?).ok()?;
    Some((keys::request_id(pk)?.to_string(), event))
}

/// The JSON Lines body and object key for a batch; `None` when it holds no audit event.
pub fn batch(records: &[Value], prefix: &str) -> Option<(String, String)> {
    let events: Vec<(String, Event)> = records.iter().filter_map(event_of).collect();
    let first = events.first()?;
    let mut body = String::new();
    for (request_id, e) in &events {
        let mut line = serde_json::to_value(e).unwrap_or(Value::Null);
        line["request_id"] = json!(request_id);
        line["type"] = json!("tollgate.audit.v1");
        body.push_str(&line.to_string());
        body.push('\n');
    }
    let first_seq = records
        .iter()
        .find_map(|r| {
            r.pointer("/dynamodb/SequenceNumber")
                .and_then(Value::as_str)
        })
        .unwrap_or("0");
    let (y, m, d) = civil_date(first.1.at / 1000);
    let key = format!(
        "{prefix}{y:04}/{m:02}/{d:02}/{first_seq}-{}.jsonl",
        &sha256_hex(body.as_bytes())[..16]
    );
    Some((key, body))
}

impl Exporter {
    /// `endpoint` overrides the S3 endpoint (the emulator).
    pub fn new(
        sdk: &SdkConfig,
        bucket: String,
        prefix: String,
        endpoint: Option<&str>,
    ) -> Result<Self, String> {
        let (credentials, region) =
            signing_identity(sdk, "us-east-1").map_err(|e| e.to_string())?;
        Ok(Self {
            s3: S3::new(&region, endpoint),
            credentials,
            bucket,
            prefix,
        })
    }

    /// Handles a DynamoDB Streams event (`{"Records": [...]}`).
    pub async fn handle(&self, event: Value) -> Result<Value, ApiError> {
        let records = event
            .get("Records")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let Some((key, body)) = batch(&records, &self.prefix) else {
            return Ok(json!({"exported": 0}));
        };
        let lines = body.lines().count();
        let creds = self
            .credentials
            .provide_credentials()
            .await
            .map_err(|e| ApiError::new(ErrorCode::Unavailable, format!("credentials: {e}")))?;
        self.s3
            .put(
                &creds,
                &self.bucket,
                &key,
                body.into_bytes(),
                "application/x-ndjson",
            )
            .await
            .map_err(|e| ApiError::new(ErrorCode::Unavailable, e))?;
        tracing::info!(key, lines, "audit events exported");
        Ok(json!({"exported": lines, "key": key}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_core::audit::{EventKind, GENESIS_HASH};

    fn record(name: &str, sk: &str, seq: &str, e: &Event) -> Value {
        json!({"eventName": name, "dynamodb": {"SequenceNumber": seq, "NewImage": {
            "pk": {"S": "REQ#R1"}, "sk": {"S": sk}, "doc": {"S": serde_json::to_string(e).unwrap()}}}})
    }

    #[test]
    fn batches_only_new_events_with_a_stable_key() {
        let e1 = Event::new(
            1,
            EventKind::Submitted,
            1_795_525_921_000,
            None,
            json!({}),
            GENESIS_HASH,
        );
        let e2 = Event::new(
            2,
            EventKind::Decided,
            1_795_525_921_001,
            None,
            json!({}),
            &e1.hash,
        );
        let records = vec![
            record("INSERT", "EVT#0000000001", "100", &e1),
            record("MODIFY", "META", "101", &e1),
            record("INSERT", "META", "102", &e1),
            record("INSERT", "EVT#0000000002", "103", &e2),
        ];
        let (key, body) = batch(&records, "audit/").unwrap();
        assert!(key.starts_with("audit/2026/11/24/100-"), "{key}");
        let lines: Vec<Value> = body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["request_id"], "R1");
        assert_eq!(lines[1]["kind"], "decided");
        assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
        assert_eq!(
            batch(&records, "audit/").unwrap().0,
            key,
            "a retried batch writes the same object"
        );
        assert!(batch(&records[1..3], "audit/").is_none());
    }
}
