//! `coagent artifact list | show | send`.

use std::process::ExitCode;

use coagent::artifact;

use crate::app::App;
use crate::cli::ArtifactCmd;
use crate::out;

pub fn run(app: &App, cmd: ArtifactCmd) -> anyhow::Result<ExitCode> {
    let mut hub = app.hub()?;
    match cmd {
        ArtifactCmd::Send { id, redact } => {
            let mut clip = app.clipboard();
            let sent = artifact::send(&mut hub, &id, redact, clip.as_mut())?;
            out::emit(app.json(), &sent, || {
                format!(
                    "{}\n{}",
                    out::green("Artifact payload written."),
                    crate::commands::start::paste_instructions(&sent, "the chat")
                )
            });
        }
        ArtifactCmd::List {
            do_id,
            session,
            kind,
            list,
        } => {
            let filter = artifact::Filter {
                do_id: match do_id {
                    Some(d) => Some(coagent::dos::get(&hub, &d)?.id),
                    None => None,
                },
                session: match session {
                    Some(s) => Some(coagent::session::get(&hub, &s)?.id),
                    None => None,
                },
                kind,
                window: list.window(hub.now_ms())?,
            };
            let mut p = out::ListPrinter::start(app.json(), "artifacts");
            let more = artifact::list(&hub, &filter, |a| {
                p.item(&a, |a| {
                    format!(
                        "{}  {:<4} {:>10} B  {}  {}\n",
                        out::bold(&a.id),
                        a.kind,
                        a.bytes,
                        a.do_id.as_deref().unwrap_or("-"),
                        a.path
                    )
                });
                Ok(())
            })?;
            p.finish(
                more,
                "No artifacts yet: they come from `coagent do run`.\n",
                serde_json::json!({}),
            );
        }
        ArtifactCmd::Show { id, content } => {
            let a = artifact::get(&hub, &id)?;
            let bytes = artifact::read(&hub, &a)?;
            if content && !app.json() {
                use std::io::Write;
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(&bytes);
                return Ok(ExitCode::SUCCESS);
            }
            let value = serde_json::json!({"artifact": a, "abs_path": hub.path(&a.path), "content": if content { Some(String::from_utf8_lossy(&bytes).into_owned()) } else { None }});
            out::emit(app.json(), &value, || {
                format!(
                    "{} ({})\n  path    {}\n  sha256  {}\n  bytes   {}\n  DO      {}\n{}",
                    out::bold(&a.id),
                    a.kind,
                    hub.path(&a.path).display(),
                    a.sha256,
                    a.bytes,
                    a.do_id.as_deref().unwrap_or("-"),
                    if a.source.is_empty() {
                        String::new()
                    } else {
                        format!("  from    {}\n", a.source)
                    }
                )
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}
