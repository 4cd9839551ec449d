//! Helpers shared by the integration tests: an owned request, parsing the AWS test suite's
//! raw HTTP files, and lookups.
#![allow(dead_code)]

pub mod rust_signer;

use std::time::{Duration, SystemTime};

use tollgate_sigv4::{Found, LookupError, Options, Request, Secret, Verified, VerifyError, verify};

/// An owned request, editable by the negative tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Raw {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn with<R>(&self, f: impl FnOnce(&Request<'_>) -> R) -> R {
        let headers: Vec<(&str, &[u8])> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_slice()))
            .collect();
        f(&Request {
            method: &self.method,
            path: &self.path,
            query: &self.query,
            headers: &headers,
            body: &self.body,
        })
    }

    /// The target as `path?query` split at the first `?`.
    pub fn set_target(&mut self, target: &str) {
        let (p, q) = target.split_once('?').unwrap_or((target, ""));
        self.path = p.to_string();
        self.query = q.to_string();
    }

    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }

    pub fn set_header(&mut self, name: &str, value: &[u8]) {
        match self
            .headers
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some(h) => h.1 = value.to_vec(),
            None => self.headers.push((name.to_string(), value.to_vec())),
        }
    }

    pub fn remove_header(&mut self, name: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Parses a raw HTTP/1.1 request as the AWS signing test suite writes it: request line
    /// (the target may hold spaces; the version is optional), headers with obs-fold
    /// continuation lines (folded into one space, as RFC 9112 says a recipient does), an
    /// empty line, the body.
    pub fn parse_http(text: &str) -> Raw {
        let (head, body) = match text.split_once("\n\n") {
            Some((h, b)) => (h, b),
            None => (text.trim_end_matches('\n'), ""),
        };
        let mut lines = head.lines();
        let request_line = lines.next().expect("request line");
        let (method, target) = request_line.split_once(' ').expect("method");
        let target = target.strip_suffix(" HTTP/1.1").unwrap_or(target);
        let mut headers: Vec<(String, Vec<u8>)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                let last = headers.last_mut().expect("continuation after a header");
                last.1.push(b' ');
                last.1.extend_from_slice(line.trim().as_bytes());
                continue;
            }
            let (n, v) = line.split_once(':').expect("header line");
            headers.push((
                n.to_string(),
                v.trim_matches([' ', '\t']).as_bytes().to_vec(),
            ));
        }
        let mut raw = Raw {
            method: method.to_string(),
            path: String::new(),
            query: String::new(),
            headers,
            body: body.as_bytes().to_vec(),
        };
        raw.set_target(target);
        raw
    }
}

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
