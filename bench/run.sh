#!/usr/bin/env bash
# run.sh - roost's benchmark, side by side with Node.js Socket.IO and the raw epoll floor.
# `make bench` calls this; it can also be run by hand from anywhere in the repository.
#
#   bench/run.sh              every scenario, 3 rounds, interleaved roost, peer, floor, roost...
#   QUICK=1 bench/run.sh      smoke run (~1 minute): 1 round, short windows, small counts
#
# Environment: ROUNDS (default 3), SERVER_CPU (0), LOADGEN_CPU (1), PORT_BASE (17000),
# ROOST (build/release/roost), ONLY (a regular expression on scenario names),
# README_UPDATE (1 on full runs without ONLY: rewrite the tables in bench/README.md,
# latest.json and the plots; other runs write bench/results/quick*), BUDGET_S (840 s:
# scenarios that would end past it are skipped, and listed as skipped in the report; the
# scenarios behind issue 12's targets run first).
# Output: bench/results/<stamp>.json (every run and the medians), bench/results/latest.json,
# bench/results/*.svg, and the tables in bench/README.md (full runs) or
# bench/results/quick.md (QUICK=1).
#
# roost is started as `roost --conformance --listen 127.0.0.1:PORT --threads 1` with the
# production heartbeat (25 s / 20 s), like the Node.js peer. While the binary is missing or
# lacks that mode, its rows are skipped and the peers still run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=${QUICK:-0}
ROUNDS=${ROUNDS:-$([ "$QUICK" = 1 ] && echo 1 || echo 3)}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
PORT=${PORT_BASE:-17000}
ROOST=${ROOST:-build/release/roost}
ONLY=${ONLY:-.}
README_UPDATE=${README_UPDATE:-$([ "$QUICK" = 0 ] && [ "$ONLY" = . ] && echo 1 || echo 0)}
OUT=build/bench
RESULTS=bench/results
STAMP=$(date -u +%Y%m%d-%H%M%S)
RAW=$OUT/runs-$STAMP.jsonl
PING=(--ping-interval 25000 --ping-timeout 20000)
T_START=$(date +%s)
BUDGET_S=${BUDGET_S:-$([ "$QUICK" = 1 ] && echo 100 || echo 840)}
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
SKIPPED=()

say() { printf '%s\n' "bench: $*" >&2; }

# ---- preparation ------------------------------------------------------------------------
mkdir -p "$OUT" "$RESULTS"
: >"$RAW"
if [ "$(nproc)" -lt 2 ]; then
    say "only one core: server and load generator share it; figures will be pessimistic"
    LOADGEN_CPU=$SERVER_CPU
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
say "descriptor limit $(ulimit -n) per process"

CFLAGS="-std=gnu11 -O2 -Wall -Wextra -Wno-unused-parameter -Wshadow -Wstrict-prototypes -Wvla"
cc $CFLAGS -o $OUT/loadgen bench/loadgen.c bench/hist.c -lpthread
cc $CFLAGS -o $OUT/floor bench/floor.c

command -v node >/dev/null || { say "node is missing: run scripts/deps.sh build"; exit 1; }
if [ ! -d bench/peers/node_modules ] ||
    [ bench/peers/package-lock.json -nt bench/peers/node_modules/.package-lock.json ]; then
    say "npm ci in bench/peers"
    (cd bench/peers && npm ci --no-audit --no-fund --loglevel=error)
fi
if ! command -v gnuplot >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        say "installing gnuplot-nox (Debian) for the plots"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends gnuplot-nox \
            >/dev/null || say "could not install gnuplot: no plots this time"
    else
        say "gnuplot missing (sudo apt-get install gnuplot-nox): no plots this time"
    fi
fi

ROOST_OK=1
if [ ! -x "$ROOST" ]; then
    say "roost binary missing ($ROOST): build it with 'make build'; roost rows are skipped"
    ROOST_OK=0
fi

# ---- servers ----------------------------------------------------------------------------
SERVER_PID=
wait_port() { # port pid: up to 10 s for the server to accept
    local i
    for i in $(seq 1 200); do
        kill -0 "$2" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    return 1
}

# start_server KIND PORT: starts it pinned to SERVER_CPU; sets SERVER_PID. Non-zero on failure.
start_server() {
    local kind=$1 port=$2 log=$OUT/server-$kind.log
    case $kind in
    roost) taskset -c "$SERVER_CPU" "$ROOST" --conformance --listen "127.0.0.1:$port" --threads 1 \
        "${PING[@]}" >"$log" 2>&1 & ;;
    sio) taskset -c "$SERVER_CPU" node bench/peers/sio-server.mjs --listen "127.0.0.1:$port" \
        "${PING[@]}" >"$log" 2>&1 & ;;
    ws) taskset -c "$SERVER_CPU" node bench/peers/ws-server.mjs --listen "127.0.0.1:$port" \
        >"$log" 2>&1 & ;;
    floor-echo) taskset -c "$SERVER_CPU" $OUT/floor -l "127.0.0.1:$port" -m echo >"$log" 2>&1 & ;;
    floor-fanout) taskset -c "$SERVER_CPU" $OUT/floor -l "127.0.0.1:$port" -m fanout >"$log" 2>&1 & ;;
    esac
    SERVER_PID=$!
    if ! wait_port "$port" "$SERVER_PID"; then
        stop_server
        return 1
    fi
}

stop_server() { # SIGTERM, then SIGKILL after 3 s: a server that ignores TERM must not hang us
    [ -n "$SERVER_PID" ] || return 0
    kill "$SERVER_PID" 2>/dev/null || true
    local i
    for i in $(seq 1 60); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
}
trap 'stop_server' EXIT INT TERM

# ---- one measurement --------------------------------------------------------------------
# run_one SCENARIO TARGET ROUND SERVER_KIND BOUND_S -- LOADGEN_ARGS...
run_one() {
    local scen=$1 target=$2 round=$3 kind=$4 bound=$5
    shift 6
    local label="$scen|$target|$round"
    if [ "$target" = roost ] && [ "$ROOST_OK" = 0 ]; then return 0; fi
    PORT=$((PORT + 1))
    [ "$PORT" -lt 60000 ] || PORT=${PORT_BASE:-17000}
    if ! start_server "$kind" "$PORT"; then
        if [ "$target" = roost ]; then
            say "roost did not start in --conformance mode ($(tail -n 1 $OUT/server-roost.log 2>/dev/null)); roost rows are skipped"
            ROOST_OK=0
        else
            say "$kind did not start; see $OUT/server-$kind.log"
        fi
        printf '{"label":"%s","error":"server did not start"}\n' "$label" >>"$RAW"
        return 0
    fi
    local line
    line=$(timeout $((bound + 15)) taskset -c "$LOADGEN_CPU" $OUT/loadgen -a "127.0.0.1:$PORT" \
        -T "$bound" -l "$label" -p "$SERVER_PID" "$@" 2>>$OUT/loadgen.log) || true
    stop_server
    if [ -z "$line" ]; then
        line=$(printf '{"label":"%s","error":"loadgen failed"}' "$label")
    fi
    printf '%s\n' "$line" >>"$RAW"
    say "$(printf '%-22s %-6s r%s %s' "$scen" "$target" "$round" "$(summary "$line")")"
}

summary() { # one JSON line -> a short human summary
    node -e '
        const r = JSON.parse(process.argv[1]);
        const f = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
        let s = r.error ? "ERROR " + r.error : "";
        if (r.mode === "echo" || r.mode === "storm")
            s = `${f(r.rate)}/s  p50 ${f(r.lat_us.p50)} us  p99 ${f(r.lat_us.p99)} us`;
        if (r.mode === "idle") s = `${r.kib_per_conn.toFixed(2)} KiB/conn (${r.ready} conns)`;
        if (r.mode === "fanout")
            s = `last member p50 ${f(r.last_us.p50 / 1000)} ms p99 ${f(r.last_us.p99 / 1000)} ms`;
        if (r.errors) s += `  errors ${r.errors}`;
        if (r.timeout) s += "  TIMEOUT";
        console.log(s);' "$1" 2>/dev/null || echo "?"
}

# scenario NAME BOUND_S EST_S TARGET:KIND:ARGS... -- COMMON_ARGS...
# Runs ROUNDS rounds; within each round every target once, in the order given. EST_S is what
# one run takes on an idle machine: a scenario that would not fit in BUDGET_S is skipped.
scenario() {
    local name=$1 bound=$2 est=$3
    shift 3
    [[ $name =~ $ONLY ]] || return 0
    local targets=() n=0
    while [ "$1" != -- ]; do
        targets+=("$1")
        [ "${1%%:*}" = roost ] && [ "$ROOST_OK" = 0 ] || n=$((n + 1))
        shift
    done
    shift
    local elapsed=$(($(date +%s) - T_START))
    if [ $((elapsed + est * n * ROUNDS)) -gt "$BUDGET_S" ]; then
        say "skipping $name: it would end past the ${BUDGET_S}s budget (at ${elapsed}s now)"
        SKIPPED+=("$name")
        return 0
    fi
    local r t
    for r in $(seq 1 "$ROUNDS"); do
        for t in "${targets[@]}"; do
            local target=${t%%:*} rest=${t#*:}
            local kind=${rest%%:*} extra=${rest#*:}
            # shellcheck disable=SC2086 # extra holds several flags on purpose
            run_one "$name" "$target" "$r" "$kind" "$bound" -- "$@" $extra
        done
    done
}

# ---- the scenarios ----------------------------------------------------------------------
# Socket.IO payloads are 20 bytes or 1 KiB strings. The floor echoes the same number of bytes
# as a Socket.IO frame on the wire: 20 B -> 44 B, 1 KiB -> 1050 B; its fan-out writes 45 B,
# the size of roost's `broadcast-back` frame.
# Issue 12's targets come first, so that a slow (shared, busy) machine skips the others.
F44='floor:floor-echo:-x tcp -s 44'
if [ "$QUICK" = 1 ]; then
    E="-W 0.5 -M 1"
    scenario echo-c100-s20 10 3 roost:roost: node:sio: "$F44" -- -x sio -m echo -c 100 -s 20 $E
    scenario echo-c100-s20-d16 10 3 roost:roost: node:sio: "$F44" \
        -- -x sio -m echo -c 100 -s 20 -d 16 $E
    scenario idle-2000 30 5 roost:roost: node:sio: -- -x sio -m idle -c 2000 -W 1
    scenario fanout-1000 30 4 roost:roost: node:sio: floor:floor-fanout:"-x tcp -s 45" \
        -- -x sio -m fanout -c 1000 -s 20 -k 10 -W 0.3
    scenario ws-echo-c100-s20 10 3 roost:roost:"-u /ws-echo" node:ws: floor:floor-echo:"-x tcp -s 26" \
        -- -x ws -m echo -c 100 -s 20 $E
    scenario poll-echo-c100-s20 10 3 roost:roost: node:sio: -- -x sio-poll -m echo -c 100 -s 20 $E
    scenario storm-ws 10 3 roost:roost: node:sio: -- -x sio -m storm -c 64 $E
    scenario storm-poll 10 3 roost:roost: node:sio: -- -x sio-poll -m storm -c 64 $E
else
    E="-W 1 -M 3"
    scenario echo-c100-s20 20 5 roost:roost: node:sio: "$F44" -- -x sio -m echo -c 100 -s 20 $E
    scenario echo-c100-s20-d16 20 5 roost:roost: node:sio: "$F44" \
        -- -x sio -m echo -c 100 -s 20 -d 16 $E
    scenario idle-19000 60 22 roost:roost: node:sio: -- -x sio -m idle -c 19000 -W 2
    scenario fanout-10000 80 15 roost:roost: node:sio: floor:floor-fanout:"-x tcp -s 45" \
        -- -x sio -m fanout -c 10000 -s 20 -k 20 -W 0.5
    scenario echo-c1000-s20 30 6 roost:roost: node:sio: "$F44" -- -x sio -m echo -c 1000 -s 20 $E
    scenario echo-c100-s1k 20 5 roost:roost: node:sio: floor:floor-echo:"-x tcp -s 1050" \
        -- -x sio -m echo -c 100 -s 1024 $E
    scenario echo-c1000-s1k 30 6 roost:roost: node:sio: floor:floor-echo:"-x tcp -s 1050" \
        -- -x sio -m echo -c 1000 -s 1024 $E
    scenario ws-echo-c100-s20 20 5 roost:roost:"-u /ws-echo" node:ws: floor:floor-echo:"-x tcp -s 26" \
        -- -x ws -m echo -c 100 -s 20 $E
    scenario fanout-1000 40 4 roost:roost: node:sio: floor:floor-fanout:"-x tcp -s 45" \
        -- -x sio -m fanout -c 1000 -s 20 -k 40 -W 0.5
    scenario idle-10000 60 12 roost:roost: node:sio: -- -x sio -m idle -c 10000 -W 2
    scenario storm-ws 20 5 roost:roost: node:sio: -- -x sio -m storm -c 64 $E
    scenario storm-poll 20 5 roost:roost: node:sio: -- -x sio-poll -m storm -c 64 $E
    scenario poll-echo-c100-s20 20 5 roost:roost: node:sio: -- -x sio-poll -m echo -c 100 -s 20 $E
fi

# ---- report -----------------------------------------------------------------------------
ELAPSED=$(($(date +%s) - T_START))
say "measurements done in ${ELAPSED}s; writing the report"
export BENCH_QUICK=$QUICK BENCH_ROUNDS=$ROUNDS BENCH_ELAPSED=$ELAPSED BENCH_STAMP=$STAMP
export BENCH_ROOST_OK=$ROOST_OK BENCH_SERVER_CPU=$SERVER_CPU BENCH_LOADGEN_CPU=$LOADGEN_CPU
export BENCH_README_UPDATE=$README_UPDATE BENCH_LOADAVG=$LOADAVG
BENCH_SKIPPED="${SKIPPED[*]+${SKIPPED[*]}}"
export BENCH_SKIPPED
node bench/report.mjs "$RAW"
say "done in $(($(date +%s) - T_START))s"
