//! The pages GET requests draw. GET never changes anything a user would
//! call state (the monitor's check that every command runs aside); the changes are in
//! [`crate::actions`].

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use coagent::hub::Hub;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::call::{Failure, with_hub};
use crate::state::State as St;
use crate::{diff, jobs};

pub async fn css() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../assets/app.css"),
    )
        .into_response()
}

pub async fn js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/app.js"),
    )
        .into_response()
}

pub async fn icon() -> Response {
    (
        [(header::CONTENT_TYPE, "image/svg+xml")],
        include_str!("../assets/icon.svg"),
    )
        .into_response()
}

pub async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such page\n").into_response()
}

/// A page from `template` with `ctx`, plus what every page has (the CSRF token, and the
/// flash when the page is an action's redirect, `?report=N`); a failure is drawn as the
/// page's error.
pub fn page(st: &St, template: &str, ctx: Result<Value, Failure>, report: Option<u64>) -> Response {
    let mut ctx = match ctx {
        Ok(v) => v,
        Err(f) => json!({"failure": f}),
    };
    if let Some(o) = ctx.as_object_mut() {
        o.insert("csrf".into(), json!(st.csrf));
        o.insert("flash".into(), json!(st.reported(report)));
    }
    match st.view.render(template, &ctx) {
        Ok(html) => Html(html).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the page could not be drawn: {e}\n"),
        )
            .into_response(),
    }
}

/// The number of the action whose outcome the page shows (the redirect after a POST).
#[derive(Deserialize)]
pub struct Report {
    report: Option<String>,
}

/// A number that is not one (an edited address) shows the page without a report.
fn number(s: &Option<String>) -> Option<u64> {
    s.as_deref().and_then(|s| s.parse().ok())
}

pub async fn index(State(st): State<Arc<St>>, Query(r): Query<Report>) -> Response {
    let data = with_hub(&st, index_data).await;
    page(&st, "index.html", data, number(&r.report))
}

fn index_data(hub: &mut Hub) -> coagent::Result<Value> {
    let status = coagent::status::status(hub, 8)?;
    let cfg = hub.config()?;
    let vendors: Vec<String> = coagent::vendor::all(&cfg)?
        .into_iter()
        .map(|v| v.name)
        .collect();
    let mut outbox = Vec::new();
    for e in coagent::outbox::list(hub, false, 20)? {
        let vendor = match &e.session {
            Some(s) => coagent::session::get(hub, s)
                .and_then(|s| coagent::vendor::find(&cfg, &s.vendor))
                .ok(),
            None => None,
        };
        let mut parts = Vec::new();
        for (k, p) in e.paths.iter().enumerate() {
            let text = std::fs::read_to_string(hub.path(p)).unwrap_or_default();
            let tokens = vendor.as_ref().map(|v| v.count(&text).to_string());
            parts.push(json!({"k": k + 1, "path": p, "chars": text.chars().count(), "tokens": tokens, "text": text}));
        }
        outbox.push(json!({"entry": e, "parts": parts}));
    }
    let mut dos = Vec::new();
    coagent::dos::list(
        hub,
        &coagent::dos::Filter {
            session: None,
            state: None,
            window: coagent::store::Window::newest(30),
        },
        |d| {
            dos.push(d);
            Ok(())
        },
    )?;
    let charts: Vec<Value> = status
        .sessions
        .iter()
        .filter_map(|s| {
            s.tokens
                .as_ref()
                .map(|b| json!({"session": s.session.id, "svg": chart(b)}))
        })
        .collect();
    let mut wraps = coagent::wrap::list(hub)?;
    wraps.reverse();
    wraps.truncate(10);
    // Another machine's chats (by sync): shown, never wrapped or ended from here.
    let elsewhere: Vec<&str> = status
        .sessions
        .iter()
        .filter(|s| s.session.elsewhere)
        .map(|s| s.session.id.as_str())
        .collect();
    Ok(json!({
        "elsewhere": elsewhere,
        "status": status,
        "vendors": vendors,
        "outbox": outbox,
        "dos": dos,
        "todos": coagent::todo::list(hub, true)?,
        "wraps": wraps,
        "stats": coagent::stats::compute(hub)?,
        "charts": charts,
    }))
}

/// Tokens per turn over a session's life, as an SVG bar chart (out above, in below the
/// axis), with the DOs each reply proposed as numbers at the foot; numbers only, no text
/// from the session.
fn chart(b: &coagent::turns::Book) -> String {
    let (w, h) = (320.0_f64, 80.0_f64);
    let n = b.turns.len().max(1) as f64;
    let max = b
        .turns
        .iter()
        .map(|t| t.pasted_out.max(t.ingested))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let bw = (w / n).min(24.0);
    let mut s = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"tokens per turn: out above the line, in below; DOs proposed at the foot\"><line x1=\"0\" y1=\"{mid}\" x2=\"{w}\" y2=\"{mid}\" class=\"axis\"/>",
        mid = h / 2.0
    );
    for (i, t) in b.turns.iter().enumerate() {
        let x = i as f64 * bw;
        let up = t.pasted_out as f64 / max * (h / 2.0 - 2.0);
        let down = t.ingested as f64 / max * (h / 2.0 - 2.0);
        s.push_str(&format!(
            "<rect class=\"out\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{up:.1}\"><title>turn {}: {} out</title></rect><rect class=\"in\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{down:.1}\"><title>turn {}: {} in</title></rect>",
            h / 2.0 - up,
            bw - 2.0,
            t.turn,
            t.pasted_out,
            h / 2.0,
            bw - 2.0,
            t.turn,
            t.ingested
        ));
    }
    for (i, t) in b.turns.iter().enumerate().filter(|(_, t)| t.dos > 0) {
        s.push_str(&format!(
            "<text class=\"dos\" x=\"{:.1}\" y=\"{:.1}\">{}<title>turn {}: {} DO(s) proposed</title></text>",
            i as f64 * bw + 1.0,
            h - 3.0,
            t.dos,
            t.turn,
            t.dos
        ));
    }
    s.push_str("</svg>");
    s
}

pub async fn do_page(
    State(st): State<Arc<St>>,
    Path(id): Path<String>,
    Query(r): Query<Report>,
) -> Response {
    let data = with_hub(&st, move |hub| {
        plan_data(hub, coagent::dos::Selection::Ids(vec![id]))
    })
    .await;
    page(&st, "plan.html", data, number(&r.report))
}

#[derive(Deserialize)]
pub struct PlanQuery {
    session: Option<String>,
    report: Option<String>,
}

pub async fn plan_page(State(st): State<Arc<St>>, Query(q): Query<PlanQuery>) -> Response {
    let data = with_hub(&st, move |hub| {
        plan_data(hub, coagent::dos::Selection::Latest { session: q.session })
    })
    .await;
    page(&st, "plan.html", data, number(&q.report))
}

/// What the consent shows: each DO as `do show` has it, and what `do run` would run (the
/// planned sha256 the Run form carries back), or why it would not.
fn plan_data(hub: &mut Hub, sel: coagent::dos::Selection) -> coagent::Result<Value> {
    let ids: Vec<String> = match &sel {
        coagent::dos::Selection::Ids(ids) => ids.clone(),
        coagent::dos::Selection::Latest { .. } => Vec::new(),
    };
    let (planned, refusal) = match coagent::dos::plan(hub, &sel, false) {
        Ok(p) => (p, None),
        Err(e) => (Vec::new(), Some(Failure::from(e))),
    };
    let shown_ids: Vec<String> = if planned.is_empty() {
        ids
    } else {
        planned.iter().map(|p| p.r#do.id.clone()).collect()
    };
    let mut shown = Vec::new();
    for id in &shown_ids {
        let s = coagent::dos::show(hub, id)?;
        let undo = coagent::dos::undo_plan(hub, id).ok();
        let planned_sha = planned
            .iter()
            .find(|p| &p.r#do.id == id)
            .map(|p| p.current_sha256.clone());
        shown.push(json!({"show": s, "planned_sha256": planned_sha, "undo": undo}));
    }
    let consent = coagent::dos::needing_consent(&planned).len();
    let all = matches!(sel, coagent::dos::Selection::Latest { .. });
    let cli = if all {
        "coagent do run --all".to_string()
    } else {
        format!("coagent do run {}", shown_ids.join(" "))
    };
    Ok(json!({
        "shown": shown,
        "refusal": refusal,
        "runnable": !planned.is_empty(),
        "consent": consent,
        "all": all,
        "cli": cli,
    }))
}

pub async fn job_page(State(st): State<Arc<St>>, Path(id): Path<String>) -> Response {
    let Some(job) = st.jobs.get(&id) else {
        return not_found().await;
    };
    let outcome = job.outcome();
    let data = match outcome.clone() {
        Some(jobs::Outcome::Ended { report }) => {
            with_hub(&st, move |hub| job_data(hub, &report)).await
        }
        _ => Ok(json!({})),
    };
    let ctx = data.map(|mut d| {
        if let Some(o) = d.as_object_mut() {
            o.insert(
                "job".into(),
                json!({"id": job.id, "dos": job.dos, "output": job.output(), "outcome": outcome}),
            );
        }
        d
    });
    page(&st, "job.html", ctx, None)
}

/// A finished run as the page draws it: each DO's diff parsed into files and hunks, and
/// the result payload's parts to copy.
fn job_data(hub: &mut Hub, r: &coagent::dos::BatchReport) -> coagent::Result<Value> {
    let mut runs = Vec::new();
    for run in &r.runs {
        let mut diffs = Vec::new();
        for a in run.artifacts.iter().filter(|a| a.kind == "diff") {
            let art = coagent::artifact::get(hub, &a.id)?;
            let (bytes, whole) = coagent::artifact::read_head(hub, &art, 1 << 20)?;
            diffs.push(json!({"artifact": a.id, "cut": !whole, "files": diff::parse(&String::from_utf8_lossy(&bytes))}));
        }
        runs.push(json!({"run": run, "diffs": diffs}));
    }
    let mut parts = Vec::new();
    if let Some(sent) = &r.sent {
        for (k, p) in sent.paths.iter().enumerate() {
            let path = if p.is_absolute() {
                p.clone()
            } else {
                hub.dir.join(p)
            };
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            parts.push(json!({"k": k + 1, "text": text, "chars": text.chars().count()}));
        }
    }
    let ids: Vec<&str> = r.runs.iter().map(|x| x.id.as_str()).collect();
    Ok(
        json!({"report": r, "runs": runs, "parts": parts, "result_cli": format!("coagent do result {}", ids.join(" "))}),
    )
}
