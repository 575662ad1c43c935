//! Real-world Exim samples from `../shared/corpus/exim/mainlog` (written by other people, not
//! copied into the repo). Ignored by a plain `cargo test`; `.ci/run` runs them.

use std::path::PathBuf;

use bouncestat::classify::Classifier;
use bouncestat::event::Outcome;
use bouncestat::format::exim::parse_line;
use bouncestat::format::syslog::TimeContext;
use bouncestat::format::{Format, Parsed, Record};
use bouncestat::pipeline::{Config, run_in_memory};

fn corpus() -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/exim/mainlog");
    match std::fs::read(&path) {
        Ok(data) => Some(data),
        Err(err) => {
            eprintln!("skipping: {} unreadable: {err}", path.display());
            None
        }
    }
}

/// The flag of a mainlog line, found independently of the parser: the words after the date
/// and time, an optional `±HHMM` and `[pid]`, and a message id shaped `xxxxxx-xxx...-xx`.
fn flag_of(line: &str) -> Option<&str> {
    let mut words = line.split(' ').skip(2).peekable();
    if words
        .peek()
        .is_some_and(|w| w.len() == 5 && (w.starts_with('+') || w.starts_with('-')))
    {
        words.next();
    }
    if words
        .peek()
        .is_some_and(|w| w.starts_with('[') && w.ends_with(']'))
    {
        words.next();
    }
    let id = words.next()?;
    let parts: Vec<&str> = id.split('-').collect();
    let shaped = parts.len() == 3
        && parts[0].len() == 6
        && matches!((parts[1].len(), parts[2].len()), (6, 2) | (11, 4));
    if !shaped || !line.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    words.next()
}

#[derive(Debug, Default, PartialEq)]
struct Counts {
    deliveries: i64,
    deferrals: i64,
    failures: i64,
    arrivals: i64,
}

fn count_flags(data: &[u8]) -> Counts {
    let mut counts = Counts::default();
    for line in String::from_utf8_lossy(data).lines() {
        match flag_of(line) {
            Some("=>" | "->" | ">>") => counts.deliveries += 1,
            Some("==") => counts.deferrals += 1,
            Some("**") => counts.failures += 1,
            Some("<=" | "(=") => counts.arrivals += 1,
            _ => {}
        }
    }
    counts
}

#[test]
#[ignore]
fn corpus_exim_mainlog_deliveries_deferrals_and_failures_are_found() {
    let Some(data) = corpus() else {
        return;
    };
    assert_eq!(Format::detect(&data), Some(Format::Exim));
    let expected = count_flags(&data);
    assert!(expected.deliveries > 100 && expected.deferrals > 30 && expected.failures > 50);

    // Line by line: every flagged line is a record of the right kind.
    let mut time = TimeContext::utc("2025-12-31T00:00:00Z".parse().unwrap());
    let mut found = Counts::default();
    for line in data.split(|&b| b == b'\n') {
        match parse_line(line, &mut time) {
            Parsed::Record(_, Record::Delivery(d)) => match d.status.outcome() {
                Outcome::Delivered => found.deliveries += 1,
                Outcome::Deferred => found.deferrals += 1,
                Outcome::Bounced | Outcome::Expired => found.failures += 1,
                other => panic!("an Exim delivery line cannot be {other:?}"),
            },
            Parsed::Record(_, Record::Sender { .. }) => found.arrivals += 1,
            _ => {}
        }
    }
    assert_eq!(found, expected);

    // Through the pipeline, with any blocks and threads.
    let time = TimeContext::utc("2025-12-31T00:00:00Z".parse().unwrap());
    for (threads, block) in [(1, 1 << 30), (2, 4096), (4, 300)] {
        let config = Config {
            threads,
            block_bytes: block,
            ..Config::default()
        };
        let out = run_in_memory(&[(&data, time.clone())], &config, &Classifier::new());
        let agg = &out.aggregate;
        assert_eq!(agg.total(Outcome::Delivered), expected.deliveries);
        assert_eq!(agg.total(Outcome::Deferred), expected.deferrals);
        assert_eq!(
            agg.total(Outcome::Bounced) + agg.total(Outcome::Expired),
            expected.failures
        );
        // Only the test harness's banner line is not Exim's.
        assert!(out.stats.rejected_lines() <= 2, "{:?}", out.stats.rejects);
    }
}

#[test]
#[ignore]
fn corpus_exim_mainlog_codes_and_stages() {
    let Some(data) = corpus() else {
        return;
    };
    let time = TimeContext::utc("2025-12-31T00:00:00Z".parse().unwrap());
    let out = run_in_memory(&[(&data, time)], &Config::default(), &Classifier::new());
    let rows = out.aggregate.rows().unwrap();
    let with = |code: u16, stage: &str| {
        rows.iter()
            .filter(|r| r.reply_code == Some(code) && r.stage == Some(stage))
            .map(|r| r.count)
            .sum::<i64>()
    };
    assert!(with(550, "rcpt") > 20, "RCPT TO rejections");
    assert!(with(451, "mail") > 0, "pipelined MAIL FROM deferrals");
    assert!(with(503, "data") > 0, "pipelined DATA failures");
    assert!(with(500, "end_of_data") > 0, "sending data block");
    assert!(with(540, "rcpt") > 0, "the anonymised log's 540 5.7.1");
    let connect: i64 = rows
        .iter()
        .filter(|r| r.stage == Some("connect"))
        .map(|r| r.count)
        .sum();
    assert!(
        connect > 5,
        "Connection refused / timed out / Unrouteable address"
    );
}
