//! The Slack forwarder against moto's Secrets Manager and DynamoDB (real SDK clients) and a
//! local HTTP receiver standing in for Slack's Web API, fed the notices the real notifier
//! published for a real request: post with buttons, ignore a redelivery, then update the
//! same message in place when the request closes.

use tollgate_cli::client::Client;
use tollgate_core::record::Verdict;
use tollgate_e2e::*;
use tollgate_local::demo::{create_table, wait_for_notice};
use tollgate_slack::Forwarder;

fn sns_event(notice: &Value) -> Value {
    json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": notice.to_string()}}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_then_updates_the_same_message() {
    let stack = stack().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&stack.sdk);
    secrets
        .create_secret()
        .name("tollgate/slack")
        .secret_string(json!({"bot_token": "xoxb-test-token", "channel": "C-TOLLGATE"}).to_string())
        .send()
        .await
        .unwrap();
    secrets
        .create_secret()
        .name("tollgate/slack-broken")
        .secret_string(json!({"channel": "C-TOLLGATE"}).to_string())
        .send()
        .await
        .unwrap();
    let (api, calls) = fake_slack(Default::default()).await;
    let table = stack.names.table.clone();
    let forwarder = Forwarder::new(
        &stack.sdk,
        "tollgate/slack".into(),
        table.clone(),
        api.clone(),
    );

    create_table(&stack.sdk, "slack-orders").await.unwrap();
    let bot = agent(&stack, "ci-bot");
    let id = pending_delete(&bot, "slack-orders").await;
    let notice = wait_for_notice(&Client::new(&stack.api_url, None), &id, WAIT)
        .await
        .unwrap()["notice"]
        .clone();
    let hash = bot.status(&id, 0).await.unwrap().body["request_hash"]
        .as_str()
        .unwrap()
        .to_string();

    // A secret without a token or webhook: refused before anything is sent.
    let broken = Forwarder::new(
        &stack.sdk,
        "tollgate/slack-broken".into(),
        table.clone(),
        api,
    );
    let e = broken.handle(sns_event(&notice)).await.unwrap_err();
    assert!(e.message.contains("Slack secret"), "{e:?}");
    assert!(calls.lock().unwrap().is_empty());

    forwarder.handle(sns_event(&notice)).await.unwrap();
    // SNS may deliver twice: the second delivery posts nothing.
    let again = forwarder.handle(sns_event(&notice)).await.unwrap();
    assert_eq!(again["forwarded"][0]["duplicate"], true, "{again}");
    {
        let c = calls.lock().unwrap();
        assert_eq!(c.len(), 1, "{c:?}");
        let (method, auth, body) = &c[0];
        assert_eq!(method, "chat.postMessage");
        assert_eq!(auth, "Bearer xoxb-test-token");
        assert_eq!(body["channel"], "C-TOLLGATE");
        let blocks = body["blocks"].to_string();
        assert!(blocks.contains(&format!("{id}|{hash}")), "{blocks}");
        assert!(
            blocks.contains("Approve") && blocks.contains("Reject"),
            "{blocks}"
        );
        assert!(!body.to_string().to_lowercase().contains("task"), "{body}");
        // The parameters in short, and the preview's summary.
        assert!(
            blocks.contains("*Parameters*") && blocks.contains("`TableName`: `slack-orders`"),
            "{blocks}"
        );
        assert!(blocks.contains("*What it touches now*"), "{blocks}");
    }

    // Alice approves with the CLI; the closing notice updates the message in place.
    let a = approver(&stack, "alice")
        .vote(&id, Verdict::Approve, None)
        .await
        .unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    let done = bot.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("SUCCEEDED"));
    // The API published a notice for the vote: the message shows it at once.
    let notice_of = |kind: &str| {
        stack
            .outbox()
            .into_iter()
            .find(|n| n["notice"]["request_id"] == id.as_str() && n["notice"]["type"] == kind)
    };
    let mut voted = None;
    let mut closed = None;
    for _ in 0..100 {
        voted = voted.or_else(|| notice_of("vote_recorded"));
        closed = closed.or_else(|| notice_of("request_closed"));
        if voted.is_some() && closed.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let voted = voted.expect("a vote notice")["notice"].clone();
    let closed = closed.expect("a closing notice")["notice"].clone();
    forwarder.handle(sns_event(&voted)).await.unwrap();
    {
        let c = calls.lock().unwrap();
        assert_eq!(c.len(), 2, "{c:?}");
        let (method, _, body) = &c[1];
        assert_eq!(method, "chat.update");
        assert_eq!(body["ts"], "1700000000.000100");
        let blocks = body["blocks"].to_string();
        assert!(blocks.contains("alice approved"), "{blocks}");
    }
    forwarder.handle(sns_event(&closed)).await.unwrap();
    let c = calls.lock().unwrap().clone();
    assert_eq!(c.len(), 3, "{c:?}");
    let (method, _, body) = &c[2];
    assert_eq!(method, "chat.update");
    assert_eq!(body["ts"], "1700000000.000100");
    assert_eq!(body["channel"], "C-TOLLGATE");
    let blocks = body["blocks"].to_string();
    assert!(
        blocks.contains("SUCCEEDED") && blocks.contains("alice"),
        "{blocks}"
    );
    assert!(!blocks.contains("button"), "{blocks}");
    // The vote notice delivered again, late: the message keeps the newer state.
    let again = forwarder.handle(sns_event(&voted)).await.unwrap();
    assert_eq!(again["forwarded"][0]["stale"], true, "{again}");
    assert_eq!(calls.lock().unwrap().len(), 3);
    stack.stop().await;
}
