//! The table's key layout, in one place: every reader and writer of the table (the store,
//! the Slack forwarder, the audit exporter, operators' tools) builds and parses keys here.
//!
//! | item | `pk` | `sk` |
//! |---|---|---|
//! | request | `REQ#<id>` | `META` |
//! | audit event | `REQ#<id>` | `EVT#<seq, 10 digits>` |
//! | posted Slack message | `REQ#<id>` | `SLACK` |
//! | idempotency claim | `IDEM#<hash>` | `META` |
//! | approver session | `SESSION#<sha256(session id)>` | `SESSION` |
//! | open long-polls of a scope | `WAITS#<sha256(scope)>` | `META` |
//! | an agent's rate counters of a day | `RATE#<sha256(agent key)>` | `DAY#<days since 1970>` |
//! | a request approved by break-glass, for listing those | `REQ#<id>` | `BREAKGLASS` |
//! | a grant | `GRANT` | `<grant id>` |
//! | a parked plan (run by calls), for its agent's front-door calls | `PARKED#<sha256(agent key)>` | `<plan id>` |
//!
//! A request item also carries `status_shard` (`<STATUS>#<n>`), the partition key of the
//! `by-status-shard` index: see [`status_shard`]. A break-glass item carries
//! `BREAKGLASS#<n>` there, with `created_at` the time the glass was broken, and the request's
//! document as of its last change: so the uses of a period are one bounded query per shard.

use tollgate_core::audit::sha256_hex;

/// Sort key of a request's own item, and of an idempotency claim.
pub const META: &str = "META";
/// Sort key of the Slack message posted for a request.
pub const SLACK: &str = "SLACK";
/// Sort key of the item that lists a request approved by break-glass.
pub const BREAKGLASS: &str = "BREAKGLASS";

/// Sort key of an approver session.
pub const SESSION: &str = "SESSION";

const REQUEST_PREFIX: &str = "REQ#";
/// What every event's sort key starts with.
pub const EVENT_PREFIX: &str = "EVT#";

/// Partition key of a request (its item, its events, its Slack message).
pub fn request(id: &str) -> String {
    format!("{REQUEST_PREFIX}{id}")
}

/// The request id of a request partition key; `None` for any other item.
pub fn request_id(pk: &str) -> Option<&str> {
    pk.strip_prefix(REQUEST_PREFIX)
}

/// Sort key of the event with sequence number `seq`; zero-padded so events sort in order.
pub fn event(seq: u64) -> String {
    format!("{EVENT_PREFIX}{seq:010}")
}

/// Whether a sort key is an audit event's.
pub fn is_event(sk: &str) -> bool {
    sk.starts_with(EVENT_PREFIX)
}

/// Partition key of an idempotency claim.
pub fn idempotency(key_hash: &str) -> String {
    format!("IDEM#{key_hash}")
}

/// Partition key of a session: only the id's hash, so reading the table yields no cookie.
pub fn session(session_id: &str) -> String {
    format!("SESSION#{}", sha256_hex(session_id.as_bytes()))
}

/// Partition key of a scope's wait leases (a caller's, or an overall shard).
pub fn waits(scope: &str) -> String {
    format!("WAITS#{}", sha256_hex(scope.as_bytes()))
}

/// How many partitions each status is spread over in the `by-status-shard` index. Every
/// request waiting for approval would otherwise sit in one index partition (`PENDING`), whose
/// write rate caps the whole table's: DynamoDB throttles base-table writes when an index
/// partition cannot keep up. Fixed, because a listing reads every shard of its status.
pub const STATUS_SHARDS: u8 = 8;

/// The shard a request is in: fixed for its life (from its id), so a status change moves it
/// from `<OLD>#<n>` to `<NEW>#<n>` in the same write that changes its status.
pub fn shard_of(id: &str) -> u8 {
    use sha2::Digest;
    // 256 is a multiple of the shard count, so every shard is equally likely.
    sha2::Sha256::digest(id.as_bytes())[0] % STATUS_SHARDS
}

/// The `by-status-shard` partition key of request `id` while it has `status`.
pub fn status_shard(status: &str, id: &str) -> String {
    format!("{status}#{}", shard_of(id))
}

/// Every `by-status-shard` partition key of `status`: what a listing reads.
pub fn status_shards(status: &str) -> impl Iterator<Item = String> + '_ {
    (0..STATUS_SHARDS).map(move |n| format!("{status}#{n}"))
}

/// Partition key of every grant: one partition, so an approver's inbox and the sweeper read
/// them all with one query. Grants are few (one per approval that offers one) and leave by
/// TTL a day after they expire.
pub const GRANTS: &str = "GRANT";

/// Partition key of an agent's parked plans: the key's hash, so the table names no agent.
/// Each item holds the plan's document as of its last change (written in the same
/// transaction as the plan), so a front-door call finds the plans it may join with one
/// consistent Query, and the item goes in the write that ends the plan.
pub fn parked(agent_key: &str) -> String {
    format!("PARKED#{}", sha256_hex(agent_key.as_bytes()))
}

/// Partition key of an agent's rate counters: the key's hash, so the table names no agent.
pub fn counters(agent_key: &str) -> String {
    format!("RATE#{}", sha256_hex(agent_key.as_bytes()))
}

/// Sort key of a day's counters.
pub fn counter_day(day: u64) -> String {
    format!("DAY#{day}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_shards_are_stable_spread_and_listed() {
        assert_eq!(
            status_shard("PENDING", "01JX"),
            status_shard("PENDING", "01JX")
        );
        let n = shard_of("01JX");
        assert_eq!(status_shard("EXECUTED", "01JX"), format!("EXECUTED#{n}"));
        let used: std::collections::BTreeSet<u8> =
            (0..200).map(|i| shard_of(&format!("01J{i:04}"))).collect();
        assert_eq!(
            used.len(),
            usize::from(STATUS_SHARDS),
            "ids reach every shard"
        );
        let all: Vec<String> = status_shards("PENDING").collect();
        assert_eq!(all.len(), usize::from(STATUS_SHARDS));
        assert!(all.contains(&status_shard("PENDING", "01JX")));
    }

    #[test]
    fn keys_round_trip_and_events_sort_in_order() {
        assert_eq!(request("01J"), "REQ#01J");
        assert_eq!(request_id(&request("01J")), Some("01J"));
        assert_eq!(request_id("IDEM#x"), None);
        assert_eq!(event(7), "EVT#0000000007");
        assert!(event(9) < event(10));
        assert!(is_event(&event(1)) && !is_event(META) && !is_event(SLACK));
        assert!(!session("sid").contains("sid"));
    }
}
