//! ARNs a call acts on, from the catalog's ARN templates and the call's parameters.
//!
//! The parameters are walked alongside the operation's input shape ([`values`]): every
//! string of a structure member, list or map key, at any depth, is a candidate for the
//! placeholders of the templates of the IAM actions' resource types, matched by name
//! ([`names`], plus the curated [`overrides`]). PartiQL statements are read for their table
//! ([`partiql`]); API Gateway calls are scoped to their request path ([`apigateway`]).
//!
//! Fail closed: when an action has a required resource type whose ARN cannot be built, the
//! result says so ([`Derived::known`] is false, policies see `context.resourcesKnown ==
//! false`) and holds `*` besides whatever could be derived, because the call cannot be
//! scoped any tighter.

mod apigateway;
mod names;
mod overrides;
mod partiql;
mod template;
mod values;

use serde_json::{Map, Value};
use tollgate_core::Action;

use crate::{ActionInfo, catalog};
use overrides::Use;
use template::Part;
use values::Found;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceError {
    /// The parameter at fault, e.g. `params.TableName`.
    pub field: String,
    pub message: String,
}

/// The resources of one IAM action of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionResources {
    pub action: String,
    /// The ARNs; `*` when it names no resource, or besides them when one is unknown.
    pub resources: Vec<String>,
    /// False when a required resource type could not be derived.
    pub known: bool,
}

/// The resources of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    /// Every ARN any of its actions acts on, in order, without repeats (`*` among them when
    /// some action names no resource or an unknown one).
    pub resources: Vec<String>,
    /// False when some action has a required resource type that could not be derived.
    pub known: bool,
    pub per_action: Vec<ActionResources>,
}

/// More ARNs than this (S3 `DeleteObjects` takes 1000 keys) and the call is not scoped by
/// name: the resources are unknown.
const MAX_ARNS: usize = 1000;

/// DynamoDB operations whose tables are named inside PartiQL statements.
const PARTIQL_OPERATIONS: [&str; 3] = [
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
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

struct Call<'a> {
    operation: &'a str,
    region: &'a str,
    account: &'a str,
    partition: &'static str,
    found: Vec<Found>,
}

/// The resources `actions` (the IAM actions of `operation`) act on, in `region` of
/// `account`, given the call's `params`.
pub fn derive_resources(
    operation: &Action,
    actions: &[ActionInfo],
    region: &str,
    account: &str,
    params: &Map<String, Value>,
) -> Result<Derived, ResourceError> {
    let model = tollgate_models::find(operation.service(), operation.operation());
    let op_name = model
        .as_ref()
        .map_or(operation.operation().to_string(), |(_, n)| n.clone());
    let input = model
        .as_ref()
        .and_then(|(m, n)| m.operation(n))
        .and_then(|o| o.input());
    let mut found = values::collect(params, input);
    if operation.service() == "dynamodb" && PARTIQL_OPERATIONS.contains(&op_name.as_str()) {
        add_partiql_tables(&mut found);
    }
    let call = Call {
        operation: &op_name,
        region,
        account,
        partition: partition(region),
        found,
    };
    let path_arn = match &model {
        Some((m, n)) if operation.service() == "apigateway" => {
            Some(apigateway::arn(m, n, params, region, call.partition)?)
        }
        _ => None,
    };
    let mut per_action = Vec::with_capacity(actions.len());
    for action in actions {
        let r = match (&path_arn, action.service.as_str()) {
            (Some(Some(arn)), "apigateway") => ActionResources {
                action: action.name.clone(),
                resources: vec![arn.clone()],
                known: true,
            },
            (Some(None), "apigateway") => ActionResources {
                action: action.name.clone(),
                resources: vec!["*".into()],
                known: false,
            },
            _ => derive_action(action, &call, params)?,
        };
        per_action.push(r);
    }
    let mut resources: Vec<String> = Vec::new();
    for r in &per_action {
        for a in &r.resources {
            if !resources.contains(a) {
                resources.push(a.clone());
            }
        }
    }
    if resources.is_empty() {
        resources.push("*".into());
    }
    Ok(Derived {
        known: per_action.iter().all(|r| r.known),
        resources,
        per_action,
    })
}

/// Each `Statement`'s table (and index) as if named by `TableName` (`IndexName`) members; a
/// statement that cannot be read leaves the table unknown.
fn add_partiql_tables(found: &mut Vec<Found>) {
    let statements: Vec<Found> = found
        .iter()
        .filter(|f| f.member == "Statement")
        .cloned()
        .collect();
    for f in statements {
        let target = f.value.as_deref().and_then(partiql::target);
        found.push(Found {
            member: "TableName".into(),
            shape: None,
            value: target.as_ref().map(|t| t.table.clone()),
            field: f.field.clone(),
            depth: f.depth,
            parent: None,
        });
        if let Some(index) = target.and_then(|t| t.index) {
            found.push(Found {
                member: "IndexName".into(),
                shape: None,
                value: Some(index),
                field: f.field,
                depth: f.depth,
                parent: None,
            });
        }
    }
}

fn derive_action(
    action: &ActionInfo,
    call: &Call<'_>,
    params: &Map<String, Value>,
) -> Result<ActionResources, ResourceError> {
    let mut out = ActionResources {
        action: action.name.clone(),
        resources: Vec::new(),
        known: true,
    };
    // s3:CopyObject reads its source: s3:GetObject acts on `CopySource`, not `Bucket`/`Key`.
    if action.name == "s3:GetObject" && matches!(call.operation, "CopyObject" | "UploadPartCopy") {
        let source = params.get("CopySource").and_then(Value::as_str);
        if source.is_some_and(|s| s.contains(['*'])) {
            return Err(wildcard("params.CopySource"));
        }
        match source.and_then(|s| overrides::copy_source_arn(s, call.partition)) {
            Some(arn) => out.resources.push(arn),
            None => {
                out.known = false;
                out.resources.push("*".into());
            }
        }
        return Ok(out);
    }
    let Some(svc) = catalog().service(&action.service) else {
        out.known = false;
        out.resources.push("*".into());
        return Ok(out);
    };
    for (rtype, required) in &action.resource_types {
        let arns = match svc.resources.get(rtype) {
            Some(t) => fill(t, rtype, &action.name, call)?,
            None => None,
        };
        match arns {
            Some(arns) => {
                for a in arns {
                    if !out.resources.contains(&a) {
                        out.resources.push(a);
                    }
                }
            }
            None if *required => out.known = false,
            None => {}
        }
    }
    if out.resources.len() > MAX_ARNS {
        out.resources.clear();
        out.known = false;
    }
    if out.resources.is_empty() || !out.known {
        out.resources.push("*".into());
    }
    Ok(out)
}

fn wildcard(field: &str) -> ResourceError {
    ResourceError {
        field: field.to_string(),
        message: "must not contain `*` or `?`".into(),
    }
}

/// A value ready for a placeholder.
enum Fill {
    Text(String),
    /// An ARN that is the whole resource.
    Whole(String),
    /// An ARN that stands for the template up to and including this placeholder.
    Prefix(String),
}

/// The ARNs of one template, or `None` when a placeholder has no usable value.
fn fill(
    template: &str,
    rtype: &str,
    iam_action: &str,
    call: &Call<'_>,
) -> Result<Option<Vec<String>>, ResourceError> {
    let Some(parts) = template::parts(template) else {
        return Ok(None);
    };
    let service = template::service(template);
    let mut fills: Vec<Vec<Fill>> = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let Part::Name(name) = part else {
            fills.push(Vec::new());
            continue;
        };
        let found = fills_for(name, rtype, service, &parts, i, call)?
            .or_else(|| fallback(name, rtype, service, &parts, iam_action, call));
        match found {
            Some(f) => fills.push(f),
            // An earlier placeholder given as a whole ARN already names the resource.
            None if fills
                .iter()
                .any(|f| !f.is_empty() && f.iter().all(|x| matches!(x, Fill::Whole(_)))) =>
            {
                fills.push(Vec::new())
            }
            None => return Ok(None),
        }
    }
    let mut out = Vec::new();
    build(&parts, &fills, 0, String::new(), call, &mut out);
    if out.len() > MAX_ARNS {
        return Ok(None);
    }
    Ok((!out.is_empty()).then_some(out))
}

fn build(
    parts: &[Part<'_>],
    fills: &[Vec<Fill>],
    i: usize,
    acc: String,
    call: &Call<'_>,
    out: &mut Vec<String>,
) {
    if out.len() > MAX_ARNS {
        return;
    }
    let Some(part) = parts.get(i) else {
        out.push(acc);
        return;
    };
    let next = |text: &str| format!("{acc}{text}");
    match part {
        Part::Text(t) => build(parts, fills, i + 1, next(t), call, out),
        Part::Partition => build(parts, fills, i + 1, next(call.partition), call, out),
        Part::Region => build(parts, fills, i + 1, next(call.region), call, out),
        Part::Account => build(parts, fills, i + 1, next(call.account), call, out),
        Part::Name(_) => {
            for f in &fills[i] {
                match f {
                    Fill::Text(v) => build(parts, fills, i + 1, next(v), call, out),
                    Fill::Prefix(arn) => build(parts, fills, i + 1, arn.clone(), call, out),
                    Fill::Whole(arn) => out.push(arn.clone()),
                }
            }
        }
    }
}

/// The values for placeholder `name` (part `i` of `parts`): those of the best-fitting
/// members. `None` when there are none, or when one of them cannot be used (then the
/// resource is unknown rather than partly derived).
fn fills_for(
    name: &str,
    rtype: &str,
    service: &str,
    parts: &[Part<'_>],
    i: usize,
    call: &Call<'_>,
) -> Result<Option<Vec<Fill>>, ResourceError> {
    let aliases: &[&str] = overrides::ALIASES
        .iter()
        .find(|(s, p, _)| *s == service && *p == name)
        .map_or(&[], |(_, _, a)| a);
    let ranked: Vec<(u8, &Found)> = call
        .found
        .iter()
        .filter_map(|f| {
            let r = if aliases.contains(&f.member.as_str()) {
                Some(0)
            } else {
                names::rank(name, rtype, call.operation, f)
            };
            r.map(|r| (r, f))
        })
        .collect();
    let Some(best) = ranked.iter().map(|(r, _)| *r).min() else {
        return Ok(arn_members(service, parts, call));
    };
    let mut fills = Vec::new();
    for (_, f) in ranked.iter().filter(|(r, _)| *r == best) {
        let Some(v) = &f.value else {
            return Ok(None);
        };
        if v.is_empty() {
            continue;
        }
        // A wildcard in a name would widen the session policy to other resources.
        if v.contains(['*', '?']) {
            return Err(wildcard(&f.field));
        }
        match overrides::reshape(service, rtype, name, v, call.partition) {
            Use::Name(t) => fills.push(Fill::Text(t)),
            Use::Arn(a) => match fit(parts, i, service, &a) {
                Some(fill) => fills.push(fill),
                None => return Ok(None),
            },
            Use::Unusable => return Ok(None),
        }
    }
    Ok((!fills.is_empty()).then_some(fills))
}

/// A placeholder no parameter supplies: the service's default (`primary` workgroup), the
/// call's account for an `${AccountId}` of a template without `${Account}`, or `*` for the
/// id of the very resource the call creates.
fn fallback(
    name: &str,
    rtype: &str,
    service: &str,
    parts: &[Part<'_>],
    iam_action: &str,
    call: &Call<'_>,
) -> Option<Vec<Fill>> {
    if let Some((_, _, v)) = overrides::DEFAULTS
        .iter()
        .find(|(s, p, _)| *s == service && *p == name)
    {
        return Some(vec![Fill::Text(v.to_string())]);
    }
    if name == "AccountId" && !parts.contains(&Part::Account) {
        return Some(vec![Fill::Text(call.account.to_string())]);
    }
    overrides::is_created(iam_action, rtype, name).then(|| vec![Fill::Text("*".into())])
}

/// How an ARN fits the template: whole, as the prefix up to part `i`, or not at all.
fn fit(parts: &[Part<'_>], i: usize, service: &str, arn: &str) -> Option<Fill> {
    if arn.split(':').nth(2) != Some(service) {
        return None;
    }
    if template::matches(parts, arn) {
        Some(Fill::Whole(arn.to_string()))
    } else if template::matches(&parts[..=i], arn) {
        Some(Fill::Prefix(arn.to_string()))
    } else {
        None
    }
}

/// Resources named only by an ARN in a member such as `ResourceArn` (tagging calls): those
/// ARNs of the template's service that are whole instances of the template.
fn arn_members(service: &str, parts: &[Part<'_>], call: &Call<'_>) -> Option<Vec<Fill>> {
    let fills: Vec<Fill> = call
        .found
        .iter()
        .filter(|f| {
            let m = names::norm(&f.member);
            m.ends_with("arn") || m.ends_with("arns")
        })
        .filter_map(|f| f.value.as_deref())
        .filter(|v| v.starts_with("arn:") && !v.contains(['*', '?']))
        .filter(|v| v.split(':').nth(2) == Some(service) && template::matches(parts, v))
        .map(|v| Fill::Whole(v.to_string()))
        .collect();
    (!fills.is_empty()).then_some(fills)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn derived(op: &str, params: Value) -> Result<Derived, ResourceError> {
        let op = Action::parse(op).unwrap();
        let actions = catalog().iam_actions(&op).unwrap();
        derive_resources(
            &op,
            &actions,
            "us-east-1",
            "123456789012",
            params.as_object().unwrap(),
        )
    }

    fn derive(op: &str, params: Value) -> Result<Vec<String>, ResourceError> {
        derived(op, params).map(|d| d.resources)
    }

    const T: &str = "arn:aws:dynamodb:us-east-1:123456789012:table";

    #[test]
    fn table_bucket_object_function_queue() {
        assert_eq!(
            derive("dynamodb:DeleteTable", json!({"TableName": "orders"})).unwrap(),
            vec![format!("{T}/orders")]
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
        let op = Action::parse("dynamodb:DeleteTable").unwrap();
        let actions = catalog().iam_actions(&op).unwrap();
        let p = json!({"TableName": "t"});
        assert_eq!(
            derive_resources(
                &op,
                &actions,
                "cn-north-1",
                "123456789012",
                p.as_object().unwrap()
            )
            .unwrap()
            .resources,
            vec!["arn:aws-cn:dynamodb:cn-north-1:123456789012:table/t"]
        );
    }

    #[test]
    fn nothing_to_name_is_star_and_known() {
        let d = derived("dynamodb:ListTables", json!({})).unwrap();
        assert_eq!((d.resources, d.known), (vec!["*".to_string()], true));
    }

    #[test]
    fn required_resources_that_cannot_be_told_are_unknown() {
        let d = derived("dynamodb:DeleteTable", json!({})).unwrap();
        assert_eq!((d.resources, d.known), (vec!["*".to_string()], false));
        // The image is named, the instance to be created cannot be: both show.
        let d = derived(
            "ec2:RunInstances",
            json!({"ImageId": "ami-1", "MinCount": 1, "MaxCount": 1}),
        )
        .unwrap();
        assert!(!d.known);
        assert!(
            d.resources
                .contains(&"arn:aws:ec2:us-east-1::image/ami-1".to_string()),
            "{:?}",
            d.resources
        );
        assert!(d.resources.contains(&"*".to_string()));
        // A key named by its alias: which key is unknown.
        let d = derived(
            "kms:Decrypt",
            json!({"KeyId": "alias/prod", "CiphertextBlob": "eA=="}),
        )
        .unwrap();
        assert!(!d.known, "{:?}", d.resources);
    }

    #[test]
    fn nested_members_lists_and_map_keys() {
        let d = derived(
            "dynamodb:BatchWriteItem",
            json!({"RequestItems": {"prod-orders": [{"DeleteRequest": {"Key": {"pk": {"S": "a"}}}}],
                                    "audit": [{"PutRequest": {"Item": {"pk": {"S": "b"}}}}]}}),
        )
        .unwrap();
        assert!(d.known);
        let mut tables = d.resources.clone();
        tables.sort();
        assert_eq!(
            tables,
            vec![format!("{T}/audit"), format!("{T}/prod-orders")]
        );
        let d = derived(
            "dynamodb:TransactWriteItems",
            json!({"TransactItems": [
                {"Put": {"TableName": "a", "Item": {}}},
                {"Delete": {"TableName": "prod-orders", "Key": {}}},
                {"ConditionCheck": {"TableName": "c", "Key": {}, "ConditionExpression": "x"}}]}),
        )
        .unwrap();
        assert!(d.known);
        assert_eq!(
            d.resources,
            vec![
                format!("{T}/a"),
                format!("{T}/prod-orders"),
                format!("{T}/c")
            ]
        );
        let d = derived(
            "dynamodb:BatchGetItem",
            json!({"RequestItems": {"arn:aws:dynamodb:us-east-1:123456789012:table/pii-users": {"Keys": [{}]}}}),
        )
        .unwrap();
        assert_eq!(d.resources, vec![format!("{T}/pii-users")]);
        let d = derived(
            "dynamodb:TransactGetItems",
            json!({"TransactItems": [{"Get": {"TableName": "pii-users", "Key": {}}}]}),
        )
        .unwrap();
        assert_eq!(d.resources, vec![format!("{T}/pii-users")]);
        let d = derived(
            "s3:DeleteObjects",
            json!({"Bucket": "logs", "Delete": {"Objects": [{"Key": "a"}, {"Key": "b/c"}]}}),
        )
        .unwrap();
        assert!(d.known);
        assert_eq!(
            d.resources,
            vec!["arn:aws:s3:::logs/a", "arn:aws:s3:::logs/b/c"]
        );
        let d = derived(
            "ec2:TerminateInstances",
            json!({"InstanceIds": ["i-1", "i-2"]}),
        )
        .unwrap();
        assert_eq!(
            d.resources,
            vec![
                "arn:aws:ec2:us-east-1:123456789012:instance/i-1",
                "arn:aws:ec2:us-east-1:123456789012:instance/i-2"
            ]
        );
        let d = derived(
            "route53:ChangeResourceRecordSets",
            json!({"HostedZoneId": "/hostedzone/Z123", "ChangeBatch": {"Changes": []}}),
        )
        .unwrap();
        assert!(d.known);
        assert_eq!(d.resources, vec!["arn:aws:route53:::hostedzone/Z123"]);
    }

    #[test]
    fn partiql_statements_name_their_tables() {
        let d = derived(
            "dynamodb:ExecuteStatement",
            json!({"Statement": "DELETE FROM \"prod-orders\" WHERE pk = ?"}),
        )
        .unwrap();
        assert!(d.known);
        assert_eq!(d.resources, vec![format!("{T}/prod-orders")]);
        let d = derived(
            "dynamodb:BatchExecuteStatement",
            json!({"Statements": [{"Statement": "SELECT * FROM a"}, {"Statement": "UPDATE \"b\" SET x = 1 WHERE pk = 'k'"}]}),
        )
        .unwrap();
        assert_eq!(d.resources, vec![format!("{T}/a"), format!("{T}/b")]);
        let d = derived(
            "dynamodb:ExecuteTransaction",
            json!({"TransactStatements": [{"Statement": "INSERT INTO \"t\" VALUE {'pk': 'a'}"},
                                          {"Statement": "SELECT * FROM /* x */ \"pii\""}]}),
        )
        .unwrap();
        assert!(!d.known, "an unreadable statement leaves its table unknown");
        assert!(d.resources.contains(&"*".to_string()));
    }

    #[test]
    fn api_gateway_calls_are_scoped_to_their_path() {
        let d = derived(
            "apigateway:DeleteStage",
            json!({"restApiId": "abc123", "stageName": "prod"}),
        )
        .unwrap();
        assert!(d.known);
        assert_eq!(
            d.resources,
            vec!["arn:aws:apigateway:us-east-1::/restapis/abc123/stages/prod"]
        );
        let d = derived("apigateway:GetApiKeys", json!({"includeValues": true})).unwrap();
        assert_eq!(d.resources, vec!["arn:aws:apigateway:us-east-1::/apikeys"]);
        let d = derived("apigateway:GetApi", json!({"ApiId": "h1"})).unwrap();
        assert_eq!(d.resources, vec!["arn:aws:apigateway:us-east-1::/apis/h1"]);
        let d = derived(
            "apigateway:DeleteStage",
            json!({"restApiId": "abc123", "stageName": ".."}),
        )
        .unwrap();
        assert!(!d.known, "{:?}", d.resources);
    }

    #[test]
    fn copy_object_reads_its_source_and_writes_its_destination() {
        let d = derived(
            "s3:CopyObject",
            json!({"Bucket": "dst", "Key": "k2", "CopySource": "src/k1?versionId=v"}),
        )
        .unwrap();
        let by = |a: &str| {
            d.per_action
                .iter()
                .find(|r| r.action == a)
                .unwrap()
                .resources
                .clone()
        };
        assert_eq!(by("s3:GetObject"), vec!["arn:aws:s3:::src/k1"]);
        assert_eq!(by("s3:PutObject"), vec!["arn:aws:s3:::dst/k2"]);
    }

    #[test]
    fn wildcards_in_names_are_refused() {
        let e = derive("dynamodb:DeleteTable", json!({"TableName": "prod-*"})).unwrap_err();
        assert_eq!(e.field, "params.TableName");
        assert!(derive("s3:GetObject", json!({"Bucket": "b", "Key": "a?"})).is_err());
        let e = derive(
            "dynamodb:TransactWriteItems",
            json!({"TransactItems": [{"Put": {"TableName": "prod-*", "Item": {}}}]}),
        )
        .unwrap_err();
        assert_eq!(e.field, "params.TransactItems[0].Put.TableName");
        let e = derive(
            "apigateway:GetStage",
            json!({"restApiId": "*", "stageName": "p"}),
        )
        .unwrap_err();
        assert_eq!(e.field, "params.restApiId");
    }
}
