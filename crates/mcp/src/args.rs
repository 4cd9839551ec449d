//! Tool arguments as a model sends them: checked field by field before anything reaches
//! Tollgate. Unknown fields are refused, so a misspelt `reason` is an error the model can
//! correct rather than a call made without one.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use tollgate_core::request::RequestBody;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsCall {
    pub action: String,
    #[serde(default)]
    pub params: Option<Map<String, Value>>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
    #[serde(default)]
    pub wait_seconds: Option<u64>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsPlan {
    /// Each step as `aws_call` takes its call: action, params, region, target.
    pub steps: Vec<Value>,
    #[serde(default)]
    pub reason: Option<String>,
    /// `at_once` (the default) or `by_calls`: each step runs when the agent makes its call
    /// through the front door. Checked by the API.
    #[serde(default)]
    pub run: Option<Value>,
    #[serde(default)]
    pub window_seconds: Option<Value>,
    #[serde(default)]
    pub wait_seconds: Option<u64>,
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

impl AwsPlan {
    /// The body of `POST /v1/plans`; the API checks each step, and how the plan runs.
    pub fn body(&self) -> Value {
        let mut body = serde_json::json!({"steps": self.steps});
        if let Some(r) = &self.reason {
            body["reason"] = Value::String(r.clone());
        }
        if let Some(r) = &self.run {
            body["run"] = r.clone();
        }
        if let Some(w) = &self.window_seconds {
            body["window_seconds"] = w.clone();
        }
        body
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestStatus {
    pub id: String,
    #[serde(default)]
    pub wait_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelRequest {
    pub id: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListMine {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainCall {
    pub action: String,
    #[serde(default)]
    pub params: Option<Map<String, Value>>,
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub target: Option<String>,
}

// `AwsCall` and `ExplainCall` share their first fields but stay two structs: serde cannot
// combine `flatten` with `deny_unknown_fields`, and refusing unknown fields matters more.
// Both build their body with the one `RequestBody`.
impl AwsCall {
    pub fn body(&self) -> RequestBody {
        RequestBody {
            reason: self.reason.clone(),
            ..call_body(&self.action, &self.params, &self.region, &self.target)
        }
    }
}

impl ExplainCall {
    pub fn body(&self) -> RequestBody {
        call_body(&self.action, &self.params, &self.region, &self.target)
    }
}

fn call_body(
    action: &str,
    params: &Option<Map<String, Value>>,
    region: &Option<String>,
    target: &Option<String>,
) -> RequestBody {
    RequestBody {
        action: action.to_string(),
        params: params.clone().unwrap_or_default(),
        region: region.clone(),
        reason: None,
        target: target.clone(),
    }
}

/// Absent arguments read as `{}`, so a tool whose fields are all optional needs none.
pub fn parse<T: DeserializeOwned>(args: Option<Value>) -> Result<T, String> {
    let args = match args {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(v @ Value::Object(_)) => v,
        Some(_) => return Err("arguments: must be a JSON object".into()),
    };
    serde_json::from_value(args).map_err(|e| format!("arguments: {e}"))
}

/// Request ids are ULIDs: anything else is refused here, before it reaches a lookup.
pub fn request_id(id: &str) -> Result<&str, String> {
    let ok = (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(id)
    } else {
        let shown: String = id.chars().take(40).collect();
        Err(format!(
            "id: `{shown}` is not a request id; use the `id` that aws_call or list_my_requests returned"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arguments_are_checked_by_name() {
        let e =
            parse::<AwsCall>(Some(json!({"action": "s3:ListBuckets", "reasn": "x"}))).unwrap_err();
        assert!(e.contains("unknown field `reasn`"), "{e}");
        let e = parse::<AwsCall>(Some(json!({}))).unwrap_err();
        assert!(e.contains("missing field `action`"), "{e}");
        let e = parse::<AwsCall>(Some(json!({"action": "a:B", "wait_seconds": -1}))).unwrap_err();
        assert!(
            e.contains("wait_seconds") || e.contains("invalid value"),
            "{e}"
        );
        assert!(parse::<ListMine>(None).is_ok());
        assert!(parse::<ListMine>(Some(json!([1]))).is_err());
    }

    #[test]
    fn request_ids_are_plain() {
        assert!(request_id("01JABCDEFGHJKMNPQRSTVWXYZ0").is_ok());
        for bad in ["", "../x", "a/b", "a b", &"A".repeat(65), "é"] {
            assert!(request_id(bad).is_err(), "{bad}");
        }
    }
}
