//! `tollgate credentials` and `tollgate env`: gateway credentials for unmodified AWS tools,
//! as a `credential_process` document or as `export` lines for `eval "$(tollgate env)"`.

use serde_json::{Value, json};
use tollgate_cli::client::Client;

use crate::{Fail, exit};

/// Gateway credentials, as `POST /v1/credentials` returns them.
pub(crate) struct Issued {
    access_key_id: String,
    secret_access_key: String,
    session_token: String,
    expiration: String,
    region: Option<String>,
    /// The front door as the deployment names it (a Function URL when deployed); older
    /// deployments answer without it and serve the front door on Tollgate's own URL.
    endpoint_url: Option<String>,
}

pub(crate) async fn fetch(
    client: &Client,
    wait_seconds: u64,
    target: Option<&str>,
) -> Result<Issued, Fail> {
    let a = client.credentials(wait_seconds, target).await?;
    if a.status != 200 {
        let message = a
            .body
            .pointer("/error/message")
            .and_then(Value::as_str)
            .map_or_else(|| a.body.to_string(), str::to_string);
        return Err(Fail {
            code: if matches!(a.status, 401 | 403) {
                exit::AUTH
            } else {
                exit::ERROR
            },
            message: format!("credentials: {message}"),
        });
    }
    let field = |name: &str| -> Result<String, Fail> {
        a.body
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| Fail::from(format!("credentials: the answer has no `{name}`")))
    };
    Ok(Issued {
        access_key_id: field("access_key_id")?,
        secret_access_key: field("secret_access_key")?,
        session_token: field("session_token")?,
        expiration: field("expiration")?,
        region: a
            .body
            .get("region")
            .and_then(Value::as_str)
            .map(str::to_string),
        endpoint_url: match a.body.get("endpoint_url").and_then(Value::as_str) {
            None => None,
            Some(u) if u.starts_with("https://") || u.starts_with("http://") => Some(u.to_string()),
            Some(u) => {
                return Err(Fail::from(format!(
                    "credentials: the answer's `endpoint_url` `{u}` is not an http(s) URL"
                )));
            }
        },
    })
}

/// The `credential_process` document (`Version: 1`): the AWS CLI and SDKs run the command
/// again shortly before `Expiration`.
pub(crate) fn credential_process(c: &Issued) -> String {
    json!({
        "Version": 1,
        "AccessKeyId": c.access_key_id,
        "SecretAccessKey": c.secret_access_key,
        "SessionToken": c.session_token,
        "Expiration": c.expiration,
    })
    .to_string()
}

/// `export` lines for a POSIX shell. The endpoint is the front door the answer named, else
/// `tollgate_url` (Tollgate's own URL, where older deployments serve it).
pub(crate) fn exports(c: &Issued, tollgate_url: &str) -> String {
    let endpoint = c.endpoint_url.as_deref().unwrap_or(tollgate_url);
    let mut lines = vec![
        (
            "AWS_ENDPOINT_URL",
            endpoint.trim_end_matches('/').to_string(),
        ),
        ("AWS_ACCESS_KEY_ID", c.access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY", c.secret_access_key.clone()),
        ("AWS_SESSION_TOKEN", c.session_token.clone()),
    ];
    if let Some(r) = &c.region {
        lines.push(("AWS_REGION", r.clone()));
        lines.push(("AWS_DEFAULT_REGION", r.clone()));
    }
    let mut out = String::new();
    for (k, v) in lines {
        out.push_str(&format!("export {k}={}\n", shell_quote(&v)));
    }
    // Profiles and their own endpoints must not override what is exported here.
    out.push_str("unset AWS_PROFILE\n");
    out
}

/// Single-quoted for a POSIX shell: whatever the value holds, it stays one word.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r#"'\''"#))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued() -> Issued {
        Issued {
            access_key_id: "TOLLGATEABCDEFGHIJKLMNOP".into(),
            secret_access_key: "s3cr/t+x".into(),
            session_token: "v1.tok'en".into(),
            expiration: "2026-12-02T03:00:00Z".into(),
            region: Some("eu-west-1".into()),
            endpoint_url: None,
        }
    }

    #[test]
    fn credential_process_is_version_1_with_all_four_fields() {
        let v: Value = serde_json::from_str(&credential_process(&issued())).unwrap();
        assert_eq!(v["Version"], 1);
        assert_eq!(v["AccessKeyId"], "TOLLGATEABCDEFGHIJKLMNOP");
        assert_eq!(v["SecretAccessKey"], "s3cr/t+x");
        assert_eq!(v["SessionToken"], "v1.tok'en");
        assert_eq!(v["Expiration"], "2026-12-02T03:00:00Z");
    }

    #[test]
    fn exports_are_quoted_and_name_the_endpoint_and_region() {
        let e = exports(&issued(), "http://127.0.0.1:3000/");
        assert!(e.contains("export AWS_ENDPOINT_URL='http://127.0.0.1:3000'\n"));
        assert!(e.contains("export AWS_SESSION_TOKEN='v1.tok'\\''en'\n"));
        assert!(e.contains("export AWS_REGION='eu-west-1'\n"));
        assert!(e.contains("export AWS_SECRET_ACCESS_KEY='s3cr/t+x'\n"));
    }

    #[test]
    fn the_front_door_the_deployment_names_wins_over_tollgates_own_url() {
        let mut c = issued();
        c.endpoint_url = Some("https://abc.lambda-url.eu-west-1.on.aws/".into());
        let e = exports(&c, "https://tollgate.example.com");
        assert!(
            e.contains("export AWS_ENDPOINT_URL='https://abc.lambda-url.eu-west-1.on.aws'\n"),
            "{e}"
        );
    }
}
