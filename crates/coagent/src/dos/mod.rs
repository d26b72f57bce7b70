//! DOs: one script proposed by a chat, approved and run by the human, yielding artifacts.
//!
//! Lifecycle: `proposed` (from ingest) → `approved` (sha256 pinned) → `running` →
//! `succeeded | failed | timed_out | killed | interrupted` → `acked` (the chat's ACK
//! arrived). `interrupted` is a run whose CoAgent died before it ended ([`interrupted`]);
//! such a DO runs again without `--rerun`.
//! A proposed script is quarantined as a file under the hub's `dos/` folder, where the user
//! can read and even edit it; nothing runs without the user's explicit `do run`. Approval
//! pins the file's sha256: a script changed after approval is refused until approved again.
//! A run never overwrites an earlier one: `--rerun` adds a run record.

use std::path::PathBuf;

use coagent_runner::worktree::Tracker;
use coagent_runner::{Lang, RiskHint};
use rusqlite::params;
use serde::Serialize;

use crate::artifact::{self, Artifact};
use crate::clock::Millis;
use crate::hub::Hub;
use crate::id;
use crate::{Error, Result, fsx, store};

pub mod interrupted;
pub mod result;
pub mod run;
pub mod tracking;

pub use run::{
    ArtifactOut, BatchReport, NotRun, Planned, Progress, RunOptions, RunReport, Selection,
    needing_consent, plan, run, send_result,
};
pub use tracking::Early;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Do {
    pub id: String,
    pub session: String,
    pub title: String,
    pub lang: String,
    /// How the language was decided, when the chat did not name it plainly (inferred from
    /// the content; a `zsh` tag run under bash where zsh is missing).
    pub lang_note: Option<String>,
    /// sha256 of the script as the chat proposed it.
    pub sha256: String,
    pub state: String,
    pub approved_sha256: Option<String>,
    pub proposed_at: Millis,
    pub approved_at: Option<Millis>,
    pub first_artifact_at: Option<Millis>,
    pub acked_at: Option<Millis>,
    /// The quarantined script, relative to the hub.
    pub path: String,
    /// The TODO the DO serves (its `# TODO:` line), when it named one this hub has.
    pub todo: Option<String>,
}

const COLS: &str = "id, session, title, lang, sha256, state, approved_sha256, proposed_at, approved_at, first_artifact_at, acked_at, lang_note, todo_id";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Do> {
    let id: String = r.get(0)?;
    let lang: String = r.get(3)?;
    let path = script_rel(&id, &lang);
    Ok(Do {
        id,
        session: r.get(1)?,
        title: r.get(2)?,
        lang,
        sha256: r.get(4)?,
        state: r.get(5)?,
        approved_sha256: r.get(6)?,
        proposed_at: r.get(7)?,
        approved_at: r.get(8)?,
        first_artifact_at: r.get(9)?,
        acked_at: r.get(10)?,
        lang_note: r.get(11)?,
        todo: r.get(12)?,
        path,
    })
}

fn lang_of(lang: &str) -> Option<Lang> {
    lang.parse::<Lang>().ok()
}

fn script_rel(id: &str, lang: &str) -> String {
    let ext = lang_of(lang).map_or("txt", |l| l.extension());
    format!("dos/{id}.{ext}")
}

/// Writes a proposed script to `dos/<id>.<ext>` in the hub. The store holds the script
/// too, so this copy is derived: written atomically, not synced, and rebuilt when missing.
pub fn quarantine(hub: &Hub, id: &str, lang: &str, script: &str) -> Result<PathBuf> {
    let p = quarantine_path(hub, id, lang);
    fsx::write_derived(&p, script.as_bytes())?;
    Ok(p)
}

/// Where [`quarantine`] writes a DO's script.
pub fn quarantine_path(hub: &Hub, id: &str, lang: &str) -> PathBuf {
    hub.path(&script_rel(id, lang))
}

pub fn get(hub: &Hub, typed: &str) -> Result<Do> {
    let id = store::resolve_id(hub.store.conn(), "dos", id::Kind::Do, typed)?;
    Ok(hub
        .store
        .conn()
        .query_row(&format!("SELECT {COLS} FROM dos WHERE id = ?1"), [id], row)?)
}

/// Which DOs `do list` shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub session: Option<String>,
    /// One lifecycle state (`proposed`, `succeeded`, `acked`…).
    pub state: Option<String>,
    /// The newest `limit` DOs proposed at or after `since`.
    pub window: store::Window,
}

/// The lifecycle states, in order (a DO's state only moves forward along it, but for a
/// rerun).
pub const STATES: &[&str] = &[
    "proposed",
    "approved",
    "running",
    "interrupted",
    "killed",
    "timed_out",
    "failed",
    "succeeded",
    "acked",
];

/// DOs in the order they were proposed (a reply's DOs in its order), handed to `each` one at a time: the newest
/// `filter.window.limit` of them (buffered, at most that many), or every one streamed.
/// Says whether more matched than were shown.
pub fn list(hub: &Hub, filter: &Filter, mut each: impl FnMut(Do) -> Result<()>) -> Result<bool> {
    if let Some(s) = &filter.state
        && !STATES.contains(&s.as_str())
    {
        return Err(Error::invalid(
            format!("`{s}` is not a DO state"),
            Some(format!("one of: {}", STATES.join(", "))),
        ));
    }
    let w = filter.window;
    let order = if w.limit.is_some() {
        "proposed_at DESC, rowid DESC"
    } else {
        "proposed_at, rowid"
    };
    let (sql, params) = store::filtered(
        &format!("SELECT {COLS} FROM dos"),
        &[
            ("session = ?", store::text(filter.session.as_deref())),
            ("state = ?", store::text(filter.state.as_deref())),
            ("proposed_at >= ?", store::since(w)),
        ],
        order,
        w,
    );
    let mut stmt = hub.store.conn().prepare_cached(&sql)?;
    let params = rusqlite::params_from_iter(params);
    if w.limit.is_none() {
        return store::stream(&mut stmt, params, w, row, each);
    }
    let mut newest = Vec::new();
    let more = store::stream(&mut stmt, params, w, row, |d| {
        newest.push(d);
        Ok(())
    })?;
    for d in newest.into_iter().rev() {
        each(d)?;
    }
    Ok(more)
}

/// Every DO of one session, oldest first (a session holds a handful).
pub fn of_session(hub: &Hub, session: &str) -> Result<Vec<Do>> {
    Ok(hub
        .store
        .conn()
        .prepare_cached(&format!(
            "SELECT {COLS} FROM dos WHERE session = ?1 ORDER BY proposed_at, id"
        ))?
        .query_map([session], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The quarantined script as it is now, and its sha256.
pub fn current_script(hub: &Hub, d: &Do) -> Result<(String, String)> {
    let p = hub.dir.join(&d.path);
    if !p.exists() {
        // Lost (e.g. a crash before the disk caught up): the proposal is in the store. If
        // the user had edited and approved another text, the hash check refuses it.
        let script: String =
            hub.store
                .conn()
                .query_row("SELECT script FROM dos WHERE id = ?1", [&d.id], |r| {
                    r.get(0)
                })?;
        quarantine(hub, &d.id, &d.lang, &script)?;
    }
    let text = fsx::read_to_string(&p).map_err(|_| {
        Error::invalid(
            format!("the script of {} is missing from {}", d.id, p.display()),
            Some("ingest the chat's reply again to restore it".to_string()),
        )
    })?;
    let sha = fsx::sha256_hex(text.as_bytes());
    Ok((text, sha))
}

#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    pub id: String,
    pub status: String,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub started_at: Millis,
    pub ended_at: Option<Millis>,
    pub duration_ms: Option<i64>,
}

pub fn runs(hub: &Hub, do_id: &str) -> Result<Vec<RunRecord>> {
    let mut s = hub.store.conn().prepare_cached(
        "SELECT id, status, exit_code, signal, started_at, ended_at, duration_ms FROM runs WHERE do_id = ?1 ORDER BY started_at, rowid",
    )?;
    Ok(s.query_map([do_id], |r| {
        Ok(RunRecord {
            id: r.get(0)?,
            status: r.get(1)?,
            exit_code: r.get(2)?,
            signal: r.get(3)?,
            started_at: r.get(4)?,
            ended_at: r.get(5)?,
            duration_ms: r.get(6)?,
        })
    })?
    .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// A guard finding on a script, without the value.
#[derive(Debug, Clone, Serialize)]
pub struct ScriptFinding {
    pub line: usize,
    pub rule: String,
    pub preview: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    #[serde(flatten)]
    pub r#do: Do,
    pub script: String,
    pub current_sha256: String,
    /// The file differs from what the chat proposed.
    pub edited: bool,
    /// Approved, and the file changed since.
    pub changed_since_approval: bool,
    pub interpreter: std::result::Result<String, String>,
    /// Why the interpreter is not the language's first choice, when it is not (Windows
    /// PowerShell 5.1 without `pwsh`, WSL's bash without Git Bash).
    pub interpreter_note: Option<String>,
    pub guard: Vec<ScriptFinding>,
    pub risks: Vec<RiskHint>,
    pub artifact_lines: Vec<String>,
    pub runs: Vec<RunRecord>,
    pub artifacts: Vec<Artifact>,
    /// The DO its title says it revises (`# DO: … (revises DO-…)`), and what changed.
    pub revises: Option<Revision>,
}

/// A DO sent again with changes: the one it revises, and the lines that differ, so the
/// human reviews the change rather than the whole script again.
#[derive(Debug, Clone, Serialize)]
pub struct Revision {
    pub id: String,
    pub added: usize,
    pub removed: usize,
    /// A unified diff of the earlier script to this one.
    pub diff: String,
}

/// The id a title names after `revises`, as typed (`… (revises DO-7K3M)`).
fn revised_id(title: &str) -> Option<&str> {
    let lower = title.to_ascii_lowercase();
    let at = lower.find("revises ")? + "revises ".len();
    let rest = title[at..].trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(rest.len());
    (end > 0).then(|| &rest[..end])
}

/// What `d` changes in the DO its title says it revises; `None` when it names none, or
/// one this hub does not know.
fn revision(hub: &Hub, d: &Do, script: &str) -> Result<Option<Revision>> {
    let Some(typed) = revised_id(&d.title) else {
        return Ok(None);
    };
    let Ok(earlier) = get(hub, typed) else {
        return Ok(None);
    };
    if earlier.id == d.id {
        return Ok(None);
    }
    let (before, _) = current_script(hub, &earlier)?;
    // The title line differs by the `(revises …)` itself: the change is in the rest.
    let body = |s: &str| -> String {
        s.split_inclusive('\n')
            .filter(|l| !l.trim_start().starts_with("# DO:"))
            .collect()
    };
    let (before, after) = (body(&before), body(script));
    let diff = similar::TextDiff::from_lines(&before, &after);
    let (mut added, mut removed) = (0, 0);
    for c in diff.iter_all_changes() {
        match c.tag() {
            similar::ChangeTag::Insert => added += 1,
            similar::ChangeTag::Delete => removed += 1,
            similar::ChangeTag::Equal => {}
        }
    }
    Ok(Some(Revision {
        diff: diff
            .unified_diff()
            .context_radius(2)
            .header(&earlier.id, &d.id)
            .to_string(),
        id: earlier.id,
        added,
        removed,
    }))
}

pub fn show(hub: &Hub, typed: &str) -> Result<Shown> {
    let d = get(hub, typed)?;
    let (script, sha) = current_script(hub, &d)?;
    let lang = lang_of(&d.lang);
    let guard = crate::guard::for_hub(hub)?
        .scan(script.as_bytes())
        .into_iter()
        .map(|f| ScriptFinding {
            line: f.line,
            rule: f.rule,
            preview: f.preview,
        })
        .collect();
    let found = lang.map(coagent_runner::find_interpreter);
    Ok(Shown {
        interpreter_note: found
            .as_ref()
            .and_then(|f| f.as_ref().ok())
            .and_then(|i| i.note.clone()),
        current_sha256: sha.clone(),
        edited: sha != d.sha256,
        changed_since_approval: d.approved_sha256.as_ref().is_some_and(|a| *a != sha),
        interpreter: match found {
            Some(f) => f.map(|i| i.to_string()).map_err(|e| e.to_string()),
            None => Err(format!(
                "`{}` is not a language CoAgent runs (bash, sh, python, pwsh, cmd on Windows)",
                d.lang
            )),
        },
        guard,
        risks: lang
            .map(|l| coagent_runner::risk_hints(&script, l))
            .unwrap_or_default(),
        artifact_lines: coagent_runner::artifact_lines(&script),
        runs: runs(hub, &d.id)?,
        artifacts: artifact::of_do(hub, &d.id, 100)?,
        revises: revision(hub, &d, &script)?,
        script,
        r#do: d,
    })
}

/// Pins the script's current sha256: only this content may run.
pub fn approve(hub: &mut Hub, typed: &str) -> Result<Do> {
    let d = get(hub, typed)?;
    let (_, sha) = current_script(hub, &d)?;
    if lang_of(&d.lang).is_none() {
        return Err(Error::invalid(
            format!(
                "{} is written in `{}`, which CoAgent does not run",
                d.id, d.lang
            ),
            Some("ask the chat for a bash, sh, python or pwsh version".to_string()),
        ));
    }
    let now = hub.now_ms();
    hub.store.tx(|tx| {
        tx.execute(
            "UPDATE dos SET approved_sha256 = ?2, approved_at = ?3, state = CASE WHEN state = 'proposed' THEN 'approved' ELSE state END WHERE id = ?1",
            params![d.id, sha, now],
        )?;
        store::event(tx, now, Some(&d.session), "do.approved", &serde_json::json!({"id": d.id, "sha256": sha}))
    })?;
    get(hub, &d.id)
}

#[derive(Debug, Clone, Serialize)]
pub struct UndoPlan {
    pub id: String,
    pub diff: ArtifactOut,
    pub files: Vec<String>,
}

/// What `do undo` would reverse, after checking it still applies cleanly.
pub fn undo_plan(hub: &Hub, typed: &str) -> Result<UndoPlan> {
    let d = get(hub, typed)?;
    let run = runs(hub, &d.id)?
        .pop()
        .ok_or_else(|| Error::invalid(format!("{} has not run: nothing to undo", d.id), None))?;
    let arts = artifact::for_run(hub, &run.id)?;
    let diff = arts.iter().find(|a| a.kind == "diff").ok_or_else(|| {
        Error::invalid(
            format!(
                "{}'s last run changed nothing in the work tree that git could see",
                d.id
            ),
            Some("undo reverses a captured diff; this run left none".to_string()),
        )
    })?;
    let bytes = artifact::read(hub, diff)?;
    tracker(hub)?.can_undo(&bytes).map_err(|e| {
        Error::invalid(
            format!("{} cannot be undone safely: {e}", d.id),
            Some("the work tree moved on since the DO ran; reverse the change by hand (the diff artifact shows it)".to_string()),
        )
    })?;
    let files = String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| l.strip_prefix("diff --git a/"))
        .filter_map(|l| l.split(" b/").next())
        .map(str::to_string)
        .collect();
    Ok(UndoPlan {
        id: d.id,
        diff: ArtifactOut::from(diff),
        files,
    })
}

pub fn undo(hub: &mut Hub, plan: &UndoPlan) -> Result<()> {
    let a = artifact::get(hub, &plan.diff.id)?;
    let bytes = artifact::read(hub, &a)?;
    tracker(hub)?
        .undo(&bytes)
        .map_err(|e| Error::invalid(format!("undo failed: {e}"), None))?;
    let now = hub.now_ms();
    hub.store.tx(|tx| {
        store::event(
            tx,
            now,
            None,
            "do.undone",
            &serde_json::json!({"id": plan.id, "diff": plan.diff.id}),
        )
    })
}

fn tracker(hub: &Hub) -> Result<Tracker> {
    Tracker::open(&hub.root, &hub.dir).map_err(|e| {
        Error::invalid(
            format!("the work tree cannot be read: {e}"),
            Some("undo needs git on PATH".to_string()),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_names_the_do_it_revises() {
        assert_eq!(
            revised_id("Audit README (revises DO-7K3M9Q2XAB)"),
            Some("DO-7K3M9Q2XAB")
        );
        assert_eq!(
            revised_id("Audit, Revises do-7k3m: exit 0"),
            Some("do-7k3m")
        );
        assert_eq!(revised_id("Audit README"), None);
        assert_eq!(revised_id("revises (nothing)"), None);
    }
}
