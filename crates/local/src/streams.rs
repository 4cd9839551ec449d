//! Plays Lambda's event source mapping for the table's DynamoDB stream: reads new records
//! from moto and hands them to the audit exporter, as AWS would invoke the function.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_credential_types::Credentials;
use serde_json::{Value, json};
use tollgate_audit_export::Exporter;
use tollgate_aws::signed_http::SignedHttp;

async fn call(http: &SignedHttp, moto_url: &str, op: &str, body: Value) -> Result<Value, String> {
    let creds = Credentials::new("testing", "testing", None, None, "local");
    let req = http::Request::post(format!("{moto_url}/"))
        .header("content-type", "application/x-amz-json-1.0")
        .header("x-amz-target", format!("DynamoDBStreams_20120810.{op}"))
        .body(body.to_string().into_bytes())
        .map_err(|e| e.to_string())?;
    let resp = http
        .send(req, &creds, "us-east-1", "dynamodb")
        .await
        .map_err(|e| e.message)?;
    if resp.status != 200 {
        return Err(format!(
            "{op}: HTTP {}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        ));
    }
    serde_json::from_slice(&resp.body).map_err(|e| format!("{op}: {e}"))
}

/// Follows every shard of the table's stream until the task is dropped.
pub async fn follow(sdk: SdkConfig, moto_url: String, table: String, exporter: Exporter) {
    let http = SignedHttp::new();
    let stream_arn = match aws_sdk_dynamodb::Client::new(&sdk)
        .describe_table()
        .table_name(&table)
        .send()
        .await
    {
        Ok(t) => t
            .table()
            .and_then(|t| t.latest_stream_arn())
            .map(str::to_string),
        Err(e) => {
            tracing::warn!(error = %aws_sdk_dynamodb::error::DisplayErrorContext(e), "no stream to follow");
            None
        }
    };
    let Some(stream_arn) = stream_arn else { return };
    let mut iterators: Vec<String> = Vec::new();
    let mut known_shards: Vec<String> = Vec::new();
    loop {
        // Shards can appear over time; pick up new ones from the start.
        if let Ok(d) = call(
            &http,
            &moto_url,
            "DescribeStream",
            json!({"StreamArn": stream_arn}),
        )
        .await
        {
            for shard in d
                .pointer("/StreamDescription/Shards")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
            {
                let Some(id) = shard.get("ShardId").and_then(Value::as_str) else {
                    continue;
                };
                if known_shards.iter().any(|s| s == id) {
                    continue;
                }
                let it = call(&http, &moto_url, "GetShardIterator", json!({"StreamArn": stream_arn, "ShardId": id, "ShardIteratorType": "TRIM_HORIZON"})).await;
                if let Some(i) = it.ok().and_then(|v| {
                    v.get("ShardIterator")
                        .and_then(Value::as_str)
                        .map(str::to_string)
                }) {
                    known_shards.push(id.to_string());
                    iterators.push(i);
                }
            }
        }
        let mut idle = true;
        for it in iterators.iter_mut() {
            let Ok(page) = call(&http, &moto_url, "GetRecords", json!({"ShardIterator": it})).await
            else {
                continue;
            };
            let records = page
                .get("Records")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if let Some(next) = page.get("NextShardIterator").and_then(Value::as_str) {
                *it = next.to_string();
            }
            if records.is_empty() {
                continue;
            }
            idle = false;
            if let Err(e) = exporter.handle(json!({"Records": records})).await {
                tracing::warn!(error = %e.message, "audit export failed");
            }
        }
        if idle {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
