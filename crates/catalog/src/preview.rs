//! Which reads show what a write will touch as it is now: the impact preview's plan.
//!
//! Two sources. A curated table for the most consequential calls picks the facts that matter
//! (a table's item count and backups before `DeleteTable`, an instance's name and state before
//! `TerminateInstances`). Every other write gets the reads derived from the operation models:
//! `Delete<Noun>`, `Update<Noun>`, `Put<Noun>`, ... → `Describe<Noun>`, `Get<Noun>`,
//! `List<Noun>s` of the same service (the noun shortened word by word until one exists),
//! given the identifier members the call carries.
//!
//! A read is planned only when it is safe to send unasked: every IAM action it needs is a
//! `Read` or `List` action without a risk flag (no `GetSecretValue`, no `ReceiveMessage`),
//! the call carries every member it requires, the model accepts its parameters, and it acts
//! only on resources the request itself names (or on none at all, for actions IAM cannot
//! scope, such as `ec2:DescribeInstances`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use tollgate_core::preview::Pick;
use tollgate_core::{Action, NewRequest};

use crate::{AccessLevel, catalog, derive_resources};

/// One read of the preview, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    /// `service:Operation` as the models name it.
    pub action: Action,
    pub params: Map<String, Value>,
    /// Per IAM action the read needs, the ARNs it acts on: the read session allows exactly
    /// these.
    pub scope: BTreeMap<String, Vec<String>>,
    /// The facts to show; empty for derived reads (their first members are shown).
    pub picks: Vec<Pick>,
    /// For a read of the policy the call replaces: the proposed document and the answer's
    /// member holding the current one.
    pub policy: Option<(Value, String)>,
}

/// Calls that replace a policy document: the read of the current one, the members it takes
/// from the call, the call's member with the proposed document, and the answer's member with
/// the current one.
type PolicyRead = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static str,
    &'static str,
);

const POLICY_READS: &[PolicyRead] = &[
    (
        "s3:PutBucketPolicy",
        "GetBucketPolicy",
        BUCKET,
        "Policy",
        "Policy",
    ),
    (
        "kms:PutKeyPolicy",
        "GetKeyPolicy",
        &[("KeyId", "KeyId"), ("PolicyName", "PolicyName")],
        "Policy",
        "Policy",
    ),
    (
        "iam:PutRolePolicy",
        "GetRolePolicy",
        &[("RoleName", "RoleName"), ("PolicyName", "PolicyName")],
        "PolicyDocument",
        "PolicyDocument",
    ),
    (
        "ecr:SetRepositoryPolicy",
        "GetRepositoryPolicy",
        &[("repositoryName", "repositoryName")],
        "policyText",
        "policyText",
    ),
];

/// A curated read: the operation, members copied from the call (read member, call member),
/// fixed members, and the facts to pick.
struct Curated {
    read: &'static str,
    copy: &'static [(&'static str, &'static str)],
    fixed: fn() -> Value,
    picks: &'static [(&'static str, &'static str)],
}

fn none() -> Value {
    json!({})
}

const TABLE: &[(&str, &str)] = &[("TableName", "TableName")];
const BUCKET: &[(&str, &str)] = &[("Bucket", "Bucket")];
const FUNCTION: &[(&str, &str)] = &[("FunctionName", "FunctionName")];
const ROLE: &[(&str, &str)] = &[("RoleName", "RoleName")];
const KEY: &[(&str, &str)] = &[("KeyId", "KeyId")];
const DB: &[(&str, &str)] = &[("DBInstanceIdentifier", "DBInstanceIdentifier")];
const INSTANCES: &[(&str, &str)] = &[("InstanceIds", "InstanceIds")];

const DESCRIBE_TABLE: Curated = Curated {
    read: "DescribeTable",
    copy: TABLE,
    fixed: none,
    picks: &[
        ("Items", "Table.ItemCount"),
        ("Size (bytes)", "Table.TableSizeBytes"),
        ("Status", "Table.TableStatus"),
        ("Deletion protection", "Table.DeletionProtectionEnabled"),
        ("Created", "Table.CreationDateTime"),
        ("Billing", "Table.BillingModeSummary.BillingMode"),
        ("Global table replicas", "#Table.Replicas"),
    ],
};
const TABLE_BACKUPS: Curated = Curated {
    read: "DescribeContinuousBackups",
    copy: TABLE,
    fixed: none,
    picks: &[(
        "Point-in-time recovery",
        "ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus",
    )],
};
const TABLE_ON_DEMAND_BACKUPS: Curated = Curated {
    read: "ListBackups",
    copy: TABLE,
    fixed: none,
    picks: &[("On-demand backups", "#BackupSummaries")],
};
const BUCKET_OBJECTS: Curated = Curated {
    read: "ListObjectsV2",
    copy: BUCKET,
    fixed: || json!({"MaxKeys": 1000}),
    picks: &[
        ("Objects (first page)", "KeyCount"),
        ("More than one page", "IsTruncated"),
    ],
};
const BUCKET_VERSIONING: Curated = Curated {
    read: "GetBucketVersioning",
    copy: BUCKET,
    fixed: none,
    picks: &[("Versioning", "Status"), ("MFA delete", "MFADelete")],
};
const BUCKET_POLICY_STATUS: Curated = Curated {
    read: "GetBucketPolicyStatus",
    copy: BUCKET,
    fixed: none,
    picks: &[("Public", "PolicyStatus.IsPublic")],
};
const INSTANCES_NOW: Curated = Curated {
    read: "DescribeInstances",
    copy: INSTANCES,
    fixed: none,
    picks: &[
        ("Name", "Reservations[].Instances[].Tags[?Key=Name].Value"),
        ("State", "Reservations[].Instances[].State.Name"),
        ("Type", "Reservations[].Instances[].InstanceType"),
        ("Launched", "Reservations[].Instances[].LaunchTime"),
    ],
};
const DB_NOW: Curated = Curated {
    read: "DescribeDBInstances",
    copy: DB,
    fixed: none,
    picks: &[
        ("Status", "DBInstances[].DBInstanceStatus"),
        ("Engine", "DBInstances[].Engine"),
        ("Storage (GiB)", "DBInstances[].AllocatedStorage"),
        ("Deletion protection", "DBInstances[].DeletionProtection"),
        (
            "Backup retention (days)",
            "DBInstances[].BackupRetentionPeriod",
        ),
        ("Multi-AZ", "DBInstances[].MultiAZ"),
    ],
};
const FUNCTION_NOW: Curated = Curated {
    read: "GetFunctionConfiguration",
    copy: FUNCTION,
    fixed: none,
    picks: &[
        ("Runtime", "Runtime"),
        ("Last modified", "LastModified"),
        ("Code size (bytes)", "CodeSize"),
        ("State", "State"),
        ("Role", "Role"),
    ],
};
const ROLE_NOW: Curated = Curated {
    read: "GetRole",
    copy: ROLE,
    fixed: none,
    picks: &[
        ("Created", "Role.CreateDate"),
        ("Last used", "Role.RoleLastUsed.LastUsedDate"),
        ("Description", "Role.Description"),
    ],
};
const ROLE_POLICIES: Curated = Curated {
    read: "ListAttachedRolePolicies",
    copy: ROLE,
    fixed: none,
    picks: &[("Attached policies", "AttachedPolicies[].PolicyName")],
};
const KEY_NOW: Curated = Curated {
    read: "DescribeKey",
    copy: KEY,
    fixed: none,
    picks: &[
        ("State", "KeyMetadata.KeyState"),
        ("Description", "KeyMetadata.Description"),
        ("Managed by", "KeyMetadata.KeyManager"),
        ("Created", "KeyMetadata.CreationDate"),
        ("Usage", "KeyMetadata.KeyUsage"),
    ],
};

/// The curated reads of a write, by `service:Operation`.
fn curated(action: &str) -> &'static [Curated] {
    match action {
        "dynamodb:DeleteTable" | "dynamodb:UpdateTable" => {
            &[DESCRIBE_TABLE, TABLE_BACKUPS, TABLE_ON_DEMAND_BACKUPS]
        }
        "s3:DeleteBucket" => &[BUCKET_OBJECTS, BUCKET_VERSIONING],
        "s3:PutBucketPolicy" | "s3:DeletePublicAccessBlock" => &[BUCKET_POLICY_STATUS],
        "ec2:TerminateInstances"
        | "ec2:StopInstances"
        | "ec2:RebootInstances"
        | "ec2:ModifyInstanceAttribute" => &[INSTANCES_NOW],
        "rds:DeleteDBInstance"
        | "rds:ModifyDBInstance"
        | "rds:StopDBInstance"
        | "rds:RebootDBInstance" => &[DB_NOW],
        "lambda:DeleteFunction"
        | "lambda:UpdateFunctionCode"
        | "lambda:UpdateFunctionConfiguration" => &[FUNCTION_NOW],
        "iam:DeleteRole"
        | "iam:UpdateAssumeRolePolicy"
        | "iam:PutRolePolicy"
        | "iam:AttachRolePolicy" => &[ROLE_NOW, ROLE_POLICIES],
        "kms:ScheduleKeyDeletion" | "kms:DisableKey" | "kms:PutKeyPolicy" => &[KEY_NOW],
        _ => &[],
    }
}

/// A read to try: curated (members to copy, fixed members, facts) or derived.
struct Candidate {
    read: String,
    copy: Option<&'static [(&'static str, &'static str)]>,
    fixed: Value,
    picks: Vec<Pick>,
}

/// Verbs of writes whose object can be read back under a read verb.
const WRITE_VERBS: [&str; 18] = [
    "Delete",
    "Update",
    "Put",
    "Modify",
    "Remove",
    "Terminate",
    "Stop",
    "Start",
    "Disable",
    "Enable",
    "Detach",
    "Disassociate",
    "Deregister",
    "Revoke",
    "Reset",
    "Set",
    "Reboot",
    "Restore",
];

/// The read operations a derived preview tries for `operation`, longest noun first.
fn derived_names(operation: &str) -> Vec<String> {
    let Some(noun) = WRITE_VERBS
        .iter()
        .find_map(|v| operation.strip_prefix(v))
        .filter(|n| n.starts_with(|c: char| c.is_ascii_uppercase()))
    else {
        return vec![];
    };
    let words = camel_words(noun);
    let mut names = vec![];
    for n in (1..=words.len()).rev() {
        let noun: String = words[..n].concat();
        for name in [
            format!("Describe{noun}"),
            format!("Get{noun}"),
            format!("Describe{noun}s"),
            format!("List{noun}s"),
        ] {
            names.push(name);
        }
    }
    names
}

fn camel_words(s: &str) -> Vec<&str> {
    let mut words = vec![];
    let mut start = 0;
    let b = s.as_bytes();
    for i in 1..b.len() {
        if b[i].is_ascii_uppercase() && !b[i - 1].is_ascii_uppercase() {
            words.push(&s[start..i]);
            start = i;
        }
    }
    words.push(&s[start..]);
    words
}

/// Whether `operation` of `service` may be sent without anyone asking: all its IAM actions
/// read or list, none flagged.
fn is_harmless_read(service: &str, operation: &str) -> bool {
    let Ok(action) = Action::parse(&format!("{service}:{operation}")) else {
        return false;
    };
    catalog().iam_actions(&action).is_some_and(|infos| {
        !infos.is_empty()
            && infos.iter().all(|a| {
                matches!(a.level, AccessLevel::Read | AccessLevel::List) && a.risks.is_empty()
            })
    })
}

/// What a read would be sent with: the copied and fixed members, if the call carries every
/// member the read requires and the model accepts them.
fn read_params(
    service: &str,
    read: &str,
    copy: Option<&[(&str, &str)]>,
    fixed: Value,
    call: &Map<String, Value>,
) -> Option<Map<String, Value>> {
    let (model, name) = tollgate_models::find(service, read)?;
    let op = model.operation(&name)?;
    let mut params = Map::new();
    match copy {
        Some(pairs) => {
            for (to, from) in pairs {
                params.insert((*to).to_string(), call.get(*from)?.clone());
            }
        }
        // Derived: the read's members the call carries, when they are identifiers (strings
        // or lists of them); anything else the call says is not the read's business.
        None => {
            for m in op.input_members() {
                if let Some(v) = call.get(m).filter(|v| is_identifier(v)) {
                    params.insert(m.to_string(), v.clone());
                }
            }
            if params.is_empty() {
                return None;
            }
        }
    }
    if let Value::Object(f) = fixed {
        params.extend(f);
    }
    if op
        .required_members()
        .iter()
        .any(|m| !params.contains_key(*m))
    {
        return None;
    }
    tollgate_models::validate(&model, &name, &params).ok()?;
    Some(params)
}

fn is_identifier(v: &Value) -> bool {
    match v {
        Value::String(s) => !s.is_empty() && s.len() <= 2048,
        Value::Array(items) => !items.is_empty() && items.iter().all(Value::is_string),
        _ => false,
    }
}

/// The read's scope: per IAM action its resources, when they are among the request's own
/// resources, or `*` for an action IAM cannot scope to a resource. `None` otherwise: the read
/// would reach further than the request does.
fn read_scope(
    action: &Action,
    params: &Map<String, Value>,
    region: &str,
    account: &str,
    request_resources: &[String],
) -> Option<BTreeMap<String, Vec<String>>> {
    let infos = catalog().iam_actions(action)?;
    let derived = derive_resources(action, &infos, region, account, params).ok()?;
    let mut scope = BTreeMap::new();
    for (info, per) in infos.iter().zip(&derived.per_action) {
        let unscoped = info.resource_types.iter().all(|(_, required)| !required)
            && per.resources.iter().all(|r| r == "*");
        let within = per.known && per.resources.iter().all(|r| request_resources.contains(r));
        if !(unscoped || within) {
            return None;
        }
        scope.insert(info.name.clone(), per.resources.clone());
    }
    Some(scope)
}

/// The reads of the preview of `req`, whose derived resources are `request_resources`, in
/// `account`. Empty when there is nothing safe to read: reads need no preview, and neither do
/// calls Tollgate cannot read back.
pub fn plan(req: &NewRequest, request_resources: &[String], account: &str) -> Vec<Read> {
    let service = req.action.service();
    let operation = req.action.operation();
    let Some(info) = catalog().iam_actions(&req.action) else {
        return vec![];
    };
    if info
        .iter()
        .all(|a| matches!(a.level, AccessLevel::Read | AccessLevel::List))
    {
        return vec![];
    }
    let curated = curated(&req.action.to_string());
    let candidates: Vec<Candidate> = if curated.is_empty() {
        derived_names(operation)
            .into_iter()
            .map(|read| Candidate {
                read,
                copy: None,
                fixed: json!({}),
                picks: vec![],
            })
            .collect()
    } else {
        curated
            .iter()
            .map(|c| Candidate {
                read: c.read.to_string(),
                copy: Some(c.copy),
                fixed: (c.fixed)(),
                picks: c.picks.iter().map(|(l, p)| Pick::new(l, p)).collect(),
            })
            .collect()
    };
    let is_derived = curated.is_empty();
    let mut reads = vec![];
    for Candidate {
        read: name,
        copy,
        fixed,
        picks,
    } in candidates
    {
        if !is_harmless_read(service, &name) {
            continue;
        }
        let Some(params) = read_params(service, &name, copy, fixed, &req.params) else {
            continue;
        };
        let Ok(action) = Action::parse(&format!("{service}:{name}")) else {
            continue;
        };
        let Some(scope) = read_scope(&action, &params, &req.region, account, request_resources)
        else {
            continue;
        };
        reads.push(Read {
            action,
            params,
            scope,
            picks,
            policy: None,
        });
        // One derived read is enough: the longest noun that exists names the object best.
        if is_derived {
            break;
        }
    }
    reads.extend(policy_read(req, request_resources, account));
    reads
}

/// The read of the policy document `req` replaces, with the document it proposes.
fn policy_read(req: &NewRequest, request_resources: &[String], account: &str) -> Option<Read> {
    let service = req.action.service();
    let action = req.action.to_string();
    let (_, read, copy, proposed, current) = POLICY_READS.iter().find(|p| p.0 == action)?;
    let proposed = tollgate_core::policy_doc::parse(req.params.get(*proposed)?)?;
    if !is_harmless_read(service, read) {
        return None;
    }
    let params = read_params(service, read, Some(copy), json!({}), &req.params)?;
    let action = Action::parse(&format!("{service}:{read}")).ok()?;
    let scope = read_scope(&action, &params, &req.region, account, request_resources)?;
    Some(Read {
        action,
        params,
        scope,
        picks: vec![],
        policy: Some((proposed, (*current).to_string())),
    })
}

/// Whether a write operation gets a planned read when it carries its identifiers, without
/// looking at the resources (for the coverage figure).
fn has_read(service: &str, operation: &str) -> bool {
    let Some((model, name)) = tollgate_models::find(service, operation) else {
        return false;
    };
    let Some(op) = model.operation(&name) else {
        return false;
    };
    let members: Vec<&str> = op.input_members();
    let carried = |read: &str, copy: Option<&[(&str, &str)]>| {
        let Some((rmodel, rname)) = tollgate_models::find(service, read) else {
            return false;
        };
        let Some(rop) = rmodel.operation(&rname) else {
            return false;
        };
        match copy {
            Some(pairs) => pairs.iter().all(|(_, from)| members.contains(from)),
            None => {
                let shared = rop.input_members().iter().any(|m| members.contains(m));
                shared && rop.required_members().iter().all(|m| members.contains(m))
            }
        }
    };
    let curated = curated(&format!("{service}:{name}"));
    if !curated.is_empty() {
        return curated
            .iter()
            .any(|c| is_harmless_read(service, c.read) && carried(c.read, Some(c.copy)));
    }
    derived_names(&name)
        .iter()
        .any(|r| is_harmless_read(service, r) && carried(r, None))
}

/// Whether `service:operation` is sent once as a dry run in its preview: an EC2 operation
/// whose input model has a `DryRun` member. (Other services' `DryRun`-like members do not
/// promise what EC2's does.)
pub fn takes_dry_run(service: &str, operation: &str) -> bool {
    service == "ec2"
        && tollgate_models::find(service, operation).is_some_and(|(model, name)| {
            model.operation(&name).is_some_and(|op| {
                op.input_members()
                    .contains(&tollgate_core::preview::dry_run::MEMBER)
            })
        })
}

/// How many of the catalog's write actions (access levels Write, Tagging and Permissions
/// management) are API operations that get a preview: (a read or a dry run, a dry run, a
/// read, writes).
pub fn coverage() -> (usize, usize, usize, usize) {
    let c = catalog();
    let (mut previewed, mut dry_runs, mut reads, mut writes) = (0, 0, 0, 0);
    for prefix in c.prefixes() {
        let Some(svc) = c.service(&prefix) else {
            continue;
        };
        for name in svc.action_names() {
            let Some(info) = c.action(&format!("{prefix}:{name}")) else {
                continue;
            };
            if matches!(info.level, AccessLevel::Read | AccessLevel::List) {
                continue;
            }
            writes += 1;
            let (read, dry) = (has_read(&prefix, name), takes_dry_run(&prefix, name));
            reads += usize::from(read);
            dry_runs += usize::from(dry);
            previewed += usize::from(read || dry);
        }
    }
    (previewed, dry_runs, reads, writes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate_core::parse_new_request;

    const ACCOUNT: &str = "123456789012";

    fn call(body: Value) -> NewRequest {
        parse_new_request(body.to_string().as_bytes(), "us-east-1").unwrap()
    }

    fn names(reads: &[Read]) -> Vec<String> {
        reads.iter().map(|r| r.action.to_string()).collect()
    }

    #[test]
    fn delete_table_reads_the_table_and_its_backups_on_that_table_only() {
        let table = format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/orders");
        let req =
            call(json!({"action": "dynamodb:DeleteTable", "params": {"TableName": "orders"}}));
        let reads = plan(&req, std::slice::from_ref(&table), ACCOUNT);
        assert_eq!(
            names(&reads),
            [
                "dynamodb:DescribeTable",
                "dynamodb:DescribeContinuousBackups",
                "dynamodb:ListBackups"
            ]
        );
        assert_eq!(
            reads[0].params,
            *json!({"TableName": "orders"}).as_object().unwrap()
        );
        assert_eq!(
            reads[0].scope["dynamodb:DescribeTable"],
            std::slice::from_ref(&table)
        );
        assert!(reads[0].picks.iter().any(|p| p.path == "Table.ItemCount"));
        // Not the request's table: no read reaches it.
        let other = format!("arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/other");
        let reads = plan(&req, &[other], ACCOUNT);
        assert!(
            !names(&reads).contains(&"dynamodb:DescribeTable".to_string()),
            "{reads:?}"
        );
    }

    #[test]
    fn derived_reads_follow_the_noun_with_the_identifiers_the_call_carries() {
        let cluster = format!("arn:aws:rds:us-east-1:{ACCOUNT}:cluster:prod");
        let req = call(
            json!({"action": "rds:DeleteDBCluster", "params": {"DBClusterIdentifier": "prod", "SkipFinalSnapshot": true}}),
        );
        let reads = plan(&req, &[cluster], ACCOUNT);
        assert_eq!(names(&reads), ["rds:DescribeDBClusters"]);
        assert_eq!(
            reads[0].params,
            *json!({"DBClusterIdentifier": "prod"}).as_object().unwrap()
        );
        assert_eq!(
            derived_names("DeleteBucketPolicy")[..2],
            ["DescribeBucketPolicy", "GetBucketPolicy"]
        );
        assert!(derived_names("CreateTable").is_empty());
        assert!(derived_names("Deleted").is_empty());
        let req = call(
            json!({"action": "lambda:DeleteFunctionConcurrency", "params": {"FunctionName": "f"}}),
        );
        let reads = plan(
            &req,
            &[format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:f")],
            ACCOUNT,
        );
        assert_eq!(names(&reads), ["lambda:GetFunctionConcurrency"]);
        assert_eq!(
            reads[0].params,
            *json!({"FunctionName": "f"}).as_object().unwrap()
        );
    }

    #[test]
    fn reads_that_reveal_secrets_or_change_state_are_never_planned() {
        assert!(!is_harmless_read("secretsmanager", "GetSecretValue"));
        assert!(!is_harmless_read("sqs", "ReceiveMessage"));
        assert!(is_harmless_read("secretsmanager", "DescribeSecret"));
        let secret = format!("arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:db");
        let req = call(
            json!({"action": "secretsmanager:PutSecretValue", "params": {"SecretId": secret, "SecretString": "x"}}),
        );
        let reads = plan(&req, &[secret], ACCOUNT);
        assert!(
            names(&reads)
                .iter()
                .all(|n| n != "secretsmanager:GetSecretValue"),
            "{reads:?}"
        );
        // Reads get no preview of their own.
        let req = call(json!({"action": "dynamodb:DescribeTable", "params": {"TableName": "t"}}));
        assert!(plan(&req, &[], ACCOUNT).is_empty());
    }

    #[test]
    fn a_bucket_policy_change_reads_the_current_policy_of_that_bucket() {
        let doc = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::site/*"}]}"#;
        let req = call(
            json!({"action": "s3:PutBucketPolicy", "params": {"Bucket": "site", "Policy": doc}}),
        );
        let reads = plan(&req, &["arn:aws:s3:::site".to_string()], ACCOUNT);
        let read = reads
            .iter()
            .find(|r| r.action.to_string() == "s3:GetBucketPolicy")
            .expect("the current policy is read");
        assert_eq!(read.scope["s3:GetBucketPolicy"], ["arn:aws:s3:::site"]);
        let (proposed, member) = read.policy.clone().unwrap();
        assert_eq!(proposed["Statement"][0]["Principal"], "*");
        assert_eq!(member, "Policy");
    }

    #[test]
    fn unscoped_reads_are_allowed_only_where_iam_cannot_scope_them() {
        let req = call(
            json!({"action": "ec2:TerminateInstances", "params": {"InstanceIds": ["i-0123456789abcdef0"]}}),
        );
        let arn = format!("arn:aws:ec2:us-east-1:{ACCOUNT}:instance/i-0123456789abcdef0");
        let reads = plan(&req, &[arn], ACCOUNT);
        assert_eq!(names(&reads), ["ec2:DescribeInstances"]);
        assert_eq!(reads[0].scope["ec2:DescribeInstances"], ["*"]);
    }

    #[test]
    fn the_share_of_write_actions_with_a_preview() {
        let (previewed, dry_runs, reads, writes) = coverage();
        let share = |n: usize| n as f64 * 100.0 / writes as f64;
        println!(
            "preview coverage: {previewed} of {writes} catalog write actions ({:.1}%): {reads} with a read ({:.1}%), {dry_runs} with a dry run ({:.1}%)",
            share(previewed),
            share(reads),
            share(dry_runs)
        );
        assert!(writes > 5000, "{writes}");
        assert!(reads > writes / 10, "{reads} of {writes}");
        assert!(dry_runs > 100, "{dry_runs}");
        assert!(previewed > reads, "{previewed} of {writes}");
        assert!(takes_dry_run("ec2", "TerminateInstances"));
        assert!(!takes_dry_run("ec2", "DescribeRegionsX"));
        assert!(!takes_dry_run("dynamodb", "DeleteTable"));
    }
}
