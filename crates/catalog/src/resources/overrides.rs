//! The curated part of resource derivation: members whose names do not line up with their
//! placeholder, values that need reshaping before they fit an ARN, and operations whose IAM
//! actions act on different members.

/// (template service, placeholder) → more members that supply it, as good as its own name.
pub const ALIASES: [(&str, &str, &[&str]); 10] = [
    ("s3", "ObjectName", &["Key"]),
    ("sqs", "QueueName", &["QueueUrl"]),
    ("ec2", "SecurityGroupId", &["GroupId", "GroupIds"]),
    ("ec2", "KeyPairName", &["KeyName"]),
    ("secretsmanager", "SecretId", &["Name"]),
    ("sns", "TopicName", &["Name"]),
    ("kms", "Alias", &["AliasName"]),
    ("mobiletargeting", "AppId", &["ApplicationId"]),
    ("rds", "DbClusterInstanceName", &["DBClusterIdentifier"]),
    (
        "ssm",
        "ParameterNameWithoutLeadingSlash",
        &["Name", "Names"],
    ),
];

/// (template service, placeholder) → what AWS uses when the call names nothing: the default
/// workgroup, cluster or event bus. `*` stands for a generated id beside a name that already
/// names the resource (an Auto Scaling group's UUID before its name).
pub const DEFAULTS: [(&str, &str, &str); 5] = [
    ("athena", "WorkGroupName", "primary"),
    ("ecs", "ClusterName", "default"),
    ("events", "EventBusName", "default"),
    ("autoscaling", "GroupId", "*"),
    ("autoscaling", "Id", "*"),
];

/// Verbs whose calls make a new resource whose id AWS chooses.
const CREATING_VERBS: [&str; 5] = ["Create", "Run", "Allocate", "Request", "Purchase"];

/// Whether `placeholder` of resource type `rtype` is the id of the resource `iam_action`
/// creates (`ec2:CreateVpc` and `vpc/${VpcId}`, `ec2:RunInstances` and
/// `instance/${InstanceId}`): no parameter can name it, and no existing resource is named by
/// it, so the call is scoped to `vpc/*`. Only when the action is exactly the verb and the
/// resource type (`CreateNetworkAclEntry` acts on an existing ACL), and only for ids (a name
/// is the caller's to give).
pub fn is_created(iam_action: &str, rtype: &str, placeholder: &str) -> bool {
    let name = iam_action.split(':').nth(1).unwrap_or("");
    let Some(rest) = CREATING_VERBS.iter().find_map(|v| name.strip_prefix(v)) else {
        return false;
    };
    let (rest, rtype) = (super::names::norm(rest), super::names::norm(rtype));
    let p = super::names::norm(placeholder);
    let is_id = ["id", "uuid", "identifier", "resourceid"]
        .iter()
        .any(|s| p.ends_with(s));
    is_id && !rtype.is_empty() && (rest == rtype || rest.strip_suffix('s') == Some(rtype.as_str()))
}

/// How a value fills a placeholder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Use {
    /// Text for the placeholder.
    Name(String),
    /// The whole resource (it still has to be an instance of the template).
    Arn(String),
    /// It names the resource in a way no ARN can be built from (a KMS alias for a key): the
    /// resource stays unknown.
    Unusable,
}

/// `value` reshaped for `placeholder` of a `service` template of resource type `rtype`.
pub fn reshape(service: &str, rtype: &str, placeholder: &str, value: &str, partition: &str) -> Use {
    if value.starts_with("arn:") {
        return Use::Arn(value.to_string());
    }
    match (service, placeholder) {
        // https://sqs.<region>.amazonaws.com/<account>/<name>: the queue may be another
        // account's.
        ("sqs", "QueueName") if value.contains("://") => {
            let mut segs = value.rsplit('/');
            let (Some(name), Some(account)) = (segs.next(), segs.next()) else {
                return Use::Unusable;
            };
            let region = value
                .split("://")
                .nth(1)
                .and_then(|h| h.split('/').next())
                .and_then(|host| host.strip_prefix("sqs."))
                .and_then(|h| h.split('.').next())
                .unwrap_or("");
            if name.is_empty()
                || account.len() != 12
                || !account.bytes().all(|b| b.is_ascii_digit())
            {
                return Use::Unusable;
            }
            if region.is_empty() || region == "amazonaws" {
                // Legacy queue.amazonaws.com URLs: the region is the call's.
                return Use::Name(name.to_string());
            }
            Use::Arn(format!("arn:{partition}:sqs:{region}:{account}:{name}"))
        }
        // Secret ARNs end in a random suffix the caller may not know.
        ("secretsmanager", "SecretId") => Use::Name(format!("{value}-??????")),
        // A key named by an alias: which key it is cannot be told without asking KMS.
        ("kms", "KeyId") if value.starts_with("alias/") => Use::Unusable,
        ("kms", "Alias") => Use::Name(value.strip_prefix("alias/").unwrap_or(value).to_string()),
        // `123456789012:function:name`, a partial ARN: not a name, and not read further.
        ("lambda", "FunctionName") if value.contains(":function:") => Use::Unusable,
        ("ssm", "ParameterNameWithoutLeadingSlash") => {
            Use::Name(value.strip_prefix('/').unwrap_or(value).to_string())
        }
        // Route 53 ids come as `/hostedzone/Z123` or `Z123`.
        ("route53", "Id") => Use::Name(
            value
                .strip_prefix(&format!("/{rtype}/"))
                .unwrap_or(value)
                .to_string(),
        ),
        _ => Use::Name(value.to_string()),
    }
}

/// The object ARN an S3 `CopySource` (`bucket/key[?versionId=…]`, percent-encoded) names;
/// `None` for access points and anything else.
pub fn copy_source_arn(source: &str, partition: &str) -> Option<String> {
    let source = source.strip_prefix('/').unwrap_or(source);
    let path = source.split_once("?versionId=").map_or(source, |(p, _)| p);
    let decoded = percent_decode(path)?;
    let (bucket, key) = decoded.split_once('/')?;
    if bucket.is_empty() || key.is_empty() || bucket.starts_with("arn:") {
        return None;
    }
    Some(format!("arn:{partition}:s3:::{bucket}/{key}"))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshaped_values() {
        assert_eq!(
            reshape(
                "sqs",
                "queue",
                "QueueName",
                "https://sqs.eu-west-1.amazonaws.com/111122223333/jobs",
                "aws"
            ),
            Use::Arn("arn:aws:sqs:eu-west-1:111122223333:jobs".into())
        );
        assert_eq!(
            reshape("sqs", "queue", "QueueName", "jobs", "aws"),
            Use::Name("jobs".into())
        );
        assert_eq!(
            reshape("kms", "key", "KeyId", "alias/prod", "aws"),
            Use::Unusable
        );
        assert_eq!(
            reshape("kms", "key", "KeyId", "1234", "aws"),
            Use::Name("1234".into())
        );
        assert_eq!(
            reshape("route53", "hostedzone", "Id", "/hostedzone/Z1", "aws"),
            Use::Name("Z1".into())
        );
        assert_eq!(
            reshape("secretsmanager", "Secret", "SecretId", "db", "aws"),
            Use::Name("db-??????".into())
        );
        assert_eq!(
            reshape(
                "lambda",
                "function",
                "FunctionName",
                "123456789012:function:f",
                "aws"
            ),
            Use::Unusable
        );
    }

    #[test]
    fn created_resources() {
        assert!(is_created("ec2:CreateVpc", "vpc", "VpcId"));
        assert!(is_created("ec2:RunInstances", "instance", "InstanceId"));
        assert!(is_created(
            "ec2:CreateRouteTable",
            "route-table",
            "RouteTableId"
        ));
        assert!(!is_created("ec2:RunInstances", "subnet", "SubnetId"));
        assert!(!is_created(
            "ec2:CreateNetworkAclEntry",
            "network-acl",
            "NaclId"
        ));
        assert!(!is_created("ec2:CopyImage", "image", "ImageId"));
        assert!(!is_created("ec2:CreateKeyPair", "key-pair", "KeyPairName"));
        assert!(!is_created("ec2:DeleteVpc", "vpc", "VpcId"));
    }

    #[test]
    fn copy_sources() {
        assert_eq!(
            copy_source_arn("src/a%20b.txt?versionId=3", "aws").as_deref(),
            Some("arn:aws:s3:::src/a b.txt")
        );
        assert_eq!(
            copy_source_arn("/src/k", "aws").as_deref(),
            Some("arn:aws:s3:::src/k")
        );
        assert_eq!(
            copy_source_arn(
                "arn:aws:s3:us-east-1:123456789012:accesspoint/ap/object/k",
                "aws"
            ),
            None
        );
        assert_eq!(copy_source_arn("nokey", "aws"), None);
    }
}
