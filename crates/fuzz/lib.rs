//! Input generators for the property-based fuzz targets in `fuzz.rs`. Each target feeds a
//! parser of untrusted input with arbitrary bytes and with near-valid input (valid documents
//! with random parts), since a parser's bugs hide just past its first checks.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use serde_json::{Map, Number, Value};

pub mod sigv4;

/// How many cases each target runs: `TOLLGATE_FUZZ_CASES`, 2,000 by default (a few seconds
/// per target on one core). Raise it for a longer campaign.
pub fn cases() -> u32 {
    std::env::var("TOLLGATE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

/// Strings that mix plain text with characters parsers trip on.
pub fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9_:./-]{0,24}",
        any::<String>(),
        "[<>&\"'=;#%+ \\\\\u{0}\u{7f}\u{feff}\u{10ffff}é🦀]{0,16}",
        Just(String::new()),
    ]
}

/// Arbitrary JSON, nested a few levels.
pub fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<u64>().prop_map(|n| Value::Number(n.into())),
        any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        nasty_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((nasty_string(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Keys the request body parser knows, and some it does not.
fn body_key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec!["action", "region", "params", "reason", "target"])
            .prop_map(str::to_string),
        1 => nasty_string(),
    ]
}

fn action_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(vec![
            "dynamodb:DescribeTable",
            "dynamodb:DeleteTable",
            "s3:GetObject",
            "ec2:DescribeInstances",
            "sts:GetCallerIdentity",
            "iam:CreateUser",
        ])
        .prop_map(|s| Value::String(s.to_string())),
        nasty_string().prop_map(Value::String),
        json_value(),
    ]
}

/// Request bodies that are near-valid: the right keys with random values.
pub fn request_body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        prop::collection::vec((body_key(), json_value()), 0..6).prop_map(|kv| {
            Value::Object(kv.into_iter().collect::<Map<_, _>>())
                .to_string()
                .into_bytes()
        }),
        (action_value(), json_value(), nasty_string()).prop_map(|(a, p, r)| {
            serde_json::json!({"action": a, "params": p, "reason": r})
                .to_string()
                .into_bytes()
        }),
    ]
}

/// A byte count as an agent might send it: plausible, at S3's bounds, negative, fractional,
/// huge, or not a number.
fn hostile_length() -> impl Strategy<Value = Value> {
    const MIB: u64 = 1024 * 1024;
    prop_oneof![
        3 => (0u64..64 * MIB).prop_map(Value::from),
        1 => prop::sample::select(vec![0, 1, 5 * MIB - 1, 5 * MIB, 5 << 30, (5 << 30) + 1, u64::MAX])
            .prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        1 => json_value(),
    ]
}

/// A SHA-256 in base64 as an agent might send it: right, of the wrong length, unpadded, or
/// anything at all.
fn hostile_checksum() -> impl Strategy<Value = Value> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
    prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 32).prop_map(|b| Value::from(STANDARD.encode(b))),
        1 => prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| Value::from(STANDARD.encode(b))),
        1 => prop::collection::vec(any::<u8>(), 32).prop_map(|b| Value::from(STANDARD_NO_PAD.encode(b))),
        1 => nasty_string().prop_map(Value::from),
        1 => json_value(),
    ]
}

/// `POST /v1/uploads` bodies: random bytes, random objects, and declarations close to valid
/// with hostile lengths, checksums, keys and part lists.
pub fn upload_body() -> impl Strategy<Value = Vec<u8>> {
    let part = (hostile_length(), hostile_checksum())
        .prop_map(|(l, c)| serde_json::json!({"content_length": l, "checksum_sha256": c}));
    let parts = prop_oneof![
        2 => Just(Value::Null),
        3 => prop::collection::vec(part, 0..20).prop_map(Value::Array),
        1 => json_value(),
    ];
    // Mostly valid parts whose total is right, off by one, or the last part's alone: what
    // an agent that lies about one number sends.
    const MIB: u64 = 1024 * 1024;
    let near_valid = (
        prop::collection::vec((5 * MIB..6 * MIB, prop::collection::vec(any::<u8>(), 32)), 1..5),
        0u8..3,
        nasty_string(),
    )
        .prop_map(|(parts, lie, key)| {
            use base64::engine::general_purpose::STANDARD;
            let total: u64 = parts.iter().map(|(l, _)| l).sum();
            let declared = match lie {
                0 => total,
                1 => total + 1,
                _ => parts.last().map_or(0, |(l, _)| *l),
            };
            let parts: Vec<Value> = parts
                .into_iter()
                .map(|(l, b)| serde_json::json!({"content_length": l, "checksum_sha256": STANDARD.encode(b)}))
                .collect();
            serde_json::json!({"bucket": "b", "key": format!("k{key}"), "content_length": declared,
                "checksum_sha256": STANDARD.encode([7u8; 32]), "parts": parts})
            .to_string()
            .into_bytes()
        });
    prop_oneof![
        near_valid,
        prop::collection::vec(any::<u8>(), 0..256),
        prop::collection::vec((nasty_string(), json_value()), 0..6).prop_map(|kv| {
            Value::Object(kv.into_iter().collect::<Map<_, _>>())
                .to_string()
                .into_bytes()
        }),
        (
            nasty_string(),
            nasty_string(),
            hostile_length(),
            hostile_checksum(),
            parts
        )
            .prop_map(|(bucket, key, length, sum, parts)| {
                let mut v = serde_json::json!({"bucket": bucket, "key": key,
                    "content_length": length, "checksum_sha256": sum});
                if !parts.is_null() {
                    v["parts"] = parts;
                }
                v.to_string().into_bytes()
            }),
    ]
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// JWT-shaped strings: three segments whose header and claims are random JSON, or JSON
/// close to a real token's, or not JSON at all.
pub fn jwt(issuer: String, audience: String) -> impl Strategy<Value = String> {
    let header = prop_oneof![
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (
            prop::sample::select(vec!["ES256", "RS256", "HS256", "none", "EdDSA", "es256"]),
            nasty_string(),
            any::<bool>()
        )
            .prop_map(|(alg, kid, crit)| {
                let mut h = serde_json::json!({"alg": alg, "typ": "JWT", "kid": kid});
                if crit {
                    h["crit"] = serde_json::json!(["exp"]);
                }
                h.to_string().into_bytes()
            }),
        Just(br#"{"alg":"ES256","alg":"none","kid":"k"}"#.to_vec()),
        prop::collection::vec(any::<u8>(), 0..48),
    ];
    let claims = prop_oneof![
        json_value().prop_map(|v| v.to_string().into_bytes()),
        (json_value(), any::<i64>(), any::<bool>()).prop_map(move |(sub, exp, dup)| {
            let mut c = serde_json::json!({"iss": issuer, "aud": audience, "sub": sub, "exp": exp});
            let mut s = c.take().to_string();
            if dup {
                s = s.replacen('{', r#"{"aud":"other","#, 1);
            }
            s.into_bytes()
        }),
        prop::collection::vec(any::<u8>(), 0..48),
    ];
    let sig = prop::collection::vec(any::<u8>(), 0..80);
    prop_oneof![
        4 => (header, claims, sig).prop_map(|(h, c, s)| format!("{}.{}.{}", b64(&h), b64(&c), b64(&s))),
        1 => "[A-Za-z0-9_.=+/-]{0,120}",
        1 => any::<String>(),
    ]
}

fn xml_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "Error",
            "Code",
            "Message",
            "Errors",
            "Response",
            "ErrorResponse",
            "RequestId",
            "GetCallerIdentityResponse",
            "GetCallerIdentityResult",
            "Arn",
            "Account",
            "UserId",
            "ListBucketResult",
            "Contents",
            "Key",
            "Size",
            "LastModified",
            "IsTruncated",
            "reservationSet",
            "item",
            "instancesSet",
            "instanceId",
            "ResponseMetadata",
            "x:Arn",
            "member",
            "entry",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z_][a-zA-Z0-9_:.-]{0,8}",
    ]
}

fn xml_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 :./+=-]{0,16}",
        Just("&amp;&lt;&#x41;&#65;".to_string()),
        Just("&bogus;&#xFFFFFFFF;&#0;".to_string()),
        Just("<![CDATA[x<y]]>".to_string()),
        Just("2024-01-31T12:00:00Z".to_string()),
        Just("12345678901234567890123".to_string()),
        Just("true".to_string()),
        any::<String>(),
    ]
}

/// XML documents shaped like AWS responses (random trees of AWS-ish element names), cut
/// short or spliced at random, plus arbitrary bytes.
pub fn xml_body() -> impl Strategy<Value = Vec<u8>> {
    let leaf = (xml_name(), xml_text()).prop_map(|(n, t)| format!("<{n}>{t}</{n}>"));
    let tree = leaf.prop_recursive(5, 40, 5, |inner| {
        (
            xml_name(),
            prop::collection::vec(inner, 0..5),
            prop::option::of((xml_name(), "[a-z\"'<&]{0,6}")),
        )
            .prop_map(|(n, kids, attr)| {
                let attr = attr.map_or(String::new(), |(k, v)| format!(" {k}=\"{v}\""));
                format!("<{n}{attr}>{}</{n}>", kids.concat())
            })
    });
    prop_oneof![
        3 => (tree.clone(), any::<bool>()).prop_map(|(t, decl)| {
            let decl = if decl { "<?xml version=\"1.0\" encoding=\"UTF-8\"?>" } else { "" };
            format!("{decl}{t}").into_bytes()
        }),
        1 => (tree, any::<prop::sample::Index>()).prop_map(|(t, cut)| {
            let b = t.into_bytes();
            let at = cut.index(b.len() + 1);
            b[..at].to_vec()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..200),
        1 => Just(format!("{}{}", "<a>".repeat(300), "</a>".repeat(300)).into_bytes()),
    ]
}

/// A request as it reaches the front door (what `tollgate_models::WireRequest` borrows).
#[derive(Debug, Clone)]
pub struct WireCase {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl WireCase {
    /// A valid request for `service`'s `operation`, as the client-side builder writes it.
    pub fn built(service: &str, operation: &str, params: Value) -> WireCase {
        let model = tollgate_models::load(service).expect("model");
        let params = params.as_object().cloned().unwrap_or_default();
        let req = tollgate_models::build_request(
            &model,
            operation,
            &params,
            "us-east-1",
            Some("http://127.0.0.1:5000"),
        )
        .unwrap_or_else(|e| panic!("{service}.{operation}: {e}"));
        let rest = req
            .url
            .split_once("://")
            .map_or(req.url.as_str(), |(_, r)| r);
        let target = rest.find('/').map_or("/", |i| &rest[i..]);
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        WireCase {
            method: req.method,
            path: path.to_string(),
            query: query.to_string(),
            headers: req.headers,
            body: req.body,
        }
    }
}

fn hostile_segment() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "%", "%2", "%zz", "%2F", "%C3%28", "%00", "..", ".", "", "{Bucket}", "%2e%2e", "+",
            "a%20b", "%FF%FE", "x?y", "#",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z0-9%._~+-]{0,12}",
        Just("a".repeat(300)),
        nasty_string(),
    ]
}

fn hostile_query_pair() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        prop::sample::select(vec![
            "Action",
            "Version",
            "Filter.1.Name",
            "Filter.1.Value.1",
            "Filter.01.Name",
            "Filter.0.Name",
            "Filter.x.Name",
            "Filter.99999999999.Name",
            "MessageAttributes.entry.1.Name",
            "MessageAttributes.entry.1.Value.StringValue",
            "Tags.member.1.Key",
            "X-Amz-Signature",
            "list-type",
            "uploads",
            "uploadId",
            "partNumber",
            "prefix",
            "max-keys",
            "Qualifier",
            "x-id",
        ])
        .prop_map(str::to_string),
        Just("a.".repeat(80)),
        "[A-Za-z0-9.%+]{0,16}",
        nasty_string(),
    ];
    (key, hostile_segment(), any::<bool>()).prop_map(|(k, v, eq)| {
        let enc = |s: &str| {
            percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        if eq { format!("{}={}", enc(&k), v) } else { k }
    })
}

fn hostile_header() -> impl Strategy<Value = (String, String)> {
    let name = prop_oneof![
        prop::sample::select(vec![
            "X-Amz-Target",
            "x-amz-target",
            "Content-Type",
            "Content-Encoding",
            "Content-Length",
            "x-amz-meta-",
            "x-amz-meta-a",
            "x-amz-copy-source",
            "x-amz-checksum-crc32",
            "x-amz-sdk-checksum-algorithm",
            "X-Amz-Invocation-Type",
            "x-amz-storage-class",
            "Expires",
            "If-Modified-Since",
            "x-amz-object-lock-retain-until-date",
            "x-amz-tagging",
            "Accept",
        ])
        .prop_map(str::to_string),
        "[a-zA-Z-]{1,20}",
    ];
    let value = prop_oneof![
        prop::sample::select(vec![
            "DynamoDB_20120810.GetItem",
            "DynamoDB_20120810.",
            ".GetItem",
            "application/x-www-form-urlencoded",
            "application/json",
            "aws-chunked",
            "aws-chunked,aws-chunked",
            "\"a,b\", \"c",
            "Tue, 02 Jan 2024 03:04:05 GMT",
            "not a date",
            "eyJ9",
            "b/k%zz?versionId=",
            "-1",
            "99999999999999999999",
        ])
        .prop_map(str::to_string),
        nasty_string(),
    ];
    (name, value)
}

fn body_mutation() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..200),
        json_value().prop_map(|v| v.to_string().into_bytes()),
        xml_body(),
        prop::collection::vec(hostile_query_pair(), 0..8).prop_map(|p| p.join("&").into_bytes()),
        Just(format!("{}{}", "[".repeat(200), "]".repeat(200)).into_bytes()),
    ]
}

/// Requests for the front door's decoders: valid ones from `bases` with one or more parts
/// replaced, spliced or cut (the body, path segments, query pairs, headers, the method), and
/// whole random ones.
pub fn wire_case(bases: Vec<WireCase>) -> impl Strategy<Value = WireCase> {
    let n = bases.len();
    let mutation = (
        0..n,
        prop::collection::vec(0u8..8, 1..4),
        body_mutation(),
        any::<prop::sample::Index>(),
        hostile_segment(),
        prop::collection::vec(hostile_query_pair(), 0..4),
        prop::collection::vec(hostile_header(), 0..4),
        prop::sample::select(vec![
            "GET", "PUT", "POST", "DELETE", "HEAD", "PATCH", "get", "",
        ]),
    );
    mutation.prop_map(move |(i, kinds, body, at, seg, pairs, headers, method)| {
        let mut c = bases[i].clone();
        for k in kinds {
            match k {
                0 => c.body = body.clone(),
                1 => {
                    let at = at.index(c.body.len() + 1);
                    let mut b = c.body[..at].to_vec();
                    b.extend_from_slice(&body);
                    b.extend_from_slice(&c.body[at..]);
                    c.body = b;
                }
                2 => c.body.truncate(at.index(c.body.len() + 1)),
                3 => {
                    let segs: Vec<&str> = c.path.split('/').collect();
                    let at = at.index(segs.len());
                    let mut out: Vec<String> = segs.iter().map(|s| s.to_string()).collect();
                    out.insert(at, seg.clone());
                    c.path = out.join("/");
                }
                4 => {
                    for p in &pairs {
                        if !c.query.is_empty() {
                            c.query.push('&');
                        }
                        c.query.push_str(p);
                    }
                }
                5 => c.headers.extend(headers.iter().cloned()),
                6 => c.method = method.to_string(),
                _ => {
                    let at = at.index(c.headers.len() + 1);
                    if at < c.headers.len() {
                        c.headers.remove(at);
                    }
                }
            }
        }
        c
    })
}
