//! The paste gate, inbound: a chat's reply, as the human copied it, becomes records.
//!
//! The parsing is the `coagent-ingest` crate's; this module decides what the findings
//! mean for the hub: it refuses CoAgent's own payloads pasted back, recognises a reply
//! ingested before (copied either way) and records nothing new, keeps the reply verbatim in
//! the session's transcript, checks the echo against the capsule the session booted with,
//! records DO proposals (their scripts quarantined under `dos/`), judges ACKs, validates
//! BackchatMessages, counts tokens, and answers `NEXT k/n` with the next part.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::capsule::{self, EchoStatus};
use crate::clipboard::{ClipOutcome, Clipboard};
use crate::clock::file_stamp;
use crate::hub::Hub;
use crate::id::Kind;
use crate::session::{self, Session};
use crate::{Error, Result, ack, backchat, dos, drift, fsx, payload, store, todo, vendor};

/// Replies larger than this are refused: no chat writes 16 MiB in one answer, and a paste
/// that large is a mistake (a log, a binary) that must not fill the hub.
pub const MAX_REPLY_BYTES: usize = 16 * 1024 * 1024;

#[derive(Debug, Clone, Serialize)]
pub struct EchoReport {
    pub status: EchoStatus,
    pub version: Option<String>,
    /// The line the chat should have written.
    pub expected: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DoReport {
    pub id: String,
    pub title: String,
    pub lang: String,
    /// How the language was decided when the block did not name it plainly (inferred from
    /// its content; a tag mapped to another program). `do show` says it again.
    pub lang_note: Option<String>,
    pub sha256: String,
    /// `false` when this DO was already recorded from an earlier reply.
    pub new: bool,
    /// The TODO it is linked to (its `# TODO: T-…` line, or an id in its title), when
    /// that names a TODO of this hub.
    pub todo: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MessageReport {
    pub id: String,
    pub kind: String,
    pub valid: bool,
    pub errors: Vec<backchat::SchemaError>,
}

#[derive(Debug, Clone, Serialize)]
pub struct NextReport {
    pub k: u32,
    pub n: u32,
    /// The part now on the clipboard, when there is one.
    pub part: Option<u32>,
    pub path: Option<String>,
    pub clipboard: Option<ClipOutcome>,
}

/// How `ingest` chose the session a reply went into.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Route {
    /// `session` (named with `--session`), `tag` (the reply's tag), or `newest` (the
    /// newest open session: the reply has no tag, or one that names no session here).
    pub by: String,
    /// The reply's tag, as written, when it has one.
    pub tag: Option<String>,
    /// Said to the user when the choice was not the tag's.
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct IngestReport {
    pub session: String,
    pub route: Route,
    /// The reply's number in its session (1 for the first), as its tag should say.
    pub turn: u64,
    /// The chat's lapses from the capsule in this reply (the monitor's drift signal).
    pub drift: Vec<drift::Lapse>,
    pub echo: EchoReport,
    pub dos: Vec<DoReport>,
    pub incomplete_dos: Vec<coagent_ingest::IncompleteDo>,
    pub acks: Vec<ack::AckResult>,
    /// Lines that start with `ACK` but cannot be read as one: the chat is to be asked for
    /// a proper line.
    pub unreadable_acks: Vec<coagent_ingest::UnreadableAck>,
    /// The chat's `DONE T-… <ref>…` lines, judged like ACKs.
    pub dones: Vec<todo::DoneResult>,
    /// What the chat asks the human: to be answered in the chat before running DOs.
    pub questions: Vec<coagent_ingest::Question>,
    pub messages: Vec<MessageReport>,
    pub next: Option<NextReport>,
    pub duplicate: bool,
    pub transcript: Option<String>,
    pub tokens: crate::vendor::Tokens,
    /// Findings of the secret guard in the reply (counts only; the reply is kept as is).
    pub guard_findings: usize,
    pub warnings: Vec<String>,
}

/// Ingests one reply into `session` (default: the newest open session).
///
/// The steps: [`guard_input`] (size, emptiness, an open session), [`known_bytes`] (the same
/// bytes again), [`read_reply`] (transcript, parse, key, guard scan), [`judge`] (reads
/// only: echo, DOs and their TODOs, ACKs, DONE lines, messages), [`record`] (one
/// transaction), then the answer (`NEXT k/n`, the report).
pub fn ingest(
    hub: &mut Hub,
    input: &[u8],
    session: Option<&str>,
    clip: &mut dyn Clipboard,
) -> Result<IngestReport> {
    let (s, route) = guard_input(hub, input, session)?;
    if let Some(r) = known_bytes(hub, &s, input)? {
        return Ok(IngestReport { route, ..r });
    }
    let read = read_reply(hub, &s, input)?;
    let discard = |e: Error| {
        let _ = std::fs::remove_file(&read.transcript);
        e
    };
    let judged = judge(hub, &s, &read).map_err(discard)?;
    let Judged::New(j) = judged else {
        let _ = std::fs::remove_file(&read.transcript);
        return Ok(IngestReport {
            route,
            ..duplicate_report(hub, &s, &read)?
        });
    };
    let mut j = *j;
    match record(hub, &s, &read, &mut j)? {
        Recorded::Known => Ok(IngestReport {
            route,
            ..duplicate_report(hub, &s, &read)?
        }),
        Recorded::Written(w) => answer(hub, &s, read, j, w, route, clip),
    }
}

/// Reads a reply from `from`, refusing it after at most [`MAX_REPLY_BYTES`] + 1 bytes: a
/// 1 GiB file dropped by mistake is never read whole. `what` names it in the error.
pub fn read_bounded(from: &mut dyn std::io::Read, what: &str) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut limited = std::io::Read::take(from, MAX_REPLY_BYTES as u64 + 1);
    std::io::Read::read_to_end(&mut limited, &mut buf)
        .map_err(|e| Error::io(format!("cannot read {what}"), e))?;
    if buf.len() > MAX_REPLY_BYTES {
        return Err(too_large(&format!("{what} is")));
    }
    Ok(buf)
}

fn too_large(what: &str) -> Error {
    Error::invalid(
        format!(
            "{what} over {} MiB: replies that large are refused",
            MAX_REPLY_BYTES >> 20
        ),
        Some("copy only the chat's answer, not a log or a file".to_string()),
    )
}

/// Refuses what is not a reply to ingest (too large, empty, a closed session), and picks
/// its session ([`route`]).
fn guard_input(hub: &Hub, input: &[u8], session: Option<&str>) -> Result<(Session, Route)> {
    if input.len() > MAX_REPLY_BYTES {
        return Err(too_large(&format!(
            "the reply is {} MiB,",
            input.len() >> 20
        )));
    }
    if input.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Error::invalid(
            "the reply is empty",
            Some("copy the chat's whole answer (its copy button, or select it all), then run `coagent ingest` again".to_string()),
        ));
    }
    let (s, route) = route(hub, input, session)?;
    if !s.is_open() {
        return Err(Error::invalid(
            format!("session {} is {}", s.id, s.state),
            Some(
                "ingest into an open session (`coagent status` lists them), or start one"
                    .to_string(),
            ),
        ));
    }
    Ok((s, route))
}

/// The session a reply goes into: the one `--session` names; else the one its tag names
/// (two chats open at once need no `--session`); else the newest open one, said so. A
/// tag naming a session that was wrapped is refused, naming its successor: the reply
/// belongs to a chat that was replaced.
fn route(hub: &Hub, input: &[u8], named: Option<&str>) -> Result<(Session, Route)> {
    // The tag ends the reply: its last few KiB are enough.
    let tail = &input[input.len().saturating_sub(4096)..];
    let tag = coagent_ingest::find_tag(&String::from_utf8_lossy(tail));
    let written = tag.as_ref().map(|t| format!("[{} t{}]", t.session, t.turn));
    if let Some(n) = named {
        let s = session::get(hub, n)?;
        let by = Route {
            by: "session".into(),
            tag: written,
            note: None,
        };
        return Ok((s, by));
    }
    let newest = |note: String| -> Result<(Session, Route)> {
        let s = session::resolve(hub, None)?;
        let note = format!("{note}: ingested into the newest open session, {}", s.id);
        Ok((
            s,
            Route {
                by: "newest".into(),
                tag: written.clone(),
                note: Some(note),
            },
        ))
    };
    let Some(t) = &tag else {
        return newest("the reply has no tag".to_string());
    };
    let matching = session::by_prefix(hub, &t.session)?;
    if let Some(s) = matching.iter().find(|s| s.is_open()) {
        let by = Route {
            by: "tag".into(),
            tag: written,
            note: None,
        };
        return Ok((s.clone(), by));
    }
    match matching.first() {
        Some(s) => Err(ended_session(hub, s, &t.session)),
        None => newest(format!(
            "the reply's tag names {}, no session of this hub",
            t.session
        )),
    }
}

/// A reply whose tag names a session that no longer takes replies.
fn ended_session(hub: &Hub, s: &Session, tag: &str) -> Error {
    let successor = session::successor(hub, &s.id).ok().flatten();
    match (s.state.as_str(), successor) {
        ("wrapped", Some(next)) => Error::invalid(
            format!(
                "the reply's tag names {tag}: session {} was wrapped, and {next} continues it",
                s.id
            ),
            Some(format!(
                "this reply comes from the old chat: paste {next}'s respawn payload into a new chat (`coagent outbox`), or ingest it anyway with `--session {next}`"
            )),
        ),
        (state, _) => Error::invalid(
            format!("the reply's tag names {tag}: session {} is {state}", s.id),
            Some(
                "ingest it into an open session with `--session ID` (`coagent status` lists them)"
                    .to_string(),
            ),
        ),
    }
}

/// The same bytes again: known before any parsing.
fn known_bytes(hub: &Hub, s: &Session, input: &[u8]) -> Result<Option<IngestReport>> {
    let raw_sha = fsx::sha256_hex(input);
    let again: i64 = hub.store.conn().query_row(
        "SELECT COUNT(*) FROM replies WHERE session = ?1 AND raw_sha256 = ?2",
        params![s.id, raw_sha],
        |r| r.get(0),
    )?;
    if again == 0 {
        return Ok(None);
    }
    let tokens =
        vendor::find(&hub.config()?, &s.vendor)?.count_cheap(&String::from_utf8_lossy(input));
    let s = session::get(hub, &s.id)?;
    // `duplicate` says it: no warning repeats it.
    Ok(Some(nothing_new(&s, None, tokens)))
}

/// A reply read: kept in the transcript, parsed, keyed, scanned and counted.
struct Read<'a> {
    reply: coagent_ingest::Reply<'a>,
    /// What makes two pastes the same reply ([`reply_key`]).
    key: String,
    raw_sha: String,
    transcript: std::path::PathBuf,
    transcript_rel: String,
    tokens: vendor::Tokens,
    guard_findings: usize,
    warnings: Vec<String>,
}

fn read_reply<'a>(hub: &Hub, s: &Session, input: &'a [u8]) -> Result<Read<'a>> {
    let raw_sha = fsx::sha256_hex(input);
    let now = hub.now_ms();
    let transcript = hub.transcripts_dir().join(&s.id).join(format!(
        "{}-in-{}.md",
        file_stamp(now),
        &raw_sha[..12]
    ));
    let transcript_rel = hub.rel(&transcript);
    let recipe = crate::guard::Recipe::of(hub)?;
    // The reply is written (and synced) while it is parsed, keyed and scanned: the disk's
    // wait overlaps the CPU's work. A reply that turns out refused or known is removed again.
    let (reply, key, guard_findings, landed) = std::thread::scope(|sc| {
        let writer = sc.spawn(|| {
            let mut b = fsx::Batch::new();
            b.write(transcript.clone(), input);
            b.commit()
        });
        let recipe = &recipe;
        let scanner = sc.spawn(move || recipe.build().map(|g| g.scan(input).len()));
        // The words key of a reply that normalising leaves as it is can be taken from the
        // input, on another core, while the reply is parsed.
        let keyer = sc.spawn(|| {
            std::str::from_utf8(input)
                .ok()
                .filter(|t| coagent_ingest::is_normal(t))
                .map(reply_key)
        });
        let reply = coagent_ingest::parse_reply(input);
        let key = match keyer.join().ok().flatten() {
            Some(k) => k,
            None => reply_key(&reply.text),
        };
        // A guard that cannot be built (a broken guard.toml) stops the ingest; a scan that
        // fails inside is reported, and the reply (kept locally) is still recorded.
        let findings = scanner.join().map_err(|_| ());
        let landed = writer
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("the transcript writer panicked".into())));
        (reply, key, findings, landed)
    });
    let scanned = match (landed, guard_findings) {
        (Ok(()), Ok(Ok(n))) => Some(n),
        (Ok(()), Err(())) => None,
        (Err(e), _) | (_, Ok(Err(e))) => {
            let _ = std::fs::remove_file(&transcript);
            return Err(e);
        }
    };
    let guard_findings = scanned.unwrap_or(0);
    let discard = |e: Error| {
        let _ = std::fs::remove_file(&transcript);
        e
    };
    refuse_own_payload(hub, s, &reply).map_err(discard)?;
    let cfg = hub.config().map_err(discard)?;
    let v = vendor::find(&cfg, &s.vendor).map_err(discard)?;
    let budget = crate::bloat::token_budget(hub, &s.id, &v, &cfg.bloat).map_err(discard)?;
    let tokens = v.count_for_session(&reply.text, &budget);
    let mut warnings = reply.warnings.clone();
    if scanned.is_none() {
        warnings.push(
            "the secret guard failed while reading the reply (an internal error): it is recorded unchecked, and everything pasted out is still guarded"
                .to_string(),
        );
    }
    if guard_findings > 0 {
        warnings.push(format!(
            "the reply holds {guard_findings} thing(s) that look like secrets; it is kept locally, and the guard masks or refuses them in anything pasted out"
        ));
    }
    Ok(Read {
        reply,
        key,
        raw_sha,
        transcript,
        transcript_rel,
        tokens,
        guard_findings,
        warnings,
    })
}

/// A DO to record: its id, what the reply said, and the TODO it is linked to.
struct NewDo {
    id: String,
    proposal: coagent_ingest::DoProposal,
    todo: Option<String>,
}

/// Everything a new reply means, judged before anything is written.
struct Judgement {
    /// The lapses the reply shows by itself; [`write_records`] adds the tag's and the
    /// missed receipts.
    lapses: Vec<drift::Lapse>,
    /// The reply's number in its session, set when it is recorded.
    turn: u64,
    echo_status: Option<EchoStatus>,
    new_dos: Vec<NewDo>,
    do_reports: Vec<DoReport>,
    acks: Vec<ack::AckResult>,
    dones: Vec<todo::DoneResult>,
    messages: Vec<MessageReport>,
    /// Each message's report, canonical JSON and parsed value.
    message_rows: Vec<(MessageReport, String, Option<serde_json::Value>)>,
    warnings: Vec<String>,
}

enum Judged {
    /// A reply ingested before by its words (copied either way).
    Known,
    New(Box<Judgement>),
}

/// Ids and judgements (reads only): the echo, the DOs and the TODOs they serve, ACKs,
/// DONE lines, BackchatMessages.
fn judge(hub: &mut Hub, s: &Session, read: &Read<'_>) -> Result<Judged> {
    let seen: Option<i64> = hub
        .store
        .conn()
        .query_row(
            "SELECT id FROM replies WHERE session = ?1 AND sha256 = ?2",
            params![s.id, read.key],
            |r| r.get(0),
        )
        .optional()?;
    if seen.is_some() {
        return Ok(Judged::Known);
    }
    let reply = &read.reply;
    let echo_status = reply.echo.as_ref().map(|e| {
        capsule::check_echo(
            &s.capsule_version,
            &s.capsule_sha256,
            &e.version,
            e.hash.as_deref(),
        )
    });
    let mut warnings = Vec::new();
    let mut new_dos = Vec::new();
    let mut do_reports = Vec::new();
    for d in &reply.dos {
        let existing = known_do(hub, &s.id, &d.sha256)?;
        let (id, new, lang, lang_note) = match existing {
            Some((id, lang, note)) => (id, false, lang, note),
            None => {
                let (lang, note) = settle_lang(d);
                (hub.new_id(Kind::Do), true, lang, note)
            }
        };
        let todo = match &d.todo {
            Some(t) if new => {
                let known = todo::known(hub, t)?;
                if known.is_none() {
                    warnings.push(format!(
                        "DO `{}` names {t}, which is not a TODO of this hub: it is recorded without a TODO",
                        d.title
                    ));
                }
                known
            }
            _ => None,
        };
        if new {
            let mut proposal = d.clone();
            proposal.lang.clone_from(&lang);
            proposal.lang_note.clone_from(&lang_note);
            new_dos.push(NewDo {
                id: id.clone(),
                proposal,
                todo: todo.clone(),
            });
        }
        do_reports.push(DoReport {
            id,
            title: d.title.clone(),
            lang,
            lang_note,
            sha256: d.sha256.clone(),
            new,
            todo,
        });
    }
    let acks: Vec<ack::AckResult> = reply
        .acks
        .iter()
        .map(|a| ack::judge(hub, a))
        .collect::<Result<_>>()?;
    let dones: Vec<todo::DoneResult> = reply
        .dones
        .iter()
        .map(|d| todo::judge_done(hub, d))
        .collect::<Result<_>>()?;
    let echo_due = s.echo != "verified" && !drift::has(hub, &s.id, "echo")?;
    let lapses = drift::lapses(&drift::Seen {
        reply,
        echo: echo_status,
        expected_echo: capsule::echo_line(&s.capsule_version),
        echo_due,
        acks: &acks,
        dones: &dones,
    });
    let mut messages = Vec::new();
    let mut message_rows = Vec::new();
    for m in &reply.messages {
        let (report, json, value) = judge_message(hub, m)?;
        message_rows.push((report.clone(), json, value));
        messages.push(report);
    }
    Ok(Judged::New(Box::new(Judgement {
        lapses,
        turn: 0,
        echo_status,
        new_dos,
        do_reports,
        acks,
        dones,
        messages,
        message_rows,
        warnings,
    })))
}

fn judge_message(
    hub: &mut Hub,
    m: &coagent_ingest::MessageBlock,
) -> Result<(MessageReport, String, Option<serde_json::Value>)> {
    let errors = backchat::validate_text(&m.json)?;
    let value: Option<serde_json::Value> = serde_json::from_str(&m.json).ok();
    let claimed = value
        .as_ref()
        .and_then(|v| v["id"].as_str())
        .map(str::to_string);
    let known: bool = match &claimed {
        Some(c) => {
            hub.store
                .conn()
                .query_row("SELECT COUNT(*) FROM messages WHERE id = ?1", [c], |r| {
                    r.get::<_, i64>(0)
                })?
                > 0
        }
        None => false,
    };
    let id = match claimed {
        Some(c) if errors.is_empty() && !known => c,
        _ => hub.new_id(Kind::Message),
    };
    let kind = value
        .as_ref()
        .and_then(|v| v["kind"].as_str())
        .unwrap_or("unknown")
        .to_string();
    let report = MessageReport {
        id,
        kind,
        valid: errors.is_empty(),
        errors,
    };
    Ok((
        report,
        m.canonical().unwrap_or_else(|| m.json.clone()),
        value,
    ))
}

/// What [`record`] did.
enum Recorded {
    /// The same reply was recorded meanwhile: nothing written.
    Known,
    /// Recorded; a warning when the DOs' copies under `dos/` could not be written.
    Written(Option<String>),
}

/// Writes every record of a judged reply in one transaction, and the DOs' copies under
/// `dos/` beside it. When nothing is recorded, the transcript and the copies are removed.
fn record(hub: &mut Hub, s: &Session, read: &Read<'_>, j: &mut Judgement) -> Result<Recorded> {
    let now = hub.now_ms();
    // The scripts' copies under dos/ are derived from the store (each DO's script is
    // recorded there, and the copy rebuilt when missing): they are written while the
    // records are committed, and removed again when nothing is recorded.
    let copies: Vec<(std::path::PathBuf, &str)> = j
        .new_dos
        .iter()
        .map(|d| {
            (
                dos::quarantine_path(hub, &d.id, &d.proposal.lang),
                d.proposal.script.as_str(),
            )
        })
        .collect();
    let (recorded, copied) = std::thread::scope(|sc| {
        let writer = sc.spawn(|| {
            copies
                .iter()
                .try_for_each(|(p, script)| fsx::write_derived(p, script.as_bytes()))
        });
        let recorded = hub.store.tx(|tx| write_records(tx, s, read, j, now));
        let copied = writer
            .join()
            .unwrap_or_else(|_| Err(Error::Internal("the DO writer panicked".into())));
        (recorded, copied)
    });
    let copies: Vec<std::path::PathBuf> = copies.into_iter().map(|(p, _)| p).collect();
    if !matches!(recorded, Ok(Some(_))) {
        for p in &copies {
            let _ = std::fs::remove_file(p);
        }
        let _ = std::fs::remove_file(&read.transcript);
    }
    let recorded = recorded?;
    if let Some(w) = &recorded {
        adopt_recorded_dos(j, &w.taken, &copies);
        j.lapses.extend(w.lapses.iter().cloned());
        j.turn = w.turn;
    }
    Ok(match (recorded, copied) {
        (None, _) => Recorded::Known,
        (Some(_), Ok(())) => Recorded::Written(None),
        // The records are in; the copies are rebuilt from them when next needed.
        (Some(_), Err(e)) => Recorded::Written(Some(format!(
            "the DOs are recorded, but their copies under dos/ could not be written ({e}); `coagent do show` writes them again"
        ))),
    })
}

/// DOs another ingest recorded while this one read the reply (pairs of the id this one
/// would have given and the id recorded): reported as known, under the recorded id, and
/// their copies under `dos/` removed.
fn adopt_recorded_dos(
    j: &mut Judgement,
    taken: &[(String, String)],
    copies: &[std::path::PathBuf],
) {
    for (mine, theirs) in taken {
        j.new_dos.retain(|d| &d.id != mine);
        for p in copies.iter().filter(|p| {
            p.file_stem()
                .is_some_and(|f| f.to_string_lossy() == mine.as_str())
        }) {
            let _ = std::fs::remove_file(p);
        }
        for r in j.do_reports.iter_mut().filter(|r| &r.id == mine) {
            r.id = theirs.clone();
            r.new = false;
        }
    }
}

/// What [`write_records`] wrote besides the judgement.
struct Written {
    /// DOs another writer recorded meanwhile (see [`adopt_recorded_dos`]).
    taken: Vec<(String, String)>,
    /// Lapses only the transaction can judge: the tag's and the missed receipts.
    lapses: Vec<drift::Lapse>,
    turn: u64,
}

/// The records of one reply, inside the write transaction. `None` when the reply was
/// recorded meanwhile.
fn write_records(
    tx: &rusqlite::Transaction<'_>,
    s: &Session,
    read: &Read<'_>,
    j: &Judgement,
    now: crate::clock::Millis,
) -> Result<Option<Written>> {
    // Checked again under the write lock: the same reply may arrive through the inbox
    // and the command line at once, and `watch` may have wrapped the session meanwhile.
    let again: i64 = tx.query_row(
        "SELECT COUNT(*) FROM replies WHERE session = ?1 AND sha256 = ?2",
        params![s.id, read.key],
        |r| r.get(0),
    )?;
    if again > 0 {
        return Ok(None);
    }
    let open = tx.execute(
        "UPDATE sessions SET last_activity_at = ?2 WHERE id = ?1 AND state IN ('booting', 'live')",
        params![s.id, now],
    )?;
    if open == 0 {
        return Err(Error::invalid(
            format!("session {} was closed while the reply was read", s.id),
            Some(
                "ingest it into the session that continues the work (`coagent status`)".to_string(),
            ),
        ));
    }
    let (reply, tokens) = (&read.reply, &read.tokens);
    tx.execute(
        "INSERT INTO replies (session, sha256, path, chars, tokens, tokens_exact, created_at, raw_sha256) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![s.id, read.key, read.transcript_rel, reply.text.chars().count() as i64, tokens.count as i64, tokens.exact as i64, now, read.raw_sha],
    )?;
    let reply_id = tx.last_insert_rowid();
    match j.echo_status {
        Some(EchoStatus::Verified) => {
            tx.execute(
                "UPDATE sessions SET echo = 'verified', state = 'live', live_at = COALESCE(live_at, ?2) WHERE id = ?1",
                params![s.id, now],
            )?;
        }
        Some(_) => {
            tx.execute(
                "UPDATE sessions SET echo = 'stale' WHERE id = ?1 AND echo != 'verified'",
                [&s.id],
            )?;
        }
        None => {}
    }
    let mut taken = Vec::new();
    for d in &j.new_dos {
        let p = &d.proposal;
        // The known-DO check of `judge` ran before the write lock: another ingest proposing
        // the same DO may have recorded it since. Checked again here, under the lock.
        let recorded: Option<String> = tx
            .query_row(
                "SELECT id FROM dos WHERE session = ?1 AND sha256 = ?2",
                params![s.id, p.sha256],
                |r| r.get(0),
            )
            .optional()?;
        if let Some(theirs) = recorded {
            taken.push((d.id.clone(), theirs));
            continue;
        }
        tx.execute(
            "INSERT INTO dos (id, session, title, lang, script, sha256, state, proposed_at, todo_id, reply, lang_note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'proposed', ?7, ?8, ?9, ?10)",
            params![d.id, s.id, p.title, p.lang, p.script, p.sha256, now, d.todo, reply_id, p.lang_note],
        )?;
    }
    for a in &j.acks {
        // The same receipt quoted again (e.g. a chat repeating its ACK) is one receipt.
        let refs = serde_json::to_string(&a.refs).unwrap_or_default();
        let seen: i64 = tx.query_row(
            "SELECT COUNT(*) FROM acks WHERE session = ?1 AND target = ?2 AND refs = ?3 AND status = ?4",
            params![s.id, a.id, refs, a.status],
            |r| r.get(0),
        )?;
        if seen == 0 {
            ack::record(tx, &s.id, reply_id, a, now)?;
        }
    }
    for d in &j.dones {
        todo::record_done(tx, &s.id, reply_id, d, now)?;
    }
    for u in &reply.unreadable_acks {
        // A lapse from the contract, kept for the monitor's drift count.
        store::event(
            tx,
            now,
            Some(&s.id),
            "ack.unreadable",
            &serde_json::json!({"line": u.line, "reason": u.reason}),
        )?;
    }
    let (turn, lapses) = drift_in_tx(tx, s, read, j, reply_id, now)?;
    for (m, json, value) in &j.message_rows {
        let to = value
            .as_ref()
            .and_then(|v| v["to"].as_str())
            .unwrap_or_default();
        let subject = value
            .as_ref()
            .and_then(|v| v["subject"].as_str())
            .unwrap_or_default();
        tx.execute(
            "INSERT OR IGNORE INTO messages (id, session, direction, kind, to_target, subject, json, valid, errors, created_at)
             VALUES (?1, ?2, 'in', ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![m.id, s.id, m.kind, to, subject, json, m.valid as i64, serde_json::to_string(&m.errors).unwrap_or_default(), now],
        )?;
    }
    store::event(
        tx,
        now,
        Some(&s.id),
        "reply.ingested",
        &serde_json::json!({"dos": j.new_dos.len() - taken.len(), "acks": j.acks.len(), "messages": j.messages.len(), "echo": j.echo_status, "guard_findings": read.guard_findings, "next": reply.next.is_some(), "turn": turn}),
    )?;
    Ok(Some(Written {
        taken,
        lapses,
        turn,
    }))
}

/// The reply's turn, the lapses only the transaction can judge (its tag; results it
/// passed without their ACK, once this reply's ACKs are in), and all its lapses recorded.
fn drift_in_tx(
    tx: &rusqlite::Transaction<'_>,
    s: &Session,
    read: &Read<'_>,
    j: &Judgement,
    reply_id: i64,
    now: crate::clock::Millis,
) -> Result<(u64, Vec<drift::Lapse>)> {
    let turn: i64 = tx.query_row(
        "SELECT COUNT(*) FROM replies WHERE session = ?1 AND id <= ?2",
        params![s.id, reply_id],
        |r| r.get(0),
    )?;
    let turn = turn.max(1) as u64;
    let reply = &read.reply;
    let is_next = reply.next.is_some();
    let mut extra: Vec<drift::Lapse> = drift::tag_lapse(reply.tag.as_ref(), &s.id, turn, is_next)
        .into_iter()
        .collect();
    if !is_next {
        let acked_here: Vec<String> = j.acks.iter().map(|a| a.id.clone()).collect();
        extra.extend(drift::missed_receipts(tx, &s.id, &acked_here)?);
    }
    let all: Vec<drift::Lapse> = j.lapses.iter().chain(&extra).cloned().collect();
    drift::record(tx, &s.id, reply_id, turn, &all, now)?;
    Ok((turn, extra))
}

/// Answers `NEXT k/n` and reports what the reply brought.
fn answer(
    hub: &mut Hub,
    s: &Session,
    read: Read<'_>,
    j: Judgement,
    copy_warning: Option<String>,
    route: Route,
    clip: &mut dyn Clipboard,
) -> Result<IngestReport> {
    let next = match read.reply.next {
        Some(np) => Some(answer_next(hub, s, np.k, np.n, clip)?),
        None => None,
    };
    let s = session::get(hub, &s.id)?;
    let mut warnings = read.warnings;
    warnings.extend(j.warnings);
    warnings.extend(copy_warning);
    let reply = read.reply;
    Ok(IngestReport {
        echo: echo_report(&s, reply.echo.as_ref().map(|e| e.version.clone())),
        session: s.id,
        route,
        turn: j.turn,
        drift: j.lapses,
        dos: j.do_reports,
        incomplete_dos: reply.incomplete_dos,
        acks: j.acks,
        unreadable_acks: reply.unreadable_acks,
        dones: j.dones,
        questions: reply.questions,
        messages: j.messages,
        next,
        duplicate: false,
        transcript: Some(read.transcript_rel),
        tokens: read.tokens,
        guard_findings: read.guard_findings,
        warnings,
    })
}

/// UI words a browser's selection of a rendered reply adds on lines of their own.
const UI_LINES: &[&str] = &[
    "copy",
    "copy code",
    "copied!",
    "edit",
    "run",
    "use code with caution.",
    "use code with caution",
    "bash",
    "sh",
    "shell",
    "zsh",
    "python",
    "python3",
    "py",
    "pwsh",
    "powershell",
    "ps1",
    "json",
    "coagent",
    "text",
    "markdown",
    "md",
    "plaintext",
];

/// What makes two pastes "the same reply": its words, in order, without markdown syntax,
/// fences and the UI words a rendered copy adds. The copy-button copy and the
/// selected-page copy of one reply get the same key; two different replies do not, even
/// when they propose the same DOs.
pub fn reply_key(text: &str) -> String {
    use sha2::Digest;
    // Streamed into the hash through one fixed buffer: a 1 MiB reply allocates nothing per
    // word. An ASCII line (nearly all of a reply) takes a branch-free path through a table;
    // other lines go char by char.
    const CHUNK: usize = 16 * 1024;
    let mut hasher = sha2::Sha256::new();
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("```")
            || t.starts_with("~~~")
            || (t.len() <= 24 && UI_LINES.iter().any(|u| t.eq_ignore_ascii_case(u)))
        {
            continue;
        }
        if t.is_ascii() {
            if buf.len() + t.len() + 1 > CHUNK {
                hasher.update(&buf);
                buf.clear();
            }
            ascii_words(t.as_bytes(), &mut buf);
        } else {
            other_words(t, &mut buf);
            if buf.len() >= CHUNK {
                hasher.update(&buf);
                buf.clear();
            }
        }
    }
    hasher.update(&buf);
    hex::encode(hasher.finalize())
}

/// For each ASCII byte: its lowercase form when it belongs to a word, else 0.
const WORD_BYTE: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        if b.is_ascii_alphanumeric() {
            t[c] = b.to_ascii_lowercase();
        }
        c += 1;
    }
    t
};

/// Appends an ASCII line's words, lowercased, each followed by one space.
fn ascii_words(line: &[u8], buf: &mut Vec<u8>) {
    let at = buf.len();
    // At most one byte out per byte in, plus the space after the last word.
    buf.resize(at + line.len() + 1, 0);
    let out = &mut buf[at..];
    let (mut n, mut in_word) = (0usize, false);
    for &c in line {
        let w = WORD_BYTE[(c & 0x7f) as usize];
        let is_word = u8::from(w != 0);
        // A word byte is written and kept; a separator is written as a space and kept only
        // right after a word. Arithmetic, not branches: prose alternates too often for a
        // branch to be predicted.
        out[n] = w | ((1 - is_word) * b' ');
        n += usize::from(is_word | u8::from(in_word));
        in_word = is_word == 1;
    }
    if in_word {
        out[n] = b' ';
        n += 1;
    }
    buf.truncate(at + n);
}

/// Appends a line's words, lowercased (Unicode), each followed by one space.
fn other_words(line: &str, buf: &mut Vec<u8>) {
    let mut in_word = false;
    for ch in line.chars() {
        if ch.is_alphanumeric() {
            if ch.is_ascii() {
                buf.push(ch.to_ascii_lowercase() as u8);
            } else {
                for l in ch.to_lowercase() {
                    let mut enc = [0u8; 4];
                    buf.extend_from_slice(l.encode_utf8(&mut enc).as_bytes());
                }
            }
            in_word = true;
        } else if in_word {
            buf.push(b' ');
            in_word = false;
        }
    }
    if in_word {
        buf.push(b' ');
    }
}

/// The DO already recorded for this script in this session, if any: its id, language and
/// language note.
fn known_do(
    hub: &Hub,
    session: &str,
    sha256: &str,
) -> Result<Option<(String, String, Option<String>)>> {
    Ok(hub
        .store
        .conn()
        .query_row(
            "SELECT id, lang, lang_note FROM dos WHERE session = ?1 AND sha256 = ?2",
            params![session, sha256],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?)
}

/// The language a new DO is recorded with, and how it was decided. A `zsh` block runs
/// under zsh where it is installed; elsewhere under bash (most of what a chat writes for
/// zsh is bash too), and the note says so.
fn settle_lang(d: &coagent_ingest::DoProposal) -> (String, Option<String>) {
    if d.lang != "zsh" || coagent_runner::find_interpreter(coagent_runner::Lang::Zsh).is_ok() {
        return (d.lang.clone(), d.lang_note.clone());
    }
    let how = match &d.lang_note {
        Some(n) => format!("{n}; "),
        None => "tagged `zsh`; ".to_string(),
    };
    (
        "bash".to_string(),
        Some(format!(
            "{how}zsh is not installed here, so it runs under bash (install zsh to run it as written)"
        )),
    )
}

fn session_echo(s: &Session) -> EchoStatus {
    match s.echo.as_str() {
        "verified" => EchoStatus::Verified,
        "stale" => EchoStatus::Stale,
        _ => EchoStatus::Missing,
    }
}

/// The session's echo (as recorded), and the version this reply's echo gave, if any.
fn echo_report(s: &Session, version: Option<String>) -> EchoReport {
    EchoReport {
        status: session_echo(s),
        version,
        expected: capsule::echo_line(&s.capsule_version),
    }
}

/// A reply known before: the session's records as they are, nothing new.
fn nothing_new(
    s: &Session,
    version: Option<String>,
    tokens: crate::vendor::Tokens,
) -> IngestReport {
    IngestReport {
        session: s.id.clone(),
        route: Route {
            by: "session".into(),
            tag: None,
            note: None,
        },
        turn: 0,
        drift: Vec::new(),
        echo: echo_report(s, version),
        dos: Vec::new(),
        incomplete_dos: Vec::new(),
        acks: Vec::new(),
        unreadable_acks: Vec::new(),
        dones: Vec::new(),
        questions: Vec::new(),
        messages: Vec::new(),
        next: None,
        duplicate: true,
        transcript: None,
        tokens,
        guard_findings: 0,
        warnings: Vec::new(),
    }
}

/// A reply known before by its words (copied either way): the DOs it proposes are the
/// ones recorded then.
fn duplicate_report(hub: &Hub, s: &Session, read: &Read<'_>) -> Result<IngestReport> {
    let reply = &read.reply;
    let warnings = read.warnings.clone();
    let mut dos = Vec::new();
    for d in &reply.dos {
        let known = known_do(hub, &s.id, &d.sha256)?;
        let todo: Option<String> = match &known {
            Some((id, _, _)) => {
                hub.store
                    .conn()
                    .query_row("SELECT todo_id FROM dos WHERE id = ?1", [id], |r| r.get(0))?
            }
            None => None,
        };
        let (id, lang, lang_note) = match known {
            Some(k) => k,
            None => (String::new(), d.lang.clone(), d.lang_note.clone()),
        };
        dos.push(DoReport {
            id,
            title: d.title.clone(),
            lang,
            lang_note,
            sha256: d.sha256.clone(),
            new: false,
            todo,
        });
    }
    Ok(IngestReport {
        dos,
        incomplete_dos: reply.incomplete_dos.clone(),
        unreadable_acks: reply.unreadable_acks.clone(),
        questions: reply.questions.clone(),
        guard_findings: read.guard_findings,
        warnings,
        ..nothing_new(
            s,
            reply.echo.as_ref().map(|e| e.version.clone()),
            read.tokens,
        )
    })
}

fn refuse_own_payload(hub: &Hub, s: &Session, reply: &coagent_ingest::Reply<'_>) -> Result<()> {
    let what = if let Some(p) = &reply.own_payload {
        Some(format!(
            "its header says kind={} id={}",
            p.kind.as_deref().unwrap_or("?"),
            p.id.as_deref().unwrap_or("?")
        ))
    } else {
        let mut stmt = hub.store.conn().prepare_cached(
            "SELECT path, kind FROM payloads WHERE session = ?1 ORDER BY created_at DESC LIMIT 8",
        )?;
        let recent: Vec<(String, String)> = stmt
            .query_map([&s.id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        recent.into_iter().find_map(|(path, kind)| {
            let text = std::fs::read_to_string(hub.dir.join(&path)).ok()?;
            // A payload pasted back is about the payload's size; skip the line-by-line
            // comparison for anything far from it.
            let (r, p) = (reply.text.len(), text.len());
            if r > 2 * p + 4096 || 3 * r < p {
                return None;
            }
            coagent_ingest::matches_payload(reply, &text)
                .then(|| format!("it is the text of the {kind} payload {path}"))
        })
    };
    match what {
        Some(w) => Err(Error::invalid(
            format!("this is one of CoAgent's own payloads, not a chat's reply ({w})"),
            Some(
                "paste it into the chat; then copy the chat's answer and run `coagent ingest`"
                    .to_string(),
            ),
        )),
        None => Ok(()),
    }
}

/// `NEXT k/n`: put part k+1 of the session's split payload on the clipboard.
fn answer_next(
    hub: &mut Hub,
    s: &Session,
    k: u32,
    n: u32,
    clip: &mut dyn Clipboard,
) -> Result<NextReport> {
    let pending: Option<String> = hub.store.conn().query_row(
        "SELECT pending_next FROM sessions WHERE id = ?1",
        [&s.id],
        |r| r.get(0),
    )?;
    let parts: Vec<String> = pending
        .and_then(|p| serde_json::from_str(&p).ok())
        .unwrap_or_default();
    if parts.len() != n as usize || k >= n || k == 0 {
        return Ok(NextReport {
            k,
            n,
            part: None,
            path: None,
            clipboard: None,
        });
    }
    let path = parts[k as usize].clone();
    let outcome = payload::copy_part(hub, &path, clip)?;
    Ok(NextReport {
        k,
        n,
        part: Some(k + 1),
        path: Some(path),
        clipboard: Some(outcome),
    })
}

#[cfg(test)]
mod tests {
    use super::reply_key;

    #[test]
    fn reply_key_sees_words_not_markup() {
        let copy =
            "Policy v1.0 loaded.\n\n**Two** DOs:\n\n```bash\n# DO: List\nls -1\n# END DO\n```\n";
        let rendered = "Policy v1.0 loaded.\r\n\r\nTwo DOs:\r\n\r\nbash\r\nCopy code\r\n# DO: List\r\nls -1\r\n# END DO\r\n";
        assert_eq!(reply_key(copy), reply_key(rendered));
        assert_ne!(reply_key(copy), reply_key(&copy.replace("Two", "Three")));
        assert_eq!(reply_key("Ünïcödé WORDS"), reply_key("ünïcödé words"));
    }

    /// The key as first written, char by char: the table-driven one must agree with it,
    /// so replies recorded by earlier versions are still known after an upgrade.
    fn reference_key(text: &str) -> String {
        use sha2::Digest;
        let mut words = String::new();
        let mut in_word = false;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with("```")
                || t.starts_with("~~~")
                || (t.len() <= 24 && super::UI_LINES.iter().any(|u| t.eq_ignore_ascii_case(u)))
            {
                continue;
            }
            for c in t.chars() {
                if c.is_ascii_alphanumeric() {
                    words.push(c.to_ascii_lowercase());
                    in_word = true;
                } else if !c.is_ascii() && c.is_alphanumeric() {
                    words.extend(c.to_lowercase());
                    in_word = true;
                } else if in_word {
                    words.push(' ');
                    in_word = false;
                }
            }
            if in_word {
                words.push(' ');
                in_word = false;
            }
        }
        hex::encode(sha2::Sha256::digest(words.as_bytes()))
    }

    #[test]
    fn reply_key_is_stable() {
        let reply = "Policy v1.0 loaded.\n\n## Plan — «Straße» İstanbul ΣΑΣ 😀 x\u{200b}y\n\n```bash\n# DO: x\necho 'a_b-c'\n# END DO\n```\nCopy code\n";
        assert_eq!(reply_key(reply), reference_key(reply));
        assert_eq!(
            reply_key(reply),
            "ce221fb01c4a9279cc585a82d0af9dc78a9730e0484122c3b407a0ef28abd44f"
        );
        let long: String = (0..4000)
            .map(|i| format!("Line {i}: Ärger über «{i}» — ok\n"))
            .collect();
        assert_eq!(reply_key(&long), reference_key(&long));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]
        #[test]
        fn reply_key_agrees_with_the_reference(
            lines in proptest::collection::vec("(```[a-z]*|Copy code|[ \\t]*[a-zA-Z0-9 _.,:'é€ßİΣ😀\u{a0}\u{200b}-]{0,40})", 0..30)
        ) {
            let text = lines.join("\n");
            proptest::prop_assert_eq!(reply_key(&text), reference_key(&text));
        }
    }
}
