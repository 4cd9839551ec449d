//! The approval page in a real browser: Debian's headless Chromium, driven by
//! playwright-core (`make browser` installs both), with JavaScript off. It follows the link a
//! notice carries, signs in through the dev issuer's user picker (code + PKCE, real cookies),
//! reads the page on a phone-sized screen and approves; the request then runs.
//! Screenshots go to `target/screenshots`, or to `$TOLLGATE_SCREENSHOTS` (the README's come
//! from `TOLLGATE_SCREENSHOTS=tests/browser/screenshots`).

use std::path::PathBuf;

use tollgate_cli::client::Client;
use tollgate_e2e::*;
use tollgate_local::demo::{create_table, table_exists, wait_for_notice};

/// The browser script and where its screenshots go (`sub` below the screenshot folder).
fn browser(sub: &str) -> (PathBuf, PathBuf) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is not installed: run `make browser`"
    );
    let shots = std::env::var("TOLLGATE_SCREENSHOTS")
        .map(|d| root.join(d))
        .unwrap_or_else(|_| root.join("target/screenshots"))
        .join(sub);
    (root.join("tests/browser/approve.mjs"), shots)
}

/// Follows the notice's link for `id`, signs in as alice and approves, in Chromium.
async fn approve_in_browser(
    stack: &tollgate_local::Stack,
    id: &str,
    script: &PathBuf,
    shots: &PathBuf,
) {
    let notice = wait_for_notice(&Client::new(&stack.api_url, None), id, WAIT)
        .await
        .unwrap();
    let link = notice["notice"]["link"].as_str().unwrap().to_string();
    let out = tokio::process::Command::new("node")
        .arg(script)
        .arg(&link)
        .arg(shots)
        .arg("alice")
        .kill_on_drop(true)
        .output()
        .await
        .expect("node runs");
    assert!(
        out.status.success(),
        "browser run failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Approved"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_in_headless_chromium() {
    let (script, shots) = browser("");
    let stack = stack().await;
    create_table(&stack.sdk, "staging-orders").await.unwrap();
    let bot = agent(&stack, "ci-bot");
    let id = pending_delete(&bot, "staging-orders").await;
    approve_in_browser(&stack, &id, &script, &shots).await;
    for shot in [
        "approval-page-signed-out.png",
        "dev-sign-in.png",
        "approval-page.png",
        "approved.png",
    ] {
        assert!(shots.join(shot).is_file(), "missing screenshot {shot}");
    }
    let done = bot.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);
    assert_eq!(done.body["votes"][0]["approver"]["subject"], "alice");
    assert!(!table_exists(&stack.sdk, "staging-orders").await.unwrap());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_a_plan_in_headless_chromium() {
    let (script, shots) = browser("plan");
    let stack = stack().await;
    create_table(&stack.sdk, "plan-old").await.unwrap();
    let bot = agent(&stack, "ci-bot");
    let plan = json!({"reason": "replace plan-old with plan-new", "steps": [
        {"action": "dynamodb:CreateTable", "params": {"TableName": "plan-new", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}},
        {"action": "dynamodb:PutItem", "params": {"TableName": "plan-new", "Item": {"id": {"S": "meta"},
            "arn": {"S": {"$ref": "steps[0].answer.TableDescription.TableArn"}}}}},
        {"action": "dynamodb:DeleteTable", "params": {"TableName": "plan-old"}}
    ]});
    let a = bot.submit_plan(&plan, None).await.unwrap();
    assert_eq!(a.status, 202, "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_string();
    approve_in_browser(&stack, &id, &script, &shots).await;
    assert!(shots.join("approval-page.png").is_file());
    let done = bot.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);
    assert!(table_exists(&stack.sdk, "plan-new").await.unwrap());
    assert!(!table_exists(&stack.sdk, "plan-old").await.unwrap());
    stack.stop().await;
}
