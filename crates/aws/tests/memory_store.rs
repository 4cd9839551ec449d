//! The in-memory store keeps the record-store contract, as the DynamoDB store does against
//! moto in `tests/store_contract.rs`.

use tollgate_aws::store::contract;
use tollgate_aws::store::memory::MemoryStore;

#[tokio::test]
async fn the_memory_store_keeps_the_store_contract() {
    contract::run(&MemoryStore::new(), "M").await;
}
