//! Local telemetry (SPEC §11): figures computed from the hub's own records, never sent
//! anywhere. Per session and overall: time to first completed DO, breach → wrap latency,
//! DOs per session, echo verification rate, ACK rate, payloads refused or redacted by the
//! guard, tokens exchanged — and the seed's acceptance figures. [`Stats::anonymous`] keeps
//! counters only: no ids, paths or text.

use serde::Serialize;

use crate::Result;
use crate::clock::Millis;
use crate::hub::Hub;
use crate::turns::{self, Book, Parts};

/// What the "Seed acceptance" figures are, in one line.
pub const ACCEPTANCE_MEANING: &str = "the targets set by the seed (the advisory CoAgent is built from): a new session's first DO done within 15 min, a wrap within 5 min of a breach, every BackchatMessage schema-valid, every result ACKed, no secret pasted out";

/// The seed's acceptance bounds.
pub const FIRST_DO_TARGET_MS: Millis = 15 * 60_000;
pub const BREACH_TO_WRAP_TARGET_MS: Millis = 5 * 60_000;

#[derive(Debug, Clone, Serialize)]
pub struct SessionStats {
    pub session: String,
    pub vendor: String,
    pub state: String,
    pub echo: String,
    pub dos_proposed: i64,
    pub dos_completed: i64,
    pub first_completed_do_ms: Option<Millis>,
    pub breach_to_wrap_ms: Option<Millis>,
    pub results_sent: i64,
    pub results_acked: i64,
    pub tokens: i64,
    /// Tokens per turn, pasted out (by part) and ingested.
    pub token_turns: Book,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Overall {
    pub sessions: i64,
    pub sessions_verified: i64,
    pub echo_verification_rate: Option<f64>,
    pub dos_proposed: i64,
    pub dos_completed: i64,
    pub dos_per_session: Option<f64>,
    pub results_sent: i64,
    pub results_acked: i64,
    pub ack_rate: Option<f64>,
    pub acks_rejected: i64,
    pub messages_in: i64,
    pub messages_in_valid: i64,
    /// BackchatMessages either way: those CoAgent sent and those a chat sent.
    pub messages: i64,
    pub messages_valid: i64,
    pub payloads_sent: i64,
    pub payloads_refused: i64,
    pub payloads_redacted: i64,
    pub tokens: i64,
    /// Tokens pasted out into chats, and ingested from them.
    pub tokens_pasted_out: i64,
    pub tokens_ingested: i64,
    /// What was pasted out, by part (payloads recorded since parts are counted).
    pub tokens_out_parts: Parts,
    pub wraps: i64,
    /// Wraps the user asked for (`coagent wrap`): not a response to a breach, so not in
    /// the breach → wrap figures.
    pub wraps_manual: i64,
    pub median_first_completed_do_ms: Option<Millis>,
    pub median_breach_to_wrap_ms: Option<Millis>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Acceptance {
    /// Sessions whose first DO completed within 15 minutes of boot, of those with one.
    pub first_do_within_15min: (i64, i64),
    /// Wraps within 5 minutes of their breach, of the monitor's wraps that followed a
    /// breach (a manual `coagent wrap` is not counted).
    pub wrap_within_5min_of_breach: (i64, i64),
    /// BackchatMessages that were schema-valid, of all of them, sent or received.
    pub messages_schema_valid: (i64, i64),
    /// Results answered by an accepted ACK, of all results sent.
    pub results_acked: (i64, i64),
    /// Payloads that left with a secret in them: 0 by construction (the guard refuses or
    /// masks); the figure counts payloads the guard stopped or masked instead.
    pub secrets_pasted_out: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub overall: Overall,
    pub acceptance: Acceptance,
}

fn rate(a: i64, b: i64) -> Option<f64> {
    (b > 0).then(|| ((a as f64 / b as f64) * 1000.0).round() / 1000.0)
}

fn median(mut v: Vec<Millis>) -> Option<Millis> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    Some(v[v.len() / 2])
}

/// The first wrap of session `s.id` that answered a breach (a manual `coagent wrap` is not
/// one), as a correlated sub-query on the session row aliased `s`.
const MONITOR_WRAP: &str =
    "(SELECT MIN(w.created_at) FROM wraps w WHERE w.session = s.id AND NOT EXISTS (
    SELECT 1 FROM events e WHERE e.session = s.id AND e.kind = 'session.wrapped'
      AND json_extract(e.data, '$.wrap') = w.id AND json_extract(e.data, '$.reason') = 'manual'))";

/// The overall figures and the seed's acceptance, each an aggregate over an index: the
/// cost does not grow with the sessions one by one (100,000 sessions and a million events
/// take tens of milliseconds; see bench/scale.py).
pub fn compute(hub: &Hub) -> Result<Stats> {
    let c = hub.store.conn();
    let count = |sql: &str| -> Result<i64> { Ok(c.query_row(sql, [], |r| r.get(0))?) };
    let firsts: Vec<Millis> = c
        .prepare_cached(
            "SELECT first_done_at - created_at FROM sessions INDEXED BY sessions_first_done
             WHERE first_done_at IS NOT NULL",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let breaches: Vec<Millis> = c
        .prepare_cached(&format!(
            "SELECT w - b FROM (SELECT s.breach_at AS b, {MONITOR_WRAP} AS w
             FROM sessions s WHERE s.breach_at IS NOT NULL) WHERE w >= b"
        ))?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let results: (i64, i64) = c.query_row(
        "SELECT COUNT(*), COUNT(acked_at) FROM messages INDEXED BY messages_results
         WHERE direction = 'out' AND kind = 'result'",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let mut o = Overall {
        sessions: count("SELECT COUNT(*) FROM sessions")?,
        sessions_verified: count("SELECT COUNT(*) FROM sessions WHERE echo = 'verified'")?,
        dos_proposed: count("SELECT COUNT(*) FROM dos")?,
        dos_completed: count(
            "SELECT COUNT(DISTINCT do_id) FROM runs INDEXED BY runs_succeeded WHERE status = 'succeeded'",
        )?,
        results_sent: results.0,
        results_acked: results.1,
        tokens: count(
            "SELECT (SELECT COALESCE(SUM(tokens), 0) FROM payloads INDEXED BY payloads_tokens)
                  + (SELECT COALESCE(SUM(tokens), 0) FROM replies INDEXED BY replies_tokens)",
        )?,
        acks_rejected: count("SELECT COUNT(*) FROM acks WHERE status = 'rejected'")?,
        messages_in: count("SELECT COUNT(*) FROM messages WHERE direction = 'in'")?,
        messages_in_valid: count(
            "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND valid = 1",
        )?,
        messages: count("SELECT COUNT(*) FROM messages")?,
        messages_valid: count(
            "SELECT COUNT(*) FROM messages WHERE direction IN ('in', 'out') AND valid = 1",
        )?,
        payloads_sent: count("SELECT COUNT(*) FROM payloads WHERE part = 1")?,
        payloads_refused: count("SELECT COUNT(*) FROM events WHERE kind = 'guard.refused'")?,
        payloads_redacted: count("SELECT COUNT(*) FROM events WHERE kind = 'guard.redacted'")?,
        wraps: count("SELECT COUNT(*) FROM wraps")?,
        wraps_manual: count(
            "SELECT COUNT(*) FROM events WHERE kind = 'session.wrapped' AND json_extract(data, '$.reason') = 'manual'",
        )?,
        ..Overall::default()
    };
    o.tokens_pasted_out =
        count("SELECT COALESCE(SUM(tokens), 0) FROM payloads INDEXED BY payloads_tokens")?;
    o.tokens_ingested =
        count("SELECT COALESCE(SUM(tokens), 0) FROM replies INDEXED BY replies_tokens")?;
    o.tokens_out_parts = out_parts(hub)?;
    o.echo_verification_rate = rate(o.sessions_verified, o.sessions);
    o.dos_per_session = rate(o.dos_proposed, o.sessions);
    o.ack_rate = rate(o.results_acked, o.results_sent);
    let within = |v: &[Millis], bound: Millis| v.iter().filter(|&&m| m <= bound).count() as i64;
    let acceptance = Acceptance {
        first_do_within_15min: (within(&firsts, FIRST_DO_TARGET_MS), firsts.len() as i64),
        wrap_within_5min_of_breach: (
            within(&breaches, BREACH_TO_WRAP_TARGET_MS),
            breaches.len() as i64,
        ),
        messages_schema_valid: (o.messages_valid, o.messages),
        results_acked: (o.results_acked, o.results_sent),
        secrets_pasted_out: 0,
    };
    o.median_first_completed_do_ms = median(firsts);
    o.median_breach_to_wrap_ms = median(breaches);
    Ok(Stats {
        overall: o,
        acceptance,
    })
}

/// Per-session figures, newest session first (the newest `limit`, or every one), handed
/// to `each` one at a time: each row is a handful of indexed look-ups.
pub fn sessions(
    hub: &Hub,
    limit: Option<usize>,
    mut each: impl FnMut(SessionStats) -> Result<()>,
) -> Result<()> {
    let c = hub.store.conn();
    let mut stmt = c.prepare_cached(&format!(
        "SELECT s.id, s.vendor, s.state, s.echo, s.created_at, s.breach_at,
           (SELECT COUNT(*) FROM dos d WHERE d.session = s.id),
           (SELECT COUNT(DISTINCT d.id) FROM dos d JOIN runs r ON r.do_id = d.id WHERE d.session = s.id AND r.status = 'succeeded'),
           s.first_done_at,
           {MONITOR_WRAP},
           (SELECT COUNT(*) FROM messages m WHERE m.session = s.id AND m.direction = 'out' AND m.kind = 'result'),
           (SELECT COUNT(acked_at) FROM messages m WHERE m.session = s.id AND m.direction = 'out' AND m.kind = 'result'),
           (SELECT COALESCE(SUM(tokens), 0) FROM payloads p WHERE p.session = s.id) + (SELECT COALESCE(SUM(tokens), 0) FROM replies r WHERE r.session = s.id)
         FROM sessions s INDEXED BY sessions_by_created ORDER BY s.created_at DESC LIMIT ?1"
    ))?;
    let limit = limit.map_or(-1, |n| n as i64);
    let mut rows = stmt.query([limit])?;
    while let Some(r) = rows.next()? {
        let created: Millis = r.get(4)?;
        let breach: Option<Millis> = r.get(5)?;
        let first: Option<Millis> = r.get(8)?;
        let wrapped: Option<Millis> = r.get(9)?;
        let session: String = r.get(0)?;
        each(SessionStats {
            token_turns: turns::book(hub, &session)?,
            session,
            vendor: r.get(1)?,
            state: r.get(2)?,
            echo: r.get(3)?,
            dos_proposed: r.get(6)?,
            dos_completed: r.get(7)?,
            first_completed_do_ms: first.map(|f| f - created),
            breach_to_wrap_ms: match (breach, wrapped) {
                (Some(b), Some(w)) if w >= b => Some(w - b),
                _ => None,
            },
            results_sent: r.get(10)?,
            results_acked: r.get(11)?,
            tokens: r.get(12)?,
        })?;
    }
    Ok(())
}

/// Every payload's parts, summed.
fn out_parts(hub: &Hub) -> Result<Parts> {
    let sum = |k: &str| format!("COALESCE(SUM(json_extract(part_tokens, '$.{k}')), 0)");
    let sql = format!(
        "SELECT {}, {}, {}, {}, {}, {} FROM payloads WHERE part = 1 AND part_tokens IS NOT NULL",
        sum("capsule"),
        sum("contract"),
        sum("handoff"),
        sum("results"),
        sum("frame"),
        sum("machine")
    );
    let n = |r: &rusqlite::Row<'_>, i: usize| r.get::<_, i64>(i).map(|v| v.max(0) as u64);
    Ok(hub.store.conn().query_row(&sql, [], |r| {
        Ok(Parts {
            capsule: n(r, 0)?,
            contract: n(r, 1)?,
            handoff: n(r, 2)?,
            results: n(r, 3)?,
            frame: n(r, 4)?,
            machine: n(r, 5)?,
        })
    })?)
}

impl Stats {
    /// Counters only: no session ids, vendors' sessions, paths or text.
    pub fn anonymous(&self) -> serde_json::Value {
        serde_json::json!({"overall": self.overall, "acceptance": self.acceptance})
    }
}
