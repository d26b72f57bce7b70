//! Vendor profiles (SPEC §6): context window, largest paste accepted, tokenizer.
//!
//! Token counts are offline. OpenAI models (ChatGPT, and Copilot, which runs them) count
//! exactly with `o200k_base`; the others get an estimate with a safety margin, shown with
//! `~`. Loading `o200k_base` costs ~100 ms, so callers count exactly only when a cheap bound
//! says the figure matters ([`bounds`]): a command that only needs to know "well below the
//! window" never pays for the tokenizer.

use std::sync::OnceLock;

use serde::Serialize;

use crate::config::Config;
use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tokenizer {
    /// Exact, with OpenAI's `o200k_base`.
    O200kBase,
    /// Bytes / 3.2, plus 15%: errs high for English prose and code on every vendor we know.
    Estimate,
}

#[derive(Debug, Clone, Serialize)]
pub struct Vendor {
    pub name: String,
    pub display: String,
    pub context_tokens: u64,
    pub paste_chars: usize,
    pub tokenizer: Tokenizer,
    /// `true` when config.toml changed or added it.
    pub overridden: bool,
}

const BUILTIN: &[(&str, &str, u64, usize, Tokenizer)] = &[
    ("chatgpt", "ChatGPT", 128_000, 60_000, Tokenizer::O200kBase),
    ("claude", "Claude", 200_000, 100_000, Tokenizer::Estimate),
    ("gemini", "Gemini", 1_000_000, 100_000, Tokenizer::Estimate),
    (
        "copilot",
        "Microsoft Copilot",
        128_000,
        10_000,
        Tokenizer::O200kBase,
    ),
    (
        "generic",
        "any other chat",
        32_000,
        16_000,
        Tokenizer::Estimate,
    ),
];

/// The vendors in force: the built-ins with config.toml's overrides, then config's own.
pub fn all(cfg: &Config) -> Result<Vec<Vendor>> {
    let mut out: Vec<Vendor> = BUILTIN
        .iter()
        .map(
            |&(name, display, context_tokens, paste_chars, tokenizer)| Vendor {
                name: name.to_string(),
                display: display.to_string(),
                context_tokens,
                paste_chars,
                tokenizer,
                overridden: false,
            },
        )
        .collect();
    for (name, o) in &cfg.vendors {
        let tokenizer = match o.tokenizer.as_deref() {
            None => None,
            Some("o200k_base") => Some(Tokenizer::O200kBase),
            Some("estimate") => Some(Tokenizer::Estimate),
            Some(other) => {
                return Err(Error::invalid(
                    format!("config.toml: vendors.{name}.tokenizer = `{other}` is unknown"),
                    Some("use \"o200k_base\" or \"estimate\"".to_string()),
                ));
            }
        };
        let v = match out.iter_mut().find(|v| &v.name == name) {
            Some(v) => v,
            None => {
                out.push(Vendor {
                    name: name.clone(),
                    display: name.clone(),
                    context_tokens: 32_000,
                    paste_chars: 16_000,
                    tokenizer: Tokenizer::Estimate,
                    overridden: true,
                });
                out.last_mut()
                    .ok_or_else(|| Error::Internal("vendor list".into()))?
            }
        };
        v.overridden = true;
        if let Some(c) = o.context_tokens {
            v.context_tokens = c;
        }
        if let Some(p) = o.paste_chars {
            if p < 1_000 {
                return Err(Error::invalid(
                    format!(
                        "config.toml: vendors.{name}.paste_chars = {p} is too small to carry a capsule"
                    ),
                    Some("use at least 1000".to_string()),
                ));
            }
            v.paste_chars = p;
        }
        if let Some(d) = &o.display {
            v.display = d.clone();
        }
        if let Some(t) = tokenizer {
            v.tokenizer = t;
        }
    }
    Ok(out)
}

pub fn find(cfg: &Config, name: &str) -> Result<Vendor> {
    let all = all(cfg)?;
    let lower = name.trim().to_ascii_lowercase();
    let known: Vec<String> = all.iter().map(|v| v.name.clone()).collect();
    all.into_iter()
        .find(|v| v.name == lower)
        .ok_or(Error::UnknownVendor {
            name: name.to_string(),
            known,
        })
}

/// A token count and whether it is exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Tokens {
    pub count: u64,
    pub exact: bool,
}

impl std::fmt::Display for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.exact {
            write!(f, "{}", self.count)
        } else {
            write!(f, "~{}", self.count)
        }
    }
}

/// The estimate every vendor's count starts from: bytes / 3.2 + 15%, rounded up.
pub fn estimate(text: &str) -> u64 {
    ((text.len() as f64 / 3.2) * 1.15).ceil() as u64
}

/// Cheap bounds on the exact `o200k_base` count: every token covers at least one byte, and
/// in practice at most ~40 bytes; used to skip exact counting when it cannot matter.
pub fn bounds(text: &str) -> (u64, u64) {
    ((text.len() as u64).div_ceil(40), text.len() as u64)
}

fn o200k() -> Option<&'static tiktoken_rs::CoreBPE> {
    static BPE: OnceLock<Option<tiktoken_rs::CoreBPE>> = OnceLock::new();
    BPE.get_or_init(|| tiktoken_rs::o200k_base().ok()).as_ref()
}

impl Vendor {
    /// The vendor's count: exact with `o200k_base` when the vendor uses it, else an estimate.
    pub fn count(&self, text: &str) -> Tokens {
        match (self.tokenizer, o200k()) {
            (Tokenizer::O200kBase, Some(bpe)) => Tokens {
                count: bpe.encode_ordinary(text).len() as u64,
                exact: true,
            },
            _ => Tokens {
                count: estimate(text),
                exact: false,
            },
        }
    }

    /// Exact where it matters: when the vendor counts with `o200k_base` and the session's
    /// running total plus this text's upper bound could reach half of `threshold` (the
    /// context signal's warning level), the text is counted exactly; below that, the
    /// estimate decides nothing and the tokenizer's start-up is not paid.
    pub fn count_for_session(&self, text: &str, running: u64, threshold: u64) -> Tokens {
        if self.tokenizer == Tokenizer::O200kBase && running + bounds(text).1 >= threshold / 2 {
            self.count(text)
        } else {
            self.count_cheap(text)
        }
    }

    /// The estimate alone, without loading any tokenizer.
    pub fn count_cheap(&self, text: &str) -> Tokens {
        Tokens {
            count: estimate(text),
            exact: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_and_overrides() {
        let mut cfg = Config::default();
        assert_eq!(
            find(&cfg, "Claude").expect("claude").context_tokens,
            200_000
        );
        cfg.vendors.insert(
            "claude".into(),
            crate::config::VendorOverride {
                paste_chars: Some(5_000),
                ..Default::default()
            },
        );
        cfg.vendors
            .insert("local".into(), crate::config::VendorOverride::default());
        let c = find(&cfg, "claude").expect("claude");
        assert_eq!(c.paste_chars, 5_000);
        assert!(c.overridden);
        assert!(find(&cfg, "local").is_ok());
        assert!(matches!(
            find(&cfg, "bard"),
            Err(Error::UnknownVendor { .. })
        ));
    }

    #[test]
    fn exact_count_for_openai_and_estimate_elsewhere() {
        let cfg = Config::default();
        let text = "Policy v1.2 loaded. Turn the top 3 TODOs into DOs.";
        let gpt = find(&cfg, "chatgpt").expect("v").count(text);
        assert!(gpt.exact);
        let (lo, hi) = bounds(text);
        assert!(gpt.count >= lo && gpt.count <= hi);
        let est = find(&cfg, "claude").expect("v").count(text);
        assert!(!est.exact);
        assert!(est.count >= gpt.count, "the estimate errs high");
        assert_eq!(est.to_string(), format!("~{}", est.count));
    }
}
