//! Tokens per turn: what each turn of a session cost the chat's context, split by
//! direction (pasted out by the human, ingested from the chat) and, for what was pasted
//! out, by part — the capsule, the BPOE contract, the handoff, the DOs' results (their
//! logs, diffs and files), a payload's fixed frame, and the machine-readable `coagent`
//! block. Turn 0 is the boot; turn k begins with the k-th reply ingested and holds the
//! payloads sent after it (its results), up to the next reply. Figures come from the
//! store's records in the order the store wrote them (never the clock, which tests pin).
//! This module only reads; [`Parts`] is filled by whoever renders a payload.

use serde::{Deserialize, Serialize};

use crate::Result;
use crate::hub::Hub;
use crate::vendor;

/// A pasted-out payload's tokens by part (CoAgent's estimate, `vendor::estimate`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Parts {
    #[serde(default)]
    pub capsule: u64,
    #[serde(default)]
    pub contract: u64,
    #[serde(default)]
    pub handoff: u64,
    #[serde(default)]
    pub results: u64,
    #[serde(default)]
    pub frame: u64,
    #[serde(default)]
    pub machine: u64,
}

impl Parts {
    /// A boot or respawn payload: its capsule block, its contract and its machine block
    /// are counted alone; the rest of the rendered text (title, handoff) is handoff, and
    /// the header line that [`crate::payload::send`] adds is frame.
    pub fn boot(text: &str, capsule: &str, contract: &str, machine: &str) -> Parts {
        let (c, k, m) = (
            vendor::estimate(capsule),
            vendor::estimate(contract),
            vendor::estimate(machine),
        );
        Parts {
            capsule: c,
            contract: k,
            machine: m,
            handoff: vendor::estimate(text).saturating_sub(c + k + m),
            ..Parts::default()
        }
    }

    /// A payload of results: the contents shown (logs, diffs, files) and the frame around
    /// them (headings, outcomes, notes, the ACK lines to answer). It has no machine block:
    /// the chat answers with the ACK lines, and the message is in the store.
    pub fn results<'a>(text: &str, contents: impl Iterator<Item = &'a str>) -> Parts {
        let r: u64 = contents.map(vendor::estimate).sum();
        Parts {
            results: r,
            frame: vendor::estimate(text).saturating_sub(r),
            ..Parts::default()
        }
    }

    /// A message payload: its machine block, and the frame.
    pub fn message(text: &str, machine: &str) -> Parts {
        let m = vendor::estimate(machine);
        Parts {
            machine: m,
            frame: vendor::estimate(text).saturating_sub(m),
            ..Parts::default()
        }
    }

    pub fn total(&self) -> u64 {
        self.capsule + self.contract + self.handoff + self.results + self.frame + self.machine
    }

    fn add(&mut self, o: &Parts) {
        self.capsule += o.capsule;
        self.contract += o.contract;
        self.handoff += o.handoff;
        self.results += o.results;
        self.frame += o.frame;
        self.machine += o.machine;
    }
}

/// One turn of a session.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Turn {
    /// 0 for the boot, then one per reply ingested.
    pub turn: usize,
    /// Tokens of the reply ingested (0 for the boot).
    pub ingested: u64,
    /// Tokens pasted out in this turn, as the vendor counts them.
    pub pasted_out: u64,
    /// What was pasted out, by part (estimates; payloads recorded before parts were
    /// counted have none).
    pub parts: Parts,
    /// Payloads pasted out in this turn.
    pub payloads: usize,
    /// New DOs the turn's reply proposed.
    pub dos: u64,
}

/// The turns of session `sid`, oldest first.
pub fn of_session(hub: &Hub, sid: &str) -> Result<Vec<Turn>> {
    let c = hub.store.conn();
    // Every payload and reply of the session, in the order the store recorded them.
    let mut ev = c.prepare_cached(
        "SELECT e.kind, COALESCE((SELECT SUM(p.tokens) FROM payloads p WHERE p.id = json_extract(e.data, '$.id')), 0),
                (SELECT p.part_tokens FROM payloads p WHERE p.id = json_extract(e.data, '$.id') AND p.part = 1),
                COALESCE(json_extract(e.data, '$.dos'), 0)
         FROM events e WHERE e.session = ?1 AND e.kind IN ('payload.sent', 'reply.ingested') ORDER BY e.id",
    )?;
    let events: Vec<(String, i64, Option<String>, i64)> = ev
        .query_map([sid], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut rp = c.prepare_cached("SELECT tokens FROM replies WHERE session = ?1 ORDER BY id")?;
    let mut replies = rp
        .query_map([sid], |r| r.get::<_, i64>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?
        .into_iter();
    let mut turns = vec![Turn::default()];
    for (kind, tokens, parts, dos) in events {
        if kind == "reply.ingested" {
            turns.push(Turn {
                turn: turns.len(),
                ingested: replies.next().unwrap_or(0).max(0) as u64,
                dos: dos.max(0) as u64,
                ..Turn::default()
            });
            continue;
        }
        let t = turns.last_mut().expect("turn 0 is always there");
        t.pasted_out += tokens.max(0) as u64;
        t.payloads += 1;
        if let Some(p) = parts.and_then(|p| serde_json::from_str::<Parts>(&p).ok()) {
            t.parts.add(&p);
        }
    }
    Ok(turns)
}

/// A session's turns summed: what went each way, and out by part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Book {
    pub turns: Vec<Turn>,
    pub ingested: u64,
    pub pasted_out: u64,
    pub parts: Parts,
}

pub fn book(hub: &Hub, sid: &str) -> Result<Book> {
    let turns = of_session(hub, sid)?;
    let mut b = Book::default();
    for t in &turns {
        b.ingested += t.ingested;
        b.pasted_out += t.pasted_out;
        b.parts.add(&t.parts);
    }
    b.turns = turns;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_boot_counts_its_pieces_and_leaves_the_rest_to_the_handoff() {
        let (cap, con, mach) = ("c".repeat(320), "k".repeat(640), "m".repeat(32));
        let text = format!("# title\n{cap}{con}handoff text{mach}");
        let p = Parts::boot(&text, &cap, &con, &mach);
        assert_eq!(p.capsule, vendor::estimate(&cap));
        assert_eq!(p.contract, vendor::estimate(&con));
        assert!(p.handoff > 0);
        assert!(p.total().abs_diff(vendor::estimate(&text)) <= 3, "{p:?}");
    }

    #[test]
    fn results_split_contents_from_frame() {
        let log = "line\n".repeat(100);
        let text = format!("## DO-1 · t · succeeded\n```\n{log}```\nACK DO-1\n");
        let p = Parts::results(&text, [log.as_str()].into_iter());
        assert_eq!(p.results, vendor::estimate(&log));
        assert!(p.frame > 0 && p.frame < p.results, "{p:?}");
    }
}
