//! What every command shares: the global flags, the hub (located, opened, and checked by
//! the bloat monitor — every command checks the live sessions), the clipboard adapter, and
//! questions that `--yes` answers and that are never asked without a terminal.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::Context;
use coagent::clipboard::Clipboard;
use coagent::hub::Hub;

use crate::cli::Global;
use crate::{clip, out};

pub struct App {
    pub global: Global,
    pub cwd: PathBuf,
}

impl App {
    pub fn new(global: Global) -> anyhow::Result<App> {
        let cwd = std::env::current_dir().context("cannot read the current folder")?;
        Ok(App { global, cwd })
    }

    pub fn json(&self) -> bool {
        self.global.json
    }

    /// The hub for this command, after the bloat monitor's check of its open sessions.
    pub fn hub(&self) -> anyhow::Result<Hub> {
        let mut hub = self.hub_unchecked()?;
        coagent::status::check(&mut hub)?;
        Ok(hub)
    }

    pub fn hub_unchecked(&self) -> anyhow::Result<Hub> {
        let dir = Hub::locate(self.global.hub.as_deref(), &self.cwd)?;
        Ok(Hub::open(&dir)?)
    }

    pub fn clipboard(&self) -> Box<dyn Clipboard> {
        clip::choose(self.global.no_clipboard)
    }

    /// Asks a yes/no question on the terminal; `--yes` answers yes; without a terminal the
    /// question is not asked and the command stops with a hint.
    pub fn confirm(&self, question: &str) -> anyhow::Result<bool> {
        if self.global.yes {
            return Ok(true);
        }
        if !std::io::stdin().is_terminal() {
            return Err(out::user(
                format!("{question} — cannot ask without a terminal"),
                Some("pass --yes to answer yes"),
            ));
        }
        eprint!("{question} [y/N] ");
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the answer")?;
        Ok(matches!(
            line.trim().to_ascii_lowercase().as_str(),
            "y" | "yes"
        ))
    }
}
