//! Classifier throughput.
//!
//! Inputs are generated at bench start from the labelled set: a million JSON lines whose
//! replies are the labelled ones with per-message variation added (recipient, queue id,
//! session ids, IPs), as a day of logs repeats a few hundred replies with different ids. The
//! `classify_jsonl` group measures the `bouncestat classify` path (parse, classify, append
//! the verdict); `classify_inputs` the classifier alone on the same records; and
//! `classify_uncached` the cost of a cache miss (normalise, regex set, rule scan).

use std::hint::black_box;
use std::path::Path;

use bouncestat::classify::Classifier;
use bouncestat::classify::eval;
use bouncestat::classify::jsonl::{Record, classify_line};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const LINES: usize = 1_000_000;

fn labelled() -> Vec<serde_json::Map<String, serde_json::Value>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/classify");
    eval::load(&dir)
        .expect("labelled set")
        .into_iter()
        .map(|case| {
            let mut object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&case.raw).unwrap();
            object.remove("expect");
            object.remove("rule");
            object
        })
        .collect()
}

/// A million JSON lines: labelled replies with varying ids, addresses and IPs.
fn generate() -> Vec<u8> {
    let templates = labelled();
    let mut out = Vec::with_capacity(LINES * 400);
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..LINES {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut object = templates[(state % templates.len() as u64) as usize].clone();
        let text = object
            .get("text")
            .and_then(|t| t.as_str())
            .unwrap_or("")
            .to_owned();
        let varied = format!(
            "{text} [192.0.2.{}] <user{i}@example.net> {:x}si{}qkb.{} - id",
            state % 250,
            state >> 20,
            state % 99_991,
            i % 300
        );
        object.insert("text".into(), varied.into());
        object.insert("queue_id".into(), format!("{:X}", state >> 24).into());
        object.insert("recipient".into(), format!("user{i}@example.net").into());
        serde_json::to_writer(&mut out, &object).unwrap();
        out.push(b'\n');
    }
    out
}

fn bench(c: &mut Criterion) {
    let data = generate();
    let lines: Vec<&[u8]> = data
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();

    let mut group = c.benchmark_group("classify_jsonl");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("1M_lines", |b| {
        let classifier = Classifier::new();
        let mut out = Vec::with_capacity(1 << 16);
        b.iter(|| {
            for line in &lines {
                classify_line(&classifier, line, &mut out).unwrap();
                if out.len() >= 1 << 15 {
                    black_box(&out);
                    out.clear();
                }
            }
        });
    });
    group.finish();

    let records: Vec<Record<'_>> = lines.iter().map(|l| Record::parse(l).unwrap()).collect();
    let mut group = c.benchmark_group("classify_inputs");
    group.sample_size(10);
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("1M_cached", |b| {
        let classifier = Classifier::new();
        b.iter(|| {
            for record in &records {
                black_box(classifier.classify(&record.input()));
            }
        });
    });
    group.finish();

    let sample = &records[..10_000];
    let mut group = c.benchmark_group("classify_uncached");
    group.sample_size(10);
    group.throughput(Throughput::Elements(sample.len() as u64));
    group.bench_function("10k_misses", |b| {
        let classifier = Classifier::new();
        b.iter(|| {
            for record in sample {
                black_box(classifier.classify_uncached(&record.input()));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
