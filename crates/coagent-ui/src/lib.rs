//! `coagent ui`: the paste gate as a local page beside the chat tab.
//!
//! A web server on the loopback interface serving one page: the sessions and their bloat
//! gauges, the outbox with Copy buttons, a box to paste a reply into, the DOs with their
//! consent and their live output, TODOs, wraps and stats. Every action calls the same
//! library function as the CLI command it equals, and shows that command.
//!
//! The page can run scripts on the user's machine, so everything a request does passes
//! [`security`] first: loopback only, a per-run secret exchanged for a cookie, the `Host`
//! checked against DNS rebinding, `Origin`, `Sec-Fetch-Site` and a CSRF token on every
//! request that changes anything, and a strict Content-Security-Policy.
//!
//! The core library is synchronous: each request opens the hub inside
//! `spawn_blocking`, as a CLI command would, and never holds it across an await.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod actions;
mod browser;
mod call;
mod diff;
mod gauge;
mod highlight;
mod jobs;
mod pages;
mod routes;
mod security;
mod state;
mod view;

pub use browser::open as open_browser;

/// What `coagent ui` was asked for.
#[derive(Debug, Clone)]
pub struct Options {
    /// The hub's folder (`.coagent`).
    pub hub: PathBuf,
    /// 0: a free port.
    pub port: u16,
    /// Listen on this address instead of the loopback ones.
    pub bind: Option<IpAddr>,
    /// The user's explicit permission to listen on an address other machines can reach.
    pub allow_remote_bind: bool,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(
        "refusing to listen on {addr}: other machines can reach it, and the page runs scripts on this one"
    )]
    RemoteBind { addr: IpAddr },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the web server: {0}")]
    Runtime(std::io::Error),
    #[error("cannot draw random bytes for the page's secret: {0}")]
    Random(String),
}

impl Error {
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::RemoteBind { .. } => Some(
                "leave out --bind to listen on 127.0.0.1 and ::1 only; pass --allow-remote-bind only on a network you trust entirely".to_string(),
            ),
            Error::Bind { .. } => Some("pick another port with --port, or 0 for a free one".to_string()),
            _ => None,
        }
    }
}

/// The server, running on its own thread until `stop` is set.
pub struct Running {
    /// Where it listens (the first is the one in [`Running::url`]).
    pub addrs: Vec<SocketAddr>,
    secret: String,
    thread: std::thread::JoinHandle<()>,
}

impl Running {
    pub fn port(&self) -> u16 {
        self.addrs[0].port()
    }

    /// The address to open: it carries the run's secret, which the page exchanges for a
    /// cookie at once.
    pub fn url(&self) -> String {
        format!("{}/auth?k={}", self.origin(), self.secret)
    }

    /// `http://127.0.0.1:PORT` (or the address listened on).
    pub fn origin(&self) -> String {
        format!("http://{}", host_of(self.addrs[0]))
    }

    /// Waits until the server has stopped (after `stop` was set).
    pub fn wait(self) {
        let _ = self.thread.join();
    }
}

fn host_of(a: SocketAddr) -> String {
    match a.ip() {
        IpAddr::V6(ip) => format!("[{ip}]:{}", a.port()),
        IpAddr::V4(ip) => format!("{ip}:{}", a.port()),
    }
}

/// Binds, then serves on a thread of its own until `stop` is set. Binding happens before
/// this returns, so a port in use is an error here, not later.
pub fn start(opts: Options, stop: Arc<AtomicBool>) -> Result<Running, Error> {
    let listeners = bind(&opts)?;
    let addrs: Vec<SocketAddr> = listeners
        .iter()
        .filter_map(|l| l.local_addr().ok())
        .collect();
    let secret = security::random_hex()?;
    let state = state::State::new(
        &opts,
        &addrs,
        secret.clone(),
        security::random_hex()?,
        Arc::clone(&stop),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let thread = std::thread::Builder::new()
        .name("coagent-ui".into())
        .spawn(move || runtime.block_on(serve(listeners, state)))
        .map_err(Error::Runtime)?;
    Ok(Running {
        addrs,
        secret,
        thread,
    })
}

/// 127.0.0.1 and, where the machine has it, ::1 on the same port; or the one address the
/// user named (refused when other machines can reach it, unless they said so).
fn bind(opts: &Options) -> Result<Vec<std::net::TcpListener>, Error> {
    let first = match opts.bind {
        Some(ip) if !ip.is_loopback() && !opts.allow_remote_bind => {
            return Err(Error::RemoteBind { addr: ip });
        }
        Some(ip) => ip,
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
    };
    let listen = |addr: SocketAddr| {
        let l = std::net::TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
        l.set_nonblocking(true)
            .map_err(|source| Error::Bind { addr, source })?;
        Ok::<_, Error>(l)
    };
    let l = listen(SocketAddr::new(first, opts.port))?;
    let port = l
        .local_addr()
        .map_err(|source| Error::Bind {
            addr: SocketAddr::new(first, opts.port),
            source,
        })?
        .port();
    let mut all = vec![l];
    if opts.bind.is_none() {
        // A machine without IPv6 (or with ::1's port taken) is served on 127.0.0.1 alone.
        if let Ok(l6) = listen(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port)) {
            all.push(l6);
        }
    }
    Ok(all)
}

async fn serve(listeners: Vec<std::net::TcpListener>, state: Arc<state::State>) {
    let app = routes::router(Arc::clone(&state));
    let mut tasks = Vec::new();
    for l in listeners {
        let Ok(l) = tokio::net::TcpListener::from_std(l) else {
            continue;
        };
        let app = app.clone();
        let state = Arc::clone(&state);
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(l, app)
                .with_graceful_shutdown(stopped(state))
                .await;
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Resolves once `stop` is set (Ctrl-C, or the caller), after stopping every run under way:
/// a page following a run holds its connection until the run ends, and the server waits
/// for open connections.
async fn stopped(state: Arc<state::State>) {
    while !state.stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    state.jobs.cancel_all();
}
