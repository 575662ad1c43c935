//! Postfix ingest throughput: the per-line parser and the whole pipeline (parse, correlate,
//! classify, aggregate), on a realistic log generated at bench start (nothing large is
//! committed). `Throughput::Bytes`, so criterion reports MB/s.
//!
//! Run with `cargo bench --bench pipeline`. The release binary's end-to-end figure on a 1 GiB
//! log, with dataset writing, comes from `benches/compare.sh`.

use std::hint::black_box;

use bouncestat::classify::Classifier;
use bouncestat::format::Format;
use bouncestat::format::syslog::{self, TimeContext};
use bouncestat::pipeline::{Config, run_in_memory};
use bouncestat::synth::postfix::{PostfixConfig, generate_postfix};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// About 64 MB of Postfix log with the full message lifecycle and noise lines.
fn generated_log() -> Vec<u8> {
    let config = PostfixConfig {
        seed: 11,
        target_bytes: Some(64 << 20),
        target_lines: None,
        ..PostfixConfig::default()
    };
    let mut log = Vec::with_capacity(65 << 20);
    generate_postfix(&config, &mut log).expect("generating into memory cannot fail");
    log
}

fn reference_time() -> TimeContext {
    TimeContext::utc("2025-12-31T00:00:00Z".parse().expect("valid timestamp"))
}

fn parsers(c: &mut Criterion) {
    let log = generated_log();
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(log.len() as u64));
    group.sample_size(10);
    group.bench_function("syslog_envelope", |b| {
        b.iter(|| {
            let mut found = 0usize;
            for line in log.split(|&b| b == b'\n') {
                found += usize::from(syslog::parse_lazy(black_box(line)).is_ok());
            }
            found
        })
    });
    group.bench_function("postfix_line", |b| {
        let mut time = reference_time();
        b.iter(|| {
            let mut records = 0usize;
            for line in log.split(|&b| b == b'\n') {
                let parsed = Format::Postfix.parse_line(black_box(line), &mut time);
                records += usize::from(matches!(parsed, bouncestat::format::Parsed::Record(..)));
            }
            records
        })
    });
    group.finish();
}

fn pipeline(c: &mut Criterion) {
    let log = generated_log();
    let classifier = Classifier::new();
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Bytes(log.len() as u64));
    group.sample_size(10);
    for threads in [1, 2] {
        group.bench_function(format!("postfix_{threads}_threads"), |b| {
            let config = Config {
                threads,
                block_bytes: 8 << 20,
                ..Config::default()
            };
            b.iter(|| {
                let output = run_in_memory(&[(&log, reference_time())], &config, &classifier);
                black_box(output.stats.total_events())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, parsers, pipeline);
criterion_main!(benches);
