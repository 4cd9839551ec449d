//! Break-glass: one member of a named group approves a held request alone, even one their own
//! agent made, with a written justification; a second approver acknowledges the use within a
//! set time, or the sweeper raises an alarm. The rules every channel (API, page, inbox) asks
//! are here, so none of them can open the glass another way.

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{Event, EventKind};
use crate::error::{ApiError, ErrorCode};
use crate::identity::Identity;
use crate::record::{MAX_COMMENT_CHARS, RequestRecord, Verdict, Vote};
use crate::status::Status;

/// The justification a policy asks for when it names none (`@breakglass_justification`).
pub const DEFAULT_JUSTIFICATION: u32 = 40;
/// The least a policy may ask: a one-word "urgent" is not an account of an emergency.
pub const MIN_JUSTIFICATION: u32 = 20;
/// The most a policy may ask: a justification is bounded like every comment.
pub const MAX_JUSTIFICATION: u32 = MAX_COMMENT_CHARS as u32;
/// How long a second approver has to acknowledge a use, unless the deployment says.
pub const DEFAULT_ACK_SECONDS: u64 = 24 * 3600;

/// Who may break the glass on a request, as the matching approval policies say: a member of
/// every one of `groups` (one per policy's `@breakglass`), with a justification of at least
/// `min_justification` characters (the largest any of them asks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BreakGlass {
    /// Sorted, without repeats.
    pub groups: Vec<String>,
    pub min_justification: u32,
}

impl BreakGlass {
    /// Break-glass for a decision held by several approval policies: only when every one of
    /// them names a group (one that does not would be overruled by the others' glass), and
    /// then only for someone in all the groups named, with the longest justification asked.
    pub fn combine<'a>(
        each: impl IntoIterator<Item = Option<&'a BreakGlass>>,
    ) -> Option<BreakGlass> {
        let mut groups = Vec::new();
        let mut min_justification = 0;
        let mut any = false;
        for one in each {
            let one = one?;
            any = true;
            groups.extend(one.groups.iter().cloned());
            min_justification = min_justification.max(one.min_justification);
        }
        groups.sort();
        groups.dedup();
        (any && !groups.is_empty()).then_some(BreakGlass {
            groups,
            min_justification,
        })
    }

    /// Whether `who` is in every group named.
    pub fn admits(&self, who: &Identity) -> bool {
        self.groups
            .iter()
            .all(|g| who.groups.iter().any(|mine| mine == g))
    }

    /// "a member of `oncall` alone, with a justification of at least 40 characters".
    pub fn describe(&self) -> String {
        let names: Vec<String> = self.groups.iter().map(|g| format!("`{g}`")).collect();
        format!(
            "a member of {} alone, with a justification of at least {} characters",
            names.join(" and "),
            self.min_justification
        )
    }
}

/// Someone who acknowledged a break-glass use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: Identity,
    pub at: u64,
}

/// A break-glass approval as the record keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakGlassUse {
    pub approver: Identity,
    pub justification: String,
    /// When the glass was broken (ms).
    pub at: u64,
    /// When a second approver must have acknowledged it by (ms).
    pub acknowledge_by: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acknowledged: Option<Acknowledgement>,
    /// When the sweeper raised the overdue alarm (ms); it raises it once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue_alarmed_at: Option<u64>,
}

impl BreakGlassUse {
    /// Not acknowledged and past its deadline.
    pub fn overdue(&self, now: u64) -> bool {
        self.acknowledged.is_none() && now > self.acknowledge_by
    }
}

/// The justification as kept: trimmed, of at least `min` characters, bounded, and free of
/// control characters other than line breaks and tabs (it is shown in pages, mail and Slack).
pub fn justification(text: Option<&str>, min: u32) -> Result<String, ApiError> {
    let text = text.unwrap_or("").trim();
    let len = text.chars().count();
    if len == 0 {
        return Err(ApiError::field(
            "justification",
            format!(
                "is required to break glass: say what the emergency is, in at least {min} characters"
            ),
        ));
    }
    if len > MAX_COMMENT_CHARS {
        return Err(ApiError::field(
            "justification",
            format!("longer than {MAX_COMMENT_CHARS} characters"),
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ApiError::field(
            "justification",
            "must not contain control characters other than line breaks and tabs",
        ));
    }
    if len < min as usize {
        return Err(ApiError::field(
            "justification",
            format!("is {len} characters; breaking glass on this request needs at least {min}"),
        ));
    }
    Ok(text.to_string())
}

impl RequestRecord {
    /// The break-glass this approver may use now, or why not. Own requests are not refused
    /// here: that is the point of the glass.
    pub fn check_breakglass(&self, approver: &Identity) -> Result<&BreakGlass, ApiError> {
        if self.status != Status::Pending {
            return Err(ApiError::new(
                if self.status.is_final() {
                    ErrorCode::AlreadyFinal
                } else {
                    ErrorCode::Conflict
                },
                format!(
                    "request {} is {}; break-glass is only for a request waiting for approval",
                    self.id, self.status
                ),
            )
            .with_detail(json!({"status": self.status})));
        }
        let Some(glass) = self.decision.breakglass.as_ref() else {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "break-glass is not available for this request: not every approval policy that holds it names a break-glass group",
            ));
        };
        if !glass.admits(approver) {
            let names: Vec<String> = glass.groups.iter().map(|g| format!("`{g}`")).collect();
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!(
                    "only members of {} may break glass on this request",
                    names.join(" and ")
                ),
            ));
        }
        Ok(glass)
    }

    /// Approves the request alone on `approver`'s word, with `justification`: the vote, the
    /// `break_glass` event and the move to APPROVED, in one change of the record. A second
    /// approver then has `ack_window_ms` to acknowledge it.
    pub fn break_glass(
        &mut self,
        approver: &Identity,
        justification: Option<&str>,
        now: u64,
        ack_window_ms: u64,
    ) -> Result<Vec<Event>, ApiError> {
        let glass = self.check_breakglass(approver)?.clone();
        let text = self::justification(justification, glass.min_justification)?;
        let acknowledge_by = now.saturating_add(ack_window_ms);
        // One vote per person: someone who approved before breaking the glass is not counted
        // twice (the session tags name each approver once).
        if !self.votes.iter().any(|v| v.approver.same_human(approver)) {
            self.votes.push(Vote {
                approver: approver.clone(),
                verdict: Verdict::Approve,
                comment: Some(text.clone()),
                at: now,
                // Breaking glass lets this one call run; it never lets it run again.
                grant: None,
            });
        }
        let used = self.push_event(
            EventKind::BreakGlass,
            Some(approver.clone()),
            json!({
                "justification": text,
                "groups": glass.groups,
                "own_request": approver.same_human(&self.agent),
                "request_hash": self.request_hash,
                "acknowledge_by": acknowledge_by,
            }),
            now,
        );
        let approved = self.transition(
            Status::Approved,
            EventKind::Approved,
            Some(approver.clone()),
            json!({"approvals": self.approvers().len(), "breakglass": true}),
            now,
        )?;
        self.breakglass = Some(BreakGlassUse {
            approver: approver.clone(),
            justification: text,
            at: now,
            acknowledge_by,
            acknowledged: None,
            overdue_alarmed_at: None,
        });
        Ok(vec![used, approved])
    }

    /// Whether `who` may acknowledge this request's break-glass use now, and why not: someone
    /// other than who broke the glass and the agent's own person, who approves this request
    /// (a requirement or the break-glass groups admit them).
    pub fn check_acknowledger(&self, who: &Identity) -> Result<&BreakGlassUse, ApiError> {
        let Some(used) = self.breakglass.as_ref() else {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "request {} was not approved by break-glass; there is nothing to acknowledge",
                    self.id
                ),
            ));
        };
        if let Some(ack) = &used.acknowledged {
            return Err(ApiError::new(
                ErrorCode::Conflict,
                format!(
                    "the break-glass use on request {} is already acknowledged by {}",
                    self.id, ack.by.name
                ),
            ));
        }
        if who.same_human(&used.approver) {
            return Err(ApiError::new(
                ErrorCode::SelfApproval,
                "you broke the glass on this request; another approver has to acknowledge it",
            ));
        }
        if who.same_human(&self.agent) {
            return Err(ApiError::new(
                ErrorCode::SelfApproval,
                "this is your own request; another approver has to acknowledge its break-glass use",
            ));
        }
        let in_glass = self
            .decision
            .breakglass
            .as_ref()
            .is_some_and(|g| g.admits(who));
        if !in_glass && !self.decision.requirements().iter().any(|r| r.admits(who)) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "only an approver of this request may acknowledge its break-glass use",
            ));
        }
        Ok(used)
    }

    /// Records `who`'s acknowledgement of the break-glass use, with its audit event; late
    /// acknowledgements are recorded too, and say so.
    pub fn acknowledge_breakglass(
        &mut self,
        who: &Identity,
        now: u64,
    ) -> Result<Vec<Event>, ApiError> {
        let late = self.check_acknowledger(who)?.overdue(now);
        let event = self.push_event(
            EventKind::BreakGlassAcknowledged,
            Some(who.clone()),
            json!({"late": late}),
            now,
        );
        if let Some(used) = &mut self.breakglass {
            used.acknowledged = Some(Acknowledgement {
                by: who.clone(),
                at: now,
            });
        }
        Ok(vec![event])
    }

    /// Marks an unacknowledged use past its deadline as alarmed, once: the event to write
    /// with it, or `None` when there is nothing to raise (acknowledged, not due, raised).
    pub fn mark_breakglass_overdue(&mut self, now: u64) -> Option<Event> {
        let used = self.breakglass.as_mut()?;
        if !used.overdue(now) || used.overdue_alarmed_at.is_some() {
            return None;
        }
        used.overdue_alarmed_at = Some(now);
        let detail = json!({"acknowledge_by": used.acknowledge_by});
        Some(self.push_event(EventKind::BreakGlassOverdue, None, detail, now))
    }
}

/// Which loud notice of a break-glass use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loud {
    /// The glass was just broken (to every approver and the alarm topic).
    Used,
    /// Nobody acknowledged it in time (the sweeper, to the same).
    Overdue,
}

impl RequestRecord {
    /// Every group whose members approve this request or may break its glass: whom a
    /// break-glass notice is for.
    pub fn approver_groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = self
            .decision
            .requirements()
            .iter()
            .flat_map(|r| r.groups.iter().cloned())
            .chain(
                self.decision
                    .breakglass
                    .iter()
                    .flat_map(|g| g.groups.iter().cloned()),
            )
            .collect();
        groups.sort();
        groups.dedup();
        groups
    }
}

/// Subject and bodies of a break-glass notice: who broke the glass on what, their words, and
/// who must acknowledge it by when. `None` when the request has no break-glass use.
pub fn notice(rec: &RequestRecord, link: &str, loud: Loud) -> Option<(String, serde_json::Value)> {
    use crate::display::one_line;
    let used = rec.breakglass.as_ref()?;
    let (kind, subject) = match loud {
        Loud::Used => (
            "breakglass_used",
            format!(
                "BREAK-GLASS: {} approved {} for {} alone",
                one_line(&used.approver.name),
                rec.request.action,
                one_line(&rec.agent.name)
            ),
        ),
        Loud::Overdue => (
            "breakglass_overdue",
            format!(
                "BREAK-GLASS NOT ACKNOWLEDGED: {} approved {} for {} alone; nobody has acknowledged it",
                one_line(&used.approver.name),
                rec.request.action,
                one_line(&rec.agent.name)
            ),
        ),
    };
    let groups = rec.approver_groups();
    let names: Vec<String> = groups.iter().map(|g| format!("`{g}`")).collect();
    let for_whom = if names.is_empty() {
        "any approver".to_string()
    } else {
        names.join(", ")
    };
    let deadline = crate::time::iso8601(used.acknowledge_by);
    let text = format!(
        "{subject}\n\nJustification: \"{}\"\nRequest:       {}\nStatus:        {}\nFor:           approvers in {for_whom}\nAcknowledge:   another approver must acknowledge this by {deadline}\n\nReview and acknowledge: {link}\n",
        one_line(&used.justification),
        rec.id,
        rec.status,
    );
    let slack_text = crate::slack::escape(&format!(
        "{subject}. Justification: \"{}\". Another approver must acknowledge it by {deadline}.",
        one_line(&used.justification)
    ));
    let machine = json!({
        "type": kind,
        "request_id": rec.id,
        "seq": rec.seq,
        "status": rec.status,
        "breakglass": used,
        "groups": groups,
        "link": link,
        "text": slack_text,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": slack_text}}],
    });
    Some((subject, crate::notice::bodies(&text, &machine)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{Effect, GroupRequirement};
    use crate::fixtures::{self, who};

    const WHY: &str = "prod orders table is corrupt, restoring from backup now";

    fn held(glass: Option<BreakGlass>) -> RequestRecord {
        let mut rec = fixtures::record(
            r#"{"action":"dynamodb:DeleteTable","params":{"TableName":"t"},"reason":"r"}"#,
            Identity {
                human: Some("olga@example.com".into()),
                ..who("agent", &[])
            },
            Effect::Approval {
                approvals: 2,
                requirements: vec![GroupRequirement::of("dba", 2)],
                timeout_seconds: 60,
            },
            &[],
            &[],
        );
        rec.decision.breakglass = glass;
        rec
    }

    fn oncall() -> Option<BreakGlass> {
        Some(BreakGlass {
            groups: vec!["oncall".into()],
            min_justification: 40,
        })
    }

    fn olga() -> Identity {
        Identity {
            human: Some("olga@example.com".into()),
            ..who("olga", &["oncall"])
        }
    }

    #[test]
    fn every_policy_must_name_a_group_and_the_approver_must_be_in_all() {
        let a = BreakGlass {
            groups: vec!["oncall".into()],
            min_justification: 20,
        };
        let b = BreakGlass {
            groups: vec!["sre".into()],
            min_justification: 60,
        };
        let both = BreakGlass::combine([Some(&a), Some(&b)]).unwrap();
        assert_eq!(both.groups, ["oncall", "sre"]);
        assert_eq!(both.min_justification, 60);
        assert!(both.admits(&who("x", &["oncall", "sre"])));
        assert!(!both.admits(&who("y", &["oncall"])));
        assert_eq!(BreakGlass::combine([Some(&a), None]), None);
        assert_eq!(BreakGlass::combine([]), None);
        assert_eq!(
            BreakGlass::combine([Some(&a), Some(&a)]).unwrap().groups,
            ["oncall"]
        );
    }

    #[test]
    fn a_member_approves_alone_even_their_own_agents_request() {
        let mut rec = held(oncall());
        // Normally refused: the agent is Olga's.
        assert!(rec.check_voter(&olga(), Verdict::Approve).is_err());
        let events = rec.break_glass(&olga(), Some(WHY), 10, 1000).unwrap();
        assert_eq!(rec.status, Status::Approved);
        assert_eq!(events[0].kind, EventKind::BreakGlass);
        assert_eq!(events[0].detail["justification"], WHY);
        assert_eq!(events[0].detail["own_request"], true);
        assert_eq!(events[1].kind, EventKind::Approved);
        assert_eq!(events[1].detail["breakglass"], true);
        assert_eq!(events[1].detail["to"], "APPROVED");
        let used = rec.breakglass.as_ref().unwrap();
        assert_eq!(used.acknowledge_by, 1010);
        assert_eq!(used.approver.subject, "olga");
        assert_eq!(rec.approvers().len(), 1);
        let view = rec.view();
        assert_eq!(view["breakglass"]["justification"], WHY);
        // Once is enough.
        let e = rec.break_glass(&olga(), Some(WHY), 11, 1000).unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        assert!(e.message.contains("is APPROVED"), "{}", e.message);
    }

    #[test]
    fn outsiders_policies_without_glass_and_short_justifications_are_refused() {
        let mut rec = held(oncall());
        let e = rec
            .break_glass(&who("dan", &["dba"]), Some(WHY), 10, 1000)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert!(e.message.contains("`oncall`"), "{}", e.message);
        for (text, says) in [
            (None, "is required"),
            (Some("   "), "is required"),
            (Some("it is urgent, trust me, ok"), "at least 40"),
            (
                Some("          it is urgent, trust me                 "),
                "is 22 characters",
            ),
            (
                Some("restoring the table now\u{7}\u{7} because prod is down"),
                "control characters",
            ),
        ] {
            let e = rec.break_glass(&olga(), text, 10, 1000).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("justification"), "{text:?}");
            assert!(e.message.contains(says), "{text:?}: {}", e.message);
        }
        let long = "x".repeat(MAX_COMMENT_CHARS + 1);
        let e = rec.break_glass(&olga(), Some(&long), 10, 1000).unwrap_err();
        assert!(e.message.contains("longer than"), "{}", e.message);
        assert_eq!(rec.status, Status::Pending);
        assert!(rec.votes.is_empty() && rec.breakglass.is_none());
        let mut plain = held(None);
        let e = plain.break_glass(&olga(), Some(WHY), 10, 1000).unwrap_err();
        assert_eq!(e.code, ErrorCode::Forbidden);
        assert!(e.message.contains("not available"), "{}", e.message);
    }

    #[test]
    fn a_second_approver_acknowledges_once_and_never_the_breaker_or_the_owner() {
        let mut rec = held(oncall());
        let e = rec
            .acknowledge_breakglass(&who("dan", &["dba"]), 5)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        rec.break_glass(&olga(), Some(WHY), 10, 1000).unwrap();
        let e = rec.acknowledge_breakglass(&olga(), 20).unwrap_err();
        assert_eq!(e.code, ErrorCode::SelfApproval);
        let owner = Identity {
            human: Some("olga@example.com".into()),
            ..who("olga-alt", &["dba"])
        };
        assert_eq!(
            rec.acknowledge_breakglass(&owner, 20).unwrap_err().code,
            ErrorCode::SelfApproval
        );
        assert_eq!(
            rec.acknowledge_breakglass(&who("eve", &["dev"]), 20)
                .unwrap_err()
                .code,
            ErrorCode::Forbidden
        );
        let events = rec
            .acknowledge_breakglass(&who("dan", &["dba"]), 20)
            .unwrap();
        assert_eq!(events[0].kind, EventKind::BreakGlassAcknowledged);
        assert_eq!(events[0].detail["late"], false);
        assert!(events[0].detail.get("to").is_none());
        let ack = rec
            .breakglass
            .as_ref()
            .unwrap()
            .acknowledged
            .as_ref()
            .unwrap();
        assert_eq!((ack.by.subject.as_str(), ack.at), ("dan", 20));
        let e = rec
            .acknowledge_breakglass(&who("sam", &["oncall"]), 30)
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::Conflict);
        // The breaker of someone else's agent's request may not acknowledge either: the
        // rule is about who broke the glass, not only whose agent asked.
        let mut other = held(oncall());
        other.agent.human = Some("pat@example.com".into());
        other.break_glass(&olga(), Some(WHY), 10, 1000).unwrap();
        assert_eq!(
            other.acknowledge_breakglass(&olga(), 20).unwrap_err().code,
            ErrorCode::SelfApproval
        );
        assert!(e.message.contains("already acknowledged by dan"));
        // Acknowledged: never overdue.
        assert!(rec.mark_breakglass_overdue(5000).is_none());
    }

    #[test]
    fn the_notice_names_who_what_why_and_the_deadline_for_every_group() {
        let mut rec = held(oncall());
        assert!(notice(&rec, "https://l", Loud::Used).is_none());
        rec.break_glass(&olga(), Some(WHY), 10, 1000).unwrap();
        let (subject, bodies) = notice(&rec, "https://l", Loud::Used).unwrap();
        assert!(
            subject.starts_with("BREAK-GLASS: olga approved dynamodb:DeleteTable"),
            "{subject}"
        );
        assert!(bodies["email"].as_str().unwrap().contains(WHY));
        assert!(
            bodies["email"]
                .as_str()
                .unwrap()
                .contains("`dba`, `oncall`")
        );
        let machine: serde_json::Value =
            serde_json::from_str(bodies["lambda"].as_str().unwrap()).unwrap();
        assert_eq!(machine["type"], "breakglass_used");
        assert_eq!(machine["groups"], json!(["dba", "oncall"]));
        assert_eq!(machine["breakglass"]["justification"], WHY);
        assert_eq!(crate::notice::kind(&bodies), "breakglass_used");
        let (subject, _) = notice(&rec, "https://l", Loud::Overdue).unwrap();
        assert!(subject.contains("NOT ACKNOWLEDGED"), "{subject}");
    }

    #[test]
    fn an_unacknowledged_use_is_alarmed_once_after_its_deadline() {
        let mut rec = held(oncall());
        assert!(rec.mark_breakglass_overdue(5000).is_none());
        rec.break_glass(&olga(), Some(WHY), 10, 1000).unwrap();
        assert!(rec.mark_breakglass_overdue(1010).is_none(), "not yet due");
        let ev = rec.mark_breakglass_overdue(1011).unwrap();
        assert_eq!(ev.kind, EventKind::BreakGlassOverdue);
        assert_eq!(
            rec.breakglass.as_ref().unwrap().overdue_alarmed_at,
            Some(1011)
        );
        assert!(rec.mark_breakglass_overdue(2000).is_none(), "once");
        // Still acknowledgeable, and marked late.
        let ev = rec
            .acknowledge_breakglass(&who("sam", &["oncall"]), 3000)
            .unwrap();
        assert_eq!(ev[0].detail["late"], true);
    }
}
