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

/// Recomputes every selected trail from the table itself (not through the API).
pub async fn verify(a: VerifyArgs<'_>) -> Result<u8, String> {
    let sdk = sdk(a.region, a.endpoint_url).await;
    let store = Store::new(aws_sdk_dynamodb::Client::new(&sdk), a.table.to_string());
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
