//! The `coagent` binary: parse, run, print the whole error chain, map it to an exit code.
//! Everything else lives in the `coagent_cli` and `coagent` libraries.

use std::process::ExitCode;

fn main() -> ExitCode {
    coagent_cli::main()
}
