//! Input layer: finds the log files to read, sniffs their compression, opens them, and cuts
//! their bytes into newline-aligned pieces that the parsers can work on without copying.
//!
//! Data enters as command-line arguments (files, directories, glob patterns, `-` for stdin) and
//! leaves as byte slices made of whole lines:
//!
//! ```text
//! args --discover--> [InputFile] --open--> Opened::Mapped(mmap) --split_chunks--> ranges (rayon)
//!                                          Opened::Stream(read) --BlockReader / spawn_block_reader--> blocks
//! ```
//!
//! * [`discover`] expands the arguments, removes duplicates and puts rotated sets oldest first.
//! * [`open`] sniffs gzip/zstd from the magic bytes (never from the name) and either maps a plain
//!   regular file or wraps everything else in a decoding stream.
//! * [`split_chunks`] cuts a mapped file into newline-aligned ranges for parallel parsing;
//!   [`BlockReader`] reads a stream in blocks of whole lines with a reused buffer, and
//!   [`spawn_block_reader`] runs one on its own thread so that decompression overlaps parsing
//!   (with a waker, several such streams can be read at once through [`BlockStream::poll_next`]).
//! * [`drain`] reads one input to its end down that stream path and discards the blocks: the
//!   decode-only speed that ingest's throughput on compressed files is measured against.
//!
//! Every failure is an [`InputError`] naming the file. All of them concern one input only: the
//! run can continue with the other inputs, and blocks already handed out stay valid.

mod chunk;
mod decompress;
mod discover;
mod drain;
mod newlines;
mod priority;

use std::io;
use std::path::PathBuf;
use std::time::SystemTime;

pub(crate) use chunk::WakeOnExit;
pub use chunk::{
    Block, BlockReader, BlockStream, DEFAULT_MAX_LINE, OwnedBlock, Recycler, spawn_block_reader,
    spawn_block_reader_with_waker, split_chunks, split_chunks_tapered,
};
pub use decompress::{Compression, Mapping, OpenOptions, Opened, map_file, open, open_with, sniff};
pub use discover::{RotationRank, discover, rotation_key};
pub use drain::{DrainOptions, Drained, STREAM_BLOCK_BYTES, STREAM_MAX_LINE, drain};
pub use newlines::for_each_newline;
pub use priority::yield_to_decoders;

/// One input to read: a file found by [`discover`], or standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// Where to read from; `None` means standard input.
    pub path: Option<PathBuf>,
    /// Name shown in messages and progress: the path as given or found, `-` for stdin.
    pub name: String,
    /// Size on disk in bytes (compressed size for compressed files); `None` for stdin and for
    /// files whose size is not known up front (pipes, devices).
    pub size: Option<u64>,
    /// Modification time; the syslog parser uses it to infer the year of year-less timestamps.
    pub modified: Option<SystemTime>,
}

impl InputFile {
    /// The standard-input pseudo file (`-`).
    pub fn stdin() -> InputFile {
        InputFile {
            path: None,
            name: "-".to_string(),
            size: None,
            modified: None,
        }
    }

    /// True for the standard-input pseudo file.
    pub fn is_stdin(&self) -> bool {
        self.path.is_none()
    }
}

/// Sum of the sizes of `files`, the total for [`crate::progress::Progress::new`]; `None` when
/// any size is unknown (stdin, a pipe), so the bar shows a count instead of a wrong percentage.
pub fn total_size(files: &[InputFile]) -> Option<u64> {
    files.iter().map(|file| file.size).sum()
}

/// A problem with one input. Each one is about a single file: the run skips (the rest of) that
/// file and continues with the others, so every message ends by saying so.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The argument names nothing that exists (and is not a glob pattern).
    #[error("{}: no such file or directory; skipped, other inputs are still read", path.display())]
    NotFound { path: PathBuf },
    /// A glob pattern that is not valid glob syntax.
    #[error("{pattern}: invalid glob pattern ({source}); skipped, other inputs are still read")]
    BadGlob {
        pattern: String,
        #[source]
        source: globset::Error,
    },
    /// A valid glob pattern that matched no file.
    #[error("{pattern}: glob pattern matched no file; other inputs are still read")]
    NoMatch { pattern: String },
    /// The operating system refused to list, open or read the file.
    #[error("{}: {source}; skipped from here on, other inputs are still read", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// The compressed data is damaged or cut short. Blocks read before the damage are valid.
    #[error(
        "{}: corrupt or truncated {compression} data ({source}); lines before the damage were read, \
         the rest of this file is skipped, other inputs are still read",
        path.display()
    )]
    Corrupt {
        path: PathBuf,
        compression: Compression,
        #[source]
        source: io::Error,
    },
}

impl InputError {
    /// The path (or `-`) of the input the error is about.
    pub fn path(&self) -> PathBuf {
        match self {
            InputError::NotFound { path }
            | InputError::Io { path, .. }
            | InputError::Corrupt { path, .. } => path.clone(),
            InputError::BadGlob { pattern, .. } | InputError::NoMatch { pattern } => {
                PathBuf::from(pattern)
            }
        }
    }

    /// Turns an error met while reading `name` into the right variant: damaged data in a
    /// compressed stream is [`InputError::Corrupt`], anything else is [`InputError::Io`].
    pub fn from_read(name: &str, compression: Compression, source: io::Error) -> InputError {
        let path = PathBuf::from(name);
        let looks_corrupt = matches!(
            source.kind(),
            io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::UnexpectedEof
        ) || source.kind() == io::ErrorKind::Other;
        if compression != Compression::None && looks_corrupt {
            InputError::Corrupt {
                path,
                compression,
                source,
            }
        } else {
            InputError::Io { path, source }
        }
    }
}
