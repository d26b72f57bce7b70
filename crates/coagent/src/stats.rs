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
    pub sessions: Vec<SessionStats>,
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

pub fn compute(hub: &Hub, limit: usize) -> Result<Stats> {
    let c = hub.store.conn();
    let mut stmt = c.prepare(
        "SELECT s.id, s.vendor, s.state, s.echo, s.created_at, s.breach_at,
           (SELECT COUNT(*) FROM dos d WHERE d.session = s.id),
           (SELECT COUNT(DISTINCT d.id) FROM dos d JOIN runs r ON r.do_id = d.id WHERE d.session = s.id AND r.status = 'succeeded'),
           (SELECT MIN(r.ended_at) FROM dos d JOIN runs r ON r.do_id = d.id WHERE d.session = s.id AND r.status = 'succeeded'),
           (SELECT MIN(w.created_at) FROM wraps w WHERE w.session = s.id AND NOT EXISTS (
               SELECT 1 FROM events e WHERE e.kind = 'session.wrapped' AND e.session = s.id
                 AND json_extract(e.data, '$.wrap') = w.id AND json_extract(e.data, '$.reason') = 'manual')),
           (SELECT COUNT(*) FROM messages m WHERE m.session = s.id AND m.direction = 'out' AND m.kind = 'result'),
           (SELECT COUNT(*) FROM messages m WHERE m.session = s.id AND m.direction = 'out' AND m.kind = 'result' AND m.acked_at IS NOT NULL),
           (SELECT COALESCE(SUM(tokens), 0) FROM payloads p WHERE p.session = s.id) + (SELECT COALESCE(SUM(tokens), 0) FROM replies r WHERE r.session = s.id)
         FROM sessions s ORDER BY s.created_at DESC",
    )?;
    let rows = stmt.query_map([], |r| {
        let created: Millis = r.get(4)?;
        let breach: Option<Millis> = r.get(5)?;
        let first: Option<Millis> = r.get(8)?;
        let wrapped: Option<Millis> = r.get(9)?;
        Ok(SessionStats {
            session: r.get(0)?,
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
            token_turns: Book::default(),
        })
    })?;
    let sessions: Vec<SessionStats> = rows.collect::<rusqlite::Result<_>>()?;
    let count = |sql: &str| -> Result<i64> { Ok(c.query_row(sql, [], |r| r.get(0))?) };
    let mut o = Overall {
        sessions: sessions.len() as i64,
        sessions_verified: sessions.iter().filter(|s| s.echo == "verified").count() as i64,
        dos_proposed: sessions.iter().map(|s| s.dos_proposed).sum(),
        dos_completed: sessions.iter().map(|s| s.dos_completed).sum(),
        results_sent: sessions.iter().map(|s| s.results_sent).sum(),
        results_acked: sessions.iter().map(|s| s.results_acked).sum(),
        tokens: sessions.iter().map(|s| s.tokens).sum(),
        acks_rejected: count("SELECT COUNT(*) FROM acks WHERE status = 'rejected'")?,
        messages_in: count("SELECT COUNT(*) FROM messages WHERE direction = 'in'")?,
        messages_in_valid: count(
            "SELECT COUNT(*) FROM messages WHERE direction = 'in' AND valid = 1",
        )?,
        messages: count("SELECT COUNT(*) FROM messages")?,
        messages_valid: count("SELECT COUNT(*) FROM messages WHERE valid = 1")?,
        payloads_sent: count("SELECT COUNT(DISTINCT id) FROM payloads")?,
        payloads_refused: count("SELECT COUNT(*) FROM events WHERE kind = 'guard.refused'")?,
        payloads_redacted: count("SELECT COUNT(*) FROM events WHERE kind = 'guard.redacted'")?,
        wraps: count("SELECT COUNT(*) FROM wraps")?,
        wraps_manual: count(
            "SELECT COUNT(*) FROM events WHERE kind = 'session.wrapped' AND json_extract(data, '$.reason') = 'manual'",
        )?,
        median_first_completed_do_ms: median(
            sessions
                .iter()
                .filter_map(|s| s.first_completed_do_ms)
                .collect(),
        ),
        median_breach_to_wrap_ms: median(
            sessions
                .iter()
                .filter_map(|s| s.breach_to_wrap_ms)
                .collect(),
        ),
        ..Overall::default()
    };
    o.tokens_pasted_out = count("SELECT COALESCE(SUM(tokens), 0) FROM payloads")?;
    o.tokens_ingested = count("SELECT COALESCE(SUM(tokens), 0) FROM replies")?;
    o.tokens_out_parts = out_parts(hub)?;
    o.echo_verification_rate = rate(o.sessions_verified, o.sessions);
    o.dos_per_session = rate(o.dos_proposed, o.sessions);
    o.ack_rate = rate(o.results_acked, o.results_sent);
    let with_first: Vec<Millis> = sessions
        .iter()
        .filter_map(|s| s.first_completed_do_ms)
        .collect();
    let with_breach: Vec<Millis> = sessions
        .iter()
        .filter_map(|s| s.breach_to_wrap_ms)
        .collect();
    let acceptance = Acceptance {
        first_do_within_15min: (
            with_first
                .iter()
                .filter(|&&m| m <= FIRST_DO_TARGET_MS)
                .count() as i64,
            with_first.len() as i64,
        ),
        wrap_within_5min_of_breach: (
            with_breach
                .iter()
                .filter(|&&m| m <= BREACH_TO_WRAP_TARGET_MS)
                .count() as i64,
            with_breach.len() as i64,
        ),
        messages_schema_valid: (o.messages_valid, o.messages),
        results_acked: (o.results_acked, o.results_sent),
        secrets_pasted_out: 0,
    };
    let sessions = sessions
        .into_iter()
        .take(limit)
        .map(|mut x| {
            x.token_turns = turns::book(hub, &x.session)?;
            Ok(x)
        })
        .collect::<Result<_>>()?;
    Ok(Stats {
        overall: o,
        acceptance,
        sessions,
    })
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
