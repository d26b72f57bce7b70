//! `coagent sync` between two machines: two hubs in two temporary folders (their own
//! seeds, so their ids differ as two machines' would) and one bare repository as the
//! remote. Each works offline, then they sync and agree; syncing again changes nothing; a
//! conflict follows the documented rule; secrets and private values never reach the
//! branch; a killed sync loses nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{CANARY, Env};

struct Remote {
    _tmp: tempfile::TempDir,
    path: PathBuf,
}

impl Remote {
    fn new() -> Remote {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("hub-sync.git");
        git(
            tmp.path(),
            &["init", "-q", "--bare", path.to_str().unwrap()],
        );
        Remote { _tmp: tmp, path }
    }

    fn arg(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// The branch's head, if it exists.
    fn head(&self) -> Option<String> {
        let out = Command::new("git")
            .args([
                "-C",
                self.arg(),
                "rev-parse",
                "-q",
                "--verify",
                "refs/heads/coagent/sync",
            ])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Every byte of every object the remote holds (all commits, trees and files).
    fn everything(&self) -> String {
        let list = git(&self.path, &["rev-list", "--objects", "--all"]);
        let ids: String = list
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .map(|id| format!("{id}\n"))
            .collect();
        let mut c = Command::new("git")
            .args(["-C", self.arg(), "cat-file", "--batch"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        c.stdin.take().unwrap().write_all(ids.as_bytes()).unwrap();
        String::from_utf8_lossy(&c.wait_with_output().unwrap().stdout).into_owned()
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A machine: a hub of its own, with its own id seed.
fn machine(seed: &str) -> Env {
    let mut env = Env::new();
    env.seed = seed.to_string();
    env.init();
    env
}

fn sync(env: &Env, remote: &Remote) -> serde_json::Value {
    env.json(&["sync", "--remote", remote.arg()])
}

fn ingest(env: &Env, text: &str) -> serde_json::Value {
    env.cmd(&["--json", "ingest", "-"]).stdin(text).ok().json()
}

/// A session with two proposed DOs, the first run: its id and the run's log artifact.
fn work(env: &Env, tag: &str) -> (String, String) {
    let started = env.json(&["start", "--vendor", "claude", "--goal", tag]);
    // The reply tag the contract asks for (`[S-XXXX tN]`): a chat that keeps to it.
    let short = &started["session"].as_str().unwrap()[..6];
    let reply = format!(
        "Policy v1.0 loaded.\n\n```sh\n# DO: {tag} one\necho {tag} one\n# END DO\n```\n\n```sh\n# DO: {tag} two\necho {tag} two\n# END DO\n```\n\n[{short} t1]\n"
    );
    let dos = ingest(env, &reply)["dos"].clone();
    let id = dos[0]["id"].as_str().unwrap().to_string();
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

/// `v[key]` with its items in one order: records made in the same millisecond on two
/// machines (the tests' clock is fixed) list in the order each hub stored them.
fn sorted(mut v: serde_json::Value, key: &str) -> serde_json::Value {
    if let Some(items) = v[key].as_array_mut() {
        items.sort_by_key(|i| i.to_string());
    }
    v
}

/// What both machines must agree on.
fn view(env: &Env) -> serde_json::Value {
    let mut status = env.json(&["status"]);
    status.as_object_mut().unwrap().remove("hub");
    serde_json::json!({
        "todos": env.json(&["todo", "list", "--all"]),
        "dos": sorted(env.json(&["do", "list", "--all"]), "dos"),
        "stats": sorted(env.json(&["stats", "--all"]), "sessions"),
        "sessions": sorted(env.json(&["session", "list", "--all"]), "sessions"),
        "acks": sorted(env.json(&["ack", "list", "--all"]), "acks"),
        "wraps": env.json(&["wraps", "--all"]),
        "status": sorted(status, "sessions"),
    })
}

#[test]
fn two_machines_work_offline_then_agree_and_a_second_sync_changes_nothing() {
    let remote = Remote::new();
    let a = machine("7");
    let b = machine("8");
    a.ok(&["todo", "add", "Parser tests"]);
    a.ok(&["todo", "add", "Fix CI"]);
    let (a_do, a_log) = work(&a, "alpha");
    let short = a.json(&["status"])["session"].as_str().unwrap()[..6].to_string();
    ingest(
        &a,
        &format!("ACK {a_do} artifact:{a_log}\n\n[{short} t2]\n"),
    );
    b.ok(&["todo", "add", "Write the docs"]);
    let (b_do, _) = work(&b, "beta");
    b.ok(&["wrap", "--no-respawn"]);

    let first = sync(&a, &remote);
    assert_eq!(first["pushed"], true);
    let second = sync(&b, &remote);
    assert!(
        second["imported"]["dos"]["new"].as_u64().unwrap() >= 2,
        "{second}"
    );
    sync(&a, &remote);

    let (va, vb) = (view(&a), view(&b));
    assert_eq!(va["todos"], vb["todos"]);
    assert_eq!(va["dos"], vb["dos"]);
    // A session's tokens turn by turn follow this hub's order of events, which sync does
    // not carry: the totals and parts agree, the split into turns may not.
    let without_turns = |v: &serde_json::Value| {
        let mut v = v["stats"].clone();
        for s in v["sessions"].as_array_mut().unwrap() {
            s.as_object_mut().unwrap().remove("token_turns");
        }
        v
    };
    assert_eq!(without_turns(&va), without_turns(&vb));
    assert_eq!(va["sessions"], vb["sessions"]);
    assert_eq!(va["acks"], vb["acks"]);
    assert_eq!(va["wraps"], vb["wraps"]);
    let status_without_turns = |v: &serde_json::Value| {
        let mut v = v["status"].clone();
        for s in v["sessions"].as_array_mut().unwrap() {
            if let Some(t) = s["tokens"].as_object_mut() {
                t.remove("turns");
            }
        }
        v
    };
    assert_eq!(status_without_turns(&va), status_without_turns(&vb));
    assert_eq!(va["todos"]["todos"].as_array().unwrap().len(), 3);
    assert_eq!(va["dos"]["dos"].as_array().unwrap().len(), 4);
    assert_eq!(va["stats"]["overall"]["sessions"], 2);
    assert_eq!(va["wraps"]["wraps"].as_array().unwrap().len(), 1);
    let state = |v: &serde_json::Value, id: &str| {
        v["dos"]["dos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id)
            .unwrap()["state"]
            .clone()
    };
    assert_eq!(state(&vb, &a_do), "acked", "A's ACK reached B");
    assert_eq!(state(&va, &b_do), "succeeded", "B's run reached A");
    // A's payloads stay A's to paste (temps/ never syncs): B's outbox lists only its own.
    let listed = b.json(&["outbox", "--all"])["payloads"].clone();
    assert!(!listed.as_array().unwrap().is_empty());
    for p in listed.as_array().unwrap() {
        let path = p["paths"][0].as_str().unwrap();
        assert!(
            b.hub().join(path).exists(),
            "B lists {path}, which it does not hold"
        );
    }
    // B has A's artifact: its bytes came by their hash.
    b.ok(&["artifact", "show", &a_log, "--content"])
        .stdout_has("alpha one");

    let head = remote.head();
    for env in [&a, &b, &a] {
        let again = sync(env, &remote);
        assert_eq!(again["commit"], serde_json::Value::Null, "{again}");
        assert_eq!(again["pushed"], false);
    }
    assert_eq!(remote.head(), head, "syncing again makes no commit");
    assert_eq!(view(&a), va, "and changes nothing on either side");
}

#[test]
fn a_do_run_on_one_machine_and_acked_on_the_other_ends_acked_on_both() {
    let remote = Remote::new();
    let a = machine("7");
    let b = machine("8");
    let (do_id, log) = work(&a, "alpha");
    sync(&a, &remote);
    sync(&b, &remote);
    b.json(&["start", "--vendor", "chatgpt", "--goal", "review"]);
    let r = ingest(
        &b,
        &format!("Policy v1.0 loaded.\n\nACK {do_id} artifact:{log}\n"),
    );
    assert_eq!(r["acks"][0]["status"], "accepted", "{r}");
    sync(&b, &remote);
    sync(&a, &remote);
    for env in [&a, &b] {
        let d = env.json(&["do", "list", "--all"])["dos"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == do_id.as_str())
            .cloned()
            .unwrap();
        assert_eq!(d["state"], "acked");
    }
    assert_eq!(
        a.json(&["ack", "list", "--pending"])["acks"],
        b.json(&["ack", "list", "--pending"])["acks"]
    );
}

#[test]
fn a_todo_title_changed_on_both_machines_takes_the_latest_change() {
    let remote = Remote::new();
    let mut a = machine("7");
    let mut b = machine("8");
    let t = a.json(&["todo", "add", "Parser tests"])["id"]
        .as_str()
        .unwrap()
        .to_string();
    sync(&a, &remote);
    sync(&b, &remote);
    // Offline, both change its title; B's change is the later one.
    a.now = "2026-11-24T10:00:00Z".to_string();
    a.ok(&["todo", "edit", &t, "--title", "Parser tests (A)"]);
    b.now = "2026-11-24T11:00:00Z".to_string();
    b.ok(&["todo", "edit", &t, "--title", "Parser tests (B)"]);
    // A closes it even later: a later change wins whole.
    sync(&a, &remote);
    sync(&b, &remote);
    sync(&a, &remote);
    for env in [&a, &b] {
        let todos = env.json(&["todo", "list", "--all"]);
        assert_eq!(todos["todos"][0]["title"], "Parser tests (B)", "{todos}");
    }
    a.now = "2026-11-24T12:00:00Z".to_string();
    a.ok(&["todo", "done", &t]);
    sync(&a, &remote);
    sync(&b, &remote);
    let todos = b.json(&["todo", "list", "--all"]);
    assert_eq!(todos["todos"][0]["status"], "done");
    assert_eq!(todos["todos"][0]["title"], "Parser tests (B)");
}

#[test]
fn a_secret_in_a_transcript_blocks_the_export_and_redact_masks_it() {
    let remote = Remote::new();
    let a = machine("7");
    a.json(&["start", "--vendor", "claude", "--goal", "keys"]);
    let key = "AKIAQYLPMN5HFIQR7XLT";
    let reply =
        format!("Policy v1.0 loaded.\n\nThe deploy key is {key} (use it for the upload).\n");
    a.cmd(&["ingest", "-"]).stdin(reply).run();
    let refused = a.fails(&["sync", "--remote", remote.arg()], 1);
    refused.stderr_has("transcripts/").stderr_has("--redact");
    assert_eq!(remote.head(), None, "nothing was pushed");
    let dry = a
        .cmd(&["sync", "--dry-run", "--remote", remote.arg()])
        .code(1);
    dry.stderr_has("transcripts/");
    let ok = a.json(&["sync", "--redact", "--remote", remote.arg()]);
    assert_eq!(ok["pushed"], true);
    let all = remote.everything();
    assert!(!all.contains(key), "the key reached the branch");
    assert!(all.contains("[REDACTED:"), "the transcript went out masked");
    // The hub's own transcript is untouched.
    let t = std::fs::read_dir(a.hub().join("transcripts"))
        .unwrap()
        .flatten()
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .any(|f| {
            std::fs::read_to_string(f.path())
                .unwrap_or_default()
                .contains(key)
        });
    assert!(t, "the local transcript keeps what was pasted");
}

#[test]
fn a_private_profile_value_never_reaches_the_sync_branch() {
    let remote = Remote::new();
    let a = machine("7");
    a.ok(&["todo", "add", &format!("Ship to {CANARY}")]);
    a.ok(&["todo", "add", "Nothing private here"]);
    a.fails(&["sync", "--remote", remote.arg()], 1)
        .stderr_has("records/todos/");
    a.json(&["sync", "--redact", "--remote", remote.arg()]);
    let b = machine("8");
    sync(&b, &remote);
    let todos = b.json(&["todo", "list"]).to_string();
    assert!(todos.contains("Nothing private here"));
    assert!(!todos.contains(CANARY));
    let all = remote.everything();
    assert!(
        !all.contains(CANARY),
        "a private value is in the branch's history"
    );
    // Nor do the profile and the guard's config ever leave.
    assert!(!all.contains("[private]"));
    assert!(!all.contains("allowlist"));
    assert!(
        !all.contains(a.hub().to_str().unwrap()),
        "no machine-local path"
    );
}

#[test]
fn dry_run_says_what_would_go_and_changes_nothing() {
    let remote = Remote::new();
    let a = machine("7");
    a.ok(&["todo", "add", "Parser tests"]);
    let dry = a.json(&["sync", "--dry-run", "--remote", remote.arg()]);
    assert_eq!(dry["dry_run"], true);
    let paths: Vec<&str> = dry["exported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["path"].as_str().unwrap())
        .collect();
    assert!(paths.contains(&"records/todos/2026-11.jsonl"), "{paths:?}");
    assert_eq!(remote.head(), None);
    a.ok(&["sync", "--dry-run", "--remote", remote.arg()])
        .stdout_has("records/todos/2026-11.jsonl");
}

#[test]
fn a_remote_that_cannot_be_reached_is_a_clear_error_and_a_retry_completes() {
    let remote = Remote::new();
    let a = machine("7");
    a.ok(&["todo", "add", "Parser tests"]);
    let gone = remote.path.with_file_name("nowhere.git");
    a.fails(&["sync", "--remote", gone.to_str().unwrap()], 1)
        .stderr_has("git ")
        .stderr_has("nothing is lost");
    a.ok(&["todo", "list"]).stdout_has("Parser tests");
    sync(&a, &remote);
    let b = machine("8");
    sync(&b, &remote);
    b.ok(&["todo", "list"]).stdout_has("Parser tests");
    a.fails(&["sync", "--remote", "upstream"], 1)
        .stderr_has("--remote URL");
}

#[test]
fn a_sync_killed_midway_leaves_both_hubs_usable_and_a_later_sync_completes() {
    let remote = Remote::new();
    let a = machine("7");
    let b = machine("8");
    for i in 0..20 {
        a.ok(&["todo", "add", &format!("todo {i}")]);
    }
    work(&a, "alpha");
    b.ok(&["todo", "add", "from b"]);
    sync(&b, &remote);
    for delay_ms in [5, 15, 30, 60, 120, 250] {
        let mut child = a
            .cmd(&["sync", "--remote", remote.arg()])
            .into_command()
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        a.ok(&["status"]);
        a.ok(&["todo", "list"]).stdout_has("todo 19");
        b.ok(&["status"]);
    }
    sync(&a, &remote);
    sync(&b, &remote);
    sync(&a, &remote);
    assert_eq!(view(&a)["todos"], view(&b)["todos"]);
    assert_eq!(
        b.json(&["todo", "list", "--all"])["todos"]
            .as_array()
            .unwrap()
            .len(),
        21
    );
    assert_eq!(sync(&a, &remote)["commit"], serde_json::Value::Null);
}

/// Commits `files` onto the remote's branch from a clone of its own, as a hostile or
/// broken hub would.
fn push_files(remote: &Remote, files: &[(&str, &str)]) {
    let tmp = tempfile::tempdir().unwrap();
    let w = tmp.path().join("w");
    git(
        tmp.path(),
        &[
            "clone",
            "-q",
            "-b",
            "coagent/sync",
            remote.arg(),
            w.to_str().unwrap(),
        ],
    );
    for (path, text) in files {
        let p = w.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    git(&w, &["add", "-A"]);
    git(
        &w,
        &[
            "-c",
            "user.name=X",
            "-c",
            "user.email=x@example.invalid",
            "commit",
            "-q",
            "-m",
            "x",
        ],
    );
    git(&w, &["push", "-q", "origin", "coagent/sync"]);
}

#[test]
fn a_damaged_or_hostile_branch_is_refused_or_contained_and_loses_nothing() {
    let remote = Remote::new();
    let a = machine("7");
    a.ok(&["todo", "add", "Parser tests"]);
    sync(&a, &remote);
    let b = machine("8");
    b.ok(&["todo", "add", "Mine"]);

    push_files(
        &remote,
        &[(
            "records/todos/2026-11.jsonl",
            "{\"id\": \"T-X\", \"title\": \n",
        )],
    );
    b.fails(&["sync", "--remote", remote.arg()], 1)
        .stderr_has("records/todos/2026-11.jsonl is damaged (line 1")
        .stderr_has("nothing was imported");
    let todos = b.json(&["todo", "list"]);
    assert_eq!(titles(&todos), ["Mine"], "nothing half-imported");

    // A record naming a file outside the hub gets no file: the path is refused.
    let outside = b.root.parent().unwrap().join("escaped.txt");
    let blob = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    let artifact = format!(
        "{{\"blob\":\"{blob}\",\"bytes\":0,\"created_at\":1795510800000,\"do_id\":\"DO-X\",\"id\":\"A-X\",\"kind\":\"file\",\"path\":\"artifacts/../../../escaped.txt\",\"run_id\":\"R-X\",\"sha256\":\"{blob}\",\"source\":\"\",\"stored\":1}}\n"
    );
    push_files(
        &remote,
        &[
            ("records/todos/2026-11.jsonl", ""),
            ("records/artifacts/2026-11.jsonl", &artifact),
            (&format!("blobs/{blob}"), ""),
        ],
    );
    b.ok(&["sync", "--remote", remote.arg()]);
    assert!(!outside.exists(), "a record wrote outside the hub");
    assert!(!b.root.join("escaped.txt").exists());
    b.fails(&["artifact", "show", "A-X"], 1)
        .stderr_has("no artifact");
    b.ok(&["todo", "list"]).stdout_has("Mine");
}

fn titles(v: &serde_json::Value) -> Vec<String> {
    v["todos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn another_machines_live_session_is_shown_but_never_judged_or_picked_here() {
    let remote = Remote::new();
    let mut a = machine("7");
    let mut b = machine("8");
    let sb = b.json(&["start", "--vendor", "claude", "--goal", "mine"])["session"]
        .as_str()
        .unwrap()
        .to_string();
    a.now = "2026-11-24T09:30:00Z".to_string();
    let sa = a.json(&["start", "--vendor", "chatgpt", "--goal", "theirs"])["session"]
        .as_str()
        .unwrap()
        .to_string();
    ingest(&a, "Policy v1.0 loaded.\n");
    sync(&a, &remote);
    sync(&b, &remote);
    b.now = "2026-11-24T09:31:00Z".to_string();
    // B's reply goes into B's own chat, not into A's newer one.
    assert_eq!(ingest(&b, "Policy v1.0 loaded.\n")["session"], sb.as_str());
    // Hours later on B, A's chat looks stale here; only A's monitor judges it.
    b.now = "2026-11-24T15:00:00Z".to_string();
    let st = b.json(&["status"]);
    assert!(
        st["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["id"] == sa.as_str())
    );
    let breach = |env: &Env, id: &str| {
        env.json(&["session", "list", "--all"])["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap()["breach_at"]
            .clone()
    };
    assert_ne!(
        breach(&b, &sb),
        serde_json::Value::Null,
        "B judges its own chat"
    );
    assert_eq!(
        breach(&b, &sa),
        serde_json::Value::Null,
        "and leaves A's alone"
    );
    b.ok(&["watch", "--once"]);
    sync(&b, &remote);
    sync(&a, &remote);
    let theirs = a.json(&["session", "list", "--all"])["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == sa.as_str())
        .cloned()
        .unwrap();
    assert_eq!(theirs["state"], "live", "B's watch did not wrap A's chat");
    assert_eq!(theirs["breach_at"], serde_json::Value::Null);
}

#[test]
fn a_chats_drift_on_one_machine_is_shown_on_the_other_once_and_only_once() {
    let remote = Remote::new();
    let a = machine("7");
    let b = machine("8");
    let sid = a.json(&["start", "--vendor", "claude", "--goal", "drift"])["session"]
        .as_str()
        .unwrap()
        .to_string();
    // A reply without its tag, and an ACK of a DO that does not exist: two lapses.
    ingest(
        &a,
        "Policy v1.0 loaded.\n\nACK DO-NOSUCH0000 artifact:A-0000000000\n",
    );
    let drift = |env: &Env| drift_of(env, &sid);
    let here = drift(&a);
    assert!(here.as_array().unwrap().len() >= 2, "{here}");
    sync(&a, &remote);
    sync(&b, &remote);
    assert_eq!(drift(&b), here, "B shows A's lapses as A does");
    // Back and forth again: nothing is counted twice on either side.
    sync(&b, &remote);
    sync(&a, &remote);
    sync(&b, &remote);
    assert_eq!(drift(&a), here);
    assert_eq!(drift(&b), here);
}

/// The lapses both machines list for `sid`.
fn drift_of(env: &Env, sid: &str) -> serde_json::Value {
    env.json(&["status"])["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == sid)
        .map(|s| s["drift"].clone())
        .unwrap()
}

/// A hub that synced with a CoAgent that did not sync drift, then was upgraded: the lapses
/// it recorded meanwhile go out, and those another machine sent, which it skipped, come in;
/// neither side's are lost from the branch.
#[test]
fn a_hub_upgraded_after_syncing_sends_its_old_lapses_and_reads_those_it_skipped() {
    let remote = Remote::new();
    let mut a = machine("7");
    let b = machine("8");
    let sa = a.json(&["start", "--vendor", "claude", "--goal", "a"])["session"]
        .as_str()
        .unwrap()
        .to_string();
    let sb = b.json(&["start", "--vendor", "chatgpt", "--goal", "b"])["session"]
        .as_str()
        .unwrap()
        .to_string();
    sync(&a, &remote);
    // B's chat drifts; B syncs it to the branch; A imports that commit.
    ingest(
        &b,
        "Policy v1.0 loaded.\n\nACK DO-NOSUCH0000 artifact:A-0000000000\n",
    );
    sync(&b, &remote);
    sync(&a, &remote);
    // A as the older CoAgent left it: no drift triggers, B's lapses skipped, and the
    // import marked as done all the same.
    {
        let hub = coagent::hub::Hub::open(&a.hub()).unwrap();
        hub.store
            .conn()
            .execute_batch(
                "DROP TRIGGER sync_dirty_drift_insert; DROP TRIGGER sync_dirty_drift_update;
                 DELETE FROM drift; DELETE FROM sync_dirty WHERE kind = 'drift';
                 DELETE FROM meta WHERE key = 'sync.kinds';",
            )
            .unwrap();
    }
    // Meanwhile, a month later, A's own chat drifts, untracked.
    a.now = "2026-12-24T09:00:00Z".to_string();
    ingest(
        &a,
        &format!(
            "Policy v1.0 loaded.\n\nACK DO-NOSUCH0001 artifact:A-0000000001\n[{} t1]\n",
            &sa[..6]
        ),
    );
    let mine = drift_of(&a, &sa);
    assert!(!mine.as_array().unwrap().is_empty(), "{mine}");
    // Upgraded: one sync each way and both machines list both chats' lapses.
    sync(&a, &remote);
    sync(&b, &remote);
    let theirs = drift_of(&b, &sb);
    assert!(!theirs.as_array().unwrap().is_empty(), "{theirs}");
    assert_eq!(
        drift_of(&a, &sb),
        theirs,
        "A read the lapses it had skipped"
    );
    assert_eq!(drift_of(&b, &sa), mine, "B got the lapses A made untracked");
}
