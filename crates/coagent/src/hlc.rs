//! A hybrid logical clock: stamps that order the changes of several hubs even when their
//! clocks disagree a little. A stamp is `<ms:13>.<counter:4>.<node>`, compared as text: the
//! wall time in milliseconds (never behind the last stamp this hub made or saw), a counter
//! for changes within one millisecond, and the hub's node id to break the last tie. Used
//! for TODOs: of two hubs' versions of one TODO, the one changed last wins whole.

use rusqlite::{OptionalExtension, Transaction};

use crate::Result;
use crate::clock::Millis;

const STATE: &str = "hlc";
const NODE: &str = "node";

/// This hub's node id, made on first use: 10 random lowercase hex digits.
pub fn node(tx: &rusqlite::Connection) -> Result<String> {
    if let Some(n) = tx
        .query_row("SELECT value FROM meta WHERE key = ?1", [NODE], |r| {
            r.get(0)
        })
        .optional()?
    {
        return Ok(n);
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, lower(hex(randomblob(5))))",
        [NODE],
    )?;
    Ok(
        tx.query_row("SELECT value FROM meta WHERE key = ?1", [NODE], |r| {
            r.get(0)
        })?,
    )
}

fn parse(stamp: &str) -> Option<(Millis, u32)> {
    let mut it = stamp.split('.');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

fn last(tx: &Transaction<'_>) -> Result<Option<(Millis, u32)>> {
    let v: Option<String> = tx
        .query_row("SELECT value FROM meta WHERE key = ?1", [STATE], |r| {
            r.get(0)
        })
        .optional()?;
    Ok(v.as_deref().and_then(parse))
}

fn save(tx: &Transaction<'_>, ms: Millis, n: u32) -> Result<()> {
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        rusqlite::params![STATE, format!("{ms:013}.{n:04}")],
    )?;
    Ok(())
}

/// A new stamp for a change made here at `now`, later than every stamp made or seen.
pub fn tick(tx: &Transaction<'_>, now: Millis) -> Result<String> {
    let (ms, n) = match last(tx)? {
        Some((l, c)) if l >= now => (l, c + 1),
        _ => (now, 0),
    };
    save(tx, ms, n)?;
    Ok(format!("{ms:013}.{n:04}.{}", node(tx)?))
}

/// Records a stamp seen in another hub's records, so this hub's next stamp is later.
pub fn observe(tx: &Transaction<'_>, stamp: &str) -> Result<()> {
    let Some((ms, n)) = parse(stamp) else {
        return Ok(());
    };
    match last(tx)? {
        Some(l) if l >= (ms, n) => Ok(()),
        _ => save(tx, ms, n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn stamps_move_forward_past_what_was_seen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Store::open(&dir.path().join("store.db"), true).expect("open");
        s.tx(|tx| {
            let a = tick(tx, 1000)?;
            let b = tick(tx, 1000)?;
            assert!(b > a, "{b} after {a} within one millisecond");
            let c = tick(tx, 500)?;
            assert!(c > b, "a clock that went back still moves forward");
            observe(tx, "0000000009000.0003.ffffffffff")?;
            let d = tick(tx, 2000)?;
            assert!(d.starts_with("0000000009000.0004."), "{d}");
            Ok(())
        })
        .expect("tx");
    }
}
