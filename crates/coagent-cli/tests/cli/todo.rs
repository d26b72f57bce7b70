//! TODOs end to end: a DO names its TODO, runs, and the chat's `DONE T-… <ref>…` closes it
//! (or is rejected with the reason); the human closes and reopens; the next boot and a
//! wrap's handoff list a done TODO as finished work, never as open work; the chat's
//! questions come before its DOs.
//!
//! Regression: TODOs never closed — a DO named its TODO only in its title, succeeded and
//! was ACKed, and every handoff after it handed the finished work on as open work.

use crate::harness::Env;

/// A hub with TODOs (ids returned in order) and a started session (its id last).
fn hub_with(env: &Env, titles: &[&str]) -> (Vec<String>, String) {
    env.init();
    let ids = titles
        .iter()
        .map(|t| {
            env.json(&["todo", "add", t])["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let s = env.json(&["start", "--vendor", "claude"]);
    (ids, s["session"].as_str().unwrap().to_string())
}

fn ingest(env: &Env, text: &str) -> serde_json::Value {
    env.cmd(&["--json", "ingest", "-"]).stdin(text).ok().json()
}

/// Proposes a DO serving `todo` and runs it; returns (DO id, its log artifact id).
fn run_do_for(env: &Env, todo: &str, title: &str) -> (String, String) {
    let reply = format!(
        "Policy v1.0 loaded.\n\n```sh\n# DO: {title}\n# TODO: {todo}\necho '{title}'\n# END DO\n```\n"
    );
    let r = ingest(env, &reply);
    let id = r["dos"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(r["dos"][0]["todo"], todo, "{r}");
    let run = env.cmd(&["--json", "do", "run", &id]).ok().json();
    let art = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "log")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    (id, art)
}

fn todo_of(env: &Env, id: &str) -> serde_json::Value {
    env.json(&["todo", "list", "--all"])["todos"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id)
        .unwrap_or_else(|| panic!("{id} not listed"))
        .clone()
}

#[test]
fn a_do_naming_its_todo_is_linked_and_in_progress_once_it_runs() {
    let env = Env::new();
    let (todos, _) = hub_with(&env, &["Write the notes"]);
    let t = &todos[0];
    let r = ingest(
        &env,
        &format!(
            "Policy v1.0 loaded.\n\n```sh\n# DO: Write the notes\n# TODO: {t}\necho notes\n# END DO\n```\n\n```sh\n# DO: Something else (T-ZZZZZZZZZZ)\necho x\n# END DO\n```\n"
        ),
    );
    let do_id = r["dos"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(r["dos"][0]["todo"], t.as_str());
    assert_eq!(r["dos"][1]["todo"], serde_json::Value::Null);
    assert!(
        r["warnings"].as_array().unwrap().iter().any(|w| w
            .as_str()
            .unwrap()
            .contains("T-ZZZZZZZZZZ, which is not a TODO")),
        "{r}"
    );
    let listed = todo_of(&env, t);
    for k in [
        "id",
        "title",
        "acceptance",
        "state",
        "dos",
        "closed_by",
        "refs",
        "status",
        "rank",
    ] {
        assert!(listed.get(k).is_some(), "todo list --json lacks {k}");
    }
    assert_eq!(listed["state"], "open");
    assert_eq!(
        listed["dos"],
        serde_json::json!([{"id": do_id, "state": "proposed"}])
    );
    // The DO says which TODO it serves, in `do show` and `do list`.
    env.ok(&["do", "show", &do_id])
        .stdout_has(&format!("serves    {t} Write the notes (open)"));
    env.ok(&["do", "list"]).stdout_has(&format!("for {t}"));
    let list = env.json(&["do", "list"]);
    assert_eq!(list["dos"][0]["todo"], t.as_str(), "{list}");
    assert_eq!(list["dos"][1]["todo"], serde_json::Value::Null, "{list}");
    env.cmd(&["do", "run", &do_id]).ok();
    let listed = todo_of(&env, t);
    assert_eq!(listed["state"], "in_progress");
    assert_eq!(listed["dos"][0]["state"], "succeeded");
    env.ok(&["todo", "list"])
        .stdout_has("in progress")
        .stdout_has(&format!("DOs: {do_id} succeeded"));
}

#[test]
fn an_accepted_done_closes_the_todo_for_the_session_and_the_next_boot_lists_it_as_finished() {
    let env = Env::new();
    let (todos, session) = hub_with(&env, &["Write the notes", "Later work"]);
    let t = &todos[0];
    let (_, art) = run_do_for(&env, t, "Write the notes");
    let r = ingest(
        &env,
        &format!("Done with that one.\n\n- **DONE `{t}` artifact:{art}**\n"),
    );
    assert_eq!(
        r["dones"],
        serde_json::json!([{"id": t, "refs": [format!("artifact:{art}")], "status": "accepted", "reason": ""}])
    );
    let listed = todo_of(&env, t);
    assert_eq!(listed["state"], "done");
    assert_eq!(listed["closed_by"], session.as_str());
    assert_eq!(
        listed["refs"],
        serde_json::json!([format!("artifact:{art}")])
    );
    env.ok(&["todo", "list", "--all"])
        .stdout_has(&format!("closed by {session}: artifact:{art}"));
    // The same news again is accepted, and changes nothing.
    let again = ingest(
        &env,
        &format!("As said: DONE {t} artifact:{art}\n\nDONE {t} artifact:{art}\n"),
    );
    assert_eq!(again["dones"][0]["status"], "accepted");
    assert_eq!(todo_of(&env, t)["closed_by"], session.as_str());

    let s = env.json(&["start", "--vendor", "chatgpt"]);
    let boot = std::fs::read_to_string(s["payloads"][0].as_str().unwrap()).unwrap();
    let (open, finished) = boot.split_once("**Finished TODOs**").expect(&boot);
    assert!(
        finished.contains(&format!("`{t}` Write the notes — artifact:{art}")),
        "{boot}"
    );
    let open = open.split_once("**Open TODOs**").expect(&boot).1;
    assert!(
        !open.contains(t.as_str()),
        "a done TODO is not open work:\n{boot}"
    );
    assert!(
        open.contains(&format!("1. `{}` Later work", todos[1])),
        "{boot}"
    );
    // The machine block does not list them again: the markdown says it all.
    let block = boot.split("```coagent\n").nth(1).unwrap();
    let block = block.split("\n```").next().unwrap();
    assert!(
        !block.contains(t.as_str()) && !block.contains(todos[1].as_str()),
        "{block}"
    );
}

#[test]
fn a_done_with_a_bad_ref_is_rejected_with_the_reason_and_the_todo_stays_open() {
    let env = Env::with_git();
    let (todos, _) = hub_with(&env, &["Mine", "Theirs"]);
    let (mine, theirs) = (&todos[0], &todos[1]);
    run_do_for(&env, mine, "Mine");
    let (_, their_art) = run_do_for(&env, theirs, "Theirs");
    std::fs::write(env.root.parent().unwrap().join("outside.txt"), "x").unwrap();
    let r = ingest(
        &env,
        &format!(
            "Closing:\n\nDONE {mine} artifact:{their_art}\nDONE {mine} artifact:A-ZZZZZZZZZZ\nDONE {mine} ../outside.txt\nDONE {mine} /etc/passwd\nDONE {mine} commit:deadbeef\nDONE {mine}\nDONE {mine} PR #12\nDONE T-ZZZZZZZZZZ README.md\n"
        ),
    );
    let reasons: Vec<(String, String)> = r["dones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            assert_eq!(d["status"], "rejected", "{d}");
            (
                d["id"].as_str().unwrap().to_string(),
                d["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expect = [
        format!("artifact:{their_art} is not an artifact of a DO of {mine}"),
        "unknown artifact A-ZZZZZZZZZZ".to_string(),
        "../outside.txt leaves the project root".to_string(),
        "/etc/passwd is not a path inside the project".to_string(),
        "commit:deadbeef is not in the project's git repository".to_string(),
        "a DONE needs refs".to_string(),
        "PR and URL refs cannot be checked on this machine".to_string(),
        "unknown TODO T-ZZZZZZZZZZ".to_string(),
    ];
    assert_eq!(reasons.len(), expect.len(), "{r}");
    for ((_, got), want) in reasons.iter().zip(&expect) {
        assert!(got.contains(want.as_str()), "{got:?} lacks {want:?}");
    }
    assert_eq!(todo_of(&env, mine)["state"], "in_progress");
    env.cmd(&["ingest", "-"])
        .stdin(format!("Again:\n\nDONE {mine} artifact:A-YYYYYYYYYY\n"))
        .ok()
        .stdout_has("rejected: unknown artifact A-YYYYYYYYYY");
    // A commit in the project and a path inside it are evidence too.
    let head = env.git(&["rev-parse", "HEAD"]);
    let ok = ingest(
        &env,
        &format!("DONE {mine} commit:{} README.md\n", head.trim()),
    );
    assert_eq!(ok["dones"][0]["status"], "accepted", "{ok}");
    assert_eq!(todo_of(&env, mine)["state"], "done");
}

#[test]
fn the_human_closes_and_reopens_a_todo() {
    let env = Env::new();
    let (todos, session) = hub_with(&env, &["Write the notes"]);
    let t = &todos[0];
    let (_, art) = run_do_for(&env, t, "Write the notes");
    ingest(&env, &format!("DONE {t} artifact:{art}\n"));
    let r = env.json(&["todo", "reopen", t]);
    assert_eq!(r["state"], "in_progress", "its DO ran");
    assert_eq!(r["closed_by"], serde_json::Value::Null);
    assert_eq!(r["refs"], serde_json::json!([]));
    assert_eq!(env.json(&["todo", "list"])["todos"][0]["id"], t.as_str());
    env.ok(&["todo", "done", &t[..6]])
        .stdout_has("closed by human");
    assert_eq!(todo_of(&env, t)["closed_by"], "human");
    assert_ne!(todo_of(&env, t)["closed_by"], session.as_str());
    env.ok(&["todo", "reopen", "--help"])
        .stdout_has("coagent todo reopen T-");
}

#[test]
fn a_wrap_hands_a_done_todo_on_as_finished_work() {
    let env = Env::new();
    let (todos, _) = hub_with(&env, &["Write the notes", "Later work"]);
    let t = &todos[0];
    let (_, art) = run_do_for(&env, t, "Write the notes");
    ingest(&env, &format!("DONE {t} artifact:{art}\n"));
    let w = env.json(&["wrap", "--to", "chatgpt"]);
    let respawn = std::fs::read_to_string(w["respawn"][0].as_str().unwrap()).unwrap();
    let (before, finished) = respawn.split_once("**Finished TODOs**").expect(&respawn);
    assert!(!before.contains(t.as_str()), "{respawn}");
    let finished_list = finished.split("\n\n").next().unwrap();
    assert!(
        finished_list.contains(&format!("`{t}` Write the notes — `artifact:{art}`")),
        "{respawn}"
    );
    let open = respawn.split_once("**Open TODOs**").expect(&respawn).1;
    let open = open.split("```").next().unwrap();
    assert!(
        !open.contains(t.as_str()),
        "a done TODO is not open work:\n{respawn}"
    );
    assert!(open.contains(&todos[1]), "{respawn}");
}

#[test]
fn the_chat_s_questions_come_before_its_dos() {
    let env = Env::new();
    hub_with(&env, &["Serve it"]);
    let reply = "Policy v1.0 loaded.\n\nWhich port should the server listen on?\n\n```sh\n# DO: Start the server\necho start\n# END DO\n```\n";
    let out = env.cmd(&["ingest", "-"]).stdin(reply).ok();
    out.stdout_has("the chat asks:")
        .stdout_has("Which port should the server listen on?")
        .stdout_has("before you run anything");
    let asks = out.stdout.find("the chat asks:").unwrap();
    let dos = out.stdout.find("Start the server").unwrap();
    assert!(asks < dos, "questions come first:\n{}", out.stdout);
    let r = env
        .cmd(&["--json", "ingest", "-"])
        .stdin(format!("{reply}\nAnd: is 8080 free?\n"))
        .ok()
        .json();
    assert_eq!(
        r["questions"],
        serde_json::json!([
            {"line": 3, "text": "Which port should the server listen on?"},
            {"line": 11, "text": "And: is 8080 free?"}
        ])
    );
}

#[test]
fn todo_move_changes_the_handoff_order_of_the_next_boot() {
    let env = Env::new();
    env.init();
    let id = |t: &str| {
        env.json(&["todo", "add", t])["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (a, b, c) = (id("Parse"), id("Validate"), id("Export"));
    env.ok(&["todo", "move", &c, "--up"])
        .stdout_has("place 2 in the handoff");
    env.ok(&["todo", "move", &a, "--down"]);
    let order: Vec<String> = env.json(&["todo", "list"])["todos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(order, vec![c.clone(), a.clone(), b.clone()]);
    // At the top it stays there; a done TODO has no place to move to.
    env.ok(&["todo", "move", &c, "--up"]).stdout_has("place 1");
    env.ok(&["todo", "done", &b]);
    env.fails(&["todo", "move", &b, "--up"], 1)
        .stderr_has("only open TODOs have a place in the handoff");
    let boot = env.json(&["start", "--vendor", "claude"]);
    let text = std::fs::read_to_string(boot["payloads"][0].as_str().unwrap()).unwrap();
    assert!(text.find(&c).unwrap() < text.find(&a).unwrap(), "{text}");
}
