//! Runs under way or finished in this run of the UI: each holds the scripts' live output
//! (streamed to the page as server-sent events) and, once ended, the run's report.
//! The run itself is [`coagent::dos::run`], the CLI's `do run`, on a blocking thread.

use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use coagent::dos::{self, BatchReport};
use coagent_runner::Cancel;
use serde::Serialize;

/// Live output kept per run for the page; the run's own log keeps everything.
const LIVE_CAP: usize = 2 << 20;

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Ended {
        report: Box<BatchReport>,
    },
    Failed {
        message: String,
        hint: Option<String>,
    },
}

pub struct Job {
    pub id: String,
    pub dos: Vec<String>,
    output: Mutex<Vec<u8>>,
    outcome: Mutex<Option<Outcome>>,
    pub notify: tokio::sync::Notify,
    pub cancel: Cancel,
}

impl Job {
    /// The live output from byte `from` on, and whether the run has ended.
    pub fn output_since(&self, from: usize) -> (Vec<u8>, bool) {
        let out = self
            .output
            .lock()
            .map(|o| o.get(from..).unwrap_or_default().to_vec())
            .unwrap_or_default();
        (out, self.outcome().is_some())
    }

    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output_since(0).0).into_owned()
    }

    pub fn outcome(&self) -> Option<Outcome> {
        self.outcome.lock().ok().and_then(|o| o.clone())
    }

    pub fn finish(&self, o: Outcome) {
        if let Ok(mut g) = self.outcome.lock() {
            *g = Some(o);
        }
        self.notify.notify_waiters();
    }

    fn push(&self, buf: &[u8]) {
        if let Ok(mut o) = self.output.lock() {
            let room = LIVE_CAP.saturating_sub(o.len());
            o.extend_from_slice(&buf[..buf.len().min(room)]);
        }
        self.notify.notify_waiters();
    }
}

#[derive(Default)]
pub struct Jobs {
    map: Mutex<HashMap<String, Arc<Job>>>,
    next: AtomicU64,
}

impl Jobs {
    pub fn create(&self, dos: Vec<String>) -> Arc<Job> {
        let id = format!("R{}", self.next.fetch_add(1, Ordering::SeqCst) + 1);
        let job = Arc::new(Job {
            id: id.clone(),
            dos,
            output: Mutex::new(Vec::new()),
            outcome: Mutex::new(None),
            notify: tokio::sync::Notify::new(),
            cancel: Cancel::new(),
        });
        if let Ok(mut m) = self.map.lock() {
            m.insert(id, Arc::clone(&job));
        }
        job
    }

    /// Stops every run under way (the server is stopping): each is killed with its
    /// children and recorded as such, as Ctrl-C does under `coagent do run`.
    pub fn cancel_all(&self) {
        if let Ok(m) = self.map.lock() {
            for j in m.values().filter(|j| j.outcome().is_none()) {
                j.cancel.cancel();
            }
        }
    }

    /// Forgets a run that was refused before it started.
    pub fn remove(&self, id: &str) {
        if let Ok(mut m) = self.map.lock() {
            m.remove(id);
        }
    }

    pub fn get(&self, id: &str) -> Option<Arc<Job>> {
        self.map.lock().ok().and_then(|m| m.get(id).cloned())
    }
}

/// The library's progress, told to the page: a line as each DO starts, then its output.
pub struct Live(pub Arc<Job>);

impl dos::Progress for Live {
    fn starting(&mut self, k: usize, n: usize, d: &dos::Do) {
        self.0
            .push(format!("── {} ({k}/{n}) {} ──\n", d.id, d.title).as_bytes());
    }

    fn live(&mut self) -> &mut dyn Write {
        self
    }
}

impl Write for Live {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.push(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
