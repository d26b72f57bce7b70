//! Windows, where it differs: drive-letter paths shown plain, `cmd` DOs, a DO's process
//! tree ended as a whole, PowerShell's encodings, interpreters chosen in a sound order,
//! backslash paths in ACK refs and `# ARTIFACT:` lines, CRLF replies. Run under wine in CI
//! (`.ci/windows`); what a test inside Windows cannot do (Ctrl-C, killing coagent.exe) is
//! in `.ci/wine-smoke`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::Env;

/// A reply as Windows' clipboard gives it: CRLF line ends.
fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// A started session with one DO proposed through a CRLF reply; returns its id.
fn proposed(env: &Env, lang: &str, title: &str, body: &str) -> String {
    if !env.hub().exists() {
        env.init();
        env.json(&["start", "--vendor", "claude"]);
    }
    let reply = crlf(&format!(
        "Policy v1.0 loaded.\n\n```{lang}\n# DO: {title}\n{body}\n# END DO\n```\n"
    ));
    let r = env.cmd(&["--json", "ingest", "-"]).stdin(reply).ok().json();
    r["dos"][0]["id"].as_str().unwrap().to_string()
}

/// A plain path as Windows users read and programs take it: a drive letter, backslashes
/// only, never the `\\?\` form `fs::canonicalize` gives.
fn assert_plain(path: &str) {
    let b = path.as_bytes();
    assert!(
        b.len() > 3 && b[0].is_ascii_alphabetic() && &b[1..3] == b":\\",
        "not a drive path: {path}"
    );
    assert!(!path.contains('/'), "a forward slash in {path}");
    assert!(!path.contains(r"\\?\"), "a verbatim path: {path}");
}

#[test]
fn start_and_status_show_plain_drive_letter_paths() {
    let env = Env::new();
    env.init();
    let out = env.cmd(&["--json", "start", "--vendor", "claude"]).ok();
    // The day's backup is synced through a handle that may write (a read-only one made
    // Windows refuse the sync, and `start` warned that the backup failed).
    assert!(!out.stderr.contains("backup failed"), "{}", out.stderr);
    let start = out.json();
    let payloads = start["payloads"].as_array().unwrap();
    assert!(!payloads.is_empty(), "{start:#}");
    for p in payloads {
        assert_plain(p.as_str().unwrap());
    }
    let status = env.ok(&["status"]).stdout;
    let hub = status
        .lines()
        .find_map(|l| l.strip_prefix("hub "))
        .unwrap_or_else(|| panic!("no hub line in:\n{status}"));
    assert_plain(hub);
    assert!(!status.contains(r"\\?\"), "{status}");
}

#[test]
fn a_cmd_do_runs_under_cmd_and_its_exit_code_is_recorded() {
    let env = Env::new();
    let id = proposed(
        &env,
        "cmd",
        "count",
        "@echo off\necho counted 3 files\nexit /b 3",
    );
    let show = env.ok(&["do", "show", &id]).stdout;
    assert!(show.to_lowercase().contains("cmd.exe"), "{show}");
    let file = show
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("file"))
        .unwrap_or_else(|| panic!("no file line in:\n{show}"));
    assert_plain(file.trim());
    let run = env.cmd(&["--json", "do", "run", &id]).code(1).json();
    assert_eq!(run["status"], "failed", "{run:#}");
    assert_eq!(run["exit_code"], 3, "{run:#}");
    let log = log_of(&env, &run);
    assert!(log.contains("counted 3 files"), "{log}");
    // The DO's sentinel lines are remarks to cmd, not commands it fails to find.
    assert!(!log.contains("is not recognized"), "{log}");
}

#[test]
fn a_timeout_ends_the_whole_tree_a_start_b_background_child_included() {
    let env = Env::new();
    let marker = env.root.join("survived.txt");
    let id = proposed(
        &env,
        "cmd",
        "wait",
        "start /b cmd /c \"ping -n 5 127.0.0.1 >nul & echo survived> survived.txt\"\nping -n 60 127.0.0.1 >nul",
    );
    let run = env
        .cmd(&["--json", "--yes", "do", "run", &id, "--timeout", "2"])
        .code(1)
        .json();
    assert_eq!(run["status"], "timed_out", "{run:#}");
    // The background child would have written its file 4 s after it started.
    std::thread::sleep(Duration::from_secs(6));
    assert!(!marker.exists(), "the background child outlived the DO");
}

#[test]
fn a_powershell_do_printing_non_ascii_comes_back_byte_right() {
    let env = Env::new();
    let bin = standin_dir(&env, "pwsh");
    let id = proposed(
        &env,
        "powershell",
        "greet",
        "Write-Output 'héllo wörld ✓ ü€'",
    );
    let run = env
        .cmd(&["--json", "do", "run", &id])
        .env("PATH", path_with(&bin))
        .ok()
        .json();
    assert_eq!(run["status"], "succeeded", "{run:#}");
    let log = log_of(&env, &run);
    assert!(log.contains("héllo wörld ✓ ü€"), "{log:?}");
    assert!(!log.starts_with('\u{feff}'), "{log:?}");
}

#[test]
fn do_show_says_when_windows_powershell_runs_a_pwsh_do() {
    let env = Env::new();
    let bin = standin_dir(&env, "powershell");
    let id = proposed(&env, "pwsh", "greet", "Write-Output 'hi'");
    let show = env
        .cmd(&["do", "show", &id])
        .env("PATH", path_with(&bin))
        .ok()
        .stdout;
    assert!(show.contains("powershell.exe"), "{show}");
    assert!(show.contains("Windows PowerShell 5.1"), "{show}");
    let json = env
        .cmd(&["--json", "do", "show", &id])
        .env("PATH", path_with(&bin))
        .ok()
        .json();
    assert!(
        json["interpreter_note"]
            .as_str()
            .unwrap()
            .contains("PowerShell 7"),
        "{json:#}"
    );
}

#[test]
fn backslash_refs_are_judged_and_a_path_outside_the_project_is_refused() {
    let env = Env::new();
    let id = proposed(
        &env,
        "cmd",
        "report",
        "@echo off\nmkdir out 2>nul\necho done> out\\report.txt\n# ARTIFACT: out\\report.txt",
    );
    let run = env.cmd(&["--json", "do", "run", &id]).ok().json();
    let kinds: Vec<&str> = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"file"),
        "the # ARTIFACT: line was not taken: {run:#}"
    );
    let reply = crlf(&format!(
        "ACK {id} out\\report.txt\nACK {id} C:\\Windows\\win.ini\nACK {id} ..\\..\\outside.txt\n"
    ));
    let r = env.cmd(&["--json", "ingest", "-"]).stdin(reply).ok().json();
    let status: Vec<&str> = r["acks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["status"].as_str().unwrap())
        .collect();
    assert_eq!(status, ["accepted", "rejected", "rejected"], "{r:#}");
}

/// Windows never reports a writer's close, so a dropped reply waited the 3 s quiet time;
/// a file no program holds open for writing is read after the 200 ms settle time.
#[test]
fn watch_ingests_a_dropped_reply_once_its_writer_closed_it_without_the_quiet_wait() {
    let env = Env::new();
    env.init();
    env.json(&["start", "--vendor", "claude"]);
    let mut watch = env
        .cmd(&["--json", "watch"])
        .into_command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = env.hub().join("temps").join("status").join("watch.lock");
    let started = std::time::Instant::now();
    while !lock.exists() && started.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(50));
    }
    // The lock is taken before the folder is watched.
    std::thread::sleep(Duration::from_secs(1));
    let inbox = env.hub().join("temps").join("inbox");
    std::fs::write(inbox.join("reply.md"), crlf("Policy v1.0 loaded.\n")).unwrap();
    let dropped = std::time::Instant::now();
    let done = inbox.join("done").join("reply.md");
    while !done.exists() && dropped.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let took = dropped.elapsed();
    let _ = watch.kill();
    let _ = watch.wait();
    assert!(done.exists(), "the reply was never ingested");
    assert!(
        took < Duration::from_millis(2500),
        "ingested after {took:?}"
    );
}

/// The run's log artifact, as text.
fn log_of(env: &Env, run: &serde_json::Value) -> String {
    let rel = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "log")
        .unwrap_or_else(|| panic!("no log in {run:#}"))["path"]
        .as_str()
        .unwrap()
        .to_string();
    let path = rel.split(['/', '\\']).fold(env.hub(), |p, c| p.join(c));
    String::from_utf8(std::fs::read(&path).unwrap()).expect("the log is UTF-8")
}

/// A folder holding the PowerShell stand-in (`examples/pwsh_standin.rs`) as `name.exe`.
fn standin_dir(env: &Env, name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let standin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("examples").join("pwsh_standin.exe"))
        .unwrap();
    assert!(
        standin.exists(),
        "{} is missing: build it with `cargo build -p coagent-cli --examples`",
        standin.display()
    );
    let dir = env.home.join("standin");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&standin, dir.join(format!("{name}.exe"))).unwrap();
    dir
}

/// `dir` first, then the system's own PATH (cmd.exe and the rest).
fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut dirs = vec![dir.to_path_buf()];
    dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(dirs).unwrap()
}
