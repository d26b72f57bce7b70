#!/usr/bin/env bash
# Compare `coagent guard scan` with ripsecrets (crates.io) and detect-secrets (PyPI) on
# the same folder: wall time and number of findings for each.
#
# Usage: bench/guard-compare.sh [DIR]
#   DIR  folder to scan; default: a folder generated under $WORK (see below) with
#        - secrets/: the guard's labelled true secrets (one per file, 200 files), and
#        - clean/:   real source code copied from this machine at run time (Python's
#                    standard library without site-packages, and the cargo registry's
#                    sources up to ~100 MB), never committed.
# Environment:
#   WORK       scratch folder              (default: /work/guard-compare)
#   TOOLS_DIR  where the tools get installed (default: $WORK/tools)
#
# ripsecrets is installed with `cargo install ripsecrets --locked` into $TOOLS_DIR unless
# it is already on PATH; detect-secrets with pip into a virtualenv in $TOOLS_DIR.
# The coagent binary is built in release mode; if it does not have `guard scan` yet, the
# script says so and runs the guard library's `scan` example instead (same engine, same
# JSON), labelled as such.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${WORK:-/work/guard-compare}"
TOOLS_DIR="${TOOLS_DIR:-$WORK/tools}"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
mkdir -p "$WORK" "$TOOLS_DIR"

say() { printf '%s\n' "$*" >&2; }

# --- the folder ------------------------------------------------------------------------
DIR="${1:-}"
if [[ -z "$DIR" ]]; then
  DIR="$WORK/corpus"
  if [[ ! -d "$DIR" ]]; then
    say "generating $DIR"
    mkdir -p "$DIR/secrets" "$DIR/clean"
    python3 - "$ROOT/crates/coagent-guard/tests/corpus/secrets.toml" "$DIR/secrets" <<'EOF'
import sys, tomllib, pathlib
entries = tomllib.load(open(sys.argv[1], "rb"))["secret"]
out = pathlib.Path(sys.argv[2])
for i, e in enumerate(entries):
    (out / f"{i:03d}-{e['rule']}.txt").write_text(e["text"] + "\n")
EOF
    python3 - "$DIR/clean/python-stdlib" <<'EOF'
import pathlib, shutil, sys, sysconfig
src = pathlib.Path(sysconfig.get_paths()["stdlib"])
dst = pathlib.Path(sys.argv[1])
for f in src.rglob("*.py"):
    if "site-packages" in f.parts:
        continue
    target = dst / f.relative_to(src)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(f, target)
EOF
    registry="${CARGO_HOME:-$HOME/.cargo}/registry/src"
    if [[ -d "$registry" ]]; then
      mkdir -p "$DIR/clean/cargo-registry"
      budget=$((100 * 1024 * 1024))
      for crate in "$registry"/*/*; do
        [[ -d "$crate" ]] || continue
        size=$(du -sb "$crate" | cut -f1)
        ((budget -= size))
        ((budget < 0)) && break
        cp -r "$crate" "$DIR/clean/cargo-registry/"
      done
    fi
  fi
fi
[[ -d "$DIR" ]] || { say "error: $DIR is not a folder"; exit 1; }
say "folder: $DIR ($(du -sh "$DIR" | cut -f1), $(find "$DIR" -type f | wc -l) files)"

# --- the tools -------------------------------------------------------------------------
export PATH="$TOOLS_DIR/bin:$TOOLS_DIR/venv/bin:$PATH"
if ! command -v ripsecrets >/dev/null; then
  say "installing ripsecrets into $TOOLS_DIR"
  cargo install ripsecrets --locked --root "$TOOLS_DIR" >&2 || say "ripsecrets: install failed"
fi
if ! command -v detect-secrets >/dev/null; then
  say "installing detect-secrets into $TOOLS_DIR/venv"
  { python3 -m venv "$TOOLS_DIR/venv" && "$TOOLS_DIR/venv/bin/pip" install --quiet detect-secrets; } >&2 ||
    say "detect-secrets: install failed"
fi
say "building coagent (release)"
(cd "$ROOT" && cargo build --release -p coagent-cli >&2) || say "coagent: build failed"
COAGENT="$TARGET/release/coagent"

# --- running ---------------------------------------------------------------------------
now() { date +%s.%N; }
elapsed() { python3 -c "print(f'{$2 - $1:.2f}')"; }
# From "path" lines on stdin (one per finding): findings, labelled files in secrets/ with
# at least one finding (recall out of the 200 files), findings elsewhere.
split_counts() {
  python3 -c '
import sys
paths = [l.rstrip("\n") for l in sys.stdin if l.strip()]
hit = {p for p in paths if "/secrets/" in p or p.startswith("./secrets/") or p.startswith("secrets/")}
other = sum(1 for p in paths if p not in hit)
print(f"{len(paths)} {len(hit)} {other}")'
}
printf '%-34s %9s %9s %16s %10s\n' tool "wall (s)" findings "secret files" elsewhere
row() { printf '%-34s %9s %9s %16s %10s\n' "$1" "$2" "$3" "$4" "$5"; }

run_json_guard() { # label, command...
  local label="$1"; shift
  local t0 t1 out
  out="$WORK/$(echo "$label" | tr -c 'a-z0-9' '-').json"
  t0=$(now); "$@" >"$out" 2>"$out.err"; t1=$(now)
  if ! python3 -c 'import json,sys; json.load(open(sys.argv[1]))["findings"]' "$out" 2>/dev/null; then
    return 1
  fi
  read -r total s other < <(python3 -c '
import json, sys
for f in json.load(open(sys.argv[1]))["findings"]: print(f["path"])' "$out" | split_counts)
  row "$label" "$(elapsed "$t0" "$t1")" "$total" "$s" "$other"
}

if [[ -x "$COAGENT" ]] && run_json_guard "coagent guard scan" "$COAGENT" guard scan --json "$DIR"; then
  :
else
  say "note: \`$COAGENT guard scan --json\` is not available yet; running the guard library's"
  say "      scan example instead (same engine and JSON)"
  (cd "$ROOT" && cargo build --release -p coagent-guard --example scan >&2)
  run_json_guard "coagent-guard (library example)" "$TARGET/release/examples/scan" "$DIR" ||
    row "coagent-guard" "-" "unavailable" "-" "-"
fi

if command -v ripsecrets >/dev/null; then
  t0=$(now); ripsecrets "$DIR" >"$WORK/ripsecrets.txt" 2>"$WORK/ripsecrets.err"; t1=$(now)
  # One line per finding: path:line:match
  read -r total s other < <(cut -d: -f1 "$WORK/ripsecrets.txt" | split_counts)
  row "ripsecrets $(ripsecrets --version 2>/dev/null | awk '{print $2}')" "$(elapsed "$t0" "$t1")" "$total" "$s" "$other"
else
  row ripsecrets - unavailable - -
fi

if command -v detect-secrets >/dev/null; then
  t0=$(now); (cd "$DIR" && detect-secrets scan --all-files . >"$WORK/detect-secrets.json" 2>"$WORK/detect-secrets.err"); t1=$(now)
  read -r total s other < <(python3 -c '
import json, os, sys
for path, items in json.load(open(sys.argv[1]))["results"].items():
    for _ in items: print(os.path.join(sys.argv[2], path))' "$WORK/detect-secrets.json" "$DIR" | split_counts)
  row "detect-secrets $(detect-secrets --version 2>/dev/null)" "$(elapsed "$t0" "$t1")" "$total" "$s" "$other"
else
  row detect-secrets - unavailable - -
fi
say "raw outputs in $WORK"
