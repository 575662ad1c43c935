//! Compression sniffing and opening of one input.
//!
//! An [`InputFile`] enters; an [`Opened`] source leaves: a memory map for plain regular files
//! (so the pipeline can cut it into chunks for all cores), a decoding stream for everything else.
//! A compressed regular file is mapped too, and its decoder reads the map in place.
//! The compression is always taken from the first bytes of the data, never from the file name:
//! rotated logs are often renamed, and `logrotate` sometimes leaves a `.gz` name on plain text.

use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};

use super::{InputError, InputFile};
use crate::progress::{Progress, ProgressReader};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Bytes needed to recognise every supported format.
const SNIFF_LEN: usize = 4;
/// Read buffer between a stream (stdin, a pipe, a file under `Mapping::Never`) and its
/// decoder; large enough that the decoder rarely waits on a system call, small enough to stay
/// in cache. A mapped compressed file needs none (see [`MappedReader`]).
const COMPRESSED_BUFFER: usize = 256 * 1024;

/// How the bytes of an input are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Plain text.
    None,
    /// gzip, possibly several concatenated members.
    Gzip,
    /// Zstandard, possibly several frames.
    Zstd,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "plain",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

/// Recognises the compression from the first bytes of the data (gzip `1f 8b`, zstd
/// `28 b5 2f fd`). Anything else, including a prefix too short to tell, is plain text.
pub fn sniff(prefix: &[u8]) -> Compression {
    if prefix.starts_with(&GZIP_MAGIC) {
        Compression::Gzip
    } else if prefix.starts_with(&ZSTD_MAGIC) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// An input ready to be read.
pub enum Opened {
    /// A plain regular file mapped into memory: cut it with [`super::split_chunks`].
    Mapped(memmap2::Mmap),
    /// Everything else (gzip, zstd, stdin, pipes, and plain files when mapping is off or fails),
    /// already decoded: read it with [`super::BlockReader`] or [`super::spawn_block_reader`].
    Stream(Box<dyn Read + Send>),
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Opened::Mapped(map) => write!(f, "Opened::Mapped({} bytes)", map.len()),
            Opened::Stream(_) => f.write_str("Opened::Stream(..)"),
        }
    }
}

/// Which regular files [`open_with`] memory-maps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mapping {
    /// Plain files are mapped for the pipeline to cut; compressed ones are mapped and their
    /// decoder reads the map in place.
    #[default]
    All,
    /// Compressed files are mapped as by default, plain files read as streams: the decode-only
    /// measurement reads plain files with read(2) and decodes compressed ones as `ingest` does.
    CompressedOnly,
    /// Nothing is mapped: plain files are streams too, and compressed files are read through a
    /// buffer. Safer when another process may truncate the file while it is read (see
    /// [`map_file`]'s safety note).
    Never,
}

/// Knobs for [`open_with`].
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Which regular files are memory-mapped.
    pub mapping: Mapping,
    /// Progress to advance by the number of bytes read from disk (compressed bytes for compressed
    /// inputs, so it matches the sizes [`super::discover`] reports; a mapped compressed file
    /// counts the bytes its decoder consumes). Mapped plain files are not counted here: the
    /// caller advances progress per chunk it parses.
    pub progress: Option<Progress>,
}

/// Opens an input with default options (plain regular files are memory-mapped).
///
/// # Errors
///
/// [`InputError::NotFound`] if the file vanished since discovery, [`InputError::Io`] if it cannot
/// be opened or its first bytes cannot be read.
pub fn open(file: &InputFile) -> Result<(Opened, Compression), InputError> {
    open_with(file, &OpenOptions::default())
}

/// Opens an input: sniffs the compression and returns a map or a decoding stream.
///
/// # Errors
///
/// As [`open`]. Damaged compressed data is only noticed while reading the stream; those errors
/// come from the reader and are turned into [`InputError::Corrupt`] by
/// [`InputError::from_read`].
pub fn open_with(
    file: &InputFile,
    options: &OpenOptions,
) -> Result<(Opened, Compression), InputError> {
    let io_error = |source: io::Error| match source.kind() {
        io::ErrorKind::NotFound => InputError::NotFound {
            path: file.name.clone().into(),
        },
        _ => InputError::Io {
            path: file.name.clone().into(),
            source,
        },
    };
    let Some(path) = &file.path else {
        let stdin: Box<dyn Read + Send> = Box::new(io::stdin());
        return stream(stdin, options).map_err(io_error);
    };
    let mut handle = File::open(path).map_err(io_error)?;
    let metadata = handle.metadata().map_err(io_error)?;
    if !metadata.is_file() || options.mapping == Mapping::Never {
        return stream(Box::new(handle), options).map_err(io_error);
    }
    let prefix = read_prefix(&mut handle).map_err(io_error)?;
    let compression = sniff(&prefix);
    // A compressed file is mapped unless nothing is; a plain one only when all are. An empty
    // file cannot be mapped.
    let mapped = match compression {
        Compression::None => metadata.len() > 0 && options.mapping == Mapping::All,
        Compression::Gzip | Compression::Zstd => true,
    };
    // SAFETY: see `map_file`; bouncestat reads finished log files. Users who ingest a file that
    // is being truncated at the same time can pass `--no-mmap` (`Mapping::Never`).
    if mapped && let Ok(map) = unsafe { map_file(&handle) } {
        if compression == Compression::None {
            return Ok((Opened::Mapped(map), compression));
        }
        let raw = MappedReader {
            map,
            at: 0,
            progress: options.progress.clone(),
        };
        return decoder(raw, compression)
            .map(|decoded| (Opened::Stream(decoded), compression))
            .map_err(io_error);
    }
    // Empty, not mappable, or a plain file to stream: read from the start again, re-using
    // the prefix.
    let rest: Box<dyn Read + Send> = Box::new(Cursor::new(prefix).chain(handle));
    stream(rest, options).map_err(io_error)
}

/// How much of a mapped compressed file its decoder is offered at a time.
const MAPPED_WINDOW: usize = 1 << 20;

/// A mapped compressed file, which its decoder reads in place: a `read(2)` into a buffer would
/// copy every compressed byte once more, on the decoder thread, the slowest stage of a
/// compressed ingest. Counts the bytes the decoder consumes as progress.
struct MappedReader {
    map: memmap2::Mmap,
    at: usize,
    progress: Option<Progress>,
}

impl BufRead for MappedReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let end = self.map.len().min(self.at + MAPPED_WINDOW);
        Ok(&self.map[self.at..end])
    }

    fn consume(&mut self, amount: usize) {
        let amount = amount.min(self.map.len() - self.at);
        self.at += amount;
        if let Some(progress) = &self.progress {
            progress.inc(amount as u64);
        }
    }
}

impl Read for MappedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Maps a whole file read-only.
///
/// # Safety
///
/// The map is only sound while no one truncates or rewrites the file: a shrinking file makes
/// later reads of the map fault (SIGBUS), and a rewritten one changes bytes the parser already
/// borrows. Appending is harmless, the map only covers the length at the time of mapping.
/// Rotated logs are never rewritten; for a live log being rotated by `copytruncate` at the
/// moment of reading, use [`Mapping::Never`].
pub unsafe fn map_file(file: &File) -> io::Result<memmap2::Mmap> {
    // SAFETY: the caller upholds the contract above.
    let map = unsafe { memmap2::Mmap::map(file)? };
    #[cfg(unix)]
    {
        // Only a hint; chunks are read roughly front to back.
        let _ = map.advise(memmap2::Advice::Sequential);
    }
    Ok(map)
}

/// Reads up to [`SNIFF_LEN`] bytes, looping because pipes may deliver them one at a time.
fn read_prefix(reader: &mut dyn Read) -> io::Result<Vec<u8>> {
    let mut prefix = vec![0; SNIFF_LEN];
    let mut filled = 0;
    while filled < SNIFF_LEN {
        match reader.read(&mut prefix[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    prefix.truncate(filled);
    Ok(prefix)
}

/// Sniffs a raw stream and puts the matching decoder on top of it.
fn stream(
    mut raw: Box<dyn Read + Send>,
    options: &OpenOptions,
) -> io::Result<(Opened, Compression)> {
    if let Some(progress) = &options.progress {
        raw = Box::new(ProgressReader::new(raw, progress.clone()));
    }
    let prefix = read_prefix(&mut raw)?;
    let compression = sniff(&prefix);
    let raw = BufReader::with_capacity(COMPRESSED_BUFFER, Cursor::new(prefix).chain(raw));
    Ok((Opened::Stream(decoder(raw, compression)?), compression))
}

/// `raw` decoded as `compression` says.
fn decoder(
    raw: impl BufRead + Send + 'static,
    compression: Compression,
) -> io::Result<Box<dyn Read + Send>> {
    Ok(match compression {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(raw)),
        // `zstd`'s decoder reads every frame until the end of input unless told `single_frame`.
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(raw)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniff_recognises_magic_bytes_only() {
        assert_eq!(sniff(&[0x1f, 0x8b, 0x08, 0x00]), Compression::Gzip);
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0x00]), Compression::Zstd);
        assert_eq!(sniff(b"Feb 14 06:25:01 mx1 postfix"), Compression::None);
        assert_eq!(sniff(&[0x1f]), Compression::None);
        assert_eq!(sniff(&[0x28, 0xb5, 0x2f]), Compression::None);
        assert_eq!(sniff(b""), Compression::None);
    }

    #[test]
    fn read_prefix_collects_bytes_from_a_trickling_reader() {
        struct OneByte(Vec<u8>, usize);
        impl Read for OneByte {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.1 >= self.0.len() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[self.1];
                self.1 += 1;
                Ok(1)
            }
        }
        let mut reader = OneByte(vec![0x28, 0xb5, 0x2f, 0xfd, 1, 2], 0);
        let prefix = read_prefix(&mut reader).unwrap();
        assert_eq!(prefix.len(), SNIFF_LEN);
        assert_eq!(sniff(&prefix), Compression::Zstd);
    }
}
