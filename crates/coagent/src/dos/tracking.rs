//! The work tree before a `do run`: the tracker, its first snapshot and the change watch.
//!
//! Reading a large tree is most of what `do run` costs beyond the scripts, so the command
//! may begin it on a thread of its own ([`Early::start`]) while it reads and checks its
//! DOs. A run whose consent question waited on the user must not use it (the tree may
//! have changed meanwhile) and simply begins again.

use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use coagent_runner::watch::ChangeWatch;
use coagent_runner::worktree::{Snapshot, Tracker};

use crate::Result;
use crate::hub::Hub;

/// What a batch of runs starts from.
pub(crate) struct Begun {
    pub tracker: Option<Tracker>,
    pub watch: Option<ChangeWatch>,
    pub before: Option<Snapshot>,
    /// Why no diff will be captured, when none will.
    pub warnings: Vec<String>,
}

/// Opens the tracker and reads the tree (the first snapshot and the watch, at once, on
/// two cores).
pub(crate) fn begin(root: &Path, hub: &Path, diff_limit: u64) -> Begun {
    let mut warnings = Vec::new();
    let tracker = match Tracker::open(root, hub) {
        Ok(t) => Some(t.with_diff_limit(diff_limit)),
        Err(e) => {
            warnings.push(format!("no diff will be captured: {e}"));
            None
        }
    };
    let (watch, before) = match &tracker {
        Some(t) => std::thread::scope(|sc| {
            let w = sc.spawn(move || ChangeWatch::start(root, hub));
            let snap = match t.snapshot() {
                Ok(s) => Some(s),
                Err(e) => {
                    warnings.push(format!("no diff will be captured: {e}"));
                    None
                }
            };
            (w.join().ok(), snap)
        }),
        None => (None, None),
    };
    Begun {
        tracker,
        watch,
        before,
        warnings,
    }
}

/// A [`begin`] under way on its own thread. Dropped unused, it waits for the thread, so
/// that the snapshot's temporary files are removed before the command exits.
pub struct Early {
    handle: Option<JoinHandle<Begun>>,
}

impl Early {
    /// Begins reading the hub's work tree now.
    pub fn start(hub: &Hub) -> Result<Early> {
        let (root, dir): (PathBuf, PathBuf) = (hub.root.clone(), hub.dir.clone());
        let limit = super::run::diff_limit(hub)?;
        let handle = std::thread::Builder::new()
            .name("coagent-snapshot".into())
            .spawn(move || begin(&root, &dir, limit))
            .ok();
        Ok(Early { handle })
    }

    /// What the thread read; `None` if it could not run (the batch then begins afresh).
    pub(crate) fn finish(mut self) -> Option<Begun> {
        self.handle.take()?.join().ok()
    }
}

impl Drop for Early {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}
