//! Plans end to end: several calls submitted at once, shown on one page, approved once, run
//! in order by the real state machine in moto against moto's DynamoDB, each step under its
//! own scoped session, the first failure stopping the rest.

use aws_sdk_dynamodb::types::AttributeValue;
use tollgate_cli::client::Answer;
use tollgate_core::record::Verdict;
use tollgate_e2e::*;
use tollgate_local::demo::{table_exists, wait_for_notice};

const TABLE: &str = "plan-orders";

fn create_table(name: &str) -> Value {
    json!({"action": "dynamodb:CreateTable", "params": {
        "TableName": name, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}})
}

fn put(id: &str, extra: Value) -> Value {
    let mut item = json!({"id": {"S": id}});
    if let Value::Object(m) = extra {
        item.as_object_mut().unwrap().extend(m);
    }
    json!({"action": "dynamodb:PutItem", "params": {"TableName": TABLE, "Item": item}})
}

/// Create a table, read its ARN, write an item carrying that ARN (taken from step 1's
/// answer), delete a table that does not exist (fails), and a last write that never runs.
fn five_steps() -> Value {
    json!({
        "reason": "set up the orders table and drop the old one",
        "steps": [
            create_table(TABLE),
            {"action": "dynamodb:DescribeTable", "params": {"TableName": TABLE}},
            put("meta", json!({"arn": {"S": {"$ref": "steps[1].answer.Table.TableArn"}}})),
            {"action": "dynamodb:DeleteTable", "params": {"TableName": "plan-no-such-table"}},
            put("never", json!({})),
        ]
    })
}

fn step_statuses(a: &Answer) -> Vec<String> {
    a.body["plan"]["steps"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|s| s["status"].as_str().unwrap_or("?").to_string())
        .collect()
}

fn events_of<'a>(a: &'a Answer, kind: &str) -> Vec<&'a Value> {
    a.body["events"]
        .as_array()
        .map(|e| e.iter().filter(|e| e["kind"] == kind).collect())
        .unwrap_or_default()
}

async fn item(stack: &tollgate_local::Stack, id: &str) -> Option<String> {
    let got = aws_sdk_dynamodb::Client::new(&stack.sdk)
        .get_item()
        .table_name(TABLE)
        .key("id", AttributeValue::S(id.into()))
        .send()
        .await
        .unwrap();
    got.item().map(|i| {
        i.get("arn")
            .and_then(|v| v.as_s().ok())
            .cloned()
            .unwrap_or_default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_five_step_plan_is_approved_once_and_runs_in_order_until_a_step_fails() {
    let stack = stack().await;
    let owner = agent(&stack, "ci-bot");
    let a = owner.submit_plan(&five_steps(), None).await.unwrap();
    assert_eq!(a.status, 202, "{}", a.body);
    let id = a.body["id"].as_str().unwrap().to_string();
    assert_eq!(a.body["approvals_required"], 1);
    assert!(!table_exists(&stack.sdk, TABLE).await.unwrap());

    // The one notice summarises every step; the page shows each with its parameters,
    // resources and deciding policies, and the hash of the whole plan.
    let anon = tollgate_cli::client::Client::new(&stack.api_url, None);
    let notice = wait_for_notice(&anon, &id, WAIT).await.unwrap();
    let subject = notice["subject"].as_str().unwrap_or_default();
    assert!(
        subject
            .starts_with("Approve a plan of 5 steps (dynamodb:CreateTable, dynamodb:DescribeTable"),
        "{subject}"
    );
    let steps = notice["notice"]["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 5, "{notice}");
    assert_eq!(steps[3]["action"], "dynamodb:DeleteTable");
    assert_eq!(steps[3]["params"]["TableName"], "plan-no-such-table");
    assert!(
        notice["notice"]["blocks"]
            .to_string()
            .contains("Steps, run in order"),
        "{notice}"
    );
    let link = notice["notice"]["link"].as_str().unwrap().to_string();
    let path = link.trim_start_matches(&stack.api_url).to_string();
    let page = raw(&stack, "GET", &path, None, &[], vec![]).await;
    assert_eq!(page.status, 200);
    let html = page.body.as_str().unwrap();
    let pending = owner.status(&id, 0).await.unwrap();
    for want in [
        "A plan of 5 steps",
        "steps[0]: <code>dynamodb:CreateTable</code>",
        "steps[4]: <code>dynamodb:PutItem</code>",
        "arn:aws:dynamodb:us-east-1:123456789012:table/plan-no-such-table",
        "steps[1].answer.Table.TableArn",
        "write-one-approval",
        pending.body["request_hash"].as_str().unwrap(),
    ] {
        assert!(html.contains(want), "page lacks {want}");
    }
    // Every step was previewed before the notice (or says why not).
    let previews: Vec<&Value> = pending.body["plan"]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["preview"])
        .collect();
    assert!(previews.iter().all(|p| p.is_object()), "{previews:?}");
    assert_eq!(
        pending.body["plan"]["steps"][2]["preview"]["status"],
        "unavailable"
    );

    // One approval decides the whole plan.
    let alice = approver(&stack, "alice");
    let v = alice.vote(&id, Verdict::Approve, Some("ok")).await.unwrap();
    assert_eq!(v.status, 200, "{}", v.body);
    let done = owner.wait_final(&id, WAIT, |_| {}).await.unwrap();
    assert_eq!(done.request_status(), Some("FAILED"), "{}", done.body);
    assert_eq!(
        step_statuses(&done),
        ["succeeded", "succeeded", "succeeded", "failed", "not_run"]
    );
    let error = &done.body["error"];
    assert_eq!(error["code"], "ResourceNotFoundException", "{error}");
    assert!(
        error["message"].as_str().unwrap().starts_with(
            "steps[3] (dynamodb:DeleteTable) failed, so the 1 step(s) after it did not run"
        ),
        "{error}"
    );

    // What ran in moto: the table, and the item carrying the ARN step 1 answered; not the
    // step after the failure.
    assert!(table_exists(&stack.sdk, TABLE).await.unwrap());
    let arn = done.body["plan"]["steps"][1]["result"]["Table"]["TableArn"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(arn.ends_with(":table/plan-orders"), "{arn}");
    assert_eq!(item(&stack, "meta").await.as_deref(), Some(arn.as_str()));
    assert_eq!(item(&stack, "never").await, None);

    // Each step ran once under a session allowing only its own action on its own table.
    assert_eq!(events_of(&done, "execution_started").len(), 1);
    assert_eq!(events_of(&done, "voted").len(), 1);
    let started = events_of(&done, "step_started");
    assert_eq!(started.len(), 4, "{started:?}");
    for (i, (ev, action)) in started
        .iter()
        .zip([
            "dynamodb:CreateTable",
            "dynamodb:DescribeTable",
            "dynamodb:PutItem",
            "dynamodb:DeleteTable",
        ])
        .enumerate()
    {
        assert_eq!(ev["detail"]["step"], i);
        let statement = &ev["detail"]["session_policy"]["Statement"];
        assert_eq!(statement.as_array().unwrap().len(), 1, "{statement}");
        assert_eq!(statement[0]["Action"], action);
    }
    assert_eq!(
        started[2]["detail"]["params"]["Item"]["arn"]["S"], arn,
        "the trail shows the value the reference resolved to"
    );
    assert_eq!(events_of(&done, "step_executed").len(), 3);
    assert_eq!(events_of(&done, "step_failed").len(), 1);

    // One Step Functions execution, named by the plan.
    let sfn = aws_sdk_sfn::Client::new(&stack.sdk);
    let machines = sfn.list_state_machines().send().await.unwrap();
    let mut executions = Vec::new();
    for m in machines.state_machines() {
        let out = sfn
            .list_executions()
            .state_machine_arn(m.state_machine_arn())
            .send()
            .await
            .unwrap();
        executions.extend(out.executions().iter().map(|e| e.name().to_string()));
    }
    assert_eq!(executions, [id.as_str()]);

    // A retried executor finds the plan final and runs nothing again.
    invoke_executor_again(&stack, &id).await;
    let again = owner.status(&id, 0).await.unwrap();
    assert_eq!(events_of(&again, "step_started").len(), 4);
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_are_refused_whole_naming_the_step() {
    let stack = stack().await;
    let owner = agent(&stack, "ci-bot");
    let plan = |steps: Value| json!({"reason": "r", "steps": steps});

    // A denied step denies the plan, recorded, and the answer names the step.
    let a = owner
        .submit_plan(
            &plan(json!([
                {"action": "dynamodb:ListTables"},
                {"action": "cloudtrail:StopLogging", "params": {"Name": "trail"}}
            ])),
            None,
        )
        .await
        .unwrap();
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.body["error"]["step"], 1, "{}", a.body);
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("steps[1] (cloudtrail:StopLogging)"),
        "{}",
        a.body
    );
    let denied = a.body["error"]["request_id"].as_str().unwrap();
    let rec = owner.status(denied, 0).await.unwrap();
    assert_eq!(rec.request_status(), Some("DENIED"));
    assert_eq!(step_statuses(&rec), ["not_run", "not_run"]);

    for (steps, field, why) in [
        // A reference may not say what a step acts on: the stand-ins change its resources.
        (
            json!([{"action": "dynamodb:ListTables"},
                   {"action": "dynamodb:DeleteTable", "params": {"TableName": {"$ref": "steps[0].answer.TableNames[0]"}}}]),
            "steps[1].params",
            "would decide what the step acts on",
        ),
        (
            json!([put("a", json!({"x": {"S": {"$ref": "steps[0].answer.X"}}}))]),
            "steps[0].params.Item.x.S",
            "does not run before this step",
        ),
        (
            json!([{"action": "dynamodb:ListTables"}, put("a", json!({"x": {"S": {"$ref": "steps[0].result"}}}))]),
            "steps[1].params.Item.x.S",
            "`.answer`",
        ),
        (
            json!([{"action": "dynamodb:ListTables"}, {"action": "dynamodb:DescribeTable", "params": {}}]),
            "steps[1].params.TableName",
            "",
        ),
        (
            json!([{"action": "dynamodb:ListTables", "reason": "mine"}]),
            "steps[0].reason",
            "one reason",
        ),
        (json!([]), "steps", "1 to 20 steps"),
    ] {
        let a = owner.submit_plan(&plan(steps), None).await.unwrap();
        assert_eq!(a.status, 400, "{field}: {}", a.body);
        assert_eq!(a.body["error"]["field"], field, "{}", a.body);
        assert!(
            a.body["error"]["message"].as_str().unwrap().contains(why),
            "{field}: {}",
            a.body
        );
    }
    // A held plan needs its reason.
    let a = owner
        .submit_plan(&json!({"steps": [create_table("plan-x")]}), None)
        .await
        .unwrap();
    assert_eq!(a.status, 400, "{}", a.body);
    assert_eq!(a.body["error"]["field"], "reason");
    assert!(!table_exists(&stack.sdk, "plan-x").await.unwrap());
    stack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_plan_runs_at_once_and_a_retry_with_its_key_returns_it() {
    let stack = stack().await;
    tollgate_local::demo::create_table(&stack.sdk, "plan-read")
        .await
        .unwrap();
    let owner = agent(&stack, "ci-bot");
    let body = json!({"steps": [
        {"action": "dynamodb:ListTables"},
        {"action": "dynamodb:DescribeTable", "params": {"TableName": {"$ref": "steps[0].answer.TableNames[0]"}}}
    ]});
    // The reference names the table: refused even for reads, whatever policy would say.
    let a = owner.submit_plan(&body, None).await.unwrap();
    assert_eq!(a.status, 400, "{}", a.body);
    let body = json!({"steps": [
        {"action": "dynamodb:ListTables"},
        {"action": "dynamodb:DescribeTable", "params": {"TableName": "plan-read"}}
    ]});
    let a = owner.submit_plan(&body, Some("plan-key-1")).await.unwrap();
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["status"], "SUCCEEDED", "{}", a.body);
    assert_eq!(step_statuses(&a), ["succeeded", "succeeded"]);
    assert_eq!(
        a.body["plan"]["steps"][1]["result"]["Table"]["TableName"],
        "plan-read"
    );
    let again = owner.submit_plan(&body, Some("plan-key-1")).await.unwrap();
    assert_eq!(again.body["id"], a.body["id"], "{}", again.body);
    let other = json!({"steps": [{"action": "dynamodb:ListTables"}]});
    let clash = owner.submit_plan(&other, Some("plan-key-1")).await.unwrap();
    assert_eq!(clash.status, 422, "{}", clash.body);
    stack.stop().await;
}
