# The throwaway PostgreSQL cluster that postgres.sh runs on 127.0.0.1 and netns.sh runs inside a network
# namespace: binaries (installed from apt when missing), initdb, start, stop. Sourced, not run.
# The caller sets:
#   data    the cluster's data directory
#   pg_ns   optional: a network namespace to run the server (pg_ctl, psql, createdb) in; empty = this one
# and gets `bin` (the server's bin directory, empty when not installed) from pg_find_bin / pg_install.

pg_find_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  [ -n "$d" ] && [ -x "$d/pg_ctl" ] && echo "$d"
}

# Sets bin, installing PostgreSQL from apt first when no server is installed.
pg_install() {
  bin="$(pg_find_bin || true)"
  [ -n "$bin" ] && return 0
  echo "$(basename "$0"): installing PostgreSQL from apt" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
  bin="$(pg_find_bin)"
}

# CMD… as the postgres user when we are root (initdb and the server refuse to run as root), in pg_ns when set.
as_pg() {
  local pre=()
  if [ -n "${pg_ns:-}" ]; then pre=(ip netns exec "$pg_ns"); fi
  if [ "$(id -u)" = "0" ]; then "${pre[@]}" runuser -u postgres -- "$@"; else "${pre[@]}" "$@"; fi
}

pg_running() {
  [ -f "$data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

# pg_start DIR PORT LISTEN: initdb into $data if empty (owner weir, trust), start on LISTEN:PORT with its
# socket in DIR/sock and its log in DIR/server.log, and create the database weir. $1 must exist.
pg_start() {
  local dir="$1" port="$2" listen="$3"
  mkdir -p "$dir/sock"
  if [ "$(id -u)" = "0" ]; then chown -R postgres: "$dir"; fi
  if [ ! -f "$data/PG_VERSION" ]; then
    as_pg "$bin/initdb" -D "$data" -U weir --auth=trust --no-sync -E UTF8 >/dev/null
    pg_after_initdb
  fi
  as_pg "$bin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
    -o "-p $port -k $dir/sock -c listen_addresses=$listen -c fsync=on -c max_connections=200" start >/dev/null
  as_pg "$bin/psql" -h 127.0.0.1 -p "$port" -U weir -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='weir'" | grep -q 1 \
    || as_pg "$bin/createdb" -h 127.0.0.1 -p "$port" -U weir weir
}

# Called once after initdb (before the first start); the caller may redefine it, e.g. to extend pg_hba.conf.
pg_after_initdb() { :; }

pg_stop() {
  if [ -n "$bin" ] && [ -f "$data/postmaster.pid" ]; then as_pg "$bin/pg_ctl" -D "$data" -m fast -w stop >/dev/null || true; fi
}
