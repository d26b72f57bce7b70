//! The secret guard on every way out, and `coagent guard scan` on its own.

use crate::harness::{CANARY, Env};

/// A token in GitHub's published format (`ghp_` + 36 base62 characters), made fresh.
fn github_token() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let tail: String = (0..36)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            ALPHABET[(seed % 62) as usize] as char
        })
        .collect();
    format!("ghp_{tail}")
}

#[test]
fn no_payload_path_lets_a_secret_out() {
    let env = Env::with_git();
    env.init();
    let secret = github_token();
    // A secret in a TODO and in a goal: the boot payload is refused, then redacted on request.
    env.ok(&["todo", "add", &format!("Rotate {secret} before Friday")]);
    env.fails(
        &[
            "start",
            "--vendor",
            "claude",
            "--goal",
            &format!("use {secret}"),
        ],
        1,
    )
    .stderr_has("secret guard");
    env.fails(&["start", "--vendor", "claude", "--goal", CANARY], 1)
        .stderr_has("coprofile-private");
    let s = env.json(&[
        "start",
        "--vendor",
        "claude",
        "--goal",
        &format!("use {secret} at {CANARY}"),
        "--redact",
    ]);
    let boot = std::fs::read_to_string(s["payloads"][0].as_str().unwrap()).unwrap();
    assert!(boot.contains("[REDACTED:"), "{boot}");
    // A reply holding the secret is kept locally and said so.
    let reply = format!(
        "Policy v1.0 loaded.\n\nYour token {secret} is exposed. Here is a DO:\n\n```sh\n# DO: Print the config\necho \"token={secret}\"\necho \"home={CANARY}\"\n# END DO\n```\n"
    );
    let r = env.cmd(&["--json", "ingest", "-"]).stdin(reply).ok().json();
    assert!(r["guard_findings"].as_u64().unwrap() >= 1);
    let do_id = r["dos"][0]["id"].as_str().unwrap().to_string();
    env.ok(&["do", "show", &do_id]).stdout_has("guard: line");
    // The DO's log holds both values: its result payload is refused, then redacted.
    let out = env.cmd(&["do", "run", &do_id]).code(1);
    out.stderr_has("result payload was not written")
        .stderr_has("do result");
    assert!(!out.stderr.contains(&secret) && !out.stderr.contains(CANARY));
    env.ok(&["do", "result", &do_id, "--redact"]);
    // With --json, stdout still holds one document: the run's report.
    let run = env
        .cmd(&["--json", "do", "run", &do_id, "--rerun"])
        .code(1)
        .json();
    assert!(
        run["payload_error"]
            .as_str()
            .unwrap()
            .contains("secret guard")
    );
    // Messages, wraps and unwraps carry it nowhere either.
    env.fails(
        &[
            "backchat",
            "emit",
            "--to",
            "ANY",
            "--kind",
            "note",
            "--subject",
            "creds",
            "--body",
            &secret,
        ],
        1,
    );
    env.ok(&[
        "backchat",
        "emit",
        "--to",
        "ANY",
        "--kind",
        "note",
        "--subject",
        "creds",
        "--body",
        &secret,
        "--redact",
    ]);
    let w = env.cmd(&["--json", "wrap"]).run();
    assert!(
        w.code == 0 || w.stderr.contains("respawn failed"),
        "{}",
        w.stderr
    );
    env.cmd(&["unwrap", "--latest", "--redact"]).ok();
    let sent = env.everything_sent();
    assert!(!sent.is_empty());
    assert!(
        !sent.contains(&secret),
        "the secret left through the outbox or the clipboard"
    );
    assert!(!sent.contains(CANARY));
    let st = env.json(&["stats"]);
    assert!(st["overall"]["payloads_refused"].as_i64().unwrap() >= 4);
    assert!(st["overall"]["payloads_redacted"].as_i64().unwrap() >= 3);
}

#[test]
fn guard_scan_files_folders_and_stdin() {
    let env = Env::new();
    let secret = github_token();
    std::fs::create_dir_all(env.root.join("src")).unwrap();
    std::fs::write(
        env.root.join("src/clean.rs"),
        "fn main() { println!(\"uuid 123e4567-e89b-12d3-a456-426614174000\"); }\n",
    )
    .unwrap();
    std::fs::write(
        env.root.join("src/leak.env"),
        format!("GITHUB_TOKEN={secret}\n"),
    )
    .unwrap();
    std::fs::write(env.root.join(".gitignore"), "ignored/\n").unwrap();
    std::fs::create_dir_all(env.root.join("ignored")).unwrap();
    std::fs::write(env.root.join("ignored/also.env"), format!("T={secret}\n")).unwrap();
    env.git_init_quiet();
    let out = env.cmd(&["--json", "guard", "scan", "."]).code(1);
    let j = out.json();
    let findings = j["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 1, "{j}");
    assert!(findings[0]["path"].as_str().unwrap().ends_with("leak.env"));
    assert_eq!(findings[0]["line"], 1);
    assert!(findings[0]["rule"].as_str().unwrap().contains("github"));
    assert!(!out.stdout.contains(&secret[8..]), "previews are masked");
    assert!(j["bytes_scanned"].as_u64().unwrap() > 0);
    env.cmd(&["guard", "scan", "src/clean.rs"])
        .ok()
        .stdout_has("0 finding");
    env.cmd(&["guard", "scan", "-"])
        .stdin(format!("x {secret}\n"))
        .code(1);
    env.fails(&["guard", "scan", "nope/"], 1)
        .stderr_has("does not exist");
}
