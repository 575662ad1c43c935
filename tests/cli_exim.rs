//! End-to-end for Exim: run the real binary on the Exim fixtures and on a generated mainlog,
//! read the Parquet dataset back.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use arrow_array::Array;
use arrow_array::cast::AsArray;
use arrow_array::types::{Int32Type, Int64Type};
use bouncestat::sink::{Table, read_table};

mod common;
use common::{bouncestat, fixtures, fixtures_in};

fn strings(array: &dyn Array) -> Vec<Option<String>> {
    if let Some(strings) = array.as_string_opt::<i32>() {
        return strings.iter().map(|s| s.map(str::to_owned)).collect();
    }
    let dict = array.as_dictionary::<Int32Type>();
    let values = dict.values().as_string::<i32>();
    dict.keys()
        .iter()
        .map(|k| k.map(|k| values.value(k as usize).to_owned()))
        .collect()
}

/// Attempts per (source, mta_host, outcome) in the `attempts` table.
fn attempts(out: &Path) -> BTreeMap<(String, Option<String>, String), i64> {
    let mut totals = BTreeMap::new();
    for batch in read_table(out, Table::Attempts).unwrap() {
        let column = |name: &str| strings(batch.column_by_name(name).unwrap().as_ref());
        let (source, host, outcome) = (column("source"), column("mta_host"), column("outcome"));
        let counts = batch
            .column_by_name("attempts")
            .unwrap()
            .as_primitive::<Int64Type>();
        for i in 0..batch.num_rows() {
            let key = (
                source[i].clone().unwrap(),
                host[i].clone().filter(|h| !h.is_empty()),
                outcome[i].clone().unwrap(),
            );
            *totals.entry(key).or_insert(0) += counts.value(i);
        }
    }
    totals
}

#[test]
fn ingest_exim_fixture_dir_writes_a_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = fixtures_in("exim", tmp.path());
    let out = tmp.path().join("out");
    bouncestat()
        .args([
            "ingest",
            "--timezone",
            "UTC",
            "--quiet",
            "--threads",
            "2",
            "--out",
        ])
        .arg(&out)
        .arg(&logs)
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "events: 18 (delivered 8, deferred 4, bounced 5, expired 1)",
        ))
        .stdout(predicates::str::contains("rejected lines: 0"));
    let totals = attempts(&out);
    let exim = |host: Option<&str>, outcome: &str| {
        totals
            .get(&(
                "exim".to_owned(),
                host.map(str::to_owned),
                outcome.to_owned(),
            ))
            .copied()
            .unwrap_or(0)
    };
    // The mainlog names no host; the syslog-wrapped lines do.
    assert_eq!(exim(None, "delivered"), 6);
    assert_eq!(exim(None, "deferred"), 4);
    assert_eq!(exim(None, "bounced"), 4);
    assert_eq!(exim(None, "expired"), 1);
    assert_eq!(exim(Some("mx2"), "delivered"), 2);
    assert_eq!(exim(Some("mx2"), "bounced"), 1);
    assert_eq!(totals.values().sum::<i64>(), 18);
}

#[test]
fn forced_format_and_rejectlog_message() {
    let rejectlog = fixtures().join("malformed/exim-rejectlog.log");
    bouncestat()
        .args(["ingest", "--timezone", "UTC", "--quiet", "--format", "exim"])
        .arg(&rejectlog)
        .assert()
        .code(1)
        .stdout(predicates::str::contains(
            "exim rejectlog line: not a delivery log: 8",
        ));
    // A mainlog forced through the Postfix parser finds nothing.
    bouncestat()
        .args([
            "ingest",
            "--timezone",
            "UTC",
            "--quiet",
            "--format",
            "postfix",
        ])
        .arg(fixtures().join("exim/lifecycle.log"))
        .assert()
        .stdout(predicates::str::contains("events: 0"));
}

#[test]
fn generated_mainlog_ingests_to_its_ground_truth() {
    let tmp = tempfile::tempdir().unwrap();
    let log = tmp.path().join("mainlog");
    let truth = tmp.path().join("truth.json");
    bouncestat()
        .args([
            "generate",
            "--format",
            "exim",
            "--lines",
            "20000",
            "--exim-timezone",
            "+0200",
            "--exim-millisec",
            "-o",
        ])
        .arg(&log)
        .arg("--truth")
        .arg(&truth)
        .assert()
        .success();
    let truth: serde_json::Value = serde_json::from_slice(&fs::read(&truth).unwrap()).unwrap();
    let attempts = &truth["attempts"];
    let expected = format!(
        "events: {} (delivered {}, deferred {}, bounced {}, expired {})",
        attempts["sent"].as_u64().unwrap()
            + attempts["deferred"].as_u64().unwrap()
            + attempts["bounced"].as_u64().unwrap()
            + attempts["expired"].as_u64().unwrap(),
        attempts["sent"],
        attempts["deferred"],
        attempts["bounced"],
        attempts["expired"],
    );
    // Retries of mail that arrived before the log's first line: no `<=` names the sender.
    let unknown: u64 = truth["by_sender_domain"][""]
        .as_object()
        .expect("the log opens on a queue of retries")
        .values()
        .map(|n| n.as_u64().unwrap())
        .sum();
    bouncestat()
        .args(["ingest", "--timezone", "UTC", "--quiet", "--threads", "2"])
        .arg(&log)
        .assert()
        .success()
        .stdout(predicates::str::contains(expected))
        .stdout(predicates::str::contains(format!(
            "without a known sender: {unknown};"
        )))
        .stdout(predicates::str::contains("rejected lines: 0"));
}
