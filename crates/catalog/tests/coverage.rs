//! How many IAM actions that act on named resources get their resources from a call's
//! parameters: for every API operation in the models, a synthetic input with every required
//! member (at any depth) is derived, and each of the operation's IAM actions with required
//! resource types counts as covered when its resources are not `*`.
//!
//! `cargo test -p tollgate-catalog --test coverage -- --nocapture` prints the figures.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};
use tollgate_catalog::{ActionInfo, catalog, derive_resources};
use tollgate_core::Action;
use tollgate_models::{ShapeKind, ShapeView};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

/// Values for members whose content has a syntax an example name cannot stand for.
fn special(member: &str, service: &str) -> Option<Value> {
    Some(match (service, member) {
        ("dynamodb", "Statement") => json!("SELECT * FROM \"example\" WHERE pk = ?"),
        ("sqs", "QueueUrl") => json!(format!(
            "https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/example"
        )),
        ("s3", "CopySource") => json!("example-source/example-key"),
        _ => return None,
    })
}

/// An ARN for a member named `...Arn`: the first required resource type of the action,
/// filled with example values, as an agent would pass a real ARN.
fn example_arn(actions: &[ActionInfo]) -> Option<String> {
    let c = catalog();
    for a in actions {
        let svc = c.service(&a.service)?;
        for (rtype, required) in &a.resource_types {
            if let (true, Some(t)) = (*required, svc.resources.get(rtype)) {
                let mut out = String::new();
                let mut rest = t.as_str();
                while let Some(i) = rest.find("${") {
                    out.push_str(&rest[..i]);
                    let end = rest[i..].find('}')? + i;
                    out.push_str(match &rest[i + 2..end] {
                        "Partition" => "aws",
                        "Region" => REGION,
                        "Account" => ACCOUNT,
                        _ => "example",
                    });
                    rest = &rest[end + 1..];
                }
                out.push_str(rest);
                return Some(out);
            }
        }
    }
    None
}

fn synth(shape: ShapeView<'_>, member: &str, ctx: &Ctx<'_>, depth: usize) -> Value {
    if let Some(v) = special(member, ctx.service) {
        return v;
    }
    match shape.kind() {
        ShapeKind::Structure => {
            let mut obj = Map::new();
            if depth < 12 {
                let mut names: Vec<String> = shape.required().to_vec();
                if names.is_empty() && shape.is_union() {
                    names.extend(shape.members().first().map(|(n, _)| n.to_string()));
                }
                for n in names {
                    if let Some(s) = shape.member(&n) {
                        obj.insert(n.clone(), synth(s, &n, ctx, depth + 1));
                    }
                }
            }
            Value::Object(obj)
        }
        ShapeKind::List => match shape.list_member() {
            Some(m) if depth < 12 => json!([synth(m, singular(member), ctx, depth + 1)]),
            _ => json!([]),
        },
        ShapeKind::Map => {
            let (Some(k), Some(v)) = (shape.map_key(), shape.map_value()) else {
                return json!({});
            };
            let key = match synth(k, k.name(), ctx, depth + 1) {
                Value::String(s) => s,
                _ => "example".into(),
            };
            let mut obj = Map::new();
            if depth < 12 {
                obj.insert(key, synth(v, member, ctx, depth + 1));
            }
            Value::Object(obj)
        }
        ShapeKind::String => {
            if let Some(e) = shape.enum_values().and_then(|e| e.first()) {
                return json!(e);
            }
            let lower = member.to_ascii_lowercase();
            if (lower.ends_with("arn") || lower.ends_with("arns"))
                && let Some(a) = &ctx.arn
            {
                return json!(a);
            }
            json!("example")
        }
        ShapeKind::Integer => json!(shape.min().unwrap_or(1.0).max(1.0) as i64),
        ShapeKind::Float => json!(1.0),
        ShapeKind::Boolean => json!(true),
        ShapeKind::Timestamp => json!("2024-01-01T00:00:00Z"),
        ShapeKind::Blob => json!("ZXhhbXBsZQ=="),
        ShapeKind::Other => json!({}),
    }
}

fn singular(name: &str) -> &str {
    name.strip_suffix('s').unwrap_or(name)
}

struct Ctx<'a> {
    service: &'a str,
    arn: Option<String>,
}

/// How an action's resources came out of one operation's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
enum Outcome {
    #[default]
    Unknown,
    /// Scoped with a `*` inside an ARN: the id of a resource the call creates, or a
    /// generated id beside the resource's name.
    Created,
    /// Every ARN named from the parameters.
    Named,
}

#[derive(Default)]
struct Tally {
    /// IAM action → the best outcome over the operations that need it.
    actions: BTreeMap<String, Outcome>,
    pairs: usize,
    pairs_derived: usize,
    missed: BTreeSet<String>,
}

fn measure() -> Tally {
    let mut t = Tally::default();
    let mut seen = BTreeSet::new();
    for prefix in tollgate_models::prefixes() {
        for service in tollgate_models::prefix_services(prefix) {
            let Ok(model) = tollgate_models::load(service) else {
                continue;
            };
            for op_name in model.operation_names() {
                if !seen.insert((service.clone(), op_name.to_string())) {
                    continue;
                }
                let Ok(action) = Action::parse(&format!("{prefix}:{op_name}")) else {
                    continue;
                };
                let Some(actions) = catalog().iam_actions(&action) else {
                    continue;
                };
                let scoped: Vec<&ActionInfo> = actions
                    .iter()
                    .filter(|a| a.resource_types.iter().any(|(_, r)| *r))
                    .collect();
                if scoped.is_empty() {
                    continue;
                }
                let Some(op) = model.operation(op_name) else {
                    continue;
                };
                let ctx = Ctx {
                    service: model.service_name(),
                    arn: example_arn(&actions),
                };
                let params = match op.input() {
                    Some(s) => match synth(s, "", &ctx, 0) {
                        Value::Object(m) => m,
                        _ => Map::new(),
                    },
                    None => Map::new(),
                };
                let derived = derive_resources(&action, &actions, REGION, ACCOUNT, &params).ok();
                for a in scoped {
                    let outcome = derived
                        .as_ref()
                        .and_then(|d| d.per_action.iter().find(|r| r.action == a.name))
                        .map_or(Outcome::Unknown, |r| {
                            if !r.known || r.resources.iter().any(|x| x == "*") {
                                Outcome::Unknown
                            } else if r.resources.iter().any(|x| x.contains('*')) {
                                Outcome::Created
                            } else {
                                Outcome::Named
                            }
                        });
                    let ok = outcome != Outcome::Unknown;
                    t.pairs += 1;
                    if ok {
                        t.pairs_derived += 1;
                    } else {
                        let mut why = String::new();
                        if std::env::var("TOLLGATE_COVERAGE_EXPLAIN").is_ok_and(|p| p == a.service)
                        {
                            let svc = catalog().service(&a.service).unwrap();
                            let req: Vec<String> = a
                                .resource_types
                                .iter()
                                .filter(|(_, r)| *r)
                                .map(|(t, _)| svc.resources.get(t).cloned().unwrap_or_default())
                                .collect();
                            why = format!("  {req:?}  {}", Value::Object(params.clone()));
                        }
                        t.missed.insert(format!("{action} -> {}{why}", a.name));
                    }
                    let e = t.actions.entry(a.name.clone()).or_default();
                    *e = (*e).max(outcome);
                }
            }
        }
    }
    t
}

#[test]
fn resource_coverage() {
    let t = measure();
    let n = t.actions.len();
    let count = |o: Outcome| t.actions.values().filter(|x| **x == o).count();
    let (named, created) = (count(Outcome::Named), count(Outcome::Created));
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    println!(
        "resource coverage: {} of {n} IAM actions with required resource types ({:.1}%): \
         {named} named from parameters ({:.1}%), {created} scoped to the resource they create \
         ({:.1}%); {} of {} operation/action pairs ({:.1}%)",
        named + created,
        pct(named + created, n),
        pct(named, n),
        pct(created, n),
        t.pairs_derived,
        t.pairs,
        pct(t.pairs_derived, t.pairs)
    );
    if std::env::var_os("TOLLGATE_COVERAGE_MISSED").is_some() {
        for m in &t.missed {
            println!("missed: {m}");
        }
    }
    assert!(n > 5000, "{n} actions measured");
    // 42.2% when resources came from top-level members only.
    assert!(pct(named + created, n) >= 80.0, "coverage fell");
}
