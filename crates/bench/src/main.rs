//! `make bench`: measures Tollgate end to end against a fresh local stack and prints the
//! results as Markdown (crates/bench/run.sh puts them in crates/bench/RESULTS.md). Every figure is measured
//! here, on this machine; nothing is estimated.

mod runtime_api;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tollgate_cli::client::Client;
use tollgate_local::demo::{create_table, wait_for_notice};
use tollgate_local::{Stack, StackOptions};

use crate::runtime_api::RuntimeApi;
use tollgate_core::record::Verdict;

/// Kept small: every request grows the emulator's table, and moto deep-copies the whole
/// table for each item of each transaction, so long runs measure that copy.
const OVERHEAD_RUNS: usize = 100;
const OVERHEAD_WARMUP: usize = 10;
const COLD_RUNS: usize = 20;
const LOAD_INVOCATIONS: usize = 300;
const APPROVALS: usize = 10;
const LOAD_SECONDS: u32 = 10;
const FUNCTIONS: [&str; 4] = ["api", "notifier", "executor", "audit-export"];

type Res<T> = Result<T, String>;

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// User + system CPU time of this process so far.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<u64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 (utime, stime) in clock ticks; 100 per second on Linux.
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

async fn fresh_stack() -> Res<Stack> {
    Stack::start(StackOptions {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Default::default()
    })
    .await
}

fn agent(stack: &Stack) -> Res<Client> {
    Ok(Client::new(
        &stack.api_url,
        Some(stack.token("bench-bot", false)?),
    ))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let root = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
    if let Err(e) = run(&root).await {
        eprintln!("bench failed: {e}");
        std::process::exit(1);
    }
}

async fn run(root: &Path) -> Res<()> {
    // `TOLLGATE_BENCH_ONLY=functions` (comma-separated) runs some sections only.
    let only = std::env::var("TOLLGATE_BENCH_ONLY").unwrap_or_default();
    let want = |s: &str| only.is_empty() || only.split(',').any(|o| o == s);
    if want("overhead") {
        overhead().await?;
    }
    if want("throughput") {
        throughput().await?;
    }
    if want("approval") {
        approval_latency().await?;
    }
    if want("preview") {
        preview_latency().await?;
    }
    if want("functions") {
        functions(root).await?;
    }
    Ok(())
}

/// An auto-allowed read through Tollgate against the same read signed and sent straight to
/// the emulator, interleaved so both see the same machine load.
async fn overhead() -> Res<()> {
    let stack = fresh_stack().await?;
    create_table(&stack.sdk, "bench").await?;
    let client = agent(&stack)?;
    let ddb = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let front = front_door_client(&stack, &client).await?;
    let body = json!({"action": "dynamodb:DescribeTable", "params": {"TableName": "bench"}});
    let (mut via, mut direct, mut door) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..OVERHEAD_RUNS + OVERHEAD_WARMUP {
        // The same call as an unmodified SDK makes it: SigV4 with gateway credentials.
        let t = Instant::now();
        front
            .describe_table()
            .table_name("bench")
            .send()
            .await
            .map_err(|e| format!("DescribeTable through the front door: {e:?}"))?;
        let f = t.elapsed();
        let t = Instant::now();
        let a = client.submit(&body, None).await?;
        let v = t.elapsed();
        if a.status != 200 || a.request_status() != Some("SUCCEEDED") {
            return Err(format!(
                "DescribeTable through Tollgate: {} {}",
                a.status, a.body
            ));
        }
        let t = Instant::now();
        ddb.describe_table()
            .table_name("bench")
            .send()
            .await
            .map_err(|e| format!("direct DescribeTable: {e}"))?;
        let d = t.elapsed();
        if i >= OVERHEAD_WARMUP {
            via.push(v);
            direct.push(d);
            door.push(f);
        }
    }
    // CPU of this process (the in-process functions plus both clients) per request.
    let n = 50;
    let c0 = cpu_time();
    for _ in 0..n {
        client.submit(&body, None).await?;
    }
    let c1 = cpu_time();
    for _ in 0..n {
        ddb.describe_table()
            .table_name("bench")
            .send()
            .await
            .map_err(|e| e.to_string())?;
    }
    let c2 = cpu_time();
    via.sort();
    direct.sort();
    door.sort();
    println!("## Gateway overhead: `dynamodb:DescribeTable`, auto-allowed\n");
    println!(
        "{OVERHEAD_RUNS} calls each, interleaved, one at a time, after {OVERHEAD_WARMUP} warm-up calls. Through \
         Tollgate the call is: JWT verification, validation, policy decision, the request \
         record written (conditional transaction), executor claim (conditional write), \
         STS AssumeRole with a session policy, the signed call, the result written. The \
         emulator (moto, Python) answers every AWS call on both paths.\n"
    );
    println!("| path | p50 | p90 | p99 |");
    println!("| --- | --- | --- | --- |");
    for (name, s) in [
        ("through Tollgate (`POST /v1/requests`)", &via),
        (
            "through the front door (the AWS SDK for Rust, SigV4 with gateway credentials)",
            &door,
        ),
        ("direct to the emulator", &direct),
    ] {
        println!(
            "| {name} | {:.2} ms | {:.2} ms | {:.2} ms |",
            ms(pct(s, 0.5)),
            ms(pct(s, 0.9)),
            ms(pct(s, 0.99))
        );
    }
    println!(
        "| **ratio** | **{:.2}×** | {:.2}× | {:.2}× |\n",
        ms(pct(&via, 0.5)) / ms(pct(&direct, 0.5)),
        ms(pct(&via, 0.9)) / ms(pct(&direct, 0.9)),
        ms(pct(&via, 0.99)) / ms(pct(&direct, 0.99))
    );
    println!(
        "Front door beside the JSON API for the same call: **{:+.2} ms** at p50 ({:.2}×), \
         {:+.2} ms at p90: the front door adds SigV4 verification, the session token's \
         decryption, the protocol's decoding and the wire answer's encoding; the rest of the \
         path is the same.\n",
        ms(pct(&door, 0.5)) - ms(pct(&via, 0.5)),
        ms(pct(&door, 0.5)) / ms(pct(&via, 0.5)),
        ms(pct(&door, 0.9)) - ms(pct(&via, 0.9)),
    );
    let own = (c1 - c0).saturating_sub(c2 - c1);
    println!(
        "Tollgate's own compute (CPU time of this process over {n} requests through Tollgate, \
         minus the same over {n} direct calls; 10 ms clock-tick resolution): **{:.2} ms per \
         request** (through Tollgate {:.2} ms, direct {:.2} ms of CPU per request, client \
         included).\n",
        ms(own) / n as f64,
        ms(c1 - c0) / n as f64,
        ms(c2 - c1) / n as f64
    );
    stack.stop().await;
    Ok(())
}

/// A DynamoDB client configured as `tollgate env` configures one: Tollgate's URL as the
/// endpoint and gateway credentials from `POST /v1/credentials`.
async fn front_door_client(stack: &Stack, agent: &Client) -> Res<aws_sdk_dynamodb::Client> {
    let a = agent
        .credentials(0, None)
        .await
        .map_err(|e| format!("credentials: {e}"))?;
    let field = |k: &str| {
        a.body[k]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("credentials: no `{k}` in {}", a.body))
    };
    let creds = aws_credential_types::Credentials::new(
        field("access_key_id")?,
        field("secret_access_key")?,
        Some(field("session_token")?),
        None,
        "tollgate-gateway",
    );
    let config = aws_sdk_dynamodb::config::Builder::from(&stack.sdk)
        .endpoint_url(&stack.api_url)
        .credentials_provider(creds)
        .build();
    Ok(aws_sdk_dynamodb::Client::from_conf(config))
}

fn wrk_script(dir: &Path, name: &str, token: &str, body: &Value) -> Res<PathBuf> {
    let p = dir.join(format!("{name}.lua"));
    let lua = format!(
        r#"wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer {token}"
local codes = {{}}
response = function(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("RESULT %d %.3f %d %d %d %d %d %.3f %.3f %.3f\n",
    summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000))
end
"#
    );
    std::fs::write(&p, lua).map_err(|e| e.to_string())?;
    Ok(p)
}

/// API throughput with `wrk` for denied, allowed and pending requests, each on a fresh stack.
async fn throughput() -> Res<()> {
    let dir = std::env::temp_dir().join(format!("tollgate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    println!("## API throughput (`wrk`, {LOAD_SECONDS} s, 2 threads, 16 connections)\n");
    println!(
        "Each scenario on a fresh stack. Every request is stored (a conditional DynamoDB \
         transaction in the emulator, serialised by the local host because moto loses \
         concurrent writes), so these figures are bounded by the emulator, not by Tollgate's \
         compute; `non-2xx` for the denied scenario is the expected 403.\n"
    );
    println!(
        "| scenario | requests | requests/s | p50 | p90 | p99 | socket errors | timeouts | non-2xx |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (name, body) in [
        (
            "denied (`cloudtrail:DeleteTrail`, 403)",
            json!({"action": "cloudtrail:DeleteTrail", "params": {"Name": "org-trail"}, "reason": "bench"}),
        ),
        (
            "allowed (`dynamodb:ListTables`, run at once, 200)",
            json!({"action": "dynamodb:ListTables"}),
        ),
        (
            "pending (`dynamodb:DeleteTable`, workflow started, 202)",
            json!({"action": "dynamodb:DeleteTable", "params": {"TableName": "bench"}, "reason": "bench"}),
        ),
    ] {
        let stack = fresh_stack().await?;
        let token = stack.token("bench-bot", false)?;
        let script = wrk_script(&dir, "load", &token, &body)?;
        let out = tokio::process::Command::new("wrk")
            .args([
                "-t2",
                "-c16",
                &format!("-d{LOAD_SECONDS}s"),
                "--latency",
                "-s",
            ])
            .arg(&script)
            .arg(format!("{}/v1/requests", stack.api_url))
            .output()
            .await
            .map_err(|e| format!("cannot run wrk (apt-get install wrk): {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .ok_or_else(|| format!("wrk printed no result: {text}"))?;
        let f: Vec<f64> = line
            .split_whitespace()
            .map(|x| x.parse().unwrap_or(0.0))
            .collect();
        println!(
            "| {name} | {} | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms | {} | {} | {} |",
            f[0],
            f[0] / f[1],
            f[7],
            f[8],
            f[9],
            f[2] + f[3] + f[4],
            f[6],
            f[5]
        );
        stack.stop().await;
    }
    println!();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// From the approving POST to the executor's claim (its `execution_started` event): the
/// API's vote, SendTaskSuccess, the emulator's state machine invoking the executor.
async fn approval_latency() -> Res<()> {
    let stack = fresh_stack().await?;
    let client = agent(&stack)?;
    let approver = Client::new(&stack.api_url, Some(stack.token("bench-approver", true)?));
    let (mut to_start, mut post) = (Vec::new(), Vec::new());
    for i in 0..APPROVALS {
        let id = held_delete(&stack, &client, &format!("approve-{i}")).await?;
        let t0 = now_ms();
        let t = Instant::now();
        let v = approver.vote(&id, Verdict::Approve, None).await?;
        post.push(t.elapsed());
        if v.status != 200 {
            return Err(format!("approve: {} {}", v.status, v.body));
        }
        let fin = client
            .wait_final(&id, Duration::from_secs(60), |_| {})
            .await?;
        let started = fin.body["events"]
            .as_array()
            .and_then(|e| e.iter().find(|e| e["kind"] == "execution_started"))
            .and_then(|e| e["at"].as_u64())
            .ok_or_else(|| format!("no execution_started: {}", fin.body))?;
        to_start.push(Duration::from_millis(started.saturating_sub(t0)));
    }
    to_start.sort();
    post.sort();
    println!("## Approval latency ({APPROVALS} approvals)\n");
    println!("| from the approve POST to | p50 | p90 | max |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| its answer | {:.1} ms | {:.1} ms | {:.1} ms |",
        ms(pct(&post, 0.5)),
        ms(pct(&post, 0.9)),
        ms(pct(&post, 1.0))
    );
    println!(
        "| the executor's claim (`execution_started`, ms clock) | {:.0} ms | {:.0} ms | {:.0} ms |\n",
        ms(pct(&to_start, 0.5)),
        ms(pct(&to_start, 0.9)),
        ms(pct(&to_start, 1.0))
    );
    stack.stop().await;
    Ok(())
}

const PREVIEWS: usize = 20;

/// A held `DeleteTable` of a new table, once its notice has gone out: its request id.
async fn held_delete(stack: &Stack, client: &Client, table: &str) -> Res<String> {
    create_table(&stack.sdk, table).await?;
    let a = client
        .submit(&json!({"action": "dynamodb:DeleteTable", "params": {"TableName": table}, "reason": "bench"}), None)
        .await?;
    let id = a.body["id"].as_str().ok_or("no id")?.to_string();
    wait_for_notice(client, &id, Duration::from_secs(60)).await?;
    Ok(id)
}

/// What the impact preview adds before the first notice of a held `DeleteTable` (three reads
/// under an assumed session): the notice waits for the reads (`took_ms`, timed by the
/// notifier) and one conditional write keeping them (`previewed`); then it is published and
/// recorded (`notified`), which the second row times for comparison.
async fn preview_latency() -> Res<()> {
    let stack = fresh_stack().await?;
    let client = agent(&stack)?;
    let (mut reads, mut added) = (Vec::new(), Vec::new());
    for i in 0..PREVIEWS {
        let id = held_delete(&stack, &client, &format!("preview-{i}")).await?;
        let st = client.status(&id, 0).await?;
        let at = |kind: &str| {
            st.body["events"]
                .as_array()
                .and_then(|e| e.iter().find(|e| e["kind"] == kind))
                .and_then(|e| e["at"].as_u64())
        };
        let (Some(notified), Some(previewed)) = (at("notified"), at("previewed")) else {
            return Err(format!("no notified or previewed event: {}", st.body));
        };
        let took = st.body["preview"]["took_ms"].as_u64().ok_or("no preview")?;
        reads.push(Duration::from_millis(took));
        added.push(Duration::from_millis(notified.saturating_sub(previewed)));
    }
    reads.sort();
    added.sort();
    println!("## Impact preview ({PREVIEWS} held DeleteTable requests)\n");
    println!("| before the notice | p50 | p90 | max |");
    println!("| --- | --- | --- | --- |");
    for (what, d) in [
        (
            "the preview's reads (assume + 3 reads), which the notice waits for",
            &reads,
        ),
        (
            "for comparison: from the preview kept to the notice published and recorded",
            &added,
        ),
    ] {
        println!(
            "| {what} | {:.0} ms | {:.0} ms | {:.0} ms |",
            ms(pct(d, 0.5)),
            ms(pct(d, 0.9)),
            ms(pct(d, 1.0))
        );
    }
    println!();
    stack.stop().await;
    Ok(())
}

/// Environment of a function process pointed at the stack's emulator: what the stack's
/// functions carry as Lambda configuration (secret ARNs, never keys), plus the runtime's own.
fn function_env(stack: &Stack, runtime: &str, name: &str) -> Vec<(String, String)> {
    let n = &stack.names;
    let mut env = tollgate_local::lambda::environment(stack.settings());
    for (k, v) in [
        ("AWS_LAMBDA_RUNTIME_API", runtime.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", format!("tollgate-{name}")),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".into()),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "bench".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "bench".into()),
        ("AWS_REGION", n.region.clone()),
        ("AWS_DEFAULT_REGION", n.region.clone()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("AWS_ENDPOINT_URL", stack.api_url.clone()),
        ("TOLLGATE_METRICS", "off".into()),
        ("TOLLGATE_AUDIT_BUCKET", n.audit_bucket.clone()),
        ("TOLLGATE_LOG", "warn".into()),
    ] {
        env.insert(k.to_string(), v);
    }
    env.into_iter().collect()
}

/// The first event each function gets: cheap, but it reaches the function's handler.
fn event(name: &str, token: &str) -> String {
    match name {
        "api" => json!({
            "version": "2.0", "routeKey": "$default", "rawPath": "/v1/requests", "rawQueryString": "",
            "headers": {"host": "bench", "content-type": "application/json", "authorization": format!("Bearer {token}")},
            "requestContext": {"accountId": "123456789012", "apiId": "bench", "domainName": "bench",
                "domainPrefix": "bench", "http": {"method": "POST", "path": "/v1/requests",
                "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "bench"},
                "requestId": "bench", "routeKey": "$default", "stage": "$default",
                "time": "24/Nov/2026:16:00:00 +0000", "timeEpoch": 0},
            "body": json!({"action": "cloudtrail:DeleteTrail", "params": {"Name": "org-trail"}, "reason": "bench"}).to_string(),
            "isBase64Encoded": false
        }),
        "notifier" => json!({"kind": "expire", "request_id": "01BENCHNOSUCHREQUEST"}),
        "executor" => json!({"request_id": "01BENCHNOSUCHREQUEST"}),
        _ => json!({"Records": []}),
    }
    .to_string()
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Starts the function's release binary under the Runtime API emulator, hands it `count`
/// events, and returns the time from spawn to the first answer, the answers, and the peak
/// RSS in kB.
async fn invoke_process(
    bin: &Path,
    stack: &Stack,
    name: &str,
    token: &str,
    count: usize,
) -> Res<(Duration, Vec<runtime_api::Answered>, u64)> {
    let rt = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    for _ in 0..count {
        rt.push(event(name, token));
    }
    let t = Instant::now();
    let mut child = tokio::process::Command::new(bin)
        .envs(function_env(stack, &rt.addr, name))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let pid = child.id().unwrap_or(0);
    let mut answers = Vec::new();
    let mut first = Duration::ZERO;
    for i in 0..count {
        let a = tokio::time::timeout(Duration::from_secs(30), rt.answer())
            .await
            .map_err(|_| format!("{name}: no answer within 30 s"))?
            .ok_or("runtime API closed")?;
        if i == 0 {
            first = a.at - t;
        }
        answers.push(a);
    }
    let hwm = vm_hwm_kb(pid).unwrap_or(0);
    let _ = child.kill().await;
    Ok((first, answers, hwm))
}

fn size_of(root: &Path, name: &str) -> String {
    let lambda = root.join("target/lambda").join(format!("tollgate-{name}"));
    let mb = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.len() as f64 / 1_048_576.0)
            .ok()
    };
    if let (Some(b), z) = (
        mb(&lambda.join("bootstrap")),
        mb(&lambda.join("bootstrap.zip")),
    ) {
        let z = z.map_or(String::new(), |z| format!(", zip {z:.2} MB"));
        return format!("{b:.2} MB (arm64 Lambda bootstrap{z})");
    }
    match mb(&root.join("target/release").join(format!("tollgate-{name}"))) {
        Some(b) => format!("{b:.2} MB (host x86_64 release; no `make build` output found)"),
        None => "not built".into(),
    }
}

/// Cold start, answers under load, peak RSS and binary size of each function.
async fn functions(root: &Path) -> Res<()> {
    let stack = fresh_stack().await?;
    let token = stack.token("bench-bot", false)?;
    println!("## Functions: cold start, memory, size\n");
    println!(
        "Cold start: from spawning the release binary to its first answer through a Lambda \
         Runtime API emulator (`crates/bench/src/runtime_api.rs`), median of {COLD_RUNS} \
         fresh processes, AWS calls answered by the local stack. The first event reaches the \
         handler: the API gets a signed agent token and a request the policy denies (JWKS \
         fetch, policy decision, record written); the notifier and executor look up an \
         unknown request (a DynamoDB read; their answer is the not-found error); the audit \
         export gets an empty stream batch. Peak RSS: `VmHWM` after {LOAD_INVOCATIONS} \
         invocations in one process.\n"
    );
    println!("| function | cold start p50 | min | max | peak RSS | binary | answers |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for name in FUNCTIONS {
        let bin = root.join("target/release").join(format!("tollgate-{name}"));
        let mut cold = Vec::new();
        let mut sample = String::new();
        for _ in 0..COLD_RUNS {
            let (first, answers, _) = invoke_process(&bin, &stack, name, &token, 1).await?;
            cold.push(first);
            sample = answers
                .first()
                .map(|a| {
                    let b: String = a.body.chars().take(60).collect();
                    format!("{}{}", if a.error { "error: " } else { "" }, b)
                })
                .unwrap_or_default();
        }
        cold.sort();
        let (_, answers, hwm) =
            invoke_process(&bin, &stack, name, &token, LOAD_INVOCATIONS).await?;
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} MB | {} | {} answered; e.g. `{}` |",
            ms(pct(&cold, 0.5)),
            ms(pct(&cold, 0.0)),
            ms(pct(&cold, 1.0)),
            hwm as f64 / 1024.0,
            size_of(root, name),
            answers.len(),
            sample.replace('|', "\\|").replace('`', "'")
        );
    }
    println!();
    stack.stop().await;
    Ok(())
}
