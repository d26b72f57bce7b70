//! The integration-test harness: runs the real `coagent` binary in a sealed environment —
//! a temporary HOME and project, a fixed clock (`COAGENT_NOW`), a fixed id seed, `NO_COLOR`,
//! a fixed width, and a file in place of the clipboard — so every payload is reproducible.
//!
//! Every hub a test makes through [`Env::init`] gets a private CoProfile value (the
//! *canary*); when the test ends, every outbox file and every clipboard write is searched
//! for it, so the whole suite proves that no private value ever leaves.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub const NOW: &str = "2026-11-24T09:00:00Z";
pub const CANARY: &str = "canary-42 Elm Street, Springfield";

pub struct Env {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub home: PathBuf,
    pub clip: PathBuf,
    pub now: String,
    /// `COAGENT_SEED`: two hubs that stand for two machines need two seeds.
    pub seed: String,
    hubs: std::cell::RefCell<Vec<PathBuf>>,
}

impl Env {
    pub fn new() -> Env {
        let tmp = tempfile::tempdir().expect("tempdir");
        let root = tmp.path().join("project");
        let home = tmp.path().join("home");
        std::fs::create_dir_all(&root).expect("project");
        std::fs::create_dir_all(&home).expect("home");
        std::fs::create_dir_all(home.join("tmp")).expect("tmp");
        let clip = tmp.path().join("clipboard.txt");
        Env {
            root,
            home,
            clip,
            _tmp: tmp,
            now: NOW.to_string(),
            seed: "7".to_string(),

            hubs: Default::default(),
        }
    }

    /// A project that is a git repository with one commit.
    pub fn with_git() -> Env {
        let env = Env::new();
        env.git(&["init", "-q", "-b", "main"]);
        std::fs::write(env.root.join("README.md"), "# demo\n").expect("write");
        env.git(&["add", "README.md"]);
        env.git(&["commit", "-q", "-m", "first"]);
        env
    }

    /// Makes the project a git repository (so `.gitignore` applies) without committing.
    pub fn git_init_quiet(&self) {
        self.git(&["init", "-q", "-b", "main"]);
    }

    pub fn git(&self, args: &[&str]) -> String {
        let out = Command::new("git")
            .args([
                "-c",
                "user.name=Test",
                "-c",
                "user.email=test@example.invalid",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(&self.root)
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .output()
            .expect("git");
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `coagent init` in the project, then a canary in the profile's `[private]` table.
    pub fn init(&self) -> &Self {
        self.cmd(&["init"]).ok();
        self.add_canary(&self.root.join(".coagent"));
        self
    }

    pub fn add_canary(&self, hub: &Path) {
        let p = hub.join("profile.toml");
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&p)
            .expect("profile");
        writeln!(f, "home_address = \"{CANARY}\"").expect("append");
        self.hubs.borrow_mut().push(hub.to_path_buf());
    }

    pub fn hub(&self) -> PathBuf {
        self.root.join(".coagent")
    }

    pub fn cmd(&self, args: &[&str]) -> Cmd {
        // `COAGENT_TEST_BIN` runs the tests against another build (bench/crash.sh: release).
        let bin = std::env::var_os("COAGENT_TEST_BIN")
            .unwrap_or_else(|| env!("CARGO_BIN_EXE_coagent").into());
        let mut c = Command::new(bin);
        c.args(args)
            .current_dir(&self.root)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.home)
            // The system's temp folder is this test's own: what a killed command leaves
            // there is this test's to find.
            .env("TMPDIR", self.home.join("tmp"))
            .env("NO_COLOR", "1")
            .env("COLUMNS", "100")
            .env("COAGENT_NOW", &self.now)
            .env("COAGENT_SEED", &self.seed)
            .env("COAGENT_CLIPBOARD", format!("file:{}", self.clip.display()))
            .env("GIT_CONFIG_NOSYSTEM", "1");
        Cmd {
            inner: c,
            stdin: None,
        }
    }

    pub fn ok(&self, args: &[&str]) -> Out {
        self.cmd(args).ok()
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        self.cmd(&a).ok().json()
    }

    pub fn fails(&self, args: &[&str], code: i32) -> Out {
        self.cmd(args).code(code)
    }

    /// Every byte that left through the outbox or the clipboard.
    pub fn everything_sent(&self) -> String {
        let mut all = String::new();
        for hub in self.hubs.borrow().iter() {
            if let Ok(rd) = std::fs::read_dir(hub.join("temps/outbox")) {
                for e in rd.flatten() {
                    all.push_str(&String::from_utf8_lossy(
                        &std::fs::read(e.path()).unwrap_or_default(),
                    ));
                }
            }
        }
        let mut hist = self.clip.clone().into_os_string();
        hist.push(".history");
        all.push_str(&String::from_utf8_lossy(
            &std::fs::read(PathBuf::from(hist)).unwrap_or_default(),
        ));
        all
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let sent = self.everything_sent();
        assert!(
            !sent.contains(CANARY),
            "a private CoProfile value left the machine"
        );
    }
}

pub struct Cmd {
    inner: Command,
    stdin: Option<Vec<u8>>,
}

impl Cmd {
    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.inner.env(k, v);
        self
    }

    pub fn cwd(mut self, p: impl AsRef<Path>) -> Self {
        self.inner.current_dir(p);
        self
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    /// The underlying command, for tests that need to watch the process itself.
    pub fn into_command(self) -> Command {
        self.inner
    }

    pub fn run(mut self) -> Out {
        self.inner.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        self.inner.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = self.inner.spawn().expect("spawn coagent");
        if let Some(bytes) = self.stdin.take() {
            let mut si = child.stdin.take().expect("stdin");
            std::thread::spawn(move || {
                let _ = si.write_all(&bytes);
            });
        }
        let out = child.wait_with_output().expect("wait");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn ok(self) -> Out {
        self.code(0)
    }

    pub fn code(self, code: i32) -> Out {
        let out = self.run();
        assert_eq!(
            out.code, code,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            out.stdout, out.stderr
        );
        out
    }
}

#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", self.stdout))
    }

    pub fn stdout_has(&self, s: &str) -> &Self {
        assert!(
            self.stdout.contains(s),
            "stdout lacks {s:?}:\n{}",
            self.stdout
        );
        self
    }

    pub fn stderr_has(&self, s: &str) -> &Self {
        assert!(
            self.stderr.contains(s),
            "stderr lacks {s:?}:\n{}",
            self.stderr
        );
        self
    }
}
