//! Ctrl-C while a DO runs: the script's group is killed and the outcome is `killed`.
//! In its own test binary because signal handlers belong to the whole process.
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

use std::io;
use std::time::Duration;

use coagent_runner::{Cancel, Lang, RunSpec, RunStatus, run};

#[test]
fn ctrl_c_cancels_the_run_and_kills_the_group() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let mut spec = RunSpec::new(
        Lang::Sh,
        "sleep 300 &\necho $! > \"$PIDS\"\nsleep 300\n",
        dir.path(),
    );
    spec.scratch_dir = dir.path().join("scratch");
    spec.timeout = Duration::from_secs(60);
    spec.env.push(("PIDS".into(), pids.display().to_string()));

    let cancel = Cancel::new();
    let guard = cancel.cancel_on_interrupt().unwrap();
    let pid_file = pids.clone();
    let interrupter = std::thread::spawn(move || {
        while std::fs::read_to_string(&pid_file).map_or(true, |s| s.trim().is_empty()) {
            std::thread::sleep(Duration::from_millis(20));
        }
        // What the terminal sends on Ctrl-C.
        signal_hook::low_level::raise(signal_hook::consts::SIGINT).unwrap();
    });
    let outcome = run(&spec, &mut io::sink(), &cancel).unwrap();
    interrupter.join().unwrap();
    drop(guard);

    assert!(cancel.is_cancelled());
    assert_eq!(outcome.status, RunStatus::Killed);
    let grandchild: i32 = std::fs::read_to_string(&pids)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let gone = (0..200).any(|_| {
        let state = std::fs::read_to_string(format!("/proc/{grandchild}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .and_then(|(_, r)| r.trim_start().chars().next())
            });
        let running = state.is_some_and(|c| c != 'Z' && c != 'X');
        if running {
            std::thread::sleep(Duration::from_millis(25));
        }
        !running
    });
    assert!(
        gone,
        "the script's background child {grandchild} survived Ctrl-C"
    );
}
