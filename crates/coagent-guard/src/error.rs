//! The guard's error type.
//!
//! Owns every way building a guard or scanning paths can fail. Messages name the rule id,
//! the `guard.toml` line or the path at fault, and never contain scanned content.

use std::path::PathBuf;

/// An error from parsing `guard.toml`, building a [`crate::Guard`] or scanning paths.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GuardError {
    /// `guard.toml` is not valid TOML or does not have the gitleaks config shape.
    #[error("guard.toml: {message}")]
    Config {
        /// The parser's message, which includes the line and column.
        message: String,
    },
    /// A user rule is unusable (its regex does not compile, a duplicate id, …).
    #[error("guard.toml: rule `{id}`: {message}")]
    Rule {
        /// The rule's `id`.
        id: String,
        /// What is wrong with it.
        message: String,
    },
    /// An allowlist regex does not compile.
    #[error("guard.toml: allowlist{}: {message}", rule.as_ref().map(|r| format!(" of rule `{r}`")).unwrap_or_default())]
    Allowlist {
        /// The rule the allowlist belongs to, `None` for the global one.
        rule: Option<String>,
        /// What is wrong with it.
        message: String,
    },
    /// A path given to [`crate::scan_paths`] cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The path as given.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}
