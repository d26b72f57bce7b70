//! `coagent ui`: the address it prints, the page behind it, the watcher it runs alongside,
//! and the addresses it refuses. (The page itself: crates/coagent-ui's tests.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::Env;

fn get(port: u16, path: &str, cookie: Option<&str>) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{cookie}\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn ui_refuses_an_address_other_machines_can_reach() {
    let env = Env::new();
    env.init();
    let out = env.fails(&["ui", "--no-open", "--bind", "0.0.0.0"], 1);
    out.stderr_has("refusing to listen on 0.0.0.0")
        .stderr_has("--allow-remote-bind");
    assert!(!env.hub().join("temps/status/watch.lock").exists());
    // The flag alone, without an address, is not a way to open it up.
    env.fails(&["ui", "--no-open", "--allow-remote-bind"], 1)
        .stderr_has("--bind <ADDR>");
}

#[test]
fn ui_serves_the_page_and_watches_the_hub_until_stopped() {
    let env = Env::new();
    env.init();
    env.json(&["start", "--vendor", "claude"]);
    let mut cmd = env.cmd(&["--json", "ui", "--no-open"]).into_command();
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    let started: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert_eq!(started["event"], "ui.started");
    assert_eq!(started["opened"], false);
    let url = started["url"].as_str().unwrap();
    let port: u16 = url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let secret = url.split("k=").nth(1).unwrap();
    assert!(
        url.starts_with("http://127.0.0.1:") && secret.len() == 64,
        "{url}"
    );

    assert!(get(port, "/", None).starts_with("HTTP/1.1 401"));
    let auth = get(port, &format!("/auth?k={secret}"), None);
    assert!(auth.starts_with("HTTP/1.1 303"), "{auth}");
    let cookie = format!("coagent_ui_{port}={secret}");
    let page = get(port, "/", Some(&cookie));
    assert!(
        page.starts_with("HTTP/1.1 200") && page.contains("Paste a reply"),
        "{page}"
    );

    // What `coagent watch` does, it does too: a reply dropped into the inbox is ingested.
    assert!(env.hub().join("temps/status/watch.lock").exists());
    std::fs::write(
        env.hub().join("temps/inbox/reply.md"),
        "Policy v1.0 loaded.\n",
    )
    .unwrap();
    let t = Instant::now();
    while !get(port, "/", Some(&cookie)).contains("echo <span class=\"echo-verified\">verified") {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the inbox reply was not ingested"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let mut rest = String::new();
    lines.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "ui did not stop cleanly");
    assert!(
        rest.contains("\"inbox.ingested\"") && rest.contains("\"watch.stopped\""),
        "{rest}"
    );
    // The watch lock is free again, and nothing listens any more.
    env.ok(&["watch", "--once"]);
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server still listens"
    );
}
