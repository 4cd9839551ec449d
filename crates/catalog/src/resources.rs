//! ARNs a call acts on, from the catalog's ARN templates and the call's parameters.

use serde_json::{Map, Value};

use crate::{ActionInfo, catalog};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceError {
    /// The parameter at fault, e.g. `params.TableName`.
    pub field: String,
    pub message: String,
}

/// Template placeholder → request parameter names that carry it, where they differ.
const ALIASES: [(&str, &[&str]); 10] = [
    ("BucketName", &["Bucket"]),
    ("ObjectName", &["Key"]),
    ("QueueName", &["QueueUrl", "QueueName"]),
    ("TopicName", &["TopicArn", "Name"]),
    ("RoleNameWithPath", &["RoleName"]),
    ("UserNameWithPath", &["UserName"]),
    ("GroupNameWithPath", &["GroupName"]),
    ("PolicyNameWithPath", &["PolicyName"]),
    ("InstanceProfileNameWithPath", &["InstanceProfileName"]),
    ("SecretId", &["SecretId", "Name"]),
];

fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The parameter (name, text) that supplies `placeholder`.
fn param_for<'a>(placeholder: &str, params: &'a Map<String, Value>) -> Option<(&'a str, &'a str)> {
    let mut names: Vec<&str> = vec![placeholder];
    if let Some((_, alias)) = ALIASES.iter().find(|(p, _)| *p == placeholder) {
        names.extend_from_slice(alias);
    }
    for name in names {
        if let Some((k, v)) = params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(k, v)| v.as_str().map(|v| (k.as_str(), v)))
        {
            return Some((k, v));
        }
    }
    None
}

/// Fills one template. `Ok(None)`: a placeholder has no parameter.
fn fill(
    template: &str,
    region: &str,
    account: &str,
    params: &Map<String, Value>,
) -> Result<Option<String>, ResourceError> {
    let service = template.split(':').nth(2).unwrap_or("");
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            return Ok(None);
        };
        let name = &rest[start + 2..start + end];
        rest = &rest[start + end + 1..];
        let value = match name {
            "Partition" => partition(region).to_string(),
            "Region" => region.to_string(),
            "Account" => account.to_string(),
            _ => {
                let Some((key, v)) = param_for(name, params) else {
                    return Ok(None);
                };
                // A wildcard in a name would widen the session policy to other resources.
                if v.contains(['*', '?']) {
                    return Err(ResourceError {
                        field: format!("params.{key}"),
                        message: "must not contain `*` or `?`".into(),
                    });
                }
                if v.is_empty() {
                    return Ok(None);
                }
                // An ARN of this service given whole stands for the whole resource.
                if v.starts_with("arn:") && v.split(':').nth(2) == Some(service) {
                    return Ok(Some(v.to_string()));
                }
                match name {
                    "QueueName" => v.rsplit('/').next().unwrap_or(v).to_string(),
                    // Secret ARNs end in a random suffix the caller may not know.
                    "SecretId" => format!("{v}-??????"),
                    _ => v.to_string(),
                }
            }
        };
        out.push_str(&value);
    }
    out.push_str(rest);
    Ok(Some(out))
}

/// ARNs the IAM actions act on. Where every required resource type can be filled from the
/// parameters the result names exactly those resources; otherwise the call is scoped to `*`
/// (for its actions only), since an incomplete list would make AWS refuse the call.
pub fn derive_resources(
    actions: &[ActionInfo],
    region: &str,
    account: &str,
    params: &Map<String, Value>,
) -> Result<Vec<String>, ResourceError> {
    let mut arns: Vec<String> = Vec::new();
    for action in actions {
        let Some(svc) = catalog().service(&action.service) else {
            return Ok(vec!["*".into()]);
        };
        let mut filled = Vec::new();
        let mut missing_required = false;
        for (rtype, required) in &action.resource_types {
            let arn = match svc.resources.get(rtype) {
                Some(t) => fill(t, region, account, params)?,
                None => None,
            };
            match arn {
                Some(a) => filled.push(a),
                None if *required => missing_required = true,
                None => {}
            }
        }
        if missing_required || filled.is_empty() {
            return Ok(vec!["*".into()]);
        }
        for a in filled {
            if !arns.contains(&a) {
                arns.push(a);
            }
        }
    }
    if arns.is_empty() {
        arns.push("*".into());
    }
    Ok(arns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tollgate_core::Action;

    fn derive(op: &str, params: Value) -> Result<Vec<String>, ResourceError> {
        let actions = catalog().iam_actions(&Action::parse(op).unwrap()).unwrap();
        derive_resources(
            &actions,
            "us-east-1",
            "123456789012",
            params.as_object().unwrap(),
        )
    }

    #[test]
    fn table_bucket_object_function_queue() {
        assert_eq!(
            derive("dynamodb:DeleteTable", json!({"TableName": "orders"})).unwrap(),
            vec!["arn:aws:dynamodb:us-east-1:123456789012:table/orders"]
        );
        assert_eq!(
            derive("s3:DeleteBucket", json!({"Bucket": "logs"})).unwrap(),
            vec!["arn:aws:s3:::logs"]
        );
        let obj = derive("s3:GetObject", json!({"Bucket": "logs", "Key": "a/b.txt"})).unwrap();
        assert_eq!(obj, vec!["arn:aws:s3:::logs/a/b.txt"]);
        assert_eq!(
            derive("lambda:Invoke", json!({"FunctionName": "f"})).unwrap(),
            vec!["arn:aws:lambda:us-east-1:123456789012:function:f"]
        );
        assert_eq!(
            derive(
                "sqs:DeleteQueue",
                json!({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/jobs"})
            )
            .unwrap(),
            vec!["arn:aws:sqs:us-east-1:123456789012:jobs"]
        );
    }

    #[test]
    fn whole_arns_and_partitions() {
        let arn = "arn:aws:sns:us-east-1:123456789012:alerts";
        assert_eq!(
            derive("sns:Publish", json!({"TopicArn": arn})).unwrap(),
            vec![arn]
        );
        let actions = catalog()
            .iam_actions(&Action::parse("dynamodb:DeleteTable").unwrap())
            .unwrap();
        let p = json!({"TableName": "t"});
        assert_eq!(
            derive_resources(
                &actions,
                "cn-north-1",
                "123456789012",
                p.as_object().unwrap()
            )
            .unwrap(),
            vec!["arn:aws-cn:dynamodb:cn-north-1:123456789012:table/t"]
        );
    }

    #[test]
    fn unknown_resources_scope_to_star() {
        assert_eq!(derive("dynamodb:ListTables", json!({})).unwrap(), vec!["*"]);
        assert_eq!(
            derive("ec2:RunInstances", json!({"ImageId": "ami-1"})).unwrap(),
            vec!["*"]
        );
        assert_eq!(
            derive("dynamodb:DeleteTable", json!({})).unwrap(),
            vec!["*"]
        );
    }

    #[test]
    fn wildcards_in_names_are_refused() {
        let e = derive("dynamodb:DeleteTable", json!({"TableName": "prod-*"})).unwrap_err();
        assert_eq!(e.field, "params.TableName");
        assert!(derive("s3:GetObject", json!({"Bucket": "b", "Key": "a?"})).is_err());
    }
}
