//! A synthetic Exim `mainlog`: arrivals, deliveries over shared connections, deferrals and
//! retries, permanent failures, retry timeouts, the bounce messages Exim generates, and the
//! connection and queue-runner chatter around them.
//!
//! Like the Postfix generator, this is a small discrete-event simulation: messages arrive as a
//! Poisson process, each recipient is given a fate up front (delivered, failed, deferred then
//! delivered or failed, or deferred until the retry timeout), and every step is an event in a
//! time-ordered heap, so lines come out in time order. The simulation starts a warm-up before
//! the log's first line and writes nothing of it, so the log opens on a queue already holding
//! the retries of earlier mail, as a rotated log does, and its mix of outcomes is the same
//! from its first hour to its last. It stops as soon as the size target is reached, leaving
//! messages in flight.
//!
//! Options cover what differs between real mainlogs: the 16-character message ids of Exim
//! before 4.97 and the 23-character ids after it (or both, as after an upgrade),
//! `log_selector = +pid`, millisecond timestamps (`+millisec`) and `log_timezone` offsets.
//!
//! Reply texts are our own words modelled on the codes the providers document; addresses and
//! domains other than the big consumer providers' are made up from syllables.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};

use super::{GenStats, OutcomeCounts, SplitMix64, civil, push_padded, push_u64};
use crate::classify::Provider;

/// Which message-id form the log uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EximIds {
    /// `1jmFYj-00039V-QX` (Exim before 4.97).
    Short,
    /// `1tixMn-00000000C5j-1wRa` (Exim 4.97 and later).
    Long,
    /// Short ids for the first half of the log, long ones after: an upgrade mid-file.
    #[default]
    Upgrade,
}

/// What to generate. Build one with `EximConfig { seed: 7, ..Default::default() }`.
#[derive(Debug, Clone)]
pub struct EximConfig {
    pub seed: u64,
    /// Stop once this many bytes are written; the last line is whole.
    pub target_bytes: Option<u64>,
    /// Stop after exactly this many lines. With both targets, the first reached wins.
    pub target_lines: Option<u64>,
    /// Time of the first line.
    pub start: jiff::Timestamp,
    /// New messages per second.
    pub messages_per_second: f64,
    /// Local time = UTC + this.
    pub utc_offset_seconds: i32,
    /// Write the offset after the time (`log_timezone = true`).
    pub log_timezone: bool,
    /// Write the process id (`log_selector = +pid`).
    pub pid: bool,
    /// Write milliseconds (`log_selector = +millisec`).
    pub milliseconds: bool,
    pub ids: EximIds,
    /// Noise events (SMTP connections, rejected RCPTs, queue runs, TLS errors) per message.
    pub noise_per_message: f64,
    /// Exim's retry timeout: deferred this long, a recipient fails with `retry timeout
    /// exceeded`. Much shorter than the usual 4 days so that a log of a few hours holds
    /// expiries and an expiring recipient logs a handful of deferrals.
    pub retry_timeout_secs: u32,
    pub min_backoff_secs: u32,
    pub max_backoff_secs: u32,
    /// Number of small domains in the long tail of recipient domains.
    pub small_domains: u32,
}

impl Default for EximConfig {
    fn default() -> Self {
        EximConfig {
            seed: 42,
            target_bytes: None,
            target_lines: Some(100_000),
            start: jiff::Timestamp::from_second(1_749_536_850).expect("valid constant"),
            messages_per_second: 40.0,
            utc_offset_seconds: 0,
            log_timezone: false,
            pid: true,
            milliseconds: false,
            ids: EximIds::Upgrade,
            noise_per_message: 0.5,
            retry_timeout_secs: 3600,
            min_backoff_secs: 300,
            max_backoff_secs: 1200,
            small_domains: 3000,
        }
    }
}

/// Writes a synthetic Exim mainlog to `out` and returns its ground truth.
///
/// The ground truth counts lines by flag: `status_lines.sent` the `=>` and `->` lines,
/// `deferred` the `==` lines, `bounced` the `**` lines except retry timeouts, which are
/// `expired` (a reader counts them as expiries, like Postfix's). No line is a content-filter
/// hand-off. The log opens on a queue of retries: those of messages that arrived before its
/// first line have no `<=` line in it, so a reader knows no sender for them, and
/// `by_sender_domain` counts them under the empty domain (bounce messages among them too, as
/// nothing in the log marks them). Every other delivery line comes after its message's `<=`.
///
/// # Errors
/// `InvalidInput` when no size target is given or a rate is not positive; otherwise whatever
/// writing to `out` returns.
pub fn generate_exim(cfg: &EximConfig, mut out: impl Write) -> io::Result<GenStats> {
    if cfg.target_bytes.is_none() && cfg.target_lines.is_none() {
        return Err(invalid("give a target size in bytes or lines"));
    }
    if cfg.messages_per_second.is_nan()
        || cfg.messages_per_second <= 0.0
        || cfg.noise_per_message.is_nan()
        || cfg.noise_per_message < 0.0
    {
        return Err(invalid("rates must be positive"));
    }
    if cfg.min_backoff_secs == 0 || cfg.max_backoff_secs < cfg.min_backoff_secs {
        return Err(invalid("backoffs must be positive and ordered"));
    }
    let mut sim = Sim::new(cfg);
    sim.run(&mut out)?;
    out.flush()?;
    Ok(sim.stats)
}

/// How long before the log's first line the simulation starts: long enough for every
/// recipient still queued at the first line to have arrived (one deferred until the retry
/// timeout, or one deferred the most times at the longest back-off).
fn warm_up_micros(cfg: &EximConfig) -> i64 {
    let longest = u64::from(cfg.retry_timeout_secs)
        .max(u64::from(MAX_DEFERRALS) * u64::from(cfg.max_backoff_secs))
        + 120;
    longest as i64 * US
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Providers, domains and reply texts
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Segment {
    Gmail,
    GoogleWorkspace,
    Microsoft,
    Microsoft365,
    Yahoo,
    Apple,
    Small,
}

impl Segment {
    fn name(self) -> &'static str {
        match self {
            Segment::Gmail => "gmail",
            Segment::GoogleWorkspace => "google_workspace",
            Segment::Microsoft => "microsoft_consumer",
            Segment::Microsoft365 => "microsoft_365",
            Segment::Yahoo => "yahoo_aol",
            Segment::Apple => "apple",
            Segment::Small => "small",
        }
    }
}

const SEGMENT_SHARES: &[(u32, Segment)] = &[
    (36, Segment::Gmail),
    (6, Segment::GoogleWorkspace),
    (14, Segment::Microsoft),
    (9, Segment::Microsoft365),
    (11, Segment::Yahoo),
    (6, Segment::Apple),
    (18, Segment::Small),
];

/// A reply and the SMTP stage it answers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Reply {
    pub(super) text: &'static str,
    stage: Stage,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Greeting,
    MailFrom,
    RcptTo,
    Data,
    EndOfData,
}

const fn r(stage: Stage, text: &'static str) -> Reply {
    Reply { text, stage }
}

const GOOGLE_TEMP: &[Reply] = &[
    r(
        Stage::EndOfData,
        "421-4.7.28 Our system has seen an unusual rate of mail from your IP address; please\\n421 4.7.28 try again later and read the bulk sender rules. q3si - gsmtp",
    ),
    r(
        Stage::RcptTo,
        "450-4.2.1 The user you are writing to receives mail faster than we accept it.\\n450 4.2.1 Please resend later. q3si - gsmtp",
    ),
];
const GOOGLE_PERM: &[Reply] = &[
    r(
        Stage::RcptTo,
        "550-5.1.1 The mailbox you wrote to does not exist. Check the spelling of the\\n550 5.1.1 recipient's address. q3si - gsmtp",
    ),
    r(
        Stage::EndOfData,
        "550-5.7.26 This message fails the sending domain's DMARC policy and is refused.\\n550 5.7.26 Authenticate your mail with SPF and DKIM. q3si - gsmtp",
    ),
    r(
        Stage::RcptTo,
        "552-5.2.2 The recipient's mailbox is full and takes no more mail.\\n552 5.2.2 q3si - gsmtp",
    ),
];
const GOOGLE_OK: &[&str] = &["250 2.0.0 OK  1749536851 q3si2001 - gsmtp"];

const MICROSOFT_TEMP: &[Reply] = &[
    r(
        Stage::MailFrom,
        "451 4.7.650 Mail from this IP is rate limited for now because of its reputation; retry later",
    ),
    r(
        Stage::RcptTo,
        "452 4.3.1 Insufficient system resources right now, try again",
    ),
];
const MICROSOFT_PERM: &[Reply] = &[
    r(
        Stage::RcptTo,
        "550 5.5.0 Requested action not taken: mailbox unavailable",
    ),
    r(
        Stage::RcptTo,
        "550 5.1.10 Recipient not found by address lookup",
    ),
    r(
        Stage::MailFrom,
        "550 5.7.1 Service unavailable, the client IP is on our block list",
    ),
];
const MICROSOFT_OK: &[&str] = &["250 2.6.0 <queued@mail.protection> Queued mail for delivery"];

const YAHOO_TEMP: &[Reply] = &[
    r(
        Stage::MailFrom,
        "421 4.7.0 [TSS04] Messages from this IP are deferred because of unexpected volume or user complaints",
    ),
    r(Stage::EndOfData, "451 4.3.2 Please try again later"),
];
const YAHOO_PERM: &[Reply] = &[
    r(
        Stage::RcptTo,
        "554 5.7.9 Message not accepted for policy reasons",
    ),
    r(
        Stage::RcptTo,
        "552 1 Requested mail action aborted, mailbox not found",
    ),
];
const YAHOO_OK: &[&str] = &["250 ok dirdel"];

const APPLE_TEMP: &[Reply] = &[r(
    Stage::RcptTo,
    "450 4.2.1 The recipient's account is over its storage limit, try later",
)];
const APPLE_PERM: &[Reply] = &[r(Stage::RcptTo, "550 5.1.1 unknown or illegal alias")];
const APPLE_OK: &[&str] = &["250 2.0.0 Ok: queued as 4Q1W2e3R5tz"];

const SMALL_TEMP: &[Reply] = &[
    r(
        Stage::RcptTo,
        "451 4.7.1 Greylisted, please try again in a few minutes",
    ),
    r(Stage::RcptTo, "452 4.2.2 Mailbox full, try again later"),
    r(
        Stage::Greeting,
        "421 4.3.2 Too many connections from your host, try later",
    ),
];
const SMALL_PERM: &[Reply] = &[
    r(
        Stage::RcptTo,
        "550 5.1.1 Recipient address rejected: User unknown in local recipient table",
    ),
    r(
        Stage::RcptTo,
        "554 5.7.1 Service unavailable; client host listed on a DNS block list",
    ),
    r(Stage::Data, "554 5.7.1 Transaction refused by local policy"),
    r(Stage::EndOfData, "552 5.3.4 Message size exceeds the limit"),
];
const SMALL_OK: &[&str] = &[
    "250 2.0.0 Ok: queued as 3F2A91C0B",
    "250 OK id=1tKq8v-0003Xy-2b",
];

/// A segment's replies: temporary failures, permanent failures, and acceptances.
pub(super) fn replies(
    segment: Segment,
) -> (&'static [Reply], &'static [Reply], &'static [&'static str]) {
    match segment {
        Segment::Gmail | Segment::GoogleWorkspace => (GOOGLE_TEMP, GOOGLE_PERM, GOOGLE_OK),
        Segment::Microsoft | Segment::Microsoft365 => {
            (MICROSOFT_TEMP, MICROSOFT_PERM, MICROSOFT_OK)
        }
        Segment::Yahoo => (YAHOO_TEMP, YAHOO_PERM, YAHOO_OK),
        Segment::Apple => (APPLE_TEMP, APPLE_PERM, APPLE_OK),
        Segment::Small => (SMALL_TEMP, SMALL_PERM, SMALL_OK),
    }
}

const SYLLABLES: &[&str] = &[
    "ka", "ro", "mi", "ten", "lo", "sa", "vi", "dor", "el", "an", "bri", "co", "tal", "nu", "pe",
    "zen", "ma", "ri", "ost", "har", "wen", "li", "gro", "fa", "mon", "ta", "qui", "bel", "sun",
    "vo",
];
const TLDS: &[&str] = &[
    "com", "net", "org", "de", "fr", "nl", "co.uk", "io", "it", "es",
];
const FIRST_NAMES: &[&str] = &[
    "anna", "ben", "clara", "david", "emma", "felix", "grace", "hugo", "ines", "jonas", "karin",
    "leo", "maria", "nils", "olga", "paul", "rosa", "sam", "tina", "umar", "vera", "will",
];
const SENDER_ROLES: &[&str] = &["news", "noreply", "billing", "support", "orders", "hello"];
const SUBJECTS: &[&str] = &[
    "Your order has shipped",
    "Invoice \\\"March\\\" attached",
    "Weekly digest: 5 new => posts",
    "Password reset",
    "Re: meeting ** notes == draft",
];

fn made_up_domain(rng: &mut SplitMix64) -> String {
    let mut name = String::new();
    for _ in 0..rng.range(2, 3) {
        let syllable: &&str = rng.pick(SYLLABLES);
        name.push_str(syllable);
    }
    name.push('.');
    let tld: &&str = rng.pick(TLDS);
    name.push_str(tld);
    name
}

/// One recipient domain with its MX host and address block.
#[derive(Debug, Clone)]
pub(super) struct Domain {
    pub(super) name: String,
    pub(super) segment: Segment,
    mx: Vec<String>,
    pub(super) ip_prefix: &'static str,
    /// The provider a reader derives from a line with `H=` (the MX decides) and from one
    /// without (only the recipient domain is known).
    provider: &'static str,
    provider_without_host: &'static str,
}

fn domain(name: &str, segment: Segment, mx: &[String], ip_prefix: &'static str) -> Domain {
    let provider = Provider::detect(Some(mx[0].as_bytes()), Some(name.as_bytes())).as_str();
    let provider_without_host = Provider::detect(None, Some(name.as_bytes())).as_str();
    Domain {
        name: name.to_owned(),
        segment,
        mx: mx.to_vec(),
        ip_prefix,
        provider,
        provider_without_host,
    }
}

/// Appends an address of the block `prefix` (`142.250.102.` or `52.101.`): `last` is its
/// last byte, and a block of two bytes gets a third from it too.
pub(super) fn push_ip(buf: &mut Vec<u8>, prefix: &str, last: u64) {
    buf.extend_from_slice(prefix.as_bytes());
    if prefix.matches('.').count() < 3 {
        push_u64(buf, last % 16);
        buf.push(b'.');
    }
    push_u64(buf, last % 256);
}

/// A recipient domain drawn with the segments' shares: the indices into `domains` (as
/// [`domains`] made it) of its segment and of the domain in it.
pub(super) fn pick_domain(rng: &mut SplitMix64, domains: &[Vec<Domain>]) -> (usize, usize) {
    let segment = rng.pick_weighted(SEGMENT_SHARES);
    let s = SEGMENT_SHARES
        .iter()
        .position(|(_, x)| x == segment)
        .expect("segment is in the table");
    (s, rng.below(domains[s].len() as u64) as usize)
}

/// The local part of a made-up person's address: `maria.ten42`.
pub(super) fn local_part(rng: &mut SplitMix64) -> String {
    format!(
        "{}.{}{}",
        rng.pick(FIRST_NAMES),
        rng.pick(SYLLABLES),
        rng.below(100)
    )
}

/// The recipient domains of each segment of [`SEGMENT_SHARES`], in its order: the providers'
/// own domains and MX hosts, then `small` made-up small domains. The ESP generators draw
/// their recipients from these too.
pub(super) fn domains(rng: &mut SplitMix64, small: u32) -> Vec<Vec<Domain>> {
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let google = s(&[
        "gmail-smtp-in.l.google.com",
        "alt1.gmail-smtp-in.l.google.com",
    ]);
    let yahoo = s(&[
        "mta5.am0.yahoodns.net",
        "mta6.am0.yahoodns.net",
        "mta7.am0.yahoodns.net",
    ]);
    let apple = s(&["mx01.mail.icloud.com", "mx02.mail.icloud.com"]);
    let mut out = Vec::new();
    for &(_, segment) in SEGMENT_SHARES {
        let list = match segment {
            Segment::Gmail => vec![
                domain("gmail.com", segment, &google, "142.250.102."),
                domain("googlemail.com", segment, &google, "142.250.102."),
            ],
            Segment::GoogleWorkspace => (0..40)
                .map(|_| {
                    let name = made_up_domain(rng);
                    domain(&name, segment, &s(&["aspmx.l.google.com"]), "142.250.27.")
                })
                .collect(),
            Segment::Microsoft => ["outlook.com", "hotmail.com", "live.com", "hotmail.fr"]
                .iter()
                .map(|name| {
                    let mx = format!("{}.olc.protection.outlook.com", name.replace('.', "-"));
                    domain(name, segment, &[mx], "52.101.")
                })
                .collect(),
            Segment::Microsoft365 => (0..60)
                .map(|_| {
                    let name = made_up_domain(rng);
                    let mx = format!("{}.mail.protection.outlook.com", name.replace('.', "-"));
                    domain(&name, segment, &[mx], "52.101.")
                })
                .collect(),
            Segment::Yahoo => ["yahoo.com", "aol.com", "ymail.com", "yahoo.co.uk"]
                .iter()
                .map(|name| domain(name, segment, &yahoo, "67.195.204."))
                .collect(),
            Segment::Apple => ["icloud.com", "me.com", "mac.com"]
                .iter()
                .map(|name| domain(name, segment, &apple, "17.57.154."))
                .collect(),
            Segment::Small => (0..small.max(1))
                .map(|_| {
                    let name = made_up_domain(rng);
                    let mx = if rng.chance(0.5) {
                        format!("mx.{name}")
                    } else {
                        format!("mail.{name}")
                    };
                    domain(&name, segment, &[mx], "203.0.113.")
                })
                .collect(),
        };
        out.push(list);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// The simulation
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Delivered,
    Failed,
    DeferredThenDelivered(u32),
    DeferredThenFailed(u32),
    /// Deferred until the retry timeout, then `** ...: retry timeout exceeded`.
    TimedOut,
    /// The domain does not exist: `** addr : Unrouteable address` at once.
    Unrouteable,
}

impl Fate {
    /// Whether the recipient is deferred at least once, so may still be queued long after
    /// its message arrived.
    fn retries(self) -> bool {
        matches!(
            self,
            Fate::DeferredThenDelivered(_) | Fate::DeferredThenFailed(_) | Fate::TimedOut
        )
    }
}

/// The most deferrals a recipient deferred then delivered or failed goes through.
const MAX_DEFERRALS: u32 = 3;

/// Recipient shares of the fates other than delivered, tuned so that attempts come out near
/// 85% delivered, 8% deferred and 5% failed, as in the Postfix generator: a deferred
/// recipient is deferred one to three times, one timed out about five times, and each
/// failure sends a bounce message, whose delivery is an attempt too.
const SHARE_FAILED: f64 = 0.045;
const SHARE_DEFERRED_THEN_DELIVERED: f64 = 0.03;
const SHARE_DEFERRED_THEN_FAILED: f64 = 0.005;
const SHARE_TIMED_OUT: f64 = 0.005;
const SHARE_UNROUTEABLE: f64 = 0.015;

/// The share of messages with at least one recipient that retries, for the one to three
/// recipients of `Sim::pick_fates` (7 in 10 have one, 2 two, 1 three).
fn retrying_message_share() -> f64 {
    let p = SHARE_DEFERRED_THEN_DELIVERED + SHARE_DEFERRED_THEN_FAILED + SHARE_TIMED_OUT;
    [(0.7, 1), (0.2, 2), (0.1, 3)]
        .iter()
        .map(|&(weight, n)| weight * (1.0 - (1.0 - p).powi(n)))
        .sum()
}

/// What a reader of the log can know of the message an attempt belongs to.
#[derive(Debug, Clone, Copy)]
enum Seen<'a> {
    /// Our sender's mail, from this domain (the `<=` line is in the log).
    Sender(&'a str),
    /// A bounce message (`<= <>` is in the log).
    BounceMessage,
    /// The message arrived before the log starts: its `<=` line is not in the log.
    Unknown,
}

#[derive(Debug, Clone)]
struct Recipient {
    address: String,
    /// Index into the segment's domain list, or `usize::MAX` for an unroutable domain.
    domain: (usize, usize),
    fate: Fate,
    deferrals: u32,
    done: bool,
    /// How it ended: true if it failed (a bounce message is due).
    failed: bool,
    /// The deferral reply or connection failure, the same on every retry.
    temp: Option<Reply>,
    connect_failure: bool,
}

#[derive(Debug, Clone)]
struct Message {
    id: Vec<u8>,
    serial: u64,
    /// Empty for a bounce message.
    sender: String,
    sender_domain: String,
    size: u64,
    arrived: i64,
    recipients: Vec<Recipient>,
    open: usize,
    /// Whether its `<=` line is in the log (it arrived after the warm-up).
    logged: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Arrival,
    Noise,
    /// Delivery attempt for one recipient of a message (slot index).
    Attempt {
        message: usize,
        recipient: usize,
    },
}

struct Sim<'c> {
    cfg: &'c EximConfig,
    rng: SplitMix64,
    heap: BinaryHeap<Reverse<(i64, u64, Event)>>,
    seq: u64,
    messages: Vec<Option<Message>>,
    free: Vec<usize>,
    domains: Vec<Vec<Domain>>,
    sender_domains: Vec<String>,
    unroutable: Vec<String>,
    stats: GenStats,
    buf: Vec<u8>,
    id_counter: u64,
    long_ids: bool,
    /// The last delivery written (message slot, domain): a `->` continues it.
    last_delivery: Option<(u64, (usize, usize), i64)>,
    cached_second: i64,
    cached_stamp: Vec<u8>,
    done: bool,
    /// The time of the log's first line (Unix microseconds).
    start: i64,
    /// Whether the event being simulated is in the warm-up: its lines are dropped, and the
    /// ground truth does not count them.
    warming: bool,
}

const US: i64 = 1_000_000;

/// The recipient "domain" of a bounce message: the sender's own, on its own mail host.
const OWN_DOMAIN: usize = usize::MAX - 1;

impl<'c> Sim<'c> {
    fn new(cfg: &'c EximConfig) -> Sim<'c> {
        let mut rng = SplitMix64::new(cfg.seed);
        let domains = domains(&mut rng, cfg.small_domains);
        let sender_domains = (0..24).map(|_| made_up_domain(&mut rng)).collect();
        let unroutable = (0..200).map(|_| made_up_domain(&mut rng)).collect();
        let start = cfg.start.as_microsecond();
        let mut sim = Sim {
            cfg,
            rng,
            heap: BinaryHeap::new(),
            seq: 0,
            messages: Vec::new(),
            free: Vec::new(),
            domains,
            sender_domains,
            unroutable,
            stats: GenStats::default(),
            buf: Vec::with_capacity(1 << 20),
            id_counter: 0,
            long_ids: cfg.ids == EximIds::Long,
            last_delivery: None,
            cached_second: i64::MIN,
            cached_stamp: Vec::new(),
            done: false,
            start,
            warming: false,
        };
        sim.schedule(start - warm_up_micros(cfg), Event::Arrival);
        if cfg.noise_per_message > 0.0 {
            sim.schedule(start, Event::Noise);
        }
        sim
    }

    fn schedule(&mut self, at: i64, event: Event) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, event)));
    }

    fn run(&mut self, out: &mut impl Write) -> io::Result<()> {
        while !self.done {
            let Some(Reverse((now, _, event))) = self.heap.pop() else {
                break;
            };
            self.warming = now < self.start;
            match event {
                Event::Arrival => {
                    self.arrival(now);
                    let thinning = if self.warming {
                        retrying_message_share()
                    } else {
                        1.0
                    };
                    let rate = self.cfg.messages_per_second * thinning;
                    let gap = self.rng.exponential(1.0 / rate);
                    let mut next = now + (gap * US as f64) as i64 + 1;
                    if self.warming {
                        next = next.min(self.start);
                    }
                    self.schedule(next, Event::Arrival);
                }
                Event::Noise => {
                    self.noise(now);
                    let rate = self.cfg.noise_per_message * self.cfg.messages_per_second;
                    let gap = self.rng.exponential(1.0 / rate);
                    self.schedule(now + (gap * US as f64) as i64 + 1, Event::Noise);
                }
                Event::Attempt { message, recipient } => self.attempt(now, message, recipient),
            }
            if self.buf.len() >= 1 << 20 {
                out.write_all(&self.buf)?;
                self.buf.clear();
            }
        }
        out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    // -- line writing ---------------------------------------------------------------------

    /// Starts a line: timestamp, optional offset and pid.
    fn begin(&mut self, micros: i64, pid: u32) {
        let offset = i64::from(self.cfg.utc_offset_seconds);
        let second = micros.div_euclid(US);
        if second != self.cached_second {
            self.cached_second = second;
            let (year, month, day, hour, minute, sec) = civil(second + offset);
            let s = &mut self.cached_stamp;
            s.clear();
            push_padded(s, year as u32, 4);
            s.push(b'-');
            push_padded(s, month, 2);
            s.push(b'-');
            push_padded(s, day, 2);
            s.push(b' ');
            push_padded(s, hour, 2);
            s.push(b':');
            push_padded(s, minute, 2);
            s.push(b':');
            push_padded(s, sec, 2);
        }
        self.buf.extend_from_slice(&self.cached_stamp);
        if self.cfg.milliseconds {
            self.buf.push(b'.');
            push_padded(&mut self.buf, (micros.rem_euclid(US) / 1000) as u32, 3);
        }
        if self.cfg.log_timezone {
            let minutes = self.cfg.utc_offset_seconds / 60;
            self.buf.push(b' ');
            self.buf.push(if minutes < 0 { b'-' } else { b'+' });
            let minutes = minutes.unsigned_abs();
            push_padded(&mut self.buf, minutes / 60, 2);
            push_padded(&mut self.buf, minutes % 60, 2);
        }
        if self.cfg.pid {
            self.buf.extend_from_slice(b" [");
            push_u64(&mut self.buf, u64::from(pid));
            self.buf.push(b']');
        }
        self.buf.push(b' ');
    }

    fn end(&mut self, micros: i64, line_start: usize) {
        if self.warming {
            self.buf.truncate(line_start);
            return;
        }
        self.buf.push(b'\n');
        let len = (self.buf.len() - line_start) as u64;
        let stats = &mut self.stats;
        if stats.lines == 0 {
            stats.first_line_micros = micros;
        }
        stats.last_line_micros = micros;
        stats.lines += 1;
        stats.bytes += len;
        if self.cfg.target_lines.is_some_and(|t| stats.lines >= t)
            || self.cfg.target_bytes.is_some_and(|t| stats.bytes >= t)
        {
            self.done = true;
        }
        if self.cfg.ids == EximIds::Upgrade && !self.long_ids {
            let half_lines = self.cfg.target_lines.is_some_and(|t| stats.lines * 2 >= t);
            let half_bytes = self.cfg.target_bytes.is_some_and(|t| stats.bytes * 2 >= t);
            self.long_ids = half_lines || half_bytes;
        }
    }

    fn push(&mut self, text: &str) {
        self.buf.extend_from_slice(text.as_bytes());
    }

    fn pid(&mut self) -> u32 {
        1000 + self.rng.below(60_000) as u32
    }

    /// A fresh message id: base-62 time, then a unique counter where Exim has the pid, then
    /// the sub-second part.
    fn new_id(&mut self, micros: i64) -> Vec<u8> {
        const DIGITS: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let base62 = |mut n: u64, width: usize, out: &mut Vec<u8>| {
            let start = out.len();
            for _ in 0..width {
                out.push(DIGITS[(n % 62) as usize]);
                n /= 62;
            }
            out[start..].reverse();
        };
        self.id_counter += 1;
        let mut id = Vec::with_capacity(23);
        let (pid_width, frac_width) = if self.long_ids { (11, 4) } else { (6, 2) };
        base62(micros.div_euclid(US) as u64, 6, &mut id);
        id.push(b'-');
        base62(1000 + self.id_counter, pid_width, &mut id);
        id.push(b'-');
        base62(micros.rem_euclid(US) as u64 / 1000, frac_width, &mut id);
        id
    }

    fn store(&mut self, message: Message) -> usize {
        match self.free.pop() {
            Some(slot) => {
                self.messages[slot] = Some(message);
                slot
            }
            None => {
                self.messages.push(Some(message));
                self.messages.len() - 1
            }
        }
    }

    // -- events ---------------------------------------------------------------------------

    fn pick_fate(&mut self) -> Fate {
        let mut roll = self.rng.unit();
        let max_deferrals = 1 + self.rng.below(u64::from(MAX_DEFERRALS)) as u32;
        let mut share = |p: f64| {
            roll -= p;
            roll < 0.0
        };
        if share(SHARE_FAILED) {
            Fate::Failed
        } else if share(SHARE_DEFERRED_THEN_DELIVERED) {
            Fate::DeferredThenDelivered(max_deferrals)
        } else if share(SHARE_DEFERRED_THEN_FAILED) {
            Fate::DeferredThenFailed(max_deferrals)
        } else if share(SHARE_TIMED_OUT) {
            Fate::TimedOut
        } else if share(SHARE_UNROUTEABLE) {
            Fate::Unrouteable
        } else {
            Fate::Delivered
        }
    }

    /// A message's recipients' fates: one to three recipients.
    fn pick_fates(&mut self) -> Vec<Fate> {
        let count = match self.rng.below(10) {
            0..=6 => 1,
            7 | 8 => 2,
            _ => 3,
        };
        (0..count).map(|_| self.pick_fate()).collect()
    }

    fn arrival(&mut self, now: i64) {
        let mut fates = self.pick_fates();
        if self.warming {
            // Before the log starts, only mail that will still be queued then matters: such
            // messages arrive at their own thinned rate (see `run`) and are drawn here by
            // rejection; of their recipients, those that never retry are gone by then.
            while !fates.iter().any(|fate| fate.retries()) {
                fates = self.pick_fates();
            }
            fates.retain(|fate| fate.retries());
        }
        let count = fates.len();
        let sender_domain = self.rng.pick(&self.sender_domains).clone();
        let sender = if self.rng.chance(0.7) {
            format!("{}@{sender_domain}", self.rng.pick(SENDER_ROLES))
        } else {
            format!("{}@{sender_domain}", self.rng.pick(FIRST_NAMES))
        };
        let mut recipients = Vec::with_capacity(count);
        for fate in fates {
            let (address, domain) = if fate == Fate::Unrouteable {
                let name = self.rng.pick(&self.unroutable).clone();
                (
                    format!("{}@{name}", self.rng.pick(FIRST_NAMES)),
                    (usize::MAX, 0),
                )
            } else {
                let (s, d) = pick_domain(&mut self.rng, &self.domains);
                let local = local_part(&mut self.rng);
                (format!("{local}@{}", self.domains[s][d].name), (s, d))
            };
            recipients.push(Recipient {
                address,
                domain,
                fate,
                deferrals: 0,
                done: false,
                failed: false,
                temp: None,
                connect_failure: false,
            });
        }
        let size = 2_000 + self.rng.below(80_000);
        let id = self.new_id(now);
        let message = Message {
            id,
            serial: self.id_counter,
            sender,
            sender_domain,
            size,
            arrived: now,
            recipients,
            open: count,
            logged: !self.warming,
        };
        let line = self.buf.len();
        let pid = self.pid();
        self.begin(now, pid);
        self.buf.extend_from_slice(&message.id);
        self.push(" <= ");
        self.push(&message.sender);
        let client = self.rng.below(250) + 2;
        self.push(" H=app");
        push_u64(&mut self.buf, client % 4 + 1);
        self.push(".");
        self.push(&message.sender_domain);
        self.push(" [198.51.100.");
        push_u64(&mut self.buf, client);
        self.push("]:");
        push_u64(&mut self.buf, 30_000 + self.rng.below(30_000));
        self.push(" I=[192.0.2.25]:587 P=esmtpsa X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=no A=dovecot_plain:");
        self.push(&message.sender.clone());
        self.push(" S=");
        push_u64(&mut self.buf, message.size);
        self.push(" id=");
        push_u64(&mut self.buf, self.rng.next_u64() >> 20);
        self.push("@");
        self.push(&message.sender_domain.clone());
        self.push(" T=\"");
        let subject = *self.rng.pick(SUBJECTS);
        self.push(subject);
        self.push("\" for");
        for rcpt in &message.recipients {
            self.buf.push(b' ');
            self.buf.extend_from_slice(rcpt.address.as_bytes());
        }
        if !self.warming {
            self.stats.messages += 1;
        }
        self.end(now, line);
        let first_run = now + 200_000 + self.rng.below(1_500_000) as i64;
        let slot = self.store(message);
        for recipient in 0..count {
            self.schedule(
                first_run,
                Event::Attempt {
                    message: slot,
                    recipient,
                },
            );
        }
    }

    fn attempt(&mut self, now: i64, slot: usize, index: usize) {
        let Some(mut message) = self.messages[slot].take() else {
            return;
        };
        let mut rcpt = message.recipients[index].clone();
        let bounce_message = message.sender.is_empty();
        let sender_domain = message.sender_domain.clone();
        let seen = match (message.logged, bounce_message) {
            (false, _) => Seen::Unknown,
            (true, true) => Seen::BounceMessage,
            (true, false) => Seen::Sender(&sender_domain),
        };
        let outcome;
        if rcpt.domain.0 == OWN_DOMAIN {
            outcome = self.deliver_bounce_message(now, &message, &rcpt);
        } else if rcpt.domain.0 == usize::MAX {
            let line = self.buf.len();
            let pid = self.pid();
            self.begin(now, pid);
            self.buf.extend_from_slice(&message.id);
            self.push(" ** ");
            self.push(&rcpt.address);
            self.push(" : Unrouteable address");
            outcome = Outcome::Failed;
            let segment = if bounce_message { "own" } else { "unroutable" };
            self.count(outcome, seen, "other", segment);
            self.end(now, line);
        } else {
            let domain = self.domains[rcpt.domain.0][rcpt.domain.1].clone();
            let (temp, perm, ok) = replies(domain.segment);
            let timed_out = now - message.arrived >= i64::from(self.cfg.retry_timeout_secs) * US;
            let defer = match rcpt.fate {
                Fate::DeferredThenDelivered(n) | Fate::DeferredThenFailed(n) => rcpt.deferrals < n,
                Fate::TimedOut => !timed_out,
                _ => false,
            };
            let pid = self.pid();
            let mx = self.rng.below(domain.mx.len() as u64) as usize;
            let mx_host = domain.mx[mx].clone();
            let ip_last = 10 + mx as u64 * 7 + (domain.name.len() as u64 % 5);
            let reused = matches!(self.last_delivery, Some((s, d, t)) if s == message.serial && d == rcpt.domain && now - t < 2 * US);
            if defer {
                if rcpt.temp.is_none() && !rcpt.connect_failure {
                    if rcpt.fate == Fate::TimedOut || self.rng.chance(0.3) {
                        rcpt.connect_failure = true;
                    } else {
                        rcpt.temp = Some(*self.rng.pick(temp));
                    }
                }
                // Now and then the queue runner finds the host's retry time not reached.
                let not_reached = rcpt.deferrals > 0 && self.rng.chance(0.25);
                if rcpt.connect_failure && !not_reached {
                    let line = self.buf.len();
                    self.begin(now, pid);
                    self.buf.extend_from_slice(&message.id);
                    self.push(" H=");
                    self.push(&mx_host);
                    self.push(" [");
                    push_ip(&mut self.buf, domain.ip_prefix, ip_last);
                    self.push("] Connection timed out");
                    self.end(now, line);
                }
                let line = self.buf.len();
                self.begin(now, pid);
                self.buf.extend_from_slice(&message.id);
                self.push(" == ");
                self.push(&rcpt.address);
                self.push(" R=dnslookup T=remote_smtp defer (");
                if not_reached {
                    self.push("-53): retry time not reached for any host for '");
                    self.push(&domain.name);
                    self.push("'");
                } else if rcpt.connect_failure {
                    self.push("110): Connection timed out");
                } else {
                    let reply = rcpt.temp.expect("chosen above");
                    let errno = match reply.stage {
                        Stage::MailFrom => "-45",
                        Stage::RcptTo => "-44",
                        _ => "-46",
                    };
                    self.push(errno);
                    self.push(") ");
                    self.host_field(&mx_host, domain.ip_prefix, ip_last, false);
                    self.push(": ");
                    self.smtp_error(reply, &rcpt.address, &message.sender, message.size);
                }
                let provider = if not_reached || rcpt.connect_failure {
                    domain.provider_without_host
                } else {
                    domain.provider
                };
                self.count(Outcome::Deferred, seen, provider, domain.segment.name());
                self.end(now, line);
                rcpt.deferrals += 1;
                let backoff = self.rng.range(
                    u64::from(self.cfg.min_backoff_secs),
                    u64::from(self.cfg.max_backoff_secs),
                );
                let mut next = now + backoff as i64 * US;
                if rcpt.fate == Fate::TimedOut {
                    let deadline = message.arrived + i64::from(self.cfg.retry_timeout_secs) * US;
                    next = next.min(deadline + self.rng.below(60) as i64 * US);
                }
                outcome = Outcome::Deferred;
                self.schedule(
                    next,
                    Event::Attempt {
                        message: slot,
                        recipient: index,
                    },
                );
            } else {
                let line = self.buf.len();
                self.begin(now, pid);
                self.buf.extend_from_slice(&message.id);
                match rcpt.fate {
                    Fate::Delivered | Fate::DeferredThenDelivered(_) => {
                        self.push(if reused { " -> " } else { " => " });
                        self.push(&rcpt.address);
                        self.push(" R=dnslookup T=remote_smtp ");
                        self.host_field(&mx_host, domain.ip_prefix, ip_last, reused);
                        self.push(" X=TLS1.3:TLS_AES_256_GCM_SHA384:256 CV=yes C=\"");
                        let ok_reply = *self.rng.pick(ok);
                        self.push(ok_reply);
                        self.push("\" QT=");
                        push_u64(&mut self.buf, ((now - message.arrived) / US).max(1) as u64);
                        self.push("s DT=");
                        push_u64(&mut self.buf, 1 + self.rng.below(3));
                        self.push("s");
                        outcome = Outcome::Delivered;
                        self.last_delivery = Some((message.serial, rcpt.domain, now));
                    }
                    Fate::TimedOut => {
                        self.push(" ** ");
                        self.push(&rcpt.address);
                        self.push(": retry timeout exceeded");
                        outcome = Outcome::Expired;
                    }
                    _ => {
                        self.push(" ** ");
                        self.push(&rcpt.address);
                        self.push(" R=dnslookup T=remote_smtp ");
                        self.host_field(&mx_host, domain.ip_prefix, ip_last, false);
                        self.push(" X=TLS1.2:ECDHE-RSA-AES256-GCM-SHA384:256 CV=yes: ");
                        let reply = *self.rng.pick(perm);
                        self.smtp_error(reply, &rcpt.address, &message.sender, message.size);
                        outcome = Outcome::Failed;
                    }
                }
                let provider = if outcome == Outcome::Expired {
                    domain.provider_without_host
                } else {
                    domain.provider
                };
                self.count(outcome, seen, provider, domain.segment.name());
                self.end(now, line);
            }
        }
        if outcome != Outcome::Deferred {
            rcpt.done = true;
            rcpt.failed = outcome != Outcome::Delivered;
            message.open -= 1;
        }
        message.recipients[index] = rcpt;
        if message.open > 0 || self.done {
            self.messages[slot] = Some(message);
            return;
        }
        // All recipients are final: return failures to the sender, then the queue file goes.
        let any_failed = message.recipients.iter().any(|r| r.failed);
        if any_failed && !bounce_message {
            self.bounce_message(now, &message);
        }
        if !self.done {
            let line = self.buf.len();
            let pid = self.pid();
            self.begin(now, pid);
            self.buf.extend_from_slice(&message.id);
            self.push(" Completed");
            self.end(now, line);
        }
        self.free.push(slot);
    }

    /// Delivers a bounce message to the original sender's mail host; a few are refused.
    fn deliver_bounce_message(&mut self, now: i64, message: &Message, rcpt: &Recipient) -> Outcome {
        let line = self.buf.len();
        let pid = self.pid();
        self.begin(now, pid);
        self.buf.extend_from_slice(&message.id);
        let host = format!("mx.{}", message.sender_domain);
        let refused = self.rng.chance(0.03);
        self.push(if refused { " ** " } else { " => " });
        self.push(&rcpt.address);
        self.push(" R=dnslookup T=remote_smtp ");
        self.host_field(&host, "198.51.100.", 20, false);
        let outcome = if refused {
            self.push(": ");
            let reply = r(
                Stage::RcptTo,
                "550 5.1.1 Recipient address rejected: User unknown in virtual mailbox table",
            );
            self.smtp_error(reply, &rcpt.address, "", message.size);
            Outcome::Failed
        } else {
            self.push(" C=\"250 2.0.0 Ok: queued as 7C1D22A0F3\"");
            Outcome::Delivered
        };
        let provider = Provider::detect(
            Some(host.as_bytes()),
            Some(message.sender_domain.as_bytes()),
        );
        let seen = if message.logged {
            Seen::BounceMessage
        } else {
            Seen::Unknown
        };
        self.count(outcome, seen, provider.as_str(), "own");
        self.end(now, line);
        outcome
    }

    /// `H=mx [ip]` (with `*` when the connection is reused).
    fn host_field(&mut self, host: &str, ip_prefix: &str, ip_last: u64, reused: bool) {
        self.push("H=");
        self.push(host);
        self.push(" [");
        push_ip(&mut self.buf, ip_prefix, ip_last);
        self.push("]");
        if reused {
            self.push("*");
        }
    }

    fn smtp_error(&mut self, reply: Reply, recipient: &str, sender: &str, size: u64) {
        self.push("SMTP error from remote mail server after ");
        match reply.stage {
            Stage::Greeting => self.push("initial connection"),
            Stage::MailFrom => {
                self.push("pipelined MAIL FROM:<");
                self.push(sender);
                self.push("> SIZE=");
                push_u64(&mut self.buf, size);
            }
            Stage::RcptTo => {
                self.push("RCPT TO:<");
                self.push(recipient);
                self.push(">");
            }
            Stage::Data => self.push("pipelined DATA"),
            Stage::EndOfData => self.push("end of data"),
        }
        self.push(": ");
        self.push(reply.text);
    }

    /// Exim's non-delivery report: `<= <> R=original`, delivered to the sender's own mail
    /// host (now and then refused: a bounce of a bounce is not returned).
    fn bounce_message(&mut self, now: i64, original: &Message) {
        let at = now;
        let id = self.new_id(at);
        let line = self.buf.len();
        let pid = self.pid();
        self.begin(at, pid);
        self.buf.extend_from_slice(&id);
        self.push(" <= <> R=");
        self.buf.extend_from_slice(&original.id);
        self.push(" U=Debian-exim P=local S=");
        push_u64(&mut self.buf, original.size + 1_500);
        self.push(" T=\"Mail delivery failed: returning message to sender\" for ");
        self.push(&original.sender);
        if !self.warming {
            self.stats.messages += 1;
            self.stats.bounce_messages += 1;
        }
        self.end(at, line);
        if self.done {
            return;
        }
        let recipient = Recipient {
            address: original.sender.clone(),
            domain: (OWN_DOMAIN, 0),
            fate: Fate::Delivered,
            deferrals: 0,
            done: false,
            failed: false,
            temp: None,
            connect_failure: false,
        };
        let message = Message {
            id,
            serial: self.id_counter,
            sender: String::new(),
            sender_domain: original.sender_domain.clone(),
            size: original.size + 1_500,
            arrived: at,
            recipients: vec![recipient],
            open: 1,
            logged: !self.warming,
        };
        let slot = self.store(message);
        let when = at + 100_000 + self.rng.below(400_000) as i64;
        self.schedule(
            when,
            Event::Attempt {
                message: slot,
                recipient: 0,
            },
        );
    }

    /// Counts one attempt in the ground truth, as a reader of the log sees it (`seen`), and
    /// by the generator's own `segment` of the recipient. Warm-up attempts are not counted.
    fn count(&mut self, outcome: Outcome, seen: Seen<'_>, provider: &str, segment: &str) {
        if self.warming {
            return;
        }
        let add = |counts: &mut OutcomeCounts| match outcome {
            Outcome::Delivered => counts.sent += 1,
            Outcome::Deferred => counts.deferred += 1,
            Outcome::Failed => counts.bounced += 1,
            Outcome::Expired => counts.expired += 1,
        };
        add(&mut self.stats.status_lines);
        add(&mut self.stats.attempts);
        if outcome == Outcome::Expired {
            self.stats.expired_recipients += 1;
        }
        let sender_domain = match seen {
            Seen::BounceMessage => None,
            Seen::Sender(domain) => Some(domain),
            Seen::Unknown => Some(""),
        };
        match sender_domain {
            Some(domain) => add(self
                .stats
                .by_sender_domain
                .entry(domain.to_owned())
                .or_default()),
            None => add(&mut self.stats.bounce_message_attempts),
        }
        add(self
            .stats
            .by_provider
            .entry(provider.to_owned())
            .or_default());
        add(self.stats.by_segment.entry(segment.to_owned()).or_default());
    }

    fn noise(&mut self, now: i64) {
        let client = self.rng.below(250) + 2;
        let port = 1024 + self.rng.below(60_000);
        let pid = self.pid();
        let kind = self.rng.below(10);
        let lines: Vec<String> = match kind {
            0..=3 => {
                let helo = made_up_domain(&mut self.rng);
                let victim = format!(
                    "{}@{}",
                    self.rng.pick(FIRST_NAMES),
                    self.rng.pick(&self.sender_domains)
                );
                vec![
                    format!(
                        "SMTP connection from [192.0.2.{client}]:{port} (TCP/IP connection count = {})",
                        1 + self.rng.below(9)
                    ),
                    format!(
                        "H=({helo}) [192.0.2.{client}]:{port} F=<info@{helo}> rejected RCPT <{victim}>: relay not permitted"
                    ),
                    format!("SMTP connection from ({helo}) [192.0.2.{client}]:{port} lost D=2s"),
                ]
            }
            4 | 5 => vec![format!(
                "H=mail.{} [203.0.113.{client}]:{port} F=<> rejected RCPT <nobody@{}>: Unknown user",
                made_up_domain(&mut self.rng),
                self.rng.pick(&self.sender_domains)
            )],
            6 => vec![
                format!("Start queue run: pid={pid}"),
                format!("End queue run: pid={pid}"),
            ],
            7 => vec![format!(
                "TLS error on connection from [192.0.2.{client}]:{port} (SSL_accept): error:0A000416:SSL routines::unexpected eof"
            )],
            8 => vec![format!(
                "no host name found for IP address 192.0.2.{client}"
            )],
            _ => vec![format!(
                "SMTP protocol synchronization error (input sent without waiting for greeting): rejected connection from H=[192.0.2.{client}]:{port} input=\"GET / HTTP/1.1\""
            )],
        };
        // One event's lines share its time: the log never goes backwards.
        for text in &lines {
            if self.done {
                return;
            }
            let line = self.buf.len();
            self.begin(now, pid);
            self.push(text);
            self.stats.noise_lines += 1;
            self.end(now, line);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Delivered,
    Deferred,
    Failed,
    Expired,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(cfg: &EximConfig) -> (Vec<u8>, GenStats) {
        let mut out = Vec::new();
        let stats = generate_exim(cfg, &mut out).unwrap();
        (out, stats)
    }

    #[test]
    fn deterministic_and_line_exact() {
        let cfg = EximConfig {
            target_lines: Some(5_000),
            ..EximConfig::default()
        };
        let (a, stats) = generate(&cfg);
        let (b, _) = generate(&cfg);
        assert_eq!(a, b);
        assert_eq!(stats.lines, 5_000);
        assert_eq!(stats.bytes, a.len() as u64);
        assert_eq!(a.iter().filter(|&&c| c == b'\n').count(), 5_000);
        let (c, _) = generate(&EximConfig {
            seed: 7,
            ..cfg.clone()
        });
        assert_ne!(a, c);
    }

    #[test]
    fn both_id_forms_after_an_upgrade() {
        let (log, _) = generate(&EximConfig {
            target_lines: Some(4_000),
            ..EximConfig::default()
        });
        let text = String::from_utf8(log).unwrap();
        let ids: Vec<usize> = text
            .lines()
            .filter_map(|l| l.split(' ').nth(3))
            .filter(|w| w.len() > 6 && w.as_bytes()[6] == b'-')
            .map(str::len)
            .collect();
        assert!(ids.contains(&16) && ids.contains(&23), "{:?}", &ids[..5]);
    }

    #[test]
    fn addresses_have_four_bytes() {
        let (log, _) = generate(&EximConfig {
            target_lines: Some(20_000),
            ..EximConfig::default()
        });
        let text = String::from_utf8(log).unwrap();
        let mut seen = 0;
        for line in text.lines() {
            for (at, _) in line.match_indices(" [") {
                let rest = &line[at + 2..];
                let Some(end) = rest.find(']') else { continue };
                let ip = &rest[..end];
                // Not the pid (`[51218]`) nor a queue run's.
                if ip.starts_with(|c: char| c.is_ascii_digit()) && ip.contains('.') {
                    assert!(ip.parse::<std::net::Ipv4Addr>().is_ok(), "{ip} in {line}");
                    seen += 1;
                }
            }
        }
        assert!(seen > 10_000, "{seen}");
    }

    #[test]
    fn time_never_goes_backwards() {
        let (log, _) = generate(&EximConfig {
            target_lines: Some(20_000),
            milliseconds: true,
            ..EximConfig::default()
        });
        let text = String::from_utf8(log).unwrap();
        let stamps: Vec<&str> = text.lines().map(|l| &l[..23]).collect();
        assert!(stamps.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn stamp_options() {
        let (log, _) = generate(&EximConfig {
            target_lines: Some(10),
            utc_offset_seconds: -9000,
            log_timezone: true,
            milliseconds: true,
            pid: false,
            ..EximConfig::default()
        });
        let first = String::from_utf8(log)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_owned();
        // 2025-06-10T06:27:30Z at -02:30.
        assert!(first.starts_with("2025-06-10 03:57:30."), "{first}");
        assert_eq!(&first[23..29], " -0230", "{first}");
        assert!(!first[29..].starts_with(" ["), "{first}");
    }
}
