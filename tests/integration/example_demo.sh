#!/usr/bin/env bash
# example_demo.sh -- examples/demo, the program on the public header alone,
# run on a fresh database file and then again on the same file: what it
# prints (the library's version, every thread's work, the checks it makes)
# and what it leaves (the database and its snapshot file). Finds the demo
# beside DUCKPOND_BIN (tests/run.sh sets it).
set -u
BIN=${DUCKPOND_BIN:-$(dirname "$0")/../../build/duckpond}
DEMO=$(dirname "$BIN")/examples/demo
dir=$(mktemp -d /tmp/duckpond-demo-it.XXXXXX)
passed=0
failed=0
trap 'rm -rf "$dir"' EXIT

check() { # name command...
    local name=$1
    shift
    if "$@"; then
        passed=$((passed + 1))
        echo "ok   $name"
    else
        failed=$((failed + 1))
        echo "FAIL $name"
    fi
}

# prints LINE: the output holds a line matching the extended regular expression LINE
prints() { grep -Eq -- "$1" "$dir/out" || { echo "    no line matches: $1"; sed 's/^/    | /' "$dir/out"; false; }; }

db=$dir/demo.duckdb
"$DEMO" "$db" >"$dir/out" 2>"$dir/err"
check "the demo exits 0 on a new file" test $? -eq 0
check "it says nothing on stderr" test ! -s "$dir/err"
check "it names the library's version" prints '^libduckpond 0\.1\.0 \(built with duckpond\.h 0\.1\.0\)$'
check "it opens the file" prints "^opened $db\$"
check "writers commit every trade, conflicts retried" \
    prints '^4 writer threads committed 1000 trades; [0-9]+ conflicts retried with backoff$'
check "readers share the pool" prints '^4 reader threads ran 200 queries on a pool of 2 connections \([0-9]+ waits\)$'
check "the batcher commits every tick in fewer commits than writes" \
    bash -c "grep -Eo '^4 producer threads wrote 1000 ticks, one per write, in [0-9]+ DuckDB commits$' '$dir/out' |
             awk '{ exit !(\$11 >= 1 && \$11 < 1000) }'"
check "the file holds what was written, trades and positions agreeing" \
    prints "^$db now holds 1000 trades and 1000 ticks; trades and positions agree: yes\$"
check "the snapshot is written" prints "^snapshot written to $db.snapshot: "
check "the snapshot is a DuckDB file" test "$(head -c 12 "$db.snapshot" | tail -c 4)" = DUCK

"$DEMO" "$db" >"$dir/out" 2>"$dir/err"
check "run again on the same file, it exits 0" test $? -eq 0
check "it adds to what is there" prints "^$db now holds 2000 trades and 2000 ticks; trades and positions agree: yes\$"

"$DEMO" "$dir/no/such/dir/x.duckdb" >"$dir/out" 2>"$dir/err"
check "a file it cannot open: exit 1" test $? -eq 1
check "with the reason on stderr" grep -q "^demo: cannot open" "$dir/err"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
