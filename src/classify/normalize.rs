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
//! untouched (the rule regexes are case-insensitive for them).

use crate::event::{EnhancedCode, Stage};

/// The replacement for a token that identifies one message, host or address.
const VARIABLE: u8 = b'#';

/// Appends the normalised form of `text` to `out`.
pub fn normalize_into(text: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    for token in text
        .split(|b| b.is_ascii_whitespace())
        .flat_map(split_before_brackets)
        .filter(|t| !t.is_empty())
    {
        let token = strip_reply_prefix(token);
        if token.is_empty() || is_status_code(token) {
            continue;
        }
        if out.len() > start {
            out.push(b' ');
        }
        if is_variable(token) {
            out.push(VARIABLE);
        } else if is_url(token) {
            push_url(token, out);
        } else {
            out.extend(token.iter().map(u8::to_ascii_lowercase));
        }
    }
}

/// Returns the normalised form of `text` as a new vector (for tests and tools; the classifier
/// normalises into a reused buffer).
pub fn normalize(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    normalize_into(text, &mut out);
    out
}

/// Splits `sender[192.0.2.1]` and `host.example[192.0.2.1]:25` before the bracket, so the
/// word survives when the address is replaced.
fn split_before_brackets(token: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = token;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = memchr::memchr(b'[', &rest[1..]).map_or(rest.len(), |i| i + 1);
        let (head, tail) = rest.split_at(cut);
        rest = tail;
        Some(head)
    })
}

/// Strips a leading `550-` (continuation) or a bare `550` reply-code prefix glued to a word.
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

/// A reply code (`550`) or an enhanced status code (`5.7.1`, `#5.1.1`), possibly followed by
/// punctuation. The classifier reads codes structurally, so in text they are noise.
fn is_status_code(token: &[u8]) -> bool {
    let token = trim_punct(token);
    let token = token.strip_prefix(b"#").unwrap_or(token);
    if token.len() == 3
        && matches!(token[0], b'2' | b'4' | b'5')
        && token.iter().all(u8::is_ascii_digit)
    {
        return true;
    }
    EnhancedCode::parse(token).is_some()
}

fn trim_punct(token: &[u8]) -> &[u8] {
    let is_punct = |b: &u8| {
        matches!(
            b,
            b'(' | b')' | b'[' | b']' | b'<' | b'>' | b',' | b';' | b':' | b'.' | b'"' | b'\''
        )
    };
    let start = token
        .iter()
        .position(|b| !is_punct(b))
        .unwrap_or(token.len());
    let end = token
        .iter()
        .rposition(|b| !is_punct(b))
        .map_or(start, |e| e + 1);
    &token[start..end.max(start)]
}

fn is_url(token: &[u8]) -> bool {
    let lower_starts = |prefix: &[u8]| {
        token.len() >= prefix.len() && token[..prefix.len()].eq_ignore_ascii_case(prefix)
    };
    lower_starts(b"http://") || lower_starts(b"https://") || lower_starts(b"(http")
}

/// URLs are kept (their paths often name the problem, `?p=NoSuchUser`), but a query string
/// that carries digits is a per-message id and is dropped.
fn push_url(token: &[u8], out: &mut Vec<u8>) {
    let cut = match memchr::memchr(b'?', token) {
        Some(q) if token[q..].iter().filter(|b| b.is_ascii_digit()).count() >= 4 => q,
        _ => token.len(),
    };
    out.extend(token[..cut].iter().map(u8::to_ascii_lowercase));
}

/// True for tokens that name one message, address or host rather than a reason: e-mail
/// addresses, IP addresses, long numbers, and long tokens mixing letters and digits (session
/// ids, queue ids, datacentre host names, timestamps). Short codes such as `TSS04`, `S3150` or
/// `BL000010` are kept because rules may name them.
fn is_variable(token: &[u8]) -> bool {
    if memchr::memchr(b'@', token).is_some() {
        return true;
    }
    let core = trim_punct(token);
    let digits = core.iter().filter(|b| b.is_ascii_digit()).count();
    if digits == 0 {
        return false;
    }
    if is_url(token) {
        return false;
    }
    // Dotted IPv4 (possibly with a port or in brackets) and IPv6.
    let dots = core.iter().filter(|&&b| b == b'.').count();
    let colons = core.iter().filter(|&&b| b == b':').count();
    if dots >= 3
        && core
            .iter()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b':'))
    {
        return true;
    }
    if colons >= 2 && core.iter().all(|b| b.is_ascii_hexdigit() || *b == b':') {
        return true;
    }
    if digits == core.len() && digits >= 3 {
        return true;
    }
    core.len() >= 10 && digits >= 2
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
            ("after pipelined", Stage::RcptTo),
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
            "banned sender # mx.example.net #"
        );
    }

    #[test]
    fn same_meaning_same_form() {
        let a = norm("550-5.1.1 <a@x.org> does not exist. 550 5.1.1 abc123si98765.12 - gsmtp");
        let b = norm("550-5.1.1 <zed@y.net> does not exist. 550 5.1.1 qq9si1234567.3 - gsmtp");
        assert_eq!(a, b);
    }

    #[test]
    fn finds_stage_in_text() {
        let t = normalize(b"said: 550 5.1.1 user unknown (in reply to RCPT TO command)");
        assert_eq!(stage_from_text(&t), Some(Stage::RcptTo));
        let t = normalize(b"SMTP error from remote mail server after end of data: 550 spam");
        assert_eq!(stage_from_text(&t), Some(Stage::EndOfData));
        assert_eq!(stage_from_text(b"nothing here"), None);
    }
}
