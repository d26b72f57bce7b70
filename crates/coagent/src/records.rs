//! The hub's records as `coagent sync` exchanges them: for each kind of record, which
//! columns leave the machine, how a record is identified on every hub, in which month it
//! is filed, and how two hubs' versions of one record merge. A new kind of record is one
//! entry in [`KINDS`].
//!
//! This module reads and writes the store only: it never touches git, files or the
//! network (the `coagent-sync` crate does). It never exports what is this machine's
//! alone: a run still going (its owner process), a session's parts still to paste, the
//! store's own row numbers.
//!
//! Merging is by record id. Every rule is commutative and idempotent, so any two hubs that
//! have seen the same records hold the same values, whatever order they synced in:
//! `Min` keeps the smaller value (a timestamp first set; a value set on one side only),
//! `Max` the larger, `Forward` the state further along its lifecycle, and a kind with a
//! `whole` column (TODOs: their HLC stamp) takes the whole record from the side whose
//! stamp is later.

use std::collections::BTreeMap;

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Transaction};

use crate::{Result, hlc};

/// How two hubs' values of one column merge.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// The smaller non-null value (null only when both are null).
    Min,
    /// The larger value.
    Max,
    /// The state further along this lifecycle (an unknown state counts as the first).
    Forward(&'static [&'static str]),
}

/// Where an exported column comes from and goes to.
#[derive(Debug, Clone, Copy)]
pub enum Source {
    /// The column of that name.
    Column,
    /// The record's `uid`: another hub's id for it, or `<node>-<id>` for one of this hub.
    Uid,
    /// The sha256 of the reply it came with (the store's `reply` row number is local).
    Reply,
    /// The node of the hub that made the record (`node`, or this hub's when unset).
    Node,
}

#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub name: &'static str,
    pub source: Source,
    pub rule: Rule,
}

const fn col(name: &'static str) -> Col {
    Col {
        name,
        source: Source::Column,
        rule: Rule::Min,
    }
}

const fn ruled(name: &'static str, rule: Rule) -> Col {
    Col {
        name,
        source: Source::Column,
        rule,
    }
}

const UID: Col = Col {
    name: "uid",
    source: Source::Uid,
    rule: Rule::Min,
};

const REPLY: Col = Col {
    name: "reply_sha256",
    source: Source::Reply,
    rule: Rule::Min,
};

/// One kind of record.
#[derive(Debug)]
pub struct RecordKind {
    /// The folder name in the sync branch (`records/<name>/<YYYY-MM>.jsonl`).
    pub name: &'static str,
    pub table: &'static str,
    /// The column (milliseconds) that files a record under its month.
    pub time: &'static str,
    /// The columns that identify a record on every hub.
    pub key: &'static [&'static str],
    pub cols: &'static [Col],
    /// Only these rows leave (SQL on the table aliased `t`).
    pub only: Option<&'static str>,
    /// A column whose larger value takes the whole record (instead of column rules).
    pub whole: Option<&'static str>,
}

const SESSION_STATES: &[&str] = &["booting", "live", "abandoned", "closed", "wrapped"];
const ECHO_STATES: &[&str] = &["missing", "stale", "verified"];
/// A DO's lifecycle; of two ends, the one later in this list wins (a rerun that succeeded
/// over one that failed), so both hubs settle on the same.
pub const DO_STATES: &[&str] = &[
    "proposed",
    "approved",
    "running",
    "interrupted",
    "killed",
    "timed_out",
    "failed",
    "succeeded",
    "acked",
];
const RUN_STATES: &[&str] = &[
    "running",
    "interrupted",
    "killed",
    "timed_out",
    "failed",
    "succeeded",
];

/// Every kind that syncs, in the order a hub imports them (a DO after its session, a run
/// after its DO).
pub const KINDS: &[RecordKind] = &[
    RecordKind {
        name: "sessions",
        table: "sessions",
        time: "created_at",
        key: &["id"],
        cols: &[
            col("id"),
            col("vendor"),
            col("goal"),
            ruled("state", Rule::Forward(SESSION_STATES)),
            col("capsule_version"),
            col("capsule_sha256"),
            ruled("echo", Rule::Forward(ECHO_STATES)),
            col("created_at"),
            col("live_at"),
            col("closed_at"),
            col("from_wrap"),
            col("prev_session"),
            ruled("last_activity_at", Rule::Max),
            col("breach_at"),
            col("breach_signal"),
            Col {
                name: "node",
                source: Source::Node,
                rule: Rule::Min,
            },
        ],
        only: None,
        whole: None,
    },
    RecordKind {
        name: "todos",
        table: "todos",
        time: "created_at",
        key: &["id"],
        cols: &[
            col("id"),
            col("title"),
            col("acceptance"),
            col("status"),
            col("rank"),
            col("created_at"),
            col("done_at"),
            col("closed_by"),
            col("closed_refs"),
            col("hlc"),
        ],
        only: None,
        whole: Some("hlc"),
    },
    RecordKind {
        name: "messages",
        table: "messages",
        time: "created_at",
        key: &["id"],
        cols: &[
            col("id"),
            col("session"),
            col("direction"),
            col("kind"),
            col("to_target"),
            col("subject"),
            col("json"),
            col("valid"),
            col("errors"),
            col("requires_ack"),
            col("acked_at"),
            col("created_at"),
        ],
        only: None,
        whole: None,
    },
    RecordKind {
        name: "replies",
        table: "replies",
        time: "created_at",
        key: &["session", "sha256"],
        cols: &[
            col("session"),
            col("sha256"),
            col("raw_sha256"),
            col("path"),
            col("chars"),
            col("tokens"),
            col("tokens_exact"),
            col("created_at"),
        ],
        only: None,
        whole: None,
    },
    RecordKind {
        name: "drift",
        table: "drift",
        time: "created_at",
        key: &["uid"],
        cols: &[
            UID,
            col("session"),
            col("turn"),
            col("kind"),
            col("excerpt"),
            col("about"),
            REPLY,
            col("created_at"),
        ],
        only: None,
        whole: None,
    },
    RecordKind {
        name: "dos",
        table: "dos",
        time: "proposed_at",
        key: &["id"],
        cols: &[
            col("id"),
            col("session"),
            col("title"),
            col("lang"),
            col("lang_note"),
            col("script"),
            col("sha256"),
            ruled("state", Rule::Forward(DO_STATES)),
            col("approved_sha256"),
            col("proposed_at"),
            col("approved_at"),
            col("first_artifact_at"),
            col("acked_at"),
            col("todo_id"),
            REPLY,
        ],
        only: None,
        whole: None,
    },
    RecordKind {
        name: "runs",
        table: "runs",
        time: "started_at",
        key: &["id"],
        cols: &[
            col("id"),
            col("do_id"),
            ruled("status", Rule::Forward(RUN_STATES)),
            col("exit_code"),
            col("signal"),
            col("started_at"),
            col("ended_at"),
            col("duration_ms"),
        ],
        // A run still going belongs to the process that runs it, on this machine.
        only: Some("t.status != 'running'"),
        whole: None,
    },
    RecordKind {
        name: "artifacts",
        table: "artifacts",
        time: "created_at",
        key: &["id"],
        cols: &[
            col("id"),
            col("do_id"),
            col("run_id"),
            col("kind"),
            col("path"),
            col("source"),
            col("sha256"),
            col("bytes"),
            col("created_at"),
            col("stored"),
        ],
        only: None,
        whole: None,
    },
    RecordKind {
        name: "acks",
        table: "acks",
        time: "created_at",
        key: &["uid"],
        cols: &[
            UID,
            col("session"),
            col("target"),
            col("refs"),
            col("status"),
            col("reason"),
            REPLY,
            col("created_at"),
        ],
        only: None,
        whole: None,
    },
    RecordKind {
        name: "dones",
        table: "dones",
        time: "created_at",
        key: &["uid"],
        cols: &[
            UID,
            col("session"),
            col("todo"),
            col("refs"),
            col("status"),
            col("reason"),
            REPLY,
            col("created_at"),
        ],
        only: None,
        whole: None,
    },
    RecordKind {
        name: "wraps",
        table: "wraps",
        time: "created_at",
        key: &["id"],
        cols: &[
            col("id"),
            col("session"),
            col("to_target"),
            col("archive"),
            col("sha256"),
            col("created_at"),
            col("consumed_at"),
            col("consumed_by"),
        ],
        only: None,
        whole: None,
    },
    RecordKind {
        name: "payloads",
        table: "payloads",
        time: "created_at",
        key: &["id", "part"],
        cols: &[
            col("id"),
            col("session"),
            col("kind"),
            col("part"),
            col("parts"),
            col("path"),
            col("sha256"),
            col("chars"),
            col("tokens"),
            col("tokens_exact"),
            col("redactions"),
            col("part_tokens"),
            col("created_at"),
        ],
        only: None,
        whole: None,
    },
    RecordKind {
        name: "events",
        table: "events",
        time: "at",
        key: &["uid"],
        cols: &[UID, col("at"), col("session"), col("kind"), col("data")],
        only: None,
        whole: None,
    },
    RecordKind {
        name: "files",
        table: "files",
        time: "at",
        key: &["path"],
        cols: &[col("path"), col("session"), col("sha256"), col("at")],
        only: None,
        whole: None,
    },
];

pub fn kind(name: &str) -> Option<&'static RecordKind> {
    KINDS.iter().find(|k| k.name == name)
}

/// One exported record: column name → value, in key order (deterministic JSON).
pub type Record = BTreeMap<String, serde_json::Value>;

fn to_json(v: Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Integer(i) => i.into(),
        Value::Real(f) => {
            serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into)
        }
        Value::Text(s) => s.into(),
        Value::Blob(b) => String::from_utf8_lossy(&b).into_owned().into(),
    }
}

fn to_sql(v: &serde_json::Value) -> Value {
    match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Integer(i64::from(*b)),
        serde_json::Value::Number(n) => n
            .as_i64()
            .map_or_else(|| Value::Real(n.as_f64().unwrap_or(0.0)), Value::Integer),
        serde_json::Value::String(s) => Value::Text(s.clone()),
        other => Value::Text(other.to_string()),
    }
}

/// The SQL of one exported column, on the table aliased `t` (`?1` is this hub's node).
fn expr(c: &Col) -> String {
    match c.source {
        Source::Column => format!("t.{}", c.name),
        Source::Uid => "COALESCE(t.uid, ?1 || '-' || t.id)".to_string(),
        Source::Reply => "(SELECT r.sha256 FROM replies r WHERE r.id = t.reply)".to_string(),
        Source::Node => "COALESCE(t.node, ?1)".to_string(),
    }
}

fn columns(k: &RecordKind) -> String {
    k.cols.iter().map(expr).collect::<Vec<_>>().join(", ")
}

/// The first millisecond of month `YYYY-MM` and of the month after.
fn month_bounds(month: &str) -> Option<(i64, i64)> {
    let (y, m) = month.split_once('-')?;
    let (y, m): (i16, i8) = (y.parse().ok()?, m.parse().ok()?);
    let start = jiff::civil::date(y, m, 1);
    let next = start.checked_add(jiff::Span::new().months(1)).ok()?;
    let ms = |d: jiff::civil::Date| {
        jiff::tz::TimeZone::UTC
            .to_timestamp(d.at(0, 0, 0, 0))
            .ok()
            .map(|t| t.as_millisecond())
    };
    Some((ms(start)?, ms(next)?))
}

/// The month (`YYYY-MM`, UTC) a time falls in.
pub fn month_of(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m").to_string())
        .unwrap_or_else(|_| "0000-00".to_string())
}

/// Every month that holds records of `k`.
pub fn months(c: &Connection, k: &RecordKind) -> Result<Vec<String>> {
    let sql = format!(
        "SELECT DISTINCT strftime('%Y-%m', {t} / 1000, 'unixepoch') FROM {table} ORDER BY 1",
        t = k.time,
        table = k.table
    );
    Ok(c.prepare(&sql)?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?)
}

/// The records of `k` filed under `month`, sorted by their key, handed to `each`.
pub fn rows(
    c: &Connection,
    k: &RecordKind,
    month: &str,
    node: &str,
    mut each: impl FnMut(Record) -> Result<()>,
) -> Result<()> {
    let Some((from, to)) = month_bounds(month) else {
        return Ok(());
    };
    let keys: Vec<String> = k
        .key
        .iter()
        .map(|name| {
            k.cols
                .iter()
                .find(|c| c.name == *name)
                .map_or_else(|| format!("t.{name}"), expr)
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM {} t WHERE t.{time} >= ?2 AND t.{time} < ?3{only} ORDER BY {keys}",
        columns(k),
        k.table,
        time = k.time,
        only = k.only.map(|o| format!(" AND {o}")).unwrap_or_default(),
        keys = keys.join(", ")
    );
    let mut stmt = c.prepare_cached(&sql)?;
    // ?1 is the node (for uids); a statement that does not use it still binds it.
    let mut q = stmt.query(rusqlite::params![node, from, to])?;
    while let Some(r) = q.next()? {
        let mut rec = Record::new();
        for (i, col) in k.cols.iter().enumerate() {
            rec.insert(col.name.to_string(), to_json(r.get::<_, Value>(i)?));
        }
        each(rec)?;
    }
    Ok(())
}

/// Adds the triggers that note which (kind, month) files a change touches. Idempotent;
/// added by the first sync, so a hub that never syncs pays nothing. On a hub that has
/// `exported_before`, a kind that had no triggers yet (one this version added) has all
/// its months noted, so its records made before go out too.
pub fn track(c: &Connection, exported_before: bool) -> Result<()> {
    let mut sql = String::new();
    for k in KINDS {
        let tracked = c
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?1",
                [format!("sync_dirty_{}_insert", k.table)],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if exported_before && !tracked {
            sql.push_str(&format!(
                "INSERT OR IGNORE INTO sync_dirty (kind, month)
                   SELECT DISTINCT '{name}', strftime('%Y-%m', {time} / 1000, 'unixepoch') FROM {table};\n",
                table = k.table,
                name = k.name,
                time = k.time
            ));
        }
        for (what, on) in [("insert", "INSERT"), ("update", "UPDATE")] {
            sql.push_str(&format!(
                "CREATE TRIGGER IF NOT EXISTS sync_dirty_{table}_{what} AFTER {on} ON {table} BEGIN
                   INSERT OR IGNORE INTO sync_dirty (kind, month)
                   VALUES ('{name}', strftime('%Y-%m', NEW.{time} / 1000, 'unixepoch'));
                 END;\n",
                table = k.table,
                name = k.name,
                time = k.time
            ));
        }
    }
    c.execute_batch(&sql)?;
    Ok(())
}

/// The (kind, month) files whose records changed since they were last exported.
pub fn dirty(c: &Connection) -> Result<Vec<(String, String)>> {
    Ok(
        c.prepare("SELECT kind, month FROM sync_dirty ORDER BY kind, month")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?,
    )
}

/// Forgets the changes `done` were exported (changes made since stay noted).
pub fn exported(tx: &Transaction<'_>, done: &[(String, String)]) -> Result<()> {
    let mut stmt = tx.prepare_cached("DELETE FROM sync_dirty WHERE kind = ?1 AND month = ?2")?;
    for (k, m) in done {
        stmt.execute([k, m])?;
    }
    Ok(())
}

/// The local row of `k` that `rec` names, as a record, with its row number.
fn local(
    tx: &Transaction<'_>,
    k: &RecordKind,
    rec: &Record,
    node: &str,
) -> Result<Option<(i64, Record)>> {
    let mut conds = Vec::new();
    let mut params: Vec<Value> = vec![Value::Text(node.to_string())];
    for name in k.key {
        let v = rec.get(*name).map(to_sql).unwrap_or(Value::Null);
        if *name == "uid" {
            // A record of this very hub, back from the branch: its uid is not stored.
            let own = match &v {
                Value::Text(u) => u
                    .strip_prefix(&format!("{node}-"))
                    .and_then(|n| n.parse::<i64>().ok()),
                _ => None,
            };
            match own {
                Some(n) => {
                    conds.push(format!("t.id = ?{}", params.len() + 1));
                    params.push(Value::Integer(n));
                }
                None => {
                    conds.push(format!("t.uid = ?{}", params.len() + 1));
                    params.push(v);
                }
            }
        } else {
            conds.push(format!("t.{name} = ?{}", params.len() + 1));
            params.push(v);
        }
    }
    let sql = format!(
        "SELECT {}, t.rowid FROM {} t WHERE {}",
        columns(k),
        k.table,
        conds.join(" AND ")
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    Ok(stmt
        .query_row(rusqlite::params_from_iter(params), |r| {
            let mut rec = Record::new();
            for (i, col) in k.cols.iter().enumerate() {
                rec.insert(col.name.to_string(), to_json(r.get::<_, Value>(i)?));
            }
            Ok((r.get::<_, i64>(k.cols.len())?, rec))
        })
        .optional()?)
}

fn rank(states: &[&str], v: &serde_json::Value) -> i64 {
    v.as_str()
        .and_then(|s| states.iter().position(|x| *x == s))
        .map_or(-1, |p| p as i64)
}

fn cmp(a: &serde_json::Value, b: &serde_json::Value) -> std::cmp::Ordering {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

fn merge_value(rule: Rule, a: &serde_json::Value, b: &serde_json::Value) -> serde_json::Value {
    if a.is_null() {
        return b.clone();
    }
    if b.is_null() {
        return a.clone();
    }
    let pick_b = match rule {
        Rule::Min => cmp(b, a).is_lt(),
        Rule::Max => cmp(b, a).is_gt(),
        Rule::Forward(states) => {
            let (ra, rb) = (rank(states, a), rank(states, b));
            rb > ra || (rb == ra && cmp(b, a).is_lt())
        }
    };
    if pick_b { b.clone() } else { a.clone() }
}

/// Two versions of one record, merged by the kind's rules.
pub fn merge(k: &RecordKind, ours: &Record, theirs: &Record) -> Record {
    if let Some(w) = k.whole {
        let null = serde_json::Value::Null;
        let (a, b) = (ours.get(w).unwrap_or(&null), theirs.get(w).unwrap_or(&null));
        let theirs_wins = match (a.as_str(), b.as_str()) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(x), Some(y)) => y > x,
        };
        return if theirs_wins {
            theirs.clone()
        } else {
            ours.clone()
        };
    }
    k.cols
        .iter()
        .map(|c| {
            let null = serde_json::Value::Null;
            let a = ours.get(c.name).unwrap_or(&null);
            let b = theirs.get(c.name).unwrap_or(&null);
            (c.name.to_string(), merge_value(c.rule, a, b))
        })
        .collect()
}

/// The SQL column and value a record's field is stored as.
fn stored(tx: &Transaction<'_>, c: &Col, rec: &Record) -> Result<(&'static str, Value)> {
    let v = rec.get(c.name).map(to_sql).unwrap_or(Value::Null);
    Ok(match c.source {
        Source::Column => (c.name, v),
        Source::Uid => ("uid", v),
        Source::Node => ("node", v),
        Source::Reply => {
            let session = rec.get("session").map(to_sql).unwrap_or(Value::Null);
            let id: Option<i64> = match v {
                Value::Null => None,
                sha => tx
                    .query_row(
                        "SELECT id FROM replies WHERE session IS ?1 AND sha256 = ?2",
                        rusqlite::params![session, sha],
                        |r| r.get(0),
                    )
                    .optional()?,
            };
            ("reply", id.map_or(Value::Null, Value::Integer))
        }
    })
}

/// What importing one record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Imported {
    New,
    Changed,
    Same,
}

/// Imports one record of another hub: a new one is inserted, a known one merged by the
/// kind's rules (and written only when that changes it). A TODO's stamp is observed, so
/// this hub's next change to it is later.
pub fn import(
    tx: &Transaction<'_>,
    k: &RecordKind,
    theirs: &Record,
    node: &str,
) -> Result<Imported> {
    if let Some(stamp) = k.whole.and_then(|w| theirs.get(w)).and_then(|v| v.as_str()) {
        hlc::observe(tx, stamp)?;
    }
    match local(tx, k, theirs, node)? {
        None => {
            let mut names = Vec::new();
            let mut values = Vec::new();
            for c in k.cols {
                let (name, v) = stored(tx, c, theirs)?;
                names.push(name);
                values.push(v);
            }
            let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
            let n = tx.execute(
                &format!(
                    "INSERT OR IGNORE INTO {} ({}) VALUES ({})",
                    k.table,
                    names.join(", "),
                    marks.join(", ")
                ),
                rusqlite::params_from_iter(values),
            )?;
            Ok(if n > 0 { Imported::New } else { Imported::Same })
        }
        Some((rowid, ours)) => {
            let merged = merge(k, &ours, theirs);
            if merged == ours {
                return Ok(Imported::Same);
            }
            let mut sets = Vec::new();
            let mut values = Vec::new();
            for c in k.cols {
                if matches!(c.source, Source::Uid) || merged.get(c.name) == ours.get(c.name) {
                    continue;
                }
                let (name, v) = stored(tx, c, &merged)?;
                values.push(v);
                sets.push(format!("{name} = ?{}", values.len()));
            }
            values.push(Value::Integer(rowid));
            tx.execute(
                &format!(
                    "UPDATE {} SET {} WHERE rowid = ?{}",
                    k.table,
                    sets.join(", "),
                    values.len()
                ),
                rusqlite::params_from_iter(values),
            )?;
            Ok(Imported::Changed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pairs: &[(&str, serde_json::Value)]) -> Record {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn merging_is_the_same_whichever_side_merges() {
        let dos = kind("dos").expect("dos");
        let a = rec(&[
            ("id", "DO-1".into()),
            ("state", "succeeded".into()),
            ("acked_at", serde_json::Value::Null),
            ("approved_at", 5.into()),
        ]);
        let b = rec(&[
            ("id", "DO-1".into()),
            ("state", "acked".into()),
            ("acked_at", 9.into()),
            ("approved_at", 3.into()),
        ]);
        let ab = merge(dos, &a, &b);
        assert_eq!(ab, merge(dos, &b, &a));
        assert_eq!(ab["state"], "acked", "a state only moves forward");
        assert_eq!(ab["acked_at"], 9);
        assert_eq!(ab["approved_at"], 3, "the first time it was set");
        assert_eq!(merge(dos, &ab, &a), ab, "merging again changes nothing");
        let todos = kind("todos").expect("todos");
        let older = rec(&[
            ("id", "T-1".into()),
            ("title", "old".into()),
            ("hlc", "0000000001000.0000.aa".into()),
        ]);
        let newer = rec(&[
            ("id", "T-1".into()),
            ("title", "new".into()),
            ("hlc", "0000000002000.0000.bb".into()),
        ]);
        assert_eq!(merge(todos, &older, &newer)["title"], "new");
        assert_eq!(merge(todos, &newer, &older)["title"], "new");
    }

    #[test]
    fn months_have_their_bounds() {
        assert_eq!(month_bounds("1970-01"), Some((0, 31 * 86_400_000)));
        assert_eq!(month_of(31 * 86_400_000), "1970-02");
        assert_eq!(month_bounds("garbage"), None);
    }
}
