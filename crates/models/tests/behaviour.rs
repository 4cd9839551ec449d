//! Endpoints, signing, customizations, refusals and edge cases of request building and
//! response parsing.

use serde_json::{Value, json};
use tollgate_models::{BuildError, HttpRequest, build_request, load, parse_response};

fn build(
    service: &str,
    op: &str,
    params: Value,
    region: &str,
    endpoint: Option<&str>,
) -> Result<HttpRequest, BuildError> {
    let model = load(service).unwrap();
    build_request(&model, op, params.as_object().unwrap(), region, endpoint)
}

fn ok(service: &str, op: &str, params: Value, region: &str, endpoint: Option<&str>) -> HttpRequest {
    build(service, op, params, region, endpoint).unwrap_or_else(|e| panic!("{service}.{op}: {e}"))
}

fn header<'a>(req: &'a HttpRequest, name: &str) -> Option<&'a str> {
    req.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn s3_addressing() {
    let put = json!({"Bucket": "my-bucket", "Key": "a b/c d.txt", "Body": "aGk="});
    let r = ok("s3", "PutObject", put.clone(), "us-east-1", None);
    assert_eq!(
        r.url,
        "https://my-bucket.s3.us-east-1.amazonaws.com/a%20b/c%20d.txt"
    );
    assert_eq!(r.method, "PUT");
    assert_eq!(r.body, b"hi");
    assert_eq!(
        (r.signing_name.as_str(), r.signing_region.as_str()),
        ("s3", "us-east-1")
    );
    let r = ok(
        "s3",
        "PutObject",
        put,
        "eu-west-1",
        Some("http://localhost:4566"),
    );
    assert_eq!(r.url, "http://localhost:4566/my-bucket/a%20b/c%20d.txt");
    assert_eq!(r.signing_region, "eu-west-1");
    // Not DNS-compatible: path style on AWS too.
    for bucket in ["my.bucket", "My_Bucket"] {
        let r = ok(
            "s3",
            "GetObject",
            json!({"Bucket": bucket, "Key": "k"}),
            "eu-west-1",
            None,
        );
        assert_eq!(
            r.url,
            format!("https://s3.eu-west-1.amazonaws.com/{bucket}/k")
        );
    }
    // Keys keep `/` but encode everything else that is not unreserved.
    let r = ok(
        "s3",
        "GetObject",
        json!({"Bucket": "b-1", "Key": "/x/..y/.z?z#%+é"}),
        "us-west-2",
        None,
    );
    assert_eq!(
        r.url,
        "https://b-1.s3.us-west-2.amazonaws.com//x/..y/.z%3Fz%23%25%2B%C3%A9"
    );
    // Dot segments are refused: the URL parser would remove them and send another key.
    let e = build(
        "s3",
        "GetObject",
        json!({"Bucket": "b-1", "Key": "/x/../y"}),
        "us-west-2",
        None,
    )
    .unwrap_err();
    assert!(e.to_string().contains("params.Key"), "{e}");
    let r = ok("s3", "ListBuckets", json!({}), "us-west-2", None);
    assert_eq!(r.url, "https://s3.us-west-2.amazonaws.com/");
    let r = ok(
        "s3",
        "GetBucketLocation",
        json!({"Bucket": "b-1"}),
        "us-west-2",
        None,
    );
    assert_eq!(r.url, "https://s3.us-west-2.amazonaws.com/b-1?location");
}

#[test]
fn s3_checksums() {
    let base = json!({"Bucket": "b-1", "Key": "k", "Body": "aGVsbG8="});
    let r = ok("s3", "PutObject", base.clone(), "us-east-1", None);
    assert_eq!(header(&r, "x-amz-checksum-crc32"), Some("NhCmhg=="));
    assert_eq!(header(&r, "x-amz-sdk-checksum-algorithm"), Some("CRC32"));
    let mut p = base.clone();
    p["ChecksumAlgorithm"] = json!("CRC32C");
    let r = ok("s3", "PutObject", p, "us-east-1", None);
    assert_eq!(header(&r, "x-amz-checksum-crc32c"), Some("mnG7TA=="));
    assert_eq!(header(&r, "x-amz-sdk-checksum-algorithm"), Some("CRC32C"));
    assert_eq!(header(&r, "x-amz-checksum-crc32"), None);
    // A checksum the caller computed is sent as is.
    let mut p = base.clone();
    p["ChecksumSHA256"] = json!("LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
    let r = ok("s3", "PutObject", p, "us-east-1", None);
    assert_eq!(
        header(&r, "x-amz-checksum-sha256"),
        Some("LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=")
    );
    assert_eq!(header(&r, "x-amz-checksum-crc32"), None);
    let mut p = base;
    p["ChecksumAlgorithm"] = json!("SHA256");
    assert!(matches!(
        build("s3", "PutObject", p, "us-east-1", None),
        Err(BuildError::Unsupported(_))
    ));
    // GetObject takes no request checksum.
    let r = ok(
        "s3",
        "GetObject",
        json!({"Bucket": "b-1", "Key": "k"}),
        "us-east-1",
        None,
    );
    assert!(
        r.headers
            .iter()
            .all(|(k, _)| !k.starts_with("x-amz-checksum"))
    );
}

#[test]
fn s3_sse_c_needs_its_md5() {
    let p = json!({"Bucket": "b-1", "Key": "k", "SSECustomerAlgorithm": "AES256", "SSECustomerKey": "a2V5"});
    assert!(matches!(
        build("s3", "GetObject", p, "us-east-1", None),
        Err(BuildError::Unsupported(_))
    ));
    let p = json!({"Bucket": "b-1", "Key": "k", "SSECustomerAlgorithm": "AES256", "SSECustomerKey": "a2V5", "SSECustomerKeyMD5": "bWQ1"});
    let r = ok("s3", "GetObject", p, "us-east-1", None);
    assert_eq!(
        header(&r, "x-amz-server-side-encryption-customer-key"),
        Some("a2V5")
    );
}

#[test]
fn endpoints_in_the_other_partitions() {
    // Regional hosts take the partition's suffix; S3 virtual hosts too.
    let r = ok("dynamodb", "ListTables", json!({}), "cn-north-1", None);
    assert_eq!(r.url, "https://dynamodb.cn-north-1.amazonaws.com.cn/");
    let r = ok(
        "s3",
        "ListObjectsV2",
        json!({"Bucket": "logs"}),
        "cn-northwest-1",
        None,
    );
    assert!(
        r.url
            .starts_with("https://logs.s3.cn-northwest-1.amazonaws.com.cn/"),
        "{}",
        r.url
    );
    let r = ok("sts", "GetCallerIdentity", json!({}), "us-gov-west-1", None);
    assert_eq!(r.url, "https://sts.us-gov-west-1.amazonaws.com/");
    // Global services go to the partition's own endpoint and signing region.
    let r = ok("iam", "ListRoles", json!({}), "cn-northwest-1", None);
    assert_eq!(r.url, "https://iam.cn-north-1.amazonaws.com.cn/");
    assert_eq!(r.signing_region, "cn-north-1");
    let r = ok("iam", "ListRoles", json!({}), "us-gov-east-1", None);
    assert_eq!(r.url, "https://iam.us-gov.amazonaws.com/");
    assert_eq!(r.signing_region, "us-gov-west-1");
    let r = ok("route53", "ListHostedZones", json!({}), "cn-north-1", None);
    assert_eq!(
        r.url,
        "https://route53.amazonaws.com.cn/2013-04-01/hostedzone"
    );
    // A global service a partition does not have is refused, not sent to the aws partition.
    assert!(matches!(
        build("cloudfront", "ListDistributions", json!({}), "us-gov-west-1", None),
        Err(BuildError::Endpoint(m)) if m.contains("aws-us-gov")
    ));
}

#[test]
fn global_and_regional_endpoints() {
    let r = ok("iam", "ListRoles", json!({}), "eu-west-1", None);
    assert_eq!(r.url, "https://iam.amazonaws.com/");
    assert_eq!(
        (r.signing_name.as_str(), r.signing_region.as_str()),
        ("iam", "us-east-1")
    );
    let r = ok(
        "iam",
        "ListRoles",
        json!({}),
        "eu-west-1",
        Some("http://127.0.0.1:5000"),
    );
    assert_eq!(r.url, "http://127.0.0.1:5000/");
    let r = ok("sts", "GetCallerIdentity", json!({}), "eu-west-1", None);
    assert_eq!(r.url, "https://sts.eu-west-1.amazonaws.com/");
    assert_eq!(r.signing_region, "eu-west-1");
    let r = ok("cloudwatch", "ListDashboards", json!({}), "eu-west-1", None);
    assert_eq!(r.url, "https://monitoring.eu-west-1.amazonaws.com/");
    assert_eq!(r.signing_name, "monitoring");
    let r = ok(
        "stepfunctions",
        "ListStateMachines",
        json!({}),
        "ap-south-1",
        None,
    );
    assert_eq!(r.url, "https://states.ap-south-1.amazonaws.com/");
    assert_eq!(r.signing_name, "states");
    assert_eq!(
        header(&r, "X-Amz-Target"),
        Some("AWSStepFunctions.ListStateMachines")
    );
    // Operation-level hosts from the endpoint rules.
    let r = ok(
        "arc-region-switch",
        "ListPlans",
        json!({}),
        "eu-west-1",
        None,
    );
    assert_eq!(
        r.url,
        "https://arc-region-switch-control-plane.us-east-1.api.aws/"
    );
    assert_eq!(r.signing_region, "us-east-1");
    // Per-region exceptions.
    let r = ok("sdb", "ListDomains", json!({}), "us-east-1", None);
    assert_eq!(r.url, "https://sdb.amazonaws.com/");
    let r = ok("sdb", "ListDomains", json!({}), "eu-west-1", None);
    assert_eq!(r.url, "https://sdb.eu-west-1.amazonaws.com/");
}

#[test]
fn endpoint_urls() {
    let r = ok(
        "dynamodb",
        "ListTables",
        json!({}),
        "us-east-1",
        Some("http://localhost:8000/prefix/"),
    );
    assert_eq!(r.url, "http://localhost:8000/prefix/");
    let r = ok(
        "lambda",
        "GetFunction",
        json!({"FunctionName": "f"}),
        "us-east-1",
        Some("https://gw.example.com/aws"),
    );
    assert_eq!(r.url, "https://gw.example.com/aws/2015-03-31/functions/f");
    for bad in [
        "localhost:8000",
        "ftp://x",
        "http://",
        "http://user@host",
        "http://a b",
    ] {
        assert!(
            matches!(
                build("dynamodb", "ListTables", json!({}), "us-east-1", Some(bad)),
                Err(BuildError::Endpoint(_))
            ),
            "{bad}"
        );
    }
    for bad in ["", "us-east-1.evil.com/", "US-EAST-1", "eu west"] {
        assert!(
            matches!(
                build("dynamodb", "ListTables", json!({}), bad, None),
                Err(BuildError::Endpoint(_))
            ),
            "{bad:?}"
        );
    }
    assert!(matches!(
        build(
            "cloudfront-keyvaluestore",
            "DescribeKeyValueStore",
            json!({"KvsARN": "arn:aws:cloudfront::1:key-value-store/k"}),
            "us-east-1",
            None
        ),
        Err(BuildError::Endpoint(_))
    ));
    // With an endpoint URL, no static endpoint is needed.
    let r = ok(
        "cloudfront-keyvaluestore",
        "DescribeKeyValueStore",
        json!({"KvsARN": "arn:aws:cloudfront::1:key-value-store/k"}),
        "us-east-1",
        Some("http://127.0.0.1:5000"),
    );
    assert_eq!(r.signing_region, "us-east-1");
    assert!(r.url.starts_with("http://127.0.0.1:5000/"), "{}", r.url);
}

#[test]
fn host_prefixes() {
    let p = json!({"NamespaceName": "ns", "ServiceName": "svc"});
    let r = ok(
        "servicediscovery",
        "DiscoverInstances",
        p.clone(),
        "eu-west-1",
        None,
    );
    assert_eq!(
        r.url,
        "https://data-servicediscovery.eu-west-1.amazonaws.com/"
    );
    let r = ok(
        "servicediscovery",
        "DiscoverInstances",
        p,
        "eu-west-1",
        Some("http://127.0.0.1:5000"),
    );
    assert_eq!(
        r.url, "http://127.0.0.1:5000/",
        "no host prefix on an endpoint override"
    );
    let r = ok(
        "s3control",
        "ListAccessPoints",
        json!({"AccountId": "123456789012"}),
        "us-east-1",
        None,
    );
    assert_eq!(
        r.url,
        "https://123456789012.s3-control.us-east-1.amazonaws.com/v20180820/accesspoint"
    );
    let e = build(
        "s3control",
        "ListAccessPoints",
        json!({"AccountId": "1/evil.com#"}),
        "us-east-1",
        None,
    )
    .unwrap_err();
    match e {
        BuildError::Invalid(v) => assert_eq!(v.path, "params.AccountId"),
        other => panic!("{other}"),
    }
}

#[test]
fn idempotency_tokens_are_filled() {
    let r = ok(
        "ec2",
        "RunInstances",
        json!({"MinCount": 1, "MaxCount": 1, "ImageId": "ami-1"}),
        "us-east-1",
        None,
    );
    let body = String::from_utf8(r.body).unwrap();
    let token = body
        .split('&')
        .find_map(|kv| kv.strip_prefix("ClientToken="))
        .expect("ClientToken");
    assert_eq!(token.len(), 36);
    assert_eq!(&token[14..15], "4");
    let r = ok(
        "autoscaling",
        "LaunchInstances",
        json!({"AutoScalingGroupName": "g", "RequestedCapacity": 1}),
        "us-east-1",
        None,
    );
    assert!(String::from_utf8(r.body).unwrap().contains("ClientToken="));
    // A given token is kept.
    let r = ok(
        "ec2",
        "RunInstances",
        json!({"MinCount": 1, "MaxCount": 1, "ClientToken": "mine"}),
        "us-east-1",
        None,
    );
    assert!(
        String::from_utf8(r.body)
            .unwrap()
            .contains("ClientToken=mine")
    );
}

#[test]
fn refusals() {
    let e = build(
        "bedrock-runtime",
        "ConverseStream",
        json!({"modelId": "m"}),
        "us-east-1",
        None,
    )
    .unwrap_err();
    assert!(
        matches!(e, BuildError::Unsupported(ref m) if m.contains("event stream")),
        "{e}"
    );
    let p = json!({"DatabaseName": "d", "TableName": "t", "Records": [{"MeasureName": "m"}]});
    let e = build(
        "timestream-write",
        "WriteRecords",
        p.clone(),
        "us-east-1",
        None,
    )
    .unwrap_err();
    assert!(
        matches!(e, BuildError::Unsupported(ref m) if m.contains("endpoint discovery")),
        "{e}"
    );
    ok(
        "timestream-write",
        "WriteRecords",
        p,
        "us-east-1",
        Some("https://ingest-cell1.timestream.us-east-1.amazonaws.com"),
    );
    assert_eq!(
        build("dynamodb", "DropTable", json!({}), "us-east-1", None),
        Err(BuildError::UnknownOperation("DropTable".into()))
    );
    let e = build("dynamodb", "DeleteTable", json!({}), "us-east-1", None).unwrap_err();
    assert!(
        matches!(e, BuildError::Invalid(ref v) if v.path == "params.TableName"),
        "{e}"
    );
    // Header injection.
    let e = build(
        "s3",
        "PutObject",
        json!({"Bucket": "b-1", "Key": "k", "ContentType": "text/plain\r\nX-Evil: 1"}),
        "us-east-1",
        None,
    )
    .unwrap_err();
    assert!(matches!(e, BuildError::Invalid(_)), "{e}");
}

#[test]
fn rest_headers_and_query_strings() {
    // JSON value header (base64 of compact, ASCII-escaped JSON), list header.
    let r = ok(
        "iot-data",
        "Publish",
        json!({"topic": "a/b", "userProperties": [{"k": "é"}], "payload": "aGk="}),
        "us-east-1",
        None,
    );
    assert_eq!(
        r.url,
        "https://data-ats.iot.us-east-1.amazonaws.com/topics/a%2Fb"
    );
    assert_eq!(
        header(&r, "x-amz-mqtt5-user-properties"),
        Some("W3siayI6Ilx1MDBlOSJ9XQ==")
    );
    assert_eq!(r.body, b"hi");
    let r = ok(
        "entityresolution",
        "BatchDeleteUniqueId",
        json!({"workflowName": "w", "uniqueIds": ["a", "b,c", "d\"e"]}),
        "us-east-1",
        None,
    );
    assert_eq!(header(&r, "uniqueIds"), Some(r#"a,"b,c","d\"e""#));
    // Query string timestamps are ISO 8601, header timestamps HTTP dates.
    let r = ok(
        "apiportal",
        "ListManagedApiEvents",
        json!({"managedApiId": "managed-api-1", "startedAfter": 1_704_164_645}),
        "us-east-1",
        None,
    );
    assert!(
        r.url.ends_with("?startedAfter=2024-01-02T03%3A04%3A05Z"),
        "{}",
        r.url
    );
    // Query string maps.
    let r = ok(
        "amp",
        "ListScrapers",
        json!({"filters": {"status": ["ACTIVE", "CREATING"], "alias": ["a b"]}}),
        "us-east-1",
        None,
    );
    assert!(
        r.url.contains("alias=a%20b") && r.url.contains("status=ACTIVE&status=CREATING"),
        "{}",
        r.url
    );
    // No Content-Type for a raw payload; JSON bodies get one.
    let r = ok(
        "lambda",
        "Invoke",
        json!({"FunctionName": "f", "Payload": "e30="}),
        "us-east-1",
        None,
    );
    assert_eq!(header(&r, "Content-Type"), None);
    assert_eq!(r.body, b"{}");
    let r = ok(
        "lambda",
        "CreateAlias",
        json!({"FunctionName": "f", "Name": "live", "FunctionVersion": "1"}),
        "us-east-1",
        None,
    );
    assert_eq!(header(&r, "Content-Type"), Some("application/json"));
    // S3's Expires header is an HTTP date.
    let r = ok(
        "s3",
        "PutObject",
        json!({"Bucket": "b-1", "Key": "k", "Expires": "2024-01-02T03:04:05Z"}),
        "us-east-1",
        None,
    );
    assert_eq!(header(&r, "Expires"), Some("Tue, 02 Jan 2024 03:04:05 GMT"));
    let r = ok(
        "s3",
        "PutObject",
        json!({"Bucket": "b-1", "Key": "k", "Expires": "-1"}),
        "us-east-1",
        None,
    );
    assert_eq!(header(&r, "Expires"), Some("-1"));
    // Content-Length is left to the HTTP client.
    let r = ok(
        "s3",
        "PutObject",
        json!({"Bucket": "b-1", "Key": "k", "Body": "aGk=", "ContentLength": 5}),
        "us-east-1",
        None,
    );
    assert_eq!(header(&r, "Content-Length"), None);
}

#[test]
fn aliases_and_customizations() {
    // boto3 exposes EC2's `Filter` members as `Filters`.
    let r = ok(
        "ec2",
        "DescribeHosts",
        json!({"Filters": [{"Name": "state", "Values": ["available"]}]}),
        "us-east-1",
        None,
    );
    assert!(
        String::from_utf8(r.body)
            .unwrap()
            .contains("Filter.1.Name=state")
    );
    // Route 53 ids may be given with their prefix.
    let r = ok(
        "route53",
        "GetHostedZone",
        json!({"Id": "/hostedzone/Z123"}),
        "us-east-1",
        None,
    );
    assert_eq!(
        r.url,
        "https://route53.amazonaws.com/2013-04-01/hostedzone/Z123"
    );
    // Glacier's accountId defaults to "-".
    let r = ok("glacier", "ListVaults", json!({}), "us-east-1", None);
    assert_eq!(r.url, "https://glacier.us-east-1.amazonaws.com/-/vaults");
    assert_eq!(header(&r, "x-amz-glacier-version"), Some("2012-06-01"));
    // Endpoint operations carry the API version.
    let r = ok(
        "dynamodb",
        "DescribeEndpoints",
        json!({}),
        "us-east-1",
        None,
    );
    assert_eq!(header(&r, "x-amz-api-version"), Some("2012-08-10"));
}

fn parse(
    service: &str,
    op: &str,
    status: u16,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Value, tollgate_models::AwsError> {
    let model = load(service).unwrap();
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    parse_response(&model, op, status, &headers, body.as_bytes())
}

#[test]
fn response_edge_cases() {
    let e = parse("s3", "ListObjectsV2", 301, &[], "<Error><Code>PermanentRedirect</Code><Message>Use the eu-west-1 endpoint.</Message><Endpoint>b.s3.eu-west-1.amazonaws.com</Endpoint></Error>").unwrap_err();
    assert_eq!((e.code.as_str(), e.status), ("PermanentRedirect", 301));
    // Operations without output.
    assert_eq!(parse("s3", "DeleteObject", 204, &[], ""), Ok(json!({})));
    assert_eq!(
        parse("dynamodb", "DeleteTable", 200, &[], ""),
        Ok(json!({}))
    );
    assert_eq!(
        parse("sts", "GetCallerIdentity", 200, &[], ""),
        Ok(json!({}))
    );
    assert_eq!(parse("sqs", "DeleteQueue", 200, &[], "{}"), Ok(json!({})));
    // Malformed success bodies are errors, not panics.
    let e = parse("dynamodb", "ListTables", 200, &[], "{not json").unwrap_err();
    assert_eq!((e.code.as_str(), e.status), ("InvalidResponse", 200));
    let e = parse(
        "iam",
        "ListRoles",
        200,
        &[],
        "<ListRolesResponse><ListRolesResult>",
    )
    .unwrap_err();
    assert_eq!(e.code, "InvalidResponse");
    let deep = format!("{}{}", "<a>".repeat(1000), "</a>".repeat(1000));
    assert_eq!(
        parse("iam", "ListRoles", 200, &[], &deep).unwrap_err().code,
        "InvalidResponse"
    );
    // Unknown operation.
    assert_eq!(
        parse("iam", "Nope", 200, &[], "").unwrap_err().code,
        "UnknownOperation"
    );
    // Values that do not fit the shape are kept as they are.
    assert_eq!(
        parse(
            "dynamodb",
            "ListTables",
            200,
            &[],
            r#"{"TableNames": "t", "LastEvaluatedTableName": 5, "Extra": 1}"#
        ),
        Ok(json!({"TableNames": "t", "LastEvaluatedTableName": 5}))
    );
    // Unparseable error bodies fall back to the status.
    let e = parse("iam", "ListRoles", 400, &[], "oops").unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("400", "Bad Request")
    );
    let e = parse(
        "dynamodb",
        "ListTables",
        400,
        &[("x-amzn-ErrorType", "ThrottlingException")],
        "",
    )
    .unwrap_err();
    assert_eq!(e.code, "ThrottlingException");
    let e = parse("lambda", "ListFunctions", 429, &[], "not json").unwrap_err();
    assert_eq!((e.code.as_str(), e.message.as_str()), ("429", "not json"));
    // HTTP/2-style lowercase and repeated headers.
    let v = parse(
        "s3",
        "HeadObject",
        200,
        &[
            ("content-length", "3"),
            ("x-amz-meta-a", "1"),
            ("x-amz-meta-a", "2"),
        ],
        "",
    )
    .unwrap();
    assert_eq!(v, json!({"ContentLength": 3, "Metadata": {"a": "1, 2"}}));
}
