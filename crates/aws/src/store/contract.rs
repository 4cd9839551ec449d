//! What every record store must do, as one suite run against each: the DynamoDB store
//! against moto (`tests/store_contract.rs`) and the in-memory store in process
//! (`crates/aws/tests/memory_store.rs`). A store that passes here may stand in for the
//! other in handler tests.

use serde_json::json;
use tollgate_core::{
    ApiError, Decision, Effect, ErrorCode, EventKind, GroupRequirement, Identity, RequestRecord,
    Status, parse_new_request,
};

use super::{
    Created, Cursor, IDEMPOTENCY_WINDOW_SECONDS, IdempotencyClaim, Listing, SessionRecord,
};
use crate::ports::{CommitError, RecordStore};

/// Runs every case against `store`, which must be empty. `tag` makes ids unique per run.
pub async fn run(store: &dyn RecordStore, tag: &str) {
    creates_and_reads_back(store, tag).await;
    refuses_a_second_create_with_the_same_id(store, tag).await;
    idempotency_claims_return_the_first_request(store, tag).await;
    an_expired_claim_is_free(store, tag).await;
    commits_only_on_the_version_read(store, tag).await;
    commits_a_handed_record_only_over_its_document(store, tag).await;
    never_overwrites_an_event(store, tag).await;
    racing_updates_all_land_once(store, tag).await;
    updating_a_missing_request_is_not_found(store, tag).await;
    lists_newest_first_by_agent_and_status(store, tag).await;
    lists_a_status_whole_across_pages(store, tag).await;
    reads_a_period_whatever_the_status(store, tag).await;
    keeps_sessions_until_they_expire(store, tag).await;
    caps_wait_leases_and_frees_them(store, tag).await;
    counts_each_request_once_with_distinct_counts(store, tag).await;
    grants_are_used_at_most_their_uses_even_at_once(store, tag).await;
    grants_end_by_time_and_by_revocation_and_notice_once(store, tag).await;
    parked_plans_are_found_by_their_agent_until_they_end(store, tag).await;
}

fn agent(sub: &str) -> Identity {
    Identity {
        issuer: "https://issuer.test".into(),
        subject: sub.into(),
        name: sub.into(),
        ..Default::default()
    }
}

/// A pending request needing one approval, created at `at` (ms).
pub fn pending(
    id: &str,
    agent_sub: &str,
    table: &str,
    at: u64,
) -> (RequestRecord, Vec<tollgate_core::Event>) {
    let body = json!({"action": "dynamodb:DeleteTable", "params": {"TableName": table}, "reason": "contract"});
    let req = parse_new_request(body.to_string().as_bytes(), "us-east-1").expect("request parses");
    let decision = Decision {
        effect: Effect::Approval {
            approvals: 1,
            requirements: vec![GroupRequirement::anyone(1)],
            timeout_seconds: 60,
        },
        policy_ids: vec!["contract".into()],
        reason: "contract".into(),
        mask: Default::default(),
        requires: Default::default(),
        breakglass: None,
    };
    RequestRecord::new(
        id.into(),
        req,
        agent(agent_sub),
        decision,
        vec![],
        vec![],
        at,
    )
}

fn noted(rec: &mut RequestRecord, at: u64) -> tollgate_core::Event {
    rec.push_event(
        EventKind::Notified,
        None,
        json!({"channel": "contract"}),
        at,
    )
}

fn code(r: Result<impl std::fmt::Debug, ApiError>) -> ErrorCode {
    r.expect_err("must fail").code
}

const T0: u64 = 1_700_000_000_000;

async fn creates_and_reads_back(store: &dyn RecordStore, tag: &str) {
    let id = format!("{tag}A1");
    let (mut rec, events) = pending(&id, "a", "t", T0);
    rec.task_token = Some("token".into());
    rec.sealed_result = Some("sealed".into());
    assert_eq!(
        store.create(&rec, &events, None).await.unwrap(),
        Created::New
    );
    let got = store.get(&id).await.unwrap().expect("stored");
    assert_eq!(got.seq, rec.seq);
    assert_eq!(got.last_hash, rec.last_hash);
    assert_eq!(got.status, Status::Pending);
    assert_eq!(
        got.task_token.as_deref(),
        Some("token"),
        "task token kept beside"
    );
    assert_eq!(got.sealed_result.as_deref(), Some("sealed"));
    let stored = store.events(&id).await.unwrap();
    assert_eq!(stored.len(), events.len());
    assert_eq!(stored[1].hash, events[1].hash);
    assert_eq!(store.verify(&id).await.unwrap().unwrap(), events.len());
    assert!(store.get(&format!("{tag}none")).await.unwrap().is_none());
    assert!(
        store
            .events(&format!("{tag}none"))
            .await
            .unwrap()
            .is_empty()
    );
}

async fn refuses_a_second_create_with_the_same_id(store: &dyn RecordStore, tag: &str) {
    let id = format!("{tag}B1");
    let (rec, events) = pending(&id, "a", "first", T0);
    store.create(&rec, &events, None).await.unwrap();
    let (other, other_events) = pending(&id, "a", "second", T0);
    let e = store.create(&other, &other_events, None).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict);
    assert_eq!(e.message, "request id collision; retry");
    let kept = store.get(&id).await.unwrap().unwrap();
    assert_eq!(
        kept.request_hash, rec.request_hash,
        "the first request stands"
    );
}

async fn idempotency_claims_return_the_first_request(store: &dyn RecordStore, tag: &str) {
    let claim = |rec: &RequestRecord| IdempotencyClaim {
        key_hash: format!("{tag}key"),
        request_hash: rec.request_hash.clone(),
    };
    let (first, events) = pending(&format!("{tag}C1"), "a", "t", T0);
    assert_eq!(
        store
            .create(&first, &events, Some(&claim(&first)))
            .await
            .unwrap(),
        Created::New
    );
    let (second, events) = pending(&format!("{tag}C2"), "a", "other", T0 + 1000);
    assert_eq!(
        store
            .create(&second, &events, Some(&claim(&second)))
            .await
            .unwrap(),
        Created::Existing {
            request_id: first.id.clone(),
            request_hash: first.request_hash.clone(),
        }
    );
    assert!(
        store.get(&second.id).await.unwrap().is_none(),
        "nothing of the refused create is written"
    );
    assert!(store.events(&second.id).await.unwrap().is_empty());
}

async fn an_expired_claim_is_free(store: &dyn RecordStore, tag: &str) {
    let claim = |rec: &RequestRecord| IdempotencyClaim {
        key_hash: format!("{tag}old"),
        request_hash: rec.request_hash.clone(),
    };
    let (first, events) = pending(&format!("{tag}D1"), "a", "t", T0);
    store
        .create(&first, &events, Some(&claim(&first)))
        .await
        .unwrap();
    let later = T0 + (IDEMPOTENCY_WINDOW_SECONDS + 2) * 1000;
    let (second, events) = pending(&format!("{tag}D2"), "a", "t", later);
    assert_eq!(
        store
            .create(&second, &events, Some(&claim(&second)))
            .await
            .unwrap(),
        Created::New,
        "a claim past its window is taken over"
    );
    let (third, events) = pending(&format!("{tag}D3"), "a", "t", later + 1000);
    assert!(matches!(
        store.create(&third, &events, Some(&claim(&third))).await.unwrap(),
        Created::Existing { request_id, .. } if request_id == second.id
    ));
}

async fn commits_only_on_the_version_read(store: &dyn RecordStore, tag: &str) {
    let id = format!("{tag}E1");
    let (rec, events) = pending(&id, "a", "t", T0);
    store.create(&rec, &events, None).await.unwrap();
    let read = rec.seq;
    let mut winner = rec.clone();
    let ev = noted(&mut winner, T0 + 1);
    winner.task_token = Some("won".into());
    store.commit(&winner, read, None, &[ev]).await.unwrap();
    // A writer that read the same version, after the winner wrote.
    let mut loser = rec.clone();
    let mut ev = noted(&mut loser, T0 + 2);
    ev.seq = winner.seq + 1; // even with a fresh event seq, the version decides
    loser.seq = ev.seq;
    assert!(matches!(
        store.commit(&loser, read, None, &[ev]).await,
        Err(CommitError::Lost)
    ));
    let got = store.get(&id).await.unwrap().unwrap();
    assert_eq!(got.seq, winner.seq);
    assert_eq!(got.task_token.as_deref(), Some("won"));
    assert_eq!(store.events(&id).await.unwrap().len() as u64, winner.seq);
    // A commit against a request that does not exist never creates it.
    let (ghost, _) = pending(&format!("{tag}E2"), "a", "t", T0);
    assert!(matches!(
        store.commit(&ghost, ghost.seq, None, &[]).await,
        Err(CommitError::Lost)
    ));
    assert!(store.get(&ghost.id).await.unwrap().is_none());
}

/// A handed record ([`tollgate_core::Handover`]) is written only over exactly the document
/// it was handed as: one the table never held, or held at another version, loses.
async fn commits_a_handed_record_only_over_its_document(store: &dyn RecordStore, tag: &str) {
    let id = format!("{tag}HANDED");
    let (rec, events) = pending(&id, "a", "t", T0);
    store.create(&rec, &events, None).await.unwrap();
    let doc = crate::store::document(&rec).unwrap();
    let mut forged = rec.clone();
    forged.request.reason = Some("not what was written".into());
    let forged_doc = crate::store::document(&forged).unwrap();
    let ev = noted(&mut forged, T0 + 1);
    assert!(matches!(
        store
            .commit(&forged, rec.seq, Some(&forged_doc), &[ev])
            .await,
        Err(CommitError::Lost)
    ));
    let mut next = rec.clone();
    let ev = noted(&mut next, T0 + 1);
    store
        .commit(&next, rec.seq, Some(&doc), std::slice::from_ref(&ev))
        .await
        .unwrap();
    // The same handover again (a duplicated invocation): the document moved on.
    let mut again = rec.clone();
    let mut ev = noted(&mut again, T0 + 2);
    ev.seq = next.seq + 1;
    again.seq = ev.seq;
    assert!(matches!(
        store.commit(&again, rec.seq, Some(&doc), &[ev]).await,
        Err(CommitError::Lost)
    ));
    let got = store.get(&id).await.unwrap().unwrap();
    assert_eq!(got.seq, next.seq);
    assert_eq!(got.request.reason, rec.request.reason);
}

async fn never_overwrites_an_event(store: &dyn RecordStore, tag: &str) {
    let id = format!("{tag}F1");
    let (rec, events) = pending(&id, "a", "t", T0);
    store.create(&rec, &events, None).await.unwrap();
    // The version matches, but the event's sequence number is taken: refused whole.
    let mut forged = rec.clone();
    let mut ev = noted(&mut forged, T0 + 1);
    ev.seq = 1;
    assert!(matches!(
        store.commit(&forged, rec.seq, None, &[ev]).await,
        Err(CommitError::Lost)
    ));
    let got = store.get(&id).await.unwrap().unwrap();
    assert_eq!(got.seq, rec.seq, "the request is not written either");
    assert_eq!(store.events(&id).await.unwrap()[0].hash, events[0].hash);
}

async fn racing_updates_all_land_once(store: &dyn RecordStore, tag: &str) {
    let id = format!("{tag}G1");
    let (rec, events) = pending(&id, "a", "t", T0);
    store.create(&rec, &events, None).await.unwrap();
    let writers = (0..8).map(|i| {
        let id = id.clone();
        async move {
            store
                .update(&id, |r| Ok((i, vec![noted(r, T0 + 10 + i)])))
                .await
                .unwrap()
        }
    });
    let done = futures::future::join_all(writers).await;
    assert_eq!(done.len(), 8);
    let got = store.get(&id).await.unwrap().unwrap();
    assert_eq!(got.seq, rec.seq + 8, "every writer landed exactly once");
    assert_eq!(store.verify(&id).await.unwrap().unwrap(), got.seq as usize);
    // A change that produces no event writes nothing.
    let ((), same) = store.update(&id, |_| Ok(((), vec![]))).await.unwrap();
    assert_eq!(same.seq, got.seq);
    // A refusal inside the change is the caller's error, and nothing is written.
    let e = store
        .update(&id, |r| {
            r.task_token = Some("never".into());
            Err::<((), Vec<_>), _>(ApiError::new(ErrorCode::Conflict, "refused"))
        })
        .await
        .unwrap_err();
    assert_eq!(e.message, "refused");
    assert_eq!(store.get(&id).await.unwrap().unwrap().task_token, None);
}

async fn updating_a_missing_request_is_not_found(store: &dyn RecordStore, tag: &str) {
    let r = store
        .update(&format!("{tag}missing"), |_| Ok(((), vec![])))
        .await;
    assert_eq!(code(r), ErrorCode::NotFound);
}

async fn lists_newest_first_by_agent_and_status(store: &dyn RecordStore, tag: &str) {
    let lister = format!("{tag}lister");
    let mut ids = vec![];
    for i in 0..5u64 {
        let id = format!("{tag}H{i}");
        let (mut rec, events) = pending(&id, &lister, "t", T0 + 100 + i);
        rec.task_token = Some("hidden".into());
        store.create(&rec, &events, None).await.unwrap();
        ids.push(id);
    }
    // Cancel the oldest, so a status filter has something to leave out.
    store
        .update(&ids[0], |r| {
            let by = r.agent.clone();
            Ok(((), r.cancel(&by, T0 + 200)?))
        })
        .await
        .unwrap();
    let key = agent(&lister).key();
    let mut seen = vec![];
    let mut after: Option<Cursor> = None;
    for _ in 0..10 {
        let page = store
            .list(
                &Listing::Agent {
                    agent_key: &key,
                    status: None,
                },
                2,
                after.as_ref(),
            )
            .await
            .unwrap();
        assert!(page.requests.len() <= 2);
        for r in &page.requests {
            assert_eq!(r.task_token, None, "listings never carry the task token");
            seen.push(r.id.clone());
        }
        after = page.next;
        if after.is_none() {
            break;
        }
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first, "every request once, newest first");
    let pending_only = store
        .list(
            &Listing::Agent {
                agent_key: &key,
                status: Some(Status::Pending),
            },
            10,
            None,
        )
        .await
        .unwrap();
    assert_eq!(pending_only.requests.len(), 4);
    assert!(!pending_only.requests.iter().any(|r| r.id == ids[0]));
    let cancelled = store
        .list(&Listing::Status(Status::Cancelled), 50, None)
        .await
        .unwrap();
    assert!(cancelled.requests.iter().any(|r| r.id == ids[0]));
    assert!(
        cancelled
            .requests
            .iter()
            .all(|r| r.status == Status::Cancelled)
    );
    let since = store.request_ids_since(T0 + 101).await.unwrap();
    let mine: Vec<&String> = since
        .iter()
        .filter(|i| i.starts_with(&format!("{tag}H")))
        .collect();
    assert_eq!(
        mine,
        ids[1..].iter().collect::<Vec<_>>(),
        "oldest first, from the given time"
    );
}

/// Every page of a status listing, followed to the end with pages of `limit`.
pub async fn list_all(
    store: &dyn RecordStore,
    status: Status,
    limit: i32,
) -> Vec<Vec<RequestRecord>> {
    let mut pages = vec![];
    let mut after: Option<Cursor> = None;
    loop {
        let page = store
            .list(&Listing::Status(status), limit, after.as_ref())
            .await
            .unwrap();
        pages.push(page.requests);
        after = page.next;
        if after.is_none() || pages.len() > 1000 {
            return pages;
        }
    }
}

async fn reads_a_period_whatever_the_status(store: &dyn RecordStore, tag: &str) {
    // Later than every other case's requests, so the period holds only these.
    let from = T0 + 2_000_000_000;
    let mut inside = std::collections::BTreeSet::new();
    for i in 0..12u64 {
        let id = format!("{tag}P{i:02}");
        let (rec, events) = pending(&id, "period", "t", from + i * 10);
        store.create(&rec, &events, None).await.unwrap();
        if i % 3 == 0 {
            store
                .update(&id, |r| {
                    let by = r.agent.clone();
                    Ok(((), r.cancel(&by, from + 500)?))
                })
                .await
                .unwrap();
        }
        inside.insert(id);
    }
    for (id, at) in [
        (format!("{tag}Pearly"), from - 1),
        (format!("{tag}Plate"), from + 120),
    ] {
        let (rec, events) = pending(&id, "period", "t", at);
        store.create(&rec, &events, None).await.unwrap();
    }
    let mut read = std::collections::BTreeSet::new();
    let mut statuses = std::collections::BTreeSet::new();
    store
        .created_between(from, from + 120, &mut |r| {
            let r = r.expect("readable");
            assert!(r.task_token.is_none(), "the index never carries the token");
            statuses.insert(r.status.as_str());
            assert!(read.insert(r.id.clone()), "{} read twice", r.id);
        })
        .await
        .unwrap();
    assert_eq!(read, inside, "the period, from inclusive, until exclusive");
    assert_eq!(
        statuses.into_iter().collect::<Vec<_>>(),
        ["CANCELLED", "PENDING"]
    );
    let mut none = 0;
    store
        .created_between(from + 5, from + 5, &mut |_| none += 1)
        .await
        .unwrap();
    assert_eq!(none, 0, "an empty period reads nothing");
}

async fn lists_a_status_whole_across_pages(store: &dyn RecordStore, tag: &str) {
    // Far newer than the other cases' requests, several in one millisecond, so ties are split
    // by id across page boundaries.
    let at = T0 + 1_000_000_000;
    let mut mine = vec![];
    for i in 0..23u64 {
        let id = format!("{tag}S{i:02}");
        let (rec, events) = pending(&id, "shards", "t", at + i / 3);
        store.create(&rec, &events, None).await.unwrap();
        mine.push((rec.created_at, id));
    }
    mine.sort_by(|a, b| b.cmp(a));
    let whole: Vec<RequestRecord> = list_all(store, Status::Pending, 100)
        .await
        .into_iter()
        .flatten()
        .collect();
    for limit in [1, 4, 7] {
        let pages = list_all(store, Status::Pending, limit).await;
        let (last, full) = pages.split_last().unwrap();
        assert!(
            full.iter().all(|p| p.len() == limit as usize),
            "every page but the last is full"
        );
        assert!(!last.is_empty() || pages.len() == 1, "no empty last page");
        let ids: Vec<&str> = pages.iter().flatten().map(|r| r.id.as_str()).collect();
        let expected: Vec<&str> = whole.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, expected, "pages of {limit} list what one page does");
    }
    let keys: Vec<(u64, &str)> = whole
        .iter()
        .map(|r| (r.created_at, r.id.as_str()))
        .collect();
    assert!(
        keys.windows(2).all(|w| w[0] > w[1]),
        "newest first, each once: {keys:?}"
    );
    assert!(whole.iter().all(|r| r.status == Status::Pending));
    let head: Vec<(u64, String)> = whole
        .iter()
        .take(mine.len())
        .map(|r| (r.created_at, r.id.clone()))
        .collect();
    assert_eq!(head, mine, "the newest are these, in order");
    // A status change moves a request from one status's listing to the other's.
    for (_, id) in mine.iter().step_by(5) {
        store
            .update(id, |r| {
                let by = r.agent.clone();
                Ok(((), r.cancel(&by, at + 100)?))
            })
            .await
            .unwrap();
    }
    let moved: Vec<&String> = mine.iter().step_by(5).map(|(_, id)| id).collect();
    let pending: Vec<String> = list_all(store, Status::Pending, 3)
        .await
        .into_iter()
        .flatten()
        .map(|r| r.id)
        .collect();
    assert!(moved.iter().all(|id| !pending.contains(id)));
    assert_eq!(pending.len(), whole.len() - moved.len());
    let cancelled: Vec<String> = list_all(store, Status::Cancelled, 2)
        .await
        .into_iter()
        .flatten()
        .map(|r| r.id)
        .collect();
    assert_eq!(
        cancelled
            .iter()
            .filter(|id| id.starts_with(&format!("{tag}S")))
            .collect::<Vec<_>>(),
        moved,
        "newest first in their new status"
    );
}

async fn keeps_sessions_until_they_expire(store: &dyn RecordStore, tag: &str) {
    let sid = format!("{tag}session-id");
    let session = SessionRecord {
        identity: agent("approver"),
        created_ms: T0,
        expires_ms: T0 + 60_000,
    };
    store.put_session(&sid, &session).await.unwrap();
    assert_eq!(
        store.session(&sid, T0 + 1).await.unwrap(),
        Some(session.clone())
    );
    assert_eq!(
        store.session(&sid, T0 + 60_000).await.unwrap(),
        None,
        "expired"
    );
    let e = store.put_session(&sid, &session).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict, "a session id is never reused");
    assert_eq!(
        store.session(&format!("{tag}other"), T0).await.unwrap(),
        None
    );
    store.delete_session(&sid).await.unwrap();
    assert_eq!(store.session(&sid, T0 + 1).await.unwrap(), None);
    store.delete_session(&sid).await.unwrap();
}

async fn caps_wait_leases_and_frees_them(store: &dyn RecordStore, tag: &str) {
    let scope = format!("{tag}caller");
    let take = |lease: &'static str, now: u64| store.take_wait(&scope, lease, T0 + 20_000, now, 2);
    assert!(take("a", T0).await.unwrap());
    assert!(take("b", T0).await.unwrap());
    assert!(!take("c", T0).await.unwrap(), "the cap holds");
    assert!(
        store
            .take_wait(&format!("{tag}other"), "c", T0 + 20_000, T0, 2)
            .await
            .unwrap(),
        "another scope has its own places"
    );
    store.release_wait(&scope, "a").await.unwrap();
    assert!(take("c", T0).await.unwrap(), "a released place is free");
    assert!(!take("d", T0).await.unwrap());
    assert!(
        take("d", T0 + 20_000).await.unwrap(),
        "expired leases free theirs"
    );
    store.release_wait(&scope, "never-taken").await.unwrap();
    store
        .release_wait(&format!("{tag}no-such-scope"), "x")
        .await
        .unwrap();
    // Racing takers: exactly the cap wins.
    let racing = format!("{tag}racing");
    let wins = futures::future::join_all((0..8).map(|i| {
        let racing = racing.clone();
        async move {
            store
                .take_wait(&racing, &format!("l{i}"), T0 + 20_000, T0, 3)
                .await
        }
    }))
    .await;
    let won = wins.iter().filter(|w| matches!(w, Ok(true))).count();
    assert!(won <= 3, "{wins:?}");
    assert!(
        wins.iter().all(|w| match w {
            Ok(_) => true,
            Err(e) => e.code == ErrorCode::TooManyRequests,
        }),
        "{wins:?}"
    );
}

async fn counts_each_request_once_with_distinct_counts(store: &dyn RecordStore, tag: &str) {
    use tollgate_core::rate::{CountedAction, Usage};
    let used = |name: &str, service: &str, level: &str| Usage {
        actions: vec![CountedAction {
            name: name.into(),
            service: service.into(),
            level: level.into(),
        }],
    };
    let agent = format!("{tag}counted-agent");
    let now = T0 / 1000;
    let delete = used("s3:DeleteObject", "s3", "Write");
    // Racing requests each see their own count: 1 to 12, none twice, none lost.
    let seen =
        futures::future::join_all((0..12).map(|_| store.count_request(&agent, &delete, now))).await;
    let mut hour: Vec<u64> = seen
        .iter()
        .map(|c| c.as_ref().expect("counted").hour.action("s3:DeleteObject"))
        .collect();
    hour.sort();
    assert_eq!(hour, (1..=12).collect::<Vec<_>>());
    let get = store
        .count_request(&agent, &used("s3:GetObject", "s3", "Read"), now)
        .await
        .unwrap();
    assert_eq!(
        (
            get.hour.requests,
            get.hour.action("s3:GetObject"),
            get.hour.service("s3")
        ),
        (13, 1, 13)
    );
    assert_eq!((get.hour.level("Read"), get.hour.denials), (1, 0));
    store.count_denial(&agent, now).await.unwrap();
    // The next hour starts again; the day goes on.
    let later = store
        .count_request(&agent, &delete, now + 3600)
        .await
        .unwrap();
    assert_eq!(
        (
            later.hour.requests,
            later.hour.denials,
            later.hour.action("s3:DeleteObject")
        ),
        (1, 0, 1)
    );
    // T0 is 22:13 UTC: an hour later is the same day.
    assert_eq!((later.day.requests, later.day.denials), (14, 1));
    let read = store.recent_counts(&agent, now).await.unwrap();
    assert_eq!((read.hour.requests, read.hour.denials), (13, 1));
    assert_eq!(
        store.recent_counts(&agent, now).await.unwrap(),
        read,
        "reading counts nothing"
    );
    let other = store
        .recent_counts(&format!("{tag}other-agent"), now)
        .await
        .unwrap();
    assert_eq!(
        other,
        Default::default(),
        "another agent has its own counters"
    );
}

fn grant(id: &str, max_uses: u32, expires_at: u64) -> tollgate_core::grant::Grant {
    tollgate_core::grant::Grant {
        id: id.into(),
        request_id: id.into(),
        agent: agent("granted"),
        request_hash: "0".repeat(64),
        action: "dynamodb:PutItem".into(),
        target: "default".into(),
        region: "us-east-1".into(),
        params: json!({"TableName": "t"}),
        iam_actions: vec!["dynamodb:PutItem".into()],
        resources: vec!["arn:aws:dynamodb:us-east-1:111122223333:table/t".into()],
        approvers: vec![agent("ann")],
        groups: vec!["dba".into()],
        max_uses,
        uses: 0,
        created_at: T0,
        expires_at,
        revoked: None,
        expiry_noticed: false,
    }
}

async fn grants_are_used_at_most_their_uses_even_at_once(store: &dyn RecordStore, tag: &str) {
    let id = format!("{tag}GR1");
    let g = grant(&id, 5, T0 + 60_000);
    assert!(store.put_grant(&g).await.unwrap());
    assert!(
        !store.put_grant(&grant(&id, 50, T0 + 60_000)).await.unwrap(),
        "a second grant with the id is refused"
    );
    assert_eq!(store.grant(&id).await.unwrap().unwrap(), g);
    let users = (0..12).map(|_| store.use_grant(&id, T0 + 1));
    let used: Vec<_> = futures::future::join_all(users)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let mut counts: Vec<u32> = used.iter().flatten().map(|g| g.uses).collect();
    counts.sort();
    assert_eq!(counts, vec![1, 2, 3, 4, 5], "five uses, each counted once");
    let stored = store.grant(&id).await.unwrap().unwrap();
    assert_eq!((stored.uses, stored.max_uses), (5, 5));
    assert_eq!(store.use_grant(&id, T0 + 2).await.unwrap(), None);
    assert_eq!(
        store.use_grant(&format!("{tag}GRnone"), T0).await.unwrap(),
        None
    );
}

async fn grants_end_by_time_and_by_revocation_and_notice_once(store: &dyn RecordStore, tag: &str) {
    let timed = format!("{tag}GR2");
    assert!(store.put_grant(&grant(&timed, 5, T0 + 1000)).await.unwrap());
    assert_eq!(
        store.use_grant(&timed, T0 + 1000).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store
            .use_grant(&timed, T0 + 999)
            .await
            .unwrap()
            .unwrap()
            .uses,
        1
    );
    assert!(store.mark_grant_expiry_noticed(&timed).await.unwrap());
    assert!(
        !store.mark_grant_expiry_noticed(&timed).await.unwrap(),
        "once"
    );
    assert!(store.grant(&timed).await.unwrap().unwrap().expiry_noticed);

    let revoked = format!("{tag}GR3");
    assert!(
        store
            .put_grant(&grant(&revoked, 5, T0 + 60_000))
            .await
            .unwrap()
    );
    let by = tollgate_core::grant::Revocation {
        by: agent("ann"),
        at: T0 + 5,
    };
    assert!(store.revoke_grant(&revoked, &by).await.unwrap());
    assert!(!store.revoke_grant(&revoked, &by).await.unwrap(), "once");
    assert_eq!(store.use_grant(&revoked, T0 + 6).await.unwrap(), None);
    let got = store.grant(&revoked).await.unwrap().unwrap();
    assert_eq!(got.revoked, Some(by));
    assert_eq!(got.uses, 0);
    assert!(
        !store
            .revoke_grant(
                &format!("{tag}GRnone"),
                &tollgate_core::grant::Revocation {
                    by: agent("x"),
                    at: 1
                }
            )
            .await
            .unwrap()
    );

    let mine: Vec<String> = store
        .grants()
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.id)
        .filter(|id| id.starts_with(&format!("{tag}GR")))
        .collect();
    assert_eq!(mine.len(), 3, "{mine:?}");
}

/// An allowed one-step plan run by calls (a 60 s window), of agent `agent_sub`, created at
/// `at` (ms).
pub fn by_calls_plan(
    id: &str,
    agent_sub: &str,
    at: u64,
) -> (RequestRecord, Vec<tollgate_core::Event>) {
    use tollgate_core::plan::{PlanStep, Scope, parse_plan};
    let body = json!({"run": "by_calls", "window_seconds": 60, "reason": "contract",
        "steps": [{"action": "dynamodb:DeleteTable", "params": {"TableName": "t"}}]});
    let plan = parse_plan(body.to_string().as_bytes(), "us-east-1", 5).expect("plan parses");
    let decision = Decision {
        effect: Effect::Allow,
        policy_ids: vec!["contract".into()],
        reason: "contract".into(),
        mask: Default::default(),
        requires: Default::default(),
        breakglass: None,
    };
    let steps = vec![PlanStep::new(
        plan.steps[0].clone(),
        decision,
        Scope::default(),
    )];
    RequestRecord::new_plan(id.into(), plan, steps, agent(agent_sub), at)
}

/// A parked plan is found, as last written, by its agent alone, with one read; it goes in
/// the write that ends it.
async fn parked_plans_are_found_by_their_agent_until_they_end(store: &dyn RecordStore, tag: &str) {
    let key = |sub: &str| agent(sub).key();
    let owner = format!("{tag}parker");
    let id = format!("{tag}PARK1");
    let (rec, events) = by_calls_plan(&id, &owner, T0);
    store.create(&rec, &events, None).await.unwrap();
    // Approved, not yet parked: nothing to join.
    assert!(store.parked_plans(&key(&owner)).await.unwrap().is_empty());
    let (claim, parked) = store
        .update(&id, |r| {
            r.claim_for_execution(T0 + 1, Some("arn:aws:iam::1:role/t"), |_| {
                "us-east-1".into()
            })
        })
        .await
        .unwrap();
    assert_eq!(claim, tollgate_core::Claim::Parked);
    let found = store.parked_plans(&key(&owner)).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].seq, parked.seq);
    assert_eq!(found[0].status, Status::Executing);
    assert!(found[0].plan.as_ref().unwrap().parked());
    assert!(
        store
            .parked_plans(&key(&format!("{tag}other")))
            .await
            .unwrap()
            .is_empty()
    );
    // Its window ends: the plan fails, and the pointer goes in the same write.
    let (_, ended) = store
        .update(&id, |r| Ok(((), r.end_window(T0 + 120_000)?)))
        .await
        .unwrap();
    assert_eq!(ended.status, Status::Failed);
    assert!(store.parked_plans(&key(&owner)).await.unwrap().is_empty());
}
