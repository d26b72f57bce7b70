//! Parses a 1 MiB benchmark input N times, for measuring CPU time with
//! `perf stat -e task-clock` independently of other load on the machine:
//! `cargo build --release -p coagent-ingest --example throughput` then
//! `perf stat -e task-clock target/release/examples/throughput realistic 200`
//! (N = 0 writes the input to stdout instead).
#![allow(clippy::print_stdout)]

#[path = "../benches/inputs/mod.rs"]
mod inputs;

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "realistic".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(100);
    let input = match which.as_str() {
        "copy" => inputs::corpus(".copy.md"),
        "rendered" => inputs::corpus(".rendered.txt"),
        "adversarial" => inputs::adversarial(),
        _ => inputs::realistic(),
    };
    if n == 0 {
        // `throughput realistic 0 > reply.md`: write the input, for timing a
        // whole `ingest`-like process on it.
        use std::io::Write;
        let _ = std::io::stdout().write_all(&input);
        return;
    }
    let mut found = 0;
    for _ in 0..n {
        let r = coagent_ingest::parse_reply(std::hint::black_box(&input));
        found += r.dos.len() + r.acks.len();
    }
    println!("{which}: {} bytes x {n}, {found} records", input.len());
}
