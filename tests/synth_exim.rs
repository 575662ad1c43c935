//! The Exim mainlog generator against the real pipeline: what ingest finds in a generated log
//! is exactly the generator's ground truth, for any block size and thread count.

mod common;

use std::collections::BTreeMap;

use bouncestat::classify::Classifier;
use bouncestat::event::Outcome;
use bouncestat::format::Format;
use bouncestat::format::syslog::TimeContext;
use bouncestat::pipeline::{Config, Output, run_in_memory};
use bouncestat::synth::{EximConfig, EximIds, GenStats, OutcomeCounts, generate_exim};

fn generate(cfg: &EximConfig) -> (Vec<u8>, GenStats) {
    let mut out = Vec::new();
    let stats = generate_exim(cfg, &mut out).unwrap();
    (out, stats)
}

fn ingest(data: &[u8], threads: usize, block_bytes: usize) -> Output {
    let time = TimeContext::utc("2030-01-01T00:00:00Z".parse().unwrap());
    let config = Config {
        threads,
        block_bytes,
        ..Config::default()
    };
    run_in_memory(&[(data, time)], &config, &Classifier::new())
}

fn counts(
    output: &Output,
    pick: impl Fn(&bouncestat::aggregate::CubeRow<'_>) -> Option<String>,
) -> BTreeMap<String, OutcomeCounts> {
    let mut by = BTreeMap::<String, OutcomeCounts>::new();
    for row in output.aggregate.rows().unwrap() {
        let Some(key) = pick(&row) else { continue };
        let entry = by.entry(key).or_default();
        let n = row.count as u64;
        match row.outcome {
            "delivered" => entry.sent += n,
            "deferred" => entry.deferred += n,
            "bounced" => entry.bounced += n,
            _ => entry.expired += n,
        }
    }
    by
}

fn check(cfg: &EximConfig, time: TimeContext) {
    let (log, truth) = generate(cfg);
    assert_eq!(Format::detect(&log), Some(Format::Exim));
    let config = Config {
        threads: 2,
        block_bytes: 64 << 10,
        ..Config::default()
    };
    let out = run_in_memory(&[(&log, time)], &config, &Classifier::new());
    assert_eq!(out.stats.rejected_lines(), 0, "{:?}", out.stats.samples);
    let agg = &out.aggregate;
    assert_eq!(agg.total(Outcome::Delivered) as u64, truth.attempts.sent);
    assert_eq!(agg.total(Outcome::Deferred) as u64, truth.attempts.deferred);
    assert_eq!(agg.total(Outcome::Bounced) as u64, truth.attempts.bounced);
    assert_eq!(agg.total(Outcome::Expired) as u64, truth.attempts.expired);
    assert_eq!(
        out.stats.bounce_message_events,
        truth.bounce_message_attempts.total()
    );
    // Retries of mail that arrived before the log starts: no `<=` line names their sender.
    let unknown = truth
        .by_sender_domain
        .get("")
        .map_or(0, OutcomeCounts::total);
    assert!(unknown > 0, "the log opens on a queue of retries");
    assert_eq!(out.stats.events_without_sender, unknown);
    assert_eq!(out.stats.lines, truth.lines);
    let by_sender = counts(&out, |r| {
        (!r.bounce_message).then(|| r.sender_domain.unwrap_or("").to_owned())
    });
    assert_eq!(by_sender, truth.by_sender_domain);
    let by_provider = counts(&out, |r| Some(r.provider.to_owned()));
    assert_eq!(by_provider, truth.by_provider);
}

#[test]
fn ground_truth_equals_what_ingest_finds() {
    let cfg = EximConfig {
        target_lines: Some(30_000),
        messages_per_second: 2.0,
        retry_timeout_secs: 600,
        min_backoff_secs: 60,
        max_backoff_secs: 240,
        ..EximConfig::default()
    };
    let (_, truth) = generate(&cfg);
    assert!(truth.attempts.deferred > 100 && truth.attempts.bounced > 100);
    assert!(truth.attempts.expired > 10 && truth.bounce_messages > 50);
    assert!(truth.noise_lines > 1000);
    check(
        &cfg,
        TimeContext::utc("2030-01-01T00:00:00Z".parse().unwrap()),
    );
}

#[test]
fn stamp_and_id_variants_ingest_alike() {
    for (ids, pid, millisec, offset) in [
        (EximIds::Short, false, false, None),
        (EximIds::Long, true, true, Some(7200)),
        (EximIds::Upgrade, true, false, Some(-16200)),
    ] {
        let cfg = EximConfig {
            seed: 9,
            target_bytes: Some(1_500_000),
            target_lines: None,
            ids,
            pid,
            milliseconds: millisec,
            log_timezone: offset.is_some(),
            utc_offset_seconds: offset.unwrap_or(0),
            ..EximConfig::default()
        };
        check(
            &cfg,
            TimeContext::utc("2030-01-01T00:00:00Z".parse().unwrap()),
        );
    }
    // Local times without an offset go through --timezone.
    let cfg = EximConfig {
        target_lines: Some(5_000),
        utc_offset_seconds: 3600,
        ..EximConfig::default()
    };
    let (log, _) = generate(&cfg);
    let tz = jiff::tz::TimeZone::fixed(jiff::tz::offset(1));
    let time = TimeContext::new(tz, "2030-01-01T00:00:00Z".parse().unwrap(), None);
    let config = Config::default();
    let local = run_in_memory(&[(&log, time)], &config, &Classifier::new());
    let first_hour = local
        .aggregate
        .rows()
        .unwrap()
        .iter()
        .map(|r| r.hour)
        .min()
        .unwrap();
    assert_eq!(first_hour * 3600, cfg.start.as_second() / 3600 * 3600);
}

#[test]
fn deterministic_and_independent_of_blocks() {
    let cfg = EximConfig {
        target_bytes: Some(600_000),
        target_lines: None,
        ..EximConfig::default()
    };
    let (a, truth_a) = generate(&cfg);
    let (b, truth_b) = generate(&cfg);
    assert_eq!(a, b);
    assert_eq!(truth_a, truth_b);
    assert!(truth_a.bytes >= 600_000 && truth_a.bytes < 601_000);
    let whole = ingest(&a, 1, 1 << 30);
    let expected: Vec<String> = whole
        .aggregate
        .rows()
        .unwrap()
        .iter()
        .map(|r| format!("{r:?}"))
        .collect();
    for (threads, block) in [(2, 4096), (3, 50_000)] {
        let out = ingest(&a, threads, block);
        let rows: Vec<String> = out
            .aggregate
            .rows()
            .unwrap()
            .iter()
            .map(|r| format!("{r:?}"))
            .collect();
        assert_eq!(rows, expected, "threads {threads}, block {block}");
        assert_eq!(out.open_queue_files, whole.open_queue_files);
    }
}

#[test]
fn outcome_mix_from_the_first_line() {
    // Some four minutes of mail at the default rate, far less than the hour's retry timeout:
    // deferrals and expiries at their usual shares show that the log opens on a queue of
    // retries, not an empty one.
    let cfg = EximConfig {
        target_lines: Some(100_000),
        ..EximConfig::default()
    };
    let (log, truth) = generate(&cfg);
    common::assert_issue_mix(&truth);
    let start = cfg.start.as_microsecond();
    assert!(truth.first_line_micros >= start && truth.first_line_micros < start + 1_000_000);
    let span = (truth.last_line_micros - truth.first_line_micros) / 1_000_000;
    assert!(span < i64::from(cfg.retry_timeout_secs) / 4, "{span} s");
    // The attempts the truth counts are the lines flagged `==` and `**` (date, time, pid,
    // message id, flag; some subjects hold the flags too).
    let text = String::from_utf8(log).unwrap();
    let flagged = |flag: &str| {
        text.lines()
            .filter(|l| l.split(' ').nth(4) == Some(flag))
            .count() as u64
    };
    assert_eq!(flagged("=="), truth.attempts.deferred);
    assert_eq!(
        flagged("**"),
        truth.attempts.bounced + truth.attempts.expired
    );
}
