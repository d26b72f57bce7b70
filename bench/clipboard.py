#!/usr/bin/env python3
"""The clipboard that holds, measured on an X server of its own (Xvfb).

Prints:
- the wall time of `coagent outbox copy` with the system clipboard (the helper started,
  the copy read back) against the same command with `COAGENT_CLIPBOARD=none`: what the
  helper and its check add to a command;
- the helper's resident memory while it holds a payload;
- how long the helper takes to end once another program (xclip) copies.

    python3 bench/clipboard.py [path/to/coagent] [--runs N]

Needs Xvfb and xclip (Debian: xvfb, xclip). The default binary is
target/release/coagent (build it with `cargo build --release -p coagent-cli`).
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def helpers(display):
    want = f"DISPLAY={display}".encode()
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
            with open(f"/proc/{name}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{name}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"__clipboard-hold" in cmd and want in env and state != "Z":
            pids.append(int(name))
    return pids


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def timed(args, env, cwd, runs):
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(args, env=env, cwd=cwd, check=True, capture_output=True)
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin", nargs="?", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "release", "coagent"))
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    coagent = os.path.abspath(a.bin)

    xvfb = subprocess.Popen(["Xvfb", "-displayfd", "1", "-nolisten", "tcp"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    display = ":" + xvfb.stdout.readline().decode().strip()
    tmp = tempfile.mkdtemp(prefix="coagent-clip-bench-")
    try:
        env = {"PATH": os.environ["PATH"], "HOME": tmp, "DISPLAY": display,
               "COAGENT_CLIPBOARD": "none"}
        project = os.path.join(tmp, "project")
        os.makedirs(project)
        subprocess.run([coagent, "init"], env=env, cwd=project, check=True, capture_output=True)
        subprocess.run([coagent, "start", "--vendor", "claude"], env=env, cwd=project,
                       check=True, capture_output=True)
        size = max(len(open(os.path.join(project, ".coagent/temps/outbox", p)).read())
                   for p in os.listdir(os.path.join(project, ".coagent/temps/outbox")))
        copy = [coagent, "outbox", "copy"]
        none_p50, none_p95 = timed(copy, env, project, a.runs)
        sys_env = dict(env, COAGENT_CLIPBOARD="system")
        sys_p50, sys_p95 = timed(copy, sys_env, project, a.runs)
        print(f"payload: {size} characters; {a.runs} runs each")
        print(f"outbox copy, no clipboard:     median {none_p50:.1f} ms, p95 {none_p95:.1f} ms")
        print(f"outbox copy, system clipboard: median {sys_p50:.1f} ms, p95 {sys_p95:.1f} ms "
              f"(+{sys_p50 - none_p50:.1f} ms: helper start and read-back)")
        left = helpers(display)
        print(f"helpers left after {a.runs} copies: {len(left)}")
        if left:
            print(f"helper resident memory: {rss_kib(left[0]) / 1024:.1f} MiB")
        t = time.perf_counter()
        p = subprocess.Popen(["xclip", "-i", "-selection", "clipboard"], stdin=subprocess.PIPE,
                             env={"PATH": os.environ["PATH"], "DISPLAY": display},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        p.communicate(b"someone else's copy")
        while helpers(display) and time.perf_counter() - t < 5:
            time.sleep(0.002)
        print(f"helper gone {(time.perf_counter() - t) * 1000:.1f} ms after xclip copied"
              if not helpers(display) else "helper still running 5 s after xclip copied")
    finally:
        for pid in helpers(display):
            os.kill(pid, 15)
        xvfb.kill()
        xvfb.wait()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
