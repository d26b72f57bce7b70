//! `coagent completions SHELL` and `coagent man`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::CommandFactory;

use crate::app::App;
use crate::cli::Cli;
use crate::out;

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "coagent", &mut buf);
    out::print(&String::from_utf8_lossy(&buf));
    Ok(ExitCode::SUCCESS)
}

/// The page of `coagent` or of one of its commands; with `out`, every page written to a
/// folder (clap_mangen names them `coagent-do-run.1`, as `man coagent-do-run` finds them).
pub fn man(app: &App, command: &[String], out: Option<&Path>) -> anyhow::Result<ExitCode> {
    if let Some(dir) = out {
        std::fs::create_dir_all(dir)
            .map_err(|e| coagent::Error::io(format!("cannot create {}", dir.display()), e))?;
        clap_mangen::generate_to(Cli::command(), dir)
            .map_err(|e| coagent::Error::io(format!("cannot write into {}", dir.display()), e))?;
        let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| coagent::Error::io(format!("cannot read {}", dir.display()), e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "1"))
            .collect();
        pages.sort();
        out::emit(app.json(), &serde_json::json!({"pages": pages}), || {
            format!(
                "{} man pages in {}\n  {}\n",
                pages.len(),
                dir.display(),
                out::dim(&format!(
                    "read one with `man -l {}`",
                    dir.join("coagent-do-run.1").display()
                ))
            )
        });
        return Ok(ExitCode::SUCCESS);
    }
    let mut cmd = Cli::command();
    cmd.build();
    let mut page = &cmd;
    for name in command {
        page = page.find_subcommand(name).ok_or_else(|| {
            out::user(
                format!("`coagent {}` is not a command", command.join(" ")),
                Some("`coagent --help` lists the commands"),
            )
        })?;
    }
    let mut buf = Vec::new();
    clap_mangen::Man::new(page.clone()).render(&mut buf)?;
    out::print(&String::from_utf8_lossy(&buf));
    Ok(ExitCode::SUCCESS)
}
