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

#[test]
fn the_shipped_decision_table_holds() {
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/policies");
    let (code, out, err) = tollgate(&["policy", "test", repo]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(" 0 failed"), "{out}");
    assert!(!out.contains("FAIL"), "{out}");
}

#[test]
fn a_decision_table_reports_every_difference() {
    let dir = scratch("table");
    write(
        &dir,
        "p.cedar",
        r#"@id("reads") permit (principal, action in Action::"Read", resource);
@id("either") @approval("2") @approvers("dba or security")
permit (principal, action in Action::"Write", resource);
@id("ci-only") forbid (principal, action, resource)
when { !(principal.groups.contains("ci")) };
"#,
    );
    write(
        &dir,
        "decisions.toml",
        r#"
# As the operator means it.
[[case]]
name = "reads run at once"
request = { action = "dynamodb:DescribeTable", params = { TableName = "orders" } }
claims = { sub = "ci-bot", groups = ["ci"] }
expect = { effect = "allow", policy_ids = ["reads"] }

[[case]]
name = "changes need two from either group"
request = { action = "dynamodb:DeleteTable", params = { TableName = "orders" }, reason = "cleanup" }
claims = { sub = "ci-bot", groups = ["ci"] }
expect = { effect = "approval", approvals = 2, requirements = [{ groups = ["security", "dba"], approvals = 2 }] }

[[case]]
name = "a wrong expectation"
request = { action = "dynamodb:DeleteTable", params = { TableName = "orders" }, reason = "cleanup" }
claims = { sub = "ci-bot", groups = ["ci"] }
expect = { effect = "approval", approvals = 1, requirements = [{ group = "dba", approvals = 1 }], policy_ids = ["writes"] }

[[case]]
name = "agents outside ci are refused"
request = { action = "dynamodb:DescribeTable", params = { TableName = "orders" } }
expect = { effect = "allow" }
"#,
    );
    let (code, out, err) = tollgate(&["policy", "test", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.contains("ok    reads run at once\n"), "{out}");
    assert!(
        out.contains("ok    changes need two from either group\n"),
        "{out}"
    );
    let table = dir.join("decisions.toml").display().to_string();
    let expected = format!(
        "FAIL  a wrong expectation  ({table}, case 3)
      approvals: expected 1, got 2
      requirements: expected 1 from `dba`, got 2 from `dba` or `security`
      policy_ids: expected [writes], got [either]
      decided: dynamodb:DeleteTable (Write) needs 2 approvals (2 from `dba` or `security`): policy either
"
    );
    assert!(out.contains(&expected), "{out}");
    assert!(
        out.contains(&format!(
            "FAIL  agents outside ci are refused  ({table}, case 4)\n      effect: expected allow, got deny\n"
        )),
        "{out}"
    );
    assert!(out.ends_with("2 passed, 2 failed\n"), "{out}");

    // A misspelt field is an error with its place, never a check that silently passes.
    write(
        &dir,
        "decisions.toml",
        "[[case]]\nname = \"x\"\nrequest = { action = \"dynamodb:ListTables\" }\nexpect = { effect = \"allow\", aprovals = 1 }\n",
    );
    let (code, out, err) = tollgate(&["policy", "test", dir.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("aprovals") && err.contains("line 4"), "{err}");
    std::fs::remove_file(dir.join("decisions.toml")).unwrap();
    let (code, _, err) = tollgate(&["policy", "test", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("no decision table"), "{err}");
}

#[test]
fn a_decision_table_can_set_the_rate_counters() {
    let dir = scratch("rate");
    // The worked example of docs/policy.md, from the page.
    let doc = include_str!("../../../docs/policy.md");
    let start = doc.find("@id(\"deletes-run-at-once\")").unwrap();
    let end = start + doc[start..].find("```").unwrap();
    write(&dir, "rate.cedar", &doc[start..end]);
    write(
        &dir,
        "decisions.toml",
        r#"
[[case]]
name = "the fifth delete of the hour runs at once"
request = { action = "s3:DeleteObject", params = { Bucket = "logs", Key = "a" } }
recent = { hour = { requests = 9, action = 5 } }
expect = { effect = "allow", policy_ids = ["deletes-run-at-once"] }

[[case]]
name = "the sixth needs an approval"
request = { action = "s3:DeleteObject", params = { Bucket = "logs", Key = "a" } }
recent = { hour = { action = 6 }, day = { action = 6 } }
expect = { effect = "approval", approvals = 1, policy_ids = ["more-deletes-need-approval"] }

[[case]]
name = "the fifty-first is denied"
request = { action = "s3:DeleteObject", params = { Bucket = "logs", Key = "a" } }
recent = { hour = { action = 51 } }
expect = { effect = "deny", policy_ids = ["too-many-deletes"] }

[[case]]
name = "counts left out are 0"
request = { action = "s3:DeleteObject", params = { Bucket = "logs", Key = "a" } }
expect = { effect = "allow" }
"#,
    );
    let (code, out, err) = tollgate(&["policy", "test", dir.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.ends_with("4 passed, 0 failed\n"), "{out}");
    write(
        &dir,
        "decisions.toml",
        "[[case]]\nname = \"x\"\nrequest = { action = \"s3:DeleteObject\", params = { Bucket = \"b\", Key = \"k\" } }\nrecent = { hour = { actions = 1 } }\nexpect = { effect = \"allow\" }\n",
    );
    let (code, _, err) = tollgate(&["policy", "test", dir.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("actions"), "{err}");
}
