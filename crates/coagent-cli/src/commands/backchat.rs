//! `coagent backchat emit | list | show | validate`.

use std::io::Read;
use std::process::ExitCode;

use coagent::backchat::{self, Emit, MessageKind};

use crate::app::App;
use crate::cli::BackchatCmd;
use crate::commands::start::paste_instructions;
use crate::out;

pub fn run(app: &App, cmd: BackchatCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        BackchatCmd::Validate { file } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| coagent::Error::io(format!("cannot read {}", file.display()), e))?;
            let text = String::from_utf8_lossy(&bytes);
            let errors = backchat::validate_text(&text)?;
            let value =
                serde_json::json!({"file": file, "valid": errors.is_empty(), "errors": errors});
            out::emit(app.json(), &value, || {
                if errors.is_empty() {
                    format!(
                        "{} {} is a valid BackchatMessage\n",
                        out::green("valid:"),
                        file.display()
                    )
                } else {
                    let mut s = format!("{} {}\n", out::red("invalid:"), file.display());
                    for e in &errors {
                        s.push_str(&format!("  {e}\n"));
                    }
                    s
                }
            });
            return Ok(if errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
        BackchatCmd::List {
            session,
            kind,
            list,
        } => {
            let hub = app.hub()?;
            let filter = backchat::Filter {
                session: match session {
                    Some(s) => Some(coagent::session::get(&hub, &s)?.id),
                    None => None,
                },
                kind,
                window: list.window(hub.now_ms())?,
            };
            let mut p = out::ListPrinter::start(app.json(), "messages");
            let more = backchat::list(&hub, &filter, |m| {
                p.item(&m, |m| {
                    format!(
                        "{}  {:<3} {:<8} to {:<14} {}{}{}\n",
                        out::bold(&m.id),
                        m.direction,
                        m.kind,
                        m.to,
                        m.subject,
                        if m.valid {
                            String::new()
                        } else {
                            out::red("  (invalid)")
                        },
                        if m.requires_ack && m.acked_at.is_none() {
                            out::yellow("  (awaiting ACK)")
                        } else {
                            String::new()
                        }
                    )
                });
                Ok(())
            })?;
            p.finish(more, "No messages yet.\n", serde_json::json!({}));
        }
        BackchatCmd::Show { id } => {
            let hub = app.hub()?;
            let m = backchat::get(&hub, &id)?;
            out::emit(app.json(), &m, || {
                let mut s = format!(
                    "{} ({} {}, {})\n",
                    out::bold(&m.id),
                    m.direction,
                    m.kind,
                    if m.valid { "valid" } else { "invalid" }
                );
                for e in &m.errors {
                    s.push_str(&format!("  {e}\n"));
                }
                s.push_str(&serde_json::to_string_pretty(&m.message).unwrap_or_default());
                s.push('\n');
                s
            });
        }
        BackchatCmd::Emit {
            to,
            kind,
            subject,
            body,
            requires_ack,
            reply_to,
            session,
            redact,
        } => {
            let mut hub = app.hub()?;
            let kind = MessageKind::parse(&kind).ok_or_else(|| {
                out::user(
                    format!("unknown message kind `{kind}`"),
                    Some("use handoff, todo, request, result, ack, note or wrap"),
                )
            })?;
            let body = if body == "-" {
                let mut b = String::new();
                std::io::stdin()
                    .read_to_string(&mut b)
                    .map_err(|e| coagent::Error::io("cannot read stdin", e))?;
                b
            } else {
                body
            };
            let mut clip = app.clipboard();
            let e = backchat::emit(
                &mut hub,
                Emit {
                    to,
                    kind,
                    subject,
                    body,
                    requires_ack,
                    reply_to,
                    session,
                    redact,
                },
                clip.as_mut(),
            )?;
            out::emit(app.json(), &e, || {
                format!(
                    "{} {} ({})\n{}",
                    out::green("Wrote"),
                    out::bold(&e.id),
                    e.message.kind.as_str(),
                    paste_instructions(&e.sent, &format!("the chat of {}", e.message.to))
                )
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}
