//! Script languages a DO may be written in, and where their interpreters are.
//!
//! This module owns the mapping from a DO's language tag to an interpreter on `PATH`, the
//! arguments it is started with, and the bytes of the script file it reads (a byte-order
//! mark for Windows PowerShell, a code-page line for `cmd`). It never installs anything
//! and never guesses a different language than the one the DO names.
//!
//! On Windows the order matters: the `py` launcher and `python` come before `python3`
//! (the Microsoft Store's `python3.exe` alias can win over a real Python), `pwsh` before
//! Windows PowerShell 5.1, and Git Bash before the WSL launcher in `System32`.

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
    /// PowerShell 7 (`pwsh`), where installed; Windows PowerShell 5.1 (`powershell`) on
    /// Windows without it.
    Pwsh,
    /// The Windows command processor (`cmd` and `bat` blocks); Windows only.
    Cmd,
}

/// A language tag CoAgent does not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown script language `{0}`; CoAgent runs sh, bash, zsh, python (python3, py), pwsh (powershell) and, on Windows, cmd (bat)"
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
            "cmd" | "bat" | "batch" => Ok(Lang::Cmd),
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
    /// The canonical tag: `sh`, `bash`, `zsh`, `python`, `pwsh` or `cmd`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Sh => "sh",
            Lang::Bash => "bash",
            Lang::Zsh => "zsh",
            Lang::Python => "python",
            Lang::Pwsh => "pwsh",
            Lang::Cmd => "cmd",
        }
    }

    /// Programs tried on `PATH`, in order, with the arguments each needs first.
    pub fn candidates(self) -> &'static [Candidate] {
        match self {
            Lang::Sh => &[Candidate {
                name: "sh",
                args: &[],
            }],
            Lang::Bash => &[Candidate {
                name: "bash",
                args: &[],
            }],
            Lang::Zsh => &[Candidate {
                name: "zsh",
                args: &[],
            }],
            // A bare `python` may still be Python 2 on older Unix systems; only Windows,
            // where `python3` is often missing or the Store's alias, gets the other names,
            // the launcher first.
            Lang::Python if cfg!(windows) => &[
                Candidate {
                    name: "py",
                    args: &["-3"],
                },
                Candidate {
                    name: "python",
                    args: &[],
                },
                Candidate {
                    name: "python3",
                    args: &[],
                },
            ],
            Lang::Python => &[Candidate {
                name: "python3",
                args: &[],
            }],
            Lang::Pwsh if cfg!(windows) => &[
                Candidate {
                    name: "pwsh",
                    args: &[],
                },
                Candidate {
                    name: "powershell",
                    args: &[],
                },
            ],
            Lang::Pwsh => &[Candidate {
                name: "pwsh",
                args: &[],
            }],
            Lang::Cmd if cfg!(windows) => &[Candidate {
                name: "cmd",
                args: &[],
            }],
            Lang::Cmd => &[],
        }
    }

    /// The file extension the script file gets (PowerShell refuses `-File` without `.ps1`).
    pub fn extension(self) -> &'static str {
        match self {
            Lang::Sh | Lang::Bash => "sh",
            Lang::Zsh => "zsh",
            Lang::Python => "py",
            Lang::Pwsh => "ps1",
            Lang::Cmd => "cmd",
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
            // No AutoRun commands from the registry; run the file and end.
            Lang::Cmd => &["/d", "/c"],
        }
    }

    /// The script file's bytes: the script as written, but for what its interpreter needs
    /// to read it and to write its output as UTF-8 into CoAgent's pipe. PowerShell gets a
    /// UTF-8 byte-order mark (Windows PowerShell 5.1 reads a file without one in the ANSI
    /// code page) and, on the first line, the console's output encoding set to UTF-8
    /// (piped output is otherwise written in the OEM code page); `cmd` gets the UTF-8
    /// code page first (it reads the rest of the file in it) and CRLF line ends, and its
    /// lines starting with `#` (a DO's `# DO:` and `# END DO` lines) become remarks.
    /// Line numbers stay those of the script.
    pub fn script_bytes(self, script: &str) -> Vec<u8> {
        match self {
            Lang::Pwsh => pwsh_file(script),
            Lang::Cmd => cmd_file(script),
            _ => script.as_bytes().to_vec(),
        }
    }

    /// Environment variables the interpreter gets unless the user's environment sets them.
    pub fn default_env(self) -> &'static [(&'static str, &'static str)] {
        match self {
            // Python writes a pipe in the ANSI code page on Windows; UTF-8 mode fixes it
            // (and makes `open()` read and write UTF-8).
            Lang::Python if cfg!(windows) => &[("PYTHONUTF8", "1")],
            _ => &[],
        }
    }

    /// What to tell a user who lacks the interpreter.
    pub fn install_hint(self) -> &'static str {
        match self {
            Lang::Sh => "install a POSIX shell (`sh`) and make sure it is on PATH",
            Lang::Bash => "install bash and make sure it is on PATH, or ask the chat for a `sh` DO",
            Lang::Zsh => "install zsh and make sure it is on PATH, or ask the chat for a bash DO",
            Lang::Python if cfg!(windows) => {
                "install Python 3 from python.org (it brings the `py` launcher) and make sure it is on PATH"
            }
            Lang::Python => "install Python 3 (`python3`) and make sure it is on PATH",
            Lang::Pwsh => {
                "install PowerShell 7 (`pwsh`) and make sure it is on PATH, or ask the chat to rewrite the DO in bash or python"
            }
            Lang::Cmd if cfg!(windows) => {
                "make sure `cmd.exe` (in %SystemRoot%\\System32) is on PATH"
            }
            Lang::Cmd => {
                "`cmd` scripts run on Windows only: ask the chat to rewrite the DO in bash or python"
            }
        }
    }
}

/// A program that may run a language, and the arguments it needs before the script's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The program's name, looked up on `PATH` (with `PATHEXT` on Windows).
    pub name: &'static str,
    /// Arguments placed first (`py -3`).
    pub args: &'static [&'static str],
}

impl fmt::Display for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)?;
        self.args.iter().try_for_each(|a| write!(f, " {a}"))
    }
}

/// The interpreter chosen for a language: what `do show` shows and `do run` starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interpreter {
    /// The program found.
    pub program: PathBuf,
    /// Arguments placed before the language's own ([`Lang::interpreter_args`]).
    pub args: &'static [&'static str],
    /// Why this one and not the first choice, when it is not (e.g. Windows PowerShell 5.1
    /// because `pwsh` is missing).
    pub note: Option<String>,
}

impl fmt::Display for Interpreter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.program.display())?;
        self.args.iter().try_for_each(|a| write!(f, " {a}"))
    }
}

/// Finds the interpreter for `lang` on the process's `PATH`.
pub fn find_interpreter(lang: Lang) -> Result<Interpreter, RunError> {
    find_interpreter_in(lang, std::env::var_os("PATH").as_deref())
}

/// Finds the interpreter for `lang` on the given search path (a `PATH`-style list).
/// `None` or an empty list finds nothing.
pub fn find_interpreter_in(lang: Lang, path: Option<&OsStr>) -> Result<Interpreter, RunError> {
    find_with(lang, path, &Places::from_env())
}

/// Where Windows keeps what `PATH` may not name: the system folder (WSL's `bash.exe`
/// launcher lives there) and Program Files (Git Bash). Empty elsewhere.
#[derive(Debug, Default)]
struct Places {
    system_root: Option<PathBuf>,
    program_files: Vec<PathBuf>,
}

impl Places {
    fn from_env() -> Places {
        if !cfg!(windows) {
            return Places::default();
        }
        Places {
            system_root: std::env::var_os("SystemRoot").map(PathBuf::from),
            program_files: ["ProgramFiles", "ProgramW6432"]
                .into_iter()
                .filter_map(std::env::var_os)
                .map(PathBuf::from)
                .collect(),
        }
    }

    /// `System32\bash.exe` starts WSL, not a Windows bash: chosen only when nothing else is.
    fn is_wsl_launcher(&self, program: &Path) -> bool {
        let Some(root) = &self.system_root else {
            return false;
        };
        let dir = program.parent().map(|d| d.to_string_lossy().to_lowercase());
        ["System32", "Sysnative"]
            .iter()
            .any(|s| dir.as_deref() == Some(&root.join(s).to_string_lossy().to_lowercase()))
    }

    /// Git for Windows puts only `Git\cmd` (git.exe) on PATH; its bash and sh live in
    /// `Git\bin`, beside it, or under Program Files.
    fn git_bash(&self, dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
        let beside_git = dirs
            .iter()
            .filter(|d| executable_in(d, "git").is_some())
            .filter_map(|d| d.parent().map(|p| p.join("bin")));
        let program_files = self.program_files.iter().map(|p| p.join("Git").join("bin"));
        beside_git
            .chain(program_files)
            .find_map(|d| executable_in(&d, name))
    }
}

fn find_with(lang: Lang, path: Option<&OsStr>, places: &Places) -> Result<Interpreter, RunError> {
    let dirs: Vec<PathBuf> = path
        .map(|p| std::env::split_paths(p).collect::<Vec<PathBuf>>())
        .unwrap_or_default()
        .into_iter()
        // An empty entry means the current directory in POSIX; never run a script's
        // interpreter from wherever the user happens to stand.
        .filter(|d: &PathBuf| !d.as_os_str().is_empty())
        .collect();
    let shell = matches!(lang, Lang::Sh | Lang::Bash);
    let mut last_resort = None;
    for (i, candidate) in lang.candidates().iter().enumerate() {
        for found in dirs.iter().filter_map(|d| executable_in(d, candidate.name)) {
            if shell && places.is_wsl_launcher(&found) {
                last_resort.get_or_insert((found, *candidate));
                continue;
            }
            return Ok(chosen(lang, i, found, *candidate));
        }
        if shell && let Some(found) = places.git_bash(&dirs, candidate.name) {
            return Ok(chosen(lang, i, found, *candidate));
        }
    }
    if let Some((found, candidate)) = last_resort {
        return Ok(Interpreter {
            program: found,
            args: candidate.args,
            note: Some(format!(
                "{} is WSL's launcher (no Git Bash found): the script runs inside WSL's Linux",
                candidate.name
            )),
        });
    }
    Err(RunError::MissingInterpreter {
        lang,
        tried: lang.candidates().iter().map(|c| c.to_string()).collect(),
    })
}

fn chosen(lang: Lang, rank: usize, program: PathBuf, candidate: Candidate) -> Interpreter {
    let note = (rank > 0).then(|| {
        let first = lang.candidates()[0];
        match lang {
            Lang::Pwsh => format!(
                "`{first}` (PowerShell 7) not found: Windows PowerShell 5.1 runs it; install PowerShell 7 for scripts written for it"
            ),
            _ => format!("`{first}` not found: `{candidate}` runs it"),
        }
    });
    Interpreter {
        program,
        args: candidate.args,
        note,
    }
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

/// Sets the console's output encoding to UTF-8 before the script's first line, on that
/// line when it is a comment (a DO's `# DO:` line), so line numbers stay the script's.
/// A script whose first statement is a `param(...)` block is left as it is: nothing may
/// come before that block.
const PWSH_PROLOGUE: &str = "try { [Console]::OutputEncoding = [System.Text.UTF8Encoding]::new($false); $OutputEncoding = [Console]::OutputEncoding } catch {}";

fn pwsh_file(script: &str) -> Vec<u8> {
    let mut out = "\u{feff}".as_bytes().to_vec();
    let first_statement = script
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    if first_statement.to_ascii_lowercase().starts_with("param") {
        out.extend_from_slice(script.as_bytes());
        return out;
    }
    out.extend_from_slice(PWSH_PROLOGUE.as_bytes());
    let first = script.lines().next().unwrap_or("");
    let on_first_line = first.trim_start().starts_with('#')
        && !first
            .trim_start()
            .to_ascii_lowercase()
            .starts_with("#requires");
    out.extend_from_slice(if on_first_line { b"; " } else { b"\n" });
    out.extend_from_slice(script.as_bytes());
    out
}

/// The code page is switched on the first line, beside it when it is a comment, so that
/// the lines keep their numbers there too.
fn cmd_file(script: &str) -> Vec<u8> {
    const CHCP: &str = "@chcp 65001 >nul";
    let mut out = String::new();
    for (i, line) in script.lines().enumerate() {
        let remark = line.trim_start().starts_with('#');
        match (i, remark) {
            (0, true) => out.push_str(&format!("{CHCP} & rem ")),
            (0, false) => out.push_str(&format!("{CHCP}\r\n")),
            (_, true) => out.push_str("@rem "),
            _ => {}
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    if out.is_empty() {
        out.push_str(CHCP);
    }
    out.into_bytes()
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
            find_interpreter_in(Lang::Bash, Some(&path))
                .unwrap()
                .program,
            exec.join("bash")
        );
    }

    /// An empty file the platform takes for a program: `name.exe` on Windows, `name` with
    /// its execute bits elsewhere.
    fn program(dir: &Path, name: &str) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let file = if cfg!(windows) {
            dir.join(format!("{name}.exe"))
        } else {
            dir.join(name)
        };
        std::fs::write(&file, "").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        file
    }

    #[test]
    fn wsl_launcher_in_system32_is_a_last_resort_after_git_bash() {
        let dir = tempfile::tempdir().unwrap();
        let system32 = dir.path().join("System32");
        let wsl = program(&system32, "bash");
        program(&dir.path().join("Git").join("cmd"), "git");
        let path = std::env::join_paths([&system32, &dir.path().join("Git").join("cmd")]).unwrap();
        let places = Places {
            system_root: Some(dir.path().to_path_buf()),
            program_files: Vec::new(),
        };
        // Without Git Bash, WSL's launcher runs it, and says so.
        let found = find_with(Lang::Bash, Some(&path), &places).unwrap();
        assert_eq!(found.program, wsl);
        assert!(found.note.unwrap().contains("WSL"));
        // Git Bash, found beside git (Git\cmd on PATH, Git\bin beside it), wins.
        let git_bash = program(&dir.path().join("Git").join("bin"), "bash");
        let found = find_with(Lang::Bash, Some(&path), &places).unwrap();
        assert_eq!(found.program, git_bash);
        assert_eq!(found.note, None);
        // Or under Program Files, with nothing but System32 on PATH.
        let places = Places {
            system_root: Some(dir.path().to_path_buf()),
            program_files: vec![dir.path().to_path_buf()],
        };
        let path = std::env::join_paths([&system32]).unwrap();
        assert_eq!(
            find_with(Lang::Bash, Some(&path), &places).unwrap().program,
            git_bash
        );
    }

    #[test]
    fn pwsh_script_gets_a_bom_and_utf8_output_without_moving_its_lines() {
        let script = "# DO: greet\nWrite-Output 'héllo ✓'\n# END DO\n";
        let bytes = Lang::Pwsh.script_bytes(script);
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "{bytes:?}");
        let text = std::str::from_utf8(&bytes[3..]).unwrap();
        assert_eq!(text.lines().count(), script.lines().count(), "{text}");
        let first = text.lines().next().unwrap();
        assert!(first.contains("[Console]::OutputEncoding"), "{first}");
        assert!(first.ends_with("; # DO: greet"), "{first}");
        assert!(
            text.ends_with("Write-Output 'héllo ✓'\n# END DO\n"),
            "{text}"
        );
    }

    #[test]
    fn pwsh_script_whose_first_statement_is_param_is_left_first() {
        let script = "# DO: p\nparam([string]$name = 'x')\nWrite-Output $name\n";
        let bytes = Lang::Pwsh.script_bytes(script);
        assert_eq!(&bytes[..3], b"\xEF\xBB\xBF");
        assert_eq!(&bytes[3..], script.as_bytes());
    }

    #[test]
    fn cmd_script_reads_utf8_with_crlf_and_its_sentinel_lines_as_remarks() {
        let script = "# DO: list\ndir /b\n# END DO\n";
        let text = String::from_utf8(Lang::Cmd.script_bytes(script)).unwrap();
        assert_eq!(
            text,
            "@chcp 65001 >nul & rem # DO: list\r\ndir /b\r\n@rem # END DO\r\n"
        );
        let text = String::from_utf8(Lang::Cmd.script_bytes("echo hi\r\n")).unwrap();
        assert_eq!(text, "@chcp 65001 >nul\r\necho hi\r\n");
        assert_eq!(Lang::Sh.script_bytes("echo é\n"), "echo é\n".as_bytes());
    }

    #[test]
    fn cmd_and_bat_tags_are_cmd() {
        for tag in ["cmd", "bat", "batch", "CMD"] {
            assert_eq!(tag.parse::<Lang>().unwrap(), Lang::Cmd, "{tag}");
        }
        assert_eq!(Lang::Cmd.extension(), "cmd");
    }

    #[cfg(not(windows))]
    #[test]
    fn cmd_outside_windows_is_refused_with_the_way_out() {
        let path = std::env::var_os("PATH");
        let err = find_interpreter_in(Lang::Cmd, path.as_deref()).unwrap_err();
        assert!(err.to_string().contains("Windows only"), "{err}");
    }

    #[cfg(windows)]
    #[test]
    fn windows_tries_the_py_launcher_then_python_before_python3() {
        let dir = tempfile::tempdir().unwrap();
        let path = std::env::join_paths([dir.path()]).unwrap();
        program(dir.path(), "python3");
        let python = program(dir.path(), "python");
        let found = find_interpreter_in(Lang::Python, Some(&path)).unwrap();
        assert_eq!(found.program, python);
        assert!(found.note.unwrap().contains("py -3"));
        let py = program(dir.path(), "py");
        let found = find_interpreter_in(Lang::Python, Some(&path)).unwrap();
        assert_eq!((found.program, found.args), (py, &["-3"][..]));
        assert_eq!(found.note, None);
        assert_eq!(Lang::Python.default_env(), &[("PYTHONUTF8", "1")]);
    }

    #[cfg(windows)]
    #[test]
    fn windows_powershell_runs_a_pwsh_do_only_without_pwsh_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = std::env::join_paths([dir.path()]).unwrap();
        let five = program(dir.path(), "powershell");
        let found = find_interpreter_in(Lang::Pwsh, Some(&path)).unwrap();
        assert_eq!(found.program, five);
        assert!(found.note.unwrap().contains("Windows PowerShell 5.1"));
        let seven = program(dir.path(), "pwsh");
        let found = find_interpreter_in(Lang::Pwsh, Some(&path)).unwrap();
        assert_eq!((found.program, found.note), (seven, None));
    }
}
