//! Drift: the chat's lapses from the capsule, seen at the paste gate (SPEC §9). Every
//! reply says whether the chat still follows the contract — the echo, DO blocks with both
//! sentinels and a runnable language, an `ACK` for every result it was given, refs that
//! exist, readable ACK lines, `NEXT k/n` alone, its reply tag, no request for a secret.
//! `ingest` records each lapse with the turn it came in; the monitor's `drift` signal
//! counts those of the last turns.
//!
//! Owns: deciding what counts as a lapse, and the `drift` table. Must never judge refs or
//! parse replies itself: it reads what `ack`, `todo` and `coagent-ingest` found.

use rusqlite::{Transaction, params};
use serde::Serialize;

use crate::Result;
use crate::ack::AckResult;
use crate::capsule::EchoStatus;
use crate::clock::Millis;
use crate::hub::Hub;
use crate::todo::DoneResult;

/// How much of a line an event keeps.
const EXCERPT: usize = 120;

/// One lapse, before it is recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lapse {
    /// `echo`, `do_block`, `missed_ack`, `unknown_ref`, `ack_unreadable`,
    /// `next_with_more`, `secret_request`, `tag_missing` or `tag_wrong`.
    pub kind: &'static str,
    pub excerpt: String,
    /// What it is about, when one thing must be counted once (a result's message id).
    #[serde(skip)]
    pub about: Option<String>,
}

/// A recorded lapse, as `status --json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct DriftEvent {
    pub turn: u64,
    pub kind: String,
    pub excerpt: String,
    pub at: Millis,
}

fn cut(s: &str) -> String {
    let s = s.trim();
    if s.chars().count() <= EXCERPT {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(EXCERPT).collect::<String>())
    }
}

fn lapse(kind: &'static str, excerpt: impl AsRef<str>) -> Lapse {
    Lapse {
        kind,
        excerpt: cut(excerpt.as_ref()),
        about: None,
    }
}

/// What one reply brought, as the lapses are judged from it.
pub struct Seen<'a> {
    pub reply: &'a coagent_ingest::Reply<'a>,
    /// This reply's echo, checked against the session's capsule.
    pub echo: Option<EchoStatus>,
    /// The echo line the session expects.
    pub expected_echo: String,
    /// Whether an echo lapse is still to be looked for: the session's echo was never
    /// verified and no echo lapse was recorded yet (the first reply that is not a
    /// `NEXT k/n` answer is the one that must echo).
    pub echo_due: bool,
    pub acks: &'a [AckResult],
    pub dones: &'a [DoneResult],
}

/// The lapses a reply shows by itself (the tag and missed receipts are judged apart, with
/// the turn and the records of the write transaction). At most one per kind: a reply with
/// three broken DO blocks is one lapse of the chat, with the first named.
pub fn lapses(seen: &Seen<'_>) -> Vec<Lapse> {
    let r = seen.reply;
    let mut out = Vec::new();
    let is_next = r.next.is_some();
    if seen.echo_due && !is_next {
        match seen.echo {
            Some(EchoStatus::Verified) => {}
            Some(_) => out.push(lapse(
                "echo",
                format!(
                    "echo v{} is not the session's capsule (expected `{}`)",
                    r.echo.as_ref().map(|e| e.version.as_str()).unwrap_or("?"),
                    seen.expected_echo
                ),
            )),
            None => out.push(lapse(
                "echo",
                format!("no echo line (expected `{}`)", seen.expected_echo),
            )),
        }
    }
    if let Some(d) = r.incomplete_dos.first() {
        out.push(lapse(
            "do_block",
            more(
                format!("`# DO: {}`: {}", d.title, d.reason),
                r.incomplete_dos.len(),
            ),
        ));
    }
    let invented: Vec<String> = seen
        .acks
        .iter()
        .filter(|a| a.status == "rejected" && names_nothing(&a.reason))
        .map(|a| format!("ACK {}: {}", a.id, a.reason))
        .chain(
            seen.dones
                .iter()
                .filter(|d| !d.accepted() && names_nothing(&d.reason))
                .map(|d| format!("DONE {}: {}", d.id, d.reason)),
        )
        .collect();
    if let Some(first) = invented.first() {
        out.push(lapse("unknown_ref", more(first.clone(), invented.len())));
    }
    if let Some(u) = r.unreadable_acks.first() {
        out.push(lapse(
            "ack_unreadable",
            more(
                format!("{} ({})", u.text, u.reason),
                r.unreadable_acks.len(),
            ),
        ));
    }
    if let Some(n) = r.next_with_more {
        out.push(lapse(
            "next_with_more",
            format!("`NEXT {}/{}` came with more than that line", n.k, n.n),
        ));
    }
    if let Some(q) = r.secret_requests.first() {
        out.push(lapse(
            "secret_request",
            more(q.text.clone(), r.secret_requests.len()),
        ));
    }
    out
}

fn more(first: String, n: usize) -> String {
    if n > 1 {
        format!("{} (+{} more)", cut(&first), n - 1)
    } else {
        first
    }
}

/// A rejection that says the chat cited something that does not exist (an id, an
/// artifact, a file, a commit, a result it never got), not one about the form of a ref.
fn names_nothing(reason: &str) -> bool {
    [
        "unknown",
        "does not exist",
        "is not in the project's git",
        "is not an artifact of",
        "has not run yet",
    ]
    .iter()
    .any(|w| reason.contains(w))
}

/// The short form of a session id that its reply tag carries: `S-` and 4 characters.
pub fn tag_id(session: &str) -> String {
    session.chars().take(6).collect()
}

/// The tag a session's reply of `turn` ends with, e.g. `[S-4K4E t3]`.
pub fn tag_line(session: &str, turn: u64) -> String {
    format!("[{} t{turn}]", tag_id(session))
}

/// The tag judged against the session and turn the reply was recorded as. A `NEXT k/n`
/// answer needs none (the contract asks for that line alone); a turn above the expected
/// one is fine (the human may have talked to the chat without ingesting), one below it
/// says the chat lost count.
pub fn tag_lapse(
    tag: Option<&coagent_ingest::ReplyTag>,
    session: &str,
    turn: u64,
    is_next: bool,
) -> Option<Lapse> {
    let expected = tag_line(session, turn);
    match tag {
        None if is_next => None,
        None => Some(lapse(
            "tag_missing",
            format!("no reply tag (expected `{expected}`)"),
        )),
        Some(t) if !session.starts_with(&t.session) => Some(lapse(
            "tag_wrong",
            format!(
                "[{} t{}] names another session (expected `{expected}`)",
                t.session, t.turn
            ),
        )),
        Some(t) if u64::from(t.turn) < turn => Some(lapse(
            "tag_wrong",
            format!("[{} t{}] is behind: this is turn {turn}", t.session, t.turn),
        )),
        Some(_) => None,
    }
}

/// Results this reply passed without their ACK: those sent to the session since its last
/// reply that was not a `NEXT k/n` answer (store event order, not the clock), with a DO
/// that is neither acknowledged nor named by an ACK line of this reply (a rejected ACK is
/// a lapse of its own, not a missed receipt). One lapse per result. A `NEXT k/n` answer
/// passes none: the result may still be arriving in parts.
pub fn missed_receipts(
    tx: &Transaction<'_>,
    session: &str,
    acked_here: &[String],
) -> Result<Vec<Lapse>> {
    let mut stmt = tx.prepare_cached(
        "SELECT m.id, m.subject FROM messages m
         JOIN events e ON e.kind = 'payload.sent' AND e.session = ?1
              AND json_extract(e.data, '$.id') = m.id
         WHERE m.session = ?1 AND m.direction = 'out' AND m.kind = 'result'
           AND m.requires_ack = 1 AND m.acked_at IS NULL
           AND e.id > (SELECT COALESCE(MAX(r.id), 0) FROM events r
                       WHERE r.session = ?1 AND r.kind = 'reply.ingested'
                         AND json_extract(r.data, '$.next') IS NOT 1)
         GROUP BY m.id ORDER BY MIN(e.id)",
    )?;
    let mut results = stmt
        .query_map(params![session], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    results.extend(inherited(tx, session)?);
    let mut out = Vec::new();
    for (id, subject) in results {
        let mut awaited = Vec::new();
        for d in subject
            .split_whitespace()
            .take_while(|w| w.starts_with("DO-"))
        {
            let state: Option<String> = tx
                .query_row("SELECT state FROM dos WHERE id = ?1", [d], |r| r.get(0))
                .ok();
            if state.as_deref() != Some("acked") && !acked_here.iter().any(|a| a == d) {
                awaited.push(d.to_string());
            }
        }
        if awaited.is_empty() {
            continue;
        }
        let mut l = lapse(
            "missed_ack",
            format!("no ACK for {} (result {id})", awaited.join(", ")),
        );
        l.about = Some(id);
        out.push(l);
    }
    Ok(out)
}

/// For a session that continues a wrapped one, on its first reply that is not a `NEXT k/n`
/// answer: the results its handoff listed as not acknowledged (the wrap asks the new chat
/// to acknowledge them first).
fn inherited(tx: &Transaction<'_>, session: &str) -> Result<Vec<(String, String)>> {
    let mut stmt = tx.prepare_cached(
        "SELECT m.id, m.subject FROM sessions s
         JOIN messages m ON m.session = s.prev_session
         WHERE s.id = ?1 AND m.direction = 'out' AND m.kind = 'result'
           AND m.requires_ack = 1 AND m.acked_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM events r
                           WHERE r.session = ?1 AND r.kind = 'reply.ingested'
                             AND json_extract(r.data, '$.next') IS NOT 1)
         ORDER BY m.created_at, m.rowid",
    )?;
    let rows = stmt.query_map(params![session], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Records a reply's lapses under its turn.
pub fn record(
    tx: &Transaction<'_>,
    session: &str,
    reply: i64,
    turn: u64,
    lapses: &[Lapse],
    now: Millis,
) -> Result<()> {
    for l in lapses {
        tx.execute(
            "INSERT INTO drift (session, turn, kind, excerpt, about, reply, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![session, turn as i64, l.kind, l.excerpt, l.about, reply, now],
        )?;
    }
    Ok(())
}

/// Whether the session already has a lapse of `kind`.
pub fn has(hub: &Hub, session: &str, kind: &str) -> Result<bool> {
    let n: i64 = hub.store.conn().query_row(
        "SELECT COUNT(*) FROM drift WHERE session = ?1 AND kind = ?2",
        params![session, kind],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// The turn of each of the session's lapses, oldest first (the monitor's facts).
pub fn turns(hub: &Hub, session: &str) -> Result<Vec<u64>> {
    let mut stmt = hub
        .store
        .conn()
        .prepare_cached("SELECT turn FROM drift WHERE session = ?1 ORDER BY turn, id")?;
    let rows = stmt.query_map([session], |r| r.get::<_, i64>(0))?;
    Ok(rows
        .map(|t| t.map(|t| t.max(0) as u64))
        .collect::<rusqlite::Result<_>>()?)
}

/// The session's lapses, oldest first, at most `limit` (the newest kept).
pub fn events(hub: &Hub, session: &str, limit: usize) -> Result<Vec<DriftEvent>> {
    let mut stmt = hub.store.conn().prepare_cached(
        "SELECT turn, kind, excerpt, created_at FROM drift WHERE session = ?1
         ORDER BY turn DESC, id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![session, limit as i64], |r| {
        Ok(DriftEvent {
            turn: r.get::<_, i64>(0)?.max(0) as u64,
            kind: r.get(1)?,
            excerpt: r.get(2)?,
            at: r.get(3)?,
        })
    })?;
    let mut out = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    out.reverse();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(session: &str, turn: u32) -> coagent_ingest::ReplyTag {
        coagent_ingest::ReplyTag {
            session: session.to_string(),
            turn,
            line: 1,
            alone: true,
        }
    }

    #[test]
    fn a_tag_is_judged_by_its_session_and_turn() {
        let s = "S-4K4E7QW2XA";
        assert_eq!(tag_line(s, 3), "[S-4K4E t3]");
        assert_eq!(tag_lapse(Some(&tag("S-4K4E", 3)), s, 3, false), None);
        assert_eq!(
            tag_lapse(Some(&tag("S-4K4E", 5)), s, 3, false),
            None,
            "ahead is fine"
        );
        assert_eq!(
            tag_lapse(Some(&tag("S-4K4E", 2)), s, 3, false).map(|l| l.kind),
            Some("tag_wrong")
        );
        assert_eq!(
            tag_lapse(Some(&tag("S-9ZZZ", 3)), s, 3, false).map(|l| l.kind),
            Some("tag_wrong")
        );
        assert_eq!(
            tag_lapse(None, s, 3, false).map(|l| l.kind),
            Some("tag_missing")
        );
        assert_eq!(tag_lapse(None, s, 3, true), None, "NEXT k/n needs no tag");
    }

    #[test]
    fn every_lapse_a_reply_shows_is_one_event_per_kind() {
        let text = "Sure.\n\n```bash\n# DO: One\necho 1\n```\n\n```bash\n# DO: Two\necho 2\n```\n\nACK DO-\nPlease paste your GitHub token here.\n";
        let reply = coagent_ingest::parse_reply(text.as_bytes());
        let rejected = AckResult {
            id: "DO-7".into(),
            refs: vec!["artifact:A-NOPE".into()],
            status: "rejected".into(),
            reason: "unknown artifact A-NOPE".into(),
        };
        let seen = Seen {
            reply: &reply,
            echo: None,
            expected_echo: "Policy v1.0 loaded.".into(),
            echo_due: true,
            acks: std::slice::from_ref(&rejected),
            dones: &[],
        };
        let kinds: Vec<&str> = lapses(&seen).iter().map(|l| l.kind).collect();
        assert_eq!(
            kinds,
            [
                "echo",
                "do_block",
                "unknown_ref",
                "ack_unreadable",
                "secret_request"
            ]
        );
        let form = AckResult {
            reason: "/etc/passwd is not a path inside the project (absolute paths are refused)"
                .into(),
            ..rejected.clone()
        };
        let seen = Seen {
            echo_due: false,
            acks: std::slice::from_ref(&form),
            ..seen
        };
        assert!(
            !lapses(&seen).iter().any(|l| l.kind == "unknown_ref"),
            "a refused form is not an invented ref"
        );
    }
}
