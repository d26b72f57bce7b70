//! `init`, finding the hub, the store under concurrent writers, and bad input that must
//! change nothing.

use crate::harness::Env;

#[test]
fn init_creates_the_hub_and_stays_out_of_git_status() {
    let env = Env::with_git();
    let out = env.json(&["init"]);
    let files: Vec<&str> = out["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for f in [
        ".gitignore",
        "profile.toml",
        "policy.md",
        "config.toml",
        "guard.toml",
        "capsule.lock",
        "store.db",
    ] {
        assert!(files.contains(&f), "{f} missing from {files:?}");
    }
    for d in [
        "temps/inbox",
        "temps/outbox",
        "temps/status",
        "cache",
        "templates",
    ] {
        assert!(env.hub().join(d).is_dir(), "{d}");
    }
    assert_eq!(out["capsule_version"], "1.0.0");
    assert_eq!(
        env.git(&["status", "--porcelain"]),
        "",
        "the hub must not show in git status"
    );
}

#[test]
fn init_refuses_to_clobber_and_to_nest() {
    let env = Env::new();
    env.init();
    let before = std::fs::read(env.hub().join("profile.toml")).unwrap();
    env.fails(&["init"], 1)
        .stderr_has("already exists")
        .stderr_has("hint:");
    assert_eq!(
        std::fs::read(env.hub().join("profile.toml")).unwrap(),
        before,
        "init changed the existing hub"
    );
    let sub = env.root.join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();
    env.cmd(&["init"])
        .cwd(&sub)
        .code(1)
        .stderr_has("inside the project")
        .stderr_has("--hub .");
    assert!(!sub.join(".coagent").exists());
}

#[test]
fn the_hub_is_found_from_any_subfolder_and_by_flag() {
    let env = Env::new();
    env.init();
    env.ok(&["todo", "add", "from the root"]);
    let sub = env.root.join("a/b/c");
    std::fs::create_dir_all(&sub).unwrap();
    let list = env.cmd(&["--json", "todo", "list"]).cwd(&sub).ok().json();
    assert_eq!(list["todos"][0]["title"], "from the root");
    let elsewhere = tempfile::tempdir().unwrap();
    let hub = env.hub();
    let out = env
        .cmd(&["--json", "--hub", hub.to_str().unwrap(), "todo", "list"])
        .cwd(elsewhere.path())
        .ok()
        .json();
    assert_eq!(out["todos"].as_array().unwrap().len(), 1);
    env.cmd(&["todo", "list"])
        .cwd(elsewhere.path())
        .env("COAGENT_HUB", &env.root)
        .ok();
}

#[test]
fn commands_outside_a_hub_fail_with_a_hint() {
    let env = Env::new();
    env.fails(&["start", "--vendor", "claude"], 1)
        .stderr_has("no CoAgent hub")
        .stderr_has("coagent init");
    let out = env.fails(&["--json", "status"], 1).json();
    assert_eq!(out["error"]["kind"], "user");
    assert!(
        out["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("coagent init")
    );
}

#[test]
fn malformed_profile_and_config_name_the_line_and_change_nothing() {
    let env = Env::new();
    env.init();
    let profile = env.hub().join("profile.toml");
    let good = std::fs::read_to_string(&profile).unwrap();
    std::fs::write(&profile, format!("{good}\nbroken = = 1\n")).unwrap();
    let line = good.lines().count() + 2;
    env.fails(&["start", "--vendor", "claude"], 1)
        .stderr_has("profile.toml")
        .stderr_has(&format!("line {line}"));
    std::fs::write(&profile, good).unwrap();
    let config = env.hub().join("config.toml");
    std::fs::write(&config, "[bloat]\nmax_dos = 5\nstale_minuts = 3\n").unwrap();
    env.fails(&["status"], 1)
        .stderr_has("config.toml")
        .stderr_has("line 3")
        .stderr_has("stale_minuts");
    std::fs::write(&config, "[bloat]\nwarn_ratio = 7\n").unwrap();
    env.fails(&["todo", "list"], 1).stderr_has("warn_ratio");
    std::fs::remove_file(&config).unwrap();
    let st = env.json(&["status"]);
    assert_eq!(
        st["sessions_total"], 0,
        "a failed start must leave no session"
    );
    assert!(
        std::fs::read_dir(env.hub().join("temps/outbox"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn unknown_vendor_is_refused_with_the_known_ones() {
    let env = Env::new();
    env.init();
    env.fails(&["start", "--vendor", "bard"], 1)
        .stderr_has("unknown vendor `bard`")
        .stderr_has("claude");
}

#[cfg(unix)]
#[test]
fn a_read_only_hub_fails_clearly() {
    let env = Env::new();
    env.init();
    set_readonly(&env.hub(), true);
    let out = env.fails(&["todo", "add", "x"], 1);
    set_readonly(&env.hub(), false);
    out.stderr_has("read-only").stderr_has("hint:");
    env.ok(&["todo", "add", "x"]);
}

#[cfg(unix)]
fn set_readonly(dir: &std::path::Path, ro: bool) {
    use std::os::unix::fs::PermissionsExt;
    for e in walk(dir) {
        let mode = if e.is_dir() {
            if ro { 0o555 } else { 0o755 }
        } else if ro {
            0o444
        } else {
            0o644
        };
        std::fs::set_permissions(&e, std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

#[cfg(unix)]
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.path().is_dir() {
            out.extend(walk(&e.path()))
        } else {
            out.push(e.path())
        }
    }
    out
}

#[test]
fn concurrent_writers_lose_no_update() {
    let env = Env::new();
    env.init();
    let children: Vec<_> = (0..8)
        .map(|i| {
            let c = env.cmd(&["todo", "add", &format!("parallel {i}")]);
            std::thread::spawn(move || c.run())
        })
        .collect();
    for c in children {
        let out = c.join().unwrap();
        assert_eq!(out.code, 0, "{}", out.stderr);
    }
    let list = env.json(&["todo", "list"]);
    assert_eq!(list["todos"].as_array().unwrap().len(), 8);
}

#[test]
fn todos_keep_handoff_order_and_close_by_prefix() {
    let env = Env::new();
    env.init();
    let a = env.json(&["todo", "add", "second"]);
    env.ok(&["todo", "add", "first", "--top"]);
    let list = env.json(&["todo", "list"]);
    let titles: Vec<&str> = list["todos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["first", "second"]);
    let id = a["id"].as_str().unwrap();
    let done = env.json(&["todo", "done", &id[..6].to_lowercase()]);
    assert_eq!(done["status"], "done");
    assert_eq!(
        env.json(&["todo", "list"])["todos"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    env.fails(&["todo", "done", "T-ZZZZZZ"], 1)
        .stderr_has("no todo matches");
    env.fails(&["todo", "add", "  "], 1)
        .stderr_has("needs a title");
}
