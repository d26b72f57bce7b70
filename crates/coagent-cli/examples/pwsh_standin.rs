//! A stand-in for PowerShell, for the Windows tests (real PowerShell is not installable
//! where they run, under wine). It behaves as Windows PowerShell 5.1 does with encodings,
//! the two ways a DO's non-ASCII text used to come back wrong:
//!
//! - it reads the `-File` script as UTF-8 only when the file starts with a byte-order
//!   mark, and otherwise in the ANSI code page (Windows-1252; here: each byte is one
//!   character, as Latin-1);
//! - it writes its output in the OEM code page (here: anything not ASCII becomes `?`, as
//!   Windows does for characters the code page lacks) unless the script set
//!   `[Console]::OutputEncoding` to UTF-8, then in UTF-8.
//!
//! Of the language it knows only what the tests' scripts use: comments, `Write-Output`
//! and `Write-Host` with one quoted string, `Start-Sleep -Seconds N`, `exit N`, and the
//! encoding statement. Built with `cargo build -p coagent-cli --examples`; a test copies it
//! as `pwsh.exe` onto the PATH of the `coagent` it runs.

use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(file) = args
        .iter()
        .position(|a| a.eq_ignore_ascii_case("-File"))
        .and_then(|i| args.get(i + 1))
    else {
        eprintln!("pwsh stand-in: no -File given");
        std::process::exit(64);
    };
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("pwsh stand-in: cannot read {file}: {e}");
            std::process::exit(66);
        }
    };
    let text = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(utf8) => String::from_utf8_lossy(utf8).into_owned(),
        None => bytes.iter().map(|&b| char::from(b)).collect(),
    };
    let mut utf8_out = false;
    let mut out = std::io::stdout();
    for statement in text.lines().flat_map(|l| l.split("; ")) {
        let s = statement.trim();
        if s.contains("[Console]::OutputEncoding = [System.Text.UTF8Encoding]") {
            utf8_out = true;
        } else if let Some(arg) = s
            .strip_prefix("Write-Output ")
            .or_else(|| s.strip_prefix("Write-Host "))
        {
            let said = arg.trim().trim_matches(['\'', '"']);
            let line: String = if utf8_out {
                said.to_string()
            } else {
                said.chars()
                    .map(|c| if c.is_ascii() { c } else { '?' })
                    .collect()
            };
            let _ = out.write_all(format!("{line}\r\n").as_bytes());
            let _ = out.flush();
        } else if let Some(n) = s.strip_prefix("Start-Sleep -Seconds ") {
            let secs = n.trim().parse().unwrap_or(1);
            std::thread::sleep(std::time::Duration::from_secs(secs));
        } else if let Some(code) = s.strip_prefix("exit ") {
            std::process::exit(code.trim().parse().unwrap_or(1));
        }
    }
}
