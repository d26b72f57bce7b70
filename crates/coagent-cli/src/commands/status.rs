//! `coagent status`: the hub, the capsule, the sessions, every bloat signal.

use std::process::ExitCode;

use coagent::bloat::Level;

use crate::app::App;
use crate::cli::StatusArgs;
use crate::out;

pub fn level_text(l: Level) -> String {
    let s = format!("{} {}", l.symbol(), l.as_str());
    match l {
        Level::Ok => out::green(&s),
        Level::Warn => out::yellow(&s),
        Level::Fail => out::red(&s),
        Level::Idle => out::dim(&s),
    }
}

pub fn run(app: &App, a: StatusArgs) -> anyhow::Result<ExitCode> {
    let mut hub = app.hub_unchecked()?;
    let st = coagent::status::status(&mut hub, a.recent)?;
    out::emit(app.json(), &st, || {
        let mut s = format!("{} {}\n", out::bold("hub"), st.hub.display());
        s.push_str(&format!(
            "{} v{} (sha256 {}){}\n",
            out::bold("capsule"),
            st.capsule.version,
            &st.capsule.sha256[..8],
            if st.capsule.changed {
                out::red("  policy.md changed: run `coagent capsule bump minor`")
            } else {
                String::new()
            }
        ));
        s.push_str(&format!(
            "{} {} open · {} sessions in all\n\n",
            out::bold("todos"),
            st.todos_open,
            st.sessions_total
        ));
        s.push_str(&format!(
            "{} {}\n",
            out::bold("level"),
            level_text(st.level)
        ));
        if !st.interrupted.is_empty() {
            s.push_str(&format!(
                "{} {} (its coagent stopped before it ended): `coagent do run {}` runs it again\n",
                out::yellow("interrupted"),
                st.interrupted.join(", "),
                st.interrupted[0]
            ));
        }
        if st.sessions.is_empty() {
            s.push_str(
                "\nNo sessions yet. Start one: coagent start --vendor claude --goal \"…\"\n",
            );
        }
        for ss in &st.sessions {
            let x = &ss.session;
            s.push_str(&format!(
                "\n{} {}  {}  {}  capsule v{}  echo {}\n",
                if x.state == "live" || x.state == "booting" {
                    level_text(ss.level)
                } else {
                    out::dim(&format!("  {}", x.state))
                },
                out::bold(&x.id),
                x.vendor,
                x.state,
                if ss.capsule_outdated {
                    out::red(&format!("{} ✗", x.capsule_version))
                } else {
                    x.capsule_version.clone()
                },
                match x.echo.as_str() {
                    "verified" => out::green("verified"),
                    "stale" => out::red("stale"),
                    _ => out::yellow("missing"),
                }
            ));
            if !x.goal.is_empty() {
                s.push_str(&format!("    goal: {}\n", x.goal));
            }
            if ss.capsule_outdated {
                s.push_str(&format!(
                    "    {} this chat follows v{}, v{} is current; wrap it and paste the respawn into a new chat (it boots with v{}): coagent wrap --session {}\n",
                    out::red("capsule outdated:"),
                    x.capsule_version,
                    ss.capsule_current,
                    ss.capsule_current,
                    x.id
                ));
            }
            for sig in &ss.signals {
                s.push_str(&format!(
                    "    {:<17} {:>16}  threshold {:<6} {}{}\n",
                    sig.name,
                    sig.shown,
                    sig.threshold,
                    level_text(sig.level),
                    if sig.note.is_empty() {
                        String::new()
                    } else {
                        out::dim(&format!("  ({})", sig.note))
                    }
                ));
            }
            if let Some(b) = &ss.tokens {
                s.push_str(&super::stats::book_text(b, "    ", 6));
            }
            for e in &ss.drift {
                s.push_str(&format!(
                    "    {} t{:<3} {:<15} {}\n",
                    out::dim("drift"),
                    e.turn,
                    e.kind,
                    e.excerpt
                ));
            }
            if ss.wrap_waits {
                s.push_str(&format!(
                    "    {} a result is on its way to the chat: ingest its answer, then coagent wrap --session {}\n",
                    out::yellow("wrap next:"),
                    x.id
                ));
            } else if ss.level == Level::Fail {
                s.push_str(&format!(
                    "    {} coagent wrap --session {}\n",
                    out::red("wrap now:"),
                    x.id
                ));
            }
        }
        let open = st.sessions.iter().filter(|ss| ss.session.is_open()).count();
        if open > 1 {
            s.push_str(&format!(
                "\n{open} sessions are open: `coagent session close ID` ends one you no longer use (`coagent session list` shows them all).\n"
            ));
        }
        s
    });
    Ok(ExitCode::SUCCESS)
}
