//! The impact preview against moto: a held call's target is read under a read-only session
//! before the notice, and its facts reach the approval page, the e-mail and Slack.

use std::time::Duration;

use aws_credential_types::Credentials;
use tollgate_cli::client::Client;
use tollgate_e2e::*;
use tollgate_local::Stack;
use tollgate_local::demo::{create_table, wait_for_notice};

/// A REST call to moto's S3 (path-style), signed with the emulator's test credentials.
async fn s3(stack: &Stack, method: &str, path: &str, body: &str) -> u16 {
    let req = http::Request::builder()
        .method(method)
        .uri(format!(
            "{}{path}",
            stack.settings().aws_endpoint.as_deref().unwrap()
        ))
        .body(body.as_bytes().to_vec())
        .unwrap();
    let creds = Credentials::new("testing", "testing", None, None, "test");
    tollgate_aws::signed_http::SignedHttp::new()
        .send(req, &creds, "us-east-1", "s3")
        .await
        .expect("moto answers")
        .status
}

/// A query-protocol call to moto (SQS, SNS), signed with the emulator's test credentials.
async fn query(stack: &Stack, service: &str, form: &[(&str, &str)]) -> String {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    let req = http::Request::builder()
        .method("POST")
        .uri(format!(
            "{}/",
            stack.settings().aws_endpoint.as_deref().unwrap()
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.into_bytes())
        .unwrap();
    let creds = Credentials::new("testing", "testing", None, None, "test");
    let resp = tollgate_aws::signed_http::SignedHttp::new()
        .send(req, &creds, "us-east-1", service)
        .await
        .expect("moto answers");
    String::from_utf8(resp.body).unwrap()
}

fn between<'a>(xml: &'a str, tag: &str) -> &'a str {
    let open = format!("<{tag}>");
    let start = xml.find(&open).map(|i| i + open.len()).unwrap_or(0);
    let end = xml[start..]
        .find(&format!("</{tag}>"))
        .map_or(start, |i| start + i);
    &xml[start..end]
}

/// An SQS queue subscribed to the notice topic: it receives the `default` body, which is the
/// e-mail text.
async fn mailbox(stack: &Stack) -> String {
    let created = query(
        stack,
        "sqs",
        &[("Action", "CreateQueue"), ("QueueName", "approver-mail")],
    )
    .await;
    let url = between(&created, "QueueUrl").to_string();
    let arn = format!(
        "arn:aws:sqs:us-east-1:{}:approver-mail",
        stack.settings().account_id
    );
    let topic = stack.settings().topic_arn.clone();
    let sub = query(
        stack,
        "sns",
        &[
            ("Action", "Subscribe"),
            ("TopicArn", &topic),
            ("Protocol", "sqs"),
            ("Endpoint", &arn),
        ],
    )
    .await;
    assert!(sub.contains("SubscriptionArn"), "{sub}");
    url
}

async fn mail_for(stack: &Stack, queue_url: &str, id: &str) -> String {
    for _ in 0..100 {
        let got = query(
            stack,
            "sqs",
            &[
                ("Action", "ReceiveMessage"),
                ("QueueUrl", queue_url),
                ("MaxNumberOfMessages", "10"),
            ],
        )
        .await;
        // The SNS envelope's JSON, XML-escaped inside the SQS answer.
        let unescaped = got
            .replace("&quot;", "\"")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&#39;", "'")
            .replace("&amp;", "&");
        for body in unescaped.split("<Body>").skip(1) {
            let body = &body[..body.find("</Body>").unwrap_or(body.len())];
            if let Ok(envelope) = serde_json::from_str::<Value>(body)
                && let Some(text) = envelope["Message"].as_str()
                && text.contains(id)
            {
                return text.to_string();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no e-mail for {id}");
}

async fn put_items(stack: &Stack, table: &str, n: usize) {
    let ddb = aws_sdk_dynamodb::Client::new(&stack.sdk);
    for i in 0..n {
        ddb.put_item()
            .table_name(table)
            .item(
                "id",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("item-{i}")),
            )
            .send()
            .await
            .expect("put item");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_delete_table_shows_the_tables_facts_on_the_page_in_the_email_and_in_slack() {
    let stack = stack().await;
    let mail = mailbox(&stack).await;
    create_table(&stack.sdk, "orders").await.unwrap();
    put_items(&stack, "orders", 3).await;
    let bot = agent(&stack, "ci-bot");
    let id = pending_delete(&bot, "orders").await;
    let anon = Client::new(&stack.api_url, None);
    let notice = wait_for_notice(&anon, &id, WAIT).await.unwrap();

    // Kept with the request, with its audit event before the notice's.
    let status = bot.status(&id, 0).await.unwrap();
    let preview = &status.body["preview"];
    assert_eq!(preview["status"], "read", "{}", status.body);
    let fact = |label: &str| {
        preview["facts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["label"] == label)
            .map(|f| f["value"].as_str().unwrap().to_string())
    };
    assert_eq!(fact("Items").as_deref(), Some("3"), "{preview}");
    assert_eq!(
        fact("Deletion protection").as_deref(),
        Some("no"),
        "{preview}"
    );
    assert_eq!(fact("On-demand backups").as_deref(), Some("0"), "{preview}");
    assert!(fact("Point-in-time recovery").is_some(), "{preview}");
    let kinds = event_kinds(&status);
    let previewed = kinds.iter().position(|k| k == "previewed");
    assert!(previewed.is_some(), "{kinds:?}");

    // The page, as a mail scanner or an approver before sign-in sees it.
    let link = notice["notice"]["link"].as_str().unwrap();
    let page = reqwest::get(link).await.unwrap().text().await.unwrap();
    assert!(page.contains("What it touches now"), "{page}");
    assert!(
        page.contains("<tr><th scope=\"row\">Items</th><td>3</td>"),
        "{page}"
    );

    // Slack: the short form in the blocks, with the page's link.
    let blocks = notice["notice"]["blocks"].to_string();
    assert!(blocks.contains("*What it touches now* (read)"), "{blocks}");
    assert!(blocks.contains("Items: 3"), "{blocks}");
    assert!(blocks.contains(link), "{blocks}");

    // The e-mail.
    let email = mail_for(&stack, &mail, &id).await;
    assert!(
        email.contains("Now:        what the call touches"),
        "{email}"
    );
    assert!(
        email.contains("            Items: 3  [dynamodb:DescribeTable]"),
        "{email}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_that_fail_say_so_and_the_notice_still_goes_out() {
    let stack = stack().await;
    let bot = agent(&stack, "ci-bot");
    // No such table: the table's reads fail (the backups listing still answers), and the
    // approvers are told which and why.
    let id = pending_delete(&bot, "never-created").await;
    let anon = Client::new(&stack.api_url, None);
    let notice = wait_for_notice(&anon, &id, WAIT).await.unwrap();
    let status = bot.status(&id, 0).await.unwrap();
    assert_eq!(
        status.body["preview"]["status"], "partial",
        "{}",
        status.body
    );
    let notes = status.body["preview"]["notes"].to_string();
    assert!(notes.contains("ResourceNotFoundException"), "{notes}");
    let blocks = notice["notice"]["blocks"].to_string();
    assert!(
        blocks.contains("*What it touches now* (partly read)"),
        "{blocks}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_bucket_policy_change_shows_old_and_new_and_flags_the_public_grant() {
    let stack = stack().await;
    let mail = mailbox(&stack).await;
    assert_eq!(s3(&stack, "PUT", "/site", "").await, 200);
    let ours = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Team","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}"#;
    assert!(matches!(
        s3(&stack, "PUT", "/site?policy", ours).await,
        200 | 204
    ));
    let public = r#"{"Version":"2012-10-17","Statement":[{"Sid":"Team","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}"#;
    let bot = agent(&stack, "ci-bot");
    let a = bot
        .submit(&json!({"action": "s3:PutBucketPolicy", "params": {"Bucket": "site", "Policy": public}, "reason": "share the site"}), None)
        .await
        .unwrap();
    assert_eq!(a.status, 202, "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_string();
    let anon = Client::new(&stack.api_url, None);
    let notice = wait_for_notice(&anon, &id, WAIT).await.unwrap();
    let status = bot.status(&id, 0).await.unwrap();
    let change = &status.body["preview"]["policy"];
    assert_eq!(change["had_policy"], true, "{}", status.body);
    let diff = change["diff"].to_string();
    assert!(
        diff.contains("- ") && diff.contains("arn:aws:iam::123456789012:root"),
        "{diff}"
    );
    assert!(diff.contains(r#"+       \"Principal\": \"*\","#), "{diff}");
    assert_eq!(
        change["flags"],
        json!(["statement `Team` grants anyone (`*`): public"])
    );

    let link = notice["notice"]["link"].as_str().unwrap();
    let page = reqwest::get(link).await.unwrap().text().await.unwrap();
    assert!(page.contains("<strong>Policy replaced</strong>"), "{page}");
    assert!(
        page.contains("statement `Team` grants anyone (`*`): public"),
        "{page}"
    );
    assert!(page.contains("-       &quot;Principal&quot;: {"), "{page}");
    assert!(
        page.contains("+       &quot;Principal&quot;: &quot;*&quot;,"),
        "{page}"
    );
    let blocks = notice["notice"]["blocks"].to_string();
    assert!(blocks.contains("grants anyone"), "{blocks}");
    let email = mail_for(&stack, &mail, &id).await;
    assert!(
        email.contains("FLAG: statement `Team` grants anyone (`*`): public"),
        "{email}"
    );
    assert!(
        email.contains("Policy document (- now, + proposed):"),
        "{email}"
    );
    stack.stop().await;
}

/// A held EC2 call: submitted by `bot`, its notice awaited; the request's status and notice.
async fn held_ec2(stack: &Stack, bot: &Client, action: &str, params: Value) -> (Value, Value) {
    let a = bot
        .submit(
            &json!({"action": action, "params": params, "reason": "dry-run test"}),
            None,
        )
        .await
        .unwrap();
    assert_eq!(a.status, 202, "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_string();
    let anon = Client::new(&stack.api_url, None);
    let notice = wait_for_notice(&anon, &id, WAIT).await.unwrap();
    (bot.status(&id, 0).await.unwrap().body, notice)
}

async fn instance_state(stack: &Stack, id: &str) -> String {
    let got = query(
        stack,
        "ec2",
        &[
            ("Action", "DescribeInstances"),
            ("Version", "2016-11-15"),
            ("InstanceId.1", id),
        ],
    )
    .await;
    between(between(&got, "instanceState"), "name").to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_terminate_instances_shows_the_dry_run_answer_and_the_instance_keeps_running() {
    let stack = stack().await;
    let mail = mailbox(&stack).await;
    let ran = query(
        &stack,
        "ec2",
        &[
            ("Action", "RunInstances"),
            ("Version", "2016-11-15"),
            ("ImageId", "ami-12345678"),
            ("MinCount", "1"),
            ("MaxCount", "1"),
        ],
    )
    .await;
    let instance = between(&ran, "instanceId").to_string();
    assert!(instance.starts_with("i-"), "{ran}");
    assert_eq!(instance_state(&stack, &instance).await, "running");
    let bot = agent(&stack, "ci-bot");
    // The agent asks for no dry run; the preview's is forced all the same.
    let (status, notice) = held_ec2(
        &stack,
        &bot,
        "ec2:TerminateInstances",
        json!({"InstanceIds": [instance], "DryRun": false}),
    )
    .await;
    let id = status["id"].as_str().unwrap().to_string();
    let dry = &status["preview"]["dry_run"];
    assert_eq!(dry["verdict"], "would_succeed", "{status}");
    assert_eq!(dry["source"], "ec2:TerminateInstances");
    assert_eq!(
        status["status"], "PENDING",
        "the dry run decided nothing: {status}"
    );
    assert_eq!(instance_state(&stack, &instance).await, "running");

    let link = notice["notice"]["link"].as_str().unwrap();
    let page = reqwest::get(link).await.unwrap().text().await.unwrap();
    assert!(
        page.contains("<strong>Dry run:</strong> would succeed"),
        "{page}"
    );
    let blocks = notice["notice"]["blocks"].to_string();
    assert!(blocks.contains("• Dry run: would succeed"), "{blocks}");
    let email = mail_for(&stack, &mail, &id).await;
    assert!(
        email.contains("            Dry run: would succeed  [ec2:TerminateInstances]"),
        "{email}"
    );
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_of_a_call_on_a_missing_instance_shows_the_not_found_answer() {
    let stack = stack().await;
    let bot = agent(&stack, "ci-bot");
    let missing = "i-0123456789abcdef0";
    // moto looks the instance up before it reads the flag for AssociateAddress (for
    // TerminateInstances it answers `DryRunOperation` first), so this is where its not-found
    // answer shows.
    let (status, notice) = held_ec2(
        &stack,
        &bot,
        "ec2:AssociateAddress",
        json!({"InstanceId": missing, "PublicIp": "198.51.100.7"}),
    )
    .await;
    let dry = &status["preview"]["dry_run"];
    assert_eq!(dry["verdict"], "error", "{status}");
    let detail = dry["detail"].as_str().unwrap();
    assert!(
        detail.starts_with("InvalidInstanceID.NotFound: ") && detail.contains(missing),
        "{detail}"
    );
    let blocks = notice["notice"]["blocks"].to_string();
    assert!(
        blocks.contains("• Dry run: InvalidInstanceID.NotFound"),
        "{blocks}"
    );
    // A held TerminateInstances of the missing id: the read of the instances says so.
    let (status, _) = held_ec2(
        &stack,
        &bot,
        "ec2:TerminateInstances",
        json!({"InstanceIds": [missing]}),
    )
    .await;
    let preview = status["preview"].to_string();
    assert!(preview.contains("InvalidInstanceID.NotFound"), "{preview}");
    assert!(
        status["preview"]["dry_run"]["verdict"].is_string(),
        "{preview}"
    );
    stack.stop().await;
}
