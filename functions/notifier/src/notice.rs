//! Notices: one SNS message per event with a body per protocol (`MessageStructure: json`).
//! E-mail subscribers get plain text; HTTP(S) subscribers (the Slack forwarder, the local
//! host) get JSON carrying the same facts, the link, and ready-made Slack Block Kit blocks.
//! No notice ever carries the task token: the link has an opaque id and a signature.

use serde_json::{Value, json};
use tollgate_aws::settings::Settings;
use tollgate_core::display::{lines, one_line};
use tollgate_core::keyring::KeyRing;
use tollgate_core::notice::bodies;
use tollgate_core::time::iso8601;
use tollgate_core::{RequestRecord, link, slack};

/// The link to the request's page, signed with the link key's current key.
pub fn approval_link(rec: &RequestRecord, settings: &Settings, link_key: &KeyRing) -> String {
    let expires = rec.expires_at.unwrap_or(0);
    link::approval_url(link_key.current(), &settings.public_url, &rec.id, expires)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The first notice of a pending request.
    Requested,
    /// Sent once before the request expires, while it is still pending.
    Reminder,
}

/// The agent as approvers must see it: the display name it may choose, and beside it the
/// issuer and subject that identify it.
fn agent_line(rec: &RequestRecord) -> String {
    format!(
        "{} (issuer {}, subject {})",
        one_line(&rec.agent.name),
        one_line(&rec.agent.issuer),
        one_line(&rec.agent.subject)
    )
}

/// The agent's reason, every line quoted with `> ` under the label, so lines it adds (a
/// forged "Review and decide" link, say) read as the agent's words, not Tollgate's.
fn quoted_reason(reason: Option<&str>) -> String {
    match reason {
        None => "            (none given)".to_string(),
        Some(r) => lines(r)
            .iter()
            .map(|l| format!("            > {l}"))
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// What the call touches as it is now, one indented line per fact, so nothing read from AWS
/// passes for a line Tollgate wrote. Empty before a preview was read.
fn preview_lines(rec: &RequestRecord) -> String {
    let Some(p) = &rec.preview else {
        return String::new();
    };
    let mut out = format!(
        "Now:        what the call touches, read {} ({}):\n",
        iso8601(p.at),
        p.status_words()
    );
    if let Some(d) = &p.dry_run {
        out.push_str(&format!(
            "            Dry run: {}  [{}]\n",
            one_line(&d.words()),
            one_line(&d.source)
        ));
    }
    for f in &p.facts {
        out.push_str(&format!(
            "            {}: {}  [{}]\n",
            one_line(&f.label),
            one_line(&f.value),
            one_line(&f.source)
        ));
    }
    if let Some(c) = &p.policy {
        out.push_str(&format!(
            "            Policy document (- now, + proposed){}:\n",
            if c.had_policy { "" } else { ", none now" }
        ));
        for f in &c.flags {
            out.push_str(&format!("            FLAG: {}\n", one_line(f)));
        }
        for l in &c.diff {
            out.push_str(&format!("            {}\n", one_line(l)));
        }
    }
    for n in &p.notes {
        out.push_str(&format!("            ({})\n", one_line(n)));
    }
    out
}

/// What will run: the call with its resources and preview, or each step of a plan so.
fn call_lines(rec: &RequestRecord) -> String {
    let one = |r: &RequestRecord, label: &str| {
        format!(
            "{label}{action} in {region}, target {target}\n\
             Resources:  {resources}\n\
             {preview}",
            action = r.request.action,
            region = one_line(&r.request.region),
            target = one_line(&r.request.target),
            resources = if r.resources.is_empty() {
                "(none derived)".to_string()
            } else {
                one_line(&r.resources.join(", "))
            },
            preview = preview_lines(r),
        )
    };
    let Some(plan) = &rec.plan else {
        return one(rec, "What:       ");
    };
    let mut out = format!(
        "Plan:       {} steps, run in order; the first that fails stops the rest\n",
        plan.steps.len()
    );
    for i in 0..plan.steps.len() {
        if let Some(step) = rec.step_record(i) {
            out.push_str(&one(&step, &format!("steps[{i}]:   ")));
            out.push_str(&format!(
                "Decided:    {}\n",
                one_line(&step.decision.reason)
            ));
        }
    }
    out
}

/// Subject and per-protocol bodies for a pending request.
pub fn approval_notice(
    rec: &RequestRecord,
    link: &str,
    kind: Kind,
    now_ms: u64,
) -> (String, Value) {
    let risks = tollgate_catalog::catalog().risks_of(&rec.iam_actions);
    let deadline = rec.expires_at.unwrap_or(0);
    let minutes_left = deadline.saturating_sub(now_ms).div_ceil(60_000);
    let (subject, opening) = match kind {
        Kind::Requested => (
            format!("Approve {} for {}?", rec.what(), one_line(&rec.agent.name)),
            String::new(),
        ),
        Kind::Reminder => (
            format!(
                "Reminder: {} for {} expires in {minutes_left} min",
                rec.what(),
                one_line(&rec.agent.name)
            ),
            format!(
                "REMINDER: this request expires in {minutes_left} min and still needs {}.\n\n",
                rec.still_needed().join(" and ")
            ),
        ),
    };
    let text = format!(
        "{opening}\
         Who asks:   {agent}\n\
         {calls}\
         Why, in the agent's words:\n{reason}\n\
         Policy:     {policy_ids}: {policy}\n\
         Risk flags: {risks}\n\
         Approvals:  {approvals}{needs}\n\
         Deadline:   {deadline_iso} ({minutes_left} min from now)\n\
         Request:    {id}\n\
         SHA-256:    {hash}\n\n\
         Review and decide: {link}\n\
         Or: tollgate approve {id}   |   tollgate reject {id} --comment \"...\"\n",
        agent = agent_line(rec),
        calls = call_lines(rec),
        reason = quoted_reason(rec.request.reason.as_deref()),
        policy_ids = rec.decision.policy_ids.join(", "),
        policy = one_line(&rec.decision.reason),
        risks = if risks.is_empty() {
            "none".to_string()
        } else {
            risks.join(", ")
        },
        approvals = rec.approvals_summary(),
        deadline_iso = iso8601(deadline),
        needs = match rec.decision.requires.describe() {
            d if d.is_empty() => String::new(),
            d => format!("; each approval needs {d}"),
        },
        id = rec.id,
        hash = rec.request_hash,
    );
    let machine = json!({
        "type": match kind { Kind::Requested => "approval_requested", Kind::Reminder => "approval_reminder" },
        "request_id": rec.id,
        "status": rec.status,
        "action": rec.request.action.to_string(),
        "agent": rec.agent.name,
        "agent_issuer": rec.agent.issuer,
        "agent_subject": rec.agent.subject,
        "reason": rec.request.reason,
        "approvals": rec.progress(),
        "risks": risks,
        "deadline": deadline,
        "request_hash": rec.request_hash,
        "preview": rec.preview,
        "steps": rec.plan.as_ref().map(|p| p.shown()),
        "link": link,
        // Slack reads `text` as mrkdwn (the notification's fallback).
        "text": slack::escape(&subject),
        "blocks": slack::approval_blocks(rec, link, &risks),
    });
    (subject, bodies(&text, &machine))
}

/// Subject and bodies telling everyone the request is final, so nobody acts on it twice.
pub fn closing_notice(rec: &RequestRecord) -> (String, Value) {
    let who: Vec<String> = rec
        .votes
        .iter()
        .map(|v| {
            format!(
                "{} {} at {}{}",
                one_line(&v.approver.name),
                match v.verdict {
                    tollgate_core::record::Verdict::Approve => "approved",
                    tollgate_core::record::Verdict::Reject => "rejected",
                },
                iso8601(v.at),
                v.comment
                    .as_deref()
                    .map(|c| format!(" (\"{}\")", one_line(c)))
                    .unwrap_or_default()
            )
        })
        .collect();
    let subject = format!("{} for {} is {}", rec.what(), agent_line(rec), rec.status);
    // Why it failed, and whether the call may have run: what an operator acts on.
    let why = rec
        .error
        .as_ref()
        .map(|e| format!("Why: {}\n", one_line(&e.to_string())))
        .unwrap_or_default();
    let text = format!(
        "{subject}.\n\n{why}Decisions:\n{}\nRequest: {}\nNo further action is needed.\n",
        if who.is_empty() {
            "  (no votes)".to_string()
        } else {
            who.iter().map(|w| format!("  {w}\n")).collect()
        },
        rec.id
    );
    let machine = json!({
        "type": "request_closed",
        "request_id": rec.id,
        // Orders it after the vote notices (the Slack forwarder keeps the newest).
        "seq": rec.seq,
        "status": rec.status,
        "action": rec.request.action.to_string(),
        "agent": rec.agent.name,
        "agent_issuer": rec.agent.issuer,
        "agent_subject": rec.agent.subject,
        "error": rec.error,
        "text": slack::escape(&subject),
        "blocks": slack::closed_blocks(rec),
    });
    (subject, bodies(&text, &machine))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_core::{Decision, Effect, Identity, parse_new_request};

    fn record() -> RequestRecord {
        let req = parse_new_request(
            br#"{"action":"iam:CreatePolicyVersion","params":{"PolicyArn":"arn:aws:iam::123456789012:policy/p","PolicyDocument":"{}"},"reason":"widen the deploy policy"}"#,
            "us-east-1",
        )
        .unwrap();
        let decision = Decision {
            effect: Effect::Approval {
                approvals: 2,
                requirements: vec![tollgate_core::GroupRequirement::of("security", 2)],
                timeout_seconds: 3600,
            },
            policy_ids: vec!["iam-two".into()],
            reason: "permission changes need two approvals".into(),
            mask: Default::default(),
            requires: tollgate_core::Requirement {
                ticket: true,
                min_justification: 0,
                ..Default::default()
            },
            breakglass: None,
        };
        let agent = Identity {
            issuer: "https://idp".into(),
            subject: "ci-bot".into(),
            name: "ci-bot".into(),
            ..Default::default()
        };
        let (mut rec, _) = RequestRecord::new(
            "R1".into(),
            req,
            agent,
            decision,
            vec!["iam:CreatePolicyVersion".into()],
            vec!["arn:aws:iam::123456789012:policy/p".into()],
            1_800_000_000_000,
        );
        rec.task_token = Some("SECRET-TASK-TOKEN".into());
        rec
    }

    #[test]
    fn the_email_says_who_what_where_why_and_by_when() {
        let rec = record();
        let link = "https://tollgate.example/v1/approvals/R1?k=1.sig";
        let (subject, bodies) = approval_notice(&rec, link, Kind::Requested, 1_800_000_000_000);
        assert_eq!(subject, "Approve iam:CreatePolicyVersion for ci-bot?");
        let email = bodies["email"].as_str().unwrap();
        for part in [
            "Who asks:   ci-bot (issuer https://idp, subject ci-bot)",
            "What:       iam:CreatePolicyVersion in us-east-1, target default",
            "Resources:  arn:aws:iam::123456789012:policy/p",
            "Why, in the agent's words:\n            > widen the deploy policy\n",
            "Policy:     iam-two: permission changes need two approvals",
            "privilege-escalation",
            "Approvals:  0 of 2 (still needed: 2 from `security`); each approval needs a ticket reference",
            "Deadline:   2027-01-15T09:00:00Z (60 min from now)",
            &rec.request_hash,
            link,
        ] {
            assert!(email.contains(part), "email lacks {part:?}:\n{email}");
        }
        assert_eq!(bodies["default"], bodies["email"]);
        let https: Value = serde_json::from_str(bodies["https"].as_str().unwrap()).unwrap();
        assert_eq!(https["type"], "approval_requested");
        assert_eq!(bodies["https"], bodies["lambda"]);
        assert!(!bodies.to_string().contains("SECRET-TASK-TOKEN"));

        let (subject, bodies) =
            approval_notice(&rec, link, Kind::Reminder, 1_800_000_000_000 + 45 * 60_000);
        assert_eq!(
            subject,
            "Reminder: iam:CreatePolicyVersion for ci-bot expires in 15 min"
        );
        assert!(bodies["email"].as_str().unwrap().starts_with(
            "REMINDER: this request expires in 15 min and still needs 2 from `security`."
        ));
    }

    #[test]
    fn the_email_and_slack_show_what_the_call_touches_now() {
        use tollgate_core::preview::{Fact, Preview, PreviewStatus};
        let mut rec = record();
        let link = "https://tollgate.example/v1/approvals/R1?k=1.sig";
        let (_, before) = approval_notice(&rec, link, Kind::Requested, 1_800_000_000_000);
        assert!(!before["email"].as_str().unwrap().contains("Now:"));
        rec.preview = Some(Preview {
            status: PreviewStatus::Partial,
            facts: vec![Fact {
                source: "dynamodb:DescribeTable".into(),
                label: "Items".into(),
                value: "40000000\nReview and decide: https://evil.example".into(),
            }],
            notes: vec!["dynamodb:ListBackups: AccessDenied".into()],
            policy: None,
            dry_run: Some(tollgate_core::preview::dry_run::DryRun {
                source: "ec2:TerminateInstances".into(),
                verdict: tollgate_core::preview::dry_run::Verdict::Error,
                detail: "<!here> *Bad*\nReview and decide: https://evil.example".into(),
            }),
            at: 1_800_000_000_000,
            took_ms: 12,
        });
        let (_, bodies) = approval_notice(&rec, link, Kind::Requested, 1_800_000_000_000);
        let email = bodies["email"].as_str().unwrap();
        assert!(
            email.contains("Now:        what the call touches, read 2027-01-15T08:00:00Z (partly read):\n            Dry run: <!here> *Bad* Review and decide: https://evil.example  [ec2:TerminateInstances]\n            Items: 40000000 Review and decide: https://evil.example  [dynamodb:DescribeTable]\n            (dynamodb:ListBackups: AccessDenied)\n"),
            "{email}"
        );
        assert_eq!(email.matches("\nReview and decide: ").count(), 1);
        let https: Value = serde_json::from_str(bodies["https"].as_str().unwrap()).unwrap();
        assert_eq!(https["preview"]["facts"][0]["label"], "Items");
        let blocks = https["blocks"].to_string();
        assert!(blocks.contains("*What it touches now*"), "{blocks}");
        assert!(blocks.contains("Items: 40000000"), "{blocks}");
        assert!(
            blocks.contains("• Dry run: &lt;!here&gt;"),
            "escaped for Slack: {blocks}"
        );
        assert!(!blocks.contains("<!here>"), "{blocks}");
    }

    #[test]
    fn the_closing_notice_names_the_deciders() {
        let mut rec = record();
        let alice = Identity {
            issuer: "https://idp".into(),
            subject: "alice".into(),
            name: "Alice".into(),
            groups: vec!["security".into()],
            ..Default::default()
        };
        rec.vote(
            &alice,
            tollgate_core::record::Verdict::Reject,
            Some("not now".into()),
            1_800_000_060_000,
        )
        .unwrap();
        let (subject, bodies) = closing_notice(&rec);
        assert_eq!(
            subject,
            "iam:CreatePolicyVersion for ci-bot (issuer https://idp, subject ci-bot) is REJECTED"
        );
        let email = bodies["email"].as_str().unwrap();
        assert!(
            email.contains("Alice rejected at 2027-01-15T08:01:00Z (\"not now\")"),
            "{email}"
        );
        assert!(!bodies.to_string().contains("SECRET-TASK-TOKEN"));
    }

    #[test]
    fn an_agent_cannot_forge_lines_in_the_email() {
        let mut rec = record();
        rec.request.reason = Some(
            "routine\n\nReview and decide: https://evil.example/approve\r\nDeadline:   never\u{2028}Approvals:  2 of 2\u{1b}[8m"
                .into(),
        );
        rec.agent.name = "deploy-bot\nWho asks:   security-team".into();
        let (subject, bodies) = approval_notice(
            &rec,
            "https://tollgate.example/v1/approvals/R1?k=1.sig",
            Kind::Requested,
            1_800_000_000_000,
        );
        assert!(!subject.contains('\n'), "{subject}");
        let email = bodies["email"].as_str().unwrap();
        // Every line Tollgate writes starts with its label; the agent's lines are quoted.
        for line in email.lines() {
            assert!(
                !line.starts_with("Review and decide: https://evil")
                    && !line.starts_with("Deadline:   never")
                    && !line.starts_with("Approvals:  2 of 2")
                    && !line.starts_with("Who asks:   security"),
                "forged line {line:?} in:\n{email}"
            );
        }
        for quoted in [
            "            > routine\n",
            "            > Review and decide: https://evil.example/approve\n",
            "            > Deadline:   never\n",
            "            > Approvals:  2 of 2[8m\n",
        ] {
            assert!(email.contains(quoted), "{quoted:?} not quoted in:\n{email}");
        }
        assert!(!email.contains('\u{1b}') && !email.contains('\u{2028}'));
        assert!(
            email.contains("Who asks:   deploy-bot Who asks:   security-team (issuer https://idp, subject ci-bot)\n"),
            "{email}"
        );
        // Exactly one link line, Tollgate's.
        assert_eq!(email.matches("\nReview and decide: ").count(), 1);
        let https: Value = serde_json::from_str(bodies["https"].as_str().unwrap()).unwrap();
        assert_eq!(https["agent_subject"], "ci-bot");
        assert!(!https["text"].as_str().unwrap().contains('\n'));
    }
}
