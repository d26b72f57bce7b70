#!/bin/sh
# The project's checks: the unit tests, quietly; exit code is the verdict.
set -eu
cd "$(dirname "$0")/.."
python3 -m unittest discover -s tests -q
