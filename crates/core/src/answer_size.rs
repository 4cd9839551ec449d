//! Keeps AWS answers within what the request record can hold. The record is one DynamoDB
//! item (400 KB at most, with the request, votes and decision beside the answer), and a write
//! that fails for size would leave an executed request without its outcome. An answer over
//! the limit is replaced by a summary that says so and how to ask for less.

use serde_json::{Map, Value, json};

/// Largest answer, as compact JSON, that is kept whole.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Most bytes of an answer the executor reads off the wire. Past it the executor stops
/// reading (an `s3:GetObject` of a large object would otherwise be held in memory whole),
/// and the answer is [`too_large`]. Larger than [`MAX_ANSWER_BYTES`], since answers shrink as
/// JSON (XML tags, base64 aside) and are summarised afterwards.
pub const MAX_WIRE_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// What is kept of an answer the executor stopped reading: that it was too large, the limit,
/// what AWS said its length was, and how to ask for less. The call itself did run.
pub fn too_large(status: u16, limit: usize, content_length: Option<u64>) -> Value {
    json!({
        "truncated": true,
        "answer_too_large": true,
        "status": status,
        "limit_bytes": limit,
        "content_length": content_length,
        "message": format!(
            "answer too large: AWS answered with more than the {limit} bytes Tollgate reads, \
             so it stopped reading; the call ran, but its answer is not kept. Ask for less \
             (a Range, a smaller MaxKeys, MaxResults or Limit, and the pagination token)"
        ),
    })
}

/// The answer itself when it fits in `max` bytes of JSON, else a summary: its size, the limit,
/// and for each top-level member its type and size, so the caller can see which list to page.
/// The flag says whether the answer was summarised.
pub fn bound_answer(answer: Value, max: usize) -> (Value, bool) {
    let bytes = json_len(&answer);
    if bytes <= max {
        return (answer, false);
    }
    let members: Map<String, Value> = match &answer {
        Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), describe(v))).collect(),
        _ => Map::new(),
    };
    let summary = json!({
        "truncated": true,
        "bytes": bytes,
        "limit_bytes": max,
        "members": members,
        "message": format!(
            "the answer is {bytes} bytes, more than the {max} Tollgate keeps; ask for less \
             (a smaller MaxResults, MaxKeys or Limit, and the pagination token)"
        ),
    });
    (summary, true)
}

fn json_len(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

fn describe(v: &Value) -> Value {
    let kind = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let mut d = json!({"type": kind, "bytes": json_len(v)});
    match v {
        Value::Array(a) => d["items"] = json!(a.len()),
        // Short scalars (a pagination token, a count) are what the caller needs to go on.
        Value::String(s) if s.len() <= 2048 => d["value"] = v.clone(),
        Value::Number(_) | Value::Bool(_) => d["value"] = v.clone(),
        _ => {}
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_answers_pass_unchanged() {
        let a = json!({"Table": {"TableName": "t"}});
        assert_eq!(bound_answer(a.clone(), 1024), (a, false));
        let exact = json!("x".repeat(8));
        assert_eq!(bound_answer(exact.clone(), 10), (exact, false));
    }

    #[test]
    fn large_answers_become_a_summary_that_keeps_the_page_token() {
        let items: Vec<Value> = (0..100)
            .map(|i| json!({"id": i, "blob": "y".repeat(100)}))
            .collect();
        let a = json!({"Items": items, "Count": 100, "LastEvaluatedKey": {"id": 99}, "NextToken": "abc"});
        let size = json_len(&a);
        let (s, summarised) = bound_answer(a, 1000);
        assert!(summarised);
        assert_eq!(s["truncated"], true);
        assert_eq!(s["bytes"], size);
        assert_eq!(s["limit_bytes"], 1000);
        assert_eq!(s["members"]["Items"]["type"], "array");
        assert_eq!(s["members"]["Items"]["items"], 100);
        assert_eq!(s["members"]["Count"]["value"], 100);
        assert_eq!(s["members"]["NextToken"]["value"], "abc");
        assert_eq!(s["members"]["LastEvaluatedKey"]["type"], "object");
        assert!(json_len(&s) < 1000);
        assert!(s["message"].as_str().unwrap().contains("MaxResults"));
    }

    #[test]
    fn an_answer_too_large_to_read_says_so_and_how_to_ask_for_less() {
        let s = too_large(200, 10, Some(11));
        assert_eq!(s["answer_too_large"], true);
        assert_eq!(s["limit_bytes"], 10);
        assert_eq!(s["content_length"], 11);
        let m = s["message"].as_str().unwrap();
        assert!(m.starts_with("answer too large"), "{m}");
        assert!(m.contains("Range"), "{m}");
    }

    #[test]
    fn a_large_non_object_answer_is_summarised_too() {
        let (s, summarised) = bound_answer(json!("z".repeat(5000)), 100);
        assert!(summarised);
        assert_eq!(s["truncated"], true);
        assert_eq!(s["members"], json!({}));
    }
}
