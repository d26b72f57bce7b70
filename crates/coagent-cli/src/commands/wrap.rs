//! `coagent wrap [verify FILE] | unwrap | wraps | sweep`.

use std::process::ExitCode;

use coagent::clock::{human_duration, rfc3339};
use coagent::wrap::{self, WrapOptions};

use crate::app::App;
use crate::cli::{ListArgs, WrapArgs, WrapSub};
use crate::commands::start::paste_instructions;
use crate::out;

pub fn run(app: &App, a: WrapArgs) -> anyhow::Result<ExitCode> {
    if let Some(WrapSub::Verify { file }) = a.verify {
        let v = wrap::verify(&file)?;
        out::emit(app.json(), &v, || {
            if v.ok {
                let c = v.counts.clone().unwrap_or_default();
                format!(
                    "{} {} ({} files, {} transcript entries, {} DOs, {} artifacts)\n",
                    out::green("verified:"),
                    file.display(),
                    c.files,
                    c.transcript,
                    c.dos,
                    c.artifacts
                )
            } else {
                format!(
                    "{} {}\n  {}\n",
                    out::red("failed:"),
                    file.display(),
                    wrap::describe(&v)
                )
            }
        });
        return Ok(if v.ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(1)
        });
    }
    let mut hub = app.hub()?;
    let mut clip = app.clipboard();
    let w = wrap::wrap(
        &mut hub,
        WrapOptions {
            session: a.session,
            to: a.to,
            redact: a.redact,
            respawn: !a.no_respawn,
            reason: "manual".into(),
        },
        clip.as_mut(),
    )?;
    out::emit(app.json(), &w, || render_wrapped(&w));
    if let Some(e) = &w.respawn_error {
        let hint = if e.contains("secret guard") {
            "coagent unwrap --latest --redact"
        } else {
            "fix the cause, then `coagent unwrap --latest`"
        };
        return Err(out::reported(
            format!("the session is wrapped, but its respawn failed: {e}"),
            Some(hint),
            app.json(),
        ));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn render_wrapped(w: &wrap::Wrapped) -> String {
    let mut s = format!(
        "{} {} into {}\n  {} files: {} transcript entries, {} DOs ({} finished), {} artifacts, {} open TODOs\n",
        out::green("Wrapped"),
        out::bold(&w.session),
        w.archive.display(),
        w.counts.files,
        w.counts.transcript,
        w.counts.dos,
        w.counts.dos_finished,
        w.counts.artifacts,
        w.counts.todos_open
    );
    if let Some(n) = &w.note {
        s.push_str(&format!("  note: {n}\n"));
    }
    if let (Some(st), Some(new)) = (&w.started, &w.respawn_session) {
        s.push_str(&format!(
            "\nRespawn: session {} ({}) continues it.\n",
            out::bold(new),
            st.vendor
        ));
        s.push_str(&paste_instructions(
            &st.sent,
            &format!("a new {} chat", st.vendor),
        ));
        s.push_str(&format!(
            "The chat must answer first with:  {}\n",
            out::bold(&st.echo)
        ));
    }
    s
}

pub fn unwrap(
    app: &App,
    named: Option<String>,
    latest: bool,
    vendor: Option<String>,
    redact: bool,
) -> anyhow::Result<ExitCode> {
    let mut hub = app.hub()?;
    let row = wrap::pick(&hub, named.as_deref(), latest, vendor.as_deref())?;
    let mut clip = app.clipboard();
    let (started, note) = wrap::unwrap(&mut hub, &row, vendor.as_deref(), redact, clip.as_mut())?;
    let value = serde_json::json!({"wrap": row.id, "session": started.session, "vendor": started.vendor, "capsule": started.capsule, "echo": started.echo, "payloads": started.payloads, "note": note, "warnings": started.sent.warnings});
    out::emit(app.json(), &value, || {
        let mut s = format!(
            "{} wrap {} (from {}) into session {}\n",
            out::green("Unwrapped"),
            row.id,
            row.session,
            out::bold(&started.session)
        );
        if let Some(n) = &note {
            s.push_str(&format!("  note: {n}\n"));
        }
        s.push_str(&paste_instructions(
            &started.sent,
            &format!("a new {} chat", started.vendor),
        ));
        s.push_str(&format!(
            "The chat must answer first with:  {}\n",
            out::bold(&started.echo)
        ));
        s
    });
    Ok(ExitCode::SUCCESS)
}

pub fn list(app: &App, session: Option<String>, list: ListArgs) -> anyhow::Result<ExitCode> {
    let hub = app.hub()?;
    let now = hub.now_ms();
    let session = match session {
        Some(s) => Some(coagent::session::get(&hub, &s)?.id),
        None => None,
    };
    let mut p = out::ListPrinter::start(app.json(), "wraps");
    let more = wrap::listed(&hub, session.as_deref(), list.window(now)?, |w| {
        p.item(&w, |w| {
            format!(
                "{}  {} → {:<8} {} ago  {}  {}\n",
                out::bold(&w.id),
                w.session,
                w.to,
                human_duration(now - w.created_at),
                match &w.consumed_by {
                    Some(by) => format!("unwrapped by {by}"),
                    None => out::yellow("waiting"),
                },
                out::dim(&w.archive)
            )
        });
        Ok(())
    })?;
    p.finish(more, "No wraps yet.\n", serde_json::json!({}));
    Ok(ExitCode::SUCCESS)
}

pub fn sweep(app: &App, days: u64) -> anyhow::Result<ExitCode> {
    let mut hub = app.hub()?;
    let doomed = wrap::sweepable(&hub, days)?;
    if doomed.is_empty() {
        out::emit(
            app.json(),
            &serde_json::json!({"removed": [], "kept_unconsumed": null}),
            || format!("No consumed wraps older than {days} days.\n"),
        );
        return Ok(ExitCode::SUCCESS);
    }
    if !app.json() {
        for w in &doomed {
            eprintln!("  {} of {} ({})", w.id, w.session, rfc3339(w.created_at));
        }
    }
    if !app.confirm(&format!("Remove these {} consumed wrap(s)?", doomed.len()))? {
        return Ok(ExitCode::from(1));
    }
    let swept = wrap::sweep(&mut hub, days)?;
    out::emit(app.json(), &swept, || {
        format!(
            "Removed {} wrap(s); {} unconsumed kept.\n",
            swept.removed.len(),
            swept.kept_unconsumed
        )
    });
    Ok(ExitCode::SUCCESS)
}
