#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests, on 127.0.0.1 and a free port.
#   scripts/postgres.sh up     install (apt) if missing, start if not running; prints the URL
#   scripts/postgres.sh url    prints the URL of the running cluster
#   scripts/postgres.sh down   stops it
# Idempotent. Data lives in $WEIR_PG_DIR (default .weir-cache/postgres).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=lib/postgres.sh
source "$root/scripts/lib/postgres.sh"
dir="${WEIR_PG_DIR:-$root/.weir-cache/postgres}"
data="$dir/data"

url() { echo "postgres://weir@127.0.0.1:$(cat "$dir/port")/weir"; }

running() { [ -f "$dir/port" ] && pg_running; }

cmd="${1:-up}"
bin="$(pg_find_bin || true)"
case "$cmd" in
  up)
    pg_install
    if running; then url; exit 0; fi
    mkdir -p "$dir"
    port=$(node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
    echo "$port" > "$dir/port"
    pg_start "$dir" "$port" 127.0.0.1
    url
    ;;
  url)
    running || { echo "postgres.sh: not running (run 'scripts/postgres.sh up')" >&2; exit 1; }
    url
    ;;
  down)
    pg_stop
    ;;
  *)
    echo "usage: scripts/postgres.sh up|url|down" >&2; exit 2 ;;
esac
