//! The dry run in the impact preview: an EC2 call that takes `DryRun` is sent once more with
//! `DryRun=true`, and what EC2 answers ("would succeed", "would be refused: ...") is shown.
//!
//! A dry run is sent with the write permission of the call itself (IAM has no condition key
//! for `DryRun`), so two rules keep it from ever being the call: `DryRun` is forced here,
//! whatever the agent sent ([`forced`]), and the request as encoded for the wire is checked
//! to carry it before anything is sent ([`check_encoded`]); a request that does not is never
//! sent.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::mask::{MaskRules, mask_answer};

/// The member EC2's operation models name for it.
pub const MEMBER: &str = "DryRun";

/// The call's parameters with `DryRun` set to true: the agent's own value, true or false,
/// never decides.
pub fn forced(params: &Map<String, Value>) -> Map<String, Value> {
    let mut p = params.clone();
    p.insert(MEMBER.to_string(), Value::Bool(true));
    p
}

/// Whether an EC2 (query protocol) request body, as encoded for the wire, asks for a dry run:
/// exactly one `DryRun` member (in any spelling the service might read as it) and it is
/// `true`. Anything else is refused, so a dry run that lost its flag on the way to the wire
/// is never sent.
pub fn check_encoded(body: &[u8]) -> Result<(), String> {
    let body = std::str::from_utf8(body).map_err(|_| "the request body is not text")?;
    let mut values = vec![];
    for pair in body.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if percent_decoded(k).eq_ignore_ascii_case(MEMBER) {
            values.push(percent_decoded(v));
        }
    }
    match values.as_slice() {
        [v] if v == "true" => Ok(()),
        [] => Err("the encoded request carries no `DryRun`".to_string()),
        [v] => Err(format!("the encoded request carries `DryRun={v}`")),
        _ => Err("the encoded request carries `DryRun` more than once".to_string()),
    }
}

/// `application/x-www-form-urlencoded` decoding; a broken escape is kept as written (it then
/// matches nothing).
fn percent_decoded(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(b[i + 1]), hex(b[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// What came back from sending a dry run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// The service answered with a success: it ran the call. EC2 never does for a request
    /// that carries `DryRun=true`; shown (and logged) as what it is.
    Ran,
    /// The service answered with an error (`DryRunOperation` is how EC2 says yes).
    Error { code: String, message: String },
    /// Nothing was sent: no session, the request could not be built, or it failed the
    /// check of its encoding.
    NotSent(String),
    /// It was sent and no answer came.
    Unanswered(String),
    /// No answer within the preview's time.
    TimedOut(u64),
}

/// What the dry run says, as shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    WouldSucceed,
    WouldBeRefused,
    /// Another error, shown as the service gave it (`InvalidInstanceID.NotFound: ...`).
    Error,
    NotSent,
    NoAnswer,
    /// The service ran the call (see [`Reply::Ran`]).
    Ran,
}

/// The dry run's answer, kept with the preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DryRun {
    /// `service:Operation`.
    pub source: String,
    pub verdict: Verdict,
    /// The service's error, masked, on one line and short; empty when there is nothing to add.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

/// How EC2 prefixes the part of `UnauthorizedOperation` only STS can decode.
const ENCODED: &str = "Encoded authorization failure message:";

impl DryRun {
    /// What the dry run said, for every presentation: "would succeed", "would be refused: ...".
    pub fn words(&self) -> String {
        match self.verdict {
            Verdict::WouldSucceed => "would succeed".to_string(),
            Verdict::WouldBeRefused => format!("would be refused: {}", self.detail),
            Verdict::Error => self.detail.clone(),
            Verdict::NotSent => format!("not sent: {}", self.detail),
            Verdict::NoAnswer => format!("no answer: {}", self.detail),
            Verdict::Ran => {
                "the service answered as if it ran the call: it did not honour DryRun".to_string()
            }
        }
    }
}

/// The dry run as shown, from what came back. The service's message is masked like an
/// executor's error (it can echo what was sent), with the policy's `mask` and nothing
/// revealed, and bounded like every preview value.
pub fn shown(source: &str, reply: Reply, mask: &MaskRules) -> DryRun {
    let service = source.split(':').next().unwrap_or_default();
    let (verdict, detail) = match reply {
        Reply::Ran => (Verdict::Ran, String::new()),
        Reply::Error { code, .. } if code == "DryRunOperation" => {
            (Verdict::WouldSucceed, String::new())
        }
        Reply::Error { code, message } => {
            let mut v = json!({"code": code, "message": message});
            let rules = MaskRules {
                mask: mask.mask.clone(),
                unmask: vec![],
            };
            mask_answer(service, &mut v, &rules);
            let text = |v: &Value| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let (code, message) = (text(&v["code"]), text(&v["message"]));
            if code == "UnauthorizedOperation" {
                (Verdict::WouldBeRefused, refusal(&message))
            } else {
                (Verdict::Error, format!("{code}: {message}"))
            }
        }
        Reply::NotSent(why) => (Verdict::NotSent, why),
        Reply::Unanswered(why) => (Verdict::NoAnswer, why),
        Reply::TimedOut(ms) => (Verdict::NoAnswer, format!("none within {ms} ms")),
    };
    DryRun {
        source: source.to_string(),
        verdict,
        detail: super::bounded(&detail),
    }
}

/// The readable part of an `UnauthorizedOperation` message. The encoded part says which
/// statement refused, but only `sts:DecodeAuthorizationMessage` reads it, which the preview
/// is not given: say that it is there and how an operator decodes it.
fn refusal(message: &str) -> String {
    match message.split_once(ENCODED) {
        Some((plain, _)) => format!(
            "{} (the reason is encoded; `aws sts decode-authorization-message` decodes it)",
            plain.trim().trim_end_matches('.')
        ),
        None => message.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agents_dry_run_value_never_decides() {
        let mut p = Map::new();
        p.insert("InstanceIds".into(), json!(["i-1"]));
        p.insert("DryRun".into(), json!(false));
        let f = forced(&p);
        assert_eq!(f["DryRun"], json!(true));
        assert_eq!(f["InstanceIds"], json!(["i-1"]));
        assert_eq!(forced(&Map::new())["DryRun"], json!(true));
    }

    #[test]
    fn only_a_body_that_asks_for_a_dry_run_passes() {
        let ok = b"Action=TerminateInstances&Version=2016-11-15&InstanceId.1=i-1&DryRun=true";
        assert_eq!(check_encoded(ok), Ok(()));
        for (body, why) in [
            (
                &b"Action=TerminateInstances&InstanceId.1=i-1"[..],
                "carries no `DryRun`",
            ),
            (b"Action=TerminateInstances&DryRun=false", "`DryRun=false`"),
            (b"Action=TerminateInstances&DryRun=", "`DryRun=`"),
            (b"Action=X&DryRun=true&DryRun=false", "more than once"),
            (b"Action=X&dryrun=false&DryRun=true", "more than once"),
            (b"Action=X&Dry%52un=false&DryRun=true", "more than once"),
            (b"Action=X&DryRun=tru%65x", "`DryRun=truex`"),
            (
                b"Action=X&InstanceId.1=DryRun%3Dtrue",
                "carries no `DryRun`",
            ),
            (b"\xff\xfe", "not text"),
        ] {
            let e = check_encoded(body).expect_err(std::str::from_utf8(body).unwrap_or("bytes"));
            assert!(e.contains(why), "{e}");
        }
        // An escaped `true` is what the service reads as true.
        assert_eq!(check_encoded(b"DryRun=%74rue"), Ok(()));
        assert!(check_encoded(b"DryRun=%7").is_err());
    }

    #[test]
    fn the_answers_read_as_what_the_call_would_do() {
        let err = |code: &str, message: &str| Reply::Error {
            code: code.into(),
            message: message.into(),
        };
        let none = MaskRules::default();
        let ok = shown(
            "ec2:TerminateInstances",
            err(
                "DryRunOperation",
                "Request would have succeeded, but DryRun flag is set.",
            ),
            &none,
        );
        assert_eq!(ok.verdict, Verdict::WouldSucceed);
        assert_eq!(ok.words(), "would succeed");
        let refused = shown(
            "ec2:TerminateInstances",
            err(
                "UnauthorizedOperation",
                "You are not authorized to perform this operation. Encoded authorization failure message: AbC123-very-long",
            ),
            &none,
        );
        assert_eq!(refused.verdict, Verdict::WouldBeRefused);
        assert_eq!(
            refused.words(),
            "would be refused: You are not authorized to perform this operation (the reason is encoded; `aws sts decode-authorization-message` decodes it)"
        );
        assert!(!refused.detail.contains("AbC123"));
        let plain = shown(
            "ec2:TerminateInstances",
            err("UnauthorizedOperation", "no session policy allows it"),
            &none,
        );
        assert_eq!(
            plain.words(),
            "would be refused: no session policy allows it"
        );
        let missing = shown(
            "ec2:TerminateInstances",
            err(
                "InvalidInstanceID.NotFound",
                "The instance ID 'i-0000' does not exist",
            ),
            &none,
        );
        assert_eq!(missing.verdict, Verdict::Error);
        assert_eq!(
            missing.words(),
            "InvalidInstanceID.NotFound: The instance ID 'i-0000' does not exist"
        );
        assert_eq!(
            shown("ec2:X", Reply::TimedOut(3000), &none).words(),
            "no answer: none within 3000 ms"
        );
        assert_eq!(shown("ec2:X", Reply::Ran, &none).verdict, Verdict::Ran);
        assert_eq!(
            shown("ec2:X", Reply::NotSent("no role".into()), &none).words(),
            "not sent: no role"
        );
    }

    #[test]
    fn the_services_message_is_masked_on_one_line_and_short() {
        let long = shown(
            "ec2:RunInstances",
            Reply::Error {
                code: "InvalidParameterValue".into(),
                message: format!("bad\nvalue {}", "x".repeat(400)),
            },
            &MaskRules::default(),
        );
        assert!(
            long.detail.starts_with("InvalidParameterValue: bad"),
            "{}",
            long.detail
        );
        assert!(!long.detail.contains('\n'));
        assert!(long.detail.chars().count() <= 160, "{}", long.detail);
        let p = shown(
            "ec2:RunInstances",
            Reply::Error {
                code: "InvalidParameterValue".into(),
                message: format!(
                    "Value (password=hunter2) for parameter\nUserData is invalid {}",
                    "x".repeat(400)
                ),
            },
            &MaskRules {
                mask: vec!["message".into()],
                unmask: vec!["message".into()],
            },
        );
        assert!(!p.detail.contains("hunter2"), "{}", p.detail);
        assert!(
            p.detail.starts_with("InvalidParameterValue: "),
            "{}",
            p.detail
        );
    }
}
