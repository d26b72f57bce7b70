//! Years of records (issue 15): every list shows the newest 50 by default, `--all` streams
//! every one, `--session`, `--state`/`--kind` and `--since` narrow it, and each list's JSON
//! is one document that says whether more were left.

use crate::harness::Env;

/// A reply proposing `n` DOs, titled `step 0` … `step n-1` in that order.
fn reply_with_dos(n: usize, tag: &str) -> String {
    let mut s = String::from("Policy v1.0 loaded.\n\n");
    for i in 0..n {
        s.push_str(&format!(
            "```bash\n# DO: {tag} step {i}\necho {tag} {i}\n# END DO\n```\n\n"
        ));
    }
    s
}

fn started(env: &Env) -> String {
    env.init();
    let s = env.json(&["start", "--vendor", "claude", "--goal", "scale"]);
    s["session"].as_str().unwrap().to_string()
}

fn titles(v: &serde_json::Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["title"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn do_list_shows_the_newest_50_by_default_and_all_every_one() {
    let env = Env::new();
    started(&env);
    env.cmd(&["ingest", "-"])
        .stdin(reply_with_dos(60, "a"))
        .ok();
    let newest = env.json(&["do", "list"]);
    let t = titles(&newest, "dos");
    assert_eq!(t.len(), 50, "the newest 50, not every DO of the hub");
    assert_eq!(t[0], "a step 10", "still in the order they were proposed");
    assert_eq!(t[49], "a step 59");
    assert_eq!(newest["more"], true);
    let all = env.json(&["do", "list", "--all"]);
    assert_eq!(titles(&all, "dos").len(), 60);
    assert_eq!(all["more"], false);
    let five = env.json(&["do", "list", "--limit", "5"]);
    assert_eq!(
        titles(&five, "dos"),
        [
            "a step 55",
            "a step 56",
            "a step 57",
            "a step 58",
            "a step 59"
        ]
    );
    env.ok(&["do", "list"])
        .stdout_has("a step 59")
        .stdout_has("--all every one");
}

#[test]
fn do_list_filters_by_state_session_and_since() {
    let mut env = Env::new();
    let first = started(&env);
    env.cmd(&["ingest", "-"])
        .stdin(reply_with_dos(2, "old"))
        .ok();
    env.now = "2026-11-30T09:00:00Z".to_string();
    let second = env.json(&["start", "--vendor", "claude", "--goal", "later"])["session"]
        .as_str()
        .unwrap()
        .to_string();
    env.cmd(&["ingest", "--session", &second, "-"])
        .stdin(reply_with_dos(3, "new"))
        .ok();
    let ran = env.json(&["do", "list", "--session", &second])["dos"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    env.ok(&["do", "run", &ran]);

    let of_first = env.json(&["do", "list", "--session", &first]);
    assert_eq!(titles(&of_first, "dos"), ["old step 0", "old step 1"]);
    let since = env.json(&["do", "list", "--since", "2d"]);
    assert_eq!(
        titles(&since, "dos"),
        ["new step 0", "new step 1", "new step 2"]
    );
    let day = env.json(&["do", "list", "--since", "2026-11-25"]);
    assert_eq!(titles(&day, "dos").len(), 3);
    let done = env.json(&["do", "list", "--state", "succeeded"]);
    assert_eq!(titles(&done, "dos"), ["new step 0"]);
    let proposed = env.json(&["do", "list", "--state", "proposed", "--since", "3d"]);
    assert_eq!(titles(&proposed, "dos"), ["new step 1", "new step 2"]);

    env.fails(&["do", "list", "--state", "finished"], 1)
        .stderr_has("not a DO state")
        .stderr_has("succeeded");
    env.fails(&["do", "list", "--since", "last tuesday"], 1)
        .stderr_has("--since 7d");

    // The other lists take the same window.
    let arts = env.json(&["artifact", "list", "--kind", "log"]);
    assert_eq!(arts["artifacts"].as_array().unwrap().len(), 1);
    assert_eq!(
        env.json(&["artifact", "list", "--session", &first])["artifacts"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    let msgs = env.json(&["backchat", "list", "--kind", "result"]);
    assert_eq!(msgs["messages"].as_array().unwrap().len(), 1);
    let pending = env.json(&["ack", "list", "--pending", "--session", &second]);
    assert_eq!(pending["acks"].as_array().unwrap().len(), 1);
    assert_eq!(pending["pending"], true);
    let sessions = env.json(&["session", "list", "--since", "2d"]);
    assert_eq!(sessions["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(sessions["sessions"][0]["id"], second.as_str());
    let one = env.json(&["session", "list", "--limit", "1"]);
    assert_eq!(one["more"], true);
    env.fails(&["session", "list", "--state", "sleeping"], 1)
        .stderr_has("wrapped");
}

#[test]
fn todo_list_limits_filters_by_state_and_all_adds_the_done_ones() {
    let env = Env::new();
    env.init();
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            env.json(&["todo", "add", &format!("todo {i}")])["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    env.ok(&["todo", "done", &ids[0]]);
    let open = env.json(&["todo", "list", "--limit", "3"]);
    assert_eq!(titles(&open, "todos"), ["todo 1", "todo 2", "todo 3"]);
    assert_eq!(open["more"], true);
    let all = env.json(&["todo", "list", "--all"]);
    assert_eq!(titles(&all, "todos").len(), 6);
    assert_eq!(all["todos"][5]["status"], "done");
    let done = env.json(&["todo", "list", "--state", "done"]);
    assert_eq!(titles(&done, "todos"), ["todo 0"]);
    env.fails(&["todo", "list", "--state", "later"], 1)
        .stderr_has("in_progress");
}

#[test]
fn stats_show_the_newest_sessions_and_all_of_them_with_the_same_totals() {
    let env = Env::new();
    started(&env);
    for i in 0..3 {
        env.json(&[
            "start",
            "--vendor",
            "claude",
            "--goal",
            &format!("more {i}"),
        ]);
    }
    let st = env.json(&["stats", "--sessions", "2"]);
    assert_eq!(st["overall"]["sessions"], 4);
    assert_eq!(st["sessions"].as_array().unwrap().len(), 2);
    assert_eq!(st["more"], true);
    let all = env.json(&["stats", "--all"]);
    assert_eq!(all["sessions"].as_array().unwrap().len(), 4);
    assert_eq!(all["overall"], st["overall"]);
    assert_eq!(all["acceptance"], st["acceptance"]);
    let wraps = env.json(&["wraps", "--since", "1d"]);
    assert_eq!(wraps["wraps"].as_array().unwrap().len(), 0);
}
