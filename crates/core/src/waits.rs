//! Caps on open long-polls (`GET /v1/requests/{id}?wait=`, the front door's `--wait`). On AWS
//! each open wait holds a Lambda instance for up to 20 s, so an agent that opened many would
//! take the account's concurrency from every other caller. Each caller may hold
//! [`PER_CALLER`] waits at once, and all callers together about [`OVERALL`].
//!
//! An open wait is a lease with an expiry, not a counter: a wait whose process died (a Lambda
//! timeout, a crash) frees its place when its lease expires, and no count can drift.

use std::collections::BTreeMap;

use crate::audit::sha256_hex;

/// Waits one caller (agent or approver) may hold open at once.
pub const PER_CALLER: usize = 4;
/// Waits all callers together may hold open, spread over [`OVERALL_SHARDS`] places so that
/// no single item takes every wait's writes.
pub const OVERALL: usize = 256;
pub const OVERALL_SHARDS: usize = 16;
/// A lease outlives its wait by this much, for the answer to be written after the wait.
pub const LEASE_MARGIN_MS: u64 = 5_000;

/// Open leases by id, each with its expiry (ms).
pub type Leases = BTreeMap<String, u64>;

/// Takes a place for `lease` until `expires_ms`, unless `cap` unexpired leases are already
/// held. Expired leases are dropped either way; taking a lease already held renews it.
pub fn take(leases: &mut Leases, lease: &str, expires_ms: u64, now_ms: u64, cap: usize) -> bool {
    leases.retain(|_, expires| *expires > now_ms);
    if leases.len() >= cap && !leases.contains_key(lease) {
        return false;
    }
    leases.insert(lease.to_string(), expires_ms);
    true
}

/// The places a wait takes, each with its cap: the caller's own, and one overall shard
/// (chosen by the lease id, which is random, so shards fill evenly).
pub fn scopes(caller_key: &str, lease: &str) -> [(String, usize); 2] {
    let shard = u64::from_str_radix(&sha256_hex(lease.as_bytes())[..8], 16).unwrap_or(0)
        % OVERALL_SHARDS as u64;
    [
        (format!("caller\0{caller_key}"), PER_CALLER),
        (format!("overall\0{shard}"), OVERALL / OVERALL_SHARDS),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_scope_refuses_until_a_lease_expires() {
        let mut l = Leases::new();
        assert!(take(&mut l, "a", 1_000, 0, 2));
        assert!(take(&mut l, "b", 2_000, 0, 2));
        assert!(!take(&mut l, "c", 2_000, 0, 2), "full");
        assert!(take(&mut l, "a", 3_000, 0, 2), "renewing a held lease");
        assert!(!take(&mut l, "c", 2_000, 999, 2));
        assert!(take(&mut l, "c", 2_000, 2_000, 2), "a and b have expired");
        assert_eq!(l.keys().collect::<Vec<_>>(), ["a", "c"]);
    }

    #[test]
    fn scopes_are_the_callers_and_one_overall_shard() {
        let [(caller, per), (overall, cap)] = scopes("iss\0sub", "lease-1");
        assert_eq!((caller.as_str(), per), ("caller\0iss\0sub", PER_CALLER));
        assert!(overall.starts_with("overall\0"));
        assert_eq!(cap, OVERALL / OVERALL_SHARDS);
        let shards: std::collections::BTreeSet<String> = (0..400)
            .map(|i| scopes("k", &format!("lease-{i}"))[1].0.clone())
            .collect();
        assert_eq!(
            shards.len(),
            OVERALL_SHARDS,
            "leases spread over every shard"
        );
    }
}
