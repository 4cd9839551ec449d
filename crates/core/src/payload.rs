//! Bodies too large for the request record. A record is one DynamoDB item (400 KB), so a
//! front-door call's body of more than [`INLINE_BODY_BYTES`] (an S3 object, mostly) is kept
//! beside it, in the payload bucket at [`key`], and the record keeps a [`PayloadRef`]: which
//! member it is, its length and SHA-256 (which the request hash covers, so what approvers
//! approve is these exact bytes), and where it was put. The executor reads it back and runs
//! nothing unless it is still those bytes ([`PayloadRef::check`]).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::digest::sha256_hex;
use crate::failure::{Failure, FailureCode};

/// Largest body the front door takes, decoded (aws-chunked framing removed). One Lambda
/// invocation carries at most 6,291,456 bytes of request; a binary body arrives base64
/// encoded (4/3 of its size) inside the JSON event with the headers beside it. 4 MiB with
/// the framing allowance of [`MAX_FRAMING_BYTES`] is 5,679,788 bytes of base64; a Function
/// URL event for an aws-chunked upload with boto3's headers and a 1 KiB session token puts
/// 3,211 bytes around it, which leaves 608,457 bytes to spare (measured by `functions/api`'s
/// `the_largest_body_the_front_door_reads_fits_one_lambda_invocation`, which fails if the
/// bound stops fitting). The next round figure, 4.5 MiB, would not fit (6,378,840 bytes of
/// base64 alone).
pub const MAX_FRONT_DOOR_BODY_BYTES: usize = 4 * 1024 * 1024;

/// What aws-chunked framing may add to a body of [`MAX_FRONT_DOOR_BODY_BYTES`]: each chunk's
/// length line and, when chunks are signed, its signature (about 90 bytes per chunk). The
/// SDKs send chunks of 64 KiB or more (64 chunks for 4 MiB); 64 KiB allows 700 chunks.
pub const MAX_FRAMING_BYTES: usize = 64 * 1024;

/// Largest body kept inline in the record (in base64 it is 43,692 bytes of the record's
/// parameters, which are bounded at 64 KiB of JSON): anything larger goes to the payload
/// bucket.
pub const INLINE_BODY_BYTES: usize = 32 * 1024;

/// A body kept in the payload bucket instead of the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadRef {
    /// The input member the body is (`Body` for `s3:PutObject`): the executor puts it back
    /// there.
    pub member: String,
    pub length: u64,
    /// SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
    /// Where it was put, once the request has an id (see [`key`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<PayloadLocation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadLocation {
    pub bucket: String,
    pub key: String,
}

/// The object key of a request's payload: under the request, named by its content, so two
/// requests never share an object and a key says which bytes it must hold.
pub fn key(request_id: &str, sha256: &str) -> String {
    format!("payloads/{request_id}/{sha256}")
}

impl PayloadRef {
    pub fn of(member: &str, bytes: &[u8]) -> Self {
        PayloadRef {
            member: member.to_string(),
            length: bytes.len() as u64,
            sha256: sha256_hex(bytes),
            location: None,
        }
    }

    /// What the request hash covers: the bytes (by length and digest) and where they go in
    /// the call, not where they are kept.
    pub fn hashed(&self) -> Value {
        json!({"member": self.member, "length": self.length, "sha256": self.sha256})
    }

    /// The body as people see it (the approval page, notices): its size and digest.
    pub fn describe(&self) -> String {
        format!(
            "<{} bytes, sha256 {}; kept beside the request, not shown>",
            self.length, self.sha256
        )
    }

    /// Whether `bytes` (read back from the bucket) are the approved body; nothing may be
    /// sent otherwise.
    pub fn check(&self, bytes: &[u8]) -> Result<(), Failure> {
        if bytes.len() as u64 == self.length && sha256_hex(bytes) == self.sha256 {
            return Ok(());
        }
        Err(Failure::new(
            FailureCode::PayloadMismatch,
            format!(
                "payload: the stored body is no longer the approved one ({} bytes, sha256 {}); nothing was sent",
                self.length, self.sha256
            ),
        )
        .with_may_have_run(false))
    }

    /// The parameters with the body put back in its member (base64, as parameters carry
    /// blobs), to build the call from.
    pub fn restore(&self, params: &Map<String, Value>, bytes: &[u8]) -> Map<String, Value> {
        let mut params = params.clone();
        params.insert(self.member.clone(), Value::String(STANDARD.encode(bytes)));
        params
    }
}

/// Takes `member` (a blob, base64 as the decoders give it) out of `params` when its bytes
/// are more than [`INLINE_BODY_BYTES`]; `None` leaves the parameters as they were.
pub fn offload(params: &mut Map<String, Value>, member: &str) -> Option<(PayloadRef, Vec<u8>)> {
    let encoded = params.get(member)?.as_str()?;
    // Base64 is 4/3 of its bytes: a shorter text is inline without decoding it.
    if encoded.len() <= INLINE_BODY_BYTES * 4 / 3 {
        return None;
    }
    let bytes = STANDARD.decode(encoded).ok()?;
    if bytes.len() <= INLINE_BODY_BYTES {
        return None;
    }
    params.remove(member);
    Some((PayloadRef::of(member, &bytes), bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params_with(bytes: &[u8]) -> Map<String, Value> {
        let mut p = Map::new();
        p.insert("Bucket".into(), json!("b"));
        p.insert("Body".into(), json!(STANDARD.encode(bytes)));
        p
    }

    #[test]
    fn only_bodies_above_the_inline_bound_leave_the_parameters() {
        let mut small = params_with(&vec![7u8; INLINE_BODY_BYTES]);
        assert!(offload(&mut small, "Body").is_none());
        assert!(small.contains_key("Body"));

        let bytes = vec![7u8; INLINE_BODY_BYTES + 1];
        let mut big = params_with(&bytes);
        let (r, taken) = offload(&mut big, "Body").expect("offloaded");
        assert_eq!(taken, bytes);
        assert!(!big.contains_key("Body"));
        assert_eq!(r.length, bytes.len() as u64);
        assert_eq!(r.sha256, sha256_hex(&bytes));
        // Put back, the call is built from exactly what was sent.
        assert_eq!(r.restore(&big, &taken), params_with(&bytes));
    }

    #[test]
    fn a_body_that_is_not_those_bytes_fails_as_payload_mismatch() {
        let r = PayloadRef::of("Body", b"approved");
        assert!(r.check(b"approved").is_ok());
        for other in [&b"tampered"[..], b"approve", b""] {
            let f = r.check(other).expect_err("refused");
            assert_eq!(f.code, FailureCode::PayloadMismatch);
            assert!(f.message.contains("nothing was sent"), "{}", f.message);
        }
    }

    #[test]
    fn the_request_hash_covers_the_body_kept_beside_the_record_not_where_it_is() {
        let call = crate::parse_new_request(
            br#"{"action":"s3:PutObject","params":{"Bucket":"b","Key":"k"}}"#,
            "us-east-1",
        )
        .unwrap();
        let before = call.hash();
        let with = |bytes: &[u8]| crate::NewRequest {
            payload: Some(Box::new(PayloadRef::of("Body", bytes))),
            ..call.clone()
        };
        assert_ne!(
            with(b"one").hash(),
            before,
            "the body is part of what is approved"
        );
        assert_ne!(with(b"one").hash(), with(b"two").hash());
        let mut placed = with(b"one");
        placed.payload.as_mut().unwrap().location = Some(PayloadLocation {
            bucket: "b".into(),
            key: key("01J", "x"),
        });
        assert_eq!(
            placed.hash(),
            with(b"one").hash(),
            "where it is kept is not"
        );
        // Approvers see its size and digest, never the bytes.
        let shown = crate::record::shown_params(&with(b"secret bytes")).to_string();
        assert!(shown.contains("12 bytes, sha256 "), "{shown}");
        assert!(
            !shown.contains(&STANDARD.encode(b"secret bytes")),
            "{shown}"
        );
    }

    #[test]
    fn payloads_are_keyed_by_request_and_content() {
        assert_eq!(key("01J", "ab"), "payloads/01J/ab");
    }
}
