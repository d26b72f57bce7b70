//! Artifacts: the durable results of DOs — logs, diffs, files a script named. Each has an
//! id, a kind, a path under the hub (`artifacts/<A-id>/<name>`) and the sha256 of its bytes.
//! Artifacts are written once and never changed.

use rusqlite::params;
use serde::Serialize;

use crate::hub::Hub;
use crate::id::{self, Kind};
use crate::{Result, fsx, payload, store};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Artifact {
    pub id: String,
    pub do_id: Option<String>,
    pub run_id: Option<String>,
    /// `log`, `diff`, `file`, or `commit` (its file holds the commit's summary; `source`
    /// its full sha).
    pub kind: String,
    /// Relative to the hub.
    pub path: String,
    /// For `file`: the project path it was copied from.
    pub source: String,
    pub sha256: String,
    pub bytes: i64,
    pub created_at: i64,
    /// `false` for a file over the size limit (`[run] artifact_max_mib`): its size and
    /// sha256 are recorded, its bytes were not copied.
    #[serde(skip_serializing_if = "is_true")]
    pub stored: bool,
}

fn is_true(b: &bool) -> bool {
    *b
}

impl Artifact {
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }

    /// How a chat cites it: `commit:<sha>` for a commit a DO made, else `artifact:A-…`.
    pub fn reference(&self) -> String {
        if self.kind == "commit" {
            format!("commit:{}", &self.source[..self.source.len().min(12)])
        } else {
            format!("artifact:{}", self.id)
        }
    }
}

const COLS: &str = "id, do_id, run_id, kind, path, source, sha256, bytes, created_at, stored";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Artifact> {
    Ok(Artifact {
        id: r.get(0)?,
        do_id: r.get(1)?,
        run_id: r.get(2)?,
        kind: r.get(3)?,
        path: r.get(4)?,
        source: r.get(5)?,
        sha256: r.get(6)?,
        bytes: r.get(7)?,
        created_at: r.get(8)?,
        stored: r.get(9)?,
    })
}

/// A new artifact's record and where its bytes go; nothing is written yet (the caller
/// lands the bytes with its other files, then [`insert`]s the record in its transaction).
pub fn prepare(
    hub: &mut Hub,
    do_id: &str,
    run_id: &str,
    kind: &str,
    name: &str,
    source: &str,
    bytes: &[u8],
) -> (Artifact, std::path::PathBuf) {
    let id = hub.new_id(Kind::Artifact);
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let path = hub.artifacts_dir().join(&id).join(&safe);
    let a = Artifact {
        id,
        do_id: Some(do_id.to_string()),
        run_id: Some(run_id.to_string()),
        kind: kind.to_string(),
        path: hub.rel(&path),
        source: source.to_string(),
        sha256: fsx::sha256_hex(bytes),
        bytes: bytes.len() as i64,
        created_at: hub.now_ms(),
        stored: true,
    };
    (a, path)
}

/// A file artifact copied from `from` into the hub and hashed in one streaming pass,
/// never held in memory: the copy is a temp file beside its final place, renamed there
/// when the run lands ([`Copied::persist`]). A file over `limit` bytes (also one that grows
/// past it while it is read) is hashed but not copied: its record says `stored: false`.
pub fn copy_in(
    hub: &mut Hub,
    ids: (&str, &str),
    name: &str,
    source: &str,
    from: &std::path::Path,
    limit: u64,
) -> Result<(Artifact, Option<Copied>)> {
    let (mut a, path) = prepare(hub, ids.0, ids.1, "file", name, source, b"");
    let ctx = |e| crate::Error::io(format!("cannot read {}", from.display()), e);
    let len = std::fs::metadata(from).map_err(ctx)?.len();
    if len > limit {
        let (sha, n) = fsx::sha256_file(from).map_err(ctx)?;
        a.sha256 = sha;
        a.bytes = n as i64;
        a.stored = false;
        return Ok((a, None));
    }
    let dir = path.parent().unwrap_or(&hub.dir).to_path_buf();
    std::fs::create_dir_all(&dir)
        .map_err(|e| crate::Error::io(format!("cannot create {}", dir.display()), e))?;
    let mut tmp = fsx::temp_in(&dir)?;
    let mut src = std::fs::File::open(from).map_err(ctx)?;
    let (sha, n, whole) = fsx::copy_hashed(&mut src, tmp.as_file_mut(), limit).map_err(ctx)?;
    a.sha256 = sha;
    a.bytes = n as i64;
    if !whole {
        // It grew past the limit while it was read: hash it all, keep nothing.
        let (sha, n) = fsx::sha256_file(from).map_err(ctx)?;
        a.sha256 = sha;
        a.bytes = n as i64;
        a.stored = false;
        return Ok((a, None));
    }
    tmp.as_file()
        .sync_data()
        .map_err(|e| crate::Error::io(format!("cannot write {}", path.display()), e))?;
    Ok((a, Some(Copied { tmp, path })))
}

/// A file artifact's copy, synced under a temp name, waiting for its run to land.
pub struct Copied {
    tmp: tempfile::NamedTempFile,
    path: std::path::PathBuf,
}

impl Copied {
    /// Renames the copy into its place; returns the folder to sync.
    pub fn persist(self) -> Result<std::path::PathBuf> {
        let dir = self
            .path
            .parent()
            .map(std::path::Path::to_path_buf)
            .unwrap_or_default();
        self.tmp.persist(&self.path).map_err(|e| {
            crate::Error::io(format!("cannot write {}", self.path.display()), e.error)
        })?;
        Ok(dir)
    }
}

pub fn insert(tx: &rusqlite::Transaction<'_>, a: &Artifact) -> Result<()> {
    tx.execute(
        &format!("INSERT INTO artifacts ({COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
        params![
            a.id,
            a.do_id,
            a.run_id,
            a.kind,
            a.path,
            a.source,
            a.sha256,
            a.bytes,
            a.created_at,
            a.stored
        ],
    )?;
    Ok(())
}

/// Writes `bytes` as a new artifact and records it, on its own.
pub fn store_new(
    hub: &mut Hub,
    do_id: &str,
    run_id: &str,
    kind: &str,
    name: &str,
    source: &str,
    bytes: &[u8],
) -> Result<Artifact> {
    let (a, path) = prepare(hub, do_id, run_id, kind, name, source, bytes);
    fsx::write_atomic(&path, bytes)?;
    hub.store.tx(|tx| insert(tx, &a))?;
    Ok(a)
}

pub fn get(hub: &Hub, typed: &str) -> Result<Artifact> {
    let id = store::resolve_id(hub.store.conn(), "artifacts", id::Kind::Artifact, typed)?;
    Ok(hub.store.conn().query_row(
        &format!("SELECT {COLS} FROM artifacts WHERE id = ?1"),
        [id],
        row,
    )?)
}

pub fn exists(hub: &Hub, id: &str) -> Result<bool> {
    Ok(hub
        .store
        .conn()
        .query_row("SELECT COUNT(*) FROM artifacts WHERE id = ?1", [id], |r| {
            r.get::<_, i64>(0)
        })?
        > 0)
}

/// Which artifacts `artifact list` shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub do_id: Option<String>,
    /// Only the artifacts of this session's DOs.
    pub session: Option<String>,
    /// `log`, `diff` or `file`.
    pub kind: Option<String>,
    pub window: store::Window,
}

/// Artifacts, newest first, handed to `each` one at a time; says whether more matched
/// than the window shows.
pub fn list(hub: &Hub, f: &Filter, each: impl FnMut(Artifact) -> Result<()>) -> Result<bool> {
    store::list(
        hub.store.conn(),
        &format!("SELECT {COLS} FROM artifacts"),
        &[
            ("do_id = ?", store::text(f.do_id.as_deref())),
            (
                "do_id IN (SELECT id FROM dos WHERE session = ?)",
                store::text(f.session.as_deref()),
            ),
            ("kind = ?", store::text(f.kind.as_deref())),
            ("created_at >= ?", store::since(f.window)),
        ],
        "created_at DESC, id",
        f.window,
        row,
        each,
    )
}

/// One DO's artifacts, newest first (at most `limit`).
pub fn of_do(hub: &Hub, do_id: &str, limit: usize) -> Result<Vec<Artifact>> {
    let mut s = hub.store.conn().prepare_cached(&format!(
        "SELECT {COLS} FROM artifacts WHERE do_id = ?1 ORDER BY created_at DESC, id LIMIT ?2"
    ))?;
    Ok(s.query_map(params![do_id, limit as i64], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn for_run(hub: &Hub, run_id: &str) -> Result<Vec<Artifact>> {
    let mut s = hub.store.conn().prepare_cached(&format!(
        "SELECT {COLS} FROM artifacts WHERE run_id = ?1 ORDER BY rowid"
    ))?;
    Ok(s.query_map([run_id], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The artifact's bytes, checked against its recorded sha256.
pub fn read(hub: &Hub, a: &Artifact) -> Result<Vec<u8>> {
    if !a.stored {
        return Err(crate::Error::invalid(
            format!(
                "artifact {} was too large to keep ({} bytes, sha256 {}): only its size and hash are recorded",
                a.id, a.bytes, a.sha256
            ),
            Some(format!(
                "look at the file itself ({}), or raise `[run] artifact_max_mib` in .coagent/config.toml and run the DO again",
                a.source
            )),
        ));
    }
    let p = hub.dir.join(&a.path);
    let bytes = std::fs::read(&p)
        .map_err(|e| crate::Error::io(format!("cannot read artifact {}", p.display()), e))?;
    if fsx::sha256_hex(&bytes) != a.sha256 {
        return Err(crate::Error::invalid(
            format!(
                "artifact {} was changed on disk since it was recorded",
                a.id
            ),
            Some("artifacts are written once; restore it from a wrap or a backup".to_string()),
        ));
    }
    Ok(bytes)
}

/// At most `max` bytes from the start of the artifact, and whether that is all of it; the
/// whole file is checked against its sha256 as it is read (in chunks, never held whole).
pub fn read_head(hub: &Hub, a: &Artifact, max: usize) -> Result<(Vec<u8>, bool)> {
    if a.bytes as u64 <= max as u64 {
        return read(hub, a).map(|b| (b, true));
    }
    let p = hub.dir.join(&a.path);
    let err = |e| crate::Error::io(format!("cannot read artifact {}", p.display()), e);
    let (sha, _) = fsx::sha256_file(&p).map_err(err)?;
    if sha != a.sha256 {
        return Err(crate::Error::invalid(
            format!(
                "artifact {} was changed on disk since it was recorded",
                a.id
            ),
            Some("artifacts are written once; restore it from a wrap or a backup".to_string()),
        ));
    }
    let mut head = Vec::with_capacity(max);
    let f = std::fs::File::open(&p).map_err(err)?;
    std::io::Read::read_to_end(&mut std::io::Read::take(f, max as u64), &mut head).map_err(err)?;
    Ok((head, false))
}

/// A payload holding one artifact's whole text — what a result payload cut, sent when the
/// chat asks for it. Split into parts `k/n` by [`payload::send`] when it is over the
/// vendor's paste limit; a binary artifact is refused with its description.
pub fn send(
    hub: &mut Hub,
    typed: &str,
    redact: bool,
    clip: &mut dyn crate::clipboard::Clipboard,
) -> Result<payload::Sent> {
    let a = get(hub, typed)?;
    let bytes = read(hub, &a)?;
    let text = match std::str::from_utf8(&bytes) {
        Ok(t) if !bytes.contains(&0) => t,
        _ => {
            return Err(crate::Error::invalid(
                format!(
                    "{} is binary ({} bytes, sha256 {}): a chat cannot read it",
                    a.id, a.bytes, a.sha256
                ),
                Some(format!(
                    "describe it to the chat, or look at it yourself: {}",
                    hub.path(&a.path).display()
                )),
            ));
        }
    };
    let session = match &a.do_id {
        Some(d) => crate::dos::get(hub, d)?.session,
        None => crate::session::resolve(hub, None)?.id,
    };
    let s = crate::session::get(hub, &session)?;
    let v = crate::vendor::find(&hub.config()?, &s.vendor)?;
    let shown = if a.source.is_empty() {
        a.name().to_string()
    } else {
        a.source.clone()
    };
    let fence = crate::dos::result::fence_for(text);
    let body = format!(
        "# CoAgent artifact · {} · {}\n\n`{shown}` ({} of DO {}, {} bytes, sha256 {}), whole:\n\n{fence}text\n{}\n{fence}\n\nCite it as `{}` in your ACK.\n",
        a.id,
        a.kind,
        a.kind,
        a.do_id.as_deref().unwrap_or("-"),
        a.bytes,
        &a.sha256[..12],
        text.trim_end_matches('\n'),
        a.reference()
    );
    let id = hub.new_id(Kind::Message);
    let out = payload::Outgoing {
        session: Some(s.id.clone()),
        kind: "artifact".into(),
        stem: format!("{}-artifact-{}", s.id, a.id),
        parts: crate::turns::Parts::results(&body, [text].into_iter()),
        id,
        text: body,
    };
    payload::send(hub, &v, out, redact, clip)
}
