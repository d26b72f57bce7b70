//! A long DO's progress on the terminal: while its script runs, one status line on stderr
//! (elapsed time and the size of its output so far), redrawn in place and wiped before
//! the script's next output; when it ends, the last line it wrote.
//!
//! This is the command line's side of [`coagent::dos::Progress`]: the library calls
//! `starting`, writes the script's output through `live`, and calls `ended`; a small
//! ticker thread here redraws the line. The library stays synchronous and never prints.
//! Nothing of this is shown when stderr is not a terminal.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use coagent::dos;

use crate::out;

/// A run shorter than this shows no status line and no summary: its output says enough.
const SHOW_AFTER: Duration = Duration::from_secs(2);
/// The line is drawn only once the script has been quiet this long, so that a script
/// writing steadily is not interleaved with it.
const QUIET: Duration = Duration::from_millis(400);
const TICK: Duration = Duration::from_millis(200);
/// The longest last line kept, in bytes (a script may write a megabyte without a newline).
const LINE_CAP: usize = 400;
/// Wipes the terminal's current line.
const WIPE: &str = "\r\x1b[2K";

/// The script's output as the meter sees it: its size and its last line.
#[derive(Debug, Default)]
pub struct Tally {
    pub bytes: u64,
    /// The line being written (no newline yet), at most [`LINE_CAP`] bytes.
    current: Vec<u8>,
    /// The last complete line.
    last: Vec<u8>,
    /// The output so far ends with a newline (or there is none).
    pub at_line_start: bool,
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            at_line_start: true,
            ..Tally::default()
        }
    }

    pub fn feed(&mut self, buf: &[u8]) {
        self.bytes += buf.len() as u64;
        let Some(&end) = buf.last() else {
            return;
        };
        let mut lines = buf.split(|&b| b == b'\n').peekable();
        while let Some(piece) = lines.next() {
            let room = LINE_CAP.saturating_sub(self.current.len());
            self.current
                .extend_from_slice(&piece[..piece.len().min(room)]);
            if lines.peek().is_some() {
                // A newline ended this piece: a blank line does not replace the last one.
                if self.current.iter().any(|b| !b.is_ascii_whitespace()) {
                    self.last = std::mem::take(&mut self.current);
                } else {
                    self.current.clear();
                }
            }
        }
        self.at_line_start = end == b'\n';
    }

    /// The last line the script wrote, made safe to print: no control characters (a
    /// script's colours and cursor moves stay its own), at most 120 characters.
    pub fn last_line(&self) -> Option<String> {
        let raw = if self.current.iter().any(|b| !b.is_ascii_whitespace()) {
            &self.current
        } else {
            &self.last
        };
        let text = String::from_utf8_lossy(raw);
        let clean: String = strip_escapes(&text)
            .chars()
            .filter(|c| !c.is_control() || *c == '\t')
            .collect();
        let clean = clean.trim();
        if clean.is_empty() {
            return None;
        }
        Some(if clean.chars().count() > 120 {
            format!("{}…", clean.chars().take(119).collect::<String>())
        } else {
            clean.to_string()
        })
    }
}

/// Removes ANSI escape sequences (`ESC [ … letter`, and any other `ESC x` pair).
fn strip_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.next_if_eq(&'[').is_some() {
            for n in chars.by_ref() {
                if n.is_ascii_alphabetic() || n == '~' {
                    break;
                }
            }
        } else {
            chars.next();
        }
    }
    out
}

/// `512 B`, `3.4 KiB`, `12.0 MiB`.
pub fn size(bytes: u64) -> String {
    const KIB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} B")
    } else if b < KIB * KIB {
        format!("{:.1} KiB", b / KIB)
    } else if b < KIB * KIB * KIB {
        format!("{:.1} MiB", b / KIB / KIB)
    } else {
        format!("{:.2} GiB", b / KIB / KIB / KIB)
    }
}

/// `7s`, `1m 05s`, `2h 03m`.
pub fn elapsed(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The status line: `⏱ 1m 05s · 3.4 KiB of output · Ctrl-C stops it`.
pub fn status_line(id: &str, running: Duration, bytes: u64) -> String {
    format!(
        "  ⏱ {id} running {} · {} of output · Ctrl-C stops it",
        elapsed(running),
        size(bytes)
    )
}

/// What the ticker and the writer share.
struct Shared {
    id: String,
    started: Instant,
    last_write: Instant,
    tally: Tally,
    /// The status line on the screen now, if any.
    shown: Option<String>,
    stop: bool,
}

fn lock(m: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The script's output on its way to the terminal: counted, and never drawn over.
struct Tee {
    out: Box<dyn Write>,
    shared: Option<Arc<Mutex<Shared>>>,
}

impl Write for Tee {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let Some(shared) = &self.shared else {
            return self.out.write(buf);
        };
        let mut s = lock(shared);
        if s.shown.take().is_some() {
            eprint!("{WIPE}");
        }
        self.out.write_all(buf)?;
        self.out.flush()?;
        s.tally.feed(buf);
        s.last_write = Instant::now();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// [`dos::Progress`] for the terminal: a line before each DO, its live output, the status
/// line while it runs long, and its last line when it ends.
pub struct Terminal {
    json: bool,
    /// The script's output shares the terminal with the status line (stdout on a terminal,
    /// or stderr with `--json`): the line is then drawn only at a line start.
    shares_screen: bool,
    meter: bool,
    tee: Tee,
    ticker: Option<std::thread::JoinHandle<()>>,
}

impl Terminal {
    /// Live output to stdout, or to stderr when stdout carries JSON.
    pub fn new(json: bool) -> Terminal {
        let meter = std::io::stderr().is_terminal();
        let shares_screen = json || std::io::stdout().is_terminal();
        Terminal {
            json,
            shares_screen,
            meter,
            tee: Tee {
                out: if json {
                    Box::new(std::io::stderr())
                } else {
                    Box::new(std::io::stdout())
                },
                shared: None,
            },
            ticker: None,
        }
    }

    fn start_meter(&mut self, id: &str) {
        let now = Instant::now();
        let shared = Arc::new(Mutex::new(Shared {
            id: id.to_string(),
            started: now,
            last_write: now,
            tally: Tally::new(),
            shown: None,
            stop: false,
        }));
        self.tee.shared = Some(Arc::clone(&shared));
        let shares_screen = self.shares_screen;
        self.ticker = Some(std::thread::spawn(move || tick(&shared, shares_screen)));
    }

    /// Stops the ticker and wipes its line; the summary when the run was long.
    fn stop_meter(&mut self) {
        let Some(shared) = self.tee.shared.take() else {
            return;
        };
        lock(&shared).stop = true;
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        let s = lock(&shared);
        if s.shown.is_some() {
            eprint!("{WIPE}");
        }
        let ran = s.started.elapsed();
        if ran < SHOW_AFTER {
            return;
        }
        let mut summary = format!(
            "  {} after {} · {} of output",
            out::dim("ended"),
            elapsed(ran),
            size(s.tally.bytes)
        );
        if let Some(l) = s.tally.last_line() {
            summary.push_str(&format!(" · last line: {l}"));
        }
        if !s.tally.at_line_start && self.shares_screen {
            eprintln!();
        }
        eprintln!("{summary}");
    }
}

/// Redraws the status line until told to stop.
fn tick(shared: &Mutex<Shared>, shares_screen: bool) {
    loop {
        std::thread::sleep(TICK);
        let mut s = lock(shared);
        if s.stop {
            return;
        }
        let ran = s.started.elapsed();
        let quiet = s.last_write.elapsed() >= QUIET;
        if ran >= SHOW_AFTER && quiet && (s.tally.at_line_start || !shares_screen) {
            let line = status_line(&s.id, ran, s.tally.bytes);
            if s.shown.as_deref() != Some(line.as_str()) {
                eprint!("{WIPE}{}", out::dim(&line));
                let _ = std::io::stderr().flush();
                s.shown = Some(line);
            }
        }
    }
}

impl dos::Progress for Terminal {
    fn starting(&mut self, k: usize, n: usize, d: &dos::Do) {
        if !self.json {
            let count = if n > 1 {
                format!(" ({k}/{n})")
            } else {
                String::new()
            };
            eprintln!(
                "{} {} {}{count} — output follows; Ctrl-C stops it and its children\n",
                out::bold("Running"),
                d.id,
                d.title
            );
        }
        if self.meter {
            self.start_meter(&d.id);
        }
    }

    fn live(&mut self) -> &mut dyn Write {
        &mut self.tee
    }

    fn ended(&mut self, _d: &dos::Do) {
        self.stop_meter();
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        self.stop_meter();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tally_counts_bytes_and_keeps_the_last_line() {
        let mut t = Tally::new();
        assert_eq!(t.last_line(), None);
        t.feed(b"compiling a\ncompiling b\n");
        assert_eq!(t.bytes, 24);
        assert!(t.at_line_start);
        assert_eq!(t.last_line().as_deref(), Some("compiling b"));
        t.feed(b"\n\n");
        assert_eq!(
            t.last_line().as_deref(),
            Some("compiling b"),
            "blank lines skipped"
        );
        t.feed(b"50% do");
        assert!(!t.at_line_start);
        t.feed(b"ne");
        assert_eq!(
            t.last_line().as_deref(),
            Some("50% done"),
            "a line in two writes"
        );
        t.feed(b"\n\x1b[32mok\x1b[0m\r\n");
        assert_eq!(
            t.last_line().as_deref(),
            Some("ok"),
            "escapes and CR removed"
        );
        t.feed(&vec![b'x'; 5000]);
        assert_eq!(t.last_line().expect("a line").chars().count(), 120);
    }

    #[test]
    fn sizes_and_times_read_at_a_glance() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(3500), "3.4 KiB");
        assert_eq!(size(12 * 1024 * 1024), "12.0 MiB");
        assert_eq!(elapsed(Duration::from_secs(7)), "7s");
        assert_eq!(elapsed(Duration::from_secs(65)), "1m 05s");
        assert_eq!(elapsed(Duration::from_secs(7380)), "2h 03m");
        assert_eq!(
            status_line("DO-1", Duration::from_secs(65), 3500),
            "  ⏱ DO-1 running 1m 05s · 3.4 KiB of output · Ctrl-C stops it"
        );
    }
}
