//! What one run of `coagent ui` holds in memory: the hub's folder, the run's secret and
//! CSRF token, the hosts it answers to, the recent actions' outcomes for the page to show,
//! and the runs under way. The hub itself is opened per request, as a CLI command does.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
    /// The newest actions' outcomes, each under the number its redirect carries
    /// (`/?report=N`): a tab shows the report of its own action, never another tab's.
    reports: Mutex<VecDeque<(u64, Flash)>>,
    next_report: AtomicU64,
    pub jobs: jobs::Jobs,
    pub view: view::View,
    /// Set when the server is to stop: long-lived streams end on it.
    pub stop: Arc<AtomicBool>,
}

/// How many outcomes are kept: enough for every tab a user keeps open; an older report's
/// link shows the page without it.
const KEPT_REPORTS: usize = 32;

/// The outcome of an action, shown at the top of the page its redirect opens.
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
            reports: Mutex::new(VecDeque::new()),
            next_report: AtomicU64::new(1),
            jobs: jobs::Jobs::default(),
            view: view::View::new(),
            stop,
        })
    }

    /// Keeps an outcome; its number goes in the redirect to the page that shows it.
    pub fn report(&self, f: Flash) -> u64 {
        let n = self.next_report.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut g) = self.reports.lock() {
            if g.len() == KEPT_REPORTS {
                g.pop_front();
            }
            g.push_back((n, f));
        }
        n
    }

    /// The outcome kept under `n`, if it is still kept.
    pub fn reported(&self, n: Option<u64>) -> Option<Flash> {
        let n = n?;
        let g = self.reports.lock().ok()?;
        g.iter().find(|(k, _)| *k == n).map(|(_, f)| f.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flash(title: &str) -> Flash {
        Flash {
            kind: "ok".into(),
            title: title.into(),
            data: serde_json::Value::Null,
            cli: String::new(),
        }
    }

    fn state() -> Arc<State> {
        let opts = Options {
            hub: PathBuf::from("/nonexistent/.coagent"),
            port: 0,
            bind: None,
            allow_remote_bind: false,
        };
        State::new(&opts, &[], "s".into(), "c".into(), Arc::default())
    }

    #[test]
    fn each_action_is_reported_under_its_own_number_and_the_oldest_are_let_go() {
        let st = state();
        let a = st.report(flash("a"));
        let b = st.report(flash("b"));
        assert_eq!(st.reported(Some(a)).map(|f| f.title).as_deref(), Some("a"));
        assert_eq!(st.reported(Some(b)).map(|f| f.title).as_deref(), Some("b"));
        assert!(
            st.reported(None).is_none(),
            "a page opened without a report shows none"
        );
        for i in 0..KEPT_REPORTS {
            st.report(flash(&i.to_string()));
        }
        assert!(st.reported(Some(a)).is_none());
        assert!(st.reported(Some(b + KEPT_REPORTS as u64)).is_some());
    }
}
