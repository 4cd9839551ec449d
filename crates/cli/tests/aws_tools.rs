//! Unmodified AWS tools through the front door, configured only by `tollgate env` or a
//! profile with `credential_process = tollgate credentials`: the AWS CLI (`awscli` from PyPI,
//! pinned in tests/requirements.txt) and boto3 (pinned), against a local stack of their own.

use std::net::SocketAddr;
use std::process::{Command, Stdio};

use serde_json::Value;
use tollgate_local::demo::{create_table, table_exists};
use tollgate_local::{Stack, StackOptions};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
const VENV_BIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin");
const BOTO3: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/aws_tools_boto3.py");
/// The JS SDK v3 driver (`make aws-sdk-js` installs its pinned packages).
const JS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/aws-sdk-js/front_door.mjs"
);

async fn stack() -> Stack {
    Stack::start(StackOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Default::default()
    })
    .await
    .expect("local stack starts")
}

/// A shell with nothing of the machine's AWS or Tollgate configuration, the venv's `aws` and
/// `python` first on the PATH and `tollgate` at hand as `$TOLLGATE`.
fn shell(stack: &Stack, token: &str, script: &str) -> Command {
    let mut c = Command::new("bash");
    let path = format!("{VENV_BIN}:{}", std::env::var("PATH").unwrap_or_default());
    let home = std::env::temp_dir().join(format!("tollgate-aws-tools-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    c.args(["-c", script])
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .env("TOLLGATE_URL", &stack.api_url)
        .env("TOLLGATE_TOKEN", token)
        .env("TOLLGATE", BIN)
        .env("BOTO3", BOTO3)
        .env("JS", JS)
        .stdin(Stdio::null());
    c
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|_| panic!("not JSON: {:?}\nstderr: {}", self.stdout, self.stderr))
    }
}

async fn run(mut c: Command) -> Ran {
    let out = tokio::task::spawn_blocking(move || c.output().expect("run"))
        .await
        .expect("join");
    Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `tollgate <args>` with `token`, against the stack.
async fn tollgate(stack: &Stack, token: &str, args: &[&str]) -> Ran {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("TOLLGATE_URL", &stack.api_url)
        .env("TOLLGATE_TOKEN", token)
        .env("HOME", std::env::temp_dir());
    run(c).await
}

/// `aws ...` after `eval "$(tollgate env)"`.
async fn aws(stack: &Stack, token: &str, args: &str) -> Ran {
    run(shell(
        stack,
        token,
        &format!(r#"eval "$("$TOLLGATE" env)" && aws {args} --output json"#),
    ))
    .await
}

/// A boto3 step after `eval "$(tollgate env)"`.
async fn boto3(stack: &Stack, token: &str, step: &str, arg: &str) -> Value {
    let r = run(shell(
        stack,
        token,
        &format!(r#"eval "$("$TOLLGATE" env)" && python "$BOTO3" {step} '{arg}'"#),
    ))
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    r.json()
}

fn has(list: &Value, name: &str) -> bool {
    list.as_array().is_some_and(|l| l.iter().any(|v| v == name))
}

/// A JS SDK v3 step after `eval "$(tollgate env)"`.
async fn js(stack: &Stack, token: &str, step: &str, arg: &str) -> Value {
    let r = run(shell(
        stack,
        token,
        &format!(r#"eval "$("$TOLLGATE" env)" && node "$JS" {step} '{arg}'"#),
    ))
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    r.json()
}

/// The request id in a held call's message (`request <ULID>,`).
fn held_id(message: &str) -> String {
    let at = message.find("request ").expect("names the request") + "request ".len();
    message[at..at + 26].to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_cli_and_boto3_read_across_protocols_and_are_denied_in_aws_terms() {
    let stack = stack().await;
    let agent = stack.token("ci-bot", false).unwrap();
    create_table(&stack.sdk, "orders").await.unwrap();

    // Reads run at once, in every protocol's own wire format.
    let r = aws(&stack, &agent, "dynamodb list-tables").await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(has(&r.json()["TableNames"], "orders"), "{}", r.stdout);
    let r = aws(&stack, &agent, "sts get-caller-identity").await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.json()["Account"].as_str().is_some(), "{}", r.stdout);
    let r = aws(&stack, &agent, "ec2 describe-instances").await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.json()["Reservations"], serde_json::json!([]));
    let r = aws(&stack, &agent, "apigateway get-rest-apis").await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.json()["items"].is_array(), "{}", r.stdout);
    let r = aws(&stack, &agent, "s3api list-buckets").await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.json()["Buckets"].is_array(), "{}", r.stdout);

    let reads = boto3(&stack, &agent, "reads", "").await;
    assert!(has(&reads["tables"], "orders"), "{reads}");
    assert!(reads["account"].as_str().is_some(), "{reads}");
    let reads = js(&stack, &agent, "reads", "").await;
    assert!(has(&reads["tables"], "orders"), "{reads}");
    assert!(reads["account"].as_str().is_some(), "{reads}");

    // Denied by policy: the protocol's access-denied code, naming the policy and the request.
    let r = aws(&stack, &agent, "cloudtrail stop-logging --name trail").await;
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("(AccessDeniedException)"), "{}", r.stderr);
    assert!(r.stderr.contains("forbid-audit-tampering"), "{}", r.stderr);
    assert!(r.stderr.contains("cloudtrail:StopLogging"), "{}", r.stderr);

    // The same reads through a profile whose credentials come from `tollgate credentials`.
    let home = std::env::temp_dir().join(format!("tollgate-aws-profile-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let config = home.join("config");
    std::fs::write(
        &config,
        format!(
            "[profile tollgate]\ncredential_process = {BIN} credentials\nendpoint_url = {}\nregion = us-east-1\n",
            stack.api_url
        ),
    )
    .unwrap();
    let mut c = shell(
        &stack,
        &agent,
        "aws dynamodb list-tables --output json && python \"$BOTO3\" list-tables",
    );
    c.env("AWS_CONFIG_FILE", &config)
        .env("AWS_PROFILE", "tollgate");
    let r = run(c).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("\"orders\""), "{}", r.stdout);

    // Wrong secret, skewed clock: refused with the codes the SDKs know, and nothing recorded.
    let r = run(shell(
        &stack,
        &agent,
        r#"eval "$("$TOLLGATE" env)" && AWS_SECRET_ACCESS_KEY=wrong aws dynamodb list-tables"#,
    ))
    .await;
    assert!(
        r.stderr.contains("(InvalidSignatureException)"),
        "{}",
        r.stderr
    );
    let r = run(shell(
        &stack,
        &agent,
        r#"eval "$("$TOLLGATE" env)" && AWS_ACCESS_KEY_ID=TOLLGATEAAAAAAAAAAAAAAAA aws sts get-caller-identity"#,
    ))
    .await;
    assert!(r.stderr.contains("(InvalidClientTokenId)"), "{}", r.stderr);
    let skewed = boto3(&stack, &agent, "skewed", "").await;
    assert_eq!(skewed["error"], "InvalidSignatureException", "{skewed}");
    assert!(
        skewed["message"].as_str().unwrap().contains("x-amz-date"),
        "{skewed}"
    );
    assert!(table_exists(&stack.sdk, "orders").await.unwrap());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_write_is_approved_and_received_on_rerun_executed_once() {
    let stack = stack().await;
    let agent = stack.token("ci-bot", false).unwrap();
    let approver = stack.token("alice", true).unwrap();
    create_table(&stack.sdk, "orders").await.unwrap();

    let r = aws(&stack, &agent, "dynamodb delete-table --table-name orders").await;
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("(TollgateApprovalRequired)"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr
            .contains("run the same command again after the decision to receive its answer"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("/v1/approvals/"), "{}", r.stderr);
    let id = held_id(&r.stderr);
    // Asked again while it waits: the same request, no second one.
    let again = aws(&stack, &agent, "dynamodb delete-table --table-name orders").await;
    assert_eq!(held_id(&again.stderr), id, "{}", again.stderr);
    assert!(table_exists(&stack.sdk, "orders").await.unwrap());

    let voted = tollgate(&stack, &approver, &["approve", &id, "--comment", "ok"]).await;
    assert_eq!(voted.code, 0, "{}{}", voted.stdout, voted.stderr);

    // Once it has run, the same command receives its answer, once.
    let mut answered = None;
    for _ in 0..100 {
        let r = aws(&stack, &agent, "dynamodb delete-table --table-name orders").await;
        if r.code == 0 {
            answered = Some(r);
            break;
        }
        assert!(r.stderr.contains(&id), "{}", r.stderr);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let answered = answered.expect("the approved call answers");
    assert_eq!(
        answered.json()["TableDescription"]["TableName"],
        "orders",
        "{}",
        answered.stdout
    );
    assert!(!table_exists(&stack.sdk, "orders").await.unwrap());
    // Run once: one execution in its audit trail, and one notice for the two held calls.
    let status = tollgate(&stack, &agent, &["status", &id, "-o", "json"])
        .await
        .json();
    assert_eq!(status["status"], "SUCCEEDED", "{status}");
    let kinds: Vec<&str> = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "execution_started").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "notified").count(),
        1,
        "{kinds:?}"
    );
    // The next identical call is a new request, held again.
    let r = aws(&stack, &agent, "dynamodb delete-table --table-name orders").await;
    assert!(
        r.stderr.contains("(TollgateApprovalRequired)"),
        "{}",
        r.stderr
    );
    assert_ne!(held_id(&r.stderr), id);
    stack.stop().await;
}

/// Policies for the upload test: uploads to the `drop` bucket run at once, every other
/// change needs one approval, reads run.
const UPLOAD_POLICIES: &str = r#"
@id("read-allowed")
permit (principal, action in [Action::"List", Action::"Read"], resource);

@id("drop-uploads")
@reason("uploads to the drop bucket run at once")
permit (principal, action == Action::"s3:PutObject", resource)
when { resource.arn like "arn:aws:s3:::drop/*" };

@id("write-one-approval")
@reason("changes need one approval")
@approval("1")
permit (principal, action in [Action::"Write", Action::"Tagging"], resource)
unless { resource.arn like "arn:aws:s3:::drop/*" };
"#;

/// An object as moto holds it (straight to the emulator, not through Tollgate).
async fn stored(stack: &Stack, bucket: &str, key: &str) -> Option<Vec<u8>> {
    let creds = aws_credential_types::Credentials::new("testing", "testing", None, None, "test");
    match tollgate_aws::s3::S3::new("us-east-1", Some(&stack.moto_url))
        .get_stored(&creds, bucket, key)
        .await
        .unwrap()
    {
        tollgate_aws::ports::Stored::Bytes(b) => Some(b),
        _ => None,
    }
}

/// Uploads with each client's own default signing (the AWS CLI's plain signed payload,
/// boto3's, the JS SDK's aws-chunked stream with a CRC32 trailer, the Rust SDK's aws-chunked
/// stream) of an object of a few
/// megabytes, far above what a request record holds: allowed by policy, held and approved,
/// or with the kept body tampered with before it runs; and above the front door's bound,
/// refused in S3's own terms.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_objects_of_a_few_megabytes_go_up_byte_identical_with_each_clients_default_signing() {
    let dir = std::env::temp_dir().join(format!("tollgate-s3-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    std::fs::write(dir.join("policies/uploads.cedar"), UPLOAD_POLICIES).unwrap();
    let stack = Stack::start(StackOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        policy_source: format!("dir:{}", dir.join("policies").display()),
        ..Default::default()
    })
    .await
    .expect("local stack starts");
    let agent = stack.token("ci-bot", false).unwrap();
    let approver = stack.token("alice", true).unwrap();
    for bucket in ["media", "drop"] {
        let fixture = boto3(
            &stack,
            &agent,
            "fixture-bucket",
            &format!("{},{bucket}", stack.moto_url),
        )
        .await;
        assert_eq!(fixture["bucket"], bucket, "{fixture}");
    }
    let original = dir.join("original.bin");
    // Every byte value, 3 MiB: several aws-chunked chunks, far above a record's 64 KiB.
    let bytes: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    std::fs::write(&original, &bytes).unwrap();
    let sha = tollgate_core::digest::sha256_hex(&bytes);
    let put = |client: &'static str,
               bucket: &'static str,
               key: &'static str,
               path: std::path::PathBuf| {
        let (stack, agent) = (&stack, &agent);
        async move {
            if client == "aws" {
                let r = aws(
                    stack,
                    agent,
                    &format!(
                        "s3api put-object --bucket {bucket} --key {key} --body {}",
                        path.display()
                    ),
                )
                .await;
                (r.code == 0, r.stderr)
            } else {
                let arg = format!("{bucket},{key},{}", path.display());
                let v = match client {
                    "boto3" => boto3(stack, agent, "put", &arg).await,
                    "rust" => rust_sdk(stack, agent, "put", &arg).await,
                    _ => js(stack, agent, "put", &arg).await,
                };
                (v.get("error").is_none(), v.to_string())
            }
        }
    };
    let sha_of = |b: Option<Vec<u8>>| b.map(|b| tollgate_core::digest::sha256_hex(&b));

    // Allowed by policy: each client's upload runs at once and lands byte for byte.
    for (client, key) in [
        ("aws", "cli.bin"),
        ("boto3", "boto3.bin"),
        ("js", "js.bin"),
        ("rust", "rust.bin"),
    ] {
        let (ok, out) = put(client, "drop", key, original.clone()).await;
        assert!(ok, "{client}: {out}");
        assert_eq!(
            sha_of(stored(&stack, "drop", key).await),
            Some(sha.clone()),
            "{client}"
        );
    }

    // Held: approved, then the same command again receives its answer; the body the
    // approver approved (by length and SHA-256) is what lands.
    let (ok, held) = put("js", "media", "held.bin", original.clone()).await;
    assert!(!ok && held.contains("TollgateApprovalRequired"), "{held}");
    let id = held_id(&held);
    let shown = tollgate(&stack, &agent, &["status", &id, "--output", "json"]).await;
    assert!(
        shown.stdout.contains(&sha),
        "the record names the body's digest: {}",
        shown.stdout
    );
    assert_eq!(tollgate(&stack, &approver, &["approve", &id]).await.code, 0);
    let mut done = false;
    for _ in 0..100 {
        let (ok, out) = put("js", "media", "held.bin", original.clone()).await;
        if ok {
            done = true;
            break;
        }
        assert!(out.contains(&id), "{out}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(done, "the approved upload answers");
    assert_eq!(
        sha_of(stored(&stack, "media", "held.bin").await),
        Some(sha.clone())
    );

    // Tampered with while it waits: the kept body is no longer the approved one, so the
    // request fails as payload_mismatch and nothing reaches S3.
    let (ok, held) = put("aws", "media", "tampered.bin", original.clone()).await;
    assert!(!ok && held.contains("TollgateApprovalRequired"), "{held}");
    let id = held_id(&held);
    let key = format!("payloads/{id}/{sha}");
    assert!(
        stored(&stack, "tollgate-payloads", &key).await.is_some(),
        "kept at {key}"
    );
    let creds = aws_credential_types::Credentials::new("testing", "testing", None, None, "test");
    let mut other = bytes.clone();
    other[1000] ^= 1;
    tollgate_aws::s3::S3::new("us-east-1", Some(&stack.moto_url))
        .put(
            &creds,
            "tollgate-payloads",
            &key,
            other,
            "application/octet-stream",
        )
        .await
        .unwrap();
    assert_eq!(tollgate(&stack, &approver, &["approve", &id]).await.code, 0);
    let mut failed = String::new();
    for _ in 0..100 {
        let (ok, out) = put("aws", "media", "tampered.bin", original.clone()).await;
        assert!(!ok, "a tampered body must not be uploaded");
        if out.contains("payload_mismatch") {
            failed = out;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(failed.contains(&id), "fails as payload_mismatch: {failed}");
    assert_eq!(
        stored(&stack, "media", "tampered.bin").await,
        None,
        "nothing was sent"
    );

    // Above the bound: EntityTooLarge in S3's shape, naming the bound and the way round it.
    let huge = dir.join("huge.bin");
    std::fs::write(&huge, vec![1u8; 5 * 1024 * 1024]).unwrap();
    let (ok, out) = put("aws", "drop", "huge.bin", huge.clone()).await;
    assert!(
        !ok && out.contains("EntityTooLarge")
            && out.contains("4194304")
            && out.contains("tollgate s3 cp"),
        "{out}"
    );
    // boto3 with the same; then one byte over in the JS SDK's aws-chunked framing, which the
    // host still reads: the front door's own bound on the decoded body. Neither is retried.
    let over = dir.join("over.bin");
    std::fs::write(&over, vec![2u8; 4 * 1024 * 1024 + 1]).unwrap();
    for (client, key, path) in [("boto3", "huge.bin", &huge), ("js", "over.bin", &over)] {
        let arg = format!("drop,{key},{}", path.display());
        let v = if client == "boto3" {
            boto3(&stack, &agent, "put", &arg).await
        } else {
            js(&stack, &agent, "put", &arg).await
        };
        assert_eq!(v["error"], "EntityTooLarge", "{client}: {v}");
        assert_eq!(v["status"], 413, "{client}: {v}");
        assert_eq!(v["attempts"].as_u64().unwrap_or(0), 0, "{client}: {v}");
        assert_eq!(stored(&stack, "drop", key).await, None, "{client}");
    }

    // A presigned GET URL, fetched without credentials, reads an object back; the same
    // signature on another key is refused as S3 refuses it.
    let small: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 256) as u8).collect();
    tollgate_aws::s3::S3::new("us-east-1", Some(&stack.moto_url))
        .put(
            &creds,
            "media",
            "small.bin",
            small.clone(),
            "application/octet-stream",
        )
        .await
        .unwrap();
    let back = dir.join("presigned.back");
    let got = boto3(
        &stack,
        &agent,
        "presigned-get",
        &format!("media,small.bin,{}", back.display()),
    )
    .await;
    assert_eq!(got["presigned"], true, "{got}");
    assert_eq!(got["bytes"], small.len(), "{got}");
    assert_eq!(std::fs::read(&back).unwrap(), small);
    assert_eq!(got["tampered"]["status"], 403, "{got}");
    assert!(
        got["tampered"]["body"]
            .as_str()
            .unwrap()
            .contains("<Code>SignatureDoesNotMatch</Code>"),
        "{got}"
    );
    // boto3's default S3 presigner signs with SigV2: refused, saying how to presign instead.
    assert_eq!(got["sigv2_url"], true, "{got}");
    assert_eq!(got["sigv2"]["status"], 400, "{got}");
    assert!(
        got["sigv2"]["body"].as_str().unwrap().contains("s3v4"),
        "{got}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_gateway_credentials_are_refused_as_expired() {
    let stack = stack().await;
    // The shortest token credentials are issued for: they expire with it, about a minute on.
    let agent = stack
        .mint(
            &serde_json::from_value(serde_json::json!({"sub": "ci-bot", "ttl_seconds": 65}))
                .unwrap(),
        )
        .unwrap();
    let r = run(shell(&stack, &agent, r#""$TOLLGATE" env"#)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let exports = r.stdout;
    let r = run(shell(
        &stack,
        &agent,
        &format!("{exports}\naws sts get-caller-identity"),
    ))
    .await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    tokio::time::sleep(std::time::Duration::from_secs(66)).await;
    let r = run(shell(
        &stack,
        &agent,
        &format!("{exports}\naws sts get-caller-identity"),
    ))
    .await;
    assert!(r.stderr.contains("(ExpiredToken)"), "{}", r.stderr);
    stack.stop().await;
}

/// The AWS SDK for Rust, configured only by what `tollgate env` exports: this test runs
/// `tollgate env`, then runs the SDK calls in a child process of this very test binary with
/// exactly those variables (so no test changes its own process's environment).
/// A step of the AWS SDK for Rust (`rust_sdk_child`, in a child process of this test binary)
/// configured only by the variables `tollgate env` prints.
async fn rust_sdk(stack: &Stack, token: &str, step: &str, arg: &str) -> Value {
    let r = run(shell(stack, token, r#""$TOLLGATE" env"#)).await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut child = Command::new(std::env::current_exe().unwrap());
    child
        .args(["--exact", "rust_sdk_child", "--ignored", "--nocapture"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", std::env::temp_dir())
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_SDK_STEP", step)
        .env("RUST_SDK_ARG", arg);
    for line in r.stdout.lines() {
        if let Some((k, v)) = line
            .strip_prefix("export ")
            .and_then(|kv| kv.split_once('='))
        {
            child.env(k, v.trim_matches('\''));
        }
    }
    let out = run(child).await;
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("RUST_SDK "))
        .unwrap_or_else(|| panic!("{}\n{}", out.stdout, out.stderr));
    serde_json::from_str(&line["RUST_SDK ".len()..]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_aws_sdk_for_rust_reads_and_is_denied_through_the_front_door() {
    let stack = stack().await;
    let agent = stack.token("ci-bot", false).unwrap();
    create_table(&stack.sdk, "orders").await.unwrap();
    let v = rust_sdk(&stack, &agent, "reads", "").await;
    assert!(has(&v["tables"], "orders"), "{v}");
    assert!(v["account"].as_str().is_some(), "{v}");
    assert_eq!(v["denied"], "AccessDeniedException", "{v}");
    assert!(
        v["denied_message"]
            .as_str()
            .unwrap()
            .contains("dynamodb:DeleteTable"),
        "{v}"
    );
    stack.stop().await;
}

/// The child of the tests above; it does nothing without the front door's variables.
#[tokio::test]
#[ignore = "run by the tests that use the AWS SDK for Rust"]
async fn rust_sdk_child() {
    use aws_sdk_dynamodb::error::ProvideErrorMetadata;
    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        return;
    }
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let step = std::env::var("RUST_SDK_STEP").unwrap_or_default();
    let arg = std::env::var("RUST_SDK_ARG").unwrap_or_default();
    let out = if step == "put" {
        // A file as a stream: the SDK's default for it is aws-chunked with a checksum
        // trailer, its chunks signed over plain HTTP.
        let v: Vec<&str> = arg.split(',').collect();
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&config)
                .force_path_style(true)
                .build(),
        );
        let body = aws_sdk_s3::primitives::ByteStream::from_path(v[2])
            .await
            .expect("the file");
        match s3
            .put_object()
            .bucket(v[0])
            .key(v[1])
            .body(body)
            .send()
            .await
        {
            Ok(_) => serde_json::json!({"put": v[1]}),
            Err(e) => serde_json::json!({"error": e.code(), "message": e.message()}),
        }
    } else {
        let ddb = aws_sdk_dynamodb::Client::new(&config);
        let tables = ddb.list_tables().send().await.expect("ListTables");
        let who = aws_sdk_sts::Client::new(&config)
            .get_caller_identity()
            .send()
            .await
            .expect("GetCallerIdentity");
        // Tollgate's own table: the forbid on Tollgate's own resources denies it.
        let denied = ddb
            .delete_table()
            .table_name("tollgate-requests")
            .send()
            .await
            .expect_err("denied");
        serde_json::json!({
            "tables": tables.table_names(),
            "account": who.account(),
            "denied": denied.code(),
            "denied_message": denied.message(),
        })
    };
    println!("RUST_SDK {out}");
}

/// `tollgate env --wait 20`: a held call stays open while it waits, and a quick approval
/// answers it in place, executed once; a longer wait than API Gateway allows is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_wait_a_quick_approval_answers_the_held_call_in_place() {
    let stack = stack().await;
    let agent = stack.token("ci-bot", false).unwrap();
    let approver = stack.token("alice", true).unwrap();
    create_table(&stack.sdk, "orders").await.unwrap();
    let call = tokio::spawn(run(shell(
        &stack,
        &agent,
        r#"eval "$("$TOLLGATE" env --wait 20)" && aws dynamodb delete-table --table-name orders --output json"#,
    )));
    let mut id = None;
    for _ in 0..100 {
        let queue = tollgate(&stack, &approver, &["pending", "-o", "json"])
            .await
            .json();
        if let Some(found) = queue["requests"][0]["id"].as_str() {
            id = Some(found.to_string());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let id = id.expect("the held call is pending");
    assert!(!call.is_finished(), "the held call waits for its decision");
    let voted = tollgate(&stack, &approver, &["approve", &id]).await;
    assert_eq!(voted.code, 0, "{}{}", voted.stdout, voted.stderr);
    let r = call.await.unwrap();
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.json()["TableDescription"]["TableName"],
        "orders",
        "{}",
        r.stdout
    );
    assert!(!table_exists(&stack.sdk, "orders").await.unwrap());
    let status = tollgate(&stack, &agent, &["status", &id, "-o", "json"])
        .await
        .json();
    let started = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "execution_started")
        .count();
    assert_eq!(started, 1, "{status}");

    let r = run(shell(&stack, &agent, r#""$TOLLGATE" env --wait 21"#)).await;
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("wait_seconds"), "{}", r.stderr);
    stack.stop().await;
}

/// `tollgate env --target NAME`: every call signed with those credentials acts in that
/// target, under its role; an unknown target is refused when the credentials are asked for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_for_a_target_act_in_that_target() {
    let stack = stack().await;
    let agent = stack.token("ci-bot", false).unwrap();
    let whoami = |env: &'static str| {
        run(shell(
            &stack,
            &agent,
            &format!(
                r#"eval "$("$TOLLGATE" env {env})" && aws sts get-caller-identity --output json"#
            ),
        ))
    };
    let r = whoami("--target sandbox").await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let arn = r.json()["Arn"].as_str().unwrap().to_string();
    assert!(
        arn.contains(":assumed-role/tollgate-target-sandbox/"),
        "{arn}"
    );
    let r = whoami("").await;
    assert_eq!(r.code, 0, "{}", r.stderr);
    let arn = r.json()["Arn"].as_str().unwrap().to_string();
    assert!(arn.contains(":assumed-role/tollgate-target/"), "{arn}");

    let r = run(shell(&stack, &agent, r#""$TOLLGATE" env --target nowhere"#)).await;
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("no target named `nowhere`") && r.stderr.contains("sandbox"),
        "{}",
        r.stderr
    );
    stack.stop().await;
}

/// An SDK's own retry of a held call (the same invocation id, `attempt=2`, re-signed) joins
/// the request the first attempt made: one request, one notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_retry_of_a_held_call_makes_no_second_request() {
    let stack = stack().await;
    let agent = stack.token("ci-bot", false).unwrap();
    create_table(&stack.sdk, "orders").await.unwrap();
    let held = boto3(&stack, &agent, "retried-delete", "orders").await;
    assert_eq!(held["error"], "TollgateApprovalRequired", "{held}");
    let sent = held["sent"].as_array().unwrap();
    assert_eq!(sent.len(), 2, "botocore sent the call twice: {held}");
    assert_eq!(sent[0][0], sent[1][0], "with one invocation id: {held}");
    assert!(sent[1][1].as_str().unwrap().contains("attempt=2"), "{held}");
    let listed = tollgate(&stack, &agent, &["list", "-o", "json"])
        .await
        .json();
    let requests = listed["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 1, "{listed}");
    let id = requests[0]["id"].as_str().unwrap();
    assert!(held["message"].as_str().unwrap().contains(id), "{held}");
    assert!(table_exists(&stack.sdk, "orders").await.unwrap());
    stack.stop().await;
}

/// A plan run by calls (`tollgate plan --by-calls`), approved once: then the agent's own
/// `aws` commands that are exactly its next step run as that step, in order, one with a value
/// read from an earlier step's answer; a call that is not the next step is held as usual, and
/// a step called again once it ran does not run again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_run_by_calls_runs_each_step_on_the_agents_own_aws_call() {
    let stack = stack().await;
    let agent = stack.token("ci-bot", false).unwrap();
    let approver = stack.token("alice", true).unwrap();
    create_table(&stack.sdk, "orders").await.unwrap();
    let plan = serde_json::json!({
        "reason": "move orders to orders-v2",
        "steps": [
            {"action": "dynamodb:CreateTable", "params": {"TableName": "orders-v2",
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}},
            {"action": "dynamodb:PutItem", "params": {"TableName": "orders-v2", "Item": {
                "id": {"S": "meta"},
                "arn": {"S": {"$ref": "steps[0].answer.TableDescription.TableArn"}}}}},
            {"action": "dynamodb:DeleteTable", "params": {"TableName": "orders"}},
        ]
    });
    let file = std::env::temp_dir().join(format!("by-calls-{}.json", std::process::id()));
    std::fs::write(&file, plan.to_string()).unwrap();
    let held = tollgate(
        &stack,
        &agent,
        &[
            "plan",
            file.to_str().unwrap(),
            "--by-calls",
            "--window",
            "600",
            "-o",
            "json",
        ],
    )
    .await;
    let id = held.json()["id"].as_str().expect("held plan").to_string();
    let voted = tollgate(&stack, &approver, &["approve", &id]).await;
    assert_eq!(voted.code, 0, "{}{}", voted.stdout, voted.stderr);
    let status = || async {
        tollgate(&stack, &agent, &["status", &id, "-o", "json"])
            .await
            .json()
    };
    let mut parked = Value::Null;
    for _ in 0..100 {
        parked = status().await;
        if parked["plan"]["calls_until"].is_u64() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(parked["status"], "EXECUTING", "{parked}");
    assert!(parked["plan"]["calls_until"].is_u64(), "{parked}");
    assert_eq!(parked["plan"]["run"], "by_calls", "{parked}");
    assert_eq!(parked["plan"]["window_seconds"], 600, "{parked}");
    // Approved, and nothing has run.
    assert!(!table_exists(&stack.sdk, "orders-v2").await.unwrap());
    let steps = |v: &Value| -> Vec<String> {
        v["plan"]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["status"].as_str().unwrap().to_string())
            .collect()
    };

    // A later step called out of turn is not the next one: held as any call would be.
    let early = aws(&stack, &agent, "dynamodb delete-table --table-name orders").await;
    assert!(
        early.stderr.contains("(TollgateApprovalRequired)"),
        "{}",
        early.stderr
    );
    assert_ne!(held_id(&early.stderr), id);
    assert!(table_exists(&stack.sdk, "orders").await.unwrap());

    let create = "dynamodb create-table --table-name orders-v2 --billing-mode PAY_PER_REQUEST \
        --attribute-definitions AttributeName=id,AttributeType=S \
        --key-schema AttributeName=id,KeyType=HASH";
    let created = aws(&stack, &agent, create).await;
    assert_eq!(created.code, 0, "{}{}", created.stdout, created.stderr);
    let arn = created.json()["TableDescription"]["TableArn"]
        .as_str()
        .expect("the step's answer, as DynamoDB sends it")
        .to_string();
    assert!(table_exists(&stack.sdk, "orders-v2").await.unwrap());
    assert_eq!(steps(&status().await), ["succeeded", "waiting", "waiting"]);

    // Step 1 with another value than step 0's answer holds is not step 1.
    let wrong = aws(
        &stack,
        &agent,
        r#"dynamodb put-item --table-name orders-v2 --item '{"id": {"S": "meta"}, "arn": {"S": "arn:aws:dynamodb:us-east-1:000000000000:table/other"}}'"#,
    )
    .await;
    assert!(
        wrong.stderr.contains("(TollgateApprovalRequired)"),
        "{}",
        wrong.stderr
    );
    let put = format!(
        r#"dynamodb put-item --table-name orders-v2 --item '{{"id": {{"S": "meta"}}, "arn": {{"S": "{arn}"}}}}'"#
    );
    let r = aws(&stack, &agent, &put).await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    // Step 0 again, once it ran: not the plan's step any more, so not run as one.
    let again = aws(&stack, &agent, create).await;
    assert_ne!(again.code, 0, "{}", again.stdout);
    assert!(
        !again.stderr.contains(&id),
        "not answered as the plan's step: {}",
        again.stderr
    );

    let r = aws(&stack, &agent, "dynamodb delete-table --table-name orders").await;
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.json()["TableDescription"]["TableName"], "orders");
    assert!(!table_exists(&stack.sdk, "orders").await.unwrap());

    let done = status().await;
    assert_eq!(done["status"], "SUCCEEDED", "{done}");
    assert_eq!(steps(&done), ["succeeded"; 3]);
    let kinds: Vec<&str> = done["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    let count = |k: &str| kinds.iter().filter(|x| **x == k).count();
    assert_eq!(count("plan_parked"), 1, "{kinds:?}");
    assert_eq!(count("step_started"), 3, "each step ran once: {kinds:?}");
    assert_eq!(count("step_executed"), 3, "{kinds:?}");
    stack.stop().await;
}
