//! The outbox (`temps/outbox/`): payloads written for the human to paste, and whether
//! they have been.
//!
//! A payload counts as pasted once a reply is ingested into its session after it was
//! written (the chat can only answer what it was given); one written for no session
//! counts as pasted after any later reply. That is derived from the store's event order,
//! not stored, so nothing can fall out of step. Copying one again goes through the guard
//! like everything that leaves ([`payload::copy_part`]).

use rusqlite::params;
use serde::Serialize;

use crate::clipboard::{ClipOutcome, Clipboard};
use crate::clock::Millis;
use crate::hub::Hub;
use crate::{Error, Result, id, payload};

/// One payload in the outbox.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub id: String,
    pub kind: String,
    pub session: Option<String>,
    pub parts: usize,
    /// Each part's file, relative to the hub, in order.
    pub paths: Vec<String>,
    pub chars: i64,
    pub created_at: Millis,
    pub pasted: bool,
}

/// Payloads newest first: those not yet pasted, or all with `all`; at most `limit`.
pub fn list(hub: &Hub, all: bool, limit: usize) -> Result<Vec<Entry>> {
    let c = hub.store.conn();
    // The payload's own `payload.sent` event places it in the store's order of events;
    // a `reply.ingested` after it, in its session, means it was pasted.
    let mut stmt = c.prepare_cached(
        "SELECT p.id, p.kind, p.session, p.parts, group_concat(p.path, char(10)), SUM(p.chars), p.created_at,
                EXISTS (
                  SELECT 1 FROM events r
                  WHERE r.kind = 'reply.ingested' AND r.at >= p.created_at
                    AND (p.session IS NULL OR r.session = p.session)
                    AND r.id > COALESCE((
                      SELECT MAX(e.id) FROM events e
                      WHERE e.kind = 'payload.sent' AND e.at = p.created_at
                        AND json_extract(e.data, '$.id') = p.id), 0)
                ) AS pasted
         FROM (SELECT rowid AS rid, * FROM payloads ORDER BY id, part) p
         GROUP BY p.id
         ORDER BY p.created_at DESC, MAX(p.rid) DESC",
    )?;
    let rows = stmt.query_map([], |r| {
        let paths: String = r.get(4)?;
        Ok(Entry {
            id: r.get(0)?,
            kind: r.get(1)?,
            session: r.get(2)?,
            parts: r.get::<_, i64>(3)? as usize,
            paths: paths.split('\n').map(str::to_string).collect(),
            chars: r.get(5)?,
            created_at: r.get(6)?,
            pasted: r.get(7)?,
        })
    })?;
    let mut out = Vec::new();
    for e in rows {
        let e = e?;
        // Another machine's payload (its record came by `coagent sync`; its file stays
        // there: `temps/` never syncs) is not this machine's to paste.
        if !e.paths.first().is_some_and(|p| hub.dir.join(p).exists()) {
            continue;
        }
        if all || !e.pasted {
            out.push(e);
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

/// What [`copy`] put on the clipboard.
#[derive(Debug, Clone, Serialize)]
pub struct Copied {
    pub id: String,
    pub kind: String,
    pub part: usize,
    pub parts: usize,
    pub path: String,
    pub clipboard: ClipOutcome,
}

/// Copies part `part` of payload `typed` (default: the newest not yet pasted) again.
pub fn copy(
    hub: &mut Hub,
    typed: Option<&str>,
    part: usize,
    clip: &mut dyn Clipboard,
) -> Result<Copied> {
    let entry = match typed {
        Some(t) => find(hub, t)?,
        None => list(hub, false, 1)?.pop().ok_or_else(|| {
            Error::invalid(
                "every payload in the outbox was pasted already",
                Some("`coagent outbox --all` lists them; copy one by its id".to_string()),
            )
        })?,
    };
    if part == 0 || part > entry.parts {
        return Err(Error::invalid(
            format!(
                "{} has {} part(s); there is no part {part}",
                entry.id, entry.parts
            ),
            Some(format!("coagent outbox copy {} --part 1", entry.id)),
        ));
    }
    let path = entry.paths[part - 1].clone();
    let clipboard = payload::copy_part(hub, &path, clip)?;
    Ok(Copied {
        id: entry.id,
        kind: entry.kind,
        part,
        parts: entry.parts,
        path,
        clipboard,
    })
}

fn find(hub: &Hub, typed: &str) -> Result<Entry> {
    let wanted = id::normalize_as(id::Kind::Message, typed);
    let typed = typed.trim();
    let ids: Vec<String> = hub
        .store
        .conn()
        .prepare_cached("SELECT DISTINCT id FROM payloads WHERE id LIKE ?1 || '%' LIMIT 2")?
        .query_map(params![wanted], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let id = match ids.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(Error::invalid(
                format!("no payload `{typed}` in the outbox"),
                Some("`coagent outbox --all` lists them".to_string()),
            ));
        }
        _ => {
            return Err(Error::invalid(
                format!("`{typed}` names more than one payload"),
                Some("type more of the id".to_string()),
            ));
        }
    };
    list(hub, true, usize::MAX)?
        .into_iter()
        .find(|e| e.id == id)
        .ok_or_else(|| Error::Internal(format!("payload {id} vanished")))
}
