//! Text from the table or from AWS, made safe to print on an operator's terminal.

/// `s` without the control characters that would rewrite a terminal (names, session names and
/// parameters are chosen by whoever made the call).
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}
