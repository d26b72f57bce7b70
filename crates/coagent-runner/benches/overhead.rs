//! What the runner adds to a DO beyond the script's own time.
//!
//! `baseline/spawn_sh` is the script's own cost (start `sh` on a file, wait); `run/sh_noop`
//! is the same script through [`coagent_runner::run`]; the difference is the runner's
//! overhead. `worktree/snapshot_diff` is the git capture a DO pays in a repository
//! (snapshot before, snapshot after, diff); `worktree/snapshot_diff_since` the same with
//! `diff_since`, which saves one git process.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use coagent_runner::{Cancel, Lang, RunSpec, find_interpreter, run, worktree};
use criterion::{Criterion, criterion_group, criterion_main};

fn runner(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("noop.sh");
    std::fs::write(&script, ":\n").unwrap();
    let sh = find_interpreter(Lang::Sh).unwrap();

    let mut group = c.benchmark_group("overhead");
    group
        .sample_size(100)
        .measurement_time(Duration::from_secs(4));
    group.bench_function("baseline/spawn_sh", |b| {
        b.iter(|| {
            let status = Command::new(&sh)
                .arg(&script)
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .output()
                .unwrap();
            black_box(status);
        });
    });

    let mut spec = RunSpec::new(Lang::Sh, ":\n", dir.path());
    spec.scratch_dir = dir.path().join("scratch");
    group.bench_function("run/sh_noop", |b| {
        b.iter(|| black_box(run(&spec, &mut std::io::sink(), &Cancel::new()).unwrap()));
    });
    let echo = RunSpec {
        script: "echo hello\necho world >&2\n".into(),
        ..spec.clone()
    };
    group.bench_function("run/sh_echo", |b| {
        b.iter(|| black_box(run(&echo, &mut std::io::sink(), &Cancel::new()).unwrap()));
    });
    group.finish();
}

fn git(root: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .current_dir(root)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .args([
            "-c",
            "user.name=Bench",
            "-c",
            "user.email=bench@coagent.invalid",
        ])
        .args(args)
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "git {args:?}");
}

fn capture(c: &mut Criterion) {
    // A small project: 200 tracked files in 10 folders, one untracked file.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q"]);
    for d in 0..10 {
        std::fs::create_dir_all(root.join(format!("src{d}"))).unwrap();
        for f in 0..20 {
            std::fs::write(
                root.join(format!("src{d}/f{f}.rs")),
                format!("fn f{f}() {{}}\n"),
            )
            .unwrap();
        }
    }
    git(root, &["add", "-A"]);
    git(root, &["commit", "-q", "-m", "bench"]);
    std::fs::write(root.join("untracked.txt"), "x\n").unwrap();

    let mut group = c.benchmark_group("overhead");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(4));
    group.bench_function("worktree/snapshot_diff", |b| {
        b.iter(|| {
            let before = worktree::snapshot(root, &[".coagent"]).unwrap();
            let after = worktree::snapshot(root, &[".coagent"]).unwrap();
            black_box(worktree::diff(root, &before, &after).unwrap())
        });
    });
    group.bench_function("worktree/snapshot_diff_since", |b| {
        b.iter(|| {
            let before = worktree::snapshot(root, &[".coagent"]).unwrap();
            black_box(worktree::diff_since(root, &before).unwrap())
        });
    });
    group.finish();
}

criterion_group!(benches, runner, capture);
criterion_main!(benches);
