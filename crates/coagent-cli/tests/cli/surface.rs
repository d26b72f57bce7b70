//! The command surface: `--help` (snapshots), completions, the man page, `--json` shapes of
//! `status`, `ticker` and `vendors`, exit codes.

use crate::harness::Env;

#[test]
fn help_texts() {
    let env = Env::new();
    insta::assert_snapshot!("help", env.ok(&["--help"]).stdout);
    insta::assert_snapshot!("help_start", env.ok(&["start", "--help"]).stdout);
    insta::assert_snapshot!(
        "help_capsule_bump",
        env.ok(&["capsule", "bump", "--help"]).stdout
    );
}

#[test]
fn completions_and_man_page() {
    let env = Env::new();
    env.ok(&["completions", "bash"]).stdout_has("coagent");
    env.ok(&["man"]).stdout_has(".TH coagent");
}

#[test]
fn status_and_ticker_json_shapes() {
    let env = Env::new();
    env.init();
    let st = env.json(&["status"]);
    assert_eq!(st["level"], "IDLE");
    assert!(st["session"].is_null());
    assert_eq!(st["signals"].as_array().unwrap().len(), 0);
    env.ok(&["start", "--vendor", "claude"]);
    for doc in [
        env.json(&["status"]),
        env.json(&["ticker"]),
        env.cmd(&["ticker", "--format", "json"]).ok().json(),
    ] {
        assert_eq!(doc["level"], "OK");
        assert!(doc["session"].as_str().unwrap().starts_with("S-"));
        let names: Vec<&str> = doc["signals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "dos_completed",
                "dos_per_hour",
                "stale_minutes",
                "artifact_latency",
                "context",
                "drift",
                "ingests"
            ]
        );
        for s in doc["signals"].as_array().unwrap() {
            for k in ["name", "value", "threshold", "level"] {
                assert!(s.get(k).is_some(), "signal lacks {k}");
            }
        }
    }
    let line = env.ok(&["ticker"]).stdout;
    assert!(line.starts_with("[OE:✔] claude S-"), "{line}");
    assert!(
        line.contains("policy v1.0") && line.contains("wrap in 5"),
        "{line}"
    );
    let tmux = env.ok(&["ticker", "--format", "tmux"]).stdout;
    assert!(tmux.starts_with("#[fg=green]"), "{tmux}");
    let status_dir = env.hub().join("temps/status");
    let levels: Vec<String> = std::fs::read_dir(&status_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("SESSION_"))
        .collect();
    assert_eq!(levels, ["SESSION_OK.txt"]);
    assert!(status_dir.join("ticker.json").is_file());
}

#[test]
fn vendors_lists_builtins_with_overrides() {
    let env = Env::new();
    env.init();
    std::fs::write(
        env.hub().join("config.toml"),
        "[vendors.claude]\npaste_chars = 50000\n",
    )
    .unwrap();
    let v = env.json(&["vendors"]);
    let names: Vec<&str> = v["vendors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["chatgpt", "claude", "gemini", "copilot", "generic"]);
    assert_eq!(v["vendors"][1]["paste_chars"], 50000);
    assert_eq!(v["vendors"][0]["tokenizer"], "o200k_base");
}

#[test]
fn profile_show_masks_private_values() {
    let env = Env::new();
    env.init();
    let out = env.ok(&["profile", "show"]);
    out.stdout_has("home_address")
        .stdout_has("never leaves this machine");
    assert!(!out.stdout.contains(crate::harness::CANARY));
    let j = env.json(&["profile", "show"]);
    assert!(!j.to_string().contains(crate::harness::CANARY));
}

#[test]
fn the_ticker_follows_the_clock_and_records_a_breach_it_sees() {
    let mut env = Env::new();
    env.init();
    env.json(&["start", "--vendor", "claude"]);
    assert!(env.ok(&["ticker"]).stdout.contains("stale 0s"));
    env.now = "2026-11-24T09:05:00Z".into();
    assert!(env.ok(&["ticker"]).stdout.contains("stale 5m"));
    env.now = "2026-11-24T09:26:00Z".into();
    let warn = env.ok(&["ticker"]).stdout;
    assert!(warn.starts_with("[OE:▲ stale]"), "{warn}");
    assert!(env.hub().join("temps/status/SESSION_WARN.txt").is_file());
    env.now = "2026-11-24T09:31:00Z".into();
    let fail = env.ok(&["ticker"]).stdout;
    assert!(fail.starts_with("[OE:✖ stale]"), "{fail}");
    assert!(
        env.json(&["status"])["sessions"][0]["breach_at"].is_i64(),
        "the ticker's check recorded the breach"
    );
    // A change in the store is seen at once.
    env.cmd(&["ingest", "-"])
        .stdin("Policy v1.0 loaded.\n")
        .ok();
    assert!(env.ok(&["ticker"]).stdout.contains("policy v1.0 ✓"));
}

#[test]
fn usage_errors_are_user_errors() {
    let env = Env::new();
    env.fails(&["frobnicate"], 1);
    env.init();
    env.fails(&["todo", "done"], 1).stderr_has("Usage");
    env.fails(
        &[
            "backchat",
            "emit",
            "--to",
            "ANY",
            "--kind",
            "note",
            "--subject",
            "s",
            "--session",
            "S-NOPE",
        ],
        1,
    )
    .stderr_has("no session matches");
    env.ok(&["--version"]);
}
