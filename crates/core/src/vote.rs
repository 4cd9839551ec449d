//! Who may vote on a request, and why someone may not: the rule the API, the approval page
//! and Slack all ask before a vote counts, with the one wording they show.

use crate::error::{ApiError, ErrorCode};
use crate::identity::Identity;
use crate::record::{Progress, RequestRecord, Verdict};

/// Why an approver may not cast a vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoteRefusal {
    /// The approver is the requester, or the same person under another identity.
    OwnRequest { other_identity: bool },
    /// The approver (as any of their identities) has voted already.
    AlreadyVoted,
    /// No requirement admits the approver: only these groups may vote.
    NotInGroup { groups: Vec<String> },
    /// Every requirement the approver counts toward is complete; these are still needed.
    ApprovalsComplete { still_needed: Vec<String> },
}

impl VoteRefusal {
    pub fn code(&self) -> ErrorCode {
        match self {
            VoteRefusal::OwnRequest { .. } => ErrorCode::SelfApproval,
            VoteRefusal::AlreadyVoted => ErrorCode::AlreadyVoted,
            VoteRefusal::NotInGroup { .. } | VoteRefusal::ApprovalsComplete { .. } => {
                ErrorCode::Forbidden
            }
        }
    }

    /// The refusal as a sentence for the approver's page or chat message: capitalised, with
    /// its full stop.
    pub fn sentence(&self) -> String {
        crate::display::sentence(&self.to_string())
    }
}

/// The one wording of each refusal, addressed to the approver (the API's error message; the
/// page and Slack show it as a [`VoteRefusal::sentence`]).
impl std::fmt::Display for VoteRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VoteRefusal::OwnRequest {
                other_identity: false,
            } => f.write_str("this is your own request; someone else has to approve it"),
            VoteRefusal::OwnRequest {
                other_identity: true,
            } => f.write_str(
                "this is your own request, under another identity; someone else has to approve it",
            ),
            VoteRefusal::AlreadyVoted => f.write_str("you have already voted on this request"),
            VoteRefusal::NotInGroup { groups } => {
                let groups: Vec<String> = groups.iter().map(|g| format!("`{g}`")).collect();
                write!(
                    f,
                    "only members of {} may vote on this request",
                    groups.join(" or ")
                )
            }
            VoteRefusal::ApprovalsComplete { still_needed } => write!(
                f,
                "the approvals you can give are complete; the request still needs {}",
                still_needed.join(" and ")
            ),
        }
    }
}

impl From<VoteRefusal> for ApiError {
    fn from(r: VoteRefusal) -> Self {
        ApiError::new(r.code(), r.to_string())
    }
}

impl RequestRecord {
    /// Whether `approver` may cast `verdict` now: not the requester (nor the same person
    /// under another identity), not voted yet (as any of their identities), and in the group
    /// of a requirement. An approval must also count toward a requirement that still needs
    /// approvals; a rejection may come from anyone a requirement admits.
    pub fn check_voter(&self, approver: &Identity, verdict: Verdict) -> Result<(), VoteRefusal> {
        if approver.same_human(&self.agent) {
            return Err(VoteRefusal::OwnRequest {
                other_identity: !approver.same_principal(&self.agent),
            });
        }
        if self.votes.iter().any(|v| v.approver.same_human(approver)) {
            return Err(VoteRefusal::AlreadyVoted);
        }
        let progress = self.progress();
        let admitting: Vec<&Progress> = progress
            .iter()
            .filter(|p| p.requirement.admits(approver))
            .collect();
        if admitting.is_empty() {
            let mut groups: Vec<String> = progress
                .iter()
                .flat_map(|p| p.requirement.groups.iter().cloned())
                .collect();
            groups.sort();
            groups.dedup();
            return Err(VoteRefusal::NotInGroup { groups });
        }
        if verdict == Verdict::Approve && admitting.iter().all(|p| p.missing() == 0) {
            return Err(VoteRefusal::ApprovalsComplete {
                still_needed: self.still_needed(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Effect, GroupRequirement};
    use crate::fixtures::{self, who};
    use crate::record::Vote;

    fn pending(requirements: Vec<(Option<&str>, u32)>) -> RequestRecord {
        let requirements: Vec<GroupRequirement> = requirements
            .into_iter()
            .map(|(g, approvals)| GroupRequirement::any_of(g.map(str::to_string), approvals))
            .collect();
        let effect = Effect::Approval {
            approvals: requirements.iter().map(|r| r.approvals).max().unwrap_or(1),
            requirements,
            timeout_seconds: 60,
        };
        fixtures::record(
            r#"{"action":"dynamodb:DeleteTable","params":{"TableName":"t"},"reason":"r"}"#,
            who("agent", &[]),
            effect,
            &[],
            &[],
        )
    }

    fn approve(rec: &mut RequestRecord, who: Identity) {
        rec.votes.push(Vote {
            approver: who,
            verdict: Verdict::Approve,
            comment: None,
            at: 2,
            grant: None,
        });
    }

    #[test]
    fn the_requester_may_not_vote_under_any_identity() {
        let rec = pending(vec![(None, 1)]);
        assert_eq!(
            rec.check_voter(&who("agent", &[]), Verdict::Reject),
            Err(VoteRefusal::OwnRequest {
                other_identity: false
            })
        );
        let mut rec = rec;
        rec.agent.human = Some("bob@example.com".into());
        let bob = Identity {
            human: Some("bob@example.com".into()),
            ..who("bob", &[])
        };
        let refusal = rec.check_voter(&bob, Verdict::Approve).unwrap_err();
        assert_eq!(
            refusal,
            VoteRefusal::OwnRequest {
                other_identity: true
            }
        );
        assert_eq!(refusal.code(), ErrorCode::SelfApproval);
    }

    #[test]
    fn one_vote_per_person() {
        let mut rec = pending(vec![(None, 2)]);
        approve(&mut rec, who("alice", &[]));
        assert_eq!(
            rec.check_voter(&who("alice", &[]), Verdict::Reject),
            Err(VoteRefusal::AlreadyVoted)
        );
        assert_eq!(rec.check_voter(&who("bob", &[]), Verdict::Approve), Ok(()));
    }

    #[test]
    fn only_the_groups_of_a_requirement_vote_and_approvals_must_still_count() {
        let mut rec = pending(vec![(Some("dba"), 1), (Some("security"), 1)]);
        let refusal = rec
            .check_voter(&who("eve", &["dev"]), Verdict::Reject)
            .unwrap_err();
        assert_eq!(
            refusal,
            VoteRefusal::NotInGroup {
                groups: vec!["dba".into(), "security".into()]
            }
        );
        approve(&mut rec, who("dan", &["dba"]));
        let refusal = rec
            .check_voter(&who("dora", &["dba"]), Verdict::Approve)
            .unwrap_err();
        assert_eq!(
            refusal,
            VoteRefusal::ApprovalsComplete {
                still_needed: vec!["1 from `security`".into()]
            }
        );
        // Rejecting stays open to a member.
        assert_eq!(
            rec.check_voter(&who("dora", &["dba"]), Verdict::Reject),
            Ok(())
        );
    }

    #[test]
    fn each_refusal_has_one_wording_and_its_code() {
        let cases = [
            (
                VoteRefusal::OwnRequest {
                    other_identity: false,
                },
                ErrorCode::SelfApproval,
                "This is your own request; someone else has to approve it.",
            ),
            (
                VoteRefusal::AlreadyVoted,
                ErrorCode::AlreadyVoted,
                "You have already voted on this request.",
            ),
            (
                VoteRefusal::NotInGroup {
                    groups: vec!["dba".into(), "security".into()],
                },
                ErrorCode::Forbidden,
                "Only members of `dba` or `security` may vote on this request.",
            ),
            (
                VoteRefusal::ApprovalsComplete {
                    still_needed: vec!["1 from `security`".into()],
                },
                ErrorCode::Forbidden,
                "The approvals you can give are complete; the request still needs 1 from `security`.",
            ),
        ];
        for (refusal, code, sentence) in cases {
            assert_eq!(refusal.sentence(), sentence);
            let e = ApiError::from(refusal.clone());
            assert_eq!(e.code, code);
            assert_eq!(e.message, refusal.to_string());
        }
    }
}
