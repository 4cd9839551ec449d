//! `make bench`: measures Tollgate end to end against a fresh local stack and prints the
//! results as Markdown (crates/bench/run.sh puts them in crates/bench/RESULTS.md). Every figure is measured
//! here, on this machine; nothing is estimated.

mod costs;
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
    cpu_in("/proc/self/stat")
}

/// User + system CPU time of a process, from its `/proc/<pid>/stat`.
fn cpu_in(stat_path: &str) -> Duration {
    let stat = std::fs::read_to_string(stat_path).unwrap_or_default();
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
    if want("costs") {
        cost_figures(root).await?;
    }
    if want("path") {
        decision_path().await?;
    }
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
    if want("replay") {
        replay().await?;
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

/// Starts a function binary with `env`, its output dropped; killed when dropped.
fn spawn_function(bin: &Path, env: Vec<(String, String)>) -> Res<(tokio::process::Child, u32)> {
    let child = tokio::process::Command::new(bin)
        .envs(env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let pid = child.id().unwrap_or(0);
    Ok((child, pid))
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
    let (mut child, pid) = spawn_function(bin, function_env(stack, &rt.addr, name))?;
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

/// The arm64 bootstrap `make build` (cargo-lambda) leaves in target/lambda, when it is not
/// older than the x86_64 release binary measured here; and that binary's size beside it.
/// Both are stripped (the release profile's `strip = true`).
fn size_of(root: &Path, name: &str) -> String {
    let lambda = root.join("target/lambda").join(format!("tollgate-{name}"));
    let host = root.join("target/release").join(format!("tollgate-{name}"));
    let meta = |p: &Path| std::fs::metadata(p).ok();
    let mb = |m: &std::fs::Metadata| m.len() as f64 / 1_048_576.0;
    let x86 = meta(&host).map(|m| format!("x86_64 release {:.2} MB", mb(&m)));
    let arm = meta(&lambda.join("bootstrap")).and_then(|b| {
        let (built, host_built) = (
            b.modified().ok()?,
            meta(&host).and_then(|m| m.modified().ok()),
        );
        if host_built.is_some_and(|h| built < h) {
            return Some(format!(
                "arm64 bootstrap stale (older than the x86_64 build), {:.2} MB",
                mb(&b)
            ));
        }
        let zip = meta(&lambda.join("bootstrap.zip"))
            .map_or(String::new(), |z| format!(", zip {:.2} MB", mb(&z)));
        Some(format!("**arm64 {:.2} MB**{zip}", mb(&b)))
    });
    match (arm, x86) {
        (Some(a), Some(x)) => format!("{a}; {x}"),
        (None, Some(x)) => format!("{x} (no arm64 `make build` output: not the deployed size)"),
        (Some(a), None) => a,
        (None, None) => "not built".into(),
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

/// Requests per binary and kind for the CPU figures; the first of each is a warm-up.
const CPU_EVENTS: usize = 150;

/// An API Gateway (HTTP API, payload 2.0) event carrying `body` to `POST /v1/requests`.
fn api_event(token: &str, body: &Value) -> String {
    let mut e: Value = serde_json::from_str(&event("api", token)).unwrap_or(Value::Null);
    e["body"] = json!(body.to_string());
    e.to_string()
}

/// Runs `bin` as a function process under the Runtime API emulator, hands it `events` (the
/// first a warm-up) and returns its CPU time per event after the first, and the answers.
async fn cpu_per_event(
    bin: &Path,
    env: Vec<(String, String)>,
    rt: RuntimeApi,
    events: &[String],
) -> Res<(Duration, Vec<runtime_api::Answered>)> {
    for e in events {
        rt.push(e.clone());
    }
    let (mut child, pid) = spawn_function(bin, env)?;
    let mut answers = Vec::new();
    let mut c0 = Duration::ZERO;
    for i in 0..events.len() {
        let a = tokio::time::timeout(Duration::from_secs(60), rt.answer())
            .await
            .map_err(|_| format!("{}: no answer within 60 s", bin.display()))?
            .ok_or("runtime API closed")?;
        if i == 0 {
            c0 = cpu_in(&format!("/proc/{pid}/stat"));
        }
        answers.push(a);
    }
    let c1 = cpu_in(&format!("/proc/{pid}/stat"));
    let _ = child.kill().await;
    Ok((
        (c1 - c0) / (events.len().saturating_sub(1).max(1)) as u32,
        answers,
    ))
}

/// CPU of one build's api and executor: the api on allowed reads (its executor invocation
/// answered in this process) and on denials; the executor on the invocations an api of the
/// same build sent for allowed reads it could not hand to an executor (the function name
/// pointed nowhere, so the records stay APPROVED for the executor process to run).
async fn cpu_of_build(dir: &Path, stack: &Stack, token: &str) -> Res<[Duration; 3]> {
    let read = json!({"action": "dynamodb:DescribeTable", "params": {"TableName": "bench"}});
    let denied = json!({"action": "cloudtrail:DeleteTrail", "params": {"Name": "org-trail"}, "reason": "bench"});
    let api = dir.join("tollgate-api");
    let executor = dir.join("tollgate-executor");
    let mut out = [Duration::ZERO; 3];
    for (i, body) in [&read, &denied].into_iter().enumerate() {
        let rt = RuntimeApi::start().await.map_err(|e| e.to_string())?;
        let env = function_env(stack, &rt.addr, "api");
        let events = vec![api_event(token, body); CPU_EVENTS];
        let (cpu, answers) = cpu_per_event(&api, env, rt, &events).await?;
        let want = if i == 0 {
            "\"statusCode\":200"
        } else {
            "\"statusCode\":403"
        };
        if let Some(bad) = answers.iter().find(|a| !a.body.contains(want)) {
            return Err(format!("{}: unexpected answer {}", api.display(), bad.body));
        }
        out[i] = cpu;
    }
    let nowhere = "tollgate-bench-nowhere";
    let rt = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let mut env = function_env(stack, &rt.addr, "api");
    env.push(("TOLLGATE_EXECUTOR_FUNCTION".into(), nowhere.into()));
    stack.start_trace();
    let events = vec![api_event(token, &read); CPU_EVENTS];
    cpu_per_event(&api, env, rt, &events).await?;
    let payloads: Vec<String> = stack
        .take_trace()
        .into_iter()
        .filter(|t| t.operation == format!("Lambda.Invoke {nowhere}"))
        .filter_map(|t| t.request.map(|b| String::from_utf8_lossy(&b).into_owned()))
        .collect();
    if payloads.len() != CPU_EVENTS {
        return Err(format!(
            "expected {CPU_EVENTS} executor payloads, got {}",
            payloads.len()
        ));
    }
    let rt = RuntimeApi::start().await.map_err(|e| e.to_string())?;
    let env = function_env(stack, &rt.addr, "executor");
    let (cpu, answers) = cpu_per_event(&executor, env, rt, &payloads).await?;
    if let Some(bad) = answers
        .iter()
        .find(|a| a.error || !a.body.contains("SUCCEEDED"))
    {
        return Err(format!("executor: unexpected answer {}", bad.body));
    }
    out[2] = cpu;
    Ok(out)
}

/// One request of each kind, traced through the local host: what it asks of AWS, what that
/// costs at on-demand prices, and how long it would take on AWS by a stated model; with the
/// CPU of the release api and executor processes (and of an earlier build's, when
/// `TOLLGATE_BENCH_BEFORE` names a directory holding its `tollgate-api` and
/// `tollgate-executor`, measured in the same run).
async fn cost_figures(root: &Path) -> Res<()> {
    use costs::{Kind, price};
    let stack = fresh_stack().await?;
    create_table(&stack.sdk, "bench").await?;
    let token = stack.token("bench-bot", false)?;
    let client = agent(&stack)?;
    let approver = Client::new(&stack.api_url, Some(stack.token("bench-approver", true)?));
    let front = front_door_client(&stack, &client).await?;
    let read = json!({"action": "dynamodb:DescribeTable", "params": {"TableName": "bench"}});
    let denied = json!({"action": "cloudtrail:DeleteTrail", "params": {"Name": "org-trail"}, "reason": "bench"});
    let describe = "DynamoDB_20120810.DescribeTable";
    // Warm: token keys fetched, models parsed, connections open.
    client.submit(&read, None).await?;
    client.submit(&denied, None).await?;
    stack.start_trace();
    let a = client.submit(&read, None).await?;
    if a.request_status() != Some("SUCCEEDED") {
        return Err(format!("allowed read: {} {}", a.status, a.body));
    }
    let allowed = stack.take_trace();
    front
        .describe_table()
        .table_name("bench")
        .send()
        .await
        .map_err(|e| format!("front door: {e:?}"))?;
    let door = stack.take_trace();
    let d = client.submit(&denied, None).await?;
    if d.status != 403 {
        return Err(format!("denied: {} {}", d.status, d.body));
    }
    let deny = stack.take_trace();
    // A held DeleteTable carried to its closing notice; waits read the emulator directly
    // and the local outbox, so the trace holds only what Tollgate asked.
    create_table(&stack.sdk, "held").await?;
    let h = client
        .submit(
            &json!({"action": "dynamodb:DeleteTable", "params": {"TableName": "held"}, "reason": "bench"}),
            None,
        )
        .await?;
    let answered = Instant::now();
    let id = h.body["id"].as_str().ok_or("no id")?.to_string();
    let traced = stack.take_trace();
    // The workflow may have begun before the trace was taken: the submission is what came
    // before its answer.
    let submitted: Vec<_> = traced
        .iter()
        .filter(|t| t.started < answered)
        .cloned()
        .collect();
    let direct = tollgate_aws::store::Store::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.names.table.clone(),
    );
    use tollgate_aws::ports::RequestReader;
    let until =
        |what: &'static str,
         done: Box<dyn Fn(&tollgate_core::RequestRecord) -> bool + Send + Sync>| {
            let (direct, id) = (&direct, &id);
            async move {
                for _ in 0..600 {
                    if let Some(r) = direct.get(id).await.map_err(|e| e.message)?
                        && done(&r)
                    {
                        return Ok(());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err::<(), String>(format!("held request: no {what} within 30 s"))
            }
        };
    until("task token", Box::new(|r| r.task_token.is_some())).await?;
    let v = approver.vote(&id, Verdict::Approve, None).await?;
    if v.status != 200 {
        return Err(format!("approve: {} {}", v.status, v.body));
    }
    until("final status", Box::new(|r| r.status.is_final())).await?;
    stack.wait_workflow_ended(&id).await?;
    let lifecycle = [traced, stack.take_trace()].concat();
    stack.take_trace();

    // CPU of the release processes.
    // Release binaries only: a debug build's CPU says nothing about a deployed function's.
    let release = root.join("target/release");
    let now = if release.join("tollgate-api").exists() && release.join("tollgate-executor").exists()
    {
        Some(cpu_of_build(&release, &stack, &token).await?)
    } else {
        None
    };
    let before = match std::env::var("TOLLGATE_BENCH_BEFORE") {
        Ok(dir) if !dir.is_empty() => Some((
            dir.clone(),
            cpu_of_build(Path::new(&dir), &stack, &token).await?,
        )),
        _ => None,
    };
    let measured = now.is_some();
    let now = now.unwrap_or_default();
    let ms_of = |d: Duration| d.as_secs_f64() * 1000.0;
    let (cpu_api_read, cpu_api_deny, cpu_exec) = (ms_of(now[0]), ms_of(now[1]), ms_of(now[2]));

    println!("## What a request costs on AWS\n");
    println!(
        "One request of each kind, after a warm-up, every call it made traced in the local \
         host (`Stack::start_trace`): the round trips to AWS besides the call itself, by \
         service, and how many of them one after another before the answer (calls in flight \
         together count once; each synchronous Lambda invocation counts one). DynamoDB units \
         are computed from the item sizes in the traced bodies by DynamoDB's sizing rules \
         (transactional writes 2 units per KB, consistent reads 1 per 4 KB, each write of a \
         request item also writes the two indexes), not from `ReturnConsumedCapacity`. The \
         emulator answers every call; the counts do not depend on it.\n"
    );
    println!(
        "| kind | AWS round trips besides the call, by service | sequential before the answer | DynamoDB read / write / index write units | Lambda invocations (besides the api) |"
    );
    println!("| --- | --- | --- | --- | --- |");
    let kinds: [(&str, &[tollgate_local::server::Traced], Option<&str>); 5] = [
        (
            "allowed read (`POST /v1/requests`, DescribeTable)",
            &allowed,
            Some(describe),
        ),
        (
            "front-door read (AWS SDK, DescribeTable)",
            &door,
            Some(describe),
        ),
        ("denied (`cloudtrail:DeleteTrail`)", &deny, None),
        ("held write, submission (answer 202)", &submitted, None),
        (
            "held write, whole life (submit, notice, one approval, run, closing notice)",
            &lifecycle,
            Some("DynamoDB_20120810.DeleteTable"),
        ),
    ];
    let mut analysed = Vec::new();
    for (name, trace, call) in kinds {
        let k = Kind::new(trace, call);
        let u = costs::dynamodb_units(&k.trips);
        let inv: Vec<String> = k
            .invocations()
            .iter()
            .map(|(f, n)| format!("{f} {n}"))
            .collect();
        println!(
            "| {name} | {} | {} | {:.0} / {:.0} / {:.0} | {} |",
            k.by_service(),
            k.sequential(),
            u.read,
            u.write,
            u.index_write,
            if inv.is_empty() {
                "none".into()
            } else {
                inv.join(", ")
            }
        );
        analysed.push((name, k, u));
    }
    println!();
    for (name, k, _) in &analysed {
        if !name.contains("whole life") {
            println!("- {name}, in order: {}", k.sequence());
        }
    }
    println!();
    // Where the write units come from: each item written, its size and units (the indexes'
    // copies of the request item come on top).
    for (name, k, _) in analysed.iter().take(2) {
        println!(
            "- {name}, items written (kind, size, units): {}",
            costs::write_breakdown(&k.trips).join("; ")
        );
    }
    println!();

    println!(
        "Tollgate's own CPU, release processes (the api and executor binaries run as Lambda would run them, under the Runtime API emulator; user + system time of the function's own process, so the local host's proxying and the emulator are not in it; {} requests after one warm-up, 10 ms clock ticks; 2 cores shared with whatever else runs, load average {} after the runs):\n",
        CPU_EVENTS - 1,
        load_average()
    );
    println!(
        "| build | api, allowed read | api, denied | executor, allowed read | api + executor, allowed read |"
    );
    println!("| --- | --- | --- | --- | --- |");
    let row = |label: &str, c: &[Duration; 3]| {
        println!(
            "| {label} | {:.2} ms | {:.2} ms | {:.2} ms | **{:.2} ms** |",
            ms_of(c[0]),
            ms_of(c[1]),
            ms_of(c[2]),
            ms_of(c[0] + c[2])
        );
    };
    if let Some((dir, b)) = &before {
        row(&format!("before (`{dir}`)"), b);
    }
    if measured {
        row("this commit", &now);
    } else {
        println!(
            "| this commit | not measured: no release `tollgate-api` and `tollgate-executor` in target/release | | | |"
        );
    }
    println!();

    println!(
        "Price per million requests of each kind at public on-demand prices, us-east-1 ({}): API Gateway HTTP API ${}/M requests; Lambda arm64 ${}/M requests + ${}/GB-s at {} GB (the template's 256 MB), billed duration modelled below; DynamoDB on-demand ${}/M write units, ${}/M read units; Step Functions Standard ${}/M transitions; SNS ${}/M publishes (deliveries extra). STS is free; CloudWatch Logs and metrics are not counted.\n",
        costs::PRICES_AS_OF,
        costs::API_GATEWAY_PER_M,
        costs::LAMBDA_REQUESTS_PER_M,
        costs::LAMBDA_ARM_GB_SECOND,
        costs::LAMBDA_GB,
        costs::DYNAMODB_WRU_PER_M,
        costs::DYNAMODB_RRU_PER_M,
        costs::SFN_TRANSITION_PER_M,
        costs::SNS_PUBLISH_PER_M
    );
    println!(
        "Modelled latency on AWS: API Gateway, then each wave of calls as long as its slowest, each invocation's overhead, the call itself as one DynamoDB read, plus the CPU measured above (typical latencies: {}).\n",
        costs::LATENCY_SOURCES
    );
    println!(
        "| kind | modelled latency | of which Tollgate CPU | Lambda billed (modelled) | API Gateway | Lambda | DynamoDB | Step Functions | SNS | **total per million** |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut read_billed_ms = 0.0;
    for (name, k, u) in &analysed {
        let held = name.contains("whole life");
        if name.contains("submission") {
            continue;
        }
        let (outer, inner) = k.split_by_function();
        let denial = name.starts_with("denied");
        let cpu = if denial {
            cpu_api_deny
        } else {
            cpu_api_read + cpu_exec
        };
        let aws_ms = k.modelled_ms();
        let latency = costs::API_GATEWAY_MS + aws_ms + cpu;
        // The api is billed while it waits for the executor; the executor for its own part.
        let (invocations, billed) = if held {
            // Two api invocations (submit, vote), the notifier twice, the executor once.
            let n = 2 + k.invocations().values().sum::<usize>();
            (n as f64, outer.modelled_ms() + inner.modelled_ms() + cpu)
        } else if denial {
            (1.0, aws_ms + cpu)
        } else {
            (2.0, aws_ms + cpu + inner.modelled_ms() + cpu_exec)
        };
        if name.starts_with("allowed read") {
            read_billed_ms = billed;
        }
        let http = if held { 2.0 } else { 1.0 };
        let transitions = if held { 4.0 } else { 0.0 };
        let publishes = k.count("SNS", "Publish") as f64;
        let p = price(http, invocations, billed, *u, transitions, publishes);
        println!(
            "| {name} | {} | {:.2} ms | {:.0} ms in {} invocations | ${:.2} | ${:.2} | ${:.2} | ${:.2} | ${:.2} | **${:.2}** |",
            if held {
                "a person's".to_string()
            } else {
                format!("{latency:.0} ms")
            },
            cpu,
            billed,
            invocations,
            p.api_gateway,
            p.lambda,
            p.dynamodb,
            p.step_functions,
            p.sns,
            p.total()
        );
    }
    println!(
        "\nThe held write's latency is a person's; its Step Functions line counts the 4 states the happy path enters (RequestApproval, Execute, AnnounceOutcome, Done; each reminder adds one); the agent's status reads while it waits are not counted (each is one API request, a GetItem and a Query). The notifier's CPU is not measured (its billed time above is its AWS calls only).\n"
    );
    let of = |prefix: &str| analysed.iter().find(|(n, _, _)| n.starts_with(prefix));
    if let (Some((_, read, read_units)), Some((_, held, _))) =
        (of("allowed read"), of("held write, whole life"))
    {
        capacity(read, read_units, read_billed_ms, held);
    }
    stack.stop().await;
    Ok(())
}

/// Capacity on paper: for 10×, 100× and 1,000× a busy team's load, how much of each AWS
/// default quota the measured use of one call takes, and which is reached first.
fn capacity(read: &costs::Kind, units: &costs::Units, read_billed_ms: f64, held: &costs::Kind) {
    use costs::{BUSY_TEAM_PER_S, HELD_SHARE, Limit};
    let reads = 1.0 - HELD_SHARE;
    let limits = [
        Limit {
            what: "API Gateway: the template's own stage throttle, 50 requests/s (burst 100)"
                .into(),
            per_call: 1.0,
            limit: 50.0,
            share: 1.0,
            deployment: "`HttpApiStage` `ThrottlingRateLimit: 50`, `ThrottlingBurstLimit: 100` in infra/template.yaml (a fixed value, not a parameter): callers get 429 above it; the front door's Function URL is not behind it",
        },
        Limit {
            what:
                "API Gateway: 10,000 requests/s per account (burst 5,000), all HTTP and REST APIs"
                    .into(),
            per_call: 1.0,
            limit: 10_000.0,
            share: 1.0,
            deployment: "nothing beyond the stage throttle; a quota increase through Service Quotas",
        },
        Limit {
            what: format!(
                "Lambda: 1,000 concurrent executions (api and executor together, {read_billed_ms:.0} ms of both per allowed read, modelled above)"
            ),
            per_call: read_billed_ms / 1000.0,
            limit: 1000.0,
            share: reads,
            deployment: "`ApiThrottlesAlarm`, `ExecutorThrottlesAlarm`, `NotifierThrottlesAlarm` (docs/operations.md); `ExecutorReservedConcurrency` caps the executor (default 0: none; docs/deploy.md says to check the account's quota first); a new function also scales by at most 1,000 every 10 s",
        },
        Limit {
            what: format!(
                "STS: AssumeRole, 600 requests/s per account (the STS request quota; the least certain figure here), {} per allowed read, {} per held write (preview and run)",
                read.count("STS", "AssumeRole"),
                held.count("STS", "AssumeRole")
            ),
            per_call: reads * read.count("STS", "AssumeRole") as f64
                + HELD_SHARE * held.count("STS", "AssumeRole") as f64,
            limit: 600.0,
            share: 1.0,
            deployment: "one scoped session per executed call, none reused (issue 20's \"reuse a scoped session\" is not built); nothing in the template; SDK retries on `Throttling`, then the call fails",
        },
        Limit {
            what: format!(
                "DynamoDB on-demand: 40,000 write units/s per table (the table's own writes, {:.0} per allowed read)",
                units.write
            ),
            per_call: units.write,
            limit: 40_000.0,
            share: reads,
            deployment: "`BillingMode: PAY_PER_REQUEST`, no maximum set; `TableThrottlesAlarm`; on-demand also throttles a sudden rise above twice the table's previous peak",
        },
        Limit {
            what: format!(
                "DynamoDB: 1,000 write units/s per partition, the `by-agent` index: one agent's calls all share its key ({:.0} units per allowed read; as if one agent made every call)",
                units.by_agent
            ),
            per_call: units.by_agent,
            limit: 1000.0,
            share: reads,
            deployment: "nothing: one agent's key is one index partition; `TableThrottlesAlarm` (index throttling throttles the table's writes)",
        },
        Limit {
            what: format!(
                "DynamoDB: 1,000 write units/s per partition, the `by-status-shard` index: 8 keys per status ({:.0} units per allowed read, counted as if on one status: an upper bound)",
                units.by_status
            ),
            per_call: units.by_status / 8.0,
            limit: 1000.0,
            share: reads,
            deployment: "`status_shard` spreads each status over 8 keys (crates/aws/src/store/keys.rs); `TableThrottlesAlarm`",
        },
        Limit {
            what: format!(
                "Step Functions Standard: StartExecution, 300/s sustained (bucket 1,300), {:.0}% of the calls held writes",
                HELD_SHARE * 100.0
            ),
            per_call: held.count("Step Functions", "StartExecution") as f64,
            limit: 300.0,
            share: HELD_SHARE,
            deployment: "nothing: a throttled start fails the held request's submission (the record is kept, the agent gets the error); a quota increase through Service Quotas",
        },
        Limit {
            what: "Step Functions Standard: 5,000 state transitions/s (4 per held write)".into(),
            per_call: 4.0,
            limit: 5000.0,
            share: HELD_SHARE,
            deployment: "nothing; a quota increase through Service Quotas",
        },
    ];
    let loads = [10.0, 100.0, 1000.0].map(|m| m * BUSY_TEAM_PER_S);
    println!("### Capacity on paper\n");
    println!(
        "Each AWS default quota against the use of one call measured above (allowed reads through `POST /v1/requests`, {:.0}% of the calls; held writes whole life, {:.0}%), at 10×, 100× and 1,000× a busy team's {BUSY_TEAM_PER_S:.0} calls/s. Quotas: {}. A cell is the share of the quota the load uses; **bold** where it is reached.\n",
        reads * 100.0,
        HELD_SHARE * 100.0,
        costs::QUOTAS_AS_OF
    );
    println!(
        "| limit | calls/s at the limit | {} calls/s (10×) | {} calls/s (100×) | {} calls/s (1,000×) | what the deployment does |",
        loads[0], loads[1], loads[2]
    );
    println!("| --- | --- | --- | --- | --- | --- |");
    for l in &limits {
        let cells: Vec<String> = loads
            .iter()
            .map(|&n| {
                let u = l.used(n) * 100.0;
                if u >= 100.0 {
                    format!("**{u:.0}%**")
                } else {
                    format!("{u:.0}%")
                }
            })
            .collect();
        println!(
            "| {} | {:.0} | {} | {} |",
            l.what,
            l.reached_at(),
            cells.join(" | "),
            l.deployment
        );
    }
    let mut order: Vec<&Limit> = limits.iter().collect();
    order.sort_by(|a, b| a.reached_at().total_cmp(&b.reached_at()));
    let first = |skip_stage: bool| {
        order
            .iter()
            .find(|l| !(skip_stage && l.limit == 50.0 && l.what.starts_with("API Gateway")))
            .map(|l| format!("{} at {:.0} calls/s", l.what, l.reached_at()))
            .unwrap_or_default()
    };
    println!(
        "\nReached first: {}; past the template's stage throttle (raised, or the front door's Function URL): {}.\n",
        first(false),
        first(true)
    );
}

/// The executor, out of the in-process path: answers every invocation with nothing, so the
/// API reads the record back from the store as it does when an invocation fails.
struct NoExecutor;

#[async_trait::async_trait]
impl tollgate_aws::ports::Invoker for NoExecutor {
    async fn invoke(&self, _: &str, _: &Value) -> Result<Value, tollgate_core::ApiError> {
        Ok(json!({}))
    }
}

/// The decision path casts no votes, so nothing is published; a notice would be dropped.
struct NoNotices;

#[async_trait::async_trait]
impl tollgate_aws::ports::Publisher for NoNotices {
    async fn publish(&self, _: &str, _: &Value) -> Result<String, tollgate_core::ApiError> {
        Ok(String::new())
    }
}

const PATH_SECONDS: u64 = 5;
const PATH_TASKS: usize = 8;

/// The API's decision path in this process on the in-memory store: token verification,
/// parsing, classification and policy (the bundled set), model validation, the record and
/// its audit events written; for an allowed call the executor invocation answered at once
/// and the record read back. Nothing leaves the process: the API's own ceiling.
async fn decision_path() -> Res<()> {
    let stack = fresh_stack().await?;
    let settings = stack.settings().clone();
    let policy = tollgate_api::load_policy(&settings, &stack.sdk)
        .await
        .map_err(|e| format!("policy: {e}"))?;
    let ring = |b: u8| {
        tollgate_core::keyring::KeyRing::new(vec![b; 32], None).map_err(|e| format!("{e:?}"))
    };
    let keys = tollgate_api::ApiKeys {
        link: ring(1)?,
        session: ring(2)?,
        csrf: ring(3)?,
        results: ring(4)?,
        gateway: ring(5)?,
        slack: None,
        sign_in_secret: None,
    };
    let ports = tollgate_api::Ports {
        store: std::sync::Arc::new(tollgate_aws::store::memory::MemoryStore::new()),
        workflow: std::sync::Arc::new(tollgate_aws::workflow::StepFunctions::new(
            aws_sdk_sfn::Client::new(&stack.sdk),
            settings.state_machine_arn.clone(),
        )),
        executor: std::sync::Arc::new(NoExecutor),
        notices: std::sync::Arc::new(NoNotices),
        alarms: None,
        payloads: None,
    };
    let api = std::sync::Arc::new(tollgate_api::Api::assemble(settings, ports, keys, policy));
    let token = stack.token("bench-bot", false)?;
    println!(
        "## Decision path in process (in-memory store, {PATH_TASKS} concurrent callers, {PATH_SECONDS} s each, the bench's 2 worker threads on 2 shared cores)\n"
    );
    println!(
        "The API's handler called directly with a signed token (ES256, keys cached after the first request): no HTTP, no emulator, the executor left out (an allowed call's invocation answers at once and the record is read back from the store).\n"
    );
    println!("Load average at the start: {}.\n", load_average());
    println!(
        "Wall-clock requests/s depends on what else the shared cores run; the process's own CPU per request does much less, so the ceiling on 2 dedicated cores is given from it too (2 s of CPU per second over the CPU per request).\n"
    );
    println!(
        "| decision | requests | requests/s (wall clock) | process CPU per request | on 2 dedicated cores (from CPU) | p50 | p99 |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for (name, body, want) in [
        (
            "denied (`cloudtrail:DeleteTrail`, 403)",
            json!({"action": "cloudtrail:DeleteTrail", "params": {"Name": "org-trail"}, "reason": "bench"}),
            403,
        ),
        (
            "allowed (`dynamodb:DescribeTable`, 200)",
            json!({"action": "dynamodb:DescribeTable", "params": {"TableName": "bench"}}),
            200,
        ),
    ] {
        let request = {
            let (token, body) = (token.clone(), body.to_string());
            move || {
                http::Request::post("/v1/requests")
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/json")
                    .body(body.clone().into_bytes())
                    .unwrap_or_default()
            }
        };
        // Warm: the JWKS fetched and the models parsed once.
        let first = api.handle(request(), "127.0.0.1").await;
        if first.status != want {
            return Err(format!("{name}: answered {} {}", first.status, first.body));
        }
        let until = Instant::now() + Duration::from_secs(PATH_SECONDS);
        let started = Instant::now();
        let cpu0 = cpu_time();
        let tasks: Vec<_> = (0..PATH_TASKS)
            .map(|_| {
                let (api, request) = (api.clone(), request.clone());
                tokio::spawn(async move {
                    let mut took = Vec::new();
                    while Instant::now() < until {
                        let t = Instant::now();
                        let r = api.handle(request(), "127.0.0.1").await;
                        took.push(t.elapsed());
                        if r.status != want {
                            return Err(format!("answered {} {}", r.status, r.body));
                        }
                    }
                    Ok(took)
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.map_err(|e| e.to_string())??);
        }
        let wall = started.elapsed();
        let cpu = (cpu_time() - cpu0).as_secs_f64() / all.len().max(1) as f64;
        all.sort();
        println!(
            "| {name} | {} | {:.0} | {:.0} µs | **{:.0}/s** | {:.0} µs | {:.0} µs |",
            all.len(),
            all.len() as f64 / wall.as_secs_f64(),
            cpu * 1e6,
            2.0 / cpu,
            pct(&all, 0.5).as_secs_f64() * 1e6,
            pct(&all, 0.99).as_secs_f64() * 1e6
        );
    }
    println!("\nLoad average at the end: {}.\n", load_average());
    stack.stop().await;
    Ok(())
}

/// Recorded requests the replay section writes and replays.
const REPLAY_RECORDS: usize = 10_000;

/// The calls the replay section's agents make, with the bundled policies' spread of
/// outcomes: reads allowed, writes held, a forbidden call denied.
fn replay_calls() -> Vec<Value> {
    vec![
        json!({"action": "dynamodb:DescribeTable", "params": {"TableName": "orders"}}),
        json!({"action": "dynamodb:UpdateTable", "params": {"TableName": "orders", "BillingMode": "PAY_PER_REQUEST"}, "reason": "bench"}),
        json!({"action": "dynamodb:DeleteTable", "params": {"TableName": "old-orders"}, "reason": "bench"}),
        json!({"action": "s3:GetObject", "params": {"Bucket": "reports", "Key": "2026/11/summary.csv"}}),
        json!({"action": "s3:PutObject", "params": {"Bucket": "reports", "Key": "2026/11/new.csv"}, "reason": "bench"}),
        json!({"action": "s3:DeleteObject", "params": {"Bucket": "logs", "Key": "old/1.gz"}, "reason": "bench"}),
        json!({"action": "ec2:DescribeInstances", "params": {}}),
        json!({"action": "iam:AttachRolePolicy", "params": {"RoleName": "app", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}, "reason": "bench"}),
        json!({"action": "cloudtrail:DeleteTrail", "params": {"Name": "org-trail"}, "reason": "bench"}),
        json!({"action": "lambda:ListFunctions", "params": {}}),
    ]
}

/// `tollgate policy replay` over [`REPLAY_RECORDS`] recorded requests: written into the local
/// stack's table as the API records them (classified by the bundled policies, with their
/// decision context), then read back from the status index and decided again by a candidate
/// set with one rule added. Reading and deciding are timed apart.
async fn replay() -> Res<()> {
    use futures::StreamExt;
    let stack = fresh_stack().await?;
    let account = stack.names.account.clone();
    let enforced = tollgate_policy::CedarPolicy::deployed(
        tollgate_policy::bundled_sources(),
        3600,
        Default::default(),
    )?;
    let calls: Vec<tollgate_core::NewRequest> = replay_calls()
        .iter()
        .map(|b| tollgate_core::parse_new_request(b.to_string().as_bytes(), "us-east-1"))
        .collect::<Result<_, _>>()
        .map_err(|e| e.message)?;
    let agents: Vec<tollgate_core::Identity> = (0..20)
        .map(|i| tollgate_core::Identity {
            issuer: "https://token.actions.githubusercontent.com".into(),
            subject: format!("repo:acme/service-{i}:ref:refs/heads/main"),
            name: format!("service-{i}"),
            ..Default::default()
        })
        .collect();
    let week_ms = 7 * 86_400_000;
    let start = now_ms() - week_ms;
    let mut counts: Vec<tollgate_core::rate::RecentCounts> = vec![Default::default(); agents.len()];
    let mut items = Vec::with_capacity(REPLAY_RECORDS);
    for i in 0..REPLAY_RECORDS {
        let (a, call) = (i % agents.len(), &calls[(i * 7 + i / 13) % calls.len()]);
        let at = start + (i as u64) * (week_ms / REPLAY_RECORDS as u64);
        let usage = tollgate_policy::usage(&call.action).ok_or("usage")?;
        counts[a] = std::mem::take(&mut counts[a]).counting(&usage);
        let c = tollgate_policy::classify_with_shadow(
            &enforced,
            None,
            call,
            &agents[a],
            &account,
            at / 1000,
            "192.0.2.10",
            &counts[a],
        )
        .map_err(|e| e.message)?;
        let (mut rec, _) = tollgate_core::RequestRecord::new(
            format!("01REPLAY{i:018}"),
            call.clone(),
            agents[a].clone(),
            c.decision,
            c.iam_actions,
            c.resources,
            at,
        );
        rec.action_resources = c.action_resources;
        rec.context = Some(c.context);
        items.push(tollgate_aws::store::Store::meta_item(&rec).map_err(|e| e.message)?);
    }
    let ddb = aws_sdk_dynamodb::Client::new(&stack.sdk);
    let table = stack.names.table.clone();
    let t = Instant::now();
    let chunks: Vec<Vec<_>> = items.chunks(25).map(|c| c.to_vec()).collect();
    let writes = futures::stream::iter(chunks.into_iter().map(|chunk| {
        let (ddb, table) = (ddb.clone(), table.clone());
        async move {
            let puts = chunk
                .into_iter()
                .map(|item| -> Res<aws_sdk_dynamodb::types::WriteRequest> {
                    let put = aws_sdk_dynamodb::types::PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .map_err(|e| e.to_string())?;
                    Ok(aws_sdk_dynamodb::types::WriteRequest::builder()
                        .put_request(put)
                        .build())
                })
                .collect::<Res<Vec<_>>>()?;
            let out = ddb
                .batch_write_item()
                .request_items(&table, puts)
                .send()
                .await
                .map_err(|e| format!("BatchWriteItem: {e}"))?;
            match out.unprocessed_items().is_some_and(|u| !u.is_empty()) {
                true => Err("BatchWriteItem left items unprocessed".to_string()),
                false => Ok(()),
            }
        }
    }))
    .buffer_unordered(8)
    .collect::<Vec<Res<()>>>()
    .await;
    writes.into_iter().collect::<Res<Vec<()>>>()?;
    let written = t.elapsed();

    let dir = std::env::temp_dir().join(format!("tollgate-bench-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for s in tollgate_policy::bundled_sources() {
        std::fs::write(dir.join(&s.name), &s.text).map_err(|e| e.to_string())?;
    }
    std::fs::write(
        dir.join("candidate.cedar"),
        "@id(\"no-object-deletes\") forbid (principal, action == Action::\"s3:DeleteObject\", resource);\n",
    )
    .map_err(|e| e.to_string())?;
    let candidate = tollgate_cli::replay::candidate(&dir, None, None, &[])?;
    let store = tollgate_aws::store::Store::new(ddb.clone(), table.clone());
    let lister: &dyn tollgate_aws::ports::RequestLister = &store;
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load_before = load();
    let (since, until) = (start, now_ms() + 1);

    // Reading alone: every record of the week through the index, decoded, nothing decided.
    let t = Instant::now();
    let mut read = 0usize;
    lister
        .created_between(since, until, &mut |r| read += usize::from(r.is_ok()))
        .await
        .map_err(|e| e.message)?;
    let reading = t.elapsed();
    // Deciding alone: the same records again, held in memory, decided one after another.
    let mut held = Vec::with_capacity(REPLAY_RECORDS);
    lister
        .created_between(since, until, &mut |r| held.extend(r.ok()))
        .await
        .map_err(|e| e.message)?;
    let t = Instant::now();
    let mut changed = 0usize;
    for rec in &held {
        let r = tollgate_policy::replay::replay(&candidate, rec).map_err(|e| e.to_string())?;
        changed += usize::from(
            tollgate_core::replay::compare(&r.old, &r.new)
                != tollgate_core::replay::Change::Unchanged,
        );
    }
    let deciding = t.elapsed();
    drop(held);
    // The command's own path: read and decide together, the report kept.
    let (report, timing) =
        tollgate_cli::replay::replay_from(lister, &candidate, since, until, 3).await?;
    let load_after = load();
    let _ = std::fs::remove_dir_all(&dir);
    if read != REPLAY_RECORDS || report.totals.replayed != REPLAY_RECORDS as u64 {
        return Err(format!(
            "replay read {read} and replayed {} of {REPLAY_RECORDS}",
            report.totals.replayed
        ));
    }
    println!("## Policy replay: {REPLAY_RECORDS} recorded requests\n");
    println!(
        "`tollgate policy replay --since 7d` over {REPLAY_RECORDS} request records of 20 agents and 10 calls (allowed, held and denied by the bundled policies, each with its decision context), written into the local stack's table (moto) in {:.1} s, then read back through the `by-status-shard` index (9 statuses × 8 shards, each a `created_at BETWEEN` query, paged together) and decided again by the bundled set plus one forbid (`s3:DeleteObject`): {changed} would change. Load average before {}, after {}.\n",
        written.as_secs_f64(),
        load_before
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
        load_after
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    );
    println!("| step | time | per request |");
    println!("| --- | --- | --- |");
    let per = |d: Duration| d.as_secs_f64() * 1e6 / REPLAY_RECORDS as f64;
    for (name, d) in [
        ("reading (index queries, documents decoded)", reading),
        ("deciding (the candidate set, records in memory)", deciding),
        (
            "the command's path (`replay_from`: read and decide together)",
            timing.total,
        ),
        ("  of which deciding", timing.deciding),
    ] {
        println!(
            "| {name} | **{:.2} s** | {:.0} µs |",
            d.as_secs_f64(),
            per(d)
        );
    }
    println!();
    stack.stop().await;
    Ok(())
}

/// The 1, 5 and 15 minute load averages, as `uptime` shows them.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}
