//! `tollgate policy validate|check`, offline.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};

fn tollgate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tollgate"))
        .args(args)
        .output()
        .expect("run tollgate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tollgate-policy-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn validate_bundled_and_repo_policies() {
    let (code, out, err) = tollgate(&["policy", "validate"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("15 policies"), "{out}");
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/policies");
    let (code, out, err) = tollgate(&["policy", "validate", repo]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn validate_reports_file_and_line() {
    let dir = scratch("invalid");
    write(
        &dir,
        "good.cedar",
        "@id(\"ok\")\npermit (principal, action in Action::\"Read\", resource);\n",
    );
    let bad = write(
        &dir,
        "bad.cedar",
        "@id(\"bad\")\n\npermit (principal, action == Action::\"s3:GetObjekt\", resource);\n",
    );
    let (code, _, err) = tollgate(&["policy", "validate", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("{bad}:3:")), "{err}");
    assert!(err.contains("s3:GetObjekt"), "{err}");
    let syntax = write(
        &dir,
        "syntax.cedar",
        "@id(\"s\")\npermit (principal, action, resource) when { context.hour > };\n",
    );
    let (code, _, err) = tollgate(&["policy", "validate", &syntax]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("{syntax}:2:")), "{err}");
}

#[test]
fn check_prints_the_decision_and_exits_by_it() {
    let dir = scratch("check");
    let read = write(
        &dir,
        "read.json",
        &json!({"action": "s3:ListObjectsV2", "params": {"Bucket": "logs"}}).to_string(),
    );
    let (code, out, err) = tollgate(&["policy", "check", "--request", &read]);
    assert_eq!(code, 0, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["iam_actions"], json!(["s3:ListBucket"]));
    assert_eq!(v["resources"], json!(["arn:aws:s3:::logs"]));
    assert_eq!(v["decision"]["effect"], "allow");
    assert!(err.contains("reads and lists run at once"), "{err}");

    let write_req = write(
        &dir,
        "write.json",
        &json!({"action": "iam:PutRolePolicy", "params": {"RoleName": "app"}, "reason": "x"})
            .to_string(),
    );
    let (code, out, _) = tollgate(&["policy", "check", "--request", &write_req]);
    assert_eq!(code, 7, "{out}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["decision"]["approvals"], 2);

    let denied = write(
        &dir,
        "deny.json",
        &json!({"action": "cloudtrail:StopLogging", "params": {"Name": "t"}}).to_string(),
    );
    let (code, out, _) = tollgate(&["policy", "check", "--request", &denied]);
    assert_eq!(code, 4, "{out}");

    // Claims are visible to custom policies as tags.
    let policy = write(
        &dir,
        "owner.cedar",
        "@id(\"acme\")\npermit (principal, action, resource) when { principal.hasTag(\"repository_owner\") && principal.getTag(\"repository_owner\") == \"acme\" };\n",
    );
    let claims = write(&dir, "claims.json", &json!({"iss": "https://token.actions.githubusercontent.com", "sub": "repo:acme/app:ref:refs/heads/main", "repository_owner": "acme"}).to_string());
    let (code, out, err) = tollgate(&[
        "policy",
        "check",
        "--request",
        &denied,
        "--claims",
        &claims,
        "--policies",
        &policy,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let other = write(
        &dir,
        "other.json",
        &json!({"sub": "x", "repository_owner": "evil"}).to_string(),
    );
    let (code, _, _) = tollgate(&[
        "policy",
        "check",
        "--request",
        &denied,
        "--claims",
        &other,
        "--policies",
        &policy,
    ]);
    assert_eq!(code, 4);

    let (code, _, err) = tollgate(&["policy", "check", "--request", "/nonexistent.json"]);
    assert_eq!(code, 1);
    assert!(err.contains("--request"), "{err}");
}

#[test]
fn check_shows_what_each_group_has_to_give() {
    // The operator's security policy ties with the shipped two-approval one; both hold.
    let dir = scratch("groups");
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/policies");
    for f in std::fs::read_dir(repo).unwrap() {
        let f = f.unwrap().path();
        if f.extension().is_some_and(|x| x == "cedar") {
            std::fs::copy(&f, dir.join(f.file_name().unwrap())).unwrap();
        }
    }
    write(
        &dir,
        "operator.cedar",
        "@id(\"security-iam\") @approval(\"2\") @approvers(\"security\")\npermit (principal, action in Action::\"Permissions management\", resource);\n@id(\"one-from-audit\") @approval(\"1\") @approvers(\"audit\")\npermit (principal, action == Action::\"iam:PutRolePolicy\", resource);\n",
    );
    let req = write(
        &dir,
        "req.json",
        &json!({"action": "iam:PutRolePolicy", "params": {"RoleName": "app"}, "reason": "x"})
            .to_string(),
    );
    let (code, out, err) = tollgate(&[
        "policy",
        "check",
        "--request",
        &req,
        "--policies",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 7, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["decision"]["requirements"],
        json!([{"group": "audit", "approvals": 1}, {"group": "security", "approvals": 2}])
    );
    assert!(
        err.contains("  needs 1 from `audit`\n  needs 2 from `security`\n"),
        "{err}"
    );
}
