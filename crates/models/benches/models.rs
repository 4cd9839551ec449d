//! What the operation models cost: loading a service's model on first use (the part of a
//! cold start that depends on which service is called), validating and building a request
//! once it is loaded, and the front door's side: decoding a call as an SDK sends it and
//! encoding an answer. Run with `make bench`.

use std::time::{Duration, Instant};

use serde_json::json;

const ITERATIONS: usize = 20_000;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    println!("## Operation models\n");
    println!("| service | first use (decompress + parse) |");
    println!("| --- | --- |");
    for (prefix, op) in [
        ("dynamodb", "DescribeTable"),
        ("s3", "GetObject"),
        ("iam", "GetRole"),
        ("ec2", "DescribeInstances"),
    ] {
        let t = Instant::now();
        let found = tollgate_models::find(prefix, op);
        let took = t.elapsed();
        assert!(found.is_some());
        println!("| {prefix} | {:.2} ms |", took.as_secs_f64() * 1000.0);
    }
    println!("\n| request | validate + build, p50 | p99 |");
    println!("| --- | --- | --- |");
    let cases = [
        (
            "dynamodb",
            "CreateTable",
            json!({"TableName": "t", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}]}),
        ),
        (
            "s3",
            "PutObject",
            json!({"Bucket": "b", "Key": "dir/a file.txt", "Body": "aGVsbG8="}),
        ),
        (
            "ec2",
            "DescribeInstances",
            json!({"Filters": [{"Name": "tag:env", "Values": ["prod"]}]}),
        ),
    ];
    for (prefix, op, params) in cases {
        let (model, op) = tollgate_models::find(prefix, op).unwrap();
        let params = params.as_object().unwrap().clone();
        let mut samples = Vec::with_capacity(ITERATIONS);
        for i in 0..ITERATIONS + 1000 {
            let t = Instant::now();
            tollgate_models::validate(&model, &op, &params).unwrap();
            let r =
                tollgate_models::build_request(&model, &op, &params, "us-east-1", None).unwrap();
            std::hint::black_box(r);
            if i >= 1000 {
                samples.push(t.elapsed());
            }
        }
        samples.sort();
        println!(
            "| {prefix}:{op} | {:.1} µs | {:.1} µs |",
            percentile(&samples, 0.5).as_secs_f64() * 1e6,
            percentile(&samples, 0.99).as_secs_f64() * 1e6
        );
    }
    decode_bench();
    encode_bench();
}

fn time<F: FnMut()>(mut f: F) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(ITERATIONS);
    for i in 0..ITERATIONS + 1000 {
        let t = Instant::now();
        f();
        if i >= 1000 {
            samples.push(t.elapsed());
        }
    }
    samples.sort();
    (percentile(&samples, 0.5), percentile(&samples, 0.99))
}

/// Decoding a call as the SDKs send it (the request is built by the client-side builder, so
/// it is what botocore would send), the operation found and the parameters read.
fn decode_bench() {
    println!("\n| front door: decode a call | p50 | p99 |");
    println!("| --- | --- | --- |");
    let cases = [
        (
            "dynamodb",
            "GetItem",
            json!({"TableName": "orders", "Key": {"pk": {"S": "customer#42"}, "sk": {"N": "7"}},
                   "ConsistentRead": true, "ProjectionExpression": "#s, total",
                   "ExpressionAttributeNames": {"#s": "status"}}),
        ),
        (
            "s3",
            "PutObject",
            json!({"Bucket": "b", "Key": "dir/a file.txt", "Body": "aGVsbG8gd29ybGQ=",
                   "ContentType": "text/plain", "CacheControl": "no-cache",
                   "Metadata": {"owner": "alice", "team": "data"},
                   "StorageClass": "STANDARD_IA", "ServerSideEncryption": "aws:kms",
                   "Tagging": "env=prod"}),
        ),
        (
            "ec2",
            "DescribeInstances",
            json!({"Filters": [{"Name": "tag:env", "Values": ["prod"]},
                               {"Name": "instance-state-name", "Values": ["running", "stopped"]}],
                   "MaxResults": 50}),
        ),
        (
            "sqs",
            "SendMessage",
            json!({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/q", "MessageBody": "hello",
                   "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}}),
        ),
        (
            "sns",
            "Publish",
            json!({"TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "hello",
                   "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}}),
        ),
    ];
    for (service, op, params) in cases {
        let model = tollgate_models::load(service).unwrap();
        let params = params.as_object().unwrap().clone();
        let req = tollgate_models::build_request(
            &model,
            op,
            &params,
            "us-east-1",
            Some("http://127.0.0.1:5000"),
        )
        .unwrap();
        let rest = req.url.split_once("://").unwrap().1;
        let target = &rest[rest.find('/').unwrap()..];
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let wire = tollgate_models::WireRequest {
            method: &req.method,
            path,
            query,
            headers: &req.headers,
            body: &req.body,
        };
        let decoded = tollgate_models::decode_request(&model, &wire).unwrap();
        assert_eq!(decoded.operation, op);
        let (p50, p99) = time(|| {
            std::hint::black_box(tollgate_models::decode_request(&model, &wire).unwrap());
        });
        println!(
            "| {service}:{op} ({}) | {:.1} µs | {:.1} µs |",
            model.protocol(),
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }
}

/// Encoding an answer in the service's wire format.
fn encode_bench() {
    println!("\n| front door: encode an answer | p50 | p99 |");
    println!("| --- | --- | --- |");
    let contents: Vec<_> = (0..20)
        .map(|i| {
            json!({"Key": format!("dir/file-{i}.txt"), "Size": i * 100,
                        "LastModified": "2024-01-31T12:00:00+00:00", "ETag": "\"e\""})
        })
        .collect();
    let cases = [
        (
            "dynamodb",
            "GetItem",
            json!({"Item": {"pk": {"S": "customer#42"}, "total": {"N": "12.5"}}}),
        ),
        (
            "s3",
            "ListObjectsV2",
            json!({"Name": "b", "KeyCount": 20, "IsTruncated": false, "Contents": contents}),
        ),
        (
            "ec2",
            "DescribeInstances",
            json!({"Reservations": [{"ReservationId": "r-1", "Instances": [
                {"InstanceId": "i-1", "State": {"Name": "running"}, "Tags": [{"Key": "env", "Value": "prod"}]}]}]}),
        ),
    ];
    for (service, op, output) in cases {
        let model = tollgate_models::load(service).unwrap();
        let (p50, p99) = time(|| {
            std::hint::black_box(
                tollgate_models::encode_response(&model, op, &output, "req-1").unwrap(),
            );
        });
        println!(
            "| {service}:{op} | {:.1} µs | {:.1} µs |",
            p50.as_secs_f64() * 1e6,
            p99.as_secs_f64() * 1e6
        );
    }
}
