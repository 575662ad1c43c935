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
        ..Config::default()
    };
    run_in_memory(&[(data, reference())], &config, &Classifier::new())
}

fn rendered(output: &Output) -> Vec<String> {
    output
        .aggregate
        .rows()
        .unwrap()
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

    let rows = agg.rows().unwrap();
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

fn hour_string(hour: i64) -> String {
    jiff::Timestamp::from_second(hour * 3600)
        .unwrap()
        .to_string()
}

fn ingest_with(data: &[u8], reference: &str) -> Output {
    let time = TimeContext::utc(reference.parse().unwrap());
    run_in_memory(&[(data, time)], &Config::default(), &Classifier::new())
}

#[test]
fn rfc3339_offsets_and_microsoft_gmail_codes() {
    let out = ingest_with(&fixture("rfc3339.log"), "2025-12-31T00:00:00Z");
    let rows = out.aggregate.rows().unwrap();
    assert_eq!(out.stats.rejected_lines(), 0);
    assert_eq!(out.stats.total_events(), 3);
    let ms = rows.iter().find(|r| r.provider == "microsoft").unwrap();
    assert_eq!(ms.enhanced_code.as_deref(), Some("5.7.606"));
    assert_eq!(ms.outcome, "bounced");
    assert_eq!(
        hour_string(ms.hour),
        "2025-02-14T17:00:00Z",
        "+01:00 converted to UTC"
    );
    let deferral = rows.iter().find(|r| r.outcome == "deferred").unwrap();
    assert_eq!(
        (deferral.reply_code, deferral.enhanced_code.as_deref()),
        (Some(421), Some("4.7.28"))
    );
    assert_eq!(deferral.stage, Some("end_of_data"));
    assert!(
        rows.iter()
            .all(|r| r.sender_domain == Some("store.example"))
    );
    assert_eq!(out.open_queue_files, 0);
}

#[test]
fn year_prefixed_timestamps() {
    let out = ingest_with(&fixture("year-prefixed.log"), "2025-12-31T00:00:00Z");
    let rows = out.aggregate.rows().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(hour_string(rows[0].hour), "2013-06-10T06:00:00Z");
    assert_eq!(rows[0].enhanced_code.as_deref(), Some("5.2.2"));
    assert_eq!(rows[0].category, "mailbox_full");
}

#[test]
fn december_to_january_rollover() {
    let out = ingest_with(&fixture("rollover.log"), "2026-01-01T12:00:00Z");
    let rows = out.aggregate.rows().unwrap();
    let deferred = rows.iter().find(|r| r.outcome == "deferred").unwrap();
    let delivered = rows.iter().find(|r| r.outcome == "delivered").unwrap();
    assert_eq!(hour_string(deferred.hour), "2025-12-31T23:00:00Z");
    assert_eq!(hour_string(delivered.hour), "2026-01-01T00:00:00Z");
}

#[test]
fn bad_lines_are_counted_and_sampled() {
    let out = ingest_with(
        &std::fs::read(format!(
            "{}/fixtures/malformed/postfix-bad-lines.log",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
        "2025-12-31T00:00:00Z",
    );
    assert_eq!(out.stats.lines, 8);
    assert_eq!(
        out.stats.total_events(),
        3,
        "NUL, invalid UTF-8, CRLF and a truncated last line still parse"
    );
    assert_eq!(out.stats.rejects.get("bad syslog timestamp"), Some(&2));
    assert_eq!(
        out.stats.rejects.get("delivery line without status"),
        Some(&1)
    );
    let lines: Vec<u64> = out.stats.samples.iter().map(|s| s.line_number).collect();
    assert_eq!(lines, vec![2, 4, 5], "samples in file order");
}

#[test]
fn megabyte_lines_and_binary_garbage_never_panic() {
    let mut data = fixture("lifecycle.log");
    data.extend_from_slice(
        b"Mar 10 11:00:06 mx1 postfix/smtp[901]: ABCDE12345: to=<a@b>, status=deferred (",
    );
    data.extend(std::iter::repeat_n(b'x', 3 << 20));
    data.extend_from_slice(b")\n");
    data.extend((0..=255u8).cycle().take(100_000));
    for block in [4096, 1 << 20, 64 << 20] {
        let out = ingest(&data, 2, block);
        assert_eq!(out.stats.rejects.get("line too long"), Some(&1));
        assert_eq!(out.stats.total_events(), 15);
    }
}

mod never_panics {
    use bouncestat::format::Format;
    use bouncestat::format::syslog::TimeContext;
    use proptest::prelude::*;

    /// Real line prefixes, so mutations reach deep into the parser, not only its first check.
    const SEEDS: [&str; 4] = [
        "Mar 10 09:00:03 mx1 postfix/smtp[1104]: 3A1F2C0B11: to=<b@gmail.com>, relay=gmail-smtp-in.l.google.com[142.250.27.26]:25, delay=1.2, dsn=5.1.1, status=bounced (host x[1.2.3.4] said: 550-5.1.1 no 550 5.1.1 such (in reply to RCPT TO command))",
        "2025-02-14T18:12:30.118203+01:00 relay2 postfix/qmgr[733]: 4Rz8Kq1b2Lz5wQm: from=<o@s.example>, size=5012, nrcpt=2 (queue active)",
        "2013 Jun 10 06:27:30.123 gw postfix-out/qmgr[411]: 9F1E2D3C4B: from=<a@b>, status=expired, returned to sender",
        "Mar 10 09:30:00 mx1 postfix/qmgr[900]: 8D4A5F0E44: to=<d@s.example>, relay=none, delay=599, dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to mx[192.0.2.25]:25: Connection timed out)",
    ];

    proptest! {
        #[test]
        fn postfix_parser_survives_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let mut time = TimeContext::utc("2025-12-31T00:00:00Z".parse().unwrap());
            let _ = Format::Postfix.parse_line(&bytes, &mut time);
        }

        #[test]
        fn postfix_parser_survives_cut_and_mutated_lines(
            seed in 0..SEEDS.len(),
            cut in 0usize..400,
            position in 0usize..400,
            byte in any::<u8>(),
        ) {
            let mut line = SEEDS[seed].as_bytes().to_vec();
            line.truncate(cut.min(line.len()));
            if !line.is_empty() {
                let at = position % line.len();
                line[at] = byte;
            }
            let mut time = TimeContext::utc("2025-12-31T00:00:00Z".parse().unwrap());
            let _ = Format::Postfix.parse_line(&line, &mut time);
        }
    }
}
