//! From discovered input files to blocks of lines, several files at a time.
//!
//! Plain regular files are memory-mapped and cut into newline-aligned ranges (no copy);
//! compressed files and stdin are decoded on a thread of their own, one block of whole lines
//! at a time, so decompression overlaps parsing. Up to [`ReadOptions::open_inputs`] files are
//! open at once, in input order, so several compressed files are decoded on several cores;
//! [`FileBlocks`] hands out whichever of their blocks is ready, and the pipeline puts the
//! results back in input order. A file that cannot be opened, or that breaks off (corrupt or
//! truncated gzip/zstd), yields an [`InputFailure`] at that point; blocks read before stay
//! counted and the other files are read.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::task::{Poll, Waker};
use std::time::SystemTime;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::{Admission, Block, BlockData, DETECT_BYTES, InputFailure, Item, Source};
use crate::format::Format;
use crate::format::syslog::TimeContext;
use crate::input::{
    self, BlockReader, BlockStream, Compression, InputFile, Mapping, OpenOptions, Opened,
};
use crate::progress::Progress;

/// How to read the inputs.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    pub timezone: TimeZone,
    /// Year for year-less timestamps (see [`TimeContext`]); default: from the file's mtime.
    pub year: Option<i16>,
    /// Target size of a mapped file's blocks.
    pub block_bytes: usize,
    /// Target size of a stream's blocks (see [`input::STREAM_BLOCK_BYTES`]).
    pub stream_block_bytes: usize,
    pub no_mmap: bool,
    /// Force a format instead of detecting it per file.
    pub format: Option<Format>,
    /// How many inputs are read at once (at least 1). Each compressed one is decoded on a
    /// thread of its own, and holds a few blocks of memory while it runs ahead.
    pub open_inputs: usize,
}

/// The format to read a file as: forced, else detected from its first bytes, else Postfix
/// (whose parser then counts what it cannot read as rejected lines).
fn format_of(forced: Option<Format>, first_bytes: &[u8]) -> Format {
    forced
        .or_else(|| Format::detect(&first_bytes[..first_bytes.len().min(DETECT_BYTES)]))
        .unwrap_or(Format::Postfix)
}

/// One input being read.
struct Lane {
    input: usize,
    /// The input's name, for messages.
    name: String,
    time: TimeContext,
    /// The input's format; for streams, decided on their first block.
    format: Option<Format>,
    state: LaneState,
}

enum LaneState {
    Mapped {
        map: Arc<memmap2::Mmap>,
        ranges: std::vec::IntoIter<std::ops::Range<usize>>,
    },
    /// Line blocks decoded on a thread of their own.
    Stream(BlockStream),
    /// A whole non-line-based input (an ESP export read from a stream), read to its end on a
    /// thread of its own and handed out as one block.
    Whole(Receiver<Result<Vec<u8>, String>>),
    /// The input failed; its end follows.
    Failed(InputFailure),
    Ended,
}

impl Lane {
    /// Whether the lane's blocks only come as a decoder delivers them.
    fn is_stream(&self) -> bool {
        matches!(self.state, LaneState::Stream(_) | LaneState::Whole(_))
    }

    /// The lane's next item, if it has one ready. `Item::End` comes last, once.
    fn poll(&mut self, forced: Option<Format>) -> Poll<Item<'static>> {
        let block = |data, format, oversized, counts_progress| {
            Poll::Ready(Item::Block(Block {
                input: self.input,
                data,
                format,
                time: self.time.clone(),
                oversized,
                counts_progress,
            }))
        };
        let format = self.format.unwrap_or(Format::Postfix);
        let failure = |message| {
            Poll::Ready(Item::Failed(InputFailure {
                input: self.input,
                message,
            }))
        };
        let (item, next) = match &mut self.state {
            LaneState::Mapped { map, ranges } => match ranges.next() {
                Some(range) => {
                    return block(
                        BlockData::Mapped(Arc::clone(map), range),
                        format,
                        false,
                        true,
                    );
                }
                None => (Poll::Ready(Item::End(self.input)), LaneState::Ended),
            },
            LaneState::Stream(stream) => match stream.poll_next() {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(owned))) => {
                    let format = *self
                        .format
                        .get_or_insert_with(|| format_of(forced, &owned.data));
                    return block(
                        BlockData::Decoded(owned.data, stream.recycler()),
                        format,
                        owned.oversized.is_some(),
                        false,
                    );
                }
                Poll::Ready(Some(Err(err))) => (failure(err.to_string()), LaneState::Ended),
                Poll::Ready(None) => (Poll::Ready(Item::End(self.input)), LaneState::Ended),
            },
            LaneState::Whole(receiver) => match receiver.try_recv() {
                Err(TryRecvError::Empty) => return Poll::Pending,
                Ok(Ok(data)) if !data.is_empty() => (
                    block(BlockData::Owned(data), format, false, false),
                    LaneState::Ended,
                ),
                Ok(Ok(_)) => (Poll::Ready(Item::End(self.input)), LaneState::Ended),
                Ok(Err(message)) => (failure(message), LaneState::Ended),
                // Its thread panicked: the input must not look complete.
                Err(TryRecvError::Disconnected) => (
                    failure(format!("{}: the reading thread panicked", self.name)),
                    LaneState::Ended,
                ),
            },
            LaneState::Failed(failure) => {
                (Poll::Ready(Item::Failed(failure.clone())), LaneState::Ended)
            }
            LaneState::Ended => return Poll::Ready(Item::End(self.input)),
        };
        self.state = next;
        item
    }
}

/// Reads up to [`DETECT_BYTES`] from the start of a stream (fewer only at its end).
fn read_head(reader: &mut dyn Read, head: &mut Vec<u8>) -> io::Result<()> {
    reader.take(DETECT_BYTES as u64).read_to_end(head)?;
    Ok(())
}

/// The blocks of all inputs, a [`Source`] for [`super::run`]. Up to `open_inputs` inputs are
/// read at once, in input order: each compressed one on its decoder thread, so several files
/// are decoded on several cores, while the run still absorbs their results in input order.
pub struct FileBlocks<'f> {
    files: &'f [InputFile],
    options: ReadOptions,
    progress: Progress,
    next_input: usize,
    /// The inputs being read, in input order.
    lanes: VecDeque<Lane>,
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
            lanes: VecDeque::new(),
            compression: vec![None; files.len()],
        }
    }

    fn time_context(&self, file: &InputFile) -> TimeContext {
        let modified = file.modified.unwrap_or_else(SystemTime::now);
        let reference = Timestamp::try_from(modified).unwrap_or_else(|_| Timestamp::now());
        TimeContext::new(self.options.timezone.clone(), reference, self.options.year)
    }

    /// Opens input `index` as a lane; a lane in the failed state if it cannot be opened.
    fn open(&mut self, index: usize, waker: &Waker) -> Lane {
        let file = &self.files[index];
        let mut lane = Lane {
            input: index,
            name: file.name.clone(),
            time: self.time_context(file),
            format: None,
            state: LaneState::Ended,
        };
        lane.state = match self.open_state(index, &mut lane.format, waker) {
            Ok(state) => state,
            Err(message) => LaneState::Failed(InputFailure {
                input: index,
                message,
            }),
        };
        lane
    }

    fn open_state(
        &mut self,
        index: usize,
        format: &mut Option<Format>,
        waker: &Waker,
    ) -> Result<LaneState, String> {
        let file = &self.files[index];
        let open_options = OpenOptions {
            mapping: if self.options.no_mmap {
                Mapping::Never
            } else {
                Mapping::All
            },
            progress: Some(self.progress.clone()),
        };
        let (opened, compression) =
            input::open_with(file, &open_options).map_err(|err| err.to_string())?;
        self.compression[index] = Some(compression);
        let read_error =
            |err| input::InputError::from_read(&file.name, compression, err).to_string();
        Ok(match opened {
            Opened::Mapped(map) => {
                let detected = format_of(self.options.format, &map);
                *format = Some(detected);
                let ranges = if detected.is_line_based() {
                    input::split_chunks_tapered(&map, self.options.block_bytes)
                } else {
                    super::whole_input(map.len())
                };
                LaneState::Mapped {
                    map: Arc::new(map),
                    ranges: ranges.into_iter(),
                }
            }
            Opened::Stream(mut reader) => {
                // Detect the format on the first bytes, then either read line blocks on a
                // decoder thread, or (an ESP export) the whole stream into one block.
                let mut head = Vec::new();
                read_head(&mut reader, &mut head).map_err(read_error)?;
                let detected = format_of(self.options.format, &head);
                if !detected.is_line_based() {
                    *format = Some(detected);
                    return spawn_whole_reader(reader, head, &file.name, compression, waker);
                }
                let reader: Box<dyn Read + Send> = Box::new(io::Cursor::new(head).chain(reader));
                let reader = BlockReader::new(reader, self.options.stream_block_bytes)
                    .with_max_line(crate::input::STREAM_MAX_LINE);
                let stream = input::spawn_block_reader_with_waker(
                    reader,
                    &file.name,
                    compression,
                    2,
                    waker.clone(),
                )
                .map_err(|err| err.to_string())?;
                LaneState::Stream(stream)
            }
        })
    }
}

/// Reads the rest of a stream after `head` on a thread of its own, then wakes `waker`.
fn spawn_whole_reader(
    mut reader: Box<dyn Read + Send>,
    mut head: Vec<u8>,
    name: &str,
    compression: Compression,
    waker: &Waker,
) -> Result<LaneState, String> {
    let (sender, receiver) = mpsc::sync_channel(1);
    let waker = waker.clone();
    let thread_name = name.to_string();
    std::thread::Builder::new()
        .name(format!("read {name}"))
        .spawn(move || {
            // Declared first, so dropped last: after the sender, also if reading panics.
            let _wake_on_exit = input::WakeOnExit(Some(waker));
            let sender = sender;
            let read = reader.read_to_end(&mut head).map(|_| head).map_err(|err| {
                input::InputError::from_read(&thread_name, compression, err).to_string()
            });
            let _ = sender.send(read);
        })
        .map_err(|err| format!("{name}: cannot start a reading thread ({err})"))?;
    Ok(LaneState::Whole(receiver))
}

impl<'f> Source<'static> for FileBlocks<'f> {
    fn poll_next(&mut self, admission: Admission, waker: &Waker) -> Poll<Option<Item<'static>>> {
        while let Some(file) = self.files.get(self.next_input) {
            let full = self.lanes.len() >= self.options.open_inputs.max(1);
            // Opening reads the first bytes, which stdin or a pipe may be slow to give: such
            // an input is only opened once it is the first, not to hold up the ones before.
            if full || (file.size.is_none() && !self.lanes.is_empty()) {
                break;
            }
            let lane = self.open(self.next_input, waker);
            self.next_input += 1;
            self.lanes.push_back(lane);
        }
        if self.lanes.is_empty() {
            return Poll::Ready(None);
        }
        // Streams first: their decoders stop while their blocks wait, and a mapped file's
        // blocks are always ready. Each kind in input order, so the head input goes first.
        let forced = self.options.format;
        for streams in [true, false] {
            for position in 0..self.lanes.len() {
                let lane = &mut self.lanes[position];
                if lane.is_stream() != streams || !admission.admits(lane.input) {
                    continue;
                }
                if let Poll::Ready(item) = lane.poll(forced) {
                    if matches!(item, Item::End(_)) {
                        self.lanes.remove(position);
                    }
                    return Poll::Ready(Some(item));
                }
            }
        }
        Poll::Pending
    }
}
