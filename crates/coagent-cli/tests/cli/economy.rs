//! The token economy: every token that crosses the paste gate shortens the chat's useful
//! life. The boot pays the capsule and contract once; machine blocks carry no duplicate of
//! the markdown above them; a result's fixed text is a few lines; a wrap's handoff stays
//! under a fixed budget however long the session ran; `stats` and `status` say where the
//! tokens went, turn by turn.

use crate::harness::Env;

/// CoAgent's estimate (`vendor::estimate`): bytes / 3.2 + 15%, rounded up.
fn estimate(text: &str) -> u64 {
    ((text.len() as f64 / 3.2) * 1.15).ceil() as u64
}

/// The one ```coagent block of a payload.
fn machine_block(payload: &str) -> &str {
    let (_, rest) = payload
        .split_once("```coagent\n")
        .unwrap_or_else(|| panic!("no coagent block:\n{payload}"));
    rest.split_once("\n```").unwrap().0
}

fn four_todos(env: &Env) -> Vec<String> {
    env.init();
    let mut ids = Vec::new();
    for (t, acc) in [
        ("Write the parser tests", "cargo test passes"),
        ("Fix the CI cache", ""),
        ("Document the CLI", ""),
        ("Triage old issues", ""),
    ] {
        let mut args = vec!["todo", "add", t];
        if !acc.is_empty() {
            args.extend(["--acceptance", acc]);
        }
        ids.push(env.json(&args)["id"].as_str().unwrap().to_string());
    }
    ids
}

fn boot(env: &Env) -> (serde_json::Value, String) {
    let s = env.json(&[
        "start",
        "--vendor",
        "claude",
        "--goal",
        "Ship the CSV importer",
    ]);
    let text = std::fs::read_to_string(s["payloads"][0].as_str().unwrap()).unwrap();
    (s, text)
}

fn one_turn(env: &Env, reply: &str) -> (serde_json::Value, String) {
    env.cmd(&["--json", "ingest", "-"]).stdin(reply).ok();
    let run = env
        .cmd(&["--json", "--yes", "do", "run", "--all", "--keep-going"])
        .run()
        .json();
    let text = std::fs::read_to_string(run["payload"].as_str().expect("a payload")).unwrap();
    (run, text)
}

#[test]
fn a_boot_with_four_todos_stays_under_1000_tokens_and_pastes_the_todos_once() {
    let env = Env::new();
    let ids = four_todos(&env);
    let (_, text) = boot(&env);
    assert!(
        estimate(&text) <= 1_000,
        "boot is ~{} tokens:\n{text}",
        estimate(&text)
    );
    let block = machine_block(&text);
    assert_eq!(block.lines().count(), 1, "one line: {block}");
    for id in &ids {
        assert_eq!(
            text.matches(id.as_str()).count(),
            1,
            "{id} is pasted once, in the markdown:\n{text}"
        );
    }
    assert!(!block.contains("Ship the CSV importer"), "{block}");
}

#[test]
fn the_contract_asks_for_short_dos_revisions_and_no_restating_within_its_size() {
    let env = Env::new();
    env.init();
    let (_, text) = boot(&env);
    let start = text.find("## Working rules").expect(&text);
    let end = text.find("## Handoff").expect(&text);
    let contract = &text[start..end];
    for ask in [
        "under 30 lines",
        "project's own tools",
        "(revises DO-…)",
        "the whole script",
        "never restate what I pasted",
        "# DO: ",
        "# END DO",
        "ACK <id> <ref>…",
        "DONE T-… <ref>…",
        "NEXT k/n",
        "`$COAGENT_OUT`",
        "`.coagent/`",
    ] {
        assert!(
            contract.contains(ask),
            "the contract lacks {ask:?}:\n{contract}"
        );
    }
    // Paid on every boot: it stays small (room is left for one more sentence).
    assert!(
        estimate(contract) <= 420,
        "contract is ~{} tokens:\n{contract}",
        estimate(contract)
    );
}

#[test]
fn every_payload_kind_carries_a_schema_valid_one_line_machine_block_but_results_which_are_recorded()
{
    let env = Env::with_git();
    four_todos(&env);
    let (_, boot_text) = boot(&env);
    let (_, result_text) = one_turn(
        &env,
        "Policy v1.0 loaded.\n\n```bash\n# DO: Count files\nls | wc -l\n# END DO\n```\n",
    );
    let msg = env.json(&[
        "backchat",
        "emit",
        "--to",
        "ANY",
        "--kind",
        "note",
        "--subject",
        "A note",
        "--body",
        "Hello.",
    ]);
    let message_text =
        std::fs::read_to_string(msg["paths"][0].as_str().unwrap_or_else(|| panic!("{msg}")))
            .unwrap();
    let w = env.json(&["wrap"]);
    let respawn_text = std::fs::read_to_string(w["respawn"][0].as_str().unwrap()).unwrap();
    // A result is answered with its ACK lines: it carries no block, and its message is
    // recorded (schema-valid) under the id its header names.
    assert!(!result_text.contains("```coagent"), "{result_text}");
    let id = result_text
        .split_once(" id=")
        .and_then(|(_, r)| r.split_once(' '))
        .unwrap()
        .0;
    let stored = env.json(&["backchat", "show", id]);
    assert_eq!(stored["valid"], true, "{stored}");
    assert_eq!(stored["message"]["kind"], "result", "{stored}");
    let file = env.root.join("result.json");
    std::fs::write(&file, stored["message"].to_string()).unwrap();
    let v = env.json(&["backchat", "validate", file.to_str().unwrap()]);
    assert_eq!(v["valid"], true, "result: {v}");
    for (kind, text) in [
        ("boot", &boot_text),
        ("message", &message_text),
        ("respawn", &respawn_text),
    ] {
        let block = machine_block(text);
        assert_eq!(block.lines().count(), 1, "{kind}: {block}");
        let file = env.root.join(format!("{kind}.json"));
        std::fs::write(&file, block).unwrap();
        let v = env.json(&["backchat", "validate", file.to_str().unwrap()]);
        assert_eq!(v["valid"], true, "{kind}: {v}\n{block}");
    }
    insta::assert_snapshot!("respawn_payload", respawn_text);
    insta::assert_snapshot!("message_payload", message_text);
}

#[test]
fn the_capsule_and_contract_are_pasted_once_per_chat() {
    let env = Env::with_git();
    four_todos(&env);
    boot(&env);
    one_turn(
        &env,
        "Policy v1.0 loaded.\n\n```bash\n# DO: One\necho one\n# END DO\n```\n",
    );
    one_turn(
        &env,
        "Next.\n\n```bash\n# DO: Two\necho two\n# END DO\n```\n",
    );
    let mut sent = String::new();
    for e in std::fs::read_dir(env.hub().join("temps/outbox")).unwrap() {
        sent.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap());
    }
    assert_eq!(sent.matches("## Policy Capsule").count(), 1, "{sent}");
    assert_eq!(sent.matches("## Working rules").count(), 1, "{sent}");
    assert_eq!(sent.matches("You are one session").count(), 1, "{sent}");
}

#[test]
fn a_three_do_result_payloads_overhead_is_under_150_tokens_per_do_beyond_its_contents() {
    let env = Env::with_git();
    four_todos(&env);
    boot(&env);
    let (run, text) = one_turn(
        &env,
        "Policy v1.0 loaded.\n\n\
```bash\n# DO: Write the notes\nprintf 'a\\nb\\n' > notes.txt\necho wrote notes.txt\n# END DO\n```\n\n\
```bash\n# DO: List the files\nls\n# END DO\n```\n\n\
```bash\n# DO: Fail on purpose\necho checking; exit 3\n# END DO\n```\n",
    );
    assert_eq!(run["runs"].as_array().unwrap().len(), 3, "{run}");
    let st = env.json(&["stats"]);
    let turn = &st["sessions"][0]["token_turns"]["turns"][1];
    let parts = &turn["parts"];
    let overhead = parts["frame"].as_u64().unwrap() + parts["machine"].as_u64().unwrap();
    // The header line is paid once per payload, the rest per DO.
    assert!(
        overhead <= 3 * 150,
        "~{overhead} tokens of overhead for 3 DOs ({parts}):\n{text}"
    );
    assert!(parts["results"].as_u64().unwrap() > 0, "{parts}");
    assert_eq!(parts["machine"], 0, "{parts}");
    // The outcome sits in each DO's heading, the refs in the ACK lines, once each.
    assert!(text.contains("· failed, exit code 3,"), "{text}");
    assert!(text.contains("· List the files · succeeded, "), "{text}");
    insta::assert_snapshot!("result_payload", mask_durations(&text));
}

#[test]
fn a_one_do_result_payloads_overhead_is_under_150_tokens_beyond_its_log() {
    let env = Env::with_git();
    four_todos(&env);
    boot(&env);
    let (run, text) = one_turn(
        &env,
        "Policy v1.0 loaded.\n\n```bash\n# DO: Run the checks and list what changed\n\
echo 'Ran 5 tests in 0.008s'; echo OK; git status --short\n# END DO\n```\n",
    );
    assert_eq!(run["runs"].as_array().unwrap().len(), 1, "{run}");
    let st = env.json(&["stats"]);
    let parts = &st["sessions"][0]["token_turns"]["turns"][1]["parts"];
    let overhead = parts["frame"].as_u64().unwrap() + parts["machine"].as_u64().unwrap();
    // A single DO pays the whole header alone: it too stays within the budget.
    assert!(
        overhead <= 150,
        "~{overhead} tokens of overhead for 1 DO ({parts}):\n{text}"
    );
    assert!(text.contains("Ran 5 tests"), "{text}");
    assert!(text.lines().any(|l| l.starts_with("ACK DO-")), "{text}");
}

/// A run's duration (and so the header's sha256) depends on the machine's load.
fn mask_durations(text: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with("## DO-") {
                let (head, _) = l.rsplit_once(", ").unwrap();
                format!("{head}, <duration>\n")
            } else if let Some((head, _)) = l.split_once(" sha256=") {
                format!("{head} sha256=<sha256> -->\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

#[test]
fn a_respawn_stays_under_2000_tokens_after_a_long_session() {
    let env = Env::with_git();
    env.init();
    for i in 0..30 {
        env.ok(&[
            "todo",
            "add",
            &format!("Open item {i} with a title long enough to cost something in every handoff that lists it"),
            "--acceptance",
            "the checks pass and the change is described in the changelog",
        ]);
    }
    env.json(&[
        "start",
        "--vendor",
        "claude",
        "--goal",
        "Keep the project going",
    ]);
    // Three turns of 20 DOs each: 60 finished DOs, each with its log artifact.
    let mut acks = String::new();
    for turn in 0..3 {
        let mut reply = if turn == 0 {
            "Policy v1.0 loaded.\n\n".to_string()
        } else {
            acks.clone()
        };
        for k in 0..20 {
            reply.push_str(&format!(
                "\n```sh\n# DO: Step {turn}-{k} of the long work, checked by the project's script\necho step {turn} {k}\n# END DO\n```\n"
            ));
        }
        let (_, text) = one_turn(&env, &reply);
        acks = text
            .lines()
            .filter(|l| l.starts_with("ACK DO-"))
            .map(|l| format!("{l}\n"))
            .collect();
    }
    env.cmd(&["ingest", "-"]).stdin(acks).ok();
    let w = env.json(&["wrap"]);
    let text = std::fs::read_to_string(w["respawn"][0].as_str().unwrap()).unwrap();
    assert!(
        estimate(&text) <= 2_000,
        "respawn is ~{} tokens:\n{text}",
        estimate(&text)
    );
    // The newest work and the top TODOs are named; the rest is counted, not dropped.
    // The DO proposed last, not the one whose random id sorts last.
    assert!(
        text.contains("**Last in progress:** `")
            && text.contains("Step 2-19 of the long work, checked by the project's script (acked)"),
        "{text}"
    );
    assert!(text.contains("earlier DOs, not listed"), "{text}");
    assert!(text.contains("1. `T-"), "{text}");
    assert!(text.contains("more, lower in rank"), "{text}");
    assert!(text.contains("coagent artifact send"), "{text}");
}

#[test]
fn stats_and_status_show_tokens_per_turn_by_direction_and_part() {
    let env = Env::with_git();
    four_todos(&env);
    let (s, _) = boot(&env);
    let reply = "Policy v1.0 loaded.\n\n```bash\n# DO: Say hello\necho hello\n# END DO\n```\n";
    one_turn(&env, reply);
    let st = env.json(&["stats"]);
    let book = &st["sessions"][0]["token_turns"];
    let turns = book["turns"].as_array().unwrap();
    assert_eq!(turns.len(), 2, "{book}");
    let boot = &turns[0];
    assert_eq!(boot["ingested"], 0);
    assert_eq!(boot["payloads"], 1);
    for part in ["capsule", "contract", "handoff", "machine"] {
        assert!(boot["parts"][part].as_u64().unwrap() > 0, "{part}: {boot}");
    }
    assert_eq!(boot["parts"]["results"], 0);
    assert_eq!(boot["pasted_out"], s["tokens"]["count"], "{boot} vs {s}");
    let one = &turns[1];
    assert!(one["ingested"].as_u64().unwrap() > 0, "{one}");
    assert!(one["parts"]["results"].as_u64().unwrap() > 0, "{one}");
    assert_eq!(one["parts"]["capsule"], 0, "{one}");
    assert_eq!(one["parts"]["contract"], 0, "{one}");
    let o = &st["overall"];
    assert_eq!(
        o["tokens_pasted_out"].as_u64().unwrap() + o["tokens_ingested"].as_u64().unwrap(),
        o["tokens"].as_u64().unwrap(),
        "{o}"
    );
    env.ok(&["stats"])
        .stdout_has("pasted out by part  capsule ")
        .stdout_has("boot     out ~")
        .stdout_has("turn 1   out ~");
    let status = env.json(&["status"]);
    let tok = &status["sessions"][0]["tokens"];
    assert_eq!(tok["turns"].as_array().unwrap().len(), 2, "{status}");
    env.ok(&["status"])
        .stdout_has("tokens     pasted out ~")
        .stdout_has("turn 1   out ~");
}

#[test]
fn a_wraps_last_in_progress_is_the_do_proposed_last_not_the_one_whose_id_sorts_last() {
    let env = Env::with_git();
    four_todos(&env);
    boot(&env);
    let mut reply = "Policy v1.0 loaded.\n".to_string();
    for k in 1..=8 {
        reply.push_str(&format!(
            "\n```sh\n# DO: Step number {k}\necho {k}\n# END DO\n```\n"
        ));
    }
    one_turn(&env, &reply);
    let w = env.json(&["wrap"]);
    let text = std::fs::read_to_string(w["respawn"][0].as_str().unwrap()).unwrap();
    assert!(
        text.contains("Step number 8 (succeeded).\n"),
        "the last DO proposed (all in one millisecond):\n{text}"
    );
    let listed = text.split_once("**Finished DOs**").unwrap().1;
    let at = |k: u32| listed.find(&format!("Step number {k} ")).unwrap();
    assert!(
        (1..8).all(|k| at(k) < at(k + 1)),
        "in proposal order:\n{text}"
    );
}

#[test]
fn a_do_sent_again_as_a_revision_shows_its_changed_lines() {
    let env = Env::with_git();
    four_todos(&env);
    boot(&env);
    let body: String = (1..=40).map(|i| format!("echo line {i}\n")).collect();
    let first = env
        .cmd(&["--json", "ingest", "-"])
        .stdin(format!(
            "Policy v1.0 loaded.\n\n```bash\n# DO: Print forty lines\n{body}# END DO\n```\n"
        ))
        .ok()
        .json();
    let old = first["dos"][0]["id"].as_str().unwrap().to_string();
    let changed = body.replace("echo line 7\n", "echo line seven\n");
    let second = env
        .cmd(&["--json", "ingest", "-"])
        .stdin(format!(
            "Line 7 spelled out.\n\n```bash\n# DO: Print forty lines (revises {old})\n{changed}# END DO\n```\n"
        ))
        .ok()
        .json();
    let new = second["dos"][0]["id"].as_str().unwrap();
    let shown = env.json(&["do", "show", new]);
    assert_eq!(shown["revises"]["id"], old.as_str(), "{shown}");
    assert_eq!(shown["revises"]["added"], 1);
    assert_eq!(shown["revises"]["removed"], 1);
    env.ok(&["do", "show", new])
        .stdout_has(&format!("revises   {old}: +1 −1 lines"))
        .stdout_has("-echo line 7\n+echo line seven\n");
    // A DO that revises nothing says nothing of it.
    assert!(env.json(&["do", "show", &old])["revises"].is_null());
}
