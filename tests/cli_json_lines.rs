//! Logs that arrive wrapped: as JSON lines, exported from the systemd journal (`journalctl -o
//! json`) or written by a log shipper (Docker's json-file driver, Vector, Fluent Bit, Loki's
//! `logcli`), or behind a container runtime's prefixes (containerd): the same dataset as the
//! lines they hold, whatever the MTA, the compression, the blocks or the threads.

mod common;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use common::{bouncestat, fixtures, fixtures_in, gzip, stdout_of};

/// Every Parquet file of a dataset, by its path inside it, with its bytes.
fn parquet_files(out: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else if path.extension().is_some_and(|e| e == "parquet") {
                let name = path.strip_prefix(root).unwrap().to_path_buf();
                files.insert(name, fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(out, out, &mut files);
    files
}

/// Ingests `input` into `out` with `args` and returns the summary's `events:` line.
fn ingest(input: &Path, out: &Path, args: &[&str]) -> String {
    let stdout = stdout_of(
        bouncestat()
            .args(["ingest", "--timezone", "UTC", "--year", "2025", "--quiet"])
            .args(args)
            .arg("--out")
            .arg(out)
            .arg(input),
    );
    events_line(&stdout)
}

fn events_line(summary: &str) -> String {
    summary
        .lines()
        .find(|line| line.starts_with("events:"))
        .unwrap_or_else(|| panic!("no events line in {summary}"))
        .to_owned()
}

/// The fixtures' journal exports (written from the Postfix and Exim syslog fixtures, with a
/// kernel entry, another program's and a message given as bytes among them) and shippers'
/// records (the Postfix fixture through Docker's json-file driver and Fluent Bit, the Exim
/// one through Vector's syslog source and Loki) give the datasets of the syslog logs, byte
/// for byte; so does the Postfix export gzipped on stdin.
#[test]
fn json_lines_give_the_datasets_of_their_syslog_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let postfix = fixtures_in("postfix", &tmp.path().join("postfix")).join("lifecycle.log");
    let exim = fixtures_in("exim", &tmp.path().join("exim")).join("syslog.log");
    let exim_mainlog = exim.with_file_name("lifecycle.log");
    let exim_mainlog_events = "events: 15 (delivered 6, deferred 4, bounced 4, expired 1)";
    let postfix_events = "events: 15 (delivered 5, deferred 5, bounced 4, expired 1)";
    let exim_events = "events: 3 (delivered 2, deferred 0, bounced 1, expired 0)";
    // A journal entry's time is UTC microseconds, so neither --year nor --timezone moves it;
    // but Exim writes its local time inside its messages, which --timezone places, and
    // Docker keeps the Postfix line's own year-less time.
    for (json, syslog, zone, year, events) in [
        (
            "journal/postfix.json",
            &postfix,
            "Asia/Tokyo",
            "1999",
            postfix_events,
        ),
        ("journal/exim.json", &exim, "UTC", "1999", exim_events),
        (
            "shippers/postfix-docker.log",
            &postfix,
            "UTC",
            "2025",
            postfix_events,
        ),
        (
            "shippers/exim-vector.json",
            &exim,
            "UTC",
            "1999",
            exim_events,
        ),
        // Fluent Bit's syslog parser and its outputs' epoch `date` (UTC, so neither
        // --timezone nor --year moves it), and Loki's `logcli query -o jsonl` of a mainlog.
        (
            "shippers/postfix-fluentbit.json",
            &postfix,
            "Asia/Tokyo",
            "1999",
            postfix_events,
        ),
        (
            "shippers/exim-loki.jsonl",
            &exim_mainlog,
            "UTC",
            "2025",
            exim_mainlog_events,
        ),
        // containerd's logs of a Postfix and an Exim container.
        (
            "shippers/postfix-containerd.log",
            &postfix,
            "UTC",
            "2025",
            postfix_events,
        ),
        (
            "shippers/exim-containerd.log",
            &exim_mainlog,
            "UTC",
            "2025",
            exim_mainlog_events,
        ),
    ] {
        let name = json.replace('/', "-");
        let from_syslog = tmp.path().join(format!("{name}-syslog"));
        let from_json = tmp.path().join(format!("{name}-json"));
        assert_eq!(ingest(syslog, &from_syslog, &[]), events);
        let stdout = stdout_of(
            bouncestat()
                .args(["ingest", "--timezone", zone, "--year", year])
                .args(["--quiet", "--out"])
                .arg(&from_json)
                .arg(fixtures().join(json)),
        );
        assert_eq!(events_line(&stdout), events, "{json}");
        assert!(stdout.contains("rejected lines: 0"), "{stdout}");
        let (a, b) = (parquet_files(&from_syslog), parquet_files(&from_json));
        assert_eq!(a.len(), 4, "{json}");
        assert!(a == b, "{json}: the datasets differ");
    }
    let gzipped = gzip(&fs::read(fixtures().join("journal/postfix.json")).unwrap());
    let stdout = stdout_of(
        bouncestat()
            .args(["ingest", "--quiet", "-"])
            .write_stdin(gzipped),
    );
    assert_eq!(
        events_line(&stdout),
        "events: 15 (delivered 5, deferred 5, bounced 4, expired 1)"
    );
}

/// A generated Postfix log written as journal entries (`generate --journal`, about 1.2 kB an
/// entry) and the same log with RFC 3339 stamps give the same dataset, cut into small
/// blocks parsed on several threads.
#[test]
fn a_generated_journal_export_reads_as_its_log() {
    let tmp = tempfile::tempdir().unwrap();
    let generate = |extra: &[&str], name: &str| {
        let path = tmp.path().join(name);
        bouncestat()
            .args(["generate", "--seed", "5", "--lines", "8000", "--rate", "20"])
            .args(extra)
            .arg("-o")
            .arg(&path)
            .assert()
            .success();
        path
    };
    let log = generate(&["--timestamps", "rfc3339"], "mail.log");
    let journal = generate(&["--journal"], "mail.json");
    let journal_bytes = fs::metadata(&journal).unwrap().len();
    assert!(
        journal_bytes > 6 * fs::metadata(&log).unwrap().len(),
        "an export is several times its log: {journal_bytes}"
    );
    let from_log = tmp.path().join("from-log");
    let events = ingest(&log, &from_log, &[]);
    assert!(events.starts_with("events: "), "{events}");
    let expected = parquet_files(&from_log);
    for (threads, block) in [("1", "16777216"), ("2", "65536"), ("3", "20000")] {
        let out = tmp.path().join(format!("from-journal-{threads}"));
        let args = ["--threads", threads, "--block-bytes", block];
        assert_eq!(ingest(&journal, &out, &args), events);
        assert!(parquet_files(&out) == expected, "{threads} threads");
    }
    // `generate --journal` is for Postfix logs.
    bouncestat()
        .args(["generate", "--format", "exim", "--lines", "10", "--journal"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains(
            "--journal writes Postfix logs only",
        ));
}

/// The summary of an ingest of `input` with `--show-rejects`, which must exit 1 (too many
/// lines rejected).
fn rejecting_run(input: &Path) -> String {
    let assert = bouncestat()
        .args(["ingest", "--quiet", "--show-rejects"])
        .arg(input)
        .assert()
        .code(1);
    String::from_utf8(assert.get_output().stdout.clone()).unwrap()
}

/// Entries that cannot be read are counted by reason and shown with their line numbers: a
/// message journalctl left out, an entry without a time, and one cut short.
#[test]
fn journal_entries_that_cannot_be_read_are_counted_and_shown() {
    let stdout = rejecting_run(&fixtures().join("malformed/journal-bad-entries.json"));
    assert!(stdout.contains("events: 1 (delivered 1, deferred 0, bounced 0, expired 0)"));
    for (reason, line) in [
        (
            "JSON line: message left out (export with journalctl --all): 1",
            2,
        ),
        ("JSON line without a timestamp: 1", 3),
        ("JSON line: not a JSON object: 1", 4),
    ] {
        assert!(stdout.contains(reason), "{reason}: {stdout}");
        assert!(
            stdout.contains(&format!("journal-bad-entries.json:{line}: {{")),
            "line {line}: {stdout}"
        );
    }
    assert!(stdout.contains("rejected lines: 3"), "{stdout}");
}

/// A container runtime's parts of a cut line are joined, stream by stream; a cut line whose
/// end never comes, or that runs over the longest line read, is counted and shown.
#[test]
fn container_lines_cut_by_the_runtime_are_joined() {
    let tmp = tempfile::tempdir().unwrap();
    let container_log = tmp.path().join("postfix.log");
    let delivery = "Jun 10 06:27:30 mx1 postfix/smtp[4]: A1B2C3D4E5: to=<a@b.example>, \
                    relay=none, delay=1, status=deferred (connect to b.example[192.0.2.1]:25: \
                    Connection timed out)";
    let (head, tail) = delivery.split_at(70);
    let (middle, tail) = tail.split_at(40);
    let log = format!(
        "2025-06-10T06:27:30.1Z stdout F Jun 10 06:27:30 mx1 postfix/qmgr[9]: A1B2C3D4E5: \
         from=<x@shop.example>, size=100, nrcpt=1 (queue active)\n\
         2025-06-10T06:27:30.2Z stdout P {head}\n\
         2025-06-10T06:27:30.2Z stderr P Jun 10 06:27:30 mx1 postfix/postfix-script[7]: war\n\
         2025-06-10T06:27:30.2Z stdout P {middle}\n\
         2025-06-10T06:27:30.2Z stderr F ning: not owned by postfix\n\
         2025-06-10T06:27:30.3Z stdout F {tail}\n"
    );
    fs::write(&container_log, &log).unwrap();
    let stdout = stdout_of(
        bouncestat()
            .args(["ingest", "--quiet", "--timezone", "UTC", "--year", "2025"])
            .arg(&container_log),
    );
    assert!(
        stdout.contains("events: 1 (delivered 0, deferred 1, bounced 0, expired 0)"),
        "{stdout}"
    );
    assert!(stdout.contains("rejected lines: 0"), "{stdout}");
    // The same log with a cut line over 64 KiB after it, and one whose end is not there.
    let long = "x".repeat(40_000);
    let log = format!(
        "{log}2025-06-10T06:27:31Z stdout P Jun 10 06:27:31 mx1 postfix/smtp[4]: {long}\n\
         2025-06-10T06:27:31Z stdout P {long}\n\
         2025-06-10T06:27:31Z stdout F end\n\
         2025-06-10T06:27:32Z stdout P Jun 10 06:27:32 mx1 postfix/smtp[4]: A1B2C3D4E5: to=<\n"
    );
    fs::write(&container_log, log).unwrap();
    let stdout = rejecting_run(&container_log);
    assert!(
        stdout.contains("events: 1 (delivered 0, deferred 1"),
        "{stdout}"
    );
    assert!(stdout.contains("line too long: 1"), "{stdout}");
    assert!(
        stdout.contains("postfix.log:9: 2025-06-10T06:27:31Z stdout F end"),
        "{stdout}"
    );
    assert!(
        stdout.contains("container log: part of a cut line without its end: 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("postfix.log:10: Jun 10 06:27:32 mx1 postfix/smtp[4]: A1B2C3D4E5: to=<"),
        "{stdout}"
    );
    assert!(stdout.contains("rejected lines: 2"), "{stdout}");
}

/// `journalctl -o short-unix` (epoch seconds) and `-o short-full` (weekday, date, clock and
/// zone, with `--utc` or in the machine's zone) give the datasets of the syslog lines they
/// hold; the epoch and UTC stamps whatever `--timezone` says.
#[test]
fn journalctl_text_outputs_give_the_datasets_of_their_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let postfix = fixtures_in("postfix", &tmp.path().join("postfix")).join("lifecycle.log");
    let events = "events: 15 (delivered 5, deferred 5, bounced 4, expired 1)";
    let reference = tmp.path().join("reference");
    assert_eq!(ingest(&postfix, &reference, &[]), events);
    let log = fs::read_to_string(&postfix).unwrap();
    // Every line of the fixture is of 2025-03-10 (a Monday): "Mar 10 09:00:01 mx1 ...".
    let restamp = |stamp: &dyn Fn(u32, u32, u32) -> String| -> String {
        log.lines()
            .map(|line| {
                let (clock, rest) = (&line[7..15], &line[15..]);
                let [h, m, s] = [0, 3, 6].map(|i| clock[i..i + 2].parse::<u32>().unwrap());
                format!("{}{rest}\n", stamp(h, m, s))
            })
            .collect()
    };
    let midnight = 1_741_564_800; // 2025-03-10T00:00:00Z
    for (name, zone, text) in [
        (
            "short-unix",
            "Asia/Tokyo",
            restamp(&|h, m, s| format!("{}.000000", midnight + h * 3600 + m * 60 + s)),
        ),
        (
            "short-full-utc",
            "America/New_York",
            restamp(&|h, m, s| format!("Mon 2025-03-10 {h:02}:{m:02}:{s:02} UTC")),
        ),
        (
            "short-full-cet",
            "Europe/Berlin",
            restamp(&|h, m, s| format!("Mon 2025-03-10 {:02}:{m:02}:{s:02} CET", h + 1)),
        ),
    ] {
        let input = tmp.path().join(format!("{name}.log"));
        fs::write(&input, text).unwrap();
        let out = tmp.path().join(name);
        let stdout = stdout_of(
            bouncestat()
                .args(["ingest", "--timezone", zone, "--year", "1999", "--quiet"])
                .arg("--out")
                .arg(&out)
                .arg(&input),
        );
        assert_eq!(events_line(&stdout), events, "{name}");
        assert!(stdout.contains("rejected lines: 0"), "{name}: {stdout}");
        assert!(
            parquet_files(&reference) == parquet_files(&out),
            "{name}: the datasets differ"
        );
    }
}
