//! `coagent ack list [--pending]`.

use std::process::ExitCode;

use coagent::clock::human_duration;

use crate::app::App;
use crate::cli::AckCmd;
use crate::out;

pub fn run(app: &App, cmd: AckCmd) -> anyhow::Result<ExitCode> {
    let AckCmd::List {
        pending,
        session,
        state,
        list,
    } = cmd;
    let hub = app.hub()?;
    let filter = coagent::ack::Filter {
        pending,
        session: match session {
            Some(s) => Some(coagent::session::get(&hub, &s)?.id),
            None => None,
        },
        state,
        window: list.window(hub.now_ms())?,
    };
    let mut p = out::ListPrinter::start(app.json(), "acks");
    let more = coagent::ack::list(&hub, &filter, |a| {
        p.item(&a, render);
        Ok(())
    })?;
    p.finish(
        more,
        if pending {
            "Nothing awaits an ACK.\n"
        } else {
            "No ACKs received yet.\n"
        },
        serde_json::json!({"pending": pending}),
    );
    Ok(ExitCode::SUCCESS)
}

fn render(a: &coagent::ack::AckEntry) -> String {
    match a.waiting_ms {
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
    }
}
