//! Grants: an approval that lets the same call from the same agent run again, without a new
//! approval, up to N times within T minutes. What policy allows to be granted (the bound),
//! what an approver offers (the terms), how several approvers' terms narrow, what a grant
//! matches, and how a request records its use. The store keeps the use count; using a grant
//! is one conditional write there (`uses < max_uses AND expires_at > now AND NOT revoked`).
//!
//! A grant matches a call exactly: the same agent (issuer and subject), the same request hash
//! (operation, target, region and every parameter value), and so the same IAM actions and
//! resources. Only the reason may differ. An approver has seen exactly what a use will run.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::audit::{Event, EventKind};
use crate::error::{ApiError, ErrorCode};
use crate::identity::Identity;
use crate::record::{RequestRecord, Verdict};
use crate::status::Status;

/// The longest a policy may let a grant last (`@grant_max`): one day.
pub const MAX_GRANT_SECONDS: u64 = 86_400;
/// The most uses a policy may let a grant have (`@grant_uses_max`).
pub const MAX_GRANT_USES: u32 = 100;
/// Uses a grant may have when a policy names `@grant_max` but not `@grant_uses_max`.
pub const DEFAULT_GRANT_USES: u32 = 10;

/// The most a grant may allow under the deciding policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantBound {
    pub max_seconds: u64,
    pub max_uses: u32,
}

impl GrantBound {
    /// The narrower of two bounds; no bound on either side (a deciding policy that allows no
    /// grant) means no grant.
    pub fn narrowest(a: Option<GrantBound>, b: Option<GrantBound>) -> Option<GrantBound> {
        match (a, b) {
            (Some(a), Some(b)) => Some(GrantBound {
                max_seconds: a.max_seconds.min(b.max_seconds),
                max_uses: a.max_uses.min(b.max_uses),
            }),
            _ => None,
        }
    }

    /// The longest a grant may last, in whole minutes (what the page offers).
    pub fn max_minutes(&self) -> u64 {
        self.max_seconds / 60
    }

    /// Refuses terms beyond the bound, naming the field.
    pub fn check(&self, terms: &GrantTerms) -> Result<(), ApiError> {
        if terms.uses > self.max_uses {
            return Err(ApiError::beyond_policy(
                "grant_uses",
                format!(
                    "{} is more than this request's policy allows (at most {})",
                    terms.uses, self.max_uses
                ),
            ));
        }
        if terms.minutes * 60 > self.max_seconds {
            return Err(ApiError::beyond_policy(
                "grant_minutes",
                format!(
                    "{} is longer than this request's policy allows (at most {} minutes)",
                    terms.minutes,
                    self.max_minutes()
                ),
            ));
        }
        Ok(())
    }
}

/// What one approver offers with an approval: the call may run again up to `uses` times
/// within `minutes` of the approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantTerms {
    pub uses: u32,
    pub minutes: u64,
}

impl GrantTerms {
    /// The terms from their two fields as a form or a JSON body gives them (text); both
    /// absent is no grant, one without the other is refused naming the missing one.
    pub fn parse(
        uses: Option<&str>,
        minutes: Option<&str>,
    ) -> Result<Option<GrantTerms>, ApiError> {
        let number = |field: &'static str, v: &str| {
            v.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| ApiError::field(field, "must be a whole number from 1"))
        };
        match (uses, minutes) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(ApiError::field(
                "grant_minutes",
                "is required with grant_uses (how long the grant lasts)",
            )),
            (None, Some(_)) => Err(ApiError::field(
                "grant_uses",
                "is required with grant_minutes (how many times the call may run again)",
            )),
            (Some(u), Some(m)) => {
                let uses = u32::try_from(number("grant_uses", u)?).map_err(|_| {
                    ApiError::field("grant_uses", "is more than this request's policy allows")
                })?;
                let minutes = number("grant_minutes", m)?;
                // Beyond a day is refused by every bound; keeps `minutes * 60` from overflowing.
                if minutes > MAX_GRANT_SECONDS / 60 {
                    return Err(ApiError::field(
                        "grant_minutes",
                        format!(
                            "{minutes} is longer than any policy allows (at most {} minutes)",
                            MAX_GRANT_SECONDS / 60
                        ),
                    ));
                }
                Ok(Some(GrantTerms { uses, minutes }))
            }
        }
    }

    /// The terms every approver agreed to: the fewest uses and the shortest time; `None` when
    /// any approver offered none.
    pub fn narrowest(all: impl IntoIterator<Item = Option<GrantTerms>>) -> Option<GrantTerms> {
        all.into_iter()
            .try_fold(None::<GrantTerms>, |acc, t| {
                let t = t?;
                Some(Some(match acc {
                    None => t,
                    Some(a) => GrantTerms {
                        uses: a.uses.min(t.uses),
                        minutes: a.minutes.min(t.minutes),
                    },
                }))
            })
            .flatten()
    }

    /// "up to 3 times within 30 minutes".
    pub fn describe(&self) -> String {
        format!(
            "up to {} time{} within {} minute{}",
            self.uses,
            if self.uses == 1 { "" } else { "s" },
            self.minutes,
            if self.minutes == 1 { "" } else { "s" }
        )
    }
}

/// Why a grant is not (or no longer) usable, or that it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    Live,
    UsedUp,
    Expired,
    Revoked,
}

impl GrantState {
    pub fn describe(self) -> &'static str {
        match self {
            GrantState::Live => "live",
            GrantState::UsedUp => "used up",
            GrantState::Expired => "expired",
            GrantState::Revoked => "revoked",
        }
    }
}

/// Who revoked a grant, and when (ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revocation {
    pub by: Identity,
    pub at: u64,
}

/// A grant as stored. `uses`, `revoked` and `expiry_noticed` change (conditionally, in the
/// store); everything else is fixed when the approval that made it is recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    /// The approved request that made it.
    pub request_id: String,
    pub agent: Identity,
    /// The request hash every use must have (operation, target, region, parameters).
    pub request_hash: String,
    pub action: String,
    pub target: String,
    pub region: String,
    /// The parameters as shown (name-masked secrets masked), for listings and pages.
    pub params: Value,
    pub iam_actions: Vec<String>,
    pub resources: Vec<String>,
    /// Who approved the request (and so the grant).
    pub approvers: Vec<Identity>,
    /// The groups the request's approval requirements named (empty: any approver): whose
    /// inbox shows it.
    pub groups: Vec<String>,
    pub max_uses: u32,
    pub uses: u32,
    pub created_at: u64,
    pub expires_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Revocation>,
    /// The approvers were told it expired before it was used up (once per grant).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expiry_noticed: bool,
}

impl Grant {
    /// The grant an approval makes, when the request is now approved, is a single call (not
    /// a plan), its policy allows a grant, and every approving vote offered one: with the
    /// narrowest terms offered. Its id is the request's, so recording it twice is one grant.
    pub fn from_approval(rec: &RequestRecord, now: u64) -> Option<Grant> {
        if rec.status != Status::Approved || rec.plan.is_some() || rec.grant.is_some() {
            return None;
        }
        let bound = rec.decision.requires.grant?;
        let terms = GrantTerms::narrowest(
            rec.votes
                .iter()
                .filter(|v| v.verdict == Verdict::Approve)
                .map(|v| v.grant),
        )?;
        // Checked on every vote; checked again so no path makes a grant past the bound.
        bound.check(&terms).ok()?;
        let mut groups: Vec<String> = rec
            .decision
            .requirements()
            .iter()
            .flat_map(|r| r.groups.iter().cloned())
            .collect();
        groups.sort();
        groups.dedup();
        Some(Grant {
            id: format!("G{}", rec.id),
            request_id: rec.id.clone(),
            agent: rec.agent.clone(),
            request_hash: rec.request_hash.clone(),
            action: rec.request.action.to_string(),
            target: rec.request.target.clone(),
            region: rec.request.region.clone(),
            params: crate::record::shown_params(&rec.request),
            iam_actions: rec.iam_actions.clone(),
            resources: rec.resources.clone(),
            approvers: rec.approvers().into_iter().cloned().collect(),
            groups,
            max_uses: terms.uses,
            uses: 0,
            created_at: now,
            expires_at: now + terms.minutes * 60_000,
            revoked: None,
            expiry_noticed: false,
        })
    }

    /// Whether the approvers should now be told it lapsed with uses left (the sweeper asks;
    /// the store's conditional flag makes it once).
    pub fn expired_unused_up(&self, now: u64) -> bool {
        !self.expiry_noticed && self.state(now) == GrantState::Expired
    }

    pub fn state(&self, now: u64) -> GrantState {
        if self.revoked.is_some() {
            GrantState::Revoked
        } else if self.uses >= self.max_uses {
            GrantState::UsedUp
        } else if now >= self.expires_at {
            GrantState::Expired
        } else {
            GrantState::Live
        }
    }

    /// Whether a use of this grant could run `rec` (a new request, held by policy): the same
    /// agent and exactly the same call. Whether it is still live is the store's to decide.
    pub fn matches(&self, rec: &RequestRecord) -> bool {
        rec.plan.is_none()
            && self.agent.same_principal(&rec.agent)
            && crate::seal::same_secret(&self.request_hash, &rec.request_hash)
            && self.iam_actions == rec.iam_actions
            && self.resources == rec.resources
    }

    /// Whether an approver sees (and may revoke) it: one who approved it, or a member of a
    /// group its request's approval requirements named (any approver when none).
    pub fn visible_to_approver(&self, who: &Identity) -> bool {
        self.approvers.iter().any(|a| a.same_human(who))
            || self.groups.is_empty()
            || who.groups.iter().any(|g| self.groups.contains(g))
    }

    /// Whether `who` may revoke it: its agent, or an approver who sees it.
    pub fn revocable_by(&self, who: &Identity, is_approver: bool) -> bool {
        if is_approver {
            self.visible_to_approver(who)
        } else {
            self.agent.same_principal(who)
        }
    }

    /// "3 of 5 uses left, until <ms>": the terms as they now stand, for listings.
    pub fn view(&self, now: u64) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        v["state"] = json!(self.state(now));
        v["uses_left"] = json!(self.max_uses.saturating_sub(self.uses));
        v
    }

    /// The grant spelled out, as a page or notice says it.
    pub fn describe(&self) -> String {
        format!(
            "{} may run {} on {} again (same parameters), {} of {} uses made",
            self.agent.name,
            self.action,
            if self.resources.is_empty() {
                "(no resource derived)".to_string()
            } else {
                self.resources.join(", ")
            },
            self.uses,
            self.max_uses
        )
    }
}

/// A request run by a grant: which grant, who approved it originally, and which use it was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantUse {
    pub grant_id: String,
    pub approvers: Vec<Identity>,
    /// 1 for the first use.
    pub number: u32,
    pub max_uses: u32,
}

/// A request a grant matched but could not run: held for approval, with the reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GrantMiss {
    pub grant_id: String,
    pub why: GrantState,
}

impl RequestRecord {
    /// Moves a new request that policy holds to APPROVED by a use of `grant` (the store has
    /// counted it: `grant.uses` includes this one), recording the grant and its approvers.
    pub fn approve_by_grant(&mut self, grant: &Grant, now: u64) -> Result<Event, ApiError> {
        if self.status != Status::Pending || !grant.matches(self) {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!("grant {} does not cover request {}", grant.id, self.id),
            ));
        }
        if self.decision.requires.grant.is_none() {
            // The policy no longer allows a grant for this call: an older grant does not
            // outlive it.
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "this request's policy allows no grant; grant {} does not apply",
                    grant.id
                ),
            ));
        }
        let used = GrantUse {
            grant_id: grant.id.clone(),
            approvers: grant.approvers.clone(),
            number: grant.uses,
            max_uses: grant.max_uses,
        };
        let detail = json!({
            "grant_id": used.grant_id,
            "grant_request_id": grant.request_id,
            "approvers": used.approvers,
            "use": used.number,
            "max_uses": used.max_uses,
            "request_hash": self.request_hash,
        });
        self.grant = Some(used);
        self.transition(Status::Approved, EventKind::GrantUsed, None, detail, now)
    }

    /// Notes why a matching grant did not run this request (it waits for approval instead).
    pub fn note_grant_miss(&mut self, grant_id: &str, why: GrantState) {
        self.grant_not_used = Some(GrantMiss {
            grant_id: grant_id.to_string(),
            why,
        });
    }
}

/// Subject and bodies of the notice that a grant ended with its last use (`grant_used_up`)
/// or lapsed with uses left (`grant_expired`), for its approvers (the same topic as every
/// notice; `type` is the SNS message attribute subscriptions filter on).
pub fn ended_notice(g: &Grant, why: GrantState, link: &str) -> (String, Value) {
    let (kind, ended) = match why {
        GrantState::UsedUp => ("grant_used_up", "is used up"),
        _ => ("grant_expired", "expired with uses left"),
    };
    let subject = format!(
        "Grant {} for {} {}: {} of {} uses",
        g.id,
        crate::display::one_line(&g.agent.name),
        ended,
        g.uses,
        g.max_uses
    );
    let text = format!(
        "{subject}\n\nAgent:      {}\nAction:     {}\nResources:  {}\nApproved by: {}\nRequest:    {}\n\nA new call needs a new approval.{}\n",
        crate::display::one_line(&g.agent.name),
        g.action,
        g.resources.join(", "),
        g.approvers
            .iter()
            .map(|a| crate::display::one_line(&a.name))
            .collect::<Vec<_>>()
            .join(", "),
        g.request_id,
        if link.is_empty() {
            String::new()
        } else {
            format!(" Inbox: {link}")
        },
    );
    let machine = json!({
        "type": kind,
        "grant_id": g.id,
        "request_id": g.request_id,
        "uses": g.uses,
        "max_uses": g.max_uses,
        "text": crate::slack::escape(&subject),
    });
    (subject, crate::notice::bodies(&text, &machine))
}

/// The grant among `grants` that a use should be tried on for `rec`: a live matching one
/// (the one that lapses first, so the others last longer), else the most recent matching one
/// with why it cannot run.
pub fn pick<'a>(
    grants: &'a [Grant],
    rec: &RequestRecord,
    now: u64,
) -> Option<(&'a Grant, GrantState)> {
    let mut matching: Vec<&Grant> = grants.iter().filter(|g| g.matches(rec)).collect();
    if let Some(live) = matching
        .iter()
        .filter(|g| g.state(now) == GrantState::Live)
        .min_by_key(|g| (g.expires_at, g.id.clone()))
    {
        return Some((live, GrantState::Live));
    }
    matching.sort_by_key(|g| std::cmp::Reverse(g.created_at));
    matching.first().map(|g| (*g, g.state(now)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Effect, GroupRequirement};
    use crate::fixtures::{self, who};

    fn bound(seconds: u64, uses: u32) -> Option<GrantBound> {
        Some(GrantBound {
            max_seconds: seconds,
            max_uses: uses,
        })
    }

    fn held(body: &str, agent: &str, grant: Option<GrantBound>, approvals: u32) -> RequestRecord {
        let mut rec = fixtures::record(
            body,
            who(agent, &[]),
            Effect::Approval {
                approvals,
                requirements: vec![GroupRequirement::of("dba", approvals)],
                timeout_seconds: 60,
            },
            &["dynamodb:PutItem"],
            &["arn:aws:dynamodb:us-east-1:111122223333:table/t"],
        );
        rec.decision.requires.grant = grant;
        rec
    }

    const PUT: &str = r#"{"action":"dynamodb:PutItem","params":{"TableName":"t","Item":{"k":{"S":"1"}}},"reason":"fix"}"#;

    /// `sub` (a `dba`) votes on `rec`, offering `grant`.
    fn offer(
        rec: &mut RequestRecord,
        sub: &str,
        verdict: Verdict,
        comment: Option<String>,
        grant: Option<GrantTerms>,
        now: u64,
    ) -> Result<(crate::record::VoteOutcome, Vec<Event>), ApiError> {
        rec.vote_with_grant(&who(sub, &["dba"]), verdict, comment, grant, now)
    }

    fn terms(uses: u32, minutes: u64) -> Option<GrantTerms> {
        Some(GrantTerms { uses, minutes })
    }

    #[test]
    fn bounds_narrow_and_a_policy_without_one_allows_none() {
        assert_eq!(
            GrantBound::narrowest(bound(1800, 10), bound(600, 20)),
            bound(600, 10)
        );
        assert_eq!(GrantBound::narrowest(bound(1800, 10), None), None);
        assert_eq!(GrantBound::narrowest(None, None), None);
        let b = bound(1800, 5).unwrap();
        assert!(
            b.check(&GrantTerms {
                uses: 5,
                minutes: 30
            })
            .is_ok()
        );
        let e = b
            .check(&GrantTerms {
                uses: 6,
                minutes: 30,
            })
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("grant_uses"));
        assert!(e.message.contains("at most 5"), "{}", e.message);
        let e = b
            .check(&GrantTerms {
                uses: 1,
                minutes: 31,
            })
            .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("grant_minutes"));
        assert!(e.message.contains("at most 30 minutes"), "{}", e.message);
    }

    #[test]
    fn terms_parse_with_errors_naming_the_field() {
        assert_eq!(GrantTerms::parse(None, None).unwrap(), None);
        assert_eq!(
            GrantTerms::parse(Some("3"), Some("10")).unwrap(),
            terms(3, 10)
        );
        for (u, m, field) in [
            (Some("3"), None, "grant_minutes"),
            (None, Some("3"), "grant_uses"),
            (Some("0"), Some("3"), "grant_uses"),
            (Some("x"), Some("3"), "grant_uses"),
            (Some("3"), Some("-1"), "grant_minutes"),
            (Some("3"), Some("99999999999999999999"), "grant_minutes"),
            (Some("99999999999"), Some("3"), "grant_uses"),
            (Some("3"), Some("1441"), "grant_minutes"),
        ] {
            let e = GrantTerms::parse(u, m).unwrap_err();
            assert_eq!(
                e.field.as_deref(),
                Some(field),
                "{u:?} {m:?}: {}",
                e.message
            );
        }
    }

    #[test]
    fn a_quorum_grants_only_what_every_approver_offered() {
        assert_eq!(
            GrantTerms::narrowest([terms(5, 10), terms(3, 30)]),
            terms(3, 10)
        );
        assert_eq!(GrantTerms::narrowest([terms(5, 10), None]), None);
        assert_eq!(GrantTerms::narrowest([]), None);

        let mut rec = held(PUT, "bot", bound(1800, 10), 2);
        offer(&mut rec, "ann", Verdict::Approve, None, terms(5, 20), 2).unwrap();
        offer(&mut rec, "bo", Verdict::Approve, None, terms(3, 30), 3).unwrap();
        assert_eq!(rec.status, Status::Approved);
        let g = Grant::from_approval(&rec, 10).unwrap();
        assert_eq!((g.max_uses, g.expires_at), (3, 10 + 20 * 60_000));
        assert_eq!(g.id, "GR");
        assert_eq!(g.approvers.len(), 2);
        assert_eq!(g.groups, vec!["dba"]);

        let mut rec = held(PUT, "bot", bound(1800, 10), 2);
        offer(&mut rec, "ann", Verdict::Approve, None, terms(5, 20), 2).unwrap();
        rec.vote(&who("bo", &["dba"]), Verdict::Approve, None, 3)
            .unwrap();
        assert_eq!(rec.status, Status::Approved);
        assert!(Grant::from_approval(&rec, 10).is_none(), "bo offered none");
    }

    #[test]
    fn a_vote_offering_a_grant_is_refused_past_the_bound_or_without_one() {
        let mut rec = held(PUT, "bot", bound(600, 3), 1);
        let e = offer(&mut rec, "ann", Verdict::Approve, None, terms(4, 5), 2).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("grant_uses"));
        assert!(rec.votes.is_empty() && rec.status == Status::Pending);
        let mut none = held(PUT, "bot", None, 1);
        let e = offer(&mut none, "ann", Verdict::Approve, None, terms(1, 1), 2).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("grant_uses"));
        assert!(e.message.contains("allows no grant"), "{}", e.message);
        let e = offer(
            &mut rec,
            "ann",
            Verdict::Reject,
            Some("no".into()),
            terms(1, 1),
            2,
        )
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("grant_uses"));
    }

    fn granted(now: u64) -> Grant {
        let mut rec = held(PUT, "bot", bound(1800, 10), 1);
        offer(&mut rec, "ann", Verdict::Approve, None, terms(3, 10), now).unwrap();
        Grant::from_approval(&rec, now).unwrap()
    }

    #[test]
    fn a_grant_matches_only_the_same_agent_and_the_same_call() {
        let g = granted(1);
        let same = held(
            &PUT.replace("fix", "again, other words"),
            "bot",
            bound(1800, 10),
            1,
        );
        assert!(g.matches(&same), "the reason may differ");
        assert!(!g.matches(&held(PUT, "other-bot", bound(1800, 10), 1)));
        let other_item = PUT.replace(r#"{"S":"1"}"#, r#"{"S":"2"}"#);
        assert!(!g.matches(&held(&other_item, "bot", bound(1800, 10), 1)));
        let other_region = PUT.replace(r#""reason""#, r#""region":"eu-west-1","reason""#);
        assert!(!g.matches(&held(&other_region, "bot", bound(1800, 10), 1)));
        let mut other_resources = same.clone();
        other_resources.resources = vec!["arn:aws:dynamodb:us-east-1:111122223333:table/u".into()];
        assert!(!g.matches(&other_resources));
    }

    #[test]
    fn a_use_approves_the_new_request_and_records_the_grant() {
        let mut g = granted(1);
        g.uses = 1;
        let mut rec = held(PUT, "bot", bound(1800, 10), 1);
        let ev = rec.approve_by_grant(&g, 5).unwrap();
        assert_eq!(rec.status, Status::Approved);
        assert_eq!(ev.kind, EventKind::GrantUsed);
        assert_eq!(ev.detail["grant_id"], "GR");
        assert_eq!(ev.detail["approvers"][0]["subject"], "ann");
        let used = rec.grant.as_ref().unwrap();
        assert_eq!((used.number, used.max_uses), (1, 3));
        assert!(
            Grant::from_approval(&rec, 6).is_none(),
            "a use makes no grant"
        );

        let mut denied_now = held(PUT, "bot", None, 1);
        assert_eq!(
            denied_now.approve_by_grant(&g, 5).unwrap_err().code,
            ErrorCode::Forbidden
        );
        assert_eq!(denied_now.status, Status::Pending);
        let mut other = held(PUT, "other-bot", bound(1800, 10), 1);
        assert!(other.approve_by_grant(&g, 5).is_err());
    }

    #[test]
    fn states_and_which_grant_is_tried() {
        let mut g = granted(1);
        assert_eq!(g.state(2), GrantState::Live);
        assert_eq!(g.state(g.expires_at), GrantState::Expired);
        g.uses = 3;
        assert_eq!(g.state(2), GrantState::UsedUp);
        g.uses = 0;
        g.revoked = Some(Revocation {
            by: who("ann", &[]),
            at: 2,
        });
        assert_eq!(g.state(2), GrantState::Revoked);

        let rec = held(PUT, "bot", bound(1800, 10), 1);
        let mut live = granted(100);
        live.id = "G2".into();
        assert_eq!(
            pick(&[g.clone(), live.clone()], &rec, 200).unwrap().0.id,
            "G2"
        );
        let (miss, why) = pick(std::slice::from_ref(&g), &rec, 200).unwrap();
        assert_eq!((miss.id.as_str(), why), ("GR", GrantState::Revoked));
        assert!(pick(&[live], &held(PUT, "x", None, 1), 200).is_none());
    }

    #[test]
    fn ended_notices_name_the_grant_and_their_kind() {
        let mut g = granted(1);
        g.uses = 3;
        let (subject, bodies) = ended_notice(&g, GrantState::UsedUp, "https://x/v1/inbox");
        assert!(subject.contains("is used up: 3 of 3"), "{subject}");
        assert_eq!(crate::notice::kind(&bodies), "grant_used_up");
        assert!(
            bodies["email"]
                .as_str()
                .unwrap()
                .contains("dynamodb:PutItem")
        );
        g.uses = 1;
        let (subject, bodies) = ended_notice(&g, GrantState::Expired, "l");
        assert!(
            subject.contains("expired with uses left: 1 of 3"),
            "{subject}"
        );
        assert_eq!(crate::notice::kind(&bodies), "grant_expired");
    }

    #[test]
    fn who_sees_and_revokes_a_grant() {
        let g = granted(1);
        assert!(g.visible_to_approver(&who("dora", &["dba"])));
        assert!(g.visible_to_approver(&who("ann", &[])), "approved it");
        assert!(!g.visible_to_approver(&who("eve", &["dev"])));
        assert!(g.revocable_by(&who("bot", &[]), false));
        assert!(!g.revocable_by(&who("other-bot", &[]), false));
        assert!(!g.revocable_by(&who("eve", &["dev"]), true));
    }
}
