//! The secret guard, as the hub applies it. The engine is the `coagent-guard` crate; this
//! module loads the hub's `guard.toml` and the CoProfile's private values into it, and
//! enforces it on everything that leaves: a finding refuses the payload (with a report that
//! says where, which rule, and a masked preview) unless the user asked for `--redact`.
//! Every refusal and redaction is recorded as an event with counts and rule ids, never the
//! value.

use coagent_guard::{Finding, Guard, GuardConfig};
use serde::Serialize;

use crate::hub::Hub;
use crate::{Error, Result, fsx, store};

pub const CONFIG_FILE: &str = "guard.toml";

pub const DEFAULT_CONFIG: &str = r#"# Secret guard settings, in gitleaks' rule format: a gitleaks config mostly just works.
# The built-in rules (cloud, VCS, CI, chat, payment, e-mail and AI-API tokens, private keys,
# JWTs, passwords in URLs, credential assignments) and the [private] values of
# profile.toml always apply.
#
# [[rules]]
# id = "acme-internal-token"
# description = "ACME internal API token"
# regex = '''acme_[a-z0-9]{32}'''
# keywords = ["acme_"]
# entropy = 3.5          # optional: the secret must look this random
# secretGroup = 0        # optional: which capture group is the secret
#
# [allowlist]
# description = "values that are fine to paste"
# regexes = ['''EXAMPLE[A-Z0-9]*''']
# stopwords = ["dummy", "changeme"]
# paths = ['''fixtures/''']
"#;

/// The guard of this hub (built once per process; see [`Hub::guard`]).
pub fn for_hub(hub: &Hub) -> Result<std::rc::Rc<Guard>> {
    hub.guard()
}

/// Builds the guard of this hub: built-in rules, `guard.toml`, and the profile's private values.
pub fn build(hub: &Hub) -> Result<Guard> {
    Recipe::of(hub)?.build()
}

/// What a hub's guard is made of, read from its files: the guard itself can then be built
/// on another thread (a `Hub` stays on its own), while the reply it will scan is parsed.
pub struct Recipe {
    path: std::path::PathBuf,
    config: GuardConfig,
    private: Vec<String>,
}

impl Recipe {
    pub fn of(hub: &Hub) -> Result<Recipe> {
        let path = hub.dir.join(CONFIG_FILE);
        let config = if path.exists() {
            let text = fsx::read_to_string(&path)?;
            GuardConfig::parse(&text).map_err(|e| Error::Config {
                file: path.clone(),
                message: e.to_string(),
            })?
        } else {
            GuardConfig::default()
        };
        let private = hub.profile()?.private_values();
        Ok(Recipe {
            path,
            config,
            private,
        })
    }

    pub fn build(&self) -> Result<Guard> {
        Guard::new(&self.config, &self.private).map_err(|e| Error::Config {
            file: self.path.clone(),
            message: e.to_string(),
        })
    }
}

/// Text after the guard.
#[derive(Debug, Clone, Serialize)]
pub struct Screened {
    pub text: String,
    /// Findings masked (0 unless redacting).
    pub findings: usize,
}

/// A human report of findings: one line each, with line, rule and masked preview.
pub fn report(findings: &[Finding], what: &str) -> String {
    findings
        .iter()
        .map(|f| format!("  {what}, line {}: {} ({})", f.line, f.rule, f.preview))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Refuses `text` when the guard finds anything, or masks each finding when `redact`.
/// Both outcomes are recorded (counts and rule ids only).
pub fn screen(
    hub: &mut Hub,
    text: &str,
    redact: bool,
    what: &str,
    session: Option<&str>,
) -> Result<Screened> {
    let guard = for_hub(hub)?;
    let findings = guard.scan(text.as_bytes());
    if findings.is_empty() {
        return Ok(Screened {
            text: text.to_string(),
            findings: 0,
        });
    }
    let rules: Vec<&str> = findings.iter().map(|f| f.rule.as_str()).collect();
    let now = hub.now_ms();
    let kind = if redact {
        "guard.redacted"
    } else {
        "guard.refused"
    };
    hub.store.tx(|tx| {
        store::event(
            tx,
            now,
            session,
            kind,
            &serde_json::json!({"count": findings.len(), "rules": rules, "what": what}),
        )
    })?;
    if !redact {
        return Err(Error::GuardRefused {
            count: findings.len(),
            report: report(&findings, what),
        });
    }
    let (masked, found) = guard.redact(text);
    Ok(Screened {
        text: masked,
        findings: found.len(),
    })
}
