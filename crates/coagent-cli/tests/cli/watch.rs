//! `coagent watch`: the inbox, one watcher per hub, and a breach wrapped by the watcher.

use std::io::Write;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::harness::Env;

fn spawn_watch(env: &Env, args: &[&str]) -> Child {
    let mut a = vec!["--json", "watch"];
    a.extend_from_slice(args);
    let mut cmd = env.cmd(&a).into_command();
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    cmd.spawn().unwrap()
}

fn stop(child: Child) -> (String, String) {
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "watch did not stop cleanly: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(30) {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn a_file_written_in_slow_chunks_is_ingested_once_whole() {
    let env = Env::new();
    env.init();
    env.json(&["start", "--vendor", "claude"]);
    let watch = spawn_watch(&env, &[]);
    wait_until("the watch lock", || {
        env.hub().join("temps/status/watch.lock").exists()
    });
    let inbox = env.hub().join("temps/inbox");
    let mut f = std::fs::File::create(inbox.join("reply.md")).unwrap();
    for chunk in [
        "Policy v1.0 loaded.\n\n",
        "```bash\n# DO: Slow one\n",
        "echo slow\n",
        "# END DO\n```\n",
    ] {
        f.write_all(chunk.as_bytes()).unwrap();
        f.flush().unwrap();
        std::thread::sleep(Duration::from_millis(700));
    }
    drop(f);
    // A reply renamed into place is complete at once.
    std::fs::write(inbox.join(".partial"), "ACK DO-NOPE000000 README.md\n").unwrap();
    std::fs::rename(inbox.join(".partial"), inbox.join("second.md")).unwrap();
    std::fs::write(inbox.join("broken.md"), "   \n").unwrap();
    wait_until("the inbox to empty", || {
        std::fs::read_dir(&inbox)
            .unwrap()
            .flatten()
            .all(|e| e.path().is_dir())
    });
    let (stdout, _) = stop(watch);
    let events: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ingested: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "inbox.ingested")
        .collect();
    assert_eq!(ingested.len(), 2, "{stdout}");
    let dos = env.json(&["do", "list"]);
    assert_eq!(
        dos["dos"].as_array().unwrap().len(),
        1,
        "the slow reply was read whole, once"
    );
    assert_eq!(dos["dos"][0]["title"], "Slow one");
    assert!(env.hub().join("temps/inbox/done/reply.md").is_file());
    assert!(env.hub().join("temps/inbox/failed/broken.md").is_file());
    let err =
        std::fs::read_to_string(env.hub().join("temps/inbox/failed/broken.md.error.txt")).unwrap();
    assert!(err.contains("empty"), "{err}");
    assert!(events.iter().any(|e| e["event"] == "watch.stopped"));
}

#[test]
fn a_second_watch_on_the_same_hub_refuses() {
    let env = Env::new();
    env.init();
    let first = spawn_watch(&env, &[]);
    wait_until("the watch lock", || {
        env.hub().join("temps/status/watch.lock").exists()
    });
    std::thread::sleep(Duration::from_millis(200));
    env.fails(&["watch", "--once"], 1)
        .stderr_has("already running");
    stop(first);
    env.ok(&["watch", "--once"]);
}

#[test]
fn a_breach_under_watch_produces_the_wrap_and_the_respawn_payload() {
    let env = Env::new();
    env.init();
    std::fs::write(
        env.hub().join("config.toml"),
        "[bloat]\nmax_dos = 1\n[watch]\ncheck_interval_secs = 0.5\n",
    )
    .unwrap();
    let s = env.json(&["start", "--vendor", "claude"]);
    let session = s["session"].as_str().unwrap().to_string();
    let watch = spawn_watch(&env, &[]);
    wait_until("the watch lock", || {
        env.hub().join("temps/status/watch.lock").exists()
    });
    let reply = "Policy v1.0 loaded.\n\n```sh\n# DO: One\ntrue\n# END DO\n```\n";
    env.cmd(&["ingest", "-"]).stdin(reply).ok();
    let do_id = env.json(&["do", "list"])["dos"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let run = env.json(&["do", "run", &do_id]);
    // The result is on its way: the wrap waits for the chat's answer.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(!env.hub().join("cache/CoWrap.latest.json").exists());
    let log = run["artifacts"][0]["id"].as_str().unwrap();
    env.cmd(&["ingest", "-", "--session", &session])
        .stdin(format!("ACK {do_id} artifact:{log}\n"))
        .ok();
    wait_until("the wrap", || {
        env.hub().join("cache/CoWrap.latest.json").exists()
    });
    let (stdout, _) = stop(watch);
    let wrapped = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["event"] == "wrapped")
        .expect("a wrapped event");
    assert_eq!(wrapped["session"], session);
    let respawn = wrapped["respawn"][0].as_str().unwrap();
    assert!(
        std::fs::read_to_string(respawn)
            .unwrap()
            .contains("kind=respawn")
    );
    let st = env.json(&["status"]);
    assert_eq!(st["session"], wrapped["respawn_session"]);
}
