//! Policies loaded from SSM and S3 decide live requests; approver groups from a policy are
//! enforced; an invalid policy stops the API from starting.

use tollgate_cli::client::Client;
use tollgate_core::record::Verdict;
use tollgate_e2e::*;
use tollgate_local::demo::wait_for_notice;
use tollgate_local::issuer::MintRequest;

const POLICY: &str = r#"
@id("reads")
permit (principal, action in Action::"Read", resource);

@id("no-deletes") @reason("tables are never deleted by agents")
forbid (principal, action == Action::"dynamodb:DeleteTable", resource);

@id("writes-by-dba") @approval("1") @approvers("dba")
permit (principal, action in Action::"Write", resource);
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_from_ssm_decide_and_name_their_approvers() {
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/tollgate/policies".into();
        o.seed_ssm = vec![("/tollgate/policies".into(), POLICY.into())];
    })
    .await;
    tollgate_local::demo::create_table(&stack.sdk, "orders")
        .await
        .unwrap();
    let bot = agent(&stack, "ci-bot");
    let a = bot
        .submit(
            &json!({"action": "dynamodb:DescribeTable", "params": {"TableName": "orders"}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (a.status, a.body["decision"]["policy_ids"][0].as_str()),
        (200, Some("reads")),
        "{}",
        a.body
    );

    let a = bot.submit(&json!({"action": "dynamodb:DeleteTable", "params": {"TableName": "orders"}, "reason": "x"}), None).await.unwrap();
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.body["error"]["policy_ids"], json!(["no-deletes"]));
    assert!(
        a.body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("never deleted"),
        "{}",
        a.body
    );

    let a = bot
        .submit(&json!({"action": "dynamodb:UpdateTable", "params": {"TableName": "orders", "BillingMode": "PAY_PER_REQUEST"}, "reason": "x"}), None)
        .await
        .unwrap();
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(
        a.body["decision"]["requirements"],
        json!([{"group": "dba", "approvals": 1}])
    );
    let id = a.body["id"].as_str().unwrap();
    // An approver outside the named group cannot vote; one inside can.
    let r = approver(&stack, "alice")
        .vote(id, Verdict::Approve, None)
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.error_code()),
        (403, Some("forbidden")),
        "{}",
        r.body
    );
    let dba = stack
        .mint(&MintRequest {
            sub: "dana".into(),
            approver: true,
            groups: Some(vec!["approvers".into(), "dba".into()]),
            ..Default::default()
        })
        .unwrap();
    let r = Client::new(&stack.api_url, Some(dba))
        .vote(id, Verdict::Approve, None)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let done = bot.wait_final(id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);

    // Writes to other services are Write too, but nothing here permits IAM's permission changes.
    let a = bot.submit(&json!({"action": "iam:AttachRolePolicy", "params": {"RoleName": "r", "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}, "reason": "x"}), None).await.unwrap();
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(
        a.body["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("no policy permits"),
        "{}",
        a.body
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_from_s3() {
    let stack = stack_with(|o| {
        o.policy_source = "s3://policies/tollgate/all.cedar".into();
        o.seed_s3 = vec![(
            "policies".into(),
            "tollgate/all.cedar".into(),
            POLICY.into(),
        )];
    })
    .await;
    let a = agent(&stack, "ci-bot")
        .submit(
            &json!({"action": "dynamodb:DeleteTable", "params": {"TableName": "t"}, "reason": "x"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        (a.status, a.body["error"]["policy_ids"][0].as_str()),
        (403, Some("no-deletes")),
        "{}",
        a.body
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_policy_stops_the_start() {
    let opts = tollgate_local::StackOptions {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        policy_source: "ssm:/tollgate/policies".into(),
        seed_ssm: vec![(
            "/tollgate/policies".into(),
            "@id(\"a\")\npermit (principal, action, resource) when { context.hour > };".into(),
        )],
        ..Default::default()
    };
    let err = match tollgate_local::Stack::start(opts).await {
        Ok(_) => panic!("a stack with an invalid policy must not start"),
        Err(e) => e,
    };
    assert!(err.contains("ssm:/tollgate/policies:2:"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_see_the_callers_address() {
    let text = r#"
        @id("from-loopback") permit (principal, action in Action::"List", resource) when { context.sourceIp == "127.0.0.1" };
        @id("from-office") permit (principal, action in Action::"Read", resource) when { context.sourceIp == "198.51.100.7" };
    "#;
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/p".into();
        o.seed_ssm = vec![("/p".into(), text.into())];
    })
    .await;
    let bot = agent(&stack, "ci-bot");
    let a = bot
        .submit(&json!({"action": "dynamodb:ListTables"}), None)
        .await
        .unwrap();
    assert_eq!(
        (a.status, a.body["decision"]["policy_ids"][0].as_str()),
        (200, Some("from-loopback")),
        "{}",
        a.body
    );
    let a = bot
        .submit(
            &json!({"action": "dynamodb:DescribeTable", "params": {"TableName": "t"}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(a.status, 403, "{}", a.body);
    stack.stop().await;
}

/// The review's tie on a live stack: the shipped policies plus an operator's `security-iam`
/// (two approvals from `security`). Before, the shipped `permissions-two-approvals` sorted
/// first and decided alone, so any two approvers could approve IAM changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operators_security_group_holds_beside_the_shipped_policies() {
    let policies = [
        include_str!("../infra/policies/default.cedar"),
        include_str!("../infra/policies/forbid.cedar"),
        r#"@id("security-iam") @approval("2") @approvers("security")
           permit (principal, action in Action::"Permissions management", resource);"#,
    ]
    .join("\n");
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/tollgate/policies".into();
        o.seed_ssm = vec![("/tollgate/policies".into(), policies)];
    })
    .await;
    let bot = agent(&stack, "ci-bot");
    let a = bot
        .submit(
            &json!({"action": "iam:CreateUser", "params": {"UserName": "deployer"}, "reason": "a user for the deploy job"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(
        a.body["decision"]["requirements"],
        json!([{"group": "security", "approvals": 2}]),
        "{}",
        a.body
    );
    let id = a.body["id"].as_str().unwrap();
    // Two approvers outside security make no quorum: neither may vote.
    for who in ["alice", "bob"] {
        let r = approver(&stack, who)
            .vote(id, Verdict::Approve, None)
            .await
            .unwrap();
        assert_eq!(r.status, 403, "{who}: {}", r.body);
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("`security`"),
            "{}",
            r.body
        );
    }
    let security = |sub: &str| {
        Client::new(
            &stack.api_url,
            Some(
                stack
                    .mint(&MintRequest {
                        sub: sub.into(),
                        approver: true,
                        groups: Some(vec!["approvers".into(), "security".into()]),
                        ..Default::default()
                    })
                    .unwrap(),
            ),
        )
    };
    let r = security("sam")
        .vote(id, Verdict::Approve, None)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "PENDING");
    assert_eq!(
        r.body["approvals_progress"],
        json!([{"group": "security", "approvals": 2, "have": 1}])
    );
    let r = security("sue")
        .vote(id, Verdict::Approve, None)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let done = bot.wait_final(id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);
    stack.stop().await;
}

/// An operation spelled in another case ran the real operation while policy saw the odd
/// spelling, so a rule on `context.operation` did not match. Such spellings are refused, with
/// the right one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_must_be_spelled_exactly() {
    let text = r#"
        @id("writes") @approval("1") permit (principal, action in Action::"Write", resource);
        @id("no-table-deletes") forbid (principal, action, resource)
        when { context.operation == "dynamodb:DeleteTable" };
    "#;
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/p".into();
        o.seed_ssm = vec![("/p".into(), text.into())];
    })
    .await;
    let bot = agent(&stack, "ci-bot");
    for path in ["/v1/requests", "/v1/explain", "/v1/decisions"] {
        for spelling in ["dynamodb:DELETETABLE", "dynamodb:Deletetable"] {
            let body = json!({"action": spelling, "params": {"TableName": "t"}, "reason": "x"});
            let r = raw(
                &stack,
                "POST",
                path,
                Some(&stack.token("ci-bot", false).unwrap()),
                &[("content-type", "application/json")],
                body.to_string().into_bytes(),
            )
            .await;
            assert_eq!(r.status, 400, "{path} {spelling}: {}", r.body);
            assert_eq!(r.body["error"]["field"], "action");
            assert!(
                r.body["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("use `dynamodb:DeleteTable`"),
                "{}",
                r.body
            );
        }
    }
    let a = bot
        .submit(
            &json!({"action": "dynamodb:DeleteTable", "params": {"TableName": "t"}, "reason": "x"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.body["error"]["policy_ids"], json!(["no-table-deletes"]));
    stack.stop().await;
}

/// Two approvals from either `dba` or `security`, one of them a DBA (two policies, both hold),
/// on a live stack: who may vote, what is still needed after each vote, and the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_from_either_group_with_one_dba() {
    let text = r#"
        @id("reads") permit (principal, action in Action::"Read", resource);
        @id("two-from-either") @approval("2") @approvers("dba or security")
        permit (principal, action in Action::"Write", resource);
        @id("one-dba") @approval("1") @approvers("dba")
        permit (principal, action == Action::"dynamodb:UpdateTable", resource);
    "#;
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/p".into();
        o.seed_ssm = vec![("/p".into(), text.into())];
    })
    .await;
    tollgate_local::demo::create_table(&stack.sdk, "orders")
        .await
        .unwrap();
    let bot = agent(&stack, "ci-bot");
    let a = bot
        .submit(&json!({"action": "dynamodb:UpdateTable", "params": {"TableName": "orders", "BillingMode": "PAY_PER_REQUEST"}, "reason": "on-demand billing"}), None)
        .await
        .unwrap();
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(
        a.body["decision"]["requirements"],
        json!([{"group": "dba", "approvals": 1}, {"groups": ["dba", "security"], "approvals": 2}]),
        "{}",
        a.body
    );
    let id = a.body["id"].as_str().unwrap();
    let member = |sub: &str, group: &str| {
        let token = stack
            .mint(&MintRequest {
                sub: sub.into(),
                approver: true,
                groups: Some(vec!["approvers".into(), group.into()]),
                ..Default::default()
            })
            .unwrap();
        Client::new(&stack.api_url, Some(token))
    };
    let approve = |c: Client| async move { c.vote(id, Verdict::Approve, None).await.unwrap() };
    let refusal = |r: &tollgate_cli::client::Answer| {
        assert_eq!(r.status, 403, "{}", r.body);
        r.body["error"]["message"].as_str().unwrap().to_string()
    };
    let r = approve(approver(&stack, "alice")).await;
    assert!(
        refusal(&r).contains("only members of `dba` or `security`"),
        "{}",
        r.body
    );
    let r = approve(member("sam", "security")).await;
    assert_eq!(
        (r.status, r.body["status"].as_str()),
        (200, Some("PENDING")),
        "{}",
        r.body
    );
    assert_eq!(
        r.body["approvals_progress"],
        json!([{"group": "dba", "approvals": 1, "have": 0},
               {"groups": ["dba", "security"], "approvals": 2, "have": 1}])
    );
    // After a second from security only the DBA is missing: a third is refused, saying so.
    assert_eq!(approve(member("sue", "security")).await.status, 200);
    let r = approve(member("sid", "security")).await;
    assert!(
        refusal(&r).ends_with("still needs 1 from `dba`"),
        "{}",
        r.body
    );
    let r = approve(member("dan", "dba")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let done = bot.wait_final(id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);
    stack.stop().await;
}

/// Shadow policies (here from S3) decide every request beside the enforced ones (from SSM):
/// what they would have decided is recorded with the request and counted, never enforced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_policies_are_recorded_and_counted_never_enforced() {
    let enforced = r#"
        @id("reads") permit (principal, action in Action::"Read", resource);
        @id("writes") @approval("1") permit (principal, action in Action::"Write", resource);
    "#;
    // The candidate: reads need an approval, table deletes are forbidden.
    let candidate = r#"
        @id("reads-held") @approval("1") permit (principal, action in Action::"Read", resource);
        @id("writes") @approval("1") permit (principal, action in Action::"Write", resource);
        @id("no-deletes") forbid (principal, action == Action::"dynamodb:DeleteTable", resource);
    "#;
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/p".into();
        o.seed_ssm = vec![("/p".into(), enforced.into())];
        o.shadow_policy_source = "s3://policies/shadow.cedar".into();
        o.seed_s3 = vec![("policies".into(), "shadow.cedar".into(), candidate.into())];
    })
    .await;
    tollgate_local::demo::create_table(&stack.sdk, "orders")
        .await
        .unwrap();
    let bot = agent(&stack, "ci-bot");
    // Enforced: the read runs at once although the shadow set would have held it.
    let a = bot
        .submit(
            &json!({"action": "dynamodb:DescribeTable", "params": {"TableName": "orders"}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.request_status(), Some("SUCCEEDED"), "{}", a.body);
    let id = a.body["id"].as_str().unwrap();
    let got = bot.status(id, 0).await.unwrap();
    assert_eq!(got.body["decision"]["effect"], "allow", "{}", got.body);
    assert_eq!(got.body["shadow"]["effect"], "approval", "{}", got.body);
    assert_eq!(got.body["shadow"]["policy_ids"], json!(["reads-held"]));
    // Enforced: the delete waits for approval; the shadow set would have refused it.
    let a = bot
        .submit(&json!({"action": "dynamodb:DeleteTable", "params": {"TableName": "orders"}, "reason": "cleanup"}), None)
        .await
        .unwrap();
    assert_eq!(a.status, 202, "{}", a.body);
    let id = a.body["id"].as_str().unwrap();
    let got = bot.status(id, 0).await.unwrap();
    assert_eq!(got.body["status"], "PENDING", "{}", got.body);
    assert_eq!(got.body["shadow"]["effect"], "deny", "{}", got.body);
    assert_eq!(got.body["shadow"]["policy_ids"], json!(["no-deletes"]));
    let lines = stack.metrics();
    for (enforced, shadow) in [("allow", "approval:1"), ("approval", "deny")] {
        let needle = format!(r#""Decision":"{enforced}","Shadow":"{shadow}""#);
        assert!(
            lines
                .iter()
                .any(|l| l.contains("ShadowDecisions") && l.contains(&needle)),
            "no ShadowDecisions line with {needle}: {lines:#?}"
        );
    }
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_shadow_set_stops_the_start_and_none_records_nothing() {
    let dir = std::env::temp_dir().join(format!("tollgate-shadow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("bad.cedar"),
        "@id(\"a\") @approval(\"x\") permit (principal, action, resource);",
    )
    .unwrap();
    let opts = tollgate_local::StackOptions {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        shadow_policy_source: format!("dir:{}", dir.display()),
        ..Default::default()
    };
    let err = match tollgate_local::Stack::start(opts).await {
        Ok(_) => panic!("a stack with invalid shadow policies must not start"),
        Err(e) => e,
    };
    assert!(
        err.contains("shadow policies") && err.contains("bad.cedar"),
        "{err}"
    );
    let stack = stack_with(|_| {}).await;
    let a = agent(&stack, "ci-bot")
        .submit(&json!({"action": "dynamodb:ListTables"}), None)
        .await
        .unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.get("shadow").is_none(), "{}", a.body);
    stack.stop().await;
}

/// Rate counters under concurrency: 100 requests of one agent sent at once, each counted
/// exactly once with its own count, so exactly the first ten of the hour run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_requests_at_once_are_each_counted_once() {
    use tollgate_aws::ports::RateCounters;
    let policies = r#"
        @id("ten-an-hour") permit (principal, action == Action::"dynamodb:DescribeTable", resource)
        when { context.recent.hour.action <= 10 };
        @id("too-many") forbid (principal, action == Action::"dynamodb:DescribeTable", resource)
        when { context.recent.hour.action > 10 };
        @id("lists") permit (principal, action in Action::"List", resource);
    "#;
    // Counts are per clock hour: a burst across the top of the hour would split in two.
    let into_hour = tollgate_aws::now_ms() / 1000 % 3600;
    if into_hour > 3540 {
        tokio::time::sleep(std::time::Duration::from_secs(3605 - into_hour)).await;
    }
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/p".into();
        o.seed_ssm = vec![("/p".into(), policies.into())];
    })
    .await;
    tollgate_local::demo::create_table(&stack.sdk, "orders")
        .await
        .unwrap();
    let bot = agent(&stack, "busy-bot");
    let body = json!({"action": "dynamodb:DescribeTable", "params": {"TableName": "orders"}});
    // Sent raw, without the typed client's 60 s timeout: on a loaded machine a hundred
    // requests queue behind the emulator's serialised writes for longer than that.
    let token = stack.token("busy-bot", false).unwrap();
    let headers = [("content-type", "application/json")];
    let answers = futures::future::join_all((0..100).map(|_| {
        raw(
            &stack,
            "POST",
            "/v1/requests",
            Some(&token),
            &headers,
            body.to_string().into_bytes(),
        )
    }))
    .await;
    let mut by_status = std::collections::BTreeMap::<u16, usize>::new();
    let mut ran = None;
    for a in &answers {
        *by_status.entry(a.status).or_default() += 1;
        if a.status == 200 {
            assert_eq!(a.request_status(), Some("SUCCEEDED"), "{}", a.body);
            ran = a.body["id"].as_str().map(str::to_string);
        } else {
            assert_eq!(a.status, 403, "{}", a.body);
            assert_eq!(a.body["error"]["code"], "denied", "{}", a.body);
            assert_eq!(
                a.body["error"]["policy_ids"],
                json!(["too-many"]),
                "{}",
                a.body
            );
        }
    }
    assert_eq!(by_status, [(200, 10), (403, 90)].into(), "{answers:#?}");
    // The counter item as the adapter reads it: 100 requests, 90 denials, nothing else.
    let sdk = tollgate_local::emulator_sdk(&stack.api_url, &stack.names.region).await;
    let store = tollgate_aws::store::Store::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        stack.names.table.clone(),
    );
    use tollgate_aws::ports::RequestReader;
    let rec = store.get(&ran.expect("one ran")).await.unwrap().unwrap();
    let counts = store
        .recent_counts(&rec.agent.key(), rec.created_at / 1000)
        .await
        .unwrap();
    for w in [&counts.hour, &counts.day] {
        assert_eq!(
            (
                w.requests,
                w.action("dynamodb:DescribeTable"),
                w.service("dynamodb"),
                w.level("Read"),
                w.denials
            ),
            (100, 100, 100, 100, 90),
            "{counts:?}"
        );
    }
    // A list call of the same agent is counted beside them, not as one of them.
    let a = bot
        .submit(&json!({"action": "dynamodb:ListTables"}), None)
        .await
        .unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    let counts = store
        .recent_counts(&rec.agent.key(), tollgate_aws::now_ms() / 1000)
        .await
        .unwrap();
    assert_eq!(
        (
            counts.hour.requests,
            counts.hour.action("dynamodb:DescribeTable"),
            counts.hour.service("dynamodb")
        ),
        (101, 100, 101)
    );
    stack.stop().await;
}

/// Break-glass on the live stack: a member of `oncall` approves her own agent's request
/// alone; the call runs in the real state machine, the notice reaches the approval topic and
/// the alarm topic, a second approver acknowledges it; a second use nobody acknowledges makes
/// the sweeper alarm, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn break_glass_runs_the_call_loudly_and_an_unacknowledged_use_alarms() {
    let text = r#"
        @id("reads") permit (principal, action in Action::"Read", resource);
        @id("drops-need-two-dbas") @approval("2") @approvers("dba")
        @breakglass("oncall") @breakglass_justification("30")
        permit (principal, action == Action::"dynamodb:DeleteTable", resource);
    "#;
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/p".into();
        o.seed_ssm = vec![("/p".into(), text.into())];
        // Short, so the second use is overdue within the test.
        o.breakglass_ack_seconds = 2;
    })
    .await;
    for t in ["orders", "users"] {
        tollgate_local::demo::create_table(&stack.sdk, t)
            .await
            .unwrap();
    }
    let member = |sub: &str, groups: &[&str]| {
        let token = stack
            .mint(&MintRequest {
                sub: sub.into(),
                approver: true,
                groups: Some(groups.iter().map(|g| g.to_string()).collect()),
                ..Default::default()
            })
            .unwrap();
        Client::new(&stack.api_url, Some(token))
    };
    // Olga's agent: the same principal as Olga the approver.
    let bot = agent(&stack, "olga");
    let olga = member("olga", &["approvers", "oncall"]);
    let dan = member("dan", &["approvers", "dba"]);
    let why = "orders is corrupt after the bad migration; dropping it to restore";
    let drop = |table: &str| json!({"action": "dynamodb:DeleteTable", "params": {"TableName": table}, "reason": "restore"});

    let a = bot.submit(&drop("orders"), None).await.unwrap();
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(
        a.body["decision"]["breakglass"],
        json!({"groups": ["oncall"], "min_justification": 30})
    );
    let id = a.body["id"].as_str().unwrap().to_string();
    let shown = olga.status(&id, 0).await.unwrap();
    let hash = shown.body["request_hash"].as_str().unwrap().to_string();
    // The workflow must be waiting for the decision before it is made.
    wait_for_notice(&bot, &id, WAIT).await.unwrap();
    let r = olga.vote(&id, Verdict::Approve, None).await.unwrap();
    assert_eq!(
        (r.status, r.body["error"]["code"].as_str()),
        (403, Some("self_approval")),
        "{}",
        r.body
    );
    let r = olga.break_glass(&id, "urgent!", &hash).await.unwrap();
    assert_eq!(r.status, 400, "{}", r.body);
    let r = olga.break_glass(&id, why, &hash).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "APPROVED");

    let done = bot.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);
    assert_eq!(done.body["breakglass"]["justification"], why);
    let kinds: Vec<String> = done.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(kinds.contains(&"break_glass".into()), "{kinds:?}");
    // The notice reached both topics.
    let alarm_topic = stack.settings().alarm_topic_arn.clone().unwrap();
    let approval_topic = stack.settings().topic_arn.clone();
    let reached = |topic: &str, id: &str, kind: &str| {
        stack.outbox().iter().any(|n| {
            n["topic"] == topic && n["notice"]["request_id"] == id && n["notice"]["type"] == kind
        })
    };
    let deadline = std::time::Instant::now() + WAIT;
    while !(reached(&alarm_topic, &id, "breakglass_used")
        && reached(&approval_topic, &id, "breakglass_used"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "break-glass notices: {:?}",
            stack.outbox()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let notice = stack
        .outbox()
        .into_iter()
        .find(|n| n["topic"] == alarm_topic.as_str() && n["notice"]["request_id"] == id.as_str())
        .unwrap();
    assert_eq!(notice["notice"]["groups"], json!(["dba", "oncall"]));
    assert!(
        notice["subject"]
            .as_str()
            .unwrap()
            .starts_with("BREAK-GLASS"),
        "{notice}"
    );

    // Dan acknowledges; Olga could not; nor twice.
    let r = olga.acknowledge(&id).await.unwrap();
    assert_eq!(r.status, 403, "{}", r.body);
    let r = dan.acknowledge(&id).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["breakglass"]["acknowledged"]["by"]["subject"], "dan");
    assert_eq!(dan.acknowledge(&id).await.unwrap().status, 409);

    // A second use, never acknowledged: past its deadline the sweeper alarms, once.
    let a = bot.submit(&drop("users"), None).await.unwrap();
    let late = a.body["id"].as_str().unwrap().to_string();
    let late_hash = olga.status(&late, 0).await.unwrap().body["request_hash"]
        .as_str()
        .unwrap()
        .to_string();
    wait_for_notice(&bot, &late, WAIT).await.unwrap();
    let r = olga.break_glass(&late, why, &late_hash).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    bot.wait_final(&late, WAIT, |_| {}).await.unwrap();
    let report = stack.sweep(900_000).await.unwrap();
    assert!(
        report.breakglass_overdue.is_empty(),
        "not yet due: {report:?}"
    );
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    let report = stack.sweep(900_000).await.unwrap();
    assert_eq!(
        report.breakglass_overdue,
        std::slice::from_ref(&late),
        "{report:?}"
    );
    let alarmed = |id: &str| {
        stack
            .outbox()
            .iter()
            .filter(|n| {
                n["topic"] == alarm_topic.as_str()
                    && n["notice"]["request_id"] == id
                    && n["notice"]["type"] == "breakglass_overdue"
            })
            .count()
    };
    let deadline = std::time::Instant::now() + WAIT;
    while alarmed(&late) == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "overdue alarm: {:?}",
            stack.outbox()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let report = stack.sweep(900_000).await.unwrap();
    assert!(report.breakglass_overdue.is_empty(), "once: {report:?}");
    assert_eq!(alarmed(&id), 0, "the acknowledged use raises nothing");
    let trail = bot.status(&late, 0).await.unwrap();
    assert!(
        trail.body["events"]
            .to_string()
            .contains("break_glass_overdue"),
        "{}",
        trail.body
    );
    stack.stop().await;
}
