#!/usr/bin/env python3
"""Whole-process timing of one CoAgent command, for bench/run.sh.

Runs COMMAND (a shell-free argv; `{i}` in any argument is replaced by the run number)
--runs times after --warmup untimed runs, optionally running --prepare (a shell line,
same `{i}` substitution, untimed) before each run. Wall time is measured with
time.perf_counter around subprocess.run, so each figure includes the cost of fork+exec
from Python (reported separately as the `spawn: /bin/true` row).

Also records the median CPU time (user + system, from wait4's rusage, children of the
command included): when wall time is far above it, the command is waiting (fsync, disk,
a busy machine), not computing.

Appends one JSON line {name, runs, median_ms, p95_ms, min_ms, max_ms, cpu_ms, target_ms}
to --out, and prints it.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def pct(sorted_vals, p):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--prepare", default=None, help="shell line run untimed before each run")
    ap.add_argument("--target", type=float, default=None, help="target in ms, for the table")
    ap.add_argument("--cwd", default=None)
    ap.add_argument("--env", action="append", default=[], metavar="K=V",
                    help="extra environment for the command (repeatable)")
    ap.add_argument("--allow-fail", action="store_true", help="do not stop on a non-zero exit")
    ap.add_argument("--out", required=True)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command and a.command[0] == "--" else a.command
    if not cmd:
        ap.error("no command")

    env = dict(os.environ)
    for kv in a.env:
        k, _, v = kv.partition("=")
        env[k] = v
    times, cpu = [], []
    total = a.warmup + a.runs
    for n in range(total):
        i = str(n)
        if a.prepare:
            subprocess.run(a.prepare.replace("{i}", i), shell=True, check=True, cwd=a.cwd,
                           stdout=subprocess.DEVNULL)
        argv = [c.replace("{i}", i) for c in cmd]
        with tempfile.TemporaryFile() as err:
            t0 = time.perf_counter()
            p = subprocess.Popen(argv, cwd=a.cwd, env=env, stdout=subprocess.DEVNULL, stderr=err)
            _, status, ru = os.wait4(p.pid, 0)
            dt = (time.perf_counter() - t0) * 1000.0
            p.returncode = os.waitstatus_to_exitcode(status)
            if p.returncode != 0 and not a.allow_fail:
                err.seek(0)
                sys.stderr.write(f"{a.name}: {' '.join(argv)} exited {p.returncode}:\n"
                                 f"{err.read().decode(errors='replace')}\n")
                sys.exit(1)
        if n >= a.warmup:
            times.append(dt)
            cpu.append((ru.ru_utime + ru.ru_stime) * 1000.0)

    s = sorted(times)
    rec = {
        "name": a.name,
        "runs": len(s),
        "median_ms": round(statistics.median(s), 2),
        "p95_ms": round(pct(s, 95), 2),
        "min_ms": round(s[0], 2),
        "max_ms": round(s[-1], 2),
        "cpu_ms": round(statistics.median(cpu), 2),
        "target_ms": a.target,
    }
    with open(a.out, "a", encoding="utf-8") as f:
        f.write(json.dumps(rec) + "\n")
    print(json.dumps(rec), file=sys.stderr)


if __name__ == "__main__":
    main()
