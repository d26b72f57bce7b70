//! `coagent session list | close ID | abandon ID`.

use std::process::ExitCode;

use coagent::clock::human_duration;
use coagent::session::{self, Ending};

use crate::app::App;
use crate::cli::SessionCmd;
use crate::out;

pub fn run(app: &App, cmd: SessionCmd) -> anyhow::Result<ExitCode> {
    let mut hub = app.hub()?;
    let (typed, how) = match cmd {
        SessionCmd::List { open, state, list } => {
            let filter = session::Filter {
                open,
                state,
                window: list.window(hub.now_ms())?,
            };
            let now = hub.now_ms();
            let mut p = out::ListPrinter::start(app.json(), "sessions");
            let mut open_seen = 0usize;
            let more = session::list(&hub, &filter, |l| {
                open_seen += usize::from(l.session.is_open());
                p.item(&l, |l| render_one(l, now));
                Ok(())
            })?;
            let json = app.json();
            p.finish(
                more,
                "No sessions yet: `coagent start --vendor claude --goal \"…\"` opens one.\n",
                serde_json::json!({}),
            );
            if !json && open_seen > 1 {
                out::print(&format!(
                    "\n{open_seen} sessions are open: `coagent session close ID` ends one you no longer use.\n"
                ));
            }
            return Ok(ExitCode::SUCCESS);
        }
        SessionCmd::Close { id } => (id, Ending::Closed),
        SessionCmd::Abandon { id } => (id, Ending::Abandoned),
    };
    let s = session::end(&mut hub, &typed, how)?;
    out::emit(app.json(), &s, || {
        format!(
            "{} session {} ({}): it takes no more replies; its records stay.\n",
            out::green(match how {
                Ending::Closed => "Closed",
                Ending::Abandoned => "Abandoned",
            }),
            out::bold(&s.id),
            s.vendor
        )
    });
    Ok(ExitCode::SUCCESS)
}

fn render_one(l: &session::Listed, now: i64) -> String {
    let x = &l.session;
    let state = if x.is_open() {
        out::green(&x.state)
    } else {
        out::dim(&x.state)
    };
    let mut s = format!(
        "{}  {:<9} {:<8} echo {:<8} {} ago",
        out::bold(&x.id),
        state,
        x.vendor,
        x.echo,
        human_duration(now - x.created_at)
    );
    if let Some(w) = &x.from_wrap {
        s.push_str(&format!("  from {w}"));
    }
    if !l.successors.is_empty() {
        s.push_str(&format!("  → {}", l.successors.join(", ")));
    }
    if !x.goal.is_empty() {
        s.push_str(&format!("  {}", out::dim(&x.goal)));
    }
    s.push('\n');
    s
}
