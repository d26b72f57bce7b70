//! Throughput of `parse_reply` on a 1 MiB reply: the fixture corpus (prose,
//! code blocks, DOs, ACKs, messages) repeated, in both copy forms, plus an
//! adversarial reply made of protocol fragments to show the scan stays linear.
//!
//! `cargo bench -p coagent-ingest --bench parse`

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

mod inputs;

use inputs::{adversarial, corpus, realistic};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse_reply");
    g.sample_size(30);
    for (name, input) in [
        ("realistic_1MiB", realistic()),
        ("copy_button_1MiB", corpus(".copy.md")),
        ("rendered_selection_1MiB", corpus(".rendered.txt")),
        ("adversarial", adversarial()),
    ] {
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function(name, |b| {
            b.iter(|| coagent_ingest::parse_reply(black_box(&input)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
