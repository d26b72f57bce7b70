//! ACK lines: `ACK <id> [<ref> …]`, and DONE lines, `DONE T-… [<ref> …]`,
//! which are read by the same rules (SPEC §5).
//!
//! Owns: recognising a line as an ACK or a DONE, splitting its id and refs,
//! and the canonical text of a ref. Must never judge a ref (a path outside the
//! project, an unknown commit): refs are kept exactly as given so the core can
//! reject them with a reason.

use serde::Serialize;

/// One artifact reference of an ACK line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AckRef {
    /// `PR #123`
    Pr { number: u64 },
    /// `pr:owner/repo#123`
    PrFull {
        owner: String,
        repo: String,
        number: u64,
    },
    /// `commit:<sha>` (4–64 hex digits, as written)
    Commit { sha: String },
    /// `artifact:A-…`
    Artifact { id: String },
    /// `http://…` or `https://…`
    Url { url: String },
    /// Anything path-like (contains `/`, `\` or `.`, or starts with `~`), kept
    /// as given, hostile or not.
    Path { path: String },
}

impl AckRef {
    /// The canonical text form: `PR #12`, `pr:o/r#12`, `commit:abc`,
    /// `artifact:A-…`, the URL, the path.
    pub fn as_str(&self) -> String {
        match self {
            AckRef::Pr { number } => format!("PR #{number}"),
            AckRef::PrFull {
                owner,
                repo,
                number,
            } => format!("pr:{owner}/{repo}#{number}"),
            AckRef::Commit { sha } => format!("commit:{sha}"),
            AckRef::Artifact { id } => format!("artifact:{id}"),
            AckRef::Url { url } => url.clone(),
            AckRef::Path { path } => path.clone(),
        }
    }
}

/// A recognised ACK line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AckLine {
    /// `DO-…`, `BC-…` or `W-…`.
    pub id: String,
    pub refs: Vec<AckRef>,
    /// 1-based line in [`crate::Reply::text`].
    pub line: usize,
    /// The line as it stood in the normalised text, trimmed.
    pub raw: String,
}

/// A line that starts with `ACK` (any case) but cannot be read as one: reported, never
/// dropped, so the chat can be asked for a proper line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnreadableAck {
    /// 1-based line in [`crate::Reply::text`].
    pub line: usize,
    /// The line, trimmed (at most 200 characters).
    pub text: String,
    /// What is wrong with it.
    pub reason: String,
}

/// A recognised DONE line: the chat says a TODO is finished, citing refs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoneLine {
    /// `T-…`.
    pub id: String,
    pub refs: Vec<AckRef>,
    /// 1-based line in [`crate::Reply::text`].
    pub line: usize,
}

pub(crate) enum AckParse {
    /// Not an ACK line at all (prose, or no `ACK` at the start).
    No,
    /// Starts like an ACK but is not one; the reason goes to the warnings.
    Malformed(String),
    Yes {
        id: String,
        refs: Vec<AckRef>,
    },
}

/// Characters that may trail a token without belonging to it.
pub(crate) fn trim_token(t: &str) -> &str {
    t.trim_matches(|c: char| {
        matches!(
            c,
            '`' | '*' | '"' | '“' | '”' | '‘' | '’' | '\'' | '«' | '»'
        )
    })
    .trim_end_matches(['.', ',', ';', ':', '!', '?'])
    .trim_matches(|c: char| matches!(c, '`' | '*' | '"' | '“' | '”' | '‘' | '’' | '\''))
}

/// Models write U+2010/U+2011 (non-breaking) hyphens, figure and minus
/// dashes in prose; in an id they can only mean `-`. Paths are not touched.
pub(crate) fn ascii_hyphens(id: &str) -> std::borrow::Cow<'_, str> {
    const LOOKALIKES: [char; 4] = ['\u{2010}', '\u{2011}', '\u{2012}', '\u{2212}'];
    if id.is_ascii() {
        std::borrow::Cow::Borrowed(id)
    } else {
        std::borrow::Cow::Owned(id.replace(LOOKALIKES, "-"))
    }
}

/// `<prefix>-<[0-9A-Z]{1,26}>`.
pub(crate) fn valid_id(id: &str, prefixes: &[&str]) -> bool {
    let Some((p, rest)) = id.split_once('-') else {
        return false;
    };
    prefixes.contains(&p)
        && (1..=26).contains(&rest.len())
        && rest
            .bytes()
            .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
}

fn is_hex(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_hexdigit())
}

fn pr_number(s: &str) -> Option<u64> {
    let d = s.strip_prefix('#')?;
    if d.is_empty() || d.len() > 12 || !d.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    d.parse().ok()
}

fn pr_full(s: &str) -> Option<AckRef> {
    let r = s.strip_prefix("pr:").or_else(|| s.strip_prefix("PR:"))?;
    let (path, num) = r.rsplit_once('#')?;
    let (owner, repo) = path.split_once('/')?;
    let ok = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    };
    if !ok(owner) || !ok(repo) {
        return None;
    }
    Some(AckRef::PrFull {
        owner: owner.to_string(),
        repo: repo.to_string(),
        number: pr_number(&format!("#{num}"))?,
    })
}

/// One ref token (the `PR #12` pair is handled by the caller).
fn single_ref(t: &str) -> Option<AckRef> {
    if let Some(r) = pr_full(t) {
        return Some(r);
    }
    if let Some(sha) = t.strip_prefix("commit:") {
        return is_hex(sha, 4, 64).then(|| AckRef::Commit {
            sha: sha.to_string(),
        });
    }
    if let Some(id) = t.strip_prefix("artifact:") {
        let id = normalize_id(&ascii_hyphens(id));
        return valid_id(&id, &["A"]).then_some(AckRef::Artifact { id });
    }
    if t.starts_with("https://") || t.starts_with("http://") {
        let url = t.trim_end_matches([')', ']', '>']);
        return Some(AckRef::Url {
            url: url.to_string(),
        });
    }
    if let Some(n) = t
        .strip_prefix("PR#")
        .and_then(|r| pr_number(&format!("#{r}")))
    {
        return Some(AckRef::Pr { number: n });
    }
    if t.contains(['/', '\\', '.']) || t.starts_with('~') {
        return Some(AckRef::Path {
            path: t.to_string(),
        });
    }
    None
}

/// Tokens after which the rest of the line is a free comment.
fn is_comment_separator(t: &str) -> bool {
    matches!(t, "—" | "–" | "-" | "--" | "|" | "//" | "#")
}

/// `[text](url)` → `text`: what the rendered copy of a markdown link shows,
/// so both copies of an ACK line give the same refs.
pub(crate) fn unlink(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains("](") {
        return std::borrow::Cow::Borrowed(s);
    }
    // Linear: each `](` is looked at once, with the `[` just before it.
    let mut out = String::with_capacity(s.len());
    let mut done = 0;
    let mut from = 0;
    while let Some(k) = s[from..].find("](") {
        let mid = from + k;
        let close = s[mid + 2..].find(')').map(|c| mid + 2 + c);
        let open = s[done..mid].rfind('[').map(|o| done + o);
        match (open, close) {
            (Some(open), Some(close)) => {
                out.push_str(&s[done..open]);
                out.push_str(&s[open + 1..mid]);
                done = close + 1;
                from = done;
            }
            (_, None) => break,
            (None, Some(_)) => from = mid + 2,
        }
    }
    out.push_str(&s[done..]);
    std::borrow::Cow::Owned(out)
}

/// A token with no letter or digit (an emoji, a dash, a check mark).
fn is_ornament(t: &str) -> bool {
    !t.chars().any(char::is_alphanumeric)
}

/// The two protocol lines made of a keyword, an id and refs.
struct Grammar {
    keyword: &'static str,
    /// The keyword is read in any case, and a line it starts that cannot be read is
    /// reported, never dropped (ACK). `DONE` starts prose too often ("DONE with the tests")
    /// for either.
    any_case: bool,
    ids: &'static [&'static str],
    /// The ids it takes, in words ("a DO-, BC- or W- id").
    id_words: &'static str,
    /// Other id kinds: a line naming one is malformed, with this reason.
    other_ids: &'static [&'static str],
    wrong_id: &'static str,
}

const ACK: Grammar = Grammar {
    keyword: "ACK",
    any_case: true,
    ids: &["DO", "BC", "W"],
    id_words: "a DO-, BC- or W- id",
    other_ids: &["S", "A", "T"],
    wrong_id: "only DO-, BC- and W- ids can be acknowledged",
};

const DONE: Grammar = Grammar {
    keyword: "DONE",
    any_case: false,
    ids: &["T"],
    id_words: "a T- id",
    other_ids: &["S", "A", "DO", "BC", "W"],
    wrong_id: "only a TODO (a T- id) is closed with DONE; a result is answered with ACK",
};

/// Parses the decoration-stripped core of a line as an ACK.
pub(crate) fn parse(core: &str) -> AckParse {
    parse_as(core, &ACK)
}

/// Parses the decoration-stripped core of a line as a DONE line.
pub(crate) fn parse_done(core: &str) -> AckParse {
    parse_as(core, &DONE)
}

fn parse_as(core: &str, g: &Grammar) -> AckParse {
    // The keyword is the line's first word: `ACK` in any case (`ack`, `Ack:`), `DONE` in
    // capitals only (prose starts with "Done" too often).
    let word_end = core
        .find(|c: char| c.is_whitespace() || c == ':')
        .unwrap_or(core.len());
    let word = &core[..word_end];
    let is_keyword = if g.any_case {
        word.eq_ignore_ascii_case(g.keyword)
    } else {
        word == g.keyword
    };
    if !is_keyword {
        return AckParse::No;
    }
    let core = unlink(core);
    let core = core.as_ref();
    let rest = &core[word_end..];
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return AckParse::No;
    }
    let mut toks = rest.split_whitespace();
    // In capitals the keyword says "this is an ACK line", so a line that cannot be read
    // is reported; in another case (`ack`, `Ack`) only an id right after it does: "Ack,
    // thanks" is prose, and `ack --python TODO` the grep tool.
    let reported = g.any_case && word == g.keyword;
    let Some(id_tok) = toks.next() else {
        if !reported {
            return AckParse::No;
        }
        return AckParse::Malformed(format!("no id follows {}", g.keyword));
    };
    if !reported && !looks_like_id(&ascii_hyphens(trim_token(id_tok))) {
        return AckParse::No;
    }
    let id = normalize_id(&ascii_hyphens(trim_token(id_tok)));
    if !valid_id(&id, g.ids) {
        if valid_id(&id, g.other_ids) {
            return AckParse::Malformed(format!("`{id}`: {}", g.wrong_id));
        }
        if !reported {
            return AckParse::No;
        }
        return AckParse::Malformed(format!("`{}` is not {}", trim_token(id_tok), g.id_words));
    }
    let mut refs = Vec::new();
    let toks: Vec<&str> = toks.collect();
    // After a separator (`ACK DO-7 — PR #12`, `— merged`) the first word that
    // is not a ref starts a free comment instead of making the line prose.
    let mut after_separator = false;
    let mut i = 0;
    while i < toks.len() {
        let raw = toks[i];
        if is_comment_separator(raw) {
            after_separator = true;
            i += 1;
            continue;
        }
        if raw.starts_with('(') {
            break; // "(merged)" and the like
        }
        let t = trim_token(raw);
        if t.is_empty() || is_ornament(t) {
            i += 1;
            continue;
        }
        if t.eq_ignore_ascii_case("pr")
            && let Some(n) = toks.get(i + 1).and_then(|n| pr_number(trim_token(n)))
        {
            refs.push(AckRef::Pr { number: n });
            i += 2;
            continue;
        }
        match single_ref(t) {
            Some(r) => refs.push(r),
            None if after_separator => break,
            None => {
                return AckParse::Malformed(format!(
                    "`{t}` is not a ref (PR #N, pr:owner/repo#N, commit:SHA, artifact:A-…, a URL or a path)"
                ));
            }
        }
        i += 1;
    }
    AckParse::Yes { id, refs }
}

/// `XX-…`: one or two letters, a hyphen, then letters or digits (in any case).
fn looks_like_id(t: &str) -> bool {
    t.split_once('-').is_some_and(|(p, r)| {
        (1..=2).contains(&p.len())
            && p.bytes().all(|b| b.is_ascii_alphabetic())
            && !r.is_empty()
            && r.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// An id as a chat may write it, in the form CoAgent records: upper case, and in the part
/// after the kind prefix Crockford base32's look-alikes read as the digits they stand for
/// (`O` → `0`, `I`/`L` → `1`). `do-7qs3ye3p43` → `DO-7QS3YE3P43`.
pub fn normalize_id(id: &str) -> String {
    let up = id.to_ascii_uppercase();
    match up.split_once('-') {
        Some((prefix, rest)) => {
            let rest: String = rest
                .chars()
                .map(|c| match c {
                    'O' => '0',
                    'I' | 'L' => '1',
                    c => c,
                })
                .collect();
            format!("{prefix}-{rest}")
        }
        None => up,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lines;

    fn parse_line(line: &str) -> AckParse {
        parse(lines::core(line).text)
    }

    fn refs(line: &str) -> Vec<String> {
        match parse_line(line) {
            AckParse::Yes { refs, .. } => refs.iter().map(AckRef::as_str).collect(),
            AckParse::No => vec!["<no>".into()],
            AckParse::Malformed(m) => vec![format!("<malformed {m}>")],
        }
    }

    #[test]
    fn every_ref_kind() {
        assert_eq!(
            refs(
                "ACK DO-7K3M PR #12 pr:acme/web#3 commit:abc1234 artifact:A-01HX https://x.test/a, docs/out.log ../../etc/passwd /etc/passwd"
            ),
            vec![
                "PR #12",
                "pr:acme/web#3",
                "commit:abc1234",
                "artifact:A-01HX",
                "https://x.test/a",
                "docs/out.log",
                "../../etc/passwd",
                "/etc/passwd"
            ]
        );
    }

    #[test]
    fn decorations_and_comments() {
        assert_eq!(refs("- **ACK `DO-7` `PR #4`**."), vec!["PR #4"]);
        assert_eq!(refs("ACK BC-7 — thanks, merged"), Vec::<String>::new());
        assert_eq!(refs("ACK DO-7 — PR #12"), vec!["PR #12"]);
        assert_eq!(
            refs("ACK DO\u{2011}7K3M artifact:A\u{2010}1234 docs/non\u{2011}trivial.md"),
            vec!["artifact:A-1234", "docs/non\u{2011}trivial.md"]
        );
        assert_eq!(refs("ACK DO-7 PR #12 ✅"), vec!["PR #12"]);
        assert_eq!(
            refs("ACK DO-7 commit:abc1234 (merged into main)"),
            vec!["commit:abc1234"]
        );
        assert_eq!(
            refs("ACK DO-7 [PR #12](https://x.test/pull/12)"),
            vec!["PR #12"]
        );
        // The rendered copy shows only "log": not a ref in either copy.
        assert!(matches!(
            parse_line("ACK DO-7 [log](logs/a.txt)"),
            AckParse::Malformed(_)
        ));
        assert_eq!(refs("ACK W-AB12 PR#9"), vec!["PR #9"]);
    }

    fn done_refs(line: &str) -> Vec<String> {
        match parse_done(lines::core(line).text) {
            AckParse::Yes { id, refs } => std::iter::once(id)
                .chain(refs.iter().map(AckRef::as_str))
                .collect(),
            AckParse::No => vec!["<no>".into()],
            AckParse::Malformed(m) => vec![format!("<malformed {m}>")],
        }
    }

    #[test]
    fn done_lines_read_like_acks() {
        assert_eq!(
            done_refs("- **DONE `T-05D7K0AXSR` artifact:A-1234 commit:abc1234**."),
            vec!["T-05D7K0AXSR", "artifact:A-1234", "commit:abc1234"]
        );
        assert_eq!(
            done_refs("DONE: T\u{2011}7 PR #12, pr:o/r#1 https://x.test/a docs/x.md ✅"),
            vec!["T-7", "PR #12", "pr:o/r#1", "https://x.test/a", "docs/x.md"]
        );
        assert_eq!(done_refs("DONE T-7"), vec!["T-7"]);
        assert_eq!(done_refs("DONE T-7 — all green"), vec!["T-7"]);
        assert_eq!(done_refs("DONE with the tests"), vec!["<no>"]);
        assert_eq!(done_refs("done T-7 x.log"), vec!["<no>"]);
        assert!(done_refs("DONE DO-7 x.log")[0].starts_with("<malformed `DO-7`: only a TODO"));
        assert!(done_refs("DONE T-7 is finished")[0].contains("`is` is not a ref"));
        assert_eq!(done_refs("DONE t-7q x.log"), vec!["T-7Q", "x.log"]);
        // ACK lines are not DONE lines, and the other way round.
        assert!(matches!(parse_line("DONE T-7 x.log"), AckParse::No));
        assert_eq!(done_refs("ACK DO-7 x.log"), vec!["<no>"]);
    }

    #[test]
    fn prose_is_not_an_ack() {
        // Not in capitals and no id after it: prose, or the `ack` grep tool.
        assert!(matches!(parse_line("Ack, thanks!"), AckParse::No));
        assert!(matches!(parse_line("ack --python TODO src/"), AckParse::No));
        assert!(matches!(parse_line("ack"), AckParse::No));
        assert!(matches!(parse_line("I will ACK DO-1 later"), AckParse::No));
        assert!(matches!(parse_line("ACKNOWLEDGED DO-1"), AckParse::No));
        assert!(matches!(parse_line("Acknowledged: DO-1"), AckParse::No));
    }

    fn acked(line: &str) -> String {
        match parse_line(line) {
            AckParse::Yes { id, .. } => id,
            AckParse::No => "<no>".into(),
            AckParse::Malformed(m) => format!("<unreadable {m}>"),
        }
    }

    #[test]
    fn ack_lines_are_read_in_any_case() {
        assert_eq!(acked("ack DO-7QS3YE3P43 x.log"), "DO-7QS3YE3P43");
        assert_eq!(acked("ACK do-7qs3ye3p43 x.log"), "DO-7QS3YE3P43");
        assert_eq!(acked("ACK DO-zz9q"), "DO-ZZ9Q");
        assert_eq!(
            acked("Ack: bc-01jd8z6q4m3n7p9r2t5v8w0xyz"),
            "BC-01JD8Z6Q4M3N7P9R2T5V8W0XYZ"
        );
        // Crockford's look-alikes: O is 0, I and L are 1.
        assert_eq!(acked("ACK do-7oil PR #3"), "DO-7011");
        assert_eq!(acked("- **ack `w-ab12`** ✅"), "W-AB12");
        assert_eq!(refs("ack DO-7 artifact:a-12o4"), vec!["artifact:A-1204"]);
    }

    #[test]
    fn a_line_starting_with_ack_that_cannot_be_read_is_unreadable_not_dropped() {
        for (line, why) in [
            ("ACK <id> <ref>", "`<id>` is not a DO-, BC- or W- id"),
            ("ACK", "no id follows ACK"),
            ("ACK: thanks!", "`thanks` is not a DO-, BC- or W- id"),
            ("ack DO-7 is done", "`is` is not a ref"),
            ("Ack t-7 x.log", "only DO-, BC- and W- ids"),
            ("ACK DO-7 is what I send", "`is` is not a ref"),
            (
                "ACK T-7 x.log",
                "only DO-, BC- and W- ids can be acknowledged",
            ),
            ("ACK DO_7 x.log", "`DO_7` is not"),
        ] {
            let got = acked(line);
            assert!(
                got.starts_with("<unreadable") && got.contains(why),
                "{line}: {got}"
            );
        }
    }
}
