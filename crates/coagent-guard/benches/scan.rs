//! Single-thread throughput of `Guard::scan` on clean text, the guard's hot path.
//!
//! Inputs are built at bench time: real source code found on the machine (Rust from the
//! cargo registry, Python's standard library, JavaScript of global npm packages; read, never
//! committed), synthetic Rust/Python/JS source dense with credential-sounding names (a
//! stress case: about one keyword hit every 50 bytes), and the mixed clean corpus of the
//! tests (base64 images, lock files, minified JS…). `cargo bench -p coagent-guard`.
//! Time is the scanning thread's CPU time (see `ThreadCpuTime`).
#![allow(clippy::unwrap_used)]

#[path = "../tests/common/clean.rs"]
mod clean;

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use coagent_guard::Guard;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Thread CPU time instead of wall time: the scan is single-threaded, and the machines this
/// runs on are shared, so wall time would measure the neighbours. On an idle machine the two
/// agree.
struct ThreadCpuTime(WallTime);

impl Measurement for ThreadCpuTime {
    type Intermediate = cpu_time::ThreadTime;
    type Value = Duration;

    fn start(&self) -> Self::Intermediate {
        cpu_time::ThreadTime::now()
    }
    fn end(&self, i: Self::Intermediate) -> Self::Value {
        i.elapsed()
    }
    fn add(&self, v1: &Self::Value, v2: &Self::Value) -> Self::Value {
        *v1 + *v2
    }
    fn zero(&self) -> Self::Value {
        Duration::ZERO
    }
    fn to_f64(&self, value: &Self::Value) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        self.0.formatter()
    }
}

const SIZE: usize = 8 * 1024 * 1024;

/// Up to `limit` bytes of the files under `root` whose extension is `ext`, in a stable
/// order, skipping `skip` folders (third-party data, not source).
fn collect(root: &Path, ext: &str, skip: &str, limit: usize) -> Option<Vec<u8>> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                if p.file_name().is_none_or(|n| n != skip) {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == ext) {
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

/// Real source code present on this machine, read at bench time and never committed:
/// Rust from the cargo registry, Python's standard library, JavaScript of global npm
/// packages.
fn real_sources(limit: usize) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")));
    if let Some(home) = cargo_home
        && let Some(bytes) = collect(&home.join("registry/src"), "rs", "", limit)
    {
        out.push(("real-rust", bytes));
    }
    let stdlib = std::process::Command::new("python3")
        .args([
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['stdlib'])",
        ])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty());
    if let Some(dir) = stdlib
        && let Some(bytes) = collect(Path::new(&dir), "py", "site-packages", limit)
    {
        out.push(("real-python", bytes));
    }
    if let Some(bytes) = collect(Path::new("/usr/lib/node_modules"), "js", "", limit) {
        out.push(("real-js", bytes));
    }
    out
}

fn bench(c: &mut Criterion<ThreadCpuTime>) {
    let guard = Guard::builtin();
    let mut group = c.benchmark_group("scan");
    group.sample_size(20);
    group.measurement_time(Duration::from_secs(6));

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

    for (name, real) in real_sources(SIZE) {
        group.throughput(Throughput::Bytes(real.len() as u64));
        group.bench_function(name, |b| b.iter(|| guard.scan(black_box(&real))));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime(WallTime));
    targets = bench
}
criterion_main!(benches);
