//! `tollgate policy replay`: the command around `tollgate_cli::replay`.

use std::path::Path;

use tollgate_cli::replay::{CHANGES, candidate, replay_from, report_json, report_text};
use tollgate_cli::terminal::clean;
use tollgate_core::time::iso8601;

use crate::exit;
use crate::reconcile_cmd::parse_since;

pub struct ReplayArgs<'a> {
    pub since: &'a str,
    pub until: Option<&'a str>,
    pub policies: &'a Path,
    pub table: &'a str,
    pub endpoint_url: Option<&'a str>,
    pub region: &'a str,
    pub json: bool,
    pub examples: usize,
    /// Tollgate's account and own resources, as the API reads them
    /// (`TOLLGATE_ACCOUNT_ID`, `TOLLGATE_OWN_PREFIX`, `TOLLGATE_OWN_RESOURCES`).
    pub account_id: Option<&'a str>,
    pub own_prefix: Option<&'a str>,
    pub own_resources: &'a [String],
    pub now_ms: u64,
}

/// Where the period is: `[since, until)` in ms.
fn period(a: &ReplayArgs<'_>) -> Result<(u64, u64), String> {
    let bad = |flag: &str, v: &str| {
        format!(
            "{flag} `{}`: use a span back from now (24h, 90m, 7d) or a date (YYYY-MM-DD, ...THH:MM:SSZ, unix s)",
            clean(v)
        )
    };
    let since = parse_since(a.since, a.now_ms).ok_or_else(|| bad("--since", a.since))?;
    let until = match a.until {
        None => a.now_ms,
        Some(u) => parse_since(u, a.now_ms).ok_or_else(|| bad("--until", u))?,
    };
    if until <= since {
        return Err(format!(
            "--until ({}) must be after --since ({})",
            iso8601(until),
            iso8601(since)
        ));
    }
    Ok((since, until))
}

pub async fn replay_cmd(a: ReplayArgs<'_>) -> Result<u8, String> {
    let (since, until) = period(&a)?;
    let policy = candidate(a.policies, a.account_id, a.own_prefix, a.own_resources)?;
    let store = crate::audit_cmd::table(a.table, a.endpoint_url, a.region).await;
    let (report, timing) = replay_from(&store, &policy, since, until, a.examples).await?;
    if a.json {
        let body = report_json(&report, since, until, a.policies);
        outln!(
            "{}",
            serde_json::to_string_pretty(&body).unwrap_or_default()
        );
    } else {
        outln!("{}", report_text(&report, since, until));
    }
    errln!(
        "read and replayed in {:.2} s ({:.2} s deciding)",
        timing.total.as_secs_f64(),
        timing.deciding.as_secs_f64()
    );
    Ok(if report.totals.changed > 0 {
        CHANGES
    } else {
        exit::SUCCEEDED
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(since: &'static str, until: Option<&'static str>) -> ReplayArgs<'static> {
        ReplayArgs {
            since,
            until,
            policies: Path::new("."),
            table: "t",
            endpoint_url: None,
            region: "us-east-1",
            json: false,
            examples: 3,
            account_id: None,
            own_prefix: None,
            own_resources: &[],
            now_ms: 1_795_525_921_000,
        }
    }

    #[test]
    fn the_period_is_a_span_or_dates_and_must_not_be_empty() {
        assert_eq!(
            period(&args("7d", None)).unwrap(),
            (1_795_525_921_000 - 7 * 86_400_000, 1_795_525_921_000)
        );
        assert_eq!(
            period(&args("2026-11-20", Some("2026-11-21"))).unwrap(),
            (1_795_132_800_000, 1_795_219_200_000)
        );
        let e = period(&args("yesterday", None)).unwrap_err();
        assert!(e.starts_with("--since `yesterday`: use a span"), "{e}");
        let e = period(&args("1d", Some("2d"))).unwrap_err();
        assert!(e.starts_with("--until ("), "{e}");
    }
}
