//! Identity: every attack on the bearer token fails with a precise reason, keys rotate
//! without a failed request, a flood of unknown key ids cannot hammer the provider, and
//! provider-shaped tokens map to the configured identity.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use tollgate_aws::oidc::IssuerConfig;
use tollgate_cli::client::Client;
use tollgate_core::claims::Accepted;
use tollgate_core::record::Verdict;
use tollgate_e2e::*;
use tollgate_local::Stack;
use tollgate_local::issuer::{AGENT_AUDIENCE, APPROVER_AUDIENCE, MintRequest, numeric_id};

const LIST: &[u8] = br#"{"action":"dynamodb:ListTables"}"#;

async fn submit_with(stack: &Stack, token: &str) -> tollgate_cli::client::Answer {
    raw(
        stack,
        "POST",
        "/v1/requests",
        Some(token),
        &[],
        LIST.to_vec(),
    )
    .await
}

fn b64(v: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(v)
}

/// A listener that counts connections: proof that a URL in a token was never fetched.
async fn counting_listener() -> (String, Arc<AtomicU64>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks.json", l.local_addr().unwrap());
    let hits = Arc::new(AtomicU64::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((_s, _)) = l.accept().await {
            h.fetch_add(1, Ordering::Relaxed);
        }
    });
    (url, hits)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_token_attack_fails_with_a_precise_reason() {
    // Two trusted agent issuers, so a key of one presented under the other's name is tested.
    let stack = stack_with(|o| {
        o.agent_issuers = Some(vec![
            IssuerConfig::new("{api}/dev-idp", AGENT_AUDIENCE),
            IssuerConfig::new("{api}/dev-idp-b", AGENT_AUDIENCE),
        ])
    })
    .await;
    let a = stack.issuer();
    let b = stack.second_issuer();
    let iss = a.issuer().to_string();
    let now = jsonwebtoken::get_current_timestamp();
    let claims = |exp: u64, nbf: u64, aud: &str| json!({"iss": iss, "sub": "ci-bot", "aud": aud, "exp": exp, "nbf": nbf, "iat": now});
    let good_claims = claims(now + 600, now, AGENT_AUDIENCE);
    let good = a.sign(Algorithm::ES256, &good_claims).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let es_kid = a.kid(Algorithm::ES256).unwrap();
    let rs_kid = a.kid(Algorithm::RS256).unwrap();
    let header = |v: Value| b64(v.to_string().as_bytes());

    let mut sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    // The classic key-confusion attack: HMAC keyed with the issuer's public RSA key.
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some(rs_kid.clone());
    let hs256 = jsonwebtoken::encode(
        &hs_header,
        &good_claims,
        &EncodingKey::from_secret(a.rsa_public_pem().unwrap().as_bytes()),
    )
    .unwrap();
    // A key of issuer B, named by its own kid, under issuer A's `iss`.
    let b_key_a_iss = b.sign(Algorithm::ES256, &good_claims).unwrap();
    let (jku_url, jku_hits) = counting_listener().await;
    let jku = a
        .sign_raw(
            Algorithm::ES256,
            json!({"alg": "ES256", "typ": "JWT", "kid": "attacker-key", "jku": jku_url, "x5u": jku_url}).to_string().as_bytes(),
            good_claims.to_string().as_bytes(),
        )
        .unwrap();
    let dup_payload = format!(
        r#"{{"iss":"{iss}","sub":"ci-bot","aud":"someone-else","aud":"{AGENT_AUDIENCE}","exp":{},"iat":{now}}}"#,
        now + 600
    );
    let dup_header = format!(r#"{{"alg":"ES256","kid":"{es_kid}","kid":"{es_kid}"}}"#);
    let no_sub = a
        .sign(
            Algorithm::ES256,
            &json!({"iss": iss, "aud": AGENT_AUDIENCE, "exp": now + 600, "iat": now}),
        )
        .unwrap();
    let empty_sub = a
        .sign(
            Algorithm::ES256,
            &json!({"iss": iss, "sub": "", "aud": AGENT_AUDIENCE, "exp": now + 600, "iat": now}),
        )
        .unwrap();
    let no_exp = a
        .sign(
            Algorithm::ES256,
            &json!({"iss": iss, "sub": "x", "aud": AGENT_AUDIENCE, "iat": now}),
        )
        .unwrap();
    let long_lived = a.sign(Algorithm::ES256, &json!({"iss": iss, "sub": "x", "aud": AGENT_AUDIENCE, "exp": now + 3 * 86_400, "iat": now})).unwrap();
    let future_iat = a.sign(Algorithm::ES256, &json!({"iss": iss, "sub": "x", "aud": AGENT_AUDIENCE, "exp": now + 7200, "iat": now + 3600})).unwrap();
    let approver_token = stack.token("alice", true).unwrap();

    let cases: Vec<(&str, String, &str)> = vec![
        ("expired", a.sign(Algorithm::ES256, &claims(now - 3600, now - 7200, AGENT_AUDIENCE)).unwrap(), "token_expired"),
        ("not yet valid", a.sign(Algorithm::ES256, &claims(now + 7200, now + 3600, AGENT_AUDIENCE)).unwrap(), "token_not_yet_valid"),
        ("issued in the future", future_iat, "token_not_yet_valid"),
        ("wrong issuer", a.sign(Algorithm::ES256, &json!({"iss": "https://evil.example", "sub": "x", "aud": AGENT_AUDIENCE, "exp": now + 600})).unwrap(), "untrusted_issuer"),
        ("trusted issuer, wrong audience", a.sign(Algorithm::ES256, &claims(now + 600, now, "another-app")).unwrap(), "invalid_audience"),
        ("approver token used as agent", approver_token, "invalid_audience"),
        ("alg none, no signature", format!("{}.{}.", header(json!({"alg": "none", "typ": "JWT"})), parts[1]), "malformed_token"),
        ("alg none, with a signature", format!("{}.{}.{}", header(json!({"alg": "none", "typ": "JWT"})), parts[1], parts[2]), "unsupported_algorithm"),
        ("HS256 signed with the RSA public key", hs256, "unsupported_algorithm"),
        ("ES256 header on the RSA key", format!("{}.{}.{}", header(json!({"alg": "ES256", "kid": rs_kid})), parts[1], parts[2]), "algorithm_mismatch"),
        ("unknown kid", format!("{}.{}.{}", header(json!({"alg": "ES256", "kid": "rotated-away"})), parts[1], parts[2]), "unknown_kid"),
        ("no kid", format!("{}.{}.{}", header(json!({"alg": "ES256"})), parts[1], parts[2]), "missing_kid"),
        ("kid of another trusted issuer", b_key_a_iss, "unknown_kid"),
        ("jku/x5u pointing elsewhere", jku, "unknown_kid"),
        ("tampered payload", format!("{}.{}.{}", parts[0], b64(claims(now + 600, now, AGENT_AUDIENCE).to_string().replace("ci-bot", "root!").as_bytes()), parts[2]), "invalid_signature"),
        ("tampered signature", format!("{}.{}.{}", parts[0], parts[1], b64(&sig)), "invalid_signature"),
        // A cut that leaves a base64url length of 4k+1 can never decode; a cut to
        // whole quads always decodes, to a signature of the wrong length. Any other
        // cut decodes or not depending on the random trailing bits, so it is avoided.
        ("truncated", format!("{}.{}.{}", parts[0], parts[1], &parts[2][..quad_cut(parts[2]) + 1]), "malformed_token"),
        ("signature cut to whole bytes", format!("{}.{}.{}", parts[0], parts[1], &parts[2][..quad_cut(parts[2])]), "invalid_signature"),
        ("truncated to two segments", format!("{}.{}", parts[0], parts[1]), "malformed_token"),
        ("over 16 KiB", format!("{good}{}", "A".repeat(17 * 1024)), "token_too_large"),
        ("lifetime above the maximum", long_lived, "lifetime_too_long"),
        ("missing sub", no_sub, "missing_claim"),
        ("empty sub", empty_sub, "missing_claim"),
        ("missing exp", no_exp, "missing_claim"),
        ("duplicate key in payload", a.sign_raw(Algorithm::ES256, format!(r#"{{"alg":"ES256","kid":"{es_kid}"}}"#).as_bytes(), dup_payload.as_bytes()).unwrap(), "duplicate_key"),
        ("duplicate key in header", a.sign_raw(Algorithm::ES256, dup_header.as_bytes(), good_claims.to_string().as_bytes()).unwrap(), "duplicate_key"),
        ("critical header extension", a.sign_raw(Algorithm::ES256, format!(r#"{{"alg":"ES256","kid":"{es_kid}","crit":["exp"],"exp":1}}"#).as_bytes(), good_claims.to_string().as_bytes()).unwrap(), "unsupported_header"),
        ("payload not JSON", format!("{}.{}.{}", parts[0], b64(b"not json"), parts[2]), "malformed_token"),
        ("garbage", "not-a-token".into(), "malformed_token"),
    ];
    for (what, token, reason) in &cases {
        let r = submit_with(&stack, token).await;
        assert_eq!(r.status, 401, "{what}: {}", r.body);
        assert_eq!(r.body["error"]["reason"], *reason, "{what}: {}", r.body);
        assert!(
            !r.body.to_string().contains(token.as_str()),
            "{what}: token echoed back"
        );
    }
    assert_eq!(
        jku_hits.load(Ordering::Relaxed),
        0,
        "a jku/x5u URL was fetched"
    );
    let r = raw(&stack, "POST", "/v1/requests", None, &[], LIST.to_vec()).await;
    assert_eq!(
        (r.status, r.body["error"]["reason"].as_str()),
        (401, Some("missing_token"))
    );
    let r = raw(
        &stack,
        "POST",
        "/v1/requests",
        None,
        &[("authorization", &format!("Basic {good}"))],
        LIST.to_vec(),
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"]["reason"].as_str()),
        (401, Some("malformed_token"))
    );

    // The genuine article passes, in both algorithms and from both trusted issuers.
    assert_eq!(submit_with(&stack, &good).await.status, 200);
    assert_eq!(
        submit_with(&stack, &a.sign(Algorithm::RS256, &good_claims).unwrap())
            .await
            .status,
        200
    );
    let mut b_claims = good_claims.clone();
    b_claims["iss"] = json!(b.issuer());
    assert_eq!(
        submit_with(&stack, &b.sign(Algorithm::ES256, &b_claims).unwrap())
            .await
            .status,
        200
    );

    // An agent token is not an approver token.
    let r = agent(&stack, "ci-bot")
        .vote("01ANY", Verdict::Approve, None)
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.body["error"]["reason"].as_str()),
        (401, Some("invalid_audience")),
        "{}",
        r.body
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_rotation_needs_no_failed_request() {
    let stack = stack_with(|o| o.jwks_min_refresh = Duration::from_secs(0)).await;
    let before = stack.token("ci-bot", false).unwrap();
    assert_eq!(submit_with(&stack, &before).await.status, 200);
    let fetches = stack.issuer().jwks_fetches();
    assert_eq!(fetches, 1, "keys are cached after the first fetch");

    stack.issuer().rotate().unwrap();
    let after = stack.token("ci-bot", false).unwrap();
    assert_ne!(
        jsonwebtoken::decode_header(&before).unwrap().kid,
        jsonwebtoken::decode_header(&after).unwrap().kid
    );
    // The first token with the new key triggers one refetch and passes.
    assert_eq!(submit_with(&stack, &after).await.status, 200);
    assert_eq!(stack.issuer().jwks_fetches(), fetches + 1);
    // Tokens signed before the rotation stay valid until they expire.
    assert_eq!(submit_with(&stack, &before).await.status, 200);
    assert_eq!(submit_with(&stack, &after).await.status, 200);
    assert_eq!(
        stack.issuer().jwks_fetches(),
        fetches + 1,
        "no refetch for known keys"
    );

    // Once the provider stops publishing the old key, tokens it signed fail.
    stack.issuer().retire_previous();
    stack.issuer().rotate().unwrap();
    let third = stack.token("ci-bot", false).unwrap();
    assert_eq!(submit_with(&stack, &third).await.status, 200);
    let r = submit_with(&stack, &before).await;
    assert_eq!(
        (r.status, r.body["error"]["reason"].as_str()),
        (401, Some("unknown_kid")),
        "{}",
        r.body
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_unknown_kids_costs_the_provider_one_fetch() {
    let stack = stack_with(|o| o.jwks_min_refresh = Duration::from_secs(300)).await;
    let good = stack.token("ci-bot", false).unwrap();
    assert_eq!(submit_with(&stack, &good).await.status, 200);
    let parts: Vec<String> = good.split('.').map(str::to_string).collect();
    let tokens: Vec<String> = (0..60)
        .map(|i| {
            format!(
                "{}.{}.{}",
                b64(json!({"alg": "ES256", "kid": format!("made-up-{i}")})
                    .to_string()
                    .as_bytes()),
                parts[1],
                parts[2]
            )
        })
        .collect();
    let answers = futures::future::join_all(tokens.iter().map(|t| submit_with(&stack, t))).await;
    for r in &answers {
        assert_eq!(
            (r.status, r.body["error"]["reason"].as_str()),
            (401, Some("unknown_kid")),
            "{}",
            r.body
        );
    }
    // One fetch at the start; the 60 unknown kids add at most one more.
    assert!(
        stack.issuer().jwks_fetches() <= 2,
        "{} fetches",
        stack.issuer().jwks_fetches()
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_shaped_tokens_map_to_the_configured_identity() {
    let github = IssuerConfig {
        subject_claims: vec!["repository_id".into(), "ref".into()],
        name_claims: vec!["repository".into()],
        policy_claims: vec!["repository_owner".into(), "event_name".into()],
        required_claims: [(
            "repository_owner_id".to_string(),
            Accepted::One(json!(numeric_id("acme"))),
        )]
        .into(),
        algorithms: vec![Algorithm::RS256],
        max_lifetime_seconds: 3600,
        ..IssuerConfig::new("{api}/dev-idp", AGENT_AUDIENCE)
    };
    let cognito_approvers = IssuerConfig {
        subject_claims: vec!["cognito:username".into()],
        groups_claim: "cognito:groups".into(),
        approver_groups: vec!["dba".into()],
        ..IssuerConfig::new("{api}/dev-idp", APPROVER_AUDIENCE)
    };
    let stack = stack_with(|o| {
        o.agent_issuers = Some(vec![github]);
        o.approver_issuers = Some(vec![cognito_approvers]);
    })
    .await;
    tollgate_local::demo::create_table(&stack.sdk, "shaped")
        .await
        .unwrap();
    let gh = stack
        .mint(&MintRequest {
            sub: "acme/app".into(),
            shape: Some("github".into()),
            alg: Some("RS256".into()),
            ..Default::default()
        })
        .unwrap();
    let agent = Client::new(&stack.api_url, Some(gh));
    let id = pending_delete(&agent, "shaped").await;
    let r = agent.status(&id, 0).await.unwrap();
    // Keyed on the repository's id, which a rename does not hand to someone else.
    assert_eq!(
        r.body["agent"]["subject"],
        format!("{}:refs/heads/main", numeric_id("acme/app")),
        "{}",
        r.body
    );
    assert_eq!(r.body["agent"]["name"], "acme/app");
    assert_eq!(
        r.body["agent"]["claims"],
        json!({"repository_owner": "acme", "event_name": "push"})
    );
    assert_eq!(
        r.body["events"][0]["actor"]["claims"]["repository_owner"], "acme",
        "the audit event carries the identity"
    );

    // A GitHub-shaped token signed ES256 is refused: this issuer is configured for RS256 only.
    let es = stack
        .mint(&MintRequest {
            sub: "acme/app".into(),
            shape: Some("github".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        submit_with(&stack, &es).await.body["error"]["reason"],
        "unsupported_algorithm"
    );
    // The default ttl (1 h) is within the 1 h maximum; a longer one is not.
    let long = stack
        .mint(&MintRequest {
            sub: "acme/app".into(),
            shape: Some("github".into()),
            alg: Some("RS256".into()),
            ttl_seconds: Some(7200),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        submit_with(&stack, &long).await.body["error"]["reason"],
        "lifetime_too_long"
    );

    let approver_token = stack
        .mint(&MintRequest {
            sub: "dana".into(),
            approver: true,
            shape: Some("cognito".into()),
            groups: Some(vec!["dba".into()]),
            ..Default::default()
        })
        .unwrap();
    let approver = Client::new(&stack.api_url, Some(approver_token));
    let r = approver.vote(&id, Verdict::Approve, None).await.unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["votes"][0]["approver"]["subject"], "dana");
    assert_eq!(r.body["votes"][0]["approver"]["groups"], json!(["dba"]));
    let done = agent.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);

    // A Kubernetes-shaped token has no repository claim: this issuer's mapping refuses it.
    let k8s = stack
        .mint(&MintRequest {
            sub: "ops/deployer".into(),
            shape: Some("kubernetes".into()),
            alg: Some("RS256".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        submit_with(&stack, &k8s).await.body["error"]["reason"],
        "missing_claim"
    );
    // Any repository on GitHub can ask for this audience; only the pinned owner's get in.
    let stranger = stack
        .mint(&MintRequest {
            sub: "evil/app".into(),
            shape: Some("github".into()),
            alg: Some("RS256".into()),
            ..Default::default()
        })
        .unwrap();
    let r = submit_with(&stack, &stranger).await;
    assert_eq!(
        (r.status, r.body["error"]["reason"].as_str()),
        (401, Some("claim_mismatch")),
        "{}",
        r.body
    );
    stack.stop().await;
}

/// Why a stack with these options does not start.
async fn start_error(tune: impl FnOnce(&mut tollgate_local::StackOptions)) -> String {
    let mut opts = tollgate_local::StackOptions {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Default::default()
    };
    tune(&mut opts);
    match Stack::start(opts).await {
        Ok(_) => panic!("the stack must not start"),
        Err(e) => e,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_refuses_to_start_with_an_unpinned_github_issuer_or_mixed_roles() {
    let e = start_error(|o| {
        o.agent_issuers = Some(vec![IssuerConfig::new(
            "https://token.actions.githubusercontent.com",
            "tollgate",
        )])
    })
    .await;
    assert!(
        e.contains("must pin `repository_owner_id` or `repository_id`"),
        "{e}"
    );
    // One issuer and audience for both roles: a token refused as an agent's could pass as an
    // approver's.
    let e = start_error(|o| {
        o.agent_issuers = Some(vec![IssuerConfig::new("{api}/dev-idp", "shared")]);
        o.approver_issuers = Some(vec![IssuerConfig {
            approver_groups: vec!["approvers".into()],
            ..IssuerConfig::new("{api}/dev-idp", "shared")
        }]);
    })
    .await;
    assert!(e.contains("both agents and approvers"), "{e}");
    let e = start_error(|o| {
        o.approver_issuers = Some(vec![IssuerConfig::new("{api}/dev-idp", APPROVER_AUDIENCE)]);
    })
    .await;
    assert!(e.contains("approver_groups: is required"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_verified_for_one_role_only() {
    let stack = stack().await;
    let a = stack.issuer();
    let now = jsonwebtoken::get_current_timestamp();
    // A token naming both audiences is refused, not read as whichever role passes.
    let both = a
        .sign(
            Algorithm::ES256,
            &json!({"iss": a.issuer(), "sub": "alice", "aud": [AGENT_AUDIENCE, APPROVER_AUDIENCE],
                "groups": ["approvers"], "exp": now + 600, "iat": now}),
        )
        .unwrap();
    let r = raw(&stack, "GET", "/v1/requests", Some(&both), &[], vec![]).await;
    assert_eq!(
        (r.status, r.body["error"]["reason"].as_str()),
        (401, Some("ambiguous_role")),
        "{}",
        r.body
    );
    // An approver token that fails the approver configuration fails as one.
    let expired = a
        .sign(
            Algorithm::ES256,
            &json!({"iss": a.issuer(), "sub": "alice", "aud": APPROVER_AUDIENCE,
                "groups": ["approvers"], "exp": now - 600, "iat": now - 1200}),
        )
        .unwrap();
    let r = raw(&stack, "GET", "/v1/requests", Some(&expired), &[], vec![]).await;
    assert_eq!(r.body["error"]["reason"], "token_expired", "{}", r.body);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_and_id_tokens_are_not_interchangeable() {
    let stack = stack_with(|o| {
        o.agent_issuers = Some(vec![IssuerConfig {
            typ: vec!["JWT".into()],
            ..IssuerConfig::new("{api}/dev-idp", AGENT_AUDIENCE)
        }]);
        // Cognito: `token_use` unset means ID tokens only.
        o.approver_issuers = Some(vec![IssuerConfig {
            subject_claims: vec!["cognito:username".into()],
            groups_claim: "cognito:groups".into(),
            approver_groups: vec!["approvers".into()],
            ..IssuerConfig::new("{api}/dev-idp", APPROVER_AUDIENCE)
        }]);
    })
    .await;
    let a = stack.issuer();
    let now = jsonwebtoken::get_current_timestamp();
    let cognito = |token_use: &str| {
        a.sign(
            Algorithm::ES256,
            &json!({"iss": a.issuer(), "sub": "u-1", "cognito:username": "dana", "aud": APPROVER_AUDIENCE,
                "cognito:groups": ["approvers"], "token_use": token_use, "exp": now + 600, "iat": now}),
        )
        .unwrap()
    };
    let r = raw(
        &stack,
        "GET",
        "/v1/requests",
        Some(&cognito("id")),
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = raw(
        &stack,
        "GET",
        "/v1/requests",
        Some(&cognito("access")),
        &[],
        vec![],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"]["reason"].as_str()),
        (401, Some("unexpected_token_type")),
        "{}",
        r.body
    );
    // RFC 9068 access tokens say `at+jwt`; this agent issuer takes `JWT` only.
    let es_kid = a.kid(Algorithm::ES256).unwrap();
    let claims = json!({"iss": a.issuer(), "sub": "ci-bot", "aud": AGENT_AUDIENCE, "exp": now + 600, "iat": now}).to_string();
    let typed = |typ: &str| {
        a.sign_raw(
            Algorithm::ES256,
            json!({"alg": "ES256", "kid": es_kid, "typ": typ})
                .to_string()
                .as_bytes(),
            claims.as_bytes(),
        )
        .unwrap()
    };
    let r = submit_with(&stack, &typed("at+jwt")).await;
    assert_eq!(
        (r.status, r.body["error"]["reason"].as_str()),
        (401, Some("unexpected_token_type")),
        "{}",
        r.body
    );
    assert_eq!(
        submit_with(&stack, &typed("application/jwt")).await.status,
        200
    );
    assert_eq!(submit_with(&stack, &typed("JWT")).await.status, 200);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_string_groups_claim_is_one_group() {
    let stack = stack_with(|o| {
        o.approver_issuers = Some(vec![
            IssuerConfig {
                approver_groups: vec!["approvers".into()],
                ..IssuerConfig::new("{api}/dev-idp", APPROVER_AUDIENCE)
            },
            // This provider sends groups space-separated, and says so.
            IssuerConfig {
                approver_groups: vec!["approvers".into()],
                groups_separators: " ".into(),
                ..IssuerConfig::new("{api}/dev-idp-b", APPROVER_AUDIENCE)
            },
        ]);
    })
    .await;
    let now = jsonwebtoken::get_current_timestamp();
    let token = |issuer: &tollgate_local::issuer::DevIssuer| {
        issuer
            .sign(
                Algorithm::ES256,
                &json!({"iss": issuer.issuer(), "sub": "eve", "aud": APPROVER_AUDIENCE,
                    "groups": "approvers readonly", "exp": now + 600, "iat": now}),
            )
            .unwrap()
    };
    // The group "approvers readonly" is not the group "approvers".
    let r = raw(
        &stack,
        "GET",
        "/v1/requests",
        Some(&token(stack.issuer())),
        &[],
        vec![],
    )
    .await;
    assert_eq!(
        (r.status, r.body["error"]["reason"].as_str()),
        (403, Some("not_an_approver")),
        "{}",
        r.body
    );
    let r = raw(
        &stack,
        "GET",
        "/v1/requests",
        Some(&token(stack.second_issuer())),
        &[],
        vec![],
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_service_accounts_by_namespace() {
    let k8s = IssuerConfig {
        policy_claims: vec!["/kubernetes.io/namespace".into()],
        ..IssuerConfig::new("{api}/dev-idp", AGENT_AUDIENCE)
    };
    let stack = stack_with(|o| o.agent_issuers = Some(vec![k8s])).await;
    let token = stack
        .mint(&MintRequest {
            sub: "ops/deployer".into(),
            shape: Some("kubernetes".into()),
            ..Default::default()
        })
        .unwrap();
    let r = submit_with(&stack, &token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body["agent"]["subject"],
        "system:serviceaccount:ops:deployer"
    );
    assert_eq!(r.body["agent"]["claims"]["kubernetes.io/namespace"], "ops");
    stack.stop().await;
}

/// A length, 20 or more characters short of `segment`, that is a multiple of four.
fn quad_cut(segment: &str) -> usize {
    let n = segment.len() - 20;
    n - n % 4
}

/// Targets and issuers outgrow Lambda's 4 KB environment in a large organisation: given as
/// `ssm:<name>`, a function reads them from Parameter Store at cold start (against moto, with
/// the real signed call), and a reference it cannot read fails the start naming the setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_too_large_for_the_environment_are_read_from_ssm() {
    let targets: std::collections::BTreeMap<String, String> = (0..80)
        .map(|i| {
            (
                format!("account-{i:02}"),
                format!(
                    "arn:aws:iam::{}:role/tollgate-target",
                    100_000_000_000u64 + i
                ),
            )
        })
        .collect();
    let targets_json = serde_json::to_string(&targets).unwrap();
    assert!(
        targets_json.len() > 4096,
        "the list must not fit the environment"
    );
    let stack = stack().await;
    let mut env = tollgate_local::lambda::environment(stack.settings());
    let issuers = env["TOLLGATE_AGENT_ISSUERS"].clone();
    tollgate_local::bootstrap::seed(
        &stack.moto_url,
        &[
            ("/tollgate/targets".into(), targets_json),
            ("/tollgate/agent-issuers".into(), issuers.clone()),
        ],
        &[],
    )
    .await
    .unwrap();
    env.insert("TOLLGATE_TARGETS".into(), "ssm:/tollgate/targets".into());
    env.insert(
        "TOLLGATE_AGENT_ISSUERS".into(),
        "ssm:/tollgate/agent-issuers".into(),
    );
    env.insert("TOLLGATE_AWS_ENDPOINT".into(), stack.moto_url.clone());
    env.insert("AWS_REGION".into(), "us-east-1".into());
    let lookup = |k: &str| env.get(k).cloned().filter(|v| !v.is_empty());
    let s = tollgate_aws::settings::Settings::load_with(&stack.sdk, &lookup)
        .await
        .unwrap();
    assert_eq!(s.targets, targets);
    assert_eq!(s.agent_issuers.len(), stack.settings().agent_issuers.len());
    assert_eq!(
        s.agent_issuers[0].issuer,
        stack.settings().agent_issuers[0].issuer
    );

    // A parameter that is not there fails the cold start, naming the setting.
    env.insert("TOLLGATE_TARGETS".into(), "ssm:/tollgate/missing".into());
    let lookup = |k: &str| env.get(k).cloned().filter(|v| !v.is_empty());
    let e = tollgate_aws::settings::Settings::load_with(&stack.sdk, &lookup)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("TOLLGATE_TARGETS: ssm:/tollgate/missing"),
        "{e}"
    );
    // The synchronous reader never takes a reference for a value.
    let e = tollgate_aws::settings::Settings::from_lookup(&lookup)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not read from SSM"), "{e}");
    stack.stop().await;
}

/// Deployed, the front door is the api function's URL, which the stack writes to an SSM
/// parameter: read on first use (against moto, the real signed call), kept once read, a
/// failure not kept, and a value that is not an https URL refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_front_door_url_is_read_from_its_parameter_on_first_use() {
    use tollgate_aws::front_door_url::{FrontDoorEndpoint, FrontDoorUrl, ParameterReader};
    let stack = stack().await;
    let (credentials, region) =
        tollgate_aws::config::signing_identity(&stack.sdk, "us-east-1").unwrap();
    let reader = ParameterReader {
        credentials,
        region,
        endpoint: Some(stack.moto_url.clone()),
    };
    let endpoint = |name: &str| {
        FrontDoorEndpoint::new(
            FrontDoorUrl::parse(Some(&format!("ssm:{name}"))).unwrap(),
            Some(reader.clone()),
        )
    };
    let seed = |name: &'static str, value: &'static str| {
        let moto = stack.moto_url.clone();
        async move {
            tollgate_local::bootstrap::seed(&moto, &[(name.into(), value.into())], &[])
                .await
                .unwrap()
        }
    };
    let url = endpoint("/tollgate/front-door-url");
    let e = url.get("https://api.test").await.unwrap_err();
    assert!(e.starts_with("TOLLGATE_FRONT_DOOR_URL:"), "{e}");
    seed(
        "/tollgate/front-door-url",
        "https://abc.lambda-url.us-east-1.on.aws/",
    )
    .await;
    assert_eq!(
        url.get("https://api.test").await.unwrap(),
        "https://abc.lambda-url.us-east-1.on.aws",
        "a failed read is not remembered"
    );
    seed("/tollgate/front-door-url", "https://changed.example").await;
    assert_eq!(
        url.get("https://api.test").await.unwrap(),
        "https://abc.lambda-url.us-east-1.on.aws",
        "read once per cold start"
    );
    seed("/tollgate/elsewhere", "http://attacker.example").await;
    let e = endpoint("/tollgate/elsewhere")
        .get("https://api.test")
        .await
        .unwrap_err();
    assert!(e.contains("must be an https URL"), "{e}");
    stack.stop().await;
}

/// A policy source pinned to an SSM parameter version (`ssm:<name>:<version>`, what the
/// template's PolicyParameterVersion sets): a later, broken edit of the parameter reaches no
/// function until the pin moves, while the unpinned source refuses to start on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_policy_version_survives_a_broken_edit() {
    let seed = vec![
        (
            "/tollgate/policies".to_string(),
            r#"@id("all") permit (principal, action, resource);"#.to_string(),
        ),
        (
            "/tollgate/policies".to_string(),
            "permit (principal, action, resource".to_string(),
        ),
    ];
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/tollgate/policies:1".into();
        o.seed_ssm = seed.clone();
    })
    .await;
    let a = agent(&stack, "ci-bot")
        .submit(
            &json!({"action": "dynamodb:ListTables", "params": {}, "reason": "pinned policy"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(a.request_status(), Some("SUCCEEDED"), "{}", a.body);
    stack.stop().await;
    let e = start_error(|o| {
        o.policy_source = "ssm:/tollgate/policies".into();
        o.seed_ssm = seed;
    })
    .await;
    assert!(e.contains("ssm:/tollgate/policies"), "{e}");
}

/// A verifier with `issuer`'s keys pinned and no leeway, as the API builds it.
fn pinned_verifier(issuer: &tollgate_local::issuer::DevIssuer) -> tollgate_aws::oidc::Verifier {
    let jwks = serde_json::from_value(issuer.jwks()).unwrap();
    let cfg = IssuerConfig {
        jwks: Some(jwks),
        leeway_seconds: 0,
        ..IssuerConfig::new(issuer.issuer(), AGENT_AUDIENCE)
    };
    tollgate_aws::oidc::Verifier::new(vec![cfg], Duration::from_secs(10))
}

#[tokio::test]
async fn a_remembered_token_still_expires_and_a_changed_byte_is_checked_again() {
    let issuer =
        tollgate_local::issuer::DevIssuer::new("https://remembered.example/idp".into()).unwrap();
    let verifier = pinned_verifier(&issuer);
    let now = jsonwebtoken::get_current_timestamp();
    let claims = serde_json::json!({"iss": issuer.issuer(), "sub": "ci-bot", "aud": AGENT_AUDIENCE,
        "iat": now, "exp": now + 2});
    let token = issuer.sign(Algorithm::ES256, &claims).unwrap();
    for _ in 0..2 {
        let v = verifier.verify(&token).await.expect("valid token");
        assert_eq!(v.identity.subject, "ci-bot");
    }
    // The same header and payload under another signature: not the remembered token.
    let (signed, sig) = token.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    let forged = format!("{signed}.{flipped}{}", &sig[1..]);
    let e = verifier.verify(&forged).await.unwrap_err();
    assert_eq!(e.detail.as_ref().unwrap()["reason"], "invalid_signature");
    // Past `exp`, the remembered token is refused like any expired one.
    tokio::time::sleep(Duration::from_millis(3100)).await;
    let e = verifier.verify(&token).await.unwrap_err();
    assert_eq!(e.detail.as_ref().unwrap()["reason"], "token_expired");
}
