#!/usr/bin/env bash
# Runs every benchmark, one after another, each printing its own table with
# its baselines and ratios: the binaries in <build>/bench (default build),
# then the bench/*.sh scripts (servers started on 127.0.0.1, free ports).
# BENCH=name runs only the benchmarks whose name contains it. Exits
# non-zero if any benchmark failed.
set -u
cd "$(dirname "$0")/.."
build=${1:-build}
export DUCKPOND_BIN="$PWD/$build/duckpond"
status=0
run() {
    case "$1" in *"${BENCH:-}"*) ;; *) return ;; esac
    echo "== $1"
    "$@" || { echo "FAILED: $1"; status=1; }
    echo
}
for b in "$build"/bench/*; do
    [ -f "$b" ] && [ -x "$b" ] || continue
    case "$b" in *.d) continue ;; esac
    run "$b"
done
for s in bench/*.sh; do
    run "$s"
done
exit $status
