//! `coagent doctor [--repair]`: what is wrong with the hub, and with `--repair` what was
//! mended. Exit 1 while a problem stands, so a script can tell a clean hub.

use std::process::ExitCode;

use coagent::doctor::{self, Finding, Options, Report};

use crate::app::App;
use crate::cli::DoctorArgs;
use crate::out;

pub fn run(app: &App, a: DoctorArgs) -> anyhow::Result<ExitCode> {
    let dir = app.hub_dir()?;
    let opts = Options {
        repair: a.repair,
        yes: app.global.yes,
        ..Options::default()
    };
    let report = doctor::run(&dir, &opts)?;
    out::emit(app.json(), &report, || render(&report));
    Ok(if report.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn render(r: &Report) -> String {
    let mut s = format!("{} {}\n", out::bold("hub"), r.hub.display());
    for f in &r.findings {
        s.push_str(&line(f, r.repair));
    }
    match r.backups.first() {
        Some(b) => s.push_str(&format!(
            "{} {} kept, newest {}\n",
            out::bold("backups"),
            r.backups.len(),
            b.path
                .file_name()
                .map(|n| n.to_string_lossy())
                .unwrap_or_default()
        )),
        None => s.push_str(&format!("{} none yet\n", out::bold("backups"))),
    }
    if let Some(l) = &r.lost_and_found {
        s.push_str(&format!("moved aside into {}\n", l.display()));
    }
    let n = r.problems();
    s.push_str(&if n == 0 {
        out::green("the hub is clean\n")
    } else if r.repair {
        out::red(&format!("{n} problem(s) remain\n"))
    } else {
        out::red(&format!(
            "{n} problem(s); `coagent doctor --repair` mends those with a fix\n"
        ))
    });
    s
}

fn line(f: &Finding, repair: bool) -> String {
    let mark = match (f.level, f.repaired) {
        ("note", _) => out::dim("·"),
        (_, true) => out::green("✔"),
        _ => out::red("✖"),
    };
    let mut s = format!("{mark} {}: {}\n", f.check, f.message);
    if let Some(fix) = &f.fix {
        let verb = if f.repaired {
            "repaired"
        } else if repair {
            "not repaired"
        } else {
            "--repair would"
        };
        s.push_str(&format!("    {verb}: {fix}\n"));
    }
    s
}
