//! Text an agent chose (its reason, its display name, anything derived from its parameters),
//! made safe to show a human in a notice: it may stay on its line or be visibly quoted, but it
//! never passes for a line Tollgate wrote. And the one HTML escaping every page uses (the
//! approval page, the dev issuer's sign-in).

/// Characters that start a new line somewhere: in a terminal, a mail client or a browser.
fn breaks_line(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0b}' | '\u{0c}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Characters that change how the text around them is drawn (bidirectional overrides and
/// isolates reorder what is shown) or are invisible controls.
fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// An error message (short, lower case, no final stop) as a sentence for a page or a chat
/// line: one final stop, so text can follow it, and a capital first letter unless the
/// message starts with a field name (`request_hash: ...`), which keeps its spelling.
pub fn sentence(s: &str) -> String {
    let s = s.trim();
    let first = s.split_whitespace().next().unwrap_or("");
    let names_a_field = first.ends_with(':')
        || first
            .trim_end_matches(['.', ',', ';'])
            .chars()
            .any(|c| matches!(c, '_' | '`' | '.' | '[' | '/'));
    let mut out = if names_a_field {
        s.to_string()
    } else {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

pub fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| if breaks_line(c) || hidden(c) { ' ' } else { c })
        .collect()
}

/// The text's lines, each cleaned of controls, for quoting line by line.
pub fn lines(s: &str) -> Vec<String> {
    s.split(breaks_line)
        .map(|l| l.chars().filter(|c| !hidden(*c)).collect())
        .collect()
}

/// Text made safe inside HTML element content and quoted attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {

    #[test]
    fn messages_become_sentences() {
        assert_eq!(sentence("this is yours; ask"), "This is yours; ask.");
        assert_eq!(sentence("done."), "Done.");
        assert_eq!(sentence("`x` is wrong"), "`x` is wrong.");
        assert_eq!(sentence(""), ".");
        // A field name first keeps its spelling: it is what the caller has to fix.
        assert_eq!(
            sentence("request_hash: does not match"),
            "request_hash: does not match."
        );
        assert_eq!(
            sentence("params.Bucket: is required"),
            "params.Bucket: is required."
        );
    }
    use super::*;

    #[test]
    fn nothing_starts_a_line_of_its_own() {
        assert_eq!(
            one_line("a\nb\r\nc\u{2028}d\u{85}e\u{1b}[31m"),
            "a b  c d e [31m"
        );
        assert_eq!(one_line("deploy\u{202e}tob"), "deploy tob");
        assert_eq!(
            lines("first\r\nReview and decide: https://evil\u{2029}x\u{7}"),
            vec!["first", "", "Review and decide: https://evil", "x"]
        );
    }

    #[test]
    fn html_escape_escapes_markup_and_quotes() {
        assert_eq!(
            html_escape("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
    }
}
