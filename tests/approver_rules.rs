//! Who is an approver, what an approver sees, and one person counting once: over real HTTP
//! against the local stack, with really signed tokens.

use jsonwebtoken::Algorithm;
use tollgate_aws::oidc::IssuerConfig;
use tollgate_cli::client::Client;
use tollgate_core::record::Verdict;
use tollgate_e2e::*;
use tollgate_local::Stack;
use tollgate_local::demo::create_table;
use tollgate_local::issuer::{AGENT_AUDIENCE, APPROVER_AUDIENCE, DevIssuer, MintRequest};

/// Reads run at once; deleting a table needs `approvals` approvals from `group`.
fn policy(approvals: u32, group: &str) -> String {
    format!(
        r#"
@id("reads") permit (principal, action in Action::"Read", resource);
@id("deletes") @approval("{approvals}") @approvers("{group}")
permit (principal, action == Action::"dynamodb:DeleteTable", resource);
"#
    )
}

/// An approver token (and a client with it) for `sub` in `groups`.
fn minted(stack: &Stack, sub: &str, groups: &[&str]) -> (String, Client) {
    let token = stack
        .mint(&MintRequest {
            sub: sub.into(),
            approver: true,
            groups: Some(groups.iter().map(|g| g.to_string()).collect()),
            ..Default::default()
        })
        .unwrap();
    (token.clone(), Client::new(&stack.api_url, Some(token)))
}

async fn get(token: &str, stack: &Stack, path: &str) -> tollgate_cli::client::Answer {
    raw(stack, "GET", path, Some(token), &[], vec![]).await
}

fn ids(listing: &tollgate_cli::client::Answer) -> Vec<String> {
    listing.body["requests"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", listing.body))
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approvers_see_only_requests_they_may_decide_or_decided() {
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/p".into();
        o.seed_ssm = vec![("/p".into(), policy(1, "dba"))];
    })
    .await;
    create_table(&stack.sdk, "orders").await.unwrap();
    let bot = agent(&stack, "ci-bot");
    let (alice, _) = minted(&stack, "alice", &["approvers"]);
    let (carol, carol_client) = minted(&stack, "carol", &["approvers", "dba"]);

    // A read ran at once: it had no approvers, so no approver sees it or its result.
    let read = bot
        .submit(
            &json!({"action": "dynamodb:DescribeTable", "params": {"TableName": "orders"}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(read.status, 200, "{}", read.body);
    let read_id = read.body["id"].as_str().unwrap().to_string();
    for who in [&alice, &carol] {
        let r = get(who, &stack, &format!("/v1/requests/{read_id}")).await;
        assert_eq!(r.status, 404, "{}", r.body);
    }

    let id = pending_delete(&bot, "orders").await;
    let r = get(&alice, &stack, &format!("/v1/requests/{id}")).await;
    assert_eq!(
        r.status, 404,
        "an approver outside `dba` sees nothing: {}",
        r.body
    );
    assert!(!ids(&get(&alice, &stack, "/v1/requests").await).contains(&id));
    let r = get(&carol, &stack, &format!("/v1/requests/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(ids(&get(&carol, &stack, "/v1/requests").await).contains(&id));

    let r = carol_client
        .vote(&id, Verdict::Approve, None)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let done = bot.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);
    assert!(done.body.get("result").is_some(), "{}", done.body);

    // The result is the requester's and its approvers' only.
    let r = get(&alice, &stack, &format!("/v1/requests/{id}")).await;
    assert_eq!(r.status, 404, "{}", r.body);
    let listed = get(&alice, &stack, "/v1/requests?status=succeeded").await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert!(
        ids(&listed).is_empty(),
        "alice lists nothing she could decide: {}",
        listed.body
    );
    let r = get(&carol, &stack, &format!("/v1/requests/{id}")).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["result"], done.body["result"]);
    assert_eq!(
        ids(&get(&carol, &stack, "/v1/requests?status=succeeded").await),
        vec![id.clone()]
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_an_approver_group_is_no_approver() {
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/p".into();
        o.seed_ssm = vec![("/p".into(), policy(1, "dba"))];
    })
    .await;
    create_table(&stack.sdk, "t").await.unwrap();
    let bot = agent(&stack, "ci-bot");
    let id = pending_delete(&bot, "t").await;
    // In the group the policy names, but not in the approver group of the issuer.
    let (outsider, outsider_client) = minted(&stack, "dana", &["dba"]);
    for path in ["/v1/requests".to_string(), format!("/v1/requests/{id}")] {
        let r = get(&outsider, &stack, &path).await;
        assert_eq!(
            (r.status, r.body["error"]["reason"].as_str()),
            (403, Some("not_an_approver")),
            "{path}: {}",
            r.body
        );
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("is not in an approver group (`approvers`)"),
            "{}",
            r.body
        );
    }
    let r = outsider_client
        .vote(&id, Verdict::Approve, None)
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.body["error"]["reason"].as_str()),
        (403, Some("not_an_approver")),
        "{}",
        r.body
    );
    let r = bot.status(&id, 0).await.unwrap();
    assert_eq!(r.body["votes"], json!([]), "{}", r.body);
    stack.stop().await;
}

/// Claims of a person's token at `issuer`.
fn person(issuer: &DevIssuer, aud: &str, sub: &str, email: &str, verified: bool) -> String {
    let now = jsonwebtoken::get_current_timestamp();
    issuer
        .sign(
            Algorithm::ES256,
            &json!({"iss": issuer.issuer(), "aud": aud, "sub": sub, "email": email,
                "email_verified": verified, "groups": ["approvers"], "exp": now + 600, "iat": now}),
        )
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_person_under_two_issuers_counts_once_and_never_approves_their_own_agent() {
    let by_email = |issuer: &str, aud: &str, approvers: bool| IssuerConfig {
        human_key_claim: Some("email".into()),
        approver_groups: if approvers {
            vec!["approvers".into()]
        } else {
            vec![]
        },
        ..IssuerConfig::new(issuer, aud)
    };
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/p".into();
        o.seed_ssm = vec![("/p".into(), policy(2, "approvers"))];
        o.agent_issuers = Some(vec![by_email("{api}/dev-idp", AGENT_AUDIENCE, false)]);
        // Okta and Google, say: the same people sign in to both.
        o.approver_issuers = Some(vec![
            by_email("{api}/dev-idp", APPROVER_AUDIENCE, true),
            by_email("{api}/dev-idp-b", APPROVER_AUDIENCE, true),
        ]);
    })
    .await;
    create_table(&stack.sdk, "t").await.unwrap();
    let (a, b) = (stack.issuer(), stack.second_issuer());
    let client = |token: String| Client::new(&stack.api_url, Some(token));
    // Bob's agent runs as Bob.
    let bot = client(person(
        a,
        AGENT_AUDIENCE,
        "bob-cli",
        "bob@example.com",
        true,
    ));
    let id = pending_delete(&bot, "t").await;

    let alice = client(person(
        a,
        APPROVER_AUDIENCE,
        "alice",
        "alice@example.com",
        true,
    ));
    let r = alice.vote(&id, Verdict::Approve, None).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["votes"][0]["approver"]["human"], "alice@example.com");
    // Alice again, through the other provider: still one person.
    let alice_b = client(person(
        b,
        APPROVER_AUDIENCE,
        "1029384756",
        "Alice@Example.com",
        true,
    ));
    let r = alice_b.vote(&id, Verdict::Approve, None).await.unwrap();
    assert_eq!(
        (r.status, r.error_code()),
        (409, Some("already_voted")),
        "{}",
        r.body
    );
    // An address the provider has not verified identifies nobody.
    let unverified = client(person(
        b,
        APPROVER_AUDIENCE,
        "mallory",
        "carol@example.com",
        false,
    ));
    let r = unverified.vote(&id, Verdict::Approve, None).await.unwrap();
    assert_eq!(
        (r.status, r.body["error"]["reason"].as_str()),
        (401, Some("unverified_claim")),
        "{}",
        r.body
    );
    // Bob, signed in as an approver elsewhere, cannot approve what his agent asked.
    let bob = client(person(b, APPROVER_AUDIENCE, "bob", "bob@example.com", true));
    let r = bob.vote(&id, Verdict::Approve, None).await.unwrap();
    assert_eq!(
        (r.status, r.error_code()),
        (403, Some("self_approval")),
        "{}",
        r.body
    );
    let r = bot.status(&id, 0).await.unwrap();
    assert_eq!(r.request_status(), Some("PENDING"), "{}", r.body);
    assert_eq!(r.body["votes"].as_array().unwrap().len(), 1);
    // A second person makes the quorum.
    let carol = client(person(
        b,
        APPROVER_AUDIENCE,
        "carol",
        "carol@example.com",
        true,
    ));
    assert_eq!(
        carol
            .vote(&id, Verdict::Approve, None)
            .await
            .unwrap()
            .status,
        200
    );
    let done = bot.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);
    stack.stop().await;
}
