//! The live API against its OpenAPI document (`functions/api/openapi.json`, served at
//! `/v1/openapi.json`): schemathesis (pinned in tests/requirements.txt) generates valid and
//! invalid requests for every operation, with real agent and approver tokens (see
//! tests/schemathesis.toml), and checks that nothing
//! answers 5xx, every status, content type, header and body conforms, and invalid input is
//! refused. Bounded by `--max-examples`; a failure prints the seed that reproduces it.

use std::process::Command;

use tollgate_e2e::stack_with;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_api_conforms_to_its_openapi_document() {
    // Slack actions configured, so their signature checks are what the run meets.
    let stack =
        stack_with(|o| o.slack_signing_secret = Some("schemathesis-slack-secret".into())).await;
    let token = stack.token("schemathesis", false).unwrap();
    let approver = stack.token("schemathesis-approver", true).unwrap();
    let dir = env!("CARGO_MANIFEST_DIR");
    let mut c = Command::new(format!("{dir}/../.venv/bin/schemathesis"));
    c.current_dir(dir)
        .args(["--config-file", "schemathesis.toml", "run"])
        .arg(format!("{}/v1/openapi.json", stack.api_url))
        // One worker: with two threads, CPython 3.11's compiler sometimes fails inside
        // hypothesis ("AST constructor recursion depth mismatch"), a crash of the tool that
        // says nothing about the API.
        .args(["--max-examples", "30", "--workers", "1", "--no-color"])
        .args([
            "--report-dir",
            &std::env::temp_dir()
                .join("tollgate-schemathesis")
                .to_string_lossy(),
        ])
        .env("TOLLGATE_AGENT_TOKEN", &token)
        .env("TOLLGATE_APPROVER_TOKEN", &approver);
    let out = tokio::task::spawn_blocking(move || {
        c.output()
            .expect("run schemathesis (make venv installs it)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // The token never shows in the report.
    assert!(
        !stdout.contains(&token) && !stdout.contains(&approver),
        "a token leaked into the report"
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let doc: serde_json::Value =
        serde_json::from_str(include_str!("../functions/api/openapi.json")).unwrap();
    let operations: usize = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|p| p.as_object().unwrap().len())
        .sum();
    // Schemathesis leaves out the operation serving the document it loaded from.
    let tested = operations - 1;
    assert!(
        stdout.contains(&format!("Tested: {tested}"))
            && stdout.contains(&format!("{tested} passed")),
        "every one of the {tested} operations was tested and passed: {stdout}"
    );
    stack.stop().await;
}
