#!/usr/bin/env bash
# example_demo.sh -- examples/demo, the program on the public header alone,
# run on a fresh database file and then again on the same file: what it
# prints (the library's version, every thread's work, the checks it makes)
# and what it leaves (the database and its snapshot file). The demo is
# found beside DUCKPOND_BIN (tests/run.sh sets it); no server is started.
set -u
. "$(dirname "$0")/pg_common.bash"
DEMO=$(dirname "$DUCKPOND_BIN")/examples/demo

# prints LINE: the demo's output holds a line matching the extended regular expression LINE
prints() { grep -Eq -- "$1" "$WORK/out" || { echo "no line matches: $1"; cat "$WORK/out"; false; }; }

# commits_below N: the batcher committed the ticks in fewer than N DuckDB commits
commits_below() {
    local n
    n=$(sed -nE 's/^4 producer threads wrote 1000 ticks, one per write, in ([0-9]+) DuckDB commits$/\1/p' "$WORK/out")
    [ -n "$n" ] && [ "$n" -ge 1 ] && [ "$n" -lt "$1" ] || { echo "commits: '$n'"; cat "$WORK/out"; false; }
}

db=$WORK/demo.duckdb
"$DEMO" "$db" >"$WORK/out" 2>"$WORK/err"
check_eq "the demo exits 0 on a new file" 0 $?
check_eq "it says nothing on stderr" "" "$(cat "$WORK/err")"
check "it names the library's version" prints '^libduckpond 0\.1\.0 \(built with duckpond\.h 0\.1\.0\)$'
check "it opens the file" prints "^opened $db\$"
check "writers commit every trade, conflicts retried" \
    prints '^4 writer threads committed 1000 trades; [0-9]+ conflicts retried with backoff$'
check "readers share the pool" prints '^4 reader threads ran 200 queries on a pool of 2 connections \([0-9]+ waits\)$'
check "the batcher commits every tick, in fewer commits than writes" commits_below 1000
check "the file holds what was written, trades and positions agreeing" \
    prints "^$db now holds 1000 trades and 1000 ticks; trades and positions agree: yes\$"
check "the snapshot is written" prints "^snapshot written to $db.snapshot: "
check_eq "the snapshot is a DuckDB file" DUCK "$(head -c 12 "$db.snapshot" | tail -c 4)"

"$DEMO" "$db" >"$WORK/out" 2>"$WORK/err"
check_eq "run again on the same file, it exits 0" 0 $?
check "it adds to what is there" prints "^$db now holds 2000 trades and 2000 ticks; trades and positions agree: yes\$"

"$DEMO" "$WORK/no/such/dir/x.duckdb" >"$WORK/out" 2>"$WORK/err"
check_eq "a file it cannot open: exit 1" 1 $?
check "with the reason on stderr" grep -q "^demo: cannot open" "$WORK/err"

finish
