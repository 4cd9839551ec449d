//! The scripted walkthrough behind `make demo`, also run by the end-to-end tests: every step
//! goes through real HTTP with real signed tokens, and every outcome is checked against the
//! emulator's state.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use serde_json::{Value, json};
use tollgate_cli::client::{Answer, Client};
use tollgate_core::record::Verdict;

pub type Step<'a> = &'a mut dyn FnMut(&str);

fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

fn expect_status(a: &Answer, status: u16, step: &str) -> Result<(), String> {
    check(a.status == status, || {
        format!(
            "{step}: expected HTTP {status}, got {}: {}",
            a.status, a.body
        )
    })
}

/// Creates a table in the emulator for the demo to act on.
pub async fn create_table(sdk: &SdkConfig, name: &str) -> Result<(), String> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    aws_sdk_dynamodb::Client::new(sdk)
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| {
            format!(
                "create table {name}: {}",
                aws_sdk_dynamodb::error::DisplayErrorContext(e)
            )
        })?;
    Ok(())
}

/// Whether the table exists in the emulator.
pub async fn table_exists(sdk: &SdkConfig, name: &str) -> Result<bool, String> {
    match aws_sdk_dynamodb::Client::new(sdk)
        .describe_table()
        .table_name(name)
        .send()
        .await
    {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(format!(
            "describe {name}: {}",
            aws_sdk_dynamodb::error::DisplayErrorContext(e)
        )),
    }
}

/// Waits until the notice for `id` has come through SNS.
pub async fn wait_for_notice(client: &Client, id: &str, limit: Duration) -> Result<Value, String> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Some(n) = client
            .local_outbox()
            .await?
            .into_iter()
            .find(|n| n.pointer("/notice/request_id").and_then(Value::as_str) == Some(id))
        {
            return Ok(n);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "no approval notice for {id} arrived within {limit:?}"
    ))
}

/// Runs the four scenarios; `step` is told of each one that passed.
pub async fn run(api_url: &str, sdk: &SdkConfig, step: Step<'_>) -> Result<(), String> {
    let anon = Client::new(api_url, None);
    let agent = anon.with_token(anon.dev_token("ci-bot", false).await?);
    let approver = anon.with_token(anon.dev_token("alice", true).await?);
    let second_approver = anon.with_token(anon.dev_token("bob", true).await?);
    let wait = Duration::from_secs(60);

    create_table(sdk, "orders-staging").await?;
    create_table(sdk, "orders-prod").await?;
    step("created tables orders-staging and orders-prod in the emulator");

    // 1. A read runs at once.
    let a = agent
        .submit(
            &json!({"action": "dynamodb:DescribeTable", "params": {"TableName": "orders-staging"}}),
            None,
        )
        .await?;
    expect_status(&a, 200, "read")?;
    check(a.request_status() == Some("SUCCEEDED"), || {
        format!("read: expected SUCCEEDED: {}", a.body)
    })?;
    check(
        a.body
            .pointer("/result/Table/TableName")
            .and_then(Value::as_str)
            == Some("orders-staging"),
        || format!("read: result has no table description: {}", a.body),
    )?;
    step("1. dynamodb:DescribeTable -> 200, executed at once, table description returned");

    // 2. A write waits for a human, then runs.
    let a = agent
        .submit(
            &json!({"action": "dynamodb:DeleteTable", "params": {"TableName": "orders-staging"},
                    "reason": "drop the staging table after the migration"}),
            None,
        )
        .await?;
    expect_status(&a, 202, "write")?;
    let id = a.body["id"]
        .as_str()
        .ok_or("write: no request id")?
        .to_string();
    step(&format!(
        "2. dynamodb:DeleteTable -> 202 pending, request {id}"
    ));
    let notice = wait_for_notice(&anon, &id, wait).await?;
    step(&format!(
        "   notice arrived through SNS: {}",
        notice
            .pointer("/notice/link")
            .and_then(Value::as_str)
            .unwrap_or("?")
    ));
    check(table_exists(sdk, "orders-staging").await?, || {
        "write: table deleted before approval".into()
    })?;
    let v = approver
        .vote(&id, Verdict::Approve, Some("looks right"))
        .await?;
    expect_status(&v, 200, "approve")?;
    step("   alice approved through the API");
    let done = agent.wait_final(&id, wait, |_| {}).await?;
    check(done.request_status() == Some("SUCCEEDED"), || {
        format!("write: expected SUCCEEDED: {}", done.body)
    })?;
    check(!table_exists(sdk, "orders-staging").await?, || {
        "write: table still exists after SUCCEEDED".into()
    })?;
    check(
        done.body
            .pointer("/votes/0/approver/subject")
            .and_then(Value::as_str)
            == Some("alice"),
        || format!("write: approver not shown: {}", done.body),
    )?;
    let kinds: Vec<&str> = done.body["events"]
        .as_array()
        .map(|e| e.iter().filter_map(|e| e["kind"].as_str()).collect())
        .unwrap_or_default();
    for k in [
        "submitted",
        "decided",
        "notified",
        "voted",
        "approved",
        "execution_started",
        "executed",
    ] {
        check(kinds.contains(&k), || {
            format!("write: audit has no `{k}` event: {kinds:?}")
        })?;
    }
    step(&format!(
        "   executed by the state machine: SUCCEEDED, table gone, audit: {}",
        kinds.join(" > ")
    ));

    // 3. A denied action: the default policy forbids tampering with the audit trail.
    let a = agent
        .submit(&json!({"action": "cloudtrail:DeleteTrail", "params": {"Name": "org-trail"}, "reason": "too noisy"}), None)
        .await?;
    expect_status(&a, 403, "deny")?;
    check(a.error_code() == Some("denied"), || {
        format!("deny: expected code denied: {}", a.body)
    })?;
    check(
        a.body
            .pointer("/error/policy_ids/0")
            .and_then(Value::as_str)
            == Some("forbid-audit-tampering"),
        || format!("deny: expected the forbid policy's id: {}", a.body),
    )?;
    step(&format!(
        "3. cloudtrail:DeleteTrail -> 403 denied: {}",
        a.body
            .pointer("/error/reason")
            .and_then(Value::as_str)
            .unwrap_or("?")
    ));

    // 4. A rejected request changes nothing.
    let a = agent
        .submit(
            &json!({"action": "dynamodb:DeleteTable", "params": {"TableName": "orders-prod"}, "reason": "cleanup"}),
            None,
        )
        .await?;
    expect_status(&a, 202, "reject")?;
    let id = a.body["id"]
        .as_str()
        .ok_or("reject: no request id")?
        .to_string();
    wait_for_notice(&anon, &id, wait).await?;
    let v = second_approver
        .vote(&id, Verdict::Reject, Some("not the production table"))
        .await?;
    expect_status(&v, 200, "reject vote")?;
    let done = agent.wait_final(&id, wait, |_| {}).await?;
    check(done.request_status() == Some("REJECTED"), || {
        format!("reject: expected REJECTED: {}", done.body)
    })?;
    check(
        done.body
            .pointer("/votes/0/comment")
            .and_then(Value::as_str)
            == Some("not the production table"),
        || format!("reject: agent cannot see the comment: {}", done.body),
    )?;
    check(table_exists(sdk, "orders-prod").await?, || {
        "reject: table was deleted".into()
    })?;
    step(
        "4. dynamodb:DeleteTable on orders-prod -> rejected by bob: REJECTED, table untouched, comment visible",
    );
    Ok(())
}
