//! The DO runner: the edge of CoAgent that actually executes a chat-written script on the
//! user's machine, after the user has consented (`coagent do run`).
//!
//! It owns: finding an interpreter ([`lang`]), running the script in its own process group
//! with a timeout and cancellation, streaming its output live while keeping a bounded log
//! ([`mod@run`], [`log`]), reading the `# ARTIFACT:` lines a script declares ([`artifact`]),
//! the risk hints shown by `do show` ([`risk`]), and the work-tree diff a DO leaves behind
//! and its undo ([`worktree`]), whether a DO touched the work tree at all ([`watch`]), and
//! finding every process a run left behind, even after CoAgent itself died ([`reap`]).
//!
//! It never decides whether a script may run (consent, approval and hash pinning belong to
//! the core), never prints (output goes to the writer it is given), never touches the
//! user's git index, stash or HEAD, and never blocks a script because of a risk hint.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use coagent_runner::{Cancel, Lang, RunSpec, RunStatus, run};
//!
//! let project = tempfile::tempdir()?;
//! let spec = RunSpec::new(Lang::Sh, "echo hello from the DO", project.path());
//! let cancel = Cancel::new();
//! let _ctrl_c = cancel.cancel_on_interrupt()?; // Ctrl-C kills the script's whole group
//! let outcome = run(&spec, &mut std::io::sink(), &cancel)?;
//! assert_eq!(outcome.status, RunStatus::Succeeded);
//! assert_eq!(outcome.log.render(), b"hello from the DO\n");
//! # Ok(())
//! # }
//! ```

pub mod artifact;
pub mod interrupt;
pub mod lang;
pub mod log;
pub mod reap;
pub mod risk;
pub mod run;
pub mod watch;
pub mod worktree;

pub use artifact::{ArtifactError, artifact_lines, resolve_artifact};
pub use interrupt::{InterruptGuard, on_interrupt};
pub use lang::{Lang, ParseLangError, find_interpreter, find_interpreter_in};
pub use log::BoundedLog;
pub use reap::{MARK_VAR, Owner, kill_marked, spare};
pub use risk::{RiskHint, risk_hints};
pub use run::{Cancel, RunError, RunOutcome, RunSpec, RunStatus, run};
pub use worktree::{
    Change, FileStat, FileStatus, Mode, Snapshot, Tracker, WorktreeError, diff_stat,
};
