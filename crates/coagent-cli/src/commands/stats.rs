//! `coagent stats [--anonymous]`.

use std::process::ExitCode;

use coagent::clock::human_duration;

use crate::app::App;
use crate::out;

fn ms(v: Option<i64>) -> String {
    v.map_or("—".to_string(), human_duration)
}

fn pct(v: Option<f64>) -> String {
    v.map_or("—".to_string(), |x| format!("{:.0}%", x * 100.0))
}

fn frac((a, b): (i64, i64)) -> String {
    if b == 0 {
        "— (none yet)".to_string()
    } else {
        format!("{a}/{b}")
    }
}

/// What went out, by part, in one line.
pub fn parts_text(p: &coagent::turns::Parts) -> String {
    format!(
        "capsule {} · contract {} · handoff {} · results {} · frame {} · machine {}",
        p.capsule, p.contract, p.handoff, p.results, p.frame, p.machine
    )
}

/// A session's tokens: the totals each way, then per turn (the last `last` turns).
pub fn book_text(b: &coagent::turns::Book, indent: &str, last: usize) -> String {
    let mut s = format!(
        "{indent}tokens     pasted out ~{} ({}) · ingested ~{}\n",
        b.pasted_out,
        parts_text(&b.parts),
        b.ingested
    );
    let skip = b.turns.len().saturating_sub(last);
    if skip > 0 {
        s.push_str(&format!("{indent}  … {skip} earlier turns\n"));
    }
    for t in b.turns.iter().skip(skip) {
        let name = if t.turn == 0 {
            "boot".to_string()
        } else {
            format!("turn {}", t.turn)
        };
        s.push_str(&format!(
            "{indent}  {name:<8} out ~{:<6} in ~{:<6} {}\n",
            t.pasted_out,
            t.ingested,
            out::dim(&parts_text(&t.parts))
        ));
    }
    s
}

/// The overall figures, then (unless anonymous) the newest `limit` sessions' (every one
/// when `None`), streamed.
pub fn run(app: &App, anonymous: bool, limit: Option<usize>) -> anyhow::Result<ExitCode> {
    let hub = app.hub()?;
    let st = coagent::stats::compute(&hub)?;
    if anonymous {
        out::emit(app.json(), &st.anonymous(), || overall(&st));
        return Ok(ExitCode::SUCCESS);
    }
    let head = serde_json::json!({"overall": st.overall, "acceptance": st.acceptance});
    if !app.json() {
        out::print(&overall(&st));
    }
    let mut p = out::ListPrinter::start_with(app.json(), "sessions", head);
    coagent::stats::sessions(&hub, limit, |x| {
        if p.shown() == 0 && !app.json() {
            out::print(&format!("\n{}\n", out::bold("Sessions (newest first)")));
        }
        p.item(&x, |x| {
            format!(
                "  {}  {:<8} {:<9} DOs {}/{}  first DO {}  breach→wrap {}  ACKs {}/{}  ~{} tok\n",
                x.session,
                x.vendor,
                x.state,
                x.dos_completed,
                x.dos_proposed,
                ms(x.first_completed_do_ms),
                ms(x.breach_to_wrap_ms),
                x.results_acked,
                x.results_sent,
                x.tokens
            ) + &book_text(&x.token_turns, "    ", 12)
        });
        Ok(())
    })?;
    let more = limit.is_some_and(|l| p.shown() == l && (st.overall.sessions as usize) > l);
    p.finish(more, "", serde_json::json!({}));
    Ok(ExitCode::SUCCESS)
}

fn overall(st: &coagent::stats::Stats) -> String {
    let o = &st.overall;
    let a = &st.acceptance;
    let mut s = format!(
        "{}\n",
        out::bold("Overall (local only; nothing is sent anywhere)")
    );
    s.push_str(&format!(
        "  sessions            {} ({} echo verified, {})\n",
        o.sessions,
        o.sessions_verified,
        pct(o.echo_verification_rate)
    ));
    s.push_str(&format!(
        "  DOs                 {} proposed, {} completed ({} per session)\n",
        o.dos_proposed,
        o.dos_completed,
        o.dos_per_session.map_or("—".into(), |x| format!("{x:.1}"))
    ));
    s.push_str(&format!(
        "  ACKs                {} of {} results ({}), {} rejected\n",
        o.results_acked,
        o.results_sent,
        pct(o.ack_rate),
        o.acks_rejected
    ));
    s.push_str(&format!(
        "  guard               {} payloads sent, {} refused, {} redacted\n",
        o.payloads_sent, o.payloads_refused, o.payloads_redacted
    ));
    s.push_str(&format!(
        "  tokens exchanged    ~{} (pasted out ~{}, ingested ~{})\n",
        o.tokens, o.tokens_pasted_out, o.tokens_ingested
    ));
    s.push_str(&format!(
        "  pasted out by part  {}\n",
        parts_text(&o.tokens_out_parts)
    ));
    s.push_str(&format!(
        "  first completed DO  median {}\n",
        ms(o.median_first_completed_do_ms)
    ));
    s.push_str(&format!(
        "  breach → wrap       median {} ({} wraps, {} of them manual and not counted)\n",
        ms(o.median_breach_to_wrap_ms),
        o.wraps,
        o.wraps_manual
    ));
    s.push_str(&format!("\n{}\n", out::bold("Seed acceptance")));
    s.push_str(&format!(
        "  {}\n",
        out::dim(&format!("({})", coagent::stats::ACCEPTANCE_MEANING))
    ));
    s.push_str(&format!(
        "  first DO ≤ 15 min            {}\n",
        frac(a.first_do_within_15min)
    ));
    s.push_str(&format!(
        "  wrap ≤ 5 min after breach    {} (the monitor's wraps)\n",
        frac(a.wrap_within_5min_of_breach)
    ));
    s.push_str(&format!(
        "  messages schema-valid        {} (sent and received)\n",
        frac(a.messages_schema_valid)
    ));
    s.push_str(&format!(
        "  results ACKed                {}\n",
        frac(a.results_acked)
    ));
    s.push_str(&format!(
        "  secrets pasted out           {}\n",
        a.secrets_pasted_out
    ));
    s
}
