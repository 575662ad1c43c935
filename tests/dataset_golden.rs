//! The whole dataset, as written to disk: the binary ingests the Postfix, Exim and ESP fixtures
//! and every row of every table is read back from Parquet and compared with
//! `fixtures/expected/dataset/<set>/<table>.tsv`. Speed work on the pipeline and the sink must
//! leave these files unchanged: they were first written by the version before that work, so a
//! pass means the dataset is the same, value for value and row for row.
//! `BLESS=1 cargo test --test dataset_golden` rewrites them after a deliberate change.

use std::path::Path;

use bouncestat::sink::{Table, read_table};

mod common;
use common::{bouncestat, fixtures, fixtures_in, render};

fn check(set: &str, logs: &Path, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    bouncestat()
        .arg("ingest")
        .arg(logs)
        .args(["--quiet", "--timezone", "UTC", "--out"])
        .arg(&out)
        .args(extra)
        .assert()
        .success();
    let expected_dir = fixtures().join("expected/dataset").join(set);
    for table in Table::ALL {
        let got = render(&read_table(&out, table).unwrap());
        let path = expected_dir.join(format!("{}.tsv", table.name()));
        if std::env::var_os("BLESS").is_some() {
            std::fs::create_dir_all(&expected_dir).unwrap();
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (BLESS=1 writes it)", path.display()));
        assert!(
            got == want,
            "{set}/{}: the dataset differs from {}",
            table.name(),
            path.display()
        );
    }
}

#[test]
fn postfix_dataset_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    check("postfix", &fixtures_in("postfix", dir.path()), &[]);
}

#[test]
fn postfix_dataset_is_unchanged_with_one_thread_and_small_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let logs = fixtures_in("postfix", dir.path());
    check(
        "postfix",
        &logs,
        &["--threads", "1", "--block-bytes", "4096"],
    );
}

#[test]
fn exim_dataset_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    check("exim", &fixtures_in("exim", dir.path()), &[]);
}

#[test]
fn esp_dataset_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    for provider in ["ses", "sendgrid", "mailgun", "postmark", "sparkpost"] {
        let copied = fixtures_in(&format!("esp/{provider}"), &dir.path().join(provider));
        std::fs::create_dir_all(&logs).unwrap();
        for entry in std::fs::read_dir(&copied).unwrap() {
            let path = entry.unwrap().path();
            let name = format!("{provider}-{}", path.file_name().unwrap().to_string_lossy());
            std::fs::rename(&path, logs.join(name)).unwrap();
        }
    }
    check("esp", &logs, &[]);
}
