//! The hub's records — sessions, TODOs, messages, DOs, runs, artifacts, ACKs, wraps,
//! payloads, replies, events — in one SQLite file (`.coagent/store.db`).
//!
//! WAL mode so that `coagent watch` and a CLI command can read and write the same hub at
//! once; `synchronous=FULL` so that a change is on disk when the call returns, except
//! inside [`Store::defer_sync`], where a command that commits many times (`do run` of
//! several DOs) makes them all durable with one sync at its end; every change
//! in an `IMMEDIATE` transaction, so two writers queue instead of deadlocking; a busy store
//! is waited on for [`BUSY_WAIT`], then reported as [`Error::StoreBusy`]. The schema moves
//! forward by numbered migrations recorded in `PRAGMA user_version`; a store written by a
//! newer CoAgent is refused rather than guessed at.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, TransactionBehavior};

use crate::id::{self, Kind};
use crate::{Error, Result};

pub const BUSY_WAIT: Duration = Duration::from_secs(5);

/// The schema this CoAgent writes (`PRAGMA user_version` after every migration).
pub fn schema_latest() -> i64 {
    MIGRATIONS.len() as i64
}

/// Each entry moves the schema from version `i` to `i + 1`. Never edit a shipped entry.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        vendor TEXT NOT NULL,
        goal TEXT NOT NULL DEFAULT '',
        state TEXT NOT NULL,                -- booting | live | wrapped | abandoned
        capsule_version TEXT NOT NULL,
        capsule_sha256 TEXT NOT NULL,
        echo TEXT NOT NULL DEFAULT 'missing', -- missing | stale | verified
        created_at INTEGER NOT NULL,
        live_at INTEGER,
        closed_at INTEGER,
        from_wrap TEXT,
        prev_session TEXT,
        last_activity_at INTEGER,
        breach_at INTEGER,
        breach_signal TEXT,
        pending_next TEXT                   -- JSON: parts of a split payload still to paste
    );
    CREATE INDEX sessions_by_state ON sessions (state, created_at);
    CREATE TABLE todos (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        acceptance TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,               -- open | done
        rank INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        done_at INTEGER
    );
    CREATE INDEX todos_by_status ON todos (status, rank);
    CREATE TABLE payloads (
        id TEXT NOT NULL,                   -- the BackchatMessage id it carries
        session TEXT,
        kind TEXT NOT NULL,
        part INTEGER NOT NULL,
        parts INTEGER NOT NULL,
        path TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        chars INTEGER NOT NULL,
        tokens INTEGER NOT NULL,
        tokens_exact INTEGER NOT NULL,
        redactions INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        PRIMARY KEY (id, part)
    );
    CREATE INDEX payloads_by_session ON payloads (session, created_at);
    CREATE TABLE replies (
        id INTEGER PRIMARY KEY,
        session TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        path TEXT NOT NULL,
        chars INTEGER NOT NULL,
        tokens INTEGER NOT NULL,
        tokens_exact INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        UNIQUE (session, sha256)
    );
    CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        session TEXT,
        direction TEXT NOT NULL,            -- out | in
        kind TEXT NOT NULL,
        to_target TEXT NOT NULL DEFAULT '',
        subject TEXT NOT NULL DEFAULT '',
        json TEXT NOT NULL,
        valid INTEGER NOT NULL,
        errors TEXT NOT NULL DEFAULT '[]',
        requires_ack INTEGER NOT NULL DEFAULT 0,
        acked_at INTEGER,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX messages_by_session ON messages (session, created_at);
    CREATE TABLE dos (
        id TEXT PRIMARY KEY,
        session TEXT NOT NULL,
        title TEXT NOT NULL,
        lang TEXT NOT NULL,
        script TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        state TEXT NOT NULL,                -- proposed | approved | running | succeeded | failed | timed_out | killed | interrupted (since 5) | acked
        approved_sha256 TEXT,
        proposed_at INTEGER NOT NULL,
        approved_at INTEGER,
        first_artifact_at INTEGER,
        acked_at INTEGER,
        UNIQUE (session, sha256)
    );
    CREATE INDEX dos_by_session ON dos (session, proposed_at);
    CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        do_id TEXT NOT NULL,
        status TEXT NOT NULL,
        exit_code INTEGER,
        signal INTEGER,
        started_at INTEGER NOT NULL,
        ended_at INTEGER,
        duration_ms INTEGER
    );
    CREATE INDEX runs_by_do ON runs (do_id, started_at);
    CREATE TABLE artifacts (
        id TEXT PRIMARY KEY,
        do_id TEXT,
        run_id TEXT,
        kind TEXT NOT NULL,                 -- log | diff | file
        path TEXT NOT NULL,                 -- relative to the hub
        source TEXT NOT NULL DEFAULT '',
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX artifacts_by_do ON artifacts (do_id);
    CREATE TABLE acks (
        id INTEGER PRIMARY KEY,
        session TEXT,
        target TEXT NOT NULL,
        refs TEXT NOT NULL,                 -- JSON array of ref strings
        status TEXT NOT NULL,               -- accepted | rejected
        reason TEXT NOT NULL DEFAULT '',
        reply INTEGER,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX acks_by_target ON acks (target);
    CREATE INDEX acks_by_session ON acks (session, created_at);
    CREATE INDEX runs_by_end ON runs (do_id, ended_at);
    CREATE TABLE wraps (
        id TEXT PRIMARY KEY,
        session TEXT NOT NULL,
        to_target TEXT NOT NULL,
        archive TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        consumed_at INTEGER,
        consumed_by TEXT
    );
    CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        session TEXT,
        kind TEXT NOT NULL,
        data TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX events_by_session ON events (session, at);
    CREATE INDEX events_by_kind ON events (kind, at);
    "#,
    // 2: a reply pasted again byte for byte is known before it is parsed; recent sessions
    // are listed without sorting the whole table.
    r#"
    ALTER TABLE replies ADD COLUMN raw_sha256 TEXT;
    CREATE INDEX replies_by_raw ON replies (session, raw_sha256);
    CREATE INDEX sessions_by_created ON sessions (created_at);
    "#,
    // 3: a DO names the TODO it serves; a TODO records who closed it and with which refs
    // (its "in progress" is derived from its DOs, never stored); every DONE line a chat
    // sent is kept with its judgement, as ACKs are.
    r#"
    ALTER TABLE dos ADD COLUMN todo_id TEXT;
    CREATE INDEX dos_by_todo ON dos (todo_id);
    ALTER TABLE todos ADD COLUMN closed_by TEXT;      -- a session id, or 'human'
    ALTER TABLE todos ADD COLUMN closed_refs TEXT;    -- JSON array of ref strings
    CREATE TABLE dones (
        id INTEGER PRIMARY KEY,
        session TEXT,
        todo TEXT NOT NULL,
        refs TEXT NOT NULL,                 -- JSON array of ref strings
        status TEXT NOT NULL,               -- accepted | rejected
        reason TEXT NOT NULL DEFAULT '',
        reply INTEGER,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX dones_by_todo ON dones (todo);
    "#,
    // 4: the reply that proposed a DO, so `do run --all` takes exactly that reply's DOs,
    // in its order, even when two replies are ingested in the same millisecond.
    r#"
    ALTER TABLE dos ADD COLUMN reply INTEGER;
    CREATE INDEX dos_by_reply ON dos (session, reply);
    "#,
    // 5: how a DO's language was decided when its block did not name it plainly (inferred
    // from the content, a tag mapped to another program), for `do show` to say it again.
    r#"
    ALTER TABLE dos ADD COLUMN lang_note TEXT;
    "#,
    // 6: the process that owns a run (its pid and start time), so any command can tell a
    // run whose CoAgent died (marked `interrupted`) from one still going; a run that is
    // still `running` is found without reading the whole table; artifacts too large to
    // copy.
    r#"
    ALTER TABLE runs ADD COLUMN owner_pid INTEGER;
    ALTER TABLE runs ADD COLUMN owner_start INTEGER;
    CREATE INDEX runs_running ON runs (status) WHERE status = 'running';
    -- 0: a file over the size limit, recorded with its size and sha256 but not copied.
    ALTER TABLE artifacts ADD COLUMN stored INTEGER NOT NULL DEFAULT 1;
    "#,
    // 7: a payload's tokens by part (capsule, contract, handoff, results, frame, machine
    // block), JSON on its first part's row, for `stats` and `status` to show per turn.
    r#"
    ALTER TABLE payloads ADD COLUMN part_tokens TEXT;
    "#,
    // 8: the chat's lapses from the capsule seen at the gate (the monitor's drift signal),
    // each with the turn (the session's reply number) it came in, and what it was about
    // (a result message's id for a missed receipt, so one result is counted once).
    r#"
    CREATE TABLE drift (
        id INTEGER PRIMARY KEY,
        session TEXT NOT NULL,
        turn INTEGER NOT NULL,
        kind TEXT NOT NULL,
        excerpt TEXT NOT NULL,
        about TEXT,
        reply INTEGER,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX drift_by_session ON drift (session, turn);
    "#,
    // 9: years of records (100,000 sessions, 1,000,000 events). Every list reads the newest
    // rows of an index and stops; `stats` adds up narrow indexes instead of visiting every
    // session. A session keeps the end of its first succeeded run (`first_done_at`, kept by
    // the triggers below whoever writes the run: `do run`, `doctor`, `sync`), so the median
    // time to a first DO is one index scan rather than a join of runs and DOs.
    r#"
    ALTER TABLE sessions ADD COLUMN first_done_at INTEGER;
    UPDATE sessions SET first_done_at = (
        SELECT MIN(r.ended_at) FROM dos d JOIN runs r ON r.do_id = d.id
        WHERE d.session = sessions.id AND r.status = 'succeeded');
    CREATE TRIGGER runs_first_done_insert AFTER INSERT ON runs
    WHEN NEW.status = 'succeeded' AND NEW.ended_at IS NOT NULL BEGIN
        UPDATE sessions SET first_done_at = MIN(COALESCE(first_done_at, NEW.ended_at), NEW.ended_at)
        WHERE id = (SELECT session FROM dos WHERE id = NEW.do_id);
    END;
    CREATE TRIGGER runs_first_done_update AFTER UPDATE OF status, ended_at ON runs
    WHEN NEW.status = 'succeeded' AND NEW.ended_at IS NOT NULL BEGIN
        UPDATE sessions SET first_done_at = MIN(COALESCE(first_done_at, NEW.ended_at), NEW.ended_at)
        WHERE id = (SELECT session FROM dos WHERE id = NEW.do_id);
    END;
    CREATE INDEX sessions_first_done ON sessions (first_done_at, created_at)
        WHERE first_done_at IS NOT NULL;
    CREATE INDEX sessions_by_echo ON sessions (echo);
    CREATE INDEX sessions_breached ON sessions (breach_at) WHERE breach_at IS NOT NULL;
    CREATE INDEX sessions_by_prev ON sessions (prev_session) WHERE prev_session IS NOT NULL;
    CREATE INDEX sessions_by_wrap ON sessions (from_wrap) WHERE from_wrap IS NOT NULL;
    CREATE INDEX dos_by_proposed ON dos (proposed_at);
    CREATE INDEX dos_by_state ON dos (state, proposed_at);
    CREATE INDEX runs_succeeded ON runs (do_id) WHERE status = 'succeeded';
    CREATE INDEX artifacts_by_created ON artifacts (created_at);
    CREATE INDEX artifacts_by_kind ON artifacts (kind, created_at);
    CREATE INDEX messages_by_created ON messages (created_at);
    CREATE INDEX messages_by_kind ON messages (kind, created_at);
    CREATE INDEX messages_by_direction ON messages (direction, valid);
    CREATE INDEX messages_results ON messages (session, acked_at)
        WHERE direction = 'out' AND kind = 'result';
    CREATE INDEX messages_awaiting ON messages (created_at)
        WHERE direction = 'out' AND requires_ack = 1 AND acked_at IS NULL;
    CREATE INDEX acks_by_created ON acks (created_at);
    CREATE INDEX acks_by_status ON acks (status, created_at);
    CREATE INDEX wraps_by_session ON wraps (session, created_at);
    CREATE INDEX wraps_by_created ON wraps (created_at);
    CREATE INDEX payloads_tokens ON payloads (session, tokens);
    CREATE INDEX payloads_first ON payloads (id) WHERE part = 1;
    CREATE INDEX replies_tokens ON replies (session, tokens);
    CREATE INDEX events_wrap_reason ON events (json_extract(data, '$.reason'))
        WHERE kind = 'session.wrapped';
    CREATE INDEX todos_by_done ON todos (status, done_at);
    -- The monitor's "latest event of a kind" in a session, and the payloads whose parts
    -- `stats` adds up.
    CREATE INDEX events_by_session_kind ON events (session, kind);
    CREATE INDEX payloads_with_parts ON payloads (id) WHERE part = 1 AND part_tokens IS NOT NULL;
    "#,
    // 10: sharing a hub through git (`coagent sync`). ACKs, DONEs and events are numbered
    // by each hub on its own, so a record from another hub keeps that hub's id for it
    // (`uid`; a record of this hub is `<node>-<id>`, never stored). A TODO's latest change
    // carries a hybrid logical clock stamp (`hlc`), which decides a TODO changed on two
    // hubs. `files` lists the transcripts exported; `sync_dirty` the (kind, month) files
    // whose records changed since the last export, kept by triggers `coagent sync` adds.
    r#"
    ALTER TABLE acks ADD COLUMN uid TEXT;
    CREATE UNIQUE INDEX acks_by_uid ON acks (uid) WHERE uid IS NOT NULL;
    ALTER TABLE dones ADD COLUMN uid TEXT;
    CREATE UNIQUE INDEX dones_by_uid ON dones (uid) WHERE uid IS NOT NULL;
    ALTER TABLE events ADD COLUMN uid TEXT;
    CREATE UNIQUE INDEX events_by_uid ON events (uid) WHERE uid IS NOT NULL;
    CREATE INDEX events_by_at ON events (at);
    CREATE INDEX replies_by_created ON replies (created_at);
    CREATE INDEX payloads_by_created ON payloads (created_at);
    CREATE INDEX dones_by_created ON dones (created_at);
    CREATE INDEX runs_by_started ON runs (started_at);
    CREATE INDEX todos_by_created ON todos (created_at);
    ALTER TABLE todos ADD COLUMN hlc TEXT;
    CREATE TABLE files (
        path TEXT PRIMARY KEY,              -- relative to the hub: transcripts/<session>/<name>
        session TEXT,
        sha256 TEXT NOT NULL,
        at INTEGER NOT NULL
    );
    CREATE INDEX files_by_at ON files (at);
    CREATE TABLE sync_dirty (
        kind TEXT NOT NULL,
        month TEXT NOT NULL,                -- YYYY-MM (UTC)
        PRIMARY KEY (kind, month)
    ) WITHOUT ROWID;
    "#,
    // 11: the node of the hub that opened a session that came by sync (NULL: this hub), so
    // that only its own hub's monitor judges and wraps it.
    r#"
    ALTER TABLE sessions ADD COLUMN node TEXT;
    "#,
    // 12: drift lapses sync too (numbered like ACKs: `uid`, NULL for this hub's own), so
    // another machine's `status` shows a session's lapses; filed by month like the other
    // synced tables. (A hub that synced before sends the months it holds, and reads the
    // lapses others sent, at its next sync: `records::track` and the sync's import see a
    // kind that is new to them.)
    r#"
    ALTER TABLE drift ADD COLUMN uid TEXT;
    CREATE UNIQUE INDEX drift_by_uid ON drift (uid) WHERE uid IS NOT NULL;
    CREATE INDEX drift_by_time ON drift (created_at);
    "#,
];

pub struct Store {
    conn: Connection,
    /// The write-ahead log, synced by hand at the end of a [`Store::defer_sync`].
    wal: PathBuf,
    deferred: bool,
}

impl Drop for Store {
    fn drop(&mut self) {
        // A command that returned early still leaves its deferred commits durable.
        let _ = self.sync();
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating when `create`) the store and brings its schema up to date. A store
    /// that exists but is empty, is not a database, or is damaged is
    /// [`Error::StoreDamaged`]: it is never taken for a new, empty hub.
    pub fn open(path: &Path, create: bool) -> Result<Store> {
        if !create && std::fs::metadata(path).is_ok_and(|m| m.len() == 0) {
            return Err(Error::StoreDamaged {
                path: path.to_path_buf(),
                problem: "is empty (0 bytes): its records are lost or were never written"
                    .to_string(),
            });
        }
        Self::open_checked(path, create).map_err(|e| damaged(path, e))
    }

    fn open_checked(path: &Path, create: bool) -> Result<Store> {
        let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if create {
            flags |= OpenFlags::SQLITE_OPEN_CREATE;
        }
        let conn = Connection::open_with_flags(path, flags).map_err(|e| match e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::CannotOpen => {
                if path.exists() {
                    Error::ReadOnly {
                        path: path.to_path_buf(),
                    }
                } else {
                    Error::invalid(
                        format!("the hub's store {} is missing", path.display()),
                        Some(
                            "the hub is damaged; `coagent init` in an empty folder makes a new one"
                                .to_string(),
                        ),
                    )
                }
            }
            other => Error::from(other),
        })?;
        conn.busy_timeout(BUSY_WAIT)?;
        // journal_mode answers with a row, so it goes through query_row.
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::Internal(format!(
                "the store refused WAL mode ({mode})"
            )));
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let mut store = Store {
            conn,
            wal: PathBuf::from(wal),
            deferred: false,
        };
        store.migrate()?;
        Ok(store)
    }

    fn migrate(&mut self) -> Result<()> {
        let version: usize =
            self.conn
                .query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
        if version > MIGRATIONS.len() {
            return Err(Error::invalid(
                format!(
                    "this hub's store is at schema {version}, newer than this coagent knows ({})",
                    MIGRATIONS.len()
                ),
                Some("install a newer coagent".to_string()),
            ));
        }
        if version == MIGRATIONS.len() {
            return Ok(());
        }
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Exclusive)?;
        // Another process may have migrated while we waited for the lock.
        let version: usize =
            tx.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))? as usize;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
            tx.execute_batch(sql)?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?)
    }

    /// Read-only access for queries.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Runs `f` in an IMMEDIATE transaction: all of it is stored, or none of it.
    pub fn tx<T>(&mut self, f: impl FnOnce(&Transaction<'_>) -> Result<T>) -> Result<T> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Until [`Store::sync`], commits go to the write-ahead log without waiting for the
    /// disk (`synchronous=NORMAL`). A kill loses nothing (the log is in the system's
    /// cache); a power cut may lose these commits, never the files they point at (those
    /// are synced before their record is written) and never the store's consistency.
    pub fn defer_sync(&mut self) -> Result<()> {
        self.conn.execute_batch("PRAGMA synchronous = NORMAL")?;
        self.deferred = true;
        Ok(())
    }

    /// Makes every commit since [`Store::defer_sync`] durable with one sync of the log,
    /// and goes back to syncing each commit.
    pub fn sync(&mut self) -> Result<()> {
        if !self.deferred {
            return Ok(());
        }
        self.conn.execute_batch("PRAGMA synchronous = FULL")?;
        self.deferred = false;
        match crate::fsx::open_for_sync(&self.wal) {
            Ok(f) => f
                .sync_data()
                .map_err(|e| Error::io(format!("cannot sync {}", self.wal.display()), e)),
            // A checkpoint on close may have folded the log into the store already.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("cannot open {}", self.wal.display()), e)),
        }
    }

    /// Changes whenever another connection commits (SQLite's `PRAGMA data_version`): how
    /// `watch` notices other commands' writes without reading anything else.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
    }

    pub fn meta_get(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Increments a counter in `meta` and returns its new value (used to vary the seeded id
    /// source between commands, never to make ids).
    pub fn bump_counter(&mut self, key: &str) -> Result<u64> {
        self.tx(|tx| {
            let v: Option<String> = tx
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
                .optional()?;
            let n = v.and_then(|s| s.parse::<u64>().ok()).unwrap_or(0) + 1;
            tx.execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                rusqlite::params![key, n.to_string()],
            )?;
            Ok(n)
        })
    }
}

/// Which records a list shows: the newest `limit` (every one when `None`), made at or after
/// `since`. Lists read the newest rows of an index and stop, so a list costs the same in a
/// hub of ten sessions and one of a hundred thousand.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    pub limit: Option<usize>,
    pub since: Option<crate::clock::Millis>,
}

impl Window {
    /// The newest `n`.
    pub fn newest(n: usize) -> Window {
        Window {
            limit: Some(n),
            since: None,
        }
    }

    /// Every record.
    pub fn all() -> Window {
        Window::default()
    }

    /// The SQL `LIMIT`: one row more than shown, to tell whether more exist (-1: no limit).
    pub fn sql_limit(&self) -> i64 {
        self.limit.map_or(-1, |n| n as i64 + 1)
    }

    /// The SQL lower bound of the creation time.
    pub fn sql_since(&self) -> i64 {
        self.since.unwrap_or(i64::MIN)
    }
}

/// Hands each row of `stmt` (queried with a `LIMIT` of [`Window::sql_limit`]) to `each`, one
/// at a time, and says whether rows were left beyond the window. Memory stays flat however
/// many rows there are.
pub fn stream<T>(
    stmt: &mut rusqlite::Statement<'_>,
    params: impl rusqlite::Params,
    window: Window,
    map: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    mut each: impl FnMut(T) -> Result<()>,
) -> Result<bool> {
    let mut rows = stmt.query(params)?;
    let mut n = 0usize;
    while let Some(r) = rows.next()? {
        if window.limit.is_some_and(|l| n >= l) {
            return Ok(true);
        }
        each(map(r)?)?;
        n += 1;
    }
    Ok(false)
}

/// A list command's query: [`filtered`] `select`, prepared on `conn` and [`stream`]ed
/// through `map` to `each`. True when rows were left beyond the window.
pub fn list<T>(
    conn: &Connection,
    select: &str,
    conds: &[(&str, Option<rusqlite::types::Value>)],
    order: &str,
    window: Window,
    map: impl Fn(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    each: impl FnMut(T) -> Result<()>,
) -> Result<bool> {
    let (sql, params) = filtered(select, conds, order, window);
    let mut stmt = conn.prepare_cached(&sql)?;
    stream(
        &mut stmt,
        rusqlite::params_from_iter(params),
        window,
        map,
        each,
    )
}

/// `<select> WHERE <the conditions given a value> ORDER BY <order> LIMIT ?`, with its
/// parameters. Only the filters a user gave reach SQL, so the planner picks the index that
/// serves them (a `?1 IS NULL OR …` condition would hide every index from it).
pub fn filtered(
    select: &str,
    conds: &[(&str, Option<rusqlite::types::Value>)],
    order: &str,
    window: Window,
) -> (String, Vec<rusqlite::types::Value>) {
    let mut sql = select.to_string();
    let mut params = Vec::new();
    // A select with conditions of its own (a partial index's) gets the filters after them;
    // a sub-query's WHERE, in parentheses, is not the select's.
    let mut joined = top_level_where(select);
    for (cond, value) in conds {
        if let Some(v) = value {
            sql.push_str(if joined { " AND " } else { " WHERE " });
            joined = true;
            sql.push_str(cond);
            params.push(v.clone());
        }
    }
    sql.push_str(&format!(" ORDER BY {order} LIMIT ?"));
    params.push(rusqlite::types::Value::Integer(window.sql_limit()));
    (sql, params)
}

fn top_level_where(sql: &str) -> bool {
    let mut depth = 0i32;
    let b = sql.as_bytes();
    for (i, c) in b.iter().enumerate() {
        match c {
            b'(' => depth += 1,
            b')' => depth -= 1,
            _ if depth == 0 && sql[i..].starts_with(" WHERE ") => return true,
            _ => {}
        }
    }
    false
}

/// A text filter's SQL value.
pub fn text(v: Option<&str>) -> Option<rusqlite::types::Value> {
    v.map(|s| rusqlite::types::Value::Text(s.to_string()))
}

/// A time filter's SQL value (the window's `since`).
pub fn since(window: Window) -> Option<rusqlite::types::Value> {
    window.since.map(rusqlite::types::Value::Integer)
}

/// SQLite's word that the file is not a database, or a damaged one, as a user error that
/// names `coagent doctor`.
fn damaged(path: &Path, e: Error) -> Error {
    match e {
        Error::StoreDamaged { problem, .. } => Error::StoreDamaged {
            path: path.to_path_buf(),
            problem,
        },
        e => e,
    }
}

/// Records an event inside a transaction. `data` is a JSON object; it never holds secrets.
pub fn event(
    tx: &Transaction<'_>,
    at: i64,
    session: Option<&str>,
    kind: &str,
    data: &serde_json::Value,
) -> Result<()> {
    tx.execute(
        "INSERT INTO events (at, session, kind, data) VALUES (?1, ?2, ?3, ?4)",
        rusqlite::params![at, session, kind, data.to_string()],
    )?;
    Ok(())
}

/// Finds the one id of `table` that starts with `typed` (already normalised).
/// The id of `kind` in `table` that `typed` names: the whole id or a unique prefix, in any
/// case, with or without its kind prefix (`9edm` for `DO-9EDM…`). Errors name the id as
/// typed; an unknown one comes with the known ids it is closest to, if any is close.
pub fn resolve_id(conn: &Connection, table: &str, kind: Kind, typed: &str) -> Result<String> {
    let wanted = id::normalize_as(kind, typed);
    let sql = format!("SELECT id FROM {table} WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT 6");
    let upper = format!("{wanted}\u{10FFFF}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let ids: Vec<String> = stmt
        .query_map(rusqlite::params![wanted, upper], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if ids.contains(&wanted) {
        return Ok(wanted);
    }
    match ids.len() {
        0 => Err(Error::NotFound {
            kind: kind.noun(),
            id: typed.trim().to_string(),
            near: near_ids(conn, table, &wanted)?,
        }),
        1 => Ok(ids.into_iter().next().unwrap_or_default()),
        _ => Err(Error::Ambiguous {
            kind: kind.noun(),
            id: typed.trim().to_string(),
            candidates: ids,
        }),
    }
}

/// Most ids looked at for "did you mean" (the newest): an unknown id in a huge hub costs
/// a bounded scan.
const NEAR_SCAN: i64 = 200_000;

/// Up to three known ids within one edit of `wanted` (two for a longer one), closest and
/// newest first. Nothing for an id of one or two characters: everything is near it.
fn near_ids(conn: &Connection, table: &str, wanted: &str) -> Result<Vec<String>> {
    let typed_len = wanted.split_once('-').map_or(0, |(_, r)| r.chars().count());
    if typed_len < 3 {
        return Ok(Vec::new());
    }
    let max = if typed_len <= 5 { 1 } else { 2 };
    let sql = format!("SELECT id FROM {table} ORDER BY rowid DESC LIMIT {NEAR_SCAN}");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut near: Vec<(usize, String)> = Vec::new();
    for id in stmt.query_map([], |r| r.get::<_, String>(0))? {
        let id = id?;
        let d = id::distance(wanted, &id);
        if d <= max {
            near.push((d, id));
        }
    }
    // Stable: equal distances keep the newest first.
    near.sort_by_key(|(d, _)| *d);
    Ok(near.into_iter().take(3).map(|(_, id)| id).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_run_once_and_store_is_wal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("store.db");
        let s = Store::open(&p, true).expect("open");
        assert_eq!(s.schema_version().expect("v"), MIGRATIONS.len() as i64);
        drop(s);
        let s = Store::open(&p, false).expect("reopen");
        let mode: String = s
            .conn()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("mode");
        assert_eq!(mode, "wal");
    }

    /// Issue 15: `stats` took 625 s on a hub of 100,000 sessions (a correlated sub-query
    /// per session, no index on the `session` columns). A hub made before the fix gains the
    /// indexes when it is opened, and each session's first succeeded run is filled in.
    #[test]
    fn an_existing_hub_gains_the_scale_indexes_and_its_first_done_times() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("store.db");
        {
            let c = Connection::open(&p).expect("open");
            for (i, sql) in MIGRATIONS.iter().take(6).enumerate() {
                c.execute_batch(sql).expect("old migration");
                c.pragma_update(None, "user_version", (i + 1) as i64)
                    .expect("version");
            }
            c.execute_batch(
                "INSERT INTO sessions (id, vendor, state, capsule_version, capsule_sha256, created_at)
                   VALUES ('S-1', 'claude', 'live', '1.0', 'x', 1000);
                 INSERT INTO dos (id, session, title, lang, script, sha256, state, proposed_at)
                   VALUES ('DO-1', 'S-1', 't', 'bash', 'true', 'h', 'succeeded', 2000);
                 INSERT INTO runs (id, do_id, status, started_at, ended_at)
                   VALUES ('R-1', 'DO-1', 'failed', 2000, 3000), ('R-2', 'DO-1', 'succeeded', 4000, 5000);",
            )
            .expect("old records");
        }
        let mut s = Store::open(&p, false).expect("migrate");
        let first: Option<i64> = s
            .conn()
            .query_row(
                "SELECT first_done_at FROM sessions WHERE id = 'S-1'",
                [],
                |r| r.get(0),
            )
            .expect("first");
        assert_eq!(first, Some(5000), "the end of the first succeeded run");
        for index in [
            "dos_by_proposed",
            "wraps_by_session",
            "messages_results",
            "runs_succeeded",
        ] {
            let n: i64 = s
                .conn()
                .query_row(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = ?1",
                    [index],
                    |r| r.get(0),
                )
                .expect("index");
            assert_eq!(n, 1, "{index}");
        }
        s.tx(|tx| {
            tx.execute(
                "INSERT INTO runs (id, do_id, status, started_at) VALUES ('R-0', 'DO-1', 'running', 100)",
                [],
            )?;
            tx.execute("UPDATE runs SET status = 'succeeded', ended_at = 200 WHERE id = 'R-0'", [])?;
            Ok(())
        })
        .expect("a run ends");
        let first: Option<i64> = s
            .conn()
            .query_row(
                "SELECT first_done_at FROM sessions WHERE id = 'S-1'",
                [],
                |r| r.get(0),
            )
            .expect("first");
        assert_eq!(first, Some(200), "kept by the trigger as runs end");
    }

    #[test]
    fn filters_follow_the_select_s_own_conditions_not_a_sub_query_s() {
        let w = Window::newest(5);
        let (sql, _) = filtered(
            "SELECT (SELECT x FROM m WHERE k = 1) FROM t",
            &[("a = ?", text(Some("v")))],
            "a",
            w,
        );
        assert!(sql.contains("FROM t WHERE a = ?"), "{sql}");
        let (sql, _) = filtered(
            "SELECT x FROM t WHERE b = 1",
            &[("a = ?", text(Some("v")))],
            "a",
            w,
        );
        assert!(sql.contains("WHERE b = 1 AND a = ?"), "{sql}");
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("store.db");
        let s = Store::open(&p, true).expect("open");
        s.conn()
            .pragma_update(None, "user_version", 99)
            .expect("set");
        drop(s);
        let err = Store::open(&p, false).expect_err("must refuse");
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[test]
    fn prefixes_resolve_uniquely() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut s = Store::open(&dir.path().join("store.db"), true).expect("open");
        s.tx(|tx| {
            for id in ["T-AAA1", "T-AAB2", "T-BBB3"] {
                tx.execute(
                    "INSERT INTO todos (id, title, status, rank, created_at) VALUES (?1, 'x', 'open', 0, 0)",
                    [id],
                )?;
            }
            Ok(())
        })
        .expect("insert");
        let t = |typed: &str| resolve_id(s.conn(), "todos", Kind::Todo, typed);
        assert_eq!(t("T-B").expect("one"), "T-BBB3");
        assert_eq!(t("bbb").expect("bare"), "T-BBB3");
        assert!(matches!(t("T-AA"), Err(Error::Ambiguous { .. })));
        assert!(matches!(t("T-Z"), Err(Error::NotFound { .. })));
        match t("t-bob3") {
            Err(Error::NotFound { id, near, .. }) => {
                assert_eq!(id, "t-bob3", "the id as typed");
                assert_eq!(near, ["T-BBB3"]);
            }
            other => panic!("{other:?}"),
        }
        match t("T-ZZZZ") {
            Err(Error::NotFound { near, .. }) => assert!(near.is_empty()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn two_writers_never_lose_an_update() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("store.db");
        drop(Store::open(&p, true).expect("create"));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let p = p.clone();
                std::thread::spawn(move || {
                    let mut s = Store::open(&p, false).expect("open");
                    for _ in 0..50 {
                        s.bump_counter("n").expect("bump");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("join");
        }
        let s = Store::open(&p, false).expect("open");
        assert_eq!(s.meta_get("n").expect("get").as_deref(), Some("200"));
    }

    #[test]
    fn deferred_commits_are_kept_and_syncing_returns_to_full() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("store.db");
        let mut s = Store::open(&p, true).expect("open");
        let sync = |s: &Store| -> i64 {
            s.conn()
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .expect("pragma")
        };
        assert_eq!(sync(&s), 2, "FULL by default");
        s.defer_sync().expect("defer");
        assert_eq!(sync(&s), 1, "NORMAL while deferred");
        s.tx(|tx| {
            tx.execute("INSERT INTO meta (key, value) VALUES ('k', 'v')", [])?;
            Ok(())
        })
        .expect("insert");
        s.sync().expect("sync");
        assert_eq!(sync(&s), 2, "FULL again after the sync");
        s.defer_sync().expect("defer again");
        s.tx(|tx| {
            tx.execute("INSERT INTO meta (key, value) VALUES ('k2', 'v2')", [])?;
            Ok(())
        })
        .expect("insert");
        drop(s);
        let s = Store::open(&p, false).expect("reopen");
        assert_eq!(s.meta_get("k").expect("get").as_deref(), Some("v"));
        assert_eq!(s.meta_get("k2").expect("get").as_deref(), Some("v2"));
    }
}
