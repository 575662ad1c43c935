//! Synthetic ESP event exports (SES event publishing, SendGrid Event Webhook) for throughput
//! measurements and pipeline tests.
//!
//! Records look like the providers' documented payloads (SES records carry the `mail` object
//! with headers and tags, which is most of their bytes), with a realistic mix of event types:
//! mostly deliveries and engagement, a few bounces (some to several recipients), delays,
//! complaints and suppressions. [`EspGenStats`] is the ground truth: events by outcome, as
//! `ingest` should count them.

use std::io::{self, Write};

use serde::Serialize;

use super::SplitMix64;

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

const DOMAINS: [&str; 10] = [
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "icloud.com",
    "hotmail.com",
    "example-corp.com",
    "mail.example.net",
    "shop-customers.example",
    "uni.example.edu",
    "web.example.de",
];

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

fn address(rng: &mut SplitMix64, buf: &mut String) {
    use std::fmt::Write as _;
    buf.clear();
    let domain = rng.pick(&DOMAINS);
    let _ = write!(buf, "user{}@{domain}", rng.below(5_000_000));
}

/// Writes an export per `cfg` and returns its ground truth.
///
/// # Errors
/// Whatever writing to `out` returns.
pub fn generate_esp(cfg: &EspConfig, out: &mut dyn Write) -> io::Result<EspGenStats> {
    let mut writer = Writer {
        out,
        buf: Vec::with_capacity(8192),
        stats: EspGenStats::default(),
    };
    let mut rng = SplitMix64::new(cfg.seed);
    let step_us = (1e6 / cfg.rate.max(1e-3)) as i64;
    let mut now = cfg.start.as_microsecond();
    let done = |stats: &EspGenStats| {
        cfg.target_bytes.is_some_and(|b| stats.bytes >= b)
            || cfg.target_records.is_some_and(|r| stats.records >= r)
    };
    while !done(&writer.stats) {
        match cfg.kind {
            EspKind::Ses => {
                ses_record(&mut rng, now, &mut writer)?;
                now += step_us;
            }
            EspKind::Sendgrid => {
                let batch = rng.range(20, 200);
                writer.buf.push(b'[');
                for i in 0..batch {
                    if i > 0 {
                        writer.buf.push(b',');
                    }
                    sendgrid_event(&mut rng, now, &mut writer);
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

fn ses_record(rng: &mut SplitMix64, now: i64, w: &mut Writer<'_>) -> io::Result<()> {
    use std::io::Write as _;
    let sender = *rng.pick(&SENDERS);
    let id = rng.next_u64();
    let recipients = if rng.chance(0.1) { rng.range(2, 5) } else { 1 };
    let mut rcpts = Vec::with_capacity(recipients as usize);
    let mut one = String::new();
    for _ in 0..recipients {
        address(rng, &mut one);
        rcpts.push(one.clone());
    }
    let roll = rng.below(1000);
    let kind = match roll {
        0..=579 => "Delivery",
        580..=699 => "Send",
        700..=759 => "Bounce",
        760..=789 => "DeliveryDelay",
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
            write!(
                buf,
                ",\"delivery\":{{\"timestamp\":\"{at}\",\"processingTimeMillis\":2000,\"recipients\":[{destination}],\"smtpResponse\":\"250 2.0.0 OK 1764237600 a1b2c3 - gsmtp\",\"remoteMtaIp\":\"198.51.100.{}\",\"reportingMTA\":\"a8-1.smtp-out.eu-west-1.amazonses.com\"}}",
                id % 250
            )?;
            e.delivered += recipients;
        }
        "Bounce" => {
            let permanent = rng.chance(0.8);
            let (kind, sub, status, diag) = if permanent {
                if rng.chance(0.1) {
                    (
                        "Permanent",
                        "Suppressed",
                        "5.1.1",
                        "Amazon SES has suppressed sending to this address because it has a recent history of bouncing as an invalid address.",
                    )
                } else {
                    (
                        "Permanent",
                        "General",
                        "5.1.1",
                        "smtp; 550 5.1.1 The email account that you tried to reach does not exist.",
                    )
                }
            } else {
                (
                    "Transient",
                    "MailboxFull",
                    "4.2.2",
                    "smtp; 452 4.2.2 The recipient's inbox is out of storage space.",
                )
            };
            write!(
                buf,
                ",\"bounce\":{{\"feedbackId\":\"0100019{id:x}-feedback\",\"bounceType\":\"{kind}\",\"bounceSubType\":\"{sub}\",\"bouncedRecipients\":["
            )?;
            for (i, r) in rcpts.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write!(
                    buf,
                    "{{\"emailAddress\":\"{r}\",\"action\":\"failed\",\"status\":\"{status}\",\"diagnosticCode\":\"{diag}\"}}"
                )?;
            }
            write!(
                buf,
                "],\"timestamp\":\"{at}\",\"remoteMtaIp\":\"198.51.100.7\",\"reportingMTA\":\"dsn; a8-1.smtp-out.eu-west-1.amazonses.com\"}}"
            )?;
            if sub == "Suppressed" {
                e.suppressed += recipients;
            } else {
                e.bounced += recipients;
            }
        }
        "DeliveryDelay" => {
            write!(
                buf,
                ",\"deliveryDelay\":{{\"timestamp\":\"{at}\",\"delayType\":\"TransientCommunicationFailure\",\"expirationTime\":\"{at}\",\"delayedRecipients\":["
            )?;
            for (i, r) in rcpts.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                write!(
                    buf,
                    "{{\"emailAddress\":\"{r}\",\"status\":\"4.4.1\",\"diagnosticCode\":\"smtp; 421 4.4.1 Unable to connect to remote host\"}}"
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

fn sendgrid_event(rng: &mut SplitMix64, now: i64, w: &mut Writer<'_>) {
    use std::io::Write as _;
    let mut email = String::new();
    address(rng, &mut email);
    let id = rng.next_u64();
    let seconds = now.div_euclid(1_000_000);
    let roll = rng.below(1000);
    let event = match roll {
        0..=299 => "processed",
        300..=619 => "delivered",
        620..=669 => "deferred",
        670..=709 => "bounce",
        710..=729 => "dropped",
        730..=734 => "spamreport",
        735..=899 => "open",
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
                ",\"response\":\"250 2.0.0 OK  {seconds} a1si{id:x} - gsmtp\",\"tls\":1,\"ip\":\"149.72.1.1\""
            );
            e.delivered += 1;
        }
        "deferred" => {
            let _ = write!(
                buf,
                ",\"response\":\"421 4.7.0 [TSS04] Messages temporarily deferred due to unexpected volume\",\"attempt\":\"{}\"",
                id % 5 + 1
            );
            e.deferred += 1;
        }
        "bounce" => {
            if rng.chance(0.3) {
                buf.extend_from_slice(b",\"type\":\"blocked\",\"bounce_classification\":\"Reputation\",\"reason\":\"550 5.7.1 Our system has detected an unusual rate of unsolicited mail\"");
            } else {
                buf.extend_from_slice(b",\"type\":\"bounce\",\"bounce_classification\":\"Invalid Address\",\"status\":\"5.1.1\",\"reason\":\"550 5.1.1 The email account that you tried to reach does not exist.\"");
            }
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
    use crate::pipeline::{Config, run_in_memory};

    fn roundtrip(kind: EspKind, format: Format) {
        let cfg = EspConfig {
            kind,
            seed: 7,
            target_bytes: None,
            target_records: Some(3000),
            start: "2026-11-27T00:00:00Z".parse().unwrap(),
            rate: 50.0,
        };
        let mut data = Vec::new();
        let truth = generate_esp(&cfg, &mut data).unwrap();
        assert_eq!(truth.bytes, data.len() as u64);
        assert_eq!(Format::detect(&data), Some(format));
        let time = TimeContext::utc(cfg.start);
        let out = run_in_memory(&[(&data, time)], &Config::default(), &Classifier::new());
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
}
