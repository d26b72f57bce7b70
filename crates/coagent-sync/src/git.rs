//! The user's `git`, run as a child process: its configuration, credentials, SSH keys and
//! hooks apply, and CoAgent has no network code of its own. Every failure is a user error
//! that names the git command and quotes git's own words.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use coagent::{Error, Result};

pub struct Git {
    pub dir: PathBuf,
}

/// What a git command printed, and whether it succeeded.
pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Git {
    pub fn new(dir: &Path) -> Git {
        Git {
            dir: dir.to_path_buf(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new("git");
        c.arg("-C").arg(&self.dir).args(args);
        // Never wait for a password on a terminal nobody watches: a remote that needs one
        // fails with git's message (credential helpers and SSH agents still work).
        c.env("GIT_TERMINAL_PROMPT", "0");
        c
    }

    /// Runs git and returns its output whatever its exit code.
    pub fn output(&self, args: &[&str]) -> Result<Output> {
        let out = self
            .command(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| {
                Error::invalid(
                    format!("cannot run git: {e}"),
                    Some("coagent sync uses your git: install it and put it on PATH".to_string()),
                )
            })?;
        Ok(Output {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs git; a failure is an error quoting git.
    pub fn run(&self, args: &[&str]) -> Result<String> {
        let out = self.output(args)?;
        if !out.ok {
            return Err(failed(args, &out.stderr, None));
        }
        Ok(out.stdout)
    }

    /// Runs git with `env` set and `input` on stdin.
    pub fn run_with(&self, args: &[&str], env: &[(&str, &str)], input: &str) -> Result<String> {
        let mut c = self.command(args);
        c.envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c
            .spawn()
            .map_err(|e| Error::invalid(format!("cannot run git: {e}"), None))?;
        if let Some(mut i) = child.stdin.take() {
            i.write_all(input.as_bytes())
                .map_err(|e| Error::io("cannot write to git", e))?;
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::io("cannot read git's answer", e))?;
        if !out.status.success() {
            return Err(failed(args, &String::from_utf8_lossy(&out.stderr), None));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The commit a ref names, if it exists.
    pub fn commit(&self, rev: &str) -> Result<Option<String>> {
        let out = self.output(&["rev-parse", "-q", "--verify", &format!("{rev}^{{commit}}")])?;
        Ok(out.ok.then(|| out.stdout.trim().to_string()))
    }

    pub fn is_ancestor(&self, a: &str, b: &str) -> Result<bool> {
        Ok(self.output(&["merge-base", "--is-ancestor", a, b])?.ok)
    }

    pub fn tree_of(&self, commit: &str) -> Result<String> {
        Ok(self
            .run(&["rev-parse", &format!("{commit}^{{tree}}")])?
            .trim()
            .to_string())
    }
}

/// A git failure as a user error: what ran, what git said, and that nothing is lost.
pub fn failed(args: &[&str], stderr: &str, hint: Option<String>) -> Error {
    let said = stderr.trim();
    Error::invalid(
        format!(
            "git {} failed{}",
            args.join(" "),
            if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            }
        ),
        Some(hint.unwrap_or_else(|| {
            "nothing is lost: the hub's records are unchanged; mend the cause and run `coagent sync` again".to_string()
        })),
    )
}

/// `git cat-file --batch`: reads many objects through one process.
pub struct CatFile {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl CatFile {
    pub fn start(git: &Git) -> Result<CatFile> {
        let mut child = git
            .command(&["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::invalid(format!("cannot run git: {e}"), None))?;
        let (Some(input), Some(output)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(Error::Internal("git cat-file without pipes".to_string()));
        };
        Ok(CatFile {
            child,
            input,
            output: BufReader::new(output),
        })
    }

    /// The bytes of `object` (e.g. `<commit>:records/todos/2026-11.jsonl`), or `None` when
    /// it does not exist.
    pub fn get(&mut self, object: &str) -> Result<Option<Vec<u8>>> {
        let io = |e| Error::io("cannot read from git cat-file", e);
        writeln!(self.input, "{object}").map_err(io)?;
        self.input.flush().map_err(io)?;
        let mut header = String::new();
        self.output.read_line(&mut header).map_err(io)?;
        if header.trim_end().ends_with(" missing") || header.is_empty() {
            return Ok(None);
        }
        let size: usize = header
            .split_whitespace()
            .nth(2)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Error::Internal(format!("git cat-file said `{}`", header.trim())))?;
        let mut buf = vec![0; size + 1];
        self.output.read_exact(&mut buf).map_err(io)?;
        buf.truncate(size);
        Ok(Some(buf))
    }
}

impl Drop for CatFile {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
