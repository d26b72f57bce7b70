//! Running one DO script: interpreter, working directory, timeout, cancellation, live
//! output and a bounded log.
//!
//! This module owns the script's process group from spawn to the last reaped child: the
//! script and everything it starts share one group, and that group is killed as a whole
//! on timeout, on cancellation (what Ctrl-C triggers), when the script leaves background
//! processes behind, and if the runner itself unwinds. It never reads stdin on the
//! script's behalf (the script gets an empty stdin), never prints (live output goes to
//! the writer it is handed) and never keeps more output in memory than the log bounds.
//! Processes that leave the group (`setsid`, double forks) are found by the run's mark
//! and killed when the script ends ([`crate::reap`]); the script dies with CoAgent.

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use process_wrap::std::CommandWrap;
use serde::{Deserialize, Serialize};

use crate::interrupt::InterruptGuard;
use crate::lang::{Lang, find_interpreter};
use crate::log::{BoundedLog, LogBuilder};

/// Bytes asked for per read of the output pipe.
const READ_CHUNK: usize = 64 * 1024;
/// Chunks in flight between the pipe reader and the runner; with [`READ_CHUNK`] this caps
/// the memory held in transit at 1 MiB whatever the script prints.
const CHANNEL_DEPTH: usize = 16;
/// How often cancellation and the deadline are looked at while the script is quiet.
const POLL: Duration = Duration::from_millis(20);
/// Time the group gets between SIGTERM and SIGKILL on timeout or cancellation.
pub const KILL_GRACE: Duration = Duration::from_secs(1);
/// How long output is still collected after the script is gone. Only a process that left
/// the group (e.g. `setsid`) and kept the output pipe open makes this wait this long.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

/// What to run and how.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// The script's language.
    pub lang: Lang,
    /// The script text, run as it is.
    pub script: String,
    /// Working directory: the project root.
    pub cwd: PathBuf,
    /// The group is killed when the script runs longer than this.
    pub timeout: Duration,
    /// Extra environment variables (e.g. `COAGENT_DO_ID`), on top of the inherited ones.
    pub env: Vec<(String, String)>,
    /// Bytes kept from the start of the output.
    pub log_head_bytes: usize,
    /// Bytes kept from the end of the output.
    pub log_tail_bytes: usize,
    /// A directory the runner may write the script file into (created if missing).
    pub scratch_dir: PathBuf,
    /// The run's mark, set as [`crate::MARK_VAR`] in the script's environment: every
    /// process still carrying it when the script ends is killed, and
    /// [`crate::kill_marked`] finds them after a crash. Unique per run (the run's id).
    pub mark: String,
}

impl RunSpec {
    /// The default timeout (SPEC §7).
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10 * 60);
    /// The default head and tail sizes of the log.
    pub const DEFAULT_LOG_BYTES: usize = 256 * 1024;

    /// A spec with the default timeout and log sizes, no extra environment, and the
    /// scratch directory in the system's temp dir.
    pub fn new(lang: Lang, script: impl Into<String>, cwd: impl Into<PathBuf>) -> Self {
        RunSpec {
            lang,
            script: script.into(),
            cwd: cwd.into(),
            timeout: Self::DEFAULT_TIMEOUT,
            env: Vec::new(),
            log_head_bytes: Self::DEFAULT_LOG_BYTES,
            log_tail_bytes: Self::DEFAULT_LOG_BYTES,
            scratch_dir: std::env::temp_dir(),
            mark: unique_mark(),
        }
    }
}

/// A mark no other run of this machine has: pid, time and a counter.
fn unique_mark() -> String {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("run-{}-{nanos}-{n}", std::process::id())
}

/// A cancellation switch shared between the runner and whoever handles Ctrl-C.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    /// A switch that is off.
    pub fn new() -> Self {
        Cancel::default()
    }

    /// Asks the run to stop: the script's group is terminated and the outcome is `Killed`.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether [`Cancel::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Wires Ctrl-C (SIGINT, and on Unix SIGTERM and SIGHUP; the console's Ctrl-C and
    /// Ctrl-Break on Windows) to this switch for as long as the returned guard lives.
    ///
    /// The script runs in its own process group (on Windows, without CoAgent's console),
    /// so the terminal's Ctrl-C reaches only CoAgent; without this (or an equivalent
    /// handler in the caller) Ctrl-C would end CoAgent and leave the script to its job
    /// object or its parent-death signal. Dropping the guard gives Ctrl-C its default
    /// effect back.
    pub fn cancel_on_interrupt(&self) -> io::Result<InterruptGuard> {
        crate::interrupt::on_interrupt(Arc::clone(&self.0))
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Exit code 0.
    Succeeded,
    /// A non-zero exit code, or killed by a signal CoAgent did not send.
    Failed,
    /// Killed by CoAgent when the timeout passed.
    TimedOut,
    /// Killed by CoAgent on cancellation (Ctrl-C).
    Killed,
}

impl RunStatus {
    /// The snake_case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed_out",
            RunStatus::Killed => "killed",
        }
    }
}

/// Everything recorded about a finished run.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// How it ended.
    pub status: RunStatus,
    /// The script's exit code, when it exited rather than being killed by a signal.
    pub exit_code: Option<i32>,
    /// The signal that ended the script, when one did (Unix).
    pub signal: Option<i32>,
    /// Wall-clock time just before the interpreter was started.
    pub started_at: SystemTime,
    /// Wall-clock time when the group was gone and output collected.
    pub ended_at: SystemTime,
    /// Monotonic time between the two.
    pub duration: Duration,
    /// The merged stdout and stderr, bounded.
    pub log: BoundedLog,
}

/// Why a run could not happen or could not be watched to its end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// No interpreter for the DO's language on `PATH`.
    #[error("no {lang} interpreter found on PATH (tried: {}); hint: {}", tried.join(", "), lang.install_hint())]
    MissingInterpreter {
        /// The language asked for.
        lang: Lang,
        /// Program names looked for.
        tried: Vec<String>,
    },
    /// The working directory is not a directory.
    #[error("cannot run in {}: not a directory", path.display())]
    Cwd {
        /// The directory asked for.
        path: PathBuf,
    },
    /// The script file could not be written.
    #[error("cannot write the script into {}", path.display())]
    Scratch {
        /// The scratch directory.
        path: PathBuf,
        /// The underlying failure.
        #[source]
        source: io::Error,
    },
    /// The interpreter could not be started.
    #[error("cannot start {}", program.display())]
    Spawn {
        /// The interpreter.
        program: PathBuf,
        /// The underlying failure.
        #[source]
        source: io::Error,
    },
    /// Waiting for the script or reading its output failed.
    #[error("lost track of the running script")]
    Watch(#[source] io::Error),
}

impl RunError {
    /// A next step for the user, when there is one.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            RunError::MissingInterpreter { lang, .. } => Some(lang.install_hint()),
            _ => None,
        }
    }
}

/// Why CoAgent ended the script early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    Timeout,
    Cancel,
}

/// Runs the script; streams stdout and stderr (merged into one pipe, so in the order the
/// script wrote them) live into `live`, and keeps a bounded log.
///
/// A `live` that fails (e.g. a closed pipe) is dropped for the rest of the run; the script
/// keeps running and the log keeps filling. A `cancel` that is already set runs nothing.
pub fn run(spec: &RunSpec, live: &mut dyn Write, cancel: &Cancel) -> Result<RunOutcome, RunError> {
    let interpreter = find_interpreter(spec.lang)?;
    if !spec.cwd.is_dir() {
        return Err(RunError::Cwd {
            path: spec.cwd.clone(),
        });
    }
    let script_path = write_script(spec)?;

    let started_at = SystemTime::now();
    let t0 = Instant::now();
    if cancel.is_cancelled() {
        return Ok(RunOutcome {
            status: RunStatus::Killed,
            exit_code: None,
            signal: None,
            started_at,
            ended_at: started_at,
            duration: Duration::ZERO,
            log: BoundedLog::default(),
        });
    }

    let (reader, writer) = io::pipe().map_err(RunError::Watch)?;
    let mut command = Command::new(&interpreter.program);
    for (k, v) in spec.lang.default_env() {
        if std::env::var_os(k).is_none() {
            command.env(k, v);
        }
    }
    command
        .args(interpreter.args)
        .args(spec.lang.interpreter_args())
        .arg(&script_path)
        .current_dir(&spec.cwd)
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .env(crate::MARK_VAR, &spec.mark)
        .stdin(Stdio::null())
        .stdout(writer.try_clone().map_err(RunError::Watch)?)
        .stderr(writer);
    group::die_with_parent(&mut command);
    crate::reap::become_subreaper();
    let mut wrapped = CommandWrap::from(command);
    group::configure(&mut wrapped);
    let (child, watching) =
        crate::reap::spawn_watched(|| wrapped.spawn(), |c| c.id()).map_err(|source| {
            RunError::Spawn {
                program: interpreter.program.clone(),
                source,
            }
        })?;
    group::bind_to_coagent(&*child).map_err(RunError::Watch)?;
    // The command holds our copies of the pipe's write end; they must be closed for the
    // reader to see end-of-file when the script's side closes.
    drop(wrapped);
    let mut group = group::Group::new(child, spec.mark.clone());

    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(CHANNEL_DEPTH);
    let pump = thread::Builder::new()
        .name("coagent-do-output".into())
        .spawn(move || pump(reader, tx))
        .map_err(RunError::Watch)?;

    let mut log = LogBuilder::new(spec.log_head_bytes, spec.log_tail_bytes);
    let mut live_ok = true;
    let mut deliver = |chunk: &[u8], log: &mut LogBuilder| {
        log.push(chunk);
        if live_ok && live.write_all(chunk).and_then(|()| live.flush()).is_err() {
            live_ok = false;
        }
    };

    let deadline = t0.checked_add(spec.timeout);
    let mut stop: Option<(Stop, Instant)> = None;
    let mut hard_killed = false;
    let mut output_open = true;
    let mut idle = Duration::from_micros(100);
    let status: ExitStatus = loop {
        if let Some(status) = group.try_wait().map_err(RunError::Watch)? {
            break status;
        }
        let now = Instant::now();
        match stop {
            None => {
                let why = if cancel.is_cancelled() {
                    Some(Stop::Cancel)
                } else if deadline.is_some_and(|d| now >= d) {
                    Some(Stop::Timeout)
                } else {
                    None
                };
                if let Some(why) = why {
                    group.terminate();
                    stop = Some((why, now));
                }
            }
            Some((_, since)) if !hard_killed && now.duration_since(since) >= KILL_GRACE => {
                group.kill();
                hard_killed = true;
            }
            Some(_) => {}
        }
        let mut wait = POLL;
        if let (None, Some(d)) = (stop, deadline) {
            wait = wait.min(d.saturating_duration_since(now));
        }
        if output_open {
            match rx.recv_timeout(wait) {
                Ok(chunk) => deliver(&chunk, &mut log),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => output_open = false,
            }
        } else {
            // The script closed its output but has not been reaped yet; usually it is
            // exiting right now, so start with a very short nap.
            thread::sleep(idle.min(wait));
            idle = (idle * 2).min(POLL);
        }
    };

    // Whatever the script left behind, in its group or escaped from it, dies with it.
    group.kill_leftovers();
    drop(watching);
    crate::reap::kill_leftovers(&spec.mark);

    if output_open {
        let drain_until = Instant::now() + DRAIN_GRACE;
        loop {
            match rx.recv_timeout(drain_until.saturating_duration_since(Instant::now())) {
                Ok(chunk) => deliver(&chunk, &mut log),
                Err(RecvTimeoutError::Disconnected) => {
                    output_open = false;
                    break;
                }
                Err(RecvTimeoutError::Timeout) => break,
            }
        }
    }
    drop(rx);
    if !output_open {
        // A read error after the script is gone changes nothing the user can act on.
        let _ = pump.join();
    }
    group.finish();
    drop(script_path);

    let duration = t0.elapsed();
    let ended_at = started_at + duration;
    let (exit_code, signal) = decode(status);
    let status = match stop {
        Some((Stop::Cancel, _)) => RunStatus::Killed,
        Some((Stop::Timeout, _)) => RunStatus::TimedOut,
        None if exit_code == Some(0) => RunStatus::Succeeded,
        None => RunStatus::Failed,
    };
    Ok(RunOutcome {
        status,
        exit_code,
        signal,
        started_at,
        ended_at,
        duration,
        log: log.finish(),
    })
}

/// Script files are named `coagent-do-<pid>-…` in the scratch dir, so that one left by a
/// killed CoAgent can be told from a running one's and swept.
pub const SCRIPT_PREFIX: &str = "coagent-do-";

/// Writes the script into the scratch dir; the file is removed when the path is dropped.
fn write_script(spec: &RunSpec) -> Result<tempfile::TempPath, RunError> {
    let err = |source| RunError::Scratch {
        path: spec.scratch_dir.clone(),
        source,
    };
    std::fs::create_dir_all(&spec.scratch_dir).map_err(err)?;
    let mut file = tempfile::Builder::new()
        .prefix(&format!("{SCRIPT_PREFIX}{}-", std::process::id()))
        .suffix(&format!(".{}", spec.lang.extension()))
        .tempfile_in(&spec.scratch_dir)
        .map_err(err)?;
    file.write_all(&spec.lang.script_bytes(&spec.script))
        .map_err(err)?;
    file.flush().map_err(err)?;
    Ok(file.into_temp_path())
}

/// Moves output from the pipe to the runner in chunks of at most [`READ_CHUNK`].
fn pump(mut reader: io::PipeReader, tx: SyncSender<Vec<u8>>) -> io::Result<()> {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => {
                if tx.send(buf[..n].to_vec()).is_err() {
                    // The runner stopped listening (the script is gone): stop reading.
                    return Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(unix)]
fn decode(status: ExitStatus) -> (Option<i32>, Option<i32>) {
    use std::os::unix::process::ExitStatusExt;
    (status.code(), status.signal())
}

#[cfg(not(unix))]
fn decode(status: ExitStatus) -> (Option<i32>, Option<i32>) {
    (status.code(), None)
}

/// The script's process group (a job object on Windows) and how it is ended.
mod group {
    use std::process::ExitStatus;

    use process_wrap::std::{ChildWrapper, CommandWrap};

    /// Kills the whole group if the runner leaves before the script is accounted for.
    pub(super) struct Group {
        child: Box<dyn ChildWrapper>,
        mark: String,
        done: bool,
    }

    impl Group {
        pub(super) fn new(child: Box<dyn ChildWrapper>, mark: String) -> Self {
            Group {
                child,
                mark,
                done: false,
            }
        }

        /// Whether the script itself has exited. On Unix only the script is waited for:
        /// the wrapper's own wait reaps the whole group, and once the script has left
        /// children behind (re-parented to CoAgent, a subreaper) it would reap the script
        /// and then ask for it again.
        pub(super) fn try_wait(&mut self) -> std::io::Result<Option<ExitStatus>> {
            #[cfg(unix)]
            return self.child.inner_mut().try_wait();
            #[cfg(not(unix))]
            return self.child.try_wait();
        }

        /// Marks the group as accounted for.
        pub(super) fn finish(&mut self) {
            self.done = true;
        }
    }

    impl Drop for Group {
        fn drop(&mut self) {
            if !self.done {
                let _ = self.child.start_kill();
                let _ = self.child.wait();
                crate::reap::kill_leftovers(&self.mark);
            }
        }
    }

    /// The script gets SIGKILL when CoAgent dies, however it dies (Linux's parent-death
    /// signal); what it started is found later by its mark ([`crate::reap`]).
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code)]
    pub(super) fn die_with_parent(command: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id();
        let hook = move || {
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL)?;
            // CoAgent died between the fork and the line above: the signal was missed.
            if nix::unistd::getppid().as_raw() as u32 != parent {
                return Err(std::io::Error::from(nix::errno::Errno::ESRCH));
            }
            Ok(())
        };
        // SAFETY: the hook runs in the forked child before exec. It only makes the
        // async-signal-safe system calls prctl(2) and getppid(2) and builds an io::Error
        // from a raw errno, which does not allocate; it touches no lock and no memory
        // shared with the parent's other threads.
        unsafe {
            command.pre_exec(hook);
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn die_with_parent(_command: &mut std::process::Command) {}

    #[cfg(unix)]
    pub(super) fn configure(command: &mut CommandWrap) {
        command.wrap(process_wrap::std::ProcessGroup::leader());
    }

    /// The script gets a console of its own, without a window: the terminal's Ctrl-C then
    /// reaches only CoAgent (which ends the job), as the process group does on Unix, and
    /// what the script does to its console (`chcp`, the output encoding) stays its own.
    /// Its processes share a job object, ended whole.
    #[cfg(windows)]
    pub(super) fn configure(command: &mut CommandWrap) {
        const CREATE_NO_WINDOW: u32 = 0x0800_0000;
        command.wrap(process_wrap::std::CreationFlags(
            windows::Win32::System::Threading::PROCESS_CREATION_FLAGS(CREATE_NO_WINDOW),
        ));
        command.wrap(process_wrap::std::JobObject);
    }

    /// Nothing to do off Windows: the parent-death signal and the run's mark do it.
    #[cfg(not(windows))]
    pub(super) fn bind_to_coagent(_child: &dyn ChildWrapper) -> std::io::Result<()> {
        Ok(())
    }

    /// The script's job is placed inside one that is killed when its last handle closes:
    /// CoAgent holds the only one, so when CoAgent ends, however it ends, Windows ends every
    /// process of the run. (process-wrap's own job is not made kill-on-close; a job inside
    /// a job is how Windows 8 and later nest them.)
    #[cfg(windows)]
    pub(super) fn bind_to_coagent(child: &dyn ChildWrapper) -> std::io::Result<()> {
        use std::os::windows::io::AsRawHandle;
        let handle = child
            .process_handle()
            .ok_or_else(|| std::io::Error::other("the script's process has no handle"))?;
        let job = coagent_job().map_err(std::io::Error::other)?;
        job.assign_process(handle.as_raw_handle() as isize)
            .map_err(|e| std::io::Error::other(format!("cannot bind the script to CoAgent: {e}")))
    }

    /// One kill-on-close job for all of this process's runs, never closed before exit.
    #[cfg(windows)]
    fn coagent_job() -> Result<&'static win32job::Job, String> {
        static JOB: std::sync::OnceLock<Result<win32job::Job, String>> = std::sync::OnceLock::new();
        JOB.get_or_init(|| {
            let mut info = win32job::ExtendedLimitInfo::new();
            info.limit_kill_on_job_close();
            win32job::Job::create_with_limit_info(&info).map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(Clone::clone)
    }

    #[cfg(unix)]
    impl Group {
        fn pgid(&self) -> nix::unistd::Pid {
            // The script is its group's leader, so the group id is its pid.
            nix::unistd::Pid::from_raw(self.child.id() as i32)
        }

        /// SIGTERM to the whole group: the polite first step.
        pub(super) fn terminate(&mut self) {
            use nix::sys::signal::{Signal, killpg};
            // ESRCH only means everybody is already gone.
            let _ = killpg(self.pgid(), Signal::SIGTERM);
            // A member stopped by job control (e.g. it tried to read the terminal from the
            // background) would only see SIGTERM once continued.
            let _ = killpg(self.pgid(), Signal::SIGCONT);
        }

        /// SIGKILL to the whole group.
        pub(super) fn kill(&mut self) {
            let _ = nix::sys::signal::killpg(self.pgid(), nix::sys::signal::Signal::SIGKILL);
        }

        /// After the script itself ended: SIGKILL whatever is left in its group
        /// (background jobs it did not wait for, children still exiting after SIGTERM),
        /// and reap those that are CoAgent's children by now.
        pub(super) fn kill_leftovers(&mut self) {
            use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
            let pgid = self.pgid();
            if nix::sys::signal::killpg(pgid, None).is_err() {
                return;
            }
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
            let group = nix::unistd::Pid::from_raw(-pgid.as_raw());
            let until = std::time::Instant::now() + std::time::Duration::from_millis(200);
            loop {
                match waitpid(group, Some(WaitPidFlag::WNOHANG)) {
                    // Members not yet gone: they were killed, they go in a moment.
                    Ok(WaitStatus::StillAlive) if std::time::Instant::now() < until => {
                        std::thread::sleep(std::time::Duration::from_millis(1));
                    }
                    Ok(WaitStatus::StillAlive) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
    }

    #[cfg(windows)]
    impl Group {
        pub(super) fn terminate(&mut self) {
            let _ = self.child.start_kill();
        }

        pub(super) fn kill(&mut self) {
            let _ = self.child.start_kill();
        }

        pub(super) fn kill_leftovers(&mut self) {
            let _ = self.child.start_kill();
        }
    }
}
