//! `coagent outbox [--all]` and `coagent outbox copy [ID] [--part K]`.

use std::process::ExitCode;

use coagent::clock::rfc3339;
use coagent::outbox;

use crate::app::App;
use crate::cli::OutboxCmd;
use crate::out;

pub fn run(app: &App, copy: Option<OutboxCmd>, all: bool) -> anyhow::Result<ExitCode> {
    let mut hub = app.hub()?;
    match copy {
        None => {
            let list = outbox::list(&hub, all, 100)?;
            out::emit(app.json(), &serde_json::json!({"payloads": list}), || {
                if list.is_empty() {
                    return if all {
                        "The outbox is empty.\n".to_string()
                    } else {
                        "Nothing waiting: every payload was pasted (a reply to it was ingested).\n"
                            .to_string()
                    };
                }
                let mut s = String::new();
                for e in &list {
                    s.push_str(&format!(
                        "{}  {:<8} {}  {} part(s), {} chars  {}{}\n",
                        out::bold(&e.id),
                        e.kind,
                        e.session.as_deref().unwrap_or("-"),
                        e.parts,
                        e.chars,
                        rfc3339(e.created_at),
                        if e.pasted {
                            out::dim(" · pasted")
                        } else {
                            String::new()
                        }
                    ));
                    for p in &e.paths {
                        s.push_str(&format!(
                            "  {}\n",
                            out::dim(&hub.dir.join(p).display().to_string())
                        ));
                    }
                }
                if let Some(newest) = list.iter().find(|e| !e.pasted) {
                    s.push_str(&format!(
                        "\nCopy it again: coagent outbox copy {}\n",
                        newest.id
                    ));
                }
                s
            });
        }
        Some(OutboxCmd::Copy { id, part }) => {
            let mut clip = app.clipboard();
            let c = outbox::copy(&mut hub, id.as_deref(), part, clip.as_mut())?;
            out::emit(app.json(), &c, || {
                format!(
                    "{} part {}/{} of {} ({}) — {}\n  {}\n",
                    out::green("Copied"),
                    c.part,
                    c.parts,
                    c.id,
                    c.kind,
                    match &c.clipboard {
                        coagent::clipboard::ClipOutcome::Copied { via } if via == "osc52" =>
                            "sent to your terminal's clipboard (OSC 52, which some terminals ignore)"
                                .to_string(),
                        coagent::clipboard::ClipOutcome::Copied { via } =>
                            format!("on the clipboard ({via})"),
                        coagent::clipboard::ClipOutcome::Skipped { reason } =>
                            format!("not copied ({reason}): paste the file"),
                    },
                    hub.path(&c.path).display()
                )
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}
