//! `coagent sync [--remote NAME|URL] [--dry-run] [--redact]`.

use std::process::ExitCode;

use crate::app::App;
use crate::out;

pub fn run(
    app: &App,
    remote: Option<String>,
    dry_run: bool,
    redact: bool,
) -> anyhow::Result<ExitCode> {
    let mut hub = app.hub()?;
    let opts = coagent_sync::Options {
        remote,
        dry_run,
        redact,
    };
    let r = coagent_sync::sync(&mut hub, &opts)?;
    out::emit(app.json(), &r, || {
        let mut s = String::new();
        if r.dry_run {
            s.push_str(&format!(
                "{} to {} ({}):\n",
                out::bold("Would export"),
                r.remote,
                r.branch
            ));
            for w in &r.exported {
                s.push_str(&format!("  {}  {} record(s)\n", w.path, w.records));
            }
            if r.exported.is_empty() {
                s.push_str("  nothing: the branch already holds every record\n");
            }
            return s;
        }
        let imported: Vec<String> = r
            .imported
            .iter()
            .map(|(k, i)| format!("{k} {} new, {} merged", i.new, i.changed))
            .collect();
        s.push_str(&format!(
            "{} with {} ({})\n",
            out::green("Synced"),
            r.remote,
            r.branch
        ));
        s.push_str(&format!(
            "  imported: {}\n",
            if imported.is_empty() {
                "nothing new".to_string()
            } else {
                imported.join(", ")
            }
        ));
        s.push_str(&format!("  exported: {} file(s)\n", r.exported.len()));
        s.push_str(&match (&r.commit, r.pushed) {
            (Some(c), true) => format!("  commit {} pushed\n", &c[..c.len().min(12)]),
            (Some(c), false) => format!(
                "  commit {} (the remote already had it)\n",
                &c[..c.len().min(12)]
            ),
            (None, true) => "  pushed\n".to_string(),
            (None, false) => "  nothing changed\n".to_string(),
        });
        s
    });
    Ok(ExitCode::SUCCESS)
}
