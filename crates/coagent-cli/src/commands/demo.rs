//! `coagent demo`: the whole loop in a throwaway project, with bundled example replies in
//! the styles of several chats (a copy-button copy, a rendered-page selection). It runs the
//! same library calls as the real commands, prints each payload and explains each step.
//! It ignores `--hub`/`COAGENT_HUB` and never touches the clipboard or the user's hubs.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use coagent::clipboard::NoClipboard;
use coagent::clock::Clock;
use coagent::hub::Hub;
use coagent::session::StartOptions;
use coagent::wrap::WrapOptions;
use coagent::{dos, ingest, session, status, todo, wrap};
use coagent_runner::Cancel;

use crate::app::App;
use crate::out;

const REPLY_1: &str = include_str!("../../assets/demo/1-claude-copy-button.md");
const REPLY_2: &str = include_str!("../../assets/demo/2-gemini-acks.md");
const REPLY_3: &str = include_str!("../../assets/demo/3-chatgpt-rendered.txt");
const STEPS: usize = 9;

struct Guide<'a> {
    app: &'a App,
    step: usize,
    pause: bool,
}

impl Guide<'_> {
    fn step(&mut self, title: &str, why: &str) {
        self.step += 1;
        if self.pause && self.step > 1 {
            eprint!("{}", out::dim("  [Enter] next step · Ctrl-C quits "));
            let _ = std::io::stderr().flush();
            let mut l = String::new();
            let _ = std::io::stdin().lock().read_line(&mut l);
        }
        if !self.app.json() {
            out::print(&format!(
                "\n{} {}\n{}\n",
                out::bold(&format!("── {}/{STEPS}", self.step)),
                out::bold(title),
                out::dim(why)
            ));
        }
    }

    fn show(&self, text: &str) {
        if !self.app.json() {
            out::print(text);
            if !text.ends_with('\n') {
                out::print("\n");
            }
        }
    }

    fn payload(&self, path: &Path) {
        if self.app.json() {
            return;
        }
        let text = std::fs::read_to_string(path).unwrap_or_default();
        out::print(&format!(
            "{}\n",
            out::dim(&format!(
                "┌── {} ",
                path.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default()
            ))
        ));
        for line in text.lines() {
            out::print(&format!("{} {line}\n", out::dim("│")));
        }
        out::print(&format!("{}\n", out::dim("└──")));
    }
}

pub fn run(app: &App, keep: bool) -> anyhow::Result<ExitCode> {
    let tmp = tempfile::Builder::new()
        .prefix("coagent-demo-")
        .tempdir()
        .map_err(|e| coagent::Error::io("cannot create a throwaway folder", e))?;
    remove_on_interrupt(tmp.path(), keep)?;
    let root = tmp.path().join("csv-importer");
    std::fs::create_dir_all(&root)
        .map_err(|e| coagent::Error::io("cannot create the demo project", e))?;
    let pause = !app.global.yes
        && !app.json()
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal();
    let mut g = Guide {
        app,
        step: 0,
        pause,
    };
    let mut clip = NoClipboard {
        reason: "the demo never touches your clipboard".into(),
    };
    let mut summary = serde_json::Map::new();

    g.step("init: a project and its hub", "CoAgent keeps every piece of state in the project's .coagent/ folder. Nothing runs in the background.");
    std::fs::write(
        root.join("README.md"),
        "# csv-importer\n\nImports CSV files.\n",
    )
    .map_err(|e| coagent::Error::io("cannot write the demo project", e))?;
    let git = git_init(&root);
    let report = Hub::init(&root, true, Clock::from_env()?)?;
    // For the demo the monitor wraps after 2 completed DOs (the default is 5).
    std::fs::write(report.hub.join("config.toml"), "[bloat]\nmax_dos = 2\n")
        .map_err(|e| coagent::Error::io("cannot write config.toml", e))?;
    let mut hub = Hub::open(&report.hub)?;
    g.show(&format!("$ coagent init\n  hub {}\n  capsule v{} locked (sha256 {}){}\n  config: the bloat monitor wraps after 2 DOs, for the demo\n", report.hub.display(), report.capsule_version, &report.capsule_sha256[..8], if git { "; the project is a git repository, so DOs' changes become diffs" } else { "" }));
    for (t, acc) in [
        ("Count the project's files", ""),
        ("Start the changelog", "CHANGELOG.md exists"),
        ("Check the changelog", ""),
    ] {
        let td = todo::add(&mut hub, t, acc, false)?;
        g.show(&format!("$ coagent todo add \"{t}\"   → {}", td.id));
    }

    g.step("start: the boot payload", "The capsule (the rules), the BPOE contract (the formats) and the handoff (goal + TODOs) go to the outbox and, normally, the clipboard. You paste it into a new chat.");
    let started = session::start(
        &mut hub,
        StartOptions {
            vendor: "claude".into(),
            goal: "Ship the CSV importer".into(),
            redact: false,
            respawn: None,
        },
        &mut clip,
    )?;
    g.show(&format!("$ coagent start --vendor claude --goal \"Ship the CSV importer\"\n  session {} · expect the echo `{}`", started.session, started.echo));
    g.payload(&started.payloads[0]);
    summary.insert("session".into(), started.session.clone().into());

    g.step("ingest: the chat's reply (Claude, copied with its copy button)", "The reply echoes the capsule and proposes two DOs. ingest checks the echo against the capsule the session booted with and quarantines each script.");
    let tag = coagent::drift::tag_id(&started.session);
    let reply1 = REPLY_1.replace("{{TAG}}", &tag);
    g.show(&format!("{}\n", out::dim(reply1.trim_end())));
    let r1 = ingest::ingest(&mut hub, reply1.as_bytes(), None, &mut clip)?;
    g.show(&format!(
        "$ coagent ingest\n  echo {} · {} DO(s): {}",
        r1.echo.status.as_str(),
        r1.dos.len(),
        r1.dos
            .iter()
            .map(|d| format!("{} {}", d.id, d.title))
            .collect::<Vec<_>>()
            .join(", ")
    ));

    g.step("do show + do run --all: your consent, one payload for the turn", "You read each script (with the guard's findings and plain risk hints), then run the reply's DOs in order. Each one's output is kept as a log artifact, its change to the work tree as a diff; all of them come back to the chat in ONE result payload.");
    for d in &r1.dos {
        let shown = dos::show(&hub, &d.id)?;
        g.show(&format!(
            "$ coagent do show {}\n  sha256 {} · risks: {} · guard: {}",
            d.id,
            &shown.current_sha256[..12],
            risk_summary(&shown.risks),
            if shown.guard.is_empty() {
                "clean"
            } else {
                "findings"
            }
        ));
    }
    g.show("$ coagent do run --all");
    let planned = dos::plan(&hub, &dos::Selection::Latest { session: None }, false)?;
    let batch = dos::run(
        &mut hub,
        planned,
        &dos::RunOptions::default(),
        None,
        &mut DemoProgress(LiveIndent),
        &Cancel::new(),
        &mut clip,
    )?;
    let mut logs = Vec::new();
    for rep in &batch.runs {
        g.show(&format!(
            "  {} {} in {} ms · artifacts: {}",
            rep.id,
            rep.status.as_str(),
            rep.duration_ms,
            rep.artifacts
                .iter()
                .map(|a| format!("{} ({})", a.id, a.kind))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        logs.push((
            rep.id.clone(),
            rep.artifacts
                .iter()
                .find(|a| a.kind == "log")
                .map(|a| a.id.clone())
                .unwrap_or_default(),
        ));
    }
    if let Some(p) = &batch.payload {
        g.payload(p);
    }

    g.step("ingest: the ACKs (Gemini style)", "The chat answers each result with `ACK <id> <refs>`. Every ref is checked: artifacts must be known, paths must exist inside the project.");
    let reply2 = REPLY_2
        .replace("{{DO1}}", &logs[0].0)
        .replace("{{DO1_LOG}}", &logs[0].1)
        .replace("{{DO2}}", &logs[1].0)
        .replace("{{DO2_LOG}}", &logs[1].1)
        .replace("{{TAG}}", &tag);
    g.show(&format!("{}\n", out::dim(reply2.trim_end())));
    let r2 = ingest::ingest(&mut hub, reply2.as_bytes(), None, &mut clip)?;
    for a in &r2.acks {
        g.show(&format!(
            "  ACK {} {} → {}{}",
            a.id,
            a.refs.join(" "),
            a.status,
            if a.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", a.reason)
            }
        ));
    }

    g.step("the bloat monitor: a breach", "Every command checks the live sessions. Two DOs completed reaches this demo's threshold, so the session is due for a wrap (`coagent watch` does it by itself).");
    let checked = status::check(&mut hub)?;
    g.show(&format!(
        "$ coagent ticker\n  {}",
        coagent::ticker::line(checked.first())
    ));

    g.step("wrap: snapshot, close, respawn", "CoWrap archives the capsule, the handoff (open TODOs, finished DOs with their artifacts), the transcript and the artifacts, closes the session, and writes the respawn payload for a clean chat.");
    let w = wrap::wrap(
        &mut hub,
        WrapOptions {
            session: None,
            to: Some("chatgpt".into()),
            redact: false,
            respawn: true,
            reason: "bloat: dos_completed".into(),
        },
        &mut clip,
    )?;
    let v = wrap::verify(&w.archive)?;
    g.show(&format!(
        "$ coagent wrap --to chatgpt\n  {} · {} files, sha256 verified: {}\n  respawn session {}",
        w.archive.display(),
        w.counts.files,
        v.ok,
        w.respawn_session.clone().unwrap_or_default()
    ));
    if let Some(p) = w.respawn.first() {
        g.payload(p);
    }
    summary.insert("wrap".into(), w.id.clone().into());

    g.step("respawn: the new chat answers (ChatGPT, copied from the rendered page)", "No fences, a `Copy code` label, Windows line ends: ingest finds the same formats. The new session goes live with the same capsule.");
    let reply3 = REPLY_3.replace(
        "{{TAG}}",
        &coagent::drift::tag_id(w.respawn_session.as_deref().unwrap_or_default()),
    );
    g.show(&format!("{}\n", out::dim(reply3.trim_end())));
    let r3 = ingest::ingest(
        &mut hub,
        reply3.replace('\n', "\r\n").as_bytes(),
        None,
        &mut clip,
    )?;
    g.show(&format!(
        "$ coagent ingest\n  session {} · echo {} · DO {}",
        r3.session,
        r3.echo.status.as_str(),
        r3.dos.first().map(|d| d.title.as_str()).unwrap_or("-")
    ));
    if let Some(d) = r3.dos.first() {
        let rep = run_do(&mut hub, &d.id, &mut clip)?;
        g.show(&format!(
            "$ coagent do run {}\n  {} · expect `{}`",
            d.id,
            rep.status.as_str(),
            rep.ack_line
        ));
    }

    g.step(
        "stats: the seed's acceptance figures",
        "Measured locally from the hub's records; nothing is sent anywhere.",
    );
    let st = coagent::stats::compute(&hub)?;
    let a = &st.acceptance;
    g.show(&format!(
        "  sessions {} · DOs completed {} · first DO ≤ 15 min {}/{} · results ACKed {}/{} · secrets pasted out {}",
        st.overall.sessions, st.overall.dos_completed, a.first_do_within_15min.0, a.first_do_within_15min.1, a.results_acked.0, a.results_acked.1, a.secrets_pasted_out
    ));
    summary.insert("stats".into(), serde_json::to_value(&st.overall)?);

    let kept = if keep { Some(tmp.keep()) } else { None };
    if app.json() {
        summary.insert("kept".into(), serde_json::to_value(&kept)?);
        out::json(&summary);
    } else {
        out::print(&match &kept {
            Some(p) => format!("\nThe demo project is kept at {}. Look around: cd {} && coagent status\n", p.display(), p.join("csv-importer").display()),
            None => "\nDone; the throwaway project is removed (--keep keeps it).\nYour turn: cd into your project, then `coagent init`.\n".to_string(),
        });
    }
    Ok(ExitCode::SUCCESS)
}

/// Ctrl-C (or SIGTERM, SIGHUP) while the demo runs: the throwaway folder is removed before
/// the process ends, as it is at the end (kept and named with `--keep`); exit code 130.
/// A flag and a watching thread rather than work in the handler itself: removing a folder
/// is not something a signal handler may do.
fn remove_on_interrupt(dir: &Path, keep: bool) -> anyhow::Result<()> {
    let stop = Arc::new(AtomicBool::new(false));
    // Lives as long as the process: the watching thread below ends it.
    std::mem::forget(
        coagent_runner::on_interrupt(Arc::clone(&stop))
            .map_err(|e| coagent::Error::io("cannot watch for Ctrl-C", e))?,
    );
    let dir = dir.to_path_buf();
    std::thread::spawn(move || {
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        if keep {
            eprintln!("\nStopped. The demo project is kept at {}.", dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&dir);
            eprintln!("\nStopped. The throwaway project is removed.");
        }
        std::process::exit(130);
    });
    Ok(())
}

/// `coagent do run ID`, its live output indented under the command.
fn run_do(hub: &mut Hub, id: &str, clip: &mut NoClipboard) -> coagent::Result<dos::RunReport> {
    let planned = dos::plan(hub, &dos::Selection::Ids(vec![id.to_string()]), false)?;
    let report = dos::run(
        hub,
        planned,
        &dos::RunOptions::default(),
        None,
        &mut DemoProgress(LiveIndent),
        &Cancel::new(),
        clip,
    )?;
    report
        .runs
        .into_iter()
        .next()
        .ok_or_else(|| coagent::Error::Internal(format!("{id} did not run")))
}

/// Each risk code once, with its lines: `hub-write (lines 2, 3)`.
fn risk_summary(risks: &[coagent_runner::RiskHint]) -> String {
    if risks.is_empty() {
        return "none".to_string();
    }
    let mut codes: Vec<(&str, Vec<String>)> = Vec::new();
    for r in risks {
        match codes.iter_mut().find(|(c, _)| *c == r.code) {
            Some((_, lines)) => lines.push(r.line.to_string()),
            None => codes.push((r.code, vec![r.line.to_string()])),
        }
    }
    codes
        .iter()
        .map(|(c, lines)| {
            let word = if lines.len() == 1 { "line" } else { "lines" };
            format!("{c} ({word} {})", lines.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

struct DemoProgress(LiveIndent);

impl dos::Progress for DemoProgress {
    fn starting(&mut self, _k: usize, _n: usize, _d: &dos::Do) {}

    fn live(&mut self) -> &mut dyn Write {
        &mut self.0
    }
}

fn git_init(root: &Path) -> bool {
    let git = |args: &[&str]| {
        Command::new("git")
            .args([
                "-c",
                "user.name=CoAgent demo",
                "-c",
                "user.email=demo@coagent.invalid",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(root)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    git(&["init", "-q"]) && git(&["add", "README.md"]) && git(&["commit", "-q", "-m", "first"])
}

/// A DO's live output, indented under its command.
struct LiveIndent;

impl Write for LiveIndent {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let mut o = std::io::stdout().lock();
        for line in text.split_inclusive('\n') {
            o.write_all(format!("  │ {line}").as_bytes())?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stdout().flush()
    }
}
