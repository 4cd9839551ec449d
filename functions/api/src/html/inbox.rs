//! The approver inbox as a page: the filters (a GET form, so it works without scripts), what
//! waits for the approver, the recent decisions. Agent names, actions, resources and
//! comments are the agent's or other people's words: every one goes through [`esc`].

use tollgate_core::inbox::{Filter, View};
use tollgate_core::time::iso8601;
use tollgate_core::{RequestRecord, Status};

use super::esc;
use super::request::{flags_html, resources_html, time_left, vote_html};

/// Resources listed per request; the request's page has them all.
const RESOURCES_SHOWN: usize = 3;

/// How a section's requests are shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Deadline, resources, risk flags and votes: what an approver decides on.
    Waiting,
    /// Outcome, who voted and when.
    Decided,
}

pub(crate) struct Section {
    pub title: String,
    pub layout: Layout,
    pub requests: Vec<RequestRecord>,
    pub empty: &'static str,
}

/// The page's body.
pub(crate) struct Inbox<'a> {
    /// The sign-out line ("Signed in as ...").
    pub who_html: String,
    pub filter: &'a Filter,
    /// Why this signed-in person is not an approver, when they are not.
    pub not_approver: Option<String>,
    pub sections: Vec<Section>,
    /// More requests matched than were read: the filters narrow it.
    pub truncated: bool,
    pub now: u64,
}

/// The link to one request's page in the inbox.
pub(crate) fn request_link(id: &str) -> String {
    format!("/v1/inbox/{}", url_part(id))
}

/// The inbox filtered to one agent.
fn agent_link(rec: &RequestRecord) -> String {
    let q: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("agent", &rec.agent.key())
        .finish();
    format!("/v1/inbox?{q}")
}

fn url_part(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

const STATUSES: [(&str, &str); 9] = [
    ("waiting", "Waiting for me"),
    ("pending", "Pending (all)"),
    ("approved", "Approved"),
    ("executing", "Running"),
    ("succeeded", "Succeeded"),
    ("failed", "Failed"),
    ("rejected", "Rejected"),
    ("expired", "Expired"),
    ("cancelled", "Cancelled"),
];

fn filters(f: &Filter) -> String {
    let current = match f.view {
        View::Waiting => "waiting".to_string(),
        View::Status(s) => s.as_str().to_ascii_lowercase(),
    };
    let options: String = STATUSES
        .iter()
        .map(|(value, label)| {
            format!(
                "<option value=\"{value}\"{}>{label}</option>",
                if *value == current { " selected" } else { "" }
            )
        })
        .collect();
    format!(
        r#"<form class="filters" method="get" action="/v1/inbox">
<label>Status <select name="status">{options}</select></label>
<label>Agent <input name="agent" value="{agent}" placeholder="name, subject or issuer#subject" maxlength="300"></label>
<label>Action <input name="action" value="{action}" placeholder="dynamodb:DeleteTable or dynamodb" maxlength="300"></label>
<button type="submit">Filter</button> <a href="/v1/inbox">Clear</a>
</form>"#,
        agent = esc(f.agent.as_deref().unwrap_or("")),
        action = esc(f.action.as_deref().unwrap_or("")),
    )
}

/// Who is asking: the chosen name, linked to the inbox filtered to this agent, and the
/// issuer and subject it cannot choose.
fn agent_html(rec: &RequestRecord) -> String {
    format!(
        "<a href=\"{}\">{}</a> <small>(<code>{}</code>, <code>{}</code>)</small>",
        esc(&agent_link(rec)),
        esc(&rec.agent.name),
        esc(&rec.agent.issuer),
        esc(&rec.agent.subject)
    )
}

fn waiting_item(rec: &RequestRecord, now: u64) -> String {
    format!(
        r#"<li><span class="left">{left}</span><a href="{link}"><strong>{action}</strong></a><br>
by {agent}<ul>{resources}</ul>Risk: {flags}<br>Votes: {votes}</li>"#,
        left = esc(&time_left(now, rec.expires_at)),
        link = esc(&request_link(&rec.id)),
        action = esc(&rec.request.action.to_string()),
        agent = agent_html(rec),
        resources = resources_html(&rec.resources, RESOURCES_SHOWN),
        flags = flags_html(rec),
        votes = esc(&rec.approvals_summary()),
    )
}

fn decided_item(rec: &RequestRecord, now: u64) -> String {
    let votes: Vec<String> = rec.votes.iter().map(vote_html).collect();
    let when = if rec.status == Status::Pending {
        time_left(now, rec.expires_at)
    } else {
        iso8601(rec.updated_at)
    };
    format!(
        r#"<li><span class="left">{when}</span><a href="{link}"><strong>{action}</strong></a> · <strong>{status}</strong><br>
by {agent}<br>Votes: {votes}</li>"#,
        when = esc(&when),
        link = esc(&request_link(&rec.id)),
        action = esc(&rec.request.action.to_string()),
        status = rec.status,
        agent = agent_html(rec),
        votes = if votes.is_empty() {
            "none".to_string()
        } else {
            votes.join("; ")
        },
    )
}

pub(crate) fn render(inbox: &Inbox<'_>) -> String {
    let mut out = inbox.who_html.clone();
    if let Some(why) = &inbox.not_approver {
        out.push_str(&format!("<p class=\"warn\">{}</p>", esc(why)));
    }
    out.push_str(&filters(inbox.filter));
    if inbox.truncated {
        out.push_str(
            "<p class=\"warn\">More requests match than one page reads: narrow the filters to see the rest.</p>",
        );
    }
    for s in &inbox.sections {
        out.push_str(&format!(
            "<h2>{} ({})</h2>",
            esc(&s.title),
            s.requests.len()
        ));
        if s.requests.is_empty() {
            out.push_str(&format!("<p><small>{}</small></p>", esc(s.empty)));
            continue;
        }
        let items: String = s
            .requests
            .iter()
            .map(|r| match s.layout {
                Layout::Waiting => waiting_item(r, inbox.now),
                Layout::Decided => decided_item(r, inbox.now),
            })
            .collect();
        out.push_str(&format!("<ul class=\"inbox\">{items}</ul>"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_core::record::Verdict;
    use tollgate_core::{Decision, Effect, GroupRequirement, Identity};

    /// A request whose every agent-chosen text is hostile.
    fn hostile() -> RequestRecord {
        let body = serde_json::json!({
            "action": "dynamodb:DeleteTable",
            "params": {"TableName": "t\"><script>alert(1)</script>"},
            "reason": "</li></ul><a href=\"https://evil.example\">Approve</a>"
        });
        let req =
            tollgate_core::parse_new_request(body.to_string().as_bytes(), "us-east-1").unwrap();
        let decision = Decision {
            effect: Effect::Approval {
                approvals: 1,
                requirements: vec![GroupRequirement::of("dba", 1)],
                timeout_seconds: 60,
            },
            policy_ids: vec!["p".into()],
            reason: "r".into(),
            mask: Default::default(),
            requires: Default::default(),
            breakglass: None,
        };
        let agent = Identity {
            issuer: "https://idp\"onmouseover=\"x".into(),
            subject: "<img src=x onerror=alert(1)>".into(),
            name: "<b>deploy-bot</b>&amp;".into(),
            ..Default::default()
        };
        let (mut rec, _) = RequestRecord::new(
            "R1".into(),
            req,
            agent,
            decision,
            vec!["dynamodb:DeleteTable".into()],
            vec!["arn:aws:dynamodb:us-east-1:1:table/<svg onload=alert(1)>".into()],
            1,
        );
        rec.expires_at = Some(120_000);
        rec
    }

    fn inbox_html(rec: RequestRecord, layout: Layout, filter: &Filter) -> String {
        render(&Inbox {
            who_html: String::new(),
            filter,
            not_approver: None,
            sections: vec![Section {
                title: "Waiting for you".into(),
                layout,
                requests: vec![rec],
                empty: "nothing",
            }],
            truncated: false,
            now: 0,
        })
    }

    #[test]
    fn hostile_names_resources_and_filters_are_escaped() {
        let filter = Filter::parse(
            Some("waiting"),
            Some("\"><script>alert(2)</script>"),
            Some("x\" autofocus onfocus=\"alert(3)"),
        )
        .unwrap();
        let html = inbox_html(hostile(), Layout::Waiting, &filter);
        for bad in [
            "<script",
            "<img",
            "<svg",
            "<b>",
            "\"onmouseover",
            "\" autofocus",
        ] {
            assert!(!html.contains(bad), "{bad} in {html}");
        }
        assert!(
            html.contains("&lt;b&gt;deploy-bot&lt;/b&gt;&amp;amp;"),
            "{html}"
        );
        assert!(
            html.contains("<code>&lt;img src=x onerror=alert(1)&gt;</code>"),
            "{html}"
        );
        assert!(
            html.contains("value=\"&quot;&gt;&lt;script&gt;alert(2)&lt;/script&gt;\""),
            "{html}"
        );
        // The agent filter link carries the key URL-encoded, then escaped.
        assert!(
            html.contains("href=\"/v1/inbox?agent=https%3A%2F%2Fidp%22onmouseover%3D%22x%23%3Cimg+src%3Dx+onerror%3Dalert%281%29%3E\""),
            "{html}"
        );
        assert!(html.contains("2 min left"), "{html}");
        assert!(
            html.contains("0 of 1 (still needed: 1 from `dba`)"),
            "{html}"
        );
        assert!(html.contains("href=\"/v1/inbox/R1\""), "{html}");
    }

    #[test]
    fn decided_items_escape_votes_and_comments() {
        let mut rec = hostile();
        let voter = Identity {
            issuer: "https://idp".into(),
            subject: "alice".into(),
            name: "<i>alice</i>".into(),
            groups: vec!["dba".into()],
            ..Default::default()
        };
        rec.vote(
            &voter,
            Verdict::Reject,
            Some("no</li><script>x</script>".into()),
            5,
        )
        .unwrap();
        let filter = Filter::parse(Some("rejected"), None, None).unwrap();
        let html = inbox_html(rec, Layout::Decided, &filter);
        assert!(!html.contains("<script") && !html.contains("<i>"), "{html}");
        assert!(
            html.contains(
                "&lt;i&gt;alice&lt;/i&gt; rejected: “no&lt;/li&gt;&lt;script&gt;x&lt;/script&gt;”"
            ),
            "{html}"
        );
        assert!(html.contains("<strong>REJECTED</strong>"), "{html}");
        assert!(
            html.contains("<option value=\"rejected\" selected>"),
            "{html}"
        );
    }

    #[test]
    fn a_request_id_in_a_link_cannot_leave_the_path() {
        assert_eq!(request_link("a/../b?c"), "/v1/inbox/a%2F..%2Fb%3Fc");
    }
}
