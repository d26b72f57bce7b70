//! Running DOs: the user's consent turned into runs, artifacts and one result payload.
//!
//! A call runs one DO or several in order (`do run ID ID…`, `do run --all`), stopping at
//! the first that does not succeed unless told to keep going. Each DO gets `COAGENT_OUT`,
//! an empty folder whose files become its artifacts; the work tree's change is captured
//! as a diff (and the commits it made as `commit:` artifacts) whatever the ignore rules,
//! in a git repository or not ([`coagent_runner::worktree::Tracker`]). Each DO's records
//! land as soon as it ends, so a crash later loses nothing already run; the one result
//! payload for all of them ([`super::result`]) lands last, with its message.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use coagent_runner::watch::{ChangeWatch, Touched};
use coagent_runner::worktree::{Snapshot, Tracker};
use coagent_runner::{Cancel, Lang, RiskHint, RunSpec, RunStatus};
use rusqlite::params;
use serde::Serialize;

use crate::artifact::{self, Artifact};
use crate::backchat::BackchatMessage;
use crate::clipboard::Clipboard;
use crate::clock::{Millis, rfc3339};
use crate::hub::Hub;
use crate::id::Kind;
use crate::payload::{self, Sent};
use crate::{Error, Result, fsx, store};

use super::interrupted::INTERRUPTED;
use super::tracking::{self, Begun, Early};
use super::{Do, RunRecord, current_script, get, lang_of, result, runs};

/// Files taken from one run's `COAGENT_OUT`.
const MAX_OUT_FILES: usize = 200;

/// What to run.
#[derive(Debug, Clone)]
pub enum Selection {
    /// These DOs, in this order.
    Ids(Vec<String>),
    /// The DOs the session's latest reply proposed that have not run, in the reply's order.
    Latest { session: Option<String> },
}

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub timeout: Option<Duration>,
    pub rerun: bool,
    pub redact: bool,
    /// Run the rest after a DO that did not succeed.
    pub keep_going: bool,
}

/// A DO checked and ready to run: what the consent prompt shows.
#[derive(Debug, Clone, Serialize)]
pub struct Planned {
    #[serde(flatten)]
    pub r#do: Do,
    #[serde(skip)]
    pub script: String,
    pub current_sha256: String,
    #[serde(skip)]
    lang: Lang,
    pub risks: Vec<RiskHint>,
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

/// One DO's run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub id: String,
    pub title: String,
    pub run: String,
    pub status: RunStatus,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub duration_ms: u64,
    pub artifacts: Vec<ArtifactOut>,
    pub log_cut_bytes: u64,
    pub warnings: Vec<String>,
    /// The line the chat should answer with.
    pub ack_line: String,
}

/// A DO of the selection that did not run, and why.
#[derive(Debug, Clone, Serialize)]
pub struct NotRun {
    pub id: String,
    pub title: String,
    /// Why, as the chat reads it too (e.g. "DO-… did not succeed").
    pub reason: String,
    /// What the user can do about it.
    pub hint: Option<String>,
    /// Its script did run (its records could not be written): not to be run again blindly.
    pub ran: bool,
}

/// Everything one `do run` did.
#[derive(Debug, Clone, Serialize)]
pub struct BatchReport {
    /// One DO run: its report at the top level too, the SPEC's `do run` shape.
    #[serde(flatten)]
    pub single: Option<RunReport>,
    pub session: String,
    pub runs: Vec<RunReport>,
    pub not_run: Vec<NotRun>,
    /// The result payload's first part, when it was written.
    pub payload: Option<PathBuf>,
    pub sent: Option<Sent>,
    /// Why the result payload was not written (e.g. the secret guard refused a log).
    pub payload_error: Option<String>,
}

impl BatchReport {
    /// Every DO ran and succeeded.
    pub fn all_succeeded(&self) -> bool {
        self.not_run.is_empty() && self.runs.iter().all(|r| r.status == RunStatus::Succeeded)
    }
}

/// The DOs of a plan that run only after the user's explicit yes: those with risk hints.
/// The others run on the command alone (`coagent do run`, or the page's Run): it is the
/// consent.
pub fn needing_consent(planned: &[Planned]) -> Vec<&Planned> {
    planned.iter().filter(|p| !p.risks.is_empty()).collect()
}

/// Resolves the selection and checks each DO (a language CoAgent runs, the approved
/// content, not run before unless `rerun`, one session), before anything runs.
pub fn plan(hub: &Hub, selection: &Selection, rerun: bool) -> Result<Vec<Planned>> {
    let dos = match selection {
        Selection::Ids(ids) => {
            let mut out: Vec<Do> = Vec::new();
            for typed in ids {
                let d = get(hub, typed)?;
                if !out.iter().any(|o| o.id == d.id) {
                    out.push(d);
                }
            }
            out
        }
        Selection::Latest { session } => latest_unrun(hub, session.as_deref())?,
    };
    if let Some(first) = dos.first()
        && let Some(other) = dos.iter().find(|d| d.session != first.session)
    {
        return Err(Error::invalid(
            format!(
                "{} belongs to session {} and {} to {}: one run answers one chat",
                first.id, first.session, other.id, other.session
            ),
            Some("run each session's DOs with their own `coagent do run`".to_string()),
        ));
    }
    dos.into_iter().map(|d| check(hub, d, rerun)).collect()
}

fn check(hub: &Hub, d: Do, rerun: bool) -> Result<Planned> {
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
    if !rerun
        && let Some(last) = runs(hub, &d.id)?.last()
        && last.status != INTERRUPTED
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
    // Before anything is said or asked: a DO that cannot start is refused here.
    coagent_runner::find_interpreter(lang).map_err(run_error)?;
    let risks = coagent_runner::risk_hints(&script, lang);
    Ok(Planned {
        r#do: d,
        script,
        current_sha256: sha,
        lang,
        risks,
    })
}

/// The DOs of the session's latest reply that proposed any, not yet run, in its order.
fn latest_unrun(hub: &Hub, session: Option<&str>) -> Result<Vec<Do>> {
    let s = crate::session::resolve(hub, session)?;
    let c = hub.store.conn();
    // The rowid keeps the reply's order. DOs recorded before replies were linked share
    // their reply's `proposed_at` instead.
    let ids: Vec<String> = c
        .prepare_cached(
            "WITH latest AS (SELECT reply, proposed_at FROM dos WHERE session = ?1 ORDER BY rowid DESC LIMIT 1)
             SELECT id FROM dos, latest WHERE dos.session = ?1
               AND (dos.reply = latest.reply OR (latest.reply IS NULL AND dos.proposed_at = latest.proposed_at))
               AND NOT EXISTS (SELECT 1 FROM runs WHERE runs.do_id = dos.id AND runs.status != 'interrupted')
             ORDER BY dos.rowid",
        )?
        .query_map([&s.id], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if ids.is_empty() {
        return Err(Error::invalid(
            format!("session {} has no DO waiting to run", s.id),
            Some(
                "`coagent do list` shows them all; ingest the chat's next reply first".to_string(),
            ),
        ));
    }
    ids.iter().map(|id| get(hub, id)).collect()
}

/// Where a run's progress is told; the library never prints.
pub trait Progress {
    /// DO `k` of `n` starts now: its run is recorded and its script is handed to the
    /// interpreter (a DO refused before that is never announced).
    fn starting(&mut self, k: usize, n: usize, d: &Do);
    /// Where the script's live output goes.
    fn live(&mut self) -> &mut dyn Write;
    /// The script has ended, whatever its outcome (its changes are captured next).
    fn ended(&mut self, _d: &Do) {}
}

/// A runner error as the user reads it: the message once, the hint apart.
fn run_error(e: coagent_runner::RunError) -> Error {
    match &e {
        coagent_runner::RunError::MissingInterpreter { lang, tried } => Error::invalid(
            format!(
                "no {lang} interpreter found on PATH (tried: {})",
                tried.join(", ")
            ),
            Some(lang.install_hint().to_string()),
        ),
        _ => Error::invalid(e.to_string(), e.hint().map(str::to_string)),
    }
}

/// Runs the planned DOs in order and writes one result payload for all that ran, starting
/// from the work tree as `early` read it (see [`Early`]) when given.
pub fn run(
    hub: &mut Hub,
    planned: Vec<Planned>,
    opts: &RunOptions,
    early: Option<Early>,
    progress: &mut dyn Progress,
    cancel: &Cancel,
    clip: &mut dyn Clipboard,
) -> Result<BatchReport> {
    // Each DO commits twice: its records are synced once, before its script starts, and
    // once more at the end for the last DO's and the payload's.
    hub.store.defer_sync()?;
    let report = run_planned(early, hub, planned, opts, progress, cancel, clip);
    let synced = hub.store.sync();
    let report = report?;
    synced?;
    Ok(report)
}

/// Files larger than this are left out of a run's diff (and not copied as artifacts).
pub(crate) fn diff_limit(hub: &Hub) -> Result<u64> {
    Ok(hub.config()?.run.artifact_max_mib << 20)
}

fn run_planned(
    early: Option<Early>,
    hub: &mut Hub,
    planned: Vec<Planned>,
    opts: &RunOptions,
    progress: &mut dyn Progress,
    cancel: &Cancel,
    clip: &mut dyn Clipboard,
) -> Result<BatchReport> {
    let Some(first) = planned.first() else {
        return Err(Error::invalid("nothing to run", None));
    };
    let session = first.r#do.session.clone();
    let Begun {
        tracker,
        mut watch,
        mut before,
        mut warnings,
    } = match early.and_then(Early::finish) {
        Some(b) => b,
        None => tracking::begin(&hub.root, &hub.dir, diff_limit(hub)?),
    };
    let mut reports = Vec::new();
    let mut ran: Vec<(Do, RunRecord, Vec<Artifact>)> = Vec::new();
    let mut not_run = Vec::new();
    let n = planned.len();
    let mut stop: Option<(String, Option<String>)> = None;
    for (i, p) in planned.into_iter().enumerate() {
        if let Some((why, hint)) = &stop {
            not_run.push(NotRun {
                id: p.r#do.id.clone(),
                title: p.r#do.title.clone(),
                reason: why.clone(),
                hint: hint.clone(),
                ran: false,
            });
            continue;
        }
        // A DO whose change could not be read leaves no "before" for the next one.
        if let Some(t) = &tracker
            && before.is_none()
            && i > 0
        {
            match t.snapshot() {
                Ok(s) => before = Some(s),
                Err(e) => warnings.push(format!("no diff will be captured: {e}")),
            }
        }
        let id = p.r#do.id.clone();
        let title = p.r#do.title.clone();
        let step = Step {
            tracker: tracker.as_ref(),
            before: before.take(),
            watch: watch.as_mut(),
            notes: std::mem::take(&mut warnings),
            last: i + 1 == n,
        };
        match run_one(hub, p, opts, step, (i + 1, n, &mut *progress), cancel) {
            Ok(one) => {
                before = one.after;
                match one.report.status {
                    RunStatus::Succeeded => {}
                    RunStatus::Killed => stop = Some((format!("{id} was stopped"), None)),
                    _ if opts.keep_going => {}
                    _ => {
                        stop = Some((
                            format!("{id} did not succeed"),
                            Some("`--keep-going` runs the rest after a failure".to_string()),
                        ))
                    }
                }
                reports.push(one.report);
                ran.push((one.r#do, one.run, one.artifacts));
            }
            Err(f) if ran.is_empty() => return Err(f.error),
            Err(OneFailed {
                ran: started,
                error,
            }) => {
                let reason = match started {
                    true => {
                        format!("its script ran, but its records could not be written: {error}")
                    }
                    false => format!("it could not start: {error}"),
                };
                not_run.push(NotRun {
                    id: id.clone(),
                    title,
                    reason,
                    hint: error.hint(),
                    ran: started,
                });
                stop = Some((format!("{id} has no result"), None));
            }
        }
    }
    let mut report = BatchReport {
        single: None,
        session: session.clone(),
        runs: reports,
        not_run,
        payload: None,
        sent: None,
        payload_error: None,
    };
    if let [one] = report.runs.as_slice() {
        report.single = Some(one.clone());
    }
    match send(hub, &session, &ran, &report.not_run, opts.redact, clip) {
        Ok(sent) => {
            report.payload = sent.paths.first().cloned();
            report.sent = Some(sent);
        }
        Err(e @ Error::GuardRefused { .. }) => report.payload_error = Some(e.to_string()),
        Err(e) => return Err(e),
    }
    Ok(report)
}

/// Writes (again) one result payload for the latest run of each DO: e.g. with `--redact`
/// after the guard refused it.
pub fn send_result(
    hub: &mut Hub,
    typed: &[String],
    redact: bool,
    clip: &mut dyn Clipboard,
) -> Result<Sent> {
    let mut ran = Vec::new();
    for t in typed {
        let d = get(hub, t)?;
        let run = runs(hub, &d.id)?.pop().ok_or_else(|| {
            Error::invalid(
                format!("{} has not run yet", d.id),
                Some(format!("run it: coagent do run {}", d.id)),
            )
        })?;
        let arts = artifact::for_run(hub, &run.id)?;
        if ran
            .iter()
            .any(|(o, _, _): &(Do, RunRecord, Vec<Artifact>)| o.session != d.session)
        {
            return Err(Error::invalid(
                "these DOs belong to different sessions",
                Some("send each session's results on their own".to_string()),
            ));
        }
        ran.push((d, run, arts));
    }
    let session = match ran.first() {
        Some((d, _, _)) => d.session.clone(),
        None => return Err(Error::invalid("name at least one DO", None)),
    };
    send(hub, &session, &ran, &[], redact, clip)
}

fn send(
    hub: &mut Hub,
    session: &str,
    ran: &[(Do, RunRecord, Vec<Artifact>)],
    not_run: &[NotRun],
    redact: bool,
    clip: &mut dyn Clipboard,
) -> Result<Sent> {
    let views: Vec<result::Ran<'_>> = ran
        .iter()
        .map(|(d, r, a)| result::Ran {
            r#do: d,
            run: r,
            artifacts: a,
        })
        .collect();
    let skipped: Vec<result::Skipped<'_>> = not_run
        .iter()
        .map(|n| result::Skipped {
            id: &n.id,
            title: &n.title,
            reason: &n.reason,
            ran: n.ran,
        })
        .collect();
    let (out, message, v) = result::payload(hub, session, &views, &skipped)?;
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

fn message_insert(
    m: &BackchatMessage,
    now: Millis,
) -> impl Fn(&rusqlite::Transaction<'_>) -> Result<()> + 'static {
    let (id, session, subject, json) = (m.id.clone(), m.to.clone(), m.subject.clone(), m.to_json());
    move |tx: &rusqlite::Transaction<'_>| {
        tx.execute(
            "INSERT INTO messages (id, session, direction, kind, to_target, subject, json, valid, requires_ack, created_at)
             VALUES (?1, ?2, 'out', 'result', ?2, ?3, ?4, 1, 1, ?5)",
            params![id, session, subject, json, now],
        )?;
        Ok(())
    }
}

/// What one DO's run needs from the batch around it.
struct Step<'a> {
    tracker: Option<&'a Tracker>,
    before: Option<Snapshot>,
    /// Tells whether the DO touched the tree, so an untouched one needs no snapshot.
    watch: Option<&'a mut ChangeWatch>,
    /// Notes from the batch (e.g. no diff) shown with this DO.
    notes: Vec<String>,
    /// The batch's last DO: the watch is not needed after it.
    last: bool,
}

struct OneRun {
    r#do: Do,
    run: RunRecord,
    artifacts: Vec<Artifact>,
    report: RunReport,
    /// The work tree after this DO: the next DO's "before".
    after: Option<Snapshot>,
}

/// Why a DO of a batch has no result: it never started, or its script ran and its
/// records could not be written (the run is then found `interrupted` later).
struct OneFailed {
    ran: bool,
    error: Error,
}

impl From<Error> for OneFailed {
    fn from(error: Error) -> Self {
        OneFailed { ran: false, error }
    }
}

/// Runs one DO and lands its records: start, run, capture, land.
fn run_one(
    hub: &mut Hub,
    p: Planned,
    opts: &RunOptions,
    mut step: Step<'_>,
    (k, n, progress): (usize, usize, &mut dyn Progress),
    cancel: &Cancel,
) -> std::result::Result<OneRun, OneFailed> {
    let d = p.r#do;
    let run_id = hub.new_id(Kind::Run);
    let started = hub.now_ms();
    record_start(hub, &d, &run_id, &p.current_sha256, started, opts.rerun)?;
    // What is recorded so far is on disk before a script that may run for long: a power
    // cut meanwhile loses nothing already recorded. One sync per DO, not two.
    hub.store.sync()?;
    hub.store.defer_sync()?;
    let out_dir = hub
        .dir
        .join("cache")
        .join("run")
        .join(format!("{run_id}-out"));
    let cfg = hub.config()?;
    let spec = RunSpec {
        lang: p.lang,
        script: p.script.clone(),
        cwd: hub.root.clone(),
        timeout: opts
            .timeout
            .unwrap_or(Duration::from_secs(cfg.run.timeout_secs)),
        env: vec![
            ("COAGENT_DO_ID".to_string(), d.id.clone()),
            ("COAGENT_RUN_ID".to_string(), run_id.clone()),
            ("COAGENT_OUT".to_string(), out_dir.display().to_string()),
        ],
        // COAGENT_RUN_MARK: how the run's processes are found after a crash.
        mark: super::interrupted::mark(&run_id, &coagent_runner::Owner::current()),
        log_head_bytes: cfg.run.log_head_kib * 1024,
        log_tail_bytes: cfg.run.log_tail_kib * 1024,
        scratch_dir: hub.dir.join("cache").join("run"),
    };
    let outcome = std::fs::create_dir_all(&out_dir)
        .map_err(|e| Error::io(format!("cannot create {}", out_dir.display()), e))
        .and_then(|()| {
            if let Some(w) = step.watch.as_deref_mut() {
                w.reset();
            }
            // The "before" tree is being written already (`Tracker::prepare_soon`),
            // while the script runs, not after it.
            progress.starting(k, n, &d);
            let outcome = coagent_runner::run(&spec, progress.live(), cancel).map_err(run_error);
            progress.ended(&d);
            outcome
        });
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            // Nothing ran: take the run record back and leave the DO as it was.
            let _ = std::fs::remove_dir_all(&out_dir);
            hub.store.tx(|tx| {
                tx.execute("DELETE FROM runs WHERE id = ?1", [&run_id])?;
                tx.execute(
                    "UPDATE dos SET state = ?2 WHERE id = ?1",
                    params![d.id, d.state],
                )?;
                Ok(())
            })?;
            return Err(e.into());
        }
    };
    let mut warnings = std::mem::take(&mut step.notes);
    let mut staged = Staged::new(&d.id, &run_id, cfg.run.artifact_max_mib << 20);
    staged.add(hub, "log", "log.txt", "", outcome.log.render());
    let after = capture_change(hub, &mut step, &mut staged, &mut warnings);
    capture_out(hub, &out_dir, &mut staged, &mut warnings);
    capture_named(hub, &p.script, &out_dir, &mut staged, &mut warnings);
    let _ = std::fs::remove_dir_all(&out_dir);

    let ended = hub.now_ms().max(started);
    let duration_ms = outcome.duration.as_millis() as u64;
    let run = RunRecord {
        id: run_id.clone(),
        status: outcome.status.as_str().to_string(),
        exit_code: outcome.exit_code,
        signal: outcome.signal,
        started_at: started,
        ended_at: Some(ended),
        duration_ms: Some(duration_ms as i64),
    };
    let artifacts = staged
        .land(hub, &d, &run)
        .map_err(|error| OneFailed { ran: true, error })?;
    let report = RunReport {
        id: d.id.clone(),
        title: d.title.clone(),
        run: run_id,
        status: outcome.status,
        exit_code: outcome.exit_code,
        signal: outcome.signal,
        duration_ms,
        artifacts: artifacts.iter().map(ArtifactOut::from).collect(),
        log_cut_bytes: outcome.log.cut_bytes,
        warnings,
        ack_line: result::ack_line(&d.id, &artifacts),
    };
    Ok(OneRun {
        r#do: d,
        run,
        artifacts,
        report,
        after,
    })
}

/// Marks the DO running and adds its run record with its owner (this process), checking
/// again under the write lock: two `do run` started together run it once. A DO whose last
/// run was interrupted runs again.
fn record_start(
    hub: &mut Hub,
    d: &Do,
    run_id: &str,
    sha: &str,
    now: Millis,
    rerun: bool,
) -> Result<()> {
    hub.store.tx(|tx| {
        let (last, approved): (Option<String>, Option<String>) = tx.query_row(
            "SELECT (SELECT status FROM runs WHERE do_id = ?1 ORDER BY started_at DESC, rowid DESC LIMIT 1), approved_sha256 FROM dos WHERE id = ?1",
            [&d.id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        if last.is_some_and(|s| s != INTERRUPTED) && !rerun {
            return Err(Error::invalid(
                format!("{} is already running or ran", d.id),
                Some("pass --rerun to run it again".to_string()),
            ));
        }
        if approved.is_some_and(|a| a != sha) {
            return Err(Error::invalid(
                format!("the script of {} changed since it was approved", d.id),
                Some(format!("coagent do approve {}", d.id)),
            ));
        }
        tx.execute(
            "UPDATE dos SET state = 'running', approved_sha256 = ?2, approved_at = COALESCE(approved_at, ?3) WHERE id = ?1",
            params![d.id, sha, now],
        )?;
        let owner = coagent_runner::Owner::current();
        tx.execute(
            "INSERT INTO runs (id, do_id, status, started_at, owner_pid, owner_start) VALUES (?1, ?2, 'running', ?3, ?4, ?5)",
            params![run_id, d.id, now, owner.pid, owner.start as i64],
        )?;
        store::event(tx, now, Some(&d.session), "do.started", &serde_json::json!({"id": d.id, "run": run_id, "sha256": sha}))
    })
}

/// Artifacts of one run, staged: records prepared, the log, diff and commit summaries in
/// memory (each bounded), file artifacts already copied under temp names (streamed, never
/// held in memory); nothing in its place yet.
struct Staged {
    do_id: String,
    run_id: String,
    artifacts: Vec<Artifact>,
    files: Vec<(PathBuf, Vec<u8>)>,
    copies: Vec<artifact::Copied>,
    /// Bytes above which a file artifact is recorded but not copied.
    limit: u64,
}

impl Staged {
    fn new(do_id: &str, run_id: &str, limit: u64) -> Staged {
        Staged {
            do_id: do_id.to_string(),
            run_id: run_id.to_string(),
            artifacts: Vec::new(),
            files: Vec::new(),
            copies: Vec::new(),
            limit,
        }
    }

    /// A file artifact, copied and hashed in one pass; over the limit, recorded (size and
    /// sha256) but not copied, and said so.
    fn add_file(
        &mut self,
        hub: &mut Hub,
        name: &str,
        source: &str,
        from: &Path,
        warnings: &mut Vec<String>,
    ) {
        let ids = (self.do_id.as_str(), self.run_id.as_str());
        match artifact::copy_in(hub, ids, name, source, from, self.limit) {
            Ok((a, copied)) => {
                if !a.stored {
                    warnings.push(format!(
                        "`{source}` is {} MiB, over the {} MiB kept for one file (`[run] artifact_max_mib`): recorded with its size and sha256, not copied",
                        a.bytes >> 20,
                        self.limit >> 20
                    ));
                }
                self.artifacts.push(a);
                self.copies.extend(copied);
            }
            Err(e) => warnings.push(format!("`{source}` could not be kept: {e}")),
        }
    }

    fn add(&mut self, hub: &mut Hub, kind: &str, name: &str, source: &str, bytes: Vec<u8>) {
        let (a, path) =
            artifact::prepare(hub, &self.do_id, &self.run_id, kind, name, source, &bytes);
        self.artifacts.push(a);
        self.files.push((path, bytes));
    }

    /// Files first (one batch of syncs), then one transaction: the artifacts, the run's
    /// end and the DO's state.
    fn land(self, hub: &mut Hub, d: &Do, run: &RunRecord) -> Result<Vec<Artifact>> {
        let mut batch = fsx::Batch::new();
        for (p, b) in self.files {
            batch.write(p, b);
        }
        batch.commit()?;
        let mut dirs = Vec::new();
        for c in self.copies {
            dirs.push(c.persist()?);
        }
        for d in &dirs {
            fsx::sync_dir(d)?;
        }
        let arts = self.artifacts;
        hub.store.tx(|tx| {
            for a in &arts {
                artifact::insert(tx, a)?;
            }
            let ended = run.ended_at.unwrap_or(run.started_at);
            tx.execute(
                "UPDATE runs SET status = ?2, exit_code = ?3, signal = ?4, ended_at = ?5, duration_ms = ?6 WHERE id = ?1",
                params![run.id, run.status, run.exit_code, run.signal, ended, run.duration_ms],
            )?;
            tx.execute(
                "UPDATE dos SET state = ?2, first_artifact_at = COALESCE(first_artifact_at, ?3) WHERE id = ?1",
                params![d.id, run.status, ended],
            )?;
            store::event(
                tx,
                ended,
                Some(&d.session),
                "do.finished",
                &serde_json::json!({"id": d.id, "run": run.id, "status": run.status, "exit_code": run.exit_code, "duration_ms": run.duration_ms, "artifacts": arts.len()}),
            )
        })?;
        Ok(arts)
    }
}

/// The work tree's change since the DO started (a diff artifact) and the commits it made
/// (`commit` artifacts); the snapshot after it, for the next DO.
fn capture_change(
    hub: &mut Hub,
    step: &mut Step<'_>,
    staged: &mut Staged,
    warnings: &mut Vec<String>,
) -> Option<Snapshot> {
    let (Some(tracker), Some(before)) = (step.tracker, step.before.as_ref()) else {
        return None;
    };
    let touched = step
        .watch
        .as_deref_mut()
        .map_or(Touched::Anything, ChangeWatch::touched);
    if step.last
        && let Some(w) = step.watch.as_deref_mut()
    {
        w.finish();
    }
    let under = match &touched {
        // Nothing was created, written, moved or removed: the tree is as it was.
        Touched::Nothing => return Some(before.clone()),
        Touched::Under(places) => Some(places.as_slice()),
        _ => None,
    };
    let change = tracker.change_since_under(before, under);
    let change = match change {
        Ok(c) => c,
        Err(e) => {
            warnings.push(format!("the work tree's change could not be captured: {e}"));
            return None;
        }
    };
    warnings.extend(change.warnings.iter().cloned());
    if !change.diff.is_empty() {
        staged.add(hub, "diff", "changes.diff", "", change.diff);
    }
    for sha in &change.commits {
        let summary = tracker
            .describe_commit(sha)
            .unwrap_or_else(|e| format!("{sha}\n({e})\n"));
        staged.add(hub, "commit", "commit.txt", sha, summary.into_bytes());
    }
    Some(change.after)
}

/// Every file the DO left in its `COAGENT_OUT` folder.
fn capture_out(hub: &mut Hub, out_dir: &Path, staged: &mut Staged, warnings: &mut Vec<String>) {
    let mut found = Vec::new();
    walk(out_dir, out_dir, &mut found, warnings);
    found.sort();
    if found.len() > MAX_OUT_FILES {
        warnings.push(format!(
            "$COAGENT_OUT held {} files: the first {MAX_OUT_FILES} are kept",
            found.len()
        ));
        found.truncate(MAX_OUT_FILES);
    }
    for (rel, path, _) in found {
        let name = rel.rsplit('/').next().unwrap_or(&rel).to_string();
        staged.add_file(hub, &name, &format!("$COAGENT_OUT/{rel}"), &path, warnings);
    }
}

fn walk(
    base: &Path,
    dir: &Path,
    found: &mut Vec<(String, PathBuf, u64)>,
    warnings: &mut Vec<String>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let rel = path
            .strip_prefix(base)
            .map(|r| r.to_string_lossy().replace('\\', "/"))
            .unwrap_or_default();
        if meta.is_dir() {
            walk(base, &path, found, warnings);
        } else if meta.is_file() {
            found.push((rel, path, meta.len()));
        } else {
            warnings.push(format!(
                "$COAGENT_OUT/{rel} is not a regular file: not kept"
            ));
        }
    }
}

/// The files the script named with `# ARTIFACT:` lines: inside the project, never inside
/// the hub (but for `$COAGENT_OUT`, whose files are taken anyway).
fn capture_named(
    hub: &mut Hub,
    script: &str,
    out_dir: &Path,
    staged: &mut Staged,
    warnings: &mut Vec<String>,
) {
    let hub_dir = dunce::canonicalize(&hub.dir).unwrap_or_else(|_| hub.dir.clone());
    let out_dir = dunce::canonicalize(out_dir).unwrap_or_else(|_| out_dir.to_path_buf());
    for name in coagent_runner::artifact_lines(script) {
        if ["$COAGENT_OUT", "${COAGENT_OUT}"]
            .iter()
            .any(|v| name.starts_with(v))
        {
            continue;
        }
        let real = match coagent_runner::resolve_artifact(&hub.root, &name) {
            Ok(real) => real,
            Err(e) => {
                warnings.push(e.to_string());
                continue;
            }
        };
        if real.starts_with(&out_dir) {
            continue;
        }
        if real.starts_with(&hub_dir) {
            warnings.push(format!(
                "artifact `{name}` is inside the hub (.coagent/), which is not a DO's to write: refused; a DO writes its files to $COAGENT_OUT or the project"
            ));
            continue;
        }
        let file = real
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_else(|| "file".into());
        staged.add_file(hub, &file, &name, &real, warnings);
    }
}
