//! The bloat monitor built on evidence: drift the chat cannot hide, the reply tag that
//! routes and proves, the context budget in absolute tokens, latency per turn, and a wrap
//! that carries what is in flight.

use serde_json::Value;

use crate::harness::Env;

/// The tag a session's reply of `turn` ends with, as the contract asks for it.
fn tag(session: &str, turn: u32) -> String {
    format!("[{} t{turn}]", &session[..6])
}

fn at(env: &mut Env, hhmm: &str) {
    env.now = format!("2026-11-24T{hhmm}:00Z");
}

fn ingest(env: &Env, reply: &str) -> Value {
    env.cmd(&["--json", "ingest", "-"]).stdin(reply).ok().json()
}

fn signal<'a>(st: &'a Value, name: &str) -> &'a Value {
    st["signals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no signal {name} in {st}"))
}

fn do_block(title: &str, body: &str) -> String {
    format!("```bash\n# DO: {title}\n{body}\n# END DO\n```\n")
}

/// Runs a DO; its first artifact's id.
fn run(env: &Env, id: &str) -> String {
    let r = env.json(&["do", "run", id]);
    assert_eq!(r["status"], "succeeded", "{r}");
    r["artifacts"][0]["id"].as_str().unwrap().to_string()
}

/// The chat's first reply proposes one DO, which runs: its result is on its way to the
/// chat. The DO's id and its log's artifact id.
fn one_do_run(env: &Env, sid: &str) -> (String, String) {
    let r = ingest(
        env,
        &format!(
            "Policy v1.0 loaded.\n\n{}\n{}\n",
            do_block("One", "true"),
            tag(sid, 1)
        ),
    );
    let id = first_do(&r);
    let log = run(env, &id);
    (id, log)
}

fn first_do(r: &Value) -> String {
    r["dos"][0]["id"].as_str().unwrap().to_string()
}

fn drift_kinds(r: &Value) -> Vec<String> {
    r["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["kind"].as_str().unwrap().to_string())
        .collect()
}

/// The story of the issue: six turns on a fixed clock. The chat drops an ACK (WARN),
/// catches up, then invents an artifact id and forgets its tag (FAIL); `watch` wraps it
/// although a result is in flight, and the wrap's handoff names the results it never
/// acknowledged.
#[test]
fn a_chat_that_drops_an_ack_invents_an_artifact_and_forgets_its_tag_is_wrapped() {
    let mut env = Env::new();
    env.init();
    // Only drift may end this session: no DO count or pace breach on the way.
    std::fs::write(env.hub().join("config.toml"), "[bloat]\nmax_dos = 20\n").unwrap();
    env.ok(&["todo", "add", "Ship the importer"]);
    let s = env.json(&["start", "--vendor", "claude", "--goal", "Ship it"]);
    let sid = s["session"].as_str().unwrap().to_string();
    let boot = std::fs::read_to_string(s["payloads"][0].as_str().unwrap()).unwrap();
    assert!(
        boot.contains(&format!("`[{} tN]`", &sid[..6])),
        "the contract asks for the tag"
    );

    // Turn 1: the echo, a DO, the tag. Nothing wrong.
    at(&mut env, "09:01");
    let r = ingest(
        &env,
        &format!(
            "Policy v1.0 loaded.\n\n{}\n{}\n",
            do_block("Count files", "ls | wc -l"),
            tag(&sid, 1)
        ),
    );
    assert_eq!(
        (r["turn"].as_u64(), r["route"]["by"].as_str()),
        (Some(1), Some("tag"))
    );
    assert_eq!(drift_kinds(&r), Vec::<String>::new());
    let a = first_do(&r);
    at(&mut env, "09:02");
    let a_log = run(&env, &a);

    // Turn 2: ACK with a real artifact, the next DO.
    at(&mut env, "09:04");
    let r = ingest(
        &env,
        &format!(
            "ACK {a} artifact:{a_log}\n\n{}\n{}\n",
            do_block("Write notes", "echo notes > notes.txt"),
            tag(&sid, 2)
        ),
    );
    assert_eq!(drift_kinds(&r), Vec::<String>::new());
    let b = first_do(&r);
    at(&mut env, "09:06");
    let b_log = run(&env, &b);
    assert_eq!(signal(&env.json(&["status"]), "drift")["level"], "OK");

    // Turn 3: the chat moves on without acknowledging B's result: a missed receipt.
    at(&mut env, "09:08");
    let r = ingest(
        &env,
        &format!(
            "Next step.\n\n{}\n{}\n",
            do_block("List notes", "cat notes.txt"),
            tag(&sid, 3)
        ),
    );
    assert_eq!(drift_kinds(&r), ["missed_ack"]);
    let c = first_do(&r);
    let st = env.json(&["status"]);
    assert_eq!(signal(&st, "drift")["level"], "WARN");
    assert_eq!(st["level"], "WARN");
    env.ok(&["ticker"]).stdout_has("[OE:▲ drift]");
    at(&mut env, "09:10");
    let c_log = run(&env, &c);

    // Turn 4: it catches up on both receipts; the lapse of turn 3 still counts.
    at(&mut env, "09:12");
    let r = ingest(
        &env,
        &format!(
            "ACK {b} artifact:{b_log}\nACK {c} artifact:{c_log}\n\n{}\n{}\n",
            do_block("Check notes", "test -s notes.txt"),
            tag(&sid, 4)
        ),
    );
    assert_eq!(drift_kinds(&r), Vec::<String>::new());
    let d = first_do(&r);
    assert_eq!(signal(&env.json(&["status"]), "drift")["level"], "WARN");
    at(&mut env, "09:14");
    run(&env, &d);

    // Turn 5: an invented artifact id: drift FAILs (turns 3 and 5 in the last three).
    at(&mut env, "09:16");
    let r = ingest(
        &env,
        &format!(
            "ACK {d} artifact:A-7777777777\n\n{}\n{}\n",
            do_block("Archive notes", "tar cf notes.tar notes.txt"),
            tag(&sid, 5)
        ),
    );
    assert_eq!(r["acks"][0]["status"], "rejected");
    assert_eq!(drift_kinds(&r), ["unknown_ref"]);
    let e = first_do(&r);
    let st = env.json(&["status"]);
    assert_eq!(signal(&st, "drift")["level"], "FAIL");
    at(&mut env, "09:18");
    run(&env, &e);

    // Turn 6: no tag, and E's result left without its ACK.
    at(&mut env, "09:20");
    let r = ingest(
        &env,
        &format!(
            "Looks good. One more.\n\n{}",
            do_block("Clean up", "rm -f notes.tar")
        ),
    );
    assert_eq!(r["route"]["by"], "newest");
    assert_eq!(r["turn"], 6);
    assert_eq!(drift_kinds(&r), ["tag_missing", "missed_ack"]);
    let f = first_do(&r);
    let st = env.json(&["status"]);
    assert_eq!(st["level"], "FAIL");
    let events: Vec<(u64, String)> = st["sessions"][0]["drift"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["turn"].as_u64().unwrap(),
                e["kind"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            (3, "missed_ack".to_string()),
            (5, "unknown_ref".to_string()),
            (6, "tag_missing".to_string()),
            (6, "missed_ack".to_string()),
        ]
    );
    assert!(
        st["sessions"][0]["drift"][1]["excerpt"]
            .as_str()
            .unwrap()
            .contains("A-7777777777"),
        "{st}"
    );
    env.ok(&["ticker"]).stdout_has("[OE:✖ drift]");
    let human = env.ok(&["status"]).stdout;
    assert!(human.contains("t5   unknown_ref"), "{human}");

    // F runs: its result is in flight, yet a drift FAIL wraps at once.
    at(&mut env, "09:21");
    run(&env, &f);
    let w = env.ok(&["--json", "watch", "--once"]).stdout;
    let wrapped: Value = w
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["event"] == "wrapped")
        .unwrap_or_else(|| panic!("no wrap:\n{w}"));
    assert_eq!(wrapped["session"], sid.as_str());
    assert_eq!(wrapped["unacked"], serde_json::json!([d, e, f]));
    let respawn = std::fs::read_to_string(wrapped["respawn"][0].as_str().unwrap()).unwrap();
    let inflight = respawn
        .split("**Results sent, not yet acknowledged**")
        .nth(1)
        .expect("the handoff lists the results in flight");
    for id in [&d, &e, &f] {
        assert!(
            inflight.contains(&format!("`{id}`")),
            "{id} in:\n{inflight}"
        );
    }
    let next = wrapped["respawn_session"].as_str().unwrap().to_string();
    assert!(
        respawn.contains(&format!("`[{} tN]`", &next[..6])),
        "the successor has its own tag"
    );

    // The old chat answers once more: its tag names the wrapped session and its successor.
    at(&mut env, "09:23");
    env.cmd(&["ingest", "-"])
        .stdin(format!("ACK {f}\n{}\n", tag(&sid, 7)))
        .code(1)
        .stderr_has(&format!("was wrapped, and {next} continues it"));

    // The new chat acknowledges two of the three results it inherited: the third is a
    // missed receipt of its own, and its tag routes it without `--session`.
    at(&mut env, "09:25");
    let r = ingest(
        &env,
        &format!(
            "Policy v1.0 loaded.\n\nACK {e}\nACK {f}\n\n{}\n",
            tag(&next, 1)
        ),
    );
    assert_eq!(
        (r["session"].as_str(), r["route"]["by"].as_str()),
        (Some(next.as_str()), Some("tag"))
    );
    let lapses = r["drift"].as_array().unwrap();
    assert_eq!(lapses.len(), 1, "{r}");
    assert_eq!(lapses[0]["kind"], "missed_ack");
    assert!(lapses[0]["excerpt"].as_str().unwrap().contains(&d));
}

/// Two chats open at once, one per vendor: their replies go where their tags say.
#[test]
fn replies_of_two_live_sessions_route_by_their_tags() {
    let env = Env::new();
    env.init();
    let claude = env.json(&["start", "--vendor", "claude"])["session"]
        .as_str()
        .unwrap()
        .to_string();
    let gpt = env.json(&["start", "--vendor", "chatgpt"])["session"]
        .as_str()
        .unwrap()
        .to_string();
    let r = ingest(
        &env,
        &format!("Policy v1.0 loaded.\n\n{}\n", tag(&claude, 1)),
    );
    assert_eq!(
        (r["session"].as_str(), r["route"]["by"].as_str()),
        (Some(claude.as_str()), Some("tag"))
    );
    let r = ingest(
        &env,
        &format!("Policy v1.0 loaded.\n\n**{}**\n", tag(&gpt, 1)),
    );
    assert_eq!(r["session"], gpt.as_str());
    // The older session again, in lower case and with the UI's words after it.
    let r = ingest(
        &env,
        &format!(
            "Ready.\n\n{}\nCopy\nRetry\n",
            tag(&claude, 2).to_lowercase()
        ),
    );
    assert_eq!(r["session"], claude.as_str());
    assert_eq!(drift_kinds(&r), Vec::<String>::new());
    // No tag and no --session: the newest open session, said so.
    let out = env
        .cmd(&["ingest", "-"])
        .stdin("Ready when you are.\n")
        .ok();
    out.stdout_has(&format!("newest open session, {gpt}"));
    out.stdout_has("drift     tag_missing");
    // A tag naming no session here: the newest, and a wrong tag.
    let r = ingest(&env, "Ready.\n[S-ZZZZ t3]\n");
    assert_eq!(r["route"]["by"], "newest");
    assert_eq!(drift_kinds(&r), ["tag_wrong"]);
    // --session wins over the tag, which is then a wrong one.
    let r = env
        .cmd(&["--json", "ingest", "-", "--session", &gpt])
        .stdin(format!("Still here.\n{}\n", tag(&claude, 3)))
        .ok()
        .json();
    assert_eq!(r["session"], gpt.as_str());
    assert_eq!(drift_kinds(&r), ["tag_wrong"]);
}

/// ~70,000 tokens pasted into a Claude chat: 35% of its window, and a context FAIL, since
/// chats degrade long before their window is full.
#[test]
fn a_reply_of_70k_tokens_into_a_claude_session_is_a_context_fail() {
    let env = Env::new();
    env.init();
    let s = env.json(&["start", "--vendor", "claude"]);
    let sid = s["session"].as_str().unwrap().to_string();
    let para = "The importer reads each row, checks the schema, and writes the record. ";
    let mut reply = String::from("Policy v1.0 loaded.\n\n");
    while coagent::vendor::estimate(&reply) < 70_000 {
        reply.push_str(para);
        if reply.len() % 700 < para.len() {
            reply.push('\n');
        }
    }
    reply.push_str(&format!("\n{}\n", tag(&sid, 1)));
    let r = ingest(&env, &reply);
    let tokens = r["tokens"]["count"].as_u64().unwrap();
    assert!((69_000..71_000).contains(&tokens), "{tokens}");
    let st = env.json(&["status"]);
    let ctx = signal(&st, "context");
    assert_eq!(ctx["level"], "FAIL", "{ctx}");
    assert_eq!(ctx["threshold"], 64_000.0);
    env.ok(&["ticker"]).stdout_has("[OE:✖ ctx]");
    let v = env.json(&["vendors"]);
    let claude = v["vendors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "claude")
        .unwrap();
    assert_eq!(
        (
            &claude["budget_warn_tokens"],
            &claude["budget_breach_tokens"]
        ),
        (&serde_json::json!(32_000), &serde_json::json!(64_000))
    );
}

#[test]
fn config_toml_moves_a_vendors_budget_and_refuses_one_upside_down() {
    let env = Env::new();
    env.init();
    std::fs::write(
        env.hub().join("config.toml"),
        "[vendors.claude]\nbudget_warn_tokens = 90000\nbudget_breach_tokens = 100000\n",
    )
    .unwrap();
    let v = env.json(&["vendors"]);
    let claude = &v["vendors"].as_array().unwrap()[1];
    assert_eq!(claude["budget_breach_tokens"], 100_000);
    std::fs::write(
        env.hub().join("config.toml"),
        "[vendors.claude]\nbudget_warn_tokens = 70000\n",
    )
    .unwrap();
    env.fails(&["vendors"], 1)
        .stderr_has("the warning must come first");
}

/// Three DOs proposed in one reply and run one after another are one turn: the latency
/// signal has one sample, not three rising ones.
#[test]
fn dos_of_one_reply_run_in_sequence_do_not_raise_latency() {
    let mut env = Env::new();
    env.init();
    env.json(&["start", "--vendor", "claude"]);
    let reply = format!(
        "Policy v1.0 loaded.\n\n{}\n{}\n{}\n",
        do_block("One", "true"),
        do_block("Two", "true"),
        do_block("Three", "true")
    );
    let r = ingest(&env, &reply);
    for (i, hhmm) in ["09:01", "09:03", "09:07"].iter().enumerate() {
        at(&mut env, hhmm);
        run(&env, r["dos"][i]["id"].as_str().unwrap());
    }
    let st = env.json(&["status"]);
    let lat = signal(&st, "artifact_latency");
    assert_eq!(lat["level"], "OK", "{lat}");
    assert_eq!(lat["shown"], "1 of 3 turns");
}

/// A breach of DO count while a result is on its way waits for the chat's answer, so
/// that the handoff holds what the result brought.
#[test]
fn watch_does_not_wrap_between_a_result_and_its_reply() {
    let env = Env::new();
    env.init();
    std::fs::write(env.hub().join("config.toml"), "[bloat]\nmax_dos = 1\n").unwrap();
    let s = env.json(&["start", "--vendor", "claude"]);
    let sid = s["session"].as_str().unwrap().to_string();
    let (a, log) = one_do_run(&env, &sid);
    let st = env.json(&["status"]);
    assert_eq!(st["level"], "FAIL");
    assert_eq!(st["sessions"][0]["wrap_waits"], true);
    assert!(
        st["sessions"][0]["breach_at"].is_null(),
        "the breach counts from when the wrap is due"
    );
    env.ok(&["status"]).stdout_has("wrap next:");
    // The prompt's ticker says the same, from the full check and then from its files.
    for _ in 0..2 {
        let line = env.ok(&["ticker"]).stdout;
        assert!(
            line.contains("wrap next (dos_completed; after the chat's answer)"),
            "{line}"
        );
        assert!(!line.contains("WRAP NOW"), "{line}");
    }
    let held = env.ok(&["--json", "watch", "--once"]).stdout;
    assert!(held.contains("\"event\":\"held\""), "{held}");
    assert!(!held.contains("\"event\":\"wrapped\""), "{held}");
    ingest(&env, &format!("ACK {a} artifact:{log}\n{}\n", tag(&sid, 2)));
    let after = env.ok(&["--json", "watch", "--once"]).stdout;
    assert!(after.contains("\"event\":\"wrapped\""), "{after}");
}

/// The prompt's ticker reads its files alone while the store is unchanged; a session
/// that turns FAIL there by the clock alone, with a result on its way, still waits.
#[test]
fn the_prompts_ticker_says_wrap_next_for_a_chat_that_fails_by_the_clock_with_a_result_out() {
    let mut env = Env::new();
    env.init();
    at(&mut env, "09:00");
    env.json(&["start", "--vendor", "claude", "--goal", "idle"]);
    at(&mut env, "09:20");
    let s = env.json(&["start", "--vendor", "claude", "--goal", "busy"]);
    let sid = s["session"].as_str().unwrap().to_string();
    one_do_run(&env, &sid);
    // 09:35: the idle chat is stale (FAIL, nothing waits for it); the busy one is fine.
    at(&mut env, "09:35");
    let st = env.json(&["status"]);
    assert_eq!(st["level"], "FAIL");
    assert_ne!(st["session"], sid.as_str());
    // The prompt's ticker: once the status files are newer than the store (a full check
    // rewrites ticker.json, and closing the store may touch it after), it reads them alone
    // and writes nothing.
    let files = env.hub().join("temps/status/ticker.json");
    let written = || std::fs::metadata(&files).unwrap().modified().unwrap();
    let settled = (0..10).any(|_| {
        let before = written();
        env.ok(&["ticker"]);
        written() == before
    });
    assert!(settled, "the ticker never read its files alone at 09:35");
    let before = written();
    // 09:55: the busy chat is stale too, and now the top one; its result is unanswered.
    at(&mut env, "09:55");
    let line = env.ok(&["ticker"]).stdout;
    assert!(
        written() == before,
        "the ticker did not read its files alone"
    );
    assert!(line.contains(&sid[..8]), "{line}");
    assert!(
        line.contains("wrap next (stale_minutes; after the chat's answer)"),
        "{line}"
    );
}
