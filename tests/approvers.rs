//! Approvers on the approval page and in Slack, over real HTTP against the local stack:
//! OIDC code + PKCE sign-in at the dev issuer, session cookies, CSRF, hash binding, group and
//! self-approval rules, quorum, late decisions, and Slack request signatures.

use std::collections::BTreeMap;
use std::time::Duration;

use tollgate_cli::client::Client;
use tollgate_core::Identity;
use tollgate_core::record::Verdict;
use tollgate_e2e::*;
use tollgate_local::Stack;
use tollgate_local::demo::{create_table, wait_for_notice};

/// Deletes need two approvals from the `approvers` group in these tests.
const POLICY: &str = r#"
@id("reads")
permit (principal, action in Action::"Read", resource);

@id("deletes-two-approvers") @reason("dropping a table needs two approvers")
@approval("2") @approvers("approvers")
permit (principal, action == Action::"dynamodb:DeleteTable", resource);

@id("writes-one-approval-with-ticket") @reason("changes need one approval and a ticket")
@approval("1") @ticket @justification("12")
permit (principal, action in Action::"Write", resource)
unless { action == Action::"dynamodb:DeleteTable" };
"#;

const SLACK_SECRET: &str = "slack-signing-secret-for-tests";

async fn approvers_stack(timeout: u64) -> Stack {
    stack_with(|o| {
        o.policy_source = "ssm:/tollgate/policies".into();
        o.seed_ssm = vec![("/tollgate/policies".into(), POLICY.into())];
        o.approval_timeout_seconds = timeout;
        o.slack_signing_secret = Some(SLACK_SECRET.into());
        let person = |sub: &str, name: &str, groups: &[&str]| Identity {
            issuer: "{api}/dev-idp".into(),
            subject: sub.into(),
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..Default::default()
        };
        o.slack_approvers = BTreeMap::from([
            (
                "U-CAROL".to_string(),
                person("carol", "Carol DBA", &["approvers", "dba"]),
            ),
            (
                "U-DAVE".to_string(),
                person("dave", "Dave Developer", &["developers"]),
            ),
            (
                "U-BOT".to_string(),
                person("ci-bot", "ci-bot", &["approvers"]),
            ),
        ]);
    })
    .await
}

/// A browser without JavaScript: follows nothing by itself, keeps cookies by name.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: u16,
    location: Option<String>,
    html: String,
}

impl Browser {
    fn new(stack: &Stack) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: stack.api_url.clone(),
            cookies: BTreeMap::new(),
        }
    }

    async fn send(&mut self, rb: reqwest::RequestBuilder) -> Page {
        let cookie: Vec<String> = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let rb = if cookie.is_empty() {
            rb
        } else {
            rb.header("cookie", cookie.join("; "))
        };
        let resp = rb.send().await.unwrap();
        for sc in resp.headers().get_all("set-cookie") {
            let sc = sc.to_str().unwrap();
            for attr in ["HttpOnly", "Secure", "SameSite=Lax"] {
                assert!(sc.contains(attr), "cookie without {attr}: {sc}");
            }
            let (kv, _) = sc.split_once(';').unwrap();
            let (k, v) = kv.split_once('=').unwrap();
            if v.is_empty() || sc.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), v.into());
            }
        }
        Page {
            status: resp.status().as_u16(),
            location: resp
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string()),
            html: resp.text().await.unwrap(),
        }
    }

    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    async fn get(&mut self, path: &str) -> Page {
        let rb = self.http.get(self.url(path));
        self.send(rb).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let rb = self
            .http
            .post(self.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("origin", self.base.clone())
            .body(body);
        self.send(rb).await
    }

    /// Sign-in up to the provider's redirect back: Tollgate → dev issuer's picker → pick
    /// `user`. Returns the callback URL (with `code` and `state`).
    async fn pick_user(&mut self, page_path: &str, user: &str) -> String {
        let p = self.get(page_path).await;
        let login = attr_after(&p.html, "href=\"/v1/approver/login")
            .map(|rest| format!("/v1/approver/login{}", html_unescape(&rest)))
            .expect("a sign-in link on the page");
        let p = self.get(&login).await;
        assert_eq!(p.status, 303, "{}", p.html);
        let authorize = p.location.unwrap();
        assert!(
            authorize.contains("code_challenge_method=S256"),
            "{authorize}"
        );
        assert!(!authorize.contains("code_verifier"), "{authorize}");
        let picker = self.get(&authorize).await;
        assert_eq!(picker.status, 200, "{}", picker.html);
        assert!(picker.html.contains("alice"));
        let q = url::Url::parse(&authorize).unwrap();
        let mut form: Vec<(String, String)> = q.query_pairs().into_owned().collect();
        form.push(("user".into(), user.into()));
        let form_ref: Vec<(&str, &str)> =
            form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let issuer_authorize = format!("{}{}", self.base, q.path());
        let back = self.post(&issuer_authorize, &form_ref).await;
        assert_eq!(back.status, 303, "{}", back.html);
        back.location.unwrap()
    }

    /// The whole sign-in, ending on the approval page.
    async fn sign_in(&mut self, page_path: &str, user: &str) -> Page {
        let callback = self.pick_user(page_path, user).await;
        let done = self.get(&callback).await;
        assert_eq!(done.status, 303, "{}", done.html);
        assert!(self.cookies.contains_key("tollgate_session"));
        let next = done.location.unwrap();
        assert_eq!(next, page_path);
        self.get(&next).await
    }
}

/// The quoted attribute value that follows `marker` (up to the closing quote).
fn attr_after(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)? + marker.len();
    let rest = &html[start..];
    Some(rest[..rest.find('"')?].to_string())
}

fn html_unescape(s: &str) -> String {
    s.replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

fn hidden(html: &str, name: &str) -> String {
    attr_after(html, &format!("name=\"{name}\" value=\""))
        .map(|v| html_unescape(&v))
        .unwrap_or_else(|| panic!("no hidden `{name}` in {html}"))
}

/// Submits a delete needing two approvals; returns (id, page path).
async fn pending(stack: &Stack, bot: &Client, table: &str) -> (String, String) {
    create_table(&stack.sdk, table).await.unwrap();
    let id = pending_delete(bot, table).await;
    let anon = Client::new(&stack.api_url, None);
    let notice = wait_for_notice(&anon, &id, WAIT).await.unwrap();
    let link = notice["notice"]["link"].as_str().unwrap();
    (id, link.trim_start_matches(&stack.api_url).to_string())
}

async fn votes(bot: &Client, id: &str) -> (String, usize) {
    let a = bot.status(id, 0).await.unwrap();
    (
        a.request_status().unwrap().to_string(),
        a.body["votes"].as_array().map_or(0, Vec::len),
    )
}

fn decide_form(html: &str, verdict: &str) -> Vec<(&'static str, String)> {
    assert!(
        html.contains(&format!("name=\"verdict\" value=\"{verdict}\"")),
        "the page's form sends `verdict`: {html}"
    );
    vec![
        ("k", hidden(html, "k")),
        ("csrf", hidden(html, "csrf")),
        ("request_hash", hidden(html, "request_hash")),
        ("verdict", verdict.to_string()),
    ]
}

fn pairs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn page_sign_in_csrf_quorum_and_late_decisions() {
    let stack = approvers_stack(3600).await;
    let bot = agent(&stack, "ci-bot");
    let (id, path) = pending(&stack, &bot, "orders").await;
    let form_path = format!("/v1/approvals/{id}");

    // Anonymous GETs (mail scanners, unfurlers) see the request and change nothing.
    let mut anon = Browser::new(&stack);
    for _ in 0..3 {
        let p = anon.get(&path).await;
        assert_eq!(p.status, 200);
        assert!(p.html.contains("Sign in to decide"), "{}", p.html);
        assert!(!p.html.contains("name=\"csrf\""));
        for part in [
            "dynamodb:DeleteTable",
            "ci-bot",
            "arn:aws:dynamodb:us-east-1:",
            "deletes-two-approvers",
            "0 of 2",
            "left (until",
            "&quot;TableName&quot;: &quot;orders&quot;",
        ] {
            assert!(p.html.contains(part), "page lacks {part}: {}", p.html);
        }
    }
    assert_eq!(votes(&bot, &id).await, ("PENDING".into(), 0));
    // No session: the form is refused and nothing is recorded.
    let p = anon
        .post(
            &form_path,
            &[
                ("k", path.split("k=").nth(1).unwrap()),
                ("decision", "approve"),
            ],
        )
        .await;
    assert_eq!(p.status, 401, "{}", p.html);

    // Alice signs in (code + PKCE at the dev issuer) and sees the forms.
    let mut alice = Browser::new(&stack);
    let page = alice.sign_in(&path, "alice").await;
    assert!(
        page.html.contains("Signed in as <strong>Alice Approver"),
        "{}",
        page.html
    );
    let form = decide_form(&page.html, "approve");
    // The form binds, and the page shows, the hash the API stored for this request.
    let hash = bot.status(&id, 0).await.unwrap().body["request_hash"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        hidden(&page.html, "request_hash"),
        hash,
        "the form binds the stored hash"
    );
    assert!(
        page.html.contains(&format!("<code>{hash}</code>")),
        "the page shows the hash it binds: {}",
        page.html
    );

    // CSRF: missing, wrong, from another request: refused, nothing recorded.
    let mut missing = form.clone();
    missing.retain(|(k, _)| *k != "csrf");
    assert_eq!(alice.post(&form_path, &pairs(&missing)).await.status, 403);
    let mut wrong = form.clone();
    wrong[1].1 = "AAAA".repeat(11);
    let p = alice.post(&form_path, &pairs(&wrong)).await;
    assert_eq!(p.status, 403);
    assert!(p.html.contains("csrf"), "{}", p.html);
    // A form posted from another site.
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs(&form))
        .finish();
    let p = alice
        .send(
            alice
                .http
                .post(alice.url(&form_path))
                .header("content-type", "application/x-www-form-urlencoded")
                .header("origin", "https://evil.example")
                .body(body),
        )
        .await;
    assert_eq!(p.status, 403);
    // A hash other than the one stored.
    let mut other_hash = form.clone();
    other_hash[2].1 = "0".repeat(64);
    let p = alice.post(&form_path, &pairs(&other_hash)).await;
    assert_eq!(p.status, 409, "{}", p.html);
    // A forged link key in the form.
    let mut forged = form.clone();
    forged[0].1 = forged[0].1.replacen('.', ".A", 1);
    assert_eq!(alice.post(&form_path, &pairs(&forged)).await.status, 403);
    assert_eq!(votes(&bot, &id).await, ("PENDING".into(), 0));

    // Alice approves: 1 of 2. Approving twice does not make a quorum.
    let p = alice.post(&form_path, &pairs(&form)).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(p.html.contains("1 of 2"), "{}", p.html);
    let p = alice.post(&form_path, &pairs(&form)).await;
    assert_eq!(p.status, 409, "{}", p.html);
    assert!(p.html.contains("already voted"), "{}", p.html);
    assert_eq!(votes(&bot, &id).await, ("PENDING".into(), 1));
    let again = alice.get(&path).await;
    assert!(
        again.html.contains("You have already voted"),
        "{}",
        again.html
    );

    // Alice's CSRF token is worthless in Bob's session.
    let mut bob = Browser::new(&stack);
    let bob_page = bob.sign_in(&path, "bob").await;
    let p = bob.post(&form_path, &pairs(&form)).await;
    assert_eq!(p.status, 403, "{}", p.html);

    // The requester, signed in as an approver, cannot approve; nor can a non-member.
    let mut requester = Browser::new(&stack);
    let p = requester.sign_in(&path, "ci-bot").await;
    assert!(p.html.contains("someone else has to approve"), "{}", p.html);
    let mut dave = Browser::new(&stack);
    let p = dave.sign_in(&path, "dave").await;
    // Dave is no approver at all: his groups hold none of the approver groups.
    assert!(
        p.html.contains("is not in an approver group (`approvers`)"),
        "{}",
        p.html
    );
    // Neither page offers a form, but the vote itself applies the same rules: a crafted form
    // that carries a valid CSRF token for the caller's own session (minted here with the key,
    // as if the page had leaked one) is still refused, for the rule in question.
    let k = path.split("k=").nth(1).unwrap().to_string();
    let session_key = current_key(&stack, tollgate_aws::keys::Purpose::Session).await;
    let csrf_key = current_key(&stack, tollgate_aws::keys::Purpose::Csrf).await;
    for (who, refusal) in [
        (
            &mut requester,
            "This is your own request; someone else has to approve it.",
        ),
        (&mut dave, "is not in an approver group"),
    ] {
        let cookie: Value = tollgate_core::seal::open(
            session_key.as_bytes(),
            "session",
            &who.cookies["tollgate_session"],
            now_ms(),
        )
        .unwrap();
        let csrf = tollgate_core::seal::csrf_token(
            csrf_key.as_bytes(),
            cookie["sid"].as_str().unwrap(),
            &id,
        );
        let p = who
            .post(
                &form_path,
                &[
                    ("k", &k),
                    ("csrf", &csrf),
                    ("verdict", "approve"),
                    ("request_hash", &hash),
                ],
            )
            .await;
        assert_eq!(p.status, 403, "{}", p.html);
        assert!(
            !p.html.contains("csrf"),
            "refused for its CSRF token: {}",
            p.html
        );
        assert!(p.html.contains(refusal), "{}", p.html);
    }
    assert_eq!(votes(&bot, &id).await, ("PENDING".into(), 1));

    // Bob approves: quorum of two distinct approvers. His form uses the field's old name,
    // `decision`, which is still accepted.
    let old_name: Vec<_> = decide_form(&bob_page.html, "approve")
        .into_iter()
        .map(|(k, v)| (if k == "verdict" { "decision" } else { k }, v))
        .collect();
    let p = bob.post(&form_path, &pairs(&old_name)).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(p.html.contains("Approved"), "{}", p.html);
    let done = bot.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);

    // Replay after the decision: a clear answer, nothing changes.
    let p = bob
        .post(&form_path, &pairs(&decide_form(&bob_page.html, "reject")))
        .await;
    assert_eq!(p.status, 409, "{}", p.html);
    assert!(p.html.contains("Nothing was recorded"), "{}", p.html);
    let p = bob.get(&path).await;
    assert!(p.html.contains("nothing left to decide"), "{}", p.html);
    assert_eq!(votes(&bot, &id).await, ("SUCCEEDED".into(), 2));
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_links_are_refused() {
    let stack = approvers_stack(2).await;
    let bot = agent(&stack, "ci-bot");
    let (id, path) = pending(&stack, &bot, "old").await;
    let done = bot
        .wait_final(&id, Duration::from_secs(30), |_| {})
        .await
        .unwrap();
    assert_eq!(done.request_status(), Some("EXPIRED"));
    let mut b = Browser::new(&stack);
    let p = b.get(&path).await;
    assert_eq!(p.status, 403);
    assert!(p.html.contains("expired"), "{}", p.html);
    stack.stop().await;
}

fn slack_body(user: &str, action: &str, value: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "user": {"id": user, "username": user},
        "actions": [{"action_id": action, "value": value}],
    });
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
}

async fn slack(stack: &Stack, body: &str, ts: u64, secret: &str) -> tollgate_cli::client::Answer {
    let ts = ts.to_string();
    let sig = tollgate_core::slack::sign(secret.as_bytes(), &ts, body.as_bytes());
    raw(
        stack,
        "POST",
        "/v1/slack/actions",
        None,
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-slack-request-timestamp", &ts),
            ("x-slack-signature", &sig),
        ],
        body.as_bytes().to_vec(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_buttons_verify_signatures_and_apply_the_rules() {
    let stack = approvers_stack(3600).await;
    let bot = agent(&stack, "ci-bot");
    let (id, path) = pending(&stack, &bot, "slacked").await;
    let hash = bot.status(&id, 0).await.unwrap().body["request_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let value = format!("{id}|{hash}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let body = slack_body("U-CAROL", "approve", &value);

    // Bad signature, stale, from the future, unsigned: 401, nothing recorded.
    assert_eq!(slack(&stack, &body, now, "wrong-secret").await.status, 401);
    let a = slack(&stack, &body, now - 400, SLACK_SECRET).await;
    assert_eq!(a.status, 401, "{}", a.body);
    assert!(a.body.to_string().contains("5 minutes"), "{}", a.body);
    assert_eq!(
        slack(&stack, &body, now + 400, SLACK_SECRET).await.status,
        401
    );
    let unsigned = raw(
        &stack,
        "POST",
        "/v1/slack/actions",
        None,
        &[],
        body.clone().into_bytes(),
    )
    .await;
    assert_eq!(unsigned.status, 401);
    assert_eq!(votes(&bot, &id).await, ("PENDING".into(), 0));

    // Signed, but the rules still apply: an unmapped user, the requester, a non-member, a
    // hash that is not the stored one.
    let refused = |a: &tollgate_cli::client::Answer, word: &str| {
        assert_eq!(a.status, 200, "{}", a.body);
        let text = a.body["text"].as_str().unwrap_or_default();
        assert!(
            text.contains(word) && text.contains("Nothing was recorded")
                || text.contains("not linked"),
            "{word}: {}",
            a.body
        );
    };
    refused(
        &slack(
            &stack,
            &slack_body("U-NOBODY", "approve", &value),
            now,
            SLACK_SECRET,
        )
        .await,
        "not linked",
    );
    refused(
        &slack(
            &stack,
            &slack_body("U-BOT", "approve", &value),
            now,
            SLACK_SECRET,
        )
        .await,
        "own request",
    );
    refused(
        &slack(
            &stack,
            &slack_body("U-DAVE", "approve", &value),
            now,
            SLACK_SECRET,
        )
        .await,
        "approvers",
    );
    refused(
        &slack(
            &stack,
            &slack_body("U-CAROL", "approve", &format!("{id}|{}", "0".repeat(64))),
            now,
            SLACK_SECRET,
        )
        .await,
        "request_hash",
    );
    assert_eq!(votes(&bot, &id).await, ("PENDING".into(), 0));

    // Carol approves in Slack: 1 of 2.
    let a = slack(&stack, &body, now, SLACK_SECRET).await;
    assert!(
        a.body["text"].as_str().unwrap().contains("1 of 2"),
        "{}",
        a.body
    );
    // Carol on the page is the same approver: she cannot add a second approval there.
    let mut carol = Browser::new(&stack);
    let p = carol.sign_in(&path, "carol").await;
    assert!(p.html.contains("You have already voted"), "{}", p.html);
    // Alice with the CLI completes the quorum; the Slack message is then closed.
    let a = approver(&stack, "alice")
        .vote(&id, Verdict::Approve, None)
        .await
        .unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    // A late click in Slack: answered, nothing changes.
    let late = slack(
        &stack,
        &slack_body("U-CAROL", "reject", &value),
        now,
        SLACK_SECRET,
    )
    .await;
    refused(&late, "");
    let done = bot.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);
    assert_eq!(done.body["votes"].as_array().unwrap().len(), 2);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_remind_before_expiry_and_announce_the_end() {
    // A 4 s window: the reminder goes out after 3 s, expiry after 4 s.
    let stack = approvers_stack(4).await;
    let bot = agent(&stack, "ci-bot");
    let (id, _) = pending(&stack, &bot, "reminded").await;
    let done = bot
        .wait_final(&id, Duration::from_secs(30), |_| {})
        .await
        .unwrap();
    assert_eq!(done.request_status(), Some("EXPIRED"), "{}", done.body);
    let mut kinds = vec![];
    for _ in 0..50 {
        kinds = stack
            .outbox()
            .iter()
            .filter(|n| n["notice"]["request_id"] == id.as_str())
            .map(|n| n["notice"]["type"].as_str().unwrap_or("").to_string())
            .collect();
        if kinds.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        kinds,
        ["approval_requested", "approval_reminder", "request_closed"],
        "{:?}",
        stack.outbox()
    );
    let notices: Vec<Value> = stack
        .outbox()
        .into_iter()
        .filter(|n| n["notice"]["request_id"] == id.as_str())
        .collect();
    let first = &notices[0]["notice"];
    // Slack blocks with buttons bound to the request hash; the closing one has none.
    let hash = done.body["request_hash"].as_str().unwrap();
    let buttons = first["blocks"].to_string();
    assert!(buttons.contains(&format!("{id}|{hash}")), "{first}");
    assert!(
        notices[1]["subject"]
            .as_str()
            .unwrap()
            .starts_with("Reminder:")
    );
    assert!(
        notices[2]["notice"]["text"]
            .as_str()
            .unwrap()
            .ends_with("is EXPIRED")
    );
    assert!(
        !notices[2]["notice"]["blocks"]
            .to_string()
            .contains("button")
    );
    // No notice carries a task token.
    let all = serde_json::to_string(&notices).unwrap();
    assert!(!all.to_lowercase().contains("token"), "{all}");
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejection_is_announced() {
    let stack = approvers_stack(3600).await;
    let bot = agent(&stack, "ci-bot");
    let (id, _) = pending(&stack, &bot, "kept").await;
    let a = approver(&stack, "alice")
        .vote(&id, Verdict::Reject, Some("not during the freeze"))
        .await
        .unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    let mut closed = None;
    for _ in 0..100 {
        closed = stack.outbox().into_iter().find(|n| {
            n["notice"]["request_id"] == id.as_str() && n["notice"]["type"] == "request_closed"
        });
        if closed.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let closed = closed.expect("a closing notice");
    assert!(
        closed["notice"]["blocks"].to_string().contains("alice"),
        "{closed}"
    );
    assert!(
        closed["subject"].as_str().unwrap().ends_with("is REJECTED"),
        "{closed}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_refuses_replays_wrong_state_wrong_verifier_and_foreign_destinations() {
    let stack = approvers_stack(3600).await;
    let bot = agent(&stack, "ci-bot");
    let (_, path) = pending(&stack, &bot, "signin").await;

    // Only approval pages are destinations.
    let mut b = Browser::new(&stack);
    for next in [
        "https://evil.example/",
        "//evil.example/v1/approvals/x",
        "/v1/requests",
    ] {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("next", next)
            .finish();
        let p = b.get(&format!("/v1/approver/login?{q}")).await;
        assert_eq!(p.status, 400, "{next}: {}", p.html);
        assert!(p.html.contains("next"), "{}", p.html);
    }

    // A code redeemed with the wrong PKCE verifier is refused and burnt.
    let callback = b.pick_user(&path, "alice").await;
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let token_url = format!("{}/dev-idp/token", stack.api_url);
    let redirect = format!("{}/v1/approver/callback", stack.api_url);
    let p = b
        .post(
            &token_url,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("client_id", "tollgate-approvers"),
                ("redirect_uri", &redirect),
                ("code_verifier", &"x".repeat(43)),
            ],
        )
        .await;
    assert_eq!(p.status, 400, "{}", p.html);
    assert!(p.html.contains("invalid_grant"), "{}", p.html);
    let p = b.get(&callback).await;
    assert_eq!(p.status, 401, "{}", p.html);
    assert!(!b.cookies.contains_key("tollgate_session"));

    // A state that is not this browser's.
    let mut c = Browser::new(&stack);
    let callback = c.pick_user(&path, "alice").await;
    let p = c.get(&callback.replace("state=", "state=x")).await;
    assert_eq!(p.status, 401, "{}", p.html);
    assert!(p.html.contains("state"), "{}", p.html);

    // A callback opened in another browser (no sign-in cookie).
    let mut d = Browser::new(&stack);
    let callback = d.pick_user(&path, "alice").await;
    let mut other = Browser::new(&stack);
    let p = other.get(&callback).await;
    assert_eq!(p.status, 401, "{}", p.html);
    assert!(!other.cookies.contains_key("tollgate_session"));

    // A completed sign-in cannot be replayed; a tampered session cookie is no session.
    let mut e = Browser::new(&stack);
    let callback = e.pick_user(&path, "alice").await;
    assert_eq!(e.get(&callback).await.status, 303);
    let mut replay = Browser::new(&stack);
    replay.cookies = e.cookies.clone();
    replay.cookies.remove("tollgate_session");
    assert_eq!(replay.get(&callback).await.status, 401);
    let session = e.cookies["tollgate_session"].clone();
    let (body, sig) = session.split_once('.').unwrap();
    // Always a different last character (a fixed one would be a no-op 1 time in 64).
    let last = if body.ends_with('A') { 'B' } else { 'A' };
    e.cookies.insert(
        "tollgate_session".into(),
        format!("{}{last}.{sig}", &body[..body.len() - 1]),
    );
    let p = e.get(&path).await;
    assert!(p.html.contains("Sign in to decide"), "{}", p.html);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_can_require_a_ticket_and_a_justification() {
    let stack = approvers_stack(3600).await;
    create_table(&stack.sdk, "capacity").await.unwrap();
    let bot = agent(&stack, "ci-bot");
    let a = bot
        .submit(&json!({"action": "dynamodb:UpdateTable", "params": {"TableName": "capacity", "BillingMode": "PAY_PER_REQUEST"}, "reason": "spiky load"}), None)
        .await
        .unwrap();
    assert_eq!(a.status, 202, "{}", a.body);
    assert_eq!(
        a.body["decision"]["requires"],
        json!({"ticket": true, "min_justification": 12})
    );
    let id = a.body["id"].as_str().unwrap().to_string();
    let notice = wait_for_notice(&Client::new(&stack.api_url, None), &id, WAIT)
        .await
        .unwrap();
    let path = notice["notice"]["link"]
        .as_str()
        .unwrap()
        .trim_start_matches(&stack.api_url)
        .to_string();
    let form_path = format!("/v1/approvals/{id}");
    let mut alice = Browser::new(&stack);
    let page = alice.sign_in(&path, "alice").await;
    assert!(
        page.html
            .contains("Each approval needs</dt><dd>a ticket reference"),
        "{}",
        page.html
    );
    let mut form = decide_form(&page.html, "approve");
    for comment in ["", "ok", "looks fine to me, ship it", "OPS-1"] {
        form.retain(|(k, _)| *k != "comment");
        form.push(("comment", comment.to_string()));
        let p = alice.post(&form_path, &pairs(&form)).await;
        assert_eq!(p.status, 400, "{comment:?}: {}", p.html);
        assert!(p.html.contains("ticket reference"), "{}", p.html);
    }
    // Slack buttons carry no text: refused with the reason.
    let hash = hidden(&page.html, "request_hash");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let a = slack(
        &stack,
        &slack_body("U-CAROL", "approve", &format!("{id}|{hash}")),
        now,
        SLACK_SECRET,
    )
    .await;
    assert!(
        a.body["text"]
            .as_str()
            .unwrap()
            .contains("ticket reference"),
        "{}",
        a.body
    );
    assert_eq!(votes(&bot, &id).await, ("PENDING".into(), 0));
    form.retain(|(k, _)| *k != "comment");
    form.push(("comment", "OPS-1234: load test passed".into()));
    let p = alice.post(&form_path, &pairs(&form)).await;
    assert_eq!(p.status, 200, "{}", p.html);
    let done = bot.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);
    assert_eq!(
        done.body["votes"][0]["comment"],
        "OPS-1234: load test passed"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_users_map_by_email_through_users_info() {
    let member = |id: &str, email: &str| json!({"id": id, "team_id": SLACK_TEAM, "is_email_confirmed": true, "profile": {"email": email}});
    let with = |mut u: Value, k: &str, v: Value| {
        u[k] = v;
        u
    };
    // Bob's address, on accounts that must not vouch for Bob.
    let bob = "bob@example.com";
    let (api, calls) = fake_slack_users(BTreeMap::from([
        ("U-BOB".to_string(), member("U-BOB", "Bob@Example.com")),
        ("U-EVE".to_string(), member("U-EVE", "eve@example.com")),
        (
            "U-OTHER-TEAM".to_string(),
            with(member("U-OTHER-TEAM", bob), "team_id", json!("T-ELSEWHERE")),
        ),
        (
            "U-CONNECT".to_string(),
            with(
                with(member("U-CONNECT", bob), "is_stranger", json!(true)),
                "team_id",
                json!("T-PARTNER"),
            ),
        ),
        (
            "U-GUEST".to_string(),
            with(member("U-GUEST", bob), "is_restricted", json!(true)),
        ),
        (
            "U-SINGLE".to_string(),
            with(member("U-SINGLE", bob), "is_ultra_restricted", json!(true)),
        ),
        (
            "U-UNCONFIRMED".to_string(),
            with(
                member("U-UNCONFIRMED", bob),
                "is_email_confirmed",
                json!(false),
            ),
        ),
        (
            "U-NO-FLAG".to_string(),
            with(member("U-NO-FLAG", bob), "is_email_confirmed", Value::Null),
        ),
    ]))
    .await;
    let stack = stack_with(|o| {
        o.slack_signing_secret = Some(SLACK_SECRET.into());
        o.slack_bot_token = Some("xoxb-lookup".into());
        o.slack_team_id = Some(SLACK_TEAM.into());
        o.slack_api_url = Some(api);
        o.slack_approvers = BTreeMap::from([(
            bob.to_string(),
            Identity {
                issuer: "{api}/dev-idp".into(),
                subject: "bob".into(),
                name: "Bob Approver".into(),
                groups: vec!["approvers".into()],
                ..Default::default()
            },
        )]);
    })
    .await;
    let bot = agent(&stack, "ci-bot");
    let (id, _) = pending(&stack, &bot, "by-mail").await;
    let hash = bot.status(&id, 0).await.unwrap().body["request_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let value = format!("{id}|{hash}");
    // An address nobody configured, and a user Slack does not know: not linked.
    for user in ["U-EVE", "U-GHOST"] {
        let a = slack(
            &stack,
            &slack_body(user, "approve", &value),
            now,
            SLACK_SECRET,
        )
        .await;
        assert!(
            a.body["text"].as_str().unwrap().contains("not linked"),
            "{}",
            a.body
        );
    }
    // Bob's address on another workspace, a Slack Connect user, guests, an unconfirmed
    // address: refused, nothing recorded.
    for (user, why) in [
        ("U-OTHER-TEAM", "not a member of this workspace"),
        ("U-CONNECT", "not a member of this workspace"),
        ("U-GUEST", "a guest account"),
        ("U-SINGLE", "a guest account"),
        ("U-UNCONFIRMED", "an unconfirmed e-mail address"),
        ("U-NO-FLAG", "an unconfirmed e-mail address"),
    ] {
        let a = slack(
            &stack,
            &slack_body(user, "approve", &value),
            now,
            SLACK_SECRET,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
        let text = a.body["text"].as_str().unwrap();
        assert!(
            text.contains(why) && text.contains("Nothing was recorded"),
            "{user}: {}",
            a.body
        );
    }
    assert_eq!(votes(&bot, &id).await, ("PENDING".into(), 0));
    // Bob's address (any case) maps to Bob: his approval counts, as Bob.
    let a = slack(
        &stack,
        &slack_body("U-BOB", "approve", &value),
        now,
        SLACK_SECRET,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["replace_original"], true, "{}", a.body);
    let done = bot.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"), "{}", done.body);
    assert_eq!(done.body["votes"][0]["approver"]["subject"], "bob");
    let c = calls.lock().unwrap().clone();
    assert!(
        c.iter()
            .all(|(m, auth, _)| m == "users.info" && auth == "Bearer xoxb-lookup"),
        "{c:?}"
    );
    assert_eq!(c.len(), 9);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_token_without_a_workspace_does_not_start() {
    let err = tollgate_local::Stack::start(tollgate_local::StackOptions {
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        slack_signing_secret: Some(SLACK_SECRET.into()),
        slack_bot_token: Some("xoxb-lookup".into()),
        ..Default::default()
    })
    .await
    .err()
    .expect("refused");
    assert!(err.contains("team_id is required with bot_token"), "{err}");
    assert!(
        !err.contains("xoxb-lookup") && !err.contains(SLACK_SECRET),
        "{err}"
    );
}

/// The secret string of a key's secret, read from the emulator directly (as someone who had
/// stolen it would hold it).
async fn key_secret(stack: &Stack, purpose: tollgate_aws::keys::Purpose) -> Value {
    let sm = aws_sdk_secretsmanager::Client::new(&stack.sdk);
    let out = sm
        .get_secret_value()
        .secret_id(&stack.key_secret_arns[&purpose])
        .send()
        .await
        .unwrap();
    serde_json::from_str(out.secret_string().unwrap()).unwrap()
}

/// The key a ring signs with now, as the functions read it from Secrets Manager.
async fn current_key(stack: &Stack, purpose: tollgate_aws::keys::Purpose) -> String {
    key_secret(stack, purpose).await["current"]
        .as_str()
        .expect("a current key")
        .to_string()
}

async fn put_key_secret(stack: &Stack, purpose: tollgate_aws::keys::Purpose, ring: Value) {
    aws_sdk_secretsmanager::Client::new(&stack.sdk)
        .put_secret_value()
        .secret_id(&stack.key_secret_arns[&purpose])
        .secret_string(ring.to_string())
        .send()
        .await
        .unwrap();
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// The key derivation Tollgate used when one key signed everything (review §1).
fn old_derive(master: &[u8], label: &str) -> Vec<u8> {
    use hmac::Mac;
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(master).unwrap();
    m.update(b"tollgate-seal\0derive\0");
    m.update(label.as_bytes());
    m.finalize().into_bytes().to_vec()
}

fn strings_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|i| strings_in(i, out)),
        Value::Object(m) => m.values().for_each(|i| strings_in(i, out)),
        _ => {}
    }
}

/// Review §1, as an agent would run it: read Tollgate's functions through Tollgate, take
/// every value they expose as a key, forge links, session cookies, CSRF tokens and Slack
/// signatures (by the old derivation and directly), and try to approve its own request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_review_forgery_gets_no_key_and_approves_nothing() {
    use tollgate_aws::keys::Purpose;
    let stack = stack_with(|o| o.slack_signing_secret = Some(SLACK_SECRET.into())).await;
    let bot = agent(&stack, "ci-bot");
    let (id, path) = pending(&stack, &bot, "forged").await;
    let rec = bot.status(&id, 0).await.unwrap().body;
    let expires = rec["expires_at"].as_u64().unwrap();
    let hash = rec["request_hash"].as_str().unwrap().to_string();

    // 1. Tollgate's own functions. Listing them hands out every environment, so it no
    // longer runs at once: it waits for a human.
    let asked = bot
        .submit(
            &json!({"action": "lambda:ListFunctions", "params": {}}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(asked.status, 400, "{}", asked.body);
    assert_eq!(asked.body["error"]["field"], "reason", "{}", asked.body);
    // The worst case past that: an approver waves it through and masking fails. What the
    // agent would then read is the functions' configuration as Lambda holds it.
    let raw_list = reqwest::Client::new()
        .get(format!("{}/2015-03-31/functions/", stack.moto_url))
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request",
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let listed: Value = serde_json::from_str(&raw_list).unwrap();
    let functions = listed["Functions"].as_array().unwrap().clone();
    let names: Vec<&str> = functions
        .iter()
        .filter_map(|f| f["FunctionName"].as_str())
        .collect();
    for f in ["tollgate-api", "tollgate-notifier", "tollgate-executor"] {
        assert!(names.contains(&f), "{names:?}");
    }
    let env = &functions[0]["Environment"]["Variables"];
    assert!(env["TOLLGATE_LINK_KEY"].is_null(), "{env}");
    assert!(
        env["TOLLGATE_LINK_KEY_SECRET"]
            .as_str()
            .unwrap()
            .starts_with("arn:aws:secretsmanager:"),
        "{env}"
    );
    // No key, and no Slack secret, anywhere in what the agent could read.
    let text = listed.to_string();
    for p in Purpose::ALL {
        let current = current_key(&stack, p).await;
        assert!(!text.contains(&current), "{p:?} key exposed");
    }
    assert!(!text.contains(SLACK_SECRET));
    // The functions' configuration and the keys' secrets themselves are Tollgate's: forbidden.
    for (action, params) in [
        (
            "lambda:GetFunctionConfiguration",
            json!({"FunctionName": "tollgate-api"}),
        ),
        (
            "secretsmanager:GetSecretValue",
            json!({"SecretId": stack.key_secret_arns[&Purpose::Session]}),
        ),
        (
            "secretsmanager:GetSecretValue",
            json!({"SecretId": "tollgate-session-key"}),
        ),
        ("dynamodb:Scan", json!({"TableName": "tollgate-requests"})),
    ] {
        assert_protected(&bot, action, params).await;
    }

    // 2. Every value the agent read, as a key, the old way and the new.
    let mut candidates = vec![];
    strings_in(&listed, &mut candidates);
    candidates.retain(|c| c.len() >= 8);
    candidates.sort();
    candidates.dedup();
    assert!(candidates.len() > 20, "{candidates:?}");
    let real_k = path.split("k=").nth(1).unwrap().to_string();
    let form_path = format!("/v1/approvals/{id}");
    let identity = json!({"issuer": format!("{}/dev-idp", stack.api_url), "subject": "mallory", "name": "Mallory", "groups": ["approvers", "dba"]});
    let now_s = now_ms() / 1000;
    for master in &candidates {
        let master = master.as_bytes();
        for (link_key, session_key, csrf_key) in [
            (
                old_derive(master, "links"),
                old_derive(master, "session"),
                old_derive(master, "csrf"),
            ),
            (master.to_vec(), master.to_vec(), master.to_vec()),
        ] {
            // A forged link: refused before anything else.
            let k = tollgate_core::link::sign(&link_key, &id, expires);
            let mut b = Browser::new(&stack);
            assert_eq!(
                b.get(&format!("/v1/approvals/{id}?k={k}")).await.status,
                403
            );
            // The real link with a forged session (old and new cookie shapes) and CSRF token.
            for cookie in [
                json!({"sid": "x", "identity": identity}),
                json!({"sid": "x"}),
            ] {
                b.cookies.insert(
                    "tollgate_session".into(),
                    tollgate_core::seal::seal(&session_key, "session", &cookie, now_ms() + 600_000),
                );
                let csrf = tollgate_core::seal::csrf_token(&csrf_key, "x", &id);
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs([
                        ("k", real_k.as_str()),
                        ("csrf", &csrf),
                        ("request_hash", &hash),
                        ("decision", "approve"),
                    ])
                    .finish();
                // No Origin header, as in the review's attack.
                let p = b
                    .send(
                        b.http
                            .post(b.url(&form_path))
                            .header("content-type", "application/x-www-form-urlencoded")
                            .body(body),
                    )
                    .await;
                assert_eq!(p.status, 401, "{}", p.html);
            }
        }
        // A forged Slack signature.
        let body = slack_body("U-ANY", "approve", &format!("{id}|{hash}"));
        let a = slack(&stack, &body, now_s, std::str::from_utf8(master).unwrap()).await;
        assert_eq!(a.status, 401, "{}", a.body);
    }
    assert_eq!(votes(&bot, &id).await, ("PENDING".into(), 0));
    stack.stop().await;
}

/// Even with the session key itself, a cookie is only as good as its server-side record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cookie_without_a_server_record_is_refused() {
    use tollgate_aws::keys::Purpose;
    let stack = approvers_stack(3600).await;
    let bot = agent(&stack, "ci-bot");
    let (id, path) = pending(&stack, &bot, "cookies").await;
    let session_key = current_key(&stack, Purpose::Session).await;
    let csrf_key = current_key(&stack, Purpose::Csrf).await;
    let hash = bot.status(&id, 0).await.unwrap().body["request_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let k = path.split("k=").nth(1).unwrap().to_string();
    let identity = json!({"issuer": format!("{}/dev-idp", stack.api_url), "subject": "mallory", "name": "Mallory", "groups": ["approvers"]});
    for cookie in [
        json!({"sid": "forged-session-id"}),
        json!({"sid": "forged", "identity": identity}),
    ] {
        let sid = cookie["sid"].as_str().unwrap().to_string();
        let mut b = Browser::new(&stack);
        b.cookies.insert(
            "tollgate_session".into(),
            tollgate_core::seal::seal(
                session_key.as_bytes(),
                "session",
                &cookie,
                now_ms() + 600_000,
            ),
        );
        let p = b.get(&path).await;
        assert!(p.html.contains("Sign in to decide"), "{}", p.html);
        let csrf = tollgate_core::seal::csrf_token(csrf_key.as_bytes(), &sid, &id);
        let p = b
            .post(
                &format!("/v1/approvals/{id}"),
                &[
                    ("k", &k),
                    ("csrf", &csrf),
                    ("request_hash", &hash),
                    ("decision", "approve"),
                ],
            )
            .await;
        assert_eq!(p.status, 401, "{}", p.html);
    }
    assert_eq!(votes(&bot, &id).await, ("PENDING".into(), 0));
    stack.stop().await;
}

async fn session_items(stack: &Stack) -> usize {
    aws_sdk_dynamodb::Client::new(&stack.sdk)
        .scan()
        .table_name("tollgate-requests")
        .send()
        .await
        .unwrap()
        .items()
        .iter()
        .filter(|i| i["pk"].as_s().unwrap().starts_with("SESSION#"))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_on_the_server() {
    let stack = approvers_stack(3600).await;
    let bot = agent(&stack, "ci-bot");
    let (id, path) = pending(&stack, &bot, "logout").await;
    let mut alice = Browser::new(&stack);
    let page = alice.sign_in(&path, "alice").await;
    assert!(page.html.contains("Signed in as"), "{}", page.html);
    assert_eq!(session_items(&stack).await, 1);
    // The record holds no session id, only its hash.
    let sid_cookie = alice.cookies["tollgate_session"].clone();
    let form = decide_form(&page.html, "approve");
    let kept = alice.cookies.clone();
    let p = alice.post("/v1/approver/logout", &[]).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(!alice.cookies.contains_key("tollgate_session"));
    assert_eq!(session_items(&stack).await, 0);
    // The cookie, kept from before the logout, no longer signs anyone in.
    let mut replay = Browser::new(&stack);
    replay.cookies = kept;
    assert_eq!(replay.cookies["tollgate_session"], sid_cookie);
    let p = replay.get(&path).await;
    assert!(p.html.contains("Sign in to decide"), "{}", p.html);
    let p = replay
        .post(&format!("/v1/approvals/{id}"), &pairs(&form))
        .await;
    assert_eq!(p.status, 401, "{}", p.html);
    assert_eq!(votes(&bot, &id).await, ("PENDING".into(), 0));
    stack.stop().await;
}

/// Rotation: a new current key signs, the previous one still verifies; once dropped from
/// the ring, what it signed is refused. The functions read the rings at cold start.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotating_keys_keeps_links_and_sessions_until_the_old_key_is_dropped() {
    use tollgate_aws::keys::Purpose;
    let stack = approvers_stack(3600).await;
    let bot = agent(&stack, "ci-bot");
    let (_, old_link) = pending(&stack, &bot, "rot-a").await;
    let mut alice = Browser::new(&stack);
    alice.sign_in(&old_link, "alice").await;
    let a_link = current_key(&stack, Purpose::Link).await;
    let a_session = current_key(&stack, Purpose::Session).await;
    let (b, c) = ("B".repeat(64), "C".repeat(64));

    // Rotate: B is current, A previous.
    put_key_secret(
        &stack,
        Purpose::Link,
        json!({"current": b, "previous": a_link}),
    )
    .await;
    put_key_secret(
        &stack,
        Purpose::Session,
        json!({"current": b, "previous": a_session}),
    )
    .await;
    stack.cold_start().await.unwrap();
    let p = alice.get(&old_link).await;
    assert_eq!(p.status, 200, "{}", p.html);
    assert!(
        p.html.contains("Signed in as"),
        "the session survives: {}",
        p.html
    );
    let (id2, new_link) = pending(&stack, &bot, "rot-b").await;
    let k2 = new_link.split("k=").nth(1).unwrap();
    let rec2 = bot.status(&id2, 0).await.unwrap().body;
    assert_eq!(
        k2,
        tollgate_core::link::sign(b.as_bytes(), &id2, rec2["expires_at"].as_u64().unwrap()),
        "new links are signed with the current key"
    );

    // Rotate again: A is dropped.
    put_key_secret(&stack, Purpose::Link, json!({"current": c, "previous": b})).await;
    put_key_secret(
        &stack,
        Purpose::Session,
        json!({"current": c, "previous": b}),
    )
    .await;
    stack.cold_start().await.unwrap();
    let p = alice.get(&old_link).await;
    assert_eq!(p.status, 403, "{}", p.html);
    assert_eq!(alice.get(&new_link).await.status, 200);
    let p = alice.get(&new_link).await;
    assert!(
        p.html.contains("Sign in to decide"),
        "a session sealed with A is gone: {}",
        p.html
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ins_reuse_the_providers_discovery_document() {
    let stack = approvers_stack(3600).await;
    let bot = agent(&stack, "ci-bot");
    let (_, path) = pending(&stack, &bot, "discovery").await;
    let before = stack.calls("/dev-idp GET /.well-known/openid-configuration");
    for user in ["alice", "bob", "carol"] {
        Browser::new(&stack).sign_in(&path, user).await;
    }
    let fetched = stack.calls("/dev-idp GET /.well-known/openid-configuration") - before;
    // One for the sign-in flow, at most one for the approver token verifier's key set.
    assert!(
        fetched <= 2,
        "discovery fetched {fetched} times for three sign-ins"
    );
    stack.stop().await;
}

/// Bob votes with his OIDC token, then presses Approve in Slack, which maps him by e-mail to
/// another subject: the address is one human key, so the second vote is his second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slack_vote_and_a_signed_in_vote_by_one_person_count_once() {
    let (api, _calls) = fake_slack(BTreeMap::from([(
        "U-BOB".to_string(),
        "bob@example.com".to_string(),
    )]))
    .await;
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/tollgate/policies".into();
        o.seed_ssm = vec![("/tollgate/policies".into(), POLICY.into())];
        o.slack_signing_secret = Some(SLACK_SECRET.into());
        o.slack_bot_token = Some("xoxb-lookup".into());
        o.slack_team_id = Some(SLACK_TEAM.into());
        o.slack_api_url = Some(api);
        o.approver_issuers = Some(vec![tollgate_aws::oidc::IssuerConfig {
            human_key_claim: Some("email".into()),
            approver_groups: vec!["approvers".into()],
            ..tollgate_aws::oidc::IssuerConfig::new(
                "{api}/dev-idp",
                tollgate_local::issuer::APPROVER_AUDIENCE,
            )
        }]);
        o.slack_approvers = BTreeMap::from([(
            "bob@example.com".to_string(),
            Identity {
                issuer: "{api}/dev-idp".into(),
                subject: "bob-in-slack".into(),
                name: "Bob".into(),
                groups: vec!["approvers".into()],
                ..Default::default()
            },
        )]);
    })
    .await;
    let bot = agent(&stack, "ci-bot");
    let (id, _) = pending(&stack, &bot, "one-bob").await;
    let issuer = stack.issuer();
    let now = jsonwebtoken::get_current_timestamp();
    let token = issuer
        .sign(
            jsonwebtoken::Algorithm::ES256,
            &json!({"iss": issuer.issuer(), "aud": tollgate_local::issuer::APPROVER_AUDIENCE,
                "sub": "bob", "email": "bob@example.com", "email_verified": true,
                "groups": ["approvers"], "exp": now + 600, "iat": now}),
        )
        .unwrap();
    let r = Client::new(&stack.api_url, Some(token))
        .vote(&id, Verdict::Approve, None)
        .await
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let hash = r.body["request_hash"].as_str().unwrap().to_string();
    let a = slack(
        &stack,
        &slack_body("U-BOB", "approve", &format!("{id}|{hash}")),
        now,
        SLACK_SECRET,
    )
    .await;
    let text = a.body["text"].as_str().unwrap_or_default();
    assert!(
        text.contains("already voted") && text.contains("Nothing was recorded"),
        "{}",
        a.body
    );
    assert_eq!(votes(&bot, &id).await, ("PENDING".into(), 1));
    stack.stop().await;
}

/// Google (and Entra ID web apps, Cognito clients with a secret) refuse a code exchange
/// without the client secret, PKCE or not. With the dev issuer requiring one: a code alone
/// gets nothing at its token endpoint, Tollgate's sign-in presents the secret it reads from
/// Secrets Manager (the issuer's `client_secret_arn`) and succeeds, and the scopes asked for
/// are the issuer's `scopes`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_presents_the_client_secret_a_provider_requires() {
    const CLIENT_SECRET: &str = "s3cr:t+/=";
    let stack = stack_with(|o| {
        o.policy_source = "ssm:/tollgate/policies".into();
        o.seed_ssm = vec![("/tollgate/policies".into(), POLICY.into())];
        o.approver_client_secret = Some(CLIENT_SECRET.into());
        o.approver_issuers = Some(vec![tollgate_aws::oidc::IssuerConfig {
            approver_groups: vec!["approvers".into()],
            scopes: vec!["openid".into(), "email".into(), "groups".into()],
            ..tollgate_aws::oidc::IssuerConfig::new(
                "{api}/dev-idp",
                tollgate_local::issuer::APPROVER_AUDIENCE,
            )
        }]);
    })
    .await;
    let bot = agent(&stack, "ci-bot");
    let (_, path) = pending(&stack, &bot, "client-secret").await;
    let mut alice = Browser::new(&stack);
    let page = alice.get(&path).await;
    let login = attr_after(&page.html, "href=\"/v1/approver/login")
        .map(|rest| format!("/v1/approver/login{}", html_unescape(&rest)))
        .unwrap();
    let authorize = alice.get(&login).await.location.unwrap();
    let scope = url::Url::parse(&authorize)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned());
    assert_eq!(scope.as_deref(), Some("openid email groups"), "{authorize}");
    let callback = alice.pick_user(&path, "alice").await;
    let code = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    // The code without the secret, and with a wrong one: refused.
    let token_url = format!("{}/dev-idp/token", stack.api_url);
    for extra in [vec![], vec![("client_secret", "wrong")]] {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("client_id", tollgate_local::issuer::APPROVER_AUDIENCE),
        ];
        form.extend(extra);
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form)
            .finish();
        let resp = reqwest::Client::new()
            .post(&token_url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client", "{body}");
    }
    // Tollgate's own exchange of the same code carries the secret.
    let done = alice.get(&callback).await;
    assert_eq!(done.status, 303, "{}", done.html);
    let page = alice.get(&done.location.unwrap()).await;
    assert!(
        page.html.contains("Signed in as <strong>Alice Approver"),
        "{}",
        page.html
    );
    stack.stop().await;
}
