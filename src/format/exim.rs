//! Exim main log lines (`mainlog`, or the same lines through syslog) into delivery records.
//!
//! A mainlog line is `YYYY-MM-DD HH:MM:SS[.mmm] [±HHMM] [[pid]] <message id> <flag> ...`.
//! [`parse_line`] reads the timestamp, then the message id (16-character `1jmFYj-00039V-QX` or
//! 23-character `1tixMn-00000000C5j-1wRa`), then the flag **by position** right after the id:
//! quoted fields such as `C="... => 250 ..."` contain flag-like text, so the line is never
//! searched for one. Lines without an id (connections, rejected RCPTs, queue runs) are
//! [`Parsed::Skip`] after a few byte comparisons.
//!
//! | flag | record |
//! |------|--------|
//! | `<=` arrival, `(=` fake-rejected arrival | [`Record::Sender`]; sender `<>` is a bounce message |
//! | `=>` delivery, `->` further address of the same delivery, `>>` cutthrough | [`Status::Sent`] |
//! | `==` deferral | [`Status::Deferred`] |
//! | `**` failure | [`Status::Bounced`], or [`Status::Expired`] when Exim gave up retrying |
//! | `Completed` | [`Record::Removed`] |
//! | `*>` | skipped: delivery suppressed by `-N` (a test run), nothing left the host |
//!
//! A `**` whose reason is `retry timeout exceeded` or `all hosts ... have been failing for a
//! long time` is Exim giving up after temporary failures: the same thing Postfix logs as
//! `status=expired`, so it is counted as expired, not as a bounce, and both MTAs mean the same
//! in the dataset.
//!
//! Delivery fields are read one `KEY=value` at a time (values quoted with `"` may contain
//! spaces, `\"` and anything flag-like); `H=` is read in all its forms (`name [ip]`,
//! `(helo) [ip]`, `name (helo) [ip]:port`, `[ip]*` for a reused connection). The first `:`
//! that is not inside a value starts the failure text, which [`parse_reason`] turns into
//! reply code, enhanced code and SMTP stage.
//!
//! Exim through syslog (`... host exim[pid]: 2025-02-14 18:12:33.501 [pid] id ...`) takes the
//! host from the syslog header. Syslog splits long entries into `[n/m]` parts (`[n\m]` when the
//! part ended at a newline); [`Reassembler`] puts them back together before parsing.

use std::cell::Cell;
use std::sync::LazyLock;

use memchr::memmem::{self, Finder};

use super::postfix::reply_code_of;
use super::syslog::{
    self, HIGH_BITS, LOW_BITS, TimeContext, alnum_bits, digit_bits, find_near, find_pair,
    zero_byte_bits,
};
use super::{Delivery, Envelope, Parsed, Reason, Record, Status};
use crate::event::{EnhancedCode, Stage};

/// The correlation instance of Exim records: one queue per host.
pub const INSTANCE: &[u8] = b"exim";

const BAD_TIMESTAMP: &str = "bad exim timestamp";
const NO_RECIPIENT: &str = "exim delivery line without recipient";
const REJECTLOG: &str = "exim rejectlog line: not a delivery log";
const ORPHAN_PART: &str = "exim syslog part without its first part";

/// Searchers for the phrases of failure texts, built once (building one per search costs
/// more than the search on a short text).
static SMTP_ERROR: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new("SMTP error from remote mail server after "));
static SMTP_TIMEOUT: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new("SMTP timeout after "));
static CLOSED_CONNECTION: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new("closed connection in response to "));
static FAILING_LONG: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new("have been failing for a long time"));
static MX_NON_EXISTENT: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new("all relevant MX records point to non-existent hosts"));

/// Parses one line (without its trailing newline): a mainlog line, or one written through
/// syslog.
pub fn parse_line<'a>(line: &'a [u8], time: &mut TimeContext) -> Parsed<'a> {
    if line.first().is_some_and(u8::is_ascii_digit)
        && let Some((time_us, rest)) = exim_timestamp(line, time)
    {
        return parse_body(time_us, b"", rest);
    }
    if is_rejectlog_line(line) {
        return Parsed::Malformed(REJECTLOG);
    }
    let header = match syslog::parse(line, time) {
        Ok(header) => header,
        Err(_) => return Parsed::Malformed(BAD_TIMESTAMP),
    };
    if !header.tag.starts_with(b"exim") {
        return Parsed::Skip;
    }
    let mut message = header.message;
    if let Some(part) = split_part(message) {
        if part.index != 1 {
            return Parsed::Malformed(ORPHAN_PART);
        }
        // A first part on its own (the rest was lost): read what it holds.
        message = part.text;
    }
    match exim_timestamp(message, time) {
        Some((time_us, rest)) => parse_body(time_us, header.host, rest),
        // `syslog_timestamp = false`: the syslog envelope's time is the only one.
        None => parse_body(header.time_us, header.host, message),
    }
}

/// Whether the first bytes of a file look like an Exim log: its lines are voted on, so a
/// Postfix log that mentions Exim (or an Exim log that mentions Postfix) is not misread. A
/// line votes for Exim when it starts with an Exim timestamp that is not followed by a syslog
/// `host tag:`, or carries an `exim[pid]:` tag; for Postfix when it carries a Postfix tag.
pub fn looks_like_exim(prefix: &[u8]) -> bool {
    let mut time = TimeContext::utc(jiff::Timestamp::UNIX_EPOCH);
    let (mut exim, mut postfix) = (0u32, 0u32);
    for line in prefix.split(|&c| c == b'\n').take(200) {
        if line.get(4) == Some(&b'-') && line.get(10) == Some(&b' ') {
            if let Some((_, rest)) = exim_timestamp(line, &mut time) {
                let mut words = rest.splitn(3, |&c| c == b' ');
                let first = words.next().unwrap_or_default();
                let second = words.next().unwrap_or_default();
                if message_id_len(first).is_some() || !second.ends_with(b":") {
                    exim += 1;
                    continue;
                }
            }
        }
        let head = &line[..line.len().min(120)];
        if memmem::find(head, b" exim[").is_some()
            || memmem::find(head, b" exim4[").is_some()
            || memmem::find(head, b" exim: ").is_some()
        {
            exim += 1;
        } else if memmem::find(head, b" postfix").is_some() {
            postfix += 1;
        }
    }
    exim > postfix
}

/// The rest of a line after its timestamp (and pid): message id, flag, fields.
fn parse_body<'a>(time_us: i64, host: &'a [u8], rest: &'a [u8]) -> Parsed<'a> {
    let Some(id_len) = message_id_len(rest) else {
        return Parsed::Skip;
    };
    let queue_id = &rest[..id_len];
    let body = rest.get(id_len + 1..).unwrap_or_default();
    let envelope = Envelope {
        time_us,
        host,
        instance: INSTANCE,
        queue_id,
    };
    let (flag, after) = match body.get(..3) {
        Some([a, b, b' ']) => ([*a, *b], &body[3..]),
        _ => {
            return if body.starts_with(b"Completed") {
                Parsed::Record(envelope, Record::Removed)
            } else {
                Parsed::Skip
            };
        }
    };
    let status = match &flag {
        b"<=" | b"(=" => {
            let sender = match find_space(after) {
                Some(end) => &after[..end],
                None => after,
            };
            let sender = if sender == b"<>" { &[][..] } else { sender };
            return Parsed::Record(envelope, Record::Sender { sender });
        }
        b"=>" | b"->" | b">>" => Status::Sent,
        b"==" => Status::Deferred,
        b"**" => Status::Bounced,
        _ => return Parsed::Skip,
    };
    match parse_delivery(after, status) {
        Ok(delivery) => Parsed::Record(envelope, Record::Delivery(delivery)),
        Err(reason) => Parsed::Malformed(reason),
    }
}

/// Reads `YYYY-MM-DD HH:MM:SS[.mmm][ ±HHMM][ [pid]] ` at the start of `b`; returns UTC
/// microseconds and the rest after the separating space.
#[inline(always)]
fn exim_timestamp<'a>(b: &'a [u8], time: &mut TimeContext) -> Option<(i64, &'a [u8])> {
    if b.len() < 20 || b[4] != b'-' {
        return None;
    }
    let local = local_seconds(&b[..19])?;
    let mut pos = 19;
    let mut micros = 0i64;
    if b[pos] == b'.' {
        let digits = b[pos + 1..]
            .iter()
            .take(6)
            .take_while(|c| c.is_ascii_digit())
            .count();
        let mut scale = 100_000;
        for &d in &b[pos + 1..pos + 1 + digits] {
            micros += i64::from(d - b'0') * scale;
            scale /= 10;
        }
        pos += 1 + digits;
    }
    let mut utc_us = None;
    // ` +0200` (log_timezone).
    if let Some(&[b' ', sign @ (b'+' | b'-'), h1, h2, m1, m2]) = b.get(pos..pos + 6)
        && let (Some(oh), Some(om)) = (number(&[h1, h2]), number(&[m1, m2]))
    {
        let offset = i64::from(oh * 3600 + om * 60);
        let offset = if sign == b'-' { -offset } else { offset };
        utc_us = Some((local - offset) * 1_000_000 + micros);
        pos += 6;
    }
    let utc_us = utc_us.unwrap_or_else(|| time.local_to_utc_us(local, micros));
    let mut rest = b.get(pos..)?.strip_prefix(b" ")?;
    // ` [pid]` (log_selector +pid).
    if rest.first() == Some(&b'[') {
        let digits = leading_digits(&rest[1..]);
        if rest.get(1 + digits) == Some(&b']') {
            rest = &rest[2 + digits..];
            rest = rest.strip_prefix(b" ").unwrap_or(rest);
        }
    }
    Some((utc_us, rest))
}

thread_local! {
    /// The last `YYYY-MM-DD HH:MM:SS` read (as the little-endian words at bytes 0, 8 and 11)
    /// and its local seconds: a log's lines share their second with the lines around them,
    /// so most lines are one comparison instead of six numbers, five separators and a
    /// calendar. All zeros never matches a stamp (byte 4 of one is `-`).
    static LAST_STAMP: Cell<([u64; 3], i64)> = const { Cell::new(([0; 3], 0)) };
    /// The last date seen (`year * 10_000 + month * 100 + day`) and its first second: a log's
    /// lines share a date for a day.
    static LAST_DAY: Cell<(u32, i64)> = const { Cell::new((0, 0)) };
}

/// Eight bytes of `b` from `at`, as one little-endian word.
#[inline]
fn word_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("eight bytes"))
}

/// Local seconds (counted as if they were UTC) of the 19-byte `YYYY-MM-DD HH:MM:SS` in
/// `stamp` (whose byte 4 the caller checked is `-`); `None` when it is not such a stamp or a
/// field is out of range.
#[inline]
fn local_seconds(stamp: &[u8]) -> Option<i64> {
    let key = [word_at(stamp, 0), word_at(stamp, 8), word_at(stamp, 11)];
    let (last_key, last_seconds) = LAST_STAMP.get();
    if key == last_key {
        return Some(last_seconds);
    }
    new_local_seconds(stamp, key)
}

/// [`local_seconds`] of a stamp other than the last one.
#[cold]
fn new_local_seconds(b: &[u8], key: [u64; 3]) -> Option<i64> {
    if b[7] != b'-' || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = number(&b[..4])?;
    let month = number(&b[5..7])?;
    let day = number(&b[8..10])?;
    let (h, m, s) = (
        number(&b[11..13])?,
        number(&b[14..16])?,
        number(&b[17..19])?,
    );
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let seconds = day_seconds(year, month, day) + i64::from(h * 3600 + m * 60 + s.min(59));
    LAST_STAMP.set((key, seconds));
    Some(seconds)
}

/// Seconds from the epoch to the start of a civil date (counted as if it were UTC).
fn day_seconds(year: u32, month: u32, day: u32) -> i64 {
    let key = year * 10_000 + month * 100 + day;
    LAST_DAY.with(|last| {
        let (cached, seconds) = last.get();
        if cached == key {
            return seconds;
        }
        let seconds = syslog::civil_seconds(year as i32, month, day, 0, 0, 0);
        last.set((key, seconds));
        seconds
    })
}

use super::syslog::digits as number;

/// The length of the Exim message id at the start of `b` (16: `1jmFYj-00039V-QX`, or 23 since
/// Exim 4.97: `1tixMn-00000000C5j-1wRa`), if it is followed by a space or the end.
#[inline(always)]
pub fn message_id_len(b: &[u8]) -> Option<usize> {
    if b.get(6) != Some(&b'-') {
        return None;
    }
    // The dashes are checked one by one; every other byte must be a letter or a digit, which
    // is checked eight bytes at a time (the dashes' bytes count as good).
    let good = |at: usize, dashes: u64| alnum_bits(word_at(b, at)) | dashes == HIGH_BITS;
    let ends = |len: usize| b.len() == len || b[len] == b' ';
    if b.get(13) == Some(&b'-') {
        let ok = b.len() >= 16 && ends(16) && good(0, dash_bit(6)) && good(8, dash_bit(5));
        return ok.then_some(16);
    }
    let ok = b.len() >= 23
        && b[18] == b'-'
        && ends(23)
        && good(0, dash_bit(6))
        && good(8, 0)
        && good(15, dash_bit(3));
    ok.then_some(23)
}

/// The number of ASCII digits at the start of `b`: eight bytes at a time (a pid or a port is
/// short).
#[inline(always)]
fn leading_digits(b: &[u8]) -> usize {
    let mut n = 0;
    while let Some(word) = b.get(n..n + 8) {
        let other = !digit_bits(word_at(word, 0)) & HIGH_BITS;
        if other != 0 {
            return n + (other.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + b[n..].iter().take_while(|c| c.is_ascii_digit()).count()
}

/// The high bit of byte `i` of a little-endian word.
const fn dash_bit(i: u32) -> u64 {
    0x80 << (8 * i)
}

/// The header-dump lines only the reject log has: `Envelope-from: <...>`, a header with its
/// one-character flag (`P Received: ...`, `  Subject: ...`) or a folded header line.
fn is_rejectlog_line(line: &[u8]) -> bool {
    if line.starts_with(b"Envelope-from: ") || line.starts_with(b"Envelope-to: ") {
        return true;
    }
    match line {
        [b' ' | b'\t', ..] => true,
        [flag, b' ', rest @ ..] if flag.is_ascii_uppercase() || *flag == b'*' => {
            let name = rest
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'-')
                .count();
            name > 0 && rest.get(name) == Some(&b':')
        }
        _ => false,
    }
}

fn parse_delivery(b: &[u8], status: Status) -> Result<Delivery<'_>, &'static str> {
    let mut delivery = Delivery {
        recipient: &[],
        orig_recipient: None,
        relay_host: None,
        relay_ip: None,
        relay_port: None,
        dsn: None,
        status,
        reason: Reason::default(),
    };
    // The address, ending at a space, or at `: ` when the reason follows straight away.
    let mut end = find_space(b).unwrap_or(b.len());
    let mut address = &b[..end];
    if let Some(stripped) = address.strip_suffix(b":") {
        address = stripped;
        end -= 1;
    }
    if address.is_empty() {
        return Err(NO_RECIPIENT);
    }
    let mut pos = end;
    // ` <parent>`: the address as it was before routing (an alias, or for a local user the
    // full address).
    let mut parent = None;
    if b.get(pos..pos + 2) == Some(b" <")
        && let Some(close) = find_near(b'>', &b[pos + 2..])
    {
        parent = Some(&b[pos + 2..pos + 2 + close]);
        pos += 2 + close + 1;
    }
    // Local users, pipes, files and `:blackhole:` carry their domain in the parent address.
    match parent {
        Some(p) if !address.contains(&b'@') && p.contains(&b'@') => {
            delivery.recipient = p;
            delivery.orig_recipient = Some(address);
        }
        _ => {
            delivery.recipient = address.strip_prefix(b">").unwrap_or(address);
            delivery.orig_recipient = parent;
        }
    }

    let mut errno: Option<i32> = None;
    let mut text: &[u8] = &[];
    while pos < b.len() {
        match b[pos] {
            b' ' => {
                pos += 1;
                continue;
            }
            b':' => {
                text = b[pos + 1..].trim_ascii();
                break;
            }
            _ => {}
        }
        let rest = &b[pos..];
        if let Some(key_len) = key_len(rest) {
            let value_start = pos + key_len + 1;
            pos = match (key_len, rest[0]) {
                (1, b'H') => parse_host(b, value_start, &mut delivery),
                (1, b'C') if status == Status::Sent => {
                    let (value, next) = field_value(b, value_start);
                    delivery.reason.text = value;
                    // Of the fields after it (`QT=`, `DT=`), only another `H=` or `C=` would
                    // change a sent delivery (its failure text and errno are not read): with
                    // no `H` or `C` left in the line there is nothing more to read.
                    if find_either(b'H', b'C', &b[next..]).is_none() {
                        break;
                    }
                    next
                }
                // Only where the value ends matters.
                _ => field_value(b, value_start).1,
            };
            // The space after the value, if that is where it ended.
            if b.get(pos) == Some(&b' ') {
                pos += 1;
            }
            continue;
        }
        if rest.starts_with(b"defer (") {
            let close = find_near(b')', rest).unwrap_or(rest.len());
            errno = std::str::from_utf8(&rest[7..close])
                .ok()
                .and_then(|n| n.parse().ok());
            pos += (close + 1).min(rest.len());
            continue;
        }
        // A bare word (`routing`, `K`, `L`, `*`, local_scan notes): skip it.
        pos = word_end(b, pos);
    }
    if status != Status::Sent {
        delivery.reason = parse_reason(text);
        if delivery.reason.stage.is_none() {
            delivery.reason.stage = errno.and_then(errno_stage);
        }
        if status == Status::Bounced && gave_up_retrying(text) {
            delivery.status = Status::Expired;
        }
    }
    Ok(delivery)
}

/// The length of the key of a `KEY=value` field at the start of `rest`: a letter, then
/// letters or digits, eight at most, then `=`.
#[inline(always)]
fn key_len(rest: &[u8]) -> Option<usize> {
    // Most keys are one or two bytes (`R=`, `T=`, `H=`, `CV=`, `QT=`).
    if rest.get(1) == Some(&b'=') {
        return rest[0].is_ascii_alphabetic().then_some(1);
    }
    if rest.get(2) == Some(&b'=') {
        return (rest[0].is_ascii_alphabetic() && rest[1].is_ascii_alphanumeric()).then_some(2);
    }
    let len = match rest.get(..8) {
        Some(word) => {
            let other = !alnum_bits(word_at(word, 0)) & HIGH_BITS;
            if other == 0 {
                8
            } else {
                (other.trailing_zeros() / 8) as usize
            }
        }
        None => rest
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric())
            .count(),
    };
    (len > 0 && rest[0].is_ascii_alphabetic() && rest.get(len) == Some(&b'=')).then_some(len)
}

/// The end of an unquoted value or bare word: the next space, or a `:` that is followed by a
/// space or ends the line (the start of the reason). Only the byte before the first space (or
/// the last byte of the line) can be such a `:`, so one search for the space finds both.
#[inline(always)]
fn word_end(b: &[u8], pos: usize) -> usize {
    let Some(rest) = b.get(pos..) else {
        return pos;
    };
    match find_space(rest) {
        Some(space) if space > 0 && rest[space - 1] == b':' => pos + space - 1,
        Some(space) => pos + space,
        None if rest.last() == Some(&b':') => b.len() - 1,
        None => b.len(),
    }
}

/// A field value starting at `start`: quoted (`"..."` with `\"` escapes; returned without the
/// quotes, escapes left as they are) or up to [`word_end`]. Returns the value and where the
/// next field starts.
#[inline(always)]
fn field_value(b: &[u8], start: usize) -> (&[u8], usize) {
    if b.get(start) == Some(&b'"') {
        let mut i = start + 1;
        while let Some(at) = find_either(b'"', b'\\', &b[i.min(b.len())..]) {
            i += at;
            if b[i] == b'"' {
                return (&b[start + 1..i], i + 1);
            }
            i += 2;
        }
        // Unterminated (a cut line): the rest is the value.
        return (&b[(start + 1).min(b.len())..], b.len());
    }
    let end = word_end(b, start);
    (&b[start..end], end)
}

/// The position of the first `a` or `b` in `hay`. Fields and values are short: their first
/// bytes are searched eight at a time in a plain register, which costs less than setting up a
/// vector search; `memchr2` takes over for the rest.
#[inline(always)]
fn find_either(a: u8, b: u8, hay: &[u8]) -> Option<usize> {
    const HEAD: usize = 64;
    let (a_bytes, b_bytes) = (LOW_BITS * u64::from(a), LOW_BITS * u64::from(b));
    let mut i = 0;
    while i < HEAD
        && let Some(word) = hay.get(i..i + 8)
    {
        let word = word_at(word, 0);
        // Either mask may mark bytes above its first zero byte too; the lowest mark of the
        // two is exact.
        let found = zero_byte_bits(word ^ a_bytes) | zero_byte_bits(word ^ b_bytes);
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if i < HEAD {
        return hay[i..]
            .iter()
            .position(|&c| c == a || c == b)
            .map(|p| p + i);
    }
    memchr::memchr2(a, b, &hay[i..]).map(|p| p + i)
}

/// The first space in `hay`, eight bytes at a time: [`find_near`] made where it is used, for
/// the short values and words between the fields' spaces.
#[inline(always)]
fn find_space(hay: &[u8]) -> Option<usize> {
    let spaces = LOW_BITS * u64::from(b' ');
    let mut i = 0;
    while let Some(word) = hay.get(i..i + 8) {
        let found = zero_byte_bits(word_at(word, 0) ^ spaces);
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    hay[i..].iter().position(|&c| c == b' ').map(|p| p + i)
}

/// `H=name [ip]`, `H=(helo) [ip]`, `H=name (helo) [ip]:port`, `H=[ip]*`; a missing `]` (a
/// damaged line) ends the address at the reason's `: `. Returns where the next field starts.
///
/// Out of line: inlined into the loop over the fields, it took the registers the common
/// fields need.
#[inline(never)]
fn parse_host<'a>(b: &'a [u8], start: usize, delivery: &mut Delivery<'a>) -> usize {
    let mut pos = start;
    if b.get(pos) != Some(&b'[') {
        let end = word_end(b, pos);
        let name = &b[pos..end];
        if !name.starts_with(b"(") {
            delivery.relay_host = Some(name);
        }
        pos = end;
        // ` (helo)` after a name.
        if b.get(pos..pos + 2) == Some(b" (")
            && let Some(close) = find_near(b')', &b[pos..])
        {
            pos += close + 1;
        }
        if b.get(pos..pos + 2) != Some(b" [") {
            return pos;
        }
        pos += 1;
    }
    // At '['. The `]` counts if it comes before the end of the word (a space, or a `:` before
    // a space or the end of the line): no space may come before it.
    let inner_start = pos + 1;
    let close =
        find_either(b']', b' ', &b[inner_start..]).filter(|&close| b[inner_start + close] == b']');
    match close {
        Some(close) => {
            delivery.relay_ip = Some(&b[inner_start..inner_start + close]);
            pos = inner_start + close + 1;
            if b.get(pos) == Some(&b':') {
                let digits = leading_digits(&b[pos + 1..]).min(5);
                if digits > 0 {
                    delivery.relay_port = number(&b[pos + 1..pos + 1 + digits])
                        .and_then(|port| u16::try_from(port).ok());
                    pos += 1 + digits;
                }
            }
            if b.get(pos) == Some(&b'*') {
                pos += 1;
            }
            pos
        }
        None => {
            let limit = word_end(b, inner_start);
            delivery.relay_ip = Some(&b[inner_start..limit]);
            limit
        }
    }
}

/// The SMTP stage an Exim `defer (errno)` implies, when the text names none.
fn errno_stage(errno: i32) -> Option<Stage> {
    match errno {
        // ERRNO_MAIL4XX, ERRNO_RCPT4XX, ERRNO_DATA4XX.
        -45 => Some(Stage::MailFrom),
        -44 => Some(Stage::RcptTo),
        -46 => Some(Stage::Data),
        // ETIMEDOUT, ECONNREFUSED, EHOSTUNREACH, ENETUNREACH.
        110 | 111 | 113 | 101 => Some(Stage::Connect),
        _ => None,
    }
}

/// Exim gave up after temporary failures (Postfix says `expired`).
fn gave_up_retrying(text: &[u8]) -> bool {
    text.starts_with(b"retry timeout exceeded") || FAILING_LONG.find(text).is_some()
}

/// Reads an Exim failure text: `SMTP error from remote mail server after RCPT TO:<a@b>: 550
/// 5.1.1 ...`, `SMTP timeout after ...`, connection and DNS failures, retry notes.
pub fn parse_reason(text: &[u8]) -> Reason<'_> {
    // Where Exim writes it, the phrase starts the text: one comparison instead of a search.
    let smtp_error = if text.starts_with(SMTP_ERROR.needle()) {
        Some(0)
    } else {
        SMTP_ERROR.find(text)
    };
    if let Some(at) = smtp_error {
        let after = &text[at + SMTP_ERROR.needle().len()..];
        let stage = stage_phrase(after);
        // `RCPT TO:<x>: 550 ...` and `MAIL FROM:<x> SIZE=123: 451 ...` hold colons of their
        // own: the reply starts at the first `: ` after the address's `>`.
        let command_end = match find_near(b'<', &after[..after.len().min(24)]) {
            Some(open) => find_near(b'>', &after[open..]).map_or(0, |close| open + close),
            None => 0,
        };
        let reply_at = find_pair(&after[command_end..], b':', b" ").map(|i| command_end + i + 2);
        if let Some(reply_at) = reply_at {
            return reply_reason(after[reply_at..].trim_ascii(), stage);
        }
        return Reason {
            stage,
            text,
            ..Reason::default()
        };
    }
    let stage = if let Some(at) = SMTP_TIMEOUT.find(text) {
        stage_phrase(&text[at + SMTP_TIMEOUT.needle().len()..])
    } else if let Some(at) = CLOSED_CONNECTION.find(text) {
        stage_phrase(&text[at + CLOSED_CONNECTION.needle().len()..])
    } else if text.starts_with(b"Connection refused")
        || text.starts_with(b"Connection timed out")
        || text.starts_with(b"Unrouteable address")
        || text.starts_with(b"No route to host")
        || text.starts_with(b"Network is unreachable")
        || text.starts_with(b"lookup of host")
        || text.starts_with(b"no IP address found")
        || MX_NON_EXISTENT.find(text).is_some()
    {
        Some(Stage::Connect)
    } else {
        None
    };
    Reason {
        reply_code: None,
        enhanced_code: if stage == Some(Stage::Connect) {
            None
        } else {
            EnhancedCode::find(text)
        },
        stage,
        text,
    }
}

fn reply_reason(reply: &[u8], stage: Option<Stage>) -> Reason<'_> {
    let reply_code = reply_code_of(reply);
    let enhanced_code = match reply_code {
        Some(_) => {
            let after = &reply[3..];
            let after = after
                .strip_prefix(b"-")
                .or_else(|| after.strip_prefix(b" "))
                .unwrap_or(after);
            EnhancedCode::parse_prefix(after.trim_ascii_start()).map(|(code, _)| code)
        }
        None => EnhancedCode::find(reply),
    };
    Reason {
        reply_code,
        enhanced_code,
        stage,
        text: reply,
    }
}

/// The stage named at the start of `phrase` (`RCPT TO:<...>`, `end of data`, `pipelined
/// DATA`, `sending data block`, `MAIL FROM`, `EHLO x`, `initial connection`...).
fn stage_phrase(phrase: &[u8]) -> Option<Stage> {
    let phrase = phrase.strip_prefix(b"pipelined ").unwrap_or(phrase);
    const STAGES: &[(&[u8], Stage)] = &[
        (b"RCPT TO", Stage::RcptTo),
        (b"MAIL FROM", Stage::MailFrom),
        (b"end of data", Stage::EndOfData),
        // BDAT chunks carry the body: their reply is the body's.
        (b"sending data block", Stage::EndOfData),
        (b"DATA", Stage::Data),
        (b"BDAT", Stage::EndOfData),
        (b"initial connection", Stage::Greeting),
        (b"EHLO", Stage::Ehlo),
        (b"HELO", Stage::Ehlo),
        (b"LHLO", Stage::Ehlo),
        (b"STARTTLS", Stage::StartTls),
        (b"AUTH", Stage::Auth),
        (b"QUIT", Stage::Quit),
    ];
    STAGES
        .iter()
        .find(|(prefix, _)| phrase.starts_with(prefix))
        .map(|&(_, stage)| stage)
}

/// Folds a multi-line reply as Exim logs it (lines joined by a literal `\n`: `550-5.7.26 a\n550
/// 5.7.26 b`) into plain text (`550 5.7.26 a b`).
///
/// The same as [`super::postfix::fold_reply`] of the reply with every `\n` made a space, done
/// in place in `out`: every step reads at least as many bytes as it writes, and runs of bytes
/// that need no change are found eight at a time.
pub fn fold_reply(reply: &[u8], out: &mut Vec<u8>) {
    out.clear();
    // Backslashes are rare and the reply can be long: one vector search finds them.
    let mut rest = reply;
    while let Some(at) = memchr::memchr(b'\\', rest) {
        if rest.get(at + 1) == Some(&b'n') {
            out.extend_from_slice(&rest[..at]);
            out.push(b' ');
            rest = &rest[at + 2..];
        } else {
            out.extend_from_slice(&rest[..=at]);
            rest = &rest[at + 1..];
        }
    }
    out.extend_from_slice(rest);
    fold_in_place(out);
}

/// Folds `550-5.7.26 first line 550-5.7.26 second line 550 5.7.26 last` into `550 5.7.26 first
/// line second line last`: after the reply code (and the enhanced code, when it follows the
/// reply code), every ` 550-` or ` 550 ` (and the enhanced code after it) is a space, and runs
/// of spaces are one.
fn fold_in_place(buf: &mut Vec<u8>) {
    if reply_code_of(buf).is_none() {
        return;
    }
    if buf.len() == 3 {
        buf.push(b' ');
        return;
    }
    let code = [buf[0], buf[1], buf[2]];
    buf[3] = b' ';
    // Up to the first change every byte stays where it is, and most replies (one line, single
    // spaces) have none.
    let Some(first) = first_change(buf, code) else {
        return;
    };
    // Nothing has moved yet. (Postfix's fold steps over the enhanced code after the reply
    // code; having no space, it is kept as it is here all the same.)
    let enhanced = folding_enhanced_code(buf).map(EnhancedCode::text);
    let enhanced = enhanced.as_deref().map_or(&b""[..], str::as_bytes);
    let (mut read, mut write) = (first, first);
    let mut last_space = buf[first - 1] == b' ';
    let len = buf.len();
    let (spaces, firsts) = (LOW_BITS * u64::from(b' '), LOW_BITS * u64::from(code[0]));
    while read < len {
        // Bytes kept as they are: up to the first space that is followed by a space or by the
        // code's first digit, seven at a time (the eighth byte of the word is the one after
        // the seventh). The masks may mark bytes that are not such a space, never miss one:
        // a false mark only ends the run early.
        if read + 8 <= len && !(last_space && buf[read] == b' ') {
            let word = word_at(buf, read);
            let space_bits = zero_byte_bits(word ^ spaces);
            let next_bits = (space_bits | zero_byte_bits(word ^ firsts)) >> 8;
            let marks = (space_bits & next_bits) | (1 << 63);
            let plain = (marks.trailing_zeros() / 8) as usize;
            if plain > 0 {
                if write != read {
                    buf.copy_within(read..read + plain, write);
                }
                read += plain;
                write += plain;
                last_space = buf[write - 1] == b' ';
                continue;
            }
        }
        // One byte.
        let c = buf[read];
        if c != b' ' {
            buf[write] = c;
            write += 1;
            read += 1;
            last_space = false;
            continue;
        }
        if buf.get(read + 1..read + 4) == Some(&code[..])
            && matches!(buf.get(read + 4), Some(b'-' | b' '))
        {
            // ` 550-` or ` 550 `, and the enhanced code after it.
            read += 5;
            if !enhanced.is_empty() && buf[read.min(len)..].starts_with(enhanced) {
                read += enhanced.len();
            }
        } else {
            read += 1;
        }
        if !last_space {
            buf[write] = b' ';
            write += 1;
            last_space = true;
        }
    }
    buf.truncate(write);
}

/// The first position from 4 on where [`fold_in_place`] changes `buf` (whose byte 3 is a
/// space): a space after a space, or a continuation ` 550-` or ` 550 ` of reply code `code`.
fn first_change(buf: &[u8], code: [u8; 3]) -> Option<usize> {
    let len = buf.len();
    let (spaces, firsts) = (LOW_BITS * u64::from(b' '), LOW_BITS * u64::from(code[0]));
    // Candidates are spaces followed by a space or by the code's first digit.
    let mut at = 3;
    loop {
        let candidate = if at + 8 <= len {
            // Seven bytes at a time, as in `fold_in_place` (the masks may mark more).
            let word = word_at(buf, at);
            let space_bits = zero_byte_bits(word ^ spaces);
            let marks = space_bits & ((space_bits | zero_byte_bits(word ^ firsts)) >> 8);
            if marks == 0 {
                at += 7;
                continue;
            }
            at + (marks.trailing_zeros() / 8) as usize
        } else {
            (at..len.saturating_sub(1))
                .find(|&i| buf[i] == b' ' && (buf[i + 1] == b' ' || buf[i + 1] == code[0]))?
        };
        if buf[candidate] == b' ' {
            if buf[candidate + 1] == b' ' {
                return Some(candidate + 1);
            }
            if candidate >= 4
                && buf.get(candidate + 1..candidate + 4) == Some(&code[..])
                && matches!(buf.get(candidate + 4), Some(b'-' | b' '))
            {
                return Some(candidate);
            }
        }
        at = candidate + 1;
    }
}

/// The enhanced code [`super::postfix::fold_reply`] takes out of continuation lines: the one
/// right after the reply code, or else the first one in the text.
fn folding_enhanced_code(reply: &[u8]) -> Option<EnhancedCode> {
    super::postfix::enhanced_code_after_reply_code(reply.trim_ascii().get(3..)?)
}

/// One part of an entry syslog split: `[n/m] text`, or `[n\m] text` when the part ended at
/// a newline of the original entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part<'a> {
    pub index: u32,
    pub total: u32,
    /// The part ended at a newline of the original entry (`\`), not at the length limit.
    pub ends_line: bool,
    pub text: &'a [u8],
}

/// Reads a `[n/m] ` or `[n\m] ` part marker at the start of a syslog message.
pub fn split_part(message: &[u8]) -> Option<Part<'_>> {
    let inner = message.strip_prefix(b"[")?;
    let close = memchr::memchr(b']', &inner[..inner.len().min(12)])?;
    let marker = &inner[..close];
    let sep = marker.iter().position(|&c| c == b'/' || c == b'\\')?;
    let index = number(&marker[..sep]).filter(|_| sep > 0)?;
    let total = number(&marker[sep + 1..]).filter(|_| sep + 1 < marker.len())?;
    if index == 0 || index > total {
        return None;
    }
    let text = &inner[close + 1..];
    Some(Part {
        index,
        total,
        ends_line: marker[sep] == b'\\',
        text: text.strip_prefix(b" ").unwrap_or(text),
    })
}

/// What [`Reassembler::feed`] made of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// Not a split part: parse the line as it is.
    Whole,
    /// A part was kept; nothing to parse yet.
    Held,
    /// The last part arrived: parse [`Reassembler::take`].
    Complete,
    /// A later part whose first part this block never saw (split across a block boundary,
    /// or lost): counted as rejected with this reason.
    Orphan(&'static str),
}

/// An entry being put back together.
#[derive(Debug, Default)]
struct Assembly {
    /// `host exim[pid]`: parts of different processes may interleave.
    key: Vec<u8>,
    /// The first part's whole line, followed by the later parts' texts.
    line: Vec<u8>,
    next: u32,
    total: u32,
}

/// Puts syslog-split Exim entries back together, reusing its buffers.
///
/// State is per block: parts of one entry that a block boundary separates are not joined.
/// The first half is parsed for what it holds when the block ends ([`Reassembler::flush`]),
/// and the later parts in the next block are counted as rejected ([`Feed::Orphan`]), so the
/// event is counted once whatever the block size, only its text may be cut.
#[derive(Debug, Default)]
pub struct Reassembler {
    open: Vec<Assembly>,
    spare: Vec<Assembly>,
    done: Vec<u8>,
}

/// Entries longer than this are not assembled further (the rest is dropped).
const MAX_ENTRY: usize = 64 * 1024;

impl Reassembler {
    pub fn new() -> Reassembler {
        Reassembler::default()
    }

    /// Looks at one line. Mainlog lines (starting with a digit) are [`Feed::Whole`] after one
    /// comparison, made where the line is read (the rest is out of line).
    #[inline]
    pub fn feed(&mut self, line: &[u8]) -> Feed {
        if line.get(4) == Some(&b'-') && line.get(10) == Some(&b' ') {
            return Feed::Whole;
        }
        self.feed_syslog(line)
    }

    /// [`Reassembler::feed`] of a line that may be a part.
    fn feed_syslog(&mut self, line: &[u8]) -> Feed {
        // The message starts after the tag's `: `; the key is the two words before it.
        let Some(colon) = find_pair(line, b':', b" ") else {
            return Feed::Whole;
        };
        let Some(part) = split_part(&line[colon + 2..]) else {
            return Feed::Whole;
        };
        let key_start = line[..colon]
            .iter()
            .rposition(|&c| c == b' ')
            .and_then(|tag| line[..tag].iter().rposition(|&c| c == b' '))
            .map_or(0, |host| host + 1);
        let key = &line[key_start..colon];
        let open = self.open.iter().position(|a| a.key == key);
        if part.index == 1 {
            if let Some(i) = open {
                // A new entry before the previous one was complete: keep what came.
                let stale = self.open.swap_remove(i);
                self.spare.push(stale);
            }
            let mut assembly = self.spare.pop().unwrap_or_default();
            assembly.key.clear();
            assembly.key.extend_from_slice(key);
            assembly.line.clear();
            assembly.line.extend_from_slice(&line[..colon + 2]);
            assembly.line.extend_from_slice(part.text);
            if part.ends_line {
                assembly.line.push(b' ');
            }
            assembly.next = 2;
            assembly.total = part.total;
            if part.total == 1 {
                std::mem::swap(&mut self.done, &mut assembly.line);
                self.spare.push(assembly);
                return Feed::Complete;
            }
            self.open.push(assembly);
            return Feed::Held;
        }
        let Some(i) = open.filter(|&i| self.open[i].next == part.index) else {
            return Feed::Orphan(ORPHAN_PART);
        };
        let assembly = &mut self.open[i];
        if assembly.line.len() + part.text.len() <= MAX_ENTRY {
            assembly.line.extend_from_slice(part.text);
            if part.ends_line {
                assembly.line.push(b' ');
            }
        }
        assembly.next += 1;
        if part.index < assembly.total {
            return Feed::Held;
        }
        let mut assembly = self.open.swap_remove(i);
        std::mem::swap(&mut self.done, &mut assembly.line);
        self.spare.push(assembly);
        Feed::Complete
    }

    /// The entry completed by the last [`Feed::Complete`]; give the buffer back with
    /// [`Reassembler::give_back`] to reuse it.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.done)
    }

    pub fn give_back(&mut self, buffer: Vec<u8>) {
        self.done = buffer;
    }

    /// Entries still incomplete at the end of a block, in the order they began: each is the
    /// first part's line plus the parts that followed it.
    pub fn flush(&mut self) -> Vec<Vec<u8>> {
        self.open.drain(..).map(|a| a.line).collect()
    }
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

    fn utc(time_us: i64) -> String {
        Timestamp::from_microsecond(time_us).unwrap().to_string()
    }

    #[test]
    fn ids_in_both_forms() {
        assert_eq!(message_id_len(b"1jmFYj-00039V-QX <= a"), Some(16));
        assert_eq!(message_id_len(b"1tixMn-00000000C5j-1wRa => b"), Some(23));
        assert_eq!(message_id_len(b"1tixMn-00000000C5j-1wRa"), Some(23));
        assert_eq!(message_id_len(b"1jmFYj-00039V-QXY => b"), None);
        assert_eq!(message_id_len(b"H=(test) [1.2.3.4] rejected"), None);
        assert_eq!(message_id_len(b"Start queue run: pid=1"), None);
        assert_eq!(message_id_len(b"1jmFYj"), None);
    }

    #[test]
    fn timestamps_with_ms_offset_and_pid() {
        let (env, _) = record("2025-02-14 18:12:33.501 +0100 [4711] 1jmFYj-00039V-QX Completed");
        assert_eq!(utc(env.time_us), "2025-02-14T17:12:33.501Z");
        assert_eq!(env.queue_id, b"1jmFYj-00039V-QX");
        assert_eq!(env.host, b"");
        assert_eq!(env.instance, INSTANCE);
        let (env, _) = record("2025-02-14 18:12:33 -0230 1jmFYj-00039V-QX Completed");
        assert_eq!(utc(env.time_us), "2025-02-14T20:42:33Z");
        let (env, _) = record("2025-02-14 18:12:33 [4711] 1jmFYj-00039V-QX Completed");
        assert_eq!(utc(env.time_us), "2025-02-14T18:12:33Z");
        let tz = jiff::tz::TimeZone::get("Europe/Berlin").unwrap();
        let mut berlin = TimeContext::new(tz, "2025-12-31T00:00:00Z".parse().unwrap(), None);
        match parse_line(
            b"2025-07-01 12:00:00 1jmFYj-00039V-QX Completed",
            &mut berlin,
        ) {
            Parsed::Record(env, Record::Removed) => {
                assert_eq!(utc(env.time_us), "2025-07-01T10:00:00Z");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn arrivals() {
        assert_eq!(
            record("2020-06-19 04:51:49 [123] 1jmFYj-00039V-QX <= noreply@test.example H=(test.example) [192.0.2.2] P=smtp S=7386").1,
            Record::Sender { sender: b"noreply@test.example" }
        );
        assert_eq!(
            record("2020-06-19 04:54:02 1jmFas-0004f6-EB <= <> R=1jmFYj-00039V-QX U=Debian-exim P=local S=8656").1,
            Record::Sender { sender: b"" }
        );
        assert_eq!(
            record(
                "2020-06-19 04:54:02 1jmFas-0004f6-EB (= a@b.example H=x [192.0.2.9] P=esmtp S=1"
            )
            .1,
            Record::Sender {
                sender: b"a@b.example"
            }
        );
    }

    #[test]
    fn delivery_with_tls_and_quoted_confirmation() {
        let d = delivery(
            r#"2025-02-14 18:12:33 1tixMn-00000000C5j-1wRa => ann@example.com R=dnslookup T=remote_smtp H=aspmx.l.google.com [142.250.4.26]:25 X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes DN="C=US,CN=mx.google.com" C="250 2.0.0 OK \"quoted\" ** == => 1700000000 x" QT=2s DT=1s"#,
        );
        assert_eq!(d.status, Status::Sent);
        assert_eq!(d.recipient, b"ann@example.com");
        assert_eq!(d.relay_host, Some(&b"aspmx.l.google.com"[..]));
        assert_eq!(d.relay_ip, Some(&b"142.250.4.26"[..]));
        assert_eq!(d.relay_port, Some(25));
        assert!(d.reason.text.starts_with(b"250 2.0.0 OK"));
        assert!(d.reason.text.ends_with(b"x"));
    }

    #[test]
    fn fields_after_the_confirmation_of_a_sent_delivery() {
        let d = delivery(
            r#"2025-02-14 18:12:33 1jmFYj-00039V-QX => a@b.example R=r T=t H=h.b.example [192.0.2.1] C="250 OK" QT=1s DT=1s"#,
        );
        assert_eq!(d.reason.text, b"250 OK");
        assert_eq!(d.relay_host, Some(&b"h.b.example"[..]));
        // A later H= or C= still counts.
        let d = delivery(
            r#"2025-02-14 18:12:33 1jmFYj-00039V-QX => a@b.example R=r T=t C="250 first" QT=1s H=mx.b.example [192.0.2.2]:25 C="250 second" DT=1s"#,
        );
        assert_eq!(d.reason.text, b"250 second");
        assert_eq!(d.relay_host, Some(&b"mx.b.example"[..]));
        assert_eq!(d.relay_ip, Some(&b"192.0.2.2"[..]));
        assert_eq!(d.relay_port, Some(25));
        // Not after the failure text of a deferral.
        let d = delivery(
            r#"2025-02-14 18:12:33 1jmFYj-00039V-QX == a@b.example R=r T=t defer (-44) H=h [192.0.2.1] C="x": SMTP error from remote mail server after RCPT TO:<a@b.example>: 450 4.2.1 H=y C=z"#,
        );
        assert_eq!(d.relay_host, Some(&b"h"[..]));
        assert_eq!(d.reason.reply_code, Some(450));
        assert!(d.reason.text.ends_with(b"H=y C=z"));
    }

    #[test]
    fn host_forms() {
        for (field, host, ip, port) in [
            (
                "H=mx.b.example [192.0.2.1]",
                Some("mx.b.example"),
                Some("192.0.2.1"),
                None,
            ),
            (
                "H=(helo.b.example) [192.0.2.1]",
                None,
                Some("192.0.2.1"),
                None,
            ),
            (
                "H=mx.b.example (helo) [192.0.2.1]:587",
                Some("mx.b.example"),
                Some("192.0.2.1"),
                Some(587),
            ),
            ("H=[2001:db8::1]*", None, Some("2001:db8::1"), None),
            (
                "H=127.0.0.1 [127.0.0.1]*",
                Some("127.0.0.1"),
                Some("127.0.0.1"),
                None,
            ),
            (
                "H=mx.b.example [192.0.2.1]:25*",
                Some("mx.b.example"),
                Some("192.0.2.1"),
                Some(25),
            ),
            // Damaged: the `]` after a space is not the address's.
            (
                "H=mx.b.example [192.0.2.1 x]",
                Some("mx.b.example"),
                Some("192.0.2.1"),
                None,
            ),
            (
                "H=mx.b.example [192.0.2.1]:99999",
                Some("mx.b.example"),
                Some("192.0.2.1"),
                None,
            ),
        ] {
            let line = format!(
                "2025-02-14 18:12:33 1jmFYj-00039V-QX => a@b.example R=r T=t {field} C=\"250 OK\""
            );
            let d = delivery(&line);
            assert_eq!(
                d.relay_host.map(|h| std::str::from_utf8(h).unwrap()),
                host,
                "{field}"
            );
            assert_eq!(
                d.relay_ip.map(|h| std::str::from_utf8(h).unwrap()),
                ip,
                "{field}"
            );
            assert_eq!(d.relay_port, port, "{field}");
            assert_eq!(d.reason.text, b"250 OK", "{field}");
        }
    }

    #[test]
    fn rcpt_rejection() {
        let d = delivery(
            "2025-02-14 18:12:33 1jmFYj-00039V-QX ** bob@b.example R=dnslookup T=remote_smtp H=mx.b.example [192.0.2.1] X=TLS1.2:ECDHE_RSA_AES_256_GCM_SHA384:256 CV=yes: SMTP error from remote mail server after RCPT TO:<bob@b.example>: 550 5.1.1 <bob@b.example>: Recipient address rejected: User unknown",
        );
        assert_eq!(d.status, Status::Bounced);
        assert_eq!(d.relay_host, Some(&b"mx.b.example"[..]));
        assert_eq!(d.reason.reply_code, Some(550));
        assert_eq!(d.reason.enhanced_code, Some(EnhancedCode::new(5, 1, 1)));
        assert_eq!(d.reason.stage, Some(Stage::RcptTo));
        assert!(d.reason.text.starts_with(b"550 5.1.1 <bob@b.example>"));
    }

    #[test]
    fn stages_of_smtp_errors() {
        for (after, stage, code) in [
            (
                "MAIL FROM:<s@a.example>: 550 5.7.1 sender rejected",
                Stage::MailFrom,
                550,
            ),
            (
                "pipelined MAIL FROM:<s@a.example>: 451 Temp error",
                Stage::MailFrom,
                451,
            ),
            (
                "end of data: 550 5.7.26 unauthenticated",
                Stage::EndOfData,
                550,
            ),
            ("pipelined DATA: 503 Sorry", Stage::Data, 503),
            ("DATA: 552 too big", Stage::Data, 552),
            ("sending data block: 500 oops", Stage::EndOfData, 500),
            (
                "pipelined sending data block: 400 oops",
                Stage::EndOfData,
                400,
            ),
            (
                "initial connection: 554 5.7.1 go away",
                Stage::Greeting,
                554,
            ),
            ("EHLO out.a.example: 421 busy", Stage::Ehlo, 421),
        ] {
            let text = format!("SMTP error from remote mail server after {after}");
            let r = parse_reason(text.as_bytes());
            assert_eq!(r.stage, Some(stage), "{after}");
            assert_eq!(r.reply_code, Some(code), "{after}");
        }
    }

    #[test]
    fn deferrals() {
        let d = delivery(
            "2025-02-14 18:12:33 1jmFYj-00039V-QX == jack@b.example R=dnslookup T=remote_smtp defer (-44) H=mx.b.example [192.0.2.1]: SMTP error from remote mail server after RCPT TO:<jack@b.example>: 450 4.7.1 <jack@b.example>: Recipient address rejected: try later",
        );
        assert_eq!(d.status, Status::Deferred);
        assert_eq!(d.relay_ip, Some(&b"192.0.2.1"[..]));
        assert_eq!(
            (d.reason.reply_code, d.reason.stage),
            (Some(450), Some(Stage::RcptTo))
        );
        assert_eq!(d.reason.enhanced_code, Some(EnhancedCode::new(4, 7, 1)));
        let d = delivery(
            "2025-02-14 18:12:33 1jmFYj-00039V-QX == bob@null.example R=dnslookup T=remote_smtp defer (110): Connection timed out",
        );
        assert_eq!(d.reason.stage, Some(Stage::Connect));
        assert_eq!(d.reason.text, b"Connection timed out");
        let d = delivery(
            "2025-02-14 18:12:33 1jmFYj-00039V-QX == u@d.example routing defer (-52): retry time not reached",
        );
        assert_eq!(d.reason.text, b"retry time not reached");
        assert_eq!(d.recipient, b"u@d.example");
        let d = delivery(
            "2025-02-14 18:12:33 1jmFYj-00039V-QX == u@d.example R=all T=smtp defer (-53): retry time not reached for any host for 'd.example'",
        );
        assert!(
            d.reason
                .text
                .starts_with(b"retry time not reached for any host")
        );
        // The errno names the stage when the text does not.
        let d = delivery(
            "2025-02-14 18:12:33 1jmFYj-00039V-QX == u@d.example R=r T=t defer (-46) H=mx [192.0.2.3]: 451 no text here",
        );
        assert_eq!(d.reason.stage, Some(Stage::Data));
    }

    #[test]
    fn failures_and_expiry() {
        let d = delivery(
            "2025-02-14 18:12:33 1jmFYj-00039V-QX ** bob@null.example: retry timeout exceeded",
        );
        assert_eq!(d.status, Status::Expired);
        assert_eq!(d.recipient, b"bob@null.example");
        assert_eq!(d.reason.text, b"retry timeout exceeded");
        let d = delivery(
            "2025-02-14 18:12:33 1jmFYj-00039V-QX ** a@b.example R=dnslookup: all hosts for 'b.example' have been failing for a long time (and retry time not reached)",
        );
        assert_eq!(d.status, Status::Expired);
        let d = delivery(
            "2025-02-14 18:12:33 1jmFYj-00039V-QX ** a@nowhere.example : Unrouteable address",
        );
        assert_eq!(d.status, Status::Bounced);
        assert_eq!(d.reason.stage, Some(Stage::Connect));
        assert_eq!(d.reason.text, b"Unrouteable address");
        let d = delivery(
            "2025-02-14 18:12:33 1jmFYj-00039V-QX ** |cat <pipe@b.example> R=userfilter : delivery to pipe forbidden",
        );
        assert_eq!(d.recipient, b"pipe@b.example");
        assert_eq!(d.orig_recipient, Some(&b"|cat"[..]));
        assert_eq!(d.reason.text, b"delivery to pipe forbidden");
        // A damaged H= field (no closing bracket) still yields the reply.
        let d = delivery(
            "2025-02-14 18:12:33 1jmFYj-00039V-QX == j@b.example R=dnslookup T=remote_smtp defer (-44) H=(relay.b.example) [192.0.2.4: SMTP error from remote mail server after RCPT TO:<j@b.example>: 450 4.7.1 not yet",
        );
        assert_eq!(d.relay_ip, Some(&b"192.0.2.4"[..]));
        assert_eq!(d.reason.reply_code, Some(450));
    }

    #[test]
    fn parent_addresses() {
        let d = delivery(
            "2025-02-14 18:12:33 1jmFYj-00039V-QX => userx <userx@b.example> R=r1 T=local_delivery",
        );
        assert_eq!(d.recipient, b"userx@b.example");
        assert_eq!(d.orig_recipient, Some(&b"userx"[..]));
        let d = delivery(
            "2025-02-14 18:12:33 1jmFYj-00039V-QX -> a@b.example <A@alias.example> R=r T=t H=h [192.0.2.1]* C=\"250 OK\"",
        );
        assert_eq!(d.recipient, b"a@b.example");
        assert_eq!(d.orig_recipient, Some(&b"A@alias.example"[..]));
    }

    #[test]
    fn skips_and_rejects() {
        let mut c = ctx();
        for line in [
            "2025-02-14 18:12:33 H=(x) [192.0.2.1] F=<a@b> rejected RCPT <c@d>: relay not permitted",
            "2025-02-14 18:12:33 Start queue run: pid=123",
            "2025-02-14 18:12:33 SMTP connection from [192.0.2.1] (TCP/IP connection count = 1)",
            "2025-02-14 18:12:33 1jmFYj-00039V-QX H=null.example [192.0.2.6] Connection timed out",
            "2025-02-14 18:12:33 1jmFYj-00039V-QX *> a@b.example R=r1 T=t1",
            "2025-02-14 18:12:33 1jmFYj-00039V-QX Message is frozen",
            "Feb 14 18:12:33 mx dovecot: imap-login: Login",
        ] {
            assert_eq!(parse_line(line.as_bytes(), &mut c), Parsed::Skip, "{line}");
        }
        assert_eq!(
            parse_line(b"Envelope-from: <a@b.example>", &mut c),
            Parsed::Malformed(REJECTLOG)
        );
        assert_eq!(
            parse_line(b"P Received: from x by y", &mut c),
            Parsed::Malformed(REJECTLOG)
        );
        assert_eq!(
            parse_line(b"******** SERVER ********", &mut c),
            Parsed::Malformed(BAD_TIMESTAMP)
        );
        assert_eq!(
            parse_line(b"2025-02-14 18:12:33 1jmFYj-00039V-QX => ", &mut c),
            Parsed::Malformed(NO_RECIPIENT)
        );
    }

    #[test]
    fn through_syslog() {
        let (env, rec) = record(
            "Feb 14 18:12:34 mx2 exim[4711]: 2025-02-14 18:12:33.501 [4711] 1jmFYj-00039V-QX ** a@b.example: retry timeout exceeded",
        );
        assert_eq!(env.host, b"mx2");
        assert_eq!(utc(env.time_us), "2025-02-14T18:12:33.501Z");
        assert!(matches!(rec, Record::Delivery(d) if d.status == Status::Expired));
        // syslog_timestamp = false: the envelope's time.
        let (env, _) =
            record("2025-02-14T18:12:34+00:00 mx2 exim[4711]: 1jmFYj-00039V-QX Completed");
        assert_eq!(utc(env.time_us), "2025-02-14T18:12:34Z");
    }

    #[test]
    fn split_parts_are_reassembled() {
        let mut r = Reassembler::new();
        assert_eq!(
            r.feed(b"2025-02-14 18:12:33 1jmFYj-00039V-QX Completed"),
            Feed::Whole
        );
        assert_eq!(
            r.feed(b"Feb 14 18:12:34 mx exim[1]: [1/3] 2025-02-14 18:12:33 1jmFYj-00039V-QX ** a@b.example R=r T=t H=mx [192.0.2.1]: SMTP error from remote mail server after end of data: 550-5.7.1 first"),
            Feed::Held
        );
        // Another process's line in between.
        assert_eq!(
            r.feed(b"Feb 14 18:12:34 mx exim[2]: 2025-02-14 18:12:33 1jmFYk-00039V-QX Completed"),
            Feed::Whole
        );
        assert_eq!(
            r.feed(b"Feb 14 18:12:34 mx exim[1]: [2\\3]  line"),
            Feed::Held
        );
        assert_eq!(
            r.feed(b"Feb 14 18:12:34 mx exim[1]: [3/3] 550 5.7.1 last"),
            Feed::Complete
        );
        let line = r.take();
        assert_eq!(
            String::from_utf8_lossy(&line),
            "Feb 14 18:12:34 mx exim[1]: 2025-02-14 18:12:33 1jmFYj-00039V-QX ** a@b.example R=r T=t H=mx [192.0.2.1]: SMTP error from remote mail server after end of data: 550-5.7.1 first line 550 5.7.1 last"
        );
        let d = match parse_line(&line, &mut ctx()) {
            Parsed::Record(_, Record::Delivery(d)) => (d.reason.reply_code, d.reason.stage),
            other => panic!("{other:?}"),
        };
        assert_eq!(d, (Some(550), Some(Stage::EndOfData)));
        r.give_back(line);
        assert_eq!(
            r.feed(b"Feb 14 18:12:35 mx exim[1]: [2/2] orphan"),
            Feed::Orphan(ORPHAN_PART)
        );
        assert_eq!(r.feed(b"Feb 14 18:12:35 mx exim[1]: [1/2] 2025-02-14 18:12:33 1jmFYj-00039V-QX == a@b.example R=r T=t defer (111): Connection refu"), Feed::Held);
        let flushed = r.flush();
        assert_eq!(flushed.len(), 1);
        assert!(matches!(
            parse_line(&flushed[0], &mut ctx()),
            Parsed::Record(_, Record::Delivery(_))
        ));
    }

    #[test]
    fn multi_line_replies_fold() {
        let mut out = Vec::new();
        fold_reply(
            br"550-5.7.26 This message is blocked.\n550-5.7.26 Pass SPF or DKIM.\n550 5.7.26 See the guidelines. - gsmtp",
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "550 5.7.26 This message is blocked. Pass SPF or DKIM. See the guidelines. - gsmtp"
        );
        fold_reply(b"451 4.7.1 Greylisted", &mut out);
        assert_eq!(out, b"451 4.7.1 Greylisted");
    }

    #[test]
    fn part_markers() {
        assert_eq!(
            split_part(b"[2\\10] x"),
            Some(Part {
                index: 2,
                total: 10,
                ends_line: true,
                text: b"x"
            })
        );
        assert_eq!(split_part(b"[0/1] x"), None);
        assert_eq!(split_part(b"[3/2] x"), None);
        assert_eq!(split_part(b"[4711] x"), None);
        assert_eq!(split_part(b"[/] x"), None);
    }

    #[test]
    fn timestamps_that_share_a_second_and_those_that_do_not() {
        let mut c = ctx();
        let mut time_of = |line: &str| match parse_line(line.as_bytes(), &mut c) {
            Parsed::Record(env, _) => utc(env.time_us),
            other => panic!("{line}: {other:?}"),
        };
        // Each byte of the stamp counts, the last one of the seconds as much as the first.
        assert_eq!(
            time_of("2025-02-14 18:12:33 1jmFYj-00039V-QX Completed"),
            "2025-02-14T18:12:33Z"
        );
        assert_eq!(
            time_of("2025-02-14 18:12:33.250 1jmFYj-00039V-QX Completed"),
            "2025-02-14T18:12:33.25Z"
        );
        assert_eq!(
            time_of("2025-02-14 18:12:34 1jmFYj-00039V-QX Completed"),
            "2025-02-14T18:12:34Z"
        );
        assert_eq!(
            time_of("2025-02-14 18:12:34 +0100 1jmFYj-00039V-QX Completed"),
            "2025-02-14T17:12:34Z"
        );
        assert_eq!(
            time_of("2024-02-14 18:12:34 1jmFYj-00039V-QX Completed"),
            "2024-02-14T18:12:34Z"
        );
        assert_eq!(
            time_of("2025-02-14 18:12:34 1jmFYj-00039V-QX Completed"),
            "2025-02-14T18:12:34Z"
        );
        // A bad stamp after a good one is still bad, and the good one is still good after it.
        assert_eq!(
            parse_line(
                b"2025-02-14 18:12:3x 1jmFYj-00039V-QX Completed",
                &mut ctx()
            ),
            Parsed::Malformed(BAD_TIMESTAMP)
        );
        assert_eq!(
            parse_line(
                b"2025-13-14 18:12:34 1jmFYj-00039V-QX Completed",
                &mut ctx()
            ),
            Parsed::Malformed(BAD_TIMESTAMP)
        );
        assert_eq!(
            time_of("2025-02-14 18:12:34 [1] 1jmFYj-00039V-QX Completed"),
            "2025-02-14T18:12:34Z"
        );
    }

    #[test]
    fn pids_of_any_length() {
        for pid in ["[]", "[1]", "[1234567]", "[12345678]", "[123456789012]"] {
            let line = format!("2025-02-14 18:12:33 {pid} 1jmFYj-00039V-QX Completed");
            assert_eq!(record(&line).0.queue_id, b"1jmFYj-00039V-QX", "{pid}");
        }
        for pid in ["[12a]", "[123456789a]", "[", "[123"] {
            let line = format!("2025-02-14 18:12:33 {pid} 1jmFYj-00039V-QX Completed");
            assert_eq!(
                parse_line(line.as_bytes(), &mut ctx()),
                Parsed::Skip,
                "{pid}"
            );
        }
    }

    /// The message id's shape as it was first written: one byte at a time.
    fn message_id_len_bytewise(b: &[u8]) -> Option<usize> {
        let shape_ok = |len: usize, parts: [usize; 3]| {
            if b.len() < len || (b.len() > len && b[len] != b' ') {
                return false;
            }
            let (first, second) = (parts[0], parts[0] + 1 + parts[1]);
            b[first] == b'-'
                && b[second] == b'-'
                && b[..len]
                    .iter()
                    .enumerate()
                    .all(|(i, c)| i == first || i == second || c.is_ascii_alphanumeric())
        };
        if b.get(6) != Some(&b'-') {
            return None;
        }
        match b.get(13) {
            Some(b'-') if shape_ok(16, [6, 6, 2]) => Some(16),
            _ if shape_ok(23, [6, 11, 4]) => Some(23),
            _ => None,
        }
    }

    /// The fold as it was first written: the lines joined with spaces, then Postfix's fold.
    fn fold_reply_joining_then_folding(reply: &[u8], out: &mut Vec<u8>) {
        let mut spaced = Vec::with_capacity(reply.len());
        let mut rest = reply;
        while let Some(at) = find_pair(rest, b'\\', b"n") {
            spaced.extend_from_slice(&rest[..at]);
            spaced.push(b' ');
            rest = &rest[at + 2..];
        }
        spaced.extend_from_slice(rest);
        crate::format::postfix::fold_reply(&spaced, out);
    }

    #[test]
    fn folds_of_continuation_lines() {
        for reply in [
            &b"550"[..],
            b"550-",
            b"550  x",
            b"550- x",
            b"550-5.7.1",
            b"550-5.7.1 a\\n550-5.7.1\\n550 5.7.1 c",
            b"550-5.7.001 a\\n550-5.7.001 b 550 5.7.1 c",
            b"550 5.7.1 a  b   c 550 d 550-e 5500 f  550",
            b"550\\n550 x\\n",
            b"250 2.0.0 OK  1749536851 q3si2001 - gsmtp",
            b" 550 x",
            b"552 1 Requested mail action aborted 550 1 x",
            b"421-4.7.28 Our system has seen an unusual rate of mail from your IP address; please\\n421 4.7.28 try again later and read the bulk sender rules. q3si - gsmtp",
        ] {
            let (mut new, mut old) = (Vec::new(), Vec::new());
            fold_reply(reply, &mut new);
            fold_reply_joining_then_folding(reply, &mut old);
            assert_eq!(
                String::from_utf8_lossy(&new),
                String::from_utf8_lossy(&old),
                "{:?}",
                String::from_utf8_lossy(reply)
            );
        }
    }

    /// [`word_end`] as it was first written: every space and colon looked at.
    fn word_end_bytewise(b: &[u8], mut pos: usize) -> usize {
        while let Some(at) = b
            .get(pos..)
            .unwrap_or_default()
            .iter()
            .position(|&c| c == b' ' || c == b':')
        {
            pos += at;
            if b[pos] == b' ' || matches!(b.get(pos + 1), None | Some(b' ')) {
                return pos;
            }
            pos += 1;
        }
        b.len().max(pos)
    }

    /// [`key_len`] as it was first written: one byte at a time.
    fn key_len_bytewise(rest: &[u8]) -> Option<usize> {
        let len = rest
            .iter()
            .take(8)
            .take_while(|c| c.is_ascii_alphanumeric())
            .count();
        (len > 0 && rest[0].is_ascii_alphabetic() && rest.get(len) == Some(&b'=')).then_some(len)
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        /// Bytes at the edges of the ranges a word-at-a-time test must tell apart.
        fn edge_byte() -> impl Strategy<Value = u8> {
            prop::sample::select(vec![
                b'0', b'9', b'a', b'z', b'A', b'Z', b'/', b':', b'@', b'[', b'`', b'{', b'-', b' ',
                0, 0x7f, 0x80, 0xb0, 0xc1, 0xe1, 0xff,
            ])
        }

        /// The word-at-a-time byte classes agree with the byte-by-byte ones.
        fn check_word_classes(bytes: [u8; 8]) -> Result<(), TestCaseError> {
            let word = u64::from_le_bytes(bytes);
            for (i, c) in bytes.iter().enumerate() {
                let bit = 0x80u64 << (8 * i);
                prop_assert_eq!(alnum_bits(word) & bit != 0, c.is_ascii_alphanumeric());
                prop_assert_eq!(digit_bits(word) & bit != 0, c.is_ascii_digit());
            }
            Ok(())
        }

        proptest! {
            #[test]
            fn word_classes_agree_with_byte_classes(bytes in prop::array::uniform8(any::<u8>())) {
                check_word_classes(bytes)?;
            }

            #[test]
            fn word_classes_at_the_edges(bytes in prop::array::uniform8(edge_byte())) {
                check_word_classes(bytes)?;
            }

            #[test]
            fn leading_digits_counts_digits(
                b in prop::collection::vec(prop::sample::select(vec![b'0', b'7', b'9', b']', b'/', b':', 0xb0]), 0..24),
            ) {
                prop_assert_eq!(leading_digits(&b), b.iter().take_while(|c| c.is_ascii_digit()).count());
            }

            #[test]
            fn message_ids_agree_with_a_bytewise_check(
                short in any::<bool>(),
                mut b in prop::collection::vec(edge_byte(), 14..30),
                cut in 0usize..30,
            ) {
                // Mostly well-shaped ids, with the edge bytes anywhere.
                b[6] = b'-';
                if short { b[13] = b'-' } else if b.len() > 18 { b[18] = b'-' }
                b.truncate(cut.max(1));
                prop_assert_eq!(message_id_len(&b), message_id_len_bytewise(&b));
            }

            #[test]
            fn folds_agree_with_joining_and_folding_as_postfix(
                head in prop::sample::select(vec![
                    "", "550", "550-", "550 ", "550-5.7.1 ", "550 5.7.1", "450-4.2.1 ", "250 2.0.0 OK  ",
                    " 550 ", "5.7.1 ", "550 5.7.001 ",
                ]),
                body in prop::collection::vec(prop::sample::select(vec![
                    b' ', b' ', b' ', b'-', b'.', b'\\', b'n', b'5', b'0', b'4', b'1', b'7', b'x',
                ]), 0..80),
                pieces in prop::collection::vec(prop::sample::select(vec![
                    "\\n550-5.7.1 ", "\\n550 5.7.1 ", " 550-5.7.1 ", " 550 ", "  ", " 550-", "\\n", "x",
                    " 550 5.7.1", " 5.7.1 ", "550", "\\",
                ]), 0..6),
            ) {
                let mut reply = head.as_bytes().to_vec();
                for (i, piece) in pieces.iter().enumerate() {
                    let at = body.len() * i / pieces.len().max(1);
                    reply.extend_from_slice(&body[at.min(body.len())..(at + 7).min(body.len())]);
                    reply.extend_from_slice(piece.as_bytes());
                }
                reply.extend_from_slice(&body);
                let (mut new, mut old) = (Vec::new(), Vec::new());
                fold_reply(&reply, &mut new);
                fold_reply_joining_then_folding(&reply, &mut old);
                prop_assert_eq!(
                    String::from_utf8_lossy(&new),
                    String::from_utf8_lossy(&old),
                    "{:?}",
                    String::from_utf8_lossy(&reply)
                );
            }

            #[test]
            fn field_scanning_agrees_with_bytewise_scanning(
                b in prop::collection::vec(prop::sample::select(vec![
                    b' ', b':', b'"', b'\\', b'=', b'a', b'Z', b'7', b'-', 0xc3,
                ]), 0..90),
                pos in 0usize..100,
            ) {
                prop_assert_eq!(word_end(&b, pos), word_end_bytewise(&b, pos));
                let rest = b.get(pos..).unwrap_or_default();
                prop_assert_eq!(key_len(rest), key_len_bytewise(rest));
                prop_assert_eq!(find_space(rest), rest.iter().position(|&c| c == b' '));
                for (x, y) in [(b' ', b':'), (b'"', b'\\')] {
                    prop_assert_eq!(
                        find_either(x, y, rest),
                        rest.iter().position(|&c| c == x || c == y)
                    );
                }
            }

            #[test]
            fn message_ids_of_any_bytes(b in prop::collection::vec(any::<u8>(), 0..30)) {
                prop_assert_eq!(message_id_len(&b), message_id_len_bytewise(&b));
            }
        }
    }
}
