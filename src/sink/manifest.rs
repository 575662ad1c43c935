//! The run manifest (what the pipeline tells the sink about a run) and `_manifest.json` (what
//! the dataset remembers: for each day, the run and inputs that wrote it).
//!
//! A day belongs to the last run that wrote it. When a run replaces a day, the inputs of the
//! previous owner that the new run did not read again are reported, because their share of that
//! day is gone from the dataset.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::SinkError;
use super::tables::SCHEMA_VERSION;

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
    /// Day (`YYYY-MM-DD`) -> id of the run that wrote it.
    pub days: BTreeMap<String, String>,
    /// Runs that own at least one day, oldest first.
    pub runs: Vec<RunRecord>,
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
            runs: Vec::new(),
        }
    }

    /// Reads `_manifest.json` from `out_dir`, or `None` when there is none.
    pub fn load(out_dir: &Path) -> Result<Option<DatasetManifest>, SinkError> {
        let path = out_dir.join(MANIFEST_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(SinkError::io("read", path, e)),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| SinkError::Manifest { path, source })
    }

    /// Records `run` as the owner of its days, dropping runs that no longer own any day.
    /// Returns the inputs whose share of a replaced day is gone.
    pub fn record(&mut self, run: RunRecord) -> Vec<SupersededInput> {
        let mut superseded = Vec::new();
        for date in &run.days {
            let Some(previous_id) = self.days.insert(date.clone(), run.id.clone()) else {
                continue;
            };
            let Some(previous) = self.runs.iter_mut().find(|r| r.id == previous_id) else {
                continue;
            };
            previous.days.retain(|d| d != date);
            for input in &previous.inputs {
                let read_again = run
                    .inputs
                    .iter()
                    .any(|i| i.fingerprint == input.fingerprint && i.size == input.size);
                if !read_again {
                    superseded.push(SupersededInput {
                        date: date.clone(),
                        path: input.path.clone(),
                    });
                }
            }
        }
        self.runs.retain(|r| !r.days.is_empty());
        if !run.days.is_empty() {
            self.runs.push(run);
        }
        superseded
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
