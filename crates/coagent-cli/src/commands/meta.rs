//! `coagent completions SHELL` and `coagent man`.

use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::out;

pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "coagent", &mut buf);
    out::print(&String::from_utf8_lossy(&buf));
    Ok(ExitCode::SUCCESS)
}

pub fn man() -> anyhow::Result<ExitCode> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut buf)?;
    out::print(&String::from_utf8_lossy(&buf));
    Ok(ExitCode::SUCCESS)
}
