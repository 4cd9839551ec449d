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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approve_in_headless_chromium() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let script = root.join("tests/browser/approve.mjs");
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir(),
        "playwright-core is not installed: run `make browser`"
    );
    let shots = std::env::var("TOLLGATE_SCREENSHOTS")
        .map(|d| root.join(d))
        .unwrap_or_else(|_| root.join("target/screenshots"));

    let stack = stack().await;
    create_table(&stack.sdk, "staging-orders").await.unwrap();
    let bot = agent(&stack, "ci-bot");
    let id = pending_delete(&bot, "staging-orders").await;
    let notice = wait_for_notice(&Client::new(&stack.api_url, None), &id, WAIT)
        .await
        .unwrap();
    let link = notice["notice"]["link"].as_str().unwrap().to_string();

    let out = tokio::process::Command::new("node")
        .arg(&script)
        .arg(&link)
        .arg(&shots)
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
