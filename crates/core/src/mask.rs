//! Secrets in AWS answers (and in request parameters shown to approvers) are replaced before
//! anything is stored, logged or returned: by member name wherever it appears, and by value
//! shape whatever member holds it.

use serde_json::Value;

pub const MASK: &str = "****MASKED****";

/// Member names whose values are secret wherever they appear (compared case-insensitively).
const SECRET_MEMBERS: [&str; 16] = [
    "secretstring",
    "secretbinary",
    "secretaccesskey",
    "sessiontoken",
    "password",
    "masteruserpassword",
    "newpassword",
    "oldpassword",
    "privatekey",
    "plaintext",
    "passworddata",
    "authorizationtoken",
    "clientsecret",
    "certificateprivatekey",
    "keymaterial",
    "privatekeyplaintext",
];

/// Extra rules for one call: members to mask besides the built-in ones, and members an agent
/// was explicitly allowed to see unmasked (from the deciding policy).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MaskRules {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mask: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unmask: Vec<String>,
}

impl MaskRules {
    pub fn is_empty(&self) -> bool {
        self.mask.is_empty() && self.unmask.is_empty()
    }
}

/// Masks in place with the built-in rules; returns how many values were masked.
pub fn mask(v: &mut Value) -> usize {
    mask_with(v, &MaskRules::default())
}

/// Masks in place with the built-in rules plus `rules`.
pub fn mask_with(v: &mut Value, rules: &MaskRules) -> usize {
    let eq = |list: &[String], k: &str| list.iter().any(|m| m.eq_ignore_ascii_case(k));
    match v {
        Value::Object(map) => {
            let mut n = 0;
            for (k, child) in map.iter_mut() {
                if eq(&rules.unmask, k) {
                    continue;
                }
                let secret =
                    SECRET_MEMBERS.contains(&k.to_ascii_lowercase().as_str()) || eq(&rules.mask, k);
                if secret && !child.is_null() {
                    *child = Value::String(MASK.into());
                    n += 1;
                } else {
                    n += mask_with(child, rules);
                }
            }
            // SSM returns parameters as {Name, Type, Value}: a SecureString's Value is secret.
            n + mask_secure_string_values(map)
        }
        Value::Array(items) => items.iter_mut().map(|i| mask_with(i, rules)).sum(),
        Value::String(s) => mask_string(s),
        _ => 0,
    }
}

/// `{"Type": "SecureString", "Value": "..."}`: the value is secret.
fn mask_secure_string_values(map: &mut serde_json::Map<String, Value>) -> usize {
    if map.get("Type").and_then(Value::as_str) == Some("SecureString")
        && let Some(v) = map.get_mut("Value")
        && v.as_str().is_some_and(|s| s != MASK)
    {
        *v = Value::String(MASK.into());
        return 1;
    }
    0
}

/// Masks secret-shaped values inside a string; returns 1 if anything was masked.
fn mask_string(s: &mut String) -> usize {
    if looks_secret(s) {
        *s = MASK.into();
        return 1;
    }
    if let Some(masked) = mask_url_password(s) {
        *s = masked;
        return 1;
    }
    0
}

fn looks_secret(s: &str) -> bool {
    (s.contains("-----BEGIN") && s.contains("PRIVATE KEY-----"))
        || is_access_key_id(s)
        || is_secret_access_key_shape(s)
        || is_jwt(s)
}

/// `AKIA…`/`ASIA…` followed by 16 upper-case letters or digits.
fn is_access_key_id(s: &str) -> bool {
    s.len() == 20
        && (s.starts_with("AKIA") || s.starts_with("ASIA"))
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

/// 40 characters of base64 alphabet with both cases and a digit, `/` or `+`: the shape of an
/// AWS secret access key.
fn is_secret_access_key_shape(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && s.bytes().any(|b| b.is_ascii_uppercase())
        && s.bytes()
            .any(|b| b.is_ascii_digit() || b == b'/' || b == b'+')
}

/// Three base64url segments, the first a JSON header (`eyJ`).
fn is_jwt(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts[1].len() >= 4
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// `scheme://user:password@host…` → the password replaced.
fn mask_url_password(s: &str) -> Option<String> {
    let scheme_end = s.find("://")?;
    let rest = &s[scheme_end + 3..];
    let at = rest.find('@')?;
    let userinfo = &rest[..at];
    if userinfo.contains('/') {
        return None;
    }
    let colon = userinfo.find(':')?;
    if colon + 1 == userinfo.len() || userinfo[colon + 1..] == *MASK {
        return None;
    }
    Some(format!(
        "{}{}:{MASK}{}",
        &s[..scheme_end + 3],
        &userinfo[..colon],
        &rest[at..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_by_member_name_at_any_depth() {
        let mut v = json!({
            "Credentials": {"AccessKeyId": "ASIAEXAMPLEEXAMPLE12", "SecretAccessKey": "abc", "SessionToken": "tok"},
            "List": [{"password": "p"}, {"Other": 1}],
            "SecretString": null
        });
        assert_eq!(mask(&mut v), 4);
        assert_eq!(v["Credentials"]["SecretAccessKey"], MASK);
        assert_eq!(v["Credentials"]["AccessKeyId"], MASK);
        assert_eq!(v["List"][0]["password"], MASK);
        assert_eq!(v["List"][1]["Other"], 1);
        assert_eq!(v["SecretString"], Value::Null);
    }

    #[test]
    fn masks_by_value_shape() {
        let jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl";
        let mut v = json!({
            "Note": "-----BEGIN RSA PRIVATE KEY-----\nMII...\n-----END RSA PRIVATE KEY-----",
            "K": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "Id": "AKIAIOSFODNN7EXAMPLE",
            "Token": jwt,
            "Url": "postgres://app:s3cr3t@db.internal:5432/app",
            "TableName": "orders",
            "Arn": "arn:aws:iam::123456789012:role/x",
        });
        assert_eq!(mask(&mut v), 5);
        assert_eq!(
            v["Url"],
            format!("postgres://app:{MASK}@db.internal:5432/app")
        );
        assert_eq!(v["TableName"], "orders");
        assert_eq!(v["Arn"], "arn:aws:iam::123456789012:role/x");
    }

    #[test]
    fn secure_string_parameters() {
        let mut v = json!({"Parameter": {"Name": "/db/pw", "Type": "SecureString", "Value": "hunter2"},
                           "Other": {"Name": "/x", "Type": "String", "Value": "plain"}});
        assert_eq!(mask(&mut v), 1);
        assert_eq!(v["Parameter"]["Value"], MASK);
        assert_eq!(v["Other"]["Value"], "plain");
    }

    #[test]
    fn policy_rules_add_and_allow() {
        let rules = MaskRules {
            mask: vec!["ConnectionString".into()],
            unmask: vec!["SecretString".into()],
        };
        let mut v = json!({"ConnectionString": "Server=x", "SecretString": "visible-to-this-agent", "Password": "p"});
        assert_eq!(mask_with(&mut v, &rules), 2);
        assert_eq!(v["SecretString"], "visible-to-this-agent");
        assert_eq!(v["ConnectionString"], MASK);
    }

    #[test]
    fn masking_is_idempotent() {
        let mut v = json!({"Url": "mysql://u:p@h/db", "Password": "x"});
        mask(&mut v);
        let once = v.clone();
        assert_eq!(mask(&mut v), 1); // the already-masked Password member is counted, not changed
        assert_eq!(v, once);
    }
}
