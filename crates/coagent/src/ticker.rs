//! CoTicker: the one-line status for shell prompts and status bars, and the files behind it.
//! `temps/status/` holds exactly one of `SESSION_OK.txt`, `SESSION_WARN.txt`,
//! `SESSION_FAIL.txt`, `SESSION_IDLE.txt` and `ticker.json`. `ticker.json` also keeps what
//! the last full check saw, so that `coagent ticker` in a prompt re-assesses from it alone,
//! without opening the store or writing anything, while nothing has changed since.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::bloat::{Level, Signal};
use crate::clock::Millis;
use crate::config::Bloat;
use crate::hub::Hub;
use crate::session::Session;
use crate::status::{InForce, SessionStatus};
use crate::{Result, fsx};

/// What the last full check saw, kept in `ticker.json` so that a prompt's `ticker` can
/// re-assess the time-dependent signals without opening the store.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Basis {
    pub sessions: Vec<(Session, crate::bloat::Facts)>,
    pub thresholds: Bloat,
    /// The capsule in force then (once a bump changed `capsule.lock`, the prompt's ticker
    /// goes to the full check).
    #[serde(default)]
    pub capsule: Option<InForce>,
    /// The sessions with a result on its way to the chat, whose breach waits for the
    /// answer ([`crate::bloat::waits`]): that reads the store, so the check saves it; it
    /// holds while the store is unchanged.
    #[serde(default)]
    pub results_in_flight: Vec<String>,
}

#[derive(Deserialize)]
struct Saved {
    level: Level,
    basis: Basis,
}

const LEVEL_FILES: [(Level, &str); 4] = [
    (Level::Ok, "SESSION_OK.txt"),
    (Level::Warn, "SESSION_WARN.txt"),
    (Level::Fail, "SESSION_FAIL.txt"),
    (Level::Idle, "SESSION_IDLE.txt"),
];

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Ticker {
    pub level: Level,
    pub session: Option<String>,
    pub signals: Vec<Signal>,
    /// The session booted with an older capsule than the one in force (see
    /// [`SessionStatus::capsule_outdated`]).
    pub capsule_outdated: bool,
    pub line: String,
}

fn signal<'a>(s: &'a SessionStatus, name: &str) -> Option<&'a Signal> {
    s.signals.iter().find(|x| x.name == name)
}

/// `[OE:✔] claude S-01J… · policy v1.2 ✓ · DOs 3 (2.4/h) · ctx ~41% · stale 3m · wrap in 2`
pub fn line(top: Option<&SessionStatus>) -> String {
    let Some(s) = top else {
        return format!("[OE:{}] idle · no live session", Level::Idle.symbol());
    };
    let echo = match s.session.echo.as_str() {
        "verified" => "✓",
        "stale" => "✗ stale echo",
        _ => "… awaiting echo",
    };
    let (version, current) = versions(&s.session.capsule_version, &s.capsule_current);
    let policy = if s.capsule_outdated {
        format!("policy {version} ✗ ({current} is current)")
    } else {
        format!("policy {version} {echo}")
    };
    let short: String = s.session.id.chars().take(8).collect();
    let mut parts = vec![
        format!(
            "[OE:{}{}] {} {short}…",
            s.level.symbol(),
            reason(s).map(|r| format!(" {r}")).unwrap_or_default(),
            s.session.vendor
        ),
        policy,
    ];
    if let (Some(d), Some(r)) = (signal(s, "dos_completed"), signal(s, "dos_per_hour")) {
        parts.push(format!("DOs {} ({})", d.value, r.shown));
    }
    if let Some(c) = signal(s, "context") {
        let share = if c.threshold > 0.0 {
            c.value / c.threshold * 100.0
        } else {
            0.0
        };
        let tilde = if c.shown.starts_with('~') { "~" } else { "" };
        parts.push(format!("ctx {tilde}{share:.0}%"));
    }
    if let Some(st) = signal(s, "stale_minutes") {
        parts.push(format!("stale {}", st.shown));
    }
    match (s.level, s.wrap_in) {
        (Level::Fail, _) => {
            let which: Vec<&str> = s
                .signals
                .iter()
                .filter(|x| x.level == Level::Fail)
                .map(|x| x.name)
                .collect();
            // As `status` says it: a result on its way is answered before the wrap.
            if s.wrap_waits {
                parts.push(format!(
                    "wrap next ({}; after the chat's answer)",
                    which.join(", ")
                ));
            } else {
                parts.push(format!("WRAP NOW ({})", which.join(", ")));
            }
        }
        (_, Some(n)) => parts.push(format!("wrap in {n}")),
        _ => {}
    }
    parts.join(" · ")
}

/// The word a WARN or FAIL is about (`ctx`, `drift`, `stale`…): the signal at the
/// session's level that matters most.
fn reason(s: &SessionStatus) -> Option<&'static str> {
    if !matches!(s.level, Level::Warn | Level::Fail) {
        return None;
    }
    // The chat's own state first: what it does and holds, then the pace of the work.
    const FIRST: [&str; 7] = [
        "drift",
        "context",
        "stale_minutes",
        "dos_completed",
        "artifact_latency",
        "dos_per_hour",
        "ingests",
    ];
    FIRST
        .into_iter()
        .find(|name| signal(s, name).is_some_and(|x| x.level == s.level))
        .map(reason_word)
}

/// A signal's name in a word, as the ticker shows it.
pub fn reason_word(signal: &str) -> &'static str {
    match signal {
        "dos_completed" => "dos",
        "dos_per_hour" => "pace",
        "stale_minutes" => "stale",
        "artifact_latency" => "latency",
        "context" => "ctx",
        "ingests" => "turns",
        "drift" => "drift",
        _ => "bloat",
    }
}

/// Two capsule versions as the echo names them (`v1.0`), in full when that alone would
/// not tell them apart (`v1.0.0`, `v1.0.1`).
fn versions(a: &str, b: &str) -> (String, String) {
    let short = |v: &str| {
        crate::capsule::echo_line(v)
            .trim_start_matches("Policy ")
            .trim_end_matches(" loaded.")
            .to_string()
    };
    let (sa, sb) = (short(a), short(b));
    if sa == sb && a != b {
        (format!("v{a}"), format!("v{b}"))
    } else {
        (sa, sb)
    }
}

pub fn ticker(top: Option<&SessionStatus>) -> Ticker {
    Ticker {
        level: top.map_or(Level::Idle, |s| s.level),
        session: top.map(|s| s.session.id.clone()),
        signals: top.map(|s| s.signals.clone()).unwrap_or_default(),
        capsule_outdated: top.is_some_and(|s| s.capsule_outdated),
        line: line(top),
    }
}

/// Keeps exactly one `SESSION_<LEVEL>.txt` and `ticker.json` in `temps/status/`.
pub fn write_status_files(hub: &Hub, top: Option<&SessionStatus>, basis: &Basis) -> Result<()> {
    let dir = hub.status_dir();
    let t = ticker(top);
    let mut doc = serde_json::to_value(&t).unwrap_or_default();
    if let Some(o) = doc.as_object_mut() {
        o.insert(
            "basis".into(),
            serde_json::to_value(basis).unwrap_or_default(),
        );
    }
    let json = serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n";
    // Always rewritten (unsynced, so cheap): its modification time says which state of the
    // store it reflects, and [`fast`] trusts it only while it is newer than the store.
    fsx::write_derived(&dir.join("ticker.json"), json.as_bytes())?;
    for (level, name) in LEVEL_FILES {
        let p = dir.join(name);
        if level == t.level {
            let text = format!("{}\n", t.line);
            if std::fs::read_to_string(&p).ok().as_deref() != Some(text.as_str()) {
                fsx::write_derived(&p, text.as_bytes())?;
            }
        } else if let Err(e) = std::fs::remove_file(&p)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            // NotFound is fine: another process (watch) removed it first.
            return Err(crate::Error::io(
                format!("cannot remove {}", p.display()),
                e,
            ));
        }
    }
    Ok(())
}

fn mtime(p: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(p).and_then(|m| m.modified()).ok()
}

/// The ticker from `ticker.json` alone, when nothing it was computed from has changed
/// since (the store, config.toml) and the level at `now` is still the one it recorded:
/// no store opened, nothing written. `None` sends the caller to the full check.
pub fn fast(hub_dir: &Path, now: Millis) -> Option<Ticker> {
    let path = hub_dir.join("temps").join("status").join("ticker.json");
    let written = mtime(&path)?;
    for dep in ["store.db", "store.db-wal", crate::config::FILE] {
        if mtime(&hub_dir.join(dep)).is_some_and(|m| m > written) {
            return None;
        }
    }
    let saved: Saved = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    // A bump since changes the capsule in force; its lock is read rather than dated, since
    // the bump's own check may write ticker.json within the same clock tick.
    let lock = crate::capsule::read_lock(hub_dir).ok()?;
    if saved.basis.capsule.as_ref()?.sha256 != lock.sha256 {
        return None;
    }
    let mut out: Vec<SessionStatus> = saved
        .basis
        .sessions
        .into_iter()
        .map(|(s, f)| {
            let a = crate::bloat::assess(&f, &saved.basis.thresholds, now);
            let waits =
                saved.basis.results_in_flight.contains(&s.id) && crate::bloat::waits(&a.signals);
            let mut st = crate::status::session_status(s, a, saved.basis.capsule.as_ref());
            st.wrap_waits = waits;
            st
        })
        .collect();
    crate::status::sort(&mut out);
    let t = ticker(out.first());
    (t.level == saved.level).then_some(t)
}
