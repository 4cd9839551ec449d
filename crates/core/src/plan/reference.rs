//! References from a plan step's parameters to an earlier step's answer:
//! `{"$ref": "steps[0].answer.TableDescription.TableArn"}` stands for the string at that path
//! in step 0's answer as it was stored (masked). Checked when the plan is submitted (only
//! earlier steps, a path that parses), resolved just before the step runs.

use serde_json::{Map, Value};

/// The member that makes an object a reference.
pub const REF_KEY: &str = "$ref";
const MAX_REF_CHARS: usize = 512;
const MAX_REF_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    Member(String),
    Index(usize),
}

/// `steps[N].answer` followed by members (`.Name`) and list indexes (`[2]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub step: usize,
    pub path: Vec<Segment>,
}

impl Reference {
    pub fn parse(text: &str) -> Result<Reference, String> {
        let bad = |why: &str| {
            format!(
                "reference `{}` {why}; write it as `steps[N].answer.Member[0].Member`",
                shorten(text)
            )
        };
        if text.chars().count() > MAX_REF_CHARS {
            return Err(bad(&format!("is longer than {MAX_REF_CHARS} characters")));
        }
        let rest = text
            .strip_prefix("steps[")
            .ok_or_else(|| bad("does not start with `steps[`"))?;
        let (n, rest) = rest
            .split_once(']')
            .ok_or_else(|| bad("has no `]` after the step number"))?;
        let step = parse_index(n).ok_or_else(|| bad("has no step number in `steps[...]`"))?;
        let mut rest = rest
            .strip_prefix(".answer")
            .ok_or_else(|| bad("does not go on with `.answer`"))?;
        let mut path = Vec::new();
        while !rest.is_empty() {
            if path.len() == MAX_REF_DEPTH {
                return Err(bad(&format!("is deeper than {MAX_REF_DEPTH} members")));
            }
            if let Some(r) = rest.strip_prefix('.') {
                let end = r.find(['.', '[']).unwrap_or(r.len());
                let name = &r[..end];
                if name.is_empty() || name.contains(']') {
                    return Err(bad("has an empty or malformed member name"));
                }
                path.push(Segment::Member(name.to_string()));
                rest = &r[end..];
            } else if let Some(r) = rest.strip_prefix('[') {
                let (i, r) = r
                    .split_once(']')
                    .ok_or_else(|| bad("has a `[` without its `]`"))?;
                path.push(Segment::Index(
                    parse_index(i).ok_or_else(|| bad("has a list index that is not a number"))?,
                ));
                rest = r;
            } else {
                return Err(bad("has something other than `.Member` or `[index]`"));
            }
        }
        Ok(Reference { step, path })
    }

    /// The string this reference stands for in `answer`.
    pub fn resolve<'a>(&self, answer: &'a Value) -> Result<&'a str, String> {
        let mut at = answer;
        for seg in &self.path {
            let next = match seg {
                Segment::Member(m) => at.get(m.as_str()),
                Segment::Index(i) => at.get(*i),
            };
            at = next
                .ok_or_else(|| format!("`{self}` is not in the answer of steps[{}]", self.step))?;
        }
        match at {
            Value::String(s) if crate::mask::is_masked_marker(s) => Err(format!(
                "`{self}` is masked in the answer of steps[{}]; a masked value cannot be passed on",
                self.step
            )),
            Value::String(s) => Ok(s),
            other => Err(format!(
                "`{self}` is {} in the answer of steps[{}], not a string; a reference stands for a string",
                kind(other),
                self.step
            )),
        }
    }
}

impl std::fmt::Display for Reference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "steps[{}].answer", self.step)?;
        for seg in &self.path {
            match seg {
                Segment::Member(m) => write!(f, ".{m}")?,
                Segment::Index(i) => write!(f, "[{i}]")?,
            }
        }
        Ok(())
    }
}

fn shorten(s: &str) -> String {
    match s.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

fn parse_index(s: &str) -> Option<usize> {
    (!s.is_empty() && s.len() <= 6 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// A problem with one reference: the parameter path (`params.Item.arn.S`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefError {
    pub path: String,
    pub message: String,
}

/// Every reference in `params`, with the path of the parameter it stands in for. An object
/// with a `$ref` member must have no other member and a string value.
pub fn references(params: &Map<String, Value>) -> Result<Vec<(String, Reference)>, RefError> {
    let mut found = Vec::new();
    visit_map(
        &mut params.clone(),
        &mut String::from("params"),
        &mut |path, r| {
            found.push((path.to_string(), r.clone()));
            Ok(String::new())
        },
    )?;
    Ok(found)
}

/// `params` with each reference replaced by what `value` gives for it.
pub fn substitute(
    params: &Map<String, Value>,
    value: &mut dyn FnMut(&Reference) -> Result<String, String>,
) -> Result<Map<String, Value>, RefError> {
    let mut out = params.clone();
    visit_map(&mut out, &mut String::from("params"), &mut |_, r| value(r))?;
    Ok(out)
}

/// What a visit does with each reference, given the path of the parameter it stands in for:
/// the string to put in its place.
type Visitor<'a> = dyn FnMut(&str, &Reference) -> Result<String, String> + 'a;

fn visit_map(
    map: &mut Map<String, Value>,
    path: &mut String,
    f: &mut Visitor<'_>,
) -> Result<(), RefError> {
    for (k, v) in map.iter_mut() {
        let len = path.len();
        path.push('.');
        path.push_str(k);
        visit(v, path, f)?;
        path.truncate(len);
    }
    Ok(())
}

fn visit(v: &mut Value, path: &mut String, f: &mut Visitor<'_>) -> Result<(), RefError> {
    let at = |path: &str, message: String| RefError {
        path: path.to_string(),
        message,
    };
    match v {
        Value::Object(m) if m.contains_key(REF_KEY) => {
            if m.len() != 1 {
                return Err(at(
                    path,
                    format!("an object with `{REF_KEY}` is a reference and has no other member"),
                ));
            }
            let Some(Value::String(text)) = m.get(REF_KEY) else {
                return Err(at(path, format!("`{REF_KEY}` must be a string")));
            };
            let r = Reference::parse(text).map_err(|m| at(path, m))?;
            *v = Value::String(f(path, &r).map_err(|m| at(path, m))?);
            Ok(())
        }
        Value::Object(m) => visit_map(m, path, f),
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                visit(item, path, f)?;
                path.truncate(len);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_steps_members_and_indexes() {
        let r = Reference::parse("steps[2].answer.Table.KeySchema[0].AttributeName").unwrap();
        assert_eq!(r.step, 2);
        assert_eq!(
            r.path,
            vec![
                Segment::Member("Table".into()),
                Segment::Member("KeySchema".into()),
                Segment::Index(0),
                Segment::Member("AttributeName".into()),
            ]
        );
        assert_eq!(
            r.to_string(),
            "steps[2].answer.Table.KeySchema[0].AttributeName"
        );
        assert_eq!(Reference::parse("steps[0].answer").unwrap().path, vec![]);
    }

    #[test]
    fn malformed_references_say_what_is_wrong() {
        for (text, why) in [
            ("step[0].answer.X", "does not start with `steps[`"),
            ("steps[x].answer.X", "no step number"),
            ("steps[0].result.X", "`.answer`"),
            ("steps[0].answer..X", "empty or malformed member"),
            ("steps[0].answer.X[1", "without its `]`"),
            ("steps[0].answer.X[a]", "not a number"),
            ("steps[0].answerX", "other than"),
            ("steps[-1].answer", "no step number"),
        ] {
            let e = Reference::parse(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
            assert!(e.contains("steps[N].answer"), "{e}");
        }
        let deep = format!("steps[0].answer{}", ".a".repeat(40));
        assert!(Reference::parse(&deep).unwrap_err().contains("deeper"));
        let long = format!("steps[0].answer.{}", "a".repeat(600));
        assert!(Reference::parse(&long).unwrap_err().contains("longer"));
    }

    #[test]
    fn references_are_found_with_their_paths() {
        let params = json!({
            "TableName": "t",
            "Item": {"id": {"S": "a"}, "arn": {"S": {"$ref": "steps[0].answer.TableDescription.TableArn"}}},
            "List": [{"x": {"$ref": "steps[1].answer.Items[0]"}}]
        });
        let found = references(params.as_object().unwrap()).unwrap();
        let paths: Vec<_> = found.iter().map(|(p, r)| (p.as_str(), r.step)).collect();
        assert_eq!(paths, [("params.Item.arn.S", 0), ("params.List[0].x", 1)]);

        let bad = json!({"Item": {"$ref": "steps[0].answer", "extra": 1}});
        let e = references(bad.as_object().unwrap()).unwrap_err();
        assert_eq!(e.path, "params.Item");
        assert!(e.message.contains("no other member"));
        let bad = json!({"Item": {"$ref": 3}});
        assert!(
            references(bad.as_object().unwrap())
                .unwrap_err()
                .message
                .contains("must be a string")
        );
    }

    #[test]
    fn substitution_replaces_every_reference() {
        let params = json!({"A": {"$ref": "steps[0].answer.X"}, "B": [{"$ref": "steps[0].answer.Y"}], "C": 1});
        let out = substitute(params.as_object().unwrap(), &mut |r| Ok(r.to_string())).unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"A": "steps[0].answer.X", "B": ["steps[0].answer.Y"], "C": 1})
        );
        let e = substitute(params.as_object().unwrap(), &mut |_| Err("no".into())).unwrap_err();
        assert_eq!(e.path, "params.A");
    }

    #[test]
    fn resolution_reads_strings_and_refuses_the_rest() {
        let answer = json!({"T": {"Arn": "arn:x", "N": 3, "L": ["a"], "S": "****MASKED****"}});
        let r = |t: &str| Reference::parse(t).unwrap();
        assert_eq!(r("steps[0].answer.T.Arn").resolve(&answer), Ok("arn:x"));
        assert_eq!(r("steps[0].answer.T.L[0]").resolve(&answer), Ok("a"));
        assert!(
            r("steps[0].answer.T.N")
                .resolve(&answer)
                .unwrap_err()
                .contains("is a number in the answer of steps[0], not a string")
        );
        assert!(
            r("steps[0].answer.T.Nope")
                .resolve(&answer)
                .unwrap_err()
                .contains("is not in the answer")
        );
        assert!(
            r("steps[0].answer.T.L[3]")
                .resolve(&answer)
                .unwrap_err()
                .contains("is not in the answer")
        );
        assert!(
            r("steps[0].answer.T.S")
                .resolve(&answer)
                .unwrap_err()
                .contains("masked")
        );
    }
}
