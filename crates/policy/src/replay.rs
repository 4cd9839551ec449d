//! Deciding a recorded request again (`tollgate policy replay`): the same `PolicyInput` the
//! API built at decision time, from what the record kept: the call, the agent, the IAM
//! actions and resources derived then, and the decision context (account, time, caller
//! address, rate counts). Nothing is derived again from the catalog, so a replay shows what a
//! policy change does, not what a catalog change does.

use tollgate_core::plan::{Plan, has_references, with_stand_ins};
use tollgate_core::rate::RecentCounts;
use tollgate_core::replay::{Change, DecisionContext, Replayed, compare};
use tollgate_core::{Decision, Policy, PolicyInput, RequestRecord};

/// Why a record could not be decided again.
pub const NO_IAM_ACTIONS: &str = "recorded without its IAM actions";
pub const PLAN_WITHOUT_STEPS: &str = "plan record without steps";

/// What `policy` decides for the call `rec` records, on its recorded input; and whether that
/// input had its decision context.
fn decide(policy: &dyn Policy, rec: &RequestRecord) -> Result<(Decision, bool), &'static str> {
    if rec.iam_actions.is_empty() {
        return Err(NO_IAM_ACTIONS);
    }
    let context = rec
        .context
        .clone()
        .unwrap_or_else(|| DecisionContext::reconstructed(rec.created_at, &rec.resources));
    let zeros = RecentCounts::default();
    // A plan step with references was classified with a stand-in in their place.
    let params = if has_references(&rec.request.params) {
        let [a, _] = with_stand_ins(&rec.request.params);
        a
    } else {
        rec.request.params.clone()
    };
    let input = PolicyInput {
        principal: &rec.agent,
        action: &rec.request.action,
        iam_actions: &rec.iam_actions,
        region: &rec.request.region,
        account: &context.account,
        target: &rec.request.target,
        resources: &rec.resources,
        resources_known: context.resources_known,
        params: &params,
        reason: rec.request.reason.as_deref(),
        now_secs: context.time,
        source_ip: &context.source_ip,
        recent: context.recent.as_ref().unwrap_or(&zeros),
    };
    Ok((policy.decide(&input), rec.context.is_some()))
}

/// Decides `rec` again with `policy`: a request on its recorded input, a plan step by step
/// (each step as recorded) and combined as the API combines them.
pub fn replay(policy: &dyn Policy, rec: &RequestRecord) -> Result<Replayed, &'static str> {
    let Some(plan) = &rec.plan else {
        let (new, with_context) = decide(policy, rec)?;
        return Ok(Replayed {
            old: rec.decision.clone(),
            new,
            with_context,
            step: None,
        });
    };
    if plan.steps.is_empty() {
        return Err(PLAN_WITHOUT_STEPS);
    }
    let mut steps = plan.steps.clone();
    let mut with_context = true;
    let mut first_changed = None;
    for (i, step) in steps.iter_mut().enumerate() {
        let one = rec.step_record(i).ok_or(PLAN_WITHOUT_STEPS)?;
        let (new, had) = decide(policy, &one)?;
        with_context &= had;
        if first_changed.is_none() && compare(&step.decision, &new) != Change::Unchanged {
            first_changed = Some(i);
        }
        step.decision = new;
    }
    Ok(Replayed {
        old: rec.decision.clone(),
        new: Plan::of(steps).decision(),
        with_context,
        step: first_changed,
    })
}
