//! Runs whose CoAgent died: a run recorded `running` whose owner process is gone (killed,
//! crashed, the machine restarted) will never end by itself. Any command that opens the
//! hub finds such runs ([`recover`]), kills what is left of their processes (found by the
//! run's mark, [`coagent_runner::kill_marked`]), and records them `interrupted`: a terminal
//! state like any other, shown by `do list`, `do show` and `status`, and sent to the chat
//! by `do result`. A DO whose last run was interrupted runs again without `--rerun`.

use coagent_runner::Owner;
use rusqlite::params;
use serde::Serialize;

use crate::hub::Hub;
use crate::{Result, store};

/// The run status (and DO state) of a run whose CoAgent died.
pub const INTERRUPTED: &str = "interrupted";

/// The mark a run's processes carry ([`coagent_runner::MARK_VAR`]): the run's id and its
/// owner, so that two hubs whose ids repeat (a seeded id source) never share one.
pub fn mark(run: &str, owner: &Owner) -> String {
    format!("{run}.{}.{}", owner.pid, owner.start)
}

/// One run found interrupted.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Interrupted {
    pub do_id: String,
    pub run: String,
    /// The pid of the CoAgent that started it.
    pub owner_pid: Option<i64>,
    /// Processes of the run that were still alive and were killed.
    pub killed: usize,
}

/// The running runs whose owner is gone, without changing anything.
pub fn find(hub: &Hub) -> Result<Vec<(String, String, Option<i64>)>> {
    Ok(dead_owners(hub)?
        .into_iter()
        .map(|(run, do_id, owner)| (run, do_id, owner.map(|o| o.pid as i64)))
        .collect())
}

/// The running runs whose owner is gone, with that owner when recorded.
fn dead_owners(hub: &Hub) -> Result<Vec<(String, String, Option<Owner>)>> {
    let mut stmt = hub.store.conn().prepare_cached(
        "SELECT id, do_id, owner_pid, owner_start FROM runs WHERE status = 'running' ORDER BY started_at",
    )?;
    let rows: Vec<(String, String, Option<i64>, Option<i64>)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(rows
        .into_iter()
        .filter(|(_, _, pid, start)| !owner_alive(*pid, *start))
        .map(|(run, do_id, pid, start)| {
            let owner = pid.filter(|p| *p > 0).map(|p| Owner {
                pid: p as u32,
                start: start.unwrap_or(0).max(0) as u64,
            });
            (run, do_id, owner)
        })
        .collect())
}

/// Marks every run whose owner is gone `interrupted` and kills what is left of it. Cheap
/// when there is none (one indexed query), so every command calls it.
pub fn recover(hub: &mut Hub) -> Result<Vec<Interrupted>> {
    let found = dead_owners(hub)?;
    let mut out = Vec::new();
    for (run, do_id, owner) in found {
        let killed = owner.map_or(0, |o| coagent_runner::kill_marked(&mark(&run, &o)));
        let owner_pid = owner.map(|o| o.pid as i64);
        let now = hub.now_ms();
        let marked = hub.store.tx(|tx| {
            // Checked again under the write lock: another command may have got there first.
            let n = tx.execute(
                "UPDATE runs SET status = ?2, ended_at = ?3, duration_ms = MAX(0, ?3 - started_at) WHERE id = ?1 AND status = 'running'",
                params![run, INTERRUPTED, now],
            )?;
            if n == 0 {
                return Ok(false);
            }
            tx.execute(
                "UPDATE dos SET state = ?2 WHERE id = ?1 AND state = 'running'",
                params![do_id, INTERRUPTED],
            )?;
            let session: Option<String> = tx
                .query_row("SELECT session FROM dos WHERE id = ?1", [&do_id], |r| r.get(0))
                .ok();
            store::event(
                tx,
                now,
                session.as_deref(),
                "do.interrupted",
                &serde_json::json!({"id": do_id, "run": run, "owner_pid": owner_pid, "killed": killed}),
            )?;
            Ok(true)
        })?;
        if marked {
            out.push(Interrupted {
                do_id,
                run,
                owner_pid,
                killed,
            });
        }
    }
    Ok(out)
}

/// A run recorded before owners were (schema 4) has none: its CoAgent is long gone.
fn owner_alive(pid: Option<i64>, start: Option<i64>) -> bool {
    match pid {
        Some(pid) if pid > 0 => Owner {
            pid: pid as u32,
            start: start.unwrap_or(0).max(0) as u64,
        }
        .is_alive(),
        _ => false,
    }
}
