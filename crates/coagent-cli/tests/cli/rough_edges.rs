//! What a new user trips on in the first hour: a DO's language taken from its own block,
//! ACK lines in any case, ids typed bare or wrong, sessions that pile up, messages said
//! once and in order, `--help` and man pages for everything, `stats` that says what it
//! counts.

use std::path::{Path, PathBuf};

use crate::harness::Env;

fn started(env: &Env) -> String {
    env.init();
    let s = env.json(&["start", "--vendor", "claude", "--goal", "first hour"]);
    s["session"].as_str().unwrap().to_string()
}

fn ingest(env: &Env, text: &str) -> serde_json::Value {
    env.cmd(&["--json", "ingest", "-"]).stdin(text).ok().json()
}

#[cfg(unix)]
/// A folder holding only links to the named programs, found on the test's PATH: a PATH
/// without everything else (zsh above all).
fn path_with_only(env: &Env, programs: &[&str]) -> PathBuf {
    let dir = env.home.join("only-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for p in programs {
        let found = std::env::split_paths(&path)
            .map(|d| d.join(p))
            .find(|c| c.is_file())
            .unwrap_or_else(|| panic!("{p} is not on PATH"));
        let link = dir.join(p);
        if !link.exists() {
            std::os::unix::fs::symlink(found, link).unwrap();
        }
    }
    dir
}

#[cfg(unix)]
/// A `zsh` on PATH that says it ran, then runs the script with sh.
fn fake_zsh(env: &Env) -> std::ffi::OsString {
    use std::os::unix::fs::PermissionsExt;
    let dir = env.home.join("zsh-bin");
    std::fs::create_dir_all(&dir).unwrap();
    let zsh = dir.join("zsh");
    std::fs::write(&zsh, "#!/bin/sh\necho 'ran by zsh'\nexec sh \"$@\"\n").unwrap();
    std::fs::set_permissions(&zsh, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut paths = vec![dir];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

fn dos_of(r: &serde_json::Value) -> Vec<(String, String)> {
    r["dos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["title"].as_str().unwrap().to_string(),
                d["lang"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[cfg(unix)]
fn is_file(p: &Path) -> bool {
    p.is_file()
}

// ---- item 2: a block's language is its own ----

const AFTER_PYTHON_COPY: &str = "Policy v1.0 loaded.\n\n```python\n# DO: Count the modules\nimport pathlib\nprint(len(list(pathlib.Path('.').glob('*.py'))))\n# END DO\n```\n\n```\n# DO: Say c\necho c\n# END DO\n```\n";

/// The same reply selected on the rendered page (Claude shows a bare label above a tagged
/// block, nothing above an untagged one).
const AFTER_PYTHON_RENDERED: &str = "Policy v1.0 loaded.\n\npython\n# DO: Count the modules\nimport pathlib\nprint(len(list(pathlib.Path('.').glob('*.py'))))\n# END DO\n\n# DO: Say c\necho c\n# END DO\n";

#[test]
fn an_untagged_block_after_a_python_block_is_not_run_as_python() {
    for reply in [AFTER_PYTHON_COPY, AFTER_PYTHON_RENDERED] {
        let env = Env::new();
        started(&env);
        let text = env.cmd(&["ingest", "-"]).stdin(reply).ok().stdout;
        assert!(text.contains("language: no language tag: bash"), "{text}");
        let r = env.json(&["do", "list"]);
        assert_eq!(
            dos_of(&r),
            [
                ("Count the modules".to_string(), "python".to_string()),
                ("Say c".to_string(), "bash".to_string())
            ],
            "{reply}"
        );
        assert!(r["dos"][0]["lang_note"].is_null(), "a tag needs no note");
        let note = r["dos"][1]["lang_note"].as_str().unwrap();
        assert!(
            note.contains("no language tag") && note.contains("bash"),
            "{note}"
        );
        let id = r["dos"][1]["id"].as_str().unwrap();
        env.ok(&["do", "show", id])
            .stdout_has("no language tag: bash, since nothing in it names another language");
        let run = env.json(&["do", "run", id]);
        assert_eq!(run["status"], "succeeded", "{run}");
    }
}

#[cfg(unix)]
#[test]
fn a_zsh_block_runs_under_zsh_where_installed_else_under_bash_saying_so() {
    let reply = "Policy v1.0 loaded.\n\n```zsh\n# DO: Zsh tagged\necho z\n# END DO\n```\n";
    // No zsh: bash, and the mapping is said in ingest and do show.
    let env = Env::new();
    started(&env);
    let only = path_with_only(&env, &["bash", "sh"]);
    let r = env
        .cmd(&["--json", "ingest", "-"])
        .env("PATH", &only)
        .stdin(reply)
        .ok()
        .json();
    assert_eq!(r["dos"][0]["lang"], "bash");
    let note = r["dos"][0]["lang_note"].as_str().unwrap();
    assert!(
        note.contains("zsh is not installed") && note.contains("bash"),
        "{note}"
    );
    let id = r["dos"][0]["id"].as_str().unwrap();
    env.cmd(&["do", "show", id])
        .env("PATH", &only)
        .ok()
        .stdout_has("tagged `zsh`; zsh is not installed here, so it runs under bash");
    // With zsh: zsh runs it, as tagged.
    let env = Env::new();
    started(&env);
    let path = fake_zsh(&env);
    let r = env
        .cmd(&["--json", "ingest", "-"])
        .env("PATH", &path)
        .stdin(reply)
        .ok()
        .json();
    assert_eq!(r["dos"][0]["lang"], "zsh");
    assert!(r["dos"][0]["lang_note"].is_null());
    let id = r["dos"][0]["id"].as_str().unwrap().to_string();
    let out = env.cmd(&["do", "run", &id]).env("PATH", &path).ok();
    assert!(out.stdout.contains("ran by zsh"), "{}", out.stdout);
    assert!(is_file(&env.hub().join(format!("dos/{id}.zsh"))));
}

// ---- item 13: ACK lines in any case; an unreadable one is reported ----

const ONE_DO: &str = "Policy v1.0 loaded.\n\n```bash\n# DO: Say hello\necho hello\n# END DO\n```\n";

/// A session with one DO that ran: its id and its log artifact's id.
fn ran_one(env: &Env) -> (String, String) {
    started(env);
    let r = ingest(env, ONE_DO);
    let id = r["dos"][0]["id"].as_str().unwrap().to_string();
    let run = env.json(&["do", "run", &id]);
    let log = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "log")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    (id, log)
}

#[test]
fn ack_lines_in_lower_case_are_read_and_an_unreadable_one_is_reported() {
    let env = Env::new();
    let (id, log) = ran_one(&env);
    assert!(
        env.json(&["ack", "list", "--pending"])
            .to_string()
            .contains(&id)
    );
    let reply = format!(
        "Thanks.\n\nack {} artifact:{}\nACK DO-zz9q\nACK <id> <ref>\n",
        id.to_lowercase(),
        log.to_lowercase()
    );
    let r = ingest(&env, &reply);
    let acks = r["acks"].as_array().unwrap();
    assert_eq!(acks.len(), 2, "{r}");
    assert_eq!(acks[0]["id"], id.as_str());
    assert_eq!(acks[0]["status"], "accepted", "{r}");
    assert_eq!(acks[1]["id"], "DO-ZZ9Q");
    assert_eq!(
        acks[1]["status"], "rejected",
        "an unknown id is judged, not ignored"
    );
    let un = r["unreadable_acks"].as_array().unwrap();
    assert_eq!(un.len(), 1, "{r}");
    assert_eq!(un[0]["line"], 5);
    assert_eq!(un[0]["text"], "ACK <id> <ref>");
    let again = "More.\n\nACK: thanks, all good\n\nAck, and the grep tool:\n\n```\nack --python TODO\n```\n";
    let text = env.cmd(&["ingest", "-"]).stdin(again).ok().stdout;
    assert!(
        text.contains("ACK       unreadable (line 3): ACK: thanks, all good"),
        "{text}"
    );
    assert_eq!(text.matches("unreadable (line").count(), 1, "{text}");
    assert!(
        text.contains("`thanks` is not a DO-, BC- or W- id"),
        "{text}"
    );
    assert!(!text.contains("nothing to record"), "{text}");
    let pending = env.json(&["ack", "list", "--pending"]);
    assert!(
        !pending.to_string().contains(&id),
        "the lower-case ACK answered {id}: {pending}"
    );
}

// ---- item 4: ids typed bare, wrong, or for a kind with its own list command ----

#[test]
fn a_bare_id_is_accepted_for_the_commands_kind() {
    let env = Env::new();
    started(&env);
    let r = ingest(&env, ONE_DO);
    let id = r["dos"][0]["id"].as_str().unwrap().to_string();
    let bare = id.strip_prefix("DO-").unwrap()[..4].to_lowercase();
    let shown = env.json(&["do", "show", &bare]);
    assert_eq!(shown["id"], id.as_str());
    let run = env.json(&["do", "run", &bare]);
    assert_eq!(run["id"], id.as_str());
    assert_eq!(run["status"], "succeeded");
    let session = env.json(&["status"])["session"]
        .as_str()
        .unwrap()
        .to_string();
    let bare_s = session.strip_prefix("S-").unwrap();
    assert_eq!(
        env.json(&["do", "list", "--session", bare_s])["dos"][0]["id"],
        id.as_str()
    );
}

#[test]
fn an_unknown_id_is_named_as_typed_with_the_close_ones() {
    let env = Env::new();
    started(&env);
    let r = ingest(&env, ONE_DO);
    let id = r["dos"][0]["id"].as_str().unwrap().to_string();
    // Two characters swapped in what was typed.
    let mut typo: Vec<char> = id.chars().take(8).collect();
    typo.swap(4, 5);
    let typo: String = typo.into_iter().collect();
    assert_ne!(typo, id[..8], "the swap changes the id");
    {
        let e = env.fails(&["do", "show", &typo], 1);
        e.stderr_has(&format!("no DO matches `{typo}`"))
            .stderr_has(&format!("did you mean {id}?"));
    }
    // As typed: NOPE stays NOPE (not N0PE), and nothing is close to it.
    let e = env.fails(&["do", "run", "NOPE"], 1);
    e.stderr_has("no DO matches `NOPE`")
        .stderr_has("`coagent do list` shows the known ids");
    assert!(!e.stderr.contains("did you mean"), "{}", e.stderr);
    // Every hint names a command that exists.
    let e = env.fails(&["unwrap", "W-NOPE"], 1);
    e.stderr_has("no wrap matches `W-NOPE`")
        .stderr_has("`coagent wraps` shows the known ids");
    env.ok(&["wraps"]);
    let e = env.fails(&["do", "list", "--session", "S-NOPE"], 1);
    e.stderr_has("`coagent session list` shows the known ids");
    env.ok(&["session", "list"]);
    let e = env.fails(&["todo", "done", "T-NOPE"], 1);
    e.stderr_has("`coagent todo list --all` shows the known ids");
    let e = env.fails(&["artifact", "show", "A-NOPE"], 1);
    e.stderr_has("`coagent artifact list` shows the known ids");
    let e = env.fails(&["backchat", "show", "BC-NOPE"], 1);
    e.stderr_has("`coagent backchat list` shows the known ids");
}

// ---- item 3: sessions do not pile up silently ----

#[test]
fn start_from_a_wrap_that_already_has_a_successor_warns_and_names_it() {
    let env = Env::new();
    let first = started(&env);
    let w = env.json(&["wrap"]);
    let wrap_id = w["id"].as_str().unwrap().to_string();
    let successor = w["respawn_session"].as_str().unwrap().to_string();
    let again = env.json(&["start", "--from-wrap", &wrap_id]);
    let warnings = again["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{again}");
    let warning = warnings[0].as_str().unwrap();
    assert!(
        warning.contains(&format!(
            "wrap {wrap_id} is already continued by {successor} (booting)"
        )),
        "{warning}"
    );
    assert!(
        warning.contains(&format!("coagent session close {successor}")),
        "{warning}"
    );
    let third = again["session"].as_str().unwrap().to_string();
    // The text says it too.
    let text = env.ok(&["start", "--from-wrap", &wrap_id]).stdout;
    assert!(
        text.contains("warning: wrap") && text.contains(&successor),
        "{text}"
    );
    assert!(
        text.contains(&third),
        "both earlier successors are named: {text}"
    );
    let unwrapped = env.json(&["unwrap", &wrap_id]);
    assert_eq!(
        unwrapped["warnings"].as_array().unwrap().len(),
        1,
        "{unwrapped}"
    );
    // A fresh wrap warns about nothing.
    let lone = Env::new();
    started(&lone);
    let w = lone.json(&["wrap", "--no-respawn"]);
    let fresh = lone.json(&["start", "--from-wrap", w["id"].as_str().unwrap()]);
    assert_eq!(fresh["warnings"].as_array().unwrap().len(), 0, "{fresh}");
    let _ = first;
}

#[test]
fn session_list_close_and_abandon() {
    let env = Env::new();
    let a = started(&env);
    let b = env.json(&["start", "--vendor", "chatgpt"])["session"]
        .as_str()
        .unwrap()
        .to_string();
    let list = env.json(&["session", "list"]);
    let ids: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [b.as_str(), a.as_str()], "newest first");
    env.ok(&["session", "list"])
        .stdout_has("2 sessions are open: `coagent session close ID`");
    env.ok(&["status"])
        .stdout_has("2 sessions are open: `coagent session close ID`");
    let closed = env.json(&["session", "close", &a[2..6].to_lowercase()]);
    assert_eq!(closed["id"], a.as_str());
    assert_eq!(closed["state"], "closed");
    env.ok(&["session", "abandon", &b])
        .stdout_has(&format!("Abandoned session {b}"));
    let open = env.json(&["session", "list", "--open"]);
    assert_eq!(open["sessions"].as_array().unwrap().len(), 0);
    assert_eq!(env.json(&["status"])["level"], "IDLE");
    env.fails(&["session", "close", &a], 1)
        .stderr_has(&format!("session {a} is already closed"));
    env.cmd(&["ingest", "-"])
        .stdin(ONE_DO)
        .code(1)
        .stderr_has("no open session");
    // A wrap's successor is listed with it.
    let c = env.json(&["start"])["session"]
        .as_str()
        .unwrap()
        .to_string();
    let w = env.json(&["wrap"]);
    let list = env.json(&["session", "list"]);
    let row = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == c.as_str())
        .unwrap()
        .clone();
    assert_eq!(row["successors"][0], w["respawn_session"]);
}

// ---- item 6: each message once, and in order ----

/// A session with one DO in `lang` proposed; its id.
fn proposed(env: &Env, lang: &str, body: &str) -> String {
    if !env.hub().exists() {
        started(env);
    }
    let reply = format!("Policy v1.0 loaded.\n\n```{lang}\n# DO: Try it\n{body}\n# END DO\n```\n");
    let r = ingest(env, &reply);
    r["dos"][0]["id"].as_str().unwrap().to_string()
}

#[test]
fn a_risk_names_its_line_once() {
    let env = Env::new();
    let id = proposed(&env, "bash", "echo start\nsudo make install");
    let shown = env.ok(&["do", "show", &id]).stdout;
    assert!(
        shown.contains("risk: line 3: runs a command as root"),
        "{shown}"
    );
    assert!(!shown.contains("line 3: line 3"), "{shown}");
    let refused = env.fails(&["do", "run", &id], 1);
    refused.stderr_has("risk: line 3: runs a command as root");
    assert!(
        !refused.stderr.contains("line 3: line 3"),
        "{}",
        refused.stderr
    );
}

#[cfg(unix)]
#[test]
fn a_do_that_cannot_start_is_never_announced_and_its_hint_is_said_once() {
    let env = Env::new();
    let id = proposed(&env, "pwsh", "Write-Output hi");
    let only = path_with_only(&env, &["bash", "sh", "git"]);
    let e = env.cmd(&["do", "run", &id]).env("PATH", &only).code(1);
    e.stderr_has("no pwsh interpreter found on PATH (tried: pwsh)");
    assert_eq!(
        e.stderr.matches("install PowerShell 7").count(),
        1,
        "{}",
        e.stderr
    );
    assert!(!e.stderr.contains("Running"), "{}", e.stderr);
    assert_eq!(
        env.json(&["do", "show", &id])["runs"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // A DO that already ran: refused before anything is announced.
    let ran = proposed(&env, "bash", "echo once");
    env.ok(&["do", "run", &ran]).stderr_has("Running");
    let e = env.fails(&["do", "run", &ran], 1);
    e.stderr_has("already ran");
    assert!(!e.stderr.contains("Running"), "{}", e.stderr);
}

#[test]
fn a_duplicate_paste_says_nothing_new_once() {
    let env = Env::new();
    started(&env);
    env.cmd(&["ingest", "-"]).stdin(AFTER_PYTHON_COPY).ok();
    for again in [AFTER_PYTHON_COPY, AFTER_PYTHON_RENDERED] {
        let out = env.cmd(&["ingest", "-"]).stdin(again).ok().stdout;
        assert_eq!(out.matches("nothing new").count(), 1, "{out}");
        assert!(out.contains("duplicate:"), "{out}");
    }
}

#[test]
fn a_reply_without_an_echo_line_does_not_quote_one() {
    let env = Env::new();
    started(&env);
    let stale = env
        .cmd(&["ingest", "-"])
        .stdin("Policy v0.9 loaded.\n")
        .ok()
        .stdout;
    assert!(stale.contains("stale (the chat said v0.9;"), "{stale}");
    let none = env
        .cmd(&["ingest", "-"])
        .stdin("Here is my plan: nothing to run yet.\n")
        .ok()
        .stdout;
    assert!(!none.contains("v?"), "{none}");
    assert!(none.contains("stale (no echo in this reply"), "{none}");
}

fn payload_text(run: &serde_json::Value) -> String {
    std::fs::read_to_string(run["payload"].as_str().unwrap()).unwrap()
}

#[test]
fn a_killed_run_tells_the_chat_who_stopped_it() {
    let env = Env::new();
    let id = proposed(&env, "bash", "sleep 300");
    let run = env
        .cmd(&["--json", "do", "run", &id, "--timeout", "1"])
        .code(1)
        .json();
    assert_eq!(run["status"], "timed_out");
    let text = payload_text(&run);
    assert!(
        text.contains("CoAgent killed it, with its child processes, when its time limit ran out"),
        "{text}"
    );
    // Ctrl-C: the user stopped it.
    let id = proposed(&env, "bash", "echo up > up.txt\nsleep 300");
    let mut cmd = env.cmd(&["--json", "do", "run", &id]).into_command();
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .stdin(std::process::Stdio::null());
    let proc = cmd.spawn().unwrap();
    let marker = env.root.join("up.txt");
    let t0 = std::time::Instant::now();
    while !marker.exists() && t0.elapsed() < std::time::Duration::from_secs(20) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    std::process::Command::new("kill")
        .args(["-INT", &proc.id().to_string()])
        .status()
        .unwrap();
    let out = proc.wait_with_output().unwrap();
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(run["status"], "killed");
    let text = payload_text(&run);
    assert!(text.contains("The user stopped it (Ctrl-C)"), "{text}");
    assert!(!text.contains("time limit"), "{text}");
}

// ---- item 7: a long DO shows its progress on a terminal ----

/// Runs `coagent ARGS` under `script`, which gives it a terminal; what the terminal showed.
fn on_a_terminal(env: &Env, args: &[&str]) -> Option<String> {
    if std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("`script` (util-linux) is missing: no terminal to test on");
        return None;
    }
    let inner = env.cmd(args).into_command();
    let line: Vec<String> = std::iter::once(inner.get_program())
        .chain(inner.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy().replace('\'', "'\\''")))
        .collect();
    let mut c = std::process::Command::new("script");
    c.args(["-qefc", &line.join(" "), "/dev/null"])
        .current_dir(&env.root)
        .env_clear();
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    let out = c.stdin(std::process::Stdio::null()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn a_long_do_shows_its_progress_and_its_last_line_on_a_terminal() {
    let env = Env::new();
    let id = proposed(
        &env,
        "bash",
        "echo tick 1\nsleep 3\nprintf 'all done'\nsleep 1",
    );
    let Some(screen) = on_a_terminal(&env, &["do", "run", &id]) else {
        return;
    };
    // The status line, drawn in place and wiped before the next output.
    assert!(screen.contains("\r\x1b[2K"), "{screen:?}");
    assert!(screen.contains(&format!("⏱ {id} running ")), "{screen:?}");
    assert!(
        screen.contains("s · 7 B of output · Ctrl-C stops it"),
        "{screen:?}"
    );
    assert!(
        screen.contains("Ctrl-C stops it\r\x1b[2Kall done"),
        "wiped before the next output: {screen:?}"
    );
    assert!(screen.contains("ended after "), "{screen:?}");
    assert!(
        screen.contains("s · 15 B of output · last line: all done"),
        "{screen:?}"
    );
    // Without a terminal: none of it.
    let id = proposed(&env, "bash", "echo one; sleep 3; echo two");
    let plain = env.ok(&["do", "run", &id]);
    assert!(!plain.stderr.contains("⏱") && !plain.stderr.contains("last line"));
}

// ---- item 8: a man page for every command ----

fn command_names(cmd: &clap::Command, prefix: &str, out: &mut Vec<String>) {
    let name = format!("{prefix}{}", cmd.get_name());
    out.push(format!("{name}.1"));
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        command_names(sub, &format!("{name}-"), out);
    }
}

#[test]
fn man_pages_cover_every_command() {
    use clap::CommandFactory;
    let env = Env::new();
    let dir = env.home.join("man1");
    let r = env.json(&["man", "--out", dir.to_str().unwrap()]);
    let mut written: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    let mut expected = Vec::new();
    command_names(&coagent_cli::cli::Cli::command(), "", &mut expected);
    expected.sort();
    assert_eq!(written, expected);
    assert!(expected.contains(&"coagent-session-abandon.1".to_string()));
    assert_eq!(r["pages"].as_array().unwrap().len(), expected.len());
    let page = std::fs::read_to_string(dir.join("coagent-do-run.1")).unwrap();
    assert!(page.contains("\\-\\-keep\\-going"), "{page}");
    env.ok(&["man", "do", "run"])
        .stdout_has(".TH coagent-do-run");
    env.ok(&["man"]).stdout_has(".TH coagent ");
    env.fails(&["man", "do", "sprint"], 1)
        .stderr_has("`coagent do sprint` is not a command");
}

// ---- item 8: every environment variable the code reads is in the README ----

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Names in `env::var("X")`, `env::var_os("X")`, clap's `env = "X"`, and any `"COAGENT_X"`.
fn env_names(src: &str) -> Vec<String> {
    let mut names = Vec::new();
    for pat in ["env::var(\"", "env::var_os(\"", "env = \"", "\"COAGENT_"] {
        let mut rest = src;
        while let Some(i) = rest.find(pat) {
            let after = &rest[i + pat.len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            let name = if pat == "\"COAGENT_" {
                format!("COAGENT_{name}")
            } else {
                name
            };
            if name.len() > 1 && !name.ends_with('_') {
                names.push(name);
            }
            rest = after;
        }
    }
    names
}

#[test]
fn the_readme_lists_every_environment_variable_the_code_reads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let mut files = Vec::new();
    for krate in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        let src = krate.path().join("src");
        if src.is_dir() {
            rust_files(&src, &mut files);
        }
    }
    let mut names: Vec<String> = files
        .iter()
        .flat_map(|f| env_names(&std::fs::read_to_string(f).unwrap()))
        .collect();
    names.sort();
    names.dedup();
    assert!(
        names.contains(&"COAGENT_CLIPBOARD".to_string()),
        "{names:?}"
    );
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| !readme.contains(&format!("`{n}")) && !readme.contains(&format!(" {n}")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in the README: {missing:?} (of {names:?})"
    );
}

// ---- item 14: stats say what they count ----

#[test]
fn stats_explain_the_seed_acceptance_and_count_only_what_it_means() {
    let mut env = Env::new();
    started(&env);
    ingest(&env, "Policy v1.0 loaded.\n");
    // A message from the chat that is not schema-valid, beside CoAgent's own (valid) ones.
    ingest(
        &env,
        "```coagent\n{\"schema\": \"coagent.backchat.v1\", \"id\": \"BC-1\", \"kind\": \"note\"}\n```\n",
    );
    // A breach the monitor answers: `watch` wraps the live session.
    env.now = "2026-11-24T09:31:00Z".into();
    assert_eq!(env.json(&["status"])["level"], "FAIL");
    env.now = "2026-11-24T09:32:00Z".into();
    env.ok(&["watch", "--once"]);
    // A breach the user answers with `coagent wrap`: not a breach → wrap figure.
    ingest(&env, "Policy v1.0 loaded.\n");
    env.now = "2026-11-24T10:10:00Z".into();
    assert_eq!(env.json(&["status"])["level"], "FAIL");
    env.json(&["wrap", "--no-respawn"]);
    let st = env.json(&["stats"]);
    assert_eq!(st["overall"]["wraps"], 2);
    assert_eq!(st["overall"]["wraps_manual"], 1);
    assert_eq!(
        st["acceptance"]["wrap_within_5min_of_breach"],
        serde_json::json!([1, 1]),
        "{st}"
    );
    assert_eq!(st["overall"]["median_breach_to_wrap_ms"], 60_000);
    let (all, valid) = (
        st["overall"]["messages"].as_i64().unwrap(),
        st["overall"]["messages_valid"].as_i64().unwrap(),
    );
    assert!(
        all > st["overall"]["messages_in"].as_i64().unwrap(),
        "sent ones count: {st}"
    );
    assert_eq!(valid, all - 1, "{st}");
    assert_eq!(
        st["acceptance"]["messages_schema_valid"],
        serde_json::json!([valid, all])
    );
    let text = env.ok(&["stats"]).stdout;
    let heading = text.find("Seed acceptance").unwrap();
    let next = text[heading..].lines().nth(1).unwrap();
    assert!(next.contains("the targets set by the seed"), "{text}");
    assert!(text.contains("1 of them manual and not counted"), "{text}");
}
