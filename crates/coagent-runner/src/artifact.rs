//! The `# ARTIFACT: <path>` lines a DO script uses to name the files it produces.
//!
//! This module only reads those lines out of the script text; copying the files and
//! recording them is the core's job. It never touches the filesystem.

use std::sync::LazyLock;

use regex::Regex;

static ARTIFACT_LINE: LazyLock<Regex> = LazyLock::new(|| {
    // `#` is the comment sign in every language CoAgent runs (sh, bash, python, pwsh).
    // The keyword is matched case-insensitively: chats are not careful about case.
    Regex::new(r"(?i)^\s*#\s*artifact\s*:\s*(.*?)\s*$").expect("artifact regex is valid")
});

/// The paths named by `# ARTIFACT: <path>` lines, in order, each once.
///
/// Surrounding quotes or backticks around the path are removed; empty names are skipped.
pub fn artifact_lines(script: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in script.lines() {
        let Some(caps) = ARTIFACT_LINE.captures(line) else {
            continue;
        };
        let path = unquote(caps.get(1).map_or("", |m| m.as_str()));
        if !path.is_empty() && !out.iter().any(|p| p == path) {
            out.push(path.to_owned());
        }
    }
    out
}

fn unquote(s: &str) -> &str {
    for q in ['"', '\'', '`'] {
        if let Some(inner) = s.strip_prefix(q).and_then(|r| r.strip_suffix(q)) {
            return inner.trim();
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_named_paths_in_order_once() {
        let script = "# DO: build the report\n\
                      # ARTIFACT: out/report.md\n\
                      #ARTIFACT:  \"out/data file.csv\"  \r\n\
                      echo '# ARTIFACT: not/this.txt'\n\
                      mkdir -p out\n\
                      # artifact: `out/summary.json`\n\
                      # ARTIFACT: out/report.md\n\
                      # ARTIFACT:\n\
                      # END DO\n";
        assert_eq!(
            artifact_lines(script),
            vec!["out/report.md", "out/data file.csv", "out/summary.json"]
        );
    }

    #[test]
    fn a_script_without_artifact_lines_names_none() {
        assert!(artifact_lines("echo hi\n# ARTIFACTS are nice\n").is_empty());
    }
}
