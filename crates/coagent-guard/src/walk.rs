//! Scanning files and folders: the library side of `coagent guard scan [PATH…|-]`.
//!
//! Owns walking (the `ignore` crate's parallel walker, honouring `.gitignore` and
//! `.ignore` files even outside a git repository), skipping binaries and allowlisted
//! paths, and collecting a [`ScanReport`]. It reads files (and stdin for `-`) but never
//! writes anything and never prints.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use ignore::{WalkBuilder, WalkState};
use serde::Serialize;

use crate::{Guard, GuardError};

/// Files larger than this are skipped (counted in `files_skipped`): they are data dumps or
/// build products, not text anyone pastes into a chat.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// How many leading bytes are inspected for a NUL byte to call a file binary (the same
/// heuristic as git and ripgrep).
const BINARY_PROBE: usize = 8192;

/// One finding in one file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PathFinding {
    /// The file's path as reached from the given roots; `-` for stdin.
    pub path: String,
    /// 1-based line.
    pub line: usize,
    /// The rule id.
    pub rule: String,
    /// The masked preview (see [`crate::Finding::preview`]).
    pub preview: String,
}

/// The result of [`scan_paths`]; `findings` sorted by path, then line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScanReport {
    pub findings: Vec<PathFinding>,
    pub bytes_scanned: u64,
    pub files_scanned: u64,
    /// Binaries, files over [`MAX_FILE_BYTES`], allowlisted paths, unreadable entries.
    pub files_skipped: u64,
}

#[derive(Default)]
struct Totals {
    findings: Mutex<Vec<PathFinding>>,
    bytes: AtomicU64,
    scanned: AtomicU64,
    skipped: AtomicU64,
}

impl Totals {
    fn record(&self, guard: &Guard, path: &str, bytes: &[u8]) {
        self.bytes.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.scanned.fetch_add(1, Ordering::Relaxed);
        let found = guard.scan_named(path, bytes);
        if found.is_empty() {
            return;
        }
        let mut all = self
            .findings
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        all.extend(found.into_iter().map(|f| PathFinding {
            path: path.to_owned(),
            line: f.line,
            rule: f.rule,
            preview: f.preview,
        }));
    }

    fn skip(&self) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
    }
}

/// Recursively scan files and folders in parallel: `.gitignore`/`.ignore` honoured,
/// hidden files included (`.env` is where secrets live) but `.git/` skipped, binaries and
/// allowlisted `paths` skipped. A path `-` reads stdin. An empty list scans `.`.
///
/// # Errors
/// [`GuardError::Io`] when a given path does not exist or stdin cannot be read. Errors on
/// entries found while walking are counted as skipped files instead.
pub fn scan_paths(guard: &Guard, paths: &[PathBuf]) -> Result<ScanReport, GuardError> {
    let default = [PathBuf::from(".")];
    let paths = if paths.is_empty() {
        &default[..]
    } else {
        paths
    };
    let totals = Totals::default();
    let mut roots: Vec<&Path> = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            let mut buf = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .map_err(|source| GuardError::Io {
                    path: p.clone(),
                    source,
                })?;
            totals.record(guard, "-", &buf);
        } else {
            std::fs::metadata(p).map_err(|source| GuardError::Io {
                path: p.clone(),
                source,
            })?;
            roots.push(p);
        }
    }
    if let Some((first, rest)) = roots.split_first() {
        let mut builder = WalkBuilder::new(first);
        for r in rest {
            builder.add(r);
        }
        builder
            .hidden(false)
            .require_git(false)
            .follow_links(false)
            .filter_entry(|e| e.file_name() != ".git");
        builder.build_parallel().run(|| {
            let totals = &totals;
            Box::new(move |entry| {
                match entry {
                    Ok(entry) if entry.file_type().is_some_and(|t| t.is_file()) => {
                        scan_file(guard, totals, entry.path());
                    }
                    Ok(_) => {}
                    Err(_) => totals.skip(),
                }
                WalkState::Continue
            })
        });
    }
    let mut findings = totals
        .findings
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    findings.sort_by(|a, b| {
        (a.path.as_str(), a.line, a.rule.as_str()).cmp(&(b.path.as_str(), b.line, b.rule.as_str()))
    });
    Ok(ScanReport {
        findings,
        bytes_scanned: totals.bytes.into_inner(),
        files_scanned: totals.scanned.into_inner(),
        files_skipped: totals.skipped.into_inner(),
    })
}

fn scan_file(guard: &Guard, totals: &Totals, path: &Path) {
    let name = path.display().to_string();
    if guard.path_allowed(&name) {
        totals.skip();
        return;
    }
    let too_big = std::fs::metadata(path).map_or(true, |m| m.len() > MAX_FILE_BYTES);
    if too_big {
        totals.skip();
        return;
    }
    let Ok(bytes) = std::fs::read(path) else {
        totals.skip();
        return;
    };
    if memchr::memchr(0, &bytes[..bytes.len().min(BINARY_PROBE)]).is_some() {
        totals.skip();
        return;
    }
    totals.record(guard, &name, &bytes);
}
