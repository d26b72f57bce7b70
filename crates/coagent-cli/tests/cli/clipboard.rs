//! The system clipboard on an X server (Xvfb): a copy outlives the command that made it,
//! reads back exactly as pasted, and gives way when another program copies.
//!
//! These tests start their own Xvfb on a free display. Without Xvfb they are skipped
//! with a loud message, except in CI (`CI` set), where they must run: `.ci/run` installs
//! Debian's `xvfb` and `xclip`.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::Env;

/// An X server of the test's own; dropping it stops it and any clipboard helper serving it.
struct Xvfb {
    server: Child,
    display: String,
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

impl Xvfb {
    /// `None` (after a loud message) when Xvfb or xclip is missing outside CI.
    fn start() -> Option<Xvfb> {
        let missing: Vec<&str> = ["Xvfb", "xclip"]
            .into_iter()
            .filter(|p| !on_path(p))
            .collect();
        if !missing.is_empty() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{missing:?} not found: .ci/run installs xvfb and xclip, and in CI this test must run"
            );
            eprintln!(
                "\n\n!!!!!! SKIPPED: the X11 clipboard test needs {missing:?} (apt-get install xvfb xclip) !!!!!!\n\n"
            );
            return None;
        }
        // `-displayfd 1`: Xvfb picks a free display itself and says which on stdout.
        let mut server = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-nolisten",
                "tcp",
                "-screen",
                "0",
                "320x240x24",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb");
        let mut line = String::new();
        BufReader::new(server.stdout.take().unwrap())
            .read_line(&mut line)
            .expect("Xvfb's display number");
        let n = line.trim();
        assert!(!n.is_empty(), "Xvfb said no display number");
        Some(Xvfb {
            server,
            display: format!(":{n}"),
        })
    }

    fn xclip_out(&self) -> String {
        let out = Command::new("xclip")
            .args(["-o", "-selection", "clipboard"])
            .env("DISPLAY", &self.display)
            .stdin(Stdio::null())
            .output()
            .expect("xclip -o");
        assert!(
            out.status.success(),
            "xclip -o: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Another program copies: `xclip -i` forks a server of its own and returns.
    fn xclip_in(&self, text: &str) {
        let mut c = Command::new("xclip")
            .args(["-i", "-selection", "clipboard"])
            .env("DISPLAY", &self.display)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xclip -i");
        c.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        assert!(c.wait().unwrap().success());
    }

    /// The pids of CoAgent's clipboard helpers serving this display.
    fn helpers(&self) -> Vec<u32> {
        let want = format!("DISPLAY={}", self.display);
        let mut pids = Vec::new();
        for e in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            let is_helper = cmdline.split(|b| *b == 0).any(|a| a == b"__clipboard-hold");
            let environ = std::fs::read(e.path().join("environ")).unwrap_or_default();
            let here = environ.split(|b| *b == 0).any(|v| v == want.as_bytes());
            let zombie = std::fs::read_to_string(e.path().join("stat")).is_ok_and(|s| {
                s.rsplit(')')
                    .next()
                    .is_some_and(|r| r.trim_start().starts_with('Z'))
            });
            if is_helper && here && !zombie {
                pids.push(pid);
            }
        }
        pids
    }

    fn wait_for_helpers(&self, n: usize) -> Vec<u32> {
        let until = Instant::now() + Duration::from_secs(5);
        loop {
            let h = self.helpers();
            if h.len() == n || Instant::now() > until {
                return h;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        for pid in self.helpers() {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn system(env: &Env, x: &Xvfb, args: &[&str]) -> crate::harness::Cmd {
    env.cmd(args)
        .env("DISPLAY", &x.display)
        .env("COAGENT_CLIPBOARD", "system")
        .env("COAGENT_CLIPBOARD_HOLD", "2m")
}

fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p).unwrap()
}

const REPLY: &str = "Policy v1.0 loaded.\n\n```bash\n# DO: Say hello\necho hello\n# END DO\n```\n";

#[test]
fn clipboard_holds_the_payload_after_the_command_exits() {
    let Some(x) = Xvfb::start() else { return };
    let env = Env::new();
    env.init();

    // `start`: the boot payload is on the clipboard once the command has exited.
    let started = system(&env, &x, &["--json", "start", "--vendor", "claude"])
        .ok()
        .json();
    assert_eq!(started["clipboard"]["status"], "copied", "{started}");
    let boot = read(started["paths"][0].as_str().unwrap());
    assert_eq!(x.xclip_out(), boot, "the boot payload outlived `start`");

    // `do run` and `do result`: the result payload, each time.
    env.cmd(&["ingest", "-"]).stdin(REPLY).ok();
    let ran = system(&env, &x, &["--json", "do", "run", "--all"])
        .ok()
        .json();
    let result = read(ran["payload"].as_str().unwrap());
    assert_eq!(
        x.xclip_out(),
        result,
        "the result payload outlived `do run`"
    );
    x.xclip_in("something else");
    assert_eq!(x.xclip_out(), "something else");
    let id = ran["id"].as_str().unwrap();
    let again = system(&env, &x, &["--json", "do", "result", id])
        .ok()
        .json();
    let result = read(again["paths"][0].as_str().unwrap());
    assert_eq!(
        x.xclip_out(),
        result,
        "the result payload outlived `do result`"
    );

    // `outbox copy`, as a person reads it: "on the clipboard" only because it is.
    let out = system(&env, &x, &["outbox", "copy"]).ok();
    out.stdout_has("on the clipboard (system, held for 2 min or until something else is copied)");
    let copied = system(&env, &x, &["--json", "outbox", "copy"]).ok().json();
    let part = read(env.hub().join(copied["path"].as_str().unwrap()));
    assert_eq!(x.xclip_out(), part, "the payload outlived `outbox copy`");

    // Each copy took over from the one before: one helper is left, and another
    // program's copy ends it.
    let helpers = x.wait_for_helpers(1);
    assert_eq!(
        helpers.len(),
        1,
        "one helper serves the clipboard: {helpers:?}"
    );
    x.xclip_in("copied by someone else");
    assert_eq!(
        x.wait_for_helpers(0),
        Vec::<u32>::new(),
        "the helper gave way to another program's copy"
    );
    assert_eq!(x.xclip_out(), "copied by someone else");
}

#[test]
fn clipboard_helper_stops_when_the_hold_time_passes() {
    let Some(x) = Xvfb::start() else { return };
    let env = Env::new();
    env.init();
    system(&env, &x, &["start", "--vendor", "claude"])
        .env("COAGENT_CLIPBOARD_HOLD", "2s")
        .ok()
        .stdout_has("held for 2 s");
    let until = Instant::now() + Duration::from_secs(10);
    while !x.helpers().is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(x.helpers().is_empty(), "the helper outlived its hold time");
}

#[test]
fn clipboard_helper_ends_with_its_display() {
    let Some(mut x) = Xvfb::start() else { return };
    let env = Env::new();
    env.init();
    system(&env, &x, &["start", "--vendor", "claude"]).ok();
    assert_eq!(x.wait_for_helpers(1).len(), 1);
    // The X server goes away (the user logs out): nothing is left to serve.
    let _ = x.server.kill();
    let _ = x.server.wait();
    let until = Instant::now() + Duration::from_secs(15);
    while !x.helpers().is_empty() && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(x.helpers().is_empty(), "the helper outlived its X server");
}

#[test]
fn clipboard_without_a_reachable_display_points_at_the_file() {
    let env = Env::new();
    env.init();
    // A display number no X server answers: the copy cannot be verified, so it is not claimed.
    let out = env
        .cmd(&["start", "--vendor", "claude"])
        .env("DISPLAY", ":4242")
        .env("COAGENT_CLIPBOARD", "system")
        .ok();
    assert!(
        !out.stdout.contains("on the clipboard"),
        "claimed a copy that no clipboard holds:\n{}",
        out.stdout
    );
    out.stdout_has("Not copied (");
    out.stdout_has(".paste.md");
}

#[test]
fn clipboard_hold_time_that_is_not_one_says_so() {
    let env = Env::new();
    env.init();
    env.cmd(&["start", "--vendor", "claude"])
        .env("DISPLAY", ":4242")
        .env("COAGENT_CLIPBOARD", "system")
        .env("COAGENT_CLIPBOARD_HOLD", "forever")
        .ok()
        .stdout_has("COAGENT_CLIPBOARD_HOLD=\"forever\" is not a hold time");
}

#[cfg(unix)]
/// Stand-ins for wl-clipboard's `wl-copy` and `wl-paste` (no Wayland compositor runs
/// here): `wl-copy` keeps its stdin as the clipboard and stays, as `--foreground` does,
/// until stopped; `wl-paste` prints it, or `paste_says` when given.
fn fake_wl_clipboard(dir: &Path, paste_says: Option<&str>) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).unwrap();
    let copy = format!(
        "#!/bin/sh\necho \"$@\" >> '{d}/copy.args'\ncat > '{d}/clip'\necho $$ > '{d}/copy.pid'\nexec sleep 600\n",
        d = dir.display()
    );
    let paste = match paste_says {
        Some(text) => format!("#!/bin/sh\nprintf '%s' '{text}'\n"),
        None => format!("#!/bin/sh\ncat '{}/clip'\n", dir.display()),
    };
    for (name, body) in [("wl-copy", copy), ("wl-paste", paste)] {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
}

#[cfg(unix)]
fn wayland(env: &Env, bin: &Path, args: &[&str]) -> crate::harness::Cmd {
    env.cmd(args)
        .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
        .env("WAYLAND_DISPLAY", "wayland-test")
        .env("COAGENT_CLIPBOARD", "system")
}

#[cfg(unix)]
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

#[cfg(unix)]
#[test]
fn clipboard_on_wayland_goes_through_wl_copy_for_the_hold_time() {
    let env = Env::new();
    env.init();
    let bin = env.home.join("wl-bin");
    fake_wl_clipboard(&bin, None);
    let out = wayland(&env, &bin, &["--json", "start", "--vendor", "claude"])
        .env("COAGENT_CLIPBOARD_HOLD", "2s")
        .ok()
        .json();
    assert_eq!(out["clipboard"]["status"], "copied", "{out}");
    let payload = read(out["paths"][0].as_str().unwrap());
    assert_eq!(
        read(bin.join("clip")),
        payload,
        "wl-copy got the payload on its stdin"
    );
    let args = read(bin.join("copy.args"));
    assert!(args.contains("--foreground"), "{args}");
    assert!(
        !args.contains("Policy"),
        "the payload is never in an argument list: {args}"
    );
    // The hold time passed: the helper stopped wl-copy, and with it the copy.
    let pid = read(bin.join("copy.pid"));
    let until = Instant::now() + Duration::from_secs(10);
    while alive(&pid) && Instant::now() < until {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!alive(&pid), "wl-copy outlived the hold time");
}

#[cfg(unix)]
#[test]
fn clipboard_that_does_not_hold_the_payload_is_not_claimed() {
    let env = Env::new();
    env.init();
    let bin = env.home.join("wl-bin");
    fake_wl_clipboard(&bin, Some("an older copy"));
    let out = wayland(&env, &bin, &["start", "--vendor", "claude"]).ok();
    assert!(!out.stdout.contains("on the clipboard"), "{}", out.stdout);
    out.stdout_has("Not copied (the clipboard did not take the payload")
        .stdout_has(".paste.md");
    let pid = read(bin.join("copy.pid"));
    assert!(!alive(&pid), "the helper that failed to copy was stopped");
}

#[test]
fn clipboard_on_wayland_without_wl_copy_says_what_to_install() {
    let env = Env::new();
    env.init();
    env.cmd(&["start", "--vendor", "claude"])
        .env("PATH", "/nonexistent")
        .env("WAYLAND_DISPLAY", "wayland-test")
        .env("COAGENT_CLIPBOARD", "system")
        .ok()
        .stdout_has("Not copied (a Wayland clipboard needs wl-copy: install wl-clipboard)");
}

#[cfg(unix)]
#[test]
fn clipboard_on_wayland_is_read_through_wl_paste() {
    let env = Env::new();
    env.init();
    env.ok(&["start", "--vendor", "claude"]);
    let bin = env.home.join("wl-bin");
    fake_wl_clipboard(&bin, Some("Policy v1.0 loaded."));
    wayland(&env, &bin, &["ingest"])
        .ok()
        .stdout_has("echo      verified");
}
