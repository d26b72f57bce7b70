//! `coagent profile show`: public entries as they go into capsules, private ones masked.

use std::process::ExitCode;

use crate::app::App;
use crate::cli::ProfileCmd;
use crate::out;

pub fn run(app: &App, cmd: ProfileCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        ProfileCmd::Show => {
            let hub = app.hub()?;
            let p = hub.profile()?;
            let public = p.public_entries();
            let private = p.private_masked();
            let value = serde_json::json!({"path": hub.path(coagent::profile::FILE), "public": public, "private": private});
            out::emit(app.json(), &value, || {
                let mut s = format!("{}\n", out::bold("Public (goes into every capsule)"));
                if public.is_empty() {
                    s.push_str("  (empty)\n");
                }
                for e in &public {
                    s.push_str(&format!("  {}: {}\n", e.key, e.values.join(" | ")));
                }
                s.push_str(&format!(
                    "{}\n",
                    out::bold("Private (never leaves this machine)")
                ));
                if private.is_empty() {
                    s.push_str("  (none)\n");
                }
                for e in &private {
                    s.push_str(&format!("  {}: {}\n", e.key, e.masked));
                }
                s
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}
