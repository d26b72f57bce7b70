//! `coagent do list | show | approve | run | result | undo`.

use std::process::ExitCode;
use std::time::Duration;

use coagent::clock::{human_duration, rfc3339};
use coagent::dos::{self, RunOptions};
use coagent_runner::{Cancel, RunStatus};

use crate::app::App;
use crate::cli::DoCmd;
use crate::commands::start::paste_instructions;
use crate::out;

pub fn run(app: &App, cmd: DoCmd) -> anyhow::Result<ExitCode> {
    let mut hub = app.hub()?;
    match cmd {
        DoCmd::List { session } => {
            let session = match session {
                Some(s) => Some(coagent::session::get(&hub, &s)?.id),
                None => None,
            };
            let list = dos::list(&hub, session.as_deref())?;
            out::emit(app.json(), &serde_json::json!({"dos": list}), || {
                if list.is_empty() {
                    return "No DOs yet: they come from the chat's replies (`coagent ingest`).\n"
                        .to_string();
                }
                list.iter()
                    .map(|d| {
                        format!(
                            "{}  {:<9} {:<7} {}  {}\n",
                            out::bold(&d.id),
                            d.state,
                            d.lang,
                            d.title,
                            out::dim(&d.session)
                        )
                    })
                    .collect()
            });
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
            id,
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
            };
            let cancel = Cancel::new();
            let guard = cancel
                .cancel_on_interrupt()
                .map_err(|e| coagent::Error::io("cannot watch for Ctrl-C", e))?;
            let mut clip = app.clipboard();
            let d = dos::get(&hub, &id)?;
            if !app.json() {
                eprintln!(
                    "{} {} {} — output follows; Ctrl-C stops it and its children\n",
                    out::bold("Running"),
                    d.id,
                    d.title
                );
            }
            // Live output goes to the terminal: stdout, or stderr when stdout carries JSON.
            let report = if app.json() {
                let mut live = std::io::stderr();
                dos::run(&mut hub, &id, &opts, &mut live, &cancel, clip.as_mut())?
            } else {
                let mut live = std::io::stdout();
                dos::run(&mut hub, &id, &opts, &mut live, &cancel, clip.as_mut())?
            };
            drop(guard);
            out::emit(app.json(), &report, || render_run(&report));
            if let Some(e) = &report.payload_error {
                return Err(out::reported(
                    format!("the run is recorded, but its result payload was not written: {e}"),
                    Some(&format!("coagent do result {} --redact", report.id)),
                    app.json(),
                ));
            }
            return Ok(match report.status {
                RunStatus::Succeeded => ExitCode::SUCCESS,
                _ => ExitCode::from(1),
            });
        }
        DoCmd::Result { id, redact } => {
            let mut clip = app.clipboard();
            let sent = dos::send_result(&mut hub, &id, redact, clip.as_mut())?;
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
        hub.dir.join(&d.path).display(),
        rfc3339(d.proposed_at)
    ));
    o.push_str(&format!("\n{}\n", out::dim("─── script ───")));
    o.push_str(&s.script);
    if !s.script.ends_with('\n') {
        o.push('\n');
    }
    o.push_str(&format!("{}\n", out::dim("──────────────")));
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

fn render_run(r: &dos::RunReport) -> String {
    let status = match r.status {
        RunStatus::Succeeded => out::green("succeeded"),
        RunStatus::Failed => out::red("failed"),
        RunStatus::TimedOut => out::red("timed out (killed with its children)"),
        RunStatus::Killed => out::red("killed (stopped with its children)"),
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
            "  artifact:{}  {:<4} {} B  {}\n",
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
    if let Some(sent) = &r.sent {
        s.push('\n');
        s.push_str(&paste_instructions(sent, "the chat"));
        s.push_str(&format!(
            "The chat should answer: {}\n",
            out::bold(&r.ack_line)
        ));
    }
    s
}
