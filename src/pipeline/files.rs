//! From discovered input files to numbered blocks of lines.
//!
//! Plain regular files are memory-mapped and cut into newline-aligned ranges (no copy);
//! compressed files and stdin are decoded on a thread of their own, one block of whole lines
//! at a time, so decompression overlaps parsing. A file that cannot be opened, or that breaks
//! off (corrupt or truncated gzip/zstd), yields an [`InputFailure`] at that point; blocks read
//! before stay counted and the next file is read.

use std::io::{self, Read};
use std::sync::Arc;
use std::time::SystemTime;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{Block, BlockData, DETECT_BYTES, InputFailure};
use crate::format::Format;
use crate::format::syslog::TimeContext;
use crate::input::{self, BlockReader, BlockStream, Compression, InputFile, OpenOptions, Opened};
use crate::progress::Progress;

/// How to read the inputs.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub timezone: TimeZone,
    /// Year for year-less timestamps (see [`TimeContext`]); default: from the file's mtime.
    pub year: Option<i16>,
    pub block_bytes: usize,
    pub no_mmap: bool,
    /// Force a format instead of detecting it per file.
    pub format: Option<Format>,
}

/// The format to read a file as: forced, else detected from its first bytes, else Postfix
/// (whose parser then counts what it cannot read as rejected lines).
fn format_of(forced: Option<Format>, first_bytes: &[u8]) -> Format {
    forced
        .or_else(|| Format::detect(&first_bytes[..first_bytes.len().min(DETECT_BYTES)]))
        .unwrap_or(Format::Postfix)
}

enum Current {
    None,
    Mapped {
        map: Arc<memmap2::Mmap>,
        ranges: std::vec::IntoIter<std::ops::Range<usize>>,
    },
    Stream(BlockStream),
    /// A whole non-line-based input (an ESP export read from a stream), handed out once.
    Whole(Option<Vec<u8>>),
}

/// Reads up to [`DETECT_BYTES`] from the start of a stream (fewer only at its end).
fn read_head(reader: &mut dyn Read, head: &mut Vec<u8>) -> io::Result<()> {
    reader.take(DETECT_BYTES as u64).read_to_end(head)?;
    Ok(())
}

/// Iterator over the blocks of all inputs, in input order.
pub struct FileBlocks<'f> {
    files: &'f [InputFile],
    options: ReadOptions,
    progress: Progress,
    next_input: usize,
    input: usize,
    time: Option<TimeContext>,
    /// The current input's format; for streams, decided on its first block.
    format: Option<Format>,
    current: Current,
    /// The compression found for each input (None until opened).
    pub compression: Vec<Option<Compression>>,
}

impl<'f> FileBlocks<'f> {
    pub fn new(files: &'f [InputFile], options: ReadOptions, progress: Progress) -> Self {
        FileBlocks {
            files,
            options,
            progress,
            next_input: 0,
            input: 0,
            time: None,
            format: None,
            current: Current::None,
            compression: vec![None; files.len()],
        }
    }

    fn time_context(&self, file: &InputFile) -> TimeContext {
        let modified = file.modified.unwrap_or_else(SystemTime::now);
        let reference = Timestamp::try_from(modified).unwrap_or_else(|_| Timestamp::now());
        TimeContext::new(self.options.timezone.clone(), reference, self.options.year)
    }

    /// Opens the next input; `Some(Err)` if it cannot be opened.
    fn open_next(&mut self) -> Option<Result<(), InputFailure>> {
        let index = self.next_input;
        let file = self.files.get(index)?;
        self.next_input += 1;
        self.input = index;
        self.time = Some(self.time_context(file));
        let open_options = OpenOptions {
            no_mmap: self.options.no_mmap,
            progress: Some(self.progress.clone()),
        };
        let failure = |message: String| InputFailure {
            input: index,
            message,
        };
        let (opened, compression) = match input::open_with(file, &open_options) {
            Ok(opened) => opened,
            Err(err) => return Some(Err(failure(err.to_string()))),
        };
        self.compression[index] = Some(compression);
        self.format = None;
        self.current = match opened {
            Opened::Mapped(map) => {
                let format = format_of(self.options.format, &map);
                self.format = Some(format);
                let ranges = if format.is_line_based() {
                    input::split_chunks(&map, self.options.block_bytes)
                } else {
                    super::whole_input(map.len())
                };
                Current::Mapped {
                    map: Arc::new(map),
                    ranges: ranges.into_iter(),
                }
            }
            Opened::Stream(mut reader) => {
                // Detect the format on the first bytes, then either read line blocks on a
                // decoder thread, or (an ESP export) the whole stream into one block.
                let mut head = Vec::new();
                if let Err(err) = read_head(&mut reader, &mut head) {
                    return Some(Err(failure(
                        input::InputError::from_read(&file.name, compression, err).to_string(),
                    )));
                }
                let format = format_of(self.options.format, &head);
                if !format.is_line_based() {
                    self.format = Some(format);
                    if let Err(err) = reader.read_to_end(&mut head) {
                        return Some(Err(failure(
                            input::InputError::from_read(&file.name, compression, err).to_string(),
                        )));
                    }
                    self.current = Current::Whole(Some(head));
                    return Some(Ok(()));
                }
                let reader: Box<dyn Read + Send> = Box::new(io::Cursor::new(head).chain(reader));
                let reader = BlockReader::new(reader, self.options.block_bytes)
                    .with_max_line(crate::input::STREAM_MAX_LINE);
                match input::spawn_block_reader(reader, &file.name, compression, 2) {
                    Ok(stream) => Current::Stream(stream),
                    Err(err) => return Some(Err(failure(err.to_string()))),
                }
            }
        };
        Some(Ok(()))
    }
}

impl<'f> Iterator for FileBlocks<'f> {
    type Item = Result<Block<'static>, InputFailure>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let time = || self.time.clone().expect("time context set when opened");
            match &mut self.current {
                Current::Mapped { map, ranges } => {
                    if let Some(range) = ranges.next() {
                        return Some(Ok(Block {
                            input: self.input,
                            data: BlockData::Mapped(Arc::clone(map), range),
                            format: self.format.unwrap_or(Format::Postfix),
                            time: time(),
                            oversized: false,
                            counts_progress: true,
                        }));
                    }
                }
                Current::Stream(stream) => match stream.next() {
                    Some(Ok(block)) => {
                        let format = *self
                            .format
                            .get_or_insert_with(|| format_of(self.options.format, &block.data));
                        return Some(Ok(Block {
                            input: self.input,
                            data: BlockData::Owned(block.data),
                            format,
                            time: time(),
                            oversized: block.oversized.is_some(),
                            counts_progress: false,
                        }));
                    }
                    Some(Err(err)) => {
                        self.current = Current::None;
                        return Some(Err(InputFailure {
                            input: self.input,
                            message: err.to_string(),
                        }));
                    }
                    None => {}
                },
                Current::Whole(data) => {
                    if let Some(data) = data.take().filter(|d| !d.is_empty()) {
                        return Some(Ok(Block {
                            input: self.input,
                            data: BlockData::Owned(data),
                            format: self.format.unwrap_or(Format::Postfix),
                            time: time(),
                            oversized: false,
                            counts_progress: false,
                        }));
                    }
                }
                Current::None => {}
            }
            self.current = Current::None;
            match self.open_next()? {
                Ok(()) => continue,
                Err(failure) => return Some(Err(failure)),
            }
        }
    }
}
