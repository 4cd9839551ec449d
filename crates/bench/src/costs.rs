//! What one request of each kind asks of AWS, read from the local host's trace of every call
//! it forwarded (`Stack::start_trace`): round trips by service, how many of them one after
//! another, DynamoDB units computed from the item sizes, and from those the price on AWS and a
//! modelled latency. Counted, not estimated; the prices and latencies are stated inputs.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use tollgate_local::server::Traced;

/// Public on-demand prices, us-east-1, in USD per million units. From the AWS pricing pages
/// as last read for this bench (no network here to re-read them); recompute with yours.
pub const PRICES_AS_OF: &str = "AWS pricing pages for us-east-1 as known to the author at 2025-06 (not re-read: this machine has no web access); check https://aws.amazon.com/{api-gateway,lambda,dynamodb,step-functions,sns}/pricing/";
/// API Gateway HTTP API, per million requests (first 300 million a month).
pub const API_GATEWAY_PER_M: f64 = 1.00;
/// Lambda requests, per million.
pub const LAMBDA_REQUESTS_PER_M: f64 = 0.20;
/// Lambda arm64 duration, per GB-second (first 6 billion GB-s a month).
pub const LAMBDA_ARM_GB_SECOND: f64 = 0.000_013_333_4;
/// The template's `MemorySize` (infra/template.yaml, Globals).
pub const LAMBDA_GB: f64 = 0.25;
/// DynamoDB on-demand write and read request units, per million (the November 2024 prices).
pub const DYNAMODB_WRU_PER_M: f64 = 0.625;
pub const DYNAMODB_RRU_PER_M: f64 = 0.125;
/// Step Functions Standard, per million state transitions ($0.025 per 1,000).
pub const SFN_TRANSITION_PER_M: f64 = 25.0;
/// SNS publishes, per million (deliveries are extra: e-mail $2 per 100,000, HTTP $0.60/M).
pub const SNS_PUBLISH_PER_M: f64 = 0.50;

/// Typical in-region latency of one round trip, in ms, for the model. Only DynamoDB's is a
/// published figure ("single-digit milliseconds"); the others are assumptions, stated so the
/// model can be recomputed with measured ones.
pub fn typical_ms(operation: &str) -> f64 {
    let op = operation.rsplit('.').next().unwrap_or(operation);
    match service(operation) {
        "DynamoDB" if op == "TransactWriteItems" => 10.0,
        "DynamoDB" => 5.0,
        "STS" => 30.0,
        "Lambda" => 15.0,
        "Step Functions" => 20.0,
        "SNS" => 20.0,
        "Secrets Manager" => 10.0,
        _ => 10.0,
    }
}

pub const LATENCY_SOURCES: &str = "DynamoDB GetItem/PutItem 5 ms (AWS: \"single-digit millisecond\" in-region), TransactWriteItems 10 ms (two phases; assumption); STS AssumeRole 30 ms, Lambda synchronous invoke overhead 15 ms, Step Functions and SNS calls 20 ms, API Gateway HTTP API 10 ms: assumptions, no published figure";
/// API Gateway's own share of a request, in ms (assumption, see [`LATENCY_SOURCES`]).
pub const API_GATEWAY_MS: f64 = 10.0;

/// The AWS service of an operation as the host names it.
pub fn service(operation: &str) -> &'static str {
    match operation.split(['.', ' ']).next().unwrap_or("") {
        "DynamoDB_20120810" => "DynamoDB",
        "AWSStepFunctions" => "Step Functions",
        "SNS" => "SNS",
        "Lambda" => "Lambda",
        "secretsmanager" => "Secrets Manager",
        "AmazonSSM" => "SSM",
        "AssumeRole" | "GetCallerIdentity" => "STS",
        _ => "other",
    }
}

fn is_invoke(t: &Traced) -> bool {
    t.operation.starts_with("Lambda.Invoke")
}

/// DynamoDB's size of an attribute value, as it bills it.
fn value_size(v: &Value) -> u64 {
    let Some((kind, inner)) = v.as_object().and_then(|m| m.iter().next()) else {
        return 0;
    };
    let text = |v: &Value| v.as_str().map_or(0, |s| s.len() as u64);
    match kind.as_str() {
        "S" => text(inner),
        // Numbers: about one byte per two significant digits, plus one.
        "N" => text(inner).div_ceil(2) + 1,
        // Base64 on the wire.
        "B" => text(inner) * 3 / 4,
        "BOOL" | "NULL" => 1,
        "SS" | "NS" | "BS" => inner.as_array().map_or(0, |a| a.iter().map(text).sum()),
        "M" => 3 + inner.as_object().map_or(0, item_size),
        "L" => {
            3 + inner
                .as_array()
                .map_or(0, |a| a.iter().map(|e| 1 + value_size(e)).sum())
        }
        _ => 0,
    }
}

/// DynamoDB's size of an item: every attribute's name and value.
pub fn item_size(item: &Map<String, Value>) -> u64 {
    item.iter()
        .map(|(name, v)| name.len() as u64 + value_size(v))
        .sum()
}

fn units(bytes: u64, unit: u64) -> u64 {
    bytes.div_ceil(unit).max(1)
}

/// DynamoDB request units of the traced calls, computed from the item sizes in their bodies
/// (not `ReturnConsumedCapacity`, which the emulator does not report faithfully): writes in
/// transactions count two units per KB, consistent reads one per 4 KB; each write of a
/// request's main item also writes both indexes (by agent, in place; by status, a delete and
/// a put when the status changes).
#[derive(Debug, Default, Clone, Copy)]
pub struct Units {
    pub read: f64,
    pub write: f64,
    pub index_write: f64,
    /// Of `index_write`: the `by-agent` index (one partition key per agent) and the
    /// `by-status-shard` index (8 keys per status), apart for the partition limits.
    pub by_agent: f64,
    pub by_status: f64,
}

pub fn dynamodb_units(trace: &[&Traced]) -> Units {
    let mut u = Units::default();
    let mut last_status: BTreeMap<String, String> = BTreeMap::new();
    for t in trace {
        let Some(op) = t.operation.strip_prefix("DynamoDB_20120810.") else {
            continue;
        };
        let body = |b: &Option<bytes::Bytes>| -> Value {
            b.as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null)
        };
        let (req, ans) = (body(&t.request), body(&t.answer));
        let consistent = req["ConsistentRead"].as_bool() == Some(true);
        let read_units =
            |bytes: u64| units(bytes, 4096) as f64 * if consistent { 1.0 } else { 0.5 };
        let mut put = |item: &Map<String, Value>, transactional: bool, u: &mut Units| {
            let size = item_size(item);
            u.write += units(size, 1024) as f64 * if transactional { 2.0 } else { 1.0 };
            let key = |k: &str| item.get(k).and_then(|v| v["S"].as_str()).unwrap_or("");
            if key("sk") == "META" && item.contains_key("status") {
                let status = key("status").to_string();
                let index = units(size, 1024) as f64;
                let moved = match last_status.insert(key("pk").to_string(), status.clone()) {
                    Some(before) if before != status => 2.0,
                    _ => 1.0,
                };
                u.index_write += index + index * moved;
                u.by_agent += index;
                u.by_status += index * moved;
            }
        };
        match op {
            "TransactWriteItems" => {
                for item in req["TransactItems"].as_array().into_iter().flatten() {
                    if let Some(i) = item["Put"]["Item"].as_object() {
                        put(i, true, &mut u);
                    } else {
                        // Update, Delete, ConditionCheck: at least two units each.
                        u.write += 2.0;
                    }
                }
            }
            "PutItem" => {
                if let Some(i) = req["Item"].as_object() {
                    put(i, false, &mut u);
                }
            }
            "UpdateItem" | "DeleteItem" => u.write += 1.0,
            "GetItem" => {
                u.read += read_units(ans["Item"].as_object().map_or(0, item_size));
            }
            "Query" | "Scan" => {
                let bytes = ans["Items"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_object)
                    .map(item_size)
                    .sum();
                u.read += read_units(bytes);
            }
            _ => {}
        }
    }
    u
}

/// What each DynamoDB write of the traced calls wrote: per call, each item's kind (its sort
/// key up to `#`), size and write units (indexes apart), so the units can be traced to items.
pub fn write_breakdown(trace: &[&Traced]) -> Vec<String> {
    let mut out = Vec::new();
    for t in trace {
        let Some(op) = t.operation.strip_prefix("DynamoDB_20120810.") else {
            continue;
        };
        let req: Value = t
            .request
            .as_deref()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        let describe = |item: &Map<String, Value>, transactional: bool| {
            let size = item_size(item);
            let sk = item.get("sk").and_then(|v| v["S"].as_str()).unwrap_or("?");
            let kind = sk.split('#').next().unwrap_or(sk);
            let units = units(size, 1024) * if transactional { 2 } else { 1 };
            format!("{kind} {size} B = {units}")
        };
        let items: Vec<String> = match op {
            "TransactWriteItems" => req["TransactItems"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| match i["Put"]["Item"].as_object() {
                    Some(item) => describe(item, true),
                    None => {
                        let kind = i.as_object().and_then(|m| m.keys().next()).cloned();
                        format!("{} = 2", kind.unwrap_or_default())
                    }
                })
                .collect(),
            "PutItem" => req["Item"]
                .as_object()
                .map(|i| describe(i, false))
                .into_iter()
                .collect(),
            "UpdateItem" | "DeleteItem" => vec![format!("{op} = 1")],
            _ => continue,
        };
        out.push(format!("{op} [{}]", items.join(", ")));
    }
    out
}

/// The trips in waves: a wave is a set of calls in flight together; the next wave starts
/// when nothing of the last is in flight any more. Invocations are left out (the calls made
/// inside them are in the trace on their own), and so is the call itself.
pub fn waves<'a>(trips: &[&'a Traced]) -> Vec<Vec<&'a Traced>> {
    let mut sorted: Vec<&Traced> = trips.iter().copied().filter(|t| !is_invoke(t)).collect();
    sorted.sort_by_key(|t| t.started);
    let mut waves: Vec<Vec<&Traced>> = Vec::new();
    let mut end: Option<std::time::Instant> = None;
    for t in sorted {
        match end {
            Some(e) if t.started < e => {
                if let Some(w) = waves.last_mut() {
                    w.push(t);
                }
                end = Some(e.max(t.ended));
            }
            _ => {
                waves.push(vec![t]);
                end = Some(t.ended);
            }
        }
    }
    waves
}

/// One request's trips, the call itself taken out.
pub struct Kind<'a> {
    pub trips: Vec<&'a Traced>,
    /// The call the request made, when it passed through the local host (the executor may
    /// send it to the emulator directly).
    pub call: Option<&'a Traced>,
    /// Whether the request runs a call at all.
    pub runs_call: bool,
}

impl<'a> Kind<'a> {
    /// `call`: the operation the request runs (the last call of it in the trace is the
    /// executor's; earlier ones are the impact preview's reads).
    pub fn new(trace: &'a [Traced], call: Option<&str>) -> Self {
        let call_at = call.and_then(|c| trace.iter().rposition(|t| t.operation == c));
        let trips = trace
            .iter()
            .enumerate()
            .filter(|(i, _)| Some(*i) != call_at)
            .map(|(_, t)| t)
            .collect();
        Kind {
            trips,
            call: call_at.map(|i| &trace[i]),
            runs_call: call.is_some(),
        }
    }

    pub fn by_service(&self) -> String {
        let mut m: BTreeMap<&str, BTreeMap<String, usize>> = BTreeMap::new();
        for t in &self.trips {
            let op = t
                .operation
                .rsplit(['.'])
                .next()
                .unwrap_or(&t.operation)
                .to_string();
            *m.entry(service(&t.operation))
                .or_default()
                .entry(op)
                .or_default() += 1;
        }
        m.iter()
            .map(|(s, ops)| {
                let n: usize = ops.values().sum();
                let list: Vec<String> = ops.iter().map(|(o, k)| format!("{o} {k}")).collect();
                format!("{s} {n} ({})", list.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn invocations(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for t in self.trips.iter().filter(|t| is_invoke(t)) {
            // A name or an ARN (Step Functions invokes by ARN).
            let f = t
                .operation
                .rsplit([' ', ':'])
                .next()
                .unwrap_or("")
                .to_string();
            *m.entry(f).or_default() += 1;
        }
        m
    }

    /// The trips in order: waves joined by `→`, calls in flight together by `‖`.
    pub fn sequence(&self) -> String {
        let mut steps: Vec<(std::time::Instant, String)> = waves(&self.trips)
            .iter()
            .map(|w| {
                let ops: Vec<&str> = w
                    .iter()
                    .map(|t| t.operation.rsplit('.').next().unwrap_or(&t.operation))
                    .collect();
                (w[0].started, ops.join(" ‖ "))
            })
            .collect();
        for t in self.trips.iter().filter(|t| is_invoke(t)) {
            let f = t.operation.rsplit([' ', ':']).next().unwrap_or("");
            steps.push((t.started, format!("Invoke {f} [")));
            steps.push((t.ended, "]".into()));
        }
        steps.sort_by_key(|(at, _)| *at);
        steps
            .into_iter()
            .map(|(_, s)| s)
            .collect::<Vec<_>>()
            .join(" → ")
            .replace("[ → ", "[")
            .replace(" → ]", "]")
    }

    /// Sequential round trips: the waves, plus each synchronous invocation on the way.
    pub fn sequential(&self) -> usize {
        waves(&self.trips).len() + self.trips.iter().filter(|t| is_invoke(t)).count()
    }

    /// Modelled time in AWS calls (each wave as long as its slowest call, each invocation its
    /// overhead, and the call itself as one DynamoDB read when `call` was asked for), in ms.
    pub fn modelled_ms(&self) -> f64 {
        let waves: f64 = waves(&self.trips)
            .iter()
            .map(|w| {
                w.iter()
                    .map(|t| typical_ms(&t.operation))
                    .fold(0.0, f64::max)
            })
            .sum();
        let invokes = self.trips.iter().filter(|t| is_invoke(t)).count() as f64;
        let call = if self.runs_call { 5.0 } else { 0.0 };
        waves + invokes * typical_ms("Lambda.Invoke") + call
    }

    /// The trips made inside the invocations (the executor's, the notifier's), apart from
    /// the API's own.
    pub fn split_by_function(&self) -> (Kind<'a>, Kind<'a>) {
        let invokes: Vec<&Traced> = self
            .trips
            .iter()
            .copied()
            .filter(|t| is_invoke(t))
            .collect();
        let inside = |t: &Traced| {
            invokes
                .iter()
                .any(|i| i.started <= t.started && t.ended <= i.ended)
        };
        let (inner, outer): (Vec<&Traced>, Vec<&Traced>) = self
            .trips
            .iter()
            .copied()
            .filter(|t| !is_invoke(t))
            .partition(|t| inside(t));
        let mut outer = outer;
        outer.extend(invokes);
        (
            Kind {
                trips: outer,
                call: None,
                runs_call: false,
            },
            Kind {
                trips: inner,
                call: self.call,
                runs_call: self.runs_call,
            },
        )
    }

    pub fn count(&self, service_name: &str, op: &str) -> usize {
        self.trips
            .iter()
            .filter(|t| service(&t.operation) == service_name && t.operation.ends_with(op))
            .count()
    }
}

/// Default quotas the capacity model compares the measured use with: us-east-1, per account
/// and Region unless stated. Stated inputs like the prices; recompute with your account's.
pub const QUOTAS_AS_OF: &str = "AWS's published default quotas for us-east-1 as known to the author at 2025-06 (not re-read: this machine has no web access); check the Service Quotas console or https://docs.aws.amazon.com/{lambda/latest/dg/gettingstarted-limits,apigateway/latest/developerguide/http-api-quotas,step-functions/latest/dg/service-quotas,amazondynamodb/latest/developerguide/ServiceQuotas,IAM/latest/UserGuide/reference_iam-quotas}.html";

/// A busy team's load (issue 20): 50 calls/s.
pub const BUSY_TEAM_PER_S: f64 = 50.0;
/// The share of held writes in that load, for the Step Functions rows (an assumption: agents
/// mostly read).
pub const HELD_SHARE: f64 = 0.1;

/// One limit of the capacity model: `limit` per second (or concurrent, for Lambda) against
/// what one call of its kind uses of it (`per_call`, from the measured trace).
pub struct Limit {
    pub what: String,
    pub per_call: f64,
    pub limit: f64,
    /// The share of the load that is this limit's kind of call.
    pub share: f64,
    pub deployment: &'static str,
}

impl Limit {
    /// The team's calls per second (all kinds) at which this limit is reached.
    pub fn reached_at(&self) -> f64 {
        if self.per_call <= 0.0 || self.share <= 0.0 {
            return f64::INFINITY;
        }
        self.limit / (self.per_call * self.share)
    }

    /// How much of the limit `calls_per_s` (all kinds) uses, 1.0 at the limit.
    pub fn used(&self, calls_per_s: f64) -> f64 {
        calls_per_s * self.share * self.per_call / self.limit
    }
}

/// Price of one million requests that each use these amounts, by line.
pub struct Price {
    pub api_gateway: f64,
    pub lambda: f64,
    pub dynamodb: f64,
    pub step_functions: f64,
    pub sns: f64,
}

impl Price {
    pub fn total(&self) -> f64 {
        self.api_gateway + self.lambda + self.dynamodb + self.step_functions + self.sns
    }
}

/// `billed_ms`: the billed duration of all the Lambda invocations a request makes together
/// (the api's included), each rounded up to the millisecond by Lambda.
pub fn price(
    http_requests: f64,
    invocations: f64,
    billed_ms: f64,
    units: Units,
    transitions: f64,
    publishes: f64,
) -> Price {
    let gb_seconds = billed_ms.ceil() / 1000.0 * LAMBDA_GB;
    Price {
        api_gateway: http_requests * API_GATEWAY_PER_M,
        lambda: invocations * LAMBDA_REQUESTS_PER_M + gb_seconds * LAMBDA_ARM_GB_SECOND * 1e6,
        dynamodb: (units.write + units.index_write) * DYNAMODB_WRU_PER_M
            + units.read * DYNAMODB_RRU_PER_M,
        step_functions: transitions * SFN_TRANSITION_PER_M,
        sns: publishes * SNS_PUBLISH_PER_M,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn item_sizes_follow_dynamodbs_rules() {
        let item = json!({"pk": {"S": "REQ#1"}, "n": {"N": "12345"}, "ok": {"BOOL": true},
            "m": {"M": {"a": {"S": "xy"}}}, "l": {"L": [{"S": "abc"}]}});
        // pk 2+5, n 1+4, ok 2+1, m 1+3+(1+2), l 1+3+(1+3)
        assert_eq!(item_size(item.as_object().unwrap()), 7 + 5 + 3 + 7 + 8);
    }

    #[test]
    fn a_limit_is_reached_where_the_kinds_share_of_calls_uses_it_up() {
        // Held writes are a tenth of the calls and each starts one execution: 300 starts/s
        // are 3,000 calls/s.
        let starts = Limit {
            what: String::new(),
            per_call: 1.0,
            limit: 300.0,
            share: 0.1,
            deployment: "",
        };
        assert_eq!(starts.reached_at(), 3000.0);
        assert_eq!(starts.used(3000.0), 1.0);
        let unused = Limit {
            per_call: 0.0,
            ..starts
        };
        assert!(unused.reached_at().is_infinite());
    }

    #[test]
    fn overlapping_calls_are_one_wave() {
        let t0 = std::time::Instant::now();
        let at = |s: u64, e: u64, op: &str| Traced {
            operation: op.into(),
            started: t0 + std::time::Duration::from_millis(s),
            ended: t0 + std::time::Duration::from_millis(e),
            request: None,
            answer: None,
        };
        let trace = [
            at(0, 10, "DynamoDB_20120810.TransactWriteItems"),
            at(10, 100, "Lambda.Invoke executor"),
            at(12, 20, "DynamoDB_20120810.TransactWriteItems"),
            at(13, 30, "AssumeRole"),
            at(31, 40, "DynamoDB_20120810.DescribeTable"),
            at(41, 50, "DynamoDB_20120810.TransactWriteItems"),
        ];
        let kind = Kind::new(&trace, Some("DynamoDB_20120810.DescribeTable"));
        assert_eq!(waves(&kind.trips).len(), 3);
        assert_eq!(kind.sequential(), 4);
        let (api, executor) = kind.split_by_function();
        assert_eq!(api.trips.len(), 2);
        assert_eq!(executor.trips.len(), 3);
        assert!(executor.call.is_some());
    }
}
