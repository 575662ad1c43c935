//! Cells moved out of an aggregate's table into a temporary file while the run goes on.
//!
//! A cube cell is an hour of one sender/recipient/code combination, so the number of cells
//! grows with the hours and volume of the input, not with what is in flight. A worker whose
//! table reaches its limit writes the table's cells to an unnamed temporary file as one run,
//! grouped by hour, and starts again with an empty table; the cells of one hour
//! may then sit in several runs, and they are added up when the runs are read back, an hour
//! at a time, in the dataset's order (see [`super::SortedCells`]).
//!
//! A run is a list of fixed-size records: the key's six words and the count, little-endian.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::sync::Arc;

use super::PackedKey;
use super::packed::WORDS;

/// Bytes of one spilled cell.
const CELL_BYTES: usize = (WORDS + 1) * 8;
/// Cells decoded per read of a run.
const READ_CELLS: usize = 1024;

/// An aggregate's temporary file and the runs in it.
#[derive(Debug)]
pub(crate) struct SpillFile {
    file: Arc<File>,
    len: u64,
    runs: Vec<Run>,
}

/// A run: where it starts, and how many cells each of its hours has, in order.
#[derive(Debug, Clone)]
struct Run {
    start: u64,
    hours: Vec<(i64, u64)>,
}

impl SpillFile {
    /// An unnamed temporary file (in `TMPDIR`), removed by the system when it is closed,
    /// also if the process dies.
    pub(crate) fn create() -> io::Result<SpillFile> {
        Ok(SpillFile {
            file: Arc::new(tempfile::tempfile()?),
            len: 0,
            runs: Vec::new(),
        })
    }

    /// Appends `cells`, grouped by hour (in any order within an hour), as one run. On an
    /// error nothing is recorded: the caller still holds the cells.
    pub(crate) fn append(&mut self, cells: &[(PackedKey, i64)]) -> io::Result<()> {
        let mut file = &*self.file;
        file.seek(SeekFrom::Start(self.len))?;
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        let mut hours: Vec<(i64, u64)> = Vec::new();
        for (key, count) in cells {
            match hours.last_mut() {
                Some((hour, cells)) if *hour == key.hour() => *cells += 1,
                _ => hours.push((key.hour(), 1)),
            }
            // The cell's bytes made whole first: one copy into the buffer, not seven.
            let mut bytes = [0u8; CELL_BYTES];
            let words = key.to_words().into_iter().chain([*count as u64]);
            for (slot, word) in bytes.chunks_exact_mut(8).zip(words) {
                slot.copy_from_slice(&word.to_le_bytes());
            }
            out.write_all(&bytes)?;
        }
        out.flush()?;
        self.runs.push(Run {
            start: self.len,
            hours,
        });
        self.len += (cells.len() * CELL_BYTES) as u64;
        Ok(())
    }

    /// Cells in all runs (a cell in several runs counts once per run).
    pub(crate) fn cells(&self) -> u64 {
        let hours = self.runs.iter().flat_map(|run| &run.hours);
        hours.map(|&(_, cells)| cells).sum()
    }

    /// A reader for each run.
    pub(crate) fn readers(&self) -> impl Iterator<Item = RunReader> + '_ {
        self.runs.iter().map(|run| RunReader {
            file: Arc::clone(&self.file),
            next: run.start,
            hours: run.hours.clone().into(),
        })
    }
}

/// Reads one run back an hour at a time. It holds no cells between hours: a run waiting for
/// a later hour costs its list of hours only.
pub(crate) struct RunReader {
    file: Arc<File>,
    /// File offset of the first cell not yet read.
    next: u64,
    /// The hours not yet read, with their numbers of cells.
    hours: VecDeque<(i64, u64)>,
}

impl RunReader {
    /// The hour of the next cell, if any is left.
    pub(crate) fn next_hour(&self) -> Option<i64> {
        self.hours.front().map(|&(hour, _)| hour)
    }

    /// How many cells the next hour holds (0 when none is left).
    pub(crate) fn next_hour_cells(&self) -> usize {
        self.hours.front().map_or(0, |&(_, cells)| cells as usize)
    }

    /// Reads the cells of the next hour, a block at a time through `buf`, and hands each to
    /// `cell`. Reads are positioned, so the readers of one file may read at the same time.
    pub(crate) fn read_hour(
        &mut self,
        buf: &mut Vec<u8>,
        mut cell: impl FnMut(PackedKey, i64),
    ) -> io::Result<()> {
        let Some((_, mut left)) = self.hours.pop_front() else {
            return Ok(());
        };
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        while left > 0 {
            let cells = left.min(READ_CELLS as u64) as usize;
            buf.resize(cells * CELL_BYTES, 0);
            read_exact_at(&self.file, buf, self.next)?;
            self.next += buf.len() as u64;
            left -= cells as u64;
            for bytes in buf.chunks_exact(CELL_BYTES) {
                let mut words = [0u64; WORDS];
                for (w, b) in words.iter_mut().zip(bytes.chunks_exact(8)) {
                    *w = word(b);
                }
                cell(
                    PackedKey::from_words(words),
                    word(&bytes[WORDS * 8..]) as i64,
                );
            }
        }
        Ok(())
    }
}

/// Fills `buf` from `file` at `offset`, without moving (or racing for) the file's position.
#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(hour: u64, n: u64) -> PackedKey {
        PackedKey::from_words([hour, n, n * 3, 0, n << 40, u64::MAX - n])
    }

    #[test]
    fn runs_read_back_what_was_written_across_read_blocks() {
        let mut file = SpillFile::create().unwrap();
        let first: Vec<_> = (0..2500).map(|n| (key(n / 100, n), n as i64 - 7)).collect();
        let second = vec![(key(3, 1), -1), (key(9, 2), i64::MAX)];
        file.append(&first).unwrap();
        file.append(&[]).unwrap();
        file.append(&second).unwrap();
        assert_eq!(file.cells(), 2502);
        let mut read = Vec::new();
        let mut buf = Vec::new();
        for mut reader in file.readers() {
            let mut run = Vec::new();
            while let Some(hour) = reader.next_hour() {
                reader
                    .read_hour(&mut buf, |key, count| {
                        assert_eq!(key.hour(), hour);
                        run.push((key, count));
                    })
                    .unwrap();
            }
            read.push(run);
        }
        assert_eq!(read, vec![first, vec![], second]);
    }
}
