//! The approver inbox: which requests wait for an approver, in which order, and which
//! decisions are recent, by them and by others; and the filters an approver narrows it with.
//! The handler reads the listing indexes; what is shown, and to whom, is decided here.

use crate::error::ApiError;
use crate::identity::Identity;
use crate::record::RequestRecord;
use crate::status::Status;

/// Longest filter value accepted: an identity key or an action is far shorter.
const MAX_FILTER_CHARS: usize = 300;

/// The statuses that follow a human decision: approval, or rejection.
pub const DECIDED: [Status; 5] = [
    Status::Approved,
    Status::Executing,
    Status::Succeeded,
    Status::Failed,
    Status::Rejected,
];

/// What the inbox shows: what waits for this approver, or every request of one status it
/// may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// Pending requests this approver can still vote on, and the recent decisions.
    Waiting,
    Status(Status),
}

/// An approver's filters, from the page's query (`status`, `agent`, `action`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub view: View,
    /// An agent's identity key (`issuer#subject`), its subject or its display name.
    pub agent: Option<String>,
    /// `service:Operation`, or a whole service (`dynamodb`, `dynamodb:*`); any case.
    pub action: Option<String>,
}

impl Filter {
    /// Reads the filters; an empty value is no filter. A value that cannot be one is refused
    /// naming its field.
    pub fn parse(
        status: Option<&str>,
        agent: Option<&str>,
        action: Option<&str>,
    ) -> Result<Filter, ApiError> {
        let view = match status.filter(|s| !s.is_empty()) {
            None => View::Waiting,
            Some(s) if s.eq_ignore_ascii_case("waiting") => View::Waiting,
            Some(s) => View::Status(Status::parse(&s.to_ascii_uppercase()).ok_or_else(|| {
                ApiError::field(
                    "status",
                    "must be waiting, or one of pending, approved, executing, succeeded, failed, denied, rejected, expired, cancelled",
                )
            })?),
        };
        let text = |name: &str, v: Option<&str>| -> Result<Option<String>, ApiError> {
            match v {
                Some(s)
                    if s.chars().count() > MAX_FILTER_CHARS || s.chars().any(char::is_control) =>
                {
                    Err(ApiError::field(
                        name,
                        format!("must be at most {MAX_FILTER_CHARS} characters on one line"),
                    ))
                }
                Some(s) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
                _ => Ok(None),
            }
        };
        Ok(Filter {
            view,
            agent: text("agent", agent)?,
            action: text("action", action)?,
        })
    }

    /// The agent filter when it is an identity key, which the by-agent index answers
    /// directly; a subject or a name is matched on what the status index lists.
    pub fn agent_key(&self) -> Option<&str> {
        self.agent.as_deref().filter(|a| a.contains('#'))
    }

    /// Whether `rec` passes the agent and action filters.
    pub fn matches(&self, rec: &RequestRecord) -> bool {
        let agent_ok = self.agent.as_deref().is_none_or(|a| {
            rec.agent.key() == a || rec.agent.subject == a || rec.agent.name.eq_ignore_ascii_case(a)
        });
        let action_ok = self.action.as_deref().is_none_or(|want| {
            let action = rec.request.action.to_string();
            let service = want.trim_end_matches(":*").trim_end_matches(':');
            action.eq_ignore_ascii_case(want)
                || (!want.contains(':') || want.ends_with(":*"))
                    && action
                        .split_once(':')
                        .is_some_and(|(s, _)| s.eq_ignore_ascii_case(service))
        });
        agent_ok && action_ok
    }
}

/// What waits for `me`: pending requests it can still vote on that pass the filter, soonest
/// deadline first (no deadline last), then oldest first.
pub fn waiting(records: Vec<RequestRecord>, me: &Identity, filter: &Filter) -> Vec<RequestRecord> {
    let mut out: Vec<RequestRecord> = records
        .into_iter()
        .filter(|r| r.awaits_vote_from(me) && filter.matches(r))
        .collect();
    out.sort_by_key(|r| (r.expires_at.unwrap_or(u64::MAX), r.created_at));
    out
}

/// Every request of the listed status that `me` may see and that passes the filter, most
/// recently changed first; pending ones by deadline, like the waiting list.
pub fn of_status(
    records: Vec<RequestRecord>,
    me: &Identity,
    filter: &Filter,
) -> Vec<RequestRecord> {
    let mut out: Vec<RequestRecord> = records
        .into_iter()
        .filter(|r| r.visible_to_approver(me) && filter.matches(r))
        .collect();
    if out.iter().all(|r| r.status == Status::Pending) {
        out.sort_by_key(|r| (r.expires_at.unwrap_or(u64::MAX), r.created_at));
    } else {
        out.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
    }
    out
}

/// Recent decisions `me` may see: those it voted on, and those decided by others, each
/// newest first and at most `limit` long. A request counts once, however it was listed.
pub fn decisions(
    records: Vec<RequestRecord>,
    me: &Identity,
    filter: &Filter,
    limit: usize,
) -> (Vec<RequestRecord>, Vec<RequestRecord>) {
    let mut seen = std::collections::BTreeSet::new();
    let mut all: Vec<RequestRecord> = records
        .into_iter()
        .filter(|r| {
            DECIDED.contains(&r.status)
                && !r.votes.is_empty()
                && r.visible_to_approver(me)
                && filter.matches(r)
                && seen.insert(r.id.clone())
        })
        .collect();
    all.sort_by(|a, b| b.updated_at.cmp(&a.updated_at).then(b.id.cmp(&a.id)));
    let (mut mine, mut others): (Vec<_>, Vec<_>) = all
        .into_iter()
        .partition(|r| r.votes.iter().any(|v| v.approver.same_human(me)));
    mine.truncate(limit);
    others.truncate(limit);
    (mine, others)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Effect, GroupRequirement};
    use crate::fixtures::{record, who};
    use crate::record::Verdict;

    fn held(id: &str, action: &str, agent: &str, group: &str, expires: u64) -> RequestRecord {
        let body = format!(r#"{{"action":"{action}","params":{{}},"reason":"r"}}"#);
        let effect = Effect::Approval {
            approvals: 1,
            requirements: vec![GroupRequirement::of(group, 1)],
            timeout_seconds: 60,
        };
        let mut rec = record(&body, who(agent, &[]), effect, &[], &[]);
        rec.id = id.into();
        rec.expires_at = Some(expires);
        rec
    }

    fn decided(mut rec: RequestRecord, by: &Identity, status: Status, at: u64) -> RequestRecord {
        rec.vote(by, Verdict::Approve, None, at).unwrap();
        rec.status = status;
        rec.updated_at = at;
        rec
    }

    #[test]
    fn waiting_holds_what_the_approver_can_decide_soonest_deadline_first() {
        let alice = who("alice", &["dba"]);
        let list = vec![
            held("late", "dynamodb:DeleteTable", "bot", "dba", 900),
            held("soon", "dynamodb:DeleteTable", "bot", "dba", 100),
            held("other-group", "dynamodb:DeleteTable", "bot", "security", 50),
            held("own", "dynamodb:DeleteTable", "alice", "dba", 10),
            decided(
                held("done", "dynamodb:DeleteTable", "bot", "dba", 5),
                &who("bob", &["dba"]),
                Status::Succeeded,
                7,
            ),
        ];
        let ids: Vec<String> = waiting(list, &alice, &Filter::parse(None, None, None).unwrap())
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["soon", "late"]);
    }

    #[test]
    fn filters_match_agent_by_key_subject_or_name_and_action_by_name_or_service() {
        let rec = held("r", "dynamodb:DeleteTable", "ci-bot", "dba", 1);
        let f = |agent: Option<&str>, action: Option<&str>| {
            Filter::parse(None, agent, action).unwrap().matches(&rec)
        };
        assert!(f(Some("https://idp#ci-bot"), None));
        assert!(f(Some("ci-bot"), None));
        assert!(f(Some("CI-BOT"), None));
        assert!(!f(Some("https://other#ci-bot"), None));
        assert!(!f(Some("ci"), None));
        assert!(f(None, Some("dynamodb:deletetable")));
        assert!(f(None, Some("dynamodb")));
        assert!(f(None, Some("DynamoDB:*")));
        assert!(!f(None, Some("dynamodb:DeleteItem")));
        assert!(!f(None, Some("dynamo")));
        assert!(!f(None, Some("s3")));
        assert_eq!(
            Filter::parse(None, Some("https://idp#ci-bot"), None)
                .unwrap()
                .agent_key(),
            Some("https://idp#ci-bot")
        );
        assert_eq!(
            Filter::parse(None, Some("ci-bot"), None)
                .unwrap()
                .agent_key(),
            None
        );
    }

    #[test]
    fn bad_filters_are_refused_naming_the_field() {
        let e = Filter::parse(Some("done"), None, None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("status"), "{e:?}");
        let e = Filter::parse(None, Some("a\nb"), None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("agent"), "{e:?}");
        let long = "x".repeat(301);
        let e = Filter::parse(None, None, Some(&long)).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("action"), "{e:?}");
        assert_eq!(
            Filter::parse(Some("Rejected"), Some(" "), None).unwrap(),
            Filter {
                view: View::Status(Status::Rejected),
                agent: None,
                action: None
            }
        );
        assert_eq!(
            Filter::parse(Some("waiting"), None, None).unwrap().view,
            View::Waiting
        );
    }

    #[test]
    fn decisions_split_mine_from_others_newest_first_once_each() {
        let alice = who("alice", &["dba"]);
        let bob = who("bob", &["dba"]);
        let mine = decided(
            held("m", "s3:DeleteBucket", "bot", "dba", 1),
            &alice,
            Status::Succeeded,
            30,
        );
        let theirs_old = decided(
            held("o1", "s3:DeleteBucket", "bot", "dba", 1),
            &bob,
            Status::Rejected,
            10,
        );
        let theirs_new = decided(
            held("o2", "s3:DeleteBucket", "bot", "dba", 1),
            &bob,
            Status::Approved,
            20,
        );
        let unseen = decided(
            held("x", "s3:DeleteBucket", "bot", "security", 1),
            &who("sec", &["security"]),
            Status::Succeeded,
            40,
        );
        let mut expired = held("e", "s3:DeleteBucket", "bot", "dba", 1);
        expired.status = Status::Expired;
        let list = vec![
            theirs_old,
            mine.clone(),
            theirs_new.clone(),
            unseen,
            expired,
            mine,
        ];
        let (m, o) = decisions(
            list.clone(),
            &alice,
            &Filter::parse(None, None, None).unwrap(),
            10,
        );
        let ids = |v: &[RequestRecord]| v.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&m), ["m"]);
        assert_eq!(ids(&o), ["o2", "o1"]);
        let (_, o) = decisions(list, &alice, &Filter::parse(None, None, None).unwrap(), 1);
        assert_eq!(ids(&o), ["o2"]);
    }

    #[test]
    fn a_status_view_shows_only_what_the_approver_may_see() {
        let alice = who("alice", &["dba"]);
        let a = decided(
            held("a", "s3:DeleteBucket", "bot", "dba", 1),
            &who("bob", &["dba"]),
            Status::Rejected,
            5,
        );
        let hidden = decided(
            held("h", "s3:DeleteBucket", "bot", "security", 1),
            &who("sec", &["security"]),
            Status::Rejected,
            9,
        );
        let f = Filter::parse(Some("rejected"), None, None).unwrap();
        let ids: Vec<String> = of_status(vec![a, hidden], &alice, &f)
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, ["a"]);
    }
}
