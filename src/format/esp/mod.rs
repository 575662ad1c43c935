//! ESP event exports: Amazon SES, SendGrid, Mailgun, Postmark and SparkPost.
//!
//! Unlike MTA logs these are JSON documents, and one record may span many lines (a pretty-printed
//! webhook batch), so an export reaches [`process`] whole, as one block (see
//! `pipeline::files`). Framing and format are kept apart:
//!
//! * framing ([`process`]) walks the top-level JSON values of the block: a JSON array (its
//!   elements are the records), one value per line, or values simply concatenated, in any
//!   mix. Each record is deserialized straight into the provider's typed, borrowing struct; no
//!   `serde_json::Value` tree is built. A record that is not valid JSON is reported through
//!   [`EventSink::reject`] with its record number, and reading resumes at the next line that
//!   starts a record at the same (or a shallower) indentation.
//! * format (one module per provider) turns a record into zero or more [`Event`]s: one per
//!   recipient named in it. Engagement events (opens, clicks, unsubscribes...) produce none and
//!   cost only the deserialization of the record.
//!
//! Every event carries the provider's own verdict in `esp_type` / `esp_subtype`; [`verdict`]
//! turns that verdict into a category for records that come without reply text.

mod mailgun;
mod postmark;
mod sendgrid;
mod ses;
mod sparkpost;
mod verdict;

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Visitor};

use super::Format;
use super::postfix::reply_code_of;
use crate::event::{EnhancedCode, Event, Outcome, Source, domain_of};

pub use verdict::{Verdict, complained_before, verdict};

/// Where the events of an ESP export go: the ingest pipeline's chunk processor, or a test.
pub trait EventSink {
    /// One event, borrowed from the record (or from a buffer of the parser); consume it now.
    fn event(&mut self, event: &Event<'_>);
    /// A record that could not be read, and why. `record` is its 1-based number in the input
    /// (top-level values and array elements are counted alike); `text` is its raw bytes.
    fn reject(&mut self, reason: &'static str, record: u64, text: &[u8]);
}

/// Why a record was rejected: these phrases are the keys of the reject counts.
pub const MALFORMED_JSON: &str = "malformed JSON record";
pub const NO_TIMESTAMP: &str = "ESP event without a readable timestamp";
pub const NO_RECIPIENT: &str = "ESP event without a recipient";

/// Reads every record of one whole ESP export and returns how many records it holds.
pub fn process(format: Format, data: &[u8], sink: &mut impl EventSink) -> u64 {
    match format {
        Format::Ses => frame(data, sink, ses::emit),
        Format::Sendgrid => frame(data, sink, sendgrid::emit),
        Format::Mailgun => frame(data, sink, mailgun::emit),
        Format::Postmark => frame(data, sink, postmark::emit),
        Format::Sparkpost => frame(data, sink, sparkpost::emit),
        _ => 0,
    }
}

/// What a provider's `emit` says about a record it could not turn into events.
type Emit<R, S> = fn(R, &mut S) -> Result<(), &'static str>;

/// Walks the records of `data` (see the module docs) and hands each to `emit`.
fn frame<'a, R, S>(data: &'a [u8], sink: &mut S, emit: Emit<R, S>) -> u64
where
    R: Deserialize<'a>,
    S: EventSink,
{
    let mut pos = skip_bom(data);
    let mut in_array = false;
    let mut records = 0;
    loop {
        while pos < data.len() && data[pos].is_ascii_whitespace() {
            pos += 1;
        }
        let Some(&byte) = data.get(pos) else { break };
        match byte {
            b'[' if !in_array => {
                in_array = true;
                pos += 1;
                continue;
            }
            b']' if in_array => {
                in_array = false;
                pos += 1;
                continue;
            }
            b',' if in_array => {
                pos += 1;
                continue;
            }
            _ => {}
        }
        records += 1;
        let mut stream = serde_json::Deserializer::from_slice(&data[pos..]).into_iter::<R>();
        match stream.next() {
            Some(Ok(record)) => {
                let end = pos + stream.byte_offset();
                if let Err(reason) = emit(record, sink) {
                    sink.reject(reason, records, &data[pos..end]);
                }
                pos = end;
            }
            Some(Err(_)) => {
                let line_end = memchr::memchr(b'\n', &data[pos..]).map_or(data.len(), |n| pos + n);
                sink.reject(MALFORMED_JSON, records, &data[pos..line_end]);
                pos = resync(data, pos);
            }
            None => break,
        }
    }
    records
}

fn skip_bom(data: &[u8]) -> usize {
    if data.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    }
}

/// Where to resume after a broken record that starts at `start`: the next line whose first
/// non-blank byte opens a record (`{` or `[`) or closes the array (`]`) at an indentation no
/// deeper than the broken record's. That skips the rest of a broken pretty-printed object
/// instead of reporting each of its lines.
fn resync(data: &[u8], start: usize) -> usize {
    let line_start = memchr::memrchr(b'\n', &data[..start]).map_or(0, |n| n + 1);
    let indent = start - line_start;
    let mut at = start;
    while let Some(newline) = memchr::memchr(b'\n', &data[at..]) {
        let line = at + newline + 1;
        let mut first = line;
        while first < data.len() && matches!(data[first], b' ' | b'\t' | b'\r') {
            first += 1;
        }
        if first - line <= indent && matches!(data.get(first), Some(b'{' | b'[' | b']')) {
            return first;
        }
        at = line;
    }
    data.len()
}

/// A JSON string field, borrowed when it has no escapes.
pub(crate) type Str<'a> = Cow<'a, str>;

/// A point in time as ESPs write it: Unix seconds (an integer, a fraction, or a string of
/// digits) or an RFC 3339 string. Held as microseconds since the epoch, UTC; `None` when
/// unreadable (the event is then rejected, not given a made-up time).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp(pub Option<i64>);

const US_PER_SECOND: f64 = 1_000_000.0;

fn seconds_to_us(seconds: f64) -> Option<i64> {
    let us = (seconds * US_PER_SECOND).round();
    (us.is_finite() && us.abs() < 1e17).then_some(us as i64)
}

/// Parses a timestamp string: digits are Unix seconds, anything else RFC 3339.
pub(crate) fn parse_time(text: &str) -> Option<i64> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return seconds_to_us(text.parse().ok()?);
    }
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_microsecond())
}

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StampVisitor;
        impl Visitor<'_> for StampVisitor {
            type Value = Stamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("Unix seconds or an RFC 3339 timestamp")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Stamp, E> {
                Ok(Stamp(v.checked_mul(1_000_000)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Stamp, E> {
                Ok(Stamp(
                    i64::try_from(v).ok().and_then(|s| s.checked_mul(1_000_000)),
                ))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Stamp, E> {
                Ok(Stamp(seconds_to_us(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Stamp, E> {
                Ok(Stamp(parse_time(v)))
            }
            fn visit_unit<E>(self) -> Result<Stamp, E> {
                Ok(Stamp(None))
            }
        }
        deserializer.deserialize_any(StampVisitor)
    }
}

/// A small number that providers write either as a JSON number or as a string of digits
/// (SparkPost `bounce_class`, `error_code`; Mailgun `code`; Postmark `TypeCode`).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Num(pub Option<u32>);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NumVisitor;
        impl Visitor<'_> for NumVisitor {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string of digits")
            }
            fn visit_i64<E>(self, v: i64) -> Result<Num, E> {
                Ok(Num(u32::try_from(v).ok()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Num, E> {
                Ok(Num(u32::try_from(v).ok()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Num, E> {
                Ok(Num((v >= 0.0
                    && v <= f64::from(u32::MAX)
                    && v.fract() == 0.0)
                    .then_some(v as u32)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Num, E> {
                Ok(Num(v.trim().parse().ok()))
            }
            fn visit_unit<E>(self) -> Result<Num, E> {
                Ok(Num(None))
            }
        }
        deserializer.deserialize_any(NumVisitor)
    }
}

/// The address inside `Name <addr@domain>`, or the text itself, trimmed.
pub(crate) fn addr_spec(text: &[u8]) -> &[u8] {
    if let Some(open) = memchr::memrchr(b'<', text)
        && let Some(close) = memchr::memchr(b'>', &text[open..])
    {
        return text[open + 1..open + close].trim_ascii();
    }
    text.trim_ascii()
}

/// A sender address worth keeping: an address with a domain (some payloads carry only a
/// display name).
pub(crate) fn sender_of(text: Option<&str>) -> Option<&[u8]> {
    let address = addr_spec(text?.as_bytes());
    (!domain_of(address).is_empty()).then_some(address)
}

/// An event with the fields every ESP record shares; the provider fills in the rest.
pub(crate) fn base_event(
    source: Source,
    time_us: i64,
    recipient: &[u8],
    outcome: Outcome,
) -> Event<'_> {
    let recipient = addr_spec(recipient);
    Event {
        time_us,
        source,
        mta_host: source.as_str().as_bytes(),
        instance: b"",
        queue_id: b"",
        sender: None,
        recipient,
        recipient_domain: domain_of(recipient),
        remote_host: None,
        remote_ip: None,
        outcome,
        reply_code: None,
        enhanced_code: None,
        dsn: None,
        stage: None,
        text: b"",
        is_bounce_message: false,
        esp_type: None,
        esp_subtype: None,
    }
}

/// Fills the reply fields from a remote reply as ESPs report it (`smtp; 550 5.1.1 user
/// unknown`, `550 5.1.1 ...`, or free text): the `smtp;` diagnostic type is dropped, the reply
/// code is read at the start, the enhanced code anywhere in the text.
pub(crate) fn set_reply<'a>(event: &mut Event<'a>, reply: &'a [u8]) {
    let mut text = reply.trim_ascii();
    if text.len() >= 5 && text[..5].eq_ignore_ascii_case(b"smtp;") {
        text = text[5..].trim_ascii_start();
    }
    if text.is_empty() {
        return;
    }
    event.text = text;
    event.reply_code = event.reply_code.or_else(|| reply_code_of(text));
    event.enhanced_code = event.enhanced_code.or_else(|| EnhancedCode::find(text));
}

/// An enhanced code given in a field of its own (`status: "5.1.1"`).
pub(crate) fn status_code(text: Option<&str>) -> Option<EnhancedCode> {
    EnhancedCode::parse(text?.trim().as_bytes())
}

/// Writes `n` in decimal into `buf` and returns the digits (for numeric verdicts such as
/// SparkPost's `bounce_class` given as a JSON number).
pub(crate) fn decimal(n: u32, buf: &mut itoa::Buffer) -> &[u8] {
    buf.format(n).as_bytes()
}

/// A sink that keeps everything, for unit tests of the provider modules.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Collect {
    pub events: Vec<crate::event::OwnedEvent>,
    pub rejects: Vec<(&'static str, u64, String)>,
}

#[cfg(test)]
impl EventSink for Collect {
    fn event(&mut self, event: &Event<'_>) {
        self.events.push(event.to_owned_event());
    }
    fn reject(&mut self, reason: &'static str, record: u64, text: &[u8]) {
        self.rejects
            .push((reason, record, String::from_utf8_lossy(text).into_owned()));
    }
}

#[cfg(test)]
pub(crate) fn collect(format: Format, data: &[u8]) -> Collect {
    let mut sink = Collect::default();
    process(format, data, &mut sink);
    sink
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    struct Probe {
        #[allow(dead_code)]
        #[serde(default)]
        id: u32,
    }

    fn count(data: &[u8]) -> (u64, usize, Vec<u64>) {
        let mut ok = 0usize;
        struct Sink<'s>(&'s mut usize, Vec<u64>);
        impl EventSink for Sink<'_> {
            fn event(&mut self, _: &Event<'_>) {}
            fn reject(&mut self, _: &'static str, record: u64, _: &[u8]) {
                self.1.push(record);
            }
        }
        let mut sink = Sink(&mut ok, Vec::new());
        let emit: Emit<Probe, Sink<'_>> = |_, sink| {
            *sink.0 += 1;
            Ok(())
        };
        let records = frame(data, &mut sink, emit);
        let rejected = sink.1;
        (records, ok, rejected)
    }

    #[test]
    fn framing_shapes() {
        assert_eq!(count(b"[{\"id\":1},{\"id\":2}]"), (2, 2, vec![]));
        assert_eq!(count(b"{\"id\":1}\n{\"id\":2}\n"), (2, 2, vec![]));
        assert_eq!(count(b"{\"id\":1}{\"id\":2} {}"), (3, 3, vec![]));
        assert_eq!(count(b"[{\"id\":1}]\n[{\"id\":2},\n {}]\n"), (3, 3, vec![]));
        assert_eq!(count(b"\xEF\xBB\xBF[]"), (0, 0, vec![]));
        assert_eq!(count(b""), (0, 0, vec![]));
    }

    #[test]
    fn framing_resyncs_after_broken_records() {
        // JSONL: the broken line is one reject, the next line is read.
        let (records, ok, rejected) = count(b"{\"id\":1}\n{\"id\": oops}\n{\"id\":3}\n");
        assert_eq!((records, ok, rejected), (3, 2, vec![2]));
        // Pretty array: a broken element is skipped whole, up to the next element.
        let data = b"[\n {\n  \"id\": 1\n },\n {\n  \"id\": ,\n  \"x\": {\n   \"y\": 1\n  }\n },\n {\n  \"id\": 3\n }\n]\n";
        assert_eq!(count(data), (3, 2, vec![2]));
        // A record cut off at the end of the file.
        assert_eq!(count(b"{\"id\":1}\n{\"id\":"), (2, 1, vec![2]));
        // Garbage that is not JSON at all.
        assert_eq!(count(b"hello\n{\"id\":1}\n"), (2, 1, vec![1]));
    }

    const ESP: [Format; 5] = [
        Format::Ses,
        Format::Sendgrid,
        Format::Mailgun,
        Format::Postmark,
        Format::Sparkpost,
    ];

    const SAMPLES: [&[u8]; 4] = [
        include_bytes!("../../../fixtures/esp/ses/events.jsonl"),
        include_bytes!("../../../fixtures/esp/sendgrid/batch.json"),
        include_bytes!("../../../fixtures/esp/mailgun/webhooks.jsonl"),
        include_bytes!("../../../fixtures/esp/sparkpost/batch.json"),
    ];

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(
            noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            sample in 0usize..4,
            cut in 0usize..5000,
            flip in 0usize..5000,
            byte in proptest::prelude::any::<u8>(),
        ) {
            let mut damaged = SAMPLES[sample].to_vec();
            let at = flip % damaged.len();
            damaged[at] = byte;
            damaged.truncate(cut.max(1));
            for format in ESP {
                let _ = collect(format, &noise);
                let _ = collect(format, &damaged);
            }
        }
    }

    #[test]
    fn detection() {
        let formats: Vec<_> = SAMPLES.iter().map(|s| Format::detect(s)).collect();
        assert_eq!(
            formats,
            [
                Some(Format::Ses),
                Some(Format::Sendgrid),
                Some(Format::Mailgun),
                Some(Format::Sparkpost)
            ]
        );
        let postfix = b"Nov 27 10:00:00 mx1 postfix/smtp[123]: 4Xyz: to=<a@b>, status=sent";
        assert_eq!(Format::detect(postfix), Some(Format::Postfix));
        let journald = br#"{"__CURSOR":"s=1","SYSLOG_IDENTIFIER":"postfix/smtp","MESSAGE":"x"}"#;
        assert_ne!(
            Format::detect(journald).map(|f| f.is_line_based()),
            Some(false)
        );
        // A bounce text quoting another provider's key does not fool detection.
        let ses = br#"{"eventType":"Bounce","bounce":{"x":""msys""},"mail":{}}"#;
        assert_eq!(Format::detect(ses), Some(Format::Ses));
    }

    #[test]
    fn timestamps() {
        let stamp = |json: &str| serde_json::from_str::<Stamp>(json).unwrap().0;
        assert_eq!(stamp("1513299569"), Some(1_513_299_569_000_000));
        assert_eq!(stamp("1534108637.153125"), Some(1_534_108_637_153_125));
        assert_eq!(stamp("\"1454442600\""), Some(1_454_442_600_000_000));
        assert_eq!(
            stamp("\"2017-08-05T00:41:02.669Z\""),
            Some(1_501_893_662_669_000)
        );
        assert_eq!(
            stamp("\"2016-04-27T16:28:50.3963933-04:00\""),
            Some(1_461_788_930_396_393)
        );
        assert_eq!(stamp("\"yesterday\""), None);
        assert_eq!(stamp("null"), None);
    }

    #[test]
    fn replies() {
        let mut event = base_event(Source::Ses, 0, b"Name <a@B.example>", Outcome::Bounced);
        assert_eq!(event.recipient, b"a@B.example");
        assert_eq!(event.recipient_domain, b"B.example");
        set_reply(&mut event, b"smtp; 550 5.1.1 user unknown");
        assert_eq!(event.reply_code, Some(550));
        assert_eq!(event.enhanced_code, Some(EnhancedCode::new(5, 1, 1)));
        assert_eq!(event.text, b"550 5.1.1 user unknown");
        assert_eq!(sender_of(Some("Test Sender ")), None);
        assert_eq!(
            sender_of(Some("Sender <s@example.com>")),
            Some(&b"s@example.com"[..])
        );
    }
}
