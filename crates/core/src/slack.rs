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

/// The Block Kit message for a pending request: what, who, why, and Approve / Reject buttons
/// whose value carries the request id and the hash the approver saw.
pub fn approval_blocks(rec: &RequestRecord, link: &str, risks: &[String]) -> Value {
    let value = format!("{}|{}", rec.id, rec.request_hash);
    let mut fields = vec![
        json!({"type": "mrkdwn", "text": format!("*Agent*\n{}", rec.agent.name)}),
        json!({"type": "mrkdwn", "text": format!("*Region / target*\n{} / {}", rec.request.region, rec.request.target)}),
        json!({"type": "mrkdwn", "text": format!("*Approvals needed*\n{}", rec.decision.required_approvals())}),
        json!({"type": "mrkdwn", "text": format!("*Policy*\n{}", rec.decision.policy_ids.join(", "))}),
    ];
    if !risks.is_empty() {
        fields.push(json!({"type": "mrkdwn", "text": format!("*Risk*\n{}", risks.join(", "))}));
    }
    json!([
        {"type": "header", "text": {"type": "plain_text", "text": format!("Approve {}?", rec.request.action)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*Resources:* {}\n*Reason:* {}",
            if rec.resources.is_empty() { "(none derived)".to_string() } else { rec.resources.join(", ") },
            rec.request.reason.as_deref().unwrap_or("(none given)"))},
         "fields": fields},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Request `{}` · hash `{}`", rec.id, &rec.request_hash[..16.min(rec.request_hash.len())])}]},
        {"type": "actions", "block_id": "tollgate_decision", "elements": [
            {"type": "button", "action_id": "approve", "style": "primary", "value": value,
             "text": {"type": "plain_text", "text": "Approve"}},
            {"type": "button", "action_id": "reject", "style": "danger", "value": value,
             "text": {"type": "plain_text", "text": "Reject"}},
            {"type": "button", "action_id": "open", "url": link,
             "text": {"type": "plain_text", "text": "Review"}}
        ]}
    ])
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
                v.approver.name,
                crate::time::iso8601(v.at)
            )
        })
        .collect();
    json!([
        {"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*{}* for {} is *{}*{}",
            rec.request.action, rec.agent.name, rec.status,
            if who.is_empty() { String::new() } else { format!(" — {}", who.join(", ")) })}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Request `{}`", rec.id)}]}
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
