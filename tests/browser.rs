//! The approval page in a real browser: Debian's headless Chromium, driven by
//! playwright-core (`make browser` installs both), with JavaScript off. It follows the link a
//! notice carries, signs in through the dev issuer's user picker (code + PKCE, real cookies),
//! reads the page on a phone-sized screen and approves; the request then runs.
//! The inbox likewise: sign in from it, filter it, open a request and approve it there.
//! Screenshots go to `target/screenshots`, or to `$TOLLGATE_SCREENSHOTS` (the README's come
//! from `TOLLGATE_SCREENSHOTS=tests/browser/screenshots`; the inbox's, which are small, from
//! `TOLLGATE_SCREENSHOTS=docs/screenshots`).

use std::path::PathBuf;

use tollgate_cli::client::Client;
use tollgate_e2e::*;
use tollgate_local::demo::{create_table, table_exists, wait_for_notice};

/// The browser script to run, and where its screenshots go.
fn script(name: &str) -> (PathBuf, PathBuf) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is not installed: run `make browser`"
    );
    let shots = std::env::var("TOLLGATE_SCREENSHOTS")
        .map(|d| root.join(d))
        .unwrap_or_else(|_| root.join("target/screenshots"));
    (root.join("tests/browser").join(name), shots)
}

/// Follows the notice's link for `id`, signs in as alice and approves, in Chromium; screenshots
/// go to `shots`.
async fn approve_in_browser(stack: &tollgate_local::Stack, id: &str, shots: &std::path::Path) {
    let (script, _) = script("approve.mjs");
    let notice = wait_for_notice(&Client::new(&stack.api_url, None), id, WAIT)
        .await
        .unwrap();
    let link = notice["notice"]["link"].as_str().unwrap().to_string();
    let out = node(&script, &[&link, &shots.to_string_lossy(), "alice"]).await;
    assert!(out.contains("Approved"), "{out}");
}

/// Runs a browser script to its end; its output when it succeeded.
async fn node(script: &std::path::Path, args: &[&str]) -> String {
    let out = tokio::process::Command::new("node")
        .arg(script)
        .args(args)
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
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_in_headless_chromium() {
    let (_, shots) = script("approve.mjs");
    let stack = stack().await;
    create_table(&stack.sdk, "staging-orders").await.unwrap();
    let bot = agent(&stack, "ci-bot");
    let id = pending_delete(&bot, "staging-orders").await;
    approve_in_browser(&stack, &id, &shots).await;
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
async fn the_inbox_lists_filters_opens_and_approves_in_headless_chromium() {
    let (script, shots) = script("inbox.mjs");
    let stack = stack().await;
    create_table(&stack.sdk, "inbox-orders").await.unwrap();
    create_table(&stack.sdk, "inbox-events").await.unwrap();
    let ci = agent(&stack, "ci-bot");
    let etl = agent(&stack, "etl-bot");
    let other = pending_delete(&ci, "inbox-orders").await;
    let id = pending_delete(&etl, "inbox-events").await;
    let anon = Client::new(&stack.api_url, None);
    // Both previews read and notices out, so the pages show what the approver will see.
    wait_for_notice(&anon, &other, WAIT).await.unwrap();
    wait_for_notice(&anon, &id, WAIT).await.unwrap();

    let out = node(
        &script,
        &[
            &stack.api_url,
            &shots.to_string_lossy(),
            "alice",
            "etl-bot",
            &id,
            &other,
        ],
    )
    .await;
    assert!(out.contains("Approved"), "{out}");
    for shot in [
        "inbox.png",
        "inbox-filtered.png",
        "inbox-request.png",
        "inbox-after.png",
    ] {
        assert!(shots.join(shot).is_file(), "missing screenshot {shot}");
    }
    let done = etl.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);
    assert_eq!(done.body["votes"][0]["approver"]["subject"], "alice");
    assert!(!table_exists(&stack.sdk, "inbox-events").await.unwrap());
    // The other agent's request still waits: filtering and opening pages changed nothing.
    let still = ci.status(&other, 0).await.unwrap();
    assert_eq!(still.request_status(), Some("PENDING"), "{}", still.body);
    assert_eq!(still.body["votes"], json!([]));
    assert!(table_exists(&stack.sdk, "inbox-orders").await.unwrap());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_a_plan_in_headless_chromium() {
    let (_, shots) = script("approve.mjs");
    let shots = shots.join("plan");
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
    approve_in_browser(&stack, &id, &shots).await;
    assert!(shots.join("approval-page.png").is_file());
    let done = bot.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);
    assert!(table_exists(&stack.sdk, "plan-new").await.unwrap());
    assert!(!table_exists(&stack.sdk, "plan-old").await.unwrap());
    stack.stop().await;
}

/// Break-glass on the inbox's request page, with JavaScript off: alice (not on call) sees the
/// vote forms and no break-glass form; olga (on call) sees it, writes why and approves alone;
/// the call runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_in_headless_chromium_only_for_a_member() {
    let (script, shots) = script("breakglass.mjs");
    let text = r#"
        @id("reads") permit (principal, action in Action::"Read", resource);
        @id("drops-need-two") @approval("2") @approvers("approvers") @breakglass("oncall")
        permit (principal, action == Action::"dynamodb:DeleteTable", resource);
    "#;
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/p".into();
        o.seed_ssm = vec![("/p".into(), text.into())];
    })
    .await;
    create_table(&stack.sdk, "glass-orders").await.unwrap();
    let bot = agent(&stack, "ci-bot");
    let id = pending_delete(&bot, "glass-orders").await;
    wait_for_notice(&Client::new(&stack.api_url, None), &id, WAIT)
        .await
        .unwrap();
    let why = "glass-orders holds corrupt rows; dropping it now to restore from backup";
    let out = node(
        &script,
        &[
            &stack.api_url,
            &shots.to_string_lossy(),
            &id,
            "alice",
            "olga",
            why,
        ],
    )
    .await;
    assert!(out.contains("breakglass"), "{out}");
    let done = bot.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);
    assert_eq!(done.body["breakglass"]["approver"]["subject"], "olga");
    assert_eq!(done.body["breakglass"]["justification"], why);
    assert!(!table_exists(&stack.sdk, "glass-orders").await.unwrap());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_with_a_grant_and_revoke_it_in_headless_chromium() {
    let (script, shots) = script("grant.mjs");
    let shots = shots.join("grant");
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/grants".into();
        o.seed_ssm = vec![(
            "/grants".into(),
            r#"@id("writes") @approval("1") @grant_max("1800") @grant_uses_max("3")
permit (principal, action == Action::"dynamodb:PutItem", resource);"#
                .into(),
        )];
    })
    .await;
    create_table(&stack.sdk, "grant-orders").await.unwrap();
    let bot = agent(&stack, "ci-bot");
    let put = json!({"action": "dynamodb:PutItem", "reason": "iterate",
        "params": {"TableName": "grant-orders", "Item": {"id": {"S": "1"}}}});
    let a = bot.submit(&put, None).await.unwrap();
    assert_eq!(a.status, 202, "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_string();
    wait_for_notice(&Client::new(&stack.api_url, None), &id, WAIT)
        .await
        .unwrap();
    let out = node(
        &script,
        &[&stack.api_url, &shots.to_string_lossy(), "alice", &id],
    )
    .await;
    assert!(out.contains("is revoked"), "{out}");
    for shot in ["grant-form.png", "grant-inbox.png"] {
        assert!(shots.join(shot).is_file(), "missing screenshot {shot}");
    }
    let done = bot.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);
    assert_eq!(
        done.body["votes"][0]["grant"],
        json!({"uses": 2, "minutes": 15})
    );
    let g = &bot.grants().await.unwrap().body["grants"][0];
    assert_eq!(g["state"], "revoked", "{g}");
    assert_eq!(g["revoked"]["by"]["subject"], "alice");
    let again = bot.submit(&put, None).await.unwrap();
    assert_eq!(again.status, 202, "{}", again.body);
    assert_eq!(again.body["grant_not_used"]["why"], "revoked");
    stack.stop().await;
}
