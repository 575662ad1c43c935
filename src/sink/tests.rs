//! Dataset round trips: write a hand-built aggregate, read it back with the parquet crate.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding};

use super::write::FailPoint;
use super::*;
use crate::aggregate::{Aggregate, SpillPolicy};
use crate::classify::{Action, Category, Classification, Fault, Permanence, Provider};
use crate::event::{EnhancedCode, Event, Outcome, Source, Stage};

const DAY_1: &str = "2026-11-27";
const DAY_2: &str = "2026-11-28";

struct Attempt {
    time: String,
    domain: &'static [u8],
    relay: &'static [u8],
    provider: Provider,
    outcome: Outcome,
    reply_code: Option<u16>,
    enhanced_code: Option<EnhancedCode>,
    stage: Option<Stage>,
    category: Category,
    permanence: Permanence,
    bounce_message: bool,
}

fn delivered(time: &str, domain: &'static [u8], provider: Provider) -> Attempt {
    Attempt {
        time: time.to_string(),
        domain,
        relay: b"mx.example.net",
        provider,
        outcome: Outcome::Delivered,
        reply_code: Some(250),
        enhanced_code: Some(EnhancedCode::new(2, 0, 0)),
        stage: Some(Stage::EndOfData),
        category: Category::Delivered,
        permanence: Permanence::None,
        bounce_message: false,
    }
}

fn add(aggregate: &mut Aggregate, attempt: &Attempt) {
    add_from(aggregate, attempt, b"MX1.Sender.example");
}

/// [`add`], for an attempt logged by `mta_host`.
fn add_from(aggregate: &mut Aggregate, attempt: &Attempt, mta_host: &[u8]) {
    let time_us = attempt
        .time
        .parse::<jiff::Timestamp>()
        .unwrap()
        .as_microsecond();
    let event = Event {
        time_us,
        source: Source::Postfix,
        mta_host,
        instance: b"postfix",
        queue_id: b"4Xyz1",
        sender: Some(if attempt.bounce_message {
            b"".as_slice()
        } else {
            b"news@Sender.example".as_slice()
        }),
        recipient: b"someone@x",
        recipient_domain: attempt.domain,
        remote_host: Some(attempt.relay),
        remote_ip: Some(b"192.0.2.7"),
        outcome: attempt.outcome,
        reply_code: attempt.reply_code,
        enhanced_code: attempt.enhanced_code,
        dsn: attempt.enhanced_code,
        stage: attempt.stage,
        text: b"",
        is_bounce_message: attempt.bounce_message,
        esp_type: None,
        esp_subtype: None,
    };
    let class = Classification {
        category: attempt.category,
        permanence: attempt.permanence,
        fault: Fault::None,
        action: Action::None,
        provider: attempt.provider,
        rule_id: "test",
    };
    aggregate.add(&event, &class);
}

fn day_1_attempts() -> Vec<Attempt> {
    let mut attempts = Vec::new();
    for time in [
        "2026-11-27T10:01:00Z",
        "2026-11-27T10:02:00Z",
        "2026-11-27T11:30:00Z",
    ] {
        attempts.push(delivered(time, b"gmail.com", Provider::Google));
    }
    // One recipient deferred four times (rate limited) before it bounced.
    for time in [
        "2026-11-27T10:05:00Z",
        "2026-11-27T10:35:00Z",
        "2026-11-27T11:05:00Z",
        "2026-11-27T12:05:00Z",
    ] {
        attempts.push(Attempt {
            outcome: Outcome::Deferred,
            reply_code: Some(421),
            enhanced_code: Some(EnhancedCode::new(4, 7, 28)),
            stage: Some(Stage::RcptTo),
            category: Category::RateLimited,
            permanence: Permanence::Transient,
            ..delivered(time, b"gmail.com", Provider::Google)
        });
    }
    attempts.push(Attempt {
        outcome: Outcome::Bounced,
        reply_code: Some(550),
        enhanced_code: Some(EnhancedCode::new(5, 1, 1)),
        stage: Some(Stage::RcptTo),
        category: Category::UserUnknown,
        permanence: Permanence::Permanent,
        ..delivered("2026-11-27T13:00:00Z", b"GMAIL.com.", Provider::Google)
    });
    attempts.push(delivered(
        "2026-11-27T14:00:00Z",
        b"example.org",
        Provider::Other,
    ));
    attempts.push(Attempt {
        outcome: Outcome::Expired,
        reply_code: None,
        enhanced_code: None,
        stage: None,
        category: Category::Expired,
        permanence: Permanence::Permanent,
        ..delivered("2026-11-27T23:59:59Z", b"example.org", Provider::Other)
    });
    // A bounce message Postfix generated: kept in attempts, left out of the rollups.
    attempts.push(Attempt {
        bounce_message: true,
        ..delivered("2026-11-27T15:00:00Z", b"example.org", Provider::Other)
    });
    attempts
}

fn day_2_attempts(delivered_count: usize) -> Vec<Attempt> {
    let mut attempts: Vec<Attempt> = (0..delivered_count)
        .map(|_| delivered("2026-11-28T00:00:00Z", b"outlook.com", Provider::Microsoft))
        .collect();
    attempts.push(Attempt {
        outcome: Outcome::Bounced,
        reply_code: Some(550),
        enhanced_code: Some(EnhancedCode::new(5, 7, 1)),
        stage: Some(Stage::EndOfData),
        category: Category::PolicyRejected,
        permanence: Permanence::Permanent,
        ..delivered("2026-11-28T08:00:00Z", b"outlook.com", Provider::Microsoft)
    });
    attempts
}

fn aggregate_of(attempts: &[Attempt]) -> Aggregate {
    spilled_aggregate_of(attempts, 0)
}

/// [`aggregate_of`], moving the cells to a temporary file whenever `cells` are in memory
/// (0: never).
fn spilled_aggregate_of(attempts: &[Attempt], cells: usize) -> Aggregate {
    let mut aggregate = Aggregate::with_spill(SpillPolicy { cells, keep: true });
    for attempt in attempts {
        add(&mut aggregate, attempt);
        aggregate.spill_if_full();
    }
    aggregate
}

fn two_days() -> Aggregate {
    let mut attempts = day_1_attempts();
    attempts.extend(day_2_attempts(2));
    aggregate_of(&attempts)
}

fn manifest(input: &str) -> Manifest {
    let mut manifest = Manifest::new("2026-11-28T09:00:00Z".parse().unwrap());
    manifest.run_finished = Some("2026-11-28T09:00:05Z".parse().unwrap());
    manifest.inputs.push(InputFingerprint {
        path: input.to_string(),
        size: 1234,
        modified: Some("2026-11-28T08:59:00Z".parse().unwrap()),
        compression: "plain".into(),
        fingerprint: format!("fnv1a64:{input:0>16}"),
        lines_read: 40,
        events: 15,
    });
    manifest
}

/// Every file under `dir`, relative path -> bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, into: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, into);
            } else {
                let bytes = fs::read(&path).unwrap();
                into.insert(path.strip_prefix(root).unwrap().to_path_buf(), bytes);
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

fn staging_dirs(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".staging-"))
        .collect()
}

fn part(out: &Path, table: Table, day: &str) -> PathBuf {
    out.join(table.name())
        .join(format!("date={day}"))
        .join("part-0.parquet")
}

/// `(date, key columns as text) -> [delivered, deferred, bounced, expired]` of a rollup,
/// summed over the day's files.
fn rollup(out: &Path, table: Table) -> BTreeMap<(String, String), [i64; 4]> {
    let mut cells = BTreeMap::new();
    for batch in read_table(out, table).unwrap() {
        let keys = match table {
            Table::ByCode => 4,
            Table::ByProvider => 1,
            Table::ByDomain => 2,
            Table::Attempts => unreachable!(),
        };
        let date = batch.column(0).as_primitive::<Date32Type>();
        for row in 0..batch.num_rows() {
            let key: Vec<String> = (1..=keys)
                .map(|c| {
                    let column = batch.column(c);
                    if column.is_null(row) {
                        "-".to_string()
                    } else {
                        arrow_cast_string(column.as_ref(), row)
                    }
                })
                .collect();
            let counts: [i64; 4] = std::array::from_fn(|i| {
                batch
                    .column(keys + 1 + i)
                    .as_primitive::<Int64Type>()
                    .value(row)
            });
            let day = tables::day_name(date.value(row)).unwrap();
            // A day read in stretches has a row per share: the counts add up.
            let sum: &mut [i64; 4] = cells.entry((day, key.join("|"))).or_default();
            for (sum, count) in sum.iter_mut().zip(counts) {
                *sum += count;
            }
        }
    }
    cells
}

fn arrow_cast_string(column: &dyn Array, row: usize) -> String {
    match column.data_type() {
        DataType::Utf8 => column.as_string::<i32>().value(row).to_string(),
        DataType::Int16 => column
            .as_primitive::<arrow_array::types::Int16Type>()
            .value(row)
            .to_string(),
        other => panic!("unexpected key type {other}"),
    }
}

fn total_attempts(out: &Path) -> BTreeMap<i32, i64> {
    let mut totals = BTreeMap::new();
    for batch in read_table(out, Table::Attempts).unwrap() {
        let date = batch.column(0).as_primitive::<Date32Type>();
        let attempts = batch
            .column_by_name("attempts")
            .unwrap()
            .as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            *totals.entry(date.value(row)).or_insert(0) += attempts.value(row);
        }
    }
    totals
}

fn day(name: &str) -> i32 {
    tables::parse_day(name).unwrap()
}

#[test]
fn two_days_round_trip_with_schema_metadata_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let report = write_dataset(&out, two_days(), &manifest("mail.log")).unwrap();
    assert_eq!(report.days, [DAY_1, DAY_2]);
    assert!(report.replaced_days.is_empty());
    assert_eq!(report.files.len(), 8);
    assert!(report.files.iter().all(|f| f.is_file()));
    assert!(out.join("_SUCCESS").is_file());
    assert!(staging_dirs(&out).is_empty());

    // The attempts file: types, no partition column, metadata, encodings.
    let file = File::open(part(&out, Table::Attempts, DAY_1)).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    let schema = builder.schema().clone();
    assert!(schema.field_with_name("date").is_err());
    assert_eq!(
        schema.field_with_name("hour").unwrap().data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert_eq!(
        schema.field_with_name("attempts").unwrap().data_type(),
        &DataType::Int64
    );
    assert_eq!(
        schema.field_with_name("reply_code").unwrap().data_type(),
        &DataType::Int16
    );
    assert_eq!(
        schema
            .field_with_name("bounce_message")
            .unwrap()
            .data_type(),
        &DataType::Boolean
    );
    let metadata = builder.metadata().clone();
    let key_values: BTreeMap<&str, Option<&str>> = metadata
        .file_metadata()
        .key_value_metadata()
        .unwrap()
        .iter()
        .map(|kv| (kv.key.as_str(), kv.value.as_deref()))
        .collect();
    assert_eq!(key_values["bouncestat.schema_version"], Some("1"));
    assert_eq!(key_values["bouncestat.table"], Some("attempts"));
    assert_eq!(key_values["bouncestat.date"], Some(DAY_1));
    let row_group = metadata.row_group(0);
    // Statistics on the columns the rows are sorted by (and the numbers), none on the rest;
    // every column named as without statistics exists.
    let without = Table::Attempts.columns_without_statistics();
    assert!(
        without
            .iter()
            .all(|name| schema.field_with_name(name).is_ok())
    );
    for column in row_group.columns() {
        assert!(matches!(column.compression(), Compression::ZSTD(_)));
        let name = column.column_path().string();
        assert_eq!(
            column.statistics().is_some(),
            !without.contains(&name.as_str()),
            "{name}"
        );
    }
    for name in ["hour", "source", "mta_host", "sender_domain", "reply_code"] {
        let column = row_group
            .columns()
            .iter()
            .find(|c| c.column_path().string() == name)
            .unwrap();
        assert!(
            column.statistics().unwrap().min_bytes_opt().is_some(),
            "{name}"
        );
    }
    for name in [
        "source",
        "mta_host",
        "recipient_domain",
        "provider",
        "outcome",
        "category",
    ] {
        let column = row_group
            .columns()
            .iter()
            .find(|c| c.column_path().string() == name)
            .unwrap();
        assert!(column.dictionary_page_offset().is_some(), "{name}");
        assert!(
            column.encodings().any(|e| e == Encoding::RLE_DICTIONARY),
            "{name}"
        );
    }

    // Counts: every event is one attempt, bounce message included.
    let totals = total_attempts(&out);
    assert_eq!(totals[&day(DAY_1)], 11);
    assert_eq!(totals[&day(DAY_2)], 3);
    let batches = read_table(&out, Table::Attempts).unwrap();
    let first = &batches[0];
    assert_eq!(first.schema().field(0).name(), "date");
    let hosts = first.column_by_name("mta_host").unwrap().as_string::<i32>();
    assert_eq!(hosts.value(0), "mx1.sender.example");
    let mut bounce_rows: Vec<(Option<String>, i64)> = Vec::new();
    for b in &batches {
        let flag = b.column_by_name("bounce_message").unwrap().as_boolean();
        let sender = b
            .column_by_name("sender_domain")
            .unwrap()
            .as_string::<i32>();
        let attempts = b
            .column_by_name("attempts")
            .unwrap()
            .as_primitive::<Int64Type>();
        for r in (0..b.num_rows()).filter(|&r| flag.value(r)) {
            let sender = (!sender.is_null(r)).then(|| sender.value(r).to_string());
            bounce_rows.push((sender, attempts.value(r)));
        }
    }
    assert_eq!(bounce_rows, [(None, 1)]);

    // Rollups leave the bounce message out.
    let by_provider = rollup(&out, Table::ByProvider);
    assert_eq!(by_provider[&(DAY_1.into(), "google".into())], [3, 4, 1, 0]);
    assert_eq!(by_provider[&(DAY_1.into(), "other".into())], [1, 0, 0, 1]);
    assert_eq!(
        by_provider[&(DAY_2.into(), "microsoft".into())],
        [2, 0, 1, 0]
    );
    assert_eq!(by_provider.len(), 3);
    let by_domain = rollup(&out, Table::ByDomain);
    assert_eq!(
        by_domain[&(DAY_1.into(), "gmail.com|google".into())],
        [3, 4, 1, 0]
    );
    let by_code = rollup(&out, Table::ByCode);
    assert_eq!(
        by_code[&(DAY_1.into(), "421|4.7.28|rate_limited|transient".into())],
        [0, 4, 0, 0]
    );
    assert_eq!(
        by_code[&(DAY_1.into(), "-|-|expired|permanent".into())],
        [0, 0, 0, 1]
    );
    assert_eq!(
        by_code[&(DAY_2.into(), "550|5.7.1|policy_rejected|permanent".into())],
        [0, 0, 1, 0]
    );

    // Rates: google on day 1 has 4 finals (3 delivered, 1 bounced) and 8 attempts.
    let provider_batches = read_table(&out, Table::ByProvider).unwrap();
    let batch = &provider_batches[0];
    let providers = batch.column_by_name("provider").unwrap().as_string::<i32>();
    let google = (0..batch.num_rows())
        .find(|&r| providers.value(r) == "google")
        .unwrap();
    let rate = |name: &str| {
        batch
            .column_by_name(name)
            .unwrap()
            .as_primitive::<Float64Type>()
            .value(google)
    };
    assert_eq!(rate("bounce_rate"), 0.25);
    assert_eq!(rate("deferral_rate"), 0.5);
    let code_batches = read_table(&out, Table::ByCode).unwrap();
    let deferred_only = code_batches[0].column_by_name("bounce_rate").unwrap();
    assert!(
        deferred_only.null_count() > 0,
        "no finals -> null bounce rate"
    );

    // The manifest.
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("_manifest.json")).unwrap()).unwrap();
    assert_eq!(json["schema_version"], "1");
    assert_eq!(json["runs"].as_array().unwrap().len(), 1);
    let run = &json["runs"][0];
    assert_eq!(json["days"][DAY_1], run["id"]);
    assert_eq!(json["days"][DAY_2], run["id"]);
    assert_eq!(run["inputs"][0]["path"], "mail.log");
    assert_eq!(run["inputs"][0]["modified"], "2026-11-28T08:59:00Z");
    assert_eq!(run["run_finished"], "2026-11-28T09:00:05Z");
    assert_eq!(run["days"], serde_json::json!([DAY_1, DAY_2]));
}

fn all_batches(out: &Path) -> Vec<(Table, Vec<RecordBatch>)> {
    Table::ALL
        .iter()
        .map(|&t| (t, read_table(out, t).unwrap()))
        .collect()
}

#[test]
fn rerun_of_the_same_inputs_replaces_instead_of_doubling() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    write_dataset(out, two_days(), &manifest("mail.log")).unwrap();
    let first = all_batches(out);
    let first_files = snapshot(out);
    let report = write_dataset(out, two_days(), &manifest("mail.log")).unwrap();
    assert_eq!(report.replaced_days, [DAY_1, DAY_2]);
    assert!(report.superseded.is_empty());
    assert_eq!(all_batches(out), first);
    // Same parquet bytes too; only the manifest's run id and times differ.
    let second_files = snapshot(out);
    for (path, bytes) in &first_files {
        if path.extension().is_some_and(|e| e == "parquet") {
            assert_eq!(&second_files[path], bytes, "{}", path.display());
        }
    }
    assert_eq!(
        first_files.keys().collect::<Vec<_>>(),
        second_files.keys().collect::<Vec<_>>()
    );
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("_manifest.json")).unwrap()).unwrap();
    assert_eq!(json["runs"].as_array().unwrap().len(), 1);
}

#[test]
fn a_run_over_some_days_leaves_the_others_alone() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    write_dataset(out, two_days(), &manifest("mail.log.1")).unwrap();
    let before = snapshot(out);

    let report =
        write_dataset(out, aggregate_of(&day_2_attempts(5)), &manifest("mail.log")).unwrap();
    assert_eq!(report.days, [DAY_2]);
    assert_eq!(report.replaced_days, [DAY_2]);
    // The run read the same stretch of the same stream (00:00 to 08:00 on MX1): nothing
    // of mail.log.1's share is lost that this run did not read.
    assert!(report.superseded.is_empty());
    assert!(report.shared_days.is_empty());
    let after = snapshot(out);
    for table in Table::ALL {
        let day_1 = part(Path::new(""), table, DAY_1);
        assert_eq!(before[&day_1], after[&day_1], "{}", day_1.display());
    }
    let totals = total_attempts(out);
    assert_eq!(totals[&day(DAY_1)], 11);
    assert_eq!(totals[&day(DAY_2)], 6);

    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("_manifest.json")).unwrap()).unwrap();
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(json["days"][DAY_1], runs[0]["id"]);
    assert_eq!(runs[0]["days"], serde_json::json!([DAY_1]));
    assert_eq!(json["days"][DAY_2], runs[1]["id"]);
    assert_eq!(runs[1]["inputs"][0]["path"], "mail.log");
}

fn assert_failed_write_leaves_dataset(fail: FailPoint, first: Aggregate, second: Aggregate) {
    assert_failed_write_keeping_days_leaves_dataset(fail, None, first, second);
}

/// [`assert_failed_write_leaves_dataset`], for a write that keeps the newest `keep_days`.
fn assert_failed_write_keeping_days_leaves_dataset(
    fail: FailPoint,
    keep_days: Option<u32>,
    first: Aggregate,
    second: Aggregate,
) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    write_dataset(out, first, &manifest("a")).unwrap();
    let before = snapshot(out);
    let writer = DatasetWriterBuilder::new()
        .keep_days(keep_days)
        .fail_at(fail)
        .build(out)
        .unwrap();
    let error = writer
        .write(second, &manifest("b"))
        .expect_err("injected failure");
    assert!(error.to_string().contains("injected"), "{error}");
    assert_eq!(snapshot(out), before);
    assert!(staging_dirs(out).is_empty());
}

#[test]
fn failure_before_the_swap_leaves_the_dataset_byte_identical() {
    let first = || aggregate_of(&day_1_attempts());
    assert_failed_write_leaves_dataset(FailPoint::AfterStaging, first(), two_days());
    // Also when the run's share of a day is to go beside an earlier one.
    let (morning, evening) = stretches_of_day_2();
    assert_failed_write_leaves_dataset(FailPoint::AfterStaging, morning, evening);
}

#[test]
fn failure_during_the_swap_is_rolled_back() {
    let first = || aggregate_of(&day_1_attempts());
    assert_failed_write_leaves_dataset(FailPoint::AfterFirstSwap, first(), two_days());
    let (morning, evening) = stretches_of_day_2();
    assert_failed_write_leaves_dataset(FailPoint::AfterFirstSwap, morning, evening);
}

#[test]
fn failure_while_old_days_are_dropped_is_rolled_back() {
    let first = || aggregate_of(&day_1_attempts());
    // Day 2's partitions swapped in, then day 1's moved aside, then the failure.
    let day_2 = || aggregate_of(&day_2_attempts(3));
    assert_failed_write_keeping_days_leaves_dataset(
        FailPoint::WhilePruning,
        Some(1),
        first(),
        day_2(),
    );
    // A backfill: the run's own day is older than those kept, and only day 1's old
    // partitions move.
    assert_failed_write_keeping_days_leaves_dataset(
        FailPoint::WhilePruning,
        Some(1),
        two_days(),
        first(),
    );
}

/// The days (`YYYY-MM-DD`) that have a partition in each table: the same list for all four.
fn days_on_disk(out: &Path) -> Vec<String> {
    let lists: Vec<Vec<String>> = (Table::ALL.iter())
        .map(|&table| {
            (read::partitions(out, table).unwrap().into_iter())
                .map(|(day, _)| tables::day_name(day).unwrap())
                .collect()
        })
        .collect();
    assert!(lists.iter().all(|l| *l == lists[0]), "{lists:?}");
    lists[0].clone()
}

#[test]
fn keep_days_drops_older_days_and_the_manifest_forgets_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let write = |days: u32, aggregate: Aggregate, input: &str| {
        (DatasetWriterBuilder::new().keep_days(Some(days)).build(out))
            .unwrap()
            .write(aggregate, &manifest(input))
            .unwrap()
    };
    write_dataset(
        out,
        aggregate_of(&day_1_attempts()),
        &manifest("mail.log.2"),
    )
    .unwrap();
    // Two days kept: day 2 comes and nothing goes.
    let report = write(2, aggregate_of(&day_2_attempts(3)), "mail.log.1");
    assert_eq!(report.kept_from.as_deref(), Some(DAY_1));
    assert!(report.pruned_days.is_empty());
    assert_eq!(days_on_disk(out), [DAY_1, DAY_2]);
    let day_2_files: BTreeMap<PathBuf, Vec<u8>> = (snapshot(out).into_iter())
        .filter(|(path, _)| path.to_string_lossy().contains(DAY_2))
        .collect();

    // One day kept: a run over day 2 again drops day 1 from every table and the manifest,
    // and the run that wrote it.
    let report = write(1, aggregate_of(&day_2_attempts(3)), "mail.log.1");
    assert_eq!(report.kept_from.as_deref(), Some(DAY_2));
    assert_eq!(report.pruned_days, [DAY_1]);
    assert_eq!(report.replaced_days, [DAY_2]);
    assert_eq!(days_on_disk(out), [DAY_2]);
    assert_eq!(
        total_attempts(out).keys().copied().collect::<Vec<_>>(),
        [day(DAY_2)]
    );
    let json = manifest_json(out);
    assert_eq!(json["days"].as_object().unwrap().len(), 1);
    assert!(json["days"][DAY_2].is_string());
    assert_eq!(json["shares"].as_object().unwrap().len(), 1);
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["inputs"][0]["path"], "mail.log.1");
    assert!(staging_dirs(out).is_empty());

    // A backfill of day 1 under the same setting writes nothing that stays: day 2 is the
    // newest day, and its files are untouched.
    let report = write(1, aggregate_of(&day_1_attempts()), "mail.log.2");
    assert_eq!(report.days, [DAY_1]);
    assert_eq!(report.pruned_days, [DAY_1]);
    assert!(report.files.is_empty());
    assert_eq!(report.bytes, 0);
    assert!(report.replaced_days.is_empty());
    assert_eq!(days_on_disk(out), [DAY_2]);
    let after = snapshot(out);
    for (path, bytes) in &day_2_files {
        assert_eq!(&after[path], bytes, "{}", path.display());
    }
    assert_eq!(manifest_json(out)["runs"].as_array().unwrap().len(), 1);

    // A partition the manifest does not know (left by hand, or by a crash after the manifest
    // was written) goes too, and a newer run moves the window on.
    let stray = out.join("by_code").join("date=2026-11-01");
    fs::create_dir_all(&stray).unwrap();
    fs::copy(
        part(out, Table::ByCode, DAY_2),
        stray.join("part-0.parquet"),
    )
    .unwrap();
    let mut day_3 = Aggregate::new();
    add(
        &mut day_3,
        &delivered("2026-11-29T10:00:00Z", b"gmail.com", Provider::Google),
    );
    let report = write(1, day_3, "mail.log");
    assert_eq!(report.pruned_days, ["2026-11-01", DAY_2]);
    assert!(!stray.exists());
    assert_eq!(days_on_disk(out), ["2026-11-29"]);

    // A day after tomorrow (the run finished on 2026-11-28) is no day to count back from:
    // one event dated years ahead leaves the days before it in place, and stays itself.
    let mut ahead = Aggregate::new();
    add(
        &mut ahead,
        &delivered("2099-01-01T10:00:00Z", b"gmail.com", Provider::Google),
    );
    let report = write(1, ahead, "bad-clock.log");
    assert_eq!(report.kept_from.as_deref(), Some("2026-11-29"));
    assert!(report.pruned_days.is_empty());
    assert_eq!(days_on_disk(out), ["2026-11-29", "2099-01-01"]);
}

/// Deliveries on day 2 at `times` (`HH:MM:SS`), logged by `mta_host`.
fn day_2_at(times: &[&str], mta_host: &[u8]) -> Aggregate {
    let mut aggregate = Aggregate::new();
    for time in times {
        let time = format!("{DAY_2}T{time}Z");
        add_from(
            &mut aggregate,
            &delivered(&time, b"gmail.com", Provider::Google),
            mta_host,
        );
    }
    aggregate
}

/// Day 2 as a log rotated at 06:25 splits it: the morning (and day 1's evening), then the
/// rest of the day.
fn stretches_of_day_2() -> (Aggregate, Aggregate) {
    let mut morning = aggregate_of(&day_1_attempts());
    morning.merge(day_2_at(&["00:10:00", "03:00:00", "06:24:59"], b"mx1"));
    (
        morning,
        day_2_at(&["06:25:01", "12:00:00", "23:59:00"], b"mx1"),
    )
}

/// What the write report says when `path`'s share of day 2 is gone.
fn gone_from_day_2(path: &str) -> Vec<SupersededInput> {
    vec![SupersededInput {
        date: DAY_2.into(),
        path: path.into(),
    }]
}

/// The files of `table`'s partition of `day`.
fn part_files(out: &Path, table: Table, day: &str) -> Vec<String> {
    let dir = out.join(table.name()).join(format!("date={day}"));
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn manifest_json(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(out.join("_manifest.json")).unwrap()).unwrap()
}

#[test]
fn a_day_read_in_two_stretches_keeps_both_shares_and_a_rerun_counts_nothing_twice() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let (morning, evening) = stretches_of_day_2();
    write_dataset(out, morning, &manifest("mail.log.1")).unwrap();
    let day_1_files = part_files(out, Table::Attempts, DAY_1);
    let report = write_dataset(out, evening, &manifest("mail.log")).unwrap();
    assert_eq!(report.days, [DAY_2]);
    assert!(report.superseded.is_empty());
    let at = |time: &str| {
        let t: jiff::Timestamp = format!("{DAY_2}T{time}Z").parse().unwrap();
        t.as_microsecond()
    };
    assert_eq!(
        report.shared_days,
        [SharedDay {
            day: DAY_2.into(),
            kept: 1,
            first_us: at("06:25:01"),
            last_us: at("23:59:00"),
        }]
    );
    for table in Table::ALL {
        assert_eq!(
            part_files(out, table, DAY_2),
            ["part-0.parquet", "part-1.parquet"]
        );
    }
    assert!(report.files.iter().all(|f| f.ends_with("part-1.parquet")));
    assert_eq!(part_files(out, Table::Attempts, DAY_1), day_1_files);
    let totals = total_attempts(out);
    assert_eq!((totals[&day(DAY_1)], totals[&day(DAY_2)]), (11, 6));
    let google = rollup(out, Table::ByProvider);
    assert_eq!(google[&(DAY_2.to_string(), "google".to_string())][0], 6);
    let json = manifest_json(out);
    let shares = json["shares"][DAY_2].as_array().unwrap();
    assert_eq!(shares.len(), 2);
    assert_eq!(shares[1]["streams"][0]["mta_host"], "mx1");
    assert_eq!(shares[1]["streams"][0]["first"], "2026-11-28T06:25:01Z");
    let runs = json["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["days"], serde_json::json!([DAY_1, DAY_2]));
    assert_eq!(runs[1]["days"], serde_json::json!([DAY_2]));

    // The evening again: it replaces its own share, not the morning's.
    let (_, evening) = stretches_of_day_2();
    let report = write_dataset(out, evening, &manifest("mail.log")).unwrap();
    assert_eq!(report.shared_days.len(), 1);
    assert!(report.superseded.is_empty());
    assert_eq!(total_attempts(out)[&day(DAY_2)], 6);
    assert_eq!(manifest_json(out)["runs"].as_array().unwrap().len(), 2);

    // The morning's log again (same input, same span): it replaces the morning's share,
    // whose file name it takes back, and keeps the evening's.
    let (morning, _) = stretches_of_day_2();
    let report = write_dataset(out, morning, &manifest("mail.log.1")).unwrap();
    assert_eq!(report.shared_days.len(), 1);
    assert_eq!(
        part_files(out, Table::Attempts, DAY_2),
        ["part-0.parquet", "part-1.parquet"]
    );
    assert_eq!(total_attempts(out)[&day(DAY_2)], 6);

    // One run over both: one share again, and nothing was lost that it did not read.
    let (mut both, evening) = stretches_of_day_2();
    both.merge(evening);
    let report = write_dataset(out, both, &manifest("all.log")).unwrap();
    assert!(report.shared_days.is_empty());
    assert!(report.superseded.is_empty(), "{:?}", report.superseded);
    assert_eq!(part_files(out, Table::Attempts, DAY_2), ["part-0.parquet"]);
    assert_eq!(total_attempts(out)[&day(DAY_2)], 6);
    let json = manifest_json(out);
    assert_eq!(json["runs"].as_array().unwrap().len(), 1);
    assert_eq!(json["shares"][DAY_2].as_array().unwrap().len(), 1);
}

#[test]
fn a_run_that_reads_part_of_a_shares_stretch_again_replaces_it_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let whole_day = day_2_at(&["00:10:00", "12:00:00", "20:00:00"], b"mx1");
    write_dataset(out, whole_day, &manifest("mail.log.1")).unwrap();
    let noon = day_2_at(&["11:00:00", "13:00:00"], b"mx1");
    let report = write_dataset(out, noon, &manifest("export.log")).unwrap();
    assert!(report.shared_days.is_empty());
    assert_eq!(report.superseded, gone_from_day_2("mail.log.1"));
    assert_eq!(part_files(out, Table::Attempts, DAY_2), ["part-0.parquet"]);
    assert_eq!(total_attempts(out)[&day(DAY_2)], 2);
}

#[test]
fn other_hosts_are_other_streams_and_seconds_on_both_sides_of_a_rotation_are_no_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let times = ["01:00:00", "22:00:00"];
    write_dataset(out, day_2_at(&times, b"mx1"), &manifest("mx1.log")).unwrap();
    let report = write_dataset(out, day_2_at(&times, b"mx2"), &manifest("mx2.log")).unwrap();
    assert_eq!(report.shared_days.len(), 1, "another host's log of the day");
    // mx1's log rotated within a second: the second has lines on both sides.
    let report = write_dataset(
        out,
        day_2_at(&["22:00:00", "23:00:00"], b"mx1"),
        &manifest("mx1.log.next"),
    )
    .unwrap();
    assert_eq!(report.shared_days[0].kept, 2);
    assert_eq!(total_attempts(out)[&day(DAY_2)], 6);
    // The same instant read again by another input overlaps: it replaces.
    let report = write_dataset(
        out,
        day_2_at(&["22:00:00", "23:00:00"], b"mx1"),
        &manifest("copy-of-next"),
    )
    .unwrap();
    assert_eq!(report.shared_days[0].kept, 2);
    assert_eq!(total_attempts(out)[&day(DAY_2)], 6);
    assert_eq!(part_files(out, Table::Attempts, DAY_2).len(), 3);
    // mx2's next file begins with lines a few seconds older than its last one's end (syslog
    // wrote them out of order around the rotation): still another stretch.
    let next = || day_2_at(&["21:59:57", "23:00:00"], b"mx2");
    let report = write_dataset(out, next(), &manifest("mx2.log.next")).unwrap();
    assert_eq!(report.shared_days[0].kept, 3);
    assert_eq!(total_attempts(out)[&day(DAY_2)], 8);
    // Half a minute into mx2's first stretch is reading it again: that share is replaced,
    // and what of it the run did not read is gone, which the report says.
    let report = write_dataset(
        out,
        day_2_at(&["21:59:30", "23:00:00"], b"mx2"),
        &manifest("mx2.log.next"),
    )
    .unwrap();
    assert_eq!(report.shared_days[0].kept, 2);
    assert_eq!(report.superseded, gone_from_day_2("mx2.log"));
    assert_eq!(total_attempts(out)[&day(DAY_2)], 6);
}

#[test]
fn a_manifest_written_before_shares_replaces_its_days_as_it_did() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let (morning, evening) = stretches_of_day_2();
    write_dataset(out, morning, &manifest("mail.log.1")).unwrap();
    // As an earlier version wrote it: no shares, no spans.
    let mut json = manifest_json(out);
    json.as_object_mut().unwrap().remove("shares");
    fs::write(out.join("_manifest.json"), json.to_string()).unwrap();
    let report = write_dataset(out, evening, &manifest("mail.log")).unwrap();
    assert!(report.shared_days.is_empty());
    assert_eq!(report.superseded, gone_from_day_2("mail.log.1"));
    assert_eq!(part_files(out, Table::Attempts, DAY_2), ["part-0.parquet"]);
    assert_eq!(total_attempts(out)[&day(DAY_2)], 3);
    let json = manifest_json(out);
    assert_eq!(json["runs"][0]["days"], serde_json::json!([DAY_1]));
    assert_eq!(json["shares"][DAY_1][0]["file"], "part-0.parquet");
}

#[test]
fn a_table_path_that_is_a_file_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    fs::write(out.join("by_domain"), b"not a directory").unwrap();
    let before = snapshot(out);
    let error = write_dataset(out, two_days(), &manifest("a")).unwrap_err();
    assert!(matches!(&error, SinkError::NotADirectory { path } if path.ends_with("by_domain")));
    assert!(error.to_string().contains("by_domain"), "{error}");
    assert_eq!(snapshot(out), before);
    assert!(staging_dirs(out).is_empty());
}

#[test]
fn a_corrupt_manifest_fails_before_anything_changes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    write_dataset(out, aggregate_of(&day_1_attempts()), &manifest("a")).unwrap();
    fs::write(out.join("_manifest.json"), b"{ truncated").unwrap();
    let before = snapshot(out);
    let error = write_dataset(out, two_days(), &manifest("b")).unwrap_err();
    assert!(matches!(error, SinkError::Manifest { .. }), "{error}");
    assert_eq!(snapshot(out), before);
}

#[test]
fn a_crashed_run_is_cleaned_up_and_its_parked_partition_restored() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    write_dataset(out, two_days(), &manifest("a")).unwrap();
    let before = snapshot(out);
    // A run that died in the middle of its swap: day 1 of attempts moved aside, nothing in
    // its place; plus a half-written new file.
    let stale = out.join(".staging-4000000000-1");
    fs::create_dir_all(stale.join("old/attempts")).unwrap();
    fs::create_dir_all(stale.join("new/attempts/date=2026-11-27")).unwrap();
    fs::write(
        stale.join("new/attempts/date=2026-11-27/part-0.parquet"),
        b"PAR1",
    )
    .unwrap();
    fs::rename(
        out.join("attempts/date=2026-11-27"),
        stale.join("old/attempts/date=2026-11-27"),
    )
    .unwrap();

    fs::write(out.join("._manifest.json.tmp-4000000000"), b"{").unwrap();

    let report = write_dataset(out, aggregate_of(&day_2_attempts(2)), &manifest("a")).unwrap();
    assert_eq!(report.stale_staging_removed, 1);
    assert!(!out.join("._manifest.json.tmp-4000000000").exists());
    assert!(staging_dirs(out).is_empty());
    let after = snapshot(out);
    let day_1 = part(Path::new(""), Table::Attempts, DAY_1);
    assert_eq!(after[&day_1], before[&day_1]);
}

#[test]
fn settings_are_applied_and_checked() {
    assert!(matches!(
        DatasetWriterBuilder::new().compression_level(99).build("x"),
        Err(SinkError::Config(_))
    ));
    assert!(matches!(
        DatasetWriterBuilder::new().row_group_size(0).build("x"),
        Err(SinkError::Config(_))
    ));

    let dir = tempfile::tempdir().unwrap();
    let writer = DatasetWriterBuilder::new()
        .row_group_size(2)
        .batch_rows(3)
        .compression_level(19)
        .build(dir.path())
        .unwrap();
    let aggregate = two_days();
    writer.write(two_days(), &manifest("a")).unwrap();
    let day_1_rows = aggregate
        .rows()
        .unwrap()
        .iter()
        .filter(|r| tables::day_of_hour(r.hour) == day(DAY_1))
        .count();
    let file = File::open(part(dir.path(), Table::Attempts, DAY_1)).unwrap();
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
    assert_eq!(builder.metadata().num_row_groups(), day_1_rows.div_ceil(2));
    assert_eq!(total_attempts(dir.path())[&day(DAY_1)], 11);
}

#[test]
fn an_empty_run_writes_manifest_and_success_only() {
    let dir = tempfile::tempdir().unwrap();
    let report = write_dataset(dir.path(), Aggregate::new(), &manifest("empty")).unwrap();
    assert!(report.days.is_empty());
    assert!(dir.path().join("_SUCCESS").is_file());
    let json: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("_manifest.json")).unwrap()).unwrap();
    assert!(json["days"].as_object().unwrap().is_empty());
    assert!(read_table(dir.path(), Table::Attempts).unwrap().is_empty());
}

#[test]
fn a_day_of_only_bounce_messages_has_empty_rollup_files() {
    let dir = tempfile::tempdir().unwrap();
    let only_bounces = [Attempt {
        bounce_message: true,
        ..delivered("2026-11-29T15:00:00Z", b"example.org", Provider::Other)
    }];
    let report = write_dataset(dir.path(), aggregate_of(&only_bounces), &manifest("a")).unwrap();
    assert_eq!(report.rows[&Table::Attempts], 1);
    assert_eq!(report.rows[&Table::ByProvider], 0);
    for table in Table::ALL {
        assert!(part(dir.path(), table, "2026-11-29").is_file());
    }
    let rows: usize = read_table(dir.path(), Table::ByDomain)
        .unwrap()
        .iter()
        .map(RecordBatch::num_rows)
        .sum();
    assert_eq!(rows, 0);
}

#[test]
fn names_the_log_did_not_give_are_null() {
    let dir = tempfile::tempdir().unwrap();
    // A local delivery to `root`: no recipient domain.
    let local = [delivered("2026-11-29T15:00:00Z", b"", Provider::Other)];
    write_dataset(dir.path(), aggregate_of(&local), &manifest("a")).unwrap();
    for table in [Table::Attempts, Table::ByDomain] {
        let batches = read_table(dir.path(), table).unwrap();
        let domains = batches[0].column_by_name("recipient_domain").unwrap();
        assert_eq!((domains.len(), domains.null_count()), (1, 1), "{table:?}");
    }
    assert_eq!(Table::from_name("by_domain"), Some(Table::ByDomain));
    assert_eq!(Table::from_name("nope"), None);
}

#[test]
fn a_date_beyond_year_9999_is_an_error_not_a_wrong_partition() {
    let dir = tempfile::tempdir().unwrap();
    let mut aggregate = aggregate_of(&day_2_attempts(1));
    let far = Event {
        time_us: i64::MAX,
        source: Source::Postfix,
        mta_host: b"mx1",
        instance: b"postfix",
        queue_id: b"1",
        sender: None,
        recipient: b"a@b",
        recipient_domain: b"b",
        remote_host: None,
        remote_ip: None,
        outcome: Outcome::Delivered,
        reply_code: None,
        enhanced_code: None,
        dsn: None,
        stage: None,
        text: b"",
        is_bounce_message: false,
        esp_type: None,
        esp_subtype: None,
    };
    aggregate.add(
        &far,
        &Classification {
            category: Category::Delivered,
            permanence: Permanence::None,
            fault: Fault::None,
            action: Action::None,
            provider: Provider::Other,
            rule_id: "test",
        },
    );
    let error = write_dataset(dir.path(), aggregate, &manifest("a")).unwrap_err();
    assert!(matches!(error, SinkError::DateOutOfRange { .. }), "{error}");
    assert!(staging_dirs(dir.path()).is_empty());
    assert!(!dir.path().join("attempts").exists());
}

#[test]
fn a_live_writer_holds_the_lock_and_a_dead_one_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join(".bouncestat.lock");
    // This process is alive: its lock is respected.
    fs::write(&lock, std::process::id().to_string()).unwrap();
    let error = write_dataset(dir.path(), two_days(), &manifest("a")).unwrap_err();
    assert!(matches!(error, SinkError::Locked { .. }), "{error}");
    assert!(!dir.path().join("attempts").exists());
    // A pid that cannot exist: the lock is stale and taken over, then released.
    fs::write(&lock, "4000000000").unwrap();
    write_dataset(dir.path(), two_days(), &manifest("a")).unwrap();
    assert!(!lock.exists());
}

/// A cube row as owned text, for comparing what was written with what was read.
type RowText = (i64, Vec<Option<String>>, bool, i64);

fn expected_rows(aggregate: &Aggregate) -> Vec<RowText> {
    let text = |s: &str| (!s.is_empty()).then(|| s.to_string());
    aggregate
        .rows()
        .unwrap()
        .iter()
        .map(|r| {
            let columns = vec![
                text(r.source),
                text(r.mta_host),
                r.sender_domain.and_then(text),
                text(r.recipient_domain),
                text(r.provider),
                text(r.outcome),
                r.reply_code.map(|c| c.to_string()),
                r.enhanced_code.as_deref().map(str::to_string),
                r.dsn.as_deref().map(str::to_string),
                text(r.category),
                text(r.permanence),
                r.stage.map(str::to_string),
                r.esp_type.map(str::to_string),
                r.esp_subtype.map(str::to_string),
            ];
            (r.hour * 3_600_000_000, columns, r.bounce_message, r.count)
        })
        .collect()
}

fn read_rows(out: &Path) -> Vec<RowText> {
    let mut rows = Vec::new();
    for batch in read_table(out, Table::Attempts).unwrap() {
        let date = batch.column(0).as_primitive::<Date32Type>();
        let hour = batch
            .column_by_name("hour")
            .unwrap()
            .as_primitive::<arrow_array::types::TimestampMicrosecondType>();
        let flag = batch.column_by_name("bounce_message").unwrap().as_boolean();
        let attempts = batch
            .column_by_name("attempts")
            .unwrap()
            .as_primitive::<Int64Type>();
        for row in 0..batch.num_rows() {
            assert_eq!(
                i64::from(date.value(row)),
                hour.value(row).div_euclid(86_400_000_000),
                "date partition matches hour"
            );
            let columns = [
                "source",
                "mta_host",
                "sender_domain",
                "recipient_domain",
                "provider",
                "outcome",
                "reply_code",
                "enhanced_code",
                "dsn",
                "category",
                "permanence",
                "stage",
                "esp_type",
                "esp_subtype",
            ]
            .iter()
            .map(|name| {
                let column = batch.column_by_name(name).unwrap();
                (!column.is_null(row)).then(|| arrow_cast_string(column.as_ref(), row))
            })
            .collect();
            rows.push((
                hour.value(row),
                columns,
                flag.value(row),
                attempts.value(row),
            ));
        }
    }
    rows
}

#[test]
fn every_cube_cell_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let expected = expected_rows(&two_days());
    write_dataset(dir.path(), two_days(), &manifest("a")).unwrap();
    assert_eq!(read_rows(dir.path()), expected);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(8))]

    /// Random attempts over a few days, small batches and row groups: what is read back is
    /// the cube, and the rollups add up to the cube without bounce messages.
    #[test]
    fn random_aggregates_round_trip(
        picks in proptest::collection::vec((0u32..96 * 3600, 0usize..4, 0usize..4, proptest::bool::ANY), 1..60),
        spill in 1usize..5,
    ) {
        const DOMAINS: [&[u8]; 4] = [b"gmail.com", b"outlook.com", b"", b"example.org"];
        const PROVIDERS: [Provider; 4] =
            [Provider::Google, Provider::Microsoft, Provider::Other, Provider::Other];
        let times: Vec<String> = picks
            .iter()
            .map(|&(second, ..)| {
                jiff::Timestamp::from_second(1_795_000_000 + i64::from(second))
                    .unwrap()
                    .to_string()
            })
            .collect();
        let attempts: Vec<Attempt> = picks
            .iter()
            .zip(&times)
            .map(|(&(_, domain, outcome, bounce_message), time)| {
                let base = delivered(time, DOMAINS[domain], PROVIDERS[domain]);
                match Outcome::ALL[outcome] {
                    Outcome::Delivered => Attempt { bounce_message, ..base },
                    other => Attempt {
                        outcome: other,
                        reply_code: (other != Outcome::Expired).then_some(450 + 100 * (outcome as u16 % 2)),
                        enhanced_code: None,
                        stage: Some(Stage::RcptTo),
                        category: Category::Unclassified,
                        permanence: Permanence::Transient,
                        bounce_message,
                        ..base
                    },
                }
            })
            .collect();
        let aggregate = aggregate_of(&attempts);
        let expected = expected_rows(&aggregate);
        let dir = tempfile::tempdir().unwrap();
        let write = |dir: &Path, aggregate| {
            DatasetWriterBuilder::new()
                .row_group_size(3)
                .batch_rows(2)
                .build(dir)
                .unwrap()
                .write(aggregate, &manifest("a"))
                .unwrap()
        };
        let whole = write(dir.path(), aggregate_of(&attempts));
        proptest::prop_assert_eq!(&read_rows(dir.path()), &expected);
        let hours: std::collections::BTreeSet<i64> =
            aggregate.rows().unwrap().iter().map(|r| r.hour).collect();
        proptest::prop_assert_eq!(whole.timings.windows, hours.len().min(1));
        // Spilled cells come back an hour at a time, and the files are the same bytes.
        let spilled = tempfile::tempdir().unwrap();
        let spilled_aggregate = spilled_aggregate_of(&attempts, spill);
        let was_spilled = spilled_aggregate.spilled_cells() > 0;
        let report = write(spilled.path(), spilled_aggregate);
        proptest::prop_assert_eq!(&read_rows(spilled.path()), &expected);
        let windows = if was_spilled { hours.len() } else { hours.len().min(1) };
        proptest::prop_assert_eq!(report.timings.windows, windows);
        for file in &report.files {
            let same = file.strip_prefix(spilled.path()).unwrap();
            proptest::prop_assert_eq!(fs::read(file).unwrap(), fs::read(dir.path().join(same)).unwrap());
        }

        let mut cube_totals = [0i64; 4];
        for row in aggregate.rows().unwrap().iter().filter(|r| !r.bounce_message) {
            let slot = Outcome::ALL.iter().position(|o| o.as_str() == row.outcome).unwrap();
            cube_totals[slot] += row.count;
        }
        for table in [Table::ByCode, Table::ByProvider, Table::ByDomain] {
            let mut totals = [0i64; 4];
            for counts in rollup(dir.path(), table).values() {
                for (total, count) in totals.iter_mut().zip(counts) {
                    *total += count;
                }
            }
            proptest::prop_assert_eq!(totals, cube_totals, "{:?}", table);
        }
    }
}

/// The order the `attempts` columns are encoded in names each column of the table once: a
/// column left out would never be encoded.
#[test]
fn encode_order_names_every_attempts_column_once() {
    let mut order = super::write::ENCODE_ORDER.to_vec();
    order.sort_unstable();
    let columns: Vec<usize> = (0..Table::Attempts.schema().fields().len()).collect();
    assert_eq!(order, columns);
}

/// Writes the two-day sample dataset where `tests/readback.py` can read it with DuckDB, polars
/// and pyarrow: `BOUNCESTAT_SAMPLE_OUT=DIR cargo test --lib write_sample_dataset -- --ignored`.
#[test]
#[ignore = "writes a sample dataset for tests/readback.py"]
fn write_sample_dataset() {
    let out = std::env::var_os("BOUNCESTAT_SAMPLE_OUT").expect("set BOUNCESTAT_SAMPLE_OUT");
    write_dataset(Path::new(&out), two_days(), &manifest("mail.log")).unwrap();
}
