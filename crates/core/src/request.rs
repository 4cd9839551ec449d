//! The body of `POST /v1/requests`, validated field by field so every refusal names the
//! field at fault.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::action::Action;
use crate::digest::{canonical_json, sha256_hex};
use crate::error::ApiError;

/// Largest accepted request body. AWS API inputs that matter here are small; a larger body is
/// far more likely a mistake or an attack than a real call.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
pub const MAX_REASON_CHARS: usize = 2000;
pub const DEFAULT_TARGET: &str = "default";
const FIELDS: [&str; 5] = ["action", "region", "params", "reason", "target"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewRequest {
    pub action: Action,
    pub region: String,
    pub params: Map<String, Value>,
    #[serde(default)]
    pub reason: Option<String>,
    pub target: String,
    /// The body, when it is too large for the record and kept beside it (front-door
    /// uploads); `params` then lack its member. Never set from a submitted body.
    /// Boxed: most requests have none, and every copy of a request carries the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Box<crate::payload::PayloadRef>>,
}

impl NewRequest {
    /// SHA-256 over the canonical form of exactly what will run. Approvals are bound to it
    /// and the executor refuses to run a request whose hash no longer matches.
    pub fn hash(&self) -> String {
        let mut v = serde_json::json!({
            "action": self.action.to_string(),
            "region": self.region,
            "target": self.target,
            "params": Value::Object(self.params.clone()),
        });
        // Only when there is one, so the hashes of every other request stay as they were.
        if let Some(p) = &self.payload {
            v["payload"] = p.hashed();
        }
        sha256_hex(canonical_json(&v).as_bytes())
    }
}

/// The body a client sends to submit a call (`POST /v1/requests`) or to have it explained
/// (`POST /v1/explain`), as the CLI and the MCP tools build it: what `parse_new_request`
/// reads, with the fields left unset left out, so the API's defaults apply.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestBody {
    pub action: String,
    pub params: Map<String, Value>,
    pub region: Option<String>,
    pub reason: Option<String>,
    pub target: Option<String>,
}

impl RequestBody {
    pub fn to_json(&self) -> Value {
        let mut body = serde_json::json!({"action": self.action, "params": self.params});
        for (k, v) in [
            ("region", &self.region),
            ("reason", &self.reason),
            ("target", &self.target),
        ] {
            if let Some(v) = v {
                body[k] = Value::String(v.clone());
            }
        }
        body
    }
}

/// Parses and validates a request body. `default_region` applies when `region` is absent.
pub fn parse_new_request(body: &[u8], default_region: &str) -> Result<NewRequest, ApiError> {
    let obj = parse_body_object(body)?;
    request_from_object(obj, default_region)
}

/// A body as a JSON object, within [`MAX_BODY_BYTES`].
pub fn parse_body_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::new(
            crate::ErrorCode::PayloadTooLarge,
            format!("body: larger than {MAX_BODY_BYTES} bytes"),
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            crate::ErrorCode::InvalidJson,
            format!("body: not valid JSON ({e})"),
        )
    })?;
    let Value::Object(obj) = value else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    Ok(obj)
}

/// One call from its members, as `POST /v1/requests` takes it (and each step of a plan).
pub fn request_from_object(
    mut obj: Map<String, Value>,
    default_region: &str,
) -> Result<NewRequest, ApiError> {
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::field(
            unknown.clone(),
            format!("unknown field; expected one of {}", FIELDS.join(", ")),
        ));
    }

    let action = match obj.remove("action") {
        None | Some(Value::Null) => return Err(ApiError::field("action", "is required")),
        Some(Value::String(s)) => Action::parse(&s).map_err(|e| ApiError::field("action", e))?,
        Some(_) => return Err(ApiError::field("action", "must be a string")),
    };
    let region = parse_region(obj.remove("region"), default_region)?;
    let params = match obj.remove("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return Err(ApiError::field("params", "must be a JSON object")),
    };
    crate::mask::check_params(&params)?;
    let reason = parse_reason(obj.remove("reason"))?;
    let target = parse_target(obj.remove("target"))?;
    Ok(NewRequest {
        action,
        region,
        params,
        reason,
        target,
        payload: None,
    })
}

/// The `region` member: a region name, or `default_region` when absent or null.
pub fn parse_region(value: Option<Value>, default_region: &str) -> Result<String, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(default_region.to_string()),
        Some(Value::String(s)) => {
            validate_region(&s).map_err(|e| ApiError::field("region", e))?;
            Ok(s)
        }
        Some(_) => Err(ApiError::field("region", "must be a string")),
    }
}

/// The `target` member: a target's name, or [`DEFAULT_TARGET`] when absent or null.
pub fn parse_target(value: Option<Value>) -> Result<String, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(DEFAULT_TARGET.to_string()),
        Some(Value::String(s)) => {
            validate_target(&s).map_err(|e| ApiError::field("target", e))?;
            Ok(s)
        }
        Some(_) => Err(ApiError::field("target", "must be a string")),
    }
}

/// The `reason` member: trimmed, bounded, without control characters; empty is none.
pub fn parse_reason(value: Option<Value>) -> Result<Option<String>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let trimmed = s.trim();
            if trimmed.chars().count() > MAX_REASON_CHARS {
                return Err(ApiError::field(
                    "reason",
                    format!("longer than {MAX_REASON_CHARS} characters"),
                ));
            }
            if trimmed
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
            {
                return Err(ApiError::field("reason", "contains control characters"));
            }
            Ok((!trimmed.is_empty()).then(|| trimmed.to_string()))
        }
        Some(_) => Err(ApiError::field("reason", "must be a string")),
    }
}

/// AWS region names: `us-east-1`, `eu-central-2`, `us-gov-west-1`, `cn-north-1`, ...
pub fn validate_region(s: &str) -> Result<(), String> {
    let parts: Vec<&str> = s.split('-').collect();
    let ok = parts.len() >= 3
        && s.len() <= 32
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts[parts.len() - 1].bytes().all(|b| b.is_ascii_digit())
        && !parts[parts.len() - 1].is_empty();
    if ok {
        Ok(())
    } else {
        Err("must be an AWS region name such as `us-east-1`".into())
    }
}

/// A target's name: what `POST /v1/requests` and gateway credentials accept.
pub fn validate_target(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err("must be 1 to 64 letters, digits, `-` or `_`".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_body_leaves_unset_fields_to_the_api_and_parses() {
        let mut body = RequestBody {
            action: "s3:ListBuckets".into(),
            ..Default::default()
        };
        assert_eq!(
            body.to_json(),
            serde_json::json!({"action": "s3:ListBuckets", "params": {}})
        );
        body.reason = Some("audit".into());
        body.region = Some("eu-west-1".into());
        let parsed = parse_new_request(body.to_json().to_string().as_bytes(), "us-east-1").unwrap();
        assert_eq!(
            (
                parsed.region.as_str(),
                parsed.reason.as_deref(),
                parsed.target.as_str()
            ),
            ("eu-west-1", Some("audit"), DEFAULT_TARGET)
        );
    }

    fn parse(v: Value) -> Result<NewRequest, ApiError> {
        parse_new_request(v.to_string().as_bytes(), "us-east-1")
    }

    #[test]
    fn accepts_a_full_request() {
        let r = parse(serde_json::json!({
            "action": "dynamodb:DeleteTable", "region": "eu-west-1",
            "params": {"TableName": "orders"}, "reason": "  cleanup  ", "target": "prod"
        }))
        .unwrap();
        assert_eq!(r.action.to_string(), "dynamodb:DeleteTable");
        assert_eq!(r.region, "eu-west-1");
        assert_eq!(r.reason.as_deref(), Some("cleanup"));
        assert_eq!(r.target, "prod");
    }

    #[test]
    fn fills_defaults() {
        let r = parse(serde_json::json!({"action": "sqs:ListQueues"})).unwrap();
        assert_eq!(r.region, "us-east-1");
        assert_eq!(r.target, "default");
        assert!(r.params.is_empty());
        assert_eq!(r.reason, None);
    }

    #[test]
    fn names_the_field_at_fault() {
        let cases = [
            (serde_json::json!({}), "action"),
            (serde_json::json!({"action": 3}), "action"),
            (serde_json::json!({"action": "nope"}), "action"),
            (
                serde_json::json!({"action": "s3:ListBuckets", "region": "mars"}),
                "region",
            ),
            (
                serde_json::json!({"action": "s3:ListBuckets", "params": []}),
                "params",
            ),
            (
                serde_json::json!({"action": "s3:ListBuckets", "reason": 1}),
                "reason",
            ),
            (
                serde_json::json!({"action": "s3:ListBuckets", "target": "a b"}),
                "target",
            ),
            (
                serde_json::json!({"action": "s3:ListBuckets", "extra": 1}),
                "extra",
            ),
            (serde_json::json!([1]), "body"),
        ];
        for (body, field) in cases {
            let e = parse(body.clone()).unwrap_err();
            assert_eq!(e.field.as_deref(), Some(field), "{body}");
            assert_eq!(e.status(), 400);
        }
    }

    #[test]
    fn refuses_bad_json_and_huge_bodies() {
        let e = parse_new_request(b"{not json", "us-east-1").unwrap_err();
        assert_eq!(e.code, crate::ErrorCode::InvalidJson);
        let big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(
            parse_new_request(&big, "us-east-1").unwrap_err().status(),
            413
        );
        let long_reason = "x".repeat(MAX_REASON_CHARS + 1);
        let e = parse(serde_json::json!({"action": "s3:ListBuckets", "reason": long_reason}));
        assert_eq!(e.unwrap_err().field.as_deref(), Some("reason"));
    }

    #[test]
    fn regions() {
        for ok in ["us-east-1", "us-gov-west-1", "ap-southeast-2", "cn-north-1"] {
            assert!(validate_region(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "us-east",
            "US-EAST-1",
            "us--1",
            "us-east-x",
            "-us-east-1",
        ] {
            assert!(validate_region(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hash_ignores_key_order_but_not_values() {
        let a = parse(
            serde_json::json!({"action": "dynamodb:DeleteTable", "params": {"A": 1, "B": 2}}),
        )
        .unwrap();
        let b = parse_new_request(
            br#"{"params": {"B": 2, "A": 1}, "action": "dynamodb:DeleteTable"}"#,
            "us-east-1",
        )
        .unwrap();
        assert_eq!(a.hash(), b.hash());
        let c = parse(
            serde_json::json!({"action": "dynamodb:DeleteTable", "params": {"A": 1, "B": 3}}),
        )
        .unwrap();
        assert_ne!(a.hash(), c.hash());
    }
}
