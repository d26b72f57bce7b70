//! TODOs: the hub's open items of work. A handoff carries the open ones, top 3 first; the
//! order is the rank (lowest first), so `todo add --top` puts an item ahead of the rest.

use rusqlite::params;
use serde::Serialize;

use crate::backchat::{TodoItem, TodoStatus};
use crate::hub::Hub;
use crate::id::{self, Kind};
use crate::{Error, Result, store};

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Todo {
    pub id: String,
    pub title: String,
    pub acceptance: String,
    pub status: String,
    pub rank: i64,
    pub created_at: i64,
    pub done_at: Option<i64>,
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
            "INSERT INTO todos (id, title, acceptance, status, rank, created_at) VALUES (?1, ?2, ?3, 'open', ?4, ?5)",
            params![id, title, acceptance.trim(), rank, now],
        )?;
        store::event(tx, now, None, "todo.added", &serde_json::json!({"id": id}))?;
        Ok(Todo { id: id.clone(), title: title.to_string(), acceptance: acceptance.trim().to_string(), status: "open".into(), rank, created_at: now, done_at: None })
    })
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Todo> {
    Ok(Todo {
        id: r.get(0)?,
        title: r.get(1)?,
        acceptance: r.get(2)?,
        status: r.get(3)?,
        rank: r.get(4)?,
        created_at: r.get(5)?,
        done_at: r.get(6)?,
    })
}

/// Open TODOs in rank order, then (with `all`) the done ones, newest first.
pub fn list(hub: &Hub, all: bool) -> Result<Vec<Todo>> {
    let sql = if all {
        "SELECT id, title, acceptance, status, rank, created_at, done_at FROM todos ORDER BY status = 'done', CASE WHEN status = 'done' THEN -done_at ELSE rank END, created_at"
    } else {
        "SELECT id, title, acceptance, status, rank, created_at, done_at FROM todos WHERE status = 'open' ORDER BY rank, created_at"
    };
    let mut stmt = hub.store.conn().prepare(sql)?;
    let rows = stmt
        .query_map([], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub fn done(hub: &mut Hub, typed: &str) -> Result<Todo> {
    let id = store::resolve_id(hub.store.conn(), "todos", "todo", &id::normalize(typed))?;
    let now = hub.now_ms();
    hub.store.tx(|tx| {
        tx.execute("UPDATE todos SET status = 'done', done_at = COALESCE(done_at, ?2) WHERE id = ?1", params![id, now])?;
        store::event(tx, now, None, "todo.done", &serde_json::json!({"id": id}))?;
        Ok(tx.query_row(
            "SELECT id, title, acceptance, status, rank, created_at, done_at FROM todos WHERE id = ?1",
            [&id],
            row,
        )?)
    })
}
