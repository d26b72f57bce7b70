//! Script languages a DO may be written in, and where their interpreters are.
//!
//! This module owns the mapping from a DO's language tag to an interpreter on `PATH` and
//! the arguments it is started with. It never installs anything and never guesses a
//! different language than the one the DO names.

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::run::RunError;

/// The language of a DO script.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// POSIX shell (`sh`).
    Sh,
    /// Bash.
    Bash,
    /// Zsh, where installed (a `zsh` tag; ingest maps it to bash, saying so, where zsh is
    /// missing).
    Zsh,
    /// Python 3.
    Python,
    /// PowerShell 7 (`pwsh`), where installed.
    Pwsh,
}

/// A language tag CoAgent does not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown script language `{0}`; CoAgent runs sh, bash, zsh, python (python3, py) and pwsh (powershell)"
)]
pub struct ParseLangError(pub String);

impl FromStr for Lang {
    type Err = ParseLangError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "sh" | "shell" => Ok(Lang::Sh),
            "bash" => Ok(Lang::Bash),
            "zsh" => Ok(Lang::Zsh),
            "python" | "python3" | "py" => Ok(Lang::Python),
            "pwsh" | "powershell" | "ps1" => Ok(Lang::Pwsh),
            _ => Err(ParseLangError(s.to_owned())),
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Lang {
    /// The canonical tag: `sh`, `bash`, `zsh`, `python` or `pwsh`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Sh => "sh",
            Lang::Bash => "bash",
            Lang::Zsh => "zsh",
            Lang::Python => "python",
            Lang::Pwsh => "pwsh",
        }
    }

    /// Program names tried on `PATH`, in order.
    pub fn candidates(self) -> &'static [&'static str] {
        match self {
            Lang::Sh => &["sh"],
            Lang::Bash => &["bash"],
            Lang::Zsh => &["zsh"],
            // A bare `python` may still be Python 2 on older Unix systems; only Windows,
            // where `python3` is often missing, gets the looser names.
            Lang::Python if cfg!(windows) => &["python3", "python", "py"],
            Lang::Python => &["python3"],
            Lang::Pwsh if cfg!(windows) => &["pwsh", "powershell"],
            Lang::Pwsh => &["pwsh"],
        }
    }

    /// The file extension the script file gets (PowerShell refuses `-File` without `.ps1`).
    pub fn extension(self) -> &'static str {
        match self {
            Lang::Sh | Lang::Bash => "sh",
            Lang::Zsh => "zsh",
            Lang::Python => "py",
            Lang::Pwsh => "ps1",
        }
    }

    /// Arguments placed before the script path.
    pub fn interpreter_args(self) -> &'static [&'static str] {
        match self {
            Lang::Sh | Lang::Bash | Lang::Zsh => &[],
            // Unbuffered, so output reaches the terminal live and stdout/stderr interleave
            // in the order the script wrote them.
            Lang::Python => &["-u"],
            Lang::Pwsh => &[
                "-NoLogo",
                "-NoProfile",
                "-NonInteractive",
                "-ExecutionPolicy",
                "Bypass",
                "-File",
            ],
        }
    }

    /// What to tell a user who lacks the interpreter.
    pub fn install_hint(self) -> &'static str {
        match self {
            Lang::Sh => "install a POSIX shell (`sh`) and make sure it is on PATH",
            Lang::Bash => "install bash and make sure it is on PATH, or ask the chat for a `sh` DO",
            Lang::Zsh => "install zsh and make sure it is on PATH, or ask the chat for a bash DO",
            Lang::Python => "install Python 3 (`python3`) and make sure it is on PATH",
            Lang::Pwsh => {
                "install PowerShell 7 (`pwsh`) and make sure it is on PATH, or ask the chat to rewrite the DO in bash or python"
            }
        }
    }
}

/// Finds the interpreter for `lang` on the process's `PATH`.
pub fn find_interpreter(lang: Lang) -> Result<PathBuf, RunError> {
    find_interpreter_in(lang, std::env::var_os("PATH").as_deref())
}

/// Finds the interpreter for `lang` on the given search path (a `PATH`-style list).
/// `None` or an empty list finds nothing.
pub fn find_interpreter_in(lang: Lang, path: Option<&OsStr>) -> Result<PathBuf, RunError> {
    let dirs: Vec<PathBuf> = path
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    for name in lang.candidates() {
        for dir in &dirs {
            // An empty entry means the current directory in POSIX; never run a script's
            // interpreter from wherever the user happens to stand.
            if dir.as_os_str().is_empty() {
                continue;
            }
            if let Some(found) = executable_in(dir, name) {
                return Ok(found);
            }
        }
    }
    Err(RunError::MissingInterpreter {
        lang,
        tried: lang.candidates().iter().map(|s| (*s).to_owned()).collect(),
    })
}

#[cfg(unix)]
fn executable_in(dir: &Path, name: &str) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let candidate = dir.join(name);
    let meta = std::fs::metadata(&candidate).ok()?;
    (meta.is_file() && meta.permissions().mode() & 0o111 != 0).then_some(candidate)
}

#[cfg(not(unix))]
fn executable_in(dir: &Path, name: &str) -> Option<PathBuf> {
    use std::ffi::OsString;
    let exts = std::env::var_os("PATHEXT").unwrap_or_else(|| OsString::from(".COM;.EXE;.BAT;.CMD"));
    let exts = exts.to_string_lossy().into_owned();
    for ext in exts.split(';').filter(|e| !e.is_empty()) {
        let mut file = OsString::from(name);
        file.push(ext.to_ascii_lowercase());
        let candidate = dir.join(&file);
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parses_every_documented_tag() {
        for (tag, lang) in [
            ("sh", Lang::Sh),
            ("bash", Lang::Bash),
            ("zsh", Lang::Zsh),
            ("python", Lang::Python),
            ("python3", Lang::Python),
            ("py", Lang::Python),
            ("pwsh", Lang::Pwsh),
            ("powershell", Lang::Pwsh),
            ("PowerShell", Lang::Pwsh),
        ] {
            assert_eq!(tag.parse::<Lang>().unwrap(), lang, "{tag}");
        }
        let err = "ruby".parse::<Lang>().unwrap_err();
        assert!(err.to_string().contains("ruby"));
    }

    #[test]
    fn empty_path_finds_nothing_and_says_what_it_tried() {
        let err = find_interpreter_in(Lang::Python, Some(OsStr::new(""))).unwrap_err();
        match &err {
            RunError::MissingInterpreter { lang, tried } => {
                assert_eq!(*lang, Lang::Python);
                assert!(tried.iter().any(|t| t == "python3"));
            }
            other => panic!("unexpected {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains("python3"), "{text}");
        assert!(text.contains("install Python 3"), "{text}");
        assert!(find_interpreter_in(Lang::Sh, None).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn finds_an_executable_and_skips_a_plain_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("plain");
        let exec = dir.path().join("exec");
        std::fs::create_dir_all(&plain).unwrap();
        std::fs::create_dir_all(&exec).unwrap();
        std::fs::write(plain.join("bash"), "").unwrap();
        std::fs::write(exec.join("bash"), "").unwrap();
        std::fs::set_permissions(exec.join("bash"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        let path = std::env::join_paths([&plain, &exec]).unwrap();
        assert_eq!(
            find_interpreter_in(Lang::Bash, Some(&path)).unwrap(),
            exec.join("bash")
        );
    }
}
