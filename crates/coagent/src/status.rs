//! Where things stand: the hub, its capsule, the sessions (open ones first) with their
//! vendor, capsule version, echo, and every bloat signal against its threshold.
//! [`check`] is what every command runs: it assesses the open sessions, records a first
//! breach, and keeps `temps/status/` current.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::bloat::{self, Assessment, Level, Signal};
use crate::capsule::{self, CapsuleState};
use crate::hub::Hub;
use crate::session::{self, Session};
use crate::turns::{self, Book};
use crate::{Result, ticker, vendor};

#[derive(Debug, Clone, Serialize)]
pub struct SessionStatus {
    #[serde(flatten)]
    pub session: Session,
    pub level: Level,
    pub signals: Vec<Signal>,
    pub wrap_in: Option<u64>,
    /// An open session that booted with an older capsule than the one in force
    /// (`capsule_current`): the chat follows rules that were since changed. The way out is
    /// a wrap: the respawn boots with the capsule in force.
    pub capsule_outdated: bool,
    /// The capsule version in force (`capsule.lock`); empty when it cannot be read.
    pub capsule_current: String,
    /// An open session's tokens per turn (by `status`, not by every command's check).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Book>,
    /// The chat's latest lapses from the capsule (turn, kind, excerpt), oldest first;
    /// listed by `status` for open sessions.
    pub drift: Vec<crate::drift::DriftEvent>,
    /// A breach whose wrap waits for the chat's answer to a result on its way (see
    /// [`bloat::waits`]); set by every check, and kept for the prompt's ticker.
    pub wrap_waits: bool,
}

/// How many drift events `status` lists per session.
pub const DRIFT_LISTED: usize = 10;

/// The capsule in force, as the status compares sessions with it.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct InForce {
    pub version: String,
    pub sha256: String,
}

impl InForce {
    pub fn read(hub: &Hub) -> Option<InForce> {
        capsule::read_lock(&hub.dir).ok().map(|l| InForce {
            version: l.version,
            sha256: l.sha256,
        })
    }

    /// Whether open session `s` booted with an older capsule than this one. A session on
    /// a newer one (a respawn from a wrap made under a later capsule) is not outdated.
    pub fn outdates(&self, s: &Session) -> bool {
        if !s.is_open() || self.version.is_empty() || s.capsule_sha256 == self.sha256 {
            return false;
        }
        match (
            semver::Version::parse(&self.version),
            semver::Version::parse(&s.capsule_version),
        ) {
            (Ok(now), Ok(then)) => now > then,
            _ => self.version != s.capsule_version,
        }
    }
}

/// A session's status from its assessment, compared with the capsule in force.
pub fn session_status(s: Session, a: Assessment, in_force: Option<&InForce>) -> SessionStatus {
    SessionStatus {
        wrap_in: a.wrap_in(),
        level: a.level,
        signals: a.signals,
        capsule_outdated: in_force.is_some_and(|c| c.outdates(&s)),
        capsule_current: in_force.map(|c| c.version.clone()).unwrap_or_default(),
        tokens: None,
        drift: Vec::new(),
        wrap_waits: false,
        session: s,
    }
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
    let in_force = InForce::read(hub);
    let mut out = Vec::new();
    let mut basis = Vec::new();
    let mut results_in_flight = Vec::new();
    for s in session::open(hub)? {
        let v = vendor::find(&cfg, &s.vendor)?;
        let facts = bloat::facts(hub, &s, &v)?;
        let a: Assessment = bloat::assess(&facts, &cfg.bloat, now);
        let mut s = s;
        // Kept for the prompt's ticker, whose level may turn FAIL by the clock alone.
        let in_flight = bloat::result_in_flight(hub, &s.id)?;
        let waits = in_flight && bloat::waits(&a.signals);
        // Another machine's chat is that machine's monitor's to judge.
        if a.level == Level::Fail
            && !s.elsewhere
            && s.breach_at.is_none()
            && !waits
            && bloat::record_breach(hub, &s.id, &a)?
        {
            s.breach_at = Some(now);
            s.breach_signal = a.breached().first().map(|x| x.name.to_string());
        }
        if in_flight {
            results_in_flight.push(s.id.clone());
        }
        basis.push((s.clone(), facts));
        let mut st = session_status(s, a, in_force.as_ref());
        st.wrap_waits = waits;
        out.push(st);
    }
    sort(&mut out);
    ticker::write_status_files(
        hub,
        out.first(),
        &ticker::Basis {
            sessions: basis,
            thresholds: cfg.bloat,
            capsule: in_force,
            results_in_flight,
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
    let mut open = check(hub)?;
    for s in &mut open {
        s.tokens = Some(turns::book(hub, &s.session.id)?);
        s.drift = crate::drift::events(hub, &s.session.id, DRIFT_LISTED)?;
    }
    let capsule = capsule::state(&hub.dir)?;
    let mut sessions = open.clone();
    for s in session::recent(hub, recent)? {
        if !s.is_open() && sessions.len() < recent.max(open.len()) {
            sessions.push(SessionStatus {
                level: Level::Idle,
                signals: Vec::new(),
                wrap_in: None,
                capsule_outdated: false,
                capsule_current: capsule.version.clone(),
                tokens: None,
                drift: Vec::new(),
                wrap_waits: false,
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
