#!/usr/bin/env python3
"""Prints bench/run.sh's results (JSON lines from timeit.py) as a table, with the derived
`do run` overhead (coagent do run minus the script run by sh directly).

usage: table.py RESULTS.jsonl [BINARY]
"""

import json
import sys


def main():
    rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8") if l.strip()]
    by = {r["name"]: r for r in rows}
    script = by.get("sh noop.sh (script alone)")
    if script:
        for kind in ("git", "plain"):
            r = by.get(f"do run --rerun (noop), {kind}")
            if r:
                rows.append({
                    "name": f"do run overhead (minus sh), {kind}",
                    "runs": r["runs"],
                    "median_ms": round(r["median_ms"] - script["median_ms"], 2),
                    "p95_ms": round(r["p95_ms"] - script["median_ms"], 2),
                    "target_ms": 30,
                })
    w = max(len(r["name"]) for r in rows)
    if len(sys.argv) > 2:
        print(f"binary: {sys.argv[2]}")
    print(f"{'figure':<{w}}  {'runs':>4}  {'median':>8}  {'p95':>8}  {'cpu':>7}  {'target':>7}  verdict")
    print("-" * (w + 55))
    for r in rows:
        t = r.get("target_ms")
        verdict = "" if t is None else ("ok" if r["median_ms"] <= t else "MISSED")
        if t is not None and verdict == "ok" and r["p95_ms"] > t:
            verdict = "ok (p95 over)"
        cpu = f"{r['cpu_ms']:.1f}" if "cpu_ms" in r else ""
        ts = "" if t is None else f"{t:g}"
        print(f"{r['name']:<{w}}  {r['runs']:>4}  {r['median_ms']:>8.2f}  {r['p95_ms']:>8.2f}  {cpu:>7}  {ts:>7}  {verdict}")
    print("(median/p95: wall ms per whole process, spawned from Python; cpu: median user+sys ms;"
          " verdict on the median)")


if __name__ == "__main__":
    main()
