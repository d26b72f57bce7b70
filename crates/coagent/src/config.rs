//! `config.toml` in the hub: bloat thresholds, the watcher, the runner, vendor overrides.
//! Every key is optional and defaults to the value SPEC gives; an unknown key is an error
//! (a typo must not silently fall back to a default), and every error names its line.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result, fsx};

pub const FILE: &str = "config.toml";

pub const DEFAULT: &str = r#"# CoAgent settings for this hub. Every value shown is the default; delete a line to
# go back to it. `coagent status` shows the thresholds in force.

[bloat]
max_dos = 5                # DOs completed since boot (wrap after 3–5)
min_dos_per_hour = 1.0     # DOs per hour over the last hour, after the warm-up…
warmup_minutes = 30        # …counted from the session's boot
stale_minutes = 30         # minutes since the last ingest or ACK
latency_factor = 2.0       # last 3 artifact latencies rising and the last ≥ this × median
context_ratio = 0.6        # second cap on the context signal: tokens / the vendor's window
                           # (the first is the vendor's budget_*_tokens, see `coagent vendors`)
max_ingests = 100          # replies ingested (turns)
warn_ratio = 0.8           # WARN at this share of any threshold
drift_turns = 3            # the chat's lapses from the capsule, counted over the last 3 turns:
drift_warn = 1             # WARN from this many…
drift_fail = 2             # …FAIL (wrap) from this many

[watch]
check_interval_secs = 5    # how often `coagent watch` checks the bloat monitor
auto_wrap = true           # wrap the session on a breach
notify = true              # desktop notifications, where one can be shown

[run]
timeout_secs = 600         # a DO is killed (with its children) after this
log_head_kib = 256         # output kept from the start of a run…
log_tail_kib = 256         # …and from its end; what lies between is cut and counted
artifact_max_mib = 64      # a file artifact over this is recorded (size, sha256) but not copied

[result]
budget_chars = 0           # characters of diff, files and logs in one result payload (0: the vendor's paste limit)

# Vendor overrides, or a vendor of your own:
# [vendors.claude]
# context_tokens = 200000
# paste_chars = 100000
# budget_warn_tokens = 32000    # the effective context: chats degrade long before
# budget_breach_tokens = 64000  # the window is full (docs/decisions.md)
# [vendors.mylocal]
# context_tokens = 32000
# paste_chars = 20000
# tokenizer = "estimate"   # or "o200k_base"
"#;

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub bloat: Bloat,
    pub watch: Watch,
    pub run: Run,
    pub result: ResultPayload,
    pub vendors: BTreeMap<String, VendorOverride>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Bloat {
    pub max_dos: f64,
    pub min_dos_per_hour: f64,
    pub warmup_minutes: f64,
    pub stale_minutes: f64,
    pub latency_factor: f64,
    pub context_ratio: f64,
    pub max_ingests: f64,
    pub warn_ratio: f64,
    /// Drift is counted over this many of the latest turns…
    pub drift_turns: f64,
    /// …WARN from this many lapses in them…
    pub drift_warn: f64,
    /// …FAIL (wrap) from this many.
    pub drift_fail: f64,
}

impl Default for Bloat {
    fn default() -> Self {
        Bloat {
            max_dos: 5.0,
            min_dos_per_hour: 1.0,
            warmup_minutes: 30.0,
            stale_minutes: 30.0,
            latency_factor: 2.0,
            context_ratio: 0.6,
            max_ingests: 100.0,
            warn_ratio: 0.8,
            drift_turns: 3.0,
            drift_warn: 1.0,
            drift_fail: 2.0,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Watch {
    pub check_interval_secs: f64,
    pub auto_wrap: bool,
    pub notify: bool,
}

impl Default for Watch {
    fn default() -> Self {
        Watch {
            check_interval_secs: 5.0,
            auto_wrap: true,
            notify: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Run {
    pub timeout_secs: u64,
    pub log_head_kib: usize,
    pub log_tail_kib: usize,
    /// A file artifact larger than this many MiB is recorded with its size and sha256,
    /// and not copied into the hub.
    pub artifact_max_mib: u64,
}

impl Default for Run {
    fn default() -> Self {
        Run {
            timeout_secs: 600,
            log_head_kib: 256,
            log_tail_kib: 256,
            artifact_max_mib: 64,
        }
    }
}

/// What a result payload may carry: the chat reviews diffs, files and logs in it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct ResultPayload {
    /// Characters of the whole payload; 0 means the vendor's paste limit, so that one
    /// turn's results are one paste. A larger budget is sent in parts `k/n`.
    pub budget_chars: usize,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VendorOverride {
    pub context_tokens: Option<u64>,
    /// The effective-context budget, in tokens exchanged: WARN from here…
    pub budget_warn_tokens: Option<u64>,
    /// …FAIL (wrap) from here.
    pub budget_breach_tokens: Option<u64>,
    pub paste_chars: Option<usize>,
    pub tokenizer: Option<String>,
    pub display: Option<String>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config> {
        if !path.exists() {
            return Ok(Config::default());
        }
        let text = fsx::read_to_string(path)?;
        let file = || path.to_path_buf();
        let cfg: Config = toml::from_str(&text).map_err(|e| Error::Config {
            file: file(),
            message: toml_error(&text, &e),
        })?;
        cfg.check().map_err(|message| Error::Config {
            file: file(),
            message,
        })?;
        Ok(cfg)
    }

    fn check(&self) -> std::result::Result<(), String> {
        let b = &self.bloat;
        for (name, v) in [
            ("bloat.max_dos", b.max_dos),
            ("bloat.stale_minutes", b.stale_minutes),
            ("bloat.latency_factor", b.latency_factor),
            ("bloat.context_ratio", b.context_ratio),
            ("bloat.max_ingests", b.max_ingests),
            ("bloat.drift_turns", b.drift_turns),
            ("bloat.drift_warn", b.drift_warn),
            ("bloat.drift_fail", b.drift_fail),
            ("watch.check_interval_secs", self.watch.check_interval_secs),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("`{name}` must be a number above 0 (it is {v})"));
            }
        }
        if !(b.warn_ratio > 0.0 && b.warn_ratio <= 1.0) {
            return Err(format!(
                "`bloat.warn_ratio` must be in (0, 1] (it is {})",
                b.warn_ratio
            ));
        }
        if b.drift_warn > b.drift_fail {
            return Err(format!(
                "`bloat.drift_warn` ({}) must not exceed `bloat.drift_fail` ({})",
                b.drift_warn, b.drift_fail
            ));
        }
        if self.run.timeout_secs == 0 {
            return Err("`run.timeout_secs` must be at least 1".to_string());
        }
        Ok(())
    }
}

/// A one-paragraph TOML error that names the line and column.
pub fn toml_error(text: &str, e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => {
            let before = &text.as_bytes()[..span.start.min(text.len())];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let col = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
            format!("line {line}, column {col}: {}", e.message().trim())
        }
        None => e.message().trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_file_matches_default_values() {
        let cfg: Config = toml::from_str(DEFAULT).expect("default parses");
        assert_eq!(cfg.bloat, Bloat::default());
        assert_eq!(cfg.run.timeout_secs, 600);
        assert_eq!(cfg.result, ResultPayload::default());
    }

    #[test]
    fn typos_and_bad_values_name_the_line() {
        let text = "[bloat]\nmax_dos = 5\nstale_minuts = 3\n";
        let err = toml::from_str::<Config>(text).expect_err("typo");
        let msg = toml_error(text, &err);
        assert!(msg.starts_with("line 3"), "{msg}");
        let cfg: Config = toml::from_str("[bloat]\nwarn_ratio = 2.0\n").expect("parses");
        assert!(cfg.check().is_err());
    }
}
