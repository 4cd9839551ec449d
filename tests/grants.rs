//! Grants end to end: one approval offering a grant lets the same call from the same agent
//! run again at once, each run a request of its own under the real state machine's executor
//! path against moto, until the grant is used up, revoked or expired; then the call is held
//! again and says why. Uses are counted by one conditional write in moto's DynamoDB.

use aws_sdk_dynamodb::types::AttributeValue;
use tollgate_cli::client::{Answer, Client};
use tollgate_core::record::Verdict;
use tollgate_e2e::*;
use tollgate_local::Stack;
use tollgate_local::demo::create_table;

const TABLE: &str = "grant-orders";

/// Reads run at once; a write needs one approval and may be granted again for up to 30
/// minutes and 5 uses; deleting an item grants nothing.
const POLICY: &str = r#"
@id("reads") permit (principal, action in Action::"Read", resource);
@id("writes") @approval("1") @grant_max("1800") @grant_uses_max("5")
permit (principal, action == Action::"dynamodb:PutItem", resource);
@id("deletes") @approval("1")
permit (principal, action == Action::"dynamodb:DeleteItem", resource);
"#;

async fn grant_stack() -> Stack {
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/grants".into();
        o.seed_ssm = vec![("/grants".into(), POLICY.into())];
    })
    .await;
    create_table(&stack.sdk, TABLE).await.unwrap();
    stack
}

fn put(id: &str, reason: &str) -> Value {
    json!({"action": "dynamodb:PutItem", "reason": reason,
           "params": {"TableName": TABLE, "Item": {"id": {"S": id}}}})
}

async fn submit(bot: &Client, body: &Value) -> Answer {
    bot.submit(body, None).await.unwrap()
}

/// A write approved by alice with a grant of `uses` within `minutes`; its id.
async fn approved_with_grant(
    stack: &Stack,
    bot: &Client,
    item: &str,
    uses: u64,
    minutes: u64,
) -> String {
    let a = submit(bot, &put(item, "first write")).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_string();
    let alice = approver(stack, "alice");
    let v = alice
        .approve_with_grant(&id, uses, minutes, Some("ok"))
        .await
        .unwrap();
    assert_eq!(v.status, 200, "{}", v.body);
    let done = bot.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.body["status"], "SUCCEEDED", "{}", done.body);
    id
}

fn kinds(a: &Answer) -> Vec<String> {
    event_kinds(a)
}

async fn outbox_of(stack: &Stack, kind: &str, grant_id: &str) -> Vec<Value> {
    Client::new(&stack.api_url, None)
        .local_outbox()
        .await
        .unwrap()
        .into_iter()
        .filter(|n| {
            n.pointer("/notice/type").and_then(Value::as_str) == Some(kind)
                && n.pointer("/notice/grant_id").and_then(Value::as_str) == Some(grant_id)
        })
        .collect()
}

async fn wait_for_outbox(stack: &Stack, kind: &str, grant_id: &str) -> Vec<Value> {
    for _ in 0..100 {
        let found = outbox_of(stack, kind, grant_id).await;
        if !found.is_empty() {
            return found;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    vec![]
}

async fn item_exists(stack: &Stack, id: &str) -> bool {
    aws_sdk_dynamodb::Client::new(&stack.sdk)
        .get_item()
        .table_name(TABLE)
        .key("id", AttributeValue::S(id.into()))
        .send()
        .await
        .unwrap()
        .item
        .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_approval_with_a_grant_of_three_runs_three_identical_writes_and_holds_the_fourth() {
    let stack = grant_stack().await;
    let bot = agent(&stack, "ci-bot");
    let alice = approver(&stack, "alice");

    // Terms beyond the policy's bound are refused naming the field, and nothing is recorded.
    let a = submit(&bot, &put("a", "first write")).await;
    let first = a.body["id"].as_str().unwrap().to_string();
    for (uses, minutes, field) in [(6, 10, "grant_uses"), (3, 31, "grant_minutes")] {
        let v = alice
            .approve_with_grant(&first, uses, minutes, None)
            .await
            .unwrap();
        assert_eq!(v.status, 403, "{}", v.body);
        assert_eq!(v.body["error"]["field"], field, "{}", v.body);
    }
    assert_eq!(
        bot.status(&first, 0).await.unwrap().body["status"],
        "PENDING"
    );
    let v = alice
        .approve_with_grant(&first, 3, 10, Some("ok"))
        .await
        .unwrap();
    assert_eq!(v.status, 200, "{}", v.body);
    assert_eq!(
        v.body["votes"][0]["grant"],
        json!({"uses": 3, "minutes": 10})
    );
    let done = bot.wait_final(&first, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.body["status"], "SUCCEEDED", "{}", done.body);
    let grant_id = format!("G{first}");

    // Three identical writes (only the reason differs) run at once, each its own request.
    let mut ids = vec![];
    for n in 1..=3 {
        let a = submit(&bot, &put("a", &format!("again, run {n}"))).await;
        assert_eq!(a.status, 200, "use {n}: {}", a.body);
        assert_eq!(a.body["status"], "SUCCEEDED", "{}", a.body);
        assert_eq!(a.body["grant"]["grant_id"], grant_id.as_str());
        assert_eq!(a.body["grant"]["number"], n);
        assert_eq!(a.body["grant"]["approvers"][0]["subject"], "alice");
        let id = a.body["id"].as_str().unwrap().to_string();
        assert_ne!(id, first);
        let full = bot.status(&id, 0).await.unwrap();
        let k = kinds(&full);
        assert!(k.contains(&"grant_used".to_string()), "{k:?}");
        assert!(
            !k.contains(&"notified".to_string()),
            "no approval asked: {k:?}"
        );
        let started = full.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "execution_started")
            .expect("run by the executor")
            .clone();
        // Scoped as usual: this action on this table only.
        let statement = &started["detail"]["session_policy"]["Statement"][0];
        assert_eq!(statement["Action"], "dynamodb:PutItem", "{started}");
        assert!(
            statement["Resource"]
                .to_string()
                .contains("table/grant-orders"),
            "{started}"
        );
        ids.push(id);
    }
    assert!(item_exists(&stack, "a").await);

    // Another item is another call: held, no grant mentioned.
    let other = submit(&bot, &put("b", "other item")).await;
    assert_eq!(other.status, 202, "{}", other.body);
    assert!(other.body["grant_not_used"].is_null(), "{}", other.body);
    // Another agent, the same call: held.
    let stranger = agent(&stack, "other-bot");
    assert_eq!(submit(&stranger, &put("a", "mine too")).await.status, 202);

    // The fourth use is held for approval and says why.
    let fourth = submit(&bot, &put("a", "a fourth time")).await;
    assert_eq!(fourth.status, 202, "{}", fourth.body);
    assert_eq!(
        fourth.body["grant_not_used"],
        json!({"grant_id": grant_id, "why": "used_up"})
    );

    // The approvers were told it is used up, once.
    let notices = wait_for_outbox(&stack, "grant_used_up", &grant_id).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0]["subject"]
            .as_str()
            .unwrap()
            .contains("is used up: 3 of 3")
    );

    // The agent lists its own grant; another agent none; the approver it.
    let mine = bot.grants().await.unwrap();
    assert_eq!(mine.status, 200, "{}", mine.body);
    let g = &mine.body["grants"][0];
    assert_eq!(g["id"], grant_id.as_str());
    assert_eq!(
        (g["uses"].as_u64(), g["max_uses"].as_u64()),
        (Some(3), Some(3))
    );
    assert_eq!(g["state"], "used_up");
    assert_eq!(stranger.grants().await.unwrap().body["grants"], json!([]));
    let theirs = alice.grants().await.unwrap();
    assert_eq!(theirs.body["grants"][0]["id"], grant_id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_and_expiry_stop_the_next_use_at_once() {
    let stack = grant_stack().await;
    let bot = agent(&stack, "ci-bot");
    let revoked = format!("G{}", approved_with_grant(&stack, &bot, "r", 5, 10).await);
    assert_eq!(submit(&bot, &put("r", "use")).await.status, 200);

    // Someone else's grant answers like a missing one; its agent may revoke it, once.
    let stranger = agent(&stack, "other-bot");
    assert_eq!(stranger.revoke_grant(&revoked).await.unwrap().status, 404);
    let r = bot.revoke_grant(&revoked).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["state"], "revoked");
    assert_eq!(bot.revoke_grant(&revoked).await.unwrap().status, 409);
    let held = submit(&bot, &put("r", "after revocation")).await;
    assert_eq!(held.status, 202, "{}", held.body);
    assert_eq!(held.body["grant_not_used"]["why"], "revoked");

    // An approver revokes another grant.
    let by_approver = format!("G{}", approved_with_grant(&stack, &bot, "s", 5, 10).await);
    let alice = approver(&stack, "alice");
    assert_eq!(alice.revoke_grant(&by_approver).await.unwrap().status, 200);
    assert_eq!(submit(&bot, &put("s", "after")).await.status, 202);

    // Expiry: the grant's time is moved into the past in moto (the clock every use reads is
    // the item's `expires_at`), so the next use is held, and the sweeper tells the approvers
    // once.
    let expired = format!("G{}", approved_with_grant(&stack, &bot, "t", 5, 10).await);
    assert_eq!(submit(&bot, &put("t", "in time")).await.status, 200);
    aws_sdk_dynamodb::Client::new(&stack.sdk)
        .update_item()
        .table_name(&stack.names.table)
        .key("pk", AttributeValue::S("GRANT".into()))
        .key("sk", AttributeValue::S(expired.clone()))
        .update_expression("SET expires_at = :past")
        .expression_attribute_values(
            ":past",
            AttributeValue::N((tollgate_aws::now_ms() - 1).to_string()),
        )
        .send()
        .await
        .unwrap();
    let late = submit(&bot, &put("t", "too late")).await;
    assert_eq!(late.status, 202, "{}", late.body);
    assert_eq!(late.body["grant_not_used"]["why"], "expired");
    let report = stack.sweep(3_600_000).await.unwrap();
    assert_eq!(report.grants_expired, vec![expired.clone()]);
    let notices = wait_for_outbox(&stack, "grant_expired", &expired).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert!(
        notices[0]["subject"]
            .as_str()
            .unwrap()
            .contains("expired with uses left: 1 of 5")
    );
    let again = stack.sweep(3_600_000).await.unwrap();
    assert!(again.grants_expired.is_empty(), "once per grant");
    // Revoked grants are not reported as expired.
    assert!(!report.grants_expired.contains(&revoked));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_uses_never_exceed_the_grant() {
    let stack = grant_stack().await;
    let bot = agent(&stack, "ci-bot");
    let grant_id = format!("G{}", approved_with_grant(&stack, &bot, "c", 3, 10).await);
    let body = put("c", "at once");
    let answers = futures::future::join_all((0..8).map(|_| bot.submit(&body, None))).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.as_ref().unwrap().status).collect();
    let ran = statuses.iter().filter(|s| **s == 200).count();
    let held = statuses.iter().filter(|s| **s == 202).count();
    assert_eq!((ran, held), (3, 5), "{statuses:?}");
    let g = &bot.grants().await.unwrap().body["grants"][0];
    assert_eq!(g["id"], grant_id.as_str());
    assert_eq!(g["uses"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_that_grants_nothing_gets_no_grant() {
    let stack = grant_stack().await;
    let bot = agent(&stack, "ci-bot");
    let del = json!({"action": "dynamodb:DeleteItem", "reason": "clean up",
                     "params": {"TableName": TABLE, "Key": {"id": {"S": "x"}}}});
    let a = submit(&bot, &del).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_string();
    let alice = approver(&stack, "alice");
    let v = alice.approve_with_grant(&id, 1, 1, None).await.unwrap();
    assert_eq!(v.status, 403, "{}", v.body);
    assert!(
        v.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("allows no grant")
    );
    let v = alice.vote(&id, Verdict::Approve, None).await.unwrap();
    assert_eq!(v.status, 200);
    bot.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(submit(&bot, &del).await.status, 202, "held again");
    assert_eq!(bot.grants().await.unwrap().body["grants"], json!([]));
}
