//! Classification of a request: deny, allow now, or hold for approval. The `Policy` trait is
//! the seam the policy engine (`crates/policy`, Cedar) plugs into.

use crate::action::Action;
use crate::decision::Decision;
use crate::identity::Identity;
use crate::rate::RecentCounts;

/// Everything a policy may look at. Borrowed, so deciding costs no copies.
#[derive(Debug, Clone, Copy)]
pub struct PolicyInput<'a> {
    pub principal: &'a Identity,
    /// The API operation as the agent named it.
    pub action: &'a Action,
    /// The IAM actions that operation needs (from the catalog).
    pub iam_actions: &'a [String],
    pub region: &'a str,
    pub account: &'a str,
    pub target: &'a str,
    /// ARNs the call acts on; `*` when they cannot be told from the parameters.
    pub resources: &'a [String],
    /// False when an IAM action has a required resource type that could not be derived from
    /// the parameters: the call cannot be scoped to named resources.
    pub resources_known: bool,
    /// The call's parameters, for what resources alone do not tell (whether a call whose
    /// resources are `*` names one of Tollgate's own).
    pub params: &'a serde_json::Map<String, serde_json::Value>,
    pub reason: Option<&'a str>,
    /// Unix seconds.
    pub now_secs: u64,
    /// The caller's IP address as the API saw it ("" when unknown).
    pub source_ip: &'a str,
    /// The agent's counts this hour and day, this request included (zero when the policies
    /// read none: see [`Policy::reads_recent_counts`]).
    pub recent: &'a RecentCounts,
}

pub trait Policy: Send + Sync {
    fn decide(&self, input: &PolicyInput<'_>) -> Decision;

    /// Whether any policy reads `context.recent`: only then is a request counted before it
    /// is decided, so a deployment whose policies count nothing pays no counter write.
    fn reads_recent_counts(&self) -> bool {
        false
    }
}
