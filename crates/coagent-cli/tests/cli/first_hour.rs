//! What a new user trips on in the first hour: a paste that looks hung, a project outside
//! git, a demo stopped half-way, a chat left on an older capsule, the install line.
//!
//! Terminal tests run the program under `script` (util-linux), which gives it a
//! pseudo-terminal and passes our bytes as keystrokes: `\x04` is Ctrl-D, `\x03` Ctrl-C.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::{Env, NOW};

/// `coagent ARGS` on a terminal of its own; what it prints is gathered in the returned
/// buffer as it comes.
fn in_a_terminal(env: &Env, args: &str, tmpdir: &Path) -> (Child, Arc<Mutex<String>>) {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("script").is_file()));
    assert!(
        found,
        "`script` (util-linux) is needed for the terminal tests"
    );
    let command = format!("'{}' {args}", env!("CARGO_BIN_EXE_coagent"));
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .current_dir(&env.root)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &env.home)
        .env("TMPDIR", tmpdir)
        .env("SHELL", "/bin/sh")
        .env("NO_COLOR", "1")
        .env("COAGENT_NOW", NOW)
        .env("COAGENT_SEED", "7")
        .env("COAGENT_CLIPBOARD", format!("file:{}", env.clip.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script");
    let seen = Arc::new(Mutex::new(String::new()));
    let mut so = child.stdout.take().unwrap();
    let sink = Arc::clone(&seen);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = so.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    (child, seen)
}

fn wait_for(seen: &Mutex<String>, what: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    while !seen.lock().unwrap().contains(what) {
        assert!(
            Instant::now() < until,
            "the terminal never showed {what:?}:\n{}",
            seen.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_exit(child: &mut Child) -> i32 {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st.code().unwrap_or(-1);
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("the command did not end");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ingest_from_a_terminal_says_how_to_end_the_paste() {
    let env = Env::new();
    env.init();
    env.ok(&["start", "--vendor", "claude"]);
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, seen) = in_a_terminal(&env, "ingest -", tmp.path());
    wait_for(
        &seen,
        "Paste the reply, then press Ctrl-D (Ctrl-Z Enter on Windows)",
    );
    let mut keys = child.stdin.take().unwrap();
    keys.write_all(b"Policy v1.0 loaded.\n\x04").unwrap();
    assert_eq!(wait_exit(&mut child), 0, "{}", seen.lock().unwrap());
    wait_for(&seen, "echo      verified");
}

#[test]
fn ingest_from_a_pipe_stays_silent() {
    let env = Env::new();
    env.init();
    env.ok(&["start", "--vendor", "claude"]);
    let out = env
        .cmd(&["ingest", "-"])
        .stdin("Policy v1.0 loaded.\n")
        .ok();
    assert!(!out.stderr.contains("Paste the reply"), "{}", out.stderr);
}

#[test]
fn demo_removes_its_folder_on_ctrl_c() {
    let env = Env::new();
    let tmp = tempfile::tempdir().unwrap();
    let (mut child, seen) = in_a_terminal(&env, "demo", tmp.path());
    // The demo pauses after its first step on a terminal: its project exists by then.
    wait_for(&seen, "[Enter] next step");
    let made: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().flatten().collect();
    assert_eq!(made.len(), 1, "the demo made its throwaway folder");
    child.stdin.as_mut().unwrap().write_all(b"\x03").unwrap();
    assert_eq!(wait_exit(&mut child), 130, "{}", seen.lock().unwrap());
    let left: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(left.is_empty(), "Ctrl-C left the demo's folder: {left:?}");
    wait_for(&seen, "Stopped. The throwaway project is removed.");
}

#[test]
fn init_outside_git_says_what_the_shadow_history_costs() {
    let env = Env::new();
    let out = env.ok(&["init"]);
    out.stdout_has("this folder is not a git repository")
        .stdout_has(".coagent/cache/shadow.git")
        .stdout_has("results record no commits")
        .stdout_has("run `git init` here");
    assert_eq!(env.json(&["init", "--hub", "other"])["git"], false);

    let env = Env::with_git();
    let out = env.ok(&["init"]);
    assert!(
        !out.stdout.contains("not a git repository"),
        "{}",
        out.stdout
    );
    assert_eq!(env.json(&["init", "--hub", "other"])["git"], true);
}

#[test]
fn outdated_capsule_is_flagged_in_status_and_ticker() {
    let env = Env::new();
    env.init();
    let s = env.json(&["start", "--vendor", "claude"])["session"]
        .as_str()
        .unwrap()
        .to_string();
    env.cmd(&["ingest", "-"])
        .stdin("Policy v1.0 loaded.\n")
        .ok();
    // The prompt's ticker has written its files before the bump: they must not be trusted.
    assert!(!env.ok(&["ticker"]).stdout.contains('✗'));
    let policy = env.hub().join("policy.md");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str("\n- Answer in French.\n");
    std::fs::write(&policy, text).unwrap();
    env.ok(&["capsule", "bump", "minor"]);

    for _ in 0..2 {
        // The full check, then the prompt's fast path from the status files.
        env.ok(&["ticker"])
            .stdout_has("policy v1.0 ✗ (v1.1 is current)");
    }
    assert_eq!(env.json(&["ticker"])["capsule_outdated"], true);
    let st = env.json(&["status"]);
    assert_eq!(st["sessions"][0]["capsule_outdated"], true, "{st}");
    assert_eq!(st["sessions"][0]["capsule_current"], "1.1.0", "{st}");
    env.ok(&["status"])
        .stdout_has("capsule outdated: this chat follows v1.0.0, v1.1.0 is current")
        .stdout_has(&format!("coagent wrap --session {s}"));

    // The way out: the respawn boots with the capsule in force.
    env.ok(&["wrap"]);
    let t = env.ok(&["ticker"]);
    assert!(!t.stdout.contains('✗'), "{}", t.stdout);
    t.stdout_has("policy v1.1");
    assert_eq!(
        env.json(&["status"])["sessions"][0]["capsule_outdated"],
        false
    );
}

#[test]
fn readme_install_line_is_locked() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let installs: Vec<&str> = readme
        .lines()
        .filter(|l| l.contains("cargo install"))
        .collect();
    assert!(!installs.is_empty(), "the README says how to install");
    for l in installs {
        assert!(
            l.contains("--locked"),
            "installs without Cargo.lock's versions: {l}"
        );
    }
}
