//! The Postfix pipeline on hand-written fixtures: counts, correlation, and independence from
//! block size and thread count.

use bouncestat::classify::Classifier;
use bouncestat::event::Outcome;
use bouncestat::format::syslog::TimeContext;
use bouncestat::pipeline::{Config, Output, run_in_memory};

fn reference() -> TimeContext {
    TimeContext::utc("2025-12-31T12:00:00Z".parse().unwrap())
}

fn ingest(data: &[u8], threads: usize, block_bytes: usize) -> Output {
    let config = Config {
        threads,
        block_bytes,
    };
    run_in_memory(&[(data, reference())], &config, &Classifier::new())
}

fn rendered(output: &Output) -> Vec<String> {
    output
        .aggregate
        .rows()
        .iter()
        .map(|r| format!("{r:?}"))
        .collect()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/fixtures/postfix/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn lifecycle_counts() {
    let data = fixture("lifecycle.log");
    let out = ingest(&data, 1, 1 << 20);
    let agg = &out.aggregate;
    assert_eq!(agg.total(Outcome::Delivered), 5);
    assert_eq!(agg.total(Outcome::Deferred), 5);
    assert_eq!(agg.total(Outcome::Bounced), 4);
    assert_eq!(agg.total(Outcome::Expired), 1);
    assert_eq!(out.stats.content_filter_handoffs, 1);
    assert_eq!(out.stats.bounce_notices, 2);
    assert_eq!(out.stats.bounce_message_events, 2);
    assert_eq!(
        out.stats.events_without_sender, 1,
        "the lmtp delivery has no from= line"
    );
    assert_eq!(out.stats.rejected_lines(), 0, "{:?}", out.stats.samples);
    assert_eq!(
        out.open_queue_files, 1,
        "the Yahoo deferral is still queued"
    );

    let rows = agg.rows();
    // Bounce messages carry no sender domain.
    for row in rows.iter().filter(|r| r.bounce_message) {
        assert_eq!(row.sender_domain, None);
        assert_eq!(row.outcome, "delivered");
    }
    // The expiry inherits the last deferral's reply and recipient domain.
    let expired: Vec<_> = rows.iter().filter(|r| r.outcome == "expired").collect();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].recipient_domain, "small-isp.example");
    assert_eq!(expired[0].sender_domain, Some("shop.example"));
    assert_eq!(expired[0].reply_code, Some(452));
    assert_eq!(expired[0].category, "expired");
    // The re-injected message's result counts, not the hand-off to the filter.
    let dave: Vec<_> = rows
        .iter()
        .filter(|r| r.recipient_domain == "small-isp.example")
        .collect();
    assert_eq!(dave.iter().map(|r| r.count).sum::<i64>(), 4);
    assert!(dave.iter().all(|r| r.outcome != "delivered"));
    // The second instance's sender is joined through its own queue.
    let erin = rows
        .iter()
        .find(|r| r.recipient_domain == "yahoo.com")
        .unwrap();
    assert_eq!(erin.sender_domain, Some("ops.shop.example"));
    assert_eq!(erin.provider, "yahoo");
    assert_eq!(erin.stage, Some("mail"));
    let bob = rows
        .iter()
        .find(|r| r.outcome == "bounced" && r.recipient_domain == "gmail.com")
        .unwrap();
    assert_eq!(
        (bob.reply_code, bob.enhanced_code.as_deref()),
        (Some(550), Some("5.1.1"))
    );
    assert_eq!(bob.provider, "google");
    assert_eq!(bob.category, "user_unknown");
}

#[test]
fn result_does_not_depend_on_blocks_or_threads() {
    let data = fixture("lifecycle.log");
    let whole = ingest(&data, 1, 1 << 30);
    let expected = rendered(&whole);
    for threads in [1, 2, 4] {
        for block in [1, 100, 700, 2_000, 5_000] {
            let out = ingest(&data, threads, block);
            assert_eq!(rendered(&out), expected, "threads {threads}, block {block}");
            assert_eq!(out.stats.total_events(), whole.stats.total_events());
            assert_eq!(
                out.stats.events_without_sender,
                whole.stats.events_without_sender
            );
            assert_eq!(out.open_queue_files, whole.open_queue_files);
        }
    }
}
