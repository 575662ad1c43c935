//! End-to-end: run the real binary on the fixtures, read the Parquet dataset back.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use bouncestat::sink::{Table, read_table};
use predicates::prelude::*;

mod common;
use common::{bouncestat, fixtures_in, gzip, render, stdout_of};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/postfix")
}

/// Attempts per outcome in the `attempts` table.
fn attempts_by_outcome(out: &Path) -> BTreeMap<String, i64> {
    let mut totals = BTreeMap::new();
    for ((_, outcome), attempts) in attempts_by_day(out) {
        *totals.entry(outcome).or_insert(0) += attempts;
    }
    totals
}

fn arrow_cast_utf8(array: &dyn arrow_array::Array) -> Vec<String> {
    if let Some(strings) = array.as_string_opt::<i32>() {
        return strings
            .iter()
            .map(|s| s.unwrap_or("").to_string())
            .collect();
    }
    let dict = array.as_dictionary::<arrow_array::types::Int32Type>();
    let values = dict.values().as_string::<i32>();
    dict.keys()
        .iter()
        .map(|k| values.value(k.unwrap() as usize).to_string())
        .collect()
}

fn expected_totals() -> BTreeMap<String, i64> {
    [
        ("bounced", 6),
        ("deferred", 7),
        ("delivered", 7),
        ("expired", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

#[test]
fn ingest_fixtures_writes_a_dataset_and_reruns_replace_it() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = fixtures_in("postfix", tmp.path());
    let out = tmp.path().join("out");
    let run = || {
        bouncestat()
            .args(["ingest", "--timezone", "UTC", "--quiet", "--out"])
            .arg(&out)
            .arg(&logs)
            .assert()
            .success()
            .stdout(predicates::str::contains(
                "events: 21 (delivered 7, deferred 7, bounced 6, expired 1)",
            ))
    };
    run();
    assert!(out.join("_SUCCESS").exists());
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(out.join("_manifest.json")).unwrap()).unwrap();
    assert!(manifest.is_object());
    assert_eq!(attempts_by_outcome(&out), expected_totals());
    // The same inputs again replace their days instead of adding to them.
    run();
    assert_eq!(attempts_by_outcome(&out), expected_totals());
    for day in [
        "2025-03-10",
        "2025-02-14",
        "2013-06-10",
        "2024-12-31",
        "2025-01-01",
    ] {
        assert!(
            out.join(format!("attempts/date={day}/part-0.parquet"))
                .exists(),
            "{day}"
        );
    }
}

#[test]
fn thread_count_and_block_size_do_not_change_the_dataset() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = fixtures_in("postfix", tmp.path());
    let mut datasets = Vec::new();
    for (threads, block) in [("1", "1048576"), ("2", "4096"), ("4", "4096")] {
        let out = tmp.path().join(format!("out-{threads}-{block}"));
        bouncestat()
            .args([
                "ingest",
                "--timezone",
                "UTC",
                "--quiet",
                "--threads",
                threads,
                "--block-bytes",
                block,
                "--out",
            ])
            .arg(&out)
            .arg(&logs)
            .assert()
            .success();
        let batches = read_table(&out, Table::Attempts).unwrap();
        datasets.push(format!("{batches:?}"));
    }
    assert_eq!(datasets[0], datasets[1]);
    assert_eq!(datasets[0], datasets[2]);
}

/// The lifecycle fixture cut into a rotated set under `root/rotated`: the oldest part gzipped,
/// the middle plain, the newest zstd-compressed under a plain name.
fn rotated_set(root: &Path) -> PathBuf {
    let dir = root.join("rotated");
    fs::create_dir_all(&dir).unwrap();
    let text = fs::read_to_string(fixture_dir().join("lifecycle.log")).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let (old, rest) = lines.split_at(20);
    let (middle, new) = rest.split_at(15);
    let joined = |part: &[&str]| part.join("\n") + "\n";
    fs::write(dir.join("mail.log.2.gz"), gzip(joined(old).as_bytes())).unwrap();
    fs::write(dir.join("mail.log.1"), joined(middle)).unwrap();
    fs::write(
        dir.join("mail.log"),
        zstd::encode_all(joined(new).as_bytes(), 1).unwrap(),
    )
    .unwrap();
    dir
}

#[test]
fn rotated_compressed_set_with_a_corrupt_member() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = rotated_set(tmp.path());
    let text = fs::read_to_string(fixture_dir().join("lifecycle.log")).unwrap();
    // A truncated gzip file in the same run.
    let broken = gzip(text.as_bytes());
    fs::write(tmp.path().join("broken.gz"), &broken[..broken.len() / 2]).unwrap();

    let out = tmp.path().join("out");
    let assert = bouncestat()
        .args([
            "ingest",
            "--timezone",
            "UTC",
            "--year",
            "2025",
            "--quiet",
            "--out",
        ])
        .arg(&out)
        .arg(&dir)
        .arg(tmp.path().join("broken.gz"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("broken.gz"));
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    // The broken file is named and counted as failed; the rotated set and the lines decoded
    // before the damage are still in the dataset.
    assert!(stdout.contains("inputs that failed: 1"), "{stdout}");
    let totals = attempts_by_outcome(&out);
    assert!(totals["delivered"] >= 5, "{totals:?}");
    assert!(out.join("_SUCCESS").exists());
}

#[test]
fn rotated_set_alone_matches_the_original_log() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = rotated_set(tmp.path());
    bouncestat()
        .args(["ingest", "--timezone", "UTC", "--year", "2025", "--quiet"])
        .arg(&dir)
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "events: 15 (delivered 5, deferred 5, bounced 4, expired 1)",
        ))
        .stdout(predicates::str::contains("without a known sender: 1;"));
}

#[test]
fn stdin_and_rejects_report() {
    let bad = fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/malformed/postfix-bad-lines.log"),
    )
    .unwrap();
    bouncestat()
        .args([
            "ingest",
            "--timezone",
            "UTC",
            "--year",
            "2025",
            "--quiet",
            "--show-rejects",
            "-",
        ])
        .write_stdin(bad.clone())
        .assert()
        .code(1)
        .stdout(predicates::str::contains("bad syslog timestamp: 2"))
        .stdout(predicates::str::contains(
            "-:2: this line has no syslog header at all",
        ))
        // The exit status is explained where a scheduled job's errors are read.
        .stderr(predicates::str::contains(
            "3 of 8 lines rejected (37.50%), more than --max-reject-rate 0.01 allows; exit status 1",
        ));
    // Under a rate that allows them, the same rejects are still counted, and the run succeeds
    // without the complaint.
    bouncestat()
        .args([
            "ingest",
            "--year",
            "2025",
            "--quiet",
            "--max-reject-rate",
            "0.4",
            "-",
        ])
        .write_stdin(bad)
        .assert()
        .success()
        .stdout(predicates::str::contains("bad syslog timestamp: 2"))
        .stderr(predicates::str::contains("rejected").not());
}

#[test]
fn missing_input_is_reported_and_the_rest_is_read() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = fixtures_in("postfix", tmp.path());
    bouncestat()
        .args(["ingest", "--timezone", "UTC", "--quiet"])
        .arg(logs.join("lifecycle.log"))
        .arg(tmp.path().join("no-such.log"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("no-such.log"))
        .stdout(predicates::str::contains("events: 15"));
}

/// The distinct hours of a dataset's `attempts` rows.
fn hours(out: &Path) -> usize {
    let mut hours = std::collections::BTreeSet::new();
    for batch in read_table(out, Table::Attempts).unwrap() {
        let column = batch.column_by_name("hour").unwrap();
        let column = column.as_primitive::<arrow_array::types::TimestampMicrosecondType>();
        hours.extend(column.values().iter().copied());
    }
    hours.len()
}

/// The number of windows `--timings` says the write handed its cells out in.
fn windows(stderr: &str) -> usize {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("timings: write "))
        .unwrap();
    let (_, after) = line.split_once(" (").unwrap();
    after.split_once(" window").unwrap().0.parse().unwrap()
}

/// Cells moved to a temporary file after every block give the dataset of a run that kept them
/// in memory; when the temporary directory cannot be written, the run warns, keeps the cells
/// in memory, and still writes that dataset. `--timings` shows the spilled cells coming back
/// an hour at a time.
#[test]
fn spilled_cells_and_a_failed_spill_give_the_same_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let logs = fixtures_in("postfix", dir.path());
    let run = |name: &str, spill_cells: &str, tmpdir: Option<&Path>| {
        let out = dir.path().join(name);
        let mut cmd = bouncestat();
        cmd.args(["ingest", "--quiet", "--timezone", "UTC", "--threads", "2"])
            .args(["--block-bytes", "4096", "--spill-cells", spill_cells])
            .arg("--timings")
            .arg(&logs)
            .arg("--out")
            .arg(&out);
        if let Some(tmpdir) = tmpdir {
            cmd.env("TMPDIR", tmpdir);
        }
        let output = cmd.output().unwrap();
        assert!(output.status.success(), "{output:?}");
        let tables: Vec<String> = (Table::ALL.iter())
            .map(|&table| render(&read_table(&out, table).unwrap()))
            .collect();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains("timings: parse "), "{stderr}");
        (tables, stderr, hours(&out))
    };
    let (in_memory, timings, hours) = run("in-memory", "0", None);
    assert!(in_memory[0].lines().count() > 10, "{}", in_memory[0]);
    assert!(hours > 1, "the fixtures span several hours");
    assert_eq!(windows(&timings), 1, "{timings}");
    let (spilled, warnings, _) = run("spilled", "1", None);
    assert_eq!(spilled, in_memory);
    assert_eq!(windows(&warnings), hours, "{warnings}");
    assert!(!warnings.contains("temporary file"), "{warnings}");
    let (kept, warnings, _) = run("kept", "1", Some(&dir.path().join("no-such-directory")));
    assert_eq!(kept, in_memory);
    assert!(
        warnings.contains("cannot move counts to a temporary file"),
        "{warnings}"
    );
}

#[test]
fn summary_lists_the_commonest_failures() {
    let summary = |dir: &str| {
        let assert = bouncestat()
            .args(["ingest", "--timezone", "UTC", "--year", "2025", "--quiet"])
            .arg(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(dir))
            .assert()
            .success();
        String::from_utf8(assert.get_output().stdout.clone()).unwrap()
    };
    // The rows under a heading, split into words.
    let rows = |stdout: &str, heading: &str| -> Vec<Vec<String>> {
        let (_, after) = stdout
            .split_once(heading)
            .unwrap_or_else(|| panic!("{heading} in {stdout}"));
        (after.lines().skip(1))
            .take_while(|line| line.starts_with("  "))
            .map(|line| line.split_whitespace().map(str::to_string).collect())
            .collect()
    };

    // Thirteen combinations in the Postfix fixtures: the ten commonest, the ties in the order
    // of their names.
    let stdout = summary("fixtures/postfix");
    let list = rows(
        &stdout,
        "failed attempts by provider, outcome and category (the 10 commonest of 13):",
    );
    assert_eq!(list.len(), 10, "{stdout}");
    assert_eq!(list[0], ["other", "deferred", "network_error", "2"]);
    assert_eq!(list[1], ["apple", "bounced", "spam_content", "1"]);
    assert!(
        list.contains(
            &["google", "deferred", "rate_limited", "1"]
                .map(String::from)
                .to_vec()
        )
    );

    // All of them for the Exim fixtures, where each provider's failed attempts add up to
    // its deferred, bounced and expired attempts in the providers table.
    let stdout = summary("fixtures/exim");
    let list = rows(
        &stdout,
        "failed attempts by provider, outcome and category:",
    );
    let providers = rows(
        &stdout,
        "providers (delivered / deferred / bounced / expired):",
    );
    assert!(
        list.contains(
            &["microsoft", "deferred", "bad_reputation", "1"]
                .map(String::from)
                .to_vec()
        )
    );
    for provider in &providers {
        let failed: i64 = provider[2..]
            .iter()
            .map(|n| n.parse::<i64>().unwrap())
            .sum();
        let listed: i64 = (list.iter())
            .filter(|row| row[0] == provider[0])
            .map(|row| row[3].parse::<i64>().unwrap())
            .sum();
        assert_eq!(listed, failed, "{}: {stdout}", provider[0]);
    }
}

/// The list `fixtures/suppressions/postfix.log` gives.
const SUPPRESSED: &str = "\
recipient,reason,category,reply_code,enhanced_code,provider,source,events,first_seen,last_seen
full@example.net,repeated_deferral,mailbox_full,452,4.2.2,other,postfix,6,2026-03-02T08:00:02Z,2026-03-05T10:00:02Z
kim@partner.example,hard_bounce,mailbox_full,552,5.2.2,other,postfix,1,2026-03-02T11:00:02Z,2026-03-02T11:00:02Z
typo.user@gmail.com,hard_bounce,user_unknown,550,5.1.1,google,postfix,1,2026-03-03T14:00:02Z,2026-03-03T14:00:02Z
";

/// A nightly job: the same log read a day at a time into one dataset lists what one run over
/// all of it lists (the full mailbox's six deferrals span four days). Reading a day again
/// counts nothing twice. Reading the days out of order is said, and mended by reading the
/// later days again.
#[test]
fn suppression_list_over_nightly_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let log =
        fs::read_to_string(fixtures_in("suppressions", tmp.path()).join("postfix.log")).unwrap();
    let days: Vec<PathBuf> = (2..=5)
        .map(|day| {
            let path = tmp.path().join(format!("mail-03-0{day}.log"));
            let prefix = format!("Mar  {day} ");
            let lines: String = (log.lines())
                .filter(|line| line.starts_with(&prefix))
                .map(|line| format!("{line}\n"))
                .collect();
            fs::write(&path, lines).unwrap();
            path
        })
        .collect();
    let list = tmp.path().join("suppress.csv");
    let nightly = |out: &str, days: &[PathBuf]| {
        stdout_of(
            bouncestat()
                .args(["ingest", "--timezone", "UTC", "--year", "2026", "--quiet"])
                .arg("--out")
                .arg(tmp.path().join(out))
                .arg("--suppressions")
                .arg(&list)
                .args(days),
        )
    };
    for day in &days {
        let stdout = nightly("ds", std::slice::from_ref(day));
        assert!(!stdout.contains("note:"), "{stdout}");
    }
    assert_eq!(fs::read_to_string(&list).unwrap(), SUPPRESSED);
    let stdout = nightly("ds", &days[1..2]);
    assert!(
        stdout.contains(&format!(
            "wrote 3 recipient(s) to suppress to {} (hard_bounce 2, repeated_deferral 1, \
             complaint 0)\n  drawn from this run and 11 strike(s) and deliveries of other days \
             in {}\n",
            list.display(),
            tmp.path().join("ds/_recipients.parquet").display()
        )),
        "{stdout}"
    );
    assert_eq!(fs::read_to_string(&list).unwrap(), SUPPRESSED);

    // Last day first: the bounce of March 2 is read after the delivery of March 3 to the same
    // address, which was not kept.
    let stdout: Vec<String> = (days.iter().rev())
        .map(|day| nightly("backwards", std::slice::from_ref(day)))
        .collect();
    let listed = fs::read_to_string(&list).unwrap();
    assert!(
        listed.contains("\ngone@outlook.com,hard_bounce,"),
        "{listed}"
    );
    assert!(
        stdout[3].contains(
            "\n  note: 3 address(es) this run struck are new to the record and were struck \
             before 2026-03-05, which an earlier run read"
        ),
        "{}",
        stdout[3]
    );
    nightly("backwards", &days[1..]);
    assert_eq!(fs::read_to_string(&list).unwrap(), SUPPRESSED);
}

/// Attempts per day and outcome in the `attempts` table, over all of a day's files.
fn attempts_by_day(out: &Path) -> BTreeMap<(i32, String), i64> {
    let mut totals = BTreeMap::new();
    for batch in read_table(out, Table::Attempts).unwrap() {
        let date = batch
            .column(0)
            .as_primitive::<arrow_array::types::Date32Type>();
        let outcome = arrow_cast_utf8(batch.column_by_name("outcome").unwrap().as_ref());
        let attempts = batch
            .column_by_name("attempts")
            .unwrap()
            .as_primitive::<Int64Type>();
        for (i, name) in outcome.into_iter().enumerate() {
            *totals.entry((date.value(i), name)).or_insert(0) += attempts.value(i);
        }
    }
    totals
}

/// A Postfix log `bouncestat generate` writes to `dir/whole.log` (seed 11), and its text.
fn generated(dir: &Path, rate: &str, size: &str, start: &str) -> (PathBuf, String) {
    let whole = dir.join("whole.log");
    bouncestat()
        .args(["generate", "--seed", "11", "--rate", rate, "--size", size])
        .args(["--start", start, "-o"])
        .arg(&whole)
        .assert()
        .success();
    let text = fs::read_to_string(&whole).unwrap();
    (whole, text)
}

/// The nightly job over rotated logs: logrotate cuts the log at 06:25, so each night's file
/// holds the end of one UTC day and the start of the next. Read a file a night, the dataset
/// and the suppression list are those of one run over the whole log; reading a night again
/// counts nothing twice.
#[test]
fn nightly_job_over_a_log_rotated_in_the_middle_of_a_day() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, text) = generated(tmp.path(), "0.03", "4MB", "2025-06-10T20:00:00Z");
    let cut = text
        .find("\nJun 11 06:25")
        .expect("the log reaches June 11")
        + 1;
    let (older, newer) = (
        tmp.path().join("mail.log.1.gz"),
        tmp.path().join("mail.log"),
    );
    fs::write(&older, gzip(&text.as_bytes()[..cut])).unwrap();
    fs::write(&newer, &text[cut..]).unwrap();
    let ingest = |out: &str, list: &str, input: &Path| {
        stdout_of(
            bouncestat()
                .args(["ingest", "--timezone", "UTC", "--year", "2025", "--quiet"])
                .arg("--out")
                .arg(tmp.path().join(out))
                .arg("--suppressions")
                .arg(tmp.path().join(list))
                .arg(input),
        )
    };
    ingest("one-run", "one-run.csv", &whole);
    let expected = attempts_by_day(&tmp.path().join("one-run"));
    let expected_list = fs::read_to_string(tmp.path().join("one-run.csv")).unwrap();
    assert!(expected_list.lines().count() > 10, "{expected_list}");

    ingest("nightly", "nightly.csv", &older);
    for night in 0..2 {
        let stdout = ingest("nightly", "nightly.csv", &newer);
        assert!(
            stdout.contains(
                "\n  added to 1 day(s) that earlier runs read other stretches of: 2025-06-11\n"
            ),
            "night {night}: {stdout}"
        );
        assert!(!stdout.contains("note:"), "night {night}: {stdout}");
        assert_eq!(attempts_by_day(&tmp.path().join("nightly")), expected);
        assert_eq!(
            fs::read_to_string(tmp.path().join("nightly.csv")).unwrap(),
            expected_list,
            "night {night}"
        );
    }
    let parts = fs::read_dir(tmp.path().join("nightly/attempts/date=2025-06-11")).unwrap();
    assert_eq!(parts.count(), 2);
    // The report sums the day's shares: the same figures as after one run.
    let report = |out: &str| {
        stdout_of(
            bouncestat()
                .args(["report", "--json", "--day", "2025-06-11"])
                .arg(tmp.path().join(out)),
        )
    };
    assert_eq!(report("nightly"), report("one-run"));
}

/// A nightly job that keeps the dataset to its newest days (`--keep-days 2`) over a log
/// rotated at midnight: the days before them leave the dataset, those kept hold what one run
/// over the whole log puts there, and the suppression list still names the addresses that
/// bounced on the days that left.
#[test]
fn keep_days_drops_old_days_but_not_their_suppressions() {
    let tmp = tempfile::tempdir().unwrap();
    let (whole, text) = generated(tmp.path(), "0.004", "3MB", "2025-06-10T00:00:00Z");
    let starts: Vec<usize> = ["Jun 11", "Jun 12", "Jun 13"]
        .iter()
        .map(|day| {
            text.find(&format!("\n{day} "))
                .expect("the log reaches the day")
                + 1
        })
        .collect();
    let mut nights = Vec::new();
    for (i, range) in [
        0..starts[0],
        starts[0]..starts[1],
        starts[1]..starts[2],
        starts[2]..text.len(),
    ]
    .into_iter()
    .enumerate()
    {
        let path = tmp.path().join(format!("night-{i}.log"));
        fs::write(&path, &text[range]).unwrap();
        nights.push(path);
    }
    let ingest = |out: &str, list: &str, input: &Path, keep: &[&str]| {
        stdout_of(
            bouncestat()
                .args(["ingest", "--timezone", "UTC", "--year", "2025", "--quiet"])
                .args(keep)
                .arg("--out")
                .arg(tmp.path().join(out))
                .arg("--suppressions")
                .arg(tmp.path().join(list))
                .arg(input),
        )
    };
    ingest("one-run", "one-run.csv", &whole, &[]);
    let june_12 = 20_251; // 2025-06-12 as days since 1970-01-01
    let expected: BTreeMap<(i32, String), i64> = (attempts_by_day(&tmp.path().join("one-run")))
        .into_iter()
        .filter(|((day, _), _)| *day >= june_12)
        .collect();
    let expected_list = fs::read_to_string(tmp.path().join("one-run.csv")).unwrap();
    let mut said = Vec::new();
    for night in &nights {
        said.push(ingest(
            "nightly",
            "nightly.csv",
            night,
            &["--keep-days", "2"],
        ));
    }
    assert!(!said[1].contains("dropped"), "{}", said[1]);
    assert!(
        said[2].contains(
            "\n  dropped 1 day(s) before 2025-06-11, the first of the 2 kept: 2025-06-10\n"
        ),
        "{}",
        said[2]
    );
    assert!(
        said[3].contains("the first of the 2 kept: 2025-06-11\n"),
        "{}",
        said[3]
    );
    let nightly = tmp.path().join("nightly");
    assert_eq!(attempts_by_day(&nightly), expected);
    let days: Vec<String> = fs::read_dir(nightly.join("by_domain"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(days, ["date=2025-06-12", "date=2025-06-13"]);
    // The list is one run's, addresses last struck on the dropped days among them.
    let list = fs::read_to_string(tmp.path().join("nightly.csv")).unwrap();
    assert_eq!(list, expected_list);
    let from_dropped_days = (list.lines().skip(1))
        .filter(|line| line.rsplit(',').next().unwrap() < "2025-06-12")
        .count();
    assert!(from_dropped_days > 5, "{list}");
    // Only with a dataset, and at least one day.
    for keep in [
        &["--keep-days", "2"][..],
        &["--keep-days", "0", "--out", "x"],
    ] {
        bouncestat()
            .args(["ingest", "--quiet"])
            .args(keep)
            .arg(&nights[0])
            .assert()
            .failure()
            .code(2);
    }
}

/// `--suppressions` on a log written for it (`fixtures/suppressions/postfix.log`): hard
/// bounces and a mailbox that stayed full for days are listed; the same address delivered to
/// after its bounce, a mailbox full for a few hours, a rate limit that went on for days, a
/// banned sending IP and a `5.1.1` whose text blames the sender's volume are not. Threads and
/// block sizes do not change the list.
#[test]
fn suppression_list_names_only_recipient_faults() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = fixtures_in("suppressions", tmp.path());
    let expected = SUPPRESSED;
    for (threads, block) in [("1", "1048576"), ("2", "4096")] {
        let list = tmp.path().join(format!("suppress-{threads}.csv"));
        bouncestat()
            .args(["ingest", "--timezone", "UTC", "--year", "2026", "--quiet"])
            .args([
                "--threads",
                threads,
                "--block-bytes",
                block,
                "--suppressions",
            ])
            .arg(&list)
            .arg(&logs)
            .assert()
            .success()
            .stdout(predicate::str::contains(format!(
                "wrote 3 recipient(s) to suppress to {} (hard_bounce 2, repeated_deferral 1, \
                 complaint 0)",
                list.display()
            )));
        assert_eq!(
            fs::read_to_string(&list).unwrap(),
            expected,
            "{threads} thread(s)"
        );
    }

    // The full mailbox's six attempts span exactly 74 hours: the policy's two limits decide.
    let listed = |policy: [&str; 4]| {
        let list = tmp.path().join("policy.csv");
        bouncestat()
            .args(["ingest", "--timezone", "UTC", "--year", "2026", "--quiet"])
            .args(policy)
            .arg("--suppressions")
            .arg(&list)
            .arg(&logs)
            .assert()
            .success();
        let text = fs::read_to_string(&list).unwrap();
        text.contains("\nfull@example.net,repeated_deferral,")
    };
    let attempts = "--suppress-after-attempts";
    let hours = "--suppress-after-hours";
    assert!(listed([attempts, "6", hours, "74"]));
    assert!(!listed([attempts, "7", hours, "74"]));
    assert!(!listed([attempts, "6", hours, "74.01"]));
}

/// ESP exports: complaints are listed whatever came after, hard bounces as classified, and an
/// unwritable list is an error that names it.
#[test]
fn suppression_list_from_esp_events_and_an_unwritable_path() {
    let tmp = tempfile::tempdir().unwrap();
    let logs = fixtures_in("esp/ses", tmp.path());
    let list = tmp.path().join("ses.csv");
    bouncestat()
        .args(["ingest", "--quiet", "--suppressions"])
        .arg(&list)
        .arg(&logs)
        .assert()
        .success();
    let text = fs::read_to_string(&list).unwrap();
    assert!(
        text.contains("\nangry@yahoo.com,complaint,,,,yahoo,ses,1,"),
        "{text}"
    );
    assert!(
        text.contains("\nana.lopez@gmail.com,hard_bounce,user_unknown,550,5.1.1,google,ses,1,"),
        "{text}"
    );
    for line in text.lines().skip(1) {
        let reason = line.split(',').nth(1).unwrap();
        assert!(["hard_bounce", "complaint"].contains(&reason), "{line}");
    }
    // SES kept a message back from an address on its list of recent hard bounces: listed. It
    // rejected one for its content: not the recipient's fault.
    assert!(
        text.contains("\ngone@gmail.com,hard_bounce,user_unknown,,,google,ses,1,"),
        "{text}"
    );
    assert!(!text.contains("carla@outlook.com"), "{text}");

    // Other ESPs' suppressions: SendGrid's "Bounced Address" drop counts with the bounce before
    // it, Mailgun's `suppress-bounce` likewise; a drop of a spam-reporting address lists it as a
    // complainer. A block, Mailgun's temporary failure and SparkPost's policy rejection list no
    // one.
    for (esp, listed, unlisted) in [
        (
            "sendgrid",
            &[
                "\nghost@gmail.com,hard_bounce,user_unknown,,,google,sendgrid,2,",
                "\nspam-trap@shop-customers.example,complaint,,,,other,sendgrid,1,",
            ][..],
            "liam@",
        ),
        (
            "mailgun",
            &["\nnobody@gmail.com,hard_bounce,user_unknown,,,google,mailgun,2,"],
            "later@",
        ),
        (
            "sparkpost",
            &["\nnope@gmail.com,hard_bounce,user_unknown,550,5.1.1,google,sparkpost,1,"],
            "listed@",
        ),
    ] {
        let list = tmp.path().join(format!("{esp}.csv"));
        bouncestat()
            .args(["ingest", "--quiet", "--suppressions"])
            .arg(&list)
            .arg(fixtures_in(&format!("esp/{esp}"), &tmp.path().join(esp)))
            .assert()
            .success();
        let text = fs::read_to_string(&list).unwrap();
        for line in listed {
            assert!(text.contains(line), "{esp}: {text}");
        }
        assert!(!text.contains(unlisted), "{esp}: {text}");
    }

    let missing = tmp.path().join("no-such-dir/list.csv");
    bouncestat()
        .args(["ingest", "--quiet", "--suppressions"])
        .arg(&missing)
        .arg(&logs)
        .assert()
        .failure()
        .stderr(
            predicate::str::contains("writing the suppression list")
                .and(predicate::str::contains("no-such-dir")),
        );
}
