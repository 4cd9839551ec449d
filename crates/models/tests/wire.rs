//! The server side of the protocols on requests written as SDKs send them (decode_request) and
//! on the exact answers SDKs read (encode_response, encode_error). The round trips over every
//! operation are in `src/server/roundtrip_tests.rs`; these pin the details by hand.

use serde_json::{Value, json};
use tollgate_models::{
    DecodeErrorKind, WireRequest, decode_request, encode_error, encode_response, load,
    parse_response,
};

fn headers(h: &[(&str, &str)]) -> Vec<(String, String)> {
    h.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn decode(
    service: &str,
    method: &str,
    path: &str,
    query: &str,
    h: &[(&str, &str)],
    body: &[u8],
) -> Result<(String, Value), tollgate_models::DecodeError> {
    let model = load(service).unwrap();
    let h = headers(h);
    decode_request(
        &model,
        &WireRequest {
            method,
            path,
            query,
            headers: &h,
            body,
        },
    )
    .map(|d| (d.operation, Value::Object(d.params)))
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn dynamodb_get_item_as_the_sdks_send_it() {
    let body = br##"{"TableName":"t","Key":{"id":{"S":"a"}},"ConsistentRead":true,"ProjectionExpression":"#n"}"##;
    let (op, params) = decode(
        "dynamodb",
        "POST",
        "/",
        "",
        &[
            ("x-amz-target", "DynamoDB_20120810.GetItem"),
            ("content-type", "application/x-amz-json-1.0"),
        ],
        body,
    )
    .unwrap();
    assert_eq!(op, "GetItem");
    assert_eq!(
        params,
        json!({"TableName": "t", "Key": {"id": {"S": "a"}}, "ConsistentRead": true,
               "ProjectionExpression": "#n"})
    );
}

#[test]
fn json_refusals_name_the_member() {
    let target = [("X-Amz-Target", "DynamoDB_20120810.GetItem")];
    let err = |body: &[u8]| decode("dynamodb", "POST", "/", "", &target, body).unwrap_err();
    let e = err(br#"{"TableName":"t","Key":{"id":{"S":"a"}},"ConsistentRead":"yes"}"#);
    assert_eq!(
        (e.kind, e.path.as_str(), e.message.as_str()),
        (
            DecodeErrorKind::Invalid,
            "params.ConsistentRead",
            "expected a boolean, got string"
        )
    );
    let e = err(br#"{"TableName":"t","Key":{},"Bogus":1}"#);
    assert_eq!(
        (e.kind, e.path.as_str()),
        (DecodeErrorKind::Invalid, "params.Bogus")
    );
    assert!(e.message.contains("unknown member `Bogus`"), "{e}");
    let e = err(b"{not json");
    assert_eq!(e.kind, DecodeErrorKind::Malformed);
    let e = err(b"[1]");
    assert_eq!(e.kind, DecodeErrorKind::Invalid);
    let e = decode(
        "dynamodb",
        "POST",
        "/",
        "",
        &[("X-Amz-Target", "DynamoDB_20120810.DropEverything")],
        b"{}",
    )
    .unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::UnknownOperation);
    assert!(e.message.contains("`DropEverything`"), "{e}");
    // Another service's target is not this service's operation.
    let e = decode(
        "dynamodb",
        "POST",
        "/",
        "",
        &[("X-Amz-Target", "Kinesis_20131202.ListStreams")],
        b"{}",
    )
    .unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::UnknownOperation);
    let e = decode("dynamodb", "POST", "/", "", &[], b"{}").unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::UnknownOperation);
    let e = decode("dynamodb", "GET", "/", "", &target, b"{}").unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::UnknownOperation);
    // Timestamps come out as ISO 8601 whatever the wire form.
    let (_, p) = decode(
        "dynamodb",
        "POST",
        "/",
        "",
        &[(
            "X-Amz-Target",
            "DynamoDB_20120810.RestoreTableToPointInTime",
        )],
        br#"{"SourceTableName":"a","TargetTableName":"b","RestoreDateTime":1700000000.5}"#,
    )
    .unwrap();
    assert_eq!(p["RestoreDateTime"], "2023-11-14T22:13:20.500000Z");
}

#[test]
fn s3_put_object_with_headers_and_an_encoded_key() {
    let (op, params) = decode(
        "s3",
        "PUT",
        "/my-bucket/dir%2Fsub/a%20b%2Bc%25.txt",
        "x-id=PutObject",
        &[
            ("content-type", "text/plain"),
            ("content-length", "5"),
            ("content-encoding", "aws-chunked,gzip"),
            ("x-amz-meta-Owner", "alice"),
            ("x-amz-meta-team", "a,b"),
            ("x-amz-storage-class", "STANDARD_IA"),
            ("x-amz-checksum-crc32", "NhCmhg=="),
            ("x-amz-sdk-checksum-algorithm", "CRC32"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("authorization", "AWS4-HMAC-SHA256 ..."),
        ],
        b"hello",
    )
    .unwrap();
    assert_eq!(op, "PutObject");
    assert_eq!(
        params,
        json!({
            "Bucket": "my-bucket",
            // %2F in a greedy label is a `/` of the key: the key is what the client encoded.
            "Key": "dir/sub/a b+c%.txt",
            "Body": "aGVsbG8=",
            "ContentType": "text/plain",
            "ContentEncoding": "gzip",
            "Metadata": {"Owner": "alice", "team": "a,b"},
            "StorageClass": "STANDARD_IA",
            "ChecksumCRC32": "NhCmhg==",
            "ChecksumAlgorithm": "CRC32",
        })
    );
}

#[test]
fn s3_operations_sharing_a_template_are_told_apart() {
    let put =
        |query: &str, h: &[(&str, &str)]| decode("s3", "PUT", "/b/k", query, h, b"x").unwrap();
    assert_eq!(put("", &[]).0, "PutObject");
    let (op, p) = put("", &[("x-amz-copy-source", "src/a%20b?versionId=v1")]);
    assert_eq!(op, "CopyObject");
    assert_eq!(p["CopySource"], "src/a b?versionId=v1");
    assert_eq!(put("partNumber=2&uploadId=u", &[]).0, "UploadPart");
    assert_eq!(
        put("partNumber=2&uploadId=u", &[("x-amz-copy-source", "src/k")]).0,
        "UploadPartCopy"
    );
    let get = |query: &str| decode("s3", "GET", "/b", query, &[], b"").unwrap();
    assert_eq!(get("").0, "ListObjects");
    let (op, p) = get("list-type=2&prefix=a%2Bb+c&max-keys=10");
    assert_eq!(op, "ListObjectsV2");
    assert_eq!(p, json!({"Bucket": "b", "Prefix": "a+b c", "MaxKeys": 10}));
    assert_eq!(get("tagging").0, "GetBucketTagging");
    assert_eq!(get("uploads").0, "ListMultipartUploads");
    assert_eq!(
        decode("s3", "GET", "/b/k", "uploadId=u", &[], b"")
            .unwrap()
            .0,
        "ListParts"
    );
    assert_eq!(
        decode("s3", "GET", "/b/k", "", &[], b"").unwrap().0,
        "GetObject"
    );
    assert_eq!(
        decode("s3", "GET", "/", "", &[], b"").unwrap().0,
        "ListBuckets"
    );
    // A trailing slash after the bucket, as some clients send it.
    assert_eq!(
        decode("s3", "GET", "/b/", "list-type=2", &[], b"")
            .unwrap()
            .0,
        "ListObjectsV2"
    );
    // Presigned-URL parameters are not members.
    let (op, p) = decode(
        "s3",
        "GET",
        "/b/k",
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=ab&versionId=3",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(
        (op.as_str(), &p),
        (
            "GetObject",
            &json!({"Bucket": "b", "Key": "k", "VersionId": "3"})
        )
    );
}

#[test]
fn rest_refusals() {
    let e = decode("s3", "PATCH", "/b/k", "", &[], b"").unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::UnknownOperation);
    assert!(e.message.contains("`PATCH /b/k`"), "{e}");
    let e = decode("s3", "GET", "/b/%zz", "", &[], b"").unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Malformed);
    let e = decode("s3", "GET", "/b/%C3%28", "", &[], b"").unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Malformed);
    let e = decode("s3", "GET", "/b", "list-type=2&max-keys=ten", &[], b"").unwrap_err();
    assert_eq!(
        (e.kind, e.path.as_str(), e.message.as_str()),
        (
            DecodeErrorKind::Invalid,
            "params.MaxKeys",
            "expected an integer, got `ten`"
        )
    );
    let e = decode("s3", "GET", "/b", "list-type=2&prefix=a&prefix=b", &[], b"").unwrap_err();
    assert_eq!(e.path, "params.Prefix");
    let e = decode(
        "s3",
        "PUT",
        "/b",
        "tagging",
        &[],
        b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value><Evil/></Tag></TagSet></Tagging>",
    )
    .unwrap_err();
    assert_eq!(e.path, "params.Tagging.TagSet[0]");
    assert!(e.message.contains("unknown element `<Evil>`"), "{e}");
    let e = decode("s3", "PUT", "/b", "tagging", &[], b"<Tagging><TagSet>").unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Malformed);
}

#[test]
fn lambda_invoke_rest_json_with_a_payload_and_headers() {
    let (op, p) = decode(
        "lambda",
        "POST",
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A1%3Afunction%3Af/invocations",
        "Qualifier=live",
        &[
            ("X-Amz-Invocation-Type", "Event"),
            ("X-Amz-Log-Type", "Tail"),
        ],
        br#"{"a":1}"#,
    )
    .unwrap();
    assert_eq!(op, "Invoke");
    assert_eq!(
        p,
        json!({"FunctionName": "arn:aws:lambda:us-east-1:1:function:f", "Qualifier": "live",
               "InvocationType": "Event", "LogType": "Tail", "Payload": "eyJhIjoxfQ=="})
    );
}

#[test]
fn query_and_ec2_forms_and_query_strings() {
    let form = [(
        "Content-Type",
        "application/x-www-form-urlencoded; charset=utf-8",
    )];
    let (op, p) = decode(
        "ec2",
        "POST",
        "/",
        "",
        &form,
        b"Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3Aenv&Filter.1.Value.1=prod&Filter.1.Value.2=a+b&InstanceId.1=i-1&MaxResults=5",
    )
    .unwrap();
    assert_eq!(op, "DescribeInstances");
    assert_eq!(
        p,
        json!({"Filters": [{"Name": "tag:env", "Values": ["prod", "a b"]}],
               "InstanceIds": ["i-1"], "MaxResults": 5})
    );
    // The same as a GET query string.
    let (op, _) = decode(
        "ec2",
        "GET",
        "/",
        "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-1",
        &[],
        b"",
    )
    .unwrap();
    assert_eq!(op, "DescribeInstances");
    let (op, p) = decode(
        "sns",
        "POST",
        "/",
        "",
        &form,
        b"Action=Publish&Version=2010-03-31&TopicArn=arn%3At&Message=hi&MessageAttributes.entry.1.Name=k&MessageAttributes.entry.1.Value.DataType=String&MessageAttributes.entry.1.Value.StringValue=v",
    )
    .unwrap();
    assert_eq!(op, "Publish");
    assert_eq!(
        p,
        json!({"TopicArn": "arn:t", "Message": "hi",
               "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}})
    );
    let err = |body: &[u8]| decode("sns", "POST", "/", "", &form, body).unwrap_err();
    let e = err(b"Action=Publish&Version=2010-03-31&Message=hi&Bogus.1=x");
    assert_eq!(e.kind, DecodeErrorKind::Invalid);
    assert!(e.message.contains("unknown parameter `Bogus.1`"), "{e}");
    let e = err(b"Action=Publish&Version=2009-01-01&Message=hi");
    assert_eq!(e.kind, DecodeErrorKind::UnknownOperation);
    let e = err(b"Action=Publish&Action=Publish&Version=2010-03-31");
    assert_eq!(e.kind, DecodeErrorKind::Invalid);
    let e = err(b"Action=Nope&Version=2010-03-31");
    assert_eq!(e.kind, DecodeErrorKind::UnknownOperation);
    let e = err(b"Version=2010-03-31");
    assert_eq!(e.kind, DecodeErrorKind::UnknownOperation);
    let e = err(b"Action=Publish&Version=2010-03-31&Message=%FF");
    assert_eq!(e.kind, DecodeErrorKind::Malformed);
    let e = err(b"Action=Publish&Version=2010-03-31&Message.1=x&Message=y");
    assert_eq!(e.kind, DecodeErrorKind::Invalid);
    let e = decode(
        "sns",
        "POST",
        "/",
        "",
        &[("Content-Type", "application/json")],
        b"{}",
    )
    .unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Malformed);
    // EC2 RunInstances' UserData arrives base64-encoded and is passed on as the script.
    let (_, p) = decode(
        "ec2",
        "POST",
        "/",
        "",
        &form,
        b"Action=RunInstances&Version=2016-11-15&MinCount=1&MaxCount=1&UserData=IyEvYmluL3NoCmVjaG8gaGk%3D",
    )
    .unwrap();
    assert_eq!(p["UserData"], "#!/bin/sh\necho hi");
}

#[test]
fn event_streams_are_unsupported() {
    let e = decode(
        "kinesis",
        "POST",
        "/",
        "",
        &[("X-Amz-Target", "Kinesis_20131202.SubscribeToShard")],
        b"{}",
    )
    .unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Unsupported);
}

fn encode(service: &str, op: &str, output: Value) -> tollgate_models::WireResponse {
    let model = load(service).unwrap();
    encode_response(&model, op, &output, "req-1").unwrap()
}

#[test]
fn json_answers() {
    let r = encode(
        "dynamodb",
        "DescribeTable",
        json!({"Table": {"TableName": "t", "CreationDateTime": "2024-01-31T12:00:00.500000+00:00",
                         "ItemCount": 3}}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        header(&r.headers, "content-type"),
        Some("application/x-amz-json-1.0")
    );
    assert_eq!(header(&r.headers, "x-amzn-RequestId"), Some("req-1"));
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    // Epoch seconds, as the Rust and JS SDKs insist for the json protocol.
    assert_eq!(
        body,
        json!({"Table": {"TableName": "t", "CreationDateTime": 1706702400.5, "ItemCount": 3}})
    );
}

#[test]
fn s3_answers() {
    let r = encode(
        "s3",
        "ListObjectsV2",
        json!({"Name": "b", "KeyCount": 1, "IsTruncated": false,
               "Contents": [{"Key": "a&b", "Size": 5, "LastModified": "2024-01-31T12:00:00+00:00"}]}),
    );
    let body = String::from_utf8(r.body).unwrap();
    assert!(
        body.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        ),
        "{body}"
    );
    // Contents is flattened: one element per object, no wrapper.
    assert!(
        body.contains("<Contents><Key>a&amp;b</Key><LastModified>2024-01-31T12:00:00Z</LastModified><Size>5</Size></Contents>"),
        "{body}"
    );
    assert_eq!(header(&r.headers, "x-amz-request-id"), Some("req-1"));

    let r = encode(
        "s3",
        "GetObject",
        json!({"Body": "aGVsbG8=", "ContentLength": 5, "ETag": "\"e\"", "ContentType": "text/plain",
               "Metadata": {"owner": "alice"}, "LastModified": "2024-01-31T12:00:00+00:00"}),
    );
    assert_eq!(r.body, b"hello");
    assert_eq!(header(&r.headers, "Content-Length"), Some("5"));
    assert_eq!(header(&r.headers, "ETag"), Some("\"e\""));
    assert_eq!(header(&r.headers, "x-amz-meta-owner"), Some("alice"));
    assert_eq!(
        header(&r.headers, "Last-Modified"),
        Some("Wed, 31 Jan 2024 12:00:00 GMT")
    );
    // A masked body goes out as the mask, with its own length.
    let r = encode(
        "s3",
        "GetObject",
        json!({"Body": "****MASKED****", "ContentLength": 5}),
    );
    assert_eq!(r.body, b"****MASKED****");
    assert_eq!(header(&r.headers, "Content-Length"), Some("14"));
    // A HEAD answer keeps the object's length, without a body.
    let r = encode("s3", "HeadObject", json!({"ContentLength": 1234}));
    assert!(r.body.is_empty());
    assert_eq!(header(&r.headers, "Content-Length"), Some("1234"));
    // Header values never carry a line break.
    let r = encode("s3", "HeadObject", json!({"ETag": "a\r\nSet-Cookie: x"}));
    assert_eq!(header(&r.headers, "ETag"), Some("aSet-Cookie: x"));
}

#[test]
fn query_and_ec2_answers() {
    let r = encode(
        "sts",
        "GetCallerIdentity",
        json!({"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/a", "UserId": "AID"}),
    );
    assert_eq!(
        String::from_utf8(r.body).unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><GetCallerIdentityResult><Account>123456789012</Account><Arn>arn:aws:iam::123456789012:user/a</Arn><UserId>AID</UserId></GetCallerIdentityResult><ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
    );
    let r = encode(
        "ec2",
        "DescribeInstances",
        json!({"Reservations": [{"ReservationId": "r-1", "Instances": [{"InstanceId": "i-1"}]}]}),
    );
    assert_eq!(
        String::from_utf8(r.body).unwrap(),
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><DescribeInstancesResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>req-1</requestId><reservationSet><item><instancesSet><item><instanceId>i-1</instanceId></item></instancesSet><reservationId>r-1</reservationId></item></reservationSet></DescribeInstancesResponse>"
    );
    // IAM policy documents go back URL-encoded.
    let r = encode(
        "iam",
        "GetRolePolicy",
        json!({"RoleName": "r", "PolicyName": "p", "PolicyDocument": {"Version": "2012-10-17"}}),
    );
    let body = String::from_utf8(r.body).unwrap();
    assert!(
        body.contains("<PolicyDocument>%7B%22Version%22%3A%222012-10-17%22%7D</PolicyDocument>"),
        "{body}"
    );
}

#[test]
fn error_shapes() {
    let err = |service: &str| {
        let model = load(service).unwrap();
        let r = encode_error(&model, 400, "RequestHeldForApproval", "held <&>", "req-1");
        (r.headers, String::from_utf8(r.body).unwrap())
    };
    let (h, body) = err("dynamodb");
    assert_eq!(
        header(&h, "x-amzn-ErrorType"),
        Some("RequestHeldForApproval")
    );
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({"__type": "RequestHeldForApproval", "message": "held <&>"})
    );
    let (h, body) = err("sqs");
    assert_eq!(
        header(&h, "x-amzn-query-error"),
        Some("RequestHeldForApproval;Sender")
    );
    assert!(body.contains("__type"));
    let (h, body) = err("lambda");
    assert_eq!(
        header(&h, "x-amzn-ErrorType"),
        Some("RequestHeldForApproval")
    );
    assert_eq!(body, r#"{"message":"held <&>"}"#);
    let (_, body) = err("iam");
    assert_eq!(
        body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\"><Error><Type>Sender</Type><Code>RequestHeldForApproval</Code><Message>held &lt;&amp;&gt;</Message></Error><RequestId>req-1</RequestId></ErrorResponse>"
    );
    let (_, body) = err("ec2");
    assert_eq!(
        body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><Errors><Error><Code>RequestHeldForApproval</Code><Message>held &lt;&amp;&gt;</Message></Error></Errors><RequestID>req-1</RequestID></Response>"
    );
    let (h, body) = err("s3");
    assert_eq!(header(&h, "x-amz-request-id"), Some("req-1"));
    assert_eq!(
        body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>RequestHeldForApproval</Code><Message>held &lt;&amp;&gt;</Message><RequestId>req-1</RequestId></Error>"
    );
    // And each parses back as that error.
    for service in ["dynamodb", "sqs", "lambda", "iam", "ec2", "s3", "route53"] {
        let model = load(service).unwrap();
        let r = encode_error(&model, 403, "AccessDenied", "no", "req-1");
        let op = model.operation_names()[0];
        let e = parse_response(&model, op, r.status, &r.headers, &r.body).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.message.as_str(), e.status),
            ("AccessDenied", "no", 403)
        );
    }
}
