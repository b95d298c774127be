#!/usr/bin/env bash
# deps.sh - install what roost needs on Debian 12, idempotently.
#   scripts/deps.sh build   C toolchain and -dev libraries (for `make`)
#   scripts/deps.sh test    + servers and browser the tests start (PostgreSQL, Redis, nginx,
#                           Chromium, wrk) and the npm packages of the JavaScript tests
#   scripts/deps.sh web     + npm packages of the web client
#   scripts/deps.sh bench   + gnuplot, wrk, Redis, the openssl tool and the Node.js peers of the
#                           benchmark
# As root it runs apt-get; otherwise it prints the exact command to run and fails.
set -euo pipefail
cd "$(dirname "$0")/.."

build_pkgs=(build-essential pkg-config clang libclang-rt-14-dev libssl-dev zlib1g-dev
    libsodium-dev libjansson-dev libsqlite3-dev libpq-dev libhiredis-dev libmsgpack-dev
    nodejs npm)
test_pkgs=(postgresql redis-server nginx-light chromium wrk valgrind curl)
bench_pkgs=(gnuplot-nox wrk util-linux redis-server openssl)

what=${1:-build}
pkgs=("${build_pkgs[@]}")
[ "$what" = test ] && pkgs+=("${test_pkgs[@]}")
[ "$what" = bench ] && pkgs+=("${bench_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js may come from outside Debian's archive on some machines; a working node+npm is enough.
if command -v node >/dev/null && command -v npm >/dev/null; then
    tmp=()
    for p in "${missing[@]}"; do [ "$p" = nodejs ] || [ "$p" = npm ] || tmp+=("$p"); done
    missing=("${tmp[@]+"${tmp[@]}"}")
fi

if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "deps: installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "deps: missing Debian packages; run:" >&2
        echo "  sudo apt-get install -y ${missing[*]}" >&2
        exit 1
    fi
fi

npm_install() { # dir
    local dir=$1
    [ -f "$dir/package.json" ] || return 0
    if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
        echo "deps: npm ci in $dir"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
    fi
}
case "$what" in
test) npm_install tests ;;
bench) npm_install bench/peers ;;
web) npm_install web ;;
esac
exit 0
