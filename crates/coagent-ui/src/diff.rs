//! A DO's diff artifact (git's unified format) as the page draws it: files, hunks, lines
//! marked added, removed or context, and the counts per file.

use serde::Serialize;

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct File {
    pub path: String,
    pub added: usize,
    pub removed: usize,
    pub hunks: Vec<Hunk>,
    /// `new`, `deleted`, `binary` or empty.
    pub note: String,
}

#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Hunk {
    pub header: String,
    pub lines: Vec<Line>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Line {
    /// `add`, `del` or `ctx`.
    pub kind: &'static str,
    pub text: String,
}

/// Reads `diff --git` sections; text before the first one (a stat) is left out.
pub fn parse(text: &str) -> Vec<File> {
    let mut files: Vec<File> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            let path = rest.rsplit_once(" b/").map_or(rest, |(_, b)| b).to_string();
            files.push(File {
                path,
                ..File::default()
            });
            continue;
        }
        let Some(f) = files.last_mut() else { continue };
        if line.starts_with("@@") {
            f.hunks.push(Hunk {
                header: line.to_string(),
                lines: Vec::new(),
            });
            continue;
        }
        let Some(h) = f.hunks.last_mut() else {
            if line.starts_with("new file") {
                f.note = "new".into();
            } else if line.starts_with("deleted file") {
                f.note = "deleted".into();
            } else if line.starts_with("Binary files") || line.starts_with("GIT binary patch") {
                f.note = "binary".into();
            }
            continue;
        };
        let (kind, body) = match line.as_bytes().first() {
            Some(b'+') => {
                f.added += 1;
                ("add", &line[1..])
            }
            Some(b'-') => {
                f.removed += 1;
                ("del", &line[1..])
            }
            Some(b' ') => ("ctx", &line[1..]),
            _ => ("ctx", line),
        };
        h.lines.push(Line {
            kind,
            text: body.to_string(),
        });
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_hunks_and_counts() {
        let d = "2 files changed\n\ndiff --git a/src/a.rs b/src/a.rs\nindex 1..2 100644\n--- a/src/a.rs\n+++ b/src/a.rs\n@@ -1,2 +1,2 @@\n fn a() {}\n-old\n+new\n+more\ndiff --git a/notes.md b/notes.md\nnew file mode 100644\n--- /dev/null\n+++ b/notes.md\n@@ -0,0 +1 @@\n+hello\n";
        let f = parse(d);
        assert_eq!(f.len(), 2);
        assert_eq!(
            (f[0].path.as_str(), f[0].added, f[0].removed),
            ("src/a.rs", 2, 1)
        );
        assert_eq!(f[0].hunks[0].lines.len(), 4);
        assert_eq!(f[0].hunks[0].lines[1].kind, "del");
        assert_eq!(
            (f[1].path.as_str(), f[1].note.as_str(), f[1].added),
            ("notes.md", "new", 1)
        );
    }
}
