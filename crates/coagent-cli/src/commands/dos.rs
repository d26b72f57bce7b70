//! `coagent do list | show | approve | run | result | undo`.

use std::process::ExitCode;
use std::time::Duration;

use coagent::clock::{human_duration, rfc3339};
use coagent::dos::{self, Planned, RunOptions, Selection};
use coagent_runner::{Cancel, RunStatus};

use crate::app::App;
use crate::cli::DoCmd;
use crate::commands::start::paste_instructions;
use crate::out;
use crate::progress::Terminal;

pub fn run(app: &App, cmd: DoCmd) -> anyhow::Result<ExitCode> {
    let mut hub = app.hub()?;
    match cmd {
        DoCmd::List {
            session,
            state,
            list,
        } => {
            let filter = dos::Filter {
                session: match session {
                    Some(s) => Some(coagent::session::get(&hub, &s)?.id),
                    None => None,
                },
                state,
                window: list.window(hub.now_ms())?,
            };
            let mut p = out::ListPrinter::start(app.json(), "dos");
            let more = dos::list(&hub, &filter, |d| {
                p.item(&d, |d| {
                    format!(
                        "{}  {:<9} {:<7} {}  {}{}\n",
                        out::bold(&d.id),
                        d.state,
                        d.lang,
                        d.title,
                        out::dim(&d.session),
                        d.todo
                            .as_ref()
                            .map(|t| format!("  {}", out::dim(&format!("for {t}"))))
                            .unwrap_or_default()
                    )
                });
                Ok(())
            })?;
            p.finish(
                more,
                "No DOs yet: they come from the chat's replies (`coagent ingest`).\n",
                serde_json::json!({}),
            );
        }
        DoCmd::Show { id } => {
            let s = dos::show(&hub, &id)?;
            out::emit(app.json(), &s, || render_show(&hub, &s));
        }
        DoCmd::Approve { id } => {
            let d = dos::approve(&mut hub, &id)?;
            out::emit(app.json(), &d, || {
                format!(
                    "{} {} (sha256 {}): only this content may run.\nNext: coagent do run {}\n",
                    out::green("Approved"),
                    out::bold(&d.id),
                    &d.approved_sha256.clone().unwrap_or_default()[..12],
                    d.id
                )
            });
        }
        DoCmd::Run {
            ids,
            all,
            session,
            keep_going,
            timeout,
            rerun,
            redact,
        } => {
            if timeout == Some(0) {
                return Err(out::user("--timeout must be at least 1 second", None));
            }
            let opts = RunOptions {
                timeout: timeout.map(Duration::from_secs),
                rerun,
                redact,
                keep_going,
            };
            let selection = if all {
                Selection::Latest { session }
            } else {
                Selection::Ids(ids)
            };
            // The work tree is read while the DOs are checked; a question that waits on
            // the user makes the run read it again.
            let early = dos::Early::start(&hub)?;
            let planned = dos::plan(&hub, &selection, rerun)?;
            let asks = !app.global.yes && !dos::needing_consent(&planned).is_empty();
            let early = (!asks).then_some(early);
            if !consent(app, &planned)? {
                out::emit(
                    app.json(),
                    &serde_json::json!({"ran": false, "dos": planned}),
                    || "Nothing was run.\n".to_string(),
                );
                return Ok(ExitCode::from(1));
            }
            let cancel = Cancel::new();
            let guard = cancel
                .cancel_on_interrupt()
                .map_err(|e| coagent::Error::io("cannot watch for Ctrl-C", e))?;
            let mut clip = app.clipboard();
            // Live output goes to the terminal: stdout, or stderr when stdout carries JSON.
            let mut progress = Terminal::new(app.json());
            let report = dos::run(
                &mut hub,
                planned,
                &opts,
                early,
                &mut progress,
                &cancel,
                clip.as_mut(),
            )?;
            drop(guard);
            out::emit(app.json(), &report, || render_batch(&report));
            if let Some(e) = &report.payload_error {
                let ids: Vec<&str> = report.runs.iter().map(|r| r.id.as_str()).collect();
                return Err(out::reported(
                    format!("the runs are recorded, but their result payload was not written: {e}"),
                    Some(&format!("coagent do result {} --redact", ids.join(" "))),
                    app.json(),
                ));
            }
            return Ok(if report.all_succeeded() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        DoCmd::Result { ids, redact } => {
            let mut clip = app.clipboard();
            let sent = dos::send_result(&mut hub, &ids, redact, clip.as_mut())?;
            out::emit(app.json(), &sent, || {
                format!(
                    "{}\n{}",
                    out::green("Result payload written."),
                    paste_instructions(&sent, "the chat")
                )
            });
        }
        DoCmd::Undo { id } => {
            let plan = dos::undo_plan(&hub, &id)?;
            if !app.json() {
                eprintln!(
                    "{} would reverse {} file(s): {}",
                    plan.id,
                    plan.files.len(),
                    plan.files.join(", ")
                );
            }
            if !app.confirm(&format!("Reverse {}'s change to the work tree?", plan.id))? {
                out::emit(
                    app.json(),
                    &serde_json::json!({"id": plan.id, "undone": false}),
                    || "Left as it is.\n".to_string(),
                );
                return Ok(ExitCode::from(1));
            }
            dos::undo(&mut hub, &plan)?;
            out::emit(
                app.json(),
                &serde_json::json!({"id": plan.id, "undone": true, "files": plan.files}),
                || {
                    format!(
                        "{} {}: {} file(s) restored\n",
                        out::green("Undone"),
                        plan.id,
                        plan.files.len()
                    )
                },
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn render_show(hub: &coagent::hub::Hub, s: &dos::Shown) -> String {
    let d = &s.r#do;
    let mut o = format!("{} {}\n", out::bold(&d.id), d.title);
    o.push_str(&format!("  state     {}\n  language  {}", d.state, d.lang));
    match &s.interpreter {
        Ok(p) => o.push_str(&format!(" ({p})\n")),
        Err(e) => o.push_str(&format!(" {}\n", out::red(&format!("— {e}")))),
    }
    if let Some(n) = &s.interpreter_note {
        o.push_str(&format!("            {n}\n"));
    }
    if let Some(n) = &d.lang_note {
        o.push_str(&format!("            {n}\n"));
    }
    if let Some(t) = &d.todo {
        // The TODO's title, when it can be read; its id alone otherwise.
        let title = coagent::todo::get(hub, t)
            .map(|t| format!("{} ({})", t.title, t.status))
            .unwrap_or_default();
        o.push_str(&format!("  serves    {t} {title}\n"));
    }
    if let Some(r) = &s.revises {
        o.push_str(&format!(
            "  revises   {}: +{} −{} lines (the changes follow the script)\n",
            r.id, r.added, r.removed
        ));
    }
    o.push_str(&format!("  sha256    {}\n", s.current_sha256));
    if s.edited {
        o.push_str(&format!(
            "  {}\n",
            out::yellow(&format!(
                "edited: the chat proposed sha256 {}",
                &d.sha256[..12]
            ))
        ));
    }
    if s.changed_since_approval {
        o.push_str(&format!(
            "  {}\n",
            out::red("changed since approval: approve again before it can run")
        ));
    }
    o.push_str(&format!(
        "  file      {}\n  proposed  {}\n",
        hub.path(&d.path).display(),
        rfc3339(d.proposed_at)
    ));
    o.push_str(&format!("\n{}\n", out::dim("─── script ───")));
    o.push_str(&s.script);
    if !s.script.ends_with('\n') {
        o.push('\n');
    }
    o.push_str(&format!("{}\n", out::dim("──────────────")));
    if let Some(r) = &s.revises {
        o.push_str(&format!(
            "{}\n{}",
            out::dim(&format!("─── changes since {} ───", r.id)),
            r.diff
        ));
        if !r.diff.ends_with('\n') {
            o.push('\n');
        }
        o.push_str(&format!("{}\n", out::dim("──────────────")));
    }
    if s.guard.is_empty() {
        o.push_str(&format!(
            "{} no secrets found in the script\n",
            out::green("guard:")
        ));
    } else {
        for f in &s.guard {
            o.push_str(&format!(
                "{} line {}: {} ({})\n",
                out::red("guard:"),
                f.line,
                f.rule,
                f.preview
            ));
        }
    }
    if s.risks.is_empty() {
        o.push_str(&format!("{} none of the usual risks (deleting or writing outside the project, sudo, downloads piped to a shell, network, credentials)\n", out::green("risks:")));
    } else {
        for r in &s.risks {
            o.push_str(&format!(
                "{} line {}: {} [{}]\n",
                out::yellow("risk:"),
                r.line,
                r.message,
                r.code
            ));
        }
    }
    for a in &s.artifact_lines {
        o.push_str(&format!("artifact: {a} will be kept\n"));
    }
    for r in &s.runs {
        o.push_str(&format!(
            "run {}: {} {} after {}\n",
            r.id,
            r.status,
            r.exit_code
                .map(|c| format!("(exit {c})"))
                .unwrap_or_default(),
            human_duration(r.duration_ms.unwrap_or(0))
        ));
    }
    for a in &s.artifacts {
        o.push_str(&format!("  artifact:{} {} {} B\n", a.id, a.kind, a.bytes));
    }
    if s.runs.is_empty() {
        o.push_str(&format!("\nRun it: coagent do run {}\n", d.id));
    }
    o
}

/// Asks before running DOs with risk hints (on a terminal), or refuses them without one
/// unless `--yes`. DOs without hints run on the command alone: it is the consent.
fn consent(app: &App, planned: &[Planned]) -> anyhow::Result<bool> {
    let risky = dos::needing_consent(planned);
    if risky.is_empty() {
        return Ok(true);
    }
    for p in &risky {
        eprintln!(
            "{} {} {}",
            out::yellow("risks in"),
            out::bold(&p.r#do.id),
            p.r#do.title
        );
        for r in &p.risks {
            eprintln!(
                "  {} line {}: {} [{}]",
                out::yellow("risk:"),
                r.line,
                r.message,
                r.code
            );
        }
    }
    let question = if planned.len() == 1 {
        format!("Run {}?", planned[0].r#do.id)
    } else {
        format!(
            "Run these {} DOs ({} with risks)?",
            planned.len(),
            risky.len()
        )
    };
    app.confirm(&question)
}

fn render_batch(b: &dos::BatchReport) -> String {
    let mut s: String = b.runs.iter().map(render_run).collect();
    for n in &b.not_run {
        s.push_str(&format!(
            "\n{} {}\n",
            out::bold(&n.id),
            out::yellow(&format!("not run: {}", n.reason))
        ));
        if let Some(h) = &n.hint {
            s.push_str(&format!("  {}\n", out::dim(h)));
        }
    }
    if let Some(sent) = &b.sent {
        s.push('\n');
        s.push_str(&paste_instructions(sent, "the chat"));
        let plural = if b.runs.len() == 1 {
            ""
        } else {
            "s, one per DO"
        };
        s.push_str(&format!("The chat should answer with the line{plural}:\n"));
        for r in &b.runs {
            s.push_str(&format!("  {}\n", out::bold(&r.ack_line)));
        }
    }
    s
}

fn render_run(r: &dos::RunReport) -> String {
    let status = match r.status {
        RunStatus::Succeeded => out::green("succeeded"),
        RunStatus::Failed => out::red("failed"),
        RunStatus::TimedOut => out::red("timed out (killed with its children)"),
        RunStatus::Killed => out::red("killed: you stopped it (Ctrl-C), its children too"),
    };
    let mut s = format!(
        "\n{} {} {}{} after {}\n",
        out::bold(&r.id),
        status,
        r.exit_code
            .map(|c| format!("with exit code {c}"))
            .unwrap_or_default(),
        r.signal
            .map(|x| format!(" (signal {x})"))
            .unwrap_or_default(),
        human_duration(r.duration_ms as i64)
    );
    for a in &r.artifacts {
        s.push_str(&format!(
            "  artifact:{}  {:<6} {} B  {}\n",
            a.id, a.kind, a.bytes, a.path
        ));
    }
    if r.log_cut_bytes > 0 {
        s.push_str(&format!(
            "  the log keeps its head and tail; {} bytes in between were cut\n",
            r.log_cut_bytes
        ));
    }
    for w in &r.warnings {
        s.push_str(&format!("  {} {w}\n", out::yellow("note:")));
    }
    s
}
