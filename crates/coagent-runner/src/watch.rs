//! Whether a DO touched the work tree at all, known without asking git.
//!
//! A snapshot of a large work tree costs git an `lstat` of every file (10 ms for 5,000
//! files on a small VM); most DOs only read (run the tests, grep, print a file) and change
//! nothing. [`ChangeWatch`] puts an inotify watch on every directory of the tree (the hub,
//! `.git` and the usual heavy folders left out) before a DO runs; when the DO has
//! ended, the kernel's queue says whether anything was created, written, removed, moved or
//! had its mode changed. Nothing queued means the tree is as it was, and the caller reuses
//! the snapshot it had. Events are queued by the kernel while the DO's own system calls
//! run, so when the DO's process group is gone its events are all there: no thread, no
//! waiting.
//!
//! It only ever errs towards "changed": where inotify is missing (not Linux), a watch
//! cannot be added (the user's watch limit), the tree has more than [`MAX_DIRS`]
//! directories, or the queue overflowed, [`ChangeWatch::changed`] says `true` and the
//! caller takes a snapshot as it would without this module. After a change it watches the
//! tree afresh ([`ChangeWatch::rearm`]: new directories, and ignore rules the DO may have
//! edited).

use std::path::{Path, PathBuf};

#[cfg(target_os = "linux")]
use crate::worktree::SHADOW_EXCLUDES;

/// Directories watched at most; a larger tree is snapshotted after every DO.
pub const MAX_DIRS: usize = 20_000;
/// Changed places named at most; beyond, the whole tree is read again.
#[cfg(target_os = "linux")]
const MAX_PLACES: usize = 64;

/// What a DO touched, as far as the watch can tell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Touched {
    /// Nothing in the tree was created, written, moved, removed or had its mode changed.
    Nothing,
    /// Only under these places (relative to the root, `/`-separated): an entry that
    /// changed and is still there (a file, or a new folder), or a folder whose entries
    /// changed and went (or were too many to name). Reading them whole sees every change.
    Under(Vec<String>),
    /// Anything may have changed.
    Anything,
}

/// Watches a work tree for any change between [`ChangeWatch::reset`] and
/// [`ChangeWatch::changed`].
pub struct ChangeWatch {
    root: PathBuf,
    hub: PathBuf,
    inner: Option<imp::Inner>,
    /// A change was seen: the watches must be set up again, for these places.
    stale: Option<Touched>,
    /// The instance after [`ChangeWatch::finish`], closed when the watch is dropped.
    finished: Option<imp::Inner>,
}

impl std::fmt::Debug for ChangeWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeWatch")
            .field("root", &self.root)
            .field("active", &self.is_active())
            .finish()
    }
}

impl ChangeWatch {
    /// Starts watching the tree under `root`, leaving out `hub`. Never fails: an inactive
    /// watch answers "changed" every time.
    pub fn start(root: &Path, hub: &Path) -> ChangeWatch {
        let root = dunce::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
        let hub = dunce::canonicalize(hub).unwrap_or_else(|_| hub.to_path_buf());
        let inner = imp::Inner::start(&root, &hub);
        ChangeWatch {
            root,
            hub,
            inner,
            stale: None,
            finished: None,
        }
    }

    /// Whether the watch can tell anything (false: every answer is "changed").
    pub fn is_active(&self) -> bool {
        self.inner.is_some()
    }

    /// Stops watching, for a watch whose last answer has been read. Closing an inotify
    /// instance that still has its watches waits for the kernel's grace period (13 to
    /// 20 ms here, in every other `do run`); removed early, they are freed in the
    /// background meanwhile. Answers "changed" until a [`ChangeWatch::reset`] starts it
    /// afresh.
    pub fn finish(&mut self) {
        if let Some(mut inner) = self.inner.take() {
            inner.unwatch();
            self.finished = Some(inner);
        }
    }

    /// Forgets what happened so far: call it right before the DO starts.
    pub fn reset(&mut self) {
        self.rearm();
        if let Some(i) = &mut self.inner
            && i.drain(&self.root) != Touched::Nothing
        {
            // Something happened meanwhile (the user's editor, a build): watch afresh so
            // the next answer is about the DO alone.
            self.inner = imp::Inner::start(&self.root, &self.hub);
        }
    }

    /// What may have changed since [`ChangeWatch::reset`]. After a change,
    /// [`ChangeWatch::rearm`] must run before the next DO (its old watches miss new
    /// directories and ignore rules the DO may have edited).
    pub fn touched(&mut self) -> Touched {
        let touched = match self.inner.as_mut() {
            Some(i) => i.drain(&self.root),
            None => Touched::Anything,
        };
        if touched != Touched::Nothing {
            self.stale = Some(touched.clone());
        }
        touched
    }

    /// Whether anything in the tree may have changed since [`ChangeWatch::reset`].
    pub fn changed(&mut self) -> bool {
        self.touched() != Touched::Nothing
    }

    /// Watches what a change added (new folders) before the next DO; [`ChangeWatch::reset`]
    /// calls it. Only the changed places are walked again: the watches elsewhere still
    /// hold, and ignore rules play no part in what is watched.
    pub fn rearm(&mut self) {
        match self.stale.take() {
            None | Some(Touched::Nothing) => {}
            Some(Touched::Under(places)) => {
                let added = self
                    .inner
                    .as_mut()
                    .is_some_and(|i| i.watch_under(&self.root, &self.hub, &places));
                if !added {
                    self.inner = imp::Inner::start(&self.root, &self.hub);
                }
            }
            Some(Touched::Anything) => self.inner = imp::Inner::start(&self.root, &self.hub),
        }
    }
}

/// The directories under `root` worth watching, or `None` past [`MAX_DIRS`] or when a
/// directory cannot be read. Left out: `.git`, the hub, and the heavy folders a shadow
/// snapshot leaves out too (`node_modules`, `.venv`, `target`…), whose churn git ignores
/// in practice. Other ignore rules are not applied on purpose: matching every file against
/// them costs more than the walk (6 ms for 5,000 files), and a watched directory that git
/// ignores only costs a snapshot that finds nothing, never a change missed.
#[cfg(target_os = "linux")]
fn watched_dirs(root: &Path, hub: &Path) -> Option<Vec<PathBuf>> {
    dirs_from(root.to_path_buf(), hub)
}

/// `top` and the directories under it worth watching (see [`watched_dirs`]).
#[cfg(target_os = "linux")]
fn dirs_from(top: PathBuf, hub: &Path) -> Option<Vec<PathBuf>> {
    let mut dirs = vec![top];
    let mut next = 0;
    while next < dirs.len() {
        let dir = dirs[next].clone();
        next += 1;
        for entry in std::fs::read_dir(&dir).ok()? {
            let entry = entry.ok()?;
            // The entry's own type (a symlink to a folder is not followed).
            if !entry.file_type().ok()?.is_dir() {
                continue;
            }
            let name = entry.file_name();
            let path = entry.path();
            if name == ".git" || path == hub || SHADOW_EXCLUDES.iter().any(|x| name == *x) {
                continue;
            }
            dirs.push(path);
            if dirs.len() > MAX_DIRS {
                return None;
            }
        }
    }
    Some(dirs)
}

#[cfg(target_os = "linux")]
mod imp {
    use std::collections::{BTreeSet, HashMap};
    use std::path::Path;

    use inotify::{EventMask, Inotify, WatchDescriptor, WatchMask};

    use super::{MAX_PLACES, Touched, dirs_from, entry_or_folder, folder_of, watched_dirs};

    const MASK: WatchMask = WatchMask::MODIFY
        .union(WatchMask::ATTRIB)
        .union(WatchMask::CLOSE_WRITE)
        .union(WatchMask::CREATE)
        .union(WatchMask::DELETE)
        .union(WatchMask::DELETE_SELF)
        .union(WatchMask::MOVE_SELF)
        .union(WatchMask::MOVED_FROM)
        .union(WatchMask::MOVED_TO)
        .union(WatchMask::ONLYDIR)
        .union(WatchMask::DONT_FOLLOW);

    pub(super) struct Inner {
        inotify: Inotify,
        /// Each watched directory, relative to the root (`""` for the root).
        dirs: HashMap<WatchDescriptor, String>,
        buffer: Vec<u8>,
    }

    impl Inner {
        pub(super) fn start(root: &Path, hub: &Path) -> Option<Inner> {
            let found = watched_dirs(root, hub)?;
            let mut inner = Inner {
                inotify: Inotify::init().ok()?,
                dirs: HashMap::with_capacity(found.len()),
                buffer: vec![0; 64 * 1024],
            };
            inner.add(root, &found).then_some(inner)
        }

        /// Watches the folders under the changed `places` too (new ones among them).
        pub(super) fn watch_under(&mut self, root: &Path, hub: &Path, places: &[String]) -> bool {
            for place in places {
                let top = root.join(place);
                if !std::fs::symlink_metadata(&top).is_ok_and(|m| m.is_dir()) {
                    continue;
                }
                let Some(found) = dirs_from(top, hub) else {
                    return false;
                };
                if !self.add(root, &found) {
                    return false;
                }
            }
            self.dirs.len() <= super::MAX_DIRS
        }

        /// Adds a watch on each of `found`; false when one cannot be added.
        fn add(&mut self, root: &Path, found: &[std::path::PathBuf]) -> bool {
            let mut watches = self.inotify.watches();
            for d in found {
                match watches.add(d, MASK) {
                    Ok(wd) => {
                        let Some(rel) = d.strip_prefix(root).ok().and_then(|r| {
                            r.components()
                                .map(|c| c.as_os_str().to_str())
                                .collect::<Option<Vec<_>>>()
                        }) else {
                            return false;
                        };
                        self.dirs.insert(wd, rel.join("/"));
                    }
                    // A directory that vanished since the walk is a change the caller's
                    // snapshot sees; a watch limit reached means we cannot tell.
                    Err(_) if !d.exists() => {}
                    Err(_) => return false,
                }
            }
            true
        }

        /// Removes every watch, keeping the instance: the kernel frees them in the
        /// background, where closing an instance that still has them waits for it.
        pub(super) fn unwatch(&mut self) {
            let mut watches = self.inotify.watches();
            for (wd, _) in self.dirs.drain() {
                let _ = watches.remove(wd);
            }
        }

        /// Reads every queued event: where they happened, each place a file or folder
        /// relative to `root`.
        pub(super) fn drain(&mut self, root: &Path) -> Touched {
            let mut places = BTreeSet::new();
            let mut anything = false;
            loop {
                let events = match self.inotify.read_events(&mut self.buffer) {
                    Ok(events) => events,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(_) => return Touched::Anything,
                };
                let mut any = false;
                for e in events {
                    any = true;
                    // A watch removed because its directory went is reported too; the
                    // removal itself was an event of the parent.
                    if e.mask == EventMask::IGNORED {
                        continue;
                    }
                    match (self.dirs.get(&e.wd), e.name.and_then(|n| n.to_str())) {
                        // An entry of the root: that entry alone.
                        (Some(dir), Some(name)) if dir.is_empty() => {
                            places.insert(name.to_string());
                        }
                        // An entry of a folder: that entry, when it is still there.
                        (Some(dir), Some(name)) => {
                            places.insert(entry_or_folder(root, dir, name));
                        }
                        (Some(dir), None) if !dir.is_empty() => {
                            places.insert(dir.clone());
                        }
                        _ => anything = true,
                    }
                }
                if !any {
                    break;
                }
            }
            if places.len() > MAX_PLACES {
                // Many files changed: their folders, fewer, are read whole instead.
                places = places.into_iter().map(|p| folder_of(&p)).collect();
            }
            if anything || places.len() > MAX_PLACES {
                Touched::Anything
            } else if places.is_empty() {
                Touched::Nothing
            } else {
                // A place inside another one is read with it.
                let all: Vec<String> = places.into_iter().collect();
                let outer: Vec<String> = all
                    .iter()
                    .filter(|p| {
                        !all.iter().any(|o| {
                            o != *p && p.starts_with(o.as_str()) && p[o.len()..].starts_with('/')
                        })
                    })
                    .cloned()
                    .collect();
                Touched::Under(outer)
            }
        }
    }
}

/// The place to read again for a change to `name` in the folder `dir` (relative to the
/// root): the entry itself while it exists, else the folder (git then finds a deleted
/// file there, and a temporary file that came and went is nothing it must be told of).
#[cfg(target_os = "linux")]
fn entry_or_folder(root: &Path, dir: &str, name: &str) -> String {
    let entry = format!("{dir}/{name}");
    match std::fs::symlink_metadata(root.join(&entry)) {
        Ok(_) => entry,
        Err(_) => dir.to_string(),
    }
}

/// The folder holding a place; an entry of the root is its own place.
#[cfg(target_os = "linux")]
fn folder_of(place: &str) -> String {
    match place.rsplit_once('/') {
        Some((dir, _)) => dir.to_string(),
        None => place.to_string(),
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::path::Path;

    use super::Touched;

    /// No change notification here: every answer is "anything".
    pub(super) struct Inner;

    impl Inner {
        pub(super) fn start(_root: &Path, _hub: &Path) -> Option<Inner> {
            None
        }

        pub(super) fn drain(&mut self, _root: &Path) -> Touched {
            Touched::Anything
        }

        pub(super) fn unwatch(&mut self) {}

        pub(super) fn watch_under(&mut self, _root: &Path, _hub: &Path, _p: &[String]) -> bool {
            false
        }
    }
}
