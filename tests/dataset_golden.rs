//! The whole dataset, as written to disk: the binary ingests the Postfix, Exim and ESP fixtures
//! and every row of every table is read back from Parquet and compared with
//! `fixtures/expected/dataset/<set>/<table>.tsv`. Speed work on the pipeline and the sink must
//! leave these files unchanged: they were first written by the version before that work, so a
//! pass means the dataset is the same, value for value and row for row.
//! `BLESS=1 cargo test --test dataset_golden` rewrites them after a deliberate change.

use std::fmt::Write as _;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float64Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use bouncestat::sink::{Table, read_table};

mod common;
use common::{bouncestat, fixtures, fixtures_in};

/// Cell `row` of `column` as text (`-` for null).
fn cell(column: &dyn Array, row: usize) -> String {
    if column.is_null(row) {
        return "-".into();
    }
    match column.data_type() {
        DataType::Utf8 => column.as_string::<i32>().value(row).to_string(),
        DataType::Dictionary(_, _) => {
            let dict = column.as_dictionary::<Int32Type>();
            let key = dict.keys().value(row) as usize;
            dict.values().as_string::<i32>().value(key).to_string()
        }
        DataType::Int16 => column.as_primitive::<Int16Type>().value(row).to_string(),
        DataType::Int64 => column.as_primitive::<Int64Type>().value(row).to_string(),
        DataType::Float64 => format!("{:.6}", column.as_primitive::<Float64Type>().value(row)),
        DataType::Boolean => column.as_boolean().value(row).to_string(),
        DataType::Date32 => {
            let days = column.as_primitive::<Date32Type>().value(row);
            jiff::civil::date(1970, 1, 1)
                .checked_add(jiff::Span::new().days(days))
                .unwrap()
                .to_string()
        }
        DataType::Timestamp(_, _) => {
            let us = column.as_primitive::<TimestampMicrosecondType>().value(row);
            jiff::Timestamp::from_microsecond(us).unwrap().to_string()
        }
        other => panic!("no rendering for {other}"),
    }
}

fn render(batches: &[RecordBatch]) -> String {
    let mut text = String::new();
    if let Some(first) = batches.first() {
        let names: Vec<&str> = first
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        let _ = writeln!(text, "{}", names.join("\t"));
    }
    for batch in batches {
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = batch
                .columns()
                .iter()
                .map(|c| cell(c.as_ref(), row))
                .collect();
            let _ = writeln!(text, "{}", cells.join("\t"));
        }
    }
    text
}

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
