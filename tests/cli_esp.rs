//! End-to-end: the real binary on a directory mixing a Postfix log with ESP exports of every
//! provider (plain, JSON lines, concatenated, gzipped), read back from Parquet.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use bouncestat::sink::{Table, read_table};

mod common;
use common::{bouncestat, fixtures, pin_mtime};

/// Copies the Postfix lifecycle log (with a fixed mtime, for its year-less stamps) and every
/// ESP fixture into one directory.
fn mixed_dir(dir: &Path) -> PathBuf {
    let target = dir.join("in");
    fs::create_dir_all(&target).unwrap();
    let postfix = target.join("mail.log");
    fs::copy(fixtures().join("postfix/lifecycle.log"), &postfix).unwrap();
    pin_mtime(&postfix);
    for provider in ["ses", "sendgrid", "mailgun", "postmark", "sparkpost"] {
        for entry in fs::read_dir(fixtures().join("esp").join(provider)).unwrap() {
            let path = entry.unwrap().path();
            let name = format!("{provider}-{}", path.file_name().unwrap().to_string_lossy());
            fs::copy(&path, target.join(name)).unwrap();
        }
    }
    target
}

fn strings(array: &dyn Array) -> Vec<Option<String>> {
    if let Some(strings) = array.as_string_opt::<i32>() {
        return strings.iter().map(|s| s.map(str::to_string)).collect();
    }
    let dict = array.as_dictionary::<arrow_array::types::Int32Type>();
    let values = dict.values().as_string::<i32>();
    dict.keys()
        .iter()
        .map(|k| k.map(|k| values.value(k as usize).to_string()))
        .collect()
}

/// `(source, outcome) -> attempts` over the `attempts` table, and the set of
/// `(source, esp_type)` seen.
type SourceOutcomeTotals = BTreeMap<(String, String), i64>;

fn by_source(out: &Path) -> (SourceOutcomeTotals, Vec<(String, String)>) {
    let mut totals = BTreeMap::new();
    let mut esp_types = Vec::new();
    for batch in read_table(out, Table::Attempts).unwrap() {
        let column = |name: &str| strings(batch.column_by_name(name).unwrap().as_ref());
        let (source, outcome, esp_type) = (column("source"), column("outcome"), column("esp_type"));
        let attempts = batch
            .column_by_name("attempts")
            .unwrap()
            .as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            let source = source[row].clone().unwrap();
            *totals
                .entry((source.clone(), outcome[row].clone().unwrap()))
                .or_insert(0) += attempts.value(row);
            if let Some(kind) = &esp_type[row] {
                esp_types.push((source, kind.clone()));
            }
        }
    }
    esp_types.sort();
    esp_types.dedup();
    (totals, esp_types)
}

#[test]
fn mixed_postfix_and_esp_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let input = mixed_dir(tmp.path());
    let out = tmp.path().join("out");
    bouncestat()
        .args(["ingest", "--timezone", "UTC", "--quiet", "--out"])
        .arg(&out)
        .arg(&input)
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "events: 66 (delivered 18, deferred 12, bounced 22, expired 2; complained 5, suppressed 7)",
        ))
        .stdout(predicates::str::contains("rejected lines: 0"));

    let (totals, esp_types) = by_source(&out);
    let expected = [
        ("postfix", [5, 5, 4, 1, 0, 0]),
        ("ses", [6, 1, 8, 0, 1, 2]),
        ("sendgrid", [3, 2, 3, 0, 1, 2]),
        ("mailgun", [2, 2, 1, 1, 1, 1]),
        ("postmark", [1, 1, 3, 0, 1, 1]),
        ("sparkpost", [1, 1, 3, 0, 1, 1]),
    ];
    let outcomes = [
        "delivered",
        "deferred",
        "bounced",
        "expired",
        "complained",
        "suppressed",
    ];
    for (source, counts) in expected {
        for (outcome, count) in outcomes.iter().zip(counts) {
            let got = totals
                .get(&(source.to_string(), outcome.to_string()))
                .copied()
                .unwrap_or(0);
            assert_eq!(got, count, "{source} {outcome}: {totals:?}");
        }
    }
    assert!(
        esp_types.iter().all(|(source, _)| source != "postfix"),
        "no verdict for MTA rows"
    );
    assert!(esp_types.contains(&("sendgrid".into(), "blocked".into())));
    assert!(esp_types.contains(&("ses".into(), "Permanent".into())));

    // Complaints and suppressions reach the rollups as their own counts.
    let mut complained = 0;
    let mut suppressed = 0;
    for batch in read_table(&out, Table::ByProvider).unwrap() {
        let sum = |name: &str| -> i64 {
            let column = batch
                .column_by_name(name)
                .unwrap()
                .as_primitive::<Int64Type>();
            column.iter().flatten().sum()
        };
        complained += sum("complained");
        suppressed += sum("suppressed");
    }
    assert_eq!((complained, suppressed), (5, 7));
}

#[test]
fn esp_export_on_stdin_with_a_forced_format() {
    let data = fs::read(fixtures().join("esp/sendgrid/batch.json")).unwrap();
    bouncestat()
        .args(["ingest", "--quiet", "--format", "sendgrid", "-"])
        .write_stdin(data)
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "events: 7 (delivered 1, deferred 1, bounced 3, expired 0; complained 1, suppressed 1)",
        ));
}

#[test]
fn malformed_records_are_named_by_file_and_record() {
    let path = fixtures().join("malformed/sendgrid-broken.jsonl");
    bouncestat()
        .args(["ingest", "--quiet", "--show-rejects"])
        .arg(&path)
        .assert()
        .code(1)
        .stdout(predicates::str::contains("malformed JSON record: 2"))
        .stdout(predicates::str::contains(
            "sendgrid-broken.jsonl:4: not json at all",
        ));
}
