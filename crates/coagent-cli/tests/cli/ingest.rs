//! `coagent ingest`: the echo, DOs, ACKs with validated refs, messages, NEXT k/n,
//! duplicates, own payloads pasted back, and bad input that loses nothing.

use crate::harness::Env;

const REPLY: &str = "Policy v1.0 loaded.\n\nTwo DOs for the top TODOs:\n\n```bash\n# DO: List the files\nls -1\n# END DO\n```\n\n```python\n# DO: Say hello\nprint(\"hello\")\n# END DO\n```\n";

/// The same reply as a browser's selection of the rendered page gives it.
const REPLY_RENDERED: &str = "Policy v1.0 loaded.\r\n\r\nTwo DOs for the top TODOs:\r\n\r\nbash\r\nCopy code\r\n# DO: List the files\r\nls -1\r\n# END DO\r\n\r\npython\r\nCopy code\r\n# DO: Say hello\r\nprint(\"hello\")\r\n# END DO\r\n";

fn started(env: &Env, vendor: &str) -> String {
    env.init();
    env.ok(&["todo", "add", "List the files"]);
    let s = env.json(&["start", "--vendor", vendor, "--goal", "demo"]);
    s["session"].as_str().unwrap().to_string()
}

fn ingest(env: &Env, text: &str) -> serde_json::Value {
    env.cmd(&["--json", "ingest", "-"]).stdin(text).ok().json()
}

#[test]
fn echo_and_dos_are_recorded_and_the_session_goes_live() {
    let env = Env::new();
    let session = started(&env, "chatgpt");
    let r = ingest(&env, REPLY);
    for k in ["session", "echo", "dos", "acks", "messages", "duplicate"] {
        assert!(r.get(k).is_some(), "ingest --json lacks {k}");
    }
    assert_eq!(r["session"], session);
    assert_eq!(r["echo"]["status"], "verified");
    assert_eq!(r["echo"]["version"], "1.0");
    assert_eq!(r["duplicate"], false);
    let dos = r["dos"].as_array().unwrap();
    assert_eq!(dos.len(), 2);
    assert_eq!(dos[0]["title"], "List the files");
    assert_eq!(dos[0]["lang"], "bash");
    assert_eq!(dos[1]["lang"], "python");
    assert_eq!(dos[0]["sha256"].as_str().unwrap().len(), 64);
    let st = env.json(&["status"]);
    assert_eq!(st["sessions"][0]["state"], "live");
    assert_eq!(st["sessions"][0]["echo"], "verified");
    env.cmd(&["ingest", "-"])
        .stdin(REPLY)
        .ok()
        .stdout_has("duplicate");
}

#[test]
fn both_copies_of_a_reply_give_the_same_dos_and_the_second_is_a_duplicate() {
    let env = Env::new();
    started(&env, "claude");
    let a = ingest(&env, REPLY);
    let b = ingest(&env, REPLY_RENDERED);
    assert_eq!(
        b["duplicate"], true,
        "the rendered copy of the same reply is the same reply"
    );
    assert_eq!(a["dos"][0]["sha256"], b["dos"][0]["sha256"]);
    assert_eq!(a["dos"][1]["sha256"], b["dos"][1]["sha256"]);
    assert_eq!(a["dos"][0]["id"], b["dos"][0]["id"]);
    assert_eq!(
        env.json(&["do", "list"])["dos"].as_array().unwrap().len(),
        2,
        "nothing new recorded"
    );
}

#[test]
fn a_stale_echo_is_recorded_and_the_session_stays_unverified() {
    let env = Env::new();
    started(&env, "gemini");
    let r = ingest(&env, "**Policy v0.9 loaded.**\n\nReady.\n");
    assert_eq!(r["echo"]["status"], "stale");
    let st = env.json(&["status"]);
    assert_eq!(st["sessions"][0]["echo"], "stale");
    assert_eq!(st["sessions"][0]["state"], "booting");
    let r = ingest(&env, "Sorry: Policy v1.0 loaded.\n\nPolicy v1.0 loaded.\n");
    assert_eq!(r["echo"]["status"], "verified");
}

#[cfg(unix)]
#[test]
fn acks_are_judged_never_dropped() {
    let env = Env::with_git();
    env.init();
    env.json(&["start", "--vendor", "claude"]);
    ingest(
        &env,
        "Policy v1.0 loaded.\n\n```sh\n# DO: Touch a file\necho hi > made.txt\n# END DO\n```\n",
    );
    let do_id = env.json(&["do", "list"])["dos"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let early = ingest(&env, &format!("ACK {do_id} README.md\n"));
    assert_eq!(early["acks"][0]["status"], "rejected");
    assert!(
        early["acks"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("has not run")
    );
    let run = env.cmd(&["--json", "do", "run", &do_id]).ok().json();
    let art = run["artifacts"][0]["id"].as_str().unwrap().to_string();
    let head = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    std::os::unix::fs::symlink("/etc", env.root.join("escape")).unwrap();
    let text = format!(
        "Thanks!\n\n- **ACK {do_id} artifact:{art}**\n* `ACK {do_id} commit:{head}`\nACK {do_id} README.md PR #12 pr:acme/api#7 https://example.invalid/x\nACK {do_id} ../../etc/passwd\nACK {do_id} /etc/passwd\nACK {do_id} escape/passwd\nACK {do_id} commit:0123456789abcdef\nACK {do_id} artifact:A-NOPE000000\nACK DO-UNKNOWN00 README.md\nACK {do_id} missing.txt\n\nI will ACK DO-1 later, in prose.\n",
    );
    let r = ingest(&env, &text);
    let acks = r["acks"].as_array().unwrap();
    assert_eq!(acks.len(), 10, "every ACK line is recorded: {r:#}");
    let status: Vec<&str> = acks.iter().map(|a| a["status"].as_str().unwrap()).collect();
    assert_eq!(
        status,
        [
            "accepted", "accepted", "accepted", "rejected", "rejected", "rejected", "rejected",
            "rejected", "rejected", "rejected"
        ]
    );
    let reasons: Vec<&str> = acks.iter().map(|a| a["reason"].as_str().unwrap()).collect();
    assert!(reasons[3].contains("leaves the project"), "{}", reasons[3]);
    assert!(reasons[4].contains("absolute"), "{}", reasons[4]);
    assert!(reasons[5].contains("outside"), "{}", reasons[5]);
    assert!(
        reasons[6].contains("not in the project's git"),
        "{}",
        reasons[6]
    );
    assert!(reasons[7].contains("unknown artifact"), "{}", reasons[7]);
    assert!(reasons[8].contains("unknown id"), "{}", reasons[8]);
    assert!(reasons[9].contains("does not exist"), "{}", reasons[9]);
    let list = env.json(&["ack", "list"]);
    assert_eq!(list["acks"].as_array().unwrap().len(), 11);
    assert_eq!(env.json(&["do", "list"])["dos"][0]["state"], "acked");
    assert_eq!(
        env.json(&["ack", "list", "--pending"])["acks"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn backchat_blocks_are_validated_with_pointers() {
    let env = Env::new();
    started(&env, "copilot");
    let bad = "Here is a note.\n\n```coagent\n{\"schema\": \"coagent.backchat.v1\", \"id\": \"BC-NOTAULID\", \"kind\": \"gossip\", \"from\": \"chat\", \"to\": \"ANY\", \"created_at\": \"yesterday\", \"capsule\": {\"version\": \"1.0.0\", \"sha256\": \"00\"}, \"subject\": \"s\", \"body\": \"b\", \"requires_ack\": false}\n```\n";
    let r = ingest(&env, bad);
    let m = &r["messages"][0];
    assert_eq!(m["valid"], false);
    let pointers: Vec<&str> = m["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    for p in ["/id", "/kind", "/created_at", "/capsule/sha256"] {
        assert!(pointers.contains(&p), "{p} not reported: {pointers:?}");
    }
    let out = env
        .cmd(&["ingest", "-"])
        .stdin(bad.replace("Here is", "And here is"))
        .ok();
    out.stdout_has("invalid").stdout_has("/kind");
}

#[test]
fn own_payload_pasted_back_is_refused() {
    let env = Env::new();
    started(&env, "claude");
    let payload = std::fs::read_to_string(&env.clip).unwrap();
    env.cmd(&["ingest", "-"])
        .stdin(payload.clone())
        .code(1)
        .stderr_has("own payloads")
        .stderr_has("paste it into the chat");
    // Without its header line (a rendered copy loses the comment) it is still recognised.
    let body: String = payload.lines().skip(1).collect::<Vec<_>>().join("\n");
    env.cmd(&["ingest", "-"])
        .stdin(body)
        .code(1)
        .stderr_has("own payloads");
    assert_eq!(
        env.json(&["status"])["sessions"][0]["echo"],
        "missing",
        "nothing recorded"
    );
}

#[test]
fn next_answers_put_the_next_part_on_the_clipboard() {
    let env = Env::new();
    env.init();
    std::fs::write(
        env.hub().join("config.toml"),
        "[vendors.tiny]\npaste_chars = 1500\n",
    )
    .unwrap();
    let s = env.json(&["start", "--vendor", "tiny"]);
    let parts: Vec<String> = s["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    let n = parts.len();
    assert!(n >= 2);
    let r = ingest(&env, &format!("NEXT 1/{n}"));
    assert_eq!(r["next"]["part"], 2);
    assert_eq!(
        std::fs::read_to_string(&env.clip).unwrap(),
        std::fs::read_to_string(&parts[1]).unwrap()
    );
}

#[test]
fn bad_input_is_refused_and_loses_nothing() {
    let env = Env::new();
    started(&env, "claude");
    ingest(&env, REPLY);
    env.cmd(&["ingest", "-"])
        .stdin("   \n")
        .code(1)
        .stderr_has("empty");
    env.fails(&["ingest", "no/such/file.md"], 1)
        .stderr_has("cannot read");
    let huge = vec![b'a'; 17 * 1024 * 1024];
    env.cmd(&["ingest", "-"])
        .stdin(huge)
        .code(1)
        .stderr_has("refused");
    // Invalid UTF-8 is read lossily and said so; the DO in it still counts.
    let mut bytes =
        b"\xff\xfe garbage \xc3\x28\n\n```bash\n# DO: Odd bytes\necho ok\n# END DO\n```\n".to_vec();
    bytes.extend_from_slice(b"\x80\n");
    let r = env.cmd(&["--json", "ingest", "-"]).stdin(bytes).ok().json();
    assert!(r["warnings"].to_string().contains("UTF-8"), "{r}");
    assert_eq!(r["dos"].as_array().unwrap().len(), 1);
    assert_eq!(
        env.json(&["do", "list"])["dos"].as_array().unwrap().len(),
        3,
        "earlier DOs are kept"
    );
    env.cmd(&["ingest", "--session", "S-NOPE", "-"])
        .stdin("x")
        .code(1)
        .stderr_has("no session matches");
}

#[test]
fn ingest_reads_the_clipboard_by_default() {
    let env = Env::new();
    started(&env, "claude");
    std::fs::write(&env.clip, REPLY).unwrap();
    let r = env.json(&["ingest"]);
    assert_eq!(r["dos"].as_array().unwrap().len(), 2);
    let out = env
        .cmd(&["ingest"])
        .env("COAGENT_CLIPBOARD", "none")
        .code(1);
    out.stderr_has("hint:");
}

#[test]
fn an_ack_may_only_cite_the_acked_dos_artifacts() {
    let env = Env::new();
    started(&env, "claude");
    let r = ingest(&env, REPLY);
    let (a, b) = (
        r["dos"][0]["id"].as_str().unwrap().to_string(),
        r["dos"][1]["id"].as_str().unwrap().to_string(),
    );
    let run_a = env.cmd(&["--json", "do", "run", &a]).ok().json();
    env.cmd(&["--json", "do", "run", &b]).ok();
    let art_a = run_a["artifacts"][0]["id"].as_str().unwrap().to_string();
    let out = ingest(&env, &format!("ACK {b} artifact:{art_a}\n"));
    assert_eq!(out["acks"][0]["status"], "rejected");
    assert!(
        out["acks"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("not an artifact of")
    );
}

#[test]
fn a_reply_goes_to_the_newest_open_session() {
    let env = Env::new();
    started(&env, "claude");
    ingest(&env, REPLY);
    let newer = env.json(&["start", "--vendor", "gemini"]);
    let r = ingest(&env, "Policy v1.0 loaded.\n\nReady for the next TODO.\n");
    assert_eq!(r["session"], newer["session"]);
}

/// A reply far over a ChatGPT window is recorded without loading the tokenizer: its token
/// floor alone breaches the window, so its count is an estimate and the session breaches.
#[test]
fn a_reply_larger_than_the_window_breaches_without_an_exact_count() {
    let env = Env::new();
    started(&env, "chatgpt");
    let prose = "Which commit should the worker review before the release branch is cut? ";
    let reply = format!("Policy v1.0 loaded.\n\n{}\n", prose.repeat(8_000));
    let r = ingest(&env, &reply);
    assert_eq!(r["tokens"]["exact"], false, "{}", r["tokens"]);
    assert!(r["tokens"]["count"].as_u64().unwrap() > 128_000);
    let st = env.json(&["status"]);
    let s = &st["sessions"][0];
    assert_eq!(s["level"], "FAIL", "{s}");
    assert_eq!(s["breach_signal"], "context");
    let context = s["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "context")
        .expect("a context signal");
    assert_eq!(context["level"], "FAIL");
    assert!(context["shown"].as_str().unwrap().starts_with('~'));
}

/// Dense text (a long list of numbers) has more tokens than its bytes suggest: the count
/// recorded without the tokenizer never falls under what the text provably holds.
#[test]
fn a_dense_reply_over_the_window_still_breaches() {
    let env = Env::new();
    started(&env, "chatgpt");
    let reply = format!("Policy v1.0 loaded.\n\n{}\n", "1,".repeat(80_000));
    let r = ingest(&env, &reply);
    assert_eq!(r["tokens"]["exact"], false);
    let st = env.json(&["status"]);
    assert_eq!(
        st["sessions"][0]["breach_signal"], "context",
        "{}",
        st["sessions"][0]
    );
}
