//! CoWrap: a snapshot of a session — capsule, handoff, transcript, DO scripts and their
//! artifacts — as one `.tar.zst` archive with a manifest of every file's sha256, and the
//! respawn that continues the work in a clean chat.
//!
//! `wrap` writes `cache/wraps/CoWrap-<UTC>-<from>-to-<to|ANY>.tar.zst`, updates
//! `cache/CoWrap.latest.json`, closes the session and boots its successor from the wrap's
//! handoff (the respawn payload goes out like every payload: guard, outbox, clipboard).
//! The handoff's text is [`crate::handoff`]'s, within a fixed budget; the archive's
//! `handoff.json` keeps the full message (every open TODO and finished artifact).
//! `verify` finds any changed, missing or extra file; `unwrap` boots a session from a wrap
//! (addressed → `ANY` → newest) and records the receipt; nothing here deletes a wrap except
//! `sweep`, and it only prunes wraps already consumed.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::backchat::{
    ArtifactKind, ArtifactRef, BackchatMessage, CapsuleRef, MessageKind, SchemaTag,
};
use crate::capsule::{self, Capsule};
use crate::clipboard::Clipboard;
use crate::clock::{Millis, file_stamp, rfc3339};
use crate::hub::Hub;
use crate::id::Kind;
use crate::session::{self, Respawn, Session, StartOptions, Started};
use crate::{Error, Result, fsx, handoff, store, todo};

pub const MANIFEST_SCHEMA: &str = "coagent.wrap.v1";
const LATEST: &str = "cache/CoWrap.latest.json";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Counts {
    pub files: usize,
    pub transcript: usize,
    pub dos: usize,
    pub dos_finished: usize,
    pub artifacts: usize,
    pub todos_open: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    pub id: String,
    pub session: String,
    pub vendor: String,
    pub to: String,
    pub created_at: String,
    pub capsule: CapsuleRef,
    pub message: String,
    pub counts: Counts,
    /// Every file of the archive but the manifest itself, sorted by path.
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Wrapped {
    pub id: String,
    pub session: String,
    pub archive: PathBuf,
    pub sha256: String,
    /// The respawn payload's parts.
    pub respawn: Vec<PathBuf>,
    pub respawn_session: Option<String>,
    pub counts: Counts,
    /// When the breach that caused it was recorded, if one was.
    pub breach_at: Option<Millis>,
    /// Said plainly when the respawn boots with a newer capsule than the wrap's.
    pub note: Option<String>,
    /// Why no respawn payload was written (the session is wrapped all the same).
    pub respawn_error: Option<String>,
    /// DOs whose results were sent and not acknowledged: the handoff lists them, so the
    /// successor acknowledges them.
    pub unacked: Vec<String>,
    #[serde(skip)]
    pub started: Option<Started>,
}

#[derive(Debug, Clone)]
pub struct WrapOptions {
    pub session: Option<String>,
    /// Vendor name, session id, or `ANY` (default).
    pub to: Option<String>,
    pub redact: bool,
    /// Boot the successor session now (default); `false` only writes the archive.
    pub respawn: bool,
    /// Why: `manual`, or the breached signal under `watch`.
    pub reason: String,
}

struct DoRow {
    id: String,
    title: String,
    lang: String,
    state: String,
}

/// Wraps a session: archive, latest pointer, close, respawn.
pub fn wrap(hub: &mut Hub, opts: WrapOptions, clip: &mut dyn Clipboard) -> Result<Wrapped> {
    let s = session::resolve(hub, opts.session.as_deref())?;
    if !s.is_open() {
        return Err(Error::invalid(
            format!("session {} is already {}", s.id, s.state),
            Some(
                "`coagent wraps` lists its wraps; `coagent unwrap` boots a new session from one"
                    .to_string(),
            ),
        ));
    }
    let to = opts
        .to
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| "ANY".to_string());
    let wrap_id = hub.new_id(Kind::Wrap);
    let msg_id = hub.new_id(Kind::Message);
    let now = hub.now_ms();
    let capsule = capsule::at_version(&hub.dir, &s.capsule_version)
        .ok()
        .filter(|c| c.sha256 == s.capsule_sha256)
        .map_or_else(|| capsule::current(&hub.dir), Ok)?;

    // What the archive holds.
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let tdir = hub.transcripts_dir().join(&s.id);
    let mut transcript = 0;
    if let Ok(rd) = std::fs::read_dir(&tdir) {
        let mut names: Vec<_> = rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        for p in names {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            files.insert(format!("transcript/{name}"), read(&p)?);
            transcript += 1;
        }
    }
    let dos = session_dos(hub, &s.id)?;
    let mut artifacts_by_do: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    let mut n_artifacts = 0;
    {
        let mut stmt = hub.store.conn().prepare_cached(
            "SELECT a.id, a.do_id, a.kind, a.path, a.sha256 FROM artifacts a JOIN dos d ON d.id = a.do_id WHERE d.session = ?1 AND a.stored = 1 ORDER BY a.created_at, a.id",
        )?;
        let rows: Vec<(String, String, String, String, String)> = stmt
            .query_map([&s.id], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (aid, do_id, kind, path, sha) in rows {
            let bytes = read(&hub.dir.join(&path))?;
            files.insert(path.clone(), bytes);
            artifacts_by_do
                .entry(do_id)
                .or_default()
                .push((aid, kind, sha));
            n_artifacts += 1;
        }
    }
    for d in &dos {
        let rel = format!(
            "dos/{}",
            Path::new(&crate::dos::get(hub, &d.id)?.path)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        if let Ok(b) = std::fs::read(hub.dir.join(&rel)) {
            files.insert(rel, b);
        }
    }
    let open_todos = todo::list(hub, false)?;
    // Finished while this session was open (by its chat or by the human).
    let done_todos = todo::done_since(hub, s.created_at, handoff::DONE_TODOS + 1)?;
    let finished: Vec<&DoRow> = dos
        .iter()
        .filter(|d| !matches!(d.state.as_str(), "proposed" | "approved" | "running"))
        .collect();
    let lines: Vec<handoff::DoLine> = dos
        .iter()
        .map(|d| handoff::DoLine {
            id: d.id.clone(),
            title: d.title.clone(),
            lang: d.lang.clone(),
            state: d.state.clone(),
            artifacts: artifacts_by_do
                .get(&d.id)
                .into_iter()
                .flatten()
                .map(|(a, k, _)| (a.clone(), k.clone()))
                .collect(),
        })
        .collect();
    let in_flight = crate::ack::in_flight(hub, &s.id)?;
    let handoff = handoff::render(&handoff::Parts {
        session: &s,
        reason: &opts.reason,
        dos: &lines,
        open: &open_todos,
        done: &done_todos,
        decisions: &decisions(hub, &s.id)?,
    }) + &in_flight_text(&in_flight);
    let message = BackchatMessage {
        schema: SchemaTag::V1,
        id: msg_id.clone(),
        kind: MessageKind::Wrap,
        from: s.id.clone(),
        to: to.clone(),
        created_at: rfc3339(now),
        capsule: CapsuleRef {
            version: capsule.version.clone(),
            sha256: capsule.sha256.clone(),
        },
        subject: format!("Wrap of {} ({}): continue the work", s.id, s.vendor),
        body: handoff.clone(),
        todos: open_todos
            .iter()
            .chain(&done_todos)
            .map(|t| t.item())
            .collect(),
        artifacts: finished
            .iter()
            .flat_map(|d| artifacts_by_do.get(&d.id).into_iter().flatten())
            .map(|(aid, kind, sha)| ArtifactRef {
                reference: format!("artifact:{aid}"),
                kind: match kind.as_str() {
                    "diff" => ArtifactKind::Diff,
                    "log" => ArtifactKind::Log,
                    _ => ArtifactKind::File,
                },
                sha256: Some(sha.clone()),
            })
            .collect(),
        reply_to: None,
        requires_ack: false,
    };
    files.insert(
        "capsule.md".into(),
        format!(
            "<!-- Policy Capsule v{} sha256={} -->\n{}",
            capsule.version, capsule.sha256, capsule.policy
        )
        .into_bytes(),
    );
    files.insert("handoff.json".into(), message.to_json().into_bytes());
    files.insert("handoff.md".into(), handoff.clone().into_bytes());
    let counts_before_out = Counts {
        files: files.len() + 1, // + out.txt
        transcript,
        dos: dos.len(),
        dos_finished: finished.len(),
        artifacts: n_artifacts,
        todos_open: open_todos.len(),
    };
    files.insert(
        "out.txt".into(),
        out_txt(&wrap_id, &s, &counts_before_out).into_bytes(),
    );
    let manifest = Manifest {
        schema: MANIFEST_SCHEMA.into(),
        id: wrap_id.clone(),
        session: s.id.clone(),
        vendor: s.vendor.clone(),
        to: to.clone(),
        created_at: rfc3339(now),
        capsule: message.capsule.clone(),
        message: msg_id.clone(),
        counts: counts_before_out.clone(),
        files: files
            .iter()
            .map(|(p, b)| FileEntry {
                path: p.clone(),
                sha256: fsx::sha256_hex(b),
                bytes: b.len() as u64,
            })
            .collect(),
    };
    let manifest_json =
        serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Internal(e.to_string()))?;
    files.insert("manifest.json".into(), manifest_json);

    let to_name: String = to
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let archive = hub.wraps_dir().join(format!(
        "CoWrap-{}-{}-to-{}.tar.zst",
        file_stamp(now),
        s.id,
        to_name
    ));
    let bytes = pack(&files, now)?;
    fsx::write_atomic(&archive, &bytes)?;
    let sha = fsx::sha256_hex(&bytes);
    let rel = hub.rel(&archive);
    let recorded = hub.store.tx(|tx| {
        tx.execute(
            "INSERT INTO wraps (id, session, to_target, archive, sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![wrap_id, s.id, to, rel, sha, now],
        )?;
        tx.execute(
            "INSERT INTO messages (id, session, direction, kind, to_target, subject, json, valid, requires_ack, created_at)
             VALUES (?1, ?2, 'out', 'wrap', ?3, ?4, ?5, 1, 0, ?6)",
            params![msg_id, s.id, to, message.subject, message.to_json(), now],
        )?;
        // Checked again here: `watch` and a `coagent wrap` may race for the same session.
        let closed = tx.execute(
            "UPDATE sessions SET state = 'wrapped', closed_at = ?2 WHERE id = ?1 AND state IN ('booting', 'live')",
            params![s.id, now],
        )?;
        if closed == 0 {
            return Err(Error::invalid(format!("session {} was wrapped meanwhile", s.id), Some("`coagent wraps` lists its wrap".to_string())));
        }
        store::event(tx, now, Some(&s.id), "session.wrapped", &serde_json::json!({"wrap": wrap_id, "reason": opts.reason, "breach_at": s.breach_at}))
    });
    if let Err(e) = recorded {
        let _ = std::fs::remove_file(&archive);
        return Err(e);
    }
    let mut wrapped = Wrapped {
        id: wrap_id.clone(),
        session: s.id.clone(),
        archive: archive.clone(),
        sha256: sha.clone(),
        respawn: Vec::new(),
        respawn_session: None,
        counts: counts_before_out,
        breach_at: s.breach_at,
        note: None,
        respawn_error: None,
        unacked: in_flight.iter().map(|f| f.do_id.clone()).collect(),
        started: None,
    };
    if opts.respawn {
        // The wrap is committed: whatever fails now is reported with it, never half-done.
        if let Err(e) = respawn(
            hub,
            &mut wrapped,
            &s,
            &to,
            &capsule,
            handoff,
            message,
            opts.redact,
            clip,
        ) {
            wrapped.respawn_error = Some(e.to_string());
        }
    }
    write_latest(hub, &wrapped, &to)?;
    // A backup of the store after every wrap, for `coagent doctor` to restore.
    if let Err(e) = crate::backup::take(hub, "wrap") {
        let note = format!("the store's backup after the wrap failed: {e}");
        wrapped.note = Some(match wrapped.note.take() {
            Some(n) => format!("{n}; {note}"),
            None => note,
        });
    }
    Ok(wrapped)
}

#[allow(clippy::too_many_arguments)]
fn respawn(
    hub: &mut Hub,
    wrapped: &mut Wrapped,
    s: &Session,
    to: &str,
    capsule: &Capsule,
    handoff: String,
    message: BackchatMessage,
    redact: bool,
    clip: &mut dyn Clipboard,
) -> Result<()> {
    {
        let wrap_id = wrapped.id.clone();
        let vendor = if crate::vendor::find(&hub.config()?, to).is_ok() {
            to.to_string()
        } else {
            s.vendor.clone()
        };
        let (cap, note) = respawn_capsule(hub, capsule)?;
        wrapped.note = note;
        let respawn = Respawn {
            wrap_id: wrap_id.clone(),
            from_session: s.id.clone(),
            handoff,
            message,
            capsule: cap,
        };
        // When this fails the wrap stands; `unwrap` (with `--redact` for a guard refusal)
        // makes the respawn again.
        let started = session::start(
            hub,
            StartOptions {
                vendor,
                goal: s.goal.clone(),
                redact,
                respawn: Some(respawn),
            },
            clip,
        )?;
        record_receipt(hub, &wrap_id, &started.session)?;
        wrapped.respawn = started.payloads.clone();
        wrapped.respawn_session = Some(started.session.clone());
        wrapped.started = Some(started);
    }
    Ok(())
}

fn read(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).map_err(|e| Error::io(format!("cannot read {}", p.display()), e))
}

fn session_dos(hub: &Hub, session: &str) -> Result<Vec<DoRow>> {
    let mut stmt = hub.store.conn().prepare_cached(
        "SELECT id, title, lang, state FROM dos WHERE session = ?1 ORDER BY proposed_at, rowid",
    )?;
    Ok(stmt
        .query_map([session], |r| {
            Ok(DoRow {
                id: r.get(0)?,
                title: r.get(1)?,
                lang: r.get(2)?,
                state: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// What the chat decided or told us: the subjects of its last valid messages, newest last.
fn decisions(hub: &Hub, session: &str) -> Result<Vec<String>> {
    let mut stmt = hub.store.conn().prepare_cached(
        "SELECT kind, subject FROM messages WHERE session = ?1 AND direction = 'in' AND valid = 1 ORDER BY created_at DESC, rowid DESC LIMIT ?2",
    )?;
    let mut newest_first = stmt
        .query_map(params![session, handoff::DECISIONS as i64], |r| {
            Ok(format!(
                "{}: {}",
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    newest_first.reverse();
    Ok(newest_first)
}

/// The results in flight, one line each: the successor acknowledges them first.
fn in_flight_text(in_flight: &[crate::ack::InFlight]) -> String {
    if in_flight.is_empty() {
        return String::new();
    }
    let mut t = String::from(
        "\n**Results sent, not yet acknowledged** (acknowledge each first, `ACK <id> <ref>…`):\n",
    );
    for f in in_flight {
        t.push_str(&format!(
            "- `{}` {} ({}{})\n",
            f.do_id,
            f.title,
            f.message,
            if f.refs.is_empty() {
                String::new()
            } else {
                format!(": {}", f.refs.join(" "))
            }
        ));
    }
    t
}

fn out_txt(id: &str, s: &Session, c: &Counts) -> String {
    format!(
        "CoWrap {id} of session {} ({})\nfiles: {}\ntranscript: {}\ndos: {}\ndos_finished: {}\nartifacts: {}\ntodos_open: {}\n",
        s.id, s.vendor, c.files, c.transcript, c.dos, c.dos_finished, c.artifacts, c.todos_open
    )
}

/// A deterministic tar (sorted paths, fixed times and modes), zstd-compressed.
fn pack(files: &BTreeMap<String, Vec<u8>>, now: Millis) -> Result<Vec<u8>> {
    let enc =
        zstd::Encoder::new(Vec::new(), 3).map_err(|e| Error::io("cannot start compression", e))?;
    let mut tar = tar::Builder::new(enc);
    tar.mode(tar::HeaderMode::Deterministic);
    for (path, bytes) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o644);
        h.set_mtime((now.max(0) / 1000) as u64);
        h.set_cksum();
        tar.append_data(&mut h, path, bytes.as_slice())
            .map_err(|e| Error::io(format!("cannot archive {path}"), e))?;
    }
    let enc = tar
        .into_inner()
        .map_err(|e| Error::io("cannot finish the archive", e))?;
    enc.finish()
        .map_err(|e| Error::io("cannot finish compression", e))
}

/// Reads every entry of an archive. A truncated or corrupt archive is an error.
fn unpack(bytes: &[u8]) -> std::result::Result<BTreeMap<String, Vec<u8>>, String> {
    let dec = zstd::Decoder::new(bytes).map_err(|e| format!("not a zstd stream: {e}"))?;
    let mut ar = tar::Archive::new(dec);
    let mut out = BTreeMap::new();
    for entry in ar
        .entries()
        .map_err(|e| format!("not a tar archive: {e}"))?
    {
        let mut entry = entry.map_err(|e| format!("truncated or corrupt archive: {e}"))?;
        let path = entry
            .path()
            .map_err(|e| format!("bad entry name: {e}"))?
            .to_string_lossy()
            .into_owned();
        let mut buf = Vec::new();
        entry
            .read_to_end(&mut buf)
            .map_err(|e| format!("truncated or corrupt archive at {path}: {e}"))?;
        if out.insert(path.clone(), buf).is_some() {
            return Err(format!("the archive holds {path} twice"));
        }
    }
    // zstd's decoder stops at the tar end marker; a cut stream shows up as a read error
    // above, or as an archive without its manifest below.
    Ok(out)
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Verification {
    pub archive: PathBuf,
    pub ok: bool,
    pub id: Option<String>,
    pub changed: Vec<String>,
    pub missing: Vec<String>,
    pub extra: Vec<String>,
    pub problems: Vec<String>,
    pub counts: Option<Counts>,
}

/// Checks an archive against its manifest: every file present, unchanged, nothing extra,
/// and `out.txt` agreeing with the counts.
pub fn verify(path: &Path) -> Result<Verification> {
    let bytes = read(path)?;
    let mut v = Verification {
        archive: path.to_path_buf(),
        ..Default::default()
    };
    let files = match unpack(&bytes) {
        Ok(f) => f,
        Err(e) => {
            v.problems.push(e);
            return Ok(v);
        }
    };
    let Some(mbytes) = files.get("manifest.json") else {
        v.problems
            .push("manifest.json is missing: not a CoWrap archive, or truncated".into());
        return Ok(v);
    };
    let manifest: Manifest = match serde_json::from_slice(mbytes) {
        Ok(m) => m,
        Err(e) => {
            v.problems.push(format!("manifest.json is not valid: {e}"));
            return Ok(v);
        }
    };
    if manifest.schema != MANIFEST_SCHEMA {
        v.problems
            .push(format!("unknown manifest schema `{}`", manifest.schema));
    }
    for f in &manifest.files {
        match files.get(&f.path) {
            None => v.missing.push(f.path.clone()),
            Some(b) if fsx::sha256_hex(b) != f.sha256 || b.len() as u64 != f.bytes => {
                v.changed.push(f.path.clone())
            }
            Some(_) => {}
        }
    }
    let listed: std::collections::BTreeSet<&str> =
        manifest.files.iter().map(|f| f.path.as_str()).collect();
    v.extra = files
        .keys()
        .filter(|k| *k != "manifest.json" && !listed.contains(k.as_str()))
        .cloned()
        .collect();
    let c = &manifest.counts;
    let actual_transcript = manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("transcript/"))
        .count();
    if c.files != manifest.files.len() || c.transcript != actual_transcript {
        v.problems
            .push("the manifest's counts do not match its file list".into());
    }
    if let Some(out) = files.get("out.txt") {
        let text = String::from_utf8_lossy(out);
        for (k, n) in [
            ("files", c.files),
            ("transcript", c.transcript),
            ("dos", c.dos),
            ("artifacts", c.artifacts),
            ("todos_open", c.todos_open),
        ] {
            if !text.lines().any(|l| l == format!("{k}: {n}")) {
                v.problems.push(format!("out.txt does not say `{k}: {n}`"));
            }
        }
    }
    v.ok =
        v.changed.is_empty() && v.missing.is_empty() && v.extra.is_empty() && v.problems.is_empty();
    v.id = Some(manifest.id.clone());
    v.counts = Some(manifest.counts);
    Ok(v)
}

#[derive(Debug, Clone, Serialize)]
pub struct WrapRow {
    pub id: String,
    pub session: String,
    pub to: String,
    pub archive: String,
    pub sha256: String,
    pub created_at: Millis,
    pub consumed_at: Option<Millis>,
    pub consumed_by: Option<String>,
}

fn wrap_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<WrapRow> {
    Ok(WrapRow {
        id: r.get(0)?,
        session: r.get(1)?,
        to: r.get(2)?,
        archive: r.get(3)?,
        sha256: r.get(4)?,
        created_at: r.get(5)?,
        consumed_at: r.get(6)?,
        consumed_by: r.get(7)?,
    })
}

const WRAP_COLS: &str =
    "id, session, to_target, archive, sha256, created_at, consumed_at, consumed_by";

/// Wraps, newest first (of one session when given), handed to `each` one at a time; says
/// whether more matched than the window shows.
pub fn listed(
    hub: &Hub,
    session: Option<&str>,
    window: store::Window,
    each: impl FnMut(WrapRow) -> Result<()>,
) -> Result<bool> {
    store::list(
        hub.store.conn(),
        &format!("SELECT {WRAP_COLS} FROM wraps"),
        &[
            ("session = ?", store::text(session)),
            ("created_at >= ?", store::since(window)),
        ],
        "created_at DESC, id DESC",
        window,
        wrap_row,
        each,
    )
}

/// Every wrap, newest first.
pub fn list(hub: &Hub) -> Result<Vec<WrapRow>> {
    let mut s = hub.store.conn().prepare(&format!(
        "SELECT {WRAP_COLS} FROM wraps ORDER BY created_at DESC, id DESC"
    ))?;
    Ok(s.query_map([], wrap_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Picks a wrap: the one named (id prefix or archive path); else `latest`; else among
/// unconsumed wraps the one addressed to `target`, then one addressed to `ANY`, then the
/// newest.
pub fn pick(hub: &Hub, named: Option<&str>, latest: bool, target: Option<&str>) -> Result<WrapRow> {
    let all = list(hub)?;
    if let Some(n) = named {
        if n.ends_with(".tar.zst") || n.contains('/') {
            let p = dunce::canonicalize(n).map_err(|e| Error::io(format!("cannot open {n}"), e))?;
            return all
                .into_iter()
                .find(|w| {
                    dunce::canonicalize(hub.dir.join(&w.archive))
                        .ok()
                        .as_deref()
                        == Some(p.as_path())
                })
                .ok_or_else(|| Error::NotFound {
                    kind: "wrap",
                    id: n.to_string(),
                    near: Vec::new(),
                });
        }
        let id = store::resolve_id(hub.store.conn(), "wraps", Kind::Wrap, n)?;
        return all.into_iter().find(|w| w.id == id).ok_or(Error::NotFound {
            kind: "wrap",
            id,
            near: Vec::new(),
        });
    }
    if latest {
        return all.into_iter().next().ok_or(Error::NotFound {
            kind: "wrap",
            id: "latest".into(),
            near: Vec::new(),
        });
    }
    let open: Vec<&WrapRow> = all.iter().filter(|w| w.consumed_at.is_none()).collect();
    let chosen = target
        .and_then(|t| open.iter().find(|w| w.to.eq_ignore_ascii_case(t)))
        .or_else(|| open.iter().find(|w| w.to == "ANY"))
        .or_else(|| open.first())
        .map(|w| (*w).clone());
    chosen.ok_or_else(|| {
        Error::invalid(
            "no wrap is waiting to be unwrapped",
            Some("name one (`coagent wraps` lists them) or pass --latest".to_string()),
        )
    })
}

fn record_receipt(hub: &mut Hub, wrap_id: &str, by: &str) -> Result<()> {
    let now = hub.now_ms();
    hub.store.tx(|tx| {
        tx.execute("UPDATE wraps SET consumed_at = COALESCE(consumed_at, ?2), consumed_by = COALESCE(consumed_by, ?3) WHERE id = ?1", params![wrap_id, now, by])?;
        store::event(tx, now, Some(by), "wrap.unwrapped", &serde_json::json!({"wrap": wrap_id}))
    })
}

/// The capsule a respawn boots with: the locked one when it is the wrap's or newer (said
/// in the returned note), else the wrap's own.
fn respawn_capsule(hub: &Hub, wrap_capsule: &Capsule) -> Result<(Capsule, Option<String>)> {
    let current = capsule::current(&hub.dir)?;
    if current.sha256 == wrap_capsule.sha256 {
        return Ok((current, None));
    }
    let newer = match (
        semver::Version::parse(&current.version),
        semver::Version::parse(&wrap_capsule.version),
    ) {
        (Ok(c), Ok(w)) => c > w,
        _ => true,
    };
    if newer {
        let note = format!(
            "booting with the newer capsule v{} (the wrap was made under v{})",
            current.version, wrap_capsule.version
        );
        Ok((current, Some(note)))
    } else {
        Ok((wrap_capsule.clone(), None))
    }
}

/// Everything `start --from-wrap` and `unwrap` need from an archive.
pub fn respawn_for(hub: &mut Hub, w: &WrapRow) -> Result<(Respawn, Option<String>)> {
    let path = hub.dir.join(&w.archive);
    let v = verify(&path)?;
    if !v.ok {
        return Err(Error::invalid(
            format!("wrap {} failed verification: {}", w.id, describe(&v)),
            Some(format!(
                "`coagent wrap verify {}` shows the details",
                path.display()
            )),
        ));
    }
    let files = unpack(&read(&path)?).map_err(|e| Error::invalid(e, None))?;
    let get = |name: &str| {
        files
            .get(name)
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default()
    };
    let message: BackchatMessage = serde_json::from_str(&get("handoff.json")).map_err(|e| {
        Error::invalid(
            format!("wrap {}'s handoff.json is not a BackchatMessage: {e}", w.id),
            None,
        )
    })?;
    let cap_text = get("capsule.md");
    let policy = cap_text
        .split_once("-->\n")
        .map_or(cap_text.as_str(), |(_, p)| p)
        .to_string();
    let wrap_capsule = Capsule {
        version: message.capsule.version.clone(),
        sha256: message.capsule.sha256.clone(),
        policy,
    };
    let (capsule, note) = respawn_capsule(hub, &wrap_capsule)?;
    Ok((
        Respawn {
            wrap_id: w.id.clone(),
            from_session: w.session.clone(),
            handoff: get("handoff.md"),
            message,
            capsule,
        },
        note,
    ))
}

/// `unwrap`: boots a session from a picked wrap and records the receipt.
pub fn unwrap(
    hub: &mut Hub,
    w: &WrapRow,
    vendor: Option<&str>,
    redact: bool,
    clip: &mut dyn Clipboard,
) -> Result<(Started, Option<String>)> {
    let (respawn, note) = respawn_for(hub, w)?;
    let warning = session::successor_warning(hub, &w.id)?;
    let old = session::get(hub, &w.session).ok();
    let vendor = vendor
        .map(str::to_string)
        .or_else(|| {
            crate::vendor::find(&hub.config().ok()?, &w.to)
                .ok()
                .map(|v| v.name)
        })
        .or_else(|| old.as_ref().map(|s| s.vendor.clone()))
        .unwrap_or_else(|| "generic".into());
    let goal = old.map(|s| s.goal).unwrap_or_default();
    let started = session::start(
        hub,
        StartOptions {
            vendor,
            goal,
            redact,
            respawn: Some(respawn),
        },
        clip,
    )?;
    let mut started = started;
    // Said first: it is about the session itself, not its payload.
    started.sent.warnings.splice(0..0, warning);
    record_receipt(hub, &w.id, &started.session)?;
    Ok((started, note))
}

fn write_latest(hub: &Hub, w: &Wrapped, to: &str) -> Result<()> {
    let latest = serde_json::json!({
        "id": w.id, "session": w.session, "to": to, "archive": hub.rel(&w.archive), "sha256": w.sha256,
        "created_at": rfc3339(hub.now_ms()), "respawn_session": w.respawn_session,
    });
    fsx::write_atomic(
        &fsx::join_rel(&hub.dir, LATEST),
        format!(
            "{}\n",
            serde_json::to_string_pretty(&latest).unwrap_or_default()
        )
        .as_bytes(),
    )
}

pub fn describe(v: &Verification) -> String {
    let mut parts = Vec::new();
    if !v.changed.is_empty() {
        parts.push(format!("changed: {}", v.changed.join(", ")));
    }
    if !v.missing.is_empty() {
        parts.push(format!("missing: {}", v.missing.join(", ")));
    }
    if !v.extra.is_empty() {
        parts.push(format!("extra: {}", v.extra.join(", ")));
    }
    parts.extend(v.problems.iter().cloned());
    parts.join("; ")
}

#[derive(Debug, Clone, Serialize)]
pub struct Swept {
    pub removed: Vec<String>,
    pub kept_unconsumed: usize,
}

/// The consumed wraps older than `days`, which `sweep` would remove.
pub fn sweepable(hub: &Hub, days: u64) -> Result<Vec<WrapRow>> {
    let cutoff = hub.now_ms() - (days as i64) * 86_400_000;
    Ok(list(hub)?
        .into_iter()
        .filter(|w| w.consumed_at.is_some() && w.created_at < cutoff)
        .collect())
}

/// Removes the archives (and records) of consumed wraps older than `days`. Unconsumed
/// wraps are never removed.
pub fn sweep(hub: &mut Hub, days: u64) -> Result<Swept> {
    let doomed = sweepable(hub, days)?;
    let kept_unconsumed = list(hub)?
        .iter()
        .filter(|w| w.consumed_at.is_none())
        .count();
    let now = hub.now_ms();
    let mut removed = Vec::new();
    for w in doomed {
        let p = hub.dir.join(&w.archive);
        if p.exists() {
            std::fs::remove_file(&p)
                .map_err(|e| Error::io(format!("cannot remove {}", p.display()), e))?;
        }
        hub.store.tx(|tx| {
            tx.execute("DELETE FROM wraps WHERE id = ?1", [&w.id])?;
            store::event(
                tx,
                now,
                Some(&w.session),
                "wrap.swept",
                &serde_json::json!({"wrap": w.id}),
            )
        })?;
        removed.push(w.id);
    }
    Ok(Swept {
        removed,
        kept_unconsumed,
    })
}

/// The latest wrap's row, if any (for `start --from-wrap latest`).
pub fn latest(hub: &Hub) -> Result<Option<WrapRow>> {
    Ok(hub
        .store
        .conn()
        .query_row(
            &format!("SELECT {WRAP_COLS} FROM wraps ORDER BY created_at DESC, id DESC LIMIT 1"),
            [],
            wrap_row,
        )
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_unpack_round_trip_is_deterministic() {
        let mut f = BTreeMap::new();
        f.insert("b.txt".to_string(), b"bee".to_vec());
        f.insert("a/c.txt".to_string(), vec![0u8, 1, 2]);
        let one = pack(&f, 1_700_000_000_000).expect("pack");
        let two = pack(&f, 1_700_000_000_000).expect("pack");
        assert_eq!(one, two);
        assert_eq!(unpack(&one).expect("unpack"), f);
        assert!(
            unpack(&one[..one.len() / 2]).is_err(),
            "a truncated archive is an error"
        );
    }
}
