#!/usr/bin/env bash
# Emulated hosts for the scale-out tests (`weir run --cluster`, one process per "host"): Linux network
# namespaces on one bridge, with a private Kafka broker and PostgreSQL in a namespace of their own.
#   scripts/netns.sh up N        bridge ${P}br0 ($NET.1/24 on the root side); namespace ${P}-b at $NET.2
#                                running Kafka on $NET.2:9092 and PostgreSQL on $NET.2:5432; namespaces
#                                ${P}-h1..${P}-hN at $NET.(10+I). Idempotent: existing pieces are kept,
#                                missing ones added, hosts above N removed. Prints what `env` prints.
#   scripts/netns.sh down        stop the broker and PostgreSQL, kill every process in our namespaces,
#                                delete them, the veths and the bridge, remove the state dir. Safe to run
#                                any number of times, also after a crash.
#   scripts/netns.sh exec I CMD… run CMD in host I's namespace (I = 1..N, or b for the broker's)
#   scripts/netns.sh cut I [MODE]  cut host I off. bridge (default): down the root-side veth end (new
#                                connects fail after ~3 s of ARP, open connections hang); ns: down the
#                                namespace's eth0 (its route vanishes, sends fail at once); silent: pin the
#                                peers' ARP entries, then as bridge (nothing fails fast, only timers notice)
#   scripts/netns.sh heal I      undo any cut of host I
#   scripts/netns.sh kafka up|down|restart|kill   the broker only (down = SIGTERM, kill = SIGKILL, a crash)
#   scripts/netns.sh pg up|down  PostgreSQL only
#   scripts/netns.sh env         WEIR_NETNS_KAFKA=…, WEIR_NETNS_PG_URL=…, WEIR_NETNS_HOSTS=N (shell syntax)
#   scripts/netns.sh status      what exists
# The hosts have no default route: they reach only $NET.0/24 (nothing leaves the machine). The root
# namespace (a test runner) reaches the broker and PostgreSQL through the bridge address.
# Environment:
#   WEIR_NETNS_PREFIX  name prefix, at most 10 letters/digits (default weir): bridge weirbr0, namespaces
#                      weir-b, weir-h1…, root-side veth ends weir-vb, weir-v1… Namespaces and links are
#                      machine-wide: give a second instance its own prefix and WEIR_NETNS_NET.
#   WEIR_NETNS_NET     first three octets of the /24 (default 10.77.0)
#   WEIR_NETNS_DIR     state (configs, data, logs); default .weir-cache/netns-<prefix>
#   WEIR_KAFKA_VERSION, WEIR_KAFKA_LIB, WEIR_KAFKA_HEAP   as for scripts/kafka.sh (the same jar cache)
# Needs root, iproute2, java 17+ and mvn (the first time, for the jars); installs PostgreSQL from apt if missing.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=lib/service.sh
source "$root/scripts/lib/service.sh"
# shellcheck source=lib/kafka.sh
source "$root/scripts/lib/kafka.sh"
# shellcheck source=lib/postgres.sh
source "$root/scripts/lib/postgres.sh"
P="${WEIR_NETNS_PREFIX:-weir}"
NET="${WEIR_NETNS_NET:-10.77.0}"
state="${WEIR_NETNS_DIR:-$root/.weir-cache/netns-$P}"
BR="${P}br0"
BNS="${P}-b"
BIP="$NET.2"
KPORT=9092
CPORT=9093
PGPORT=5432

log() { echo "netns.sh: $(date +%T.%3N) $*" >&2; }
die() { log "$*"; exit 1; }

[[ "$P" =~ ^[A-Za-z0-9]{1,10}$ ]] || die "WEIR_NETNS_PREFIX must be 1 to 10 letters or digits (interface names are at most 15 characters), not '$P'"
[[ "$NET" =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] || die "WEIR_NETNS_NET must be three octets such as 10.77.0, not '$NET'"

# For lib/kafka.sh: the broker in the broker namespace, the shared jar cache.
version="${WEIR_KAFKA_VERSION:-4.1.1}"
lib="${WEIR_KAFKA_LIB:-$root/.weir-cache/kafka-lib/$version}"
heap="${WEIR_KAFKA_HEAP:-512m}"
dir="$state/kafka"
kafka_ns="$BNS"
# For lib/postgres.sh.
pgdir="$state/pg"
data="$pgdir/data"
pg_ns="$BNS"
bin="$(pg_find_bin || true)"
# Trust the hosts' subnet (initdb's pg_hba.conf only has 127.0.0.1 and ::1).
pg_after_initdb() { echo "host all all $NET.0/24 trust" >> "$data/pg_hba.conf"; }

ns_of() { if [ "$1" = b ]; then echo "$BNS"; else echo "$P-h$1"; fi; }
veth_of() { echo "$P-v$1"; }  # the root-side end; the namespace side is always eth0
ip_of() { if [ "$1" = b ]; then echo "$BIP"; else echo "$NET.$((10 + $1))"; fi; }
ns_exists() { [ -e "/run/netns/$1" ]; }
link_exists() { ip link show "$1" >/dev/null 2>&1; }
our_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$P-(b|h[0-9]+)\$" || true; }
our_hosts() { our_namespaces | sed -n "s/^$P-h//p" | sort -n; }
hosts_count() { cat "$state/hosts" 2>/dev/null || echo 0; }
need_host() {  # $1 = a host number (or b) whose namespace exists
  [[ "$1" =~ ^(b|[1-9][0-9]*)$ ]] || die "a host is 1..N or b, not '$1'"
  ns_exists "$(ns_of "$1")" || die "no host $1 (namespace $(ns_of "$1")); run 'scripts/netns.sh up N' first"
}

# ---------------------------------------------------------------- network
bridge_up() {
  if ! link_exists "$BR"; then
    ip link add "$BR" type bridge
    # No STP and no forwarding delay: ports forward as soon as they are up.
    ip link set "$BR" type bridge stp_state 0 forward_delay 0
    ip addr add "$NET.1/24" dev "$BR"
  fi
  # A fixed MAC: otherwise the bridge takes the lowest MAC of its ports and changes it whenever a port is
  # added or removed, and the namespaces' ARP entries for $NET.1 point at a dead MAC for seconds.
  ip link set "$BR" address "$(printf '02:77:%02x:%02x:%02x:01' ${NET//./ })"
  ip link set "$BR" up
}

# add_host KEY (b or 1..N): namespace, veth pair on the bridge, address. No default route.
add_host() {
  local key="$1" ns veth
  ns="$(ns_of "$key")"; veth="$(veth_of "$key")"
  ns_exists "$ns" || ip netns add "$ns"
  ip -n "$ns" link set lo up
  if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
    if link_exists "$veth"; then ip link del "$veth"; fi  # a leftover root-side end whose peer is gone
    ip link add "$veth" type veth peer name eth0 netns "$ns"
  fi
  ip link set "$veth" master "$BR" up
  ip -n "$ns" addr replace "$(ip_of "$key")/24" dev eth0
  ip -n "$ns" link set eth0 up
}

kill_ns_pids() {  # TERM every process in namespace $1, KILL what is left after 5 s
  local ns="$1" pids i
  pids="$(ip netns pids "$ns" 2>/dev/null || true)"
  [ -n "$pids" ] || return 0
  kill -TERM $pids 2>/dev/null || true
  for i in $(seq 1 20); do
    pids="$(ip netns pids "$ns" 2>/dev/null || true)"
    [ -n "$pids" ] || return 0
    sleep 0.25
  done
  kill -KILL $pids 2>/dev/null || true
  sleep 0.2
}

del_host() {  # the namespace goes only once no process holds it: kill them first
  local ns; ns="$(ns_of "$1")"
  kill_ns_pids "$ns"
  ip netns del "$ns" 2>/dev/null || true
  if link_exists "$(veth_of "$1")"; then ip link del "$(veth_of "$1")" 2>/dev/null || true; fi
}

# wait_link KEY: KEY reaches its peer across the bridge. There is no ping: a TCP connect to port 9 must be
# refused (or accepted); a time-out is no answer. Hosts check the broker's address: that crosses the bridge.
wait_link() {
  local key="$1" target out i
  if [ "$key" = b ]; then target="$NET.1"; else target="$BIP"; fi
  for i in $(seq 1 50); do
    out="$( { timeout 1 ip netns exec "$(ns_of "$key")" bash -c "exec 3<>/dev/tcp/$target/9" 2>&1 && echo connected; } || true)"
    case "$out" in *connected*|*refused*) return 0 ;; esac
    sleep 0.1
  done
  die "host $key ($(ip_of "$key")) gets no answer from $target across bridge $BR within 5 s: $out. If br_netfilter is loaded and an iptables FORWARD policy drops packets (Docker sets one), run: sysctl net.bridge.bridge-nf-call-iptables=0"
}

# ---------------------------------------------------------------- kafka and postgres
kafka_up() {
  kafka_running && return 0
  kafka_need_java
  kafka_resolve_jars
  mkdir -p "$dir"
  # Settings of scripts/kafka.sh, on the broker namespace's bridge address (advertised as such: every
  # namespace and the root one reach it), plus automatic topic creation and the default minimum session
  # timeout spelled out (6 s: a consumer's session.timeout.ms may be as low as that).
  kafka_write_config "$BIP" "$KPORT" "$CPORT" true
  echo "group.min.session.timeout.ms=6000" >> "$dir/server.properties"
  kafka_format
  kafka_launch append
  kafka_wait_ready "$BIP" "$KPORT"
}

kafka_stop() {  # $1 = TERM (clean, up to 30 s) or KILL (a crash)
  kafka_running || { rm -f "$dir/broker.pid"; return 0; }
  if [ "$1" = KILL ]; then
    local pid i; pid="$(cat "$dir/broker.pid")"
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kafka_running || break; sleep 0.1; done
    rm -f "$dir/broker.pid"
  else
    stop_pid_file "$dir/broker.pid"
  fi
}

pg_up() {
  pg_install
  pg_running && return 0
  mkdir -p "$pgdir"
  pg_start "$pgdir" "$PGPORT" "$BIP,127.0.0.1"
}

# ---------------------------------------------------------------- commands
up() {
  local n="${1:-}" i
  [[ "$n" =~ ^[1-9][0-9]*$ ]] && [ "$n" -le 200 ] || die "usage: scripts/netns.sh up N (N = 1..200 hosts), not '$n'"
  mkdir -p "$state"
  bridge_up
  add_host b
  for i in $(seq 1 "$n"); do add_host "$i"; done
  for i in $(our_hosts); do if [ "$i" -gt "$n" ]; then del_host "$i"; fi; done
  echo "$n" > "$state/hosts"
  wait_link b
  for i in $(seq 1 "$n"); do wait_link "$i"; done
  log "network up: $n hosts on $BR"
  pg_up
  log "postgres up on $BIP:$PGPORT"
  kafka_up
  log "kafka up on $BIP:$KPORT"
  envout
}

down() {
  # pg_ctl stop signals the postmaster by pid: it also works when the namespace is gone.
  ns_exists "$BNS" || pg_ns=""
  pg_stop
  kafka_stop TERM
  local ns l
  for ns in $(our_namespaces); do
    kill_ns_pids "$ns"
    ip netns del "$ns" 2>/dev/null || true
  done
  # Root-side veth ends go with their peer's namespace; remove any that did not (a namespace deleted by
  # name while a process still held it lives on until that process exits).
  for l in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep -E "^$P-v(b|[0-9]+)\$" || true); do
    ip link del "$l" 2>/dev/null || true
  done
  if link_exists "$BR"; then ip link del "$BR"; fi
  rm -rf "$state"
}

envout() {
  echo "WEIR_NETNS_KAFKA=$BIP:$KPORT"
  echo "WEIR_NETNS_PG_URL=postgres://weir@$BIP:$PGPORT/weir"
  echo "WEIR_NETNS_HOSTS=$(hosts_count)"
}

status() {
  echo "namespaces: $(our_namespaces | tr '\n' ' ')"
  if link_exists "$BR"; then ip -br link show master "$BR"; else echo "no bridge $BR"; fi
  if kafka_running; then echo "kafka: pid $(cat "$dir/broker.pid") on $BIP:$KPORT"; else echo "kafka: not running"; fi
  if [ -n "$bin" ] && pg_running; then echo "postgres: pid $(head -n 1 "$data/postmaster.pid") on $BIP:$PGPORT"; else echo "postgres: not running"; fi
  echo "hosts: $(hosts_count)"
}

cmd="${1:-}"
shift || true
case "$cmd" in
  env) envout; exit 0 ;;
  up|down|exec|cut|heal|kafka|pg|status) [ "$(id -u)" = 0 ] || die "'$cmd' must run as root (it creates network namespaces)" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
case "$cmd" in
  up) up "$@" ;;
  down) down ;;
  exec)
    i="${1:-}"; need_host "$i"; shift
    [ $# -gt 0 ] || die "usage: scripts/netns.sh exec I CMD…"
    exec ip netns exec "$(ns_of "$i")" "$@" ;;
  cut)
    i="${1:-}"; mode="${2:-bridge}"; need_host "$i"
    [ "$i" != b ] || die "cut the hosts, not the broker namespace (use 'kafka down' or 'pg down')"
    case "$mode" in
      bridge) ip link set "$(veth_of "$i")" down ;;
      ns) ip -n "$(ns_of "$i")" link set eth0 down ;;
      silent)
        for k in b $(our_hosts); do
          [ "$k" = "$i" ] && continue
          ip -n "$(ns_of "$i")" neigh replace "$(ip_of "$k")" dev eth0 nud permanent \
            lladdr "$(ip -n "$(ns_of "$k")" -o link show eth0 | grep -o 'link/ether [0-9a-f:]*' | cut -d' ' -f2)"
        done
        ip link set "$(veth_of "$i")" down ;;
      *) die "cut mode is bridge, ns or silent, not '$mode'" ;;
    esac ;;
  heal)
    i="${1:-}"; need_host "$i"
    ip link set "$(veth_of "$i")" up
    ip -n "$(ns_of "$i")" link set eth0 up
    ip -n "$(ns_of "$i")" neigh flush dev eth0 nud permanent 2>/dev/null || true
    ip -n "$(ns_of "$i")" addr replace "$(ip_of "$i")/24" dev eth0 ;;
  kafka)
    ns_exists "$BNS" || die "no broker namespace $BNS; run 'scripts/netns.sh up N' first"
    case "${1:-}" in
      up) kafka_up ;;
      down) kafka_stop TERM ;;
      kill) kafka_stop KILL ;;
      restart) kafka_stop TERM; kafka_up ;;
      *) die "usage: scripts/netns.sh kafka up|down|restart|kill" ;;
    esac ;;
  pg)
    ns_exists "$BNS" || die "no broker namespace $BNS; run 'scripts/netns.sh up N' first"
    case "${1:-}" in up) pg_up ;; down) pg_stop ;; *) die "usage: scripts/netns.sh pg up|down" ;; esac ;;
  status) status ;;
esac
