//! Append-only audit events. Each event carries the hash of the one before it, so a
//! rewritten, removed or reordered event breaks the chain.

use crate::identity::Identity;
use serde::{Deserialize, Serialize};
use serde_json::Value;
// Kept here too: the hashes are the audit trail's, and callers outside core name them so.
pub use crate::digest::{canonical_json, sha256_hex};

/// Hash that stands before the first event of every request.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Submitted,
    Decided,
    /// The impact preview was read (or failed to be) before the first notice.
    Previewed,
    Notified,
    Voted,
    Approved,
    Rejected,
    Expired,
    Cancelled,
    ExecutionStarted,
    Executed,
    Failed,
    /// A plan's step was claimed and its call is being sent.
    StepStarted,
    StepExecuted,
    StepFailed,
    /// An approved plan that runs by the agent's own calls now waits for them, until its
    /// window ends.
    PlanParked,
    /// An approver broke the glass: approved alone, with a justification.
    BreakGlass,
    /// A second approver acknowledged a break-glass use.
    BreakGlassAcknowledged,
    /// A break-glass use was not acknowledged in time; the sweeper raised the alarm.
    BreakGlassOverdue,
    /// A new request ran under a grant, without a new approval.
    GrantUsed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: u64,
    pub kind: EventKind,
    /// Unix time in milliseconds.
    pub at: u64,
    /// Who caused it; `None` for the system itself (workflow, executor).
    pub actor: Option<Identity>,
    pub detail: Value,
    pub prev_hash: String,
    pub hash: String,
}

impl Event {
    /// Builds the event that follows `prev_hash` at position `seq`, computing its hash.
    pub fn new(
        seq: u64,
        kind: EventKind,
        at: u64,
        actor: Option<Identity>,
        detail: Value,
        prev_hash: &str,
    ) -> Self {
        let mut e = Event {
            seq,
            kind,
            at,
            actor,
            detail,
            prev_hash: prev_hash.to_string(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    /// SHA-256 over the canonical JSON of every field but `hash`.
    pub fn compute_hash(&self) -> String {
        let v = serde_json::json!({
            "seq": self.seq,
            "kind": self.kind,
            "at": self.at,
            "actor": self.actor,
            "detail": self.detail,
            "prev_hash": self.prev_hash,
        });
        sha256_hex(canonical_json(&v).as_bytes())
    }
}

/// Checks a request's events in order. Returns the position of the first broken link.
pub fn verify_chain(events: &[Event]) -> Result<(), ChainBreak> {
    let mut prev = GENESIS_HASH.to_string();
    for (i, e) in events.iter().enumerate() {
        let expected_seq = i as u64 + 1;
        if e.seq != expected_seq {
            // A deleted or moved event: the break is where the expected one should be.
            return Err(ChainBreak {
                seq: expected_seq,
                reason: format!(
                    "expected event {expected_seq} here, found event {} (deleted or reordered)",
                    e.seq
                ),
            });
        }
        if e.prev_hash != prev {
            return Err(ChainBreak {
                seq: e.seq,
                reason: "does not follow the event before it".into(),
            });
        }
        if e.compute_hash() != e.hash {
            return Err(ChainBreak {
                seq: e.seq,
                reason: "content does not match its hash".into(),
            });
        }
        prev = e.hash.clone();
    }
    Ok(())
}

/// Checks a request's whole trail: the chain itself, that it ends where the request record
/// says it does (so removing the latest events shows), and that the record's status is the
/// one the trail last moved it to.
pub fn verify_trail(
    head_seq: u64,
    head_hash: &str,
    status: &str,
    events: &[Event],
) -> Result<(), ChainBreak> {
    verify_chain(events)?;
    let last_seq = events.last().map(|e| e.seq).unwrap_or(0);
    let last_hash = events
        .last()
        .map(|e| e.hash.as_str())
        .unwrap_or(GENESIS_HASH);
    if last_seq != head_seq || last_hash != head_hash {
        return Err(ChainBreak {
            seq: last_seq + 1,
            reason: format!(
                "the record says {head_seq} events, the trail ends at {last_seq}: events are missing"
            ),
        });
    }
    let moved_to = events.iter().rev().find_map(|e| {
        e.detail
            .get("to")
            .or_else(|| e.detail.get("status"))
            .and_then(Value::as_str)
    });
    if let Some(to) = moved_to
        && to != status
    {
        return Err(ChainBreak {
            seq: last_seq,
            reason: format!("the record says {status}, its trail says {to}"),
        });
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub seq: u64,
    pub reason: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn chain() -> Vec<Event> {
        let mut events = Vec::new();
        let mut prev = GENESIS_HASH.to_string();
        for (i, kind) in [
            EventKind::Submitted,
            EventKind::Decided,
            EventKind::Approved,
        ]
        .into_iter()
        .enumerate()
        {
            let e = Event::new(
                i as u64 + 1,
                kind,
                1000 + i as u64,
                None,
                json!({"i": i}),
                &prev,
            );
            prev = e.hash.clone();
            events.push(e);
        }
        events
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify_chain(&chain()), Ok(()));
    }

    #[test]
    fn tampering_is_detected() {
        let mut c = chain();
        c[1].detail = json!({"i": 99});
        assert_eq!(verify_chain(&c).unwrap_err().seq, 2);

        let mut c = chain();
        c.remove(1);
        assert!(verify_chain(&c).is_err());

        let mut c = chain();
        c.swap(1, 2);
        assert!(verify_chain(&c).is_err());
    }

    #[test]
    fn trail_must_end_at_the_record_head_and_status() {
        let c = chain();
        let head = c.last().unwrap().hash.clone();
        assert_eq!(verify_trail(3, &head, "PENDING", &c), Ok(()));
        // The last event removed: the chain alone still verifies, the head does not.
        assert!(verify_chain(&c[..2]).is_ok());
        assert_eq!(
            verify_trail(3, &head, "PENDING", &c[..2]).unwrap_err().seq,
            3
        );
        let mut moved = chain();
        let mut prev = GENESIS_HASH.to_string();
        for e in moved.iter_mut() {
            if e.seq == 3 {
                e.detail = json!({"to": "SUCCEEDED"});
            }
            e.prev_hash = prev.clone();
            e.hash = e.compute_hash();
            prev = e.hash.clone();
        }
        assert!(verify_trail(3, &prev, "FAILED", &moved).is_err());
        assert!(verify_trail(3, &prev, "SUCCEEDED", &moved).is_ok());
    }
}
