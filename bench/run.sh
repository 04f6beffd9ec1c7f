#!/usr/bin/env bash
# Runs every benchmark binary in <build>/bench (default: build), one after
# another, each printing its own table with its baselines and ratios.
# Scripts and make's .d files there are skipped. Exits non-zero if any
# benchmark failed.
set -u
cd "$(dirname "$0")/.."
build=${1:-build}
status=0
for b in "$build"/bench/*; do
    [ -f "$b" ] && [ -x "$b" ] || continue
    case "$b" in *.d | *.sh | *.py | *.js | *.lua) continue ;; esac
    head -c 2 "$b" | grep -q '#!' && continue # a script, not a binary
    echo "== $b"
    "$b" || { echo "FAILED: $b"; status=1; }
    echo
done
exit $status
