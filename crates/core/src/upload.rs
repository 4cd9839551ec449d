//! Uploads too large to pass through the function (`POST /v1/uploads`, `tollgate s3 cp`).
//!
//! The agent declares the object's exact length and SHA-256 and nothing else about the bytes;
//! policy decides on it as the `s3:PutObject` of that bucket and key (the same IAM action and
//! resource), and the approver approves exactly that length and checksum, which the request
//! hash binds. Once it may run, the executor hands back a presigned `PUT` URL made with the
//! request's scoped session whose signed headers are that length and checksum, so S3 takes
//! those bytes and no others. The URL is a bearer secret: it is stored only sealed for the
//! requesting agent (`crate::reveal`), never in the record's clear answer.

use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::action::Action;
use crate::error::ApiError;
use crate::request::{NewRequest, parse_body_object, parse_reason, parse_region, parse_target};
use crate::reveal::Revealed;

/// S3's largest single `PUT`; above it an object needs a multipart upload.
pub const MAX_SINGLE_PUT_BYTES: u64 = 5 * 1024 * 1024 * 1024;
/// S3's smallest part but the last in a multipart upload.
pub const MIN_PART_BYTES: u64 = 5 * 1024 * 1024;
/// Most parts one upload may declare: every part's URL is sealed beside the record, which
/// must still fit one DynamoDB item.
pub const MAX_PARTS: usize = 16;
/// How long a presigned URL is valid: minutes, well inside the scoped session's 15.
pub const URL_SECONDS: u64 = 300;
/// S3's longest object key, in bytes.
const MAX_KEY_BYTES: usize = 1024;

const FIELDS: [&str; 8] = [
    "bucket",
    "key",
    "content_length",
    "checksum_sha256",
    "parts",
    "reason",
    "region",
    "target",
];

/// What the agent declared about the bytes, kept on the record and covered by its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Upload {
    pub content_length: u64,
    /// Base64 of the object's SHA-256, as S3's `x-amz-checksum-sha256` carries it.
    pub checksum_sha256: String,
    /// Each part of a multipart upload, in order; empty for one `PUT`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Part {
    pub content_length: u64,
    pub checksum_sha256: String,
}

/// One presigned request the agent sends as given: the URL (secret) and the headers it must
/// carry, which are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresignedPut {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// Parses and checks `POST /v1/uploads`: the call it is (`s3:PutObject` with `Bucket`, `Key`,
/// `ContentLength` and `ChecksumSHA256`, so classification, policy, the page and the audit
/// trail see an ordinary upload) and what was declared about its bytes.
pub fn parse_upload(body: &[u8], default_region: &str) -> Result<(NewRequest, Upload), ApiError> {
    let mut obj = parse_body_object(body)?;
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::field(
            unknown.clone(),
            format!("unknown field; expected one of {}", FIELDS.join(", ")),
        ));
    }
    let bucket = required_string(&mut obj, "bucket")?;
    let key = required_string(&mut obj, "key")?;
    if key.len() > MAX_KEY_BYTES {
        return Err(ApiError::field(
            "key",
            format!("longer than S3's {MAX_KEY_BYTES} bytes"),
        ));
    }
    let content_length = length(obj.remove("content_length"), "content_length")?;
    let checksum_sha256 = checksum(obj.remove("checksum_sha256"), "checksum_sha256")?;
    let parts = parse_parts(obj.remove("parts"), content_length)?;
    if parts.is_empty() && content_length > MAX_SINGLE_PUT_BYTES {
        return Err(ApiError::field(
            "content_length",
            format!(
                "{content_length} bytes is more than S3 takes in one PUT ({MAX_SINGLE_PUT_BYTES}); declare `parts`"
            ),
        ));
    }
    let region = parse_region(obj.remove("region"), default_region)?;
    let target = parse_target(obj.remove("target"))?;
    let reason = parse_reason(obj.remove("reason"))?;
    let mut params = Map::new();
    params.insert("Bucket".into(), json!(bucket));
    params.insert("Key".into(), json!(key));
    params.insert("ContentLength".into(), json!(content_length));
    params.insert("ChecksumSHA256".into(), json!(checksum_sha256));
    let new = NewRequest {
        action: Action::parse("s3:PutObject").map_err(ApiError::internal)?,
        region,
        params,
        reason,
        target,
        payload: None,
    };
    Ok((
        new,
        Upload {
            content_length,
            checksum_sha256,
            parts,
        },
    ))
}

fn required_string(obj: &mut Map<String, Value>, field: &str) -> Result<String, ApiError> {
    match obj.remove(field) {
        None | Some(Value::Null) => Err(ApiError::field(field, "is required")),
        Some(Value::String(s)) if s.is_empty() => Err(ApiError::field(field, "must not be empty")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::field(field, "must be a string")),
    }
}

/// A byte count: a whole JSON number from 0 up (never a string, a fraction or negative).
fn length(v: Option<Value>, field: &str) -> Result<u64, ApiError> {
    match v {
        None | Some(Value::Null) => Err(ApiError::field(field, "is required")),
        Some(Value::Number(n)) => n
            .as_u64()
            .ok_or_else(|| ApiError::field(field, format!("`{n}` is not a whole number of bytes"))),
        Some(_) => Err(ApiError::field(field, "must be a whole number of bytes")),
    }
}

/// A SHA-256 in S3's form: standard base64 of the 32 bytes, padded, exactly as re-encoded
/// (so the approver reads the very string S3 will check).
fn checksum(v: Option<Value>, field: &str) -> Result<String, ApiError> {
    let s = match v {
        None | Some(Value::Null) => return Err(ApiError::field(field, "is required")),
        Some(Value::String(s)) => s,
        Some(_) => return Err(ApiError::field(field, "must be a string")),
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    match b64.decode(&s) {
        Ok(bytes) if bytes.len() == 32 && b64.encode(&bytes) == s => Ok(s),
        _ => Err(ApiError::field(
            field,
            format!(
                "`{}` is not a SHA-256 in base64 (44 characters, as `openssl dgst -sha256 -binary | base64` prints)",
                s.chars().take(60).collect::<String>().escape_debug()
            ),
        )),
    }
}

fn parse_parts(v: Option<Value>, content_length: u64) -> Result<Vec<Part>, ApiError> {
    let items = match v {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(ApiError::field("parts", "must be a list")),
    };
    if items.is_empty() || items.len() > MAX_PARTS {
        return Err(ApiError::field(
            "parts",
            format!(
                "{} parts: declare 1 to {MAX_PARTS} (or none for one PUT); use larger parts",
                items.len()
            ),
        ));
    }
    let last = items.len() - 1;
    let mut parts = Vec::with_capacity(items.len());
    let mut total: u64 = 0;
    for (i, item) in items.into_iter().enumerate() {
        let Value::Object(mut m) = item else {
            return Err(ApiError::field(format!("parts[{i}]"), "must be an object"));
        };
        if let Some(unknown) = m
            .keys()
            .find(|k| !["content_length", "checksum_sha256"].contains(&k.as_str()))
        {
            return Err(ApiError::field(
                format!("parts[{i}].{unknown}"),
                "unknown field; expected content_length, checksum_sha256",
            ));
        }
        let len_field = format!("parts[{i}].content_length");
        let len = length(m.remove("content_length"), &len_field)?;
        if len > MAX_SINGLE_PUT_BYTES || len == 0 || (i < last && len < MIN_PART_BYTES) {
            return Err(ApiError::field(
                len_field,
                format!(
                    "{len} bytes: a part is at most {MAX_SINGLE_PUT_BYTES} bytes, and at least {MIN_PART_BYTES} unless it is the last (which is at least 1)"
                ),
            ));
        }
        let sum = checksum(
            m.remove("checksum_sha256"),
            &format!("parts[{i}].checksum_sha256"),
        )?;
        total = total.saturating_add(len);
        parts.push(Part {
            content_length: len,
            checksum_sha256: sum,
        });
    }
    if total != content_length {
        return Err(ApiError::field(
            "parts",
            format!("the parts add up to {total} bytes, not content_length {content_length}"),
        ));
    }
    Ok(parts)
}

impl Upload {
    /// The hash approvals bind: the call's with every declared length and checksum, so an
    /// approval of these bytes is no approval of others.
    pub fn hash(&self, request: &NewRequest) -> String {
        let v = json!({"request": request.hash(), "upload": self});
        crate::digest::sha256_hex(crate::digest::canonical_json(&v).as_bytes())
    }

    /// The headers S3 must see on the `PUT`, which the presigned URL signs: a body of any
    /// other length or checksum is refused by S3, not by trust in the agent.
    pub fn signed_headers(&self) -> Vec<(String, String)> {
        vec![
            ("content-length".into(), self.content_length.to_string()),
            ("x-amz-checksum-sha256".into(), self.checksum_sha256.clone()),
        ]
    }

    /// The answer kept for an authorised upload, with the URL masked for everyone, and the
    /// URL itself apart, for the executor to seal for the requesting agent alone.
    pub fn authorised(&self, put: &PresignedPut, expires_at_ms: u64) -> (Value, Vec<Revealed>) {
        let headers: Map<String, Value> = put
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let answer = json!({"Upload": {
            "Method": "PUT",
            "ContentLength": self.content_length,
            "ChecksumSHA256": self.checksum_sha256,
            "Headers": headers,
            "ExpiresAt": expires_at_ms,
            "Url": crate::mask::MASK,
        }});
        let revealed = vec![Revealed {
            pointer: "/Upload/Url".into(),
            value: json!(put.url),
        }];
        (answer, revealed)
    }

    /// What the trail says was authorised.
    pub fn audit_detail(&self) -> Value {
        json!({"upload": {"bytes": self.content_length, "checksum_sha256": self.checksum_sha256, "parts": self.parts.len().max(1)}})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUM: &str = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
    const MIB: u64 = 1024 * 1024;

    fn parse(v: Value) -> Result<(NewRequest, Upload), ApiError> {
        parse_upload(v.to_string().as_bytes(), "us-east-1")
    }

    fn field_of(v: Value) -> String {
        let e = parse(v.clone()).expect_err(&v.to_string());
        assert_eq!(e.status(), 400, "{v}");
        e.field.unwrap_or_default()
    }

    #[test]
    fn an_upload_is_the_put_object_of_its_bucket_and_key_with_its_length_and_checksum() {
        let (new, up) = parse(
            json!({"bucket": "b", "key": "a/../x\u{7f}", "content_length": 6 * MIB,
            "checksum_sha256": SUM, "reason": "logs", "target": "default"}),
        )
        .unwrap();
        assert_eq!(new.action.to_string(), "s3:PutObject");
        // Dots and control characters are part of the key, bound exactly as sent.
        assert_eq!(
            Value::Object(new.params.clone()),
            json!({"Bucket": "b", "Key": "a/../x\u{7f}", "ContentLength": 6 * MIB, "ChecksumSHA256": SUM})
        );
        assert_eq!(new.reason.as_deref(), Some("logs"));
        assert_eq!(up.content_length, 6 * MIB);
        assert!(up.parts.is_empty());
        assert_eq!(
            up.signed_headers(),
            vec![
                ("content-length".to_string(), (6 * MIB).to_string()),
                ("x-amz-checksum-sha256".to_string(), SUM.to_string())
            ]
        );
    }

    #[test]
    fn hostile_declarations_are_refused_naming_the_field() {
        let base =
            || json!({"bucket": "b", "key": "k", "content_length": 10, "checksum_sha256": SUM});
        let with = |k: &str, v: Value| {
            let mut b = base();
            b[k] = v;
            b
        };
        let cases = [
            (with("content_length", json!(-1)), "content_length"),
            (with("content_length", json!(1.5)), "content_length"),
            (with("content_length", json!("10")), "content_length"),
            (
                with("content_length", json!(MAX_SINGLE_PUT_BYTES + 1)),
                "content_length",
            ),
            (
                with("checksum_sha256", json!("not base64!")),
                "checksum_sha256",
            ),
            // Valid base64, but 31 bytes, or unpadded: not what S3 checks.
            (
                with(
                    "checksum_sha256",
                    json!("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuA=="),
                ),
                "checksum_sha256",
            ),
            (
                with("checksum_sha256", json!(SUM.trim_end_matches('='))),
                "checksum_sha256",
            ),
            (with("checksum_sha256", json!(hex_sum())), "checksum_sha256"),
            (with("bucket", json!("")), "bucket"),
            (with("key", json!(null)), "key"),
            (with("key", json!("k".repeat(1025))), "key"),
            (with("extra", json!(1)), "extra"),
            (with("Body", json!("bytes")), "Body"),
            (with("parts", json!({})), "parts"),
            (with("parts", json!([])), "parts"),
        ];
        for (body, field) in cases {
            assert_eq!(field_of(body.clone()), field, "{body}");
        }
    }

    fn hex_sum() -> String {
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into()
    }

    #[test]
    fn parts_are_at_least_five_mib_but_the_last_and_add_up() {
        let part = |n: u64| json!({"content_length": n, "checksum_sha256": SUM});
        let body = |parts: Vec<Value>, total: u64| json!({"bucket": "b", "key": "k", "content_length": total, "checksum_sha256": SUM, "parts": parts});
        let (_, up) = parse(body(
            vec![part(5 * MIB), part(5 * MIB), part(1)],
            10 * MIB + 1,
        ))
        .unwrap();
        assert_eq!(up.parts.len(), 3);
        assert_eq!(
            field_of(body(vec![part(5 * MIB - 1), part(5 * MIB)], 10 * MIB - 1)),
            "parts[0].content_length"
        );
        assert_eq!(
            field_of(body(vec![part(5 * MIB), part(0)], 5 * MIB)),
            "parts[1].content_length"
        );
        assert_eq!(
            field_of(body(vec![part(5 * MIB), part(5)], 5 * MIB)),
            "parts"
        );
        assert_eq!(
            field_of(body(
                vec![part(5 * MIB); MAX_PARTS + 1],
                5 * MIB * (MAX_PARTS as u64 + 1)
            )),
            "parts"
        );
        assert_eq!(
            field_of(body(
                vec![
                    part(5 * MIB),
                    json!({"content_length": 1, "checksum_sha256": "x"})
                ],
                5 * MIB + 1
            )),
            "parts[1].checksum_sha256"
        );
        assert_eq!(
            field_of(body(
                vec![json!({"content_length": 1, "checksum_sha256": SUM, "url": "x"})],
                1
            )),
            "parts[0].url"
        );
        // Above one PUT's limit only parts will do.
        let big = MAX_SINGLE_PUT_BYTES + MIN_PART_BYTES;
        assert!(
            parse(body(
                vec![part(MAX_SINGLE_PUT_BYTES), part(MIN_PART_BYTES)],
                big
            ))
            .is_ok()
        );
    }

    fn upload_record(body: Value) -> crate::RequestRecord {
        let (new, up) = parse(body).unwrap();
        let decision = crate::Decision {
            effect: crate::Effect::Allow,
            policy_ids: vec![],
            reason: String::new(),
            mask: Default::default(),
            requires: Default::default(),
            breakglass: None,
        };
        crate::RequestRecord::new_upload(
            "R".into(),
            new,
            up,
            crate::Identity::default(),
            decision,
            vec!["s3:PutObject".into()],
            vec!["arn:aws:s3:::b/k".into()],
            1,
        )
        .0
    }

    #[test]
    fn the_record_binds_every_declared_byte_and_its_trail_says_what_was_authorised() {
        let body = |sum: &str| {
            json!({"bucket": "b", "key": "k", "content_length": 10 * MIB + 1, "checksum_sha256": SUM,
                "parts": [{"content_length": 5 * MIB, "checksum_sha256": SUM},
                          {"content_length": 5 * MIB + 1, "checksum_sha256": sum}]})
        };
        let a = upload_record(body(SUM));
        let other = "LCa0a2j/xo/5m0U8HTBBNBNCLXBkg7+g+YpeiGJm564=";
        let b = upload_record(body(other));
        // The same call, other bytes in one part: another hash, so another approval.
        assert_eq!(a.request, b.request);
        assert_ne!(a.request_hash, b.request_hash);
        assert_ne!(a.request_hash, a.request.hash());
        let mut tampered = a.clone();
        tampered.upload.as_mut().unwrap().parts[1].checksum_sha256 = other.into();
        let (claim, _) = tampered
            .claim_for_execution(2, Some("arn:aws:iam::111122223333:role/t"), |_| {
                "us-east-1".into()
            })
            .unwrap();
        assert!(matches!(claim, crate::Claim::Refused(_)), "{claim:?}");
        assert_eq!(
            tampered.error.unwrap().code,
            crate::FailureCode::RequestAltered
        );
        // Submitted and executed events carry the declaration.
        let mut run = upload_record(body(SUM));
        let (_, started) = run
            .claim_for_execution(2, Some("arn:aws:iam::111122223333:role/t"), |_| {
                "us-east-1".into()
            })
            .unwrap();
        assert_eq!(started[0].detail["request_hash"], run.request_hash);
        let done = run
            .record_outcome(
                crate::Outcome::Succeeded {
                    result: json!({}),
                    sealed_result: Some("sealed".into()),
                },
                3,
            )
            .unwrap();
        assert_eq!(done[0].detail["upload"]["bytes"], 10 * MIB + 1);
        assert_eq!(done[0].detail["upload"]["checksum_sha256"], SUM);
        assert_eq!(done[0].detail["upload"]["parts"], 2);
    }

    #[test]
    fn the_url_is_kept_apart_from_the_answer() {
        let (_, up) =
            parse(json!({"bucket": "b", "key": "k", "content_length": 3, "checksum_sha256": SUM}))
                .unwrap();
        let put = PresignedPut {
            url: "https://b.s3.amazonaws.com/k?X-Amz-Signature=secret".into(),
            headers: up.signed_headers(),
        };
        let (answer, revealed) = up.authorised(&put, 42);
        assert!(!answer.to_string().contains("secret"), "{answer}");
        assert_eq!(answer["Upload"]["Headers"]["content-length"], "3");
        assert_eq!(answer["Upload"]["ExpiresAt"], 42);
        let mut agents = answer.clone();
        crate::reveal::apply(&mut agents, revealed);
        assert_eq!(agents["Upload"]["Url"], put.url);
    }
}
