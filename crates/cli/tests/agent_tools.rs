//! End-to-end: the `tollgate` binary and its MCP server against a local stack of their own.

use std::net::SocketAddr;
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use tollgate_local::demo::{create_table, table_exists};
use tollgate_local::{Stack, StackOptions};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

async fn stack() -> Stack {
    Stack::start(StackOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Default::default()
    })
    .await
    .expect("local stack starts")
}

/// Runs `tollgate` with a token in the environment (and no config file of the machine's).
fn cli(stack: &Stack, token: &str, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("TOLLGATE_URL", &stack.api_url)
        .env("TOLLGATE_TOKEN", token)
        .stdin(Stdio::null());
    c
}

async fn run(mut c: Command) -> (i32, Value, String) {
    let out: Output = tokio::task::spawn_blocking(move || c.output().expect("run tollgate"))
        .await
        .expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let body = serde_json::from_str(&stdout).unwrap_or(Value::String(stdout));
    (out.status.code().unwrap_or(-1), body, stderr)
}

/// Runs one of the Python MCP clients (the official SDK, which `make venv` installs) and
/// checks it finished every check.
async fn mcp_client(script: &str, args: &[&str], env: &[(&str, &str)], done: &str) {
    let python = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin/python");
    let mut c = Command::new(python);
    c.arg(format!("{}/tests/{script}", env!("CARGO_MANIFEST_DIR")))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    let out = tokio::task::spawn_blocking(move || {
        c.output()
            .expect("run the MCP client (make venv installs mcp)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains(done), "{stdout}");
}

/// Waits (through `tollgate list`) until the agent has a pending request and returns its id.
async fn pending_id(stack: &Stack, agent: &str) -> String {
    for _ in 0..100 {
        let (code, body, err) = run(cli(stack, agent, &["list", "--status", "pending"])).await;
        assert_eq!(code, 0, "{body} {err}");
        if let Some(id) = body["requests"][0]["id"].as_str() {
            return id.to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no pending request appeared");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_wait_ends_with_the_outcome_and_its_exit_code() {
    let stack = stack().await;
    let agent = stack.token("ci-bot", false).unwrap();
    let approver = stack.token("alice", true).unwrap();
    create_table(&stack.sdk, "orders").await.unwrap();
    create_table(&stack.sdk, "keep").await.unwrap();

    // Approved write: the waiting command ends SUCCEEDED once an approver approves with the CLI.
    let waiting = tokio::spawn(run(cli(
        &stack,
        &agent,
        &[
            "request",
            "dynamodb:DeleteTable",
            "--param",
            "TableName=orders",
            "--reason",
            "drop orders",
            "--wait",
            "--timeout",
            "60",
            "-o",
            "json",
        ],
    )));
    let id = pending_id(&stack, &agent).await;
    let (code, queue, _) = run(cli(&stack, &approver, &["pending"])).await;
    assert_eq!(code, 0);
    assert_eq!(queue["requests"][0]["id"], id.as_str(), "{queue}");
    let (code, voted, err) =
        run(cli(&stack, &approver, &["approve", &id, "--comment", "ok"])).await;
    assert_eq!(code, 0, "{voted} {err}");
    let (code, done, progress) = waiting.await.unwrap();
    assert_eq!(code, 0, "{done} {progress}");
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(done["id"], id.as_str());
    // Piped, the progress is plain lines, one per change.
    assert!(
        progress.contains(&format!("{id}: PENDING, 0/1 approvals")),
        "{progress}"
    );
    assert!(progress.contains(&format!("{id}: SUCCEEDED")), "{progress}");
    assert!(!progress.contains('\r'), "{progress}");
    assert!(!table_exists(&stack.sdk, "orders").await.unwrap());

    // Rejected write: exit 5, the comment in the answer, the table untouched.
    let waiting = tokio::spawn(run(cli(
        &stack,
        &agent,
        &[
            "request",
            "dynamodb:DeleteTable",
            "-p",
            "TableName=keep",
            "--reason",
            "tidy",
            "--wait",
        ],
    )));
    let id = pending_id(&stack, &agent).await;
    let (code, _, _) = run(cli(
        &stack,
        &approver,
        &["reject", &id, "--comment", "still used"],
    ))
    .await;
    assert_eq!(code, 0);
    let (code, done, _) = waiting.await.unwrap();
    assert_eq!(code, 5, "{done}");
    assert_eq!(done["status"], "REJECTED");
    assert_eq!(done["votes"][0]["comment"], "still used");
    assert!(table_exists(&stack.sdk, "keep").await.unwrap());

    // On a terminal the wait is one live, rewritten status line; cancelling ends it with 8.
    let on_tty = tokio::spawn(run({
        let mut c = cli(&stack, &agent, &[]);
        c.env_remove("TERM").args([
            "-qec",
            &format!("'{BIN}' request dynamodb:DeleteTable -p TableName=keep --reason tty --wait"),
            "/dev/null",
        ]);
        let mut s = Command::new("script");
        s.args(c.get_args())
            .envs(c.get_envs().filter_map(|(k, v)| Some((k, v?))))
            .stdin(Stdio::null());
        s
    }));
    let id = pending_id(&stack, &agent).await;
    let (code, _, _) = run(cli(&stack, &agent, &["cancel", &id])).await;
    assert_eq!(code, 8);
    let (code, screen, _) = on_tty.await.unwrap();
    let screen = screen
        .as_str()
        .map(str::to_string)
        .unwrap_or(screen.to_string());
    assert_eq!(code, 8, "{screen}");
    assert!(
        screen.contains("\r\x1b[2K"),
        "the status line is rewritten in place: {screen:?}"
    );
    assert!(
        screen.contains(&format!("{id}: PENDING, 0/1 approvals")),
        "{screen:?}"
    );
    assert!(screen.contains("\"status\": \"CANCELLED\""), "{screen:?}");

    // Denied by policy: exit 4 at once, with the policy that denied it.
    let (code, denied, _) = run(cli(
        &stack,
        &agent,
        &[
            "request",
            "cloudtrail:StopLogging",
            "--param",
            "Name=trail",
            "--reason",
            "x",
            "--wait",
        ],
    ))
    .await;
    assert_eq!(code, 4, "{denied}");
    assert_eq!(denied["error"]["code"], "denied");
    assert_eq!(denied["error"]["policy_ids"][0], "forbid-audit-tampering");

    // An allowed read runs at once; parameters from a JSON file, `--param` on top.
    let file = std::env::temp_dir().join(format!("tollgate-params-{}.json", std::process::id()));
    std::fs::write(&file, r#"{"Limit": 1}"#).unwrap();
    let (code, read, _) = run(cli(
        &stack,
        &agent,
        &[
            "request",
            "dynamodb:ListTables",
            "--params-json",
            file.to_str().unwrap(),
            "--param",
            "Limit=5",
            "--wait",
            "--output",
            "json",
        ],
    ))
    .await;
    std::fs::remove_file(&file).ok();
    assert_eq!(code, 0, "{read}");
    assert_eq!(read["status"], "SUCCEEDED");
    assert_eq!(read["request"]["params"]["Limit"], 5);
    let names = read["result"]["TableNames"].as_array().unwrap();
    assert!(
        names.contains(&"keep".into()) && !names.contains(&"orders".into()),
        "{read}"
    );

    // Usage and authentication failures have their own exit codes.
    let (code, _, err) = run(cli(
        &stack,
        &agent,
        &["request", "dynamodb:ListTables", "--param", "oops"],
    ))
    .await;
    assert_eq!(code, 2, "{err}");
    let (code, _, _) = run(cli(&stack, "not-a-token", &["list"])).await;
    assert_eq!(code, 9);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_yaml_plan_waits_for_its_one_approval_and_prints_each_step() {
    let stack = stack().await;
    let agent = stack.token("ci-bot", false).unwrap();
    let approver = stack.token("alice", true).unwrap();
    create_table(&stack.sdk, "plan-cli").await.unwrap();
    let dir = std::env::temp_dir().join(format!("tollgate-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("plan.yaml");
    std::fs::write(
        &file,
        r#"reason: tag the table with its own ARN
steps:
  - action: dynamodb:DescribeTable
    params: {TableName: plan-cli}
  - action: dynamodb:PutItem
    params:
      TableName: plan-cli
      Item:
        id: {S: meta}
        arn: {S: {$ref: "steps[0].answer.Table.TableArn"}}
"#,
    )
    .unwrap();
    let path = file.to_str().unwrap().to_string();
    let waiting = tokio::spawn(run(cli(
        &stack,
        &agent,
        &["plan", &path, "--wait", "--timeout", "60"],
    )));
    let id = pending_id(&stack, &agent).await;
    let (code, voted, err) = run(cli(&stack, &approver, &["approve", &id])).await;
    assert_eq!(code, 0, "{voted} {err}");
    let (code, done, progress) = waiting.await.unwrap();
    assert_eq!(code, 0, "{done} {progress}");
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(
        done["steps"][0]["action"], "dynamodb:DescribeTable",
        "{done}"
    );
    assert_eq!(done["steps"][1]["status"], "succeeded", "{done}");

    // Neither JSON nor YAML: a usage error naming the file.
    let bad = dir.join("bad.yaml");
    std::fs::write(&bad, "steps: [unclosed").unwrap();
    let (code, _, err) = run(cli(&stack, &agent, &["plan", bad.to_str().unwrap()])).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("neither JSON"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_list() {
    let stack = stack().await;
    let agent = stack.token("ci-bot", false).unwrap();
    let other = stack.token("other-bot", false).unwrap();
    let approver = stack.token("alice", true).unwrap();
    for t in ["a", "b", "c"] {
        create_table(&stack.sdk, t).await.unwrap();
    }
    let mut ids = Vec::new();
    for t in ["a", "b", "c"] {
        let (code, body, _) = run(cli(
            &stack,
            &agent,
            &[
                "request",
                "dynamodb:DeleteTable",
                "--param",
                &format!("TableName={t}"),
                "--reason",
                "r",
            ],
        ))
        .await;
        assert_eq!(code, 7, "still pending: {body}");
        ids.push(body["id"].as_str().unwrap().to_string());
    }

    // Newest first, one page at a time, following the cursor.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = vec!["list", "--limit", "2"];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let (code, page, err) = run(cli(&stack, &agent, &args)).await;
        assert_eq!(code, 0, "{page} {err}");
        for r in page["requests"].as_array().unwrap() {
            seen.push(r["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    // Another agent sees none of them, and cannot cancel them.
    let (_, theirs, _) = run(cli(&stack, &other, &["list"])).await;
    assert_eq!(theirs["requests"], serde_json::json!([]));
    let (code, _, _) = run(cli(&stack, &other, &["cancel", &ids[0]])).await;
    assert_eq!(code, 1, "someone else's request looks missing");
    let (code, bad, _) = run(cli(&stack, &agent, &["list", "--cursor", "junk"])).await;
    assert_eq!(code, 1);
    assert_eq!(bad["error"]["field"], "cursor");

    // Cancel: the request ends CANCELLED, the workflow stops, a second cancel is refused.
    let (code, cancelled, err) = run(cli(&stack, &agent, &["cancel", &ids[0]])).await;
    assert_eq!(code, 8, "{cancelled} {err}");
    assert_eq!(cancelled["status"], "CANCELLED");
    let (code, again, _) = run(cli(&stack, &agent, &["cancel", &ids[0]])).await;
    assert_eq!(code, 1);
    assert_eq!(again["error"]["code"], "already_final");
    let (_, shown, _) = run(cli(&stack, &agent, &["status", &ids[0]])).await;
    let kinds: Vec<&str> = shown["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    // Cancelled is the last change. A notice already on its way when the agent cancelled
    // (published while the request was pending) is still recorded after it, truthfully.
    let at = kinds.iter().position(|k| *k == "cancelled");
    assert!(at.is_some(), "{kinds:?}");
    assert!(
        kinds[at.unwrap() + 1..].iter().all(|k| *k == "notified"),
        "{kinds:?}"
    );
    let sfn = aws_sdk_sfn::Client::new(&stack.sdk);
    let arn = stack
        .state_machine_arn
        .replace(":stateMachine:", ":execution:")
        + ":"
        + &ids[0];
    let mut ended = false;
    for _ in 0..100 {
        let ex = sfn
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .unwrap();
        if ex.status().as_str() != "RUNNING" {
            assert_eq!(ex.status().as_str(), "SUCCEEDED");
            ended = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(ended, "the approval workflow still runs after the cancel");
    // The approver's queue no longer holds it; a vote on it is refused.
    let (_, queue, _) = run(cli(&stack, &approver, &["pending", "-o", "table"])).await;
    let queue = queue.as_str().unwrap().to_string();
    assert!(
        !queue.contains(&ids[0]) && queue.contains(&ids[1]),
        "{queue}"
    );
    let (code, _, _) = run(cli(&stack, &approver, &["approve", &ids[0]])).await;
    assert_eq!(code, 1);
    // The agent's own list filters by status.
    let (_, only, _) = run(cli(&stack, &agent, &["list", "--status", "cancelled"])).await;
    assert_eq!(only["requests"].as_array().unwrap().len(), 1);
    assert_eq!(only["requests"][0]["id"], ids[0].as_str());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_mcp_client_calls_aws_through_tollgate() {
    let stack = stack().await;
    let agent = stack.token("claude", false).unwrap();
    create_table(&stack.sdk, "scratch").await.unwrap();
    mcp_client(
        "mcp_client.py",
        &[BIN],
        &[("TOLLGATE_URL", &stack.api_url), ("TOLLGATE_TOKEN", &agent)],
        "mcp client: all checks passed",
    )
    .await;
    // The pending write the client left is really pending, and really the client's.
    let owner = tollgate_cli::client::Client::new(&stack.api_url, Some(agent));
    let mine = owner.list(Some("pending"), None, None).await.unwrap();
    assert_eq!(
        mine.body["requests"].as_array().unwrap().len(),
        1,
        "{}",
        mine.body
    );
    assert_eq!(
        mine.body["requests"][0]["request"]["params"]["TableName"],
        "scratch"
    );
    assert!(table_exists(&stack.sdk, "scratch").await.unwrap());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hosted_mcp_client_signs_in_and_works_over_http() {
    let stack = stack().await;
    let approver = stack.token("alice", true).unwrap();
    create_table(&stack.sdk, "scratch").await.unwrap();
    create_table(&stack.sdk, "keep").await.unwrap();
    mcp_client(
        "mcp_http_client.py",
        &[],
        &[
            ("TOLLGATE_URL", &stack.api_url),
            ("TOLLGATE_APPROVER_TOKEN", &approver),
        ],
        "mcp http client: all checks passed",
    )
    .await;
    // The task's call really ran, after the approval; the cancelled one never did.
    assert!(!table_exists(&stack.sdk, "scratch").await.unwrap());
    assert!(table_exists(&stack.sdk, "keep").await.unwrap());
    stack.stop().await;
}

/// The MCP Inspector's CLI mode (`make inspector` installs the pinned version).
fn inspector(stack: &Stack, token: &str, args: &[&str]) -> Command {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/inspector");
    let mut c = Command::new(format!("{dir}/node_modules/.bin/mcp-inspector"));
    c.current_dir(dir)
        .env("HOME", std::env::temp_dir())
        .arg("--cli")
        .arg(format!("{}/mcp", stack.api_url))
        .args(args)
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .stdin(Stdio::null());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mcp_inspector_lists_and_calls_the_tools() {
    let stack = stack().await;
    let agent = stack.token("inspector-bot", false).unwrap();
    create_table(&stack.sdk, "inspected").await.unwrap();
    let (code, listed, err) = run(inspector(&stack, &agent, &["--method", "tools/list"])).await;
    assert_eq!(code, 0, "{listed} {err}");
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "aws_call",
            "aws_plan",
            "request_status",
            "list_my_requests",
            "cancel_request",
            "explain_call"
        ]
    );
    let text = |v: &Value| -> Value {
        serde_json::from_str(v["content"][0]["text"].as_str().unwrap_or("")).unwrap_or_default()
    };
    let call = |args: &[&str]| {
        let mut a = vec!["--method", "tools/call", "--tool-name", "aws_call"];
        a.push("--tool-arg");
        a.extend(args);
        inspector(&stack, &agent, &a)
    };
    let (code, read, err) = run(call(&["action=dynamodb:ListTables"])).await;
    assert_eq!(code, 0, "{read} {err}");
    assert_eq!(read["isError"], false, "{read}");
    assert!(
        text(&read)["result"]["TableNames"]
            .as_array()
            .unwrap()
            .contains(&"inspected".into()),
        "{read}"
    );
    let (code, held, err) = run(call(&[
        "action=dynamodb:DeleteTable",
        r#"params={"TableName":"inspected"}"#,
        "reason=inspector",
        "wait_seconds=1",
    ]))
    .await;
    assert_eq!(code, 0, "{held} {err}");
    let held = text(&held);
    assert_eq!(held["status"], "PENDING", "{held}");
    assert_eq!(held["action"], "dynamodb:DeleteTable", "{held}");
    assert_eq!(held["ask_again"]["tool"], "request_status", "{held}");
    // A plan of two reads runs at once and answers with each step.
    let (code, plan, err) = run(inspector(
        &stack,
        &agent,
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "aws_plan",
            "--tool-arg",
            r#"steps=[{"action":"dynamodb:ListTables"},{"action":"dynamodb:DescribeTable","params":{"TableName":"inspected"}}]"#,
        ],
    ))
    .await;
    assert_eq!(code, 0, "{plan} {err}");
    assert_eq!(plan["isError"], false, "{plan}");
    let plan = text(&plan);
    assert_eq!(plan["status"], "SUCCEEDED", "{plan}");
    assert_eq!(plan["steps"][1]["status"], "succeeded", "{plan}");
    assert_eq!(
        plan["steps"][1]["result"]["Table"]["TableName"], "inspected",
        "{plan}"
    );
    // A token the API does not accept: the Inspector reports the 401.
    let (code, _, _) = run(inspector(
        &stack,
        "not-a-token",
        &["--method", "tools/list"],
    ))
    .await;
    assert_ne!(code, 0);
    assert!(table_exists(&stack.sdk, "inspected").await.unwrap());
    stack.stop().await;
}
