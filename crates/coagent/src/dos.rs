//! DOs: one script proposed by a chat, approved and run by the human, yielding artifacts.
//!
//! Lifecycle: `proposed` (from ingest) → `approved` (sha256 pinned) → `running` →
//! `succeeded | failed | timed_out | killed` → `acked` (the chat's ACK arrived).
//! A proposed script is quarantined as a file under the hub's `dos/` folder, where the user
//! can read and even edit it; nothing runs without the user's explicit `do run`. Approval
//! pins the file's sha256: a script changed after approval is refused until approved again.
//! A run never overwrites an earlier one: `--rerun` adds a run record.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use coagent_runner::{Cancel, Lang, RiskHint, RunSpec, RunStatus, worktree};
use rusqlite::params;
use serde::Serialize;

use crate::artifact::{self, Artifact};
use crate::backchat::{
    ArtifactKind, ArtifactRef, BackchatMessage, CapsuleRef, MessageKind, SchemaTag,
};
use crate::clipboard::Clipboard;
use crate::clock::{Millis, human_duration, rfc3339};
use crate::hub::Hub;
use crate::id::{self, Kind};
use crate::payload::{self, Outgoing, Sent};
use crate::session;
use crate::template::Templates;
use crate::{Error, Result, fsx, store, vendor};

/// Lines of the log quoted in a result payload.
pub const TAIL_LINES: usize = 40;
const TAIL_CHARS: usize = 6_000;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Do {
    pub id: String,
    pub session: String,
    pub title: String,
    pub lang: String,
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
}

const COLS: &str = "id, session, title, lang, sha256, state, approved_sha256, proposed_at, approved_at, first_artifact_at, acked_at";

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
    hub.dir.join(script_rel(id, lang))
}

pub fn get(hub: &Hub, typed: &str) -> Result<Do> {
    let id = store::resolve_id(hub.store.conn(), "dos", "DO", &id::normalize(typed))?;
    Ok(hub
        .store
        .conn()
        .query_row(&format!("SELECT {COLS} FROM dos WHERE id = ?1"), [id], row)?)
}

/// DOs, oldest first; of one session when given.
pub fn list(hub: &Hub, session: Option<&str>) -> Result<Vec<Do>> {
    let c = hub.store.conn();
    Ok(match session {
        Some(s) => c
            .prepare_cached(&format!(
                "SELECT {COLS} FROM dos WHERE session = ?1 ORDER BY proposed_at, id"
            ))?
            .query_map([s], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        None => c
            .prepare_cached(&format!("SELECT {COLS} FROM dos ORDER BY proposed_at, id"))?
            .query_map([], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
    })
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
    pub guard: Vec<ScriptFinding>,
    pub risks: Vec<RiskHint>,
    pub artifact_lines: Vec<String>,
    pub runs: Vec<RunRecord>,
    pub artifacts: Vec<Artifact>,
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
    Ok(Shown {
        current_sha256: sha.clone(),
        edited: sha != d.sha256,
        changed_since_approval: d.approved_sha256.as_ref().is_some_and(|a| *a != sha),
        interpreter: match lang {
            Some(l) => coagent_runner::find_interpreter(l)
                .map(|p| p.display().to_string())
                .map_err(|e| e.to_string()),
            None => Err(format!(
                "`{}` is not a language CoAgent runs (bash, sh, python, pwsh)",
                d.lang
            )),
        },
        guard,
        risks: lang
            .map(|l| coagent_runner::risk_hints(&script, l))
            .unwrap_or_default(),
        artifact_lines: coagent_runner::artifact_lines(&script),
        runs: runs(hub, &d.id)?,
        artifacts: artifact::list(hub, Some(&d.id), 100)?,
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

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub timeout: Option<Duration>,
    pub rerun: bool,
    pub redact: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ArtifactOut {
    pub id: String,
    pub kind: String,
    pub path: String,
    pub sha256: String,
    pub bytes: i64,
}

impl From<&Artifact> for ArtifactOut {
    fn from(a: &Artifact) -> Self {
        ArtifactOut {
            id: a.id.clone(),
            kind: a.kind.clone(),
            path: a.path.clone(),
            sha256: a.sha256.clone(),
            bytes: a.bytes,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub id: String,
    pub run: String,
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub duration_ms: u64,
    pub artifacts: Vec<ArtifactOut>,
    /// The result payload's first part, when it was written.
    pub payload: Option<PathBuf>,
    pub sent: Option<Sent>,
    /// Why the result payload was not written (e.g. the secret guard refused the log).
    pub payload_error: Option<String>,
    pub log_cut_bytes: u64,
    pub warnings: Vec<String>,
    /// The line the chat should answer with.
    pub ack_line: String,
}

/// Runs a DO: the user's explicit consent. A proposed DO is approved by this very call
/// (its current content is pinned); an approved one must not have changed since.
pub fn run(
    hub: &mut Hub,
    typed: &str,
    opts: &RunOptions,
    live: &mut dyn Write,
    cancel: &Cancel,
    clip: &mut dyn Clipboard,
) -> Result<RunReport> {
    let d = get(hub, typed)?;
    let (script, sha) = current_script(hub, &d)?;
    let lang = lang_of(&d.lang).ok_or_else(|| {
        Error::invalid(
            format!(
                "{} is written in `{}`, which CoAgent does not run",
                d.id, d.lang
            ),
            Some("ask the chat for a bash, sh, python or pwsh version".to_string()),
        )
    })?;
    if let Some(approved) = &d.approved_sha256
        && *approved != sha
    {
        return Err(Error::invalid(
            format!(
                "the script of {} changed since it was approved (sha256 {} → {})",
                d.id,
                &approved[..12],
                &sha[..12]
            ),
            Some(format!(
                "review it with `coagent do show {}`, then `coagent do approve {}`",
                d.id, d.id
            )),
        ));
    }
    let earlier = runs(hub, &d.id)?;
    if let Some(last) = earlier.last()
        && !opts.rerun
    {
        return Err(Error::invalid(
            format!(
                "{} already ran ({} at {})",
                d.id,
                last.status,
                rfc3339(last.started_at)
            ),
            Some(
                "pass --rerun to run it again: a new run record is added, the first is kept"
                    .to_string(),
            ),
        ));
    }
    let cfg = hub.config()?;
    let run_id = hub.new_id(Kind::Run);
    let now = hub.now_ms();
    let rerun = opts.rerun;
    hub.store.tx(|tx| {
        // Checked again inside the transaction: two `do run` started together run it once.
        let (runs_so_far, approved): (i64, Option<String>) = tx.query_row(
            "SELECT (SELECT COUNT(*) FROM runs WHERE do_id = ?1), approved_sha256 FROM dos WHERE id = ?1",
            [&d.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if runs_so_far > 0 && !rerun {
            return Err(Error::invalid(
                format!("{} is already running or ran", d.id),
                Some("pass --rerun to run it again".to_string()),
            ));
        }
        if approved.is_some_and(|a| a != sha) {
            return Err(Error::invalid(format!("the script of {} changed since it was approved", d.id), Some(format!("coagent do approve {}", d.id))));
        }
        tx.execute(
            "UPDATE dos SET state = 'running', approved_sha256 = ?2, approved_at = COALESCE(approved_at, ?3) WHERE id = ?1",
            params![d.id, sha, now],
        )?;
        tx.execute("INSERT INTO runs (id, do_id, status, started_at) VALUES (?1, ?2, 'running', ?3)", params![run_id, d.id, now])?;
        store::event(tx, now, Some(&d.session), "do.started", &serde_json::json!({"id": d.id, "run": run_id, "sha256": sha}))
    })?;

    // Looking for `.git` first spares a git process (milliseconds) in projects without one.
    let git =
        hub.root.ancestors().any(|a| a.join(".git").exists()) && worktree::is_git_repo(&hub.root);
    let mut warnings = Vec::new();
    let before = if git {
        match worktree::snapshot(&hub.root, &[crate::hub::HUB_DIR]) {
            Ok(s) => Some(s),
            Err(e) => {
                warnings.push(format!("no diff will be captured: {e}"));
                None
            }
        }
    } else {
        None
    };
    let spec = RunSpec {
        lang,
        script: script.clone(),
        cwd: hub.root.clone(),
        timeout: opts
            .timeout
            .unwrap_or(Duration::from_secs(cfg.run.timeout_secs)),
        env: vec![
            ("COAGENT_DO_ID".to_string(), d.id.clone()),
            ("COAGENT_RUN_ID".to_string(), run_id.clone()),
        ],
        log_head_bytes: cfg.run.log_head_kib * 1024,
        log_tail_bytes: cfg.run.log_tail_kib * 1024,
        scratch_dir: hub.dir.join("cache/run"),
    };
    let outcome = match coagent_runner::run(&spec, live, cancel) {
        Ok(o) => o,
        Err(e) => {
            // Nothing ran: take the run record back and leave the DO as it was.
            hub.store.tx(|tx| {
                tx.execute("DELETE FROM runs WHERE id = ?1", [&run_id])?;
                tx.execute(
                    "UPDATE dos SET state = ?2 WHERE id = ?1",
                    params![d.id, d.state],
                )?;
                Ok(())
            })?;
            let hint = e.hint().map(str::to_string);
            return Err(Error::invalid(e.to_string(), hint));
        }
    };

    let mut staged: Vec<(Artifact, PathBuf, Vec<u8>)> = Vec::new();
    let mut stage = |hub: &mut Hub, kind: &str, name: &str, source: &str, bytes: Vec<u8>| {
        let (a, path) = artifact::prepare(hub, &d.id, &run_id, kind, name, source, &bytes);
        staged.push((a, path, bytes));
    };
    let log_bytes = outcome.log.render();
    stage(hub, "log", "log.txt", "", log_bytes.clone());
    if let Some(before) = before {
        match worktree::diff_since(&hub.root, &before) {
            Ok(diff) if !diff.is_empty() => stage(hub, "diff", "changes.diff", "", diff),
            Ok(_) => {}
            Err(e) => warnings.push(format!("the work tree's change could not be captured: {e}")),
        }
    }
    for name in coagent_runner::artifact_lines(&script) {
        match coagent_runner::resolve_artifact(&hub.root, &name) {
            Ok(real) => match std::fs::read(&real) {
                Ok(bytes) => {
                    let file = real
                        .file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "file".into());
                    stage(hub, "file", &file, &name, bytes);
                }
                Err(e) => warnings.push(format!("artifact `{name}` could not be read: {e}")),
            },
            Err(e) => warnings.push(e.to_string()),
        }
    }
    let artifacts: Vec<Artifact> = staged.iter().map(|(a, _, _)| a.clone()).collect();
    let files: Vec<(PathBuf, Vec<u8>)> = staged.into_iter().map(|(_, p, b)| (p, b)).collect();

    let status = outcome.status;
    let ended = hub.now_ms().max(now);
    let duration_ms = outcome.duration.as_millis() as u64;
    let finish = {
        let (run_id, do_id, session, arts) = (
            run_id.clone(),
            d.id.clone(),
            d.session.clone(),
            artifacts.clone(),
        );
        let (exit_code, signal) = (outcome.exit_code, outcome.signal);
        move |tx: &rusqlite::Transaction<'_>| -> Result<()> {
            for a in &arts {
                artifact::insert(tx, a)?;
            }
            tx.execute(
                "UPDATE runs SET status = ?2, exit_code = ?3, signal = ?4, ended_at = ?5, duration_ms = ?6 WHERE id = ?1",
                params![run_id, status.as_str(), exit_code, signal, ended, duration_ms as i64],
            )?;
            tx.execute(
                "UPDATE dos SET state = ?2, first_artifact_at = COALESCE(first_artifact_at, ?3) WHERE id = ?1",
                params![do_id, status.as_str(), ended],
            )?;
            store::event(
                tx,
                ended,
                Some(&session),
                "do.finished",
                &serde_json::json!({"id": do_id, "run": run_id, "status": status.as_str(), "exit_code": exit_code, "duration_ms": duration_ms, "artifacts": arts.len()}),
            )
        }
    };

    let ack_line = ack_line(&d.id, &artifacts);
    let mut report = RunReport {
        id: d.id.clone(),
        run: run_id.clone(),
        status,
        exit_code: outcome.exit_code,
        signal: outcome.signal,
        duration_ms,
        artifacts: artifacts.iter().map(ArtifactOut::from).collect(),
        payload: None,
        sent: None,
        payload_error: None,
        log_cut_bytes: outcome.log.cut_bytes,
        warnings,
        ack_line,
    };
    // Artifacts, the run's end and the result payload land together: one batch of syncs,
    // one transaction. When the guard refuses the payload, the rest lands without it.
    let run_rec = RunRecord {
        id: run_id.clone(),
        status: status.as_str().to_string(),
        exit_code: outcome.exit_code,
        signal: outcome.signal,
        started_at: now,
        ended_at: Some(ended),
        duration_ms: Some(duration_ms as i64),
    };
    let log_text = String::from_utf8_lossy(&log_bytes).into_owned();
    // The script has run: from here on, whatever fails, its artifacts and its end are kept.
    let landed = finish.clone();
    let sent =
        result_payload(hub, &d, &run_rec, &artifacts, &log_text).and_then(|(out, message, v)| {
            let msg_sql = message_insert(&message, now);
            let extra = payload::Extra {
                files: files.clone(),
                sql: Some(Box::new(move |tx: &rusqlite::Transaction<'_>| {
                    landed(tx)?;
                    msg_sql(tx)
                })),
            };
            payload::send_with(hub, &v, out, opts.redact, clip, extra)
        });
    match sent {
        Ok(sent) => {
            report.payload = sent.paths.first().cloned();
            report.sent = Some(sent);
        }
        Err(e) => {
            let mut batch = fsx::Batch::new();
            for (p, b) in files {
                batch.write(p, b);
            }
            batch.commit()?;
            hub.store.tx(|tx| {
                // The payload's own transaction may have landed the records before failing.
                let done: i64 = tx.query_row(
                    "SELECT COUNT(*) FROM runs WHERE id = ?1 AND status != 'running'",
                    [&run_id],
                    |r| r.get(0),
                )?;
                if done == 0 { finish(tx) } else { Ok(()) }
            })?;
            match e {
                Error::GuardRefused { .. } => report.payload_error = Some(e.to_string()),
                other => return Err(other),
            }
        }
    }
    Ok(report)
}

fn message_insert(
    m: &BackchatMessage,
    now: Millis,
) -> impl Fn(&rusqlite::Transaction<'_>) -> Result<()> + 'static {
    let (id, session, to, subject, json) = (
        m.id.clone(),
        m.to.clone(),
        m.to.clone(),
        m.subject.clone(),
        m.to_json(),
    );
    move |tx: &rusqlite::Transaction<'_>| {
        tx.execute(
            "INSERT INTO messages (id, session, direction, kind, to_target, subject, json, valid, requires_ack, created_at)
             VALUES (?1, ?2, 'out', 'result', ?3, ?4, ?5, 1, 1, ?6)",
            params![id, session, to, subject, json, now],
        )?;
        Ok(())
    }
}

fn ack_line(do_id: &str, artifacts: &[Artifact]) -> String {
    let mut s = format!("ACK {do_id}");
    for a in artifacts {
        s.push_str(&format!(" artifact:{}", a.id));
    }
    s
}

/// Writes (again) the result payload of a DO's latest run: outcome, artifact refs, the
/// log's tail, and the ACK line to answer with. Goes out through [`payload::send_with`].
pub fn send_result(
    hub: &mut Hub,
    typed: &str,
    redact: bool,
    clip: &mut dyn Clipboard,
) -> Result<Sent> {
    let d = get(hub, typed)?;
    let run = runs(hub, &d.id)?.pop().ok_or_else(|| {
        Error::invalid(
            format!("{} has not run yet", d.id),
            Some(format!("run it: coagent do run {}", d.id)),
        )
    })?;
    let arts = artifact::for_run(hub, &run.id)?;
    let log_text = match arts.iter().find(|a| a.kind == "log") {
        Some(a) => String::from_utf8_lossy(&artifact::read(hub, a)?).into_owned(),
        None => String::new(),
    };
    let (out, message, v) = result_payload(hub, &d, &run, &arts, &log_text)?;
    let now = hub.now_ms();
    let sql = message_insert(&message, now);
    payload::send_with(
        hub,
        &v,
        out,
        redact,
        clip,
        payload::Extra {
            files: Vec::new(),
            sql: Some(Box::new(sql)),
        },
    )
}

/// The result payload of a run, and the BackchatMessage it carries.
fn result_payload(
    hub: &mut Hub,
    d: &Do,
    run: &RunRecord,
    arts: &[Artifact],
    log_text: &str,
) -> Result<(Outgoing, BackchatMessage, vendor::Vendor)> {
    let s = session::get(hub, &d.session)?;
    let cfg = hub.config()?;
    let v = vendor::find(&cfg, &s.vendor)?;
    let (tail, cut) = tail(log_text);
    let msg_id = hub.new_id(Kind::Message);
    let now = hub.now_ms();
    let message = BackchatMessage {
        schema: SchemaTag::V1,
        id: msg_id.clone(),
        kind: MessageKind::Result,
        from: "coagent".into(),
        to: s.id.clone(),
        created_at: rfc3339(now),
        capsule: CapsuleRef {
            version: s.capsule_version.clone(),
            sha256: s.capsule_sha256.clone(),
        },
        subject: format!("{} {}", d.id, run.status),
        body: format!("{} ({}) {}", d.title, d.lang, run.status),
        todos: Vec::new(),
        artifacts: arts
            .iter()
            .map(|a| ArtifactRef {
                reference: format!("artifact:{}", a.id),
                kind: match a.kind.as_str() {
                    "diff" => ArtifactKind::Diff,
                    "log" => ArtifactKind::Log,
                    _ => ArtifactKind::File,
                },
                sha256: Some(a.sha256.clone()),
            })
            .collect(),
        reply_to: None,
        requires_ack: true,
    };
    let templates = Templates::load(Some(&hub.dir))?;
    let text = templates.render(
        "result.md",
        serde_json::json!({
            "do": {"id": d.id, "title": d.title, "lang": d.lang},
            "status": run.status,
            "exit_code": run.exit_code,
            "duration": human_duration(run.duration_ms.unwrap_or(0)),
            "artifacts": arts.iter().map(|a| serde_json::json!({"id": a.id, "kind": a.kind, "name": a.name(), "bytes": a.bytes, "sha256": a.sha256})).collect::<Vec<_>>(),
            "tail_lines": TAIL_LINES,
            "cut": cut,
            "log_tail": tail,
            "message_json": message.to_json(),
        }),
    )?;
    let out = Outgoing {
        session: Some(s.id.clone()),
        kind: "result".into(),
        stem: format!("{}-result-{}", s.id, d.id),
        id: msg_id,
        text,
    };
    Ok((out, message, v))
}

/// The last [`TAIL_LINES`] lines (at most [`TAIL_CHARS`] characters) and what was left out.
fn tail(log: &str) -> (String, String) {
    let lines: Vec<&str> = log.lines().collect();
    let start = lines.len().saturating_sub(TAIL_LINES);
    let mut t = lines[start..].join("\n");
    let mut cut = if start > 0 {
        format!("{start} earlier lines in the log artifact")
    } else {
        String::new()
    };
    if t.chars().count() > TAIL_CHARS {
        let skip = t.chars().count() - TAIL_CHARS;
        t = t.chars().skip(skip).collect();
        cut = "the log artifact holds the rest".to_string();
    }
    // A fence inside the log must not close the payload's block.
    (t.replace("````", "` ` ` `"), cut)
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
            Some("undo needs a git repository and a captured diff".to_string()),
        )
    })?;
    let bytes = artifact::read(hub, diff)?;
    worktree::can_undo(&hub.root, &bytes).map_err(|e| {
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
    worktree::undo(&hub.root, &bytes)
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
