//! `tollgate policy replay`: the requests recorded in a period, decided again by a candidate
//! policy set, and what would change. Reading is the store's (`created_between`), deciding
//! `tollgate_policy::replay`, comparing and grouping `tollgate_core::replay`; this wires them
//! and renders the report (the command and the bench share it).

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use tollgate_aws::ports::RequestLister;
use tollgate_core::own::OwnResources;
use tollgate_core::replay::Report;
use tollgate_core::time::iso8601;
use tollgate_policy::{CedarPolicy, sources_in_dir};

use crate::terminal::clean;

/// Exit code when some recorded request would be decided otherwise.
pub const CHANGES: u8 = 10;

/// The approval timeout replays load policies with. Timeouts are not compared, so it only
/// has to be valid.
const DEFAULT_TIMEOUT: u64 = 3600;

/// The candidate set, loaded as the API loads a `dir:` policy source.
pub fn candidate(
    dir: &Path,
    account_id: Option<&str>,
    own_prefix: Option<&str>,
    own_resources: &[String],
) -> Result<CedarPolicy, String> {
    if !dir.is_dir() {
        return Err(format!(
            "--policies `{}`: not a directory; name the policy bundle's directory",
            dir.display()
        ));
    }
    let own = OwnResources::new(account_id.unwrap_or(""), own_prefix, own_resources)
        .map_err(|e| format!("--own-prefix / --own-resources: {e}"))?;
    CedarPolicy::deployed(sources_in_dir(dir)?, DEFAULT_TIMEOUT, own)
}

/// How long a replay spent reading and deciding.
#[derive(Debug, Default, Clone, Copy)]
pub struct Timing {
    pub total: Duration,
    pub deciding: Duration,
}

/// Reads the period's records from `store` and decides each again with `policy`, one at a
/// time: the report is all that is kept.
pub async fn replay_from(
    store: &dyn RequestLister,
    policy: &CedarPolicy,
    since: u64,
    until: u64,
    examples: usize,
) -> Result<(Report, Timing), String> {
    let started = Instant::now();
    let mut deciding = Duration::ZERO;
    let mut report = Report::new(examples);
    store
        .created_between(since, until, &mut |read| {
            let t = Instant::now();
            match read {
                Ok(rec) => match tollgate_policy::replay::replay(policy, &rec) {
                    Ok(r) => report.add(&rec, &r),
                    Err(why) => report.skip(&rec.id, why),
                },
                Err(id) => report.skip(&id, "unreadable record"),
            }
            deciding += t.elapsed();
        })
        .await
        .map_err(|e| e.message)?;
    Ok((
        report.finish(),
        Timing {
            total: started.elapsed(),
            deciding,
        },
    ))
}

/// The report as `--json` prints it (schema in docs/cli.md).
pub fn report_json(report: &Report, since: u64, until: u64, policies: &Path) -> serde_json::Value {
    json!({
        "since": iso8601(since),
        "until": iso8601(until),
        "policies": policies.display().to_string(),
        "totals": report.totals,
        "changes": report.changes,
        "skipped": report.skipped,
    })
}

/// The report for a person.
pub fn report_text(report: &Report, since: u64, until: u64) -> String {
    let t = &report.totals;
    let mut out = vec![format!(
        "Replayed {} request(s) from {} to {}: {} unchanged, {} would change, {} skipped{}",
        t.replayed,
        iso8601(since),
        iso8601(until),
        t.unchanged,
        t.changed,
        t.skipped,
        if t.without_context > 0 {
            format!(" ({} replayed without recorded context)", t.without_context)
        } else {
            String::new()
        }
    )];
    let ids = |v: &[String]| match v.is_empty() {
        true => "no policy".to_string(),
        false => v.join(", "),
    };
    for g in &report.changes {
        out.push(String::new());
        out.push(format!(
            "{}  {}  ({} → {})",
            g.count, g.transition, g.from, g.to
        ));
        out.push(format!(
            "    policies: {} → {}",
            ids(&g.old_policy_ids),
            ids(&g.new_policy_ids)
        ));
        if g.old_requirements != g.new_requirements {
            out.push(format!(
                "    needs: {} → {}",
                g.old_requirements.join(" and "),
                g.new_requirements.join(" and ")
            ));
        }
        for e in &g.examples {
            let step = e.step.map(|i| format!(" step {i}")).unwrap_or_default();
            out.push(format!(
                "    {}{step}  {}  {}  {}  {}",
                e.request_id,
                iso8601(e.created_at),
                clean(&e.agent),
                e.action,
                clean(&e.resources.join(" "))
            ));
        }
    }
    for s in &report.skipped {
        out.push(String::new());
        out.push(format!("{} skipped: {}", s.count, s.reason));
        for id in &s.examples {
            out.push(format!("    {}", clean(id)));
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_candidate_must_be_a_directory_that_loads() {
        let e = candidate(Path::new("/nonexistent/policies"), None, None, &[])
            .err()
            .unwrap();
        assert!(e.contains("not a directory"), "{e}");
        let dir = std::env::temp_dir().join(format!("replay-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("p.cedar"),
            "@id(\"x\") @approval(\"99\") permit (principal, action, resource);",
        )
        .unwrap();
        let e = candidate(&dir, None, None, &[]).err().unwrap();
        assert!(
            e.starts_with("invalid policies:") && e.contains("@approval"),
            "{e}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
