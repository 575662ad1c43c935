//! ESP exports through the whole pipeline: hand-written fixtures for each provider and each
//! shape (JSON array, JSON lines, concatenated values, SNS envelope, API pages, gzip), with the
//! expected outcome counts, categories, provider verdicts and sender domains.
//!
//! Categories of records with reply text come from the classifier (`Classifier::classify`);
//! when its rules change, the text-classified lines below change with it. Categories of records
//! without text come from the provider verdict tables in `format::esp::verdict`.

use std::collections::BTreeMap;
use std::io::Read;

use bouncestat::aggregate::CubeRow;
use bouncestat::classify::Classifier;
use bouncestat::event::Outcome;
use bouncestat::format::Format;
use bouncestat::format::syslog::TimeContext;
use bouncestat::pipeline::{Config, Output, run_in_memory};

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    let bytes = std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"));
    if path.ends_with(".gz") {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut plain)
            .unwrap();
        return plain;
    }
    bytes
}

fn ingest(data: &[u8]) -> Output {
    let time = TimeContext::utc("2026-11-28T00:00:00Z".parse().unwrap());
    let config = Config {
        threads: 2,
        block_bytes: 4096,
        ..Config::default()
    };
    run_in_memory(&[(data, time)], &config, &Classifier::new())
}

/// Counts per outcome, in `Outcome::ALL` order.
fn outcomes(output: &Output) -> [i64; 6] {
    Outcome::ALL.map(|o| output.aggregate.total(o))
}

/// `recipient_domain outcome category esp_type/esp_subtype sender_domain -> count`, one line
/// per cube cell: the golden view of a fixture.
fn cells(output: &Output) -> BTreeMap<String, i64> {
    let mut cells = BTreeMap::new();
    for row in output.aggregate.rows().unwrap() {
        *cells.entry(cell(&row)).or_insert(0) += row.count;
    }
    cells
}

fn cell(row: &CubeRow<'_>) -> String {
    format!(
        "{} {} {} {} {}/{} {} {}",
        row.source,
        row.recipient_domain,
        row.outcome,
        row.category,
        row.esp_type.unwrap_or("-"),
        row.esp_subtype.unwrap_or("-"),
        row.sender_domain.unwrap_or("-"),
        row.reply_code.map_or("-".to_string(), |c| c.to_string()),
    )
}

fn check(output: &Output, expected: &[(&str, i64)]) {
    let got = cells(output);
    let want: BTreeMap<String, i64> = expected.iter().map(|&(k, v)| (k.to_string(), v)).collect();
    assert_eq!(
        got,
        want,
        "got:\n{}",
        got.iter()
            .map(|(k, v)| format!("            (\"{k}\", {v}),"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

fn detected(data: &[u8]) -> Option<Format> {
    Format::detect(&data[..data.len().min(64 * 1024)])
}

#[test]
fn ses_event_publishing_jsonl() {
    let data = fixture("esp/ses/events.jsonl");
    assert_eq!(detected(&data), Some(Format::Ses));
    let out = ingest(&data);
    assert_eq!(out.stats.lines, 11, "records");
    assert_eq!(out.stats.rejected_lines(), 0, "{:?}", out.stats.samples);
    // delivered, deferred, bounced, expired, complained, suppressed
    assert_eq!(outcomes(&out), [2, 1, 4, 0, 1, 2]);
    check(
        &out,
        &[
            (
                "ses contoso-mail.example bounced blocklisted Permanent/General shop.example 554",
                1,
            ),
            (
                "ses gmail.com bounced user_unknown Permanent/General shop.example 550",
                1,
            ),
            (
                "ses gmail.com suppressed user_unknown Permanent/Suppressed shop.example -",
                1,
            ),
            (
                "ses outlook.com delivered delivered -/- shop.example 250",
                1,
            ),
            (
                "ses outlook.com suppressed virus_content Reject/Bad content shop.example -",
                1,
            ),
            (
                "ses shop-customers.example bounced user_unknown Permanent/NoEmail shop.example -",
                1,
            ),
            (
                "ses shop-customers.example deferred network_error DeliveryDelay/TransientCommunicationFailure shop.example 421",
                1,
            ),
            (
                "ses shop-customers.example delivered delivered -/- shop.example 250",
                1,
            ),
            (
                "ses yahoo.com bounced mailbox_full Transient/MailboxFull shop.example -",
                1,
            ),
            (
                "ses yahoo.com complained delivered Complaint/abuse shop.example -",
                1,
            ),
        ],
    );
}

#[test]
fn ses_sns_envelopes_with_a_multi_recipient_bounce() {
    let data = fixture("esp/ses/sns-envelopes.json");
    assert_eq!(detected(&data), Some(Format::Ses));
    let out = ingest(&data);
    assert_eq!(out.stats.lines, 3, "records");
    assert_eq!(out.stats.rejected_lines(), 0, "{:?}", out.stats.samples);
    assert_eq!(outcomes(&out), [1, 0, 3, 0, 0, 0]);
    let rows = out.aggregate.rows().unwrap();
    assert!(
        rows.iter()
            .all(|r| r.sender_domain == Some("app.shop.example"))
    );
    assert!(
        rows.iter()
            .all(|r| r.mta_host == "ses" && r.source == "ses")
    );
    let apple = rows.iter().find(|r| r.outcome == "delivered").unwrap();
    assert_eq!(apple.provider, "apple");
}

#[test]
fn ses_gzipped_json_array() {
    let data = fixture("esp/ses/array.json.gz");
    assert_eq!(detected(&data), Some(Format::Ses));
    let out = ingest(&data);
    assert_eq!(out.stats.lines, 2, "records");
    assert_eq!(outcomes(&out), [3, 0, 1, 0, 0, 0]);
}

#[test]
fn sendgrid_batch_array() {
    let data = fixture("esp/sendgrid/batch.json");
    assert_eq!(detected(&data), Some(Format::Sendgrid));
    let out = ingest(&data);
    assert_eq!(out.stats.lines, 10, "records");
    assert_eq!(out.stats.rejected_lines(), 0, "{:?}", out.stats.samples);
    assert_eq!(outcomes(&out), [1, 1, 3, 0, 1, 1]);
    assert_eq!(
        out.stats.events_without_sender, 7,
        "SendGrid events name no sender"
    );
    check(
        &out,
        &[
            (
                "sendgrid gmail.com bounced user_unknown bounce/Invalid Address - 550",
                1,
            ),
            ("sendgrid gmail.com delivered delivered -/- - 250", 1),
            (
                "sendgrid gmail.com suppressed user_unknown dropped/Bounced Address - -",
                1,
            ),
            (
                "sendgrid hotmail.com complained delivered spamreport/- - -",
                1,
            ),
            (
                "sendgrid outlook.com deferred bad_reputation deferred/- - 451",
                1,
            ),
            (
                "sendgrid shop-customers.example bounced bad_reputation blocked/Reputation - -",
                1,
            ),
            (
                "sendgrid yahoo.com bounced policy_rejected blocked/- - 550",
                1,
            ),
        ],
    );
}

#[test]
fn sendgrid_json_lines() {
    let data = fixture("esp/sendgrid/events.jsonl");
    assert_eq!(detected(&data), Some(Format::Sendgrid));
    let out = ingest(&data);
    assert_eq!(out.stats.lines, 5);
    assert_eq!(outcomes(&out), [2, 1, 0, 0, 0, 1]);
}

#[test]
fn mailgun_webhooks_and_events_page() {
    let data = fixture("esp/mailgun/webhooks.jsonl");
    assert_eq!(detected(&data), Some(Format::Mailgun));
    let out = ingest(&data);
    assert_eq!(out.stats.rejected_lines(), 0, "{:?}", out.stats.samples);
    assert_eq!(outcomes(&out), [1, 2, 1, 0, 1, 1]);
    check(
        &out,
        &[
            (
                "mailgun gmail.com bounced user_unknown permanent/bounce mg.shop.example 550",
                1,
            ),
            (
                "mailgun gmail.com complained delivered complained/- shop.example -",
                1,
            ),
            (
                "mailgun gmail.com delivered delivered -/- mg.shop.example 250",
                1,
            ),
            (
                "mailgun gmail.com suppressed user_unknown permanent/suppress-bounce mg.shop.example -",
                1,
            ),
            (
                "mailgun outlook.com deferred rate_limited temporary/generic mg.shop.example 451",
                1,
            ),
            (
                "mailgun shop-customers.example deferred greylisted temporary/greylisted shop.example 450",
                1,
            ),
        ],
    );
    let providers: Vec<_> = out
        .aggregate
        .rows()
        .unwrap()
        .iter()
        .map(|r| r.provider)
        .collect();
    assert!(
        providers.contains(&"microsoft"),
        "mx-host names the provider"
    );

    let page = ingest(&fixture("esp/mailgun/events-page.json"));
    assert_eq!(page.stats.lines, 1, "one page is one record");
    assert_eq!(outcomes(&page), [1, 0, 0, 1, 0, 0]);
    let expired = page
        .aggregate
        .rows()
        .unwrap()
        .into_iter()
        .find(|r| r.outcome == "expired")
        .unwrap();
    assert_eq!(expired.category, "expired");
    assert_eq!(expired.esp_subtype, Some("old"));
}

#[test]
fn postmark_concatenated_webhooks_and_bounce_export() {
    let data = fixture("esp/postmark/webhooks.json");
    assert_eq!(detected(&data), Some(Format::Postmark));
    let out = ingest(&data);
    assert_eq!(out.stats.lines, 5, "concatenated pretty-printed objects");
    assert_eq!(out.stats.rejected_lines(), 0, "{:?}", out.stats.samples);
    assert_eq!(
        outcomes(&out),
        [1, 0, 1, 0, 1, 0],
        "the auto-responder is no bounce"
    );
    check(
        &out,
        &[
            (
                "postmark gmail.com bounced user_unknown HardBounce/- billing.shop.example 550",
                1,
            ),
            ("postmark outlook.com delivered delivered -/- - -", 1),
            (
                "postmark yahoo.com complained delivered SpamComplaint/- billing.shop.example -",
                1,
            ),
        ],
    );

    let export = ingest(&fixture("esp/postmark/bounces-export.json"));
    assert_eq!(export.stats.rejected_lines(), 0);
    // SoftBounce and Blocked bounce, Transient defers, ManuallyDeactivated is suppressed;
    // Subscribe and SpamNotification are not bounces.
    assert_eq!(outcomes(&export), [0, 1, 2, 0, 0, 1]);
    check(
        &export,
        &[
            (
                "postmark gmail.com suppressed unclassified ManuallyDeactivated/- billing.shop.example -",
                1,
            ),
            (
                "postmark icloud.com bounced mailbox_full SoftBounce/- billing.shop.example 552",
                1,
            ),
            (
                "postmark outlook.com bounced policy_rejected Blocked/- billing.shop.example 550",
                1,
            ),
            (
                "postmark shop-customers.example deferred unclassified Transient/- billing.shop.example -",
                1,
            ),
        ],
    );
}

#[test]
fn sparkpost_batch_with_pings() {
    let data = fixture("esp/sparkpost/batch.json");
    assert_eq!(detected(&data), Some(Format::Sparkpost));
    let out = ingest(&data);
    assert_eq!(out.stats.lines, 12, "records, pings included");
    assert_eq!(out.stats.rejected_lines(), 0, "{:?}", out.stats.samples);
    assert_eq!(outcomes(&out), [1, 1, 3, 0, 1, 1]);
    check(
        &out,
        &[
            (
                "sparkpost gmail.com bounced user_unknown bounce/10 sp.shop.example 550",
                1,
            ),
            (
                "sparkpost gmail.com complained delivered spam_complaint/- sp.shop.example -",
                1,
            ),
            (
                "sparkpost gmail.com delivered delivered -/- sp.shop.example -",
                1,
            ),
            (
                "sparkpost shop-customers.example bounced blocklisted out_of_band/51 sp.shop.example 554",
                1,
            ),
            (
                "sparkpost shop-customers.example bounced policy_rejected bounce/50 sp.shop.example -",
                1,
            ),
            (
                "sparkpost shop-customers.example suppressed unclassified policy_rejection/- sp.shop.example 554",
                1,
            ),
            (
                "sparkpost yahoo.com deferred mailbox_full delay/22 sp.shop.example 452",
                1,
            ),
        ],
    );
}

#[test]
fn malformed_records_are_reported_with_their_number_and_the_rest_is_read() {
    let data = fixture("malformed/sendgrid-broken.jsonl");
    let out = ingest(&data);
    assert_eq!(outcomes(&out), [1, 1, 1, 0, 0, 0]);
    let samples: Vec<(&str, u64)> = out
        .stats
        .samples
        .iter()
        .map(|s| (s.reason, s.line_number))
        .collect();
    assert_eq!(
        samples,
        [
            ("malformed JSON record", 2),
            ("malformed JSON record", 4),
            ("ESP event without a readable timestamp", 5),
        ]
    );
    assert_eq!(out.stats.lines, 6);
}

#[test]
fn esp_results_do_not_depend_on_threads_or_input_order() {
    let a = fixture("esp/ses/events.jsonl");
    let b = fixture("esp/sparkpost/batch.json");
    let time = || TimeContext::utc("2026-11-28T00:00:00Z".parse().unwrap());
    let run = |inputs: &[(&[u8], TimeContext)], threads| {
        let config = Config {
            threads,
            block_bytes: 1024,
            ..Config::default()
        };
        let out = run_in_memory(inputs, &config, &Classifier::new());
        cells(&out)
    };
    let one = run(&[(&a, time()), (&b, time())], 1);
    let two = run(&[(&b, time()), (&a, time())], 2);
    assert_eq!(one, two);
}
