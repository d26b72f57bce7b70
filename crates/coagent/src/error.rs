//! The library's one error type. Every variant a user can cause carries a hint that names
//! the command or edit that fixes it; the binary prints the message, the hint, and maps
//! [`Error::is_user`] to exit code 1 (user error) or 2 (internal error).

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("no CoAgent hub here or in any parent of {}", start.display())]
    NoHub { start: PathBuf },
    #[error("a CoAgent hub already exists at {}", path.display())]
    HubExists { path: PathBuf },
    #[error("{} is not valid: {message}", file.display())]
    Config { file: PathBuf, message: String },
    #[error("policy.md changed since capsule v{version} was locked (sha256 {locked} → {current})")]
    CapsuleChanged {
        version: String,
        locked: String,
        current: String,
    },
    #[error("no {kind} matches `{id}`")]
    NotFound {
        kind: &'static str,
        /// As the user typed it.
        id: String,
        /// Known ids close to it ("did you mean").
        near: Vec<String>,
    },
    #[error("`{id}` matches several {kind}s: {}", candidates.join(", "))]
    Ambiguous {
        kind: &'static str,
        id: String,
        candidates: Vec<String>,
    },
    #[error("unknown vendor `{name}`")]
    UnknownVendor { name: String, known: Vec<String> },
    #[error("{message}")]
    Invalid {
        message: String,
        hint: Option<String>,
    },
    #[error("the payload was refused by the secret guard: {count} finding(s)\n{report}")]
    GuardRefused { count: usize, report: String },
    #[error("the hub's store is busy (another coagent process holds it)")]
    StoreBusy,
    #[error("the hub at {} is read-only", path.display())]
    ReadOnly { path: PathBuf },
    /// The store cannot be trusted: empty, not a database, or damaged. Nothing is written
    /// to it; `coagent doctor` says what is wrong and restores a backup.
    #[error("the hub's store {} {problem}", path.display())]
    StoreDamaged { path: PathBuf, problem: String },
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the hub's store failed")]
    Store(#[source] rusqlite::Error),
    #[error("template `{name}` failed to render")]
    Template {
        name: String,
        #[source]
        source: minijinja::Error,
    },
    #[error("{0}")]
    Internal(String),
}

impl Error {
    /// A user error with an optional hint.
    pub fn invalid(message: impl Into<String>, hint: impl Into<Option<String>>) -> Self {
        Error::Invalid {
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error::Io {
            context: context.into(),
            source,
        }
    }

    /// `true` when the user can fix it (exit code 1); `false` for internal failures (2).
    pub fn is_user(&self) -> bool {
        // A template that fails is the hub's override (the built-ins are tested).
        !matches!(self, Error::Store(_) | Error::Internal(_))
            && !matches!(self, Error::Io { source, .. } if source.kind() != std::io::ErrorKind::PermissionDenied && source.kind() != std::io::ErrorKind::NotFound)
    }

    /// What the user should do next, naming the command when there is one.
    pub fn hint(&self) -> Option<String> {
        Some(match self {
            Error::NoHub { .. } => {
                "run `coagent init` in your project's root, or pass `--hub DIR` / set COAGENT_HUB"
                    .into()
            }
            Error::HubExists { .. } => {
                "the existing hub is kept as it is; use it, or remove that folder yourself first"
                    .into()
            }
            Error::Config { .. } => "fix the file at the line named above, then run the command again".into(),
            Error::CapsuleChanged { .. } => {
                "run `coagent capsule bump minor` (or `patch`/`major`) to lock the new content, or undo the edit; `coagent capsule diff` shows what changed".into()
            }
            Error::NotFound { kind, near, .. } => match (near.as_slice(), list_command(kind)) {
                ([], Some(cmd)) => format!("`{cmd}` shows the known ids"),
                ([], None) if *kind == "capsule version" => {
                    "the locked versions are the files in .coagent/capsules/".into()
                }
                ([], None) => return None,
                (near, cmd) => format!(
                    "did you mean {}?{}",
                    near.join(" or "),
                    cmd.map(|c| format!(" (`{c}` shows the known ids)")).unwrap_or_default()
                ),
            },
            Error::Ambiguous { .. } => "type more characters of the id".into(),
            Error::UnknownVendor { known, .. } => {
                format!("known vendors: {} (`coagent vendors` shows them)", known.join(", "))
            }
            Error::Invalid { hint, .. } => return hint.clone(),
            Error::GuardRefused { .. } => {
                "pass `--redact` to mask each finding as [REDACTED:<rule>], or add an allowlist entry to .coagent/guard.toml".into()
            }
            Error::Template { name, .. } => format!(
                "fix or remove .coagent/templates/{name}; without it the built-in template is used"
            ),
            Error::StoreBusy => "wait for the other coagent command to finish, then try again".into(),
            Error::ReadOnly { .. } => "make the hub writable (chmod u+w) or run as its owner".into(),
            Error::StoreDamaged { .. } => {
                "run `coagent doctor` to see what is wrong, and `coagent doctor --repair` to restore the newest good backup of the store".into()
            }
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => {
                "check the permissions of the hub and the project folder".into()
            }
            _ => return None,
        })
    }
}

/// The command that lists the known ids of a kind.
fn list_command(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "session" => "coagent session list",
        "DO" => "coagent do list",
        "message" => "coagent backchat list",
        "wrap" => "coagent wraps",
        "todo" => "coagent todo list --all",
        "artifact" => "coagent artifact list",
        _ => return None,
    })
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) =>
            {
                Error::StoreBusy
            }
            rusqlite::Error::SqliteFailure(f, msg)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase
                ) =>
            {
                Error::StoreDamaged {
                    path: PathBuf::from(".coagent/store.db"),
                    problem: format!(
                        "is damaged: {}",
                        msg.clone().unwrap_or_else(|| f.to_string())
                    ),
                }
            }
            rusqlite::Error::SqliteFailure(f, _)
                if f.code == rusqlite::ErrorCode::ReadOnly
                    || f.code == rusqlite::ErrorCode::CannotOpen =>
            {
                Error::ReadOnly {
                    path: PathBuf::from(".coagent"),
                }
            }
            _ => Error::Store(e),
        }
    }
}
