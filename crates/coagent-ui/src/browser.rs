//! Opens the page in the user's default browser: the platform's own opener, started and
//! left alone. Written here rather than taken from a crate: the crates that do it pull in
//! a URL parser with Unicode tables for what is one process spawn.

use std::process::{Command, Stdio};

/// Best effort: `false` when no opener could be started (the URL is printed anyway).
pub fn open(url: &str) -> bool {
    let mut cmd = if cfg!(windows) {
        // `start` would read `&` in a URL as a command separator; this handler does not.
        let mut c = Command::new("rundll32");
        c.args(["url.dll,FileProtocolHandler", url]);
        c
    } else if cfg!(target_os = "macos") {
        let mut c = Command::new("open");
        c.arg(url);
        c
    } else {
        let mut c = Command::new("xdg-open");
        c.arg(url);
        c
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .is_ok()
}
