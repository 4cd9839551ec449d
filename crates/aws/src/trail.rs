//! A trail's log files in S3, as CloudTrail delivers them: gzipped JSON `{"Records": [...]}`
//! under `<prefix>/AWSLogs/[<organization id>/]<account>/CloudTrail/<region>/YYYY/MM/DD/`.

use std::io::Read;

use aws_credential_types::Credentials;
use tollgate_core::reconcile::{TrailCall, parse_log};
use tollgate_core::time::civil_from_days;

use crate::s3::S3;

/// A decompressed log file larger than this is refused: CloudTrail's are a few MB.
pub const MAX_LOG_FILE_BYTES: u64 = 256 << 20;

#[derive(Debug, Clone)]
pub struct TrailLogs {
    s3: S3,
    creds: Credentials,
    bucket: String,
    /// Everything before `<account>/`, ending with `/`.
    root: String,
}

/// What was read of the trail.
#[derive(Debug, Default)]
pub struct TrailRead {
    pub calls: Vec<TrailCall>,
    pub files: usize,
}

impl TrailLogs {
    /// `prefix` is the trail's S3 key prefix, if it has one; `organization` the organization
    /// id of an organization trail.
    pub fn new(
        s3: S3,
        creds: Credentials,
        bucket: &str,
        prefix: Option<&str>,
        organization: Option<&str>,
    ) -> Self {
        let mut root = String::new();
        if let Some(p) = prefix
            .map(|p| p.trim_matches('/'))
            .filter(|p| !p.is_empty())
        {
            root.push_str(p);
            root.push('/');
        }
        root.push_str("AWSLogs/");
        if let Some(o) = organization {
            root.push_str(o);
            root.push('/');
        }
        Self {
            s3,
            creds,
            bucket: bucket.to_string(),
            root,
        }
    }

    fn account_root(&self, account: &str) -> String {
        format!("{}{account}/CloudTrail/", self.root)
    }

    /// The regions the trail has delivered files for in `account`.
    pub async fn regions(&self, account: &str) -> Result<Vec<String>, String> {
        let root = self.account_root(account);
        let folders = self
            .s3
            .list_folders(&self.creds, &self.bucket, &root)
            .await?;
        Ok(folders
            .iter()
            .filter_map(|f| f.strip_prefix(&root))
            .map(|r| r.trim_end_matches('/').to_string())
            .filter(|r| !r.is_empty())
            .collect())
    }

    /// Every record in the files delivered for `account` and `region` on the days from
    /// `since_ms` to `until_ms` (UTC), and the day after (a file is named by its delivery,
    /// minutes after its events).
    pub async fn read(
        &self,
        account: &str,
        region: &str,
        since_ms: u64,
        until_ms: u64,
        into: &mut TrailRead,
    ) -> Result<(), String> {
        let first = (since_ms / 86_400_000) as i64;
        let last = (until_ms / 86_400_000) as i64 + 1;
        for day in first..=last {
            let (y, m, d) = civil_from_days(day);
            let folder = format!(
                "{}{region}/{y:04}/{m:02}/{d:02}/",
                self.account_root(account)
            );
            for key in self
                .s3
                .list_all_keys(&self.creds, &self.bucket, &folder)
                .await?
            {
                if !key.ends_with(".json.gz") {
                    continue;
                }
                let body = self.s3.get(&self.creds, &self.bucket, &key).await?;
                let json = gunzip(&body).map_err(|e| format!("s3://{}/{key}: {e}", self.bucket))?;
                into.calls.extend(
                    parse_log(&json).map_err(|e| format!("s3://{}/{key}: {e}", self.bucket))?,
                );
                into.files += 1;
            }
        }
        Ok(())
    }
}

fn gunzip(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(body)
        .take(MAX_LOG_FILE_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(|e| format!("not gzip: {e}"))?;
    if out.len() as u64 > MAX_LOG_FILE_BYTES {
        return Err(format!(
            "larger than {MAX_LOG_FILE_BYTES} bytes decompressed"
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_follow_the_documented_layout() {
        let creds = Credentials::new("a", "b", None, None, "t");
        let s3 = S3::new("us-east-1", Some("http://127.0.0.1:1"));
        let plain = TrailLogs::new(s3.clone(), creds.clone(), "b", None, None);
        assert_eq!(plain.account_root("1"), "AWSLogs/1/CloudTrail/");
        let org = TrailLogs::new(s3, creds, "b", Some("/trails/"), Some("o-abc"));
        assert_eq!(org.account_root("1"), "trails/AWSLogs/o-abc/1/CloudTrail/");
    }

    #[test]
    fn gunzip_reads_and_bounds() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(br#"{"Records":[]}"#).unwrap();
        let gz = enc.finish().unwrap();
        assert_eq!(gunzip(&gz).unwrap(), br#"{"Records":[]}"#);
        assert!(gunzip(b"plain").is_err());
    }
}
