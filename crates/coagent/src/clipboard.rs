//! The clipboard, as the library sees it: something a payload can be copied to. The real
//! adapters (system clipboard, OSC 52, a file for tests and headless machines) live at the
//! binary's edge; the library only ever *writes* through [`Clipboard`], and only from
//! [`crate::payload::send`], after the secret guard.

use serde::Serialize;

/// What happened to a copy. A machine without a clipboard never fails a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ClipOutcome {
    /// Copied; `via` starts with `system` (the clipboard was read back holding the text;
    /// on Linux with how long it is held), or is `osc52` (sent to the terminal, which may
    /// ignore it) or `file`.
    Copied { via: String },
    /// Not copied; `reason` says why (e.g. `--no-clipboard`, no display).
    Skipped { reason: String },
}

pub trait Clipboard {
    fn copy(&mut self, text: &str) -> ClipOutcome;
}

/// `--no-clipboard`: payloads go to the outbox only.
#[derive(Debug, Default)]
pub struct NoClipboard {
    pub reason: String,
}

impl Clipboard for NoClipboard {
    fn copy(&mut self, _text: &str) -> ClipOutcome {
        ClipOutcome::Skipped {
            reason: self.reason.clone(),
        }
    }
}
