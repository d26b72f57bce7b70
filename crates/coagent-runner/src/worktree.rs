//! The change a DO made to a git work tree, and its undo.
//!
//! This module owns snapshots of the work tree taken through a private, temporary index
//! (`GIT_INDEX_FILE` in a temp dir, seeded with a copy of the user's index so unchanged
//! files need not be re-read), the `git diff --binary` between two snapshots, and
//! reversing such a diff in the work tree. It never touches the user's index, stash, HEAD
//! or refs (the only trace it leaves is unreachable objects in the object store, which
//! `git gc` collects), and the hub (`.coagent/`, or whatever is excluded) is never part
//! of a snapshot or a diff.
//!
//! Untracked files that are not ignored are hashed into the object store by a snapshot,
//! so a DO that writes large untracked files grows `.git/objects` until `git gc` runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A snapshot of the work tree: the id of a git tree object holding every tracked and
/// untracked (not ignored) file, minus the excluded paths.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The tree object id.
    pub tree: String,
    /// Excluded paths, relative to the snapshot's root, as given.
    exclude: Vec<String>,
}

impl Snapshot {
    /// A snapshot from a tree id kept elsewhere (e.g. recorded in the store), with the
    /// paths it excluded.
    pub fn from_tree(tree: impl Into<String>, exclude: &[&str]) -> Self {
        Snapshot {
            tree: tree.into(),
            exclude: exclude.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// What went wrong with a snapshot, diff or undo.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorktreeError {
    /// The project root is not inside a git work tree.
    #[error("{} is not inside a git work tree; hint: the DO's diff is only captured in a git repository", root.display())]
    NotARepo {
        /// The project root.
        root: PathBuf,
    },
    /// `git` could not be started.
    #[error("cannot run git; hint: install git and make sure it is on PATH")]
    GitMissing(#[source] std::io::Error),
    /// A git command failed.
    #[error("`git {args}` failed: {stderr}")]
    Git {
        /// The arguments, joined by spaces.
        args: String,
        /// What git said.
        stderr: String,
    },
    /// A temporary file could not be made.
    #[error("cannot prepare a temporary index")]
    Temp(#[source] std::io::Error),
    /// The diff is empty: there is nothing to undo.
    #[error("this DO changed nothing in the work tree; there is nothing to undo")]
    NothingToUndo,
    /// The tree moved on since the DO ran, in a way that makes reversing its diff unsafe.
    #[error(
        "cannot undo: the files this DO changed were changed again since ({reason}); hint: revert them by hand, or with git"
    )]
    CannotUndo {
        /// What git found in the way.
        reason: String,
    },
}

/// Whether `root` is inside a git work tree.
pub fn is_git_repo(root: &Path) -> bool {
    git(root)
        .args(["rev-parse", "--is-inside-work-tree"])
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"true"))
}

/// Takes a snapshot of the work tree under `root` (tracked and untracked files, honouring
/// `.gitignore`), leaving out the `exclude` paths (relative to `root`, e.g. `.coagent`).
pub fn snapshot(root: &Path, exclude: &[&str]) -> Result<Snapshot, WorktreeError> {
    let staged = stage(root, exclude)?;
    let tree = run_git(root, &["write-tree"], Some(&staged.index))?;
    let tree = String::from_utf8_lossy(&tree).trim().to_owned();
    Ok(Snapshot {
        tree,
        exclude: exclude.iter().map(|s| (*s).to_owned()).collect(),
    })
}

/// The change from `before` to the work tree as it is now: the same bytes as
/// `diff(root, before, &snapshot(root, exclude)?)`, with one git process fewer (what a
/// DO pays right after its script ends).
pub fn diff_since(root: &Path, before: &Snapshot) -> Result<Vec<u8>, WorktreeError> {
    let exclude: Vec<&str> = before.exclude.iter().map(String::as_str).collect();
    let staged = stage(root, &exclude)?;
    let args = diff_args(&["--cached", &before.tree], &before.exclude);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run_git(root, &refs, Some(&staged.index))
}

/// A private index holding the work tree as it is now.
struct Staged {
    /// Removes the index when dropped.
    _dir: tempfile::TempDir,
    index: PathBuf,
}

fn stage(root: &Path, exclude: &[&str]) -> Result<Staged, WorktreeError> {
    let user_index = user_index(root)?;
    let dir = tempfile::Builder::new()
        .prefix("coagent-snapshot-")
        .tempdir()
        .map_err(WorktreeError::Temp)?;
    let index = dir.path().join("index");
    // Seeding from the user's index lets git reuse its cached file stats instead of
    // hashing every file again; a missing index (a fresh repository) just means empty.
    if user_index.is_file() {
        std::fs::copy(&user_index, &index).map_err(WorktreeError::Temp)?;
    }
    // A split index would make git write shared-index files into the user's git dir.
    let mut add: Vec<String> = ["-c", "core.splitIndex=false", "add", "--all", "--", "."]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    add.extend(exclude.iter().map(|e| format!(":(exclude,literal){e}")));
    let refs: Vec<&str> = add.iter().map(String::as_str).collect();
    run_git(root, &refs, Some(&index))?;
    Ok(Staged { _dir: dir, index })
}

/// `git diff` arguments that give the same applicable bytes whatever the user's diff
/// configuration says (prefixes, renames, relative paths, external tools).
fn diff_args(what: &[&str], exclude: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "diff",
        "--binary",
        "--full-index",
        "--no-color",
        "--no-ext-diff",
        "--no-textconv",
        "--no-renames",
        "--no-relative",
        "--src-prefix=a/",
        "--dst-prefix=b/",
    ]
    .iter()
    .chain(what)
    .chain(&["--", "."])
    .map(|s| (*s).to_owned())
    .collect();
    // The index entries copied from the user's index may include excluded paths (a hub
    // committed to share it between machines); leave them out here as well.
    args.extend(exclude.iter().map(|e| format!(":(exclude,literal){e}")));
    args
}

/// The user's index file, found without starting a process when the layout is the usual
/// one (a `.git` folder or a `.git` file pointing at one); git itself is asked when the
/// environment redirects it.
fn user_index(root: &Path) -> Result<PathBuf, WorktreeError> {
    let redirected = [
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_COMMON_DIR",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some());
    if !redirected && let Some(git_dir) = find_git_dir(root) {
        return Ok(git_dir.join("index"));
    }
    let out = run_git(
        root,
        &["rev-parse", "--is-inside-work-tree", "--git-path", "index"],
        None,
    )
    .map_err(|e| match e {
        WorktreeError::Git { .. } => WorktreeError::NotARepo {
            root: root.to_owned(),
        },
        other => other,
    })?;
    let text = String::from_utf8_lossy(&out);
    let mut lines = text.lines();
    if lines.next() != Some("true") {
        return Err(WorktreeError::NotARepo {
            root: root.to_owned(),
        });
    }
    Ok(root.join(lines.next().unwrap_or_default()))
}

/// The git directory of the work tree containing `root`, by walking up.
fn find_git_dir(root: &Path) -> Option<PathBuf> {
    let start = root.canonicalize().ok()?;
    for dir in start.ancestors() {
        let dot_git = dir.join(".git");
        let Ok(meta) = std::fs::metadata(&dot_git) else {
            continue;
        };
        if meta.is_dir() {
            return Some(dot_git);
        }
        // Linked work trees and submodules: `.git` is a file saying `gitdir: <path>`.
        let text = std::fs::read_to_string(&dot_git).ok()?;
        let target = text.strip_prefix("gitdir:")?.trim();
        return Some(dir.join(target));
    }
    None
}

/// The change between two snapshots as `git diff --binary`, applicable with `git apply`
/// from the repository's top level. The excluded paths never appear in it.
pub fn diff(root: &Path, before: &Snapshot, after: &Snapshot) -> Result<Vec<u8>, WorktreeError> {
    let mut exclude = before.exclude.clone();
    exclude.extend(
        after
            .exclude
            .iter()
            .filter(|e| !before.exclude.contains(e))
            .cloned(),
    );
    let args = diff_args(&[&before.tree, &after.tree], &exclude);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    // Pathspecs are relative to `root`; `--no-relative` keeps the paths in the diff
    // relative to the top level, where `undo` applies it.
    run_git(root, &refs, None)
}

/// Checks that `diff` can be reversed in the work tree under `root` right now.
pub fn can_undo(root: &Path, diff: &[u8]) -> Result<(), WorktreeError> {
    if diff.iter().all(u8::is_ascii_whitespace) {
        return Err(WorktreeError::NothingToUndo);
    }
    let toplevel = toplevel(root)?;
    apply_reverse(&toplevel, diff, true)
}

/// Reverses `diff` in the work tree (never the index), after checking that it applies.
pub fn undo(root: &Path, diff: &[u8]) -> Result<(), WorktreeError> {
    can_undo(root, diff)?;
    let toplevel = toplevel(root)?;
    apply_reverse(&toplevel, diff, false)
}

fn toplevel(root: &Path) -> Result<PathBuf, WorktreeError> {
    let out = run_git(root, &["rev-parse", "--show-toplevel"], None).map_err(|e| match e {
        WorktreeError::Git { .. } => WorktreeError::NotARepo {
            root: root.to_owned(),
        },
        other => other,
    })?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out).trim()))
}

fn apply_reverse(toplevel: &Path, diff: &[u8], check_only: bool) -> Result<(), WorktreeError> {
    let mut cmd = git(toplevel);
    cmd.args(["apply", "--reverse", "--binary"]);
    if check_only {
        cmd.arg("--check");
    }
    cmd.arg("-");
    let output = feed(cmd, diff)?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    if check_only {
        Err(WorktreeError::CannotUndo {
            reason: summarize(&stderr),
        })
    } else {
        Err(WorktreeError::Git {
            args: "apply --reverse --binary -".into(),
            stderr,
        })
    }
}

/// Git's check output, shortened to the lines that name what is in the way.
fn summarize(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(|l| l.trim_start_matches("error: ").trim())
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        return "git apply refused the reversed diff".into();
    }
    lines.join("; ")
}

fn feed(mut cmd: Command, input: &[u8]) -> Result<Output, WorktreeError> {
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(WorktreeError::GitMissing)?;
    if let Some(mut stdin) = child.stdin.take() {
        // git reads the whole patch before it writes anything, so writing first cannot
        // deadlock on a full stdout pipe. A write error shows up as git's failure below.
        let _ = stdin.write_all(input);
    }
    child.wait_with_output().map_err(WorktreeError::GitMissing)
}

/// A `git` command in `cwd` with the environment that could redirect it cleared.
fn git(cwd: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(cwd)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    cmd
}

fn run_git(cwd: &Path, args: &[&str], index: Option<&Path>) -> Result<Vec<u8>, WorktreeError> {
    let mut cmd = git(cwd);
    cmd.args(args);
    if let Some(index) = index {
        cmd.env("GIT_INDEX_FILE", index);
    }
    let out = cmd.output().map_err(WorktreeError::GitMissing)?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(WorktreeError::Git {
            args: args.join(" "),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        })
    }
}
