//! Run statistics: lines, events by outcome, rejected lines per reason with a few samples.
//! Per-chunk stats merge in input order, so samples and line numbers are the same for any
//! thread count.

use std::collections::BTreeMap;

use crate::event::Outcome;

/// How many sample lines are kept per reject reason.
pub const SAMPLES_PER_REASON: usize = 5;
/// Sample lines are cut to this many bytes.
const SAMPLE_BYTES: usize = 300;

/// One rejected line, kept for `--show-rejects`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectSample {
    pub reason: &'static str,
    /// Index of the input in the run's input list.
    pub input: usize,
    /// 1-based line number within the input.
    pub line_number: u64,
    /// The line, cut to a few hundred bytes, invalid UTF-8 replaced.
    pub text: String,
}

/// Counters for one chunk, one input or the whole run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    pub bytes: u64,
    /// Lines read; for ESP exports, JSON records (whose numbers reject samples carry too).
    pub lines: u64,
    /// Delivery records turned into events, by outcome (`Outcome::ALL` order).
    pub events: [u64; Outcome::ALL.len()],
    /// Deliveries whose sender was never seen (log started mid-message).
    pub events_without_sender: u64,
    /// Deliveries to bounce messages the MTA generated itself.
    pub bounce_message_events: u64,
    /// Hand-offs to a local content filter, not counted as deliveries.
    pub content_filter_handoffs: u64,
    /// `sender non-delivery notification` lines.
    pub bounce_notices: u64,
    /// Rejected lines per reason.
    pub rejects: BTreeMap<&'static str, u64>,
    pub samples: Vec<RejectSample>,
}

impl Stats {
    pub fn count_event(&mut self, outcome: Outcome, bounce_message: bool, with_sender: bool) {
        self.events[outcome as usize] += 1;
        self.bounce_message_events += u64::from(bounce_message);
        self.events_without_sender += u64::from(!with_sender && !bounce_message);
    }

    /// Counts a rejected line; keeps it as a sample if fewer than [`SAMPLES_PER_REASON`] are
    /// kept for its reason. `line_number` is relative to the chunk until [`Stats::merge`]
    /// shifts it.
    pub fn reject(&mut self, reason: &'static str, input: usize, line_number: u64, line: &[u8]) {
        let count = self.rejects.entry(reason).or_insert(0);
        *count += 1;
        if *count as usize <= SAMPLES_PER_REASON {
            let cut = &line[..line.len().min(SAMPLE_BYTES)];
            self.samples.push(RejectSample {
                reason,
                input,
                line_number,
                text: String::from_utf8_lossy(cut).into_owned(),
            });
        }
    }

    pub fn rejected_lines(&self) -> u64 {
        self.rejects.values().sum()
    }

    pub fn total_events(&self) -> u64 {
        self.events.iter().sum()
    }

    /// Appends `later` (the stats of input that comes after `self`'s). `line_offset` is the
    /// number of lines of the same input before `later` began, to make its sample line numbers
    /// absolute.
    pub fn merge(&mut self, later: Stats, line_offset: u64) {
        self.bytes += later.bytes;
        self.lines += later.lines;
        for (mine, theirs) in self.events.iter_mut().zip(later.events) {
            *mine += theirs;
        }
        self.events_without_sender += later.events_without_sender;
        self.bounce_message_events += later.bounce_message_events;
        self.content_filter_handoffs += later.content_filter_handoffs;
        self.bounce_notices += later.bounce_notices;
        for mut sample in later.samples {
            let kept = self
                .samples
                .iter()
                .filter(|s| s.reason == sample.reason)
                .count();
            if kept < SAMPLES_PER_REASON {
                sample.line_number += line_offset;
                self.samples.push(sample);
            }
        }
        for (reason, count) in later.rejects {
            *self.rejects.entry(reason).or_insert(0) += count;
        }
    }
}
