//! CoAgent's own payloads pasted back by mistake.
//!
//! Owns: recognising a payload header line and comparing a reply with a known
//! payload text. Must never refuse anything itself: it flags, the core refuses.

use std::collections::HashSet;

use serde::Serialize;

use crate::Reply;

/// Identifies a CoAgent payload found where a chat's reply was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnPayload {
    pub id: Option<String>,
    pub kind: Option<String>,
    /// `k/n` as written in the header.
    pub part: Option<String>,
}

/// `<!-- coagent v1 id=… kind=… part=k/n sha256=… -->`, also when the comment
/// marks were lost (a rendered copy of it shows the inner text only).
pub(crate) fn parse_header(core: &str) -> Option<OwnPayload> {
    let t = core.trim();
    let commented = t.starts_with("<!--");
    let t = t.strip_prefix("<!--").unwrap_or(t).trim_start();
    let t = t.strip_prefix("coagent v1")?;
    if !(t.is_empty() || t.starts_with(' ')) {
        return None;
    }
    let t = t.trim_end().strip_suffix("-->").unwrap_or(t);
    let mut p = OwnPayload {
        id: None,
        kind: None,
        part: None,
    };
    for kv in t.split_whitespace() {
        if let Some((k, v)) = kv.split_once('=') {
            let v = Some(v.to_string());
            match k {
                "id" => p.id = v,
                "kind" => p.kind = v,
                "part" => p.part = v,
                _ => {}
            }
        }
    }
    // Without its comment marks, only a line with the header's fields counts
    // ("coagent v1 is the header format" is prose).
    (commented || (p.id.is_some() && p.kind.is_some())).then_some(p)
}

/// Lines of a text that say something: not blank, not a fence marker, not
/// the header itself.
fn meaningful_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(str::trim)
        .filter(|l| l.len() >= 12 && !l.starts_with("```") && !l.starts_with("~~~"))
        .filter(|l| !l.starts_with("<!--"))
}

/// True when `reply` is (mostly) the text of `payload`, a payload CoAgent
/// wrote, whichever way it was copied: at least 60 % of the payload's
/// meaningful lines appear in the reply, and they make up most of the reply.
/// The core calls this with the session's outbox payloads, since a pasted-back
/// payload without its header line can only be told by its content.
pub fn matches_payload(reply: &Reply<'_>, payload: &str) -> bool {
    let payload = crate::normalize::normalize(payload);
    let want: HashSet<&str> = meaningful_lines(&payload).collect();
    if want.is_empty() {
        return false;
    }
    let have: Vec<&str> = meaningful_lines(&reply.text).collect();
    let hits = have.iter().filter(|l| want.contains(*l)).count();
    let shared: HashSet<&&str> = have.iter().filter(|l| want.contains(*l)).collect();
    shared.len() * 10 >= want.len() * 6 && hits * 2 >= have.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header() {
        let p = parse_header("<!-- coagent v1 id=BC-01J kind=boot part=1/2 sha256=ab -->")
            .expect("header");
        assert_eq!(p.id.as_deref(), Some("BC-01J"));
        assert_eq!(p.kind.as_deref(), Some("boot"));
        assert_eq!(p.part.as_deref(), Some("1/2"));
        assert!(parse_header("coagent v1 id=X kind=result").is_some());
        assert!(parse_header("coagent v10").is_none());
        assert!(parse_header("coagent v1 is the header format").is_none());
        assert!(parse_header("<!-- a comment -->").is_none());
    }
}
