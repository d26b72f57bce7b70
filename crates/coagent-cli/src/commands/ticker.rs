//! `coagent ticker`: one line for a shell prompt or a tmux status bar.

use std::process::ExitCode;

use coagent::bloat::Level;

use crate::app::App;
use crate::cli::{TickerArgs, TickerFormat};
use crate::out;

pub fn run(app: &App, a: TickerArgs) -> anyhow::Result<ExitCode> {
    let mut hub = app.hub_unchecked()?;
    let open = coagent::status::check(&mut hub)?;
    let t = coagent::ticker::ticker(open.first());
    if app.json() || a.format == TickerFormat::Json {
        out::json(&t);
        return Ok(ExitCode::SUCCESS);
    }
    match a.format {
        TickerFormat::Tmux => {
            let colour = match t.level {
                Level::Ok => "green",
                Level::Warn => "yellow",
                Level::Fail => "red",
                Level::Idle => "default",
            };
            out::print(&format!(
                "#[fg={colour}]{}#[default]\n",
                t.line.replace('#', "##")
            ));
        }
        _ => out::print(&format!("{}\n", t.line)),
    }
    Ok(ExitCode::SUCCESS)
}
