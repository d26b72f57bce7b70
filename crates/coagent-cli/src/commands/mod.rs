//! One file per subcommand; [`run`] dispatches.

use std::process::ExitCode;

use crate::app::App;
use crate::cli::{Cli, Command};

mod ack;
mod artifact;
mod backchat;
mod capsule;
mod demo;
mod doctor;
mod dos;
mod guard;
mod ingest;
mod init;
mod meta;
mod outbox;
mod profile;
mod session;
pub(crate) mod start;
mod stats;
mod status;
mod sync;
mod ticker;
mod todo;
mod ui;
mod vendors;
pub(crate) mod watch;
mod wrap;

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let app = App::new(cli.global)?;
    match cli.command {
        Command::Init => init::run(&app),
        Command::Profile(c) => profile::run(&app, c),
        Command::Capsule(c) => capsule::run(&app, c),
        Command::Todo(c) => todo::run(&app, c),
        Command::Start(a) => start::run(&app, a),
        Command::Session(c) => session::run(&app, c),
        Command::Ingest(a) => ingest::run(&app, a),
        Command::Backchat(c) => backchat::run(&app, c),
        Command::Ack(c) => ack::run(&app, c),
        Command::Do(c) => dos::run(&app, c),
        Command::Artifact(c) => artifact::run(&app, c),
        Command::Outbox { copy, all } => outbox::run(&app, copy, all),
        Command::Wrap(a) => wrap::run(&app, a),
        Command::Unwrap {
            wrap,
            latest,
            vendor,
            redact,
        } => wrap::unwrap(&app, wrap, latest, vendor, redact),
        Command::Wraps { session, list } => wrap::list(&app, session, list),
        Command::Sweep { days } => wrap::sweep(&app, days),
        Command::Watch(a) => watch::run(&app, a),
        Command::Ui(a) => ui::run(&app, a),
        Command::Stats {
            anonymous,
            sessions,
            all,
        } => stats::run(&app, anonymous, (!all).then_some(sessions)),
        Command::Sync {
            remote,
            dry_run,
            redact,
        } => sync::run(&app, remote, dry_run, redact),
        Command::Status(a) => status::run(&app, a),
        Command::Doctor(a) => doctor::run(&app, a),
        Command::Ticker(a) => ticker::run(&app, a),
        Command::Vendors => vendors::run(&app),
        Command::Guard(c) => guard::run(&app, c),
        Command::Demo { keep } => demo::run(&app, keep),
        Command::Completions { shell } => meta::completions(shell),
        Command::Man { command, out } => meta::man(&app, &command, out.as_deref()),
    }
}
