//! The ingest pipeline: blocks of log lines in, one merged [`Aggregate`] and run [`Stats`] out.
//!
//! Blocks (slices of memory-mapped files, or blocks read from decompressors) are numbered in
//! input order and parsed in parallel on a rayon pool, each by its own [`ChunkProcessor`].
//! Each worker counts what its blocks resolve on their own into one aggregate it keeps from
//! block to block; the workers' aggregates are merged once, at the end. A merger thread
//! absorbs each block's correlation state strictly in input order through the
//! [`queue::Correlator`], which counts the records that needed an earlier block. A bounded
//! number of blocks is in flight at any time, so memory stays flat however large the input
//! is, and the result is identical for any thread count or block size.

pub mod chunk;
pub mod files;
pub mod queue;
pub mod stats;

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, mpsc};

use chunk::{ChunkProcessor, ChunkResult};
use queue::Correlator;
use stats::Stats;

use std::sync::Mutex;

use crate::aggregate::{Aggregate, Sym};
use crate::classify::Classifier;
use crate::format::Format;
use crate::format::syslog::TimeContext;

/// How much of a file format detection looks at.
pub const DETECT_BYTES: usize = 64 * 1024;

/// Knobs of a run.
#[derive(Debug, Clone)]
pub struct Config {
    /// Worker threads (0: all cores).
    pub threads: usize,
    /// Target size of the blocks a large file is cut into.
    pub block_bytes: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            threads: 0,
            block_bytes: 16 << 20,
        }
    }
}

/// The bytes of one block.
pub enum BlockData<'d> {
    Borrowed(&'d [u8]),
    Owned(Vec<u8>),
    Mapped(Arc<memmap2::Mmap>, Range<usize>),
}

impl BlockData<'_> {
    /// Tells the kernel that a mapped block's pages will not be read again, so the resident
    /// size of a run stays flat however large the mapped file is (file-backed pages would
    /// otherwise stay counted against the process until the whole file is unmapped).
    fn release(&self) {
        let BlockData::Mapped(map, range) = self else {
            return;
        };
        const PAGE: usize = 4096;
        let start = range.start.div_ceil(PAGE) * PAGE;
        let end = range.end / PAGE * PAGE;
        if end > start {
            // SAFETY: the mapping is a read-only view of a file; MADV_DONTNEED only drops the
            // cached pages of this range, which belongs to this block alone and is not read
            // after this call. Were it read again, the kernel would reload it from the file.
            let _ = unsafe {
                map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
            };
        }
    }

    /// Maps a mapped block's pages in one system call before it is parsed, instead of one
    /// page fault per few pages while parsing (Linux 5.14+; elsewhere a harmless no-op).
    fn prefetch(&self) {
        if let BlockData::Mapped(map, range) = self {
            const PAGE: usize = 4096;
            let start = range.start / PAGE * PAGE;
            let _ = map.advise_range(memmap2::Advice::PopulateRead, start, range.end - start);
        }
    }

    fn bytes(&self) -> &[u8] {
        match self {
            BlockData::Borrowed(bytes) => bytes,
            BlockData::Owned(bytes) => bytes,
            BlockData::Mapped(map, range) => &map[range.clone()],
        }
    }
}

/// A run of whole lines from one input.
pub struct Block<'d> {
    /// Index of the input in the run's input list.
    pub input: usize,
    pub data: BlockData<'d>,
    pub format: Format,
    pub time: TimeContext,
    /// The block is the head of one line too long to keep: counted as rejected, not parsed.
    pub oversized: bool,
    /// Whether parsing this block should advance the progress bar (streams advance it as
    /// they are read instead).
    pub counts_progress: bool,
}

/// An input that failed (could not be opened, or broke off while being read). Blocks read
/// before the failure are still counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFailure {
    pub input: usize,
    pub message: String,
}

/// What a run produced.
#[derive(Debug, Default)]
pub struct Output {
    pub aggregate: Aggregate,
    /// Totals over all inputs.
    pub stats: Stats,
    /// Per-input totals, in input order.
    pub per_input: Vec<Stats>,
    pub failures: Vec<InputFailure>,
    /// Queue files still open at the end (messages still queued, or whose removal the logs do
    /// not show).
    pub open_queue_files: usize,
}

/// Absorbs chunk results in input order.
struct Merger {
    output: Output,
    correlator: Correlator,
    waiting: BTreeMap<u64, (usize, Result<ChunkResult, String>)>,
    next: u64,
}

impl Merger {
    fn new(inputs: usize) -> Merger {
        Merger {
            output: Output {
                per_input: vec![Stats::default(); inputs],
                ..Output::default()
            },
            correlator: Correlator::new(),
            waiting: BTreeMap::new(),
            next: 0,
        }
    }

    /// Takes a result; returns how many results were absorbed (in order) by this call.
    fn push(&mut self, seq: u64, input: usize, result: Result<ChunkResult, String>) -> usize {
        self.waiting.insert(seq, (input, result));
        let mut absorbed = 0;
        while let Some((input, result)) = self.waiting.remove(&self.next) {
            self.absorb(input, result);
            self.next += 1;
            absorbed += 1;
        }
        absorbed
    }

    fn absorb(&mut self, input: usize, result: Result<ChunkResult, String>) {
        let chunk = match result {
            Ok(chunk) => chunk,
            Err(message) => {
                self.output.failures.push(InputFailure { input, message });
                return;
            }
        };
        let output = &mut self.output;
        let interner = &mut output.aggregate.interner;
        let remap: Vec<Sym> = chunk
            .symbols
            .iter()
            .map(|s| interner.intern(s.as_bytes()))
            .collect();
        let mut stats = chunk.stats;
        self.correlator
            .absorb(chunk.queues, &remap, &mut output.aggregate, &mut stats);
        let input_stats = &mut output.per_input[input];
        let line_offset = input_stats.lines;
        input_stats.merge(stats.clone(), line_offset);
        output.stats.merge(stats, line_offset);
    }

    fn finish(mut self) -> Output {
        debug_assert!(self.waiting.is_empty());
        self.output.open_queue_files = self.correlator.open_queue_files();
        self.output
    }
}

/// Runs the pipeline over `blocks` (in input order; an `Err` marks an input that failed at
/// that point). `on_block` is called with each block's size once it is parsed (progress).
pub fn run<'d, I>(
    blocks: I,
    inputs: usize,
    config: &Config,
    classifier: &Classifier,
    on_block: &(dyn Fn(u64) + Sync),
) -> Result<Output, rayon::ThreadPoolBuildError>
where
    I: Iterator<Item = Result<Block<'d>, InputFailure>> + Send,
{
    let threads = if config.threads == 0 {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        config.threads
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let max_in_flight = threads * 2 + 1;
    let (result_tx, result_rx) = mpsc::channel::<(u64, usize, Result<ChunkResult, String>)>();
    let (slot_tx, slot_rx) = mpsc::sync_channel::<()>(max_in_flight);
    // Each worker's aggregate, kept from block to block and merged once at the end. Jobs run
    // on pool threads; the fallback slot is for any that does not.
    let aggregates: Vec<Mutex<Aggregate>> = (0..=threads)
        .map(|_| Mutex::new(Aggregate::new()))
        .collect();
    let aggregates = &aggregates;

    let output = std::thread::scope(|threads_scope| {
        let merger = threads_scope.spawn(move || {
            let mut merger = Merger::new(inputs);
            for (seq, input, result) in result_rx {
                for _ in 0..merger.push(seq, input, result) {
                    let _ = slot_rx.recv();
                }
            }
            merger.finish()
        });
        pool.in_place_scope(|scope| {
            for (seq, item) in blocks.enumerate() {
                let seq = seq as u64;
                // Wait for a free slot: bounds the memory held by unabsorbed blocks.
                if slot_tx.send(()).is_err() {
                    break;
                }
                match item {
                    Ok(block) => {
                        let tx = result_tx.clone();
                        scope.spawn(move |_| {
                            block.data.prefetch();
                            if matches!(block.data, BlockData::Owned(_)) {
                                crate::input::yield_to_decoders();
                            }
                            let bytes = block.data.bytes();
                            let slot = &aggregates
                                [rayon::current_thread_index().map_or(threads, |i| i.min(threads))];
                            let mut aggregate = slot.lock().expect("worker aggregate");
                            let mut processor = ChunkProcessor::with_aggregate(
                                classifier,
                                block.format,
                                block.time,
                                block.input,
                                std::mem::take(&mut *aggregate),
                            );
                            if block.oversized {
                                processor.reject_oversized(bytes);
                            } else {
                                processor.process(bytes);
                            }
                            if block.counts_progress {
                                on_block(bytes.len() as u64);
                            }
                            block.data.release();
                            let (result, counted) = processor.finish();
                            *aggregate = counted;
                            drop(aggregate);
                            let _ = tx.send((seq, block.input, Ok(result)));
                        });
                    }
                    Err(failure) => {
                        let _ = result_tx.send((seq, failure.input, Err(failure.message)));
                    }
                }
            }
        });
        drop(result_tx);
        merger.join().expect("merger thread panicked")
    });
    let mut output = output;
    // The workers' aggregates join the merger's as parts, combined when the rows are sorted.
    for slot in aggregates {
        let part = std::mem::take(&mut *slot.lock().expect("worker aggregate"));
        output.aggregate.add_part(part);
    }
    Ok(output)
}

/// One range over a whole input of `len` bytes (none for an empty one): inputs that are not
/// line-based (ESP exports) are never cut, so a JSON array spanning lines stays whole. One
/// file is then one block, parsed by one thread: several files use several cores.
pub(crate) fn whole_input(len: usize) -> Vec<Range<usize>> {
    std::iter::once(0..len).filter(|r| !r.is_empty()).collect()
}

/// Runs the pipeline over in-memory inputs (tests, benches, stdin already read).
pub fn run_in_memory(
    inputs: &[(&[u8], TimeContext)],
    config: &Config,
    classifier: &Classifier,
) -> Output {
    let blocks = inputs.iter().enumerate().flat_map(|(input, (data, time))| {
        let format =
            Format::detect(&data[..data.len().min(DETECT_BYTES)]).unwrap_or(Format::Postfix);
        let ranges = if format.is_line_based() {
            crate::input::split_chunks(data, config.block_bytes)
        } else {
            whole_input(data.len())
        };
        ranges.into_iter().map(move |range| {
            Ok(Block {
                input,
                data: BlockData::Borrowed(&data[range]),
                format,
                time: time.clone(),
                oversized: false,
                counts_progress: false,
            })
        })
    });
    run(blocks, inputs.len(), config, classifier, &|_| {}).expect("thread pool")
}
