//! Reply-text normalisation: the form of a diagnostic text that rules match against and that
//! the cache is keyed on.
//!
//! Raw replies differ per message in ways that never change their meaning: addresses, IPs,
//! session ids, timestamps, queue ids, and the `550-5.7.1` continuation prefixes that a
//! multi-line reply leaves in the middle of its sentences once unfolded. Normalising them away
//! makes phrases contiguous again (so a rule can match "ptr record" even when the provider
//! broke the line between the two words) and lets thousands of distinct replies share one
//! cache entry. Because rules only ever see the normalised text, two replies with the same
//! normalised form always classify the same way: the cache can never change an answer.
//!
//! The output is ASCII-lowercased, whitespace-collapsed bytes; non-ASCII bytes pass through
//! untouched here and are case-folded for matching by [`fold_case`].

use crate::event::{EnhancedCode, Stage};
use crate::format::syslog::{HIGH_BITS, LOW_BITS, byte_bits, letter_bits};

/// The replacement for a token that identifies one message, host or address.
const VARIABLE: u8 = b'#';

/// Appends the normalised form of `text` to `out`.
///
/// One pass over the text: each whitespace-separated word is cut before any `[` (so
/// `sender[192.0.2.1]` keeps its word), and each piece is measured as it is scanned and then
/// either dropped (status codes), replaced by `#` (addresses, IPs, long numbers, ids, and the
/// names of hosts and domains: `host mx.example.org said:`, `mx.example.org[192.0.2.1]`,
/// Exim's `for 'example.org'`, the resolver's `name=example.org`, and any of the `known`
/// names), or copied lowercased.
///
/// `known` holds names the attempt itself carries, the receiving host and the recipient's
/// domain: a server that repeats them (`421 mx1.example.org Service not available`, `Domain
/// example.org does not accept mail`) says the same thing to every domain, so they are masked
/// wherever they stand. They are compared whole and without regard to ASCII case.
pub fn normalize_into(text: &[u8], known: &[&[u8]], out: &mut Vec<u8>) {
    let mut sink = Sink::new(out, known);
    let mut i = 0;
    while i < text.len() {
        i = skip_whitespace(text, i);
        if i == text.len() {
            break;
        }
        // Most of a reply is plain words (ASCII letters) one space apart: such a run is
        // written in one piece, as the words one by one would be.
        let run = plain_run(&text[i..]);
        if run.end > 0 {
            sink.words(&text[i..i + run.end], &text[i + run.last_word..i + run.end]);
            i += run.end;
            continue;
        }
        let (end, packed) = piece_end(text, i);
        sink.piece(&text[i..end], packed, text.get(end) == Some(&b'['));
        i = end;
    }
}

/// Where the whitespace at `from` in `text` ends.
#[inline(always)]
fn skip_whitespace(text: &[u8], mut from: usize) -> usize {
    while from < text.len() && CLASS[usize::from(text[from])] & WS != 0 {
        from += 1;
    }
    from
}

/// The piece of `text` that starts at `start` (its first byte taken whatever it is): where it
/// ends (at whitespace, a `[` or the end of `text`), and the sum of its bytes' [`PACKED`]
/// counts, read byte by byte.
///
/// This and [`skip_whitespace`] are always inlined: left to the compiler, the scan loop ran
/// the 40,000 failures of the callgrind series in 447.1 M instructions, against 440.7 M.
#[inline(always)]
fn piece_end(text: &[u8], start: usize) -> (usize, u64) {
    let mut packed = PACKED[usize::from(text[start])];
    let mut end = start + 1;
    while end < text.len() {
        let byte = usize::from(text[end]);
        if CLASS[byte] & (WS | OPEN_BRACKET) != 0 {
            break;
        }
        packed += PACKED[byte];
        end += 1;
    }
    (end, packed)
}

/// A run of plain words at the start of a text, as [`plain_run`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    /// Where the run ends (0: the text does not start with a plain word).
    end: usize,
    /// Where its last word starts.
    last_word: usize,
}

/// The run of plain words that `text` starts with: words of ASCII letters, each maybe ended by
/// one `.`, `,`, `;` or `:` (`address.`, `busy,`, `said:`), one space between each and the
/// next, the last of them ending at whitespace, a `[` or the end of `text` (where any piece
/// ends). [`Sink::token`] writes such a word as it is, lowercased, as [`Sink::words`] does. A
/// word that runs on into other bytes (`mx.example.org`, `IP4`, `later.)`) is not plain, and
/// the run ends at the space before it.
///
/// Read eight bytes at a time: a byte stays in the run if it is a letter, a space that a letter
/// follows, or one of the four marks between a letter and a space (or the end).
fn plain_run(text: &[u8]) -> Run {
    let kept_at = |at: usize| {
        let letter = |at: usize| text.get(at).is_some_and(u8::is_ascii_alphabetic);
        match text[at] {
            b' ' => letter(at + 1),
            b'.' | b',' | b';' | b':' => {
                at > 0 && letter(at - 1) && text.get(at + 1).is_none_or(|&b| b == b' ')
            }
            b => b.is_ascii_alphabetic(),
        }
    };
    let mut stop = 0;
    // The letters of the eight bytes before `stop`, for the marks.
    let mut letters_before = 0;
    loop {
        let (Some(here), Some(next)) = (text.get(stop..stop + 8), text.get(stop + 1..stop + 9))
        else {
            // The last bytes, one at a time.
            while stop < text.len() && kept_at(stop) {
                stop += 1;
            }
            break;
        };
        let here = u64::from_le_bytes(here.try_into().expect("eight bytes"));
        let next = u64::from_le_bytes(next.try_into().expect("eight bytes"));
        let letters = letter_bits(here);
        let after_letter = (letters << 8) | (letters_before >> 56);
        let marks = [b'.', b',', b';', b':']
            .into_iter()
            .fold(0, |marks, mark| marks | byte_bits(here, mark));
        let kept = letters
            | (byte_bits(here, b' ') & letter_bits(next))
            | (marks & after_letter & byte_bits(next, b' '));
        let left = !kept & HIGH_BITS;
        if left != 0 {
            stop += (left.trailing_zeros() / 8) as usize;
            break;
        }
        letters_before = letters;
        stop += 8;
    }
    // `text[..stop]` is words one space apart (or empty). Its last word is plain if it ends
    // where a piece ends.
    let last_word = text[..stop]
        .iter()
        .rposition(|&b| b == b' ')
        .map_or(0, |space| space + 1);
    let ends_piece = text
        .get(stop)
        .is_none_or(|&b| CLASS[usize::from(b)] & (WS | OPEN_BRACKET) != 0);
    if ends_piece {
        return Run {
            end: stop,
            last_word,
        };
    }
    match last_word {
        0 => Run {
            end: 0,
            last_word: 0,
        },
        after_space => {
            let end = after_space - 1;
            let last_word = text[..end]
                .iter()
                .rposition(|&b| b == b' ')
                .map_or(0, |space| space + 1);
            Run { end, last_word }
        }
    }
}

/// The word before a token, where it tells what the token names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum After {
    /// `host mx.example.org said`: a dotted token is a host name.
    Host,
    /// `for 'example.org'` (Exim's `retry time not reached for any host for '...'`, `all
    /// hosts for '...' have been failing`): a quoted dotted token is the recipient's domain.
    For,
    Other,
}

impl After {
    fn word(word: &[u8]) -> After {
        if word.eq_ignore_ascii_case(b"host") {
            After::Host
        } else if word.eq_ignore_ascii_case(b"for") {
            After::For
        } else {
            After::Other
        }
    }
}

/// Where [`normalize_into`] writes, with what it remembers between tokens.
struct Sink<'o, 'k> {
    out: &'o mut Vec<u8>,
    /// Where this text's normalised form begins in `out`.
    start: usize,
    after: After,
    known: &'k [&'k [u8]],
}

impl<'o, 'k> Sink<'o, 'k> {
    /// A sink that appends to what `out` holds.
    fn new(out: &'o mut Vec<u8>, known: &'k [&'k [u8]]) -> Self {
        Sink {
            start: out.len(),
            out,
            after: After::Other,
            known,
        }
    }

    fn separate(&mut self) {
        if self.out.len() > self.start {
            self.out.push(b' ');
        }
    }

    /// A token of ASCII letters only (most words of a reply): it holds no code, number,
    /// address, URL or punctuation, so [`Sink::token`] would copy it lowercased, and this does
    /// just that. (The tests' reading, one word at a time; [`Sink::words`] writes runs.)
    #[cfg(test)]
    fn word(&mut self, word: &[u8]) {
        self.separate();
        self.after = After::word(word);
        push_lowercase(word, self.out);
    }

    /// Plain words one space apart (see [`plain_run`]), `last` the last of them: what
    /// [`Sink::word`] writes for each, written at once. Setting bit 5 lowercases a letter and
    /// leaves a space as it is.
    fn words(&mut self, run: &[u8], last: &[u8]) {
        self.separate();
        self.after = After::word(last);
        self.out.reserve(run.len());
        let mut chunks = run.chunks_exact(8);
        for chunk in &mut chunks {
            let chunk = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            self.out
                .extend_from_slice(&(chunk | (LOW_BITS * 0x20)).to_le_bytes());
        }
        self.out
            .extend(chunks.remainder().iter().map(|&b| b | 0x20));
    }

    /// A piece read byte by byte ([`piece_end`]), with its packed counts: the counts are
    /// exact up to [`LANE_MAX`] bytes, and a longer piece is counted again.
    fn piece(&mut self, token: &[u8], packed: u64, before_bracket: bool) {
        let stats = if token.len() <= LANE_MAX {
            Stats::unpack(packed)
        } else {
            Stats::of(token)
        };
        self.token(token, stats, before_bracket);
    }

    fn token(&mut self, token: &[u8], mut stats: Stats, before_bracket: bool) {
        let stripped = strip_reply_prefix(token);
        if stripped.len() != token.len() {
            if stripped.is_empty() {
                return;
            }
            stats = Stats::of(stripped);
        }
        let token = stripped;
        let core = trim_punct(token, &mut stats);
        if stats.is_status_code(core) {
            return;
        }
        self.separate();
        let url = is_url(token);
        let named = stats.dots > 0 && !url;
        let host_name = named && (before_bracket || self.after == After::Host);
        let quoted_domain = named
            && self.after == After::For
            && token.len() > 2
            && token[0] == b'\''
            && token[token.len() - 1] == b'\'';
        let known = named && self.known.iter().any(|k| k.eq_ignore_ascii_case(core));
        self.after = After::word(token);
        let out = &mut *self.out;
        if host_name || quoted_domain || known || stats.is_variable(core, url) {
            out.push(VARIABLE);
        } else if named && token.len() > 5 && token[..5].eq_ignore_ascii_case(b"name=") {
            // The resolver's `name=example.org type=MX`: the name looked up.
            out.extend_from_slice(b"name=");
            out.push(VARIABLE);
        } else if url {
            push_url(token, out);
        } else {
            push_lowercase(token, out);
        }
    }
}

/// Appends `bytes` ASCII-lowercased, in one pass (most are words of a few letters, for
/// which a copy and then a second pass cost more, the copy being a call into libc).
fn push_lowercase(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend(bytes.iter().map(u8::to_ascii_lowercase));
}

const WS: u8 = 1;
const DIGIT: u8 = 2;
const DOT: u8 = 4;
const COLON: u8 = 8;
const AT: u8 = 16;
const HEX_LETTER: u8 = 32;
const OPEN_BRACKET: u8 = 64;
/// Trimmed from both ends of a token before it is judged.
const PUNCT: u8 = 128;

/// Byte classes, so one table lookup per byte feeds every count.
static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = match c {
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => WS,
            b'0'..=b'9' => DIGIT,
            b'a'..=b'f' | b'A'..=b'F' => HEX_LETTER,
            b'.' => DOT | PUNCT,
            b':' => COLON | PUNCT,
            b'@' => AT,
            b'[' => OPEN_BRACKET | PUNCT,
            b'(' | b')' | b']' | b'<' | b'>' | b',' | b';' | b'"' | b'\'' => PUNCT,
            _ => 0,
        };
        b += 1;
    }
    table
};

/// Bits per count in a packed [`Stats`]: the scan adds one table entry per byte, and a token
/// of at most [`LANE_MAX`] bytes cannot carry one count into the next.
const LANE_BITS: u32 = 9;
const LANE_MAX: usize = (1 << LANE_BITS) - 1;
/// The last lane, above the six of [`Stats`], counts bytes that are not ASCII letters: a token
/// where it is zero is a plain word (see [`Sink::word`]).
#[cfg(test)]
const NOT_LETTER_LANE: u32 = 6 * LANE_BITS;

/// Per byte, the [`Stats`] counts it adds, packed into one word (see [`Stats::unpack`]), so
/// that the scan does one addition per byte instead of seven.
static PACKED: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut b = 0;
    while b < 256 {
        let class = CLASS[b];
        let counts = [
            class & DIGIT != 0,
            class & DOT != 0,
            class & COLON != 0,
            class & AT != 0,
            class & (DIGIT | DOT | COLON) == 0,
            class & (DIGIT | HEX_LETTER | COLON) == 0,
            !(b as u8).is_ascii_alphabetic(),
        ];
        let mut lane = 0;
        while lane < counts.len() {
            if counts[lane] {
                table[b] |= 1u64 << (lane as u32 * LANE_BITS);
            }
            lane += 1;
        }
        b += 1;
    }
    table
};

/// Counts over a token's bytes, kept while scanning and corrected when its ends are trimmed.
#[derive(Debug, Clone, Copy, Default)]
struct Stats {
    digits: usize,
    dots: usize,
    colons: usize,
    at_signs: usize,
    /// Bytes other than digits, dots and colons (zero for IPv4, with or without a port).
    not_numeric: usize,
    /// Bytes other than hex digits and colons (zero for IPv6).
    not_hex: usize,
}

impl Stats {
    fn of(bytes: &[u8]) -> Stats {
        let mut stats = Stats::default();
        for &b in bytes {
            stats.add(CLASS[usize::from(b)]);
        }
        stats
    }

    /// The counts summed from [`PACKED`] over at most [`LANE_MAX`] bytes.
    fn unpack(packed: u64) -> Stats {
        let lane = |index: u32| ((packed >> (index * LANE_BITS)) as usize) & LANE_MAX;
        Stats {
            digits: lane(0),
            dots: lane(1),
            colons: lane(2),
            at_signs: lane(3),
            not_numeric: lane(4),
            not_hex: lane(5),
        }
    }

    #[inline]
    fn add(&mut self, class: u8) {
        self.digits += usize::from(class & DIGIT != 0);
        self.dots += usize::from(class & DOT != 0);
        self.colons += usize::from(class & COLON != 0);
        self.at_signs += usize::from(class & AT != 0);
        self.not_numeric += usize::from(class & (DIGIT | DOT | COLON) == 0);
        self.not_hex += usize::from(class & (DIGIT | HEX_LETTER | COLON) == 0);
    }

    fn remove(&mut self, class: u8) {
        self.digits -= usize::from(class & DIGIT != 0);
        self.dots -= usize::from(class & DOT != 0);
        self.colons -= usize::from(class & COLON != 0);
        self.at_signs -= usize::from(class & AT != 0);
        self.not_numeric -= usize::from(class & (DIGIT | DOT | COLON) == 0);
        self.not_hex -= usize::from(class & (DIGIT | HEX_LETTER | COLON) == 0);
    }

    /// A reply code (`550`) or an enhanced status code (`5.7.1`, `#5.1.1`). The classifier
    /// reads codes structurally, so in text they are noise.
    fn is_status_code(&self, core: &[u8]) -> bool {
        let code = core.strip_prefix(b"#").unwrap_or(core);
        match code.first() {
            Some(b'2' | b'4' | b'5') => {}
            _ => return false,
        }
        if code.len() == 3 && self.digits == 3 {
            return true;
        }
        self.dots == 2 && EnhancedCode::parse(code).is_some()
    }

    /// True for tokens that name one message, address or host rather than a reason: e-mail
    /// addresses, IP addresses, numbers of three or more digits, and long tokens mixing
    /// letters and digits (session ids, queue ids, datacentre host names, timestamps). Short
    /// codes such as `TSS04`, `S3150` or `BL000010` are kept because rules may name them.
    fn is_variable(&self, core: &[u8], url: bool) -> bool {
        if self.at_signs > 0 {
            return true;
        }
        if self.digits == 0 || url {
            return false;
        }
        if self.not_numeric == 0 && self.dots >= 3 {
            return true;
        }
        if self.not_hex == 0 && self.colons >= 2 {
            return true;
        }
        if self.digits == core.len() && self.digits >= 3 {
            return true;
        }
        core.len() >= 10 && self.digits >= 2
    }
}

/// Returns the normalised form of `text` as a new vector (for tests and tools; the classifier
/// normalises into a reused buffer).
pub fn normalize(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    normalize_into(text, &[], &mut out);
    out
}

/// Strips a leading `550-` (continuation) reply-code prefix glued to a word.
fn strip_reply_prefix(token: &[u8]) -> &[u8] {
    if token.len() >= 4
        && matches!(token[0], b'2' | b'4' | b'5')
        && token[1].is_ascii_digit()
        && token[2].is_ascii_digit()
        && token[3] == b'-'
    {
        return &token[4..];
    }
    token
}

/// The token without punctuation at its ends (`<`, `>`, brackets, quotes, `.,;:`), with the
/// trimmed bytes taken out of `stats`.
fn trim_punct<'t>(token: &'t [u8], stats: &mut Stats) -> &'t [u8] {
    let mut start = 0;
    let mut end = token.len();
    while start < end && CLASS[usize::from(token[start])] & PUNCT != 0 {
        stats.remove(CLASS[usize::from(token[start])]);
        start += 1;
    }
    while end > start && CLASS[usize::from(token[end - 1])] & PUNCT != 0 {
        stats.remove(CLASS[usize::from(token[end - 1])]);
        end -= 1;
    }
    &token[start..end]
}

fn is_url(token: &[u8]) -> bool {
    let starts = |prefix: &[u8]| {
        token.len() >= prefix.len() && token[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    starts(b"http://") || starts(b"https://") || starts(b"(http")
}

/// URLs are kept (their paths often name the problem, `?p=NoSuchUser`), but a query string
/// that carries digits is a per-message id and is dropped.
fn push_url(token: &[u8], out: &mut Vec<u8>) {
    let cut = match memchr::memchr(b'?', token) {
        Some(q) if token[q..].iter().filter(|b| b.is_ascii_digit()).count() >= 4 => q,
        _ => token.len(),
    };
    push_lowercase(&token[..cut], out);
}

/// The normalised text as the rule patterns see it: with every character that has a
/// one-character lowercase form lowercased, and the two non-ASCII characters that fold to ASCII
/// letters (`ſ`, `K`) replaced by them. Returns `normalized` itself when it is all ASCII (it is
/// already lowercase then), else the folded copy written into `buffer`.
///
/// Each character is only ever replaced by one that Unicode simple case folding treats as the
/// same letter, so a case-insensitive pattern matches the folded text exactly when it matches
/// the original, and a pattern of lowercase ASCII letters no longer needs the `(?i)` flag (see
/// `rules::needs_case_folding`). Characters whose lowercase form is longer (`İ`), the few whose
/// case pairs the regex crate does not know yet, and bytes that are not UTF-8 are kept as they
/// are; a test checks every character against the regex crate.
pub fn fold_case<'a>(normalized: &'a [u8], buffer: &'a mut Vec<u8>) -> &'a [u8] {
    if normalized.is_ascii() {
        return normalized;
    }
    buffer.clear();
    for chunk in normalized.utf8_chunks() {
        for c in chunk.valid().chars() {
            let folded = match c {
                '\u{17f}' => 's',
                // Letters whose case pairs std knows (Unicode 17) but the regex crate's
                // folding tables do not yet: a case-insensitive pattern tells them apart.
                '\u{a7ce}' | '\u{a7d2}' | '\u{a7d4}' | '\u{16ea0}'..='\u{16eb8}' => c,
                _ => {
                    let mut lower = c.to_lowercase();
                    match (lower.next(), lower.next()) {
                        (Some(single), None) => single,
                        _ => c,
                    }
                }
            };
            let mut utf8 = [0; 4];
            buffer.extend_from_slice(folded.encode_utf8(&mut utf8).as_bytes());
        }
        buffer.extend_from_slice(chunk.invalid());
    }
    buffer
}

/// The SMTP stage named in a normalised text, as Postfix (`in reply to RCPT TO command`) and
/// Exim (`after RCPT TO`, `after end of data`) write it.
pub fn stage_from_text(normalized: &[u8]) -> Option<Stage> {
    use std::sync::OnceLock;
    static FINDER: OnceLock<(aho_corasick::AhoCorasick, Vec<Stage>)> = OnceLock::new();
    let (finder, stages) = FINDER.get_or_init(|| {
        let table: &[(&str, Stage)] = &[
            ("in reply to end of data", Stage::EndOfData),
            ("in reply to data", Stage::Data),
            ("in reply to rcpt", Stage::RcptTo),
            ("in reply to mail", Stage::MailFrom),
            ("in reply to ehlo", Stage::Ehlo),
            ("in reply to helo", Stage::Ehlo),
            ("in reply to lhlo", Stage::Ehlo),
            ("in reply to starttls", Stage::StartTls),
            ("in reply to auth", Stage::Auth),
            (
                "while receiving the initial server greeting",
                Stage::Greeting,
            ),
            ("after end of data", Stage::EndOfData),
            ("after data", Stage::Data),
            ("after rcpt", Stage::RcptTo),
            ("after mail", Stage::MailFrom),
            ("after initial connection", Stage::Greeting),
            ("after ehlo", Stage::Ehlo),
            ("after helo", Stage::Ehlo),
            ("after starttls", Stage::StartTls),
            ("after pipelined data", Stage::Data),
            ("after pipelined mail", Stage::MailFrom),
            ("after pipelined rcpt", Stage::RcptTo),
            ("after pipelined sending data block", Stage::EndOfData),
            ("after sending data block", Stage::EndOfData),
        ];
        let finder = aho_corasick::AhoCorasick::builder()
            .match_kind(aho_corasick::MatchKind::LeftmostFirst)
            .build(table.iter().map(|(p, _)| p))
            .expect("stage phrases compile");
        (finder, table.iter().map(|&(_, s)| s).collect())
    });
    finder
        .find(normalized)
        .map(|m| stages[m.pattern().as_usize()])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        String::from_utf8(normalize(s.as_bytes())).unwrap()
    }

    #[test]
    fn joins_multiline_replies() {
        assert_eq!(
            norm(
                "550-5.7.1 [1.2.3.4] The IP address sending this message does not have a PTR 550-5.7.1 record setup."
            ),
            "# the ip address sending this message does not have a ptr record setup."
        );
        assert_eq!(
            norm("451-You have been greylisted. 451-and your mail system 451 this mail"),
            "you have been greylisted. and your mail system this mail"
        );
    }

    #[test]
    fn masks_the_names_the_attempt_carries() {
        let known: [&[u8]; 2] = [b"mx1.Example.org", b"example.net"];
        let masked = |text: &str| {
            let mut out = Vec::new();
            normalize_into(text.as_bytes(), &known, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            masked("421 4.3.2 MX1.example.org Service not available, closing transmission channel"),
            "# service not available, closing transmission channel"
        );
        assert_eq!(
            masked("Domain example.net does not accept mail (nullMX)"),
            "domain # does not accept mail (nullmx)"
        );
        // Only whole names: a longer name, a URL or a plain word stays.
        assert_eq!(
            masked("see mx1.example.org.uk, https://example.net/help or example"),
            "see mx1.example.org.uk, https://example.net/help or example"
        );
        // Without known names the text is left as it was.
        assert_eq!(
            norm("Domain example.net does not accept mail (nullMX)"),
            "domain example.net does not accept mail (nullmx)"
        );
    }

    #[test]
    fn replaces_variable_tokens() {
        assert_eq!(
            norm("550 5.1.1 <Bob@Example.com>: Recipient address rejected"),
            "# recipient address rejected"
        );
        assert_eq!(
            norm("NoSuchUser od20si504618ejb.621 - gsmtp"),
            "nosuchuser # - gsmtp"
        );
        assert_eq!(norm("[TSS04] (S3150) BL000010"), "[tss04] (s3150) bl000010");
        assert_eq!(
            norm("see https://help.example/id?c=Ab12Cd34Ef56 now"),
            "see https://help.example/id now"
        );
        assert_eq!(norm("[2607:4100:3:25:100::2 12]"), "# 12]");
        assert_eq!(
            norm("banned sender[192.0.2.200]. mx.example.net[198.51.100.1]:25"),
            "banned sender # # #"
        );
        assert_eq!(
            norm("host mx.example.org said: 550 no such user"),
            "host # said: no such user"
        );
        assert_eq!(norm("Client host rejected: x"), "client host rejected: x");
    }

    #[test]
    fn same_meaning_same_form() {
        let a = norm("550-5.1.1 <a@x.org> does not exist. 550 5.1.1 abc123si98765.12 - gsmtp");
        let b = norm("550-5.1.1 <zed@y.net> does not exist. 550 5.1.1 qq9si1234567.3 - gsmtp");
        assert_eq!(a, b);
    }

    #[test]
    fn replaces_the_domain_a_retry_or_lookup_note_names() {
        // Exim's retry notes name the recipient's domain, the resolver's errors the name it
        // looked up: one classification for all domains, not one per domain.
        assert_eq!(
            norm("retry time not reached for any host for 'gmail.com'"),
            "retry time not reached for any host for #"
        );
        assert_eq!(
            norm("all hosts for 'Mail.Example.org' have been failing for a long time"),
            "all hosts for # have been failing for a long time"
        );
        assert_eq!(
            norm("Name service error for name=pomar-systems.com type=MX: Host not found"),
            "name service error for name=# type=mx: host not found"
        );
        // Only a quoted name after `for`, and only a dotted one: a blocklist named elsewhere
        // still reaches the rules, and so do quoted words.
        assert_eq!(
            norm("listed at 'zen.spamhaus.org' for 'spam'"),
            "listed at 'zen.spamhaus.org' for 'spam'"
        );
        assert_eq!(norm("name=localhost"), "name=localhost");
    }

    #[test]
    fn finds_stage_in_text() {
        let t = normalize(b"said: 550 5.1.1 user unknown (in reply to RCPT TO command)");
        assert_eq!(stage_from_text(&t), Some(Stage::RcptTo));
        let t = normalize(b"SMTP error from remote mail server after end of data: 550 spam");
        assert_eq!(stage_from_text(&t), Some(Stage::EndOfData));
        assert_eq!(stage_from_text(b"nothing here"), None);
        let t = normalize(
            b"SMTP error from remote mail server after pipelined MAIL FROM:<a@b.example>: 451 x",
        );
        assert_eq!(stage_from_text(&t), Some(Stage::MailFrom));
    }

    #[test]
    fn fold_case_keeps_ascii_and_folds_the_rest() {
        let mut buffer = Vec::new();
        assert_eq!(fold_case(b"mailbox full", &mut buffer), b"mailbox full");
        assert_eq!(
            fold_case(
                "POSTFACH VOLL, Überschritten ſpam \u{212a}".as_bytes(),
                &mut buffer
            ),
            "postfach voll, überschritten spam k".as_bytes()
        );
        assert_eq!(fold_case(b"\xff \xc3\x9c", &mut buffer), b"\xff \xc3\xbc");
        assert_eq!(fold_case("İ".as_bytes(), &mut buffer), "İ".as_bytes());
    }

    /// `fold_case` may only swap a character for one that case-insensitive regexes treat as
    /// the same, and must send everything that matches an ASCII letter case-insensitively to
    /// that letter: the two facts that let lowercase ASCII patterns drop `(?i)`.
    #[test]
    fn fold_case_stays_within_case_folding() {
        let ascii_letter = regex::Regex::new("(?i)^[a-z]$").unwrap();
        let mut buffer = Vec::new();
        // ASCII arrives lowercased by `normalize_into`; `fold_case` handles the rest.
        for c in (0x80..=0x10ffff_u32).filter_map(char::from_u32) {
            let mut utf8 = [0; 4];
            let original = c.encode_utf8(&mut utf8);
            let folded = std::str::from_utf8(fold_case(original.as_bytes(), &mut buffer))
                .unwrap()
                .to_owned();
            if ascii_letter.is_match(original) {
                assert!(
                    folded.len() == 1 && folded.as_bytes()[0].is_ascii_lowercase(),
                    "{c:?} folds to {folded:?}"
                );
            }
            if folded != *original {
                let same = regex::Regex::new(&format!("(?i)^{}$", regex::escape(&folded))).unwrap();
                assert!(same.is_match(original), "{c:?} folds to {folded:?}");
            }
        }
    }

    /// [`normalize_into`] as it was before it looked for plain words eight bytes at a time:
    /// every piece scanned byte by byte, a plain word told by its packed counts.
    fn normalize_bytewise(text: &[u8], known: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut sink = Sink::new(&mut out, known);
        let mut i = 0;
        while i < text.len() {
            i = skip_whitespace(text, i);
            if i == text.len() {
                break;
            }
            let (end, packed) = piece_end(text, i);
            let token = &text[i..end];
            if token.len() <= LANE_MAX && packed >> NOT_LETTER_LANE == 0 {
                sink.word(token);
            } else {
                sink.piece(token, packed, text.get(end) == Some(&b'['));
            }
            i = end;
        }
        out
    }

    use proptest::strategy::Strategy as _;

    proptest::proptest! {
        /// The same form as the byte-by-byte reading, for texts of words, codes, addresses,
        /// hosts and ids, with any whitespace, brackets, punctuation (words ended by a mark
        /// among them), bytes past ASCII and the bytes next to the letters (`@`, `[`, `` ` ``,
        /// `{`), in words of any length.
        #[test]
        fn same_form_as_the_bytewise_reading(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec![
                        &b"Host"[..], b"host", b"mx.example.org", b"said:", b"550-5.7.1",
                        b"5.1.1", b"<bob@example.com>:", b"[192.0.2.1]", b"for", b"'example.org'",
                        b"name=example.org", b"https://x.example/?id=12345", b"TSS04",
                        b"abcdefghijklmnopqrstuvwxyz", b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"a",
                        b"od20si504618ejb.621", b"caf\xc3\xa9", b"@", b"`", b"{", b"[", b"]",
                        b"address.", b"busy,", b"Host:", b"for;", b"later.)", b"http:", b"a.",
                    ]).prop_map(<[u8]>::to_vec),
                    proptest::collection::vec(
                        proptest::sample::select(b"aZ@[`{ \t\n.:,;0\x80\xff".to_vec()),
                        0..20,
                    ),
                    proptest::collection::vec(proptest::prelude::any::<u8>(), 0..12),
                ],
                0..12,
            ),
            separators in proptest::collection::vec(
                proptest::sample::select(vec![&b" "[..], b"", b"  ", b"\t", b"["]),
                12,
            ),
        ) {
            let mut text = Vec::new();
            for (piece, separator) in pieces.iter().zip(&separators) {
                text.extend_from_slice(piece);
                text.extend_from_slice(separator);
            }
            let known: [&[u8]; 2] = [b"mx.example.org", b"example.org"];
            let mut out = b"kept ".to_vec();
            normalize_into(&text, &known, &mut out);
            proptest::prop_assert_eq!(&out[..5], b"kept ");
            proptest::prop_assert_eq!(&out[5..], &normalize_bytewise(&text, &known)[..]);
        }

        /// The run read eight bytes at a time is the run read one byte at a time, for texts
        /// of letters, spaces, the four marks and the bytes next to them (`@`, `[`, `` ` ``,
        /// `{`, `!`, `\x1f`).
        #[test]
        fn plain_runs_agree_with_a_byte_reading(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    8 => proptest::sample::select(b"azAZ ".to_vec()),
                    2 => proptest::sample::select(b".,;:".to_vec()),
                    1 => proptest::sample::select(b"@[`{!\x1f\t-/\xc1\xe1\xa0\xae".to_vec()),
                    1 => proptest::prelude::any::<u8>(),
                ],
                0..40,
            ),
        ) {
            // Words of letters one space apart, each maybe ended by a mark, then the last word
            // taken back unless it ends a piece.
            let letter = |at: usize| bytes.get(at).is_some_and(u8::is_ascii_alphabetic);
            let mut stop = 0;
            while stop < bytes.len()
                && (letter(stop)
                    || (bytes[stop] == b' ' && letter(stop + 1))
                    || (b".,;:".contains(&bytes[stop])
                        && stop > 0
                        && letter(stop - 1)
                        && (stop + 1 == bytes.len() || bytes[stop + 1] == b' ')))
            {
                stop += 1;
            }
            let ends_piece = bytes.get(stop).is_none_or(|&b| b.is_ascii_whitespace() || b == b'[');
            let mut end = stop;
            if !ends_piece {
                end = bytes[..stop].iter().rposition(|&b| b == b' ').unwrap_or(0);
            }
            let last_word = bytes[..end].iter().rposition(|&b| b == b' ').map_or(0, |space| space + 1);
            let expected = Run { end, last_word: if end == 0 { 0 } else { last_word } };
            proptest::prop_assert_eq!(plain_run(&bytes), expected);
        }
    }

    /// Runs across the eight-byte steps: a mark right after a step, whose letter is in the
    /// step before; a word that is not plain in the second step; the last bytes one by one.
    #[test]
    fn plain_runs_across_steps() {
        let run = |text: &[u8]| {
            let run = plain_run(text);
            (
                String::from_utf8(text[..run.end].to_vec()).unwrap(),
                String::from_utf8(text[run.last_word..run.end].to_vec()).unwrap(),
            )
        };
        let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(
            run(b"abcdefgh. ijk lmnop q"),
            pair("abcdefgh. ijk lmnop q", "q")
        );
        assert_eq!(
            run(b"Server busy, try again later. [SN1]"),
            pair("Server busy, try again later.", "later.")
        );
        assert_eq!(run(b"from your IP4 address"), pair("from your", "your"));
        assert_eq!(run(b"see mx.example.org"), pair("see", "see"));
        assert_eq!(run(b"said: 550 x"), pair("said:", "said:"));
        assert_eq!(run(b"mx.example.org"), pair("", ""));
        assert_eq!(run(b"ab.."), pair("", ""));
        assert_eq!(run(b"ab ."), pair("ab", "ab"));
    }

    #[test]
    fn plain_words_take_the_same_path_as_any_token() {
        let words: [&[u8]; 8] = [
            b"Host",
            b"host",
            b"FOR",
            b"for",
            b"MAILBOX",
            b"unavailable",
            b"x",
            b"Gsmtp",
        ];
        for word in words {
            for after in [After::Other, After::Host, After::For] {
                for prefix in [&b""[..], b"said"] {
                    let (mut fast, mut slow) = (prefix.to_vec(), prefix.to_vec());
                    let sink = |out| Sink {
                        out,
                        start: 0,
                        after,
                        known: &[],
                    };
                    let (mut fast_sink, mut slow_sink) = (sink(&mut fast), sink(&mut slow));
                    fast_sink.word(word);
                    slow_sink.token(word, Stats::of(word), false);
                    let (fast_after, slow_after) = (fast_sink.after, slow_sink.after);
                    assert_eq!((fast, fast_after), (slow, slow_after));
                }
            }
        }
    }

    #[test]
    fn packed_counts_match_byte_counts() {
        let samples: [&[u8]; 4] = [
            b"<Bob@Example.com>:",
            b"2607:4100:3:25:100::2",
            b"od20si504618ejb.621",
            "caf\u{e9}[1.2.3.4]".as_bytes(),
        ];
        for sample in samples {
            let packed: u64 = sample.iter().map(|&b| PACKED[usize::from(b)]).sum();
            let (fast, slow) = (Stats::unpack(packed), Stats::of(sample));
            assert_eq!(format!("{fast:?}"), format!("{slow:?}"));
        }
        // Longer tokens take the exact path and still normalise the same way.
        let long = "a1".repeat(LANE_MAX);
        assert_eq!(norm(&format!("x {long} y")), "x # y");
        let long_word = "ab".repeat(LANE_MAX);
        assert_eq!(
            norm(&format!("x {long_word} y")),
            format!("x {long_word} y")
        );
    }
}
