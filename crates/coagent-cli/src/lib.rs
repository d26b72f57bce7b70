//! The command line of CoAgent: argument parsing ([`cli`]), one file per subcommand under
//! [`commands`], the terminal-side adapters (clipboard, output). Commands are thin: they
//! read input, call the `coagent` library, and render what it returns as text or `--json`.

#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod clip;
pub mod commands;
pub mod out;
pub mod progress;

use std::process::ExitCode;

use clap::Parser;

/// Runs the command line; returns the process exit code (0 ok, 1 user error, 2 internal).
pub fn main() -> ExitCode {
    #[cfg(all(unix, not(target_os = "macos")))]
    {
        // The clipboard helper (see `clip::hold`), before clap: it is no user's command.
        let mut argv = std::env::args_os().skip(1);
        if argv.next().is_some_and(|a| a == clip::hold::ARG) {
            let rest: Vec<String> = argv.map(|a| a.to_string_lossy().into_owned()).collect();
            return clip::hold::serve(&rest);
        }
    }
    // Usage errors are user errors: exit 1 (clap's own default is 2, our internal-error code).
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let json = args.global.json;
    match commands::run(args) {
        Ok(code) => code,
        Err(e) => out::report_error(&e, json),
    }
}
