#!/usr/bin/env python3
"""The way back, measured: a scripted 3-turn session of 3 DOs per turn in a git
repository of 5,000 files whose .gitignore and .git/info/exclude list the hub.

Prints, per turn and overall:
- clipboard trips per turn: payload parts that went out (each one paste into the chat)
  and replies that came in (each one copy from the chat); target: 1 out, 1 in;
- the whole-process time of `coagent do run --all` beyond the scripts themselves
  (wall time of the command minus the wall time of the same three scripts run directly
  by bash, measured right after); target: <= 50 ms. Also the CPU time (user + system of
  coagent and every process it waited for) beyond the scripts' own: on a shared machine
  wall time follows the neighbours' load, CPU time much less.

    python3 bench/wayback.py [path/to/coagent] [--sessions N] [--files N] [--kind edit|read]
                             [--against OTHER_COAGENT]

With --against, the two binaries play the same session turn by turn in alternation, so a
machine whose speed drifts (a shared VM) weighs on both alike; the paired difference is
printed last.

The default binary is target/release/coagent (build it with
`cargo build --release -p coagent-cli`).
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def sh(args, cwd, env=None, stdin=None):
    r = subprocess.run(args, cwd=cwd, env=env, input=stdin, capture_output=True)
    if r.returncode != 0:
        sys.exit(f"{args} failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
    return r.stdout


def make_repo(root, files):
    os.makedirs(root)
    for i in range(files):
        d = os.path.join(root, "src", f"pkg{i % 50}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"mod{i}.py"), "w") as f:
            f.write(f"# module {i}\n" + "".join(f"value_{j} = {i * j}\n" for j in range(20)))
    with open(os.path.join(root, ".gitignore"), "w") as f:
        f.write(".coagent/\n")
    git = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.invalid",
           "-c", "commit.gpgsign=false"]
    sh(git + ["init", "-q", "-b", "main"], root)
    sh(git + ["add", "-A"], root)
    sh(git + ["commit", "-q", "-m", "5,000 files"], root)
    with open(os.path.join(root, ".git", "info", "exclude"), "a") as f:
        f.write(".coagent/\n")


def scripts(turn, kind):
    if kind == "read":
        # A turn of looking: what most first turns are.
        return [
            f"grep -rn 'value_3 ' src/pkg{turn} | head -n 3",
            f"wc -l src/pkg{turn + 1}/*.py | tail -n 1 > \"$COAGENT_OUT/count-{turn}.txt\"",
            f"ls src | head -n 5  # turn {turn}",
        ]
    return [
        f"echo 'turn {turn}: edited' >> src/pkg1/mod1.py",
        f"echo 'report of turn {turn}' > \"$COAGENT_OUT/report.md\"",
        f"mkdir -p notes && echo 'note {turn}' > notes/turn{turn}.txt\n# ARTIFACT: notes/turn{turn}.txt",
    ]


def reply(turn, acks, kind):
    parts = ["Policy v1.0 loaded.\n"] if turn == 1 else []
    parts += acks
    for k, body in enumerate(scripts(turn, kind), 1):
        parts.append(f"```bash\n# DO: Step {k} of turn {turn}\n{body}\n# END DO\n```\n")
    return "\n".join(parts)


def cpu():
    """CPU seconds (user + system) used so far by the bench's finished children and theirs
    (coagent's git processes and scripts are waited for, so they count)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def turns(binary, template, root, clip, kind, scratch):
    """Plays the three turns of one session with `binary`, yielding each turn's figures:
    (turn, wall ms, scripts-alone ms, clipboard parts out, CPU ms beyond the scripts)."""
    shutil.copytree(template, root, symlinks=True)
    # A copy has new inodes and times: refresh the index as a user's `git status`
    # keeps it, and let a second pass so no file is "racily clean" (newer than the
    # index, which git must then re-read on every snapshot).
    time.sleep(1.1)
    sh(["git", "status", "--porcelain"], root)
    env = dict(os.environ, COAGENT_CLIPBOARD=f"file:{clip}", NO_COLOR="1")
    c = [binary]
    sh(c + ["init"], root, env)
    sh(c + ["todo", "add", "Keep the modules tidy"], root, env)
    sh(c + ["start", "--vendor", "claude"], root, env)
    acks = []
    for turn in (1, 2, 3):
        before = {p["id"] for p in json.loads(sh(c + ["--json", "outbox", "--all"], root, env))["payloads"]}
        sh(c + ["ingest", "-"], root, env, reply(turn, acks, kind).encode())
        c0, t0 = cpu(), time.perf_counter()
        run = json.loads(sh(c + ["--json", "do", "run", "--all"], root, env))
        wall, wall_cpu = time.perf_counter() - t0, cpu() - c0
        # The same scripts, run directly, in a scratch copy of what they touch.
        os.makedirs(os.path.join(scratch, "src", "pkg1"), exist_ok=True)
        out = os.path.join(scratch, "out")
        os.makedirs(out, exist_ok=True)
        c1, t1 = cpu(), time.perf_counter()
        for body in scripts(turn, kind):
            subprocess.run(["bash", "-c", body], cwd=scratch,
                           env=dict(env, COAGENT_OUT=out), check=True)
        direct, direct_cpu = time.perf_counter() - t1, cpu() - c1
        shutil.rmtree(scratch)
        after = json.loads(sh(c + ["--json", "outbox", "--all"], root, env))["payloads"]
        new = [p for p in after if p["id"] not in before]
        assert len(run["runs"]) == 3, run
        diffs = sum(1 for r in run["runs"] for x in r["artifacts"] if x["kind"] == "diff")
        assert diffs == (2 if kind == "edit" else 0), run
        acks = [r["ack_line"] for r in run["runs"]]
        yield (turn, wall * 1000, direct * 1000, sum(p["parts"] for p in new),
               (wall_cpu - direct_cpu) * 1000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin", nargs="?", default="target/release/coagent")
    ap.add_argument("--sessions", type=int, default=5)
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--kind", choices=["edit", "read"], default="edit",
                    help="edit: two of the three DOs change the tree; read: none does")
    ap.add_argument("--against", metavar="BIN",
                    help="another coagent binary, played turn by turn in alternation with the "
                         "first (so both meet the same machine), with the paired difference")
    a = ap.parse_args()
    binaries = [os.path.abspath(b) for b in [a.bin] + ([a.against] if a.against else [])]
    for b in binaries:
        if not os.access(b, os.X_OK):
            sys.exit(f"no coagent binary at {b}: cargo build --release -p coagent-cli")
    work = tempfile.mkdtemp(prefix="coagent-wayback-")
    overheads = [[] for _ in binaries]
    cpus = [[] for _ in binaries]
    outs = []
    try:
        template = os.path.join(work, "template")
        make_repo(template, a.files)
        for s in range(a.sessions):
            plays = [turns(b, template, os.path.join(work, f"project{s}-{k}"),
                           os.path.join(work, f"clip{s}-{k}.txt"), a.kind,
                           os.path.join(work, "scratch"))
                     for k, b in enumerate(binaries)]
            for figures in zip(*plays):
                for k, (turn, wall, direct, parts_out, extra_cpu) in enumerate(figures):
                    overheads[k].append(wall - direct)
                    cpus[k].append(extra_cpu)
                    outs.append(parts_out)
                    name = "" if len(binaries) == 1 else f" [{'AB'[k]}]"
                    print(f"session {s + 1} turn {turn}{name}: do run --all {wall:6.1f} ms, "
                          f"scripts alone {direct:5.1f} ms, overhead {wall - direct:5.1f} ms; "
                          f"clipboard out {parts_out}, in 1")
        print()
        print(f"repository: {a.files} files, hub ignored by .gitignore and .git/info/exclude; "
              f"{len(overheads[0])} turns of 3 DOs ({a.kind}: "
              f"{'two of them change the tree' if a.kind == 'edit' else 'none changes the tree'})")
        print(f"clipboard trips per turn: out {statistics.mean(outs):.2f} (max {max(outs)}), "
              f"in 1.00   target: 1 out, 1 in")
        for k, b in enumerate(binaries):
            o = sorted(overheads[k])
            name = "" if len(binaries) == 1 else f"[{'AB'[k]}] {b}: "
            print(f"{name}do run --all overhead beyond the scripts: median "
                  f"{statistics.median(o):.1f} ms, min {o[0]:.1f}, max {o[-1]:.1f}   target: <= 50 ms")
            print(f"{name}CPU time beyond the scripts (user + system, coagent and its git "
                  f"processes; steadier than wall time on a busy machine): median "
                  f"{statistics.median(cpus[k]):.1f} ms")
        if len(binaries) == 2:
            d = [x - y for x, y in zip(overheads[0], overheads[1])]
            print(f"A minus B, turn by turn: median {statistics.median(d):+.1f} ms")
            d = [x - y for x, y in zip(cpus[0], cpus[1])]
            print(f"A minus B, CPU time turn by turn: median {statistics.median(d):+.1f} ms")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
