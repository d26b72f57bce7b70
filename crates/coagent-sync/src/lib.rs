//! `coagent sync`: a hub's records shared with other machines through git (SPEC §12).
//!
//! The records are exported as deterministic JSON Lines into a git repository of the hub's
//! own (`.coagent/cache/sync`, branch `coagent/sync`), whose remote is one the user names:
//! a URL, a path, or a remote of the project's repository (`origin` by default). A sync
//! fetches that branch, imports what other hubs added (merging by id, by the rules of
//! [`coagent::records`]), exports what changed here, commits (a merge commit when both
//! sides moved) and pushes. Everything goes through the user's `git`: its credentials, SSH
//! keys and hooks; CoAgent has no network code. A failed fetch or push loses nothing (the
//! records stay in the store, the commit in the worktree) and a later sync carries on; so
//! does a sync that was killed.
//!
//! What never syncs: the CoProfile, `guard.toml`, `config.toml`, the clipboard, `temps/`,
//! the store's row numbers and machine-local paths; every exported byte passes the secret
//! guard.

#![forbid(unsafe_code)]

pub mod export;
pub mod git;
pub mod import;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use coagent::hub::Hub;
use coagent::{Error, Result, records};
use serde::Serialize;

use crate::git::Git;

pub const BRANCH: &str = "coagent/sync";
const REMOTE_REF: &str = "refs/remotes/origin/coagent/sync";
const SYNC_REMOTE: &str = "sync.remote";
/// Attempts when another hub pushed between our fetch and our push.
const ATTEMPTS: usize = 3;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// A URL, a path, or the name of a remote of the project's repository.
    pub remote: Option<String>,
    /// Only say what would be exported.
    pub dry_run: bool,
    /// Mask the guard's findings in the exported copy instead of refusing.
    pub redact: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub remote: String,
    pub branch: &'static str,
    /// Per kind: records new here, and records changed by the merge.
    pub imported: BTreeMap<String, Imported>,
    /// The files written (or with --dry-run, that would be).
    pub exported: Vec<export::Written>,
    /// The commit made, if any (none: nothing changed here).
    pub commit: Option<String>,
    pub pushed: bool,
    pub dry_run: bool,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Imported {
    pub new: usize,
    pub changed: usize,
}

/// The sync worktree of a hub.
pub fn worktree(hub: &Hub) -> PathBuf {
    hub.dir.join("cache").join("sync")
}

/// One sync at a time per hub (`cache/sync.lock`, released when the process ends, also by
/// a kill).
fn lock(hub: &Hub) -> Result<std::fs::File> {
    let path = hub.dir.join("cache").join("sync.lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
    f.try_lock().map_err(|_| {
        Error::invalid(
            "another `coagent sync` of this hub is running",
            Some("wait for it to end, then sync again if needed".to_string()),
        )
    })?;
    Ok(f)
}

/// The remote's URL: `named` (a remote of the project's repository, or a URL or path),
/// else the one used last, else the project's `origin`.
fn remote_url(hub: &Hub, named: Option<&str>) -> Result<String> {
    let named = match named {
        Some(n) => n.to_string(),
        None => match hub.store.meta_get(SYNC_REMOTE)? {
            Some(url) => return Ok(url),
            None => "origin".to_string(),
        },
    };
    let looks_like_url = named.contains(':') || named.contains('/') || named.contains('\\');
    if looks_like_url || Path::new(&named).exists() {
        return Ok(match std::fs::canonicalize(&named) {
            Ok(p) => p.to_string_lossy().into_owned(),
            Err(_) => named,
        });
    }
    let out = Git::new(&hub.root).output(&["remote", "get-url", &named])?;
    if out.ok {
        return Ok(out.stdout.trim().to_string());
    }
    Err(Error::invalid(
        format!("no remote `{named}` to sync with (the project's git has none by that name)"),
        Some(
            "pass --remote URL: a repository every machine can reach, e.g. `git init --bare ~/coagent-sync.git` then `coagent sync --remote ~/coagent-sync.git`"
                .to_string(),
        ),
    ))
}

/// The sync worktree, made on first use, with `url` as its `origin`.
fn ensure_worktree(hub: &Hub, url: &str) -> Result<Git> {
    let dir = worktree(hub);
    let git = Git::new(&dir);
    if !dir.join(".git").exists() {
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        git.run(&["init", "-q"])?;
    }
    // Every time: a sync killed right after `git init` left HEAD on git's default branch.
    let head = git.output(&["symbolic-ref", "HEAD"])?;
    if head.stdout.trim() != format!("refs/heads/{BRANCH}") {
        git.run(&["symbolic-ref", "HEAD", &format!("refs/heads/{BRANCH}")])?;
    }
    let current = git.output(&["remote", "get-url", "origin"])?;
    if !current.ok {
        git.run(&["remote", "add", "origin", url])?;
    } else if current.stdout.trim() != url {
        git.run(&["remote", "set-url", "origin", url])?;
    }
    Ok(git)
}

/// Fetches the branch; `None` when the remote has none yet.
fn fetch(git: &Git) -> Result<Option<String>> {
    let heads = git.run(&["ls-remote", "--heads", "origin", BRANCH])?;
    if heads.trim().is_empty() {
        return Ok(None);
    }
    git.run(&[
        "fetch",
        "-q",
        "origin",
        &format!("+refs/heads/{BRANCH}:{REMOTE_REF}"),
    ])?;
    git.commit(REMOTE_REF)
}

/// The user's git identity, or CoAgent's when git has none configured.
fn identity(git: &Git) -> Result<Vec<(&'static str, &'static str)>> {
    let email = git.output(&["config", "user.email"])?;
    if email.ok && !email.stdout.trim().is_empty() {
        return Ok(Vec::new());
    }
    Ok(vec![
        ("GIT_AUTHOR_NAME", "CoAgent sync"),
        ("GIT_AUTHOR_EMAIL", "coagent-sync@localhost"),
        ("GIT_COMMITTER_NAME", "CoAgent sync"),
        ("GIT_COMMITTER_EMAIL", "coagent-sync@localhost"),
    ])
}

/// Commits the worktree as it is: on top of HEAD, with `remote` as a second parent when
/// the two have diverged; nothing when nothing changed.
fn commit(git: &Git, remote: Option<&str>, files: usize) -> Result<Option<String>> {
    git.run(&["add", "-A"])?;
    let tree = git.run(&["write-tree"])?.trim().to_string();
    let head = git.commit("HEAD")?;
    let mut parents: Vec<String> = head.iter().cloned().collect();
    if let (Some(r), Some(h)) = (remote, head.as_deref())
        && r != h
        && !git.is_ancestor(r, h)?
    {
        parents.push(r.to_string());
    }
    if parents.len() < 2
        && head.as_deref().map(|h| git.tree_of(h)).transpose()? == Some(tree.clone())
    {
        return Ok(None);
    }
    let mut args = vec!["commit-tree".to_string(), tree];
    for p in &parents {
        args.push("-p".to_string());
        args.push(p.clone());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let env = identity(git)?;
    let message = if parents.len() > 1 {
        format!("coagent sync: merge ({files} files)\n")
    } else {
        format!("coagent sync: {files} files\n")
    };
    let new = git.run_with(&args, &env, &message)?.trim().to_string();
    git.run(&["update-ref", &format!("refs/heads/{BRANCH}"), &new])?;
    Ok(Some(new))
}

/// One sync: fetch, import, export, commit, push. Returns `Ok(None)` when the push was
/// refused because the remote moved on meanwhile (the caller tries again).
fn attempt(hub: &mut Hub, git: &Git, opts: &Options, report: &mut Report) -> Result<bool> {
    let remote = fetch(git)?;
    // What a killed sync left in the worktree is thrown away: the store still knows what
    // is to be exported.
    if git.commit("HEAD")?.is_some() {
        git.run(&["reset", "-q", "--hard", "HEAD"])?;
    }
    git.run(&["clean", "-q", "-f", "-d"])?;
    if let Some(r) = &remote {
        for (kind, (new, changed)) in import::import(hub, git, r)? {
            let e = report
                .imported
                .entry(kind)
                .or_insert(Imported { new: 0, changed: 0 });
            e.new += new;
            e.changed += changed;
        }
        let head = git.commit("HEAD")?;
        if head.is_none()
            || head
                .as_deref()
                .is_some_and(|h| git.is_ancestor(h, r).unwrap_or(false))
        {
            git.run(&["reset", "-q", "--hard", r])?;
        }
    }
    export::list_transcripts(hub)?;
    let plan = export::plan(hub)?;
    let written = export::export(hub, &git.dir, &plan, opts.redact, true)?;
    let made = commit(git, remote.as_deref(), written.len())?;
    hub.store.tx(|tx| {
        records::exported(tx, &plan)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, '1') ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [export::SYNC_EXPORTED],
        )?;
        Ok(())
    })?;
    report.exported.extend(written);
    if made.is_some() {
        report.commit = made;
    }
    let head = git.commit("HEAD")?;
    if head.is_none() || head == remote {
        return Ok(true);
    }
    let out = git.output(&["push", "-q", "origin", &format!("HEAD:refs/heads/{BRANCH}")])?;
    if out.ok {
        report.pushed = true;
        return Ok(true);
    }
    let moved = ["rejected", "fetch first", "non-fast-forward"]
        .iter()
        .any(|w| out.stderr.contains(w));
    if moved {
        return Ok(false);
    }
    Err(git::failed(
        &["push", "origin", BRANCH],
        &out.stderr,
        Some(format!(
            "nothing is lost: the records are committed in {}; run `coagent sync` again once the remote can be reached",
            git.dir.display()
        )),
    ))
}

/// `coagent sync`.
pub fn sync(hub: &mut Hub, opts: &Options) -> Result<Report> {
    let url = remote_url(hub, opts.remote.as_deref())?;
    let mut report = Report {
        remote: url.clone(),
        branch: BRANCH,
        imported: BTreeMap::new(),
        exported: Vec::new(),
        commit: None,
        pushed: false,
        dry_run: opts.dry_run,
    };
    let exported_before = hub.store.meta_get(export::SYNC_EXPORTED)?.is_some();
    records::track(hub.store.conn(), exported_before)?;
    if opts.dry_run {
        export::list_transcripts(hub)?;
        let plan = export::plan(hub)?;
        report.exported = export::export(hub, &worktree(hub), &plan, opts.redact, false)?;
        return Ok(report);
    }
    let _alone = lock(hub)?;
    let git = ensure_worktree(hub, &url)?;
    // Held alone: a git lock left in the worktree is a killed sync's.
    let _ = std::fs::remove_file(git.dir.join(".git").join("index.lock"));
    hub.store.tx(|tx| {
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            rusqlite::params![SYNC_REMOTE, url],
        )?;
        Ok(())
    })?;
    for _ in 0..ATTEMPTS {
        if attempt(hub, &git, opts, &mut report)? {
            return Ok(report);
        }
    }
    Err(Error::invalid(
        "the remote's coagent/sync branch kept moving while this hub synced",
        Some("nothing is lost; run `coagent sync` again".to_string()),
    ))
}
