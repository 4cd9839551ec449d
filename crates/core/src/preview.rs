//! The impact preview: what a held call will touch, as it is now, read before the notice goes
//! out so approvers decide on the facts ("the table holds 40 million items and has no
//! backup"), not on the call's text alone.
//!
//! This module holds the rules that need no AWS: which facts an answer yields ([`Pick`]),
//! masking and bounding them ([`summarise`]), and how a preview that could not be read says
//! so. Which reads a call gets is the catalog's (`tollgate_catalog::preview`); the reads
//! themselves are an adapter's.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::display::one_line;
use crate::mask::{MaskRules, mask_answer};

pub mod dry_run;

/// Largest preview kept with the request, as compact JSON: it is shown in a notice and a
/// chat message, and stored in the request's item beside everything else.
pub const MAX_PREVIEW_BYTES: usize = 4 * 1024;

/// How long all reads of one preview may take: the notice waits for them.
pub const PREVIEW_TIMEOUT_MS: u64 = 3_000;

/// Longest value of one fact, in characters; longer ones end in `…`.
const MAX_VALUE_CHARS: usize = 160;

/// Facts taken from one answer when no curated pick names them.
const MAX_GENERIC_FACTS: usize = 8;

/// One fact to take from a read's answer: a label approvers read and where the value is.
///
/// `path` is member names separated by `.`, where `name[]` steps into every element of a
/// list; a path starting with `#` counts the elements of the list it names (`#Contents`),
/// and `?` after a list (`Tags[?Key=Name].Value`) keeps only elements whose `Key` is `Name`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pick {
    pub label: String,
    pub path: String,
}

impl Pick {
    pub fn new(label: &str, path: &str) -> Self {
        Self {
            label: label.to_string(),
            path: path.to_string(),
        }
    }
}

/// One fact about the current state, as shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fact {
    /// The read it came from (`dynamodb:DescribeTable`).
    pub source: String,
    pub label: String,
    pub value: String,
}

/// How the preview went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PreviewStatus {
    /// Every read answered.
    Read,
    /// Some reads answered, some failed (each failure is a note).
    Partial,
    /// No read answered.
    Failed,
    /// The reads took longer than [`PREVIEW_TIMEOUT_MS`].
    TimedOut,
    /// Tollgate knows no read for this call.
    Unavailable,
}

/// What approvers are shown about the current state of what the call touches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    pub status: PreviewStatus,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub facts: Vec<Fact>,
    /// Why something is missing: a failed read, a timeout, facts left out for size.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The policy document the call replaces, beside the proposed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<crate::policy_doc::PolicyChange>,
    /// For an EC2 call that takes `DryRun`: what the same call sent as a dry run answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<dry_run::DryRun>,
    /// When it was read (ms).
    pub at: u64,
    /// How long the reads took (ms).
    pub took_ms: u64,
}

impl Preview {
    /// A preview without facts that says why: nothing to read, a timeout, no session.
    pub fn without_facts(
        status: PreviewStatus,
        note: impl Into<String>,
        at: u64,
        took_ms: u64,
    ) -> Self {
        Self {
            status,
            facts: vec![],
            notes: vec![bounded(&note.into())],
            policy: None,
            dry_run: None,
            at,
            took_ms,
        }
    }

    /// One line for short forms (Slack, a listing): the dry run's answer, the first facts
    /// and how it went.
    pub fn headline(&self, max_facts: usize) -> String {
        let facts: Vec<String> = self
            .facts
            .iter()
            .take(max_facts)
            .map(|f| format!("{}: {}", f.label, f.value))
            .collect();
        let line = match (facts.is_empty(), self.notes.first()) {
            (false, _) => facts.join(" · "),
            (true, Some(n)) => n.clone(),
            (true, None) => self.status_words().to_string(),
        };
        match &self.dry_run {
            Some(d) => format!("Dry run: {} · {line}", d.words()),
            None => line,
        }
    }

    /// The preview with the dry run's answer, still within [`MAX_PREVIEW_BYTES`].
    pub fn with_dry_run(mut self, d: dry_run::DryRun) -> Self {
        self.dry_run = Some(d);
        self.trim();
        self
    }

    /// Drops facts, then notes, then diff lines, until the preview fits its budget; a note
    /// says how many were left out.
    fn trim(&mut self) {
        let left_out =
            |n: usize| format!("{n} more facts or notes left out to keep the preview short");
        let mut dropped = 0;
        while json_len(self) > MAX_PREVIEW_BYTES {
            // The note that says so counts against the budget too.
            if dropped > 0 {
                self.notes.pop();
            }
            if self.facts.pop().is_none()
                && self.notes.pop().is_none()
                && self.policy.as_mut().and_then(|c| c.diff.pop()).is_none()
            {
                break;
            }
            dropped += 1;
            self.notes.push(left_out(dropped));
        }
    }

    pub fn status_words(&self) -> &'static str {
        match self.status {
            PreviewStatus::Read => "read",
            PreviewStatus::Partial => "partly read",
            PreviewStatus::Failed => "could not be read",
            PreviewStatus::TimedOut => "timed out",
            PreviewStatus::Unavailable => "not available for this action",
        }
    }
}

/// What one read answered: its facts to pick, and the answer or why there is none.
#[derive(Debug, Clone)]
pub struct ReadAnswer {
    /// `service:Operation`.
    pub source: String,
    /// The IAM prefix, for masking the answer as the executor masks answers.
    pub service: String,
    /// Curated facts; empty means the answer's first scalar members.
    pub picks: Vec<Pick>,
    /// For a read of the policy the call replaces: the proposed document and the member of
    /// the answer holding the current one.
    pub policy: Option<(Value, String)>,
    /// Tollgate's account for a policy read: grants to any other are flagged.
    pub home_account: String,
    pub answer: Result<Value, String>,
}

/// The preview from the reads' answers: every answer masked first (the built-in rules and
/// the deciding policy's `mask`), its facts picked, every value on one line and shortened,
/// and the whole kept within [`MAX_PREVIEW_BYTES`] (facts past the budget are dropped, and a
/// note says how many).
pub fn summarise(reads: Vec<ReadAnswer>, mask: &MaskRules, at: u64, took_ms: u64) -> Preview {
    // Nothing is revealed in a preview, whatever the policy lets the agent see.
    let rules = MaskRules {
        mask: mask.mask.clone(),
        unmask: vec![],
    };
    let mut facts = vec![];
    let mut notes = vec![];
    let mut policy = None;
    let (mut ok, mut failed) = (0, 0);
    for read in reads {
        if let Some((proposed, member)) = &read.policy {
            // No policy yet is an answer too: the proposed one is all new.
            let current = match &read.answer {
                Ok(a) => a.get(member).and_then(crate::policy_doc::parse),
                Err(e) if e.contains("NoSuch") || e.contains("NotFound") => None,
                Err(e) => {
                    failed += 1;
                    notes.push(bounded(&format!("{}: {e}", read.source)));
                    continue;
                }
            };
            ok += 1;
            let mut c = crate::policy_doc::change(current.as_ref(), proposed, &read.home_account);
            c.diff = c.diff.iter().map(|l| bounded(l)).collect();
            c.flags = c.flags.iter().map(|l| bounded(l)).collect();
            policy = Some(c);
            continue;
        }
        match read.answer {
            Ok(mut answer) => {
                ok += 1;
                mask_answer(&read.service, &mut answer, &rules);
                let picked = if read.picks.is_empty() {
                    generic_facts(&answer)
                } else {
                    read.picks
                        .iter()
                        .filter_map(|p| pick(&answer, &p.path).map(|v| (p.label.clone(), v)))
                        .collect()
                };
                facts.extend(picked.into_iter().map(|(label, value)| Fact {
                    source: read.source.clone(),
                    label: bounded(&label),
                    value: bounded(&value),
                }));
            }
            Err(e) => {
                failed += 1;
                notes.push(bounded(&format!("{}: {e}", read.source)));
            }
        }
    }
    let status = match (ok, failed) {
        (0, 0) => PreviewStatus::Unavailable,
        (_, 0) => PreviewStatus::Read,
        (0, _) => PreviewStatus::Failed,
        _ => PreviewStatus::Partial,
    };
    let mut p = Preview {
        status,
        facts,
        notes,
        policy,
        dry_run: None,
        at,
        took_ms,
    };
    p.trim();
    p
}

fn json_len(p: &Preview) -> usize {
    serde_json::to_vec(p).map_or(usize::MAX, |b| b.len())
}

/// On one line, without controls, at most [`MAX_VALUE_CHARS`].
pub(crate) fn bounded(s: &str) -> String {
    let s = one_line(s);
    if s.chars().count() <= MAX_VALUE_CHARS {
        return s;
    }
    let mut out: String = s.chars().take(MAX_VALUE_CHARS - 1).collect();
    out.push('…');
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "yes" } else { "no" }.to_string()),
        _ => None,
    }
}

/// The value at `path` (see [`Pick`]); several values (through `[]`) joined by `, `.
pub fn pick(answer: &Value, path: &str) -> Option<String> {
    if let Some(list) = path.strip_prefix('#') {
        let n: usize = walk(answer, list)
            .iter()
            .map(|v| v.as_array().map_or(0, Vec::len))
            .sum();
        return Some(n.to_string());
    }
    let values: Vec<String> = walk(answer, path)
        .iter()
        .filter_map(|v| scalar(v))
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
}

fn walk<'a>(v: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut here = vec![v];
    for step in path.split('.').filter(|s| !s.is_empty()) {
        let (name, rest) = match step.find('[') {
            Some(i) => (&step[..i], Some(&step[i..])),
            None => (step, None),
        };
        let mut next = vec![];
        for v in here {
            let Some(child) = v.get(name) else { continue };
            match rest {
                None => next.push(child),
                Some(filter) => {
                    let filter = filter.trim_start_matches("[").trim_end_matches(']');
                    let keep = |e: &Value| match filter
                        .strip_prefix('?')
                        .and_then(|f| f.split_once('='))
                    {
                        Some((k, want)) => e.get(k).and_then(Value::as_str) == Some(want),
                        None => true,
                    };
                    if let Some(items) = child.as_array() {
                        next.extend(items.iter().filter(|e| keep(e)));
                    }
                }
            }
        }
        here = next;
    }
    here
}

/// The first scalar members of an answer, by their path, for reads nobody curated.
fn generic_facts(answer: &Value) -> Vec<(String, String)> {
    let mut out = vec![];
    collect_scalars(answer, "", &mut out);
    out
}

fn collect_scalars(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    if out.len() >= MAX_GENERIC_FACTS {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                collect_scalars(child, &path, out);
            }
        }
        Value::Array(items) => {
            out.push((format!("{at} (count)"), items.len().to_string()));
            if let Some(first) = items.first() {
                collect_scalars(first, &format!("{at}[0]"), out);
            }
        }
        other => {
            if let Some(s) = scalar(other)
                && out.len() < MAX_GENERIC_FACTS
            {
                out.push((at.to_string(), s));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn table() -> Value {
        json!({"Table": {"TableName": "orders", "ItemCount": 40_000_000, "TableSizeBytes": 12345,
                         "DeletionProtectionEnabled": false,
                         "Tags": [{"Key": "team", "Value": "pay"}, {"Key": "Name", "Value": "prod"}]},
               "Backups": [{"Arn": "a"}, {"Arn": "b"}]})
    }

    #[test]
    fn picks_follow_paths_lists_filters_and_counts() {
        let t = table();
        assert_eq!(pick(&t, "Table.ItemCount").as_deref(), Some("40000000"));
        assert_eq!(
            pick(&t, "Table.DeletionProtectionEnabled").as_deref(),
            Some("no")
        );
        assert_eq!(pick(&t, "Table.Tags[].Key").as_deref(), Some("team, Name"));
        assert_eq!(
            pick(&t, "Table.Tags[?Key=Name].Value").as_deref(),
            Some("prod")
        );
        assert_eq!(pick(&t, "#Backups").as_deref(), Some("2"));
        assert_eq!(pick(&t, "#Nothing").as_deref(), Some("0"));
        assert_eq!(pick(&t, "Table.Missing"), None);
    }

    fn read(picks: Vec<Pick>, answer: Result<Value, String>) -> ReadAnswer {
        ReadAnswer {
            source: "dynamodb:DescribeTable".into(),
            service: "dynamodb".into(),
            picks,
            policy: None,
            home_account: "111122223333".into(),
            answer,
        }
    }

    #[test]
    fn answers_are_masked_before_any_fact_is_taken() {
        let answer = json!({"Secret": {"SecretString": "hunter2", "Name": "db"},
                            "Config": {"Environment": {"Variables": {"DB_URL": "postgres://u:pw@h"}}}});
        let p = summarise(
            vec![read(vec![], Ok(answer))],
            &MaskRules {
                mask: vec!["Name".into()],
                unmask: vec!["SecretString".into()],
            },
            1,
            2,
        );
        let all = serde_json::to_string(&p).unwrap();
        assert!(!all.contains("hunter2"), "{all}");
        assert!(!all.contains("pw@h"), "{all}");
        assert!(!all.contains("\"db\""), "{all}");
        assert_eq!(p.status, PreviewStatus::Read);
    }

    #[test]
    fn a_failed_read_says_so_and_the_others_still_count() {
        let p = summarise(
            vec![
                read(vec![Pick::new("Items", "Table.ItemCount")], Ok(table())),
                read(vec![], Err("AccessDenied: not allowed".into())),
            ],
            &MaskRules::default(),
            1,
            2,
        );
        assert_eq!(p.status, PreviewStatus::Partial);
        assert_eq!(p.facts[0].label, "Items");
        assert_eq!(p.facts[0].value, "40000000");
        assert_eq!(
            p.notes,
            ["dynamodb:DescribeTable: AccessDenied: not allowed"]
        );
        let failed = summarise(
            vec![read(vec![], Err("x".into()))],
            &MaskRules::default(),
            1,
            2,
        );
        assert_eq!(failed.status, PreviewStatus::Failed);
        assert_eq!(failed.headline(3), "dynamodb:DescribeTable: x");
    }

    #[test]
    fn the_preview_stays_within_its_budget_and_one_line_per_value() {
        let mut big = serde_json::Map::new();
        for i in 0..500 {
            big.insert(format!("k{i:03}"), json!(format!("v\n{}", "x".repeat(400))));
        }
        let picks: Vec<Pick> = (0..500)
            .map(|i| Pick::new(&format!("k{i:03}"), &format!("k{i:03}")))
            .collect();
        let p = summarise(
            vec![read(picks, Ok(Value::Object(big)))],
            &MaskRules::default(),
            1,
            2,
        );
        assert!(json_len(&p) <= MAX_PREVIEW_BYTES, "{}", json_len(&p));
        assert!(
            p.facts
                .iter()
                .all(|f| !f.value.contains('\n') && f.value.chars().count() <= MAX_VALUE_CHARS)
        );
        assert!(
            p.notes.last().unwrap().contains("left out"),
            "{:?}",
            p.notes
        );
    }

    #[test]
    fn a_policy_read_shows_old_and_new_and_flags_a_public_grant() {
        let proposed = json!({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]});
        let current = json!({"Policy": "{\"Statement\":[{\"Effect\":\"Allow\",\"Principal\":{\"AWS\":\"arn:aws:iam::111122223333:root\"},\"Action\":\"s3:GetObject\",\"Resource\":\"arn:aws:s3:::b/*\"}]}"});
        let mut r = read(vec![], Ok(current));
        r.policy = Some((proposed.clone(), "Policy".into()));
        let p = summarise(vec![r], &MaskRules::default(), 1, 2);
        let c = p.policy.expect("a policy change");
        assert!(c.had_policy);
        assert!(
            c.diff
                .iter()
                .any(|l| l.starts_with("- ") && l.contains("111122223333")),
            "{:?}",
            c.diff
        );
        assert!(
            c.diff
                .iter()
                .any(|l| l.starts_with("+ ") && l.contains("\"Principal\": \"*\"")),
            "{:?}",
            c.diff
        );
        assert_eq!(c.flags, ["statement 1 grants anyone (`*`): public"]);
        let mut none = read(
            vec![],
            Err("NoSuchBucketPolicy: The bucket policy does not exist".into()),
        );
        none.policy = Some((proposed, "Policy".into()));
        let p = summarise(vec![none], &MaskRules::default(), 1, 2);
        assert_eq!(p.status, PreviewStatus::Read);
        assert!(!p.policy.unwrap().had_policy);
    }

    #[test]
    fn uncurated_answers_give_their_first_scalars() {
        let p = summarise(vec![read(vec![], Ok(table()))], &MaskRules::default(), 1, 2);
        let labels: Vec<&str> = p.facts.iter().map(|f| f.label.as_str()).collect();
        assert!(labels.contains(&"Backups (count)"), "{labels:?}");
        assert!(labels.contains(&"Table.ItemCount"), "{labels:?}");
        assert!(p.facts.len() <= MAX_GENERIC_FACTS);
    }
}
