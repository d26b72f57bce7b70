//! TODOs: the hub's items of work. A handoff carries the open ones, top 3 first; the
//! order is the rank (lowest first), so `todo add --top` puts an item ahead of the rest.
//!
//! A TODO is *open*, *in progress* or *done*. "In progress" is derived, never stored: an
//! open TODO with at least one DO linked to it (the DO's `# TODO: T-…` line) that was
//! approved or has run. A TODO is closed by the human (`todo done`, closed by `human`) or
//! by a chat's `DONE T-… <ref>…` line, judged here like an ACK: its refs must be artifacts
//! of the TODO's own DOs, commits in the project's git, or paths inside the project. A
//! closed TODO keeps who closed it and with which refs; `todo reopen` opens it again.

use coagent_ingest::{AckRef, DoneLine};
use rusqlite::{OptionalExtension, Transaction, params};
use serde::Serialize;

use crate::backchat::{TodoItem, TodoStatus};
use crate::clock::Millis;
use crate::hub::Hub;
use crate::id::{self, Kind};
use crate::{Error, Result, ack, hlc, store};

/// Who closed a TODO by hand.
pub const HUMAN: &str = "human";

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum TodoState {
    Open,
    InProgress,
    Done,
}

impl TodoState {
    pub fn as_str(self) -> &'static str {
        match self {
            TodoState::Open => "open",
            TodoState::InProgress => "in progress",
            TodoState::Done => "done",
        }
    }
}

/// A DO linked to a TODO.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct TodoDo {
    pub id: String,
    pub state: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Todo {
    pub id: String,
    pub title: String,
    pub acceptance: String,
    /// As stored: `open` or `done`.
    pub status: String,
    pub rank: i64,
    pub created_at: i64,
    pub done_at: Option<i64>,
    /// Derived: `open`, `in_progress` or `done`.
    pub state: TodoState,
    /// The DOs that serve it, oldest first.
    pub dos: Vec<TodoDo>,
    /// A session id, or `human`.
    pub closed_by: Option<String>,
    /// The refs it was closed with.
    pub refs: Vec<String>,
}

impl Todo {
    pub fn item(&self) -> TodoItem {
        TodoItem {
            id: self.id.clone(),
            title: self.title.clone(),
            acceptance: self.acceptance.clone(),
            status: if self.status == "done" {
                TodoStatus::Done
            } else {
                TodoStatus::Open
            },
        }
    }

    fn derive_state(&mut self) {
        self.state = if self.status == "done" {
            TodoState::Done
        } else if self.dos.iter().any(|d| d.state != "proposed") {
            TodoState::InProgress
        } else {
            TodoState::Open
        };
    }
}

pub fn add(hub: &mut Hub, title: &str, acceptance: &str, top: bool) -> Result<Todo> {
    let title = title.trim();
    if title.is_empty() {
        return Err(Error::invalid(
            "a TODO needs a title",
            Some("coagent todo add \"Write the parser tests\"".to_string()),
        ));
    }
    if title.chars().count() > 500 {
        return Err(Error::invalid(
            "a TODO title is at most 500 characters",
            Some("put the details in --acceptance, or split it".to_string()),
        ));
    }
    let id = hub.new_id(Kind::Todo);
    let now = hub.now_ms();
    hub.store.tx(|tx| {
        let rank: i64 = if top {
            tx.query_row("SELECT COALESCE(MIN(rank), 1) - 1 FROM todos", [], |r| r.get(0))?
        } else {
            tx.query_row("SELECT COALESCE(MAX(rank), 0) + 1 FROM todos", [], |r| r.get(0))?
        };
        tx.execute(
            "INSERT INTO todos (id, title, acceptance, status, rank, created_at, hlc) VALUES (?1, ?2, ?3, 'open', ?4, ?5, ?6)",
            params![id, title, acceptance.trim(), rank, now, hlc::tick(tx, now)?],
        )?;
        store::event(tx, now, None, "todo.added", &serde_json::json!({"id": id}))?;
        Ok(())
    })?;
    get(hub, &id)
}

const COLS: &str =
    "id, title, acceptance, status, rank, created_at, done_at, closed_by, closed_refs";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Todo> {
    let refs: Option<String> = r.get(8)?;
    Ok(Todo {
        id: r.get(0)?,
        title: r.get(1)?,
        acceptance: r.get(2)?,
        status: r.get(3)?,
        rank: r.get(4)?,
        created_at: r.get(5)?,
        done_at: r.get(6)?,
        state: TodoState::Open,
        dos: Vec::new(),
        closed_by: r.get(7)?,
        refs: refs
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default(),
    })
}

/// Fills in each TODO's DOs and derived state (one indexed look-up per TODO).
fn with_dos(hub: &Hub, mut todos: Vec<Todo>) -> Result<Vec<Todo>> {
    let mut stmt = hub
        .store
        .conn()
        .prepare_cached("SELECT id, state FROM dos WHERE todo_id = ?1 ORDER BY proposed_at, id")?;
    for t in &mut todos {
        t.dos = stmt
            .query_map([&t.id], |r| {
                Ok(TodoDo {
                    id: r.get(0)?,
                    state: r.get(1)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        t.derive_state();
    }
    Ok(todos)
}

fn query(hub: &Hub, sql: &str, p: impl rusqlite::Params) -> Result<Vec<Todo>> {
    let mut stmt = hub.store.conn().prepare(sql)?;
    let rows = stmt
        .query_map(p, row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    with_dos(hub, rows)
}

/// Open TODOs in rank order, then (with `all`) the done ones, newest first.
pub fn list(hub: &Hub, all: bool) -> Result<Vec<Todo>> {
    let sql = if all {
        format!(
            "SELECT {COLS} FROM todos ORDER BY status = 'done', CASE WHEN status = 'done' THEN -done_at ELSE rank END, created_at, id"
        )
    } else {
        format!("SELECT {COLS} FROM todos WHERE status = 'open' ORDER BY rank, created_at, id")
    };
    query(hub, &sql, [])
}

/// Which TODOs `todo list` shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Done ones too.
    pub all: bool,
    /// `open`, `in_progress` or `done`.
    pub state: Option<String>,
    /// At most `limit` in all; open ones added, done ones closed, at or after `since`.
    pub window: store::Window,
}

/// What `todo list` shows: open TODOs in handoff order, then (with `all` or the `done`
/// state) the newest done ones, at most the window's limit in all; and whether more matched.
pub fn listed(hub: &Hub, f: &Filter) -> Result<(Vec<Todo>, bool)> {
    let state = f.state.as_deref();
    if let Some(s) = state
        && !matches!(s, "open" | "in_progress" | "done")
    {
        return Err(Error::invalid(
            format!("`{s}` is not a TODO state"),
            Some("open, in_progress or done".to_string()),
        ));
    }
    let limit = f.window.sql_limit();
    let since = f.window.sql_since();
    let mut out = Vec::new();
    if state != Some("done") {
        let open = query(
            hub,
            &format!(
                "SELECT {COLS} FROM todos WHERE status = 'open' AND created_at >= ?1 ORDER BY rank, created_at, id"
            ),
            params![since],
        )?;
        out.extend(open.into_iter().filter(|t| match state {
            Some("open") => t.state == TodoState::Open,
            Some("in_progress") => t.state == TodoState::InProgress,
            _ => true,
        }));
    }
    if f.all || state == Some("done") {
        let room = if limit < 0 {
            -1
        } else {
            (limit - out.len() as i64).max(0)
        };
        out.extend(query(
            hub,
            &format!("SELECT {COLS} FROM todos WHERE status = 'done' AND done_at >= ?1 ORDER BY done_at DESC, id LIMIT ?2"),
            params![since, room],
        )?);
    }
    let more = f.window.limit.is_some_and(|l| out.len() > l);
    if let Some(l) = f.window.limit {
        out.truncate(l);
    }
    Ok((out, more))
}

/// Done TODOs closed at or after `since`, newest first, at most `limit`.
pub fn done_since(hub: &Hub, since: Millis, limit: usize) -> Result<Vec<Todo>> {
    query(
        hub,
        &format!(
            "SELECT {COLS} FROM todos WHERE status = 'done' AND done_at >= ?1 ORDER BY done_at DESC, id LIMIT ?2"
        ),
        params![since, limit as i64],
    )
}

pub fn get(hub: &Hub, id: &str) -> Result<Todo> {
    let t = hub
        .store
        .conn()
        .query_row(
            &format!("SELECT {COLS} FROM todos WHERE id = ?1"),
            [id],
            row,
        )
        .optional()?
        .ok_or_else(|| Error::NotFound {
            kind: "todo",
            id: id.to_string(),
            near: Vec::new(),
        })?;
    Ok(with_dos(hub, vec![t])?.remove(0))
}

/// The id of the TODO `typed` names exactly (as a chat writes it), if there is one.
pub fn known(hub: &Hub, typed: &str) -> Result<Option<String>> {
    let id = id::normalize(typed);
    Ok(hub
        .store
        .conn()
        .query_row("SELECT id FROM todos WHERE id = ?1", [&id], |r| r.get(0))
        .optional()?)
}

/// The human marks a TODO done (closed by `human`). Done already: left as it was.
pub fn done(hub: &mut Hub, typed: &str) -> Result<Todo> {
    let id = store::resolve_id(hub.store.conn(), "todos", Kind::Todo, typed)?;
    let now = hub.now_ms();
    hub.store
        .tx(|tx| close(tx, &id, HUMAN, &[], now).map(|_| ()))?;
    get(hub, &id)
}

/// Changes a TODO's title or what "done" means for it.
pub fn edit(
    hub: &mut Hub,
    typed: &str,
    title: Option<&str>,
    acceptance: Option<&str>,
) -> Result<Todo> {
    let id = store::resolve_id(hub.store.conn(), "todos", Kind::Todo, typed)?;
    let title = title.map(str::trim);
    if title.is_some_and(|t| t.is_empty() || t.chars().count() > 500) {
        return Err(Error::invalid(
            "a TODO title is 1 to 500 characters",
            Some("put the details in --acceptance".to_string()),
        ));
    }
    if title.is_none() && acceptance.is_none() {
        return Err(Error::invalid(
            "nothing to change",
            Some("coagent todo edit T-… --title \"…\" and/or --acceptance \"…\"".to_string()),
        ));
    }
    let now = hub.now_ms();
    hub.store.tx(|tx| {
        tx.execute(
            "UPDATE todos SET title = COALESCE(?2, title), acceptance = COALESCE(?3, acceptance), hlc = ?4 WHERE id = ?1",
            params![&id, title, acceptance.map(str::trim), hlc::tick(tx, now)?],
        )?;
        store::event(tx, now, None, "todo.edited", &serde_json::json!({"id": id}))
    })?;
    get(hub, &id)
}

/// Moves an open TODO one place up (`up`) or down in the handoff order (the open TODOs by
/// rank), past its neighbour; at the top (or the bottom) it stays where it is.
pub fn shift(hub: &mut Hub, typed: &str, up: bool) -> Result<Todo> {
    let id = store::resolve_id(hub.store.conn(), "todos", Kind::Todo, typed)?;
    let open = list(hub, false)?;
    let Some(i) = open.iter().position(|t| t.id == id) else {
        return Err(Error::invalid(
            format!("{id} is done: only open TODOs have a place in the handoff"),
            Some(format!("reopen it first: coagent todo reopen {id}")),
        ));
    };
    let j = if up {
        i.checked_sub(1)
    } else {
        Some(i + 1).filter(|&j| j < open.len())
    };
    let Some(j) = j else {
        return get(hub, &id);
    };
    let (me, other) = (&open[i], &open[j]);
    // Ranks are distinct as `add` makes them; records merged from another machine may tie.
    let mine = if me.rank == other.rank {
        other.rank + if up { -1 } else { 1 }
    } else {
        other.rank
    };
    let now = hub.now_ms();
    hub.store.tx(|tx| {
        let h = hlc::tick(tx, now)?;
        tx.execute(
            "UPDATE todos SET rank = ?2, hlc = ?3 WHERE id = ?1",
            params![&me.id, mine, &h],
        )?;
        tx.execute(
            "UPDATE todos SET rank = ?2, hlc = ?3 WHERE id = ?1",
            params![&other.id, me.rank, &h],
        )?;
        store::event(
            tx,
            now,
            None,
            "todo.moved",
            &serde_json::json!({"id": me.id, "up": up}),
        )
    })?;
    get(hub, &id)
}

/// Opens a done TODO again: it forgets who closed it and with which refs (the DONE lines
/// and events keep the history).
pub fn reopen(hub: &mut Hub, typed: &str) -> Result<Todo> {
    let id = store::resolve_id(hub.store.conn(), "todos", Kind::Todo, typed)?;
    let now = hub.now_ms();
    hub.store.tx(|tx| {
        let n = tx.execute(
            "UPDATE todos SET status = 'open', done_at = NULL, closed_by = NULL, closed_refs = NULL, hlc = ?2 WHERE id = ?1 AND status = 'done'",
            params![&id, hlc::tick(tx, now)?],
        )?;
        if n > 0 {
            store::event(tx, now, None, "todo.reopened", &serde_json::json!({"id": id}))?;
        }
        Ok(())
    })?;
    get(hub, &id)
}

/// Closes an open TODO; returns whether it was open. A done one is left as it was.
pub fn close(
    tx: &Transaction<'_>,
    id: &str,
    by: &str,
    refs: &[String],
    now: Millis,
) -> Result<bool> {
    let n = tx.execute(
        "UPDATE todos SET status = 'done', done_at = ?2, closed_by = ?3, closed_refs = ?4, hlc = ?5 WHERE id = ?1 AND status != 'done'",
        params![id, now, by, serde_json::to_string(refs).unwrap_or_default(), hlc::tick(tx, now)?],
    )?;
    if n > 0 {
        store::event(
            tx,
            now,
            (by != HUMAN).then_some(by),
            "todo.done",
            &serde_json::json!({"id": id, "by": by, "refs": refs}),
        )?;
    }
    Ok(n > 0)
}

/// A judged `DONE T-… <ref>…` line.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DoneResult {
    pub id: String,
    pub refs: Vec<String>,
    /// `accepted` or `rejected`.
    pub status: String,
    pub reason: String,
}

impl DoneResult {
    pub fn accepted(&self) -> bool {
        self.status == "accepted"
    }
}

/// Judges a chat's DONE line, like an ACK. Pure reads.
pub fn judge_done(hub: &Hub, d: &DoneLine) -> Result<DoneResult> {
    let refs: Vec<String> = d.refs.iter().map(AckRef::as_str).collect();
    let (id, reason) = match known(hub, &d.id)? {
        None => (
            d.id.clone(),
            Some(format!("unknown TODO {}: this hub has no such TODO", d.id)),
        ),
        Some(id) => {
            let r = done_problem(hub, &id, &d.refs)?;
            (id, r)
        }
    };
    Ok(DoneResult {
        id,
        refs,
        status: if reason.is_none() {
            "accepted"
        } else {
            "rejected"
        }
        .to_string(),
        reason: reason.unwrap_or_default(),
    })
}

fn done_problem(hub: &Hub, id: &str, refs: &[AckRef]) -> Result<Option<String>> {
    let status: String =
        hub.store
            .conn()
            .query_row("SELECT status FROM todos WHERE id = ?1", [id], |r| r.get(0))?;
    if status == "done" {
        return Ok(None); // the same news again
    }
    let cite = format!(
        "cite an artifact of one of {id}'s DOs (artifact:A-…), a commit (commit:<sha>) or a path in the project"
    );
    if refs.is_empty() {
        return Ok(Some(format!("a DONE needs refs: {cite}")));
    }
    let mut checked = 0;
    for r in refs {
        match r {
            AckRef::Pr { .. } | AckRef::PrFull { .. } | AckRef::Url { .. } => continue,
            AckRef::Artifact { id: a } => {
                if let Some(p) = ack::ref_problem(hub, r)? {
                    return Ok(Some(p));
                }
                let ours: i64 = hub.store.conn().query_row(
                    "SELECT COUNT(*) FROM artifacts a JOIN dos d ON d.id = a.do_id WHERE a.id = ?1 AND d.todo_id = ?2",
                    [a, id],
                    |r| r.get(0),
                )?;
                if ours == 0 {
                    return Ok(Some(format!(
                        "artifact:{a} is not an artifact of a DO of {id}"
                    )));
                }
            }
            AckRef::Commit { .. } | AckRef::Path { .. } => {
                if let Some(p) = ack::ref_problem(hub, r)? {
                    return Ok(Some(p));
                }
            }
        }
        checked += 1;
    }
    Ok(
        (checked == 0)
            .then(|| format!("PR and URL refs cannot be checked on this machine: {cite}")),
    )
}

/// Records a judged DONE line; an accepted one closes its TODO, closed by `session`.
pub fn record_done(
    tx: &Transaction<'_>,
    session: &str,
    reply: i64,
    d: &DoneResult,
    now: Millis,
) -> Result<()> {
    let refs = serde_json::to_string(&d.refs).unwrap_or_default();
    // The same line quoted again (a chat repeating itself) is one line.
    let seen: i64 = tx.query_row(
        "SELECT COUNT(*) FROM dones WHERE session = ?1 AND todo = ?2 AND refs = ?3 AND status = ?4",
        params![session, d.id, refs, d.status],
        |r| r.get(0),
    )?;
    if seen == 0 {
        tx.execute(
            "INSERT INTO dones (session, todo, refs, status, reason, reply, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![session, d.id, refs, d.status, d.reason, reply, now],
        )?;
    }
    if d.accepted() {
        close(tx, &d.id, session, &d.refs, now)?;
    }
    Ok(())
}
