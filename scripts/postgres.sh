#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, on 127.0.0.1 and a free port.
#   scripts/postgres.sh up     install (apt) if missing, start if not running; prints the URL
#   scripts/postgres.sh url    prints the URL of the running cluster
#   scripts/postgres.sh down   stops it
# Idempotent. Data lives in $WEIR_PG_DIR (default .weir-cache/postgres).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${WEIR_PG_DIR:-$root/.weir-cache/postgres}"
data="$dir/data"
sock="$dir/sock"

find_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && [ -x "$d/pg_ctl" ] && echo "$d"
}

as_pg() {
  # initdb and the server refuse to run as root: use the postgres user when we are root.
  if [ "$(id -u)" = "0" ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

url() { echo "postgres://weir@127.0.0.1:$(cat "$dir/port")/weir"; }

running() {
  [ -f "$dir/port" ] && [ -f "$data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

cmd="${1:-up}"
bin="$(find_bin || true)"
case "$cmd" in
  up)
    if [ -z "$bin" ]; then
      echo "postgres.sh: installing PostgreSQL from apt" >&2
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -qq >&2
      apt-get install -y -qq postgresql >&2
      bin="$(find_bin)"
    fi
    if running; then url; exit 0; fi
    mkdir -p "$dir" "$sock"
    if [ "$(id -u)" = "0" ]; then chown -R postgres: "$dir"; fi
    if [ ! -f "$data/PG_VERSION" ]; then
      as_pg "$bin/initdb" -D "$data" -U weir --auth=trust --no-sync -E UTF8 >/dev/null
    fi
    port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    echo "$port" > "$dir/port"
    as_pg "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=200" start >/dev/null
    as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U weir -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='weir'" | grep -q 1 \
      || as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U weir weir
    url
    ;;
  url)
    running || { echo "postgres.sh: not running (run 'scripts/postgres.sh up')" >&2; exit 1; }
    url
    ;;
  down)
    if [ -n "$bin" ] && [ -f "$data/postmaster.pid" ]; then as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true; fi
    ;;
  *)
    echo "usage: scripts/postgres.sh up|url|down" >&2; exit 2 ;;
esac
