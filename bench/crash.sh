#!/usr/bin/env bash
# The long crash test: N SIGKILLs of `ingest`, `do run`, `wrap`, `start` and `todo add` at
# random (seeded) moments against the release binary, then `coagent doctor --repair`, and
# the figures: kills, corruptions, lost records, runs left running, processes left, orphan
# files after doctor (target: every figure 0). The suite runs the same test with 24 kills.
#
#   bench/crash.sh                     # 400 kills, seed 12
#   bench/crash.sh --kills 100 --seed 7
#   BENCH_BIN=/path/to/coagent bench/crash.sh   # that binary, no release build
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
KILLS=400
SEED=12
while [[ $# -gt 0 ]]; do
    case $1 in
        --kills) KILLS=$2; shift 2 ;;
        --seed) SEED=$2; shift 2 ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "unknown argument $1 (try --help)" >&2; exit 1 ;;
    esac
done
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
cd "$ROOT"
if [[ -n "${BENCH_BIN:-}" ]]; then
    BIN=$BENCH_BIN
else
    echo "building release (cargo build --release -p coagent-cli) ..." >&2
    cargo build --release -p coagent-cli >&2
    BIN=$CARGO_TARGET_DIR/release/coagent
fi
# The test driver itself is the suite's (a debug build is fine); the commands it kills
# are the release binary's.
COAGENT_TEST_BIN=$BIN COAGENT_CRASH_KILLS=$KILLS COAGENT_CRASH_SEED=$SEED \
    cargo test -p coagent-cli --test cli -- --nocapture crash_test_random_kills 2>&1 \
    | grep -E '^crash:|^lost:|^after doctor:|^exit 2|panicked|test result'
