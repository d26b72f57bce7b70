//! DO proposals (SPEC §5): the records, the script's language when no tag or
//! label names it, and the script hash.
//!
//! Owns: what a DO is once its lines are known. Must never run, approve or
//! judge a script.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// A complete DO found in a reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoProposal {
    pub title: String,
    /// `bash`, `sh`, `zsh`, `python` or `pwsh`.
    pub lang: String,
    /// How the language was decided when the block does not name it plainly: inferred
    /// from the content (no tag), or a tag mapped to another program (`shell` → sh).
    pub lang_note: Option<String>,
    /// From the `# DO:` line through the `# END DO` line inclusive, lines
    /// joined with `\n`, ending with `\n`.
    pub script: String,
    /// Lower-case hex sha256 of `script`'s bytes.
    pub sha256: String,
    /// 1-based line of `# DO:` in [`crate::Reply::text`].
    pub line: usize,
    /// The TODO this DO serves (`T-…`): from a `# TODO: T-…` line among the comment
    /// lines right after `# DO:` (the line stays part of the script), else from a
    /// `T-…` id in the title.
    pub todo: Option<String>,
}

/// A `# DO:` that cannot be recorded (no `# END DO`, no title, a language
/// CoAgent does not run).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncompleteDo {
    pub title: String,
    pub line: usize,
    pub reason: String,
}

/// The TODO a DO names: a `# TODO: T-…` line (any case, any spacing, the colon optional)
/// among the comment lines that follow `# DO:`, else the first `T-…` id in the title.
pub(crate) fn todo_of(title: &str, script: &str) -> Option<String> {
    for l in script.lines().skip(1) {
        let t = l.trim();
        if t.is_empty() {
            continue;
        }
        let Some(c) = t.strip_prefix('#') else {
            break;
        };
        let c = c.trim_start();
        if c.len() < 4 || !c.is_char_boundary(4) || !c[..4].eq_ignore_ascii_case("todo") {
            continue;
        }
        let rest = c[4..].trim_start();
        let rest = rest.strip_prefix(':').unwrap_or(rest);
        let Some(tok) = rest.split_whitespace().next() else {
            continue;
        };
        let id = crate::ack::normalize_id(&crate::ack::ascii_hyphens(crate::ack::trim_token(tok)));
        if crate::ack::valid_id(&id, &["T"]) {
            return Some(id);
        }
    }
    title
        .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '\u{2010}' | '\u{2011}')))
        .map(crate::ack::ascii_hyphens)
        .find(|t| crate::ack::valid_id(t, &["T"]))
        .map(std::borrow::Cow::into_owned)
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let d = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in d.iter() {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// Guesses the language of an untagged, unlabelled script from its shebang,
/// then its content; `bash` when nothing tells (bash runs plain sh too). Also
/// says how it was decided. Works on the script only, so both copies of a
/// reply agree.
pub(crate) fn infer_lang(script: &str) -> (&'static str, &'static str) {
    const SHEBANG: &str = "read from its #! line";
    for l in script.lines().take(40) {
        let t = l.trim_start();
        if let Some(sb) = t.strip_prefix("#!") {
            if sb.contains("python") {
                return ("python", SHEBANG);
            }
            if sb.contains("pwsh") || sb.contains("powershell") {
                return ("pwsh", SHEBANG);
            }
            if sb.contains("zsh") {
                return ("zsh", SHEBANG);
            }
            if sb.contains("bash") {
                return ("bash", SHEBANG);
            }
            if sb.ends_with("/sh") || sb.ends_with(" sh") {
                return ("sh", SHEBANG);
            }
        }
    }
    for l in script.lines().take(200) {
        let t = l.trim_start();
        if t.starts_with("import ")
            || (t.starts_with("from ") && t.contains(" import "))
            || t.starts_with("def ")
            || t.starts_with("print(")
            || t.starts_with("if __name__")
        {
            return ("python", "read from its content (python statements)");
        }
        if t.starts_with("Write-Host")
            || t.starts_with("Write-Output")
            || t.starts_with("$env:")
            || t.starts_with("Get-ChildItem")
            || t.starts_with("Set-Location")
            || t.starts_with("param(")
            || t.starts_with("$ErrorActionPreference")
        {
            return ("pwsh", "read from its content (PowerShell cmdlets)");
        }
    }
    ("bash", "since nothing in it names another language")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_hex_of_bytes() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_todo_a_do_serves() {
        let t = |title: &str, script: &str| todo_of(title, script);
        assert_eq!(
            t("x", "# DO: x\n# TODO: T-05D7K0AXSR\nls\n# END DO\n").as_deref(),
            Some("T-05D7K0AXSR")
        );
        assert_eq!(
            t("x", "# DO: x\n\n  #todo:t-5d7   (parser)\nls\n# END DO\n").as_deref(),
            Some("T-5D7")
        );
        assert_eq!(
            t(
                "x",
                "# DO: x\n# ARTIFACT: a.txt\n# Todo T\u{2011}9\n# END DO\n"
            )
            .as_deref(),
            Some("T-9")
        );
        // Only the comment lines that head the script count.
        assert_eq!(t("x", "# DO: x\nls\n# TODO: T-1\n# END DO\n"), None);
        assert_eq!(t("x", "# DO: x\n# TODO: tidy this later\n# END DO\n"), None);
        assert_eq!(
            t(
                "Run the tests (T-05D7K0AXSR)",
                "# DO: Run the tests (T-05D7K0AXSR)\n# END DO\n"
            )
            .as_deref(),
            Some("T-05D7K0AXSR")
        );
        // The line wins over the title.
        assert_eq!(
            t("Fix T-1", "# DO: Fix T-1\n# TODO: T-2\n# END DO\n").as_deref(),
            Some("T-2")
        );
        assert_eq!(t("Buy a t-shirt", "# DO: Buy a t-shirt\n# END DO\n"), None);
    }

    #[test]
    fn inference() {
        let lang = |s: &str| infer_lang(s).0;
        assert_eq!(
            lang("# DO: x\n#!/usr/bin/env python3\n# END DO\n"),
            "python"
        );
        assert_eq!(lang("# DO: x\nimport os\n# END DO\n"), "python");
        assert_eq!(lang("# DO: x\nWrite-Host hi\n# END DO\n"), "pwsh");
        assert_eq!(lang("# DO: x\n#!/bin/zsh\nls\n# END DO\n"), "zsh");
        assert_eq!(infer_lang("# DO: x\nls -la\n# END DO\n").0, "bash");
        assert!(
            infer_lang("# DO: x\nls -la\n# END DO\n")
                .1
                .contains("nothing in it")
        );
    }
}
