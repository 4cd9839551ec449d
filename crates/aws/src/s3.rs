//! The few S3 calls Tollgate makes itself (policy files, the audit export, the local stack's
//! seeding), through the SigV4 caller: one crate fewer than the S3 SDK for four requests.

use aws_credential_types::Credentials;

use crate::ports::Stored;
use crate::signed_http::SignedHttp;

#[derive(Clone, Debug)]
pub struct S3 {
    http: SignedHttp,
    region: String,
    /// An emulator's base URL (path-style); `None` for AWS (virtual-hosted style).
    endpoint: Option<String>,
}

fn encode_key(key: &str) -> String {
    key.split('/')
        .map(|seg| {
            percent_encoding::utf8_percent_encode(seg, percent_encoding::NON_ALPHANUMERIC)
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("/")
}

impl S3 {
    pub fn new(region: &str, endpoint: Option<&str>) -> Self {
        Self {
            http: SignedHttp::new(),
            region: region.to_string(),
            endpoint: endpoint.map(|e| e.trim_end_matches('/').to_string()),
        }
    }

    /// The same client, reading at most `limit` bytes of an object (see
    /// [`SignedHttp::with_body_limit`]).
    pub fn with_body_limit(mut self, limit: usize) -> Self {
        self.http = self.http.with_body_limit(limit);
        self
    }

    fn url(&self, bucket: &str, key_and_query: &str) -> String {
        match &self.endpoint {
            Some(e) => format!("{e}/{bucket}/{key_and_query}"),
            None => format!(
                "https://{bucket}.s3.{}.{}/{key_and_query}",
                self.region,
                tollgate_models::partition::of_region(&self.region).dns_suffix
            ),
        }
    }

    async fn send(
        &self,
        req: http::Request<Vec<u8>>,
        creds: &Credentials,
        what: &str,
    ) -> Result<Vec<u8>, String> {
        let resp = self
            .http
            .send(req, creds, &self.region, "s3")
            .await
            .map_err(|e| e.message)?;
        if !(200..300).contains(&resp.status) {
            return Err(format!("{what}: S3 answered {}", resp.status));
        }
        Ok(resp.body)
    }

    pub async fn get(
        &self,
        creds: &Credentials,
        bucket: &str,
        key: &str,
    ) -> Result<Vec<u8>, String> {
        let req = http::Request::get(self.url(bucket, &encode_key(key)))
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        self.send(req, creds, &format!("s3://{bucket}/{key}")).await
    }

    /// The object (see [`Stored`]); past the client's body limit it is not read. Only S3's
    /// `NoSuchKey` is a missing object; any other refusal is an error.
    pub async fn get_stored(
        &self,
        creds: &Credentials,
        bucket: &str,
        key: &str,
    ) -> Result<Stored, String> {
        let req = http::Request::get(self.url(bucket, &encode_key(key)))
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        let resp = self
            .http
            .send(req, creds, &self.region, "s3")
            .await
            .map_err(|e| e.message)?;
        // A missing bucket is a fault of the deployment, not a body that is gone.
        let no_such_key = || String::from_utf8_lossy(&resp.body).contains("<Code>NoSuchKey</Code>");
        match resp.status {
            404 if no_such_key() => Ok(Stored::Missing),
            200..=299 if resp.too_large => Ok(Stored::Longer),
            200..=299 => Ok(Stored::Bytes(resp.body)),
            status => Err(format!("s3://{bucket}/{key}: S3 answered {status}")),
        }
    }

    pub async fn put(
        &self,
        creds: &Credentials,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), String> {
        let req = http::Request::put(self.url(bucket, &encode_key(key)))
            .header("content-type", content_type)
            .body(body)
            .map_err(|e| e.to_string())?;
        self.send(req, creds, &format!("s3://{bucket}/{key}"))
            .await
            .map(|_| ())
    }

    pub async fn create_bucket(&self, creds: &Credentials, bucket: &str) -> Result<(), String> {
        let req = http::Request::put(self.url(bucket, ""))
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        self.send(req, creds, &format!("create bucket {bucket}"))
            .await
            .map(|_| ())
    }

    /// Keys under `prefix` (first 1,000).
    pub async fn list_keys(
        &self,
        creds: &Credentials,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<String>, String> {
        let page = self.list_page(creds, bucket, prefix, None, None).await?;
        Ok(elements(&page, "Key"))
    }

    /// Every key under `prefix`, following continuation tokens.
    pub async fn list_all_keys(
        &self,
        creds: &Credentials,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<String>, String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self
                .list_page(creds, bucket, prefix, None, token.as_deref())
                .await?;
            keys.extend(elements(&page, "Key"));
            token = elements(&page, "NextContinuationToken").into_iter().next();
            if token.is_none() || !page.contains("<IsTruncated>true</IsTruncated>") {
                return Ok(keys);
            }
        }
    }

    /// The "folders" directly under `prefix` (common prefixes at `/`; first 1,000).
    pub async fn list_folders(
        &self,
        creds: &Credentials,
        bucket: &str,
        prefix: &str,
    ) -> Result<Vec<String>, String> {
        let page = self
            .list_page(creds, bucket, prefix, Some("/"), None)
            .await?;
        Ok(elements(&page, "Prefix")
            .into_iter()
            .filter(|p| p.as_str() != prefix)
            .collect())
    }

    async fn list_page(
        &self,
        creds: &Credentials,
        bucket: &str,
        prefix: &str,
        delimiter: Option<&str>,
        token: Option<&str>,
    ) -> Result<String, String> {
        let enc = |v: &str| {
            percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
        };
        let mut query = String::from("?");
        if let Some(t) = token {
            query.push_str(&format!("continuation-token={}&", enc(t)));
        }
        if let Some(d) = delimiter {
            query.push_str(&format!("delimiter={}&", enc(d)));
        }
        query.push_str(&format!("list-type=2&prefix={}", enc(prefix)));
        let req = http::Request::get(self.url(bucket, &query))
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        let body = self
            .send(req, creds, &format!("list s3://{bucket}/{prefix}"))
            .await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

/// The text of every `<tag>` element of a listing, unescaped.
fn elements(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(open.as_str())
        .skip(1)
        .filter_map(|s| s.split(close.as_str()).next())
        .map(|k| {
            k.replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'")
                .replace("&amp;", "&")
        })
        .collect()
}
