//! `coagent init`: create the hub.

use std::process::ExitCode;

use coagent::clock::Clock;
use coagent::hub::Hub;

use crate::app::App;
use crate::out;

pub fn run(app: &App) -> anyhow::Result<ExitCode> {
    // `--hub DIR` names where to create it (DIR or DIR/.coagent); then nesting is deliberate.
    let (root, nested_ok) = match &app.global.hub {
        Some(d) => {
            let d = if d.is_absolute() {
                d.clone()
            } else {
                app.cwd.join(d)
            };
            let root = if d.file_name().is_some_and(|n| n == coagent::hub::HUB_DIR) {
                d.parent().map(|p| p.to_path_buf()).unwrap_or(d)
            } else {
                d
            };
            std::fs::create_dir_all(&root)
                .map_err(|e| coagent::Error::io(format!("cannot create {}", root.display()), e))?;
            (root, true)
        }
        None => (app.cwd.clone(), false),
    };
    let report = Hub::init(&root, nested_ok, Clock::from_env()?)?;
    out::emit(app.json(), &report, || {
        format!(
            "{} {}\n  capsule v{} (sha256 {}), from {}\n{}\nNext:\n  1. Edit {} (your name, preferences; private fields stay local).\n  2. coagent todo add \"…\"                      queue the first piece of work\n  3. coagent start --vendor claude --goal \"…\"  boot a chat\n",
            out::green("Created"),
            report.hub.display(),
            report.capsule_version,
            &report.capsule_sha256[..8],
            coagent::capsule::POLICY_FILE,
            if report.git {
                String::new()
            } else {
                no_git_note()
            },
            report.hub.join(coagent::profile::FILE).display(),
        )
    });
    Ok(ExitCode::SUCCESS)
}

/// What a project outside git gets, and what it costs.
fn no_git_note() -> String {
    format!(
        "\n{} this folder is not a git repository. DOs' diffs and `do undo` still work:\n  CoAgent keeps its own history of the project in .coagent/cache/shadow.git. That costs\n  disk in the hub (a compressed copy of the project's files and of each version a DO\n  writes, never pruned: delete that folder to reclaim it), results record no commits, and\n  your own version control, if any, sees none of it.\n  To use git instead, run `git init` here (now or later: the next DO uses it).\n",
        out::yellow("note:")
    )
}
