//! `tollgate policy validate` and `tollgate policy check`: offline, against the same engine
//! and catalog the API uses.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use tollgate_core::claims::{ClaimMapping, identity_from_claims};
use tollgate_core::{Effect, parse_new_request};
use tollgate_policy::{CedarPolicy, PolicySource, bundled_sources, classify, validate};

use crate::exit;

/// Reads `.cedar` files from the given files and directories; none given: the bundled set.
pub fn read_sources(paths: &[PathBuf]) -> Result<Vec<PolicySource>, String> {
    if paths.is_empty() {
        return Ok(bundled_sources());
    }
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "cedar"))
                .collect();
            in_dir.sort();
            if in_dir.is_empty() {
                return Err(format!("{}: no .cedar files", p.display()));
            }
            files.extend(in_dir);
        } else {
            files.push(p.clone());
        }
    }
    files
        .iter()
        .map(|f| {
            std::fs::read_to_string(f)
                .map(|text| PolicySource::new(f.display().to_string(), text))
                .map_err(|e| format!("{}: {e}", f.display()))
        })
        .collect()
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
        None => Map::from_iter([("sub".to_string(), json!("policy-check"))]),
    };
    // Every claim but the registered ones is visible to policies as a tag, as if the
    // issuer's configuration selected it.
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
        .unwrap_or("policy-check");
    let identity = identity_from_claims(issuer, &claims, &mapping)
        .map_err(|e| format!("--claims: {}", e.message))?;
    let sources = read_sources(a.policies)?;
    let engine = CedarPolicy::new(&sources, 3600).map_err(|errs| {
        errs.iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let c = classify(&engine, &req, &identity, a.account, now, "").map_err(|e| e.message)?;
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
    Ok(match c.decision.effect {
        Effect::Allow => exit::SUCCEEDED,
        Effect::Approval { .. } => exit::PENDING,
        Effect::Deny => exit::DENIED,
    })
}
