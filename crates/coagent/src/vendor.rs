//! Vendor profiles (SPEC §6): context window, largest paste accepted, tokenizer.
//!
//! Token counts are offline. OpenAI models (ChatGPT, and Copilot, which runs them) count
//! exactly with `o200k_base`; the others get an estimate with a safety margin, shown with
//! `~`. Loading `o200k_base` costs ~100 ms, so callers count exactly only when cheap bounds
//! say the figure matters ([`Vendor::count_for_session`], [`floor`]): a command that only
//! needs to know "well below the window" or "far over it" never pays for the tokenizer.

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
    /// The effective-context budget: tokens exchanged at which the context signal warns…
    pub budget_warn_tokens: u64,
    /// …and breaches. Far below the window: chats degrade long before it is full (the
    /// measurements behind each default are in docs/decisions.md).
    pub budget_breach_tokens: u64,
    /// `true` when config.toml changed or added it.
    pub overridden: bool,
}

/// A built-in profile: name, display name, window, paste limit, tokenizer, budget.
struct Builtin {
    name: &'static str,
    display: &'static str,
    context_tokens: u64,
    paste_chars: usize,
    tokenizer: Tokenizer,
    warn: u64,
    breach: u64,
}

/// The budgets come from published long-context measurements (docs/decisions.md, "The
/// effective context"): no default breach lies above 64K tokens, whatever the window.
const BUILTIN: &[Builtin] = &[
    Builtin {
        name: "chatgpt",
        display: "ChatGPT",
        context_tokens: 128_000,
        paste_chars: 60_000,
        tokenizer: Tokenizer::O200kBase,
        warn: 32_000,
        breach: 64_000,
    },
    Builtin {
        name: "claude",
        display: "Claude",
        context_tokens: 200_000,
        paste_chars: 100_000,
        tokenizer: Tokenizer::Estimate,
        warn: 32_000,
        breach: 64_000,
    },
    Builtin {
        name: "gemini",
        display: "Gemini",
        context_tokens: 1_000_000,
        paste_chars: 100_000,
        tokenizer: Tokenizer::Estimate,
        warn: 32_000,
        breach: 64_000,
    },
    Builtin {
        name: "copilot",
        display: "Microsoft Copilot",
        context_tokens: 128_000,
        paste_chars: 10_000,
        tokenizer: Tokenizer::O200kBase,
        warn: 32_000,
        breach: 64_000,
    },
    Builtin {
        name: "generic",
        display: "any other chat",
        context_tokens: 32_000,
        paste_chars: 16_000,
        tokenizer: Tokenizer::Estimate,
        warn: 8_000,
        breach: 16_000,
    },
];

/// The budget of a vendor of one's own (config.toml) that names none: the generic one's.
const OWN_BUDGET: (u64, u64) = (8_000, 16_000);

/// The vendors in force: the built-ins with config.toml's overrides, then config's own.
pub fn all(cfg: &Config) -> Result<Vec<Vendor>> {
    let mut out: Vec<Vendor> = BUILTIN
        .iter()
        .map(|b| Vendor {
            name: b.name.to_string(),
            display: b.display.to_string(),
            context_tokens: b.context_tokens,
            paste_chars: b.paste_chars,
            tokenizer: b.tokenizer,
            budget_warn_tokens: b.warn,
            budget_breach_tokens: b.breach,
            overridden: false,
        })
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
                    budget_warn_tokens: OWN_BUDGET.0,
                    budget_breach_tokens: OWN_BUDGET.1,
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
        apply_budget(name, v, o)?;
    }
    Ok(out)
}

/// config.toml's budget for one vendor: either level alone moves, and warn must stay
/// below breach.
fn apply_budget(name: &str, v: &mut Vendor, o: &crate::config::VendorOverride) -> Result<()> {
    if let Some(w) = o.budget_warn_tokens {
        v.budget_warn_tokens = w;
    }
    if let Some(b) = o.budget_breach_tokens {
        v.budget_breach_tokens = b;
    }
    if v.budget_warn_tokens == 0 || v.budget_warn_tokens >= v.budget_breach_tokens {
        return Err(Error::invalid(
            format!(
                "config.toml: vendors.{name} has budget_warn_tokens = {} and budget_breach_tokens = {}: the warning must come first",
                v.budget_warn_tokens, v.budget_breach_tokens
            ),
            Some("set budget_warn_tokens above 0 and below budget_breach_tokens".to_string()),
        ));
    }
    Ok(())
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

/// A session's tokens so far, and where its context signal warns and breaches, in tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub running: u64,
    pub warn_at: u64,
    pub breach_at: u64,
}

impl Budget {
    /// No session: nothing to warn about.
    pub const NONE: Budget = Budget {
        running: 0,
        warn_at: u64::MAX,
        breach_at: u64::MAX,
    };
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

/// A count the exact `o200k_base` count never falls below, taken in one pass with no
/// tokenizer and stopped once it reaches `cap` (a 1 MiB reply is known to breach a window
/// after reading half of it). (The exact count never exceeds the byte count either: every
/// token covers at least one byte.) It counts *words* that `o200k_base`'s pre-tokenizer
/// must put in separate pieces, each piece being at least one token:
///
/// - a word is a run of ASCII letters and digits and non-ASCII characters, between ASCII
///   spaces and punctuation; only words that start with an ASCII letter or digit count.
///   No piece holds letters or digits of two such words: a letter piece is one optional
///   leading symbol, letters and marks, and an optional `'s`/`'t`/`'re`/`'ve`/`'m`/`'ll`/
///   `'d`; a digit piece is one to three digits; the other pieces hold neither;
/// - a word that starts right after an apostrophe that follows a word is not counted (it
///   may be the `'s` of the word before).
///
/// The floor is about 0.8 times the exact count on English prose, 0.4 on dense code.
pub fn floor(text: &str, cap: u64) -> u64 {
    let b = text.as_bytes();
    let alnum = |c: u8| ((c | 0x20).wrapping_sub(b'a') < 26) | (c.wrapping_sub(b'0') < 10);
    let word = |c: u8| alnum(c) | (c >= 0x80);
    // Position i counts when b[i] is an ASCII letter or digit, b[i-1] is not a word byte,
    // and b[i-2..i] is not `<word>'`. Past the first two bytes, the loop runs over three
    // equal slices with no branch, so the compiler takes many bytes at a time.
    let n = b.len();
    let head = match b {
        [] => 0,
        [c0] => u64::from(alnum(*c0)),
        [c0, c1, ..] => u64::from(alnum(*c0)) + u64::from(alnum(*c1) & !word(*c0)),
    };
    if n < 3 {
        return head;
    }
    let (before2, before1, at) = (&b[..n - 2], &b[1..n - 1], &b[2..]);
    let mut floor = head;
    for ((p2, p1), c) in before2
        .chunks(1 << 16)
        .zip(before1.chunks(1 << 16))
        .zip(at.chunks(1 << 16))
    {
        let count: u32 = p2
            .iter()
            .zip(p1)
            .zip(c)
            .map(|((&p2, &p1), &c)| u32::from(alnum(c) & !word(p1) & !((p1 == b'\'') & word(p2))))
            .sum();
        floor += u64::from(count);
        if floor >= cap {
            break;
        }
    }
    floor
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

    /// Exact where it matters: when the vendor counts with `o200k_base`, the session's
    /// running total plus this text could reach half of `budget.warn_at` (so that totals
    /// are exact well before the context signal warns), and the text is not so long that
    /// its floor alone ([`floor`]) already reaches `budget.breach_at`. Elsewhere the
    /// tokenizer's start-up (~100 ms) and its pass over the text (~25 ms a MiB) are not
    /// paid: far below the warning the estimate decides nothing, and a text whose floor
    /// breaches is recorded as the larger of the estimate and the floor, so it breaches
    /// whatever its exact count (a 1 MiB reply in a 128k window).
    pub fn count_for_session(&self, text: &str, budget: &Budget) -> Tokens {
        if self.tokenizer != Tokenizer::O200kBase
            || budget.running + (text.len() as u64) < budget.warn_at / 2
        {
            return self.count_cheap(text);
        }
        // A text shorter than the breach level in bytes cannot breach by its floor: no need
        // to take it.
        if (text.len() as u64) < budget.breach_at {
            return self.count(text);
        }
        match floor(text, budget.breach_at) {
            f if f < budget.breach_at => self.count(text),
            // Never below the floor: on dense text (digit lists, matrices) the byte
            // estimate falls under it, and the breach the floor proves would be lost.
            f => Tokens {
                count: estimate(text).max(f),
                exact: false,
            },
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
    fn no_builtin_budget_breaches_above_64k_tokens() {
        for v in all(&Config::default()).expect("vendors") {
            assert!(v.budget_breach_tokens <= 64_000, "{}", v.name);
            assert!(v.budget_warn_tokens < v.budget_breach_tokens, "{}", v.name);
            assert!(v.budget_breach_tokens < v.context_tokens, "{}", v.name);
        }
    }

    #[test]
    fn exact_count_for_openai_and_estimate_elsewhere() {
        let cfg = Config::default();
        let text = "Policy v1.2 loaded. Turn the top 3 TODOs into DOs.";
        let gpt = find(&cfg, "chatgpt").expect("v").count(text);
        assert!(gpt.exact);
        assert!(gpt.count >= floor(text, u64::MAX) && gpt.count <= text.len() as u64);
        let est = find(&cfg, "claude").expect("v").count(text);
        assert!(!est.exact);
        assert!(est.count >= gpt.count, "the estimate errs high");
        assert_eq!(est.to_string(), format!("~{}", est.count));
    }

    fn exact(text: &str) -> u64 {
        o200k().expect("o200k_base").encode_ordinary(text).len() as u64
    }

    #[test]
    fn the_floor_is_close_below_the_exact_count_on_prose_and_code() {
        let prose = "Which commit should the worker review before the release, and which \
                     schema migration can wait until the rollout is done? We read the handoff.\n";
        let code = "fn main() {\n    let x: Vec<u32> = (0..10).map(|i| i * 2).collect();\n}\n";
        // Prose is mostly words; code is half symbols, which the floor does not count.
        for (text, share) in [(prose, 0.8), (code, 0.35)] {
            let text = text.repeat(50);
            let (floor, ceiling) = (floor(&text, u64::MAX), text.len() as u64);
            let n = exact(&text);
            assert!(floor <= n && n <= ceiling, "{floor} <= {n} <= {ceiling}");
            assert!(
                floor as f64 >= n as f64 * share,
                "a floor of {floor} for {n} tokens is too weak"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Never above the exact count, whatever the text: contractions, digits, marks,
        /// letters of any script, symbols, CRLF and runs of spaces.
        #[test]
        fn the_floor_never_exceeds_the_exact_count(
            parts in proptest::collection::vec(
                "(don't|it's|I'M|we'LL|x'ſ|'s|[a-zA-Z]{1,12}|[0-9]{1,9}|[A-Z][a-z]+[0-9]+[a-z]*|naïve|e\u{301}x|—|«»|…|\u{a0}|\u{200b}|日本語|Σίσυφος|😀|[ \t]{1,5}|\r\n|\n{1,3}|[-.,;:!?'\"/()<>=_*#@$%^&+|~`\\\\]{1,4})",
                0..40,
            )
        ) {
            let text = parts.concat();
            let (floor, ceiling) = (floor(&text, u64::MAX), text.len() as u64);
            let n = exact(&text);
            proptest::prop_assert!(floor <= n && n <= ceiling, "{:?}: {} <= {} <= {}", text, floor, n, ceiling);
        }
    }

    #[test]
    fn a_reply_that_breaches_by_its_floor_alone_is_not_counted_exactly() {
        let cfg = Config::default();
        let gpt = find(&cfg, "chatgpt").expect("v");
        let budget = Budget {
            running: 0,
            warn_at: 61_440,
            breach_at: 76_800,
        };
        let huge =
            "Which commit should the worker review before the release branch? ".repeat(12_000);
        assert!(floor(&huge, u64::MAX) >= budget.breach_at);
        assert!(!gpt.count_for_session(&huge, &budget).exact);
        // Dense text has more words than the byte estimate has tokens: the floor stands.
        let digits = "1,".repeat(80_000);
        let t = gpt.count_for_session(&digits, &budget);
        assert!(!t.exact);
        assert!(
            t.count >= budget.breach_at,
            "{} is under the breach level",
            t.count
        );
        let near = "Which commit should the worker review? ".repeat(200);
        let later = Budget {
            running: 40_000,
            ..budget
        };
        assert!(gpt.count_for_session(&near, &later).exact);
        assert!(
            !gpt.count_for_session(&near, &budget).exact,
            "far below the warning: estimated"
        );
    }
}
