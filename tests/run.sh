#!/usr/bin/env bash
# Runs every test of the build directories given (e.g. "build build-asan
# build-fuzz"), in this order: the C unit tests of each (DIR/tests/test_*),
# the integration tests (tests/integration/*.sh, *.py, *.js) against the
# server of each build that has one (DIR/duckpond), and the fuzz drivers of
# each (DIR/fuzz/fuzz_*), each for a short bounded time on its corpus.
#
# Every test is bounded in time: past TEST_TIMEOUT seconds (default 600)
# it is stopped, with the servers it started (timeout(1) signals the whole
# process group), and counted as failed. Each test's duration is printed
# after its output, the total at the end, and the last line is always
# "N passed, N failed"; the exit status is non-zero on any failure.
#
# Sanitizer reports (ASan, LSan, UBSan) of every process a test starts go
# to files rather than to stderr, because servers' stderr often goes to a
# log that the test deletes: a test after which any report is found fails,
# and the reports are printed.
#
#   TEST_TIMEOUT=600   seconds a test may run
#   FUZZ_SECONDS=15    seconds each fuzz driver runs (-max_total_time)
set -u
cd "$(dirname "$0")/.."
builds=("$@")
[ ${#builds[@]} -eq 0 ] && builds=(build)
timeout_s=${TEST_TIMEOUT:-600}
fuzz_s=${FUZZ_SECONDS:-15}
passed=0
failed=0
failures=()
start_all=$EPOCHREALTIME
current=
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"

# Interrupted (^C reaches this script, not the test, which timeout(1)
# keeps in a process group of its own): stop the running test and its
# servers too.
stop_current() {
    [ -n "$current" ] && kill -TERM "$current" 2>/dev/null && wait "$current"
    exit 130
}
trap stop_current INT TERM

# Adds the counts of one test program: its "N passed, N failed" line, or
# one test judged by its exit status when it prints none.
count() { # name log status
    local line p f
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$2" | tail -n 1)
    if [ -n "$line" ]; then
        p=${line%% passed*}
        f=${line#*passed, }
        f=${f%% failed*}
    elif [ "$3" -eq 0 ]; then p=1 f=0; else p=0 f=1; fi
    [ "$3" -ne 0 ] && [ "$f" -eq 0 ] && f=1
    passed=$((passed + p))
    failed=$((failed + f))
    [ "$f" -ne 0 ] && failures+=("$1")
}

# Seconds since an $EPOCHREALTIME reading, with one decimal.
since() { # start
    local now=$EPOCHREALTIME
    local us=$((10#${now/[.,]/} - 10#${1/[.,]/}))
    printf '%d.%d' $((us / 1000000)) $((us % 1000000 / 100000))
}

# Runs one test under the time bound; prints its output (all of it, or
# through a filter when one is given and the test passed), what the
# sanitizers reported, and its duration.
run() { # name filter command...
    local name=$1 filter=$2 log san t0 rc
    shift 2
    log=$(mktemp)
    san=$(mktemp -d)
    echo "== $name"
    t0=$EPOCHREALTIME
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:log_path=$san/report" \
        UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$san/report" \
        timeout -k 10 "$timeout_s" "$@" >"$log" 2>&1 </dev/null &
    current=$!
    wait "$current"
    rc=$?
    current=
    if [ -n "$filter" ] && [ "$rc" -eq 0 ]; then "$filter" "$log"; else cat "$log"; fi
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        echo "TIMEOUT: stopped after ${timeout_s} s (TEST_TIMEOUT)" | tee -a "$log"
    fi
    if compgen -G "$san/report*" >/dev/null; then
        echo "SANITIZER: a process of this test reported:" | tee -a "$log"
        cat "$san"/report*
        rc=1
    fi
    count "$name" "$log" "$rc"
    echo "-- $name: $([ "$rc" -eq 0 ] && echo ok || echo FAILED) in $(since "$t0") s"
    rm -rf "$log" "$san"
}

# What a fuzz run that passed shows: the corpus it started from and the
# final figures, not every new input found.
fuzz_summary() { # log
    grep -E '^(INFO: +[0-9]+ files found|#[0-9]+[[:space:]]+INITED|Done [0-9]+ runs|stat::)' "$1"
}

# A program whose source is gone (a test or driver renamed or removed) is
# left over from an earlier build, and is not run.
for b in "${builds[@]}"; do
    for t in "$b"/tests/test_*; do
        [ -x "$t" ] && [ -f "tests/unit/${t##*/}.c" ] || continue
        run "$t" "" "$t"
    done
done

for b in "${builds[@]}"; do
    [ -x "$b/duckpond" ] || continue
    export DUCKPOND_BIN="$PWD/$b/duckpond"
    for t in tests/integration/*; do
        case "$t" in
        *.sh) run "$t [$b]" "" bash "$t" ;;
        *.py) run "$t [$b]" "" /usr/bin/python3 "$t" ;;
        *.js) run "$t [$b]" "" node "$t" ;;
        esac
    done
done

# Each driver reads its seeds (tests/fuzz/corpus/NAME) and keeps what it
# finds in DIR/fuzz/corpus/NAME (the first folder named is the one it
# writes), so the seeds in git are never touched; a crash is kept in
# DIR/fuzz/artifacts.
for b in "${builds[@]}"; do
    for t in "$b"/fuzz/fuzz_*; do
        n=${t##*/}
        [ -x "$t" ] && [ -f "tests/fuzz/$n.c" ] || continue
        mkdir -p "$b/fuzz/corpus/$n" "$b/fuzz/artifacts"
        seeds=()
        [ -d "tests/fuzz/corpus/$n" ] && seeds=("tests/fuzz/corpus/$n")
        run "$t" fuzz_summary "$t" -max_total_time="$fuzz_s" -timeout=30 -rss_limit_mb=4096 \
            -print_final_stats=1 -artifact_prefix="$b/fuzz/artifacts/$n-" "$b/fuzz/corpus/$n" "${seeds[@]}"
    done
done

[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "total time: $(since "$start_all") s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
