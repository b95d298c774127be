#!/usr/bin/env bash
# fuzz.sh SECONDS - run every built fuzzer for SECONDS each on its corpus (fuzz/corpus/NAME);
# new inputs go to a scratch directory so the committed corpus changes only by hand.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
fail=0; ran=0
for bin in build/fuzz/fuzz_*; do
    [ -x "$bin" ] || continue
    name=$(basename "$bin"); name=${name#fuzz_}
    corpus=fuzz/corpus/$name; work=fuzz/work/$name
    mkdir -p "$corpus" "$work"
    dict=(); [ -f "fuzz/$name.dict" ] && dict=(-dict="fuzz/$name.dict")
    echo "fuzz: $name for ${secs}s"
    if "$bin" -max_total_time="$secs" -print_final_stats=0 -artifact_prefix=fuzz/ "${dict[@]}" \
        "$work" "$corpus" >"fuzz/work/$name.log" 2>&1; then
        ran=$((ran+1))
    else
        echo "fuzz: $name FAILED (see fuzz/work/$name.log)"; tail -30 "fuzz/work/$name.log"
        fail=$((fail+1))
    fi
done
echo "fuzz: $ran passed, $fail failed"
exit $((fail > 0))
