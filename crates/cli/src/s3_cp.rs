//! `tollgate s3 cp FILE s3://bucket/key`: an upload too large to pass through Tollgate. The
//! file's length and SHA-256 are declared (`POST /v1/uploads`), decided and approved like
//! the `s3:PutObject` it is; once it may run, the file goes straight to S3 on the presigned
//! URL Tollgate answers with, which S3 honours for exactly those bytes.

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use sha2::Digest;
use tollgate_cli::client::{Answer, Status};

/// Where the object goes: `s3://bucket/key`; a key ending in `/` (or none) takes the file's
/// name, as `aws s3 cp` does.
pub fn destination(dest: &str, file: &str) -> Result<(String, String), String> {
    let rest = dest
        .strip_prefix("s3://")
        .ok_or_else(|| format!("`{dest}`: the destination must be s3://bucket/key"))?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(format!("`{dest}`: no bucket"));
    }
    let key = if key.is_empty() || key.ends_with('/') {
        let name = std::path::Path::new(file)
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("`{file}`: no file name to use as the key"))?;
        format!("{key}{name}")
    } else {
        key.to_string()
    };
    Ok((bucket.to_string(), key))
}

/// The file's bytes and their SHA-256 in S3's base64 form.
pub fn read(file: &str) -> Result<(Vec<u8>, String), String> {
    let bytes = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let sum = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&bytes));
    Ok((bytes, sum))
}

/// The body of `POST /v1/uploads`.
pub fn declaration(
    bucket: &str,
    key: &str,
    bytes: &[u8],
    sum: &str,
    reason: Option<&str>,
    region: Option<&str>,
    target: Option<&str>,
) -> Value {
    let mut body = json!({"bucket": bucket, "key": key, "content_length": bytes.len(), "checksum_sha256": sum});
    for (k, v) in [("reason", reason), ("region", region), ("target", target)] {
        if let Some(v) = v {
            body[k] = json!(v);
        }
    }
    body
}

/// What S3 said to the `PUT`.
pub struct Put {
    pub etag: Option<String>,
    pub version_id: Option<String>,
    /// S3's error code and message, when it refused.
    pub error: Option<String>,
}

/// Sends the file to the presigned URL in a succeeded upload's answer. The URL is a secret:
/// it never appears in what this returns (transport errors are stripped of it).
pub async fn put(answer: &Answer, bytes: Vec<u8>) -> Result<Put, String> {
    let upload = &answer.body["result"]["Upload"];
    let url = upload["Url"]
        .as_str()
        .filter(|u| u.starts_with("http"))
        .ok_or("the answer carries no upload URL (only the agent that asked receives it)")?;
    // Large bodies take as long as they take (no overall timeout; the URL's own expiry bounds
    // the start), but a connection that stalls is given up.
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(120))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.without_url().to_string())?;
    let mut req = http.put(url).body(bytes);
    if let Some(headers) = upload["Headers"].as_object() {
        for (k, v) in headers {
            // reqwest sets Content-Length from the body; the signed value is the same.
            if !k.eq_ignore_ascii_case("content-length")
                && let Some(v) = v.as_str()
            {
                req = req.header(k, v);
            }
        }
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("upload to S3 failed: {}", e.without_url()))?;
    let status = resp.status().as_u16();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (etag, version_id) = (header("etag"), header("x-amz-version-id"));
    let text = resp.text().await.unwrap_or_default();
    let error = (!(200..300).contains(&status)).then(|| s3_error(&text, status));
    Ok(Put {
        etag,
        version_id,
        error,
    })
}

/// `Code: Message` from S3's XML error body.
fn s3_error(xml: &str, status: u16) -> String {
    let tag = |t: &str| {
        let open = format!("<{t}>");
        let start = xml.find(&open)? + open.len();
        let end = xml[start..].find(&format!("</{t}>"))? + start;
        Some(xml[start..end].to_string())
    };
    match (tag("Code"), tag("Message")) {
        (Some(c), Some(m)) => format!("S3 refused the upload (HTTP {status}): {c}: {m}"),
        (Some(c), None) => format!("S3 refused the upload (HTTP {status}): {c}"),
        _ => format!("S3 refused the upload (HTTP {status})"),
    }
}

/// Whether the answer is an upload that may go now.
pub fn authorised(answer: &Answer) -> bool {
    answer.status == 200 && answer.request_state() == Some(Status::Succeeded)
}

/// What `s3 cp` prints once S3 took the bytes.
pub fn done(answer: &Answer, bucket: &str, key: &str, bytes: usize, sum: &str, put: &Put) -> Value {
    json!({
        "request_id": answer.body["id"],
        "bucket": bucket,
        "key": key,
        "content_length": bytes,
        "checksum_sha256": sum,
        "etag": put.etag,
        "version_id": put.version_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_as_aws_s3_cp_reads_them() {
        assert_eq!(
            destination("s3://b/dir/k.bin", "x/f.bin").unwrap(),
            ("b".into(), "dir/k.bin".into())
        );
        assert_eq!(
            destination("s3://b/dir/", "x/f.bin").unwrap(),
            ("b".into(), "dir/f.bin".into())
        );
        assert_eq!(
            destination("s3://b", "f.bin").unwrap(),
            ("b".into(), "f.bin".into())
        );
        assert!(destination("b/k", "f").is_err());
        assert!(destination("s3:///k", "f").is_err());
    }

    #[test]
    fn s3_errors_are_read_from_their_xml() {
        let xml = "<Error><Code>BadDigest</Code><Message>The SHA256 you specified did not match the calculated checksum.</Message></Error>";
        assert_eq!(
            s3_error(xml, 400),
            "S3 refused the upload (HTTP 400): BadDigest: The SHA256 you specified did not match the calculated checksum."
        );
        assert_eq!(s3_error("", 403), "S3 refused the upload (HTTP 403)");
    }
}
