//! `tollgate s3 cp` against a local stack of its own: a file larger than the front door
//! carries goes to S3 (moto) on the presigned URL Tollgate hands out, allowed by policy or
//! held and approved, and is read back byte-identical with the AWS CLI against moto
//! directly. moto does not check presigned signatures: that the URL binds the key, length
//! and checksum is proved with the SigV4 verifier (`tollgate_aws::presign`'s tests).

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use tollgate_cli::client::Client;
use tollgate_core::record::Verdict;
use tollgate_local::{Stack, StackOptions};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");
const VENV_BIN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../.venv/bin");
const MIB: usize = 1024 * 1024;

/// Uploads to `scratch/` run at once; every other write waits for one approval.
const POLICIES: &str = r#"
@id("reads")
permit (principal, action in Action::"Read", resource);

@id("scratch-uploads") @reason("scratch uploads run at once")
permit (principal, action == Action::"s3:PutObject", resource)
when { resource.arn like "arn:aws:s3:::scratch/*" };

@id("writes") @approval("1") @reason("writes need one approval")
permit (principal, action in Action::"Write", resource)
unless { resource.arn like "arn:aws:s3:::scratch/*" };
"#;

async fn stack() -> Stack {
    let dir = std::env::temp_dir().join(format!("s3-cp-policies-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("policies.cedar"), POLICIES).unwrap();
    Stack::start(StackOptions {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        policy_source: format!("dir:{}", dir.display()),
        seed_s3: vec![
            ("scratch".into(), "seed".into(), "x".into()),
            ("releases".into(), "seed".into(), "x".into()),
        ],
        ..Default::default()
    })
    .await
    .expect("local stack starts")
}

/// Bytes no compressor or pattern would make equal by accident.
fn file_of(len: usize, seed: u64, name: &str) -> (std::path::PathBuf, Vec<u8>) {
    let mut x = seed;
    let bytes: Vec<u8> = (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let path = std::env::temp_dir().join(format!("s3-cp-{}-{name}", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

fn tollgate(stack: &Stack, token: &str, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("TOLLGATE_URL", &stack.api_url)
        .env("TOLLGATE_TOKEN", token)
        .env("HOME", std::env::temp_dir());
    c
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
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

/// The object as moto holds it, read with the AWS CLI straight from the emulator.
async fn read_back(stack: &Stack, bucket: &str, key: &str) -> Vec<u8> {
    let out = std::env::temp_dir().join(format!("s3-cp-back-{}-{bucket}", std::process::id()));
    let mut c = Command::new(format!("{VENV_BIN}/aws"));
    c.args([
        "s3api",
        "get-object",
        "--endpoint-url",
        &stack.moto_url,
        "--bucket",
        bucket,
        "--key",
        key,
        out.to_str().unwrap(),
    ])
    .env_clear()
    .env("PATH", std::env::var("PATH").unwrap_or_default())
    .env("HOME", std::env::temp_dir())
    .env("AWS_ACCESS_KEY_ID", "testing")
    .env("AWS_SECRET_ACCESS_KEY", "testing")
    .env("AWS_DEFAULT_REGION", "us-east-1");
    let r = run(c).await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    std::fs::read(out).unwrap()
}

fn json(r: &Ran) -> Value {
    serde_json::from_str(r.stdout.trim())
        .unwrap_or_else(|_| panic!("not JSON: {:?}\nstderr: {}", r.stdout, r.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_six_mib_file_allowed_by_policy_goes_to_s3_by_its_presigned_url() {
    let stack = stack().await;
    let agent = stack.token("ci-bot", false).unwrap();
    let (path, bytes) = file_of(6 * MIB + 7, 15, "six");
    let r = run(tollgate(
        &stack,
        &agent,
        &[
            "s3",
            "cp",
            path.to_str().unwrap(),
            "s3://scratch/dir/six.bin",
        ],
    ))
    .await;
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let done = json(&r);
    assert_eq!(done["content_length"], 6 * MIB + 7, "{done}");
    assert!(done["etag"].is_string(), "{done}");
    assert!(!r.stdout.contains("X-Amz-Signature") && !r.stderr.contains("X-Amz-Signature"));
    assert_eq!(read_back(&stack, "scratch", "dir/six.bin").await, bytes);

    // The agent that asked sees its URL, another agent not even the request; the record as
    // stored keeps the URL only sealed.
    let id = done["request_id"].as_str().unwrap();
    let other = Client::new(
        &stack.api_url,
        Some(stack.token("other-bot", false).unwrap()),
    );
    assert_eq!(other.status(id, 0).await.unwrap().status, 404);
    let own = Client::new(&stack.api_url, Some(agent.clone()))
        .status(id, 0)
        .await
        .unwrap();
    assert!(
        own.body["result"]["Upload"]["Url"]
            .as_str()
            .unwrap()
            .contains("X-Amz-Signature")
    );
    let item = aws_sdk_dynamodb::Client::new(&stack.sdk)
        .get_item()
        .table_name(&stack.names.table)
        .key("pk", AttributeValue::S(format!("REQ#{id}")))
        .key("sk", AttributeValue::S("META".into()))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let doc: Value = serde_json::from_str(item["doc"].as_s().unwrap()).unwrap();
    assert_eq!(doc["result"]["Upload"]["Url"], tollgate_core::mask::MASK);
    let stored = format!("{item:?}");
    assert!(
        !stored.contains("X-Amz-Signature") && !stored.contains("X-Amz-Credential"),
        "{stored}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_upload_waits_for_its_approval_then_goes_to_s3() {
    let stack = stack().await;
    let agent = stack.token("ci-bot", false).unwrap();
    let (path, bytes) = file_of(5 * MIB + 3, 99, "held");
    let cp = tokio::spawn(run(tollgate(
        &stack,
        &agent,
        &[
            "s3",
            "cp",
            path.to_str().unwrap(),
            "s3://releases/v1/",
            "--reason",
            "release v1",
            "--wait",
            "--timeout",
            "120",
        ],
    )));
    let me = Client::new(&stack.api_url, Some(agent.clone()));
    let mut id = None;
    for _ in 0..100 {
        let l = me.list(Some("pending"), None, None).await.unwrap();
        if let Some(first) = l.body["requests"].as_array().and_then(|r| r.first()) {
            id = first["id"].as_str().map(str::to_string);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let id = id.expect("the upload is held");
    tollgate_local::demo::wait_for_notice(
        &Client::new(&stack.api_url, None),
        &id,
        Duration::from_secs(30),
    )
    .await
    .unwrap();
    let approver = Client::new(&stack.api_url, Some(stack.token("alice", true).unwrap()));
    let key = format!("v1/{}", path.file_name().unwrap().to_str().unwrap());
    let held = approver.status(&id, 0).await.unwrap();
    assert_eq!(held.body["status"], "PENDING", "{}", held.body);
    assert_eq!(held.body["request"]["params"]["Key"], key.as_str());
    assert_eq!(held.body["request"]["params"]["ContentLength"], 5 * MIB + 3);
    let a = approver
        .vote(&id, Verdict::Approve, Some("ok"))
        .await
        .unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    let r = cp.await.unwrap();
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let done = json(&r);
    assert_eq!(done["request_id"], id.as_str());
    // The approver's view and the trail show the URL masked, and what was authorised.
    let seen = approver.status(&id, 0).await.unwrap();
    assert_eq!(seen.body["status"], "SUCCEEDED", "{}", seen.body);
    assert!(
        !seen.body.to_string().contains("X-Amz-Signature"),
        "{}",
        seen.body
    );
    assert_eq!(
        seen.body["result"]["Upload"]["Url"],
        tollgate_core::mask::MASK
    );
    let executed = seen.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "executed")
        .expect("an executed event")
        .clone();
    assert_eq!(
        executed["detail"]["upload"]["bytes"],
        5 * MIB + 3,
        "{executed}"
    );
    assert_eq!(
        executed["detail"]["upload"]["checksum_sha256"],
        done["checksum_sha256"]
    );
    assert_eq!(read_back(&stack, "releases", &key).await, bytes);
    stack.stop().await;
}
