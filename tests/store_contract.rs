//! The DynamoDB store keeps the record-store contract against moto, over HTTP with the real
//! SDK client and the table as the template defines it; the in-memory store that handler
//! tests use runs the same suite (`crates/aws/tests/memory_store.rs`).

use tollgate_aws::store::Store;
use tollgate_aws::store::contract;

#[tokio::test]
async fn the_dynamodb_store_keeps_the_store_contract() {
    let stack = tollgate_e2e::stack().await;
    // Through the local host, as the functions reach DynamoDB: moto rolls a failed
    // transaction back by restoring a snapshot of the whole table, losing a concurrent
    // writer's commit, so the host serialises writes; DynamoDB itself needs no such help.
    let sdk = tollgate_local::emulator_sdk(&stack.api_url, &stack.names.region).await;
    let store = Store::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        stack.names.table.clone(),
    );
    contract::run(&store, "D").await;
}
