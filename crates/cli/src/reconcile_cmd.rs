//! `tollgate audit reconcile`: the target roles' CloudTrail events against the requests in
//! the table (rules in `tollgate_core::reconcile`).

use std::collections::{BTreeMap, BTreeSet};

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::ProvideCredentials;
use serde_json::json;
use tollgate_aws::ports::RecordStore;
use tollgate_aws::s3::S3;
use tollgate_aws::store::Store;
use tollgate_aws::trail::{TrailLogs, TrailRead};
use tollgate_core::reconcile::{Expected, Finding, Report, RoleRef, Session, Window, reconcile};
use tollgate_core::time::iso8601;

use crate::exit;

/// Exit code when reconciliation finds an unexplained call or a missing event.
pub const FINDINGS: u8 = 11;

/// The longest a request waits for approval before it runs (the policies' `@timeout` bound):
/// requests created this long before the window can still execute in it.
const MAX_WAIT_MS: u64 = 7 * 24 * 3_600_000;

pub struct ReconcileArgs<'a> {
    pub since: &'a str,
    pub settle: &'a str,
    pub role_arns: &'a [String],
    pub trail_bucket: &'a str,
    pub trail_prefix: Option<&'a str>,
    pub organization_id: Option<&'a str>,
    pub trail_regions: &'a [String],
    pub table: &'a str,
    pub endpoint_url: Option<&'a str>,
    pub region: &'a str,
    pub json: bool,
    pub now_ms: u64,
}

/// A span (`24h`, `90m`, `7d`, `3600s`) in ms.
pub fn parse_span(s: &str) -> Option<u64> {
    let unit = match s.chars().last()? {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return None,
    };
    let n: u64 = s[..s.len() - 1].parse().ok()?;
    n.checked_mul(unit)
}

/// Where the window starts: a span back from now, or a date.
pub(crate) fn parse_since(s: &str, now_ms: u64) -> Option<u64> {
    match parse_span(s) {
        Some(span) => Some(now_ms.saturating_sub(span)),
        None => tollgate_core::time::parse_time(s),
    }
}

/// Text from CloudTrail (session names are chosen by whoever assumed the role) without the
/// control characters that would rewrite an operator's terminal.
pub(crate) fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

pub async fn reconcile_cmd(a: ReconcileArgs<'_>) -> Result<u8, String> {
    let since = parse_since(a.since, a.now_ms).ok_or_else(|| {
        format!(
            "--since `{}`: use a span (24h, 90m, 7d) or a date (YYYY-MM-DD, ...THH:MM:SSZ, unix s)",
            clean(a.since)
        )
    })?;
    let settle = parse_span(a.settle)
        .ok_or_else(|| format!("--settle `{}`: use a span (20m, 0s)", clean(a.settle)))?;
    if a.role_arns.is_empty() {
        return Err("--role-arn: name the target roles to reconcile (repeat the flag)".into());
    }
    let targets = a
        .role_arns
        .iter()
        .map(|arn| {
            RoleRef::from_arn(arn).ok_or_else(|| {
                format!(
                    "--role-arn `{}`: not a role ARN (arn:aws:iam::<account>:role/<name>)",
                    clean(arn)
                )
            })
        })
        .collect::<Result<BTreeSet<RoleRef>, String>>()?;
    let window = Window {
        since,
        until: a.now_ms,
        settled_before: a.now_ms.saturating_sub(settle),
    };

    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(a.region.to_string()));
    if let Some(u) = a.endpoint_url {
        loader = loader.endpoint_url(u);
    }
    let sdk = loader.load().await;
    let creds = sdk
        .credentials_provider()
        .ok_or("no AWS credentials: set them as for the AWS CLI")?
        .provide_credentials()
        .await
        .map_err(|e| format!("AWS credentials: {e}"))?;
    let trail = TrailLogs::new(
        S3::new(a.region, a.endpoint_url),
        creds,
        a.trail_bucket,
        a.trail_prefix,
        a.organization_id,
    );
    let mut read = TrailRead::default();
    let accounts: BTreeSet<&str> = targets.iter().map(|t| t.account.as_str()).collect();
    for account in &accounts {
        let regions = if a.trail_regions.is_empty() {
            trail.regions(account).await?
        } else {
            a.trail_regions.to_vec()
        };
        for region in &regions {
            trail
                .read(account, region, window.since, window.until, &mut read)
                .await?;
        }
    }

    let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), a.table.to_string());
    let store: &dyn RecordStore = &store;
    // The requests the sessions name, and every request that may have run in the window.
    let mut ids: BTreeSet<String> = read
        .calls
        .iter()
        .filter(|c| c.role.as_ref().is_some_and(|r| targets.contains(r)))
        .filter_map(|c| Session::parse(c.session_name.as_deref()?))
        .map(|s| s.request_id().to_string())
        .collect();
    ids.extend(
        store
            .request_ids_since(since.saturating_sub(MAX_WAIT_MS))
            .await
            .map_err(|e| e.message)?,
    );
    let account = accounts.first().copied().unwrap_or_default();
    let mut requests = BTreeMap::new();
    for id in &ids {
        let Some(rec) = store.get(id).await.map_err(|e| e.message)? else {
            continue;
        };
        let events = store.events(id).await.map_err(|e| e.message)?;
        let reads: Vec<String> =
            tollgate_catalog::preview::plan(&rec.request, &rec.resources, account)
                .iter()
                .map(|r| r.action.to_string())
                .collect();
        requests.insert(id.clone(), Expected::of(&rec, &events, &reads));
    }
    let report = reconcile(&read.calls, &targets, &requests, window);
    if a.json {
        outln!(
            "{}",
            json!({
                "since": iso8601(window.since),
                "until": iso8601(window.until),
                "settled_before": iso8601(window.settled_before),
                "files": read.files,
                "records": read.calls.len(),
                "report": report,
            })
        );
    } else {
        print_report(&report, &read, window);
    }
    Ok(if report.findings.is_empty() {
        exit::SUCCEEDED
    } else {
        FINDINGS
    })
}

fn print_report(r: &Report, read: &TrailRead, w: Window) {
    for f in &r.findings {
        match f {
            Finding::Unexplained { reason, call, .. } => outln!(
                "UNEXPLAINED  {}  {}  role {}  session {}  source identity {}  event {}: {}",
                iso8601(call.at),
                clean(&call.action),
                call.role
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default(),
                clean(call.session_name.as_deref().unwrap_or("-")),
                clean(call.source_identity.as_deref().unwrap_or("-")),
                clean(&call.event_id),
                clean(reason)
            ),
            Finding::Missing {
                request_id,
                action,
                executed_at,
                status,
            } => outln!(
                "MISSING      {}  {action}  request {request_id} ({status}): no CloudTrail event",
                iso8601(*executed_at)
            ),
        }
    }
    for i in &r.interrupted {
        outln!(
            "INTERRUPTED  request {}: {}",
            i.request_id,
            if i.ran {
                "CloudTrail holds its call: it ran"
            } else {
                "no CloudTrail event: it did not reach AWS (or the trail is late)"
            }
        );
    }
    outln!(
        "{} to {}: {} files, {} records; {} explained, {} ignored, {} executions checked; {} findings",
        iso8601(w.since),
        iso8601(w.until),
        read.files,
        read.calls.len(),
        r.explained,
        r.ignored,
        r.executions_checked,
        r.findings.len()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_dates() {
        assert_eq!(parse_span("24h"), Some(86_400_000));
        assert_eq!(parse_span("90m"), Some(5_400_000));
        assert_eq!(parse_span("0s"), Some(0));
        assert_eq!(parse_span("7d"), Some(604_800_000));
        for bad in ["", "h", "1x", "-1h", "1.5h", "99999999999999999999d"] {
            assert_eq!(parse_span(bad), None, "{bad}");
        }
        assert_eq!(parse_since("1h", 10_000_000), Some(6_400_000));
        assert_eq!(parse_since("2026-11-24", 0), Some(1_795_478_400_000));
        assert_eq!(parse_since("yesterday", 0), None);
        assert_eq!(clean("a\u{1b}[2Jb"), "a?[2Jb");
    }
}
