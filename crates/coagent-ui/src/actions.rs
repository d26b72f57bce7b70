//! What the page's buttons do: each POST calls the library function of the CLI command it
//! equals, records the outcome for the page (the flash, with that command), and redirects
//! back to the page with the outcome's number (POST, redirect, GET: a reload never repeats
//! an action, and another tab never shows it). Runs go on in the
//! background; their output streams as server-sent events.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use coagent::clipboard::NoClipboard;
use coagent::dos::{self, RunOptions, Selection};
use futures_util::Stream;
use serde::Deserialize;
use serde_json::json;

use crate::call::{Failure, with_hub};
use crate::jobs::{self, Job, Live};
use crate::state::{Flash, State as St};

/// The page copies payloads itself (`navigator.clipboard`): the server never touches the
/// clipboard.
fn page_clipboard() -> NoClipboard {
    NoClipboard {
        reason: "the page's Copy button copies it".into(),
    }
}

fn back(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_string())]).into_response()
}

/// Records the outcome, then back to the page's report of it.
fn done<T: serde::Serialize>(
    st: &St,
    r: Result<T, Failure>,
    kind: &str,
    title: &str,
    cli: String,
) -> Response {
    done_at(st, r, (kind, title, cli), "/#flash")
}

/// Records the outcome (`kind` and `title` when it succeeded, the failure otherwise, with
/// the command line it equals), then back to the page at `to`.
fn done_at<T: serde::Serialize>(
    st: &St,
    r: Result<T, Failure>,
    (kind, title, cli): (&str, &str, String),
    to: &str,
) -> Response {
    let f = match r {
        Ok(v) => Flash {
            kind: kind.into(),
            title: title.into(),
            data: serde_json::to_value(v).unwrap_or_default(),
            cli,
        },
        Err(f) => Flash {
            kind: "error".into(),
            title: f.message.clone(),
            data: json!(f),
            cli,
        },
    };
    let n = st.report(f);
    back(&reported_at(to, n))
}

/// `to` with the report's number in its query, before any `#fragment`.
fn reported_at(to: &str, n: u64) -> String {
    let (path, frag) = to.split_once('#').map_or((to, None), |(p, f)| (p, Some(f)));
    let sep = if path.contains('?') { '&' } else { '?' };
    match frag {
        Some(f) => format!("{path}{sep}report={n}#{f}"),
        None => format!("{path}{sep}report={n}"),
    }
}

/// A command line a user can paste into a shell: the argument quoted when it needs it.
fn arg(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[derive(Deserialize)]
pub struct StartForm {
    vendor: String,
    goal: String,
}

pub async fn start(State(st): State<Arc<St>>, Form(f): Form<StartForm>) -> Response {
    let cli = format!(
        "coagent start --vendor {} --goal {}",
        arg(&f.vendor),
        arg(&f.goal)
    );
    let r = with_hub(&st, move |hub| {
        coagent::session::start(
            hub,
            coagent::session::StartOptions {
                vendor: f.vendor,
                goal: f.goal,
                redact: false,
                respawn: None,
            },
            &mut page_clipboard(),
        )
    })
    .await;
    done(
        &st,
        r,
        "start",
        "Session started: paste its boot payload into a new chat",
        cli,
    )
}

#[derive(Deserialize)]
pub struct IngestForm {
    reply: String,
    #[serde(default)]
    session: String,
}

pub async fn ingest(State(st): State<Arc<St>>, Form(f): Form<IngestForm>) -> Response {
    let session = Some(f.session.trim().to_string()).filter(|s| !s.is_empty());
    let cli = match &session {
        Some(s) => format!("coagent ingest --session {} reply.md", arg(s)),
        None => "coagent ingest reply.md".to_string(),
    };
    // A browser sends a text box's line ends as CRLF whatever was pasted into it.
    let reply = f.reply.replace("\r\n", "\n");
    let r = with_hub(&st, move |hub| {
        coagent::ingest::ingest(
            hub,
            reply.as_bytes(),
            session.as_deref(),
            &mut page_clipboard(),
        )
    })
    .await;
    done(&st, r, "ingest", "Reply ingested", cli)
}

/// Checks that what would run is exactly what the page showed: the same DOs in the same
/// order, each with the sha256 shown, and the explicit yes when any has risk hints.
fn consented(
    planned: &[dos::Planned],
    ids: &[String],
    shas: &[String],
    yes: bool,
) -> Result<(), Failure> {
    let same = planned.len() == ids.len()
        && planned
            .iter()
            .zip(ids.iter().zip(shas))
            .all(|(p, (id, sha))| {
                &p.r#do.id == id && crate::security::same(&p.current_sha256, sha)
            });
    if !same || shas.len() != ids.len() {
        return Err(Failure {
            message: "nothing was run: a script changed since the page showed it".into(),
            hint: Some("review it again and run what is shown now".into()),
        });
    }
    if !yes && !dos::needing_consent(planned).is_empty() {
        return without_yes("nothing was run", "a DO with risk hints", "Run");
    }
    Ok(())
}

/// Runs the DOs the page showed, with the consent the page asked for (see [`consented`]);
/// the page follows the run at `/job/…`.
pub async fn run(State(st): State<Arc<St>>, Form(fields): Form<Vec<(String, String)>>) -> Response {
    let pick = |name: &str| -> Vec<String> {
        fields
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let (ids, shas) = (pick("id"), pick("sha256"));
    let yes = pick("confirm").iter().any(|v| v == "yes");
    let cli = format!("coagent do run {}", ids.join(" "));
    if ids.is_empty() {
        return done(
            &st,
            Err::<(), _>(Failure {
                message: "name at least one DO".into(),
                hint: None,
            }),
            "run",
            "",
            cli,
        );
    }
    let job = st.jobs.create(ids.clone());
    let (tx, rx) = tokio::sync::oneshot::channel::<Result<(), Failure>>();
    let dir = st.hub.clone();
    let j = Arc::clone(&job);
    tokio::task::spawn_blocking(move || run_blocking(&dir, &j, &ids, &shas, yes, tx));
    let refused = match rx.await {
        Ok(Ok(())) => return back(&format!("/job/{}", job.id)),
        Ok(Err(f)) => f,
        Err(_) => Failure {
            message: "the run could not start".into(),
            hint: None,
        },
    };
    st.jobs.remove(&job.id);
    done(&st, Err::<(), _>(refused), "run", "", cli)
}

fn run_blocking(
    dir: &std::path::Path,
    job: &Arc<Job>,
    ids: &[String],
    shas: &[String],
    yes: bool,
    tx: tokio::sync::oneshot::Sender<Result<(), Failure>>,
) {
    let checked = (|| {
        let mut hub = coagent::hub::Hub::open(dir)?;
        let _ = dos::interrupted::recover(&mut hub);
        coagent::status::check(&mut hub)?;
        let early = dos::Early::start(&hub)?;
        let planned = dos::plan(&hub, &Selection::Ids(ids.to_vec()), false)?;
        Ok::<_, coagent::Error>((hub, early, planned))
    })();
    let (mut hub, early, planned) = match checked {
        Ok(x) => x,
        Err(e) => {
            let _ = tx.send(Err(Failure::from(e)));
            return;
        }
    };
    if let Err(f) = consented(&planned, ids, shas, yes) {
        let _ = tx.send(Err(f));
        return;
    }
    let _ = tx.send(Ok(()));
    let mut live = Live(Arc::clone(job));
    let r = dos::run(
        &mut hub,
        planned,
        &RunOptions::default(),
        Some(early),
        &mut live,
        &job.cancel,
        &mut page_clipboard(),
    );
    job.finish(match r {
        Ok(report) => jobs::Outcome::Ended {
            report: Box::new(report),
        },
        Err(e) => jobs::Outcome::Failed {
            message: e.to_string(),
            hint: e.hint(),
        },
    });
}

/// The run's output as it comes (`out` events), then `done`.
pub async fn events(State(st): State<Arc<St>>, Path(id): Path<String>) -> Response {
    let Some(job) = st.jobs.get(&id) else {
        return (StatusCode::NOT_FOUND, "no such run\n").into_response();
    };
    Sse::new(stream(job))
        .keep_alive(KeepAlive::default())
        .into_response()
}

fn stream(job: Arc<Job>) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold((job, 0usize, false), |(job, from, over)| async move {
        if over {
            return None;
        }
        loop {
            let j = Arc::clone(&job);
            let waiting = j.notify.notified();
            let (bytes, ended) = job.output_since(from);
            // Whole characters only, unless the run is over.
            let take = match std::str::from_utf8(&bytes) {
                Ok(_) => bytes.len(),
                Err(e) if !ended => e.valid_up_to(),
                Err(_) => bytes.len(),
            };
            if take > 0 {
                let text = String::from_utf8_lossy(&bytes[..take])
                    .replace("\r\n", "\n")
                    .replace('\r', "\n");
                return Some((
                    Ok(Event::default().event("out").data(text)),
                    (job, from + take, false),
                ));
            }
            if ended {
                return Some((
                    Ok(Event::default().event("done").data("done")),
                    (job, from, true),
                ));
            }
            let _ = tokio::time::timeout(Duration::from_millis(500), waiting).await;
        }
    })
}

/// `changed` once the hub's records change after the page was drawn (a command in a
/// terminal, the watcher, another tab): the page offers a reload. Checked every second;
/// the stream ends when the server stops.
pub async fn changes(State(st): State<Arc<St>>) -> Response {
    let first = stamp(&st).await;
    let s = futures_util::stream::unfold((st, first), |(st, first)| async move {
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if st.stop.load(std::sync::atomic::Ordering::SeqCst) {
                return None;
            }
            let now = stamp(&st).await;
            if now != first {
                let e = Event::default().event("changed").data("changed");
                return Some((Ok::<_, Infallible>(e), (st, now)));
            }
        }
    });
    Sse::new(s).keep_alive(KeepAlive::default()).into_response()
}

/// The newest event's id: every record the hub writes comes with an event.
async fn stamp(st: &Arc<St>) -> Option<i64> {
    let dir = st.hub.clone();
    tokio::task::spawn_blocking(move || {
        let hub = coagent::hub::Hub::open(&dir).ok()?;
        hub.store
            .conn()
            .query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))
            .ok()
    })
    .await
    .ok()
    .flatten()
}

pub async fn stop(State(st): State<Arc<St>>, Path(id): Path<String>) -> Response {
    if let Some(job) = st.jobs.get(&id) {
        job.cancel.cancel();
    }
    back(&format!("/job/{id}"))
}

/// The refusal of an action the user did not tick the box for: `outcome` says what was
/// left as it was, `button` is the one to press once the box is ticked.
fn without_yes(outcome: &str, needs: &str, button: &str) -> Result<(), Failure> {
    Err(Failure {
        message: format!("{outcome}: {needs} needs your explicit yes"),
        hint: Some(format!("tick the box, then {button}")),
    })
}

#[derive(Deserialize)]
pub struct Confirm {
    #[serde(default)]
    confirm: String,
}

pub async fn undo(
    State(st): State<Arc<St>>,
    Path(id): Path<String>,
    Form(f): Form<Confirm>,
) -> Response {
    let cli = format!("coagent do undo {}", arg(&id));
    if f.confirm != "yes" {
        return done(
            &st,
            without_yes("left as it is", "undo", "Undo"),
            "undo",
            "",
            cli,
        );
    }
    let r = with_hub(&st, move |hub| {
        let plan = dos::undo_plan(hub, &id)?;
        dos::undo(hub, &plan)?;
        Ok(json!({"id": plan.id, "undone": true, "files": plan.files}))
    })
    .await;
    done(&st, r, "undo", "Undone", cli)
}

#[derive(Deserialize)]
pub struct TodoForm {
    title: String,
    #[serde(default)]
    acceptance: String,
    #[serde(default)]
    top: String,
}

pub async fn todo_add(State(st): State<Arc<St>>, Form(f): Form<TodoForm>) -> Response {
    let top = f.top == "yes";
    let mut cli = format!("coagent todo add {}", arg(&f.title));
    if !f.acceptance.is_empty() {
        cli.push_str(&format!(" --acceptance {}", arg(&f.acceptance)));
    }
    if top {
        cli.push_str(" --top");
    }
    let r = with_hub(&st, move |hub| {
        coagent::todo::add(hub, &f.title, &f.acceptance, top)
    })
    .await;
    done(&st, r, "todo", "TODO added", cli)
}

pub async fn todo_done(State(st): State<Arc<St>>, Path(id): Path<String>) -> Response {
    let cli = format!("coagent todo done {}", arg(&id));
    let r = with_hub(&st, move |hub| coagent::todo::done(hub, &id)).await;
    done(&st, r, "todo", "TODO done", cli)
}

pub async fn todo_reopen(State(st): State<Arc<St>>, Path(id): Path<String>) -> Response {
    let cli = format!("coagent todo reopen {}", arg(&id));
    let r = with_hub(&st, move |hub| coagent::todo::reopen(hub, &id)).await;
    done(&st, r, "todo", "TODO reopened", cli)
}

#[derive(Deserialize)]
pub struct MoveForm {
    /// `up` or `down`.
    to: String,
}

pub async fn todo_move(
    State(st): State<Arc<St>>,
    Path(id): Path<String>,
    Form(f): Form<MoveForm>,
) -> Response {
    let up = f.to == "up";
    let cli = format!(
        "coagent todo move {} --{}",
        arg(&id),
        if up { "up" } else { "down" }
    );
    let r = with_hub(&st, move |hub| coagent::todo::shift(hub, &id, up)).await;
    done_at(&st, r, ("todo", "TODO moved", cli), "/#todos")
}

#[derive(Deserialize)]
pub struct WrapForm {
    #[serde(default)]
    session: String,
}

pub async fn wrap(State(st): State<Arc<St>>, Form(f): Form<WrapForm>) -> Response {
    let session = Some(f.session).filter(|s| !s.is_empty());
    let cli = match &session {
        Some(s) => format!("coagent wrap --session {}", arg(s)),
        None => "coagent wrap".to_string(),
    };
    let r = with_hub(&st, move |hub| {
        coagent::wrap::wrap(
            hub,
            coagent::wrap::WrapOptions {
                session,
                to: None,
                redact: false,
                respawn: true,
                reason: "manual".into(),
            },
            &mut page_clipboard(),
        )
    })
    .await;
    done(
        &st,
        r,
        "wrap",
        "Wrapped: paste the respawn payload into a new chat",
        cli,
    )
}

#[derive(Deserialize)]
pub struct EndForm {
    #[serde(default)]
    how: String,
    #[serde(default)]
    confirm: String,
}

/// Ends an open session without a wrap (`coagent session close|abandon ID`). There is no
/// way back (a session's state only moves forward, on every synced hub too), so it takes
/// the explicit yes, as Undo does.
pub async fn end_session(
    State(st): State<Arc<St>>,
    Path(id): Path<String>,
    Form(f): Form<EndForm>,
) -> Response {
    use coagent::session::Ending;
    let (how, button) = match f.how.as_str() {
        "close" => (Ending::Closed, "Close"),
        "abandon" => (Ending::Abandoned, "Abandon"),
        other => {
            let r = Err::<(), _>(Failure {
                message: format!("left open: no way to end a session called {other:?}"),
                hint: Some("Close (done with it) or Abandon (the chat was given up)".into()),
            });
            let cli = format!("coagent session close {}", arg(&id));
            return done(&st, r, "session", "", cli);
        }
    };
    let verb = button.to_lowercase();
    let cli = format!("coagent session {verb} {}", arg(&id));
    if f.confirm != "yes" {
        let r = without_yes("left open", &format!("to {verb} a session"), button);
        return done(&st, r, "session", "", cli);
    }
    let r = with_hub(&st, move |hub| coagent::session::end(hub, &id, how)).await;
    let title = format!(
        "Session {}: it takes no more replies; its records stay",
        how.state()
    );
    done(&st, r, "session", &title, cli)
}

/// Boots another chat from a wrap (`coagent unwrap W-…`): its respawn payload goes to the
/// outbox, and the wrap records who took it.
pub async fn unwrap(State(st): State<Arc<St>>, Path(id): Path<String>) -> Response {
    let cli = format!("coagent unwrap {}", arg(&id));
    let r = with_hub(&st, move |hub| {
        let row = coagent::wrap::pick(hub, Some(&id), false, None)?;
        let (mut started, note) =
            coagent::wrap::unwrap(hub, &row, None, false, &mut page_clipboard())?;
        started.sent.warnings.extend(note);
        Ok(started)
    })
    .await;
    done(
        &st,
        r,
        "start",
        "Booted from the wrap: paste its payload into a new chat",
        cli,
    )
}

pub async fn wrap_verify(State(st): State<Arc<St>>, Path(id): Path<String>) -> Response {
    let found = with_hub(&st, {
        let id = id.clone();
        move |hub| {
            let row = coagent::wrap::list(hub)?
                .into_iter()
                .find(|w| w.id == id)
                .ok_or_else(|| coagent::Error::invalid(format!("no wrap {id}"), None))?;
            Ok(hub.dir.join(&row.archive))
        }
    })
    .await;
    let cli = match &found {
        Ok(p) => format!("coagent wrap verify {}", arg(&p.display().to_string())),
        Err(_) => "coagent wraps".to_string(),
    };
    let r = match found {
        Ok(path) => tokio::task::spawn_blocking(move || {
            coagent::wrap::verify(&path)
                .map(
                    |v| json!({"ok": v.ok, "said": coagent::wrap::describe(&v), "verification": v}),
                )
                .map_err(Failure::from)
        })
        .await
        .unwrap_or_else(|e| {
            Err(Failure {
                message: e.to_string(),
                hint: None,
            })
        }),
        Err(f) => Err(f),
    };
    done(&st, r, "verify", "Wrap verified", cli)
}
