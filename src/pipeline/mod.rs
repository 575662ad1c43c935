//! The ingest pipeline: blocks of log lines in, one merged [`Aggregate`] and run [`Stats`] out.
//!
//! Blocks (slices of memory-mapped files, or blocks read from decompressors) come from a
//! [`Source`], which may read several inputs at once and hand out their blocks as they are
//! ready; each block is numbered within its input and parsed on a rayon pool by its own
//! [`ChunkProcessor`]. Each worker counts what its blocks resolve on their own into one
//! aggregate it keeps from block to block, spilling its cells to a temporary file whenever its
//! table is full ([`Config::spill`]); the workers' aggregates are merged once, at the end. A
//! merger thread absorbs each block's correlation state strictly in input order, block order,
//! through the [`queue::Correlator`], which counts the records that needed an earlier block
//! (or file). A bounded number of blocks is in flight, and results that came before
//! their turn wait within a bounded budget, so memory stays flat however large the input is,
//! and the result is identical for any thread count, block size or interleaving of inputs.

pub mod chunk;
pub mod files;
pub mod queue;
mod queue_table;
pub mod stats;

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::task::{Poll, Wake, Waker};

use chunk::{ChunkProcessor, ChunkResult};
use queue::Correlator;
use stats::Stats;

use crate::aggregate::recipients::Recipients;
use crate::aggregate::{Aggregate, SpillPolicy, Sym};
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
    /// When the aggregates move their cells out of memory (see
    /// [`Aggregate::spill_if_full`]).
    pub spill: SpillPolicy,
    /// Keep the per-address record of strikes and deliveries ([`Output::recipients`]).
    pub track_recipients: bool,
}

/// Cells an aggregate's table holds before they are spilled, by default: a table of about 2 MB
/// per worker (it grows past the limit within a block). Smaller tables cost no measurable time
/// (the spills are a few MB written to the page cache) and keep the peak memory flat: see
/// docs/performance.md.
pub const SPILL_CELLS: usize = 1 << 14;

impl Default for Config {
    fn default() -> Self {
        Config {
            threads: 0,
            block_bytes: 16 << 20,
            spill: SpillPolicy {
                cells: SPILL_CELLS,
                keep: true,
            },
            track_recipients: false,
        }
    }
}

impl Config {
    /// The number of worker threads: `threads`, or all cores for 0.
    pub fn resolved_threads(&self) -> usize {
        match self.threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            threads => threads,
        }
    }
}

/// The bytes of one block.
pub enum BlockData<'d> {
    Borrowed(&'d [u8]),
    Owned(Vec<u8>),
    /// A block of a stream, whose buffer goes back to the stream's decoder when it is parsed.
    Decoded(Vec<u8>, crate::input::Recycler),
    Mapped(Arc<memmap2::Mmap>, Range<usize>),
}

impl BlockData<'_> {
    /// Lets go of a parsed block's memory. A decoded block's buffer goes back to its
    /// decoder. A mapped block's pages are dropped from the process: the kernel is told they
    /// will not be read again, so the resident size of a run stays flat however large the
    /// mapped file is (file-backed pages would otherwise stay counted against the process
    /// until the whole file is unmapped).
    fn release(self) {
        let (map, range) = match self {
            BlockData::Mapped(map, range) => (map, range),
            BlockData::Decoded(buffer, recycler) => return recycler.recycle(buffer),
            BlockData::Borrowed(_) | BlockData::Owned(_) => return,
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
            BlockData::Owned(bytes) | BlockData::Decoded(bytes, _) => bytes,
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
    /// Strikes and deliveries per address, when [`Config::track_recipients`] asked for them.
    pub recipients: Option<Recipients>,
}

/// What the pipeline takes from a [`Source`], input by input.
pub enum Item<'d> {
    /// The next block of its input.
    Block(Block<'d>),
    /// The input failed at this point; what was read of it before still counts.
    Failed(InputFailure),
    /// The input has no more items.
    End(usize),
}

impl Item<'_> {
    /// Index of the input the item belongs to.
    pub fn input(&self) -> usize {
        match self {
            Item::Block(block) => block.input,
            Item::Failed(failure) => failure.input,
            Item::End(input) => *input,
        }
    }
}

/// Whose items the pipeline takes now. Results are absorbed in input order, so results of
/// inputs after the one being absorbed wait (in memory) until it is done. The `head` input is
/// always admitted, which keeps the run moving; later ones only while the results already
/// waiting stay within the run's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    /// The input whose results are being absorbed.
    pub head: usize,
    /// Whether items of inputs after `head` are taken too.
    pub later: bool,
}

impl Admission {
    pub fn admits(&self, input: usize) -> bool {
        input <= self.head || self.later
    }
}

/// Where [`run`] takes its blocks from: one or several inputs read at once.
///
/// The items of each input come in order, followed by exactly one [`Item::End`]; every input
/// of the run ends, empty ones too. Items of different inputs may come in any order: that is
/// what lets several compressed files be decoded at the same time, while the results are
/// still absorbed in input order. A source must never hold back the admitted `head` input's
/// items because items of later inputs were not taken, or the run would stop.
pub trait Source<'d> {
    /// The next item of an input that `admission` admits, without waiting for one: when none
    /// is ready, `Poll::Pending`, after arranging for `waker` to be woken once one may be.
    /// `Poll::Ready(None)` once every input has ended.
    fn poll_next(&mut self, admission: Admission, waker: &Waker) -> Poll<Option<Item<'d>>>;
}

/// A [`Source`] from blocks (or failures) that come input after input, as from one iterator;
/// the [`Item::End`] of each input is added when the next one starts.
pub struct InOrder<I: Iterator> {
    items: I,
    inputs: usize,
    /// Inputs before this one have ended.
    ended: usize,
    /// An item read but not yet admitted.
    held: Option<I::Item>,
}

impl<'d, I> InOrder<I>
where
    I: Iterator<Item = Result<Block<'d>, InputFailure>>,
{
    /// `items` for a run over `inputs` inputs, their input indexes never decreasing.
    pub fn new(items: I, inputs: usize) -> Self {
        InOrder {
            items,
            inputs,
            ended: 0,
            held: None,
        }
    }
}

impl<'d, I> Source<'d> for InOrder<I>
where
    I: Iterator<Item = Result<Block<'d>, InputFailure>>,
{
    fn poll_next(&mut self, admission: Admission, _waker: &Waker) -> Poll<Option<Item<'d>>> {
        let Some(next) = self.held.take().or_else(|| self.items.next()) else {
            if self.ended < self.inputs {
                self.ended += 1;
                return Poll::Ready(Some(Item::End(self.ended - 1)));
            }
            return Poll::Ready(None);
        };
        let input = match &next {
            Ok(block) => block.input,
            Err(failure) => failure.input,
        };
        debug_assert!(input >= self.ended, "items must come in input order");
        if input > self.ended {
            self.held = Some(next);
            self.ended += 1;
            return Poll::Ready(Some(Item::End(self.ended - 1)));
        }
        if !admission.admits(input) {
            // Admission only changes when the merger absorbs results, and the run looks again
            // then: no waker needed.
            self.held = Some(next);
            return Poll::Pending;
        }
        Poll::Ready(Some(match next {
            Ok(block) => Item::Block(block),
            Err(failure) => Item::Failed(failure),
        }))
    }
}

/// A result on its way to the merger.
// One message per block, moved once: boxing the large variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Merge {
    /// The `index`-th item (block or failure) of `input`; `bytes` estimates its heap size.
    Result {
        input: usize,
        index: u64,
        bytes: usize,
        result: Result<ChunkResult, String>,
    },
    /// `input` ended after `items` items.
    End { input: usize, items: u64 },
}

/// Absorbs chunk results in input order.
struct Merger {
    output: Output,
    correlator: Correlator,
    /// Results that came before their turn, by (input, item index), with their heap size.
    waiting: BTreeMap<(usize, u64), (usize, Result<ChunkResult, String>)>,
    waiting_bytes: usize,
    /// How many items each input had, once it ended.
    ends: Vec<Option<u64>>,
    /// The input being absorbed, and the index of its next item.
    head: usize,
    next: u64,
}

impl Merger {
    fn new(inputs: usize, spill: SpillPolicy) -> Merger {
        Merger {
            output: Output {
                per_input: vec![Stats::default(); inputs],
                aggregate: Aggregate::with_spill(spill),
                ..Output::default()
            },
            correlator: Correlator::new(),
            waiting: BTreeMap::new(),
            waiting_bytes: 0,
            ends: vec![None; inputs],
            head: 0,
            next: 0,
        }
    }

    /// Takes a result or an end, and absorbs what is now in turn.
    fn push(&mut self, message: Merge) {
        match message {
            Merge::Result {
                input,
                index,
                bytes,
                result,
            } => {
                self.waiting_bytes += bytes;
                self.waiting.insert((input, index), (bytes, result));
            }
            Merge::End { input, items } => self.ends[input] = Some(items),
        }
        while self.head < self.ends.len() {
            if let Some((bytes, result)) = self.waiting.remove(&(self.head, self.next)) {
                self.waiting_bytes -= bytes;
                self.absorb(self.head, result);
                self.next += 1;
            } else if self.ends[self.head] == Some(self.next) {
                self.head += 1;
                self.next = 0;
            } else {
                break;
            }
        }
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
        output.aggregate.spill_if_full();
        let input_stats = &mut output.per_input[input];
        let line_offset = input_stats.lines;
        input_stats.merge(stats.clone(), line_offset);
        output.stats.merge(stats, line_offset);
    }

    fn finish(mut self) -> Output {
        debug_assert!(self.waiting.is_empty());
        debug_assert_eq!(self.head, self.ends.len(), "every input ended");
        self.output.open_queue_files = self.correlator.open_queue_files();
        self.output.aggregate.flush();
        self.output
    }
}

/// What the thread that takes blocks from the source waits on: blocks parsed (their memory
/// is free), results absorbed (the admission changes), and, through [`Wake`], inputs that
/// have a block ready. Every change bumps `generation`, so a change between a look at the
/// state and the wait that follows is never missed.
#[derive(Debug, Default)]
struct Gate {
    state: Mutex<GateState>,
    changed: Condvar,
}

#[derive(Debug, Clone, Copy, Default)]
struct GateState {
    generation: u64,
    /// Blocks taken and not yet parsed.
    in_flight: usize,
    /// The merger's head input and the heap size of the results it holds back.
    head: usize,
    waiting_bytes: usize,
    /// A worker or the merger panicked: take nothing more, let the panic surface.
    broken: bool,
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        // A panic while holding the lock cannot leave the counters half-updated.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn snapshot(&self) -> GateState {
        *self.lock()
    }

    fn update(&self, change: impl FnOnce(&mut GateState)) {
        let mut state = self.lock();
        change(&mut state);
        state.generation += 1;
        drop(state);
        self.changed.notify_all();
    }

    /// Waits until the state changes after `generation`.
    fn wait_past(&self, generation: u64) {
        let mut state = self.lock();
        while state.generation == generation {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

impl Wake for Gate {
    fn wake(self: Arc<Self>) {
        self.update(|_| {});
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.update(|_| {});
    }
}

/// Marks a worker's or the merger's part done when dropped, also when it panicked.
struct Done<'g, F: FnMut(&mut GateState)>(&'g Gate, F);

impl<F: FnMut(&mut GateState)> Drop for Done<'_, F> {
    fn drop(&mut self) {
        let broken = std::thread::panicking();
        self.0.update(|state| {
            (self.1)(state);
            state.broken |= broken;
        });
    }
}

/// Runs the pipeline over the items of `source` (see [`Source`]) for a run over `inputs`
/// inputs. `on_block` is called with each block's size once it is parsed (progress).
///
/// Blocks are parsed on a pool of `config.threads` threads as they come, whatever their
/// input; a merger thread absorbs the results in input order, block order. At most
/// `2 * threads + 1` blocks are taken and not yet parsed; results of later inputs that must
/// wait for earlier ones are held back to about as many bytes as those blocks (the input being
/// absorbed is always taken from, so the run never stalls).
pub fn run<'d, S>(
    source: &mut S,
    inputs: usize,
    config: &Config,
    classifier: &Classifier,
    on_block: &(dyn Fn(u64) + Sync),
) -> Result<Output, rayon::ThreadPoolBuildError>
where
    S: Source<'d> + ?Sized,
{
    let threads = config.resolved_threads();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()?;
    let max_in_flight = threads * 2 + 1;
    let waiting_budget = max_in_flight.saturating_mul(config.block_bytes);
    let (result_tx, result_rx) = mpsc::channel::<Merge>();
    let gate = Arc::new(Gate::default());
    let waker = Waker::from(Arc::clone(&gate));
    let gate = &*gate;
    // What each worker keeps from block to block; the aggregates are merged once at the end.
    // Jobs run on pool threads; the fallback slot is for any that does not.
    let workers: Vec<Mutex<Worker>> = (0..=threads)
        .map(|_| {
            let mut worker = Worker::new(Aggregate::with_spill(config.spill));
            worker.recipients = config.track_recipients.then(Recipients::new);
            Mutex::new(worker)
        })
        .collect();
    let workers = &workers;

    let output = std::thread::scope(|threads_scope| {
        let merger = threads_scope.spawn(move || {
            let mut merger = Merger::new(inputs, config.spill);
            let _done = Done(gate, |_: &mut GateState| {});
            for message in result_rx {
                merger.push(message);
                let (head, waiting_bytes) = (merger.head, merger.waiting_bytes);
                gate.update(|state| {
                    state.head = head;
                    state.waiting_bytes = waiting_bytes;
                });
            }
            merger.finish()
        });
        pool.in_place_scope(|scope| {
            // Items handed out so far per input: the index of the next one.
            let mut items = vec![0u64; inputs];
            loop {
                let state = gate.snapshot();
                if state.broken {
                    break;
                }
                // Wait for a free slot: bounds the memory held by unparsed blocks.
                if state.in_flight >= max_in_flight {
                    gate.wait_past(state.generation);
                    continue;
                }
                let admission = Admission {
                    head: state.head,
                    later: state.waiting_bytes < waiting_budget,
                };
                let item = match source.poll_next(admission, &waker) {
                    Poll::Ready(Some(item)) => item,
                    Poll::Ready(None) => break,
                    Poll::Pending => {
                        gate.wait_past(state.generation);
                        continue;
                    }
                };
                let input = item.input();
                let index = items[input];
                match item {
                    Item::Block(block) => {
                        items[input] += 1;
                        gate.update(|state| state.in_flight += 1);
                        let tx = result_tx.clone();
                        scope.spawn(move |_| {
                            // Frees the slot when the job ends (`parse` has let go of the
                            // block's memory by then), also if it panics.
                            let _done = Done(gate, |state: &mut GateState| state.in_flight -= 1);
                            let result = parse(block, classifier, workers, threads, on_block);
                            let _ = tx.send(Merge::Result {
                                input,
                                index,
                                bytes: result.heap_bytes(),
                                result: Ok(result),
                            });
                        });
                    }
                    Item::Failed(failure) => {
                        items[input] += 1;
                        let _ = result_tx.send(Merge::Result {
                            input,
                            index,
                            bytes: failure.message.len(),
                            result: Err(failure.message),
                        });
                    }
                    Item::End(_) => {
                        let _ = result_tx.send(Merge::End {
                            input,
                            items: index,
                        });
                    }
                }
            }
        });
        drop(result_tx);
        merger.join().expect("merger thread panicked")
    });
    let mut output = output;
    // The workers' aggregates join the merger's as parts, combined when the rows are sorted.
    for slot in workers {
        let (aggregate, recipients) = {
            let mut worker = slot.lock().expect("worker");
            (
                std::mem::take(&mut worker.aggregate),
                worker.recipients.take(),
            )
        };
        output.aggregate.add_part(aggregate);
        // Outside the lock: the merge sorts on rayon's global pool.
        if let Some(part) = recipients {
            output
                .recipients
                .get_or_insert_with(Recipients::new)
                .merge(part);
        }
    }
    Ok(output)
}

/// What a pool thread keeps from one block to the next.
struct Worker {
    /// Counts of what its blocks resolved on their own.
    aggregate: Aggregate,
    /// Correlation entries its last block ended with, per MiB of that block. The next
    /// block's table starts at the size this predicts, rather than growing to it by doubling,
    /// which moves every entry each time (some 2% of a Postfix run's CPU time).
    entries_per_mib: usize,
    /// Its per-address record, kept from block to block like the aggregate.
    recipients: Option<Recipients>,
}

impl Worker {
    fn new(aggregate: Aggregate) -> Worker {
        Worker {
            aggregate,
            entries_per_mib: 0,
            recipients: None,
        }
    }
}

/// Parses one block on a pool thread, counting into that thread's aggregate; lets go of the
/// block's memory before returning its result (a decoded block's buffer goes back to its
/// decoder, whose pool of returned buffers is bounded: see [`BlockData::release`]).
fn parse(
    block: Block<'_>,
    classifier: &Classifier,
    workers: &[Mutex<Worker>],
    threads: usize,
    on_block: &(dyn Fn(u64) + Sync),
) -> ChunkResult {
    const MIB: usize = 1 << 20;
    block.data.prefetch();
    if matches!(block.data, BlockData::Owned(_) | BlockData::Decoded(..)) {
        crate::input::yield_to_decoders();
    }
    let bytes = block.data.bytes();
    let slot = &workers[rayon::current_thread_index().map_or(threads, |i| i.min(threads))];
    let mut worker = slot.lock().expect("worker");
    let mut processor = ChunkProcessor::with_aggregate(
        classifier,
        block.format,
        block.time,
        block.input,
        std::mem::take(&mut worker.aggregate),
    );
    processor.reserve_queue_entries(worker.entries_per_mib * bytes.len() / MIB);
    if let Some(recipients) = worker.recipients.take() {
        processor.track_recipients(recipients);
    }
    if block.oversized {
        processor.reject_oversized(bytes);
    } else {
        processor.process(bytes);
    }
    if block.counts_progress {
        on_block(bytes.len() as u64);
    }
    let len = bytes.len();
    block.data.release();
    let (result, mut counted, recipients) = processor.finish();
    worker.recipients = recipients;
    counted.spill_if_full();
    worker.aggregate = counted;
    if let Some(density) = (result.queues.messages() * MIB).checked_div(len) {
        worker.entries_per_mib = density;
    }
    result
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
    let items = inputs.iter().enumerate().flat_map(|(input, (data, time))| {
        let format =
            Format::detect(&data[..data.len().min(DETECT_BYTES)]).unwrap_or(Format::Postfix);
        let ranges = if format.is_line_based() {
            crate::input::split_chunks_tapered(data, config.block_bytes)
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
    let mut source = InOrder::new(items, inputs.len());
    run(&mut source, inputs.len(), config, classifier, &|_| {}).expect("thread pool")
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::synth::{PostfixConfig, SplitMix64, generate_postfix};

    /// A generated Postfix log with retries, cut at line ends into `parts` inputs, so that
    /// messages (and their deferred recipients) span the cuts.
    fn rotated_log(parts: usize) -> Vec<Vec<u8>> {
        let config = PostfixConfig::many_open_queue_files(42, 200_000);
        let mut log = Vec::new();
        generate_postfix(&config, &mut log).unwrap();
        let ranges = crate::input::split_chunks(&log, log.len() / parts + 1);
        assert_eq!(ranges.len(), parts);
        ranges.into_iter().map(|r| log[r].to_vec()).collect()
    }

    /// The items of each input: blocks of about `block_bytes`; input `failing` breaks off
    /// after its first three blocks, as a truncated gzip file does.
    fn items(
        inputs: &[Vec<u8>],
        block_bytes: usize,
        failing: usize,
    ) -> Vec<VecDeque<Result<Block<'_>, InputFailure>>> {
        let time = TimeContext::utc("2025-12-31T12:00:00Z".parse().unwrap());
        inputs
            .iter()
            .enumerate()
            .map(|(input, data)| {
                let mut items: VecDeque<_> = crate::input::split_chunks(data, block_bytes)
                    .into_iter()
                    .map(|range| {
                        Ok(Block {
                            input,
                            data: BlockData::Borrowed(&data[range]),
                            format: Format::Postfix,
                            time: time.clone(),
                            oversized: false,
                            counts_progress: false,
                        })
                    })
                    .collect();
                if input == failing {
                    items.truncate(3);
                    items.push_back(Err(InputFailure {
                        input,
                        message: format!("input {input}: corrupt or truncated gzip data"),
                    }));
                }
                items
            })
            .collect()
    }

    /// Hands out the next item of the latest input it may, and now and then none at all: the
    /// most out of order a source is allowed to be.
    struct Scrambled<'d> {
        inputs: Vec<VecDeque<Result<Block<'d>, InputFailure>>>,
        ended: Vec<bool>,
        random: SplitMix64,
        /// The input of each block handed out, in order.
        order: Vec<usize>,
    }

    impl<'d> Source<'d> for Scrambled<'d> {
        fn poll_next(&mut self, admission: Admission, waker: &Waker) -> Poll<Option<Item<'d>>> {
            if self.random.chance(0.2) {
                waker.wake_by_ref();
                return Poll::Pending;
            }
            let Some(input) = (0..self.inputs.len())
                .rev()
                .find(|&i| !self.ended[i] && admission.admits(i))
            else {
                if self.ended.iter().all(|&ended| ended) {
                    return Poll::Ready(None);
                }
                // Only inputs that are not admitted are left: absorbing wakes the run.
                return Poll::Pending;
            };
            Poll::Ready(Some(match self.inputs[input].pop_front() {
                Some(Ok(block)) => {
                    self.order.push(input);
                    Item::Block(block)
                }
                Some(Err(failure)) => Item::Failed(failure),
                None => {
                    self.ended[input] = true;
                    Item::End(input)
                }
            }))
        }
    }

    fn rendered(output: &Output) -> Vec<String> {
        let mut lines: Vec<String> = output
            .aggregate
            .rows()
            .unwrap()
            .iter()
            .map(|row| format!("{row:?}"))
            .collect();
        lines.push(format!("{:?}", output.stats));
        lines.push(format!("{:?}", output.per_input));
        lines.push(format!("{:?}", output.failures));
        lines.push(format!("open queue files: {}", output.open_queue_files));
        lines
    }

    /// The suppression list does not depend on threads or block sizes, and deliveries folded
    /// in the middle of blocks (every few dozen in unit tests) neither stall a worker nor lose
    /// an address's last delivery.
    #[test]
    fn suppression_list_is_the_same_for_any_threads_and_blocks() {
        use crate::aggregate::recipients::{Reason, SuppressionPolicy};
        let config = PostfixConfig::many_open_queue_files(7, 1_000_000);
        let mut log = Vec::new();
        generate_postfix(&config, &mut log).unwrap();
        let classifier = Classifier::new();
        let time = TimeContext::utc("2025-12-31T12:00:00Z".parse().unwrap());
        // The generator's retries are minutes apart: two attempts make a repeated deferral.
        let policy = SuppressionPolicy {
            temporary_attempts: 2,
            temporary_span_us: 0,
        };
        let mut lists = Vec::new();
        for (threads, block_bytes) in [(1, 1 << 20), (2, 4096), (3, 1024)] {
            let config = Config {
                threads,
                block_bytes,
                track_recipients: true,
                ..Config::default()
            };
            let mut output = run_in_memory(&[(&log[..], time.clone())], &config, &classifier);
            let recipients = output.recipients.as_mut().expect("tracked");
            let list: Vec<String> = recipients
                .suppressions(&policy)
                .iter()
                .map(|s| format!("{s:?}"))
                .collect();
            lists.push(list);
        }
        let reasons = |reason: Reason| {
            let needle = format!("reason: {reason:?}");
            lists[0].iter().filter(|s| s.contains(&needle)).count()
        };
        assert!(reasons(Reason::HardBounce) > 10, "{:?}", lists[0]);
        assert!(reasons(Reason::RepeatedDeferral) > 0, "{:?}", lists[0]);
        assert_eq!(lists[0], lists[1]);
        assert_eq!(lists[0], lists[2]);
        let untracked = run_in_memory(&[(&log[..], time)], &Config::default(), &classifier);
        assert!(untracked.recipients.is_none());
    }

    #[test]
    fn inputs_taken_out_of_order_are_absorbed_in_input_order() {
        let log = rotated_log(4);
        let classifier = Classifier::new();
        // The answer depends on the order the inputs are absorbed in (queue files span the
        // cuts), so a merger that let the interleaving through would be caught.
        let time = TimeContext::utc("2025-12-31T12:00:00Z".parse().unwrap());
        let mut swapped: Vec<(&[u8], TimeContext)> =
            log.iter().map(|part| (&part[..], time.clone())).collect();
        let unswapped = run_in_memory(&swapped, &Config::default(), &classifier);
        swapped.swap(1, 2);
        let swapped = run_in_memory(&swapped, &Config::default(), &classifier);
        assert_ne!(
            unswapped.stats.events_without_sender,
            swapped.stats.events_without_sender
        );
        for (threads, block_bytes) in [(1, 2048), (2, 4096), (3, 1024)] {
            let config = Config {
                threads,
                block_bytes,
                ..Config::default()
            };
            let in_order = run(
                &mut InOrder::new(items(&log, block_bytes, 1).into_iter().flatten(), 4),
                4,
                &config,
                &classifier,
                &|_| {},
            )
            .unwrap();
            let mut scrambled = Scrambled {
                inputs: items(&log, block_bytes, 1),
                ended: vec![false; 4],
                random: SplitMix64::new(threads as u64),
                order: Vec::new(),
            };
            let output = run(&mut scrambled, 4, &config, &classifier, &|_| {}).unwrap();
            assert!(
                scrambled.order.windows(2).any(|pair| pair[0] > pair[1]),
                "no block of a later input went before one of an earlier input: {:?}",
                scrambled.order
            );
            assert_eq!(rendered(&output), rendered(&in_order), "{threads} threads");
            assert_eq!(output.failures.len(), 1);
            assert!(output.per_input.iter().all(|stats| stats.lines > 0));
        }
    }
}
