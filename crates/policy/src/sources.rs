//! Policy files: parsed into one set, each policy named by its `@id`, errors located by file
//! and line.

use std::collections::HashMap;

use cedar_policy::{PolicyId, PolicySet};
use miette::Diagnostic;

/// A named policy text (a file name, or the parameter or object it was loaded from).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicySource {
    pub name: String,
    pub text: String,
}

impl PolicySource {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// A problem in a policy, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub file: String,
    /// 1-based; 0 when the problem has no location.
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line > 0 {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        } else {
            write!(f, "{}: {}", self.file, self.message)
        }
    }
}

/// The policies shipped with Tollgate (`infra/policies/*.cedar`).
pub fn bundled_sources() -> Vec<PolicySource> {
    vec![
        PolicySource::new(
            "default.cedar",
            include_str!("../../../infra/policies/default.cedar"),
        ),
        PolicySource::new(
            "forbid.cedar",
            include_str!("../../../infra/policies/forbid.cedar"),
        ),
        protection(),
    ]
}

/// The id of the forbid that protects Tollgate's own resources (`infra/policies/tollgate.cedar`).
pub const PROTECTION_ID: &str = "tollgate-protects-itself";

fn protection() -> PolicySource {
    PolicySource::new(
        "tollgate.cedar",
        include_str!("../../../infra/policies/tollgate.cedar"),
    )
}

/// `sources` with the forbid that protects Tollgate's own resources, unless they carry it
/// already: an operator's policy set replaces the bundled one, but never this rule.
pub fn with_protection(mut sources: Vec<PolicySource>) -> Vec<PolicySource> {
    let id = format!("@id(\"{PROTECTION_ID}\")");
    if !sources.iter().any(|s| s.text.contains(&id)) {
        sources.push(protection());
    }
    sources
}

/// The `.cedar` files of a directory, in name order, each named by its path.
pub fn sources_in_dir(dir: &std::path::Path) -> Result<Vec<PolicySource>, String> {
    let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|f| f.extension().is_some_and(|x| x == "cedar"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{}: no .cedar files", dir.display()));
    }
    files.iter().map(|f| source_file(f)).collect()
}

/// One policy file, named by its path.
pub fn source_file(file: &std::path::Path) -> Result<PolicySource, String> {
    std::fs::read_to_string(file)
        .map(|text| PolicySource::new(file.display().to_string(), text))
        .map_err(|e| format!("{}: {e}", file.display()))
}

/// Line and column (1-based) of a byte offset.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

/// Where the policy with annotation `@id("<id>")` starts in `text` (cedar keeps no public
/// source location for a parsed policy).
pub(crate) fn policy_position(text: &str, id: &str) -> (usize, usize) {
    let needle = format!("@id(\"{id}\")");
    let mut last = None;
    let mut from = 0;
    // The duplicate is the later occurrence.
    while let Some(i) = text[from..].find(&needle) {
        last = Some(from + i);
        from += i + needle.len();
    }
    last.map(|o| line_col(text, o)).unwrap_or((0, 0))
}

/// A diagnostic's message (with its help, if any) and the location of its first label.
pub(crate) fn locate(file: &str, text: &str, d: &dyn Diagnostic) -> PolicyError {
    let (line, column) = d
        .labels()
        .and_then(|mut l| l.next())
        .map(|l| line_col(text, l.offset()))
        .unwrap_or((0, 0));
    let mut message = d.to_string();
    if let Some(help) = d.help() {
        message.push_str(&format!(" ({help})"));
    }
    PolicyError {
        file: file.to_string(),
        line,
        column,
        message,
    }
}

/// Parses every source into one set. Policies are named by `@id`, else `<file>#<n>`.
/// Returns the set and, for each policy, the source it came from.
pub fn parse(
    sources: &[PolicySource],
) -> Result<(PolicySet, HashMap<PolicyId, usize>), Vec<PolicyError>> {
    let mut set = PolicySet::new();
    let mut origin = HashMap::new();
    let mut errors = Vec::new();
    for (i, src) in sources.iter().enumerate() {
        let parsed: PolicySet = match src.text.parse() {
            Ok(p) => p,
            Err(e) => {
                let e: cedar_policy::ParseErrors = e;
                errors.extend(e.iter().map(|d| locate(&src.name, &src.text, d)));
                continue;
            }
        };
        if parsed.templates().next().is_some() {
            errors.push(PolicyError {
                file: src.name.clone(),
                line: 0,
                column: 0,
                message: "templates are not supported; write static policies".into(),
            });
        }
        for (n, p) in parsed.policies().enumerate() {
            let id = p
                .annotation("id")
                .map(str::to_string)
                .unwrap_or_else(|| format!("{}#{n}", src.name));
            let pid = PolicyId::new(&id);
            if origin.contains_key(&pid) {
                let (line, column) = policy_position(&src.text, &id);
                errors.push(PolicyError {
                    file: src.name.clone(),
                    line,
                    column,
                    message: format!("policy id `{id}` is used twice"),
                });
                continue;
            }
            if let Err(e) = set.add(p.new_id(pid.clone())) {
                errors.push(PolicyError {
                    file: src.name.clone(),
                    line: 0,
                    column: 0,
                    message: e.to_string(),
                });
                continue;
            }
            origin.insert(pid, i);
        }
    }
    if errors.is_empty() {
        Ok((set, origin))
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_policies_parse_with_their_ids() {
        let (set, _) = parse(&bundled_sources()).unwrap();
        let ids: Vec<String> = set.policies().map(|p| p.id().to_string()).collect();
        assert!(ids.contains(&"read-allowed".to_string()), "{ids:?}");
        assert!(
            ids.contains(&"forbid-audit-tampering".to_string()),
            "{ids:?}"
        );
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let src = PolicySource::new(
            "bad.cedar",
            "// one\n@id(\"a\")\npermit (principal, action, resource)\nwhen { context.hour > };\n",
        );
        let errs = parse(&[src]).unwrap_err();
        assert_eq!(errs[0].file, "bad.cedar");
        assert_eq!(errs[0].line, 4, "{errs:?}");
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let a = PolicySource::new(
            "a.cedar",
            "@id(\"x\")\npermit (principal, action, resource);",
        );
        let b = PolicySource::new(
            "b.cedar",
            "\n\n@id(\"x\")\nforbid (principal, action, resource);",
        );
        let errs = parse(&[a, b]).unwrap_err();
        assert_eq!(
            (errs[0].file.as_str(), errs[0].line),
            ("b.cedar", 3),
            "{errs:?}"
        );
    }
}
