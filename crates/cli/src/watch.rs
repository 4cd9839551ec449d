//! `request --wait`: follows a request with the API's long-poll until it is final, showing a
//! live status line on a terminal and one plain line per change otherwise.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use serde_json::Value;
use tollgate_cli::client::{Answer, Client, ClientError, Status, is_final};

/// Longest single long-poll (the API holds at most 20 s).
const POLL_SECONDS: u64 = 20;
const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/// Network failures in a row tolerated while waiting.
const MAX_FAILURES: u32 = 3;

/// `submitted` is the submission's answer: the first status shown.
pub async fn until_final(
    client: &Client,
    id: &str,
    submitted: &Answer,
    limit: Duration,
) -> Result<Answer, ClientError> {
    let live = std::io::stderr().is_terminal();
    let start = Instant::now();
    let mut last = submitted.request_status().unwrap_or("").to_string();
    let mut line = describe(id, &submitted.body);
    if !live {
        errln!("{line}");
    }
    let mut failures = 0;
    let mut frame = 0usize;
    loop {
        // Rounded up: a wait of 0 in the last second would turn the long-poll into a tight loop.
        let remaining = (limit
            .saturating_sub(start.elapsed())
            .as_millis()
            .div_ceil(1000) as u64)
            .min(POLL_SECONDS);
        let poll = client.status(id, remaining);
        tokio::pin!(poll);
        let answer = if live {
            let mut tick = tokio::time::interval(Duration::from_millis(120));
            loop {
                tokio::select! {
                    a = &mut poll => break a,
                    _ = tick.tick() => {
                        frame += 1;
                        err!("\r\x1b[2K{} {line} {}s", SPINNER[frame % SPINNER.len()], start.elapsed().as_secs());
                        let _ = std::io::stderr().flush();
                    }
                }
            }
        } else {
            poll.await
        };
        let a = match answer {
            Ok(a) => {
                failures = 0;
                a
            }
            Err(e) if failures < MAX_FAILURES => {
                failures += 1;
                if !live {
                    errln!("{id}: {e}; retrying");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            Err(e) => {
                finish(live);
                return Err(e);
            }
        };
        // This caller holds its share of open long-polls (other `--wait`s, say): ask again
        // in a moment rather than give up on a request that is still waiting.
        if a.status == 429 && start.elapsed() < limit {
            tokio::time::sleep(Duration::from_secs(2)).await;
            continue;
        }
        let st = a.request_status().unwrap_or("").to_string();
        line = describe(id, &a.body);
        if st != last {
            if !live {
                errln!("{line}");
            }
            last = st.clone();
        }
        // A plan run by calls is followed until it is approved: then it waits for the calls.
        let parked = crate::output::parked(&a.body);
        if a.status != 200 || is_final(&st) || parked || start.elapsed() >= limit {
            finish(live);
            if live {
                errln!("{line}");
            }
            return Ok(a);
        }
    }
}

fn finish(live: bool) {
    if live {
        err!("\r\x1b[2K");
    }
}

/// `ID STATUS (approvals m/n)`.
fn describe(id: &str, body: &Value) -> String {
    let status = body["status"].as_str().unwrap_or("?");
    let required = body["approvals_required"].as_u64().unwrap_or(0);
    if Status::parse(status) == Some(Status::Pending) && required > 0 {
        let have = body["votes"]
            .as_array()
            .map(|v| v.iter().filter(|v| v["verdict"] == "approve").count())
            .unwrap_or(0);
        format!("{id}: {status}, {have}/{required} approvals")
    } else {
        format!("{id}: {status}")
    }
}

#[cfg(test)]
mod tests {
    use super::describe;
    use serde_json::json;

    #[test]
    fn progress_lines_count_approvals_while_pending() {
        let pending = json!({"status": "PENDING", "approvals_required": 2,
            "votes": [{"verdict": "approve"}]});
        assert_eq!(describe("R1", &pending), "R1: PENDING, 1/2 approvals");
        assert_eq!(
            describe("R1", &json!({"status": "PENDING", "approvals_required": 1})),
            "R1: PENDING, 0/1 approvals"
        );
        assert_eq!(
            describe("R1", &json!({"status": "SUCCEEDED"})),
            "R1: SUCCEEDED"
        );
    }
}
