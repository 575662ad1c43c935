//! Cutting bytes into pieces made of whole lines.
//!
//! Two shapes of input come in and the same shape goes out, runs of complete lines:
//!
//! * a memory-mapped file: [`split_chunks`] returns newline-aligned ranges of about a target size
//!   that rayon workers parse in parallel;
//! * a stream (decompressor, stdin): [`BlockReader`] reads it into one reused buffer and returns
//!   blocks of about `block_size` bytes that end at a line end; [`spawn_block_reader`] runs a
//!   `BlockReader` on its own thread and passes owned, recycled buffers through a bounded channel,
//!   so that decompression of the next block overlaps parsing of the current one.
//!
//! Lines are never copied one by one and never allocated individually. The only unbounded thing
//! in a log is the length of one line, so a line longer than `max_line` bytes (not counting its
//! newline) is handled as in Vector's framing codecs: its first `max_line` bytes come out as one
//! block flagged [`Block::oversized`] (for a rejected-line sample), the rest of it is read and
//! dropped, and reading carries on with the next line. Whether a line is too long depends on the
//! line alone, never on block or read boundaries. Memory stays below about
//! `max_line + 2 * block_size` per reader.

use std::io::{self, Read};
use std::ops::Range;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::task::{Poll, Waker};
use std::thread::{self, JoinHandle};

use memchr::{memchr, memrchr};

use super::{Compression, InputError};

/// Default longest line kept whole. No real log line comes near it; binary junk or a file
/// without newlines does.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024 * 1024;
/// Room read past `max_line` while dropping the rest of an oversized line.
const DISCARD_SCRATCH: usize = 64 * 1024;

/// Splits `data` into consecutive ranges of at least `target` bytes (a `target` of 0 counts as 1)
/// that each end just after a `\n`, except the last, which ends at the end of `data`. The ranges
/// cover `data` exactly, in order, and none is empty; a line longer than `target` stays whole in
/// one range. An empty `data` gives no range.
pub fn split_chunks(data: &[u8], target: usize) -> Vec<Range<usize>> {
    split_by(data, |_| target)
}

/// Like [`split_chunks`], but the last ranges shrink: each is at most a quarter of what is left
/// (and at least a sixteenth of `target`). Workers take blocks in order, so with equal blocks
/// the run ends with one worker parsing the last block while the others wait; with the tail
/// cut finer, they finish within a small block of each other (on a 300 MiB file cut into 16 MiB
/// blocks, the wait was a tenth of the run).
pub fn split_chunks_tapered(data: &[u8], target: usize) -> Vec<Range<usize>> {
    let target = target.max(1);
    split_by(data, |left| target.min((left / 4).max(target / 16)))
}

/// Cuts `data` at the first line end after `size(bytes left)` bytes from each range's start.
fn split_by(data: &[u8], size: impl Fn(usize) -> usize) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let want = start.saturating_add(size(data.len() - start).max(1));
        if want >= data.len() {
            ranges.push(start..data.len());
            break;
        }
        // The range must hold at least the size asked for, so look for the line end from its
        // last byte on.
        let end = match memchr(b'\n', &data[want - 1..]) {
            Some(offset) => want + offset,
            None => data.len(),
        };
        ranges.push(start..end);
        start = end;
    }
    ranges
}

/// A run of bytes returned by [`BlockReader::next_block`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block<'a> {
    /// Whole lines, each ending with `\n`, except in the last block of the stream, whose final
    /// line may lack it (a truncated last line is returned as it is).
    ///
    /// When `oversized` is set, instead the first `max_line` bytes of one overlong line.
    pub data: &'a [u8],
    /// `Some(length)` when `data` is the head of a line longer than `max_line`; `length` is the
    /// full length of that line in bytes, its newline included if it had one. The rest of it was
    /// dropped.
    pub oversized: Option<u64>,
}

/// Like [`Block`], but owning its buffer; produced by [`BlockReader::next_owned_block`] and
/// [`spawn_block_reader`]. Hand `data` back with [`BlockStream::recycle`] (or a
/// [`Recycler`]) when done with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedBlock {
    /// As [`Block::data`].
    pub data: Vec<u8>,
    /// As [`Block::oversized`].
    pub oversized: Option<u64>,
}

/// Reads a stream in blocks of whole lines, reusing one buffer.
///
/// Concatenating the blocks gives back the stream exactly, except for lines longer than
/// `max_line` bytes ([`DEFAULT_MAX_LINE`] unless set with [`with_max_line`](Self::with_max_line)):
/// such a line comes out alone, as its first `max_line` bytes flagged [`Block::oversized`], and
/// the rest of it is read and dropped, so memory stays bounded whatever the input.
///
/// A read error is held back until the complete lines read before it have been returned; then
/// `next_block` returns the error once, and `Ok(None)` after that. For a corrupt gzip or zstd
/// file this means every line decoded before the damage is still delivered.
pub struct BlockReader<R> {
    reader: R,
    /// `buf[start..filled]` holds bytes read but not yet returned; `buf.len()` is the capacity
    /// in use (kept initialised so reads need no `unsafe`).
    buf: Vec<u8>,
    start: usize,
    filled: usize,
    block_size: usize,
    max_line: usize,
    eof: bool,
    pending_error: Option<io::Error>,
}

impl<R: Read> BlockReader<R> {
    /// A reader returning blocks of about `block_size` bytes (at least 1), with
    /// [`DEFAULT_MAX_LINE`] as the longest line kept whole.
    pub fn new(reader: R, block_size: usize) -> BlockReader<R> {
        let block_size = block_size.max(1);
        BlockReader {
            reader,
            buf: vec![0; block_size],
            start: 0,
            filled: 0,
            block_size,
            max_line: DEFAULT_MAX_LINE,
            eof: false,
            pending_error: None,
        }
    }

    /// Sets the longest line kept whole, newline not counted (at least 1 byte); longer lines come
    /// out as one oversized block holding their first `max_line` bytes. Keep it well above the
    /// block size: when it is smaller, every block costs an extra scan for line lengths.
    pub fn with_max_line(mut self, max_line: usize) -> BlockReader<R> {
        self.max_line = max_line.max(1);
        self
    }

    /// The next block, or `None` at the end of the stream.
    ///
    /// # Errors
    ///
    /// The error the underlying reader (or decoder) returned, after the lines read before it.
    /// `Interrupted` is retried and never returned.
    pub fn next_block(&mut self) -> io::Result<Option<Block<'_>>> {
        Ok(self.advance()?.map(|(end, oversized)| Block {
            data: &self.buf[..end],
            oversized,
        }))
    }

    /// As [`next_block`](Self::next_block), but hands the filled buffer out and continues in
    /// `spare` (a buffer from an earlier block, or an empty `Vec`). Only the partial line at the
    /// end of the block is copied.
    ///
    /// # Errors
    ///
    /// As [`next_block`](Self::next_block).
    pub fn next_owned_block(&mut self, mut spare: Vec<u8>) -> io::Result<Option<OwnedBlock>> {
        let Some((end, oversized)) = self.advance()? else {
            return Ok(None);
        };
        let carry = self.filled - self.start;
        let wanted = self.block_size.max(carry);
        if spare.capacity() < wanted {
            // `vec![0; n]` asks the allocator for zeroed memory: fresh pages the OS zeroes on
            // first touch, or, once the allocator reuses freed blocks, a memset here. Either
            // way this thread pays, so consumers hand buffers back (`BlockStream::recycler`).
            spare = vec![0; wanted];
        } else {
            // A recycled buffer: zero-fills only the tail past its previous block's end.
            spare.resize(wanted, 0);
        }
        spare[..carry].copy_from_slice(&self.buf[self.start..self.filled]);
        let mut data = std::mem::replace(&mut self.buf, spare);
        data.truncate(end);
        self.start = 0;
        self.filled = carry;
        Ok(Some(OwnedBlock { data, oversized }))
    }

    /// Finds the next block; returns its end in `buf` (it always starts at 0) and moves `start`
    /// past it.
    fn advance(&mut self) -> io::Result<Option<(usize, Option<u64>)>> {
        self.compact();
        // `buf[..scanned]` is known to hold no newline.
        let mut scanned = 0;
        loop {
            if !self.eof && self.filled < self.block_size {
                self.fill();
                continue;
            }
            if self.filled > self.max_line {
                // Only now can the buffer hold a line longer than `max_line`.
                return Ok(Some(self.cut_checking_lengths()));
            }
            if let Some(offset) = memrchr(b'\n', &self.buf[scanned..self.filled]) {
                let end = scanned + offset + 1;
                self.start = end;
                return Ok(Some((end, None)));
            }
            scanned = self.filled;
            if self.eof {
                if self.filled == 0 {
                    return match self.pending_error.take() {
                        Some(error) => Err(error),
                        None => Ok(None),
                    };
                }
                self.start = self.filled;
                return Ok(Some((self.filled, None)));
            }
            if self.filled == self.buf.len() {
                let grown = (self.buf.len() * 2).min(self.max_line + DISCARD_SCRATCH);
                self.buf.resize(grown, 0);
            }
            self.fill();
        }
    }

    /// The buffer holds more than `max_line` bytes, so a line may be too long: walks the lines
    /// and returns either the lines before the first overlong one, or that line's head. This
    /// makes "too long" depend on the line alone, never on how reads or blocks fell.
    fn cut_checking_lengths(&mut self) -> (usize, Option<u64>) {
        // Usually no line comes near the cap, which a few searches show (the walk below costs
        // a search per line: a tenth of a gzip decoder's time with blocks of 2 MiB).
        if let Some(last) = memrchr(b'\n', &self.buf[..self.filled])
            && lines_surely_within(&self.buf[..last], self.max_line)
        {
            self.start = last + 1;
            return (last + 1, None);
        }
        let mut line_start = 0;
        loop {
            let rest = &self.buf[line_start..self.filled];
            let (content, complete) = match memchr(b'\n', rest) {
                Some(offset) => (offset, true),
                None => (rest.len(), false),
            };
            if content > self.max_line || !complete {
                if line_start > 0 {
                    // Hand out the lines before this one; it is looked at again next time.
                    self.start = line_start;
                    return (line_start, None);
                }
                if !complete {
                    // Since `filled > max_line`, this partial line is already too long.
                    return self.drop_oversized_tail();
                }
                self.start = content + 1;
                return (self.max_line, Some(content as u64 + 1));
            }
            line_start += content + 1;
        }
    }

    /// `buf[..filled]` is part of one line with no newline yet and more than `max_line` bytes:
    /// keeps its first `max_line` bytes and reads and drops the rest of the line.
    fn drop_oversized_tail(&mut self) -> (usize, Option<u64>) {
        let head = self.max_line;
        if self.buf.len() < head + DISCARD_SCRATCH {
            self.buf.resize(head + DISCARD_SCRATCH, 0);
        }
        let mut line_length = self.filled as u64;
        loop {
            self.filled = head;
            if self.eof {
                self.start = head;
                return (head, Some(line_length));
            }
            self.fill();
            let fresh = &self.buf[head..self.filled];
            match memchr(b'\n', fresh) {
                Some(offset) => {
                    line_length += offset as u64 + 1;
                    self.start = head + offset + 1;
                    return (head, Some(line_length));
                }
                None => line_length += fresh.len() as u64,
            }
        }
    }

    /// Moves the unreturned bytes to the front, and gives back memory grown for a long line.
    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
        }
        if self.buf.len() > 2 * self.block_size && self.filled < self.block_size {
            self.buf.truncate(self.block_size);
            self.buf.shrink_to_fit();
        }
    }

    /// One read into the free part of the buffer (which must not be empty). End of stream and
    /// errors both set `eof`; an error is kept to be returned after the buffered lines.
    fn fill(&mut self) {
        debug_assert!(self.filled < self.buf.len());
        loop {
            match self.reader.read(&mut self.buf[self.filled..]) {
                Ok(0) => {
                    self.eof = true;
                    return;
                }
                Ok(read) => {
                    self.filled += read;
                    return;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.pending_error = Some(error);
                    self.eof = true;
                    return;
                }
            }
        }
    }
}

/// Whether no line of `text` (lines that each end at a newline, the last at the end of
/// `text`, which is not included) holds more than `max_line` bytes, if a few searches can tell:
/// `false` means "not known". A line of more than `max_line` bytes, at least `2 * half + 1`
/// for `half = max_line / 2`, covers a whole stretch of `half` bytes starting at a multiple
/// of `half`, without a newline in it. So if every such stretch has a newline, no line is
/// that long, and each search stops at the stretch's first newline.
fn lines_surely_within(text: &[u8], max_line: usize) -> bool {
    // For a cap of 0 or 1 the first stretch is empty, holds no newline, and the answer is no.
    let half = max_line / 2;
    let mut from = 0;
    while from + half <= text.len() {
        if memchr(b'\n', &text[from..from + half]).is_none() {
            return false;
        }
        from += half;
    }
    true
}

/// Blocks of one stream, decoded on a thread of their own. Iterate to receive them in order; the
/// iteration ends after the last block or after the first error.
///
/// Dropping the stream early is fine: the decoding thread notices at its next send and exits.
pub struct BlockStream {
    blocks: Receiver<Result<OwnedBlock, InputError>>,
    recycled: Recycler,
    /// Joined when the channel closes, to tell a finished decoder from one that panicked.
    decoder: Option<JoinHandle<()>>,
    name: String,
}

/// Hands a stream's block buffers back to its decoding thread, from any thread: see
/// [`BlockStream::recycler`].
#[derive(Debug, Clone)]
pub struct Recycler(SyncSender<Vec<u8>>);

impl Recycler {
    /// Returns a block's buffer for reuse. When the pool is full, or the decoder has ended,
    /// the buffer is simply freed.
    pub fn recycle(&self, buffer: Vec<u8>) {
        let _ = self.0.try_send(buffer);
    }
}

impl BlockStream {
    /// Returns a block's buffer for reuse, so a long stream needs only a few allocations.
    pub fn recycle(&self, buffer: Vec<u8>) {
        self.recycled.recycle(buffer);
    }

    /// A handle that returns buffers to this stream's decoder from other threads (the
    /// workers a block is parsed on). A buffer that comes back is filled again as it is;
    /// a fresh one is zeroed memory first, which the decoder's thread pays for: a `memset`
    /// once the allocator reuses freed blocks, page faults before that.
    pub fn recycler(&self) -> Recycler {
        self.recycled.clone()
    }

    /// The next block if the decoder has one ready, without waiting: `Poll::Pending` when it
    /// has not, `Poll::Ready(None)` at the end. For a consumer that reads several streams at
    /// once; the waker given to [`spawn_block_reader_with_waker`] tells it when to look again.
    pub fn poll_next(&mut self) -> Poll<Option<Result<OwnedBlock, InputError>>> {
        match self.blocks.try_recv() {
            Ok(message) => Poll::Ready(Some(message)),
            Err(TryRecvError::Empty) => Poll::Pending,
            Err(TryRecvError::Disconnected) => Poll::Ready(self.decoder_gone()),
        }
    }

    /// After the channel closed: `None` if the decoder finished, an error if it panicked.
    fn decoder_gone(&mut self) -> Option<Result<OwnedBlock, InputError>> {
        // A panic (a bug in a decoder) must not look like the end of the file, or the rest of
        // it would be silently missing.
        let decoder = self.decoder.take()?;
        match decoder.join() {
            Ok(()) => None,
            Err(_) => Some(Err(InputError::Io {
                path: self.name.clone().into(),
                source: io::Error::other("the decoding thread panicked"),
            })),
        }
    }
}

impl Iterator for BlockStream {
    type Item = Result<OwnedBlock, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.blocks.recv() {
            Ok(message) => Some(message),
            Err(_) => self.decoder_gone(),
        }
    }
}

/// Wakes a waker when dropped: a reading thread's last act, however it ends (a panic
/// included), after its channel is closed, so a consumer polling the channel sees the end.
pub(crate) struct WakeOnExit(pub(crate) Option<Waker>);

impl Drop for WakeOnExit {
    fn drop(&mut self) {
        if let Some(waker) = self.0.take() {
            waker.wake();
        }
    }
}

/// Runs `reader` on a new thread and returns its blocks through a channel holding at most
/// `depth` (at least 1) blocks ahead of the consumer. Memory in use is about
/// `(depth + 2) * block_size` plus whatever the consumer holds. Read errors become
/// [`InputError`]s naming `name`, with [`InputError::Corrupt`] for damaged `compression` data.
///
/// # Errors
///
/// [`InputError::Io`] if the operating system refuses to start a thread.
pub fn spawn_block_reader<R: Read + Send + 'static>(
    reader: BlockReader<R>,
    name: &str,
    compression: Compression,
    depth: usize,
) -> Result<BlockStream, InputError> {
    spawn(reader, name, compression, depth, None)
}

/// As [`spawn_block_reader`], and the decoding thread wakes `waker` each time it has put a
/// block (or an error) in the channel and once more when it ends, so a consumer can read
/// several streams with [`BlockStream::poll_next`] and sleep while none has anything.
///
/// # Errors
///
/// As [`spawn_block_reader`].
pub fn spawn_block_reader_with_waker<R: Read + Send + 'static>(
    reader: BlockReader<R>,
    name: &str,
    compression: Compression,
    depth: usize,
    waker: Waker,
) -> Result<BlockStream, InputError> {
    spawn(reader, name, compression, depth, Some(waker))
}

fn spawn<R: Read + Send + 'static>(
    mut reader: BlockReader<R>,
    name: &str,
    compression: Compression,
    depth: usize,
    waker: Option<Waker>,
) -> Result<BlockStream, InputError> {
    let depth = depth.max(1);
    let (block_sender, blocks) = sync_channel(depth);
    let (recycled, recycled_receiver) = sync_channel::<Vec<u8>>(depth + 2);
    let thread_name = name.to_string();
    let spawned = thread::Builder::new()
        .name(format!("decode {name}"))
        .spawn(move || {
            // Declared first, so dropped last: after the sender, on every way out.
            let wake_on_exit = WakeOnExit(waker);
            let block_sender = block_sender;
            loop {
                // A recycled buffer if the consumer returned one, else a fresh one.
                let spare: Vec<u8> = recycled_receiver.try_recv().unwrap_or_default();
                let message = match reader.next_owned_block(spare) {
                    Ok(Some(block)) => Ok(block),
                    Ok(None) => return,
                    Err(error) => Err(InputError::from_read(&thread_name, compression, error)),
                };
                let stop = message.is_err();
                if block_sender.send(message).is_err() || stop {
                    return;
                }
                if let Some(waker) = &wake_on_exit.0 {
                    waker.wake_by_ref();
                }
            }
        });
    match spawned {
        Ok(decoder) => Ok(BlockStream {
            blocks,
            recycled: Recycler(recycled),
            decoder: Some(decoder),
            name: name.to_string(),
        }),
        Err(source) => Err(InputError::Io {
            path: name.into(),
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The longest line of `text`, newlines not counted.
    fn longest_line(text: &[u8]) -> usize {
        text.split(|&b| b == b'\n')
            .map(<[u8]>::len)
            .max()
            .unwrap_or(0)
    }

    proptest! {
        /// A yes is always right, whatever the lines and the cap.
        #[test]
        fn lines_surely_within_never_says_yes_wrongly(
            lines in prop::collection::vec(0usize..120, 0..60),
            max_line in 0usize..100,
        ) {
            let text = lines
                .iter()
                .map(|&n| vec![b'x'; n])
                .collect::<Vec<_>>()
                .join(&b'\n');
            if lines_surely_within(&text, max_line) {
                prop_assert!(longest_line(&text) <= max_line);
            }
        }
    }

    #[test]
    fn lines_surely_within_sees_short_lines_and_a_long_one() {
        // Lines of up to 179 bytes, far below the cap, as in a mail log.
        let mut text: Vec<u8> = (0..20_000)
            .flat_map(|i| {
                let mut line = vec![b'a'; 60 + i % 120];
                line.push(b'\n');
                line
            })
            .collect();
        text.pop();
        assert!(lines_surely_within(&text, 4096));
        assert!(lines_surely_within(&text, 400));
        // Caps under twice the longest line: not known, and the walk decides.
        assert!(!lines_surely_within(&text, 300));
        assert!(!lines_surely_within(&text, 1));
        // One line just over the cap, anywhere in the text.
        for at in [0, 1_000, text.len() - 10] {
            let mut long = text.clone();
            long.splice(at..at, std::iter::repeat_n(b'b', 4097));
            assert!(longest_line(&long) > 4096);
            assert!(!lines_surely_within(&long, 4096));
        }
        // A text of one line is known to fit only if it is under half the cap.
        assert!(!lines_surely_within(&[b'c'; 4000], 4096));
        assert!(lines_surely_within(&[b'c'; 1000], 4096));
    }

    fn blocks_of(input: &[u8], block_size: usize, max_line: usize) -> Vec<(Vec<u8>, bool)> {
        let mut reader = BlockReader::new(input, block_size).with_max_line(max_line);
        let mut out = Vec::new();
        while let Some(block) = reader.next_block().unwrap() {
            out.push((block.data.to_vec(), block.oversized.is_some()));
        }
        out
    }

    #[test]
    fn tapered_chunks_shrink_towards_the_end_and_cover_everything() {
        let line = b"0123456789abcdef\n";
        let data: Vec<u8> = line
            .iter()
            .copied()
            .cycle()
            .take(line.len() * 10_000)
            .collect();
        let target = 16 * 1024;
        let ranges = split_chunks_tapered(&data, target);
        assert_eq!(ranges.first().unwrap().start, 0);
        assert_eq!(ranges.last().unwrap().end, data.len());
        assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
        assert!(ranges.iter().all(|r| data[r.end - 1] == b'\n'));
        let sizes: Vec<usize> = ranges.iter().map(|r| r.len()).collect();
        // Full blocks first, then smaller ones, down to about a sixteenth of the target.
        assert!(sizes[0] >= target && sizes[0] < target + line.len());
        assert!(sizes.windows(2).all(|w| w[1] <= w[0] + line.len()));
        assert!(*sizes.last().unwrap() <= target / 8);
        assert!(
            sizes
                .iter()
                .all(|&n| n >= target / 16 || n == *sizes.last().unwrap())
        );
        // Long before the end, the blocks are full: only the tail is cut finer.
        assert!(sizes.iter().filter(|&&n| n < target).count() < 20);
    }

    #[test]
    fn split_chunks_keeps_long_lines_whole() {
        let data = b"short\na much longer line than the target\nx\n";
        let ranges = split_chunks(data, 4);
        assert_eq!(ranges, vec![0..6, 6..41, 41..43]);
        assert!(split_chunks(b"", 10).is_empty());
        assert_eq!(split_chunks(b"no newline at all", 3), vec![0..17]);
    }

    #[test]
    fn oversized_line_is_cut_to_its_head_and_reading_continues() {
        let mut input = b"ok 1\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100));
        input.extend(b"\nok 2\n");
        let blocks = blocks_of(&input, 8, 16);
        assert_eq!(
            blocks,
            vec![
                (b"ok 1\n".to_vec(), false),
                (vec![b'x'; 16], true),
                (b"ok 2\n".to_vec(), false),
            ]
        );
        let mut reader = BlockReader::new(&input[..], 8).with_max_line(16);
        reader.next_block().unwrap();
        assert_eq!(reader.next_block().unwrap().unwrap().oversized, Some(101));
    }

    #[test]
    fn oversized_line_at_end_without_newline() {
        let input = vec![b'y'; 50];
        let blocks = blocks_of(&input, 4, 10);
        assert_eq!(blocks, vec![(vec![b'y'; 10], true)]);
    }

    #[test]
    fn lines_read_before_an_error_come_first() {
        struct FailsAfter(&'static [u8]);
        impl Read for FailsAfter {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, "bad block"));
                }
                let n = self.0.len().min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut reader = BlockReader::new(FailsAfter(b"one\ntwo\nthr"), 1024);
        assert_eq!(reader.next_block().unwrap().unwrap().data, b"one\ntwo\n");
        assert_eq!(reader.next_block().unwrap().unwrap().data, b"thr");
        assert!(reader.next_block().is_err());
        assert!(reader.next_block().unwrap().is_none());
    }

    #[test]
    fn a_panicking_decoder_is_reported_not_taken_for_the_end() {
        struct Panics(bool);
        impl Read for Panics {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if std::mem::replace(&mut self.0, true) {
                    panic!("decoder bug");
                }
                let n = buf.len().min(4);
                buf[..n].copy_from_slice(&b"one\n"[..n]);
                Ok(n)
            }
        }
        let reader = BlockReader::new(Panics(false), 4);
        let results: Vec<_> = spawn_block_reader(reader, "x.gz", Compression::Gzip, 1)
            .unwrap()
            .collect();
        assert_eq!(results.len(), 2, "{results:?}");
        assert_eq!(results[0].as_ref().unwrap().data, b"one\n");
        assert!(
            results[1]
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("x.gz")
        );
    }

    #[test]
    fn a_polled_stream_wakes_its_consumer_for_each_block_and_at_the_end() {
        use std::sync::{Arc, mpsc};
        use std::task::Wake;
        use std::time::Duration;

        /// Counts wakes as messages, so none is lost between a poll and the wait after it.
        struct Bell(mpsc::Sender<()>);
        impl Wake for Bell {
            fn wake(self: Arc<Self>) {
                let _ = self.0.send(());
            }
        }
        /// A stream that has bytes only when the test feeds it, and ends when the feeder goes.
        struct Fed(mpsc::Receiver<Vec<u8>>);
        impl Read for Fed {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let Ok(bytes) = self.0.recv() else {
                    return Ok(0);
                };
                buf[..bytes.len()].copy_from_slice(&bytes);
                Ok(bytes.len())
            }
        }
        let (bell, rung) = mpsc::channel();
        let wait_for_wake = || {
            rung.recv_timeout(Duration::from_secs(30))
                .expect("the decoder wakes its consumer")
        };
        let (feed, fed) = mpsc::channel();
        let reader = BlockReader::new(Fed(fed), 4);
        let waker = Waker::from(Arc::new(Bell(bell)));
        let mut stream =
            spawn_block_reader_with_waker(reader, "x", Compression::None, 1, waker).unwrap();

        assert!(stream.poll_next().is_pending(), "nothing decoded yet");
        feed.send(b"one\n".to_vec()).unwrap();
        wait_for_wake();
        match stream.poll_next() {
            Poll::Ready(Some(Ok(block))) => assert_eq!(block.data, b"one\n"),
            other => panic!("expected the block, got {other:?}"),
        }
        assert!(
            stream.poll_next().is_pending(),
            "the decoder waits for more input"
        );
        drop(feed);
        wait_for_wake();
        assert!(matches!(stream.poll_next(), Poll::Ready(None)));
    }

    #[test]
    fn owned_blocks_match_borrowed_blocks() {
        let input: Vec<u8> = (0..500)
            .flat_map(|i| format!("line number {i}\n").into_bytes())
            .collect();
        let mut reader = BlockReader::new(&input[..], 100);
        let mut spare = Vec::new();
        let mut joined = Vec::new();
        while let Some(block) = reader.next_owned_block(std::mem::take(&mut spare)).unwrap() {
            assert!(block.data.ends_with(b"\n"));
            joined.extend_from_slice(&block.data);
            spare = block.data;
        }
        assert_eq!(joined, input);
    }
}
