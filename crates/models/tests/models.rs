//! Model lookup and the embedded data.

use tollgate_models::{Protocol, find, load, prefix_services, prefixes, services};

#[test]
fn finds_operations_by_iam_prefix() {
    for (prefix, op, service, protocol) in [
        ("dynamodb", "DeleteTable", "dynamodb", Protocol::Json),
        ("s3", "PutObject", "s3", Protocol::RestXml),
        ("iam", "CreateRole", "iam", Protocol::Query),
        ("sts", "GetCallerIdentity", "sts", Protocol::Query),
        ("ec2", "DescribeInstances", "ec2", Protocol::Ec2),
        ("lambda", "ListFunctions", "lambda", Protocol::RestJson),
        (
            "states",
            "ListStateMachines",
            "stepfunctions",
            Protocol::Json,
        ),
        ("sqs", "SendMessage", "sqs", Protocol::Json),
        ("sns", "Publish", "sns", Protocol::Query),
        (
            "elasticloadbalancing",
            "DescribeTargetGroups",
            "elbv2",
            Protocol::Query,
        ),
        (
            "elasticloadbalancing",
            "DescribeLoadBalancerPolicies",
            "elb",
            Protocol::Query,
        ),
        ("cloudwatch", "PutMetricData", "cloudwatch", Protocol::Json),
        ("monitoring", "PutMetricData", "cloudwatch", Protocol::Json),
        ("s3", "ListAccessPoints", "s3control", Protocol::RestXml),
    ] {
        let (model, name) = find(prefix, op).unwrap_or_else(|| panic!("{prefix}:{op}"));
        assert_eq!(name, op);
        assert_eq!(model.service_name(), service, "{prefix}:{op}");
        assert_eq!(model.protocol(), protocol, "{prefix}:{op}");
        assert!(model.operation(&name).is_some());
    }
    let (model, _) = find("states", "ListStateMachines").unwrap();
    assert_eq!(model.signing_name(), "states");
    assert_eq!(model.api_version(), "2016-11-23");
}

#[test]
fn unknown_operations_and_prefixes_are_none() {
    assert!(find("dynamodb", "DropTable").is_none());
    assert!(find("nosuchservice", "ListThings").is_none());
    assert!(find("", "").is_none());
    assert!(
        find("stepfunctions", "ListStateMachines").is_none(),
        "botocore names are not IAM prefixes"
    );
}

#[test]
fn operation_names_match_case_insensitively_as_a_fallback() {
    let (model, name) = find("DynamoDB", "deletetable").unwrap();
    assert_eq!(name, "DeleteTable");
    assert_eq!(model.service_name(), "dynamodb");
}

#[test]
fn models_are_cached() {
    let a = load("sts").unwrap();
    let b = load("sts").unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &b));
    let (c, _) = find("sts", "AssumeRole").unwrap();
    assert!(std::sync::Arc::ptr_eq(&a, &c));
    assert!(load("nope").is_err());
}

#[test]
fn operation_view() {
    let model = load("lambda").unwrap();
    let op = model.operation("GetFunction").unwrap();
    assert_eq!(op.name(), "GetFunction");
    assert_eq!(op.http_method(), "GET");
    assert_eq!(op.request_uri(), "/2015-03-31/functions/{FunctionName}");
    assert_eq!(op.input_shape(), Some("GetFunctionRequest"));
    assert_eq!(op.output_shape(), Some("GetFunctionResponse"));
    assert_eq!(op.required_members(), vec!["FunctionName"]);
    assert_eq!(op.input_members(), vec!["FunctionName", "Qualifier"]);
    assert!(!op.has_event_stream());
    assert!(
        model
            .operation("InvokeWithResponseStream")
            .unwrap()
            .has_event_stream()
    );
    assert!(model.operation("getfunction").is_none());
}

/// Guards the data: every blob decompresses and parses, every shape reachable from an
/// operation resolves, and every IAM prefix lists only embedded services.
#[test]
fn every_blob_loads_and_every_shape_resolves() {
    let all = services();
    assert_eq!(all.len(), 441);
    let mut operations = 0;
    for s in &all {
        let model = load(s).unwrap_or_else(|e| panic!("{e}"));
        model.check().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(model.service_name(), *s);
        for name in model.operation_names() {
            let op = model.operation(name).unwrap();
            assert!(!op.http_method().is_empty(), "{s}.{name}");
            assert!(
                op.request_uri().starts_with('/'),
                "{s}.{name}: {}",
                op.request_uri()
            );
        }
        operations += model.operation_names().len();
    }
    assert_eq!(operations, 19_897);
    let prefixes = prefixes();
    assert_eq!(prefixes.len(), 371);
    for p in prefixes {
        let listed = prefix_services(p);
        assert!(!listed.is_empty(), "{p}");
        for s in listed {
            assert!(all.contains(&s.as_str()), "{p} lists {s}");
        }
    }
}
