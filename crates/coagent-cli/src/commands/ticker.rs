//! `coagent ticker`: one line for a shell prompt or a tmux status bar.

use std::process::ExitCode;

use coagent::bloat::Level;

use crate::app::App;
use crate::cli::{TickerArgs, TickerFormat};
use crate::out;

pub fn run(app: &App, a: TickerArgs) -> anyhow::Result<ExitCode> {
    // A prompt runs this constantly: first try the status files alone (no store opened,
    // nothing written); the full check runs when anything changed since they were written.
    let dir = coagent::hub::Hub::locate(app.global.hub.as_deref(), &app.cwd)?;
    let now = coagent::clock::Clock::from_env()?.now_ms();
    let t = match coagent::ticker::fast(&dir, now) {
        Some(t) => t,
        None => {
            let mut hub = coagent::hub::Hub::open(&dir)?;
            let open = coagent::status::check(&mut hub)?;
            coagent::ticker::ticker(open.first())
        }
    };
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
