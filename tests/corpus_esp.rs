//! Real-world ESP payloads from `../shared/corpus/esp/` (from the providers' documentation and
//! other projects' tests, not copied into the repo). Ignored by a plain `cargo test`;
//! `.ci/run` runs them (`cargo test -- --ignored corpus_`).
//!
//! The expected counts come from reading the files: which records are failures, deferrals,
//! deliveries, complaints and suppressions, and which are engagement or pings.

use std::path::PathBuf;

use bouncestat::classify::Classifier;
use bouncestat::event::Outcome;
use bouncestat::format::Format;
use bouncestat::format::syslog::TimeContext;
use bouncestat::pipeline::{Config, Output, run_in_memory};

fn corpus(name: &str) -> Option<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/esp")
        .join(name);
    match std::fs::read(&path) {
        Ok(data) => Some(data),
        Err(err) => {
            eprintln!("skipping: {} unreadable: {err}", path.display());
            None
        }
    }
}

/// Ingests a corpus file (detected format checked) with one and with two threads and returns
/// the outcome counts in `Outcome::ALL` order: delivered, deferred, bounced, expired,
/// complained, suppressed.
fn ingest(name: &str, format: Format, records: u64) -> Option<[i64; 6]> {
    let data = corpus(name)?;
    assert_eq!(Format::detect(&data), Some(format), "{name} detected");
    let mut seen = None;
    for threads in [1, 2] {
        let config = Config {
            threads,
            block_bytes: 1024,
            ..Config::default()
        };
        let time = TimeContext::utc("2026-01-01T00:00:00Z".parse().unwrap());
        let out: Output = run_in_memory(&[(&data, time)], &config, &Classifier::new());
        assert_eq!(out.stats.lines, records, "{name}: records");
        assert_eq!(
            out.stats.rejected_lines(),
            0,
            "{name}: {:?}",
            out.stats.samples
        );
        assert!(
            out.aggregate
                .rows()
                .unwrap()
                .iter()
                .all(|r| r.source == format.as_str()),
            "{name}: source column"
        );
        let counts = Outcome::ALL.map(|o| out.aggregate.total(o));
        if let Some(previous) = seen {
            assert_eq!(previous, counts, "{name}: thread count changed the result");
        }
        seen = Some(counts);
    }
    seen
}

#[test]
#[ignore]
fn corpus_esp_ses_event_publishing() {
    // Bounce (one recipient), Complaint, Delivery, Reject (not sent), DeliveryDelay.
    if let Some(counts) = ingest("ses.jsonl", Format::Ses, 5) {
        assert_eq!(counts, [1, 1, 1, 0, 1, 1]);
    }
}

#[test]
#[ignore]
fn corpus_esp_sendgrid_webhook() {
    // 2 delivered, 2 deferred, 3 bounces (one of them blocked), 1 spamreport, 2 dropped;
    // processed, open, click, unsubscribe and group events are skipped.
    if let Some(counts) = ingest("sendgrid.json", Format::Sendgrid, 17) {
        assert_eq!(counts, [2, 2, 3, 0, 1, 2]);
    }
}

#[test]
#[ignore]
fn corpus_esp_mailgun_webhooks() {
    // delivered; failed permanent; failed temporary twice (deferrals, one greylisted);
    // rejected by Mailgun (not sent).
    if let Some(counts) = ingest("mailgun.jsonl", Format::Mailgun, 5) {
        assert_eq!(counts, [1, 2, 1, 0, 0, 1]);
    }
}

#[test]
#[ignore]
fn corpus_esp_postmark_webhooks() {
    // Hard bounce, delivery, spam complaint; open, click and subscription change skipped.
    if let Some(counts) = ingest("postmark.json", Format::Postmark, 6) {
        assert_eq!(counts, [1, 0, 1, 0, 1, 0]);
    }
}

#[test]
#[ignore]
fn corpus_esp_sparkpost_batch() {
    // Ping, injection, unsubscribe, open and the class-60 auto-reply are skipped; delivery,
    // bounce (class 10), delay, and two generation events (not sent).
    if let Some(counts) = ingest("sparkpost.json", Format::Sparkpost, 10) {
        assert_eq!(counts, [1, 1, 1, 0, 0, 2]);
    }
}
