//! What `coagent watch` does, one step at a time, so that the loop at the binary's edge
//! (filesystem events, signals, the clipboard holder) stays thin and every step is testable:
//! one watcher per hub ([`lock`]); files dropped into `temps/inbox/` are ingested once and
//! whole ([`Inbox`]), then moved to `inbox/done/` or to `inbox/failed/` with an error file
//! beside them; and [`tick`] runs the bloat monitor and wraps a breached session when
//! `auto_wrap` is on.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::bloat::Level;
use crate::clipboard::Clipboard;
use crate::hub::Hub;
use crate::wrap::{self, WrapOptions, Wrapped};
use crate::{Error, Result, fsx, ingest, status};

/// After its writer closed it (or it was renamed into place), a file must keep its size
/// and modification time this long before it is read.
pub const SETTLE: Duration = Duration::from_millis(200);
/// Without a close or rename event (files present before `watch` started, filesystems that
/// do not report closes), a file must be quiet this long: a writer that pauses between slow
/// chunks is not read half-way.
pub const QUIET: Duration = Duration::from_secs(3);

/// Holds the hub's watch lock for as long as it lives.
#[derive(Debug)]
pub struct WatchLock {
    _file: File,
    pub path: PathBuf,
}

/// Takes the hub's watch lock; a second `watch` on the same hub is refused.
pub fn lock(hub: &Hub) -> Result<WatchLock> {
    let path = hub.status_dir().join("watch.lock");
    std::fs::create_dir_all(hub.status_dir())
        .map_err(|e| Error::io("cannot create temps/status", e))?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(format!("cannot open {}", path.display()), e))?;
    match file.try_lock() {
        Ok(()) => {
            use std::io::Write;
            let mut f = &file;
            let _ = f.write_all(format!("{}\n", std::process::id()).as_bytes());
            Ok(WatchLock { _file: file, path })
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            Err(Error::invalid(
                format!(
                    "another `coagent watch` is already running on this hub (pid {})",
                    pid.trim()
                ),
                Some("one watcher per hub: stop the other one (Ctrl-C) or use it".to_string()),
            ))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::io(format!("cannot lock {}", path.display()), e))
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct InboxOutcome {
    pub file: PathBuf,
    pub moved_to: PathBuf,
    pub report: Option<ingest::IngestReport>,
    pub error: Option<String>,
}

/// The inbox: which files have settled, and what happened to each.
#[derive(Debug, Default)]
pub struct Inbox {
    seen: HashMap<PathBuf, (u64, SystemTime, Instant)>,
    closed: std::collections::HashSet<PathBuf>,
}

fn skip_name(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with('~')
        || [
            ".tmp",
            ".part",
            ".crdownload",
            ".partial",
            ".swp",
            ".error.txt",
        ]
        .iter()
        .any(|s| name.ends_with(s))
}

impl Inbox {
    /// The file's writer closed it, or it was renamed into the inbox: it is complete.
    pub fn note_complete(&mut self, path: &Path) {
        self.closed.insert(path.to_path_buf());
    }

    /// For `watch --once`, which cannot wait to see a file settle: the files of
    /// `temps/inbox/` no process has open for writing (Linux: every process's open files
    /// are looked at; elsewhere a file unchanged for [`SETTLE`] counts), and those skipped,
    /// with the reason.
    pub fn complete_now(hub: &Hub) -> (Vec<PathBuf>, Vec<(PathBuf, String)>) {
        let (mut ready, mut skipped) = (Vec::new(), Vec::new());
        let Ok(rd) = std::fs::read_dir(hub.inbox()) else {
            return (ready, skipped);
        };
        let mut files: Vec<(PathBuf, String)> = rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| (e.path(), e.file_name().to_string_lossy().into_owned()))
            .collect();
        files.sort();
        let writers = writers_of(&files.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>());
        for (p, name) in files {
            if skip_name(&name) {
                skipped.push((p, "a temporary or partial file's name".to_string()));
            } else if let Some(pid) = writers.get(&p) {
                skipped.push((p, format!("still open for writing (pid {pid})")));
            } else {
                ready.push(p);
            }
        }
        (ready, skipped)
    }

    /// Files of `temps/inbox/` that are complete: closed by their writer (or renamed into
    /// place) and unchanged for [`SETTLE`], or unchanged for [`QUIET`].
    pub fn settled(&mut self, hub: &Hub, now: Instant) -> Vec<PathBuf> {
        let mut ready = Vec::new();
        let mut present = Vec::new();
        let Ok(rd) = std::fs::read_dir(hub.inbox()) else {
            return ready;
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let Ok(meta) = e.metadata() else { continue };
            if !meta.is_file() || skip_name(&name) {
                continue;
            }
            present.push(p.clone());
            let sig = (
                meta.len(),
                meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
            );
            match self.seen.get(&p) {
                Some((len, mtime, since)) if (*len, *mtime) == sig => {
                    let wait = if self.closed.contains(&p) || writer_gone(&p) {
                        SETTLE
                    } else {
                        QUIET
                    };
                    if now.duration_since(*since) >= wait {
                        ready.push(p.clone());
                    }
                }
                _ => {
                    self.seen.insert(p.clone(), (sig.0, sig.1, now));
                }
            }
        }
        self.seen.retain(|p, _| present.contains(p));
        self.closed.retain(|p| present.contains(p));
        ready.sort();
        ready
    }

    /// Ingests one settled file and moves it out of the inbox.
    pub fn ingest(
        &mut self,
        hub: &mut Hub,
        file: &Path,
        clip: &mut dyn Clipboard,
    ) -> Result<InboxOutcome> {
        self.seen.remove(file);
        self.closed.remove(file);
        let name = file
            .file_name()
            .map(|n| n.to_os_string())
            .unwrap_or_default();
        let result = std::fs::File::open(file)
            .map_err(|e| Error::io(format!("cannot read {}", file.display()), e))
            .and_then(|mut f| ingest::read_bounded(&mut f, &file.display().to_string()))
            .and_then(|bytes| ingest::ingest(hub, &bytes, None, clip));
        let (dir, report, error) = match result {
            Ok(r) => (hub.inbox().join("done"), Some(r), None),
            Err(e) => {
                let mut msg = e.to_string();
                if let Some(h) = e.hint() {
                    msg.push_str(&format!("\nhint: {h}"));
                }
                (hub.inbox().join("failed"), None, Some(msg))
            }
        };
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("cannot create {}", dir.display()), e))?;
        let mut target = dir.join(&name);
        if target.exists() {
            let stamp = crate::clock::file_stamp(hub.now_ms());
            target = dir.join(format!("{stamp}-{}", name.to_string_lossy()));
        }
        std::fs::rename(file, &target)
            .map_err(|e| Error::io(format!("cannot move {}", file.display()), e))?;
        if let Some(err) = &error {
            let mut ef = target.clone().into_os_string();
            ef.push(".error.txt");
            fsx::write_atomic(Path::new(&ef), format!("{err}\n").as_bytes())?;
        }
        Ok(InboxOutcome {
            file: file.to_path_buf(),
            moved_to: target,
            report,
            error,
        })
    }
}

/// Windows never reports a writer's close: there, a file that no program holds open for
/// writing is complete, asked the way Windows answers it (an open that lets others only
/// read fails while a writer has the file). Elsewhere the close event says it.
#[cfg(windows)]
fn writer_gone(path: &Path) -> bool {
    use std::os::windows::fs::OpenOptionsExt;
    const FILE_SHARE_READ: u32 = 1;
    std::fs::OpenOptions::new()
        .read(true)
        .share_mode(FILE_SHARE_READ)
        .open(path)
        .is_ok()
}

#[cfg(not(windows))]
fn writer_gone(_path: &Path) -> bool {
    false
}

/// Which of `files` some process holds open for writing, and its pid (Linux: from
/// `/proc/<pid>/fd` and the open flags in `/proc/<pid>/fdinfo`).
#[cfg(target_os = "linux")]
fn writers_of(files: &[PathBuf]) -> HashMap<PathBuf, u32> {
    let mut out = HashMap::new();
    if files.is_empty() {
        return out;
    }
    let wanted: HashMap<PathBuf, PathBuf> = files
        .iter()
        .filter_map(|f| dunce::canonicalize(f).ok().map(|c| (c, f.clone())))
        .collect();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return out;
    };
    for p in procs.flatten() {
        let Some(pid) = p.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(p.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let Some(file) = wanted.get(&target) else {
                continue;
            };
            let info = std::fs::read_to_string(p.path().join("fdinfo").join(fd.file_name()))
                .unwrap_or_default();
            let flags = info
                .lines()
                .find_map(|l| l.strip_prefix("flags:"))
                .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
                .unwrap_or(0);
            // O_WRONLY (1) or O_RDWR (2).
            if flags & 3 != 0 {
                out.insert(file.clone(), pid);
            }
        }
    }
    out
}

#[cfg(not(target_os = "linux"))]
fn writers_of(files: &[PathBuf]) -> HashMap<PathBuf, u32> {
    let sig = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.len(), m.modified().ok()))
    };
    let before: Vec<_> = files.iter().map(|p| sig(p)).collect();
    std::thread::sleep(SETTLE);
    files
        .iter()
        .zip(before)
        .filter(|(p, b)| sig(p) != *b)
        .map(|(p, _)| (p.clone(), 0))
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    pub level: Level,
    pub session: Option<String>,
    pub wrapped: Vec<Wrapped>,
    /// Breached sessions left open for now: a result is on its way to the chat, and the
    /// breach is not one of context or drift (the wrap waits for the chat's answer, so that
    /// what the result brings is in the handoff).
    pub held: Vec<String>,
}

/// One check of the bloat monitor; wraps each breached session when `auto_wrap` is on.
pub fn tick(hub: &mut Hub, clip: &mut dyn Clipboard) -> Result<Tick> {
    let cfg = hub.config()?;
    let open = status::check(hub)?;
    let mut wrapped = Vec::new();
    let mut held = Vec::new();
    if cfg.watch.auto_wrap {
        // Only live chats: a boot payload nobody pasted yet is not a degrading chat.
        for s in open
            .iter()
            .filter(|s| s.level == Level::Fail && s.session.state == "live" && !s.session.elsewhere)
        {
            let failing: Vec<&str> = s
                .signals
                .iter()
                .filter(|x| x.level == Level::Fail)
                .map(|x| x.name)
                .collect();
            // The check decided it: a result on its way, and nothing of the chat's own fails.
            if s.wrap_waits {
                held.push(s.session.id.clone());
                continue;
            }
            let reason = failing.join(", ");
            let w = wrap::wrap(
                hub,
                WrapOptions {
                    session: Some(s.session.id.clone()),
                    to: None,
                    redact: false,
                    respawn: true,
                    reason: format!("bloat: {reason}"),
                },
                clip,
            )?;
            wrapped.push(w);
        }
    }
    let after = if wrapped.is_empty() {
        open
    } else {
        status::check(hub)?
    };
    Ok(Tick {
        level: after.first().map_or(Level::Idle, |s| s.level),
        session: after.first().map(|s| s.session.id.clone()),
        wrapped,
        held,
    })
}
