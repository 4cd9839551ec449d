//! The few S3 calls Tollgate makes itself (policy files, the audit export, the local stack's
//! seeding), through the SigV4 caller: one crate fewer than the S3 SDK for four requests.

use aws_credential_types::Credentials;

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
        let query = format!(
            "?list-type=2&prefix={}",
            percent_encoding::utf8_percent_encode(prefix, percent_encoding::NON_ALPHANUMERIC)
        );
        let req = http::Request::get(self.url(bucket, &query))
            .body(Vec::new())
            .map_err(|e| e.to_string())?;
        let body = self
            .send(req, creds, &format!("list s3://{bucket}/{prefix}"))
            .await?;
        let xml = String::from_utf8_lossy(&body);
        Ok(xml
            .split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(|k| {
                k.replace("&amp;", "&")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&quot;", "\"")
                    .replace("&apos;", "'")
            })
            .collect())
    }
}
