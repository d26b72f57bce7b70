#!/usr/bin/env python3
"""Token economy, measured: a scripted 5-turn session on a small Python project
(bench/tokens/project/, 4 TODOs), with the chat's replies fixed (bench/tokens/turn1-5.md,
the first two long: three DOs of 40-110 lines, then the 110-line DO sent again with one
line changed). Every turn, the bench ingests the reply, runs its DOs
(`do run --all --keep-going`) and counts what crossed the paste gate.

Prints:
- tokens per turn, split by direction (pasted out / ingested) and, for what was pasted
  out, by part: capsule, contract, handoff, results (the DOs' logs, diffs and files),
  frame (a result's fixed text), machine (the ```coagent block);
- the boot payload's size and a result payload's overhead per DO beyond its logs, diffs
  and files (targets: boot <= 1,000 tokens with 4 TODOs; overhead <= 150 tokens per DO);
- the respawn payload after the 5 turns, and with --long N the respawn after N turns
  (target: <= 2,000 tokens after 100 turns);
- per vendor, the turns a session gets before its default context budget breaches,
  with the session's turns repeated after the 5th (budget_breach_tokens from
  `coagent vendors --json` when it has it, else context_tokens * 0.6, said which), and
  the same at fixed budgets of 8K, 16K and 32K tokens.

    python3 bench/tokens.py [path/to/coagent] [--against OLD_COAGENT] [--long 100]

With --against, the same session is played by both binaries and the figures are printed
side by side (before = OLD, after = the first). Tokens are CoAgent's own estimate for
non-OpenAI vendors (bytes / 3.2 + 15%, as `vendor::estimate`), so figures are the same on
every machine. Needs python3 (standard library), git, sh.
"""

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
FIX = os.path.join(HERE, "tokens")
GOAL = "Fix search, check README Usage, add --version, start a changelog"
TODOS = [
    ("Make search ignore case", "scripts/check.sh passes"),
    ("Check README Usage against the CLI", "every command README shows exists"),
    ("Add a --version flag", "python3 -m notes --version prints notes 0.3.0"),
    ("Start CHANGELOG.md", ""),
]


def tokens(text):
    """CoAgent's estimate (`vendor::estimate`): UTF-8 bytes / 3.2, plus 15%, rounded up."""
    return math.ceil(len(text.encode("utf-8")) / 3.2 * 1.15)


def run(args, cwd, env, check=True):
    r = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True)
    if check and r.returncode != 0:
        sys.exit(f"{args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    return r


class Hub:
    def __init__(self, binary, root):
        self.bin, self.root = binary, root
        self.env = dict(os.environ, COAGENT_NO_CLIPBOARD="1", COAGENT_CLIPBOARD="none",
                        NO_COLOR="1", COAGENT_NOW="2026-11-24T09:00:00Z", COAGENT_SEED="7",
                        HOME=root)
        self.env.pop("COAGENT_HUB", None)

    def cmd(self, *args, check=True):
        return run([self.bin, "--yes", *args], self.root, self.env, check)

    def json(self, *args):
        return json.loads(self.cmd("--json", *args).stdout)


def make_project(root):
    shutil.copytree(os.path.join(FIX, "project"), root)
    with open(os.path.join(root, ".gitignore"), "w") as f:
        f.write(".coagent/\n__pycache__/\nnotes.json\n")
    git = ["git", "-c", "user.name=Bench", "-c", "user.email=bench@example.invalid",
           "-c", "commit.gpgsign=false"]
    env = dict(os.environ)
    run(git + ["init", "-q", "-b", "main"], root, env)
    run(git + ["add", "-A"], root, env)
    run(git + ["commit", "-q", "-m", "notes 0.3.0"], root, env)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def fenced(text):
    """(start, end, info) of every top-level fenced block, fences of any length."""
    out, i, lines, pos = [], 0, text.splitlines(keepends=True), 0
    start = fence = info = None
    for line in lines:
        s = line.strip()
        if fence is None:
            m = re.match(r"^(`{3,}|~{3,})(.*)$", s)
            if m:
                start, fence, info = pos, m.group(1), m.group(2).strip()
        elif s.startswith(fence) and set(s) == {fence[0]}:
            out.append((start, pos + len(line), info))
            fence = None
        pos += len(line)
    return out


def machine(text):
    """The text of the payload's ```coagent block(s), and the text without them."""
    blocks = [(a, b) for a, b, info in fenced(text) if info == "coagent"]
    inside = "".join(text[a:b] for a, b in blocks)
    rest, last = "", 0
    for a, b in blocks:
        rest += text[last:a]
        last = b
    return inside, rest + text[last:]


def boot_parts(text):
    """A boot or respawn payload's tokens by part, from its headings."""
    mach, rest = machine(text)
    parts = {"capsule": 0, "contract": 0, "handoff": 0, "machine": tokens(mach)}
    cur = "handoff"
    for chunk in re.split(r"(?m)^(?=## )", rest):
        head = chunk.split("\n", 1)[0]
        if head.startswith("## Policy"):
            cur = "capsule"
        elif head.startswith("## Working rules") or head.startswith("## Rules"):
            cur = "contract"
        elif head.startswith("## Handoff"):
            cur = "handoff"
        parts[cur] += tokens(chunk)
    return parts


def result_parts(text):
    """A result payload's tokens: the DOs' logs, diffs and files (fenced blocks), the
    fixed text around them (frame), and the machine block."""
    mach, rest = machine(text)
    content = "".join(rest[a:b] for a, b, _ in fenced(rest))
    frame = len(rest.encode()) - len(content.encode())
    return {"results": tokens(content), "frame": math.ceil(frame / 3.2 * 1.15),
            "machine": tokens(mach)}


def ack_lines(result_text):
    return [l.strip() for l in result_text.splitlines() if re.match(r"^ACK (DO|BC)-", l.strip())]


def play(binary, long_turns):
    tmp = tempfile.mkdtemp(prefix="coagent-tokens-")
    try:
        return play_in(binary, tmp, long_turns)
    finally:
        if not os.environ.get("TOKENS_KEEP"): shutil.rmtree(tmp, ignore_errors=True)


def play_in(binary, tmp, long_turns):
    root = os.path.join(tmp, "notes")
    make_project(root)
    hub = Hub(binary, root)
    hub.cmd("init")
    ids = []
    for title, acc in TODOS:
        args = ["todo", "add", title] + (["--acceptance", acc] if acc else [])
        ids.append(hub.json(*args)["id"])
    boot = hub.json("start", "--vendor", "claude", "--goal", GOAL)
    boot_text = "".join(read(p) for p in boot["payloads"])
    turns = [{"out": boot_parts(boot_text), "in": 0, "dos": 0}]
    acks = []
    for k in range(1, 6):
        reply = read(os.path.join(FIX, f"turn{k}.md")).replace("{acks}", "\n".join(acks))
        for i, t in enumerate(ids, 1):
            reply = reply.replace(f"{{T{i}}}", t)
        path = os.path.join(tmp, f"reply{k}.md")
        with open(path, "w", encoding="utf-8") as f:
            f.write(reply)
        hub.json("ingest", path)
        r = hub.cmd("--json", "do", "run", "--all", "--keep-going", check=False)
        res = json.loads(r.stdout)
        result = "".join(read(p) for p in payload_paths(res))
        acks = ack_lines(result)
        turns.append({"out": result_parts(result), "in": tokens(reply),
                      "dos": len(res.get("runs", []))})
    last = os.path.join(tmp, "reply6.md")
    with open(last, "w", encoding="utf-8") as f:
        f.write("\n".join(acks) + "\n\nAll done on my side.\n")
    hub.json("ingest", last)
    w = hub.json("wrap")
    respawn = "".join(read(p) for p in w["respawn"])
    vendors = hub.json("vendors")["vendors"]
    out = {"turns": turns, "respawn": boot_parts(respawn), "vendors": vendors}
    if long_turns:
        out["long"] = play_long(binary, tmp, long_turns)
    return out


def payload_paths(res):
    p = res.get("payload")
    if isinstance(p, dict):
        return p.get("paths", [])
    if isinstance(p, list):
        return p
    return [p] if p else []


def play_long(binary, tmp, n):
    """A session of n turns, one small DO each, every result ACKed; then a wrap."""
    root = os.path.join(tmp, "long")
    make_project(root)
    hub = Hub(binary, root)
    hub.cmd("init")
    for title, acc in TODOS:
        hub.cmd("todo", "add", title, *(["--acceptance", acc] if acc else []))
    hub.cmd("start", "--vendor", "claude", "--goal", GOAL)
    acks = []
    for k in range(1, n + 1):
        reply = ("Policy v1.0 loaded.\n\n" if k == 1 else "") + "\n".join(acks) + (
            f"\n\nTurn {k}: the next step, checked by the project's own script.\n\n"
            f"```bash\n# DO: Check step {k} of the work on notes\nscripts/check.sh 2>&1 | tail -n 2\n"
            f"echo step {k}\n# END DO\n```\n")
        path = os.path.join(tmp, f"long{k}.md")
        with open(path, "w", encoding="utf-8") as f:
            f.write(reply)
        hub.cmd("ingest", path)
        res = json.loads(hub.cmd("--json", "do", "run", "--all", "--keep-going",
                                 check=False).stdout)
        acks = ack_lines("".join(read(p) for p in payload_paths(res)))
    w = hub.json("wrap")
    respawn = "".join(read(p) for p in w["respawn"])
    return {"turns": n, "respawn": boot_parts(respawn), "respawn_total": tokens(respawn)}


def budget(v):
    if v.get("budget_breach_tokens"):
        return v["budget_breach_tokens"], "budget_breach_tokens"
    return int(v["context_tokens"] * 0.6), "context_tokens*0.6"


def turns_to_breach(turns, limit):
    """Turns a session completes before its running total reaches `limit`; after the
    scripted 5, each turn costs the mean of turns 1-5 (the boot is paid once)."""
    total = sum(turns[0]["out"].values())
    per = [sum(t["out"].values()) + t["in"] for t in turns[1:]]
    mean = sum(per) / len(per)
    k = 0
    while True:
        cost = per[k] if k < len(per) else mean
        if total + cost >= limit:
            return k
        total += cost
        k += 1


def summary(r):
    t = r["turns"]
    boot = sum(t[0]["out"].values())
    dos = sum(x["dos"] for x in t[1:])
    overhead = sum(x["out"]["frame"] + x["out"]["machine"] for x in t[1:])
    s = {"boot": boot, "overhead_per_do": round(overhead / max(dos, 1)),
         "respawn": sum(r["respawn"].values()),
         "after_1": boot + sum(t[1]["out"].values()) + t[1]["in"],
         "after_5": boot + sum(sum(x["out"].values()) + x["in"] for x in t[1:])}
    if "long" in r:
        s["long_respawn"] = r["long"]["respawn_total"]
    return s


PARTS = ["capsule", "contract", "handoff", "results", "frame", "machine"]


def table(name, r):
    print(f"\n## {name}\n")
    print("| turn | DOs | ingested | out | " + " | ".join(PARTS) + " |")
    print("|---|---|---|---|" + "---|" * len(PARTS))
    for k, x in enumerate(r["turns"]):
        label = "boot" if k == 0 else str(k)
        cells = [str(x["out"].get(p, 0)) for p in PARTS]
        print(f"| {label} | {x['dos']} | {x['in']} | {sum(x['out'].values())} | "
              + " | ".join(cells) + " |")
    rp = r["respawn"]
    print(f"| respawn | | | {sum(rp.values())} | " + " | ".join(str(rp.get(p, 0)) for p in PARTS) + " |")
    if "long" in r:
        lp = r["long"]["respawn"]
        print(f"| respawn after {r['long']['turns']} turns | | | {r['long']['respawn_total']} | "
              + " | ".join(str(lp.get(p, 0)) for p in PARTS) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("binary", nargs="?", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", "target"), "release", "coagent"))
    ap.add_argument("--against", help="an older coagent binary, printed as 'before'")
    ap.add_argument("--long", type=int, default=0, help="also wrap after N one-DO turns")
    a = ap.parse_args()
    runs = []
    if a.against:
        runs.append(("before: " + a.against, play(os.path.abspath(a.against), a.long)))
    runs.append(("after: " + a.binary if a.against else a.binary,
                 play(os.path.abspath(a.binary), a.long)))
    print("# Tokens per turn (estimate: bytes / 3.2 + 15%)")
    for name, r in runs:
        table(name, r)
    print("\n## Figures\n")
    heads = [n for n, _ in runs]
    print("| figure | " + " | ".join(heads) + " | target |")
    print("|---|" + "---|" * len(heads) + "---|")
    sums = [summary(r) for _, r in runs]
    targets = {"boot": "<= 1000", "overhead_per_do": "<= 150", "respawn": "",
               "after_1": "", "after_5": "", "long_respawn": "<= 2000"}
    for key in sums[-1]:
        print(f"| {key} | " + " | ".join(str(s.get(key, "")) for s in sums) + f" | {targets.get(key, '')} |")
    print("\n## Turns before the context budget breaches (turns after the 5th cost their mean)\n")
    print("| vendor | budget | from | " + " | ".join(heads) + " |")
    print("|---|---|---|" + "---|" * len(heads))
    for v in runs[-1][1]["vendors"]:
        limit, src = budget(v)
        cells = [str(turns_to_breach(r["turns"], limit)) for _, r in runs]
        print(f"| {v['name']} | {limit} | {src} | " + " | ".join(cells) + " |")
    print("\n## Turns before an effective-context budget of 8K-32K tokens (where published"
          " measurements put the damage)\n")
    print("| budget | " + " | ".join(heads) + " |")
    print("|---|" + "---|" * len(heads))
    for limit in (8_000, 16_000, 32_000):
        print(f"| {limit} | " + " | ".join(str(turns_to_breach(r["turns"], limit)) for _, r in runs) + " |")


if __name__ == "__main__":
    main()
