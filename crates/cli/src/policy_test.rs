//! `tollgate policy test <dir>`: the operator's decision table. Every `*decisions.toml` file in
//! the directory lists requests with what the policies beside them (the `.cedar` files there)
//! must decide; a case that decides otherwise is printed with what differs, and the command
//! exits non-zero, so a CI job keeps policies and the table in step.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use tollgate_core::rate::{CountedAction, RecentCounts, Tally, Usage};
use tollgate_core::{Decision, Effect, GroupRequirement, parse_new_request};
use tollgate_policy::{CedarPolicy, classify_with_shadow};

use crate::exit;
use crate::policy_cmd::{engine, identity_of, read_sources};

/// One decision-table file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Table {
    #[serde(default, rename = "case")]
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    /// The request body, as for `POST /v1/requests`.
    request: Value,
    /// The agent's token claims (default: just `sub`).
    #[serde(default)]
    claims: Option<Map<String, Value>>,
    #[serde(default = "default_account")]
    account: String,
    /// When the request is made, unix seconds (default: now), for rules on `context.hour`.
    #[serde(default)]
    time: Option<u64>,
    #[serde(default)]
    source_ip: String,
    /// The agent's rate counters as this request sees them (default: all 0).
    #[serde(default)]
    recent: Recent,
    expect: Expect,
}

/// `context.recent` for one case: per window, the counts the request sees for its own IAM
/// actions, service and access level.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Recent {
    #[serde(default)]
    hour: Window,
    #[serde(default)]
    day: Window,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Window {
    #[serde(default)]
    requests: u64,
    #[serde(default)]
    denials: u64,
    #[serde(default)]
    action: u64,
    #[serde(default)]
    service: u64,
    #[serde(default)]
    access_level: u64,
}

impl Window {
    fn tally(&self, usage: &Usage) -> Tally {
        let each = |n: u64, key: fn(&CountedAction) -> &str| -> BTreeMap<String, u64> {
            usage
                .actions
                .iter()
                .map(|a| (key(a).to_string(), n))
                .collect()
        };
        Tally {
            requests: self.requests,
            denials: self.denials,
            by_action: each(self.action, |a| &a.name),
            by_service: each(self.service, |a| &a.service),
            by_level: each(self.access_level, |a| &a.level),
        }
    }
}

fn default_account() -> String {
    "123456789012".into()
}

/// What must hold; what is left out is not checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    effect: ExpectedEffect,
    #[serde(default)]
    approvals: Option<u32>,
    /// The group requirements, in any order.
    #[serde(default)]
    requirements: Option<Vec<ExpectedRequirement>>,
    /// The deciding policies, in any order.
    #[serde(default)]
    policy_ids: Option<Vec<String>>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
enum ExpectedEffect {
    Allow,
    Approval,
    Deny,
}

/// A requirement as the table writes it: a misspelt key is an error, not "any approver".
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedRequirement {
    #[serde(default)]
    group: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    approvals: u32,
}

impl From<&ExpectedRequirement> for GroupRequirement {
    fn from(r: &ExpectedRequirement) -> Self {
        GroupRequirement::any_of(
            r.group.iter().cloned().chain(r.groups.iter().cloned()),
            r.approvals,
        )
    }
}

impl ExpectedEffect {
    /// As the table spells it.
    fn name(self) -> &'static str {
        match self {
            ExpectedEffect::Allow => "allow",
            ExpectedEffect::Approval => "approval",
            ExpectedEffect::Deny => "deny",
        }
    }
}

fn effect_of(d: &Decision) -> ExpectedEffect {
    match d.effect {
        Effect::Allow => ExpectedEffect::Allow,
        Effect::Approval { .. } => ExpectedEffect::Approval,
        Effect::Deny => ExpectedEffect::Deny,
    }
}

fn words(requirements: &[GroupRequirement]) -> String {
    if requirements.is_empty() {
        return "none".into();
    }
    requirements
        .iter()
        .map(|r| r.describe(r.approvals))
        .collect::<Vec<_>>()
        .join(" and ")
}

fn sorted<T: Ord + Clone>(items: &[T]) -> Vec<T> {
    let mut v = items.to_vec();
    v.sort();
    v
}

/// Each line is one field that differs: `what: expected X, got Y`.
fn differences(expect: &Expect, got: &Decision) -> Vec<String> {
    let mut out = Vec::new();
    let effect = effect_of(got);
    if expect.effect != effect {
        out.push(format!(
            "effect: expected {}, got {}",
            expect.effect.name(),
            effect.name()
        ));
    }
    if let Some(n) = expect.approvals
        && n != got.required_approvals()
    {
        out.push(format!(
            "approvals: expected {n}, got {}",
            got.required_approvals()
        ));
    }
    if let Some(want) = &expect.requirements {
        let want: Vec<GroupRequirement> = want.iter().map(GroupRequirement::from).collect();
        if sorted(&want) != sorted(got.requirements()) {
            out.push(format!(
                "requirements: expected {}, got {}",
                words(&sorted(&want)),
                words(got.requirements())
            ));
        }
    }
    if let Some(want) = &expect.policy_ids
        && sorted(want) != sorted(&got.policy_ids)
    {
        out.push(format!(
            "policy_ids: expected [{}], got [{}]",
            sorted(want).join(", "),
            sorted(&got.policy_ids).join(", ")
        ));
    }
    out
}

/// The decision of one case, or why it could not be made (a refused request is an answer
/// too: the table can only expect decisions, so it is reported as a failure).
fn decide(engine: &CedarPolicy, case: &Case, now: u64) -> Result<Decision, String> {
    let req = parse_new_request(case.request.to_string().as_bytes(), "us-east-1")
        .map_err(|e| format!("request: {}", e.message))?;
    let claims = case.claims.clone().unwrap_or_default();
    let identity = identity_of(claims).map_err(|e| format!("claims: {e}"))?;
    let usage = tollgate_policy::usage(&req.action).unwrap_or_default();
    let recent = RecentCounts {
        hour: case.recent.hour.tally(&usage),
        day: case.recent.day.tally(&usage),
    };
    classify_with_shadow(
        engine,
        None,
        &req,
        &identity,
        &case.account,
        case.time.unwrap_or(now),
        &case.source_ip,
        &recent,
    )
    .map(|c| c.decision)
    .map_err(|e| format!("request: {}", e.message))
}

fn tables(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| {
            f.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("decisions.toml"))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!(
            "{}: no decision table (a file named decisions.toml or <name>.decisions.toml)",
            dir.display()
        ));
    }
    Ok(files)
}

pub fn test_cmd(dir: &Path, now: u64) -> Result<u8, String> {
    if !dir.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    let engine = engine(&read_sources(&[dir.to_path_buf()])?)?;
    let (mut passed, mut failed) = (0, 0);
    for file in tables(dir)? {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let table: Table = toml::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        if table.cases.is_empty() {
            return Err(format!("{}: no [[case]] in the table", file.display()));
        }
        for (i, case) in table.cases.iter().enumerate() {
            let (problems, reason) = match decide(&engine, case, now) {
                Ok(d) => (differences(&case.expect, &d), Some(d.reason)),
                Err(e) => (vec![e], None),
            };
            if problems.is_empty() {
                passed += 1;
                outln!("ok    {}", case.name);
                continue;
            }
            failed += 1;
            outln!("FAIL  {}  ({}, case {})", case.name, file.display(), i + 1);
            for p in problems
                .iter()
                .chain(reason.map(|r| format!("decided: {r}")).iter())
            {
                outln!("      {p}");
            }
        }
    }
    outln!("{passed} passed, {failed} failed");
    Ok(if failed == 0 {
        exit::SUCCEEDED
    } else {
        exit::ERROR
    })
}
