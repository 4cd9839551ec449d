//! `tollgate audit`: show a request's trail, and verify trails straight from the table.

use aws_config::{BehaviorVersion, Region};
use tollgate_aws::ports::RecordStore;
use tollgate_aws::store::Store;
use tollgate_cli::client::Client;
use tollgate_core::time::iso8601;

use crate::exit;

/// Exit code when a trail is broken.
pub const BROKEN: u8 = 10;

/// Prints a request's audit events, one per line.
pub async fn show(client: &Client, id: &str) -> Result<u8, String> {
    let a = client.status(id, 0).await?;
    if a.status != 200 {
        outln!("{}", a.body);
        return Ok(exit::ERROR);
    }
    for e in a.body["events"].as_array().cloned().unwrap_or_default() {
        let who = e["actor"]["subject"].as_str().unwrap_or("tollgate");
        let detail = e["detail"].to_string();
        outln!(
            "{:>3}  {}  {:<18} {:<20} {}",
            e["seq"],
            e["at"].as_u64().map(iso8601).unwrap_or_default(),
            e["kind"].as_str().unwrap_or("?"),
            who,
            detail
        );
    }
    Ok(exit::SUCCEEDED)
}

pub struct VerifyArgs<'a> {
    pub ids: &'a [String],
    pub since: Option<&'a str>,
    pub table: &'a str,
    pub endpoint_url: Option<&'a str>,
    pub region: &'a str,
}

/// The AWS configuration of an operator's command: the usual credentials, `region`, and an
/// endpoint for an emulator.
pub(crate) async fn sdk(region: &str, endpoint_url: Option<&str>) -> aws_config::SdkConfig {
    let mut loader =
        aws_config::defaults(BehaviorVersion::latest()).region(Region::new(region.to_string()));
    if let Some(u) = endpoint_url {
        loader = loader.endpoint_url(u);
    }
    loader.load().await
}

/// The table, read with the operator's own credentials (not through the API).
pub(crate) async fn table(table: &str, endpoint_url: Option<&str>, region: &str) -> Store {
    let sdk = sdk(region, endpoint_url).await;
    Store::new(aws_sdk_dynamodb::Client::new(&sdk), table.to_string())
}

/// Recomputes every selected trail from the table itself (not through the API).
pub async fn verify(a: VerifyArgs<'_>) -> Result<u8, String> {
    let store = table(a.table, a.endpoint_url, a.region).await;
    let store: &dyn RecordStore = &store;
    let mut ids: Vec<String> = a.ids.to_vec();
    if let Some(since) = a.since {
        let ms = parse_date(since).ok_or_else(|| {
            format!("--since `{since}`: use YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ or unix seconds")
        })?;
        ids.extend(store.request_ids_since(ms).await.map_err(|e| e.message)?);
    }
    if ids.is_empty() {
        return Err("name request ids or --since".into());
    }
    let (mut ok, mut broken) = (0, 0);
    for id in &ids {
        match store
            .verify(id)
            .await
            .map_err(|e| format!("{id}: {}", e.message))?
        {
            Ok(n) => {
                ok += 1;
                outln!("ok      {id} ({n} events)");
            }
            Err(b) => {
                broken += 1;
                outln!("BROKEN  {id} at event {}: {}", b.seq, b.reason);
            }
        }
    }
    outln!("{ok} intact, {broken} broken");
    Ok(if broken > 0 { BROKEN } else { exit::SUCCEEDED })
}

pub struct BreakGlassArgs<'a> {
    pub since: &'a str,
    pub table: &'a str,
    pub endpoint_url: Option<&'a str>,
    pub region: &'a str,
    pub json: bool,
    pub now_ms: u64,
}

/// Every break-glass use since a time, newest first, from the table: the uses' own shards of
/// the status index (`BREAKGLASS#<n>`, ordered by the time of the use), read page by page down
/// to `since`, so the reads are bounded by the number of uses, never the table.
pub async fn breakglass(a: BreakGlassArgs<'_>) -> Result<u8, String> {
    use tollgate_aws::store::{Cursor, Listing};
    let since = crate::reconcile_cmd::parse_since(a.since, a.now_ms).ok_or_else(|| {
        format!(
            "--since `{}`: use a span (24h, 7d) or a date (YYYY-MM-DD)",
            a.since
        )
    })?;
    let store = table(a.table, a.endpoint_url, a.region).await;
    let store: &dyn RecordStore = &store;
    let mut uses = Vec::new();
    let mut after: Option<Cursor> = None;
    'pages: loop {
        let page = store
            .list(&Listing::BreakGlass, 100, after.as_ref())
            .await
            .map_err(|e| e.message)?;
        for rec in &page.requests {
            let Some(used) = &rec.breakglass else {
                continue;
            };
            if used.at < since {
                break 'pages;
            }
            uses.push(use_row(rec, used, a.now_ms));
        }
        match page.next {
            Some(c) => after = Some(c),
            None => break,
        }
    }
    if a.json {
        outln!(
            "{}",
            serde_json::to_string_pretty(&uses).unwrap_or_default()
        );
        return Ok(exit::SUCCEEDED);
    }
    for u in &uses {
        let clean = |k: &str| tollgate_cli::terminal::clean(u[k].as_str().unwrap_or(""));
        let ack = match (u["acknowledged_by"].as_str(), u["overdue"].as_bool()) {
            (Some(by), _) => format!(
                "acknowledged by {} at {}",
                tollgate_cli::terminal::clean(by),
                clean("acknowledged_at")
            ),
            (None, Some(true)) => {
                format!("OVERDUE: not acknowledged, due {}", clean("acknowledge_by"))
            }
            (None, _) => format!("not acknowledged yet, due {}", clean("acknowledge_by")),
        };
        outln!(
            "{}  {}  {}  {}  by {}  \"{}\"  {}",
            clean("at"),
            clean("request_id"),
            clean("agent"),
            clean("action"),
            clean("approver"),
            clean("justification"),
            ack
        );
    }
    outln!(
        "{} break-glass use{} since {}",
        uses.len(),
        if uses.len() == 1 { "" } else { "s" },
        iso8601(since)
    );
    Ok(exit::SUCCEEDED)
}

fn use_row(
    rec: &tollgate_core::RequestRecord,
    used: &tollgate_core::breakglass::BreakGlassUse,
    now_ms: u64,
) -> serde_json::Value {
    serde_json::json!({
        "request_id": rec.id,
        "status": rec.status,
        "agent": rec.agent.name,
        "agent_subject": rec.agent.subject,
        "action": rec.request.action.to_string(),
        "approver": used.approver.name,
        "approver_subject": used.approver.subject,
        "justification": used.justification,
        "at": iso8601(used.at),
        "acknowledge_by": iso8601(used.acknowledge_by),
        "acknowledged_by": used.acknowledged.as_ref().map(|k| k.by.name.clone()),
        "acknowledged_at": used.acknowledged.as_ref().map(|k| iso8601(k.at)),
        "overdue": used.overdue(now_ms),
        "overdue_alarmed": used.overdue_alarmed_at.is_some(),
    })
}

/// Milliseconds since the epoch of `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SSZ` or unix seconds.
pub fn parse_date(s: &str) -> Option<u64> {
    tollgate_core::time::parse_time(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2026-11-24"), Some(1_795_478_400_000));
        assert_eq!(parse_date("2026-11-24T13:12:01Z"), Some(1_795_525_921_000));
        assert_eq!(parse_date("1795525921"), Some(1_795_525_921_000));
        assert_eq!(parse_date("2026-13-01"), None);
        assert_eq!(parse_date("yesterday"), None);
        assert_eq!(iso8601(1_795_525_921_000), "2026-11-24T13:12:01Z");
    }
}
