//! What the operation models cost: loading a service's model on first use (the part of a
//! cold start that depends on which service is called), and validating and building a request
//! once it is loaded. Run with `make bench`.

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
}
