//! Which resources a call touches, and the IAM session policy that allows exactly that call.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// STS refuses session policies longer than this (plain text).
pub const MAX_SESSION_POLICY_CHARS: usize = 2048;

fn one_or_many(v: &[String]) -> Value {
    match v {
        [one] => json!(one),
        many => json!(many),
    }
}

fn document(statements: &[(Vec<String>, Vec<String>)], region: &str) -> String {
    let statements: Vec<Value> = statements
        .iter()
        .map(|(actions, resources)| {
            json!({
                "Effect": "Allow",
                "Action": one_or_many(actions),
                "Resource": one_or_many(resources),
                "Condition": {"StringEquals": {"aws:RequestedRegion": region}}
            })
        })
        .collect();
    json!({"Version": "2012-10-17", "Statement": statements}).to_string()
}

/// A session policy allowing only `iam_actions` on `resources`, and only in `region` (the
/// region the call is signed for; global services sign for one fixed region). Compact JSON:
/// STS counts its packed size against a hard limit.
pub fn session_policy(iam_actions: &[String], resources: &[String], region: &str) -> String {
    document(&[(iam_actions.to_vec(), resources.to_vec())], region)
}

/// A session policy with one statement per set of resources: each IAM action is allowed on
/// its own resources only (actions sharing the same set share a statement). When that is
/// longer than STS takes (`s3:DeleteObjects` of many keys), a statement's ARNs are narrowed
/// to their common prefix and `*`, but never shorter than the resource part of the ARN
/// (past `arn:partition:service:region:account:` and one character more); if it is still
/// too long STS refuses it and the call fails rather than running wider.
pub fn scoped_session_policy(scope: &BTreeMap<String, Vec<String>>, region: &str) -> String {
    let mut grouped: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for (action, resources) in scope {
        match grouped.iter_mut().find(|(_, r)| r == resources) {
            Some((actions, _)) => actions.push(action.clone()),
            None => grouped.push((vec![action.clone()], resources.clone())),
        }
    }
    let doc = document(&grouped, region);
    if doc.len() <= MAX_SESSION_POLICY_CHARS {
        return doc;
    }
    for (_, resources) in &mut grouped {
        if let Some(prefix) = common_arn_prefix(resources) {
            *resources = vec![format!("{prefix}*")];
        }
    }
    document(&grouped, region)
}

/// The longest prefix `arns` share, when it reaches into the resource part of every ARN.
fn common_arn_prefix(arns: &[String]) -> Option<String> {
    let (first, rest) = arns.split_first()?;
    if rest.is_empty() {
        return None;
    }
    let mut len = first.len();
    for a in rest {
        len = len.min(
            first
                .bytes()
                .zip(a.bytes())
                .take_while(|(x, y)| x == y)
                .count(),
        );
    }
    while !first.is_char_boundary(len) {
        len -= 1;
    }
    let prefix = &first[..len];
    let header = first.match_indices(':').nth(4).map(|(i, _)| i + 1)?;
    (prefix.len() > header && !prefix.contains('*')).then(|| prefix.to_string())
}

/// The account id in an ARN (`arn:partition:service:region:account:...`).
pub fn arn_account(arn: &str) -> Option<&str> {
    let acct = arn.split(':').nth(4)?;
    (acct.len() == 12 && acct.bytes().all(|b| b.is_ascii_digit())).then_some(acct)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_policy_names_only_the_call() {
        let p: serde_json::Value = serde_json::from_str(&session_policy(
            &["dynamodb:DeleteTable".into()],
            &["arn:aws:dynamodb:us-east-1:123456789012:table/t".into()],
            "us-east-1",
        ))
        .unwrap();
        assert_eq!(p["Statement"].as_array().unwrap().len(), 1);
        assert_eq!(p["Statement"][0]["Action"], "dynamodb:DeleteTable");
        assert_eq!(
            p["Statement"][0]["Resource"],
            "arn:aws:dynamodb:us-east-1:123456789012:table/t"
        );
        let two: serde_json::Value = serde_json::from_str(&session_policy(
            &["s3:GetObject".into(), "s3:PutObject".into()],
            &["*".into()],
            "eu-west-1",
        ))
        .unwrap();
        assert_eq!(
            two["Statement"][0]["Condition"]["StringEquals"]["aws:RequestedRegion"],
            "eu-west-1"
        );
        assert_eq!(
            two["Statement"][0]["Action"],
            serde_json::json!(["s3:GetObject", "s3:PutObject"])
        );
    }

    #[test]
    fn each_action_gets_only_its_own_resources() {
        let scope = BTreeMap::from([
            (
                "s3:GetObject".to_string(),
                vec!["arn:aws:s3:::src/k1".to_string()],
            ),
            (
                "s3:PutObject".to_string(),
                vec!["arn:aws:s3:::dst/k2".to_string()],
            ),
            (
                "s3:PutObjectTagging".to_string(),
                vec!["arn:aws:s3:::dst/k2".to_string()],
            ),
        ]);
        let p: serde_json::Value =
            serde_json::from_str(&scoped_session_policy(&scope, "us-east-1")).unwrap();
        let st = p["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 2);
        assert_eq!(st[0]["Action"], "s3:GetObject");
        assert_eq!(st[0]["Resource"], "arn:aws:s3:::src/k1");
        assert_eq!(
            st[1]["Action"],
            json!(["s3:PutObject", "s3:PutObjectTagging"])
        );
        assert_eq!(st[1]["Resource"], "arn:aws:s3:::dst/k2");
        assert_eq!(
            st[1]["Condition"]["StringEquals"]["aws:RequestedRegion"],
            "us-east-1"
        );
    }

    #[test]
    fn too_many_resources_narrow_to_their_common_prefix() {
        let keys: Vec<String> = (0..100)
            .map(|i| format!("arn:aws:s3:::logs/2026/11/{i:03}.log"))
            .collect();
        let scope = BTreeMap::from([("s3:DeleteObject".to_string(), keys)]);
        let doc = scoped_session_policy(&scope, "us-east-1");
        assert!(doc.len() <= MAX_SESSION_POLICY_CHARS, "{}", doc.len());
        let p: serde_json::Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(
            p["Statement"][0]["Resource"],
            "arn:aws:s3:::logs/2026/11/0*"
        );
        // Never wider than the resource part: two buckets stay as they are.
        assert_eq!(
            common_arn_prefix(&["arn:aws:s3:::a/x".into(), "arn:aws:s3:::b/y".into()]),
            None
        );
    }

    #[test]
    fn account_of_an_arn() {
        assert_eq!(
            arn_account("arn:aws:kms:eu-west-1:111122223333:key/abc"),
            Some("111122223333")
        );
        assert_eq!(arn_account("arn:aws:s3:::bucket"), None);
    }
}
