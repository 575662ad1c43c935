//! Properties of the two ways the input layer cuts bytes into lines: `split_chunks` for mapped
//! files and `BlockReader` for streams.

use std::io::{self, Read};

use bouncestat::input::{BlockReader, split_chunks};
use proptest::prelude::*;

/// Log-like text: lines of varied length (some long, some empty), sometimes without a final
/// newline, with the odd NUL or invalid UTF-8 byte.
fn log_text() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        8 => "[a-z0-9 :=<>@.\\[\\]-]{0,60}".prop_map(String::into_bytes),
        1 => proptest::collection::vec(any::<u8>().prop_filter("no newline", |b| *b != b'\n'), 0..40),
        1 => "x{100,400}".prop_map(String::into_bytes),
    ];
    (proptest::collection::vec(line, 0..40), any::<bool>()).prop_map(|(lines, trailing)| {
        let mut text = lines.join(&b'\n');
        if trailing && !text.is_empty() {
            text.push(b'\n');
        }
        text
    })
}

/// Hands out the data in reads of the given sizes, cycling, like a pipe or a decoder would.
struct Trickle<'a> {
    data: &'a [u8],
    sizes: Vec<usize>,
    next: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.next % self.sizes.len()].max(1);
        self.next += 1;
        let n = size.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn split_chunks_cover_exactly_and_end_at_newlines(data in log_text(), target in 0usize..300) {
        let ranges = split_chunks(&data, target);
        let mut expected_start = 0;
        for (index, range) in ranges.iter().enumerate() {
            prop_assert_eq!(range.start, expected_start, "ranges must be contiguous");
            prop_assert!(range.end > range.start, "no empty chunk");
            let is_last = index == ranges.len() - 1;
            if !is_last {
                prop_assert_eq!(data[range.end - 1], b'\n', "chunk must end after a newline");
                prop_assert!(range.len() >= target.max(1), "only the last chunk may be short");
                // The chunk is as short as it can be: no newline ends it earlier at or past the
                // target size, so a long line is never split.
                let earliest_end = range.start + target.max(1);
                prop_assert!(!data[earliest_end - 1..range.end - 1].contains(&b'\n'));
            }
            expected_start = range.end;
        }
        prop_assert_eq!(expected_start, data.len(), "ranges must reach the end");
    }

    #[test]
    fn block_reader_blocks_concatenate_to_the_input(
        data in log_text(),
        block_size in 1usize..200,
        reads in proptest::collection::vec(1usize..300, 1..5),
    ) {
        let source = Trickle { data: &data, sizes: reads, next: 0 };
        let mut reader = BlockReader::new(source, block_size);
        let mut joined = Vec::new();
        let mut blocks = Vec::new();
        while let Some(block) = reader.next_block().unwrap() {
            prop_assert!(block.oversized.is_none());
            prop_assert!(!block.data.is_empty());
            blocks.push(block.data.to_vec());
            joined.extend_from_slice(block.data);
        }
        for block in blocks.iter().take(blocks.len().saturating_sub(1)) {
            prop_assert_eq!(block.last(), Some(&b'\n'));
        }
        prop_assert_eq!(joined, data);
    }

    /// With a small line cap, every line longer than the cap comes out alone as its head,
    /// flagged with its full length, and all other lines come out whole and in order, whatever
    /// the block and read sizes.
    #[test]
    fn block_reader_cuts_overlong_lines_by_length_alone(
        data in log_text(),
        block_size in 1usize..200,
        max_line in 1usize..150,
        reads in proptest::collection::vec(1usize..300, 1..5),
    ) {
        let mut expected: Vec<(Vec<u8>, Option<u64>)> = Vec::new();
        for line in data.split_inclusive(|b| *b == b'\n') {
            let content = line.len() - usize::from(line.ends_with(b"\n"));
            if content > max_line {
                expected.push((line[..max_line].to_vec(), Some(line.len() as u64)));
            } else {
                expected.push((line.to_vec(), None));
            }
        }
        let source = Trickle { data: &data, sizes: reads, next: 0 };
        let mut reader = BlockReader::new(source, block_size).with_max_line(max_line);
        let mut got: Vec<(Vec<u8>, Option<u64>)> = Vec::new();
        while let Some(block) = reader.next_block().unwrap() {
            match block.oversized {
                Some(length) => got.push((block.data.to_vec(), Some(length))),
                None => {
                    for line in block.data.split_inclusive(|b| *b == b'\n') {
                        got.push((line.to_vec(), None));
                    }
                }
            }
        }
        prop_assert_eq!(got, expected);
    }
}

#[test]
fn split_chunks_of_a_realistic_log() {
    let mut log = Vec::new();
    for i in 0..10_000 {
        log.extend_from_slice(
            format!(
                "Feb 14 06:25:{:02} mx1 postfix/smtp[{}]: 4Xyz{:05}: to=<user{i}@example.com>, \
                 relay=mx.example.com[192.0.2.1]:25, delay=0.5, dsn=2.0.0, status=sent (250 ok)\n",
                i % 60,
                1000 + i,
                i
            )
            .as_bytes(),
        );
    }
    let ranges = split_chunks(&log, 64 * 1024);
    assert!(ranges.len() > 10);
    let lines: usize = ranges
        .iter()
        .map(|range| log[range.clone()].iter().filter(|b| **b == b'\n').count())
        .sum();
    assert_eq!(lines, 10_000);
}

#[test]
fn block_reader_on_empty_input_returns_nothing() {
    let mut reader = BlockReader::new(&b""[..], 1024);
    assert!(reader.next_block().unwrap().is_none());
    assert!(reader.next_block().unwrap().is_none());
}

#[test]
fn megabyte_line_is_one_oversized_block_with_bounded_memory() {
    let mut data = b"before\n".to_vec();
    data.extend(std::iter::repeat_n(b'A', 3 * 1024 * 1024));
    data.extend_from_slice(b"\nafter\n");
    let mut reader = BlockReader::new(&data[..], 4096).with_max_line(64 * 1024);
    let mut seen = Vec::new();
    while let Some(block) = reader.next_block().unwrap() {
        assert!(block.data.len() <= 64 * 1024);
        seen.push((block.data.len(), block.oversized));
    }
    assert_eq!(
        seen,
        vec![(7, None), (64 * 1024, Some(3 * 1024 * 1024 + 1)), (6, None)]
    );
}
