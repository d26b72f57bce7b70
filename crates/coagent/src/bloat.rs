//! The bloat monitor: the signals that say a chat is degrading (SPEC §9), each against its
//! threshold from `config.toml`. [`assess`] is a pure function of a session's facts and the
//! time, so every signal can be tested at its threshold with a fixed clock; [`facts`]
//! gathers those facts from the store with indexed queries, cheap enough for every command.

use serde::{Deserialize, Serialize};

use crate::clock::Millis;
use crate::config::Bloat;
use crate::hub::Hub;
use crate::session::Session;
use crate::vendor::Vendor;
use crate::{Result, store};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Idle,
    Ok,
    Warn,
    Fail,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Idle => "IDLE",
            Level::Ok => "OK",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Level::Idle => "·",
            Level::Ok => "✔",
            Level::Warn => "▲",
            Level::Fail => "✖",
        }
    }
}

/// What the monitor needs to know about one session.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Facts {
    pub booted_at: Millis,
    /// When each completed DO's first successful run ended.
    pub completed_at: Vec<Millis>,
    /// Last ingest or ACK (or the boot, before any).
    pub last_activity_at: Millis,
    /// Proposal → first artifact, per turn (a reply's DOs: its first artifact), in
    /// proposal order. Per DO it would grow by itself as the human runs a reply's DOs in
    /// sequence.
    pub latencies_ms: Vec<Millis>,
    pub tokens: u64,
    pub tokens_exact: bool,
    pub context_tokens: u64,
    /// The vendor's effective-context budget (0: none known, the window share alone).
    #[serde(default)]
    pub budget_warn: u64,
    #[serde(default)]
    pub budget_breach: u64,
    pub ingests: u64,
    /// The turn (1-based reply number) of each drift event, oldest first.
    #[serde(default)]
    pub drift_turns: Vec<u64>,
}

/// Where the context signal warns and breaches, in tokens: the lower of the vendor's
/// effective-context budget and the window share (`context_ratio`, a second cap).
pub fn context_levels(window: u64, budget_warn: u64, budget_breach: u64, t: &Bloat) -> (u64, u64) {
    let cap = window as f64 * t.context_ratio;
    let known = |b: u64| if b == 0 { u64::MAX } else { b };
    let breach = known(budget_breach).min(cap as u64);
    let warn = known(budget_warn)
        .min((cap * t.warn_ratio) as u64)
        .min(breach);
    (warn, breach)
}

/// A token count as people read it: `850`, `26.3k`, `64k`.
pub fn kilo(n: u64) -> String {
    if n < 1_000 {
        n.to_string()
    } else if n.is_multiple_of(1_000) {
        format!("{}k", n / 1_000)
    } else {
        format!("{:.1}k", n as f64 / 1_000.0)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Signal {
    pub name: &'static str,
    pub value: f64,
    pub threshold: f64,
    pub level: Level,
    /// The value as a person reads it, e.g. `3 DOs`, `12m`, `~41%`.
    pub shown: String,
    /// Why the level is what it is, when that is not obvious.
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    pub level: Level,
    pub signals: Vec<Signal>,
}

impl Assessment {
    pub fn breached(&self) -> Vec<&Signal> {
        self.signals
            .iter()
            .filter(|s| s.level == Level::Fail)
            .collect()
    }

    /// DOs left before the DO-count signal wraps the session.
    pub fn wrap_in(&self) -> Option<u64> {
        self.signals
            .iter()
            .find(|s| s.name == "dos_completed")
            .map(|s| (s.threshold - s.value).max(0.0).ceil() as u64)
    }
}

/// A rising signal: FAIL at the threshold, WARN from `warn` × threshold.
fn rising(value: f64, threshold: f64, warn: f64) -> Level {
    if value >= threshold {
        Level::Fail
    } else if value >= warn * threshold {
        Level::Warn
    } else {
        Level::Ok
    }
}

fn median(v: &[Millis]) -> f64 {
    let mut s = v.to_vec();
    s.sort_unstable();
    let n = s.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        s[n / 2] as f64
    } else {
        (s[n / 2 - 1] + s[n / 2]) as f64 / 2.0
    }
}

/// Every signal of SPEC §9 for one session at `now`.
pub fn assess(f: &Facts, t: &Bloat, now: Millis) -> Assessment {
    let w = t.warn_ratio;
    let mut signals = Vec::with_capacity(7);

    let done = f.completed_at.len() as f64;
    signals.push(Signal {
        name: "dos_completed",
        value: done,
        threshold: t.max_dos,
        level: rising(done, t.max_dos, w),
        shown: format!("{done} DOs"),
        note: String::new(),
    });

    let age_min = (now - f.booted_at).max(0) as f64 / 60_000.0;
    let hour_ago = now - 3_600_000;
    let last_hour = f
        .completed_at
        .iter()
        .filter(|&&t| t > hour_ago && t <= now)
        .count() as f64;
    let rate = if age_min >= 60.0 {
        last_hour
    } else {
        last_hour * 60.0 / age_min.max(1.0)
    };
    let (level, note) = if age_min < t.warmup_minutes {
        (
            Level::Ok,
            format!("warming up ({:.0} of {:.0} min)", age_min, t.warmup_minutes),
        )
    } else if rate < t.min_dos_per_hour {
        (Level::Fail, "below the minimum".to_string())
    } else if rate * w < t.min_dos_per_hour {
        (Level::Warn, "close to the minimum".to_string())
    } else {
        (Level::Ok, String::new())
    };
    signals.push(Signal {
        name: "dos_per_hour",
        value: round2(rate),
        threshold: t.min_dos_per_hour,
        level,
        shown: format!("{rate:.1}/h"),
        note,
    });

    let stale = (now - f.last_activity_at).max(0) as f64 / 60_000.0;
    signals.push(Signal {
        name: "stale_minutes",
        value: round2(stale),
        threshold: t.stale_minutes,
        level: rising(stale, t.stale_minutes, w),
        shown: crate::clock::human_duration(now - f.last_activity_at),
        note: String::new(),
    });

    let l = &f.latencies_ms;
    let (ratio, is_rising) = if l.len() >= 3 {
        let last3 = &l[l.len() - 3..];
        let med = median(l);
        let ratio = if med > 0.0 {
            l[l.len() - 1] as f64 / med
        } else {
            0.0
        };
        (ratio, last3[0] < last3[1] && last3[1] < last3[2])
    } else {
        (0.0, false)
    };
    let level = if is_rising {
        rising(ratio, t.latency_factor, w)
    } else {
        Level::Ok
    };
    signals.push(Signal {
        name: "artifact_latency",
        value: round2(ratio),
        threshold: t.latency_factor,
        level,
        shown: if l.len() >= 3 {
            format!(
                "{ratio:.1}× median{}",
                if is_rising { ", rising" } else { "" }
            )
        } else {
            format!("{} of 3 turns", l.len())
        },
        note: if l.len() < 3 {
            "measured once 3 turns have artifacts".to_string()
        } else {
            String::new()
        },
    });

    signals.push(context_signal(f, t));
    signals.push(drift_signal(f, t));

    let turns = f.ingests as f64;
    signals.push(Signal {
        name: "ingests",
        value: turns,
        threshold: t.max_ingests,
        level: rising(turns, t.max_ingests, w),
        shown: format!("{} turns", f.ingests),
        note: String::new(),
    });

    let level = signals.iter().map(|s| s.level).max().unwrap_or(Level::Ok);
    Assessment { level, signals }
}

/// Tokens exchanged against the effective-context budget.
fn context_signal(f: &Facts, t: &Bloat) -> Signal {
    let (warn, breach) = context_levels(f.context_tokens, f.budget_warn, f.budget_breach, t);
    let tilde = if f.tokens_exact { "" } else { "~" };
    let level = if f.tokens >= breach {
        Level::Fail
    } else if f.tokens >= warn {
        Level::Warn
    } else {
        Level::Ok
    };
    Signal {
        name: "context",
        value: f.tokens as f64,
        threshold: breach as f64,
        level,
        shown: format!("{tilde}{} of {}", kilo(f.tokens), kilo(breach)),
        note: format!(
            "WARN at {}; the window is {}",
            kilo(warn),
            kilo(f.context_tokens)
        ),
    }
}

/// The chat's lapses from the capsule over the last `drift_turns` turns.
fn drift_signal(f: &Facts, t: &Bloat) -> Signal {
    let window = t.drift_turns.max(1.0) as u64;
    let since = f.ingests.saturating_sub(window);
    let recent = f.drift_turns.iter().filter(|&&turn| turn > since).count() as f64;
    let level = if recent >= t.drift_fail {
        Level::Fail
    } else if recent >= t.drift_warn {
        Level::Warn
    } else {
        Level::Ok
    };
    Signal {
        name: "drift",
        value: recent,
        threshold: t.drift_fail,
        level,
        shown: format!("{recent} in {window} turns"),
        note: if f.drift_turns.is_empty() {
            String::new()
        } else {
            format!("{} since boot", f.drift_turns.len())
        },
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Gathers a session's facts from the store.
pub fn facts(hub: &Hub, s: &Session, vendor: &Vendor) -> Result<Facts> {
    let c = hub.store.conn();
    let mut stmt = c.prepare_cached(
        "SELECT MIN(r.ended_at) FROM dos d JOIN runs r ON r.do_id = d.id
         WHERE d.session = ?1 AND r.status = 'succeeded' AND r.ended_at IS NOT NULL
         GROUP BY d.id ORDER BY 1",
    )?;
    let completed_at = stmt
        .query_map([&s.id], |r| r.get::<_, Millis>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // Per turn: the first artifact of each reply's DOs (a DO recorded before the `reply`
    // column counts as a turn of its own).
    let mut stmt = c.prepare_cached(
        "SELECT MIN(first_artifact_at) - MIN(proposed_at) FROM dos
         WHERE session = ?1 AND first_artifact_at IS NOT NULL
         GROUP BY COALESCE(reply, -rowid) ORDER BY MIN(proposed_at), MIN(rowid)",
    )?;
    let latencies_ms = stmt
        .query_map([&s.id], |r| r.get::<_, Millis>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let (out_tokens, out_exact): (i64, i64) = c.prepare_cached(
        "SELECT COALESCE(SUM(tokens), 0), COALESCE(MIN(tokens_exact), 1) FROM payloads WHERE session = ?1",
    )?.query_row([&s.id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (in_tokens, in_exact, ingests): (i64, i64, i64) = c.prepare_cached(
        "SELECT COALESCE(SUM(tokens), 0), COALESCE(MIN(tokens_exact), 1), COUNT(*) FROM replies WHERE session = ?1",
    )?.query_row([&s.id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(Facts {
        booted_at: s.created_at,
        completed_at,
        last_activity_at: s.last_activity_at.unwrap_or(s.created_at),
        latencies_ms,
        tokens: (out_tokens + in_tokens).max(0) as u64,
        tokens_exact: out_exact == 1
            && in_exact == 1
            && vendor.tokenizer == crate::vendor::Tokenizer::O200kBase,
        context_tokens: vendor.context_tokens,
        budget_warn: vendor.budget_warn_tokens,
        budget_breach: vendor.budget_breach_tokens,
        ingests: ingests.max(0) as u64,
        drift_turns: crate::drift::turns(hub, &s.id)?,
    })
}

/// The tokens recorded for a session so far (payloads out and replies in), and the levels
/// at which the context signal warns and breaches, in tokens.
pub fn token_budget(
    hub: &Hub,
    session: &str,
    vendor: &Vendor,
    t: &Bloat,
) -> Result<crate::vendor::Budget> {
    let c = hub.store.conn();
    let out: i64 = c
        .prepare_cached("SELECT COALESCE(SUM(tokens), 0) FROM payloads WHERE session = ?1")?
        .query_row([session], |r| r.get(0))?;
    let inn: i64 = c
        .prepare_cached("SELECT COALESCE(SUM(tokens), 0) FROM replies WHERE session = ?1")?
        .query_row([session], |r| r.get(0))?;
    let (warn_at, breach_at) = context_levels(
        vendor.context_tokens,
        vendor.budget_warn_tokens,
        vendor.budget_breach_tokens,
        t,
    );
    Ok(crate::vendor::Budget {
        running: (out + inn).max(0) as u64,
        warn_at,
        breach_at,
    })
}

/// Signals whose breach wraps a session even while a result is in flight: the chat itself
/// is failing, and its answer would not be worth waiting for.
const WRAP_AT_ONCE: [&str; 2] = ["context", "drift"];

/// A DO of `session` started after its latest reply (store event order, not the clock):
/// its result is being written, or was written and the chat has not answered it yet. (A
/// run's records land before its result payload, so the payload alone would leave a
/// moment in which a watcher wraps before the result exists.)
pub fn result_in_flight(hub: &Hub, session: &str) -> Result<bool> {
    let c = hub.store.conn();
    let ids = |kind: &str, filter: &str| -> Result<i64> {
        Ok(c.query_row(
            &format!(
                "SELECT COALESCE(MAX(id), 0) FROM events WHERE session = ?1 AND kind = ?2 {filter}"
            ),
            rusqlite::params![session, kind],
            |r| r.get(0),
        )?)
    };
    let started = ids("do.started", "")?;
    let result = ids(
        "payload.sent",
        "AND json_extract(data, '$.kind') = 'result'",
    )?;
    Ok(started.max(result) > ids("reply.ingested", "")?)
}

/// Whether a breach of these signals waits while a result is on its way to the chat
/// ([`result_in_flight`]): something fails, and no signal of the chat itself (context,
/// drift) does. The wrap comes once the chat's answer is ingested, so that the handoff
/// holds what the result brought; until then the breach is not recorded (its time is when
/// the wrap became due). `status::check` decides it for every open session.
pub fn waits(signals: &[Signal]) -> bool {
    let mut failing = signals.iter().filter(|x| x.level == Level::Fail).peekable();
    failing.peek().is_some() && failing.all(|x| !WRAP_AT_ONCE.contains(&x.name))
}

/// Records the first breach of a session (time and signal); later checks keep the first.
pub fn record_breach(hub: &mut Hub, session: &str, a: &Assessment) -> Result<bool> {
    let Some(sig) = a.breached().first().map(|s| s.name) else {
        return Ok(false);
    };
    let now = hub.now_ms();
    hub.store.tx(|tx| {
        let n = tx.execute(
            "UPDATE sessions SET breach_at = ?2, breach_signal = ?3 WHERE id = ?1 AND breach_at IS NULL",
            rusqlite::params![session, now, sig],
        )?;
        if n > 0 {
            store::event(tx, now, Some(session), "bloat.breach", &serde_json::json!({"signal": sig}))?;
        }
        Ok(n > 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Millis = 60_000;

    fn base() -> Facts {
        Facts {
            booted_at: 0,
            last_activity_at: 0,
            context_tokens: 100_000,
            ..Facts::default()
        }
    }

    fn level_of(a: &Assessment, name: &str) -> Level {
        a.signals
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.level)
            .expect("signal")
    }

    #[test]
    fn fresh_session_is_ok() {
        let a = assess(&base(), &Bloat::default(), MIN);
        assert_eq!(a.level, Level::Ok, "{a:?}");
        assert_eq!(a.wrap_in(), Some(5));
    }

    #[test]
    fn dos_completed_warns_at_4_and_fails_at_5() {
        let t = Bloat::default();
        let mut f = base();
        f.last_activity_at = 10 * MIN;
        f.completed_at = vec![MIN, 2 * MIN, 3 * MIN, 4 * MIN];
        assert_eq!(
            level_of(&assess(&f, &t, 10 * MIN), "dos_completed"),
            Level::Warn
        );
        f.completed_at.push(5 * MIN);
        let a = assess(&f, &t, 10 * MIN);
        assert_eq!(level_of(&a, "dos_completed"), Level::Fail);
        assert_eq!(a.level, Level::Fail);
    }

    #[test]
    fn dos_per_hour_only_after_warmup() {
        let t = Bloat::default();
        let mut f = base();
        f.last_activity_at = 29 * MIN;
        assert_eq!(
            level_of(&assess(&f, &t, 29 * MIN), "dos_per_hour"),
            Level::Ok
        );
        assert_eq!(
            level_of(&assess(&f, &t, 31 * MIN), "dos_per_hour"),
            Level::Fail
        );
        f.completed_at = vec![10 * MIN, 20 * MIN];
        assert_eq!(
            level_of(&assess(&f, &t, 31 * MIN), "dos_per_hour"),
            Level::Ok
        );
        // After an hour only the last hour counts: both DOs are older than that.
        assert_eq!(
            level_of(&assess(&f, &t, 90 * MIN), "dos_per_hour"),
            Level::Fail
        );
    }

    #[test]
    fn staleness_crosses_at_30_minutes() {
        let t = Bloat {
            min_dos_per_hour: 0.0001,
            ..Bloat::default()
        };
        let f = base();
        assert_eq!(
            level_of(&assess(&f, &t, 23 * MIN), "stale_minutes"),
            Level::Ok
        );
        assert_eq!(
            level_of(&assess(&f, &t, 25 * MIN), "stale_minutes"),
            Level::Warn
        );
        assert_eq!(
            level_of(&assess(&f, &t, 30 * MIN), "stale_minutes"),
            Level::Fail
        );
    }

    #[test]
    fn latency_fails_only_when_rising_and_double_the_median() {
        let t = Bloat::default();
        let mut f = base();
        f.latencies_ms = vec![60_000, 60_000, 60_000, 70_000, 200_000];
        assert_eq!(
            level_of(&assess(&f, &t, MIN), "artifact_latency"),
            Level::Fail
        );
        f.latencies_ms = vec![60_000, 60_000, 300_000, 200_000, 250_000];
        assert_eq!(
            level_of(&assess(&f, &t, MIN), "artifact_latency"),
            Level::Ok,
            "not rising"
        );
        f.latencies_ms = vec![100_000, 110_000, 120_000];
        assert_eq!(
            level_of(&assess(&f, &t, MIN), "artifact_latency"),
            Level::Ok,
            "rising but under 2×"
        );
    }

    #[test]
    fn context_window_share_is_a_second_cap() {
        let t = Bloat::default();
        let mut f = base();
        // No budget known (a status file written before budgets): the window share alone.
        f.tokens = 48_000;
        assert_eq!(level_of(&assess(&f, &t, MIN), "context"), Level::Warn);
        f.tokens = 60_000;
        assert_eq!(level_of(&assess(&f, &t, MIN), "context"), Level::Fail);
        // A budget above the share: the share still caps it.
        f.budget_warn = 80_000;
        f.budget_breach = 90_000;
        assert_eq!(level_of(&assess(&f, &t, MIN), "context"), Level::Fail);
    }

    #[test]
    fn context_budget_in_absolute_tokens_warns_and_fails_far_below_the_window() {
        let t = Bloat::default();
        let mut f = base();
        f.context_tokens = 200_000;
        f.budget_warn = 32_000;
        f.budget_breach = 64_000;
        f.tokens = 31_999;
        assert_eq!(level_of(&assess(&f, &t, MIN), "context"), Level::Ok);
        f.tokens = 32_000;
        assert_eq!(level_of(&assess(&f, &t, MIN), "context"), Level::Warn);
        f.tokens = 64_000;
        let a = assess(&f, &t, MIN);
        let c = a
            .signals
            .iter()
            .find(|s| s.name == "context")
            .expect("context");
        assert_eq!((c.level, c.threshold), (Level::Fail, 64_000.0));
        assert_eq!(c.shown, "~64k of 64k");
        // 70,000 tokens into a 200k window: 35% of it, a FAIL all the same.
        f.tokens = 70_000;
        assert_eq!(level_of(&assess(&f, &t, MIN), "context"), Level::Fail);
    }

    #[test]
    fn drift_warns_at_one_lapse_in_the_last_3_turns_and_fails_at_two() {
        let t = Bloat::default();
        let mut f = base();
        f.ingests = 4;
        assert_eq!(level_of(&assess(&f, &t, MIN), "drift"), Level::Ok);
        f.drift_turns = vec![3];
        assert_eq!(level_of(&assess(&f, &t, MIN), "drift"), Level::Warn);
        f.drift_turns = vec![3, 4];
        assert_eq!(level_of(&assess(&f, &t, MIN), "drift"), Level::Fail);
        // Two lapses in one turn are two.
        f.drift_turns = vec![4, 4];
        assert_eq!(level_of(&assess(&f, &t, MIN), "drift"), Level::Fail);
        // Lapses older than the last 3 turns no longer count.
        f.drift_turns = vec![1, 1];
        assert_eq!(level_of(&assess(&f, &t, MIN), "drift"), Level::Ok);
        f.ingests = 7;
        f.drift_turns = vec![3, 4, 5];
        assert_eq!(level_of(&assess(&f, &t, MIN), "drift"), Level::Warn);
        // config.toml moves the window and the levels.
        let wide = Bloat {
            drift_turns: 5.0,
            drift_fail: 3.0,
            ..Bloat::default()
        };
        assert_eq!(level_of(&assess(&f, &wide, MIN), "drift"), Level::Fail);
    }

    #[test]
    fn latency_of_one_turn_run_in_sequence_is_no_signal() {
        // Three DOs of one reply run one after another are one turn: one sample.
        let t = Bloat::default();
        let mut f = base();
        f.latencies_ms = vec![60_000];
        let a = assess(&f, &t, MIN);
        assert_eq!(level_of(&a, "artifact_latency"), Level::Ok);
        assert_eq!(
            a.signals[3].shown, "1 of 3 turns",
            "measured once 3 turns have artifacts"
        );
    }

    #[test]
    fn every_signal_reaches_warn_between_ok_and_fail() {
        let t = Bloat::default();
        // Pace: 1 DO in the first 50 minutes is 1.2/h, within 1/0.8 of the minimum.
        let mut f = base();
        f.last_activity_at = 50 * MIN;
        f.completed_at = vec![40 * MIN];
        assert_eq!(
            level_of(&assess(&f, &t, 50 * MIN), "dos_per_hour"),
            Level::Warn
        );
        // Latency: rising, the last at 1.7× the median (≥ 0.8 × 2).
        let mut f = base();
        f.latencies_ms = vec![60_000, 60_000, 60_000, 70_000, 102_000];
        assert_eq!(
            level_of(&assess(&f, &t, MIN), "artifact_latency"),
            Level::Warn
        );
        // Turns: OK below 80.
        f.ingests = 79;
        assert_eq!(level_of(&assess(&f, &t, MIN), "ingests"), Level::Ok);
    }

    #[test]
    fn ingests_cross_their_threshold() {
        let t = Bloat::default();
        let mut f = base();
        f.ingests = 99;
        assert_eq!(level_of(&assess(&f, &t, MIN), "ingests"), Level::Warn);
        f.ingests = 100;
        assert_eq!(level_of(&assess(&f, &t, MIN), "ingests"), Level::Fail);
    }
}
