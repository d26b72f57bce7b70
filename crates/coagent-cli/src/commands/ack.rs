//! `coagent ack list [--pending]`.

use std::process::ExitCode;

use coagent::clock::human_duration;

use crate::app::App;
use crate::cli::AckCmd;
use crate::out;

pub fn run(app: &App, cmd: AckCmd) -> anyhow::Result<ExitCode> {
    let AckCmd::List { pending, limit } = cmd;
    let hub = app.hub()?;
    let list = coagent::ack::list(&hub, pending, limit)?;
    out::emit(
        app.json(),
        &serde_json::json!({"acks": list, "pending": pending}),
        || {
            if list.is_empty() {
                return if pending {
                    "Nothing awaits an ACK.\n".to_string()
                } else {
                    "No ACKs received yet.\n".to_string()
                };
            }
            list.iter()
                .map(|a| match a.waiting_ms {
                    Some(w) => format!(
                        "{}  awaited from {} for {}\n",
                        out::bold(&a.id),
                        a.session.as_deref().unwrap_or("?"),
                        human_duration(w)
                    ),
                    None => format!(
                        "{}  {}  {}{}\n",
                        out::bold(&a.id),
                        if a.status == "accepted" {
                            out::green("accepted")
                        } else {
                            out::red("rejected")
                        },
                        a.refs.join(" "),
                        if a.reason.is_empty() {
                            String::new()
                        } else {
                            format!("  ({})", a.reason)
                        }
                    ),
                })
                .collect()
        },
    );
    Ok(ExitCode::SUCCESS)
}
