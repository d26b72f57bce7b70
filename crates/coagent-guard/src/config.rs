//! `guard.toml`: the user's extra rules and allowlists, in the gitleaks config format.
//!
//! Owns parsing and validating that file (every regex is compiled here, so a bad one is
//! reported once, naming its rule). It never reads files itself: the caller passes text.
//!
//! Understood (gitleaks names): `[[rules]]` with `id`, `description`, `regex`,
//! `secretGroup`, `entropy`, `keywords`, `path`, `tags`, `[rules.allowlist]` /
//! `[[rules.allowlists]]`; the global `[allowlist]` / `[[allowlists]]` with `regexes`,
//! `regexTarget` (`secret` default, `match`, `line`), `stopwords`, `paths`;
//! `[extend] disabledRules`. Other keys (`title`, `commits`, `useDefault`…) are accepted
//! and ignored. A rule without `regex` (a gitleaks path-only rule) is accepted and inactive.

use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;

use crate::GuardError;

/// The parsed and validated `guard.toml`.
#[derive(Clone, Debug, Default)]
pub struct GuardConfig {
    pub(crate) rules: Vec<UserRule>,
    pub(crate) allowlists: Vec<Allowlist>,
    pub(crate) disabled: Vec<String>,
}

/// A user rule, compiled.
#[derive(Clone, Debug)]
pub(crate) struct UserRule {
    pub id: String,
    pub description: String,
    pub regex: Option<Regex>,
    pub keywords: Vec<String>,
    pub entropy: Option<f32>,
    pub secret_group: usize,
    pub path: Option<Regex>,
    pub allowlists: Vec<Allowlist>,
}

/// What an allowlist regex is matched against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    Secret,
    Match,
    Line,
}

/// A compiled allowlist.
#[derive(Clone, Debug)]
pub(crate) struct Allowlist {
    pub regexes: Vec<Regex>,
    pub target: Target,
    /// Lowercased; a finding whose secret contains one is allowed.
    pub stopwords: Vec<Vec<u8>>,
    pub paths: Vec<Regex>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawConfig {
    #[serde(default)]
    rules: Vec<RawRule>,
    allowlist: Option<RawAllowlist>,
    #[serde(default)]
    allowlists: Vec<RawAllowlist>,
    extend: Option<RawExtend>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawExtend {
    #[serde(default)]
    disabled_rules: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawRule {
    id: String,
    #[serde(default)]
    description: String,
    regex: Option<String>,
    #[serde(default)]
    secret_group: usize,
    entropy: Option<f64>,
    #[serde(default)]
    keywords: Vec<String>,
    path: Option<String>,
    allowlist: Option<RawAllowlist>,
    #[serde(default)]
    allowlists: Vec<RawAllowlist>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawAllowlist {
    #[serde(default)]
    regexes: Vec<String>,
    regex_target: Option<String>,
    #[serde(default)]
    stopwords: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
}

/// Compile a regex the way every guard regex is compiled: bytes, Unicode off (so `\w`,
/// `\b`, `(?i)` are ASCII and the DFA stays small), with a size limit against runaway
/// user patterns.
pub(crate) fn compile(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(16 * 1024 * 1024)
        .build()
}

impl GuardConfig {
    /// Parse and validate the text of `guard.toml`. An empty text is an empty config.
    ///
    /// # Errors
    /// [`GuardError::Config`] for invalid TOML or shape (the message has the line),
    /// [`GuardError::Rule`] naming the rule whose regex does not compile or whose id is
    /// repeated, [`GuardError::Allowlist`] for an allowlist regex that does not compile.
    pub fn parse(toml_text: &str) -> Result<GuardConfig, GuardError> {
        let raw: RawConfig = toml::from_str(toml_text).map_err(|e| GuardError::Config {
            message: e.to_string().trim_end().to_owned(),
        })?;
        let mut rules: Vec<UserRule> = Vec::with_capacity(raw.rules.len());
        for r in raw.rules {
            if r.id.trim().is_empty() {
                return Err(GuardError::Config {
                    message: "a [[rules]] entry has an empty `id`".to_owned(),
                });
            }
            if rules.iter().any(|u| u.id == r.id) {
                return Err(GuardError::Rule {
                    id: r.id,
                    message: "the id is used by another rule in this file".to_owned(),
                });
            }
            let regex = match &r.regex {
                Some(p) => Some(compile(p).map_err(|e| GuardError::Rule {
                    id: r.id.clone(),
                    message: format!("`regex` does not compile: {e}"),
                })?),
                None => None,
            };
            let path = match &r.path {
                Some(p) => Some(compile(p).map_err(|e| GuardError::Rule {
                    id: r.id.clone(),
                    message: format!("`path` does not compile: {e}"),
                })?),
                None => None,
            };
            if let Some(re) = &regex
                && r.secret_group >= re.captures_len()
            {
                return Err(GuardError::Rule {
                    id: r.id,
                    message: format!(
                        "`secretGroup = {}` but the regex has only {} group(s)",
                        r.secret_group,
                        re.captures_len() - 1
                    ),
                });
            }
            let mut allowlists = Vec::new();
            for a in r.allowlist.into_iter().chain(r.allowlists) {
                allowlists.push(Allowlist::compile(a, Some(&r.id))?);
            }
            #[allow(clippy::cast_possible_truncation)]
            rules.push(UserRule {
                keywords: r.keywords.iter().map(|k| k.to_ascii_lowercase()).collect(),
                entropy: r.entropy.map(|e| e as f32),
                secret_group: r.secret_group,
                description: r.description,
                id: r.id,
                regex,
                path,
                allowlists,
            });
        }
        let mut allowlists = Vec::new();
        for a in raw.allowlist.into_iter().chain(raw.allowlists) {
            allowlists.push(Allowlist::compile(a, None)?);
        }
        Ok(GuardConfig {
            rules,
            allowlists,
            disabled: raw.extend.map(|e| e.disabled_rules).unwrap_or_default(),
        })
    }

    /// Ids of the user rules, in file order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }
}

impl Allowlist {
    fn compile(raw: RawAllowlist, rule: Option<&str>) -> Result<Allowlist, GuardError> {
        let err = |message: String| GuardError::Allowlist {
            rule: rule.map(str::to_owned),
            message,
        };
        let target = match raw.regex_target.as_deref() {
            None | Some("secret") => Target::Secret,
            Some("match") => Target::Match,
            Some("line") => Target::Line,
            Some(other) => {
                return Err(err(format!(
                    "`regexTarget = \"{other}\"`: expected \"secret\", \"match\" or \"line\""
                )));
            }
        };
        let regexes = raw
            .regexes
            .iter()
            .map(|p| compile(p).map_err(|e| err(format!("regex `{p}` does not compile: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let paths = raw
            .paths
            .iter()
            .map(|p| compile(p).map_err(|e| err(format!("path `{p}` does not compile: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Allowlist {
            regexes,
            target,
            stopwords: raw
                .stopwords
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| s.to_ascii_lowercase().into_bytes())
                .collect(),
            paths,
        })
    }

    /// True when this allowlist lets the finding through (it is not reported).
    pub(crate) fn allows(&self, secret: &[u8], matched: &[u8], line: &[u8]) -> bool {
        let hay = match self.target {
            Target::Secret => secret,
            Target::Match => matched,
            Target::Line => line,
        };
        if self.regexes.iter().any(|r| r.is_match(hay)) {
            return true;
        }
        if !self.stopwords.is_empty() {
            let lower = secret.to_ascii_lowercase();
            return self
                .stopwords
                .iter()
                .any(|w| memchr::memmem::find(&lower, w).is_some());
        }
        false
    }

    /// True when this allowlist excludes the file at `path` entirely.
    pub(crate) fn allows_path(&self, path: &str) -> bool {
        self.paths.iter().any(|r| r.is_match(path.as_bytes()))
    }
}
