//! `coagent ui`: serves the page (crate `coagent-ui`) and, on this thread, does what
//! `coagent watch` does until Ctrl-C.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::app::App;
use crate::cli::{UiArgs, WatchArgs};
use crate::commands::watch;
use crate::out;

pub fn run(app: &App, a: UiArgs) -> anyhow::Result<ExitCode> {
    let hub = app.hub()?;
    let stop = Arc::new(AtomicBool::new(false));
    let _interrupts = coagent_runner::on_interrupt(Arc::clone(&stop))
        .map_err(|e| coagent::Error::io("cannot watch for Ctrl-C", e))?;
    let running = coagent_ui::start(
        coagent_ui::Options {
            hub: hub.dir.clone(),
            port: a.port,
            bind: a.bind,
            allow_remote_bind: a.allow_remote_bind,
        },
        Arc::clone(&stop),
    )
    .map_err(|e| out::user(e.to_string(), e.hint().as_deref()))?;
    let url = running.url();
    let opened = !a.no_open && coagent_ui::open_browser(&url);
    if app.json() {
        out::print(&format!(
            "{}\n",
            serde_json::json!({"event": "ui.started", "url": url, "listening": running.addrs, "opened": opened})
        ));
    } else {
        let how = if opened {
            "opened in your browser"
        } else {
            "open it in your browser"
        };
        out::print(&format!(
            "{} {}\n  {how}; the address carries this run's secret: keep it to yourself. Ctrl-C stops.\n",
            out::green("CoAgent's page:"),
            out::bold(&url)
        ));
    }
    let watching = coagent::watch::lock(&hub);
    match watching {
        Ok(lock) => {
            let args = WatchArgs {
                once: false,
                interval: None,
            };
            let r = watch::watch_until(app, &args, hub, lock, &stop);
            stop.store(true, Ordering::SeqCst);
            running.wait();
            r?;
        }
        Err(e) => {
            // Another `coagent watch` keeps the inbox and the monitor: the page alone here.
            eprintln!(
                "{} {e}; the page runs without its own watcher",
                out::yellow("note:")
            );
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(200));
            }
            running.wait();
        }
    }
    Ok(ExitCode::SUCCESS)
}
