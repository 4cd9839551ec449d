//! The whole classification of a submitted call, shared by the API, `tollgate policy check`
//! and the tests: operation → IAM actions → resources → decision.

use tollgate_catalog::{catalog, derive_resources};
use tollgate_core::plan::Scope;
use tollgate_core::rate::{CountedAction, RecentCounts, Usage};
use tollgate_core::replay::DecisionContext;
use tollgate_core::{
    Action, ApiError, Decision, ErrorCode, Identity, NewRequest, Policy, PolicyInput,
};

#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    pub iam_actions: Vec<String>,
    pub resources: Vec<String>,
    /// False when a required resource of an action could not be derived (`resources` then
    /// holds `*`); policies see it as `context.resourcesKnown`.
    pub resources_known: bool,
    /// Per IAM action, the ARNs it acts on (for the session policy's statements).
    pub action_resources: std::collections::BTreeMap<String, Vec<String>>,
    pub decision: Decision,
    /// What the shadow policies would have decided, when there are any (never enforced).
    pub shadow: Option<Decision>,
    /// What policy was shown besides the call, for the record (`tollgate policy replay`).
    pub context: DecisionContext,
}

/// Classifies `req` by `agent` against `policy`, for a target in `account`.
pub fn classify(
    policy: &dyn Policy,
    req: &NewRequest,
    agent: &Identity,
    account: &str,
    now_secs: u64,
    source_ip: &str,
) -> Result<Classified, ApiError> {
    let none = RecentCounts::default();
    classify_with_shadow(
        policy, None, req, agent, account, now_secs, source_ip, &none,
    )
}

/// What a request for `action` adds to its agent's rate counters: its IAM actions with their
/// service and access level. `None` for an operation the catalog does not know (classifying
/// it refuses it).
pub fn usage(action: &Action) -> Option<Usage> {
    let actions = catalog().iam_actions(action)?;
    Some(Usage {
        actions: actions
            .into_iter()
            .map(|a| CountedAction {
                service: a.service.clone(),
                level: a.level.as_str().to_string(),
                name: a.name,
            })
            .collect(),
    })
}

/// [`classify`], and what `shadow` decides on the very same input: the two differ only in
/// their policies, never in what they were shown. `recent` is the agent's rate counters with
/// this request counted (`context.recent`).
#[allow(clippy::too_many_arguments)]
pub fn classify_with_shadow(
    policy: &dyn Policy,
    shadow: Option<&dyn Policy>,
    req: &NewRequest,
    agent: &Identity,
    account: &str,
    now_secs: u64,
    source_ip: &str,
    recent: &RecentCounts,
) -> Result<Classified, ApiError> {
    let (scope, resources_known) = scope_of(req, account)?;
    let Scope {
        iam_actions,
        resources,
        action_resources,
    } = scope;
    let input = PolicyInput {
        principal: agent,
        action: &req.action,
        iam_actions: &iam_actions,
        region: &req.region,
        account,
        target: &req.target,
        resources: &resources,
        resources_known,
        params: &req.params,
        reason: req.reason.as_deref(),
        now_secs,
        source_ip,
        recent,
    };
    let decision = policy.decide(&input);
    let counted = policy.reads_recent_counts() || shadow.is_some_and(|s| s.reads_recent_counts());
    let shadow = shadow.map(|s| s.decide(&input));
    let context = DecisionContext {
        account: account.to_string(),
        time: now_secs,
        source_ip: source_ip.to_string(),
        resources_known,
        recent: counted
            .then(|| usage(&req.action).map(|u| recent.seen_by(&u)))
            .flatten(),
    };
    Ok(Classified {
        iam_actions,
        resources,
        resources_known,
        action_resources,
        decision,
        shadow,
        context,
    })
}

/// What `req` acts on in `account`: its IAM actions, the resources derived from its
/// parameters (and whether every required one could be), each action's own. The executor
/// derives a plan step's again with its references resolved, to hold it to what was approved.
pub fn scope_of(req: &NewRequest, account: &str) -> Result<(Scope, bool), ApiError> {
    let actions = catalog().iam_actions(&req.action).ok_or_else(|| {
        ApiError::new(
            ErrorCode::UnknownAction,
            format!(
                "action: `{}` is not an AWS API operation in the catalog",
                req.action
            ),
        )
        .with_detail(serde_json::json!({"field": "action"}))
    })?;
    let derived = derive_resources(&req.action, &actions, &req.region, account, &req.params)
        .map_err(|e| ApiError::field(e.field, e.message))?;
    Ok((
        Scope {
            iam_actions: actions.into_iter().map(|a| a.name).collect(),
            resources: derived.resources,
            action_resources: derived
                .per_action
                .into_iter()
                .map(|r| (r.action, r.resources))
                .collect(),
        },
        derived.known,
    ))
}
