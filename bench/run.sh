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
BUDGET_S=${BUDGET_S:-$([ "$QUICK" = 1 ] && echo 160 || echo 840)}
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
SKIPPED=()
DRIVER=loadgen # who drives a scenario: loadgen, chat (chat-load.mjs), wrk-http, wrk-commit (wrk)

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
cc $CFLAGS -o $OUT/loadgen bench/loadgen.c bench/hist.c -lpthread -lssl -lcrypto
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

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        say "installing wrk (Debian) for the HTTP scenarios"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk \
            >/dev/null || say "could not install wrk: the HTTP scenarios fail"
    else
        say "wrk missing (sudo apt-get install wrk): the HTTP scenarios fail"
    fi
fi
if ! command -v redis-server >/dev/null; then
    if [ "$(id -u)" = 0 ]; then
        say "installing redis-server (Debian) for the cluster scenarios"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server \
            >/dev/null || say "could not install redis-server: the cluster scenarios are skipped"
    else
        say "redis-server missing (sudo apt-get install redis-server): cluster scenarios skipped"
    fi
fi
# a throwaway self-signed certificate for the TLS scenarios (roost and the Node.js peer both
# serve it; the load generator does not verify it: loopback only)
TLS_CERT=$OUT/tls-cert.pem
TLS_KEY=$OUT/tls-key.pem
if ! openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 -keyout "$TLS_KEY" -out "$TLS_CERT" \
    >$OUT/openssl.log 2>&1; then
    say "openssl could not make a certificate (see $OUT/openssl.log): the TLS scenarios fail"
fi
# the budget counts measurements, not the one-off npm ci (better-sqlite3 compiles for minutes)
T_START=$(date +%s)

ROOST_OK=1
if [ ! -x "$ROOST" ]; then
    say "roost binary missing ($ROOST): build it with 'make build'; roost rows are skipped"
    ROOST_OK=0
fi

# ---- servers ----------------------------------------------------------------------------
SERVER_PID=
EXTRA_PIDS=()    # the other nodes of a cluster target, stopped with SERVER_PID
EXTRA_TARGETS=() # their addresses, as more loadgen -a flags
REDIS_URL=
REDIS_PID=
REDIS_DIR=
wait_port() { # port pid: up to 10 s for the server to accept
    local i
    for i in $(seq 1 200); do
        kill -0 "$2" 2>/dev/null || return 1
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    return 1
}

# start_node roost|sio PORT LOG: one node of a cluster target (roost, or the Node.js peer, with
# the Redis adapter at REDIS_URL), pinned to SERVER_CPU; its PID goes to EXTRA_PIDS and its
# address to EXTRA_TARGETS. Non-zero when it does not listen.
start_node() {
    local kind=$1 port=$2 log=$3
    case $kind in
    roost) taskset -c "$SERVER_CPU" "$ROOST" --conformance --listen "127.0.0.1:$port" --threads 1 \
        "${PING[@]}" --adapter "$REDIS_URL" >"$log" 2>&1 & ;;
    sio) taskset -c "$SERVER_CPU" node bench/peers/sio-server.mjs --listen "127.0.0.1:$port" \
        "${PING[@]}" --adapter "$REDIS_URL" >"$log" 2>&1 & ;;
    esac
    EXTRA_PIDS+=($!)
    EXTRA_TARGETS+=(-a "127.0.0.1:$port")
    wait_port "$port" $!
}

# start_server KIND PORT: starts it pinned to SERVER_CPU; sets SERVER_PID. Non-zero on failure.
# Cluster kinds (roost-adapter1|2, sio-adapter1|2: that many nodes) need REDIS_URL (with_redis);
# the second node listens on PORT+1 and is in EXTRA_PIDS and EXTRA_TARGETS.
start_server() {
    local kind=$1 port=$2 log=$OUT/server-$kind.log
    # platform servers get a fresh database per run (removed by stop_server)
    DB_DIR=$OUT/db-$port
    rm -rf "$DB_DIR"
    mkdir -p "$DB_DIR"
    local plat=(--listen "127.0.0.1:$port" --threads 1 --web-root "$DB_DIR" "${PING[@]}")
    case $kind in
    platform) taskset -c "$SERVER_CPU" "$ROOST" "${plat[@]}" --store "sqlite:$DB_DIR/roost.db" \
        >"$log" 2>&1 & ;;
    platform-1tx) taskset -c "$SERVER_CPU" "$ROOST" "${plat[@]}" --store "sqlite:$DB_DIR/roost.db" \
        --no-group-commit >"$log" 2>&1 & ;;
    platform-pg | platform-pg-1tx)
        [ -n "$PG_URL" ] || return 1
        local one=()
        [ "$kind" = platform-pg-1tx ] && one=(--no-group-commit)
        taskset -c "$SERVER_CPU" "$ROOST" "${plat[@]}" --store "$PG_URL" "${one[@]}" >"$log" 2>&1 & ;;
    chat-node) taskset -c "$SERVER_CPU" node bench/peers/chat-server.mjs --listen "127.0.0.1:$port" \
        --db "$DB_DIR/chat.db" "${PING[@]}" >"$log" 2>&1 & ;;
    gql-node) taskset -c "$SERVER_CPU" node bench/peers/graphql-server.mjs --listen "127.0.0.1:$port" \
        --db "$DB_DIR/gql.db" >"$log" 2>&1 & ;;
    roost) taskset -c "$SERVER_CPU" "$ROOST" --conformance --listen "127.0.0.1:$port" --threads 1 \
        "${PING[@]}" >"$log" 2>&1 & ;;
    roost-tls) taskset -c "$SERVER_CPU" "$ROOST" --conformance --listen "127.0.0.1:$port" --threads 1 \
        "${PING[@]}" --tls-cert "$TLS_CERT" --tls-key "$TLS_KEY" >"$log" 2>&1 & ;;
    sio-tls) taskset -c "$SERVER_CPU" node bench/peers/sio-server.mjs --listen "127.0.0.1:$port" \
        "${PING[@]}" --tls-cert "$TLS_CERT" --tls-key "$TLS_KEY" >"$log" 2>&1 & ;;
    roost-adapter[12] | sio-adapter[12])
        [ -n "$REDIS_URL" ] || return 1
        start_node "${kind%-adapter*}" "$port" "$log" || { stop_server; return 1; }
        SERVER_PID=${EXTRA_PIDS[0]} # the first node is the server: -p, and the emitter's
        EXTRA_PIDS=()
        EXTRA_TARGETS=()
        if [ "${kind##*-adapter}" = 2 ]; then
            PORT=$((PORT + 1))
            start_node "${kind%-adapter*}" "$PORT" "$OUT/server-$kind-2.log" ||
                { stop_server; return 1; }
        fi ;;
    sio) taskset -c "$SERVER_CPU" node bench/peers/sio-server.mjs --listen "127.0.0.1:$port" \
        "${PING[@]}" >"$log" 2>&1 & ;;
    ws) taskset -c "$SERVER_CPU" node bench/peers/ws-server.mjs --listen "127.0.0.1:$port" \
        >"$log" 2>&1 & ;;
    floor-echo) taskset -c "$SERVER_CPU" $OUT/floor -l "127.0.0.1:$port" -m echo >"$log" 2>&1 & ;;
    floor-fanout) taskset -c "$SERVER_CPU" $OUT/floor -l "127.0.0.1:$port" -m fanout >"$log" 2>&1 & ;;
    esac
    case $kind in *-adapter*) ;; *) SERVER_PID=$! ;; esac
    if ! wait_port "$port" "$SERVER_PID"; then
        stop_server
        return 1
    fi
}

# stop_pid PID: SIGTERM, then SIGKILL after 3 s: a server that ignores TERM must not hang us
stop_pid() {
    kill "$1" 2>/dev/null || true
    local i
    for i in $(seq 1 60); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.05
    done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

stop_server() { # the server, and the other nodes of a cluster target
    local p
    for p in ${EXTRA_PIDS[@]+"${EXTRA_PIDS[@]}"}; do stop_pid "$p"; done
    EXTRA_PIDS=()
    EXTRA_TARGETS=()
    [ -n "$SERVER_PID" ] || return 0
    stop_pid "$SERVER_PID"
    SERVER_PID=
    [ -z "$DB_DIR" ] || rm -rf "$DB_DIR"
    DB_DIR=
}
DB_DIR=
PG_URL=
stop_pg() { # the throwaway PostgreSQL of the writes-pg scenario, by its URL
    [ -n "$PG_URL" ] || return 0
    scripts/pg-test.sh stop "$PG_URL" >/dev/null 2>&1 || say "could not stop PostgreSQL at $PG_URL"
    PG_URL=
}
stop_redis() { # the throwaway redis-server of the cluster scenarios, by its PID
    [ -n "$REDIS_PID" ] || return 0
    stop_pid "$REDIS_PID"
    [ -z "$REDIS_DIR" ] || rm -rf "$REDIS_DIR"
    REDIS_PID=
    REDIS_URL=
    REDIS_DIR=
}
cleanup() { stop_server; stop_pg; stop_redis; }
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM # and stop there: no report of a cut-short run
is_roost() { case $1 in roost* | platform*) return 0 ;; esac; return 1; } # server kind

# ---- one measurement --------------------------------------------------------------------
# run_one SCENARIO TARGET ROUND SERVER_KIND BOUND_S -- LOADGEN_ARGS...
run_one() {
    local scen=$1 target=$2 round=$3 kind=$4 bound=$5
    shift 6
    local label="$scen|$target|$round"
    if is_roost "$kind" && [ "$ROOST_OK" = 0 ]; then return 0; fi
    PORT=$((PORT + 1))
    [ "$PORT" -lt 60000 ] || PORT=${PORT_BASE:-17000}
    local port=$PORT # start_server moves PORT on past a cluster's other nodes
    if ! start_server "$kind" "$port"; then
        if [ "$target" = roost ] && [ "$kind" = roost ]; then
            say "roost did not start in --conformance mode ($(tail -n 1 $OUT/server-roost.log 2>/dev/null)); roost rows are skipped"
            ROOST_OK=0
        else
            say "$kind did not start; see $OUT/server-$kind.log"
        fi
        printf '{"label":"%s","error":"server did not start"}\n' "$label" >>"$RAW"
        return 0
    fi
    local lines line
    case $DRIVER in
    loadgen) lines=$(timeout $((bound + 15)) taskset -c "$LOADGEN_CPU" $OUT/loadgen \
        -a "127.0.0.1:$port" ${EXTRA_TARGETS[@]+"${EXTRA_TARGETS[@]}"} -T "$bound" -l "$label" \
        -p "$SERVER_PID" "$@" 2>>$OUT/loadgen.log) || true ;;
    chat) lines=$(timeout $((bound + 15)) taskset -c "$LOADGEN_CPU" node bench/chat-load.mjs \
        --url "http://127.0.0.1:$PORT" --label "$label" --bound "$bound" "$@" \
        2>>$OUT/chat-load.log) || true ;;
    wrk-*) lines=$(run_wrk "$label" "$bound" "$@") || true ;;
    esac
    stop_server
    [ -n "$lines" ] || lines=$(printf '{"label":"%s","error":"%s failed"}' "$label" "$DRIVER")
    while IFS= read -r line; do
        printf '%s\n' "$line" >>"$RAW"
        say "$(printf '%-22s %-6s r%s %s' "$(node -p 'JSON.parse(process.argv[1]).label.split("|")[0]' \
            "$line" 2>/dev/null || echo "$scen")" "$target" "$round" "$(summary "$line")")"
    done <<<"$lines"
}

# run_wrk LABEL BOUND PATH SETUP WRK_ARGS...: Debian's wrk (one thread, on LOADGEN_CPU) against
# PATH; SETUP is none, or a chat-load.mjs setup mode (setup-user, setup-writes:USERS) whose
# request file wrk.lua rotates over. Prints one loadgen-like JSON line (mode from DRIVER).
run_wrk() {
    local label=$1 bound=$2 path=$3 setup=$4
    shift 4
    local reqfile=$OUT/wrk-requests.txt file=()
    rm -f "$reqfile"
    if [ "$setup" != none ]; then
        local users=${setup#*:}
        [ "$users" != "$setup" ] || users=1
        timeout "$bound" taskset -c "$LOADGEN_CPU" node bench/chat-load.mjs \
            --url "http://127.0.0.1:$PORT" --mode "${setup%%:*}" --users "$users" --out "$reqfile" \
            --bound "$bound" 2>>$OUT/chat-load.log || return 1
        file=(-- "$reqfile")
    fi
    local out
    # one second unmeasured first: the JIT of the Node.js peers warms up, as in loadgen's -W
    timeout 15 taskset -c "$LOADGEN_CPU" wrk -t 1 --timeout 5s "$@" -d 1s -s bench/wrk.lua \
        "http://127.0.0.1:$PORT$path" "${file[@]}" >/dev/null 2>&1 || true
    out=$(timeout $((bound + 15)) taskset -c "$LOADGEN_CPU" wrk -t 1 --timeout 5s "$@" \
        -s bench/wrk.lua "http://127.0.0.1:$PORT$path" "${file[@]}" 2>>$OUT/wrk.log | grep '^{') ||
        return 1
    node -e '
        const w = JSON.parse(process.argv[1]);
        const s = w.duration_us / 1e6;
        console.log(JSON.stringify({ label: process.argv[2], proto: "http", mode: process.argv[3],
            target: process.argv[4], conns: Number(process.argv[5]), measure_s: s, msgs: w.requests,
            rate: w.requests / s, lat_us: w.lat_us, bytes_in: w.bytes, errors: w.errors + w.non2xx,
            non2xx: w.non2xx, timeout: false }));' \
        "$out" "$label" "${DRIVER#wrk-}" "127.0.0.1:$PORT$path" "$(wrk_conns "$@")"
}
wrk_conns() { while [ $# -gt 0 ]; do [ "$1" = -c ] && { echo "$2"; return; }; shift; done; echo 0; }

summary() { # one JSON line -> a short human summary
    node -e '
        const r = JSON.parse(process.argv[1]);
        const f = (x) => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
        let s = r.error ? "ERROR " + r.error : "";
        if (r.mode === "echo" || r.mode === "storm" || r.proto === "http" || r.proto === "chat")
            s = `${f(r.rate)}/s  p50 ${f(r.lat_us.p50)} us  p99 ${f(r.lat_us.p99)} us`;
        if (r.server_cpu_us_per_msg && r.mode === "storm")
            s += `  server CPU ${f(r.server_cpu_us_per_msg)} us each`;
        if (r.mode === "idle") s = `${r.kib_per_conn.toFixed(2)} KiB/conn (${r.ready} conns)`;
        if (r.mode === "fanout")
            s = `last member p50 ${f(r.last_us.p50 / 1000)} ms p99 ${f(r.last_us.p99 / 1000)} ms` +
                `  ${f(r.deliveries_per_s)} deliveries/s`;
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
        local k=${1#*:}
        is_roost "${k%%:*}" && [ "$ROOST_OK" = 0 ] || n=$((n + 1))
        shift
    done
    shift
    local elapsed=$(($(date +%s) - T_START)) rounds=${SROUNDS:-$ROUNDS}
    if [ $((elapsed + est * n * rounds)) -gt "$BUDGET_S" ]; then
        say "skipping $name: it would end past the ${BUDGET_S}s budget (at ${elapsed}s now)"
        SKIPPED+=("$name")
        return 0
    fi
    local r t
    for r in $(seq 1 "$rounds"); do
        for t in "${targets[@]}"; do
            local target=${t%%:*} rest=${t#*:}
            local kind=${rest%%:*} extra=${rest#*:}
            # shellcheck disable=SC2086 # extra holds several flags on purpose
            run_one "$name" "$target" "$r" "$kind" "$bound" -- "$@" $extra
        done
    done
}

# with_pg SCENARIO_ARGS...: the scenario against a throwaway PostgreSQL (scripts/pg-test.sh,
# pinned to the server's CPU like the server), stopped by its URL afterwards.
with_pg() {
    [[ $1 =~ $ONLY ]] && [ "$ROOST_OK" = 1 ] || return 0
    if ! PG_URL=$(taskset -c "$SERVER_CPU" scripts/pg-test.sh start 2>>$OUT/pg.log); then
        say "PostgreSQL did not start (see $OUT/pg.log): $1 skipped"
        PG_URL=
        SKIPPED+=("$1")
        return 0
    fi
    scenario "$@"
    stop_pg
}

# with_redis SCENARIO_ARGS...: the scenario with a throwaway redis-server on loopback (no
# persistence, its own directory, pinned to the server's CPU), stopped by its PID afterwards.
with_redis() {
    [[ $1 =~ $ONLY ]] || return 0
    if ! command -v redis-server >/dev/null; then
        say "redis-server missing (scripts/deps.sh bench): $1 skipped"
        SKIPPED+=("$1")
        return 0
    fi
    local rport=$((${PORT_BASE:-17000} - 1)) # below the servers' ports
    while (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null; do rport=$((rport - 1)); done
    REDIS_DIR=$OUT/redis-$rport
    rm -rf "$REDIS_DIR"
    mkdir -p "$REDIS_DIR"
    taskset -c "$SERVER_CPU" redis-server --bind 127.0.0.1 --port "$rport" --save '' \
        --appendonly no --dir "$REDIS_DIR" --daemonize no >"$REDIS_DIR/redis.log" 2>&1 &
    REDIS_PID=$!
    if ! wait_port "$rport" "$REDIS_PID"; then
        say "redis-server did not start (see $REDIS_DIR/redis.log): $1 skipped"
        cp "$REDIS_DIR/redis.log" "$OUT/redis.log" 2>/dev/null || true
        stop_redis
        SKIPPED+=("$1")
        return 0
    fi
    REDIS_URL=redis://127.0.0.1:$rport
    scenario "$@"
    stop_redis
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
    DRIVER=chat scenario chat 40 8 roost:platform: node:chat-node: \
        -- --users 10 --rate 50,200 --warmup 0.5 --measure 1
    DRIVER=wrk-http scenario gql-user 20 3 roost:platform: node:gql-node: \
        -- /graphql setup-user -c 64 -d 1s
    DRIVER=wrk-commit scenario writes-sqlite 20 3 group:platform: 1tx:platform-1tx: \
        -- /graphql setup-writes:8 -c 64 -d 1s
    DRIVER=wrk-commit with_pg writes-pg 20 3 group:platform-pg: 1tx:platform-pg-1tx: \
        -- /graphql setup-writes:8 -c 64 -d 1s
    scenario ws-echo-c100-s20 10 3 roost:roost:"-u /ws-echo" node:ws: floor:floor-echo:"-x tcp -s 26" \
        -- -x ws -m echo -c 100 -s 20 $E
    scenario poll-echo-c100-s20 10 3 roost:roost: node:sio: -- -x sio-poll -m echo -c 100 -s 20 $E
    scenario storm-ws 10 3 roost:roost: node:sio: -- -x sio -m storm -c 64 $E
    scenario storm-wss 10 3 roost:roost-tls:-L node:sio-tls:-L -- -x sio -m storm -c 64 $E
    scenario idle-tls-2000 30 6 roost:roost-tls:-L node:sio-tls:-L -- -x sio -m idle -c 2000 -W 1
    scenario echo-tls-c100-s20 10 3 roost:roost-tls:-L node:sio-tls:-L \
        -- -x sio -m echo -c 100 -s 20 $E
    with_redis cluster-fanout-1000 30 5 one:roost-adapter1: two:roost-adapter2: node:sio-adapter2: \
        -- -x sio -m fanout -c 1000 -s 20 -k 10 -W 0.5
    scenario storm-poll 10 3 roost:roost: node:sio: -- -x sio-poll -m storm -c 64 $E
    DRIVER=wrk-http scenario healthz 10 2 roost:roost: node:sio: -- /healthz none -c 64 -d 1s
    DRIVER=wrk-http scenario eio-open 10 2 roost:roost: node:sio: \
        -- "/socket.io/?EIO=4&transport=polling" none -c 64 -d 1s
else
    E="-W 1 -M 3"
    scenario echo-c100-s20 20 5 roost:roost: node:sio: "$F44" -- -x sio -m echo -c 100 -s 20 $E
    scenario echo-c100-s20-d16 20 5 roost:roost: node:sio: "$F44" \
        -- -x sio -m echo -c 100 -s 20 -d 16 $E
    scenario idle-19000 60 22 roost:roost: node:sio: -- -x sio -m idle -c 19000 -W 2
    scenario fanout-10000 80 15 roost:roost: node:sio: floor:floor-fanout:"-x tcp -s 45" \
        -- -x sio -m fanout -c 10000 -s 20 -k 20 -W 0.5
    # the platform scenarios (issues 6, 8, 9): 2 rounds, short windows, to fit the budget
    DRIVER=chat SROUNDS=2 scenario chat 60 15 roost:platform: node:chat-node: \
        -- --users 50 --rate 50,500 --warmup 1 --measure 3
    DRIVER=wrk-http SROUNDS=2 scenario gql-user 25 5 roost:platform: node:gql-node: \
        -- /graphql setup-user -c 64 -d 2s
    DRIVER=wrk-commit SROUNDS=2 scenario writes-sqlite 30 8 group:platform: 1tx:platform-1tx: \
        -- /graphql setup-writes:32 -c 64 -d 3s
    DRIVER=wrk-commit SROUNDS=2 with_pg writes-pg 30 8 group:platform-pg: 1tx:platform-pg-1tx: \
        -- /graphql setup-writes:32 -c 64 -d 3s
    scenario echo-c1000-s20 30 6 roost:roost: node:sio: "$F44" -- -x sio -m echo -c 1000 -s 20 $E
    scenario echo-c100-s1k 20 5 roost:roost: node:sio: floor:floor-echo:"-x tcp -s 1050" \
        -- -x sio -m echo -c 100 -s 1024 $E
    scenario echo-c1000-s1k 30 6 roost:roost: node:sio: floor:floor-echo:"-x tcp -s 1050" \
        -- -x sio -m echo -c 1000 -s 1024 $E
    scenario ws-echo-c100-s20 20 5 roost:roost:"-u /ws-echo" node:ws: floor:floor-echo:"-x tcp -s 26" \
        -- -x ws -m echo -c 100 -s 20 $E
    scenario fanout-1000 40 4 roost:roost: node:sio: floor:floor-fanout:"-x tcp -s 45" \
        -- -x sio -m fanout -c 1000 -s 20 -k 40 -W 0.5
    # 2 rounds: idle memory varies by under 1% between rounds, and the budget is tight
    SROUNDS=2 scenario idle-10000 60 12 roost:roost: node:sio: -- -x sio -m idle -c 10000 -W 2
    scenario storm-ws 20 5 roost:roost: node:sio: -- -x sio -m storm -c 64 $E
    # right after storm-ws: the TLS cost per handshake is the difference of the two (shorter
    # windows: the rate is capped by the load generator's TLS work, the CPU per handshake is not)
    SROUNDS=2 scenario storm-wss 20 4 roost:roost-tls:-L node:sio-tls:-L \
        -- -x sio -m storm -c 64 -W 0.5 -M 2
    scenario storm-poll 20 5 roost:roost: node:sio: -- -x sio-poll -m storm -c 64 $E
    scenario poll-echo-c100-s20 20 5 roost:roost: node:sio: -- -x sio-poll -m echo -c 100 -s 20 $E
    # TLS (issue 13) and the Redis cluster (issue 11), one round each to fit the budget: 10,000
    # TLS handshakes take the Node.js peer ~35 s of CPU, and the load generator ~10 s
    SROUNDS=1 scenario idle-tls-10000 90 40 roost:roost-tls:-L node:sio-tls:-L \
        -- -x sio -m idle -c 10000 -W 2
    SROUNDS=1 with_redis cluster-fanout-1000 40 5 one:roost-adapter1: two:roost-adapter2: \
        node:sio-adapter2: -- -x sio -m fanout -c 1000 -s 20 -k 40 -W 0.5
    SROUNDS=1 with_redis cluster-fanout-10000 80 14 one:roost-adapter1: two:roost-adapter2: \
        node:sio-adapter2: -- -x sio -m fanout -c 10000 -s 20 -k 20 -W 0.5
    SROUNDS=1 scenario echo-tls-c100-s20 20 4 roost:roost-tls:-L node:sio-tls:-L \
        -- -x sio -m echo -c 100 -s 20 -W 0.5 -M 2
    DRIVER=wrk-http SROUNDS=2 scenario healthz 15 4 roost:roost: node:sio: -- /healthz none -c 64 -d 2s
    DRIVER=wrk-http SROUNDS=2 scenario eio-open 15 4 roost:roost: node:sio: \
        -- "/socket.io/?EIO=4&transport=polling" none -c 64 -d 2s
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
