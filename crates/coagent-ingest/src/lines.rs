//! Line-level recognisers shared by the scanner: markdown fences, the DO
//! sentinels, the UI label lines that a rendered selection carries, the
//! decorations people and chats put around protocol lines, and the lead-in
//! phrases that announce an example.
//!
//! Owns: pure functions of one line. Must never look at other lines or keep
//! state; the scanner does that.

/// Blank after normalisation (which turned every odd space into a plain one).
pub(crate) fn is_blank(line: &str) -> bool {
    line.bytes().all(|c| c == b' ' || c == b'\t')
}

/// An opening markdown code fence.
#[derive(Debug, Clone)]
pub(crate) struct Fence {
    pub ch: u8,
    pub len: usize,
    /// Leading spaces of the opening line; removed from content lines, as
    /// CommonMark does, so a fence nested in a list item yields the same code
    /// as its rendered form.
    pub indent: usize,
    /// First word of the info string, lower-cased; empty when untagged.
    pub tag: String,
}

pub(crate) fn fence_open(line: &str) -> Option<Fence> {
    let b = line.as_bytes();
    let indent = b.iter().take_while(|&&c| c == b' ').count();
    let ch = *b.get(indent)?;
    if ch != b'`' && ch != b'~' {
        return None;
    }
    let len = b[indent..].iter().take_while(|&&c| c == ch).count();
    if len < 3 {
        return None;
    }
    let info = line[indent + len..].trim();
    if ch == b'`' && info.contains('`') {
        // ```inline``` on one line is inline code, not a fence.
        return None;
    }
    let word = info.split_whitespace().next().unwrap_or("");
    let word = word.trim_matches(|c| c == '{' || c == '}' || c == '.');
    let word = word.split([',', '{']).next().unwrap_or("");
    Some(Fence {
        ch,
        len,
        indent,
        tag: word.to_ascii_lowercase(),
    })
}

pub(crate) fn fence_closes(line: &str, f: &Fence) -> bool {
    let t = line.trim_start_matches(' ').as_bytes();
    let n = t.iter().take_while(|&&c| c == f.ch).count();
    n >= f.len && t[n..].iter().all(|c| c.is_ascii_whitespace())
}

/// Removes up to `n` leading spaces.
pub(crate) fn strip_indent(line: &str, n: usize) -> &str {
    let k = line.bytes().take(n).take_while(|&c| c == b' ').count();
    &line[k..]
}

/// `# DO: <title>` — returns the title (possibly empty).
pub(crate) fn do_start(line: &str) -> Option<&str> {
    let t = line.trim_start();
    let r = t.strip_prefix('#')?;
    let r = r.trim_start_matches([' ', '\t']);
    let r = r.strip_prefix("DO:")?;
    Some(r.trim())
}

/// `# END DO` (optionally followed by a non-word character and anything).
pub(crate) fn is_do_end(line: &str) -> bool {
    let t = line.trim_start();
    let Some(r) = t.strip_prefix('#') else {
        return false;
    };
    let r = r.trim_start_matches([' ', '\t']);
    let Some(r) = r.strip_prefix("END DO") else {
        return false;
    };
    r.chars()
        .next()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'))
}

/// A title that is a placeholder (`<title>`, `…`) marks a template, not a proposal.
pub(crate) fn is_placeholder_title(t: &str) -> bool {
    let t = t.trim();
    has_angle_placeholder(t)
        || (t.starts_with('{') && t.ends_with('}'))
        || (t.starts_with('[') && t.ends_with(']'))
        || (!t.is_empty() && t.chars().all(|c| matches!(c, '.' | '…' | '_' | ' ')))
        || t.eq_ignore_ascii_case("title")
}

/// `<title>`, `<what it does>` anywhere: a template, also when the rendered
/// copy glued the rest of a sentence to it.
fn has_angle_placeholder(t: &str) -> bool {
    // Linear: each `>` is paired with the nearest `<` before it.
    let mut from = 0;
    while let Some(k) = t[from..].find('>') {
        let close = from + k;
        if let Some(open) = t[from..close].rfind('<').map(|o| from + o) {
            let inner = &t[open + 1..close];
            if !inner.is_empty()
                && !inner.starts_with(' ')
                && !inner.ends_with(' ')
                && inner
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.' | '…'))
            {
                return true;
            }
        }
        from = close + 1;
    }
    false
}

/// Words a chat UI puts around a code block that a rendered selection copies.
const UI_WORDS: &[&str] = &[
    "Use code with caution.",
    "Use code with caution",
    "Copy code",
    "Copied!",
    "Copied",
    "Copy",
    "Edit",
    "Run code",
    "Run",
    "Download",
    "Collapse",
    "Expand",
    "Wrap",
    "Apply",
    "Insert",
    "Code snippet",
];

/// Language names a UI shows as a code block's label (compared lower-cased).
const LANGS: &[&str] = &[
    "bash",
    "sh",
    "shell",
    "zsh",
    "fish",
    "console",
    "shellscript",
    "shell session",
    "python",
    "python3",
    "py",
    "powershell",
    "pwsh",
    "ps1",
    "ps",
    "cmd",
    "bat",
    "batch",
    "text",
    "plaintext",
    "plain text",
    "txt",
    "markdown",
    "md",
    "json",
    "jsonc",
    "json5",
    "coagent",
    "yaml",
    "yml",
    "toml",
    "ini",
    "javascript",
    "js",
    "typescript",
    "ts",
    "tsx",
    "jsx",
    "rust",
    "rs",
    "go",
    "golang",
    "java",
    "kotlin",
    "c",
    "cpp",
    "c++",
    "csharp",
    "c#",
    "cs",
    "ruby",
    "rb",
    "php",
    "perl",
    "lua",
    "r",
    "sql",
    "html",
    "xml",
    "css",
    "scss",
    "diff",
    "patch",
    "dockerfile",
    "makefile",
    "make",
    "cmake",
    "nginx",
    "swift",
    "scala",
    "haskell",
    "elixir",
    "erlang",
    "dart",
    "groovy",
    "latex",
    "tex",
    "graphql",
    "protobuf",
    "hcl",
    "terraform",
    "batch",
    "bat",
    "cmd",
];

/// What a short line is when it is UI chrome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Chrome {
    /// Only UI words ("Copy code", "Use code with caution.").
    Ui,
    /// A language label, lower-cased, possibly glued to UI words ("bashCopy code").
    Lang(String),
}

pub(crate) fn chrome(line: &str) -> Option<Chrome> {
    let mut s = line.trim_matches([' ', '\t']);
    // Fast rejects: labels and UI words are short, start with a letter and
    // hold few spaces; most prose and code lines fail here.
    if s.is_empty() || s.len() > 48 || !s.as_bytes()[0].is_ascii_alphabetic() {
        return None;
    }
    // Every UI word ends in one of these bytes; without one, only a bare
    // language name is possible.
    let ui_end = matches!(
        s.as_bytes()[s.len() - 1],
        b'.' | b'n' | b'e' | b'!' | b'd' | b'y' | b't' | b'p'
    );
    if !ui_end && s.len() > 13 {
        return None;
    }
    if s.bytes().filter(|&c| c == b' ').count() > 4 {
        return None;
    }
    if ui_end {
        loop {
            let before = s.len();
            for w in UI_WORDS {
                if let Some(r) = s.strip_suffix(w) {
                    s = r.trim_end();
                }
            }
            if s.len() == before || s.is_empty() {
                break;
            }
        }
    }
    if s.is_empty() {
        return Some(Chrome::Ui);
    }
    if s.len() > 13 {
        return None;
    }
    LANGS
        .iter()
        .find(|l| l.eq_ignore_ascii_case(s))
        .map(|l| Chrome::Lang((*l).to_string()))
}

/// A line holding UI words ("Copy code", "bashCopy code", "Use code with
/// caution."): in a rendered copy it marks the edge of a code block.
pub(crate) fn is_ui_marker(line: &str) -> bool {
    let t = line.trim();
    UI_WORDS.iter().any(|w| t.ends_with(w)) && chrome(t).is_some()
}

/// UI words that a chat shows under a code block, never above one (Gemini's
/// `Use code with caution.`): the line above them is the block's last line.
pub(crate) fn is_block_footer(line: &str) -> bool {
    let t = line.trim_matches([' ', '\t']);
    let t = t.strip_suffix('.').unwrap_or(t);
    t.eq_ignore_ascii_case("Use code with caution")
}

/// Fence tags and labels that mark an example rather than something to run.
pub(crate) fn is_example_lang(l: &str) -> bool {
    matches!(
        l,
        "text" | "plaintext" | "plain text" | "txt" | "markdown" | "md"
    )
}

/// Normalises a script language to one CoAgent runs, or `None` if unsupported.
pub(crate) fn runnable_lang(l: &str) -> Option<&'static str> {
    Some(match l {
        "bash" => "bash",
        // Kept as zsh: the core runs it under zsh where installed, else maps it, saying so.
        "zsh" => "zsh",
        "sh" | "shell" | "shellscript" | "posix" => "sh",
        "python" | "python3" | "py" => "python",
        "powershell" | "pwsh" | "ps1" | "ps" => "pwsh",
        // Runs on Windows only; elsewhere `do run` says so, with the way out.
        "cmd" | "bat" | "batch" => "cmd",
        _ => return None,
    })
}

/// What to tell the user when a tag names another program than the one that runs it
/// (`shell` → sh, `powershell` → pwsh); `None` for plain synonyms (`py`, `python3`).
pub(crate) fn lang_mapping_note(tag: &str, lang: &str) -> Option<String> {
    match tag {
        "shell" | "shellscript" | "posix" => Some(format!("tagged `{tag}`: runs under sh")),
        "powershell" | "ps" | "ps1" => {
            Some(format!("tagged `{tag}`: runs under {lang} (PowerShell 7)"))
        }
        _ => None,
    }
}

/// A line that introduces an example ("For example:", "It looks like this:").
pub(crate) fn is_lead_in(line: &str) -> bool {
    let t = line
        .trim()
        .trim_start_matches('>')
        .trim_end_matches(['*', '_', ' '])
        .trim_end();
    if !t.ends_with(':') {
        return false;
    }
    let lower = t.to_lowercase();
    const PHRASES: &[&str] = &[
        "example",
        "for instance",
        "e.g.",
        "like this",
        "looks like",
        "look like",
        "would look",
        "template",
        "would reply",
        "would answer",
        "would write",
        "should look",
        "placeholder",
    ];
    PHRASES.iter().any(|p| lower.contains(p))
}

/// Result of stripping the decorations around a protocol line.
pub(crate) struct Core<'a> {
    pub text: &'a str,
    /// The line sat in a markdown blockquote (`>`).
    pub quoted: bool,
}

const QUOTES: &[char] = &['"', '\'', '“', '”', '‘', '’', '«', '»', '„'];

fn is_wrap_char(c: char) -> bool {
    c == '*' || c == '`' || c == '_' || QUOTES.contains(&c)
}

/// A token of symbols only, such as an emoji or a check mark (quote marks
/// and markdown marks are not ornaments: they are handled as decoration).
fn is_ornament(t: &str) -> bool {
    !t.is_empty()
        && t.chars()
            .all(|c| !c.is_ascii() && !c.is_alphanumeric() && !QUOTES.contains(&c))
}

/// Drops ornament tokens at both ends: `✅ ACK DO-7 …`, `… loaded 👍`.
fn strip_ornaments(mut s: &str) -> &str {
    // Ornaments are non-ASCII: most lines need no look at all.
    while s.as_bytes().first().is_some_and(|&c| c >= 0x80)
        && let Some((first, rest)) = s.split_once(' ')
    {
        if !is_ornament(first) {
            break;
        }
        s = rest.trim_start();
    }
    while s.as_bytes().last().is_some_and(|&c| c >= 0x80)
        && let Some((rest, last)) = s.rsplit_once(' ')
    {
        if !is_ornament(last) {
            break;
        }
        s = rest.trim_end();
    }
    s
}

/// Strips list bullets, blockquote marks, bold/italic marks, backticks and
/// quote marks from both ends of a line.
pub(crate) fn core(line: &str) -> Core<'_> {
    let mut s = line.trim();
    let mut quoted = false;
    while let Some(r) = s.strip_prefix('>') {
        quoted = true;
        s = r.trim_start();
    }
    // A markdown heading mark vanishes when rendered.
    let hashes = s.bytes().take_while(|&c| c == b'#').count();
    if (1..=6).contains(&hashes) && s[hashes..].starts_with(' ') {
        s = s[hashes..].trim_start();
    }
    // List bullets: "- ", "* ", "+ ", "1. ", "1) ".
    if let Some(r) = s
        .strip_prefix("- ")
        .or_else(|| s.strip_prefix("* "))
        .or_else(|| s.strip_prefix("+ "))
        .or_else(|| s.strip_prefix("• "))
    {
        s = r.trim_start();
    } else {
        let digits = s.bytes().take_while(u8::is_ascii_digit).count();
        if (1..=3).contains(&digits) {
            let r = &s[digits..];
            if let Some(r) = r.strip_prefix(". ").or_else(|| r.strip_prefix(") ")) {
                s = r.trim_start();
            }
        }
    }
    s = strip_ornaments(s);
    let lead_underscore = s.starts_with('_');
    s = s.trim_start_matches(is_wrap_char).trim_start();
    s = s
        .trim_end_matches(|c: char| (is_wrap_char(c) && (c != '_' || lead_underscore)) || c == ' ')
        .trim_end();
    Core { text: s, quoted }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences() {
        let f = fence_open("````bash title").expect("fence");
        assert_eq!((f.ch, f.len, f.tag.as_str()), (b'`', 4, "bash"));
        assert!(!fence_closes("```", &f));
        assert!(fence_closes("`````", &f));
        assert!(fence_open("```inline```").is_none());
        assert_eq!(fence_open("  ~~~ {.python}").expect("tilde").tag, "python");
        assert!(fence_open("``").is_none());
    }

    #[test]
    fn sentinels() {
        assert_eq!(do_start("# DO: list files"), Some("list files"));
        assert_eq!(do_start("#DO: x"), Some("x"));
        assert_eq!(do_start("## DO: x"), None);
        assert!(is_do_end("# END DO"));
        assert!(is_do_end("# END DO: x"));
        assert!(!is_do_end("# END DOCKER"));
    }

    #[test]
    fn placeholders() {
        assert!(is_placeholder_title("<title>"));
        assert!(is_placeholder_title("<title> must be the first line"));
        assert!(is_placeholder_title("…"));
        assert!(!is_placeholder_title("compare a < b and c > d"));
        assert!(!is_placeholder_title("List files"));
    }

    #[test]
    fn chrome_lines() {
        assert_eq!(chrome("bashCopy code"), Some(Chrome::Lang("bash".into())));
        assert_eq!(
            chrome("PowerShell"),
            Some(Chrome::Lang("powershell".into()))
        );
        assert_eq!(chrome("Copy code"), Some(Chrome::Ui));
        assert_eq!(chrome("Use code with caution."), Some(Chrome::Ui));
        assert_eq!(chrome("Here is the plan"), None);
        assert!(is_block_footer("Use code with caution."));
        assert!(is_block_footer("  Use code with caution"));
        assert!(!is_block_footer("Copy code"));
    }

    #[test]
    fn decorations() {
        assert_eq!(core("- **ACK DO-7 PR #1**").text, "ACK DO-7 PR #1");
        assert_eq!(core("1. `ACK DO-7`").text, "ACK DO-7");
        assert_eq!(core("“Policy v1.2 loaded.”").text, "Policy v1.2 loaded.");
        let q = core("> ACK DO-7");
        assert!(q.quoted);
        assert_eq!(q.text, "ACK DO-7");
        assert_eq!(core("ACK DO-7 my_dir/x_").text, "ACK DO-7 my_dir/x_");
        assert_eq!(core("## Policy v1.2 loaded.").text, "Policy v1.2 loaded.");
        assert_eq!(core("✅ Policy v1.2 loaded ✅").text, "Policy v1.2 loaded");
        assert_eq!(core("- 🚀 **NEXT 2/3** 👍").text, "NEXT 2/3");
        assert_eq!(core("“ACK DO-7”").text, "ACK DO-7");
    }

    #[test]
    fn lead_ins() {
        assert!(is_lead_in("For example:"));
        assert!(is_lead_in("> An ACK looks like this:"));
        assert!(!is_lead_in("Here is the DO for T-1:"));
        assert!(!is_lead_in("For example, run it twice"));
    }
}
