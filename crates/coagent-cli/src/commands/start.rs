//! `coagent start`: a new session and its boot payload.

use std::process::ExitCode;

use coagent::clipboard::ClipOutcome;
use coagent::session::{self, StartOptions};

use crate::app::App;
use crate::cli::StartArgs;
use crate::out;

pub fn run(app: &App, a: StartArgs) -> anyhow::Result<ExitCode> {
    let mut hub = app.hub()?;
    let mut clip = app.clipboard();
    let mut warnings = Vec::new();
    let respawn = match &a.from_wrap {
        Some(w) => {
            let row = coagent::wrap::pick(&hub, Some(w), false, None)?;
            let (r, note) = coagent::wrap::respawn_for(&mut hub, &row)?;
            if let Some(n) = note {
                eprintln!("note: {n}");
            }
            warnings.extend(session::successor_warning(&hub, &row.id)?);
            Some(r)
        }
        None => None,
    };
    let mut started = session::start(
        &mut hub,
        StartOptions {
            vendor: a.vendor,
            goal: a.goal,
            redact: a.redact,
            respawn,
        },
        clip.as_mut(),
    )?;
    started.sent.warnings.splice(0..0, warnings);
    out::emit(app.json(), &started, || {
        let mut s = format!(
            "{} session {} ({}, capsule v{})\n",
            out::green("Started"),
            out::bold(&started.session),
            started.vendor,
            started.capsule.version
        );
        if let Some(w) = &started.from_wrap {
            s.push_str(&format!("  continues from wrap {w}\n"));
        }

        s.push('\n');
        s.push_str(&paste_instructions(
            &started.sent,
            &format!("a new {} chat", started.vendor),
        ));
        s.push_str(&format!("\nThe chat must answer first with:  {}\nThen copy its whole reply and run:  coagent ingest\n", out::bold(&started.echo)));
        s
    });
    Ok(ExitCode::SUCCESS)
}

/// What to paste and where: the clipboard holds part 1, the files hold every part.
pub fn paste_instructions(sent: &coagent::payload::Sent, into: &str) -> String {
    let mut s = String::new();
    let what = if sent.parts > 1 {
        format!("part 1/{}", sent.parts)
    } else {
        "the payload".to_string()
    };
    match &sent.clipboard {
        ClipOutcome::Copied { via } if via == "osc52" => s.push_str(&format!(
            "Paste into {into}: {what} was sent to your terminal's clipboard (OSC 52; a terminal that ignores it leaves the clipboard as it was). Or paste the file:\n"
        )),
        ClipOutcome::Copied { via } => s.push_str(&format!(
            "Paste into {into}: {what} is on the clipboard ({via}).\n"
        )),
        ClipOutcome::Skipped { reason } => s.push_str(&format!(
            "Not copied ({reason}). Paste into {into} the file:\n"
        )),
    }
    for p in &sent.paths {
        s.push_str(&format!("  {}\n", p.display()));
    }
    s.push_str(&out::dim(&format!(
        "  {} characters, {} tokens{}\n",
        sent.chars,
        sent.tokens,
        if sent.redactions > 0 {
            format!(", {} redaction(s)", sent.redactions)
        } else {
            String::new()
        }
    )));
    if sent.parts > 1 {
        s.push_str(&format!("The payload has {} parts: the chat answers `NEXT k/n` after each; `coagent ingest` then copies the next part.\n", sent.parts));
    }
    for w in &sent.warnings {
        s.push_str(&format!("{} {w}\n", out::yellow("warning:")));
    }
    s
}
