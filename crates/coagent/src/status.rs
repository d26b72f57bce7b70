//! Where things stand: the hub, its capsule, the sessions (open ones first) with their
//! vendor, capsule version, echo, and every bloat signal against its threshold.
//! [`check`] is what every command runs: it assesses the open sessions, records a first
//! breach, and keeps `temps/status/` current.

use std::path::PathBuf;

use serde::Serialize;

use crate::bloat::{self, Assessment, Level, Signal};
use crate::capsule::{self, CapsuleState};
use crate::hub::Hub;
use crate::session::{self, Session};
use crate::{Result, ticker, vendor};

#[derive(Debug, Clone, Serialize)]
pub struct SessionStatus {
    #[serde(flatten)]
    pub session: Session,
    pub level: Level,
    pub signals: Vec<Signal>,
    pub wrap_in: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// The worst level over the open sessions; `IDLE` with none.
    pub level: Level,
    /// The session the level and signals belong to (the worst open one).
    pub session: Option<String>,
    pub signals: Vec<Signal>,
    pub hub: PathBuf,
    pub capsule: CapsuleState,
    pub sessions: Vec<SessionStatus>,
    pub sessions_total: i64,
    pub todos_open: i64,
    /// DOs of the open sessions whose last run was interrupted (its coagent died).
    pub interrupted: Vec<String>,
}

/// Assesses every open session; records first breaches; refreshes the status files.
pub fn check(hub: &mut Hub) -> Result<Vec<SessionStatus>> {
    let cfg = hub.config()?;
    let now = hub.now_ms();
    let mut out = Vec::new();
    let mut basis = Vec::new();
    for s in session::open(hub)? {
        let v = vendor::find(&cfg, &s.vendor)?;
        let facts = bloat::facts(hub, &s, &v)?;
        let a: Assessment = bloat::assess(&facts, &cfg.bloat, now);
        let mut s = s;
        if a.level == Level::Fail && s.breach_at.is_none() && bloat::record_breach(hub, &s.id, &a)?
        {
            s.breach_at = Some(now);
            s.breach_signal = a.breached().first().map(|x| x.name.to_string());
        }
        basis.push((s.clone(), facts));
        out.push(SessionStatus {
            wrap_in: a.wrap_in(),
            level: a.level,
            signals: a.signals,
            session: s,
        });
    }
    sort(&mut out);
    ticker::write_status_files(
        hub,
        out.first(),
        &ticker::Basis {
            sessions: basis,
            thresholds: cfg.bloat,
        },
    )?;
    Ok(out)
}

/// Worst first; among equals the newest.
pub fn sort(out: &mut [SessionStatus]) {
    out.sort_by(|a, b| {
        b.level
            .cmp(&a.level)
            .then(b.session.created_at.cmp(&a.session.created_at))
    });
}

pub fn status(hub: &mut Hub, recent: usize) -> Result<Status> {
    let open = check(hub)?;
    let capsule = capsule::state(&hub.dir)?;
    let mut sessions = open.clone();
    for s in session::recent(hub, recent)? {
        if !s.is_open() && sessions.len() < recent.max(open.len()) {
            sessions.push(SessionStatus {
                level: Level::Idle,
                signals: Vec::new(),
                wrap_in: None,
                session: s,
            });
        }
    }
    let todos_open: i64 = hub.store.conn().query_row(
        "SELECT COUNT(*) FROM todos WHERE status = 'open'",
        [],
        |r| r.get(0),
    )?;
    let mut interrupted = Vec::new();
    for s in &open {
        let mut stmt = hub.store.conn().prepare_cached(
            "SELECT id FROM dos WHERE session = ?1 AND state = 'interrupted' ORDER BY proposed_at, rowid",
        )?;
        for id in stmt.query_map([&s.session.id], |r| r.get::<_, String>(0))? {
            interrupted.push(id?);
        }
    }
    let first = open.first();
    Ok(Status {
        level: first.map_or(Level::Idle, |s| s.level),
        session: first.map(|s| s.session.id.clone()),
        signals: first.map(|s| s.signals.clone()).unwrap_or_default(),
        hub: hub.dir.clone(),
        capsule,
        sessions,
        sessions_total: session::count(hub)?,
        todos_open,
        interrupted,
    })
}
