//! Which resources a call touches, and the IAM session policy that allows exactly that call.

use serde_json::json;

/// A session policy allowing only `iam_actions` on `resources`, and only in `region` (the
/// region the call is signed for; global services sign for one fixed region). Compact JSON:
/// STS counts its packed size against a hard limit.
pub fn session_policy(iam_actions: &[String], resources: &[String], region: &str) -> String {
    let one_or_many = |v: &[String]| match v {
        [one] => json!(one),
        many => json!(many),
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": one_or_many(iam_actions),
            "Resource": one_or_many(resources),
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}}
        }]
    })
    .to_string()
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
    fn account_of_an_arn() {
        assert_eq!(
            arn_account("arn:aws:kms:eu-west-1:111122223333:key/abc"),
            Some("111122223333")
        );
        assert_eq!(arn_account("arn:aws:s3:::bucket"), None);
    }
}
