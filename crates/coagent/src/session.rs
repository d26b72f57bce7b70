//! Sessions: one chat conversation with one vendor, `booting → live → wrapped` (or
//! `closed`: ended by the user, the work done or carried on elsewhere; or `abandoned`: the
//! chat given up). `start` opens one and sends its boot payload: the Policy Capsule, the BPOE
//! contract, the goal and the open TODOs, top 3 first (or a wrap's handoff, for a respawn),
//! and a one-line `handoff` BackchatMessage naming the session and its capsule (the
//! markdown above it says the rest, once). Each session records the capsule it booted with.

use std::path::PathBuf;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::backchat::{BackchatMessage, CapsuleRef, MessageKind, SchemaTag};
use crate::capsule::{self, Capsule};
use crate::clipboard::Clipboard;
use crate::clock::rfc3339;
use crate::hub::Hub;
use crate::id::Kind;
use crate::payload::{self, Outgoing, Sent};
use crate::template::Templates;
use crate::turns::Parts;
use crate::vendor::{self, Vendor};
use crate::{Error, Result, bpoe, store, todo};

/// How many open TODOs a handoff lists (the top 3 come first; the rest give context).
pub const HANDOFF_TODOS: usize = 12;
/// How many finished TODOs a boot handoff lists.
pub const HANDOFF_DONE: usize = 5;

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    pub vendor: String,
    pub goal: String,
    pub state: String,
    pub capsule_version: String,
    pub capsule_sha256: String,
    pub echo: String,
    pub created_at: i64,
    pub live_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub from_wrap: Option<String>,
    pub prev_session: Option<String>,
    pub last_activity_at: Option<i64>,
    pub breach_at: Option<i64>,
    pub breach_signal: Option<String>,
    /// Opened on another machine (it came by `coagent sync`): that machine's chat, which
    /// this hub's monitor leaves alone and commands take only when named.
    #[serde(skip)]
    pub elsewhere: bool,
}

impl Session {
    pub fn is_open(&self) -> bool {
        self.state == "booting" || self.state == "live"
    }
}

const COLS: &str = "id, vendor, goal, state, capsule_version, capsule_sha256, echo, created_at, live_at, closed_at, from_wrap, prev_session, last_activity_at, breach_at, breach_signal";

/// Read after [`COLS`]: whether the session was opened on another machine.
const ELSEWHERE: &str =
    "(node IS NOT NULL AND node IS NOT (SELECT value FROM meta WHERE key = 'node'))";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: r.get(0)?,
        vendor: r.get(1)?,
        goal: r.get(2)?,
        state: r.get(3)?,
        capsule_version: r.get(4)?,
        capsule_sha256: r.get(5)?,
        echo: r.get(6)?,
        created_at: r.get(7)?,
        live_at: r.get(8)?,
        closed_at: r.get(9)?,
        from_wrap: r.get(10)?,
        prev_session: r.get(11)?,
        last_activity_at: r.get(12)?,
        breach_at: r.get(13)?,
        breach_signal: r.get(14)?,
        elsewhere: r.get(15)?,
    })
}

pub fn get(hub: &Hub, typed: &str) -> Result<Session> {
    let id = store::resolve_id(hub.store.conn(), "sessions", Kind::Session, typed)?;
    Ok(hub.store.conn().query_row(
        &format!("SELECT {COLS}, {ELSEWHERE} FROM sessions WHERE id = ?1"),
        [id],
        row,
    )?)
}

/// Open sessions (booting or live), newest first.
pub fn open(hub: &Hub) -> Result<Vec<Session>> {
    let mut stmt = hub.store.conn().prepare_cached(&format!(
        "SELECT {COLS}, {ELSEWHERE} FROM sessions WHERE state IN ('live', 'booting') ORDER BY created_at DESC, rowid DESC"
    ))?;
    Ok(stmt
        .query_map([], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The most recent sessions, open ones first.
pub fn recent(hub: &Hub, limit: usize) -> Result<Vec<Session>> {
    let mut out = open(hub)?;
    let mut stmt = hub.store.conn().prepare_cached(&format!(
        "SELECT {COLS}, {ELSEWHERE} FROM sessions INDEXED BY sessions_by_created
         WHERE state NOT IN ('live', 'booting') ORDER BY created_at DESC LIMIT ?1"
    ))?;
    out.extend(
        stmt.query_map([limit as i64], row)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
    );
    Ok(out)
}

pub fn count(hub: &Hub) -> Result<i64> {
    Ok(hub
        .store
        .conn()
        .query_row("SELECT COUNT(*) FROM sessions", [], |r| r.get(0))?)
}

/// The session a command acts on: the one named, else the newest open one of this machine
/// (one opened on another machine, which came by `coagent sync`, only when named).
pub fn resolve(hub: &Hub, typed: Option<&str>) -> Result<Session> {
    if let Some(t) = typed {
        return get(hub, t);
    }
    open(hub)?
        .into_iter()
        .find(|s| !s.elsewhere)
        .ok_or_else(|| {
            Error::invalid(
                "no open session",
                Some("start one with `coagent start --vendor claude --goal \"…\"`".to_string()),
            )
        })
}

/// Sessions whose id starts with `prefix` (a reply tag's short id), open ones first, then
/// the newest.
pub fn by_prefix(hub: &Hub, prefix: &str) -> Result<Vec<Session>> {
    // A tag's id is `S-` and Crockford characters (checked by the parser): no LIKE wildcard.
    if !prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Ok(Vec::new());
    }
    let mut stmt = hub.store.conn().prepare_cached(&format!(
        "SELECT {COLS}, {ELSEWHERE} FROM sessions WHERE id LIKE ?1 || '%'
         ORDER BY state IN ('live', 'booting') DESC, created_at DESC, rowid DESC LIMIT 8"
    ))?;
    Ok(stmt
        .query_map([prefix], row)?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The newest session that continues `id` (booted from its wrap).
pub fn successor(hub: &Hub, id: &str) -> Result<Option<String>> {
    Ok(hub
        .store
        .conn()
        .query_row(
            "SELECT id FROM sessions WHERE prev_session = ?1 ORDER BY created_at DESC, rowid DESC LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?)
}

pub fn latest(hub: &Hub) -> Result<Option<Session>> {
    Ok(hub
        .store
        .conn()
        .query_row(
            &format!("SELECT {COLS}, {ELSEWHERE} FROM sessions ORDER BY created_at DESC, rowid DESC LIMIT 1"),
            [],
            row,
        )
        .optional()?)
}

/// What a wrap hands to the session that continues it.
#[derive(Debug, Clone)]
pub struct Respawn {
    pub wrap_id: String,
    pub from_session: String,
    /// The handoff text (markdown) from the wrap.
    pub handoff: String,
    pub message: BackchatMessage,
    /// The capsule to boot with (the wrap's, or the newer locked one).
    pub capsule: Capsule,
}

#[derive(Debug, Clone)]
pub struct StartOptions {
    pub vendor: String,
    pub goal: String,
    pub redact: bool,
    pub respawn: Option<Respawn>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Started {
    pub session: String,
    pub vendor: String,
    pub capsule: CapsuleRef,
    pub echo: String,
    pub payloads: Vec<PathBuf>,
    #[serde(flatten)]
    pub sent: Sent,
    pub from_wrap: Option<String>,
}

/// How a session ends without a wrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The user is done with it (its work finished, or carried on in another session).
    Closed,
    /// The chat was given up (lost, broken, or never used).
    Abandoned,
}

impl Ending {
    pub fn state(self) -> &'static str {
        match self {
            Ending::Closed => "closed",
            Ending::Abandoned => "abandoned",
        }
    }
}

/// Ends an open session without a wrap: it takes no more replies, and the monitor stops
/// watching it. Its records stay.
pub fn end(hub: &mut Hub, typed: &str, how: Ending) -> Result<Session> {
    let s = get(hub, typed)?;
    if !s.is_open() {
        return Err(Error::invalid(
            format!("session {} is already {}", s.id, s.state),
            Some("`coagent session list` shows the open sessions".to_string()),
        ));
    }
    let now = hub.now_ms();
    let state = how.state();
    hub.store.tx(|tx| {
        tx.execute(
            "UPDATE sessions SET state = ?2, closed_at = ?3 WHERE id = ?1 AND state IN ('booting', 'live')",
            params![s.id, state, now],
        )?;
        store::event(
            tx,
            now,
            Some(&s.id),
            &format!("session.{state}"),
            &serde_json::json!({}),
        )
    })?;
    get(hub, &s.id)
}

/// A session as `session list` shows it: with the sessions that continue it.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub session: Session,
    /// Sessions booted from this one's wraps.
    pub successors: Vec<String>,
}

/// Which sessions `session list` shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only the open ones (booting or live).
    pub open: bool,
    /// One state: booting, live, wrapped, closed or abandoned.
    pub state: Option<String>,
    pub window: store::Window,
}

pub const STATES: &[&str] = &["booting", "live", "wrapped", "closed", "abandoned"];

/// Sessions, newest first, each with its successors, handed to `each` one at a time; says
/// whether more matched than the window shows.
pub fn list(hub: &Hub, f: &Filter, mut each: impl FnMut(Listed) -> Result<()>) -> Result<bool> {
    if let Some(s) = f.state.as_deref()
        && !STATES.contains(&s)
    {
        return Err(Error::invalid(
            format!("`{s}` is not a session state"),
            Some(format!("one of: {}", STATES.join(", "))),
        ));
    }
    let base = if f.open {
        format!("SELECT {COLS}, {ELSEWHERE} FROM sessions WHERE state IN ('booting', 'live')")
    } else {
        format!("SELECT {COLS}, {ELSEWHERE} FROM sessions")
    };
    let (sql, params) = store::filtered(
        &base,
        &[
            ("state = ?", store::text(f.state.as_deref())),
            ("created_at >= ?", store::since(f.window)),
        ],
        "created_at DESC, rowid DESC",
        f.window,
    );
    let c = hub.store.conn();
    let mut stmt = c.prepare_cached(&sql)?;
    let mut next = c.prepare_cached(
        "SELECT id FROM sessions WHERE prev_session = ?1 ORDER BY created_at, rowid",
    )?;
    store::stream(
        &mut stmt,
        rusqlite::params_from_iter(params),
        f.window,
        row,
        |s| {
            let successors = next
                .query_map([&s.id], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            each(Listed {
                session: s,
                successors,
            })
        },
    )
}

/// The sessions already booted from wrap `wrap_id`, oldest first.
pub fn from_wrap(hub: &Hub, wrap_id: &str) -> Result<Vec<Session>> {
    Ok(hub
        .store
        .conn()
        .prepare_cached(&format!(
            "SELECT {COLS}, {ELSEWHERE} FROM sessions WHERE from_wrap = ?1 ORDER BY created_at, rowid"
        ))?
        .query_map([wrap_id], row)?
        .collect::<rusqlite::Result<_>>()?)
}

/// A warning when wrap `wrap_id` already has a successor: booting another from it makes
/// two sessions carry on the same work.
pub fn successor_warning(hub: &Hub, wrap_id: &str) -> Result<Option<String>> {
    let before = from_wrap(hub, wrap_id)?;
    if before.is_empty() {
        return Ok(None);
    }
    let named: Vec<String> = before
        .iter()
        .map(|s| format!("{} ({})", s.id, s.state))
        .collect();
    let open: Vec<&Session> = before.iter().filter(|s| s.is_open()).collect();
    let way_out = match open.as_slice() {
        [] => String::new(),
        [one] => format!(
            "; if that chat is not in use, `coagent session close {}` (or `abandon`) ends it",
            one.id
        ),
        _ => "; `coagent session list` shows them, `coagent session close ID` ends one".to_string(),
    };
    Ok(Some(format!(
        "wrap {wrap_id} is already continued by {}: this is another session carrying on the same work{way_out}",
        named.join(", ")
    )))
}

/// The capsule block of a boot payload: the policy and the profile's public entries.
pub fn capsule_block(hub: &Hub, templates: &Templates, capsule: &Capsule) -> Result<String> {
    let profile = hub.profile()?;
    templates.render(
        "capsule.md",
        serde_json::json!({
            "capsule": {"version": capsule.version, "sha256": capsule.sha256, "short": capsule.short_hash(), "policy": capsule.policy},
            "profile": profile.public_entries(),
        }),
    )
}

/// The TODOs finished since the newest session began (all, for a hub's first session),
/// newest first: a boot lists them as finished work, so a fresh chat does not redo them.
fn recently_done(hub: &Hub) -> Result<Vec<todo::Todo>> {
    let since: Option<i64> =
        hub.store
            .conn()
            .query_row("SELECT MAX(created_at) FROM sessions", [], |r| r.get(0))?;
    todo::done_since(hub, since.unwrap_or(0), HANDOFF_DONE)
}

/// Opens a session and sends its boot payload. A refused payload leaves no session behind.
pub fn start(hub: &mut Hub, opts: StartOptions, clip: &mut dyn Clipboard) -> Result<Started> {
    let cfg = hub.config()?;
    let vendor: Vendor = vendor::find(&cfg, &opts.vendor)?;
    let capsule = match &opts.respawn {
        Some(r) => r.capsule.clone(),
        None => capsule::current(&hub.dir)?,
    };
    let templates = Templates::load(Some(&hub.dir))?;
    let session = hub.new_id(Kind::Session);
    let msg_id = hub.new_id(Kind::Message);
    let now = hub.now_ms();
    let todos: Vec<_> = todo::list(hub, false)?
        .into_iter()
        .take(HANDOFF_TODOS)
        .collect();
    let done_todos = recently_done(hub)?;
    let capsule_ref = CapsuleRef {
        version: capsule.version.clone(),
        sha256: capsule.sha256.clone(),
    };
    let goal = opts.goal.trim().to_string();
    // The machine block names the session and its capsule; the goal, the TODOs and the
    // handoff are in the markdown above it, in full, and are not pasted twice.
    let subject = match &opts.respawn {
        Some(r) => format!("Continue {} ({})", r.from_session, r.wrap_id),
        None => "Session boot".to_string(),
    };
    let message = BackchatMessage {
        schema: SchemaTag::V1,
        id: msg_id.clone(),
        kind: MessageKind::Handoff,
        from: "coagent".to_string(),
        to: session.clone(),
        created_at: rfc3339(now),
        capsule: capsule_ref.clone(),
        subject,
        body: String::new(),
        todos: Vec::new(),
        artifacts: Vec::new(),
        reply_to: opts.respawn.as_ref().map(|r| r.message.id.clone()),
        requires_ack: false,
    };
    let message_json = message.to_line();
    let echo = capsule.echo();
    let capsule_text = capsule_block(hub, &templates, &capsule)?;
    let contract = bpoe::render(&templates, &echo, &crate::drift::tag_id(&session))?;
    let ctx = serde_json::json!({
        "session": session,
        "vendor": vendor.display,
        "capsule_block": capsule_text,
        "bpoe": contract,
        "goal": goal,
        "handoff": opts.respawn.as_ref().map(|r| r.handoff.clone()).unwrap_or_default(),
        "todos": todos,
        "done_todos": done_todos,
        "message_json": message_json,
        "echo": echo,
        "from_session": opts.respawn.as_ref().map(|r| r.from_session.clone()).unwrap_or_default(),
        "wrap_id": opts.respawn.as_ref().map(|r| r.wrap_id.clone()).unwrap_or_default(),
    });
    let (template, kind_word) = if opts.respawn.is_some() {
        ("respawn.md", "respawn")
    } else {
        ("boot.md", "boot")
    };
    let text = templates.render(template, ctx)?;
    let from_wrap = opts.respawn.as_ref().map(|r| r.wrap_id.clone());
    let prev = opts.respawn.as_ref().map(|r| r.from_session.clone());
    let out = Outgoing {
        session: Some(session.clone()),
        kind: kind_word.to_string(),
        stem: format!("{session}-{kind_word}"),
        id: msg_id.clone(),
        parts: Parts::boot(&text, &capsule_text, &contract, &message_json),
        text,
    };
    // The session exists only once its boot payload is out: one transaction for both, so a
    // refused or failed payload leaves no session behind.
    let (sid, vname, cap_v, cap_sha) = (
        session.clone(),
        vendor.name.clone(),
        capsule.version.clone(),
        capsule.sha256.clone(),
    );
    let (fw, pv, to, subject, kind_s) = (
        from_wrap.clone(),
        prev,
        message.to.clone(),
        message.subject.clone(),
        message.kind.as_str(),
    );
    let extra = payload::Extra {
        files: Vec::new(),
        sql: Some(Box::new(move |tx: &rusqlite::Transaction<'_>| {
            tx.execute(
                &format!("INSERT INTO sessions ({COLS}) VALUES (?1, ?2, ?3, 'booting', ?4, ?5, 'missing', ?6, NULL, NULL, ?7, ?8, ?6, NULL, NULL)"),
                params![sid, vname, goal, cap_v, cap_sha, now, fw, pv],
            )?;
            tx.execute(
                "INSERT INTO messages (id, session, direction, kind, to_target, subject, json, valid, requires_ack, created_at)
                 VALUES (?1, ?2, 'out', ?3, ?4, ?5, ?6, 1, 0, ?7)",
                params![msg_id, sid, kind_s, to, subject, message_json, now],
            )?;
            store::event(
                tx,
                now,
                Some(&sid),
                "session.started",
                &serde_json::json!({"vendor": vname, "capsule": cap_v, "from_wrap": fw}),
            )
        })),
    };
    let sent = payload::send_with(hub, &vendor, out, opts.redact, clip, extra)?;
    Ok(Started {
        session,
        vendor: vendor.name,
        capsule: capsule_ref,
        echo,
        payloads: sent.paths.clone(),
        sent,
        from_wrap,
    })
}
