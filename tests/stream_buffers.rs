//! A compressed file's blocks are decoded into buffers that go back to the decoder once a
//! worker has parsed them. A fresh buffer is zeroed memory, which the decoder's thread (the
//! slowest stage of a compressed ingest) would otherwise pay for on every block.
//!
//! The test counts, with a counting allocator, the buffers of the stream's block size that
//! a whole ingest allocates.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use bouncestat::classify::Classifier;
use bouncestat::input::discover;
use bouncestat::pipeline::files::{FileBlocks, ReadOptions};
use bouncestat::pipeline::{self, Config};
use bouncestat::progress::Progress;
use bouncestat::synth::{PostfixConfig, generate_postfix};

mod common;
use common::gzip;

/// An odd size that nothing else in a run allocates.
const BLOCK: usize = 100_003;

static BLOCK_BUFFERS: AtomicUsize = AtomicUsize::new(0);

struct Counting;

// SAFETY: every call is passed on to the system allocator unchanged; the counter is a side
// effect that allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout);
        // SAFETY: the caller's contract for `layout` is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator, that is from `System`, with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size == BLOCK {
            BLOCK_BUFFERS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn count(layout: Layout) {
    if layout.size() == BLOCK {
        BLOCK_BUFFERS.fetch_add(1, Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[test]
fn a_compressed_stream_reuses_its_block_buffers() {
    let mut log = Vec::new();
    generate_postfix(&PostfixConfig::many_open_queue_files(7, 12 << 20), &mut log).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mail.log.gz");
    std::fs::write(&path, gzip(&log)).unwrap();

    let (files, errors) = discover(&[path.to_str().unwrap().to_string()]);
    assert!(errors.is_empty(), "{errors:?}");
    let read = ReadOptions {
        timezone: jiff::tz::TimeZone::UTC,
        year: Some(2025),
        block_bytes: 16 << 20,
        stream_block_bytes: BLOCK,
        no_mmap: false,
        format: None,
        open_inputs: 1,
    };
    let config = Config {
        threads: 2,
        ..Config::default()
    };
    let classifier = Classifier::new();
    let mut blocks = FileBlocks::new(&files, read, Progress::hidden());
    let before = BLOCK_BUFFERS.load(Ordering::Relaxed);
    let output = pipeline::run(&mut blocks, files.len(), &config, &classifier, &|_| {}).unwrap();
    let allocated = BLOCK_BUFFERS.load(Ordering::Relaxed) - before;

    assert!(output.failures.is_empty(), "{:?}", output.failures);
    assert_eq!(output.stats.bytes, log.len() as u64);
    let blocks = log.len() / BLOCK;
    assert!(blocks > 100, "only {blocks} blocks");
    // The decoder's channel, its pool of returned buffers and the blocks in flight on the
    // workers hold a dozen or so at once; without reuse there would be one per block.
    assert!(
        allocated <= 24,
        "{allocated} block buffers allocated for {blocks} blocks"
    );
}
