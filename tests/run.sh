#!/usr/bin/env bash
# Runs every test: the C unit tests of each build directory given (e.g.
# "build build-asan"), then the integration tests (tests/integration/*.sh,
# *.py, *.js) against the first build's server. Ends with one line
# "N passed, N failed" for the whole run; exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
builds=("$@")
[ ${#builds[@]} -eq 0 ] && builds=(build)
passed=0
failed=0
failures=()
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

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

run() { # name command...
    local name=$1 log
    shift
    log=$(mktemp)
    echo "== $name"
    "$@" >"$log" 2>&1
    local rc=$?
    cat "$log"
    count "$name" "$log" "$rc"
    rm -f "$log"
}

for b in "${builds[@]}"; do
    for t in "$b"/tests/test_*; do
        [ -x "$t" ] || continue
        case "$t" in *.d) continue ;; esac
        run "$t" "$t"
    done
done

export DUCKPOND_BIN="$PWD/${builds[0]}/duckpond"
for t in tests/integration/*; do
    case "$t" in
    *.sh) run "$t" bash "$t" ;;
    *.py) run "$t" /usr/bin/python3 "$t" ;;
    *.js) run "$t" node "$t" ;;
    esac
done

[ ${#failures[@]} -gt 0 ] && printf 'failed: %s\n' "${failures[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
