//! Resource and identity policy documents in the impact preview: the current document beside
//! the proposed one, a line diff of both in one canonical layout, and flags for the grants
//! approvers must not miss (anyone, another account, `iam:PassRole`, wildcard actions).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Lines of diff kept; the rest is counted.
const MAX_DIFF_LINES: usize = 60;

/// A policy the call replaces, as approvers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyChange {
    /// `-`/`+`/` ` prefixed lines of the two documents, pretty-printed with sorted keys.
    pub diff: Vec<String>,
    /// What the proposed document grants that deserves a look, one sentence each.
    pub flags: Vec<String>,
    /// Whether there is a policy now.
    pub had_policy: bool,
}

/// The canonical layout both sides are compared in: sorted keys, two-space indent, and a
/// single statement or action written as a list, so only meaning shows in the diff.
fn layout(doc: &Value) -> Vec<String> {
    let mut doc = doc.clone();
    if let Some(st) = doc.get_mut("Statement")
        && st.is_object()
    {
        *st = Value::Array(vec![st.take()]);
    }
    let sorted = crate::digest::canonical_json(&doc);
    let v: Value = serde_json::from_str(&sorted).unwrap_or(doc);
    serde_json::to_string_pretty(&v)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A line diff (longest common subsequence) of `old` and `new`.
fn diff(old: &[String], new: &[String]) -> Vec<String> {
    let (n, m) = (old.len(), new.len());
    let mut lcs = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i][j] = if old[i] == new[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, vec![]);
    while i < n || j < m {
        if i < n && j < m && old[i] == new[j] {
            out.push(format!("  {}", old[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push(format!("+ {}", new[j]));
            j += 1;
        } else {
            out.push(format!("- {}", old[i]));
            i += 1;
        }
    }
    out
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

/// The principals of a statement as strings (`*`, account ids, ARNs, service names).
fn principals(st: &Value) -> Vec<String> {
    match st.get("Principal") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Object(m)) => m.values().flat_map(|v| strings(Some(v))).collect(),
        _ => vec![],
    }
}

fn account_of(principal: &str) -> Option<&str> {
    if principal.len() == 12 && principal.bytes().all(|b| b.is_ascii_digit()) {
        return Some(principal);
    }
    crate::scope::arn_account(principal)
}

/// The grants of `doc` worth a flag, for a policy in `home_account`.
pub fn flags(doc: &Value, home_account: &str) -> Vec<String> {
    let statements = match doc.get("Statement") {
        Some(Value::Array(a)) => a.clone(),
        Some(st @ Value::Object(_)) => vec![st.clone()],
        _ => vec![],
    };
    let mut out = vec![];
    for (i, st) in statements.iter().enumerate() {
        if st.get("Effect").and_then(Value::as_str) != Some("Allow") {
            continue;
        }
        let sid = st
            .get("Sid")
            .and_then(Value::as_str)
            .map_or(format!("statement {}", i + 1), |s| {
                format!("statement `{s}`")
            });
        let conditioned = st.get("Condition").is_some();
        let who = principals(st);
        if who.iter().any(|p| p == "*") {
            out.push(format!(
                "{sid} grants anyone (`*`){}",
                if conditioned {
                    ", under a condition"
                } else {
                    ": public"
                }
            ));
        }
        let others: Vec<&str> = who
            .iter()
            .filter_map(|p| account_of(p))
            .filter(|a| *a != home_account)
            .collect();
        if !others.is_empty() {
            out.push(format!("{sid} grants account {}", others.join(", ")));
        }
        let actions = strings(st.get("Action"));
        if actions
            .iter()
            .any(|a| a.eq_ignore_ascii_case("iam:PassRole") || a.eq_ignore_ascii_case("iam:*"))
        {
            out.push(format!("{sid} allows iam:PassRole"));
        }
        let wild: Vec<&String> = actions.iter().filter(|a| a.contains('*')).collect();
        if !wild.is_empty() {
            out.push(format!(
                "{sid} allows wildcard actions {}",
                wild.iter()
                    .map(|a| format!("`{a}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if st.get("NotPrincipal").is_some() || st.get("NotAction").is_some() {
            out.push(format!(
                "{sid} uses NotPrincipal or NotAction (allows all but some)"
            ));
        }
    }
    out
}

/// A document given as JSON text (as the APIs take and answer it) or as JSON.
pub fn parse(doc: &Value) -> Option<Value> {
    match doc {
        // IAM's URL-encoded documents are decoded by the models already.
        Value::String(s) => serde_json::from_str(s).ok(),
        Value::Object(_) => Some(doc.clone()),
        _ => None,
    }
}

/// The change from `current` (none: no policy now) to `proposed`.
pub fn change(current: Option<&Value>, proposed: &Value, home_account: &str) -> PolicyChange {
    let old = current.map(layout).unwrap_or_default();
    let new = layout(proposed);
    let mut lines = diff(&old, &new);
    if lines.len() > MAX_DIFF_LINES {
        let more = lines.len() - MAX_DIFF_LINES;
        lines.truncate(MAX_DIFF_LINES);
        lines.push(format!("… {more} more lines"));
    }
    PolicyChange {
        diff: lines,
        flags: flags(proposed, home_account),
        had_policy: current.is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const HOME: &str = "111122223333";

    #[test]
    fn a_public_grant_and_its_diff_are_shown() {
        let old = json!({"Version": "2012-10-17", "Statement": {"Sid": "Ours", "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::b/*"}});
        let new = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Ours", "Effect": "Allow",
            "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}]});
        let c = change(Some(&old), &new, HOME);
        assert!(c.had_policy);
        assert!(
            c.diff.contains(&"-       \"Principal\": {".to_string()),
            "{:#?}",
            c.diff
        );
        assert!(
            c.diff
                .contains(&"+       \"Principal\": \"*\",".to_string()),
            "{:#?}",
            c.diff
        );
        assert!(
            c.diff
                .iter()
                .any(|l| l.starts_with("  ") && l.contains("\"Sid\": \"Ours\""))
        );
        assert_eq!(c.flags, ["statement `Ours` grants anyone (`*`): public"]);
    }

    #[test]
    fn cross_account_passrole_and_wildcards_are_flagged() {
        let doc = json!({"Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::444455556666:root", "111122223333"]},
             "Action": ["iam:PassRole", "s3:*"], "Resource": "*"},
            {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"},
            {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:GetObject", "Resource": "*",
             "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}]});
        assert_eq!(
            flags(&doc, HOME),
            [
                "statement 1 grants account 444455556666",
                "statement 1 allows iam:PassRole",
                "statement 1 allows wildcard actions `s3:*`",
                "statement 3 grants anyone (`*`), under a condition",
            ]
        );
    }

    #[test]
    fn documents_come_as_text_and_new_policies_diff_against_nothing() {
        let doc = parse(&json!("{\"Statement\":[]}")).unwrap();
        assert_eq!(doc, json!({"Statement": []}));
        assert!(parse(&json!("not json")).is_none());
        let c = change(None, &doc, HOME);
        assert!(!c.had_policy);
        assert!(c.diff.iter().all(|l| l.starts_with("+ ")), "{:?}", c.diff);
    }
}
