//! Requests signed by botocore itself (see `gen/botocore_vectors.py`): JSON, query, ec2 and
//! rest-json services under `/aws`, `/aws/` and no base path; S3 keys with `//`, dots, `%`,
//! `?`, `#`, `+`, spaces and Unicode; botocore's default aws-chunked uploads with CRC32,
//! SHA-1, SHA-256 and SHA-512 trailers (CRC32C and CRC64/NVME when generated with awscrt),
//! a body over botocore's 1 MiB chunk size; signed payloads; presigned S3 and STS URLs.
//!
//! The vectors are committed so these tests run without Python; when the project's `.venv`
//! exists (`make venv`, which `make test` runs), the script is also run again and its fresh
//! output checked the same way, so a botocore upgrade cannot drift unnoticed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{Vectors, check, load_vectors, one_key, plus};
use tollgate_sigv4::{AuthLocation, ErrorKind, Options, PayloadMode, operation_path};

fn committed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/botocore-vectors.json.gz")
}

/// Which base path each vector's endpoint had.
fn base_of(path: &str) -> &'static str {
    if path.starts_with("/aws") { "/aws" } else { "" }
}

fn check_all(v: &Vectors) -> usize {
    let opts = Options::default();
    let lookup = one_key(v.akid, v.secret, Some(v.token.clone()));
    let mut ok = 0;
    for vec in &v.vectors {
        let name = &vec.name;
        if name == "s3-presigned-sigv2" {
            let err = check(&vec.raw, std::time::SystemTime::now(), &lookup, &opts).unwrap_err();
            assert_eq!(
                err.kind,
                ErrorKind::UnsupportedAuthentication,
                "{name}: {err}"
            );
            continue;
        }
        let now = plus(vec.signed_at(), 1);
        let (body, verified) =
            check(&vec.raw, now, &lookup, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let c = &verified.credential;
        assert_eq!(c.access_key_id, v.akid, "{name}");
        assert_eq!(c.session_token.as_deref(), Some(v.token.as_str()), "{name}");
        assert_eq!(c.service, vec.service, "{name}: signing name");
        assert_eq!(c.region, "us-east-1", "{name}");
        assert_eq!(c.signed_at, vec.signed_at(), "{name}");
        assert!(verified.is_signed("host"), "{name}");
        let expected_body = vec.decoded.clone().unwrap_or_else(|| vec.raw.body.clone());
        assert_eq!(body, expected_body, "{name}: decoded body");
        if vec.presigned() {
            assert!(
                matches!(verified.location, AuthLocation::Query { .. }),
                "{name}"
            );
        } else {
            assert_eq!(verified.location, AuthLocation::Header, "{name}");
        }
        if name.contains("-trailer-") {
            assert_eq!(
                verified.payload,
                PayloadMode::StreamingUnsignedTrailer,
                "{name}"
            );
            let sum = verified
                .checksum
                .as_ref()
                .unwrap_or_else(|| panic!("{name}: trailer checksum"));
            assert_eq!(sum.value, sum.algorithm.compute(&body), "{name}");
        }
        if name == "s3-putobject-trailer-gzip" {
            assert_eq!(verified.content_encoding.as_deref(), Some("gzip"));
        }
        // Every SDK's spelling of the base path reaches the same operation path.
        let op_path = operation_path(&vec.raw.path, base_of(&vec.raw.path))
            .unwrap_or_else(|| panic!("{name}"));
        if vec.service == "s3" {
            assert!(op_path.starts_with("/bkt"), "{name}: {op_path}");
        } else if !vec.service.starts_with("lambda") {
            assert_eq!(op_path, "/", "{name}");
        }

        let wrong = one_key(
            v.akid,
            "tollgate/test+secret/key/not/an/aws/key1",
            Some(v.token.clone()),
        );
        let err = check(&vec.raw, now, &wrong, &opts).unwrap_err();
        assert_eq!(
            err.kind,
            ErrorKind::SignatureDoesNotMatch,
            "{name}: wrong secret"
        );
        ok += 1;
    }
    ok
}

#[test]
fn committed_botocore_vectors_verify() {
    let v = load_vectors(&committed());
    assert_eq!(
        v.botocore, "1.44.8",
        "regenerate the vectors with the pinned botocore"
    );
    assert_eq!(check_all(&v), 67, "every vector but the SigV2 one verified");
    for needed in [
        "s3-putobject-trailer-crc32c",
        "s3-putobject-trailer-crc64nvme",
        "s3-putobject-trailer-big",
    ] {
        assert!(
            v.vectors.iter().any(|x| x.name == needed),
            "{needed} missing from the committed vectors"
        );
    }
}

#[test]
fn fresh_botocore_vectors_verify_when_the_venv_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    if !python.exists() {
        eprintln!("no .venv (run `make venv`): only the committed vectors were checked");
        return;
    }
    let out = std::env::temp_dir().join(format!(
        "tollgate-sigv4-botocore-{}.json.gz",
        std::process::id()
    ));
    let status = Command::new(python)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("gen/botocore_vectors.py"))
        .arg(&out)
        .status()
        .expect("run the generator");
    assert!(status.success(), "gen/botocore_vectors.py failed");
    let v = load_vectors(&out);
    let _ = std::fs::remove_file(&out);
    assert_eq!(
        check_all(&v),
        v.vectors.len() - 1,
        "every vector but the SigV2 one verified"
    );
}
