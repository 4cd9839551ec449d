//! Secrets in AWS answers are replaced before anything is stored, logged or returned.

use serde_json::Value;

pub const MASK: &str = "****MASKED****";

/// Member names whose values are secret wherever they appear (compared case-insensitively).
const SECRET_MEMBERS: [&str; 12] = [
    "secretstring",
    "secretbinary",
    "secretaccesskey",
    "sessiontoken",
    "password",
    "masteruserpassword",
    "privatekey",
    "plaintext",
    "passworddata",
    "authorizationtoken",
    "clientsecret",
    "certificateprivatekey",
];

/// Masks in place; returns how many values were masked.
pub fn mask(v: &mut Value) -> usize {
    match v {
        Value::Object(map) => {
            let mut n = 0;
            for (k, child) in map.iter_mut() {
                if SECRET_MEMBERS.contains(&k.to_ascii_lowercase().as_str()) && !child.is_null() {
                    *child = Value::String(MASK.into());
                    n += 1;
                } else {
                    n += mask(child);
                }
            }
            n
        }
        Value::Array(items) => items.iter_mut().map(mask).sum(),
        Value::String(s) if looks_secret(s) => {
            *s = MASK.into();
            1
        }
        _ => 0,
    }
}

/// Values that are secrets whatever member holds them.
fn looks_secret(s: &str) -> bool {
    s.contains("-----BEGIN") && s.contains("PRIVATE KEY-----") || is_secret_access_key_shape(s)
}

/// 40 characters of base64 alphabet with both cases and a digit or `/`+ is the shape of an AWS
/// secret access key. Access key ids (AKIA...) are identifiers, not secrets, and stay visible.
fn is_secret_access_key_shape(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && s.bytes().any(|b| b.is_ascii_uppercase())
        && s.bytes()
            .any(|b| b.is_ascii_digit() || b == b'/' || b == b'+')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_by_member_name_at_any_depth() {
        let mut v = json!({
            "Credentials": {"AccessKeyId": "AKIAEXAMPLE", "SecretAccessKey": "abc", "SessionToken": "tok"},
            "List": [{"password": "p"}, {"Other": 1}],
            "SecretString": null
        });
        assert_eq!(mask(&mut v), 3);
        assert_eq!(v["Credentials"]["SecretAccessKey"], MASK);
        assert_eq!(v["Credentials"]["AccessKeyId"], "AKIAEXAMPLE");
        assert_eq!(v["List"][0]["password"], MASK);
        assert_eq!(v["SecretString"], Value::Null);
    }

    #[test]
    fn masks_by_value_shape() {
        let mut v = json!({
            "Note": "-----BEGIN RSA PRIVATE KEY-----\nMII...\n-----END RSA PRIVATE KEY-----",
            "K": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            "TableName": "orders",
        });
        assert_eq!(mask(&mut v), 2);
        assert_eq!(v["TableName"], "orders");
    }
}
