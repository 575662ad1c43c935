//! Helpers shared by the end-to-end tests (each test binary includes what it uses).

#![allow(dead_code)]

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Float64Type, Int16Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use assert_cmd::Command;

/// The repository's `fixtures/` directory.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// `data` gzipped at the fastest level (as one member).
pub fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

/// The release or debug binary under test.
pub fn bouncestat() -> Command {
    Command::cargo_bin("bouncestat").unwrap()
}

/// Runs `command`, which must succeed, and returns its standard output.
#[allow(dead_code)] // Not every test file that shares this module uses it.
pub fn stdout_of(command: &mut Command) -> String {
    let output = command.assert().success().get_output().stdout.clone();
    String::from_utf8(output).unwrap()
}

/// 2025-12-31T12:00:00Z: the modification time given to copied fixtures, so the year of
/// year-less syslog lines does not depend on when the repository was checked out.
pub const FIXTURE_MTIME: Duration = Duration::from_secs(1_767_182_400);

/// Sets a file's modification time to [`FIXTURE_MTIME`].
pub fn pin_mtime(path: &Path) {
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::UNIX_EPOCH + FIXTURE_MTIME)
        .unwrap();
}

/// Copies every file of `fixtures/<name>/` into `dir/logs`, with pinned modification times.
pub fn fixtures_in(name: &str, dir: &Path) -> PathBuf {
    let target = dir.join("logs");
    fs::create_dir_all(&target).unwrap();
    for entry in fs::read_dir(fixtures().join(name)).unwrap() {
        let path = entry.unwrap().path();
        let copy = target.join(path.file_name().unwrap());
        fs::copy(&path, &copy).unwrap();
        pin_mtime(&copy);
    }
    target
}

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

/// A table read back from Parquet as tab-separated text, one line per row after a header.
pub fn render(batches: &[RecordBatch]) -> String {
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

/// Asserts that a generated mail-server log's attempts have the benchmark issue's mix: about
/// 85% sent, 8% deferred, 5% bounced, and some expiries.
pub fn assert_issue_mix(stats: &bouncestat::synth::GenStats) {
    let shares = stats.attempt_shares();
    let share = |kind: &str| shares.iter().find(|(k, _)| *k == kind).unwrap().1;
    assert!((0.82..0.89).contains(&share("sent")), "{shares:?}");
    assert!((0.065..0.10).contains(&share("deferred")), "{shares:?}");
    assert!((0.04..0.07).contains(&share("bounced")), "{shares:?}");
    assert!((0.0005..0.01).contains(&share("expired")), "{shares:?}");
}
