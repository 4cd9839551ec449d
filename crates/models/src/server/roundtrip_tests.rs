//! Round trips over every operation of every embedded model, proving the server side against
//! the client side this crate already checks against botocore:
//! - inputs: generated parameters, built by `build_request`, decoded by `decode_request`, must
//!   come back as the generator expects;
//! - outputs: generated outputs, encoded by `encode_response`, parsed by `parse_response`, must
//!   come back the same;
//! - errors: `encode_error` for every service, read back by `parse_response`.
//!
//! Generation is seeded per (service, operation, case), so every run is the same. The
//! generator covers every shape type (structures, unions, lists, maps, flattened lists and
//! maps, timestamps in each format and in several input forms, blobs, booleans, integers,
//! longs, floats, enums, documents, JSON-value headers) in every location (body, URI labels,
//! greedy labels, query strings, query maps, headers, header lists, prefix headers, status
//! codes, blob, string and structure payloads, XML attributes).
//!
//! The generator returns, with each value, what must come back (`None`: the wire cannot carry
//! it). These are the documented normalisations, each a property of the wire format:
//! - timestamps come back as ISO 8601 UTC whatever form they were given in; headers and HTTP
//!   dates carry whole seconds (the builder truncates header timestamps);
//! - blobs come back as padded base64;
//! - query and ec2: an empty structure writes nothing (absent; `{}` as a map value); ec2
//!   writes nothing for an empty list;
//! - XML: an empty flattened list or map writes nothing;
//! - headers and query strings carry no empty list or map;
//! - an empty blob or string payload is an empty body (absent); rest-json sends `{}` for an
//!   absent structure payload, which decodes as absent;
//! - members the builder fills may come back although not generated: checksum headers and the
//!   checksum algorithm member, rest-json's default `Content-Type`, API Gateway's `Accept`.
//!
//! And for outputs: structure, blob and string payloads are always present once parsed (an
//! empty body parses as `{}` or `""`), so they are always generated; status code members always
//! come back; `Content-Length` is the body's length when there is a body.
//!
//! What the generator does not produce: control characters in headers, XML and URI labels (the
//! builder refuses them in headers; XML 1.0 cannot carry most), leading or trailing blanks in
//! headers (HTTP trims them), non-ASCII header values, `.` in URI labels (dot segments),
//! `,` in output header list items (boto3 splits on it), documents outside JSON bodies (the
//! builder refuses them), checksum algorithms other than CRC32/CRC32C (refused), SSE-C keys
//! without their MD5 (refused). Event-stream operations are excluded (neither side carries
//! them).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Number, Value, json};

use crate::encode::{b64_encode, py_number};
use crate::model::{Location, Protocol, Ref, ServiceModel, Shape, ShapeType, load, services};
use crate::server::{WireRequest, decode_request, encode_error, encode_response};
use crate::timestamp::{Timestamp, TsFormat};
use crate::{BuildError, build_request, parse_response};

/// splitmix64: small, seedable, good enough to pick values.
struct Rng(u64);

impl Rng {
    fn new(parts: &[&str]) -> Rng {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for p in parts {
            for b in p.bytes().chain([0]) {
                h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        Rng(h)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Where a value travels: what characters and forms it can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ctx {
    Json,
    Xml,
    Query,
    Ec2,
    QueryString,
    Label,
    Header,
}

impl Ctx {
    fn is_query(self) -> bool {
        matches!(self, Ctx::Query | Ctx::Ec2)
    }
}

const PLAIN: &[char] = &['a', 'B', 'z', '0', '7', '-', '_', '~'];
const SPECIAL: &[char] = &[
    ' ', '/', '%', '+', '?', '#', '&', '=', ':', ';', ',', '"', '\'', '<', '>', '*', '@', '!', '(',
    '$', '[', '\\', 'é', 'ß', '€', '中', '😀',
];
const ASCII_SPECIAL: &[char] = &[
    ' ', '/', '%', '+', '?', '#', '&', '=', ':', ';', '"', '\'', '<', '>', '*', '@', '!', '(', '$',
    '[', '\\', '.', ',',
];

/// Generates values of shapes with what must come back; `output`: values as
/// `parse_response` returns them.
struct Gen<'m> {
    model: &'m ServiceModel,
    rng: Rng,
    full: bool,
    output: bool,
    budget: usize,
    /// Set when an output holds members sharing an element (the parser fills both).
    ambiguous: bool,
    /// What was generated and must come back: "context kind" -> count.
    seen: BTreeMap<String, usize>,
}

impl<'m> Gen<'m> {
    /// Case 0 fills every member it can (to a depth), case 1 a random subset, deeper.
    fn new(model: &'m ServiceModel, seed: &[&str], case: usize, output: bool) -> Gen<'m> {
        let case_text = case.to_string();
        let mut parts = seed.to_vec();
        parts.push(&case_text);
        Gen {
            model,
            rng: Rng::new(&parts),
            full: case == 0,
            output,
            budget: 300,
            ambiguous: false,
            seen: BTreeMap::new(),
        }
    }

    fn string(&mut self, shape: &Shape, ctx: Ctx) -> String {
        if let Some(values) = &shape.enum_values
            && !values.is_empty()
        {
            return self.rng.pick(values).clone();
        }
        let min = shape.min.unwrap_or(0.0).max(0.0) as usize;
        let max = shape.max.map_or(usize::MAX, |m| m.max(0.0) as usize);
        let floor = match ctx {
            Ctx::Label | Ctx::Header => min.max(1),
            _ => min,
        };
        let len = if floor > 8 {
            floor.min(4096)
        } else {
            (floor + self.rng.below(7) as usize).clamp(floor, max.min(floor.max(8)))
        };
        let mut s = String::new();
        for i in 0..len {
            let special = self.rng.chance(35);
            let c = match ctx {
                Ctx::Header => {
                    let edge = i == 0 || i + 1 == len;
                    if special && !edge {
                        let c = *self.rng.pick(ASCII_SPECIAL);
                        if self.output && (c == ',' || c == '"') {
                            'x'
                        } else {
                            c
                        }
                    } else {
                        *self.rng.pick(PLAIN)
                    }
                }
                Ctx::Label => {
                    if special {
                        *self.rng.pick(SPECIAL)
                    } else {
                        *self.rng.pick(PLAIN)
                    }
                }
                Ctx::Json | Ctx::Query if special && self.rng.chance(10) => {
                    *self.rng.pick(&['\n', '\t'])
                }
                _ if special => *self.rng.pick(SPECIAL),
                _ => *self.rng.pick(PLAIN),
            };
            s.push(c);
        }
        s
    }

    fn integer(&mut self, shape: &Shape, long: bool) -> i64 {
        let (lo, hi) = if long {
            (i64::MIN / 2, i64::MAX / 2)
        } else {
            (i64::from(i32::MIN), i64::from(i32::MAX))
        };
        let lo = shape.min.map_or(lo, |m| (m.ceil() as i64).max(lo));
        let hi = shape.max.map_or(hi, |m| (m.floor() as i64).min(hi));
        if lo >= hi {
            return lo;
        }
        match self.rng.below(4) {
            0 => lo,
            1 => hi,
            2 => lo.saturating_add(self.rng.below(10) as i64).min(hi),
            _ => {
                let span = (hi as i128 - lo as i128 + 1) as u128;
                (lo as i128 + (u128::from(self.rng.next()) % span) as i128) as i64
            }
        }
    }

    fn float(&mut self, shape: &Shape, ctx: Ctx) -> Value {
        let lo = shape.min.unwrap_or(-1e6);
        let hi = shape.max.unwrap_or(1e6).max(lo);
        let f = match self.rng.below(5) {
            0 => lo,
            1 => hi,
            2 => 1.5e300_f64.clamp(lo, hi),
            _ => {
                let eighths = (self.rng.below(8_000_001) as f64 - 4_000_000.0) / 8.0;
                eighths.clamp(lo, hi)
            }
        };
        // Text formats read an integer literal back as an integer; parsed XML and headers
        // always read a float.
        let text_output = self.output && ctx != Ctx::Json;
        if f.fract() == 0.0 && f.abs() < 1e15 && !text_output && self.rng.chance(40) {
            Value::from(f as i64)
        } else {
            Number::from_f64(f).map_or(Value::from(0), Value::Number)
        }
    }

    /// (what to give, what comes back) for a timestamp.
    fn timestamp(&mut self, r: Ref<'_>, ctx: Ctx) -> (Value, Value) {
        let default = match ctx {
            Ctx::Json => TsFormat::UnixTimestamp,
            Ctx::Header => TsFormat::Rfc822,
            _ => TsFormat::Iso8601,
        };
        let format = TsFormat::from_trait(r.timestamp_format(), default);
        let secs = self.rng.below(4_102_444_800) as i64 - 86_400 * 365 * 5;
        let whole = ctx == Ctx::Header || format == TsFormat::Rfc822;
        let micros = if whole {
            0
        } else {
            (self.rng.below(1000) * 1000) as u32
        };
        let t = Timestamp { secs, micros };
        if self.output {
            return (json!(t.python_iso()), json!(t.python_iso()));
        }
        let given = match self.rng.below(4) {
            0 => json!(t.iso8601()),
            1 if micros == 0 => json!(secs),
            1 => json!(secs as f64 + f64::from(micros) / 1e6),
            2 => {
                // The same instant an hour and a half east of UTC.
                let local = Timestamp {
                    secs: secs + 5400,
                    micros,
                };
                let iso = local.iso8601();
                json!(format!("{}+01:30", iso.trim_end_matches('Z')))
            }
            _ => json!(t.python_iso()),
        };
        (given, json!(t.iso8601()))
    }

    fn blob(&mut self, min_len: usize) -> (Value, Value) {
        let len = min_len + self.rng.below(6) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| self.rng.next() as u8).collect();
        let canonical = b64_encode(&bytes);
        let given = if !self.output && self.rng.chance(25) {
            canonical.trim_end_matches('=').to_string()
        } else {
            canonical.clone()
        };
        (json!(given), json!(canonical))
    }

    fn document(&mut self) -> Value {
        json!({"k": self.rng.below(100), "nested": [true, null, "x é"], "f": 1.5})
    }

    /// A value of `r` in `ctx`: (given, expected back; None if the wire drops it).
    fn note(&mut self, ctx: &str, kind: &str) {
        *self.seen.entry(format!("{ctx} {kind}")).or_default() += 1;
    }

    fn value(&mut self, r: Ref<'_>, ctx: Ctx, depth: usize) -> Option<(Value, Option<Value>)> {
        let out = self.value_inner(r, ctx, depth)?;
        if out.1.is_some() {
            let kind = match r.ty() {
                ShapeType::Structure if r.shape.document => "document".to_string(),
                ShapeType::Structure if r.shape.union => "union".to_string(),
                ShapeType::List | ShapeType::Map if r.flattened() => {
                    format!("flattened {:?}", r.ty()).to_lowercase()
                }
                ShapeType::String if r.is_json_value_header() => "json value".to_string(),
                ShapeType::String if r.shape.enum_values.is_some() => "enum".to_string(),
                ShapeType::Timestamp => {
                    format!("timestamp {}", r.timestamp_format().unwrap_or("default"))
                        .to_lowercase()
                }
                t => format!("{t:?}").to_lowercase(),
            };
            self.note(&format!("{ctx:?}").to_lowercase(), &kind);
        }
        Some(out)
    }

    fn value_inner(
        &mut self,
        r: Ref<'_>,
        ctx: Ctx,
        depth: usize,
    ) -> Option<(Value, Option<Value>)> {
        self.budget = self.budget.saturating_sub(1);
        let shape = r.shape;
        Some(match shape.ty {
            ShapeType::Structure if shape.document => {
                if ctx != Ctx::Json {
                    return None;
                }
                let d = self.document();
                (d.clone(), Some(d))
            }
            ShapeType::Structure => {
                let (given, back) = self.structure(shape, ctx, depth)?;
                let vanishes = ctx.is_query() && back.is_empty();
                (
                    Value::Object(given),
                    (!vanishes).then_some(Value::Object(back)),
                )
            }
            ShapeType::List => self.list(r, ctx, depth)?,
            ShapeType::Map => self.map(r, ctx, depth)?,
            ShapeType::String => {
                let policy = r.r.is_some_and(|m| m.shape == "policyDocumentType");
                if self.output && policy && self.model.service_name() == "iam" {
                    // boto3 hands IAM policy documents over decoded.
                    let doc = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                        "Action": "s3:GetObject", "Resource": format!("arn:aws:s3:::b/{}", self.rng.below(99))}]});
                    return Some((doc.clone(), Some(doc)));
                }
                if r.is_json_value_header() {
                    let d = self.document();
                    return Some((d.clone(), Some(d)));
                }
                let s = self.string(shape, ctx);
                (json!(s), Some(json!(s)))
            }
            ShapeType::Integer | ShapeType::Long => {
                let n = self.integer(shape, shape.ty == ShapeType::Long);
                (json!(n), Some(json!(n)))
            }
            ShapeType::Float | ShapeType::Double => {
                let f = self.float(shape, ctx);
                (f.clone(), Some(f))
            }
            ShapeType::Boolean => {
                let b = self.rng.chance(50);
                (json!(b), Some(json!(b)))
            }
            ShapeType::Timestamp => {
                let (g, b) = self.timestamp(r, ctx);
                (g, Some(b))
            }
            ShapeType::Blob => {
                let (g, b) = self.blob(0);
                (g, Some(b))
            }
            ShapeType::Other => return None,
        })
    }

    fn structure(
        &mut self,
        shape: &Shape,
        ctx: Ctx,
        depth: usize,
    ) -> Option<(Map<String, Value>, Map<String, Value>)> {
        let mut given = Map::new();
        let mut back = Map::new();
        let names: Vec<&String> = if shape.union {
            let usable: Vec<&String> = shape
                .members
                .iter()
                .filter(|(_, m)| self.usable(m, ctx))
                .map(|(n, _)| n)
                .collect();
            // Deep in a recursive union, prefer a member that ends the recursion.
            let leaves: Vec<&String> = usable
                .iter()
                .copied()
                .filter(|n| {
                    self.model
                        .shapes
                        .get(&shape.members[*n].shape)
                        .is_some_and(|s| !matches!(s.ty, ShapeType::List | ShapeType::Map))
                })
                .collect();
            let pool = if depth > 8 && !leaves.is_empty() {
                leaves
            } else {
                usable
            };
            if pool.is_empty() || depth > 40 {
                return None;
            }
            vec![*self.rng.pick(&pool)]
        } else {
            shape
                .members
                .iter()
                .filter(|(n, m)| {
                    let required = shape.required.contains(n) || m.idempotency_token;
                    required || self.wanted(depth)
                })
                .map(|(n, _)| n)
                .collect()
        };
        let mut elements: Vec<&str> = Vec::new();
        for name in names {
            let m = &shape.members[name];
            if ctx == Ctx::Xml && !m.xml_attribute {
                // Two members written as the same element (S3's deprecated `Event` and
                // `Events`) cannot be told apart: only the first is generated.
                let element = self
                    .model
                    .resolve(m)
                    .ok()
                    .map(|r| crate::response::xml::member_key(r, name))
                    .unwrap_or(name);
                let element_of_request = m.location_name.as_deref().unwrap_or(name);
                if elements.contains(&element) || elements.contains(&element_of_request) {
                    // Parsed, the one element fills both members.
                    self.ambiguous |= self.output;
                    continue;
                }
                elements.push(element);
                elements.push(element_of_request);
            }
            if !self.usable(m, ctx) {
                if shape.required.contains(name) {
                    return None;
                }
                continue;
            }
            let r = self.model.resolve(m).ok()?;
            let value = if m.host_label && r.ty() == ShapeType::String {
                // Part of the host name: the builder checks its characters.
                let s = format!("h{}", self.rng.below(1_000_000));
                Some((json!(s), Some(json!(s))))
            } else if self.output && ctx == Ctx::Xml && r.xml_attribute() {
                if r.ty() != ShapeType::String {
                    continue;
                }
                let s = self.string(r.shape, Ctx::Header);
                self.note("xml", "attribute");
                Some((json!(s), Some(json!(s))))
            } else {
                let v = self.value(r, ctx, depth + 1);
                if r.xml_attribute() && v.as_ref().is_some_and(|v| v.1.is_some()) {
                    self.note("xml", "attribute");
                }
                v
            };
            match value {
                Some((g, b)) => {
                    given.insert(name.clone(), g);
                    if let Some(b) = b {
                        back.insert(name.clone(), b);
                    }
                }
                None if shape.required.contains(name) => return None,
                None => {}
            }
        }
        Some((given, back))
    }

    fn usable(&self, m: &crate::model::MemberRef, ctx: Ctx) -> bool {
        let Some(shape) = self.model.shapes.get(&m.shape) else {
            return false;
        };
        !(shape.eventstream || (shape.document && ctx != Ctx::Json) || m.eventheader)
    }

    fn wanted(&mut self, depth: usize) -> bool {
        if self.budget == 0 {
            return false;
        }
        if self.full {
            depth <= 4
        } else {
            depth <= 6 && self.rng.chance(40)
        }
    }

    fn count(&mut self, shape: &Shape, allow_empty: bool) -> usize {
        let min = shape.min.unwrap_or(0.0).max(0.0) as usize;
        let max = shape.max.map_or(usize::MAX, |m| m.max(0.0) as usize);
        let floor = if allow_empty { min } else { min.max(1) };
        if floor > 2 {
            return floor.min(64);
        }
        let n = if self.budget == 0 {
            floor
        } else {
            floor + self.rng.below(3) as usize
        };
        n.clamp(floor, max.max(floor))
    }

    fn list(&mut self, r: Ref<'_>, ctx: Ctx, depth: usize) -> Option<(Value, Option<Value>)> {
        let mr = self.model.resolve(r.shape.member.as_ref()?).ok()?;
        let flattened_xml = ctx == Ctx::Xml && r.flattened();
        let allow_empty = match ctx {
            Ctx::Json => true,
            Ctx::Xml => !flattened_xml,
            _ => false,
        };
        let n = self.count(r.shape, allow_empty);
        let mut given = Vec::new();
        let mut back = Vec::new();
        for _ in 0..n {
            let (g, b) = self.value(mr, ctx, depth + 1)?;
            given.push(g);
            if let Some(b) = b {
                back.push(b);
            }
        }
        // A list whose items all vanish (empty structures in query) writes nothing.
        let vanishes = ctx.is_query() && back.is_empty();
        Some((
            Value::Array(given),
            (!vanishes).then_some(Value::Array(back)),
        ))
    }

    fn map(&mut self, r: Ref<'_>, ctx: Ctx, depth: usize) -> Option<(Value, Option<Value>)> {
        let kr = self.model.resolve(r.shape.key.as_ref()?).ok()?;
        let vr = self.model.resolve(r.shape.value.as_ref()?).ok()?;
        let allow_empty = match ctx {
            Ctx::Json => true,
            Ctx::Xml => !r.flattened(),
            _ => false,
        };
        let n = self.count(r.shape, allow_empty);
        let mut given = Map::new();
        let mut back = Map::new();
        for i in 0..n {
            let key_ctx = if ctx == Ctx::Json {
                Ctx::Json
            } else {
                Ctx::Xml
            };
            let mut k = self.string(kr.shape, key_ctx);
            if given.contains_key(&k) {
                if kr.shape.enum_values.is_some() {
                    continue;
                }
                k.push_str(&i.to_string());
                let max = kr.shape.max.map_or(usize::MAX, |m| m as usize);
                if k.chars().count() > max || given.contains_key(&k) {
                    continue;
                }
            }
            let (g, b) = self.value(vr, ctx, depth + 1)?;
            given.insert(k.clone(), g);
            let b = match b {
                Some(b) => b,
                // An empty structure as a query map value: the key alone comes back as `{}`.
                None if vr.ty() == ShapeType::Structure => json!({}),
                None => return None,
            };
            back.insert(k, b);
        }
        if given.is_empty() && !allow_empty {
            return None;
        }
        Some((Value::Object(given), Some(Value::Object(back))))
    }
}

/// A generated call: the parameters, what must come back, and members the builder may add.
struct Input {
    given: Map<String, Value>,
    back: Map<String, Value>,
}

fn wire_name<'a>(name: &'a str, m: &'a crate::model::MemberRef) -> &'a str {
    m.location_name.as_deref().unwrap_or(name)
}

/// Generates the input of `op` (None if the generator cannot satisfy its constraints).
fn gen_input(g: &mut Gen<'_>, op: &crate::Operation<'_>) -> Option<Input> {
    let model = g.model;
    let protocol = model.protocol();
    let Some(input) = op.def.input.as_deref() else {
        return Some(Input {
            given: Map::new(),
            back: Map::new(),
        });
    };
    let shape = model.shape(input).ok()?;
    let mut given = Map::new();
    let mut back = Map::new();
    let greedy: Vec<String> = op
        .def
        .http
        .request_uri
        .split(['{', '}'])
        .filter_map(|s| s.strip_suffix('+'))
        .map(str::to_string)
        .collect();
    let algorithm_member = op
        .def
        .http_checksum
        .as_ref()
        .and_then(|h| h.request_algorithm_member.clone());
    for (name, m) in &shape.members {
        let r = model.resolve(m).ok()?;
        let required = shape.required.contains(name) || m.idempotency_token;
        let located = matches!(protocol, Protocol::RestJson | Protocol::RestXml);
        let location = if located { m.location } else { None };
        let wire = wire_name(name, m);
        if location == Some(Location::Uri) && !required {
            continue;
        }
        if !required && location != Some(Location::Uri) && !g.wanted(0) {
            continue;
        }
        let ctx = match (protocol, location) {
            (Protocol::Json, _) => Ctx::Json,
            (Protocol::Query, _) => Ctx::Query,
            (Protocol::Ec2, _) => Ctx::Ec2,
            (_, Some(Location::Uri)) => Ctx::Label,
            (_, Some(Location::QueryString)) => Ctx::QueryString,
            (_, Some(Location::Header | Location::Headers)) => Ctx::Header,
            (Protocol::RestXml, _) => Ctx::Xml,
            (Protocol::RestJson, _) => Ctx::Json,
        };
        if !g.usable(m, ctx) {
            if required {
                return None;
            }
            continue;
        }
        let is_payload = located && shape.payload.as_deref() == Some(name.as_str());
        let special = if m.host_label && r.ty() == ShapeType::String {
            let s = format!("h{}", g.rng.below(1_000_000));
            Some((json!(s), Some(json!(s))))
        } else {
            special_input(g, model, name, m, location, algorithm_member.as_deref())
        };
        let value = match special {
            Some(v) => Some(v),
            None if location == Some(Location::Header)
                && wire.eq_ignore_ascii_case("Content-Length") =>
            {
                // The HTTP layer's: the builder drops it.
                continue;
            }
            None if location == Some(Location::Headers) => {
                let vr = model.resolve(r.shape.value.as_ref()?).ok()?;
                let mut map = Map::new();
                for i in 0..1 + g.rng.below(2) {
                    let v = g.string(vr.shape, Ctx::Header);
                    map.insert(format!("m{i}-{}", g.rng.below(1000)), json!(v));
                }
                Some((Value::Object(map.clone()), Some(Value::Object(map))))
            }
            None if location == Some(Location::QueryString) && r.ty() == ShapeType::Map => {
                let vr = model.resolve(r.shape.value.as_ref()?).ok()?;
                let mut map = Map::new();
                for i in 0..1 + g.rng.below(2) {
                    let v = match vr.ty() {
                        ShapeType::List => {
                            let mr = model.resolve(vr.shape.member.as_ref()?).ok()?;
                            json!([g.string(mr.shape, Ctx::QueryString), "two"])
                        }
                        _ => json!(g.string(vr.shape, Ctx::QueryString)),
                    };
                    map.insert(format!("p{i}x{}", g.rng.below(1000)), v);
                }
                Some((Value::Object(map.clone()), Some(Value::Object(map))))
            }
            None if location == Some(Location::Uri) && greedy.iter().any(|n| n == wire) => {
                // Greedy labels keep their `/`.
                let mut s = g.string(r.shape, Ctx::Label);
                if r.shape.enum_values.is_none() && g.rng.chance(60) {
                    s = format!("{s}/x y//{}", g.string(r.shape, Ctx::Label));
                }
                Some((json!(s), Some(json!(s))))
            }
            None if is_payload => match r.ty() {
                ShapeType::Blob => {
                    let (gv, b) = g.blob(1);
                    Some((gv, Some(b)))
                }
                ShapeType::String => {
                    let s = format!("p{}", g.string(r.shape, Ctx::Json));
                    Some((json!(s.clone()), Some(json!(s))))
                }
                _ => g.value(r, ctx, 1).map(|(gv, b)| {
                    let absent = protocol == Protocol::RestJson
                        && b.as_ref()
                            .is_some_and(|b| b.as_object().is_some_and(Map::is_empty))
                        && !shape.required.contains(name);
                    (gv, if absent { None } else { b })
                }),
            },
            None => g.value(r, ctx, 1),
        };
        match value {
            Some((gv, b)) => {
                given.insert(name.clone(), gv);
                if let Some(b) = b {
                    let kind = match location {
                        Some(Location::Uri) if greedy.iter().any(|n| n == wire) => "greedy label",
                        Some(Location::Uri) => "label",
                        Some(Location::QueryString) if r.ty() == ShapeType::Map => "query map",
                        Some(Location::QueryString) if r.ty() == ShapeType::List => "query list",
                        Some(Location::QueryString) => "query string",
                        Some(Location::Header) if r.ty() == ShapeType::List => "header list",
                        Some(Location::Header) => "header",
                        Some(Location::Headers) => "prefix headers",
                        _ if is_payload => match r.ty() {
                            ShapeType::Blob => "blob payload",
                            ShapeType::String => "string payload",
                            _ => "structure payload",
                        },
                        _ => "body",
                    };
                    g.note("input", kind);
                    back.insert(name.clone(), b);
                }
            }
            None if required => return None,
            None => {}
        }
    }
    // SSE-C keys go with their MD5 (the builder refuses one without the other).
    for prefix in ["SSECustomer", "CopySourceSSECustomer"] {
        let (key, md5) = (format!("{prefix}Key"), format!("{prefix}KeyMD5"));
        if model.is_s3() && given.contains_key(&key) && !given.contains_key(&md5) {
            given.remove(&key);
            back.remove(&key);
        }
    }
    Some(Input { given, back })
}

/// Values the builder transforms, generated so that the transformation shows.
fn special_input(
    g: &mut Gen<'_>,
    model: &ServiceModel,
    name: &str,
    m: &crate::model::MemberRef,
    location: Option<Location>,
    algorithm_member: Option<&str>,
) -> Option<(Value, Option<Value>)> {
    if algorithm_member == Some(name) {
        let a = *g.rng.pick(&["CRC32", "CRC32C"]);
        return Some((json!(a), Some(json!(a))));
    }
    if model.is_s3() && name == "Expires" && location == Some(Location::Header) {
        // botocore makes S3's Expires a timestamp: the builder sends an HTTP date.
        let t = Timestamp {
            secs: g.rng.below(2_000_000_000) as i64,
            micros: 0,
        };
        return Some((json!(t.iso8601()), Some(json!(t.rfc822()))));
    }
    if model.service_name() == "route53"
        && matches!(
            m.shape.as_str(),
            "ResourceId" | "DelegationSetId" | "ChangeId"
        )
    {
        // The builder keeps what follows the last `/` (`/hostedzone/Z1` is `Z1`).
        let id = format!("Z{}", g.rng.below(1_000_000));
        let given = if g.rng.chance(50) {
            format!("/hostedzone/{id}")
        } else {
            id.clone()
        };
        return Some((json!(given), Some(json!(id))));
    }
    None
}

/// Members the builder may add: they may come back although not generated.
fn builder_fills(model: &ServiceModel, op: &crate::Operation<'_>, name: &str, v: &Value) -> bool {
    let Some(shape) = op.def.input.as_deref().and_then(|n| model.shapes.get(n)) else {
        return false;
    };
    let Some(m) = shape.members.get(name) else {
        return false;
    };
    let wire = m
        .location_name
        .as_deref()
        .unwrap_or(name)
        .to_ascii_lowercase();
    let algorithm = op
        .def
        .http_checksum
        .as_ref()
        .and_then(|h| h.request_algorithm_member.as_deref())
        == Some(name);
    let rest = matches!(model.protocol(), Protocol::RestJson | Protocol::RestXml);
    (rest && m.location == Some(Location::Header) && wire.starts_with("x-amz-checksum-"))
        || (algorithm && v == "CRC32")
        || (model.protocol() == Protocol::RestJson
            && m.location == Some(Location::Header)
            && wire == "content-type"
            && v == "application/json")
        || (model.service_name() == "apigateway"
            && m.location == Some(Location::Header)
            && wire == "accept"
            && v == "application/json")
}

fn split_url(url: &str) -> (String, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("/", |i| &rest[i..]);
    match path.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (path.to_string(), String::new()),
    }
}

#[derive(Default)]
struct Tally {
    operations: usize,
    cases: usize,
    excluded: BTreeMap<String, Vec<String>>,
    aliases: Vec<String>,
    failures: Vec<String>,
    seen: BTreeMap<String, usize>,
}

impl Tally {
    fn count_seen(&mut self, g: &mut Gen<'_>) {
        for (k, n) in std::mem::take(&mut g.seen) {
            *self.seen.entry(k).or_default() += n;
        }
    }

    fn exclude(&mut self, reason: &str, what: String) {
        self.excluded
            .entry(reason.to_string())
            .or_default()
            .push(what);
    }

    fn report(&self, what: &str) -> String {
        let mut s = format!(
            "{what}: {} operations, {} cases, {} failures\n",
            self.operations,
            self.cases,
            self.failures.len()
        );
        for (reason, ops) in &self.excluded {
            let _ = writeln!(
                s,
                "  excluded ({reason}): {} e.g. {}",
                ops.len(),
                ops.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            );
        }
        if !self.aliases.is_empty() {
            let _ = writeln!(
                s,
                "  wire-identical operations decoded as their twin: {}",
                self.aliases.join(", ")
            );
        }
        let seen: Vec<String> = self.seen.iter().map(|(k, n)| format!("{k}: {n}")).collect();
        let _ = writeln!(s, "  generated: {}", seen.join(", "));
        for f in self.failures.iter().take(15) {
            let _ = writeln!(s, "  FAIL {f}");
        }
        s
    }
}

fn diff(expected: &Map<String, Value>, got: &Map<String, Value>) -> String {
    let mut out = String::new();
    for (k, v) in expected {
        match got.get(k) {
            None => {
                let _ = write!(out, " missing {k}={v};");
            }
            Some(g) if g != v => {
                let _ = write!(out, " {k}: want {v} got {g};");
            }
            _ => {}
        }
    }
    for (k, v) in got {
        if !expected.contains_key(k) {
            let _ = write!(out, " extra {k}={v};");
        }
    }
    out
}

fn models(protocols: &[Protocol]) -> Vec<std::sync::Arc<ServiceModel>> {
    services()
        .into_iter()
        .map(|s| load(s).unwrap_or_else(|e| panic!("{e}")))
        .filter(|m| protocols.contains(&m.protocol()))
        .collect()
}

const ENDPOINT: &str = "http://127.0.0.1:5000";

fn input_round_trips(protocols: &[Protocol]) -> Tally {
    let mut t = Tally::default();
    for model in models(protocols) {
        let service = model.service_name().to_string();
        for name in model.operation_names() {
            let op = model.operation(name).unwrap();
            let id = format!("{service}.{name}");
            if op.has_event_stream() {
                t.exclude("event stream", id);
                continue;
            }
            t.operations += 1;
            for case in 0..2 {
                let mut g = Gen::new(&model, &["in", &service, name], case, false);
                let input = gen_input(&mut g, &op);
                t.count_seen(&mut g);
                let Some(input) = input else {
                    t.exclude("no input the generator can build", format!("{id}#{case}"));
                    continue;
                };
                let req =
                    match build_request(&model, name, &input.given, "us-east-1", Some(ENDPOINT)) {
                        Ok(r) => r,
                        Err(BuildError::Invalid(e)) => {
                            t.failures
                                .push(format!("{id}#{case}: generated input refused: {e}"));
                            continue;
                        }
                        Err(e) => {
                            t.exclude("refused by the builder", format!("{id}: {e}"));
                            continue;
                        }
                    };
                t.cases += 1;
                let (path, mut query) = split_url(&req.url);
                let mut body = req.body.clone();
                let mut method = req.method.clone();
                let mut headers = req.headers.clone();
                if case == 1 {
                    // As API Gateway hands them over: header names in lower case.
                    for (k, _) in &mut headers {
                        *k = k.to_ascii_lowercase();
                    }
                    if matches!(model.protocol(), Protocol::Query | Protocol::Ec2) {
                        // A GET with everything in the query string.
                        query = String::from_utf8(std::mem::take(&mut body)).unwrap();
                        method = "GET".into();
                        headers.retain(|(k, _)| !k.eq_ignore_ascii_case("content-type"));
                    }
                }
                let wire = WireRequest {
                    method: &method,
                    path: &path,
                    query: &query,
                    headers: &headers,
                    body: &body,
                };
                let decoded = match decode_request(&model, &wire) {
                    Ok(d) => d,
                    Err(e) => {
                        t.failures.push(format!(
                            "{id}#{case}: {e} ({:?})\n    {} {}?{}\n    params {}",
                            e.kind,
                            method,
                            path,
                            query,
                            Value::Object(input.given.clone())
                        ));
                        continue;
                    }
                };
                if decoded.operation != name {
                    let twin = model.operation(&decoded.operation).unwrap();
                    if twin.http_method() == op.http_method()
                        && twin.request_uri() == op.request_uri()
                        && (op.deprecated() || twin.input_shape() == op.input_shape())
                    {
                        if case == 0 {
                            t.aliases.push(format!("{id}→{}", decoded.operation));
                        }
                        continue;
                    }
                    t.failures.push(format!(
                        "{id}#{case}: decoded as {} ({} {}?{})",
                        decoded.operation, method, path, query
                    ));
                    continue;
                }
                let mut got = decoded.params;
                got.retain(|k, v| input.back.contains_key(k) || !builder_fills(&model, &op, k, v));
                if got != input.back {
                    t.failures.push(format!(
                        "{id}#{case}:{}\n    {} {}?{}",
                        diff(&input.back, &got),
                        method,
                        path,
                        query
                    ));
                }
            }
        }
    }
    t
}

/// Generates the output of `op` as `parse_response` returns it.
fn gen_output(g: &mut Gen<'_>, op: &crate::Operation<'_>) -> Option<(Value, Value)> {
    let model = g.model;
    let protocol = model.protocol();
    let Some(output) = op.def.output.as_deref() else {
        return Some((json!({}), json!({})));
    };
    let shape = model.shape(output).ok()?;
    let rest = matches!(protocol, Protocol::RestJson | Protocol::RestXml);
    let body_ctx = if protocol == Protocol::Json || protocol == Protocol::RestJson {
        Ctx::Json
    } else {
        Ctx::Xml
    };
    let mut given = Map::new();
    let mut back = Map::new();
    let has_body_members = shape.payload.is_none()
        && shape
            .members
            .values()
            .any(|m| m.location.is_none() && !m.eventheader);
    let mut payload_len = None;
    for (name, m) in &shape.members {
        let r = model.resolve(m).ok()?;
        let location = if rest { m.location } else { None };
        let is_payload = rest && shape.payload.as_deref() == Some(name.as_str());
        if !g.usable(m, body_ctx) && location.is_none() {
            continue;
        }
        let wire = wire_name(name, m);
        let length =
            location == Some(Location::Header) && wire.eq_ignore_ascii_case("Content-Length");
        if !is_payload && !length && location != Some(Location::StatusCode) && !g.wanted(0) {
            continue;
        }
        let value = match location {
            Some(Location::StatusCode) => {
                let code = op.response_code().unwrap_or(200);
                Some((json!(code), Some(json!(code))))
            }
            Some(Location::Header) if wire.eq_ignore_ascii_case("Content-Length") => {
                if has_body_members {
                    continue;
                }
                // Filled from the payload below.
                payload_len = Some(name.clone());
                continue;
            }
            Some(Location::Header) if model.is_s3() && name == "Expires" => {
                let t = Timestamp {
                    secs: g.rng.below(2_000_000_000) as i64,
                    micros: 0,
                };
                given.insert("ExpiresString".into(), json!(t.rfc822()));
                back.insert("ExpiresString".into(), json!(t.rfc822()));
                Some((json!(t.python_iso()), Some(json!(t.python_iso()))))
            }
            Some(Location::Header) => match r.ty() {
                ShapeType::List => {
                    let mr = model.resolve(r.shape.member.as_ref()?).ok()?;
                    let mut given_items = Vec::new();
                    let mut back_items = Vec::new();
                    for _ in 0..1 + g.rng.below(2) {
                        let (gv, b) = g.value(mr, Ctx::Header, 1)?;
                        given_items.push(gv);
                        back_items.push(b?);
                    }
                    Some((Value::Array(given_items), Some(Value::Array(back_items))))
                }
                _ => g.value(r, Ctx::Header, 1),
            },
            Some(Location::Headers) => {
                let vr = model.resolve(r.shape.value.as_ref()?).ok()?;
                let mut map = Map::new();
                for i in 0..1 + g.rng.below(2) {
                    map.insert(
                        format!("m{i}-{}", g.rng.below(1000)),
                        json!(g.string(vr.shape, Ctx::Header)),
                    );
                }
                Some((Value::Object(map.clone()), Some(Value::Object(map))))
            }
            _ if is_payload => match r.ty() {
                ShapeType::Blob => {
                    let (gv, b) = g.blob(0);
                    let len = crate::encode::b64_decode(gv.as_str()?)?.len();
                    given.insert("__len".into(), json!(len));
                    Some((gv, Some(b)))
                }
                ShapeType::String => {
                    let s = g.string(r.shape, Ctx::Json);
                    given.insert("__len".into(), json!(s.len()));
                    Some((json!(s), Some(json!(s))))
                }
                _ => g.value(r, body_ctx, 1),
            },
            _ => g.value(r, body_ctx, 1),
        };
        if let Some((gv, b)) = value {
            given.insert(name.clone(), gv);
            if let Some(b) = b {
                let kind = match location {
                    Some(Location::StatusCode) => "status code",
                    Some(Location::Header) if r.ty() == ShapeType::List => "header list",
                    Some(Location::Header) => "header",
                    Some(Location::Headers) => "prefix headers",
                    _ if is_payload => match r.ty() {
                        ShapeType::Blob => "blob payload",
                        ShapeType::String => "string payload",
                        _ => "structure payload",
                    },
                    _ => "body",
                };
                g.note("output", kind);
                back.insert(name.clone(), b);
            }
        }
    }
    let len = given.remove("__len");
    if let Some(member) = payload_len {
        let n = len.unwrap_or_else(|| json!(g.rng.below(1 << 40)));
        given.insert(member.clone(), n.clone());
        back.insert(member, n);
    }
    customize_output_values(model, op, &mut given, &mut back);
    Some((Value::Object(given), Value::Object(back)))
}

/// Outputs boto3 customizes: generated in their parsed form.
fn customize_output_values(
    model: &ServiceModel,
    op: &crate::Operation<'_>,
    given: &mut Map<String, Value>,
    back: &mut Map<String, Value>,
) {
    let (key, value) = match (model.service_name(), op.name()) {
        ("cloudformation", "GetTemplate") => (
            "TemplateBody",
            json!({"Resources": {"B": {"Type": "AWS::S3::Bucket"}}}),
        ),
        ("ec2", "GetConsoleOutput") => ("Output", json!("console é\nline 2")),
        ("s3", "GetBucketLocation") => {
            // Parsed from the root element's text: null when empty.
            back.entry("LocationConstraint").or_insert(Value::Null);
            return;
        }
        _ => return,
    };
    given.insert(key.to_string(), value.clone());
    back.insert(key.to_string(), value);
}

fn output_round_trips(protocols: &[Protocol]) -> Tally {
    let mut t = Tally::default();
    for model in models(protocols) {
        let service = model.service_name().to_string();
        for name in model.operation_names() {
            let op = model.operation(name).unwrap();
            let id = format!("{service}.{name}");
            if op.has_event_stream() {
                t.exclude("event stream", id);
                continue;
            }
            t.operations += 1;
            for case in 0..2 {
                let mut g = Gen::new(&model, &["out", &service, name], case, true);
                let generated = gen_output(&mut g, &op);
                t.count_seen(&mut g);
                let Some((given, back)) = generated else {
                    t.exclude("no output the generator can build", format!("{id}#{case}"));
                    continue;
                };
                if g.ambiguous {
                    t.exclude(
                        "members sharing an XML element (the parser fills both)",
                        format!("{id}#{case}"),
                    );
                    continue;
                }
                t.cases += 1;
                let resp = match encode_response(&model, name, &given, "req-1") {
                    Ok(r) => r,
                    Err(e) => {
                        t.failures.push(format!("{id}#{case}: {e}"));
                        continue;
                    }
                };
                match parse_response(&model, name, resp.status, &resp.headers, &resp.body) {
                    Ok(Value::Object(mut got)) => {
                        let Value::Object(back) = back else {
                            unreachable!()
                        };
                        transport_headers_only_where_expected(&model, &op, &back, &mut got);
                        if got != back {
                            t.failures.push(format!(
                                "{id}#{case}:{}\n    {:?}\n    {}",
                                diff(&back, &got),
                                resp.headers,
                                String::from_utf8_lossy(&resp.body)
                            ));
                        }
                    }
                    Ok(other) => t.failures.push(format!("{id}#{case}: parsed {other}")),
                    Err(e) => t.failures.push(format!(
                        "{id}#{case}: {e}\n    {}",
                        String::from_utf8_lossy(&resp.body)
                    )),
                }
            }
        }
    }
    t
}

/// A prefix-headers map with an empty prefix (dataexchange's `ResponseHeaders`) takes every
/// header, the ones the encoder adds for the transport too.
fn transport_headers_only_where_expected(
    model: &ServiceModel,
    op: &crate::Operation<'_>,
    back: &Map<String, Value>,
    got: &mut Map<String, Value>,
) {
    let Some(shape) = op.def.output.as_deref().and_then(|n| model.shapes.get(n)) else {
        return;
    };
    for (name, m) in &shape.members {
        if m.location != Some(Location::Headers)
            || !m.location_name.as_deref().unwrap_or("").is_empty()
        {
            continue;
        }
        let want = back.get(name).and_then(Value::as_object);
        if let Some(Value::Object(map)) = got.get_mut(name) {
            map.retain(|k, _| {
                let transport = ["content-length", "content-type", "x-amzn-requestid"]
                    .contains(&k.to_ascii_lowercase().as_str());
                !transport || want.is_some_and(|w| w.contains_key(k))
            });
            if map.is_empty() && want.is_none() {
                got.remove(name);
            }
        }
    }
}

fn check(t: &Tally, what: &str) {
    let report = t.report(what);
    println!("{report}");
    assert!(t.failures.is_empty(), "{report}");
    assert!(t.operations > 0 && t.cases > 0, "{report}");
}

#[test]
fn json_inputs_round_trip() {
    let t = input_round_trips(&[Protocol::Json]);
    check(&t, "json inputs");
    assert!(t.cases > 13_000, "{}", t.cases);
}

#[test]
fn query_and_ec2_inputs_round_trip() {
    let t = input_round_trips(&[Protocol::Query, Protocol::Ec2]);
    check(&t, "query and ec2 inputs");
    assert!(t.cases > 3_500, "{}", t.cases);
}

#[test]
fn rest_json_inputs_round_trip() {
    let t = input_round_trips(&[Protocol::RestJson]);
    check(&t, "rest-json inputs");
    assert!(t.cases > 19_000, "{}", t.cases);
}

#[test]
fn rest_xml_inputs_round_trip() {
    let t = input_round_trips(&[Protocol::RestXml]);
    check(&t, "rest-xml inputs");
    assert!(t.cases > 850, "{}", t.cases);
}

#[test]
fn json_outputs_round_trip() {
    let t = output_round_trips(&[Protocol::Json]);
    check(&t, "json outputs");
}

#[test]
fn query_and_ec2_outputs_round_trip() {
    let t = output_round_trips(&[Protocol::Query, Protocol::Ec2]);
    check(&t, "query and ec2 outputs");
}

#[test]
fn rest_json_outputs_round_trip() {
    let t = output_round_trips(&[Protocol::RestJson]);
    check(&t, "rest-json outputs");
}

#[test]
fn rest_xml_outputs_round_trip() {
    let t = output_round_trips(&[Protocol::RestXml]);
    check(&t, "rest-xml outputs");
}

#[test]
fn errors_round_trip_for_every_service() {
    let mut n = 0;
    for model in models(&[
        Protocol::Json,
        Protocol::Query,
        Protocol::Ec2,
        Protocol::RestJson,
        Protocol::RestXml,
    ]) {
        let op = model.operation_names()[0];
        for (status, code, message) in [
            (
                400,
                "RequestHeldForApproval",
                "held: approve at https://x/a?b=1&c=<2> \"é\"",
            ),
            (
                403,
                "AccessDeniedException",
                "denied by policy p1 (request r-1)",
            ),
            (404, "NoSuchThing", ""),
            (500, "InternalFailure", "line one\nline two"),
        ] {
            let resp = encode_error(&model, status, code, message, "r-1");
            let err = parse_response(&model, op, resp.status, &resp.headers, &resp.body)
                .expect_err("an error");
            assert_eq!(
                (err.code.as_str(), err.message.as_str(), err.status),
                (code, message, status),
                "{} {:?} {}",
                model.service_name(),
                resp.headers,
                String::from_utf8_lossy(&resp.body)
            );
            n += 1;
        }
    }
    println!("errors: {n} cases");
    assert!(n > 1700, "{n}");
}

#[test]
fn numbers_read_as_botocore_writes_them() {
    // Guards the generator's assumption behind float round trips.
    assert_eq!(py_number(&Number::from_f64(3.0).unwrap()), "3.0");
}
