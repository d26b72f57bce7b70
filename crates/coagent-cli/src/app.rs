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
        // The day's backup of the store, for `coagent doctor` to restore.
        if let Err(e) = coagent::backup::daily(&hub) {
            eprintln!(
                "{} the store's daily backup failed: {e}",
                out::yellow("warning:")
            );
        }
        Ok(hub)
    }

    /// The hub for this command, without the monitor's check; runs whose CoAgent died are
    /// recorded `interrupted` (and what is left of them killed), and said so on stderr.
    pub fn hub_unchecked(&self) -> anyhow::Result<Hub> {
        let dir = Hub::locate(self.global.hub.as_deref(), &self.cwd)?;
        let mut hub = Hub::open(&dir)?;
        match coagent::dos::interrupted::recover(&mut hub) {
            Ok(found) => {
                for i in found {
                    eprintln!("{}", interrupted_note(&i));
                }
            }
            // A busy store is not this command's business: the next one looks again.
            Err(e) => eprintln!(
                "{} interrupted runs were not checked: {e}",
                out::yellow("warning:")
            ),
        }
        Ok(hub)
    }

    /// Opens the hub as `coagent doctor` does: located, but not opened (the store may be
    /// what is broken).
    pub fn hub_dir(&self) -> anyhow::Result<PathBuf> {
        Ok(Hub::locate(self.global.hub.as_deref(), &self.cwd)?)
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

/// What the user reads when a run is found interrupted.
pub fn interrupted_note(i: &coagent::dos::interrupted::Interrupted) -> String {
    let owner = i.owner_pid.map_or_else(
        || "the coagent that ran it".to_string(),
        |p| format!("coagent (pid {p})"),
    );
    let killed = match i.killed {
        0 => String::new(),
        n => format!("; {n} of its processes were still alive and were killed"),
    };
    format!(
        "{} run {} of {} was interrupted: {owner} stopped before it ended{killed}. `coagent do run {}` runs it again; `coagent do result {}` tells the chat.",
        out::yellow("note:"),
        i.run,
        i.do_id,
        i.do_id,
        i.do_id
    )
}
