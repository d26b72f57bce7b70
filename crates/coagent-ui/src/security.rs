//! Every request passes [`guard`] before any handler sees it, and every response leaves
//! with [`harden`]'s headers. What it defends against, in order:
//!
//! - **DNS rebinding**: a hostile name resolving to 127.0.0.1 sends its own `Host`; only
//!   `localhost`, `127.0.0.1` and `[::1]` with this port are answered (421).
//! - **Other sites and other local ports**: cookies ignore ports, so a page on
//!   `localhost:8000` sends our cookie too. Requests that change anything must come from
//!   this origin (`Origin`, and `Sec-Fetch-Site` where the browser sends it) and carry the
//!   run's CSRF token, which no other origin can read (403). No CORS header is ever sent,
//!   and `Cross-Origin-Resource-Policy: same-origin` keeps `<script src>`/`<img>` loads
//!   from elsewhere from getting a byte.
//! - **Anyone without the secret**: the URL `coagent ui` opens carries a per-run secret,
//!   exchanged at `/auth` for an `HttpOnly; SameSite=Strict` cookie; any request without
//!   it is refused (401).
//!
//! Secrets and tokens are compared in constant time.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use crate::state;

/// The largest request body: a pasted reply may be as large as `ingest` accepts.
pub const MAX_BODY: usize = coagent::ingest::MAX_REPLY_BYTES + 64 * 1024;

pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// 32 random bytes, hex.
pub fn random_hex() -> Result<String, crate::Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| crate::Error::Random(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

fn refuse(code: StatusCode, why: &str) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{why}\n"),
    )
        .into_response()
}

fn text<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

/// The checks, in the order a request meets them; then the handler.
pub async fn guard(State(st): State<Arc<state::State>>, req: Request, next: Next) -> Response {
    let h = req.headers();
    let Some(host) = text(h, "host").filter(|host| st.hosts.iter().any(|a| a == host)) else {
        return refuse(
            StatusCode::MISDIRECTED_REQUEST,
            "refused: this page answers only to localhost, 127.0.0.1 and [::1] on its own port",
        );
    };
    let origin = format!("http://{host}");
    let changes = !matches!(*req.method(), Method::GET | Method::HEAD);
    if let Some(site) = text(h, "sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        // A link from another page may open the page (it reads nothing of it); nothing
        // else from another site or port is answered.
        let navigates = text(h, "sec-fetch-mode") == Some("navigate")
            && text(h, "sec-fetch-dest") == Some("document");
        if changes || !navigates {
            return refuse(
                StatusCode::FORBIDDEN,
                "refused: a request from another site",
            );
        }
    }
    if changes && text(h, "origin") != Some(origin.as_str()) {
        return refuse(
            StatusCode::FORBIDDEN,
            "refused: a request that changes something must come from this page",
        );
    }
    if req.uri().path() == "/auth" {
        return auth(&st, req).await;
    }
    if !has_cookie(&st, h) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "refused: open the address `coagent ui` printed (it carries this run's secret)",
        );
    }
    if changes {
        return match with_csrf(&st, req).await {
            Ok(req) => next.run(req).await,
            Err(r) => r,
        };
    }
    next.run(req).await
}

fn has_cookie(st: &state::State, h: &HeaderMap) -> bool {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .any(|(k, v)| k == st.cookie && same(v, &st.secret))
}

#[derive(Deserialize)]
struct Key {
    k: Option<String>,
}

/// `/auth?k=SECRET`: the secret becomes a cookie, and the address bar loses it.
async fn auth(st: &state::State, req: Request) -> Response {
    let given = Query::<Key>::try_from_uri(req.uri())
        .ok()
        .and_then(|q| q.0.k)
        .unwrap_or_default();
    if req.method() != Method::GET || !same(&given, &st.secret) {
        return refuse(
            StatusCode::UNAUTHORIZED,
            "refused: this address does not carry this run's secret (each run of `coagent ui` prints a new one)",
        );
    }
    let cookie = format!(
        "{}={}; HttpOnly; SameSite=Strict; Path=/",
        st.cookie, st.secret
    );
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

/// The CSRF token, from the `x-csrf-token` header (the page's scripts) or the form's
/// `csrf` field; the body is read (bounded) and handed on as it was.
async fn with_csrf(st: &state::State, req: Request) -> Result<Request, Response> {
    let bad = || {
        refuse(
            StatusCode::FORBIDDEN,
            "refused: the form's CSRF token is missing or wrong (reload the page)",
        )
    };
    if let Some(t) = text(req.headers(), "x-csrf-token") {
        return if same(t, &st.csrf) {
            Ok(req)
        } else {
            Err(bad())
        };
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_BODY).await.map_err(|_| {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            "refused: the request is too large",
        )
    })?;
    let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&bytes).unwrap_or_default();
    let ok = fields.iter().any(|(k, v)| k == "csrf" && same(v, &st.csrf));
    if !ok {
        return Err(bad());
    }
    Ok(Request::from_parts(parts, Body::from(bytes)))
}

/// The headers every response carries. The referrer policy is `same-origin`, not
/// `no-referrer`: under `no-referrer` Chromium sends `Origin: null` with the page's own
/// form posts, which the Origin check would refuse; `same-origin` still tells other sites
/// nothing.
pub async fn harden(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    for (k, v) in [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("x-frame-options", "DENY"),
        ("cross-origin-resource-policy", "same-origin"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    r
}
