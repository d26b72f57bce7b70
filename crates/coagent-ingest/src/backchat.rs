//! BackchatMessage blocks: the JSON a chat sends in a fenced `coagent` block,
//! or the same JSON without its fence when the page was copied rendered.
//!
//! Owns: finding where a JSON object ends (a brace matcher that respects
//! strings) and a canonical re-serialisation. Must never validate against the
//! schema: the core does.

use serde::Serialize;

/// The schema name that marks a BackchatMessage.
pub const SCHEMA: &str = "coagent.backchat.v1";

/// A BackchatMessage as found in a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageBlock {
    /// The JSON object's text, from `{` to the matching `}`, as written
    /// (normalised like the rest of the reply).
    pub json: String,
    /// 1-based line of the `{` in [`crate::Reply::text`].
    pub line: usize,
    /// Found inside a markdown fence (copy-button form).
    pub fenced: bool,
}

/// Incremental brace matcher over successive lines.
#[derive(Default)]
pub(crate) struct Braces {
    depth: usize,
    in_str: bool,
    esc: bool,
    started: bool,
}

impl Braces {
    /// Feeds one line (a newline is implied after it). Returns the byte
    /// offset just past the closing brace when the object ends in this line.
    pub fn feed(&mut self, line: &str) -> Option<usize> {
        for (i, c) in line.bytes().enumerate() {
            if self.in_str {
                if self.esc {
                    self.esc = false;
                } else if c == b'\\' {
                    self.esc = true;
                } else if c == b'"' {
                    self.in_str = false;
                }
                continue;
            }
            match c {
                b'"' if self.started => self.in_str = true,
                b'{' => {
                    self.started = true;
                    self.depth += 1;
                }
                b'}' if self.started => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return Some(i + 1);
                    }
                }
                _ => {}
            }
        }
        // A JSON string never spans a raw newline: such text is not JSON,
        // and carrying the string state over would swallow the rest.
        if self.in_str {
            self.in_str = false;
            self.esc = false;
        }
        None
    }
}

impl MessageBlock {
    /// The object re-serialised compactly with sorted keys, when it is valid
    /// JSON: equal for both copies of a reply, handy to deduplicate. Computed
    /// on demand, since most callers parse `json` themselves anyway.
    pub fn canonical(&self) -> Option<String> {
        canonical(&self.json)
    }
}

fn canonical(json: &str) -> Option<String> {
    serde_json::from_str::<serde_json::Value>(json)
        .ok()
        .filter(serde_json::Value::is_object)
        .and_then(|v| serde_json::to_string(&v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn braces_respect_strings() {
        let mut b = Braces::default();
        assert_eq!(b.feed(r#"{"a": "}{\"", "#), None);
        assert_eq!(b.feed(r#" "b": {"c": 1}} trailing"#), Some(15));
    }

    #[test]
    fn canonical_sorts_keys() {
        assert_eq!(
            canonical(r#"{"b":1, "a":2}"#).as_deref(),
            Some(r#"{"a":2,"b":1}"#)
        );
        assert_eq!(canonical("[1]"), None);
    }
}
