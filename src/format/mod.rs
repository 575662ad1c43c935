//! Format parsers: one per source. A parser turns a line (or record) into zero or more
//! [`crate::event::Event`]s borrowing from it.

pub mod cri;
pub mod esp;
pub mod exim;
pub mod json_line;
mod mask;
pub mod postfix;
pub mod syslog;

use memchr::memmem;

use crate::event::{EnhancedCode, Outcome, Source, Stage};
use syslog::TimeContext;

/// A log format, detected per file or forced with `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Postfix,
    Exim,
    Ses,
    Sendgrid,
    Mailgun,
    Postmark,
    Sparkpost,
}

impl Format {
    pub const ALL: [Format; 7] = [
        Format::Postfix,
        Format::Exim,
        Format::Ses,
        Format::Sendgrid,
        Format::Mailgun,
        Format::Postmark,
        Format::Sparkpost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Postfix => "postfix",
            Format::Exim => "exim",
            Format::Ses => "ses",
            Format::Sendgrid => "sendgrid",
            Format::Mailgun => "mailgun",
            Format::Postmark => "postmark",
            Format::Sparkpost => "sparkpost",
        }
    }

    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == name)
    }

    /// The `source` column of this format's events.
    pub fn source(self) -> Source {
        match self {
            Format::Postfix => Source::Postfix,
            Format::Exim => Source::Exim,
            Format::Ses => Source::Ses,
            Format::Sendgrid => Source::Sendgrid,
            Format::Mailgun => Source::Mailgun,
            Format::Postmark => Source::Postmark,
            Format::Sparkpost => Source::Sparkpost,
        }
    }

    /// True when a [`Record::Sender`] is the message's arrival, logged once, under an id that
    /// is never used again (Exim's `<=`): no earlier state can exist for the id. Postfix logs
    /// `from=` again each time a message re-enters the active queue, and reuses short ids.
    pub fn sender_is_arrival(self) -> bool {
        matches!(self, Format::Exim)
    }

    /// True for MTA logs, whose records are lines: they can be cut at any newline and parsed
    /// with [`Format::parse_line`]. ESP exports are JSON documents whose records may span lines;
    /// they are read whole by [`esp::process`].
    pub fn is_line_based(self) -> bool {
        matches!(self, Format::Postfix | Format::Exim)
    }

    /// Guesses the format from the first bytes of a (decompressed) file. `None` when nothing
    /// looks familiar; the caller then falls back to its default.
    pub fn detect(prefix: &[u8]) -> Option<Format> {
        if json_line::is_json_line(prefix.trim_ascii_start()) {
            // A journal export or a shipper's records: the syslog lines they hold decide,
            // before any ESP's key (a bounce text in a message can quote one).
            let lines = json_line::syslog_lines_of(prefix);
            if let Some(format) = detect_syslog(&lines) {
                return Some(format);
            }
        }
        if let Some(format) = detect_esp(prefix) {
            return Some(format);
        }
        // A container runtime's log: the lines behind its prefixes decide.
        let container_lines = cri::lines_of(prefix);
        if !container_lines.is_empty() {
            return detect_syslog(&container_lines);
        }
        detect_syslog(prefix)
    }

    /// The reply text to classify: a multi-line reply as this format logs it, folded into
    /// one line in `scratch` when the classifier's normaliser cannot read it as it is (Exim
    /// joins lines with a literal `\n`; Postfix's `550-5.7.1` continuation prefixes are
    /// normalised by the classifier itself, so Postfix and ESP replies are passed through).
    pub fn reply_for_classifier<'t>(self, reply: &'t [u8], scratch: &'t mut Vec<u8>) -> &'t [u8] {
        match self {
            Format::Exim => {
                exim::fold_reply(reply, scratch);
                scratch
            }
            _ => reply,
        }
    }

    /// Parses one line (without its newline) of a line-based format. ESP formats are not read
    /// line by line; for them every line is malformed.
    pub fn parse_line<'a>(self, line: &'a [u8], time: &mut TimeContext) -> Parsed<'a> {
        match self {
            Format::Postfix => postfix::parse_line(line, time),
            Format::Exim => exim::parse_line(line, time),
            Format::Ses
            | Format::Sendgrid
            | Format::Mailgun
            | Format::Postmark
            | Format::Sparkpost => Parsed::Malformed("not a line-based format"),
        }
    }
}

/// Recognises a mail server's log lines: Exim's (mainlog or syslog) by a vote of the lines,
/// else Postfix's by its program tags.
fn detect_syslog(prefix: &[u8]) -> Option<Format> {
    if exim::looks_like_exim(prefix) {
        return Some(Format::Exim);
    }
    let postfix_tags = [&b" postfix"[..], b"/smtp[", b"/qmgr[", b"/smtpd["];
    postfix_tags
        .iter()
        .any(|tag| memmem::find(prefix, tag).is_some())
        .then_some(Format::Postfix)
}

/// Recognises an ESP export: JSON (the first non-blank byte opens an object or an array) with
/// a key only that provider writes. When several match (a diagnostic text can quote anything),
/// the key seen first wins. Syslog lines never start with `{` or `[`, and journald's JSON
/// export has none of these keys.
fn detect_esp(prefix: &[u8]) -> Option<Format> {
    let start = prefix.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(prefix);
    if !matches!(start.trim_ascii_start().first(), Some(b'{' | b'[')) {
        return None;
    }
    // Keys as written, and (for SES in an SNS envelope) escaped inside the `Message` string.
    const KEYS: &[(&[u8], Format)] = &[
        (b"\"notificationType\"", Format::Ses),
        (b"\\\"notificationType\\\"", Format::Ses),
        (b"\"eventType\"", Format::Ses),
        (b"\\\"eventType\\\"", Format::Ses),
        (b"\"sg_event_id\"", Format::Sendgrid),
        (b"\"sg_message_id\"", Format::Sendgrid),
        (b"\"smtp-id\"", Format::Sendgrid),
        (b"\"event-data\"", Format::Mailgun),
        (b"\"delivery-status\"", Format::Mailgun),
        (b"\"log-level\"", Format::Mailgun),
        (b"\"RecordType\"", Format::Postmark),
        (b"\"MessageStream\"", Format::Postmark),
        (b"\"BouncedAt\"", Format::Postmark),
        (b"\"TypeCode\"", Format::Postmark),
        (b"\"msys\"", Format::Sparkpost),
    ];
    KEYS.iter()
        .filter_map(|&(key, format)| memmem::find(start, key).map(|at| (at, format)))
        .min_by_key(|&(at, _)| at)
        .map(|(_, format)| format)
}

/// The parts of a log line shared by every record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// Microseconds since the Unix epoch, UTC. Parsers may leave it 0 for records that are not
    /// placed in time (sender, removal), to save converting timestamps nobody reads.
    pub time_us: i64,
    pub host: &'a [u8],
    /// The MTA instance whose queue `queue_id` belongs to: Postfix's syslog name (`postfix`,
    /// `postfix-out`; a service suffix such as `postfix/submission/smtpd` belongs to the same
    /// queue), or empty for single-queue MTAs.
    pub instance: &'a [u8],
    /// The queue file or message id the record is about.
    pub queue_id: &'a [u8],
}

/// One record that matters for bounce statistics, whatever the MTA.
#[derive(Debug, Clone, PartialEq)]
pub enum Record<'a> {
    /// A delivery agent's (or qmgr's) verdict for one recipient.
    Delivery(Delivery<'a>),
    /// The message's envelope sender (Postfix qmgr `from=<...>, size=`, Exim `<=`); empty for
    /// a bounce message. May repeat (Postfix logs it at every retry).
    Sender { sender: &'a [u8] },
    /// The MTA gave up on the message (Postfix qmgr `status=expired, returned to sender`):
    /// every recipient still deferred expires.
    Expired { sender: &'a [u8] },
    /// The queue file is gone and its id may be reused (Postfix `removed`, Exim `Completed`).
    Removed,
    /// A new queue file was written (Postfix cleanup `message-id=`, logged once per message,
    /// before its first `from=`). Exim's arrival is its [`Record::Sender`] line itself.
    Arrival,
    /// A non-delivery notification was generated for the message (Postfix bounce
    /// `sender non-delivery notification: NEWID`).
    BounceNotice { notice_queue_id: &'a [u8] },
}

/// The verdict of a delivery line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Sent,
    Deferred,
    Bounced,
    Expired,
    /// Address verification probes: `deliverable` / `undeliverable`.
    Deliverable,
    Undeliverable,
}

impl Status {
    pub fn outcome(self) -> Outcome {
        match self {
            Status::Sent | Status::Deliverable => Outcome::Delivered,
            Status::Deferred => Outcome::Deferred,
            Status::Bounced | Status::Undeliverable => Outcome::Bounced,
            Status::Expired => Outcome::Expired,
        }
    }
}

/// One delivery line's fields.
///
/// `relay_*` name the remote host that answered (or the local transport).
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery<'a> {
    pub recipient: &'a [u8],
    pub orig_recipient: Option<&'a [u8]>,
    pub relay_host: Option<&'a [u8]>,
    pub relay_ip: Option<&'a [u8]>,
    pub relay_port: Option<u16>,
    pub dsn: Option<EnhancedCode>,
    pub status: Status,
    pub reason: Reason<'a>,
}

impl Delivery<'_> {
    /// True for a hand-off to a local content filter (amavis and the like): accepted by a
    /// loopback relay that queued it under a new id. The re-injected message's own delivery is
    /// the one that counts.
    pub fn is_content_filter_handoff(&self) -> bool {
        self.status == Status::Sent
            && self.relay_ip.is_some_and(is_loopback)
            && QUEUED_AS.find(self.reason.text).is_some()
    }
}

/// Built once: a hand-off is checked on every delivery to a loopback relay, and building a
/// searcher costs more than the search.
static QUEUED_AS: std::sync::LazyLock<memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memmem::Finder::new("queued as"));

fn is_loopback(ip: &[u8]) -> bool {
    ip.starts_with(b"127.") || ip == b"::1" || ip.eq_ignore_ascii_case(b"ipv6:::1")
}

/// What a delivery line says about the failure: who said what, at which stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reason<'a> {
    /// The remote server's reply code, when it answered.
    pub reply_code: Option<u16>,
    /// The enhanced code written in the reply (may differ from `dsn=`).
    pub enhanced_code: Option<EnhancedCode>,
    pub stage: Option<Stage>,
    /// The remote reply (without the `host X said:` prefix and the `(in reply to ...)`
    /// suffix), or Postfix's own reason when there was no reply.
    pub text: &'a [u8],
}

/// The result of looking at one line.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed<'a> {
    Record(Envelope<'a>, Record<'a>),
    /// A line that carries nothing for bounce statistics (other programs, smtpd, TLS...).
    Skip,
    /// A line that should have carried a record but could not be read, and why (counted per
    /// reason, so a short fixed phrase).
    Malformed(&'static str),
}
