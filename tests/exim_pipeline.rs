//! The Exim pipeline on hand-written fixtures (`fixtures/exim/`): counts by outcome, sender
//! joins, bounce messages, codes and stages per event, syslog reassembly, and independence
//! from block size and thread count.

use bouncestat::aggregate::CubeRow;
use bouncestat::classify::Classifier;
use bouncestat::event::Outcome;
use bouncestat::format::Format;
use bouncestat::format::syslog::TimeContext;
use bouncestat::pipeline::{Config, Output, run_in_memory};

fn reference() -> TimeContext {
    TimeContext::utc("2025-12-31T12:00:00Z".parse().unwrap())
}

fn ingest_all(inputs: &[&[u8]], threads: usize, block_bytes: usize) -> Output {
    let config = Config {
        threads,
        block_bytes,
        ..Config::default()
    };
    let inputs: Vec<(&[u8], TimeContext)> = inputs.iter().map(|d| (*d, reference())).collect();
    run_in_memory(&inputs, &config, &Classifier::new())
}

fn ingest(data: &[u8], threads: usize, block_bytes: usize) -> Output {
    ingest_all(&[data], threads, block_bytes)
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

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn hour_string(hour: i64) -> String {
    jiff::Timestamp::from_second(hour * 3600)
        .unwrap()
        .to_string()
}

fn rows_to<'a>(rows: &'a [CubeRow<'a>], domain: &str) -> Vec<&'a CubeRow<'a>> {
    rows.iter()
        .filter(|r| r.recipient_domain == domain)
        .collect()
}

#[test]
fn formats_are_detected_per_file() {
    for name in [
        "exim/lifecycle.log",
        "exim/syslog.log",
        "malformed/exim-rejectlog.log",
    ] {
        assert_eq!(Format::detect(&fixture(name)), Some(Format::Exim), "{name}");
    }
    for name in [
        "lifecycle.log",
        "rfc3339.log",
        "rollover.log",
        "year-prefixed.log",
    ] {
        let data = fixture(&format!("postfix/{name}"));
        assert_eq!(Format::detect(&data), Some(Format::Postfix), "{name}");
    }
    // A Postfix log whose lines mention Exim is still Postfix.
    let postfix = b"Mar 10 09:00:02 mx1 postfix/smtp[1]: ABCDEF123: to=<a@b.example>, relay=mx.b.example[192.0.2.1]:25, delay=1, delays=0/0/0.5/0.5, dsn=5.0.0, status=bounced (host mx.b.example[192.0.2.1] said: 550 exim[12]: 2025-03-10 09:00:01 1tAAAA-0001aB-Cd rejected (in reply to RCPT TO command))\n";
    assert_eq!(Format::detect(postfix), Some(Format::Postfix));
    assert_eq!(Format::from_name("exim"), Some(Format::Exim));
}

#[test]
fn lifecycle_counts() {
    let out = ingest(&fixture("exim/lifecycle.log"), 1, 1 << 20);
    let agg = &out.aggregate;
    assert_eq!(out.stats.rejected_lines(), 0, "{:?}", out.stats.samples);
    assert_eq!(agg.total(Outcome::Delivered), 6);
    assert_eq!(agg.total(Outcome::Deferred), 4);
    assert_eq!(agg.total(Outcome::Bounced), 4);
    assert_eq!(
        agg.total(Outcome::Expired),
        1,
        "retry timeout exceeded is an expiry"
    );
    assert_eq!(out.stats.bounce_message_events, 3);
    assert_eq!(
        out.stats.events_without_sender, 1,
        "the cutthrough delivery is logged before its arrival"
    );
    assert_eq!(
        out.open_queue_files, 1,
        "the Hotmail deferral is still queued"
    );

    let rows = agg.rows().unwrap();
    assert!(
        rows.iter()
            .all(|r| r.source == "exim" && r.mta_host.is_empty())
    );
    // Bounce messages Exim generated carry no sender domain.
    let bounce_rows: Vec<_> = rows.iter().filter(|r| r.bounce_message).collect();
    assert_eq!(bounce_rows.iter().map(|r| r.count).sum::<i64>(), 3);
    for row in &bounce_rows {
        assert_eq!(row.sender_domain, None);
        assert_eq!(row.recipient_domain, "shop.example");
    }
    // Senders' mail: every event is joined to its `<=` line except the cutthrough one.
    for row in rows.iter().filter(|r| !r.bounce_message) {
        if row.recipient_domain == "icloud.com" {
            assert_eq!(row.sender_domain, None);
        } else {
            assert_eq!(row.sender_domain, Some("shop.example"), "{row:?}");
        }
    }

    let gmail = rows_to(&rows, "gmail.com");
    let delivered: i64 = gmail
        .iter()
        .filter(|r| r.outcome == "delivered")
        .map(|r| r.count)
        .sum();
    assert_eq!(delivered, 2, "=> and -> both count");
    let henry = gmail.iter().find(|r| r.outcome == "bounced").unwrap();
    assert_eq!(
        (
            henry.reply_code,
            henry.enhanced_code.as_deref(),
            henry.stage
        ),
        (Some(550), Some("5.7.26"), Some("end_of_data"))
    );
    assert_eq!(henry.provider, "google");
    assert_ne!(henry.category, "unclassified");

    let carol = rows_to(&rows, "outlook.com");
    assert_eq!(carol.len(), 1);
    assert_eq!(
        (
            carol[0].outcome,
            carol[0].reply_code,
            carol[0].enhanced_code.as_deref(),
            carol[0].stage
        ),
        ("bounced", Some(550), Some("5.1.10"), Some("rcpt"))
    );
    assert_eq!(carol[0].provider, "microsoft");

    // Deferred twice, then delivered: two deferral attempts and one delivery.
    let dave = rows_to(&rows, "yahoo.com");
    let count = |outcome: &str| -> i64 {
        dave.iter()
            .filter(|r| r.outcome == outcome)
            .map(|r| r.count)
            .sum()
    };
    assert_eq!((count("deferred"), count("delivered")), (2, 1));
    let first = dave.iter().find(|r| r.reply_code == Some(421)).unwrap();
    assert_eq!(
        (first.enhanced_code.as_deref(), first.stage),
        (Some("4.7.0"), Some("rcpt"))
    );
    assert_eq!(
        hour_string(first.hour),
        "2025-03-10T09:00:00Z",
        "log_timezone +0100 converted to UTC"
    );

    let ivy = rows_to(&rows, "hotmail.com");
    assert_eq!(
        (
            ivy[0].outcome,
            ivy[0].reply_code,
            ivy[0].enhanced_code.as_deref(),
            ivy[0].stage
        ),
        ("deferred", Some(451), Some("4.7.500"), Some("mail"))
    );

    let erin = rows_to(&rows, "small-isp.example");
    let deferral = erin.iter().find(|r| r.outcome == "deferred").unwrap();
    assert_eq!(
        (deferral.reply_code, deferral.stage),
        (None, Some("connect"))
    );
    let expired = erin.iter().find(|r| r.outcome == "expired").unwrap();
    assert_eq!(expired.category, "expired");
    assert_eq!(hour_string(expired.hour), "2025-03-10T13:00:00Z");

    let frank = rows_to(&rows, "nowhere.example");
    assert_eq!(
        (frank[0].outcome, frank[0].stage, frank[0].reply_code),
        ("bounced", Some("connect"), None)
    );
    // `*>` (delivery suppressed by -N) is not a delivery.
    assert!(
        rows.iter()
            .all(|r| r.recipient_domain != "mx1.shop.example")
    );
    assert!(
        rows.iter()
            .filter(|r| r.recipient_domain == "shop.example")
            .all(|r| r.bounce_message)
    );
}

#[test]
fn exim_through_syslog_with_split_entries() {
    let out = ingest(&fixture("exim/syslog.log"), 1, 1 << 20);
    assert_eq!(out.stats.rejected_lines(), 0, "{:?}", out.stats.samples);
    let agg = &out.aggregate;
    assert_eq!(agg.total(Outcome::Delivered), 2);
    assert_eq!(agg.total(Outcome::Bounced), 1);
    assert_eq!(out.stats.total_events(), 3);
    assert_eq!(out.stats.bounce_message_events, 1);
    assert_eq!(out.stats.events_without_sender, 0);
    assert_eq!(out.open_queue_files, 0);
    let rows = agg.rows().unwrap();
    assert!(rows.iter().all(|r| r.mta_host == "mx2"));
    let jo = rows.iter().find(|r| r.outcome == "bounced").unwrap();
    assert_eq!(jo.recipient_domain, "gmail.com");
    assert_eq!(jo.sender_domain, Some("shop.example"));
    assert_eq!(
        (jo.reply_code, jo.enhanced_code.as_deref(), jo.stage),
        (Some(550), Some("5.1.1"), Some("rcpt"))
    );
    assert_eq!(jo.category, "user_unknown");
}

#[test]
fn result_does_not_depend_on_blocks_or_threads() {
    for name in ["exim/lifecycle.log", "exim/syslog.log"] {
        let data = fixture(name);
        let whole = ingest(&data, 1, 1 << 30);
        let expected = rendered(&whole);
        for threads in [1, 2, 4] {
            for block in [1, 100, 700, 2_000, 5_000] {
                let out = ingest(&data, threads, block);
                let context = format!("{name}: threads {threads}, block {block}");
                assert_eq!(rendered(&out), expected, "{context}");
                assert_eq!(
                    out.stats.total_events(),
                    whole.stats.total_events(),
                    "{context}"
                );
                assert_eq!(
                    out.stats.events_without_sender, whole.stats.events_without_sender,
                    "{context}"
                );
                assert_eq!(out.open_queue_files, whole.open_queue_files, "{context}");
            }
        }
    }
}

#[test]
fn split_entry_cut_by_a_block_boundary_is_counted_once() {
    // One line per block: the first part is read on its own, the later parts are rejected.
    let data = fixture("exim/syslog.log");
    let out = ingest(&data, 2, 1);
    assert_eq!(out.stats.total_events(), 3);
    assert_eq!(
        out.stats
            .rejects
            .get("exim syslog part without its first part"),
        Some(&2)
    );
}

#[test]
fn sender_joins_across_files() {
    let data = fixture("exim/lifecycle.log");
    let whole = ingest(&data, 1, 1 << 20);
    // Cut after the Yahoo message's arrival and first deferral: its later lines and the
    // expiring message's lines land in the second file.
    let text = std::str::from_utf8(&data).unwrap();
    let cut = text.find("2025-03-10 09:20:00").unwrap();
    let (first, second) = data.split_at(cut);
    for threads in [1, 3] {
        let split = ingest_all(&[first, second], threads, 512);
        assert_eq!(rendered(&split), rendered(&whole));
        assert_eq!(split.stats.total_events(), whole.stats.total_events());
        assert_eq!(split.open_queue_files, whole.open_queue_files);
    }
}

#[test]
fn rejectlog_given_by_mistake_is_reported() {
    let out = ingest(&fixture("malformed/exim-rejectlog.log"), 1, 1 << 20);
    assert_eq!(out.stats.total_events(), 0);
    assert_eq!(
        out.stats
            .rejects
            .get("exim rejectlog line: not a delivery log"),
        Some(&8)
    );
}

#[test]
fn garbage_never_panics() {
    let mut data = fixture("exim/lifecycle.log");
    data.extend_from_slice(b"2025-03-10 09:00:01 1tAAAA-0001aB-Cd ** ");
    data.extend(std::iter::repeat_n(b'"', 100_000));
    data.extend_from_slice(b"\n2025-03-10 09:00:01 1tAAAA-0001aB-Cd == a@b H=[\n");
    data.extend_from_slice(b"2025-03-10 09:00:01 1tAAAA-0001aB-Cd == a@b H=x (\n");
    data.extend_from_slice(
        b"Mar 10 10:00:01 mx2 exim[1]: [1/2]\nMar 10 10:00:01 mx2 exim[1]: [2/2]\n",
    );
    data.extend((0..=255u8).cycle().take(100_000));
    for block in [64, 4096, 1 << 20] {
        let out = ingest(&data, 2, block);
        assert!(out.stats.total_events() >= 15);
    }
}

mod never_panics {
    use bouncestat::format::exim::{Reassembler, parse_line};
    use bouncestat::format::syslog::TimeContext;
    use proptest::prelude::*;

    fn lines() -> Vec<Vec<u8>> {
        let mut all = Vec::new();
        for name in ["exim/lifecycle.log", "exim/syslog.log"] {
            let data = super::fixture(name);
            all.extend(data.split(|&b| b == b'\n').map(<[u8]>::to_vec));
        }
        all
    }

    proptest! {
        #[test]
        fn on_arbitrary_bytes(line in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut time = TimeContext::utc("2025-12-31T00:00:00Z".parse().unwrap());
            let _ = parse_line(&line, &mut time);
            let _ = Reassembler::new().feed(&line);
        }

        #[test]
        fn on_cut_and_mutated_fixture_lines(
            index in 0usize..56,
            cut in 0usize..600,
            edits in proptest::collection::vec((0usize..600, any::<u8>()), 0..4),
        ) {
            let all = lines();
            let mut line = all[index % all.len()].clone();
            line.truncate(cut);
            for (at, byte) in edits {
                if !line.is_empty() {
                    let at = at % line.len();
                    line[at] = byte;
                }
            }
            let mut time = TimeContext::utc("2025-12-31T00:00:00Z".parse().unwrap());
            let _ = parse_line(&line, &mut time);
            let mut reassembler = Reassembler::new();
            for other in all.iter().take(8) {
                let _ = reassembler.feed(other);
            }
            let _ = reassembler.feed(&line);
            for entry in reassembler.flush() {
                let _ = parse_line(&entry, &mut time);
            }
        }
    }
}
