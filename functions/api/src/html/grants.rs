//! What the pages show of grants: the approve form's grant fields, spelled out, and the
//! inbox's live grants with their Revoke buttons.

use tollgate_core::RequestRecord;
use tollgate_core::grant::{Grant, GrantState};

use super::esc;

/// The approve form's "allow this again" fields, when the request's policy allows a grant:
/// exactly what a grant would let run again (agent, action, resources, the same parameters)
/// and the policy's bound. Empty when no grant may be offered.
pub(crate) fn grant_fields(rec: &RequestRecord) -> String {
    let Some(bound) = rec.decision.requires.grant.filter(|_| rec.plan.is_none()) else {
        return String::new();
    };
    let resources = if rec.resources.is_empty() {
        "<li>(none derived from the parameters)</li>".to_string()
    } else {
        rec.resources
            .iter()
            .map(|r| format!("<li><code>{}</code></li>", esc(r)))
            .collect()
    };
    format!(
        r#"<fieldset class="grant"><legend>Allow this again (optional)</legend>
<p>Approving with a grant lets <strong>{agent}</strong> run <code>{action}</code> in <code>{target}</code> / <code>{region}</code> on</p>
<ul>{resources}</ul>
<p>again, with <strong>exactly the same parameters</strong> as above (only the reason may differ), without asking you: each run is a request of its own, recorded with this grant and your name. Leave both empty for no grant. This request's policy allows at most {max_uses} times within {max_minutes} minutes; with several approvers, the grant is what every one of them offered, the fewest times and the shortest time.</p>
<label for="grant-uses">Allow again: up to this many times</label>
<input id="grant-uses" name="grant_uses" type="number" min="1" max="{max_uses}" inputmode="numeric">
<label for="grant-minutes">within this many minutes</label>
<input id="grant-minutes" name="grant_minutes" type="number" min="1" max="{max_minutes}" inputmode="numeric">
</fieldset>"#,
        agent = esc(&rec.agent.name),
        action = esc(&rec.request.action.to_string()),
        target = esc(&rec.request.target),
        region = esc(&rec.request.region),
        max_uses = bound.max_uses,
        max_minutes = bound.max_minutes(),
    )
}

/// The inbox's section of live grants, each spelled out with a Revoke form; `csrf` makes the
/// token for a grant's form.
pub(crate) fn live_section(grants: &[Grant], now: u64, csrf: impl Fn(&str) -> String) -> String {
    let live: Vec<&Grant> = grants
        .iter()
        .filter(|g| g.state(now) == GrantState::Live)
        .collect();
    let items: String = if live.is_empty() {
        "<li>No live grant.</li>".to_string()
    } else {
        live.iter()
            .map(|g| {
                let approvers: Vec<String> = g.approvers.iter().map(|a| esc(&a.name)).collect();
                format!(
                    r#"<li class="grant" id="grant-{id}"><strong>{agent}</strong> may run <code>{action}</code> on {resources} again with the same parameters: <strong>{left} of {max}</strong> uses left, {time}.
<br><small>Grant <code>{id}</code> · approved by {approvers} · from request <a href="/v1/inbox/{request}">{request}</a></small>
<form method="post" action="/v1/inbox/grants/{id}/revoke"><input type="hidden" name="csrf" value="{csrf}"><button class="reject" type="submit">Revoke grant</button></form></li>"#,
                    id = esc(&g.id),
                    agent = esc(&g.agent.name),
                    action = esc(&g.action),
                    resources = if g.resources.is_empty() {
                        "(no resource derived)".to_string()
                    } else {
                        g.resources
                            .iter()
                            .map(|r| format!("<code>{}</code>", esc(r)))
                            .collect::<Vec<_>>()
                            .join(", ")
                    },
                    left = g.max_uses.saturating_sub(g.uses),
                    max = g.max_uses,
                    time = esc(&super::request::time_left(now, Some(g.expires_at))),
                    approvers = approvers.join(", "),
                    request = esc(&g.request_id),
                    csrf = esc(&csrf(&g.id)),
                )
            })
            .collect()
    };
    format!("<h2>Live grants</h2><ul class=\"inbox grants\">{items}</ul>")
}
