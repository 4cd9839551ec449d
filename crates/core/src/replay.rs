//! Replaying recorded requests against a candidate policy set (`tollgate policy replay`):
//! what a request's policies were shown at decision time, how two decisions of the same
//! request differ, and the report that groups the differences.
//!
//! Deciding again is the policy engine's (`tollgate_policy::replay`); this module only
//! compares, so the comparison is tested without an engine.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::decision::{Decision, Effect};
use crate::rate::RecentCounts;
use crate::record::RequestRecord;

/// What policy saw besides the call, the agent and the resources, kept with the request (and
/// with each step of a plan) so it can be decided again on the same input. Small and free of
/// secrets: the caller's address as API Gateway saw it, and only the rate counts the request's
/// own actions, services and levels could show (`RecentCounts::seen_by`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionContext {
    /// The target's account, as the resource ARNs and `resource.account` used it.
    pub account: String,
    /// `context.time` (unix seconds); `hour` and `weekday` follow from it.
    pub time: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source_ip: String,
    pub resources_known: bool,
    /// `context.recent`, when the policies read it (none: they were shown zeros).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recent: Option<RecentCounts>,
}

impl DecisionContext {
    /// The best that can be said of a record written before contexts were kept: its creation
    /// time, its resources' account, no caller address and no counts. A replay from it is
    /// reported as "replayed without recorded context".
    pub fn reconstructed(created_at_ms: u64, resources: &[String]) -> Self {
        let account = resources
            .iter()
            .find_map(|r| crate::scope::arn_account(r).filter(|a| !a.is_empty()))
            .unwrap_or("*")
            .to_string();
        DecisionContext {
            account,
            time: created_at_ms / 1000,
            source_ip: String::new(),
            resources_known: !resources.iter().any(|r| r == "*"),
            recent: None,
        }
    }
}

/// How a request's decision would change, the first difference that applies: the effect,
/// then (both held) the count, the groups, what approvals must carry, and last only the
/// deciding policies. Timeouts and reasons' wording are not compared: the first comes from
/// the deployment's default as much as from policy, the second is prose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    Unchanged,
    /// A different effect: `allow`, `approval` or `deny`.
    Effect,
    /// Held both times, for a different number of approvals.
    Approvals,
    /// Held for as many approvals, from different groups.
    Groups,
    /// Held alike, but approvals must carry a different ticket or justification.
    ApprovalComment,
    /// Held alike, but who may break glass (`@breakglass`) differs.
    BreakGlass,
    /// Held alike, but what an approver may grant (`@grant_max`) differs.
    Grant,
    /// The same outcome, decided by different policies.
    Policies,
}

fn verb(e: &Effect) -> &'static str {
    match e {
        Effect::Allow => "allowed",
        Effect::Deny => "denied",
        Effect::Approval { .. } => "held",
    }
}

/// How `new` differs from `old`.
pub fn compare(old: &Decision, new: &Decision) -> Change {
    let (o, n) = (&old.effect, &new.effect);
    if o.name() != n.name() {
        return Change::Effect;
    }
    if old.required_approvals() != new.required_approvals() {
        return Change::Approvals;
    }
    if old.requirements() != new.requirements() {
        return Change::Groups;
    }
    if matches!(o, Effect::Approval { .. }) {
        let (a, b) = (&old.requires, &new.requires);
        if (a.ticket, a.min_justification) != (b.ticket, b.min_justification) {
            return Change::ApprovalComment;
        }
        // Both widen what one approver can do alone or later: an operator must see them.
        if old.breakglass != new.breakglass {
            return Change::BreakGlass;
        }
        if a.grant != b.grant {
            return Change::Grant;
        }
    }
    let sorted = |d: &Decision| {
        let mut ids = d.policy_ids.clone();
        ids.sort();
        ids
    };
    if sorted(old) != sorted(new) {
        return Change::Policies;
    }
    Change::Unchanged
}

/// The transition's name as the report groups it: "allowed → held", "approvals 1 → 2",
/// "groups changed", "approval comment changed", "break-glass changed", "grant bound
/// changed", "deciding policy changed".
pub fn transition(change: Change, old: &Decision, new: &Decision) -> String {
    match change {
        Change::Unchanged => "unchanged".into(),
        Change::Effect => format!("{} → {}", verb(&old.effect), verb(&new.effect)),
        Change::Approvals => format!(
            "approvals {} → {}",
            old.required_approvals(),
            new.required_approvals()
        ),
        Change::Groups => "groups changed".into(),
        Change::ApprovalComment => "approval comment changed".into(),
        Change::BreakGlass => "break-glass changed".into(),
        Change::Grant => "grant bound changed".into(),
        Change::Policies => "deciding policy changed".into(),
    }
}

/// One request of a group, as the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Example {
    pub request_id: String,
    /// The agent's identity key (`<issuer>#<subject>`).
    pub agent: String,
    pub action: String,
    pub resources: Vec<String>,
    /// Milliseconds, as the record has it.
    pub created_at: u64,
    /// The plan step whose decision changed first, for a plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<usize>,
    pub old_reason: String,
    pub new_reason: String,
}

/// Requests whose decision changes the same way, by the same policies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    pub transition: String,
    /// `allow`, `deny`, `approval:<n>` (`Decision::outcome`).
    pub from: String,
    pub to: String,
    pub old_policy_ids: Vec<String>,
    pub new_policy_ids: Vec<String>,
    /// The requirements before and after, when either needed approval (for "groups changed").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub old_requirements: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub new_requirements: Vec<String>,
    pub count: u64,
    pub examples: Vec<Example>,
}

/// Records that were read but not replayed, by reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub reason: String,
    pub count: u64,
    /// Up to the report's example count of request ids (or item keys).
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Requests created in the period, as read from the table.
    pub read: u64,
    pub replayed: u64,
    pub unchanged: u64,
    pub changed: u64,
    /// Replayed from records that kept no decision context (older than the feature): their
    /// caller address and rate counts were taken as empty.
    pub without_context: u64,
    pub skipped: u64,
}

/// What a replay found: built one request at a time, in bounded memory (counts, and at most
/// `examples` requests per group), whatever the number of requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub totals: Totals,
    /// Most requests first, then by transition and policies.
    pub changes: Vec<Group>,
    pub skipped: Vec<Skipped>,
    #[serde(skip)]
    examples: usize,
    #[serde(skip)]
    index: BTreeMap<GroupKey, usize>,
}

type GroupKey = (String, String, String, Vec<String>, Vec<String>);

/// A request decided again: its recorded decision, the candidate's, and whether its context
/// was recorded. For a plan, `step` is the first step whose decision changed.
#[derive(Debug, Clone)]
pub struct Replayed {
    pub old: Decision,
    pub new: Decision,
    pub with_context: bool,
    pub step: Option<usize>,
}

fn requirements(d: &Decision) -> Vec<String> {
    d.requirements()
        .iter()
        .map(|r| r.describe(r.approvals))
        .collect()
}

impl Report {
    /// An empty report keeping up to `examples` requests per group.
    pub fn new(examples: usize) -> Self {
        Report {
            totals: Totals::default(),
            changes: vec![],
            skipped: vec![],
            examples,
            index: BTreeMap::new(),
        }
    }

    /// Adds one request decided again.
    pub fn add(&mut self, rec: &RequestRecord, r: &Replayed) {
        self.totals.read += 1;
        self.totals.replayed += 1;
        if !r.with_context {
            self.totals.without_context += 1;
        }
        let change = compare(&r.old, &r.new);
        if change == Change::Unchanged {
            self.totals.unchanged += 1;
            return;
        }
        self.totals.changed += 1;
        let key: GroupKey = (
            transition(change, &r.old, &r.new),
            r.old.outcome(),
            r.new.outcome(),
            r.old.policy_ids.clone(),
            r.new.policy_ids.clone(),
        );
        let i = *self.index.entry(key.clone()).or_insert_with(|| {
            self.changes.push(Group {
                transition: key.0.clone(),
                from: key.1.clone(),
                to: key.2.clone(),
                old_policy_ids: key.3.clone(),
                new_policy_ids: key.4.clone(),
                old_requirements: requirements(&r.old),
                new_requirements: requirements(&r.new),
                count: 0,
                examples: vec![],
            });
            self.changes.len() - 1
        });
        let g = &mut self.changes[i];
        g.count += 1;
        if g.examples.len() < self.examples {
            g.examples.push(Example {
                request_id: rec.id.clone(),
                agent: rec.agent.key(),
                action: rec.request.action.to_string(),
                resources: rec.resources.clone(),
                created_at: rec.created_at,
                step: r.step,
                old_reason: r.old.reason.clone(),
                new_reason: r.new.reason.clone(),
            });
        }
    }

    /// Counts a record read but not replayed, under `reason`, naming it by `id`.
    pub fn skip(&mut self, id: &str, reason: &str) {
        self.totals.read += 1;
        self.totals.skipped += 1;
        let s = match self.skipped.iter_mut().find(|s| s.reason == reason) {
            Some(s) => s,
            None => {
                self.skipped.push(Skipped {
                    reason: reason.to_string(),
                    count: 0,
                    examples: vec![],
                });
                self.skipped.last_mut().expect("just pushed")
            }
        };
        s.count += 1;
        if s.examples.len() < self.examples {
            s.examples.push(id.to_string());
        }
    }

    /// The report in its final order: groups with most requests first (ties by transition and
    /// policies), examples oldest first, skips by count. Reading order never shows through.
    pub fn finish(mut self) -> Self {
        for g in &mut self.changes {
            g.examples
                .sort_by(|a, b| (a.created_at, &a.request_id).cmp(&(b.created_at, &b.request_id)));
        }
        self.changes.sort_by(|a, b| {
            b.count.cmp(&a.count).then_with(|| {
                (&a.transition, &a.old_policy_ids, &a.new_policy_ids).cmp(&(
                    &b.transition,
                    &b.old_policy_ids,
                    &b.new_policy_ids,
                ))
            })
        });
        self.skipped
            .sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.reason.cmp(&b.reason)));
        self.index.clear();
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{GroupRequirement, Requirement};
    use crate::fixtures::who;

    fn allow(id: &str) -> Decision {
        Decision {
            effect: Effect::Allow,
            policy_ids: vec![id.into()],
            reason: format!("allowed by {id}"),
            mask: Default::default(),
            requires: Default::default(),
            breakglass: None,
        }
    }

    fn deny(id: &str) -> Decision {
        Decision {
            effect: Effect::Deny,
            ..allow(id)
        }
    }

    fn held(id: &str, requirements: Vec<GroupRequirement>) -> Decision {
        Decision {
            effect: Effect::Approval {
                approvals: requirements.iter().map(|r| r.approvals).max().unwrap_or(0),
                requirements,
                timeout_seconds: 3600,
            },
            ..allow(id)
        }
    }

    fn record(id: &str, at: u64) -> RequestRecord {
        let req = crate::parse_new_request(
            br#"{"action": "dynamodb:DeleteTable", "params": {"TableName": "orders"}}"#,
            "us-east-1",
        )
        .unwrap();
        let (mut rec, _) = RequestRecord::new(
            id.into(),
            req,
            who("ci", &[]),
            allow("x"),
            vec!["dynamodb:DeleteTable".into()],
            vec!["arn:aws:dynamodb:us-east-1:123456789012:table/orders".into()],
            at,
        );
        rec.created_at = at;
        rec
    }

    #[test]
    fn the_first_difference_names_the_change() {
        let any = GroupRequirement::anyone;
        let dba = |n| GroupRequirement::of("dba", n);
        let cases = [
            (allow("a"), allow("a"), Change::Unchanged, "unchanged"),
            (
                allow("a"),
                held("w", vec![any(1)]),
                Change::Effect,
                "allowed → held",
            ),
            (
                held("w", vec![any(1)]),
                deny("f"),
                Change::Effect,
                "held → denied",
            ),
            (deny("f"), allow("a"), Change::Effect, "denied → allowed"),
            (
                held("w", vec![any(1)]),
                held("w", vec![any(2)]),
                Change::Approvals,
                "approvals 1 → 2",
            ),
            (
                held("w", vec![any(1)]),
                held("w", vec![dba(1)]),
                Change::Groups,
                "groups changed",
            ),
            (
                allow("a"),
                allow("b"),
                Change::Policies,
                "deciding policy changed",
            ),
            (
                deny("f"),
                deny("g"),
                Change::Policies,
                "deciding policy changed",
            ),
        ];
        for (old, new, change, name) in cases {
            assert_eq!(compare(&old, &new), change, "{old:?} → {new:?}");
            assert_eq!(transition(change, &old, &new), name);
        }
        // Two permits listed in another order decide alike.
        let mut ab = allow("a");
        ab.policy_ids = vec!["a".into(), "b".into()];
        let mut ba = ab.clone();
        ba.policy_ids.reverse();
        ba.reason = "other words".into();
        assert_eq!(compare(&ab, &ba), Change::Unchanged);
        // A different timeout is not a change; a ticket to cite is.
        let mut longer = held("w", vec![any(1)]);
        if let Effect::Approval {
            timeout_seconds, ..
        } = &mut longer.effect
        {
            *timeout_seconds = 60;
        }
        assert_eq!(
            compare(&held("w", vec![any(1)]), &longer),
            Change::Unchanged
        );
        let mut ticket = held("w", vec![any(1)]);
        ticket.requires = Requirement {
            ticket: true,
            ..Default::default()
        };
        assert_eq!(
            compare(&held("w", vec![any(1)]), &ticket),
            Change::ApprovalComment
        );
        // Break-glass offered, or a grant allowed, where it was not: a change to see.
        let mut glass = held("w", vec![any(1)]);
        glass.breakglass = Some(crate::breakglass::BreakGlass {
            groups: vec!["oncall".into()],
            min_justification: 40,
        });
        assert_eq!(
            compare(&held("w", vec![any(1)]), &glass),
            Change::BreakGlass
        );
        assert_eq!(
            transition(Change::BreakGlass, &held("w", vec![any(1)]), &glass),
            "break-glass changed"
        );
        let mut granted = held("w", vec![any(1)]);
        granted.requires.grant = Some(crate::grant::GrantBound {
            max_seconds: 600,
            max_uses: 3,
        });
        assert_eq!(compare(&held("w", vec![any(1)]), &granted), Change::Grant);
    }

    fn replayed(old: Decision, new: Decision) -> Replayed {
        Replayed {
            old,
            new,
            with_context: true,
            step: None,
        }
    }

    #[test]
    fn the_report_groups_by_transition_and_policies_with_capped_examples() {
        let mut report = Report::new(2);
        let w = || held("writes", vec![GroupRequirement::anyone(1)]);
        for i in 0..5 {
            report.add(
                &record(&format!("R{i}"), 100 - i),
                &replayed(allow("reads"), w()),
            );
        }
        report.add(&record("D1", 7), &replayed(w(), deny("no-deletes")));
        report.add(&record("U1", 8), &replayed(allow("reads"), allow("reads")));
        let mut old = replayed(allow("reads"), allow("reads"));
        old.with_context = false;
        report.add(&record("U2", 9), &old);
        report.skip("X1", "unreadable record");
        report.skip("X2", "unreadable record");
        report.skip("X3", "unreadable record");
        let report = report.finish();
        assert_eq!(
            report.totals,
            Totals {
                read: 11,
                replayed: 8,
                unchanged: 2,
                changed: 6,
                without_context: 1,
                skipped: 3,
            }
        );
        let shown: Vec<(&str, u64, Vec<&str>)> = report
            .changes
            .iter()
            .map(|g| {
                (
                    g.transition.as_str(),
                    g.count,
                    g.examples.iter().map(|e| e.request_id.as_str()).collect(),
                )
            })
            .collect();
        // Examples are the first read, shown oldest first.
        assert_eq!(
            shown,
            [
                ("allowed → held", 5, vec!["R1", "R0"]),
                ("held → denied", 1, vec!["D1"]),
            ]
        );
        let g = &report.changes[0];
        assert_eq!((g.from.as_str(), g.to.as_str()), ("allow", "approval:1"));
        assert_eq!(
            (g.old_policy_ids.clone(), g.new_policy_ids.clone()),
            (vec!["reads".to_string()], vec!["writes".to_string()])
        );
        assert_eq!(g.new_requirements, ["1 from any approver"]);
        let e = &g.examples[0];
        assert_eq!(e.agent, who("ci", &[]).key());
        assert_eq!(e.action, "dynamodb:DeleteTable");
        assert_eq!(report.skipped.len(), 1);
        assert_eq!(report.skipped[0].count, 3);
        assert_eq!(report.skipped[0].examples, ["X1", "X2"]);
    }

    #[test]
    fn the_same_change_by_other_policies_is_another_group() {
        let mut report = Report::new(5);
        let w = |id| held(id, vec![GroupRequirement::anyone(1)]);
        report.add(&record("A", 1), &replayed(allow("reads"), w("w1")));
        report.add(&record("B", 2), &replayed(allow("reads"), w("w2")));
        report.add(&record("C", 3), &replayed(allow("reads"), w("w2")));
        let report = report.finish();
        let groups: Vec<(&[String], u64)> = report
            .changes
            .iter()
            .map(|g| (g.new_policy_ids.as_slice(), g.count))
            .collect();
        assert_eq!(
            groups,
            [(&["w2".to_string()][..], 2), (&["w1".to_string()][..], 1)]
        );
    }

    #[test]
    fn an_old_record_is_replayed_with_what_it_kept() {
        let c = DecisionContext::reconstructed(
            1_790_000_000_123,
            &[
                "arn:aws:s3:::logs".into(),
                "arn:aws:dynamodb:us-east-1:111122223333:table/t".into(),
            ],
        );
        assert_eq!(
            (c.account.as_str(), c.time),
            ("111122223333", 1_790_000_000)
        );
        assert!(c.resources_known && c.recent.is_none() && c.source_ip.is_empty());
        let unknown = DecisionContext::reconstructed(0, &["*".into()]);
        assert_eq!(unknown.account, "*");
        assert!(!unknown.resources_known);
    }
}
