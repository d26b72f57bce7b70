//! `coagent capsule show | check | bump | diff`.

use std::process::ExitCode;

use coagent::capsule::{self, Level};
use coagent::template::Templates;

use crate::app::App;
use crate::cli::{BumpLevel, CapsuleCmd};
use crate::out;

pub fn run(app: &App, cmd: CapsuleCmd) -> anyhow::Result<ExitCode> {
    let mut hub = app.hub()?;
    match cmd {
        CapsuleCmd::Show => {
            let cap = capsule::current(&hub.dir)?;
            let templates = Templates::load(Some(&hub.dir))?;
            let text = coagent::session::capsule_block(&hub, &templates, &cap)?;
            let bpoe = coagent::bpoe::render(&templates, &cap.echo(), "S-…")?;
            let value = serde_json::json!({"version": cap.version, "sha256": cap.sha256, "echo": cap.echo(), "capsule": text, "bpoe": bpoe});
            out::emit(app.json(), &value, || format!("{text}\n{bpoe}"));
        }
        CapsuleCmd::Check => {
            let st = capsule::state(&hub.dir)?;
            out::emit(app.json(), &st, || {
                if st.changed {
                    format!(
                        "{} policy.md changed since v{} was locked (sha256 {} → {})\n  {} run `coagent capsule bump minor` (or patch/major); `coagent capsule diff` shows the change\n",
                        out::red("changed:"),
                        st.version,
                        &st.sha256[..8],
                        &st.current_sha256[..8],
                        out::yellow("hint:")
                    )
                } else {
                    format!(
                        "{} capsule v{} (sha256 {}) matches policy.md; chats echo `{}`\n",
                        out::green("ok:"),
                        st.version,
                        &st.sha256[..8],
                        st.echo
                    )
                }
            });
            return Ok(if st.changed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            });
        }
        CapsuleCmd::Bump { level } => {
            let level = match level {
                BumpLevel::Major => Level::Major,
                BumpLevel::Minor => Level::Minor,
                BumpLevel::Patch => Level::Patch,
            };
            let now = hub.now_ms();
            let b = capsule::bump(&hub.dir, level, now)?;
            hub.store.tx(|tx| {
                coagent::store::event(
                    tx,
                    now,
                    None,
                    "capsule.bumped",
                    &serde_json::json!({"from": b.from, "to": b.to}),
                )
            })?;
            out::emit(app.json(), &b, || {
                format!(
                    "{} capsule v{} → v{} (sha256 {}){}\n  new sessions echo `{}`\n",
                    out::green("Locked"),
                    b.from,
                    b.to,
                    &b.sha256[..8],
                    if b.content_changed {
                        ""
                    } else {
                        "; policy.md had not changed"
                    },
                    b.echo
                )
            });
        }
        CapsuleCmd::Diff { a, b } => {
            let d = capsule::diff(&hub.dir, a.as_deref(), b.as_deref())?;
            let value = serde_json::json!({"diff": d});
            out::emit(app.json(), &value, || {
                if d.is_empty() {
                    "no differences\n".to_string()
                } else {
                    d.clone()
                }
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}
