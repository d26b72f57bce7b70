#!/usr/bin/env python3
"""Years of records: each command's time and peak memory on a big hub against a small one.

usage: bench/scale.py [--bin PATH] [--sessions 100000] [--events 1000000] [--big DIR]
                      [--runs 7] [--sync]

The small hub: `coagent init`, three TODOs, one session. The big hub: the same, filled by
bench/mkhub.py with SESSIONS sessions and EVENTS events (100,000 / 1,000,000 by default:
~350 MB, a few minutes to build). `--big DIR` keeps it in DIR and reuses it on the next
run (built there when DIR holds no hub yet), since building it is the slow part. Every
figure is the median wall time of RUNS runs of the whole process (after one warm-up) and
the largest peak RSS of those runs (wait4's ru_maxrss). Targets (SPEC §12, issue 15):
`stats` <= 100 ms, every list <= 50 ms, memory <= 32 MB. With `--sync`, also the time of a
first full `coagent sync` export of the big hub into a bare repository, of a sync after
one new TODO (target <= 1 s), and of another machine's first sync reading that whole
branch.

Needs python3 (standard library only), git for --sync, and cargo unless --bin is given
(then `cargo build --release -p coagent-cli`, honouring CARGO_TARGET_DIR). CI never runs
this: the big hub is built by hand.
"""

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

COMMANDS = [
    # (label, argv, target ms)
    ("status", ["status"], 20),
    ("ticker", ["ticker"], 5),
    ("stats", ["stats"], 100),
    ("stats --json", ["--json", "stats"], 100),
    ("do list", ["do", "list"], 50),
    ("do list --state succeeded", ["do", "list", "--state", "succeeded"], 50),
    ("do list --since 7d", ["do", "list", "--since", "7d"], 50),
    ("artifact list", ["artifact", "list"], 50),
    ("ack list", ["ack", "list"], 50),
    ("ack list --pending", ["ack", "list", "--pending"], 50),
    ("backchat list", ["backchat", "list"], 50),
    ("wraps", ["wraps"], 50),
    ("todo list", ["todo", "list"], 50),
    ("todo list --all", ["todo", "list", "--all"], 50),
    ("session list", ["session", "list"], 50),
    # Streams over every record: no time target, memory must stay flat.
    ("do list --all (every DO)", ["do", "list", "--all"], None),
    ("session list --all", ["session", "list", "--all"], None),
]
MEMORY_MB = 32


def env_for(hub):
    e = dict(os.environ)
    e.update({"COAGENT_HUB": hub, "COAGENT_CLIPBOARD": "none", "COAGENT_NO_CLIPBOARD": "1",
              "NO_COLOR": "1"})
    for k in ("COAGENT_SEED", "COAGENT_NOW"):
        e.pop(k, None)
    return e


def run(bin_, hub, argv, check=True):
    p = subprocess.run([bin_] + argv, env=env_for(hub), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if check and p.returncode != 0:
        sys.exit(f"scale: coagent {' '.join(argv)} failed ({p.returncode}):\n{p.stderr}")
    return p


def peak_mb(bin_, hub, argv):
    """Peak RSS of one run, from GNU time (wait4 from Python would count the forked Python
    itself, ~15 MB, before the exec)."""
    with tempfile.NamedTemporaryFile("r") as f:
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", f.name, bin_] + argv, env=env_for(hub),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        return int(f.read().strip().splitlines()[-1]) / 1024.0


def measure(bin_, hub, argv, runs):
    """Median wall ms over `runs` runs, after one warm-up, and the peak RSS MB."""
    if os.path.exists("/usr/bin/time"):
        return measure_time(bin_, hub, argv, runs)[0], peak_mb(bin_, hub, argv)
    return measure_time(bin_, hub, argv, runs)


def measure_time(bin_, hub, argv, runs):
    times, peak = [], 0
    for n in range(runs + 1):
        t0 = time.perf_counter()
        p = subprocess.Popen([bin_] + argv, env=env_for(hub), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        dt = (time.perf_counter() - t0) * 1000.0
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"scale: coagent {' '.join(argv)} failed")
        if n > 0:
            times.append(dt)
            peak = max(peak, ru.ru_maxrss / 1024.0)
    return statistics.median(times), peak


def make_hub(bin_, root, sessions=None, events=None):
    os.makedirs(root, exist_ok=True)
    hub = os.path.join(root, ".coagent")
    if os.path.exists(os.path.join(hub, "store.db")):
        return hub
    e = env_for(hub)
    del e["COAGENT_HUB"]
    subprocess.run([bin_, "init"], cwd=root, env=e, check=True, stdout=subprocess.DEVNULL)
    for t in ("Write the parser tests", "Fix CI", "Ship the importer"):
        run(bin_, hub, ["todo", "add", t])
    run(bin_, hub, ["start", "--vendor", "claude", "--goal", "bench"])
    if sessions:
        t0 = time.perf_counter()
        print(f"scale: filling {hub} with {sessions} sessions and {events} events ...",
              file=sys.stderr)
        subprocess.run([sys.executable, os.path.join(HERE, "mkhub.py"), hub,
                        "--sessions", str(sessions), "--events", str(events)], check=True)
        print(f"scale: built in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return hub


def sync_figures(bin_, root, hub, runs):
    """A first full export into a fresh bare repository, then a sync after one change."""
    remote = tempfile.mkdtemp(prefix="coagent-scale-remote-")
    # A first export each time: forget what an earlier run of this bench synced.
    shutil.rmtree(os.path.join(hub, "cache", "sync"), ignore_errors=True)
    db = sqlite3.connect(os.path.join(hub, "store.db"))
    with db:
        db.execute("DELETE FROM meta WHERE key LIKE 'sync.%'")
        if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'sync_dirty'").fetchone():
            db.execute("DELETE FROM sync_dirty")
    db.close()
    try:
        subprocess.run(["git", "init", "-q", "--bare", remote], check=True)
        t0 = time.perf_counter()
        run(bin_, hub, ["sync", "--remote", remote])
        first = (time.perf_counter() - t0) * 1000.0
        incr = []
        for n in range(runs):
            run(bin_, hub, ["todo", "add", f"scale {time.time()} {n}"])
            t0 = time.perf_counter()
            run(bin_, hub, ["sync", "--remote", remote])
            incr.append((time.perf_counter() - t0) * 1000.0)
        # Another machine's first sync reads the whole branch: what an upgraded hub does
        # once when its CoAgent knows a kind of record the old one skipped.
        other = tempfile.mkdtemp(prefix="coagent-scale-other-")
        try:
            theirs = make_hub(bin_, other)
            t0 = time.perf_counter()
            run(bin_, theirs, ["sync", "--remote", remote])
            full_read = (time.perf_counter() - t0) * 1000.0
        finally:
            shutil.rmtree(other, ignore_errors=True)
        return first, statistics.median(incr), full_read
    finally:
        shutil.rmtree(remote, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", help="the coagent binary (default: build release)")
    ap.add_argument("--sessions", type=int, default=100_000)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--big", help="keep (and reuse) the big hub's project folder here")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--sync", action="store_true", help="also time coagent sync")
    ap.add_argument("--sync-only", action="store_true", help="time coagent sync only")
    a = ap.parse_args()

    bin_ = a.bin
    if not bin_:
        subprocess.run(["cargo", "build", "--release", "-p", "coagent-cli"], cwd=ROOT,
                       check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        bin_ = os.path.join(target, "release", "coagent")
    work = tempfile.mkdtemp(prefix="coagent-scale-")
    try:
        small = make_hub(bin_, os.path.join(work, "small"))
        big_root = a.big or os.path.join(work, "big")
        big = make_hub(bin_, big_root, a.sessions, a.events)
        run(bin_, big, ["status"])  # the first open migrates an older hub
        size = os.path.getsize(os.path.join(big, "store.db")) / 1e6
        print(f"big hub: {big} ({size:.0f} MB store)")
        print(f"{'command':<28} {'small ms':>9} {'big ms':>8} {'target':>7} "
              f"{'small MB':>9} {'big MB':>7}  verdict")
        worst = True
        for label, argv, target in [] if a.sync_only else COMMANDS:
            ts, ms_ = measure(bin_, small, argv, a.runs)
            tb, mb = measure(bin_, big, argv, a.runs)
            ok = (target is None or tb <= target) and mb <= MEMORY_MB
            worst &= ok
            print(f"{label:<28} {ts:>9.1f} {tb:>8.1f} {target or '—':>7} {ms_:>9.1f} {mb:>7.1f}  "
                  f"{'ok' if ok else 'OVER'}")
        if a.sync or a.sync_only:
            first, incr, full_read = sync_figures(bin_, big_root, big, max(1, min(a.runs, 3)))
            print(f"{'sync: first full export':<28} {first:>18.0f} ms")
            print(f"{'sync: whole branch read':<28} {full_read:>18.0f} ms  (a new machine, or "
                  "an upgrade that knows a new kind: once)")
            print(f"{'sync: after one change':<28} {incr:>18.0f} ms  (target 1000)  "
                  f"{'ok' if incr <= 1000 else 'OVER'}")
        print("all within target" if worst else "some figures over target")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
