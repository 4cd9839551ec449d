//! The DynamoDB store keeps the record-store contract against moto, over HTTP with the real
//! SDK client and the table as the template defines it; the in-memory store that handler
//! tests use runs the same suite (`crates/aws/tests/memory_store.rs`).

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::AttributeValue;
use tollgate_aws::store::contract;
use tollgate_aws::store::{STATUS_INDEX, Store, keys};

#[tokio::test]
async fn the_dynamodb_store_keeps_the_store_contract() {
    let stack = tollgate_e2e::stack().await;
    // Through the local host, as the functions reach DynamoDB: moto rolls a failed
    // transaction back by restoring a snapshot of the whole table, losing a concurrent
    // writer's commit, so the host serialises writes; DynamoDB itself needs no such help.
    let sdk = tollgate_local::emulator_sdk(&stack.api_url, &stack.names.region).await;
    let ddb = aws_sdk_dynamodb::Client::new(&sdk);
    let store = Store::new(ddb.clone(), stack.names.table.clone());
    contract::run(&store, "D").await;

    // The status listing's requests (`DS00`..`DS22`, five of them cancelled) as stored: each
    // in its own shard of its current status, the cancelled ones moved with their status.
    let mut shards = BTreeSet::new();
    let mut pending = BTreeSet::new();
    let mut cancelled = 0;
    for i in 0..23 {
        let id = format!("DS{i:02}");
        let item = ddb
            .get_item()
            .table_name(&stack.names.table)
            .key("pk", AttributeValue::S(keys::request(&id)))
            .key("sk", AttributeValue::S(keys::META.into()))
            .send()
            .await
            .unwrap()
            .item
            .expect("stored");
        let status = item["status"].as_s().unwrap();
        match status.as_str() {
            "PENDING" => {
                pending.insert(keys::request(&id));
            }
            "CANCELLED" => cancelled += 1,
            other => panic!("{id} is {other}"),
        }
        let n = keys::shard_of(&id);
        assert_eq!(
            item["status_shard"].as_s().unwrap(),
            &format!("{status}#{n}"),
            "{id}"
        );
        shards.insert(n);
    }
    assert_eq!(cancelled, 5, "moved with their status");
    assert!(
        shards.len() >= 4,
        "the requests spread over shards: {shards:?}"
    );
    // One shard's partition in the index holds exactly the requests of that shard.
    let n = *shards.first().unwrap();
    let out = ddb
        .query()
        .table_name(&stack.names.table)
        .index_name(STATUS_INDEX)
        .key_condition_expression("status_shard = :h")
        .expression_attribute_values(":h", AttributeValue::S(format!("PENDING#{n}")))
        .send()
        .await
        .unwrap();
    let listed: BTreeSet<String> = out
        .items()
        .iter()
        .map(|i| i["pk"].as_s().unwrap().clone())
        .collect();
    let expected: BTreeSet<String> = pending
        .into_iter()
        .filter(|pk| keys::shard_of(keys::request_id(pk).unwrap()) == n)
        .collect();
    let mine: BTreeSet<String> = listed
        .iter()
        .filter(|pk| pk.starts_with("REQ#DS"))
        .cloned()
        .collect();
    assert_eq!(mine, expected);
    assert!(
        listed
            .iter()
            .all(|pk| keys::shard_of(keys::request_id(pk).unwrap()) == n),
        "{listed:?}"
    );
}

/// The payload bucket's adapter against moto over HTTP, with the client the functions use and
/// the bucket the local stack creates as the template does: a body goes in and comes back
/// whole, a key with nothing is `Missing`, and an object longer than the reader's limit is
/// `Longer`, not read past it.
#[tokio::test]
async fn the_payload_bucket_keeps_bodies_and_reads_no_further_than_asked() {
    use tollgate_aws::ports::{PayloadStore, Stored};
    let stack = tollgate_e2e::stack().await;
    let bucket = stack.settings().payload_bucket.clone().expect("configured");
    let payloads =
        tollgate_aws::payloads::S3Payloads::new(&stack.sdk, &bucket, Some(&stack.moto_url))
            .unwrap();
    assert_eq!(payloads.bucket(), bucket);
    let body: Vec<u8> = (0..3 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let key = tollgate_core::payload::key("01JPAYLOAD", "abc");
    payloads.put(&key, body.clone()).await.unwrap();
    assert_eq!(
        payloads.get(&bucket, &key, body.len()).await.unwrap(),
        Stored::Bytes(body.clone())
    );
    assert_eq!(
        payloads.get(&bucket, &key, body.len() - 1).await.unwrap(),
        Stored::Longer
    );
    // Small enough that the whole object is read (S3's errors are): cut here all the same.
    let small = tollgate_core::payload::key("01JPAYLOAD", "small");
    payloads.put(&small, vec![7; 100]).await.unwrap();
    assert_eq!(
        payloads.get(&bucket, &small, 99).await.unwrap(),
        Stored::Longer
    );
    assert_eq!(
        payloads.get(&bucket, &small, 100).await.unwrap(),
        Stored::Bytes(vec![7; 100])
    );
    assert_eq!(
        payloads.get(&bucket, "payloads/none/x", 10).await.unwrap(),
        Stored::Missing
    );
    // A bucket that is not there is an error, not a missing body.
    assert!(payloads.get("no-such-bucket", &key, 10).await.is_err());
    stack.stop().await;
}
