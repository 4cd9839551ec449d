//! The command as a Unix tool, offline: a closed pipe, shell completions, help examples.

use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_tollgate");

fn tollgate(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env_remove("TOLLGATE_TOKEN")
        .env_remove("TOLLGATE_TOKEN_COMMAND")
        .env_remove("TOLLGATE_OUTPUT")
        .env_remove("TOLLGATE_CONFIG")
        .env("HOME", std::env::temp_dir())
        .stdin(Stdio::null());
    c
}

/// Runs with standard output a pipe whose reader is already closed, as `| head` leaves it.
fn into_closed_pipe(args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let mut c = tollgate(args);
    c.stdout(writer).stderr(Stdio::piped());
    c.output().expect("run tollgate")
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    // Long output (the completion script) and a JSON answer with an exit code of its own.
    let out = into_closed_pipe(&["completions", "bash"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "nothing on stderr, no panic: {err}");

    let dir = std::env::temp_dir().join(format!("tollgate-pipe-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let req = dir.join("req.json");
    std::fs::write(
        &req,
        r#"{"action": "dynamodb:DeleteTable", "params": {"TableName": "t"}, "reason": "r"}"#,
    )
    .unwrap();
    let out = into_closed_pipe(&["policy", "check", "--request", req.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(7),
        "the command's own exit code: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn completions_for_bash_zsh_and_fish() {
    for (shell, marker) in [
        ("bash", "complete -F _tollgate"),
        ("zsh", "#compdef tollgate"),
        ("fish", "complete -c tollgate"),
    ] {
        let out = tollgate(&["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8_lossy(&out.stdout);
        assert!(script.contains(marker), "{shell}: {marker}");
        for verb in ["request", "status", "approve", "completions", "mcp"] {
            assert!(script.contains(verb), "{shell} completes `{verb}`");
        }
    }
    let out = tollgate(&["completions", "tcsh"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn every_verb_shows_examples_in_its_help() {
    let verbs: &[&[&str]] = &[
        &["token"],
        &["request"],
        &["status"],
        &["list"],
        &["pending"],
        &["cancel"],
        &["mcp"],
        &["approve"],
        &["reject"],
        &["policy"],
        &["policy", "validate"],
        &["policy", "check"],
        &["audit"],
        &["audit", "verify"],
        &["completions"],
    ];
    for verb in verbs {
        let mut args = verb.to_vec();
        args.push("--help");
        let out = tollgate(&args).output().unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{verb:?}");
        let examples = help.split("Examples:").nth(1).unwrap_or("");
        assert!(
            examples.lines().any(
                |l| l.trim_start().starts_with(&format!("tollgate {}", verb[0]))
                    || l.contains(&format!(" tollgate {}", verb[0]))
            ),
            "{verb:?} has examples of itself:\n{help}"
        );
    }
}
