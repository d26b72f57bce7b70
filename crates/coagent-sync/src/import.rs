//! Reading what other hubs pushed: the record files that changed on the sync branch since
//! the commit this hub last imported (all of them the first time), merged into the store by
//! [`coagent::records::import`] in one transaction, with the artifacts and transcripts they
//! name written from their blobs first. A damaged line refuses the whole import: nothing is
//! half-merged.

use std::collections::BTreeMap;

use coagent::hub::Hub;
use coagent::records::{self, Imported, KINDS, Record};
use coagent::{Error, Result, fsx};

use crate::export::inside;
use crate::git::{CatFile, Git};

pub const SYNC_IMPORTED: &str = "sync.imported";
/// The kinds this hub knew when it last imported: an import by a version that knows more
/// reads the whole branch once, since the files of a kind it skipped are not "changed".
const SYNC_KINDS: &str = "sync.kinds";

fn kinds_known() -> String {
    KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(",")
}

/// How many records of each kind were new here, and how many changed.
pub type Counts = BTreeMap<String, (usize, usize)>;

/// The record files of `remote` to read: those changed since `base`, or all of them.
fn changed_files(git: &Git, base: Option<&str>, remote: &str) -> Result<Vec<String>> {
    let listing = match base {
        Some(b) if git.commit(b)?.is_some() && git.is_ancestor(b, remote)? => {
            git.run(&["diff", "--name-only", "-z", b, remote, "--", "records"])?
        }
        _ => git.run(&[
            "ls-tree",
            "-r",
            "-z",
            "--name-only",
            remote,
            "--",
            "records",
        ])?,
    };
    let mut files: Vec<String> = listing
        .split('\0')
        .filter(|f| f.starts_with("records/") && f.ends_with(".jsonl"))
        .map(str::to_string)
        .collect();
    // Sessions before their DOs, DOs before their runs.
    let order = |f: &String| {
        let kind = f.split('/').nth(1).unwrap_or_default();
        KINDS
            .iter()
            .position(|k| k.name == kind)
            .unwrap_or(usize::MAX)
    };
    files.sort_by_key(|f| (order(f), f.clone()));
    Ok(files)
}

fn parse(file: &str, bytes: &[u8]) -> Result<Vec<Record>> {
    let text = std::str::from_utf8(bytes).map_err(|_| damaged(file, 0))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| serde_json::from_str::<Record>(l).map_err(|_| damaged(file, i + 1)))
        .collect()
}

fn damaged(file: &str, line: usize) -> Error {
    Error::invalid(
        format!("the sync branch's {file} is damaged (line {line} is not a record)"),
        Some(
            "nothing was imported; mend or revert that commit on the branch coagent/sync, then sync again"
                .to_string(),
        ),
    )
}

/// The hub file a record names and the blob that holds its bytes, when the file is missing
/// here.
fn wanted(hub: &Hub, kind: &str, rec: &Record) -> Option<(std::path::PathBuf, String)> {
    let (under, blob) = match kind {
        "artifacts" => ("artifacts", rec.get("blob")?),
        "files" => ("transcripts", rec.get("sha256")?),
        _ => return None,
    };
    let rel = inside(rec.get("path")?.as_str()?, under)?;
    let blob = blob.as_str()?;
    if blob.len() != 64 || !blob.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let abs = hub.dir.join(rel);
    (!abs.exists()).then(|| (abs, blob.to_string()))
}

/// Whether a record that names a hub file names one inside its folder: one that does not
/// (`artifacts/../../x`) is left out whole, so no command ever reads or writes there.
fn contained(kind: &str, rec: &Record) -> bool {
    let under = match kind {
        "artifacts" => "artifacts",
        "files" => "transcripts",
        _ => return true,
    };
    rec.get("path")
        .and_then(|p| p.as_str())
        .and_then(|p| inside(p, under))
        .is_some()
}

/// Imports every record of `remote` changed since the last import.
pub fn import(hub: &mut Hub, git: &Git, remote: &str) -> Result<Counts> {
    let known = kinds_known();
    let base = match hub.store.meta_get(SYNC_KINDS)? {
        Some(k) if k == known => hub.store.meta_get(SYNC_IMPORTED)?,
        _ => None,
    };
    if base.as_deref() == Some(remote) {
        return Ok(Counts::new());
    }
    let files = changed_files(git, base.as_deref(), remote)?;
    let mut cat = CatFile::start(git)?;
    let mut batches = Vec::new();
    for f in &files {
        let kind = f.split('/').nth(1).unwrap_or_default().to_string();
        if records::kind(&kind).is_none() {
            continue; // a kind a newer CoAgent exports: left for it
        }
        let Some(bytes) = cat.get(&format!("{remote}:{f}"))? else {
            continue; // removed on the branch: records are never deleted by a sync
        };
        batches.push((kind, parse(f, &bytes)?));
    }
    // Files first, records after: a crash between leaves a file no record names (swept
    // by doctor), never a record whose file is missing.
    for (kind, recs) in &batches {
        for rec in recs {
            if let Some((abs, blob)) = wanted(hub, kind, rec)
                && let Some(bytes) = cat.get(&format!("{remote}:blobs/{blob}"))?
            {
                fsx::write_atomic(&abs, &bytes)?;
            }
        }
    }
    let node = coagent::hlc::node(hub.store.conn())?;
    hub.store.tx(|tx| {
        let mut counts = Counts::new();
        for (kind, recs) in &batches {
            let Some(k) = records::kind(kind) else {
                continue;
            };
            let c = counts.entry(kind.clone()).or_default();
            for rec in recs.iter().filter(|r| contained(kind, r)) {
                match records::import(tx, k, rec, &node)? {
                    Imported::New => c.0 += 1,
                    Imported::Changed => c.1 += 1,
                    Imported::Same => {}
                }
            }
        }
        counts.retain(|_, (n, c)| *n + *c > 0);
        for (key, value) in [(SYNC_IMPORTED, remote), (SYNC_KINDS, known.as_str())] {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                rusqlite::params![key, value],
            )?;
        }
        Ok(counts)
    })
}
