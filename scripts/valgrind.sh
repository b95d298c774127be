#!/usr/bin/env bash
# valgrind.sh - the long-running integration tests once more, with every roost they start
# under Valgrind's memcheck (`make valgrind`). The ASan run in `make test` already finds leaks
# (LeakSanitizer) and bad accesses; memcheck adds what ASan cannot see: decisions taken on
# uninitialised memory. Fails on any memcheck error or any definite or indirect leak at exit.
# Not part of `make test`: under memcheck roost is 20-50x slower (about 3 minutes here).
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test || exit 1
logs=build/valgrind
rm -rf "$logs"
mkdir -p "$logs"
wrapper=$logs/roost
cat >"$wrapper" <<WRAP
#!/bin/sh
exec valgrind -q --tool=memcheck --leak-check=full --errors-for-leak-kinds=definite,indirect \\
    --error-exitcode=99 --log-file=$PWD/$logs/memcheck.%p.log $PWD/build/release/roost "\$@"
WRAP
chmod +x "$wrapper"
files=()
for f in sio eio ws platform http graphql hardening tls; do files+=("integration/$f.test.mjs"); done
(cd tests && ROOST_BIN=../$wrapper ROOST_MODE=valgrind node --test --test-reporter=tap \
    --test-concurrency=2 --test-timeout=300000 "${files[@]}" \
    >"../$logs/integration.tap" 2>&1)
rc=$?
pass=$(grep -E '^# pass ' "$logs/integration.tap" | awk '{print $3}')
fail=$(grep -E '^# fail ' "$logs/integration.tap" | awk '{print $3}')
procs=$(ls "$logs"/memcheck.*.log 2>/dev/null | wc -l)
bad=$(find "$logs" -name 'memcheck.*.log' -size +0 | wc -l)
echo "valgrind: ${pass:-0} tests passed, ${fail:-?} failed; $procs roost processes under memcheck, $bad with findings"
for f in $(find "$logs" -name 'memcheck.*.log' -size +0); do echo "== $f"; head -40 "$f"; done
[ "$rc" -eq 0 ] && [ "$bad" -eq 0 ]
