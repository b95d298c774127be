#!/usr/bin/env bash
# pg-test.sh - a throwaway PostgreSQL for tests, on loopback only.
#
#   scripts/pg-test.sh start [DIR]   initdb into DIR (default: a new /tmp/roost-pg-PORT.XXXXXX),
#                                    start the server on 127.0.0.1:<free port> and a Unix socket
#                                    in DIR, create role and database "roost", and print the
#                                    conninfo URL (the value for ROOST_TEST_PG / --store).
#   scripts/pg-test.sh stop URL|DIR  stop that server by the PID in its postmaster.pid (SIGINT,
#                                    i.e. fast shutdown; SIGKILL after 20 s) and remove its DIR.
#   scripts/pg-test.sh halt URL|DIR  stop the server but keep its data (to test reconnection).
#   scripts/pg-test.sh resume URL|DIR start a halted server again, on the same port.
#   scripts/pg-test.sh dir URL       print the data directory of a server started from here.
#
# initdb refuses to run as root, so as root the cluster belongs to the "postgres" system user
# (created by Debian's postgresql package) and every server command runs through runuser.
# Authentication is "trust": the server listens on 127.0.0.1 and a private socket directory only.
set -euo pipefail

PG_BIN=${PG_BIN:-}
if [ -z "$PG_BIN" ]; then
    for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && PG_BIN=$d; done
fi
[ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || {
    echo "pg-test: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
    exit 1
}

as_owner() { # run a command as the cluster's owner
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

port_free() { # port
    ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

dir_of() { # URL or DIR -> data directory
    local a=$1
    if [ -d "$a" ]; then printf '%s\n' "$a"; return; fi
    local port=${a##*:}
    port=${port%%/*}
    local d
    for d in /tmp/roost-pg-"$port".*; do
        [ -f "$d/PG_VERSION" ] && { printf '%s\n' "$d"; return; }
    done
    echo "pg-test: no data directory found for $a" >&2
    return 1
}

server_start() { # dir
    as_owner "$PG_BIN/pg_ctl" -D "$1" -l "$1/server.log" -w -t 60 start >/dev/null || {
        tail -20 "$1/server.log" >&2
        return 1
    }
}

server_stop() { # dir: by the PID in postmaster.pid; SIGINT is PostgreSQL's fast shutdown
    local pid i
    [ -f "$1/postmaster.pid" ] || return 0
    pid=$(head -1 "$1/postmaster.pid")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -INT "$pid"
    for i in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid"
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
}

start() {
    local dir=${1:-} port tries=0
    while :; do
        port=$((20000 + RANDOM % 20000))
        port_free "$port" && break
        tries=$((tries + 1))
        [ $tries -lt 50 ] || { echo "pg-test: no free port" >&2; exit 1; }
    done
    [ -n "$dir" ] || dir=$(mktemp -d "/tmp/roost-pg-$port.XXXXXX")
    mkdir -p "$dir"
    chmod 700 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    as_owner "$PG_BIN/initdb" -D "$dir" -U roost --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$dir.initdb.log" 2>&1 || {
        cat "$dir.initdb.log" >&2
        rm -rf "$dir" "$dir.initdb.log"
        exit 1
    }
    rm -f "$dir.initdb.log"
    # Loopback and a private socket directory only. fsync stays on: the durability tests
    # kill the server and expect every committed row back.
    printf "listen_addresses = '127.0.0.1'\nport = %s\nunix_socket_directories = '%s'\n" \
        "$port" "$dir" | as_owner tee -a "$dir/postgresql.conf" >/dev/null
    server_start "$dir" || exit 1
    as_owner "$PG_BIN/createdb" -h "$dir" -p "$port" -U roost roost
    printf 'postgresql://roost@127.0.0.1:%s/roost\n' "$port"
}

stop() { # URL or DIR
    local dir
    dir=$(dir_of "$1") || exit 1
    server_stop "$dir"
    [ -f "$dir/PG_VERSION" ] && rm -rf "$dir"
}

case "${1:-}" in
start) start "${2:-}" ;;
stop) stop "${2:?usage: $0 stop URL|DIR}" ;;
halt) server_stop "$(dir_of "${2:?usage: $0 halt URL|DIR}")" ;;
resume) server_start "$(dir_of "${2:?usage: $0 resume URL|DIR}")" ;;
dir) dir_of "${2:?usage: $0 dir URL}" ;;
*) sed -n '2,16p' "$0" >&2; exit 2 ;;
esac
