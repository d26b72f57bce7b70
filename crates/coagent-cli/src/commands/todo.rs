//! `coagent todo add | list | done`.

use std::process::ExitCode;

use coagent::todo;

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
        TodoCmd::List { all } => {
            let list = todo::list(&hub, all)?;
            out::emit(app.json(), &serde_json::json!({"todos": list}), || {
                if list.is_empty() {
                    return "No open TODOs. Add one: coagent todo add \"…\"\n".to_string();
                }
                let mut s = String::new();
                let mut n = 0;
                for t in &list {
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
                    s.push_str(&format!("{mark:>4}  {}  {}", out::bold(&t.id), t.title));
                    if !t.acceptance.is_empty() {
                        s.push_str(&out::dim(&format!("  (done when: {})", t.acceptance)));
                    }
                    s.push('\n');
                }
                s
            });
        }
        TodoCmd::Done { id } => {
            let t = todo::done(&mut hub, &id)?;
            out::emit(app.json(), &t, || {
                format!("{} {} {}\n", out::green("Done"), out::bold(&t.id), t.title)
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}
