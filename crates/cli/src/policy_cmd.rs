//! `tollgate policy validate` and `tollgate policy check`: offline, against the same engine
//! and catalog the API uses.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use tollgate_core::claims::{ClaimMapping, identity_from_claims};
use tollgate_core::{Effect, Identity, parse_new_request};
use tollgate_policy::{
    CedarPolicy, PolicySource, bundled_sources, classify, source_file, sources_in_dir, validate,
};

use crate::exit;

/// Reads `.cedar` files from the given files and directories; none given: the bundled set.
pub fn read_sources(paths: &[PathBuf]) -> Result<Vec<PolicySource>, String> {
    if paths.is_empty() {
        return Ok(bundled_sources());
    }
    let mut sources = Vec::new();
    for p in paths {
        if p.is_dir() {
            sources.extend(sources_in_dir(p)?);
        } else {
            sources.push(source_file(p)?);
        }
    }
    Ok(sources)
}

pub fn validate_cmd(paths: &[PathBuf]) -> Result<u8, String> {
    let sources = read_sources(paths)?;
    let engine = CedarPolicy::new(&sources, 3600).map(|_| ());
    match (validate(&sources), engine) {
        (Ok(n), Ok(())) => {
            outln!("ok: {n} policies in {} file(s) are valid", sources.len());
            Ok(exit::SUCCEEDED)
        }
        (v, e) => {
            let mut errors = v.err().unwrap_or_default();
            for err in e.err().unwrap_or_default() {
                if !errors.contains(&err) {
                    errors.push(err);
                }
            }
            for err in &errors {
                errln!("{err}");
            }
            errln!("{} error(s)", errors.len());
            Ok(exit::ERROR)
        }
    }
}

fn read_json(path: &Path, what: &str) -> Result<Value, String> {
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("{what} {}: {e}", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{what} {}: not valid JSON: {e}", path.display()))
}

/// The agent a set of token claims makes (just `sub: policy-check` when empty). Every claim
/// but the registered ones is visible to policies as a tag, as if the issuer's configuration
/// selected it.
pub(crate) fn identity_of(mut claims: Map<String, Value>) -> Result<Identity, String> {
    if claims.is_empty() {
        claims.insert("sub".into(), json!("policy-check"));
    }
    let registered = ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"];
    let mapping = ClaimMapping {
        policy_claims: claims
            .keys()
            .filter(|k| !registered.contains(&k.as_str()))
            .cloned()
            .collect(),
        ..Default::default()
    };
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or("policy-check")
        .to_string();
    identity_from_claims(&issuer, &claims, &mapping).map_err(|e| e.message)
}

/// The engine over `sources`, or every problem in them, one a line.
pub(crate) fn engine(sources: &[PolicySource]) -> Result<CedarPolicy, String> {
    CedarPolicy::new(sources, 3600).map_err(|errs| {
        errs.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })
}

pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub struct CheckArgs<'a> {
    pub request: &'a Path,
    pub claims: Option<&'a Path>,
    pub policies: &'a [PathBuf],
    pub account: &'a str,
    pub region: &'a str,
}

pub fn check_cmd(a: CheckArgs<'_>) -> Result<u8, String> {
    let body = read_json(a.request, "--request")?;
    let req = parse_new_request(body.to_string().as_bytes(), a.region)
        .map_err(|e| format!("--request: {}", e.message))?;
    let claims: Map<String, Value> = match a.claims {
        Some(p) => match read_json(p, "--claims")? {
            Value::Object(m) => m,
            _ => return Err("--claims: must be a JSON object of token claims".into()),
        },
        None => Map::new(),
    };
    let identity = identity_of(claims).map_err(|e| format!("--claims: {e}"))?;
    let engine = engine(&read_sources(a.policies)?)?;
    let c = classify(&engine, &req, &identity, a.account, now_secs(), "").map_err(|e| e.message)?;
    let out = json!({
        "action": req.action.to_string(),
        "iam_actions": c.iam_actions,
        "resources": c.resources,
        "resources_known": c.resources_known,
        "decision": c.decision,
        "principal": identity,
    });
    outln!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    errln!("{}", c.decision.reason);
    // Every requirement holds at once; one approver counts toward each group they are in.
    for r in c.decision.requirements() {
        errln!("  needs {}", r.describe(r.approvals));
    }
    match &c.decision.breakglass {
        Some(g) => errln!("  or break-glass: {}", g.describe()),
        None if !c.decision.requirements().is_empty() => {
            errln!("  no break-glass (not every approval policy names a @breakglass group)")
        }
        None => {}
    }
    Ok(match c.decision.effect {
        Effect::Allow => exit::SUCCEEDED,
        Effect::Approval { .. } => exit::PENDING,
        Effect::Deny => exit::DENIED,
    })
}
