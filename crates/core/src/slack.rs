//! Slack interactivity: request signature verification and the messages Tollgate sends.
//! <https://api.slack.com/authentication/verifying-requests-from-slack>

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::record::RequestRecord;

type HmacSha256 = Hmac<Sha256>;

/// Requests older (or newer) than this are refused, so a captured request cannot be replayed
/// later.
pub const MAX_SKEW_SECONDS: u64 = 300;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlackSignatureError {
    Missing,
    Stale,
    Mismatch,
}

impl SlackSignatureError {
    pub fn message(self) -> &'static str {
        match self {
            Self::Missing => "X-Slack-Signature and X-Slack-Request-Timestamp headers are required",
            Self::Stale => "X-Slack-Request-Timestamp: more than 5 minutes from now",
            Self::Mismatch => "X-Slack-Signature: does not match the request",
        }
    }
}

/// The `v0=` signature Slack sends for `body` at `timestamp`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    m.update(b"v0:");
    m.update(timestamp.as_bytes());
    m.update(b":");
    m.update(body);
    format!("v0={}", hex::encode(m.finalize().into_bytes()))
}

/// Checks Slack's signature (constant-time) and that the timestamp is within five minutes.
pub fn verify(
    secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now_s: u64,
) -> Result<(), SlackSignatureError> {
    let (Some(ts), Some(sig)) = (timestamp, signature) else {
        return Err(SlackSignatureError::Missing);
    };
    let t: u64 = ts.trim().parse().map_err(|_| SlackSignatureError::Stale)?;
    if t.abs_diff(now_s) > MAX_SKEW_SECONDS {
        return Err(SlackSignatureError::Stale);
    }
    let given = sig
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(SlackSignatureError::Mismatch)?;
    let mut m = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
    m.update(b"v0:");
    m.update(ts.as_bytes());
    m.update(b":");
    m.update(body);
    m.verify_slice(&given)
        .map_err(|_| SlackSignatureError::Mismatch)
}

/// Text for a Slack mrkdwn field. `&`, `<` and `>` are escaped as Slack asks, so nothing the
/// agent writes becomes a mention (`<!channel>`), a user link or a disguised link
/// (`<https://evil|Review>`); control characters (newlines too) become spaces, so a value
/// cannot start a line of its own that looks like Tollgate's.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in crate::display::one_line(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Inline code: escaped, with backticks dropped so the value cannot close the code span.
fn code(s: &str) -> String {
    format!("`{}`", escape(&s.replace('`', "'")))
}

/// The agent's reason as a visible quote: every line `>`-prefixed and escaped, so however
/// many lines it has, all of them read as the agent's words.
pub fn quote(s: &str) -> String {
    crate::display::lines(s)
        .iter()
        .map(|l| format!(">{}", escape(l)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The agent as approvers must see it: its display name (which it may choose) and, beside
/// it, the issuer and subject that identify it.
fn agent(rec: &RequestRecord) -> String {
    format!(
        "{} {}",
        escape(&rec.agent.name),
        code(&format!("{}#{}", rec.agent.issuer, rec.agent.subject))
    )
}

/// The Block Kit message for a pending request: what, who, why, and Approve / Reject buttons
/// whose value carries the request id and the hash the approver saw.
pub fn approval_blocks(rec: &RequestRecord, link: &str, risks: &[String]) -> Value {
    let value = format!("{}|{}", rec.id, rec.request_hash);
    let mut fields = vec![
        json!({"type": "mrkdwn", "text": format!("*Agent*\n{}", agent(rec))}),
        json!({"type": "mrkdwn", "text": format!("*Region / target*\n{} / {}", escape(&rec.request.region), escape(&rec.request.target))}),
        json!({"type": "mrkdwn", "text": format!("*Approvals*\n{}", escape(&rec.approvals_summary()))}),
        json!({"type": "mrkdwn", "text": format!("*Policy*\n{}", escape(&rec.decision.policy_ids.join(", ")))}),
    ];
    if !risks.is_empty() {
        fields.push(
            json!({"type": "mrkdwn", "text": format!("*Risk*\n{}", escape(&risks.join(", ")))}),
        );
    }
    let resources = if rec.resources.is_empty() {
        "(none derived)".to_string()
    } else {
        rec.resources
            .iter()
            .map(|r| code(r))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": format!("Approve {}?", rec.what()).chars().take(150).collect::<String>()}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*Resources:* {resources}\n*Reason given by the agent:*\n{}",
            rec.request.reason.as_deref().map(quote).unwrap_or_else(|| "(none given)".into()))},
         "fields": fields}),
    ];
    if rec.plan.is_none() {
        blocks.push(params_block(rec));
    }
    if let Some(p) = &rec.preview {
        blocks.push(preview_block(p));
    }
    if let Some(plan) = &rec.plan {
        // One line per step; Slack caps a section's text, the page has everything.
        let lines: Vec<String> = plan
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let on: Vec<String> = s.scope.resources.iter().map(|r| code(r)).collect();
                format!(
                    "{}. {} {} on {}",
                    i,
                    code(&s.request.action.to_string()),
                    escape(s.decision.effect.name()),
                    on.join(", ")
                )
            })
            .collect();
        let text: String = format!("*Steps, run in order:*\n{}", lines.join("\n"))
            .chars()
            .take(2900)
            .collect();
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}));
    }
    if !rec.votes.is_empty() {
        blocks.push(votes_block(rec));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Request `{}` · hash `{}`", escape(&rec.id), &rec.request_hash[..16.min(rec.request_hash.len())])}]}));
    blocks.push(
        json!({"type": "actions", "block_id": "tollgate_decision", "elements": [
            {"type": "button", "action_id": "approve", "style": "primary", "value": value,
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": "reject", "style": "danger", "value": value,
             "text": {"type": "plain_text", "text": "Reject"}},
            {"type": "button", "action_id": "open", "url": link,
             "text": {"type": "plain_text", "text": "Review"}}
        ]}),
    );
    Value::Array(blocks)
}

/// Facts shown in Slack; the page has them all.
const SLACK_PREVIEW_FACTS: usize = 5;
/// Parameters shown in Slack, and characters of each value; the page has them whole.
const SLACK_PARAMS: usize = 6;
const SLACK_PARAM_CHARS: usize = 80;

/// The parameters in short: the first members, each value on one line and shortened, with
/// secrets masked as everywhere. Shortened values end in `…`, so a cut never passes for the
/// whole value.
fn params_block(rec: &RequestRecord) -> Value {
    let masked = crate::record::shown_params(&rec.request);
    let members = masked.as_object().cloned().unwrap_or_default();
    let mut lines: Vec<String> = members
        .iter()
        .take(SLACK_PARAMS)
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let short: String = text.chars().take(SLACK_PARAM_CHARS).collect();
            let cut = if text.chars().count() > SLACK_PARAM_CHARS {
                "…"
            } else {
                ""
            };
            format!("• {}: {}", code(k), code(&format!("{short}{cut}")))
        })
        .collect();
    if members.len() > SLACK_PARAMS {
        lines.push(format!(
            "• … {} more on the page",
            members.len() - SLACK_PARAMS
        ));
    }
    if lines.is_empty() {
        lines.push("(none)".into());
    }
    json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
        "*Parameters*\n{}", lines.join("\n"))}})
}

/// The votes so far, as they were cast (the message is updated after each).
fn votes_block(rec: &RequestRecord) -> Value {
    let lines: Vec<String> = rec
        .votes
        .iter()
        .map(|v| {
            format!(
                "• {} {} at {}{}",
                escape(&v.approver.name),
                match v.verdict {
                    crate::record::Verdict::Approve => "approved",
                    crate::record::Verdict::Reject => "rejected",
                },
                crate::time::iso8601(v.at),
                v.comment
                    .as_deref()
                    .map(|c| format!(": “{}”", escape(c)))
                    .unwrap_or_default()
            )
        })
        .collect();
    json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
        "*Votes* ({})\n{}", escape(&rec.approvals_summary()), lines.join("\n"))}})
}

/// The short form of the impact preview: its first facts, or why there are none.
fn preview_block(p: &crate::preview::Preview) -> Value {
    let mut lines: Vec<String> = p
        .dry_run
        .iter()
        .map(|d| format!("• Dry run: {}", escape(&d.words())))
        .collect();
    lines.extend(
        p.facts
            .iter()
            .take(SLACK_PREVIEW_FACTS)
            .map(|f| format!("• {}: {}", escape(&f.label), escape(&f.value))),
    );
    if p.facts.len() > SLACK_PREVIEW_FACTS {
        lines.push(format!(
            "• … {} more on the page",
            p.facts.len() - SLACK_PREVIEW_FACTS
        ));
    }
    if let Some(c) = &p.policy {
        lines.push(format!(
            "• Policy {}{}",
            if c.had_policy {
                "replaced"
            } else {
                "set where there is none"
            },
            c.flags
                .iter()
                .map(|f| format!("\n  :warning: {}", escape(f)))
                .collect::<String>()
        ));
    }
    if p.facts.is_empty() && p.policy.is_none() {
        // Why no fact could be read.
        let why = p
            .notes
            .first()
            .map_or_else(|| p.status_words().to_string(), Clone::clone);
        lines.push(format!("_{}_", escape(&why)));
    }
    json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
        "*What it touches now* ({})\n{}", p.status_words(), lines.join("\n"))}})
}

/// The blocks that replace the message once the request is final: no more buttons.
pub fn closed_blocks(rec: &RequestRecord) -> Value {
    let who: Vec<String> = rec
        .votes
        .iter()
        .map(|v| {
            let verb = match v.verdict {
                crate::record::Verdict::Approve => "approved",
                crate::record::Verdict::Reject => "rejected",
            };
            format!(
                "{} {verb} at {}",
                escape(&v.approver.name),
                crate::time::iso8601(v.at)
            )
        })
        .collect();
    json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*{}* for {} is *{}*{}",
            rec.request.action, agent(rec), rec.status,
            if who.is_empty() { String::new() } else { format!(" — {}", who.join(", ")) })}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Request `{}`", escape(&rec.id))}]}
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_good_bad_stale() {
        let secret = b"8f742231b10e8888abcd99yyyzzz85a5";
        let body = b"payload=%7B%22type%22%3A%22block_actions%22%7D";
        let sig = sign(secret, "1531420618", body);
        assert_eq!(
            verify(
                secret,
                Some("1531420618"),
                Some(&sig),
                body,
                1531420618 + 10
            ),
            Ok(())
        );
        // Tampered body, another secret, a garbled header.
        assert_eq!(
            verify(
                secret,
                Some("1531420618"),
                Some(&sig),
                b"payload=x",
                1531420618
            ),
            Err(SlackSignatureError::Mismatch)
        );
        assert_eq!(
            verify(b"other", Some("1531420618"), Some(&sig), body, 1531420618),
            Err(SlackSignatureError::Mismatch)
        );
        assert_eq!(
            verify(secret, Some("1531420618"), Some("v1=00"), body, 1531420618),
            Err(SlackSignatureError::Mismatch)
        );
        // The signature covers the timestamp: moving it breaks the signature.
        assert_eq!(
            verify(secret, Some("1531420619"), Some(&sig), body, 1531420618),
            Err(SlackSignatureError::Mismatch)
        );
        // Stale either way, and missing headers.
        assert_eq!(
            verify(
                secret,
                Some("1531420618"),
                Some(&sig),
                body,
                1531420618 + 301
            ),
            Err(SlackSignatureError::Stale)
        );
        assert_eq!(
            verify(
                secret,
                Some("1531420618"),
                Some(&sig),
                body,
                1531420618 - 301
            ),
            Err(SlackSignatureError::Stale)
        );
        assert_eq!(
            verify(secret, None, Some(&sig), body, 1),
            Err(SlackSignatureError::Missing)
        );
    }

    fn hostile_record() -> RequestRecord {
        let req = crate::request::parse_new_request(
            br#"{"action":"dynamodb:DeleteTable","params":{"TableName":"t"},"reason":"routine cleanup <!channel>\n*Resources:* nothing\n<https://evil.example/approve|Review and decide> & done"}"#,
            "us-east-1",
        )
        .unwrap();
        let decision = crate::decision::Decision {
            effect: crate::decision::Effect::Approval {
                approvals: 1,
                requirements: vec![crate::decision::GroupRequirement::of("dba", 1)],
                timeout_seconds: 60,
            },
            policy_ids: vec!["p".into()],
            reason: "r".into(),
            mask: Default::default(),
            requires: Default::default(),
            breakglass: None,
        };
        let agent = crate::Identity {
            issuer: "https://token.actions.githubusercontent.com".into(),
            subject: "123:refs/heads/`main`".into(),
            name: "deploy-bot <@U0ADMIN>\n*Agent*".into(),
            ..Default::default()
        };
        RequestRecord::new("R1".into(), req, agent, decision, vec![], vec![], 1).0
    }

    /// Every mrkdwn text in the blocks.
    fn mrkdwn(blocks: &Value) -> Vec<String> {
        let mut out = vec![];
        fn walk(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if m.get("type").and_then(Value::as_str) == Some("mrkdwn") {
                        out.push(m["text"].as_str().unwrap_or_default().to_string());
                    }
                    m.values().for_each(|v| walk(v, out));
                }
                Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
                _ => {}
            }
        }
        walk(blocks, &mut out);
        out
    }

    #[test]
    fn what_the_agent_writes_cannot_mention_link_or_forge_lines() {
        let rec = hostile_record();
        let texts = mrkdwn(&approval_blocks(
            &rec,
            "https://tollgate.example/v1/approvals/R1?k=x",
            &[],
        ));
        let all = texts.join("\n");
        for forged in [
            "<!channel>",
            "<https://evil",
            "<@U0ADMIN>",
            "\n*Agent*",
            "\n*Resources:* nothing",
        ] {
            assert!(
                texts.iter().all(|t| !t.contains(forged)),
                "{forged:?} got through:\n{all}"
            );
        }
        assert!(all.contains("&lt;!channel&gt;"), "{all}");
        let section = texts
            .iter()
            .find(|t| t.starts_with("*Resources:*"))
            .unwrap();
        // Each line of the reason is quoted, so it reads as the agent's words.
        assert!(section.contains("*Reason given by the agent:*\n>routine cleanup &lt;!channel&gt;\n>*Resources:* nothing\n>&lt;https://evil.example/approve|Review and decide&gt; &amp; done"), "{section}");
        // The agent's name comes with the issuer and subject that identify it.
        let agent_field = texts.iter().find(|t| t.starts_with("*Agent*")).unwrap();
        assert_eq!(
            agent_field,
            "*Agent*\ndeploy-bot &lt;@U0ADMIN&gt; *Agent* `https://token.actions.githubusercontent.com#123:refs/heads/'main'`"
        );
        assert!(
            texts
                .iter()
                .any(|t| t == "*Approvals*\n0 of 1 (still needed: 1 from `dba`)"),
            "{texts:?}"
        );
        let closed = mrkdwn(&closed_blocks(&rec)).join("\n");
        assert!(
            !closed.contains("<@U0ADMIN>") && closed.contains("#123:refs"),
            "{closed}"
        );
    }

    #[test]
    fn parameters_show_in_short_masked_and_escaped() {
        let req = crate::request::parse_new_request(
            serde_json::json!({
                "action": "secretsmanager:PutSecretValue",
                "params": {
                    "SecretId": "db`<!here>`\n*Approved*",
                    "SecretString": "hunter2",
                    "Description": "x".repeat(200),
                    "A1": 1, "A2": 2, "A3": [3], "Z9": 4
                },
                "reason": "rotate"
            })
            .to_string()
            .as_bytes(),
            "us-east-1",
        )
        .unwrap();
        let mut rec = hostile_record();
        rec.request = req;
        let alice = crate::Identity {
            issuer: "https://idp".into(),
            subject: "alice".into(),
            name: "alice <!channel>".into(),
            groups: vec!["dba".into()],
            ..Default::default()
        };
        rec.vote(
            &alice,
            crate::record::Verdict::Approve,
            Some("ok\n*Rejected* <@U1>".into()),
            5,
        )
        .unwrap();
        let texts = mrkdwn(&approval_blocks(&rec, "https://t.example/x", &[]));
        let params = texts
            .iter()
            .find(|t| t.starts_with("*Parameters*"))
            .expect("a parameters block");
        assert!(!params.contains("hunter2"), "{params}");
        assert!(params.contains("****MASKED****"), "{params}");
        assert!(
            params.contains("• `SecretId`: `db'&lt;!here&gt;' *Approved*`"),
            "{params}"
        );
        assert!(
            params.contains("…`"),
            "a long value is cut visibly: {params}"
        );
        assert!(params.contains("• … 1 more on the page"), "{params}");
        assert!(params.lines().all(|l| l.len() < 200), "{params}");
        let votes = texts
            .iter()
            .find(|t| t.starts_with("*Votes*"))
            .expect("votes");
        assert!(
            votes.contains("alice &lt;!channel&gt; approved at")
                && votes.contains("“ok *Rejected* &lt;@U1&gt;”"),
            "{votes}"
        );
        assert!(!texts.join("\n").contains("<!channel>"));
    }

    #[test]
    fn known_vector_from_slack_docs() {
        // The example in Slack's "Verifying requests from Slack" guide.
        let secret = b"8f742231b10e8888abcd99yyyzzz85a5";
        let body = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(
            sign(secret, "1531420618", body),
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }
}
