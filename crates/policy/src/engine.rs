//! Evaluating requests: one Cedar request per (IAM action, resource) pair, the strictest
//! outcome over all of them.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, LazyLock, RwLock};

use cedar_policy::{
    ActionConstraint, Authorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId,
    EntityTypeName, EntityUid, PolicyId, PolicySet, Request, RestrictedExpression,
};
use tollgate_catalog::{ActionInfo, catalog};
use tollgate_core::breakglass::{self, BreakGlass};
use tollgate_core::grant::{DEFAULT_GRANT_USES, GrantBound, MAX_GRANT_SECONDS, MAX_GRANT_USES};
use tollgate_core::mask::MaskRules;
use tollgate_core::own::OwnResources;
use tollgate_core::rate::Tally;
use tollgate_core::{Decision, Effect, GroupRequirement, Policy, PolicyInput, Requirement};

use crate::sources::{PolicyError, PolicySource, parse, policy_position};

/// What a policy's annotations ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    approvals: u32,
    /// `@approvers("...")`: the groups the approvals come from, as one requirement each (one
    /// group, `a or b`) or several (`a and b`); empty without the annotation (any approver).
    approvers: Vec<GroupRequirement>,
    timeout: Option<u64>,
    reason: Option<String>,
    /// `@mask("A, B")`: more members to mask in the answers of calls this policy permits.
    mask: Vec<String>,
    /// `@unmask("A")`: members the policy's (single, named) agent may see unmasked.
    unmask: Vec<String>,
    /// `@ticket`, `@justification("n")`: what each approval's comment must carry;
    /// `@grant_max("seconds")`, `@grant_uses_max("n")`: what an approval may grant.
    requires: Requirement,
    /// `@breakglass("group")`, `@breakglass_justification("n")`: who may approve alone.
    breakglass: Option<BreakGlass>,
}

fn list(annotation: Option<&str>) -> Vec<String> {
    annotation
        .map(|a| {
            a.split(',')
                .map(|m| m.trim().to_string())
                .filter(|m| !m.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

pub struct CedarPolicy {
    set: PolicySet,
    /// Per IAM action, the policies whose scope can match it. Cedar evaluates every policy
    /// in the set it is given; most policies name other services or levels, so evaluating
    /// only these keeps a decision's cost independent of the size of the policy set.
    relevant: RwLock<HashMap<String, Arc<PolicySet>>>,
    rules: HashMap<PolicyId, Rule>,
    default_timeout: u64,
    authorizer: Authorizer,
    /// What `resource.tollgate` marks (none unless the deployment says).
    own: OwnResources,
    /// Whether a policy may read `context.recent` (requests are then counted first).
    reads_recent: bool,
}

const MAX_APPROVALS: u32 = 10;
const MAX_TIMEOUT: u64 = 7 * 24 * 3600;
/// Comments are capped at 2000 characters; a requirement must be satisfiable.
const MAX_JUSTIFICATION: u32 = 1000;

/// The schema's entity types, parsed once: parsing a type name costs more than the rest of
/// building an entity id.
static TYPES: LazyLock<[EntityTypeName; 3]> = LazyLock::new(|| {
    ["Agent", "Action", "Resource"]
        .map(|t| EntityTypeName::from_str(t).expect("static entity type names parse"))
});

fn uid(type_name: &str, id: &str) -> EntityUid {
    let t = match type_name {
        "Agent" => &TYPES[0],
        "Action" => &TYPES[1],
        _ => &TYPES[2],
    };
    EntityUid::from_type_name_and_id(t.clone(), EntityId::new(id))
}

fn rule_of(p: &cedar_policy::Policy) -> Result<Rule, String> {
    let approvals = match p.annotation("approval") {
        None => 0,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= MAX_APPROVALS)
            .ok_or_else(|| {
                format!("@approval(\"{v}\"): must be a whole number from 0 to {MAX_APPROVALS}")
            })?,
    };
    let timeout = match p.annotation("timeout") {
        None => None,
        Some(v) => Some(
            v.parse::<u64>()
                .ok()
                .filter(|n| (1..=MAX_TIMEOUT).contains(n))
                .ok_or_else(|| {
                    format!("@timeout(\"{v}\"): must be seconds from 1 to {MAX_TIMEOUT}")
                })?,
        ),
    };
    let approvers = match p.annotation("approvers") {
        None => vec![],
        Some(text) => approvers(text, approvals)?,
    };
    if p.effect() == cedar_policy::Effect::Forbid
        && (approvals > 0 || !approvers.is_empty() || timeout.is_some())
    {
        return Err("@approval, @approvers and @timeout only make sense on a permit".into());
    }
    if approvals == 0 && (!approvers.is_empty() || timeout.is_some()) {
        return Err("@approvers and @timeout need @approval(\"n\") with n > 0".into());
    }
    let requires = Requirement {
        ticket: p.annotation("ticket").is_some(),
        min_justification: match p.annotation("justification") {
            None => 0,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_JUSTIFICATION).contains(n))
                .ok_or_else(|| {
                    format!("@justification(\"{v}\"): must be a number of characters from 1 to {MAX_JUSTIFICATION}")
                })?,
        },
        grant: None,
    };
    if approvals == 0 && !requires.is_empty() {
        return Err("@ticket and @justification need @approval(\"n\") with n > 0".into());
    }
    let breakglass = breakglass_of(p, approvals)?;
    let requires = Requirement {
        grant: grant_bound(p, approvals)?,
        ..requires
    };
    let mask = list(p.annotation("mask"));
    let unmask = list(p.annotation("unmask"));
    if p.effect() == cedar_policy::Effect::Forbid && !(mask.is_empty() && unmask.is_empty()) {
        return Err("@mask and @unmask only make sense on a permit".into());
    }
    // Unmasking is a grant to one agent, never to whoever matches a condition.
    if !unmask.is_empty()
        && !matches!(
            p.principal_constraint(),
            cedar_policy::PrincipalConstraint::Eq(_)
        )
    {
        return Err(
            "@unmask needs a named agent: `principal == Agent::\"<issuer>#<subject>\"`".into(),
        );
    }
    Ok(Rule {
        approvals,
        approvers,
        timeout,
        reason: p.annotation("reason").map(str::to_string),
        mask,
        unmask,
        requires,
        breakglass,
    })
}

/// Longest group name `@breakglass` takes (tokens' group claims are short names).
const MAX_GROUP_NAME: usize = 128;

/// `@breakglass("oncall")` with `@breakglass_justification("n")` (default
/// [`breakglass::DEFAULT_JUSTIFICATION`], at least [`breakglass::MIN_JUSTIFICATION`]): only on
/// an approval permit, one group, named as tokens carry it.
fn breakglass_of(p: &cedar_policy::Policy, approvals: u32) -> Result<Option<BreakGlass>, String> {
    let min = p.annotation("breakglass_justification");
    let Some(group) = p.annotation("breakglass") else {
        return match min {
            None => Ok(None),
            Some(_) => Err("@breakglass_justification needs @breakglass(\"group\")".into()),
        };
    };
    if p.effect() == cedar_policy::Effect::Forbid || approvals == 0 {
        return Err(format!(
            "@breakglass(\"{group}\"): only an approval permit (`@approval(\"n\")` with n > 0) can be approved by break-glass"
        ));
    }
    let well_formed = !group.is_empty()
        && group.len() <= MAX_GROUP_NAME
        && !group
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '`');
    if !well_formed {
        return Err(format!(
            "@breakglass(\"{}\"): must name one group (no spaces, at most {MAX_GROUP_NAME} characters), like \"oncall\"",
            group.escape_debug()
        ));
    }
    let (lo, hi) = (breakglass::MIN_JUSTIFICATION, breakglass::MAX_JUSTIFICATION);
    let min_justification = match min {
        None => breakglass::DEFAULT_JUSTIFICATION,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (lo..=hi).contains(n))
            .ok_or_else(|| {
                format!("@breakglass_justification(\"{v}\"): must be a number of characters from {lo} to {hi}")
            })?,
    };
    Ok(Some(BreakGlass {
        groups: vec![group.to_string()],
        min_justification,
    }))
}

/// `@grant_max("1800")` (seconds, at most a day) and `@grant_uses_max("10")` (at most
/// [`MAX_GRANT_USES`], [`DEFAULT_GRANT_USES`] when left out): what an approver of a call this
/// policy holds may allow again without a new approval. Only on a permit that asks for
/// approval; `@grant_uses_max` only with `@grant_max`.
fn grant_bound(p: &cedar_policy::Policy, approvals: u32) -> Result<Option<GrantBound>, String> {
    let max = p.annotation("grant_max");
    let uses = p.annotation("grant_uses_max");
    let Some(seconds) = max else {
        return match uses {
            None => Ok(None),
            Some(_) => Err("@grant_uses_max needs @grant_max(\"seconds\")".into()),
        };
    };
    if approvals == 0 || p.effect() == cedar_policy::Effect::Forbid {
        return Err("@grant_max needs a permit with @approval(\"n\") with n > 0".into());
    }
    let max_seconds = seconds
        .parse::<u64>()
        .ok()
        .filter(|n| (60..=MAX_GRANT_SECONDS).contains(n))
        .ok_or_else(|| {
            format!("@grant_max(\"{seconds}\"): must be seconds from 60 to {MAX_GRANT_SECONDS}")
        })?;
    let max_uses = match uses {
        None => DEFAULT_GRANT_USES,
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_GRANT_USES).contains(n))
            .ok_or_else(|| {
                format!(
                    "@grant_uses_max(\"{v}\"): must be a whole number from 1 to {MAX_GRANT_USES}"
                )
            })?,
    };
    Ok(Some(GrantBound {
        max_seconds,
        max_uses,
    }))
}

/// Whether no grant may ever be given for `action`, whatever a policy says: a grant lets a
/// call run again unseen, and a call that changes who may do what (permissions management,
/// privilege escalation) is exactly the one whose second run an approver must see.
fn never_granted(action: &ActionInfo) -> bool {
    action.level == tollgate_catalog::AccessLevel::PermissionsManagement
        || action.risks.iter().any(|r| r == "privilege-escalation")
}

/// `@approvers("dba")`: n from `dba`; `"dba or security"`: n from members of either;
/// `"dba and security"`: n from each. Group names are compared exactly as tokens carry them.
fn approvers(text: &str, approvals: u32) -> Result<Vec<GroupRequirement>, String> {
    let shown = format!("@approvers(\"{text}\")");
    let words: Vec<&str> = text.split_whitespace().collect();
    let joins: Vec<&str> = words
        .iter()
        .skip(1)
        .step_by(2)
        .copied()
        .filter(|w| *w == "or" || *w == "and")
        .collect();
    let names: Vec<String> = words.iter().step_by(2).map(|w| w.to_string()).collect();
    let well_formed = !words.is_empty()
        && words.len() % 2 == 1
        && joins.len() == words.len() / 2
        && names.iter().all(|n| n != "or" && n != "and");
    if !well_formed {
        return Err(format!(
            "{shown}: must name a group, or groups joined by `or` (approvals from any of them) or `and` (approvals from each), like \"dba or security\""
        ));
    }
    if joins.contains(&"or") && joins.contains(&"and") {
        return Err(format!(
            "{shown}: use either `or` or `and`; for \"a and (b or c)\" write one policy per requirement (they all hold)"
        ));
    }
    Ok(if joins.contains(&"and") {
        names
            .into_iter()
            .map(|g| GroupRequirement::of(g, approvals))
            .collect()
    } else {
        vec![GroupRequirement::any_of(names, approvals)]
    })
}

fn weekday_hour(now_secs: u64) -> (i64, i64) {
    let days = now_secs / 86_400;
    // 1970-01-01 was a Thursday (3 when Monday is 0).
    (((days + 3) % 7) as i64, ((now_secs / 3600) % 24) as i64)
}

fn string(s: &str) -> RestrictedExpression {
    RestrictedExpression::new_string(s.to_string())
}

fn long(n: u64) -> RestrictedExpression {
    RestrictedExpression::new_long(i64::try_from(n).unwrap_or(i64::MAX))
}

/// One window of `context.recent`, as the (action, resource) pair being evaluated sees it:
/// the counts of its IAM action, service and access level.
fn window(t: &Tally, action: &ActionInfo) -> Result<RestrictedExpression, String> {
    RestrictedExpression::new_record([
        ("requests".to_string(), long(t.requests)),
        ("denials".to_string(), long(t.denials)),
        ("action".to_string(), long(t.action(&action.name))),
        ("service".to_string(), long(t.service(&action.service))),
        (
            "accessLevel".to_string(),
            long(t.level(action.level.as_str())),
        ),
    ])
    .map_err(|e| e.to_string())
}

fn string_set<'a>(items: impl IntoIterator<Item = &'a String>) -> RestrictedExpression {
    RestrictedExpression::new_set(items.into_iter().map(|s| string(s)))
}

/// The outcome for one (action, resource) pair.
enum Pair {
    Permitted(Vec<PolicyId>),
    Denied { ids: Vec<PolicyId>, reason: String },
}

impl CedarPolicy {
    /// Parses the policies and checks their annotations. `default_timeout` applies to
    /// approvals whose policy names no `@timeout`.
    pub fn new(sources: &[PolicySource], default_timeout: u64) -> Result<Self, Vec<PolicyError>> {
        let (set, origin) = parse(sources)?;
        let mut rules = HashMap::new();
        let mut errors = Vec::new();
        for p in set.policies() {
            match rule_of(p) {
                Ok(r) => {
                    rules.insert(p.id().clone(), r);
                }
                Err(message) => {
                    let src = origin.get(p.id()).map(|i| &sources[*i]);
                    let (line, column) = src
                        .map(|s| policy_position(&s.text, p.id().as_ref()))
                        .unwrap_or((0, 0));
                    errors.push(PolicyError {
                        file: src.map(|s| s.name.clone()).unwrap_or_default(),
                        line,
                        column,
                        message: format!("policy `{}`: {message}", p.id()),
                    });
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Textual, so it can only err towards counting: a policy that merely mentions the
        // word costs a write per request, one that reads the counters is never shown zeros.
        let reads_recent = set.policies().any(|p| p.to_string().contains("recent"));
        Ok(Self {
            reads_recent,
            set,
            relevant: RwLock::new(HashMap::new()),
            rules,
            default_timeout,
            authorizer: Authorizer::new(),
            own: OwnResources::default(),
        })
    }

    /// A policy set as a deployment loads it, from any source: with the forbid on Tollgate's
    /// own resources added unless it is there, every annotation checked, `own` marked. The
    /// API's cold start and `tollgate policy replay` both load through here, so a candidate
    /// set that replays is one the API would start with.
    pub fn deployed(
        sources: Vec<PolicySource>,
        default_timeout: u64,
        own: OwnResources,
    ) -> Result<Self, String> {
        let sources = crate::sources::with_protection(sources);
        Self::new(&sources, default_timeout)
            .map_err(|errors| {
                let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
                format!("invalid policies:\n{}", lines.join("\n"))
            })
            .map(|p| p.with_own_resources(own))
    }

    /// Marks `own` as Tollgate's resources for policy (`resource.tollgate`).
    pub fn with_own_resources(mut self, own: OwnResources) -> Self {
        self.own = own;
        self
    }

    pub fn policy_count(&self) -> usize {
        self.rules.len()
    }

    /// The policies whose action scope can match `action` (it, or a group it is in).
    fn relevant_to(
        &self,
        action: &ActionInfo,
        uids: &[EntityUid],
    ) -> Result<Arc<PolicySet>, String> {
        if let Some(s) = self
            .relevant
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&action.name)
        {
            return Ok(s.clone());
        }
        let matches = |p: &cedar_policy::Policy| match p.action_constraint() {
            ActionConstraint::Any => true,
            ActionConstraint::Eq(u) => uids.contains(&u),
            ActionConstraint::In(us) => us.iter().any(|u| uids.contains(u)),
        };
        let subset = PolicySet::from_policies(self.set.policies().filter(|p| matches(p)).cloned())
            .map_err(|e| e.to_string())?;
        let subset = Arc::new(subset);
        self.relevant
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(action.name.clone(), subset.clone());
        Ok(subset)
    }

    fn evaluate(
        &self,
        input: &PolicyInput<'_>,
        action: &ActionInfo,
        resource: &str,
    ) -> Result<Pair, String> {
        let id = input.principal;
        let principal = uid("Agent", &id.key());
        let tags = id.claims.iter().map(|(k, v)| {
            let text = v
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string());
            (k.clone(), string(&text))
        });
        let principal_entity = Entity::new_with_tags(
            principal.clone(),
            [
                ("issuer".to_string(), string(&id.issuer)),
                ("subject".to_string(), string(&id.subject)),
                ("name".to_string(), string(&id.name)),
                ("groups".to_string(), string_set(&id.groups)),
            ],
            [],
            tags,
        )
        .map_err(|e| e.to_string())?;

        let action_uid = uid("Action", &action.name);
        let mut parents = vec![
            uid("Action", action.level.as_str()),
            uid("Action", &format!("service:{}", action.service)),
        ];
        parents.extend(
            action
                .risks
                .iter()
                .map(|r| uid("Action", &format!("risk:{r}"))),
        );
        let mut scope = parents.clone();
        scope.push(action_uid.clone());
        let policies = self.relevant_to(action, &scope)?;
        let action_entity = Entity::new_no_attrs(action_uid.clone(), parents.into_iter().collect());

        let arn_parts: Vec<&str> = resource.split(':').collect();
        let field = |i: usize, fallback: &str| {
            arn_parts
                .get(i)
                .filter(|s| !s.is_empty())
                .map(|s| s.to_string())
                .unwrap_or_else(|| fallback.to_string())
        };
        // A call whose resources cannot be derived is Tollgate's when its parameters name
        // one of Tollgate's resources in Tollgate's account (a PartiQL statement on its table).
        let tollgate = if resource == "*" {
            input.account == self.own.account() && self.own.mentioned_in(input.params)
        } else {
            self.own.contains(resource)
        };
        let resource_uid = uid("Resource", resource);
        let resource_entity = Entity::new(
            resource_uid.clone(),
            HashMap::from([
                ("arn".to_string(), string(resource)),
                ("service".to_string(), string(&field(2, &action.service))),
                ("region".to_string(), string(&field(3, input.region))),
                ("account".to_string(), string(&field(4, input.account))),
                (
                    "tollgate".to_string(),
                    RestrictedExpression::new_bool(tollgate),
                ),
            ]),
            Default::default(),
        )
        .map_err(|e| e.to_string())?;

        let (weekday, hour) = weekday_hour(input.now_secs);
        let mut pairs = vec![
            ("operation".to_string(), string(&input.action.to_string())),
            ("service".to_string(), string(&action.service)),
            ("accessLevel".to_string(), string(action.level.as_str())),
            ("risks".to_string(), string_set(&action.risks)),
            ("region".to_string(), string(input.region)),
            ("target".to_string(), string(input.target)),
            ("reason".to_string(), string(input.reason.unwrap_or(""))),
            (
                "hasReason".to_string(),
                RestrictedExpression::new_bool(input.reason.is_some()),
            ),
            (
                "time".to_string(),
                RestrictedExpression::new_long(input.now_secs as i64),
            ),
            ("hour".to_string(), RestrictedExpression::new_long(hour)),
            (
                "weekday".to_string(),
                RestrictedExpression::new_long(weekday),
            ),
            ("sourceIp".to_string(), string(input.source_ip)),
            // False when a required resource could not be derived (the resource is then "*").
            (
                "resourcesKnown".to_string(),
                RestrictedExpression::new_bool(input.resources_known),
            ),
        ];
        // Only a set that reads the counters pays for building them into every context.
        if self.reads_recent {
            pairs.push((
                "recent".to_string(),
                RestrictedExpression::new_record([
                    ("hour".to_string(), window(&input.recent.hour, action)?),
                    ("day".to_string(), window(&input.recent.day, action)?),
                ])
                .map_err(|e| e.to_string())?,
            ));
        }
        let context = Context::from_pairs(pairs).map_err(|e| e.to_string())?;
        let entities =
            Entities::from_entities([principal_entity, action_entity, resource_entity], None)
                .map_err(|e| e.to_string())?;
        let request = Request::new(principal, action_uid, resource_uid, context, None)
            .map_err(|e| e.to_string())?;
        let response = self
            .authorizer
            .is_authorized(&request, &policies, &entities);
        // Fail closed: a policy that could not be evaluated might have been a forbid.
        let erred: Vec<PolicyId> = response
            .diagnostics()
            .errors()
            .map(|cedar_policy::AuthorizationError::PolicyEvaluationError(e)| e.policy_id().clone())
            .collect();
        if !erred.is_empty() {
            let names: Vec<String> = erred.iter().map(|p| p.to_string()).collect();
            return Ok(Pair::Denied {
                reason: format!(
                    "policy {} could not be evaluated for {}",
                    names.join(", "),
                    action.name
                ),
                ids: erred,
            });
        }
        let ids: Vec<PolicyId> = response.diagnostics().reason().cloned().collect();
        Ok(match response.decision() {
            CedarDecision::Allow => Pair::Permitted(ids),
            CedarDecision::Deny if ids.is_empty() => Pair::Denied {
                reason: format!("no policy permits {} on {resource}", action.name),
                ids,
            },
            CedarDecision::Deny => {
                let why = ids
                    .iter()
                    .filter_map(|i| self.rules.get(i).and_then(|r| r.reason.clone()))
                    .next()
                    .unwrap_or_else(|| "forbidden".into());
                Pair::Denied {
                    reason: format!("{} is forbidden: {why}", action.name),
                    ids,
                }
            }
        })
    }

    /// Masking rules from every permit that matched: every added mask applies; a member is
    /// shown unmasked only if a permit grants it and none asks to mask it.
    fn mask_rules(&self, permits: &[PolicyId]) -> MaskRules {
        let rules: Vec<&Rule> = permits.iter().filter_map(|i| self.rules.get(i)).collect();
        let mut mask: Vec<String> = rules.iter().flat_map(|r| r.mask.iter().cloned()).collect();
        mask.sort();
        mask.dedup();
        let mut unmask: Vec<String> = rules
            .iter()
            .flat_map(|r| r.unmask.iter().cloned())
            .filter(|u| !mask.iter().any(|m| m.eq_ignore_ascii_case(u)))
            .collect();
        unmask.sort();
        unmask.dedup();
        MaskRules { mask, unmask }
    }

    fn deny(policy_ids: Vec<String>, reason: String) -> Decision {
        Decision {
            effect: Effect::Deny,
            policy_ids,
            reason,
            mask: MaskRules::default(),
            requires: Requirement::default(),
            breakglass: None,
        }
    }
}

impl Policy for CedarPolicy {
    fn decide(&self, input: &PolicyInput<'_>) -> Decision {
        let c = catalog();
        let mut actions = Vec::with_capacity(input.iam_actions.len());
        for name in input.iam_actions {
            match c.action(name) {
                Some(a) => actions.push(a),
                None => return Self::deny(vec![], format!("{name} is not in the action catalog")),
            }
        }
        if actions.is_empty() {
            return Self::deny(vec![], format!("{} maps to no IAM action", input.action));
        }
        let star = ["*".to_string()];
        let resources: &[String] = if input.resources.is_empty() {
            &star
        } else {
            input.resources
        };
        let mut permits: Vec<PolicyId> = Vec::new();
        for action in &actions {
            for resource in resources {
                match self.evaluate(input, action, resource) {
                    Ok(Pair::Permitted(ids)) => permits.extend(ids),
                    Ok(Pair::Denied { ids, reason }) => {
                        return Self::deny(ids.iter().map(|i| i.to_string()).collect(), reason);
                    }
                    Err(e) => return Self::deny(vec![], format!("cannot evaluate policy: {e}")),
                }
            }
        }
        permits.sort_by_key(|a| a.to_string());
        permits.dedup();
        self.combine(input, &actions, &permits)
    }

    fn reads_recent_counts(&self) -> bool {
        self.reads_recent
    }
}

impl CedarPolicy {
    /// The decision from every matching permit. Without approval permits the call is
    /// allowed. Otherwise every approval permit's demand holds at once: its group requirement
    /// (all of them, see [`GroupRequirement::combine`]), its `@ticket`/`@justification`; the
    /// count is the largest, the timeout the shortest one named.
    fn combine(
        &self,
        input: &PolicyInput<'_>,
        actions: &[ActionInfo],
        permits: &[PolicyId],
    ) -> Decision {
        // The strictest permit names the reason: most approvals, then the shortest timeout.
        let strictest = permits
            .iter()
            .filter_map(|id| self.rules.get(id).map(|r| (id, r)))
            .max_by(|(ia, a), (ib, b)| {
                a.approvals
                    .cmp(&b.approvals)
                    .then_with(|| {
                        b.timeout
                            .unwrap_or(u64::MAX)
                            .cmp(&a.timeout.unwrap_or(u64::MAX))
                    })
                    .then_with(|| ib.to_string().cmp(&ia.to_string()))
            });
        let Some((id, rule)) = strictest else {
            return Self::deny(vec![], format!("no policy permits {}", input.action));
        };
        let why = rule
            .reason
            .clone()
            .unwrap_or_else(|| format!("policy {id}"));
        let levels: Vec<&str> = actions.iter().map(|a| a.level.as_str()).collect();
        let mask = self.mask_rules(permits);
        if rule.approvals == 0 {
            return Decision {
                effect: Effect::Allow,
                policy_ids: permits.iter().map(|i| i.to_string()).collect(),
                reason: format!("{} ({}): {why}", input.action, levels.join(", ")),
                mask,
                requires: Requirement::default(),
                breakglass: None,
            };
        }
        let deciding: Vec<(&PolicyId, &Rule)> = permits
            .iter()
            .filter_map(|i| self.rules.get(i).map(|r| (i, r)))
            .filter(|(_, r)| r.approvals > 0)
            .collect();
        let requirements =
            GroupRequirement::combine(deciding.iter().flat_map(
                |(_, r)| match r.approvers.is_empty() {
                    true => vec![GroupRequirement::anyone(r.approvals)],
                    false => r.approvers.clone(),
                },
            ));
        let mut requires = deciding
            .iter()
            .fold(Requirement::default(), |acc, (_, r)| acc.merge(&r.requires));
        // `merge` from the default would find no grant; the bound is every deciding policy's
        // (a policy without one allows none), and never for some actions.
        requires.grant = deciding
            .iter()
            .map(|(_, r)| r.requires.grant)
            .reduce(GrantBound::narrowest)
            .flatten()
            .filter(|_| !actions.iter().any(never_granted));
        let timeout = deciding
            .iter()
            .filter_map(|(_, r)| r.timeout)
            .min()
            .unwrap_or(self.default_timeout);
        let groups: Vec<String> = requirements
            .iter()
            .map(|r| r.describe(r.approvals))
            .collect();
        Decision {
            effect: Effect::Approval {
                approvals: rule.approvals,
                requirements,
                timeout_seconds: timeout,
            },
            policy_ids: deciding.iter().map(|(i, _)| i.to_string()).collect(),
            reason: format!(
                "{} ({}) needs {} approval{} ({}): {why}",
                input.action,
                levels.join(", "),
                rule.approvals,
                if rule.approvals == 1 { "" } else { "s" },
                groups.join(" and "),
            ),
            mask,
            requires,
            breakglass: BreakGlass::combine(deciding.iter().map(|(_, r)| r.breakglass.as_ref())),
        }
    }
}
