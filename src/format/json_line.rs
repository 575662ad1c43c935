//! Logs that arrive as JSON, one object a line, read as the syslog lines they hold: the
//! systemd journal's export (`journalctl -o json`, or `-o json-seq`) and the records of log
//! shippers and container runtimes.
//!
//! On a distribution without a syslog daemon, Postfix and Exim log to the journal only, and
//! `journalctl -o json` is how their logs leave the machine. Each line of such an export is
//! one entry: the text in `MESSAGE`, the program in `SYSLOG_IDENTIFIER` (the syslog tag,
//! `postfix/smtp`), the process id in `SYSLOG_PID` (or `_PID`), the host in `_HOSTNAME`, and
//! the time in microseconds since the epoch in `_SOURCE_REALTIME_TIMESTAMP` (when the entry
//! was made) or `__REALTIME_TIMESTAMP` (when the journal stored it). Every value is a string,
//! but for a value that is not valid UTF-8 (an array of its bytes as numbers), a field given
//! several values (an array of them) and a value longer than journalctl's limit, which it
//! writes as `null` unless it runs with `--all`.
//!
//! Shippers write either the whole syslog line in one field (Docker's json-file driver:
//! `{"log":"Jun 10 06:27:30 mx1 postfix/smtp[123]: ...\n","stream":"stdout","time":...}`;
//! Logstash's `message`), or its parts in fields of their own (Vector's syslog source:
//! `appname`, `procid`, `hostname`, `message`, `timestamp`; Fluent Bit's syslog parser:
//! `ident`, `pid`, `host`, `message`, and the time under `date` as its outputs add it, or
//! `time`; Loki's `logcli query -o jsonl`: `line`). [`JsonLine::decode`] takes what a line
//! has: the message, and when a program is named, the program, pid, host and time around it.
//!
//! The syslog line is made in a buffer kept from line to line, and the Postfix and Exim
//! parsers then read it as they read any other. A journal entry's time is written as UTC
//! with its offset (`2025-06-10T06:27:30.123456+00:00`), so `--timezone` does not move it and
//! no year is guessed; so is a shipper's epoch time (`1749536850.123456`, or whole
//! milliseconds...). A shipper's time as text is copied as it stands (a date and time joined
//! by a space are joined by a `T`), and read as a syslog line's stamp would be.

use std::fmt;

use super::mask::Marks;

/// Why a JSON line cannot be read as a syslog line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonLineError {
    /// Not a well-formed JSON object.
    NotJson,
    /// No field that holds the message (`MESSAGE`, `message`, `log`, `msg`).
    NoMessage,
    /// A program is named but no time is given.
    NoTime,
    /// The message is `null`: journalctl leaves out values longer than 4,096 bytes unless it
    /// runs with `--all`.
    MessageLeftOut,
}

impl JsonLineError {
    /// The reason as the run's summary counts it.
    pub fn as_str(self) -> &'static str {
        match self {
            JsonLineError::NotJson => "JSON line: not a JSON object",
            JsonLineError::NoMessage => "JSON line without a message field",
            JsonLineError::NoTime => "JSON line without a timestamp",
            JsonLineError::MessageLeftOut => {
                "JSON line: message left out (export with journalctl --all)"
            }
        }
    }
}

impl fmt::Display for JsonLineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The record separator `journalctl -o json-seq` puts before each entry (RFC 7464).
const RECORD_SEPARATOR: u8 = 0x1e;

/// Whether `line` is a JSON line rather than a syslog or Exim line: it opens a JSON object
/// (after json-seq's separator). No syslog or Exim line starts with either byte.
#[inline]
pub fn is_json_line(line: &[u8]) -> bool {
    matches!(line.first(), Some(b'{' | &RECORD_SEPARATOR))
}

/// The syslog lines the first JSON lines of `prefix` hold, one a line, for format detection:
/// empty when `prefix` does not start with a JSON line, or none of its first lines holds a
/// message.
pub fn syslog_lines_of(prefix: &[u8]) -> Vec<u8> {
    let mut lines = Vec::new();
    if !is_json_line(prefix.trim_ascii_start()) {
        return lines;
    }
    let mut reader = JsonLine::new();
    for line in prefix.trim_ascii_start().split(|&b| b == b'\n').take(200) {
        if let Ok(Some(syslog_line)) = reader.decode(line) {
            lines.extend_from_slice(syslog_line);
            lines.push(b'\n');
        }
    }
    lines
}

/// A field's value as it stands in the line, not yet decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Value<'a> {
    /// A string: the bytes between its quotes, and whether any of them is an escape.
    Text {
        raw: &'a [u8],
        escaped: bool,
    },
    /// An array: of a binary value's bytes as numbers, or of several values. The bytes
    /// between its brackets.
    Array(&'a [u8]),
    /// An object: no syslog field's value.
    Object,
    Null,
    /// A number, `true` or `false`: read as text (Vector writes `procid` as a number).
    Other(&'a [u8]),
}

/// The best value offered for one part of the line: fields named differently by different
/// writers hold the same part, and a lower rank wins whatever their order.
#[derive(Debug, Default, Clone, Copy)]
struct Slot<'a> {
    rank: u8,
    value: Option<Value<'a>>,
}

impl<'a> Slot<'a> {
    fn offer(&mut self, rank: u8, value: Value<'a>) {
        if self.value.is_none() || rank < self.rank {
            *self = Slot {
                rank,
                value: Some(value),
            };
        }
    }
}

/// The fields of a line that make a syslog line.
#[derive(Debug, Default, Clone, Copy)]
struct Entry<'a> {
    message: Slot<'a>,
    program: Slot<'a>,
    pid: Slot<'a>,
    host: Slot<'a>,
    /// Microseconds since the epoch (the journal's).
    micros: Slot<'a>,
    /// A time as text (a shipper's).
    stamp: Slot<'a>,
    /// The line is a journal entry: an entry without a program or a message is another
    /// source's (the kernel's, journald's own), not a malformed line.
    journal: bool,
}

impl<'a> Entry<'a> {
    /// Reads the fields of the JSON object `line`, keeping those an [`Entry`] holds.
    fn scan(line: &'a [u8]) -> Result<Entry<'a>, JsonLineError> {
        let mut s = Scanner::new(line);
        if s.peek() == Some(RECORD_SEPARATOR) {
            s.at += 1;
        }
        s.expect(b'{')?;
        let mut entry = Entry::default();
        if s.peek_past_space() == Some(b'}') {
            s.at += 1;
            return s.end().map(|()| entry);
        }
        loop {
            s.skip_space();
            let (key, _) = s.string()?;
            s.expect(b':')?;
            let value = s.value()?;
            let (slot, rank) = match key {
                b"MESSAGE" => {
                    // Only the journal's fields are upper case (Fluent Bit's `systemd` input
                    // passes them on with its own `date`).
                    entry.journal = true;
                    (&mut entry.message, 0)
                }
                b"message" => (&mut entry.message, 1),
                b"log" => (&mut entry.message, 2),
                b"msg" => (&mut entry.message, 3),
                // Loki's `logcli query -o jsonl`: the line as its agent read it.
                b"line" => (&mut entry.message, 4),
                b"SYSLOG_IDENTIFIER" => (&mut entry.program, 0),
                b"appname" => (&mut entry.program, 1),
                b"app_name" => (&mut entry.program, 2),
                b"ident" => (&mut entry.program, 3),
                b"program" => (&mut entry.program, 4),
                b"SYSLOG_PID" => (&mut entry.pid, 0),
                b"_PID" => (&mut entry.pid, 1),
                b"procid" => (&mut entry.pid, 2),
                b"pid" => (&mut entry.pid, 3),
                b"_HOSTNAME" => (&mut entry.host, 0),
                b"hostname" => (&mut entry.host, 1),
                b"host" => (&mut entry.host, 2),
                b"logsource" => (&mut entry.host, 3),
                b"_SOURCE_REALTIME_TIMESTAMP" => (&mut entry.micros, 0),
                b"__REALTIME_TIMESTAMP" => {
                    entry.journal = true;
                    (&mut entry.micros, 1)
                }
                b"timestamp" => (&mut entry.stamp, 0),
                b"@timestamp" => (&mut entry.stamp, 1),
                b"time" => (&mut entry.stamp, 2),
                // Fluent Bit's outputs add the record's time under `date` (its
                // `json_date_key`), as epoch seconds with a fraction unless told otherwise.
                b"date" => (&mut entry.stamp, 3),
                _ => (&mut Slot::default(), 0),
            };
            slot.offer(rank, value);
            match s.peek_past_space() {
                Some(b',') => s.at += 1,
                Some(b'}') => {
                    s.at += 1;
                    return s.end().map(|()| entry);
                }
                _ => return Err(JsonLineError::NotJson),
            }
        }
    }
}

/// A cursor over one JSON text.
struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
    /// The quotes and backslashes of `text`, found 64 bytes at a time: an entry has some
    /// sixty strings, most of them a few bytes long, and a search per string would cost more
    /// in set-up than in searching.
    marks: Marks<'a, 2>,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a [u8]) -> Self {
        Scanner {
            text,
            at: 0,
            marks: Marks::new(text, [b'"', b'\\']),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self
            .peek()
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            self.at += 1;
        }
    }

    fn peek_past_space(&mut self) -> Option<u8> {
        self.skip_space();
        self.peek()
    }

    fn expect(&mut self, byte: u8) -> Result<(), JsonLineError> {
        if self.peek_past_space() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(JsonLineError::NotJson)
        }
    }

    /// After the object: only white space.
    fn end(&mut self) -> Result<(), JsonLineError> {
        match self.peek_past_space() {
            None => Ok(()),
            Some(_) => Err(JsonLineError::NotJson),
        }
    }

    /// A string starting at the cursor: its raw bytes and whether it has escapes.
    fn string(&mut self) -> Result<(&'a [u8], bool), JsonLineError> {
        if self.peek() != Some(b'"') {
            return Err(JsonLineError::NotJson);
        }
        let start = self.at + 1;
        let mut at = start;
        let mut escaped = false;
        loop {
            let Some(found) = self.marks.next_from(at) else {
                return Err(JsonLineError::NotJson);
            };
            at = found;
            if self.text[at] == b'"' {
                self.at = at + 1;
                return Ok((&self.text[start..at], escaped));
            }
            // A backslash and the byte it escapes (a `\u` escape's digits are plain bytes).
            escaped = true;
            at += 2;
            if at > self.text.len() {
                return Err(JsonLineError::NotJson);
            }
        }
    }

    fn value(&mut self) -> Result<Value<'a>, JsonLineError> {
        match self.peek_past_space() {
            Some(b'"') => {
                let (raw, escaped) = self.string()?;
                Ok(Value::Text { raw, escaped })
            }
            Some(open @ (b'[' | b'{')) => {
                let start = self.at + 1;
                self.skip_nested()?;
                let inner = &self.text[start..self.at - 1];
                Ok(if open == b'[' {
                    Value::Array(inner)
                } else {
                    Value::Object
                })
            }
            Some(_) => {
                let start = self.at;
                while self.peek().is_some_and(|b| {
                    !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n')
                }) {
                    self.at += 1;
                }
                let word = &self.text[start..self.at];
                match word {
                    b"null" => Ok(Value::Null),
                    b"" => Err(JsonLineError::NotJson),
                    _ => Ok(Value::Other(word)),
                }
            }
            None => Err(JsonLineError::NotJson),
        }
    }

    /// Past the array or object that opens at the cursor, strings inside it included.
    fn skip_nested(&mut self) -> Result<(), JsonLineError> {
        let mut depth = 0usize;
        loop {
            match self.peek() {
                None => return Err(JsonLineError::NotJson),
                Some(b'"') => {
                    self.string()?;
                    continue;
                }
                Some(b'[' | b'{') => depth += 1,
                Some(b']' | b'}') => {
                    depth -= 1;
                    if depth == 0 {
                        self.at += 1;
                        return Ok(());
                    }
                }
                Some(_) => {}
            }
            self.at += 1;
        }
    }
}

/// Appends the bytes `value` stands for to `out`: a string unescaped, a binary value's
/// numbers as bytes, the first of several values. `false` for `null` and objects (or an
/// array it cannot read).
fn push_value(value: Value<'_>, out: &mut Vec<u8>) -> bool {
    match value {
        Value::Text {
            raw,
            escaped: false,
        }
        | Value::Other(raw) => {
            out.extend_from_slice(raw);
            true
        }
        Value::Text { raw, escaped: true } => {
            unescape(raw, out);
            true
        }
        Value::Null | Value::Object => false,
        Value::Array(inner) => push_array(inner, out),
    }
}

/// An array's value: bytes given as numbers (`[80,111]`), or the first of several values
/// (`["a","b"]`, `[[80],[81]]`).
fn push_array(inner: &[u8], out: &mut Vec<u8>) -> bool {
    let mut s = Scanner::new(inner);
    match s.peek_past_space() {
        Some(b'"' | b'[') => s.value().is_ok_and(|first| push_value(first, out)),
        Some(_) => {
            let start = out.len();
            for number in inner.split(|&b| b == b',') {
                match std::str::from_utf8(number.trim_ascii())
                    .ok()
                    .and_then(|n| n.parse::<u8>().ok())
                {
                    Some(byte) => out.push(byte),
                    None => {
                        out.truncate(start);
                        return false;
                    }
                }
            }
            true
        }
        None => true,
    }
}

/// Appends the string whose raw bytes (between the quotes) are `raw` with its escapes undone.
/// An escape that is not valid JSON is kept as it stands.
fn unescape(raw: &[u8], out: &mut Vec<u8>) {
    let mut rest = raw;
    while let Some(slash) = memchr::memchr(b'\\', rest) {
        out.extend_from_slice(&rest[..slash]);
        let Some(&kind) = rest.get(slash + 1) else {
            out.push(b'\\');
            return;
        };
        let mut used = 2;
        match kind {
            b'"' | b'\\' | b'/' => out.push(kind),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => match unicode_escape(&rest[slash..]) {
                Some((c, len)) => {
                    let mut utf8 = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                    used = len;
                }
                None => out.extend_from_slice(b"\\u"),
            },
            other => out.extend_from_slice(&[b'\\', other]),
        }
        rest = &rest[slash + used..];
    }
    out.extend_from_slice(rest);
}

/// The character of the `\uXXXX` escape (or surrogate pair of two) at the start of `text`, and
/// how many bytes it takes. A lone surrogate reads as U+FFFD.
fn unicode_escape(text: &[u8]) -> Option<(char, usize)> {
    let hex = |at: usize| -> Option<u32> {
        let digits = std::str::from_utf8(text.get(at..at + 4)?).ok()?;
        u32::from_str_radix(digits, 16).ok()
    };
    let first = hex(2)?;
    if (0xd800..0xdc00).contains(&first)
        && text.get(6..8) == Some(b"\\u")
        && let Some(second) = hex(8)
        && (0xdc00..0xe000).contains(&second)
    {
        let c = 0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00);
        return Some((char::from_u32(c)?, 12));
    }
    Some((char::from_u32(first).unwrap_or('\u{fffd}'), 6))
}

/// Microseconds since the epoch, from a field of decimal digits.
fn micros(value: Option<Value<'_>>) -> Option<i64> {
    let (Value::Text { raw, .. } | Value::Other(raw)) = value? else {
        return None;
    };
    if raw.is_empty() || raw.len() > 18 || !raw.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(raw.iter().fold(0, |n, &d| n * 10 + i64::from(d - b'0')))
}

/// Turns JSON lines into syslog lines, in a buffer kept from line to line.
#[derive(Debug, Default)]
pub struct JsonLine {
    line: Vec<u8>,
}

impl JsonLine {
    pub fn new() -> Self {
        Self::default()
    }

    /// The syslog line `line` holds. `None` for a journal entry without a message or a
    /// program (the kernel's, or journald's own): such an entry is not a mail log's, and is
    /// skipped like another program's line.
    ///
    /// # Errors
    /// [`JsonLineError`] when the line is not a JSON object, has no message, names a program
    /// but gives no time, or its message was left out of the export.
    pub fn decode(&mut self, line: &[u8]) -> Result<Option<&[u8]>, JsonLineError> {
        let fields = Entry::scan(line)?;
        let Some(message) = fields.message.value else {
            return if fields.journal {
                Ok(None)
            } else {
                Err(JsonLineError::NoMessage)
            };
        };
        let out = &mut self.line;
        out.clear();
        let Some(program) = fields.program.value else {
            if fields.journal {
                return Ok(None);
            }
            // The whole syslog line, as the program wrote it (Docker keeps its newline).
            if !push_value(message, out) {
                return Err(JsonLineError::MessageLeftOut);
            }
            while out.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
                out.pop();
            }
            return Ok(Some(out));
        };
        if let Some(time) = micros(fields.micros.value) {
            push_rfc3339_utc(time, out);
        } else if !fields
            .stamp
            .value
            .is_some_and(|stamp| push_stamp(stamp, out))
        {
            return Err(JsonLineError::NoTime);
        }
        out.push(b' ');
        let host_at = out.len();
        if !fields.host.value.is_some_and(|host| push_value(host, out)) || out.len() == host_at {
            out.truncate(host_at);
            out.extend_from_slice(b"localhost");
        }
        out.push(b' ');
        let tag_at = out.len();
        if !push_value(program, out) || out.len() == tag_at {
            return Ok(None);
        }
        let pid_at = out.len();
        out.push(b'[');
        if fields.pid.value.is_some_and(|pid| push_value(pid, out)) && out.len() > pid_at + 1 {
            out.push(b']');
        } else {
            out.truncate(pid_at);
        }
        out.extend_from_slice(b": ");
        if !push_value(message, out) {
            return Err(JsonLineError::MessageLeftOut);
        }
        Ok(Some(out))
    }
}

/// Appends a shipper's time as the syslog parser reads it: epoch time (a number, or a string
/// of one) as UTC like a journal entry's, a date and time joined by a space (Fluent Bit's
/// `java_sql_timestamp`, `2025-06-10 06:27:30.123456`) joined by a `T` instead, and any
/// other text as it stands (RFC 3339 and traditional stamps are read; what is not is then
/// rejected as a bad timestamp). `false` for no time at all.
fn push_stamp(stamp: Value<'_>, out: &mut Vec<u8>) -> bool {
    if let Some(micros) = epoch_micros(stamp) {
        push_rfc3339_utc(micros, out);
        return true;
    }
    let start = out.len();
    if !push_value(stamp, out) || out.len() == start {
        return false;
    }
    let text = &mut out[start..];
    if text.len() >= 19
        && text[10] == b' '
        && text[4] == b'-'
        && text[7] == b'-'
        && text[13] == b':'
        && text[..4].iter().all(u8::is_ascii_digit)
    {
        text[10] = b'T';
    }
    true
}

/// A shipper's epoch time in microseconds (see [`super::syslog::epoch_micros`]): a number, or
/// a string of one without escapes.
fn epoch_micros(stamp: Value<'_>) -> Option<i64> {
    let (Value::Other(raw)
    | Value::Text {
        raw,
        escaped: false,
    }) = stamp
    else {
        return None;
    };
    super::syslog::epoch_micros(raw)
}

/// Appends `2025-06-10T06:27:30.123456+00:00` for `micros` since the epoch (years outside
/// 0-9999 clamped to them).
fn push_rfc3339_utc(micros: i64, out: &mut Vec<u8>) {
    let (year, month, day, hour, minute, second) =
        super::syslog::civil(micros.div_euclid(1_000_000));
    let mut stamp = *b"0000-00-00T00:00:00.000000+00:00";
    let mut put = |at: usize, width: usize, mut n: u32| {
        for digit in stamp[at..at + width].iter_mut().rev() {
            *digit = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year.clamp(0, 9999) as u32);
    put(5, 2, month);
    put(8, 2, day);
    put(11, 2, hour);
    put(14, 2, minute);
    put(17, 2, second);
    put(20, 6, micros.rem_euclid(1_000_000) as u32);
    out.extend_from_slice(&stamp);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(entry: &str) -> Result<Option<String>, JsonLineError> {
        let mut line = JsonLine::new();
        line.decode(entry.as_bytes())
            .map(|l| l.map(|l| String::from_utf8_lossy(l).into_owned()))
    }

    /// An entry as `journalctl -o json` writes a Postfix line that came through syslog(3).
    const DELIVERY: &str = concat!(
        r#"{"__CURSOR":"s=8f1c;i=2a41;b=5e0d;m=1c9a;t=63731ca7a1b2c;x=77e0","#,
        r#""__REALTIME_TIMESTAMP":"1749536850123999","__MONOTONIC_TIMESTAMP":"3621004581","#,
        r#""_BOOT_ID":"5e0d2b1c9a7f4e03b6a1d2c3e4f50617","PRIORITY":"6","SYSLOG_FACILITY":"2","#,
        r#""SYSLOG_IDENTIFIER":"postfix/smtp","SYSLOG_PID":"4242","#,
        r#""MESSAGE":"4bQ1x2Lk3vz9: to=<ann@example.org>, relay=mx.example.org[192.0.2.7]:25, dsn=5.1.1, status=bounced (host mx.example.org[192.0.2.7] said: 550 5.1.1 \"ann\" unknown \\ gone (in reply to RCPT TO command))","#,
        r#""_PID":"4242","_UID":"107","_GID":"113","_COMM":"smtp","_HOSTNAME":"mx1","#,
        r#""_TRANSPORT":"syslog","_SOURCE_REALTIME_TIMESTAMP":"1749536850123456"}"#,
    );

    #[test]
    fn an_entry_becomes_its_syslog_line() {
        assert_eq!(
            decode(DELIVERY).unwrap().unwrap(),
            "2025-06-10T06:27:30.123456+00:00 mx1 postfix/smtp[4242]: 4bQ1x2Lk3vz9: \
             to=<ann@example.org>, relay=mx.example.org[192.0.2.7]:25, dsn=5.1.1, \
             status=bounced (host mx.example.org[192.0.2.7] said: 550 5.1.1 \"ann\" unknown \
             \\ gone (in reply to RCPT TO command))"
        );
        // json-seq's separator, spaces around the tokens, and the journal's own time when
        // the source's is missing.
        let spaced = "\u{1e}{ \"MESSAGE\" : \"hello\" , \"SYSLOG_IDENTIFIER\": \"postfix/qmgr\",\
                      \"__REALTIME_TIMESTAMP\" : \"86400000001\", \"_HOSTNAME\":\"h\" }  ";
        assert_eq!(
            decode(spaced).unwrap().unwrap(),
            "1970-01-02T00:00:00.000001+00:00 h postfix/qmgr: hello"
        );
    }

    #[test]
    fn values_that_are_not_plain_strings() {
        let base = r#""SYSLOG_IDENTIFIER":"exim4","_PID":"77","__REALTIME_TIMESTAMP":"0""#;
        // A value that is not UTF-8: its bytes as numbers.
        let binary = format!(r#"{{{base},"MESSAGE":[104, 105,255],"_HOSTNAME":"h"}}"#);
        let mut line = JsonLine::new();
        assert_eq!(
            line.decode(binary.as_bytes()).unwrap().unwrap(),
            b"1970-01-01T00:00:00.000000+00:00 h exim4[77]: hi\xff"
        );
        // Several values: the first counts, and so does the first of a key given twice.
        let many = format!(
            r#"{{{base},"MESSAGE":["one","two"],"MESSAGE":"three","_HOSTNAME":[[104],[105]]}}"#
        );
        assert_eq!(
            decode(&many).unwrap().unwrap(),
            "1970-01-01T00:00:00.000000+00:00 h exim4[77]: one"
        );
        // Escapes: \u with a surrogate pair, a lone surrogate, \/ and control characters.
        let escaped = format!(r#"{{{base},"MESSAGE":"caf\u00e9 \ud83d\udce7 \ud800 a\/b\tc\nd"}}"#);
        assert_eq!(
            decode(&escaped).unwrap().unwrap(),
            "1970-01-01T00:00:00.000000+00:00 localhost exim4[77]: café 📧 \u{fffd} a/b\tc\nd"
        );
        // Nested values and numbers elsewhere are stepped over.
        let nested = format!(r#"{{"X":{{"a":[1,{{"b":"}}"}}]}},"N":12,{base},"MESSAGE":"m"}}"#);
        assert_eq!(
            decode(&nested).unwrap().unwrap(),
            "1970-01-01T00:00:00.000000+00:00 localhost exim4[77]: m"
        );
    }

    #[test]
    fn entries_that_are_skipped_or_rejected() {
        // No program, or no message: not a mail log's line.
        let kernel =
            r#"{"__REALTIME_TIMESTAMP":"1","MESSAGE":"usb 1-1: new device","_TRANSPORT":"kernel"}"#;
        assert_eq!(decode(kernel), Ok(None));
        let no_message = r#"{"__REALTIME_TIMESTAMP":"1","SYSLOG_IDENTIFIER":"postfix/smtp"}"#;
        assert_eq!(decode(no_message), Ok(None));
        // A message journalctl left out, an entry without time, and broken JSON.
        let left_out =
            r#"{"__REALTIME_TIMESTAMP":"1","SYSLOG_IDENTIFIER":"postfix/smtp","MESSAGE":null}"#;
        assert_eq!(decode(left_out), Err(JsonLineError::MessageLeftOut));
        let no_time =
            r#"{"SYSLOG_IDENTIFIER":"postfix/smtp","MESSAGE":"x","__REALTIME_TIMESTAMP":"soon"}"#;
        assert_eq!(decode(no_time), Err(JsonLineError::NoTime));
        for broken in [
            "{",
            r#"{"MESSAGE":"x""#,
            r#"{"MESSAGE":"x\"}"#,
            r#"{"MESSAGE" "x"}"#,
            r#"{"MESSAGE":"x",}"#,
            r#"{"MESSAGE":"x"} trailing"#,
            r#"{"MESSAGE":["x"}"#,
            r#"{"MESSAGE":}"#,
        ] {
            assert_eq!(decode(broken), Err(JsonLineError::NotJson), "{broken}");
        }
        assert_eq!(decode("{}"), Err(JsonLineError::NoMessage));
    }

    /// Shippers' times: epoch time in any unit as UTC, a space-joined date and time joined by
    /// a `T`, text as it stands; Fluent Bit's `date` below the other time fields.
    #[test]
    fn shippers_times_become_stamps() {
        let line_at = |stamp: &str| {
            let record = format!(
                r#"{{"date":{stamp},"pri":"22","host":"mx1","ident":"postfix/smtp","pid":"7","message":"A1: removed"}}"#
            );
            decode(&record).map(|line| line.unwrap())
        };
        let utc = "2025-06-10T06:27:30.000000+00:00 mx1 postfix/smtp[7]: A1: removed";
        let utc_frac = "2025-06-10T06:27:30.123456+00:00 mx1 postfix/smtp[7]: A1: removed";
        for (stamp, line) in [
            // Fluent Bit's `double` (the default), `epoch`, `epoch_ms`; microseconds and
            // nanoseconds; epoch time as a string; a fraction past the microsecond.
            ("1749536850.123456", utc_frac),
            ("1749536850.1234569", utc_frac),
            ("1749536850", utc),
            ("1749536850.0", utc),
            ("1749536850123.456", utc_frac),
            ("1749536850123456", utc_frac),
            ("1749536850123456789", utc_frac),
            (r#""1749536850.123456""#, utc_frac),
            // `iso8601` and `java_sql_timestamp`.
            (
                r#""2025-06-10T06:27:30.123456Z""#,
                "2025-06-10T06:27:30.123456Z mx1 postfix/smtp[7]: A1: removed",
            ),
            (
                r#""2025-06-10 06:27:30.123456""#,
                "2025-06-10T06:27:30.123456 mx1 postfix/smtp[7]: A1: removed",
            ),
            // What is not epoch time is copied, for the syslog parser to reject.
            (
                "1.749536850E9",
                "1.749536850E9 mx1 postfix/smtp[7]: A1: removed",
            ),
            (
                "-1749536850",
                "-1749536850 mx1 postfix/smtp[7]: A1: removed",
            ),
            ("2025", "2025 mx1 postfix/smtp[7]: A1: removed"),
            (
                r#""2025-06-10""#,
                "2025-06-10 mx1 postfix/smtp[7]: A1: removed",
            ),
        ] {
            assert_eq!(line_at(stamp).as_deref(), Ok(line), "{stamp}");
        }
        for no_time in ["null", r#""""#, "{}"] {
            assert_eq!(line_at(no_time), Err(JsonLineError::NoTime), "{no_time}");
        }
        // The parser's own `time` (kept with `Time_Keep`) over the output's `date`.
        let both = r#"{"date":1749536850.5,"time":"Jun 10 06:27:30","ident":"exim","message":"x"}"#;
        assert_eq!(
            decode(both).unwrap().unwrap(),
            "Jun 10 06:27:30 localhost exim: x"
        );
        // Loki's `logcli query -o jsonl`: the whole line, its labels an object.
        let loki = r#"{"labels":{"filename":"/var/log/mail.log","job":"mail"},"line":"Jun 10 06:27:30 mx1 postfix/qmgr[900]: A1: removed","timestamp":"2025-06-10T06:27:30.000000001Z"}"#;
        assert_eq!(
            decode(loki).unwrap().unwrap(),
            "Jun 10 06:27:30 mx1 postfix/qmgr[900]: A1: removed"
        );
        // Fluent Bit's `systemd` input: the journal's fields and the output's `date`; an
        // entry without a program is another source's, skipped as in a journal export.
        let systemd = r#"{"date":1749536850.25,"_HOSTNAME":"mx1","SYSLOG_IDENTIFIER":"postfix/qmgr","_PID":"900","MESSAGE":"A1: removed"}"#;
        assert_eq!(
            decode(systemd).unwrap().unwrap(),
            "2025-06-10T06:27:30.250000+00:00 mx1 postfix/qmgr[900]: A1: removed"
        );
        let kernel = r#"{"date":1749536850.25,"_HOSTNAME":"mx1","MESSAGE":"eth0: link up"}"#;
        assert_eq!(decode(kernel), Ok(None));
    }

    /// Records of log shippers and container runtimes: the whole line in one field, or its
    /// parts in fields named as each writer names them.
    #[test]
    fn shippers_records_become_their_syslog_lines() {
        // Docker's json-file driver keeps the line's newline.
        let docker = r#"{"log":"Jun 10 06:27:30.123456 mx1 postfix/qmgr[900]: 7C1D02A0F3: removed\n","stream":"stdout","time":"2025-06-10T06:27:30.123457891Z"}"#;
        assert_eq!(
            decode(docker).unwrap().unwrap(),
            "Jun 10 06:27:30.123456 mx1 postfix/qmgr[900]: 7C1D02A0F3: removed"
        );
        // Vector's syslog source: `hostname` over `host` (the peer's address), a number for
        // the pid, whatever the order of the fields.
        let vector = r#"{"host":"192.0.2.5","procid":4242,"appname":"postfix/smtp","facility":"mail","hostname":"mx1","message":"7C1D02A0F3: to=<a@b.example>, status=sent (250 ok)","severity":"info","source_type":"syslog","timestamp":"2025-06-10T06:27:30.5Z","version":1}"#;
        assert_eq!(
            decode(vector).unwrap().unwrap(),
            "2025-06-10T06:27:30.5Z mx1 postfix/smtp[4242]: 7C1D02A0F3: to=<a@b.example>, \
             status=sent (250 ok)"
        );
        // Fluent Bit's syslog parser keeps the traditional time as it stands.
        let fluent = r#"{"pri":"22","time":"Jun 10 06:27:30","host":"mx2","ident":"exim","pid":"3101","message":"1tBBBA-000000002aB-0Cd1 Completed"}"#;
        assert_eq!(
            decode(fluent).unwrap().unwrap(),
            "Jun 10 06:27:30 mx2 exim[3101]: 1tBBBA-000000002aB-0Cd1 Completed"
        );
        // Logstash: the line in `message`, `host` an object (no host name to take).
        let logstash = r#"{"@timestamp":"2025-06-10T06:27:30.000Z","host":{"name":"mx1"},"message":"Jun 10 06:27:30 mx1 postfix/smtpd[1]: connect from x[192.0.2.1]","@version":"1"}"#;
        assert_eq!(
            decode(logstash).unwrap().unwrap(),
            "Jun 10 06:27:30 mx1 postfix/smtpd[1]: connect from x[192.0.2.1]"
        );
        let parts_no_host = r#"{"program":"postfix/qmgr","message":"ABCDE12345: removed","@timestamp":"2025-06-10T06:27:30Z","host":{"name":"mx1"}}"#;
        assert_eq!(
            decode(parts_no_host).unwrap().unwrap(),
            "2025-06-10T06:27:30Z localhost postfix/qmgr: ABCDE12345: removed"
        );
        // JSON that holds no message, and a program without a time, are rejected.
        assert_eq!(
            decode(r#"{"level":"info","text":"x"}"#),
            Err(JsonLineError::NoMessage)
        );
        assert_eq!(
            decode(r#"{"appname":"postfix/smtp","message":"x"}"#),
            Err(JsonLineError::NoTime)
        );
    }

    #[test]
    fn the_file_format_is_the_mta_whose_entries_these_are() {
        use crate::format::Format;
        assert_eq!(Format::detect(DELIVERY.as_bytes()), Some(Format::Postfix));
        let exim = DELIVERY.replace("postfix/smtp", "exim");
        assert_eq!(Format::detect(exim.as_bytes()), Some(Format::Exim));
        // Most entries decide.
        let mixed = format!("{exim}\n{DELIVERY}\n{exim}\n");
        assert_eq!(Format::detect(mixed.as_bytes()), Some(Format::Exim));
        // A bounce text that quotes an ESP's key inside the message does not make it an export.
        let quoting = DELIVERY.replace("unknown", r#"\"eventType\" \"msys\""#);
        assert_eq!(Format::detect(quoting.as_bytes()), Some(Format::Postfix));
        // Docker's records of an Exim mainlog; an ESP's export is still one.
        let docker = r#"{"log":"2025-03-10 09:00:02 1tAAAA-0001aB-Cd Completed QT=1s\n","stream":"stdout","time":"2025-03-10T09:00:02.1Z"}"#;
        assert_eq!(Format::detect(docker.as_bytes()), Some(Format::Exim));
        let ses = r#"{"eventType":"Bounce","bounce":{"bounceType":"Permanent"},"mail":{}}"#;
        assert_eq!(Format::detect(ses.as_bytes()), Some(Format::Ses));
    }
}
