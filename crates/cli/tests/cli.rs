//! The `tollgate` binary against a real local stack: tokens, requests, waiting for a human,
//! and the exit codes scripts branch on.

use std::net::SocketAddr;
use std::process::Stdio;

use serde_json::Value;
use tokio::process::Command;
use tollgate_local::{Stack, StackOptions};

/// How long a held request's approval notice may take to reach the local outbox.
const NOTICE_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

fn tollgate(stack: &Stack, token: Option<&str>) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tollgate"));
    cmd.env("TOLLGATE_URL", &stack.api_url)
        .env_remove("TOLLGATE_TOKEN")
        .env_remove("TOLLGATE_TOKEN_COMMAND")
        .env_remove("TOLLGATE_CONFIG");
    if let Some(t) = token {
        cmd.env("TOLLGATE_TOKEN", t);
    }
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd
}

async fn run(mut cmd: Command, args: &[&str]) -> (i32, Value, String) {
    let out = cmd.args(args).output().await.expect("run tollgate");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let json = serde_json::from_str(&stdout).unwrap_or(Value::String(stdout.clone()));
    (
        out.status.code().unwrap_or(-1),
        json,
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_requests_waits_and_exits_by_outcome() {
    let stack = Stack::start(StackOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Default::default()
    })
    .await
    .expect("stack");
    tollgate_local::demo::create_table(&stack.sdk, "cli-table")
        .await
        .unwrap();

    let (code, token, _) = run(tollgate(&stack, None), &["token", "--sub", "ci-bot"]).await;
    assert_eq!(code, 0);
    let agent = token.as_str().unwrap().trim().to_string();
    assert_eq!(agent.split('.').count(), 3, "a JWT: {agent}");
    let (_, token, _) = run(
        tollgate(&stack, None),
        &["token", "--sub", "alice", "--approver"],
    )
    .await;
    let approver = token.as_str().unwrap().trim().to_string();

    // A read: executed at once, exit 0.
    let (code, out, err) = run(
        tollgate(&stack, Some(&agent)),
        &[
            "request",
            "dynamodb:DescribeTable",
            "--param",
            "TableName=cli-table",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out} {err}");
    // By default `request` prints just the AWS result; `-o json` the whole record.
    assert_eq!(out["Table"]["TableName"], "cli-table", "{out}");
    let (code, out, _) = run(
        tollgate(&stack, Some(&agent)),
        &[
            "request",
            "dynamodb:DescribeTable",
            "--param",
            "TableName=cli-table",
            "-o",
            "json",
        ],
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(out["status"], "SUCCEEDED");
    assert_eq!(out["result"]["Table"]["TableName"], "cli-table");

    // Parameters as JSON on standard input.
    let mut child = tollgate(&stack, Some(&agent))
        .args(["request", "dynamodb:DescribeTable", "--params-json", "-"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut stdin = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stdin, br#"{"TableName": "cli-table"}"#)
        .await
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out["Table"]["TableName"], "cli-table");

    // Denied: exit 4.
    let (code, out, _) = run(
        tollgate(&stack, Some(&agent)),
        &[
            "request",
            "cloudtrail:StopLogging",
            "--param",
            "Name=org-trail",
            "--reason",
            "x",
        ],
    )
    .await;
    assert_eq!(code, 4, "{out}");

    // A held write without --wait: its id, what it waits for, how to follow it (exit 7).
    let (code, held, _) = run(
        tollgate(&stack, Some(&agent)),
        &[
            "request",
            "dynamodb:DeleteTable",
            "-p",
            "TableName=cli-table",
            "--reason",
            "to cancel",
        ],
    )
    .await;
    assert_eq!(code, 7, "{held}");
    let held_id = held["id"].as_str().unwrap().to_string();
    assert_eq!(
        held["follow"],
        format!("tollgate status {held_id} --wait 600")
    );
    assert_eq!(held["waiting_for"], "waiting for approval: 0 of 1");
    assert!(
        held["approval_page"]
            .as_str()
            .unwrap()
            .contains(&format!("/v1/approvals/{held_id}?k=")),
        "{held}"
    );
    // `status --wait` follows it with the same progress lines as `request --wait`.
    let follower = tollgate(&stack, Some(&agent))
        .args(["status", &held_id, "--wait", "60"])
        .spawn()
        .expect("spawn");
    let (code, _, _) = run(tollgate(&stack, Some(&agent)), &["cancel", &held_id]).await;
    assert_eq!(code, 8);
    let followed = follower.wait_with_output().await.unwrap();
    assert_eq!(followed.status.code(), Some(8));
    let progress = String::from_utf8_lossy(&followed.stderr);
    assert!(
        progress.contains(&format!("{held_id}: PENDING, 0/1 approvals"))
            && progress.contains(&format!("{held_id}: CANCELLED")),
        "{progress}"
    );

    // A write with --wait: pending until a human approves, then exit 0 with the result.
    let waiting = tollgate(&stack, Some(&agent))
        .args([
            "request",
            "dynamodb:DeleteTable",
            "-p",
            "TableName=cli-table",
            "--reason",
            "cli test",
            "--wait",
            "--timeout",
            "60",
            "-o",
            "json",
        ])
        .spawn()
        .expect("spawn");
    let anon = tollgate_cli::client::Client::new(&stack.api_url, None);
    // Bounded: a notice that never comes fails the test instead of hanging it.
    let id = tokio::time::timeout(NOTICE_WAIT, async {
        loop {
            let outbox = anon.local_outbox().await.unwrap();
            if let Some(id) = outbox
                .iter()
                .filter_map(|n| n.pointer("/notice/request_id").and_then(Value::as_str))
                .find(|id| *id != held_id)
            {
                break id.to_string();
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no notice for the waiting request within {NOTICE_WAIT:?}"));
    let (code, out, _) = run(
        tollgate(&stack, Some(&approver)),
        &["approve", &id, "--comment", "ok"],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let done = waiting.wait_with_output().await.unwrap();
    let stdout: Value = serde_json::from_slice(&done.stdout).unwrap();
    assert_eq!(done.status.code(), Some(0), "{stdout}");
    assert_eq!(stdout["status"], "SUCCEEDED");
    assert!(
        String::from_utf8_lossy(&done.stderr).contains(&format!("{id}: PENDING, 0/1 approvals"))
    );
    assert!(
        !tollgate_local::demo::table_exists(&stack.sdk, "cli-table")
            .await
            .unwrap()
    );

    // No token: a clear error, exit 9 (not authenticated).
    let (code, _, err) = run(tollgate(&stack, None), &["status", &id]).await;
    assert_eq!(code, 9);
    assert!(err.contains("TOLLGATE_TOKEN"), "{err}");
    stack.stop().await;
}
