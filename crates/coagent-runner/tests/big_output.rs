//! A script that prints a gibibyte: memory stays flat and the log stays bounded.
//! In its own test binary so no other test's allocations blur the measurement.
//! Unix only: an sh script, and the peak memory read from /proc.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

use std::io;
use std::time::Duration;

use coagent_runner::{Cancel, Lang, RunSpec, RunStatus, run};

const GIB: u64 = 1 << 30;

/// Peak resident memory of this process so far, in KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn printing_a_gibibyte_keeps_memory_flat_and_the_log_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = RunSpec::new(
        Lang::Sh,
        format!("head -c {GIB} /dev/zero\necho tail-marker\n"),
        dir.path(),
    );
    spec.scratch_dir = dir.path().join("scratch");
    spec.timeout = Duration::from_secs(300);
    let before = peak_rss_kib();
    let outcome = run(&spec, &mut io::sink(), &Cancel::new()).unwrap();
    let after = peak_rss_kib();

    assert_eq!(outcome.status, RunStatus::Succeeded);
    let log = &outcome.log;
    assert_eq!(log.total_bytes, GIB + "tail-marker\n".len() as u64);
    assert_eq!(log.head.len(), RunSpec::DEFAULT_LOG_BYTES);
    assert_eq!(log.tail.len(), RunSpec::DEFAULT_LOG_BYTES);
    assert_eq!(
        log.cut_bytes,
        log.total_bytes - 2 * RunSpec::DEFAULT_LOG_BYTES as u64
    );
    assert!(log.tail.ends_with(b"\0\0tail-marker\n"));
    assert!(log.render().len() < 2 * RunSpec::DEFAULT_LOG_BYTES + 100);

    if let (Some(before), Some(after)) = (before, after) {
        let growth_mib = (after.saturating_sub(before)) / 1024;
        assert!(
            growth_mib < 64,
            "peak memory grew by {growth_mib} MiB while the script printed 1 GiB"
        );
    }
}
