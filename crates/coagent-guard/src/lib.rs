//! CoAgent's secret guard.
//!
//! Every byte CoAgent puts on the clipboard or in the outbox passes this guard (SPEC §8),
//! and `coagent guard scan` runs it on files, folders or stdin. This crate owns the
//! detection: rules, the scanning engine, `guard.toml` parsing and the parallel file walk.
//! It never decides what to do about a finding (refusing or redacting is the core crate's
//! job), never prints, and never puts a secret in anything it returns or logs: a
//! [`Finding`] carries a byte span, a line, a rule id and a masked preview.
//!
//! # Design: prefilter → regex → checks → allowlist
//!
//! 1. **Prefilter.** One Aho-Corasick automaton (ASCII-case-insensitive, overlapping
//!    matches) holds the keywords of every rule and the exact CoProfile private values.
//!    Clean text costs one pass of that automaton and nothing else. Keywords that are
//!    token prefixes (`ghp_`, `AKIA`, `sk-ant-`) are then checked byte for byte, so
//!    `task` does not wake the Twilio `SK…` rule.
//! 2. **Regex.** A rule's regex (`regex::bytes`, Unicode off: ASCII classes, small DFAs)
//!    runs only in windows around its keyword hits — the hit's line, a little more for
//!    very long lines, and more for multi-line blocks such as PEM keys. Windows of one
//!    rule are merged, so a line is searched once per rule. The credential-assignment
//!    rule, whose keywords (`token`, `pass`, `auth`…) are everyday words in code, is
//!    instead matched anchored right after each hit, behind a byte-level test for an
//!    assignment operator, so a hit like `next_token()` costs a few bytes. User rules from
//!    `guard.toml` run on the whole buffer once one of their keywords occurs (gitleaks
//!    semantics).
//! 3. **Checks.** Known formats need a low entropy floor (rejects `ghp_xxxx…`) and must not
//!    be placeholders (`EXAMPLE`, `12345678…`) or documented example keys. Values without a
//!    known shape (`password = …`, `.env` lines, `"secret": …`) must be literals (quoted,
//!    or ending their line as in `.env`/YAML/INI; `name: Type,` and `x = other;` are code)
//!    and look random: mixed character classes, no word structure (identifiers such as
//!    `SuperSecretToken` or `D3D12_MESSAGE_ID` are recognised by their letter pairs and
//!    case), no repeated or ascending pattern, and an entropy close to what a random
//!    string of that length and alphabet has. Passwords in URLs only need not to be
//!    obvious placeholders.
//! 4. **Allowlists.** The user's global and per-rule allowlists (regexes on the secret,
//!    the match or the line; stopwords; paths) drop what remains; they never apply to
//!    private values.
//!
//! Overlapping candidates are resolved by priority: private values, then specific
//! formats, then user rules, then the generic rules, so a GitHub token assigned to
//! `GITHUB_TOKEN=` is reported once, as `github-pat`.
//!
//! # Why hand-written
//!
//! No secret-detection crate on crates.io fits: the ones that exist are command-line tools
//! or pull large dependency trees, and CoAgent needs a library with exact private-value
//! matching, masked previews and byte spans for redaction. The engine is small and the
//! rules are a table (`rules.rs`), so adding a format is one row plus one corpus entry.

mod config;
mod engine;
mod entropy;
mod error;
mod rules;
mod walk;

pub use config::GuardConfig;
pub use engine::{Finding, Guard, MIN_PRIVATE_LEN, PRIVATE_RULE};
pub use entropy::{looks_random, shannon_entropy};
pub use error::GuardError;
pub use walk::{MAX_FILE_BYTES, PathFinding, ScanReport, scan_paths};
