//! Scan files, folders or stdin (`-`) with the built-in rules and print the report as
//! JSON, the shape `coagent guard scan --json` prints:
//! `cargo run --release -p coagent-guard --example scan -- PATH...`
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    match coagent_guard::scan_paths(&coagent_guard::Guard::builtin(), &paths) {
        Ok(report) => {
            match serde_json::to_string_pretty(&report) {
                Ok(json) => println!("{json}"),
                Err(e) => eprintln!("error: {e}"),
            }
            if report.findings.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
