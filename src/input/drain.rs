//! Decode-only reading: one input read to its end through the stream path `ingest` uses for
//! compressed files, with every block thrown away.
//!
//! An [`InputFile`] enters; [`Drained`] (how many bytes it decoded to) leaves. The bytes take the
//! same road as in `ingest`: [`super::open_with`] sniffs the compression and puts the decoder on
//! the file, a [`BlockReader`] cuts the decoded stream into blocks of whole lines, and
//! [`spawn_block_reader`] runs it on a thread of its own while this thread receives the blocks
//! and hands their buffers back. Only the parsing is missing, so the time this takes is the
//! ceiling on ingest's throughput over a compressed file (the `decode` subcommand and
//! `benches/compare.sh` compare the two).

use super::{
    BlockReader, Compression, InputError, InputFile, Mapping, OpenOptions, Opened, open_with,
    spawn_block_reader,
};

/// Knobs for [`drain`]. The defaults are the ones `ingest` reads compressed files with, so the
/// measurement is of the same work.
#[derive(Debug, Clone)]
pub struct DrainOptions {
    /// Target size of a block ([`STREAM_BLOCK_BYTES`], as `ingest` reads streams).
    pub block_size: usize,
    /// Longest line kept whole; see [`BlockReader::with_max_line`].
    pub max_line: usize,
    /// Blocks the decoding thread may run ahead of the consumer.
    pub depth: usize,
}

impl Default for DrainOptions {
    fn default() -> Self {
        DrainOptions {
            block_size: STREAM_BLOCK_BYTES,
            max_line: STREAM_MAX_LINE,
            depth: 2,
        }
    }
}

/// Target size of the blocks `ingest` cuts a stream (a compressed file, stdin) into. Unlike a
/// mapped file's blocks, which are views of the page cache, each of these is a buffer of its
/// own: the decoder fills one, a few wait in its channel and a few more are being parsed, so
/// the peak memory of a compressed input grows with this size. 2 MiB is still about 12 k lines
/// per block. On the 1 GiB benchmark log's gzip copy, 2 threads, blocks of 16, 4, 2 and 1 MiB
/// peaked at 193, 61, 37 and 31 MiB of anonymous memory in the same time (one series; the
/// times are in docs/performance.md).
pub const STREAM_BLOCK_BYTES: usize = 2 << 20;

/// The longest line the ingest pipeline keeps whole when it reads a stream. It matters for
/// speed as well as for memory: with blocks larger than this, [`BlockReader`] checks every
/// block's line lengths, and a decode-only run has to pay for that too to be a fair floor.
pub const STREAM_MAX_LINE: usize = 1 << 20;

/// What reading one input to its end gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// The compression sniffed from the content.
    pub compression: Compression,
    /// Decoded bytes, the full length of oversized lines included (their tails are read and
    /// dropped by the block reader, but they were decoded all the same).
    pub bytes: u64,
    /// Blocks received.
    pub blocks: u64,
}

/// Opens `file`, decodes it to the end on a decoding thread and discards every block.
///
/// Plain files are read with read(2) rather than memory-mapped, so they take the stream path
/// too; for them this measures reading, not decoding. Compressed files are mapped and decoded
/// in place, as `ingest` reads them.
///
/// # Errors
///
/// The [`InputError`] that stopped the input: it could not be opened or read, or its compressed
/// data is damaged ([`InputError::Corrupt`]). Either way it names the file.
pub fn drain(file: &InputFile, options: &DrainOptions) -> Result<Drained, InputError> {
    let open_options = OpenOptions {
        mapping: Mapping::CompressedOnly,
        ..OpenOptions::default()
    };
    let (opened, compression) = open_with(file, &open_options)?;
    let Opened::Stream(stream) = opened else {
        unreachable!("only compressed files are mapped, and they are decoded as streams");
    };
    let reader = BlockReader::new(stream, options.block_size).with_max_line(options.max_line);
    let mut blocks = spawn_block_reader(reader, &file.name, compression, options.depth)?;
    let mut drained = Drained {
        compression,
        bytes: 0,
        blocks: 0,
    };
    while let Some(block) = blocks.next() {
        let block = block?;
        drained.bytes += block.oversized.unwrap_or(block.data.len() as u64);
        drained.blocks += 1;
        blocks.recycle(block.data);
    }
    Ok(drained)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn file_with(dir: &std::path::Path, name: &str, content: &[u8]) -> InputFile {
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        InputFile {
            name: path.display().to_string(),
            size: Some(content.len() as u64),
            path: Some(path),
            modified: None,
        }
    }

    #[test]
    fn counts_decoded_bytes_of_every_compression() {
        let dir = tempfile::tempdir().unwrap();
        let text: Vec<u8> = (0..10_000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gzip.write_all(&text).unwrap();
        let inputs = [
            (file_with(dir.path(), "plain", &text), Compression::None),
            (
                file_with(dir.path(), "log.gz", &gzip.finish().unwrap()),
                Compression::Gzip,
            ),
            (
                file_with(
                    dir.path(),
                    "log.zst",
                    &zstd::encode_all(&text[..], 1).unwrap(),
                ),
                Compression::Zstd,
            ),
        ];
        // Small blocks, so that buffers are recycled many times.
        let options = DrainOptions {
            block_size: 4096,
            ..DrainOptions::default()
        };
        for (file, compression) in inputs {
            let drained = drain(&file, &options).unwrap();
            assert_eq!(drained.compression, compression);
            assert_eq!(drained.bytes, text.len() as u64, "{}", file.name);
            assert!(drained.blocks > 1);
        }
    }

    #[test]
    fn oversized_lines_count_with_their_full_length() {
        let dir = tempfile::tempdir().unwrap();
        let mut text = b"short\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', 300));
        text.extend(b"\nshort again\n");
        let file = file_with(dir.path(), "long", &text);
        let options = DrainOptions {
            block_size: 64,
            max_line: 100,
            depth: 1,
        };
        assert_eq!(drain(&file, &options).unwrap().bytes, text.len() as u64);
    }
}
