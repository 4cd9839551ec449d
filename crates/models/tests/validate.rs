//! Parameter validation: the first problem found, with its exact path.

use serde_json::{Value, json};
use tollgate_models::{ValidationError, load, validate};

fn check(service: &str, op: &str, params: Value) -> Result<(), ValidationError> {
    let model = load(service).unwrap();
    validate(&model, op, params.as_object().unwrap())
}

fn err(service: &str, op: &str, params: Value) -> (String, String) {
    let e = check(service, op, params).expect_err("invalid");
    (e.path, e.message)
}

fn create_table() -> Value {
    json!({
        "TableName": "t",
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
    })
}

#[test]
fn accepts_valid_params() {
    check("dynamodb", "CreateTable", create_table()).unwrap();
    check("sts", "GetCallerIdentity", json!({})).unwrap();
    check(
        "ec2",
        "DescribeInstances",
        json!({"Filters": [{"Name": "tag:a", "Values": ["x"]}], "DryRun": true}),
    )
    .unwrap();
    check(
        "lambda",
        "TagResource",
        json!({"Resource": "arn:aws:lambda:us-east-1:1:function:f", "Tags": {"Name": "x"}}),
    )
    .unwrap();
    check("cloudwatch", "GetMetricData", json!({"MetricDataQueries": [], "StartTime": 1_704_067_200, "EndTime": "2024-01-02T00:00:00.5+02:00"})).unwrap();
    check(
        "dynamodb",
        "PutItem",
        json!({"TableName": "t", "Item": {"b": {"B": "aGk="}, "n": {"N": "1"}}}),
    )
    .unwrap();
}

#[test]
fn enum_values() {
    let mut p = create_table();
    p["KeySchema"][0]["KeyType"] = json!("PRIMARY");
    assert_eq!(
        err("dynamodb", "CreateTable", p),
        (
            "params.KeySchema[0].KeyType".into(),
            r#"value "PRIMARY" is not one of: HASH, RANGE"#.into()
        )
    );
}

#[test]
fn missing_required_members() {
    let mut p = create_table();
    p.as_object_mut().unwrap().remove("TableName");
    assert_eq!(
        err("dynamodb", "CreateTable", p),
        (
            "params.TableName".into(),
            "missing required parameter".into()
        )
    );
    let mut p = create_table();
    p["KeySchema"][0]
        .as_object_mut()
        .unwrap()
        .remove("AttributeName");
    assert_eq!(
        err("dynamodb", "CreateTable", p),
        (
            "params.KeySchema[0].AttributeName".into(),
            "missing required parameter".into()
        )
    );
    // null counts as absent
    let mut p = create_table();
    p["TableName"] = Value::Null;
    assert_eq!(err("dynamodb", "CreateTable", p).0, "params.TableName");
    // map values: params.<map>.<key>.<member>
    assert_eq!(
        err(
            "sqs",
            "SendMessage",
            json!({"QueueUrl": "q", "MessageBody": "b", "MessageAttributes": {"attr1": {"StringValue": "x"}}})
        ),
        (
            "params.MessageAttributes.attr1.DataType".into(),
            "missing required parameter".into()
        )
    );
}

#[test]
fn wrong_types() {
    let cases = [
        (
            json!({"TableName": 5}),
            "params.TableName",
            "expected a string, got integer",
        ),
        (
            json!({"TableName": "t", "KeySchema": {}}),
            "params.KeySchema",
            "expected an array, got object",
        ),
        (
            json!({"TableName": "t", "KeySchema": ["HASH"]}),
            "params.KeySchema[0]",
            "expected an object, got string",
        ),
        (
            json!({"TableName": "t", "KeySchema": [null]}),
            "params.KeySchema[0]",
            "expected an object, got null",
        ),
        (
            json!({"TableName": "t", "DeletionProtectionEnabled": "yes"}),
            "params.DeletionProtectionEnabled",
            "expected a boolean, got string",
        ),
        (
            json!({"TableName": "t", "ProvisionedThroughput": {"ReadCapacityUnits": 1.5, "WriteCapacityUnits": 1}}),
            "params.ProvisionedThroughput.ReadCapacityUnits",
            "expected an integer, got number",
        ),
    ];
    for (mut p, path, message) in cases {
        let base = create_table();
        for (k, v) in base.as_object().unwrap() {
            p.as_object_mut()
                .unwrap()
                .entry(k.clone())
                .or_insert(v.clone());
        }
        assert_eq!(
            err("dynamodb", "CreateTable", p),
            (path.to_string(), message.to_string())
        );
    }
    assert_eq!(
        err(
            "lambda",
            "TagResource",
            json!({"Resource": "arn:aws:lambda:us-east-1:1:function:f", "Tags": {"Name": 5}})
        ),
        (
            "params.Tags.Name".into(),
            "expected a string, got integer".into()
        )
    );
    assert_eq!(
        err(
            "dynamodb",
            "PutItem",
            json!({"TableName": "t", "Item": {"x": {"B": "not base64!"}}})
        ),
        (
            "params.Item.x.B".into(),
            "invalid base64 (blobs are given base64-encoded)".into()
        )
    );
    let (path, message) = err(
        "cloudwatch",
        "GetMetricData",
        json!({"MetricDataQueries": [], "StartTime": "yesterday", "EndTime": 0}),
    );
    assert_eq!(path, "params.StartTime");
    assert!(message.starts_with("invalid timestamp"), "{message}");
    assert_eq!(
        err(
            "cloudwatch",
            "GetMetricData",
            json!({"MetricDataQueries": [], "StartTime": true, "EndTime": 0})
        )
        .1,
        "expected a timestamp (ISO 8601 string or epoch seconds number), got boolean"
    );
    assert_eq!(
        err(
            "ec2",
            "DescribeInstances",
            json!({"MaxResults": 3_000_000_000u64})
        ),
        (
            "params.MaxResults".into(),
            "value 3000000000 is out of the 32-bit integer range".into()
        )
    );
}

#[test]
fn unknown_members() {
    let mut p = create_table();
    p["Tablename"] = json!("t");
    let (path, message) = err("dynamodb", "CreateTable", p);
    assert_eq!(path, "params.Tablename");
    assert!(
        message
            .starts_with("unknown parameter (valid parameters: AttributeDefinitions, BillingMode,"),
        "{message}"
    );
    let mut p = create_table();
    p["KeySchema"][0]["Type"] = json!("HASH");
    assert_eq!(
        err("dynamodb", "CreateTable", p),
        (
            "params.KeySchema[0].Type".into(),
            "unknown parameter (valid parameters: AttributeName, KeyType)".into()
        )
    );
    assert_eq!(
        err("sts", "GetCallerIdentity", json!({"x": 1})),
        (
            "params.x".into(),
            "unknown parameter (valid parameters: none)".into()
        )
    );
}

#[test]
fn lengths_and_ranges() {
    assert_eq!(
        err("dynamodb", "DeleteTable", json!({"TableName": ""})),
        (
            "params.TableName".into(),
            "length 0 is below the minimum 1".into()
        )
    );
    assert_eq!(
        err("lambda", "ListFunctions", json!({"MaxItems": 0})),
        (
            "params.MaxItems".into(),
            "value 0 is below the minimum 1".into()
        )
    );
    assert_eq!(
        err("lambda", "ListFunctions", json!({"MaxItems": 10_001})),
        (
            "params.MaxItems".into(),
            "value 10001 is above the maximum 10000".into()
        )
    );
    let tags: Vec<Value> = (0..51)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    assert_eq!(
        err(
            "iam",
            "CreateRole",
            json!({"RoleName": "r", "AssumeRolePolicyDocument": "{}", "Tags": tags})
        ),
        (
            "params.Tags".into(),
            "list length 51 is above the maximum 50".into()
        )
    );
    // lengths count characters, not bytes
    check(
        "iam",
        "CreateRole",
        json!({"RoleName": "é".repeat(64), "AssumeRolePolicyDocument": "{}"}),
    )
    .unwrap();
    assert_eq!(
        err(
            "iam",
            "CreateRole",
            json!({"RoleName": "é".repeat(65), "AssumeRolePolicyDocument": "{}"})
        ),
        (
            "params.RoleName".into(),
            "length 65 is above the maximum 64".into()
        )
    );
}

#[test]
fn unions_and_documents() {
    let msg = |content: Value| {
        json!({"modelId": "m", "messages": [{"role": "user", "content": content}],
               "toolConfig": {"tools": [{"toolSpec": {"name": "t", "inputSchema": {"json": {"type": "object", "properties": {"a": [1, null, {"b": true}]}}}}}]}})
    };
    check("bedrock-runtime", "Converse", msg(json!([{"text": "hi"}]))).unwrap();
    let (path, message) = err(
        "bedrock-runtime",
        "Converse",
        msg(json!([{"text": "hi", "image": {"format": "png", "source": {"bytes": "aGk="}}}])),
    );
    assert_eq!(path, "params.messages[0].content[0]");
    assert!(
        message.starts_with("exactly one of these members must be set, found 2"),
        "{message}"
    );
    assert_eq!(
        err("bedrock-runtime", "Converse", msg(json!([{}]))).0,
        "params.messages[0].content[0]"
    );
}

#[test]
fn map_keys_are_checked() {
    // DynamoDB ExpressionAttributeNames keys are plain strings; SQS MessageSystemAttributes keys are an enum.
    let (path, message) = err(
        "sqs",
        "SendMessage",
        json!({"QueueUrl": "q", "MessageBody": "b", "MessageSystemAttributes": {"Bogus": {"DataType": "String", "StringValue": "x"}}}),
    );
    assert_eq!(path, "params.MessageSystemAttributes.Bogus");
    assert!(
        message.starts_with(r#"invalid map key: value "Bogus" is not one of: AWSTraceHeader"#),
        "{message}"
    );
}

#[test]
fn idempotency_tokens_may_be_omitted() {
    // RunInstances' ClientToken is filled when the request is built; required tokens too.
    check("ec2", "RunInstances", json!({"MinCount": 1, "MaxCount": 1})).unwrap();
    let model = load("autoscaling").unwrap();
    assert!(
        model
            .operation("LaunchInstances")
            .unwrap()
            .required_members()
            .contains(&"ClientToken")
    );
    check(
        "autoscaling",
        "LaunchInstances",
        json!({"AutoScalingGroupName": "g", "RequestedCapacity": 1}),
    )
    .unwrap();
}

#[test]
fn unknown_operation() {
    assert_eq!(
        err("dynamodb", "DropTable", json!({})),
        ("params".into(), "unknown operation DropTable".into())
    );
}

#[test]
fn deep_nesting_is_refused() {
    // DynamoDB's AttributeValue is recursive (M and L).
    let mut v = json!({"S": "x"});
    for _ in 0..100 {
        v = json!({"L": [v]});
    }
    let (path, message) = err(
        "dynamodb",
        "PutItem",
        json!({"TableName": "t", "Item": {"a": v}}),
    );
    assert_eq!(message, "parameters nested too deeply");
    assert!(path.starts_with("params.Item.a.L[0].L[0]"), "{path}");
}

#[test]
fn dot_segments_in_uri_labels_are_refused() {
    // A label that is `.` or `..` would be normalised away by the URL parser.
    for stage in [".", ".."] {
        let (path, message) = err(
            "apigateway",
            "DeleteStage",
            json!({"restApiId": "abc", "stageName": stage}),
        );
        assert_eq!(path, "params.stageName");
        assert!(message.contains("dot segment"), "{message}");
    }
    let (path, _) = err(
        "apigateway",
        "DeleteStage",
        json!({"restApiId": "..", "stageName": "prod"}),
    );
    assert_eq!(path, "params.restApiId");
    // Dots inside a value are fine.
    check(
        "apigateway",
        "DeleteStage",
        json!({"restApiId": "abc", "stageName": "v1.2..3"}),
    )
    .unwrap();
    // Greedy labels (`{Key+}`): a `.` or `..` segment anywhere, leading or trailing.
    for key in ["a/../b", "../b", "a/..", "./a", "a/./b", "a/.", "..", "."] {
        let (path, message) = err("s3", "GetObject", json!({"Bucket": "b", "Key": key}));
        assert_eq!(path, "params.Key", "{key}");
        assert!(message.contains("dot segments"), "{key}: {message}");
    }
    for key in ["a/b.txt", "a/.hidden", "a/..b/c", "...", "a//b", "/a"] {
        check("s3", "GetObject", json!({"Bucket": "b", "Key": key}))
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    let (path, _) = err("s3", "GetObject", json!({"Bucket": "..", "Key": "k"}));
    assert_eq!(path, "params.Bucket");
}
