//! Backups of the store, so that a damaged `store.db` is not the end of a hub's records:
//! SQLite's online backup (a consistent copy taken while other commands go on) into
//! `cache/backups/store-<UTC>-<reason>.db`, after every wrap and once a day (the first
//! command of the day that opens the hub takes it), the newest [`KEEP`] kept.
//! `coagent doctor --repair` restores the newest one that passes SQLite's integrity check.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use crate::hub::Hub;
use crate::{Error, Result, fsx};

/// Where backups live, relative to the hub.
pub const DIR: &str = "cache/backups";
/// Backups kept; older ones are removed when a new one lands.
pub const KEEP: usize = 5;
/// A backup older than this makes the next command take a new one.
pub const DAILY: Duration = Duration::from_secs(24 * 60 * 60);

/// One backup file.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Backup {
    pub path: PathBuf,
    /// Seconds since the Unix epoch of its last change.
    pub taken_at: u64,
    pub bytes: u64,
}

/// Takes a backup of the hub's store now; returns its path.
pub fn take(hub: &Hub, reason: &str) -> Result<PathBuf> {
    let dir = fsx::join_rel(&hub.dir, DIR);
    std::fs::create_dir_all(&dir)
        .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
    let stamp = jiff::Timestamp::now()
        .strftime("%Y%m%dT%H%M%S%.3fZ")
        .to_string();
    let path = dir.join(format!("store-{stamp}-{reason}.db"));
    // Written under a temp name and renamed: a backup killed halfway is never taken for one.
    let tmp = dir.join(format!(
        "{}{}-backup.db",
        fsx::TEMP_PREFIX,
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    hub.store
        .conn()
        .backup(
            rusqlite::MAIN_DB,
            &tmp,
            None::<fn(rusqlite::backup::Progress)>,
        )
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::from(e)
        })?;
    fsx::open_for_sync(&tmp)
        .and_then(|f| f.sync_all())
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            Error::io(format!("cannot write {}", path.display()), e)
        })?;
    fsx::sync_dir(&dir)?;
    prune(&dir);
    Ok(path)
}

/// Takes the day's backup when the newest is older than [`DAILY`] (or there is none).
pub fn daily(hub: &Hub) -> Result<Option<PathBuf>> {
    let newest = list(&hub.dir).into_iter().next();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match newest {
        Some(b) if now.saturating_sub(b.taken_at) < DAILY.as_secs() => Ok(None),
        _ => take(hub, "daily").map(Some),
    }
}

/// The hub's backups, newest first.
pub fn list(hub_dir: &Path) -> Vec<Backup> {
    let Ok(entries) = std::fs::read_dir(fsx::join_rel(hub_dir, DIR)) else {
        return Vec::new();
    };
    let mut out: Vec<Backup> = entries
        .flatten()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.starts_with("store-") && n.ends_with(".db")
        })
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            let taken_at = m
                .modified()
                .ok()?
                .duration_since(SystemTime::UNIX_EPOCH)
                .ok()?
                .as_secs();
            Some(Backup {
                path: e.path(),
                taken_at,
                bytes: m.len(),
            })
        })
        .collect();
    // The names carry the time to the millisecond: they sort as the backups were taken.
    out.sort_by(|a, b| b.path.cmp(&a.path));
    out
}

/// What a backup holds, when SQLite finds it sound: its sessions and artifacts.
pub fn check(path: &Path) -> Option<(i64, i64)> {
    let c = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).ok()?;
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .ok()?;
    if ok != "ok" {
        return None;
    }
    let count = |t: &str| {
        c.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
            .ok()
    };
    Some((count("sessions")?, count("artifacts")?))
}

fn prune(dir: &Path) {
    let all = list(dir.parent().and_then(Path::parent).unwrap_or(dir));
    for b in all.into_iter().skip(KEEP) {
        let _ = std::fs::remove_file(&b.path);
    }
}
