//! The way back: what a chat gets after a turn's DOs ran — one result payload holding
//! the diffs, the files and the logs, whatever the project's ignore rules, in a git
//! repository or not — and the TODOs that close through the loop.

use crate::harness::Env;

/// A git project whose `.gitignore` and `.git/info/exclude` both list the hub, as users
/// and chats write them (the diff was never captured in such a project).
fn ignored_hub_project() -> Env {
    let env = Env::with_git();
    std::fs::write(env.root.join(".gitignore"), ".coagent/\n").unwrap();
    env.git(&["add", ".gitignore"]);
    env.git(&["commit", "-q", "-m", "ignore the hub"]);
    let exclude = env.root.join(".git/info/exclude");
    let mut text = std::fs::read_to_string(&exclude).unwrap_or_default();
    text.push_str(".coagent/\n");
    std::fs::write(exclude, text).unwrap();
    env
}

/// `init`, a TODO, a Claude session; returns the TODO's id.
fn booted(env: &Env) -> String {
    env.init();
    let t = env.json(&["todo", "add", "Document the CLI"]);
    env.json(&["start", "--vendor", "claude"]);
    t["id"].as_str().unwrap().to_string()
}

fn three_dos(todo: &str) -> String {
    format!(
        "Policy v1.0 loaded.\n\nThree DOs for the top TODO.\n\n\
```bash\n# DO: Edit the README\n# TODO: {todo}\nprintf 'More docs\\n' >> README.md\n# END DO\n```\n\n\
```bash\n# DO: Write a report\necho \"report body\" > \"$COAGENT_OUT/report.md\"\n# END DO\n```\n\n\
```bash\n# DO: Name an artifact\n# ARTIFACT: out/summary.txt\nmkdir -p out\necho 'named file' > out/summary.txt\n# END DO\n```\n"
    )
}

fn outbox_file(run: &serde_json::Value) -> String {
    let p = run["payload"].as_str().expect("a payload was written");
    std::fs::read_to_string(p).unwrap()
}

fn turn_one(env: &Env) -> (String, serde_json::Value, String) {
    let todo = booted(env);
    let r = env
        .cmd(&["--json", "ingest", "-"])
        .stdin(three_dos(&todo))
        .ok()
        .json();
    assert_eq!(r["dos"].as_array().unwrap().len(), 3, "{r}");
    let before = std::fs::read_to_string(&env.clip).unwrap_or_default();
    let run = env.json(&["do", "run", "--all"]);
    let payload = outbox_file(&run);
    assert_ne!(
        std::fs::read_to_string(&env.clip).unwrap(),
        before,
        "the result payload is on the clipboard"
    );
    (todo, run, payload)
}

fn assert_reviewable(run: &serde_json::Value, payload: &str) {
    let runs = run["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 3, "{run}");
    assert!(runs.iter().all(|r| r["status"] == "succeeded"), "{run}");
    // One payload for the turn: the diff's hunk, both files' text, one ACK line per DO.
    assert!(payload.contains("README.md"), "{payload}");
    assert!(
        payload.contains("+More docs"),
        "the diff hunk is shown:\n{payload}"
    );
    assert!(payload.contains("report body"), "{payload}");
    assert!(payload.contains("named file"), "{payload}");
    for r in runs {
        let line = r["ack_line"].as_str().unwrap();
        assert!(payload.contains(line), "{line} in\n{payload}");
    }
    assert_eq!(payload.matches("\nACK DO-").count(), 3, "{payload}");
    assert!(
        !payload.contains(".coagent/"),
        "the hub is never in a diff:\n{payload}"
    );
}

#[test]
fn a_turn_of_three_dos_comes_back_as_one_reviewable_payload_in_a_git_project_that_ignores_the_hub()
{
    let env = ignored_hub_project();
    let (todo, run, payload) = turn_one(&env);
    assert_reviewable(&run, &payload);
    let runs = run["runs"].as_array().unwrap();
    assert!(
        runs[0]["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["kind"] == "diff"),
        "the README edit is a diff artifact: {run}"
    );
    assert!(
        runs.iter()
            .all(|r| r["warnings"].as_array().unwrap().is_empty()),
        "no 'no diff' warning: {run}"
    );
    let outbox = env.json(&["outbox"]);
    let waiting = outbox["payloads"].as_array().unwrap();
    assert_eq!(
        waiting.len(),
        1,
        "the boot was answered; ONE result waits: {outbox}"
    );
    assert_eq!(waiting[0]["kind"], "result");

    // Turn two: the chat ACKs every DO and closes the TODO with the diff.
    let diff = runs[0]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["kind"] == "diff")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let acks: Vec<String> = runs
        .iter()
        .map(|r| r["ack_line"].as_str().unwrap().to_string())
        .collect();
    let reply = format!(
        "Reviewed all three.\n\n{}\n\nDONE {todo} artifact:{diff}\n",
        acks.join("\n")
    );
    let r = env.cmd(&["--json", "ingest", "-"]).stdin(reply).ok().json();
    assert!(
        r["acks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["status"] == "accepted"),
        "{r}"
    );
    assert_eq!(r["dones"][0]["status"], "accepted", "{r}");
    assert!(
        env.json(&["outbox"])["payloads"]
            .as_array()
            .unwrap()
            .is_empty(),
        "a reply was ingested after every payload: all pasted"
    );
    assert!(
        env.json(&["ack", "list", "--pending"])["acks"]
            .as_array()
            .is_none_or(|a| a.is_empty()),
        "every DO of the result was answered"
    );
    let boot = env.json(&["start", "--vendor", "gemini"]);
    let text = std::fs::read_to_string(boot["payloads"][0].as_str().unwrap()).unwrap();
    let open = text.find("Open TODOs").unwrap_or(text.len());
    let at = text
        .find(&todo)
        .expect("the done TODO is listed as finished");
    assert!(
        at < open || !text[open..].contains(&todo),
        "not under open work:\n{text}"
    );
}

#[test]
fn a_project_without_git_gets_its_diff_and_its_undo() {
    let env = Env::new();
    std::fs::write(env.root.join("README.md"), "# demo\n").unwrap();
    let (_, run, payload) = turn_one(&env);
    assert_reviewable(&run, &payload);
    let id = run["runs"][0]["id"].as_str().unwrap();
    env.ok(&["--yes", "do", "undo", id]);
    assert_eq!(
        std::fs::read_to_string(env.root.join("README.md")).unwrap(),
        "# demo\n",
        "undone without git"
    );
}

/// Ingests `reply` and runs all its DOs, which must succeed: the result payload.
fn run_reply(env: &Env, reply: &str) -> String {
    env.cmd(&["--json", "ingest", "-"]).stdin(reply).ok();
    outbox_file(&env.cmd(&["--json", "do", "run", "--all"]).ok().json())
}

fn run_one(env: &Env, body: &str) -> serde_json::Value {
    if !env.hub().exists() {
        booted(env);
    }
    let reply = format!("```bash\n# DO: A step\n{body}\n# END DO\n```\n");
    let r = env.cmd(&["--json", "ingest", "-"]).stdin(reply).ok().json();
    let id = r["dos"][0]["id"].as_str().unwrap().to_string();
    env.cmd(&["--json", "--yes", "do", "run", &id]).run().json()
}

#[test]
fn a_do_that_commits_returns_the_commit() {
    let env = ignored_hub_project();
    let run = run_one(
        &env,
        "echo fix > fix.txt\ngit add fix.txt\ngit -c user.name=T -c user.email=t@e.invalid -c commit.gpgsign=false commit -q -m 'Fix it'",
    );
    assert_eq!(run["status"], "succeeded", "{run}");
    let head = env.git(&["rev-parse", "HEAD"]).trim().to_string();
    let line = run["runs"][0]["ack_line"].as_str().unwrap();
    assert!(line.contains(&format!("commit:{}", &head[..12])), "{line}");
    let payload = outbox_file(&run);
    assert!(payload.contains(&head[..12]), "{payload}");
    assert!(
        payload.contains("+fix"),
        "the commit's change is in the diff too:\n{payload}"
    );
}

#[test]
fn binary_and_large_artifacts_are_described_or_cut_with_the_way_to_the_rest() {
    let env = Env::with_git();
    let run = run_one(
        &env,
        "printf '\\x89PNG\\r\\n\\x1a\\n\\0\\0binary' > \"$COAGENT_OUT/chart.png\"\n\
         python3 -c \"import sys; sys.stdout.write(''.join('line %d of the big report\\n' % i for i in range(200000)))\" > \"$COAGENT_OUT/big.txt\"",
    );
    assert_eq!(run["status"], "succeeded", "{run}");
    let payload = outbox_file(&run);
    assert!(payload.contains("PNG image"), "{payload}");
    assert!(
        !payload.contains("binary\n"),
        "binary bytes are never pasted"
    );
    let big = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"].as_str().unwrap().ends_with("big.txt"))
        .unwrap();
    assert!(big["bytes"].as_i64().unwrap() > 5_000_000, "{big}");
    let send = format!("coagent artifact send {}", big["id"].as_str().unwrap());
    assert!(
        payload.contains(&send),
        "the cut says how to get the rest:\n{payload}"
    );
    assert!(
        payload.contains("line 0 of the big report"),
        "its head is shown"
    );
    assert!(
        payload.chars().count() < 100_000,
        "fitted to Claude's paste limit: {}",
        payload.chars().count()
    );
    // The rest, on request: split into parts for the chat.
    let sent = env.json(&["artifact", "send", big["id"].as_str().unwrap()]);
    assert!(sent["parts"].as_u64().unwrap() > 1, "{sent}");
    let png = run["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"].as_str().unwrap().ends_with("chart.png"))
        .unwrap();
    env.fails(&["artifact", "send", png["id"].as_str().unwrap()], 1)
        .stderr_has("binary");
}

#[test]
fn a_budget_over_the_paste_limit_sends_parts() {
    let env = Env::with_git();
    booted(&env);
    let cfg = env.hub().join("config.toml");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    text = text.replace("budget_chars = 0", "budget_chars = 400000");
    std::fs::write(&cfg, text).unwrap();
    let run = run_one(
        &env,
        "python3 -c \"import sys; sys.stdout.write(''.join('row %d\\n' % i for i in range(60000)))\" > \"$COAGENT_OUT/rows.txt\"",
    );
    assert!(run["sent"]["parts"].as_u64().unwrap() > 1, "{run}");
    let payload = outbox_file(&run);
    assert!(payload.contains("NEXT 1/"), "{payload}");
}

#[test]
fn a_secret_in_an_artifact_or_the_diff_is_refused_and_redact_masks_it() {
    let env = Env::with_git();
    let key = "AKIAQX4BRD2W7NLPJ5VE";
    let run = run_one(
        &env,
        &format!(
            "echo 'aws_access_key_id = {key}' > settings.ini\necho 'key {key}' > \"$COAGENT_OUT/notes.txt\""
        ),
    );
    assert!(run["payload"].is_null(), "{run}");
    assert!(
        run["payload_error"]
            .as_str()
            .unwrap_or_default()
            .contains("secret"),
        "{run}"
    );
    assert!(!env.everything_sent().contains(key));
    let id = run["runs"][0]["id"].as_str().unwrap();
    let sent = env.json(&["do", "result", id, "--redact"]);
    let text = std::fs::read_to_string(sent["paths"][0].as_str().unwrap()).unwrap();
    assert!(text.contains("[REDACTED:"), "{text}");
    assert!(!text.contains(key));
}

#[test]
fn a_do_that_writes_into_the_hub_is_flagged_and_needs_consent() {
    let env = Env::with_git();
    booted(&env);
    let reply = "```bash\n# DO: Make a venv\n# ARTIFACT: .coagent/notes.txt\npython3 -c 'print(1)' > .coagent/notes.txt\n# END DO\n```\n";
    let r = env.cmd(&["--json", "ingest", "-"]).stdin(reply).ok().json();
    let id = r["dos"][0]["id"].as_str().unwrap().to_string();
    let shown = env.json(&["do", "show", &id]);
    assert!(
        shown["risks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["code"] == "hub-write"),
        "{shown}"
    );
    // No terminal, no --yes: a DO with risks is refused, and nothing ran.
    env.fails(&["do", "run", &id], 1).stderr_has("--yes");
    assert!(
        env.json(&["do", "show", &id])["runs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let run = env.json(&["--yes", "do", "run", &id]);
    let warnings = run["runs"][0]["warnings"].to_string();
    assert!(
        warnings.contains("inside the hub"),
        "the named artifact is refused: {run}"
    );
    assert!(
        run["artifacts"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["kind"] != "file"),
        "{run}"
    );
}

#[test]
fn run_all_stops_at_the_first_failure_unless_keep_going() {
    let env = Env::with_git();
    booted(&env);
    let reply = "```sh\n# DO: One\necho one\n# END DO\n```\n\n```sh\n# DO: Two\nexit 3\n# END DO\n```\n\n```sh\n# DO: Three\necho three\n# END DO\n```\n";
    env.cmd(&["--json", "ingest", "-"]).stdin(reply).ok();
    let run = env.cmd(&["--json", "do", "run", "--all"]).code(1).json();
    assert_eq!(run["runs"].as_array().unwrap().len(), 2, "{run}");
    assert_eq!(run["not_run"].as_array().unwrap().len(), 1, "{run}");
    assert!(
        run["not_run"][0]["hint"]
            .as_str()
            .unwrap()
            .contains("--keep-going")
    );
    let payload = outbox_file(&run);
    assert!(payload.contains("exit code 3"), "{payload}");
    // The chat proposed Three too: it is told that it did not run, and why.
    let three = run["not_run"][0]["id"].as_str().unwrap();
    assert!(
        payload.contains("# CoAgent results · 2 DOs; 1 not run"),
        "{payload}"
    );
    assert!(payload.contains("; 1 not run"), "{payload}");
    assert!(payload.contains("## Not run"), "{payload}");
    assert!(
        payload.contains(&format!("- {three} · Three: not run, ")),
        "{payload}"
    );
    assert!(
        !payload.contains("--keep-going"),
        "a hint for the user only: {payload}"
    );
    let rest = env
        .cmd(&["--json", "do", "run", "--all", "--keep-going"])
        .ok()
        .json();
    assert_eq!(rest["runs"][0]["title"], "Three", "{rest}");
    env.fails(&["do", "run", "--all"], 1)
        .stderr_has("no DO waiting");
}

/// One field of each DO an ingest found, in order.
fn dos_field<'a>(r: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    r["dos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d[field].as_str().unwrap())
        .collect()
}

/// Ingests turn `n`'s reply of the real-chat fixture set `set` (`fixtures/<set>/`).
fn replay(env: &Env, set: &str, n: u32) -> serde_json::Value {
    let reply = std::fs::read(format!(
        "{}/tests/cli/fixtures/{set}/turn{n}-reply.md",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    env.cmd(&["--json", "ingest", "-"]).stdin(reply).ok().json()
}

/// Replies a real chat model wrote in a three-turn loop on a small Python project (boot
/// payload in `fixtures/real-chat/turn0-boot.md`; each later turn was given the result
/// payload of the one before): what the gate must find in them, copied as they were.
#[test]
fn a_real_chat_s_three_turns_are_read_as_it_meant_them() {
    let env = Env::with_git();
    booted(&env);
    let turn = |n: u32| replay(&env, "real-chat", n);
    // Turn 1: three read-only DOs, each naming its TODO on a `# TODO:` line.
    let r = turn(1);
    let dos = r["dos"].as_array().unwrap();
    assert_eq!(dos.len(), 3, "{r}");
    assert!(
        dos.iter()
            .all(|d| d["todo"].is_string() || d["todo"].is_null())
    );
    assert_eq!(r["echo"]["status"], "verified");
    // Turn 2: four DOs, one per step, in order; one installs a project-local venv.
    let r = turn(2);
    let titles = dos_field(&r, "title");
    assert_eq!(titles.len(), 4, "{r}");
    assert!(titles[0].contains(".venv"), "{titles:?}");
    // Turn 3: no DOs; three DONE lines and a question for the human.
    let r = turn(3);
    assert!(r["dos"].as_array().unwrap().is_empty(), "{r}");
    assert_eq!(r["dones"].as_array().unwrap().len(), 3, "{r}");
    assert_eq!(r["questions"].as_array().unwrap().len(), 1, "{r}");
    // Their TODO ids belong to the hub the replies were written for: rejected here, with
    // the reason, and nothing closed.
    assert!(
        r["dones"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "rejected"),
        "{r}"
    );
}

#[test]
fn a_new_file_named_as_an_artifact_is_shown_once_in_the_diff() {
    let env = Env::with_git();
    booted(&env);
    let reply = "```sh\n# DO: Write a new module\n# ARTIFACT: notes/plan.md\nmkdir -p notes\nprintf 'step one\\nstep two\\n' > notes/plan.md\nprintf 'kept\\n' > notes/other.md\n# END DO\n```\n";
    let payload = run_reply(&env, reply);
    assert_eq!(payload.matches("step two").count(), 1, "{payload}");
    assert!(
        payload.contains("+step two"),
        "shown in the diff: {payload}"
    );
    assert!(
        payload.contains("the same text as the new file in `artifact:A-"),
        "{payload}"
    );
}

/// A real chat's first DO ran the tests with `| tee "$COAGENT_OUT/pytest.log"`: the file
/// stood whole inside the log, and the payload showed it twice.
#[test]
fn a_saved_output_the_script_also_printed_is_shown_once_in_the_log() {
    let env = Env::with_git();
    booted(&env);
    let reply = "```bash\n# DO: Run the checks\necho 'checker 1.0'\nfor i in $(seq 12); do echo \"check $i of 12 passed\"; done | tee \"$COAGENT_OUT/checks.log\"\necho exit=0\n# END DO\n```\n";
    let payload = run_reply(&env, reply);
    assert_eq!(
        payload.matches("check 12 of 12 passed").count(),
        1,
        "{payload}"
    );
    assert!(
        payload.contains("checker 1.0"),
        "the log is whole: {payload}"
    );
    assert!(
        payload.contains("printed whole in the log below (`artifact:A-"),
        "{payload}"
    );
    // A short file costs less than the note: shown as it is.
    let reply = "```bash\n# DO: Save a short line\necho 'done' | tee \"$COAGENT_OUT/short.txt\"\necho more\n# END DO\n```\n";
    let payload = run_reply(&env, reply);
    assert_eq!(payload.matches("done").count(), 2, "{payload}");
}

/// The list of changed files is said once: a whole diff names them, a cut one needs the
/// list for what it leaves out.
#[test]
fn changed_files_are_listed_only_beside_a_diff_that_is_cut() {
    let env = Env::with_git();
    booted(&env);
    let small = run_reply(
        &env,
        "```sh\n# DO: Write a note\necho one > note.txt\n# END DO\n```\n",
    );
    assert!(small.contains("+one"), "{small}");
    assert!(!small.contains("Changed files:"), "{small}");
    let big = run_reply(
        &env,
        "```sh\n# DO: Write a long table\nseq 1 40000 > table.txt\necho two >> note.txt\n# END DO\n```\n",
    );
    assert!(big.contains("cut: lines 1–"), "{big}");
    assert!(big.contains("Changed files:"), "{big}");
    assert!(big.contains("- A table.txt (+40000 −0)"), "{big}");
    assert!(big.contains("- M note.txt (+1 −0)"), "{big}");
}

#[test]
fn a_changed_file_named_as_an_artifact_is_shown_whole_beside_its_diff() {
    let env = Env::with_git();
    booted(&env);
    std::fs::write(
        env.root.join("notes.md"),
        "line one\nline two\nline three\n",
    )
    .unwrap();
    let reply = "```sh\n# DO: Edit the notes\n# ARTIFACT: notes.md\nprintf 'line four\\n' >> notes.md\n# END DO\n```\n";
    let payload = run_reply(&env, reply);
    assert!(payload.contains("+line four"), "{payload}");
    assert!(
        payload.contains("line one\nline two\nline three\nline four"),
        "{payload}"
    );
}

/// A second real chat model's three turns, on python-slugify 8.0.4 with two TODOs (boot
/// payload and the two result payloads it was given in `fixtures/real-chat-slugify/`):
/// tests and docs in turn 1 (both failed: a missing dependency), a project venv and both
/// again in turn 2, both TODOs closed and a question for the human in turn 3.
#[test]
fn a_real_chat_on_python_slugify_is_read_as_it_meant_it() {
    let env = Env::with_git();
    booted(&env);
    let turn = |n: u32| replay(&env, "real-chat-slugify", n);
    let r = turn(1);
    assert_eq!(r["echo"]["status"], "verified", "{r}");
    let langs = dos_field(&r, "lang");
    assert_eq!(langs, ["bash", "python"], "{r}");
    let r = turn(2);
    let titles = dos_field(&r, "title");
    assert_eq!(titles.len(), 3, "{r}");
    assert!(titles[0].contains(".venv"), "{titles:?}");
    assert_eq!(r["acks"].as_array().unwrap().len(), 2, "{r}");
    let r = turn(3);
    assert!(r["dos"].as_array().unwrap().is_empty(), "{r}");
    assert_eq!(r["acks"].as_array().unwrap().len(), 3, "{r}");
    assert_eq!(r["dones"].as_array().unwrap().len(), 2, "{r}");
    // "Should I …? If not, I'll wait for the next handoff." waits for an answer.
    let questions = r["questions"].as_array().unwrap();
    assert_eq!(questions.len(), 1, "{r}");
    assert_eq!(
        questions[0]["text"],
        "Should I add either of these as TODOs and write DOs for them?"
    );
}

#[test]
fn a_new_file_is_shown_whole_when_the_diff_that_holds_it_is_cut() {
    let env = Env::with_git();
    booted(&env);
    let cfg = env.hub().join("config.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(
        &cfg,
        text.replace("budget_chars = 0", "budget_chars = 6000"),
    )
    .unwrap();
    // A large change first in the diff, then the new file the DO names: the diff is cut
    // before it, so the file must be shown on its own.
    let reply = "```sh\n# DO: Big change and a plan\n# ARTIFACT: zz/plan.md\nmkdir -p aa zz\nseq 1 3000 > aa/big.txt\nprintf 'step one\\nstep two\\n' > zz/plan.md\n# END DO\n```\n";
    let payload = run_reply(&env, reply);
    assert!(
        payload.contains("cut: lines 1–"),
        "the diff is cut: {payload}"
    );
    assert!(!payload.contains("+step two"), "{payload}");
    assert!(
        payload.contains("step one\nstep two"),
        "the file is shown: {payload}"
    );
    assert!(
        !payload.contains("the same text as the new file"),
        "{payload}"
    );
}

/// Replies a real chat model wrote to the shorter contract (given only the boot payload in
/// `fixtures/real-chat-inflection/turn0-boot.md`, then the result payload of turn 1), on
/// the inflection library with four TODOs: the echo, three DOs each naming its TODO, the
/// reply tag, then three ACKs, three DONE lines and one more DO. The ids are the real
/// hub's, so here the receipts are read and rejected, and the tag names another session.
#[test]
fn a_real_chat_given_the_shorter_contract_still_echoes_proposes_and_acknowledges() {
    let env = Env::with_git();
    booted(&env);
    let turn = |n: u32| replay(&env, "real-chat-inflection", n);
    let kinds = |r: &serde_json::Value| -> Vec<String> {
        r["drift"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["kind"].as_str().unwrap().to_string())
            .collect()
    };
    let r = turn(1);
    assert_eq!(r["echo"]["status"], "verified", "{r}");
    let langs = dos_field(&r, "lang");
    assert_eq!(langs, ["bash", "python", "bash"], "{r}");
    // The tag was read: it names the real hub's session, not a missing tag.
    assert_eq!(kinds(&r), ["tag_wrong"], "{r}");
    let r = turn(2);
    assert_eq!(r["dos"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["acks"].as_array().unwrap().len(), 3, "{r}");
    assert_eq!(r["dones"].as_array().unwrap().len(), 3, "{r}");
    assert!(r["unreadable_acks"].as_array().unwrap().is_empty(), "{r}");
    assert!(kinds(&r).contains(&"tag_wrong".to_string()), "{r}");
}

/// A real chat model's loop once result payloads carry no machine block
/// (`fixtures/real-chat-noblock/`: the boot payload, its reply, the block-less result of
/// its three DOs, and the reply a fresh chat wrote given the transcript and that result):
/// the chat still answers with every ACK line, closes two TODOs with DONE lines, proposes
/// the next DOs each naming its TODO, and asks its question plainly.
#[test]
fn a_real_chat_answers_a_result_without_a_machine_block_with_its_ack_lines() {
    let dir = format!(
        "{}/tests/cli/fixtures/real-chat-noblock",
        env!("CARGO_MANIFEST_DIR")
    );
    let result = std::fs::read_to_string(format!("{dir}/turn1-result.md")).unwrap();
    assert!(!result.contains("```coagent"), "{result}");
    let env = Env::with_git();
    booted(&env);
    let r = replay(&env, "real-chat-noblock", 1);
    assert_eq!(r["echo"]["status"], "verified", "{r}");
    assert_eq!(dos_field(&r, "lang"), ["bash", "python", "bash"], "{r}");
    let r = replay(&env, "real-chat-noblock", 2);
    // Every ACK line the result asked for came back, word for word.
    let asked: Vec<&str> = result
        .lines()
        .filter(|l| l.starts_with("ACK DO-"))
        .collect();
    let reply = std::fs::read_to_string(format!("{dir}/turn2-reply.md")).unwrap();
    for line in &asked {
        assert!(
            reply.lines().any(|l| l == *line),
            "{line} missing:\n{reply}"
        );
    }
    assert_eq!(r["acks"].as_array().unwrap().len(), asked.len(), "{r}");
    assert_eq!(r["dones"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(dos_field(&r, "lang"), ["bash", "bash"], "{r}");
    assert_eq!(r["questions"].as_array().unwrap().len(), 1, "{r}");
    assert!(r["unreadable_acks"].as_array().unwrap().is_empty(), "{r}");
}
