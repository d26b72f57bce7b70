//! `coagent watch`: the foreground watcher. It starts only when the user runs it, stops
//! cleanly on Ctrl-C or SIGTERM, and refuses to start twice on one hub. Inbox events
//! (notify) wake it early; a 250 ms poll notices other processes' writes to the store (a
//! breach caused by a command is checked at once) and keeps it correct where events are
//! not delivered.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use coagent::bloat::Level;
use coagent::watch::{self, Inbox};
use notify::Watcher;

use crate::app::App;
use crate::cli::WatchArgs;
use crate::out;

const POLL: Duration = Duration::from_millis(250);

pub fn run(app: &App, a: WatchArgs) -> anyhow::Result<ExitCode> {
    let stop = Arc::new(AtomicBool::new(false));
    let _interrupts = coagent_runner::on_interrupt(Arc::clone(&stop))
        .map_err(|e| coagent::Error::io("cannot watch for Ctrl-C", e))?;
    let hub = app.hub_unchecked()?;
    let lock = watch::lock(&hub)?;
    watch_until(app, &a, hub, lock, &stop)?;
    Ok(ExitCode::SUCCESS)
}

/// The watcher's loop, until `stop` is set: `coagent watch`, and `coagent ui` while its
/// page is served. The caller holds the hub's watch lock.
pub fn watch_until(
    app: &App,
    a: &WatchArgs,
    mut hub: coagent::hub::Hub,
    _lock: watch::WatchLock,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let cfg = hub.config()?;
    let interval = Duration::from_secs_f64(
        a.interval
            .unwrap_or(cfg.watch.check_interval_secs)
            .max(0.05),
    );
    let (tx, rx) = std::sync::mpsc::channel::<Vec<std::path::PathBuf>>();
    // Events wake the loop early and say which files are complete (closed by their writer,
    // or renamed into place); what to do is decided by looking at the folders.
    let mut watcher = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        use notify::EventKind::{Access, Modify};
        use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
        let complete = match &res {
            Ok(e) => match e.kind {
                Access(AccessKind::Close(AccessMode::Write)) => e.paths.clone(),
                Modify(ModifyKind::Name(RenameMode::To)) => e.paths.clone(),
                Modify(ModifyKind::Name(RenameMode::Both)) => {
                    e.paths.iter().skip(1).cloned().collect()
                }
                _ => Vec::new(),
            },
            Err(_) => Vec::new(),
        };
        let _ = tx.send(complete);
    })
    .ok();
    if let Some(w) = watcher.as_mut() {
        // Only the inbox: the store's own files change on every read (SQLite's shared
        // memory), which would wake the loop endlessly; its changes are polled instead.
        let _ = w.watch(&hub.inbox(), notify::RecursiveMode::NonRecursive);
    }
    let mut clipboard = app.clipboard();
    let mut inbox = Inbox::default();
    let mut last_check: Option<Instant> = None;
    let mut last_level: Option<Level> = None;
    let mut last_stamp = store_stamp(&hub);
    let mut last_held: Vec<String> = Vec::new();
    say(
        app,
        "watch.started",
        &format!(
            "watching {} (inbox, bloat every {:.1}s); Ctrl-C stops",
            hub.dir.display(),
            interval.as_secs_f64()
        ),
        serde_json::json!({"hub": hub.dir, "interval_secs": interval.as_secs_f64()}),
    );
    loop {
        let now = Instant::now();
        let files = if a.once {
            // Once cannot wait to see a file settle: complete is what no process still
            // has open for writing.
            let (ready, skipped) = Inbox::complete_now(&hub);
            for (p, why) in skipped {
                say(
                    app,
                    "inbox.skipped",
                    &format!("skipped {}: {why}", name(&p)),
                    serde_json::json!({"file": p, "reason": why}),
                );
            }
            ready
        } else {
            inbox.settled(&hub, now)
        };
        for file in files {
            hub.forget_cached();
            let o = inbox.ingest(&mut hub, &file, clipboard.as_mut())?;
            match (&o.report, &o.error) {
                (Some(r), _) => say(
                    app,
                    "inbox.ingested",
                    &format!(
                        "ingested {} into {}: {} DO(s), {} ACK(s), echo {}{}",
                        name(&o.file),
                        r.session,
                        r.dos.len(),
                        r.acks.len(),
                        r.echo.status.as_str(),
                        if r.duplicate { " (duplicate)" } else { "" }
                    ),
                    serde_json::to_value(&o).unwrap_or_default(),
                ),
                (_, Some(e)) => say(
                    app,
                    "inbox.failed",
                    &format!(
                        "could not ingest {}: {} (moved to {})",
                        name(&o.file),
                        e.lines().next().unwrap_or_default(),
                        o.moved_to.display()
                    ),
                    serde_json::to_value(&o).unwrap_or_default(),
                ),
                _ => {}
            }
            last_check = None;
        }
        let stamp = store_stamp(&hub);
        let due =
            last_check.is_none_or(|t| now.duration_since(t) >= interval) || stamp != last_stamp;
        if due {
            last_check = Some(now);
            // Profile, guard.toml and config.toml may have changed since the last check.
            hub.forget_cached();
            let t = match watch::tick(&mut hub, clipboard.as_mut()) {
                Ok(t) => t,
                Err(e) => {
                    // A watcher reports and carries on; the next check may succeed.
                    let hint = e.hint().unwrap_or_default();
                    say(
                        app,
                        "error",
                        &format!("check failed: {e} {hint}"),
                        serde_json::json!({"error": e.to_string(), "hint": hint}),
                    );
                    last_stamp = store_stamp(&hub);
                    continue;
                }
            };

            // Our own writes must not wake us again.
            last_stamp = store_stamp(&hub);
            if last_level != Some(t.level) {
                let line = coagent::ticker::line(coagent::status::check(&mut hub)?.first());
                say(
                    app,
                    "level",
                    &line,
                    serde_json::json!({"level": t.level, "session": t.session}),
                );
                if last_level.is_some()
                    && matches!(t.level, Level::Warn | Level::Fail)
                    && cfg.watch.notify
                {
                    desktop_notify(&format!("CoAgent {}", t.level.as_str()), &line);
                }
                last_level = Some(t.level);
            }
            if t.held != last_held {
                for id in t.held.iter().filter(|id| !last_held.contains(id)) {
                    say(
                        app,
                        "held",
                        &format!(
                            "{id} breached, but a result is on its way to the chat: it is wrapped once the chat's answer is ingested"
                        ),
                        serde_json::json!({"session": id}),
                    );
                }
                last_held.clone_from(&t.held);
            }
            for w in &t.wrapped {
                let msg = format!(
                    "wrapped {} ({}) into {}{}",
                    w.session,
                    w.breach_at.map(|_| "bloat breach").unwrap_or("breach"),
                    w.archive.display(),
                    match &w.respawn_session {
                        Some(s) => format!(
                            "; respawn session {s}: paste {}",
                            w.respawn
                                .first()
                                .map(|p| p.display().to_string())
                                .unwrap_or_default()
                        ),
                        None => format!(
                            "; no respawn: {}",
                            w.respawn_error.clone().unwrap_or_default()
                        ),
                    }
                );
                say(
                    app,
                    "wrapped",
                    &msg,
                    serde_json::to_value(w).unwrap_or_default(),
                );
                if cfg.watch.notify {
                    desktop_notify(
                        "CoAgent wrapped a session",
                        "Paste the respawn payload into a new chat.",
                    );
                }
            }
        }
        if a.once || stop.load(Ordering::SeqCst) {
            break;
        }
        let mut complete: Vec<std::path::PathBuf> = rx.recv_timeout(POLL).unwrap_or_default();
        while let Ok(more) = rx.try_recv() {
            complete.extend(more);
        }
        for p in complete {
            inbox.note_complete(&p);
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
    }
    say(app, "watch.stopped", "stopped", serde_json::json!({}));
    Ok(())
}

fn name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Changes when another process commits to the store (SQLite's `data_version`).
fn store_stamp(hub: &coagent::hub::Hub) -> Option<i64> {
    hub.store.data_version().ok()
}

/// One event: a line of text, or one JSON document per line with `--json`.
fn say(app: &App, event: &str, text: &str, data: serde_json::Value) {
    if app.json() {
        let mut v =
            serde_json::json!({"event": event, "at": coagent::clock::rfc3339(jiff_now_ms())});
        if let (Some(obj), serde_json::Value::Object(d)) = (v.as_object_mut(), data) {
            obj.extend(d);
        }
        out::print(&format!(
            "{}\n",
            serde_json::to_string(&v).unwrap_or_default()
        ));
    } else {
        let t = coagent::clock::rfc3339(jiff_now_ms());
        out::print(&format!("{} {text}\n", out::dim(&t[11..19])));
    }
}

fn jiff_now_ms() -> i64 {
    coagent::clock::Clock::from_env()
        .map(|c| c.now_ms())
        .unwrap_or(0)
}

/// Best effort. On Windows a toast (`notify-rust`, through the system's own notification
/// API); elsewhere through the desktop's own tool (no D-Bus stack linked in for this).
#[cfg(windows)]
fn desktop_notify(title: &str, body: &str) {
    let _ = notify_rust::Notification::new()
        .appname("CoAgent")
        .summary(title)
        .body(body)
        .show();
}

#[cfg(not(windows))]
fn desktop_notify(title: &str, body: &str) {
    let _ = if cfg!(target_os = "macos") {
        std::process::Command::new("osascript")
            .args([
                "-e",
                &format!("display notification {:?} with title {:?}", body, title),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
    } else {
        std::process::Command::new("notify-send")
            .args(["--app-name=CoAgent", title, body])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
    };
}
