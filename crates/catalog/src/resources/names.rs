//! Which parameter supplies a template placeholder. Placeholders and members rarely share a
//! spelling (`BucketName` and `Bucket`, `InstanceId` and `InstanceIds`, `DbInstanceName` and
//! `DBInstanceIdentifier`, `${Id}` of a `hostedzone` and `HostedZoneId`), so both are reduced
//! to a base noun plus an identifier suffix and compared on that.

use super::values::Found;

/// Identifier suffixes: `<noun><suffix>` names the noun's resource.
const SUFFIXES: [&str; 5] = ["name", "id", "arn", "identifier", "uuid"];

/// Placeholders that say nothing by themselves: the resource type gives the noun.
const GENERIC: [&str; 9] = [
    "id",
    "name",
    "resourceid",
    "resourcename",
    "identifier",
    "resourceidentifier",
    "uuid",
    "arn",
    "resourcearn",
];

/// Lower case, letters and digits only.
pub fn norm(s: &str) -> String {
    s.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// How well a member name fits a placeholder: 0 spelled the same (or its plural), 1 the same
/// noun with another identifier suffix, 2 a bare `Id`/`Name`/`Arn` of an operation named for
/// the resource (`route53:GetHostedZone {Id}`). `None`: no fit.
pub fn rank(placeholder: &str, resource_type: &str, operation: &str, f: &Found) -> Option<u8> {
    let p = norm(placeholder);
    let p = ["withpath", "withoutleadingslash"]
        .iter()
        .find_map(|s| p.strip_suffix(s))
        .unwrap_or(&p)
        .to_string();
    // RDS, Neptune and DocumentDB spell their members `DB…` (`DBSnapshotIdentifier` for a
    // `SnapshotName`).
    let member = norm(&f.member);
    let names = [
        Some(member.clone()),
        member
            .strip_prefix("db")
            .filter(|m| m.len() >= 3)
            .map(str::to_string),
        f.shape.as_deref().map(norm),
    ];
    let names: Vec<&str> = names.iter().flatten().map(String::as_str).collect();
    let (exact, noun) = if GENERIC.contains(&p.as_str()) {
        (None, norm(resource_type))
    } else {
        let noun = SUFFIXES
            .iter()
            .find_map(|s| p.strip_suffix(s))
            .filter(|n| n.len() >= 3)
            .unwrap_or(&p)
            .to_string();
        (Some(p.clone()), noun)
    };
    let plural = |n: &str, w: &str| {
        n == w || n.strip_suffix('s') == Some(w) || n.strip_suffix("list") == Some(w)
    };
    if let Some(e) = &exact
        && names.iter().any(|n| plural(n, e))
    {
        return Some(0);
    }
    let with_suffix = |n: &str| {
        n == noun
            || SUFFIXES.iter().any(|s| {
                n.strip_prefix(noun.as_str())
                    .is_some_and(|rest| plural(rest, s))
            })
    };
    if names.iter().any(|n| with_suffix(n)) {
        return Some(1);
    }
    // A bare `Id`/`Names` of an operation named for the resource, or a bare `Name` in a
    // structure named for it (`DatabaseInput.Name`).
    let bare = ["id", "name", "arn", "identifier", "ids", "names", "arns"];
    let named_for = |n: &str| noun.len() >= 3 && n.contains(&noun);
    if bare.contains(&member.as_str())
        && ((f.depth == 0 && named_for(&norm(operation)))
            || f.parent
                .as_deref()
                .is_some_and(|p| norm(p).starts_with(&noun)))
    {
        return Some(2);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(member: &str, shape: Option<&str>, depth: usize) -> Found {
        Found {
            member: member.into(),
            shape: shape.map(str::to_string),
            value: Some("v".into()),
            field: format!("params.{member}"),
            depth,
            parent: None,
        }
    }

    #[test]
    fn spellings_that_fit() {
        let r = |p: &str, t: &str, op: &str, f: Found| rank(p, t, op, &f);
        assert_eq!(
            r("TableName", "table", "GetItem", found("TableName", None, 0)),
            Some(0)
        );
        assert_eq!(
            r(
                "TableName",
                "table",
                "BatchWriteItem",
                found("RequestItems", Some("TableArn"), 0)
            ),
            Some(1)
        );
        assert_eq!(
            r(
                "InstanceId",
                "instance",
                "TerminateInstances",
                found("InstanceIds", Some("InstanceId"), 0)
            ),
            Some(0)
        );
        assert_eq!(
            r(
                "BucketName",
                "bucket",
                "DeleteBucket",
                found("Bucket", None, 0)
            ),
            Some(1)
        );
        assert_eq!(
            r(
                "DbInstanceName",
                "db",
                "DeleteDBInstance",
                found("DBInstanceIdentifier", None, 0)
            ),
            Some(1)
        );
        assert_eq!(
            r(
                "RoleNameWithPath",
                "role",
                "GetRole",
                found("RoleName", None, 0)
            ),
            Some(0)
        );
        assert_eq!(
            r(
                "Id",
                "hostedzone",
                "ChangeResourceRecordSets",
                found("HostedZoneId", None, 0)
            ),
            Some(1)
        );
        assert_eq!(
            r("Id", "hostedzone", "GetHostedZone", found("Id", None, 0)),
            Some(2)
        );
        assert_eq!(
            r("Id", "hostedzone", "GetChange", found("Id", None, 0)),
            None
        );
        assert_eq!(
            r(
                "TableName",
                "table",
                "RestoreTableFromBackup",
                found("TargetTableName", None, 0)
            ),
            None
        );
        assert_eq!(
            r("TableName", "table", "X", found("TableNames", None, 0)),
            Some(0)
        );
    }
}
