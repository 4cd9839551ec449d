//! One SSM Parameter Store read (`GetParameter`, decrypted), through the SigV4 caller: the
//! policy source and the settings too large for Lambda's environment share it.

use aws_credential_types::Credentials;
use serde_json::{Value, json};

use crate::signed_http::SignedHttp;

/// The value of parameter `name`; `endpoint` overrides the AWS endpoint (the emulator). The
/// error names the parameter and what SSM answered.
pub async fn get_parameter(
    creds: &Credentials,
    region: &str,
    endpoint: Option<&str>,
    name: &str,
) -> Result<String, String> {
    let url = endpoint
        .map(str::to_string)
        .unwrap_or_else(|| tollgate_models::partition::regional_url("ssm", region));
    let req = http::Request::post(format!("{}/", url.trim_end_matches('/')))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "AmazonSSM.GetParameter")
        .body(
            json!({"Name": name, "WithDecryption": true})
                .to_string()
                .into_bytes(),
        )
        .map_err(|e| e.to_string())?;
    let resp = SignedHttp::new()
        .send(req, creds, region, "ssm")
        .await
        .map_err(|e| e.message)?;
    if resp.status != 200 {
        return Err(format!(
            "ssm:{name}: SSM answered {}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        ));
    }
    let v: Value = serde_json::from_slice(&resp.body).map_err(|e| format!("ssm:{name}: {e}"))?;
    v.pointer("/Parameter/Value")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("ssm:{name}: no value"))
}
