//! Approvers with a bearer token (the CLI): approve or reject a pending request.

use serde_json::Value;
use tollgate_core::ApiError;
use tollgate_core::record::Verdict;

use crate::{Api, Request, Response};

impl Api {
    pub(crate) async fn vote(
        &self,
        req: &Request,
        id: &str,
        verb: &str,
    ) -> Result<Response, ApiError> {
        let approver = self.verify_approver(req).await?;
        let body = parse_body(req.body())?;
        let verdict = if verb == "approve" {
            Verdict::Approve
        } else {
            Verdict::Reject
        };
        let (_, rec) = self
            .cast_vote(
                id,
                &approver.identity,
                verdict,
                body.comment,
                body.request_hash.as_deref(),
                "api",
            )
            .await?;
        Ok(Response::json(200, &rec.view()))
    }
}

#[derive(Default)]
struct VoteBody {
    comment: Option<String>,
    /// The hash the approver reviewed; when given, the vote counts only for that exact request.
    request_hash: Option<String>,
}

fn parse_body(body: &[u8]) -> Result<VoteBody, ApiError> {
    let obj = crate::body::object(body, &["comment", "request_hash"])?;
    let comment = match obj.get("comment") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(_) => return Err(ApiError::field("comment", "must be a string")),
    };
    Ok(VoteBody {
        comment,
        request_hash: request_hash(&obj)?,
    })
}

/// The `request_hash` a body names, checked for its form (the record checks its value).
pub(crate) fn request_hash(
    obj: &serde_json::Map<String, Value>,
) -> Result<Option<String>, ApiError> {
    match obj.get("request_hash") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => {
            Ok(Some(s.to_ascii_lowercase()))
        }
        Some(_) => Err(ApiError::field(
            "request_hash",
            "must be the 64-character hex SHA-256 shown with the request",
        )),
    }
}
