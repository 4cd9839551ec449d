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
            .cast_vote_with_grant(
                id,
                &approver.identity,
                verdict,
                body.comment,
                body.grant,
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
    /// `grant_uses` and `grant_minutes`: allow the same call again (`tollgate_core::grant`).
    grant: Option<tollgate_core::grant::GrantTerms>,
}

fn parse_body(body: &[u8]) -> Result<VoteBody, ApiError> {
    let obj = crate::body::object(
        body,
        &["comment", "request_hash", "grant_uses", "grant_minutes"],
    )?;
    let number = |field: &str| match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_u64() => Ok(Some(n.to_string())),
        // JSON does not tell 15 from 15.0, and some clients send every number as a float.
        Some(Value::Number(n))
            if n.as_f64()
                .is_some_and(|f| f >= 0.0 && f.fract() == 0.0 && f <= f64::from(u32::MAX)) =>
        {
            Ok(Some(format!("{}", n.as_f64().unwrap_or_default() as u64)))
        }
        Some(_) => Err(ApiError::field(field, "must be a whole number from 1")),
    };
    let grant = tollgate_core::grant::GrantTerms::parse(
        number("grant_uses")?.as_deref(),
        number("grant_minutes")?.as_deref(),
    )?;
    let comment = match obj.get("comment") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().to_string()),
        Some(_) => return Err(ApiError::field("comment", "must be a string")),
    };
    Ok(VoteBody {
        comment,
        request_hash: request_hash(&obj)?,
        grant,
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
