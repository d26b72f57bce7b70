#!/usr/bin/env python3
"""Measures the primitives CoAgent's commands are made of, on the hubs' own filesystem,
so a missed target can be split into its parts. For bench/run.sh.

usage: probe.py WORKDIR BIG_STORE_DB RESULTS.jsonl [--runs N]

  atomic write        write 200 B to a temp file, fsync, rename over, fsync the folder
                      (what every status-file / outbox / artifact write costs)
  sqlite open+close   open the big store, WAL + synchronous=FULL, SELECT 1, close
                      (the last connection's close checkpoints and deletes the -wal file)
  sqlite commit       one IMMEDIATE transaction inserting one event, synchronous=FULL
  open-sessions query  `status`'s query for live/booting sessions (uses sessions_by_state)
  recent-sessions query  `status`'s recent list: ORDER BY an expression, so SQLite scans
                      and sorts every session (EXPLAIN: SCAN sessions + TEMP B-TREE)
"""

import argparse
import json
import os
import sqlite3
import statistics
import time


def measure(name, runs, fn, out):
    fn()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000.0)
    s = sorted(ts)
    rec = {"name": "probe: " + name, "runs": runs, "median_ms": round(statistics.median(s), 2),
           "p95_ms": round(s[min(len(s) - 1, int(0.95 * len(s)))], 2), "target_ms": None}
    out.write(json.dumps(rec) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("work")
    ap.add_argument("db")
    ap.add_argument("out")
    ap.add_argument("--runs", type=int, default=30)
    a = ap.parse_args()
    d = os.path.join(a.work, "probe")
    os.makedirs(d, exist_ok=True)

    def atomic_write():
        tmp = os.path.join(d, ".tmp")
        with open(tmp, "wb") as f:
            f.write(b"x" * 200)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, os.path.join(d, "f.txt"))
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def open_close():
        c = sqlite3.connect(a.db)
        c.execute("PRAGMA journal_mode=WAL").fetchone()
        c.execute("PRAGMA synchronous=FULL")
        c.execute("SELECT 1").fetchone()
        c.close()

    conn = sqlite3.connect(a.db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL").fetchone()
    conn.execute("PRAGMA synchronous=FULL")

    def commit():
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO events (at, session, kind, data) VALUES (0, NULL, 'bench.probe', '{}')")
        conn.execute("COMMIT")

    def open_sessions():
        conn.execute("SELECT * FROM sessions WHERE state IN ('live', 'booting') "
                     "ORDER BY state = 'booting', created_at DESC").fetchall()

    def recent_sessions():
        conn.execute("SELECT * FROM sessions ORDER BY state NOT IN ('live', 'booting'), "
                     "created_at DESC LIMIT 10").fetchall()

    with open(a.out, "a", encoding="utf-8") as out:
        measure("atomic write (fsync file + folder)", a.runs, atomic_write, out)
        measure("sqlite open+WAL+close, big store", a.runs, open_close, out)
        measure("sqlite 1-row commit, synchronous=FULL", a.runs, commit, out)
        measure("open-sessions query (index), big store", a.runs, open_sessions, out)
        measure("recent-sessions query (SCAN+sort), big store", a.runs, recent_sessions, out)
    conn.execute("DELETE FROM events WHERE kind = 'bench.probe'")
    conn.close()


if __name__ == "__main__":
    main()
