//! The approval notice: one SNS message with a body per protocol.

use serde_json::{Value, json};
use tollgate_aws::settings::Settings;
use tollgate_core::{RequestRecord, link};

pub fn approval_link(rec: &RequestRecord, settings: &Settings) -> String {
    let expires = rec.expires_at.unwrap_or(0);
    let k = link::sign(&settings.link_key, &rec.id, expires);
    format!("{}/v1/approvals/{}?k={k}", settings.public_url, rec.id)
}

/// Subject and `MessageStructure: json` body.
pub fn approval_notice(rec: &RequestRecord, settings: &Settings) -> (String, Value) {
    let link = approval_link(rec, settings);
    let subject = format!("Approve {} for {}?", rec.request.action, rec.agent.name);
    let text = format!(
        "{agent} asks to run {action} in {region} (target {target}).\n\
         Resources: {resources}\n\
         Reason: {reason}\n\
         Policy: {policy}\n\
         Approvals needed: {need}\n\
         Deadline (unix ms): {deadline}\n\n\
         Review: {link}\n\
         Decide: tollgate approve {id}   or   tollgate reject {id} --comment \"...\"\n",
        agent = rec.agent.name,
        action = rec.request.action,
        region = rec.request.region,
        target = rec.request.target,
        resources = rec.resources.join(", "),
        reason = rec.request.reason.as_deref().unwrap_or("(none given)"),
        policy = rec.decision.reason,
        need = rec.decision.required_approvals(),
        deadline = rec.expires_at.unwrap_or(0),
        id = rec.id,
    );
    let machine = json!({
        "type": "approval_requested",
        "request_id": rec.id,
        "action": rec.request.action.to_string(),
        "agent": rec.agent.name,
        "reason": rec.request.reason,
        "link": link,
    });
    (
        subject,
        json!({
            "default": text,
            "email": text,
            "http": machine.to_string(),
            "https": machine.to_string(),
        }),
    )
}
