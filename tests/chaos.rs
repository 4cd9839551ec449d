//! The chaos campaign: requests of every kind against one local stack while faults land at
//! points a seeded RNG picks (the emulator killed and restarted, SNS refusing, the executor
//! dying before its claim, after it and after its AWS call, duplicate and late Step Functions
//! callbacks, racing votes and cancels), then a check of what must hold whatever happened:
//! no call ran twice (counted in the target table in moto, not in Tollgate's records),
//! nothing is left non-final once the sweeper has run, every audit chain verifies, and
//! `may_have_run` is set only where a fault really left the outcome unknown.
//!
//! `short_campaign` runs with `make test`; `make chaos` runs `full_campaign` (ignored
//! otherwise) with a few hundred requests. `CHAOS_SEED`, `CHAOS_REQUESTS` and `CHAOS_ROUND`
//! override the seed, the number of requests and the requests per round; the campaign prints
//! its seed first and its counts last, and the same seed replays the same plan (which request
//! gets which fault, and when; the machine's timing still varies).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_sfn::error::ProvideErrorMetadata;
use futures::future::join_all;
use tollgate_aws::ports::{RecordStore, Workflow};
use tollgate_aws::store::Store;
use tollgate_aws::workflow::StepFunctions;
use tollgate_cli::client::{Answer, Client, is_final};
use tollgate_core::record::Verdict;
use tollgate_core::{Event, EventKind, RequestRecord};
use tollgate_e2e::*;
use tollgate_local::Stack;
use tollgate_local::demo::create_table;
use tollgate_local::server::KillPoint;

/// fastrand's seeded generator: the same sequence for a seed, so a seed replays a plan.
struct Rng(fastrand::Rng);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0.u64(..n.max(1))
    }
    fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    fn ms(&mut self, max: u64) -> Duration {
        Duration::from_millis(self.below(max + 1))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// A read policy allows: runs at once.
    Read,
    /// A call policy forbids.
    Denied,
    /// A held write, approved.
    Approved,
    Rejected,
    /// Withdrawn by the agent.
    Cancelled,
    /// Nobody decides before the approval window closes.
    Expired,
    /// Two approvals, a rejection and the agent's cancel, all at once.
    Raced,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    /// The executor dies at this point; `stop` ends the workflow while the dead invocation is
    /// held (the sweeper closes the request), otherwise Step Functions retries the executor.
    Kill {
        point: KillPoint,
        stop: bool,
    },
    /// The decision's callback sent again, twice at once, after Tollgate sent it.
    Duplicate,
    /// Callbacks with the request's task tokens after it is final.
    Late,
    /// The target runs the call and its answer never reaches the executor (the connection
    /// drops after the request was sent).
    AnswerLost,
}

#[derive(Clone, Copy, Debug)]
struct Plan {
    n: usize,
    kind: Kind,
    fault: Fault,
    delay: Duration,
}

impl Plan {
    fn held(&self) -> bool {
        !matches!(self.kind, Kind::Read | Kind::Denied)
    }
}

/// What one plan saw.
#[derive(Debug, Default)]
struct Ran {
    id: Option<String>,
    key: String,
    /// Every HTTP status Tollgate answered the plan.
    answers: Vec<u16>,
    /// A status the plan did not expect at submission (an invariant).
    misanswered: Option<String>,
}

/// Counts for the report, shared by the plans of a round.
#[derive(Default)]
struct Tally {
    faults: BTreeMap<String, usize>,
    callbacks: BTreeMap<String, usize>,
    checks: BTreeMap<&'static str, usize>,
    outcomes: BTreeMap<(Kind, String), usize>,
    kinds: BTreeMap<Kind, usize>,
    swept: BTreeMap<String, usize>,
    answers: BTreeMap<u16, usize>,
    lost_with_emulator: usize,
    seed: u64,
}

impl Tally {
    fn fault(&mut self, what: impl Into<String>) {
        *self.faults.entry(what.into()).or_default() += 1;
    }
    fn check(&mut self, name: &'static str, ok: bool, what: impl FnOnce() -> String) {
        *self.checks.entry(name).or_default() += 1;
        assert!(
            ok,
            "invariant `{name}` broken (replay: make chaos SEED={}): {}",
            self.seed,
            what()
        );
    }
}

struct Config {
    seed: u64,
    requests: usize,
    round: usize,
    approval_timeout_seconds: u64,
    /// Executor kills planned per round at most.
    max_kills: usize,
}

impl Config {
    /// `seed`: the default seed (`None`: a new one each run).
    fn from_env(
        seed: Option<u64>,
        requests: usize,
        round: usize,
        approval_timeout_seconds: u64,
    ) -> Self {
        let var = |k: &str| {
            std::env::var(k)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let seed = var("CHAOS_SEED").or(seed).unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(21)
        });
        let round = var("CHAOS_ROUND").map_or(round, |v| v as usize).max(4);
        Config {
            seed,
            requests: var("CHAOS_REQUESTS").map_or(requests, |v| v as usize),
            round,
            approval_timeout_seconds,
            max_kills: (round / 10).max(1),
        }
    }
}

/// The quiet time after which the campaign's sweep takes a request with no workflow for
/// stuck (a deployment's is 15 minutes; here every workflow has ended before it runs).
const SWEEP_BOUND_MS: u64 = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn short_campaign() {
    // A fixed seed, so `make test` replays the same plan; seed 40 plans every kind of
    // request and fault (`CHAOS_PLAN_ONLY=1` prints a seed's plan). CHAOS_SEED picks another.
    campaign(Config::from_env(Some(40), 24, 12, 12)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "the full campaign: `make chaos` (several minutes)"]
async fn full_campaign() {
    campaign(Config::from_env(None, 300, 30, 20)).await;
}

async fn campaign(cfg: Config) {
    println!(
        "chaos: seed {} (replay: make chaos SEED={}), {} requests, {} per round",
        cfg.seed, cfg.seed, cfg.requests, cfg.round
    );
    let started = Instant::now();
    let mut rng = Rng(fastrand::Rng::with_seed(cfg.seed));
    let rounds = cfg.requests.div_ceil(cfg.round).max(2);
    // About one round in five kills the emulator, never the first, at least one.
    let mut kill_rounds: BTreeSet<usize> = (1..rounds).filter(|_| rng.percent(20)).collect();
    if kill_rounds.is_empty() {
        kill_rounds.insert(1 + rng.below(rounds as u64 - 1) as usize);
    }
    // The whole plan first, in the order the RNG is drawn, so a seed names it alone.
    let mut schedule = vec![];
    let mut submitted = 0;
    for round in 0..rounds {
        let size = cfg.round.min(cfg.requests.saturating_sub(submitted)).max(4);
        submitted += size;
        let plans = plan_round(&mut rng, size, kill_rounds.contains(&round), cfg.max_kills);
        let faults = if kill_rounds.contains(&round) {
            RoundFaults::EmulatorKilled {
                after: Duration::from_millis(300 + rng.below(2_500)),
                outage: Duration::from_millis(200 + rng.below(1_500)),
            }
        } else {
            RoundFaults::Sns(sns_windows(&mut rng, cfg.approval_timeout_seconds))
        };
        schedule.push((plans, faults));
    }
    if std::env::var_os("CHAOS_PLAN_ONLY").is_some() {
        for (round, (plans, faults)) in schedule.iter().enumerate() {
            println!("round {round}: {faults:?}");
            for p in plans {
                println!("  {p:?}");
            }
        }
        return;
    }
    let timeout = cfg.approval_timeout_seconds;
    let mut tally = Tally {
        seed: cfg.seed,
        ..Default::default()
    };
    for (round, (plans, faults)) in schedule.iter().enumerate() {
        // A fresh stack each round: moto copies its whole table for every transaction, so
        // one table of every round's requests would slow each write past the clients'
        // timeouts; a round's requests all end within it.
        let mut stack = stack_with(|o| o.approval_timeout_seconds = timeout).await;
        // The functions' calls to the target go through a proxy that can lose an answer.
        let proxy = TargetProxy::start(stack.moto_url.clone()).await;
        stack.settings_mut().aws_endpoint = Some(proxy.url.clone());
        stack
            .cold_start()
            .await
            .expect("the functions start with the proxy");
        match faults {
            RoundFaults::EmulatorKilled { after, outage } => {
                emulator_round(&mut stack, round, plans, *after, *outage, &mut tally).await
            }
            RoundFaults::Sns(sns) => {
                normal_round(&stack, &proxy, round, plans, sns, &cfg, &mut tally).await
            }
        }
        println!(
            "chaos: round {round} done ({} requests{}), {:.0} s",
            plans.len(),
            if kill_rounds.contains(&round) {
                ", emulator killed"
            } else {
                ""
            },
            started.elapsed().as_secs_f64()
        );
        stack.stop().await;
    }
    report(&cfg, rounds, &kill_rounds, &tally, started.elapsed());
}

/// What goes wrong around a round's plans.
#[derive(Debug)]
enum RoundFaults {
    /// SNS refuses every publish in each window `(start, length)` from the round's start.
    Sns(Vec<(Duration, Duration)>),
    /// The emulator is killed `after` the round starts and restarted `outage` later.
    EmulatorKilled { after: Duration, outage: Duration },
}

fn plan_round(rng: &mut Rng, size: usize, emulator_killed: bool, max_kills: usize) -> Vec<Plan> {
    let mut kills = 0;
    (0..size)
        .map(|n| {
            // While the emulator dies only simple plans run: their records die with it.
            let kind = if emulator_killed {
                rng.pick(&[Kind::Read, Kind::Denied, Kind::Approved, Kind::Approved])
            } else {
                rng.pick(&[
                    Kind::Read,
                    Kind::Read,
                    Kind::Denied,
                    Kind::Approved,
                    Kind::Approved,
                    Kind::Approved,
                    Kind::Rejected,
                    Kind::Cancelled,
                    Kind::Expired,
                    Kind::Raced,
                ])
            };
            let fault = if emulator_killed || matches!(kind, Kind::Read | Kind::Denied) {
                Fault::None
            } else if kind == Kind::Approved && kills < max_kills && rng.percent(30) {
                // Kills run one at a time (each is held until its request moves on).
                kills += 1;
                Fault::Kill {
                    point: rng.pick(&[
                        KillPoint::BeforeClaim,
                        KillPoint::AfterClaim,
                        KillPoint::AfterCall,
                    ]),
                    stop: rng.percent(50),
                }
            } else if kind == Kind::Approved && rng.percent(15) {
                Fault::AnswerLost
            } else {
                rng.pick(&[Fault::None, Fault::None, Fault::Duplicate, Fault::Late])
            };
            // Starts spread over the round (0.3 s a request): the emulator serialises every
            // write, and a round's worth at once would queue past the client's timeout.
            Plan {
                n,
                kind,
                fault,
                delay: rng.ms(size as u64 * 300),
            }
        })
        .collect()
}

/// SNS outage windows `(start, length)` within the first part of a round.
fn sns_windows(rng: &mut Rng, timeout_s: u64) -> Vec<(Duration, Duration)> {
    (0..rng.below(3))
        .map(|_| {
            (
                rng.ms(timeout_s * 500),
                Duration::from_millis(300 + rng.below(2_000)),
            )
        })
        .collect()
}

fn store(stack: &Stack) -> Arc<dyn RecordStore> {
    Arc::new(Store::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.names.table.clone(),
    ))
}

fn body(plan: &Plan, table: &str, key: &str) -> Value {
    match plan.kind {
        Kind::Read => json!({"action": "dynamodb:GetItem",
            "params": {"TableName": table, "Key": {"id": {"S": key}}}}),
        Kind::Denied => json!({"action": "cloudtrail:DeleteTrail",
            "params": {"Name": "org-trail"}, "reason": "chaos"}),
        // Each run of the call adds one to the item's counter: the target's own count.
        _ => json!({"action": "dynamodb:UpdateItem", "reason": "chaos",
            "params": {"TableName": table, "Key": {"id": {"S": key}},
                       "UpdateExpression": "ADD runs :one",
                       "ExpressionAttributeValues": {":one": {"N": "1"}}}}),
    }
}

/// Submits the plan's request and checks the answer's class; the id, when there is one.
async fn submit(owner: &Client, plan: &Plan, table: &str, ran: &mut Ran) -> Option<String> {
    let a = match owner.submit(&body(plan, table, &ran.key), None).await {
        Ok(a) => a,
        Err(e) => {
            ran.misanswered = Some(format!("submission not answered: {e:?}"));
            return None;
        }
    };
    ran.answers.push(a.status);
    let (want, id) = match plan.kind {
        Kind::Read => (200, a.body["id"].as_str()),
        Kind::Denied => (403, a.body["error"]["request_id"].as_str()),
        _ => (202, a.body["id"].as_str()),
    };
    if a.status != want || id.is_none() {
        ran.misanswered = Some(format!("{:?} answered {}: {}", plan.kind, a.status, a.body));
    }
    if plan.kind == Kind::Denied && a.error_code() != Some("denied") {
        ran.misanswered = Some(format!("denial without its code: {}", a.body));
    }
    id.map(str::to_string)
}

struct Round<'a> {
    stack: &'a Stack,
    proxy: &'a TargetProxy,
    owner: Client,
    approvers: Vec<Client>,
    store: Arc<dyn RecordStore>,
    sfn: aws_sdk_sfn::Client,
    table: String,
    /// One executor kill at a time: a held kill is released by notifying the host.
    kill_slot: tokio::sync::Mutex<()>,
    released: std::sync::atomic::AtomicUsize,
    tally: Mutex<Tally>,
    wait: Duration,
}

impl Round<'_> {
    fn fault(&self, what: impl Into<String>) {
        self.tally.lock().unwrap().fault(what);
    }

    /// Waits for the approval notice (the request's task token is stored with it); `None`
    /// when the request ended first (SNS refused the notice, say).
    async fn notified(&self, id: &str) -> Option<String> {
        let deadline = Instant::now() + self.wait;
        while Instant::now() < deadline {
            if let Ok(Some(rec)) = self.store.get(id).await {
                if let Some(t) = rec.task_token {
                    return Some(t);
                }
                if rec.status.is_final() {
                    return None;
                }
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        None
    }

    async fn vote(&self, i: usize, id: &str, verdict: Verdict, ran: &mut Ran) {
        if let Ok(a) = self.approvers[i % self.approvers.len()]
            .vote(id, verdict, None)
            .await
        {
            ran.answers.push(a.status);
        }
    }

    /// Sends the callback Tollgate would send for `outcome` with `token`, straight to Step
    /// Functions, and counts how it answered.
    async fn callback(&self, why: &str, token: &str, id: &str, outcome: Kind) {
        let answer = match outcome {
            Kind::Approved => self
                .sfn
                .send_task_success()
                .task_token(token)
                .output(json!({"request_id": id, "approved": true}).to_string())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| e.code().map(str::to_string)),
            _ => self
                .sfn
                .send_task_failure()
                .task_token(token)
                .error(if outcome == Kind::Cancelled {
                    "Cancelled"
                } else {
                    "Rejected"
                })
                .send()
                .await
                .map(|_| ())
                .map_err(|e| e.code().map(str::to_string)),
        };
        let how = match answer {
            Ok(()) => "accepted".to_string(),
            Err(code) => code.unwrap_or_else(|| "unreachable".into()),
        };
        *self
            .tally
            .lock()
            .unwrap()
            .callbacks
            .entry(format!("{why} -> {how}"))
            .or_default() += 1;
    }

    async fn workflow_running(&self, id: &str) -> bool {
        StepFunctions::new(self.sfn.clone(), self.stack.state_machine_arn.clone())
            .running(id)
            .await
            .unwrap_or(true)
    }

    /// Until the request is final, or nothing will move it any more (no workflow runs).
    async fn settled(&self, id: &str, deadline: Instant) -> bool {
        while Instant::now() < deadline {
            if let Ok(Some(rec)) = self.store.get(id).await
                && (rec.status.is_final() || !self.workflow_running(id).await)
            {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        false
    }

    async fn approve_with_kill(
        &self,
        plan: &Plan,
        id: &str,
        point: KillPoint,
        stop: bool,
        ran: &mut Ran,
    ) {
        let _slot = self.kill_slot.lock().await;
        let faults = self.stack.faults();
        *faults.kill_request.lock().unwrap() = Some(id.to_string());
        *faults.kill_executor_at.lock().unwrap() = Some(point);
        self.vote(plan.n, id, Verdict::Approve, ran).await;
        let deadline = Instant::now() + self.wait;
        let killed = || faults.killed.lock().unwrap().iter().any(|(k, _)| k == id);
        while !killed() && Instant::now() < deadline {
            if matches!(self.store.get(id).await, Ok(Some(r)) if r.status.is_final()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        *faults.kill_executor_at.lock().unwrap() = None;
        *faults.kill_request.lock().unwrap() = None;
        if !killed() {
            // The vote came too late (expired, or SNS failed it): nothing to kill.
            return;
        }
        let point_name = format!("{point:?}");
        if stop {
            let _ = self.stack.stop_workflow(id).await;
        }
        self.released.fetch_add(1, Ordering::SeqCst);
        faults.release_killed.notify_one();
        if stop {
            let _ = self.stack.wait_workflow_ended(id).await;
            self.fault(format!("executor killed {point_name}, workflow stopped"));
        } else {
            self.fault(format!("executor killed {point_name}, retried"));
        }
        // Held until this request moved on, so the next kill's release cannot reach it.
        self.settled(id, Instant::now() + self.wait).await;
    }

    async fn run(&self, plan: Plan, round: usize) -> Ran {
        let mut ran = Ran {
            key: format!("r{round}-{}", plan.n),
            ..Default::default()
        };
        tokio::time::sleep(plan.delay).await;
        let Some(id) = submit(&self.owner, &plan, &self.table, &mut ran).await else {
            return ran;
        };
        ran.id = Some(id.clone());
        if !plan.held() {
            return ran;
        }
        let Some(token) = self.notified(&id).await else {
            return ran;
        };
        match plan.kind {
            Kind::Approved => match plan.fault {
                Fault::Kill { point, stop } => {
                    self.approve_with_kill(&plan, &id, point, stop, &mut ran)
                        .await
                }
                Fault::AnswerLost => {
                    self.proxy.lose.lock().unwrap().insert(ran.key.clone());
                    self.vote(plan.n, &id, Verdict::Approve, &mut ran).await
                }
                _ => self.vote(plan.n, &id, Verdict::Approve, &mut ran).await,
            },
            Kind::Rejected => self.vote(plan.n, &id, Verdict::Reject, &mut ran).await,
            Kind::Cancelled => {
                if let Ok(a) = self.owner.cancel(&id).await {
                    ran.answers.push(a.status);
                }
            }
            Kind::Raced => {
                self.fault("votes and cancel raced");
                let mut a = Ran::default();
                let mut b = Ran::default();
                let mut c = Ran::default();
                let (_, _, _, cancel) = tokio::join!(
                    self.vote(plan.n, &id, Verdict::Approve, &mut a),
                    self.vote(plan.n + 1, &id, Verdict::Approve, &mut b),
                    self.vote(plan.n + 2, &id, Verdict::Reject, &mut c),
                    self.owner.cancel(&id),
                );
                ran.answers
                    .extend(a.answers.into_iter().chain(b.answers).chain(c.answers));
                if let Ok(x) = cancel {
                    ran.answers.push(x.status);
                }
            }
            Kind::Expired | Kind::Read | Kind::Denied => {}
        }
        if plan.fault == Fault::Duplicate && plan.kind != Kind::Expired {
            self.fault("duplicate callback");
            let outcome = if plan.kind == Kind::Raced {
                Kind::Approved
            } else {
                plan.kind
            };
            join_all((0..2).map(|_| self.callback("duplicate", &token, &id, outcome))).await;
        }
        let fin = self.owner.wait_final(&id, self.wait, |_| {}).await;
        if let Ok(f) = &fin {
            ran.answers.push(f.status);
        }
        if plan.fault == Fault::Late {
            self.fault("late callback");
            let current = self
                .store
                .get(&id)
                .await
                .ok()
                .flatten()
                .and_then(|r| r.task_token);
            for t in [Some(token), current]
                .into_iter()
                .flatten()
                .collect::<BTreeSet<_>>()
            {
                self.callback("late success", &t, &id, Kind::Approved).await;
                self.callback("late failure", &t, &id, Kind::Rejected).await;
            }
        }
        ran
    }
}

/// Turns SNS off for each window, from the round's start.
async fn sns_outages(stack: &Stack, windows: &[(Duration, Duration)], tally: &Mutex<Tally>) {
    let start = Instant::now();
    let mut windows = windows.to_vec();
    windows.sort();
    for (at, len) in windows {
        tokio::time::sleep((start + at).saturating_duration_since(Instant::now())).await;
        stack
            .faults()
            .fail_sns_publish
            .store(true, Ordering::SeqCst);
        tally.lock().unwrap().fault("sns outage");
        tokio::time::sleep(len).await;
        stack
            .faults()
            .fail_sns_publish
            .store(false, Ordering::SeqCst);
    }
}

async fn normal_round(
    stack: &Stack,
    proxy: &TargetProxy,
    round: usize,
    plans: &[Plan],
    sns: &[(Duration, Duration)],
    cfg: &Config,
    tally: &mut Tally,
) {
    let table = format!("chaos-{round}");
    create_table(&stack.sdk, &table).await.unwrap();
    let since = tollgate_aws::now_ms();
    let r = Round {
        stack,
        proxy,
        owner: agent(stack, "chaos-bot"),
        approvers: (0..3)
            .map(|i| approver(stack, &format!("approver-{i}")))
            .collect(),
        store: store(stack),
        sfn: aws_sdk_sfn::Client::new(&stack.sdk),
        table: table.clone(),
        kill_slot: Default::default(),
        released: Default::default(),
        tally: Mutex::new(std::mem::take(tally)),
        wait: Duration::from_secs(cfg.approval_timeout_seconds + 60),
    };
    let started = Instant::now();
    let (ran, ()) = tokio::join!(
        join_all(plans.iter().map(|p| r.run(*p, round))),
        sns_outages(stack, sns, &r.tally),
    );
    println!(
        "chaos: round {round}: plans done in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    // A kill whose invocation arrived after its plan gave up is released here.
    let faults = stack.faults();
    while faults.executor_kills.load(Ordering::SeqCst) > r.released.load(Ordering::SeqCst) {
        r.released.fetch_add(1, Ordering::SeqCst);
        faults.release_killed.notify_one();
    }
    check_round(&r, plans, &ran, since).await;
    *tally = r.tally.into_inner().unwrap();
}

/// The invariants, on what the round left in the emulator.
async fn check_round(r: &Round<'_>, plans: &[Plan], ran: &[Ran], since: u64) {
    let deadline = Instant::now() + r.wait;
    let ids: Vec<&String> = ran.iter().filter_map(|x| x.id.as_ref()).collect();
    let settled = join_all(ids.iter().map(|id| r.settled(id, deadline))).await;
    // Every workflow has ended: a request still open now is one nothing will move.
    tokio::time::sleep(Duration::from_millis(SWEEP_BOUND_MS + 200)).await;
    let report = r.stack.sweep(SWEEP_BOUND_MS).await.expect("the sweep ran");
    {
        let mut tally = r.tally.lock().unwrap();
        for c in &report.closed {
            *tally
                .swept
                .entry(format!(
                    "{} from {} (may_have_run {})",
                    c.code, c.from, c.may_have_run
                ))
                .or_default() += 1;
        }
        for (id, ok) in ids.iter().zip(&settled) {
            tally.check(
                "settles: final, or no workflow left to move it",
                *ok,
                || format!("{id} still moving after {:?}", r.wait),
            );
        }
    }

    let effects = effects(r.stack, &r.table).await;
    let killed: BTreeMap<String, KillPoint> = r
        .stack
        .faults()
        .killed
        .lock()
        .unwrap()
        .iter()
        .cloned()
        .collect();
    let lost: BTreeSet<String> = r.proxy.lost.lock().unwrap().iter().cloned().collect();
    if !lost.is_empty() {
        let mut tally = r.tally.lock().unwrap();
        for _ in ran.iter().filter(|x| lost.contains(&x.key)) {
            tally.fault("target's answer lost");
        }
    }
    let stored: BTreeSet<String> = r
        .store
        .request_ids_since(since)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let known: BTreeSet<String> = ids.iter().map(|s| s.to_string()).collect();
    let mut records: Vec<(Plan, &Ran, RequestRecord, Vec<Event>)> = vec![];
    for (plan, x) in plans.iter().zip(ran) {
        {
            let mut tally = r.tally.lock().unwrap();
            *tally.kinds.entry(plan.kind).or_default() += 1;
            for s in &x.answers {
                *tally.answers.entry(*s).or_default() += 1;
            }
            tally.check(
                "submission answered as classified",
                x.misanswered.is_none(),
                || format!("{plan:?}: {:?}", x.misanswered),
            );
            tally.check("no 500 answered", !x.answers.contains(&500), || {
                format!("{plan:?} was answered {:?}", x.answers)
            });
        }
        let Some(id) = &x.id else { continue };
        let rec = r.store.get(id).await.unwrap();
        let events = r.store.events(id).await.unwrap_or_default();
        let mut tally = r.tally.lock().unwrap();
        tally.check("every answered request is stored", rec.is_some(), || {
            id.clone()
        });
        if let Some(rec) = rec {
            records.push((*plan, x, rec, events));
        }
    }
    for id in &stored {
        r.tally.lock().unwrap().check(
            "every stored request was asked for",
            known.contains(id),
            || format!("{id} is stored but no plan submitted it"),
        );
    }
    for key in effects.keys() {
        r.tally.lock().unwrap().check(
            "every effect belongs to a request",
            ran.iter().any(|x| &x.key == key && x.id.is_some()),
            || format!("item {key} changed by no request"),
        );
    }
    for (plan, x, rec, events) in &records {
        let id = &rec.id;
        let chain = r.store.verify(id).await;
        let mut tally = r.tally.lock().unwrap();
        let status = rec.status.as_str().to_string();
        *tally
            .outcomes
            .entry((plan.kind, status.clone()))
            .or_default() += 1;
        tally.check(
            "final once the sweeper has run",
            rec.status.is_final(),
            || format!("{id} ({plan:?}) is {status}"),
        );
        tally.check("audit chain verifies", matches!(chain, Ok(Ok(_))), || {
            format!("{id}: {chain:?}")
        });
        let count = |k: EventKind| events.iter().filter(|e| e.kind == k).count();
        tally.check(
            "claimed and executed at most once (records)",
            count(EventKind::ExecutionStarted) <= 1 && count(EventKind::Executed) <= 1,
            || {
                format!(
                    "{id}: {:?}",
                    events.iter().map(|e| e.kind).collect::<Vec<_>>()
                )
            },
        );
        let runs = effects.get(&x.key).copied().unwrap_or(0);
        let may_have_run = rec.error.as_ref().and_then(|e| e.may_have_run);
        if plan.held() {
            tally.check("no call ran twice (target's count)", runs <= 1, || {
                format!("{id} ({plan:?}) ran {runs} times")
            });
            tally.check(
                "a call that ran is SUCCEEDED or may_have_run",
                runs == 0 || status == "SUCCEEDED" || may_have_run == Some(true),
                || format!("{id} ({plan:?}) ran but is {status} {:?}", rec.error),
            );
            tally.check(
                "SUCCEEDED means the call ran",
                status != "SUCCEEDED" || runs == 1,
                || format!("{id} ({plan:?}) SUCCEEDED with {runs} runs"),
            );
        }
        let kill = killed.get(id.as_str()).copied();
        let answer_lost = lost.contains(&x.key);
        tally.check(
            "may_have_run only where a fault left it unknown",
            may_have_run != Some(true)
                || answer_lost
                || matches!(kill, Some(KillPoint::AfterClaim | KillPoint::AfterCall)),
            || {
                format!(
                    "{id} ({plan:?}, kill {kill:?}) says may_have_run: {:?}",
                    rec.error
                )
            },
        );
        if answer_lost {
            tally.check(
                "a call whose answer was lost ran once and says it may have run",
                runs == 1 && status == "FAILED" && may_have_run == Some(true),
                || format!("{id}: answer lost: {status}, {runs} runs, {:?}", rec.error),
            );
        }
        if let Some(point) = kill {
            let (want_runs, want_may) = match point {
                KillPoint::BeforeClaim => (None, None),
                KillPoint::AfterClaim => (Some(0), Some(true)),
                KillPoint::AfterCall => (Some(1), Some(true)),
            };
            tally.check(
                "a killed execution's outcome matches where it died",
                want_runs.is_none_or(|w| w == runs)
                    && want_may.is_none_or(|w| Some(w) == may_have_run && status == "FAILED"),
                || {
                    format!(
                        "{id} killed {point:?}: {status}, {runs} runs, {:?}",
                        rec.error
                    )
                },
            );
        }
    }
}

/// The target table's counters: item key → how often a call added one to it.
async fn effects(stack: &Stack, table: &str) -> BTreeMap<String, u64> {
    let out = aws_sdk_dynamodb::Client::new(&stack.sdk)
        .scan()
        .table_name(table)
        .send()
        .await
        .expect("scan the target table");
    out.items()
        .iter()
        .filter_map(|item| {
            let key = item.get("id")?.as_s().ok()?.clone();
            let runs = item.get("runs")?.as_n().ok()?.parse().ok()?;
            Some((key, runs))
        })
        .collect()
}

/// A round during which the emulator is killed and restarted: its plans only talk HTTP to
/// Tollgate, which must answer every call while AWS is gone, clearly and without hanging. What
/// the killed emulator held is gone with it (moto keeps state in memory), so the round's
/// requests are checked for clean answers and the stack for a full recovery, not for records.
async fn emulator_round(
    stack: &mut Stack,
    round: usize,
    plans: &[Plan],
    kill_after: Duration,
    outage: Duration,
    tally: &mut Tally,
) {
    let table = format!("chaos-{round}");
    create_table(&stack.sdk, &table).await.unwrap();
    let owner = agent(stack, "chaos-bot");
    let alice = approver(stack, "approver-0");
    let blind = |plan: Plan| {
        let (owner, alice, table) = (owner.clone(), alice.clone(), table.clone());
        async move {
            let mut ran = Ran {
                key: format!("r{round}-{}", plan.n),
                ..Default::default()
            };
            tokio::time::sleep(plan.delay).await;
            let id = submit(&owner, &plan, &table, &mut ran).await;
            // An outage answers 503 instead of the classification: not a misanswer here.
            if ran.answers.last() == Some(&503) {
                ran.misanswered = None;
            }
            ran.id = id.clone();
            if let (Some(id), true) = (id, plan.held()) {
                tokio::time::sleep(Duration::from_millis(500)).await;
                if let Ok(a) = alice.vote(&id, Verdict::Approve, None).await {
                    ran.answers.push(a.status);
                }
                if let Ok(a) = owner.wait_final(&id, WAIT, |_| {}).await {
                    ran.answers.push(a.status);
                }
            }
            ran
        }
    };
    let probes: Arc<Mutex<Vec<Answer>>> = Default::default();
    let killer = async {
        tokio::time::sleep(kill_after).await;
        stack.kill_moto().await;
        let p = agent(stack, "chaos-bot");
        let deadline = Duration::from_secs(30);
        let a = tokio::time::timeout(deadline, p.submit(&body(&plans[0], &table, "probe"), None))
            .await
            .expect("a submission answered within 30 s while the emulator was down")
            .expect("answered");
        let s = tokio::time::timeout(deadline, p.status("01JCHAOSPROBE0000000000000", 0))
            .await
            .expect("a status read answered within 30 s while the emulator was down")
            .expect("answered");
        probes.lock().unwrap().extend([a, s]);
        tokio::time::sleep(outage).await;
        stack.restart_moto().await.expect("the emulator restarts");
    };
    let (ran, ()) = tokio::join!(join_all(plans.iter().map(|p| blind(*p))), killer);
    tally.fault("emulator killed and restarted");
    for a in probes.lock().unwrap().iter() {
        *tally.answers.entry(a.status).or_default() += 1;
        tally.check(
            "an outage answers 503 with a code",
            a.status == 503 && a.error_code().is_some(),
            || {
                format!(
                    "answered {} while the emulator was down: {}",
                    a.status, a.body
                )
            },
        );
    }
    let owner = agent(stack, "chaos-bot");
    for (plan, x) in plans.iter().zip(&ran) {
        *tally.kinds.entry(plan.kind).or_default() += 1;
        for s in &x.answers {
            *tally.answers.entry(*s).or_default() += 1;
        }
        tally.check("no 500 answered", !x.answers.contains(&500), || {
            format!(
                "{plan:?} was answered {:?} around the emulator's death",
                x.answers
            )
        });
        tally.check(
            "submission answered as classified",
            x.misanswered.is_none(),
            || format!("{plan:?}: {:?}", x.misanswered),
        );
        let Some(id) = &x.id else {
            *tally
                .outcomes
                .entry((plan.kind, "refused: emulator down".into()))
                .or_default() += 1;
            continue;
        };
        let now = owner.status(id, 0).await.unwrap();
        if now.status == 404 {
            tally.lost_with_emulator += 1;
            *tally
                .outcomes
                .entry((plan.kind, "lost with the emulator".into()))
                .or_default() += 1;
            continue;
        }
        // Made after the restart: it lives in the new emulator, and ends like any other
        // (its table died with the old one, so a write fails at the target).
        let fin = owner.wait_final(id, WAIT, |_| {}).await.unwrap();
        let status = fin.request_status().unwrap_or("?").to_string();
        let chain = store(stack).verify(id).await;
        tally.check(
            "a request made after the restart ends",
            is_final(&status),
            || format!("{id} ({plan:?}) is {status} after the restart"),
        );
        tally.check("audit chain verifies", matches!(chain, Ok(Ok(_))), || {
            format!("{id}: {chain:?}")
        });
        *tally.outcomes.entry((plan.kind, status)).or_default() += 1;
    }
    // Recovery: a held write on a fresh table runs once, end to end.
    let table = format!("chaos-{round}-after");
    create_table(&stack.sdk, &table).await.unwrap();
    let plan = Plan {
        n: 0,
        kind: Kind::Approved,
        fault: Fault::None,
        delay: Duration::ZERO,
    };
    let mut ran = Ran {
        key: format!("r{round}-recovery"),
        ..Default::default()
    };
    let id = submit(&owner, &plan, &table, &mut ran)
        .await
        .expect("submitted after the restart");
    tollgate_local::demo::wait_for_notice(&owner, &id, WAIT)
        .await
        .unwrap();
    alice.vote(&id, Verdict::Approve, None).await.unwrap();
    let fin = owner.wait_final(&id, WAIT, |_| {}).await.unwrap();
    let runs = effects(stack, &table).await.get(&ran.key).copied();
    let chain = store(stack).verify(&id).await;
    tally.check(
        "the stack recovers after the emulator's restart",
        fin.request_status() == Some("SUCCEEDED") && runs == Some(1) && matches!(chain, Ok(Ok(_))),
        || {
            format!(
                "after the restart: {} runs {runs:?} chain {chain:?}",
                fin.body
            )
        },
    );
}

fn report(cfg: &Config, rounds: usize, kills: &BTreeSet<usize>, t: &Tally, took: Duration) {
    let total: usize = t.kinds.values().sum();
    println!(
        "\nchaos campaign: seed {} ({} requests, {} rounds, emulator killed in rounds {:?}), {:.0} s",
        cfg.seed,
        total,
        rounds,
        kills,
        took.as_secs_f64()
    );
    println!("requests by kind:");
    for (k, n) in &t.kinds {
        println!("  {k:<10?} {n}");
    }
    println!("outcomes by kind:");
    for ((k, s), n) in &t.outcomes {
        println!("  {k:<10?} {s:<24} {n}");
    }
    println!("faults injected:");
    for (f, n) in &t.faults {
        println!("  {f:<44} {n}");
    }
    println!("callbacks sent by the campaign, and Step Functions' answer:");
    for (c, n) in &t.callbacks {
        println!("  {c:<44} {n}");
    }
    println!("closed by the sweeper:");
    for (c, n) in &t.swept {
        println!("  {c:<56} {n}");
    }
    println!(
        "HTTP answers: {:?}; requests lost with the killed emulator: {}",
        t.answers, t.lost_with_emulator
    );
    println!("invariants checked:");
    for (c, n) in &t.checks {
        println!("  {c:<56} {n}");
    }
    println!("replay: make chaos SEED={}", cfg.seed);
}

/// A pass-through to the emulator for the functions' calls to the target account, which
/// loses the answer of the next `UpdateItem` on each key in `lose`: the emulator runs the
/// call, and the connection then closes without an answer, as when a network drops after
/// the request went out.
struct TargetProxy {
    url: String,
    lose: Arc<Mutex<BTreeSet<String>>>,
    lost: Arc<Mutex<Vec<String>>>,
}

impl TargetProxy {
    async fn start(moto_url: String) -> Self {
        use http_body_util::BodyExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let proxy = TargetProxy {
            url,
            lose: Default::default(),
            lost: Default::default(),
        };
        let (lose, lost) = (proxy.lose.clone(), proxy.lost.clone());
        let client = reqwest::Client::new();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (lose, lost, client, moto) =
                    (lose.clone(), lost.clone(), client.clone(), moto_url.clone());
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(
                        move |req: hyper::Request<hyper::body::Incoming>| {
                            let (lose, lost, client, moto) =
                                (lose.clone(), lost.clone(), client.clone(), moto.clone());
                            async move {
                                let (parts, body) = req.into_parts();
                                let body = body
                                    .collect()
                                    .await
                                    .map_err(std::io::Error::other)?
                                    .to_bytes();
                                let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                                let mut rb = client
                                    .request(parts.method.clone(), format!("{moto}{path}"))
                                    .body(body.clone());
                                for (k, v) in &parts.headers {
                                    if k != http::header::HOST && k != http::header::CONTENT_LENGTH
                                    {
                                        rb = rb.header(k, v);
                                    }
                                }
                                let resp = rb.send().await.map_err(std::io::Error::other)?;
                                let status = resp.status();
                                let headers = resp.headers().clone();
                                let bytes = resp.bytes().await.map_err(std::io::Error::other)?;
                                let update = parts
                                    .headers
                                    .get("x-amz-target")
                                    .is_some_and(|t| t == "DynamoDB_20120810.UpdateItem");
                                let text = String::from_utf8_lossy(&body);
                                let hit = update
                                    .then(|| {
                                        let mut lose = lose.lock().unwrap();
                                        let key = lose
                                            .iter()
                                            .find(|k| text.contains(&format!("\"{k}\"")))
                                            .cloned();
                                        key.inspect(|k| {
                                            lose.remove(k);
                                        })
                                    })
                                    .flatten();
                                if let Some(key) = hit {
                                    lost.lock().unwrap().push(key);
                                    // An error from the service closes the connection unanswered.
                                    return Err(std::io::Error::other("answer lost"));
                                }
                                let mut out =
                                    hyper::Response::new(http_body_util::Full::new(bytes));
                                *out.status_mut() = status;
                                for (k, v) in &headers {
                                    if k != http::header::CONTENT_LENGTH
                                        && k != http::header::TRANSFER_ENCODING
                                    {
                                        out.headers_mut().insert(k, v.clone());
                                    }
                                }
                                Ok::<_, std::io::Error>(out)
                            }
                        },
                    );
                    let _ = hyper_util::server::conn::auto::Builder::new(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), svc)
                    .await;
                });
            }
        });
        proxy
    }
}
