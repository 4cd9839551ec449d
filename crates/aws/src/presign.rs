//! Presigned S3 `PUT` URLs for uploads too large to pass through the function
//! (`tollgate_core::upload`). Signed with the request's scoped session, in the query string,
//! with the object's length and SHA-256 as signed headers: S3 refuses any other bytes, and
//! the session policy any other key.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PercentEncodingMode, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
    UriPathNormalizationMode, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use tollgate_core::upload::{PresignedPut, Upload};
use tollgate_core::{Failure, FailureCode, NewRequest};

/// The `PUT` of `upload` for `request` (its `s3:PutObject`), presigned at `now` for
/// `expires`. The URL is built by the S3 model exactly as the executor would send the call
/// (endpoint, addressing, key encoding), so it names the approved bucket and key and no other.
pub fn presign_put(
    creds: &Credentials,
    request: &NewRequest,
    upload: &Upload,
    endpoint_override: Option<&str>,
    now: SystemTime,
    expires: Duration,
) -> Result<PresignedPut, Failure> {
    let failed = |why: String| {
        Failure::new(
            FailureCode::RequestBuildFailed,
            format!("cannot presign the upload: {why}"),
        )
    };
    let (model, operation) = tollgate_models::find("s3", "PutObject")
        .ok_or_else(|| failed("s3:PutObject is not in the AWS API models".into()))?;
    let built = tollgate_models::build_request(
        &model,
        &operation,
        &request.params,
        &request.region,
        endpoint_override,
    )
    .map_err(|e| failed(e.to_string()))?;
    // The URL parser drops `.` and `..` segments: the agent's client would send another path
    // than the one signed. Refused, as the executor refuses to send such a call.
    let uri: http::Uri = built
        .url
        .parse()
        .map_err(|e: http::uri::InvalidUri| failed(e.to_string()))?;
    let url = crate::signed_http::exact_url(&uri).map_err(|e| failed(e.message))?;
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => return Err(failed("its URL has no host".into())),
    };
    let signed = upload.signed_headers();
    let mut headers: Vec<(&str, &str)> = vec![("host", host.as_str())];
    headers.extend(signed.iter().map(|(k, v)| (k.as_str(), v.as_str())));

    let identity: Identity = creds.clone().into();
    let mut settings = SigningSettings::default();
    // S3's rules: the path as sent, encoded once.
    settings.percent_encoding_mode = PercentEncodingMode::Single;
    settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(expires);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(&built.signing_region)
        .name(&built.signing_name)
        .time(now)
        .settings(settings)
        .build()
        .map_err(|e| failed(e.to_string()))?
        .into();
    let signable = SignableRequest::new(
        "PUT",
        &built.url,
        headers.iter().copied(),
        // A presigned URL cannot carry the body's hash; the signed checksum header binds it.
        SignableBody::UnsignedPayload,
    )
    .map_err(|e| failed(e.to_string()))?;
    let (instructions, _) = sign(signable, &params)
        .map_err(|e| failed(e.to_string()))?
        .into_parts();
    let mut req = http::Request::put(&built.url)
        .body(())
        .map_err(|e| failed(e.to_string()))?;
    instructions.apply_to_request_http1x(&mut req);
    Ok(PresignedPut {
        url: req.uri().to_string(),
        headers: signed,
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use base64::Engine;
    use sha2::Digest;
    use tollgate_sigv4::{ErrorKind, Found, LookupError, Options, Request, Secret, verify};

    use super::*;

    const SECRET: &str = "session/secret+key";

    fn sum(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes))
    }

    /// The presigned `PUT` of `body` to `bkt/key`, or why none was made.
    fn presign(body: &[u8], key: &str, now: SystemTime) -> Result<PresignedPut, Failure> {
        let (new, up) = tollgate_core::upload::parse_upload(
            serde_json::json!({"bucket": "bkt", "key": key, "content_length": body.len(),
                "checksum_sha256": sum(body)})
            .to_string()
            .as_bytes(),
            "eu-west-1",
        )
        .unwrap();
        let creds = Credentials::new("ASIASCOPED", SECRET, Some("tok/en+=".into()), None, "t");
        presign_put(
            &creds,
            &new,
            &up,
            Some("http://127.0.0.1:4566"),
            now,
            Duration::from_secs(300),
        )
    }

    /// Verifies a `PUT` of `body` with `headers` to the presigned URL, as S3 would, with the
    /// session's secret (or `secret`).
    fn check(
        put: &PresignedPut,
        headers: &[(&str, &str)],
        body: &[u8],
        secret: &str,
        at: SystemTime,
    ) -> Result<(), ErrorKind> {
        let rest = put.url.strip_prefix("http://127.0.0.1:4566").unwrap();
        let (path, query) = rest.split_once('?').unwrap();
        let mut all: Vec<(&str, &[u8])> = vec![("host", b"127.0.0.1:4566")];
        all.extend(headers.iter().map(|(k, v)| (*k, v.as_bytes())));
        let req = Request {
            method: "PUT",
            path,
            query,
            headers: &all,
            body,
        };
        let lookup = |akid: &str, token: Option<&str>| -> Result<Found<()>, LookupError> {
            assert_eq!((akid, token), ("ASIASCOPED", Some("tok/en+=")));
            Ok(Found {
                secret: Secret::new(secret),
                principal: (),
            })
        };
        verify(&req, at, &lookup, &Options::default())
            .map(|_| ())
            .map_err(|e| e.kind)
    }

    #[test]
    fn a_presigned_put_verifies_only_for_the_declared_bytes_key_and_time() {
        let now = SystemTime::now();
        let body = b"the approved bytes";
        let put = presign(body, "dir/a b+c~.txt", now).unwrap();
        assert!(
            put.url
                .starts_with("http://127.0.0.1:4566/bkt/dir/a%20b%2Bc~.txt?"),
            "{}",
            put.url
        );
        assert!(put.url.contains("X-Amz-Expires=300"), "{}", put.url);
        assert!(
            put.url
                .contains("X-Amz-SignedHeaders=content-length%3Bhost%3Bx-amz-checksum-sha256"),
            "{}",
            put.url
        );
        let len = body.len().to_string();
        let good = sum(body);
        let send = |len: &str, sum: Option<&str>, body: &[u8], secret: &str, at: SystemTime| {
            let mut h = vec![("content-length", len)];
            h.extend(sum.map(|s| ("x-amz-checksum-sha256", s)));
            check(&put, &h, body, secret, at)
        };
        assert_eq!(send(&len, Some(&good), body, SECRET, now), Ok(()));
        // Other bytes of another length: the signed length differs.
        let longer = b"the approved bytes!";
        assert_eq!(
            send(&longer.len().to_string(), Some(&good), longer, SECRET, now),
            Err(ErrorKind::SignatureDoesNotMatch)
        );
        // Other bytes of the same length with their own checksum: the signed checksum differs.
        let other = b"the APPROVED bytes";
        assert_eq!(
            send(&len, Some(&sum(other)), other, SECRET, now),
            Err(ErrorKind::SignatureDoesNotMatch)
        );
        // Without the checksum header the signature does not hold either.
        assert_eq!(
            send(&len, None, body, SECRET, now),
            Err(ErrorKind::SignatureDoesNotMatch)
        );
        // Another secret, or after the URL's five minutes.
        assert_eq!(
            send(&len, Some(&good), body, "another secret", now),
            Err(ErrorKind::SignatureDoesNotMatch)
        );
        let later = now + Duration::from_secs(301);
        assert_eq!(
            send(&len, Some(&good), body, SECRET, later),
            Err(ErrorKind::PresignedUrlExpired)
        );
    }

    #[test]
    fn the_url_names_the_key_exactly_or_is_not_made() {
        let now = SystemTime::now();
        let put = presign(b"x", "a/b%2Fc/\u{e9}", now).unwrap();
        assert!(
            put.url
                .starts_with("http://127.0.0.1:4566/bkt/a/b%252Fc/%C3%A9?"),
            "{}",
            put.url
        );
        let e = presign(b"x", "a/../etc", now).unwrap_err();
        assert!(e.message.contains("would change"), "{}", e.message);
    }
}
