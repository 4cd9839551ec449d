//! Helpers shared by the integration tests: an owned request, parsing the AWS test suite's
//! raw HTTP files, and lookups.
#![allow(dead_code)]

pub mod raw;
pub mod rust_signer;

pub use raw::Raw;

use std::time::{Duration, SystemTime};

use tollgate_sigv4::{Found, LookupError, Options, Secret, Verified, VerifyError, verify};

/// A lookup that knows one key, optionally bound to one session token.
pub fn one_key(
    akid: &'static str,
    secret: &'static str,
    token: Option<String>,
) -> impl Fn(&str, Option<&str>) -> Result<Found<&'static str>, LookupError> {
    move |id, tok| {
        if id != akid {
            return Err(LookupError::UnknownAccessKey);
        }
        if tok != token.as_deref() {
            return Err(LookupError::InvalidToken);
        }
        Ok(Found {
            secret: Secret::new(secret),
            principal: "agent",
        })
    }
}

pub fn at(amz_date: &str) -> SystemTime {
    tollgate_sigv4::time::parse(amz_date).expect("amz date")
}

pub fn plus(t: SystemTime, secs: i64) -> SystemTime {
    if secs >= 0 {
        t + Duration::from_secs(secs.unsigned_abs())
    } else {
        t - Duration::from_secs(secs.unsigned_abs())
    }
}

/// Verifies and returns an owned summary (the borrowed body copied).
pub fn check<F>(
    raw: &Raw,
    now: SystemTime,
    lookup: &F,
    options: &Options,
) -> Result<(Vec<u8>, Verified<'static, &'static str>), VerifyError>
where
    F: Fn(&str, Option<&str>) -> Result<Found<&'static str>, LookupError>,
{
    raw.with(|req| {
        verify(req, now, lookup, options).map(|v| {
            let body = v.body.to_vec();
            let owned = Verified {
                principal: v.principal,
                credential: v.credential,
                location: v.location,
                payload: v.payload,
                body: std::borrow::Cow::Owned(body.clone()),
                signed_headers: v.signed_headers,
                checksum: v.checksum,
                content_encoding: v.content_encoding,
            };
            (body, owned)
        })
    })
}

/// The committed botocore vectors (`gen/botocore_vectors.py`).
pub struct Vectors {
    pub botocore: String,
    pub akid: &'static str,
    pub secret: &'static str,
    pub token: String,
    pub vectors: Vec<Vector>,
}

pub struct Vector {
    pub name: String,
    pub service: String,
    pub raw: Raw,
    pub decoded: Option<Vec<u8>>,
}

impl Vector {
    /// The date it was signed at (`x-amz-date` or `X-Amz-Date`).
    pub fn signed_at(&self) -> SystemTime {
        if let Some(d) = self.raw.header("x-amz-date") {
            return at(std::str::from_utf8(d).unwrap());
        }
        let d = self
            .raw
            .query
            .split('&')
            .find_map(|p| p.strip_prefix("X-Amz-Date="))
            .expect("a date");
        at(d)
    }

    pub fn presigned(&self) -> bool {
        self.raw.query.contains("X-Amz-Signature=")
    }
}

pub fn load_vectors(path: &std::path::Path) -> Vectors {
    use base64::Engine;
    use std::io::Read;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).expect("vectors"))
        .read_to_string(&mut text)
        .expect("gzip");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let s = |v: &serde_json::Value| v.as_str().expect("string").to_string();
    let leak = |v: &serde_json::Value| -> &'static str { Box::leak(s(v).into_boxed_str()) };
    let vectors = doc["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .map(|v| Vector {
            name: s(&v["name"]),
            service: s(&v["service"]),
            raw: Raw {
                method: s(&v["method"]),
                path: s(&v["path"]),
                query: s(&v["query"]),
                headers: v["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|h| (s(&h[0]), s(&h[1]).into_bytes()))
                    .collect(),
                body: b64.decode(s(&v["body_b64"])).unwrap(),
            },
            decoded: v["decoded_b64"].as_str().map(|d| b64.decode(d).unwrap()),
        })
        .collect();
    Vectors {
        botocore: s(&doc["botocore"]),
        akid: leak(&doc["access_key_id"]),
        secret: leak(&doc["secret_access_key"]),
        token: s(&doc["session_token"]),
        vectors,
    }
}
