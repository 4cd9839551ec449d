//! Rate rules: policies reading `context.recent`, with the worked example of docs/policy.md
//! taken from the page itself.

mod common;

use common::bot;

use serde_json::json;
use tollgate_core::rate::{RecentCounts, Tally};
use tollgate_core::{Decision, Effect, Policy, parse_new_request};
use tollgate_policy::{CedarPolicy, PolicySource, classify_with_shadow, validate};

const POLICY_DOC: &str = include_str!("../../../docs/policy.md");

/// The Cedar block of docs/policy.md that holds `first` policy id.
fn documented(first: &str) -> String {
    let start = POLICY_DOC
        .find(&format!("@id(\"{first}\")"))
        .expect("the example is in docs/policy.md");
    let len = POLICY_DOC[start..].find("```").expect("the block ends");
    POLICY_DOC[start..start + len].to_string()
}

fn hour(t: Tally) -> RecentCounts {
    RecentCounts {
        hour: t,
        day: Default::default(),
    }
}

fn decide(
    p: &dyn Policy,
    action: &str,
    params: serde_json::Value,
    recent: &RecentCounts,
) -> Decision {
    let body = json!({"action": action, "params": params, "reason": "r"});
    let req = parse_new_request(body.to_string().as_bytes(), "us-east-1").unwrap();
    classify_with_shadow(
        p,
        None,
        &req,
        &bot(),
        "123456789012",
        1_790_000_000,
        "",
        recent,
    )
    .unwrap()
    .decision
}

fn deletes(n: u64) -> RecentCounts {
    hour(Tally {
        requests: n,
        by_action: [("s3:DeleteObject".to_string(), n)].into(),
        by_service: [("s3".to_string(), n)].into(),
        by_level: [("Write".to_string(), n)].into(),
        ..Default::default()
    })
}

#[test]
fn five_deletes_an_hour_run_at_once_more_need_approval_more_than_fifty_are_denied() {
    let text = documented("deletes-run-at-once");
    let sources = [PolicySource::new("rate.cedar", text)];
    assert_eq!(
        validate(&sources),
        Ok(3),
        "the example validates against the schema"
    );
    let p = CedarPolicy::new(&sources, 900).unwrap();
    assert!(p.reads_recent_counts());
    let params = json!({"Bucket": "logs", "Key": "old/1"});
    let mut effects = Vec::new();
    for n in 1..=60 {
        let d = decide(&p, "s3:DeleteObject", params.clone(), &deletes(n));
        effects.push(match d.effect {
            Effect::Allow => "allow".to_string(),
            Effect::Approval { approvals, .. } => format!("approval:{approvals}"),
            Effect::Deny => "deny".to_string(),
        });
        if n == 6 {
            assert_eq!(d.policy_ids, ["more-deletes-need-approval"]);
        }
        if n == 51 {
            assert_eq!(d.policy_ids, ["too-many-deletes"]);
            assert!(d.reason.contains("more than 50"), "{}", d.reason);
        }
    }
    let count = |e: &str| effects.iter().filter(|x| *x == e).count();
    assert_eq!(
        (count("allow"), count("approval:1"), count("deny")),
        (5, 45, 10)
    );
    assert!(effects[..5].iter().all(|e| e == "allow"));
    assert!(effects[50..].iter().all(|e| e == "deny"));
    // Other calls of the same agent do not count towards the deletions.
    let busy = hour(Tally {
        requests: 500,
        by_action: [("s3:DeleteObject".to_string(), 2)].into(),
        ..Default::default()
    });
    assert_eq!(
        decide(&p, "s3:DeleteObject", params, &busy).effect,
        Effect::Allow
    );
}

#[test]
fn policies_see_each_window_by_service_level_and_denials() {
    let p = CedarPolicy::new(
        &[PolicySource::new(
            "t.cedar",
            r#"
            @id("writes") permit (principal, action in Action::"Write", resource);
            @id("busy-service") forbid (principal, action, resource)
            when { context.recent.hour.service > 100 };
            @id("many-writes-today") forbid (principal, action, resource)
            when { context.recent.day.accessLevel > 1000 };
            @id("denied-often") forbid (principal, action, resource)
            when { context.recent.hour.denials >= 3 || context.recent.day.requests > 5000 };
            "#,
        )],
        900,
    )
    .unwrap();
    let params = json!({"TableName": "t"});
    let ids = |recent: RecentCounts| {
        decide(&p, "dynamodb:DeleteTable", params.clone(), &recent).policy_ids
    };
    let one = |f: fn(&mut Tally)| {
        let mut t = Tally::default();
        f(&mut t);
        t
    };
    assert_eq!(ids(RecentCounts::default()), ["writes"]);
    let h = one(|t| {
        t.by_service.insert("dynamodb".into(), 101);
    });
    assert_eq!(ids(hour(h)), ["busy-service"]);
    let other_service = one(|t| {
        t.by_service.insert("s3".into(), 101);
    });
    assert_eq!(
        ids(hour(other_service)),
        ["writes"],
        "another service's count"
    );
    let d = one(|t| {
        t.by_level.insert("Write".into(), 1001);
    });
    assert_eq!(
        ids(RecentCounts {
            hour: Tally::default(),
            day: d
        }),
        ["many-writes-today"]
    );
    assert_eq!(ids(hour(one(|t| t.denials = 3))), ["denied-often"]);
    let d = one(|t| t.requests = 5001);
    assert_eq!(
        ids(RecentCounts {
            hour: Tally::default(),
            day: d
        }),
        ["denied-often"]
    );
}

#[test]
fn only_policies_that_read_counters_ask_for_them() {
    let plain = CedarPolicy::new(&tollgate_policy::bundled_sources(), 900).unwrap();
    assert!(
        !plain.reads_recent_counts(),
        "the shipped set counts nothing"
    );
}
