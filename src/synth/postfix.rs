//! A synthetic Postfix `mail.log`: every message's whole life, retries, expiry, bounce
//! messages, a content filter, several MTA hosts and instances, and the noise around them.
//!
//! The generator is a small discrete-event simulation. Messages arrive as a Poisson process;
//! each recipient is given a fate up front (sent, bounced, deferred then sent or bounced, or
//! deferred until the queue lifetime runs out), and each step of a message's life is an event
//! in a time-ordered heap, so lines come out in time order across all hosts and never go
//! backwards. The simulation starts one queue lifetime before the log's first line with only
//! the messages that will still be retrying then, and writes nothing before `start`: the log
//! begins in a steady state, like a rotated log, instead of with an empty deferred queue. It
//! stops as soon as the size target is reached, leaving messages in flight.
//!
//! Reply texts are our own words modelled on the codes the providers document; addresses and
//! domains other than the big consumer providers' are made up from syllables.
//!
//! Lines are appended to one reused buffer (no allocation per line) and written to the output
//! in blocks, so the caller needs no `BufWriter`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::io::{self, Write};

use super::journal::{JournalWriter, LineParts};
use super::{Clock, GenStats, OutcomeCounts, SplitMix64, TimestampStyle, push_u64};

/// Recipient segments by share of recipients.
const RECIPIENT_SHARES: &[(u32, Segment)] = &[
    (34, Segment::Gmail),
    (5, Segment::GoogleWorkspace),
    (12, Segment::MicrosoftConsumer),
    (10, Segment::Microsoft365),
    (10, Segment::YahooAol),
    (6, Segment::Apple),
    (8, Segment::Corporate),
    (13, Segment::Small),
    (2, Segment::Local),
];

/// How much more (or less) often than average a segment bounces and defers: consumer giants
/// reject little but throttle, Yahoo defers a lot, small domains have stale addresses.
fn fate_factors(segment: Segment) -> (f64, f64) {
    match segment {
        Segment::Gmail => (0.9, 0.8),
        Segment::GoogleWorkspace => (0.7, 0.6),
        Segment::MicrosoftConsumer => (1.1, 1.2),
        Segment::Microsoft365 => (0.8, 0.9),
        Segment::YahooAol => (1.0, 1.8),
        Segment::Apple => (0.9, 0.8),
        Segment::Corporate => (0.9, 1.1),
        Segment::Small => (1.5, 1.3),
        Segment::Local => (0.3, 0.3),
    }
}

/// Which hosts use Postfix's long queue ids (`enable_long_queue_ids = yes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LongQueueIds {
    Never,
    Always,
    /// The second, fourth... host: one log then holds both kinds.
    #[default]
    AlternateHosts,
}

/// What to generate. Build one with `PostfixConfig { seed: 7, ..Default::default() }`.
#[derive(Debug, Clone)]
pub struct PostfixConfig {
    pub seed: u64,
    /// Stop once this many bytes (uncompressed) are written; the last line is whole.
    pub target_bytes: Option<u64>,
    /// Stop after exactly this many lines. With both targets, the first reached wins.
    pub target_lines: Option<u64>,
    /// Syslog host names of the MTAs; messages are spread evenly over them.
    pub hosts: Vec<String>,
    /// Time of the first line.
    pub start: jiff::Timestamp,
    pub timestamp_style: TimestampStyle,
    /// Local time = UTC + this; traditional and year-prefixed stamps carry no zone.
    pub utc_offset_seconds: i32,
    /// New messages per second over all hosts.
    pub messages_per_second: f64,
    pub long_queue_ids: LongQueueIds,
    /// Share of messages passed through an amavis-style content filter on 127.0.0.1:10024.
    pub content_filter_share: f64,
    /// Noise events (postscreen sessions, rejected clients, dovecot, warnings) per message.
    pub noise_per_message: f64,
    /// Postfix's `maximal_queue_lifetime`: deferred this long, a message expires. Shorter than
    /// Postfix's 5 days by default so an expiring recipient logs ~9 deferrals, not ~100.
    pub queue_lifetime_secs: u32,
    pub min_backoff_secs: u32,
    pub max_backoff_secs: u32,
    /// Number of small domains in the long tail of recipient domains.
    pub small_domains: u32,
    /// Write each line as the systemd journal entry `journalctl -o json` exports for it
    /// (see [`super::journal`]); `timestamp_style` then does not apply.
    pub journal: bool,
}

impl Default for PostfixConfig {
    fn default() -> Self {
        PostfixConfig {
            seed: 42,
            target_bytes: None,
            target_lines: Some(100_000),
            hosts: vec!["mta1".to_owned(), "mta2".to_owned()],
            start: jiff::Timestamp::from_second(1_749_536_850).expect("valid constant"),
            timestamp_style: TimestampStyle::Traditional,
            utc_offset_seconds: 0,
            messages_per_second: 60.0,
            long_queue_ids: LongQueueIds::AlternateHosts,
            content_filter_share: 0.15,
            noise_per_message: 0.6,
            queue_lifetime_secs: 4 * 3600,
            min_backoff_secs: 300,
            max_backoff_secs: 4000,
            small_domains: 5000,
            journal: false,
        }
    }
}

impl PostfixConfig {
    /// About `bytes` of log with few messages a second, quick retries and short queue lifetimes,
    /// so that many queue files are open at any point of it: cut anywhere, messages and their
    /// deferred recipients span the cut. RFC 3339 stamps carry their year, so no file's mtime
    /// matters. For tests of correlation across blocks and files.
    pub fn many_open_queue_files(seed: u64, bytes: u64) -> PostfixConfig {
        PostfixConfig {
            seed,
            target_bytes: Some(bytes),
            target_lines: None,
            timestamp_style: TimestampStyle::Rfc3339,
            messages_per_second: 5.0,
            min_backoff_secs: 10,
            max_backoff_secs: 40,
            queue_lifetime_secs: 120,
            ..PostfixConfig::default()
        }
    }
}

/// Writes a synthetic Postfix log to `out` and returns its ground truth.
///
/// # Errors
/// `InvalidInput` when no size target or no host is given, or a rate is not positive;
/// otherwise whatever writing to `out` returns.
pub fn generate_postfix(cfg: &PostfixConfig, mut out: impl Write) -> io::Result<GenStats> {
    if cfg.target_bytes.is_none() && cfg.target_lines.is_none() {
        return Err(invalid("give a target size in bytes or lines"));
    }
    if cfg.hosts.is_empty() {
        return Err(invalid("give at least one host"));
    }
    if cfg.messages_per_second.is_nan()
        || cfg.messages_per_second <= 0.0
        || cfg.noise_per_message < 0.0
    {
        return Err(invalid("rates must be positive"));
    }
    let mut sim = Sim::new(cfg);
    sim.run(&mut out)?;
    out.flush()?;
    Ok(sim.log.stats)
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Domains, providers and reply texts
// ---------------------------------------------------------------------------------------------

/// The generator's own recipient segments; finer than the classifier's providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Segment {
    Gmail,
    GoogleWorkspace,
    MicrosoftConsumer,
    Microsoft365,
    YahooAol,
    Apple,
    Corporate,
    Small,
    /// Domains hosted on these MTAs, delivered by lmtp, virtual, local or pipe.
    Local,
}

impl Segment {
    fn name(self) -> &'static str {
        match self {
            Segment::Gmail => "gmail",
            Segment::GoogleWorkspace => "google_workspace",
            Segment::MicrosoftConsumer => "microsoft_consumer",
            Segment::Microsoft365 => "microsoft_365",
            Segment::YahooAol => "yahoo_aol",
            Segment::Apple => "apple",
            Segment::Corporate => "corporate",
            Segment::Small => "small",
            Segment::Local => "local",
        }
    }

    /// The provider a relay host of this segment reveals (its MX suffix).
    fn mx_provider(self) -> &'static str {
        match self {
            Segment::Gmail | Segment::GoogleWorkspace => "google",
            Segment::MicrosoftConsumer | Segment::Microsoft365 => "microsoft",
            Segment::YahooAol => "yahoo",
            Segment::Apple => "apple",
            Segment::Corporate | Segment::Small | Segment::Local => "other",
        }
    }

    fn replies(self) -> (&'static [Reply], &'static [Reply], &'static [&'static str]) {
        match self {
            Segment::Gmail | Segment::GoogleWorkspace => (GOOGLE_TEMP, GOOGLE_PERM, GOOGLE_OK),
            Segment::MicrosoftConsumer | Segment::Microsoft365 => {
                (MICROSOFT_TEMP, MICROSOFT_PERM, MICROSOFT_OK)
            }
            Segment::YahooAol => (YAHOO_TEMP, YAHOO_PERM, YAHOO_OK),
            Segment::Apple => (APPLE_TEMP, APPLE_PERM, APPLE_OK),
            Segment::Corporate | Segment::Small => (GENERIC_TEMP, GENERIC_PERM, GENERIC_OK),
            Segment::Local => (LOCAL_TEMP, LOCAL_PERM, LOCAL_OK),
        }
    }
}

/// How a local domain's mail is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LocalAgent {
    Lmtp,
    Virtual,
    Local,
    Pipe,
}

#[derive(Debug)]
struct Mx {
    host: String,
    ip: [u8; 4],
    /// Big providers answer from many addresses in a /24.
    vary_last_octet: bool,
}

#[derive(Debug)]
struct Domain {
    name: String,
    segment: Segment,
    mx: Vec<Mx>,
    /// Consumer domains the classifier knows by name (provider even when relay=none).
    consumer: bool,
    local_agent: LocalAgent,
}

/// Where the reply text goes in the delivery line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `host MX[IP] said: TEXT (in reply to STAGE command)`
    Said(&'static str),
    /// `host MX[IP] refused to talk to me: TEXT`
    Refused,
    /// `relay=none` and the text alone (connection and DNS failures).
    NoRelay,
    /// The relay is named but the text has no reply code (lost connections).
    WithRelay,
    /// `postfix/error`, `relay=none`, `delivery temporarily suspended: ...`.
    Suspended,
}

#[derive(Debug)]
struct Reply {
    weight: u32,
    dsn: &'static str,
    form: Form,
    text: &'static str,
}

const fn reply(weight: u32, dsn: &'static str, form: Form, text: &'static str) -> Reply {
    Reply {
        weight,
        dsn,
        form,
        text,
    }
}

use Form::{NoRelay, Refused, Said, Suspended, WithRelay};

// Placeholders: {r} recipient, {d} recipient domain, {s} sender domain, {i} our sending IP,
// {h} MX host, {p} MX IP, {t} lower-case token, {T} upper-case token, {n} 10 digits,
// {m} 4 digits, {q} remote queue id, {x} a Microsoft front-end host name.

const GOOGLE_OK: &[&str] = &["250 2.0.0 OK  {n} {t}.{m} - gsmtp"];
const GOOGLE_TEMP: &[Reply] = &[
    reply(
        30,
        "4.7.28",
        Said("end of DATA"),
        "421-4.7.28 Gmail has seen an unusual rate of unsolicited mail from your IP address 421-4.7.28 [{i}]. To protect our users, mail from this address is rate 421-4.7.28 limited for now. See 421 4.7.28 https://support.google.com/mail/?p=UnsolicitedRateLimitError {t}.{m} - gsmtp",
    ),
    reply(
        20,
        "4.2.2",
        Said("RCPT TO"),
        "452-4.2.2 The recipient's mailbox has run out of storage and cannot take new 452-4.2.2 mail right now. Try again later. See 452 4.2.2 https://support.google.com/mail/?p=OverQuotaTemp {t}.{m} - gsmtp",
    ),
    reply(
        20,
        "4.2.1",
        Said("RCPT TO"),
        "450-4.2.1 The account you are writing to is receiving mail faster than it can 450-4.2.1 take it. Please try again later. See 450 4.2.1 https://support.google.com/mail/?p=ReceivingRate {t}.{m} - gsmtp",
    ),
    reply(
        10,
        "4.3.0",
        Said("end of DATA"),
        "451-4.3.0 A temporary problem on our side stopped this message. Please try 451 4.3.0 again later. {t}.{m} - gsmtp",
    ),
    reply(
        8,
        "4.7.0",
        Said("MAIL FROM"),
        "421-4.7.0 This message fails authentication (neither SPF nor DKIM pass) and is 421-4.7.0 deferred to protect our users. See 421 4.7.0 https://support.google.com/mail/answer/81126#authentication {t}.{m} - gsmtp",
    ),
    reply(
        4,
        "4.4.1",
        NoRelay,
        "connect to {h}[{p}]:25: Connection timed out",
    ),
];
const GOOGLE_PERM: &[Reply] = &[
    reply(
        45,
        "5.1.1",
        Said("RCPT TO"),
        "550-5.1.1 The account you tried to reach does not exist. Check the address for 550-5.1.1 typos and stray spaces and try again. See 550 5.1.1 https://support.google.com/mail/?p=NoSuchUser {t}.{m} - gsmtp",
    ),
    reply(
        20,
        "5.7.26",
        Said("end of DATA"),
        "550-5.7.26 Unauthenticated mail from {s} is refused because the sending domain 550-5.7.26 publishes a DMARC policy that rejects it. The sender should fix 550-5.7.26 their SPF and DKIM set-up. See 550 5.7.26 https://support.google.com/mail/answer/2451690 {t}.{m} - gsmtp",
    ),
    reply(
        12,
        "5.2.1",
        Said("RCPT TO"),
        "550-5.2.1 The account you tried to reach has been disabled. See 550 5.2.1 https://support.google.com/mail/?p=DisabledUser {t}.{m} - gsmtp",
    ),
    reply(
        12,
        "5.7.1",
        Said("end of DATA"),
        "550-5.7.1 This message looks like unsolicited bulk mail and was blocked to 550-5.7.1 protect our users. See 550 5.7.1 https://support.google.com/mail/?p=UnsolicitedMessageError {t}.{m} - gsmtp",
    ),
    reply(
        6,
        "5.2.2",
        Said("RCPT TO"),
        "552-5.2.2 The recipient's mailbox is full and cannot take new mail. See 552 5.2.2 https://support.google.com/mail/?p=OverQuotaPerm {t}.{m} - gsmtp",
    ),
    reply(
        5,
        "5.7.25",
        Said("end of DATA"),
        "550-5.7.25 The sending IP address [{i}] has no PTR record matching its name. 550 5.7.25 https://support.google.com/mail/answer/81126#ip-practices {t}.{m} - gsmtp",
    ),
];

const MICROSOFT_OK: &[&str] = &[
    "250 2.6.0 <{t}@{s}> [InternalId={n}, Hostname={x}] Queued mail for delivery",
    "250 2.6.0 <{t}@{s}> [InternalId={n}, Hostname={x}] Queued mail for delivery -> 250 2.1.5",
];
const MICROSOFT_TEMP: &[Reply] = &[
    reply(
        35,
        "4.7.650",
        Said("MAIL FROM"),
        "451 4.7.650 The mail server [{i}] has been temporarily rate limited because of its IP reputation. For delivery help see https://postmaster.live.com (S775) [{x}]",
    ),
    reply(
        25,
        "4.7.500",
        Said("MAIL FROM"),
        "451 4.7.500 Server busy, try again later from [{i}]. (S77714) [{x}]",
    ),
    reply(
        15,
        "4.3.2",
        Refused,
        "421 4.3.2 Too many concurrent connections from your server, closing the transmission channel [{x}]",
    ),
    reply(
        10,
        "4.4.2",
        WithRelay,
        "lost connection with {h}[{p}] while sending end of data -- message may be sent more than once",
    ),
    reply(
        5,
        "4.4.1",
        NoRelay,
        "connect to {h}[{p}]:25: Connection timed out",
    ),
];
const MICROSOFT_PERM: &[Reply] = &[
    reply(
        30,
        "5.1.10",
        Said("RCPT TO"),
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient {r} not found by SMTP address lookup",
    ),
    reply(
        20,
        "5.4.1",
        Said("RCPT TO"),
        "550 5.4.1 Recipient address rejected: Access denied. AS(201806281) [{x}]",
    ),
    reply(
        15,
        "5.7.606",
        Said("MAIL FROM"),
        "550 5.7.606 Access denied, banned sending IP [{i}]. To ask for removal from this list go to https://sender.office.com and follow the steps there. AS(1430) [{x}]",
    ),
    reply(
        15,
        "5.5.0",
        Said("RCPT TO"),
        "550 5.5.0 Requested action not taken: mailbox unavailable (S2017062302). [{x}]",
    ),
    reply(
        10,
        "5.7.1",
        Said("MAIL FROM"),
        "550 5.7.1 Service unavailable, client host [{i}] blocked using Spamhaus. To ask for removal see https://www.spamhaus.org/query/ip/{i} (AS3130). [{x}]",
    ),
    reply(
        10,
        "5.7.509",
        Said("end of DATA"),
        "550 5.7.509 Access denied, sending domain {s} fails DMARC verification and publishes a reject policy. [{x}]",
    ),
];

const YAHOO_OK: &[&str] = &["250 ok dirdel", "250 ok dirdel {m}/{m}"];
const YAHOO_TEMP: &[Reply] = &[
    reply(
        45,
        "4.7.0",
        Refused,
        "421 4.7.0 [TSS04] Messages from {i} temporarily deferred due to unexpected volume or user complaints - 4.16.55.1; see https://postmaster.yahooinc.com/error-codes",
    ),
    reply(
        20,
        "4.7.0",
        Said("MAIL FROM"),
        "421 4.7.0 [TSS04] Messages from {i} temporarily deferred due to unexpected volume or user complaints - 4.16.56.1; see https://postmaster.yahooinc.com/error-codes",
    ),
    reply(
        15,
        "4.0.0",
        Said("MAIL FROM"),
        "451 Message temporarily deferred due to an unresolvable RFC5321 from domain; see https://postmaster.yahooinc.com/error-codes",
    ),
    reply(
        10,
        "4.7.1",
        Said("end of DATA"),
        "421 4.7.1 [TS03] All messages from {i} will be permanently deferred; retrying will not succeed. See https://postmaster.yahooinc.com/error-codes",
    ),
    reply(
        10,
        "4.4.2",
        WithRelay,
        "conversation with {h}[{p}] timed out while receiving the initial server greeting",
    ),
];
const YAHOO_PERM: &[Reply] = &[
    reply(
        45,
        "5.0.0",
        Said("end of DATA"),
        "554 delivery error: dd This user doesn't have a {d} account ({r}) [0] - mta{m}.mail.bf1.yahoo.com",
    ),
    reply(
        25,
        "5.0.0",
        Said("end of DATA"),
        "554 delivery error: dd Sorry, your message to {r} cannot be delivered. This mailbox is disabled (554.30). - mta{m}.mail.gq1.yahoo.com",
    ),
    reply(
        15,
        "5.7.9",
        Said("end of DATA"),
        "550 5.7.9 This mail is blocked because the sender is not authenticated. Senders must authenticate with SPF or DKIM.",
    ),
    reply(
        15,
        "5.0.0",
        Said("RCPT TO"),
        "552 1 Requested mail action aborted, mailbox not found",
    ),
];

const APPLE_OK: &[&str] = &["250 2.0.0 Ok: queued as {T}-{T}"];
const APPLE_TEMP: &[Reply] = &[
    reply(
        40,
        "4.7.0",
        Said("end of DATA"),
        "421 4.7.0 [CS01] Message from {i} deferred because of local policy. See https://support.apple.com/en-us/102322",
    ),
    reply(
        30,
        "4.2.2",
        Said("RCPT TO"),
        "452 4.2.2 <{r}>: mailbox is over quota, try again later",
    ),
    reply(
        30,
        "4.7.1",
        Refused,
        "421 4.7.1 Too many connections from your IP [{i}], try again later",
    ),
];
const APPLE_PERM: &[Reply] = &[
    reply(
        45,
        "5.1.1",
        Said("RCPT TO"),
        "550 5.1.1 <{r}>: user does not exist",
    ),
    reply(
        25,
        "5.7.1",
        Said("end of DATA"),
        "554 5.7.1 [CS01] Message rejected because of local policy. See https://support.apple.com/en-us/102322",
    ),
    reply(
        15,
        "5.2.2",
        Said("RCPT TO"),
        "552 5.2.2 <{r}>: user is over quota",
    ),
    reply(
        15,
        "5.1.1",
        Said("RCPT TO"),
        "550 5.1.1 <{r}>: inactive email address",
    ),
];

const GENERIC_OK: &[&str] = &[
    "250 2.0.0 Ok: queued as {q}",
    "250 2.0.0 Ok: queued as {q}",
    "250 OK id=1{T}-00{m}-{T}",
    "250 2.6.0 <{t}@{s}> Queued mail for delivery",
    "250 Requested mail action okay, completed: id={t}",
];
const GENERIC_TEMP: &[Reply] = &[
    reply(
        18,
        "4.7.1",
        Said("RCPT TO"),
        "450 4.7.1 <{r}>: Recipient address rejected: Greylisted, please try again in 300 seconds",
    ),
    reply(
        8,
        "4.7.1",
        Said("RCPT TO"),
        "451 4.7.1 Greylisting in effect, please come back later",
    ),
    reply(
        14,
        "4.4.1",
        NoRelay,
        "connect to {h}[{p}]:25: Connection timed out",
    ),
    reply(
        6,
        "4.4.1",
        NoRelay,
        "connect to {h}[{p}]:25: Connection refused",
    ),
    reply(
        10,
        "4.4.3",
        NoRelay,
        "Host or domain name not found. Name service error for name={d} type=MX: Host not found, try again",
    ),
    reply(
        8,
        "4.4.1",
        Suspended,
        "delivery temporarily suspended: connect to {h}[{p}]:25: Connection timed out",
    ),
    reply(
        4,
        "4.4.3",
        Suspended,
        "delivery temporarily suspended: Host or domain name not found. Name service error for name={d} type=MX: Host not found, try again",
    ),
    reply(
        8,
        "4.2.2",
        Said("RCPT TO"),
        "452 4.2.2 <{r}>: Mailbox full, try again later",
    ),
    reply(
        6,
        "4.3.0",
        Said("RCPT TO"),
        "451 4.3.0 <{r}>: Temporary lookup failure",
    ),
    reply(
        5,
        "4.4.2",
        WithRelay,
        "lost connection with {h}[{p}] while receiving the initial server greeting",
    ),
    reply(
        5,
        "4.3.2",
        Refused,
        "421 4.3.2 {h} Service not available, closing transmission channel",
    ),
    reply(
        4,
        "4.7.0",
        Said("end of DATA"),
        "451 4.7.0 Message held by the content scanner, try again later",
    ),
];
const GENERIC_PERM: &[Reply] = &[
    reply(
        30,
        "5.1.1",
        Said("RCPT TO"),
        "550 5.1.1 <{r}>: Recipient address rejected: User unknown in virtual mailbox table",
    ),
    reply(15, "5.1.1", Said("RCPT TO"), "550 5.1.1 User unknown"),
    reply(
        8,
        "5.2.2",
        Said("end of DATA"),
        "552 5.2.2 <{r}>: Mailbox full",
    ),
    reply(
        10,
        "5.7.1",
        Said("RCPT TO"),
        "554 5.7.1 Service unavailable; Client host [{i}] blocked using zen.spamhaus.org; https://www.spamhaus.org/query/ip/{i}",
    ),
    reply(
        5,
        "5.7.1",
        Refused,
        "554 5.7.1 {h} ESMTP not accepting messages from [{i}]: listed at zen.spamhaus.org",
    ),
    reply(
        8,
        "5.4.4",
        NoRelay,
        "Host or domain name not found. Name service error for name={d} type=A: Host not found",
    ),
    reply(
        4,
        "5.1.0",
        NoRelay,
        "Domain {d} does not accept mail (nullMX)",
    ),
    reply(
        6,
        "5.7.1",
        Said("end of DATA"),
        "550 5.7.1 Message rejected as spam by the content filter",
    ),
    reply(
        6,
        "5.1.1",
        Said("RCPT TO"),
        "550 5.1.1 <{r}>... No such user here",
    ),
    reply(
        4,
        "5.7.1",
        Said("RCPT TO"),
        "550 5.7.1 <{r}>: Relay access denied",
    ),
    reply(
        4,
        "5.0.0",
        Said("RCPT TO"),
        "550 Mailbox unavailable or access denied",
    ),
];

// Local deliveries: the `Said` form names the lmtp socket as the relay instead of an MX.
const LOCAL_OK: &[&str] = &[""];
const LOCAL_TEMP: &[Reply] = &[reply(
    1,
    "4.2.2",
    Said("end of DATA"),
    "452 4.2.2 <{r}> Quota exceeded (mailbox for user is full)",
)];
const LOCAL_PERM: &[Reply] = &[reply(
    1,
    "5.1.1",
    Said("RCPT TO"),
    "550 5.1.1 <{r}> User doesn't exist: {r}",
)];

const SYLLABLES: &[&str] = &[
    "ka", "lo", "ver", "mi", "tan", "dor", "sel", "ri", "bo", "nex", "qua", "zel", "fa", "gri",
    "mon", "pel", "sto", "vi", "ral", "ten", "cor", "bel", "nor", "lux", "ari", "dex", "vo", "han",
    "sul", "tri", "mar", "po", "len", "gal", "ori", "fen", "tas", "wen", "ul", "bri", "cam", "del",
    "es",
];
const SUFFIXES: &[&str] = &[
    "",
    "",
    "",
    "",
    "-tech",
    "-group",
    "-media",
    "-shop",
    "-consulting",
    "-labs",
    "-systems",
    "-design",
    "-law",
    "-bau",
    "-haus",
    "-works",
    "-partners",
    "-solutions",
    "-online",
    "-travel",
];
const TLDS: &[(u32, &str)] = &[
    (40, "com"),
    (8, "net"),
    (6, "org"),
    (9, "de"),
    (5, "co.uk"),
    (4, "fr"),
    (3, "nl"),
    (3, "io"),
    (2, "it"),
    (2, "es"),
    (2, "com.au"),
    (2, "ca"),
    (1, "ch"),
    (1, "se"),
    (1, "pl"),
    (1, "be"),
    (1, "at"),
];
const FIRST_NAMES: &[&str] = &[
    "anna", "ben", "carla", "david", "elena", "felix", "greta", "hugo", "ines", "jonas", "karin",
    "lukas", "maria", "nils", "olga", "paul", "rosa", "sam", "tina", "uwe", "vera", "will", "yara",
    "zoe", "amir", "bianca", "chen", "dana", "emil", "fatima", "george", "hana", "ivan", "julia",
    "kenji", "laura", "marco", "nora", "omar", "priya",
];
const LAST_NAMES: &[&str] = &[
    "smith",
    "mueller",
    "garcia",
    "rossi",
    "novak",
    "jensen",
    "dubois",
    "kowalski",
    "silva",
    "tanaka",
    "brown",
    "weber",
    "lopez",
    "bianchi",
    "horvat",
    "larsen",
    "martin",
    "nowak",
    "costa",
    "sato",
    "wilson",
    "schmidt",
    "fernandez",
    "ricci",
    "kovac",
    "nielsen",
    "bernard",
    "wojcik",
    "santos",
    "suzuki",
];

fn made_up_name(rng: &mut SplitMix64) -> String {
    let mut name = String::new();
    for _ in 0..rng.range(2, 3) {
        let syllable = rng.pick(SYLLABLES);
        name.push_str(syllable);
    }
    let suffix = rng.pick(SUFFIXES);
    name.push_str(suffix);
    name.push('.');
    let tld = rng.pick_weighted(TLDS);
    name.push_str(tld);
    name
}

/// An address outside the private, loopback, shared and documentation ranges (the sending
/// hosts use 198.51.100.0/24 and submission clients 203.0.113.0/24).
fn public_ip(rng: &mut SplitMix64) -> [u8; 4] {
    loop {
        let first = rng.range(11, 222) as u8;
        if ![100, 127, 169, 172, 192, 198, 203].contains(&first) {
            return [
                first,
                rng.below(256) as u8,
                rng.below(256) as u8,
                rng.range(1, 254) as u8,
            ];
        }
    }
}

fn ip_in(rng: &mut SplitMix64, first: u8, second: u8) -> [u8; 4] {
    [first, second, rng.below(256) as u8, rng.range(1, 254) as u8]
}

/// The recipient and sender domain table: big consumer domains, then generated ones.
struct Domains {
    all: Vec<Domain>,
    /// Indexes by segment, to draw recipients from.
    by_segment: Vec<(Segment, Vec<u32>)>,
    /// Domains our own senders use (notifications are delivered back to them).
    sender_domains: Vec<u32>,
}

impl Domains {
    fn build(rng: &mut SplitMix64, small_domains: u32) -> Domains {
        let mut all: Vec<Domain> = Vec::new();
        let mut used: HashSet<String> = HashSet::new();
        let mut by_segment: Vec<(Segment, Vec<u32>)> = Vec::new();
        let add = |all: &mut Vec<Domain>, domain: Domain| {
            all.push(domain);
            (all.len() - 1) as u32
        };
        let google_mx = |rng: &mut SplitMix64, stem: &str| -> Vec<Mx> {
            let mut mx = vec![Mx {
                host: format!("{stem}.l.google.com"),
                ip: ip_in(rng, 142, 250),
                vary_last_octet: true,
            }];
            for alt in 1..=2 {
                mx.push(Mx {
                    host: format!("alt{alt}.{stem}.l.google.com"),
                    ip: ip_in(rng, 74, 125),
                    vary_last_octet: true,
                });
            }
            mx
        };

        let consumer = |rng: &mut SplitMix64,
                        all: &mut Vec<Domain>,
                        segment: Segment,
                        names: &[&str]|
         -> Vec<u32> {
            names
                .iter()
                .map(|&name| {
                    let mx = match segment {
                        Segment::Gmail => google_mx(rng, "gmail-smtp-in"),
                        Segment::MicrosoftConsumer => vec![Mx {
                            host: format!("{}.olc.protection.outlook.com", name.replace('.', "-")),
                            ip: ip_in(rng, 52, 101),
                            vary_last_octet: true,
                        }],
                        Segment::YahooAol if name == "aol.com" => vec![Mx {
                            host: "mx-aol.mail.gm0.yahoodns.net".to_owned(),
                            ip: ip_in(rng, 67, 195),
                            vary_last_octet: true,
                        }],
                        Segment::YahooAol => (5..=8)
                            .map(|n| Mx {
                                host: format!("mta{n}.am0.yahoodns.net"),
                                ip: ip_in(rng, 98, 136),
                                vary_last_octet: true,
                            })
                            .collect(),
                        _ => (1..=2)
                            .map(|n| Mx {
                                host: format!("mx0{n}.mail.icloud.com"),
                                ip: ip_in(rng, 17, 57),
                                vary_last_octet: true,
                            })
                            .collect(),
                    };
                    add(
                        all,
                        Domain {
                            name: name.to_owned(),
                            segment,
                            mx,
                            consumer: true,
                            local_agent: LocalAgent::Lmtp,
                        },
                    )
                })
                .collect()
        };
        let gmail = consumer(
            rng,
            &mut all,
            Segment::Gmail,
            &["gmail.com", "googlemail.com"],
        );
        let microsoft = consumer(
            rng,
            &mut all,
            Segment::MicrosoftConsumer,
            &["outlook.com", "hotmail.com", "live.com", "msn.com"],
        );
        let yahoo = consumer(
            rng,
            &mut all,
            Segment::YahooAol,
            &["yahoo.com", "ymail.com", "aol.com", "rocketmail.com"],
        );
        let apple = consumer(
            rng,
            &mut all,
            Segment::Apple,
            &["icloud.com", "me.com", "mac.com"],
        );
        for name in ["gmail.com", "googlemail.com"] {
            used.insert(name.to_owned());
        }

        let mut generated =
            |rng: &mut SplitMix64, all: &mut Vec<Domain>, segment: Segment, n: u32| {
                let mut ids = Vec::with_capacity(n as usize);
                while ids.len() < n as usize {
                    let name = made_up_name(rng);
                    if !used.insert(name.clone()) {
                        continue;
                    }
                    let dashed = name.replace('.', "-");
                    let mx = match segment {
                        Segment::GoogleWorkspace => google_mx(rng, "aspmx"),
                        Segment::Microsoft365 => vec![Mx {
                            host: format!("{dashed}.mail.protection.outlook.com"),
                            ip: ip_in(rng, 52, 101),
                            vary_last_octet: true,
                        }],
                        Segment::Corporate => match rng.below(3) {
                            0 => vec![Mx {
                                host: format!(
                                    "mx0{}-00{}.pphosted.com",
                                    ["a", "b"][rng.below(2) as usize],
                                    rng.range(100_000, 999_999)
                                ),
                                ip: ip_in(rng, 148, 163),
                                vary_last_octet: false,
                            }],
                            1 => vec![Mx {
                                host: format!(
                                    "{}-smtp-inbound-{}.mimecast.com",
                                    ["eu", "us"][rng.below(2) as usize],
                                    rng.range(1, 2)
                                ),
                                ip: ip_in(rng, 205, 139),
                                vary_last_octet: false,
                            }],
                            _ => (1..=2)
                                .map(|n| Mx {
                                    host: format!("mx{n}.{name}"),
                                    ip: public_ip(rng),
                                    vary_last_octet: false,
                                })
                                .collect(),
                        },
                        _ => vec![Mx {
                            host: if rng.chance(0.6) {
                                format!("mail.{name}")
                            } else {
                                format!("mx{}.hosting{}.net", rng.range(1, 3), rng.range(1, 40))
                            },
                            ip: public_ip(rng),
                            vary_last_octet: false,
                        }],
                    };
                    let local_agent = *rng.pick_weighted(&[
                        (50, LocalAgent::Lmtp),
                        (25, LocalAgent::Virtual),
                        (15, LocalAgent::Local),
                        (10, LocalAgent::Pipe),
                    ]);
                    ids.push(add(
                        all,
                        Domain {
                            name,
                            segment,
                            mx,
                            consumer: false,
                            local_agent,
                        },
                    ));
                }
                ids
            };
        let workspace = generated(rng, &mut all, Segment::GoogleWorkspace, 600);
        let m365 = generated(rng, &mut all, Segment::Microsoft365, 900);
        let corporate = generated(rng, &mut all, Segment::Corporate, 300);
        let small = generated(rng, &mut all, Segment::Small, small_domains.max(1));
        let local = generated(rng, &mut all, Segment::Local, 25);

        // Our senders' domains: hosted here, at Google or at Microsoft.
        let mut sender_domains = local.clone();
        sender_domains.extend_from_slice(&workspace[..15]);
        sender_domains.extend_from_slice(&m365[..20]);

        by_segment.push((Segment::Gmail, gmail));
        by_segment.push((Segment::GoogleWorkspace, workspace));
        by_segment.push((Segment::MicrosoftConsumer, microsoft));
        by_segment.push((Segment::Microsoft365, m365));
        by_segment.push((Segment::YahooAol, yahoo));
        by_segment.push((Segment::Apple, apple));
        by_segment.push((Segment::Corporate, corporate));
        by_segment.push((Segment::Small, small));
        by_segment.push((Segment::Local, local));
        Domains {
            all,
            by_segment,
            sender_domains,
        }
    }

    /// A recipient domain: segment by market share, then a skewed pick inside it so a few
    /// domains of each segment are common and the tail is long.
    fn pick_recipient(&self, rng: &mut SplitMix64) -> u32 {
        let segment = *rng.pick_weighted(RECIPIENT_SHARES);
        let ids = &self
            .by_segment
            .iter()
            .find(|(s, _)| *s == segment)
            .expect("every segment")
            .1;
        // Consumer segments are a handful of domains with one dominant name (gmail.com far
        // ahead of googlemail.com), hence the steeper skew there.
        let u = rng.unit();
        let skewed = match segment {
            Segment::Gmail | Segment::MicrosoftConsumer | Segment::YahooAol | Segment::Apple => {
                u * u * u * u
            }
            _ => u * u,
        };
        ids[((skewed * ids.len() as f64) as usize).min(ids.len() - 1)]
    }
}

// ---------------------------------------------------------------------------------------------
// Messages and events
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Sent,
    Bounce,
    DeferThenSent,
    DeferThenBounce,
    Expire,
}

impl Fate {
    fn retries(self) -> bool {
        matches!(
            self,
            Fate::Expire | Fate::DeferThenSent | Fate::DeferThenBounce
        )
    }
}

/// Recipient shares of the fates, tuned so attempt lines come out near 85% sent, 8% deferred,
/// 5% bounced (deferrals repeat; bounces also create bounce messages, which get sent).
const FATE_BOUNCE: f64 = 0.056;
const FATE_DEFER_THEN_BOUNCE: f64 = 0.003;
const FATE_EXPIRE: f64 = 0.004;
const FATE_DEFER_THEN_SENT: f64 = 0.029;

/// The share of messages with at least one recipient that retries, for the recipient-count
/// mix drawn in `draw_recipients` (80% one, 15% two to five, 5% six to twenty) and the
/// segments' deferral factors.
fn retrying_message_share() -> f64 {
    let total: f64 = RECIPIENT_SHARES.iter().map(|(w, _)| f64::from(*w)).sum();
    let q: f64 = RECIPIENT_SHARES
        .iter()
        .map(|(w, segment)| {
            f64::from(*w) / total
                * (FATE_DEFER_THEN_BOUNCE + FATE_EXPIRE + FATE_DEFER_THEN_SENT)
                * fate_factors(*segment).1
        })
        .sum();
    let mut share = 0.80 * q;
    for n in 2..=20 {
        let weight = if n <= 5 { 0.15 / 4.0 } else { 0.05 / 15.0 };
        share += weight * (1.0 - (1.0 - q).powi(n));
    }
    share
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RcptState {
    Waiting,
    Done,
}

#[derive(Debug, Clone)]
struct Rcpt {
    address: String,
    domain: u32,
    fate: Fate,
    deferrals_left: u8,
    /// Index into the segment's temporary-failure table, fixed at the first deferral: a
    /// recipient that keeps failing usually fails the same way.
    temp_reason: Option<u16>,
    state: RcptState,
    /// Time in qmgr, connection set-up, transmission, in milliseconds, for this attempt.
    delays_ms: [u32; 3],
    session: Session,
    orig_to: Option<String>,
}

/// The delivery process and remote end of one attempt, shared by a domain's recipients.
#[derive(Debug, Clone, Copy, Default)]
struct Session {
    pid: u32,
    mx: u8,
    ip: [u8; 4],
    /// The first recipient of the session logs the TLS line.
    first: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Original,
    Reinjected,
    Notification,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Smtpd,
    Submission,
    Pickup,
}

#[derive(Debug)]
struct Message {
    host: u16,
    instance: u8,
    qid: Qid,
    /// Empty for the null sender of a bounce message.
    sender: String,
    sender_domain: u32,
    size: u32,
    kind: Kind,
    origin: Origin,
    arrival: i64,
    message_id: String,
    client: (String, [u8; 4]),
    /// The smtpd process that received it, so connect and disconnect name the same pid.
    smtpd_pid: u32,
    /// Recipients as qmgr counts them (`rcpts` may hold fewer during the warm-up).
    nrcpt: u32,
    rcpts: Vec<Rcpt>,
    filter: bool,
    outstanding: u32,
    bounced_this_pass: u32,
    counted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Arrival,
    Accept(u32),
    Queue(u32),
    Filter(u32),
    Deliver(u32, u32),
    PassDone(u32),
    Retry(u32),
    Noise(u16),
    Anvil(u16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Qid {
    bytes: [u8; 16],
    len: u8,
}

impl Qid {
    fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

const LONG_ID_ALPHABET: &[u8; 52] = b"0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz";

struct Host {
    name: Vec<u8>,
    long_ids: bool,
    inode: u64,
    sending_ip: [u8; 4],
    next_pid: u32,
    pids: Vec<Vec<u32>>,
    qmgr_pids: [u32; 2],
}

/// Daemons with pools of process ids.
#[derive(Debug, Clone, Copy)]
enum Daemon {
    Smtpd = 0,
    Cleanup,
    Smtp,
    Lmtp,
    Local,
    Virtual,
    Pipe,
    Error,
    Bounce,
    Postscreen,
    Pickup,
    Amavis,
    Opendkim,
    Anvil,
}
const DAEMON_COUNT: usize = 14;

impl Host {
    fn new(rng: &mut SplitMix64, name: &str, index: usize, long_ids: bool) -> Host {
        let mut next_pid = rng.range(2_000, 30_000) as u32;
        let mut pids = Vec::with_capacity(DAEMON_COUNT);
        for daemon in 0..DAEMON_COUNT {
            let pool = if daemon == Daemon::Smtp as usize || daemon == Daemon::Smtpd as usize {
                24
            } else {
                4
            };
            pids.push(
                (0..pool)
                    .map(|_| {
                        next_pid += rng.range(1, 40) as u32;
                        next_pid
                    })
                    .collect(),
            );
        }
        Host {
            name: name.as_bytes().to_vec(),
            long_ids,
            inode: rng.range(0x10000, 0xFFFFF),
            sending_ip: [198, 51, 100, 10 + index as u8],
            next_pid,
            pids,
            qmgr_pids: [rng.range(800, 1999) as u32, rng.range(800, 1999) as u32],
        }
    }

    /// A process of that daemon; now and then one exits and a new pid takes its place.
    fn pid(&mut self, rng: &mut SplitMix64, daemon: Daemon) -> u32 {
        let pool = &mut self.pids[daemon as usize];
        let slot = rng.below(pool.len() as u64) as usize;
        if rng.chance(0.002) {
            self.next_pid += rng.range(1, 60) as u32;
            if self.next_pid > 4_000_000 {
                self.next_pid = 1000;
            }
            pool[slot] = self.next_pid;
        }
        pool[slot]
    }

    fn new_qid(&mut self, rng: &mut SplitMix64, micros: i64) -> Qid {
        self.inode += rng.range(1, 40);
        let mut bytes = [0u8; 16];
        let mut len = 0;
        if self.long_ids {
            let mut push_base = |mut n: u64, width: usize, base: u64, bytes: &mut [u8; 16]| {
                let mut digits = [0u8; 8];
                for digit in digits.iter_mut().take(width) {
                    *digit = LONG_ID_ALPHABET[(n % base) as usize];
                    n /= base;
                }
                for &digit in digits[..width].iter().rev() {
                    bytes[len] = digit;
                    len += 1;
                }
            };
            push_base(micros.div_euclid(1_000_000) as u64, 6, 52, &mut bytes);
            push_base(micros.rem_euclid(1_000_000) as u64, 4, 52, &mut bytes);
            bytes[len] = b'z';
            len += 1;
            let inode_width = if self.inode < 51 * 51 * 51 { 3 } else { 4 };
            let mut rest = [0u8; 16];
            let mut rest_len = 0;
            let mut n = self.inode % 51u64.pow(4);
            for _ in 0..inode_width {
                rest[rest_len] = LONG_ID_ALPHABET[(n % 51) as usize];
                n /= 51;
                rest_len += 1;
            }
            for &digit in rest[..rest_len].iter().rev() {
                bytes[len] = digit;
                len += 1;
            }
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            let usec = micros.rem_euclid(1_000_000) as u64 & 0xFFFFF;
            for shift in (0..5).rev() {
                bytes[len] = HEX[((usec >> (shift * 4)) & 0xF) as usize];
                len += 1;
            }
            let inode = self.inode & 0xFFF_FFFF;
            let width = (64 - inode.leading_zeros() as usize)
                .div_ceil(4)
                .clamp(5, 7);
            for shift in (0..width).rev() {
                bytes[len] = HEX[((inode >> (shift * 4)) & 0xF) as usize];
                len += 1;
            }
        }
        Qid {
            bytes,
            len: len as u8,
        }
    }
}

const INSTANCES: [&[u8]; 2] = [b"postfix", b"postfix-out"];

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/// The line buffer and the ground truth. Lines before `start` (the warm-up) are dropped, as
/// are lines after the size target.
struct LogWriter {
    buf: Vec<u8>,
    clock: Clock,
    start: i64,
    line_start: usize,
    muted: bool,
    done: bool,
    target_bytes: u64,
    target_lines: u64,
    stats: GenStats,
    /// Set when lines are written as journal entries: the writer, and where the parts of the
    /// line being written lie.
    journal: Option<(JournalWriter, LineParts)>,
}

impl LogWriter {
    /// Starts a line: timestamp, host, and the program tag `name[/service]/daemon[pid]: `.
    fn begin(&mut self, time: i64, host: &[u8], program: &[&[u8]], pid: Option<u32>) {
        self.line_start = self.buf.len();
        self.muted = time < self.start || self.done;
        if self.muted {
            return;
        }
        self.clock.write(time, &mut self.buf);
        if self.stats.lines == 0 {
            self.stats.first_line_micros = time;
        }
        self.stats.last_line_micros = time;
        self.buf.push(b' ');
        let host_at = self.buf.len();
        self.buf.extend_from_slice(host);
        self.buf.push(b' ');
        let tag_at = self.buf.len();
        for (i, part) in program.iter().enumerate() {
            if i > 0 {
                self.buf.push(b'/');
            }
            self.buf.extend_from_slice(part);
        }
        let tag_end = self.buf.len();
        if let Some(pid) = pid {
            self.buf.push(b'[');
            push_u64(&mut self.buf, u64::from(pid));
            self.buf.push(b']');
        }
        self.buf.extend_from_slice(b": ");
        if let Some((_, parts)) = &mut self.journal {
            *parts = LineParts {
                time,
                host: (host_at, host_at + host.len()),
                tag: (tag_at, tag_end),
                pid,
                message: self.buf.len(),
            };
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        if !self.muted {
            self.buf.extend_from_slice(bytes);
        }
    }

    fn num(&mut self, n: u64) {
        if !self.muted {
            push_u64(&mut self.buf, n);
        }
    }

    fn ip(&mut self, ip: [u8; 4]) {
        if !self.muted {
            push_ip(&mut self.buf, ip);
        }
    }

    /// Ends the line; `true` when it was kept (so its ground truth should be counted).
    fn end(&mut self) -> bool {
        if self.muted {
            self.buf.truncate(self.line_start);
            return false;
        }
        if let Some((writer, parts)) = &mut self.journal {
            writer.rewrite(&mut self.buf, self.line_start, parts);
        }
        self.buf.push(b'\n');
        self.stats.lines += 1;
        self.stats.bytes += (self.buf.len() - self.line_start) as u64;
        if self.stats.lines >= self.target_lines || self.stats.bytes >= self.target_bytes {
            self.done = true;
        }
        true
    }
}

fn push_ip(out: &mut Vec<u8>, ip: [u8; 4]) {
    for (i, octet) in ip.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        push_u64(out, u64::from(*octet));
    }
}

/// Postfix-style delay: whole seconds from 100 up, one decimal from 1, two below, `0` for
/// nothing at all.
fn push_delay(out: &mut Vec<u8>, millis: u64) {
    let hundredths = millis / 10;
    if hundredths >= 10_000 {
        push_u64(out, hundredths / 100);
    } else if hundredths >= 100 {
        push_u64(out, hundredths / 100);
        let tenth = hundredths / 10 % 10;
        if tenth != 0 {
            out.push(b'.');
            out.push(b'0' + tenth as u8);
        }
    } else if hundredths == 0 {
        out.push(b'0');
    } else {
        out.extend_from_slice(b"0.");
        out.push(b'0' + (hundredths / 10) as u8);
        if hundredths % 10 != 0 {
            out.push(b'0' + (hundredths % 10) as u8);
        }
    }
}

struct Fill<'a> {
    rcpt: &'a [u8],
    domain: &'a [u8],
    sender_domain: &'a [u8],
    our_ip: [u8; 4],
    mx: &'a [u8],
    mx_ip: [u8; 4],
}

/// Expands a reply template's placeholders into `out`.
fn render(template: &str, fill: &Fill<'_>, rng: &mut SplitMix64, out: &mut Vec<u8>) {
    const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const HEX: &[u8] = b"0123456789ABCDEF";
    let bytes = template.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let Some(offset) = memchr::memchr(b'{', &bytes[i..]) else {
            out.extend_from_slice(&bytes[i..]);
            break;
        };
        out.extend_from_slice(&bytes[i..i + offset]);
        let key = bytes[i + offset + 1];
        i += offset + 3;
        match key {
            b'r' => out.extend_from_slice(fill.rcpt),
            b'd' => out.extend_from_slice(fill.domain),
            b's' => out.extend_from_slice(fill.sender_domain),
            b'i' => push_ip(out, fill.our_ip),
            b'h' => out.extend_from_slice(fill.mx),
            b'p' => push_ip(out, fill.mx_ip),
            b't' => (0..14).for_each(|_| out.push(LOWER[rng.below(36) as usize])),
            b'T' => (0..8).for_each(|_| out.push(UPPER[rng.below(36) as usize])),
            b'n' => push_u64(out, rng.range(1_000_000_000, 9_999_999_999)),
            b'm' => push_u64(out, rng.range(1000, 9999)),
            b'q' => (0..11).for_each(|_| out.push(HEX[rng.below(16) as usize])),
            b'x' => {
                out.extend_from_slice(
                    ["AM", "DB", "BN", "CY", "SN", "PH"][rng.below(6) as usize].as_bytes(),
                );
                push_u64(out, rng.range(1, 9));
                out.extend_from_slice(b"PEPF0000");
                (0..5).for_each(|_| out.push(UPPER[rng.below(36) as usize]));
                out.extend_from_slice(b".");
                out.extend_from_slice(
                    ["eurprd04", "namprd11", "apcprd06"][rng.below(3) as usize].as_bytes(),
                );
                out.extend_from_slice(b".prod.outlook.com");
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The simulation
// ---------------------------------------------------------------------------------------------

struct Sim<'c> {
    cfg: &'c PostfixConfig,
    rng: SplitMix64,
    domains: Domains,
    hosts: Vec<Host>,
    heap: BinaryHeap<Reverse<(i64, u64, Event)>>,
    seq: u64,
    messages: Vec<Option<Message>>,
    free: Vec<u32>,
    log: LogWriter,
    start: i64,
    scratch: Vec<u8>,
    retrying_share: f64,
}

const FLUSH_AT: usize = 1 << 18;

impl<'c> Sim<'c> {
    fn new(cfg: &'c PostfixConfig) -> Sim<'c> {
        let mut rng = SplitMix64::new(cfg.seed ^ 0x5EED_0FB0_0CE5);
        let domains = Domains::build(&mut rng, cfg.small_domains);
        let hosts = cfg
            .hosts
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let long = match cfg.long_queue_ids {
                    LongQueueIds::Never => false,
                    LongQueueIds::Always => true,
                    LongQueueIds::AlternateHosts => i % 2 == 1,
                };
                Host::new(&mut rng, name, i, long)
            })
            .collect();
        let start = cfg.start.as_microsecond();
        Sim {
            cfg,
            rng,
            domains,
            hosts,
            heap: BinaryHeap::new(),
            seq: 0,
            messages: Vec::new(),
            free: Vec::new(),
            log: LogWriter {
                buf: Vec::with_capacity(FLUSH_AT + 64 * 1024),
                clock: Clock::new(cfg.timestamp_style, cfg.utc_offset_seconds),
                start,
                line_start: 0,
                muted: false,
                done: false,
                target_bytes: cfg.target_bytes.unwrap_or(u64::MAX),
                target_lines: cfg.target_lines.unwrap_or(u64::MAX),
                stats: GenStats::default(),
                journal: cfg
                    .journal
                    .then(|| (JournalWriter::default(), LineParts::default())),
            },
            start,
            scratch: Vec::with_capacity(1024),
            retrying_share: retrying_message_share(),
        }
    }

    fn schedule(&mut self, time: i64, event: Event) {
        self.seq += 1;
        self.heap.push(Reverse((time, self.seq, event)));
    }

    fn run(&mut self, out: &mut dyn Write) -> io::Result<()> {
        let warmup =
            i64::from(self.cfg.queue_lifetime_secs + self.cfg.max_backoff_secs + 600) * 1_000_000;
        self.schedule(self.start - warmup, Event::Arrival);
        for host in 0..self.hosts.len() as u16 {
            let first_noise = self.start + self.rng.below(2_000_000) as i64;
            self.schedule(first_noise, Event::Noise(host));
            let first_anvil = self.start + self.rng.below(60_000_000) as i64;
            self.schedule(first_anvil, Event::Anvil(host));
        }
        while let Some(Reverse((time, _, event))) = self.heap.pop() {
            if self.log.done {
                break;
            }
            self.handle(time, event);
            if self.log.buf.len() >= FLUSH_AT {
                out.write_all(&self.log.buf)?;
                self.log.buf.clear();
            }
        }
        out.write_all(&self.log.buf)?;
        self.log.buf.clear();
        Ok(())
    }

    fn handle(&mut self, time: i64, event: Event) {
        match event {
            Event::Arrival => self.arrival(time),
            Event::Accept(id) => self.accept(time, id),
            Event::Queue(id) => self.queue(time, id),
            Event::Filter(id) => self.filter(time, id),
            Event::Deliver(id, rcpt) => self.deliver(time, id, rcpt as usize),
            Event::PassDone(id) => self.pass_done(time, id),
            Event::Retry(id) => self.retry(time, id),
            Event::Noise(host) => self.noise(time, host),
            Event::Anvil(host) => self.anvil(time, host),
        }
    }

    fn msg(&mut self, id: u32) -> &mut Message {
        self.messages[id as usize].as_mut().expect("live message")
    }

    fn store(&mut self, message: Message) -> u32 {
        match self.free.pop() {
            Some(id) => {
                self.messages[id as usize] = Some(message);
                id
            }
            None => {
                self.messages.push(Some(message));
                (self.messages.len() - 1) as u32
            }
        }
    }

    fn release(&mut self, id: u32) {
        self.messages[id as usize] = None;
        self.free.push(id);
    }

    fn ms(&mut self, lo: u64, hi: u64) -> i64 {
        self.rng.range(lo, hi) as i64 * 1000
    }

    fn pick_fate(&mut self, segment: Segment) -> (Fate, u8) {
        let (bounce, defer) = fate_factors(segment);
        let roll = self.rng.unit();
        let mut edge = FATE_BOUNCE * bounce;
        if roll < edge {
            return (Fate::Bounce, 0);
        }
        edge += FATE_DEFER_THEN_BOUNCE * defer;
        if roll < edge {
            return (Fate::DeferThenBounce, self.rng.range(1, 3) as u8);
        }
        edge += FATE_EXPIRE * defer;
        if roll < edge {
            return (Fate::Expire, u8::MAX);
        }
        edge += FATE_DEFER_THEN_SENT * defer;
        if roll < edge {
            return (Fate::DeferThenSent, self.rng.range(1, 3) as u8);
        }
        (Fate::Sent, 0)
    }

    fn local_part(&mut self) -> String {
        let first = *self.rng.pick(FIRST_NAMES);
        let last = *self.rng.pick(LAST_NAMES);
        match self.rng.below(6) {
            0 | 1 => format!("{first}.{last}"),
            2 => format!("{}{last}", &first[..1]),
            3 => format!("{first}_{last}{}", self.rng.range(1, 99)),
            4 => format!("{first}{}", self.rng.range(70, 2009)),
            _ => format!("{first}.{}{}", &last[..1], self.rng.range(1, 999)),
        }
    }

    fn new_rcpt(&mut self, domain: u32, fate: (Fate, u8)) -> Rcpt {
        let local = self.local_part();
        let address = format!("{local}@{}", self.domains.all[domain as usize].name);
        let orig_to = (self.domains.all[domain as usize].segment == Segment::Local
            && self.domains.all[domain as usize].local_agent == LocalAgent::Local
            && self.rng.chance(0.5))
        .then(|| {
            format!(
                "{}@{}",
                ["info", "postmaster", "sales", "office"][self.rng.below(4) as usize],
                self.domains.all[domain as usize].name
            )
        });
        Rcpt {
            address,
            domain,
            fate: fate.0,
            deferrals_left: fate.1,
            temp_reason: None,
            state: RcptState::Waiting,
            delays_ms: [0; 3],
            session: Session::default(),
            orig_to,
        }
    }

    /// Recipient domains and fates of a new message.
    fn draw_recipients(&mut self) -> Vec<(u32, (Fate, u8))> {
        let nrcpt = match self.rng.below(100) {
            0..=79 => 1,
            80..=94 => self.rng.range(2, 5),
            _ => self.rng.range(6, 20),
        };
        (0..nrcpt)
            .map(|_| {
                let domain = self.domains.pick_recipient(&mut self.rng);
                let segment = self.domains.all[domain as usize].segment;
                (domain, self.pick_fate(segment))
            })
            .collect()
    }

    fn arrival(&mut self, time: i64) {
        let warming_up = time < self.start;
        // During the warm-up only messages that will still be queued when the log starts
        // matter: draw those alone, at their own (thinned) rate, by rejection.
        let thinning = if warming_up { self.retrying_share } else { 1.0 };
        let mean_gap = 1_000_000.0 / (self.cfg.messages_per_second * thinning);
        let gap = self.rng.exponential(mean_gap) as i64 + 1;
        let next = (time + gap).min(if warming_up { self.start } else { i64::MAX });
        self.schedule(next, Event::Arrival);
        let mut recipients = self.draw_recipients();
        while warming_up && !recipients.iter().any(|(_, (fate, _))| fate.retries()) {
            recipients = self.draw_recipients();
        }
        let host = self.rng.below(self.hosts.len() as u64) as u16;
        let instance = u8::from(self.rng.chance(0.25));
        let sender_domain = *self.rng.pick(&self.domains.sender_domains);
        let origin = *self.rng.pick_weighted(&[
            (55, Origin::Smtpd),
            (35, Origin::Submission),
            (10, Origin::Pickup),
        ]);
        let domain_name = self.domains.all[sender_domain as usize].name.clone();
        let sender_local = match origin {
            Origin::Submission => self.local_part(),
            Origin::Pickup => {
                ["www-data", "root", "nagios", "backup"][self.rng.below(4) as usize].to_owned()
            }
            Origin::Smtpd => match self.rng.below(4) {
                0 => "newsletter".to_owned(),
                1 => "noreply".to_owned(),
                2 => format!(
                    "bounces+{}-{:x}",
                    self.rng.range(1000, 999_999),
                    self.rng.next_u64() >> 40
                ),
                _ => ["billing", "alerts", "support", "orders"][self.rng.below(4) as usize]
                    .to_owned(),
            },
        };
        let sender = format!("{sender_local}@{domain_name}");
        let message_id = match self.rng.below(3) {
            0 => format!("{:016x}@{domain_name}", self.rng.next_u64()),
            1 => {
                let a = self.rng.next_u64();
                let b = self.rng.next_u64();
                format!(
                    "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}@{domain_name}",
                    a >> 32,
                    (a >> 16) & 0xFFFF,
                    a & 0xFFFF,
                    b >> 48,
                    b & 0xFFFF_FFFF_FFFF
                )
            }
            _ => format!(
                "{}.{}.JavaMail.app@app{}.{domain_name}",
                self.rng.range(100_000, 999_999),
                self.rng.next_u64() >> 20,
                self.rng.range(1, 9)
            ),
        };
        let client = match origin {
            Origin::Smtpd => {
                let n = self.rng.range(1, 12);
                (format!("app{n}.internal"), [10, 20, 3, n as u8 + 10])
            }
            _ => {
                let ip = [203, 0, 113, self.rng.range(1, 254) as u8];
                let name = if self.rng.chance(0.3) {
                    "unknown".to_owned()
                } else {
                    format!("host-203-0-113-{}.dyn.example-isp.net", ip[3])
                };
                (name, ip)
            }
        };
        let mut rcpts = Vec::with_capacity(recipients.len());
        for (domain, fate) in recipients {
            rcpts.push(self.new_rcpt(domain, fate));
        }
        let size = (self.rng.unit() * 4.5 + 7.5).exp() as u32;
        let qid = self.hosts[host as usize].new_qid(&mut self.rng, time);
        let filter = self.rng.chance(self.cfg.content_filter_share);
        let nrcpt = rcpts.len() as u32;
        if warming_up {
            // Everything before the log starts is invisible: keep only the recipients that
            // will still be queued, and go straight to the first delivery pass.
            rcpts.retain(|rcpt| rcpt.fate.retries());
        }
        let message = Message {
            host,
            instance,
            qid,
            sender,
            sender_domain,
            size,
            kind: Kind::Original,
            origin,
            arrival: time,
            message_id,
            client,
            smtpd_pid: 0,
            nrcpt,
            rcpts,
            filter: filter && !warming_up,
            outstanding: 0,
            bounced_this_pass: 0,
            counted: false,
        };
        let id = self.store(message);
        if warming_up {
            self.start_pass(time, id);
        } else {
            self.receive(time, id);
        }
    }

    /// A message's tag parts: `postfix`, optional `submission`, then the daemon name.
    fn tag(&self, id: u32, daemon: &'static [u8]) -> ([&'static [u8]; 3], usize) {
        let message = self.messages[id as usize].as_ref().expect("live message");
        let instance = INSTANCES[message.instance as usize];
        if daemon == b"smtpd"
            && message.origin == Origin::Submission
            && message.kind == Kind::Original
        {
            ([instance, b"submission", daemon], 3)
        } else {
            ([instance, daemon, b""], 2)
        }
    }

    fn receive(&mut self, time: i64, id: u32) {
        let host = self.msg(id).host as usize;
        let origin = self.msg(id).origin;
        let smtpd_pid = self.hosts[host].pid(&mut self.rng, Daemon::Smtpd);
        self.msg(id).smtpd_pid = smtpd_pid;
        let pickup_pid = self.hosts[host].pid(&mut self.rng, Daemon::Pickup);
        let (tag, parts) = self.tag(id, b"smtpd");
        let Sim {
            log,
            messages,
            hosts,
            rng,
            ..
        } = self;
        let message = messages[id as usize].as_ref().expect("live message");
        let host_name = &hosts[host].name;
        let t = time;
        if origin == Origin::Pickup {
            log.begin(
                t,
                host_name,
                &[INSTANCES[message.instance as usize], b"pickup"],
                Some(pickup_pid),
            );
            log.push(message.qid.as_bytes());
            log.push(b": uid=");
            log.num([33, 0, 112, 34][rng.below(4) as usize]);
            log.push(b" from=<");
            log.push(message.sender.split('@').next().unwrap_or("").as_bytes());
            log.push(b">");
            log.end();
        } else {
            log.begin(t, host_name, &tag[..parts], Some(smtpd_pid));
            log.push(b"connect from ");
            log.push(message.client.0.as_bytes());
            log.push(b"[");
            log.ip(message.client.1);
            log.push(b"]");
            log.end();
            if origin == Origin::Submission {
                log.begin(t, host_name, &tag[..parts], Some(smtpd_pid));
                log.push(b"Anonymous TLS connection established from ");
                log.push(message.client.0.as_bytes());
                log.push(b"[");
                log.ip(message.client.1);
                log.push(b"]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature RSA-PSS (2048 bits) server-digest SHA256");
                log.end();
            }
        }
        let accept_at = time + 1000 + self.rng.below(60_000) as i64;
        self.schedule(accept_at, Event::Accept(id));
    }

    /// The client hands over the message: smtpd names the queue id, cleanup the message-id.
    fn accept(&mut self, time: i64, id: u32) {
        let host = self.msg(id).host as usize;
        let origin = self.msg(id).origin;
        let smtpd_pid = self.msg(id).smtpd_pid;
        let cleanup_pid = self.hosts[host].pid(&mut self.rng, Daemon::Cleanup);
        let opendkim_pid = self.hosts[host].pid(&mut self.rng, Daemon::Opendkim);
        let (tag, parts) = self.tag(id, b"smtpd");
        let Sim {
            log,
            messages,
            hosts,
            rng,
            ..
        } = self;
        let message = messages[id as usize].as_ref().expect("live message");
        let host_name = &hosts[host].name;
        let t = time;
        if origin != Origin::Pickup {
            log.begin(t, host_name, &tag[..parts], Some(smtpd_pid));
            log.push(message.qid.as_bytes());
            log.push(b": client=");
            log.push(message.client.0.as_bytes());
            log.push(b"[");
            log.ip(message.client.1);
            log.push(b"]");
            if origin == Origin::Submission {
                log.push(b", sasl_method=PLAIN, sasl_username=");
                log.push(message.sender.as_bytes());
            }
            log.end();
        }
        log.begin(
            t,
            host_name,
            &[INSTANCES[message.instance as usize], b"cleanup"],
            Some(cleanup_pid),
        );
        log.push(message.qid.as_bytes());
        log.push(b": message-id=<");
        log.push(message.message_id.as_bytes());
        log.push(b">");
        log.end();
        if origin != Origin::Pickup && rng.chance(0.6) {
            log.begin(t, host_name, &[b"opendkim"], Some(opendkim_pid));
            log.push(message.qid.as_bytes());
            log.push(b": DKIM-Signature field added (s=");
            log.push([&b"mail"[..], b"s1", b"selector1", b"k2025"][rng.below(4) as usize]);
            log.push(b", d=");
            log.push(message.sender.rsplit('@').next().unwrap_or("").as_bytes());
            log.push(b")");
            log.end();
        }
        let queue_at = t + 2000 + rng.below(80_000) as i64;
        self.schedule(queue_at, Event::Queue(id));
    }

    fn log_from(&mut self, time: i64, id: u32) {
        let host = self.msg(id).host as usize;
        let Sim {
            log,
            messages,
            hosts,
            ..
        } = self;
        let message = messages[id as usize].as_mut().expect("live message");
        let qmgr_pid = hosts[host].qmgr_pids[message.instance as usize];
        log.begin(
            time,
            &hosts[host].name,
            &[INSTANCES[message.instance as usize], b"qmgr"],
            Some(qmgr_pid),
        );
        log.push(message.qid.as_bytes());
        log.push(b": from=<");
        log.push(message.sender.as_bytes());
        log.push(b">, size=");
        log.num(u64::from(message.size));
        log.push(b", nrcpt=");
        log.num(u64::from(message.nrcpt));
        log.push(b" (queue active)");
        if log.end() && !message.counted {
            message.counted = true;
            log.stats.messages += 1;
        }
    }

    fn queue(&mut self, time: i64, id: u32) {
        self.log_from(time, id);
        let host = self.msg(id).host as usize;
        let origin = self.msg(id).origin;
        if origin != Origin::Pickup {
            let smtpd_pid = self.msg(id).smtpd_pid;
            let (tag, parts) = self.tag(id, b"smtpd");
            let t = time;
            let Sim {
                log,
                messages,
                hosts,
                ..
            } = self;
            let message = messages[id as usize].as_ref().expect("live message");
            let nrcpt = u64::from(message.nrcpt);
            log.begin(t, &hosts[host].name, &tag[..parts], Some(smtpd_pid));
            log.push(b"disconnect from ");
            log.push(message.client.0.as_bytes());
            log.push(b"[");
            log.ip(message.client.1);
            if origin == Origin::Submission {
                log.push(b"] ehlo=2 starttls=1 auth=1 mail=1 rcpt=");
                log.num(nrcpt);
                log.push(b" data=1 quit=1 commands=");
                log.num(6 + nrcpt);
            } else {
                log.push(b"] ehlo=1 mail=1 rcpt=");
                log.num(nrcpt);
                log.push(b" data=1 quit=1 commands=");
                log.num(4 + nrcpt);
            }
            log.end();
        }
        if self.msg(id).filter {
            let at = time + self.ms(200, 2500);
            self.schedule(at, Event::Filter(id));
        } else {
            self.start_pass(time, id);
        }
    }

    /// The content filter: amavis takes the message on 10024 and re-injects it on 10025 as a
    /// new queue file, which then lives its own life; the original is removed.
    fn filter(&mut self, time: i64, id: u32) {
        let old = self.messages[id as usize].take().expect("live message");
        self.free.push(id);
        let host = old.host as usize;
        let new_qid = self.hosts[host].new_qid(&mut self.rng, time);
        let smtpd_pid = self.hosts[host].pid(&mut self.rng, Daemon::Smtpd);
        let cleanup_pid = self.hosts[host].pid(&mut self.rng, Daemon::Cleanup);
        let amavis_pid = self.hosts[host].pid(&mut self.rng, Daemon::Amavis);
        let smtp_pid = self.hosts[host].pid(&mut self.rng, Daemon::Smtp);
        let instance = INSTANCES[old.instance as usize];
        let scan_ms = self.rng.range(150, 2500);
        let nrcpt = u64::from(old.nrcpt);
        let Sim {
            log, hosts, rng, ..
        } = self;
        let host_name = &hosts[host].name;
        let smtpd = [instance, &b"smtpd"[..]];
        log.begin(time, host_name, &smtpd, Some(smtpd_pid));
        log.push(b"connect from localhost[127.0.0.1]");
        log.end();
        log.begin(time, host_name, &smtpd, Some(smtpd_pid));
        log.push(new_qid.as_bytes());
        log.push(b": client=localhost[127.0.0.1]");
        log.end();
        log.begin(time, host_name, &[instance, b"cleanup"], Some(cleanup_pid));
        log.push(new_qid.as_bytes());
        log.push(b": message-id=<");
        log.push(old.message_id.as_bytes());
        log.push(b">");
        log.end();
        log.begin(time, host_name, &smtpd, Some(smtpd_pid));
        log.push(b"disconnect from localhost[127.0.0.1] ehlo=1 mail=1 rcpt=");
        log.num(nrcpt);
        log.push(b" data=1 quit=1 commands=");
        log.num(4 + nrcpt);
        log.end();
        log.begin(time, host_name, &[b"amavis"], Some(amavis_pid));
        log.push(b"(");
        log.num(u64::from(amavis_pid));
        log.push(b"-");
        log.num(rng.range(1, 40));
        log.push(b") Passed CLEAN {RelayedOutbound}, [");
        log.ip(old.client.1);
        log.push(b"] <");
        log.push(old.sender.as_bytes());
        log.push(b"> -> ");
        for (i, rcpt) in old.rcpts.iter().enumerate() {
            if i > 0 {
                log.push(b",");
            }
            log.push(b"<");
            log.push(rcpt.address.as_bytes());
            log.push(b">");
        }
        log.push(b", Queue-ID: ");
        log.push(old.qid.as_bytes());
        log.push(b", Message-ID: <");
        log.push(old.message_id.as_bytes());
        log.push(b">, Hits: -");
        log.num(rng.below(3));
        log.push(b".");
        log.num(rng.range(100, 999));
        log.push(b", size: ");
        log.num(u64::from(old.size));
        log.push(b", queued_as: ");
        log.push(new_qid.as_bytes());
        log.push(b", ");
        log.num(scan_ms);
        log.push(b" ms");
        log.end();
        let delay_ms = ((time - old.arrival) / 1000) as u64;
        for rcpt in &old.rcpts {
            log.begin(time, host_name, &[instance, b"smtp"], Some(smtp_pid));
            log.push(old.qid.as_bytes());
            log.push(b": to=<");
            log.push(rcpt.address.as_bytes());
            log.push(b">, relay=127.0.0.1[127.0.0.1]:10024, delay=");
            if !log.muted {
                push_delay(&mut log.buf, delay_ms);
                log.buf.extend_from_slice(b", delays=");
                push_delay(&mut log.buf, delay_ms.saturating_sub(scan_ms + 20));
                log.buf.extend_from_slice(b"/0.01/0/");
                push_delay(&mut log.buf, scan_ms);
            }
            log.push(b", dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as ");
            log.push(new_qid.as_bytes());
            log.push(b")");
            if log.end() {
                log.stats.status_lines.sent += 1;
                log.stats.filter_handoffs += 1;
            }
        }
        log.begin(
            time,
            host_name,
            &[instance, b"qmgr"],
            Some(hosts[host].qmgr_pids[old.instance as usize]),
        );
        log.push(old.qid.as_bytes());
        log.push(b": removed");
        log.end();

        let new = Message {
            qid: new_qid,
            kind: Kind::Reinjected,
            size: old.size + 900 + rng.below(800) as u32,
            filter: false,
            counted: false,
            outstanding: 0,
            bounced_this_pass: 0,
            ..old
        };
        let new_id = self.store(new);
        // The re-injected queue file's qmgr line, logged as amavis hands it back.
        self.log_from(time, new_id);
        self.start_pass(time, new_id);
    }

    /// Queues a delivery attempt for every recipient still waiting. Recipients in the same
    /// domain share one SMTP session, as Postfix does: same process, MX, address and time.
    fn start_pass(&mut self, time: i64, id: u32) {
        let count = self.msg(id).rcpts.len();
        let host = self.msg(id).host as usize;
        let mut sessions: Vec<(u32, i64, [u32; 3], Session)> = Vec::new();
        let mut outstanding = 0;
        for index in 0..count {
            let rcpt = &self.msg(id).rcpts[index];
            if rcpt.state != RcptState::Waiting {
                continue;
            }
            let domain_index = rcpt.domain;
            let (at, delays, session) = match sessions.iter().find(|s| s.0 == domain_index) {
                Some(&(_, at, delays, session)) => (
                    at,
                    delays,
                    Session {
                        first: false,
                        ..session
                    },
                ),
                None => {
                    let in_qmgr = self.rng.range(0, 120) as u32;
                    let connect = self.rng.range(20, 1500) as u32;
                    let transmit = self.rng.range(30, 1200) as u32;
                    let delays = [in_qmgr, connect, transmit];
                    let at = time
                        + i64::from(in_qmgr + connect + transmit) * 1000
                        + self.rng.below(1000) as i64;
                    let domain = &self.domains.all[domain_index as usize];
                    let daemon = if domain.segment == Segment::Local {
                        match domain.local_agent {
                            LocalAgent::Lmtp => Daemon::Lmtp,
                            LocalAgent::Virtual => Daemon::Virtual,
                            LocalAgent::Local => Daemon::Local,
                            LocalAgent::Pipe => Daemon::Pipe,
                        }
                    } else {
                        Daemon::Smtp
                    };
                    let mx = self.rng.below(domain.mx.len() as u64) as usize;
                    let mut ip = domain.mx[mx].ip;
                    if domain.mx[mx].vary_last_octet {
                        ip[3] = self.rng.range(1, 254) as u8;
                    }
                    let pid = self.hosts[host].pid(&mut self.rng, daemon);
                    let session = Session {
                        pid,
                        mx: mx as u8,
                        ip,
                        first: true,
                    };
                    sessions.push((domain_index, at, delays, session));
                    (at, delays, session)
                }
            };
            let rcpt = &mut self.msg(id).rcpts[index];
            rcpt.delays_ms = delays;
            rcpt.session = session;
            self.schedule(at, Event::Deliver(id, index as u32));
            outstanding += 1;
        }
        let message = self.msg(id);
        message.outstanding = outstanding;
        message.bounced_this_pass = 0;
    }

    fn deliver(&mut self, time: i64, id: u32, index: usize) {
        #[derive(PartialEq)]
        enum Outcome {
            Sent,
            Deferred,
            Bounced,
        }
        let rcpt = &mut self.messages[id as usize]
            .as_mut()
            .expect("live message")
            .rcpts[index];
        let outcome = match rcpt.fate {
            Fate::Expire => Outcome::Deferred,
            Fate::DeferThenSent | Fate::DeferThenBounce if rcpt.deferrals_left > 0 => {
                rcpt.deferrals_left -= 1;
                Outcome::Deferred
            }
            Fate::Sent | Fate::DeferThenSent => Outcome::Sent,
            Fate::Bounce | Fate::DeferThenBounce => Outcome::Bounced,
        };
        let domain_index = rcpt.domain as usize;
        let segment = self.domains.all[domain_index].segment;
        let (temp, perm, ok) = segment.replies();
        let reply = match outcome {
            Outcome::Sent => None,
            Outcome::Deferred => {
                let reason = match rcpt.temp_reason {
                    Some(reason) => reason,
                    None => {
                        let reason = pick_reply(&mut self.rng, temp);
                        rcpt.temp_reason = Some(reason);
                        reason
                    }
                };
                Some(&temp[reason as usize])
            }
            Outcome::Bounced => Some(&perm[pick_reply(&mut self.rng, perm) as usize]),
        };
        if outcome != Outcome::Deferred {
            rcpt.state = RcptState::Done;
        }
        let delays = rcpt.delays_ms;
        let message = self.messages[id as usize].as_mut().expect("live message");
        message.outstanding -= 1;
        if outcome == Outcome::Bounced {
            message.bounced_this_pass += 1;
        }
        let outstanding = message.outstanding;
        let host = message.host as usize;

        let local_agent = self.domains.all[domain_index].local_agent;
        let form = reply.map(|r| r.form);
        let suspended = form == Some(Suspended);
        let no_relay = matches!(form, Some(NoRelay) | Some(Suspended));
        let agent: (&'static [u8], Daemon) = if suspended {
            (b"error", Daemon::Error)
        } else if segment == Segment::Local {
            match local_agent {
                LocalAgent::Lmtp => (b"lmtp", Daemon::Lmtp),
                LocalAgent::Virtual => (b"virtual", Daemon::Virtual),
                LocalAgent::Local => (b"local", Daemon::Local),
                LocalAgent::Pipe => (b"pipe", Daemon::Pipe),
            }
        } else {
            (b"smtp", Daemon::Smtp)
        };
        let session = self.msg(id).rcpts[index].session;
        let pid = if suspended {
            self.hosts[host].pid(&mut self.rng, agent.1)
        } else {
            session.pid
        };
        let Sim {
            log,
            messages,
            hosts,
            rng,
            domains,
            scratch,
            ..
        } = self;
        let domain = &domains.all[domain_index];
        let mx = &domain.mx[session.mx as usize];
        let mx_ip = session.ip;
        let message = messages[id as usize].as_ref().expect("live message");
        let rcpt = &message.rcpts[index];
        let host_name = &hosts[host].name;
        let instance = INSTANCES[message.instance as usize];
        let local_lmtp = segment == Segment::Local && domain.local_agent == LocalAgent::Lmtp;

        if agent.0 == b"smtp"
            && session.first
            && !no_relay
            && !matches!(form, Some(WithRelay) | Some(Refused))
            && rng.chance(0.45)
        {
            log.begin(time, host_name, &[instance, b"smtp"], Some(pid));
            log.push(
                [&b"Trusted"[..], b"Verified", b"Untrusted", b"Anonymous"][rng.below(4) as usize],
            );
            log.push(b" TLS connection established to ");
            log.push(mx.host.as_bytes());
            log.push(b"[");
            log.ip(mx_ip);
            log.push(b"]:25: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature ECDSA (P-256) server-digest SHA256");
            log.end();
        }

        log.begin(time, host_name, &[instance, agent.0], Some(pid));
        log.push(message.qid.as_bytes());
        log.push(b": to=<");
        log.push(rcpt.address.as_bytes());
        log.push(b">");
        if let Some(orig) = &rcpt.orig_to {
            log.push(b", orig_to=<");
            log.push(orig.as_bytes());
            log.push(b">");
        }
        log.push(b", relay=");
        scratch.clear();
        if no_relay {
            log.push(b"none");
        } else if segment == Segment::Local {
            match domain.local_agent {
                LocalAgent::Lmtp => {
                    scratch.extend_from_slice(b"mail.");
                    scratch.extend_from_slice(host_name);
                    scratch.extend_from_slice(b"[private/dovecot-lmtp]");
                    log.push(scratch);
                }
                LocalAgent::Virtual => log.push(b"virtual"),
                LocalAgent::Local => log.push(b"local"),
                LocalAgent::Pipe => log.push(b"dovecot"),
            }
        } else {
            log.push(mx.host.as_bytes());
            log.push(b"[");
            log.ip(mx_ip);
            log.push(b"]:25");
        }
        let lmtp_relay_len = scratch.len();
        let failed_connect: u32 =
            if form == Some(NoRelay) && reply.is_some_and(|r| r.text.starts_with("connect")) {
                30_000
            } else {
                0
            };
        let total_ms = ((time - message.arrival) / 1000).max(0) as u64;
        let tail_ms = u64::from(delays[0] + delays[1] + delays[2] + failed_connect);
        if !log.muted {
            log.buf.extend_from_slice(b", delay=");
            push_delay(&mut log.buf, total_ms + u64::from(failed_connect));
            log.buf.extend_from_slice(b", delays=");
            push_delay(
                &mut log.buf,
                total_ms.saturating_sub(tail_ms - u64::from(failed_connect)),
            );
            log.buf.push(b'/');
            push_delay(&mut log.buf, u64::from(delays[0]));
            log.buf.push(b'/');
            push_delay(
                &mut log.buf,
                if no_relay {
                    u64::from(failed_connect)
                } else {
                    u64::from(delays[1])
                },
            );
            log.buf.push(b'/');
            push_delay(
                &mut log.buf,
                if no_relay { 0 } else { u64::from(delays[2]) },
            );
        }
        log.push(b", dsn=");
        let sender_domain = domains.all[message.sender_domain as usize].name.as_bytes();
        let fill = Fill {
            rcpt: rcpt.address.as_bytes(),
            domain: domain.name.as_bytes(),
            sender_domain,
            our_ip: hosts[host].sending_ip,
            mx: mx.host.as_bytes(),
            mx_ip,
        };
        match reply {
            None => {
                log.push(b"2.0.0, status=sent (");
                if !log.muted {
                    if segment == Segment::Local {
                        match domain.local_agent {
                            LocalAgent::Lmtp => {
                                log.buf.extend_from_slice(b"250 2.0.0 <");
                                log.buf.extend_from_slice(rcpt.address.as_bytes());
                                log.buf.extend_from_slice(b"> ");
                                render("{t} Saved", &fill, rng, &mut log.buf);
                            }
                            LocalAgent::Virtual => {
                                log.buf.extend_from_slice(b"delivered to maildir")
                            }
                            LocalAgent::Local => log.buf.extend_from_slice(b"delivered to mailbox"),
                            LocalAgent::Pipe => {
                                log.buf.extend_from_slice(b"delivered via dovecot service")
                            }
                        }
                    } else {
                        let template = ok[rng.below(ok.len() as u64) as usize];
                        render(template, &fill, rng, &mut log.buf);
                    }
                }
                log.push(b")");
            }
            Some(reply) => {
                log.push(reply.dsn.as_bytes());
                log.push(if outcome == Outcome::Deferred {
                    b", status=deferred ("
                } else {
                    b", status=bounced ("
                });
                if !log.muted {
                    let buf = &mut log.buf;
                    let relay_name: &[u8] = if local_lmtp {
                        &scratch[..lmtp_relay_len]
                    } else {
                        &[]
                    };
                    match reply.form {
                        Said(_) | Refused if segment != Segment::Local || local_lmtp => {
                            buf.extend_from_slice(b"host ");
                            if local_lmtp {
                                buf.extend_from_slice(relay_name);
                            } else {
                                buf.extend_from_slice(mx.host.as_bytes());
                                buf.push(b'[');
                                push_ip(buf, mx_ip);
                                buf.push(b']');
                            }
                            if let Said(stage) = reply.form {
                                buf.extend_from_slice(b" said: ");
                                render(reply.text, &fill, rng, buf);
                                buf.extend_from_slice(b" (in reply to ");
                                buf.extend_from_slice(stage.as_bytes());
                                buf.extend_from_slice(b" command)");
                            } else {
                                buf.extend_from_slice(b" refused to talk to me: ");
                                render(reply.text, &fill, rng, buf);
                            }
                        }
                        _ if segment == Segment::Local => {
                            // virtual, local and pipe have no SMTP conversation.
                            if outcome == Outcome::Deferred {
                                buf.extend_from_slice(
                                    b"maildir delivery failed: Disk quota exceeded",
                                );
                            } else {
                                buf.extend_from_slice(b"unknown user: \"");
                                buf.extend_from_slice(rcpt.address.as_bytes());
                                buf.push(b'"');
                            }
                        }
                        _ => render(reply.text, &fill, rng, buf),
                    }
                }
                log.push(b")");
            }
        }
        if log.end() {
            let provider = if no_relay {
                if domain.consumer {
                    segment.mx_provider()
                } else {
                    "other"
                }
            } else {
                segment.mx_provider()
            };
            let mut counts = OutcomeCounts::default();
            match outcome {
                Outcome::Sent => counts.sent = 1,
                Outcome::Deferred => counts.deferred = 1,
                Outcome::Bounced => counts.bounced = 1,
            }
            let stats = &mut log.stats;
            stats.status_lines += counts;
            stats.attempts += counts;
            if message.kind == Kind::Notification {
                stats.bounce_message_attempts += counts;
            } else {
                let sender_domain = &domains.all[message.sender_domain as usize].name;
                *counts_for(&mut stats.by_sender_domain, sender_domain) += counts;
            }
            *counts_for(&mut stats.by_provider, provider) += counts;
            *counts_for(&mut stats.by_segment, segment.name()) += counts;
        }
        if outstanding == 0 {
            let at = time + self.ms(1, 60);
            self.schedule(at, Event::PassDone(id));
        }
    }

    fn pass_done(&mut self, time: i64, id: u32) {
        let lifetime = i64::from(self.cfg.queue_lifetime_secs) * 1_000_000;
        let message = self.msg(id);
        let waiting = message
            .rcpts
            .iter()
            .filter(|r| r.state == RcptState::Waiting)
            .count() as u64;
        let expired = waiting > 0 && time - message.arrival >= lifetime;
        let bounced = message.bounced_this_pass > 0 || expired;
        let host = message.host as usize;
        let instance = message.instance;
        let notify = bounced && !message.sender.is_empty();
        let qmgr_pid = self.hosts[host].qmgr_pids[instance as usize];
        let inst = INSTANCES[instance as usize];
        if expired {
            let Sim {
                log,
                messages,
                hosts,
                domains,
                ..
            } = self;
            let message = messages[id as usize].as_mut().expect("live message");
            log.begin(time, &hosts[host].name, &[inst, b"qmgr"], Some(qmgr_pid));
            log.push(message.qid.as_bytes());
            log.push(b": from=<");
            log.push(message.sender.as_bytes());
            log.push(b">, status=expired, returned to sender");
            if log.end() {
                log.stats.status_lines.expired += 1;
                log.stats.attempts.expired += 1;
                log.stats.expired_recipients += waiting;
                for rcpt in message
                    .rcpts
                    .iter()
                    .filter(|r| r.state == RcptState::Waiting)
                {
                    let segment = domains.all[rcpt.domain as usize].segment;
                    counts_for(&mut log.stats.by_segment, segment.name()).expired += 1;
                }
            }
            for rcpt in &mut message.rcpts {
                rcpt.state = RcptState::Done;
            }
        }
        if notify {
            self.bounce_message(time, id);
        }
        if expired || waiting == 0 {
            let Sim {
                log,
                messages,
                hosts,
                ..
            } = self;
            let message = messages[id as usize].as_ref().expect("live message");
            log.begin(time, &hosts[host].name, &[inst, b"qmgr"], Some(qmgr_pid));
            log.push(message.qid.as_bytes());
            log.push(b": removed");
            log.end();
            self.release(id);
        } else {
            // Postfix doubles the wait with the message's age, between the two back-off bounds,
            // and picks the message up on the next deferred-queue scan.
            let age = (time - self.msg(id).arrival) / 1_000_000;
            let backoff = age.clamp(
                i64::from(self.cfg.min_backoff_secs),
                i64::from(self.cfg.max_backoff_secs),
            );
            let at = time + backoff * 1_000_000 + self.rng.below(300_000_000) as i64;
            self.schedule(at, Event::Retry(id));
        }
    }

    /// Postfix's non-delivery notification: a new queue file from `<>` to the sender.
    fn bounce_message(&mut self, time: i64, id: u32) {
        let original = self.messages[id as usize].as_ref().expect("live message");
        let host = original.host as usize;
        let instance = original.instance;
        let sender = original.sender.clone();
        let sender_domain = original.sender_domain;
        let original_qid = original.qid;
        let original_size = original.size;
        let qid = self.hosts[host].new_qid(&mut self.rng, time);
        let cleanup_pid = self.hosts[host].pid(&mut self.rng, Daemon::Cleanup);
        let bounce_pid = self.hosts[host].pid(&mut self.rng, Daemon::Bounce);
        let fate = if self.rng.chance(0.03) {
            (Fate::DeferThenSent, 1)
        } else {
            (Fate::Sent, 0)
        };
        let rcpt = Rcpt {
            address: sender,
            domain: sender_domain,
            fate: fate.0,
            deferrals_left: fate.1,
            temp_reason: None,
            state: RcptState::Waiting,
            delays_ms: [0; 3],
            session: Session::default(),
            orig_to: None,
        };
        let inst = INSTANCES[instance as usize];
        let Sim { log, hosts, .. } = self;
        let host_name = &hosts[host].name;
        let mut message_id = Vec::with_capacity(48);
        let seconds = time.div_euclid(1_000_000);
        let (y, mo, d, h, mi, s) = super::civil(seconds);
        for (value, width) in [(y as u32, 4), (mo, 2), (d, 2), (h, 2), (mi, 2), (s, 2)] {
            super::push_padded(&mut message_id, value, width);
        }
        message_id.push(b'.');
        message_id.extend_from_slice(qid.as_bytes());
        message_id.push(b'@');
        message_id.extend_from_slice(host_name);
        message_id.extend_from_slice(b".example.net");
        log.begin(time, host_name, &[inst, b"cleanup"], Some(cleanup_pid));
        log.push(qid.as_bytes());
        log.push(b": message-id=<");
        log.push(&message_id);
        log.push(b">");
        log.end();
        log.begin(time, host_name, &[inst, b"bounce"], Some(bounce_pid));
        log.push(original_qid.as_bytes());
        log.push(b": sender non-delivery notification: ");
        log.push(qid.as_bytes());
        if log.end() {
            log.stats.bounce_messages += 1;
        }
        let notification = Message {
            host: host as u16,
            instance,
            qid,
            sender: String::new(),
            sender_domain,
            size: 2400 + original_size.min(60_000) / 4 + self.rng.below(1500) as u32,
            kind: Kind::Notification,
            origin: Origin::Pickup,
            arrival: time,
            message_id: String::from_utf8(message_id).unwrap_or_default(),
            client: (String::new(), [127, 0, 0, 1]),
            smtpd_pid: 0,
            nrcpt: 1,
            rcpts: vec![rcpt],
            filter: false,
            outstanding: 0,
            bounced_this_pass: 0,
            counted: false,
        };
        let new_id = self.store(notification);
        self.log_from(time, new_id);
        self.start_pass(time, new_id);
    }

    fn retry(&mut self, time: i64, id: u32) {
        self.log_from(time, id);
        self.start_pass(time, id);
    }

    fn noise(&mut self, time: i64, host_index: u16) {
        let mean_gap = 1_000_000.0 * self.hosts.len() as f64
            / (self.cfg.messages_per_second * self.cfg.noise_per_message.max(1e-6));
        let gap = self.rng.exponential(mean_gap) as i64 + 1;
        self.schedule(time + gap, Event::Noise(host_index));
        let host = host_index as usize;
        let postscreen_pid = self.hosts[host].pid(&mut self.rng, Daemon::Postscreen);
        let smtpd_pid = self.hosts[host].pid(&mut self.rng, Daemon::Smtpd);
        let smtp_pid = self.hosts[host].pid(&mut self.rng, Daemon::Smtp);
        let before = self.log.stats.lines;
        let Sim {
            log, hosts, rng, ..
        } = self;
        let host_name = &hosts[host].name;
        let our_ip = hosts[host].sending_ip;
        let client_ip = public_ip(rng);
        let port = rng.range(30_000, 65_000);
        let client_at = |log: &mut LogWriter| {
            log.push(b"[");
            log.ip(client_ip);
            log.push(b"]:");
            log.num(port);
        };
        match rng.below(100) {
            0..=34 => {
                let tag: &[&[u8]] = &[b"postfix", b"postscreen"];
                log.begin(time, host_name, tag, Some(postscreen_pid));
                log.push(b"CONNECT from ");
                client_at(log);
                log.push(b" to [");
                log.ip(our_ip);
                log.push(b"]:25");
                log.end();
                match rng.below(5) {
                    0 | 1 => {
                        log.begin(time, host_name, tag, Some(postscreen_pid));
                        log.push(b"PASS OLD ");
                        client_at(log);
                        log.end();
                    }
                    2 => {
                        log.begin(time, host_name, tag, Some(postscreen_pid));
                        log.push(b"DNSBL rank ");
                        log.num(rng.range(2, 6));
                        log.push(b" for ");
                        client_at(log);
                        log.end();
                        log.begin(time, host_name, tag, Some(postscreen_pid));
                        log.push(b"NOQUEUE: reject: RCPT from ");
                        client_at(log);
                        log.push(b": 550 5.7.1 Service unavailable; client [");
                        log.ip(client_ip);
                        log.push(b"] blocked using zen.spamhaus.org; from=<info@");
                        log.push(made_up_name(rng).as_bytes());
                        log.push(b">, to=<postmaster@");
                        log.push(host_name);
                        log.push(b".example.net>, proto=ESMTP, helo=<");
                        log.ip(client_ip);
                        log.push(b">");
                        log.end();
                    }
                    3 => {
                        log.begin(time, host_name, tag, Some(postscreen_pid));
                        log.push(b"PREGREET 11 after 0.");
                        log.num(rng.range(10, 99));
                        log.push(b" from ");
                        client_at(log);
                        log.push(b": EHLO User\\r\\n");
                        log.end();
                    }
                    _ => {
                        log.begin(time, host_name, tag, Some(postscreen_pid));
                        log.push(b"HANGUP after ");
                        log.num(rng.range(1, 9));
                        log.push(b".");
                        log.num(rng.range(1, 9));
                        log.push(b" from ");
                        client_at(log);
                        log.push(b" in tests after SMTP handshake");
                        log.end();
                    }
                }
                log.begin(time, host_name, tag, Some(postscreen_pid));
                log.push(b"DISCONNECT ");
                client_at(log);
                log.end();
            }
            35..=59 => {
                let tag: &[&[u8]] = &[b"postfix", b"smtpd"];
                log.begin(time, host_name, tag, Some(smtpd_pid));
                log.push(b"connect from unknown[");
                log.ip(client_ip);
                log.push(b"]");
                log.end();
                log.begin(time, host_name, tag, Some(smtpd_pid));
                match rng.below(4) {
                    0 => {
                        log.push(b"warning: unknown[");
                        log.ip(client_ip);
                        log.push(b"]: SASL LOGIN authentication failed: UGFzc3dvcmQ6");
                    }
                    1 => {
                        log.push(b"lost connection after AUTH from unknown[");
                        log.ip(client_ip);
                        log.push(b"]");
                    }
                    2 => {
                        log.push(b"NOQUEUE: reject: RCPT from unknown[");
                        log.ip(client_ip);
                        log.push(b"]: 454 4.7.1 <user@");
                        log.push(made_up_name(rng).as_bytes());
                        log.push(b">: Relay access denied; from=<spam@");
                        log.push(made_up_name(rng).as_bytes());
                        log.push(b"> to=<user@example.org> proto=ESMTP helo=<User>");
                    }
                    _ => {
                        log.push(b"improper command pipelining after CONNECT from unknown[");
                        log.ip(client_ip);
                        log.push(b"]: QUIT\\r\\n");
                    }
                }
                log.end();
                log.begin(time, host_name, tag, Some(smtpd_pid));
                log.push(b"disconnect from unknown[");
                log.ip(client_ip);
                log.push(b"] ehlo=1 auth=0/1 quit=1 commands=2/3");
                log.end();
            }
            60..=84 => {
                log.begin(time, host_name, &[b"dovecot"], None);
                let user = format!("{}.{}", rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES));
                match rng.below(3) {
                    0 => {
                        log.push(b"imap-login: Login: user=<");
                        log.push(user.as_bytes());
                        log.push(b">, method=PLAIN, rip=");
                        log.ip(client_ip);
                        log.push(b", lip=");
                        log.ip(our_ip);
                        log.push(b", mpid=");
                        log.num(rng.range(1000, 60_000));
                        log.push(b", TLS, session=<");
                        log.num(rng.next_u64() >> 20);
                        log.push(b">");
                    }
                    1 => {
                        log.push(b"imap(");
                        log.push(user.as_bytes());
                        log.push(b"): Logged out in=");
                        log.num(rng.range(100, 9000));
                        log.push(b" out=");
                        log.num(rng.range(500, 900_000));
                        log.push(b" deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0");
                    }
                    _ => {
                        log.push(
                            b"pop3-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<",
                        );
                        log.push(user.as_bytes());
                        log.push(b">, method=PLAIN, rip=");
                        log.ip(client_ip);
                        log.push(b", lip=");
                        log.ip(our_ip);
                        log.push(b", TLS, session=<");
                        log.num(rng.next_u64() >> 20);
                        log.push(b">");
                    }
                }
                log.end();
            }
            _ => {
                match rng.below(3) {
                    0 => {
                        log.begin(time, host_name, &[b"postfix", b"smtpd"], Some(smtpd_pid));
                        log.push(b"warning: hostname ");
                        log.push(made_up_name(rng).as_bytes());
                        log.push(b" does not resolve to address ");
                        log.ip(client_ip);
                        log.push(b": Name or service not known");
                    }
                    1 => {
                        log.begin(time, host_name, &[b"postfix-out", b"smtp"], Some(smtp_pid));
                        log.push(b"warning: TLS library problem: error:0A000126:SSL routines::unexpected eof while reading");
                    }
                    _ => {
                        log.begin(time, host_name, &[b"postfix", b"smtpd"], Some(smtpd_pid));
                        log.push(b"warning: non-SMTP command from unknown[");
                        log.ip(client_ip);
                        log.push(b"]: GET / HTTP/1.1");
                    }
                }
                log.end();
            }
        }
        let written = self.log.stats.lines - before;
        self.log.stats.noise_lines += written;
    }

    fn anvil(&mut self, time: i64, host_index: u16) {
        self.schedule(time + 600_000_000, Event::Anvil(host_index));
        let host = host_index as usize;
        let pid = self.hosts[host].pid(&mut self.rng, Daemon::Anvil);
        let before = self.log.stats.lines;
        let Sim {
            log, hosts, rng, ..
        } = self;
        let host_name = &hosts[host].name;
        let mut at = Vec::with_capacity(20);
        let (_, month, day, hour, minute, second) =
            super::civil(time / 1_000_000 - i64::from(rng.below(500) as u32));
        at.extend_from_slice(b" at ");
        at.extend_from_slice(super::MONTHS[month as usize - 1].as_bytes());
        at.push(b' ');
        if day < 10 {
            at.push(b' ');
        }
        push_u64(&mut at, u64::from(day));
        for (i, value) in [hour, minute, second].into_iter().enumerate() {
            at.push(if i == 0 { b' ' } else { b':' });
            super::push_padded(&mut at, value, 2);
        }
        let ip = public_ip(rng);
        let tag: &[&[u8]] = &[b"postfix", b"anvil"];
        log.begin(time, host_name, tag, Some(pid));
        log.push(b"statistics: max connection rate ");
        log.num(rng.range(1, 30));
        log.push(b"/60s for (smtpd:");
        log.ip(ip);
        log.push(b")");
        log.push(&at);
        log.end();
        log.begin(time, host_name, tag, Some(pid));
        log.push(b"statistics: max connection count ");
        log.num(rng.range(1, 8));
        log.push(b" for (smtpd:");
        log.ip(ip);
        log.push(b")");
        log.push(&at);
        log.end();
        log.begin(time, host_name, tag, Some(pid));
        log.push(b"statistics: max cache size ");
        log.num(rng.range(1, 40));
        log.push(&at);
        log.end();
        let written = self.log.stats.lines - before;
        self.log.stats.noise_lines += written;
    }
}

/// The counts under `key`, without allocating a key for every line.
fn counts_for<'m>(
    map: &'m mut std::collections::BTreeMap<String, OutcomeCounts>,
    key: &str,
) -> &'m mut OutcomeCounts {
    if !map.contains_key(key) {
        map.insert(key.to_owned(), OutcomeCounts::default());
    }
    map.get_mut(key).expect("just inserted")
}

fn pick_reply(rng: &mut SplitMix64, table: &[Reply]) -> u16 {
    let total: u64 = table.iter().map(|r| u64::from(r.weight)).sum();
    let mut roll = rng.below(total);
    for (i, reply) in table.iter().enumerate() {
        if roll < u64::from(reply.weight) {
            return i as u16;
        }
        roll -= u64::from(reply.weight);
    }
    (table.len() - 1) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_are_formatted_like_postfix() {
        let cases = [
            (0, "0"),
            (4, "0"),
            (90, "0.09"),
            (380, "0.38"),
            (100, "0.1"),
            (6_800, "6.8"),
            (2_000, "2"),
            (2_071_000, "2071"),
        ];
        for (millis, expected) in cases {
            let mut out = Vec::new();
            push_delay(&mut out, millis);
            assert_eq!(String::from_utf8(out).unwrap(), expected, "{millis} ms");
        }
    }

    #[test]
    fn queue_ids_have_both_shapes() {
        let mut rng = SplitMix64::new(1);
        let mut short = Host::new(&mut rng, "a", 0, false);
        let mut long = Host::new(&mut rng, "b", 1, true);
        for _ in 0..1000 {
            let id = short.new_qid(&mut rng, 1_749_536_850_123_456);
            assert!((10..=12).contains(&id.as_bytes().len()), "{:?}", id);
            assert!(
                id.as_bytes()
                    .iter()
                    .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_lowercase())
            );
            let id = long.new_qid(&mut rng, 1_749_536_850_123_456);
            assert!((14..=15).contains(&id.as_bytes().len()), "{:?}", id);
            assert_eq!(id.as_bytes()[10], b'z');
        }
    }

    #[test]
    fn every_template_placeholder_is_known() {
        let tables: [&[Reply]; 10] = [
            GOOGLE_TEMP,
            GOOGLE_PERM,
            MICROSOFT_TEMP,
            MICROSOFT_PERM,
            YAHOO_TEMP,
            YAHOO_PERM,
            APPLE_TEMP,
            APPLE_PERM,
            GENERIC_TEMP,
            GENERIC_PERM,
        ];
        for table in tables {
            for reply in table {
                let mut rest = reply.text;
                while let Some(open) = rest.find('{') {
                    assert_eq!(&rest[open + 2..open + 3], "}", "{}", reply.text);
                    assert!(
                        "rdsihptTnmqx".contains(&rest[open + 1..open + 2]),
                        "{}",
                        reply.text
                    );
                    rest = &rest[open + 3..];
                }
                let class = if reply.dsn.starts_with('4') { '4' } else { '5' };
                assert!(table.iter().all(|r| r.dsn.starts_with(class)));
            }
        }
    }
}
