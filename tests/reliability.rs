//! Reliability under contention and faults, against the real local stack: racing approvals,
//! racing idempotent submissions, bursts of requests, and injected faults (the emulator
//! killed mid-approval, an SNS outage, an executor that dies between its AWS call and its
//! status write). Every scenario is bounded in time: a hang fails the test.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::StreamExt;
use futures::future::join_all;
use tollgate_aws::ports::RecordStore;
use tollgate_aws::store::Store;
use tollgate_core::record::Verdict;
use tollgate_e2e::*;
use tollgate_local::Stack;
use tollgate_local::demo::{create_table, table_exists, wait_for_notice};

const SEND_TASK_SUCCESS: &str = "AWSStepFunctions.SendTaskSuccess";
const START_EXECUTION: &str = "AWSStepFunctions.StartExecution";

fn store(stack: &Stack) -> Arc<dyn RecordStore> {
    Arc::new(Store::new(
        aws_sdk_dynamodb::Client::new(&stack.sdk),
        stack.names.table.clone(),
    ))
}

/// Fails unless the request's audit chain recomputes whole.
async fn assert_chain_whole(stack: &Stack, id: &str) -> usize {
    match store(stack).verify(id).await {
        Ok(Ok(n)) => n,
        Ok(Err(b)) => panic!("audit chain of {id} broken: {b:?}"),
        Err(e) => panic!("audit chain of {id} unreadable: {}", e.message),
    }
}

fn count(kinds: &[String], kind: &str) -> usize {
    kinds.iter().filter(|k| k.as_str() == kind).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hundred_concurrent_approvals_resume_the_workflow_once() {
    let stack = stack().await;
    let owner = agent(&stack, "ci-bot");
    create_table(&stack.sdk, "race").await.unwrap();
    let id = pending_delete(&owner, "race").await;
    wait_for_notice(&owner, &id, WAIT).await.unwrap();

    let approvers: Vec<_> = (0..100)
        .map(|i| approver(&stack, &format!("approver-{i}")))
        .collect();
    let answers = join_all(
        approvers
            .iter()
            .map(|a| a.vote(&id, Verdict::Approve, None)),
    )
    .await;
    let mut accepted = 0;
    for a in &answers {
        let a = a.as_ref().expect("vote answered");
        match a.status {
            200 => accepted += 1,
            // Late votes on a request that is no longer pending: a clear conflict.
            409 => assert!(a.error_code().is_some(), "{}", a.body),
            s => panic!("vote answered {s}: {}", a.body),
        }
    }
    assert!(accepted >= 1, "no vote was accepted");

    let fin = owner.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(fin.request_status(), Some("SUCCEEDED"), "{}", fin.body);
    let kinds = event_kinds(&fin);
    assert_eq!(count(&kinds, "approved"), 1, "{kinds:?}");
    assert_eq!(count(&kinds, "execution_started"), 1, "{kinds:?}");
    assert_eq!(count(&kinds, "executed"), 1, "{kinds:?}");
    assert_eq!(stack.calls(SEND_TASK_SUCCESS), 1, "one SendTaskSuccess");
    assert_eq!(stack.calls(START_EXECUTION), 1, "one execution");
    assert!(!table_exists(&stack.sdk, "race").await.unwrap());
    assert_chain_whole(&stack, &id).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_submissions_with_one_key_make_one_request() {
    let stack = stack().await;
    let owner = agent(&stack, "ci-bot");
    create_table(&stack.sdk, "idem").await.unwrap();
    let body = json!({"action": "dynamodb:DeleteTable", "params": {"TableName": "idem"}, "reason": "cleanup"});
    let answers = join_all((0..50).map(|_| owner.submit(&body, Some("cleanup-idem")))).await;
    let ids: BTreeSet<String> = answers
        .iter()
        .map(|a| {
            let a = a.as_ref().expect("submit answered");
            assert_eq!(a.status, 202, "{}", a.body);
            a.body["id"].as_str().expect("id").to_string()
        })
        .collect();
    assert_eq!(ids.len(), 1, "one key, one request: {ids:?}");
    let id = ids.into_iter().next().unwrap();
    wait_for_notice(&owner, &id, WAIT).await.unwrap();
    assert_eq!(stack.calls(START_EXECUTION), 1, "one workflow");
    let requests = store(&stack).request_ids_since(0).await.unwrap();
    assert_eq!(requests, vec![id.clone()], "one stored request");
    assert_chain_whole(&stack, &id).await;
    stack.stop().await;
}

/// The bursts of the thousand-request test, each on a fresh stack, one at a time: moto
/// snapshots the whole table before every item of a transaction (a deep copy), so one table
/// of a thousand requests makes the emulator, not Tollgate, the bottleneck (over ten
/// minutes), and a hundred concurrent requests on a loaded CI machine queue for longer than
/// the client's 60 s timeout behind the serialised writes.
const BURSTS: usize = 20;
const BURST: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_requests_in_bursts_are_all_accounted_for() {
    let results: Vec<(usize, usize, usize)> = futures::stream::iter(0..BURSTS)
        .map(one_burst)
        .buffered(1)
        .collect()
        .await;
    let total = results
        .iter()
        .fold((0, 0, 0), |a, r| (a.0 + r.0, a.1 + r.1, a.2 + r.2));
    assert_eq!(total, (700, 200, 100), "allowed, denied, pending");
}

/// Sends one burst of `BURST` concurrent requests to a fresh stack and checks that every
/// request it was told about is stored, final or pending, with a whole audit chain.
async fn one_burst(burst: usize) -> (usize, usize, usize) {
    let stack = stack().await;
    let owner = agent(&stack, "burst-bot");
    for t in 0..5 {
        create_table(&stack.sdk, &format!("burst-{t}"))
            .await
            .unwrap();
    }
    // Mostly reads that run at once, some denials, and a tenth waiting for approval (each of
    // those starts a workflow in the emulator). Indexed globally, so the mix over all bursts
    // is exactly 700 / 200 / 100.
    let body = |i: usize| match i % 10 {
        0 => {
            json!({"action": "dynamodb:DeleteTable", "params": {"TableName": format!("burst-{}", i % 5)}, "reason": "burst"})
        }
        1 | 2 => {
            json!({"action": "cloudtrail:DeleteTrail", "params": {"Name": "org-trail"}, "reason": "burst"})
        }
        3..=5 => {
            json!({"action": "dynamodb:DescribeTable", "params": {"TableName": format!("burst-{}", i % 5)}})
        }
        _ => json!({"action": "dynamodb:ListTables"}),
    };
    let bodies: Vec<_> = (0..BURST).map(|j| body(burst * BURST + j)).collect();
    let answers = join_all(bodies.iter().map(|b| owner.submit(b, None))).await;
    let mut ids = BTreeSet::new();
    let (mut allowed, mut denied, mut pending) = (0, 0, 0);
    for a in &answers {
        let a = a.as_ref().expect("submit answered");
        // Each arm takes its own id, so a denial's id cannot stand in for an accepted
        // request's missing one.
        let id = match a.status {
            200 | 202 => {
                if a.status == 200 {
                    allowed += 1;
                } else {
                    pending += 1;
                }
                a.body["id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("accepted request without an id: {}", a.body))
            }
            403 => {
                denied += 1;
                assert_eq!(a.error_code(), Some("denied"), "{}", a.body);
                a.body["error"]["request_id"]
                    .as_str()
                    .unwrap_or_else(|| panic!("denial without a request id: {}", a.body))
            }
            s => panic!("submission answered {s}: {}", a.body),
        };
        assert!(ids.insert(id.to_string()), "id {id} given twice");
    }
    let stored: BTreeSet<String> = store(&stack)
        .request_ids_since(0)
        .await
        .unwrap()
        .into_iter()
        .collect();
    let missing: Vec<_> = ids.difference(&stored).collect();
    assert!(missing.is_empty(), "lost requests: {missing:?}");
    let checked = futures::stream::iter(stored.iter().map(|id| {
        let stack = &stack;
        async move {
            let rec = store(stack).get(id).await.unwrap().expect("stored");
            let st = rec.status.as_str().to_string();
            assert!(
                tollgate_cli::client::is_final(&st) || st == "PENDING",
                "{id} is {st}"
            );
            assert_chain_whole(stack, id).await;
        }
    }))
    .buffer_unordered(8)
    .collect::<Vec<_>>()
    .await;
    assert_eq!(checked.len(), stored.len());
    assert_eq!(
        stack.calls(START_EXECUTION),
        pending,
        "one workflow per pending request"
    );
    stack.stop().await;
    (allowed, denied, pending)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn emulator_killed_mid_approval_fails_clearly_and_recovers() {
    let mut stack = stack().await;
    let owner = agent(&stack, "ci-bot");
    let alice = approver(&stack, "alice");
    create_table(&stack.sdk, "outage").await.unwrap();
    let id = pending_delete(&owner, "outage").await;
    wait_for_notice(&owner, &id, WAIT).await.unwrap();

    stack.kill_moto().await;
    // With AWS gone, the approval is refused as unavailable, quickly, and not as a crash.
    let vote = tokio::time::timeout(
        Duration::from_secs(30),
        alice.vote(&id, Verdict::Approve, None),
    )
    .await
    .expect("the vote answered within 30 s while the emulator was down")
    .unwrap();
    assert_eq!(vote.status, 503, "{}", vote.body);
    assert!(vote.error_code().is_some(), "{}", vote.body);
    let text = vote.body.to_string();
    assert!(!text.contains("testing"), "credentials in an error: {text}");

    // moto keeps its state in memory: the restarted one knows nothing of the request, and
    // says so; the stack works again end to end.
    stack.restart_moto().await.unwrap();
    let gone = owner.status(&id, 0).await.unwrap();
    assert_eq!(gone.status, 404, "{}", gone.body);
    create_table(&stack.sdk, "after").await.unwrap();
    let id = pending_delete(&owner, "after").await;
    wait_for_notice(&owner, &id, WAIT).await.unwrap();
    let vote = alice.vote(&id, Verdict::Approve, None).await.unwrap();
    assert_eq!(vote.status, 200, "{}", vote.body);
    let fin = owner.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(fin.request_status(), Some("SUCCEEDED"), "{}", fin.body);
    assert!(!table_exists(&stack.sdk, "after").await.unwrap());
    assert_chain_whole(&stack, &id).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sns_outage_fails_the_request_visibly() {
    let stack = stack().await;
    stack
        .faults()
        .fail_sns_publish
        .store(true, Ordering::SeqCst);
    let owner = agent(&stack, "ci-bot");
    create_table(&stack.sdk, "unheard").await.unwrap();
    let id = pending_delete(&owner, "unheard").await;

    let fin = owner.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(fin.request_status(), Some("FAILED"), "{}", fin.body);
    let reason = fin.body["error"].to_string();
    assert!(reason.contains("SNS"), "the reason names SNS: {}", fin.body);
    assert!(
        stack.calls("SNS.Publish") >= 2,
        "the notifier retried the publish: {} attempt(s)",
        stack.calls("SNS.Publish")
    );
    assert!(stack.outbox().is_empty(), "no notice was delivered");
    assert!(table_exists(&stack.sdk, "unheard").await.unwrap());
    let kinds = event_kinds(&fin);
    // The `notified` event records a published notice: none was, so there is none.
    assert_eq!(count(&kinds, "notified"), 0, "{kinds:?}");
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("failed"),
        "{kinds:?}"
    );
    assert_chain_whole(&stack, &id).await;
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn executor_crash_after_the_call_is_never_repeated() {
    let stack = stack().await;
    let owner = agent(&stack, "ci-bot");
    let alice = approver(&stack, "alice");
    create_table(&stack.sdk, "once").await.unwrap();
    let id = pending_delete(&owner, "once").await;
    wait_for_notice(&owner, &id, WAIT).await.unwrap();

    stack
        .faults()
        .crash_executor_after_call
        .store(true, Ordering::SeqCst);
    let vote = alice.vote(&id, Verdict::Approve, None).await.unwrap();
    assert_eq!(vote.status, 200, "{}", vote.body);

    // The crashed attempt deleted the table; the retry Step Functions makes finds the request
    // EXECUTING with no result and fails it instead of calling again (a second DeleteTable
    // would have failed with ResourceNotFoundException instead).
    let fin = owner.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(fin.request_status(), Some("FAILED"), "{}", fin.body);
    assert_eq!(
        fin.body["error"]["code"].as_str(),
        Some("execution_interrupted"),
        "{}",
        fin.body
    );
    assert_eq!(stack.faults().executor_crashes.load(Ordering::SeqCst), 1);
    assert!(!table_exists(&stack.sdk, "once").await.unwrap());
    let kinds = event_kinds(&fin);
    assert_eq!(count(&kinds, "execution_started"), 1, "{kinds:?}");
    assert_eq!(count(&kinds, "executed"), 0, "{kinds:?}");
    // The notice went out, and its event names the message SNS accepted.
    let events = store(&stack).events(&id).await.unwrap();
    let notified: Vec<_> = events
        .iter()
        .filter(|e| e.kind == tollgate_core::EventKind::Notified)
        .collect();
    assert_eq!(notified.len(), 1, "{kinds:?}");
    assert!(
        notified[0].detail["message_id"].is_string(),
        "{:?}",
        notified[0].detail
    );
    assert_chain_whole(&stack, &id).await;
    stack.stop().await;
}

/// Waits until the killed executor invocation is held by the local host.
async fn wait_for_kill(stack: &Stack, kills: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while stack.faults().executor_kills.load(Ordering::SeqCst) < kills {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the executor was not killed within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every place a lost workflow can leave a request, on one stack: a PENDING request whose
/// workflow was stopped, and an approved one whose executor died before its claim, after it,
/// and after the call, each with its workflow stopped before the state machine could retry.
/// The sweeper closes each once, says whether the call may have run, tells the approvers,
/// and leaves a request whose workflow still runs alone. It never runs anything itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sweeper_closes_what_a_lost_workflow_leaves_behind() {
    use tollgate_local::server::KillPoint;
    let stack = stack().await;
    let owner = agent(&stack, "ci-bot");
    let alice = approver(&stack, "alice");
    let mut expected = Vec::new();

    // PENDING, workflow stopped: nobody can approve it any more.
    create_table(&stack.sdk, "orphan").await.unwrap();
    let orphan = pending_delete(&owner, "orphan").await;
    wait_for_notice(&owner, &orphan, WAIT).await.unwrap();
    stack.stop_workflow(&orphan).await.unwrap();
    stack.wait_workflow_ended(&orphan).await.unwrap();
    expected.push((orphan.clone(), "PENDING", "workflow_gone", false, true));

    // Killed at each point, workflow stopped while the dead invocation is held.
    let mut kills = 0;
    for (table, point, from, code, may_have_run, table_left) in [
        (
            "before",
            KillPoint::BeforeClaim,
            "APPROVED",
            "workflow_gone",
            false,
            true,
        ),
        (
            "claimed",
            KillPoint::AfterClaim,
            "EXECUTING",
            "execution_interrupted",
            true,
            true,
        ),
        (
            "called",
            KillPoint::AfterCall,
            "EXECUTING",
            "execution_interrupted",
            true,
            false,
        ),
    ] {
        create_table(&stack.sdk, table).await.unwrap();
        let id = pending_delete(&owner, table).await;
        wait_for_notice(&owner, &id, WAIT).await.unwrap();
        *stack.faults().kill_executor_at.lock().unwrap() = Some(point);
        let vote = alice.vote(&id, Verdict::Approve, None).await.unwrap();
        assert_eq!(vote.status, 200, "{}", vote.body);
        kills += 1;
        wait_for_kill(&stack, kills).await;
        stack.stop_workflow(&id).await.unwrap();
        stack.faults().release_killed.notify_one();
        stack.wait_workflow_ended(&id).await.unwrap();
        let rec = store(&stack).get(&id).await.unwrap().unwrap();
        assert_eq!(rec.status.as_str(), from, "{point:?}");
        assert_eq!(
            table_exists(&stack.sdk, table).await.unwrap(),
            table_left,
            "{point:?}"
        );
        expected.push((id, from, code, may_have_run, table_left));
    }

    // A request whose workflow still runs is not stuck, however quiet.
    create_table(&stack.sdk, "alive").await.unwrap();
    let alive = pending_delete(&owner, "alive").await;
    wait_for_notice(&owner, &alive, WAIT).await.unwrap();

    let notices_before = stack.outbox().len();
    let report = stack.sweep(0).await.unwrap();
    assert_eq!(report.errors, 0);
    assert_eq!(report.checked, expected.len() + 1, "{report:?}");
    assert_eq!(report.closed.len(), expected.len(), "{report:?}");
    for (id, from, code, may_have_run, _) in &expected {
        let closed = report
            .closed
            .iter()
            .find(|c| &c.id == id)
            .unwrap_or_else(|| panic!("{id} ({from}) not swept: {report:?}"));
        assert_eq!(closed.from.as_str(), *from);
        assert!(closed.notified, "{id}");
        let fin = owner.status(id, 0).await.unwrap();
        assert_eq!(fin.request_status(), Some("FAILED"), "{}", fin.body);
        assert_eq!(fin.body["error"]["code"], *code, "{}", fin.body);
        assert_eq!(
            fin.body["error"]["may_have_run"], *may_have_run,
            "{}",
            fin.body
        );
        let events = store(&stack).events(id).await.unwrap();
        let last = events.last().unwrap();
        assert_eq!(last.kind, tollgate_core::EventKind::Failed);
        assert_eq!(last.detail["by"], "sweeper", "{:?}", last.detail);
        assert_eq!(last.detail["swept_from"], *from, "{:?}", last.detail);
        assert_chain_whole(&stack, id).await;
    }
    // One closing notice per swept request, saying whether the call may have run.
    let notices: Vec<Value> = stack.outbox()[notices_before..].to_vec();
    assert_eq!(notices.len(), expected.len(), "{notices:?}");
    assert!(
        notices
            .iter()
            .all(|n| n["notice"]["error"]["may_have_run"].is_boolean()),
        "{notices:?}"
    );
    // Nothing ran: the tables the dead executors never reached are still there.
    for (table, left) in [
        ("orphan", true),
        ("before", true),
        ("claimed", true),
        ("called", false),
    ] {
        assert_eq!(
            table_exists(&stack.sdk, table).await.unwrap(),
            left,
            "{table}"
        );
    }
    let still = owner.status(&alive, 0).await.unwrap();
    assert_eq!(still.request_status(), Some("PENDING"), "{}", still.body);

    // A second run finds nothing left to close.
    let again = stack.sweep(0).await.unwrap();
    assert!(again.closed.is_empty(), "{again:?}");
    assert_eq!(again.checked, 1, "{again:?}");
    stack.stop().await;
}

/// An allowed call goes to the executor with its record handed over as written, and the
/// executor claims it with no read first. The claim is still the one conditional write that
/// lets a call run: the invocation replayed as the API sent it (a duplicated invocation), or
/// with a record forged to look approved again at the current version, runs nothing: one
/// claim, so one call; the request stays SUCCEEDED and its audit chain stays whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_handed_over_call_runs_once_whatever_invocation_is_replayed() {
    let stack = stack().await;
    let owner = agent(&stack, "ci-bot");
    create_table(&stack.sdk, "handed").await.unwrap();
    stack.start_trace();
    let a = owner
        .submit(
            &serde_json::json!({"action": "dynamodb:DescribeTable", "params": {"TableName": "handed"}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(a.request_status(), Some("SUCCEEDED"), "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_string();
    let executor = format!("Lambda.Invoke {}", stack.settings().executor_function);
    let trace = stack.take_trace();
    // The record is not read back anywhere on the way: the executor was handed it, and its
    // answer carries it back to the API.
    let reads: Vec<_> = trace
        .iter()
        .filter(|t| t.operation == "DynamoDB_20120810.GetItem")
        .collect();
    assert!(reads.is_empty(), "{reads:?}");
    let sent: Vec<serde_json::Value> = trace
        .iter()
        .filter(|t| t.operation == executor)
        .map(|t| serde_json::from_slice(t.request.as_deref().unwrap_or_default()).unwrap())
        .collect();
    assert_eq!(sent.len(), 1, "one invocation: {sent:?}");
    assert!(sent[0]["handover"]["doc"].is_string(), "{}", sent[0]);

    let invoke = |payload: serde_json::Value| {
        let url = format!(
            "{}/2015-03-31/functions/{}/invocations",
            stack.api_url,
            stack.settings().executor_function
        );
        async move {
            let r = reqwest::Client::new()
                .post(url)
                .json(&payload)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.unwrap()
        }
    };
    // Replayed exactly as sent: the stored record moved on, so the claim loses.
    let replayed = invoke(sent[0].clone()).await;
    assert_eq!(replayed["record"]["status"], "SUCCEEDED", "{replayed}");
    // Forged: today's version and chain head, with the status put back to APPROVED.
    let mut forged = store(&stack).get(&id).await.unwrap().unwrap();
    forged.status = tollgate_core::Status::Approved;
    forged.result = None;
    let payload = serde_json::json!({"request_id": id, "handover": {
        "seq": forged.seq, "doc": tollgate_aws::store::document(&forged).unwrap()}});
    let answered = invoke(payload).await;
    assert_eq!(answered["record"]["status"], "SUCCEEDED", "{answered}");

    let rec = store(&stack).get(&id).await.unwrap().unwrap();
    assert_eq!(rec.status.as_str(), "SUCCEEDED");
    let events = store(&stack).events(&id).await.unwrap();
    // The executor calls AWS only after a claim it won, and each claim is an
    // `execution_started` event: one claim, one call.
    let of = |kind: tollgate_core::EventKind| events.iter().filter(|e| e.kind == kind).count();
    assert_eq!(
        of(tollgate_core::EventKind::ExecutionStarted),
        1,
        "{events:?}"
    );
    assert_eq!(of(tollgate_core::EventKind::Executed), 1, "{events:?}");
    assert_chain_whole(&stack, &id).await;
    stack.stop().await;
}
