#!/usr/bin/env python3
"""Breach -> wrap under `coagent watch` (target: under 5 s; the seed's bound is 5 min).

A session whose next completed DO breaches the monitor (config: max_dos = 1; every other
setting is the default, so the check interval is 5 s). `coagent watch --json` runs; a DO is
run with `coagent do run`, and the chat's answer to its result (the ACK) is ingested: the
wrap waits for that answer, so that the handoff holds what the result brought. The clock
starts when that ingest returns (the wrap is then due) and stops when the watcher reports
the wrap with its respawn payload.
Also printed: the hub's own record of breach -> wrap (`coagent stats`).

usage: bench/watch_breach.py [BIN] [RUNS]
"""
import json, os, subprocess, sys, tempfile, time, statistics

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BENCH_BIN", "target/release/coagent"))
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
ENV = dict(os.environ, COAGENT_CLIPBOARD="none", NO_COLOR="1")
ENV.pop("COAGENT_SEED", None)
ENV.pop("COAGENT_NOW", None)

def run(cwd, *args, stdin=None):
    return subprocess.run([BIN, *args], cwd=cwd, env=ENV, input=stdin, capture_output=True, text=True, check=True)

def one():
    with tempfile.TemporaryDirectory(prefix="coagent-bench-watch-") as root:
        run(root, "init")
        with open(os.path.join(root, ".coagent/config.toml"), "w") as f:
            f.write("[bloat]\nmax_dos = 1\n")
        run(root, "start", "--vendor", "claude", "--no-clipboard")
        reply = "Policy v1.0 loaded.\n\n```sh\n# DO: One step\ntrue\n# END DO\n```\n"
        do_id = json.loads(run(root, "--json", "ingest", "-", stdin=reply).stdout)["dos"][0]["id"]
        watch = subprocess.Popen([BIN, "--json", "watch"], cwd=root, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            for line in watch.stdout:  # wait until it is watching
                if json.loads(line).get("event") == "level":
                    break
            log = json.loads(run(root, "--json", "do", "run", do_id).stdout)["artifacts"][0]["id"]
            run(root, "ingest", "-", stdin=f"ACK {do_id} artifact:{log}\n")
            t0 = time.perf_counter()
            for line in watch.stdout:
                ev = json.loads(line)
                if ev.get("event") == "wrapped":
                    elapsed = time.perf_counter() - t0
                    break
            else:
                raise SystemExit("the watcher never wrapped")
        finally:
            watch.terminate()
            watch.wait(timeout=10)
        st = json.loads(run(root, "--json", "stats").stdout)
        recorded = st["overall"]["median_breach_to_wrap_ms"]
        return elapsed * 1000, recorded

results = [one() for _ in range(RUNS)]
walls = [w for w, _ in results]
recs = [r for _, r in results if r is not None]
print(f"breach -> wrap under watch, {RUNS} runs (check interval 5 s, default)")
print(f"  the answer ingested -> wrapped event: median {statistics.median(walls):.0f} ms, max {max(walls):.0f} ms (target 5000 ms)")
if recs:
    print(f"  recorded by the hub (breach_at -> wrap created_at): median {statistics.median(recs):.0f} ms, max {max(recs):.0f} ms")
