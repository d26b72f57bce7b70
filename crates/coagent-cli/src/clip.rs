//! Clipboard adapters at the edge. One small choice, in order:
//! `--no-clipboard` / `COAGENT_NO_CLIPBOARD=1` → none; `COAGENT_CLIPBOARD=file:PATH` → a file
//! (for scripts, tests and machines without a desktop); `osc52`, or a remote terminal (SSH) →
//! the OSC 52 escape sequence, which the user's terminal turns into a local copy; otherwise
//! the system clipboard where a display exists: on macOS and Windows through arboard, on
//! Linux and the BSDs through a detached helper that keeps the copy alive after the command
//! exits ([`hold`]). A system copy counts only once the clipboard is read back holding the
//! text. A machine with no clipboard never fails a command: the copy is skipped and the
//! command says where the payload file is.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use base64::Engine;
use coagent::clipboard::{ClipOutcome, Clipboard, NoClipboard};

#[cfg(all(unix, not(target_os = "macos")))]
pub mod hold;

pub fn choose(no_clipboard: bool) -> Box<dyn Clipboard> {
    if no_clipboard {
        return Box::new(NoClipboard {
            reason: "--no-clipboard".to_string(),
        });
    }
    let setting = std::env::var("COAGENT_CLIPBOARD").unwrap_or_default();
    if let Some(path) = setting.strip_prefix("file:") {
        return Box::new(FileClipboard {
            path: PathBuf::from(path),
        });
    }
    match setting.as_str() {
        "none" => Box::new(NoClipboard {
            reason: "COAGENT_CLIPBOARD=none".to_string(),
        }),
        "osc52" => Box::new(Osc52),
        "system" => Box::new(System),
        _ if std::env::var_os("SSH_TTY").is_some()
            || std::env::var_os("SSH_CONNECTION").is_some() =>
        {
            Box::new(Osc52)
        }
        _ => Box::new(System),
    }
}

/// Reads the clipboard's text (for `ingest` with no file).
pub fn read() -> Result<String, String> {
    let setting = std::env::var("COAGENT_CLIPBOARD").unwrap_or_default();
    if let Some(path) = setting.strip_prefix("file:") {
        return std::fs::read(path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(|e| format!("cannot read {path}: {e}"));
    }
    if !has_display() {
        return Err("no clipboard on this machine (no display)".to_string());
    }
    #[cfg(all(unix, not(target_os = "macos")))]
    if let Some(text) = hold::read_wayland() {
        return text;
    }
    arboard::Clipboard::new()
        .and_then(|mut c| c.get_text())
        .map_err(|e| format!("the clipboard could not be read: {e}"))
}

fn has_display() -> bool {
    if cfg!(any(target_os = "macos", target_os = "windows")) {
        return true;
    }
    std::env::var_os("DISPLAY").is_some_and(|v| !v.is_empty())
        || std::env::var_os("WAYLAND_DISPLAY").is_some_and(|v| !v.is_empty())
}

struct System;

impl Clipboard for System {
    fn copy(&mut self, text: &str) -> ClipOutcome {
        if !has_display() {
            return ClipOutcome::Skipped {
                reason: "no display for a clipboard".to_string(),
            };
        }
        #[cfg(all(unix, not(target_os = "macos")))]
        return hold::copy(text);
        #[cfg(not(all(unix, not(target_os = "macos"))))]
        copy_and_check(text)
    }
}

/// macOS and Windows keep a copy after the program exits: set it, then read it back.
#[cfg(not(all(unix, not(target_os = "macos"))))]
fn copy_and_check(text: &str) -> ClipOutcome {
    let res = arboard::Clipboard::new().and_then(|mut c| {
        c.set_text(text.to_string())?;
        c.get_text()
    });
    match res {
        Ok(got) if got == text => ClipOutcome::Copied {
            via: "system".to_string(),
        },
        Ok(_) => ClipOutcome::Skipped {
            reason: "the clipboard did not take the payload".to_string(),
        },
        Err(e) => ClipOutcome::Skipped {
            reason: format!("clipboard unavailable: {e}"),
        },
    }
}

/// OSC 52: `ESC ] 52 ; c ; <base64> BEL`, written to the controlling terminal.
struct Osc52;

impl Clipboard for Osc52 {
    fn copy(&mut self, text: &str) -> ClipOutcome {
        let seq = format!(
            "\x1b]52;c;{}\x07",
            base64::engine::general_purpose::STANDARD.encode(text)
        );
        let wrote = terminal()
            .and_then(|mut t| t.write_all(seq.as_bytes()))
            .is_ok()
            || (std::io::stderr().is_terminal()
                && std::io::stderr().write_all(seq.as_bytes()).is_ok());
        if wrote {
            ClipOutcome::Copied {
                via: "osc52".to_string(),
            }
        } else {
            ClipOutcome::Skipped {
                reason: "no terminal for OSC 52".to_string(),
            }
        }
    }
}

/// The terminal itself, even when stdout and stderr are redirected: `/dev/tty` on Unix; on
/// Windows the console's screen buffer (`CONOUT$`), with escape sequences turned on
/// (Windows Terminal and recent consoles read OSC 52 then).
#[cfg(unix)]
fn terminal() -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).open("/dev/tty")
}

#[cfg(windows)]
fn terminal() -> std::io::Result<std::fs::File> {
    let console = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("CONOUT$")?;
    enable_ansi_support::enable_ansi_support()?;
    Ok(console)
}

#[cfg(not(any(unix, windows)))]
fn terminal() -> std::io::Result<std::fs::File> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// Each copy replaces the file's content and is appended to `PATH.history`.
struct FileClipboard {
    path: PathBuf,
}

impl Clipboard for FileClipboard {
    fn copy(&mut self, text: &str) -> ClipOutcome {
        let mut hist = self.path.clone().into_os_string();
        hist.push(".history");
        let res = std::fs::write(&self.path, text).and_then(|_| {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(PathBuf::from(hist))?;
            f.write_all(text.as_bytes())?;
            f.write_all(b"\n\x1e\n")
        });
        match res {
            Ok(()) => ClipOutcome::Copied {
                via: "file".to_string(),
            },
            Err(e) => ClipOutcome::Skipped {
                reason: format!("cannot write {}: {e}", self.path.display()),
            },
        }
    }
}
