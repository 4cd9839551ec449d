//! What policy says about a request.

use serde::{Deserialize, Serialize};

use crate::identity::Identity;
use crate::mask::MaskRules;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case", from = "EffectRecord")]
pub enum Effect {
    Allow,
    Deny,
    /// Allowed within `timeout_seconds` once every one of `requirements` holds (all of them:
    /// each matching approval policy adds its own). `approvals` is the largest count among
    /// them: the fewest distinct approvers that can approve.
    Approval {
        approvals: u32,
        requirements: Vec<GroupRequirement>,
        timeout_seconds: u64,
    },
}

/// One approval policy's demand: `approvals` distinct approvers, each a member of one of
/// `groups` (any of them; any approver when empty). The requirements of a decision all hold at
/// once, and one approver counts toward every requirement whose groups they are in.
///
/// Stored and shown as `{"group": "dba", "approvals": 1}` for one group (as before any-of
/// existed), `{"groups": ["dba", "security"], "approvals": 2}` for several, and
/// `{"approvals": 1}` for any approver.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(from = "RequirementRecord", into = "RequirementRecord")]
pub struct GroupRequirement {
    /// Sorted, without repeats (the constructors and deserialisation keep it so).
    pub groups: Vec<String>,
    pub approvals: u32,
}

#[derive(Serialize, Deserialize)]
struct RequirementRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    groups: Vec<String>,
    approvals: u32,
}

impl From<RequirementRecord> for GroupRequirement {
    fn from(r: RequirementRecord) -> Self {
        GroupRequirement::any_of(r.group.into_iter().chain(r.groups), r.approvals)
    }
}

impl From<GroupRequirement> for RequirementRecord {
    fn from(r: GroupRequirement) -> Self {
        let (group, groups) = match <[String; 1]>::try_from(r.groups) {
            Ok([one]) => (Some(one), vec![]),
            Err(several) => (None, several),
        };
        RequirementRecord {
            group,
            groups,
            approvals: r.approvals,
        }
    }
}

impl GroupRequirement {
    /// `approvals` from any approver.
    pub fn anyone(approvals: u32) -> Self {
        Self::any_of([], approvals)
    }

    /// `approvals` from members of `group`.
    pub fn of(group: impl Into<String>, approvals: u32) -> Self {
        Self::any_of([group.into()], approvals)
    }

    /// `approvals` distinct approvers, each a member of at least one of `groups`.
    pub fn any_of(groups: impl IntoIterator<Item = String>, approvals: u32) -> Self {
        let mut groups: Vec<String> = groups.into_iter().collect();
        groups.sort();
        groups.dedup();
        Self { groups, approvals }
    }

    /// Whether `who` counts toward this requirement.
    pub fn admits(&self, who: &Identity) -> bool {
        self.groups.is_empty() || who.groups.iter().any(|mine| self.groups.contains(mine))
    }

    /// "2 from `security`", "2 from `dba` or `security`", "1 from any approver".
    pub fn describe(&self, count: u32) -> String {
        if self.groups.is_empty() {
            return format!("{count} from any approver");
        }
        let names: Vec<String> = self.groups.iter().map(|g| format!("`{g}`")).collect();
        format!("{count} from {}", names.join(" or "))
    }

    /// Whether this requirement holding makes `other` hold too: whoever counts here counts
    /// there (its groups are a subset of `other`'s, or `other` takes any approver) and there
    /// are at least as many of them.
    fn implies(&self, other: &GroupRequirement) -> bool {
        self.approvals >= other.approvals
            && (other.groups.is_empty()
                || (!self.groups.is_empty()
                    && self.groups.iter().all(|g| other.groups.contains(g))))
    }

    /// The requirements of several policies as one set, all of which must hold: per set of
    /// groups the largest count; a requirement implied by another (any approver, or a wider
    /// any-of, asking no more than a narrower one gives) is dropped.
    pub fn combine(all: impl IntoIterator<Item = GroupRequirement>) -> Vec<GroupRequirement> {
        let mut by_groups: std::collections::BTreeMap<Vec<String>, u32> = Default::default();
        for r in all {
            let r = GroupRequirement::any_of(r.groups, r.approvals);
            let n = by_groups.entry(r.groups).or_default();
            *n = (*n).max(r.approvals);
        }
        let merged: Vec<GroupRequirement> = by_groups
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(groups, approvals)| GroupRequirement { groups, approvals })
            .collect();
        // Distinct group sets never imply each other both ways, so dropping is order-free.
        merged
            .iter()
            .filter(|r| !merged.iter().any(|o| o != *r && o.implies(r)))
            .cloned()
            .collect()
    }
}

/// How an effect is stored: records written before group requirements were combined carry
/// `approvers` (one group or none) instead of `requirements`, and still mean what they meant.
#[derive(Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
enum EffectRecord {
    Allow,
    Deny,
    Approval {
        approvals: u32,
        #[serde(default)]
        requirements: Option<Vec<GroupRequirement>>,
        #[serde(default)]
        approvers: Option<String>,
        timeout_seconds: u64,
    },
}

impl From<EffectRecord> for Effect {
    fn from(r: EffectRecord) -> Self {
        match r {
            EffectRecord::Allow => Effect::Allow,
            EffectRecord::Deny => Effect::Deny,
            EffectRecord::Approval {
                approvals,
                requirements,
                approvers,
                timeout_seconds,
            } => Effect::Approval {
                approvals,
                requirements: requirements
                    .unwrap_or_else(|| vec![GroupRequirement::any_of(approvers, approvals)]),
                timeout_seconds,
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    #[serde(flatten)]
    pub effect: Effect,
    /// Ids of the policies (or rules) that decided it.
    pub policy_ids: Vec<String>,
    /// One line a human can read.
    pub reason: String,
    /// Masking rules the deciding policies add for this call's answer.
    #[serde(default, skip_serializing_if = "MaskRules::is_empty")]
    pub mask: MaskRules,
    /// What each approval must carry (`@ticket`, `@justification("n")`).
    #[serde(default, skip_serializing_if = "Requirement::is_empty")]
    pub requires: Requirement,
    /// Who may approve alone, when every approval policy that holds the call names a
    /// break-glass group (`@breakglass`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breakglass: Option<crate::breakglass::BreakGlass>,
}

/// What an approval must carry in its comment, as the deciding policies ask.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    /// A ticket reference such as `OPS-1234` (`@ticket`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ticket: bool,
    /// A justification of at least this many characters (`@justification("n")`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub min_justification: u32,
    /// The most an approver may grant with an approval (`@grant_max`, `@grant_uses_max`);
    /// `None`: no grant. Kept here because it travels with what the deciding policies ask of
    /// each approval, and narrows the same way when several decide.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<crate::grant::GrantBound>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Whether `text` cites a ticket: a key like `OPS-1234` (a letter, then letters or digits,
/// a dash, digits), as Jira, Linear and most trackers write them.
pub fn cites_ticket(text: &str) -> bool {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .any(|word| {
            let Some((project, number)) = word.split_once('-') else {
                return false;
            };
            project.len() >= 2
                && project.starts_with(|c: char| c.is_ascii_alphabetic())
                && project.chars().all(|c| c.is_ascii_alphanumeric())
                && !number.is_empty()
                && number.chars().all(|c| c.is_ascii_digit())
        })
}

impl Requirement {
    pub fn is_empty(&self) -> bool {
        !self.ticket && self.min_justification == 0 && self.grant.is_none()
    }

    /// The stricter of two requirements.
    pub fn merge(&self, other: &Requirement) -> Requirement {
        Requirement {
            ticket: self.ticket || other.ticket,
            min_justification: self.min_justification.max(other.min_justification),
            grant: crate::grant::GrantBound::narrowest(self.grant, other.grant),
        }
    }

    /// What an approver has to write, in words ("" when nothing).
    pub fn describe(&self) -> String {
        match (self.ticket, self.min_justification) {
            (false, 0) => String::new(),
            (true, 0) => "a ticket reference (like OPS-1234)".into(),
            (false, n) => format!("a justification of at least {n} characters"),
            (true, n) => {
                format!(
                    "a ticket reference (like OPS-1234) and at least {n} characters of justification"
                )
            }
        }
    }

    /// Checks an approval's comment.
    pub fn check(&self, comment: Option<&str>) -> Result<(), UnmetRequirement> {
        let text = comment.unwrap_or("").trim();
        let long_enough = text.chars().count() >= self.min_justification as usize;
        if (self.ticket && !cites_ticket(text)) || !long_enough {
            return Err(UnmetRequirement {
                needs: self.describe(),
            });
        }
        Ok(())
    }
}

/// An approval's comment lacks what the policy asks for; `needs` says what, in words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("this request's policy requires {needs} with each approval")]
pub struct UnmetRequirement {
    pub needs: String,
}

/// The comment is the field at fault.
impl From<UnmetRequirement> for crate::error::ApiError {
    fn from(e: UnmetRequirement) -> Self {
        crate::error::ApiError::field("comment", e.to_string())
    }
}

impl Effect {
    /// `allow`, `deny` or `approval`, as stored.
    pub fn name(&self) -> &'static str {
        match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
            Effect::Approval { .. } => "approval",
        }
    }
}

impl Decision {
    /// The effect with its count, for comparing two decisions at a glance: `allow`, `deny`,
    /// `approval:2`.
    pub fn outcome(&self) -> String {
        match self.effect {
            Effect::Approval { approvals, .. } => format!("approval:{approvals}"),
            _ => self.effect.name().to_string(),
        }
    }

    pub fn required_approvals(&self) -> u32 {
        match self.effect {
            Effect::Approval { approvals, .. } => approvals,
            _ => 0,
        }
    }

    /// What every approval policy that matched asks for (empty unless approval is needed).
    pub fn requirements(&self) -> &[GroupRequirement] {
        match &self.effect {
            Effect::Approval { requirements, .. } => requirements,
            _ => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_flat() {
        let d = Decision {
            effect: Effect::Approval {
                approvals: 2,
                requirements: vec![GroupRequirement::anyone(2)],
                timeout_seconds: 60,
            },
            policy_ids: vec!["r".into()],
            reason: "x".into(),
            mask: Default::default(),
            requires: Default::default(),
            breakglass: None,
        };
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["effect"], "approval");
        assert_eq!(v["approvals"], 2);
        assert!(v.get("approvers").is_none());
        assert_eq!(v["requirements"], serde_json::json!([{"approvals": 2}]));
        let back: Decision = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(back, d);
        assert_eq!(back.required_approvals(), 2);
        assert!(v.get("requires").is_none());
    }

    #[test]
    fn records_from_before_combined_groups_load_and_mean_the_same() {
        let old = serde_json::json!({"effect": "approval", "approvals": 2, "approvers": "security",
            "timeout_seconds": 600, "policy_ids": ["p"], "reason": "r"});
        let d: Decision = serde_json::from_value(old).unwrap();
        assert_eq!(
            d.effect,
            Effect::Approval {
                approvals: 2,
                requirements: vec![GroupRequirement::of("security", 2)],
                timeout_seconds: 600,
            }
        );
        let any = serde_json::json!({"effect": "approval", "approvals": 1,
            "timeout_seconds": 60, "policy_ids": [], "reason": ""});
        let d: Decision = serde_json::from_value(any).unwrap();
        assert_eq!(d.requirements(), &[GroupRequirement::anyone(1)]);
        for simple in ["allow", "deny"] {
            let d: Decision = serde_json::from_value(
                serde_json::json!({"effect": simple, "policy_ids": [], "reason": ""}),
            )
            .unwrap();
            assert!(d.requirements().is_empty());
        }
    }

    #[test]
    fn group_requirements_combine_to_all_of_them() {
        let r = |g: Option<&str>, n| match g {
            Some(g) => GroupRequirement::of(g, n),
            None => GroupRequirement::anyone(n),
        };
        // The review's tie: the shipped two-approval policy and an operator's two from security.
        assert_eq!(
            GroupRequirement::combine([r(None, 2), r(Some("security"), 2)]),
            vec![r(Some("security"), 2)]
        );
        // One from security and two in all: the any-approver count stays.
        assert_eq!(
            GroupRequirement::combine([r(None, 2), r(Some("security"), 1)]),
            vec![r(None, 2), r(Some("security"), 1)]
        );
        assert_eq!(
            GroupRequirement::combine([r(Some("dba"), 1), r(Some("dba"), 2), r(Some("ops"), 1)]),
            vec![r(Some("dba"), 2), r(Some("ops"), 1)]
        );
        assert_eq!(GroupRequirement::combine([r(None, 1)]), vec![r(None, 1)]);
        assert_eq!(r(None, 2).describe(1), "1 from any approver");
        assert_eq!(r(Some("dba"), 2).describe(2), "2 from `dba`");
    }

    #[test]
    fn any_of_requirements_combine_with_the_others() {
        let either = |n| GroupRequirement::any_of(["security".into(), "dba".into()], n);
        let of = GroupRequirement::of;
        assert_eq!(either(2).groups, vec!["dba", "security"]);
        assert_eq!(either(2).describe(2), "2 from `dba` or `security`");
        // Two from either and one from dba: a DBA and one more from either group.
        assert_eq!(
            GroupRequirement::combine([either(2), of("dba", 1)]),
            vec![of("dba", 1), either(2)]
        );
        // Two DBAs give two from either: the any-of adds nothing.
        assert_eq!(
            GroupRequirement::combine([either(2), of("dba", 2)]),
            vec![of("dba", 2)]
        );
        // Two from either give two approvers: the any-approver count is implied.
        assert_eq!(
            GroupRequirement::combine([either(2), GroupRequirement::anyone(2)]),
            vec![either(2)]
        );
        // Three in all are more than two from either give.
        assert_eq!(
            GroupRequirement::combine([either(2), GroupRequirement::anyone(3)]),
            vec![GroupRequirement::anyone(3), either(2)]
        );
        // The same set named in another order or with repeats is the same requirement.
        assert_eq!(
            GroupRequirement::combine([
                GroupRequirement::any_of(["dba".into(), "security".into(), "dba".into()], 1),
                either(2)
            ]),
            vec![either(2)]
        );
        assert_eq!(GroupRequirement::combine([of("dba", 0)]), vec![]);
        let dana = crate::fixtures::who("dana", &["dba"]);
        assert!(either(1).admits(&dana) && !of("security", 1).admits(&dana));
    }

    #[test]
    fn requirements_keep_their_stored_shape() {
        let json = |r: &GroupRequirement| serde_json::to_value(r).unwrap();
        let one = GroupRequirement::of("dba", 1);
        assert_eq!(
            json(&one),
            serde_json::json!({"group": "dba", "approvals": 1})
        );
        let any = GroupRequirement::anyone(2);
        assert_eq!(json(&any), serde_json::json!({"approvals": 2}));
        let either = GroupRequirement::any_of(["security".into(), "dba".into()], 2);
        assert_eq!(
            json(&either),
            serde_json::json!({"groups": ["dba", "security"], "approvals": 2})
        );
        for r in [one, any, either] {
            let back: GroupRequirement = serde_json::from_value(json(&r)).unwrap();
            assert_eq!(back, r);
        }
        let unsorted: GroupRequirement = serde_json::from_value(
            serde_json::json!({"groups": ["sec", "dba", "sec"], "approvals": 1}),
        )
        .unwrap();
        assert_eq!(unsorted.groups, vec!["dba", "sec"]);
    }

    #[test]
    fn requirements_check_comments() {
        let none = Requirement::default();
        assert!(none.check(None).is_ok());
        let ticket = Requirement {
            ticket: true,
            min_justification: 0,
            ..Default::default()
        };
        assert!(ticket.check(Some("see OPS-1234")).is_ok());
        assert!(ticket.check(Some("(INC42-7), approved")).is_ok());
        for bad in ["", "ok", "OPS-", "-12", "O-12", "OPS-12a", "1PS-12"] {
            assert!(ticket.check(Some(bad)).is_err(), "{bad}");
        }
        let long = Requirement {
            ticket: false,
            min_justification: 10,
            ..Default::default()
        };
        assert!(long.check(Some("short")).is_err());
        assert!(long.check(Some("   padded   ")).is_err());
        assert!(long.check(Some("long enough")).is_ok());
        let both = ticket.merge(&long);
        assert!(both.check(Some("OPS-1")).is_err());
        assert!(both.check(Some("OPS-1 rollback tested")).is_ok());
        assert!(both.describe().contains("ticket") && both.describe().contains("10"));
        let unmet = both.check(None).unwrap_err();
        assert_eq!(unmet.needs, both.describe());
        // As the caller sees it: the comment is at fault, named once.
        let e = crate::error::ApiError::from(unmet);
        assert_eq!(e.field.as_deref(), Some("comment"));
        assert_eq!(
            e.message,
            format!(
                "comment: this request's policy requires {} with each approval",
                both.describe()
            )
        );
    }
}
