//! Snapshots, diffs, commits and undo in real git repositories and plain folders, with the
//! user's index, stash and refs left alone.
//!
//! Every test runs in a child process of this test binary whose environment is sealed: a
//! temporary HOME and global git config (`GIT_CONFIG_GLOBAL`, `GIT_CONFIG_NOSYSTEM`), so
//! the user's config (hooks, signing, excludes, default branch) cannot change what git does
//! in the tracker or in the tests, and a test may write the global config itself.
//!
//! Unix only: git from the test's PATH, and file modes (wine, where the Windows build is
//! tested, has no git to run).
#![allow(clippy::unwrap_used)]
#![cfg(unix)]

use std::path::{Path, PathBuf};
use std::process::Command;

use coagent_runner::watch::{ChangeWatch, Touched};
use coagent_runner::worktree::{self, Change, FileStatus, Mode, Tracker, WorktreeError};
use coagent_runner::{Cancel, Lang, RunSpec, RunStatus, diff_stat, run};

/// The sealed environment a test body runs in.
struct Env {
    /// The temporary HOME.
    home: PathBuf,
}

impl Env {
    /// The global git config file every git process of the test reads.
    fn global_config(&self) -> PathBuf {
        self.home.join("gitconfig")
    }
}

const SEAL: &str = "COAGENT_TEST_SEALED_HOME";

/// Runs `body` in a sealed child process (this binary, running only the test `name`).
fn sealed(name: &str, body: impl FnOnce(&Env)) {
    sealed_with(name, &[], body);
}

fn sealed_with(name: &str, extra_env: &[(&str, &str)], body: impl FnOnce(&Env)) {
    if let Some(home) = std::env::var_os(SEAL) {
        body(&Env {
            home: PathBuf::from(home),
        });
        return;
    }
    let home = tempfile::tempdir().unwrap();
    std::fs::write(
        home.path().join("gitconfig"),
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n\
         [user]\n\tname = CoAgent Test\n\temail = test@coagent.invalid\n",
    )
    .unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env(SEAL, home.path())
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("xdg"))
        .env("GIT_CONFIG_GLOBAL", home.path().join("gitconfig"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("LC_ALL", "C");
    for var in [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_COMMON_DIR",
        "GIT_CEILING_DIRECTORIES",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} failed in its sealed process:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Declares tests that run sealed.
macro_rules! sealed_tests {
    ($($(#[doc = $doc:literal])* fn $name:ident($env:ident) $body:block)*) => {$(
        $(#[doc = $doc])*
        #[test]
        fn $name() {
            sealed(stringify!($name), |$env: &Env| {
                let _ = $env;
                $body
            });
        }
    )*};
}

/// Runs git in `root` (with the sealed environment) and returns its stdout.
fn git(root: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("git")
        .current_dir(root)
        // `git status` would otherwise refresh the index it reads, and tests compare the
        // index file byte for byte.
        .env("GIT_OPTIONAL_LOCKS", "0")
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

fn git_text(root: &Path, args: &[&str]) -> String {
    String::from_utf8(git(root, args))
        .unwrap()
        .trim()
        .to_owned()
}

/// Runs `script` with `sh` in `root`, as a DO would be.
fn sh(root: &Path, script: &str) {
    let mut spec = RunSpec::new(Lang::Sh, script, root);
    // The script file lives in the hub, which is never part of the diff.
    spec.scratch_dir = root.join(".coagent/tmp");
    let mut log = Vec::new();
    let outcome = run(&spec, &mut log, &Cancel::new()).unwrap();
    assert_eq!(
        outcome.status,
        RunStatus::Succeeded,
        "{}",
        String::from_utf8_lossy(&log)
    );
}

const BINARY: &[u8] = &[0, 159, 146, 150, 255, 0, 1, 2, 3, 254, 10, 13, 0];

/// The project's files, whatever the mode.
fn populate(root: &Path) {
    std::fs::write(root.join(".gitignore"), "build/\n").unwrap();
    std::fs::write(root.join("keep.txt"), "keep\n").unwrap();
    std::fs::write(root.join("edit.txt"), "one\ntwo\nthree\n").unwrap();
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("docs/gone.md"), "# doomed\n").unwrap();
    std::fs::write(root.join("docs/old-name.md"), "# moving\n").unwrap();
    std::fs::write(root.join("logo.bin"), BINARY).unwrap();
    std::fs::write(root.join("run.sh"), "echo run\n").unwrap();
    std::fs::create_dir_all(root.join(".coagent")).unwrap();
    std::fs::write(root.join(".coagent/store.json"), "{}\n").unwrap();
}

/// A git repository with one commit (the hub not in it).
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    git(root, &["init", "-q"]);
    populate(root);
    git(root, &["add", "-A", "--", ".", ":(exclude).coagent"]);
    git(root, &["commit", "-q", "-m", "initial"]);
    dir
}

/// A plain folder (no repository anywhere above it: temp dirs are not in one).
fn plain() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    populate(dir.path());
    dir
}

fn tracker(root: &Path) -> Tracker {
    Tracker::open(root, &root.join(".coagent")).unwrap()
}

/// Both kinds of project, with the mode each must give.
fn both() -> [(tempfile::TempDir, Mode); 2] {
    [(repo(), Mode::Git), (plain(), Mode::Shadow)]
}

/// What a DO does: every kind of change, plus the hub and an ignored folder.
fn act(root: &Path) {
    std::fs::remove_file(root.join("docs/gone.md")).unwrap();
    std::fs::rename(root.join("docs/old-name.md"), root.join("docs/new-name.md")).unwrap();
    std::fs::remove_file(root.join("logo.bin")).unwrap();
    std::fs::write(root.join("edit.txt"), "one\nTWO\nthree\n").unwrap();
    std::fs::write(root.join("new.txt"), "brand new\n").unwrap();
    std::fs::write(root.join("new.bin"), [9u8, 0, 255, 0]).unwrap();
    chmod_x(&root.join("run.sh"));
    std::fs::write(root.join(".coagent/store.json"), "{\"changed\":true}\n").unwrap();
    std::fs::write(root.join(".coagent/new-record.json"), "{}\n").unwrap();
    std::fs::create_dir_all(root.join("build")).unwrap();
    std::fs::write(root.join("build/out.o"), "ignored\n").unwrap();
}

fn chmod_x(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mut perm = std::fs::metadata(path).unwrap().permissions();
    perm.set_mode(perm.mode() | 0o111);
    std::fs::set_permissions(path, perm).unwrap();
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o111 != 0
}

/// What [`act`] must have put in the diff, and must not.
fn assert_act_diff(text: &str) {
    for path in [
        "docs/gone.md",
        "docs/old-name.md",
        "docs/new-name.md",
        "logo.bin",
        "edit.txt",
        "new.txt",
        "new.bin",
        "run.sh",
    ] {
        assert!(
            text.contains(&format!("diff --git a/{path} b/{path}")),
            "{path} missing from:\n{text}"
        );
    }
    assert!(text.contains("GIT binary patch"), "{text}");
    assert!(text.contains("old mode 100644\nnew mode 100755"), "{text}");
    assert!(!text.contains(".coagent"), "the hub leaked into:\n{text}");
    assert!(!text.contains("build/"), "an ignored file leaked:\n{text}");
    assert!(
        !text.contains("keep.txt"),
        "an unchanged file is in:\n{text}"
    );
}

/// What undoing [`act`]'s diff must restore (the hub and ignored files stay as the DO left
/// them).
fn assert_restored(root: &Path) {
    assert_eq!(std::fs::read(root.join("logo.bin")).unwrap(), BINARY);
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    assert_eq!(read("docs/gone.md"), "# doomed\n");
    assert_eq!(read("docs/old-name.md"), "# moving\n");
    assert_eq!(read("edit.txt"), "one\ntwo\nthree\n");
    for gone in ["docs/new-name.md", "new.txt", "new.bin"] {
        assert!(!root.join(gone).exists(), "{gone} survived the undo");
    }
    assert!(!is_executable(&root.join("run.sh")));
    assert_eq!(read(".coagent/store.json"), "{\"changed\":true}\n");
    assert!(root.join("build/out.o").exists());
}

fn capture(t: &Tracker, before: &worktree::Snapshot) -> (Change, String) {
    let change = t.change_since(before).unwrap();
    assert!(change.warnings.is_empty(), "{:?}", change.warnings);
    let text = String::from_utf8_lossy(&change.diff).into_owned();
    (change, text)
}

sealed_tests! {
    /// Every kind of file change, in a repository and in a plain folder, and its undo.
    fn every_kind_of_change_is_captured_and_undone_in_both_modes(env) {
        for (dir, mode) in both() {
            let root = dir.path();
            let t = tracker(root);
            assert_eq!(t.mode(), mode);
            let before = t.snapshot().unwrap();
            act(root);
            let (change, text) = capture(&t, &before);
            assert_act_diff(&text);
            assert!(change.commits.is_empty());
            t.can_undo(&change.diff).unwrap();
            t.undo(&change.diff).unwrap();
            assert_restored(root);
            // After the undo the tree is the before-snapshot again.
            let (_, again) = capture(&t, &before);
            assert_eq!(again, "", "{mode:?}");
        }
    }

    /// The user's index, stash, HEAD and status are exactly as they were.
    fn the_users_index_stash_and_refs_are_untouched(env) {
        let dir = repo();
        let root = dir.path();
        // A stash and a staged change of the user's own, which nothing here may disturb.
        std::fs::write(root.join("keep.txt"), "stashed\n").unwrap();
        git(root, &["stash", "-q"]);
        std::fs::write(root.join("keep.txt"), "keep, staged\n").unwrap();
        git(root, &["add", "keep.txt"]);
        let index_file = std::fs::read(root.join(".git/index")).unwrap();
        let stash = git(root, &["stash", "list"]);
        let refs = git(root, &["for-each-ref"]);
        let head = git(root, &["rev-parse", "HEAD"]);

        let t = tracker(root);
        let before = t.snapshot().unwrap();
        act(root);
        let status_after_act = git(root, &["status", "--porcelain", "--untracked-files=all"]);
        let (change, _) = capture(&t, &before);
        assert_eq!(std::fs::read(root.join(".git/index")).unwrap(), index_file);
        assert_eq!(git(root, &["status", "--porcelain", "--untracked-files=all"]), status_after_act);
        t.undo(&change.diff).unwrap();
        assert_eq!(std::fs::read(root.join(".git/index")).unwrap(), index_file);
        assert_eq!(git(root, &["stash", "list"]), stash);
        assert_eq!(git(root, &["for-each-ref"]), refs);
        assert_eq!(git(root, &["rev-parse", "HEAD"]), head);
        assert_eq!(git_text(root, &["diff", "--cached", "--name-only"]), "keep.txt");
        assert_eq!(std::fs::read_to_string(root.join("keep.txt")).unwrap(), "keep, staged\n");
    }

    /// Bug: a hub listed in `.gitignore` made `git add` refuse, so no diff was captured.
    fn a_hub_ignored_by_gitignore_is_left_out_and_the_diff_captured(env) {
        let dir = repo();
        let root = dir.path();
        std::fs::write(root.join(".gitignore"), "build/\n.coagent/\n").unwrap();
        git(root, &["commit", "-q", "-am", "ignore the hub"]);
        ignored_hub(root);
    }

    /// Bug: the same with the hub in `.git/info/exclude`.
    fn a_hub_ignored_by_info_exclude_is_left_out_and_the_diff_captured(env) {
        let dir = repo();
        let root = dir.path();
        std::fs::write(root.join(".git/info/exclude"), ".coagent\n").unwrap();
        ignored_hub(root);
    }

    /// Bug: the same with the hub in the global excludes file (`core.excludesFile`).
    fn a_hub_ignored_by_the_global_excludes_file_is_left_out_and_the_diff_captured(env) {
        let dir = repo();
        let root = dir.path();
        let excludes = env.home.join("global-ignore");
        std::fs::write(&excludes, ".coagent/\n").unwrap();
        let mut config = std::fs::read_to_string(env.global_config()).unwrap();
        config.push_str(&format!("[core]\n\texcludesFile = {}\n", excludes.display()));
        std::fs::write(env.global_config(), config).unwrap();
        ignored_hub(root);
    }

    /// A hub shared between machines through git is tracked, and still never diffed.
    fn a_committed_hub_stays_out_of_the_diff(env) {
        let dir = repo();
        let root = dir.path();
        git(root, &["add", "-f", ".coagent"]);
        git(root, &["commit", "-q", "-m", "share the hub"]);
        let t = tracker(root);
        let before = t.snapshot().unwrap();
        std::fs::write(root.join(".coagent/store.json"), "{\"run\":1}\n").unwrap();
        std::fs::remove_file(root.join(".coagent/store.json")).unwrap();
        std::fs::write(root.join("keep.txt"), "changed\n").unwrap();
        let (_, text) = capture(&t, &before);
        assert!(text.contains("keep.txt"), "{text}");
        assert!(!text.contains(".coagent"), "{text}");
    }

    /// A plain folder gets a shadow git dir in the hub, with the hub and heavy folders left
    /// out and `.gitignore` honoured; deleting the shadow only costs time.
    fn a_plain_folder_is_tracked_through_a_shadow_in_the_hub(env) {
        let dir = plain();
        let root = dir.path();
        assert!(!worktree::is_git_repo(root));
        let t = tracker(root);
        assert_eq!(t.mode(), Mode::Shadow);
        assert!(!root.join(".coagent/cache/shadow.git").exists(), "open must not write");
        let before = t.snapshot().unwrap();
        assert!(root.join(".coagent/cache/shadow.git/HEAD").is_file());
        let exclude = std::fs::read_to_string(root.join(".coagent/cache/shadow.git/info/exclude")).unwrap();
        assert!(exclude.contains("/.coagent/\n") && exclude.contains("node_modules/\n"), "{exclude}");
        for heavy in ["node_modules/left-pad", ".venv/lib", "venv/lib", "src/__pycache__", "target/debug", ".tox/py", ".mypy_cache/x", ".pytest_cache/v"] {
            std::fs::create_dir_all(root.join(heavy)).unwrap();
            std::fs::write(root.join(heavy).join("file"), "heavy\n").unwrap();
        }
        std::fs::write(root.join("edit.txt"), "edited\n").unwrap();
        let (change, text) = capture(&t, &before);
        assert_eq!(diff_stat(&change.diff).len(), 1, "{text}");
        assert!(text.contains("b/edit.txt"), "{text}");
        assert!(change.commits.is_empty());
        assert!(!root.join(".git").exists(), "the project must not become a repository");

        std::fs::remove_dir_all(root.join(".coagent/cache/shadow.git")).unwrap();
        t.undo(&change.diff).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("edit.txt")).unwrap(), "one\ntwo\nthree\n");
        let before = tracker(root).snapshot().unwrap();
        std::fs::write(root.join("keep.txt"), "again\n").unwrap();
        let (_, text) = capture(&t, &before);
        assert!(text.contains("b/keep.txt") && !text.contains("edit.txt"), "{text}");
    }

    /// A DO that ignores files (one it made before the snapshot, one tracked) does not
    /// make them look deleted; the `.gitignore` change itself is in the diff.
    fn a_do_that_edits_ignore_rules_gets_the_right_diff(env) {
        for (dir, mode) in both() {
            let root = dir.path();
            std::fs::write(root.join("scratch.txt"), "untracked, not ignored\n").unwrap();
            let t = tracker(root);
            let before = t.snapshot().unwrap();
            sh(root, "printf 'build/\\nscratch.txt\\nkeep.txt\\n*.md\\n' > .gitignore\necho more >> scratch.txt\necho fresh > fresh.md\n");
            let (change, text) = capture(&t, &before);
            let stats = diff_stat(&change.diff);
            let paths: Vec<&str> = stats.iter().map(|s| s.path.as_str()).collect();
            // scratch.txt was in the before-snapshot, so its change still shows; a new
            // file the new rules ignore does not; nothing shows as deleted.
            assert_eq!(paths, [".gitignore", "scratch.txt"], "{mode:?}:\n{text}");
            assert!(stats.iter().all(|s| s.status == FileStatus::Modified), "{stats:?}");
            t.undo(&change.diff).unwrap();
            assert_eq!(std::fs::read_to_string(root.join(".gitignore")).unwrap(), "build/\n");
        }
    }

    /// A DO that stages files with `git add` changes the user's index (its own doing), and
    /// the diff is still the work tree's change.
    fn a_do_that_git_adds_gets_the_right_diff(env) {
        let dir = repo();
        let root = dir.path();
        let t = tracker(root);
        let before = t.snapshot().unwrap();
        sh(root, "echo staged > staged.txt\necho two >> edit.txt\ngit add staged.txt edit.txt\necho later >> edit.txt\n");
        let (change, text) = capture(&t, &before);
        let stats = diff_stat(&change.diff);
        assert_eq!(stats.len(), 2, "{text}");
        assert_eq!((stats[0].path.as_str(), stats[0].added), ("edit.txt", 2));
        assert_eq!((stats[1].path.as_str(), stats[1].status), ("staged.txt", FileStatus::Added));
        assert!(change.commits.is_empty());
        assert_eq!(git_text(root, &["diff", "--cached", "--name-only"]), "edit.txt\nstaged.txt");
    }

    /// A DO that commits: the commits are reported oldest first, the diff still shows what
    /// changed in the files, and undo reverses the files (not the commits).
    fn a_do_that_commits_reports_its_commits(env) {
        let dir = repo();
        let root = dir.path();
        let t = tracker(root);
        let start = git_text(root, &["rev-parse", "HEAD"]);
        let before = t.snapshot().unwrap();
        assert_eq!(before.head(), Some(start.as_str()));
        sh(root, "echo one >> edit.txt && git commit -qam one\necho two > two.txt && git add two.txt && git commit -qm two\necho dirty >> keep.txt\n");
        let (change, text) = capture(&t, &before);
        let log = git_text(root, &["rev-list", "--reverse", &format!("{start}..HEAD")]);
        let expected: Vec<&str> = log.lines().collect();
        assert_eq!(expected.len(), 2);
        assert_eq!(change.commits, expected);
        let paths: Vec<String> = diff_stat(&change.diff).into_iter().map(|s| s.path).collect();
        assert_eq!(paths, ["edit.txt", "keep.txt", "two.txt"], "{text}");
        t.undo(&change.diff).unwrap();
        assert!(!root.join("two.txt").exists());
        assert_eq!(git_text(root, &["rev-list", "--count", "HEAD"]), "3");

        // HEAD moved back: nothing gained. HEAD moved elsewhere: the new HEAD alone.
        // A snapshot of the tree as the undo left it.
        let (undone, _) = capture(&t, &change.after);
        let before = undone.after;
        sh(root, "git reset -q --hard HEAD~1\n");
        let (back, _) = capture(&t, &before);
        assert!(back.commits.is_empty(), "{:?}", back.commits);
        sh(root, "git checkout -q --orphan other && git commit -qm unrelated\n");
        let (other, _) = capture(&t, &back.after);
        assert_eq!(other.commits, [git_text(root, &["rev-parse", "HEAD"])]);
    }

    /// HEAD is read from the ref files without a process: a linked work tree (HEAD in its
    /// own git dir, branches in the common one) and packed refs give the same commits.
    fn a_linked_work_tree_with_packed_refs_reports_commits(env) {
        let dir = repo();
        let main = dir.path();
        let linked = main.join("linked");
        git(main, &["worktree", "add", "-q", "-b", "side", linked.to_str().unwrap()]);
        std::fs::write(main.join(".git/info/exclude"), "linked/\n").unwrap();
        git(main, &["pack-refs", "--all"]);
        assert!(!main.join(".git/refs/heads/side").exists(), "the branch is packed");
        let t = tracker(&linked);
        assert_eq!(t.mode(), Mode::Git);
        let before = t.snapshot().unwrap();
        assert_eq!(before.head(), Some(git_text(&linked, &["rev-parse", "HEAD"]).as_str()));
        sh(&linked, "echo side >> keep.txt && git commit -qam side\n");
        let (change, text) = capture(&t, &before);
        assert_eq!(change.commits, [git_text(&linked, &["rev-parse", "HEAD"])]);
        assert!(text.contains("b/keep.txt"), "{text}");
        assert!(!text.contains("linked"), "{text}");
        // The main work tree's HEAD did not move.
        assert_eq!(git_text(main, &["rev-parse", "main"]), git_text(main, &["rev-parse", "HEAD"]));
    }

    /// The first commit of a repository is reported, from a before-snapshot without HEAD.
    fn a_repository_without_commits_works(env) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git(root, &["init", "-q"]);
        std::fs::write(root.join("a.txt"), "a\n").unwrap();
        let t = tracker(root);
        assert_eq!(t.mode(), Mode::Git);
        let before = t.snapshot().unwrap();
        assert_eq!(before.head(), None);
        std::fs::remove_file(root.join("a.txt")).unwrap();
        std::fs::write(root.join("b.txt"), "b\n").unwrap();
        let (change, text) = capture(&t, &before);
        assert!(text.contains("a/a.txt") && text.contains("b/b.txt"), "{text}");
        assert!(change.commits.is_empty());
        t.undo(&change.diff).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("a.txt")).unwrap(), "a\n");
        assert!(!root.join("b.txt").exists());
        // Still no commits, nothing staged.
        assert!(git(root, &["status", "--porcelain"]).starts_with(b"?? a.txt"));

        let before = change.after;
        sh(root, "git add a.txt && git commit -qm first\n");
        let (first, _) = capture(&t, &before);
        assert_eq!(first.commits, [git_text(root, &["rev-parse", "HEAD"])]);
    }

    /// Nested repositories (with and without commits) are never descended into: a change
    /// inside one is not in the diff, its new commit shows as a gitlink change at most, and
    /// undo leaves the nested repository as it is.
    fn nested_repositories_are_left_alone(env) {
        for (dir, mode) in both() {
            let root = dir.path();
            let nested = root.join("vendor/lib");
            std::fs::create_dir_all(&nested).unwrap();
            git(&nested, &["init", "-q"]);
            std::fs::write(nested.join("lib.txt"), "lib\n").unwrap();
            git(&nested, &["add", "lib.txt"]);
            git(&nested, &["commit", "-q", "-m", "lib"]);
            let empty = root.join("vendor/empty");
            std::fs::create_dir_all(&empty).unwrap();
            git(&empty, &["init", "-q"]);
            std::fs::write(empty.join("wip.txt"), "wip\n").unwrap();

            let t = tracker(root);
            let before = t.snapshot().unwrap();
            std::fs::write(nested.join("lib.txt"), "changed inside\n").unwrap();
            std::fs::write(empty.join("wip.txt"), "changed too\n").unwrap();
            std::fs::write(root.join("keep.txt"), "outside\n").unwrap();
            let change = t.change_since(&before).unwrap();
            let text = String::from_utf8_lossy(&change.diff);
            assert!(!text.contains("lib.txt") && !text.contains("wip.txt"), "{mode:?}:\n{text}");
            assert!(text.contains("b/keep.txt"), "{text}");
            // The repository without a commit cannot be recorded, and says so.
            assert!(change.warnings.iter().any(|w| w.contains("vendor/empty")), "{:?}", change.warnings);

            git(&nested, &["commit", "-q", "-am", "moved"]);
            let moved = t.change_since(&change.after).unwrap();
            let text = String::from_utf8_lossy(&moved.diff).into_owned();
            assert!(text.contains("Subproject commit"), "{mode:?}:\n{text}");
            assert!(!text.contains("lib.txt"), "{text}");
            assert!(moved.commits.is_empty(), "a nested repository's commits are not ours");
            // Reversing a gitlink change is a no-op for `git apply` in the work tree: the
            // nested checkout is not ours to move.
            t.undo(&moved.diff).unwrap();
            assert_eq!(std::fs::read_to_string(nested.join("lib.txt")).unwrap(), "changed inside\n");
            assert_eq!(std::fs::read_to_string(empty.join("wip.txt")).unwrap(), "changed too\n");
            assert!(nested.join(".git").is_dir() && empty.join(".git").is_dir());
        }
    }

    /// A caller running DOs in a row uses each change's `after` as the next `before`.
    fn a_chain_of_two_dos_uses_after_as_the_next_before(env) {
        for (dir, mode) in both() {
            let root = dir.path();
            let t = tracker(root);
            let before = t.snapshot().unwrap();
            sh(root, "echo first > first.txt\n");
            let (one, text) = capture(&t, &before);
            assert!(text.contains("b/first.txt"), "{text}");
            sh(root, "echo second > second.txt\necho changed >> first.txt\n");
            let (two, text) = capture(&t, &one.after);
            let stats = diff_stat(&two.diff);
            assert_eq!(stats.len(), 2, "{mode:?}:\n{text}");
            assert_eq!((stats[0].path.as_str(), stats[0].status), ("first.txt", FileStatus::Modified));
            assert_eq!((stats[1].path.as_str(), stats[1].status), ("second.txt", FileStatus::Added));
            // Undo the second, then the first.
            t.undo(&two.diff).unwrap();
            assert_eq!(std::fs::read_to_string(root.join("first.txt")).unwrap(), "first\n");
            t.undo(&one.diff).unwrap();
            assert!(!root.join("first.txt").exists() && !root.join("second.txt").exists());
        }
    }

    fn undo_refuses_when_a_changed_file_moved_on(env) {
        for (dir, _) in both() {
            let root = dir.path();
            let t = tracker(root);
            let before = t.snapshot().unwrap();
            act(root);
            let (change, _) = capture(&t, &before);
            std::fs::write(root.join("edit.txt"), "one\nTWO, edited by hand\nthree\n").unwrap();
            let err = t.can_undo(&change.diff).unwrap_err();
            match &err {
                WorktreeError::CannotUndo { reason } => assert!(reason.contains("edit.txt"), "{reason}"),
                other => panic!("unexpected {other:?}"),
            }
            assert!(err.to_string().contains("hint"), "{err}");
            // Refusing changes nothing.
            assert!(t.undo(&change.diff).is_err());
            assert!(!root.join("logo.bin").exists());
            assert!(root.join("new.txt").exists());
        }
    }

    fn undo_goes_ahead_when_only_unrelated_files_changed(env) {
        let dir = repo();
        let root = dir.path();
        let t = tracker(root);
        let before = t.snapshot().unwrap();
        std::fs::remove_file(root.join("docs/gone.md")).unwrap();
        let (change, _) = capture(&t, &before);
        std::fs::write(root.join("keep.txt"), "keep, edited later\n").unwrap();
        t.undo(&change.diff).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("docs/gone.md")).unwrap(), "# doomed\n");
        assert_eq!(std::fs::read_to_string(root.join("keep.txt")).unwrap(), "keep, edited later\n");
    }

    fn nothing_changed_means_nothing_to_undo(env) {
        for (dir, _) in both() {
            let t = tracker(dir.path());
            let before = t.snapshot().unwrap();
            let change = t.change_since(&before).unwrap();
            assert!(change.diff.is_empty());
            assert!(matches!(t.can_undo(&change.diff), Err(WorktreeError::NothingToUndo)));
        }
    }

    fn a_project_in_a_subfolder_of_the_repository_is_captured_from_there(env) {
        let dir = repo();
        let top = dir.path();
        let root = top.join("docs");
        std::fs::create_dir_all(root.join(".coagent")).unwrap();
        std::fs::write(top.join(".gitignore"), "build/\n.coagent/\n").unwrap();
        git(top, &["commit", "-qam", "ignore hubs"]);
        let t = tracker(&root);
        assert_eq!(t.mode(), Mode::Git);
        let before = t.snapshot().unwrap();
        std::fs::remove_file(root.join("gone.md")).unwrap();
        std::fs::write(root.join(".coagent/x"), "hub\n").unwrap();
        std::fs::write(top.join("keep.txt"), "outside the project\n").unwrap();
        let (change, text) = capture(&t, &before);
        // Paths are relative to the repository's top level, and only the project is in it.
        assert!(text.contains("a/docs/gone.md"), "{text}");
        assert!(!text.contains("keep.txt") && !text.contains(".coagent"), "{text}");
        t.undo(&change.diff).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("gone.md")).unwrap(), "# doomed\n");
        assert_eq!(std::fs::read_to_string(top.join("keep.txt")).unwrap(), "outside the project\n");
    }

    /// A snapshot belongs to the tracker of its project.
    fn another_projects_snapshot_is_refused(env) {
        let (a, b) = (repo(), plain());
        let before = tracker(a.path()).snapshot().unwrap();
        assert!(matches!(
            tracker(b.path()).change_since(&before),
            Err(WorktreeError::ForeignSnapshot { .. })
        ));
    }

    /// The previous free functions still work (the core calls them until it switches).
    fn the_previous_free_functions_still_work(env) {
        let dir = repo();
        let root = dir.path();
        std::fs::write(root.join(".git/info/exclude"), ".coagent\n").unwrap();
        assert!(worktree::is_git_repo(root));
        let before = worktree::snapshot(root, &[".coagent"]).unwrap();
        act(root);
        let diff = worktree::diff_since(root, &before).unwrap();
        assert_act_diff(&String::from_utf8_lossy(&diff));
        worktree::can_undo(root, &diff).unwrap();
        worktree::undo(root, &diff).unwrap();
        assert_restored(root);
        let plain = plain();
        assert!(matches!(
            worktree::snapshot(plain.path(), &[".coagent"]),
            Err(WorktreeError::NotARepo { .. })
        ));
    }
}

/// The body of the three ignored-hub tests: the hub changes, so does the project.
fn ignored_hub(root: &Path) {
    let t = tracker(root);
    let before = t.snapshot().unwrap();
    act(root);
    let (change, text) = capture(&t, &before);
    assert_act_diff(&text);
    t.undo(&change.diff).unwrap();
    assert_restored(root);
}

#[test]
fn git_missing_is_a_typed_error() {
    sealed_with(
        "git_missing_is_a_typed_error",
        &[("PATH", "/nonexistent")],
        |_| {
            let dir = tempfile::tempdir().unwrap();
            let err = Tracker::open(dir.path(), &dir.path().join(".coagent")).unwrap_err();
            assert!(matches!(err, WorktreeError::GitMissing(_)), "{err:?}");
            assert!(err.to_string().contains("hint: install git"), "{err}");
        },
    );
}

/// Snapshots write their tree in the background as soon as they are taken; one dropped
/// at once (a run refused, a DO that could not start) still removes its private index,
/// and one whose tree is asked at once gets it. Run in a temporary folder of its own, so
/// the snapshots' folders can be counted.
#[test]
fn snapshots_dropped_while_their_tree_is_written_leave_no_index_behind() {
    let scratch = std::env::temp_dir().join(format!("coagent-tree-drop-{}", std::process::id()));
    let scratch_text = scratch.display().to_string();
    std::fs::create_dir_all(&scratch).unwrap();
    sealed_with(
        "snapshots_dropped_while_their_tree_is_written_leave_no_index_behind",
        &[("TMPDIR", scratch_text.as_str())],
        |_| {
            let dir = repo();
            let root = dir.path();
            let t = tracker(root);
            for _ in 0..20 {
                drop(t.snapshot().unwrap());
            }
            let before = t.snapshot().unwrap();
            t.prepare(&before).unwrap();
            act(root);
            let (change, text) = capture(&t, &before);
            assert_act_diff(&text);
            drop((before, change));
            let left: Vec<String> = std::fs::read_dir(std::env::temp_dir())
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(worktree::SNAPSHOT_PREFIX))
                .collect();
            assert!(left.is_empty(), "left behind: {left:?}");
        },
    );
    let _ = std::fs::remove_dir_all(&scratch);
}

#[test]
fn diff_stat_reads_a_realistic_diff() {
    let diff = concat!(
        "diff --git a/docs/gone.md b/docs/gone.md\n",
        "deleted file mode 100644\n",
        "index 3f1b2c0000000000000000000000000000000000..0000000000000000000000000000000000000000\n",
        "--- a/docs/gone.md\n",
        "+++ /dev/null\n",
        "@@ -1,2 +0,0 @@\n",
        "-# doomed\n",
        "--- not a header, a removed line\n",
        "diff --git a/edit.txt b/edit.txt\n",
        "index 1111111111111111111111111111111111111111..2222222222222222222222222222222222222222 100644\n",
        "--- a/edit.txt\n",
        "+++ b/edit.txt\n",
        "@@ -1,4 +1,4 @@\n",
        " one\n",
        "-two\n",
        "+TWO\n",
        "+++ an added line that looks like a header\n",
        " three\n",
        "-four\n",
        "\\ No newline at end of file\n",
        "@@ -10 +10,2 @@ fn context()\n",
        " ten\n",
        "+eleven\n",
        "diff --git a/logo.bin b/logo.bin\n",
        "new file mode 100644\n",
        "index 0000000000000000000000000000000000000000..3333333333333333333333333333333333333333\n",
        "GIT binary patch\n",
        "literal 13\n",
        "Uc${NkU|?uq0E\n",
        "\n",
        "literal 0\n",
        "HcmV?d00001\n",
        "\n",
        "diff --git a/run.sh b/run.sh\n",
        "old mode 100644\n",
        "new mode 100755\n",
        "diff --git a/with space/x y.txt b/with space/x y.txt\n",
        "new file mode 100755\n",
        "index 0000000000000000000000000000000000000000..4444444444444444444444444444444444444444\n",
        "--- /dev/null\n",
        "+++ b/with space/x y.txt\t\n",
        "@@ -0,0 +1 @@\n",
        "+x\n",
        "diff --git \"a/caf\\303\\251.txt\" \"b/caf\\303\\251.txt\"\n",
        "index 5555555555555555555555555555555555555555..6666666666666666666666666666666666666666 100644\n",
        "Binary files \"a/caf\\303\\251.txt\" and \"b/caf\\303\\251.txt\" differ\n",
    );
    let stats = diff_stat(diff.as_bytes());
    let rows: Vec<(&str, u64, u64, bool, FileStatus)> = stats
        .iter()
        .map(|s| (s.path.as_str(), s.added, s.removed, s.binary, s.status))
        .collect();
    assert_eq!(
        rows,
        [
            ("docs/gone.md", 0, 2, false, FileStatus::Deleted),
            ("edit.txt", 3, 2, false, FileStatus::Modified),
            ("logo.bin", 0, 0, true, FileStatus::Added),
            ("run.sh", 0, 0, false, FileStatus::ModeChanged),
            ("with space/x y.txt", 1, 0, false, FileStatus::Added),
            ("café.txt", 0, 0, true, FileStatus::Modified),
        ]
    );
}

sealed_tests! {
    /// diff_stat on what the tracker itself produced for [`act`].
    fn diff_stat_reads_the_trackers_own_diff(env) {
        let dir = repo();
        let root = dir.path();
        let t = tracker(root);
        let before = t.snapshot().unwrap();
        act(root);
        std::fs::write(root.join("run.sh"), "echo run\necho more\n").unwrap();
        let (change, _) = capture(&t, &before);
        let stats = diff_stat(&change.diff);
        let find = |p: &str| stats.iter().find(|s| s.path == p).unwrap();
        assert_eq!(find("docs/gone.md").status, FileStatus::Deleted);
        assert_eq!(find("docs/new-name.md").status, FileStatus::Added);
        assert_eq!((find("edit.txt").added, find("edit.txt").removed), (1, 1));
        assert!(find("new.bin").binary && find("logo.bin").binary);
        assert_eq!(find("logo.bin").status, FileStatus::Deleted);
        let run_sh = find("run.sh");
        assert_eq!((run_sh.status, run_sh.added, run_sh.removed), (FileStatus::ModeChanged, 1, 0));
        assert_eq!(stats.len(), 8);
    }
}

fn watch(root: &Path) -> ChangeWatch {
    let w = ChangeWatch::start(root, &root.join(".coagent"));
    assert!(w.is_active(), "inotify is there on Linux");
    w
}

sealed_tests! {
    /// What the watch names is enough: git reading only those places finds the same
    /// change, byte for byte, as reading the whole tree.
    fn the_watched_places_give_the_whole_change_in_both_modes(env) {
        for (dir, mode) in both() {
            let root = dir.path();
            let t = tracker(root);
            let before = t.snapshot().unwrap();
            let mut w = watch(root);
            w.reset();
            act(root);
            let Touched::Under(places) = w.touched() else {
                panic!("{mode:?}: every change happened in a watched folder");
            };
            assert!(!places.iter().any(|p| p.starts_with(".coagent")), "{places:?}");
            let narrow = t.change_since_under(&before, Some(&places)).unwrap();
            let (_, whole) = capture(&t, &before);
            assert_eq!(String::from_utf8_lossy(&narrow.diff), whole, "{mode:?} via {places:?}");
            assert_act_diff(&whole);
        }
    }

    /// A DO that only reads, or only writes into the hub, touched nothing: no snapshot is
    /// needed after it.
    fn a_do_that_only_reads_touches_nothing(env) {
        for (dir, _) in both() {
            let root = dir.path();
            let mut w = watch(root);
            w.reset();
            sh(root, "cat edit.txt docs/gone.md >/dev/null; ls -R >/dev/null; echo out > .coagent/result.txt");
            assert_eq!(w.touched(), Touched::Nothing);
        }
    }

    /// A finished watch no longer answers "nothing" (whatever runs after it gets a
    /// snapshot) until a reset starts it afresh.
    fn a_finished_watch_answers_anything(env) {
        let dir = repo();
        let root = dir.path();
        let mut w = watch(root);
        w.reset();
        assert_eq!(w.touched(), Touched::Nothing);
        w.finish();
        assert!(!w.is_active());
        sh(root, "echo late >> edit.txt");
        assert_eq!(w.touched(), Touched::Anything);
        // A reset starts watching afresh.
        w.reset();
        assert!(w.is_active());
        assert_eq!(w.touched(), Touched::Nothing);
    }

    /// A folder a DO makes is watched for the next DO: a change inside it is not missed.
    fn a_new_folder_is_watched_for_the_next_do(env) {
        let dir = repo();
        let root = dir.path();
        let t = tracker(root);
        let before = t.snapshot().unwrap();
        let mut w = watch(root);
        w.reset();
        sh(root, "mkdir -p notes/deep && echo one > notes/deep/a.txt");
        assert_eq!(w.touched(), Touched::Under(vec!["notes".to_string()]));
        let first = t.change_since_under(&before, Some(&["notes".to_string()])).unwrap();
        assert!(String::from_utf8_lossy(&first.diff).contains("+one"));
        w.reset();
        sh(root, "echo two >> notes/deep/a.txt");
        let Touched::Under(places) = w.touched() else {
            panic!("the new folder's change was seen");
        };
        assert_eq!(places, vec!["notes/deep/a.txt".to_string()]);
        let second = t.change_since_under(&first.after, Some(&places)).unwrap();
        assert!(String::from_utf8_lossy(&second.diff).contains("+two"), "{places:?}");
    }

    /// A file edited in a folder is named itself (git then reads that file alone); one
    /// that came and went (an editor's or `sed -i`'s temporary file) names its folder; many
    /// files name their folders.
    fn the_watch_names_files_that_are_still_there_and_folders_for_the_rest(env) {
        let dir = repo();
        let root = dir.path();
        let mut w = watch(root);
        w.reset();
        sh(root, "echo more >> docs/gone.md && echo tmp > docs/.swap && rm docs/.swap");
        assert_eq!(w.touched(), Touched::Under(vec!["docs".to_string()]));
        w.rearm();
        w.reset();
        sh(root, "echo more >> docs/old-name.md");
        assert_eq!(w.touched(), Touched::Under(vec!["docs/old-name.md".to_string()]));
        w.rearm();
        w.reset();
        sh(root, "for i in $(seq 100); do echo $i > docs/many-$i.txt; done");
        assert_eq!(w.touched(), Touched::Under(vec!["docs".to_string()]));
    }

    /// A place git refuses (an ignored file named on its own) falls back to the whole tree.
    fn an_ignored_place_falls_back_to_the_whole_tree(env) {
        let dir = repo();
        let root = dir.path();
        std::fs::write(root.join(".gitignore"), "build/\n*.log\n").unwrap();
        let t = tracker(root);
        let before = t.snapshot().unwrap();
        std::fs::write(root.join("run.log"), "ignored\n").unwrap();
        std::fs::write(root.join("edit.txt"), "changed\n").unwrap();
        let places = vec!["run.log".to_string()];
        let change = t.change_since_under(&before, Some(&places)).unwrap();
        let text = String::from_utf8_lossy(&change.diff);
        assert!(text.contains("+changed"), "read whole after git refused the place:\n{text}");
        assert!(!text.contains("run.log"), "{text}");
    }
}

/// Files over a diff limit of 1,000 bytes, changed every way: grown past it, cut below it,
/// deleted, new in a new folder; and one small edit beside them.
fn change_big_files(root: &Path) -> Vec<String> {
    std::fs::write(root.join("grown.txt"), "x".repeat(5_000)).unwrap();
    std::fs::write(root.join("cut.txt"), "short now\n").unwrap();
    std::fs::remove_file(root.join("doomed.txt")).unwrap();
    std::fs::write(root.join("small.txt"), "small, edited\n").unwrap();
    std::fs::create_dir_all(root.join("fresh/deep")).unwrap();
    std::fs::write(root.join("fresh/deep/big.bin"), vec![7u8; 4_000]).unwrap();
    ["grown.txt", "cut.txt", "doomed.txt", "small.txt", "fresh"]
        .map(String::from)
        .to_vec()
}

fn seed_big_files(root: &Path) {
    std::fs::write(root.join("grown.txt"), "small\n").unwrap();
    std::fs::write(root.join("cut.txt"), "y".repeat(3_000)).unwrap();
    std::fs::write(root.join("doomed.txt"), "z".repeat(2_000)).unwrap();
    std::fs::write(root.join("small.txt"), "small\n").unwrap();
}

sealed_tests! {
    /// Reading only the changed files, the tracker tells which are over the diff limit
    /// (old size or new) as reading the whole tree does: same diff, same warnings, in both
    /// modes and from a project in a subfolder of its repository.
    fn files_over_the_diff_limit_are_found_the_same_from_the_watched_places(env) {
        let sub = repo();
        std::fs::create_dir_all(sub.path().join("docs/.coagent")).unwrap();
        let projects = [
            (repo(), PathBuf::new()),
            (plain(), PathBuf::new()),
            (sub, PathBuf::from("docs")),
        ];
        for (dir, inner) in projects {
            let root = dir.path().join(&inner);
            seed_big_files(&root);
            let t = tracker(&root).with_diff_limit(1_000);
            let before = t.snapshot().unwrap();
            let places = change_big_files(&root);
            let narrow = t.change_since_under(&before, Some(&places)).unwrap();
            let whole = t.change_since(&before).unwrap();
            let text = String::from_utf8_lossy(&narrow.diff);
            assert_eq!(text, String::from_utf8_lossy(&whole.diff), "{inner:?}");
            assert_eq!(narrow.warnings, whole.warnings, "{inner:?}");
            assert!(text.contains("+small, edited"), "{text}");
            for big in ["grown.txt", "cut.txt", "doomed.txt", "fresh/deep/big.bin"] {
                assert!(!text.contains(big), "{big} is left out: {text}");
                let path = inner.join(big).to_string_lossy().into_owned();
                assert!(
                    narrow.warnings.iter().any(|w| w.starts_with(&format!("{path} changed"))),
                    "{path}: {:?}",
                    narrow.warnings
                );
            }
        }
    }
}
