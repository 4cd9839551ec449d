//! Policy decision cost with 200 policies: the shipped set plus 190 realistic ones (per-team
//! permits, production forbids, business-hours rules, claim checks). Prints p50/p90/p99 of
//! the Cedar decision alone and of the whole classification (catalog lookup, resource ARNs,
//! decision). Run with `make bench`. The same again with rate rules (`context.recent`): three
//! of the 200 read the agent's counters, which every decision then carries in its context.

use std::time::{Duration, Instant};

use serde_json::json;
use tollgate_core::rate::{RecentCounts, Tally};
use tollgate_core::{Identity, Policy, PolicyInput, parse_new_request};
use tollgate_policy::{CedarPolicy, PolicySource, bundled_sources, classify_with_shadow};

/// The rate rules of docs/policy.md's worked example.
const RATE_RULES: &str = r#"
@id("deletes-run-at-once") permit (principal, action == Action::"s3:DeleteObject", resource)
when { context.recent.hour.action <= 5 };
@id("more-deletes-need-approval") @approval("1")
permit (principal, action == Action::"s3:DeleteObject", resource)
when { context.recent.hour.action > 5 };
@id("too-many-deletes") forbid (principal, action == Action::"s3:DeleteObject", resource)
when { context.recent.hour.action > 50 };
@id("denied-often") forbid (principal, action, resource)
when { context.recent.hour.denials > 20 || context.recent.day.service > 5000 };
"#;

const ITERATIONS: usize = 20_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn synthetic(n: usize) -> String {
    let services = [
        "dynamodb", "s3", "ec2", "lambda", "sqs", "sns", "kms", "rds", "logs", "ecs",
    ];
    let mut out = String::new();
    for i in 0..n {
        let svc = services[i % services.len()];
        let text = match i % 5 {
            0 => format!(
                "@id(\"team-{i}\") @approval(\"1\") @approvers(\"team-{i}\")\npermit (principal, action in Action::\"service:{svc}\", resource)\nwhen {{ resource.arn like \"*:team-{i}-*\" }};\n"
            ),
            1 => format!(
                "@id(\"prod-{i}\")\nforbid (principal, action in Action::\"service:{svc}\", resource)\nwhen {{ resource.arn like \"*:prod-{i}-*\" && context.accessLevel != \"Read\" }};\n"
            ),
            2 => format!(
                "@id(\"hours-{i}\") @approval(\"2\")\npermit (principal, action in Action::\"service:{svc}\", resource)\nwhen {{ context.hour < 7 && context.region == \"eu-west-{}\" }};\n",
                i % 3 + 1
            ),
            3 => format!(
                "@id(\"owner-{i}\")\npermit (principal, action in Action::\"service:{svc}\", resource)\nwhen {{ principal.hasTag(\"repository_owner\") && principal.getTag(\"repository_owner\") == \"org-{i}\" }};\n"
            ),
            _ => format!(
                "@id(\"group-{i}\") @approval(\"1\") @timeout(\"600\")\npermit (principal, action in Action::\"service:{svc}\", resource)\nwhen {{ principal.groups.contains(\"group-{i}\") && context.hasReason }};\n"
            ),
        };
        out.push_str(&text);
    }
    out
}

/// The shipped set, `extra`, and synthetic policies to make 200.
fn two_hundred(extra: &str) -> CedarPolicy {
    let mut sources = bundled_sources();
    sources.push(PolicySource::new("extra.cedar", extra));
    let so_far = CedarPolicy::new(&sources, 3600)
        .expect("valid policies")
        .policy_count();
    sources.push(PolicySource::new(
        "synthetic.cedar",
        synthetic(200 - so_far),
    ));
    let policy = CedarPolicy::new(&sources, 3600).expect("valid policies");
    assert_eq!(policy.policy_count(), 200);
    policy
}

fn main() {
    let plain = two_hundred("");
    let rated = two_hundred(RATE_RULES);
    assert!(rated.reads_recent_counts() && !plain.reads_recent_counts());
    let counts = RecentCounts {
        hour: Tally {
            requests: 30,
            denials: 2,
            by_action: [("s3:DeleteObject".to_string(), 7)].into(),
            by_service: [("s3".to_string(), 12), ("dynamodb".to_string(), 9)].into(),
            by_level: [("Write".to_string(), 20), ("Read".to_string(), 10)].into(),
        },
        day: Tally {
            requests: 300,
            ..Default::default()
        },
    };
    let none = RecentCounts::default();
    for (label, policy, recent) in [
        ("", &plain, &none),
        (
            ", 4 of them rate rules with the counters in context",
            &rated,
            &counts,
        ),
    ] {
        run_set(label, policy, recent);
    }
}

fn run_set(label: &str, policy: &CedarPolicy, recent: &RecentCounts) {
    let agent = Identity {
        issuer: "https://token.actions.githubusercontent.com".into(),
        subject: "acme/app:refs/heads/main".into(),
        name: "deploy".into(),
        groups: vec!["ci".into()],
        claims: [("repository_owner".to_string(), json!("acme"))].into(),
        ..Default::default()
    };
    println!(
        "## Policy decision, {} policies{label} ({ITERATIONS} runs each, one core)\n",
        policy.policy_count()
    );
    println!("| request | what is timed | p50 | p90 | p99 | per second |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (action, params) in [
        ("dynamodb:DescribeTable", json!({"TableName": "orders"})),
        ("dynamodb:DeleteTable", json!({"TableName": "orders"})),
        ("s3:GetObject", json!({"Bucket": "logs", "Key": "a/b"})),
        ("s3:DeleteObject", json!({"Bucket": "logs", "Key": "a/b"})),
    ] {
        let body = json!({"action": action, "params": params, "reason": "bench"});
        let req = parse_new_request(body.to_string().as_bytes(), "us-east-1").unwrap();
        let c = classify_with_shadow(
            policy,
            None,
            &req,
            &agent,
            "123456789012",
            1_790_000_000,
            "192.0.2.10",
            recent,
        )
        .unwrap();
        let input = PolicyInput {
            principal: &agent,
            action: &req.action,
            iam_actions: &c.iam_actions,
            region: &req.region,
            account: "123456789012",
            target: &req.target,
            resources: &c.resources,
            resources_known: c.resources_known,
            params: &req.params,
            reason: req.reason.as_deref(),
            now_secs: 1_790_000_000,
            source_ip: "192.0.2.10",
            recent,
        };
        let run = |label: &str, f: &mut dyn FnMut()| {
            for _ in 0..1000 {
                f();
            }
            let mut samples = Vec::with_capacity(ITERATIONS);
            for _ in 0..ITERATIONS {
                let t = Instant::now();
                f();
                samples.push(t.elapsed());
            }
            let total: Duration = samples.iter().sum();
            samples.sort();
            println!(
                "| {action} | {label} | {:.1} µs | {:.1} µs | {:.1} µs | {:.0} |",
                percentile(&samples, 0.5).as_secs_f64() * 1e6,
                percentile(&samples, 0.9).as_secs_f64() * 1e6,
                percentile(&samples, 0.99).as_secs_f64() * 1e6,
                ITERATIONS as f64 / total.as_secs_f64()
            );
        };
        run("decision", &mut || {
            std::hint::black_box(policy.decide(&input));
        });
        run("classification", &mut || {
            std::hint::black_box(
                classify_with_shadow(
                    policy,
                    None,
                    &req,
                    &agent,
                    "123456789012",
                    1_790_000_000,
                    "192.0.2.10",
                    recent,
                )
                .unwrap(),
            );
        });
    }
}
