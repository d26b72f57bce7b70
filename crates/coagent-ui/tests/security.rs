//! The page's defences, against the real server on a throwaway hub: without the secret,
//! with a foreign `Host`, a foreign `Origin` or `Sec-Fetch-Site`, without or with a wrong
//! CSRF token, every request is refused, nothing is recorded and nothing is run; with all
//! of them right, the same requests do what they say (so the refusals are not an accident).

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
#[cfg(unix)]
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
#[cfg(unix)]
use std::time::{Duration, Instant};

use coagent::clipboard::NoClipboard;
use coagent::hub::Hub;

struct Ui {
    /// The project; dropped (removed) with the server.
    #[cfg_attr(not(unix), allow(dead_code))]
    root: tempfile::TempDir,
    hub: PathBuf,
    port: u16,
    secret: String,
    stop: Arc<AtomicBool>,
    running: Option<coagent_ui::Running>,
}

impl Drop for Ui {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(r) = self.running.take() {
            r.wait();
        }
    }
}

struct Reply {
    status: u16,
    /// Lower-cased, for matching header names.
    head: String,
    /// The `Location` header's value, as sent.
    location: String,
    body: String,
}

impl Ui {
    fn new() -> Ui {
        let root = tempfile::tempdir().unwrap();
        let clock = coagent::clock::Clock::from_env().unwrap();
        let report = Hub::init(root.path(), false, clock).unwrap();
        let hub = report.hub;
        let stop = Arc::new(AtomicBool::new(false));
        let running = coagent_ui::start(
            coagent_ui::Options {
                hub: hub.clone(),
                port: 0,
                bind: None,
                allow_remote_bind: false,
            },
            Arc::clone(&stop),
        )
        .unwrap();
        let url = running.url();
        let secret = url.split("k=").nth(1).unwrap().to_string();
        Ui {
            root,
            hub,
            port: running.port(),
            secret,
            stop,
            running: Some(running),
        }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn cookie(&self) -> String {
        format!("Cookie: coagent_ui_{}={}\r\n", self.port, self.secret)
    }

    fn origin(&self) -> String {
        format!("Origin: http://{}\r\n", self.host())
    }

    /// One raw HTTP/1.1 request: `headers` are whole lines, each ending in CRLF.
    fn send(&self, method: &str, path: &str, host: &str, headers: &str, body: &str) -> Reply {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let mut req =
            format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n{headers}");
        if method == "POST" {
            req.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let text = String::from_utf8_lossy(&out).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let location = head
            .lines()
            .find_map(|l| l.strip_prefix("location: "))
            .unwrap_or_default()
            .to_string();
        Reply {
            status,
            location,
            head: head.to_ascii_lowercase(),
            body: body.to_string(),
        }
    }

    fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &self.host(), &self.cookie(), "")
    }

    /// The page an action's redirect opens, as the browser would follow it.
    fn follow(&self, r: Reply) -> String {
        assert_eq!(r.status, 303, "{}", r.body);
        self.get(&r.location).body
    }

    /// A POST as the page itself sends it: cookie, origin, and `body` (with the token).
    fn post(&self, path: &str, body: &str) -> Reply {
        let h = format!(
            "{}{}Sec-Fetch-Site: same-origin\r\n",
            self.cookie(),
            self.origin()
        );
        self.send("POST", path, &self.host(), &h, body)
    }

    fn csrf(&self) -> String {
        let page = self.get("/").body;
        let at = page.find("name=\"csrf\" content=\"").unwrap() + 21;
        page[at..at + 64].to_string()
    }

    fn open(&self) -> Hub {
        Hub::open(&self.hub).unwrap()
    }

    fn sessions(&self) -> i64 {
        coagent::session::count(&self.open()).unwrap()
    }

    #[cfg(unix)]
    fn runs(&self) -> i64 {
        self.open()
            .store
            .conn()
            .query_row("SELECT COUNT(*) FROM runs", [], |r| r.get(0))
            .unwrap()
    }

    #[cfg(unix)]
    fn project(&self) -> &Path {
        self.root.path()
    }

    /// A live session with one DO that writes `marker` in the project; its id and sha256.
    fn with_do(&self) -> (String, String) {
        self.propose("Leave a marker", "echo ran > marker")
    }

    /// A live session whose chat proposed one DO, `title` running `script`; its id and
    /// sha256.
    fn propose(&self, title: &str, script: &str) -> (String, String) {
        let mut hub = self.open();
        let s = coagent::session::start(
            &mut hub,
            coagent::session::StartOptions {
                vendor: "claude".into(),
                goal: "test the page".into(),
                redact: false,
                respawn: None,
            },
            &mut NoClipboard::default(),
        )
        .unwrap();
        let reply = format!(
            "Policy v1.0 loaded.\n\n```bash\n# DO: {title}\n{script}\n# END DO\n```\n\n[{} t1]\n",
            &s.session[..6]
        );
        let r = coagent::ingest::ingest(
            &mut hub,
            reply.as_bytes(),
            None,
            &mut NoClipboard::default(),
        )
        .unwrap();
        let d = &r.dos[0];
        (d.id.clone(), d.sha256.clone())
    }
}

#[test]
fn without_the_secret_nothing_is_served() {
    let ui = Ui::new();
    for path in ["/", "/static/app.js", "/plan", "/do/DO-X"] {
        let r = ui.send("GET", path, &ui.host(), "", "");
        assert_eq!(r.status, 401, "{path}: {}", r.body);
    }
    let wrong = ui.send(
        "GET",
        &format!("/auth?k={}", "0".repeat(64)),
        &ui.host(),
        "",
        "",
    );
    assert_eq!(wrong.status, 401);
    assert!(!wrong.head.contains("set-cookie"));
    let bad_cookie = format!("Cookie: coagent_ui_{}={}\r\n", ui.port, "0".repeat(64));
    assert_eq!(ui.send("GET", "/", &ui.host(), &bad_cookie, "").status, 401);
    // The right secret becomes a cookie the page's scripts cannot read, and the address
    // bar loses it.
    let ok = ui.send("GET", &format!("/auth?k={}", ui.secret), &ui.host(), "", "");
    assert_eq!(ok.status, 303);
    assert_eq!(ok.location, "/", "{}", ok.head);
    assert!(
        ok.head
            .contains(&format!("set-cookie: coagent_ui_{}=", ui.port))
    );
    assert!(
        ok.head.contains("httponly; samesite=strict; path=/"),
        "{}",
        ok.head
    );
    assert_eq!(ui.get("/").status, 200);
}

#[test]
fn a_foreign_host_is_refused_dns_rebinding() {
    let ui = Ui::new();
    let other = format!("127.0.0.1:{}", ui.port.wrapping_add(1).max(1));
    for host in [
        format!("evil.example:{}", ui.port),
        other,
        "localhost".into(),
        "127.0.0.1".into(),
    ] {
        let r = ui.send("GET", "/", &host, &ui.cookie(), "");
        assert_eq!(r.status, 421, "{host}");
        let r = ui.send("GET", &format!("/auth?k={}", ui.secret), &host, "", "");
        assert_eq!(r.status, 421, "{host}");
    }
    for host in [
        format!("localhost:{}", ui.port),
        format!("[::1]:{}", ui.port),
    ] {
        assert_eq!(
            ui.send("GET", "/", &host, &ui.cookie(), "").status,
            200,
            "{host}"
        );
    }
}

#[test]
fn posts_from_another_origin_or_without_the_token_record_nothing() {
    let ui = Ui::new();
    let csrf = ui.csrf();
    let body = format!("csrf={csrf}&vendor=claude&goal=hostile");
    let cookie = ui.cookie();
    let refused = [
        // Another local port: same site for cookies, another origin.
        format!("{cookie}Origin: http://localhost:8000\r\n"),
        format!(
            "{cookie}Origin: http://127.0.0.1:{}\r\n",
            ui.port.wrapping_add(1)
        ),
        format!("{cookie}Origin: null\r\n"),
        // No Origin at all.
        cookie.clone(),
        // The browser says another site sent it.
        format!("{cookie}{}Sec-Fetch-Site: same-site\r\n", ui.origin()),
        format!("{cookie}{}Sec-Fetch-Site: cross-site\r\n", ui.origin()),
        // No cookie.
        ui.origin(),
    ];
    for h in &refused {
        let r = ui.send("POST", "/start", &ui.host(), h, &body);
        assert!(
            matches!(r.status, 401 | 403),
            "{h:?}: {} {}",
            r.status,
            r.body
        );
        assert!(!r.head.contains("access-control-allow"), "{}", r.head);
    }
    for b in [
        "vendor=claude&goal=x".to_string(),
        format!("csrf={}&vendor=claude&goal=x", "0".repeat(64)),
        "csrf=&vendor=claude".into(),
    ] {
        let r = ui.post("/start", &b);
        assert_eq!(r.status, 403, "{b}: {}", r.body);
    }
    let wrong_header = format!(
        "{}{}X-CSRF-Token: {}\r\n",
        ui.cookie(),
        ui.origin(),
        "1".repeat(64)
    );
    assert_eq!(
        ui.send(
            "POST",
            "/start",
            &ui.host(),
            &wrong_header,
            "vendor=claude&goal=x"
        )
        .status,
        403
    );
    assert_eq!(ui.sessions(), 0, "a refused request recorded a session");
    // The page's own request, with everything right, does start one.
    let r = ui.post("/start", &body);
    assert_eq!(r.status, 303, "{}", r.body);
    assert_eq!(ui.sessions(), 1);
}

#[test]
fn no_cors_and_a_strict_policy_on_every_response() {
    let ui = Ui::new();
    let pre = ui.send(
        "OPTIONS",
        "/run",
        &ui.host(),
        "Origin: http://localhost:8000\r\nAccess-Control-Request-Method: POST\r\n",
        "",
    );
    assert_eq!(pre.status, 403);
    for r in [
        pre,
        ui.get("/"),
        ui.get("/static/app.js"),
        ui.send("GET", "/", &ui.host(), "", ""),
    ] {
        assert!(!r.head.contains("access-control-"), "{}", r.head);
        assert!(
            r.head
                .contains("content-security-policy: default-src 'none'; script-src 'self'"),
            "{}",
            r.head
        );
        assert!(r.head.contains("x-content-type-options: nosniff"));
        assert!(r.head.contains("referrer-policy: same-origin"));
        assert!(r.head.contains("cross-origin-resource-policy: same-origin"));
    }
    // A `<script src>` or `<img>` from another site gets nothing.
    let h = format!(
        "{}Sec-Fetch-Site: cross-site\r\nSec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: script\r\n",
        ui.cookie()
    );
    assert_eq!(ui.send("GET", "/", &ui.host(), &h, "").status, 403);
    // The page has no inline script or style for the policy to block.
    let page = ui.get("/").body;
    assert!(
        !page.contains("<script>") && !page.contains(" style=") && !page.contains("<style"),
        "inline script or style in the page"
    );
}

/// Whether `done` comes true within `secs` seconds, asked every 50 ms.
#[cfg(unix)]
fn within(secs: u64, mut done: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(secs) {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[cfg(unix)]
fn wait_for(p: &Path) -> bool {
    within(20, || p.exists())
}

// The DO is an sh script: Windows (wine in CI) has no sh to run it.
#[cfg(unix)]
#[test]
fn a_do_runs_only_from_the_page_with_its_shown_sha256() {
    let ui = Ui::new();
    let (id, sha) = ui.with_do();
    let csrf = ui.csrf();
    let marker = ui.project().join("marker");
    let body = format!("csrf={csrf}&id={id}&sha256={sha}");
    let other_port = format!("{}Origin: http://localhost:8000\r\n", ui.cookie());
    let no_token = format!("id={id}&sha256={sha}");
    assert_eq!(
        ui.send("POST", "/run", &ui.host(), &other_port, &body)
            .status,
        403
    );
    assert_eq!(
        ui.send("POST", "/run", &ui.host(), &ui.origin(), &body)
            .status,
        401
    );
    assert_eq!(
        ui.send(
            "POST",
            "/run",
            &format!("evil.example:{}", ui.port),
            &ui.cookie(),
            &body
        )
        .status,
        421
    );
    assert_eq!(ui.post("/run", &no_token).status, 403);
    // A sha256 other than the one shown: the page is told, nothing runs.
    let r = ui.post(
        "/run",
        &format!("csrf={csrf}&id={id}&sha256={}", "a".repeat(64)),
    );
    assert!(
        ui.follow(r)
            .contains("a script changed since the page showed it")
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(!marker.exists(), "a refused run ran");
    assert_eq!(ui.runs(), 0);
    // Everything right: it runs, and the page follows it.
    let r = ui.post("/run", &body);
    assert_eq!(r.status, 303, "{}", r.body);
    assert!(r.head.contains("location: /job/r"), "{}", r.head);
    assert!(wait_for(&marker), "the consented run did not run");
    assert_eq!(ui.runs(), 1);
}

// Planned only where sh runs it (on Windows without one, the page says it cannot run).
#[cfg(unix)]
#[test]
fn a_risky_do_needs_the_explicit_yes() {
    let ui = Ui::new();
    let (id, sha) = ui.propose("Tidy up", "sudo true; echo ran > risky");
    let page = ui.get(&format!("/do/{id}")).body;
    assert!(
        page.contains("risk: line 2: runs a command as root"),
        "{page}"
    );
    assert!(page.contains("name=\"confirm\""));
    let csrf = ui.csrf();
    let r = ui.post("/run", &format!("csrf={csrf}&id={id}&sha256={sha}"));
    assert!(ui.follow(r).contains("needs your explicit yes"));
    assert_eq!(ui.runs(), 0);
}

#[test]
fn another_machine_s_address_is_refused_without_the_flag() {
    let opts = coagent_ui::Options {
        hub: PathBuf::from("/nonexistent"),
        port: 0,
        bind: Some("0.0.0.0".parse().unwrap()),
        allow_remote_bind: false,
    };
    let e = coagent_ui::start(opts, Arc::new(AtomicBool::new(true)))
        .err()
        .unwrap();
    assert!(
        e.to_string().contains("refusing to listen on 0.0.0.0"),
        "{e}"
    );
    assert!(e.hint().unwrap().contains("--allow-remote-bind"));
}

#[test]
fn a_reply_larger_than_two_megabytes_is_ingested() {
    let ui = Ui::new();
    let (_, _) = ui.with_do();
    let csrf = ui.csrf();
    let filler =
        "The parser reads one line at a time and keeps no state between lines. ".repeat(40_000);
    let reply = format!("Policy v1.0 loaded.\n\n{filler}\n\nACK DO-NOSUCH0000\n");
    assert!(reply.len() > 2 << 20);
    let body = format!("csrf={csrf}&reply={}", reply.replace(' ', "+"));
    let page = ui.follow(ui.post("/ingest", &body));
    assert!(
        page.contains("Reply ingested"),
        "the large reply was not ingested"
    );
}

#[test]
fn each_tab_shows_the_report_of_its_own_action_never_another_tab_s() {
    let ui = Ui::new();
    ui.with_do();
    let csrf = ui.csrf();
    // Tab A ingests a reply; tab B, at the same time, adds a TODO.
    let a = ui.post(
        "/ingest",
        &format!("csrf={csrf}&reply=Policy+v1.0+loaded.+No+DOs+this+turn."),
    );
    let b = ui.post(
        "/todo/add",
        &format!("csrf={csrf}&title=Write+the+changelog"),
    );
    assert_ne!(a.location, b.location);
    let (a, b) = (ui.follow(a), ui.follow(b));
    assert!(
        a.contains("Reply ingested") && !a.contains("TODO added"),
        "{a}"
    );
    assert!(
        b.contains("TODO added") && !b.contains("Reply ingested"),
        "{b}"
    );
    // A tab opened (or reloaded) on the bare page shows no one's report, and an edited
    // number shows the page without one.
    for bare in ["/", "/?report=999999", "/?report=junk"] {
        let page = ui.get(bare);
        assert_eq!(page.status, 200, "{bare}");
        assert!(!page.body.contains("id=\"flash\""), "{bare}: {}", page.body);
    }
}

#[test]
fn a_session_is_closed_or_abandoned_from_the_page_and_a_wrap_boots_another_chat() {
    let ui = Ui::new();
    ui.with_do();
    let first = coagent::session::latest(&ui.open()).unwrap().unwrap().id;
    let csrf = ui.csrf();
    // Wrap it; its respawn is one successor; the wrap boots a second chat on demand.
    let page = ui.follow(ui.post("/wrap", &format!("csrf={csrf}&session={first}")));
    assert!(page.contains("Respawn session"), "{page}");
    let wrap = coagent::wrap::list(&ui.open()).unwrap().remove(0);
    let page = ui.follow(ui.post(
        &format!("/wrap/{}/unwrap", wrap.id),
        &format!("csrf={csrf}"),
    ));
    assert!(
        page.contains(&format!("coagent unwrap {}", wrap.id)),
        "{page}"
    );
    assert!(
        page.contains(&format!("continuing from wrap {}", wrap.id)),
        "{page}"
    );
    let from: Vec<String> = coagent::session::from_wrap(&ui.open(), &wrap.id)
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    assert_eq!(from.len(), 2, "the respawn and the second chat: {from:?}");
    let state = |id: &str| coagent::session::get(&ui.open(), id).unwrap().state;
    let end = |id: &str, body: &str| ui.post(&format!("/session/{id}/end"), body);
    // Without the token, without the yes, or with no known way to end it: it stays open.
    assert_eq!(end(&from[0], "how=close&confirm=yes").status, 403);
    let page = ui.follow(end(&from[0], &format!("csrf={csrf}&how=close")));
    assert!(page.contains("needs your explicit yes"), "{page}");
    let page = ui.follow(end(
        &from[0],
        &format!("csrf={csrf}&how=delete&confirm=yes"),
    ));
    assert!(page.contains("no way to end a session called"), "{page}");
    assert_eq!(state(&from[0]), "booting");
    // Close one, abandon the other; ending one again is refused with the reason.
    let page = ui.follow(end(&from[0], &format!("csrf={csrf}&how=close&confirm=yes")));
    assert!(
        page.contains(&format!("coagent session close {}", from[0])),
        "{page}"
    );
    let page = ui.follow(end(
        &from[1],
        &format!("csrf={csrf}&how=abandon&confirm=yes"),
    ));
    assert!(page.contains("is abandoned"), "{page}");
    assert_eq!([state(&from[0]), state(&from[1])], ["closed", "abandoned"]);
    let page = ui.follow(end(
        &from[0],
        &format!("csrf={csrf}&how=abandon&confirm=yes"),
    ));
    assert!(page.contains("is already closed"), "{page}");
}

#[test]
fn another_machines_chat_is_shown_but_not_wrapped_or_ended_from_the_page() {
    let ui = Ui::new();
    ui.with_do();
    let id = coagent::session::latest(&ui.open()).unwrap().unwrap().id;
    let mine = ui.get("/").body;
    assert!(
        mine.contains(&format!("action=\"/session/{id}/end\"")),
        "{mine}"
    );
    // As `coagent sync` files a session another hub opened.
    ui.open()
        .store
        .conn()
        .execute("UPDATE sessions SET node = 'n-laptop' WHERE id = ?1", [&id])
        .unwrap();
    let page = ui.get("/").body;
    assert!(page.contains("Opened on another machine"), "{page}");
    assert!(
        !page.contains(&format!("action=\"/session/{id}/end\"")),
        "{page}"
    );
    assert!(
        !page.contains(&format!("coagent wrap --session {id}")),
        "{page}"
    );
}

#[test]
fn todos_move_up_and_down_in_the_handoff() {
    let ui = Ui::new();
    let mut hub = ui.open();
    let a = coagent::todo::add(&mut hub, "first", "", false).unwrap();
    let b = coagent::todo::add(&mut hub, "second", "", false).unwrap();
    drop(hub);
    let csrf = ui.csrf();
    assert_eq!(
        ui.post(
            &format!("/todo/{}/move", b.id),
            &format!("csrf={csrf}&to=up")
        )
        .status,
        303
    );
    let order: Vec<String> = coagent::todo::list(&ui.open(), false)
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(order, vec![b.id.clone(), a.id.clone()]);
    assert!(
        ui.get("/")
            .body
            .contains(&format!("coagent todo move {} --up", b.id))
    );
}

/// Waits until `/job/…` shows the run's result (the page says how it ended).
#[cfg(unix)]
fn wait_for_result(ui: &Ui, job: &str) -> String {
    let mut page = String::new();
    let ended = within(30, || {
        page = ui.get(job).body;
        page.contains("id=\"result\"")
    });
    assert!(ended, "the run did not end: {page}");
    page
}

#[cfg(unix)]
#[test]
fn undo_reverses_a_run_only_after_the_explicit_yes() {
    let ui = Ui::new();
    let (id, sha) = ui.with_do();
    let csrf = ui.csrf();
    let r = ui.post("/run", &format!("csrf={csrf}&id={id}&sha256={sha}"));
    let job = r.location;
    let page = wait_for_result(&ui, &job);
    assert!(
        page.contains("succeeded") && page.contains("marker"),
        "{page}"
    );
    let marker = ui.project().join("marker");
    assert!(marker.exists());
    let shown = ui.get(&format!("/do/{id}")).body;
    assert!(shown.contains("Undo reverses 1 file(s): marker"), "{shown}");
    let r = ui.post(&format!("/do/{id}/undo"), &format!("csrf={csrf}"));
    assert!(ui.follow(r).contains("undo needs your explicit yes"));
    assert!(marker.exists(), "undone without the yes");
    let r = ui.post(
        &format!("/do/{id}/undo"),
        &format!("csrf={csrf}&confirm=yes"),
    );
    assert!(ui.follow(r).contains("file(s) restored: marker"));
    assert!(!marker.exists(), "not undone");
}

/// Runs a DO that writes a line, then sleeps a minute; returns the run's page once the
/// line is on it.
#[cfg(unix)]
fn start_long_run(ui: &Ui) -> String {
    let (id, sha) = ui.propose("Wait a long time", "echo waiting\nsleep 60");
    let csrf = ui.csrf();
    let job = ui
        .post("/run", &format!("csrf={csrf}&id={id}&sha256={sha}"))
        .location;
    assert!(
        within(20, || ui.get(&job).body.contains("waiting")),
        "no live output"
    );
    job
}

#[cfg(unix)]
#[test]
fn stop_kills_a_running_do() {
    let ui = Ui::new();
    let t = Instant::now();
    let job = start_long_run(&ui);
    let csrf = ui.csrf();
    assert_eq!(
        ui.post(&format!("{job}/stop"), &format!("csrf={csrf}"))
            .status,
        303
    );
    let page = wait_for_result(&ui, &job);
    assert!(page.contains("state-killed"), "{page}");
    assert!(t.elapsed() < Duration::from_secs(30));
}

#[cfg(unix)]
#[test]
fn stopping_the_page_kills_a_running_do_and_records_it() {
    let mut ui = Ui::new();
    start_long_run(&ui);
    let t = Instant::now();
    ui.stop.store(true, Ordering::SeqCst);
    ui.running.take().unwrap().wait();
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "the server waited for the script"
    );
    let status: String = ui
        .open()
        .store
        .conn()
        .query_row("SELECT status FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(status, "killed");
}

#[test]
fn a_split_payload_is_shown_part_by_part_in_order_each_with_its_copy_button() {
    let ui = Ui::new();
    std::fs::write(
        ui.hub.join("config.toml"),
        "[vendors.tiny]\npaste_chars = 1500\ncontext_tokens = 8000\n",
    )
    .unwrap();
    let csrf = ui.csrf();
    for i in 0..6 {
        let title = format!("Item+{i}:+{}", "detail+".repeat(20));
        assert_eq!(
            ui.post("/todo/add", &format!("csrf={csrf}&title={title}"))
                .status,
            303
        );
    }
    assert_eq!(
        ui.post("/start", &format!("csrf={csrf}&vendor=tiny&goal=split"))
            .status,
        303
    );
    let page = ui.get("/").body;
    let n = page.matches("class=\"copy\" data-copy=\"pl-").count();
    assert!(n >= 3, "expected one Copy button per part, got {n}");
    let mut at = 0;
    for k in 1..=n {
        let button = format!("Copy part {k}/{n}");
        let found = page[at..]
            .find(&button)
            .unwrap_or_else(|| panic!("{button} missing or out of order"));
        at += found;
    }
    // Each part's text is on the page as the outbox holds it, escaped.
    let outbox = ui.hub.join("temps/outbox");
    let mut files: Vec<_> = std::fs::read_dir(&outbox)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let first = std::fs::read_to_string(
        files
            .iter()
            .find(|p| p.to_string_lossy().contains(&format!("-1-of-{n}")))
            .unwrap(),
    )
    .unwrap();
    let line = first
        .lines()
        .find(|l| l.starts_with("## Policy Capsule"))
        .unwrap();
    assert!(
        page.contains(line),
        "part 1's text is not on the page: {line}"
    );
}

#[test]
fn the_page_hears_of_changes_made_elsewhere_and_its_streams_end_with_the_server() {
    let mut ui = Ui::new();
    let mut s = TcpStream::connect(("127.0.0.1", ui.port)).unwrap();
    write!(
        s,
        "GET /changes HTTP/1.1\r\nHost: {}\r\n{}\r\n",
        ui.host(),
        ui.cookie()
    )
    .unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // Other tests' runs send signals to this process: a read may be interrupted.
    let read = |s: &mut TcpStream, buf: &mut [u8]| loop {
        match s.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            r => return r,
        }
    };
    let n = read(&mut s, &mut buf).unwrap();
    seen.extend_from_slice(&buf[..n]);
    assert!(String::from_utf8_lossy(&seen).contains("text/event-stream"));
    // A command in a terminal adds a TODO.
    coagent::todo::add(&mut ui.open(), "from a terminal", "", false).unwrap();
    while !String::from_utf8_lossy(&seen).contains("event: changed") {
        let n = read(&mut s, &mut buf).expect("no `changed` event within 10 s");
        assert!(n > 0, "the stream ended");
        seen.extend_from_slice(&buf[..n]);
    }
    // With the stream still open, the server stops promptly.
    let t = std::time::Instant::now();
    ui.stop.store(true, Ordering::SeqCst);
    ui.running.take().unwrap().wait();
    assert!(
        t.elapsed() < std::time::Duration::from_secs(5),
        "the server waited on an open stream"
    );
}
