//! Postfix log lines: delivery attempts, queue manager records and bounce notices.
//!
//! [`parse_line`] takes one line, parses its syslog envelope, dispatches on the program tag
//! with a byte comparison (most lines in a mail log are smtpd, postscreen or other programs
//! and are skipped right there) and returns a [`Parsed`] borrowing from the line. Correlating
//! the records of one queue file (arrival, sender, deliveries, expiry, removal) is the
//! pipeline's job.

use std::sync::LazyLock;

use memchr::memmem::Finder;

use super::mask::Marks;
use super::syslog::{self, HIGH_BITS, TimeContext, alnum_bits, byte_bits, find_pair};
use super::{Delivery, Envelope, Parsed, Reason, Record, Status};
use crate::event::{EnhancedCode, Stage};

/// Reads Postfix's status word.
fn status_word(word: &[u8]) -> Option<Status> {
    Some(match word {
        b"sent" => Status::Sent,
        b"deferred" => Status::Deferred,
        b"bounced" => Status::Bounced,
        b"expired" => Status::Expired,
        // Address probes, also as `undeliverable-but-not-cached`.
        _ if word.starts_with(b"undeliverable") => Status::Undeliverable,
        _ if word.starts_with(b"deliverable") => Status::Deliverable,
        _ => return None,
    })
}

const NO_STATUS: &str = "delivery line without status";
const NO_RECIPIENT: &str = "delivery line without recipient";
const BAD_QUEUE_ID: &str = "bad queue id";

/// The longest queue id we accept (Postfix long ids are 15-17 characters).
pub const MAX_QUEUE_ID: usize = 24;

/// Which Postfix daemons' lines we read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Daemon {
    /// smtp, lmtp, local, virtual, pipe, error, discard, retry.
    DeliveryAgent,
    Qmgr,
    Bounce,
    /// Only its `message-id=` line, a message's arrival.
    Cleanup,
}

fn daemon_of(tag: &[u8]) -> Option<(&[u8], Daemon)> {
    // The daemons read here have names of at most seven letters: look no further back.
    let slash = last_slash_in_tail(tag)?;
    let daemon = match &tag[slash + 1..] {
        b"smtp" | b"lmtp" | b"local" | b"virtual" | b"pipe" | b"error" | b"discard" | b"retry" => {
            Daemon::DeliveryAgent
        }
        b"qmgr" | b"nqmgr" => Daemon::Qmgr,
        b"bounce" => Daemon::Bounce,
        b"cleanup" => Daemon::Cleanup,
        _ => return None,
    };
    let instance_end = syslog::find_near(b'/', tag).unwrap_or(slash);
    Some((&tag[..instance_end], daemon))
}

/// The position of the last `/` among the last eight bytes of `tag`. Those eight are tested
/// as one word: the lines of every program pass here, so a byte loop costs on each of them.
fn last_slash_in_tail(tag: &[u8]) -> Option<usize> {
    let Some(last) = tag.last_chunk::<8>() else {
        return tag.iter().rposition(|&b| b == b'/');
    };
    let slashes = byte_bits(u64::from_le_bytes(*last), b'/');
    if slashes == 0 {
        return None;
    }
    Some(tag.len() - 1 - (slashes.leading_zeros() / 8) as usize)
}

/// Parses one line (without its trailing newline).
pub fn parse_line<'a>(line: &'a [u8], time: &mut TimeContext) -> Parsed<'a> {
    let header = match syslog::parse_lazy(line) {
        Ok(header) => header,
        Err(err) => return Parsed::Malformed(err.as_str()),
    };
    let Some((instance, daemon)) = daemon_of(header.tag) else {
        return Parsed::Skip;
    };
    let message = header.message;
    let Some(colon) = syslog::find_near(b':', message) else {
        return Parsed::Skip;
    };
    let queue_id = &message[..colon];
    if !is_queue_id(queue_id) {
        // warnings, TLS and connection chatter, NOQUEUE... carry no queue record.
        return Parsed::Skip;
    }
    if queue_id.len() > MAX_QUEUE_ID {
        return Parsed::Malformed(BAD_QUEUE_ID);
    }
    let body = message[colon + 1..]
        .strip_prefix(b" ")
        .unwrap_or(&message[colon + 1..]);
    let record = match daemon {
        Daemon::DeliveryAgent | Daemon::Qmgr if body.starts_with(b"to=") => {
            match parse_delivery(body) {
                Ok(delivery) => Record::Delivery(delivery),
                Err(reason) => return Parsed::Malformed(reason),
            }
        }
        Daemon::Qmgr if body.starts_with(b"from=<") => {
            let Some(end) = find_pair(body, b'>', b", ") else {
                return Parsed::Skip;
            };
            let sender = &body[6..end];
            let rest = &body[end + 3..];
            if rest.starts_with(b"status=expired") {
                Record::Expired { sender }
            } else if rest.starts_with(b"size=") {
                Record::Sender { sender }
            } else {
                return Parsed::Skip;
            }
        }
        Daemon::Qmgr if body == b"removed" => Record::Removed,
        // cleanup logs the Message-ID once, when it writes a new queue file.
        Daemon::Cleanup if body.starts_with(b"message-id=") => Record::Arrival,
        Daemon::Bounce => {
            let Some(at) = NOTIFICATION.find(body) else {
                return Parsed::Skip;
            };
            let notice = body[at + 27..].trim_ascii_end();
            Record::BounceNotice {
                notice_queue_id: notice,
            }
        }
        _ => return Parsed::Skip,
    };
    // Only deliveries and expiries are placed in time; the other records only move queue
    // state, so their timestamps are not converted.
    let time_us = match record {
        Record::Delivery(_) | Record::Expired { .. } => match header.time_us(time) {
            Ok(time_us) => time_us,
            Err(err) => return Parsed::Malformed(err.as_str()),
        },
        _ => 0,
    };
    let envelope = Envelope {
        time_us,
        host: header.host,
        instance,
        queue_id,
    };
    Parsed::Record(envelope, record)
}

/// Short hex ids (`08ACF1541B01`) and long base-52 ids (`4Lq3Yd0Yfbz9sXn`): alphanumeric.
fn is_queue_id(id: &[u8]) -> bool {
    if id.len() < 5 || id == b"NOQUEUE" {
        return false;
    }
    let Some(&last) = id.last_chunk::<8>() else {
        return id.iter().all(u8::is_ascii_alphanumeric);
    };
    // Eight bytes at a time, the last word overlapping the one before it.
    let alphanumeric = |word: [u8; 8]| alnum_bits(u64::from_le_bytes(word)) == HIGH_BITS;
    id.chunks_exact(8)
        .all(|word| alphanumeric(word.try_into().expect("eight bytes")))
        && alphanumeric(last)
}

fn parse_delivery(body: &[u8]) -> Result<Delivery<'_>, &'static str> {
    let mut delivery = Delivery {
        recipient: &[],
        orig_recipient: None,
        relay_host: None,
        relay_ip: None,
        relay_port: None,
        dsn: None,
        status: Status::Sent,
        reason: Reason::default(),
    };
    let mut have_recipient = false;
    // Every boundary of the fields before `status=` is one of these bytes: found a window at a
    // time, instead of one search per key and per value.
    let mut marks = Marks::new(body, [b'=', b',', b'>']);
    let mut pos = 0;
    loop {
        let (field, value_start) = match Field::at(&body[pos..]) {
            Some((field, name_len)) => (field, pos + name_len),
            None => {
                let Some(eq) = marks.find(b'=', pos) else {
                    return Err(NO_STATUS);
                };
                (Field::of(&body[pos..eq]), eq + 1)
            }
        };
        if field == Field::Status {
            let rest = &body[value_start..];
            let word_end = syslog::find_near(b' ', rest).unwrap_or(rest.len());
            delivery.status = status_word(&rest[..word_end]).ok_or(NO_STATUS)?;
            let text = rest[word_end..].trim_ascii_start();
            let text = match text.strip_prefix(b"(") {
                // Up to the last ')': replies contain parentheses of their own.
                Some(inner) if inner.ends_with(b")") => &inner[..inner.len() - 1],
                Some(inner) => match memchr::memrchr(b')', inner) {
                    Some(close) => &inner[..close],
                    None => inner,
                },
                None => text,
            };
            delivery.reason = match delivery.status {
                // The receiving server's acceptance (`250 2.0.0 OK ...`) or the local agent's
                // (`delivered to mailbox`): no failure, so no reply, code or stage to read
                // from it, only its text (a content filter's hand-off is told by it).
                Status::Sent => Reason {
                    text,
                    ..Reason::default()
                },
                _ => parse_reason(text),
            };
            break;
        }
        // Angle-bracketed values may contain ", " (quoted local parts); end at ">, ".
        let value_end = if body.get(value_start) == Some(&b'<') {
            marks.find_pair(b'>', b", ", value_start).map(|i| i + 1)
        } else {
            marks.find_pair(b',', b" ", value_start)
        };
        let Some(value_end) = value_end else {
            return Err(NO_STATUS);
        };
        let value = &body[value_start..value_end];
        match field {
            Field::To => {
                delivery.recipient = strip_angles(value);
                have_recipient = true;
            }
            Field::OrigTo => delivery.orig_recipient = Some(strip_angles(value)),
            Field::Relay => parse_relay(value, &mut delivery),
            Field::Dsn => delivery.dsn = EnhancedCode::parse(value),
            Field::Status | Field::Other => {}
        }
        pos = value_end + 2;
    }
    if !have_recipient {
        return Err(NO_RECIPIENT);
    }
    Ok(delivery)
}

/// The fields of a delivery line that are read; the others (`delay=`, `delays=`,
/// `conn_use=`...) are only stepped over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    To,
    OrigTo,
    Relay,
    Dsn,
    Status,
    Other,
}

impl Field {
    fn of(name: &[u8]) -> Field {
        match name {
            b"to" => Field::To,
            b"orig_to" => Field::OrigTo,
            b"relay" => Field::Relay,
            b"dsn" => Field::Dsn,
            b"status" => Field::Status,
            _ => Field::Other,
        }
    }

    /// The field whose `name=` begins `rest`, and that prefix's length, for the names Postfix
    /// writes in its delivery lines: told from the first eight bytes at once, with no search
    /// for the `=` and no comparison of the name as a slice. `None` for any other name (and
    /// for fewer than eight bytes), which [`Field::of`] then reads after a search.
    #[inline]
    fn at(rest: &[u8]) -> Option<(Field, usize)> {
        /// `name=` as the low bytes of a little-endian word.
        const fn word(name: &[u8]) -> u64 {
            let mut word = 0;
            let mut i = 0;
            while i < name.len() {
                word |= (name[i] as u64) << (8 * i);
                i += 1;
            }
            word
        }
        const TO: u64 = word(b"to=");
        const ORIG_TO: u64 = word(b"orig_to=");
        const RELAY: u64 = word(b"relay=");
        const DELAY: u64 = word(b"delay=");
        const DELAYS: u64 = word(b"delays=");
        const DSN: u64 = word(b"dsn=");
        const STATUS: u64 = word(b"status=");
        let bytes = u64::from_le_bytes(*rest.first_chunk::<8>()?);
        // The first `len` bytes of the eight.
        let head = |len: usize| bytes & (u64::MAX >> (64 - 8 * len));
        let found = match bytes as u8 {
            b't' if head(3) == TO => (Field::To, 3),
            b'r' if head(6) == RELAY => (Field::Relay, 6),
            b'd' if head(6) == DELAY => (Field::Other, 6),
            b'd' if head(7) == DELAYS => (Field::Other, 7),
            b'd' if head(4) == DSN => (Field::Dsn, 4),
            b's' if head(7) == STATUS => (Field::Status, 7),
            b'o' if bytes == ORIG_TO => (Field::OrigTo, 8),
            _ => return None,
        };
        Some(found)
    }
}

fn strip_angles(value: &[u8]) -> &[u8] {
    value
        .strip_prefix(b"<")
        .and_then(|v| v.strip_suffix(b">"))
        .unwrap_or(value)
}

/// `host[ip]:port`, `host[private/dovecot-lmtp]`, `local`, `none`.
fn parse_relay<'a>(value: &'a [u8], delivery: &mut Delivery<'a>) {
    if value == b"none" {
        return;
    }
    let Some(open) = syslog::find_near(b'[', value) else {
        delivery.relay_host = Some(value);
        return;
    };
    delivery.relay_host = Some(&value[..open]);
    if let Some(close) = memchr::memrchr(b']', value)
        && close > open
    {
        delivery.relay_ip = Some(&value[open + 1..close]);
        if let Some(port) = value[close + 1..].strip_prefix(b":") {
            delivery.relay_port = parse_port(port);
        }
    }
}

/// A port number as `str::parse::<u16>` reads one (an optional `+`, then decimal digits, no
/// more than fit), read from the bytes without checking them for UTF-8 first: every delivery
/// has a port, and the check and the parse each branch on every byte.
fn parse_port(bytes: &[u8]) -> Option<u16> {
    let digits = bytes.strip_prefix(b"+").unwrap_or(bytes);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u16, |port, &b| {
        let digit = b.wrapping_sub(b'0');
        (digit < 10)
            .then_some(port)?
            .checked_mul(10)?
            .checked_add(u16::from(digit))
    })
}

// Searchers for the phrases looked for in every delivery's text, built once (building one
// costs more than most searches).
static SAID: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(" said: "));
static REFUSED: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new(" refused to talk to me: "));
static WHILE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(" while "));
static NOTIFICATION: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new("non-delivery notification: "));

/// Reads the parenthesised text: who said what, at which stage.
pub fn parse_reason(text: &[u8]) -> Reason<'_> {
    let mut text = text;
    if let Some(rest) = text.strip_prefix(b"delivery temporarily suspended: ") {
        text = rest;
    }
    if text.starts_with(b"host ") {
        if let Some(at) = SAID.find(text) {
            let (reply, stage) = split_stage_suffix(&text[at + 7..]);
            return reply_reason(reply, stage);
        }
        if let Some(at) = REFUSED.find(text) {
            return reply_reason(&text[at + 24..], Some(Stage::Greeting));
        }
    }
    let stage = if text.starts_with(b"connect to ")
        || text.starts_with(b"Host or domain name not found")
        || text.starts_with(b"Name service error")
        || text.starts_with(b"unable to look up host")
        || text.starts_with(b"No route to host")
    {
        Some(Stage::Connect)
    } else if let Some(at) = WHILE.find(text) {
        while_stage(&text[at + 7..])
    } else {
        None
    };
    Reason {
        reply_code: None,
        enhanced_code: None,
        stage,
        text,
    }
}

fn reply_reason(reply: &[u8], stage: Option<Stage>) -> Reason<'_> {
    let reply = reply.trim_ascii();
    let reply_code = reply_code_of(reply);
    let enhanced_code = match reply_code {
        Some(_) => enhanced_code_after_reply_code(&reply[3..]),
        None => EnhancedCode::find(reply),
    };
    Reason {
        reply_code,
        enhanced_code,
        stage,
        text: reply,
    }
}

/// The enhanced code of a reply, given the text after its three-digit code: the one right
/// after the code (past a `-` or space), or else the first one in the text.
pub(crate) fn enhanced_code_after_reply_code(after: &[u8]) -> Option<EnhancedCode> {
    let after = after
        .strip_prefix(b"-")
        .or_else(|| after.strip_prefix(b" "))
        .unwrap_or(after);
    EnhancedCode::parse_prefix(after.trim_ascii_start())
        .map(|(code, _)| code)
        .or_else(|| EnhancedCode::find(after))
}

/// A three-digit reply code at the start of `reply`, followed by a space, a dash or the end.
pub fn reply_code_of(reply: &[u8]) -> Option<u16> {
    let code = reply.get(..3)?;
    if !matches!(code[0], b'2'..=b'5') || !code[1].is_ascii_digit() || !code[2].is_ascii_digit() {
        return None;
    }
    match reply.get(3) {
        None | Some(b' ' | b'-') => {}
        _ => return None,
    }
    Some(
        u16::from(code[0] - b'0') * 100
            + u16::from(code[1] - b'0') * 10
            + u16::from(code[2] - b'0'),
    )
}

/// Splits `... (in reply to RCPT TO command)` off the end of a reply.
fn split_stage_suffix(reply: &[u8]) -> (&[u8], Option<Stage>) {
    let trimmed = reply.trim_ascii_end();
    if trimmed.ends_with(b")")
        && let Some(at) = last_in_reply_to(trimmed)
    {
        let phrase = &trimmed[at + 13..trimmed.len() - 1];
        let stage = std::str::from_utf8(phrase).ok().and_then(Stage::parse);
        return (&trimmed[..at], stage);
    }
    (trimmed, None)
}

/// Where the last `(in reply to ` in `reply` starts: the last `(` that begins it, the
/// parentheses found from the end by a vector search (a reverse search for the whole phrase
/// has no such fast path, and a reply holds few parentheses).
fn last_in_reply_to(reply: &[u8]) -> Option<usize> {
    memchr::memrchr_iter(b'(', reply).find(|&at| reply[at..].starts_with(b"(in reply to "))
}

/// The stage in `lost connection with X while sending RCPT TO` and the like.
fn while_stage(phrase: &[u8]) -> Option<Stage> {
    const STAGES: &[(&[u8], Stage)] = &[
        (b"receiving the initial server greeting", Stage::Greeting),
        (b"performing the EHLO handshake", Stage::Ehlo),
        (b"performing the HELO handshake", Stage::Ehlo),
        (b"performing the LHLO handshake", Stage::Ehlo),
        (b"sending MAIL FROM", Stage::MailFrom),
        (b"sending RCPT TO", Stage::RcptTo),
        (b"sending DATA", Stage::Data),
        (b"sending message body", Stage::EndOfData),
        (b"sending end of data", Stage::EndOfData),
        (b"receiving the STARTTLS", Stage::StartTls),
        (b"sending STARTTLS", Stage::StartTls),
    ];
    STAGES
        .iter()
        .find(|(prefix, _)| phrase.starts_with(prefix))
        .map(|&(_, stage)| stage)
}

/// Folds a multi-line reply as Postfix logs it (`550-5.7.26 first line 550-5.7.26 second
/// line 550 5.7.26 last`) into plain text (`550 5.7.26 first line second line last`).
pub fn fold_reply(reply: &[u8], out: &mut Vec<u8>) {
    out.clear();
    if reply_code_of(reply).is_none() {
        out.extend_from_slice(reply);
        return;
    }
    let code_bytes = &reply[..3];
    let enhanced = reply_reason(reply, None).enhanced_code;
    out.extend_from_slice(code_bytes);
    out.push(b' ');
    let mut rest = &reply[4.min(reply.len())..];
    let mut enhanced_buf = Vec::new();
    if let Some(enhanced) = enhanced {
        use std::io::Write;
        let _ = write!(enhanced_buf, "{enhanced}");
        if let Some(r) = rest.strip_prefix(enhanced_buf.as_slice()) {
            out.extend_from_slice(&enhanced_buf);
            rest = r;
        }
    }
    // Remove every later " NNN-X.Y.Z" / " NNN X.Y.Z" / " NNN-" continuation prefix.
    let mut i = 0;
    while i < rest.len() {
        if rest[i] == b' '
            && rest[i + 1..].starts_with(code_bytes)
            && matches!(rest.get(i + 4), Some(b'-' | b' '))
        {
            let mut skip = i + 5;
            if !enhanced_buf.is_empty() && rest[skip.min(rest.len())..].starts_with(&enhanced_buf) {
                skip += enhanced_buf.len();
            }
            i = skip;
            out.push(b' ');
            continue;
        }
        out.push(rest[i]);
        i += 1;
    }
    // Collapse doubled spaces left by folding.
    let mut w = 0;
    for r in 0..out.len() {
        if out[r] == b' ' && w > 0 && out[w - 1] == b' ' {
            continue;
        }
        out[w] = out[r];
        w += 1;
    }
    out.truncate(w);
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    fn ctx() -> TimeContext {
        TimeContext::utc("2025-12-31T00:00:00Z".parse::<Timestamp>().unwrap())
    }

    fn record(line: &str) -> (Envelope<'_>, Record<'_>) {
        match parse_line(line.as_bytes(), &mut ctx()) {
            Parsed::Record(envelope, record) => (envelope, record),
            other => panic!("{line}: {other:?}"),
        }
    }

    fn delivery(line: &str) -> Delivery<'_> {
        match record(line).1 {
            Record::Delivery(d) => d,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn gmail_dmarc_rejection() {
        let d = delivery(
            "Feb  1 13:17:08 mx1 postfix-out/smtp[28692]: 4Lq3Yd0Yfbz9sXn: to=<ann@example.com>, relay=aspmx.l.google.com[142.250.4.26]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=5.7.26, status=bounced (host aspmx.l.google.com[142.250.4.26] said: 550-5.7.26 Unauthenticated email from sender.example is not accepted due to 550-5.7.26 domain's DMARC policy. 550 5.7.26 - gsmtp (in reply to end of DATA command))",
        );
        assert_eq!(d.recipient, b"ann@example.com");
        assert_eq!(d.relay_host, Some(&b"aspmx.l.google.com"[..]));
        assert_eq!(d.relay_ip, Some(&b"142.250.4.26"[..]));
        assert_eq!(d.relay_port, Some(25));
        assert_eq!(d.dsn, Some(EnhancedCode::new(5, 7, 26)));
        assert_eq!(d.status, Status::Bounced);
        assert_eq!(d.reason.reply_code, Some(550));
        assert_eq!(d.reason.enhanced_code, Some(EnhancedCode::new(5, 7, 26)));
        assert_eq!(d.reason.stage, Some(Stage::EndOfData));
        assert!(d.reason.text.ends_with(b"- gsmtp"));
        let mut folded = Vec::new();
        fold_reply(d.reason.text, &mut folded);
        assert_eq!(
            String::from_utf8(folded).unwrap(),
            "550 5.7.26 Unauthenticated email from sender.example is not accepted due to domain's DMARC policy. - gsmtp"
        );
    }

    /// The last `(in reply to ` is found as a search for the phrase finds it: with other
    /// parentheses after it, inside it, before it, a phrase cut short, and none.
    #[test]
    fn last_in_reply_to_is_the_phrase_searched_from_the_end() {
        let texts: [&[u8]; 7] = [
            b"550 no (in reply to RCPT TO command)",
            b"550 no (x) (in reply to end of DATA command) (y)",
            b"550 (in reply to A) (in reply to RCPT TO command)",
            b"550 ((in reply to RCPT TO command",
            b"550 (in reply t",
            b"(in reply to ",
            b"550 no",
        ];
        for text in texts {
            let searched = memchr::memmem::rfind(text, b"(in reply to ");
            assert_eq!(
                last_in_reply_to(text),
                searched,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        assert_eq!(last_in_reply_to(texts[2]), Some(20));
    }

    /// A sent delivery with every field Postfix may write (`orig_to=`, `conn_use=`) and one
    /// it might add one day: the fields read are found whatever stands between them, and the
    /// acceptance's text is kept without a failure's reading (no reply code, no stage).
    #[test]
    fn sent_delivery_with_every_field() {
        let d = delivery(
            "Jun 10 06:27:31 mta1 postfix/smtp[4]: 0233313FFAD: to=<u@gmail.com>, orig_to=<alias@s.example>, relay=gmail-smtp-in.l.google.com[142.250.1.27]:2525, conn_use=3, delay=1, delays=0/0/0.5/0.5, future=x, dsn=2.0.0, status=sent (250 2.0.0 OK while sending RCPT TO 1718000000 - gsmtp)",
        );
        assert_eq!(d.recipient, b"u@gmail.com");
        assert_eq!(d.orig_recipient, Some(&b"alias@s.example"[..]));
        assert_eq!(d.relay_host, Some(&b"gmail-smtp-in.l.google.com"[..]));
        assert_eq!(d.relay_port, Some(2525));
        assert_eq!(d.dsn, Some(EnhancedCode::new(2, 0, 0)));
        assert_eq!(d.status, Status::Sent);
        assert_eq!(
            d.reason,
            Reason {
                text: b"250 2.0.0 OK while sending RCPT TO 1718000000 - gsmtp",
                ..Reason::default()
            }
        );
    }

    #[test]
    fn envelope_and_instance() {
        let (env, _) = record(
            "Dec  9 10:18:24 mail postfix/submission/smtp[20055]: 1310930001DB: to=<a@b.example>, relay=none, delay=1, dsn=4.4.1, status=deferred (connect to mx.b.example[192.0.2.1]:25: Connection timed out)",
        );
        assert_eq!(env.host, b"mail");
        assert_eq!(env.instance, b"postfix");
        assert_eq!(env.queue_id, b"1310930001DB");
    }

    #[test]
    fn connection_and_dns_failures_have_no_code() {
        let d = delivery(
            "Dec  9 10:18:24 mail postfix/smtp[1]: ABCDEF123: to=<a@b.example>, relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to mx.b.example[192.0.2.1]:25: Connection timed out)",
        );
        assert_eq!(d.reason.reply_code, None);
        assert_eq!(d.reason.stage, Some(Stage::Connect));
        assert_eq!(d.dsn, Some(EnhancedCode::new(4, 4, 1)));
        let d = delivery(
            "Dec  9 10:18:24 mail postfix/smtp[1]: ABCDEF123: to=<a@nowhere.example>, relay=none, delay=0.1, delays=0/0/0.1/0, dsn=5.4.4, status=bounced (Host or domain name not found. Name service error for name=nowhere.example type=A: Host not found)",
        );
        assert_eq!(d.reason.stage, Some(Stage::Connect));
        assert_eq!(d.status, Status::Bounced);
        let d = delivery(
            "Dec  9 10:18:24 mail postfix/qmgr[1]: ABCDEF123: to=<a@b.example>, relay=none, delay=5000, delays=5000/0/0/0, dsn=4.4.1, status=deferred (delivery temporarily suspended: connect to mx.b.example[192.0.2.1]:25: Connection refused)",
        );
        assert_eq!(d.reason.stage, Some(Stage::Connect));
        assert!(d.reason.text.starts_with(b"connect to"));
    }

    #[test]
    fn greeting_refusal_and_lost_connection() {
        let d = delivery(
            "Dec  9 10:18:24 mail postfix/smtp[1]: ABCDEF123: to=<a@b.example>, relay=mx.b.example[192.0.2.1]:25, delay=1, delays=0/0/1/0, dsn=5.7.1, status=bounced (host mx.b.example[192.0.2.1] refused to talk to me: 554 5.7.1 Service unavailable; Client host [198.51.100.4] blocked using zen.spamhaus.org)",
        );
        assert_eq!(d.reason.stage, Some(Stage::Greeting));
        assert_eq!(d.reason.reply_code, Some(554));
        assert_eq!(d.reason.enhanced_code, Some(EnhancedCode::new(5, 7, 1)));
        let d = delivery(
            "Dec  9 10:18:24 mail postfix/smtp[1]: ABCDEF123: to=<a@b.example>, relay=mx.b.example[192.0.2.1]:25, delay=1, delays=0/0/1/0, dsn=4.4.2, status=deferred (lost connection with mx.b.example[192.0.2.1] while sending RCPT TO)",
        );
        assert_eq!(d.reason.stage, Some(Stage::RcptTo));
        assert_eq!(d.reason.reply_code, None);
    }

    #[test]
    fn reply_code_differs_from_dsn_and_orig_to_kept() {
        let d = delivery(
            "Jun  3 10:40:59 mail postfix/smtp[9716]: 4AA091855DA0: to=<invalid.email@example.com>, orig_to=<alias@example.net>, relay=mx.example.com[203.0.113.9]:25, conn_use=2, delay=1.5, delays=0.03/0.01/1.3/0.14, dsn=5.0.0, status=bounced (host mx.example.com[203.0.113.9] said: 550 Requested action not taken: mailbox unavailable (in reply to RCPT TO command))",
        );
        assert_eq!(d.orig_recipient, Some(&b"alias@example.net"[..]));
        assert_eq!(d.dsn, Some(EnhancedCode::new(5, 0, 0)));
        assert_eq!(d.reason.reply_code, Some(550));
        assert_eq!(d.reason.enhanced_code, None);
        assert_eq!(d.reason.stage, Some(Stage::RcptTo));
        assert_eq!(
            d.reason.text,
            b"550 Requested action not taken: mailbox unavailable"
        );
    }

    #[test]
    fn qmgr_and_bounce_records() {
        assert_eq!(
            record("Sep 30 20:46:08 n16 postfix-239/qmgr[31214]: 23EBE3D5C0: from=<a@s.example>, size=312343, nrcpt=1 (queue active)").1,
            Record::Sender { sender: b"a@s.example" }
        );
        assert_eq!(
            record("Sep 30 20:46:08 n16 postfix-239/qmgr[31214]: A7E673C067: from=<>, size=3503, nrcpt=1 (queue active)").1,
            Record::Sender { sender: b"" }
        );
        assert_eq!(
            record("Sep 30 20:46:08 n16 postfix/qmgr[31214]: 23EBE3D5C0: from=<a@s.example>, status=expired, returned to sender").1,
            Record::Expired { sender: b"a@s.example" }
        );
        assert_eq!(
            record("Sep 30 20:46:08 n16 postfix/qmgr[1]: 23EBE3D5C0: removed").1,
            Record::Removed
        );
        assert_eq!(
            record("Sep 30 20:46:08 n16 postfix/bounce[23567]: 23EBE3D5C0: sender non-delivery notification: A7E673C067").1,
            Record::BounceNotice { notice_queue_id: b"A7E673C067" }
        );
    }

    #[test]
    fn cleanup_message_id_is_an_arrival_and_nothing_else_of_cleanup_is_read() {
        let (envelope, arrival) = record(
            "Jan 25 18:54:50 mx postfix-out/cleanup[8966]: B37FD2E05B9: message-id=<h-ce5@h-79b.example>",
        );
        assert_eq!(arrival, Record::Arrival);
        assert_eq!(envelope.instance, b"postfix-out");
        assert_eq!(envelope.queue_id, b"B37FD2E05B9");
        // An empty Message-ID (Postfix logs `message-id=` with nothing after it) still
        // means a new queue file.
        assert_eq!(
            record("Jan 25 18:54:50 mx postfix/cleanup[8966]: 4bGf3Q04ZyzD9Rw: message-id=").1,
            Record::Arrival
        );
        let mut c = ctx();
        for line in [
            "Jan 25 18:54:51 mx postfix/cleanup[8966]: B37FD2E05B9: milter-reject: END-OF-MESSAGE from h[254.65.43.194]: 4.7.1 Try again later; from=<a@s.example> to=<b@r.example> proto=ESMTP helo=<h>",
            "Jan 25 18:54:51 mx postfix/cleanup[8966]: B37FD2E05B9: resent-message-id=<r@s.example>",
            "Jan 25 18:54:51 mx postfix/cleanup[8966]: B37FD2E05B9: replace: header MIME-Version: 1.0 from h[254.65.43.194]",
            "Jan 25 18:54:51 mx postfix/cleanup[8966]: warning: milter inet:127.0.0.1:8891: can't read SMFIC_EOH reply packet header",
        ] {
            assert_eq!(parse_line(line.as_bytes(), &mut c), Parsed::Skip, "{line}");
        }
    }

    #[test]
    fn content_filter_handoff() {
        let d = delivery(
            "Feb  1 13:17:08 mail postfix/smtp[28692]: 08ACF1541B01: to=<u@h.example>, orig_to=<root>, relay=127.0.0.1[127.0.0.1]:10024, delay=6.8, delays=0.19/0.01/0/6.6, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as AED441541AFC)",
        );
        assert!(d.is_content_filter_handoff());
        let d = delivery(
            "Feb  1 13:17:08 mail postfix/lmtp[28699]: AED441541AFC: to=<u@h.example>, relay=h[private/dovecot-lmtp], delay=0.21, delays=0.07/0.01/0.01/0.12, dsn=2.0.0, status=sent (250 2.0.0 <u@h.example> Saved)",
        );
        assert!(!d.is_content_filter_handoff());
        assert_eq!(d.relay_ip, Some(&b"private/dovecot-lmtp"[..]));
    }

    #[test]
    fn skips_and_malformed() {
        let mut c = ctx();
        for line in [
            "Dec  9 10:18:23 mail postfix/submission/smtpd[20040]: connect from client.example.com[89.247.252.52]",
            "Dec  9 10:18:24 mail postfix/smtp[20053]: Trusted TLS connection established to aspmx.l.google.com[74.125.143.26]:25: TLSv1.3",
            "Dec  9 10:18:23 mail dovecot: lmtp(28700): Connect from local",
            "Dec  9 10:18:23 mail postfix/smtp[1]: warning: no MX host for example.com has a valid address record",
            "Dec  9 10:18:23 mail postfix/qmgr[1]: ABCDEF: skipped, still being delivered",
        ] {
            assert_eq!(parse_line(line.as_bytes(), &mut c), Parsed::Skip, "{line}");
        }
        assert_eq!(
            parse_line(
                b"Dec  9 10:18:23 mail postfix/smtp[1]: ABCDEF: to=<a@b>, relay=x, delay=1",
                &mut c
            ),
            Parsed::Malformed(NO_STATUS)
        );
        assert_eq!(
            parse_line(b"Dec  9 10:18:23 mail postfix/local[1]: ABCDEF: to=<a@b>, relay=local, delay=0.14, dsn=2.0.0, status=sent (delivered to command: procmail -a \"$EXTENSION\" DEFAULT=$HOME/Maild", &mut c),
            parse_line(b"Dec  9 10:18:23 mail postfix/local[1]: ABCDEF: to=<a@b>, relay=local, delay=0.14, dsn=2.0.0, status=sent (delivered to command: procmail -a \"$EXTENSION\" DEFAULT=$HOME/Maild", &mut c),
        );
        assert!(matches!(parse_line(b"ir/)", &mut c), Parsed::Malformed(_)));
    }

    proptest::proptest! {
        /// The word test finds what a byte search of the tag's last eight bytes finds, with
        /// slashes anywhere, bytes next to `/` in value (`.`, `0`) and with the high bit set.
        #[test]
        fn last_slash_in_tail_is_a_search_of_the_last_eight_bytes(
            tag in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b'/'),
                    proptest::strategy::Just(b'.'),
                    proptest::strategy::Just(b'0'),
                    proptest::strategy::Just(0xaf_u8),
                    proptest::prelude::any::<u8>(),
                    proptest::strategy::Just(b's'),
                ],
                0..20,
            ),
        ) {
            let tail = tag.len().saturating_sub(8);
            let expected = tag[tail..].iter().rposition(|&b| b == b'/').map(|i| tail + i);
            proptest::prop_assert_eq!(last_slash_in_tail(&tag), expected);
        }
    }

    proptest::proptest! {
        /// The names told from a word are the names a search for the `=` finds, read as a
        /// slice: every field name of a delivery line, names one byte longer or shorter, one
        /// byte changed, and any bytes.
        #[test]
        fn field_names_from_a_word_agree_with_a_search(
            name in proptest::sample::select(vec![
                &b"to"[..], b"orig_to", b"relay", b"delay", b"delays", b"dsn", b"status",
                b"conn_use", b"t", b"too", b"delayss", b"dsnx", b"statu", b"orig_t", b"",
            ]),
            change in proptest::option::of((0usize..9, proptest::prelude::any::<u8>())),
            tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..10),
        ) {
            let mut rest = [name, b"="].concat();
            if let Some((at, byte)) = change {
                let at = at % rest.len();
                rest[at] = byte;
            }
            rest.extend_from_slice(&tail);
            if let Some((field, len)) = Field::at(&rest) {
                let eq = rest.iter().position(|&b| b == b'=');
                proptest::prop_assert_eq!(eq, Some(len - 1));
                proptest::prop_assert_eq!(field, Field::of(&rest[..len - 1]));
                proptest::prop_assert!(field != Field::Other || rest.starts_with(b"delay"));
            } else if rest.len() >= 8
                && let Some(eq) = rest.iter().position(|&b| b == b'=')
            {
                // Only names it does not know are left to the search.
                let known = [&b"to"[..], b"orig_to", b"relay", b"delay", b"delays", b"dsn", b"status"];
                proptest::prop_assert!(!known.contains(&&rest[..eq]));
            }
        }
    }

    proptest::proptest! {
        /// The word test accepts exactly the ids a byte-by-byte check accepts: ids of letters
        /// and digits, some with one other byte put in (the bytes just outside each range of
        /// letters and digits, or any byte, high bit set included).
        #[test]
        fn queue_id_words_agree_with_a_byte_check(
            mut id in proptest::collection::vec(
                proptest::sample::select(
                    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".to_vec(),
                ),
                0..26,
            ),
            odd in proptest::option::of((
                proptest::prelude::any::<usize>(),
                proptest::prop_oneof![
                    proptest::sample::select(b"/:@[`{ \x7f".to_vec()),
                    proptest::prelude::any::<u8>(),
                ],
            )),
        ) {
            if let Some((at, byte)) = odd
                && !id.is_empty()
            {
                let at = at % id.len();
                id[at] = byte;
            }
            let expected =
                id.len() >= 5 && id.iter().all(u8::is_ascii_alphanumeric) && id != b"NOQUEUE";
            proptest::prop_assert_eq!(is_queue_id(&id), expected);
        }

        /// The same port as the standard parse of the same text, for digits, signs, spaces,
        /// leading zeros, numbers past 65535, the bytes next to the digits and bytes that are
        /// not UTF-8.
        #[test]
        fn port_reads_as_the_standard_parse(
            port in proptest::collection::vec(
                proptest::prop_oneof![
                    (b'0'..=b'9'),
                    proptest::strategy::Just(b'0'),
                    proptest::strategy::Just(b'+'),
                    proptest::strategy::Just(b'-'),
                    proptest::strategy::Just(b' '),
                    // The bytes on either side of the digits.
                    proptest::strategy::Just(b'/'),
                    proptest::strategy::Just(b':'),
                    proptest::prelude::any::<u8>(),
                ],
                0..8,
            ),
        ) {
            let standard = std::str::from_utf8(&port).ok().and_then(|p| p.parse::<u16>().ok());
            proptest::prop_assert_eq!(parse_port(&port), standard);
        }
    }

    #[test]
    fn ports_at_the_edges() {
        for (text, port) in [
            ("25", Some(25)),
            ("+587", Some(587)),
            ("000025", Some(25)),
            ("65535", Some(65535)),
            ("65536", None),
            ("99999999999", None),
            ("", None),
            ("+", None),
            ("-1", None),
            ("25 ", None),
            ("2a", None),
            ("2:", None),
            ("/5", None),
        ] {
            assert_eq!(parse_port(text.as_bytes()), port, "{text:?}");
        }
    }
}
