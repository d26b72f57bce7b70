//! The hub: the `.coagent/` folder at a project's root, found from any subfolder by walking
//! up like `.git`. It owns the layout of that folder, creates it (`init`) and opens it with
//! its store, clock and id source. It never deletes anything the user made.

use std::fs;
use std::path::{Path, PathBuf};

use crate::clock::{Clock, Millis};
use crate::id::{IdGen, Kind};
use crate::store::Store;
use crate::{Error, Result, capsule, config, fsx, profile, template};

pub const HUB_DIR: &str = ".coagent";

#[derive(Debug)]
pub struct Hub {
    /// The project root: the folder that holds `.coagent/`. DOs run here.
    pub root: PathBuf,
    /// The `.coagent/` folder.
    pub dir: PathBuf,
    pub store: Store,
    pub clock: Clock,
    ids: IdGen,
    // Parsed once per process: a command reads them from several places.
    config: std::cell::OnceCell<config::Config>,
    profile: std::cell::OnceCell<profile::Profile>,
    guard: std::cell::OnceCell<std::rc::Rc<coagent_guard::Guard>>,
    /// Held (shared) while the hub is open: `coagent doctor` takes it exclusively to know
    /// that no other command is halfway through writing files (see [`LOCK_FILE`]).
    _lock: Option<fs::File>,
}

/// The hub's lock file, relative to the hub. Every command holds it shared while it has
/// the hub open; `coagent doctor` tries to take it alone: when it gets it, a file that no
/// record points to cannot be one that a running command is about to record.
pub const LOCK_FILE: &str = "cache/hub.lock";

fn lock_file(dir: &Path) -> Option<fs::File> {
    let path = fsx::join_rel(dir, LOCK_FILE);
    if let Some(parent) = path.parent() {
        let _ = fs::create_dir_all(parent);
    }
    fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .ok()
}

/// The hub's lock, held alone, when no other command has the hub open.
pub fn lock_alone(dir: &Path) -> Option<fs::File> {
    let f = lock_file(dir)?;
    f.try_lock().ok()?;
    Some(f)
}

/// What `init` made.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InitReport {
    pub hub: PathBuf,
    pub root: PathBuf,
    pub capsule_version: String,
    pub capsule_sha256: String,
    pub files: Vec<String>,
    /// Whether the project is in a git work tree. When it is not, DOs' diffs and
    /// `do undo` come from CoAgent's own history in `cache/shadow.git`.
    pub git: bool,
}

impl Hub {
    /// The hub folder for this invocation: `explicit` (`--hub` / `COAGENT_HUB`, either the
    /// project root or its `.coagent/`), else the first `.coagent/` walking up from `cwd`.
    pub fn locate(explicit: Option<&Path>, cwd: &Path) -> Result<PathBuf> {
        if let Some(dir) = explicit {
            let dir = if dir.is_absolute() {
                dir.to_path_buf()
            } else {
                cwd.join(dir)
            };
            if is_hub_dir(&dir) {
                return Ok(dir);
            }
            if is_hub_dir(&dir.join(HUB_DIR)) {
                return Ok(dir.join(HUB_DIR));
            }
            return Err(Error::NoHub { start: dir });
        }
        find_upwards(cwd).ok_or_else(|| Error::NoHub {
            start: cwd.to_path_buf(),
        })
    }

    /// Creates a hub in `root` (`root/.coagent/`). Refuses when one exists there, or when
    /// `root` is already inside another hub's project and `nested_ok` is false. The folder
    /// is assembled under a temporary name and renamed into place, so a failed `init`
    /// leaves nothing behind.
    pub fn init(root: &Path, nested_ok: bool, clock: Clock) -> Result<InitReport> {
        let root = dunce::canonicalize(root)
            .map_err(|e| Error::io(format!("cannot open {}", root.display()), e))?;
        let dir = root.join(HUB_DIR);
        if dir.exists() {
            return Err(Error::HubExists { path: dir });
        }
        if !nested_ok && let Some(parent) = root.parent().and_then(find_upwards) {
            return Err(Error::invalid(
                    format!("{} is inside the project of the hub at {}", root.display(), parent.display()),
                    Some("use that hub (commands find it from here), or pass `--hub .` to make a separate hub for this folder".to_string()),
                ));
        }
        let staging = tempfile::Builder::new()
            .prefix(".coagent-init-")
            .tempdir_in(&root)
            .map_err(|e| Error::io(format!("cannot create a hub in {}", root.display()), e))?;
        let s = staging.path();
        let now = clock.now_ms();
        let mut files = Vec::new();
        let mut put = |rel: &str, text: &str| -> Result<()> {
            fsx::write_atomic(&s.join(rel), text.as_bytes())?;
            files.push(rel.to_string());
            Ok(())
        };
        // `*` ignores the hub and this file itself: the hub never shows in `git status`.
        put(
            ".gitignore",
            "# CoAgent's hub stays out of the project's git history.\n*\n",
        )?;
        put(profile::FILE, profile::DEFAULT)?;
        put(capsule::POLICY_FILE, capsule::DEFAULT_POLICY)?;
        put(config::FILE, config::DEFAULT)?;
        put(crate::guard::CONFIG_FILE, crate::guard::DEFAULT_CONFIG)?;
        put("templates/README.md", &template::readme())?;
        let lock = capsule::lock_initial(s, now)?;
        files.push(capsule::LOCK_FILE.to_string());
        for d in [
            "temps/inbox",
            "temps/outbox",
            "temps/status",
            "cache/wraps",
            "transcripts",
            "artifacts",
        ] {
            fs::create_dir_all(s.join(d))
                .map_err(|e| Error::io(format!("cannot create {d}"), e))?;
        }
        fsx::write_atomic(
            &fsx::join_rel(s, "temps/status/SESSION_IDLE.txt"),
            b"IDLE: no live session\n",
        )?;
        let mut store = Store::open(&s.join("store.db"), true)?;
        store.tx(|tx| {
            crate::store::event(
                tx,
                now,
                None,
                "hub.init",
                &serde_json::json!({"capsule": lock.version}),
            )
        })?;
        drop(store);
        let staged = staging.keep();
        fs::rename(&staged, &dir).map_err(|e| {
            let _ = fs::remove_dir_all(&staged);
            Error::io(format!("cannot create {}", dir.display()), e)
        })?;
        fsx::sync_dir(&root)?;
        files.push("store.db".to_string());
        files.sort();
        let git = coagent_runner::worktree::is_git_repo(&root);
        Ok(InitReport {
            hub: dir,
            root,
            capsule_version: lock.version,
            capsule_sha256: lock.sha256,
            files,
            git,
        })
    }

    /// Opens the hub folder `dir` (from [`Hub::locate`]), holding the hub's lock shared
    /// (waiting while `coagent doctor` holds it alone).
    pub fn open(dir: &Path) -> Result<Hub> {
        let lock = lock_file(dir).filter(|f| f.lock_shared().is_ok());
        Self::open_with(dir, lock)
    }

    /// Opens the hub with the lock the caller already holds (`coagent doctor`).
    pub fn open_locked(dir: &Path, lock: Option<fs::File>) -> Result<Hub> {
        Self::open_with(dir, lock)
    }

    fn open_with(dir: &Path, lock: Option<fs::File>) -> Result<Hub> {
        let dir = dunce::canonicalize(dir)
            .map_err(|e| Error::io(format!("cannot open {}", dir.display()), e))?;
        let root = dir
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dir.clone());
        // A hub marked read-only (no write bit) is refused even where the user could write
        // anyway (root): the marking says "do not change this hub".
        for p in [dir.clone(), dir.join("store.db")] {
            if fs::metadata(&p).is_ok_and(|m| m.permissions().readonly()) {
                return Err(Error::ReadOnly { path: p });
            }
        }
        let mut store = Store::open(&dir.join("store.db"), false)?;
        let clock = Clock::from_env()?;
        let ids = if IdGen::seeded() {
            let n = store.bump_counter("seed_mix")?;
            IdGen::from_env(|| n)
        } else {
            IdGen::new(None)
        };
        Ok(Hub {
            root,
            dir,
            store,
            clock,
            ids,
            config: Default::default(),
            profile: Default::default(),
            guard: Default::default(),
            _lock: lock,
        })
    }

    pub fn now_ms(&self) -> Millis {
        self.clock.now_ms()
    }

    pub fn new_id(&mut self, kind: Kind) -> String {
        let now = self.now_ms();
        self.ids.next(kind, now)
    }

    /// A hub-relative path as records write it (`artifacts/A-…/log.txt`), made a path of
    /// this platform (only `\\` on Windows), for opening and for showing.
    pub fn path(&self, rel: &str) -> PathBuf {
        fsx::join_rel(&self.dir, rel)
    }

    pub fn outbox(&self) -> PathBuf {
        self.dir.join("temps").join("outbox")
    }

    pub fn inbox(&self) -> PathBuf {
        self.dir.join("temps").join("inbox")
    }

    pub fn status_dir(&self) -> PathBuf {
        self.dir.join("temps").join("status")
    }

    pub fn wraps_dir(&self) -> PathBuf {
        self.dir.join("cache").join("wraps")
    }

    pub fn transcripts_dir(&self) -> PathBuf {
        self.dir.join("transcripts")
    }

    pub fn artifacts_dir(&self) -> PathBuf {
        self.dir.join("artifacts")
    }

    /// A path relative to the hub for storing in records (portable across machines).
    pub fn rel(&self, p: &Path) -> String {
        p.strip_prefix(&self.dir)
            .unwrap_or(p)
            .to_string_lossy()
            .replace('\\', "/")
    }

    pub fn config(&self) -> Result<config::Config> {
        if let Some(c) = self.config.get() {
            return Ok(c.clone());
        }
        let c = config::Config::load(&self.dir.join(config::FILE))?;
        Ok(self.config.get_or_init(|| c).clone())
    }

    pub fn profile(&self) -> Result<profile::Profile> {
        if let Some(p) = self.profile.get() {
            return Ok(p.clone());
        }
        let p = profile::Profile::load(&self.dir.join(profile::FILE))?;
        Ok(self.profile.get_or_init(|| p).clone())
    }

    /// Drops the parsed config, profile and guard, so that the next use reads the files
    /// again: a long-running `watch` must see a private value added to the profile.
    pub fn forget_cached(&mut self) {
        self.config = Default::default();
        self.profile = Default::default();
        self.guard = Default::default();
    }

    /// The hub's secret guard (built-in rules, `guard.toml`, the profile's private values).
    pub fn guard(&self) -> Result<std::rc::Rc<coagent_guard::Guard>> {
        if let Some(g) = self.guard.get() {
            return Ok(g.clone());
        }
        let g = std::rc::Rc::new(crate::guard::build(self)?);
        Ok(self.guard.get_or_init(|| g).clone())
    }
}

fn is_hub_dir(p: &Path) -> bool {
    p.join("store.db").is_file()
}

fn find_upwards(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .map(|a| a.join(HUB_DIR))
        .find(|d| is_hub_dir(d))
}
