//! What one run of `coagent ui` holds in memory: the hub's folder, the run's secret and
//! CSRF token, the hosts it answers to, the last action's outcome for the page to show,
//! and the runs under way. The hub itself is opened per request, as a CLI command does.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::{Options, jobs, view};

pub struct State {
    pub hub: PathBuf,
    /// The `Host` values the page answers to (DNS rebinding: any other name is refused).
    pub hosts: Vec<String>,
    pub secret: String,
    pub csrf: String,
    /// The cookie's name carries the port: cookies are shared by every port of a host.
    pub cookie: String,
    pub flash: Mutex<Option<Flash>>,
    pub jobs: jobs::Jobs,
    pub view: view::View,
    /// Set when the server is to stop: long-lived streams end on it.
    pub stop: Arc<AtomicBool>,
}

/// The outcome of the last action, shown at the top of the page until the next one.
#[derive(Debug, Clone, Serialize)]
pub struct Flash {
    /// `ok`, `error`, or the report's kind (`ingest`, `start`, `wrap`…).
    pub kind: String,
    pub title: String,
    /// The command's report, as `--json` prints it.
    pub data: serde_json::Value,
    /// The CLI command that does the same.
    pub cli: String,
}

impl State {
    pub fn new(
        opts: &Options,
        addrs: &[SocketAddr],
        secret: String,
        csrf: String,
        stop: Arc<AtomicBool>,
    ) -> Arc<State> {
        let port = addrs.first().map_or(opts.port, |a| a.port());
        let mut hosts = vec![
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ];
        for a in addrs {
            let h = crate::host_of(*a);
            if !hosts.contains(&h) {
                hosts.push(h);
            }
        }
        Arc::new(State {
            hub: opts.hub.clone(),
            hosts,
            secret,
            csrf,
            cookie: format!("coagent_ui_{port}"),
            flash: Mutex::new(None),
            jobs: jobs::Jobs::default(),
            view: view::View::new(),
            stop,
        })
    }

    pub fn set_flash(&self, f: Flash) {
        if let Ok(mut g) = self.flash.lock() {
            *g = Some(f);
        }
    }

    pub fn flash(&self) -> Option<Flash> {
        self.flash.lock().ok().and_then(|g| g.clone())
    }
}
