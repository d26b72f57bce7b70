//! Questions the chat asks the human: a line of prose ending with `?`, outside code
//! blocks, DOs, blockquotes and examples, and not a heading. Shown before the DOs so
//! the human answers in the chat before running anything.
//!
//! Owns: telling a question from other prose by the line alone. Must never be a
//! record: a rendered copy cannot tell an ordinary code block's line from prose, so
//! the two copies of a reply may list different questions (they are advice, and
//! not part of [`crate::Records`]).

use serde::Serialize;

/// At most this many questions are kept from one reply.
pub const MAX: usize = 10;

/// A question to the human.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Question {
    /// 1-based line in [`crate::Reply::text`].
    pub line: usize,
    /// The line without its decorations.
    pub text: String,
}

/// The question in the decoration-stripped core of a prose line, if it is one: it ends
/// with `?`, starts with a letter or digit, and has at least two words. The text is
/// given as a rendered copy shows it, so both copies of a reply agree.
pub(crate) fn parse(core: &str) -> Option<String> {
    let t = core.trim();
    // A question may be followed by what the chat does either way ("…? If not, I'll
    // wait."): it still waits for the answer.
    let t = match t.ends_with('?') {
        true => t,
        false => asked_then_conditional(t)?,
    };
    if !t.chars().next().is_some_and(char::is_alphanumeric) {
        return None;
    }
    // Two words at least: `x?` alone is code or a shrug, not a question.
    t.split_whitespace().nth(1)?;
    // As a rendered copy shows it: no emphasis marks, no backticks, links as their text.
    let plain: String = crate::ack::unlink(t)
        .chars()
        .filter(|&c| c != '*' && c != '`')
        .take(500)
        .collect();
    Some(plain.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// What a conditional after the question begins with.
const EITHER_WAY: &[&str] = &["if not", "if so", "if yes", "if no", "otherwise", "if you"];

/// `t` up to its last `?` when what follows it says what happens on either answer.
fn asked_then_conditional(t: &str) -> Option<&str> {
    let at = t.rfind("? ")?;
    let rest = t[at + 2..].trim_start().to_ascii_lowercase();
    EITHER_WAY
        .iter()
        .any(|w| {
            rest.strip_prefix(w)
                .is_some_and(|r| r.starts_with([',', ' ', ':', ';']))
        })
        .then(|| &t[..=at])
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn questions() {
        assert_eq!(
            parse("Should I also run the slow tests?").as_deref(),
            Some("Should I also run the slow tests?")
        );
        assert_eq!(
            parse("Keep **`tests/data`** or [the old one](https://x.test)?").as_deref(),
            Some("Keep tests/data or the old one?")
        );
        assert_eq!(parse("Ready?"), None);
        assert_eq!(parse("?? what"), None);
        assert_eq!(parse("Is this fine? I think so."), None);
        // As a real chat wrote it: the question, then what it does if the answer is no.
        assert_eq!(
            parse("Should I add either of these as TODOs and write DOs for them? If not, I'll wait for the next handoff.").as_deref(),
            Some("Should I add either of these as TODOs and write DOs for them?")
        );
        assert_eq!(
            parse("Want me to pin the versions? Otherwise the next run takes the latest.")
                .as_deref(),
            Some("Want me to pin the versions?")
        );
        assert_eq!(parse("Is this fine? If anything, it is slow."), None);
    }
}
