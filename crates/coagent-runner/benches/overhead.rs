//! What the runner adds to a DO beyond the script's own time.
//!
//! `baseline/spawn_sh` is the script's own cost (start `sh` on a file, wait); `run/sh_noop`
//! is the same script through [`coagent_runner::run`]; the difference is the runner's
//! overhead. `worktree/{git,shadow}_5000_files/snapshot_change_since` is the capture a
//! DO pays in a 5,000-file project (a snapshot before, `change_since` after, the DO having
//! edited one file), in a git repository and in a plain folder (shadow).
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
    let sh = find_interpreter(Lang::Sh).unwrap().program;

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

/// `files` tracked files in folders of 100, committed, plus one untracked file.
fn project(files: usize, git_repo: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    for i in 0..files {
        let folder = root.join(format!("src{}", i / 100));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(format!("f{i}.rs")), format!("fn f{i}() {{}}\n")).unwrap();
    }
    std::fs::create_dir_all(root.join(".coagent")).unwrap();
    std::fs::write(root.join(".coagent/store.json"), "{}\n").unwrap();
    if git_repo {
        git(root, &["init", "-q"]);
        std::fs::write(root.join(".gitignore"), ".coagent/\n").unwrap();
        git(root, &["add", "-A"]);
        git(root, &["commit", "-q", "-m", "bench"]);
    }
    std::fs::write(root.join("untracked.txt"), "x\n").unwrap();
    // Files written in the same second as an index are "racily clean" to git, which then
    // re-reads them on every use; a user's index is normally older than their files'
    // last change (`git status` refreshes it), so let a second pass and refresh it.
    std::thread::sleep(Duration::from_millis(1100));
    if git_repo {
        git(root, &["status", "--porcelain"]);
    }
    dir
}

fn capture(c: &mut Criterion) {
    let mut group = c.benchmark_group("overhead");
    group
        .sample_size(50)
        .measurement_time(Duration::from_secs(5));
    for (name, git_repo) in [("git", true), ("shadow", false)] {
        let dir = project(5_000, git_repo);
        let root = dir.path();
        let tracker = worktree::Tracker::open(root, &root.join(".coagent")).unwrap();
        // The first shadow snapshot hashes the project; later ones start from its index.
        black_box(tracker.snapshot().unwrap());
        std::thread::sleep(Duration::from_millis(1100));
        black_box(tracker.snapshot().unwrap());
        let mut turn = 0u64;
        group.bench_function(
            format!("worktree/{name}_5000_files/snapshot_change_since"),
            |b| {
                b.iter(|| {
                    let before = tracker.snapshot().unwrap();
                    // A DO that edits one file, as most do.
                    turn += 1;
                    std::fs::write(root.join("src7/f700.rs"), format!("// {turn}\n")).unwrap();
                    black_box(tracker.change_since(&before).unwrap())
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, runner, capture);
criterion_main!(benches);
