//! `coagent guard scan`: the secret guard on its own; exit 1 when it finds anything.

use std::io::Read;
use std::process::ExitCode;

use coagent_guard::{PathFinding, ScanReport};

use crate::app::App;
use crate::cli::GuardCmd;
use crate::out;

pub fn run(app: &App, cmd: GuardCmd) -> anyhow::Result<ExitCode> {
    let GuardCmd::Scan { paths } = cmd;
    // Inside a hub, its guard.toml and private values apply; elsewhere the built-in rules.
    let guard = match app.hub_unchecked() {
        Ok(hub) => coagent::guard::build(&hub)?,
        Err(_) => coagent_guard::Guard::builtin(),
    };
    let report = if paths.len() == 1 && paths[0].as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| coagent::Error::io("cannot read stdin", e))?;
        let findings = guard.scan(&buf);
        ScanReport {
            findings: findings
                .into_iter()
                .map(|f| PathFinding {
                    path: "-".into(),
                    line: f.line,
                    rule: f.rule,
                    preview: f.preview,
                })
                .collect(),
            bytes_scanned: buf.len() as u64,
            files_scanned: 1,
            files_skipped: 0,
        }
    } else {
        for p in &paths {
            if !p.exists() {
                return Err(out::user(
                    format!("{} does not exist", p.display()),
                    Some("name files or folders, or `-` for stdin"),
                ));
            }
        }
        coagent_guard::scan_paths(&guard, &paths)?
    };
    out::emit(app.json(), &report, || {
        let mut s = String::new();
        for f in &report.findings {
            s.push_str(&format!(
                "{}:{}: {} {}\n",
                f.path,
                f.line,
                out::red(&f.rule),
                f.preview
            ));
        }
        s.push_str(&format!(
            "{} finding(s) in {} file(s), {} bytes scanned{}\n",
            report.findings.len(),
            report.files_scanned,
            report.bytes_scanned,
            if report.files_skipped > 0 {
                format!(", {} skipped (binary or ignored)", report.files_skipped)
            } else {
                String::new()
            }
        ));
        s
    });
    Ok(if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
