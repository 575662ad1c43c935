//! Syslog envelopes: the timestamp, host and program tag in front of every mail-log line.
//!
//! Three timestamp styles are read: traditional BSD (`Jun  3 10:40:57`, no year), RFC 3339
//! (`2025-02-14T18:12:33.501234+01:00`, rsyslog's default on current distributions) and the
//! year-prefixed form some rsyslog templates write (`2013 Jun 10 06:27:30.123`); and two that
//! `journalctl` writes: `-o short-unix`'s epoch seconds (`1749536850.123456`) and `-o
//! short-full`'s weekday, date, clock and zone (`Tue 2025-06-10 08:27:30 CEST`). Times without
//! an offset (or with a zone's abbreviation) are local to `--timezone` and are converted to
//! UTC through a [`TimeContext`], which also supplies the year for lines that lack one.

use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;

use super::mask::byte_set_mask;

/// The envelope of one syslog line, borrowing from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Microseconds since the Unix epoch, UTC.
    pub time_us: i64,
    pub host: &'a [u8],
    /// The program tag without the pid: `postfix/smtp`, `postfix-out/qmgr`, `dovecot`.
    pub tag: &'a [u8],
    /// Everything after `tag[pid]: `.
    pub message: &'a [u8],
}

/// Why a line has no usable envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HeaderError {
    /// No timestamp in any of the known styles.
    BadTimestamp,
    /// The line ends before the host or the program tag.
    Truncated,
}

impl HeaderError {
    pub fn as_str(self) -> &'static str {
        match self {
            HeaderError::BadTimestamp => "bad syslog timestamp",
            HeaderError::Truncated => "truncated syslog header",
        }
    }
}

/// Converts local civil times to UTC and supplies years for year-less lines.
///
/// The year of a year-less line is the reference instant's year (the file's modification time,
/// or `--year` on the reference's month and day), or the year before when that would put the
/// line more than an hour after the reference: a line never gets a date in the future of the
/// file it came from, and a December-to-January rollover inside a file is handled line by line,
/// without state, so any chunk of a file can be parsed on its own.
#[derive(Debug, Clone)]
pub struct TimeContext {
    tz: TimeZone,
    reference_year: i32,
    /// The reference instant in local civil seconds (civil time counted as if it were UTC).
    reference_local: i64,
    /// One-entry cache: local hour -> UTC offset in seconds. Logs are time-ordered, so the
    /// hour rarely changes between lines.
    cached_hour: i64,
    cached_offset: i64,
    /// One-entry cache: the last timestamp converted and its result. Busy logs write many
    /// lines a second, and the conversion is a pure function of the text.
    last_stamp: [u8; STAMP_CACHE],
    last_stamp_len: usize,
    last_us: i64,
}

/// Timestamps longer than this are converted every time.
const STAMP_CACHE: usize = 40;

/// Tolerance for clock skew between the log's lines and the file's modification time.
const FUTURE_TOLERANCE_SECS: i64 = 3600;

impl TimeContext {
    /// A context whose reference is `reference` (usually the file's modification time), with
    /// the year optionally replaced by `year`.
    pub fn new(tz: TimeZone, reference: Timestamp, year: Option<i16>) -> TimeContext {
        let civil = tz.to_datetime(reference);
        let mut reference_local = civil_seconds(
            i32::from(civil.year()),
            civil.month() as u32,
            civil.day() as u32,
            civil.hour() as u32,
            civil.minute() as u32,
            civil.second() as u32,
        );
        let mut reference_year = i32::from(civil.year());
        if let Some(year) = year {
            let year = i32::from(year);
            reference_local +=
                (days_from_civil(year, 1, 1) - days_from_civil(reference_year, 1, 1)) * 86_400;
            reference_year = year;
        }
        TimeContext {
            tz,
            reference_year,
            reference_local,
            cached_hour: i64::MIN,
            cached_offset: 0,
            last_stamp: [0; STAMP_CACHE],
            last_stamp_len: usize::MAX,
            last_us: 0,
        }
    }

    /// A context in UTC with a fixed reference, for tests and for inputs with offsets.
    pub fn utc(reference: Timestamp) -> TimeContext {
        TimeContext::new(TimeZone::UTC, reference, None)
    }

    /// UTC microseconds for a local civil time given in seconds (plus microseconds), as
    /// [`civil_seconds`] counts them.
    pub fn local_to_utc_us(&mut self, local_secs: i64, micros: i64) -> i64 {
        let hour = local_secs.div_euclid(3600);
        if hour != self.cached_hour {
            self.cached_offset = self.offset_for(local_secs);
            self.cached_hour = hour;
        }
        (local_secs - self.cached_offset) * 1_000_000 + micros
    }

    fn offset_for(&self, local_secs: i64) -> i64 {
        let Ok(as_utc) = Timestamp::from_second(local_secs) else {
            return 0;
        };
        let civil: DateTime = TimeZone::UTC.to_datetime(as_utc);
        match self.tz.to_ambiguous_timestamp(civil).compatible() {
            Ok(ts) => local_secs - ts.as_second(),
            Err(_) => 0,
        }
    }

    /// Seconds of a year-less local time, with the year chosen as described on the type.
    fn yearless_local(&self, month: u32, day: u32, h: u32, m: u32, s: u32) -> i64 {
        let this_year = civil_seconds(self.reference_year, month, day, h, m, s);
        if this_year > self.reference_local + FUTURE_TOLERANCE_SECS {
            civil_seconds(self.reference_year - 1, month, day, h, m, s)
        } else {
            this_year
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(if month <= 2 { year - 1 } else { year });
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Civil date and time from Unix seconds (Howard Hinnant's `civil_from_days`), so that hot paths
/// format timestamps without a calendar library.
pub fn civil(unix_seconds: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = unix_seconds.div_euclid(86_400);
    let secs = unix_seconds.rem_euclid(86_400) as u32;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day, secs / 3600, secs / 60 % 60, secs % 60)
}

/// Seconds of a civil date and time counted as if it were UTC.
pub fn civil_seconds(year: i32, month: u32, day: u32, h: u32, m: u32, s: u32) -> i64 {
    days_from_civil(year, month, day) * 86_400 + i64::from(h * 3600 + m * 60 + s)
}

/// Parses the syslog envelope of `line`, timestamp included.
///
/// # Errors
/// [`HeaderError`] when the timestamp matches no known style or the line is cut short.
pub fn parse<'a>(line: &'a [u8], ctx: &mut TimeContext) -> Result<Header<'a>, HeaderError> {
    let lazy = parse_lazy(line)?;
    Ok(Header {
        time_us: lazy.time_us(ctx)?,
        host: lazy.host,
        tag: lazy.tag,
        message: lazy.message,
    })
}

/// A syslog envelope whose timestamp is located but not yet converted: most lines of a mail
/// log are dropped after a look at their program tag, and converting their time would be
/// wasted work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LazyHeader<'a> {
    /// The timestamp, exactly (no surrounding spaces).
    pub stamp: &'a [u8],
    pub host: &'a [u8],
    pub tag: &'a [u8],
    pub message: &'a [u8],
}

impl LazyHeader<'_> {
    /// Converts the timestamp to UTC microseconds.
    ///
    /// # Errors
    /// [`HeaderError::BadTimestamp`] when it is not a valid time in a known style.
    pub fn time_us(&self, ctx: &mut TimeContext) -> Result<i64, HeaderError> {
        let stamp = self.stamp;
        if stamp.len() == ctx.last_stamp_len && stamp == &ctx.last_stamp[..stamp.len()] {
            return Ok(ctx.last_us);
        }
        let time = match parse_timestamp(stamp, ctx)? {
            (time, b"") => time,
            _ => return Err(HeaderError::BadTimestamp),
        };
        if let Some(slot) = ctx.last_stamp.get_mut(..stamp.len()) {
            slot.copy_from_slice(stamp);
            ctx.last_stamp_len = stamp.len();
            ctx.last_us = time;
        }
        Ok(time)
    }
}

/// Splits the envelope of `line` without converting its timestamp.
///
/// # Errors
/// [`HeaderError`] when no timestamp shape is found or the line is cut short.
#[inline]
pub fn parse_lazy(line: &[u8]) -> Result<LazyHeader<'_>, HeaderError> {
    let line = strip_priority(line);
    if let Some(window) = line.first_chunk::<64>() {
        let delimiters = byte_set_mask(window, HEADER_DELIMITERS);
        let stamp_len = if is_classic_stamp(window, delimiters) {
            15
        } else {
            stamp_end(line).ok_or(HeaderError::BadTimestamp)?
        };
        if let Some(header) = split_in_window(line, window, delimiters, stamp_len) {
            return Ok(header);
        }
        return split_fields(line, stamp_len);
    }
    let stamp_len = stamp_end(line).ok_or(HeaderError::BadTimestamp)?;
    split_fields(line, stamp_len)
}

/// The bytes that end the fields of a syslog header: the space after the host, the colon
/// after the tag and the bracket before its pid.
const HEADER_DELIMITERS: [u8; 3] = [b' ', b':', b'['];

/// Whether the window starts with "Mmm dd HH:MM:SS " or "Mmm  d HH:MM:SS " (whole seconds),
/// read from its mask of [`HEADER_DELIMITERS`] and a few bytes. It accepts a subset
/// of what [`stamp_end`]'s own shortcut accepts, and for those that returns 15 too.
#[inline]
fn is_classic_stamp(window: &[u8; 64], delimiters: u64) -> bool {
    // Spaces at 3, 6 and 15, colons at 9 and 12, and no other delimiter in the first 16
    // bytes, but for the space that pads a one-digit day.
    const SHAPE: u64 = 1 << 3 | 1 << 6 | 1 << 9 | 1 << 12 | 1 << 15;
    const PLACES: u128 = 0xff << 24 | 0xff << 48 | 0xff << 72 | 0xff << 96 | 0xff << 120;
    const BYTES: u128 = (b' ' as u128) << 24
        | (b' ' as u128) << 48
        | (b':' as u128) << 72
        | (b':' as u128) << 96
        | (b' ' as u128) << 120;
    let head = u128::from_le_bytes(*window.first_chunk::<16>().expect("16 of 64 bytes"));
    let low = delimiters & 0xffff;
    (low == SHAPE || low == SHAPE | 1 << 4)
        && head & PLACES == BYTES
        && window[0].is_ascii_alphabetic()
        && (window[4] == b' ' || window[4].is_ascii_digit())
        && window[5].is_ascii_digit()
}

/// [`parse_lazy`] after the timestamp, one field search at a time: the general reading,
/// for lines whose fields do not all fit in [`split_in_window`]'s first 64 bytes, and for
/// every line that is not a well-formed header.
fn split_fields(line: &[u8], stamp_len: usize) -> Result<LazyHeader<'_>, HeaderError> {
    let rest = line[stamp_len..]
        .strip_prefix(b" ")
        .ok_or(HeaderError::Truncated)?;
    let space = find_near(b' ', rest).ok_or(HeaderError::Truncated)?;
    let host = &rest[..space];
    let rest = &rest[space + 1..];
    let colon = find_near(b':', rest).ok_or(HeaderError::Truncated)?;
    let mut tag = &rest[..colon];
    if let Some(bracket) = find_near(b'[', tag) {
        tag = &tag[..bracket];
    }
    let message = rest[colon + 1..]
        .strip_prefix(b" ")
        .unwrap_or(&rest[colon + 1..]);
    if host.is_empty() || tag.is_empty() {
        return Err(HeaderError::Truncated);
    }
    Ok(LazyHeader {
        stamp: &line[..stamp_len],
        host,
        tag,
        message,
    })
}

/// [`parse_lazy`] after the timestamp, for a line whose host, program tag and the colon after
/// it all lie in its first 64 bytes (nearly every line of a mail log): one pass of compares
/// gives a bit mask of the spaces, colons and brackets there ([`HEADER_DELIMITERS`]), and the
/// fields are read off its set bits, instead of three searches that each cost a call and a
/// set-up. `window` is the line's first 64 bytes, and `delimiters` their mask. Returns `None`
/// for anything else (a field that runs past the window, an empty host or tag, a delimiter
/// where the usual shape has none), which [`split_fields`] then reads, or rejects with its
/// error.
#[inline]
fn split_in_window<'a>(
    line: &'a [u8],
    window: &[u8; 64],
    delimiters: u64,
    stamp_len: usize,
) -> Option<LazyHeader<'a>> {
    // The next delimiter at or after `from`, if the window has one.
    let next = |from: usize| -> Option<usize> {
        let rest = delimiters.checked_shr(from as u32)?;
        (rest != 0).then(|| from + rest.trailing_zeros() as usize)
    };
    let host_start = stamp_len + 1;
    if window.get(stamp_len) != Some(&b' ') {
        return None;
    }
    // The host ends at the first space; a colon or a bracket in it is left to the general
    // reading.
    let space = next(host_start)?;
    if window[space] != b' ' || space == host_start {
        return None;
    }
    let tag_start = space + 1;
    let first = next(tag_start)?;
    let (tag_end, colon) = match window[first] {
        b':' => (first, first),
        // `smtp[123]:`: the colon must be the next delimiter.
        b'[' => {
            let colon = next(first + 1)?;
            if window[colon] != b':' {
                return None;
            }
            (first, colon)
        }
        _ => return None,
    };
    if tag_end == tag_start {
        return None;
    }
    let after = &line[colon + 1..];
    Some(LazyHeader {
        stamp: &line[..stamp_len],
        host: &line[host_start..space],
        tag: &line[tag_start..tag_end],
        message: after.strip_prefix(b" ").unwrap_or(after),
    })
}

/// Eight bytes as one word: a one in each byte, and each byte's high bit.
pub(crate) const LOW_BITS: u64 = 0x0101_0101_0101_0101;
pub(crate) const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The high bit of every byte of `word` that is an ASCII letter or digit.
#[inline]
pub(crate) fn alnum_bits(word: u64) -> u64 {
    letter_bits(word) | digit_bits(word)
}

/// The high bit of every byte of `word` that is an ASCII letter (`| 0x20` folds the case of
/// letters, and turns no other byte into a letter).
#[inline]
pub(crate) fn letter_bits(word: u64) -> u64 {
    range_bits((word & !HIGH_BITS) | (LOW_BITS * 0x20), b'a', b'z') & !word & HIGH_BITS
}

/// The first eight bytes of `b` (or all of them, zero-padded) as a little-endian word. Two
/// overlapping loads read a short tail, so there is no loop and no copy.
#[inline]
pub(crate) fn partial_word(b: &[u8]) -> u64 {
    let len = b.len();
    match len {
        8.. => u64::from_le_bytes(*b.first_chunk::<8>().expect("eight bytes")),
        4..=7 => {
            let low = u64::from(u32::from_le_bytes(*b.first_chunk::<4>().expect("four")));
            let high = u64::from(u32::from_le_bytes(*b.last_chunk::<4>().expect("four")));
            low | high << (8 * (len - 4))
        }
        2..=3 => {
            let low = u64::from(u16::from_le_bytes(*b.first_chunk::<2>().expect("two")));
            let high = u64::from(u16::from_le_bytes(*b.last_chunk::<2>().expect("two")));
            low | high << (8 * (len - 2))
        }
        1 => u64::from(b[0]),
        _ => 0,
    }
}

/// The high bit of every byte of `word` that is `byte`, and of no other (exact: the sum of the
/// low seven bits carries into no other byte, unlike [`zero_byte_bits`]).
#[inline]
pub(crate) fn byte_bits(word: u64, byte: u8) -> u64 {
    let x = word ^ (LOW_BITS * u64::from(byte));
    let seven = !HIGH_BITS;
    !(((x & seven) + seven) | x) & HIGH_BITS
}

/// The high bit of every byte of `word` that is an ASCII digit.
#[inline]
pub(crate) fn digit_bits(word: u64) -> u64 {
    range_bits(word & !HIGH_BITS, b'0', b'9') & !word & HIGH_BITS
}

/// The high bit of every byte of `seven` (a word whose bytes are below 0x80) that is in
/// `lo..=hi`: the high bit of `x + (0x80 - lo)` says `x >= lo`, that of `x + (0x7f - hi)`
/// says `x > hi`, and neither sum carries into the next byte. The callers clear the bytes
/// that had their high bit set before it was masked off.
#[inline]
fn range_bits(seven: u64, lo: u8, hi: u8) -> u64 {
    (seven + LOW_BITS * u64::from(0x80 - lo)) & !(seven + LOW_BITS * u64::from(0x7f - hi))
}

/// The high bit of the first zero byte of `x` (and perhaps of bytes above it, through the
/// borrow).
#[inline]
pub(crate) fn zero_byte_bits(x: u64) -> u64 {
    x.wrapping_sub(LOW_BITS) & !x & HIGH_BITS
}

/// The position of `needle` in `hay`, for fields that are usually short (a clock, a host
/// name, a program tag, a queue id): the first bytes are searched eight at a time in a plain
/// register, which costs less than setting up a vector search; that takes over for the rest.
#[inline(always)]
pub(crate) fn find_near(needle: u8, hay: &[u8]) -> Option<usize> {
    const HEAD: usize = 64;
    let pattern = LOW_BITS * u64::from(needle);
    let mut i = 0;
    while i < HEAD
        && let Some(word) = hay.get(i..i + 8)
    {
        let x = u64::from_le_bytes(word.try_into().expect("eight bytes")) ^ pattern;
        // The lowest byte of `x` that is zero sets the lowest bit here (borrows only ever
        // mark bytes above a zero byte).
        let zero = zero_byte_bits(x);
        if zero != 0 {
            return Some(i + (zero.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    if i < HEAD {
        return hay[i..].iter().position(|&b| b == needle).map(|p| p + i);
    }
    memchr::memchr(needle, &hay[i..]).map(|p| p + i)
}

/// The first `first` followed at once by `then` (`>, `, `: `): a search for the first byte,
/// which is rare in the text searched, beats building a substring searcher per field. `then`
/// has a fixed length, so it is compared in place, not through a call to libc's `memcmp`.
#[inline]
pub(crate) fn find_pair<const N: usize>(
    haystack: &[u8],
    first: u8,
    then: &[u8; N],
) -> Option<usize> {
    let mut from = 0;
    while let Some(offset) = find_near(first, &haystack[from..]) {
        let at = from + offset;
        if haystack[at + 1..].first_chunk::<N>() == Some(then) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Whether any of the eight bytes is a space, tested on them as one word (a byte search
/// costs a call for this).
fn has_space(bytes: [u8; 8]) -> bool {
    zero_byte_bits(u64::from_le_bytes(bytes) ^ (LOW_BITS * u64::from(b' '))) != 0
}

/// The length of the timestamp at the start of `line`, by its shape alone.
fn stamp_end(line: &[u8]) -> Option<usize> {
    // The common case at a glance: "Mmm dd HH:MM:SS " or "Mmm  d HH:MM:SS ", whole seconds.
    if let Some(head) = line.first_chunk::<16>()
        && head[0].is_ascii_alphabetic()
        && head[3] == b' '
        && (head[4] == b' ' || head[4].is_ascii_digit())
        && head[5].is_ascii_digit()
        && head[6] == b' '
        && head[15] == b' '
        && !has_space(head[7..15].try_into().expect("eight bytes"))
    {
        return Some(15);
    }
    stamp_end_by_style(line)
}

/// [`stamp_end`] without its shortcut: every style, told apart by its first bytes.
fn stamp_end_by_style(line: &[u8]) -> Option<usize> {
    let first = *line.first()?;
    let clock_from = if first.is_ascii_alphabetic() {
        // "Mmm dd HH:MM:SS" or "Mmm  d HH:MM:SS".
        match month_word_len(line).and_then(|len| day_end(line, len)) {
            Some(clock_from) => clock_from,
            None => return weekday_stamp(line).map(|(_, _, _, end)| end),
        }
    } else if line.get(4) == Some(&b'-') {
        // RFC 3339: one token (its lines pass here one by one, so it is told first).
        return token_end(line);
    } else if line.len() > 8 && line[4] == b' ' && line[..4].iter().all(u8::is_ascii_digit) {
        // "YYYY Mmm dd HH:MM:SS.fff".
        day_end(line, 5 + month_word_len(&line[5..])?)?
    } else if let Some((_, end)) = epoch_stamp(line) {
        return Some(end);
    } else {
        // Whatever it is, the first token, for the time's conversion to reject (if a line
        // of another program does not make it skip the line first).
        return token_end(line);
    };
    let clock = line.get(clock_from..)?;
    Some(clock_from + find_near(b' ', clock).unwrap_or(clock.len()))
}

/// Where the first token of `line`, an RFC 3339 stamp, ends: `None` when it is shorter than
/// one.
#[inline]
fn token_end(line: &[u8]) -> Option<usize> {
    find_near(b' ', line)
        .or(Some(line.len()))
        .filter(|&n| n >= 19)
}

/// After the month (which ends at `at`): skips the spaces and the day; returns where the clock
/// starts.
fn day_end(line: &[u8], at: usize) -> Option<usize> {
    let mut i = at;
    while line.get(i) == Some(&b' ') {
        i += 1;
    }
    let day_start = i;
    while line.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    (i > day_start && line.get(i) == Some(&b' ')).then_some(i + 1)
}

/// Drops a `<PRI>` prefix left by raw forwarding.
fn strip_priority(line: &[u8]) -> &[u8] {
    if line.first() == Some(&b'<')
        && let Some(end) = line.iter().take(5).position(|&b| b == b'>')
        && line[1..end].iter().all(u8::is_ascii_digit)
    {
        return &line[end + 1..];
    }
    line
}

fn parse_timestamp<'a>(
    line: &'a [u8],
    ctx: &mut TimeContext,
) -> Result<(i64, &'a [u8]), HeaderError> {
    let first = *line.first().ok_or(HeaderError::BadTimestamp)?;
    if first.is_ascii_alphabetic() {
        // Traditional: "Mmm dd HH:MM:SS".
        if let Some(len) = month_word_len(line)
            && let Some(month) = month_number(&line[..len])
            && let Ok((day, h, m, s, micros, rest)) = parse_day_time(&line[len..])
        {
            let local = ctx.yearless_local(month, day, h, m, s);
            return Ok((ctx.local_to_utc_us(local, micros), rest));
        }
        return parse_weekday_stamp(line, ctx);
    }
    if line.get(4) != Some(&b'-')
        && let Some((time, end)) = epoch_stamp(line)
    {
        return Ok((time, &line[end..]));
    }
    if line.len() >= 5 && line[4] == b' ' && line[..4].iter().all(u8::is_ascii_digit) {
        // Year-prefixed: "2013 Jun 10 06:27:30.123".
        let year = digits(&line[..4]).ok_or(HeaderError::BadTimestamp)? as i32;
        let len = month_word_len(&line[5..]).ok_or(HeaderError::BadTimestamp)?;
        let month = month_number(&line[5..5 + len]).ok_or(HeaderError::BadTimestamp)?;
        let (day, h, m, s, micros, rest) = parse_day_time(&line[5 + len..])?;
        let local = civil_seconds(year, month, day, h, m, s);
        return Ok((ctx.local_to_utc_us(local, micros), rest));
    }
    parse_rfc3339(line, ctx)
}

/// Day, hour, minute, second, microseconds, and the rest of the line.
type DayTime<'a> = (u32, u32, u32, u32, i64, &'a [u8]);

/// Parses " dd HH:MM:SS[.frac]" (day space- or zero-padded).
fn parse_day_time(b: &[u8]) -> Result<DayTime<'_>, HeaderError> {
    let bad = HeaderError::BadTimestamp;
    let b = b.strip_prefix(b" ").ok_or(bad)?;
    let b = b.strip_prefix(b" ").unwrap_or(b);
    let day_len = b.iter().take(2).take_while(|c| c.is_ascii_digit()).count();
    let day = digits(&b[..day_len]).ok_or(bad)?;
    let b = b[day_len..].strip_prefix(b" ").ok_or(bad)?;
    let (h, m, s) = parse_hms(b).ok_or(bad)?;
    let (micros, used) = parse_fraction(&b[8..]);
    if !(1..=31).contains(&day) {
        return Err(bad);
    }
    Ok((day, h, m, s, micros, &b[8 + used..]))
}

fn parse_hms(b: &[u8]) -> Option<(u32, u32, u32)> {
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (h, m, s) = (digits(&b[..2])?, digits(&b[3..5])?, digits(&b[6..8])?);
    (h < 24 && m < 60 && s < 61).then_some((h, m, s.min(59)))
}

/// Reads ".ffffff" (any number of digits); returns microseconds and bytes used.
fn parse_fraction(b: &[u8]) -> (i64, usize) {
    if b.first() != Some(&b'.') {
        return (0, 0);
    }
    let n = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    let mut micros: i64 = 0;
    for i in 0..6 {
        micros = micros * 10
            + b.get(1 + i)
                .filter(|_| i < n)
                .map_or(0, |d| i64::from(d - b'0'));
    }
    (micros, 1 + n)
}

/// `YYYY-MM-DD`, `T` or a space, `HH:MM:SS[.frac]` at the start of `line`: the local
/// seconds since the epoch, the microseconds, and the bytes read.
fn date_and_clock(line: &[u8]) -> Option<(i64, i64, usize)> {
    if line.len() < 19 || line[4] != b'-' || line[7] != b'-' || !matches!(line[10], b'T' | b' ') {
        return None;
    }
    let year = digits(&line[..4])? as i32;
    let month = digits(&line[5..7])?;
    let day = digits(&line[8..10])?;
    let (h, m, s) = parse_hms(&line[11..])?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (micros, used) = parse_fraction(&line[19..]);
    Some((civil_seconds(year, month, day, h, m, s), micros, 19 + used))
}

fn parse_rfc3339<'a>(
    line: &'a [u8],
    ctx: &mut TimeContext,
) -> Result<(i64, &'a [u8]), HeaderError> {
    let bad = HeaderError::BadTimestamp;
    let (local, micros, used) = date_and_clock(line).ok_or(bad)?;
    let rest = &line[used..];
    match rest.first() {
        Some(b'Z' | b'z') => Ok((local * 1_000_000 + micros, &rest[1..])),
        Some(b'+' | b'-') => {
            let (offset, used) = numeric_offset(rest).ok_or(bad)?;
            Ok(((local - offset) * 1_000_000 + micros, &rest[used..]))
        }
        _ => Ok((ctx.local_to_utc_us(local, micros), rest)),
    }
}

/// `journalctl -o short-full`'s stamp, `Tue 2025-06-10 06:27:30 CEST` (the weekday as the
/// locale writes it, the zone's abbreviation): the local seconds since the epoch, the
/// microseconds, the zone, and where the stamp ends.
fn weekday_stamp(line: &[u8]) -> Option<(i64, i64, &[u8], usize)> {
    let weekday = line.iter().take(13).position(|&b| b == b' ')?;
    if weekday < 2
        || !line[..weekday]
            .iter()
            .all(|&b| b.is_ascii_alphabetic() || b >= 0x80 || b == b'.')
    {
        return None;
    }
    let at = weekday + 1;
    let (local, micros, used) = date_and_clock(line.get(at..)?)?;
    let zone_start = at + used + 1;
    if line.get(at + used) != Some(&b' ') || line[10 + at] != b' ' {
        return None;
    }
    let zone = &line[zone_start..];
    let zone_len = find_near(b' ', zone).unwrap_or(zone.len());
    (zone_len > 0).then(|| (local, micros, &zone[..zone_len], zone_start + zone_len))
}

/// [`weekday_stamp`]'s time in UTC microseconds, and the rest of the line. Its weekday can be a
/// month's name in another language (Spanish `mar`), so it is tried after the traditional
/// style.
#[cold]
fn parse_weekday_stamp<'a>(
    line: &'a [u8],
    ctx: &mut TimeContext,
) -> Result<(i64, &'a [u8]), HeaderError> {
    let (local, micros, zone, end) = weekday_stamp(line).ok_or(HeaderError::BadTimestamp)?;
    let time = match zone_offset(zone) {
        Some(offset) => (local - offset) * 1_000_000 + micros,
        None => ctx.local_to_utc_us(local, micros),
    };
    Ok((time, &line[end..]))
}

/// The offset in seconds a zone written by name stands for, where the name alone says it:
/// UTC (`UTC`, `GMT`, `Z`), or a numeric `+03`, `-0530`, `+05:30`. `None` for an
/// abbreviation such as `CEST`, whose offset `--timezone` gives.
fn zone_offset(zone: &[u8]) -> Option<i64> {
    if [&b"UTC"[..], b"GMT", b"UT", b"Z"]
        .iter()
        .any(|utc| zone.eq_ignore_ascii_case(utc))
    {
        return Some(0);
    }
    numeric_offset(zone)
        .filter(|&(_, used)| used == zone.len())
        .map(|(offset, _)| offset)
}

/// A numeric offset from UTC at the start of `b`, `+hh:mm`, `+hhmm` or `+hh` (or `-`): the
/// seconds it is ahead of UTC, and the bytes read.
fn numeric_offset(b: &[u8]) -> Option<(i64, usize)> {
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let hours = digits(b.get(1..3)?)?;
    let (minutes, used) = match b.get(3) {
        Some(b':') => (digits(b.get(4..6)?)?, 6),
        Some(digit) if digit.is_ascii_digit() => (digits(b.get(3..5)?)?, 5),
        _ => (0, 3),
    };
    Some((sign * i64::from(hours * 3600 + minutes * 60), used))
}

/// `journalctl -o short-unix`'s stamp, `1749536850.123456`: epoch time as
/// [`epoch_micros`] reads it, up to the first space. The time in UTC microseconds and where
/// the stamp ends.
fn epoch_stamp(line: &[u8]) -> Option<(i64, usize)> {
    let end = find_near(b' ', line).unwrap_or(line.len());
    Some((epoch_micros(&line[..end])?, end))
}

/// Microseconds since the epoch from epoch time written in decimal, as `journalctl -o
/// short-unix` and log shippers write it: seconds with or without a fraction, or whole
/// milliseconds, microseconds or nanoseconds, told apart by their magnitude (seconds from
/// 1973 to the year 5138). `None` for anything else (an exponent, a sign, a date, a number
/// too small to be a time).
pub(crate) fn epoch_micros(text: &[u8]) -> Option<i64> {
    let (whole, fraction) = match memchr::memchr(b'.', text) {
        Some(dot) => (&text[..dot], Some(&text[dot + 1..])),
        None => (text, None),
    };
    let all_digits = |b: &[u8]| !b.is_empty() && b.iter().all(u8::is_ascii_digit);
    if !all_digits(whole) || whole.len() > 19 || fraction.is_some_and(|f| !all_digits(f)) {
        return None;
    }
    let n = whole
        .iter()
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0'));
    // The unit, as the microseconds in one: seconds, milliseconds, microseconds, nanoseconds.
    let (micros_per_unit, divisor) = match n {
        0..100_000_000 => return None,
        100_000_000..100_000_000_000 => (1_000_000, 1),
        100_000_000_000..100_000_000_000_000 => (1_000, 1),
        100_000_000_000_000..100_000_000_000_000_000 => (1, 1),
        _ => (1, 1_000),
    };
    let mut micros = i64::try_from(n / divisor)
        .ok()?
        .checked_mul(micros_per_unit)?;
    // The fraction's first digits, as far as a microsecond.
    let mut scale = micros_per_unit;
    for &d in fraction.unwrap_or_default() {
        scale /= 10;
        if scale == 0 {
            break;
        }
        micros += i64::from(d - b'0') * scale;
    }
    Some(micros)
}

/// The value of a non-empty run of ASCII digits (at most nine: no overflow check).
pub(crate) fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() {
        return None;
    }
    let mut v: u32 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

/// How long the month's name at the start of `line` is, when a space follows it: 3 for
/// English (`Jun`), up to 6 bytes for the names other locales give `strftime`'s `%b` (which
/// `journalctl -o short` and some syslog daemons use): `Mär`, `févr.`, `juil.`.
fn month_word_len(line: &[u8]) -> Option<usize> {
    if line.get(3) == Some(&b' ') {
        return Some(3);
    }
    let end = line.iter().take(7).position(|&b| b == b' ')?;
    (end >= 3).then_some(end)
}

/// The month a name stands for, in any ASCII case: English, and the abbreviations of the
/// German, French, Spanish, Italian, Portuguese, Dutch, Swedish, Danish, Norwegian and Polish
/// locales (a trailing `.` dropped).
/// No name means two months across those languages.
fn month_number(word: &[u8]) -> Option<u32> {
    let word = word.strip_suffix(b".").unwrap_or(word);
    let mut key = [0u8; 6];
    let key = key.get_mut(..word.len())?;
    for (k, b) in key.iter_mut().zip(word) {
        *k = b.to_ascii_lowercase();
    }
    Some(match &*key {
        b"jan" | b"janv" | b"ene" | b"gen" | b"sty" => 1,
        b"feb" | b"f\xc3\xa9vr" | b"fev" | b"lut" => 2,
        b"mar" | b"m\xc3\xa4r" | b"mars" | b"mrt" => 3,
        b"apr" | b"avr" | b"avril" | b"abr" | b"kwi" => 4,
        b"may" | b"mai" | b"mag" | b"mei" | b"maj" => 5,
        b"jun" | b"juin" | b"giu" | b"juni" | b"cze" => 6,
        b"jul" | b"juil" | b"lug" | b"juli" | b"lip" => 7,
        b"aug" | b"ao\xc3\xbbt" | b"ago" | b"sie" => 8,
        b"sep" | b"sept" | b"set" | b"wrz" => 9,
        b"oct" | b"okt" | b"ott" | b"out" | b"pa\xc5\xba" => 10,
        b"nov" | b"lis" => 11,
        b"dec" | b"dez" | b"d\xc3\xa9c" | b"dic" | b"des" | b"gru" => 12,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn has_space_agrees_with_a_plain_search(
            bytes in prop::array::uniform8(prop::sample::select(vec![b' ', b'!', 0x1f, 0x20 | 0x80, 0xa0, 0, b'1'])),
        ) {
            prop_assert_eq!(has_space(bytes), bytes.contains(&b' '));
        }

        #[test]
        fn partial_word_is_the_bytes_zero_padded(b in proptest::collection::vec(any::<u8>(), 0..12)) {
            let mut padded = [0u8; 8];
            let n = b.len().min(8);
            padded[..n].copy_from_slice(&b[..n]);
            prop_assert_eq!(partial_word(&b), u64::from_le_bytes(padded));
        }

        #[test]
        fn find_near_agrees_with_a_plain_search(
            hay in prop::collection::vec(prop::sample::select(vec![b' ', b':', b'a', 0x80, 0xff, 0]), 0..200),
            needle in prop::sample::select(vec![b' ', b':', 0x80, 0xff, 0]),
        ) {
            prop_assert_eq!(find_near(needle, &hay), hay.iter().position(|&b| b == needle));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        /// Lines close to the shortcut's shape ("Mmm dd HH:MM:SS "), off by a byte here and
        /// there: the shortcut must read them as the general code does, or leave them to it.
        #[test]
        fn stamp_shortcut_agrees_with_the_general_reading(
            head in "[A-Za-z0-9]{3} [ 0-9x]{1,3}[0-9: .]{6,10}",
            tail in "[ a-z]{0,3}",
        ) {
            let line = format!("{head}{tail}");
            prop_assert_eq!(stamp_end(line.as_bytes()), stamp_end_by_style(line.as_bytes()));
        }

        /// Headers made of the bytes the window reading keys on, in and around their usual
        /// places: [`parse_lazy`] (which reads most lines from one 64-byte mask) must split
        /// them as the field-by-field reading does, error included.
        #[test]
        fn header_window_agrees_with_the_general_reading(
            stamp in prop_oneof![
                "[A-Za-z][a-z]{2} [ 1-3][0-9] [0-9:]{2}[ :][0-9:]{2}[: ][0-9:]{2}[ :.]",
                "[A-Z][a-z]{2}[ :][ 0-9x:][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} ",
                "2026-06-10T06:27:30(\\.[0-9]{1,6})?[+]02:00 ",
                "<1[0-9]{1,2}>[A-Z][a-z]{2} 10 06:27:30 ",
            ],
            host in "[a-z0-9:\\[ ]{0,24}",
            tag in "[a-z/\\[\\] :0-9-]{0,48}",
            message in "[ a-z:=\\[]{0,80}",
        ) {
            let line = format!("{stamp}{host} {tag}{message}");
            let line = line.as_bytes();
            let stripped = strip_priority(line);
            let general = stamp_end(stripped)
                .ok_or(HeaderError::BadTimestamp)
                .and_then(|stamp_len| split_fields(stripped, stamp_len));
            prop_assert_eq!(parse_lazy(line), general);
        }
    }

    #[test]
    fn header_window_reads_the_usual_lines() {
        let line = b"Jun 10 06:27:30 mta1 postfix-out/submission/smtpd[8179]: connect from \
                     host-203-0-113-110.dyn.example-isp.net[203.0.113.110]";
        let header = parse_lazy(line).unwrap();
        assert_eq!(header.stamp, b"Jun 10 06:27:30");
        assert_eq!(header.host, b"mta1");
        assert_eq!(header.tag, b"postfix-out/submission/smtpd");
        assert!(header.message.starts_with(b"connect from host-203"));
        // A tag without a pid, a one-digit day, and a colon past the window.
        let header =
            parse_lazy(b"Jun  1 06:27:30 mta1 postfix/qmgr: 36EBA13FF32: removed").unwrap();
        assert_eq!(
            (header.host, header.tag),
            (&b"mta1"[..], &b"postfix/qmgr"[..])
        );
        let long = format!("Jun 10 06:27:30 mta1 {}[1]: x", "p".repeat(60));
        let header = parse_lazy(long.as_bytes()).unwrap();
        assert_eq!(header.tag.len(), 60);
        assert_eq!(header.message, b"x");
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn utc_of(line: &str, ctx: &mut TimeContext) -> String {
        let h = parse(line.as_bytes(), ctx).unwrap();
        Timestamp::from_microsecond(h.time_us).unwrap().to_string()
    }

    #[test]
    fn traditional_space_and_zero_padded_days() {
        let mut ctx = TimeContext::utc(ts("2025-06-30T00:00:00Z"));
        let h = parse(
            b"Jun  3 10:40:57 mail postfix/smtp[9716]: ABC: to=<a@b>",
            &mut ctx,
        )
        .unwrap();
        assert_eq!(h.host, b"mail");
        assert_eq!(h.tag, b"postfix/smtp");
        assert_eq!(h.message, b"ABC: to=<a@b>");
        assert_eq!(
            Timestamp::from_microsecond(h.time_us).unwrap().to_string(),
            "2025-06-03T10:40:57Z"
        );
        assert_eq!(
            utc_of("Jun 03 10:40:57 mail x: y", &mut ctx),
            "2025-06-03T10:40:57Z"
        );
    }

    /// Month names as other locales abbreviate them (`journalctl -o short` under `LANG=de_DE`,
    /// say), in the traditional and year-prefixed styles, with the header read the same.
    #[test]
    fn localised_month_names() {
        let mut ctx = TimeContext::utc(ts("2025-12-31T00:00:00Z"));
        let names: [(&str, &[&str]); 12] = [
            ("01", &["Jan", "janv.", "ene", "gen", "JAN", "sty"]),
            ("02", &["Feb", "févr.", "fev", "feb.", "lut"]),
            ("03", &["Mär", "mars", "mrt", "Mar"]),
            ("04", &["Apr", "avr.", "avril", "abr", "kwi"]),
            ("05", &["Mai", "mai", "mag", "mei", "May", "maj"]),
            ("06", &["juin", "giu", "Jun", "juni", "cze"]),
            ("07", &["juil.", "lug", "Jul", "juli", "lip"]),
            ("08", &["août", "ago", "Aug", "aug.", "sie"]),
            ("09", &["sept.", "set", "Sep", "wrz"]),
            ("10", &["Okt", "oct.", "ott", "out", "paź"]),
            ("11", &["Nov", "nov.", "lis"]),
            ("12", &["Dez", "déc.", "dic", "Dec", "des.", "gru"]),
        ];
        for (month, words) in names {
            for word in words {
                let line = format!("{word}  3 10:40:57 mail postfix/smtp[9716]: ABC: to=<a@b>");
                let h =
                    parse(line.as_bytes(), &mut ctx).unwrap_or_else(|e| panic!("{line}: {e:?}"));
                assert_eq!(
                    (h.host, h.tag),
                    (&b"mail"[..], &b"postfix/smtp"[..]),
                    "{line}"
                );
                assert_eq!(
                    Timestamp::from_microsecond(h.time_us).unwrap().to_string(),
                    format!("2025-{month}-03T10:40:57Z"),
                    "{line}"
                );
                let year_prefixed = format!("2024 {word} 03 10:40:57.250 mail x: y");
                assert_eq!(
                    utc_of(&year_prefixed, &mut ctx),
                    format!("2024-{month}-03T10:40:57.25Z"),
                    "{year_prefixed}"
                );
            }
        }
        for not_a_month in [
            "Mon 10:40:57 mail x: y",
            "Junio 3 10:40:57 mail x: y",
            "Ma 3 10:40:57 m x: y",
        ] {
            assert!(
                parse(not_a_month.as_bytes(), &mut ctx).is_err(),
                "{not_a_month}"
            );
        }
    }

    #[test]
    fn year_rolls_back_for_lines_after_the_reference() {
        // A file written on 2 January 2026 that starts in December.
        let mut ctx = TimeContext::utc(ts("2026-01-02T08:00:00Z"));
        assert_eq!(
            utc_of("Dec 31 23:59:59 h p: m", &mut ctx),
            "2025-12-31T23:59:59Z"
        );
        assert_eq!(
            utc_of("Jan  1 00:00:01 h p: m", &mut ctx),
            "2026-01-01T00:00:01Z"
        );
        // Never in the future of the reference (beyond the skew tolerance).
        assert_eq!(
            utc_of("Jan  2 12:00:00 h p: m", &mut ctx),
            "2025-01-02T12:00:00Z"
        );
    }

    #[test]
    fn explicit_year_keeps_rollover() {
        let mut ctx = TimeContext::new(TimeZone::UTC, ts("2026-01-02T08:00:00Z"), Some(2020));
        assert_eq!(
            utc_of("Jan  1 10:00:00 h p: m", &mut ctx),
            "2020-01-01T10:00:00Z"
        );
        assert_eq!(
            utc_of("Dec 30 10:00:00 h p: m", &mut ctx),
            "2019-12-30T10:00:00Z"
        );
    }

    #[test]
    fn local_times_are_converted_with_the_zone() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let mut ctx = TimeContext::new(tz, ts("2025-12-01T00:00:00Z"), None);
        // Summer (CEST, +2) and winter (CET, +1).
        assert_eq!(
            utc_of("Jul  1 12:00:00 h p: m", &mut ctx),
            "2025-07-01T10:00:00Z"
        );
        assert_eq!(
            utc_of("Nov 30 12:00:00 h p: m", &mut ctx),
            "2025-11-30T11:00:00Z"
        );
        assert_eq!(
            utc_of("2013 Jun 10 06:27:30.123 h p: m", &mut ctx),
            "2013-06-10T04:27:30.123Z"
        );
        // RFC 3339 carries its own offset; the zone is ignored.
        assert_eq!(
            utc_of(
                "2025-02-14T18:12:33.501234+01:00 mx postfix/qmgr[1]: x",
                &mut ctx
            ),
            "2025-02-14T17:12:33.501234Z"
        );
    }

    /// `journalctl -o short-unix` and `-o short-full`: epoch seconds (UTC whatever the zone),
    /// and a weekday, date, clock and zone name (UTC and numeric zones read, an abbreviation
    /// left to `--timezone`).
    #[test]
    fn journalctl_unix_and_full_stamps() {
        let tz = TimeZone::get("Europe/Berlin").unwrap();
        let mut ctx = TimeContext::new(tz, ts("2025-12-01T00:00:00Z"), None);
        for (line, utc) in [
            (
                "1749536850.123456 mx1 postfix/smtp[7]: A1: removed",
                "2025-06-10T06:27:30.123456Z",
            ),
            ("1749536850 h p: m", "2025-06-10T06:27:30Z"),
            (
                "Tue 2025-06-10 06:27:30 UTC h p[1]: m",
                "2025-06-10T06:27:30Z",
            ),
            (
                "Tue 2025-06-10 08:27:30 CEST h p: m",
                "2025-06-10T06:27:30Z",
            ),
            (
                "Tue 2025-12-09 07:27:30.25 CET h p: m",
                "2025-12-09T06:27:30.25Z",
            ),
            ("Di 2025-06-10 09:27:30 +03 h p: m", "2025-06-10T06:27:30Z"),
            (
                "Di. 2025-06-10 01:57:30 -0430 h p: m",
                "2025-06-10T06:27:30Z",
            ),
            // Spanish Tuesday, which is also a month's name.
            ("mar 2025-06-10 06:27:30 GMT h p: m", "2025-06-10T06:27:30Z"),
            (
                "mar. 2025-06-10 06:27:30 UTC h p: m",
                "2025-06-10T06:27:30Z",
            ),
        ] {
            assert_eq!(utc_of(line, &mut ctx), utc, "{line}");
            let lazy = parse_lazy(line.as_bytes()).unwrap();
            assert!(matches!(lazy.host, b"h" | b"mx1"), "{line}");
            assert!(matches!(lazy.tag, b"p" | b"postfix/smtp"), "{line}");
        }
        for line in [
            "17495368 h p: m",
            "1749536850.12.3 h p: m",
            "1749536850x h p: m",
            "1749536850.12x h p: m",
            "Tue 2025-06-10T06:27:30 UTC h p: m",
            "Tue 2025-06-10 06:27 UTC h p: m",
            "Tuesday, 2025-06-10 06:27:30 UTC h p: m",
            "Tue 2025-13-10 06:27:30 UTC h p: m",
        ] {
            assert!(parse(line.as_bytes(), &mut ctx).is_err(), "{line}");
        }
    }

    #[test]
    fn rfc3339_variants() {
        let mut ctx = TimeContext::utc(ts("2025-06-30T00:00:00Z"));
        assert_eq!(
            utc_of("2025-02-14T18:12:33Z h p[1]: m", &mut ctx),
            "2025-02-14T18:12:33Z"
        );
        assert_eq!(
            utc_of("2025-02-14T18:12:33.5-0500 h p: m", &mut ctx),
            "2025-02-14T23:12:33.5Z"
        );
        assert_eq!(
            utc_of("<22>2025-02-14T18:12:33Z h p: m", &mut ctx),
            "2025-02-14T18:12:33Z"
        );
    }

    #[test]
    fn garbage_is_rejected_not_panicking() {
        let mut ctx = TimeContext::utc(ts("2025-06-30T00:00:00Z"));
        for line in [
            &b""[..],
            b"J",
            b"Jun",
            b"Jun 3",
            b"Jun 31 25:00:00 h p: m",
            b"Foo  3 10:40:57 h p: m",
            b"2025-13-01T00:00:00Z h p: m",
            b"2025-01-01T00:00:00+0",
            b"Jun  3 10:40:57",
            b"Jun  3 10:40:57 host",
            b"\x00\xff\xfe",
        ] {
            assert!(parse(line, &mut ctx).is_err(), "{line:?}");
        }
    }
}
