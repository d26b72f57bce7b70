#!/usr/bin/env python3
"""Writes realistic chat replies for the ingest benchmark.

Each reply is ~SIZE bytes: the echo `Policy v1.0 loaded.`, markdown prose (headings,
paragraphs, bullet lists, an inline table), and several fenced `bash` DO blocks
(`# DO: …` … `# END DO`) spread through it. Reply k carries its number in a line and in
every DO title, so no two replies are duplicates and every reply proposes new DOs.

usage: mkreply.py OUTDIR COUNT [--size BYTES] [--dos N] [--echo 'Policy v1.0 loaded.']
writes OUTDIR/reply-<k>.md for k in 0..COUNT-1
"""

import argparse
import os
import random

WORDS = (
    "the build cache module runner session artifact handoff capsule review test migrate "
    "schema index latency parser token fixture integration release branch commit diff "
    "config rollout retry backoff timeout worker queue metric budget profile vendor "
    "should would could because therefore however first then finally next also only "
    "we you it this that these those which when where while after before until"
).split()


def paragraph(rng, n):
    words = [rng.choice(WORDS) for _ in range(n)]
    words[0] = words[0].capitalize()
    out, line = [], []
    for w in words:
        line.append(w)
        if rng.random() < 0.08:
            line[-1] += ","
    text = " ".join(line) + "."
    return text


def do_block(rng, k, j):
    lines = [
        "```bash",
        f"# DO: reply {k} step {j}: check the {rng.choice(WORDS)} {rng.choice(WORDS)}",
        "set -euo pipefail",
        f"cd \"$(git rev-parse --show-toplevel 2>/dev/null || pwd)\"",
        f"grep -rn '{rng.choice(WORDS)}' src/ | head -n {rng.randint(5, 50)} || true",
        f"cargo test -p core --quiet -- {rng.choice(WORDS)}_{j} || echo 'tests failed'",
        f"echo 'reply {k} step {j} done'",
        "# END DO",
        "```",
    ]
    return "\n".join(lines)


def reply(k, size, dos):
    rng = random.Random(1000 + k)
    parts = [
        "Policy v1.0 loaded.",
        "",
        f"Reply number {k}. I read the handoff and the open TODOs; here is the plan.",
        "",
    ]
    body_target = size - 2000 * dos
    per_section = max(1, body_target // (dos + 1))
    for j in range(dos + 1):
        sec = []
        sec.append(f"## Part {j + 1}: {rng.choice(WORDS)} {rng.choice(WORDS)}")
        sec.append("")
        used = 0
        while used < per_section:
            r = rng.random()
            if r < 0.15:
                items = [f"- {paragraph(rng, rng.randint(6, 18))}" for _ in range(rng.randint(2, 5))]
                chunk = "\n".join(items)
            elif r < 0.18:
                chunk = "| step | owner | state |\n|---|---|---|\n" + "\n".join(
                    f"| {i} | {rng.choice(WORDS)} | {rng.choice(WORDS)} |" for i in range(4))
            else:
                chunk = paragraph(rng, rng.randint(40, 120))
            sec.append(chunk)
            sec.append("")
            used += len(chunk) + 1
        parts.append("\n".join(sec))
        if j < dos:
            parts.append(do_block(rng, k, j + 1))
            parts.append("")
    parts.append("Run the DOs above in order and paste the results back.")
    text = "\n".join(parts) + "\n"
    return text


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("count", type=int)
    ap.add_argument("--size", type=int, default=1 << 20)
    ap.add_argument("--dos", type=int, default=6)
    a = ap.parse_args()
    os.makedirs(a.outdir, exist_ok=True)
    for k in range(a.count):
        with open(os.path.join(a.outdir, f"reply-{k}.md"), "w", encoding="utf-8") as f:
            f.write(reply(k, a.size, a.dos))


if __name__ == "__main__":
    main()
