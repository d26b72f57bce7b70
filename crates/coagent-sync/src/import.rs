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
/// The kinds of record this hub read at its last import. A later CoAgent knows more: the
/// files of a kind an older one skipped are not "changed" since that import, so the first
/// import that knows the kind reads all of its files (and only those) once.
const SYNC_KINDS: &str = "sync.kinds";
/// The kind that came with [`SYNC_KINDS`]: a hub that imported without the note knew
/// every kind but this one.
const CAME_WITH_THE_NOTE: &str = "drift";

/// The kinds this version reads that the last import did not (none on a first import).
fn kinds_new_here(noted: Option<&str>, imported_before: bool) -> Vec<&'static str> {
    let knew: Vec<&str> = match noted {
        Some(k) => k.split(',').collect(),
        None if imported_before => KINDS
            .iter()
            .map(|k| k.name)
            .filter(|n| *n != CAME_WITH_THE_NOTE)
            .collect(),
        None => return Vec::new(),
    };
    KINDS
        .iter()
        .map(|k| k.name)
        .filter(|n| !knew.contains(n))
        .collect()
}

/// How many records of each kind were new here, and how many changed.
pub type Counts = BTreeMap<String, (usize, usize)>;

/// The record files of `remote` to read: those changed since `base` (all of them without
/// one), and every file of the kinds in `whole`, in import order.
fn files_to_read(
    git: &Git,
    base: Option<&str>,
    remote: &str,
    whole: &[&str],
) -> Result<Vec<String>> {
    let all = || {
        git.run(&[
            "ls-tree",
            "-r",
            "-z",
            "--name-only",
            remote,
            "--",
            "records",
        ])
    };
    let mut listing = match base {
        Some(b) if git.commit(b)?.is_some() && git.is_ancestor(b, remote)? => {
            git.run(&["diff", "--name-only", "-z", b, remote, "--", "records"])?
        }
        _ => all()?,
    };
    let kind = |f: &str| f.split('/').nth(1).unwrap_or_default().to_string();
    if base.is_some() && !whole.is_empty() {
        for f in all()?
            .split('\0')
            .filter(|f| whole.contains(&kind(f).as_str()))
        {
            listing.push('\0');
            listing.push_str(f);
        }
    }
    let mut files: Vec<String> = listing
        .split('\0')
        .filter(|f| f.starts_with("records/") && f.ends_with(".jsonl"))
        .map(str::to_string)
        .collect();
    // Sessions before their DOs, DOs before their runs.
    let order = |f: &String| {
        KINDS
            .iter()
            .position(|k| k.name == kind(f))
            .unwrap_or(usize::MAX)
    };
    files.sort_by_key(|f| (order(f), f.clone()));
    files.dedup();
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
    let base = hub.store.meta_get(SYNC_IMPORTED)?;
    let noted = hub.store.meta_get(SYNC_KINDS)?;
    let new_here = kinds_new_here(noted.as_deref(), base.is_some());
    if base.as_deref() == Some(remote) && new_here.is_empty() {
        return Ok(Counts::new());
    }
    let files = files_to_read(git, base.as_deref(), remote, &new_here)?;
    let known = KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(",");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kind_is_read_whole_once_by_the_first_import_that_knows_it() {
        assert!(records::kind(CAME_WITH_THE_NOTE).is_some());
        assert!(
            kinds_new_here(None, false).is_empty(),
            "a first import reads all"
        );
        assert_eq!(kinds_new_here(None, true), [CAME_WITH_THE_NOTE]);
        let all = KINDS.iter().map(|k| k.name).collect::<Vec<_>>().join(",");
        assert!(kinds_new_here(Some(&all), true).is_empty());
        let without_runs = all.replace(",runs,", ",");
        assert_eq!(kinds_new_here(Some(&without_runs), true), ["runs"]);
    }
}
