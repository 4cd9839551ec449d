//! Requests compared with what botocore 1.44.8 builds for the same parameters.
//!
//! The expected method, URL, headers and body of each case were captured from botocore
//! (`client._make_api_call` with a `before-send` hook; parameters with sorted keys, blobs as
//! bytes on the Python side and base64 here) and pasted as literals. Headers botocore adds at
//! send time (User-Agent, X-Amz-Date, Authorization, Content-Length, amz-sdk-*, Expect,
//! X-Amz-Content-SHA256) are left out. Differences by design:
//! - S3 in us-east-1 uses `s3.us-east-1.amazonaws.com` (botocore: legacy `s3.amazonaws.com`),
//!   so the S3 cases run in other regions;
//! - PutObject's CRC32 goes in a header (botocore: an aws-chunked trailer over HTTPS), so those
//!   cases were captured with `request_checksum_calculation="when_required"` and the checksum
//!   headers added to the expectation;
//! - JSON bodies are compared as values (botocore writes `", "` separators).

use serde_json::Value;
use tollgate_models::{build_request, load};

enum Body {
    Json(&'static str),
    Text(&'static str),
}

struct Case {
    service: &'static str,
    operation: &'static str,
    params: &'static str,
    region: &'static str,
    endpoint: Option<&'static str>,
    method: &'static str,
    url: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: Body,
}

fn check(c: &Case) {
    let model = load(c.service).expect("model");
    let params: Value = serde_json::from_str(c.params).expect("params");
    let params = params.as_object().expect("object");
    let req = build_request(&model, c.operation, params, c.region, c.endpoint)
        .unwrap_or_else(|e| panic!("{}: {e}", c.operation));
    assert_eq!(req.method, c.method, "method");
    assert_eq!(req.url, c.url, "url");
    let mut got: Vec<(String, String)> = req
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = c
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    want.sort();
    assert_eq!(got, want, "headers");
    match c.body {
        Body::Json(want) => {
            let got: Value = serde_json::from_slice(&req.body).expect("JSON body");
            let want: Value = serde_json::from_str(want).expect("expected JSON");
            assert_eq!(got, want, "body");
        }
        Body::Text(want) => {
            assert_eq!(String::from_utf8_lossy(&req.body), want, "body");
        }
    }
}

#[test]
fn dynamodb_create_table() {
    check(&Case {
        service: r#"dynamodb"#,
        operation: r#"CreateTable"#,
        params: r#"{"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "n", "AttributeType": "N"}], "BillingMode": "PAY_PER_REQUEST", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}], "TableName": "t", "Tags": [{"Key": "env", "Value": "dev"}]}"#,
        region: r#"us-east-1"#,
        endpoint: None,
        method: r#"POST"#,
        url: r#"https://dynamodb.us-east-1.amazonaws.com/"#,
        headers: &[
            (r#"X-Amz-Target"#, r#"DynamoDB_20120810.CreateTable"#),
            (r#"Content-Type"#, r#"application/x-amz-json-1.0"#),
        ],
        body: Body::Json(
            r#"{"AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}, {"AttributeName": "n", "AttributeType": "N"}], "BillingMode": "PAY_PER_REQUEST", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}, {"AttributeName": "n", "KeyType": "RANGE"}], "TableName": "t", "Tags": [{"Key": "env", "Value": "dev"}]}"#,
        ),
    });
}

#[test]
fn dynamodb_put_item_blob() {
    check(&Case {
        service: r#"dynamodb"#,
        operation: r#"PutItem"#,
        params: r#"{"Item": {"data": {"B": "aGVsbG8="}, "id": {"S": "1"}, "l": {"L": [{"S": "é"}, {"NULL": true}]}, "n": {"N": "1.5"}, "ok": {"BOOL": true}}, "TableName": "t"}"#,
        region: r#"us-east-1"#,
        endpoint: None,
        method: r#"POST"#,
        url: r#"https://dynamodb.us-east-1.amazonaws.com/"#,
        headers: &[
            (r#"X-Amz-Target"#, r#"DynamoDB_20120810.PutItem"#),
            (r#"Content-Type"#, r#"application/x-amz-json-1.0"#),
        ],
        body: Body::Json(
            r#"{"Item": {"data": {"B": "aGVsbG8="}, "id": {"S": "1"}, "l": {"L": [{"S": "\u00e9"}, {"NULL": true}]}, "n": {"N": "1.5"}, "ok": {"BOOL": true}}, "TableName": "t"}"#,
        ),
    });
}

#[test]
fn dynamodb_emulator() {
    check(&Case {
        service: r#"dynamodb"#,
        operation: r#"ListTables"#,
        params: r#"{"Limit": 5}"#,
        region: r#"eu-west-1"#,
        endpoint: Some(r#"http://localhost:8000/"#),
        method: r#"POST"#,
        url: r#"http://localhost:8000/"#,
        headers: &[
            (r#"X-Amz-Target"#, r#"DynamoDB_20120810.ListTables"#),
            (r#"Content-Type"#, r#"application/x-amz-json-1.0"#),
        ],
        body: Body::Json(r#"{"Limit": 5}"#),
    });
}

#[test]
fn sqs_send_message() {
    check(&Case {
        service: r#"sqs"#,
        operation: r#"SendMessage"#,
        params: r#"{"DelaySeconds": 5, "MessageAttributes": {"a": {"DataType": "String", "StringValue": "x"}, "b": {"BinaryValue": "AAE=", "DataType": "Binary"}}, "MessageBody": "hi there", "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q"}"#,
        region: r#"us-east-1"#,
        endpoint: None,
        method: r#"POST"#,
        url: r#"https://sqs.us-east-1.amazonaws.com/"#,
        headers: &[
            (r#"X-Amz-Target"#, r#"AmazonSQS.SendMessage"#),
            (r#"Content-Type"#, r#"application/x-amz-json-1.0"#),
            (r#"x-amzn-query-mode"#, r#"true"#),
        ],
        body: Body::Json(
            r#"{"DelaySeconds": 5, "MessageAttributes": {"a": {"DataType": "String", "StringValue": "x"}, "b": {"BinaryValue": "AAE=", "DataType": "Binary"}}, "MessageBody": "hi there", "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q"}"#,
        ),
    });
}

#[test]
fn cloudwatch_get_metric_data() {
    check(&Case {
        service: r#"cloudwatch"#,
        operation: r#"GetMetricData"#,
        params: r#"{"EndTime": "2024-01-02T04:04:05.5Z", "MaxDatapoints": 10, "MetricDataQueries": [{"Expression": "SUM(METRICS())", "Id": "q1", "Period": 60}], "StartTime": "2024-01-02T03:04:05Z"}"#,
        region: r#"eu-central-1"#,
        endpoint: None,
        method: r#"POST"#,
        url: r#"https://monitoring.eu-central-1.amazonaws.com/"#,
        headers: &[
            (
                r#"X-Amz-Target"#,
                r#"GraniteServiceVersion20100801.GetMetricData"#,
            ),
            (r#"Content-Type"#, r#"application/x-amz-json-1.0"#),
            (r#"x-amzn-query-mode"#, r#"true"#),
        ],
        body: Body::Json(
            r#"{"EndTime": 1704168245.5, "MaxDatapoints": 10, "MetricDataQueries": [{"Expression": "SUM(METRICS())", "Id": "q1", "Period": 60}], "StartTime": 1704164645}"#,
        ),
    });
}

#[test]
fn iam_create_role() {
    check(&Case {
        service: r#"iam"#,
        operation: r#"CreateRole"#,
        params: r#"{"AssumeRolePolicyDocument": "{\"Version\": \"2012-10-17\", \"Statement\": [{\"Effect\": \"Allow\", \"Principal\": {\"Service\": \"lambda.amazonaws.com\"}, \"Action\": \"sts:AssumeRole\"}]}", "MaxSessionDuration": 3600, "Path": "/svc/", "RoleName": "app-role", "Tags": [{"Key": "team", "Value": "a b"}, {"Key": "env", "Value": "dev&prod"}]}"#,
        region: r#"eu-west-1"#,
        endpoint: None,
        method: r#"POST"#,
        url: r#"https://iam.amazonaws.com/"#,
        headers: &[(
            r#"Content-Type"#,
            r#"application/x-www-form-urlencoded; charset=utf-8"#,
        )],
        body: Body::Text(
            r#"Action=CreateRole&Version=2010-05-08&AssumeRolePolicyDocument=%7B%22Version%22%3A+%222012-10-17%22%2C+%22Statement%22%3A+%5B%7B%22Effect%22%3A+%22Allow%22%2C+%22Principal%22%3A+%7B%22Service%22%3A+%22lambda.amazonaws.com%22%7D%2C+%22Action%22%3A+%22sts%3AAssumeRole%22%7D%5D%7D&MaxSessionDuration=3600&Path=%2Fsvc%2F&RoleName=app-role&Tags.member.1.Key=team&Tags.member.1.Value=a+b&Tags.member.2.Key=env&Tags.member.2.Value=dev%26prod"#,
        ),
    });
}

#[test]
fn iam_list_roles() {
    check(&Case {
        service: r#"iam"#,
        operation: r#"ListRoles"#,
        params: r#"{"MaxItems": 10, "PathPrefix": "/"}"#,
        region: r#"us-east-1"#,
        endpoint: None,
        method: r#"POST"#,
        url: r#"https://iam.amazonaws.com/"#,
        headers: &[(
            r#"Content-Type"#,
            r#"application/x-www-form-urlencoded; charset=utf-8"#,
        )],
        body: Body::Text(r#"Action=ListRoles&Version=2010-05-08&MaxItems=10&PathPrefix=%2F"#),
    });
}

#[test]
fn iam_list_roles_emulator() {
    check(&Case {
        service: r#"iam"#,
        operation: r#"ListRoles"#,
        params: r#"{}"#,
        region: r#"us-east-1"#,
        endpoint: Some(r#"http://127.0.0.1:5000"#),
        method: r#"POST"#,
        url: r#"http://127.0.0.1:5000/"#,
        headers: &[(
            r#"Content-Type"#,
            r#"application/x-www-form-urlencoded; charset=utf-8"#,
        )],
        body: Body::Text(r#"Action=ListRoles&Version=2010-05-08"#),
    });
}

#[test]
fn sts_assume_role() {
    check(&Case {
        service: r#"sts"#,
        operation: r#"AssumeRole"#,
        params: r#"{"DurationSeconds": 900, "Policy": "{\"Version\": \"2012-10-17\"}", "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}], "RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "s1", "SourceIdentity": "agent@x", "Tags": [{"Key": "k", "Value": "v"}], "TransitiveTagKeys": ["k"]}"#,
        region: r#"us-east-1"#,
        endpoint: None,
        method: r#"POST"#,
        url: r#"https://sts.us-east-1.amazonaws.com/"#,
        headers: &[(
            r#"Content-Type"#,
            r#"application/x-www-form-urlencoded; charset=utf-8"#,
        )],
        body: Body::Text(
            r#"Action=AssumeRole&Version=2011-06-15&DurationSeconds=900&Policy=%7B%22Version%22%3A+%222012-10-17%22%7D&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fr&RoleSessionName=s1&SourceIdentity=agent%40x&Tags.member.1.Key=k&Tags.member.1.Value=v&TransitiveTagKeys.member.1=k"#,
        ),
    });
}

#[test]
fn sts_get_caller_identity() {
    check(&Case {
        service: r#"sts"#,
        operation: r#"GetCallerIdentity"#,
        params: r#"{}"#,
        region: r#"ap-southeast-2"#,
        endpoint: None,
        method: r#"POST"#,
        url: r#"https://sts.ap-southeast-2.amazonaws.com/"#,
        headers: &[(
            r#"Content-Type"#,
            r#"application/x-www-form-urlencoded; charset=utf-8"#,
        )],
        body: Body::Text(r#"Action=GetCallerIdentity&Version=2011-06-15"#),
    });
}

#[test]
fn ec2_describe_instances() {
    check(&Case {
        service: r#"ec2"#,
        operation: r#"DescribeInstances"#,
        params: r#"{"DryRun": false, "Filters": [{"Name": "tag:Name", "Values": ["a b", "c"]}, {"Name": "instance-state-name", "Values": ["running"]}], "InstanceIds": ["i-1", "i-2"]}"#,
        region: r#"us-east-1"#,
        endpoint: None,
        method: r#"POST"#,
        url: r#"https://ec2.us-east-1.amazonaws.com/"#,
        headers: &[(
            r#"Content-Type"#,
            r#"application/x-www-form-urlencoded; charset=utf-8"#,
        )],
        body: Body::Text(
            r#"Action=DescribeInstances&Version=2016-11-15&DryRun=false&Filter.1.Name=tag%3AName&Filter.1.Value.1=a+b&Filter.1.Value.2=c&Filter.2.Name=instance-state-name&Filter.2.Value.1=running&InstanceId.1=i-1&InstanceId.2=i-2"#,
        ),
    });
}

#[test]
fn ec2_run_instances() {
    check(&Case {
        service: r#"ec2"#,
        operation: r#"RunInstances"#,
        params: r##"{"BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"DeleteOnTermination": true, "VolumeSize": 8}}], "ClientToken": "tok-1", "ImageId": "ami-123", "InstanceType": "t3.micro", "MaxCount": 1, "MinCount": 1, "NetworkInterfaces": [{"AssociatePublicIpAddress": true, "DeviceIndex": 0, "Ipv6Addresses": [{"Ipv6Address": "::1"}], "SubnetId": "subnet-1"}], "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web 1"}, {"Key": "env", "Value": "dev"}]}], "UserData": "#!/bin/sh\necho hi\n"}"##,
        region: r#"eu-west-1"#,
        endpoint: None,
        method: r#"POST"#,
        url: r#"https://ec2.eu-west-1.amazonaws.com/"#,
        headers: &[(
            r#"Content-Type"#,
            r#"application/x-www-form-urlencoded; charset=utf-8"#,
        )],
        body: Body::Text(
            r#"Action=RunInstances&Version=2016-11-15&BlockDeviceMapping.1.DeviceName=%2Fdev%2Fxvda&BlockDeviceMapping.1.Ebs.DeleteOnTermination=true&BlockDeviceMapping.1.Ebs.VolumeSize=8&ClientToken=tok-1&ImageId=ami-123&InstanceType=t3.micro&MaxCount=1&MinCount=1&NetworkInterface.1.AssociatePublicIpAddress=true&NetworkInterface.1.DeviceIndex=0&NetworkInterface.1.Ipv6Addresses.1.Ipv6Address=%3A%3A1&NetworkInterface.1.SubnetId=subnet-1&TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=Name&TagSpecification.1.Tag.1.Value=web+1&TagSpecification.1.Tag.2.Key=env&TagSpecification.1.Tag.2.Value=dev&UserData=IyEvYmluL3NoCmVjaG8gaGkK"#,
        ),
    });
}

#[test]
fn lambda_get_function() {
    check(&Case {
        service: r#"lambda"#,
        operation: r#"GetFunction"#,
        params: r#"{"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:my-fn", "Qualifier": "$LATEST"}"#,
        region: r#"us-east-1"#,
        endpoint: None,
        method: r#"GET"#,
        url: r#"https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Amy-fn?Qualifier=%24LATEST"#,
        headers: &[],
        body: Body::Text(r#""#),
    });
}

#[test]
fn lambda_list_functions() {
    check(&Case {
        service: r#"lambda"#,
        operation: r#"ListFunctions"#,
        params: r#"{"FunctionVersion": "ALL", "Marker": "m/x y", "MaxItems": 5}"#,
        region: r#"us-east-1"#,
        endpoint: None,
        method: r#"GET"#,
        url: r#"https://lambda.us-east-1.amazonaws.com/2015-03-31/functions?FunctionVersion=ALL&Marker=m%2Fx%20y&MaxItems=5"#,
        headers: &[],
        body: Body::Text(r#""#),
    });
}

#[test]
fn lambda_invoke() {
    check(&Case {
        service: r#"lambda"#,
        operation: r#"Invoke"#,
        params: r#"{"ClientContext": "eyJjdXN0b20iOnt9fQ==", "FunctionName": "f", "InvocationType": "Event", "Payload": "eyJhIjogMX0="}"#,
        region: r#"us-east-1"#,
        endpoint: None,
        method: r#"POST"#,
        url: r#"https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/f/invocations"#,
        headers: &[
            (r#"X-Amz-Client-Context"#, r#"eyJjdXN0b20iOnt9fQ=="#),
            (r#"X-Amz-Invocation-Type"#, r#"Event"#),
        ],
        body: Body::Text(r#"{"a": 1}"#),
    });
}

#[test]
fn lambda_tag_resource() {
    check(&Case {
        service: r#"lambda"#,
        operation: r#"TagResource"#,
        params: r#"{"Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "Tags": {"a": "1", "b c": "2"}}"#,
        region: r#"us-east-1"#,
        endpoint: None,
        method: r#"POST"#,
        url: r#"https://lambda.us-east-1.amazonaws.com/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af"#,
        headers: &[(r#"Content-Type"#, r#"application/json"#)],
        body: Body::Json(r#"{"Tags": {"a": "1", "b c": "2"}}"#),
    });
}

#[test]
fn lambda_emulator() {
    check(&Case {
        service: r#"lambda"#,
        operation: r#"ListFunctions"#,
        params: r#"{}"#,
        region: r#"us-east-1"#,
        endpoint: Some(r#"http://127.0.0.1:5000"#),
        method: r#"GET"#,
        url: r#"http://127.0.0.1:5000/2015-03-31/functions"#,
        headers: &[],
        body: Body::Text(r#""#),
    });
}

#[test]
fn s3_put_object() {
    check(&Case {
        service: r#"s3"#,
        operation: r#"PutObject"#,
        params: r#"{"Body": "aGVsbG8gd29ybGQ=", "Bucket": "my-bucket", "ContentType": "text/plain", "Key": "dir/sub dir/file name+1.txt", "Metadata": {"owner": "me"}, "Tagging": "a=b&c=d"}"#,
        region: r#"us-west-2"#,
        endpoint: None,
        method: r#"PUT"#,
        url: r#"https://my-bucket.s3.us-west-2.amazonaws.com/dir/sub%20dir/file%20name%2B1.txt"#,
        headers: &[
            (r#"Content-Type"#, r#"text/plain"#),
            (r#"x-amz-meta-owner"#, r#"me"#),
            (r#"x-amz-tagging"#, r#"a=b&c=d"#),
            (r#"x-amz-checksum-crc32"#, r#"DUoRhQ=="#),
            (r#"x-amz-sdk-checksum-algorithm"#, r#"CRC32"#),
        ],
        body: Body::Text(r#"hello world"#),
    });
}

#[test]
fn s3_put_object_emulator() {
    check(&Case {
        service: r#"s3"#,
        operation: r#"PutObject"#,
        params: r#"{"Body": "eA==", "Bucket": "my-bucket", "Key": "a b/c.txt"}"#,
        region: r#"us-west-2"#,
        endpoint: Some(r#"http://127.0.0.1:5000"#),
        method: r#"PUT"#,
        url: r#"http://127.0.0.1:5000/my-bucket/a%20b/c.txt"#,
        headers: &[
            (r#"x-amz-checksum-crc32"#, r#"jNwWgw=="#),
            (r#"x-amz-sdk-checksum-algorithm"#, r#"CRC32"#),
        ],
        body: Body::Text(r#"x"#),
    });
}

#[test]
fn s3_get_object() {
    check(&Case {
        service: r#"s3"#,
        operation: r#"GetObject"#,
        params: r#"{"Bucket": "my-bucket", "IfModifiedSince": "2024-01-02T03:04:05Z", "Key": "a/b c.txt", "Range": "bytes=0-9", "VersionId": "v1"}"#,
        region: r#"eu-west-1"#,
        endpoint: None,
        method: r#"GET"#,
        url: r#"https://my-bucket.s3.eu-west-1.amazonaws.com/a/b%20c.txt?versionId=v1"#,
        headers: &[
            (r#"If-Modified-Since"#, r#"Tue, 02 Jan 2024 03:04:05 GMT"#),
            (r#"Range"#, r#"bytes=0-9"#),
        ],
        body: Body::Text(r#""#),
    });
}

#[test]
fn s3_get_object_dotted_bucket() {
    check(&Case {
        service: r#"s3"#,
        operation: r#"GetObject"#,
        params: r#"{"Bucket": "my.bucket", "Key": "k"}"#,
        region: r#"us-west-2"#,
        endpoint: None,
        method: r#"GET"#,
        url: r#"https://s3.us-west-2.amazonaws.com/my.bucket/k"#,
        headers: &[],
        body: Body::Text(r#""#),
    });
}

#[test]
fn s3_put_bucket_policy() {
    check(&Case {
        service: r#"s3"#,
        operation: r#"PutBucketPolicy"#,
        params: r#"{"Bucket": "my-bucket", "Policy": "{\"Version\": \"2012-10-17\", \"Statement\": []}"}"#,
        region: r#"us-west-2"#,
        endpoint: None,
        method: r#"PUT"#,
        url: r#"https://my-bucket.s3.us-west-2.amazonaws.com/?policy"#,
        headers: &[
            (r#"x-amz-checksum-crc32"#, r#"vVPNKQ=="#),
            (r#"x-amz-sdk-checksum-algorithm"#, r#"CRC32"#),
        ],
        body: Body::Text(r#"{"Version": "2012-10-17", "Statement": []}"#),
    });
}

#[test]
fn s3_create_bucket() {
    check(&Case {
        service: r#"s3"#,
        operation: r#"CreateBucket"#,
        params: r#"{"ACL": "private", "Bucket": "my-bucket", "CreateBucketConfiguration": {"LocationConstraint": "eu-west-1"}}"#,
        region: r#"eu-west-1"#,
        endpoint: None,
        method: r#"PUT"#,
        url: r#"https://my-bucket.s3.eu-west-1.amazonaws.com/"#,
        headers: &[(r#"x-amz-acl"#, r#"private"#)],
        body: Body::Text(
            r#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"#,
        ),
    });
}

#[test]
fn s3_create_bucket_emulator() {
    check(&Case {
        service: r#"s3"#,
        operation: r#"CreateBucket"#,
        params: r#"{"Bucket": "my-bucket"}"#,
        region: r#"us-west-2"#,
        endpoint: Some(r#"http://127.0.0.1:5000"#),
        method: r#"PUT"#,
        url: r#"http://127.0.0.1:5000/my-bucket"#,
        headers: &[],
        body: Body::Text(r#""#),
    });
}

#[test]
fn s3_list_objects_v2() {
    check(&Case {
        service: r#"s3"#,
        operation: r#"ListObjectsV2"#,
        params: r#"{"Bucket": "my-bucket", "Delimiter": "/", "EncodingType": "url", "MaxKeys": 10, "Prefix": "a b/", "StartAfter": "a b/x"}"#,
        region: r#"us-west-2"#,
        endpoint: None,
        method: r#"GET"#,
        url: r#"https://my-bucket.s3.us-west-2.amazonaws.com/?list-type=2&delimiter=%2F&encoding-type=url&max-keys=10&prefix=a%20b%2F&start-after=a%20b%2Fx"#,
        headers: &[],
        body: Body::Text(r#""#),
    });
}

#[test]
fn s3_list_objects_v2_emulator() {
    check(&Case {
        service: r#"s3"#,
        operation: r#"ListObjectsV2"#,
        params: r#"{"Bucket": "my-bucket", "EncodingType": "url"}"#,
        region: r#"us-west-2"#,
        endpoint: Some(r#"http://127.0.0.1:5000/"#),
        method: r#"GET"#,
        url: r#"http://127.0.0.1:5000/my-bucket?list-type=2&encoding-type=url"#,
        headers: &[],
        body: Body::Text(r#""#),
    });
}

#[test]
fn s3_list_buckets() {
    check(&Case {
        service: r#"s3"#,
        operation: r#"ListBuckets"#,
        params: r#"{}"#,
        region: r#"us-west-2"#,
        endpoint: None,
        method: r#"GET"#,
        url: r#"https://s3.us-west-2.amazonaws.com/"#,
        headers: &[],
        body: Body::Text(r#""#),
    });
}

#[test]
fn s3_put_bucket_tagging() {
    check(&Case {
        service: r#"s3"#,
        operation: r#"PutBucketTagging"#,
        params: r#"{"Bucket": "my-bucket", "Tagging": {"TagSet": [{"Key": "a", "Value": "1 & 2"}, {"Key": "b", "Value": ""}]}}"#,
        region: r#"us-west-2"#,
        endpoint: None,
        method: r#"PUT"#,
        url: r#"https://my-bucket.s3.us-west-2.amazonaws.com/?tagging"#,
        headers: &[
            (r#"x-amz-checksum-crc32"#, r#"Q1t31A=="#),
            (r#"x-amz-sdk-checksum-algorithm"#, r#"CRC32"#),
        ],
        body: Body::Text(
            r#"<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>a</Key><Value>1 &amp; 2</Value></Tag><Tag><Key>b</Key><Value /></Tag></TagSet></Tagging>"#,
        ),
    });
}

#[test]
fn s3_delete_objects() {
    check(&Case {
        service: r#"s3"#,
        operation: r#"DeleteObjects"#,
        params: r#"{"Bucket": "my-bucket", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b c", "VersionId": "v"}], "Quiet": true}}"#,
        region: r#"us-west-2"#,
        endpoint: None,
        method: r#"POST"#,
        url: r#"https://my-bucket.s3.us-west-2.amazonaws.com/?delete"#,
        headers: &[
            (r#"x-amz-checksum-crc32"#, r#"fCQs8A=="#),
            (r#"x-amz-sdk-checksum-algorithm"#, r#"CRC32"#),
        ],
        body: Body::Text(
            r#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key></Object><Object><Key>b c</Key><VersionId>v</VersionId></Object><Quiet>true</Quiet></Delete>"#,
        ),
    });
}

#[test]
fn s3_copy_object() {
    check(&Case {
        service: r#"s3"#,
        operation: r#"CopyObject"#,
        params: r#"{"Bucket": "dst", "CopySource": "src-bucket/dir/a b+c.txt", "Key": "k 2", "MetadataDirective": "REPLACE"}"#,
        region: r#"us-west-2"#,
        endpoint: None,
        method: r#"PUT"#,
        url: r#"https://dst.s3.us-west-2.amazonaws.com/k%202"#,
        headers: &[
            (r#"x-amz-copy-source"#, r#"src-bucket/dir/a%20b%2Bc.txt"#),
            (r#"x-amz-metadata-directive"#, r#"REPLACE"#),
        ],
        body: Body::Text(r#""#),
    });
}

#[test]
fn s3_put_bucket_acl() {
    check(&Case {
        service: r#"s3"#,
        operation: r#"PutBucketAcl"#,
        params: r#"{"AccessControlPolicy": {"Grants": [{"Grantee": {"ID": "u1", "Type": "CanonicalUser"}, "Permission": "READ"}], "Owner": {"ID": "o1"}}, "Bucket": "my-bucket"}"#,
        region: r#"us-west-2"#,
        endpoint: None,
        method: r#"PUT"#,
        url: r#"https://my-bucket.s3.us-west-2.amazonaws.com/?acl"#,
        headers: &[
            (r#"x-amz-checksum-crc32"#, r#"KOca/g=="#),
            (r#"x-amz-sdk-checksum-algorithm"#, r#"CRC32"#),
        ],
        body: Body::Text(
            r#"<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser"><ID>u1</ID></Grantee><Permission>READ</Permission></Grant></AccessControlList><Owner><ID>o1</ID></Owner></AccessControlPolicy>"#,
        ),
    });
}

#[test]
fn sns_publish() {
    check(&Case {
        service: r#"sns"#,
        operation: r#"Publish"#,
        params: r#"{"Message": "hello world & more", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}, "n": {"DataType": "Number", "StringValue": "1"}}, "Subject": "s", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t"}"#,
        region: r#"us-east-1"#,
        endpoint: None,
        method: r#"POST"#,
        url: r#"https://sns.us-east-1.amazonaws.com/"#,
        headers: &[(
            r#"Content-Type"#,
            r#"application/x-www-form-urlencoded; charset=utf-8"#,
        )],
        body: Body::Text(
            r#"Action=Publish&Version=2010-03-31&Message=hello+world+%26+more&MessageAttributes.entry.1.Name=k&MessageAttributes.entry.1.Value.DataType=String&MessageAttributes.entry.1.Value.StringValue=v&MessageAttributes.entry.2.Name=n&MessageAttributes.entry.2.Value.DataType=Number&MessageAttributes.entry.2.Value.StringValue=1&Subject=s&TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3At"#,
        ),
    });
}

#[test]
fn route53_change_record_sets() {
    check(&Case {
        service: r#"route53"#,
        operation: r#"ChangeResourceRecordSets"#,
        params: r#"{"ChangeBatch": {"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {"Name": "a.example.com", "ResourceRecords": [{"Value": "1.2.3.4"}], "TTL": 60, "Type": "A"}}], "Comment": "c"}, "HostedZoneId": "/hostedzone/Z123"}"#,
        region: r#"us-east-1"#,
        endpoint: None,
        method: r#"POST"#,
        url: r#"https://route53.amazonaws.com/2013-04-01/hostedzone/Z123/rrset/"#,
        headers: &[],
        body: Body::Text(
            r#"<ChangeResourceRecordSetsRequest xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeBatch><Changes><Change><Action>UPSERT</Action><ResourceRecordSet><Name>a.example.com</Name><ResourceRecords><ResourceRecord><Value>1.2.3.4</Value></ResourceRecord></ResourceRecords><TTL>60</TTL><Type>A</Type></ResourceRecordSet></Change></Changes><Comment>c</Comment></ChangeBatch></ChangeResourceRecordSetsRequest>"#,
        ),
    });
}

#[test]
fn apigateway_get_rest_apis() {
    check(&Case {
        service: r#"apigateway"#,
        operation: r#"GetRestApis"#,
        params: r#"{"limit": 5}"#,
        region: r#"us-east-1"#,
        endpoint: None,
        method: r#"GET"#,
        url: r#"https://apigateway.us-east-1.amazonaws.com/restapis?limit=5"#,
        headers: &[(r#"Accept"#, r#"application/json"#)],
        body: Body::Text(r#""#),
    });
}

#[test]
fn stepfunctions_list_state_machines() {
    check(&Case {
        service: r#"stepfunctions"#,
        operation: r#"ListStateMachines"#,
        params: r#"{"maxResults": 10}"#,
        region: r#"us-east-1"#,
        endpoint: None,
        method: r#"POST"#,
        url: r#"https://states.us-east-1.amazonaws.com/"#,
        headers: &[
            (r#"X-Amz-Target"#, r#"AWSStepFunctions.ListStateMachines"#),
            (r#"Content-Type"#, r#"application/x-amz-json-1.0"#),
        ],
        body: Body::Json(r#"{"maxResults": 10}"#),
    });
}

#[test]
fn s3control_list_access_points() {
    check(&Case {
        service: r#"s3control"#,
        operation: r#"ListAccessPoints"#,
        params: r#"{"AccountId": "123456789012", "Bucket": "bkt", "MaxResults": 3}"#,
        region: r#"us-east-1"#,
        endpoint: None,
        method: r#"GET"#,
        url: r#"https://123456789012.s3-control.us-east-1.amazonaws.com/v20180820/accesspoint?bucket=bkt&maxResults=3"#,
        headers: &[(r#"x-amz-account-id"#, r#"123456789012"#)],
        body: Body::Text(r#""#),
    });
}
