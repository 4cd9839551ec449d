//! Notices: one SNS message per event with a body per protocol (`MessageStructure: json`).
//! E-mail subscribers get plain text; HTTP(S) subscribers (the Slack forwarder, the local
//! host) get JSON carrying the same facts, the link, and ready-made Slack Block Kit blocks.
//! No notice ever carries the task token: the link has an opaque id and a signature.

use serde_json::{Value, json};
use tollgate_aws::settings::Settings;
use tollgate_core::time::iso8601;
use tollgate_core::{RequestRecord, link, slack};

pub fn approval_link(rec: &RequestRecord, settings: &Settings) -> String {
    let expires = rec.expires_at.unwrap_or(0);
    let k = link::sign(&settings.link_key, &rec.id, expires);
    format!("{}/v1/approvals/{}?k={k}", settings.public_url, rec.id)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The first notice of a pending request.
    Requested,
    /// Sent once before the request expires, while it is still pending.
    Reminder,
}

/// Subject and per-protocol bodies for a pending request.
pub fn approval_notice(
    rec: &RequestRecord,
    settings: &Settings,
    kind: Kind,
    now_ms: u64,
) -> (String, Value) {
    let link = approval_link(rec, settings);
    let risks = tollgate_catalog::catalog().risks_of(&rec.iam_actions);
    let deadline = rec.expires_at.unwrap_or(0);
    let minutes_left = deadline.saturating_sub(now_ms).div_ceil(60_000);
    let (subject, opening) = match kind {
        Kind::Requested => (
            format!("Approve {} for {}?", rec.request.action, rec.agent.name),
            String::new(),
        ),
        Kind::Reminder => (
            format!(
                "Reminder: {} for {} expires in {minutes_left} min",
                rec.request.action, rec.agent.name
            ),
            format!(
                "REMINDER: this request expires in {minutes_left} min and still needs {} more approval(s).\n\n",
                rec.decision
                    .required_approvals()
                    .saturating_sub(rec.approvers().len() as u32)
            ),
        ),
    };
    let group = match &rec.decision.effect {
        tollgate_core::Effect::Approval {
            approvers: Some(g), ..
        } => format!(" from group {g}"),
        _ => String::new(),
    };
    let text = format!(
        "{opening}\
         Who asks:   {agent} ({issuer})\n\
         What:       {action} in {region}, target {target}\n\
         Resources:  {resources}\n\
         Why:        {reason}\n\
         Policy:     {policy_ids}: {policy}\n\
         Risk flags: {risks}\n\
         Approvals:  {have} of {need}{group}{needs}\n\
         Deadline:   {deadline_iso} ({minutes_left} min from now)\n\
         Request:    {id}\n\
         SHA-256:    {hash}\n\n\
         Review and decide: {link}\n\
         Or: tollgate approve {id}   |   tollgate reject {id} --comment \"...\"\n",
        agent = rec.agent.name,
        issuer = rec.agent.issuer,
        action = rec.request.action,
        region = rec.request.region,
        target = rec.request.target,
        resources = if rec.resources.is_empty() {
            "(none derived)".to_string()
        } else {
            rec.resources.join(", ")
        },
        reason = rec.request.reason.as_deref().unwrap_or("(none given)"),
        policy_ids = rec.decision.policy_ids.join(", "),
        policy = rec.decision.reason,
        risks = if risks.is_empty() {
            "none".to_string()
        } else {
            risks.join(", ")
        },
        have = rec.approvers().len(),
        need = rec.decision.required_approvals(),
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
        "reason": rec.request.reason,
        "risks": risks,
        "deadline": deadline,
        "request_hash": rec.request_hash,
        "link": link,
        "text": subject,
        "blocks": slack::approval_blocks(rec, &link, &risks),
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
                v.approver.name,
                match v.verdict {
                    tollgate_core::record::Verdict::Approve => "approved",
                    tollgate_core::record::Verdict::Reject => "rejected",
                },
                iso8601(v.at),
                v.comment
                    .as_deref()
                    .map(|c| format!(" (\"{c}\")"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let subject = format!(
        "{} for {} is {}",
        rec.request.action, rec.agent.name, rec.status
    );
    let text = format!(
        "{subject}.\n\nDecisions:\n{}\nRequest: {}\nNo further action is needed.\n",
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
        "status": rec.status,
        "action": rec.request.action.to_string(),
        "agent": rec.agent.name,
        "text": subject,
        "blocks": slack::closed_blocks(rec),
    });
    (subject, bodies(&text, &machine))
}

fn bodies(text: &str, machine: &Value) -> Value {
    json!({
        "default": text,
        "email": text,
        "http": machine.to_string(),
        "https": machine.to_string(),
        // The Slack forwarder's Lambda subscription.
        "lambda": machine.to_string(),
    })
}
