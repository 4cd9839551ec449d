//! Finding a rest-json or rest-xml operation from the method, the path and the query string,
//! as the service's front end does: every URI template of the model compiled once, the most
//! specific match winning.

use super::{Headers, malformed, percent_decode, shorten, unknown_operation};
use crate::model::{Location, ServiceModel};
use crate::server::DecodeError;

/// The compiled URI templates of a model (rest protocols only).
#[derive(Debug, Default)]
pub(crate) struct Routes {
    routes: Vec<Route>,
}

#[derive(Debug)]
enum Seg {
    Literal(String),
    Label(String),
    Greedy(String),
}

#[derive(Debug)]
struct Route {
    operation: String,
    template: String,
    method: String,
    segs: Vec<Seg>,
    greedy: Option<usize>,
    /// `?uploads`, `?list-type=2`: keys (and values) the request must carry.
    query: Vec<(String, Option<String>)>,
    literal_segs: usize,
    /// Required members bound to the query string or headers: what tells apart operations
    /// sharing a template (S3's PutObject, CopyObject, UploadPart, UploadPartCopy).
    required: Vec<Bound>,
    /// Every query key bound to a member.
    query_members: Vec<String>,
    deprecated: bool,
}

#[derive(Debug)]
enum Bound {
    Query(String),
    Header(String),
}

/// A matched operation and its URI labels (percent-decoded).
#[derive(Debug)]
pub(super) struct Matched<'r> {
    pub operation: &'r str,
    pub labels: Vec<(&'r str, String)>,
    pub literal_query: &'r [(String, Option<String>)],
}

impl Routes {
    pub(super) fn build(model: &ServiceModel) -> Routes {
        let mut routes = Vec::new();
        for (name, op) in &model.operations {
            let (path, query) = op
                .http
                .request_uri
                .split_once('?')
                .unwrap_or((&op.http.request_uri, ""));
            let segs: Vec<Seg> = path
                .strip_prefix('/')
                .unwrap_or(path)
                .split('/')
                .map(
                    |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(label) => match label.strip_suffix('+') {
                            Some(g) => Seg::Greedy(g.to_string()),
                            None => Seg::Label(label.to_string()),
                        },
                        None => Seg::Literal(s.to_string()),
                    },
                )
                .collect();
            let greedies: Vec<usize> = segs
                .iter()
                .enumerate()
                .filter(|(_, s)| matches!(s, Seg::Greedy(_)))
                .map(|(i, _)| i)
                .collect();
            if greedies.len() > 1 {
                // No model has two; such a template could not be matched unambiguously.
                continue;
            }
            let query = query
                .split('&')
                .filter(|q| !q.is_empty())
                .map(|q| match q.split_once('=') {
                    Some((k, v)) => (k.to_string(), Some(v.to_string())),
                    None => (q.to_string(), None),
                })
                .collect();
            let mut required = Vec::new();
            let mut query_members = Vec::new();
            if let Some(shape) = op.input.as_deref().and_then(|n| model.shapes.get(n)) {
                for (member, m) in &shape.members {
                    let wire = m.location_name.clone().unwrap_or_else(|| member.clone());
                    let is_required = shape.required.contains(member);
                    match m.location {
                        Some(Location::QueryString) => {
                            if is_required {
                                required.push(Bound::Query(wire.clone()));
                            }
                            query_members.push(wire);
                        }
                        Some(Location::Header) if is_required => {
                            required.push(Bound::Header(wire));
                        }
                        _ => {}
                    }
                }
            }
            routes.push(Route {
                operation: name.clone(),
                template: op.http.request_uri.clone(),
                method: op.http.method.to_ascii_uppercase(),
                literal_segs: segs.iter().filter(|s| matches!(s, Seg::Literal(_))).count(),
                greedy: greedies.first().copied(),
                segs,
                query,
                required,
                query_members,
                deprecated: op.deprecated,
            });
        }
        // A fixed order, so that a tie always goes the same way.
        routes.sort_by(|a, b| a.operation.cmp(&b.operation));
        Routes { routes }
    }

    /// The operations `method raw_path` may call, given the decoded query pairs and the
    /// headers: the most specific first, then its twins sharing its template.
    pub(super) fn find<'r>(
        &'r self,
        service: &str,
        method: &str,
        raw_path: &str,
        query: &[(String, String)],
        headers: &Headers<'_>,
    ) -> Result<Vec<Matched<'r>>, DecodeError> {
        let path = if raw_path.is_empty() { "/" } else { raw_path };
        let Some(rest) = path.strip_prefix('/') else {
            return Err(malformed(
                "",
                format!("the path `{}` does not start with `/`", shorten(path)),
            ));
        };
        let raw: Vec<&str> = rest.split('/').collect();
        let decoded = raw
            .iter()
            .map(|s| percent_decode(s, false))
            .collect::<Option<Vec<String>>>()
            .ok_or_else(|| {
                malformed(
                    "",
                    format!(
                        "the path `{}` is not valid percent-encoded UTF-8",
                        shorten(path)
                    ),
                )
            })?;
        let method = method.to_ascii_uppercase();
        let mut found = self.best(&method, &decoded, query, headers);
        if found.is_none() && decoded.len() > 1 && decoded.last().is_some_and(String::is_empty) {
            // `/bucket/` for `/{Bucket}`: some clients add the slash.
            found = self.best(&method, &decoded[..decoded.len() - 1], query, headers);
        }
        found.ok_or_else(|| {
            unknown_operation(format!(
                "no {service} operation matches `{} {}`",
                shorten(&method),
                shorten(path)
            ))
        })
    }

    /// The routes that match, the most specific first; after the first, only those sharing
    /// its template (S3's deprecated twins), which the caller tries in turn.
    fn best<'r>(
        &'r self,
        method: &str,
        segs: &[String],
        query: &[(String, String)],
        headers: &Headers<'_>,
    ) -> Option<Vec<Matched<'r>>> {
        let mut found: Vec<(Rank, &'r Route, Matched<'r>)> = Vec::new();
        for route in self.routes.iter().filter(|r| r.method == method) {
            let Some(labels) = route.match_path(segs) else {
                continue;
            };
            let literal_query_ok = route.query.iter().all(|(k, v)| {
                query
                    .iter()
                    .any(|(qk, qv)| qk == k && v.as_ref().is_none_or(|v| v == qv))
            });
            if !literal_query_ok {
                continue;
            }
            let matched = Matched {
                operation: &route.operation,
                labels,
                literal_query: &route.query,
            };
            found.push((route.rank(query, headers), route, matched));
        }
        // Stable: equal ranks keep the routes' (name) order.
        found.sort_by_key(|f| std::cmp::Reverse(f.0));
        let first = found.first()?.1;
        Some(
            found
                .into_iter()
                .enumerate()
                .filter(|(i, (_, r, _))| *i == 0 || r.template == first.template)
                .map(|(_, (_, _, m))| m)
                .collect(),
        )
    }
}

/// Larger is more specific; compared field by field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    literal_segs: usize,
    literal_query: usize,
    all_required: bool,
    required: usize,
    query_members: usize,
    current: bool,
    no_greedy: bool,
}

impl Route {
    fn match_path<'r>(&'r self, segs: &[String]) -> Option<Vec<(&'r str, String)>> {
        let mut labels = Vec::new();
        let one = |t: &'r Seg, s: &str, labels: &mut Vec<(&'r str, String)>| match t {
            Seg::Literal(l) => l == s,
            Seg::Label(name) => {
                labels.push((name.as_str(), s.to_string()));
                !s.is_empty()
            }
            Seg::Greedy(_) => false,
        };
        match self.greedy {
            None => {
                if segs.len() != self.segs.len() {
                    return None;
                }
                for (t, s) in self.segs.iter().zip(segs) {
                    if !one(t, s, &mut labels) {
                        return None;
                    }
                }
            }
            Some(g) => {
                let after = self.segs.len() - g - 1;
                if segs.len() < self.segs.len() {
                    return None;
                }
                for (t, s) in self.segs[..g].iter().zip(&segs[..g]) {
                    if !one(t, s, &mut labels) {
                        return None;
                    }
                }
                let tail = segs.len() - after;
                for (t, s) in self.segs[g + 1..].iter().zip(&segs[tail..]) {
                    if !one(t, s, &mut labels) {
                        return None;
                    }
                }
                let value = segs[g..tail].join("/");
                if value.is_empty() {
                    return None;
                }
                if let Seg::Greedy(name) = &self.segs[g] {
                    labels.push((name.as_str(), value));
                }
            }
        }
        Some(labels)
    }

    fn rank(&self, query: &[(String, String)], headers: &Headers<'_>) -> Rank {
        let present = |b: &Bound| match b {
            Bound::Query(k) => query.iter().any(|(qk, _)| qk == k),
            Bound::Header(h) => headers.get(h).is_some(),
        };
        let required = self.required.iter().filter(|b| present(b)).count();
        Rank {
            literal_segs: self.literal_segs,
            literal_query: self.query.len(),
            all_required: required == self.required.len(),
            required,
            query_members: self
                .query_members
                .iter()
                .filter(|k| query.iter().any(|(qk, _)| qk == *k))
                .count(),
            current: !self.deprecated,
            no_greedy: self.greedy.is_none(),
        }
    }
}
