//! The one event model every format parser produces.
//!
//! A parser borrows from the line it is looking at: an [`Event`] holds byte slices into the
//! input buffer and is consumed (classified and aggregated) before the buffer moves on, so the
//! hot path allocates nothing. [`OwnedEvent`] exists for the rare events that must outlive their
//! buffer (a delivery whose sender is only known from an earlier chunk).

use std::fmt;

/// Where an event came from. The dataset's `source` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Source {
    Postfix,
    Exim,
    Ses,
    Sendgrid,
    Mailgun,
    Postmark,
    Sparkpost,
}

impl Source {
    /// Every source, in declaration (and sort) order.
    pub const ALL: [Source; 7] = [
        Source::Postfix,
        Source::Exim,
        Source::Ses,
        Source::Sendgrid,
        Source::Mailgun,
        Source::Postmark,
        Source::Sparkpost,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Postfix => "postfix",
            Source::Exim => "exim",
            Source::Ses => "ses",
            Source::Sendgrid => "sendgrid",
            Source::Mailgun => "mailgun",
            Source::Postmark => "postmark",
            Source::Sparkpost => "sparkpost",
        }
    }
}

/// What happened to one recipient on one attempt.
///
/// `Delivered`, `Bounced` and `Expired` are final: each recipient of a message reaches exactly
/// one of them. `Deferred` is an attempt that will be retried.
///
/// `Complained` and `Suppressed` come from ESP event streams only and are not attempts to the
/// remote server: a complaint arrives after a delivery (the recipient marked the mail as spam),
/// and a suppressed recipient was never tried because the provider's suppression list (or its
/// own content check) stopped the send. Neither counts as a bounce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Outcome {
    Delivered,
    Deferred,
    Bounced,
    Expired,
    Complained,
    Suppressed,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Delivered,
        Outcome::Deferred,
        Outcome::Bounced,
        Outcome::Expired,
        Outcome::Complained,
        Outcome::Suppressed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Deferred => "deferred",
            Outcome::Bounced => "bounced",
            Outcome::Expired => "expired",
            Outcome::Complained => "complained",
            Outcome::Suppressed => "suppressed",
        }
    }

    /// True for an attempt the remote side did not accept: deferred, bounced, expired (an ESP's
    /// complaints and suppressions are no attempts).
    pub fn is_failed_attempt(self) -> bool {
        matches!(
            self,
            Outcome::Deferred | Outcome::Bounced | Outcome::Expired
        )
    }

    /// True for the outcomes each recipient reaches exactly once: delivered, bounced, expired.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Outcome::Delivered | Outcome::Bounced | Outcome::Expired
        )
    }
}

/// The point of the SMTP conversation at which the remote server answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// The TCP connection itself (refused, timed out, DNS).
    Connect,
    /// The server's 220 greeting (or its refusal).
    Greeting,
    Ehlo,
    StartTls,
    Auth,
    MailFrom,
    RcptTo,
    /// The DATA command itself.
    Data,
    /// The reply after the message body was sent.
    EndOfData,
    Quit,
}

impl Stage {
    /// Every stage, in declaration (and sort) order.
    pub const ALL: [Stage; 10] = [
        Stage::Connect,
        Stage::Greeting,
        Stage::Ehlo,
        Stage::StartTls,
        Stage::Auth,
        Stage::MailFrom,
        Stage::RcptTo,
        Stage::Data,
        Stage::EndOfData,
        Stage::Quit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Connect => "connect",
            Stage::Greeting => "greeting",
            Stage::Ehlo => "ehlo",
            Stage::StartTls => "starttls",
            Stage::Auth => "auth",
            Stage::MailFrom => "mail",
            Stage::RcptTo => "rcpt",
            Stage::Data => "data",
            Stage::EndOfData => "end_of_data",
            Stage::Quit => "quit",
        }
    }

    /// Reads a stage as users and logs write it: `rcpt`, `RCPT TO`, `end of DATA`,
    /// `MAIL FROM`, `HELO`, `connect`... Case-insensitive; allocates nothing (logs call it for
    /// every failed attempt).
    pub fn parse(text: &str) -> Option<Stage> {
        let text = text.trim();
        let mut buffer = [0u8; 32];
        let lower = buffer.get_mut(..text.len())?;
        lower.copy_from_slice(text.as_bytes());
        lower.make_ascii_lowercase();
        let t = std::str::from_utf8(lower).ok()?;
        let t = t.strip_suffix(" command").unwrap_or(t);
        Some(match t {
            "connect" | "connection" | "tcp" | "dns" => Stage::Connect,
            "greeting" | "banner" | "initial greeting" | "220" => Stage::Greeting,
            "ehlo" | "helo" | "lhlo" => Stage::Ehlo,
            "starttls" | "tls" => Stage::StartTls,
            "auth" => Stage::Auth,
            "mail" | "mail from" | "mailfrom" | "mail_from" => Stage::MailFrom,
            "rcpt" | "rcpt to" | "rcptto" | "rcpt_to" => Stage::RcptTo,
            "data" => Stage::Data,
            "end of data" | "end_of_data" | "end-of-data" | "eod" | "message" | "body" => {
                Stage::EndOfData
            }
            "quit" => Stage::Quit,
            _ => return None,
        })
    }
}

/// An RFC 3463 enhanced status code such as `5.1.1`, packed into a `u32`-sized value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnhancedCode {
    pub class: u8,
    pub subject: u16,
    pub detail: u16,
}

impl EnhancedCode {
    pub const fn new(class: u8, subject: u16, detail: u16) -> EnhancedCode {
        EnhancedCode {
            class,
            subject,
            detail,
        }
    }

    /// Parses exactly `c.s.d` (class 2, 4 or 5; subject and detail 1-3 digits).
    pub fn parse(bytes: &[u8]) -> Option<EnhancedCode> {
        let (code, used) = EnhancedCode::parse_prefix(bytes)?;
        (used == bytes.len()).then_some(code)
    }

    /// Parses a code at the start of `bytes`, returning it and the bytes it used. The code must
    /// not be followed by another digit or a dot and a digit (so `5.1.10` is read whole and
    /// `1.2.3.4` is not a code).
    pub fn parse_prefix(bytes: &[u8]) -> Option<(EnhancedCode, usize)> {
        let class = *bytes.first()?;
        if !matches!(class, b'2' | b'4' | b'5') || bytes.get(1) != Some(&b'.') {
            return None;
        }
        let (subject, n1) = parse_small(&bytes[2..])?;
        let at = 2 + n1;
        if bytes.get(at) != Some(&b'.') {
            return None;
        }
        let (detail, n2) = parse_small(&bytes[at + 1..])?;
        let end = at + 1 + n2;
        match bytes.get(end) {
            Some(b) if b.is_ascii_digit() => return None,
            Some(b'.') if bytes.get(end + 1).is_some_and(u8::is_ascii_digit) => return None,
            _ => {}
        }
        Some((EnhancedCode::new(class - b'0', subject, detail), end))
    }

    /// Finds the first enhanced code in free text, at a word boundary.
    pub fn find(text: &[u8]) -> Option<EnhancedCode> {
        let mut from = 0;
        while let Some(off) = memchr::memchr3(b'2', b'4', b'5', &text[from..]) {
            let at = from + off;
            let boundary =
                at == 0 || !(text[at - 1].is_ascii_alphanumeric() || text[at - 1] == b'.');
            if boundary && let Some((code, _)) = EnhancedCode::parse_prefix(&text[at..]) {
                return Some(code);
            }
            from = at + 1;
        }
        None
    }
}

fn parse_small(bytes: &[u8]) -> Option<(u16, usize)> {
    let mut value: u16 = 0;
    let mut n = 0;
    while n < bytes.len() && n < 3 && bytes[n].is_ascii_digit() {
        value = value * 10 + u16::from(bytes[n] - b'0');
        n += 1;
    }
    (n > 0).then_some((value, n))
}

impl EnhancedCode {
    /// `5.7.26` as text held inline: the dataset writer formats one for every row of the cube,
    /// and a heap string each would cost more than the rest of the row.
    pub fn text(self) -> CodeText {
        let mut text = CodeText {
            len: 0,
            bytes: [0; CodeText::CAPACITY],
        };
        let mut digits = itoa::Buffer::new();
        text.push(&[b'0' + self.class % 10, b'.']);
        text.push(digits.format(self.subject % 1000).as_bytes());
        text.push(b".");
        text.push(digits.format(self.detail % 1000).as_bytes());
        text
    }
}

/// An enhanced status code as text (`5.7.606`), stored inline; dereferences to `&str`, and
/// sorts as that text does (`5.1.10` after `5.1.1`, before `5.1.2`).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodeText {
    len: u8,
    bytes: [u8; CodeText::CAPACITY],
}

impl CodeText {
    /// `c.sss.ddd`: one class digit and up to three digits each for subject and detail.
    const CAPACITY: usize = 9;

    fn push(&mut self, more: &[u8]) {
        let at = usize::from(self.len);
        self.bytes[at..at + more.len()].copy_from_slice(more);
        self.len += more.len() as u8;
    }
}

impl std::ops::Deref for CodeText {
    type Target = str;

    fn deref(&self) -> &str {
        // Only ASCII digits and dots are ever pushed.
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl Ord for CodeText {
    fn cmp(&self, other: &CodeText) -> std::cmp::Ordering {
        self.bytes[..usize::from(self.len)].cmp(&other.bytes[..usize::from(other.len)])
    }
}

impl PartialOrd for CodeText {
    fn partial_cmp(&self, other: &CodeText) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for CodeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl fmt::Display for EnhancedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.class, self.subject, self.detail)
    }
}

/// One delivery attempt (or final verdict) for one recipient, borrowed from its input line.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    /// Microseconds since the Unix epoch, UTC.
    pub time_us: i64,
    pub source: Source,
    /// The host that logged the event (syslog host name, or the ESP's name).
    pub mta_host: &'a [u8],
    /// The MTA instance (`postfix`, `postfix-out`, `postfix/submission`).
    pub instance: &'a [u8],
    pub queue_id: &'a [u8],
    /// The envelope sender, when the parser knows it (often filled by correlation).
    pub sender: Option<&'a [u8]>,
    pub recipient: &'a [u8],
    pub recipient_domain: &'a [u8],
    pub remote_host: Option<&'a [u8]>,
    pub remote_ip: Option<&'a [u8]>,
    pub outcome: Outcome,
    /// The remote server's SMTP reply code (`550`), when one was received.
    pub reply_code: Option<u16>,
    /// The enhanced code written in the remote reply text.
    pub enhanced_code: Option<EnhancedCode>,
    /// The MTA's own verdict (Postfix `dsn=`), which can differ from the reply's code.
    pub dsn: Option<EnhancedCode>,
    pub stage: Option<Stage>,
    /// The diagnostic text (remote reply or the MTA's own reason), unfolded.
    pub text: &'a [u8],
    /// True when the message itself is a non-delivery notification generated by the MTA.
    pub is_bounce_message: bool,
    /// The ESP's own verdict (SES `bounceType`, SendGrid bounce `type`, Mailgun `severity`,
    /// Postmark `Type`, SparkPost event type); `None` for MTA logs.
    pub esp_type: Option<&'a [u8]>,
    /// The finer half of the ESP's verdict (SES `bounceSubType`, SendGrid
    /// `bounce_classification`, Mailgun `reason`, SparkPost `bounce_class`).
    pub esp_subtype: Option<&'a [u8]>,
}

impl Event<'_> {
    pub fn to_owned_event(&self) -> OwnedEvent {
        OwnedEvent {
            time_us: self.time_us,
            source: self.source,
            mta_host: self.mta_host.into(),
            instance: self.instance.into(),
            queue_id: self.queue_id.into(),
            sender: self.sender.map(Into::into),
            recipient: self.recipient.into(),
            recipient_domain: self.recipient_domain.into(),
            remote_host: self.remote_host.map(Into::into),
            remote_ip: self.remote_ip.map(Into::into),
            outcome: self.outcome,
            reply_code: self.reply_code,
            enhanced_code: self.enhanced_code,
            dsn: self.dsn,
            stage: self.stage,
            text: self.text.into(),
            is_bounce_message: self.is_bounce_message,
            esp_type: self.esp_type.map(Into::into),
            esp_subtype: self.esp_subtype.map(Into::into),
        }
    }
}

/// An [`Event`] that owns its bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedEvent {
    pub time_us: i64,
    pub source: Source,
    pub mta_host: Box<[u8]>,
    pub instance: Box<[u8]>,
    pub queue_id: Box<[u8]>,
    pub sender: Option<Box<[u8]>>,
    pub recipient: Box<[u8]>,
    pub recipient_domain: Box<[u8]>,
    pub remote_host: Option<Box<[u8]>>,
    pub remote_ip: Option<Box<[u8]>>,
    pub outcome: Outcome,
    pub reply_code: Option<u16>,
    pub enhanced_code: Option<EnhancedCode>,
    pub dsn: Option<EnhancedCode>,
    pub stage: Option<Stage>,
    pub text: Box<[u8]>,
    pub is_bounce_message: bool,
    pub esp_type: Option<Box<[u8]>>,
    pub esp_subtype: Option<Box<[u8]>>,
}

impl OwnedEvent {
    pub fn as_event(&self) -> Event<'_> {
        Event {
            time_us: self.time_us,
            source: self.source,
            mta_host: &self.mta_host,
            instance: &self.instance,
            queue_id: &self.queue_id,
            sender: self.sender.as_deref(),
            recipient: &self.recipient,
            recipient_domain: &self.recipient_domain,
            remote_host: self.remote_host.as_deref(),
            remote_ip: self.remote_ip.as_deref(),
            outcome: self.outcome,
            reply_code: self.reply_code,
            enhanced_code: self.enhanced_code,
            dsn: self.dsn,
            stage: self.stage,
            text: &self.text,
            is_bounce_message: self.is_bounce_message,
            esp_type: self.esp_type.as_deref(),
            esp_subtype: self.esp_subtype.as_deref(),
        }
    }
}

/// The domain part of an address (after the last `@`), or empty.
pub fn domain_of(address: &[u8]) -> &[u8] {
    match memchr::memrchr(b'@', address) {
        Some(at) => &address[at + 1..],
        None => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_text_sorts_as_its_text() {
        let mut codes: Vec<CodeText> = [(5, 1, 2), (5, 1, 10), (4, 7, 0), (5, 1, 1), (5, 7, 606)]
            .map(|(c, s, d)| EnhancedCode::new(c, s, d).text())
            .to_vec();
        codes.sort();
        let texts: Vec<&str> = codes.iter().map(|c| &**c).collect();
        assert_eq!(texts, ["4.7.0", "5.1.1", "5.1.10", "5.1.2", "5.7.606"]);
    }

    #[test]
    fn enhanced_code_parsing() {
        assert_eq!(
            EnhancedCode::parse(b"5.1.1"),
            Some(EnhancedCode::new(5, 1, 1))
        );
        assert_eq!(
            EnhancedCode::parse(b"4.7.650"),
            Some(EnhancedCode::new(4, 7, 650))
        );
        assert_eq!(EnhancedCode::parse(b"5.7.1x"), None);
        assert_eq!(EnhancedCode::parse(b"3.1.1"), None);
        assert_eq!(
            EnhancedCode::find(b"host said: 550-5.7.26 Unauthenticated"),
            Some(EnhancedCode::new(5, 7, 26))
        );
        assert_eq!(EnhancedCode::find(b"[10.5.1.1] said 421 busy"), None);
        assert_eq!(
            EnhancedCode::find(b"ip 1.2.3.4 then 4.2.2 full"),
            Some(EnhancedCode::new(4, 2, 2))
        );
        assert_eq!(EnhancedCode::new(5, 7, 606).to_string(), "5.7.606");
        assert_eq!(&*EnhancedCode::new(4, 10, 0).text(), "4.10.0");
        assert_eq!(&*EnhancedCode::new(5, 999, 999).text(), "5.999.999");
        assert_eq!(&*EnhancedCode::new(2, 0, 0).text(), "2.0.0");
    }

    #[test]
    fn stage_phrases() {
        assert_eq!(Stage::parse("RCPT TO"), Some(Stage::RcptTo));
        assert_eq!(Stage::parse("end of DATA"), Some(Stage::EndOfData));
        assert_eq!(Stage::parse("MAIL FROM command"), Some(Stage::MailFrom));
        assert_eq!(Stage::parse("nonsense"), None);
    }
}
