//! Snapshots, diffs and undo in real git repositories, with the user's index left alone.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

use coagent_runner::worktree::{self, WorktreeError};

/// Runs git in `root` with a sealed configuration, so the user's global config (hooks,
/// signing, default branch) cannot change what the test sees.
fn git(root: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git")
        .current_dir(root)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        // `git status` would otherwise refresh the index it reads, and this test compares
        // the index file byte for byte.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .args([
            "-c",
            "user.name=CoAgent Test",
            "-c",
            "user.email=test@coagent.invalid",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const BINARY: &[u8] = &[0, 159, 146, 150, 255, 0, 1, 2, 3, 254, 10, 13, 0];

fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q"]);
    std::fs::write(root.join(".gitignore"), "target/\n").unwrap();
    std::fs::write(root.join("keep.txt"), "keep\n").unwrap();
    std::fs::write(root.join("edit.txt"), "one\ntwo\nthree\n").unwrap();
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("docs/gone.md"), "# doomed\n").unwrap();
    std::fs::write(root.join("logo.bin"), BINARY).unwrap();
    std::fs::create_dir_all(root.join(".coagent")).unwrap();
    std::fs::write(root.join(".coagent/store.json"), "{}\n").unwrap();
    git(root, &["add", "-A", "--", ".", ":(exclude).coagent"]);
    git(root, &["commit", "-q", "-m", "initial"]);
    dir
}

/// What the DO does: delete, modify, add (tracked and untracked, text and binary),
/// touch the hub and an ignored folder.
fn act(root: &Path) {
    std::fs::remove_file(root.join("docs/gone.md")).unwrap();
    std::fs::remove_file(root.join("logo.bin")).unwrap();
    std::fs::write(root.join("edit.txt"), "one\nTWO\nthree\n").unwrap();
    std::fs::write(root.join("new.txt"), "brand new\n").unwrap();
    std::fs::write(root.join("new.bin"), [9u8, 0, 255, 0]).unwrap();
    std::fs::write(root.join(".coagent/store.json"), "{\"changed\":true}\n").unwrap();
    std::fs::write(root.join(".coagent/new-record.json"), "{}\n").unwrap();
    std::fs::create_dir_all(root.join("target")).unwrap();
    std::fs::write(root.join("target/build.o"), "ignored\n").unwrap();
}

#[test]
fn the_diff_captures_the_work_tree_change_and_undo_restores_it() {
    let dir = repo();
    let root = dir.path();
    // A staged change of the user's own, which nothing here may disturb.
    std::fs::write(root.join("keep.txt"), "keep, staged\n").unwrap();
    git(root, &["add", "keep.txt"]);
    let index_before = git(root, &["diff", "--cached", "--binary"]);
    let index_file = std::fs::read(root.join(".git/index")).unwrap();

    assert!(worktree::is_git_repo(root));
    let before = worktree::snapshot(root, &[".coagent"]).unwrap();
    act(root);
    let status_after_act = git(root, &["status", "--porcelain", "--untracked-files=all"]);
    let after = worktree::snapshot(root, &[".coagent"]).unwrap();
    let diff = worktree::diff(root, &before, &after).unwrap();
    let text = String::from_utf8_lossy(&diff);

    for path in ["docs/gone.md", "logo.bin", "edit.txt", "new.txt", "new.bin"] {
        assert!(
            text.contains(&format!("b/{path}")),
            "{path} missing from:\n{text}"
        );
    }
    assert!(text.contains("GIT binary patch"), "{text}");
    assert!(
        !text.contains(".coagent"),
        "the hub leaked into the diff:\n{text}"
    );
    assert!(
        !text.contains("target/"),
        "an ignored file leaked into the diff:\n{text}"
    );
    assert!(
        !text.contains("keep.txt"),
        "an unchanged file is in the diff:\n{text}"
    );

    // The user's index, stash and status are exactly as they were.
    assert_eq!(git(root, &["diff", "--cached", "--binary"]), index_before);
    assert_eq!(std::fs::read(root.join(".git/index")).unwrap(), index_file);
    assert_eq!(
        git(root, &["status", "--porcelain", "--untracked-files=all"]),
        status_after_act
    );
    assert!(git(root, &["stash", "list"]).is_empty());

    worktree::can_undo(root, &diff).unwrap();
    worktree::undo(root, &diff).unwrap();
    assert_eq!(std::fs::read(root.join("logo.bin")).unwrap(), BINARY);
    assert_eq!(
        std::fs::read_to_string(root.join("docs/gone.md")).unwrap(),
        "# doomed\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("edit.txt")).unwrap(),
        "one\ntwo\nthree\n"
    );
    assert!(!root.join("new.txt").exists());
    assert!(!root.join("new.bin").exists());
    // Undo leaves the hub and ignored files alone, and the index untouched.
    assert_eq!(
        std::fs::read_to_string(root.join(".coagent/store.json")).unwrap(),
        "{\"changed\":true}\n"
    );
    assert!(root.join("target/build.o").exists());
    assert_eq!(git(root, &["diff", "--cached", "--binary"]), index_before);
    let after_undo = worktree::snapshot(root, &[".coagent"]).unwrap();
    assert_eq!(after_undo.tree, before.tree);
}

#[test]
fn undo_refuses_when_a_changed_file_moved_on() {
    let dir = repo();
    let root = dir.path();
    let before = worktree::snapshot(root, &[".coagent"]).unwrap();
    act(root);
    let after = worktree::snapshot(root, &[".coagent"]).unwrap();
    let diff = worktree::diff(root, &before, &after).unwrap();

    std::fs::write(root.join("edit.txt"), "one\nTWO, edited by hand\nthree\n").unwrap();
    let err = worktree::can_undo(root, &diff).unwrap_err();
    match &err {
        WorktreeError::CannotUndo { reason } => assert!(reason.contains("edit.txt"), "{reason}"),
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("hint"), "{err}");
    // Refusing changes nothing.
    assert!(worktree::undo(root, &diff).is_err());
    assert!(!root.join("logo.bin").exists());
    assert!(root.join("new.txt").exists());
}

#[test]
fn undo_goes_ahead_when_only_unrelated_files_changed() {
    let dir = repo();
    let root = dir.path();
    let before = worktree::snapshot(root, &[".coagent"]).unwrap();
    std::fs::remove_file(root.join("docs/gone.md")).unwrap();
    let after = worktree::snapshot(root, &[".coagent"]).unwrap();
    let diff = worktree::diff(root, &before, &after).unwrap();
    std::fs::write(root.join("keep.txt"), "keep, edited later\n").unwrap();
    worktree::undo(root, &diff).unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("docs/gone.md")).unwrap(),
        "# doomed\n"
    );
    assert_eq!(
        std::fs::read_to_string(root.join("keep.txt")).unwrap(),
        "keep, edited later\n"
    );
}

#[test]
fn a_repository_without_commits_works() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q"]);
    std::fs::write(root.join("a.txt"), "a\n").unwrap();
    let before = worktree::snapshot(root, &[".coagent"]).unwrap();
    std::fs::remove_file(root.join("a.txt")).unwrap();
    std::fs::write(root.join("b.txt"), "b\n").unwrap();
    let after = worktree::snapshot(root, &[".coagent"]).unwrap();
    let diff = worktree::diff(root, &before, &after).unwrap();
    let text = String::from_utf8_lossy(&diff);
    assert!(text.contains("a.txt") && text.contains("b.txt"), "{text}");
    worktree::undo(root, &diff).unwrap();
    assert_eq!(std::fs::read_to_string(root.join("a.txt")).unwrap(), "a\n");
    assert!(!root.join("b.txt").exists());
    // Still no commits, nothing staged.
    assert!(git(root, &["status", "--porcelain"]).starts_with(b"?? a.txt"));
}

#[test]
fn a_committed_hub_stays_out_of_the_diff() {
    let dir = repo();
    let root = dir.path();
    // A hub shared between machines through git is tracked.
    git(root, &["add", "-f", ".coagent"]);
    git(root, &["commit", "-q", "-m", "share the hub"]);
    let before = worktree::snapshot(root, &[".coagent"]).unwrap();
    std::fs::write(root.join(".coagent/store.json"), "{\"run\":1}\n").unwrap();
    std::fs::write(root.join("keep.txt"), "changed\n").unwrap();
    let after = worktree::snapshot(root, &[".coagent"]).unwrap();
    let text = String::from_utf8(worktree::diff(root, &before, &after).unwrap()).unwrap();
    assert!(text.contains("keep.txt"), "{text}");
    assert!(!text.contains(".coagent"), "{text}");
}

#[test]
fn nothing_changed_means_nothing_to_undo() {
    let dir = repo();
    let root = dir.path();
    let before = worktree::snapshot(root, &[".coagent"]).unwrap();
    let after = worktree::snapshot(root, &[".coagent"]).unwrap();
    let diff = worktree::diff(root, &before, &after).unwrap();
    assert!(diff.is_empty());
    assert!(matches!(
        worktree::can_undo(root, &diff),
        Err(WorktreeError::NothingToUndo)
    ));
}

#[test]
fn a_plain_folder_is_not_a_repository() {
    let dir = tempfile::tempdir().unwrap();
    assert!(!worktree::is_git_repo(dir.path()));
    assert!(matches!(
        worktree::snapshot(dir.path(), &[".coagent"]),
        Err(WorktreeError::NotARepo { .. })
    ));
}

#[test]
fn a_do_that_deletes_project_files_is_captured_and_undone() {
    use coagent_runner::{Cancel, Lang, RunSpec, RunStatus, run};
    let dir = repo();
    let root = dir.path();
    let before = worktree::snapshot(root, &[".coagent"]).unwrap();
    let mut spec = RunSpec::new(
        Lang::Sh,
        "rm -rf docs logo.bin\necho cleaned > notes.txt\n",
        root,
    );
    // The script file lives in the hub, which is never part of the diff.
    spec.scratch_dir = root.join(".coagent/tmp");
    let outcome = run(&spec, &mut std::io::sink(), &Cancel::new()).unwrap();
    assert_eq!(outcome.status, RunStatus::Succeeded);
    assert!(!root.join("logo.bin").exists());

    let after = worktree::snapshot(root, &[".coagent"]).unwrap();
    let diff = worktree::diff(root, &before, &after).unwrap();
    let text = String::from_utf8_lossy(&diff);
    assert!(
        text.contains("deleted file mode") && text.contains("docs/gone.md"),
        "{text}"
    );
    assert!(
        text.contains("logo.bin") && text.contains("notes.txt"),
        "{text}"
    );
    assert!(!text.contains(".coagent"), "{text}");

    worktree::can_undo(root, &diff).unwrap();
    worktree::undo(root, &diff).unwrap();
    assert_eq!(std::fs::read(root.join("logo.bin")).unwrap(), BINARY);
    assert_eq!(
        std::fs::read_to_string(root.join("docs/gone.md")).unwrap(),
        "# doomed\n"
    );
    assert!(!root.join("notes.txt").exists());
    assert!(
        git(
            root,
            &["status", "--porcelain", "--", ".", ":(exclude).coagent"]
        )
        .is_empty()
    );
}

#[test]
fn a_project_in_a_subfolder_of_the_repository_is_captured_from_there() {
    let dir = repo();
    let top = dir.path();
    let root = top.join("docs");
    std::fs::write(root.join("more.md"), "more\n").unwrap();
    git(top, &["add", "docs/more.md"]);
    git(top, &["commit", "-q", "-m", "more"]);

    let before = worktree::snapshot(&root, &[".coagent"]).unwrap();
    std::fs::remove_file(root.join("gone.md")).unwrap();
    std::fs::write(top.join("keep.txt"), "outside the project\n").unwrap();
    let after = worktree::snapshot(&root, &[".coagent"]).unwrap();
    let diff = worktree::diff(&root, &before, &after).unwrap();
    let text = String::from_utf8_lossy(&diff);
    // Paths are relative to the repository's top level, and only the project is in it.
    assert!(text.contains("a/docs/gone.md"), "{text}");
    assert!(!text.contains("keep.txt"), "{text}");
    worktree::undo(&root, &diff).unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("gone.md")).unwrap(),
        "# doomed\n"
    );
    assert_eq!(
        std::fs::read_to_string(top.join("keep.txt")).unwrap(),
        "outside the project\n"
    );
}

#[test]
fn diff_since_gives_the_same_bytes_as_two_snapshots() {
    let dir = repo();
    let root = dir.path();
    let before = worktree::snapshot(root, &[".coagent"]).unwrap();
    act(root);
    let quick = worktree::diff_since(root, &before).unwrap();
    let after = worktree::snapshot(root, &[".coagent"]).unwrap();
    let full = worktree::diff(root, &before, &after).unwrap();
    assert!(!full.is_empty());
    assert_eq!(quick, full);
}
