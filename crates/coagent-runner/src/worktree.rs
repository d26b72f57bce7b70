//! The change a DO made to the project's work tree, the commits it made, and its undo.
//!
//! This module owns [`Tracker`]: snapshots of the work tree under the project root, the
//! `git diff --binary` between a snapshot and the tree as it is now, the commits HEAD
//! gained meanwhile, and reversing such a diff in the work tree. A snapshot is a private
//! index (`GIT_INDEX_FILE` in a temporary folder) that `git add --all` fills; nothing in
//! this module ever writes the user's index, stash, HEAD, refs or config. The hub is never
//! part of a snapshot or a diff, whether it is ignored, untracked or committed.
//!
//! Two modes:
//! - [`Mode::Git`]: the project is in a git work tree. Snapshots use the user's
//!   repository through a private index seeded from the user's index (so unchanged files
//!   are not read again), and honour every ignore rule the user has.
//! - [`Mode::Shadow`]: anything else. CoAgent keeps a bare git dir of its own at
//!   `<hub>/cache/shadow.git` (made on first use, safe to delete at any time: the next
//!   snapshot hashes the project again) whose `info/exclude` leaves out the hub and heavy
//!   folders nobody wants diffed; `.gitignore` files in the tree are honoured as well.
//!   Its object store grows by every changed file a snapshot hashes and is never pruned
//!   here; its `index` is only a seed (stat data) for the next first snapshot.
//!
//! **Where snapshot objects go (Git mode).** A snapshot hashes new and changed files into
//! the user's object store, as unreachable blobs and trees that `git gc` prunes in its
//! own time (two weeks by default). We chose this over a shadow git dir with
//! `objects/info/alternates` pointing at the user's objects because only the user's own
//! repository sees the tree exactly as the user's git does: its config (`core.autocrlf`,
//! `core.fileMode`, filters such as LFS, `core.fsmonitor`, `info/exclude`, `info/attributes`),
//! its object format (SHA-256 repositories), a split index's shared file, and the stat
//! data of the user's index, which is what makes a snapshot of a large repository cheap. A
//! shadow would have to copy or imitate each of these, and would get one wrong sooner or
//! later; a few unreachable objects is the smaller cost. A DO that writes large untracked
//! files therefore grows `.git/objects` until `git gc` runs.
//!
//! **Why the hub is excluded with a glob.** `git add` refuses (and adds nothing) when a
//! pathspec names an ignored path literally, and it counts `:(exclude)` pathspecs too: a hub
//! listed in `.gitignore`, `info/exclude` or a global excludes file made every snapshot
//! fail. The hub is excluded with `:(exclude,glob)[.]coagent/**`, which matches the same
//! files but names no path literally, so git accepts it whatever the ignore rules say,
//! without a `git check-ignore` process per snapshot.
//!
//! Nested repositories and submodules are never descended into: git records them as a
//! gitlink (their checked-out commit), so at most a gitlink change shows in a diff, and a
//! nested repository without any commit is skipped (see [`Change::warnings`]).
//!
//! The free functions at the bottom ([`snapshot`], [`diff_since`], [`can_undo`],
//! [`undo`], [`is_git_repo`]) are the previous interface, kept as thin wrappers over
//! [`Tracker`] until the core switches to it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;

/// The system temp folders of snapshots are named `coagent-snapshot-<pid>-…`, so that one
/// left by a killed CoAgent can be told from a running one's and swept.
pub const SNAPSHOT_PREFIX: &str = "coagent-snapshot-";

/// How a project's work tree is watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The user's git repository, through a private index.
    Git,
    /// A git dir of CoAgent's own in the hub (`cache/shadow.git`), for a project that is
    /// not a git work tree.
    Shadow,
}

/// Folders a shadow snapshot leaves out besides the hub: dependencies, virtual
/// environments and build output, which nobody reviews as a DO's change.
pub const SHADOW_EXCLUDES: &[&str] = &[
    "node_modules",
    ".venv",
    "venv",
    "__pycache__",
    "target",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
];

/// Environment variables that would make our git processes look at another repository,
/// index or object store, or read pathspecs differently, than the one we name.
const REDIRECTING_ENV: &[&str] = &[
    "GIT_INDEX_FILE",
    "GIT_LITERAL_PATHSPECS",
    "GIT_GLOB_PATHSPECS",
    "GIT_NOGLOB_PATHSPECS",
    "GIT_ICASE_PATHSPECS",
    "GIT_PREFIX",
];

/// More variables a shadow must not inherit: they belong to some repository of the user's.
const SHADOW_ONLY_ENV: &[&str] = &[
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
];

/// How a project's work tree is watched. Cheap to construct (one git process).
#[derive(Clone, Debug)]
pub struct Tracker {
    mode: Mode,
    /// The project root, canonical: where DOs run and where pathspecs are relative to.
    root: PathBuf,
    /// `GIT_WORK_TREE`: the repository's top level (Git) or the root (Shadow). Diff paths
    /// are relative to it, and undo applies there.
    work_tree: PathBuf,
    /// `GIT_DIR`: the user's git dir (Git) or `<hub>/cache/shadow.git` (Shadow).
    git_dir: PathBuf,
    /// Where shared refs live (differs from `git_dir` in a linked work tree).
    common_dir: PathBuf,
    /// The hub relative to the root, `/`-separated; `None` when the hub is not under it.
    hub_rel: Option<String>,
    /// Files whose old or new content is larger than this are left out of the diff (git
    /// would hold both whole in memory to write their binary patch), and said so.
    diff_limit: Option<u64>,
}

/// A snapshot of the work tree, taken by [`Tracker::snapshot`] or returned as
/// [`Change::after`]. It holds a private index in a temporary folder (removed when the
/// last clone is dropped); it is only meaningful to the tracker that took it.
#[derive(Clone, Debug)]
pub struct Snapshot {
    state: Arc<SnapshotState>,
}

#[derive(Debug)]
struct SnapshotState {
    /// Removes the index when dropped.
    _dir: tempfile::TempDir,
    index: PathBuf,
    /// The git dir the snapshot was taken with, to refuse another tracker's snapshot.
    git_dir: PathBuf,
    /// The tree object holding the snapshot, written when first needed (a snapshot's
    /// blobs are written when it is taken, so writing the tree later gives the same id).
    tree: OnceLock<String>,
    /// The tree being written in the background ([`Tracker::prepare_soon`]).
    writing: Mutex<Option<JoinHandle<()>>>,
    /// HEAD when the snapshot was taken (Git mode, and a HEAD with a commit).
    head: Option<String>,
    /// What `git add` could not add (e.g. a nested repository without a commit).
    warnings: Vec<String>,
}

impl SnapshotState {
    /// Waits for a tree being written in the background, if one is.
    fn settle(&self) {
        let pending = self
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(h) = pending {
            let _ = h.join();
        }
    }
}

impl Drop for SnapshotState {
    /// The index is removed with the folder: not while git still reads it.
    fn drop(&mut self) {
        self.settle();
    }
}

impl Snapshot {
    /// HEAD when the snapshot was taken (full sha); `None` in Shadow mode or before the
    /// first commit.
    pub fn head(&self) -> Option<&str> {
        self.state.head.as_deref()
    }

    /// What git could not read into the snapshot (files left out), as git said it.
    pub fn warnings(&self) -> &[String] {
        &self.state.warnings
    }
}

/// What a DO changed: see [`Tracker::change_since`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Change {
    /// `git diff --binary` from the before-snapshot to the tree now (paths relative to
    /// the work tree's top level), reversible with [`Tracker::undo`]; empty when nothing
    /// changed.
    pub diff: Vec<u8>,
    /// The commits HEAD gained since the before-snapshot, oldest first, full shas. Empty in
    /// Shadow mode or when HEAD did not move forward; the new HEAD alone when HEAD moved
    /// to a commit that does not descend from the old one.
    pub commits: Vec<String>,
    /// The tree now: the `before` of the next DO in a row.
    pub after: Snapshot,
    /// What git could not read into the after-snapshot (those files are missing from the
    /// diff), as git said it; for the caller to show as warnings.
    pub warnings: Vec<String>,
}

/// What went wrong with a snapshot, diff or undo.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorktreeError {
    /// The project root is not inside a git work tree (only the old free functions,
    /// which have no shadow, say this).
    #[error("{} is not inside a git work tree; hint: the DO's diff is only captured in a git repository", root.display())]
    NotARepo {
        /// The project root.
        root: PathBuf,
    },
    /// The project root cannot be read.
    #[error("cannot use {} as the project root", root.display())]
    Root {
        /// The project root.
        root: PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// `git` could not be started.
    #[error(
        "cannot run git, so no diff is captured and no undo is possible; hint: install git and make sure it is on PATH"
    )]
    GitMissing(#[source] std::io::Error),
    /// A git command failed.
    #[error("`git {args}` failed: {stderr}")]
    Git {
        /// The arguments, joined by spaces.
        args: String,
        /// What git said.
        stderr: String,
    },
    /// A temporary index could not be made.
    #[error("cannot prepare a temporary index")]
    Temp(#[source] std::io::Error),
    /// The shadow git dir could not be made or written.
    #[error("cannot prepare the shadow git dir {}; hint: check that the hub is writable, or delete that folder (it is only a cache)", path.display())]
    Shadow {
        /// The shadow git dir.
        path: PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
    /// A snapshot taken by another tracker (another project or mode) was given.
    #[error("this snapshot was taken in another project ({}); hint: take the before-snapshot with the same tracker", git_dir.display())]
    ForeignSnapshot {
        /// The git dir the snapshot was taken with.
        git_dir: PathBuf,
    },
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

impl Tracker {
    /// Watches the work tree under `root` (the project root, where DOs run), leaving out
    /// `hub` (e.g. `root/.coagent`) always.
    ///
    /// A git work tree gives [`Mode::Git`]; anything else (including a repository git
    /// refuses to read, such as one owned by another user) gives [`Mode::Shadow`]. The
    /// shadow git dir is only made by the first snapshot.
    pub fn open(root: &Path, hub: &Path) -> Result<Tracker, WorktreeError> {
        let root = dunce::canonicalize(root).map_err(|source| WorktreeError::Root {
            root: root.to_owned(),
            source,
        })?;
        let hub = lenient_canonical(hub);
        let hub_rel = hub
            .strip_prefix(&root)
            .ok()
            .filter(|rel| !rel.as_os_str().is_empty())
            .map(|rel| {
                rel.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/")
            });
        // Asked with the caller's environment, so `GIT_DIR` and friends are honoured the way
        // git itself would; every later command names the repository explicitly.
        let out = base_command(&root)
            .args([
                "rev-parse",
                "--is-inside-work-tree",
                "--show-toplevel",
                "--absolute-git-dir",
            ])
            .output()
            .map_err(WorktreeError::GitMissing)?;
        let text = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = text.lines().collect();
        if out.status.success()
            && let ["true", toplevel, git_dir, ..] = lines[..]
        {
            let git_dir = PathBuf::from(git_dir);
            let common_dir = match std::fs::read_to_string(git_dir.join("commondir")) {
                Ok(rel) => git_dir.join(rel.trim()),
                Err(_) => git_dir.clone(),
            };
            return Ok(Tracker {
                mode: Mode::Git,
                root,
                work_tree: PathBuf::from(toplevel),
                git_dir,
                common_dir,
                hub_rel,
                diff_limit: None,
            });
        }
        let git_dir = hub.join("cache").join("shadow.git");
        Ok(Tracker {
            mode: Mode::Shadow,
            work_tree: root.clone(),
            root,
            common_dir: git_dir.clone(),
            git_dir,
            hub_rel,
            diff_limit: None,
        })
    }

    /// Leaves files larger than `bytes` (before or after the DO) out of diffs.
    pub fn with_diff_limit(mut self, bytes: u64) -> Tracker {
        self.diff_limit = Some(bytes);
        self
    }

    /// The changed paths (relative to the work tree) whose old or new blob is larger than
    /// the diff limit, with that size.
    fn too_large_to_diff(
        &self,
        before_tree: &str,
        index: &Path,
        exclude: Option<&str>,
    ) -> Result<Vec<(String, u64)>, WorktreeError> {
        let Some(limit) = self.diff_limit else {
            return Ok(Vec::new());
        };
        let mut args = vec![
            "diff",
            "--cached",
            "--raw",
            "-z",
            "--no-abbrev",
            "--no-renames",
            "--no-relative",
            "--ignore-submodules=all",
            before_tree,
            "--",
            ".",
        ];
        args.extend(exclude);
        let raw = self.run(&args, Some(index))?;
        // Records are `:<mode> <mode> <old> <new> <status>` NUL `<path>` NUL.
        let fields: Vec<&[u8]> = raw.split(|&b| b == 0).collect();
        let mut changed: Vec<(String, Vec<String>)> = Vec::new();
        for pair in fields.chunks(2) {
            let [meta, path] = pair else { continue };
            let meta = String::from_utf8_lossy(meta);
            let oids: Vec<String> = meta
                .split_whitespace()
                .skip(2)
                .take(2)
                .filter(|o| o.bytes().any(|b| b != b'0'))
                .map(str::to_string)
                .collect();
            changed.push((String::from_utf8_lossy(path).into_owned(), oids));
        }
        let all: Vec<&str> = changed
            .iter()
            .flat_map(|(_, o)| o.iter().map(String::as_str))
            .collect();
        if all.is_empty() {
            return Ok(Vec::new());
        }
        let mut cmd = self.command(Some(index));
        cmd.args(["cat-file", "--batch-check=%(objectname) %(objectsize)"]);
        let out = feed(cmd, format!("{}\n", all.join("\n")).as_bytes())?;
        let sizes: std::collections::HashMap<String, u64> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (o, s) = l.split_once(' ')?;
                Some((o.to_string(), s.trim().parse().ok()?))
            })
            .collect();
        Ok(changed
            .into_iter()
            .filter_map(|(path, oids)| {
                let size = oids.iter().filter_map(|o| sizes.get(o)).max().copied()?;
                (size > limit).then_some((path, size))
            })
            .collect())
    }

    /// Starts asking git the size of each place (relative to the root) in `before_tree`,
    /// so that [`OldSizes::nothing_too_large`] can tell, with no git process after the
    /// add, that no changed file is over the diff limit (what nearly every DO gives).
    /// `None` when there is no limit or no short list of places.
    fn old_sizes(&self, before_tree: &str, under: Option<&[String]>) -> Option<OldSizes> {
        const MOST_PLACES: usize = 256;
        let limit = self.diff_limit?;
        let places = under.filter(|u| !u.is_empty() && u.len() <= MOST_PLACES)?;
        if places.iter().any(|p| p.contains('\n')) {
            return None;
        }
        // `<tree>:./<path>` is relative to git's working directory, the root.
        let asked: String = places
            .iter()
            .map(|p| format!("{before_tree}:./{p}\n"))
            .collect();
        let mut cmd = self.command(None);
        cmd.args(["cat-file", "--batch-check=%(objecttype) %(objectsize)"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().ok()?;
        // A few hundred short lines fit in the pipe: writing cannot block on git.
        let written = child
            .stdin
            .take()
            .is_some_and(|mut stdin| stdin.write_all(asked.as_bytes()).is_ok());
        let pending = OldSizes {
            child: Some(child),
            places: places.to_vec(),
            limit,
        };
        written.then_some(pending)
    }

    /// Which way the work tree is watched.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// A commit as a reviewer reads it first: its sha, author, subject and body, and the
    /// files it changed with their line counts (`git show --stat`, no patch).
    pub fn describe_commit(&self, sha: &str) -> Result<String, WorktreeError> {
        let out = self.run(
            &[
                "show",
                "--no-color",
                "--stat",
                "--format=%H%n%an <%ae>, %aI%n%n%s%n%n%b",
                sha,
                "--",
            ],
            None,
        )?;
        Ok(String::from_utf8_lossy(&out).into_owned())
    }

    /// Takes a snapshot of the work tree (tracked and untracked files, honouring ignore
    /// rules), without the hub. One git process.
    pub fn snapshot(&self) -> Result<Snapshot, WorktreeError> {
        let seed = match self.mode {
            Mode::Git => self.git_dir.join("index"),
            Mode::Shadow => {
                self.ensure_shadow()?;
                self.git_dir.join("index")
            }
        };
        let snapshot = self.stage(Some(&seed))?;
        self.keep_seed(&snapshot);
        self.prepare_soon(&snapshot);
        Ok(snapshot)
    }

    /// The change from `before` to the tree now: the diff, the commits HEAD gained, and
    /// the snapshot of now (use it as the next DO's `before`; no second snapshot needed).
    /// Three git processes (four when HEAD moved).
    ///
    /// The diff is the work tree's change, whatever the DO did with git meanwhile: files a
    /// DO committed are in it as well as in [`Change::commits`]. A file the DO newly
    /// ignored is not reported as deleted (the after-snapshot starts from the
    /// before-snapshot's index, where it is still listed).
    pub fn change_since(&self, before: &Snapshot) -> Result<Change, WorktreeError> {
        self.change_since_under(before, None)
    }

    /// [`Tracker::change_since`] when only the paths `under` (relative to the project
    /// root: files or folders, each read whole) can have changed since `before`, as a
    /// [`crate::watch::ChangeWatch`] tells: git then reads those, not every file. `None`
    /// reads the whole tree.
    pub fn change_since_under(
        &self,
        before: &Snapshot,
        under: Option<&[String]>,
    ) -> Result<Change, WorktreeError> {
        if before.state.git_dir != self.git_dir {
            return Err(WorktreeError::ForeignSnapshot {
                git_dir: before.state.git_dir.clone(),
            });
        }
        if self.mode == Mode::Shadow {
            self.ensure_shadow()?;
        }
        let before_tree = self.tree(before)?;
        // Asked while git adds the places: the old sizes are then known without a
        // process of their own once the add is done.
        let old_sizes = self.old_sizes(&before_tree, under);
        let (after, under) = self.stage_under(Some(&before.state.index), under)?;
        // The next DO's "before": its tree is written while this diff is made.
        self.prepare_soon(&after);
        let mut args = vec![
            "diff",
            "--cached",
            "--binary",
            "--full-index",
            "--no-color",
            "--no-ext-diff",
            "--no-textconv",
            "--no-renames",
            "--no-relative",
            "--submodule=short",
            "--ignore-submodules=none",
            "--src-prefix=a/",
            "--dst-prefix=b/",
            before_tree.as_str(),
            "--",
        ];
        // Outside the places read again the two trees are the same: the diff need not
        // walk them.
        let places: Vec<String> = under
            .unwrap_or_default()
            .iter()
            .map(|p| format!(":(literal){p}"))
            .collect();
        match places.is_empty() {
            true => args.push("."),
            false => args.extend(places.iter().map(String::as_str)),
        }
        // Committed hub files come into the index from the user's; leave them out here.
        let exclude = self
            .hub_rel
            .as_ref()
            .map(|h| format!(":(exclude,literal){h}"));
        args.extend(exclude.as_deref());
        let big = match old_sizes.is_some_and(|o| o.nothing_too_large(&self.root, under)) {
            true => Vec::new(),
            false => {
                self.too_large_to_diff(&before_tree, &after.state.index, exclude.as_deref())?
            }
        };
        let big_specs: Vec<String> = big
            .iter()
            .map(|(p, _)| format!(":(top,exclude,literal){p}"))
            .collect();
        args.extend(big_specs.iter().map(String::as_str));
        let diff = self.run(&args, Some(&after.state.index))?;
        let commits = self.commits(before.state.head.as_deref(), after.state.head.as_deref())?;
        self.keep_seed(&after);
        let mut warnings = after.state.warnings.clone();
        for (p, size) in &big {
            warnings.push(format!(
                "{p} changed, but at {} MiB it is over the limit for a diff: left out of it (and of `do undo`)",
                size >> 20
            ));
        }
        Ok(Change {
            diff,
            commits,
            warnings,
            after,
        })
    }

    /// Writes `snapshot`'s tree object now rather than in [`Tracker::change_since`]: it
    /// reads only the snapshot's private index, so it may run while the DO does.
    pub fn prepare(&self, snapshot: &Snapshot) -> Result<(), WorktreeError> {
        self.tree(snapshot).map(|_| ())
    }

    /// Checks that `diff` can be reversed in the work tree right now.
    pub fn can_undo(&self, diff: &[u8]) -> Result<(), WorktreeError> {
        if diff.iter().all(u8::is_ascii_whitespace) {
            return Err(WorktreeError::NothingToUndo);
        }
        self.apply_reverse(diff, true)
    }

    /// Reverses `diff` in the work tree (never the index), after checking that it
    /// applies. Commits the DO made are left alone.
    pub fn undo(&self, diff: &[u8]) -> Result<(), WorktreeError> {
        self.can_undo(diff)?;
        self.apply_reverse(diff, false)
    }

    /// Fills a new private index, seeded from `seed` when that file exists, with the work
    /// tree as it is now.
    fn stage(&self, seed: Option<&Path>) -> Result<Snapshot, WorktreeError> {
        self.stage_under(seed, None).map(|(snapshot, _)| snapshot)
    }

    /// [`Tracker::stage`], looking only at the paths `under` (relative to the project
    /// root) when given: git then reads only those files and folders, not the whole
    /// tree. When git refuses them (a path it ignores, or one that no longer matches
    /// anything), the whole tree is read instead. Also returns the places it read (`None`:
    /// the whole tree).
    fn stage_under<'u>(
        &self,
        seed: Option<&Path>,
        under: Option<&'u [String]>,
    ) -> Result<(Snapshot, Option<&'u [String]>), WorktreeError> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{SNAPSHOT_PREFIX}{}-", std::process::id()))
            .tempdir()
            .map_err(WorktreeError::Temp)?;
        let index = dir.path().join("index");
        // Seeding lets git reuse the cached file stats instead of hashing every file
        // again; a missing seed (a fresh repository or shadow) just means empty.
        if let Some(seed) = seed
            && seed.is_file()
        {
            std::fs::copy(seed, &index).map_err(WorktreeError::Temp)?;
        }
        let head = self.head()?;
        let under = under.filter(|u| !u.is_empty());
        // A split index would make git write shared-index files into the git dir. The
        // private index needs no trailing checksum (git >= 2.13 reads one without; older
        // git ignores the setting): not hashing ~0.5 MB of index for 5,000 files saves a
        // millisecond on every snapshot. A few places are refreshed one by one: threads
        // preloading every entry's stat would cost more than they save.
        let mut args = vec![
            "-c",
            "core.splitIndex=false",
            "-c",
            "index.skipHash=true",
            "-c",
            if under.is_some() {
                "core.preloadIndex=false"
            } else {
                "core.preloadIndex=true"
            },
            "-c",
            "advice.addEmbeddedRepo=false",
            "-c",
            "advice.addIgnoredFile=false",
            "add",
            "--all",
            "--ignore-errors",
            "--",
        ];
        let literal: Vec<String> = under
            .unwrap_or_default()
            .iter()
            .map(|p| format!(":(literal){p}"))
            .collect();
        match under {
            Some(_) => args.extend(literal.iter().map(String::as_str)),
            None => args.push("."),
        }
        let exclude = match (self.mode, &self.hub_rel) {
            // The shadow's info/exclude leaves the hub out already.
            (Mode::Git, Some(hub)) => Some(format!(":(exclude,glob){}/**", glob_unnamed(hub))),
            _ => None,
        };
        args.extend(exclude.as_deref());
        let out = self.command(Some(&index)).args(&args).output();
        let out = out.map_err(WorktreeError::GitMissing)?;
        if under.is_some() && !out.status.success() {
            drop(dir);
            return self.stage_under(seed, None);
        }
        // With --ignore-errors, git adds what it can, writes the index and exits with 1
        // when some files could not be added; anything else is a failure.
        let warnings = match out.status.code() {
            Some(0) => Vec::new(),
            Some(1) => String::from_utf8_lossy(&out.stderr)
                .lines()
                .map(|l| l.trim_start_matches("error: ").trim().to_owned())
                .filter(|l| !l.is_empty() && !l.starts_with("hint:"))
                .collect(),
            _ => return Err(git_error(&args, &out)),
        };
        let snapshot = Snapshot {
            state: Arc::new(SnapshotState {
                _dir: dir,
                index,
                git_dir: self.git_dir.clone(),
                tree: OnceLock::new(),
                writing: Mutex::new(None),
                head,
                warnings,
            }),
        };
        Ok((snapshot, under))
    }

    /// Starts writing `snapshot`'s tree object on a thread of its own, as soon as the
    /// snapshot is taken: it reads only the private index, so it may run while the next
    /// DO does, and the DO's end seldom waits for it (a DO of a few milliseconds would
    /// otherwise wait for git, ~2 ms on 5,000 files). A failure here is found again, and
    /// reported, when the tree is needed.
    pub fn prepare_soon(&self, snapshot: &Snapshot) {
        if snapshot.state.tree.get().is_some() {
            return;
        }
        let mut slot = snapshot
            .state
            .writing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if slot.is_some() {
            return;
        }
        let mut cmd = self.command(Some(&snapshot.state.index));
        cmd.arg("write-tree");
        // The thread holds the state weakly: a snapshot dropped meanwhile joins it first.
        let state = Arc::downgrade(&snapshot.state);
        let spawned = std::thread::Builder::new()
            .name("coagent-tree".into())
            .spawn(move || {
                let Ok(out) = cmd.output() else { return };
                let tree = String::from_utf8_lossy(&out.stdout).trim().to_owned();
                if out.status.success()
                    && !tree.is_empty()
                    && let Some(state) = state.upgrade()
                {
                    let _ = state.tree.set(tree);
                }
            });
        *slot = spawned.ok();
    }

    /// The tree object of a snapshot, written on first use.
    fn tree(&self, snapshot: &Snapshot) -> Result<String, WorktreeError> {
        snapshot.state.settle();
        if let Some(tree) = snapshot.state.tree.get() {
            return Ok(tree.clone());
        }
        let out = self.run(&["write-tree"], Some(&snapshot.state.index))?;
        let tree = String::from_utf8_lossy(&out).trim().to_owned();
        Ok(snapshot.state.tree.get_or_init(|| tree).clone())
    }

    /// A shadow keeps its latest index as the next first snapshot's seed, so a project
    /// is hashed in full only once. Best effort: a lost seed only costs time.
    fn keep_seed(&self, snapshot: &Snapshot) {
        if self.mode != Mode::Shadow {
            return;
        }
        let tmp = self
            .git_dir
            .join(format!("index.coagent-{}", std::process::id()));
        if std::fs::copy(&snapshot.state.index, &tmp).is_ok()
            && std::fs::rename(&tmp, self.git_dir.join("index")).is_err()
        {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    /// Makes the shadow git dir when missing and keeps its `info/exclude` current.
    fn ensure_shadow(&self) -> Result<(), WorktreeError> {
        let shadow_err = |source| WorktreeError::Shadow {
            path: self.git_dir.clone(),
            source,
        };
        if !self.git_dir.join("HEAD").is_file() {
            std::fs::create_dir_all(&self.git_dir).map_err(shadow_err)?;
            let mut cmd = base_command(&self.git_dir);
            cmd.env_remove("GIT_DIR").env_remove("GIT_WORK_TREE");
            for var in SHADOW_ONLY_ENV {
                cmd.env_remove(var);
            }
            // No templates: no sample hooks, no description; just a git dir.
            let args = ["init", "--bare", "--quiet", "--template=", "."];
            let out = cmd.args(args).output().map_err(WorktreeError::GitMissing)?;
            if !out.status.success() {
                return Err(git_error(&args, &out));
            }
        }
        let mut exclude = String::from(
            "# CoAgent's shadow of a project that is not a git repository: left out of every\n\
             # snapshot besides what .gitignore files say. Written by CoAgent; edits are lost.\n",
        );
        if let Some(hub) = &self.hub_rel {
            exclude.push('/');
            exclude.push_str(&gitignore_escape(hub));
            exclude.push_str("/\n");
        }
        for folder in SHADOW_EXCLUDES {
            exclude.push_str(folder);
            exclude.push_str("/\n");
        }
        let info = self.git_dir.join("info");
        let path = info.join("exclude");
        if std::fs::read_to_string(&path).ok().as_deref() != Some(exclude.as_str()) {
            std::fs::create_dir_all(&info).map_err(shadow_err)?;
            std::fs::write(&path, exclude).map_err(shadow_err)?;
        }
        Ok(())
    }

    /// HEAD's commit now; `None` in Shadow mode and before the first commit.
    fn head(&self) -> Result<Option<String>, WorktreeError> {
        if self.mode == Mode::Shadow {
            return Ok(None);
        }
        if let Some(head) = read_head(&self.git_dir, &self.common_dir) {
            return Ok(head);
        }
        // Ref storage we do not read ourselves (reftable, odd layouts): ask git.
        let out = self
            .command(None)
            .args(["rev-parse", "--quiet", "--verify", "HEAD^{commit}"])
            .output()
            .map_err(WorktreeError::GitMissing)?;
        let sha = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        Ok((out.status.success() && is_oid(&sha)).then_some(sha))
    }

    /// The commits HEAD gained from `before` to `now`, oldest first.
    fn commits(
        &self,
        before: Option<&str>,
        now: Option<&str>,
    ) -> Result<Vec<String>, WorktreeError> {
        let Some(now) = now else {
            return Ok(Vec::new());
        };
        let Some(before) = before else {
            let out = self.run(&["rev-list", "--reverse", now], None)?;
            return Ok(lines(&out).map(str::to_owned).collect());
        };
        if before == now {
            return Ok(Vec::new());
        }
        // One process answers both "is `now` a descendant of `before`" (some commit in
        // before..now has `before` as a parent) and "which commits are new".
        let range = format!("{before}..{now}");
        let Ok(out) = self.run(&["rev-list", "--reverse", "--parents", &range], None) else {
            // The old HEAD is gone (a DO that pruned it): the new HEAD is all we can tell,
            // and the diff is worth more than a failure here.
            return Ok(vec![now.to_owned()]);
        };
        let rows: Vec<Vec<&str>> = lines(&out).map(|l| l.split(' ').collect()).collect();
        if rows.is_empty() {
            // HEAD moved back (a reset): nothing gained.
            return Ok(Vec::new());
        }
        if rows.iter().any(|r| r[1..].contains(&before)) {
            Ok(rows.iter().map(|r| r[0].to_owned()).collect())
        } else {
            Ok(vec![now.to_owned()])
        }
    }

    fn apply_reverse(&self, diff: &[u8], check_only: bool) -> Result<(), WorktreeError> {
        if self.mode == Mode::Shadow {
            self.ensure_shadow()?;
        }
        let mut cmd = self.command(None);
        // The diff's paths are relative to the work tree's top level.
        cmd.current_dir(&self.work_tree);
        let mut args = vec!["apply", "--reverse", "--binary", "--whitespace=nowarn"];
        if check_only {
            args.push("--check");
        }
        args.push("-");
        cmd.args(&args);
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
                args: args.join(" "),
                stderr,
            })
        }
    }

    /// A git command in the root, naming the repository (and index) explicitly.
    fn command(&self, index: Option<&Path>) -> Command {
        let mut cmd = base_command(&self.root);
        for var in REDIRECTING_ENV {
            cmd.env_remove(var);
        }
        if self.mode == Mode::Shadow {
            for var in SHADOW_ONLY_ENV {
                cmd.env_remove(var);
            }
        }
        cmd.env("GIT_DIR", &self.git_dir)
            .env("GIT_WORK_TREE", &self.work_tree);
        if let Some(index) = index {
            cmd.env("GIT_INDEX_FILE", index);
        }
        cmd
    }

    fn run(&self, args: &[&str], index: Option<&Path>) -> Result<Vec<u8>, WorktreeError> {
        let out = self
            .command(index)
            .args(args)
            .output()
            .map_err(WorktreeError::GitMissing)?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(git_error(args, &out))
        }
    }
}

/// Old sizes of a few changed files, asked of git by [`Tracker::old_sizes`].
struct OldSizes {
    /// Taken when the answer is read; still here when dropped unread (killed then).
    child: Option<std::process::Child>,
    places: Vec<String>,
    limit: u64,
}

impl OldSizes {
    /// Whether it is sure that no changed file is over the limit: every old size git gave
    /// and every new file (read from the disk; a new folder walked, when small) is under
    /// it. `false` sends the caller to the exact answer of
    /// [`Tracker::too_large_to_diff`] (also when the add read other places than those
    /// asked, or a folder was there before).
    fn nothing_too_large(mut self, root: &Path, read: Option<&[String]>) -> bool {
        let Some(Ok(out)) = self.child.take().map(|c| c.wait_with_output()) else {
            return false;
        };
        if read != Some(self.places.as_slice()) || !out.status.success() {
            return false;
        }
        let answers = String::from_utf8_lossy(&out.stdout);
        let answers: Vec<&str> = answers.lines().collect();
        if answers.len() != self.places.len() {
            return false;
        }
        let mut walk_left = 256usize;
        self.places.iter().zip(answers).all(|(place, answer)| {
            let old_fits = match answer.split_once(' ') {
                _ if answer.ends_with(" missing") => true,
                Some(("blob", size)) => size.parse().is_ok_and(|n: u64| n <= self.limit),
                _ => false,
            };
            old_fits && fits(&root.join(place), self.limit, &mut walk_left)
        })
    }
}

/// Whether the file at `path` (gone counts) is at most `limit` bytes, or the folder there
/// holds only such files, looking at `walk_left` entries at most.
fn fits(path: &Path, limit: u64, walk_left: &mut usize) -> bool {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return true;
    };
    if !meta.is_dir() {
        return meta.len() <= limit;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return false;
    };
    entries.into_iter().all(|e| {
        *walk_left = walk_left.saturating_sub(1);
        *walk_left > 0 && e.is_ok_and(|e| fits(&e.path(), limit, walk_left))
    })
}

impl Drop for OldSizes {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn git_error(args: &[&str], out: &Output) -> WorktreeError {
    WorktreeError::Git {
        args: args.join(" "),
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
    }
}

fn lines(out: &[u8]) -> impl Iterator<Item = &str> {
    std::str::from_utf8(out)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
}

/// `path` made canonical as far as it exists (the hub may not exist yet).
fn lenient_canonical(path: &Path) -> PathBuf {
    if let Ok(real) = dunce::canonicalize(path) {
        return real;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) if !parent.as_os_str().is_empty() => {
            lenient_canonical(parent).join(name)
        }
        _ => path.to_owned(),
    }
}

/// A glob (for `:(glob)` pathspec magic) matching exactly `path`, whose literal prefix is
/// empty: git compares an ignored path with a pathspec's literal prefix to decide whether
/// the pathspec "names" it, and refuses the whole `git add` when it does.
fn glob_unnamed(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 4);
    for (i, c) in path.chars().enumerate() {
        let special = matches!(c, '*' | '?' | '[' | '\\');
        if i == 0 && (special || matches!(c, ']' | '!' | '^')) {
            out.push('\\');
            out.push(c);
        } else if i == 0 {
            out.push('[');
            out.push(c);
            out.push(']');
        } else {
            if special {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// `path` as a literal gitignore pattern.
fn gitignore_escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '*' | '?' | '[' | '\\' | '!' | '#' | ' ') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn is_oid(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// HEAD's commit read from the files backend without a process: `Some(None)` before the
/// first commit, `None` when the layout is not one this reads (then git is asked).
fn read_head(git_dir: &Path, common_dir: &Path) -> Option<Option<String>> {
    if common_dir.join("reftable").exists() {
        return None;
    }
    let mut name = String::from("HEAD");
    // A symbolic ref chain longer than this is not worth following by hand.
    for _ in 0..5 {
        let dir = if name == "HEAD" { git_dir } else { common_dir };
        let text = match std::fs::read_to_string(dir.join(&name)) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && name != "HEAD" => {
                return packed_ref(common_dir, &name);
            }
            Err(_) => return None,
        };
        let text = text.trim();
        if let Some(target) = text.strip_prefix("ref:") {
            name = target.trim().to_owned();
            if !name.starts_with("refs/") || name.contains("..") {
                return None;
            }
            continue;
        }
        return is_oid(text).then(|| Some(text.to_owned()));
    }
    None
}

/// A ref's commit from `packed-refs`; `Some(None)` when it is not there (an unborn branch).
fn packed_ref(common_dir: &Path, name: &str) -> Option<Option<String>> {
    let text = match std::fs::read_to_string(common_dir.join("packed-refs")) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(None),
        Err(_) => return None,
    };
    let found = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('^'))
        .filter_map(|l| l.split_once(' '))
        .find(|(_, r)| *r == name)
        .map(|(oid, _)| oid.to_owned());
    match found {
        Some(oid) if !is_oid(&oid) => None,
        found => Some(found),
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

/// A `git` command in `cwd` that never prompts nor takes optional locks.
fn base_command(cwd: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(cwd)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// How a file changed, as a diff says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileStatus {
    /// A new file.
    Added,
    /// A file removed.
    Deleted,
    /// A file whose content changed.
    Modified,
    /// A file whose mode changed (e.g. `chmod +x`), with or without a content change
    /// (then `added`/`removed` count it).
    ModeChanged,
}

/// One file of a diff, for a reviewer's first look.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileStat {
    /// The path, relative to the work tree's top level.
    pub path: String,
    /// Lines added (0 for a binary file).
    pub added: u64,
    /// Lines removed (0 for a binary file).
    pub removed: u64,
    /// Whether git saw the file as binary.
    pub binary: bool,
    /// How the file changed.
    pub status: FileStatus,
}

/// The files of a `git diff` (as [`Tracker::change_since`] makes it), in diff order, read
/// from the text alone (no git process). Renames show as a deletion and an addition.
pub fn diff_stat(diff: &[u8]) -> Vec<FileStat> {
    let mut files: Vec<FileStat> = Vec::new();
    // Lines still expected in the current hunk, old side and new side.
    let (mut old_left, mut new_left) = (0u64, 0u64);
    for line in diff.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if old_left > 0 || new_left > 0 {
            let Some(file) = files.last_mut() else { break };
            match line.first() {
                Some(b'+') => {
                    file.added += 1;
                    new_left = new_left.saturating_sub(1);
                }
                Some(b'-') => {
                    file.removed += 1;
                    old_left = old_left.saturating_sub(1);
                }
                Some(b'\\') => {}
                // A context line (an empty one lost its leading space to some editor).
                _ => {
                    old_left = old_left.saturating_sub(1);
                    new_left = new_left.saturating_sub(1);
                }
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix(b"diff --git ") {
            files.push(FileStat {
                path: header_path(rest),
                added: 0,
                removed: 0,
                binary: false,
                status: FileStatus::Modified,
            });
            continue;
        }
        let Some(file) = files.last_mut() else {
            continue;
        };
        if line.starts_with(b"new file mode ") {
            file.status = FileStatus::Added;
        } else if line.starts_with(b"deleted file mode ") {
            file.status = FileStatus::Deleted;
        } else if line.starts_with(b"new mode ") {
            file.status = FileStatus::ModeChanged;
        } else if line == b"GIT binary patch"
            || (line.starts_with(b"Binary files ") && line.ends_with(b" differ"))
        {
            file.binary = true;
        } else if line.starts_with(b"@@ ") {
            (old_left, new_left) = hunk_counts(line);
        }
    }
    files
}

/// The old and new line counts of a hunk header `@@ -a,b +c,d @@`.
fn hunk_counts(line: &[u8]) -> (u64, u64) {
    let text = String::from_utf8_lossy(line);
    let mut parts = text.split(' ').skip(1);
    let count = |part: Option<&str>, sign: char| -> u64 {
        let Some(range) = part.and_then(|p| p.strip_prefix(sign)) else {
            return 0;
        };
        match range.split_once(',') {
            Some((_, n)) => n.parse().unwrap_or(0),
            None => 1,
        }
    };
    let old = count(parts.next(), '-');
    let new = count(parts.next(), '+');
    (old, new)
}

/// The path of a `diff --git a/P b/P` header (both sides are the same without renames).
fn header_path(rest: &[u8]) -> String {
    if rest.first() == Some(&b'"') {
        let (bytes, _) = unquote(&rest[1..]);
        let bytes = bytes.strip_prefix(b"a/").unwrap_or(&bytes);
        return String::from_utf8_lossy(bytes).into_owned();
    }
    // `a/` + P + ` b/` + P: P is as long as half of what is left.
    if rest.len() >= 5 && rest.starts_with(b"a/") {
        let n = (rest.len() - 5) / 2;
        if rest.len() == 5 + 2 * n && &rest[2 + n..5 + n] == b" b/" {
            return String::from_utf8_lossy(&rest[2..2 + n]).into_owned();
        }
    }
    let text = String::from_utf8_lossy(rest);
    let path = text.split(" b/").next().unwrap_or_default();
    path.strip_prefix("a/").unwrap_or(path).to_owned()
}

/// A C-quoted string (git's `core.quotePath` form) after its opening quote: the bytes
/// and how many input bytes it took.
fn unquote(s: &[u8]) -> (Vec<u8>, usize) {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'"' => return (out, i + 1),
            b'\\' if i + 1 < s.len() => {
                let c = s[i + 1];
                i += 2;
                match c {
                    b'n' => out.push(b'\n'),
                    b't' => out.push(b'\t'),
                    b'r' => out.push(b'\r'),
                    b'a' => out.push(7),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'v' => out.push(11),
                    b'0'..=b'3' if i + 1 < s.len() => {
                        let digits = [c, s[i], s[i + 1]];
                        let value = digits
                            .iter()
                            .fold(0u32, |acc, d| acc * 8 + u32::from(d.wrapping_sub(b'0') & 7));
                        out.push(u8::try_from(value).unwrap_or(b'?'));
                        i += 2;
                    }
                    other => out.push(other),
                }
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    (out, i)
}

/// Whether `root` is inside a git work tree.
pub fn is_git_repo(root: &Path) -> bool {
    base_command(root)
        .args(["rev-parse", "--is-inside-work-tree"])
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.starts_with(b"true"))
}

/// The previous interface: a tracker over a git work tree, the hub being `exclude[0]`.
fn git_tracker(root: &Path, exclude: &[&str]) -> Result<Tracker, WorktreeError> {
    let hub = root.join(exclude.first().copied().unwrap_or(".coagent"));
    let tracker = Tracker::open(root, &hub)?;
    if tracker.mode() != Mode::Git {
        return Err(WorktreeError::NotARepo {
            root: root.to_owned(),
        });
    }
    Ok(tracker)
}

/// A snapshot of the git work tree under `root`, leaving out the hub `exclude[0]`
/// (relative to `root`). Superseded by [`Tracker::snapshot`].
pub fn snapshot(root: &Path, exclude: &[&str]) -> Result<Snapshot, WorktreeError> {
    git_tracker(root, exclude)?.snapshot()
}

/// The diff from `before` to the git work tree now. Superseded by
/// [`Tracker::change_since`], which also reports commits.
pub fn diff_since(root: &Path, before: &Snapshot) -> Result<Vec<u8>, WorktreeError> {
    Ok(git_tracker(root, &[".coagent"])?.change_since(before)?.diff)
}

/// Checks that `diff` can be reversed in the git work tree under `root` now. Superseded
/// by [`Tracker::can_undo`].
pub fn can_undo(root: &Path, diff: &[u8]) -> Result<(), WorktreeError> {
    git_tracker(root, &[".coagent"])?.can_undo(diff)
}

/// Reverses `diff` in the git work tree under `root`. Superseded by [`Tracker::undo`].
pub fn undo(root: &Path, diff: &[u8]) -> Result<(), WorktreeError> {
    git_tracker(root, &[".coagent"])?.undo(diff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hub_glob_has_no_literal_prefix_and_escapes_the_rest() {
        assert_eq!(glob_unnamed(".coagent"), "[.]coagent");
        assert_eq!(glob_unnamed("sub/.coagent"), "[s]ub/.coagent");
        assert_eq!(glob_unnamed("*hub[1]?"), "\\*hub\\[1]\\?");
        assert_eq!(glob_unnamed("!x"), "\\!x");
    }

    #[test]
    fn a_hub_name_is_literal_in_the_shadow_exclude() {
        assert_eq!(gitignore_escape(".coagent"), ".coagent");
        assert_eq!(gitignore_escape("#a b*"), "\\#a\\ b\\*");
    }
}
