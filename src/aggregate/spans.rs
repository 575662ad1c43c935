//! When each stream's events of a day began and ended.
//!
//! A stream is one source on one MTA host (`postfix` on `mx1`, `sendgrid`, ...). A nightly job
//! over rotated logs reads a day in two stretches, one from each side of the rotation; the
//! dataset keeps each run's share of a day, and a run that comes later tells whether it read
//! the same stretch again (its share replaces the earlier one) or another stretch (the shares
//! are kept side by side) from the spans of the streams both read. See `sink::manifest`.

use crate::event::Source;

use super::{Interner, Sym};

const US_PER_DAY: i64 = 24 * 3_600_000_000;

/// One stream's events of one UTC day: the first and the last event's time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    day: i64,
    source: Source,
    host: Sym,
    first_us: i64,
    last_us: i64,
}

/// The spans of the streams an aggregate counted, by day. A log's events come nearly in time
/// order, from a few hosts whose lines interleave, so each host's last span is remembered (in
/// a slot picked by its symbol) and nearly every event updates it in place.
#[derive(Debug, Clone, Default)]
pub(super) struct Spans {
    list: Vec<Span>,
    /// Index in `list` + 1 of the last span of a host whose symbol picks the slot; 0: none.
    memo: [u32; MEMO_SLOTS],
}

const MEMO_SLOTS: usize = 8;

impl Spans {
    /// Notes an event of `source` on `host` (a symbol of the aggregate's interner) at
    /// `time_us`.
    #[inline]
    pub(super) fn note(&mut self, source: Source, host: Sym, time_us: i64) {
        let day = time_us.div_euclid(US_PER_DAY);
        let slot = self.memo[host.0 as usize % MEMO_SLOTS] as usize;
        if let Some(span) = self.list.get_mut(slot.wrapping_sub(1)) {
            if span.day == day && span.host == host && span.source == source {
                span.first_us = span.first_us.min(time_us);
                span.last_us = span.last_us.max(time_us);
                return;
            }
        }
        self.note_elsewhere(Span {
            day,
            source,
            host,
            first_us: time_us,
            last_us: time_us,
        });
    }

    #[cold]
    fn note_elsewhere(&mut self, new: Span) {
        let found = (self.list.iter())
            .position(|s| s.day == new.day && s.host == new.host && s.source == new.source);
        match found {
            Some(i) => {
                let span = &mut self.list[i];
                span.first_us = span.first_us.min(new.first_us);
                span.last_us = span.last_us.max(new.last_us);
            }
            None => self.list.push(new),
        }
        let i = found.unwrap_or(self.list.len() - 1);
        self.memo[new.host.0 as usize % MEMO_SLOTS] = u32::try_from(i + 1).unwrap_or(0);
    }

    /// Adds `other`'s spans, whose host symbols `remap` turns into this aggregate's.
    pub(super) fn absorb(&mut self, other: &Spans, remap: impl Fn(Sym) -> Sym) {
        for span in &other.list {
            self.note_elsewhere(Span {
                host: remap(span.host),
                ..*span
            });
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The spans with their hosts' names, through the interner they were noted with.
    pub(super) fn resolved<'a>(
        &'a self,
        interner: &'a Interner,
    ) -> impl Iterator<Item = StreamSpan> + 'a {
        self.list.iter().map(|span| StreamSpan {
            day: span.day as i32,
            source: span.source,
            mta_host: interner.resolve(span.host).to_string(),
            first_us: span.first_us,
            last_us: span.last_us,
        })
    }
}

/// The first and last event of one stream (a source on an MTA host) on one UTC day.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StreamSpan {
    /// Days since 1970-01-01, as the dataset's partitions count them.
    pub day: i32,
    pub source: Source,
    /// The host that logged the events; empty when the log does not say (an Exim mainlog, an
    /// ESP export).
    pub mta_host: String,
    pub first_us: i64,
    pub last_us: i64,
}

/// `spans` with each (day, source, host) once, its span the union of its entries', sorted.
pub(super) fn combine(mut spans: Vec<StreamSpan>) -> Vec<StreamSpan> {
    spans.sort();
    let mut out: Vec<StreamSpan> = Vec::with_capacity(spans.len());
    for span in spans {
        match out.last_mut() {
            Some(last)
                if last.day == span.day
                    && last.source == span.source
                    && last.mta_host == span.mta_host =>
            {
                last.first_us = last.first_us.min(span.first_us);
                last.last_us = last.last_us.max(span.last_us);
            }
            _ => out.push(span),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    #[test]
    fn each_stream_and_day_keeps_its_first_and_last_event() {
        let mut interner = Interner::new();
        let mx1 = interner.intern_name(b"mx1");
        let mx2 = interner.intern_name(b"mx2");
        let mut spans = Spans::default();
        // Two hosts interleaved, out of order within a day, across midnight.
        for (host, hour) in [(mx1, 5), (mx2, 7), (mx1, 3), (mx2, 6), (mx1, 23), (mx1, 25)] {
            spans.note(Source::Postfix, host, hour * HOUR);
        }
        spans.note(Source::Exim, mx1, 4 * HOUR);
        let got = combine(spans.resolved(&interner).collect());
        let want = [
            (0, Source::Postfix, "mx1", 3, 23),
            (0, Source::Postfix, "mx2", 6, 7),
            (0, Source::Exim, "mx1", 4, 4),
            (1, Source::Postfix, "mx1", 25, 25),
        ];
        let mut want: Vec<StreamSpan> = (want.iter())
            .map(|&(day, source, host, first, last)| StreamSpan {
                day,
                source,
                mta_host: host.to_string(),
                first_us: first * HOUR,
                last_us: last * HOUR,
            })
            .collect();
        want.sort();
        assert_eq!(got, want);
    }

    #[test]
    fn hosts_that_share_a_memo_slot_keep_their_own_spans() {
        let mut interner = Interner::new();
        let hosts: Vec<Sym> = (0..=MEMO_SLOTS)
            .map(|i| interner.intern_name(format!("mx{i}").as_bytes()))
            .collect();
        let (a, b) = (hosts[0], hosts[MEMO_SLOTS]);
        assert_eq!(a.0 as usize % MEMO_SLOTS, b.0 as usize % MEMO_SLOTS);
        let mut spans = Spans::default();
        for hour in 0..6 {
            spans.note(Source::Postfix, a, hour * HOUR);
            spans.note(Source::Postfix, b, (hour + 10) * HOUR);
        }
        let got: Vec<(String, i64, i64)> = (spans.resolved(&interner))
            .map(|s| (s.mta_host, s.first_us / HOUR, s.last_us / HOUR))
            .collect();
        assert_eq!(
            got,
            [
                ("mx0".to_string(), 0, 5),
                (format!("mx{MEMO_SLOTS}"), 10, 15)
            ]
        );
    }

    #[test]
    fn absorbed_spans_are_renamed_and_joined() {
        let mut a_names = Interner::new();
        let mut a = Spans::default();
        a.note(Source::Postfix, a_names.intern_name(b"mx1"), 2 * HOUR);
        let mut b_names = Interner::new();
        let _other = b_names.intern_name(b"zz");
        let mut b = Spans::default();
        b.note(Source::Postfix, b_names.intern_name(b"mx1"), 9 * HOUR);
        let remap: Vec<Sym> = (0..b_names.len())
            .map(|i| a_names.intern_name(b_names.resolve(Sym(i as u32)).as_bytes()))
            .collect();
        a.absorb(&b, |s| remap[s.0 as usize]);
        let got: Vec<StreamSpan> = a.resolved(&a_names).collect();
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].first_us, got[0].last_us), (2 * HOUR, 9 * HOUR));
    }
}
