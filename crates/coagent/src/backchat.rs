//! BackchatMessage: the one message format between sessions and the human (SPEC §5).
//!
//! The Rust types here are the source of truth; `schemas/BackchatMessage.schema.json` in the
//! repository is generated from them (JSON Schema 2020-12) and a test fails when the two
//! drift. Incoming messages are validated against that committed schema, offline, with the
//! `jsonschema` crate, and each error is reported with its JSON pointer.

use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The committed schema, embedded so that validation never needs the network or the repo.
pub const SCHEMA_JSON: &str = include_str!("../../../schemas/BackchatMessage.schema.json");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum SchemaTag {
    #[serde(rename = "coagent.backchat.v1")]
    V1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MessageKind {
    Handoff,
    Todo,
    Request,
    Result,
    Ack,
    Note,
    Wrap,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Handoff => "handoff",
            MessageKind::Todo => "todo",
            MessageKind::Request => "request",
            MessageKind::Result => "result",
            MessageKind::Ack => "ack",
            MessageKind::Note => "note",
            MessageKind::Wrap => "wrap",
        }
    }

    pub fn parse(s: &str) -> Option<MessageKind> {
        serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase())).ok()
    }
}

/// The capsule a message was written under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CapsuleRef {
    /// Semver of the Policy Capsule.
    #[schemars(pattern(r"^[0-9]+\.[0-9]+\.[0-9]+$"))]
    pub version: String,
    /// sha256 (hex) of the capsule's canonical content.
    #[schemars(pattern(r"^[0-9a-f]{64}$"))]
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TodoItem {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub acceptance: String,
    pub status: TodoStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TodoStatus {
    Open,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ArtifactKind {
    File,
    Diff,
    Log,
    Commit,
    Pr,
    Url,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ArtifactRef {
    /// `artifact:A-…`, `commit:<sha>`, `PR #12`, a URL or a project path.
    #[serde(rename = "ref")]
    pub reference: String,
    pub kind: ArtifactKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(r"^[0-9a-f]{64}$"))]
    pub sha256: Option<String>,
}

/// One message between sessions and the human, rendered paste-ready in a ```` ```coagent ````
/// block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "BackchatMessage")]
pub struct BackchatMessage {
    pub schema: SchemaTag,
    #[schemars(pattern(r"^BC-[0-9A-HJKMNP-TV-Z]{26}$"))]
    pub id: String,
    pub kind: MessageKind,
    /// Session id, vendor name, `human` or `coagent`.
    #[schemars(length(min = 1))]
    pub from: String,
    /// Session id, vendor name, or `ANY`.
    #[schemars(length(min = 1))]
    pub to: String,
    /// RFC 3339, UTC.
    #[schemars(extend("format" = "date-time"))]
    pub created_at: String,
    pub capsule: CapsuleRef,
    pub subject: String,
    /// Markdown.
    pub body: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub todos: Vec<TodoItem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub artifacts: Vec<ArtifactRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub requires_ack: bool,
}

impl BackchatMessage {
    /// Pretty JSON, as kept in the store and in a wrap's archive.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// One line of JSON, as pasted in a `coagent` block: the chat needs its ids, not its
    /// indentation, and every token pasted shortens the chat's useful life.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The schema generated from the types (what `schemas/BackchatMessage.schema.json` must hold).
pub fn generated_schema() -> String {
    let schema = schemars::schema_for!(BackchatMessage);
    let mut s = serde_json::to_string_pretty(&schema).unwrap_or_default();
    s.push('\n');
    s
}

impl std::fmt::Display for SchemaError {
    /// `/capsule/sha256: "xyz" does not match …`; `/` for the document itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// One schema violation: where (JSON pointer) and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaError {
    pub pointer: String,
    pub message: String,
}

fn validator() -> Result<&'static jsonschema::Validator> {
    static V: OnceLock<std::result::Result<jsonschema::Validator, String>> = OnceLock::new();
    V.get_or_init(|| {
        let schema: serde_json::Value =
            serde_json::from_str(SCHEMA_JSON).map_err(|e| e.to_string())?;
        jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| {
        Error::Internal(format!(
            "the committed BackchatMessage schema is broken: {e}"
        ))
    })
}

/// Validates JSON text against the committed schema. `Ok(errors)`: empty when valid.
pub fn validate_text(text: &str) -> Result<Vec<SchemaError>> {
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(v) => validate_value(&v),
        Err(e) => Ok(vec![SchemaError {
            pointer: String::new(),
            message: format!("not JSON: {e} (line {}, column {})", e.line(), e.column()),
        }]),
    }
}

pub fn validate_value(v: &serde_json::Value) -> Result<Vec<SchemaError>> {
    let mut out: Vec<SchemaError> = validator()?
        .iter_errors(v)
        .map(|e| SchemaError {
            pointer: e.instance_path().to_string(),
            message: e.to_string(),
        })
        .collect();
    out.sort_by(|a, b| a.pointer.cmp(&b.pointer).then(a.message.cmp(&b.message)));
    Ok(out)
}

/// A message as the hub recorded it.
#[derive(Debug, Clone, Serialize)]
pub struct Recorded {
    pub id: String,
    pub session: Option<String>,
    pub direction: String,
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub valid: bool,
    pub errors: Vec<SchemaError>,
    pub requires_ack: bool,
    pub acked_at: Option<i64>,
    pub created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<serde_json::Value>,
}

fn recorded_row(r: &rusqlite::Row<'_>, with_json: bool) -> rusqlite::Result<Recorded> {
    let errors: String = r.get(7)?;
    let json: String = r.get(11)?;
    Ok(Recorded {
        id: r.get(0)?,
        session: r.get(1)?,
        direction: r.get(2)?,
        kind: r.get(3)?,
        to: r.get(4)?,
        subject: r.get(5)?,
        valid: r.get::<_, i64>(6)? != 0,
        errors: serde_json::from_str(&errors).unwrap_or_default(),
        requires_ack: r.get::<_, i64>(8)? != 0,
        acked_at: r.get(9)?,
        created_at: r.get(10)?,
        message: if with_json {
            serde_json::from_str(&json).ok()
        } else {
            None
        },
    })
}

const RECORDED_COLS: &str = "id, session, direction, kind, to_target, subject, valid, errors, requires_ack, acked_at, created_at, json";

/// Which messages `backchat list` shows.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub session: Option<String>,
    pub kind: Option<String>,
    pub window: crate::store::Window,
}

/// Messages, newest first, handed to `each` one at a time; says whether more matched than
/// the window shows.
pub fn list(
    hub: &crate::hub::Hub,
    f: &Filter,
    each: impl FnMut(Recorded) -> Result<()>,
) -> Result<bool> {
    use crate::store;
    store::list(
        hub.store.conn(),
        &format!("SELECT {RECORDED_COLS} FROM messages"),
        &[
            ("session = ?", store::text(f.session.as_deref())),
            ("kind = ?", store::text(f.kind.as_deref())),
            ("created_at >= ?", store::since(f.window)),
        ],
        "created_at DESC, id DESC",
        f.window,
        |r| recorded_row(r, false),
        each,
    )
}

pub fn get(hub: &crate::hub::Hub, typed: &str) -> Result<Recorded> {
    let id = crate::store::resolve_id(
        hub.store.conn(),
        "messages",
        crate::id::Kind::Message,
        typed,
    )?;
    Ok(hub.store.conn().query_row(
        &format!("SELECT {RECORDED_COLS} FROM messages WHERE id = ?1"),
        [id],
        |r| recorded_row(r, true),
    )?)
}

/// What `backchat emit` sends.
#[derive(Debug, Clone)]
pub struct Emit {
    pub to: String,
    pub kind: MessageKind,
    pub subject: String,
    pub body: String,
    pub requires_ack: bool,
    pub reply_to: Option<String>,
    pub session: Option<String>,
    pub redact: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Emitted {
    pub id: String,
    pub message: BackchatMessage,
    #[serde(flatten)]
    pub sent: crate::payload::Sent,
}

/// Builds a message, renders it paste-ready and sends it through the outbox.
pub fn emit(
    hub: &mut crate::hub::Hub,
    e: Emit,
    clip: &mut dyn crate::clipboard::Clipboard,
) -> Result<Emitted> {
    // A session named must exist; without one, the newest open session (or none).
    let s = match e.session.as_deref() {
        Some(typed) => Some(crate::session::get(hub, typed)?),
        None => crate::session::resolve(hub, None).ok(),
    };
    let capsule = match &s {
        Some(s) => CapsuleRef {
            version: s.capsule_version.clone(),
            sha256: s.capsule_sha256.clone(),
        },
        None => {
            let c = crate::capsule::current(&hub.dir)?;
            CapsuleRef {
                version: c.version,
                sha256: c.sha256,
            }
        }
    };
    if e.subject.trim().is_empty() {
        return Err(Error::invalid(
            "a message needs a subject",
            Some("--subject \"…\"".to_string()),
        ));
    }
    let id = hub.new_id(crate::id::Kind::Message);
    let now = hub.now_ms();
    let message = BackchatMessage {
        schema: SchemaTag::V1,
        id: id.clone(),
        kind: e.kind,
        from: "human".into(),
        to: e.to.clone(),
        created_at: crate::clock::rfc3339(now),
        capsule,
        subject: e.subject.trim().to_string(),
        body: e.body.clone(),
        todos: Vec::new(),
        artifacts: Vec::new(),
        reply_to: e.reply_to.clone(),
        requires_ack: e.requires_ack,
    };
    let errors = validate_value(
        &serde_json::to_value(&message).map_err(|er| Error::Internal(er.to_string()))?,
    )?;
    if !errors.is_empty() {
        return Err(Error::invalid(
            format!(
                "the message is not schema-valid: {}",
                errors
                    .iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            None,
        ));
    }
    let cfg = hub.config()?;
    let vendor_name = s
        .as_ref()
        .map(|s| s.vendor.clone())
        .unwrap_or_else(|| "generic".to_string());
    let v = crate::vendor::find(&cfg, &vendor_name)?;
    let templates = crate::template::Templates::load(Some(&hub.dir))?;
    let line = message.to_line();
    let text = templates.render(
        "message.md",
        serde_json::json!({"id": id, "kind": message.kind.as_str(), "subject": message.subject, "body": message.body, "message_json": line, "requires_ack": message.requires_ack}),
    )?;
    let parts = crate::turns::Parts::message(&text, &line);
    let session_id = s.as_ref().map(|s| s.id.clone());
    let stem = format!(
        "{}-message-{}",
        session_id.clone().unwrap_or_else(|| "hub".into()),
        id
    );
    let out = crate::payload::Outgoing {
        session: session_id.clone(),
        kind: "message".into(),
        stem,
        id: id.clone(),
        text,
        parts,
    };
    let json = message.to_json();
    let (mid, sid, kind, to, subject, ack) = (
        id.clone(),
        session_id.clone(),
        message.kind.as_str(),
        message.to.clone(),
        message.subject.clone(),
        message.requires_ack,
    );
    // The message's record lands with its payload: an ACK for it is never "unknown".
    let extra = crate::payload::Extra {
        files: Vec::new(),
        sql: Some(Box::new(move |tx: &rusqlite::Transaction<'_>| {
            tx.execute(
                "INSERT INTO messages (id, session, direction, kind, to_target, subject, json, valid, requires_ack, created_at)
                 VALUES (?1, ?2, 'out', ?3, ?4, ?5, ?6, 1, ?7, ?8)",
                rusqlite::params![mid, sid, kind, to, subject, json, ack as i64, now],
            )?;
            Ok(())
        })),
    };
    let sent = crate::payload::send_with(hub, &v, out, e.redact, clip, extra)?;
    Ok(Emitted { id, message, sent })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BackchatMessage {
        BackchatMessage {
            schema: SchemaTag::V1,
            id: "BC-01JDQ0000000000000000000AB".to_string(),
            kind: MessageKind::Handoff,
            from: "coagent".into(),
            to: "ANY".into(),
            created_at: "2026-11-24T06:00:00Z".into(),
            capsule: CapsuleRef {
                version: "1.0.0".into(),
                sha256: "0".repeat(64),
            },
            subject: "Boot".into(),
            body: "Hello".into(),
            todos: vec![TodoItem {
                id: "T-1".into(),
                title: "x".into(),
                acceptance: String::new(),
                status: TodoStatus::Open,
            }],
            artifacts: vec![ArtifactRef {
                reference: "artifact:A-1".into(),
                kind: ArtifactKind::Log,
                sha256: None,
            }],
            reply_to: None,
            requires_ack: true,
        }
    }

    /// The committed schema is what the types generate. Regenerate with
    /// `COAGENT_BLESS=1 cargo test -p coagent committed_schema`.
    #[test]
    fn committed_schema_matches_types() {
        let generated = generated_schema();
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../schemas/BackchatMessage.schema.json"
        );
        if std::env::var_os("COAGENT_BLESS").is_some() {
            std::fs::write(path, &generated).expect("write schema");
            return;
        }
        assert_eq!(
            SCHEMA_JSON, generated,
            "schemas/BackchatMessage.schema.json drifted from the Rust types; run COAGENT_BLESS=1 cargo test -p coagent committed_schema"
        );
    }

    #[test]
    fn a_well_formed_message_is_valid_and_round_trips() {
        let m = sample();
        assert_eq!(validate_text(&m.to_json()).expect("validate"), vec![]);
        let back: BackchatMessage = serde_json::from_str(&m.to_json()).expect("parse");
        assert_eq!(back, m);
    }

    #[test]
    fn errors_carry_json_pointers() {
        let mut v = serde_json::to_value(sample()).expect("value");
        v["kind"] = "gossip".into();
        v["capsule"]["sha256"] = "xyz".into();
        v["created_at"] = "yesterday".into();
        let errs = validate_value(&v).expect("validate");
        let pointers: Vec<_> = errs.iter().map(|e| e.pointer.as_str()).collect();
        assert!(pointers.contains(&"/kind"), "{errs:?}");
        assert!(pointers.contains(&"/capsule/sha256"), "{errs:?}");
        assert!(pointers.contains(&"/created_at"), "{errs:?}");
        assert_eq!(validate_text("{not json").expect("v")[0].pointer, "");
    }
}
