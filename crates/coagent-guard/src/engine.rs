//! The scanning engine: prefilter → regex → checks → allowlists → non-overlapping findings.
//!
//! Owns [`Guard`] and [`Finding`]. It never prints, never logs, and never puts a secret in
//! anything it returns: a finding carries a span and a masked preview only.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use regex::bytes::{CaptureLocations, Regex};
use serde::Serialize;

use crate::GuardError;
use crate::config::{Allowlist, GuardConfig, compile};
use crate::entropy::{assigned_value_is_secret, is_placeholder, shannon_entropy};
use crate::rules::{BUILTINS, Check, DOCUMENTED_EXAMPLES};

/// The rule id of findings that are exact CoProfile private values.
pub const PRIVATE_RULE: &str = "coprofile-private";

/// Private values shorter than this are not matched: a two- or three-character value
/// (an initial, a country code) occurs by chance in almost any text, so matching it would
/// refuse nearly every payload while protecting nothing that identifies the user.
pub const MIN_PRIVATE_LEN: usize = 4;

/// How far before a keyword hit (in bytes) a match may start, at most; the window starts
/// at the beginning of the hit's line when that is closer.
const BACK: usize = 256;
/// How far past the keyword hit (plus the rule's `after`) a window may reach when the line
/// is longer; the window ends at the line's end when that is closer.
const FORWARD: usize = 1024;
/// How many bytes after a keyword hit an anchored rule may match: the rest of a name
/// (40), operator and quotes, and a value of up to 256 bytes.
const ANCHORED_SPAN: usize = 320;

/// One secret found in scanned bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The id of the rule that found it (`github-pat`, `coprofile-private`, a user rule…).
    pub rule: String,
    /// Byte offset of the secret's first byte.
    pub start: usize,
    /// Byte offset one past the secret's last byte.
    pub end: usize,
    /// 1-based line of `start`.
    pub line: usize,
    /// A masked preview: at most the public prefix of a known token format (never more
    /// than 4 characters) and the count of hidden characters, e.g. `ghp_…[36 chars]`;
    /// `[12 chars]` for anything without a public prefix.
    pub preview: String,
}

/// A rule's regex, compiled on first use: a process that only guards a few payloads pays
/// for the keyword automaton, not for 50 regexes whose keywords never occur.
#[derive(Clone, Debug)]
struct LazyRegex {
    source: Option<&'static str>,
    cell: Arc<OnceLock<Option<Regex>>>,
}

impl LazyRegex {
    fn ready(regex: Regex) -> LazyRegex {
        let cell = OnceLock::new();
        let _ = cell.set(Some(regex));
        LazyRegex {
            source: None,
            cell: Arc::new(cell),
        }
    }

    fn lazy(source: &'static str) -> LazyRegex {
        LazyRegex {
            source: Some(source),
            cell: Arc::new(OnceLock::new()),
        }
    }

    /// `None` only if a built-in failed to compile, which the test `every_builtin_rule_compiles` rules out.
    fn get(&self) -> Option<&Regex> {
        self.cell
            .get_or_init(|| self.source.and_then(|s| compile(s).ok()))
            .as_ref()
    }
}

/// A compiled rule, built-in or from `guard.toml`.
#[derive(Clone, Debug)]
struct Rule {
    id: String,
    description: String,
    regex: LazyRegex,
    secret_group: usize,
    check: Option<Check>,
    /// Built-in rules also skip documented examples and placeholders.
    builtin: bool,
    prefix: usize,
    after: usize,
    /// User rules run on the whole buffer once any of their keywords occurs (gitleaks
    /// semantics: their regexes may span lines in ways the windows would not see).
    whole_buffer: bool,
    /// Matched anchored right after each keyword hit (see `Builtin::anchored`).
    anchored: bool,
    path: Option<Regex>,
    allowlists: Vec<Allowlist>,
}

#[derive(Clone, Copy, Debug)]
enum Target {
    Rule(usize),
    Private,
}

/// What one prefilter pattern stands for.
#[derive(Clone, Debug)]
struct Entry {
    target: Target,
    /// When set, the hit must equal these bytes exactly (case-sensitive keywords, private
    /// values); the automaton itself is ASCII-case-insensitive.
    exact: Option<Box<[u8]>>,
}

/// A candidate before overlap resolution. `rule` indexes `Guard::rules`, or is
/// `usize::MAX` for a private value.
#[derive(Clone, Copy, Debug)]
struct Candidate {
    priority: usize,
    rule: usize,
    start: usize,
    end: usize,
}

/// The compiled guard: rules, the keyword prefilter, allowlists and private values.
/// Cheap to clone (regexes and the automaton are shared), `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Guard {
    /// Specific built-ins, then user rules, then generic built-ins: the order is the
    /// priority when two findings overlap.
    rules: Vec<Rule>,
    prefilter: Option<AhoCorasick>,
    entries: Vec<Vec<Entry>>,
    /// Rules without keywords: always run on the whole buffer.
    unconditional: Vec<usize>,
    allowlists: Vec<Allowlist>,
}

impl Guard {
    /// Built-in rules + the user's config + exact private values (CoProfile `[private]`
    /// fields). Private values shorter than [`MIN_PRIVATE_LEN`] are ignored; allowlists
    /// never apply to private values.
    ///
    /// # Errors
    /// [`GuardError::Rule`] when a user rule cannot be used (its regex is already compiled
    /// by [`GuardConfig::parse`], so in practice: a keyword-less rule that matches the
    /// empty string).
    pub fn new(config: &GuardConfig, private_values: &[String]) -> Result<Guard, GuardError> {
        let mut specific = Vec::new();
        let mut generic = Vec::new();
        for b in BUILTINS {
            if config.disabled.iter().any(|d| d == b.id)
                || config.rules.iter().any(|u| u.id == b.id)
            {
                continue;
            }
            let regex = LazyRegex::lazy(b.regex);
            let rule = Rule {
                id: b.id.to_owned(),
                description: b.description.to_owned(),
                regex,
                secret_group: b.secret_group,
                check: Some(b.check),
                builtin: true,
                prefix: b.prefix.min(4),
                after: b.after,
                whole_buffer: false,
                anchored: b.anchored,
                path: None,
                allowlists: Vec::new(),
            };
            let keywords: Vec<(String, bool)> = b
                .keywords
                .iter()
                .map(|k| ((*k).to_owned(), b.case_sensitive))
                .collect();
            if b.generic {
                generic.push((rule, keywords));
            } else {
                specific.push((rule, keywords));
            }
        }
        let mut user = Vec::new();
        for u in &config.rules {
            let Some(regex) = &u.regex else { continue };
            if u.keywords.is_empty() && regex.is_match(b"") {
                return Err(GuardError::Rule {
                    id: u.id.clone(),
                    message: "the regex matches the empty string; every text would be refused"
                        .to_owned(),
                });
            }
            let rule = Rule {
                id: u.id.clone(),
                description: u.description.clone(),
                regex: LazyRegex::ready(regex.clone()),
                secret_group: u.secret_group,
                check: u.entropy.map(Check::Entropy),
                builtin: false,
                prefix: 0,
                after: 0,
                whole_buffer: true,
                anchored: false,
                path: u.path.clone(),
                allowlists: u.allowlists.clone(),
            };
            let keywords = u.keywords.iter().map(|k| (k.clone(), false)).collect();
            user.push((rule, keywords));
        }

        let mut rules = Vec::new();
        let mut patterns: Vec<Vec<u8>> = Vec::new();
        let mut entries: Vec<Vec<Entry>> = Vec::new();
        let mut unconditional = Vec::new();
        let mut add_pattern = |pattern: &[u8], entry: Entry| {
            let lower = pattern.to_ascii_lowercase();
            match patterns.iter().position(|p| *p == lower) {
                Some(i) => entries[i].push(entry),
                None => {
                    patterns.push(lower);
                    entries.push(vec![entry]);
                }
            }
        };
        for (rule, keywords) in specific.into_iter().chain(user).chain(generic) {
            let index = rules.len();
            if keywords.is_empty() {
                unconditional.push(index);
            }
            for (k, case_sensitive) in keywords {
                if k.is_empty() {
                    continue;
                }
                let exact = case_sensitive.then(|| k.as_bytes().into());
                add_pattern(
                    k.as_bytes(),
                    Entry {
                        target: Target::Rule(index),
                        exact,
                    },
                );
            }
            rules.push(rule);
        }
        for value in private_values {
            if value.chars().count() < MIN_PRIVATE_LEN {
                continue;
            }
            add_pattern(
                value.as_bytes(),
                Entry {
                    target: Target::Private,
                    exact: Some(value.as_bytes().into()),
                },
            );
        }
        let prefilter = if patterns.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .ascii_case_insensitive(true)
                    .match_kind(MatchKind::Standard)
                    .build(&patterns)
                    .map_err(|e| GuardError::Config {
                        message: format!("cannot build the keyword prefilter: {e}"),
                    })?,
            )
        };
        Ok(Guard {
            rules,
            prefilter,
            entries,
            unconditional,
            allowlists: config.allowlists.clone(),
        })
    }

    /// The built-in rules only, no private values. Built once per process and cloned.
    pub fn builtin() -> Guard {
        static BUILTIN: OnceLock<Guard> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                Guard::new(&GuardConfig::default(), &[])
                    .expect("built-in rules compile (a unit test checks every one)")
            })
            .clone()
    }

    /// Ids of the active rules, in priority order (private values excluded).
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }

    /// `(id, description)` of the active rules, in priority order, for listings.
    pub fn rules(&self) -> impl Iterator<Item = (&str, &str)> {
        self.rules
            .iter()
            .map(|r| (r.id.as_str(), r.description.as_str()))
    }

    /// Scan bytes; findings sorted by start and non-overlapping (on overlap, a private value
    /// wins, then a specific format, then a user rule, then the generic rules).
    pub fn scan(&self, bytes: &[u8]) -> Vec<Finding> {
        self.scan_inner(bytes, None)
    }

    /// Scan the content of a file: like [`Guard::scan`], plus the user rules restricted to
    /// matching `path`s. Returns nothing when an allowlist's `paths` covers `path`.
    pub fn scan_named(&self, path: &str, bytes: &[u8]) -> Vec<Finding> {
        if self.path_allowed(path) {
            return Vec::new();
        }
        self.scan_inner(bytes, Some(path))
    }

    /// True when a global allowlist's `paths` excludes this file.
    pub fn path_allowed(&self, path: &str) -> bool {
        self.allowlists.iter().any(|a| a.allows_path(path))
    }

    /// Replace each finding with `[REDACTED:<rule>]`. Returns the new text and the
    /// findings, whose spans refer to the original text (widened to whole characters).
    pub fn redact(&self, text: &str) -> (String, Vec<Finding>) {
        let mut findings = self.scan(text.as_bytes());
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for f in &mut findings {
            while !text.is_char_boundary(f.start) {
                f.start -= 1;
            }
            while !text.is_char_boundary(f.end) {
                f.end += 1;
            }
            out.push_str(&text[last..f.start]);
            out.push_str("[REDACTED:");
            out.push_str(&f.rule);
            out.push(']');
            last = f.end;
        }
        out.push_str(&text[last..]);
        (out, findings)
    }

    fn scan_inner(&self, hay: &[u8], path: Option<&str>) -> Vec<Finding> {
        let mut candidates = Vec::new();
        // Keyword hits (start, end) per windowed rule; anchored rules are run on the spot.
        let mut hits: Vec<Vec<(usize, usize)>> = vec![Vec::new(); self.rules.len()];
        let mut anchored_locs: Option<CaptureLocations> = None;
        if let Some(ac) = &self.prefilter {
            for m in ac.find_overlapping_iter(hay) {
                for e in &self.entries[m.pattern().as_usize()] {
                    if let Some(exact) = &e.exact
                        && hay[m.start()..m.end()] != **exact
                    {
                        continue;
                    }
                    match e.target {
                        Target::Rule(r) if self.rules[r].anchored => {
                            if assignment_follows(hay, m.end())
                                && path_applies(&self.rules[r], path)
                                && let Some(re) = self.rules[r].regex.get()
                            {
                                let locs =
                                    anchored_locs.get_or_insert_with(|| re.capture_locations());
                                self.run_anchored(r, hay, m.end(), locs, &mut candidates);
                            }
                        }
                        Target::Rule(r) => hits[r].push((m.start(), m.end())),
                        Target::Private => candidates.push(Candidate {
                            priority: 0,
                            rule: usize::MAX,
                            start: m.start(),
                            end: m.end(),
                        }),
                    }
                }
            }
        }
        for (ri, group) in hits.iter_mut().enumerate() {
            if group.is_empty() {
                continue;
            }
            let rule = &self.rules[ri];
            if !path_applies(rule, path) {
                continue;
            }
            let Some(re) = rule.regex.get() else { continue };
            let mut locs = re.capture_locations();
            if rule.whole_buffer {
                self.run_rule(ri, hay, 0, hay.len(), &mut locs, &mut candidates);
                continue;
            }
            // Overlapping matches arrive ordered by end; windows are merged by start.
            group.sort_unstable();
            let mut current: Option<(usize, usize)> = None;
            for &(s, e) in group.iter() {
                let (ws, we) = window(hay, s, e, rule.after);
                current = match current {
                    Some((cs, ce)) if ws <= ce => Some((cs, ce.max(we))),
                    Some((cs, ce)) => {
                        self.run_rule(ri, hay, cs, ce, &mut locs, &mut candidates);
                        Some((ws, we))
                    }
                    None => Some((ws, we)),
                };
            }
            if let Some((cs, ce)) = current {
                self.run_rule(ri, hay, cs, ce, &mut locs, &mut candidates);
            }
        }
        for &ri in &self.unconditional {
            let rule = &self.rules[ri];
            if path_applies(rule, path)
                && let Some(re) = rule.regex.get()
            {
                let mut locs = re.capture_locations();
                self.run_rule(ri, hay, 0, hay.len(), &mut locs, &mut candidates);
            }
        }
        self.resolve(hay, candidates)
    }

    /// Run one rule's regex over `hay[ws..we]` (left context stays visible to `\b`).
    fn run_rule(
        &self,
        ri: usize,
        hay: &[u8],
        ws: usize,
        we: usize,
        locs: &mut CaptureLocations,
        out: &mut Vec<Candidate>,
    ) {
        let rule = &self.rules[ri];
        let Some(re) = rule.regex.get() else { return };
        let sub = &hay[..we];
        let mut pos = ws;
        while pos <= we {
            let Some(m) = re.captures_read_at(locs, sub, pos) else {
                break;
            };
            pos = if m.end() > m.start() {
                m.end()
            } else {
                m.end() + 1
            };
            let Some((ss, se)) = secret_span(locs, rule.secret_group) else {
                continue;
            };
            if ss < se && self.accept(rule, hay, (ss, se), (m.start(), m.end())) {
                out.push(Candidate {
                    priority: ri + 1,
                    rule: ri,
                    start: ss,
                    end: se,
                });
            }
        }
    }

    /// Run an anchored rule's regex (it starts with `^`) on the bytes right after a hit.
    fn run_anchored(
        &self,
        ri: usize,
        hay: &[u8],
        at: usize,
        locs: &mut CaptureLocations,
        out: &mut Vec<Candidate>,
    ) {
        let rule = &self.rules[ri];
        let sub = &hay[at..hay.len().min(at + ANCHORED_SPAN)];
        let Some(re) = rule.regex.get() else { return };
        let Some(m) = re.captures_read(locs, sub) else {
            return;
        };
        let Some((ss, se)) = secret_span(locs, rule.secret_group) else {
            return;
        };
        let (ss, se) = (at + ss, at + se);
        if ss < se && self.accept(rule, hay, (ss, se), (at + m.start(), at + m.end())) {
            out.push(Candidate {
                priority: ri + 1,
                rule: ri,
                start: ss,
                end: se,
            });
        }
    }

    /// The checks after a regex match: randomness, placeholders, documented examples,
    /// allowlists. True when the candidate is a finding.
    fn accept(
        &self,
        rule: &Rule,
        hay: &[u8],
        secret: (usize, usize),
        matched: (usize, usize),
    ) -> bool {
        let value = &hay[secret.0..secret.1];
        let ok = match rule.check {
            None => true,
            Some(Check::Entropy(floor)) => {
                shannon_entropy(value) >= floor && !(rule.builtin && is_placeholder(value))
            }
            Some(Check::Assignment) => assigned_value_is_secret(hay, secret.0, secret.1),
            Some(Check::NotPlaceholder) => !is_url_placeholder(value),
        };
        if !ok {
            return false;
        }
        if rule.builtin
            && DOCUMENTED_EXAMPLES
                .iter()
                .any(|d| memchr::memmem::find(value, d.as_bytes()).is_some())
        {
            return false;
        }
        if self.allowlists.is_empty() && rule.allowlists.is_empty() {
            return true;
        }
        let line = line_around(hay, matched.0, matched.1);
        let m = &hay[matched.0..matched.1];
        !self
            .allowlists
            .iter()
            .chain(&rule.allowlists)
            .any(|a| a.allows(value, m, line))
    }

    /// Keep the best non-overlapping candidates, then number lines and mask previews.
    fn resolve(&self, hay: &[u8], mut candidates: Vec<Candidate>) -> Vec<Finding> {
        candidates.sort_unstable_by_key(|c| (c.priority, c.start, std::cmp::Reverse(c.end)));
        let mut kept: BTreeMap<usize, Candidate> = BTreeMap::new();
        for c in candidates {
            let overlaps = kept
                .range(..c.end)
                .next_back()
                .is_some_and(|(_, k)| k.end > c.start);
            if !overlaps {
                kept.insert(c.start, c);
            }
        }
        let mut findings = Vec::with_capacity(kept.len());
        let mut line = 1;
        let mut counted = 0;
        for c in kept.into_values() {
            line += memchr::memchr_iter(b'\n', &hay[counted..c.start]).count();
            counted = c.start;
            let (rule, prefix) = if c.rule == usize::MAX {
                (PRIVATE_RULE, 0)
            } else {
                let r = &self.rules[c.rule];
                (r.id.as_str(), r.prefix)
            };
            findings.push(Finding {
                rule: rule.to_owned(),
                start: c.start,
                end: c.end,
                line,
                preview: preview(&hay[c.start..c.end], prefix),
            });
        }
        findings
    }
}

fn path_applies(rule: &Rule, path: Option<&str>) -> bool {
    match (&rule.path, path) {
        (None, _) => true,
        (Some(re), Some(p)) => re.is_match(p.as_bytes()),
        (Some(_), None) => false,
    }
}

/// The span of the secret: the configured group, or (group 0 configured) the first group
/// that took part in the match, or the whole match when the regex has no groups.
fn secret_span(locs: &CaptureLocations, group: usize) -> Option<(usize, usize)> {
    if group > 0 {
        return locs.get(group);
    }
    (1..locs.len())
        .find_map(|g| locs.get(g))
        .or_else(|| locs.get(0))
}

/// The window a rule's regex runs in around a keyword hit at `start..end`: from the start
/// of the hit's line (at most [`BACK`] bytes back) to the end of its line after `after`
/// bytes (at most [`FORWARD`] further), never cutting a token in two at the right edge.
fn window(hay: &[u8], start: usize, end: usize, after: usize) -> (usize, usize) {
    let lo = start.saturating_sub(BACK);
    let ws = memchr::memrchr(b'\n', &hay[lo..start]).map_or(lo, |i| lo + i + 1);
    let hi = end.saturating_add(after).min(hay.len());
    let limit = hi.saturating_add(FORWARD).min(hay.len());
    let mut we = memchr::memchr(b'\n', &hay[hi..limit]).map_or(limit, |i| hi + i);
    let extend = we.saturating_add(FORWARD).min(hay.len());
    while we < extend && is_token_byte(hay[we]) {
        we += 1;
    }
    (ws, we)
}

/// The cheap test before an anchored (assignment) rule's regex: after the keyword, the
/// rest of a name, an optional closing quote, blanks, then `:` or `=`. Most keyword hits in
/// code (`next_token()`, `password: &str` aside) fail here after a few bytes.
fn assignment_follows(hay: &[u8], at: usize) -> bool {
    let end = hay.len().min(at + 48);
    let mut i = at;
    while i < end && (hay[i].is_ascii_alphanumeric() || matches!(hay[i], b'_' | b'.' | b'-')) {
        i += 1;
    }
    if i < end && matches!(hay[i], b'"' | b'\'' | b'`') {
        i += 1;
    }
    while i < end && matches!(hay[i], b' ' | b'\t') {
        i += 1;
    }
    i < end && matches!(hay[i], b':' | b'=')
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'+' | b'/' | b'=' | b'.' | b'~')
}

/// The full line(s) around a match, for allowlists with `regexTarget = "line"`.
fn line_around(hay: &[u8], start: usize, end: usize) -> &[u8] {
    let ls = memchr::memrchr(b'\n', &hay[..start]).map_or(0, |i| i + 1);
    let le = memchr::memchr(b'\n', &hay[end..]).map_or(hay.len(), |i| end + i);
    &hay[ls..le]
}

/// Passwords in URLs that documentation and local development use as stand-ins.
fn is_url_placeholder(value: &[u8]) -> bool {
    const DEFAULTS: &[&[u8]] = &[
        b"pass",
        b"passwd",
        b"pwd",
        b"pw",
        b"secret",
        b"admin",
        b"root",
        b"guest",
        b"test",
        b"user",
        b"username",
        b"postgres",
        b"mysql",
        b"redis",
        b"default",
        b"token",
    ];
    let lower = value.to_ascii_lowercase();
    is_placeholder(value)
        || DEFAULTS.contains(&lower.as_slice())
        || matches!(value[0], b'$' | b'%' | b'{' | b':' | b'*')
        || value.iter().all(|&b| b == value[0])
}

/// `ghp_…[36 chars]`, or `[12 chars]` without a public prefix. Counts characters, not
/// bytes, so a non-ASCII private value does not leak its byte length either way.
fn preview(secret: &[u8], prefix: usize) -> String {
    let shown = prefix.min(4).min(secret.len());
    let hidden = String::from_utf8_lossy(&secret[shown..]).chars().count();
    if shown == 0 {
        format!("[{hidden} chars]")
    } else {
        format!(
            "{}…[{hidden} chars]",
            String::from_utf8_lossy(&secret[..shown])
        )
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_builtin_rule_compiles() {
        let guard = Guard::new(&GuardConfig::default(), &[]).unwrap();
        assert_eq!(guard.rule_ids().count(), BUILTINS.len());
        // Compiled lazily in use; here, every one of them, now.
        for (rule, b) in guard.rules.iter().zip(BUILTINS) {
            assert!(
                rule.regex.get().is_some(),
                "built-in {} does not compile",
                b.id
            );
            assert!(
                compile(b.regex).is_ok(),
                "built-in {} does not compile",
                b.id
            );
        }
    }

    #[test]
    fn window_ends_at_line_end_and_does_not_cut_tokens() {
        let hay = b"first\nkey = ghp_abc\nthird";
        let (ws, we) = window(hay, 12, 16, 0);
        assert_eq!(&hay[ws..we], b"key = ghp_abc");
        let long = [b'a'; 5000];
        let (ws, we) = window(&long, 2000, 2004, 0);
        assert_eq!((ws, we), (2000 - BACK, 5000.min(2004 + 2 * FORWARD)));
    }

    #[test]
    fn preview_never_shows_more_than_four_chars() {
        assert_eq!(preview(b"ghp_0123456789", 4), "ghp_…[10 chars]");
        assert_eq!(preview(b"sk_live_abcdef", 9), "sk_l…[10 chars]");
        assert_eq!(preview("Rue de l'Été".as_bytes(), 0), "[12 chars]");
    }
}
