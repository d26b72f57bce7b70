//! Output: one JSON document on stdout with `--json`, readable text otherwise; colour only
//! on a terminal and never with `NO_COLOR`; a closed pipe (`coagent status | head -1`) is
//! not an error. Errors print their whole chain and a hint, and map to exit codes
//! 1 (user error) and 2 (internal error).

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use serde::Serialize;

pub fn color() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

fn paint(code: &str, s: &str) -> String {
    if color() {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

pub fn bold(s: &str) -> String {
    paint("1", s)
}
pub fn green(s: &str) -> String {
    paint("32", s)
}
pub fn yellow(s: &str) -> String {
    paint("33", s)
}
pub fn red(s: &str) -> String {
    paint("31", s)
}
pub fn dim(s: &str) -> String {
    paint("2", s)
}

/// Writes to stdout; a closed pipe ends the program quietly with success.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|_| out.flush())
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        std::process::exit(0);
    }
}

pub fn json(value: &impl Serialize) {
    let mut s =
        serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    s.push('\n');
    print(&s);
}

/// Emits `value` as JSON, or `human` as text.
pub fn emit(json_mode: bool, value: &impl Serialize, human: impl FnOnce() -> String) {
    if json_mode {
        json(value)
    } else {
        print(&human())
    }
}

/// Prints an error with its chain and hint; returns the exit code.
pub fn report_error(e: &anyhow::Error, json_mode: bool) -> ExitCode {
    let lib = e.chain().find_map(|c| c.downcast_ref::<coagent::Error>());
    let hint = lib.and_then(|l| l.hint());
    let user = lib.map_or_else(
        || e.chain().any(|c| c.downcast_ref::<UserError>().is_some()),
        |l| l.is_user(),
    );
    let hint = hint.or_else(|| {
        e.chain()
            .find_map(|c| c.downcast_ref::<UserError>())
            .and_then(|u| u.hint.clone())
    });
    let chain: Vec<String> = e.chain().map(|c| c.to_string()).collect();
    let reported = e
        .chain()
        .any(|c| c.downcast_ref::<UserError>().is_some_and(|u| u.reported));
    if json_mode && !reported {
        json(&serde_json::json!({
            "error": {"message": chain.join(": "), "hint": hint, "kind": if user { "user" } else { "internal" }}
        }));
    }
    let mut msg = format!("{} {}\n", red("error:"), chain[0]);
    for c in chain.iter().skip(1) {
        msg.push_str(&format!("  caused by: {c}\n"));
    }
    if let Some(h) = hint {
        msg.push_str(&format!("  {} {h}\n", yellow("hint:")));
    }
    let _ = std::io::stderr().write_all(msg.as_bytes());
    ExitCode::from(if user { 1 } else { 2 })
}

/// A user error raised by the command line itself (bad arguments the parser cannot see).
#[derive(Debug)]
pub struct UserError {
    pub message: String,
    pub hint: Option<String>,
    /// The command already printed its JSON document; print no second one.
    pub reported: bool,
}

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for UserError {}

/// A user error after the command printed its report: with `--json`, stdout keeps that
/// one document and the error goes to stderr only.
pub fn reported(message: impl Into<String>, hint: Option<&str>, json_mode: bool) -> anyhow::Error {
    anyhow::Error::new(UserError {
        message: message.into(),
        hint: hint.map(str::to_string),
        reported: json_mode,
    })
}

pub fn user(message: impl Into<String>, hint: Option<&str>) -> anyhow::Error {
    anyhow::Error::new(UserError {
        reported: false,
        message: message.into(),
        hint: hint.map(str::to_string),
    })
}

/// A list printed as it is read, so that `--all` over a hundred thousand records keeps
/// memory flat: text lines, or with `--json` the one document
/// `{"<key>": [item, …], "more": bool, …}` written item by item.
pub struct ListPrinter {
    json: bool,
    shown: usize,
}

impl ListPrinter {
    pub fn start(json: bool, key: &'static str) -> ListPrinter {
        ListPrinter::start_with(json, key, serde_json::json!({}))
    }

    /// A list after other fields: `{<head's fields>, "<key>": [item, …], …}`.
    pub fn start_with(json: bool, key: &'static str, head: serde_json::Value) -> ListPrinter {
        if json {
            let mut s = String::from("{");
            if let serde_json::Value::Object(m) = head {
                for (k, v) in m {
                    s.push_str(&format!("{}: {v}, ", serde_json::Value::String(k)));
                }
            }
            s.push_str(&format!("\"{key}\": ["));
            print(&s);
        }
        ListPrinter { json, shown: 0 }
    }

    pub fn item<T: Serialize>(&mut self, value: &T, text: impl FnOnce(&T) -> String) {
        if self.json {
            let item =
                serde_json::to_string(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
            let sep = if self.shown == 0 { "\n  " } else { ",\n  " };
            print(&format!("{sep}{item}"));
        } else {
            print(&text(value));
        }
        self.shown += 1;
    }

    pub fn shown(&self) -> usize {
        self.shown
    }

    /// Ends the list: with `--json` closes the document (with `extra`'s fields); as text
    /// says `empty` when nothing was shown, and when `more` were left how to see them.
    pub fn finish(self, more: bool, empty: &str, extra: serde_json::Value) {
        if self.json {
            let mut tail = format!("\n], \"more\": {more}");
            if let serde_json::Value::Object(m) = extra {
                for (k, v) in m {
                    tail.push_str(&format!(", {}: {v}", serde_json::Value::String(k)));
                }
            }
            tail.push_str("}\n");
            print(&tail);
            return;
        }
        if self.shown == 0 {
            print(empty);
        }
        if more {
            print(&dim(&format!(
                "… the newest {} shown: --limit N shows more, --all every one, --since narrows.\n",
                self.shown
            )));
        }
    }
}
