//! What the command prints: JSON (the API's answer, for scripts) or a table for people.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Json,
    Table,
}

impl Output {
    pub fn parse(s: &str) -> Result<Output, String> {
        match s {
            "json" => Ok(Output::Json),
            "table" => Ok(Output::Table),
            _ => Err(format!("output `{s}`: expected json or table")),
        }
    }
}

/// Prints one answer: a request, a list of requests, or an error.
pub fn print(out: Output, body: &Value) {
    match out {
        Output::Json => println!("{}", serde_json::to_string_pretty(body).unwrap_or_default()),
        Output::Table => println!("{}", table(body)),
    }
}

fn table(body: &Value) -> String {
    if let Some(err) = body.get("error") {
        return format!(
            "error: {} ({})",
            err["message"].as_str().unwrap_or(""),
            err["code"].as_str().unwrap_or("")
        );
    }
    if let Some(list) = body.get("requests").and_then(Value::as_array) {
        let mut rows = vec![row_cells(None)];
        rows.extend(list.iter().map(|r| row_cells(Some(r))));
        let mut text = align(&rows);
        if let Some(c) = body.get("next_cursor").and_then(Value::as_str) {
            text.push_str(&format!("\nmore: --cursor {c}"));
        }
        return text;
    }
    if body.get("id").is_some() {
        let mut lines = vec![align(&[row_cells(None), row_cells(Some(body))])];
        for key in ["result", "error"] {
            if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
                lines.push(format!("{key}: {v}"));
            }
        }
        return lines.join("\n");
    }
    serde_json::to_string_pretty(body).unwrap_or_default()
}

fn row_cells(r: Option<&Value>) -> Vec<String> {
    let Some(r) = r else {
        return ["ID", "STATUS", "ACTION", "APPROVALS", "AGENT", "REASON"]
            .map(String::from)
            .to_vec();
    };
    let s = |p: &str| {
        r.pointer(p)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let approvals = r["votes"]
        .as_array()
        .map(|v| v.iter().filter(|v| v["verdict"] == "approve").count())
        .unwrap_or(0);
    let required = r["approvals_required"].as_u64().unwrap_or(0);
    let mut reason = s("/request/reason");
    if reason.chars().count() > 40 {
        reason = reason.chars().take(39).collect::<String>() + "…";
    }
    vec![
        s("/id"),
        s("/status"),
        s("/request/action"),
        format!("{approvals}/{required}"),
        s("/agent/subject"),
        reason,
    ]
}

fn align(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map(Vec::len).unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell:<w$}"))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_print_as_aligned_rows() {
        let t = table(&json!({"requests": [
            {"id": "01A", "status": "PENDING", "request": {"action": "dynamodb:DeleteTable", "reason": "drop"},
             "approvals_required": 2, "votes": [{"verdict": "approve"}], "agent": {"subject": "ci"}}
        ], "next_cursor": "1.01A"}));
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("ID   STATUS   ACTION"), "{t}");
        assert!(
            lines[1].starts_with("01A  PENDING  dynamodb:DeleteTable  1/2"),
            "{t}"
        );
        assert_eq!(lines[2], "more: --cursor 1.01A");
        assert_eq!(
            table(&json!({"error": {"code": "not_found", "message": "no request"}})),
            "error: no request (not_found)"
        );
    }
}
