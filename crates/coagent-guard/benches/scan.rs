//! Single-thread throughput of `Guard::scan` on clean text, the guard's hot path.
//!
//! Inputs are built at bench time: synthetic Rust/Python/JS source (deterministic), the
//! mixed clean corpus of the tests (base64 images, lock files, minified JS…), and — when a
//! cargo registry exists on this machine — real Rust sources read from
//! `~/.cargo/registry/src` (never committed). `cargo bench -p coagent-guard`.
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/clean.rs"]
mod clean;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use coagent_guard::Guard;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const SIZE: usize = 8 * 1024 * 1024;

/// Up to `limit` bytes of `.rs` files from the local cargo registry, in a stable order.
fn registry_sources(limit: usize) -> Option<Vec<u8>> {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    let src = home.join("registry/src");
    let mut files = Vec::new();
    let mut stack = vec![src];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out = Vec::with_capacity(limit);
    for f in files {
        if out.len() >= limit {
            break;
        }
        if let Ok(bytes) = std::fs::read(&f) {
            out.extend_from_slice(&bytes);
        }
    }
    (out.len() >= limit / 4).then_some(out)
}

fn bench(c: &mut Criterion) {
    let guard = Guard::builtin();
    let mut group = c.benchmark_group("scan");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(8));

    let source = clean::clean_source(42, SIZE).into_bytes();
    group.throughput(Throughput::Bytes(source.len() as u64));
    group.bench_function("synthetic-source", |b| {
        b.iter(|| guard.scan(black_box(&source)))
    });

    let mixed: Vec<u8> = clean::clean_corpus(42, SIZE)
        .into_iter()
        .flat_map(|(_, t)| t.into_bytes())
        .collect();
    group.throughput(Throughput::Bytes(mixed.len() as u64));
    group.bench_function("clean-mixed", |b| b.iter(|| guard.scan(black_box(&mixed))));

    if let Some(real) = registry_sources(SIZE) {
        group.throughput(Throughput::Bytes(real.len() as u64));
        group.bench_function("cargo-registry-rust", |b| {
            b.iter(|| guard.scan(black_box(&real)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
