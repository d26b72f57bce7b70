//! `coagent ingest [FILE|-]`: a chat's reply in, records out, and the next step.

use std::io::IsTerminal;
use std::process::ExitCode;

use coagent::capsule::EchoStatus;
use coagent::clipboard::ClipOutcome;

use crate::app::App;
use crate::cli::IngestArgs;
use crate::{clip, out};

pub fn run(app: &App, a: IngestArgs) -> anyhow::Result<ExitCode> {
    let mut hub = app.hub()?;
    let input: Vec<u8> = match &a.file {
        Some(p) if p.as_os_str() == "-" => {
            if std::io::stdin().is_terminal() {
                // Otherwise a terminal waiting for a paste looks hung.
                eprintln!("Paste the reply, then press Ctrl-D (Ctrl-Z Enter on Windows)");
            }
            coagent::ingest::read_bounded(&mut std::io::stdin().lock(), "stdin")?
        }
        Some(p) => {
            let mut f = std::fs::File::open(p).map_err(|e| coagent::Error::io(format!("cannot read {}", p.display()), e))?;
            coagent::ingest::read_bounded(&mut f, &p.display().to_string())?
        }
        None => clip::read().map_err(|e| out::user(e, Some("pass the reply as a file (`coagent ingest reply.md`) or on stdin (`coagent ingest -`)")))?.into_bytes(),
    };
    let mut clipboard = app.clipboard();
    let r = coagent::ingest::ingest(&mut hub, &input, a.session.as_deref(), clipboard.as_mut())?;
    out::emit(app.json(), &r, || render(&r));
    Ok(ExitCode::SUCCESS)
}

fn render(r: &coagent::ingest::IngestReport) -> String {
    let mut s = String::new();
    if r.duplicate {
        s.push_str(&format!(
            "{} this reply was ingested before into {}: nothing new recorded.\n",
            out::yellow("duplicate:"),
            r.session
        ));
    } else {
        s.push_str(&format!(
            "Ingested into {} (turn {}{}).\n",
            out::bold(&r.session),
            r.turn,
            if r.route.by == "tag" {
                ", by its tag"
            } else {
                ""
            }
        ));
    }
    if let Some(n) = &r.route.note {
        s.push_str(&format!(
            "  {} {n} (`--session` picks another)\n",
            out::yellow("route:")
        ));
    }
    let echo = match r.echo.status {
        EchoStatus::Verified => out::green("verified"),
        EchoStatus::Stale => out::red(&match r.echo.version.as_deref() {
            Some(v) => format!("stale (the chat said v{v}; expected `{}`)", r.echo.expected),
            None => format!(
                "stale (no echo in this reply; an earlier one named another version; expected `{}`)",
                r.echo.expected
            ),
        }),
        EchoStatus::Missing => out::yellow(&format!("missing (expected `{}`)", r.echo.expected)),
    };
    s.push_str(&format!("  echo      {echo}\n"));
    if !r.questions.is_empty() {
        // Before the DOs: an answer may change what should run.
        s.push_str(&format!("\n{}\n", out::yellow("the chat asks:")));
        for q in &r.questions {
            s.push_str(&format!(
                "  ? {} {}\n",
                q.text,
                out::dim(&format!("(line {})", q.line))
            ));
        }
        s.push_str(
            "  Answer in the chat before you run anything: the answer may change the DOs.\n\n",
        );
    }
    for d in &r.dos {
        s.push_str(&format!(
            "  DO        {}  {} ({}){}{}\n",
            out::bold(&d.id),
            d.title,
            d.lang,
            d.todo
                .as_deref()
                .map(|t| format!("  for {t}"))
                .unwrap_or_default(),
            if d.new { "" } else { "  (known)" }
        ));
        if let Some(n) = &d.lang_note {
            s.push_str(&format!(
                "            {}\n",
                out::dim(&format!("language: {n}"))
            ));
        }
    }
    for d in &r.incomplete_dos {
        s.push_str(&format!(
            "  {}   \"{}\" (line {}): {} — not recorded\n",
            out::yellow("incomplete DO"),
            d.title,
            d.line,
            d.reason
        ));
    }
    for a in &r.acks {
        let st = if a.status == "accepted" {
            out::green("accepted")
        } else {
            out::red(&format!("rejected: {}", a.reason))
        };
        s.push_str(&format!(
            "  ACK       {} {}  {st}\n",
            a.id,
            a.refs.join(" ")
        ));
    }
    for u in &r.unreadable_acks {
        s.push_str(&format!(
            "  ACK       {} (line {}): {}\n            {}\n",
            out::red("unreadable"),
            u.line,
            u.text,
            out::dim(&format!(
                "{}; not recorded: ask the chat for `ACK <id> <ref>…`",
                u.reason
            ))
        ));
    }
    for d in &r.dones {
        let st = if d.status == "accepted" {
            out::green("accepted: the TODO is done")
        } else {
            out::red(&format!("rejected: {}", d.reason))
        };
        s.push_str(&format!(
            "  DONE      {} {}  {st}\n",
            d.id,
            d.refs.join(" ")
        ));
    }
    for m in &r.messages {
        if m.valid {
            s.push_str(&format!(
                "  message   {} ({}) {}\n",
                m.id,
                m.kind,
                out::green("valid")
            ));
        } else {
            s.push_str(&format!("  message   {} {}\n", m.id, out::red("invalid")));
            for e in &m.errors {
                s.push_str(&format!("              {e}\n"));
            }
        }
    }
    if let Some(n) = &r.next {
        match (&n.part, &n.clipboard) {
            (Some(p), Some(ClipOutcome::Copied { via })) if via != "osc52" => s.push_str(&format!(
                "  NEXT {}/{}  part {p}/{} is on the clipboard: paste it into the chat\n",
                n.k, n.n, n.n
            )),
            (Some(p), _) => s.push_str(&format!(
                "  NEXT {}/{}  paste part {p}/{} from {}\n",
                n.k,
                n.n,
                n.n,
                n.path.as_deref().unwrap_or("?")
            )),
            _ => s.push_str(&format!(
                "  NEXT {}/{}  no split payload is waiting for this session\n",
                n.k, n.n
            )),
        }
    }
    for l in &r.drift {
        s.push_str(&format!(
            "  {}     {}: {}\n",
            out::yellow("drift"),
            l.kind,
            l.excerpt
        ));
    }
    for w in &r.warnings {
        s.push_str(&format!("  {} {w}\n", out::yellow("note:")));
    }
    let nothing = r.dos.is_empty()
        && r.acks.is_empty()
        && r.unreadable_acks.is_empty()
        && r.dones.is_empty()
        && r.questions.is_empty()
        && r.messages.is_empty()
        && r.next.is_none()
        && r.incomplete_dos.is_empty();
    if nothing && !r.duplicate {
        s.push_str(
            "  nothing to record beyond the transcript (no echo change, DO, ACK or message)\n",
        );
    }
    let new_dos: Vec<_> = r.dos.iter().filter(|d| d.new).collect();
    if !r.questions.is_empty() {
        s.push_str("\nNext: answer the chat's question(s) in the chat, then ingest its reply.\n");
    } else if let [d] = new_dos.as_slice() {
        s.push_str(&format!(
            "\nNext: review it with `coagent do show {}`, then `coagent do run {}`.\n",
            d.id, d.id
        ));
    } else if !new_dos.is_empty() {
        // Several DOs go back to the chat in one result: one paste, not one per DO.
        let shows: Vec<String> = new_dos
            .iter()
            .map(|d| format!("`coagent do show {}`", d.id))
            .collect();
        s.push_str(&format!(
            "\nNext: review them ({}), then run them all, with one result for the chat: \
             `coagent do run --all`.\n",
            shows.join(", ")
        ));
    } else if r.echo.status != EchoStatus::Verified {
        s.push_str(&format!(
            "\nNext: ask the chat to answer with `{}` as its first line.\n",
            r.echo.expected
        ));
    }
    s
}
