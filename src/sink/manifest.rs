//! The run manifest (what the pipeline tells the sink about a run) and `_manifest.json` (what
//! the dataset remembers: for each day, the run and inputs that wrote it).
//!
//! A day is made of the shares of the runs that read it, each a file of its own in the day's
//! partitions. A run's share replaces an earlier one when the run read again what that one read
//! (the same inputs, or a stretch of a stream that overlaps); otherwise the two stay side by
//! side, as the two halves of a day that a log rotation split. When a run replaces a share,
//! the inputs of its run that the new run did not read again are reported, because their share
//! of that day is gone from the dataset.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::SinkError;
use super::tables::SCHEMA_VERSION;
use super::write::PART_FILE;
use crate::aggregate::StreamSpan;

/// File name of the dataset manifest in the output directory.
pub(crate) const MANIFEST_FILE: &str = "_manifest.json";

/// One input of a run, as the pipeline saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFingerprint {
    /// Display name: the path as given, or `-` for stdin.
    pub path: String,
    /// Size in bytes as stored (compressed size for compressed files).
    pub size: u64,
    /// Modification time, when the input has one.
    #[serde(with = "optional_timestamp", default)]
    pub modified: Option<Timestamp>,
    /// `plain`, `gzip` or `zstd`, as sniffed.
    pub compression: String,
    /// A content fingerprint that tells the same file from a different one of the same name
    /// (see [`fingerprint_file`]).
    pub fingerprint: String,
    /// Lines (or records) read.
    pub lines_read: u64,
    /// Events produced.
    pub events: u64,
}

/// What the pipeline tells the sink about the run that produced an aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The version of bouncestat that ran.
    pub tool_version: String,
    pub run_started: Timestamp,
    /// When the run finished reading; `None` stamps the time the dataset write completes.
    pub run_finished: Option<Timestamp>,
    pub inputs: Vec<InputFingerprint>,
}

impl Manifest {
    /// A manifest for a run of this build of bouncestat that started at `run_started`.
    pub fn new(run_started: Timestamp) -> Manifest {
        Manifest {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            run_started,
            run_finished: None,
            inputs: Vec::new(),
        }
    }
}

/// Bytes read from each end of a file by [`fingerprint_file`].
const FINGERPRINT_EDGE: u64 = 64 * 1024;

/// A cheap content fingerprint: FNV-1a (64 bit) over the size (little-endian `u64`), the first
/// 64 KiB and the last 64 KiB of the file, written `fnv1a64:<16 hex digits>`. It reads at most
/// 128 KiB whatever the size, which is enough to tell a rotated or rewritten log from the one
/// read before; it is not a cryptographic hash.
///
/// # Errors
///
/// Any error opening, seeking or reading the file.
pub fn fingerprint_file(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let mut hash = Fnv1a::default();
    hash.write(&size.to_le_bytes());
    let mut buf = Vec::with_capacity(FINGERPRINT_EDGE as usize);
    (&mut file).take(FINGERPRINT_EDGE).read_to_end(&mut buf)?;
    hash.write(&buf);
    if size > FINGERPRINT_EDGE {
        buf.clear();
        let tail_start = size.saturating_sub(FINGERPRINT_EDGE).max(FINGERPRINT_EDGE);
        file.seek(SeekFrom::Start(tail_start))?;
        file.take(FINGERPRINT_EDGE).read_to_end(&mut buf)?;
        hash.write(&buf);
    }
    Ok(format!("fnv1a64:{:016x}", hash.0))
}

struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// One run as recorded in `_manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RunRecord {
    pub id: String,
    pub tool_version: String,
    #[serde(with = "timestamp")]
    pub run_started: Timestamp,
    #[serde(with = "timestamp")]
    pub run_finished: Timestamp,
    /// Days of the dataset this run still owns.
    pub days: Vec<String>,
    pub inputs: Vec<InputFingerprint>,
}

/// The contents of `_manifest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct DatasetManifest {
    pub schema_version: String,
    #[serde(with = "timestamp")]
    pub updated: Timestamp,
    /// Day (`YYYY-MM-DD`) -> id of the run that wrote it last.
    pub days: BTreeMap<String, String>,
    /// Day -> the runs' shares that make it up, oldest first. A manifest written before
    /// shares were kept has none: each of its days is one share, `part-0.parquet`, of the run
    /// in `days`, with no spans (see [`DatasetManifest::load`]).
    #[serde(default)]
    pub shares: BTreeMap<String, Vec<ShareRecord>>,
    /// Runs that own at least one day, oldest first.
    pub runs: Vec<RunRecord>,
}

/// One run's share of a day: its file in the day's partition of each table, and when the
/// events it counted there began and ended, stream by stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ShareRecord {
    pub run: String,
    pub file: String,
    /// Empty when not known (a share written by an earlier version): it overlaps any run.
    #[serde(default)]
    pub streams: Vec<StreamRecord>,
}

/// The first and last event of a stream (a source on an MTA host) in a share of a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StreamRecord {
    pub source: String,
    /// The MTA host; absent when the input does not name one (an Exim mainlog, an ESP export).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mta_host: Option<String>,
    #[serde(with = "timestamp")]
    pub first: Timestamp,
    #[serde(with = "timestamp")]
    pub last: Timestamp,
}

impl StreamRecord {
    /// The record of `span`; `None` for a time out of the calendar's range.
    pub fn of(span: &StreamSpan) -> Option<StreamRecord> {
        Some(StreamRecord {
            source: span.source.as_str().to_string(),
            mta_host: Some(span.mta_host.clone()).filter(|host| !host.is_empty()),
            first: Timestamp::from_microsecond(span.first_us).ok()?,
            last: Timestamp::from_microsecond(span.last_us).ok()?,
        })
    }

    fn same_stream(&self, other: &StreamRecord) -> bool {
        self.source == other.source && self.mta_host == other.mta_host
    }

    /// Whether the two spans share more than the seconds around a log rotation: where one
    /// begins after the other and ends after it, up to [`ROTATION_SLACK`] of the end of the
    /// first may be the start of the second. A log rotated within a second has lines of that
    /// second on both sides, and syslog writes lines a few seconds out of order.
    fn overlaps(&self, other: &StreamRecord) -> bool {
        if self.last < other.first || other.last < self.first {
            return false;
        }
        let (earlier, later) = if self.first <= other.first {
            (self, other)
        } else {
            (other, self)
        };
        let staggered = earlier.first < later.first && earlier.last < later.last;
        let near_the_end = (later.first.saturating_add(ROTATION_SLACK))
            .is_ok_and(|slack_end| slack_end >= earlier.last);
        !(staggered && near_the_end)
    }
}

/// How far the end of one stretch of a stream may run into the start of the next (see
/// [`StreamRecord::overlaps`]).
const ROTATION_SLACK: jiff::SignedDuration = jiff::SignedDuration::from_secs(10);

/// Whether a run that read `streams` of a day read again what a share read there: the two
/// have a stream in common whose spans overlap. Unknown spans (either side empty) overlap.
fn streams_overlap(share: &[StreamRecord], streams: &[StreamRecord]) -> bool {
    if share.is_empty() || streams.is_empty() {
        return true;
    }
    share
        .iter()
        .any(|a| (streams.iter()).any(|b| a.same_stream(b) && a.overlaps(b)))
}

/// Whether `streams` hold each of `share`'s streams over at least its span. Unknown spans
/// (`share` empty) are not held.
fn covers(streams: &[StreamRecord], share: &[StreamRecord]) -> bool {
    !share.is_empty()
        && share.iter().all(|s| {
            (streams.iter()).any(|r| r.same_stream(s) && r.first <= s.first && r.last >= s.last)
        })
}

/// What a run does to a day it covers: which earlier shares stay beside its own, and the
/// file its share is written to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DayPlan {
    pub day: String,
    /// Earlier shares that did not read what this run read (other stretches of a stream, or
    /// other streams), kept.
    pub kept: Vec<ShareRecord>,
    /// The run's file in the day's partitions.
    pub file: String,
    /// The run's streams of the day.
    pub streams: Vec<StreamRecord>,
}

/// Whether `input` of an earlier run is among `inputs`: the same content, by fingerprint and
/// size.
fn read_again(input: &InputFingerprint, inputs: &[InputFingerprint]) -> bool {
    (inputs.iter()).any(|i| i.fingerprint == input.fingerprint && i.size == input.size)
}

/// An input whose rows for `date` were dropped when a later run replaced that day without
/// reading it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupersededInput {
    pub date: String,
    pub path: String,
}

impl DatasetManifest {
    pub fn empty(now: Timestamp) -> DatasetManifest {
        DatasetManifest {
            schema_version: SCHEMA_VERSION.to_string(),
            updated: now,
            days: BTreeMap::new(),
            shares: BTreeMap::new(),
            runs: Vec::new(),
        }
    }

    /// The day's shares (a day of an earlier version's manifest is one share of its run).
    fn shares_of(&self, day: &str) -> Vec<ShareRecord> {
        match self.shares.get(day) {
            Some(shares) => shares.clone(),
            None => (self.days.get(day).into_iter())
                .map(|run| ShareRecord {
                    run: run.clone(),
                    file: PART_FILE.to_string(),
                    streams: Vec::new(),
                })
                .collect(),
        }
    }

    /// What a run that read `inputs`, and `streams` of `day`, does to the day. An earlier
    /// share is replaced when the run read all of its run's inputs again, or read again what
    /// it read (a stream in common, with spans that overlap); otherwise it stays, and the
    /// run's share is written beside it under a file name of its own.
    pub fn plan(
        &self,
        day: &str,
        inputs: &[InputFingerprint],
        streams: Vec<StreamRecord>,
    ) -> DayPlan {
        let kept: Vec<ShareRecord> = (self.shares_of(day).into_iter())
            .filter(|share| {
                let all_read = self
                    .run_inputs(&share.run)
                    .is_some_and(|earlier| (earlier.iter()).all(|input| read_again(input, inputs)));
                !all_read && !streams_overlap(&share.streams, &streams)
            })
            .collect();
        let file = (0..)
            .map(|k| format!("part-{k}.parquet"))
            .find(|name| kept.iter().all(|share| &share.file != name))
            .unwrap_or_else(|| PART_FILE.to_string());
        DayPlan {
            day: day.to_string(),
            kept,
            file,
            streams,
        }
    }

    fn run_inputs(&self, id: &str) -> Option<&[InputFingerprint]> {
        (self.runs.iter().find(|r| r.id == id)).map(|r| r.inputs.as_slice())
    }

    /// Reads `_manifest.json` from `out_dir`, or `None` when there is none.
    pub fn load(out_dir: &Path) -> Result<Option<DatasetManifest>, SinkError> {
        let path = out_dir.join(MANIFEST_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(SinkError::io("read", path, e)),
        };
        let mut manifest: DatasetManifest = serde_json::from_slice(&bytes)
            .map_err(|source| SinkError::Manifest { path, source })?;
        // A day of an earlier version's manifest is one share of the run that wrote it.
        let without: Vec<String> = (manifest.days.keys())
            .filter(|day| !manifest.shares.contains_key(*day))
            .cloned()
            .collect();
        for day in without {
            let shares = manifest.shares_of(&day);
            manifest.shares.insert(day, shares);
        }
        Ok(Some(manifest))
    }

    /// Records `run`'s share of each day it covers (its `days`), as `plans` (one per day,
    /// in the same order) say, dropping the shares they replace and the runs left without a share. Returns the
    /// inputs whose share of a replaced day is gone: those of a replaced share's run that
    /// this run did not read again, unless the run read every stream of the share over at
    /// least its span (a longer stretch of the same log).
    pub fn record(&mut self, run: RunRecord, plans: Vec<DayPlan>) -> Vec<SupersededInput> {
        let mut superseded: Vec<SupersededInput> = Vec::new();
        for plan in plans {
            for share in self.shares_of(&plan.day) {
                if plan.kept.contains(&share) || covers(&plan.streams, &share.streams) {
                    continue;
                }
                for input in self.run_inputs(&share.run).unwrap_or_default() {
                    let gone = SupersededInput {
                        date: plan.day.clone(),
                        path: input.path.clone(),
                    };
                    if !read_again(input, &run.inputs) && !superseded.contains(&gone) {
                        superseded.push(gone);
                    }
                }
            }
            let mut shares = plan.kept;
            shares.push(ShareRecord {
                run: run.id.clone(),
                file: plan.file,
                streams: plan.streams,
            });
            self.days.insert(plan.day.clone(), run.id.clone());
            self.shares.insert(plan.day, shares);
        }
        self.own_days();
        if !run.days.is_empty() {
            self.runs.push(run);
        }
        superseded
    }

    /// Forgets the days before `cutoff` (`YYYY-MM-DD`), whose partitions the writer dropped
    /// (`--keep-days`), and the runs left without a day.
    pub fn prune_before(&mut self, cutoff: &str) {
        self.days.retain(|day, _| day.as_str() >= cutoff);
        self.shares.retain(|day, _| day.as_str() >= cutoff);
        self.own_days();
    }

    /// Gives each run the days it still has a share of, and drops the runs that have none.
    fn own_days(&mut self) {
        let mut owned: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (day, shares) in &self.shares {
            for share in shares {
                owned.entry(&share.run).or_default().push(day.clone());
            }
        }
        for earlier in &mut self.runs {
            earlier.days = owned.get(earlier.id.as_str()).cloned().unwrap_or_default();
        }
        self.runs.retain(|r| !r.days.is_empty());
    }

    /// Writes `_manifest.json` into `out_dir` through a temporary file and a rename.
    pub fn save(&self, out_dir: &Path) -> Result<(), SinkError> {
        let path = out_dir.join(MANIFEST_FILE);
        let mut json = serde_json::to_vec_pretty(self).map_err(|source| SinkError::Manifest {
            path: path.clone(),
            source,
        })?;
        json.push(b'\n');
        super::write::write_file_atomically(out_dir, MANIFEST_FILE, &json)
    }
}

mod timestamp {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(ts: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(ts)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(D::Error::custom)
    }
}

mod optional_timestamp {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(ts: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match ts {
            Some(ts) => s.collect_str(ts),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(text) => text.parse().map(Some).map_err(D::Error::custom),
            None => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_reads_both_ends() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        let mut data = vec![b'a'; 300 * 1024];
        std::fs::write(&path, &data).unwrap();
        let first = fingerprint_file(&path).unwrap();
        assert!(first.starts_with("fnv1a64:") && first.len() == 8 + 16);
        // A change in the middle (outside both ends) is not seen; one at the end is.
        data[150 * 1024] = b'b';
        std::fs::write(&path, &data).unwrap();
        assert_eq!(fingerprint_file(&path).unwrap(), first);
        *data.last_mut().unwrap() = b'c';
        std::fs::write(&path, &data).unwrap();
        assert_ne!(fingerprint_file(&path).unwrap(), first);
        // Small files are hashed whole, once.
        std::fs::write(&path, b"short").unwrap();
        assert_ne!(fingerprint_file(&path).unwrap(), first);
    }

    #[test]
    fn input_fingerprint_json_round_trip() {
        let input = InputFingerprint {
            path: "mail.log.1".into(),
            size: 10,
            modified: Some("2026-11-27T06:25:00Z".parse().unwrap()),
            compression: "plain".into(),
            fingerprint: "fnv1a64:0000000000000001".into(),
            lines_read: 4,
            events: 2,
        };
        let json = serde_json::to_string(&input).unwrap();
        assert!(
            json.contains("\"modified\":\"2026-11-27T06:25:00Z\""),
            "{json}"
        );
        let back: InputFingerprint = serde_json::from_str(&json).unwrap();
        assert_eq!(back, input);
    }
}
