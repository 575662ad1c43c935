//! Real-world Postfix samples from `../shared/corpus/postfix/` (written by other people, not
//! copied into the repo). Ignored by a plain `cargo test`; `.ci/run` runs them.

use std::path::PathBuf;

use bouncestat::classify::Classifier;
use bouncestat::event::Outcome;
use bouncestat::format::postfix::parse_line;
use bouncestat::format::syslog::TimeContext;
use bouncestat::format::{Parsed, Record};
use bouncestat::pipeline::{Config, run_in_memory};

fn corpus(name: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/postfix")
        .join(name);
    match std::fs::read(&path) {
        Ok(data) => Some(data),
        Err(err) => {
            eprintln!("skipping: {} unreadable: {err}", path.display());
            None
        }
    }
}

fn count_lines(data: &[u8], needle: &str) -> i64 {
    data.split(|&b| b == b'\n')
        .filter(|line| line.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .count() as i64
}

#[test]
#[ignore]
fn corpus_scenarios_log_bounces_and_deferrals_are_found() {
    let Some(data) = corpus("scenarios.log") else {
        return;
    };
    let time = TimeContext::utc("2021-12-31T00:00:00Z".parse().unwrap());
    for (threads, block) in [(1, 1 << 30), (2, 4096)] {
        let config = Config {
            threads,
            block_bytes: block,
            ..Config::default()
        };
        let out = run_in_memory(&[(&data, time.clone())], &config, &Classifier::new());
        let agg = &out.aggregate;
        // Every deferral and bounce line in the corpus becomes an event.
        assert_eq!(
            agg.total(Outcome::Deferred),
            count_lines(&data, "status=deferred")
        );
        assert_eq!(
            agg.total(Outcome::Bounced),
            count_lines(&data, "status=bounced")
        );
        // The one qmgr expiry is counted.
        assert_eq!(agg.total(Outcome::Expired), 1);
        // Sent lines are deliveries unless they hand off to a local content filter.
        let sent = count_lines(&data, "status=sent");
        assert_eq!(
            agg.total(Outcome::Delivered) + out.stats.content_filter_handoffs as i64,
            sent
        );
        assert!(out.stats.content_filter_handoffs > 0);
        // The one line that a newline split in two is rejected, not lost silently.
        assert!(out.stats.rejected_lines() >= 1, "{:?}", out.stats.rejects);
        assert!(out.stats.rejected_lines() <= 3, "{:?}", out.stats.samples);
    }
}

#[test]
#[ignore]
fn corpus_every_message_type_parses_without_panic() {
    let Some(data) = corpus("messages.jsonl") else {
        return;
    };
    let mut ctx = TimeContext::utc("2021-12-31T00:00:00Z".parse().unwrap());
    let mut deliveries = 0;
    let mut with_status = 0;
    for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let value: serde_json::Value = serde_json::from_slice(line).unwrap();
        let message = value["message"].as_str().unwrap();
        let program = value["program_hint"].as_str().unwrap_or("postfix/smtp");
        let full = format!("Oct 26 18:13:50 mx {program}[123]: {message}");
        let parsed = parse_line(full.as_bytes(), &mut ctx);
        if program.starts_with("postfix/")
            && message.contains(", status=")
            && message.contains("to=")
        {
            with_status += 1;
            match parsed {
                Parsed::Record(_, Record::Delivery(d)) => {
                    deliveries += 1;
                    assert!(!d.recipient.is_empty(), "{full}");
                }
                other => panic!("{full}: {other:?}"),
            }
        }
    }
    assert!(with_status > 10);
    assert_eq!(deliveries, with_status);
}
