//! The policy echo `Policy vX.Y loaded.` (SPEC §5) and the split-payload answer
//! `NEXT k/n` (SPEC §6).
//!
//! Owns: recognising both on one decoration-stripped line. Must never compare
//! the version with a capsule: that is the core's job (a stale echo is still
//! an echo here).

use serde::Serialize;

/// The echo a chat gives once it has read the Policy Capsule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Echo {
    /// `"1.2"` or `"1.2.3"`, as written.
    pub version: String,
    /// Hex digits of a trailing `(…)` hash, lower-cased, without a `sha256:` prefix.
    pub hash: Option<String>,
    /// 1-based line in [`crate::Reply::text`].
    pub line: usize,
}

/// The answer to part `k` of `n` of a split payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NextPart {
    pub k: u32,
    pub n: u32,
}

fn strip_prefix_ci<'a>(s: &'a str, p: &str) -> Option<&'a str> {
    let head = s.get(..p.len())?;
    head.eq_ignore_ascii_case(p).then(|| &s[p.len()..])
}

fn version(s: &str) -> Option<(&str, &str)> {
    let end = s
        .bytes()
        .position(|c| !(c.is_ascii_digit() || c == b'.'))
        .unwrap_or(s.len());
    let v = s[..end].trim_end_matches('.');
    let parts: Vec<&str> = v.split('.').collect();
    let ok = (2..=3).contains(&parts.len())
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.len() <= 6 && p.bytes().all(|c| c.is_ascii_digit()));
    ok.then(|| (v, &s[v.len()..]))
}

/// `(sha256:abcd1234)` or `(abcd123)`: returns the hex and the rest.
fn hash(s: &str) -> Option<(String, &str)> {
    let r = s.strip_prefix('(')?;
    let (inner, rest) = r.split_once(')')?;
    let inner = inner.trim();
    let hex = ["sha256:", "sha256 ", "sha:", "hash:", "sha256=", "#"]
        .iter()
        .find_map(|p| strip_prefix_ci(inner, p))
        .unwrap_or(inner)
        .trim();
    let ok = (7..=64).contains(&hex.len()) && hex.bytes().all(|c| c.is_ascii_hexdigit());
    ok.then(|| (hex.to_ascii_lowercase(), rest))
}

/// `Policy v1.2 loaded.` with an optional `(hash)`; more prose may follow on
/// the same line only after a sentence end (`loaded. Next, …`).
pub(crate) fn parse_echo(core: &str) -> Option<(String, Option<String>)> {
    let r = strip_prefix_ci(core, "policy")?;
    let r = r.trim_start();
    let r = r.strip_prefix(['v', 'V'])?;
    let (v, r) = version(r)?;
    let r = strip_prefix_ci(r.trim_start(), "loaded")?;
    let mut r = r;
    let mut sentence_end = false;
    let mut h = None;
    // Up to: punctuation, a hash in parentheses, punctuation again.
    for _ in 0..2 {
        if let Some(x) = r.strip_prefix(['.', '!']) {
            r = x;
            sentence_end = true;
        }
        let t = r.trim_start_matches(['*', '_', '`']).trim_start();
        if h.is_none()
            && let Some((hx, x)) = hash(t)
        {
            h = Some(hx);
            r = x;
            sentence_end = true;
        }
    }
    let rest = r.trim_start_matches(['.', '!', '*', '`', '"', '”', '’', '\'', '_']);
    if rest.trim().is_empty() || (sentence_end && rest.starts_with([' ', '\t'])) {
        Some((v.to_string(), h))
    } else {
        None
    }
}

/// `NEXT k/n` alone (decorations already stripped).
pub(crate) fn parse_next(core: &str) -> Option<NextPart> {
    let r = core.strip_prefix("NEXT")?;
    if !r.starts_with([' ', '\t']) {
        return None;
    }
    let r = r.trim().trim_end_matches(['.', '!']);
    let (k, n) = r.split_once('/')?;
    let k: u32 = k.trim().parse().ok()?;
    let n: u32 = n.trim().parse().ok()?;
    (k >= 1 && k <= n).then_some(NextPart { k, n })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn echo(s: &str) -> Option<(String, Option<String>)> {
        parse_echo(crate::lines::core(s).text)
    }

    #[test]
    fn echo_variants() {
        assert_eq!(echo("Policy v1.2 loaded."), Some(("1.2".into(), None)));
        assert_eq!(
            echo("**Policy v1.2.3 loaded.**"),
            Some(("1.2.3".into(), None))
        );
        assert_eq!(
            echo("Policy v1.2 loaded. (sha256:ABCD1234)"),
            Some(("1.2".into(), Some("abcd1234".into())))
        );
        assert_eq!(
            echo("Policy v2.0 loaded (abcdef0)."),
            Some(("2.0".into(), Some("abcdef0".into())))
        );
        assert_eq!(
            echo("Policy v1.2 loaded. Next I propose two DOs."),
            Some(("1.2".into(), None))
        );
        assert_eq!(echo("Policy v1.2 loaded"), Some(("1.2".into(), None)));
        assert_eq!(
            echo("**Policy v1.2.3 loaded.** (sha256:9f86d081)"),
            Some(("1.2.3".into(), Some("9f86d081".into())))
        );
    }

    #[test]
    fn echo_mentions_are_not_echoes() {
        assert_eq!(echo("I'll reply Policy v1.2 loaded. when ready"), None);
        assert_eq!(echo("Policy v1.2 loadedness"), None);
        assert_eq!(echo("Policy vX.Y loaded."), None);
        assert_eq!(echo("Policy v1 loaded."), None);
        assert_eq!(echo("Policy v1.2 loaded when you paste it"), None);
    }

    #[test]
    fn next() {
        assert_eq!(parse_next("NEXT 2/3"), Some(NextPart { k: 2, n: 3 }));
        assert_eq!(parse_next("NEXT 2 / 3."), Some(NextPart { k: 2, n: 3 }));
        assert_eq!(parse_next("NEXT 4/3"), None);
        assert_eq!(parse_next("NEXT k/n"), None);
        assert_eq!(parse_next("NEXTS 1/2"), None);
    }
}
