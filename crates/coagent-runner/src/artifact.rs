//! The `# ARTIFACT: <path>` lines a DO script uses to name the files it produces.
//!
//! This module reads those lines out of the script text and says whether a named file
//! may be taken as an artifact (it must be a file inside the project root, symlinks
//! followed). Copying the files and recording them is the core's job; this module never
//! writes anything.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex_lite::Regex;

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

/// Why a named artifact cannot be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ArtifactError {
    /// The path leads outside the project root (absolute, `..`, or a symlink out).
    #[error(
        "artifact `{name}` is outside the project root; hint: DOs may only name files inside the project"
    )]
    Outside {
        /// The name as the script wrote it.
        name: String,
    },
    /// Nothing is there.
    #[error("artifact `{name}` was not created by the DO")]
    Missing {
        /// The name as the script wrote it.
        name: String,
    },
    /// Something is there, but it is not a regular file.
    #[error("artifact `{name}` is not a file")]
    NotAFile {
        /// The name as the script wrote it.
        name: String,
    },
    /// The project root itself cannot be resolved.
    #[error("cannot resolve the project root {}", root.display())]
    Root {
        /// The root.
        root: PathBuf,
        /// The underlying failure.
        #[source]
        source: std::io::Error,
    },
}

/// The real path of the artifact `name` (as written on an `# ARTIFACT:` line), refusing
/// anything that is not a regular file inside `root` once symlinks are followed.
pub fn resolve_artifact(root: &Path, name: &str) -> Result<PathBuf, ArtifactError> {
    let root = dunce::canonicalize(root).map_err(|source| ArtifactError::Root {
        root: root.to_owned(),
        source,
    })?;
    let named = Path::new(name);
    if named.is_absolute() && !named.starts_with(&root) {
        return Err(ArtifactError::Outside {
            name: name.to_owned(),
        });
    }
    let real = match dunce::canonicalize(root.join(named)) {
        Ok(real) => real,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            // Say "outside" rather than "missing" for `../x`: the name was never allowed.
            if lexically_escapes(named) {
                return Err(ArtifactError::Outside {
                    name: name.to_owned(),
                });
            }
            return Err(ArtifactError::Missing {
                name: name.to_owned(),
            });
        }
        Err(_) => {
            return Err(ArtifactError::Missing {
                name: name.to_owned(),
            });
        }
    };
    if !real.starts_with(&root) {
        return Err(ArtifactError::Outside {
            name: name.to_owned(),
        });
    }
    if !real.is_file() {
        return Err(ArtifactError::NotAFile {
            name: name.to_owned(),
        });
    }
    Ok(real)
}

fn lexically_escapes(path: &Path) -> bool {
    use std::path::Component;
    let mut depth: i64 = 0;
    for component in path.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::RootDir | Component::Prefix(_) => return true,
            Component::CurDir => {}
        }
        if depth < 0 {
            return true;
        }
    }
    false
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
    fn only_files_inside_the_project_are_artifacts() {
        #![allow(clippy::unwrap_used)]
        let outer = tempfile::tempdir().unwrap();
        let root = outer.path().join("project");
        std::fs::create_dir_all(root.join("out")).unwrap();
        std::fs::write(root.join("out/report.md"), "ok").unwrap();
        std::fs::write(outer.path().join("secret.txt"), "no").unwrap();

        let real = resolve_artifact(&root, "out/report.md").unwrap();
        assert_eq!(std::fs::read_to_string(real).unwrap(), "ok");
        assert!(resolve_artifact(&root, "./out/../out/report.md").is_ok());
        for name in ["../secret.txt", "../nope.txt", "/etc/passwd"] {
            let err = resolve_artifact(&root, name).unwrap_err();
            assert!(
                matches!(err, ArtifactError::Outside { .. }),
                "{name}: {err:?}"
            );
        }
        assert!(matches!(
            resolve_artifact(&root, "out/missing.md"),
            Err(ArtifactError::Missing { .. })
        ));
        assert!(matches!(
            resolve_artifact(&root, "out"),
            Err(ArtifactError::NotAFile { .. })
        ));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(outer.path().join("secret.txt"), root.join("out/link"))
                .unwrap();
            assert!(matches!(
                resolve_artifact(&root, "out/link"),
                Err(ArtifactError::Outside { .. })
            ));
        }
    }

    #[test]
    fn a_script_without_artifact_lines_names_none() {
        assert!(artifact_lines("echo hi\n# ARTIFACTS are nice\n").is_empty());
    }
}
