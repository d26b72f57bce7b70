//! Crash safety, concurrency and `coagent doctor`: killed commands, damaged stores,
//! orphan and temp files, writers racing for the same records.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::harness::Env;

/// A started session; returns its id.
fn started(env: &Env) -> String {
    env.init();
    env.json(&["start", "--vendor", "claude"])["session"]
        .as_str()
        .unwrap()
        .to_string()
}

fn reply_with(dos: &[(&str, &str)]) -> String {
    let mut r = String::from("Policy v1.0 loaded.\n\n");
    for (title, body) in dos {
        r.push_str(&format!(
            "```bash\n# DO: {title}\n{body}\n# END DO\n```\n\n"
        ));
    }
    r
}

fn ingest(env: &Env, reply: &str) -> serde_json::Value {
    env.cmd(&["--json", "ingest", "-"])
        .stdin(reply.to_string())
        .ok()
        .json()
}

pub fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, r)| r.trim_start().chars().next()),
            Some('Z' | 'X')
        ),
        Err(_) => false,
    }
}

/// Waits up to `secs` for `f`.
pub fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(secs) {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// The pids a script wrote, one a line, once `n` are there.
fn pids(path: &Path, n: usize) -> Vec<i32> {
    let mut out = Vec::new();
    let ok = eventually(20, || {
        out = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect();
        out.len() >= n
    });
    assert!(ok, "{} never held {n} pids", path.display());
    out
}

fn spawn(env: &Env, args: &[&str]) -> Child {
    let mut c = env.cmd(args).into_command();
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c.spawn().unwrap()
}

fn do_state(env: &Env, id: &str) -> String {
    env.json(&["do", "show", id])["state"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A pid no process has: one that just exited.
fn dead_pid() -> u32 {
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

#[test]
fn defect_1_a_killed_do_run_is_recorded_interrupted_and_leaves_no_process() {
    let env = Env::new();
    started(&env);
    let body = r#"if [ -f again ]; then echo second run; exit 0; fi
echo $$ >> pids
sleep 300 &
echo $! >> pids
setsid sleep 300 &
echo $! >> pids
sleep 300"#;
    let r = ingest(&env, &reply_with(&[("Sleep a long time", body)]));
    let id = r["dos"][0]["id"].as_str().unwrap().to_string();
    let mut run = spawn(&env, &["do", "run", &id]);
    let pids = pids(&env.root.join("pids"), 3);
    assert_eq!(do_state(&env, &id), "running", "its coagent is alive");
    run.kill().unwrap();
    run.wait().unwrap();
    // The script itself dies with its coagent (the parent-death signal).
    assert!(
        eventually(5, || !alive(pids[0])),
        "the script outlived coagent"
    );
    // The next command finds the run's owner gone: interrupted, leftovers killed.
    let list = env.cmd(&["do", "list"]).ok();
    list.stderr_has("was interrupted").stderr_has(&id);
    assert_eq!(do_state(&env, &id), "interrupted");
    env.ok(&["status"]).stdout_has(&format!("interrupted {id}"));
    assert!(
        eventually(5, || pids.iter().all(|p| !alive(*p))),
        "processes of the run are left: {:?}",
        pids.iter().filter(|p| alive(**p)).collect::<Vec<_>>()
    );
    let shown = env.json(&["do", "show", &id]);
    assert_eq!(shown["runs"][0]["status"], "interrupted");
    // Sent to the chat like any result.
    let sent = env.json(&["do", "result", &id]);
    let payload = std::fs::read_to_string(sent["paths"][0].as_str().unwrap()).unwrap();
    assert!(payload.contains("interrupted"), "{payload}");
    // And it runs again without --rerun.
    std::fs::write(env.root.join("again"), "").unwrap();
    let again = env.cmd(&["--json", "do", "run", &id]).ok().json();
    assert_eq!(again["status"], "succeeded");
    assert_eq!(do_state(&env, &id), "succeeded");
}

#[test]
fn defect_3_concurrent_ingests_proposing_the_same_do_all_succeed() {
    let env = Env::new();
    started(&env);
    for round in 0..3 {
        let children: Vec<_> = (0..4)
            .map(|i| {
                let own = format!("echo own {round} {i}");
                let shared = format!("echo shared by all in round {round}");
                let reply = reply_with(&[("Own", &own), ("Shared", &shared)]);
                let mut c = env.cmd(&["--json", "ingest", "-"]).into_command();
                c.stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                let mut child = c.spawn().unwrap();
                let mut si = child.stdin.take().unwrap();
                std::thread::spawn(move || {
                    use std::io::Write;
                    let _ = si.write_all(reply.as_bytes());
                });
                child
            })
            .collect();
        let mut shared_ids = Vec::new();
        for c in children {
            let out = c.wait_with_output().unwrap();
            assert_eq!(
                out.status.code(),
                Some(0),
                "an ingest failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            shared_ids.push(v["dos"][1]["id"].as_str().unwrap().to_string());
        }
        shared_ids.dedup();
        assert_eq!(shared_ids.len(), 1, "one shared DO, one id: {shared_ids:?}");
    }
    let dos = env.json(&["do", "list"]);
    let n = dos
        .as_array()
        .or_else(|| dos["dos"].as_array())
        .unwrap()
        .len();
    assert_eq!(n, 3 * 5, "every own DO and one shared DO a round");
}

#[test]
fn defect_4_a_zero_length_store_beside_data_is_exit_1_naming_doctor() {
    let env = Env::new();
    started(&env);
    ingest(&env, &reply_with(&[("Say hi", "echo hi")]));
    let store = env.hub().join("store.db");
    std::fs::write(&store, b"").unwrap();
    env.fails(&["status"], 1).stderr_has("coagent doctor");
    env.fails(&["todo", "add", "lost?"], 1)
        .stderr_has("empty (0 bytes)");
    assert_eq!(
        std::fs::metadata(&store).unwrap().len(),
        0,
        "nothing written"
    );
    env.fails(&["doctor"], 1).stdout_has("empty (0 bytes)");
}

/// A hub with a wrap (so a backup holding its sessions), then `damage` done to its store.
fn damaged_hub(damage: impl Fn(&Path)) -> Env {
    let env = Env::new();
    started(&env);
    ingest(&env, &reply_with(&[("Say hi", "echo hi")]));
    env.json(&["todo", "add", "kept in the backup"]);
    env.json(&["wrap"]);
    damage(&env.hub().join("store.db"));
    env
}

#[test]
fn defect_5_a_damaged_store_is_exit_1_and_doctor_restores_the_backup() {
    let overwrite = |p: &Path| {
        let mut b = std::fs::read(p).unwrap();
        let n = b.len();
        for x in &mut b[100..n.min(8192)] {
            *x = 0xA5;
        }
        std::fs::write(p, b).unwrap();
    };
    let truncate = |p: &Path| {
        let b = std::fs::read(p).unwrap();
        std::fs::write(p, &b[..b.len() / 3]).unwrap();
    };
    for damage in [&overwrite as &dyn Fn(&Path), &truncate] {
        let env = damaged_hub(damage);
        env.fails(&["status"], 1)
            .stderr_has("store")
            .stderr_has("coagent doctor");
        let found = env.cmd(&["--json", "doctor"]).code(1).json();
        assert_eq!(found["findings"][0]["check"], "store", "{found:#}");
        let fixed = env.cmd(&["--json", "doctor", "--repair"]).ok().json();
        assert!(
            fixed["findings"][0]["repaired"].as_bool().unwrap(),
            "{fixed:#}"
        );
        // The damaged file is kept aside, never deleted.
        let lf = PathBuf::from(fixed["lost_and_found"].as_str().unwrap());
        assert!(lf.join("store.db").is_file());
        let st = env.json(&["status"]);
        assert!(st.to_string().contains("wrapped"), "{st:#}");
        let todos = env.json(&["todo", "list"]).to_string();
        assert!(todos.contains("kept in the backup"), "{todos}");
        env.ok(&["doctor"]).stdout_has("clean");
    }
}

#[test]
fn defect_6_files_that_no_record_points_to_are_moved_to_lost_and_found() {
    let env = Env::new();
    let session = started(&env);
    env.json(&["wrap"]);
    let hub = env.hub();
    let outbox = hub.join("temps/outbox");
    // A boot payload with a valid header for a session the store never recorded, and an
    // archive with no wrap record: what a start or wrap killed before its commit leaves.
    let boot = outbox.join(format!("{session}-boot.paste.md"));
    let ghost = outbox.join("S-GHOST00000-boot.paste.md");
    std::fs::copy(&boot, &ghost).unwrap();
    let wraps = hub.join("cache/wraps");
    let archive = std::fs::read_dir(&wraps)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".tar.zst"))
        .unwrap();
    let stray = wraps.join("CoWrap-20260101T000000Z-S-GHOST00000-to-ANY.tar.zst");
    std::fs::copy(&archive, &stray).unwrap();

    let found = env.cmd(&["doctor"]).code(1);
    found
        .stdout_has("temps/outbox/S-GHOST00000-boot.paste.md belongs to no record")
        .stdout_has("S-GHOST00000-to-ANY.tar.zst belongs to no record");
    assert!(
        ghost.exists() && stray.exists(),
        "doctor alone changes nothing"
    );
    let fixed = env.cmd(&["--json", "doctor", "--repair"]).ok().json();
    assert!(!ghost.exists() && !stray.exists());
    let lf = PathBuf::from(fixed["lost_and_found"].as_str().unwrap());
    assert!(lf.join("temps/outbox/S-GHOST00000-boot.paste.md").is_file());
    assert!(
        lf.join("cache/wraps")
            .join(stray.file_name().unwrap())
            .is_file()
    );
    assert!(boot.exists(), "a recorded payload stays");
    env.ok(&["doctor"]).stdout_has("clean");

    // With --yes an orphan is deleted instead.
    std::fs::copy(&boot, &ghost).unwrap();
    env.cmd(&["--json", "--yes", "doctor", "--repair"]).ok();
    assert!(!ghost.exists());
    assert!(
        !lf.join("../../..")
            .join("S-GHOST00000-boot.paste.md")
            .exists()
    );
}

#[test]
fn defect_7_temp_files_of_dead_processes_are_removed_by_doctor() {
    let env = Env::new();
    started(&env);
    let hub = env.hub();
    let tmpdir = env.home.join("tmp");
    std::fs::create_dir_all(&tmpdir).unwrap();
    let dead = dead_pid();
    let live = std::process::id();
    let dead_files = [
        hub.join(format!("temps/outbox/.coagent-tmp-{dead}-aB3dE")),
        hub.join(format!("artifacts/.coagent-tmp-{dead}-xY1zQ")),
        hub.join(format!("cache/run/coagent-do-{dead}-Qw3rT.sh")),
    ];
    let live_file = hub.join(format!("temps/outbox/.coagent-tmp-{live}-kEeP1"));
    let dead_snapshot = tmpdir.join(format!("coagent-snapshot-{dead}-Zx9cV"));
    for f in dead_files.iter().chain([&live_file]) {
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, "half").unwrap();
    }
    std::fs::create_dir_all(&dead_snapshot).unwrap();
    std::fs::write(dead_snapshot.join("index"), "x").unwrap();

    let run = |args: &[&str]| env.cmd(args).env("TMPDIR", &tmpdir);
    run(&["doctor"])
        .code(1)
        .stdout_has("4 temp file(s) of coagent processes that are gone");
    run(&["doctor", "--repair"]).ok();
    for f in &dead_files {
        assert!(!f.exists(), "{} is left", f.display());
    }
    assert!(!dead_snapshot.exists());
    assert!(live_file.exists(), "a live process's temp file stays");
    std::fs::remove_file(&live_file).unwrap();
    run(&["doctor"]).ok().stdout_has("clean");
}

#[test]
fn doctor_reports_a_clean_hub_as_clean_and_says_so_in_json() {
    let env = Env::new();
    started(&env);
    let r = env.json(&["doctor"]);
    assert_eq!(r["findings"].as_array().unwrap().len(), 0, "{r:#}");
    assert!(r["alone"].as_bool().unwrap());
    assert!(
        !r["backups"].as_array().unwrap().is_empty(),
        "the day's backup is taken"
    );
}

#[test]
fn a_store_that_lost_its_records_beside_data_is_restored_from_a_backup_with_records() {
    let env = Env::new();
    started(&env);
    env.json(&["wrap"]);
    let store = env.hub().join("store.db");
    // Another, empty store in its place (as a careless copy would leave).
    let fresh = Env::new();
    fresh.init();
    std::fs::copy(fresh.hub().join("store.db"), &store).unwrap();
    let found = env.cmd(&["doctor"]).code(1);
    found.stdout_has("holds no session and no artifact");
    env.ok(&["doctor", "--repair"]);
    assert!(env.json(&["status"]).to_string().contains("wrapped"));
}

#[test]
fn defect_9_watch_once_ingests_every_complete_inbox_file_and_names_those_skipped() {
    let env = Env::new();
    started(&env);
    let inbox = env.hub().join("temps/inbox");
    std::fs::write(inbox.join("reply.md"), reply_with(&[("Say hi", "echo hi")])).unwrap();
    // A reply still being written: its writer holds it open.
    let mut writing = std::fs::File::create(inbox.join("half.md")).unwrap();
    std::io::Write::write_all(&mut writing, b"Policy v1.0 loaded.\n\n```bash\n# DO: Half").unwrap();
    std::fs::write(inbox.join("download.part"), "partial").unwrap();
    let out = env.ok(&["watch", "--once"]);
    out.stdout_has("ingested reply.md")
        .stdout_has("skipped half.md: still open for writing")
        .stdout_has("skipped download.part");
    assert!(inbox.join("done/reply.md").is_file());
    assert!(
        inbox.join("half.md").is_file(),
        "the open file is left for later"
    );
    let dos = env.json(&["do", "list"]).to_string();
    assert!(dos.contains("Say hi"), "{dos}");
    drop(writing);
}

#[test]
fn defect_8_a_reply_over_the_limit_is_refused_without_reading_it_whole() {
    let env = Env::new();
    started(&env);
    // 1 GiB that is never there: a sparse file. Reading it whole would take seconds and
    // a gigabyte; the limit stops after 16 MiB and a byte.
    let big = env.root.join("big-reply.md");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(1 << 30).unwrap();
    let start = Instant::now();
    env.fails(&["ingest", big.to_str().unwrap()], 1)
        .stderr_has("over 16 MiB");
    assert!(start.elapsed() < Duration::from_secs(20));
}

#[test]
fn defect_8_an_artifact_over_the_limit_is_recorded_with_size_and_hash_but_not_copied() {
    let env = Env::new();
    started(&env);
    let cfg = env.hub().join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("artifact_max_mib = 64", "artifact_max_mib = 1"),
    )
    .unwrap();
    let body = "head -c 3000000 /dev/zero > big.bin\n# ARTIFACT: big.bin\nhead -c 1000 /dev/zero > \"$COAGENT_OUT/small.bin\"";
    let r = ingest(&env, &reply_with(&[("Make a big file", body)]));
    let id = r["dos"][0]["id"].as_str().unwrap().to_string();
    let run = env.json(&["do", "run", &id]);
    let arts = run["artifacts"].as_array().unwrap();
    let big = arts
        .iter()
        .find(|a| a["path"].as_str().unwrap().ends_with("big.bin"))
        .unwrap();
    assert_eq!(big["bytes"], 3_000_000);
    // sha256 of 3,000,000 zero bytes.
    let out = std::process::Command::new("sha256sum")
        .arg(env.root.join("big.bin"))
        .output()
        .unwrap();
    let expected = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(big["sha256"], expected.as_str());
    assert!(
        !env.hub().join(big["path"].as_str().unwrap()).exists(),
        "not copied"
    );
    let small = arts
        .iter()
        .find(|a| a["path"].as_str().unwrap().ends_with("small.bin"))
        .unwrap();
    assert!(
        env.hub().join(small["path"].as_str().unwrap()).is_file(),
        "a small one is kept"
    );
    let warned = run["warnings"].to_string();
    assert!(warned.contains("over the 1 MiB"), "{warned}");
    // Nor is it put whole into the diff (git would hold it twice in memory for that).
    assert!(
        warned.contains("big.bin changed, but at 2 MiB it is over the limit for a diff"),
        "{warned}"
    );
    let payload = std::fs::read_to_string(run["payload"].as_str().unwrap()).unwrap();
    assert!(payload.contains("too large to keep"), "{payload}");
    let a = big["id"].as_str().unwrap();
    env.fails(&["artifact", "send", a], 1)
        .stderr_has("too large to keep");
    env.ok(&["doctor"]).stdout_has("clean");
}

/// What a crash run leaves, in the figures the long version prints.
#[derive(Debug, Default)]
struct Figures {
    kills: usize,
    corruptions: usize,
    lost_records: usize,
    runs_left_running: usize,
    processes_left: usize,
    orphans_after_doctor: usize,
    internal_errors: usize,
    /// Kills per command, in the order of [`Op`].
    kills_by_op: [usize; 5],
    /// Records acknowledged (checked for loss).
    acknowledged: usize,
    /// What the first doctor found to repair.
    repaired: usize,
}

/// Records a command acknowledged (it exited 0): they must all be there afterwards.
#[derive(Debug, Default)]
struct Acknowledged {
    ids: Vec<String>,
}

#[derive(Clone, Copy, Debug)]
enum Op {
    Ingest,
    DoRun,
    Wrap,
    Start,
    TodoAdd,
}

/// One DO script: a random pause, children in and out of its group, a file artifact.
fn crash_script(k: usize, pause_ms: u64) -> String {
    format!(
        r#"mkdir -p pids
echo $$ >> "pids/$COAGENT_RUN_ID"
sleep 30 &
echo $! >> "pids/$COAGENT_RUN_ID"
setsid sleep 30 &
echo $! >> "pids/$COAGENT_RUN_ID"
echo "work {k}" > "$COAGENT_OUT/work-{k}.txt"
sleep {}
echo done {k}"#,
        pause_ms as f64 / 1000.0
    )
}

fn pick_op(rng: &mut fastrand::Rng) -> Op {
    match rng.u32(0..100) {
        0..30 => Op::DoRun,
        30..60 => Op::Ingest,
        60..72 => Op::Wrap,
        72..84 => Op::Start,
        _ => Op::TodoAdd,
    }
}

/// The command for `op` and how long to let it run before the kill (ms).
fn command_for(
    env: &Env,
    op: Op,
    k: usize,
    rng: &mut fastrand::Rng,
) -> (Vec<String>, Option<String>, u64) {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    match op {
        Op::DoRun => {
            let dos = env.json(&["do", "list"]);
            let waiting: Vec<String> = dos["dos"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| matches!(d["state"].as_str(), Some("proposed" | "interrupted")))
                .map(|d| d["id"].as_str().unwrap().to_string())
                .collect();
            match rng.choice(waiting) {
                Some(id) => (
                    s(&["--json", "--yes", "do", "run", &id]),
                    None,
                    rng.u64(0..500),
                ),
                None => command_for(env, Op::Ingest, k, rng),
            }
        }
        Op::Ingest => {
            let reply = reply_with(&[(&format!("Work {k}"), &crash_script(k, rng.u64(0..300)))]);
            (s(&["--json", "ingest", "-"]), Some(reply), rng.u64(0..120))
        }
        Op::Wrap => (s(&["--json", "wrap"]), None, rng.u64(0..200)),
        Op::Start => (
            s(&["--json", "start", "--vendor", "claude"]),
            None,
            rng.u64(0..120),
        ),
        Op::TodoAdd => (
            s(&["--json", "todo", "add", &format!("todo {k}")]),
            None,
            rng.u64(0..80),
        ),
    }
}

/// Runs one command, killing it after `after_ms` if it is still going; returns whether it
/// was killed, and its exit code and stdout when it ended by itself.
fn run_or_kill(
    env: &Env,
    args: &[String],
    stdin: Option<String>,
    after_ms: u64,
) -> (bool, Option<i32>, String) {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = env.cmd(&a).into_command();
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = c.spawn().unwrap();
    if let Some(text) = stdin {
        let mut si = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = si.write_all(text.as_bytes());
        });
    }
    let out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(out).unwrap_or_default());
    let deadline = Instant::now() + Duration::from_millis(after_ms);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break Some(st);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    match status {
        Some(st) => (false, st.code(), reader.join().unwrap()),
        None => {
            child.kill().unwrap();
            let st = child.wait().unwrap();
            let _ = reader.join();
            // It may have ended by itself just before the kill.
            (st.code().is_none(), st.code(), String::new())
        }
    }
}

fn acknowledge(op: Op, json: &str, acked: &mut Acknowledged) {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
        return;
    };
    let mut push = |x: &serde_json::Value| {
        if let Some(s) = x.as_str() {
            acked.ids.push(s.to_string());
        }
    };
    match op {
        Op::Ingest => v["dos"]
            .as_array()
            .into_iter()
            .flatten()
            .for_each(|d| push(&d["id"])),
        Op::DoRun => v["runs"]
            .as_array()
            .into_iter()
            .flatten()
            .for_each(|r| push(&r["run"])),
        Op::Wrap => push(&v["id"]),
        Op::Start => push(&v["session"]),
        Op::TodoAdd => push(&v["id"]),
    }
}

/// SIGKILLs `kills` commands at random moments (seeded), then checks the hub.
fn crash_run(seed: u64, kills: usize) -> Figures {
    let env = Env::new();
    started(&env);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut acked = Acknowledged::default();
    let mut f = Figures::default();
    let mut k = 0;
    // Each of ingest, do run, wrap and start is killed at least once.
    let missing = |f: &Figures| (0..4).find(|&i| f.kills_by_op[i] == 0);
    while (f.kills < kills || missing(&f).is_some()) && k < kills * 10 {
        k += 1;
        let op = match missing(&f) {
            Some(i) if f.kills >= kills / 2 => [Op::Ingest, Op::DoRun, Op::Wrap, Op::Start][i],
            _ => pick_op(&mut rng),
        };
        let (args, stdin, after) = command_for(&env, op, k, &mut rng);
        let (killed, code, stdout) = run_or_kill(&env, &args, stdin, after);
        if killed {
            f.kills += 1;
            f.kills_by_op[op as usize] += 1;
        } else if code == Some(0) {
            acknowledge(op, &stdout, &mut acked);
        } else if code == Some(2) {
            f.internal_errors += 1;
            eprintln!("exit 2 from {args:?}");
        }
    }
    let first = env.cmd(&["--json", "doctor"]).run().json();
    f.repaired = first["findings"].as_array().unwrap().len();
    f.corruptions = first["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["check"] == "store")
        .count();
    env.cmd(&["--json", "--yes", "doctor", "--repair"]).run();
    let after = env.cmd(&["--json", "doctor"]).run().json();
    f.orphans_after_doctor = after["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["level"] == "problem")
        .inspect(|x| eprintln!("after doctor: {x}"))
        .count();
    let everything = [
        env.json(&["do", "list"]),
        env.json(&["todo", "list", "--all"]),
        env.json(&["wraps"]),
        env.json(&["status", "--recent", "100000"]),
    ]
    .iter()
    .map(|v| v.to_string())
    .collect::<String>();
    let runs: String = env.json(&["do", "list"])["dos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| env.json(&["do", "show", d["id"].as_str().unwrap()])["runs"].to_string())
        .collect();
    f.acknowledged = acked.ids.len();
    f.lost_records = acked
        .ids
        .iter()
        .filter(|id| !everything.contains(id.as_str()) && !runs.contains(id.as_str()))
        .inspect(|id| eprintln!("lost: {id}"))
        .count();
    f.runs_left_running = runs.matches("\"running\"").count();
    let mut pids = Vec::new();
    for e in std::fs::read_dir(env.root.join("pids"))
        .into_iter()
        .flatten()
        .flatten()
    {
        pids.extend(
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .lines()
                .filter_map(|l| l.trim().parse::<i32>().ok()),
        );
    }
    eventually(5, || pids.iter().all(|p| !alive(*p)));
    f.processes_left = pids.iter().filter(|p| alive(**p)).count();
    for p in pids.iter().filter(|p| alive(**p)) {
        let _ = std::process::Command::new("kill")
            .args(["-9", &p.to_string()])
            .status();
    }
    f
}

/// The crash test: a few dozen SIGKILLs of `ingest`, `do run`, `wrap`, `start` and
/// `todo add` at random (seeded) moments. `bench/crash.sh --kills N` runs the long version
/// through `COAGENT_CRASH_KILLS` (and `COAGENT_CRASH_SEED`) and prints the figures.
#[test]
fn crash_test_random_kills_leave_a_sound_hub() {
    let kills = std::env::var("COAGENT_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let seed = std::env::var("COAGENT_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(12);
    let start = Instant::now();
    let f = crash_run(seed, kills);
    println!(
        "crash: kills by command (ingest, do run, wrap, start, todo add) {:?} · records acknowledged {} · findings before repair {}",
        f.kills_by_op, f.acknowledged, f.repaired
    );
    println!(
        "crash: seed {seed} · kills {} · corruptions {} · lost records {} · runs left running {} · processes left {} · orphan files after doctor {} · internal errors {} · {:.1}s",
        f.kills,
        f.corruptions,
        f.lost_records,
        f.runs_left_running,
        f.processes_left,
        f.orphans_after_doctor,
        f.internal_errors,
        start.elapsed().as_secs_f64()
    );
    assert!(f.kills >= kills.min(8), "too few kills landed: {f:?}");
    assert!(
        f.kills_by_op[..4].iter().all(|&n| n > 0),
        "ingest, do run, wrap and start are each killed: {f:?}"
    );
    assert_eq!(
        (
            f.corruptions,
            f.lost_records,
            f.runs_left_running,
            f.processes_left,
            f.orphans_after_doctor,
            f.internal_errors
        ),
        (0, 0, 0, 0, 0, 0),
        "{f:?}"
    );
}
