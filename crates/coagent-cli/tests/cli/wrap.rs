//! CoWrap end to end: breach, wrap, verify (and its failures), unwrap, start --from-wrap,
//! sweep; the monitor's signals crossing their thresholds on a fixed clock.

use std::collections::BTreeMap;
use std::io::Read;

use crate::harness::Env;

fn live_session(env: &Env) -> String {
    env.init();
    env.ok(&["todo", "add", "First thing"]);
    let s = env.json(&["start", "--vendor", "claude", "--goal", "Ship it"]);
    let reply =
        "Policy v1.0 loaded.\n\n```sh\n# DO: Write a file\necho data > data.txt\n# END DO\n```\n";
    env.cmd(&["--json", "ingest", "-"]).stdin(reply).ok();
    let do_id = env.json(&["do", "list"])["dos"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.cmd(&["--json", "do", "run", &do_id]).ok();
    s["session"].as_str().unwrap().to_string()
}

fn archive_files(path: &str) -> BTreeMap<String, Vec<u8>> {
    let bytes = std::fs::read(path).unwrap();
    let mut ar = tar::Archive::new(zstd::Decoder::new(bytes.as_slice()).unwrap());
    let mut out = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut b = Vec::new();
        e.read_to_end(&mut b).unwrap();
        out.insert(p, b);
    }
    out
}

fn repack(files: &BTreeMap<String, Vec<u8>>, path: &std::path::Path) {
    let mut tar = tar::Builder::new(zstd::Encoder::new(Vec::new(), 3).unwrap());
    for (p, b) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(b.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, p, b.as_slice()).unwrap();
    }
    std::fs::write(path, tar.into_inner().unwrap().finish().unwrap()).unwrap();
}

#[test]
fn wrap_verify_unwrap_round_trip() {
    let env = Env::new();
    let session = live_session(&env);
    let w = env.json(&["wrap", "--to", "chatgpt"]);
    for k in ["id", "session", "archive", "respawn"] {
        assert!(w.get(k).is_some(), "wrap --json lacks {k}");
    }
    assert_eq!(w["session"], session);
    let archive = w["archive"].as_str().unwrap().to_string();
    let name = std::path::Path::new(&archive)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert!(
        name.starts_with("CoWrap-20261124T090000Z-")
            && name.ends_with(&format!("-{session}-to-chatgpt.tar.zst")),
        "{name}"
    );
    let files = archive_files(&archive);
    for f in [
        "manifest.json",
        "capsule.md",
        "handoff.json",
        "handoff.md",
        "out.txt",
    ] {
        assert!(files.contains_key(f), "{f} missing from the archive");
    }
    assert!(files.keys().any(|k| k.starts_with("transcript/")));
    assert!(files.keys().any(|k| k.starts_with("artifacts/")));
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).unwrap();
    assert_eq!(
        manifest["files"].as_array().unwrap().len(),
        files.len() - 1,
        "every file but the manifest is listed"
    );
    let out = String::from_utf8_lossy(&files["out.txt"]).into_owned();
    assert!(
        out.contains(&format!("files: {}", files.len() - 1)),
        "{out}"
    );
    let handoff: serde_json::Value = serde_json::from_slice(&files["handoff.json"]).unwrap();
    assert_eq!(handoff["kind"], "wrap");
    assert_eq!(handoff["todos"][0]["title"], "First thing");
    assert!(
        !handoff["artifacts"].as_array().unwrap().is_empty(),
        "finished DOs carry their artifact refs"
    );
    std::fs::write(env.root.join("handoff.json"), &files["handoff.json"]).unwrap();
    env.ok(&["backchat", "validate", "handoff.json"]);
    // The session is closed; a new one continues, booted with the same capsule.
    let st = env.json(&["status"]);
    let new = w["respawn_session"].as_str().unwrap();
    assert_eq!(st["session"], new);
    let old = st["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == session)
        .unwrap();
    assert_eq!(old["state"], "wrapped");
    let respawn = std::fs::read_to_string(w["respawn"][0].as_str().unwrap()).unwrap();
    assert!(
        respawn.contains("kind=respawn")
            && respawn.contains("Policy v1.0 loaded.")
            && respawn.contains("First thing")
    );
    let latest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.hub().join("cache/CoWrap.latest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(latest["id"], w["id"]);
    env.ok(&["wrap", "verify", &archive]).stdout_has("verified");
    // unwrap: another session from the same wrap, with the receipt recorded.
    let u = env.json(&["unwrap", "--latest", "--vendor", "gemini"]);
    assert_eq!(u["wrap"], w["id"]);
    assert_eq!(u["vendor"], "gemini");
    let s2 = env.json(&[
        "start",
        "--vendor",
        "claude",
        "--from-wrap",
        w["id"].as_str().unwrap(),
    ]);
    assert!(
        std::fs::read_to_string(s2["payloads"][0].as_str().unwrap())
            .unwrap()
            .contains("Handoff from")
    );
    let wraps = env.json(&["wraps"]);
    assert_eq!(wraps["wraps"][0]["consumed_by"], new);
    assert!(
        std::path::Path::new(&archive).exists(),
        "unwrap never deletes"
    );
}

#[test]
fn tampered_truncated_or_padded_archives_fail_verify() {
    let env = Env::new();
    live_session(&env);
    let w = env.json(&["wrap", "--no-respawn"]);
    assert!(w["respawn"].as_array().unwrap().is_empty());
    let archive = w["archive"].as_str().unwrap().to_string();
    let files = archive_files(&archive);
    let dir = tempfile::tempdir().unwrap();

    let mut changed = files.clone();
    changed.insert("handoff.md".into(), b"forged".to_vec());
    let p = dir.path().join("changed.tar.zst");
    repack(&changed, &p);
    let v = env
        .cmd(&["--json", "wrap", "verify", p.to_str().unwrap()])
        .code(1)
        .json();
    assert_eq!(v["changed"], serde_json::json!(["handoff.md"]));

    let mut missing = files.clone();
    missing.remove("capsule.md");
    let p = dir.path().join("missing.tar.zst");
    repack(&missing, &p);
    let v = env
        .cmd(&["--json", "wrap", "verify", p.to_str().unwrap()])
        .code(1)
        .json();
    assert_eq!(v["missing"], serde_json::json!(["capsule.md"]));

    let mut extra = files.clone();
    extra.insert("payload.sh".into(), b"rm -rf ~".to_vec());
    let p = dir.path().join("extra.tar.zst");
    repack(&extra, &p);
    let v = env
        .cmd(&["--json", "wrap", "verify", p.to_str().unwrap()])
        .code(1)
        .json();
    assert_eq!(v["extra"], serde_json::json!(["payload.sh"]));

    let bytes = std::fs::read(&archive).unwrap();
    let p = dir.path().join("truncated.tar.zst");
    std::fs::write(&p, &bytes[..bytes.len() * 2 / 3]).unwrap();
    env.cmd(&["wrap", "verify", p.to_str().unwrap()])
        .code(1)
        .stdout_has("failed");
    std::fs::write(&p, b"not an archive at all").unwrap();
    env.cmd(&["wrap", "verify", p.to_str().unwrap()]).code(1);
    // A damaged archive is never unwrapped.
    std::fs::write(&archive, &bytes[..bytes.len() / 2]).unwrap();
    env.fails(&["unwrap", "--latest"], 1)
        .stderr_has("failed verification");
}

#[test]
fn staleness_breaches_on_a_fixed_clock_and_is_recorded_once() {
    let mut env = Env::new();
    env.init();
    env.json(&["start", "--vendor", "claude"]);
    env.now = "2026-11-24T09:25:00Z".into();
    assert_eq!(env.json(&["status"])["level"], "WARN");
    env.now = "2026-11-24T09:31:00Z".into();
    let st = env.json(&["status"]);
    assert_eq!(st["level"], "FAIL");
    let stale = st["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "stale_minutes")
        .unwrap()
        .clone();
    assert_eq!(stale["level"], "FAIL");
    assert_eq!(stale["threshold"], 30.0);
    assert!(
        env.ok(&["ticker"])
            .stdout
            .contains("WRAP NOW (dos_per_hour, stale_minutes)")
    );
    assert!(env.hub().join("temps/status/SESSION_FAIL.txt").is_file());
    assert!(!env.hub().join("temps/status/SESSION_OK.txt").exists());
    let breach = st["sessions"][0]["breach_at"].as_i64().unwrap();
    env.now = "2026-11-24T09:40:00Z".into();
    assert_eq!(
        env.json(&["status"])["sessions"][0]["breach_at"]
            .as_i64()
            .unwrap(),
        breach,
        "the first breach is kept"
    );
    let w = env.json(&["wrap"]);
    assert_eq!(w["breach_at"].as_i64().unwrap(), breach);
    let stats = env.json(&["stats"]);
    assert_eq!(
        stats["acceptance"]["wrap_within_5min_of_breach"],
        serde_json::json!([0, 0]),
        "a manual wrap is not a response to the breach"
    );
    assert_eq!(stats["overall"]["wraps_manual"], 1);
}

#[test]
fn sweep_prunes_only_consumed_wraps() {
    let mut env = Env::new();
    live_session(&env);
    let consumed = env.json(&["wrap"]);
    env.json(&["start", "--vendor", "claude"]);
    let kept = env.json(&["wrap", "--no-respawn"]);
    env.now = "2026-12-30T09:00:00Z".into();
    env.fails(&["sweep", "--days", "30"], 1).stderr_has("--yes");
    let out = env.json(&["sweep", "--days", "30", "--yes"]);
    assert_eq!(out["removed"], serde_json::json!([consumed["id"]]));
    assert!(!std::path::Path::new(consumed["archive"].as_str().unwrap()).exists());
    assert!(std::path::Path::new(kept["archive"].as_str().unwrap()).exists());
}

#[test]
fn stats_report_the_acceptance_figures_and_anonymous_hides_ids() {
    let env = Env::new();
    let session = live_session(&env);
    let st = env.json(&["stats"]);
    assert_eq!(st["overall"]["sessions"], 1);
    assert_eq!(st["overall"]["dos_completed"], 1);
    assert_eq!(
        st["acceptance"]["first_do_within_15min"],
        serde_json::json!([1, 1])
    );
    assert_eq!(st["sessions"][0]["session"], session);
    let anon = env.cmd(&["--json", "stats", "--anonymous"]).ok().stdout;
    assert!(
        !anon.contains("S-") && !anon.contains(".coagent") && !anon.contains("Write a file"),
        "{anon}"
    );
    assert!(anon.contains("dos_completed"));
}
