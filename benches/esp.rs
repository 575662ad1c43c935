//! JSON ingestion throughput of ESP exports: SES event publishing and SendGrid webhook batches,
//! generated at bench start (nothing large is committed), parsed, classified and aggregated by
//! the pipeline on one and on two threads.
//!
//! `cargo bench --bench esp`. One input is one block (an export is never cut), so the
//! two-thread case ingests four files.

use std::hint::black_box;

use bouncestat::classify::Classifier;
use bouncestat::format::syslog::TimeContext;
use bouncestat::pipeline::{Config, run_in_memory};
use bouncestat::synth::{EspConfig, EspKind, generate_esp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn export(kind: EspKind, seed: u64, bytes: u64) -> Vec<u8> {
    let cfg = EspConfig {
        kind,
        seed,
        target_bytes: Some(bytes),
        target_records: None,
        start: "2026-11-27T00:00:00Z".parse().unwrap(),
        rate: 50.0,
    };
    let mut data = Vec::with_capacity(bytes as usize + 65536);
    generate_esp(&cfg, &mut data).unwrap();
    data
}

fn ingest(c: &mut Criterion) {
    let classifier = Classifier::new();
    let time = TimeContext::utc("2026-11-28T00:00:00Z".parse().unwrap());
    for (name, kind) in [("ses", EspKind::Ses), ("sendgrid", EspKind::Sendgrid)] {
        let files: Vec<Vec<u8>> = (0..4).map(|seed| export(kind, seed, 8 << 20)).collect();
        let mut group = c.benchmark_group(format!("esp_ingest/{name}"));
        group.sample_size(10);
        for threads in [1, 2] {
            let inputs: Vec<(&[u8], TimeContext)> = files
                .iter()
                .take(if threads == 1 { 1 } else { 4 })
                .map(|f| (f.as_slice(), time.clone()))
                .collect();
            let bytes: usize = inputs.iter().map(|(d, _)| d.len()).sum();
            group.throughput(Throughput::Bytes(bytes as u64));
            let config = Config {
                threads,
                ..Config::default()
            };
            group.bench_function(format!("{threads}_threads"), |b| {
                b.iter(|| black_box(run_in_memory(&inputs, &config, &classifier)))
            });
        }
        group.finish();
    }
}

criterion_group!(benches, ingest);
criterion_main!(benches);
