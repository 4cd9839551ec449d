//! Identities and records for the unit tests of the rules in this crate.

use crate::decision::{Decision, Effect};
use crate::identity::Identity;
use crate::record::RequestRecord;
use crate::request::parse_new_request;

/// An identity of the test issuer, in `groups`.
pub fn who(sub: &str, groups: &[&str]) -> Identity {
    Identity {
        issuer: "https://idp".into(),
        subject: sub.into(),
        name: sub.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ..Default::default()
    }
}

/// A fresh record of `body` (a request as an agent sends it) asked by `agent`, decided
/// `effect`, needing `iam_actions` on `resources`.
pub fn record(
    body: &str,
    agent: Identity,
    effect: Effect,
    iam_actions: &[&str],
    resources: &[&str],
) -> RequestRecord {
    let req = parse_new_request(body.as_bytes(), "us-east-1").unwrap();
    let decision = Decision {
        effect,
        policy_ids: vec![],
        reason: String::new(),
        mask: Default::default(),
        requires: Default::default(),
        breakglass: None,
    };
    RequestRecord::new(
        "R".into(),
        req,
        agent,
        decision,
        iam_actions.iter().map(|s| s.to_string()).collect(),
        resources.iter().map(|s| s.to_string()).collect(),
        1,
    )
    .0
}
