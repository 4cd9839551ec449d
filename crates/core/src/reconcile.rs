//! CloudTrail reconciliation (`tollgate audit reconcile`): every call made with a target
//! role's session must be explained by a Tollgate request, and every request whose call
//! reached AWS must have left a CloudTrail event. A call no request explains means someone
//! used the role outside Tollgate (or replayed a session); an execution with no event means
//! the trail is incomplete, or the record is wrong.
//!
//! The executor assumes the target role as `tollgate-<request id>` with `SourceIdentity` =
//! the agent and the session tag `tollgate:request`; the impact preview as
//! `tollgate-preview-<request id>`, and its dry run of an EC2 call as
//! `tollgate-preview-dryrun-<request id>`; each step of a plan as `tollgate-<plan id>-<step>`.
//! A call
//! is explained only when all of these agree with one
//! request: the session name, the source identity, the `tollgate:request` tag of the
//! session's `AssumeRole` (when the trail holds it), the action, the role, and the time.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::{Event, EventKind, FailureCode, RequestRecord, Status};

/// The longest a scoped session lives (STS's minimum, which the executor asks for), in ms.
pub const SESSION_MS: u64 = 900_000;
/// How far CloudTrail's clock and the functions' may disagree, in ms.
pub const CLOCK_SKEW_MS: u64 = 300_000;
/// The session name prefixes the executor and the impact preview use.
pub const EXECUTOR_SESSION: &str = "tollgate-";
pub const PREVIEW_SESSION: &str = "tollgate-preview-";
/// Within the preview's prefix, so a target role that trusts the notifier's preview sessions
/// trusts this one without a change.
pub const DRY_RUN_SESSION: &str = "tollgate-preview-dryrun-";
/// The session tag naming the request.
pub const REQUEST_TAG: &str = "tollgate:request";

/// A role by account and name: CloudTrail names a session's role by the role's ARN (with its
/// path) or by the assumed-role ARN (without it), so the pair is what both agree on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct RoleRef {
    pub account: String,
    pub name: String,
}

impl RoleRef {
    /// A role's ARN (`arn:<partition>:iam::<account>:role/<path/>name`) or a session's
    /// (`arn:<partition>:sts::<account>:assumed-role/<name>/<session>`).
    pub fn from_arn(arn: &str) -> Option<RoleRef> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(_), Some(service), Some(_), Some(account), Some(resource)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        let name = match (service, resource.split_once('/')) {
            ("iam", Some(("role", rest))) => rest.rsplit('/').next()?,
            ("sts", Some(("assumed-role", rest))) => rest.split('/').next()?,
            _ => return None,
        };
        let ok = !account.is_empty() && !name.is_empty();
        ok.then(|| RoleRef {
            account: account.to_string(),
            name: name.to_string(),
        })
    }
}

impl std::fmt::Display for RoleRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.account, self.name)
    }
}

/// What reconciliation reads of one CloudTrail record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrailCall {
    pub event_id: String,
    /// `eventTime`, ms since the epoch.
    pub at: u64,
    /// `<service>:<eventName>`, as Tollgate names actions.
    pub action: String,
    pub region: String,
    /// The role whose session made the call; for an `AssumeRole`, the role assumed.
    pub role: Option<RoleRef>,
    pub session_name: Option<String>,
    pub source_identity: Option<String>,
    /// The session's access key; for an `AssumeRole`, the key it issued.
    pub access_key_id: Option<String>,
    /// For an `AssumeRole`: the session tags it asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_tags: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
}

impl TrailCall {
    fn is_assume_role(&self) -> bool {
        self.session_tags.is_some()
    }
}

/// The IAM service prefix of a CloudTrail `eventSource` (`dynamodb.amazonaws.com`), where
/// the two differ.
fn service_of(event_source: &str) -> &str {
    let host = event_source
        .strip_suffix(".amazonaws.com")
        .unwrap_or(event_source);
    match host {
        "monitoring" => "cloudwatch",
        "email" => "ses",
        "elasticfilesystem" => "elasticfilesystem",
        other => other,
    }
}

fn text(v: &Value, path: &[&str]) -> Option<String> {
    let mut v = v;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// One record of a log file; `None` for a record without a time, source or name (CloudTrail
/// also writes digest and insight records, which explain nothing and need no explaining).
pub fn parse_record(r: &Value) -> Option<TrailCall> {
    let at = crate::time::parse_time(&text(r, &["eventTime"])?)?;
    let name = text(r, &["eventName"])?;
    let source = text(r, &["eventSource"])?;
    let assume_role = source == "sts.amazonaws.com" && name == "AssumeRole";
    let user = r.get("userIdentity").unwrap_or(&Value::Null);
    let mut call = TrailCall {
        event_id: text(r, &["eventID"]).unwrap_or_default(),
        at,
        action: format!("{}:{name}", service_of(&source)),
        region: text(r, &["awsRegion"]).unwrap_or_default(),
        role: None,
        session_name: None,
        source_identity: None,
        access_key_id: None,
        session_tags: None,
        error_code: text(r, &["errorCode"]),
    };
    if assume_role {
        let params = r.get("requestParameters").unwrap_or(&Value::Null);
        call.role = text(params, &["roleArn"]).and_then(|a| RoleRef::from_arn(&a));
        call.session_name = text(params, &["roleSessionName"]);
        call.source_identity = text(params, &["sourceIdentity"]);
        call.access_key_id = text(r, &["responseElements", "credentials", "accessKeyId"]);
        let tags = params
            .get("tags")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|t| Some((text(t, &["key"])?, text(t, &["value"]).unwrap_or_default())))
            .collect();
        call.session_tags = Some(tags);
    } else if text(user, &["type"]).as_deref() == Some("AssumedRole") {
        let session_arn = text(user, &["arn"]).unwrap_or_default();
        call.role = text(user, &["sessionContext", "sessionIssuer", "arn"])
            .and_then(|a| RoleRef::from_arn(&a))
            .or_else(|| RoleRef::from_arn(&session_arn));
        call.session_name = session_arn.rsplit_once('/').map(|(_, s)| s.to_string());
        call.source_identity = text(user, &["sessionContext", "sourceIdentity"])
            .or_else(|| text(r, &["sourceIdentity"]));
        call.access_key_id = text(user, &["accessKeyId"]);
    }
    Some(call)
}

/// Every record of a CloudTrail log file (`{"Records": [...]}`, already decompressed).
pub fn parse_log(json: &[u8]) -> Result<Vec<TrailCall>, String> {
    let v: Value = serde_json::from_slice(json).map_err(|e| format!("not JSON: {e}"))?;
    let records = v
        .get("Records")
        .and_then(Value::as_array)
        .ok_or("no `Records` array")?;
    Ok(records.iter().filter_map(parse_record).collect())
}

/// What one request explains, from its record and audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub id: String,
    pub source_identity: String,
    /// The operation it runs, `<service>:<Operation>`.
    pub action: String,
    /// When the executor claimed it (the `execution_started` event), and with which role.
    pub started_at: Option<u64>,
    pub role: Option<RoleRef>,
    /// When its impact preview was recorded, and the reads it may have sent.
    pub previewed_at: Option<u64>,
    pub preview_actions: BTreeSet<String>,
    /// A plan's steps' operations, in order (empty for a single request): step `i` runs in
    /// session `tollgate-<id>-<i>`.
    pub step_actions: Vec<String>,
    /// Whether its call reached AWS, so CloudTrail must hold it: it succeeded, or AWS
    /// answered with an error.
    pub reached_aws: bool,
    /// Whether nobody knows if it ran (an interrupted execution).
    pub may_have_run: bool,
    pub status: Status,
}

impl Expected {
    /// `preview_actions` are the reads the impact preview plans for this request (the
    /// catalog's; a failed read leaves no fact but may leave an event).
    pub fn of(rec: &RequestRecord, events: &[Event], preview_actions: &[String]) -> Expected {
        let started = events
            .iter()
            .rev()
            .find(|e| e.kind == EventKind::ExecutionStarted);
        let previewed = events.iter().find(|e| e.kind == EventKind::Previewed);
        let error = rec.error.as_ref();
        let reached_aws = match rec.status {
            Status::Succeeded => true,
            Status::Failed => error.is_some_and(|f| matches!(f.code, FailureCode::Aws(_))),
            _ => false,
        };
        let mut preview = preview_actions
            .iter()
            .cloned()
            .collect::<BTreeSet<String>>();
        if let Some(p) = &rec.preview {
            preview.extend(p.facts.iter().map(|f| f.source.clone()));
        }
        Expected {
            id: rec.id.clone(),
            source_identity: rec.agent.source_identity(),
            action: rec.request.action.to_string(),
            started_at: started.map(|e| e.at),
            role: started
                .and_then(|e| e.detail["role_arn"].as_str())
                .and_then(RoleRef::from_arn),
            previewed_at: previewed.map(|e| e.at),
            preview_actions: preview,
            step_actions: rec.plan.as_ref().map_or_else(Vec::new, |p| {
                p.steps
                    .iter()
                    .map(|s| s.request.action.to_string())
                    .collect()
            }),
            reached_aws,
            may_have_run: error.and_then(|f| f.may_have_run).unwrap_or(false),
            status: rec.status,
        }
    }
}

/// Which Tollgate session a session name is, and of which request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session<'a> {
    Executor(&'a str),
    Preview(&'a str),
    /// The preview's dry run of the request's own call (or of a plan's step).
    DryRun(&'a str),
    /// Step `n` of plan `id`.
    Step(&'a str, usize),
}

impl<'a> Session<'a> {
    pub fn parse(name: &'a str) -> Option<Session<'a>> {
        let valid = |id: &str| {
            !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric())
        };
        if let Some(id) = name.strip_prefix(DRY_RUN_SESSION) {
            return valid(id).then_some(Session::DryRun(id));
        }
        if let Some(id) = name.strip_prefix(PREVIEW_SESSION) {
            return valid(id).then_some(Session::Preview(id));
        }
        let id = name.strip_prefix(EXECUTOR_SESSION)?;
        if let Some((plan, step)) = id.split_once('-') {
            // Digits only, no sign or leading zero: one spelling per step.
            let n = (!step.is_empty()
                && step.len() <= 3
                && step.bytes().all(|b| b.is_ascii_digit())
                && (step == "0" || !step.starts_with('0')))
            .then(|| step.parse().ok())
            .flatten()?;
            return valid(plan).then_some(Session::Step(plan, n));
        }
        valid(id).then_some(Session::Executor(id))
    }

    /// The role session name of this session, as the executor and the preview open it (and
    /// [`Session::parse`] reads it back).
    pub fn name(&self) -> String {
        match self {
            Session::Executor(id) => format!("{EXECUTOR_SESSION}{id}"),
            Session::Preview(id) => format!("{PREVIEW_SESSION}{id}"),
            Session::DryRun(id) => format!("{DRY_RUN_SESSION}{id}"),
            Session::Step(id, n) => format!("{EXECUTOR_SESSION}{id}-{n}"),
        }
    }

    pub fn request_id(&self) -> &'a str {
        match self {
            Session::Executor(id)
            | Session::Preview(id)
            | Session::DryRun(id)
            | Session::Step(id, _) => id,
        }
    }
}

/// One thing reconciliation could not account for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Finding {
    /// A call (or an `AssumeRole`) with a target role that no request explains.
    Unexplained {
        reason: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<String>,
        call: Box<TrailCall>,
    },
    /// A request whose call reached AWS, with no CloudTrail event for it.
    Missing {
        request_id: String,
        action: String,
        executed_at: u64,
        status: Status,
    },
}

/// An interrupted execution (`may_have_run`), settled by the trail where it can be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Interrupted {
    pub request_id: String,
    /// Whether CloudTrail holds the call.
    pub ran: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub findings: Vec<Finding>,
    /// Calls and `AssumeRole`s with a target role that a request explains.
    pub explained: usize,
    /// Records of other principals, or outside the window.
    pub ignored: usize,
    /// Requests whose call reached AWS in the window, each checked for its event.
    pub executions_checked: usize,
    pub interrupted: Vec<Interrupted>,
}

/// The period to reconcile, ms since the epoch. Executions after `settled_before` are not
/// expected in the trail yet (CloudTrail delivers within about 15 minutes).
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub since: u64,
    pub until: u64,
    pub settled_before: u64,
}

fn within(at: u64, from: u64, to: u64) -> bool {
    at + CLOCK_SKEW_MS >= from && at <= to + CLOCK_SKEW_MS
}

/// Why `call` is not explained by a Tollgate session; `Ok` with the request and whether it
/// was its executor's call when it is.
fn explain<'a>(
    call: &TrailCall,
    requests: &'a BTreeMap<String, Expected>,
    issued: &BTreeMap<&str, &TrailCall>,
) -> Result<(&'a Expected, bool), (String, Option<String>)> {
    let name = call.session_name.as_deref().unwrap_or("");
    let session = Session::parse(name)
        .ok_or_else(|| (format!("session `{name}` is not a Tollgate session"), None))?;
    let id = session.request_id();
    let fail = |reason: String| (reason, Some(id.to_string()));
    let req = requests
        .get(id)
        .ok_or_else(|| fail(format!("no request `{id}`")))?;
    let who = call.source_identity.as_deref().unwrap_or("");
    if who != req.source_identity {
        return Err(fail(format!(
            "source identity `{who}` is not the requesting agent's `{}`",
            req.source_identity
        )));
    }
    // The session's own AssumeRole, where the trail has it, must carry the request's tag.
    let assumed = if call.is_assume_role() {
        Some(call)
    } else {
        call.access_key_id
            .as_deref()
            .and_then(|k| issued.get(k).copied())
    };
    if let Some(a) = assumed {
        let tag = a.session_tags.as_ref().and_then(|t| t.get(REQUEST_TAG));
        if tag.map(String::as_str) != Some(id) {
            return Err(fail(format!(
                "the session's `{REQUEST_TAG}` tag is `{}`, not `{id}`",
                tag.map_or("", |t| t.as_str())
            )));
        }
        if a.session_name.as_deref() != Some(name) {
            return Err(fail(format!(
                "the session's key was issued to session `{}`",
                a.session_name.as_deref().unwrap_or("")
            )));
        }
    }
    let (from, executor) = match session {
        Session::Executor(_) => {
            let Some(started) = req.started_at else {
                return Err(fail(format!("request `{id}` was never executed")));
            };
            if req.role.is_some() && call.role != req.role {
                return Err(fail(format!(
                    "role `{}` is not the one request `{id}` ran with",
                    call.role
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                )));
            }
            if !call.is_assume_role() && call.action != req.action {
                return Err(fail(format!(
                    "action `{}` is not the request's `{}`",
                    call.action, req.action
                )));
            }
            (started, true)
        }
        Session::Step(_, n) => {
            let Some(started) = req.started_at else {
                return Err(fail(format!("plan `{id}` was never executed")));
            };
            let Some(step_action) = req.step_actions.get(n) else {
                return Err(fail(format!("`{id}` has no step {n}")));
            };
            if !call.is_assume_role() && call.action != *step_action {
                return Err(fail(format!(
                    "action `{}` is not step {n}'s `{step_action}`",
                    call.action
                )));
            }
            (started, true)
        }
        Session::Preview(_) => {
            let Some(previewed) = req.previewed_at else {
                return Err(fail(format!("request `{id}` was never previewed")));
            };
            if !call.is_assume_role() && !req.preview_actions.contains(&call.action) {
                return Err(fail(format!(
                    "action `{}` is not a read of the request's preview",
                    call.action
                )));
            }
            // The preview is recorded after its reads.
            (previewed.saturating_sub(SESSION_MS), false)
        }
        Session::DryRun(_) => {
            let Some(previewed) = req.previewed_at else {
                return Err(fail(format!("request `{id}` was never previewed")));
            };
            if !call.is_assume_role() {
                let own = call.action == req.action || req.step_actions.contains(&call.action);
                if !own {
                    return Err(fail(format!(
                        "action `{}` is not the call request `{id}` asks for",
                        call.action
                    )));
                }
                // A dry run always answers with an error (`DryRunOperation` when it would
                // succeed); one that succeeded ran, and no approval explains that.
                if call.error_code.is_none() {
                    return Err(fail(format!(
                        "`{}` succeeded in the dry-run session of request `{id}`: it was not a dry run",
                        call.action
                    )));
                }
            }
            (previewed.saturating_sub(SESSION_MS), false)
        }
    };
    if !within(call.at, from, from + SESSION_MS) {
        return Err(fail(format!(
            "at {}, outside the session of request `{id}`",
            crate::time::iso8601(call.at)
        )));
    }
    Ok((req, executor))
}

/// Reconciles the trail's records with the requests. `targets` are the roles whose sessions
/// must all be explained; `requests` are keyed by id and hold every request a session of the
/// window may name and every request executed in the window.
pub fn reconcile(
    calls: &[TrailCall],
    targets: &BTreeSet<RoleRef>,
    requests: &BTreeMap<String, Expected>,
    window: Window,
) -> Report {
    let mut report = Report::default();
    let mut relevant: Vec<&TrailCall> = calls
        .iter()
        .filter(|c| {
            let keep = c.at >= window.since
                && c.at <= window.until
                && c.role.as_ref().is_some_and(|r| targets.contains(r));
            report.ignored += usize::from(!keep);
            keep
        })
        .collect();
    // The same record can be delivered in two files; CloudTrail's event id is unique.
    relevant.sort_by(|a, b| (a.at, &a.event_id).cmp(&(b.at, &b.event_id)));
    relevant.dedup_by(|a, b| !a.event_id.is_empty() && a.event_id == b.event_id);
    let issued: BTreeMap<&str, &TrailCall> = relevant
        .iter()
        .filter(|c| c.is_assume_role())
        .filter_map(|c| Some((c.access_key_id.as_deref()?, *c)))
        .collect();
    let mut ran: BTreeMap<&str, usize> = BTreeMap::new();
    for call in &relevant {
        match explain(call, requests, &issued) {
            Ok((req, executor)) => {
                if executor && !call.is_assume_role() {
                    let n = ran.entry(req.id.as_str()).or_default();
                    *n += 1;
                    if *n > 1 {
                        report.findings.push(Finding::Unexplained {
                            reason: format!(
                                "a second `{}` in the session of request `{}`, which runs once",
                                call.action, req.id
                            ),
                            request_id: Some(req.id.clone()),
                            call: Box::new((*call).clone()),
                        });
                        continue;
                    }
                }
                report.explained += 1;
            }
            Err((reason, request_id)) => report.findings.push(Finding::Unexplained {
                reason,
                request_id,
                call: Box::new((*call).clone()),
            }),
        }
    }
    for req in requests.values() {
        let Some(at) = req.started_at else { continue };
        if at < window.since || at > window.settled_before {
            continue;
        }
        let found = ran.contains_key(req.id.as_str());
        if req.may_have_run {
            report.interrupted.push(Interrupted {
                request_id: req.id.clone(),
                ran: found,
            });
        }
        if !req.reached_aws {
            continue;
        }
        report.executions_checked += 1;
        if !found {
            report.findings.push(Finding::Missing {
                request_id: req.id.clone(),
                action: req.action.clone(),
                executed_at: at,
                status: req.status,
            });
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ROLE: &str = "arn:aws:iam::111122223333:role/ops/tollgate-target";
    const T: u64 = 1_795_525_921_000; // 2026-11-24T13:12:01Z

    fn target() -> BTreeSet<RoleRef> {
        [RoleRef::from_arn(ROLE).unwrap()].into()
    }

    /// A record as CloudTrail writes it for a call made with a session of the target role.
    fn record(session: &str, who: &str, source: &str, name: &str, at: &str, key: &str) -> Value {
        json!({
            "eventVersion": "1.09",
            "userIdentity": {
                "type": "AssumedRole",
                "principalId": format!("AROAEXAMPLE:{session}"),
                "arn": format!("arn:aws:sts::111122223333:assumed-role/tollgate-target/{session}"),
                "accountId": "111122223333",
                "accessKeyId": key,
                "sessionContext": {
                    "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": ROLE,
                                      "accountId": "111122223333", "userName": "tollgate-target"},
                    "attributes": {"creationDate": at, "mfaAuthenticated": "false"},
                    "sourceIdentity": who
                }
            },
            "eventTime": at,
            "eventSource": source,
            "eventName": name,
            "awsRegion": "us-east-1",
            "sourceIPAddress": "192.0.2.1",
            "requestParameters": {"tableName": "t"},
            "eventID": format!("{session}-{who}-{name}-{at}-{key}"),
            "eventType": "AwsApiCall",
            "recipientAccountId": "111122223333"
        })
    }

    fn assume(session: &str, who: &str, tag: &str, at: &str, key: &str) -> Value {
        json!({
            "userIdentity": {"type": "AssumedRole",
                             "arn": "arn:aws:sts::444455556666:assumed-role/executor/fn",
                             "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::444455556666:role/executor"}}},
            "eventTime": at, "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
            "awsRegion": "us-east-1", "eventID": format!("assume-{session}"),
            "requestParameters": {"roleArn": ROLE, "roleSessionName": session, "sourceIdentity": who,
                                  "durationSeconds": 900,
                                  "tags": [{"key": "tollgate:request", "value": tag}]},
            "responseElements": {"credentials": {"accessKeyId": key, "expiration": "x"}}
        })
    }

    fn expected(id: &str, action: &str, started: Option<u64>) -> Expected {
        Expected {
            id: id.into(),
            source_identity: "ci-bot".into(),
            action: action.into(),
            started_at: started,
            role: started.map(|_| RoleRef::from_arn(ROLE).unwrap()),
            previewed_at: None,
            preview_actions: BTreeSet::new(),
            step_actions: vec![],
            reached_aws: started.is_some(),
            may_have_run: false,
            status: if started.is_some() {
                Status::Succeeded
            } else {
                Status::Pending
            },
        }
    }

    /// A `DeleteTable` made with a session of the target role.
    fn delete_by(session: &str, who: &str, at: &str, key: &str) -> Value {
        record(
            session,
            who,
            "dynamodb.amazonaws.com",
            "DeleteTable",
            at,
            key,
        )
    }

    /// Request `01A`, executed at `T`.
    fn one_executed() -> BTreeMap<String, Expected> {
        requests(vec![expected("01A", "dynamodb:DeleteTable", Some(T))])
    }

    fn requests(list: Vec<Expected>) -> BTreeMap<String, Expected> {
        list.into_iter().map(|e| (e.id.clone(), e)).collect()
    }

    fn window() -> Window {
        Window {
            since: T - 3_600_000,
            until: T + 3_600_000,
            settled_before: T + 3_600_000,
        }
    }

    fn calls(records: Vec<Value>) -> Vec<TrailCall> {
        parse_log(json!({"Records": records}).to_string().as_bytes()).unwrap()
    }

    /// The findings' reasons, sorted (the report lists them in the trail's order).
    fn reasons(r: &Report) -> Vec<String> {
        let mut v: Vec<String> = r
            .findings
            .iter()
            .map(|f| match f {
                Finding::Unexplained { reason, .. } => reason.clone(),
                Finding::Missing { request_id, .. } => format!("missing {request_id}"),
            })
            .collect();
        v.sort();
        v
    }

    fn sorted(v: Vec<&str>) -> Vec<String> {
        let mut v: Vec<String> = v.into_iter().map(str::to_string).collect();
        v.sort();
        v
    }

    #[test]
    fn parses_the_documented_record_format() {
        let c = calls(vec![
            delete_by("tollgate-01A", "ci-bot", "2026-11-24T13:12:01Z", "ASIA1"),
            json!({"eventVersion": "1.0", "digest": true}),
        ]);
        assert_eq!(c.len(), 1, "a record without a time or name is no call");
        let c = &c[0];
        assert_eq!(c.at, T);
        assert_eq!(c.action, "dynamodb:DeleteTable");
        assert_eq!(c.role, RoleRef::from_arn(ROLE));
        assert_eq!(c.session_name.as_deref(), Some("tollgate-01A"));
        assert_eq!(c.source_identity.as_deref(), Some("ci-bot"));
        assert_eq!(c.access_key_id.as_deref(), Some("ASIA1"));
        let a = &calls(vec![assume(
            "tollgate-01A",
            "ci-bot",
            "01A",
            "2026-11-24T13:12:00Z",
            "ASIA1",
        )])[0];
        assert_eq!(a.action, "sts:AssumeRole");
        assert_eq!(
            a.role,
            RoleRef::from_arn(ROLE),
            "the role assumed, not the caller's"
        );
        assert_eq!(a.session_tags.as_ref().unwrap()["tollgate:request"], "01A");
        assert!(parse_log(b"{}").is_err());
        assert!(parse_log(b"not json").is_err());
    }

    #[test]
    fn role_arns_of_both_kinds_name_the_same_role() {
        let a = RoleRef::from_arn("arn:aws:iam::1:role/path/to/R").unwrap();
        let b = RoleRef::from_arn("arn:aws:sts::1:assumed-role/R/session").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.name, "R");
        for bad in [
            "",
            "arn:aws:iam::1:user/R",
            "arn:aws:iam:::role/R",
            "arn:aws:s3:::b",
            "R",
        ] {
            assert_eq!(RoleRef::from_arn(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_executors_call_and_its_assume_role_are_explained() {
        let c = calls(vec![
            assume(
                "tollgate-01A",
                "ci-bot",
                "01A",
                "2026-11-24T13:12:00Z",
                "ASIA1",
            ),
            delete_by("tollgate-01A", "ci-bot", "2026-11-24T13:12:01Z", "ASIA1"),
        ]);
        let r = reconcile(&c, &target(), &one_executed(), window());
        assert_eq!(r.findings, vec![]);
        assert_eq!((r.explained, r.executions_checked), (2, 1));
    }

    #[test]
    fn a_plans_steps_are_explained_by_their_own_sessions() {
        let mut plan = expected("01A", "dynamodb:CreateTable", Some(T));
        plan.step_actions = vec!["dynamodb:CreateTable".into(), "dynamodb:DeleteTable".into()];
        let at = "2026-11-24T13:12:01Z";
        let c = calls(vec![
            delete_by("tollgate-01A-1", "ci-bot", at, "ASIA1"),
            // Step 0 is a CreateTable: a DeleteTable in its session is not what was approved.
            delete_by("tollgate-01A-0", "ci-bot", at, "ASIA2"),
            delete_by("tollgate-01A-2", "ci-bot", at, "ASIA3"),
        ]);
        let r = reconcile(&c, &target(), &requests(vec![plan]), window());
        assert_eq!(r.explained, 1, "{:?}", r.findings);
        let reasons: Vec<String> = r
            .findings
            .iter()
            .filter_map(|f| match f {
                Finding::Unexplained { reason, .. } => Some(reason.clone()),
                Finding::Missing { .. } => None,
            })
            .collect();
        assert_eq!(
            reasons,
            [
                "action `dynamodb:DeleteTable` is not step 0's `dynamodb:CreateTable`",
                "`01A` has no step 2"
            ]
        );
    }

    #[test]
    fn calls_no_request_explains_are_findings() {
        let reqs = requests(vec![
            expected("01A", "dynamodb:DeleteTable", Some(T)),
            expected("01P", "dynamodb:DeleteTable", None),
        ]);
        let at = "2026-11-24T13:12:05Z";
        let c = calls(vec![
            delete_by("tollgate-01A", "ci-bot", at, "ASIA1"),
            delete_by("alice-console", "alice", at, "ASIA2"),
            delete_by("tollgate-01Z", "ci-bot", at, "ASIA3"),
            delete_by("tollgate-01A", "mallory", at, "ASIA4"),
            record(
                "tollgate-01A",
                "ci-bot",
                "iam.amazonaws.com",
                "CreateUser",
                at,
                "ASIA1",
            ),
            delete_by("tollgate-01P", "ci-bot", at, "ASIA5"),
            delete_by("tollgate-01A", "ci-bot", "2026-11-24T13:40:00Z", "ASIA1"),
            delete_by("tollgate-01A", "ci-bot", "2026-11-24T13:12:09Z", "ASIA1"),
            record(
                "tollgate-preview-01A",
                "ci-bot",
                "dynamodb.amazonaws.com",
                "DescribeTable",
                at,
                "ASIA6",
            ),
            delete_by("tollgate-01A!", "ci-bot", at, "ASIA1"),
        ]);
        let r = reconcile(&c, &target(), &reqs, window());
        assert_eq!(
            reasons(&r),
            sorted(vec![
                "session `alice-console` is not a Tollgate session",
                "no request `01Z`",
                "source identity `mallory` is not the requesting agent's `ci-bot`",
                "action `iam:CreateUser` is not the request's `dynamodb:DeleteTable`",
                "request `01P` was never executed",
                "request `01A` was never previewed",
                "session `tollgate-01A!` is not a Tollgate session",
                "a second `dynamodb:DeleteTable` in the session of request `01A`, which runs once",
                "at 2026-11-24T13:40:00Z, outside the session of request `01A`",
            ])
        );
        assert_eq!(r.explained, 1);
    }

    #[test]
    fn a_session_key_issued_for_another_request_is_not_explained() {
        // The key was issued by an AssumeRole tagged for another request: the session name
        // alone is not trusted.
        let c = calls(vec![
            assume(
                "tollgate-01A",
                "ci-bot",
                "01B",
                "2026-11-24T13:12:00Z",
                "ASIA1",
            ),
            delete_by("tollgate-01A", "ci-bot", "2026-11-24T13:12:01Z", "ASIA1"),
        ]);
        let r = reconcile(&c, &target(), &one_executed(), window());
        assert_eq!(
            reasons(&r),
            sorted(vec![
                "the session's `tollgate:request` tag is `01B`, not `01A`",
                "the session's `tollgate:request` tag is `01B`, not `01A`",
                "missing 01A",
            ])
        );
    }

    #[test]
    fn preview_reads_are_explained_by_the_requests_preview() {
        let mut e = expected("01A", "dynamodb:DeleteTable", None);
        e.previewed_at = Some(T + 1000);
        e.preview_actions = ["dynamodb:DescribeTable".to_string()].into();
        let c = calls(vec![
            record(
                "tollgate-preview-01A",
                "ci-bot",
                "dynamodb.amazonaws.com",
                "DescribeTable",
                "2026-11-24T13:12:01Z",
                "ASIA7",
            ),
            delete_by(
                "tollgate-preview-01A",
                "ci-bot",
                "2026-11-24T13:12:01Z",
                "ASIA7",
            ),
        ]);
        let r = reconcile(&c, &target(), &requests(vec![e]), window());
        assert_eq!(
            reasons(&r),
            vec!["action `dynamodb:DeleteTable` is not a read of the request's preview"]
        );
        assert_eq!(r.explained, 1);
    }

    #[test]
    fn a_preview_dry_run_is_explained_but_never_taken_for_the_execution() {
        let terminate = |session: &str, at: &str, key: &str, error: Option<&str>| {
            let mut r = record(
                session,
                "ci-bot",
                "ec2.amazonaws.com",
                "TerminateInstances",
                at,
                key,
            );
            if let Some(e) = error {
                r["errorCode"] = json!(e);
                r["eventID"] = json!(format!("{}-{e}", r["eventID"].as_str().unwrap()));
            }
            r
        };
        let mut e = expected("01A", "ec2:TerminateInstances", Some(T + 60_000));
        e.previewed_at = Some(T + 1000);
        let at = "2026-11-24T13:12:01Z";
        let dry = "tollgate-preview-dryrun-01A";
        let c = calls(vec![
            assume(dry, "ci-bot", "01A", at, "ASIA1"),
            terminate(dry, at, "ASIA1", Some("Client.DryRunOperation")),
            terminate(dry, at, "ASIA1", Some("Client.InvalidInstanceID.NotFound")),
            // A dry-run session's call that succeeded ran: no approval explains it, and it
            // is not the approved execution either.
            terminate(dry, "2026-11-24T13:12:02Z", "ASIA1", None),
            record(
                dry,
                "ci-bot",
                "ec2.amazonaws.com",
                "RunInstances",
                at,
                "ASIA1",
            ),
        ]);
        let reqs = requests(vec![e]);
        let r = reconcile(&c, &target(), &reqs, window());
        assert_eq!(
            reasons(&r),
            sorted(vec![
                "`ec2:TerminateInstances` succeeded in the dry-run session of request `01A`: it was not a dry run",
                "action `ec2:RunInstances` is not the call request `01A` asks for",
                "missing 01A",
            ])
        );
        assert_eq!((r.explained, r.executions_checked), (3, 1));
        // With the executor's own call the request is whole; the dry runs are not a second run.
        let mut c = c;
        c.extend(calls(vec![terminate(
            "tollgate-01A",
            "2026-11-24T13:13:01Z",
            "ASIA2",
            None,
        )]));
        let r = reconcile(&c, &target(), &reqs, window());
        assert_eq!(r.findings.len(), 2, "{:?}", r.findings);
        assert_eq!(r.explained, 4);
        // Without a preview, a dry-run session explains nothing.
        let mut never = reqs.clone();
        never.get_mut("01A").unwrap().previewed_at = None;
        let r = reconcile(
            &calls(vec![terminate(
                dry,
                at,
                "ASIA1",
                Some("Client.DryRunOperation"),
            )]),
            &target(),
            &never,
            window(),
        );
        assert!(
            reasons(&r).contains(&"request `01A` was never previewed".to_string()),
            "{:?}",
            r.findings
        );
    }

    #[test]
    fn executions_without_an_event_are_missing_once_settled() {
        let mut refused = expected("01R", "dynamodb:DeleteTable", Some(T));
        refused.status = Status::Failed;
        let mut never_sent = expected("01N", "dynamodb:DeleteTable", Some(T));
        never_sent.reached_aws = false;
        never_sent.status = Status::Failed;
        let mut interrupted = never_sent.clone();
        interrupted.id = "01I".into();
        interrupted.may_have_run = true;
        let fresh = expected("01F", "dynamodb:DeleteTable", Some(T + 3_000_000));
        let old = expected("01O", "dynamodb:DeleteTable", Some(T - 7_200_000));
        let reqs = requests(vec![refused, never_sent, interrupted, fresh, old]);
        let w = Window {
            settled_before: T + 60_000,
            ..window()
        };
        let r = reconcile(&[], &target(), &reqs, w);
        assert_eq!(reasons(&r), vec!["missing 01R"]);
        assert_eq!(r.executions_checked, 1);
        assert_eq!(
            r.interrupted,
            vec![Interrupted {
                request_id: "01I".into(),
                ran: false
            }]
        );
        // Its event settles an interrupted one.
        let c = calls(vec![delete_by(
            "tollgate-01I",
            "ci-bot",
            "2026-11-24T13:12:01Z",
            "ASIA8",
        )]);
        let r = reconcile(&c, &target(), &reqs, w);
        assert!(r.interrupted[0].ran);
    }

    #[test]
    fn other_roles_and_other_times_are_ignored_and_duplicates_counted_once() {
        let mut other = record(
            "someone",
            "x",
            "s3.amazonaws.com",
            "ListBuckets",
            "2026-11-24T13:12:01Z",
            "AKIA",
        );
        other["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] =
            json!("arn:aws:iam::111122223333:role/other");
        other["userIdentity"]["arn"] =
            json!("arn:aws:sts::111122223333:assumed-role/other/someone");
        let user = json!({"userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/bob"},
                          "eventTime": "2026-11-24T13:12:01Z", "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets"});
        let late = record(
            "alice",
            "alice",
            "s3.amazonaws.com",
            "ListBuckets",
            "2026-11-25T13:12:01Z",
            "ASIA2",
        );
        let call = delete_by("tollgate-01A", "ci-bot", "2026-11-24T13:12:01Z", "ASIA1");
        let c = calls(vec![other, user, late, call.clone(), call]);
        let r = reconcile(&c, &target(), &one_executed(), window());
        assert_eq!(reasons(&r), Vec::<String>::new());
        assert_eq!((r.ignored, r.explained), (3, 1));
    }

    #[test]
    fn session_names_parse_strictly() {
        assert_eq!(
            Session::parse("tollgate-01A"),
            Some(Session::Executor("01A"))
        );
        assert_eq!(
            Session::parse("tollgate-preview-01A"),
            Some(Session::Preview("01A"))
        );
        assert_eq!(
            Session::parse("tollgate-01A-3"),
            Some(Session::Step("01A", 3))
        );
        for s in [
            Session::Executor("01A"),
            Session::Preview("01A"),
            Session::DryRun("01A"),
            Session::Step("01A", 12),
        ] {
            assert_eq!(Session::parse(&s.name()), Some(s));
        }
        for bad in [
            "tollgate-",
            "tollgate-preview-",
            "tollgate-preview-dryrun-",
            "tollgate-preview-dryrun-01A-1",
            "x-01A",
            "tollgate-01A/x",
            "tollgate-01 A",
            "tollgate-01A-",
            "tollgate-01A-03",
            "tollgate-01A-+1",
            "tollgate-01A-1-2",
        ] {
            assert_eq!(Session::parse(bad), None, "{bad}");
        }
    }
}
