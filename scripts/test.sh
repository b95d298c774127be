#!/usr/bin/env bash
# test.sh [unit|integration|fuzz|all] - run roost's test suites and print one summary.
#   unit         C unit tests, release and ASan+UBSan builds
#   integration  Node tests (tests/integration) against the real binary, release and ASan+UBSan
#   fuzz         every libFuzzer driver briefly (FUZZ_SECONDS, default 8 s each)
# Exits non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
total_pass=0; total_fail=0; failures=()
mkdir -p tests/artifacts

count() { # label passed failed
    total_pass=$((total_pass + $2)); total_fail=$((total_fail + $3))
    [ "$3" -gt 0 ] && failures+=("$1")
    printf '%-40s %5d passed, %d failed\n' "$1" "$2" "$3"
}

run_unit() { # mode
    local p=0 f=0 bin out line
    for bin in build/$1/tests/*/test_*; do
        [ -x "$bin" ] || continue
        out=$("$bin" 2>&1); local rc=$?
        line=$(printf '%s\n' "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
        if [ -z "$line" ]; then
            printf '%s\n' "$out" | tail -20; echo "unit: $bin crashed (exit $rc)"; f=$((f+1)); continue
        fi
        local bp=${line%% passed*} bf=${line#*, }; bf=${bf%% failed}
        if [ "$bf" -gt 0 ] || [ $rc -ne 0 ]; then printf '%s\n' "$out" | grep -v '^ok ' ; fi
        p=$((p+bp)); f=$((f+bf))
        [ $rc -ne 0 ] && [ "$bf" -eq 0 ] && f=$((f+1))
    done
    count "unit ($1)" $p $f
}

run_integration() { # mode
    [ -d tests/integration ] && ls tests/integration/*.test.mjs >/dev/null 2>&1 || return 0
    local log=tests/artifacts/integration-$1.tap
    (cd tests && ROOST_BIN=../build/$1/roost ROOST_MODE=$1 node --test --test-reporter=tap \
        --test-concurrency=2 --test-timeout=300000 integration/ >"../$log" 2>&1)
    local rc=$?
    local p f
    p=$(grep -E '^# pass [0-9]+' "$log" | tail -1 | awk '{print $3}')
    f=$(grep -E '^# fail [0-9]+' "$log" | tail -1 | awk '{print $3}')
    p=${p:-0}; f=${f:-0}
    if [ "$f" -gt 0 ] || [ $rc -ne 0 ]; then
        grep -nE '^(not ok|# Subtest)|error|Error|expected|actual' "$log" | grep -B1 -A12 'not ok' | head -150
        [ "$f" -eq 0 ] && f=1
    fi
    count "integration ($1)" "$p" "$f"
}

run_fuzz() {
    make --no-print-directory -j2 fuzz-build >/dev/null || { count fuzz 0 1; return; }
    local out; out=$(scripts/fuzz.sh "${FUZZ_SECONDS:-8}" 2>&1)
    printf '%s\n' "$out" | grep -v '^fuzz: [a-z_0-9]* for' | grep -v 'passed, ' || true
    local line; line=$(printf '%s\n' "$out" | tail -1)
    local p=${line#fuzz: }; p=${p%% passed*}
    local f=${line#*, }; f=${f%% failed}
    count "fuzz (${FUZZ_SECONDS:-8}s each)" "${p:-0}" "${f:-1}"
}

# A throwaway PostgreSQL (loopback, trust auth) so the store and platform suites also run
# against the PostgreSQL backend; stopped by PID on exit.
start_pg() {
    [ -n "${ROOST_TEST_PG:-}" ] && return 0
    if ROOST_TEST_PG=$(scripts/pg-test.sh start 2>/tmp/roost-pg-start.log); then
        export ROOST_TEST_PG
        trap 'scripts/pg-test.sh stop "$ROOST_TEST_PG" >/dev/null 2>&1 || true' EXIT
        echo "postgres: $ROOST_TEST_PG"
    else
        echo "postgres: could not start a test server:"; cat /tmp/roost-pg-start.log
        count "postgres start" 0 1
    fi
}

case "$what" in
unit) start_pg; run_unit release ;;
integration) start_pg; run_integration release ;;
fuzz) run_fuzz ;;
all)
    start_pg
    run_unit release
    run_unit asan
    run_integration release
    run_integration asan
    run_fuzz
    ;;
esac
echo
[ ${#failures[@]} -gt 0 ] && echo "failed suites: ${failures[*]}"
echo "total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
