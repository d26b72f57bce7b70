//! The reply tag: the short line the BPOE contract asks the chat to end every reply with,
//! naming its session and turn, e.g. `[S-4K4E t3]`. It routes a reply to its session
//! without `--session` (two chats open at once) and proves the chat still keeps count.
//!
//! Owns: finding the tag in a reply's last lines. Must never decide what a tag means:
//! the core matches the session and judges the turn.

use serde::Serialize;

/// How many of the last non-blank lines are looked at: a rendered copy may add UI words
/// (`Copy`, `Retry`, a model's name) after the chat's own last line.
const TAIL_LINES: usize = 6;

/// A reply tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyTag {
    /// The session id as written, in canonical form (`S-` and upper case, Crockford
    /// look-alikes mapped), a prefix of the full id.
    pub session: String,
    pub turn: u32,
    /// 1-based line in the text the tag was found in.
    pub line: usize,
    /// The tag is alone on its line (decorations aside): a `NEXT k/n` answer may carry it.
    pub alone: bool,
}

/// The reply's tag: the last `[S-… tN]` in its last few non-blank lines.
pub fn find_tag(text: &str) -> Option<ReplyTag> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .iter()
        .enumerate()
        .rev()
        .filter(|(_, l)| !l.trim().is_empty())
        .take(TAIL_LINES)
        .find_map(|(i, l)| {
            in_line(l).map(|(session, turn, alone)| ReplyTag {
                session,
                turn,
                line: i + 1,
                alone,
            })
        })
}

/// The last tag in one line, and whether the line holds nothing else.
fn in_line(line: &str) -> Option<(String, u32, bool)> {
    let mut found = None;
    let mut from = 0;
    while let Some(at) = line[from..].find('[') {
        let start = from + at;
        from = start + 1;
        let Some(len) = line[start..].find(']') else {
            break;
        };
        if let Some((s, t)) = parse(&line[start + 1..start + len]) {
            let rest = format!("{}{}", &line[..start], &line[start + len + 1..]);
            let alone = rest
                .chars()
                .all(|c| c.is_whitespace() || matches!(c, '*' | '_' | '`' | '>' | '-' | '—'));
            found = Some((s, t, alone));
        }
    }
    found
}

/// `S-4K4E t3` (any case, one or more spaces, `t` or `T`, an optional `#`).
fn parse(inner: &str) -> Option<(String, u32)> {
    let mut words = inner.split_whitespace();
    let id = words.next()?;
    let turn = words.next()?;
    if words.next().is_some() {
        return None;
    }
    let rest = id.strip_prefix("S-").or_else(|| id.strip_prefix("s-"))?;
    if !(4..=10).contains(&rest.len()) || !rest.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let n = turn
        .strip_prefix(['t', 'T'])?
        .trim_start_matches('#')
        .parse::<u32>()
        .ok()?;
    Some((crate::ack::normalize_id(&format!("S-{rest}")), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_tag_in_the_last_lines_is_found() {
        let t = find_tag("Policy v1.0 loaded.\n\nDone.\n\n[S-4K4E t3]\n").expect("tag");
        assert_eq!(
            (t.session.as_str(), t.turn, t.line, t.alone),
            ("S-4K4E", 3, 5, true)
        );
        let t = find_tag("All done. `[s-4k4e T12]`\nCopy\nRetry\n").expect("tag");
        assert_eq!((t.session.as_str(), t.turn), ("S-4K4E", 12));
        assert!(!find_tag("Done. [S-4K4E t2]").expect("tag").alone);
    }

    #[test]
    fn what_is_not_a_tag() {
        for text in [
            "no tag here",
            "[S-4K t3]",
            "[S-4K4E]",
            "[S-4K4E t]",
            "[S-4K4E t3 x]",
            "[DO-4K4E t3]",
            "[S-4K4E t3]\n1\n2\n3\n4\n5\n6\n",
        ] {
            assert_eq!(find_tag(text), None, "{text:?}");
        }
    }
}
