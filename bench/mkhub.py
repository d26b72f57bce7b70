#!/usr/bin/env python3
"""Fills an initialised hub's store with a realistic history, for bench/run.sh.

usage: mkhub.py HUB_DIR [--sessions 10000] [--events 100000] [--live 3]

The hub must already hold one session made by `coagent start` (its capsule version and
sha256 are reused, so the live sessions added here belong to the hub's capsule). Adds
SESSIONS-1 more sessions: LIVE of them 'live' (booted within the last half hour, each
with a few DOs, runs, artifacts, payloads and replies), the rest 'wrapped' over the two
previous years (each with a boot payload, a reply, a DO, its run and log artifact, and
the wrap). Then adds EVENTS events spread over all sessions with the kinds CoAgent
records, and some TODOs. Columns follow crates/coagent/src/store.rs (schema 1).
"""

import argparse
import json
import os
import random
import sqlite3
import time

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
VENDORS = ["claude", "chatgpt", "gemini", "copilot", "generic"]
EVENT_KINDS = [
    ("payload.sent", 25), ("reply.ingested", 25), ("do.finished", 15), ("do.started", 15),
    ("do.approved", 8), ("session.started", 3), ("session.wrapped", 3), ("todo.added", 3),
    ("todo.done", 2), ("bloat.breach", 1),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hub")
    ap.add_argument("--sessions", type=int, default=10000)
    ap.add_argument("--events", type=int, default=100000)
    ap.add_argument("--live", type=int, default=3)
    a = ap.parse_args()

    rng = random.Random(42)
    used = set()

    def rid(prefix):
        while True:
            s = prefix + "-" + "".join(rng.choice(CROCKFORD) for _ in range(10))
            if s not in used:
                used.add(s)
                return s

    def sha():
        return "%064x" % rng.getrandbits(256)

    db = sqlite3.connect(os.path.join(a.hub, "store.db"))
    db.execute("PRAGMA journal_mode=WAL")
    row = db.execute(
        "SELECT capsule_version, capsule_sha256 FROM sessions ORDER BY created_at LIMIT 1"
    ).fetchone()
    if row is None:
        raise SystemExit("mkhub: the hub holds no session; run `coagent start` first")
    cap_v, cap_sha = row
    now = int(time.time() * 1000)
    day = 86_400_000

    sessions, payloads, replies, dos, runs, artifacts, wraps = [], [], [], [], [], [], []
    todos = []
    sids = []
    n_new = a.sessions - 1
    for k in range(n_new):
        sid = rid("S")
        sids.append(sid)
        vendor = rng.choice(VENDORS)
        live = k >= n_new - a.live
        if live:
            created = now - rng.randint(5, 25) * 60_000
            closed = None
            state = "live"
        else:
            created = now - 730 * day + k * (729 * day // max(1, n_new))
            closed = created + rng.randint(20, 240) * 60_000
            state = "wrapped"
        last = (closed or now - 60_000) - 30_000
        sessions.append((sid, vendor, f"goal {k}: ship the {rng.choice(['parser', 'runner', 'cache', 'docs'])}",
                         state, cap_v, cap_sha, "verified", created, created + 60_000, closed,
                         None, None, last, None, None, None))
        bc = "BC-" + "".join(rng.choice(CROCKFORD) for _ in range(26))
        payloads.append((bc, sid, "boot", 1, 1, f"temps/outbox/{sid}-boot.paste.md", sha(),
                         rng.randint(8000, 30000), rng.randint(2000, 8000), 0, 0, created))
        ndo = rng.randint(1, 3) if live else 1
        for j in range(ndo):
            replies.append((sid, sha(), f"temps/inbox/{sid}-{j}.md", rng.randint(2000, 40000),
                            rng.randint(500, 10000), 0, created + (j + 1) * 120_000))
            did = rid("DO")
            run = rid("R")
            prop = created + (j + 1) * 120_000
            end = prop + rng.randint(30, 300) * 1000
            dos.append((did, sid, f"step {j}", "bash", "# DO: step\ntrue\n# END DO\n", sha(),
                        "succeeded", None, prop, None, end, None))
            runs.append((run, did, "succeeded", 0, None, prop + 10_000, end, end - prop - 10_000))
            artifacts.append((rid("A"), did, run, "log", f"artifacts/{did}/{run}.log", "", sha(),
                              rng.randint(100, 50000), end))
            payloads.append(("BC-" + "".join(rng.choice(CROCKFORD) for _ in range(26)), sid,
                             "result", 1, 1, f"temps/outbox/{sid}-result-{j}.paste.md", sha(),
                             rng.randint(500, 5000), rng.randint(100, 1500), 0, 0, end))
        if not live:
            wraps.append((rid("W"), sid, "ANY", f"cache/wraps/CoWrap-{sid}.tar.zst", sha(),
                          closed, closed + day, None))
    for k in range(220):
        done = k < 200
        todos.append((rid("T"), f"todo {k}", "", "done" if done else "open", k,
                      now - 700 * day + k * day, now - 600 * day + k * day if done else None))

    # Events: spread over the sessions in time order, as a real history would be.
    all_sids = [r[0] for r in sessions]
    starts = {r[0]: r[7] for r in sessions}
    kinds = [k for k, w in EVENT_KINDS for _ in range(w)]
    events = []
    for e in range(a.events):
        sid = all_sids[min(len(all_sids) - 1, e * len(all_sids) // a.events)]
        kind = rng.choice(kinds)
        at = starts[sid] + rng.randint(0, 3_600_000)
        data = json.dumps({"id": sid, "note": kind})
        events.append((at, sid, kind, data))

    with db:
        db.executemany("INSERT INTO sessions (id, vendor, goal, state, capsule_version, capsule_sha256, echo, "
                       "created_at, live_at, closed_at, from_wrap, prev_session, last_activity_at, breach_at, "
                       "breach_signal, pending_next) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", sessions)
        db.executemany("INSERT INTO payloads (id, session, kind, part, parts, path, sha256, chars, tokens, "
                       "tokens_exact, redactions, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", payloads)
        db.executemany("INSERT INTO replies (session, sha256, path, chars, tokens, tokens_exact, created_at) "
                       "VALUES (?,?,?,?,?,?,?)", replies)
        db.executemany("INSERT INTO dos (id, session, title, lang, script, sha256, state, approved_sha256, "
                       "proposed_at, approved_at, first_artifact_at, acked_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", dos)
        db.executemany("INSERT INTO runs (id, do_id, status, exit_code, signal, started_at, ended_at, duration_ms) "
                       "VALUES (?,?,?,?,?,?,?,?)", runs)
        db.executemany("INSERT INTO artifacts (id, do_id, run_id, kind, path, source, sha256, bytes, created_at) "
                       "VALUES (?,?,?,?,?,?,?,?,?)", artifacts)
        db.executemany("INSERT INTO wraps (id, session, to_target, archive, sha256, created_at, consumed_at, "
                       "consumed_by) VALUES (?,?,?,?,?,?,?,?)", wraps)
        db.executemany("INSERT INTO todos (id, title, acceptance, status, rank, created_at, done_at) "
                       "VALUES (?,?,?,?,?,?,?)", todos)
        db.executemany("INSERT INTO events (at, session, kind, data) VALUES (?,?,?,?)", events)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    counts = {t: db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
              for t in ["sessions", "events", "dos", "runs", "artifacts", "payloads", "replies", "wraps", "todos"]}
    db.close()
    print("mkhub:", json.dumps(counts))


if __name__ == "__main__":
    main()
