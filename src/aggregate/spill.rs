//! Cells moved out of an aggregate's table into a temporary file while the run goes on.
//!
//! A cube cell is an hour of one sender/recipient/code combination, so the number of cells
//! grows with the hours and volume of the input, not with what is in flight. A worker whose
//! table reaches its limit writes the table's cells to an unnamed temporary file as one run,
//! sorted by key (so by hour), and starts again with an empty table; the cells of one hour
//! may then sit in several runs, and they are added up when the runs are read back, an hour
//! at a time, in the dataset's order (see [`super::SortedCells`]).
//!
//! A run is a list of fixed-size records: the key's six words and the count, little-endian.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
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

#[derive(Debug, Clone, Copy)]
struct Run {
    start: u64,
    cells: u64,
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

    /// Appends `cells`, sorted by key, as one run. On an error nothing is recorded: the
    /// caller still holds the cells.
    pub(crate) fn append(&mut self, cells: &[(PackedKey, i64)]) -> io::Result<()> {
        let mut file = &*self.file;
        file.seek(SeekFrom::Start(self.len))?;
        let mut out = BufWriter::with_capacity(64 * 1024, file);
        for (key, count) in cells {
            for word in key.to_words() {
                out.write_all(&word.to_le_bytes())?;
            }
            out.write_all(&count.to_le_bytes())?;
        }
        out.flush()?;
        self.runs.push(Run {
            start: self.len,
            cells: cells.len() as u64,
        });
        self.len += (cells.len() * CELL_BYTES) as u64;
        Ok(())
    }

    /// Cells in all runs (a cell in several runs counts once per run).
    pub(crate) fn cells(&self) -> u64 {
        self.runs.iter().map(|run| run.cells).sum()
    }

    /// A reader for each run.
    pub(crate) fn readers(&self) -> impl Iterator<Item = RunReader> + '_ {
        self.runs.iter().map(|run| RunReader {
            file: Arc::clone(&self.file),
            next: run.start,
            left: run.cells,
            buf: Vec::new(),
            pos: 0,
        })
    }
}

/// Reads one run back in order, a block of cells at a time.
pub(crate) struct RunReader {
    file: Arc<File>,
    /// File offset of the first cell not yet read.
    next: u64,
    /// Cells of the run not yet read.
    left: u64,
    buf: Vec<(PackedKey, i64)>,
    pos: usize,
}

impl RunReader {
    /// The next cell, without consuming it.
    pub(crate) fn peek(&mut self) -> io::Result<Option<(PackedKey, i64)>> {
        if self.pos == self.buf.len() {
            self.fill()?;
        }
        Ok(self.buf.get(self.pos).copied())
    }

    /// Consumes the cell [`RunReader::peek`] returned.
    pub(crate) fn advance(&mut self) {
        self.pos += 1;
    }

    fn fill(&mut self) -> io::Result<()> {
        self.buf.clear();
        self.pos = 0;
        let cells = self.left.min(READ_CELLS as u64) as usize;
        if cells == 0 {
            return Ok(());
        }
        let mut bytes = vec![0u8; cells * CELL_BYTES];
        let mut file = &*self.file;
        file.seek(SeekFrom::Start(self.next))?;
        file.read_exact(&mut bytes)?;
        self.next += bytes.len() as u64;
        self.left -= cells as u64;
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        self.buf.extend(bytes.chunks_exact(CELL_BYTES).map(|cell| {
            let mut words = [0u64; WORDS];
            for (w, b) in words.iter_mut().zip(cell.chunks_exact(8)) {
                *w = word(b);
            }
            let count = word(&cell[WORDS * 8..]) as i64;
            (PackedKey::from_words(words), count)
        }));
        Ok(())
    }
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
        for mut reader in file.readers() {
            let mut run = Vec::new();
            while let Some(cell) = reader.peek().unwrap() {
                run.push(cell);
                reader.advance();
            }
            read.push(run);
        }
        assert_eq!(read, vec![first, vec![], second]);
    }
}
