//! `coagent todo add | list | done | edit | move | reopen`.

use std::process::ExitCode;

use coagent::todo::{self, Todo, TodoState};

use crate::app::App;
use crate::cli::TodoCmd;
use crate::out;

pub fn run(app: &App, cmd: TodoCmd) -> anyhow::Result<ExitCode> {
    let mut hub = app.hub()?;
    match cmd {
        TodoCmd::Add {
            title,
            acceptance,
            top,
        } => {
            let t = todo::add(&mut hub, &title, &acceptance, top)?;
            out::emit(app.json(), &t, || {
                format!("{} {} {}\n", out::green("Added"), out::bold(&t.id), t.title)
            });
        }
        TodoCmd::List {
            all,
            state,
            limit,
            since,
        } => {
            let window = coagent::store::Window {
                limit: (!all).then_some(limit),
                since: match since {
                    Some(s) => Some(coagent::clock::parse_since(&s, hub.now_ms())?),
                    None => None,
                },
            };
            let (list, more) = todo::listed(&hub, &todo::Filter { all, state, window })?;
            out::emit(
                app.json(),
                &serde_json::json!({"todos": list, "more": more}),
                || {
                    let mut s = render_list(&list);
                    if more {
                        s.push_str(&out::dim(&format!(
                            "… {} shown: --limit N shows more, --all every one.\n",
                            list.len()
                        )));
                    }
                    s
                },
            );
        }
        TodoCmd::Done { id } => {
            let t = todo::done(&mut hub, &id)?;
            out::emit(app.json(), &t, || {
                format!(
                    "{} {} {}{}\n",
                    out::green("Done"),
                    out::bold(&t.id),
                    t.title,
                    closed_by(&t)
                )
            });
        }
        TodoCmd::Edit {
            id,
            title,
            acceptance,
        } => {
            let t = todo::edit(&mut hub, &id, title.as_deref(), acceptance.as_deref())?;
            out::emit(app.json(), &t, || {
                format!(
                    "{} {} {}\n",
                    out::green("Changed"),
                    out::bold(&t.id),
                    t.title
                )
            });
        }
        TodoCmd::Move { id, up, down: _ } => {
            let t = todo::shift(&mut hub, &id, up)?;
            let place = todo::list(&hub, false)?
                .iter()
                .position(|o| o.id == t.id)
                .map_or(0, |i| i + 1);
            out::emit(app.json(), &t, || {
                format!(
                    "{} {} {}: place {place} in the handoff\n",
                    out::green("Moved"),
                    out::bold(&t.id),
                    t.title
                )
            });
        }
        TodoCmd::Reopen { id } => {
            let t = todo::reopen(&mut hub, &id)?;
            out::emit(app.json(), &t, || {
                format!(
                    "{} {} {} ({})\n",
                    out::green("Reopened"),
                    out::bold(&t.id),
                    t.title,
                    t.state.as_str()
                )
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `  (closed by S-…: artifact:A-…, commit:…)`, for a done TODO.
fn closed_by(t: &Todo) -> String {
    match &t.closed_by {
        Some(by) if t.refs.is_empty() => out::dim(&format!("  (closed by {by})")),
        Some(by) => out::dim(&format!("  (closed by {by}: {})", t.refs.join(", "))),
        None => String::new(),
    }
}

fn render_list(list: &[Todo]) -> String {
    if list.is_empty() {
        return "No open TODOs. Add one: coagent todo add \"…\"\n".to_string();
    }
    let mut s = String::new();
    let mut n = 0;
    for t in list {
        let mark = if t.status == "done" {
            "done".to_string()
        } else {
            n += 1;
            if n <= 3 {
                format!("top{n}")
            } else {
                format!("{n:>4}")
            }
        };
        let state = format!("{:<11}", t.state.as_str());
        let state = match t.state {
            TodoState::Open => state,
            TodoState::InProgress => out::yellow(&state),
            TodoState::Done => out::green(&state),
        };
        s.push_str(&format!(
            "{mark:>4}  {}  {state}  {}",
            out::bold(&t.id),
            t.title
        ));
        if !t.acceptance.is_empty() {
            s.push_str(&out::dim(&format!("  (done when: {})", t.acceptance)));
        }
        s.push_str(&closed_by(t));
        s.push('\n');
        if !t.dos.is_empty() {
            let dos: Vec<String> = t
                .dos
                .iter()
                .map(|d| format!("{} {}", d.id, d.state))
                .collect();
            s.push_str(&out::dim(&format!("        DOs: {}\n", dos.join(", "))));
        }
    }
    s
}
