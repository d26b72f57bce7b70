//! Text normalisation: turns the bytes a person copied into the one text every
//! other module parses.
//!
//! Owns: UTF-8 decoding (lossy, counted), line endings, browser-added invisible
//! characters, odd spaces and trailing whitespace. Must never touch visible
//! characters such as smart quotes: real chat UIs never smart-quote code, so
//! keeping them means a script reads the same whichever way it was copied.

use std::borrow::Cow;

/// What the decoder had to do to the input.
pub(crate) struct Decoded<'a> {
    pub text: Cow<'a, str>,
    /// Number of invalid UTF-8 sequences that were replaced by U+FFFD.
    pub invalid_sequences: usize,
}

/// Decodes bytes as UTF-8, replacing invalid sequences and counting them.
pub(crate) fn decode(input: &[u8]) -> Decoded<'_> {
    match std::str::from_utf8(input) {
        Ok(s) => Decoded {
            text: Cow::Borrowed(s),
            invalid_sequences: 0,
        },
        Err(_) => {
            let mut out = String::with_capacity(input.len() + 16);
            let mut invalid = 0;
            for chunk in input.utf8_chunks() {
                out.push_str(chunk.valid());
                if !chunk.invalid().is_empty() {
                    invalid += 1;
                    out.push(char::REPLACEMENT_CHARACTER);
                }
            }
            Decoded {
                text: Cow::Owned(out),
                invalid_sequences: invalid,
            }
        }
    }
}

enum Class {
    Keep,
    Space,
    Drop,
    Newline,
}

fn classify(c: char) -> Class {
    match c {
        // NBSP, en/em/thin/hair and other typographic spaces, narrow NBSP,
        // medium mathematical space, ideographic space.
        '\u{00A0}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}' | '\u{3000}' => Class::Space,
        // Zero-width space/non-joiner/joiner, word joiner, BOM, soft hyphen.
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}' => Class::Drop,
        // Line and paragraph separators some rich-text copies produce.
        '\u{2028}' | '\u{2029}' | '\u{0085}' => Class::Newline,
        _ => Class::Keep,
    }
}

fn end_line(out: &mut String) {
    let kept = out.trim_end_matches([' ', '\t']).len();
    out.truncate(kept);
    out.push('\n');
}

/// Normalises copied text: CRLF and CR become LF, typographic and non-breaking
/// spaces become a plain space, zero-width characters vanish, and trailing
/// spaces and tabs are removed from every line.
///
/// Trailing whitespace is removed because browsers add and drop it
/// unpredictably at the end of selected lines; it carries no meaning in the
/// script languages CoAgent runs.
///
/// Text that needs none of this (a copy-button copy, most of the time) is returned as it
/// is, borrowed: a 1 MiB reply is then never copied.
pub(crate) fn normalize(s: &str) -> Cow<'_, str> {
    if is_normal(s) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(normalized(s))
    }
}

/// True when [`normalize`] would return `s` unchanged.
pub(crate) fn is_normal(s: &str) -> bool {
    s.split('\n').all(|line| {
        !line.ends_with([' ', '\t'])
            && if line.is_ascii() {
                !line.as_bytes().contains(&b'\r')
            } else {
                line.chars()
                    .all(|c| c != '\r' && matches!(classify(c), Class::Keep))
            }
    })
}

fn normalized(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut start = 0;
    // Line by line: a plain ASCII line without CR (the common case) is
    // copied whole; anything else takes the char-by-char path.
    loop {
        let end = memchr::memchr(b'\n', &b[start..]).map_or(b.len(), |k| start + k);
        let line = &s[start..end];
        // A CRLF's CR goes with its LF (a CR ending the text is a line end of its own).
        let body = match line.strip_suffix('\r') {
            Some(body) if end < b.len() => body,
            _ => line,
        };
        if body.is_ascii() && !body.as_bytes().contains(&b'\r') {
            out.push_str(body.trim_end_matches([' ', '\t']));
        } else {
            slow_line(line, end < b.len(), &mut out);
        }
        if end == b.len() {
            break;
        }
        out.push('\n');
        start = end + 1;
    }
    out
}

/// One line that may hold CR, odd spaces or invisible characters.
/// `lf_follows`: an LF ends this line, so a final CR is half of a CRLF.
fn slow_line(s: &str, lf_follows: bool, out: &mut String) {
    let b = s.as_bytes();
    let mut run = 0;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c < 0x80 {
            if c == b'\r' {
                out.push_str(&s[run..i]);
                // CRLF: the LF ends the line outside; a lone CR ends it here.
                if i + 1 < b.len() || !lf_follows {
                    end_line(out);
                } else {
                    let kept = out.trim_end_matches([' ', '\t']).len();
                    out.truncate(kept);
                }
                i += 1;
                run = i;
            } else {
                i += 1;
            }
            continue;
        }
        // Every character normalising changes starts with one of these bytes (U+0085,
        // U+00A0 and U+00AD; U+2000..U+206F; U+3000; U+FEFF); the bytes of any other
        // character are passed over one by one.
        if !matches!(c, 0xC2 | 0xE2 | 0xE3 | 0xEF) {
            i += 1;
            continue;
        }
        // `i` is on a char boundary: those four are lead bytes, never continuation bytes.
        let Some(ch) = s[i..].chars().next() else {
            break;
        };
        let len = ch.len_utf8();
        match classify(ch) {
            Class::Keep => {}
            Class::Space => {
                out.push_str(&s[run..i]);
                out.push(' ');
                run = i + len;
            }
            Class::Drop => {
                out.push_str(&s[run..i]);
                run = i + len;
            }
            Class::Newline => {
                out.push_str(&s[run..i]);
                end_line(out);
                run = i + len;
            }
        }
        i += len;
    }
    out.push_str(&s[run..]);
    let kept = out.trim_end_matches([' ', '\t']).len();
    out.truncate(kept);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalize(s: &str) -> String {
        let n = super::normalize(s);
        assert_eq!(matches!(n, Cow::Borrowed(_)), n == normalized(s) && n == s);
        n.into_owned()
    }

    #[test]
    fn normal_text_is_not_copied() {
        for s in ["", "a\nb\n", "“x” ‘y’\n\n```sh\nls\n```", "é\n"] {
            assert!(matches!(super::normalize(s), Cow::Borrowed(_)), "{s:?}");
        }
        for s in ["a \nb", "a\r\n", "x\u{a0}y", "x\u{200b}", "a\t", "é \n"] {
            assert!(matches!(super::normalize(s), Cow::Owned(_)), "{s:?}");
        }
    }

    #[test]
    fn line_endings_spaces_and_invisibles() {
        let s = "a\r\nb\rc\u{00A0}d\u{200B}e  \n\u{FEFF}f\t";
        assert_eq!(normalize(s), "a\nb\nc de\nf");
    }

    #[test]
    fn lone_cr_at_end_of_line_before_lf() {
        // "a\r\r\nb": a lone CR then a CRLF: two line ends.
        assert_eq!(normalize("a\r\r\nb"), "a\n\nb");
        assert_eq!(normalize("x \r"), "x\n");
        assert_eq!(normalize("x\r"), "x\n");
    }

    #[test]
    fn smart_quotes_survive() {
        assert_eq!(normalize("“x” ‘y’"), "“x” ‘y’");
    }

    #[test]
    fn invalid_utf8_is_counted() {
        let d = decode(b"ok \xff\xfe then \xc3");
        assert_eq!(d.invalid_sequences, 3);
        assert!(d.text.contains('\u{FFFD}'));
    }

    /// Normalising as the module docs say it, a character at a time, with none of the
    /// fast paths.
    fn reference(s: &str) -> String {
        let mut lines = vec![String::new()];
        let mut chars = s.chars().peekable();
        while let Some(c) = chars.next() {
            let line = lines.last_mut().expect("a line");
            match (c, classify(c)) {
                ('\r', _) => {
                    chars.next_if_eq(&'\n');
                    lines.push(String::new());
                }
                ('\n', _) | (_, Class::Newline) => lines.push(String::new()),
                (_, Class::Space) => line.push(' '),
                (_, Class::Drop) => {}
                (_, Class::Keep) => line.push(c),
            }
        }
        lines
            .iter()
            .map(|l| l.trim_end_matches([' ', '\t']))
            .collect::<Vec<_>>()
            .join("\n")
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1000))]
        #[test]
        fn fast_paths_agree_with_the_reference(
            parts in proptest::collection::vec(
                "(abc|x y|[ \t]{1,3}|\r\n|\r|\n|é|“q”|😀|日本|\u{a0}|\u{2009}|\u{202f}|\u{3000}|\u{200b}|\u{feff}|\u{ad}|\u{2028}|\u{85}|\u{2060}|\u{2019}|\u{20ac})",
                0..24,
            )
        ) {
            let s = parts.concat();
            proptest::prop_assert_eq!(normalize(&s), reference(&s));
        }
    }
}
