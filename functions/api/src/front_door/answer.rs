//! What the front door answers, in the shape of the service the call was for: the masked
//! result re-encoded in the service's wire format, or an error with a code the SDKs read and
//! do not retry (4xx, never a throttling or clock-skew code).

use serde_json::Value;
use tollgate_core::{ApiError, RequestRecord, Status};
use tollgate_models::{DecodeError, ServiceModel, WireResponse};
use tollgate_sigv4::{Family, VerifyError};

use tollgate_core::payload::MAX_FRONT_DOOR_BODY_BYTES;

use super::{MAX_WIRE_BODY_BYTES, service};

/// A call held for (or running after) approval.
#[derive(Debug)]
pub(crate) struct Waiting {
    pub rec: RequestRecord,
    pub approval_link: String,
}

/// Why a call got no answer from AWS.
#[derive(Debug)]
pub(crate) enum Refusal {
    Verify(VerifyError),
    Decode(DecodeError),
    UnknownService(String),
    Api(ApiError),
    Waiting(Box<Waiting>),
    /// Already worded: a status, a code in the service's own vocabulary, a message.
    Aws {
        status: u16,
        code: String,
        message: String,
    },
    /// A code per family (S3, query, json), with a status and a message.
    Coded {
        status: u16,
        codes: [&'static str; 3],
        message: String,
    },
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum DecodeKind {
    UnknownOperation,
    Unsupported,
    Invalid,
}

const TOO_LARGE: [&str; 3] = [
    "EntityTooLarge",
    "RequestEntityTooLarge",
    "RequestEntityTooLargeException",
];

const INVALID: [&str; 3] = [
    "InvalidArgument",
    "InvalidParameterValue",
    "ValidationException",
];

impl Refusal {
    /// A body above the front door's bound. The local host refuses with it too, before
    /// reading the whole body, so it names the bound, not the size.
    pub fn too_large(bytes: usize) -> Self {
        Refusal::Coded {
            status: 413,
            codes: TOO_LARGE,
            message: format!(
                "body: {bytes} bytes or more is larger than the front door takes ({MAX_FRONT_DOOR_BODY_BYTES} bytes, {MAX_WIRE_BODY_BYTES} with aws-chunked framing); use `tollgate s3 cp` for larger objects"
            ),
        }
    }

    /// Parameters (besides a raw body) larger than a request record keeps.
    pub fn params_too_large(bytes: usize) -> Self {
        Refusal::Coded {
            status: 413,
            codes: TOO_LARGE,
            message: format!(
                "params: {bytes} bytes of parameters is more than a request keeps ({} bytes of JSON, blobs in base64)",
                tollgate_core::request::MAX_BODY_BYTES
            ),
        }
    }

    pub fn not_found(path: &str) -> Self {
        Refusal::Coded {
            status: 404,
            codes: ["NoSuchKey", "NotFound", "UnknownOperationException"],
            message: format!(
                "path: `{}` is not under the front door's base path",
                shown(path)
            ),
        }
    }

    pub fn invalid(message: String) -> Self {
        Refusal::Coded {
            status: 400,
            codes: INVALID,
            message,
        }
    }

    /// The error as `signing_name`'s service sends one.
    pub fn encode(self, signing_name: &str, request_id: &str) -> WireResponse {
        let model = service::candidates(signing_name)
            .into_iter()
            .next()
            .map(|(m, _)| m)
            .or_else(|| tollgate_models::load("sts").ok());
        let Some(model) = model else {
            return WireResponse {
                status: 400,
                headers: vec![],
                body: b"unknown service".to_vec(),
            };
        };
        let family = Family::for_service(signing_name, model.protocol().as_str());
        let pick = |codes: [&'static str; 3]| match family {
            Family::S3 => codes[0],
            Family::Query => codes[1],
            Family::Json => codes[2],
        };
        let (status, code, message): (u16, String, String) = match self {
            Refusal::Verify(e) => {
                let c = e.aws_code(family);
                (c.status, c.code.to_string(), e.message)
            }
            Refusal::Decode(e) => {
                let (codes, what) = match DecodeKind::from(e.kind) {
                    DecodeKind::UnknownOperation => (
                        [
                            "NotImplemented",
                            "InvalidAction",
                            "UnknownOperationException",
                        ],
                        "the front door knows no such operation",
                    ),
                    DecodeKind::Unsupported => (INVALID, "cannot go through the front door"),
                    DecodeKind::Invalid => (INVALID, "cannot be read"),
                };
                (400, pick(codes).to_string(), format!("{what}: {e}"))
            }
            Refusal::UnknownService(s) => (
                400,
                pick([
                    "InvalidRequest",
                    "InvalidAction",
                    "UnknownOperationException",
                ])
                .into(),
                format!(
                    "credential: no AWS API model is signed as `{}`; the front door cannot take this service",
                    shown(&s)
                ),
            ),
            Refusal::Api(e) => {
                let status = e.status();
                let codes = if status >= 500 {
                    ["InternalError", "InternalFailure", "InternalServerError"]
                } else {
                    INVALID
                };
                (status, pick(codes).to_string(), e.message)
            }
            Refusal::Waiting(w) => waiting(&w),
            Refusal::Aws {
                status,
                code,
                message,
            } => (status, code, message),
            Refusal::Coded {
                status,
                codes,
                message,
            } => (status, pick(codes).to_string(), message),
        };
        tracing::info!(status, code = %code, request_id, "front door refused a call");
        tollgate_models::encode_error(&model, status, &code, &message, request_id)
    }
}

/// Held (or approved and still running): a 400 with a Tollgate code, which no SDK retries.
fn waiting(w: &Waiting) -> (u16, String, String) {
    let rec = &w.rec;
    if rec.status == Status::Pending {
        let needed = rec.decision.required_approvals();
        (
            400,
            "TollgateApprovalRequired".into(),
            format!(
                "{} needs approval ({needed} approval{}: {}): request {}, approval link {}; run the same command again after the decision to receive its answer",
                rec.request.action,
                if needed == 1 { "" } else { "s" },
                rec.decision.reason,
                rec.id,
                w.approval_link
            ),
        )
    } else {
        (
            400,
            "TollgateRequestRunning".into(),
            format!(
                "{} is approved and running: request {}; run the same command again in a moment to receive its answer",
                rec.request.action, rec.id
            ),
        )
    }
}

/// The answer to a call whose request is decided and done. `view` is the agent's own view
/// of the record (the masked result, with what `@unmask` grants it put back).
pub(crate) fn settled(
    model: &ServiceModel,
    operation: &str,
    rec: &RequestRecord,
    view: &Value,
) -> Result<WireResponse, Refusal> {
    let action = &rec.request.action;
    let id = &rec.id;
    match rec.status {
        Status::Succeeded => {
            let result = view.get("result").cloned().unwrap_or(Value::Null);
            if result.get("truncated").and_then(Value::as_bool) == Some(true) {
                return Err(Refusal::Aws {
                    status: 400,
                    code: "TollgateAnswerTooLarge".into(),
                    message: format!(
                        "{action} ran, but its answer is larger than Tollgate keeps, so it cannot be sent back whole: request {id}; see `tollgate status {id}` and ask for less"
                    ),
                });
            }
            tollgate_models::encode_response(model, operation, &result, id).map_err(|e| {
                Refusal::Aws {
                    status: 400,
                    code: "TollgateAnswerNotEncodable".into(),
                    message: format!(
                        "{action} ran, but its answer cannot be written as the service sends it ({e}): request {id}; see `tollgate status {id}`"
                    ),
                }
            })
        }
        Status::Failed => {
            let (code, message, status) = match &rec.error {
                Some(f) => (f.code.as_str().to_string(), f.message.clone(), f.status),
                None => (
                    "TollgateExecutionFailed".to_string(),
                    "the call failed".to_string(),
                    None,
                ),
            };
            // A 5xx would be retried, and a retry is a new request that runs again: every
            // outcome of a call that was run is final for the client.
            let status = status.filter(|s| (400..500).contains(s)).unwrap_or(400);
            Err(Refusal::Aws {
                status,
                code,
                message: format!("{message} (request {id})"),
            })
        }
        Status::Denied => Err(Refusal::Coded {
            status: 403,
            codes: ["AccessDenied", "AccessDenied", "AccessDeniedException"],
            message: format!(
                "{action} is denied by Tollgate policy {}: {}; request {id}",
                if rec.decision.policy_ids.is_empty() {
                    "(no policy permits it)".to_string()
                } else {
                    rec.decision.policy_ids.join(", ")
                },
                rec.decision.reason
            ),
        }),
        Status::Rejected | Status::Expired | Status::Cancelled => {
            let (code, what) = match rec.status {
                Status::Rejected => ("TollgateRequestRejected", "was rejected"),
                Status::Expired => ("TollgateRequestExpired", "expired before enough approvals"),
                _ => ("TollgateRequestCancelled", "was cancelled"),
            };
            let comment = rec
                .votes
                .iter()
                .rev()
                .find_map(|v| v.comment.as_deref())
                .map(|c| format!(" (comment: {c})"))
                .unwrap_or_default();
            Err(Refusal::Aws {
                status: 400,
                code: code.into(),
                message: format!(
                    "{action} {what}{comment}: request {id}; it did not run. Run the command again to ask anew"
                ),
            })
        }
        Status::Pending | Status::Approved | Status::Executing => {
            Err(Refusal::Api(ApiError::internal("request not settled")))
        }
    }
}

/// Hostile input shown in a message: one short line.
fn shown(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(64)
        .map(|c| if c.is_control() || c == '`' { '?' } else { c })
        .collect();
    if s.chars().count() > 64 {
        out.push('…');
    }
    out
}
