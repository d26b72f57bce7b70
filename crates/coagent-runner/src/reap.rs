//! Finding every process a run started — also those that left its process group
//! (`setsid`, double forks) — and ending them; and telling whether the process that
//! recorded a run is still alive.
//!
//! Each run's processes carry a mark in their environment ([`MARK_VAR`], unique per run),
//! inherited by everything they start. On Linux the kernel shows each process's starting
//! environment in `/proc/<pid>/environ`, so the run's processes can be found by that mark
//! even after the CoAgent that started them was killed: the next command that finds the
//! run recorded `running` ends them. While a run is watched, CoAgent is also a child
//! subreaper (`PR_SET_CHILD_SUBREAPER`), so a process that leaves the group *and* clears its
//! environment is still re-parented to CoAgent, and killed at the end of the run; and the
//! script gets a parent-death signal (`PR_SET_PDEATHSIG`), so it dies with CoAgent.
//!
//! No crate does this mark-and-sweep over `/proc` (process-wrap covers groups, sessions
//! and job objects, which a `setsid` escapes), so it is written here, in safe code.
//! Elsewhere than Linux only the process group (a job object on Windows) is killed.

use std::time::{Duration, Instant};

/// The environment variable that marks a run's processes; its value is unique to the run.
pub const MARK_VAR: &str = "COAGENT_RUN_MARK";

/// Passes of the sweep: a process that forks while it is being killed leaves a marked
/// child, which the next pass finds.
const SWEEP_PASSES: usize = 20;

/// The process that owns a run: its pid and, where the system says, when it started (so
/// that a pid reused by an unrelated process is not mistaken for the owner).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The process id.
    pub pid: u32,
    /// The process's start time in the system's own unit (Linux: clock ticks since boot);
    /// 0 where unknown.
    pub start: u64,
}

impl Owner {
    /// This process.
    pub fn current() -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            start: start_time(pid).unwrap_or(0),
        }
    }

    /// Whether the owner still runs: the pid exists and, when both are known, started at
    /// the recorded time.
    pub fn is_alive(&self) -> bool {
        if self.pid == std::process::id() {
            return true;
        }
        if !pid_exists(self.pid) {
            return false;
        }
        match (self.start, start_time(self.pid)) {
            (0, _) | (_, None) => true,
            (recorded, Some(now)) => recorded == now,
        }
    }
}

/// Kills (SIGKILL) every process whose environment marks it as one of run `mark`'s, until
/// none is left; returns how many were killed. Processes of other users are not looked
/// at (the kernel does not show their environment). Only Linux can find them; elsewhere
/// this returns 0.
pub fn kill_marked(mark: &str) -> usize {
    let needle = format!("{MARK_VAR}={mark}");
    let mut killed = Vec::new();
    for _ in 0..SWEEP_PASSES {
        let found: Vec<u32> = processes()
            .into_iter()
            .filter(|&pid| pid != std::process::id() && has_mark(pid, needle.as_bytes()))
            .collect();
        if found.is_empty() {
            break;
        }
        for pid in found {
            if sigkill(pid) && !killed.contains(&pid) {
                killed.push(pid);
            }
        }
    }
    reap(&killed);
    killed.len()
}

/// The process groups of the scripts this process is watching right now: their members
/// are not leftovers of another run that ends meanwhile.
static WATCHED: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// Starts a script with `spawn` and marks its group (its pid: it leads its group) as a
/// running script's while the returned guard lives. The list is held locked meanwhile, so
/// a sweep never sees the new script before it is marked.
pub(crate) fn spawn_watched<T>(
    spawn: impl FnOnce() -> std::io::Result<T>,
    pid_of: impl Fn(&T) -> u32,
) -> std::io::Result<(T, Watching)> {
    let mut watched = WATCHED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let child = spawn()?;
    let pid = pid_of(&child);
    watched.push(pid);
    Ok((child, Watching(pid)))
}

/// See [`watching`].
pub(crate) struct Watching(u32);

impl Drop for Watching {
    fn drop(&mut self) {
        let mut w = WATCHED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        w.retain(|&g| g != self.0);
    }
}

/// At the end of a watched run: kills what is left of it — marked processes, and children
/// re-parented to CoAgent (as subreaper) from outside its own process group and outside
/// every script group still watched, which only a run's escaped descendants can be.
/// Returns how many were killed.
///
/// As subreaper, CoAgent is an ancestor of everything a run left, so only its own
/// descendants are looked at (one read of each process's `stat`, the environment of the
/// descendants alone), and nothing at all when it has no child.
pub(crate) fn kill_leftovers(mark: &str) -> usize {
    if !SUBREAPER.load(std::sync::atomic::Ordering::Relaxed) {
        // Nothing is re-parented to CoAgent then: the mark is all there is to go by.
        return kill_marked(mark);
    }
    if has_no_child() {
        return 0;
    }
    let needle = format!("{MARK_VAR}={mark}");
    let me = std::process::id();
    let own_group = group_of(me);
    let mut killed: Vec<u32> = Vec::new();
    // A process that cannot be killed (another user's, after a `sudo`) is tried once.
    let mut tried: Vec<u32> = Vec::new();
    for _ in 0..SWEEP_PASSES {
        // Held while leftovers are found and killed: no script starts meanwhile.
        let watched = WATCHED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let spared = SPARED
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let doomed: Vec<u32> = descendants(me)
            .into_iter()
            .filter(|p| !p.zombie && !tried.contains(&p.pid) && !spared.contains(&p.pid))
            .filter(|p| match run_mark(p.pid) {
                Some(m) => m == needle.as_bytes(),
                // Re-parented from outside CoAgent's group and every running script's:
                // only an escaped descendant that cleared its environment.
                None => p.parent == me && Some(p.group) != own_group && !watched.contains(&p.group),
            })
            .map(|p| p.pid)
            .collect();
        drop(spared);
        if doomed.is_empty() {
            break;
        }
        for &pid in &doomed {
            tried.push(pid);
            if sigkill(pid) && !killed.contains(&pid) {
                killed.push(pid);
            }
        }
        drop(watched);
        reap(&killed);
    }
    killed.len()
}

/// Processes CoAgent started for itself that outlive a run on purpose (the clipboard
/// helper): never swept as a run's leftovers.
static SPARED: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// Marks `pid`, a child CoAgent started for itself in a session of its own, as none of
/// any run's: sweeps leave it alone.
pub fn spare(pid: u32) {
    SPARED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(pid);
}

/// The `COAGENT_RUN_MARK=…` entry of a process's environment, if it has one.
fn run_mark(pid: u32) -> Option<Vec<u8>> {
    let env = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{MARK_VAR}=");
    env.split(|&b| b == 0)
        .find(|var| var.starts_with(prefix.as_bytes()))
        .map(<[u8]>::to_vec)
}

/// Whether this process became a child subreaper ([`become_subreaper`]).
static SUBREAPER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// True when this process has no child at all, alive or exited (asked without reaping
/// any, so a child another thread waits for stays its to wait for).
fn has_no_child() -> bool {
    #[cfg(target_os = "linux")]
    {
        use nix::sys::wait::{Id, WaitPidFlag, waitid};
        let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
        matches!(waitid(Id::All, flags), Err(nix::errno::Errno::ECHILD))
    }
    #[cfg(not(target_os = "linux"))]
    false
}

/// A process as its `stat` shows it.
struct Proc {
    pid: u32,
    parent: u32,
    group: u32,
    zombie: bool,
}

/// Every descendant of `root`, from one reading of each process's `stat`.
fn descendants(root: u32) -> Vec<Proc> {
    let mut all: Vec<Proc> = processes()
        .into_iter()
        .filter_map(|pid| {
            let f = stat_fields(pid)?;
            Some(Proc {
                pid,
                parent: f.get(1)?.parse().ok()?,
                group: f.get(2)?.parse().ok()?,
                zombie: f.first().is_some_and(|s| s == "Z" || s == "X"),
            })
        })
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        let (children, rest): (Vec<Proc>, Vec<Proc>) =
            all.into_iter().partition(|p| p.parent == parent);
        all = rest;
        frontier.extend(children.iter().map(|p| p.pid));
        found.extend(children);
    }
    found
}

/// Makes this process the child subreaper of everything it starts from now on (Linux).
pub(crate) fn become_subreaper() {
    #[cfg(target_os = "linux")]
    {
        // Best effort: without it, escaped processes are still found by their mark.
        if nix::sys::prctl::set_child_subreaper(true).is_ok() {
            SUBREAPER.store(true, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// Waits a moment for killed children of this process to become zombies and reaps them;
/// others' processes are reaped by their own parents.
fn reap(pids: &[u32]) {
    #[cfg(unix)]
    {
        use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
        let me = std::process::id();
        let deadline = Instant::now() + Duration::from_millis(500);
        for &pid in pids {
            if parent_of(pid) != Some(me) {
                continue;
            }
            let pid = nix::unistd::Pid::from_raw(pid as i32);
            loop {
                match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
                    Ok(WaitStatus::StillAlive) if Instant::now() < deadline => {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    _ => break,
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (pids, Instant::now(), Duration::ZERO);
}

#[cfg(unix)]
fn sigkill(pid: u32) -> bool {
    use nix::sys::signal::{Signal, kill};
    kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL).is_ok()
}

#[cfg(not(unix))]
fn sigkill(_pid: u32) -> bool {
    false
}

#[cfg(unix)]
fn pid_exists(pid: u32) -> bool {
    use nix::errno::Errno;
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None) {
        Ok(()) | Err(Errno::EPERM) => !is_zombie(pid),
        Err(_) => false,
    }
}

#[cfg(not(unix))]
fn pid_exists(_pid: u32) -> bool {
    // Without a way to ask, the owner is taken as alive: its run is never taken from it.
    true
}

/// Every process id the system shows.
fn processes() -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect()
}

fn has_mark(pid: u32, needle: &[u8]) -> bool {
    let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
        return false;
    };
    env.split(|&b| b == 0).any(|var| var == needle)
}

/// The fields of `/proc/<pid>/stat` after the command name (which may hold spaces and
/// parentheses, so the split is at the last `)`): field 3 of the file is index 0 here.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

fn start_time(pid: u32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

#[cfg(unix)]
fn parent_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(1)?.parse().ok()
}

fn group_of(pid: u32) -> Option<u32> {
    stat_fields(pid)?.get(2)?.parse().ok()
}

#[cfg(unix)]
fn is_zombie(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s == "Z" || s == "X"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_its_own_live_owner() {
        let me = Owner::current();
        assert!(me.is_alive());
        #[cfg(target_os = "linux")]
        assert!(me.start > 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn an_exited_owner_is_gone_and_a_reused_pid_is_not_the_owner() {
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id();
        child.wait().expect("wait");
        assert!(!Owner { pid, start: 1 }.is_alive());
        let parent = std::os::unix::process::parent_id();
        let real = start_time(parent).expect("parent's start");
        assert!(
            Owner {
                pid: parent,
                start: real
            }
            .is_alive()
        );
        assert!(
            !Owner {
                pid: parent,
                start: real + 1
            }
            .is_alive()
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_spared_child_and_another_run_s_process_outlive_the_sweep() {
        become_subreaper();
        let mark = format!("R-OURS{}", std::process::id());
        let spawn = |env: Option<&str>| {
            let mut c = std::process::Command::new("setsid");
            c.args(["sleep", "1000"]);
            if let Some(m) = env {
                c.env(MARK_VAR, m);
            }
            c.spawn().expect("spawn setsid")
        };
        // The clipboard helper: CoAgent's own child in a session of its own.
        let mut helper = spawn(None);
        spare(helper.id());
        // A process of another run going on at the same time.
        let mut other = spawn(Some("R-OTHER"));
        let mut ours = spawn(Some(&mark));
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(kill_leftovers(&mark), 1, "only the run's own process");
        let _ = ours.wait();
        assert!(
            helper.try_wait().expect("try_wait").is_none(),
            "the spared helper lives"
        );
        assert!(
            other.try_wait().expect("try_wait").is_none(),
            "another run's process lives"
        );
        for c in [&mut helper, &mut other] {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn marked_processes_are_found_and_killed_whatever_their_session() {
        let mark = format!("R-TEST{}", std::process::id());
        let mut child = std::process::Command::new("setsid")
            .args(["sleep", "1000"])
            .env(MARK_VAR, &mark)
            .spawn()
            .expect("spawn setsid");
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(kill_marked(&mark), 1);
        let _ = child.wait();
        assert_eq!(kill_marked(&mark), 0);
    }
}
