//! Every address the page answers, behind the security layer.

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::{get, post};

use crate::state::State as St;
use crate::{actions, pages};

pub fn router(st: Arc<St>) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route("/static/app.css", get(pages::css))
        .route("/static/app.js", get(pages::js))
        .route("/favicon.ico", get(pages::icon))
        .route("/do/{id}", get(pages::do_page))
        .route("/plan", get(pages::plan_page))
        .route("/job/{id}", get(pages::job_page))
        .route("/job/{id}/events", get(actions::events))
        .route("/job/{id}/stop", post(actions::stop))
        .route("/changes", get(actions::changes))
        .route("/start", post(actions::start))
        .route("/ingest", post(actions::ingest))
        .route("/run", post(actions::run))
        .route("/do/{id}/undo", post(actions::undo))
        .route("/todo/add", post(actions::todo_add))
        .route("/todo/{id}/done", post(actions::todo_done))
        .route("/todo/{id}/reopen", post(actions::todo_reopen))
        .route("/todo/{id}/move", post(actions::todo_move))
        .route("/wrap", post(actions::wrap))
        .route("/wrap/{id}/verify", post(actions::wrap_verify))
        .route("/wrap/{id}/unwrap", post(actions::unwrap))
        .route("/session/{id}/end", post(actions::end_session))
        .fallback(pages::not_found)
        // A pasted reply may be as large as `ingest` takes (axum's default is 2 MB).
        .layer(axum::extract::DefaultBodyLimit::max(
            crate::security::MAX_BODY,
        ))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&st),
            crate::security::guard,
        ))
        .layer(middleware::from_fn(crate::security::harden))
        .with_state(st)
}
