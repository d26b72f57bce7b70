//! Risk hints for `coagent do show`: the things a careful person would want pointed out
//! before running a stranger's script.
//!
//! This module owns a table of line patterns, each with a stable code and a plain
//! sentence. Hints inform; they never block a run, and they are not a security boundary
//! (a script can always hide what it does). Comment lines are not looked at, since they
//! do not run.

use std::sync::LazyLock;

use serde::Serialize;

use crate::lang::Lang;

/// One thing worth a second look, on one line of the script.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RiskHint {
    /// Stable code: `delete-outside`, `sudo`, `pipe-to-shell`, `hub-write`,
    /// `write-outside`, `network`, `credentials` or `dotfiles`.
    pub code: &'static str,
    /// 1-based line number in the script.
    pub line: usize,
    /// A plain sentence saying what the line does.
    pub message: String,
}

/// Which languages a rule applies to.
#[derive(Clone, Copy)]
enum Langs {
    Any,
    Shell,
    Python,
    Pwsh,
    ShellOrPwsh,
}

impl Langs {
    fn includes(self, lang: Lang) -> bool {
        match self {
            Langs::Any => true,
            Langs::Shell => matches!(lang, Lang::Sh | Lang::Bash | Lang::Zsh),
            Langs::Python => lang == Lang::Python,
            Langs::Pwsh => lang == Lang::Pwsh,
            Langs::ShellOrPwsh => lang != Lang::Python,
        }
    }
}

struct Rule {
    code: &'static str,
    langs: Langs,
    pattern: &'static str,
    message: &'static str,
    /// A match whose `path` group starts with one of these is not a hint.
    harmless_paths: &'static [&'static str],
}

/// Device files a script may write to without touching anything of the user's.
const DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/stdout",
    "/dev/stderr",
    "/dev/tty",
    "/dev/fd/",
];

/// A shell command position: start of line, after a separator or pipe, inside `$(…)` or
/// backticks, or after a keyword or wrapper that runs the next word as a command. Words in
/// an `echo`ed sentence are not in command position.
macro_rules! cmd {
    () => {
        r"(?:^\s*|[;&|(`]\s*|\$\(\s*|\b(?:then|do|else|xargs|exec|nohup|time|env|sudo|doas)\s+(?:-\S+\s+)*)"
    };
}

const RULES: &[Rule] = &[
    // --- delete-outside ---
    Rule {
        code: "delete-outside",
        langs: Langs::Shell,
        pattern: concat!(
            cmd!(),
            r#"(?:rm|rmdir|shred|unlink)\s(?:[^;&|#]*\s)?(?P<path>["']?(?:/|~|\$HOME\b|\$\{HOME\}|\.\.(?:/|\s|$|["'])))"#
        ),
        message: "deletes files outside the project (an absolute path, `~` or `..`)",
        harmless_paths: &[],
    },
    Rule {
        code: "delete-outside",
        langs: Langs::Shell,
        pattern: concat!(
            cmd!(),
            r"find\s+(?P<path>/|~|\$HOME\b|\.\.)\S*\s.*-delete\b"
        ),
        message: "deletes files found outside the project",
        harmless_paths: &[],
    },
    Rule {
        code: "delete-outside",
        langs: Langs::Python,
        pattern: r#"\b(?:shutil\.rmtree|os\.remove|os\.unlink|os\.rmdir|os\.removedirs)\s*\(\s*[rbf]?(?P<path>["'](?:/|~|\.\.))"#,
        message: "deletes files outside the project (an absolute path, `~` or `..`)",
        harmless_paths: &[],
    },
    Rule {
        code: "delete-outside",
        langs: Langs::Pwsh,
        pattern: r#"(?i)\b(?:Remove-Item|rm|del|rmdir|ri)\s(?:.*\s)?(?P<path>["']?(?:[a-z]:[\\/]|[\\/]|~|\$HOME\b|\$env:|\.\.(?:[\\/]|\s|$)))"#,
        message: "deletes files outside the project (an absolute path, `~` or `..`)",
        harmless_paths: &[],
    },
    // --- sudo ---
    Rule {
        code: "sudo",
        langs: Langs::Shell,
        pattern: concat!(cmd!(), r"(?:sudo|doas|pkexec|su\s+-|su\s+root)(?:\s|$)"),
        message: "runs a command as root (`sudo`/`doas`): it can change anything on the machine",
        harmless_paths: &[],
    },
    Rule {
        code: "sudo",
        langs: Langs::Python,
        pattern: r#"["'](?:sudo|doas)\b"#,
        message: "runs a command as root (`sudo`/`doas`): it can change anything on the machine",
        harmless_paths: &[],
    },
    Rule {
        code: "sudo",
        langs: Langs::Pwsh,
        pattern: r"(?i)-Verb\s+RunAs\b|(?:^|[;|\s])sudo\s",
        message: "runs a command with administrator rights: it can change anything on the machine",
        harmless_paths: &[],
    },
    // --- pipe-to-shell ---
    Rule {
        code: "pipe-to-shell",
        langs: Langs::Shell,
        pattern: r"\b(?:curl|wget|fetch)\b[^|#]*\|\s*(?:sudo\s+(?:-\S+\s+)*)?(?:env\s+)?(?:ba|z|k|da|fi)?sh\b|\b(?:curl|wget)\b[^|#]*\|\s*(?:sudo\s+)?python[0-9.]*\b|(?:ba|z|da)?sh\s+(?:-c\s+)?[<]\(\s*(?:curl|wget)\b|(?:ba|z|da)?sh\s+-c\s+.\$\(\s*(?:curl|wget)\b",
        message: "downloads a script and runs it unseen (`curl … | sh`)",
        harmless_paths: &[],
    },
    Rule {
        code: "pipe-to-shell",
        langs: Langs::Pwsh,
        pattern: r"(?i)\b(?:iex|Invoke-Expression)\b.*\b(?:irm|iwr|Invoke-RestMethod|Invoke-WebRequest|DownloadString|WebClient)\b|\b(?:irm|iwr|Invoke-RestMethod|Invoke-WebRequest)\b.*\|\s*(?:iex|Invoke-Expression)\b",
        message: "downloads a script and runs it unseen (`iex (irm …)`)",
        harmless_paths: &[],
    },
    Rule {
        code: "pipe-to-shell",
        langs: Langs::Python,
        pattern: r"\bexec\s*\(\s*(?:requests\.get|urllib\.request\.urlopen|urlopen)\b",
        message: "downloads code and runs it unseen",
        harmless_paths: &[],
    },
    // --- hub-write ---
    // The hub is CoAgent's own state; a DO writes its files to `$COAGENT_OUT` or the
    // project. Any command line naming a path inside `.coagent` is pointed out (venvs and
    // caches put there once grew a hub to 274 MB).
    Rule {
        code: "hub-write",
        langs: Langs::Any,
        pattern: r#"(?:^|[\s"'=(:/])(?P<path>\.coagent(?:[/\\]|\s|["')]|$))"#,
        message: "touches the hub (`.coagent/`), which is CoAgent's own state: a DO writes to `$COAGENT_OUT` or the project",
        harmless_paths: &[],
    },
    // --- write-outside ---
    Rule {
        code: "write-outside",
        langs: Langs::ShellOrPwsh,
        pattern: r#"(?:^|[^<>&0-9=-])[0-9]?>>?\|?\s*(?P<path>["']?(?:/|~|\$HOME\b|\$\{HOME\}|\$env:|[A-Za-z]:\\)[^\s;&|)]*)"#,
        message: "writes to a file outside the project (redirect to an absolute path or `~`)",
        harmless_paths: DEVICES,
    },
    Rule {
        code: "write-outside",
        langs: Langs::Shell,
        pattern: concat!(
            cmd!(),
            r#"tee\s+(?:-\S+\s+)*(?P<path>["']?(?:/|~|\$HOME\b|\$\{HOME\})[^\s;&|)]*)"#
        ),
        message: "writes to a file outside the project (`tee` to an absolute path or `~`)",
        harmless_paths: DEVICES,
    },
    Rule {
        code: "write-outside",
        langs: Langs::Shell,
        // The destination of cp/mv/install/ln/rsync is the last argument.
        pattern: concat!(
            cmd!(),
            r#"(?:cp|mv|install|ln|rsync)\s[^;&|#]*\s(?P<path>["']?(?:/|~|\$HOME\b|\$\{HOME\}|\.\./)[^\s;&|]*)\s*(?:$|[;&|])"#
        ),
        message: "copies or moves files to outside the project",
        harmless_paths: DEVICES,
    },
    Rule {
        code: "write-outside",
        langs: Langs::Shell,
        pattern: concat!(
            cmd!(),
            r#"(?:chmod|chown|chgrp|touch|mkdir|truncate|sed\s+-i\S*)\s(?:[^;&|#]*\s)?(?P<path>["']?(?:/|~|\$HOME\b|\$\{HOME\})[^\s;&|)]*)"#
        ),
        message: "changes files or folders outside the project",
        harmless_paths: DEVICES,
    },
    Rule {
        code: "write-outside",
        langs: Langs::Shell,
        pattern: r"\bdd\s.*\bof=(?P<path>(?:/|~)\S*)",
        message: "writes raw data outside the project (`dd of=…`)",
        harmless_paths: &["/dev/null"],
    },
    Rule {
        code: "write-outside",
        langs: Langs::Python,
        pattern: r#"\bopen\s*\(\s*[rbf]?(?P<path>["'](?:/|~)[^"']*)["']\s*,\s*[rbf]?["'][^"']*[wax+]"#,
        message: "writes to a file outside the project (an absolute path or `~`)",
        harmless_paths: &["\"/dev/null", "'/dev/null"],
    },
    Rule {
        code: "write-outside",
        langs: Langs::Python,
        pattern: r#"\b(?:shutil\.(?:copy|copy2|copyfile|copytree|move)|os\.(?:rename|replace|chmod|chown|makedirs|mkdir))\s*\([^)]*?(?P<path>["'](?:/|~))"#,
        message: "copies, moves or changes files outside the project",
        harmless_paths: &[],
    },
    Rule {
        code: "write-outside",
        langs: Langs::Pwsh,
        pattern: r#"(?i)\b(?:Set-Content|Add-Content|Out-File|New-Item|Copy-Item|Move-Item|Set-ItemProperty)\b.*\s(?P<path>["']?(?:[a-z]:[\\/]|[\\/]|~|\$HOME\b|\$env:|HK(?:LM|CU):))"#,
        message: "writes outside the project (an absolute path, `~`, the registry)",
        harmless_paths: &[],
    },
    // --- network ---
    Rule {
        code: "network",
        langs: Langs::Shell,
        pattern: concat!(
            cmd!(),
            r"(?:curl|wget|ssh|scp|sftp|ftp|telnet|nc|ncat|netcat|socat)(?:\s|$)"
        ),
        message: "uses the network",
        harmless_paths: &[],
    },
    Rule {
        code: "network",
        langs: Langs::ShellOrPwsh,
        pattern: r"\b(?:git\s+(?:push|pull|fetch|clone|ls-remote)|(?:pip3?|python3?\s+-m\s+pip|uv\s+pip|pipx)\s+install|(?:npm|pnpm)\s+(?:install|i|add|publish|ci)|yarn\s+(?:add|install|publish)|npx\s|cargo\s+(?:install|publish|add|update|fetch)|(?:apt|apt-get|dnf|yum|brew|apk|pacman|zypper|snap|choco|winget|scoop)\s+(?:install|upgrade|update|add|-S)|gem\s+install|go\s+(?:get|install)|docker\s+(?:pull|push|login|run)|rsync\s.*\S+:)",
        message: "uses the network (downloads, installs or pushes)",
        harmless_paths: &[],
    },
    Rule {
        code: "network",
        langs: Langs::Python,
        pattern: r"\b(?:import\s+(?:requests|urllib|http\.client|socket|httpx|aiohttp|paramiko|ftplib|smtplib)|from\s+(?:requests|urllib|http\.client|socket|httpx|aiohttp|paramiko|ftplib|smtplib)\b|urlopen\s*\(|requests\.(?:get|post|put|delete|head|patch)\s*\()",
        message: "uses the network",
        harmless_paths: &[],
    },
    Rule {
        code: "network",
        langs: Langs::Pwsh,
        pattern: r"(?i)\b(?:Invoke-WebRequest|Invoke-RestMethod|iwr|irm|Net\.WebClient|Start-BitsTransfer|Test-Connection|Test-NetConnection|New-PSSession|Enter-PSSession|Install-Module|Install-Package)\b|(?:^|[;|\s])(?:curl|wget|ssh|scp)(?:\.exe)?\s",
        message: "uses the network",
        harmless_paths: &[],
    },
    // --- credentials ---
    Rule {
        code: "credentials",
        langs: Langs::Any,
        pattern: r#"(?i)(?:~|\$HOME|\$\{HOME\}|\$env:USERPROFILE|expanduser\(\s*["']~)?[/\\]?\.(?:ssh|aws|gnupg|kube|docker|azure|gcloud)(?:[/\\"'\s]|$)|\bid_(?:rsa|dsa|ecdsa|ed25519)\b|(?:^|[\s"'/\\=(])\.env(?:\.[a-z]+)?(?:["'\s)]|$)|\.(?:netrc|npmrc|pypirc|pgpass|git-credentials)\b|/etc/(?:shadow|gshadow|sudoers)\b|\b(?:keychain|keyring|secret-tool|security\s+find-(?:generic|internet)-password|Get-StoredCredential|credential\s+manager|cmdkey)\b|[/\\]credentials\b|\bcredentials\.json\b|\bgit\s+credential\b"#,
        message: "touches credentials (SSH or cloud keys, `.env`, password stores)",
        harmless_paths: &[],
    },
    // --- dotfiles ---
    Rule {
        code: "dotfiles",
        langs: Langs::Any,
        pattern: r#"(?:~|\$HOME|\$\{HOME\}|\$env:USERPROFILE|expanduser\(\s*["']~)[/\\]\.(?:bashrc|bash_profile|bash_login|profile|zshrc|zprofile|zshenv|config|gitconfig|inputrc|vimrc|tmux\.conf|local)\b|\$PROFILE\b"#,
        message: "changes or reads your personal configuration (dotfiles in your home folder)",
        harmless_paths: &[],
    },
];

struct Compiled {
    rule: &'static Rule,
    regex: regex_lite::Regex,
}

static COMPILED: LazyLock<Vec<Compiled>> = LazyLock::new(|| {
    RULES
        .iter()
        .map(|rule| Compiled {
            rule,
            // regex-lite: ASCII classes (the patterns name shell syntax and paths) and a
            // compile ten times cheaper than regex's, which cost 3 ms of every `do run`.
            regex: regex_lite::Regex::new(rule.pattern).expect("risk patterns are valid regexes"),
        })
        .collect()
});

/// The risk hints for a script, in line order, at most one per code and line.
pub fn risk_hints(script: &str, lang: Lang) -> Vec<RiskHint> {
    let mut hints = Vec::new();
    for (index, line) in script.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        for compiled in COMPILED.iter().filter(|c| c.rule.langs.includes(lang)) {
            let rule = compiled.rule;
            if hints
                .iter()
                .any(|h: &RiskHint| h.line == index + 1 && h.code == rule.code)
            {
                continue;
            }
            let hit = compiled
                .regex
                .captures_iter(line)
                .any(|caps| match caps.name("path") {
                    Some(path) => {
                        let path = path.as_str().trim_start_matches(['"', '\'']);
                        !rule
                            .harmless_paths
                            .iter()
                            .any(|h| path.starts_with(h.trim_start_matches(['"', '\''])))
                    }
                    None => true,
                });
            if hit {
                hints.push(RiskHint {
                    code: rule.code,
                    line: index + 1,
                    message: rule.message.to_string(),
                });
            }
        }
    }
    hints
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(script: &str, lang: Lang) -> Vec<&'static str> {
        let mut c: Vec<_> = risk_hints(script, lang)
            .into_iter()
            .map(|h| h.code)
            .collect();
        c.dedup();
        c
    }

    #[test]
    fn every_rule_compiles() {
        assert_eq!(COMPILED.len(), RULES.len());
    }

    #[test]
    fn innocent_shell_scripts_get_no_hints() {
        let script = r#"#!/usr/bin/env bash
# DO: run the tests and collect TODOs
# sudo rm -rf / is what we will NOT do
set -euo pipefail
cd "$(dirname "$0")"
cargo test --workspace 2>&1 | tail -n 20
grep -rn TODO src/ > todo.txt || true
rm -rf target/tmp ./build "$TMPDIR_LOCAL"
mkdir -p out && cp README.md out/
mv out/README.md out/readme.txt
echo "done" >/dev/null 2>&1
ls -la | sort > out/listing.txt
printf '%s\n' "$HOME_DIR_NAME" >> out/env.txt
find . -name '*.orig' -delete
if [ "$a" -gt 3 ]; then echo big >&2; fi
sed -i 's/foo/bar/' src/lib.rs
git status --short
git diff > out/changes.diff
echo "check your credentials and use sudo only when asked" > out/notes.txt
python3 -m venv .venv
cmd 2>/dev/null; other &>/dev/null; x=$((3 > 2))
# ARTIFACT: out/listing.txt
"#;
        assert_eq!(risk_hints(script, Lang::Bash), Vec::new());
        assert_eq!(risk_hints(script, Lang::Sh), Vec::new());
    }

    #[test]
    fn innocent_python_and_pwsh_get_no_hints() {
        let py = r#"import os, json, pathlib, subprocess
root = pathlib.Path('.')
data = {"env": os.environ.get("COAGENT_DO_ID")}
with open('out/report.json', 'w') as f:
    json.dump(data, f)
for p in root.glob('src/**/*.rs'):
    print(p, os.path.getsize(p))
os.remove('out/old.txt')
x = 3 > 2
"#;
        assert_eq!(risk_hints(py, Lang::Python), Vec::new());
        let ps = r#"$ErrorActionPreference = 'Stop'
Get-ChildItem -Recurse -Filter *.rs | Measure-Object
Set-Content -Path out/report.txt -Value 'ok'
Remove-Item -Recurse -Force ./build
Write-Output "done" > out/done.txt
"#;
        assert_eq!(risk_hints(ps, Lang::Pwsh), Vec::new());
    }

    #[test]
    fn risky_shell_lines_get_the_right_codes() {
        let cases: &[(&str, &[&str])] = &[
            ("rm -rf /", &["delete-outside"]),
            ("rm -rf ~/old-project", &["delete-outside"]),
            ("rm -rf ../sibling", &["delete-outside"]),
            ("rm -f \"$HOME/notes.txt\"", &["delete-outside"]),
            ("find / -name core -delete", &["delete-outside"]),
            ("sudo apt-get install -y jq", &["sudo", "network"]),
            ("doas reboot", &["sudo"]),
            (
                "curl -fsSL https://example.com/install.sh | sh",
                &["pipe-to-shell", "network"],
            ),
            (
                "wget -qO- https://example.com/x | sudo bash",
                &["pipe-to-shell", "network", "sudo"],
            ),
            (
                "bash <(curl -s https://example.com/x)",
                &["pipe-to-shell", "network"],
            ),
            (
                "echo 'export X=1' >> ~/.bashrc",
                &["write-outside", "dotfiles"],
            ),
            ("echo hi > /etc/motd", &["write-outside"]),
            (
                "echo key | tee -a /etc/apt/sources.list",
                &["write-outside"],
            ),
            ("cp build/tool /usr/local/bin/", &["write-outside"]),
            ("chmod 600 /var/lib/thing", &["write-outside"]),
            ("ssh deploy@host 'ls'", &["network"]),
            ("scp out.tar host:/tmp/", &["network"]),
            ("git push origin main", &["network"]),
            ("pip install requests", &["network"]),
            ("npm install left-pad", &["network"]),
            ("cat ~/.ssh/id_rsa", &["credentials"]),
            (
                "aws s3 ls --profile x; cat ~/.aws/credentials",
                &["credentials"],
            ),
            ("source .env", &["credentials"]),
            ("sudo cat /etc/shadow", &["sudo", "credentials"]),
            (
                "git config --global user.name x >> ~/.gitconfig",
                &["write-outside", "dotfiles"],
            ),
            ("security find-generic-password -s github", &["credentials"]),
            ("ver=$(curl -s https://example.com/v)", &["network"]),
            ("if true; then sudo ls; fi", &["sudo"]),
            ("make && rm -rf ~/x", &["delete-outside"]),
            ("ls | xargs rm -f /tmp/a", &["delete-outside"]),
        ];
        for (line, want) in cases {
            let got = codes(line, Lang::Bash);
            for w in *want {
                assert!(got.contains(w), "{line:?}: want {w}, got {got:?}");
            }
            for g in &got {
                assert!(want.contains(g), "{line:?}: unexpected {g}, want {want:?}");
            }
        }
    }

    #[test]
    fn risky_python_and_pwsh_lines_get_the_right_codes() {
        let py: &[(&str, &[&str])] = &[
            ("shutil.rmtree('/tmp/cache')", &["delete-outside"]),
            ("import requests", &["network"]),
            ("from urllib.request import urlopen", &["network"]),
            ("open('/etc/hosts', 'a').write('x')", &["write-outside"]),
            (
                "open(os.path.expanduser('~/.ssh/config')).read()",
                &["credentials"],
            ),
            ("subprocess.run(['sudo', 'ls'])", &["sudo"]),
            ("exec(requests.get(url).text)", &["pipe-to-shell"]),
        ];
        for (line, want) in py {
            let got = codes(line, Lang::Python);
            for w in *want {
                assert!(got.contains(w), "{line:?}: want {w}, got {got:?}");
            }
        }
        let ps: &[(&str, &[&str])] = &[
            (
                "iex (irm https://example.com/setup.ps1)",
                &["pipe-to-shell", "network"],
            ),
            (
                "Invoke-WebRequest https://example.com -OutFile x.zip",
                &["network"],
            ),
            (
                "Remove-Item -Recurse C:\\Users\\me\\Documents",
                &["delete-outside"],
            ),
            ("Start-Process pwsh -Verb RunAs", &["sudo"]),
            ("Set-Content -Path $PROFILE -Value 'x'", &["dotfiles"]),
            (
                "Copy-Item .\\tool.exe C:\\Windows\\System32\\",
                &["write-outside"],
            ),
        ];
        for (line, want) in ps {
            let got = codes(line, Lang::Pwsh);
            for w in *want {
                assert!(got.contains(w), "{line:?}: want {w}, got {got:?}");
            }
        }
    }

    #[test]
    fn hints_carry_line_numbers_and_plain_sentences() {
        let hints = risk_hints("echo start\n# curl x | sh\nsudo make install\n", Lang::Sh);
        assert_eq!(hints.len(), 1);
        assert_eq!(hints[0].code, "sudo");
        assert_eq!(hints[0].line, 3);
        assert!(hints[0].message.contains("root"), "{}", hints[0].message);
    }

    #[test]
    fn writing_into_the_hub_is_pointed_out() {
        for (lang, line) in [
            (Lang::Bash, "python3 -m venv .coagent/venv"),
            (Lang::Bash, "echo done > .coagent/notes.txt"),
            (
                Lang::Bash,
                "mkdir -p ./.coagent/out && cp a.txt ./.coagent/out/",
            ),
            (Lang::Python, "open('.coagent/report.md', 'w').write(text)"),
        ] {
            let hints = risk_hints(line, lang);
            assert!(
                hints.iter().any(|h| h.code == "hub-write"),
                "{line}: {hints:?}"
            );
        }
        for line in [
            "cp report.md \"$COAGENT_OUT/\"",
            "echo .coagentish > x",
            "# writes .coagent/x",
        ] {
            let hints = risk_hints(line, Lang::Bash);
            assert!(
                !hints.iter().any(|h| h.code == "hub-write"),
                "{line}: {hints:?}"
            );
        }
    }
}
