//! End-to-end tests of `explain`, `classify` and `eval` on the real binary.

use assert_cmd::Command;
use predicates::prelude::*;

fn bouncestat() -> Command {
    Command::cargo_bin("bouncestat").unwrap()
}

#[test]
fn explain_prints_verdict_advice_and_rule() {
    bouncestat()
        .args([
            "explain",
            "550-5.7.26 Unauthenticated email from example.com is not accepted due to domain's DMARC policy.",
            "--remote-host",
            "gmail-smtp-in.l.google.com",
            "--stage",
            "end of DATA",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("category:   auth_failure"))
        .stdout(predicate::str::contains("provider:   google"))
        .stdout(predicate::str::contains("action:     fix_authentication"))
        .stdout(predicate::str::contains("rule:       google.auth.unauthenticated (provider rule)"));
}

#[test]
fn explain_rejects_unknown_stage() {
    bouncestat()
        .args(["explain", "550 5.1.1 nope", "--stage", "lunch"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown stage"));
}

#[test]
fn classify_adds_fields_and_reports_bad_lines() {
    let input = concat!(
        r#"{"id":7,"reply_code":"550","enhanced_code":"5.1.1","text":"550 5.1.1 User unknown","stage":"RCPT TO","remote_host":"mx.example.org"}"#,
        "\n",
        "not json\n",
        "\n",
        r#"{"reply_code":451,"text":"4.7.500 Server busy. Please try again later from [192.0.2.1]. (S77719)","recipient_domain":"outlook.com"}"#,
        "\n",
    );
    let out = bouncestat()
        .arg("classify")
        .write_stdin(input)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("<stdin>:2:"))
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with(r#"{"id":7,"reply_code":"550""#),
        "{}",
        lines[0]
    );
    let first: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(first["category"], "user_unknown");
    assert_eq!(first["action"], "remove_address");
    let second: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(second["category"], "bad_reputation");
    assert_eq!(second["provider"], "microsoft");
    assert_eq!(second["rule_id"], "microsoft.reputation.try_later");
}

#[test]
fn classify_reads_a_file_with_user_rules() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"acme.full\"\ntext = ['acme storage exhausted']\ncategory = \"mailbox_full\"\n",
    )
    .unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "{\"text\":\"452 ACME storage exhausted\"}\n").unwrap();
    bouncestat()
        .arg("classify")
        .arg(&input)
        .arg("--rules")
        .arg(&rules)
        .assert()
        .success()
        .stdout(predicate::str::contains(r#""category":"mailbox_full""#))
        .stdout(predicate::str::contains(r#""rule_id":"acme.full""#));
}

#[test]
fn bad_rules_file_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"x\"\ncategory = \"spam_content\"\ntext = ['x']\nweight = 3\n",
    )
    .unwrap();
    bouncestat()
        .args(["explain", "hello", "--rules"])
        .arg(&rules)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown field"));
}

#[test]
fn eval_runs_the_labelled_set() {
    bouncestat()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("eval")
        .assert()
        .success()
        .stdout(predicate::str::contains("confusions (rules): 0"))
        .stdout(predicate::str::contains("status-code-only baseline"));
}
