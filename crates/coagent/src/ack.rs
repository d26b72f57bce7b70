//! ACKs: a chat's receipt for a DO result, a message or a wrap (`ACK <id> <ref>…`). Every
//! ref is checked before an ACK is accepted: a path must resolve inside the project root
//! and exist (no `..`, absolute or symlink escape), `commit:<sha>` must be in the project's
//! git repository, `artifact:A-…` and the ACKed id must be known to the hub; a PR ref or a
//! URL is recorded as given (CoAgent never goes online). A failing ACK is recorded as
//! *rejected* with its reason — never dropped, never accepted.

use std::path::Path;
use std::process::Command;

use coagent_ingest::{AckLine, AckRef};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::hub::Hub;
use crate::{Result, clock::Millis, store};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AckResult {
    pub id: String,
    pub refs: Vec<String>,
    /// `accepted` or `rejected`.
    pub status: String,
    pub reason: String,
}

/// Checks one ACK line against the hub and the project. Pure reads.
pub fn judge(hub: &Hub, ack: &AckLine) -> Result<AckResult> {
    let refs: Vec<String> = ack.refs.iter().map(AckRef::as_str).collect();
    let reason = match target_problem(hub, &ack.id)? {
        Some(r) => Some(r),
        None => {
            let mut first = None;
            for r in &ack.refs {
                if let (AckRef::Artifact { id }, true) = (r, ack.id.starts_with("DO-"))
                    && crate::artifact::exists(hub, id)?
                    && count2(
                        hub,
                        "SELECT COUNT(*) FROM artifacts WHERE id = ?1 AND do_id = ?2",
                        id,
                        &ack.id,
                    )? == 0
                {
                    first = Some(format!("artifact:{id} is not an artifact of {}", ack.id));
                    break;
                }
                if let Some(p) = ref_problem(hub, r)? {
                    first = Some(p);
                    break;
                }
            }
            first
        }
    };
    Ok(AckResult {
        id: ack.id.clone(),
        refs,
        status: if reason.is_none() {
            "accepted"
        } else {
            "rejected"
        }
        .to_string(),
        reason: reason.unwrap_or_default(),
    })
}

fn count(hub: &Hub, sql: &str, id: &str) -> Result<i64> {
    Ok(hub.store.conn().query_row(sql, [id], |r| r.get(0))?)
}

fn count2(hub: &Hub, sql: &str, a: &str, b: &str) -> Result<i64> {
    Ok(hub.store.conn().query_row(sql, [a, b], |r| r.get(0))?)
}

fn target_problem(hub: &Hub, id: &str) -> Result<Option<String>> {
    let known = if id.starts_with("DO-") {
        let runs = count(hub, "SELECT COUNT(*) FROM runs WHERE do_id = ?1", id)?;
        if count(hub, "SELECT COUNT(*) FROM dos WHERE id = ?1", id)? == 0 {
            false
        } else if runs == 0 {
            return Ok(Some(format!(
                "{id} has not run yet: there is no result to acknowledge"
            )));
        } else {
            true
        }
    } else if id.starts_with("BC-") {
        // Only what this hub sent can be acknowledged, not the chat's own messages.
        count(
            hub,
            "SELECT COUNT(*) FROM messages WHERE id = ?1 AND direction = 'out'",
            id,
        )? > 0
    } else if id.starts_with("W-") {
        count(hub, "SELECT COUNT(*) FROM wraps WHERE id = ?1", id)? > 0
    } else {
        false
    };
    Ok(if known {
        None
    } else {
        Some(format!("unknown id {id}: this hub never sent it"))
    })
}

pub(crate) fn ref_problem(hub: &Hub, r: &AckRef) -> Result<Option<String>> {
    Ok(match r {
        AckRef::Pr { .. } | AckRef::PrFull { .. } | AckRef::Url { .. } => None,
        AckRef::Artifact { id } => {
            if crate::artifact::exists(hub, id)? {
                None
            } else {
                Some(format!("unknown artifact {id}"))
            }
        }
        AckRef::Commit { sha } => commit_problem(&hub.root, sha),
        AckRef::Path { path } => path_problem(&hub.root, path),
    })
}

fn commit_problem(root: &Path, sha: &str) -> Option<String> {
    if !sha.bytes().all(|b| b.is_ascii_hexdigit()) || sha.len() < 4 {
        return Some(format!("commit:{sha} is not a commit id"));
    }
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["cat-file", "-e", &format!("{sha}^{{commit}}")])
        .output();
    match out {
        Ok(o) if o.status.success() => None,
        Ok(_) if !root.join(".git").exists() => {
            Some(format!("commit:{sha}: the project is not a git repository"))
        }
        Ok(_) => Some(format!(
            "commit:{sha} is not in the project's git repository"
        )),
        Err(_) => Some(format!("commit:{sha}: git is not available to check it")),
    }
}

/// A path ref must name an existing file or folder inside the project root.
pub fn path_problem(root: &Path, path: &str) -> Option<String> {
    let p = Path::new(path);
    if path.starts_with('~') || p.is_absolute() || path.starts_with('\\') || path.contains(":\\") {
        return Some(format!(
            "{path} is not a path inside the project (absolute paths are refused)"
        ));
    }
    if p.components()
        .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Some(format!("{path} leaves the project root (`..` is refused)"));
    }
    match coagent_runner::resolve_artifact(root, path) {
        Ok(_) => None,
        Err(coagent_runner::ArtifactError::NotAFile { .. }) if root.join(path).is_dir() => {
            // A folder inside the project is a fine ref; resolve_artifact wants files.
            let real = dunce::canonicalize(root.join(path)).ok()?;
            let root = dunce::canonicalize(root).ok()?;
            if real.starts_with(root) {
                None
            } else {
                Some(format!("{path} leads outside the project root"))
            }
        }
        Err(coagent_runner::ArtifactError::Outside { .. }) => {
            Some(format!("{path} leads outside the project root"))
        }
        Err(coagent_runner::ArtifactError::Missing { .. }) => {
            Some(format!("{path} does not exist in the project"))
        }
        Err(e) => Some(e.to_string()),
    }
}

/// Records a judged ACK; an accepted one closes what it acknowledges.
pub fn record(
    tx: &Transaction<'_>,
    session: &str,
    reply: i64,
    a: &AckResult,
    now: Millis,
) -> Result<()> {
    tx.execute(
        "INSERT INTO acks (session, target, refs, status, reason, reply, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![session, a.id, serde_json::to_string(&a.refs).unwrap_or_default(), a.status, a.reason, reply, now],
    )?;
    if a.status == "accepted" {
        if a.id.starts_with("DO-") {
            tx.execute(
                "UPDATE dos SET state = 'acked', acked_at = COALESCE(acked_at, ?2) WHERE id = ?1",
                params![a.id, now],
            )?;
            // A result message covers the DOs its subject names first (one turn's runs):
            // it is answered once every one of them is.
            tx.execute(
                "UPDATE messages SET acked_at = COALESCE(acked_at, ?2)
                 WHERE direction = 'out' AND kind = 'result' AND acked_at IS NULL
                   AND (' ' || subject || ' ') LIKE '% ' || ?1 || ' %'
                   AND NOT EXISTS (
                     SELECT 1 FROM dos d
                     WHERE (' ' || messages.subject || ' ') LIKE '% ' || d.id || ' %'
                       AND d.state != 'acked')",
                params![a.id, now],
            )?;
        } else {
            tx.execute(
                "UPDATE messages SET acked_at = COALESCE(acked_at, ?2) WHERE id = ?1",
                params![a.id, now],
            )?;
        }
    }
    Ok(())
}

/// A DO whose result was sent to a session and is not acknowledged yet.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct InFlight {
    pub do_id: String,
    pub title: String,
    /// The result message that carried it.
    pub message: String,
    /// Its artifacts, as the chat cites them (`artifact:A-…`).
    pub refs: Vec<String>,
}

/// The results sent to `session` still awaiting their ACK, one entry per DO, oldest first.
pub fn in_flight(hub: &Hub, session: &str) -> Result<Vec<InFlight>> {
    let c = hub.store.conn();
    let mut stmt = c.prepare_cached(
        "SELECT id, subject FROM messages
         WHERE session = ?1 AND direction = 'out' AND kind = 'result' AND requires_ack = 1
           AND acked_at IS NULL ORDER BY created_at, rowid",
    )?;
    let results: Vec<(String, String)> = stmt
        .query_map([session], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut out = Vec::new();
    for (message, subject) in results {
        for d in subject
            .split_whitespace()
            .take_while(|w| w.starts_with("DO-"))
        {
            let row: Option<(String, String)> = c
                .query_row("SELECT title, state FROM dos WHERE id = ?1", [d], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            let Some((title, state)) = row else { continue };
            if state == "acked" || out.iter().any(|f: &InFlight| f.do_id == d) {
                continue;
            }
            let mut arts = c.prepare_cached(
                "SELECT id FROM artifacts WHERE do_id = ?1 ORDER BY created_at, id",
            )?;
            let refs = arts
                .query_map([d], |r| r.get::<_, String>(0))?
                .map(|a| a.map(|a| format!("artifact:{a}")))
                .collect::<rusqlite::Result<_>>()?;
            out.push(InFlight {
                do_id: d.to_string(),
                title,
                message: message.clone(),
                refs,
            });
        }
    }
    Ok(out)
}

/// An ACK received, or one awaited.
#[derive(Debug, Clone, Serialize)]
pub struct AckEntry {
    pub id: String,
    pub session: Option<String>,
    /// `accepted`, `rejected`, or `pending`.
    pub status: String,
    pub refs: Vec<String>,
    pub reason: String,
    pub at: Millis,
    /// For pending ones: how long it has been awaited.
    pub waiting_ms: Option<Millis>,
}

/// Which ACKs `ack list` shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// What is still awaited instead of what was received.
    pub pending: bool,
    pub session: Option<String>,
    /// `accepted` or `rejected`.
    pub state: Option<String>,
    pub window: store::Window,
}

/// ACKs received (newest first), or with `pending` the results and messages still awaiting
/// one (oldest first), handed to `each` one at a time; says whether more matched than the
/// window shows.
pub fn list(hub: &Hub, f: &Filter, each: impl FnMut(AckEntry) -> Result<()>) -> Result<bool> {
    if f.pending {
        return pending(hub, f, each);
    }
    if let Some(s) = f.state.as_deref()
        && !matches!(s, "accepted" | "rejected")
    {
        return Err(crate::Error::invalid(
            format!("`{s}` is not an ACK state"),
            Some("accepted or rejected; `ack list --pending` lists those awaited".to_string()),
        ));
    }
    store::list(
        hub.store.conn(),
        "SELECT target, session, status, refs, reason, created_at FROM acks",
        &[
            ("session = ?", store::text(f.session.as_deref())),
            ("status = ?", store::text(f.state.as_deref())),
            ("created_at >= ?", store::since(f.window)),
        ],
        "created_at DESC, id DESC",
        f.window,
        |r| {
            let refs: String = r.get(3)?;
            Ok(AckEntry {
                id: r.get(0)?,
                session: r.get(1)?,
                status: r.get(2)?,
                refs: serde_json::from_str(&refs).unwrap_or_default(),
                reason: r.get(4)?,
                at: r.get(5)?,
                waiting_ms: None,
            })
        },
        each,
    )
}

/// The results and messages still awaiting an ACK, oldest first: a result awaits one ACK
/// per DO it carries that is not acknowledged yet.
fn pending(hub: &Hub, f: &Filter, mut each: impl FnMut(AckEntry) -> Result<()>) -> Result<bool> {
    let c = hub.store.conn();
    let now = hub.now_ms();
    let (sql, params) = store::filtered(
        "SELECT kind, id, subject, session, created_at FROM messages
         WHERE direction = 'out' AND requires_ack = 1 AND acked_at IS NULL",
        &[
            ("session = ?", store::text(f.session.as_deref())),
            ("created_at >= ?", store::since(f.window)),
        ],
        "created_at",
        store::Window::all(),
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    let mut shown = 0usize;
    while let Some(r) = rows.next()? {
        let (kind, id, subject, session, at): (String, String, String, Option<String>, Millis) =
            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?);
        let awaited: Vec<String> = if kind == "result" {
            let mut ids = Vec::new();
            for d in subject
                .split_whitespace()
                .take_while(|w| w.starts_with("DO-"))
            {
                let state: Option<String> = c
                    .query_row("SELECT state FROM dos WHERE id = ?1", [d], |r| r.get(0))
                    .optional()?;
                if state.as_deref() != Some("acked") {
                    ids.push(d.to_string());
                }
            }
            ids
        } else {
            vec![id]
        };
        for id in awaited {
            if f.window.limit.is_some_and(|l| shown >= l) {
                return Ok(true);
            }
            each(AckEntry {
                id,
                session: session.clone(),
                status: "pending".into(),
                refs: Vec::new(),
                reason: String::new(),
                at,
                waiting_ms: Some(now - at),
            })?;
            shown += 1;
        }
    }
    Ok(false)
}
