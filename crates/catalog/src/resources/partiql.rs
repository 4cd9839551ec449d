//! The tables a DynamoDB PartiQL statement names. DynamoDB's PartiQL has four statement
//! forms, each with one table: `SELECT … FROM t[."index"] [WHERE …]`, `INSERT INTO t VALUE
//! {…}`, `UPDATE t SET|REMOVE …`, `DELETE FROM t WHERE …` (and `EXISTS(SELECT …)` in
//! transactions). The statement is tokenized (strings, quoted identifiers, words,
//! punctuation); anything outside what those forms need (comments, an unquoted name with a
//! `-`, a second table) makes the statement unreadable, so its table stays unknown rather
//! than guessed.

/// A table (and index) a statement acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub table: String,
    pub index: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A word: keyword or unquoted identifier, as written.
    Word(String),
    /// `"name"`, with `""` unescaped.
    Quoted(String),
    /// `'text'`: a value, never a name.
    Str,
    /// A number.
    Num,
    Punct(char),
}

/// Longest statement read; DynamoDB's own limit is 8 KiB.
const MAX_STATEMENT: usize = 8192;

fn tokens(s: &str) -> Option<Vec<Token>> {
    if s.len() > MAX_STATEMENT {
        return None;
    }
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' || c == '\'' {
            let mut text = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return None,
                    Some(&q) if q == c => {
                        if chars.get(i + 1) == Some(&c) {
                            text.push(c);
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(&other) => {
                        text.push(other);
                        i += 1;
                    }
                }
            }
            out.push(if c == '"' {
                Token::Quoted(text)
            } else {
                Token::Str
            });
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Token::Word(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
            out.push(Token::Num);
        } else if "(){}[],.:?=<>!+*;|%-/".contains(c) {
            // Comments (`--`, `/*`) are not read: what they hide is unknown.
            let next = chars.get(i + 1).copied();
            if (c == '-' && next == Some('-')) || (c == '/' && next == Some('*')) {
                return None;
            }
            out.push(Token::Punct(c));
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

fn is_kw(t: Option<&Token>, kw: &str) -> bool {
    matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
}

/// A table name at `i` (quoted, or an unquoted word that is not a keyword), with an optional
/// `."index"`; returns it and the index after it.
fn table_ref(toks: &[Token], i: usize) -> Option<(Target, usize)> {
    const KEYWORDS: [&str; 10] = [
        "select", "from", "where", "insert", "into", "update", "delete", "set", "remove", "value",
    ];
    let name = |t: Option<&Token>| match t {
        Some(Token::Quoted(q)) if !q.is_empty() => Some(q.clone()),
        Some(Token::Word(w)) if !KEYWORDS.contains(&w.to_ascii_lowercase().as_str()) => {
            Some(w.clone())
        }
        _ => None,
    };
    let table = name(toks.get(i))?;
    if toks.get(i + 1) == Some(&Token::Punct('.')) {
        let index = name(toks.get(i + 2))?;
        return Some((
            Target {
                table,
                index: Some(index),
            },
            i + 3,
        ));
    }
    Some((Target { table, index: None }, i + 1))
}

/// What may follow the table: the end, or the clause the statement form allows there.
fn ends_ref(toks: &[Token], i: usize, allowed: &[&str]) -> bool {
    match toks.get(i) {
        None => true,
        Some(Token::Punct(')')) => true,
        t => allowed.iter().any(|kw| is_kw(t, kw)),
    }
}

/// The table of `statement`, or `None` when it is not one Tollgate can read with certainty.
pub fn target(statement: &str) -> Option<Target> {
    let toks = tokens(statement)?;
    let mut i = 0;
    if is_kw(toks.first(), "exists") && toks.get(1) == Some(&Token::Punct('(')) {
        if toks.last() != Some(&Token::Punct(')')) {
            return None;
        }
        i = 2;
    }
    let (from, after): (usize, &[&str]) = if is_kw(toks.get(i), "select") {
        // The first FROM outside brackets; projections are names and paths, never tables.
        let mut depth = 0i32;
        let mut j = i + 1;
        loop {
            match toks.get(j)? {
                Token::Punct('(' | '[' | '{') => depth += 1,
                Token::Punct(')' | ']' | '}') => depth -= 1,
                t if depth == 0 && is_kw(Some(t), "from") => break,
                _ => {}
            }
            j += 1;
        }
        (j + 1, &["where", "order"])
    } else if is_kw(toks.get(i), "insert") && is_kw(toks.get(i + 1), "into") {
        (i + 2, &["value"])
    } else if is_kw(toks.get(i), "update") {
        (i + 1, &["set", "remove", "where"])
    } else if is_kw(toks.get(i), "delete") && is_kw(toks.get(i + 1), "from") {
        (i + 2, &["where", "returning"])
    } else {
        return None;
    };
    let (t, next) = table_ref(&toks, from)?;
    if !ends_ref(&toks, next, after) {
        return None;
    }
    // A second FROM, INTO or table-like clause anywhere means another table may be named.
    let others = toks[next..].iter().any(|t| {
        ["from", "into", "update"]
            .iter()
            .any(|kw| is_kw(Some(t), kw))
    });
    (!others).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(s: &str) -> Option<String> {
        target(s).map(|t| t.table)
    }

    #[test]
    fn the_four_forms() {
        assert_eq!(
            table(r#"SELECT * FROM "prod-orders" WHERE pk = ?"#).as_deref(),
            Some("prod-orders")
        );
        assert_eq!(
            table("select a, b.c FROM orders").as_deref(),
            Some("orders")
        );
        assert_eq!(
            target(r#"SELECT * FROM "orders"."by-date" WHERE d > '2024'"#),
            Some(Target {
                table: "orders".into(),
                index: Some("by-date".into())
            })
        );
        assert_eq!(
            table(r#"INSERT INTO "t" VALUE {'pk': 'a', 'n': 1}"#).as_deref(),
            Some("t")
        );
        assert_eq!(
            table(r#"UPDATE "t" SET n = n + 1 WHERE pk = 'a'"#).as_deref(),
            Some("t")
        );
        assert_eq!(
            table(r#"UPDATE t REMOVE x WHERE pk = 'a'"#).as_deref(),
            Some("t")
        );
        assert_eq!(
            table(r#"UPDATE "t" SET n = n - 1 WHERE pk = 'a' AND m > -2"#).as_deref(),
            Some("t")
        );
        assert_eq!(
            table(r#"DELETE FROM "prod-orders" WHERE pk = ?"#).as_deref(),
            Some("prod-orders")
        );
        assert_eq!(
            table(r#"EXISTS(SELECT * FROM "t" WHERE pk = 'a')"#).as_deref(),
            Some("t")
        );
        assert_eq!(
            table(r#"SELECT * FROM "we""ird""#).as_deref(),
            Some("we\"ird")
        );
    }

    #[test]
    fn names_in_strings_and_projections_are_not_tables() {
        assert_eq!(
            table(r#"SELECT "from" FROM "t" WHERE x = 'FROM other'"#).as_deref(),
            Some("t")
        );
        assert_eq!(
            table(r#"SELECT * FROM t WHERE a IN [1, 2] AND b = {'k': 'FROM x'}"#).as_deref(),
            Some("t")
        );
    }

    #[test]
    fn anything_unsure_is_unknown() {
        for s in [
            "",
            "DROP TABLE t",
            "SELECT * FROM prod-orders",      // unquoted: not one name
            r#"SELECT * FROM /* "a" */ "b""#, // comments are not read
            r#"SELECT * FROM "a" -- x"#,
            r#"SELECT * FROM "a" WHERE x IN (SELECT * FROM "b")"#,
            r#"SELECT * FROM "a"#, // unterminated
            r#"DELETE "t" WHERE pk = 'a'"#,
            r#"SELECT * FROM "" WHERE pk = 'a'"#,
            "SELECT * FROM WHERE",
            "SELECT * FROM t\u{00a0}x",
            r#"EXISTS(SELECT * FROM "t""#,
        ] {
            assert_eq!(target(s), None, "{s}");
        }
    }
}
