#!/usr/bin/env bash
# Peak memory (maximum resident set size, from /usr/bin/time -v) of `coagent do run` with a
# 1 GiB artifact and of `coagent ingest` of a 1 GiB reply. Target: under 64 MiB each.
# See bench/README.md.
#
#   bench/memory.sh                        # build release, then measure
#   BENCH_BIN=/path/to/coagent bench/memory.sh
#   BENCH_MIB=256 bench/memory.sh          # a smaller file (default 1024 MiB)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MIB=${BENCH_MIB:-1024}
TIME=/usr/bin/time
[[ -x "$TIME" ]] || { echo "needs GNU time at /usr/bin/time (apt-get install time)" >&2; exit 1; }

if [[ -n "${BENCH_BIN:-}" ]]; then
    BIN=$BENCH_BIN
else
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
    echo "building release (cargo build --release -p coagent-cli) ..." >&2
    (cd "$ROOT" && cargo build --release -p coagent-cli >&2)
    BIN=$CARGO_TARGET_DIR/release/coagent
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/coagent-memory.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export COAGENT_CLIPBOARD=none COAGENT_NO_CLIPBOARD=1 NO_COLOR=1
unset COAGENT_SEED COAGENT_NOW

# peak LABEL CMD...: runs CMD under /usr/bin/time -v and prints its peak RSS.
peak() {
    local label=$1; shift
    local log="$WORK/time.log"
    local code=0
    "$TIME" -v "$@" >"$WORK/out.txt" 2>"$log" || code=$?
    local kib
    kib=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")
    local wall
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log")
    printf '%-58s %8s MiB  %9s  exit %s\n' "$label" "$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')" "$wall" "$code"
}

# hub DIR: a project with a hub and a started session.
hub() {
    mkdir -p "$1"
    (cd "$1" && "$BIN" init >/dev/null && "$BIN" start --vendor claude >/dev/null)
}

# do_case LABEL LIMIT_MIB SCRIPT: ingests a DO whose script is SCRIPT, then measures its run.
do_case() {
    local label=$1 limit=$2 script=$3 dir="$WORK/p$RANDOM"
    hub "$dir"
    sed -i "s/^artifact_max_mib = .*/artifact_max_mib = $limit/" "$dir/.coagent/config.toml"
    printf 'Policy v1.0 loaded.\n\n```sh\n# DO: Big artifact\n%s\n# END DO\n```\n' "$script" >"$dir/reply.md"
    local id
    id=$(cd "$dir" && "$BIN" --json ingest reply.md | python3 -c 'import json,sys; print(json.load(sys.stdin)["dos"][0]["id"])')
    (cd "$dir" && peak "$label" "$BIN" --json do run "$id")
    python3 - "$WORK/out.txt" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for a in r.get("artifacts", []):
    if a["bytes"] > 1 << 20:
        print(f"    {a['kind']} {a['path']}: {a['bytes']} bytes, sha256 {a['sha256'][:12]}")
for w in r.get("warnings", []):
    print(f"    warning: {w}")
PY
    rm -rf "$dir"
}

echo "coagent: $BIN · file size: $MIB MiB"
do_case "do run: $MIB MiB file in \$COAGENT_OUT (limit 64 MiB)" 64 \
    "head -c $((MIB << 20)) /dev/zero > \"\$COAGENT_OUT/big.bin\""
do_case "do run: $MIB MiB file in \$COAGENT_OUT (limit $((MIB * 2)) MiB: copied)" $((MIB * 2)) \
    "head -c $((MIB << 20)) /dev/zero > \"\$COAGENT_OUT/big.bin\""
do_case "do run: $MIB MiB # ARTIFACT: in the project (limit 64 MiB)" 64 \
    "head -c $((MIB << 20)) /dev/zero > big.bin
# ARTIFACT: big.bin"

dir="$WORK/ingest"
hub "$dir"
python3 - "$dir/big-reply.md" "$MIB" <<'PY'
import sys
path, mib = sys.argv[1], int(sys.argv[2])
line = ("The plan: parse the CSV header, map the columns, validate every row. " * 4 + "\n").encode()
with open(path, "wb") as f:
    f.write(b"Policy v1.0 loaded.\n\n")
    left = mib << 20
    while left > 0:
        chunk = line * 4096
        f.write(chunk[:left])
        left -= len(chunk)
PY
(cd "$dir" && peak "ingest FILE: a $MIB MiB reply (refused over 16 MiB)" "$BIN" ingest big-reply.md)
sed -n '1,2p' "$WORK/time.log" | grep -i error || true
(cd "$dir" && peak "ingest -: a $MIB MiB reply on stdin" sh -c "\"$BIN\" ingest - < big-reply.md")
