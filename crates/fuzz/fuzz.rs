//! Fuzz targets for everything that parses untrusted input. Each property is "never panics,
//! and refuses with a caller's-mistake error", plus round trips where the format has one.
//! Cases per target: `TOLLGATE_FUZZ_CASES` (default 2,000). A failure is shrunk by proptest
//! and its seed saved in `fuzz.regressions` beside this file, which every later run replays
//! first; turn a lasting one into a named test beside the property it broke.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use tollgate_aws::oidc::{IssuerConfig, Verifier};
use tollgate_core::claims::{ClaimMapping, identity_from_claims, reject_duplicate_keys};
use tollgate_core::request::parse_new_request;
use tollgate_core::{ErrorCode, link};
use tollgate_fuzz::*;

const ISSUER: &str = "https://issuer.fuzz.example";
const AUDIENCE: &str = "tollgate-agents";

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("regressions"),
        )),
        ..ProptestConfig::default()
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    V.get_or_init(|| {
        // Keys pinned (and empty): no token can verify, and nothing is fetched.
        let cfg = IssuerConfig {
            jwks: Some(serde_json::from_value(json!({"keys": []})).expect("jwks")),
            ..IssuerConfig::new(ISSUER, AUDIENCE)
        };
        Verifier::new(vec![cfg], std::time::Duration::from_secs(3600))
    })
}

/// A refusal must be the caller's fault, with a message, never an internal error.
fn assert_client_error(code: ErrorCode, message: &str) {
    assert!(
        code.http_status() < 500,
        "{code:?} for bad input: {message}"
    );
    assert!(!message.is_empty(), "{code:?} without a message");
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn request_body_parser(body in request_body()) {
        match parse_new_request(&body, "us-east-1") {
            Ok(req) => {
                // Accepted requests hash deterministically (approvals are bound to it).
                prop_assert_eq!(req.hash(), req.clone().hash());
                prop_assert!(!req.region.is_empty());
            }
            Err(e) => assert_client_error(e.code, &e.message),
        }
    }

    #[test]
    fn upload_declaration_parser(body in upload_body()) {
        match tollgate_core::upload::parse_upload(&body, "us-east-1") {
            Ok((req, upload)) => {
                // Exactly the call policy decides, and a declaration that adds up.
                prop_assert_eq!(req.action.to_string(), "s3:PutObject");
                prop_assert_eq!(req.params.len(), 4);
                prop_assert_eq!(&req.params["ContentLength"], &json!(upload.content_length));
                if !upload.parts.is_empty() {
                    let total: u64 = upload.parts.iter().map(|p| p.content_length).sum();
                    prop_assert_eq!(total, upload.content_length);
                    prop_assert!(upload.parts.len() <= tollgate_core::upload::MAX_PARTS);
                } else {
                    prop_assert!(upload.content_length <= tollgate_core::upload::MAX_SINGLE_PUT_BYTES);
                }
                prop_assert_eq!(upload.hash(&req), upload.clone().hash(&req.clone()));
            }
            Err(e) => assert_client_error(e.code, &e.message),
        }
    }

    #[test]
    fn jwt_header_and_claims(token in jwt(ISSUER.into(), AUDIENCE.into())) {
        let out = runtime().block_on(verifier().verify(&token));
        match out {
            Ok(v) => prop_assert!(false, "a token without a valid signature verified: {v:?}"),
            Err(e) => {
                prop_assert_eq!(e.code, ErrorCode::Unauthorized);
                prop_assert!(!e.message.contains(&token) || token.len() < 8, "token echoed");
            }
        }
        // The same bytes through the duplicate-key check the verifier applies to each segment.
        let _ = reject_duplicate_keys(token.as_bytes());
    }

    #[test]
    fn jwt_claims_to_identity(claims in prop::collection::vec((prop::sample::select(vec!["sub", "name", "email", "groups", "repository", "aud", "iss"]).prop_map(str::to_string), json_value()), 0..8)) {
        let claims: Map<String, Value> = claims.into_iter().collect();
        let mapping = ClaimMapping::default();
        if let Ok(id) = identity_from_claims(ISSUER, &claims, &mapping) {
            prop_assert!(!id.subject.is_empty());
            prop_assert_eq!(id.issuer.as_str(), ISSUER);
        }
        let bytes = Value::Object(claims).to_string();
        prop_assert!(reject_duplicate_keys(bytes.as_bytes()).is_ok(), "serde_json output has no duplicate keys");
    }

    #[test]
    fn approval_link_tokens(key in prop::collection::vec(any::<u8>(), 1..64), id in nasty_string(), exp in any::<u64>(), k in "[0-9]{0,20}\\.?[A-Za-z0-9_=+/-]{0,60}|.{0,80}", now in any::<u64>(), flip in any::<prop::sample::Index>()) {
        // Arbitrary keys never verify.
        prop_assert!(link::verify(&key, &id, &k, now).is_err() || k == link::sign(&key, &id, k.split('.').next().and_then(|e| e.parse().ok()).unwrap_or(0)));
        // A signed key verifies until it expires, and only for its request.
        let good = link::sign(&key, &id, exp);
        prop_assert_eq!(link::verify(&key, &id, &good, exp.saturating_sub(1)), Ok(exp));
        if exp < u64::MAX {
            prop_assert_eq!(link::verify(&key, &id, &good, exp + 1), Err(link::LinkError::Expired));
        }
        let other = format!("{id}x");
        prop_assert!(link::verify(&key, &other, &good, 0).is_err());
        // Any one changed character breaks it.
        let mut bytes = good.clone().into_bytes();
        let i = flip.index(bytes.len());
        bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).expect("ascii");
        if altered != good {
            prop_assert!(link::verify(&key, &id, &altered, 0).is_err(), "{altered} verified");
        }
    }

    #[test]
    fn xml_response_parsing(body in xml_body(), which in 0usize..5, status in prop::sample::select(vec![200u16, 400, 403, 404, 500, 503])) {
        let (prefix, op) = [
            ("sts", "GetCallerIdentity"),
            ("s3", "ListObjectsV2"),
            ("ec2", "DescribeInstances"),
            ("iam", "GetUser"),
            ("sns", "Publish"),
        ][which];
        let (model, op) = tollgate_models::find(prefix, op).expect("model");
        let headers = vec![("content-type".to_string(), "text/xml".to_string())];
        match tollgate_models::parse_response(&model, &op, status, &headers, &body) {
            Ok(v) => prop_assert!(status < 300 && v.is_object(), "{status}: {v}"),
            Err(e) => prop_assert!(!e.code.is_empty()),
        }
    }
}

/// A query-protocol body: ASCII, every byte outside the unreserved set percent-encoded.
fn form_body(bytes: Vec<u8>) -> Result<String, TestCaseError> {
    let body = String::from_utf8(bytes).expect("form bodies are ASCII");
    prop_assert!(
        body.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.~%&=+".contains(&b)),
        "unescaped byte in {body}"
    );
    Ok(body)
}

/// Runs a round-trip property whose checks live in its `Ok` arm, and fails when fewer than
/// `min_ok` cases reach it: a property that only ever meets `Invalid` proves nothing.
fn run_counted<S: Strategy>(
    name: &str,
    strategy: S,
    min_ok: u32,
    test: impl Fn(S::Value) -> Result<bool, TestCaseError>,
) {
    use proptest::test_runner::TestRunner;
    let ok = std::cell::Cell::new(0u32);
    let mut runner = TestRunner::new(ProptestConfig {
        source_file: Some(file!()),
        ..config()
    });
    let result = runner.run(&strategy, |v| {
        if test(v)? {
            ok.set(ok.get() + 1);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    assert!(
        ok.get() >= min_ok,
        "{name}: only {} of {} cases reached the round trip (at least {min_ok} must)",
        ok.get(),
        cases()
    );
}

#[test]
fn query_protocol_serialization() {
    let strategy = (
        any::<String>(),
        nasty_string(),
        nasty_string(),
        any::<String>(),
    );
    run_counted(
        "query_protocol_serialization",
        strategy,
        cases() / 4,
        |(message, subject, attr, value)| {
            let (model, op) = tollgate_models::find("sns", "Publish").expect("model");
            let params = json!({
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:t",
                "Message": message,
                "Subject": subject,
                "MessageAttributes": {attr.clone(): {"DataType": "String", "StringValue": value}},
            });
            let params = params.as_object().expect("object");
            match tollgate_models::build_request(&model, &op, params, "us-east-1", None) {
                Err(tollgate_models::BuildError::Invalid(_)) => Ok(false),
                Err(e) => Err(TestCaseError::fail(e.to_string())),
                Ok(req) => {
                    let body = form_body(req.body)?;
                    let form: Vec<(String, String)> = body
                        .split('&')
                        .map(|kv| {
                            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                            // Form encoding, as botocore's urlencode writes it: `+` is a space.
                            let d = |s: &str| {
                                percent_encoding::percent_decode_str(&s.replace('+', " "))
                                    .decode_utf8()
                                    .expect("utf-8")
                                    .into_owned()
                            };
                            (d(k), d(v))
                        })
                        .collect();
                    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
                    prop_assert_eq!(get("Action"), Some("Publish".to_string()));
                    prop_assert_eq!(get("Message"), Some(message.clone()));
                    prop_assert_eq!(get("MessageAttributes.entry.1.Name"), Some(attr.clone()));
                    prop_assert_eq!(
                        get("MessageAttributes.entry.1.Value.StringValue"),
                        Some(value.clone())
                    );
                    Ok(true)
                }
            }
        },
    );
}

#[test]
fn ec2_protocol_serialization() {
    let strategy = (nasty_string(), prop::collection::vec(any::<String>(), 0..4));
    run_counted(
        "ec2_protocol_serialization",
        strategy,
        cases() / 4,
        |(name, values)| {
            let (model, op) = tollgate_models::find("ec2", "DescribeInstances").expect("model");
            let params = json!({"Filters": [{"Name": name, "Values": values}]});
            match tollgate_models::build_request(
                &model,
                &op,
                params.as_object().expect("object"),
                "us-east-1",
                None,
            ) {
                Err(tollgate_models::BuildError::Invalid(_)) => Ok(false),
                Err(e) => Err(TestCaseError::fail(e.to_string())),
                Ok(req) => {
                    form_body(req.body)?;
                    Ok(true)
                }
            }
        },
    );
}

mod sigv4_verifier {
    use std::time::Duration;

    use proptest::prelude::*;
    use tollgate_fuzz::sigv4::*;
    use tollgate_sigv4::{
        ALL_KINDS, Family, Found, LookupError, Options, PayloadMode, Secret, canonical_request,
        verify,
    };

    use super::config;

    const SECRET: &str = rust_signer::SECRET;

    /// Knows every key, with the signer's secret: only a valid signature can pass.
    fn any_key(_: &str, _: Option<&str>) -> Result<Found<()>, LookupError> {
        Ok(Found {
            secret: Secret::new(SECRET),
            principal: (),
        })
    }

    fn now() -> std::time::SystemTime {
        signed_at() + Duration::from_secs(1)
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn sigv4_garbage_never_verifies(raw in garbage_request()) {
            let out = raw.with(|req| verify(req, now(), &any_key, &Options::default()).map(|v| v.payload));
            match out {
                Ok(mode) => prop_assert!(false, "garbage verified as {mode:?}: {raw:?}"),
                Err(e) => {
                    prop_assert!(!e.message.is_empty());
                    prop_assert!(!e.message.contains(SECRET));
                    for family in [Family::S3, Family::Query, Family::Json] {
                        prop_assert!(e.aws_code(family).status < 500);
                    }
                }
            }
        }

        #[test]
        fn sigv4_hostile_chunk_framing(signed in any::<bool>(), body in prop_oneof![chunked_body(), prop::collection::vec(any::<u8>(), 0..256)]) {
            // x-amz-decoded-content-length is signed, so the header pins an empty body; the
            // signature covers the headers, not these bytes.
            let raw = with_hostile_body(signed, body);
            let out = raw.with(|req| verify(req, now(), &any_key, &Options::default()).map(|v| (v.body.into_owned(), v.checksum)));
            match out {
                Ok((decoded, checksum)) => {
                    prop_assert!(!signed, "a signed stream verified with bytes nobody signed");
                    prop_assert!(decoded.is_empty(), "the signed decoded length is 0");
                    let c = checksum.expect("an unsigned stream verifies only with its trailer");
                    prop_assert_eq!(c.algorithm.compute(&decoded), c.value);
                }
                Err(e) => {
                    prop_assert!(ALL_KINDS.contains(&e.kind));
                    prop_assert!(e.aws_code(Family::S3).status < 500);
                }
            }
        }

        #[test]
        fn sigv4_mutated_requests_verify_only_as_signed(which in 0usize..6, edits in prop::collection::vec(mutation(), 1..3)) {
            let original = &signed_requests()[which];
            let opts = Options::default();
            let (canonical, body) = original.with(|req| {
                let v = verify(req, now(), &any_key, &opts).expect("the unmutated request verifies");
                (canonical_request(req, &opts).expect("canonical"), v.body.into_owned())
            });
            let mut raw = original.clone();
            for m in &edits {
                apply(&mut raw, m);
            }
            let out = raw.with(|req| {
                verify(req, now(), &any_key, &opts).map(|v| (v.payload, v.body.into_owned(), canonical_request(req, &opts)))
            });
            match out {
                // Accepted only when what was signed is what was sent: the same canonical
                // request, and the same body unless the payload was declared unsigned.
                Ok((mode, got, again)) => {
                    prop_assert_eq!(again.expect("canonical of a verified request"), canonical);
                    if mode != PayloadMode::Unsigned {
                        prop_assert_eq!(got, body, "a changed body verified ({:?})", mode);
                    }
                }
                Err(e) => {
                    prop_assert!(ALL_KINDS.contains(&e.kind));
                    prop_assert!(!e.message.contains(SECRET));
                }
            }
        }
    }
}

/// The front door's decoders on hostile requests: never a panic; a refusal always has a
/// message; an accepted request names one of the model's operations, and when its parameters
/// validate and build, decoding the rebuilt request gives them back (no parser differential
/// between what the gate judges and what it sends). Counts how many cases were accepted, so
/// the property cannot pass without reaching its `Ok` case.
fn decoder_target(service: &str, bases: Vec<WireCase>) {
    use proptest::test_runner::TestRunner;
    use std::cell::Cell;
    let model = tollgate_models::load(service).expect("model");
    let accepted = Cell::new(0u32);
    let rebuilt = Cell::new(0u32);
    let mut runner = TestRunner::new(ProptestConfig {
        source_file: Some(file!()),
        ..config()
    });
    let result = runner.run(&wire_case(bases), |c| {
        let req = tollgate_models::WireRequest {
            method: &c.method,
            path: &c.path,
            query: &c.query,
            headers: &c.headers,
            body: &c.body,
        };
        let decoded = match tollgate_models::decode_request(&model, &req) {
            Ok(d) => d,
            Err(e) => {
                prop_assert!(!e.message.is_empty(), "{e:?} without a message");
                return Ok(());
            }
        };
        accepted.set(accepted.get() + 1);
        prop_assert!(model.operation(&decoded.operation).is_some());
        if tollgate_models::validate(&model, &decoded.operation, &decoded.params).is_err() {
            return Ok(());
        }
        let Ok(again) = tollgate_models::build_request(
            &model,
            &decoded.operation,
            &decoded.params,
            "us-east-1",
            Some("http://127.0.0.1:5000"),
        ) else {
            return Ok(());
        };
        let rest = again
            .url
            .split_once("://")
            .map_or(again.url.as_str(), |(_, r)| r);
        let target = rest.find('/').map_or("/", |i| &rest[i..]);
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let second = tollgate_models::decode_request(
            &model,
            &tollgate_models::WireRequest {
                method: &again.method,
                path,
                query,
                headers: &again.headers,
                body: &again.body,
            },
        );
        let second = match second {
            Ok(s) => s,
            Err(e) => {
                prop_assert!(
                    false,
                    "the rebuilt request does not decode: {e}\n{decoded:?}"
                );
                unreachable!()
            }
        };
        prop_assert_eq!(&second.operation, &decoded.operation);
        for (k, v) in &decoded.params {
            prop_assert_eq!(second.params.get(k), Some(v), "{}", k);
        }
        rebuilt.set(rebuilt.get() + 1);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{service}: {e}");
    }
    // A tenth of the cases keep a decodable request (mutations that touch nothing that
    // matters, or only what the decoder ignores), and some of those rebuild.
    assert!(
        accepted.get() >= cases() / 10,
        "{service}: only {} of {} cases decoded",
        accepted.get(),
        cases()
    );
    assert!(rebuilt.get() > 0, "{service}: no accepted case rebuilt");
}

#[test]
fn json_decoder() {
    decoder_target(
        "dynamodb",
        vec![
            WireCase::built(
                "dynamodb",
                "GetItem",
                json!({"TableName": "t", "Key": {"id": {"S": "a"}}}),
            ),
            WireCase::built(
                "dynamodb",
                "PutItem",
                json!({"TableName": "t", "Item": {"id": {"S": "a"}, "n": {"N": "1"}, "m": {"M": {"x": {"BOOL": true}}}, "l": {"L": [{"B": "aGk="}]}}}),
            ),
            WireCase::built(
                "dynamodb",
                "Query",
                json!({"TableName": "t", "KeyConditionExpression": "#k = :v", "ExpressionAttributeNames": {"#k": "id"}, "ExpressionAttributeValues": {":v": {"S": "a"}}, "Limit": 5}),
            ),
        ],
    );
    decoder_target(
        "logs",
        vec![WireCase::built(
            "logs",
            "PutLogEvents",
            json!({"logGroupName": "g", "logStreamName": "s", "logEvents": [{"timestamp": 1, "message": "m"}]}),
        )],
    );
}

#[test]
fn query_decoder() {
    decoder_target(
        "sns",
        vec![WireCase::built(
            "sns",
            "Publish",
            json!({"TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "m", "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}}),
        )],
    );
    decoder_target(
        "iam",
        vec![
            WireCase::built(
                "iam",
                "CreateRole",
                json!({"RoleName": "r", "AssumeRolePolicyDocument": "{}", "Tags": [{"Key": "k", "Value": "v"}]}),
            ),
            WireCase::built("iam", "ListRoles", json!({"MaxItems": 5})),
        ],
    );
}

#[test]
fn ec2_decoder() {
    decoder_target(
        "ec2",
        vec![
            WireCase::built(
                "ec2",
                "DescribeInstances",
                json!({"Filters": [{"Name": "tag:env", "Values": ["prod", "dev"]}], "MaxResults": 5}),
            ),
            WireCase::built(
                "ec2",
                "RunInstances",
                json!({"ImageId": "ami-1", "MinCount": 1, "MaxCount": 1, "UserData": "#!/bin/sh\necho hi"}),
            ),
        ],
    );
}

#[test]
fn rest_json_decoder() {
    decoder_target(
        "lambda",
        vec![
            WireCase::built(
                "lambda",
                "Invoke",
                json!({"FunctionName": "f", "Payload": "e30=", "Qualifier": "1", "InvocationType": "Event"}),
            ),
            WireCase::built("lambda", "ListFunctions", json!({"MaxItems": 5})),
            WireCase::built(
                "lambda",
                "TagResource",
                json!({"Resource": "arn:aws:lambda:us-east-1:1:function:f", "Tags": {"a": "b"}}),
            ),
        ],
    );
    decoder_target(
        "apigateway",
        vec![WireCase::built(
            "apigateway",
            "GetExport",
            json!({"restApiId": "a", "stageName": "s", "exportType": "oas30", "parameters": {"extensions": "x"}, "accepts": "application/yaml"}),
        )],
    );
}

#[test]
fn rest_xml_decoder() {
    decoder_target(
        "s3",
        vec![
            WireCase::built(
                "s3",
                "PutObject",
                json!({"Bucket": "b", "Key": "a b/c%", "Body": "aGk=", "Metadata": {"m": "v"}, "ContentType": "text/plain"}),
            ),
            WireCase::built(
                "s3",
                "PutBucketTagging",
                json!({"Bucket": "b", "Tagging": {"TagSet": [{"Key": "k", "Value": "v"}]}}),
            ),
            WireCase::built(
                "s3",
                "DeleteObjects",
                json!({"Bucket": "b", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b"}], "Quiet": true}}),
            ),
            WireCase::built(
                "s3",
                "ListObjectsV2",
                json!({"Bucket": "b", "Prefix": "p", "MaxKeys": 3}),
            ),
            WireCase::built(
                "s3",
                "CopyObject",
                json!({"Bucket": "b", "Key": "k", "CopySource": "src/a b"}),
            ),
        ],
    );
    decoder_target(
        "route53",
        vec![WireCase::built(
            "route53",
            "ChangeResourceRecordSets",
            json!({"HostedZoneId": "Z1", "ChangeBatch": {"Changes": [{"Action": "UPSERT", "ResourceRecordSet": {"Name": "a.", "Type": "A", "TTL": 60, "ResourceRecords": [{"Value": "1.2.3.4"}]}}]}}),
        )],
    );
}
