//! Writing the hub's records into the sync worktree: `records/<kind>/<YYYY-MM>.jsonl`
//! (one JSON object a line, keys sorted, lines sorted by the record's key) and
//! `blobs/<sha256>` (an artifact's or a transcript's bytes, stored once). Only the months
//! whose records changed since the last export are written, unless nothing was ever
//! exported. Every exported byte passes the secret guard first: a finding refuses the
//! whole export with the guard's report, or with `--redact` is masked in the exported copy
//! (the hub's own records and files are never changed).

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use coagent::hub::Hub;
use coagent::records::{self, KINDS, Record, RecordKind};
use coagent::{Error, Result, fsx};
use coagent_guard::Guard;
use serde::Serialize;

pub const SYNC_EXPORTED: &str = "sync.exported";
const SYNC_WALKED: &str = "sync.walked";

/// One file of the export.
#[derive(Debug, Clone, Serialize)]
pub struct Written {
    pub path: String,
    pub records: usize,
}

/// Which (kind, month) files to write: every one on a first export, else those whose
/// records changed.
pub fn plan(hub: &Hub) -> Result<Vec<(String, String)>> {
    let c = hub.store.conn();
    if hub.store.meta_get(SYNC_EXPORTED)?.is_none() {
        let mut all = Vec::new();
        for k in KINDS {
            for m in records::months(c, k)? {
                all.push((k.name.to_string(), m));
            }
        }
        return Ok(all);
    }
    records::dirty(c)
}

/// A path from a record, relative to the hub, that stays inside `under/` (no `..`, not
/// absolute): a record from another hub never names a file elsewhere.
pub fn inside(rel: &str, under: &str) -> Option<PathBuf> {
    let p = Path::new(rel);
    let mut parts = p.components();
    if parts.next() != Some(Component::Normal(under.as_ref())) {
        return None;
    }
    let rest: Vec<_> = parts.collect();
    (!rest.is_empty() && rest.iter().all(|c| matches!(c, Component::Normal(_))))
        .then(|| p.to_path_buf())
}

/// Lists the transcripts in the `files` table: every file of a session's transcript folder
/// changed since the last walk (by the folder's modification time), all of them the first
/// time.
pub fn list_transcripts(hub: &mut Hub) -> Result<()> {
    let since: u64 = hub
        .store
        .meta_get(SYNC_WALKED)?
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let dir = hub.transcripts_dir();
    let mut found = Vec::new();
    for session in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let changed = session
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(u64::MAX, |d| d.as_secs());
        if changed + 2 < since {
            continue;
        }
        let name = session.file_name().to_string_lossy().into_owned();
        for f in std::fs::read_dir(session.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            if !f.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let file = f.file_name().to_string_lossy().into_owned();
            found.push((
                format!("transcripts/{name}/{file}"),
                name.clone(),
                f.path(),
                stamp_ms(&file),
            ));
        }
    }
    let now = hub.now_ms();
    hub.store.tx(|tx| {
        let mut known = tx.prepare_cached("SELECT 1 FROM files WHERE path = ?1")?;
        let mut add = tx.prepare_cached(
            "INSERT INTO files (path, session, sha256, at) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for (rel, session, abs, at) in &found {
            if known.exists([rel])? {
                continue;
            }
            let Ok((sha, _)) = fsx::sha256_file(abs) else {
                continue;
            };
            add.execute(rusqlite::params![rel, session, sha, at.unwrap_or(now)])?;
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            rusqlite::params![SYNC_WALKED, started.to_string()],
        )?;
        Ok(())
    })
}

/// The time in a transcript's name (`20261124T090000Z-…`).
fn stamp_ms(name: &str) -> Option<i64> {
    let s = name.get(..16)?;
    jiff::civil::DateTime::strptime("%Y%m%dT%H%M%SZ", s)
        .ok()
        .and_then(|dt| jiff::tz::TimeZone::UTC.to_timestamp(dt).ok())
        .map(|t| t.as_millisecond())
}

/// What the guard found in the export, for its report.
#[derive(Default)]
struct Findings {
    count: usize,
    lines: Vec<String>,
}

impl Findings {
    fn add(&mut self, what: &str, found: &[coagent_guard::Finding]) {
        self.count += found.len();
        for f in found {
            self.lines.push(format!(
                "  {what}, line {}: {} ({})",
                f.line, f.rule, f.preview
            ));
        }
    }
}

/// One export's context: the hub, its guard, the worktree, and what was found.
struct Exporter<'a> {
    hub: &'a Hub,
    guard: &'a Guard,
    worktree: &'a Path,
    redact: bool,
    write: bool,
    found: Findings,
}

impl Exporter<'_> {
    /// Passes `text` through the guard: `None` when it goes out as it is, the masked text
    /// with `redact`; a finding is noted for the report otherwise.
    fn screen(&mut self, text: &str, what: &str) -> Option<String> {
        let hits = self.guard.scan(text.as_bytes());
        if hits.is_empty() {
            return None;
        }
        if self.redact {
            return Some(self.guard.redact(text).0);
        }
        self.found.add(what, &hits);
        None
    }

    /// The exported copy of a hub file (an artifact, a transcript): its bytes after the
    /// guard, stored once as `blobs/<sha256>`; the blob's name, or `None` when the file is
    /// gone or refused.
    fn blob(&mut self, rel: &str, under: &str) -> Result<Option<String>> {
        let Some(p) = inside(rel, under) else {
            return Ok(None);
        };
        let Ok(bytes) = std::fs::read(self.hub.dir.join(p)) else {
            return Ok(None);
        };
        let hits = self.guard.scan(&bytes);
        let bytes = if hits.is_empty() {
            bytes
        } else {
            match (self.redact, String::from_utf8(bytes)) {
                (true, Ok(text)) => self.guard.redact(&text).0.into_bytes(),
                (true, Err(_)) => {
                    self.found
                        .add(&format!("{rel} (binary: cannot be masked)"), &hits);
                    return Ok(None);
                }
                (false, _) => {
                    self.found.add(rel, &hits);
                    return Ok(None);
                }
            }
        };
        let sha = fsx::sha256_hex(&bytes);
        let at = self.worktree.join("blobs").join(&sha);
        if self.write && !at.exists() {
            fsx::write_derived(&at, &bytes)?;
        }
        Ok(Some(sha))
    }

    /// Screens one record's text values, and for an artifact or a transcript stores its
    /// bytes.
    /// `clean`: the guard already found nothing in any of the record's month.
    fn prepare(
        &mut self,
        k: &RecordKind,
        file: &str,
        mut rec: Record,
        clean: bool,
    ) -> Result<Record> {
        let key: Vec<String> = k
            .key
            .iter()
            .map(|c| rec.get(*c).map(|v| v.to_string()).unwrap_or_default())
            .collect();
        for (name, v) in rec.iter_mut().filter(|_| !clean) {
            if let Some(text) = v.as_str()
                && let Some(masked) = self.screen(text, &format!("{file} {} {name}", key.join(" ")))
            {
                *v = masked.into();
            }
        }
        let path = rec.get("path").and_then(|v| v.as_str()).map(str::to_string);
        match (k.name, path) {
            ("artifacts", Some(p)) if rec.get("stored").and_then(|v| v.as_i64()) == Some(1) => {
                let b = self.blob(&p, "artifacts")?;
                rec.insert("blob".to_string(), b.into());
            }
            ("files", Some(p)) => {
                let b = self.blob(&p, "transcripts")?;
                rec.insert("sha256".to_string(), b.into());
            }
            _ => {}
        }
        Ok(rec)
    }
}

/// Writes (or with `write` false, only works out) the files of `plan`; returns those whose
/// content changed. Refuses, writing no record file, when the guard found anything and
/// `redact` is off.
pub fn export(
    hub: &Hub,
    worktree: &Path,
    plan: &[(String, String)],
    redact: bool,
    write: bool,
) -> Result<Vec<Written>> {
    let guard = hub.guard()?;
    let node = coagent::hlc::node(hub.store.conn())?;
    let mut x = Exporter {
        hub,
        guard: &guard,
        worktree,
        redact,
        write,
        found: Findings::default(),
    };
    let mut pending: Vec<(PathBuf, Option<Vec<u8>>, Written)> = Vec::new();
    let seen: BTreeSet<&(String, String)> = plan.iter().collect();
    for (kind, month) in seen {
        let Some(k) = records::kind(kind) else {
            continue;
        };
        let rel = format!("records/{kind}/{month}.jsonl");
        let mut recs = Vec::new();
        records::rows(hub.store.conn(), k, month, &node, |rec| {
            recs.push(rec);
            Ok(())
        })?;
        // One scan of the month's text values, blank lines between them; only a month with
        // a finding is screened value by value (which says where, and masks exactly).
        let mut joined = String::new();
        for v in recs
            .iter()
            .flat_map(|r| r.values())
            .filter_map(|v| v.as_str())
        {
            joined.push_str(v);
            joined.push_str("\n\n");
        }
        let clean = guard.scan(joined.as_bytes()).is_empty();
        drop(joined);
        let n = recs.len();
        let mut text = String::new();
        for rec in recs {
            let rec = x.prepare(k, &rel, rec, clean)?;
            text.push_str(
                &serde_json::to_string(&rec).map_err(|e| Error::Internal(e.to_string()))?,
            );
            text.push('\n');
        }
        let at = worktree.join(&rel);
        let before = std::fs::read(&at).ok();
        let after = (n > 0).then(|| text.into_bytes());
        if before != after {
            pending.push((
                at,
                after,
                Written {
                    path: rel,
                    records: n,
                },
            ));
        }
    }
    if x.found.count > 0 {
        return Err(Error::GuardRefused {
            count: x.found.count,
            report: x.found.lines.join("\n"),
        });
    }
    let mut out = Vec::new();
    for (at, bytes, w) in pending {
        if write {
            match bytes {
                Some(b) => fsx::write_derived(&at, &b)?,
                None => {
                    let _ = std::fs::remove_file(&at);
                }
            }
        }
        out.push(w);
    }
    Ok(out)
}
