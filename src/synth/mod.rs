//! Deterministic synthetic mail logs for benchmarks and pipeline tests.
//!
//! A generator takes a config (seed, size target, hosts, start time, timestamp style) and
//! writes a log to any [`std::io::Write`]; it returns [`GenStats`], the ground truth of what it
//! wrote (lines, messages, and every `status=` line by kind and by provider), so tests can
//! compare an ingest of the output with what is known to be in it. The same config always
//! produces the same bytes: randomness comes from a small seeded PRNG ([`SplitMix64`]), never
//! from the clock or the environment.
//!
//! [`postfix`] writes a syslog `mail.log`, [`exim`] an Exim `mainlog`, [`esp`] SES and SendGrid
//! exports; they share the PRNG, the
//! timestamp helpers and the compression wrapper here.

pub mod esp;
pub mod exim;
mod journal;
pub mod postfix;

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::Serialize;

pub use esp::{EspConfig, EspGenStats, EspKind, generate_esp};
pub use exim::{EximConfig, EximIds, generate_exim};
pub use postfix::{LongQueueIds, PostfixConfig, generate_postfix};

/// splitmix64: tiny, fast, and good enough for realistic-looking logs. A generator of our own
/// keeps the output identical across `rand` releases, which benchmarks depend on.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform integer in `0..n` (`n > 0`), by multiply-shift (no modulo bias worth noting).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// A uniform integer in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// A uniform float in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Picks from `(weight, item)` pairs; tables are small, so a linear scan is fine.
    pub fn pick_weighted<'a, T>(&mut self, items: &'a [(u32, T)]) -> &'a T {
        let total: u64 = items.iter().map(|(w, _)| u64::from(*w)).sum();
        let mut roll = self.below(total);
        for (weight, item) in items {
            if roll < u64::from(*weight) {
                return item;
            }
            roll -= u64::from(*weight);
        }
        &items[items.len() - 1].1
    }

    /// Exponentially distributed with the given mean (inter-arrival times of a Poisson process).
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
}

/// How the syslog envelope writes the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampStyle {
    /// `Jun  1 06:27:30`: classic syslog, no year, no zone, space-padded day.
    #[default]
    Traditional,
    /// `2025-06-10T06:27:30.123456+02:00`: rsyslog's default on current distributions.
    Rfc3339,
    /// `2025 Jun 10 06:27:30.123`: a year-prefixed rsyslog template.
    YearPrefixed,
}

/// Compression of the generated stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Zstd,
}

/// Counts of `status=` values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct OutcomeCounts {
    pub sent: u64,
    pub deferred: u64,
    pub bounced: u64,
    pub expired: u64,
}

impl OutcomeCounts {
    pub fn total(&self) -> u64 {
        self.sent + self.deferred + self.bounced + self.expired
    }
}

impl std::ops::AddAssign for OutcomeCounts {
    fn add_assign(&mut self, other: OutcomeCounts) {
        self.sent += other.sent;
        self.deferred += other.deferred;
        self.bounced += other.bounced;
        self.expired += other.expired;
    }
}

/// The ground truth of one generated log: what is in the bytes that were written.
///
/// Only lines actually written count (a run stops at its size target with messages still in
/// flight, and starts with retries of messages that arrived before the log began, as a real
/// rotated log does).
///
/// Final outcomes per recipient follow from the attempts: each `status=sent` attempt (not a
/// hand-off) and each `status=bounced` attempt is a recipient's final outcome, and
/// `expired_recipients` the rest; recipients still deferred when the log ends have none.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GenStats {
    /// Lines and bytes written (before compression).
    pub lines: u64,
    pub bytes: u64,
    /// Times of the first and last line, Unix microseconds UTC (the envelope shows them in
    /// local time). The last one is what a reader should take as the file's modification time
    /// when it infers the year of traditional stamps; the CLI sets the file's mtime to it.
    pub first_line_micros: i64,
    pub last_line_micros: i64,
    /// Lines that are neither part of a message's lifecycle nor a delivery (postscreen,
    /// rejected clients, anvil, dovecot, warnings...).
    pub noise_lines: u64,
    /// Queue files whose qmgr `from=` line appears, counting each queue id once (originals,
    /// content-filter re-injections and bounce messages alike).
    pub messages: u64,
    /// Bounce messages (`from=<>`) created: one per `sender non-delivery notification` line.
    pub bounce_messages: u64,
    /// Every `status=` line in the output by its value, including content-filter hand-offs and
    /// qmgr's per-message `status=expired` lines.
    pub status_lines: OutcomeCounts,
    /// `status=sent` lines that hand a message to the local content filter (not deliveries).
    pub filter_handoffs: u64,
    /// Delivery attempts: `status_lines` without the hand-offs; `expired` counts qmgr's
    /// per-message expiry lines.
    pub attempts: OutcomeCounts,
    /// The part of `attempts` that delivers bounce messages (`from=<>`).
    pub bounce_message_attempts: OutcomeCounts,
    /// Recipients returned to sender by expiry (an expired message may hold several).
    pub expired_recipients: u64,
    /// Delivery attempts (sent, deferred, bounced lines; no hand-offs) by receiving provider,
    /// decided like the classifier does: the relay host's MX suffix first, else a well-known
    /// consumer domain, else `other`. `expired` is always 0 here (expiry has no recipient).
    pub by_provider: BTreeMap<String, OutcomeCounts>,
    /// The same attempts by the generator's own finer recipient segment (gmail,
    /// google_workspace, microsoft_consumer, microsoft_365, yahoo_aol, apple, corporate,
    /// small, local); `expired` counts expired recipients.
    pub by_segment: BTreeMap<String, OutcomeCounts>,
    /// Delivery attempts of our senders' mail (no hand-offs, no bounce messages) by the
    /// sender's domain, which a reader learns from qmgr's `from=` line for the queue id. A
    /// pass already under way when the log begins has its `from=` line before the first line.
    pub by_sender_domain: BTreeMap<String, OutcomeCounts>,
}

impl GenStats {
    /// The share of `attempts` of each kind, for reports.
    pub fn attempt_shares(&self) -> [(&'static str, f64); 4] {
        let total = self.attempts.total().max(1) as f64;
        [
            ("sent", self.attempts.sent as f64 / total),
            ("deferred", self.attempts.deferred as f64 / total),
            ("bounced", self.attempts.bounced as f64 / total),
            ("expired", self.attempts.expired as f64 / total),
        ]
    }
}

/// Runs a generator through the chosen compression and finishes the stream.
///
/// # Errors
/// Whatever writing to `out` or compressing returns.
pub fn with_compression<W, F, T>(compression: Compression, out: W, generate: F) -> io::Result<T>
where
    W: Write,
    F: FnOnce(&mut dyn Write) -> io::Result<T>,
{
    match compression {
        Compression::None => {
            let mut out = out;
            let stats = generate(&mut out)?;
            out.flush()?;
            Ok(stats)
        }
        Compression::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(out, flate2::Compression::new(6));
            let stats = generate(&mut encoder)?;
            encoder.finish()?.flush()?;
            Ok(stats)
        }
        Compression::Zstd => {
            let mut encoder = zstd::Encoder::new(out, 3)?;
            let stats = generate(&mut encoder)?;
            encoder.finish()?.flush()?;
            Ok(stats)
        }
    }
}

pub(crate) use crate::format::syslog::civil;

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Formats envelope timestamps, caching the part that only changes once a second.
#[derive(Debug)]
pub(crate) struct Clock {
    style: TimestampStyle,
    utc_offset_seconds: i32,
    cached_second: i64,
    cached: Vec<u8>,
}

impl Clock {
    pub(crate) fn new(style: TimestampStyle, utc_offset_seconds: i32) -> Self {
        Clock {
            style,
            utc_offset_seconds,
            cached_second: i64::MIN,
            cached: Vec::new(),
        }
    }

    /// Appends the timestamp for `micros` (Unix microseconds, UTC) to `out`.
    pub(crate) fn write(&mut self, micros: i64, out: &mut Vec<u8>) {
        let second = micros.div_euclid(1_000_000);
        if second != self.cached_second {
            self.cached_second = second;
            self.refill(second);
        }
        out.extend_from_slice(&self.cached);
        let fraction = micros.rem_euclid(1_000_000) as u32;
        match self.style {
            TimestampStyle::Traditional => {}
            TimestampStyle::Rfc3339 => {
                out.push(b'.');
                push_padded(out, fraction, 6);
                push_offset(out, self.utc_offset_seconds);
            }
            TimestampStyle::YearPrefixed => {
                out.push(b'.');
                push_padded(out, fraction / 1000, 3);
            }
        }
    }

    fn refill(&mut self, second: i64) {
        let (year, month, day, hour, minute, sec) =
            civil(second + i64::from(self.utc_offset_seconds));
        let out = &mut self.cached;
        out.clear();
        let month_name = MONTHS[month as usize - 1].as_bytes();
        match self.style {
            TimestampStyle::Traditional => {
                out.extend_from_slice(month_name);
                out.push(b' ');
                if day < 10 {
                    out.push(b' ');
                }
                push_u64(out, u64::from(day));
            }
            TimestampStyle::Rfc3339 => {
                push_padded(out, year as u32, 4);
                out.push(b'-');
                push_padded(out, month, 2);
                out.push(b'-');
                push_padded(out, day, 2);
            }
            TimestampStyle::YearPrefixed => {
                push_padded(out, year as u32, 4);
                out.push(b' ');
                out.extend_from_slice(month_name);
                out.push(b' ');
                push_padded(out, day, 2);
            }
        }
        out.push(if self.style == TimestampStyle::Rfc3339 {
            b'T'
        } else {
            b' '
        });
        push_padded(out, hour, 2);
        out.push(b':');
        push_padded(out, minute, 2);
        out.push(b':');
        push_padded(out, sec, 2);
    }
}

fn push_offset(out: &mut Vec<u8>, offset_seconds: i32) {
    if offset_seconds == 0 {
        out.push(b'Z');
        return;
    }
    out.push(if offset_seconds < 0 { b'-' } else { b'+' });
    let minutes = offset_seconds.unsigned_abs() / 60;
    push_padded(out, minutes / 60, 2);
    out.push(b':');
    push_padded(out, minutes % 60, 2);
}

pub(crate) fn push_u64(out: &mut Vec<u8>, n: u64) {
    let mut buffer = itoa::Buffer::new();
    out.extend_from_slice(buffer.format(n).as_bytes());
}

pub(crate) fn push_padded(out: &mut Vec<u8>, n: u32, width: usize) {
    let mut buffer = itoa::Buffer::new();
    let digits = buffer.format(n).as_bytes();
    for _ in digits.len()..width {
        out.push(b'0');
    }
    out.extend_from_slice(digits);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1, 0, 0, 0));
        // 2025-06-10T06:27:30Z
        assert_eq!(civil(1_749_536_850), (2025, 6, 10, 6, 27, 30));
        // 2024-02-29T23:59:59Z (leap day)
        assert_eq!(civil(1_709_251_199), (2024, 2, 29, 23, 59, 59));
    }

    #[test]
    fn timestamp_styles() {
        let micros = 1_749_536_850_123_456;
        let mut out = Vec::new();
        Clock::new(TimestampStyle::Traditional, 0).write(micros, &mut out);
        assert_eq!(out, b"Jun 10 06:27:30");
        out.clear();
        Clock::new(TimestampStyle::Rfc3339, 7200).write(micros, &mut out);
        assert_eq!(out, b"2025-06-10T08:27:30.123456+02:00");
        out.clear();
        Clock::new(TimestampStyle::YearPrefixed, 0).write(micros, &mut out);
        assert_eq!(out, b"2025 Jun 10 06:27:30.123");
        out.clear();
        Clock::new(TimestampStyle::Traditional, 0).write(1_748_759_250_000_000, &mut out);
        assert_eq!(out, b"Jun  1 06:27:30");
    }

    #[test]
    fn prng_is_deterministic_and_uniform_enough() {
        let mut a = SplitMix64::new(42);
        let mut b = SplitMix64::new(42);
        assert_eq!(a.next_u64(), b.next_u64());
        let mut counts = [0u32; 4];
        for _ in 0..40_000 {
            counts[a.below(4) as usize] += 1;
        }
        assert!(
            counts.iter().all(|&c| (9_000..11_000).contains(&c)),
            "{counts:?}"
        );
    }
}
