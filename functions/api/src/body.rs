//! The small JSON bodies some POSTs take (a vote, gateway credentials' terms): empty, or an
//! object with only the fields the endpoint knows, each named in the error when it is not.

use serde_json::{Map, Value};
use tollgate_core::{ApiError, ErrorCode};

/// The body as an object (empty when there is no body), refused when it is not JSON, not an
/// object, or has a field outside `fields`.
pub(crate) fn object(body: &[u8], fields: &[&str]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::new(
            ErrorCode::InvalidJson,
            format!("body: not valid JSON ({e})"),
        )
    })?;
    let Value::Object(obj) = v else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    if let Some(k) = obj.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(ApiError::field(
            k.clone(),
            format!("unknown field; expected {}", one_of(fields)),
        ));
    }
    Ok(obj)
}

/// "`a`", "`a` or `b`", "`a`, `b` or `c`".
fn one_of(fields: &[&str]) -> String {
    let quoted: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
    match quoted.split_last() {
        None => "no fields".into(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_fields_of_an_object_pass() {
        assert!(object(b"  ", &["a"]).unwrap().is_empty());
        assert_eq!(object(br#"{"a": 1}"#, &["a", "b"]).unwrap()["a"], 1);
        let e = object(br#"{"c": 1}"#, &["a", "b", "d"]).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("c"));
        assert!(e.message.contains("`a`, `b` or `d`"), "{}", e.message);
        assert_eq!(
            object(b"[1]", &["a"]).unwrap_err().field.as_deref(),
            Some("body")
        );
        assert_eq!(
            object(b"{", &["a"]).unwrap_err().code,
            ErrorCode::InvalidJson
        );
    }
}
