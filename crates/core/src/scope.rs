//! Which resources a call touches, and the IAM session policy that allows exactly that call.

use serde_json::{Map, Value, json};

use crate::action::Action;

/// ARNs derived from the call's parameters. A call whose resources cannot be told from its
/// parameters (list calls, unknown services) is scoped to `*` for its single action.
pub fn derive_resources(
    action: &Action,
    region: &str,
    account: &str,
    params: &Map<String, Value>,
) -> Vec<String> {
    let s = |k: &str| params.get(k).and_then(Value::as_str);
    let arn_or = |v: &str, build: &dyn Fn(&str) -> String| {
        if v.starts_with("arn:") {
            v.to_string()
        } else {
            build(v)
        }
    };
    let found: Option<String> = match action.service() {
        "dynamodb" => s("TableName").map(|t| {
            arn_or(t, &|t| {
                format!("arn:aws:dynamodb:{region}:{account}:table/{t}")
            })
        }),
        "sqs" => s("QueueUrl")
            .and_then(|u| u.rsplit('/').next())
            .or_else(|| s("QueueName"))
            .map(|q| format!("arn:aws:sqs:{region}:{account}:{q}")),
        // Secret ARNs end in a random suffix the caller may not know.
        "secretsmanager" => s("SecretId").or_else(|| s("Name")).map(|id| {
            arn_or(id, &|n| {
                format!("arn:aws:secretsmanager:{region}:{account}:secret:{n}-??????")
            })
        }),
        "ssm" => s("Name").map(|n| {
            let n = n.trim_start_matches('/');
            format!("arn:aws:ssm:{region}:{account}:parameter/{n}")
        }),
        "kms" => s("KeyId").map(|k| {
            if k.starts_with("arn:") {
                k.to_string()
            } else if let Some(alias) = k.strip_prefix("alias/") {
                format!("arn:aws:kms:{region}:{account}:alias/{alias}")
            } else {
                format!("arn:aws:kms:{region}:{account}:key/{k}")
            }
        }),
        "logs" => {
            s("logGroupName").map(|g| format!("arn:aws:logs:{region}:{account}:log-group:{g}:*"))
        }
        "kinesis" => {
            s("StreamName").map(|n| format!("arn:aws:kinesis:{region}:{account}:stream/{n}"))
        }
        _ => None,
    };
    vec![found.unwrap_or_else(|| "*".to_string())]
}

/// A session policy allowing only `action` on `resources`. Compact JSON: STS counts its
/// packed size against a hard limit.
pub fn session_policy(iam_action: &str, resources: &[String]) -> String {
    let resource = match resources {
        [one] => json!(one),
        many => json!(many),
    };
    json!({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": iam_action, "Resource": resource}]
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

    fn params(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn dynamodb_table_arn() {
        let a = Action::parse("dynamodb:DeleteTable").unwrap();
        let r = derive_resources(
            &a,
            "us-east-1",
            "123456789012",
            &params(json!({"TableName": "orders"})),
        );
        assert_eq!(
            r,
            vec!["arn:aws:dynamodb:us-east-1:123456789012:table/orders"]
        );
    }

    #[test]
    fn falls_back_to_star_for_one_action() {
        let a = Action::parse("dynamodb:ListTables").unwrap();
        let r = derive_resources(&a, "us-east-1", "123456789012", &Map::new());
        assert_eq!(r, vec!["*"]);
        let p: Value = serde_json::from_str(&session_policy("dynamodb:ListTables", &r)).unwrap();
        assert_eq!(p["Statement"][0]["Action"], "dynamodb:ListTables");
        assert_eq!(p["Statement"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn arns_pass_through() {
        let a = Action::parse("kms:Decrypt").unwrap();
        let arn = "arn:aws:kms:eu-west-1:111122223333:key/abc";
        assert_eq!(
            derive_resources(
                &a,
                "us-east-1",
                "123456789012",
                &params(json!({"KeyId": arn}))
            ),
            vec![arn]
        );
        assert_eq!(arn_account(arn), Some("111122223333"));
        assert_eq!(arn_account("arn:aws:s3:::bucket"), None);
    }
}
