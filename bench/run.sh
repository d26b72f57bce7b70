#!/usr/bin/env bash
# Whole-process benchmarks of the `coagent` binary: status, start, ingest, do run, ticker.
# Prints a table of median and p95 wall times (ms). See bench/README.md.
#
#   bench/run.sh                      # build release, then measure (~2-3 minutes)
#   BENCH_BIN=/path/to/coagent bench/run.sh   # measure an existing binary, no build
#   BENCH_RUNS=50 bench/run.sh        # more runs per figure (default 30)
#   BENCH_KEEP=1 bench/run.sh         # keep the temporary hubs and print where they are
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
RUNS=${BENCH_RUNS:-30}
PY=${PYTHON:-python3}

if [[ -n "${BENCH_BIN:-}" ]]; then
    BIN=$BENCH_BIN
else
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
    echo "building release (cargo build --release -p coagent-cli) ..." >&2
    (cd "$ROOT" && cargo build --release -p coagent-cli >&2)
    BIN=$CARGO_TARGET_DIR/release/coagent
fi
[[ -x "$BIN" ]] || { echo "no coagent binary at $BIN" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/coagent-bench.XXXXXX")
if [[ -n "${BENCH_KEEP:-}" ]]; then
    echo "hubs kept in $WORK" >&2
else
    trap 'rm -rf "$WORK"' EXIT
fi
OUT=$WORK/results.jsonl

# Never touch the clipboard, never seed ids (a seed makes every command write a counter).
unset COAGENT_SEED COAGENT_NOW COAGENT_HUB
export COAGENT_CLIPBOARD=none COAGENT_NO_CLIPBOARD=1 NO_COLOR=1
# Hub-independent git identity, so the git-snapshot path of `do run` works anywhere.
export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.invalid
export GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.invalid

t() { # t NAME TARGET_MS [timeit options] -- command...
    local name=$1 target=$2; shift 2
    "$PY" "$BENCH/timeit.py" --name "$name" --runs "$RUNS" --out "$OUT" \
        ${target:+--target "$target"} "$@"
}

# A project with a hub, a few TODOs and one live session.
new_hub() { # new_hub DIR [git|plain] [VENDOR]
    local dir=$1 vendor=${3:-claude}
    mkdir -p "$dir"
    if [[ "${2:-}" == git ]]; then
        git -C "$dir" init -q
        printf 'fn main() {}\n' > "$dir/main.rs"
        git -C "$dir" add main.rs && git -C "$dir" commit -qm init
    fi
    (cd "$dir" && "$BIN" init >/dev/null \
        && "$BIN" todo add "Ship the CSV importer" >/dev/null \
        && "$BIN" todo add "Fix the flaky parser test" >/dev/null \
        && "$BIN" todo add "Write the upgrade notes" >/dev/null \
        && "$BIN" start --vendor "$vendor" --goal "bench" --no-clipboard >/dev/null)
}

echo "preparing hubs in $WORK ..." >&2
new_hub "$WORK/small"
new_hub "$WORK/big"
"$PY" "$BENCH/mkhub.py" "$WORK/big/.coagent" --sessions 10000 --events 100000 --live 3 >&2

# --- 0. baselines: process spawn from Python, and the binary doing almost nothing.
t "spawn: /bin/true (harness cost)" "" -- /bin/true
t "coagent --version" "" -- "$BIN" --version

# --- 1. status and start on the big hub (10,000 sessions, 100,000 events).
t "status, small hub" 20 --cwd "$WORK/small" -- "$BIN" status
t "status, big hub" 20 --cwd "$WORK/big" -- "$BIN" status
t "start --no-clipboard, small hub" 20 --cwd "$WORK/small" -- "$BIN" start --vendor claude --goal bench --no-clipboard
t "start --no-clipboard, big hub" 20 --cwd "$WORK/big" -- "$BIN" start --vendor claude --goal bench --no-clipboard

# --- 1b. ids on the big hub: a bare prefix resolves by the index; an unknown id scans
# the newest ids for "did you mean" (an error path, but one a typo takes).
BIGDO=$("$PY" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT id FROM dos ORDER BY rowid DESC LIMIT 1").fetchone()[0])' "$WORK/big/.coagent/store.db")
t "do show, bare id prefix, big hub" 20 --cwd "$WORK/big" -- "$BIN" do show "${BIGDO:3:5}"
t "do show, unknown id (did you mean), big hub" 20 --cwd "$WORK/big" --allow-fail -- "$BIN" do show "DO-${BIGDO:4:5}"

# --- 4. ticker.
# `ticker` rewrites temps/status/ (atomic writes, fsync) only when its line changes; with
# the clock pinned the line never changes, so those rows are the no-write path.
PIN="COAGENT_NOW=$(date -u -d '+2 minutes' +%Y-%m-%dT%H:%M:%SZ)"
t "ticker, small hub" 5 --cwd "$WORK/small" -- "$BIN" ticker
t "ticker, small hub, clock pinned (no write)" 5 --cwd "$WORK/small" --env "$PIN" -- "$BIN" ticker
t "ticker, small hub, ticker.json removed (rewrite)" 5 --cwd "$WORK/small" \
    --prepare "rm -f .coagent/temps/status/ticker.json" -- "$BIN" ticker
t "ticker, big hub" 5 --cwd "$WORK/big" -- "$BIN" ticker
t "ticker, big hub, clock pinned (no write)" 5 --cwd "$WORK/big" --env "$PIN" -- "$BIN" ticker

# --- 2. ingest of a 1 MiB reply (echo + prose + 6 DO blocks).
echo "writing $((RUNS + 3)) replies of 1 MiB ..." >&2
"$PY" "$BENCH/mkreply.py" "$WORK/replies" $((RUNS + 3)) --size 1048576 --dos 6
"$PY" "$BENCH/mkreply.py" "$WORK/small-replies" $((RUNS + 3)) --size 16384 --dos 2
new_hub "$WORK/ingest"
SESSION=$(cd "$WORK/ingest" && "$BIN" status --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["session"])')
t "ingest 1 MiB, first time" 20 --cwd "$WORK/ingest" -- "$BIN" ingest --session "$SESSION" "$WORK/replies/reply-{i}.md"
t "ingest 1 MiB, duplicate" 20 --cwd "$WORK/ingest" -- "$BIN" ingest --session "$SESSION" "$WORK/replies/reply-0.md"
t "ingest 16 KiB, first time (fixed cost)" 20 --cwd "$WORK/ingest" -- "$BIN" ingest --session "$SESSION" "$WORK/small-replies/reply-{i}.md"
# A ChatGPT session counts with o200k_base: a 1 MiB reply breaches its window by the
# floor of its count alone, so the tokenizer is not loaded (see vendor::floor).
new_hub "$WORK/ingest-gpt" plain chatgpt
GPT=$(cd "$WORK/ingest-gpt" && "$BIN" status --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["session"])')
t "ingest 1 MiB, first time, ChatGPT session" 20 --cwd "$WORK/ingest-gpt" -- "$BIN" ingest --session "$GPT" "$WORK/replies/reply-{i}.md"

# --- 3. do run of a trivial script, in a git repo and outside git.
NOOP=$'Policy v1.0 loaded.\n\n```sh\n# DO: noop\ntrue\n# END DO\n```\n'
printf '%s' "$NOOP" > "$WORK/noop.md"
printf 'true\n' > "$WORK/noop.sh"
for kind in git plain; do
    dir="$WORK/do-$kind"
    if [[ $kind == git ]]; then new_hub "$dir" git; else new_hub "$dir"; fi
    DO=$(cd "$dir" && "$BIN" ingest --json "$WORK/noop.md" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["dos"][0]["id"])')
    (cd "$dir" && "$BIN" --yes do run "$DO" >/dev/null 2>&1)
    t "do run --rerun (noop), $kind" 30 --cwd "$dir" -- "$BIN" --yes do run "$DO" --rerun
done
t "sh noop.sh (script alone)" "" -- sh "$WORK/noop.sh"

# --- what the commands are made of, on the same filesystem.
"$PY" "$BENCH/probe.py" "$WORK" "$WORK/big/.coagent/store.db" "$OUT" --runs "$RUNS"

"$PY" "$BENCH/table.py" "$OUT" "$BIN"
