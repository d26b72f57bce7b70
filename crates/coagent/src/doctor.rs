//! `coagent doctor`: checks a hub and, with `--repair`, mends what is safe to mend.
//!
//! What it checks: the store (it opens; SQLite's `PRAGMA integrity_check`; its schema
//! version; not empty while the hub holds artifacts and transcripts), runs whose CoAgent
//! died (still recorded `running`), files no record points to (payloads, transcripts,
//! artifacts, wrap archives, DO copies, a dead run's `$COAGENT_OUT`), temp files of dead
//! processes, payload files against their headers and records, and wrap archives against
//! their records and manifests.
//!
//! How files follow the store (see docs/decisions.md): a durable file is written before
//! the transaction that records it, so a crash between the two leaves a file with no
//! record, never a record with no file. Such orphans are found here. They may be the
//! user's data, so `--repair` moves them to `cache/lost+found/<UTC>/` (their path kept
//! under it) and deletes them only with `--yes`. Temp files are named after the process
//! that writes them and are removed once it is gone. A damaged store is moved to
//! lost+found too, and the newest sound backup ([`crate::backup`]) put in its place.
//!
//! Doctor tries to hold the hub's lock alone ([`crate::hub::lock_alone`]). Without it
//! (another command, e.g. `coagent watch`, has the hub open) a file younger than
//! [`Options::grace`] could be one a running command is about to record: it is left alone,
//! and the store is never replaced.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::hub::{self, Hub};
use crate::{Result, backup, dos, fsx, store, wrap};

/// Where `--repair` moves what it takes out of the hub, relative to the hub.
pub const LOST_AND_FOUND: &str = "cache/lost+found";

#[derive(Debug, Clone)]
pub struct Options {
    /// Mend what is safe to mend.
    pub repair: bool,
    /// With `repair`: delete orphans instead of moving them to lost+found; make a new
    /// empty store when a damaged one has no backup.
    pub yes: bool,
    /// Files younger than this are left alone unless doctor holds the hub alone.
    pub grace: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            repair: false,
            yes: false,
            grace: Duration::from_secs(10 * 60),
        }
    }
}

/// One thing doctor found.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `store`, `runs`, `orphans`, `temps`, `payloads`, `wraps`.
    pub check: &'static str,
    /// `problem` (the hub is not clean while it stands) or `note`.
    pub level: &'static str,
    pub message: String,
    /// Relative to the hub, when it is about one file.
    pub path: Option<String>,
    /// What `--repair` does (or did) about it; `None` when it cannot.
    pub fix: Option<String>,
    pub repaired: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub hub: PathBuf,
    /// Doctor held the hub alone (no other command had it open).
    pub alone: bool,
    pub repair: bool,
    pub findings: Vec<Finding>,
    pub backups: Vec<backup::Backup>,
    /// Where `--repair` put what it moved out of the hub.
    pub lost_and_found: Option<PathBuf>,
}

impl Report {
    /// Problems still standing.
    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.level == "problem" && !f.repaired)
            .count()
    }

    pub fn clean(&self) -> bool {
        self.problems() == 0
    }

    fn problem(&mut self, check: &'static str, message: String, path: Option<String>) -> usize {
        self.findings.push(Finding {
            check,
            level: "problem",
            message,
            path,
            fix: None,
            repaired: false,
        });
        self.findings.len() - 1
    }

    fn note(&mut self, check: &'static str, message: String) {
        self.findings.push(Finding {
            check,
            level: "note",
            message,
            path: None,
            fix: None,
            repaired: false,
        });
    }
}

/// Checks the hub in `dir` (its `.coagent/` folder); mends with `opts.repair`.
pub fn run(dir: &Path, opts: &Options) -> Result<Report> {
    let lock = hub::lock_alone(dir);
    let mut r = Report {
        hub: dir.to_path_buf(),
        alone: lock.is_some(),
        repair: opts.repair,
        findings: Vec::new(),
        backups: backup::list(dir),
        lost_and_found: None,
    };
    let mut mover = Mover::new(dir);
    let store_ok = check_store(dir, opts, &mut r, &mut mover)?;
    if store_ok {
        let mut hub = Hub::open_locked(dir, lock)?;
        check_runs(&mut hub, opts, &mut r)?;
        check_orphans(&hub, opts, &mut r, &mut mover)?;
        check_payloads(&hub, &mut r)?;
        check_wraps(&hub, &mut r)?;
    }
    check_temps(dir, opts, &mut r);
    if !r.alone {
        r.note(
            "hub",
            format!(
                "another coagent command has the hub open: files younger than {} min were not judged, and the store is not replaced",
                opts.grace.as_secs() / 60
            ),
        );
    }
    r.lost_and_found = mover.used.then(|| mover.root.clone());
    r.backups = backup::list(dir);
    Ok(r)
}

/// What the store's file says: `Ok(())` when SQLite finds it sound and it is not empty
/// beside data; else the problem in words.
fn store_problem(dir: &Path) -> std::result::Result<(), String> {
    let path = dir.join("store.db");
    let meta = std::fs::metadata(&path).map_err(|_| "is missing".to_string())?;
    if meta.len() == 0 {
        return Err("is empty (0 bytes)".to_string());
    }
    let c = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| format!("cannot be opened ({e})"))?;
    let check: Vec<String> = c
        .prepare("PRAGMA integrity_check")
        .and_then(|mut s| {
            s.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(|e| format!("is damaged ({e})"))?;
    if check.first().map(String::as_str) != Some("ok") {
        return Err(format!(
            "fails SQLite's integrity check: {}",
            check.into_iter().take(3).collect::<Vec<_>>().join("; ")
        ));
    }
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| format!("is damaged ({e})"))?;
    if version == 0 {
        return Err("holds no CoAgent schema".to_string());
    }
    let count = |t: &str| -> i64 {
        c.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
            .unwrap_or(0)
    };
    let (sessions, artifacts) = (count("sessions"), count("artifacts"));
    let (art_dirs, transcripts) = (
        entries(&dir.join("artifacts")),
        entries(&dir.join("transcripts")),
    );
    if sessions == 0 && artifacts == 0 && (art_dirs > 0 || transcripts > 0) {
        return Err(format!(
            "holds no session and no artifact, while the hub holds {art_dirs} artifact folder(s) and {transcripts} transcript folder(s): its records are lost"
        ));
    }
    Ok(())
}

/// Folders of `dir` that hold something.
fn entries(dir: &Path) -> usize {
    dirs_in(dir).iter().filter(|d| entries_any(d)).count()
}

fn entries_any(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut e| e.next().is_some())
}

/// The store: sound, or restored from a backup with `--repair`. `true` when usable.
fn check_store(dir: &Path, opts: &Options, r: &mut Report, mover: &mut Mover) -> Result<bool> {
    let problem = match store_problem(dir) {
        Ok(()) => {
            check_schema(dir, r);
            return Ok(r.findings.iter().all(|f| f.check != "store"));
        }
        Err(p) => p,
    };
    let i = r.problem(
        "store",
        format!("the store (store.db) {problem}"),
        Some("store.db".into()),
    );
    // A store that lost its records is only mended by a backup that has some.
    let lost_records = problem.starts_with("holds no session");
    let good = r.backups.iter().find_map(|b| {
        backup::check(&b.path)
            .filter(|(s, a)| !lost_records || s + a > 0)
            .map(|_| b.clone())
    });
    r.findings[i].fix = Some(match &good {
        Some(b) => format!(
            "move it to {LOST_AND_FOUND}/ and restore the backup {} (records written after it are not in it)",
            name_of(&b.path)
        ),
        None if opts.yes => format!("no sound backup: move it to {LOST_AND_FOUND}/ and start a new, empty store"),
        None => "no sound backup to restore; `coagent doctor --repair --yes` moves it to lost+found and starts a new, empty store".to_string(),
    });
    if !opts.repair || (good.is_none() && !opts.yes) {
        return Ok(false);
    }
    if !r.alone {
        r.findings[i].fix = Some("stop the other coagent commands (e.g. `coagent watch`), then run `coagent doctor --repair` again".into());
        return Ok(false);
    }
    for suffix in ["", "-wal", "-shm"] {
        let p = dir.join(format!("store.db{suffix}"));
        if p.exists() {
            mover.keep(&p)?;
        }
    }
    let target = dir.join("store.db");
    match good {
        Some(b) => restore(&b.path, &target)?,
        None => drop(store::Store::open(&target, true)?),
    }
    r.findings[i].repaired = true;
    Ok(true)
}

fn check_schema(dir: &Path, r: &mut Report) {
    let Ok(c) = Connection::open_with_flags(dir.join("store.db"), OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return;
    };
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap_or(0);
    let latest = store::schema_latest();
    if version > latest {
        let i = r.problem(
            "store",
            format!("the store is at schema {version}, newer than this coagent knows ({latest})"),
            Some("store.db".into()),
        );
        r.findings[i].fix = None;
    } else if version < latest {
        r.note(
            "store",
            format!("the store is at schema {version}; the next command brings it to {latest}"),
        );
    }
}

/// Copies the backup into place under a temp name, synced, then renames it.
fn restore(from: &Path, to: &Path) -> Result<()> {
    let dir = to.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        "{}{}-restore.db",
        fsx::TEMP_PREFIX,
        std::process::id()
    ));
    let err = |e| crate::Error::io(format!("cannot restore {}", from.display()), e);
    std::fs::copy(from, &tmp).map_err(err)?;
    fsx::open_for_sync(&tmp)
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, to))
        .map_err(err)?;
    fsx::sync_dir(dir)
}

/// Runs recorded `running` whose CoAgent is gone.
fn check_runs(hub: &mut Hub, opts: &Options, r: &mut Report) -> Result<()> {
    let found = dos::interrupted::find(hub)?;
    if found.is_empty() {
        return Ok(());
    }
    let fixed = if opts.repair {
        dos::interrupted::recover(hub)?
    } else {
        Vec::new()
    };
    for (run, do_id, pid) in found {
        let owner = pid.map_or_else(
            || "its coagent".to_string(),
            |p| format!("coagent (pid {p})"),
        );
        let i = r.problem(
            "runs",
            format!("run {run} of {do_id} is recorded running, but {owner} is gone"),
            None,
        );
        let done = fixed.iter().find(|f| f.run == run);
        r.findings[i].fix = Some(match done {
            Some(f) => format!(
                "recorded interrupted; {} leftover process(es) killed",
                f.killed
            ),
            None => "record it interrupted and kill what is left of it".to_string(),
        });
        r.findings[i].repaired = done.is_some();
    }
    Ok(())
}

/// Files no record points to: reported, and with `--repair` moved aside (or deleted).
fn check_orphans(hub: &Hub, opts: &Options, r: &mut Report, mover: &mut Mover) -> Result<()> {
    let mut young = 0;
    for p in find_orphans(hub)? {
        if !r.alone && younger_than(&p, opts.grace) {
            young += 1;
            continue;
        }
        let rel = hub.rel(&p);
        let i = r.problem("orphans", format!("{rel} belongs to no record"), Some(rel));
        r.findings[i].fix = Some(if opts.yes {
            "delete it".to_string()
        } else {
            format!("move it to {LOST_AND_FOUND}/ (`--yes` deletes it instead)")
        });
        if opts.repair {
            if opts.yes {
                remove(&p);
            } else {
                mover.keep(&p)?;
            }
            r.findings[i].repaired = true;
        }
    }
    if young > 0 {
        r.note(
            "orphans",
            format!("{young} recent file(s) with no record were left alone"),
        );
    }
    missing_artifacts(hub, r)
}

/// Payloads, transcripts, artifact folders, wrap archives, DO copies and `$COAGENT_OUT`
/// folders that no record points to.
fn find_orphans(hub: &Hub) -> Result<Vec<PathBuf>> {
    let c = hub.store.conn();
    let set = |sql: &str| -> Result<HashSet<String>> {
        let mut s = c.prepare(sql)?;
        Ok(s.query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<HashSet<_>>>()?)
    };
    let payload_paths = set("SELECT path FROM payloads")?;
    let payload_ids = set("SELECT id FROM payloads")?;
    let reply_paths = set("SELECT path FROM replies")?;
    let artifact_ids = set("SELECT id FROM artifacts")?;
    let archives = set("SELECT archive FROM wraps")?;
    let do_ids = set("SELECT id FROM dos")?;
    let running = set("SELECT id FROM runs WHERE status = 'running'")?;
    let mut orphans: Vec<PathBuf> = Vec::new();
    let d = &hub.dir;
    for p in files_in(&d.join("temps/outbox")) {
        if name_of(&p).ends_with(".paste.md") && !payload_paths.contains(&hub.rel(&p)) {
            orphans.push(p);
        }
    }
    for session in dirs_in(&d.join("transcripts")) {
        for p in files_in(&session) {
            let name = name_of(&p);
            let known = if name.contains("-in-") {
                reply_paths.contains(&hub.rel(&p))
            } else {
                name.find("BC-")
                    .and_then(|i| name.get(i..i + 29))
                    .is_some_and(|id| payload_ids.contains(id))
            };
            if !known && !name.starts_with(fsx::TEMP_PREFIX) {
                orphans.push(p);
            }
        }
    }
    for a in dirs_in(&d.join("artifacts")) {
        if !artifact_ids.contains(&name_of(&a)) {
            orphans.push(a);
        }
    }
    for p in files_in(&hub.wraps_dir()) {
        if name_of(&p).ends_with(".tar.zst") && !archives.contains(&hub.rel(&p)) {
            orphans.push(p);
        }
    }
    for p in files_in(&d.join("dos")) {
        let name = name_of(&p);
        let id = name.split('.').next().unwrap_or_default();
        if id.starts_with("DO-") && !do_ids.contains(id) {
            orphans.push(p);
        }
    }
    for p in dirs_in(&d.join("cache/run")) {
        let name = name_of(&p);
        if let Some(run) = name.strip_suffix("-out")
            && !running.contains(run)
        {
            orphans.push(p);
        }
    }
    Ok(orphans)
}

/// Artifact records whose file is gone: reported, never invented.
fn missing_artifacts(hub: &Hub, r: &mut Report) -> Result<()> {
    let mut s = hub
        .store
        .conn()
        .prepare("SELECT id, path FROM artifacts WHERE stored = 1")?;
    let rows: Vec<(String, String)> = s
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (id, path) in rows {
        if !hub.dir.join(&path).is_file() {
            r.problem(
                "orphans",
                format!("artifact {id} is recorded, but its file {path} is missing"),
                Some(path),
            );
        }
    }
    Ok(())
}

/// Payload files against their records and headers.
fn check_payloads(hub: &Hub, r: &mut Report) -> Result<()> {
    let mut s = hub
        .store
        .conn()
        .prepare("SELECT path, sha256 FROM payloads")?;
    let rows: Vec<(String, String)> = s
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (rel, sha) in rows {
        let p = hub.dir.join(&rel);
        let Ok(bytes) = std::fs::read(&p) else {
            // An outbox file the user removed after pasting is not a problem.
            continue;
        };
        if fsx::sha256_hex(&bytes) == sha {
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        let why = match header_matches(&text) {
            Some(true) => {
                "was written again since it was recorded (a later payload of the same name)"
            }
            Some(false) => "does not match its header's sha256: it was edited or damaged",
            None => "has no CoAgent header",
        };
        if !why.starts_with("was written") {
            r.problem("payloads", format!("{rel} {why}"), Some(rel));
        }
    }
    Ok(())
}

/// Whether the header's sha256 is that of the body after it; `None` without a header.
fn header_matches(text: &str) -> Option<bool> {
    let (first, body) = text.split_once('\n')?;
    let sha = first
        .split_whitespace()
        .find_map(|w| w.strip_prefix("sha256="))?;
    Some(fsx::sha256_hex(body.as_bytes()) == sha)
}

/// Wrap archives against their records and manifests.
fn check_wraps(hub: &Hub, r: &mut Report) -> Result<()> {
    for w in wrap::list(hub)? {
        let p = hub.dir.join(&w.archive);
        if !p.is_file() {
            // `sweep` removes archives of consumed wraps and keeps their records.
            if w.consumed_at.is_none() {
                r.problem(
                    "wraps",
                    format!("wrap {}'s archive {} is missing", w.id, w.archive),
                    Some(w.archive.clone()),
                );
            }
            continue;
        }
        let sha = fsx::sha256_file(&p).map(|(s, _)| s).unwrap_or_default();
        if sha != w.sha256 {
            r.problem(
                "wraps",
                format!("wrap {}'s archive does not match its record's sha256", w.id),
                Some(w.archive.clone()),
            );
            continue;
        }
        let v = wrap::verify(&p)?;
        if !v.ok {
            r.problem(
                "wraps",
                format!(
                    "wrap {}'s archive does not match its manifest: {}",
                    w.id,
                    wrap::describe(&v)
                ),
                Some(w.archive.clone()),
            );
        }
    }
    Ok(())
}

/// Temp files of processes that are gone: the hub's `.coagent-tmp-<pid>-…`, run scripts
/// `cache/run/coagent-do-<pid>-…`, and the system's `coagent-snapshot-<pid>-…` folders.
fn check_temps(dir: &Path, opts: &Options, r: &mut Report) {
    let mut temps = Vec::new();
    walk_temps(dir, &mut temps);
    for p in files_in(&dir.join("cache/run")) {
        if name_of(&p).starts_with(coagent_runner::run::SCRIPT_PREFIX) {
            temps.push(p);
        }
    }
    for p in dirs_in(&std::env::temp_dir()) {
        if name_of(&p).starts_with(coagent_runner::worktree::SNAPSHOT_PREFIX) {
            temps.push(p);
        }
    }
    let mut n = 0;
    for p in temps {
        let dead = match pid_in(&name_of(&p)) {
            Some(pid) => !coagent_runner::Owner { pid, start: 0 }.is_alive(),
            // Named before temp files carried their writer's pid.
            None => r.alone || !younger_than(&p, opts.grace),
        };
        if !dead {
            continue;
        }
        n += 1;
        if opts.repair {
            remove(&p);
        }
    }
    if n > 0 {
        let i = r.problem(
            "temps",
            format!("{n} temp file(s) of coagent processes that are gone"),
            None,
        );
        r.findings[i].fix = Some("remove them".into());
        r.findings[i].repaired = opts.repair;
    }
}

fn walk_temps(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let name = name_of(&p);
        if name.starts_with(fsx::TEMP_PREFIX) {
            out.push(p);
        } else if e.file_type().is_ok_and(|t| t.is_dir())
            && !matches!(name.as_str(), "shadow.git" | "lost+found")
        {
            walk_temps(&p, out);
        }
    }
}

/// The pid in `<prefix><pid>-…`.
fn pid_in(name: &str) -> Option<u32> {
    let rest = [
        fsx::TEMP_PREFIX,
        coagent_runner::run::SCRIPT_PREFIX,
        coagent_runner::worktree::SNAPSHOT_PREFIX,
    ]
    .iter()
    .find_map(|p| name.strip_prefix(p))?;
    rest.split('-').next()?.parse().ok()
}

/// Moves files out of the hub into one `lost+found/<UTC>/` folder, keeping their paths.
struct Mover {
    hub: PathBuf,
    root: PathBuf,
    used: bool,
}

impl Mover {
    fn new(hub: &Path) -> Mover {
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        Mover {
            hub: hub.to_path_buf(),
            root: fsx::join_rel(hub, LOST_AND_FOUND).join(stamp),
            used: false,
        }
    }

    fn keep(&mut self, p: &Path) -> Result<()> {
        let rel = p.strip_prefix(&self.hub).unwrap_or(p);
        let to = self.root.join(rel);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| crate::Error::io(format!("cannot create {}", parent.display()), e))?;
        }
        std::fs::rename(p, &to).map_err(|e| {
            crate::Error::io(
                format!("cannot move {} to {}", p.display(), to.display()),
                e,
            )
        })?;
        self.used = true;
        Ok(())
    }
}

fn remove(p: &Path) {
    if p.is_dir() {
        let _ = std::fs::remove_dir_all(p);
    } else {
        let _ = std::fs::remove_file(p);
    }
}

fn younger_than(p: &Path, age: Duration) -> bool {
    std::fs::symlink_metadata(p)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_none_or(|a| a < age)
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    list(dir, false)
}

fn dirs_in(dir: &Path) -> Vec<PathBuf> {
    list(dir, true)
}

fn list(dir: &Path, dirs: bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir() == dirs))
        .map(|e| e.path())
        .collect();
    out.sort();
    out
}

fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
