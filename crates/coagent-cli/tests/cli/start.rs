//! `coagent start`: the session record, the boot payload, the clipboard, splitting, and
//! the guard on the way out.

use crate::harness::{CANARY, Env};

#[test]
fn start_json_shape_and_boot_payload() {
    let env = Env::new();
    env.init();
    env.ok(&[
        "todo",
        "add",
        "Write the parser tests",
        "--acceptance",
        "cargo test passes",
    ]);
    env.ok(&["todo", "add", "Fix the CI cache"]);
    env.ok(&["todo", "add", "Document the CLI"]);
    env.ok(&["todo", "add", "Triage old issues"]);
    let s = env.json(&[
        "start",
        "--vendor",
        "claude",
        "--goal",
        "Ship the CSV importer",
    ]);
    for k in ["session", "vendor", "capsule", "echo", "payloads"] {
        assert!(s.get(k).is_some(), "start --json lacks {k}: {s}");
    }
    assert_eq!(s["vendor"], "claude");
    assert_eq!(s["capsule"]["version"], "1.0.0");
    assert_eq!(s["capsule"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(s["echo"], "Policy v1.0 loaded.");
    let session = s["session"].as_str().unwrap();
    let path = s["payloads"][0].as_str().unwrap();
    let boot = std::path::Path::new("temps")
        .join("outbox")
        .join(format!("{session}-boot.paste.md"));
    assert!(std::path::Path::new(path).ends_with(boot), "{path}");
    let payload = std::fs::read_to_string(path).unwrap();
    let first = payload.lines().next().unwrap();
    assert!(
        first.starts_with("<!-- coagent v1 id=BC-") && first.contains("kind=boot part=1/1 sha256="),
        "{first}"
    );
    // The clipboard got exactly the payload file.
    assert_eq!(std::fs::read_to_string(&env.clip).unwrap(), payload);
    // Top 3 first, in rank order, and the handoff message is schema-valid JSON.
    let fix = payload.find("Fix the CI cache").unwrap();
    assert!(payload.find("Write the parser tests").unwrap() < fix);
    let json = payload
        .split("```coagent\n")
        .nth(1)
        .unwrap()
        .split("\n```")
        .next()
        .unwrap();
    let msg: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(msg["kind"], "handoff");
    assert_eq!(msg["to"], session);
    // The TODOs are in the markdown above, in full: the block does not repeat them.
    assert!(msg.get("todos").is_none(), "{msg}");
    assert_eq!(json.lines().count(), 1, "one line: {json}");
    std::fs::write(env.root.join("msg.json"), json).unwrap();
    insta::assert_snapshot!("boot_payload", payload);
    // The session records the capsule it booted with.
    let st = env.json(&["status"]);
    assert_eq!(st["sessions"][0]["capsule_version"], "1.0.0");
    assert_eq!(st["sessions"][0]["echo"], "missing");
    assert_eq!(st["sessions"][0]["state"], "booting");
}

#[test]
fn human_output_says_what_to_paste_and_the_echo() {
    let env = Env::new();
    env.init();
    let out = env.ok(&["start", "--vendor", "chatgpt", "--goal", "g"]);
    out.stdout_has("Paste into a new chatgpt chat")
        .stdout_has("Policy v1.0 loaded.")
        .stdout_has("coagent ingest");
    let out = env.ok(&["--no-clipboard", "start", "--vendor", "gemini"]);
    out.stdout_has("Not copied (--no-clipboard)")
        .stdout_has("-boot.paste.md");
}

#[test]
fn a_payload_over_the_paste_limit_splits_between_blocks() {
    let env = Env::new();
    env.init();
    std::fs::write(
        env.hub().join("config.toml"),
        "[vendors.tiny]\npaste_chars = 1500\ncontext_tokens = 8000\n",
    )
    .unwrap();
    for i in 0..6 {
        env.ok(&[
            "todo",
            "add",
            &format!("Item {i}: {}", "detail ".repeat(20)),
        ]);
    }
    let s = env.json(&["start", "--vendor", "tiny", "--goal", "split me"]);
    let parts = s["payloads"].as_array().unwrap();
    let n = parts.len();
    assert!(n >= 3, "expected several parts, got {n}");
    for (i, p) in parts.iter().enumerate() {
        let k = i + 1;
        let p = p.as_str().unwrap();
        assert!(p.ends_with(&format!("-boot-{k}-of-{n}.paste.md")), "{p}");
        let text = std::fs::read_to_string(p).unwrap();
        assert!(
            text.lines()
                .next()
                .unwrap()
                .contains(&format!("part={k}/{n}"))
        );
        assert_eq!(
            text.matches("```").count() % 2,
            0,
            "part {k} cuts a code block:\n{text}"
        );
        if k < n {
            assert!(
                text.contains(&format!("`NEXT {k}/{n}`")),
                "part {k} lacks its NEXT line"
            );
        }
        if k == 1 {
            assert_eq!(
                std::fs::read_to_string(&env.clip).unwrap(),
                text,
                "part 1 goes to the clipboard"
            );
        }
    }
}

#[test]
fn a_private_value_in_a_goal_is_refused_and_redacted_on_request() {
    let env = Env::new();
    env.init();
    let goal = format!("Ship it to {CANARY}");
    let out = env.fails(&["start", "--vendor", "claude", "--goal", &goal], 1);
    out.stderr_has("secret guard")
        .stderr_has("coprofile-private")
        .stderr_has("--redact");
    assert!(
        !out.stderr.contains(CANARY),
        "the report must not show the value"
    );
    assert_eq!(
        env.json(&["status"])["sessions_total"],
        0,
        "a refused boot leaves no session"
    );
    let s = env.json(&["start", "--vendor", "claude", "--goal", &goal, "--redact"]);
    let payload = std::fs::read_to_string(s["payloads"][0].as_str().unwrap()).unwrap();
    assert!(payload.contains("[REDACTED:coprofile-private]"));
    assert!(!payload.contains(CANARY));
}

#[test]
fn a_token_in_a_todo_is_refused() {
    let env = Env::new();
    env.init();
    env.ok(&[
        "todo",
        "add",
        "Rotate ghp_R8x2kLmQ9vT4wZ7yB3nC6dF1gH5jK0pS2uXa",
    ]);
    env.fails(&["start", "--vendor", "claude"], 1)
        .stderr_has("github");
}

#[test]
fn openai_vendors_count_exactly_once_it_matters() {
    let env = Env::new();
    env.init();
    // Far from the window: the estimate is enough, and the tokenizer is not loaded.
    env.json(&["start", "--vendor", "chatgpt"]);
    let ctx = |st: &serde_json::Value| {
        st["signals"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == "context")
            .unwrap()["shown"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(ctx(&env.json(&["status"])).starts_with('~'));
    // A small window makes the count matter: it is exact (no `~`).
    std::fs::write(
        env.hub().join("config.toml"),
        "[vendors.chatgpt]\ncontext_tokens = 4000\n",
    )
    .unwrap();
    env.ok(&["wrap", "--no-respawn"]);
    env.json(&["start", "--vendor", "chatgpt"]);
    let shown = ctx(&env.json(&["status"]));
    assert!(!shown.starts_with('~'), "{shown}");
    // Claude's count is always an estimate.
    env.ok(&["wrap", "--no-respawn"]);
    std::fs::write(
        env.hub().join("config.toml"),
        "[vendors.claude]\ncontext_tokens = 4000\n",
    )
    .unwrap();
    env.json(&["start", "--vendor", "claude"]);
    assert!(ctx(&env.json(&["status"])).starts_with('~'));
}

#[test]
fn a_template_in_the_hub_overrides_the_builtin() {
    let env = Env::new();
    env.init();
    std::fs::write(
        env.hub().join("templates/boot.md"),
        "# Our boot for {{ session }}\n\n{{ capsule_block }}\n{{ bpoe }}\nSay `{{ echo }}`.\n",
    )
    .unwrap();
    let s = env.json(&["start", "--vendor", "claude"]);
    let payload = std::fs::read_to_string(s["payloads"][0].as_str().unwrap()).unwrap();
    assert!(
        payload.contains(&format!(
            "# Our boot for {}",
            s["session"].as_str().unwrap()
        )),
        "{payload}"
    );
    assert!(payload.contains("Say `Policy v1.0 loaded.`"));
    // A broken template is a clear error, and no session is left behind.
    std::fs::write(env.hub().join("templates/boot.md"), "{{ nope }\n").unwrap();
    env.fails(&["start", "--vendor", "claude"], 1)
        .stderr_has("template `boot.md`")
        .stderr_has("templates/boot.md");
    assert_eq!(env.json(&["status"])["sessions_total"], 1);
}
