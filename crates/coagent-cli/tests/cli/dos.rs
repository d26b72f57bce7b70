//! DOs end to end: consent and the pinned hash, the runner's kills, bounded output,
//! artifacts, undo, reruns.

use std::time::{Duration, Instant};

use crate::harness::Env;

/// A started session with one DO proposed; returns its id.
fn proposed(env: &Env, lang: &str, title: &str, body: &str) -> String {
    if !env.hub().exists() {
        env.init();
        env.json(&["start", "--vendor", "claude"]);
    }
    let reply = format!("Policy v1.0 loaded.\n\n```{lang}\n# DO: {title}\n{body}\n# END DO\n```\n");
    let r = env.cmd(&["--json", "ingest", "-"]).stdin(reply).ok().json();
    r["dos"][0]["id"].as_str().unwrap().to_string()
}

fn pid_alive(pid: &str) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn wait_for(path: &std::path::Path) -> String {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(s) = std::fs::read_to_string(path)
            && s.ends_with('\n')
        {
            return s.trim().to_string();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{} never appeared", path.display());
}

#[test]
fn approval_pins_the_hash_and_an_edit_needs_approval_again() {
    let env = Env::new();
    let id = proposed(&env, "bash", "Say hi", "echo hi");
    let shown = env.json(&["do", "show", &id]);
    assert_eq!(shown["state"], "proposed");
    assert_eq!(shown["script"], "# DO: Say hi\necho hi\n# END DO\n");
    env.json(&["do", "approve", &id]);
    let file = env.hub().join(shown["path"].as_str().unwrap());
    std::fs::write(&file, "# DO: Say hi\necho changed\n# END DO\n").unwrap();
    env.fails(&["do", "run", &id], 1)
        .stderr_has("changed since it was approved")
        .stderr_has("do approve");
    assert!(
        env.json(&["do", "show", &id])["runs"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing ran"
    );
    env.json(&["do", "approve", &id]);
    let run = env.cmd(&["--json", "do", "run", &id]).ok().json();
    assert_eq!(run["status"], "succeeded");
    let log = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "log")
        .unwrap();
    let text = std::fs::read_to_string(env.hub().join(log["path"].as_str().unwrap())).unwrap();
    assert_eq!(text, "changed\n");
}

#[test]
fn run_json_shape_result_payload_and_rerun_keeps_both_records() {
    let env = Env::new();
    let id = proposed(&env, "sh", "Print", "echo out; echo err >&2; exit 3");
    let run = env.cmd(&["--json", "do", "run", &id]).code(1).json();
    for k in [
        "id",
        "status",
        "exit_code",
        "duration_ms",
        "artifacts",
        "payload",
    ] {
        assert!(run.get(k).is_some(), "do run --json lacks {k}");
    }
    assert_eq!(run["status"], "failed");
    assert_eq!(run["exit_code"], 3);
    for a in run["artifacts"].as_array().unwrap() {
        for k in ["id", "kind", "path", "sha256"] {
            assert!(a.get(k).is_some());
        }
    }
    let payload = std::fs::read_to_string(run["payload"].as_str().unwrap()).unwrap();
    assert!(
        payload.contains(&format!("ACK {id} artifact:")),
        "{payload}"
    );
    assert!(
        payload.contains("out\nerr") || payload.contains("err\nout"),
        "the log tail is quoted:\n{payload}"
    );
    env.fails(&["do", "run", &id], 1)
        .stderr_has("already ran")
        .stderr_has("--rerun");
    env.cmd(&["do", "run", &id, "--rerun"]).code(1);
    let shown = env.json(&["do", "show", &id]);
    assert_eq!(shown["runs"].as_array().unwrap().len(), 2);
    assert_eq!(
        env.json(&["ack", "list", "--pending"])["acks"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn timeout_kills_the_script_and_its_children() {
    let env = Env::new();
    let id = proposed(
        &env,
        "bash",
        "Hang",
        "sleep 300 &\necho $! > child.pid\nsleep 300",
    );
    let start = Instant::now();
    let run = env
        .cmd(&["--json", "do", "run", &id, "--timeout", "1"])
        .code(1)
        .json();
    assert!(start.elapsed() < Duration::from_secs(30));
    assert_eq!(run["status"], "timed_out");
    let child = std::fs::read_to_string(env.root.join("child.pid")).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !pid_alive(child.trim()),
        "the background child {child} survived"
    );
}

#[test]
fn ctrl_c_leaves_a_killed_record_and_no_orphans() {
    let env = Env::new();
    let id = proposed(
        &env,
        "bash",
        "Hang",
        "sleep 300 &\necho $! > child.pid\nsleep 300",
    );
    let mut cmd = env.cmd(&["--json", "do", "run", &id]).into_command();
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdin(std::process::Stdio::null());
    let proc = cmd.spawn().unwrap();
    let child = wait_for(&env.root.join("child.pid"));
    // SIGINT to coagent itself, as a terminal's Ctrl-C would send it (the script runs in
    // its own process group, so only coagent gets it).
    std::process::Command::new("kill")
        .args(["-INT", &proc.id().to_string()])
        .status()
        .unwrap();
    let out = proc.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["status"], "killed");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!pid_alive(&child), "the background child survived Ctrl-C");
    let shown = env.json(&["do", "show", &id]);
    assert_eq!(shown["runs"][0]["status"], "killed");
    assert_eq!(shown["state"], "killed");
}

#[test]
fn a_gigabyte_of_output_keeps_memory_flat_and_the_log_bounded() {
    let env = Env::new();
    let id = proposed(
        &env,
        "sh",
        "Flood",
        "head -c 1073741824 /dev/zero | tr '\\0' 'x'",
    );
    let mut cmd = env.cmd(&["--json", "do", "run", &id]).into_command();
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .stdin(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    let mut peak_kib = 0u64;
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    while child.try_wait().unwrap().is_none() {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(l) = s.lines().find(|l| l.starts_with("VmHWM:"))
        {
            peak_kib = peak_kib.max(l.split_whitespace().nth(1).unwrap().parse().unwrap());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let json: serde_json::Value = serde_json::from_str(&reader.join().unwrap()).unwrap();
    assert_eq!(json["status"], "succeeded");
    assert!(
        peak_kib < 96 * 1024,
        "coagent grew to {peak_kib} KiB while the script printed 1 GiB"
    );
    let log = json["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "log")
        .unwrap()
        .clone();
    assert!(
        log["bytes"].as_i64().unwrap() < 1024 * 1024,
        "the log is bounded: {log}"
    );
    assert!(json["log_cut_bytes"].as_u64().unwrap() > 1_000_000_000);
}

#[test]
fn non_utf8_output_is_kept_as_bytes() {
    let env = Env::new();
    let id = proposed(&env, "sh", "Bytes", "printf 'ok \\377\\376 end\\n'");
    let run = env.cmd(&["--json", "do", "run", &id]).ok().json();
    let log = run["artifacts"][0]["path"].as_str().unwrap();
    let bytes = std::fs::read(env.hub().join(log)).unwrap();
    assert_eq!(bytes, b"ok \xff\xfe end\n");
    let payload = std::fs::read_to_string(run["payload"].as_str().unwrap()).unwrap();
    assert!(payload.contains("ok \u{FFFD}\u{FFFD} end"));
}

#[test]
fn a_missing_interpreter_is_a_clear_error_and_nothing_runs() {
    let env = Env::new();
    let id = proposed(&env, "pwsh", "Windows thing", "Write-Output 'hi'");
    let out = env
        .cmd(&["do", "run", &id])
        .env("PATH", "/nonexistent")
        .code(1);
    out.stderr_has("pwsh").stderr_has("hint:");
    let shown = env.json(&["do", "show", &id]);
    assert!(shown["runs"].as_array().unwrap().is_empty());
    assert_eq!(shown["state"], "proposed");
}

#[test]
fn deletions_are_captured_as_a_diff_and_undo_restores_them() {
    let env = Env::with_git();
    std::fs::write(env.root.join("keep.txt"), "precious\n").unwrap();
    env.git(&["add", "keep.txt"]);
    env.git(&["commit", "-q", "-m", "keep"]);
    let id = proposed(
        &env,
        "bash",
        "Clean up",
        "rm keep.txt README.md\necho new > added.txt",
    );
    let run = env.cmd(&["--json", "do", "run", &id]).ok().json();
    let diff = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "diff")
        .expect("a diff artifact")
        .clone();
    let text = std::fs::read_to_string(env.hub().join(diff["path"].as_str().unwrap())).unwrap();
    assert!(
        text.contains("keep.txt") && text.contains("added.txt") && !text.contains(".coagent"),
        "{text}"
    );
    assert!(!env.root.join("keep.txt").exists());
    let index_before = env.git(&["diff", "--cached", "--name-only"]);
    env.fails(&["do", "undo", &id], 1).stderr_has("--yes");
    env.ok(&["do", "undo", &id, "--yes"]).stdout_has("restored");
    assert_eq!(
        std::fs::read_to_string(env.root.join("keep.txt")).unwrap(),
        "precious\n"
    );
    assert!(env.root.join("README.md").exists());
    assert!(!env.root.join("added.txt").exists());
    assert_eq!(
        env.git(&["diff", "--cached", "--name-only"]),
        index_before,
        "the index is untouched"
    );
    // A tree that moved on is not undone blindly.
    let id2 = proposed(&env, "bash", "Edit", "echo two >> keep.txt");
    env.ok(&["do", "run", &id2]);
    std::fs::write(env.root.join("keep.txt"), "rewritten by hand\n").unwrap();
    env.fails(&["do", "undo", &id2, "--yes"], 1)
        .stderr_has("cannot be undone safely");
    assert_eq!(
        std::fs::read_to_string(env.root.join("keep.txt")).unwrap(),
        "rewritten by hand\n"
    );
}

#[test]
fn named_artifacts_are_copied_and_escapes_refused() {
    let env = Env::new();
    let id = proposed(
        &env,
        "bash",
        "Report",
        "# ARTIFACT: out/report.txt\n# ARTIFACT: ../../etc/passwd\nmkdir -p out\necho done > out/report.txt",
    );
    let run = env.cmd(&["--json", "do", "run", &id]).ok().json();
    let files: Vec<_> = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] == "file")
        .collect();
    assert_eq!(files.len(), 1);
    assert!(run["warnings"].to_string().contains("outside"), "{run}");
    let shown = env.json(&[
        "artifact",
        "show",
        files[0]["id"].as_str().unwrap(),
        "--content",
    ]);
    assert_eq!(shown["content"], "done\n");
}
