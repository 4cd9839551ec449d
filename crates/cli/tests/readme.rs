//! The documentation's commands are real: every `make` target the README, CONTRIBUTING.md
//! and docs/*.md show exists, and every `tollgate` command line they show (in shell blocks
//! and inline) parses with the flags it uses. What they do is exercised by the end-to-end
//! tests and `make demo`; this keeps the text from drifting away from the code.

use std::path::{Path, PathBuf};

const MAKEFILE: &str = include_str!("../../../Makefile");

/// README.md, CONTRIBUTING.md and every docs/*.md, as (path relative to the repository, text).
fn documents() -> Vec<(String, String)> {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let mut paths = vec![root.join("README.md"), root.join("CONTRIBUTING.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .expect("docs/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    paths.extend(docs);
    paths
        .into_iter()
        .map(|p| {
            let text =
                std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let name = p.strip_prefix(&root).unwrap().display().to_string();
            (name, text)
        })
        .collect()
}

/// Shell-ish words of one command: quotes removed, `$(...)` left for the caller.
fn words(cmd: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    for c in cmd.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                started = true;
            }
            None if c.is_whitespace() => {
                if started || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                started = false;
            }
            None => cur.push(c),
        }
    }
    if started || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Commands in one line of shell: the line itself split at `&&`, `;` and `|`, plus the
/// command inside each `$(...)`, which is replaced by a placeholder word.
fn commands(line: &str) -> Vec<String> {
    let mut line = line.to_string();
    let mut found = Vec::new();
    while let Some(start) = line.find("$(") {
        let Some(len) = line[start..].find(')') else {
            break;
        };
        found.push(line[start + 2..start + len].to_string());
        line.replace_range(start..start + len + 1, "PLACEHOLDER");
    }
    // Here-strings feed stdin; they are not arguments.
    if let Some(i) = line.find("<<<") {
        line.truncate(i);
    }
    for part in line
        .split("&&")
        .flat_map(|p| p.split(';'))
        .flat_map(|p| p.split(" | "))
    {
        found.push(part.trim().to_string());
    }
    found
}

/// Every command line the documents show, with where it came from (`file:line`).
fn documented_commands() -> Vec<(String, String)> {
    documents()
        .into_iter()
        .flat_map(|(name, text)| {
            commands_in(&text)
                .into_iter()
                .map(move |(line, cmd)| (format!("{name}:{line}"), cmd))
        })
        .collect()
}

/// Every command line one document shows, with its line number.
fn commands_in(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_shell = false;
    let mut in_block = false;
    let mut pending = String::new();
    let mut para = String::new();
    let mut para_line = 0;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        if let Some(lang) = raw.trim_start().strip_prefix("```") {
            in_block = !in_block;
            in_shell = in_block && matches!(lang.trim(), "sh" | "bash" | "console" | "shell");
            inline_commands(para_line, &std::mem::take(&mut para), &mut out);
            continue;
        }
        if in_shell {
            let line = raw.split(" #").next().unwrap_or("").trim_end();
            if let Some(cont) = line.strip_suffix('\\') {
                pending.push_str(cont);
                pending.push(' ');
                continue;
            }
            pending.push_str(line);
            let full = std::mem::take(&mut pending);
            for c in commands(full.trim()) {
                out.push((n, c));
            }
        } else if !in_block && !raw.trim().is_empty() && !raw.trim_start().starts_with('|') {
            // Inline code spans may wrap: collect the paragraph, check it at its end.
            if para.is_empty() {
                para_line = n;
            }
            para.push_str(raw);
            para.push(' ');
            continue;
        }
        inline_commands(para_line, &std::mem::take(&mut para), &mut out);
    }
    inline_commands(para_line, &para, &mut out);
    out
}

/// Inline code spans in a paragraph that are whole commands.
fn inline_commands(line: usize, para: &str, out: &mut Vec<(usize, String)>) {
    for (k, span) in para.split('`').enumerate() {
        let span = span.split_whitespace().collect::<Vec<_>>().join(" ");
        if k % 2 == 1 && (span.starts_with("tollgate ") || span.starts_with("make ")) {
            out.push((line, span));
        }
    }
}

/// A synopsis word as a concrete argument: `<id>` and `<id>...` become a placeholder id.
fn placeholder(w: &str) -> String {
    let w = w.trim_end_matches("...");
    if w.starts_with('<') && w.ends_with('>') {
        "01PLACEHOLDER".to_string()
    } else {
        w.to_string()
    }
}

#[test]
fn every_make_target_in_the_docs_exists() {
    let targets: Vec<&str> = MAKEFILE
        .lines()
        .filter_map(|l| l.split_once(':').map(|(t, _)| t))
        .filter(|t| !t.is_empty() && !t.contains(' ') && !t.contains('$') && !t.starts_with('\t'))
        .collect();
    let mut checked = 0;
    for (place, cmd) in documented_commands() {
        let w = words(&cmd);
        if w.first().map(String::as_str) != Some("make") {
            continue;
        }
        for target in w[1..]
            .iter()
            .filter(|a| !a.contains('=') && !a.starts_with('-'))
        {
            assert!(
                targets.contains(&target.as_str()),
                "{place}: `make {target}` is not a Makefile target"
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 5,
        "only {checked} make commands found: is the parser broken?"
    );
}

#[test]
fn every_tollgate_command_in_the_docs_parses() {
    let bin = env!("CARGO_BIN_EXE_tollgate");
    assert!(Path::new(bin).exists());
    let mut checked = 0;
    for (place, cmd) in documented_commands() {
        // `[--flag value]` marks an optional part: check it as given.
        let w: Vec<String> = words(&cmd.replace(['[', ']'], ""))
            .into_iter()
            .skip_while(|w| w.contains('=') && !w.starts_with('-'))
            .collect();
        if w.first().map(String::as_str) != Some("tollgate") {
            continue;
        }
        let args: Vec<String> = w[1..].iter().map(|a| placeholder(a)).collect();
        // `--help` makes clap check every argument given and then stop: no URL, token or
        // network is needed, and an unknown flag or subcommand still fails.
        let out = std::process::Command::new(bin)
            .args(&args)
            .arg("--help")
            .env_remove("TOLLGATE_URL")
            .env_remove("TOLLGATE_TOKEN")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{place}: `{cmd}` does not parse: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(
        checked >= 10,
        "only {checked} tollgate commands found: is the parser broken?"
    );
}

#[test]
fn the_parser_catches_what_it_should() {
    assert_eq!(
        commands("export T=$(tollgate token --sub a) && tollgate request x <<<'{}'"),
        vec![
            "tollgate token --sub a",
            "export T=PLACEHOLDER",
            "tollgate request x"
        ]
    );
    assert_eq!(
        words(r#"tollgate approve <id> --comment "looks good""#),
        vec!["tollgate", "approve", "<id>", "--comment", "looks good"]
    );
    // A flag the CLI does not have is refused even with --help.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(["request", "x", "--no-such-flag", "--help"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}
