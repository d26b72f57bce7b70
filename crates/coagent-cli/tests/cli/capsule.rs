//! The Policy Capsule: check, bump, diff, and `start` refusing an unbumped edit.

use crate::harness::Env;

#[test]
fn edited_policy_fails_check_and_start_until_bumped() {
    let env = Env::new();
    env.init();
    env.ok(&["capsule", "check"]).stdout_has("v1.0.0");
    let policy = env.hub().join("policy.md");
    let mut text = std::fs::read_to_string(&policy).unwrap();
    text.push_str("\n7. **Tests first.** Every DO that changes code runs the tests.\n");
    std::fs::write(&policy, text).unwrap();
    env.fails(&["capsule", "check"], 1)
        .stdout_has("capsule bump minor");
    env.fails(&["start", "--vendor", "claude"], 1)
        .stderr_has("capsule bump minor");
    env.ok(&["capsule", "diff"])
        .stdout_has("+7. **Tests first.**");
    let b = env.json(&["capsule", "bump", "minor"]);
    assert_eq!(b["to"], "1.1.0");
    assert_eq!(b["echo"], "Policy v1.1 loaded.");
    env.ok(&["capsule", "check"]);
    let s = env.json(&["start", "--vendor", "claude"]);
    assert_eq!(s["capsule"]["version"], "1.1.0");
    assert_eq!(s["echo"], "Policy v1.1 loaded.");
    env.ok(&["capsule", "diff", "1.0.0", "1.1.0"])
        .stdout_has("+7.");
}

#[test]
fn whitespace_only_edits_do_not_change_the_capsule() {
    let env = Env::new();
    env.init();
    let policy = env.hub().join("policy.md");
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(&policy, text.replace('\n', "  \r\n")).unwrap();
    env.ok(&["capsule", "check"]);
}
