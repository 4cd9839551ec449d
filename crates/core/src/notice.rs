//! What every notice shares: one SNS message with a body per protocol (`MessageStructure:
//! json`): plain text for e-mail, JSON with ready-made Slack blocks for the forwarder and
//! HTTP subscribers. And the notice the API sends after a vote, so the Slack message shows
//! every vote as it is cast. Notices never carry the task token.

use serde_json::{Value, json};

use crate::display::one_line;
use crate::record::{RequestRecord, Verdict};
use crate::slack;

/// The per-protocol bodies of one notice.
pub fn bodies(text: &str, machine: &Value) -> Value {
    json!({
        "default": text,
        "email": text,
        "http": machine.to_string(),
        "https": machine.to_string(),
        // The Slack forwarder's Lambda subscription.
        "lambda": machine.to_string(),
    })
}

/// A notice's kind (`approval_requested`, `vote_recorded`, `request_closed`, ...), from its
/// machine body; `notice` when it has none. Sent as the SNS message attribute `type`, so a
/// subscription can filter: the e-mail subscription skips vote notices, which only the Slack
/// message needs (it is updated in place; an inbox would get one e-mail per vote).
pub fn kind(bodies: &Value) -> String {
    bodies
        .get("lambda")
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|m| m.get("type").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "notice".to_string())
}

/// Subject and bodies after a vote: who voted how, where the approvals stand, and the
/// request's Slack blocks as they are now (still with the buttons while it is pending), for
/// the forwarder to replace the posted message with. `seq` orders notices of one request,
/// so a late delivery never replaces a newer message. `None` before any vote.
pub fn vote_notice(rec: &RequestRecord, link: &str, risks: &[String]) -> Option<(String, Value)> {
    let vote = rec.votes.last()?;
    let verb = match vote.verdict {
        Verdict::Approve => "approved",
        Verdict::Reject => "rejected",
    };
    let subject = format!(
        "{} {verb} {} for {}: {}",
        one_line(&vote.approver.name),
        rec.request.action,
        one_line(&rec.agent.name),
        rec.approvals_summary()
    );
    let text = format!(
        "{subject}\n\n{}Status:     {}\nRequest:    {}\n\nReview: {link}\n",
        vote.comment
            .as_deref()
            .map(|c| format!("Comment:    \"{}\"\n", one_line(c)))
            .unwrap_or_default(),
        rec.status,
        rec.id,
    );
    let blocks = if rec.status == crate::Status::Pending {
        slack::approval_blocks(rec, link, risks)
    } else {
        slack::closed_blocks(rec)
    };
    let machine = json!({
        "type": "vote_recorded",
        "request_id": rec.id,
        "seq": rec.seq,
        "status": rec.status,
        "approvals": rec.progress(),
        "text": slack::escape(&subject),
        "blocks": blocks,
    });
    Some((subject, bodies(&text, &machine)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_notice_says_its_kind_for_subscription_filters() {
        let b = bodies("t", &json!({"type": "vote_recorded", "request_id": "r"}));
        assert_eq!(kind(&b), "vote_recorded");
        assert_eq!(kind(&bodies("t", &json!({"request_id": "r"}))), "notice");
        assert_eq!(kind(&json!({"default": "t"})), "notice");
    }
    use crate::decision::{Decision, Effect, GroupRequirement};

    fn record() -> RequestRecord {
        let req = crate::parse_new_request(
            br#"{"action":"dynamodb:DeleteTable","params":{"TableName":"t"},"reason":"r"}"#,
            "us-east-1",
        )
        .unwrap();
        let decision = Decision {
            effect: Effect::Approval {
                approvals: 2,
                requirements: vec![GroupRequirement::of("dba", 2)],
                timeout_seconds: 60,
            },
            policy_ids: vec![],
            reason: String::new(),
            mask: Default::default(),
            requires: Default::default(),
            breakglass: None,
        };
        let agent = crate::Identity {
            issuer: "https://idp".into(),
            subject: "bot".into(),
            name: "bot".into(),
            ..Default::default()
        };
        RequestRecord::new("R1".into(), req, agent, decision, vec![], vec![], 1).0
    }

    fn approver(sub: &str) -> crate::Identity {
        crate::Identity {
            issuer: "https://idp".into(),
            subject: sub.into(),
            name: format!("{sub}\nReview: https://evil.example"),
            groups: vec!["dba".into()],
            ..Default::default()
        }
    }

    #[test]
    fn a_vote_notice_keeps_the_buttons_while_pending_and_orders_by_seq() {
        let mut rec = record();
        assert!(vote_notice(&rec, "https://t/x", &[]).is_none());
        rec.vote(
            &approver("alice"),
            Verdict::Approve,
            Some("ok\nfine".into()),
            5,
        )
        .unwrap();
        let (subject, bodies) = vote_notice(&rec, "https://t/x", &[]).unwrap();
        assert!(
            subject.starts_with(
                "alice Review: https://evil.example approved dynamodb:DeleteTable for bot: 1 of 2"
            ),
            "{subject}"
        );
        let text = bodies["email"].as_str().unwrap();
        assert!(text.contains("Comment:    \"ok fine\"\n"), "{text}");
        assert_eq!(
            text.matches("Review:").count(),
            2,
            "one in the name's one line, one link: {text}"
        );
        assert!(
            text.lines().filter(|l| l.starts_with("Review:")).count() == 1,
            "{text}"
        );
        let machine: Value = serde_json::from_str(bodies["lambda"].as_str().unwrap()).unwrap();
        assert_eq!(machine["type"], "vote_recorded");
        assert_eq!(machine["seq"], rec.seq);
        assert!(
            machine["blocks"]
                .to_string()
                .contains("\"action_id\":\"approve\"")
        );
        rec.vote(&approver("bob"), Verdict::Reject, Some("no".into()), 6)
            .unwrap();
        let (_, bodies) = vote_notice(&rec, "https://t/x", &[]).unwrap();
        let machine: Value = serde_json::from_str(bodies["lambda"].as_str().unwrap()).unwrap();
        assert_eq!(machine["status"], "REJECTED");
        assert!(
            !machine["blocks"].to_string().contains("button"),
            "{machine}"
        );
    }
}
