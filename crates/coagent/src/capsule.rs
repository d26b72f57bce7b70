//! The Policy Capsule: the versioned rules every session starts with.
//!
//! The source is `policy.md` in the hub. Its canonical content (LF line ends, no trailing
//! spaces, one final newline) is hashed with sha256; the version (semver) and that hash are
//! locked in `capsule.lock`, and each locked version's content is kept under `capsules/` so
//! that `capsule diff` can compare any two. Editing `policy.md` without `capsule bump` makes
//! the capsule *changed*: `check` fails and `start` refuses, so no chat ever boots with rules
//! whose version does not say what they are.

use std::fs;
use std::path::Path;

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::clock::{Millis, rfc3339};
use crate::{Error, Result, fsx};

pub const POLICY_FILE: &str = "policy.md";
pub const LOCK_FILE: &str = "capsule.lock";
pub const HISTORY_DIR: &str = "capsules";
pub const DEFAULT_POLICY: &str = include_str!("../assets/policy.md");

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    pub version: String,
    pub sha256: String,
    pub locked_at: String,
}

/// The capsule a session boots with.
#[derive(Debug, Clone, Serialize)]
pub struct Capsule {
    pub version: String,
    pub sha256: String,
    #[serde(skip)]
    pub policy: String,
}

impl Capsule {
    /// The exact line the chat must answer: `Policy v1.2 loaded.`
    pub fn echo(&self) -> String {
        echo_line(&self.version)
    }

    pub fn short_hash(&self) -> &str {
        &self.sha256[..self.sha256.len().min(8)]
    }
}

pub fn echo_line(version: &str) -> String {
    match Version::parse(version) {
        Ok(v) => format!("Policy v{}.{} loaded.", v.major, v.minor),
        Err(_) => format!("Policy v{version} loaded."),
    }
}

/// How an echo compares with the capsule a session booted with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EchoStatus {
    Verified,
    Stale,
    Missing,
}

impl EchoStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EchoStatus::Verified => "verified",
            EchoStatus::Stale => "stale",
            EchoStatus::Missing => "missing",
        }
    }
}

/// `echoed` is the version as the chat wrote it (`1.2` or `1.2.3`); `hash` the optional
/// hash it added in parentheses (any prefix of the capsule's sha256 of 7+ hex digits).
pub fn check_echo(
    booted_version: &str,
    booted_sha: &str,
    echoed: &str,
    hash: Option<&str>,
) -> EchoStatus {
    let Ok(v) = Version::parse(booted_version) else {
        return EchoStatus::Stale;
    };
    let parts: Vec<&str> = echoed.split('.').collect();
    let version_ok = match parts.as_slice() {
        [ma, mi] => ma.parse() == Ok(v.major) && mi.parse() == Ok(v.minor),
        [ma, mi, pa] => {
            ma.parse() == Ok(v.major) && mi.parse() == Ok(v.minor) && pa.parse() == Ok(v.patch)
        }
        _ => false,
    };
    let hash_ok = hash.is_none_or(|h| {
        let h = h.trim().trim_start_matches("sha256:").to_ascii_lowercase();
        h.len() >= 7 && booted_sha.starts_with(&h)
    });
    if version_ok && hash_ok {
        EchoStatus::Verified
    } else {
        EchoStatus::Stale
    }
}

/// LF line ends, no trailing whitespace, no BOM, exactly one final newline.
pub fn canonical(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = String::with_capacity(text.len());
    for line in text.replace("\r\n", "\n").replace('\r', "\n").lines() {
        out.push_str(line.trim_end());
        out.push('\n');
    }
    let trimmed = out.trim_end_matches('\n').len();
    out.truncate(trimmed);
    out.push('\n');
    out
}

fn read_policy(hub_dir: &Path) -> Result<String> {
    let p = hub_dir.join(POLICY_FILE);
    if !p.exists() {
        return Err(Error::invalid(
            format!("{} is missing", p.display()),
            Some(format!(
                "restore it, e.g. from {}/<version>.md",
                HISTORY_DIR
            )),
        ));
    }
    Ok(canonical(&fsx::read_to_string(&p)?))
}

pub fn read_lock(hub_dir: &Path) -> Result<Lock> {
    let p = hub_dir.join(LOCK_FILE);
    let text = fsx::read_to_string(&p)?;
    let lock: Lock = toml::from_str(&text).map_err(|e| Error::Config {
        file: p.clone(),
        message: crate::config::toml_error(&text, &e),
    })?;
    if lock.sha256.len() != 64 || !lock.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::Config {
            file: p.clone(),
            message: "sha256 must be 64 hex digits".to_string(),
        });
    }
    Version::parse(&lock.version).map_err(|e| Error::Config {
        file: p.clone(),
        message: format!("version `{}` is not semver: {e}", lock.version),
    })?;
    Ok(lock)
}

fn write_lock(hub_dir: &Path, version: &Version, policy: &str, now: Millis) -> Result<Lock> {
    let lock = Lock {
        version: version.to_string(),
        sha256: fsx::sha256_hex(policy.as_bytes()),
        locked_at: rfc3339(now),
    };
    fsx::write_atomic(
        &hub_dir.join(HISTORY_DIR).join(format!("{version}.md")),
        policy.as_bytes(),
    )?;
    let text = format!(
        "# Locked by `coagent capsule bump`; do not edit by hand.\n{}",
        toml::to_string(&lock).map_err(|e| Error::Internal(e.to_string()))?
    );
    fsx::write_atomic(&hub_dir.join(LOCK_FILE), text.as_bytes())?;
    Ok(lock)
}

/// Locks the shipped policy as v1.0.0 in a new hub.
pub fn lock_initial(hub_dir: &Path, now: Millis) -> Result<Lock> {
    let policy = read_policy(hub_dir)?;
    write_lock(hub_dir, &Version::new(1, 0, 0), &policy, now)
}

/// Where the capsule stands: the locked version and whether `policy.md` still matches it.
#[derive(Debug, Clone, Serialize)]
pub struct CapsuleState {
    pub version: String,
    pub sha256: String,
    pub current_sha256: String,
    pub changed: bool,
    pub echo: String,
}

pub fn state(hub_dir: &Path) -> Result<CapsuleState> {
    let lock = read_lock(hub_dir)?;
    let current = fsx::sha256_hex(read_policy(hub_dir)?.as_bytes());
    Ok(CapsuleState {
        echo: echo_line(&lock.version),
        changed: current != lock.sha256,
        version: lock.version,
        sha256: lock.sha256,
        current_sha256: current,
    })
}

/// The locked capsule, refusing when `policy.md` was edited without a bump.
pub fn current(hub_dir: &Path) -> Result<Capsule> {
    let lock = read_lock(hub_dir)?;
    let policy = read_policy(hub_dir)?;
    let sha = fsx::sha256_hex(policy.as_bytes());
    if sha != lock.sha256 {
        return Err(Error::CapsuleChanged {
            version: lock.version,
            locked: lock.sha256[..8.min(lock.sha256.len())].to_string(),
            current: sha[..8].to_string(),
        });
    }
    Ok(Capsule {
        version: lock.version,
        sha256: lock.sha256,
        policy,
    })
}

/// A locked version's content (from `capsules/`), for respawns that boot an older capsule.
pub fn at_version(hub_dir: &Path, version: &str) -> Result<Capsule> {
    let p = hub_dir.join(HISTORY_DIR).join(format!("{version}.md"));
    if !p.exists() {
        return Err(Error::NotFound {
            kind: "capsule version",
            id: version.to_string(),
            near: Vec::new(),
        });
    }
    let policy = canonical(&fsx::read_to_string(&p)?);
    Ok(Capsule {
        version: version.to_string(),
        sha256: fsx::sha256_hex(policy.as_bytes()),
        policy,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Major,
    Minor,
    Patch,
}

#[derive(Debug, Clone, Serialize)]
pub struct Bump {
    pub from: String,
    pub to: String,
    pub sha256: String,
    pub content_changed: bool,
    pub echo: String,
}

pub fn bump(hub_dir: &Path, level: Level, now: Millis) -> Result<Bump> {
    let lock = read_lock(hub_dir)?;
    let policy = read_policy(hub_dir)?;
    let mut v = Version::parse(&lock.version).map_err(|e| Error::Internal(e.to_string()))?;
    match level {
        Level::Major => v = Version::new(v.major + 1, 0, 0),
        Level::Minor => v = Version::new(v.major, v.minor + 1, 0),
        Level::Patch => v = Version::new(v.major, v.minor, v.patch + 1),
    }
    let new = write_lock(hub_dir, &v, &policy, now)?;
    Ok(Bump {
        content_changed: new.sha256 != lock.sha256,
        from: lock.version,
        echo: echo_line(&new.version),
        to: new.version,
        sha256: new.sha256,
    })
}

/// Locked versions, oldest first.
pub fn versions(hub_dir: &Path) -> Result<Vec<String>> {
    let dir = hub_dir.join(HISTORY_DIR);
    let mut v: Vec<Version> = fs::read_dir(&dir)
        .map_err(|e| Error::io(format!("cannot read {}", dir.display()), e))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()?
                .strip_suffix(".md")
                .and_then(|s| Version::parse(s).ok())
        })
        .collect();
    v.sort();
    Ok(v.into_iter().map(|v| v.to_string()).collect())
}

/// A unified diff between two versions; `None` for `b` means the working `policy.md`, and
/// for `a` the locked version.
pub fn diff(hub_dir: &Path, a: Option<&str>, b: Option<&str>) -> Result<String> {
    let lock = read_lock(hub_dir)?;
    let a = a
        .map(|s| s.trim_start_matches('v').to_string())
        .unwrap_or(lock.version);
    let (a_text, a_name) = (at_version(hub_dir, &a)?.policy, format!("v{a}"));
    let (b_text, b_name) = match b {
        Some(b) => {
            let b = b.trim_start_matches('v');
            (at_version(hub_dir, b)?.policy, format!("v{b}"))
        }
        None => (read_policy(hub_dir)?, POLICY_FILE.to_string()),
    };
    Ok(similar::TextDiff::from_lines(&a_text, &b_text)
        .unified_diff()
        .context_radius(3)
        .header(&a_name, &b_name)
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hub() -> tempfile::TempDir {
        let d = tempfile::tempdir().expect("tempdir");
        fsx::write_atomic(&d.path().join(POLICY_FILE), DEFAULT_POLICY.as_bytes()).expect("write");
        lock_initial(d.path(), 0).expect("lock");
        d
    }

    #[test]
    fn canonical_ignores_line_ends_and_trailing_space() {
        assert_eq!(canonical("\u{feff}a  \r\nb\r\n\n\n"), "a\nb\n");
        assert_eq!(canonical("a\nb"), canonical("a \nb\n"));
    }

    #[test]
    fn edit_without_bump_is_refused_then_bump_locks_it() {
        let d = hub();
        assert!(!state(d.path()).expect("state").changed);
        fsx::write_atomic(&d.path().join(POLICY_FILE), b"# New rules\n").expect("edit");
        assert!(state(d.path()).expect("state").changed);
        assert!(matches!(
            current(d.path()),
            Err(Error::CapsuleChanged { .. })
        ));
        let b = bump(d.path(), Level::Minor, 0).expect("bump");
        assert_eq!((b.from.as_str(), b.to.as_str()), ("1.0.0", "1.1.0"));
        assert!(b.content_changed);
        assert_eq!(
            current(d.path()).expect("clean").echo(),
            "Policy v1.1 loaded."
        );
        assert_eq!(
            versions(d.path()).expect("versions"),
            vec!["1.0.0", "1.1.0"]
        );
        let diff = diff(d.path(), Some("1.0.0"), Some("1.1.0")).expect("diff");
        assert!(diff.contains("+# New rules"), "{diff}");
    }

    #[test]
    fn echo_checks() {
        let sha = "abcdef0123456789";
        assert_eq!(check_echo("1.2.0", sha, "1.2", None), EchoStatus::Verified);
        assert_eq!(
            check_echo("1.2.3", sha, "1.2.3", Some("abcdef01")),
            EchoStatus::Verified
        );
        assert_eq!(check_echo("1.2.3", sha, "1.2.4", None), EchoStatus::Stale);
        assert_eq!(check_echo("1.2.0", sha, "1.1", None), EchoStatus::Stale);
        assert_eq!(
            check_echo("1.2.0", sha, "1.2", Some("deadbeef")),
            EchoStatus::Stale
        );
    }
}
