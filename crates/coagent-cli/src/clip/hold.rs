//! A copy that outlives the command, on Linux and the BSDs.
//!
//! On X11 and Wayland the clipboard holds no data: the program that copied serves it to
//! whoever pastes, and when that program exits the content is gone. `xclip` and `wl-copy`
//! stay behind for that; so does CoAgent: [`copy`] starts the `coagent` binary again as a
//! small detached helper (`coagent __clipboard-hold`, in its own session, stdio not
//! shared with the command, working folder `/`) that serves the text until another program
//! takes the clipboard over or the hold time passes (`COAGENT_CLIPBOARD_HOLD`, one hour by
//! default), then exits. A later copy by CoAgent is such a takeover, so helpers never pile
//! up.
//!
//! The text reaches the helper on its stdin, never in its arguments, so `ps` shows
//! nothing of a payload. The command then reads the clipboard back, as any other program
//! would, and says "on the clipboard" only once it holds exactly the text; otherwise the
//! helper is stopped and the command points at the payload file.
//!
//! The helper serves X11 itself (arboard) and hands Wayland to `wl-copy` when
//! `wl-clipboard` is installed (reading back with `wl-paste`); a Wayland session without
//! it is served through XWayland when there is one.

use std::io::{Read, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use coagent::clipboard::ClipOutcome;

/// The hidden first argument that makes `coagent` the helper.
pub const ARG: &str = "__clipboard-hold";
/// How long a copy is held when `COAGENT_CLIPBOARD_HOLD` is not set.
pub const DEFAULT_HOLD: Duration = Duration::from_secs(3600);
/// How long the command waits for the clipboard to hold the text before it gives up.
const VERIFY_WITHIN: Duration = Duration::from_secs(3);

/// Who serves the clipboard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    /// The helper itself, through arboard, on an X server (or XWayland).
    X11,
    /// `wl-copy --foreground`, started and timed by the helper.
    WlCopy,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::X11 => "x11",
            Backend::WlCopy => "wl-copy",
        }
    }

    fn from_name(s: &str) -> Option<Backend> {
        [Backend::X11, Backend::WlCopy]
            .into_iter()
            .find(|b| b.name() == s)
    }

    fn detect() -> Result<Backend, String> {
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        if set("WAYLAND_DISPLAY") && on_path("wl-copy") && on_path("wl-paste") {
            return Ok(Backend::WlCopy);
        }
        if set("DISPLAY") {
            return Ok(Backend::X11);
        }
        if set("WAYLAND_DISPLAY") {
            return Err("a Wayland clipboard needs wl-copy: install wl-clipboard".to_string());
        }
        Err("no display for a clipboard".to_string())
    }

    /// The clipboard's text as another program sees it.
    fn read(self) -> Result<String, String> {
        match self {
            Backend::X11 => arboard::Clipboard::new()
                .and_then(|mut c| c.get_text())
                .map_err(|e| e.to_string()),
            Backend::WlCopy => {
                let out = Command::new("wl-paste")
                    .args(["--no-newline", "--type", "text/plain"])
                    .stdin(Stdio::null())
                    .stderr(Stdio::null())
                    .output()
                    .map_err(|e| format!("cannot run wl-paste: {e}"))?;
                if !out.status.success() {
                    return Err("the clipboard holds no text (wl-paste found none)".to_string());
                }
                Ok(String::from_utf8_lossy(&out.stdout).into_owned())
            }
        }
    }
}

/// The clipboard's text through `wl-paste`, in a Wayland session that has it (`None`
/// elsewhere: the caller reads through arboard).
pub fn read_wayland() -> Option<Result<String, String>> {
    (Backend::detect().ok()? == Backend::WlCopy).then(|| Backend::WlCopy.read())
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|dir| {
            std::fs::metadata(dir.join(program)).is_ok_and(|m| m.is_file() && is_executable(&m))
        })
    })
}

fn is_executable(m: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    m.permissions().mode() & 0o111 != 0
}

/// The hold time from `COAGENT_CLIPBOARD_HOLD`: seconds, or a number with `s`, `m` or `h`
/// (`90s`, `30m`, `2h`). Written here because it is this one variable's whole grammar.
pub fn hold_time() -> Result<Duration, String> {
    let Ok(raw) = std::env::var("COAGENT_CLIPBOARD_HOLD") else {
        return Ok(DEFAULT_HOLD);
    };
    parse_hold(&raw).ok_or_else(|| {
        format!("COAGENT_CLIPBOARD_HOLD={raw:?} is not a hold time (e.g. 90s, 30m, 2h)")
    })
}

fn parse_hold(raw: &str) -> Option<Duration> {
    let s = raw.trim();
    let (num, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        _ => return None,
    };
    (secs > 0).then(|| Duration::from_secs(secs))
}

/// "60 min", "2 h", "90 s": how long a copy is held, for messages.
pub fn describe(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(3600) && s >= 7200 {
        format!("{} h", s / 3600)
    } else if s.is_multiple_of(60) {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// Copies `text` through a detached helper and checks that the clipboard holds it.
pub fn copy(text: &str) -> ClipOutcome {
    let skipped = |reason: String| ClipOutcome::Skipped { reason };
    let backend = match Backend::detect() {
        Ok(b) => b,
        Err(e) => return skipped(e),
    };
    let hold = match hold_time() {
        Ok(h) => h,
        Err(e) => return skipped(e),
    };
    let mut helper = match spawn(backend, hold, text) {
        Ok(c) => c,
        Err(e) => return skipped(format!("cannot start the clipboard helper: {e}")),
    };
    match verify(backend, &mut helper, text) {
        Ok(()) => {
            // Reaped by a thread, so a long-lived command (`watch`) leaves no zombie.
            std::thread::spawn(move || helper.wait());
            ClipOutcome::Copied {
                via: format!(
                    "system, held for {} or until something else is copied",
                    describe(hold)
                ),
            }
        }
        Err(reason) => {
            stop(&mut helper);
            skipped(reason)
        }
    }
}

/// Stops a helper and what it started (`wl-copy`): once it has made its own session,
/// that is its process group.
fn stop(helper: &mut Child) {
    if let Ok(pid) = i32::try_from(helper.id()) {
        let _ =
            nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), nix::sys::signal::SIGKILL);
    }
    let _ = helper.kill();
    let _ = helper.wait();
}

fn spawn(backend: Backend, hold: Duration, text: &str) -> std::io::Result<Child> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args([ARG, backend.name(), &hold.as_secs().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .current_dir("/")
        .spawn()?;
    // It outlives the command on purpose: never swept as a DO's leftover.
    coagent_runner::spare(child.id());
    let written = child
        .stdin
        .take()
        .map_or(Ok(()), |mut si| si.write_all(text.as_bytes()));
    if let Err(e) = written {
        let _ = child.kill();
        let _ = child.wait();
        return Err(e);
    }
    Ok(child)
}

/// Reads the clipboard back until it holds `text`, the helper fails, or time runs out.
fn verify(backend: Backend, helper: &mut Child, text: &str) -> Result<(), String> {
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = helper.try_wait() {
            let mut said = String::new();
            if let Some(mut so) = helper.stdout.take() {
                let _ = so.read_to_string(&mut said);
            }
            let said = said.trim();
            return Err(if said.is_empty() {
                format!("the clipboard helper stopped ({status})")
            } else {
                format!("clipboard unavailable: {said}")
            });
        }
        let last = match backend.read() {
            Ok(got) if got == text => return Ok(()),
            Ok(_) => "it holds something else".to_string(),
            Err(e) => e,
        };
        if start.elapsed() > VERIFY_WITHIN {
            return Err(format!(
                "the clipboard did not take the payload within {} s ({last})",
                VERIFY_WITHIN.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The helper's whole life: `coagent __clipboard-hold BACKEND SECONDS`, the text on stdin.
/// What goes wrong is said on stdout (read by the command that started it) and exits 1.
pub fn serve(args: &[String]) -> ExitCode {
    match serve_inner(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let mut so = std::io::stdout();
            let _ = writeln!(so, "{e}");
            let _ = so.flush();
            ExitCode::FAILURE
        }
    }
}

fn serve_inner(args: &[String]) -> Result<(), String> {
    let (Some(backend), Some(secs)) = (
        args.first().and_then(|b| Backend::from_name(b)),
        args.get(1).and_then(|s| s.parse::<u64>().ok()),
    ) else {
        return Err(format!(
            "usage: coagent {ARG} x11|wl-copy SECONDS (text on stdin)"
        ));
    };
    // A session of its own: the terminal's Ctrl-C and hang-up no longer reach it.
    let _ = nix::unistd::setsid();
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read the text: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(secs);
    match backend {
        Backend::X11 => serve_x11(text, deadline),
        Backend::WlCopy => serve_wl_copy(&text, deadline),
    }
}

/// Serves the selection until another program owns it or the deadline passes. arboard
/// waits on the selection's owner alone; should the X server go away meanwhile, nothing
/// would wake it, so the connection is probed every few seconds as well.
fn serve_x11(text: String, deadline: Instant) -> Result<(), String> {
    use arboard::SetExtLinux;
    let mut probe = arboard::Clipboard::new().map_err(|e| e.to_string())?;
    let (done, ended) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = arboard::Clipboard::new().and_then(|mut c| c.set().wait_until(deadline).text(text));
        let _ = done.send(r);
    });
    loop {
        match ended.recv_timeout(Duration::from_secs(5)) {
            // Ended (taken over, or the hold time passed): nothing is left to hand over.
            Ok(Ok(())) => std::process::exit(0),
            Ok(Err(e)) => return Err(e.to_string()),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                return Err("the clipboard server stopped".to_string());
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if let Err(arboard::Error::Unknown { .. }) = probe.get_text() {
                    // The display is gone: nothing left to serve.
                    std::process::exit(0);
                }
            }
        }
    }
}

/// `wl-copy --foreground` serves until another program takes the selection; the helper
/// only adds the deadline.
fn serve_wl_copy(text: &str, deadline: Instant) -> Result<(), String> {
    let mut child = Command::new("wl-copy")
        .args(["--foreground", "--type", "text/plain"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run wl-copy: {e}"))?;
    if let Some(mut si) = child.stdin.take() {
        si.write_all(text.as_bytes())
            .map_err(|e| format!("cannot hand the text to wl-copy: {e}"))?;
    }
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let _ = child.kill();
    let _ = child.wait();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_times_read_as_people_write_them() {
        assert_eq!(parse_hold("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_hold("90s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_hold("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(parse_hold(" 2h "), Some(Duration::from_secs(7200)));
        assert_eq!(parse_hold("0"), None);
        assert_eq!(parse_hold("soon"), None);
        assert_eq!(parse_hold("5d"), None);
        assert_eq!(parse_hold("-1m"), None);
        assert_eq!(describe(DEFAULT_HOLD), "60 min");
        assert_eq!(describe(Duration::from_secs(7200)), "2 h");
        assert_eq!(describe(Duration::from_secs(45)), "45 s");
    }
}
