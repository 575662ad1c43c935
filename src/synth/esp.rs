//! Synthetic ESP event exports (SES event publishing, SendGrid Event Webhook) for throughput
//! measurements and pipeline tests.
//!
//! Records look like the providers' documented payloads (SES records carry the `mail` object
//! with headers and tags, which is most of their bytes), with a realistic mix of event types:
//! mostly deliveries and engagement; of the delivery outcomes about 85% delivered, 8% delayed
//! and 5% bounced (some to several recipients), as in the mail-server generators; a few
//! complaints and suppressions. Recipients are drawn from the Exim generator's providers and
//! domains (Gmail, Google Workspace, Microsoft's consumer and 365 domains, Yahoo, Apple, small
//! domains), and each delay or bounce carries one of that provider's replies, so the
//! classifier sees the variety of a real export. [`EspGenStats`] is the ground truth: events
//! by outcome, as `ingest` should count them.

use std::io::{self, Write};

use serde::Serialize;

use super::SplitMix64;
use super::exim::{self, Domain, Reply};
use crate::event::EnhancedCode;
use crate::format::postfix;

/// Which provider's export to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EspKind {
    /// SES event publishing records, one JSON object per line.
    Ses,
    /// SendGrid webhook POST bodies: a JSON array of events per line.
    Sendgrid,
}

/// Settings of one generated export.
#[derive(Debug, Clone)]
pub struct EspConfig {
    pub kind: EspKind,
    pub seed: u64,
    /// Stop once this many bytes were written (checked after each record or batch).
    pub target_bytes: Option<u64>,
    /// Stop after this many records (SES records; SendGrid events).
    pub target_records: Option<u64>,
    /// Time of the first record.
    pub start: jiff::Timestamp,
    /// Records per second.
    pub rate: f64,
}

/// Events by outcome, as the pipeline counts them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EspOutcomes {
    pub delivered: u64,
    pub deferred: u64,
    pub bounced: u64,
    pub complained: u64,
    pub suppressed: u64,
}

/// The ground truth of one generated export.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct EspGenStats {
    /// Lines and bytes written (before compression).
    pub lines: u64,
    pub bytes: u64,
    /// Records as the pipeline numbers them (array elements and top-level values).
    pub records: u64,
    /// Records that carry no delivery outcome (send, processed, open, click...).
    pub skipped_records: u64,
    pub events: EspOutcomes,
}

/// Small domains among the recipients' (besides the big providers' own).
const SMALL_DOMAINS: u32 = 2000;

const SENDERS: [&str; 3] = [
    "news@shop.example",
    "billing@shop.example",
    "alerts@app.example",
];

struct Writer<'w> {
    out: &'w mut dyn Write,
    buf: Vec<u8>,
    stats: EspGenStats,
}

impl Writer<'_> {
    fn line(&mut self) -> io::Result<()> {
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)?;
        self.stats.lines += 1;
        self.stats.bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

fn rfc3339(us: i64) -> String {
    let (y, mo, d, h, mi, s) = super::civil(us.div_euclid(1_000_000));
    let ms = us.rem_euclid(1_000_000) / 1000;
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
}

/// Draws a recipient into `buf` and returns its domain.
fn address<'d>(rng: &mut SplitMix64, domains: &'d [Vec<Domain>], buf: &mut String) -> &'d Domain {
    let (s, d) = exim::pick_domain(rng, domains);
    let domain = &domains[s][d];
    buf.clear();
    buf.push_str(&exim::local_part(rng));
    buf.push('@');
    buf.push_str(&domain.name);
    domain
}

/// One of the replies of `domain`'s provider: a temporary failure, a permanent one, or an
/// acceptance.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Temporary,
    Permanent,
    Accepted,
}

fn reply(rng: &mut SplitMix64, domain: &Domain, answer: Answer) -> &'static str {
    let (temporary, permanent, accepted) = exim::replies(domain.segment);
    let pick = |rng: &mut SplitMix64, replies: &'static [Reply]| rng.pick(replies).text;
    match answer {
        Answer::Temporary => pick(rng, temporary),
        Answer::Permanent => pick(rng, permanent),
        Answer::Accepted => rng.pick::<&str>(accepted),
    }
}

/// The enhanced status code of a reply (`550-5.1.1 The mailbox...` -> `5.1.1`), read as the
/// Postfix parser reads one, or `fallback` when it has none.
fn status_of(reply: &str, fallback: EnhancedCode) -> EnhancedCode {
    let reply = reply.as_bytes();
    postfix::reply_code_of(reply)
        .and_then(|_| postfix::enhanced_code_after_reply_code(&reply[3..]))
        .unwrap_or(fallback)
}

const UNSPECIFIED_PERMANENT: EnhancedCode = EnhancedCode::new(5, 0, 0);
const UNSPECIFIED_TEMPORARY: EnhancedCode = EnhancedCode::new(4, 0, 0);

/// The remote MTA's address for `domain`.
fn remote_ip(domain: &Domain, last: u64) -> String {
    let mut buf = Vec::new();
    exim::push_ip(&mut buf, domain.ip_prefix, last);
    String::from_utf8(buf).expect("digits and dots")
}

/// Writes an export per `cfg` and returns its ground truth.
///
/// # Errors
/// Whatever writing to `out` returns.
pub fn generate_esp(cfg: &EspConfig, out: &mut dyn Write) -> io::Result<EspGenStats> {
    let mut rng = SplitMix64::new(cfg.seed);
    let domains = exim::domains(&mut rng, SMALL_DOMAINS);
    let mut writer = Writer {
        out,
        buf: Vec::with_capacity(8192),
        stats: EspGenStats::default(),
    };
    let step_us = (1e6 / cfg.rate.max(1e-3)) as i64;
    let mut now = cfg.start.as_microsecond();
    let done = |stats: &EspGenStats| {
        cfg.target_bytes.is_some_and(|b| stats.bytes >= b)
            || cfg.target_records.is_some_and(|r| stats.records >= r)
    };
    while !done(&writer.stats) {
        match cfg.kind {
            EspKind::Ses => {
                ses_record(&mut rng, &domains, now, &mut writer)?;
                now += step_us;
            }
            EspKind::Sendgrid => {
                let batch = rng.range(20, 200);
                writer.buf.push(b'[');
                for i in 0..batch {
                    if i > 0 {
                        writer.buf.push(b',');
                    }
                    sendgrid_event(&mut rng, &domains, now, &mut writer);
                    now += step_us;
                    if cfg
                        .target_records
                        .is_some_and(|r| writer.stats.records >= r)
                    {
                        break;
                    }
                }
                writer.buf.push(b']');
                writer.line()?;
            }
        }
    }
    writer.out.flush()?;
    Ok(writer.stats)
}

fn ses_record(
    rng: &mut SplitMix64,
    domains: &[Vec<Domain>],
    now: i64,
    w: &mut Writer<'_>,
) -> io::Result<()> {
    use std::io::Write as _;
    let sender = *rng.pick(&SENDERS);
    let id = rng.next_u64();
    let recipients = if rng.chance(0.1) { rng.range(2, 5) } else { 1 };
    let mut rcpts = Vec::with_capacity(recipients as usize);
    let mut rcpt_domains = Vec::with_capacity(recipients as usize);
    let mut one = String::new();
    for _ in 0..recipients {
        rcpt_domains.push(address(rng, domains, &mut one));
        rcpts.push(one.clone());
    }
    // Delivery, delay and bounce records near 85:8:5 (a bounce record's recipients are
    // bounced, but for one in ten of its permanent ones, which SES suppressed).
    let roll = rng.below(1000);
    let kind = match roll {
        0..=579 => "Delivery",
        580..=699 => "Send",
        700..=736 => "Bounce",
        737..=789 => "DeliveryDelay",
        790..=799 => "Complaint",
        800..=809 => "Reject",
        810..=939 => "Open",
        _ => "Click",
    };
    w.stats.records += 1;
    let sent = rfc3339(now - 2_000_000);
    let at = rfc3339(now);
    let destination = rcpts
        .iter()
        .map(|r| format!("\"{r}\""))
        .collect::<Vec<_>>()
        .join(",");
    let buf = &mut w.buf;
    write!(
        buf,
        "{{\"eventType\":\"{kind}\",\"mail\":{{\"timestamp\":\"{sent}\",\"source\":\"Shop <{sender}>\",\"sourceArn\":\"arn:aws:ses:eu-west-1:111122223333:identity/shop.example\",\"sendingAccountId\":\"111122223333\",\"messageId\":\"0102019{id:016x}-8c1d2e3f-0000-4000-8000-{id:012x}-000000\",\"destination\":[{destination}],\"headersTruncated\":false,\"headers\":[{{\"name\":\"From\",\"value\":\"Shop <{sender}>\"}},{{\"name\":\"To\",\"value\":\"{first}\"}},{{\"name\":\"Subject\",\"value\":\"Your weekly digest #{n}\"}},{{\"name\":\"MIME-Version\",\"value\":\"1.0\"}},{{\"name\":\"Content-Type\",\"value\":\"multipart/alternative; boundary=\\\"----=_Part_{id}\\\"\"}}],\"commonHeaders\":{{\"from\":[\"Shop <{sender}>\"],\"to\":[\"{first}\"],\"messageId\":\"0102019{id:016x}\",\"subject\":\"Your weekly digest #{n}\"}},\"tags\":{{\"ses:configuration-set\":[\"marketing\"],\"ses:source-ip\":[\"192.0.2.10\"],\"ses:from-domain\":[\"shop.example\"],\"ses:caller-identity\":[\"mailer\"]}}}}",
        first = rcpts[0],
        n = id % 1000
    )?;
    let e = &mut w.stats.events;
    match kind {
        "Delivery" => {
            let first = rcpt_domains[0];
            write!(
                buf,
                ",\"delivery\":{{\"timestamp\":\"{at}\",\"processingTimeMillis\":2000,\"recipients\":[{destination}],\"smtpResponse\":\"{}\",\"remoteMtaIp\":\"{}\",\"reportingMTA\":\"a8-1.smtp-out.eu-west-1.amazonses.com\"}}",
                reply(rng, first, Answer::Accepted),
                remote_ip(first, 10 + id % 20),
            )?;
            e.delivered += recipients;
        }
        "Bounce" => {
            // Permanent (four in five), of which SES suppressed one in ten without sending;
            // otherwise a soft bounce SES gave up retrying. Each recipient has its
            // provider's reply.
            let permanent = rng.chance(0.8);
            let suppressed = permanent && rng.chance(0.1);
            let (answer, fallback) = if permanent {
                (Answer::Permanent, UNSPECIFIED_PERMANENT)
            } else {
                (Answer::Temporary, UNSPECIFIED_TEMPORARY)
            };
            let answers: Vec<&str> = rcpt_domains
                .iter()
                .map(|&domain| reply(rng, domain, answer))
                .collect();
            let (kind, sub) = match (permanent, suppressed) {
                (true, true) => ("Permanent", "Suppressed"),
                (true, false) => ("Permanent", "General"),
                // SES names a full mailbox; other soft bounces are general.
                (false, _)
                    if matches!(
                        status_of(answers[0], UNSPECIFIED_TEMPORARY),
                        EnhancedCode {
                            subject: 2,
                            detail: 2,
                            ..
                        }
                    ) =>
                {
                    ("Transient", "MailboxFull")
                }
                (false, _) => ("Transient", "General"),
            };
            write!(
                buf,
                ",\"bounce\":{{\"feedbackId\":\"0100019{id:x}-feedback\",\"bounceType\":\"{kind}\",\"bounceSubType\":\"{sub}\",\"bouncedRecipients\":["
            )?;
            for (i, (r, answer)) in rcpts.iter().zip(&answers).enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                if suppressed {
                    write!(
                        buf,
                        "{{\"emailAddress\":\"{r}\",\"action\":\"failed\",\"status\":\"5.1.1\",\"diagnosticCode\":\"Amazon SES has suppressed sending to this address because it has a recent history of bouncing as an invalid address.\"}}"
                    )?;
                } else {
                    write!(
                        buf,
                        "{{\"emailAddress\":\"{r}\",\"action\":\"failed\",\"status\":\"{}\",\"diagnosticCode\":\"smtp; {answer}\"}}",
                        status_of(answer, fallback)
                    )?;
                }
            }
            write!(
                buf,
                "],\"timestamp\":\"{at}\",\"remoteMtaIp\":\"{}\",\"reportingMTA\":\"dsn; a8-1.smtp-out.eu-west-1.amazonses.com\"}}",
                remote_ip(rcpt_domains[0], 10 + id % 20),
            )?;
            if suppressed {
                e.suppressed += recipients;
            } else {
                e.bounced += recipients;
            }
        }
        "DeliveryDelay" => {
            write!(
                buf,
                ",\"deliveryDelay\":{{\"timestamp\":\"{at}\",\"delayType\":\"RecipientServerError\",\"expirationTime\":\"{at}\",\"delayedRecipients\":["
            )?;
            for (i, (r, &domain)) in rcpts.iter().zip(&rcpt_domains).enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                let answer = reply(rng, domain, Answer::Temporary);
                write!(
                    buf,
                    "{{\"emailAddress\":\"{r}\",\"status\":\"{}\",\"diagnosticCode\":\"smtp; {answer}\"}}",
                    status_of(answer, UNSPECIFIED_TEMPORARY)
                )?;
            }
            buf.extend_from_slice(b"]}");
            e.deferred += recipients;
        }
        "Complaint" => {
            write!(
                buf,
                ",\"complaint\":{{\"complainedRecipients\":[{{\"emailAddress\":\"{}\"}}],\"timestamp\":\"{at}\",\"feedbackId\":\"0100019{id:x}-c\",\"complaintFeedbackType\":\"abuse\"}}",
                rcpts[0]
            )?;
            e.complained += 1;
        }
        "Reject" => {
            buf.extend_from_slice(b",\"reject\":{\"reason\":\"Bad content\"}");
            e.suppressed += recipients;
        }
        "Send" => {
            buf.extend_from_slice(b",\"send\":{}");
            w.stats.skipped_records += 1;
        }
        _ => {
            write!(
                buf,
                ",\"{}\":{{\"ipAddress\":\"203.0.113.5\",\"timestamp\":\"{at}\",\"userAgent\":\"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)\"}}",
                kind.to_ascii_lowercase()
            )?;
            w.stats.skipped_records += 1;
        }
    }
    buf.push(b'}');
    w.line()
}

fn sendgrid_event(rng: &mut SplitMix64, domains: &[Vec<Domain>], now: i64, w: &mut Writer<'_>) {
    use std::io::Write as _;
    let mut email = String::new();
    let domain = address(rng, domains, &mut email);
    let id = rng.next_u64();
    let seconds = now.div_euclid(1_000_000);
    // Delivered, deferred and bounce events near 85:8:5.
    let roll = rng.below(1000);
    let event = match roll {
        0..=299 => "processed",
        300..=619 => "delivered",
        620..=649 => "deferred",
        650..=668 => "bounce",
        669..=688 => "dropped",
        689..=693 => "spamreport",
        694..=899 => "open",
        _ => "click",
    };
    w.stats.records += 1;
    let buf = &mut w.buf;
    let _ = write!(
        buf,
        "{{\"email\":\"{email}\",\"timestamp\":{seconds},\"smtp-id\":\"<{id:x}@ismtpd0001p1lon1.sendgrid.net>\",\"event\":\"{event}\",\"category\":[\"newsletter\"],\"sg_event_id\":\"{id:022x}\",\"sg_message_id\":\"{id:x}.filterdrecv-5bb6c6d9b4-abcde-1-6569F2A1-2B.0\""
    );
    let e = &mut w.stats.events;
    match event {
        "delivered" => {
            let _ = write!(
                buf,
                ",\"response\":\"{}\",\"tls\":1,\"ip\":\"149.72.1.1\"",
                reply(rng, domain, Answer::Accepted)
            );
            e.delivered += 1;
        }
        "deferred" => {
            let _ = write!(
                buf,
                ",\"response\":\"{}\",\"attempt\":\"{}\"",
                reply(rng, domain, Answer::Temporary),
                id % 5 + 1
            );
            e.deferred += 1;
        }
        "bounce" => {
            // SendGrid's own grouping of the reason: blocks aimed at the sender are
            // `blocked`, the rest `bounce`.
            let answer = reply(rng, domain, Answer::Permanent);
            let status = status_of(answer, UNSPECIFIED_PERMANENT);
            let (kind, class) = match status.subject {
                7 => ("blocked", "Reputation"),
                1 => ("bounce", "Invalid Address"),
                2 => ("bounce", "Mailbox Unavailable"),
                _ => ("bounce", "Technical"),
            };
            let _ = write!(
                buf,
                ",\"type\":\"{kind}\",\"bounce_classification\":\"{class}\",\"status\":\"{status}\",\"reason\":\"{answer}\""
            );
            e.bounced += 1;
        }
        "dropped" => {
            buf.extend_from_slice(b",\"reason\":\"Bounced Address\",\"status\":\"5.0.0\"");
            e.suppressed += 1;
        }
        "spamreport" => e.complained += 1,
        "open" => {
            buf.extend_from_slice(b",\"useragent\":\"Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)\",\"ip\":\"203.0.113.9\",\"sg_machine_open\":false");
            w.stats.skipped_records += 1;
        }
        "click" => {
            buf.extend_from_slice(b",\"useragent\":\"Mozilla/5.0\",\"ip\":\"203.0.113.9\",\"url\":\"https://shop.example/deals?utm_source=newsletter\",\"url_offset\":{\"index\":0,\"type\":\"html\"}");
            w.stats.skipped_records += 1;
        }
        _ => w.stats.skipped_records += 1,
    }
    buf.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::Classifier;
    use crate::event::Outcome;
    use crate::format::Format;
    use crate::format::syslog::TimeContext;
    use crate::pipeline::{Config, Output, run_in_memory};

    /// An export of `records` records and what ingest makes of it.
    fn export_and_ingest(kind: EspKind, seed: u64, records: u64) -> (Vec<u8>, EspGenStats, Output) {
        let cfg = EspConfig {
            kind,
            seed,
            target_bytes: None,
            target_records: Some(records),
            start: "2026-11-27T00:00:00Z".parse().unwrap(),
            rate: 50.0,
        };
        let mut data = Vec::new();
        let truth = generate_esp(&cfg, &mut data).unwrap();
        let time = TimeContext::utc(cfg.start);
        let out = run_in_memory(&[(&data, time)], &Config::default(), &Classifier::new());
        (data, truth, out)
    }

    fn roundtrip(kind: EspKind, format: Format) {
        let (data, truth, out) = export_and_ingest(kind, 7, 3000);
        assert_eq!(truth.bytes, data.len() as u64);
        assert_eq!(Format::detect(&data), Some(format));
        assert_eq!(out.stats.rejected_lines(), 0, "{:?}", out.stats.samples);
        assert_eq!(out.stats.lines, truth.records);
        let got = |o| out.aggregate.total(o) as u64;
        let e = truth.events;
        assert_eq!(
            [
                got(Outcome::Delivered),
                got(Outcome::Deferred),
                got(Outcome::Bounced),
                got(Outcome::Complained),
                got(Outcome::Suppressed)
            ],
            [
                e.delivered,
                e.deferred,
                e.bounced,
                e.complained,
                e.suppressed
            ]
        );
        assert!(e.bounced > 0 && e.complained > 0 && e.suppressed > 0);
    }

    #[test]
    fn ses_ground_truth_matches_ingest() {
        roundtrip(EspKind::Ses, Format::Ses);
    }

    #[test]
    fn sendgrid_ground_truth_matches_ingest() {
        roundtrip(EspKind::Sendgrid, Format::Sendgrid);
    }

    /// Of the delivery outcomes, about 85% delivered, 8% deferred and 5% bounced, as in the
    /// mail-server generators; the failures, drawn from the providers' replies, fall in many
    /// categories and providers, not one.
    fn mix(kind: EspKind) {
        let (_, truth, out) = export_and_ingest(kind, 42, 40_000);
        let e = truth.events;
        let outcomes = (e.delivered + e.deferred + e.bounced) as f64;
        let shares = [e.delivered, e.deferred, e.bounced].map(|n| n as f64 / outcomes);
        assert!((0.82..0.89).contains(&shares[0]), "{shares:?}");
        assert!((0.065..0.10).contains(&shares[1]), "{shares:?}");
        assert!((0.04..0.07).contains(&shares[2]), "{shares:?}");
        let rows = out.aggregate.rows().unwrap();
        let failed = rows
            .iter()
            .filter(|r| r.outcome == "deferred" || r.outcome == "bounced");
        let categories: std::collections::BTreeSet<_> =
            failed.clone().map(|r| r.category).collect();
        let providers: std::collections::BTreeSet<_> = failed.map(|r| r.provider).collect();
        assert!(categories.len() >= 10, "{categories:?}");
        assert!(providers.len() >= 5, "{providers:?}");
    }

    #[test]
    fn ses_mix_and_replies() {
        mix(EspKind::Ses);
    }

    #[test]
    fn sendgrid_mix_and_replies() {
        mix(EspKind::Sendgrid);
    }
}
