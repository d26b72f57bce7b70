//! Syntax colours for a DO's script: comments, strings, variables and keywords of sh,
//! PowerShell and Python, as HTML spans (the text escaped). Written here rather than taken
//! from a highlighting crate: those bring a grammar engine and megabytes of grammars for
//! four token kinds in three languages; a reader only needs to tell code from comments and
//! strings at a glance.

const SH: &[&str] = &[
    "if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
    "in", "function", "return", "exit", "set", "export", "local", "echo", "cd", "cat", "rm",
    "mkdir", "printf", "test",
];
const PY: &[&str] = &[
    "def", "class", "import", "from", "as", "if", "elif", "else", "for", "while", "in", "not",
    "and", "or", "return", "with", "try", "except", "finally", "raise", "pass", "None", "True",
    "False", "print", "lambda", "yield",
];
const PS: &[&str] = &[
    "function",
    "param",
    "if",
    "else",
    "elseif",
    "foreach",
    "for",
    "while",
    "return",
    "try",
    "catch",
    "finally",
    "throw",
    "Write-Output",
    "Write-Host",
    "Set-Content",
    "Get-Content",
];

fn escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

fn span(class: &str, text: &str, out: &mut String) {
    out.push_str("<span class=\"");
    out.push_str(class);
    out.push_str("\">");
    escape(text, out);
    out.push_str("</span>");
}

/// The script as HTML: safe to insert as is (every character of it is escaped).
pub fn html(script: &str, lang: &str) -> String {
    let words = match lang {
        "python" => PY,
        "pwsh" | "powershell" => PS,
        _ => SH,
    };
    let mut out = String::with_capacity(script.len() * 2);
    for (i, line) in script.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        line_html(line, words, &mut out);
    }
    out
}

fn line_html(line: &str, words: &[&str], out: &mut String) {
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        let len = match c {
            '#' => {
                span("c", rest, out);
                rest.len()
            }
            '"' | '\'' => {
                let end = rest[1..].find(c).map_or(rest.len(), |e| e + 2);
                span("s", &rest[..end], out);
                end
            }
            '$' => {
                let end = 1 + rest[1..]
                    .find(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '{' || ch == '}'))
                    .unwrap_or(rest.len() - 1);
                span("v", &rest[..end], out);
                end
            }
            c if c.is_alphabetic() || c == '_' => {
                let end = rest
                    .find(|ch: char| !(ch.is_alphanumeric() || ch == '_' || ch == '-'))
                    .unwrap_or(rest.len());
                let w = &rest[..end];
                if words.contains(&w) {
                    span("k", w, out);
                } else {
                    escape(w, out);
                }
                end
            }
            c => {
                escape(&rest[..c.len_utf8()], out);
                c.len_utf8()
            }
        };
        rest = &rest[len..];
    }
}

#[cfg(test)]
mod tests {
    use super::html;

    #[test]
    fn comments_strings_and_escaping() {
        let h = html("echo \"<b>\" # done & gone", "bash");
        assert_eq!(
            h,
            "<span class=\"k\">echo</span> <span class=\"s\">&quot;&lt;b&gt;&quot;</span> <span class=\"c\"># done &amp; gone</span>"
        );
    }

    #[test]
    fn a_script_cannot_inject_markup() {
        let h = html("x='</pre><script>alert(1)</script>", "sh");
        assert!(!h.contains("<script"), "{h}");
    }
}
