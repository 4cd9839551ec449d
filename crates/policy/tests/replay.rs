//! Replaying recorded requests: a record is decided again on what it kept of its decision
//! (rate counts, time, caller address), not on what holds now; a plan step by step.

mod common;

use common::bot;

use serde_json::json;
use tollgate_core::plan::{PlanStep, Scope, parse_plan};
use tollgate_core::rate::RecentCounts;
use tollgate_core::replay::{Change, compare};
use tollgate_core::{Effect, RequestRecord, parse_new_request};
use tollgate_policy::replay::{NO_IAM_ACTIONS, replay};
use tollgate_policy::{CedarPolicy, PolicySource, classify_with_shadow, usage};

fn policy(text: &str) -> CedarPolicy {
    CedarPolicy::deployed(
        vec![PolicySource::new("p.cedar", text)],
        3600,
        Default::default(),
    )
    .unwrap()
}

const RATE: &str = r#"
@id("few-deletes") permit (principal, action == Action::"s3:DeleteObject", resource)
when { context.recent.hour.action <= 5 };
@id("more-deletes") @approval("1") permit (principal, action == Action::"s3:DeleteObject", resource)
when { context.recent.hour.action > 5 };
@id("office-hours") forbid (principal, action == Action::"s3:PutObject", resource)
when { context.hour < 8 || context.sourceIp != "192.0.2.10" };
@id("puts") permit (principal, action == Action::"s3:PutObject", resource);
"#;

/// A request as the API records it: classified by `enforced` with `recent` counts (the
/// request included), at `time`, from `ip`.
fn recorded(
    enforced: &CedarPolicy,
    body: serde_json::Value,
    recent: &RecentCounts,
    time: u64,
    ip: &str,
) -> RequestRecord {
    let req = parse_new_request(body.to_string().as_bytes(), "us-east-1").unwrap();
    let c = classify_with_shadow(
        enforced,
        None,
        &req,
        &bot(),
        "123456789012",
        time,
        ip,
        recent,
    )
    .unwrap();
    let (mut rec, _) = RequestRecord::new(
        "R1".into(),
        req,
        bot(),
        c.decision,
        c.iam_actions,
        c.resources,
        time * 1000,
    );
    rec.context = Some(c.context);
    rec
}

fn sixth_delete() -> RecentCounts {
    let u = usage(&tollgate_core::Action::parse("s3:DeleteObject").unwrap()).unwrap();
    (0..6).fold(RecentCounts::default(), |c, _| c.counting(&u))
}

// 2026-09-21 14:00 UTC.
const AFTERNOON: u64 = 1_790_000_000 - 1_790_000_000 % 3600;

#[test]
fn a_record_is_decided_again_on_the_counts_it_saw() {
    let enforced = policy(RATE);
    let delete = json!({"action": "s3:DeleteObject", "params": {"Bucket": "logs", "Key": "a"}, "reason": "r"});
    let rec = recorded(&enforced, delete, &sixth_delete(), AFTERNOON, "192.0.2.10");
    assert_eq!(rec.decision.policy_ids, ["more-deletes"]);
    let kept = rec.context.as_ref().unwrap().recent.as_ref().unwrap();
    assert_eq!(kept.hour.action("s3:DeleteObject"), 6);
    // The enforced set decides it as it did: held for the sixth delete.
    let same = replay(&enforced, &rec).unwrap();
    assert!(same.with_context);
    assert_eq!(compare(&same.old, &same.new), Change::Unchanged, "{same:?}");
    // A candidate allowing ten an hour would have let it run.
    let ten = policy(&RATE.replace("<= 5", "<= 10").replace("> 5", "> 10"));
    let r = replay(&ten, &rec).unwrap();
    assert_eq!(compare(&r.old, &r.new), Change::Effect);
    assert_eq!(
        (r.new.effect.clone(), r.new.policy_ids.clone()),
        (Effect::Allow, vec!["few-deletes".to_string()])
    );
    // Without its context the record is replayed with counts of 0, and says so.
    let mut old = rec.clone();
    old.context = None;
    let r = replay(&enforced, &old).unwrap();
    assert!(!r.with_context);
    assert_eq!(r.new.policy_ids, ["few-deletes"]);
}

#[test]
fn time_and_caller_address_are_the_recorded_ones() {
    let enforced = policy(RATE);
    let put = json!({"action": "s3:PutObject", "params": {"Bucket": "logs", "Key": "a"}});
    let rec = recorded(
        &enforced,
        put.clone(),
        &Default::default(),
        AFTERNOON,
        "192.0.2.10",
    );
    assert_eq!(rec.decision.effect, Effect::Allow);
    let r = replay(&enforced, &rec).unwrap();
    assert_eq!(compare(&r.old, &r.new), Change::Unchanged, "{r:?}");
    // From elsewhere it was denied, and replays denied.
    let away = recorded(
        &enforced,
        put,
        &Default::default(),
        AFTERNOON,
        "198.51.100.7",
    );
    assert_eq!(away.decision.effect, Effect::Deny);
    let r = replay(&enforced, &away).unwrap();
    assert_eq!(r.new.effect, Effect::Deny);
    assert_eq!(r.new.policy_ids, ["office-hours"]);
    // A record without IAM actions cannot be decided again.
    let mut bare = rec.clone();
    bare.iam_actions.clear();
    assert_eq!(replay(&enforced, &bare).unwrap_err(), NO_IAM_ACTIONS);
}

#[test]
fn a_plan_is_replayed_step_by_step() {
    let enforced = policy(
        r#"@id("reads") permit (principal, action in Action::"Read", resource);
@id("writes") @approval("1") permit (principal, action in Action::"Write", resource);"#,
    );
    let body = json!({"reason": "migrate", "steps": [
        {"action": "dynamodb:DescribeTable", "params": {"TableName": "orders"}},
        {"action": "dynamodb:UpdateTable", "params": {"TableName": "orders", "BillingMode": "PAY_PER_REQUEST"}}
    ]});
    let plan = parse_plan(body.to_string().as_bytes(), "us-east-1", 10).unwrap();
    let steps: Vec<PlanStep> = plan
        .steps
        .iter()
        .map(|s| {
            let c = classify_with_shadow(
                &enforced,
                None,
                s,
                &bot(),
                "123456789012",
                AFTERNOON,
                "",
                &Default::default(),
            )
            .unwrap();
            let mut step = PlanStep::new(
                s.clone(),
                c.decision,
                Scope {
                    iam_actions: c.iam_actions,
                    resources: c.resources,
                    action_resources: c.action_resources,
                },
            );
            step.context = Some(c.context);
            step
        })
        .collect();
    let (rec, _) = RequestRecord::new_plan("P1".into(), plan, steps, bot(), AFTERNOON * 1000);
    assert_eq!(rec.decision.required_approvals(), 1);
    let same = replay(&enforced, &rec).unwrap();
    assert_eq!(compare(&same.old, &same.new), Change::Unchanged, "{same:?}");
    assert_eq!(same.step, None);
    // Reads held too: the plan still needs one approval, decided now also by `reads`.
    let held_reads = policy(
        r#"@id("reads") @approval("1") permit (principal, action in Action::"Read", resource);
@id("writes") @approval("2") permit (principal, action in Action::"Write", resource);"#,
    );
    let r = replay(&held_reads, &rec).unwrap();
    assert_eq!(r.step, Some(0), "the first step changed first");
    assert_eq!(compare(&r.old, &r.new), Change::Approvals);
    assert_eq!(r.new.required_approvals(), 2);
    assert!(r.with_context);
}
